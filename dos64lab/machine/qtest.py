"""The qtest channel: port I/O, MMIO and guest RAM, from outside the guest.

QEMU's qtest protocol (docs/devel/qtest.rst) is line based: we send one
command, QEMU answers one line, ``OK ...`` or ``FAIL ...``.  With interrupt
interception on, QEMU may also send ``IRQ raise N`` lines at any time; those
are skipped when reading a reply.

This is how the Python driver touches hardware, exactly as a kernel would with
``in``/``out`` instructions and memory accesses -- each call is one round trip
(about 20 µs), so bulk data goes through ``read``/``write`` (base64 forms).

QEMU's qtest server *aborts the whole machine* on an argument it cannot take
(``inb 0x10000``: "assertion failed: (addr <= 0xffff)").  So the typed methods
check every argument first and raise ``ArgumentError`` without sending
anything: ports are 16 bits, values fit the access width, memory ranges lie in
the 64-bit address space, transfers are at most ``MAX_TRANSFER`` bytes.
``command()`` sends a raw line unchecked.
"""

import base64
import contextlib
import operator
import threading

from ..errors import ArgumentError, MachineError, QtestError

#: Largest read/write/memset in one command (DOS64's whole DMA region); QEMU
#: allocates a buffer of this size, and the reply is one line.
MAX_TRANSFER = 16 << 20


class Qtest:
    """A qtest connection over a connected socket.  Thread-safe.

    Each command is one request/reply under the channel's lock, so threads never
    see each other's replies.  Several commands that must not be interleaved with
    another thread's (select a register, then read it) go inside ``transaction()``.
    """

    def __init__(self, sock, timeout: float = 10.0, on_dead=MachineError):
        self._sock = sock
        self._sock.settimeout(timeout)
        self._on_dead = on_dead          # message -> the error saying how QEMU ended
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
        """Send one raw command line, return what follows ``OK`` (or raise).

        The line's arguments are not checked: prefer the typed methods below.
        """
        if "\n" in line:
            raise ArgumentError("command", "line", line, "must be one line")
        name = line.split(" ", 1)[0]
        with self._lock:
            self.round_trips += 1
            try:
                self._sock.sendall(line.encode() + b"\n")
                while True:
                    reply = self._readline()
                    if not reply.startswith("IRQ"):
                        break
            except TimeoutError as err:
                raise MachineError(f"qtest: {name}: no reply ({err})") from err
            except OSError as err:
                raise self._on_dead(f"qtest: {name}: channel closed ({err})") from err
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
    def inb(self, port: int) -> int: return self._in("inb", port)
    def inw(self, port: int) -> int: return self._in("inw", port)
    def inl(self, port: int) -> int: return self._in("inl", port)
    def outb(self, port: int, v: int) -> None: self._out("outb", port, v, 8)
    def outw(self, port: int, v: int) -> None: self._out("outw", port, v, 16)
    def outl(self, port: int, v: int) -> None: self._out("outl", port, v, 32)

    def _in(self, op, port):
        return int(self.command(f"{op} {_uint(op, 'port', port, 16):#x}"), 16)

    def _out(self, op, port, value, bits):
        port, value = _uint(op, "port", port, 16), _uint(op, "value", value, bits)
        self.command(f"{op} {port:#x} {value:#x}")

    # -- memory and MMIO: typed accesses ------------------------------------
    def readb(self, addr: int) -> int: return self._load("readb", addr, 1)
    def readw(self, addr: int) -> int: return self._load("readw", addr, 2)
    def readl(self, addr: int) -> int: return self._load("readl", addr, 4)
    def readq(self, addr: int) -> int: return self._load("readq", addr, 8)
    def writeb(self, addr: int, v: int) -> None: self._store("writeb", addr, v, 1)
    def writew(self, addr: int, v: int) -> None: self._store("writew", addr, v, 2)
    def writel(self, addr: int, v: int) -> None: self._store("writel", addr, v, 4)
    def writeq(self, addr: int, v: int) -> None: self._store("writeq", addr, v, 8)

    def _load(self, op, addr, size):
        return int(self.command(f"{op} {_span(op, addr, size):#x}"), 16)

    def _store(self, op, addr, value, size):
        addr, value = _span(op, addr, size), _uint(op, "value", value, 8 * size)
        self.command(f"{op} {addr:#x} {value:#x}")

    # -- guest RAM in bulk ------------------------------------------------
    def read(self, addr: int, size: int, form: str = "b64") -> bytes:
        """Read ``size`` bytes of guest memory: ``b64`` (fastest) or ``hex``."""
        _form("read", form)
        size = _size("read", size)
        addr = _span("read", addr, size)
        if size == 0:
            return b""              # QEMU would abort on "read ADDR 0"
        if form == "b64":
            return base64.b64decode(self.command(f"b64read {addr:#x} {size:#x}"))
        return bytes.fromhex(self.command(f"read {addr:#x} {size:#x}")[2:])

    def write(self, addr: int, data: bytes, form: str = "b64") -> None:
        """Write bytes into guest memory: ``b64`` (fastest) or ``hex``."""
        _form("write", form)
        try:
            data = memoryview(data).tobytes()
        except TypeError:
            raise ArgumentError("write", "data", data, "must be bytes-like") from None
        addr = _span("write", addr, _size("write", len(data)))
        if not data:
            return
        if form == "b64":
            self.command(f"b64write {addr:#x} {len(data):#x} {base64.b64encode(data).decode()}")
        else:
            self.command(f"write {addr:#x} {len(data):#x} 0x{data.hex()}")

    def memset(self, addr: int, size: int, value: int = 0) -> None:
        """Fill ``size`` bytes of guest memory with the byte ``value``."""
        size, value = _size("memset", size), _uint("memset", "value", value, 8)
        self.command(f"memset {_span('memset', addr, size):#x} {size:#x} {value:#x}")

    def close(self) -> None:
        self._sock.close()



# -- argument checks: everything QEMU would abort on is refused here ------------
def _uint(op, name, value, bits):
    """``value`` as an int in [0, 2**bits), else ArgumentError naming it."""
    try:
        number = operator.index(value)      # int, or int-like (numpy); never float or str
    except TypeError:
        raise ArgumentError(op, name, value, "must be an int") from None
    if not 0 <= number < 1 << bits:
        raise ArgumentError(op, name, number, f"is out of range (0..{(1 << bits) - 1:#x})")
    return number


def _span(op, addr, size):
    """``addr`` such that [addr, addr + size) lies in the 64-bit address space."""
    addr = _uint(op, "addr", addr, 64)
    if addr + size > 1 << 64:
        raise ArgumentError(op, "addr", addr, f"+ {size:#x} bytes passes the top of memory (2**64)")
    return addr


def _size(op, size):
    """A transfer length: 0..MAX_TRANSFER bytes."""
    size = _uint(op, "size", size, 64)
    if size > MAX_TRANSFER:
        raise ArgumentError(op, "size", size, f"is too large (at most {MAX_TRANSFER:#x} bytes)")
    return size


def _form(op, form):
    if form not in ("b64", "hex"):
        raise ArgumentError(op, "form", form, "is not a transfer form (b64 or hex)")
