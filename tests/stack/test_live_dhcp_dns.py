"""DHCP and DNS live: slirp's DHCP server, and a real dnsmasq the test runs on host 127.0.0.1.

DHCP runs on the default machine (slirp ``restrict=on``): its ACK has a subnet mask and
no router or DNS option, so the lease carries the fallback notes.

DNS needs the guest to reach the host: under ``restrict=on`` slirp drops UDP to
10.0.2.2:PORT (checked: nothing arrives), so the DNS machine is unrestricted and the
stack's egress allow-list admits only 10.0.2.2 and the DHCP broadcast -- nothing else
can leave, and a query to slirp's 10.0.2.3 (the host's real resolver) is refused
before it is sent.  Unrestricted slirp maps UDP to 10.0.2.2:PORT to host 127.0.0.1:PORT
(dnsmasq logs the queries as coming from 127.0.0.1).
"""

import dataclasses
import json
import subprocess
import sys
from ipaddress import IPv4Address, IPv4Interface, IPv4Network, IPv6Address

import pytest

from dos64lab.hostsvc import Dnsmasq, free_port
from dos64lab.iface import InterfaceConfig
from dos64lab.machine import Machine
from dos64lab.socket import DhcpClient, EchoReply
from dos64lab.stack import Stack, StackTimeout
from dos64lab.wire.dns import Rcode

ALLOW = InterfaceConfig(allow=(IPv4Network("10.0.2.2/32"), IPv4Network("255.255.255.255/32")))


@pytest.fixture(scope="module")
def dnsmasq():
    """dnsmasq (Debian package dnsmasq-base) on 127.0.0.1:PORT: lab.test is 10.9.8.7 and
    fd00::7, alias.lab.test a CNAME of it, other names under lab.test NXDOMAIN; no upstream."""
    with Dnsmasq() as server:
        yield server.port, server.proc


@pytest.fixture(scope="module", params=["legacy", "modern"])
def kind(request):
    return request.param


@pytest.fixture(scope="module")
def restricted(kind):
    with Machine(virtio=kind) as m:
        yield m


@pytest.fixture(scope="module")
def open_machine(kind):
    with Machine(virtio=kind, restrict=False, hostfwd=False) as m:
        yield m


# -- DHCP from slirp -------------------------------------------------------------------

def test_dhcp_leases_10_0_2_15_from_slirp_with_the_fallback_note(restricted):
    with Stack.on(restricted) as net:
        lease = net.dhcp(timeout=10)
        assert lease.interface == IPv4Interface("10.0.2.15/24") and lease.server == IPv4Address("10.0.2.2")
        assert lease.router == IPv4Address("10.0.2.2") and lease.dns_servers == (IPv4Address("10.0.2.3"),)
        assert lease.lease_time == 86400 and (lease.t1, lease.t2) == (43200, 75600)
        assert len(lease.notes) == 2 and all("restrict=on" in n for n in lease.notes)
        client = next(s for s in net.sockets if isinstance(s, DhcpClient))
        ladder = [(s.kind, s.message) for s in client.steps if s.kind in ("sent", "received")]
        assert ladder == [("sent", "DISCOVER"), ("received", "OFFER"), ("sent", "REQUEST"),
                          ("received", "ACK")]
        reply, = net.ping("10.0.2.2", count=1)          # the interface really is configured
        assert isinstance(reply, EchoReply)


def test_dhcp_renews_with_slirp_by_unicast(restricted):
    with Stack.on(restricted) as net:
        lease = net.dhcp(timeout=10)
        client = next(s for s in net.sockets if isinstance(s, DhcpClient))
        with net.lock:                                  # T1 now, not in 12 hours
            client.lease = dataclasses.replace(lease, t1=0.0)
        net.wake()
        renewed = net.wait_for(lambda: client.lease is not lease and client.lease.t1 > 0
                               and client.lease, 5, "the renewal ACK", lambda: client.last_seen)
        assert renewed.address == lease.address and renewed.obtained_at > lease.obtained_at
        sent = [s for s in client.steps if s.kind == "sent"][-1]
        assert sent.message == "REQUEST" and sent.detail == "renew 10.0.2.15 to 10.0.2.2"


# -- DNS through dnsmasq on the host ---------------------------------------------------------

