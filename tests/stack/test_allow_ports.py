"""The egress allow-list with ports: an entry ``(network, port)`` admits only TCP and UDP to
that destination port (bytes 2..3 of either header) -- what `dos64lab wget` uses to make
exactly one host port reachable.  Plain network entries keep admitting everything."""

from ipaddress import IPv4Address, IPv4Network


from dos64lab.iface import InterfaceConfig
from dos64lab.socket import IcmpSocket, UdpSocket
from dos64lab.socket.tcp import TcpSocket
from dos64lab.wire import ipv4, tcp
from dos64lab.wire.arp import Operation
from dos64lab.wire.ipv4 import IpProtocol
from dos64lab.wire.tcp import TcpFlags

from .conftest import GW_IP, GW_MAC, HOST_IP, NET, Host, arp_frame, decode, ip_frame

HOST_PORT = 8000
ONLY_8000 = ((IPv4Network("10.0.2.2/32"), HOST_PORT),)


def host(allow) -> Host:
    """10.0.2.15 that knows the gateway's MAC, with the allow-list ``allow``."""
    h = Host(InterfaceConfig(NET, GW_IP, allow=allow))
    h.poll(0.0, arp_frame(Operation.REPLY, GW_MAC, GW_IP, HOST_IP, target_mac=h.device.mac,
                          dst=h.device.mac))
    h.stats.clear()
    return h


def sent(h: Host, now: float) -> list[ipv4.Repr]:
    return [ip for _, ip in map(decode, h.poll(now)) if isinstance(ip, ipv4.Repr)]


def dst_port(packet: ipv4.Repr) -> int:
    return int.from_bytes(packet.payload[2:4], "big")


def test_udp_to_the_named_port_passes_and_other_ports_are_dropped_and_named():
    h = host(ONLY_8000)
    sock = h.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"ok", (GW_IP, HOST_PORT))
    sock.send_to(b"dns", (GW_IP, 53))
    sock.send_to(b"other host", ("10.0.2.3", HOST_PORT))
    out = sent(h, 1.0)
    assert [(p.dst, dst_port(p)) for p in out] == [(GW_IP, HOST_PORT)]
    assert h.stats["ipv4_tx_drop_not_allowed"] == 2
    assert sock.errors == ["10.0.2.2 port 53 is not on the egress allow-list",
                           "10.0.2.3 port 8000 is not on the egress allow-list"]


def test_icmp_to_an_address_allowed_only_for_a_port_is_dropped():
    h = host(ONLY_8000)
    sock = h.add(IcmpSocket())
    sock.send_echo(GW_IP, 1, b"ping")
    assert sent(h, 1.0) == []
    assert h.stats["ipv4_tx_drop_not_allowed"] == 1


def test_a_tcp_syn_to_the_port_leaves():
    h = host(ONLY_8000)
    ok = h.add(TcpSocket())
    ok.connect((HOST_IP, 40000), (GW_IP, HOST_PORT), 1.0)
    out = sent(h, 1.0)
    assert [(p.protocol, dst_port(p)) for p in out] == [(IpProtocol.TCP, HOST_PORT)]
    assert tcp.Repr.parse(out[0].payload, HOST_IP, GW_IP).flags == TcpFlags.SYN
    assert h.stats["ipv4_tx_drop_not_allowed"] == 0


def test_a_tcp_syn_to_another_port_is_dropped_and_the_socket_told():
    h = host(ONLY_8000)
    blocked = h.add(TcpSocket())
    blocked.connect((HOST_IP, 40001), (GW_IP, HOST_PORT + 1), 1.0)
    assert sent(h, 1.0) == []
    assert h.stats["ipv4_tx_drop_not_allowed"] == 1
    assert blocked.errors == ["10.0.2.2 port 8001 is not on the egress allow-list"]
    assert blocked.state.value == "CLOSED" and "not on the egress allow-list" in str(blocked.error)


def test_the_rst_of_a_closed_port_goes_back_only_to_an_allowed_port():
    """A segment from 10.0.2.2:8000 to a closed port is answered (dst port 8000); one from
    10.0.2.2:9999 is not: the RST would go to a port the list does not name."""
    h = host(ONLY_8000)

    def syn_from(port):
        seg = tcp.Repr(port, 81, 1000, 0, TcpFlags.SYN, 1000)
        return ip_frame(ipv4.Repr(GW_IP, HOST_IP, IpProtocol.TCP, seg.to_bytes(GW_IP, HOST_IP)))

    out = [p for _, p in map(decode, h.poll(1.0, syn_from(HOST_PORT), syn_from(9999)))]
    assert [dst_port(p) for p in out] == [HOST_PORT]
    assert h.stats["tcp_tx_reset"] == 2 and h.stats["ipv4_tx_drop_not_allowed"] == 1


def test_network_and_port_entries_mix_and_allows_answers_the_same_question():
    broadcast = IPv4Network("255.255.255.255/32")
    h = host((broadcast,) + ONLY_8000)
    allows = h.iface.allows
    assert allows(IPv4Address("255.255.255.255"))                  # a network: any protocol
    assert allows(IPv4Address("255.255.255.255"), 67)
    assert allows(GW_IP, HOST_PORT)
    assert not allows(GW_IP) and not allows(GW_IP, 80) and not allows(IPv4Address("10.0.2.3"), 8000)
    assert host(None).iface.allows(IPv4Address("192.0.2.1"), 1)    # None: everything
    assert not host(()).iface.allows(GW_IP, HOST_PORT)             # empty: nothing
    # a subnet with a port
    h = host(((IPv4Network("10.0.2.0/24"), 53),))
    assert h.iface.allows(IPv4Address("10.0.2.3"), 53)
    assert not h.iface.allows(IPv4Address("10.0.3.3"), 53)
