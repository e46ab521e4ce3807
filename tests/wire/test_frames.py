"""Every fixture frame, all layers at once: decode, re-encode, compare with scapy and pretty()."""

import pytest
from hypothesis import given, settings, strategies as st
from scapy.layers.inet import IP, TCP, UDP, ICMP
from scapy.layers.l2 import Ether

from dos64lab.wire import pretty
from .layers import FRAMES, FUZZ_EXAMPLES, decode, encode, frame, mutated


@pytest.mark.parametrize("name", FRAMES)
def test_decode_encode_is_exact(name):
    assert encode(decode(frame(name))) == frame(name)


@pytest.mark.parametrize("name", FRAMES)
def test_scapy_agrees_our_checksums_are_right(name):
    """Scapy recomputes each checksum from scratch; it must match what we emitted."""
    ours = encode(decode(frame(name)))
    pkt = Ether(ours)
    for layer in (IP, ICMP, UDP, TCP):
        if layer in pkt:
            stored = pkt[layer].chksum
            fresh = pkt.copy()
            del fresh[layer].chksum
            assert Ether(bytes(fresh))[layer].chksum == stored, layer.__name__


@pytest.mark.parametrize("name", FRAMES)
def test_pretty_is_one_line(name):
    line = pretty(frame(name))
    assert "\n" not in line and "malformed" not in line


EXPECTED_LINES = {
    "arp_request": "52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15",
    "arp_reply": "52:55:0a:00:02:02 > 52:54:00:12:34:56 ARP 10.0.2.2 is-at 52:55:0a:00:02:02",
    "dhcp_discover": "0.0.0.0.68 > 255.255.255.255.67 UDP DHCP DISCOVER xid=0x1234",
    "dhcp_offer": "10.0.2.2.67 > 255.255.255.255.68 UDP DHCP OFFER xid=0x1234 yiaddr=10.0.2.15",
    "tcp_synack": "10.0.2.2.80 > 10.0.2.15.49152 TCP [S.] seq=1 ack=1001 win=65535 mss=1460",
}


@pytest.mark.parametrize("name", EXPECTED_LINES)
def test_pretty_lines(name):
    assert pretty(frame(name)) == EXPECTED_LINES[name]


@pytest.mark.parametrize("cut, expect", [
    (5, "malformed: ethernet: bad length"),
    (20, "malformed: ipv4: bad length"),
])
def test_pretty_says_malformed(cut, expect):
    assert expect in pretty(frame("tcp_syn")[:cut])


def test_pretty_names_a_bad_checksum_after_the_ports():
    raw = bytearray(frame("tcp_data"))
    raw[-1] ^= 0xFF
    assert pretty(bytes(raw)).startswith(
        "10.0.2.15.49152 > 10.0.2.2.80 TCP malformed: tcp: bad checksum (0x")


def test_pretty_unknown_ethertype_is_a_value():
    raw = frame("arp_request")[:12] + b"\x88\xb5" + b"hello"
    assert pretty(raw).endswith("ethertype 0x88b5 len=5")


@settings(max_examples=FUZZ_EXAMPLES, deadline=None)
@given(st.one_of(st.binary(max_size=128), mutated([frame(n) for n in FRAMES])))
def test_pretty_never_raises(data):
    assert "\n" not in pretty(data)
