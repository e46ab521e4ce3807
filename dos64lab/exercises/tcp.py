"""Chapter 07 exercise: is this segment acceptable?  (RFC 9293 §3.10.7.4, the four cases.)

The learner's ``acceptable(seq, length, rcv_nxt, rcv_wnd)`` runs on segments a live
connection really received, with the receive state each met when it arrived: the check
starts a small TCP server on the host's 127.0.0.1, connects to it through the learner's
stack (the guest reaches it at 10.0.2.2:PORT), asks for a few segments of data, and sits
between the stack and the card while they come.  There it holds one data segment back
until the next has passed (so that one arrives *early*, and the held one late, filling
the hole) and hands one over twice (the second copy is an old duplicate).  Then cases
made from a real segment's numbers: the sequence space moved so the window wraps past
2³², a segment straddling the window's left edge, the right edge, a zero window.

The right answer is the RFC's table, computed with ``socket.tcp.Seq`` (modulo 2³²), the
same test the stack's ``Receiver.acceptable`` makes; for the live segments each line
also says what the stack did with it.  Traffic: TCP to 10.0.2.2 only.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass
from ipaddress import IPv4Address

from ..errors import Dos64LabError, ParseError
from ..phy.device import DeviceWrapper
from ..socket.tcp import Seq, TcpSocket
from ..wire import EtherType, IpProtocol, ethernet, ipv4, tcp
from ..wire.tcp import TcpFlags
from .common import report
from .ipv4 import not_done, on_stack

__all__ = ["check_acceptable", "reference_acceptable"]

GATEWAY = IPv4Address("10.0.2.2")
MOD = 1 << 32
ASK = 8000                  # bytes the check asks its server for: six segments at MSS 1460


@dataclass(frozen=True)
class Case:
    label: str
    seq: int                # SEG.SEQ
    length: int             # SEG.LEN (SYN and FIN count one each)
    rcv_nxt: int            # RCV.NXT
    rcv_wnd: int            # RCV.WND: the room the receiver has
    hint: str               # said when the learner's answer is wrong
    taken: bool | None = None    # live: what the stack did with it (None: not live)


def reference_acceptable(seq: int, length: int, rcv_nxt: int, rcv_wnd: int) -> bool:
    """RFC 9293 §3.10.7.4: the four cases, modulo 2³²."""
    seq, nxt = Seq(seq), Seq(rcv_nxt)
    if length == 0:
        return seq == nxt if rcv_wnd == 0 else seq.between(nxt, nxt + rcv_wnd)
    if rcv_wnd == 0:
        return False
    last = seq + length - 1
    return seq.between(nxt, nxt + rcv_wnd) or last.between(nxt, nxt + rcv_wnd)


def check_acceptable(acceptable, net) -> None:
    """``acceptable(seq, length, rcv_nxt, rcv_wnd) -> bool``: may a segment with sequence
    number ``seq`` and ``length`` (SEG.LEN: its data, plus one for SYN, one for FIN) be
    taken by a receiver that expects ``rcv_nxt`` next and has ``rcv_wnd`` bytes of room?
    All four are ints, the sequence numbers 0..2³²-1.

    ``net``: a live ``Stack`` whose allow-list admits 10.0.2.2, on a machine started with
    ``restrict=False`` (or such a ``Machine``: the check brings up a stack of its own).
    """
    name = "check_acceptable"
    try:
        acceptable(1000, 0, 1000, 100)
    except NotImplementedError:
        return not_done(name, "acceptable")
    except Exception:                   # reported case by case below
        pass
    with on_stack(net) as stack:
        live = _live_cases(stack)
    cases = live + _crafted(live)
    results = []
    for case in cases:
        want = reference_acceptable(case.seq, case.length, case.rcv_nxt, case.rcv_wnd)
        try:
            got = acceptable(case.seq, case.length, case.rcv_nxt, case.rcv_wnd)
        except Exception as err:        # the learner's bug, reported as a wrong case
            results.append((case.label, False, f"raised {type(err).__name__}: {err}"))
            continue
        results.append((case.label, *_judge(got, want, case)))
    report(name, results)


# -- the live segments ---------------------------------------------------------------------

class _Meddler(DeviceWrapper):
    """Between the stack and its card for one connection from 10.0.2.2:``port``: holds the
    2nd data segment back until the 3rd has passed, hands the 4th over twice, and notes
    for every segment of the connection the receive state it meets (and what became of it)."""

    HOLD, TWICE = 1, 3          # data segments, counted from 0

    def __init__(self, inner, stack, port: int):
        super().__init__(inner)
        self.stack, self.port = stack, port
        self.data_seen = 0
        self.held: tuple[bytes, float] | None = None
        self.queue: list[tuple[bytes, str]] = []    # frames to hand over next, with a role
        self.seen: list[dict] = []                  # one per segment handed to the stack
        self._last: tuple[dict, TcpSocket, int] | None = None

    def receive(self):
        self._settle()
        if self.queue:
            frame, role = self.queue.pop(0)
            return self._hand_over(frame, role)
        if self.held is not None and time.monotonic() - self.held[1] > 0.05:
            frame, self.held = self.held[0], None      # nothing came after it: let it go
            return self._hand_over(frame, "late")
        frame = self.inner.receive()
        if frame is None:
            return None
        seg = self._segment(frame)
        if seg is None:
            return frame
        role = "segment"
        if seg.payload:
            n, self.data_seen = self.data_seen, self.data_seen + 1
            if n == self.HOLD:
                self.held = (frame, time.monotonic())
                return self.receive()                  # the next one instead
            if n == self.HOLD + 1 and self.held is not None:
                self.queue.append((self.held[0], "late"))
                self.held = None
                role = "early"
            elif n == self.TWICE:
                self.queue.append((frame, "again"))
        return self._hand_over(frame, role)

    def _segment(self, frame: bytes):
        try:
            eth = ethernet.Packet.new_checked(frame)
            if eth.ethertype != EtherType.IPV4:
                return None
            ip = ipv4.Repr.parse(eth.payload)
            if ip.protocol != IpProtocol.TCP or ip.src != GATEWAY:
                return None
            seg = tcp.Repr.parse(ip.payload, ip.src, ip.dst)
        except ParseError:
            return None
        return seg if seg.src_port == self.port else None

    def _socket(self):
        for s in self.stack.sockets:
            if isinstance(s, TcpSocket) and s.remote == (GATEWAY, self.port):
                return s
        return None

    def _hand_over(self, frame: bytes, role: str) -> bytes:
        """Note the receive state the segment meets now: the stack processes it next."""
        seg, sock = self._segment(frame), self._socket()
        if seg is not None and sock is not None and sock.rcv is not None and sock.rcv.nxt is not None:
            note = {"role": role, "seq": seg.seq, "flags": seg.flags, "data": len(seg.payload),
                    "length": len(seg.payload) + bool(seg.flags & TcpFlags.SYN)
                    + bool(seg.flags & TcpFlags.FIN),
                    "rcv_nxt": int(sock.rcv.nxt), "rcv_wnd": sock.rcv.room(),
                    "state": sock.state.value, "taken": None}
            self.seen.append(note)
            self._last = (note, sock, sock.stats["rx_drop_out_of_window"])
        return frame

    def _settle(self) -> None:
        """The stack is done with the last segment handed over: did it take it?"""
        if self._last is not None:
            note, sock, drops = self._last
            note["taken"] = sock.stats["rx_drop_out_of_window"] == drops
            self._last = None


def _serve_once(listener: socket.socket, done: threading.Event) -> None:
    """The check's server on the host: one connection, "SEND n\\n" -> n bytes, then close."""
    try:
        conn, _ = listener.accept()
    except OSError:
        return
    with conn:
        conn.settimeout(10)
        try:
            request = b""
            while not request.endswith(b"\n") and len(request) < 64:
                chunk = conn.recv(64)
                if not chunk:
                    return
                request += chunk
            n = int(request.split()[1]) if request.startswith(b"SEND ") else 0
            conn.sendall(bytes((i * 7) & 0xFF for i in range(n)))
        except (OSError, ValueError, IndexError):
            pass
    done.set()


