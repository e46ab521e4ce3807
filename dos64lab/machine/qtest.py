"""The qtest channel: port I/O, MMIO and guest RAM, from outside the guest.

QEMU's qtest protocol (docs/devel/qtest.rst) is line based: we send one
command, QEMU answers one line, ``OK ...`` or ``FAIL ...``.  With interrupt
interception on, QEMU may also send ``IRQ raise N`` lines at any time; those
are skipped when reading a reply.

This is how the Python driver touches hardware, exactly as a kernel would with
``in``/``out`` instructions and memory accesses -- each call is one round trip
(about 20 µs), so bulk data goes through ``read``/``write`` (base64 forms).  Two ways
around the round trip: a write may be *posted* (``wait=False``: its reply is read with
the next one's), and the DMA region is guest RAM we map too (``share_ram``).

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
#: Posted commands whose replies may wait unread (QEMU blocks once the socket fills).
MAX_POSTED = 256


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
        self._posted = []                # commands whose replies are unread
        self._ram, self._ram_range = None, range(0)   # guest RAM we map too (share_ram)
        self.commands = 0                # commands sent so far
        self.round_trips = 0             # times we waited for QEMU: the driver's cost meter

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

    def command(self, line: str, wait: bool = True) -> str | None:
        """Send one raw command line, return what follows ``OK`` (or raise).

        ``wait=False`` *posts* the command, like a PCI posted write: it is sent at once
        and its reply is read by the next command that waits (or ``sync()``), so a run
        of writes costs one round trip, not one each.  QEMU runs commands in order, so
        a later command always sees the effect of an earlier one; a posted command that
        failed raises QtestError from the call that reads its reply.
        The line's arguments are not checked: prefer the typed methods below.
        """
        if "\n" in line:
            raise ArgumentError("command", "line", line, "must be one line")
        with self._lock:
            self.commands += 1
            self._send(line)
            self._posted.append(line[:60])      # enough to name it in an error
            if wait or len(self._posted) >= MAX_POSTED:     # past MAX_POSTED: read them now
                replies = self.sync()
                return replies[-1] if wait else None
            return None

    def sync(self) -> list[str]:
        """Read the reply of every command sent so far, in one round trip; what follows
        ``OK`` in each.  QtestError names the first command that failed."""
        with self._lock:
            if not self._posted:
                return []
            self.round_trips += 1
            sent, self._posted = self._posted, []
            replies = [self._reply(line) for line in sent]      # every one: stay in step
            return [self._check(line, reply) for line, reply in zip(sent, replies)]

    def _send(self, line: str) -> None:
        try:
            self._sock.sendall(line.encode() + b"\n")
        except OSError as err:
            raise self._on_dead(f"qtest: {_name(line)}: channel closed ({err})") from err

    def _reply(self, line: str) -> str:
        """The next reply line (``IRQ`` notices skipped)."""
        try:
            while (reply := self._readline()).startswith("IRQ"):
                pass
            return reply
        except TimeoutError as err:
            raise MachineError(f"qtest: {_name(line)}: no reply ({err})") from err
        except OSError as err:
            raise self._on_dead(f"qtest: {_name(line)}: channel closed ({err})") from err

    @staticmethod
    def _check(line: str, reply: str) -> str:
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

    def share_ram(self, mapping, start: int, size: int) -> None:
        """Serve reads and writes of guest RAM in [start, start + size) from ``mapping``,
        the same memory QEMU's guest has (a shared memory file, see ``Machine.start``).

        That range is the DMA region, where the driver keeps its rings and buffers: it
        touches them in place, as the CPU and the device share RAM in a real machine.
        No round trip, no base64; the device sees a write at once, and stores reach it
        in program order (x86).  Port I/O, MMIO and the rest of RAM stay on qtest.  (A raw
        command posted over the channel reaches this RAM when QEMU runs it: ``sync()``
        before reading it here.  The driver posts doorbells only.)
        """
        with self._lock:
            self._ram, self._ram_range = mapping, range(start, start + size)

    def _shared(self, addr: int, size: int):
        """The shared mapping if [addr, addr + size) lies in it, else None."""
        ram, shared = self._ram, self._ram_range
        return ram if addr in shared and addr + size <= shared.stop else None

    # -- port I/O ---------------------------------------------------------
    def inb(self, port: int) -> int: return self._in("inb", port)
    def inw(self, port: int) -> int: return self._in("inw", port)
    def inl(self, port: int) -> int: return self._in("inl", port)
    def outb(self, port: int, v: int, wait=True) -> None: self._out("outb", port, v, 8, wait)
    def outw(self, port: int, v: int, wait=True) -> None: self._out("outw", port, v, 16, wait)
    def outl(self, port: int, v: int, wait=True) -> None: self._out("outl", port, v, 32, wait)

    def _in(self, op, port):
        return int(self.command(f"{op} {_uint(op, 'port', port, 16):#x}"), 16)

    def _out(self, op, port, value, bits, wait):
        port, value = _uint(op, "port", port, 16), _uint(op, "value", value, bits)
        self.command(f"{op} {port:#x} {value:#x}", wait)

    # -- memory and MMIO: typed accesses ------------------------------------
    def readb(self, addr: int) -> int: return self._load("readb", addr, 1)
    def readw(self, addr: int) -> int: return self._load("readw", addr, 2)
    def readl(self, addr: int) -> int: return self._load("readl", addr, 4)
    def readq(self, addr: int) -> int: return self._load("readq", addr, 8)
    def writeb(self, addr: int, v: int, wait=True) -> None: self._store("writeb", addr, v, 1, wait)
    def writew(self, addr: int, v: int, wait=True) -> None: self._store("writew", addr, v, 2, wait)
    def writel(self, addr: int, v: int, wait=True) -> None: self._store("writel", addr, v, 4, wait)
    def writeq(self, addr: int, v: int, wait=True) -> None: self._store("writeq", addr, v, 8, wait)

    def _load(self, op, addr, size):
        if (ram := self._shared(_span(op, addr, size), size)) is not None:
            return int.from_bytes(ram[addr:addr + size], "little")     # x86: little-endian
        return int(self.command(f"{op} {_span(op, addr, size):#x}"), 16)

    def _store(self, op, addr, value, size, wait):
        addr, value = _span(op, addr, size), _uint(op, "value", value, 8 * size)
        if (ram := self._shared(addr, size)) is not None:
            ram[addr:addr + size] = value.to_bytes(size, "little")
            return
        self.command(f"{op} {addr:#x} {value:#x}", wait)

    # -- guest RAM in bulk ------------------------------------------------
    def read(self, addr: int, size: int, form: str = "b64") -> bytes:
        """Read ``size`` bytes of guest memory: ``b64`` (fastest) or ``hex``."""
        _form("read", form)
        size = _size("read", size)
        addr = _span("read", addr, size)
        if size == 0:
            return b""              # QEMU would abort on "read ADDR 0"
        if (ram := self._shared(addr, size)) is not None:
            return ram[addr:addr + size]
        if form == "b64":
            return base64.b64decode(self.command(f"b64read {addr:#x} {size:#x}"))
        return bytes.fromhex(self.command(f"read {addr:#x} {size:#x}")[2:])

    def write(self, addr: int, data: bytes, form: str = "b64", wait: bool = True) -> None:
        """Write bytes into guest memory: ``b64`` (fastest) or ``hex``; ``wait=False``
        posts it (see ``command``)."""
        _form("write", form)
        try:
            data = memoryview(data).tobytes()
        except TypeError:
            raise ArgumentError("write", "data", data, "must be bytes-like") from None
        addr = _span("write", addr, _size("write", len(data)))
        if not data:
            return
        if (ram := self._shared(addr, len(data))) is not None:
            ram[addr:addr + len(data)] = data
            return
        if form == "b64":
            self.command(f"b64write {addr:#x} {len(data):#x} {base64.b64encode(data).decode()}",
                         wait)
        else:
            self.command(f"write {addr:#x} {len(data):#x} 0x{data.hex()}", wait)

    def memset(self, addr: int, size: int, value: int = 0) -> None:
        """Fill ``size`` bytes of guest memory with the byte ``value``."""
        size, value = _size("memset", size), _uint("memset", "value", value, 8)
        if (ram := self._shared(_span("memset", addr, size), size)) is not None:
            ram[addr:addr + size] = bytes([value]) * size
            return
        self.command(f"memset {_span('memset', addr, size):#x} {size:#x} {value:#x}")

    def close(self) -> None:
        with self._lock:
            self._ram, self._ram_range = None, range(0)     # later calls fail on the socket
        self._sock.close()



def _name(line: str) -> str:
    return line.split(" ", 1)[0]


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
