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
from .common import not_done, report

GUEST_IP = IPv4Address("10.0.2.15")
BROADCAST_MAC = EthernetAddress(b"\xff" * 6)
SLIRP_ADDRESSES = (IPv4Address("10.0.2.2"), IPv4Address("10.0.2.3"))   # slirp answers ARP for these


def check_arp_reply_parser(parse_arp_reply, machine, dev=None, more_cases: bool = False) -> None:
    """``parse_arp_reply(frame: bytes) -> (sender_ip, sender_mac)``, or None when
    ``frame`` is not an ARP reply (any other frame, or too short to be one).

    ``dev``: a Device already open on ``machine`` (``VirtioNetDevice``, maybe
    wrapped); without one the check brings the card up itself and closes it after.
    Addresses may come back as ``IPv4Address``/``EthernetAddress``, ``str`` or ``bytes``.
    ``more_cases``: four more frames made from the live ones (the graded notebook's hidden
    tests): a reply one byte short of its body, a reply without padding, a gratuitous
    reply, an IPv4 frame whose bytes 20-21 read ``00 02`` like an ARP reply's operation.
    """
    __tracebackhide__ = True
    try:
        parse_arp_reply(bytes(60))
    except NotImplementedError:
        return not_done("check_arp_reply_parser", "parse_arp_reply")
    except Exception:                        # judged case by case below
        pass
    if dev is not None:
        frames = _live_frames(dev)
    else:
        from ..phy.virtio import VirtioNetDevice
        with VirtioNetDevice(machine) as own:
            frames = _live_frames(own)
    if more_cases:
        frames = frames + _more_frames(frames)
    results = []
    for case, frame in frames:
        want = _reference(frame)
        try:
            got = parse_arp_reply(frame)
        except NotImplementedError:
            return not_done("check_arp_reply_parser", "parse_arp_reply")
        except Exception as err:             # the learner's bug, reported as a wrong case
            results.append((case, False, f"raised {type(err).__name__}: {err}"))
            continue
        ok = _normal(got) == _normal(want)
        results.append((case, ok, _show(got) if ok else f"got {_show(got)}, want {_show(want)}"))
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


def _more_frames(frames) -> list[tuple[str, bytes]]:
    """Frames made from the live ones, for the hidden cases."""
    first, second, echo = frames[0][1], frames[1][1], frames[2][1]
    reply = arp.Repr.parse(ethernet.Repr.parse(first).payload)
    gratuitous = arp.Repr(arp.Operation.REPLY, reply.sender_mac, reply.sender_ip,
                          BROADCAST_MAC, reply.sender_ip)
    tricky = bytearray(echo)
    tricky[20:22] = b"\x00\x02"             # IPv4 flags/fragment offset where ARP has its op
    return [
        ("the 10.0.2.2 reply cut to 41 bytes (one short of the ARP body)", first[:41]),
        ("the 10.0.2.3 reply without its padding (42 bytes)", second[:42]),
        ("a gratuitous ARP reply from 10.0.2.2 (to broadcast)",
         ethernet.Repr(reply.sender_mac, BROADCAST_MAC, EtherType.ARP,
                       gratuitous.to_bytes()).to_bytes()),
        ("an IPv4 frame with 00 02 at bytes 20-21", bytes(tricky)),
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
