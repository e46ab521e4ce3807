"""pretty(): text from a frame is escaped, so one frame is always one line of
printable ASCII (a DNS name cannot forge lines or send terminal escapes)."""

from ipaddress import IPv4Address

import pytest
from hypothesis import given, settings, strategies as st

from dos64lab.wire import dns, ethernet, ipv4, pretty, udp
from dos64lab.wire.ethernet import EtherType, EthernetAddress
from dos64lab.wire.ipv4 import IpProtocol

GUEST, GATEWAY = IPv4Address("10.0.2.15"), IPv4Address("10.0.2.2")
MAC = EthernetAddress(bytes.fromhex("525400123456"))


def dns_frame(message: dns.Repr | bytes, src_port=49152, dst_port=53) -> bytes:
    """An Ethernet frame carrying a DNS message from the guest to the gateway."""
    raw = message if isinstance(message, bytes) else message.to_bytes()
    datagram = udp.Repr(src_port, dst_port, raw).to_bytes(GUEST, GATEWAY)
    packet = ipv4.Repr(GUEST, GATEWAY, IpProtocol.UDP, datagram).to_bytes()
    return ethernet.Repr(MAC, MAC, EtherType.IPV4, packet).to_bytes()


# A name that tries to end the line, clear the screen, and pass off a backslash
# sequence as an escaped byte; then Latin-1.
EVIL = "x\n    2 10.0.2.2.53 > 10.0.2.15.49152 UDP DNS forged.\x1b[2J.a\\x1bb.caf\xe9"
EVIL_SHOWN = r"x\x0a    2 10.0.2.2.53 > 10.0.2.15.49152 UDP DNS forged.\x1b[2J.a\\x1bb.caf\xe9"


def assert_one_printable_line(line: str) -> None:
    assert line.isascii() and line.isprintable(), line


def test_a_dns_name_with_control_characters_is_one_escaped_line():
    line = pretty(dns_frame(dns.Repr.query(1, EVIL)))
    assert_one_printable_line(line)
    assert line == f"10.0.2.15.49152 > 10.0.2.2.53 UDP DNS query id=0x0001 A? {EVIL_SHOWN}"


@pytest.mark.parametrize("record, shown", [
    (dns.Record("a", dns.Type.CNAME, 1, EVIL), f"CNAME {EVIL_SHOWN}"),
    (dns.Record("a", dns.Type.PTR, 1, "\x07\x9b"), r"PTR \x07\x9b"),
    (dns.Record("a", dns.Type.TXT, 1, (b"v=1\r\n", b"\x1b]0;owned\x07", b"\\", b"caf\xe9")),
     r'TXT "v=1\x0d\x0a" "\x1b]0;owned\x07" "\\" "caf\xe9"'),
])
def test_answers_are_escaped(record, shown):
    answer = dns.Repr(1, dns.Flags.QR, (dns.Question("a"),), (record,))
    line = pretty(dns_frame(answer, 53, 49152))
    assert_one_printable_line(line)
    assert line.endswith(f"DNS response id=0x0001 A? a: {shown}")


def test_plain_names_are_unchanged():
    line = pretty(dns_frame(dns.Repr.query(0xBEEF, "www.example.com")))
    assert line == "10.0.2.15.49152 > 10.0.2.2.53 UDP DNS query id=0xbeef A? www.example.com"


_label = st.binary(min_size=1, max_size=63).filter(lambda b: b"." not in b)


@settings(max_examples=300, deadline=None)
@given(st.lists(_label, min_size=1, max_size=3), st.lists(st.binary(max_size=20), max_size=3))
def test_any_names_and_strings_give_one_printable_line(labels, strings):
    name = b".".join(labels).decode("latin-1")
    answer = dns.Repr(1, dns.Flags.QR, (dns.Question(name, dns.Type.TXT),),
                      (dns.Record(name, dns.Type.TXT, 1, tuple(strings)),
                       dns.Record(name, dns.Type.CNAME, 1, name)))
    line = pretty(dns_frame(answer, 53, 49152))
    assert_one_printable_line(line)
    assert "malformed" not in line
