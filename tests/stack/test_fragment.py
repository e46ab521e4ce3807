"""IPv4 fragments: reassembly with its bounds (overlap, size, table, memory, count, timeout)
and fragmentation on send -- unit tests on ``Reassembler``/``fragment`` and whole exchanges
through the interface (issue 8)."""

import random
from ipaddress import IPv4Address

from hypothesis import given, settings, strategies as st

from dos64lab.iface.fragment import (MAX_BYTES, MAX_DATAGRAMS, MAX_FRAGMENTS, TIMEOUT,
                                     Reassembler, fragment)
from dos64lab.socket import EchoReply, IcmpSocket, UdpSocket
from dos64lab.wire import arp, ipv4
from dos64lab.wire.ipv4 import IpProtocol

from .conftest import (B_NET, A_NET, GW_IP, GW_MAC, HOST_IP, HOST_MAC, arp_frame, decode,
                       echo_request_frame, ip_frame, pair, run, udp_packet)

SRC, DST = IPv4Address("10.0.2.2"), IPv4Address("10.0.2.15")


def piece(offset: int, data: bytes, more: bool = True, ident: int = 7, src=SRC, dst=DST,
          protocol=IpProtocol.UDP) -> ipv4.Repr:
    return ipv4.Repr(src, dst, protocol, data, ident=ident, more_fragments=more, frag_offset=offset)


def held_is_exact(r: Reassembler) -> bool:
    """The books match the pieces actually kept."""
    return r.held == sum(len(p) for d in r.datagrams.values() for p in d.pieces.values())


# -- reassembly ------------------------------------------------------------------------------

def test_fragments_out_of_order_reassemble_with_the_first_fragments_header():
    whole = ipv4.Repr(SRC, DST, IpProtocol.UDP, bytes(range(256)) * 12, ttl=9, ident=7)
    pieces = fragment(whole, 1500)
    r = Reassembler()
    results = [r.add(p, 0.0) for p in reversed(pieces)]
    assert results[:-1] == [(None, None)] * (len(pieces) - 1)
    assert results[-1] == (whole, None)
    assert r.datagrams == {} and r.held == 0


def test_teardrop_overlap_drops_datagram():
    """A second fragment inside the first (teardrop): RFC 5722, the whole datagram goes."""
    r = Reassembler()
    assert r.add(piece(0, bytes(24)), 0.0) == (None, None)
    assert r.add(piece(16, bytes(16)), 0.0) == (None, "frag_overlap")
    assert r.datagrams == {} and r.held == 0
    assert r.add(piece(24, bytes(8), more=False), 0.0) == (None, None)   # starts over, alone


def test_exact_duplicate_fragment_is_ignored():
    """A fragment the network duplicated is no attack (RFC 8200 §4.5): keep the datagram."""
    r = Reassembler()
    r.add(piece(0, b"a" * 8), 0.0)
    assert r.add(piece(0, b"a" * 8), 0.0) == (None, "frag_duplicate")
    assert r.held == 8
    done, reason = r.add(piece(8, b"b", more=False), 0.0)
    assert reason is None and done.payload == b"a" * 8 + b"b"


def test_same_offset_with_other_bytes_is_an_overlap():
    r = Reassembler()
    r.add(piece(0, b"a" * 16), 0.0)
    assert r.add(piece(0, b"b" * 16), 0.0) == (None, "frag_overlap")
    assert r.datagrams == {} and r.held == 0


def test_empty_fragment_at_a_taken_offset_does_not_leak_held_bytes():
    r = Reassembler()
    r.add(piece(0, bytes(16)), 0.0)
    r.add(piece(0, b""), 0.0)               # once replaced the 16 bytes, leaving them in `held`
    assert held_is_exact(r)
    r.expire(TIMEOUT)
    assert r.held == 0


def test_reassembly_of_exactly_65535_bytes_is_accepted():
    whole = ipv4.Repr(SRC, DST, IpProtocol.UDP, bytes(65_535 - 20), ident=7)
    r = Reassembler()
    results = [r.add(p, 0.0) for p in fragment(whole, 1500)]
    assert results[-1] == (whole, None)


def test_reassembly_over_65535_dropped():
    r = Reassembler()
    r.add(piece(0, bytes(1480)), 0.0)
    assert r.add(piece(65_512, bytes(4), more=False), 0.0) == (None, "frag_too_big")  # 20+65,516
    assert r.datagrams == {} and r.held == 0          # the datagram in flight goes too
    assert r.add(piece(65_512, bytes(3), more=False), 0.0) == (None, None)          # 65,535: fits


def test_fragment_table_full():
    r = Reassembler()
    for ident in range(MAX_DATAGRAMS):
        assert r.add(piece(0, bytes(8), ident=ident), 0.0) == (None, None)
    assert r.add(piece(0, bytes(8), ident=999), 0.0) == (None, "frag_table_full")
    assert len(r.datagrams) == MAX_DATAGRAMS
    done, reason = r.add(piece(8, b"x", more=False, ident=3), 0.0)   # the old ones go on
    assert reason is None and done.payload == bytes(8) + b"x"


