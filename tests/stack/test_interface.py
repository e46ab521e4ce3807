"""The interface: IPv4 header checks with a counter per reason, ICMP (echo, errors, where
errors go), routes, the egress allow-list, counters; then whole exchanges -- behind every
phy wrapper, two interfaces on a cable, one on ``Loopback`` -- and hostile input: random
frames (hypothesis) and a flood of 10,000 (issue 8).  Time is always an argument."""

import dataclasses
import io
import random
from ipaddress import IPv4Address, IPv4Network

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dos64lab.iface import Interface, InterfaceConfig
from dos64lab.iface.fragment import MAX_BYTES, MAX_DATAGRAMS
from dos64lab.iface.interface import ICMP_ERRORS_PER_SECOND, MAX_FRAMES_PER_POLL
from dos64lab.iface.neighbor import CAPACITY, PENDING_ADDRESSES, PENDING_PER_NEIGHBOR
from dos64lab.phy import FaultInjector, Loopback, PcapTap, PcapWriter, Tracer, read_pcap
from dos64lab.socket import EchoError, EchoReply, IcmpSocket, SocketSet, UdpSocket
from dos64lab.wire import arp, icmp, ipv4, udp
from dos64lab.wire.arp import Operation
from dos64lab.wire.checksum import internet_checksum
from dos64lab.wire.ethernet import BROADCAST, EtherType
from dos64lab.wire.ipv4 import IpProtocol
from fixtures.frames import frame

from .conftest import (A_NET, B_NET, EVIL_MAC, GW_IP, GW_MAC, HOST_IP, HOST_MAC, NET, Host,
                       arp_frame, arp_request_for, eth_frame, header, icmp_packet, ip_frame,
                       pair, run, udp_packet, unaccounted)

SUBNET_BROADCAST = IPv4Address("10.0.2.255")
EVERYONE = IPv4Address("255.255.255.255")


def raw_ip(packet: ipv4.Repr, fix_checksum: bool = True, **bytes_at) -> bytes:
    """``packet`` emitted, then bytes overwritten (``bytes_at={offset: b"..."}`` as _N=...),
    and the header checksum recomputed unless told otherwise."""
    raw = bytearray(packet.to_bytes())
    for key, value in bytes_at.items():
        offset = int(key.lstrip("_"))
        raw[offset:offset + len(value)] = value
    if fix_checksum:
        ihl = (raw[0] & 0x0F) * 4 or 20
        raw[10:12] = b"\0\0"
        raw[10:12] = internet_checksum(bytes(raw[:ihl])).to_bytes(2, "big")
    return eth_frame(GW_MAC, HOST_MAC, EtherType.IPV4, bytes(raw))


def ping_packet(seq=1, data=b"", src=GW_IP, dst=HOST_IP, **fields) -> ipv4.Repr:
    return icmp_packet(src, dst, icmp.Repr.echo_request(0x64, seq, data), **fields)


def echo_reply(seq=1, data=b"", dst=GW_IP) -> ipv4.Repr:
    """What ``decode`` gives for our answer to ``ping_packet``."""
    return icmp_packet(HOST_IP, dst, icmp.Repr.echo_reply(0x64, seq, data))


def quote(packet: ipv4.Repr) -> bytes:
    """What an ICMP error carries of ``packet`` (RFC 792): header + 8 bytes."""
    return packet.to_bytes()[:28]


# -- Ethernet ---------------------------------------------------------------------------------

def test_short_frame_is_dropped_as_truncated(host_gw):
    assert host_gw.poll(1.0, b"\x52" * 13, b"") == []
    assert host_gw.stats["eth_rx"] == 2 and host_gw.stats["eth_rx_drop_truncated"] == 2


def test_frame_for_another_mac_is_dropped(host_gw):
    host_gw.poll(1.0, ip_frame(ping_packet(), dst_mac=EVIL_MAC))
    assert host_gw.stats["eth_rx_drop_not_for_us"] == 1 and host_gw.stats["ipv4_rx"] == 0


def test_unknown_ethertype_is_dropped(host_gw):
    host_gw.poll(1.0, eth_frame(GW_MAC, HOST_MAC, EtherType.IPV6, bytes(40)),
                 eth_frame(GW_MAC, HOST_MAC, 0x88B5, b"x"))
    assert host_gw.stats["eth_rx_drop_ethertype"] == 2


# -- IPv4 header checks, a counter each ----------------------------------------------------

