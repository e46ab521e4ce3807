"""The ICMP and UDP sockets on their own, in smoltcp's shape (CONVENTIONS 14): a socket in a
state, one ``Repr`` fed to what the interface calls (``process_*``, ``*icmp_error``,
``send_failed``), the exact packets ``dispatch`` gives back; time is an argument."""

import random
from ipaddress import IPv4Address

import pytest

from dos64lab.errors import Dos64LabError
from dos64lab.socket import (EchoError, EchoReply, IcmpSocket, Socket, SocketError, SocketSet,
                             UdpSocket)
from dos64lab.socket.udp import EPHEMERAL_PORTS, MAX_PAYLOAD
from dos64lab.wire import icmp, ipv4, udp
from dos64lab.wire.ipv4 import IpProtocol

ME, PEER, ROUTER = IPv4Address("10.0.2.15"), IPv4Address("10.0.2.2"), IPv4Address("10.0.2.1")


class Iface:
    """What a socket asks of the interface: its address."""
    address = ME


def datagram(data: bytes, src_port=53, dst_port=5000, src=PEER):
    """(ipv4.Repr, udp.Repr) as the interface hands them to ``process_udp``."""
    d = udp.Repr(src_port, dst_port, data)
    return ipv4.Repr(src, ME, IpProtocol.UDP, d.to_bytes(src, ME)), d


def quoted(packet: ipv4.Repr) -> ipv4.Repr:
    """What the interface passes as ``quoted``: our packet cut to header + 8 bytes."""
    from dos64lab.iface.interface import _QuotedPacket
    return ipv4.Repr.parse(_QuotedPacket.new_checked(packet.to_bytes()[:28]), verify_checksum=False)


@pytest.fixture
def sock() -> UdpSocket:
    s = UdpSocket(rx_packets=3, tx_packets=3, max_bytes=100)
    s.bind(5000)
    return s


@pytest.fixture
def ping() -> IcmpSocket:
    return IcmpSocket(ident=0x1234, capacity=4)


# -- UDP: bind ------------------------------------------------------------------------------

def test_bind_to_a_port(sock):
    assert sock.port == 5000


def test_bind_0_takes_an_ephemeral_port():
    s = UdpSocket()
    assert s.bind(0, random.Random(1)) in EPHEMERAL_PORTS
    assert UdpSocket().bind(0, random.Random(1)) == s.port          # the rng decides


def test_bind_twice_raises(sock):
    with pytest.raises(SocketError, match="already bound to port 5000"):
        sock.bind(6000)


@pytest.mark.parametrize("port", [-1, 65536])
def test_bind_outside_the_port_range_raises(port):
    with pytest.raises(SocketError):
        UdpSocket().bind(port)


def test_an_unbound_socket_takes_nothing():
    ip, d = datagram(b"x")
    assert UdpSocket().accepts_udp(Iface, ip, d) is False


# -- UDP: send ------------------------------------------------------------------------------

def test_send_to_before_bind_raises():
    with pytest.raises(SocketError, match="bind"):
        UdpSocket().send_to(b"x", (PEER, 53))


@pytest.mark.parametrize("data, to, match", [
    ("text", (PEER, 53), "must be bytes"),
    (bytes(MAX_PAYLOAD + 1), (PEER, 53), "at most 65507"),
    (b"x", (PEER, 0), "not in 1..65535"),
    (b"x", (PEER, 65536), "not in 1..65535"),
    (b"x", ("example.com", 53), "address"),
    (b"x", (PEER, "domain"), "port"),
])
def test_send_to_refuses_what_cannot_be_sent(sock, data, to, match):
    with pytest.raises(SocketError, match=match):
        sock.send_to(data, to)
    assert not sock.tx


def test_socket_errors_are_lab_errors():
    assert issubclass(SocketError, Dos64LabError)


