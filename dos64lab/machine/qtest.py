"""The qtest channel: port I/O, MMIO and guest RAM, from outside the guest.

QEMU's qtest protocol (docs/devel/qtest.rst) is line based: we send one
command, QEMU answers one line, ``OK ...`` or ``FAIL ...``.  With interrupt
interception on, QEMU may also send ``IRQ raise N`` lines at any time; those
are skipped when reading a reply.

This is how the Python driver touches hardware, exactly as a kernel would with
``in``/``out`` instructions and memory accesses -- each call is one round trip
(about 20 µs), so bulk data goes through ``read``/``write`` (base64 forms).
"""

import base64
import contextlib
import threading

from ..errors import MachineError, QtestError


class Qtest:
    """A qtest connection over a connected socket.  Thread-safe.

    Each command is one request/reply under the channel's lock, so threads never
    see each other's replies.  Several commands that must not be interleaved with
    another thread's (select a register, then read it) go inside ``transaction()``.
    """

    def __init__(self, sock, timeout: float = 10.0):
        self._sock = sock
        self._sock.settimeout(timeout)
        self._buf = b""
        self._lock = threading.RLock()   # re-entrant: transactions hold it across commands
        self.round_trips = 0  # commands sent so far: the driver's cost meter

    # -- the protocol -----------------------------------------------------
    @contextlib.contextmanager
    def transaction(self):
        """Hold the channel for several commands: no other thread's command runs between.

            with qtest.transaction():
                qtest.outl(0xcf8, address)      # select ...
                value = qtest.inl(0xcfc)        # ... and read, atomically
        """
        with self._lock:
            yield self

    def command(self, line: str) -> str:
        """Send one command line, return what follows ``OK`` (or raise)."""
        with self._lock:
            self.round_trips += 1
            try:
                self._sock.sendall(line.encode() + b"\n")
                while True:
                    reply = self._readline()
                    if not reply.startswith("IRQ"):
                        break
            except OSError as err:
                raise MachineError(f"qtest: {line.split()[0]}: channel closed ({err})") from err
        if reply.startswith("OK"):
            return reply[2:].strip()
        raise QtestError(f"qtest: {line[:60]!r} -> {reply}")

    def _readline(self) -> str:
        while b"\n" not in self._buf:
            chunk = self._sock.recv(1 << 16)
            if not chunk:
                raise OSError("EOF")
            self._buf += chunk
        line, self._buf = self._buf.split(b"\n", 1)
        return line.decode()

    # -- port I/O ---------------------------------------------------------
    def inb(self, port: int) -> int: return int(self.command(f"inb {port:#x}"), 16)
    def inw(self, port: int) -> int: return int(self.command(f"inw {port:#x}"), 16)
    def inl(self, port: int) -> int: return int(self.command(f"inl {port:#x}"), 16)
    def outb(self, port: int, v: int) -> None: self.command(f"outb {port:#x} {v:#x}")
    def outw(self, port: int, v: int) -> None: self.command(f"outw {port:#x} {v:#x}")
    def outl(self, port: int, v: int) -> None: self.command(f"outl {port:#x} {v:#x}")

    # -- memory and MMIO: typed accesses ------------------------------------
    def readb(self, addr: int) -> int: return int(self.command(f"readb {addr:#x}"), 16)
    def readw(self, addr: int) -> int: return int(self.command(f"readw {addr:#x}"), 16)
    def readl(self, addr: int) -> int: return int(self.command(f"readl {addr:#x}"), 16)
    def readq(self, addr: int) -> int: return int(self.command(f"readq {addr:#x}"), 16)
    def writeb(self, addr: int, v: int) -> None: self.command(f"writeb {addr:#x} {v:#x}")
    def writew(self, addr: int, v: int) -> None: self.command(f"writew {addr:#x} {v:#x}")
    def writel(self, addr: int, v: int) -> None: self.command(f"writel {addr:#x} {v:#x}")
    def writeq(self, addr: int, v: int) -> None: self.command(f"writeq {addr:#x} {v:#x}")

    # -- guest RAM in bulk ------------------------------------------------
    def read(self, addr: int, size: int, form: str = "b64") -> bytes:
        """Read ``size`` bytes of guest memory: ``b64`` (fastest) or ``hex``."""
        if size == 0:
            return b""
        if form == "b64":
            return base64.b64decode(self.command(f"b64read {addr:#x} {size:#x}"))
        if form == "hex":
            return bytes.fromhex(self.command(f"read {addr:#x} {size:#x}")[2:])
        raise ValueError(f"unknown transfer form {form!r} (b64 or hex)")

    def write(self, addr: int, data: bytes, form: str = "b64") -> None:
        """Write bytes into guest memory: ``b64`` (fastest) or ``hex``."""
        if not data:
            return
        if form == "b64":
            self.command(f"b64write {addr:#x} {len(data):#x} {base64.b64encode(data).decode()}")
        elif form == "hex":
            self.command(f"write {addr:#x} {len(data):#x} 0x{bytes(data).hex()}")
        else:
            raise ValueError(f"unknown transfer form {form!r} (b64 or hex)")

    def memset(self, addr: int, size: int, value: int = 0) -> None:
        self.command(f"memset {addr:#x} {size:#x} {value:#x}")

    def close(self) -> None:
        self._sock.close()

