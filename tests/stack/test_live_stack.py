"""The stack live on the real NIC: ping through the Python driver, the poll thread, the CLI."""

import json
import re
import subprocess
import sys
import threading
import time
from ipaddress import IPv4Network

import pytest

from dos64lab.iface import InterfaceConfig
from dos64lab.machine import Machine
from dos64lab.socket import EchoError, EchoReply
from dos64lab.stack import Stack, StackError

CLI = [sys.executable, "-m", "dos64lab.cli"]


@pytest.fixture(scope="module", params=["legacy", "modern"])
def m(request):
    with Machine(virtio=request.param) as machine:
        yield machine


@pytest.fixture
def net(m):
    with Stack.on(m) as stack:
        stack.configure()
        yield stack


def test_the_first_ping_is_answered_while_arp_resolves(net):
    assert net.iface.neighbors.lookup(net.iface.config.gateway, time.monotonic()) is None
    replies = list(net.ping("10.0.2.2", count=5, interval=0.05))
    assert all(isinstance(r, EchoReply) for r in replies), replies
    assert [r.seq for r in replies] == [1, 2, 3, 4, 5]
    stats = net.status()["interface"]["stats"]
    assert stats["arp_tx_request"] == 1 and stats["icmp_rx"] == 5


def test_a_ping_larger_than_the_mtu_is_fragmented_and_reassembled(net):
    reply, = net.ping("10.0.2.2", count=1, size=3000, timeout=2)
    assert isinstance(reply, EchoReply) and reply.size == 3008
    assert reply.data == (bytes(range(256)) * 12)[:3000]
    stats = net.status()["interface"]["stats"]
    assert stats["ipv4_tx_fragmented"] == 1 and stats["ipv4_rx_reassembled"] == 1


def test_nobody_at_the_address_is_host_unreachable_after_arp_gives_up(net):
    item, = net.ping("10.0.2.99", count=1, timeout=5)
    assert isinstance(item, EchoError) and item.text == "Destination Host Unreachable"
    assert net.status()["interface"]["stats"]["arp_resolve_failed"] == 1


def test_the_allow_list_keeps_traffic_in_and_counts_what_it_stopped(m):
    config = InterfaceConfig(allow=(IPv4Network("10.0.2.2/32"),))
    with Stack.on(m, config) as net:
        net.configure()
        assert isinstance(next(net.ping("10.0.2.2", count=1)), EchoReply)
        assert isinstance(next(net.ping("10.0.2.3", count=1)), EchoError)
        stats = net.status()["interface"]["stats"]
        assert stats["ipv4_tx_drop_not_allowed"] == 1
        assert "10.0.2.3" not in str(net.iface.neighbors.pending)      # never even ARPed


def test_cells_and_the_poll_thread_share_the_nic(net):
    """Three threads ping at once while the poll thread runs: each gets its own replies."""
    results, errors = {}, []

    def pinger(i):
        try:
            results[i] = [type(r).__name__ for r in net.ping("10.0.2.2", count=20, interval=0)]
        except Exception as err:
            errors.append(err)

    threads = [threading.Thread(target=pinger, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert not errors and results == {i: ["EchoReply"] * 20 for i in range(3)}


def test_the_stack_idles_quietly_and_wakes_for_work(net):
    polls = net.polls
    time.sleep(1.0)
    idle_rate = net.polls - polls               # rounds per second while nothing happens
    assert 10 <= idle_rate <= 200, idle_rate    # backs off to MAX_IDLE, but keeps watching
    start = time.monotonic()
    reply = next(net.ping("10.0.2.2", count=1))
    assert isinstance(reply, EchoReply) and time.monotonic() - start < 0.5


def test_a_machine_that_dies_under_the_stack_stops_it_with_a_clear_error():
    machine = Machine().start()
    with Stack.on(machine) as net:
        net.configure()
        machine.proc.kill()
        with pytest.raises(StackError, match="stopped"):
            list(net.ping("10.0.2.2", count=3, interval=0))
    machine.close()


def cli(*args, timeout=60):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


def test_cli_ping_prints_like_iputils():
    r = cli("ping", "-c", "2", "-i", "0.2", "10.0.2.2")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data."
    for seq in (1, 2):
        assert re.fullmatch(rf"64 bytes from 10\.0\.2\.2: icmp_seq={seq} ttl=255 time=\d+\.\d\d ms",
                            lines[seq]), lines[seq]
    assert "2 packets transmitted, 2 received, 0% packet loss" in r.stdout
    assert re.search(r"rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms", r.stdout)


def test_cli_ping_nobody_reports_total_loss_and_exits_1():
    r = cli("ping", "-c", "1", "--modern", "10.0.2.99", "-W", "5")
    assert r.returncode == 1, r.stderr
    assert "1 packets transmitted, 0 received, +1 errors, 100% packet loss" in r.stdout


def test_cli_ping_json_and_faults():
    r = cli("ping", "-c", "3", "-i", "0", "--json", "--faults", "drop=1,seed=1", "10.0.2.2")
    assert r.returncode == 1
    assert json.loads(r.stdout)["received"] == 0
    r = cli("ping", "-c", "1", "--faults", "drop=0.1,bogus=2", "10.0.2.2")
    assert r.returncode == 2 and "bogus" in r.stderr
    r = cli("ping", "-c", "1", "not-an-address")
    assert r.returncode == 2 and "not-an-address" in r.stderr


def test_connect_to_a_closed_port_is_refused_at_once(m):
    from dos64lab.socket.tcp import ConnectionRefused
    with Stack.on(m) as net:
        net.configure()
        start = time.monotonic()
        with pytest.raises(ConnectionRefused, match="refused"):
            net.connect("10.0.2.2", 1234)          # restrict=on: slirp answers RST
        assert time.monotonic() - start < 2
        net.wait_for(lambda: not [s for s in net.sockets if type(s).__name__ == "TcpSocket"],
                     2, "the refused socket to be dropped")