def test_dispatch_gives_the_exact_udp_packets_in_order(sock):
    sock.send_to(b"one", (PEER, 53))
    sock.send_to(bytearray(b"two"), ("8.8.8.8", 53))
    assert sock.poll_at(7.0) == 7.0
    out = sock.dispatch(Iface, 7.0)
    google = IPv4Address("8.8.8.8")
    assert out == [ipv4.Repr(ME, PEER, IpProtocol.UDP,
                             udp.Repr(5000, 53, b"one").to_bytes(ME, PEER)),
                   ipv4.Repr(ME, google, IpProtocol.UDP,
                             udp.Repr(5000, 53, b"two").to_bytes(ME, google))]
    assert sock.stats["tx"] == 2 and sock.poll_at(7.0) is None and sock.dispatch(Iface, 7.0) == []


def test_dispatch_without_an_address_sends_from_0_0_0_0(sock):
    class Unconfigured:
        address = None
    sock.send_to(b"discover", ("255.255.255.255", 67))
    packet, = sock.dispatch(Unconfigured, 0.0)
    assert packet.src == IPv4Address(0)


def test_send_queue_bounded_in_datagrams_raises_and_counts(sock):
    for i in range(3):
        sock.send_to(b"x", (PEER, 53))
    with pytest.raises(SocketError, match="queue full"):
        sock.send_to(b"x", (PEER, 53))
    assert sock.stats["tx_drop_full"] == 1
    sock.dispatch(Iface, 0.0)
    sock.send_to(b"x", (PEER, 53))                  # room again


def test_send_queue_bounded_in_bytes(sock):
    sock.send_to(bytes(60), (PEER, 53))
    with pytest.raises(SocketError):
        sock.send_to(bytes(41), (PEER, 53))
    sock.send_to(bytes(40), (PEER, 53))             # exactly max_bytes
    sock.dispatch(Iface, 0.0)
    sock.send_to(bytes(100), (PEER, 53))            # the bytes were given back


# -- UDP: receive ---------------------------------------------------------------------------

def test_accepts_only_its_port(sock):
    assert sock.accepts_udp(Iface, *datagram(b"x", dst_port=5000))
    assert not sock.accepts_udp(Iface, *datagram(b"x", dst_port=5001))


def test_recv_from_gives_data_and_source_in_order(sock):
    assert sock.recv_from() is None
    sock.process_udp(Iface, 1.0, *datagram(b"first", src_port=53))
    sock.process_udp(Iface, 1.0, *datagram(b"second", src_port=54, src=ROUTER))
    assert sock.recv_from() == (b"first", (PEER, 53))
    assert sock.recv_from() == (b"second", (ROUTER, 54))
    assert sock.recv_from() is None and sock.stats["rx"] == 2


def test_receive_queue_bounded_in_datagrams_drops_and_counts(sock):
    for i in range(4):
        sock.process_udp(Iface, 1.0, *datagram(bytes([i])))
    assert [sock.recv_from()[0] for _ in range(3)] == [b"\0", b"\1", b"\2"]   # the 4th dropped
    assert sock.stats["rx_drop_full"] == 1 and sock.stats["rx"] == 3


def test_receive_queue_bounded_in_bytes(sock):
    sock.process_udp(Iface, 1.0, *datagram(bytes(90)))
    sock.process_udp(Iface, 1.0, *datagram(bytes(11)))
    assert sock.stats["rx_drop_full"] == 1
    sock.recv_from()
    sock.process_udp(Iface, 1.0, *datagram(bytes(100)))      # the bytes were given back
    assert sock.stats["rx"] == 2


# -- UDP: errors -----------------------------------------------------------------------------

def test_icmp_port_unreachable_about_our_datagram_is_an_error(sock):
    sock.send_to(b"q", (PEER, 53))
    packet, = sock.dispatch(Iface, 1.0)
    error = icmp.Repr.dest_unreachable(3, b"")
    assert sock.icmp_error(1.1, error, quoted(packet)) is True
    assert sock.errors == ["ICMP DEST_UNREACHABLE code 3 from 10.0.2.2:53"]
    assert sock.stats["tx_errors"] == 1


def test_icmp_error_about_another_port_or_protocol_is_not_ours(sock):
    other = UdpSocket()
    other.bind(6000)
    other.send_to(b"q", (PEER, 53))
    theirs, = other.dispatch(Iface, 1.0)
    error = icmp.Repr.dest_unreachable(3, b"")
    assert sock.icmp_error(1.1, error, quoted(theirs)) is False
    echo = ipv4.Repr(ME, PEER, IpProtocol.ICMP, icmp.Repr.echo_request(5000, 1).to_bytes())
    assert sock.icmp_error(1.1, error, quoted(echo)) is False
    assert sock.errors == []


