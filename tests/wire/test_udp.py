"""udp: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP, UDP
from scapy.packet import Raw

from dos64lab.errors import ParseError
from dos64lab.wire.udp import Packet, Repr
from .layers import FRAMES, fuzz_tests, layer

RAW, ip = layer("dns_query", 2)
SRC, DST = ip.src, ip.dst
EXPECTED = Repr(src_port=49153, dst_port=53, payload=RAW[8:])


def test_deconstruct():
    p = Packet.new_checked(RAW)
    assert (p.src_port, p.dst_port, p.length) == (49153, 53, len(RAW))
    assert p.verify_checksum(SRC, DST) and bytes(p.payload) == RAW[8:]


def test_construct():
    buf = bytearray(len(RAW))
    p = Packet(buf)
    p.src_port, p.dst_port, p.length = 49153, 53, len(RAW)
    p.payload[:] = RAW[8:]
    p.fill_checksum(SRC, DST)
    assert bytes(buf) == RAW


def test_parse():
    assert Repr.parse(RAW, SRC, DST) == EXPECTED


def test_emit():
    assert EXPECTED.to_bytes(SRC, DST) == RAW


def test_round_trip():
    assert Repr.parse(EXPECTED.to_bytes(SRC, DST), SRC, DST) == EXPECTED


def test_zero_checksum_means_none():
    raw = EXPECTED.to_bytes(None, None)
    assert raw[6:8] == b"\0\0" and Repr.parse(raw, SRC, DST) == EXPECTED


def test_bad_checksum_and_length():
    with pytest.raises(ParseError, match="checksum"):
        Repr.parse(RAW, SRC, IPv4Address("10.0.2.4"))
    with pytest.raises(ParseError, match="length"):
        Repr.parse(RAW[:-1], SRC, DST)


def test_scapy_builds_the_same_bytes():
    pkt = IP(src=str(SRC), dst=str(DST)) / UDP(sport=49153, dport=53) / Raw(EXPECTED.payload)
    assert bytes(pkt)[20:] == EXPECTED.to_bytes(SRC, DST)


def test_scapy_reads_our_bytes():
    pkt = UDP(EXPECTED.to_bytes(SRC, DST))
    assert (pkt.sport, pkt.dport, pkt.len) == (49153, 53, len(RAW))


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    lambda b: Repr.parse(b, SRC, DST, verify_checksum=False),
    [layer(n, 2)[0] for n in FRAMES if n.startswith(("dns", "dhcp"))],
    emit=lambda r: r.to_bytes(SRC, DST))
