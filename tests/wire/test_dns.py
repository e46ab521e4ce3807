"""dns: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, fuzzing, and hostile compression
(pointer chains that once made parsing quadratic)."""

import struct
import time
from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, dns_compress

from dos64lab.errors import ParseError
from dos64lab.wire.dns import Flags, Packet, Question, Rcode, Record, Repr, Type, read_name
from .layers import FUZZ_EXAMPLES, fuzz_tests, layer, parse_then_emit

QUERY, _ = layer("dns_query", 3)
ANSWER, _ = layer("dns_answer", 3)
EXPECTED_QUERY = Repr.query(0xBEEF, "www.example.com", Type.A)
EXPECTED_ANSWER = Repr(0xBEEF, Flags.QR | Flags.RD | Flags.RA, (Question("www.example.com"),), (
    Record("www.example.com", Type.CNAME, 300, "example.com"),
    Record("example.com", Type.A, 300, IPv4Address("192.0.2.80"))))


def test_deconstruct():
    p = Packet.new_checked(ANSWER)
    assert (p.id, p.flags, p.qdcount, p.ancount, p.nscount, p.arcount) == (0xBEEF, 0x8180, 1, 2, 0, 0)
    assert read_name(ANSWER, 12) == ("www.example.com", 29)
    assert read_name(ANSWER, 33) == ("www.example.com", 35)     # a pointer back to offset 12


def test_construct():
    buf = bytearray(len(QUERY))
    p = Packet(buf)
    p.id, p.flags, p.qdcount = 0xBEEF, Flags.RD, 1
    p.payload[:] = b"\x03www\x07example\x03com\x00\x00\x01\x00\x01"
    assert bytes(buf) == QUERY


def test_parse():
    assert Repr.parse(QUERY) == EXPECTED_QUERY
    answer = Repr.parse(ANSWER)
    assert answer == EXPECTED_ANSWER
    assert answer.is_response and answer.rcode == Rcode.NOERROR and answer.opcode == 0


def test_emit_compresses_names():
    assert EXPECTED_QUERY.to_bytes() == QUERY
    assert EXPECTED_ANSWER.to_bytes() == ANSWER


def test_round_trip_all_types():
    r = Repr(1, Flags.QR | Flags.AA | 3, (Question("4.3.2.10.in-addr.arpa", Type.PTR),), (
        Record("4.3.2.10.in-addr.arpa", Type.PTR, 60, "host.lab"),
        Record("host.lab", Type.AAAA, 60, IPv6Address("fec0::3")),
        Record("host.lab", Type.TXT, 60, (b"v=1", b"")),
        Record("host.lab", Type.NS, 60, "ns.host.lab")),
        (Record("lab", Type.SOA, 5, b"\x00" * 22),), (Record("", Type.OPT, 0, b"", cls=1232),))
    back = Repr.parse(r.to_bytes())
    assert back == r and back.rcode == Rcode.NXDOMAIN and back.additionals[0].cls == 1232


_label = st.text(alphabet="abcdefghij-0123456789", min_size=1, max_size=10)
_name = st.lists(_label, max_size=4).map(".".join)


@settings(max_examples=300, deadline=None)
@given(st.lists(_name, min_size=1, max_size=4))
def test_round_trip_generated_names(names):
    r = Repr(2, Flags.QR, tuple(Question(n) for n in names),
             tuple(Record(n, Type.CNAME, 1, m) for n, m in zip(names, reversed(names))))
    assert Repr.parse(r.to_bytes()) == r


def _message(name_bytes: bytes) -> bytes:
    return bytes.fromhex("beef01000001000000000000") + name_bytes + b"\x00\x01\x00\x01"


@pytest.mark.parametrize("name_bytes, reason", [
    (b"\xc0\x0c", "does not point back"),                          # points at itself
    (b"\x01a\xc0\x0c", "does not point back"),                     # a loop through a label
    ((b"\x3f" + b"a" * 63) * 4 + b"\x00", "longer than 255"),
    (b"\x05abc", "runs past the end"),
    (b"\x80", "label type"),
    (b"\x03a.b\x00", "contains '.'"),
])
def test_bad_names(name_bytes, reason):
    with pytest.raises(ParseError, match=reason):
        Repr.parse(_message(name_bytes))


def test_bad_rdata():
    bad = ANSWER[:-1]          # the A record cut short: rdlength runs past the end
    with pytest.raises(ParseError, match="rdata"):
        Repr.parse(bad)


def _scapy(r: Repr):
    rr = [DNSRR(rrname=a.name, type=int(a.type), ttl=a.ttl, rdata=str(a.data)) for a in r.answers]
    return dns_compress(DNS(id=r.id, qr=int(r.is_response), rd=1, ra=int(bool(r.flags & Flags.RA)),
                            qd=[DNSQR(qname=q.name, qtype=int(q.type)) for q in r.questions],
                            an=rr))


@pytest.mark.parametrize("r", [EXPECTED_QUERY, EXPECTED_ANSWER])
def test_scapy_builds_the_same_bytes(r):
    assert bytes(_scapy(r)) == r.to_bytes()


