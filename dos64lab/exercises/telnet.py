"""Chapter 10 exercise: the IAC state machine of a telnet client (RFC 854, RFC 855).

The learner writes ``IacParser`` with one method, ``feed(data) -> (text, commands)``: the
bytes of the stream that are data (``IAC IAC`` is one 0xFF data byte) and the commands
found, in order -- ``("WILL", opt)``, ``("WONT", opt)``, ``("DO", opt)``, ``("DONT", opt)``,
``("SB", opt, payload)`` for ``IAC SB opt ... IAC SE`` (``IAC IAC`` inside is one 0xFF), and
``(name,)`` for the two-byte ones (``"NOP"``, ``"AYT"``, ...).  A command may be cut
anywhere between two ``feed`` calls: the parser keeps its state.

The check is live: it connects to the guest's telnet server (``serve_telnet``) from the
host through slirp's hostfwd, feeds everything the server sends -- one byte at a time, so
every cut happens -- to the learner's parser and to the reference, types ``VER`` and
compares both.  Then streams made by hand: ``IAC IAC``, a NAWS subnegotiation with an
escaped 0xFF, a command at the very end of a chunk.  Traffic: host 127.0.0.1 → guest 23.
"""

from __future__ import annotations

import socket
import time

from .common import not_done, report, unwritten

__all__ = ["check_iac_parser", "ReferenceIacParser", "NAMES"]

IAC, SB, SE = 255, 250, 240
NAMES = {240: "SE", 241: "NOP", 242: "DM", 243: "BRK", 244: "IP", 245: "AO", 246: "AYT",
         247: "EC", 248: "EL", 249: "GA", 250: "SB", 251: "WILL", 252: "WONT", 253: "DO",
         254: "DONT"}
VERBS = (251, 252, 253, 254)


class ReferenceIacParser:
    """The right answer, as a state machine over single bytes."""

    def __init__(self):
        self.state, self.verb, self.opt, self.sb = "data", 0, 0, bytearray()

    def feed(self, data: bytes):
        text, commands = bytearray(), []
        for b in data:
            if self.state == "data":
                if b == IAC:
                    self.state = "iac"
                else:
                    text.append(b)
            elif self.state == "iac":
                self.state = "data"
                if b == IAC:
                    text.append(IAC)
                elif b in VERBS:
                    self.state, self.verb = "opt", b
                elif b == SB:
                    self.state = "sb_opt"
                else:
                    commands.append((NAMES.get(b, str(b)),))
            elif self.state == "opt":
                commands.append((NAMES[self.verb], b))
                self.state = "data"
            elif self.state == "sb_opt":
                self.opt, self.sb, self.state = b, bytearray(), "sb"
            elif self.state == "sb":
                if b == IAC:
                    self.state = "sb_iac"
                else:
                    self.sb.append(b)
            elif self.state == "sb_iac":
                if b == SE:
                    commands.append(("SB", self.opt, bytes(self.sb)))
                    self.state = "data"
                else:                           # IAC IAC inside: one 0xFF
                    self.sb.append(b)
                    self.state = "sb"
        return bytes(text), commands


def _run(parser_class, chunks):
    try:
        p = parser_class()
        text, commands = b"", []
        for chunk in chunks:
            t, c = p.feed(chunk)
            text += bytes(t)
            commands += [tuple(x) for x in c]
        return "ok", (text, commands)
    except Exception as err:
        return type(err).__name__, str(err)


HAND_MADE = [
    ("IAC IAC is one 0xFF data byte", [b"a\xff\xffb"]),
    ("a verb cut between two feeds", [b"x\xff", b"\xfb", b"\x01y"]),
    ("NAWS 80x24 in a subnegotiation", [b"\xff\xfa\x1f\x00\x50\x00\x18\xff\xf0ok"]),
    ("an escaped 0xFF inside SB", [b"\xff\xfa\x1f\x00\xff\xff\x00\x18\xff", b"\xf0"]),
    ("two-byte commands (NOP, AYT)", [b"\xff\xf1", b"\xff\xf6z"]),
]


def check_iac_parser(parser_class, host_port: int, typed: bytes = b"VER\r\n"):
    """Feed ``parser_class()`` what the telnet server on host port ``host_port`` says,
    one byte at a time, and the hand-made streams; compare with the reference."""
    __tracebackhide__ = True
    if unwritten(lambda: parser_class().feed(b"x")):
        return not_done("check_iac_parser", "IacParser.feed")
    stream = _converse(host_port, typed)
    results = []
    one_by_one = [stream[i:i + 1] for i in range(len(stream))]
    want, got = _run(ReferenceIacParser, one_by_one), _run(parser_class, one_by_one)
    ok = got == want
    if ok:
        text, commands = got[1]
        detail = (f"{len(stream)} bytes fed one at a time: {commands} and "
                  f"{len(text)} bytes of text" + (", with 'DOS64 Version'"
                                                  if b"DOS64 Version" in text else ""))
    else:
        detail = f"expected {want[1]!r}, got {got[1]!r}"
    results.append(("the live server's greeting and VER", ok, detail))
    for what, chunks in HAND_MADE:
        want, got = _run(ReferenceIacParser, chunks), _run(parser_class, chunks)
        results.append((what, got == want, f"{got[1]!r}" if got == want
                        else f"expected {want[1]!r}, got {got[1]!r}"))
    report("check_iac_parser", results)


def _converse(port: int, typed: bytes, seconds: float = 3.0) -> bytes:
    """Connect, wait for the prompt, type ``typed``, collect everything for a moment; while
    a previous session still owns the console (told "in use"), try again."""
    for _ in range(20):
        seen = _converse_once(port, typed, seconds)
        if b"in use by" not in seen:
            return seen
        time.sleep(0.5)
    return seen


def _converse_once(port: int, typed: bytes, seconds: float) -> bytes:
    seen = b""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.settimeout(0.2)
        deadline, sent = time.monotonic() + 10, False
        while time.monotonic() < deadline:
            if not sent and b"C:\\>" in seen:
                s.sendall(typed)
                sent, deadline = True, time.monotonic() + seconds
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                if sent and b"C:\\>" in seen.split(b"VER")[-1]:
                    break
                continue
            if not chunk:
                break
            seen += chunk
    return seen
