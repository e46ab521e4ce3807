"""Telnet's Network Virtual Terminal and its option negotiation, as a pure state machine.

Layer: services (the application protocol above TCP).  One job: turn the bytes a telnet
peer sends into data for the shell, bytes to send back and events (``Nvt.feed``), and
shell output into NVT bytes (``Nvt.encode``).  No sockets, no threads, no clocks: the
server in ``telnet.py`` does the I/O, and the unit tests feed this hostile bytes.

Specs: RFC 854 (the NVT: IAC commands, IAC IAC for a 0xFF data byte, CR LF and CR NUL),
RFC 855 (options, SB ... SE), RFC 857 (ECHO), RFC 858 (SUPPRESS-GO-AHEAD), RFC 1073
(NAWS, the window size) and RFC 1143 (the Q method: negotiation that cannot loop).

Deviations, on purpose, because the peer may be hostile:
* A subnegotiation longer than ``sb_max`` bytes is dropped whole (counted); an IAC other
  than IAC or SE inside one ends it (dropped, counted) and counts as a command.
* RFC 1143 answers every request that would change an option's state.  Here each option
  answers at most ``ANSWERS_PER_OPTION`` requests per side, then ignores them (counted),
  and AYT is answered ``AYT_MAX`` times: what one connection can make us send back is
  bounded (``MAX_REPLY`` bytes in all), however it floods.
* A bare LF ends a line like CR (raw-mode clients send it); RFC 854 has CR LF only.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = ["Nvt", "Feed", "Naws", "Command", "Option", "Cmd", "MAX_REPLY"]

NUL, BS, LF, CR, DEL = 0x00, 0x08, 0x0A, 0x0D, 0x7F


class Cmd(IntEnum):
    """Telnet commands (RFC 854 p. 14): the byte after IAC."""
    SE = 240        # end of subnegotiation
    NOP = 241
    DM = 242        # data mark (the end of a Synch)
    BRK = 243       # break
    IP = 244        # interrupt process
    AO = 245        # abort output
    AYT = 246       # are you there
    EC = 247        # erase character
    EL = 248        # erase line
    GA = 249        # go ahead
    SB = 250        # subnegotiation begins
    WILL = 251
    WONT = 252
    DO = 253
    DONT = 254
    IAC = 255


class Option(IntEnum):
    """The options this module has names for; any other byte is an option too (refused)."""
    BINARY = 0          # RFC 856
    ECHO = 1            # RFC 857: the side that WILL ECHO echoes what the other types
    SGA = 3             # RFC 858: suppress go-ahead (character at a time)
    STATUS = 5
    TTYPE = 24          # terminal type
    NAWS = 31           # RFC 1073: negotiate about window size
    TSPEED = 32
    LFLOW = 33
    LINEMODE = 34       # RFC 1184
    XDISPLOC = 35
    NEW_ENVIRON = 39
    CHARSET = 42


IAC = bytes([Cmd.IAC])

# RFC 1143's states of one side of one option (without the queue bit: we never change
# our mind while a request is outstanding, so we need no queue).
NO, YES, WANTNO, WANTYES = "NO", "YES", "WANTNO", "WANTYES"

ANSWERS_PER_OPTION = 8      # requests answered per option and side, then ignored
AYT_MAX = 8                 # AYTs answered per connection
AYT_REPLY = b"\r\n[DOS64: yes]\r\n"
#: the most bytes all ``feed()`` calls of one Nvt send back, together: per option and side,
#: the answered requests and the acknowledgements of each YES they (or ``start``) made NO
MAX_REPLY = 256 * 2 * (2 * ANSWERS_PER_OPTION + 1) * 3 + AYT_MAX * len(AYT_REPLY)


@dataclass(frozen=True)
class Naws:
    """The peer's window size (RFC 1073); 0 means unknown."""
    width: int
    height: int


@dataclass(frozen=True)
class Command:
    """A command the NVT leaves to the program: EL, IP, BRK or AO."""
    cmd: Cmd


@dataclass(frozen=True)
class Feed:
    """What ``Nvt.feed`` made of some bytes."""
    data: bytes = b""           # for the program: NVT data, CR for each end of line
    reply: bytes = b""          # to send back to the peer
    events: tuple = ()          # Naws, Command

    def __bool__(self):
        return bool(self.data or self.reply or self.events)