def test_scapy_reads_our_bytes():
    pkt = DNS(EXPECTED_ANSWER.to_bytes())
    assert (pkt.id, pkt.qr, pkt.qd[0].qname, pkt.an[0].rdata, pkt.an[1].rdata) == (
        0xBEEF, 1, b"www.example.com.", b"example.com.", "192.0.2.80")


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    Repr.parse, [QUERY, ANSWER],
    random=st.binary(max_size=96).map(lambda tail: bytes.fromhex("beef818000020003") + tail))


# -- hostile compression ---------------------------------------------------------------------

LONGEST_NAME = b"\x01a" * 127 + b"\x00"          # 255 bytes on the wire: 127 labels


def chained_message(hops: int, size: int = 65507, bottom: bytes = LONGEST_NAME) -> bytes:
    """The costliest DNS message we know how to build, ``size`` bytes long (65507 fills
    a UDP datagram).  Question 0 has the name ``bottom``.  Behind it, a chain of
    compression pointers, each pointing at the one before: the name, type and class of
    the next questions are all pointers.  Then questions whose names follow ``hops``
    pointers down the chain (``hops=0``: root names, no pointer), until the message is full."""
    out = bytearray(12) + bottom + b"\x00\x01\x00\x01"
    depth, questions = [12], 1       # depth[d]: an offset whose name follows d pointers
    while len(depth) < hops:         # a question made of three links of the chain
        at = len(out)
        for i in range(3):
            out += struct.pack("!H", 0xC000 | depth[-1])
            depth.append(at + 2 * i)
        questions += 1
    assert depth[hops - 1] < 0x4000, "a pointer holds 14 bits"
    filler = struct.pack("!HHH", 0xC000 | depth[hops - 1], 1, 1) if hops else b"\x00\x00\x01\x00\x01"
    fillers = max(0, (size - len(out)) // len(filler))
    out += filler * fillers
    struct.pack_into("!HHH", out, 0, 0x1BAD, 0, questions + fillers)
    return bytes(out)


def test_chained_message_is_what_it_says():
    msg = chained_message(5, size=400, bottom=b"\x01a\x00")
    assert len(msg) == 400 - (400 - 19) % 6
    assert read_name(msg, len(msg) - 6) == ("a", len(msg) - 4)          # a filler
    assert len(Repr.parse(msg).questions) == Packet(msg).qdcount == 1 + (400 - 19) // 6


@pytest.mark.parametrize("hops", [1, 128])
def test_a_name_may_follow_128_pointers(hops):
    msg = chained_message(hops, size=300, bottom=b"\x01a\x00")    # short, to stay in MAX_WORK
    assert {q.name for q in Repr.parse(msg).questions[-5:]} == {"a"}


def test_a_name_following_129_pointers_is_refused():
    with pytest.raises(ParseError, match="more than 128 compression pointers"):
        Repr.parse(chained_message(129, size=700, bottom=b"\x01a\x00"))


@pytest.mark.parametrize("hops, reason", [
    (8000, "questions and records, at most 4096"),    # the deepest chain 14 bits allow
    (128, "questions and records, at most 4096"),     # as deep as allowed, 255-byte names
    (0, "questions and records, at most 4096"),       # 13,099 root names, no pointers
])
def test_hostile_64k_message_is_refused_quickly(hops, reason):
    """Each name following a long chain once made parsing quadratic: seconds for 64 KB.
    Now the walk per name and per message is bounded (benchmarks/bench_wire.py: ms)."""
    msg = chained_message(hops)
    t0 = time.perf_counter()
    with pytest.raises(ParseError, match=reason):
        Repr.parse(msg)
    assert time.perf_counter() - t0 < 0.5          # generous: the bound makes it ~ms


def test_the_work_bound_leaves_honest_messages_alone():
    """64 KB of 255-byte names, read in place, is refused (32,000 labels: ~27 ms to read);
    a full frame of records compressed against a long real-world name parses."""
    uncompressed = struct.pack("!6H", 1, 0, 252, 0, 0, 0) + (LONGEST_NAME + b"\x00\x01\x00\x01") * 252
    t0 = time.perf_counter()
    with pytest.raises(ParseError, match="more than 8192 labels and pointers"):
        Repr.parse(uncompressed)
    assert time.perf_counter() - t0 < 0.5
    name = "a-rather-long-host-name.with.several.labels.in.it.example.org"
    full_frame = Repr(1, Flags.QR, (Question(name),),
                      tuple(Record(name, Type.A, 1, IPv4Address(i)) for i in range(80)))
    assert len(full_frame.to_bytes()) <= 1472 and Repr.parse(full_frame.to_bytes()) == full_frame


@st.composite
def hostile_messages(draw):
    """A pointer chain of random depth below random names, then cut or altered."""
    labels = draw(st.lists(st.integers(1, 63), max_size=10))
    bottom = b"".join(bytes([n]) + b"a" * n for n in labels) + b"\x00"
    msg = bytearray(chained_message(draw(st.integers(0, 140)), bottom=bottom,
                                    size=draw(st.integers(len(bottom) + 16, 3000))))
    for _ in range(draw(st.integers(0, 3))):
        msg[draw(st.integers(0, len(msg) - 1))] = draw(st.integers(0, 255))
    return bytes(msg[:draw(st.integers(0, len(msg)))])


@settings(max_examples=FUZZ_EXAMPLES // 5, deadline=None)
@given(hostile_messages())
def test_fuzz_hostile_compression(data):
    parse_then_emit(Repr.parse, data)