def test_send_failed_is_an_error_per_packet(sock):
    sock.send_to(b"q", (PEER, 53))
    packet, = sock.dispatch(Iface, 1.0)
    sock.send_failed(1.0, packet, "no route to 10.0.2.2")
    assert sock.errors == ["no route to 10.0.2.2"] and sock.stats["tx_errors"] == 1


def test_describe_is_plain_data(sock):
    sock.send_to(b"q", (PEER, 53))
    assert sock.describe() == {"kind": "UdpSocket", "stats": {}, "errors": [], "proto": "udp",
                               "local_port": 5000, "rx_queue": 0, "tx_queue": 1}


# -- ICMP: echo ------------------------------------------------------------------------------

def reply(seq: int, data=b"", ident=0x1234, ttl=63, src=PEER):
    m = icmp.Repr.echo_reply(ident, seq, data)
    return ipv4.Repr(src, ME, IpProtocol.ICMP, m.to_bytes(), ttl=ttl), m


def test_send_echo_dispatches_a_request_with_ident_and_seq(ping):
    ping.send_echo("10.0.2.2", 1, b"abc")
    ping.send_echo(PEER, 65536 + 2)                 # seq is 16 bits
    assert ping.poll_at(3.0) == 3.0
    out = ping.dispatch(Iface, 3.0)
    assert out == [ipv4.Repr(ME, PEER, IpProtocol.ICMP,
                             icmp.Repr.echo_request(0x1234, 1, b"abc").to_bytes()),
                   ipv4.Repr(ME, PEER, IpProtocol.ICMP,
                             icmp.Repr.echo_request(0x1234, 2).to_bytes())]
    assert ping.sent_at == {1: 3.0, 2: 3.0} and ping.stats["tx"] == 2
    assert ping.poll_at(3.0) is None


def test_echo_reply_with_our_ident_gives_the_rtt(ping):
    ping.send_echo(PEER, 1, b"abc")
    ping.dispatch(Iface, 3.0)
    assert ping.process_icmp(Iface, 3.25, *reply(1, b"abc")) is True
    assert ping.recv() == EchoReply(PEER, 1, 63, 11, 0.25, b"abc")
    assert ping.sent_at == {} and ping.recv() is None


def test_echo_reply_for_another_ident_is_not_taken(ping):
    assert ping.process_icmp(Iface, 1.0, *reply(1, ident=0x4321)) is False
    assert ping.recv() is None


def test_echo_request_with_our_ident_is_not_a_reply(ping):
    m = icmp.Repr.echo_request(0x1234, 1)
    carrier = ipv4.Repr(PEER, ME, IpProtocol.ICMP, m.to_bytes())
    assert ping.process_icmp(Iface, 1.0, carrier, m) is False


def test_echo_reply_for_a_seq_never_sent_has_no_rtt(ping):
    ping.process_icmp(Iface, 1.0, *reply(9))
    assert ping.recv().rtt is None


def test_echo_send_queue_is_bounded(ping):
    for seq in range(4):
        ping.send_echo(PEER, seq)
    with pytest.raises(SocketError, match="queue full"):
        ping.send_echo(PEER, 4)
    assert ping.stats["tx_drop_full"] == 1 and len(ping.tx) == 4


def test_echo_larger_than_an_ipv4_packet_is_refused(ping):
    ping.send_echo(PEER, 1, bytes(65_507))          # 20 + 8 + 65,507 = 65,535
    with pytest.raises(SocketError, match="65507"):
        ping.send_echo(PEER, 2, bytes(65_508))


def test_echo_receive_queue_is_bounded(ping):
    for seq in range(5):
        ping.process_icmp(Iface, 1.0, *reply(seq))
    assert ping.stats["rx"] == 4 and ping.stats["rx_drop_full"] == 1
    assert [ping.recv().seq for _ in range(4)] == [0, 1, 2, 3]


def test_remembered_send_times_are_bounded(ping):
    for seq in range(6):
        ping.send_echo(PEER, seq)
        ping.dispatch(Iface, float(seq))
    assert list(ping.sent_at) == [2, 3, 4, 5]       # the oldest forgotten


