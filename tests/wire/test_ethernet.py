"""ethernet: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

from scapy.layers.l2 import Ether
from scapy.packet import Raw

from dos64lab.wire.ethernet import BROADCAST, EtherType, EthernetAddress, Packet, Repr
from .layers import FRAMES, frame, fuzz_tests

RAW = frame("arp_request")
GUEST = EthernetAddress.parse("52:54:00:12:34:56")
EXPECTED = Repr(src=GUEST, dst=BROADCAST, ethertype=EtherType.ARP, payload=RAW[14:])


def test_deconstruct():
    p = Packet.new_checked(RAW)
    assert (p.dst, p.src, p.ethertype) == (BROADCAST, GUEST, EtherType.ARP)
    assert bytes(p.payload) == RAW[14:]


def test_construct():
    buf = bytearray(len(RAW))
    p = Packet(buf)
    p.dst, p.src, p.ethertype = BROADCAST, GUEST, EtherType.ARP
    p.payload[:] = RAW[14:]
    assert bytes(buf) == RAW


def test_parse():
    assert Repr.parse(RAW) == EXPECTED


def test_emit():
    assert EXPECTED.to_bytes() == RAW


def test_round_trip_keeps_padding():
    padded = frame("arp_reply")
    assert Repr.parse(padded).to_bytes() == padded


def test_unknown_ethertype_is_a_plain_int():
    r = Repr.parse(RAW[:12] + b"\x88\xb5")
    assert r.ethertype == 0x88B5 and type(r.ethertype) is int


def test_address():
    assert str(GUEST) == "52:54:00:12:34:56"
    assert BROADCAST.is_broadcast and BROADCAST.is_multicast and not GUEST.is_multicast


def test_scapy_builds_the_same_bytes():
    pkt = Ether(src=str(EXPECTED.src), dst=str(EXPECTED.dst), type=int(EXPECTED.ethertype))
    assert bytes(pkt / Raw(EXPECTED.payload)) == EXPECTED.to_bytes()


def test_scapy_reads_our_bytes():
    pkt = Ether(EXPECTED.to_bytes())
    assert (pkt.src, pkt.dst, pkt.type) == (str(GUEST), str(BROADCAST), EtherType.ARP)


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    Repr.parse, [frame(n) for n in FRAMES])