# parser states
_DATA, _IAC, _OPT, _SB_OPT, _SB, _SB_IAC = range(6)


@dataclass
class Nvt:
    """One end of a telnet connection.

    ``local``: options we are willing to enable on our side (we WILL them); ``remote``:
    options we want the peer to enable (we DO them).  Everything else is refused.  The
    defaults make a server for a character-at-a-time shell: we echo (ECHO), no go-aheads
    (SGA), and we ask for the window size (NAWS).  ``us`` and ``him`` hold each option's
    RFC 1143 state; ``window`` the last NAWS size; ``stats`` every drop, by reason.
    """
    local: frozenset = frozenset({Option.ECHO, Option.SGA})
    remote: frozenset = frozenset({Option.NAWS})
    sb_max: int = 64
    us: dict = field(default_factory=dict)
    him: dict = field(default_factory=dict)
    window: Naws | None = None
    stats: Counter = field(default_factory=Counter)

    def __post_init__(self):
        self.local, self.remote = frozenset(self.local), frozenset(self.remote)
        self._state = _DATA
        self._verb = 0
        self._sb_opt = 0
        self._sb = bytearray()
        self._sb_over = False
        self._after_cr = False          # input: the last data byte was CR
        self._out_cr = False            # output: the last byte encoded was CR
        self._answers: Counter = Counter()
        self._ayts = 0

    # -- negotiation ---------------------------------------------------------------------
    def start(self) -> bytes:
        """Our opening requests: WILL for each ``local`` option, DO for each ``remote`` one."""
        out = bytearray()
        for opt in sorted(self.local):
            if self.us.get(opt, NO) == NO:
                self.us[opt] = WANTYES
                out += bytes([Cmd.IAC, Cmd.WILL, opt])
        for opt in sorted(self.remote):
            if self.him.get(opt, NO) == NO:
                self.him[opt] = WANTYES
                out += bytes([Cmd.IAC, Cmd.DO, opt])
        return bytes(out)

    def local_enabled(self, opt: int) -> bool:
        return self.us.get(opt, NO) == YES

    def remote_enabled(self, opt: int) -> bool:
        return self.him.get(opt, NO) == YES

    def _answer(self, side: str, opt: int) -> bool:
        """May we answer one more request about ``opt`` on ``side``?  (bounded replies)"""
        if self._answers[side, opt] >= ANSWERS_PER_OPTION:
            self.stats["requests_ignored"] += 1
            return False
        self._answers[side, opt] += 1
        return True

    def _negotiate(self, verb: int, opt: int, out: bytearray) -> None:
        """RFC 1143 §7: WILL/WONT are about the peer's side (``him``), DO/DONT about ours."""
        if verb in (Cmd.WILL, Cmd.WONT):
            states, wanted, side = self.him, self.remote, "him"
            yes, no = Cmd.DO, Cmd.DONT
        else:
            states, wanted, side = self.us, self.local, "us"
            yes, no = Cmd.WILL, Cmd.WONT
        state = states.get(opt, NO)
        if verb in (Cmd.WILL, Cmd.DO):                      # the peer asks for YES
            if state == NO:
                if not self._answer(side, opt):
                    return
                if opt in wanted:
                    states[opt] = YES
                    out += bytes([Cmd.IAC, yes, opt])
                else:
                    self.stats["refused_" + ("will" if side == "him" else "do")] += 1
                    out += bytes([Cmd.IAC, no, opt])
            elif state == WANTYES:
                states[opt] = YES                           # our request was agreed
            elif state == WANTNO:
                states[opt] = NO                            # "DONT answered by WILL": an error
                self.stats["negotiation_errors"] += 1
            # YES: already there; answering would start a loop (RFC 854 p. 5)
        else:                                               # the peer asks for (or says) NO
            if state == YES:
                states[opt] = NO
                out += bytes([Cmd.IAC, no, opt])            # must be acknowledged
            elif state in (WANTYES, WANTNO):
                states[opt] = NO                            # refused, or our DONT agreed
            # NO: already there

    # -- input -------------------------------------------------------------------------
    def feed(self, data: bytes) -> Feed:
        """Parse bytes from the peer.  Never raises; ``data`` is never longer than the input."""
        text, reply, events = bytearray(), bytearray(), []
        for b in bytes(data):
            state = self._state
            if state == _DATA:
                if b == Cmd.IAC:
                    self._state = _IAC
                else:
                    self._data_byte(b, text)
            elif state == _IAC:
                self._state = _DATA
                self._command(b, text, reply, events)
            elif state == _OPT:
                self._state = _DATA
                self._negotiate(self._verb, b, reply)
            elif state == _SB_OPT:
                self._sb_opt, self._sb_over = b, False
                self._sb.clear()
                self._state = _SB
            elif state == _SB:
                if b == Cmd.IAC:
                    self._state = _SB_IAC
                else:
                    self._sb_byte(b)
            else:                                           # _SB_IAC
                if b == Cmd.IAC:                            # IAC IAC: a 0xFF inside SB
                    self._state = _SB
                    self._sb_byte(b)
                elif b == Cmd.SE:
                    self._state = _DATA
                    self._subnegotiation(events)
                else:                                       # RFC 855 leaves this open
                    self.stats["sb_unterminated"] += 1
                    self._state = _DATA
                    self._command(b, text, reply, events)
        return Feed(bytes(text), bytes(reply), tuple(events))

    def _data_byte(self, b: int, text: bytearray) -> None:
        # RFC 854 p. 11: CR LF is a new line, CR NUL a bare CR: both are Enter here.
        if self._after_cr:
            self._after_cr = False
            if b in (LF, NUL):
                return
        if b == CR:
            self._after_cr = True
            text.append(CR)
        elif b == LF:
            text.append(CR)                                 # deviation: a bare LF is Enter too
        elif b == NUL:
            self.stats["nul_dropped"] += 1                  # NVT: NUL is a no-op
        else:
            text.append(b)

    def _command(self, b: int, text: bytearray, reply: bytearray, events: list) -> None:
        if b == Cmd.IAC:
            self._data_byte(b, text)                        # IAC IAC: one 0xFF data byte
        elif b in (Cmd.WILL, Cmd.WONT, Cmd.DO, Cmd.DONT):
            self._verb = b
            self._state = _OPT
        elif b == Cmd.SB:
            self._state = _SB_OPT
        elif b == Cmd.EC:
            text.append(DEL)                                # erase character: the shell's DEL
        elif b in (Cmd.EL, Cmd.IP, Cmd.BRK, Cmd.AO):
            events.append(Command(Cmd(b)))
        elif b == Cmd.AYT:
            if self._ayts < AYT_MAX:
                self._ayts += 1
                reply += AYT_REPLY
            else:
                self.stats["ayt_ignored"] += 1
        elif b in (Cmd.NOP, Cmd.DM, Cmd.GA):
            pass
        elif b == Cmd.SE:
            self.stats["stray_se"] += 1
        else:
            self.stats["unknown_commands"] += 1

    def _sb_byte(self, b: int) -> None:
        if len(self._sb) < self.sb_max:
            self._sb.append(b)
        else:
            self._sb_over = True

    def _subnegotiation(self, events: list) -> None:
        opt, body = self._sb_opt, bytes(self._sb)
        self._sb.clear()
        if self._sb_over:
            self.stats["sb_too_long"] += 1
        elif opt == Option.NAWS and self.remote_enabled(Option.NAWS):
            if len(body) == 4:                              # RFC 1073: width, height (16 bits)
                self.window = Naws(int.from_bytes(body[:2], "big"), int.from_bytes(body[2:], "big"))
                events.append(self.window)
            else:
                self.stats["sb_bad_naws"] += 1
        else:
            self.stats["sb_not_agreed"] += 1                # an option we never agreed to

    # -- output ------------------------------------------------------------------------
    def encode(self, data: bytes) -> bytes:
        """Program output as NVT bytes: IAC doubled, every line end CR LF, a bare CR as
        CR NUL (RFC 854 p. 11).  A CR at the end of one call is completed by the next."""
        out = bytearray()
        for b in bytes(data):
            if self._out_cr:
                self._out_cr = False
                if b == LF:
                    out.append(LF)
                    continue
                out.append(NUL)
            if b == CR:
                out.append(CR)
                self._out_cr = True
            elif b == LF:
                out += b"\r\n"
            elif b == Cmd.IAC:
                out += b"\xff\xff"
            else:
                out.append(b)
        return bytes(out)