@pytest.mark.parametrize("mangle, counter", [
    (dict(_0=b"\x55"), "ipv4_rx_drop_version"),                     # version 5
    (dict(_0=b"\x65"), "ipv4_rx_drop_version"),                     # IPv6 in an IPv4 frame
    (dict(_0=b"\x44"), "ipv4_rx_drop_header_length"),               # IHL 4 < 5
    (dict(_0=b"\x40"), "ipv4_rx_drop_header_length"),               # IHL 0
    (dict(_0=b"\x4f"), "ipv4_rx_drop_header_length"),               # IHL 15: 60 > 28 bytes
    (dict(_2=(1000).to_bytes(2, "big")), "ipv4_rx_drop_total_length"),   # > the buffer
    (dict(_2=(19).to_bytes(2, "big")), "ipv4_rx_drop_total_length"),     # < the header
    (dict(_8=b"\x00"), "ipv4_rx_drop_ttl"),                              # TTL 0
    (dict(_9=b"\x84"), "ipv4_rx_drop_protocol"),                         # SCTP: not here
])
def test_ipv4_header_check(host_gw, mangle, counter):
    host_gw.poll(1.0, raw_ip(ping_packet(), **mangle))
    assert host_gw.stats[counter] == 1
    assert host_gw.stats["icmp_rx"] == 0


def test_ipv4_bad_checksum_is_dropped(host_gw):
    host_gw.poll(1.0, raw_ip(ping_packet(), fix_checksum=False, _10=b"\xde\xad"))
    assert host_gw.stats["ipv4_rx_drop_checksum"] == 1


def test_ipv4_shorter_than_a_header_is_dropped(host_gw):
    host_gw.poll(1.0, eth_frame(GW_MAC, HOST_MAC, EtherType.IPV4, ping_packet().to_bytes()[:19]))
    assert host_gw.stats["ipv4_rx_drop_length"] == 1


def test_ipv4_options_are_skipped(host_gw):
    with_options = dataclasses.replace(ping_packet(), options=b"\x01\x01\x07\x03\x04\x00\x00\x00")
    out = host_gw.poll_decoded(1.0, ip_frame(with_options))
    assert out == [(header(), echo_reply())]


def test_malformed_ipv4_options_are_dropped(host_gw):
    bad = dataclasses.replace(ping_packet(), options=b"\x07\x09\x00\x00")   # length 9 > 4
    host_gw.poll(1.0, ip_frame(bad))
    assert host_gw.stats["ipv4_rx_drop_options"] == 1


def test_ipv4_for_another_address_is_dropped(host_gw):
    host_gw.poll(1.0, ip_frame(ping_packet(dst="10.0.2.16")))
    assert host_gw.stats["ipv4_rx_drop_not_for_us"] == 1


@pytest.mark.parametrize("source", ["10.0.2.255", "255.255.255.255", "224.0.0.1"])
def test_ipv4_from_a_broadcast_or_multicast_source_is_dropped(host_gw, source):
    """RFC 1122 §3.2.1.3: no answer to a source that is not one host (no smurf)."""
    assert host_gw.poll(1.0, ip_frame(ping_packet(src=source))) == []
    assert host_gw.stats["ipv4_rx_drop_source"] == 1


def test_ethernet_padding_is_cut_by_the_ipv4_total_length(host_gw):
    sock = host_gw.add(UdpSocket())
    sock.bind(5000)
    host_gw.poll(1.0, ip_frame(udp_packet(GW_IP, HOST_IP, 53, 5000, b"hi"), pad=True))
    assert sock.recv_from() == (b"hi", (GW_IP, 53))
    out = host_gw.poll_decoded(2.0, ip_frame(ping_packet(data=b"abc"), pad=True))
    assert out == [(header(), echo_reply(data=b"abc"))]


# -- ICMP ---------------------------------------------------------------------------------

def test_echo_request_is_answered(host_gw):
    out = host_gw.poll_decoded(1.0, ip_frame(ping_packet(7, b"payload")))
    assert out == [(header(), echo_reply(7, b"payload"))]
    assert host_gw.stats["icmp_rx"] == 1 and host_gw.stats["icmp_tx_echo_reply"] == 1


def test_captured_echo_request_is_answered_with_its_data(host_gw):
    """The guest's own captured request, turned around: a peer pinging us with it."""
    eth_request = frame("icmp_echo_request")
    request = ipv4.Repr.parse(eth_request[14:])
    turned = dataclasses.replace(request, src=GW_IP, dst=HOST_IP)
    ident_seq = icmp.Repr.parse(request.payload)
    out = host_gw.poll_decoded(1.0, ip_frame(turned))
    expect = icmp_packet(HOST_IP, GW_IP, icmp.Repr(icmp.IcmpType.ECHO_REPLY, 0, ident_seq.rest,
                                                   ident_seq.data))
    assert out == [(header(), expect)]


@pytest.mark.parametrize("dst", [SUBNET_BROADCAST, EVERYONE])
def test_echo_request_to_broadcast_is_not_answered(host_gw, dst):
    assert host_gw.poll(1.0, ip_frame(ping_packet(dst=dst), dst_mac=BROADCAST)) == []
    assert host_gw.stats["icmp_rx_drop_echo_not_for_us"] == 1


