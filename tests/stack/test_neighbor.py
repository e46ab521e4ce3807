"""The neighbour (ARP) cache through the interface: answers, learning, the queue of waiting
packets, retries and give-up, expiry and refresh, and spoofing.  One behaviour per test;
time is an argument (issue 8)."""

from ipaddress import IPv4Address

from dos64lab.iface import InterfaceConfig
from dos64lab.iface.neighbor import (CAPACITY, ENTRY_LIFETIME, PENDING_ADDRESSES,
                                     PENDING_PER_NEIGHBOR, NeighborCache)
from dos64lab.socket import EchoError, EchoReply, IcmpSocket, UdpSocket
from dos64lab.wire import arp, icmp, ipv4
from dos64lab.wire.arp import Operation
from dos64lab.wire.ethernet import BROADCAST, EtherType, EthernetAddress
from dos64lab.wire.ipv4 import IpProtocol
from fixtures.frames import frame

from .conftest import (EVIL_MAC, GW_IP, GW_MAC, HOST_IP, HOST_MAC, NET, Host, arp_frame,
                       arp_request_for, decode, echo_request_frame, header, icmp_packet, ip_frame,
                       udp_packet)

PEER = IPv4Address("10.0.2.7")
PEER_MAC = EthernetAddress.parse("52:54:00:00:00:07")


def echo_to(dst, ident: int, seq: int, data: bytes = b""):
    """What ``decode`` gives for our echo request to ``dst`` (on-link or via the gateway)."""
    message = icmp.Repr.echo_request(ident, seq, data).to_bytes()
    return ipv4.Repr(HOST_IP, IPv4Address(dst), IpProtocol.ICMP, message)


def udp_to(dst, src_port, dst_port, data):
    return udp_packet(HOST_IP, dst, src_port, dst_port, data)


def echo_reply_frame(ident, seq, data=b""):
    return ip_frame(icmp_packet(GW_IP, HOST_IP, icmp.Repr.echo_reply(ident, seq, data)))


# -- announcing and answering --------------------------------------------------------------

def test_gratuitous_arp_at_the_first_poll_when_configured_at_start():
    h = Host(InterfaceConfig(NET, GW_IP))
    assert h.iface.poll_at(0.0, h.sockets) == 0.0
    assert h.poll_decoded(0.0) == [arp_request_for(HOST_IP)]
    assert h.stats["arp_tx_gratuitous"] == 1
    assert h.poll(1.0) == [] and h.iface.poll_at(1.0, h.sockets) is None


def test_gratuitous_arp_when_an_address_is_configured():
    h = Host()
    assert h.poll(0.0) == []
    h.iface.configure(NET, GW_IP)
    assert h.poll_decoded(5.0) == [arp_request_for(HOST_IP)]


def test_configuring_the_same_address_again_does_not_announce_again(host):
    host.iface.configure("10.0.2.15/24", GW_IP)          # a DHCP renewal, address as text
    assert host.poll(1.0) == []
    host.iface.configure("10.0.2.16/24", GW_IP)
    assert host.poll_decoded(2.0) == [arp_request_for("10.0.2.16", sender_ip="10.0.2.16")]


def test_answers_arp_request_for_our_address(host):
    out = host.poll_decoded(1.0, arp_frame(Operation.REQUEST, GW_MAC, GW_IP, HOST_IP))
    assert out == [(header(HOST_MAC, GW_MAC, EtherType.ARP),
                    arp.Repr(Operation.REPLY, HOST_MAC, HOST_IP, GW_MAC, GW_IP))]
    assert host.stats["arp_rx"] == 1 and host.stats["arp_tx_reply"] == 1
    assert host.iface.neighbors.lookup(GW_IP, 1.0) == GW_MAC     # the asker is learned


def test_arp_request_for_another_address_is_not_answered_nor_learned(host):
    assert host.poll(1.0, arp_frame(Operation.REQUEST, PEER_MAC, PEER, GW_IP)) == []
    assert host.iface.neighbors.lookup(PEER, 1.0) is None
    assert host.stats["arp_rx"] == 1


def test_arp_request_padded_to_60_bytes_is_answered(host):
    out = host.poll(1.0, arp_frame(Operation.REQUEST, GW_MAC, GW_IP, HOST_IP, pad=True))
    assert len(out) == 1 and host.stats["arp_tx_reply"] == 1


def test_malformed_arp_is_dropped_and_counted_by_field(host):
    good = arp_frame(Operation.REQUEST, GW_MAC, GW_IP, HOST_IP)
    ipv6 = good[:16] + b"\x86\xdd" + good[18:]           # protocol type
    long_hw = good[:18] + b"\x08" + good[19:]            # hardware length 8 (and 8+2*12 > 28)
    assert host.poll(1.0, ipv6, good[:14 + 20]) == []
    assert host.stats["arp_rx_drop_protocol_type"] == 1
    assert host.stats["arp_rx_drop_length"] == 1
    assert host.poll(1.0, long_hw) == [] and host.stats["arp_rx_drop_length"] == 2
    assert host.stats["arp_rx"] == 0


