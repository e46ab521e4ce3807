"""Chapter 05 exercise: the IPv4 header checksum (RFC 791 §3.1, computed as RFC 1071 says).

The learner's ``ipv4_checksum(header)`` runs on IPv4 headers the live device
really carried -- our echo request to 10.0.2.2 and slirp's reply, the first
fragment of a 3000-byte ping and the last fragment of its reply -- and on headers
made from them: the reply one hop later (TTL - 1), with a 4-byte option (IHL 6),
with fields of 0xff so the sum carries many times.  The right answer comes from
our wire layer (``ipv4.Packet.fill_checksum``), which the frame's own checksum
already agrees with.  Traffic stays with slirp: pings to 10.0.2.2 only.

Shared with the other stack chapters' checks: ``recording(stack)`` (the frames a
live stack sends and receives meanwhile) and ``not_done(...)`` (the kind line for
an exercise not yet written: on stderr, which nbgrader scores as 0 points, and no
traceback, so the notebook runs on).
"""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager
from ipaddress import IPv4Address, IPv4Network

from ..errors import Dos64LabError, ParseError
from ..phy.device import DeviceWrapper
from ..wire import EtherType, IpProtocol, ethernet, ipv4
from ..wire.checksum import internet_checksum
from .common import report

__all__ = ["check_ipv4_checksum", "recording", "not_done", "on_stack"]

GATEWAY = "10.0.2.2"            # slirp answers ICMP echo here; nothing else is pinged


def check_ipv4_checksum(ipv4_checksum, net) -> None:
    """``ipv4_checksum(header: bytes) -> int``: the checksum this header must carry.

    ``header`` is a whole IPv4 header (20 bytes, or more with options) as it is on
    the wire, its checksum field (bytes 10-11) holding whatever it holds: count
    that field as zero.  ``net``: a configured live ``Stack`` (or a ``Machine``: the
    check then brings up a stack of its own and closes it after).
    """
    name = "check_ipv4_checksum"
    probe = ipv4.Repr(IPv4Address("10.0.2.15"), IPv4Address(GATEWAY), IpProtocol.ICMP).to_bytes()
    try:
        ipv4_checksum(probe)
    except NotImplementedError:
        return not_done(name, "ipv4_checksum")
    except Exception:                   # reported case by case below
        pass
    with on_stack(net) as stack:
        cases = _live_cases(stack)
    results = []
    for case, header in cases:
        want = _reference(header)
        try:
            got = ipv4_checksum(bytes(header))
        except Exception as err:        # the learner's bug, reported as a wrong case
            results.append((case, False, f"raised {type(err).__name__}: {err}"))
            continue
        results.append((case, *_judge(got, want, header)))
    report(name, results)


# -- the cases -------------------------------------------------------------------------

def _live_cases(stack) -> list[tuple[str, bytes]]:
    """IPv4 headers from a ping and a fragmented ping to 10.0.2.2, and headers made from them."""
    with recording(stack) as frames:
        replies = list(stack.ping(GATEWAY, count=1, timeout=2))
        replies += list(stack.ping(GATEWAY, count=1, size=3000, timeout=2))
    if not any(type(r).__name__ == "EchoReply" for r in replies):
        raise Dos64LabError(f"slirp did not answer the pings to {GATEWAY}: {replies}")
    sent = [h for _, out, f in frames if out and (h := _header(f))]
    got = [h for _, out, f in frames if not out and (h := _header(f))]
    whole_out = [h for h in sent if not _fragment(h)]
    whole_in = [h for h in got if not _fragment(h)]
    cases = []
    if whole_out:
        cases.append((f"our echo request to {GATEWAY}", whole_out[0]))
    if whole_in:
        cases.append((f"slirp's echo reply from {GATEWAY}", whole_in[0]))
    first = [h for h in sent if _fragment(h) == (True, 0)]
    last = [h for h in got if _fragment(h) and not _fragment(h)[0]]
    if first:
        cases.append(("the first fragment of our 3000-byte ping (MF set)", first[0]))
    if last:
        off = _fragment(last[0])[1]
        cases.append((f"the last fragment of slirp's 3000-byte reply (offset {off})", last[0]))
    base = (whole_in or got or sent)[0]
    p = ipv4.Packet(bytearray(base))
    p.ttl = max(p.ttl - 1, 0)
    cases.append((f"slirp's reply one hop later (TTL {p.ttl})", bytes(p.buffer)))
    cases.append(("slirp's reply with a 4-byte option (IHL 6, a 24-byte header)",
                  _with_option(base)))
    p = ipv4.Packet(bytearray(base))
    p.dscp_ecn, p.ident, p.flags_frag, p.ttl = 0xFF, 0xFFFF, 0x4000, 0xFF
    p.src = p.dst = IPv4Address("255.255.255.255")
    cases.append(("a header full of 0xff bytes (the sum carries again and again)",
                  bytes(p.buffer)))
    return cases


