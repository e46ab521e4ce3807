"""telnet: the DOS64 serial console on guest TCP port 23, one session at a time.

Layer: services, a small program on the stack's socket API (CONVENTIONS 17).  Its one
job: bridge a telnet client (RFC 854; the NVT itself is ``telnet_nvt.py``) to the DOS64
shell on COM1.  What the user types goes through the NVT and a filter to
``console.send()``; what the shell prints comes from ``console.read_from()`` back::

    with Machine() as m, Stack.on(m) as net:
        net.configure()
        with serve_telnet(net, m):       # on the host: telnet 127.0.0.1 <m.host_ports["telnet"]>
            ...

We offer WILL ECHO and WILL SGA (the shell echoes, a character at a time) and DO NAWS
(the window size, kept in ``session.window``); anything else is refused.

**One keyboard.**  The first session owns the console (``console_owner(m)`` names it); a
second one is told who has it and closed; once the owner leaves, the next connection takes
it.  ``m.run()`` lives in the machine layer and knows nothing of services, so:
* between sessions it just works: a session leaves the shell on an empty line, and
  ``run()`` rubs out the line and waits for a fresh prompt after anyone typed;
* while a session owns the console, ``run()``'s typing would mix with the user's.  Code
  that runs commands beside a server holds the console first:
  ``with hold_console(m): m.run("VER")`` waits until no session owns it (``ConsoleBusy``
  after ``timeout``) and keeps new sessions out meanwhile (they are told "in use by m.run()").

**What reaches the shell**: printable ASCII, Enter (CR; CR LF and CR NUL count once), and
BS/DEL when the line has something to rub out.  Everything else is dropped and counted in
``stats``.  A line stops at the shell's 200 characters: a longer one is rubbed out, the user
told, and the rest up to Enter dropped -- so no flood, IAC storm or 64 KB line can wedge
the shell.  EXIT and PANIC would stop the machine for everyone: they are refused here.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
import re
import secrets
import threading
import time
import weakref
from collections import Counter

from ..errors import Dos64LabError
from .telnet_nvt import BS, CR, DEL, Cmd, Command, Naws, Nvt

__all__ = ["serve_telnet", "TelnetServer", "TelnetSession", "hold_console", "console_owner",
           "ConsoleBusy"]

log = logging.getLogger(__name__)

LINE_MAX = 200                  # kernel/shell.c: the longest line the shell keeps
FORBID = ("EXIT", "PANIC")      # commands that stop the machine for everyone
DEL_LINE = bytes([DEL]) * LINE_MAX      # rubs out any line the shell holds
_PROMPT = b"C:\\>"
_HALTED = b"System halted."     # kernel/panic.c's last line
_TICK = 0.25                    # how often blocked threads look at the stop flags


class ConsoleBusy(Dos64LabError, TimeoutError):
    """The console stayed owned (by a telnet session, or by ``hold_console``) too long."""


# -- who owns the console ------------------------------------------------------------------

class _Ownership:
    """The console's one keyboard: an owner's name and token, or nobody."""

    def __init__(self):
        self._cond = threading.Condition()
        self.owner: str | None = None
        self._token = None

    def try_take(self, who: str, token) -> bool:
        with self._cond:
            if self.owner is not None:
                return False
            self.owner, self._token = who, token
            return True

    def take(self, who: str, token, timeout: float | None) -> None:
        with self._cond:
            if not self._cond.wait_for(lambda: self.owner is None, timeout):
                raise ConsoleBusy(f"the DOS64 console is still in use by {self.owner} "
                                  f"after {timeout:g} s")
            self.owner, self._token = who, token

    def release(self, token) -> None:
        with self._cond:
            if self._token is token:
                self.owner = self._token = None
                self._cond.notify_all()


_owners: "weakref.WeakKeyDictionary[object, _Ownership]" = weakref.WeakKeyDictionary()
_owners_lock = threading.Lock()


def _ownership(machine) -> _Ownership:
    with _owners_lock:
        if machine not in _owners:
            _owners[machine] = _Ownership()
        return _owners[machine]


def console_owner(machine) -> str | None:
    """Who owns the machine's console now ("10.0.2.2:40312", "m.run()"), or None."""
    return _ownership(machine).owner


