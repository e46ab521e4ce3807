"""Chapter 04 exercise: pick the answer out of an ARP reply.

The learner's ``parse_arp_reply(frame)`` runs on frames the live device really
received -- slirp's ARP replies for its own addresses 10.0.2.2 (gateway) and
10.0.2.3 (DNS), and its ICMP echo reply -- and on frames that are not ARP
replies: our own who-has request, a reply cut short, a runt.  The right answers
come from our wire layer (``wire.ethernet``, ``wire.arp``; RFC 826).
Traffic stays inside slirp: ARP to 10.0.2.2 and 10.0.2.3, one ping to 10.0.2.2.
"""

import time
from ipaddress import IPv4Address

from ..errors import Dos64LabError, ParseError
from ..wire import EtherType, EthernetAddress, arp, ethernet
from ..wire.build import arp_who_has, icmp_echo_request
from .common import report

GUEST_IP = IPv4Address("10.0.2.15")
SLIRP_ADDRESSES = (IPv4Address("10.0.2.2"), IPv4Address("10.0.2.3"))   # slirp answers ARP for these


def check_arp_reply_parser(parse_arp_reply, machine, dev=None) -> None:
    """``parse_arp_reply(frame: bytes) -> (sender_ip, sender_mac)``, or None when
    ``frame`` is not an ARP reply (any other frame, or too short to be one).

    ``dev``: a Device already open on ``machine`` (``VirtioNetDevice``, maybe
    wrapped); without one the check brings the card up itself and closes it after.
    Addresses may come back as ``IPv4Address``/``EthernetAddress``, ``str`` or ``bytes``.
    """
    if dev is not None:
        frames = _live_frames(dev)
    else:
        from ..phy.virtio import VirtioNetDevice
        with VirtioNetDevice(machine) as own:
            frames = _live_frames(own)
    results = []
    for case, frame in frames:
        want = _reference(frame)
        try:
            got = parse_arp_reply(frame)
        except Exception as err:             # the learner's bug, reported as a wrong case
            results.append((case, False, f"raised {type(err).__name__}: {err}"))
            continue
        ok = _normal(got) == _normal(want)
        results.append((case, ok, f"got {_show(got)}" + ("" if ok else f", want {_show(want)}")))
    report("check_arp_reply_parser", results)


def _live_frames(dev) -> list[tuple[str, bytes]]:
    """Frames to judge: what slirp sent back, then frames built from them."""
    while dev.receive() is not None:          # start from an empty RX ring
        pass
    replies = {}
    for target in SLIRP_ADDRESSES:
        dev.send(arp_who_has(dev.mac, target))
        frame = _wait(dev, lambda f, t=target: _arp_sender(f) == t)
        replies[target] = frame
    gateway = arp.Repr.parse(ethernet.Repr.parse(replies[SLIRP_ADDRESSES[0]]).payload).sender_mac
    dev.send(icmp_echo_request(dev.mac, gateway, 1, b"chapter 04", ident=0x0404))
    echo = _wait(dev, lambda f: ethernet.Packet.new_checked(f).ethertype == EtherType.IPV4)
    first = replies[SLIRP_ADDRESSES[0]]
    return [(f"live ARP reply from {t} ({len(f)} bytes)", f) for t, f in replies.items()] + [
        (f"live ICMP echo reply from 10.0.2.2 (IPv4, {len(echo)} bytes)", echo),
        ("our own ARP request who-has 10.0.2.2", arp_who_has(dev.mac, SLIRP_ADDRESSES[0])),
        ("the 10.0.2.2 reply cut to 30 bytes", first[:30]),
        ("a 10-byte runt (no whole Ethernet header)", first[:10]),
    ]


def _wait(dev, wanted, timeout: float = 2.0) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = dev.receive()
        if frame is None:
            time.sleep(0.001)
        elif wanted(frame):
            return frame
    raise Dos64LabError(f"slirp did not answer within {timeout} s")


def _arp_sender(frame: bytes):
    want = _reference(frame)
    return want[0] if want else None


def _reference(frame: bytes):
    """The right answer, by our wire layer: (IPv4Address, EthernetAddress) or None."""
    try:
        eth = ethernet.Repr.parse(frame)
        if eth.ethertype != EtherType.ARP:
            return None
        reply = arp.Repr.parse(eth.payload)
    except ParseError:
        return None
    if reply.operation != arp.Operation.REPLY:
        return None
    return reply.sender_ip, reply.sender_mac


def _normal(answer):
    """("10.0.2.2", "52:55:0a:00:02:02") from any usual spelling of the pair, or the input."""
    if answer is None:
        return None
    try:
        ip, mac = answer
        ip = IPv4Address(ip if not isinstance(ip, (bytes, bytearray)) else bytes(ip))
        if isinstance(mac, str):
            mac = EthernetAddress.parse(mac)
        elif not isinstance(mac, EthernetAddress):
            mac = EthernetAddress(bytes(mac))
        return str(ip), str(mac)
    except (TypeError, ValueError):
        return ("unreadable", repr(answer))


def _show(answer) -> str:
    n = _normal(answer)
    if n is None:
        return "None"
    return f"({n[0]}, {n[1]})" if n[0] != "unreadable" else n[1]