def test_bad_icmp_checksum_is_dropped(host_gw):
    packet = ping_packet()
    raw = bytearray(packet.payload)
    raw[2] ^= 0xFF
    host_gw.poll(1.0, ip_frame(dataclasses.replace(packet, payload=bytes(raw))))
    assert host_gw.stats["icmp_rx_drop_checksum"] == 1


def test_echo_reply_for_no_socket_is_counted(host_gw):
    host_gw.poll(1.0, ip_frame(icmp_packet(GW_IP, HOST_IP, icmp.Repr.echo_reply(9, 9))))
    assert host_gw.stats["icmp_rx_drop_no_socket"] == 1


def test_port_unreachable_for_udp_to_a_closed_port(host_gw):
    datagram = udp_packet(GW_IP, HOST_IP, 53000, 9999, b"anyone?")
    out = host_gw.poll_decoded(1.0, ip_frame(datagram))
    error = icmp.Repr.dest_unreachable(3, quote(datagram))
    assert out == [(header(), icmp_packet(HOST_IP, GW_IP, error))]
    assert host_gw.stats["udp_rx_drop_no_socket"] == 1 and host_gw.stats["icmp_tx_error"] == 1


def test_protocol_unreachable_for_an_unknown_protocol(host_gw):
    sctp = ipv4.Repr(GW_IP, HOST_IP, 132, bytes(12))
    out = host_gw.poll_decoded(1.0, ip_frame(sctp))
    error = icmp.Repr.dest_unreachable(2, quote(sctp))
    assert out == [(header(), icmp_packet(HOST_IP, GW_IP, error))]


def test_port_unreachable_rate_limited(host_gw):
    frames = [ip_frame(udp_packet(GW_IP, HOST_IP, 53000, 9999, bytes([i]))) for i in range(15)]
    assert len(host_gw.poll(1.0, *frames)) == ICMP_ERRORS_PER_SECOND
    assert host_gw.stats["icmp_tx_drop_rate_limited"] == 5
    assert len(host_gw.poll(1.3, *frames[:5])) == 3          # 0.3 s refills 3 tokens
    assert len(host_gw.poll(10.0, *frames)) == ICMP_ERRORS_PER_SECOND   # never above the burst
    assert host_gw.stats["udp_rx_drop_no_socket"] == 35


@pytest.mark.parametrize("dst", [SUBNET_BROADCAST, EVERYONE])
def test_no_port_unreachable_for_broadcast_udp(host_gw, dst):
    assert host_gw.poll(1.0, ip_frame(udp_packet(GW_IP, dst, 68, 67, b""), dst_mac=BROADCAST)) == []
    assert host_gw.stats["udp_rx_drop_no_socket"] == 1


def test_no_port_unreachable_to_an_unspecified_source(host_gw):
    assert host_gw.poll(1.0, ip_frame(udp_packet("0.0.0.0", HOST_IP, 68, 9999, b""))) == []
    assert host_gw.stats["udp_rx_drop_no_socket"] == 1


def test_bad_udp_checksum_is_dropped(host_gw):
    sock = host_gw.add(UdpSocket())
    sock.bind(5000)
    good = udp_packet(GW_IP, HOST_IP, 53, 5000, b"data")
    raw = bytearray(good.payload)
    raw[-1] ^= 1
    host_gw.poll(1.0, ip_frame(dataclasses.replace(good, payload=bytes(raw))))
    assert host_gw.stats["udp_rx_drop_checksum"] == 1 and sock.recv_from() is None


# -- ICMP errors reach the socket they concern ------------------------------------------------

def sent_udp(host, sock, dst, port, now=1.0) -> ipv4.Repr:
    """Make ``sock`` send one datagram; the IPv4 packet as it left (ident included)."""
    sock.send_to(b"question", (dst, port))
    out = host.poll(now)
    return ipv4.Repr.parse(out[-1][14:])


def test_port_unreachable_reaches_the_udp_socket_that_sent(host_gw):
    mine = host_gw.add(UdpSocket())
    mine.bind(5000)
    other = host_gw.add(UdpSocket())
    other.bind(6000)
    packet = sent_udp(host_gw, mine, "8.8.8.8", 53)
    error = icmp.Repr.dest_unreachable(3, quote(packet))
    host_gw.poll(1.1, ip_frame(icmp_packet("8.8.8.8", HOST_IP, error)))
    assert mine.errors == ["ICMP DEST_UNREACHABLE code 3 from 8.8.8.8:53"]
    assert other.errors == [] and host_gw.stats["icmp_rx_drop_no_socket"] == 0


