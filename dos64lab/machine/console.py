"""The DOS64 serial console (COM1), seen from the host.

A reader thread appends everything the guest prints to a transcript; callers
wait for patterns in it.  ``run("VER")`` types a command at the ``C:\\>``
prompt and returns what the command printed, like a person at a terminal.
"""

import re
import threading
import time

from ..errors import MachineError

PROMPT = "C:\\>"
# the prompt starts a line, or follows CLS's cursor-home escape
_PROMPT_AT_LINE_START = r"(?:(?<=\n)|(?<=\x1b\[H))" + re.escape(PROMPT)


class SerialConsole:
    """Both ends of COM1: send bytes, wait for output, keep the transcript."""

    def __init__(self, sock):
        self._sock = sock
        self._data = bytearray()
        self._cursor = 0           # where the next expect() starts looking
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

    def expect(self, pattern: str, timeout: float = 10.0) -> re.Match:
        """Wait for a regex in the output after the cursor; move the cursor past it."""
        rx = re.compile(pattern.encode() if isinstance(pattern, str) else pattern)
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                m = rx.search(self._data, self._cursor)
                if m:
                    self._cursor = m.end()
                    return m
                left = deadline - time.monotonic()
                if self.closed or left <= 0:
                    why = "the console closed (QEMU exited)" if self.closed else f"{timeout} s passed"
                    raise MachineError(f"console: waited for {pattern!r} but {why}; "
                                       f"last output:\n{self.tail(10)}")
                self._cond.wait(left)

    # -- input ------------------------------------------------------------
    def send(self, data: bytes | str) -> None:
        """Type raw bytes (no line end added)."""
        if isinstance(data, str):
            data = data.encode()
        try:
            self._sock.sendall(data)
        except OSError as err:
            raise MachineError(f"console: cannot send ({err})") from err

    def sendline(self, line: str) -> None:
        """Type a line and press Enter (CR, as a terminal does)."""
        self.send(line + "\r")

    def run(self, command: str, timeout: float = 10.0) -> str:
        """Run one shell command; return its output (without echo and prompt)."""
        self.expect(re.escape(PROMPT), timeout)    # the prompt we type at
        self.sendline(command)
        self.expect(re.escape(command) + r"\r\n", timeout)   # the shell echoes the line
        start = self._cursor
        self.expect(_PROMPT_AT_LINE_START, timeout)
        with self._cond:
            out = self._data[start:self._cursor - len(PROMPT)]
        self._cursor -= len(PROMPT)                # leave the prompt for the next call
        return _text(out).rstrip("\n")

    def close(self) -> None:
        try:
            self._sock.close()
        except OSError:
            pass


def _text(raw: bytes) -> str:
    return bytes(raw).decode("utf-8", "replace").replace("\r\n", "\n")