def _live_cases(stack) -> list[Case]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.bind(("127.0.0.1", 0))                 # the host's loopback only
    listener.listen(1)
    listener.settimeout(10)
    port = listener.getsockname()[1]
    done = threading.Event()
    server = threading.Thread(target=_serve_once, args=(listener, done), daemon=True)
    server.start()
    meddler = None
    try:
        with stack.lock:
            inner = stack.device
            meddler = _Meddler(inner, stack, port)
            stack.device = meddler
        try:
            try:
                conn = stack.connect(GATEWAY, port, timeout=5)
                if conn.socket.error is not None:       # refused: connect() may return anyway
                    raise conn.socket.error
            except Exception as err:
                raise Dos64LabError(
                    f"no TCP connection to {GATEWAY}:{port} (the check's server on the host's "
                    f"127.0.0.1:{port}): {err}.  The machine must be started with "
                    "restrict=False, and the stack's allow-list must admit 10.0.2.2.") from err
            conn.sendall(f"SEND {ASK}\n".encode())
            got = 0
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                chunk = conn.recv(65536, timeout=max(0.1, deadline - time.monotonic()))
                if not chunk:
                    break
                got += len(chunk)
            conn.close()
            stack.wait_for(lambda: conn.socket.state.value in ("CLOSED", "TIME-WAIT"), 3,
                           "the connection to close")
        finally:
            with stack.lock:
                meddler._settle()
                stack.device = inner
    finally:
        try:
            listener.shutdown(socket.SHUT_RDWR)         # wakes the server thread's accept()
        except OSError:
            pass
        listener.close()
        server.join(5)
    if got != ASK:
        raise Dos64LabError(f"the check's connection received {got} of {ASK} bytes")
    return _label(meddler.seen)


