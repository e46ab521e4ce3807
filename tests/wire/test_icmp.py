"""icmp: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

import pytest
from scapy.layers.inet import ICMP
from scapy.packet import Raw

from dos64lab.errors import ParseError
from dos64lab.wire.icmp import IcmpType, Packet, Repr
from .layers import fuzz_tests, layer

RAW, _ = layer("icmp_echo_request", 2)
REPLY, _ = layer("icmp_echo_reply", 2)
DATA = bytes(range(0x10, 0x10 + 56))
EXPECTED = Repr.echo_request(ident=0x1C, seq=1, data=DATA)


def test_deconstruct():
    p = Packet.new_checked(RAW)
    assert (p.type, p.code, p.ident, p.seq) == (IcmpType.ECHO_REQUEST, 0, 0x1C, 1)
    assert p.verify_checksum() and bytes(p.payload) == DATA


def test_construct():
    buf = bytearray(len(RAW))
    p = Packet(buf)
    p.type, p.code, p.ident, p.seq = IcmpType.ECHO_REQUEST, 0, 0x1C, 1
    p.payload[:] = DATA
    p.fill_checksum()
    assert bytes(buf) == RAW


def test_parse():
    r = Repr.parse(RAW)
    assert r == EXPECTED and (r.ident, r.seq) == (0x1C, 1)
    assert Repr.parse(REPLY) == Repr.echo_reply(0x1C, 1, DATA)


def test_emit():
    assert EXPECTED.to_bytes() == RAW


def test_round_trip_error_messages():
    quoted = layer("tcp_syn", 1)[0][:28]
    for r in (Repr.dest_unreachable(4, quoted, mtu=576), Repr.time_exceeded(0, quoted),
              Repr(42, 7, b"\x01\x02\x03\x04", b"other")):
        assert Repr.parse(r.to_bytes()) == r
    assert Repr.dest_unreachable(4, quoted, mtu=576).mtu == 576


def test_error_message_must_quote_a_header():
    with pytest.raises(ParseError, match="data"):
        Repr.parse(Repr.time_exceeded(0, b"short").to_bytes())


def test_bad_checksum():
    with pytest.raises(ParseError, match="checksum"):
        Repr.parse(RAW[:-1] + b"\x00")


def test_scapy_builds_the_same_bytes():
    pkt = ICMP(type=int(EXPECTED.type), code=EXPECTED.code, id=EXPECTED.ident,
               seq=EXPECTED.seq) / Raw(EXPECTED.data)
    assert bytes(pkt) == EXPECTED.to_bytes()
    quoted = bytes(range(28))
    pkt = ICMP(type=3, code=4, nexthopmtu=1400, unused=0) / Raw(quoted)
    assert bytes(pkt) == Repr.dest_unreachable(4, quoted, mtu=1400).to_bytes()


def test_scapy_reads_our_bytes():
    pkt = ICMP(EXPECTED.to_bytes())
    assert (pkt.type, pkt.code, pkt.id, pkt.seq, pkt.load) == (8, 0, 0x1C, 1, DATA)


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    lambda b: Repr.parse(b, verify_checksum=False), [RAW, REPLY])
