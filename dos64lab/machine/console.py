"""The DOS64 serial console (COM1), seen from the host.

A reader thread appends everything the guest prints to a transcript; callers
wait for patterns in it.  ``run("VER")`` types a command at the ``C:\\>``
prompt and returns what the command printed, like a person at a terminal.

``run()`` always starts on a clean line: if anything else was typed since the
last ``run()`` ended (``send()``, a flood of garbage, a ``run()`` that failed),
it first rubs out the shell's line and waits for a fresh prompt.  And it stops
at once with ``PanicError`` when DOS64 panics, instead of waiting for a prompt
that never comes.
"""

import re
import secrets
import threading
import time

from ..errors import ArgumentError, MachineError, PanicError

PROMPT = "C:\\>"
LINE_MAX = 200          # the longest line the shell keeps (kernel/shell.c)
DEL = b"\x7f"           # the shell rubs out one character ("\b \b")
# the prompt starts a line, or follows CLS's cursor-home escape
_PROMPT_AT_LINE_START = r"(?:(?<=\n)|(?<=\x1b\[H))" + re.escape(PROMPT)
# kernel/panic.c prints "PANIC: <reason>" and "System halted."; a CPU exception
# prints its register dump ("*** CPU exception ...", idt.c) just before.
_PANIC = re.compile(rb"(?s)(?:\*\*\* CPU exception.*?)?PANIC: [^\r\n]*\r?\nSystem halted\.")


class SerialConsole:
    """Both ends of COM1: send bytes, wait for output, keep the transcript."""

    def __init__(self, sock, on_dead=MachineError):
        self._sock = sock
        self._on_dead = on_dead    # message -> the error saying how QEMU ended
        self._data = bytearray()
        self._cursor = 0           # where the next expect() starts looking
        self._dirty = False        # typed since the last run() ended at a prompt
        self._cond = threading.Condition()
        self.closed = False        # the guest side went away (QEMU exited)
        self._thread = threading.Thread(target=self._reader, name="dos64lab-console", daemon=True)
        self._thread.start()

    def _reader(self):
        while True:
            try:
                chunk = self._sock.recv(4096)
            except OSError:
                chunk = b""
            with self._cond:
                if not chunk:
                    self.closed = True
                    self._cond.notify_all()
                    return
                self._data += chunk
                self._cond.notify_all()

    # -- output -----------------------------------------------------------
    @property
    def transcript(self) -> str:
        """Everything the guest printed so far (CR LF shown as LF)."""
        with self._cond:
            return _text(self._data)

    def tail(self, lines: int = 20) -> str:
        return "\n".join(self.transcript.splitlines()[-lines:])

    def read_from(self, offset: int, timeout: float = 0.1) -> tuple[bytes, int]:
        """Raw bytes printed after ``offset`` (waits up to timeout for some)."""
        with self._cond:
            self._cond.wait_for(lambda: len(self._data) > offset or self.closed, timeout)
            return bytes(self._data[offset:]), len(self._data)

    def wait_closed(self, timeout: float) -> bool:
        """Wait until QEMU's end is closed and all its output read; True if so."""
        with self._cond:
            return self._cond.wait_for(lambda: self.closed, timeout)

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Wait for a regex in the output after the cursor; move the cursor past it."""
        return self._expect(pattern, timeout, stop_on_panic=False)

    def _expect(self, pattern, timeout, stop_on_panic):
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._data, self._cursor)
                if m:
                    self._cursor = m.end()
                    return m
                if stop_on_panic and (panic := _PANIC.search(self._data, self._cursor)):
                    raise PanicError(_text(panic.group()))
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    break
                self._cond.wait(left)
            closed, tail = self.closed, self.tail(10)
        message = (f"console: waited for {pattern!r} but "
                   f"{'the console closed' if closed else f'{timeout} s passed'}; "
                   f"last output:\n{tail}")
        raise self._on_dead(message) if closed else MachineError(message)

    # -- input ------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        """Type raw bytes (no line end added)."""
        self._dirty = True
        self._write(data)

    def sendline(self, line: str) -> None:
        """Type a line and press Enter (CR, as a terminal does)."""
        self.send(line + "\r")

    def _write(self, data):
        if isinstance(data, str):
            data = data.encode()
        try:
            self._sock.sendall(data)
        except OSError as err:
            raise self._on_dead(f"console: cannot send ({err})") from err

    def run(self, command: str, timeout: float = 10.0) -> str:
        """Run one shell command; return its output (without echo and prompt)."""
        if not (command.isascii() and command.isprintable() and len(command) <= LINE_MAX):
            raise ArgumentError("run", "command", command,
                                f"is not one shell line (printable ASCII, at most {LINE_MAX})")
        if self._dirty:
            self._resync(timeout)
        self._dirty = True                                   # until our prompt is back
        self._expect(re.escape(PROMPT), timeout, True)       # the prompt we type at
        self._write(command + "\r")
        self._expect(re.escape(command) + r"\r\n", timeout, True)   # the shell echoes the line
        start = self._cursor
        self._expect(_PROMPT_AT_LINE_START, timeout, True)
        with self._cond:
            out = self._data[start:self._cursor - len(PROMPT)]
        self._cursor -= len(PROMPT)                # leave the prompt for the next call
        self._dirty = False
        return _text(out).rstrip("\n")

    def _resync(self, timeout):
        """Empty the shell's line and move the cursor to just before a fresh prompt.

        Input is one ordered stream: once the shell echoes our random marker it
        has read everything typed before.  LINE_MAX DELs empty any line, the
        marker is rubbed out too, and the CR prints a new prompt.
        """
        marker = "#" + secrets.token_hex(4)
        self._write(DEL * LINE_MAX + marker.encode() + DEL * len(marker) + b"\r")
        self._expect(re.escape(marker), timeout, True)
        self._expect(_PROMPT_AT_LINE_START, timeout, True)
        self._cursor -= len(PROMPT)

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def _text(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "replace").replace("\r\n", "\n")