def _label(seen: list[dict]) -> list[Case]:
    """One case per kind of segment, the first of each, in the order they arrived."""
    cases, kinds = [], set()
    first_data = True
    for n in seen:
        fin = bool(n["flags"] & TcpFlags.FIN)
        if n["role"] == "early":
            kind = ("early", "a data segment that came early (the one before it was held back): "
                    "past RCV.NXT, inside the window", "SEG.SEQ is ahead of RCV.NXT but inside "
                    "the window: acceptable, kept until the hole is filled")
        elif n["role"] == "late":
            kind = ("late", "the held-back segment, late: it fills the hole at RCV.NXT",
                    "SEG.SEQ = RCV.NXT: in the window")
        elif n["role"] == "again":
            kind = ("again", "the same data segment again (a duplicate): all of it before RCV.NXT",
                    "every byte, SEG.SEQ to SEG.SEQ+SEG.LEN-1, is before RCV.NXT: nothing new, "
                    "not acceptable (the stack just ACKs)")
        elif fin:
            kind = ("fin", f"slirp's FIN ({n['data']} bytes of data, SEG.LEN {n['length']}, in "
                    f"{n['state']})", "a FIN takes one sequence number: SEG.LEN counts it")
        elif n["data"] and first_data:
            first_data = False
            kind = ("first", "slirp's first data segment (in order: SEG.SEQ = RCV.NXT)",
                    "SEG.SEQ = RCV.NXT: the first byte the window expects")
        elif not n["data"] and n["state"] in ("LAST-ACK", "CLOSING", "FIN-WAIT-1", "TIME-WAIT"):
            kind = ("lastack", f"slirp's ACK of our FIN (empty, in {n['state']})",
                    "SEG.LEN 0 and RCV.WND > 0: only SEG.SEQ must be in the window")
        elif not n["data"]:
            kind = ("ack", "slirp's ACK of our request (empty: SEG.LEN 0, the window open)",
                    "SEG.LEN 0 and RCV.WND > 0: only SEG.SEQ must be in the window")
        else:
            continue
        key, label, hint = kind
        if key in kinds:
            continue
        kinds.add(key)
        cases.append(Case(label, n["seq"], n["length"], n["rcv_nxt"], n["rcv_wnd"], hint,
                          n["taken"]))
    if not any(c.label.startswith("slirp's first data") for c in cases):
        raise Dos64LabError("the check's connection carried no data segment to test with")
    return cases


