"""dhcp: the four canonical tests (deconstruct, construct, parse, emit) on a fixture
frame, round trips, scapy cross-checks both ways, and fuzzing."""

from ipaddress import IPv4Address

import pytest
from hypothesis import strategies as st
from scapy.layers.dhcp import BOOTP, DHCP

from dos64lab.errors import ParseError
from dos64lab.wire.dhcp import MAGIC_COOKIE, MessageType, Op, OptionCode, Packet, Repr
from dos64lab.wire.ethernet import EthernetAddress
from .layers import fuzz_tests, layer

DISCOVER, _ = layer("dhcp_discover", 3)
OFFER, _ = layer("dhcp_offer", 3)
MAC = EthernetAddress.parse("52:54:00:12:34:56")
GATEWAY, DNS_SERVER, GUEST = (IPv4Address(a) for a in ("10.0.2.2", "10.0.2.3", "10.0.2.15"))
EXPECTED_DISCOVER = Repr.build(
    Op.REQUEST, 0x1234, MAC, message_type=MessageType.DISCOVER, client_id=b"\x01" + MAC.octets,
    hostname="dos64", parameter_request_list=(1, 3, 6, 15, 51), padding=len(DISCOVER) - 240 - 27)
EXPECTED_OFFER = Repr.build(
    Op.REPLY, 0x1234, MAC, yiaddr=GUEST, siaddr=GATEWAY, message_type=MessageType.OFFER,
    server_id=GATEWAY, subnet_mask=IPv4Address("255.255.255.0"), router=(GATEWAY,),
    dns_servers=(DNS_SERVER,), lease_time=86400, padding=len(OFFER) - 240 - 34)


def test_deconstruct():
    p = Packet.new_checked(OFFER)
    assert (p.op, p.htype, p.hlen, p.xid, p.cookie) == (Op.REPLY, 1, 6, 0x1234, MAGIC_COOKIE)
    assert (p.yiaddr, p.siaddr, p.chaddr) == (GUEST, GATEWAY, MAC)
    assert bytes(p.options[:3]) == bytes([OptionCode.MESSAGE_TYPE, 1, MessageType.OFFER])


def test_construct():
    buf = bytearray(len(OFFER))
    p = Packet(buf)
    p.op, p.htype, p.hlen, p.xid, p.cookie = Op.REPLY, 1, 6, 0x1234, MAGIC_COOKIE
    p.yiaddr, p.siaddr, p.chaddr = GUEST, GATEWAY, MAC
    p.options[:34] = OFFER[240:274]      # the options, END included
    assert bytes(buf) == OFFER


def test_parse():
    offer = Repr.parse(OFFER)
    assert offer == EXPECTED_OFFER
    assert (offer.message_type, offer.router, offer.dns_servers, offer.lease_time) == (
        MessageType.OFFER, GATEWAY, (DNS_SERVER,), 86400)
    assert (offer.subnet_mask, offer.server_id) == (IPv4Address("255.255.255.0"), GATEWAY)
    discover = Repr.parse(DISCOVER)
    assert discover == EXPECTED_DISCOVER
    assert (discover.hostname, discover.parameter_request_list) == ("dos64", (1, 3, 6, 15, 51))


def test_emit():
    assert EXPECTED_OFFER.to_bytes() == OFFER
    assert EXPECTED_DISCOVER.to_bytes() == DISCOVER


def test_round_trip_request_with_unknown_option():
    r = Repr(Op.REQUEST, 7, MAC, flags=0x8000, options=(
            (OptionCode.MESSAGE_TYPE, MessageType.REQUEST), (OptionCode.REQUESTED_IP, GUEST),
            (224, b"private"), (OptionCode.SERVER_ID, GATEWAY)), sname=b"boot", file=b"x")
    back = Repr.parse(r.to_bytes())
    assert back == r and back.broadcast and back.requested_ip == GUEST
    assert back.option(224) == b"private"


@pytest.mark.parametrize("offset, value, field", [
    (236, 0, "magic cookie"), (2, 16, "hardware type"), (241, 9, "option message_type")])
def test_bad_fields_are_named(offset, value, field):
    raw = bytearray(OFFER)
    raw[offset] = value
    with pytest.raises(ParseError) as err:
        Repr.parse(bytes(raw))
    assert err.value.field == field


def test_missing_end():
    with pytest.raises(ParseError, match="END"):
        Repr.parse(OFFER[:273])


_SCAPY_NAMES = {OptionCode.MESSAGE_TYPE: "message-type", OptionCode.SERVER_ID: "server_id",
                OptionCode.SUBNET_MASK: "subnet_mask", OptionCode.ROUTER: "router",
                OptionCode.DNS_SERVERS: "name_server", OptionCode.LEASE_TIME: "lease_time",
                OptionCode.CLIENT_ID: "client_id", OptionCode.HOSTNAME: "hostname",
                OptionCode.PARAMETER_REQUEST_LIST: "param_req_list"}


def _scapy_value(value):
    if isinstance(value, tuple) and value and isinstance(value[0], IPv4Address):
        return str(value[0]) if len(value) == 1 else [str(v) for v in value]
    if isinstance(value, tuple):
        return list(value)
    return str(value) if isinstance(value, IPv4Address) else value


@pytest.mark.parametrize("r", [EXPECTED_DISCOVER, EXPECTED_OFFER])
def test_scapy_builds_the_same_bytes(r):
    options = [(_SCAPY_NAMES[c], _scapy_value(v)) for c, v in r.options]
    pkt = BOOTP(op=int(r.op), xid=r.xid, yiaddr=str(r.yiaddr), siaddr=str(r.siaddr),
                chaddr=r.chaddr.octets + bytes(10)) / DHCP(options=options + ["end"] + ["pad"] * r.padding)
    assert bytes(pkt) == r.to_bytes()


def test_scapy_reads_our_bytes():
    pkt = BOOTP(EXPECTED_OFFER.to_bytes())
    options = dict(o for o in pkt[DHCP].options if isinstance(o, tuple))
    assert (pkt.op, pkt.xid, pkt.yiaddr) == (2, 0x1234, "10.0.2.15")
    assert (options["message-type"], options["router"], options["name_server"],
            options["lease_time"]) == (2, "10.0.2.2", "10.0.2.3", 86400)


test_fuzz_random_bytes, test_fuzz_mutated_frames = fuzz_tests(
    Repr.parse, [DISCOVER, OFFER],
    random=st.binary(max_size=64).map(lambda tail: OFFER[:240] + tail))