def test_our_own_arp_looped_back_is_not_answered_nor_learned(host):
    echoed = arp_frame(Operation.REQUEST, HOST_MAC, HOST_IP, HOST_IP)   # our gratuitous ARP
    assert host.poll(1.0, echoed) == []
    assert host.iface.neighbors.entries == {}
    assert host.stats["arp_rx_drop_own_address"] == 1


def test_another_host_claiming_our_address_is_not_learned(host):
    assert host.poll(1.0, arp_frame(Operation.REQUEST, EVIL_MAC, HOST_IP, HOST_IP)) == []
    assert host.iface.neighbors.lookup(HOST_IP, 1.0) is None
    assert host.stats["arp_rx_drop_own_address"] == 1


# -- the queue: the first packet is never lost ------------------------------------------

def test_first_ping_waits_for_arp_and_is_sent_on_reply(host):
    ping = host.add(IcmpSocket(ident=0x1C))
    ping.send_echo(GW_IP, 1, bytes(56))
    assert host.poll(1.0) == [frame("arp_request")]           # the one slirp answered
    assert host.stats["arp_tx_request"] == 1 and host.stats["eth_tx"] == 1
    # slirp's real reply (padded to 64 bytes) releases the waiting echo request
    out = host.poll_decoded(1.002, frame("arp_reply"))
    assert out == [(header(), echo_to(GW_IP, 0x1C, 1, bytes(56)))]
    assert host.iface.neighbors.pending == {}
    reply = frame("icmp_echo_reply")                           # ident 0x1c, seq 1, 56 bytes
    host.poll(1.010, reply)
    item = ping.recv()
    assert isinstance(item, EchoReply) and (item.src, item.seq, item.ttl, item.size) == (
        GW_IP, 1, 255, 64)
    assert abs(item.rtt - 0.010) < 1e-9


def test_packets_waiting_for_arp_are_sent_in_order_on_reply(host):
    sock = host.add(UdpSocket())
    sock.bind(5000)
    for i in range(3):
        sock.send_to(bytes([i]), (PEER, 9))
    assert host.poll_decoded(0.0) == [arp_request_for(PEER)]
    reply = arp_frame(Operation.REPLY, PEER_MAC, PEER, HOST_IP, target_mac=HOST_MAC, dst=HOST_MAC)
    out = host.poll_decoded(0.1, reply)
    assert out == [(header(HOST_MAC, PEER_MAC), udp_to(PEER, 5000, 9, bytes([i])))
                   for i in range(3)]
    assert host.iface.neighbors.lookup(PEER, 0.1) == PEER_MAC


def test_arp_queue_is_bounded_per_neighbor(host):
    sock = host.add(UdpSocket(tx_packets=100))
    sock.bind(5000)
    for i in range(PENDING_PER_NEIGHBOR + 1):
        sock.send_to(bytes([i]), (PEER, 9))
    host.poll(0.0)
    assert len(host.iface.neighbors.pending[PEER].packets) == PENDING_PER_NEIGHBOR
    assert host.stats["ipv4_tx_drop_arp_queue_full"] == 1
    assert sock.stats["tx_errors"] == 1 and "waiting for ARP" in sock.errors[0]


def test_addresses_waiting_for_arp_are_bounded(host):
    sock = host.add(UdpSocket(tx_packets=1000))
    sock.bind(5000)
    for i in range(PENDING_ADDRESSES + 5):
        sock.send_to(b"x", (IPv4Address("10.0.2.16") + i, 9))
    out = host.poll(0.0)
    assert len(host.iface.neighbors.pending) == PENDING_ADDRESSES
    assert len(out) == PENDING_ADDRESSES                     # one ARP request each
    assert host.stats["ipv4_tx_drop_arp_queue_full"] == 5


def test_arp_request_rate_limited_per_address_not_cache_wide(host):
    sock = host.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"a", (PEER, 9))
    assert host.poll_decoded(0.0) == [arp_request_for(PEER)]
    sock.send_to(b"b", (PEER, 9))                 # same address, 0.5 s later: no new request
    sock.send_to(b"c", ("10.0.2.8", 9))           # another address: asked at once
    assert host.poll_decoded(0.5) == [arp_request_for("10.0.2.8")]
    assert host.poll(0.9) == []
    assert host.poll_decoded(1.0) == [arp_request_for(PEER)]
    assert host.poll_decoded(1.5) == [arp_request_for("10.0.2.8")]
    assert host.stats["arp_tx_request"] == 4