# -- cases made from a real segment's numbers ------------------------------------------------

WRAP = "compare modulo 2³²: (seq - rcv_nxt) % 2**32 < rcv_wnd asks \"is seq in the window?\""


def _crafted(live: list[Case]) -> list[Case]:
    d = next(c for c in live if c.label.startswith("slirp's first data"))
    L, W, nxt = d.length, d.rcv_wnd, d.rcv_nxt
    top = MOD - 1000
    return [
        Case(f"that segment with the window wrapping past 2³²: SEG.SEQ {(top + 2 * L) % MOD} is "
             f"{2 * L} bytes past RCV.NXT {top}", (top + 2 * L) % MOD, L, top, W, WRAP),
        Case(f"an old segment from before the wrap: it ends before RCV.NXT 300",
             (300 - L - 700) % MOD, L, 300, W, WRAP + "; all its bytes are before RCV.NXT"),
        Case(f"just past the right edge, which wrapped: SEG.SEQ = RCV.NXT + RCV.WND = "
             f"{(MOD - 100 + W) % MOD}", (MOD - 100 + W) % MOD, L, MOD - 100, W,
             WRAP + "; the right edge RCV.NXT+RCV.WND is itself outside"),
        Case(f"that segment starting {L // 2} bytes before RCV.NXT (half old, half new)",
             (nxt - L // 2) % MOD, L, nxt, W, "its last byte, SEG.SEQ+SEG.LEN-1, is in the "
             "window: case 4 accepts a segment if its first *or* its last byte is"),
        Case("that segment starting at the right edge (SEG.SEQ = RCV.NXT + RCV.WND)",
             (nxt + W) % MOD, L, nxt, W, "the window is RCV.NXT =< x < RCV.NXT+RCV.WND: the "
             "right edge itself is outside, and so is every byte after it"),
        Case("that segment starting at the window's last byte (the rest will be trimmed)",
             (nxt + W - 1) % MOD, L, nxt, W, "its first byte is inside the window: acceptable "
             "(what lies beyond is trimmed later)"),
        Case("zero window: an empty segment at exactly RCV.NXT (an ACK still gets through)",
             nxt, 0, nxt, 0, "with RCV.WND 0 an empty segment is acceptable if SEG.SEQ = RCV.NXT"),
        Case("zero window: that segment's data at RCV.NXT", nxt, L, nxt, 0,
             "with RCV.WND 0 no segment carrying data is acceptable, even at RCV.NXT"),
    ]


def _judge(got, want: bool, case: Case) -> tuple[bool, str]:
    numbers = (f"SEG.SEQ {case.seq}, SEG.LEN {case.length}, RCV.NXT {case.rcv_nxt}, "
               f"RCV.WND {case.rcv_wnd}")
    if not isinstance(got, bool) and not (isinstance(got, int) and got in (0, 1)):
        return False, f"returned {got!r}, want True or False ({numbers})"
    verdict = "acceptable" if want else "not acceptable"
    if case.taken is not None:
        verdict += " -- the stack " + ("took it" if case.taken else "dropped it and ACKed")
    if bool(got) == want:
        return True, f"{verdict} ({numbers})"
    return False, f"got {bool(got)}, want {want}: {case.hint} ({numbers})"
