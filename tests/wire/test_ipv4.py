"""ipv4: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

from ipaddress import IPv4Address

import pytest
from scapy.layers.inet import IP
from scapy.packet import Raw

from dos64lab.errors import ParseError
from dos64lab.wire.ipv4 import IpProtocol, Packet, Repr, parse_options
from .layers import FRAMES, fuzz_tests, layer

RAW, _ = layer("icmp_echo_request", 1)
GUEST, GATEWAY = IPv4Address("10.0.2.15"), IPv4Address("10.0.2.2")
EXPECTED = Repr(src=GUEST, dst=GATEWAY, protocol=IpProtocol.ICMP, payload=RAW[20:], ttl=64,
                ident=0x04D2, dont_fragment=True)


def test_deconstruct():
    p = Packet.new_checked(RAW)
    assert (p.version, p.header_len, p.total_len, p.ident) == (4, 20, 84, 0x04D2)
    assert (p.dont_fragment, p.more_fragments, p.frag_offset) == (True, False, 0)
    assert (p.ttl, p.protocol, p.src, p.dst) == (64, IpProtocol.ICMP, GUEST, GATEWAY)
    assert p.verify_checksum() and bytes(p.payload) == RAW[20:]


def test_construct():
    buf = bytearray(len(RAW))
    p = Packet(buf)
    p.set_version_header_len(4, 20)
    p.total_len, p.ident, p.ttl, p.protocol = 84, 0x04D2, 64, IpProtocol.ICMP
    p.set_fragment(dont_fragment=True, more_fragments=False, offset=0)
    p.src, p.dst = GUEST, GATEWAY
    p.payload[:] = RAW[20:]
    p.fill_checksum()
    assert bytes(buf) == RAW


def test_parse():
    assert Repr.parse(RAW) == EXPECTED
    assert not EXPECTED.is_fragment


def test_emit():
    assert EXPECTED.to_bytes() == RAW


def test_round_trip_with_options_and_fragment():
    r = Repr(GUEST, GATEWAY, 253, b"x" * 16, ttl=1, ident=7, dscp_ecn=0xB8,
             more_fragments=True, frag_offset=1480, options=b"\x94\x04\x00\x00\x01\x00\x00\x00")
    back = Repr.parse(r.to_bytes())
    assert back == r and back.is_fragment and back.protocol == 253
    assert parse_options(back.options) == [(0x94, b"\x00\x00"), (1, b"")]


def test_padding_after_total_length_is_ignored():
    assert Repr.parse(RAW + bytes(6)) == EXPECTED


@pytest.mark.parametrize("offset, value, field", [
    (0, 0x65, "version"), (0, 0x44, "header length"), (2, 0xFF, "total length"),
    (10, 0x00, "checksum")])
def test_bad_fields_are_named(offset, value, field):
    raw = bytearray(RAW)
    raw[offset] = value
    with pytest.raises(ParseError) as err:
        Repr.parse(bytes(raw))
    assert (err.value.layer, err.value.field) == ("ipv4", field)


def test_bad_option_length():
    r = Repr(GUEST, GATEWAY, 6, options=b"\x94\x09\x00\x00")
    with pytest.raises(ParseError, match="options"):
        Repr.parse(r.to_bytes())


def test_scapy_builds_the_same_bytes():
    r = Repr(GUEST, GATEWAY, IpProtocol.UDP, b"abc", ttl=17, ident=99, dscp_ecn=0x10,
             more_fragments=True, frag_offset=8, options=b"\x94\x04\x00\x00")
    pkt = IP(src=str(r.src), dst=str(r.dst), proto=int(r.protocol), ttl=r.ttl, id=r.ident,
             tos=r.dscp_ecn, flags="MF", frag=r.frag_offset // 8, options=r.options) / Raw(r.payload)
    assert bytes(pkt) == r.to_bytes()


def test_scapy_reads_our_bytes():
    pkt = IP(EXPECTED.to_bytes())
    assert (pkt.src, pkt.dst, pkt.proto, pkt.ttl, pkt.id) == ("10.0.2.15", "10.0.2.2", 1, 64, 0x04D2)
    assert pkt.flags == "DF"


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    lambda b: Repr.parse(b, verify_checksum=False), [layer(n, 1)[0] for n in FRAMES if "arp" not in n])