def test_time_exceeded_reaches_the_icmp_socket_and_names_the_router(host_gw):
    ping = host_gw.add(IcmpSocket(ident=7))
    ping.send_echo("8.8.8.8", 3)
    request = ipv4.Repr.parse(host_gw.poll(1.0)[-1][14:])
    error = icmp.Repr.time_exceeded(0, quote(request))
    host_gw.poll(1.1, ip_frame(icmp_packet(GW_IP, HOST_IP, error)))        # the router said it
    item = ping.recv()
    assert item == EchoError(GW_IP, 3, 11, 0) and item.text == "Time to live exceeded"
    assert ping.sent_at == {}


def test_icmp_error_about_another_echo_ident_is_counted(host_gw):
    host_gw.add(IcmpSocket(ident=7))
    theirs = icmp_packet(HOST_IP, "8.8.8.8", icmp.Repr.echo_request(8, 1))
    error = icmp.Repr.time_exceeded(0, quote(theirs))
    host_gw.poll(1.0, ip_frame(icmp_packet(GW_IP, HOST_IP, error)))
    assert host_gw.stats["icmp_rx_drop_no_socket"] == 1


def test_icmp_error_about_a_closed_port_is_counted(host_gw):
    theirs = udp_packet(HOST_IP, "10.0.2.3", 7777, 53, b"")
    error = icmp.Repr.dest_unreachable(3, quote(theirs))
    host_gw.poll(1.0, ip_frame(icmp_packet("10.0.2.3", HOST_IP, error)))
    assert host_gw.stats["icmp_rx_drop_no_socket"] == 1


def test_icmp_error_with_a_bad_quote_is_counted(host_gw):
    error = icmp.Repr.dest_unreachable(3, bytes(20) + bytes(8))             # version 0
    host_gw.poll(1.0, ip_frame(icmp_packet("10.0.2.3", HOST_IP, error)))
    assert host_gw.stats["icmp_rx_drop_bad_quote"] == 1


def test_icmp_error_too_short_to_quote_is_counted(host_gw):
    error = icmp.Repr(icmp.IcmpType.DEST_UNREACHABLE, 3, bytes(4), bytes(12))
    host_gw.poll(1.0, ip_frame(icmp_packet("10.0.2.3", HOST_IP, error)))
    assert host_gw.stats["icmp_rx_drop_data"] == 1


def test_icmp_error_from_127_0_0_1_is_believed_as_slirp_sends_it(host_gw):
    """slirp reports a closed host port from 127.0.0.1: RFC 1122 would drop it, we don't."""
    sock = host_gw.add(UdpSocket())
    sock.bind(5000)
    packet = sent_udp(host_gw, sock, GW_IP, 40000)
    error = icmp.Repr.dest_unreachable(3, quote(packet))
    host_gw.poll(1.1, ip_frame(icmp_packet("127.0.0.1", HOST_IP, error)))
    assert sock.errors == ["ICMP DEST_UNREACHABLE code 3 from 10.0.2.2:40000"]


# -- routes -----------------------------------------------------------------------------

def test_on_link_destination_is_asked_for_directly(host):
    sock = host.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"x", ("10.0.2.200", 9))
    assert host.poll_decoded(0.0) == [arp_request_for("10.0.2.200")]


def test_off_link_destination_goes_via_the_gateway(host):
    sock = host.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"x", ("93.184.216.34", 80))
    assert host.poll_decoded(0.0) == [arp_request_for(GW_IP)]
    out = host.poll_decoded(0.1, frame("arp_reply"))
    assert out == [(header(), udp_packet(HOST_IP, "93.184.216.34", 5000, 80, b"x"))]


def test_no_route_is_an_error_to_the_socket():
    h = Host(InterfaceConfig(NET))                      # no default gateway
    sock = h.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"x", ("8.8.8.8", 53))
    assert h.poll_decoded(0.0) == [arp_request_for(HOST_IP)]    # the announcement only
    assert h.stats["ipv4_tx_drop_no_route"] == 1 and h.stats["ipv4_tx"] == 0
    assert sock.errors == ["no route to 8.8.8.8"] and sock.stats["tx_errors"] == 1
    assert h.iface.poll_at(0.0, h.sockets) is None     # nothing left to wait for: no hang
    assert h.iface.neighbors.pending == {}


def test_unconfigured_interface_sends_only_broadcasts():
    h = Host()
    sock = h.add(UdpSocket())
    sock.bind(68)
    sock.send_to(b"discover", (EVERYONE, 67))
    sock.send_to(b"x", (GW_IP, 67))
    out = h.poll_decoded(0.0)
    discover = udp_packet("0.0.0.0", EVERYONE, 68, 67, b"discover")
    assert out == [(header(HOST_MAC, BROADCAST), discover)]
    assert sock.errors == ["no route to 10.0.2.2"]


