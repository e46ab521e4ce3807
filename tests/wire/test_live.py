"""The wire layer against what QEMU's slirp really sends (real QEMU, a real virtio-net card).

One session through the Python driver, recorded by ``PcapTap`` and, at the same
time, by QEMU itself (``Machine(pcap=...)``, QEMU's filter-dump): ARP who-has
10.0.2.2, an ICMP echo request to 10.0.2.2, a DHCP DISCOVER.  All three are slirp's
own services; slirp answers every one under the default ``restrict=on``, but its
restricted DHCP server leaves the router and DNS options out of the OFFER, so
those are checked on a second machine with ``restrict=False`` (DHCP only).
"""

import time
from ipaddress import IPv4Address
from types import SimpleNamespace

import pytest

from dos64lab.exercises import ExerciseFailed, check_arp_reply_parser
from dos64lab.exercises.arp import _reference
from dos64lab.wire.build import arp_who_has, icmp_echo_request
from dos64lab.machine import Machine
from dos64lab.phy import PcapTap, PcapWriter, read_pcap
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.widgets import frame_fields
from dos64lab.wire import BROADCAST, EtherType, EthernetAddress, IpProtocol, arp, pretty
from dos64lab.wire import dhcp, ethernet, icmp, ipv4, udp
from phy.test_pcap import _problems, _tshark
from .layers import decode, encode

GUEST, GATEWAY, DNS = IPv4Address("10.0.2.15"), IPv4Address("10.0.2.2"), IPv4Address("10.0.2.3")
GATEWAY_MAC = EthernetAddress.parse("52:55:0a:00:02:02")
PING_ID, PING_DATA, XID = 0x0404, b"dos64lab live test", 0x04C0FFEE


def echo_request(mac) -> bytes:
    return icmp_echo_request(mac, GATEWAY_MAC, 1, PING_DATA, ident=PING_ID)


def dhcp_discover(mac) -> bytes:
    zero, everyone = IPv4Address(0), IPv4Address("255.255.255.255")
    message = dhcp.Repr.build(dhcp.Op.REQUEST, XID, mac, message_type=dhcp.MessageType.DISCOVER,
                              parameter_request_list=(1, 3, 6))
    datagram = udp.Repr(dhcp.CLIENT_PORT, dhcp.SERVER_PORT, message.to_bytes())
    packet = ipv4.Repr(zero, everyone, IpProtocol.UDP, datagram.to_bytes(zero, everyone), ident=2)
    return ethernet.Repr(mac, BROADCAST, EtherType.IPV4, packet.to_bytes()).to_bytes()


def exchange(dev, frame, timeout=2.0) -> list[bytes]:
    """Send ``frame``, return what came back: every frame until the first, plus 50 ms."""
    dev.send(frame)
    got, deadline, quiet = [], time.monotonic() + timeout, None
    while time.monotonic() < (quiet or deadline):
        f = dev.receive()
        if f is None:
            time.sleep(0.001)
            continue
        got.append(f)
        quiet = quiet or time.monotonic() + 0.05
    return got


def run_session(dev, requests) -> dict:
    return {kind: exchange(dev, build(dev.mac)) for kind, build in requests}


SESSION = [("arp", lambda mac: arp_who_has(mac, GATEWAY)), ("icmp", echo_request),
           ("dhcp", dhcp_discover)]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    d = tmp_path_factory.mktemp("live")
    ours, qemus = d / "ours.pcap", d / "qemu.pcap"
    with Machine(pcap=str(qemus)) as m, VirtioNetDevice(m) as dev, PcapWriter(ours) as w:
        replies = run_session(PcapTap(dev, w, clock=time.time), SESSION)
        dev.flush()
        mac = dev.mac
    return SimpleNamespace(ours=ours, qemus=qemus, replies=replies, mac=mac)


def only(frames: list[bytes]) -> bytes:
    assert len(frames) == 1, [pretty(f) for f in frames]
    return frames[0]


# -- the recording ----------------------------------------------------------------------------

def test_the_session_is_three_questions_and_three_answers(session):
    frames = [f for _, f in read_pcap(session.ours)]
    assert [pretty(f) for f in frames[0::2]] == [
        f"{session.mac} > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15",
        f"10.0.2.15 > 10.0.2.2 ICMP echo request id={PING_ID} seq=1 len={len(PING_DATA)}",
        f"0.0.0.0.68 > 255.255.255.255.67 UDP DHCP DISCOVER xid={XID:#x}"]
    assert frames[1::2] == [only(session.replies[k]) for k in ("arp", "icmp", "dhcp")]


def test_tshark_reads_it_clean(session):
    lines = _tshark(session.ours)
    assert len(lines) == 6
    assert _problems(lines) == []


