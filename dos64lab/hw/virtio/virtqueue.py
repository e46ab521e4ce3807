"""hw layer: one split virtqueue in guest RAM, driven from the driver's side.

Virtio 1.x §2.7 ("Split Virtqueues").  Three areas the driver and the device share:

    descriptor table  desc[size]   {addr le64, len le32, flags le16, next le16}  driver writes
    available ring    avail        {flags, idx, ring[size], used_event}          driver writes
    used ring         used         {flags, idx, ring[size] {id le32, len le32},
                                    avail_event}                                  device writes

The driver adds a buffer by filling descriptors and putting the head's index in
avail.ring[avail.idx % size], then publishing avail.idx; it kicks (notifies) the
device unless the device set VRING_USED_F_NO_NOTIFY in used.flags.  The device
returns a buffer by writing {id, len} to used.ring[used.idx % size] and bumping
used.idx; the driver reaps from last_used_idx up to used.idx and puts the
descriptors back on its free list (free_head, num_free) -- as Linux virtio_ring.c.

The rings live in the DMA region, which ``Machine`` shares with QEMU (``Qtest.share_ram``):
``qtest.read``/``write`` there are memory copies, and the device may look at any moment.
So order matters, as in a real driver: ``add`` only changes a *shadow* copy of what the
driver owns; ``publish`` writes the changed descriptors, then the new avail.ring entries,
then avail.idx; ``reap`` reads used.idx, then the entries it covers.  The shadow is also
why the driver never reads back what it wrote itself.  (Without a shared mapping every
access is a qtest round trip, ~20-80 µs: the same few writes and reads keep that cheap.)
"""

import logging
import struct
import threading
from dataclasses import dataclass

from .transport import VirtioError

__all__ = ["Virtqueue", "split_layout", "SplitLayout",
           "VRING_DESC_F_NEXT", "VRING_DESC_F_WRITE", "VRING_DESC_F_INDIRECT",
           "VRING_AVAIL_F_NO_INTERRUPT", "VRING_USED_F_NO_NOTIFY"]

log = logging.getLogger(__name__)

VRING_DESC_F_NEXT = 1            # desc.flags: the chain continues at desc.next
VRING_DESC_F_WRITE = 2           # desc.flags: device writes this buffer (else reads it)
VRING_DESC_F_INDIRECT = 4        # desc.flags: buffer holds a table of descriptors
VRING_AVAIL_F_NO_INTERRUPT = 1   # avail.flags (driver): don't interrupt me, I poll
VRING_USED_F_NO_NOTIFY = 1       # used.flags (device): don't kick me, I'm busy anyway

_DESC = struct.Struct("<QIHH")   # addr, len, flags, next
_BARRIER = threading.Lock()
_USED_ELEM = struct.Struct("<II")   # id, len


@dataclass(frozen=True)
class SplitLayout:
    """Byte offsets of a split ring packed in one block (legacy layout, §2.7.2 legacy)."""
    size: int
    desc: int
    avail: int
    used: int
    total: int


def split_layout(size: int, align: int = 4096) -> SplitLayout:
    """desc at 0, avail right after it, used at the next ``align`` boundary."""
    avail = 16 * size
    used = (avail + 6 + 2 * size + align - 1) & ~(align - 1)
    return SplitLayout(size, 0, avail, used, used + 6 + 8 * size)


def desc_bytes(size): return 16 * size
def avail_bytes(size): return 6 + 2 * size
def used_bytes(size): return 6 + 8 * size