def test_unconfigured_interface_takes_unicast_udp_but_no_pings():
    """Before DHCP is done a server may unicast the offer to the address it offers."""
    h = Host()
    sock = h.add(UdpSocket())
    sock.bind(68)
    out = h.poll(0.0, ip_frame(udp_packet(GW_IP, HOST_IP, 67, 68, b"offer")),
                 ip_frame(ping_packet()), ip_frame(ping_packet(dst=EVERYONE), dst_mac=BROADCAST),
                 ip_frame(udp_packet(GW_IP, HOST_IP, 67, 9999, b"")))
    assert out == [] and sock.recv_from() == (b"offer", (GW_IP, 67))
    assert h.stats["ipv4_rx_drop_not_for_us"] == 1
    assert h.stats["icmp_rx_drop_echo_not_for_us"] == 1
    assert h.stats["udp_rx_drop_no_socket"] == 1 and h.stats["icmp_tx_error"] == 0


def test_deconfigure_forgets_address_and_routes(host_gw):
    host_gw.iface.deconfigure()
    assert host_gw.iface.next_hop(GW_IP) is None and host_gw.iface.address is None
    assert host_gw.poll(1.0, arp_frame(Operation.REQUEST, GW_MAC, GW_IP, HOST_IP)) == []


def test_dont_fragment_too_big_is_an_error_to_the_socket(host_gw):
    sock = host_gw.add(UdpSocket())
    packet = ipv4.Repr(HOST_IP, GW_IP, IpProtocol.UDP, bytes(1500), dont_fragment=True)
    assert host_gw.iface.send_ip(1.0, packet, sock) is False
    assert host_gw.stats["ipv4_tx_drop_too_big"] == 1 and "DF" in sock.errors[0]


def test_a_packet_larger_than_ipv4_allows_is_refused_not_sent(host_gw):
    """Its fragment offsets would overflow 13 bits: refused whole, counted, socket told."""
    sock = host_gw.add(UdpSocket())
    packet = ipv4.Repr(HOST_IP, GW_IP, IpProtocol.UDP, bytes(65_516))
    assert host_gw.iface.send_ip(1.0, packet, sock) is False
    assert host_gw.poll(1.0) == [] and host_gw.stats["ipv4_tx_drop_too_big"] == 1
    assert sock.errors == ["65536-byte packet exceeds IPv4's 65535"]


# -- the egress allow-list ---------------------------------------------------------------------

def test_egress_allow_list_drops_and_counts():
    config = InterfaceConfig(NET, GW_IP, allow=(IPv4Network("10.0.2.2/32"),))
    h = Host(config)
    h.poll(0.0, frame("arp_reply"))
    sock = h.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"ok", (GW_IP, 53))
    sock.send_to(b"no", ("8.8.8.8", 53))
    out = h.poll_decoded(1.0, ip_frame(ping_packet(src="10.0.2.3"), src_mac=EVIL_MAC))
    assert out == [(header(), udp_packet(HOST_IP, GW_IP, 5000, 53, b"ok"))]
    assert h.stats["ipv4_tx_drop_not_allowed"] == 2          # 8.8.8.8 and the echo reply
    assert sock.errors == ["8.8.8.8 is not on the egress allow-list"]


# -- poll, poll_at, counters ----------------------------------------------------------------

def test_poll_says_whether_anything_happened(host_gw):
    assert host_gw.iface.poll(1.0, host_gw.device, host_gw.sockets) is False
    host_gw.device.rx.append(b"junk")
    assert host_gw.iface.poll(1.0, host_gw.device, host_gw.sockets) is True
    assert host_gw.iface.poll_at(1.0, host_gw.sockets) is None


def test_at_most_64_frames_per_poll(host_gw):
    host_gw.device.rx.extend([b"junk"] * 100)
    host_gw.iface.poll(1.0, host_gw.device, host_gw.sockets)
    assert host_gw.stats["eth_rx"] == MAX_FRAMES_PER_POLL and len(host_gw.device.rx) == 36


def test_counters_per_layer_after_a_ping(host):
    ping = host.add(IcmpSocket(ident=0x1C))
    ping.send_echo(GW_IP, 1, bytes(56))
    host.poll(1.0)
    host.poll(1.001, frame("arp_reply"))
    host.poll(1.002, frame("icmp_echo_reply"))
    assert dict(host.stats) == {"arp_tx_request": 1, "eth_tx": 2, "eth_rx": 2, "arp_rx": 1,
                                "ipv4_tx": 1, "ipv4_rx": 1, "icmp_rx": 1}
    assert ping.stats["tx"] == 1 and ping.stats["rx"] == 1
    described = host.iface.describe(1.002)
    assert described["arp"] == [{"ip": "10.0.2.2", "mac": "52:55:0a:00:02:02", "expires_in": 60.0}]
    assert described["stats"] == dict(sorted(host.stats.items()))


# -- whole exchanges: wrappers, two interfaces, loopback -----------------------------------

