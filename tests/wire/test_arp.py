"""arp: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

from ipaddress import IPv4Address

from scapy.layers.l2 import ARP

from dos64lab.wire.arp import Operation, Packet, Repr
from dos64lab.wire.ethernet import EthernetAddress
from .layers import fuzz_tests, layer

RAW, _ = layer("arp_request", 1)
REPLY, _ = layer("arp_reply", 1)
GUEST, SLIRP = EthernetAddress.parse("52:54:00:12:34:56"), EthernetAddress.parse("52:55:0a:00:02:02")
ZERO = EthernetAddress(bytes(6))
EXPECTED = Repr(Operation.REQUEST, GUEST, IPv4Address("10.0.2.15"), ZERO, IPv4Address("10.0.2.2"))


def test_deconstruct():
    p = Packet.new_checked(RAW)
    assert (p.hardware_type, p.protocol_type, p.hardware_len, p.protocol_len) == (1, 0x0800, 6, 4)
    assert p.operation == Operation.REQUEST
    assert (p.sender_mac, p.sender_ip) == (GUEST, IPv4Address("10.0.2.15"))
    assert (p.target_mac, p.target_ip) == (ZERO, IPv4Address("10.0.2.2"))


def test_construct():
    buf = bytearray(28)
    p = Packet(buf)
    p.hardware_type, p.protocol_type, p.hardware_len, p.protocol_len = 1, 0x0800, 6, 4
    p.operation = Operation.REQUEST
    p.sender_mac, p.sender_ip = GUEST, IPv4Address("10.0.2.15")
    p.target_mac, p.target_ip = ZERO, IPv4Address("10.0.2.2")
    assert bytes(buf) == RAW


def test_parse():
    assert Repr.parse(RAW) == EXPECTED
    assert Repr.parse(REPLY) == Repr(Operation.REPLY, SLIRP, IPv4Address("10.0.2.2"),
                                     GUEST, IPv4Address("10.0.2.15"))


def test_emit():
    assert EXPECTED.to_bytes() == RAW


def test_round_trip():
    assert Repr.parse(EXPECTED.to_bytes()) == EXPECTED
    assert Repr.parse(REPLY).to_bytes() == REPLY[:28]      # padding is Ethernet's


def test_unknown_operation_is_kept():
    assert Repr.parse(RAW[:6] + b"\x00\x09" + RAW[8:]).operation == 9


def _scapy(r):
    return ARP(op=int(r.operation), hwsrc=str(r.sender_mac), psrc=str(r.sender_ip),
               hwdst=str(r.target_mac), pdst=str(r.target_ip))


def test_scapy_builds_the_same_bytes():
    assert bytes(_scapy(EXPECTED)) == EXPECTED.to_bytes()


def test_scapy_reads_our_bytes():
    pkt = ARP(EXPECTED.to_bytes())
    assert (pkt.op, pkt.hwsrc, pkt.psrc, pkt.pdst) == (1, str(GUEST), "10.0.2.15", "10.0.2.2")


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(Repr.parse, [RAW, REPLY])