def _header(frame: bytes) -> bytes | None:
    """The IPv4 header of an Ethernet frame, as it was on the wire (checksum included)."""
    try:
        eth = ethernet.Packet.new_checked(frame)
        if eth.ethertype != EtherType.IPV4:
            return None
        p = ipv4.Packet.new_checked(eth.payload)
        if not p.verify_checksum():
            return None
        return bytes(p.buffer[:p.header_len])
    except ParseError:
        return None


def _fragment(header: bytes):
    """(more fragments, offset) for a fragment, else None."""
    p = ipv4.Packet(header)
    return (p.more_fragments, p.frag_offset) if p.more_fragments or p.frag_offset else None


def _with_option(header: bytes) -> bytes:
    """``header`` with NOP, NOP, NOP, End of Option List added (IHL 6)."""
    p = ipv4.Packet(bytearray(header[:ipv4.HEADER_LEN] + b"\x01\x01\x01\x00"))
    p.set_version_header_len(4, ipv4.HEADER_LEN + 4)
    p.total_len += 4
    p.fill_checksum()
    return bytes(p.buffer)


def _reference(header: bytes) -> int:
    """The right answer, by the wire layer: the checksum field recomputed."""
    p = ipv4.Packet(bytearray(header))
    p.fill_checksum()
    return p.checksum


def _judge(got, want: int, header: bytes) -> tuple[bool, str]:
    if isinstance(got, (bytes, bytearray)) and len(got) == 2:
        got = int.from_bytes(got, "big")
    if not isinstance(got, int) or isinstance(got, bool):
        return False, f"returned {got!r}, want the int {want:#06x}"
    if got == want:
        return True, f"{got:#06x}"
    hint = ""
    stored = int.from_bytes(header[10:12], "big")
    if stored != want and got == internet_checksum(header):     # summed with the old field
        hint = " (bytes 10-11 hold the old checksum: count them as zero)"
    elif got == 0 and stored:
        hint = " (0 is what a header with a right checksum sums to: count bytes 10-11 as zero)"
    elif got == (~want & 0xFFFF):
        hint = " (that is the sum itself: the checksum is its one's complement)"
    elif got == int.from_bytes(want.to_bytes(2, "big"), "little"):
        hint = " (bytes swapped: the words are big-endian)"
    elif not 0 <= got <= 0xFFFF:
        hint = " (more than 16 bits: fold the carries back in)"
    return False, f"got {got:#x}, want {want:#06x}{hint}"


# -- shared by the stack chapters' checks ---------------------------------------------------

def not_done(check: str, function: str) -> None:
    """Say kindly, in one line, that the exercise is not written yet; raise nothing.

    On stderr: nbgrader gives a graded cell that wrote to stderr 0 points, and the
    notebook still runs on to the next cell.
    """
    print(f"{check}: not done yet -- write {function}() above (replace the "
          f"`raise NotImplementedError`), then run this cell again.", file=sys.stderr)


class _Recorder(DeviceWrapper):
    """Keeps ``(time, sent, frame)`` for every frame passing the device."""

    def __init__(self, inner):
        super().__init__(inner)
        self.frames: list[tuple[float, bool, bytes]] = []

    def send(self, frame: bytes) -> None:
        self.frames.append((time.time(), True, bytes(frame)))
        self.inner.send(frame)

    def receive(self) -> bytes | None:
        frame = self.inner.receive()
        if frame is not None:
            self.frames.append((time.time(), False, bytes(frame)))
        return frame


@contextmanager
def recording(stack):
    """``with recording(stack) as frames:`` -- every frame the live stack sends or
    receives inside the block, as ``(time, sent, frame)``.  The stack's device is
    wrapped under its lock and unwrapped after, whatever happens."""
    with stack.lock:
        inner = stack.device
        recorder = _Recorder(inner)
        stack.device = recorder
    try:
        yield recorder.frames
    finally:
        with stack.lock:
            stack.device = inner


@contextmanager
def on_stack(net):
    """The live stack to check on: ``net`` itself, or one of our own on a ``Machine``
    (10.0.2.15, its allow-list admitting 10.0.2.2 alone)."""
    from ..stack import Stack
    if isinstance(net, Stack):
        if net.iface.address is None:
            raise Dos64LabError("the stack has no address yet: run net.configure() first")
        yield net
        return
    from ..iface import InterfaceConfig
    only_slirp = InterfaceConfig(allow=(IPv4Network(GATEWAY + "/32"),))   # nothing else leaves
    with Stack.on(net, only_slirp) as own:
        own.configure()
        yield own