def talk(a: Host, b: Host) -> None:
    """A pings B, B pings A, UDP both ways (one datagram larger than the MTU)."""
    ping_a, ping_b = a.add(IcmpSocket(ident=1)), b.add(IcmpSocket(ident=2))
    udp_a, udp_b = a.add(UdpSocket()), b.add(UdpSocket())
    udp_a.bind(4000), udp_b.bind(5000)
    ping_a.send_echo(B_NET.ip, 1, b"from a")
    run(a, b, 0.0)
    ping_b.send_echo(A_NET.ip, 1, b"from b")
    udp_a.send_to(b"x" * 4000, (B_NET.ip, 5000))
    udp_b.send_to(b"hello a", (A_NET.ip, 4000))
    run(a, b, 0.5)
    got_a, got_b = ping_a.recv(), ping_b.recv()
    assert isinstance(got_a, EchoReply)
    assert (got_a.src, got_a.data, got_a.rtt) == (B_NET.ip, b"from a", 0.0)
    assert isinstance(got_b, EchoReply) and (got_b.src, got_b.data) == (A_NET.ip, b"from b")
    assert udp_b.recv_from() == (b"x" * 4000, (A_NET.ip, 4000))
    assert udp_a.recv_from() == (b"hello a", (B_NET.ip, 5000))


def test_two_interfaces_ping_each_other_and_exchange_udp():
    """Our stack against our stack."""
    a, b, ea, eb = pair()
    talk(a, b)
    assert a.stats["arp_tx_request"] == 1 and b.stats["arp_tx_request"] == 0   # B learned A
    for h in (a, b):
        assert not any(k for k in h.stats if "drop" in k), h.stats


@pytest.mark.parametrize("wrapper", ["tracer", "pcap", "faults-none", "faults-dup-reorder"])
def test_same_interface_works_behind_every_phy_wrapper(wrapper):
    lines, pcap = [], io.BytesIO()
    wraps = {"tracer": lambda d: Tracer(d, lines.append),
             "pcap": lambda d: PcapTap(d, PcapWriter(pcap), clock=lambda: 1.5),
             "faults-none": lambda d: FaultInjector(d, seed=1),
             "faults-dup-reorder": lambda d: FaultInjector(d, seed=3, duplicate=0.3, reorder=0.3)}
    a, b, ea, eb = pair(wraps[wrapper])
    talk(a, b)
    frames = len(ea.sent) + len(eb.sent)
    if wrapper == "tracer":
        assert len(lines) == frames and lines[0].startswith("> ")
        assert any("ICMP echo reply" in line for line in lines if line.startswith("< "))
    if wrapper == "pcap":
        pcap.seek(0)
        records = read_pcap(pcap)
        assert len(records) == frames and {t for t, _ in records} == {1.5}
    if wrapper == "faults-dup-reorder":
        assert a.device.stats.duplicated and a.device.stats.reordered


def test_an_interface_pings_its_own_address_through_loopback():
    lo = Loopback(HOST_MAC)
    iface, sockets = Interface(InterfaceConfig(NET, GW_IP), seed=1), SocketSet()
    ping = IcmpSocket(ident=5)
    sockets.add(ping)
    ping.send_echo(HOST_IP, 1, b"me")
    for t in (0.0, 0.001, 0.002, 0.003):
        iface.poll(t, lo, sockets)
    reply = ping.recv()
    assert isinstance(reply, EchoReply) and (reply.src, reply.data) == (HOST_IP, b"me")
    assert iface.stats["arp_tx_request"] == 0                 # our own MAC needs no asking
    assert iface.stats["arp_rx_drop_own_address"] == 1        # our gratuitous ARP came back
    assert lo.dropped == 0 and not lo.queue


def test_udp_to_a_closed_port_of_our_own_reports_port_unreachable_through_loopback():
    lo = Loopback(HOST_MAC)
    iface, sockets = Interface(InterfaceConfig(NET), seed=1), SocketSet()
    a, b = UdpSocket(), UdpSocket()
    sockets.add(a), sockets.add(b)
    a.bind(5000), b.bind(7)
    a.send_to(b"echo?", (HOST_IP, 7))
    a.send_to(b"anyone?", (HOST_IP, 9))
    for t in (0.0, 0.001, 0.002, 0.003):
        iface.poll(t, lo, sockets)
    assert b.recv_from() == (b"echo?", (HOST_IP, 5000))
    assert a.errors == ["ICMP DEST_UNREACHABLE code 3 from 10.0.2.15:9"]


# -- hostile input ------------------------------------------------------------------------

ADDRESSES = [HOST_IP, GW_IP, SUBNET_BROADCAST, EVERYONE, IPv4Address(0),
             IPv4Address("224.0.0.1"), IPv4Address("10.0.2.99"), IPv4Address("8.8.8.8")]