class Virtqueue:
    """The driver's half of a split virtqueue whose rings are already in guest RAM."""

    def __init__(self, qtest, index: int, size: int, desc: int, avail: int, used: int,
                 notify, *, poll_mode: bool = True):
        if size <= 0 or size & (size - 1) or size > 32768:
            raise ValueError(f"queue size {size}: a power of two up to 32768")
        self.qtest, self.index, self.size = qtest, index, size
        self.desc_addr, self.avail_addr, self.used_addr = desc, avail, used
        self._notify = notify                     # transport.notify(index): the doorbell
        # -- driver-owned shadow: exactly what we wrote to guest RAM ------------
        self.desc = [[0, 0, 0, (i + 1) % size] for i in range(size)]   # addr, len, flags, next
        self.avail_flags = VRING_AVAIL_F_NO_INTERRUPT if poll_mode else 0
        self.avail_ring = [0] * size
        self.avail_idx = 0            # next avail.idx (free-running u16, wraps at 65536)
        self.published_idx = 0        # avail.idx as the device can see it in RAM
        # -- driver-private bookkeeping -----------------------------------------
        self.free_head = 0            # first free descriptor; free ones chain through .next
        self.num_free = size
        self.last_used_idx = 0        # next used.ring slot the driver will reap
        self.tokens = [None] * size   # what each in-flight head means to the caller
        self._dirty = []              # descriptor indices changed since the last publish
        # -- device-owned, as last read -----------------------------------------
        self.used_flags = 0
        self.used_idx = 0
        self.used_ring = [(0, 0)] * size
        # -- counters ----------------------------------------------------------
        self.kicks = 0                # notifications sent
        self.kicks_suppressed = 0     # kicks skipped because of VRING_USED_F_NO_NOTIFY
        self._zero_rings()

    def _zero_rings(self) -> None:
        """Initial state in RAM: the desc table (free list), empty avail and used rings."""
        self.qtest.write(self.desc_addr, b"".join(_DESC.pack(*d) for d in self.desc))
        self.qtest.write(self.avail_addr, struct.pack("<HH", self.avail_flags, 0)
                         + bytes(2 * self.size + 2))
        self.qtest.memset(self.used_addr, used_bytes(self.size), 0)

    # -- adding buffers (driver side) -----------------------------------------
    def add(self, chain, token=None) -> int:
        """Put one buffer (a chain of ``(addr, len, device_writes)``) on the avail ring.

        Only the shadow changes; nothing reaches the device before ``publish()``.
        Returns the head descriptor index.
        """
        if not chain:
            raise ValueError("a buffer needs at least one descriptor")
        if len(chain) > self.num_free:
            raise VirtioError(f"queue {self.index} full: {self.num_free} of {self.size} "
                              f"descriptors free, {len(chain)} needed",
                              asked=f"add a {len(chain)}-descriptor buffer")
        head = i = self.free_head
        for n, (addr, length, writable) in enumerate(chain):
            d = self.desc[i]
            flags = VRING_DESC_F_WRITE if writable else 0
            if n < len(chain) - 1:
                flags |= VRING_DESC_F_NEXT
            d[0], d[1], d[2] = addr, length, flags    # d[3] (next) already links the chain
            self._dirty.append(i)
            last, i = i, d[3]
        self.free_head = self.desc[last][3] if self.num_free > len(chain) else self.size
        self.num_free -= len(chain)
        self.tokens[head] = token
        self.avail_ring[self.avail_idx % self.size] = head      # driver writes avail.ring
        self.avail_idx = (self.avail_idx + 1) & 0xFFFF
        return head

    def publish(self) -> None:
        """Write the changed descriptors, then the new avail.ring entries, then avail.idx
        (§2.7.13): the device may look at any moment, so it must never see an index
        whose entries are not there yet.  Each step is its own write, in that order."""
        if self._dirty:
            lo, hi = min(self._dirty), max(self._dirty)
            self.qtest.write(self.desc_addr + 16 * lo,
                             b"".join(_DESC.pack(*self.desc[i]) for i in range(lo, hi + 1)),
                             wait=False)
            self._dirty.clear()
        new = (self.avail_idx - self.published_idx) & 0xFFFF
        if new:
            first = self.published_idx % self.size
            end = self.size if first + new > self.size else first + new   # wrapped: whole ring
            self.qtest.write(self.avail_addr + 4, struct.pack(f"<{end}H", *self.avail_ring[:end]),
                             wait=False)
            self.qtest.write(self.avail_addr, struct.pack("<HH", self.avail_flags, self.avail_idx),
                             wait=False)
            self.published_idx = self.avail_idx

    def kick(self) -> bool:
        """Publish, then notify the device unless it asked not to be (used.flags)."""
        self.publish()
        # read used.flags only after avail.idx is visible (§2.7.13.4: a full barrier; a
        # lock's acquire is one on x86) -- else both sides could wait for the other
        with _BARRIER:
            pass
        self.used_flags = self.qtest.readw(self.used_addr)
        if self.used_flags & VRING_USED_F_NO_NOTIFY:
            self.kicks_suppressed += 1
            return False
        self._notify(self.index)
        self.kicks += 1
        return True

    # -- reaping used buffers -------------------------------------------------
    def reap(self, limit: int | None = None) -> list[tuple[object, int]]:
        """Take buffers the device returned: ``[(token, len), ...]`` in used order.

        used.flags and used.idx first, then the used.ring entries they cover.  ``len`` is how
        many bytes the device wrote into the buffer.
        """
        if not self.in_flight:
            return []                     # nothing lent to the device: nothing to read
        # at most in_flight entries from last_used_idx on: read no further than that
        self.used_flags, self.used_idx = struct.unpack("<HH", self.qtest.read(self.used_addr, 4))
        pending = (self.used_idx - self.last_used_idx) & 0xFFFF
        if pending:                       # then the entries idx covers (§2.7.14), no further
            start = self.last_used_idx % self.size
            end = self.size if start + pending > self.size else start + pending
            raw = self.qtest.read(self.used_addr + 4, 8 * end)
            self.used_ring[:end] = _USED_ELEM.iter_unpack(raw)
        if pending > self.size - self.num_free:
            raise VirtioError(f"queue {self.index}: used.idx {self.used_idx} is {pending} past "
                              f"last_used_idx {self.last_used_idx}, but only "
                              f"{self.size - self.num_free} descriptors are in flight",
                              asked="reap used buffers")
        done = []
        for _ in range(pending if limit is None else min(limit, pending)):
            head, length = self.used_ring[self.last_used_idx % self.size]
            done.append((self._detach(head), length))
            self.last_used_idx = (self.last_used_idx + 1) & 0xFFFF
        return done

    def _detach(self, head: int):
        """Give a returned chain back to the free list (it becomes the new free_head)."""
        if not 0 <= head < self.size or self.tokens[head] is None:
            raise VirtioError(f"queue {self.index}: device returned descriptor {head}, "
                              "which is not in flight", asked="reap used buffers")
        i, count = head, 1
        while self.desc[i][2] & VRING_DESC_F_NEXT:
            i = self.desc[i][3]
            count += 1
        self.desc[i][3] = self.free_head if self.num_free else 0   # last.next = old free_head
        self._dirty.append(i)
        self.free_head = head
        self.num_free += count
        token, self.tokens[head] = self.tokens[head], None
        return token

    def consistency(self) -> list[str]:
        """What is wrong with this ring's driver-side bookkeeping ([] when all is well).

        The free list, followed from free_head, must visit exactly num_free distinct
        descriptors; the heads with a token must account for every other descriptor.
        """
        problems, seen, i = [], set(), self.free_head
        for _ in range(self.num_free):
            if not 0 <= i < self.size or i in seen:
                problems.append(f"queue {self.index}: free list broken at descriptor {i} "
                                f"after {len(seen)} of num_free={self.num_free}")
                break
            seen.add(i)
            i = self.desc[i][3]
        held = heads = 0
        for head, token in enumerate(self.tokens):
            if token is not None:
                n, j, heads = 1, head, heads + 1
                while self.desc[j][2] & VRING_DESC_F_NEXT and n <= self.size:
                    j, n = self.desc[j][3], n + 1
                held += n
                if head in seen:
                    problems.append(f"queue {self.index}: descriptor {head} is both free and in flight")
        if held + self.num_free != self.size:
            problems.append(f"queue {self.index}: {held} descriptors in flight + num_free "
                            f"{self.num_free} != size {self.size}")
        if (self.avail_idx - self.last_used_idx) & 0xFFFF != heads:
            problems.append(f"queue {self.index}: avail.idx {self.avail_idx} - last_used_idx "
                            f"{self.last_used_idx} != {heads} buffers in flight")
        return problems

    @property
    def in_flight(self) -> int:
        """Descriptors the device holds (added, not yet reaped)."""
        return self.size - self.num_free

    # -- a picture of the state, as plain data --------------------------------
    def snapshot(self) -> dict:
        """Everything about the ring as plain data: for widgets, tests and notebooks.

        ``desc`` and ``avail`` are the driver's shadow (what is in guest RAM once
        published); ``used`` is the device's ring as last read by ``reap``.
        """
        return {
            "index": self.index, "size": self.size,
            "addresses": {"desc": self.desc_addr, "avail": self.avail_addr, "used": self.used_addr},
            "desc": [{"addr": a, "len": n, "flags": f, "next": x} for a, n, f, x in self.desc],
            "avail": {"flags": self.avail_flags, "idx": self.published_idx,
                      "ring": list(self.avail_ring)},
            "used": {"flags": self.used_flags, "idx": self.used_idx,
                     "ring": [{"id": i, "len": n} for i, n in self.used_ring]},
            "avail_idx": self.avail_idx, "last_used_idx": self.last_used_idx,
            "free_head": self.free_head, "num_free": self.num_free,
            "in_flight": [i for i, t in enumerate(self.tokens) if t is not None],
            "kicks": self.kicks, "kicks_suppressed": self.kicks_suppressed,
        }

    def __repr__(self):
        return (f"<Virtqueue {self.index} size={self.size} avail.idx={self.published_idx} "
                f"used.idx={self.used_idx} last_used_idx={self.last_used_idx} "
                f"free_head={self.free_head} num_free={self.num_free}>")
