"""hw layer: the virtio network device (virtio 1.x §5.1) on top of a transport and two queues.

Queue 0 receives, queue 1 transmits (§5.1.2).  Every buffer starts with a
``struct virtio_net_hdr`` (§5.1.6): 10 bytes for a legacy driver without
VIRTIO_NET_F_MRG_RXBUF, 12 bytes (``num_buffers`` added) with VIRTIO_F_VERSION_1 or
MRG_RXBUF.  Getting that length wrong shifts every frame by two bytes.  With no
offloads negotiated the header is all zeros on transmit.

Buffers: each queue owns ``size`` slots of ``BUFFER_SIZE`` bytes in the DMA region,
one descriptor per buffer (header and frame together: VIRTIO_F_ANY_LAYOUT on
legacy, always allowed with VERSION_1).  All RX slots are posted at start and
re-posted as soon as they are reaped; a TX slot comes back when its used entry
is reaped.  Frames are moved in batches: neighbouring slots are written or read
in one qtest command when the bytes in between are few.

Threads: one lock guards the rings, the buffers and the counters, so any number of
threads may send and receive through one device; a batch is sent in order.  The
device is claimed (``Transport.claim``) before its first reset, so a second driver
on the same card is refused instead of resetting it under this one.
"""

import collections
import contextlib
import logging
import struct
import threading
import time

from ...errors import DeviceError
from ..dma import DmaAllocator
from .features import Feature, feature_names
from .transport import Transport, VirtioError
from .virtqueue import Virtqueue, split_layout, desc_bytes, avail_bytes, used_bytes

__all__ = ["VirtioNet", "RX_QUEUE", "TX_QUEUE", "BUFFER_SIZE", "DEFAULT_FEATURES"]

log = logging.getLogger(__name__)

RX_QUEUE, TX_QUEUE = 0, 1
BUFFER_SIZE = 2048              # >= 12-byte header + 1526-byte frame (with a VLAN tag)
MAX_GAP = 1024                  # merge two slots into one qtest command if <= this many
                                # unused bytes lie between them (~ the cost of a round trip)
#: Asked for by default: the MAC in device config, and the link status word.  No offloads.
DEFAULT_FEATURES = Feature.VIRTIO_NET_F_MAC | Feature.VIRTIO_NET_F_STATUS
VIRTIO_NET_S_LINK_UP = 1