# -- ICMP: errors ----------------------------------------------------------------------------

def test_icmp_error_about_our_request_names_the_router_and_the_seq(ping):
    ping.send_echo("8.8.8.8", 7)
    request, = ping.dispatch(Iface, 1.0)
    carrier = ipv4.Repr(ROUTER, ME, IpProtocol.ICMP, b"")
    error = icmp.Repr.time_exceeded(0, b"")
    assert ping.process_icmp_error(Iface, 1.5, carrier, error, quoted(request)) is True
    item = ping.recv()
    assert item == EchoError(ROUTER, 7, 11, 0) and item.text == "Time to live exceeded"
    assert ping.sent_at == {}


def test_icmp_error_about_another_ident_or_protocol_is_not_ours(ping):
    carrier = ipv4.Repr(ROUTER, ME, IpProtocol.ICMP, b"")
    error = icmp.Repr.dest_unreachable(1, b"")
    theirs = ipv4.Repr(ME, PEER, IpProtocol.ICMP, icmp.Repr.echo_request(1, 7).to_bytes())
    assert ping.process_icmp_error(Iface, 1.0, carrier, error, quoted(theirs)) is False
    datagram_ = ipv4.Repr(ME, PEER, IpProtocol.UDP, udp.Repr(0x1234, 7).to_bytes(ME, PEER))
    assert ping.process_icmp_error(Iface, 1.0, carrier, error, quoted(datagram_)) is False
    reply_ = ipv4.Repr(ME, PEER, IpProtocol.ICMP, icmp.Repr.echo_reply(0x1234, 7).to_bytes())
    assert ping.process_icmp_error(Iface, 1.0, carrier, error, quoted(reply_)) is False
    assert ping.recv() is None


def test_send_failed_fails_that_seq_only(ping):
    ping.send_echo(PEER, 1)
    ping.send_echo("10.0.2.99", 2)
    first, second = ping.dispatch(Iface, 1.0)
    ping.send_failed(4.0, second, "no ARP reply from 10.0.2.99: host unreachable")
    assert ping.recv() == EchoError(IPv4Address(0), 2, 3, 1)
    assert ping.sent_at == {1: 1.0}
    assert ping.errors == ["no ARP reply from 10.0.2.99: host unreachable"]


def test_echo_error_names_what_ping_prints():
    texts = {(3, 0): "Destination Net Unreachable", (3, 1): "Destination Host Unreachable",
             (3, 3): "Destination Port Unreachable", (11, 0): "Time to live exceeded",
             (12, 0): "ICMP type 12 code 0"}
    assert {k: EchoError(PEER, 1, *k).text for k in texts} == texts


# -- the base and the set ----------------------------------------------------------------------

def test_base_socket_does_nothing_by_default():
    s = Socket()
    ip, d = datagram(b"x")
    assert not s.accepts_udp(Iface, ip, d) and s.dispatch(Iface, 0.0) == []
    assert s.poll_at(0.0) is None and s.icmp_error(0.0, None, None) is False
    assert s.process_icmp(Iface, 0.0, ip, None) is False
    assert s.process_icmp_error(Iface, 0.0, ip, None, None) is False


def test_errors_are_kept_bounded_and_counted():
    s = Socket()
    for i in range(20):
        s.error(float(i), f"error {i}")
    assert s.errors == [f"error {i}" for i in range(4, 20)] and s.stats["tx_errors"] == 20
    assert s.describe() == {"kind": "Socket", "stats": {"tx_errors": 20},
                            "errors": ["error 17", "error 18", "error 19"]}


def test_socket_set_hands_out_handles():
    sockets = SocketSet()
    a, b = UdpSocket(), IcmpSocket(ident=1)
    ha, hb = sockets.add(a), sockets.add(b)
    assert (ha, hb) == (0, 1) and sockets[hb] is b and len(sockets) == 2
    assert list(sockets) == [a, b] and sockets.items() == [(0, a), (1, b)]
    for s in sockets:                                # safe to change while iterating
        sockets.remove(ha) if s is a else None
    assert list(sockets) == [b] and sockets.add(UdpSocket()) == 2   # handles are not reused