def test_poll_at_is_the_next_arp_retry(host):
    sock = host.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"a", (PEER, 9))
    assert host.iface.poll_at(0.0, host.sockets) == 0.0       # the socket has a datagram
    host.poll(0.0)
    assert host.iface.poll_at(0.0, host.sockets) == 1.0


def test_arp_given_up_after_3s_with_a_counter_and_an_error_to_the_socket(host):
    ping = host.add(IcmpSocket(ident=7))
    ping.send_echo(PEER, 1)
    ping.send_echo(PEER, 2)
    requests = [len(host.poll(t)) for t in (0.0, 1.0, 2.0, 2.5)]
    assert requests == [1, 1, 1, 0]
    assert host.poll(3.0) == []                   # the give-up, not a fourth request
    assert host.stats["arp_tx_request"] == 3
    assert host.stats["arp_resolve_failed"] == 1
    assert host.stats["ipv4_tx_drop_no_arp_reply"] == 2
    assert host.stats["ipv4_tx"] == 0             # nothing left the interface
    assert host.iface.neighbors.pending == {} and host.iface.poll_at(3.0, host.sockets) is None
    errors = [ping.recv(), ping.recv()]
    assert errors == [EchoError(IPv4Address(0), 1, 3, 1), EchoError(IPv4Address(0), 2, 3, 1)]
    assert errors[0].text == "Destination Host Unreachable"
    assert "no ARP reply from 10.0.2.7" in ping.errors[0]


def test_arp_give_up_fails_only_the_echo_requests_it_held(host_gw):
    ping = host_gw.add(IcmpSocket(ident=7))
    ping.send_echo(GW_IP, 1)                      # the gateway is known: this one leaves
    ping.send_echo(PEER, 2)                       # this one waits for ARP, in vain
    out = host_gw.poll(0.0)
    assert [decode(f)[1] for f in out][0] == echo_to(GW_IP, 7, 1)
    host_gw.poll(1.0), host_gw.poll(2.0), host_gw.poll(3.0)
    assert ping.recv() == EchoError(IPv4Address(0), 2, 3, 1)
    assert ping.recv() is None
    host_gw.poll(3.1, echo_reply_frame(7, 1))         # the gateway's answer: a real RTT
    item = ping.recv()
    assert isinstance(item, EchoReply) and item.seq == 1 and item.rtt == 3.1


# -- expiry and refresh ------------------------------------------------------------------

def test_cache_entry_expires_after_60s(host_gw):
    sock = host_gw.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"a", ("8.8.8.8", 53))
    out = host_gw.poll_decoded(ENTRY_LIFETIME - 0.1)
    assert out == [(header(), udp_to("8.8.8.8", 5000, 53, b"a"))]
    sock.send_to(b"b", ("8.8.8.8", 53))
    assert host_gw.poll_decoded(ENTRY_LIFETIME) == [arp_request_for(GW_IP)]
    assert host_gw.iface.neighbors.entries == {}          # forgotten, not just hidden


def test_traffic_from_the_neighbor_refreshes_its_entry(host_gw):
    """smoltcp #965: a busy neighbour must not be forgotten mid-transfer."""
    host_gw.poll(50.0, echo_request_frame(1))             # the gateway pings us at t=50
    assert host_gw.iface.neighbors.lookup(GW_IP, 109.9) == GW_MAC
    assert host_gw.iface.neighbors.lookup(GW_IP, 110.0) is None


def test_traffic_with_another_mac_does_not_refresh(host_gw):
    host_gw.poll(50.0, echo_request_frame(1, src_mac=EVIL_MAC))
    assert host_gw.iface.neighbors.lookup(GW_IP, ENTRY_LIFETIME) is None


def test_arp_from_a_known_neighbor_refreshes_its_entry(host_gw):
    host_gw.poll(30.0, arp_frame(Operation.REQUEST, GW_MAC, GW_IP, "10.0.2.3"))  # not for us
    assert host_gw.iface.neighbors.lookup(GW_IP, 89.9) == GW_MAC


# -- spoofing -----------------------------------------------------------------------------

def test_spoofed_arp_does_not_overwrite_live_entry(host_gw):
    lie = arp.Operation.REPLY
    spoofs = [arp_frame(lie, EVIL_MAC, GW_IP, HOST_IP, target_mac=HOST_MAC, dst=HOST_MAC),
              arp_frame(Operation.REQUEST, EVIL_MAC, GW_IP, GW_IP)]       # gratuitous
    host_gw.poll(1.0, *spoofs)
    assert host_gw.iface.neighbors.lookup(GW_IP, 1.0) == GW_MAC
    assert host_gw.stats["arp_rx_drop_conflict"] == 2
    ping = host_gw.add(IcmpSocket(ident=1))
    ping.send_echo("8.8.8.8", 1)
    assert host_gw.poll_decoded(2.0)[0][0] == header(HOST_MAC, GW_MAC)