class VirtioNet:
    """A virtio-net device driven through ``transport``, rings and buffers in ``dma``.

    ``features``: extra feature bits to ask for (they must be offered).
    ``queue_size``: None for the device's maximum; modern devices accept a smaller
    power of two, legacy ones only their own size.
    """

    def __init__(self, transport: Transport, dma: DmaAllocator, *, features: int = 0,
                 queue_size: int | None = None):
        self.transport, self.qtest, self.dma = transport, transport.qtest, dma
        self.asked_features = DEFAULT_FEATURES | features
        self.queue_size = queue_size
        self.auto_refill = True     # re-post RX buffers as soon as they are reaped
        self.closed = False
        self._regions = []
        self._lock = threading.RLock()
        transport.claim(self)       # before the first reset: DeviceError if another driver holds it
        try:
            self.start()
        except BaseException:
            self.closed = True
            self._free_regions()
            transport.release(self)
            raise

    # -- bring-up (§3.1.1, §5.1.5) -------------------------------------------
    def start(self) -> None:
        """The whole initialisation: handshake, queues, RX buffers posted, DRIVER_OK."""
        t = self.transport
        wanted = self.asked_features
        if t.kind == "legacy":
            wanted |= Feature.VIRTIO_F_ANY_LAYOUT     # one descriptor for header + frame
        self.features = t.negotiate(wanted)
        self.header_len = 12 if self.features & (Feature.VIRTIO_F_VERSION_1
                                                 | Feature.VIRTIO_NET_F_MRG_RXBUF) else 10
        config = t.read_config(0, 12)
        self.mac = config[:6]                         # device config: mac[6], status le16, ...
        self.mtu = (struct.unpack_from("<H", config, 10)[0]
                    if self.features & Feature.VIRTIO_NET_F_MTU else 1500)
        self.max_frame = self.mtu + 14
        self.rx = self._make_queue(RX_QUEUE)
        self.tx = self._make_queue(TX_QUEUE)
        self.rx_slots = self._buffers(self.rx.size, "rx buffers")
        self._tx_slots = self._buffers(self.tx.size, "tx buffers")
        self.tx_free = collections.deque(self._tx_slots)
        t.driver_ok()
        self._rx_ready = collections.deque()          # frames reaped, not yet handed out
        # rx_ring_ran_dry: reaps that found every posted RX buffer used.  The device then had
        # nowhere to put the next frames: they wait in QEMU's queue and, past its limit,
        # are dropped -- without telling the driver.  Receive while sending big batches.
        self.stats = collections.Counter(tx_frames=0, tx_bytes=0, rx_frames=0, rx_bytes=0,
                                         rx_ring_ran_dry=0)
        self.refill_rx()
        log.info("virtio-net %s up: mac %s, features %s, queues %d/%d", t.kind,
                 self.mac.hex(":"), feature_names(self.features), self.rx.size, self.tx.size)

    def _make_queue(self, index: int) -> Virtqueue:
        t = self.transport
        maximum = t.queue_max_size(index)
        size = self.queue_size or maximum
        if t.kind == "legacy":          # one block: desc, avail, then used on a page boundary
            layout = split_layout(size, 4096)
            block = self._alloc(layout.total, 4096, f"queue {index} rings")
            desc, avail, used = block + layout.desc, block + layout.avail, block + layout.used
        else:                           # modern: three areas anywhere (§2.7: alignments 16, 2, 4)
            desc = self._alloc(desc_bytes(size), 16, f"queue {index} desc")
            avail = self._alloc(avail_bytes(size), 2, f"queue {index} avail")
            used = self._alloc(used_bytes(size), 4, f"queue {index} used")
        t.setup_queue(index, size, desc, avail, used)   # checks status and size first
        return Virtqueue(self.qtest, index, size, desc, avail, used, t.notify)

    def _alloc(self, size, align, tag) -> int:
        region = self.dma.alloc(size, align, tag)
        self._regions.append(region)
        return region.addr

    def _buffers(self, count, tag) -> list[int]:
        base = self._alloc(count * BUFFER_SIZE, 4096, tag)
        return [base + i * BUFFER_SIZE for i in range(count)]

    # -- receive -----------------------------------------------------------------
    def refill_rx(self, count: int | None = None) -> int:
        """Post free RX buffers (all, or ``count``) and kick.  Returns how many."""
        with self._lock:
            self._check_open()
            in_flight = set(t for t in self.rx.tokens if t is not None)
            free = [s for s in self.rx_slots if s not in in_flight][:count]
            for slot in free:
                self.rx.add([(slot, BUFFER_SIZE, True)], token=slot)   # device writes it
            if free:
                self.rx.kick()
            return len(free)

    def receive_batch(self, limit: int | None = None) -> list[bytes]:
        """Every frame the device has delivered (at most ``limit``), oldest first."""
        with self._lock:
            self._check_open()
            return self._receive_batch(limit)

    def _receive_batch(self, limit):
        frames = []
        while self._rx_ready and (limit is None or len(frames) < limit):
            frames.append(self._rx_ready.popleft())
        if limit is not None and len(frames) >= limit:
            return frames
        posted, start = self.rx.in_flight, self.rx.last_used_idx
        used = self.rx.reap(None if limit is None else limit - len(frames))
        if not used:
            return frames
        if (self.rx.used_idx - start) & 0xFFFF == posted:     # the device used every buffer
            self.stats["rx_ring_ran_dry"] += 1
        for slot, length in used:
            if length < self.header_len:
                raise VirtioError(f"RX buffer {slot:#x}: device wrote {length} bytes, "
                                  f"less than the {self.header_len}-byte header",
                                  asked="receive")
        data = read_pieces(self.qtest, [(slot, length) for slot, length in used])
        for raw in data:
            frames.append(raw[self.header_len:])
            self.stats["rx_bytes"] += len(raw) - self.header_len
        self.stats["rx_frames"] += len(used)
        if self.auto_refill:
            for slot, _ in used:
                self.rx.add([(slot, BUFFER_SIZE, True)], token=slot)
            self.rx.kick()
        return frames

    def receive(self) -> bytes | None:
        """One frame, or None when none has arrived."""
        with self._lock:
            self._check_open()
            if not self._rx_ready:
                self._rx_ready.extend(self._receive_batch(None))
            return self._rx_ready.popleft() if self._rx_ready else None

    # -- transmit ----------------------------------------------------------------
    def send_batch(self, frames, timeout: float = 2.0) -> None:
        """Queue frames for transmission, in order; kicks once per ring-full.

        ``frames`` is an iterable of bytes-like frames.  The call returns once every
        frame is on the TX ring; it waits up to ``timeout`` for free TX buffers.  The
        device sends as fast as the peer takes frames; what comes back while no RX
        buffer is posted waits in QEMU and is dropped past its queue's limit (see
        ``stats["rx_ring_ran_dry"]``), so receive while sending large batches.
        """
        frames = self._check_frames(frames)
        header = bytes(self.header_len)                # no offloads: an all-zero header
        for start in range(0, len(frames), self.tx.size):
            chunk = frames[start:start + self.tx.size]
            with self._wait_tx(len(chunk), timeout):   # holds the lock when enough are free
                pieces = [(self.tx_free.popleft(), header + f) for f in chunk]
                write_pieces(self.qtest, pieces)
                for slot, data in pieces:
                    self.tx.add([(slot, len(data), False)], token=slot)   # device reads it
                self.tx.kick()
                self.stats["tx_frames"] += len(chunk)
                self.stats["tx_bytes"] += sum(map(len, chunk))

    def send(self, frame) -> None:
        """Queue one bytes-like frame."""
        if not isinstance(frame, (bytes, bytearray, memoryview)):
            raise DeviceError(f"send() takes one frame as bytes, bytearray or memoryview, "
                              f"not {_describe(frame)}")
        self.send_batch([frame])

    def _check_frames(self, frames) -> list[bytes]:
        """Frames as a list of bytes, each 14..max_frame long; DeviceError otherwise."""
        if isinstance(frames, (bytes, bytearray, memoryview, str)):
            raise DeviceError(f"send_batch() takes an iterable of frames, not one "
                              f"{_describe(frames)}: use send(frame) for one frame")
        try:
            frames = list(frames)
        except TypeError:
            raise DeviceError(f"send_batch() takes an iterable of frames, not "
                              f"{_describe(frames)}") from None
        for i, f in enumerate(frames):
            if not isinstance(f, (bytes, bytearray, memoryview)):
                raise DeviceError(f"frame {i}: expected bytes, bytearray or memoryview, "
                                  f"not {_describe(f)}")
            if not 14 <= len(f) <= self.max_frame:
                raise DeviceError(f"frame of {len(f)} bytes: an Ethernet frame here is 14.."
                                  f"{self.max_frame} bytes (MTU {self.mtu} + 14-byte header)")
        return [bytes(f) for f in frames]

    def reap_tx(self) -> int:
        """Take back TX buffers the device has finished with.  Returns how many."""
        with self._lock:
            self._check_open()
            done = self.tx.reap()
            self.tx_free.extend(slot for slot, _ in done)
            return len(done)

    @contextlib.contextmanager
    def _wait_tx(self, needed: int, timeout: float):
        """Reap until ``needed`` TX buffers are free, then hold the lock for the caller.

        The lock is let go between tries, so receivers and other senders go on.
        """
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                self._check_open()
                if self.tx.num_free < needed:
                    self.reap_tx()
                if self.tx.num_free >= needed:
                    yield
                    return
                if time.monotonic() > deadline:
                    self.transport.check()
                    raise VirtioError(f"TX queue stuck: {self.tx.in_flight} buffers not "
                                      f"returned after {timeout} s", asked=f"send {needed} frames")
            time.sleep(0.0002)

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until the device has returned every TX buffer."""
        with self._wait_tx(self.tx.size, timeout):
            pass

    # -- life cycle --------------------------------------------------------------
    def check(self) -> int:
        """Read the status register; raise VirtioError if the device needs a reset."""
        self._check_open()
        return self.transport.check()

    def reset(self) -> None:
        """Reset the device and start again: fresh rings, all buffers free."""
        with self._lock:
            self._check_open()
            self.transport.reset()
            self._free_regions()
            self.start()

    def close(self) -> None:
        """Reset the device (it stops touching our memory) and free the DMA areas."""
        with self._lock:
            if self.closed:
                return
            self.closed = True
            try:
                self.transport.reset()
            finally:
                self._free_regions()
                self.transport.release(self)

    def consistency(self) -> list[str]:
        """What is wrong with the driver's own bookkeeping ([] when all is well).

        Every buffer slot is either posted to the device or free, exactly once, and each
        ring's free list holds exactly ``num_free`` descriptors.
        """
        with self._lock:
            problems = self.rx.consistency() + self.tx.consistency()
            posted_tx = [t for t in self.tx.tokens if t is not None]
            if sorted(posted_tx + list(self.tx_free)) != sorted(self._tx_slots):
                problems.append(f"tx buffers: {len(self.tx_free)} free + {len(posted_tx)} in "
                                f"flight, expected each of {len(self._tx_slots)} exactly once")
            posted_rx = [t for t in self.rx.tokens if t is not None]
            if len(set(posted_rx)) != len(posted_rx) or not set(posted_rx) <= set(self.rx_slots):
                problems.append("rx buffers: a slot is posted twice or is not ours")
            return problems

    def _free_regions(self):
        for region in self._regions:
            self.dma.free(region)
        self._regions.clear()

    def _check_open(self):
        if self.closed:
            raise DeviceError("virtio-net device was closed; open a new one")

    def link_up(self) -> bool | None:
        """The link status bit (None when VIRTIO_NET_F_STATUS was not negotiated)."""
        if not self.features & Feature.VIRTIO_NET_F_STATUS:
            return None
        return bool(struct.unpack("<H", self.transport.read_config(6, 2))[0]
                    & VIRTIO_NET_S_LINK_UP)


def _describe(value) -> str:
    text = repr(value)
    return f"{type(value).__name__} {text[:40] + '…' if len(text) > 40 else text}"


def _runs(pieces):
    """Group ``(addr, length)`` by address into runs with small gaps between members."""
    runs = []
    for i in sorted(range(len(pieces)), key=lambda i: pieces[i][0]):
        addr, length = pieces[i]
        if runs and 0 <= addr - runs[-1][1] <= MAX_GAP:
            runs[-1][1] = max(runs[-1][1], addr + length)
            runs[-1][2].append(i)
        else:
            runs.append([addr, addr + length, [i]])
    return runs


def write_pieces(qtest, pieces) -> None:
    """Write ``[(addr, data)]``: one qtest write per run of nearby pieces (gaps zeroed).

    Only safe where the gaps are nobody's bytes -- here, the unused tails of buffer slots.
    """
    for start, end, members in _runs([(a, len(d)) for a, d in pieces]):
        buf = bytearray(end - start)
        for i in members:
            addr, data = pieces[i]
            buf[addr - start:addr - start + len(data)] = data
        qtest.write(start, bytes(buf), wait=False)     # posted: the kick's read waits


def read_pieces(qtest, pieces) -> list[bytes]:
    """Read ``[(addr, length)]``: one qtest read per run of nearby pieces."""
    out = [b""] * len(pieces)
    for start, end, members in _runs(pieces):
        raw = qtest.read(start, end - start)
        for i in members:
            addr, length = pieces[i]
            out[i] = raw[addr - start:addr - start + length]
    return out
