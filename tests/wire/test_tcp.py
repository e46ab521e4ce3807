"""tcp: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, TCP
from scapy.packet import Raw

from dos64lab.errors import ParseError
from dos64lab.wire.tcp import (Mss, Nop, Packet, Repr, Sack, SackPermitted, TcpFlags, Timestamps,
                               UnknownOption, WindowScale, emit_options, parse_options)
from .layers import FRAMES, fuzz_tests, layer

RAW, ip = layer("tcp_syn", 2)
SRC, DST = ip.src, ip.dst
OPTIONS = (Mss(1460), SackPermitted(), Timestamps(1000, 0), Nop(), WindowScale(7))
EXPECTED = Repr(src_port=49152, dst_port=80, seq=1000, flags=TcpFlags.SYN, window=64240,
                options=OPTIONS)


def test_deconstruct():
    p = Packet.new_checked(RAW)
    assert (p.src_port, p.dst_port, p.seq, p.ack) == (49152, 80, 1000, 0)
    assert (p.header_len, p.flags, p.window, p.urgent) == (40, TcpFlags.SYN, 64240, 0)
    assert p.verify_checksum(SRC, DST) and bytes(p.payload) == b""
    assert parse_options(p.options) == OPTIONS


def test_construct():
    buf = bytearray(len(RAW))
    p = Packet(buf)
    p.src_port, p.dst_port, p.seq, p.window = 49152, 80, 1000, 64240
    p.set_header_len_flags(40, TcpFlags.SYN)
    p.options[:] = emit_options(OPTIONS)
    p.fill_checksum(SRC, DST)
    assert bytes(buf) == RAW


def test_parse():
    r = Repr.parse(RAW, SRC, DST)
    assert r == EXPECTED
    assert (r.mss, r.window_scale, r.sack_permitted, r.timestamps) == (
        1460, 7, True, Timestamps(1000, 0))
    assert r.seq_len == 1


def test_emit():
    assert EXPECTED.to_bytes(SRC, DST) == RAW


def test_data_segment_and_sack():
    data, _ = layer("tcp_data", 2)
    r = Repr.parse(data, SRC, DST)
    assert r.flags == TcpFlags.PSH | TcpFlags.ACK and r.payload.startswith(b"GET / HTTP/1.0")
    assert r.flags.short() == "P." and r.seq_len == len(r.payload)
    sack, _ = layer("tcp_ack_sack", 2)
    assert Repr.parse(sack, SRC, DST).sack_blocks == ((1450, 2910),)


def test_all_nine_flags():
    r = Repr(1, 2, flags=TcpFlags(0x1FF), options=(UnknownOption(30, b"xyz"),))
    assert Repr.parse(r.to_bytes(SRC, DST), SRC, DST) == r
    assert TcpFlags(0x1FF).short() == "FSRPUEWN."


@pytest.mark.parametrize("options, reason", [
    (b"\x02\x03\x05\x00", "option 2 with 1 data bytes"),
    (b"\x08\x01\x00\x00", "option 8 has a bad length"),
    (b"\x05\x06" + bytes(4), "option 5 with 4 data bytes"),
])
def test_bad_options(options, reason):
    with pytest.raises(ParseError, match=reason):
        parse_options(options)


def test_end_of_options_stops_the_list():
    assert parse_options(b"\x01\x00\x02\x04") == (Nop(),)


_u16, _u32 = st.integers(0, 0xFFFF), st.integers(0, 0xFFFFFFFF)
_option = st.one_of(
    st.just(Nop()), st.builds(Mss, _u16), st.builds(WindowScale, st.integers(0, 14)),
    st.just(SackPermitted()), st.builds(Timestamps, _u32, _u32),
    st.builds(Sack, st.lists(st.tuples(_u32, _u32), min_size=1, max_size=2).map(tuple)),
    st.builds(UnknownOption, st.integers(9, 255), st.binary(max_size=6)))




def _fits(options) -> bool:
    return sum(1 if isinstance(o, Nop) else 2 + len(o.data()) for o in options) <= 40


@settings(max_examples=300, deadline=None)
@given(st.builds(Repr, _u16, _u16, _u32, _u32, st.integers(0, 0x1FF).map(TcpFlags), _u16, _u16,
                 st.lists(_option, max_size=3).map(tuple).filter(_fits), st.binary(max_size=64)))
def test_round_trip_generated(r):
    assert Repr.parse(r.to_bytes(SRC, DST), SRC, DST) == r


def _scapy_options(options):
    names = {Mss: lambda o: ("MSS", o.value), WindowScale: lambda o: ("WScale", o.shift),
             SackPermitted: lambda o: ("SAckOK", b""), Nop: lambda o: ("NOP", None),
             Timestamps: lambda o: ("Timestamp", (o.tsval, o.tsecr)),
             Sack: lambda o: ("SAck", sum(o.blocks, ()))}
    return [names[type(o)](o) for o in options]


@pytest.mark.parametrize("name", [n for n in FRAMES if n.startswith("tcp")])
def test_scapy_builds_the_same_bytes(name):
    r = Repr.parse(layer(name, 2)[0], SRC, DST)
    pkt = IP(src=str(SRC), dst=str(DST)) / TCP(
        sport=r.src_port, dport=r.dst_port, seq=r.seq, ack=r.ack, flags=int(r.flags),
        window=r.window, urgptr=r.urgent, options=_scapy_options(r.options)) / Raw(r.payload)
    assert bytes(pkt)[20:] == r.to_bytes(SRC, DST)


def test_scapy_reads_our_bytes():
    pkt = TCP(EXPECTED.to_bytes(SRC, DST))
    assert (pkt.sport, pkt.dport, pkt.seq, pkt.flags, pkt.window) == (49152, 80, 1000, "S", 64240)
    assert dict(pkt.options)["MSS"] == 1460 and dict(pkt.options)["WScale"] == 7


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    lambda b: Repr.parse(b, SRC, DST, verify_checksum=False),
    [layer(n, 2)[0] for n in FRAMES if n.startswith("tcp")],
    emit=lambda r: r.to_bytes(SRC, DST))