def test_arp_reply_answering_our_request_is_believed(host):
    sock = host.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"a", (PEER, 9))
    host.poll(0.0)
    reply = arp_frame(Operation.REPLY, PEER_MAC, PEER, HOST_IP, target_mac=HOST_MAC, dst=HOST_MAC)
    assert len(host.poll(0.5, reply)) == 1
    assert host.stats["arp_rx_drop_conflict"] == 0


def test_unsolicited_arp_reply_from_a_stranger_is_not_learned(host):
    stranger = arp_frame(Operation.REPLY, EVIL_MAC, PEER, "10.0.2.99", target_mac=HOST_MAC,
                         dst=HOST_MAC)
    host.poll(1.0, stranger)
    assert host.iface.neighbors.entries == {}


def test_an_expired_entry_may_be_replaced(host_gw):
    moved = arp_frame(Operation.REQUEST, EVIL_MAC, GW_IP, HOST_IP)
    host_gw.poll(ENTRY_LIFETIME + 1, moved)
    assert host_gw.iface.neighbors.lookup(GW_IP, ENTRY_LIFETIME + 1) == EVIL_MAC


# -- the cache on its own -----------------------------------------------------------------

def test_cache_capacity_evicts_the_least_recently_used():
    cache = NeighborCache(capacity=2)
    a, b, c = (IPv4Address(f"10.0.0.{i}") for i in (1, 2, 3))
    cache.learn(a, GW_MAC, 0.0, solicited=True)
    cache.learn(b, GW_MAC, 0.0, solicited=True)
    assert cache.lookup(a, 1.0) == GW_MAC                  # a is used: b is now the oldest
    assert cache.learn(c, GW_MAC, 2.0, solicited=False) == ("cache_full", [])
    cache.learn(c, GW_MAC, 2.0, solicited=True)            # an answer to our request
    assert list(cache.entries) == [a, c]
    assert CAPACITY == 256


def test_table_lists_live_entries_with_time_left():
    cache = NeighborCache()
    cache.learn(GW_IP, GW_MAC, 0.0, solicited=True)
    assert cache.table(10.0) == [{"ip": "10.0.2.2", "mac": "52:55:0a:00:02:02", "expires_in": 50.0}]
    assert cache.table(60.0) == []


def test_broadcast_destination_needs_no_arp(host):
    sock = host.add(UdpSocket())
    sock.bind(68)
    sock.send_to(b"x", ("255.255.255.255", 67))
    sock.send_to(b"y", ("10.0.2.255", 67))
    out = host.poll_decoded(0.0)
    assert [eth for eth, _ in out] == [header(HOST_MAC, BROADCAST)] * 2
    assert host.iface.neighbors.pending == {}


def test_a_full_cache_makes_room_among_strangers_never_the_gateway(host_gw):
    """A flood of ARP from strangers must not push out the gateway (and let a spoofer in),
    nor lock out the next real host: strangers make room for strangers."""
    host_gw.iface.neighbors.capacity = 3
    strangers = [arp_frame(Operation.REQUEST, EVIL_MAC, f"10.0.2.{i}", HOST_IP)
                 for i in (30, 31, 32)]
    host_gw.poll(1.0, *strangers)
    assert list(host_gw.iface.neighbors.entries) == [GW_IP, IPv4Address("10.0.2.31"),
                                                     IPv4Address("10.0.2.32")]
    assert host_gw.stats["arp_tx_reply"] == 3
    host_gw.poll(2.0, arp_frame(Operation.REQUEST, EVIL_MAC, GW_IP, HOST_IP))
    assert host_gw.iface.neighbors.lookup(GW_IP, 2.0) == GW_MAC
    assert host_gw.stats["arp_rx_drop_conflict"] == 1


def test_a_cache_full_of_hosts_we_asked_for_refuses_strangers():
    cache = NeighborCache(capacity=2)
    for i in (2, 3):
        cache.learn(IPv4Address(f"10.0.2.{i}"), GW_MAC, 0.0, solicited=True)
    assert cache.learn(IPv4Address("10.0.2.40"), EVIL_MAC, 1.0, solicited=False)[0] == "cache_full"
    assert len(cache.entries) == 2


def test_an_answer_to_our_request_may_push_out_the_oldest_entry(host_gw):
    host_gw.iface.neighbors.capacity = 1
    sock = host_gw.add(UdpSocket())
    sock.bind(5000)
    sock.send_to(b"a", (PEER, 9))
    host_gw.poll(1.0)
    reply = arp_frame(Operation.REPLY, PEER_MAC, PEER, HOST_IP, target_mac=HOST_MAC, dst=HOST_MAC)
    assert len(host_gw.poll(1.1, reply)) == 1
    assert list(host_gw.iface.neighbors.entries) == [PEER]