@st.composite
def ipv4_packets(draw) -> ipv4.Repr:
    protocol = draw(st.sampled_from([1, 17, 6, 2, 132]))
    src, dst = draw(st.sampled_from(ADDRESSES)), draw(st.sampled_from(ADDRESSES))
    data = draw(st.binary(max_size=64))
    if protocol == 1 and draw(st.booleans()):
        kind = draw(st.sampled_from([0, 3, 8, 11, 13, draw(st.integers(0, 255))]))
        data = icmp.Repr(kind, draw(st.integers(0, 15)), draw(st.binary(min_size=4, max_size=4)),
                         data).to_bytes()
    elif protocol == 17 and draw(st.booleans()):
        port = draw(st.sampled_from([7, 9, 68, draw(st.integers(0, 0xFFFF))]))
        data = udp.Repr(draw(st.integers(0, 0xFFFF)), port, data).to_bytes(src, dst)
    more = draw(st.booleans()) and draw(st.booleans())
    offset = draw(st.sampled_from([0, 0, 8, 16, 65_528, 8 * draw(st.integers(0, 8191))]))
    return ipv4.Repr(src, dst, protocol, data, draw(st.integers(0, 255)), draw(st.integers(0, 3)),
                     0, draw(st.booleans()), more, offset)


@st.composite
def hostile_frames(draw) -> bytes:
    kind = draw(st.sampled_from(["bytes", "ethernet", "arp", "ipv4", "mutated"]))
    if kind == "bytes":
        return draw(st.binary(max_size=120))
    dst = draw(st.sampled_from([HOST_MAC, BROADCAST, EVIL_MAC]))
    src = draw(st.sampled_from([GW_MAC, EVIL_MAC, HOST_MAC]))
    if kind == "ethernet":
        ethertype = draw(st.sampled_from([EtherType.ARP, EtherType.IPV4,
                                          draw(st.integers(0, 0xFFFF))]))
        return eth_frame(src, dst, ethertype, draw(st.binary(max_size=80)))
    if kind == "arp":
        message = arp.Repr(draw(st.integers(0, 4)), src, draw(st.sampled_from(ADDRESSES)),
                           draw(st.sampled_from([HOST_MAC, EVIL_MAC])),
                           draw(st.sampled_from(ADDRESSES)))
        return eth_frame(src, dst, EtherType.ARP, message.to_bytes(), pad=draw(st.booleans()))
    packet = draw(ipv4_packets()).to_bytes()
    raw = eth_frame(src, dst, EtherType.IPV4, packet, pad=draw(st.booleans()))
    if kind == "mutated":
        raw = bytearray(raw)
        for _ in range(draw(st.integers(1, 4))):
            raw[draw(st.integers(0, len(raw) - 1))] = draw(st.integers(0, 255))
        raw = bytes(raw[:draw(st.integers(0, len(raw)))])
    return raw


def check_bounded(iface: Interface) -> None:
    frags = iface.fragments
    assert frags.held == sum(len(p) for d in frags.datagrams.values() for p in d.pieces.values())
    assert frags.held <= MAX_BYTES and len(frags.datagrams) <= MAX_DATAGRAMS
    assert len(iface.neighbors.entries) <= CAPACITY
    assert len(iface.neighbors.pending) <= PENDING_ADDRESSES
    assert all(len(p.packets) <= PENDING_PER_NEIGHBOR for p in iface.neighbors.pending.values())


def named(stats) -> bool:
    """Every drop counter is ``<layer>_<rx|tx>_drop_<reason>`` with a real reason."""
    layers = ("eth", "arp", "ipv4", "icmp", "udp", "tcp")
    return all(k.split("_drop_")[1] and k.split("_")[0] in layers for k in stats if "_drop_" in k)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(hostile_frames(), max_size=30), st.floats(0, 100))
def test_random_frames_never_raise_and_every_frame_is_counted(frames, start):
    h = Host(InterfaceConfig(NET, GW_IP))
    udp7, ping = h.add(UdpSocket(rx_packets=4)), h.add(IcmpSocket(ident=0x64))
    udp7.bind(7)
    h.poll(start, frame("arp_reply"))
    for i in range(0, len(frames), 7):
        h.poll(start + i, *frames[i:i + 7])
        check_bounded(h.iface)
    assert h.stats["eth_rx"] == len(frames) + 1
    assert unaccounted(h.iface, [udp7, ping]) == 0, dict(h.stats)
    assert named(h.stats), dict(h.stats)