def test_fragment_memory_full():
    r = Reassembler()
    chunk = 8 * 8000                                  # 64,000 bytes held per datagram
    for ident in range(MAX_BYTES // chunk):
        assert r.add(piece(0, bytes(chunk), ident=ident), 0.0) == (None, None)
    assert r.add(piece(0, bytes(chunk), ident=99), 0.0) == (None, "frag_memory_full")
    assert r.held <= MAX_BYTES and held_is_exact(r)


def test_too_many_fragments_drops_datagram():
    r = Reassembler()
    for i in range(MAX_FRAGMENTS):
        assert r.add(piece(8 * i, bytes(8)), 0.0) == (None, None)
    assert r.add(piece(8 * MAX_FRAGMENTS, bytes(8)), 0.0) == (None, "frag_too_many")
    assert r.datagrams == {} and r.held == 0


def test_last_fragments_that_disagree_on_the_length_drop_the_datagram():
    r = Reassembler()
    r.add(piece(16, bytes(8), more=False), 0.0)
    assert r.add(piece(32, bytes(8), more=False), 0.0) == (None, "frag_overlap")
    assert r.datagrams == {}


def test_fragment_past_the_known_end_drops_the_datagram():
    r = Reassembler()
    r.add(piece(16, bytes(8), more=False), 0.0)
    assert r.add(piece(24, bytes(8)), 0.0) == (None, "frag_overlap")


def test_fragments_of_different_datagrams_do_not_mix():
    r = Reassembler()
    r.add(piece(0, b"a" * 8, ident=1), 0.0)
    r.add(piece(0, b"b" * 8, ident=1, src=IPv4Address("10.0.2.3")), 0.0)
    done, _ = r.add(piece(8, b"!", more=False, ident=1), 0.0)
    assert done.payload == b"a" * 8 + b"!" and len(r.datagrams) == 1


def test_fragment_timeout_30s():
    r = Reassembler()
    r.add(piece(0, bytes(8)), 5.0)
    assert r.poll_at() == 5.0 + TIMEOUT
    assert r.expire(5.0 + TIMEOUT - 0.1) == 0
    assert r.expire(5.0 + TIMEOUT) == 1 and r.held == 0 and r.poll_at() is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8191), st.integers(0, 1600), st.booleans(),
                          st.integers(0, 20), st.floats(0, 40)), max_size=120))
def test_held_bytes_match_the_pieces_whatever_arrives(fragments):
    r = Reassembler()
    for units, size, more, ident, now in sorted(fragments, key=lambda f: f[4]):
        r.add(piece(units * 8, bytes(size), more, ident), now)
        r.expire(now)
        assert held_is_exact(r)
        assert r.held <= MAX_BYTES and len(r.datagrams) <= MAX_DATAGRAMS
        assert all(len(d.pieces) <= MAX_FRAGMENTS for d in r.datagrams.values())


@settings(max_examples=100, deadline=None)
@given(st.integers(0, 20_000), st.integers(68, 1500), st.randoms(use_true_random=False),
       st.booleans())