def test_qemu_recorded_the_same_frames(session):
    """QEMU's filter-dump sits on the netdev, beyond the virtio device: same bytes, same order."""
    # Timestamps are not compared: filter-dump stamps QEMU's virtual clock plus the whole
    # second the dump started at, so its times trail the wall clock by up to a second or more.
    ours, qemus = read_pcap(session.ours), read_pcap(session.qemus)
    assert [f for _, f in qemus] == [f for _, f in ours]


# -- every answer, layer by layer -------------------------------------------------------------

@pytest.mark.parametrize("kind", ["arp", "icmp", "dhcp"])
def test_reply_parses_and_emits_byte_for_byte(session, kind):
    frame = only(session.replies[kind])
    assert encode(decode(frame)) == frame


def test_pretty_lines(session):
    lines = {k: pretty(only(v)) for k, v in session.replies.items()}
    assert lines == {
        "arp": f"52:55:0a:00:02:02 > {session.mac} ARP 10.0.2.2 is-at 52:55:0a:00:02:02",
        "icmp": f"10.0.2.2 > 10.0.2.15 ICMP echo reply id={PING_ID} seq=1 len={len(PING_DATA)}",
        "dhcp": f"10.0.2.2.67 > 255.255.255.255.68 UDP DHCP OFFER xid={XID:#x} yiaddr=10.0.2.15",
    }


def test_arp_reply_is_the_gateway(session):
    eth, reply = decode(only(session.replies["arp"]))
    assert (eth.src, eth.dst, eth.ethertype) == (GATEWAY_MAC, session.mac, EtherType.ARP)
    assert reply == arp.Repr(arp.Operation.REPLY, GATEWAY_MAC, GATEWAY, session.mac, GUEST)
    assert len(eth.payload) > arp.HEADER_LEN       # slirp pads the frame: 64 bytes


def test_echo_reply_mirrors_the_request(session):
    eth, ip, reply = decode(only(session.replies["icmp"]))
    assert (eth.src, eth.dst) == (GATEWAY_MAC, session.mac)
    assert (ip.src, ip.dst, ip.protocol) == (GATEWAY, GUEST, IpProtocol.ICMP)
    assert reply == icmp.Repr.echo_reply(PING_ID, 1, PING_DATA)


def test_restricted_offer_gives_an_address_but_no_router_or_dns(session):
    *_, offer = decode(only(session.replies["dhcp"]))
    assert (offer.op, offer.xid, offer.chaddr) == (dhcp.Op.REPLY, XID, session.mac)
    assert offer.message_type == dhcp.MessageType.OFFER
    assert (offer.yiaddr, offer.server_id, offer.subnet_mask) == (
        GUEST, GATEWAY, IPv4Address("255.255.255.0"))
    assert (offer.router, offer.dns_servers) == (None, ())     # libslirp bootp.c: restricted


def test_unrestricted_offer_names_router_and_dns():
    """DHCP only: slirp's own server on 10.0.2.2; nothing leaves the machine."""
    with Machine(restrict=False) as m, VirtioNetDevice(m) as dev:
        replies = run_session(dev, [("dhcp", dhcp_discover)])
    *_, offer = decode(only(replies["dhcp"]))
    assert offer.message_type == dhcp.MessageType.OFFER and offer.yiaddr == GUEST
    assert (offer.router, offer.dns_servers) == (GATEWAY, (DNS,))


def test_field_view_agrees_with_scapy_on_the_live_reply(session):
    frame = only(session.replies["arp"])
    rows = frame_fields(frame)
    assert [r.field for r in rows][-3:] == ["target_mac", "target_ip", "padding"]
    assert b"".join(r.raw for r in rows) == frame
    assert all(r.agree for r in rows), [r for r in rows if not r.agree]


# -- the chapter 04 exercise --------------------------------------------------------------------

reference = _reference       # the exercise's own right answer


def ignores_operation(frame):
    if frame[12:14] != b"\x08\x06" or len(frame) < 42:
        return None
    return frame[28:32], frame[22:28]                 # a who-has request passes as a reply


def crashes_when_short(frame):
    if frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x02":
        return None
    return IPv4Address(frame[28:32]), frame[22:28]    # a cut frame: 2 bytes, IPv4Address raises


def test_exercise_passes_the_reference(machine, capsys):
    check_arp_reply_parser(reference, machine)
    out = capsys.readouterr().out
    assert "all 6 cases right" in out
    assert "from 10.0.2.3" in out and "(10.0.2.3, 52:55:0a:00:02:03)" in out


@pytest.mark.parametrize("wrong, case", [
    (ignores_operation, "our own ARP request"),
    (crashes_when_short, "cut to 30 bytes: raised AddressValueError"),
])
def test_exercise_fails_a_wrong_parser(machine, wrong, case):
    with VirtioNetDevice(machine) as dev:
        with pytest.raises(ExerciseFailed, match="1 of 6 cases wrong") as failed:
            check_arp_reply_parser(wrong, machine, dev)
    assert case in str(failed.value)