@contextlib.contextmanager
def hold_console(machine, timeout: float | None = 30.0, who: str = "m.run()"):
    """Own the console for a block of ``m.run()`` calls: waits while a telnet session owns
    it (``ConsoleBusy`` after ``timeout``; None waits for ever), and meanwhile a new session
    is told the console is in use by ``who``."""
    token = object()
    ownership = _ownership(machine)
    ownership.take(who, token, timeout)
    try:
        yield machine
    finally:
        ownership.release(token)


# -- the server ----------------------------------------------------------------------------

def serve_telnet(stack, machine, port: int = 23, **options) -> "TelnetServer":
    """Serve ``machine``'s console on TCP ``port`` of ``stack``; returns the running server
    (``close()`` it, or use it in ``with``).  Options: see ``TelnetServer``."""
    return TelnetServer(stack, machine, port, **options)


class TelnetServer:
    """The accept loop and its sessions.  ``sessions``: the live ones; ``stats``: sessions
    served and refused, input dropped by reason (each session's counts added as it ends).

    ``forbid``: first words of commands refused over telnet; ``max_sessions``: connections
    at a time (more are reset); ``idle_timeout``: seconds without input before an owner is
    closed (None: never); ``send_timeout``: seconds a client may leave our output unread.
    """

    def __init__(self, stack, machine, port: int = 23, *, forbid=FORBID, max_sessions: int = 8,
                 idle_timeout: float | None = 900.0, send_timeout: float = 30.0):
        self.stack, self.machine, self.port = stack, machine, port
        self.console = machine.console
        self.forbid = tuple(word.upper() for word in forbid)
        self.max_sessions, self.idle_timeout, self.send_timeout = max_sessions, idle_timeout, send_timeout
        self.ownership = _ownership(machine)
        self.stats: Counter = Counter()
        self.sessions: list[TelnetSession] = []
        self._threads: list[threading.Thread] = []      # every session's, until joined
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._closed = False
        self._listener = stack.listen(port, backlog=4)
        self._thread = threading.Thread(target=self._accept_loop, name=f"dos64lab-telnet-{port}",
                                        daemon=True)
        self._thread.start()
        log.info("telnet: serving the DOS64 console on port %d", port)

    def _accept_loop(self) -> None:
        from ..stack import StackError, StackTimeout
        while not self._stop.is_set():
            try:
                conn = self._listener.accept(timeout=_TICK)
            except StackTimeout:
                continue
            except StackError as err:
                log.warning("telnet: the stack stopped: %r", err)
                return
            with self._lock:
                if self._stop.is_set() or len(self.sessions) >= self.max_sessions:
                    self.stats["sessions_refused_too_many"] += 1
                    conn.abort()
                    continue
                session = TelnetSession(self, conn)
                self.sessions.append(session)
                self._threads = [t for t in self._threads if t.is_alive()] + [session.thread]
            session.thread.start()

    def _count(self, key: str) -> None:
        with self._lock:
            self.stats[key] += 1

    def _ended(self, session: "TelnetSession") -> None:
        with self._lock:
            if session in self.sessions:
                self.sessions.remove(session)
            self.stats.update(session.stats)

    @property
    def owner(self) -> str | None:
        return self.ownership.owner

    def close(self) -> None:
        """Stop accepting, end every session (the owner is told), join the threads.  Idempotent."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(5)
        try:
            self._listener.close()
        except Dos64LabError as err:                # the stack already stopped
            log.debug("telnet: closing the listener: %r", err)
        with self._lock:
            sessions, threads = list(self.sessions), list(self._threads)
        for session in sessions:
            session.stop()
        for thread in threads:
            thread.join(10)

    def __enter__(self) -> "TelnetServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self):
        return f"<TelnetServer port {self.port}, owner {self.owner}, {len(self.sessions)} sessions>"


class TelnetSession:
    """One connection: the owner's bridge to the console, or a refusal.

    ``remote``: the peer as the stack sees it (through slirp: 10.0.2.2:<port>); ``nvt``:
    its telnet state (options agreed); ``window``: its last NAWS size; ``stats``: drops.
    """
    _ids = itertools.count(1)

    def __init__(self, server: TelnetServer, conn):
        self.server, self.conn, self.remote = server, conn, conn.remote
        self.console = server.console
        self.nvt = Nvt()
        self.window: Naws | None = None
        self.stats: Counter = Counter()
        self.owner = False
        self._token = object()
        self._line = bytearray()         # what the shell's line holds, as we typed it
        self._dropping = False           # a too-long line: drop input up to Enter
        self._last_input = time.monotonic()
        self._send_lock = threading.Lock()
        self._done = threading.Event()
        self._goodbye = ""
        self.thread = threading.Thread(target=self._run, daemon=True,
                                       name=f"dos64lab-telnet-session-{next(self._ids)}")

    def stop(self, message: str = "the telnet server is closing") -> None:
        self._goodbye = message
        self._done.set()

    # -- the session ---------------------------------------------------------------------
    def _run(self) -> None:
        try:
            if not self.server.ownership.try_take(self.remote, self._token):
                self.server._count("sessions_refused_busy")
                self._say(f"The DOS64 console is in use by {self.server.ownership.owner}; "
                          f"try again later.")
                return
            self.owner = True
            try:
                self._bridge()
            finally:
                self._leave_clean()
                self.server.ownership.release(self._token)
                self.owner = False
        except Dos64LabError as err:                 # the stack stopped, the client vanished
            log.info("telnet %s: %s", self.remote, err)
        finally:
            self._close()
            self.server._ended(self)

    def _bridge(self) -> None:
        self.server._count("sessions")
        log.info("telnet: %s owns the console", self.remote)
        self._send(self.nvt.start())
        version = self.server.machine.kernel_info.get("version", "?")
        self._say(f"DOS64 {version} console over telnet. One session at a time; "
                  f"{' and '.join(self.server.forbid) or 'nothing'} not available here.")
        start = self._fresh_prompt()
        if start is None:
            return
        pump = threading.Thread(target=self._pump, args=(start,), daemon=True,
                                name=self.thread.name + "-out")
        pump.start()
        try:
            self._read_input()
        finally:
            self._done.set()
            pump.join()

    def _fresh_prompt(self) -> int | None:
        """Empty the shell's line and wait for a new prompt; its offset in the transcript.

        As ``SerialConsole._resync``: the shell reads input in order, so once it echoes our
        random marker it has read everything before; DELs rub out any line, then Enter.
        """
        _, offset = self.console.read_from(1 << 62, 0)       # the end of the transcript
        marker = ("#" + secrets.token_hex(4)).encode()
        self.console.send(DEL_LINE + marker + bytes([DEL]) * len(marker) + b"\r")
        rx = re.compile(re.escape(marker) + rb".*?\n(?=" + re.escape(_PROMPT) + b")", re.S)
        seen, deadline = b"", time.monotonic() + 10
        while time.monotonic() < deadline and not self._done.is_set():
            data, _ = self.console.read_from(offset + len(seen), _TICK)
            seen += data
            if m := rx.search(seen):
                return offset + m.end()
            if self.console.closed or _HALTED in seen:
                break
        if not self._done.is_set():
            self._say("The DOS64 shell does not answer; try again later.")
        return None

    def _read_input(self) -> None:
        from ..stack import StackTimeout
        while not self._done.is_set():
            try:
                chunk = self.conn.recv(4096, timeout=_TICK)
            except StackTimeout:
                idle = self.server.idle_timeout
                if idle is not None and time.monotonic() - self._last_input > idle:
                    self._goodbye = f"no input for {idle:g} s: the console is free again"
                    return
                continue
            if not chunk:                                    # the client closed its side
                return
            self._last_input = time.monotonic()
            feed = self.nvt.feed(chunk)
            if feed.reply:
                self._send(feed.reply)
            for event in feed.events:
                if isinstance(event, Naws):
                    self.window = event
                elif isinstance(event, Command) and event.cmd in (Cmd.EL, Cmd.IP, Cmd.BRK):
                    self._rub_out()                           # erase line / interrupt
            if feed.data:
                self._type(feed.data)

    def _type(self, data: bytes) -> None:
        """Pass what the shell can take; keep our copy of its line in step."""
        out = bytearray()
        for b in data:
            if b == CR:
                if not self._dropping and self._forbidden():
                    self._flush(out)
                    word = bytes(self._line).split()[0].decode().upper()
                    self._say(f"{word} is not available over telnet: "
                              f"it would stop DOS64 for everyone.")
                    out += bytes([DEL]) * len(self._line)
                    self.stats["commands_refused"] += 1
                out.append(CR)
                self._line.clear()
                self._dropping = False
            elif b in (BS, DEL):
                if self._line and not self._dropping:
                    self._line.pop()
                    out.append(b)
                else:
                    self.stats["input_dropped_nothing_to_erase"] += 1
            elif 0x20 <= b < 0x7F:
                if self._dropping:
                    self.stats["input_dropped_line_too_long"] += 1
                elif len(self._line) >= LINE_MAX:
                    self._flush(out)
                    self._say(f"Line too long (the shell takes {LINE_MAX} characters): dropped.")
                    out += bytes([DEL]) * len(self._line)
                    self._line.clear()
                    self._dropping = True
                    self.stats["lines_too_long"] += 1
                    self.stats["input_dropped_line_too_long"] += 1
                else:
                    self._line.append(b)
                    out.append(b)
            else:
                self.stats["input_dropped_control"] += 1
        self._flush(out)

    def _forbidden(self) -> bool:
        words = bytes(self._line).split()          # the shell skips leading spaces (shell.c)
        return bool(words) and words[0].decode().upper() in self.server.forbid

    def _flush(self, out: bytearray) -> None:
        if out:
            self.console.send(bytes(out))
            out.clear()

    def _rub_out(self) -> None:
        if self._line:
            self.console.send(bytes([DEL]) * len(self._line))
            self._line.clear()
        self._dropping = False

    def _pump(self, offset: int) -> None:
        """Console output from ``offset`` to the client, until the session ends."""
        try:
            while not self._done.is_set():
                data, end = self.console.read_from(offset, _TICK)
                if data:
                    self._send(self.nvt.encode(data))
                    offset = end
                if _HALTED in data:
                    self._goodbye = "DOS64 halted: the machine must be restarted"
                elif self.console.closed and not data:
                    self._goodbye = "the machine is gone"
                else:
                    continue
                self._done.set()
        except Dos64LabError as err:                 # the client stopped reading, or vanished
            log.info("telnet %s: output: %s", self.remote, err)
            self._goodbye = ""
            self._done.set()

    def _leave_clean(self) -> None:
        """Leave the shell on an empty line, as we found it."""
        if (self._line or self._dropping) and not self.console.closed:
            try:
                self.console.send(DEL_LINE + b"\r")
            except Dos64LabError as err:
                log.info("telnet: leaving the console: %s", err)
        self._line.clear()
        self._dropping = False

    # -- to the client -------------------------------------------------------------------
    def _send(self, data: bytes) -> None:
        with self._send_lock:
            self.conn.sendall(data, timeout=self.server.send_timeout)

    def _say(self, text: str) -> None:
        self._send(b"\r\n" + text.encode() + b"\r\n")

    def _close(self) -> None:
        try:
            if self._goodbye and not self.conn.socket.eof:
                self._say(f"[{self._goodbye}]")
            self.conn.close(timeout=2)
        except Dos64LabError as err:
            log.info("telnet %s: closing: %s", self.remote, err)
            try:
                self.conn.abort()
            except Dos64LabError:
                pass

    def __repr__(self):
        return f"<TelnetSession {self.remote}{' (owner)' if self.owner else ''}>"

