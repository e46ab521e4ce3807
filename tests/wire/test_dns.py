"""dns: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.dns import DNS, DNSQR, DNSRR, dns_compress

from dos64lab.errors import ParseError
from dos64lab.wire.dns import Flags, Packet, Question, Rcode, Record, Repr, Type, read_name
from .layers import fuzz_tests, layer

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