def test_unrestricted_slirp_gives_router_and_dns_and_no_note(open_machine):
    with Stack.on(open_machine, ALLOW) as net:
        lease = net.dhcp(timeout=10)
        assert lease.router == IPv4Address("10.0.2.2") and lease.dns_servers == (IPv4Address("10.0.2.3"),)
        assert lease.notes == ()


def test_resolve_through_dnsmasq_a_aaaa_cname_nxdomain(open_machine, dnsmasq):
    port, _ = dnsmasq
    server = f"10.0.2.2:{port}"
    with Stack.on(open_machine, ALLOW) as net:
        net.dhcp(timeout=10)
        r = net.resolve("lab.test", server=server)
        assert r.ok and r.addresses == [IPv4Address("10.9.8.7")] and r.ttl == 300
        assert r.server == (IPv4Address("10.0.2.2"), port)
        assert net.resolve("lab.test", "AAAA", server=server).addresses == [IPv6Address("fd00::7")]
        r = net.resolve("ALIAS.lab.test", server=server)
        assert [c.data for c in r.cnames] == ["lab.test"] and r.addresses == [IPv4Address("10.9.8.7")]
        r = net.resolve("nope.lab.test", server=server)
        assert r.rcode == Rcode.NXDOMAIN and r.addresses == []
        assert net.iface.stats["ipv4_tx_drop_not_allowed"] == 0


def test_the_allow_list_stops_a_query_to_slirps_own_dns(open_machine):
    with Stack.on(open_machine, ALLOW) as net:
        net.dhcp(timeout=10)                            # dns_servers: (10.0.2.3,)
        with pytest.raises(StackTimeout, match="10.0.2.3 is not on the egress allow-list"):
            net.resolve("lab.test", timeout=0.6)
        assert net.iface.stats["ipv4_tx_drop_not_allowed"] == 3


def test_resolve_with_nobody_listening_times_out_and_says_so(open_machine):
    with Stack.on(open_machine, ALLOW) as net:
        net.dhcp(timeout=10)
        # slirp answers a closed host port with ICMP port unreachable: noted, not believed
        with pytest.raises(StackTimeout, match=r"no answer from 10\.0\.2\.2:\d+ .* after 3 tries"
                                               r".*last seen: ICMP type 3 code 3 from 10\.0\.2\.2"):
            net.resolve("lab.test", server=f"10.0.2.2:{free_port()}", timeout=0.6)


def dos64lab(*args):
    return subprocess.run([sys.executable, "-m", "dos64lab.cli", *args], capture_output=True,
                          text=True, timeout=60)


def test_cli_dhcp_prints_each_dora_step_and_the_lease():
    r = dos64lab("dhcp")
    assert r.returncode == 0, r.stderr
    steps = [line.split()[3] for line in r.stdout.splitlines() if " ms  " in line
             and line.split()[2] in ("sent", "received")]
    assert steps == ["DISCOVER", "OFFER", "REQUEST", "ACK"]
    assert "lease: 10.0.2.15/24 router 10.0.2.2 dns 10.0.2.3 from server 10.0.2.2" in r.stdout
    assert "note: no router option" in r.stdout
    lease = json.loads(dos64lab("dhcp", "--json", "--modern").stdout)["lease"]
    assert lease["address"] == "10.0.2.15/24" and lease["lease_time"] == 86400


def test_cli_dns_through_dnsmasq(dnsmasq):
    port, _ = dnsmasq
    r = dos64lab("dns", "alias.lab.test", "--server", f"10.0.2.2:{port}")
    assert r.returncode == 0, r.stderr
    assert "alias.lab.test.\t300\tIN\tCNAME\tlab.test" in r.stdout
    assert "lab.test.\t300\tIN\tA\t10.9.8.7" in r.stdout
    r = dos64lab("dns", "lab.test", "--type", "AAAA", "--json", "--server", f"10.0.2.2:{port}")
    assert json.loads(r.stdout)["records"][0]["data"] == "fd00::7"
    r = dos64lab("dns", "nope.lab.test", "--server", f"10.0.2.2:{port}")
    assert r.returncode == 1 and "NXDOMAIN" in r.stdout
    r = dos64lab("dns", "lab.test", "--server", "10.0.2.2:notaport")
    assert r.returncode == 2 and "server" in r.stderr