def flood(rng: random.Random, n: int):
    """``n`` hostile frames for 10.0.2.15 (deterministic for a seed)."""
    def ip(packet, src_mac=GW_MAC, dst_mac=HOST_MAC):
        return ip_frame(packet, src_mac, dst_mac)

    def frag(ident, offset, data, more=True, src=GW_IP):
        return ip(ipv4.Repr(IPv4Address(src), HOST_IP, IpProtocol.UDP, data, ident=ident,
                            more_fragments=more, frag_offset=offset))

    good_udp = udp_packet(GW_IP, HOST_IP, 53, 9999, b"x" * 30).payload
    kinds = ["teardrop", "frag_flood", "too_big", "arp_spoof", "truncated", "bad_checksum",
             "ping_from_many", "closed_port", "junk"]
    out = []
    while len(out) < n:
        kind = rng.choice(kinds)
        if kind == "teardrop":
            ident = rng.randrange(1 << 16)
            out += [frag(ident, 0, bytes(36)), frag(ident, 24, bytes(4), more=False)]
        elif kind == "frag_flood":
            out.append(frag(rng.randrange(1 << 16), 8 * rng.randrange(100), bytes(1400),
                            src=IPv4Address("10.0.2.0") + rng.randrange(1, 254)))
        elif kind == "too_big":
            ident = rng.randrange(1 << 16)
            out += [frag(ident, 0, bytes(1480)), frag(ident, 65_528, bytes(16), more=False)]
        elif kind == "arp_spoof":
            op = rng.choice([Operation.REPLY, Operation.REQUEST])
            target = rng.choice([HOST_IP, GW_IP, IPv4Address("10.0.2.0") + rng.randrange(256)])
            sender = rng.choice([GW_IP, IPv4Address("10.0.2.0") + rng.randrange(256)])
            out.append(arp_frame(op, EVIL_MAC, sender, target, target_mac=HOST_MAC,
                                 dst=rng.choice([HOST_MAC, BROADCAST])))
        elif kind == "truncated":
            whole = ip(udp_packet(GW_IP, HOST_IP, 53, 9999, b"data"))
            out.append(whole[:rng.randrange(len(whole))])
        elif kind == "bad_checksum":
            raw = bytearray(ip(ipv4.Repr(GW_IP, HOST_IP, IpProtocol.UDP, good_udp)))
            raw[rng.choice([24, 25, 40, 41])] ^= 0xFF       # IPv4 or UDP checksum
            out.append(bytes(raw))
        elif kind == "ping_from_many":
            src = IPv4Address("10.0.2.0") + rng.randrange(3, 254)
            out.append(ip(ping_packet(rng.randrange(1 << 16), src=src), EVIL_MAC))
        elif kind == "closed_port":
            out.append(ip(udp_packet(GW_IP, HOST_IP, 53, rng.randrange(1, 1 << 16), b"?")))
        else:
            out.append(rng.randbytes(rng.randrange(80)))
    return out[:n]


def test_a_flood_of_10000_hostile_frames_leaves_memory_bounded_and_ping_working():
    a, b, ea, eb = pair()
    ping = a.add(IcmpSocket(ident=0x99))
    ping.send_echo(GW_IP, 0)
    run(a, b, 0.0)                                        # a knows the gateway (b)
    assert isinstance(ping.recv(), EchoReply)
    frames = flood(random.Random(8), 10_000)
    fed_before, b_sent_before = a.stats["eth_rx"], len(eb.sent)
    now = 0.0
    for i in range(0, len(frames), MAX_FRAMES_PER_POLL):
        now += 0.064                                       # 1 ms a frame: 6.4 s in all
        ea.rx.extend(frames[i:i + MAX_FRAMES_PER_POLL])
        a.iface.poll(now, ea, a.sockets)
        b.iface.poll(now, eb, b.sockets)
        check_bounded(a.iface)
    run(a, b, now)
    assert a.stats["eth_rx"] - fed_before == len(frames) + len(eb.sent) - b_sent_before
    assert unaccounted(a.iface, [ping]) == 0, dict(a.stats)
    assert named(a.stats), dict(a.stats)
    s = a.stats
    assert s["ipv4_rx_drop_frag_overlap"] and s["ipv4_rx_drop_frag_too_big"]
    assert s["ipv4_rx_drop_frag_table_full"] and s["arp_rx_drop_conflict"]
    assert s["ipv4_rx_drop_checksum"] and s["udp_rx_drop_checksum"]
    assert s["icmp_tx_drop_rate_limited"] and s["ipv4_tx_drop_arp_queue_full"]
    assert a.iface.neighbors.lookup(GW_IP, now) == GW_MAC               # never the spoofer
    # afterwards: a ping still works, and once the table drained, a fragmented one too
    ping.send_echo(GW_IP, 1, b"still there?")
    run(a, b, now + 0.01)
    assert isinstance(ping.recv(), EchoReply)
    ping.send_echo(GW_IP, 2, bytes(3000))
    run(a, b, now + 31)
    reply = ping.recv()
    assert isinstance(reply, EchoReply) and reply.size == 3008