def test_any_fragmentation_in_any_order_with_duplicates_reassembles(size, mtu, rng, dup):
    whole = ipv4.Repr(SRC, DST, IpProtocol.UDP, rng.randbytes(size), ident=42)
    pieces = fragment(whole, mtu)
    if len(pieces) > MAX_FRAGMENTS:
        return
    arriving = pieces + (rng.sample(pieces, len(pieces) // 2) if dup else [])
    rng.shuffle(arriving)
    r, got = Reassembler(), []
    for p in arriving:
        done, _ = r.add(p, 0.0)
        got += [done] if done else []
    if len(pieces) == 1:                       # not a fragment at all: nothing to reassemble
        return
    assert got[0] == whole


# -- fragmentation on send -------------------------------------------------------------------

def test_fragment_splits_to_the_mtu_in_8_byte_units():
    whole = ipv4.Repr(SRC, DST, IpProtocol.UDP, bytes(3000), ident=5, options=b"\x01\x01\x01\x00")
    pieces = fragment(whole, 1500)
    assert [(len(p.payload), p.frag_offset, p.more_fragments) for p in pieces] == [
        (1472, 0, True), (1472, 1472, True), (56, 2944, False)]
    assert [p.options for p in pieces] == [whole.options, b"", b""]
    assert {p.ident for p in pieces} == {5}
    assert all(p.buffer_len() <= 1500 for p in pieces)


def test_a_packet_that_fits_is_not_fragmented():
    whole = ipv4.Repr(SRC, DST, IpProtocol.UDP, bytes(1480))
    assert fragment(whole, 1500) == [whole]


def test_dont_fragment_too_big_is_refused():
    whole = ipv4.Repr(SRC, DST, IpProtocol.UDP, bytes(1481), dont_fragment=True)
    try:
        fragment(whole, 1500)
    except ValueError as err:
        assert "DF" in str(err)
    else:
        raise AssertionError("no ValueError")


# -- through the interface ---------------------------------------------------------------

def udp_fragments(data: bytes, mtu: int = 1500, ident: int = 9):
    whole = udp_packet(GW_IP, HOST_IP, 53, 5000, data, ident=ident)
    return [ip_frame(p) for p in fragment(whole, mtu)]


def test_interface_reassembles_udp_and_counts(host_gw):
    sock = host_gw.add(UdpSocket())
    sock.bind(5000)
    frames = udp_fragments(bytes(range(256)) * 16)
    host_gw.poll(1.0, *frames)
    assert sock.recv_from() == (bytes(range(256)) * 16, (GW_IP, 53))
    assert host_gw.stats["ipv4_rx_fragment_held"] == len(frames) - 1
    assert host_gw.stats["ipv4_rx_reassembled"] == 1
    assert host_gw.iface.fragments.datagrams == {}


def test_interface_counts_teardrop_and_sends_nothing(host_gw):
    first = ip_frame(piece(0, bytes(24), dst=HOST_IP, src=GW_IP))
    inside = ip_frame(piece(8, bytes(8), dst=HOST_IP, src=GW_IP))
    assert host_gw.poll(1.0, first, inside) == []
    assert host_gw.stats["ipv4_rx_drop_frag_overlap"] == 1
    assert host_gw.iface.fragments.held == 0


def test_interface_fragment_timeout_30s(host_gw):
    host_gw.poll(1.0, udp_fragments(bytes(3000))[0])
    assert host_gw.iface.poll_at(1.0, host_gw.sockets) == 1.0 + TIMEOUT
    host_gw.poll(1.0 + TIMEOUT - 0.01)
    assert len(host_gw.iface.fragments.datagrams) == 1
    host_gw.poll(1.0 + TIMEOUT)
    assert host_gw.stats["ipv4_rx_drop_frag_timeout"] == 1
    assert host_gw.iface.fragments.held == 0


def test_fragmented_echo_request_is_answered_fragmented(host_gw):
    data = bytes(range(256)) * 12
    request = echo_request_frame(1, data)
    whole = decode(request)[1]
    frames = [ip_frame(p) for p in fragment(ipv4.Repr.parse(request[14:]), 1500)]
    out = host_gw.poll(1.0, *frames)
    assert len(out) == 3 and host_gw.stats["ipv4_tx_fragmented"] == 1
    r = Reassembler()
    reply = [r.add(ipv4.Repr.parse(f[14:]), 1.0)[0] for f in out][-1]
    assert (reply.src, reply.dst, len(reply.payload)) == (HOST_IP, GW_IP, len(whole.payload))


def test_udp_larger_than_mtu_is_fragmented_and_reassembles():
    a, b, _, _ = pair()
    tx = a.add(UdpSocket())
    tx.bind(4000)
    rx = b.add(UdpSocket())
    rx.bind(5000)
    for size in (1473, 4000, 65_507):           # one byte over, a few fragments, the largest
        data = random.Random(size).randbytes(size)
        tx.send_to(data, (B_NET.ip, 5000))
        run(a, b, 0.0)
        assert rx.recv_from() == (data, (A_NET.ip, 4000))
    assert a.stats["ipv4_tx_fragmented"] == 3 and b.stats["ipv4_rx_reassembled"] == 3
    assert b.iface.fragments.held == 0


def test_a_large_datagram_waiting_for_arp_is_sent_whole_on_reply(host):
    """The ARP queue holds datagrams, not fragments: none of its 14 pieces is lost."""
    sock = host.add(UdpSocket())
    sock.bind(4000)
    sock.send_to(bytes(20_000), ("10.0.2.7", 9))
    assert len(host.poll(0.0)) == 1                              # the ARP request only
    assert len(host.iface.neighbors.pending[IPv4Address("10.0.2.7")].packets) == 1
    reply = arp_frame(arp.Operation.REPLY, GW_MAC, "10.0.2.7", HOST_IP, target_mac=HOST_MAC,
                      dst=HOST_MAC)
    out = host.poll(0.1, reply)
    assert len(out) == 14 and host.stats["ipv4_tx_drop_arp_queue_full"] == 0
    r = Reassembler()
    done = [r.add(ipv4.Repr.parse(f[14:]), 0.1)[0] for f in out][-1]
    assert len(done.payload) == 8 + 20_000


def test_interface_on_a_small_mtu_fragments_to_it():
    a, b, _, _ = pair(mtu=576)
    ping = a.add(IcmpSocket(ident=1))
    ping.send_echo(B_NET.ip, 1, bytes(1000))
    run(a, b, 0.0)
    assert isinstance(ping.recv(), EchoReply)
    assert all(len(f) <= 14 + 576 for f in a.device.sent + b.device.sent)
