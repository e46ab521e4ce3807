"""A Machine cabled to a Linux peer (``Machine(link=peer)``): one private segment, no slirp.

Real Linux answers what slirp cannot show: it ARPs for us, pings us (with fragments), and
answers our ARP request and our pings.  Here the machine starts *before* the peer (the link
exists from the peer's construction); the hub test starts the peer first.
"""

import re
import time
from ipaddress import IPv4Address

import pytest

from dos64lab.errors import MachineError
from dos64lab.machine import Machine
from dos64lab.peer import LinuxPeer
from dos64lab.phy import VirtioNetDevice
from dos64lab.socket import EchoReply
from dos64lab.stack import Stack
from dos64lab.wire import arp, ethernet
from dos64lab.wire.build import arp_who_has
from dos64lab.wire.ethernet import EtherType

OUR_IP = "10.0.2.15"
PAYLOAD = bytes(range(256)) * 12


@pytest.fixture(scope="module")
def rig():
    peer = LinuxPeer(ip="10.0.2.16/24")
    with Machine(link=peer) as m, peer:        # the machine first: its frames wait in the link
        yield m, peer


@pytest.fixture
def net(rig):
    m, _ = rig
    with Stack.on(m) as stack:
        stack.configure(f"{OUR_IP}/24", gateway=None)
        yield stack


def stats(net) -> dict:
    return net.status()["interface"]["stats"]


def test_the_nic_is_on_the_peers_segment_and_not_on_slirp(rig):
    m, peer = rig
    line = " ".join(m.argv)
    assert "dgram,id=n0,local.type=fd" in line and "user," not in line and "hubport" not in line
    assert m.host_ports == {}
    assert peer.run("ip -o link show eth0").output.count(peer.mac) == 1


def test_linux_answers_the_python_drivers_arp_request(rig):
    m, peer = rig
    with VirtioNetDevice(m) as dev:
        dev.send(arp_who_has(dev.mac, target=peer.address, sender_ip=OUR_IP))
        deadline, reply = time.monotonic() + 5, None
        while reply is None and time.monotonic() < deadline:
            frame = dev.receive()
            if frame is None:
                time.sleep(0.005)
                continue
            eth = ethernet.Repr.parse(frame)
            if eth.ethertype == EtherType.ARP:
                a = arp.Repr.parse(eth.payload)
                if a.operation == arp.Operation.REPLY and a.sender_ip == peer.address:
                    reply = (eth, a)
        assert reply, "Linux did not answer the ARP request"
        eth, a = reply
        assert str(a.sender_mac) == peer.mac and a.target_mac == dev.mac
        assert a.target_ip == IPv4Address(OUR_IP) and eth.dst == dev.mac


def test_our_stack_pings_linux(net, rig):
    _, peer = rig
    replies = list(net.ping(str(peer.address), count=3, interval=0.1, timeout=2))
    assert all(isinstance(r, EchoReply) and r.src == peer.address for r in replies), replies
    assert [r.seq for r in replies] == [1, 2, 3]


def test_our_ping_of_3000_bytes_is_fragmented_and_linux_answers_in_fragments(net, rig):
    _, peer = rig
    reply, = net.ping(str(peer.address), count=1, size=3000, timeout=3)
    assert isinstance(reply, EchoReply) and reply.size == 3008
    assert reply.data == PAYLOAD[:3000]
    s = stats(net)
    assert s["ipv4_tx_fragmented"] == 1 and s["ipv4_rx_reassembled"] == 1


def test_linux_pings_our_stack(net, rig):
    _, peer = rig
    out, status = peer.run(f"ping -c 3 -W 2 {OUR_IP}", timeout=20)
    assert status == 0, out
    assert "3 packets transmitted, 3 packets received" in out
    assert stats(net)["icmp_tx_echo_reply"] == 3


def test_linux_pings_our_stack_with_3000_bytes_in_fragments(net, rig):
    _, peer = rig
    out, status = peer.run(f"ping -c 2 -W 2 -s 3000 {OUR_IP}", timeout=20)
    assert status == 0, out
    assert len(re.findall(rf"3008 bytes from {OUR_IP}", out)) == 2
    s = stats(net)
    assert s["ipv4_rx_reassembled"] == 2 and s["ipv4_tx_fragmented"] == 2


def test_linux_arps_for_us_and_learns_our_mac(net, rig):
    _, peer = rig
    assert peer.run("ip neigh flush dev eth0").ok
    before = stats(net).get("arp_tx_reply", 0)
    assert peer.run(f"ping -c 1 -W 2 {OUR_IP}", timeout=10).ok
    assert stats(net)["arp_tx_reply"] > before
    neigh = peer.run(f"ip neigh show {OUR_IP}").output
    assert str(net.iface.mac).lower() in neigh.lower(), neigh


def test_the_link_is_private_linux_reaches_nothing_else(rig):
    _, peer = rig
    assert not peer.run("ping -c 1 -W 1 10.0.2.2", timeout=10).ok      # no slirp on this segment


def test_slirp_beside_the_link_on_a_hub():
    """``Machine(link=peer, slirp=True)``: the NIC, slirp and the peer meet on a QEMU hub."""
    with LinuxPeer(ip="10.0.2.16/24") as peer, Machine(link=peer, slirp=True) as m, \
            Stack.on(m) as net:                                 # the peer first, this time
        assert "hubport" in " ".join(m.argv) and set(m.host_ports) == {"http", "telnet"}
        net.configure(f"{OUR_IP}/24", gateway="10.0.2.2")
        for host in ("10.0.2.2", str(peer.address)):           # slirp and Linux, one NIC
            replies = list(net.ping(host, count=2, interval=0.1, timeout=2))
            assert all(isinstance(r, EchoReply) for r in replies), (host, replies)
        assert peer.run(f"ping -c 2 -W 2 {OUR_IP}", timeout=20).ok
        assert peer.run("ping -c 1 -W 2 10.0.2.2", timeout=10).ok    # the hub joins it to slirp too


def test_what_cannot_be_cabled_is_refused_before_any_qemu_starts():
    with pytest.raises(ValueError, match="unplugged"):
        Machine(slirp=False)
    with pytest.raises(MachineError, match="expected a LinuxPeer on a private segment"):
        Machine(link=LinuxPeer(slirp=True)).start()          # that peer is on slirp, no link
    closed = LinuxPeer()
    closed.close()
    with pytest.raises(MachineError, match="link was closed"):
        Machine(link=closed).start()
