"""hw layer: the two ways to reach a virtio PCI device's registers, behind one interface.

* ``LegacyTransport`` -- the legacy interface (virtio 1.x §4.1.4.8): registers in an
  I/O BAR at fixed offsets; 32 feature bits; a queue is one page-aligned block given
  by its page frame number; the queue size is the device's, fixed.
* ``ModernTransport`` -- the virtio 1.x PCI interface (§4.1.4): vendor capabilities
  point at a *common* configuration structure, a *notify* area, an *ISR* byte and the
  *device* configuration, all in memory BARs; 64 feature bits through a select
  register; the driver places desc/avail/used where it likes and may shrink a queue.

Both share the initialisation sequence of §3.1.1, which lives in ``Transport``:
reset -> ACKNOWLEDGE -> DRIVER -> features -> FEATURES_OK (modern: re-read, must stick)
-> queues -> DRIVER_OK.  When the device (or the spec) refuses a step, a
``VirtioError`` says what was asked and what the status register held.

One driver per device: a driver ``claim()``s the device before its first reset and
``release()``s it when it closes; a reset through any other transport of the same
device is refused while the claim is held, so nobody resets the card under a live
driver.  The claim is one atomic check-and-set, safe between threads.
"""

import logging
import threading
import time
import weakref

from ...errors import DeviceError
from .features import Feature, Status, feature_names, status_names

__all__ = ["Transport", "LegacyTransport", "ModernTransport", "VirtioError", "open_transport"]

log = logging.getLogger(__name__)


class VirtioError(DeviceError):
    """The device refused a step, or a step was asked out of order.

    ``status`` is the device status register when it happened (None if unread),
    ``asked`` what the driver tried to do.
    """

    def __init__(self, message: str, *, status: int | None = None, asked: str = ""):
        self.status, self.asked = status, asked
        parts = [message]
        if asked:
            parts.append(f"asked: {asked}")
        if status is not None:
            parts.append(f"status register: {status:#04x} "
                         f"({' | '.join(status_names(status)) or 'reset'})")
        super().__init__("; ".join(parts))


# qtest channel -> {device location: the driver holding it}; weak, so a forgotten
# driver's claim ends with it (a closed one's at once: see Transport.holder)
_claims: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()
_claims_lock = threading.Lock()


class Transport:
    """What a virtio driver needs from the bus.  Subclasses implement the registers.

    ``location`` names the device (its PCI bus/slot/function from ``open_transport``),
    so that two transports of one device -- legacy and modern -- share one claim.
    """

    kind = "?"
    #: feature bits this transport itself requires (modern: VIRTIO_F_VERSION_1)
    required_features = 0

    def __init__(self, qtest, location):
        self.qtest = qtest
        self.location = location
        self.owner = None            # the driver that claimed the device through us
        self.negotiated = 0          # features after the handshake (driver's view)
        self.offered = 0             # device features read during the handshake
        self.driver_status = 0       # the status bits this driver has set (its own belief)

    # -- one driver per device ------------------------------------------------
    def holder(self):
        """The live driver holding this device, or None."""
        held = _claims.get(self.qtest, {}).get(self.location)
        return None if held is None or getattr(held, "closed", False) else held

    def claim(self, owner) -> None:
        """Take the device for ``owner`` (atomic); DeviceError if another driver holds it."""
        with _claims_lock:
            held = self.holder()
            if held is not None and held is not owner:
                raise DeviceError(f"the NIC is already driven by {held!r}: close it first "
                                  "(two drivers would reset the card under each other)")
            _claims.setdefault(self.qtest, weakref.WeakValueDictionary())[self.location] = owner
            self.owner = owner

    def release(self, owner) -> None:
        with _claims_lock:
            table = _claims.get(self.qtest, {})
            if table.get(self.location) is owner:
                del table[self.location]

    # -- registers: implemented by each transport ---------------------------
    def read_status(self) -> int: raise NotImplementedError
    def write_status(self, value: int) -> None: raise NotImplementedError
    def device_features(self) -> int: raise NotImplementedError
    def write_driver_features(self, bits: int) -> None: raise NotImplementedError
    def num_queues(self) -> int: raise NotImplementedError
    def queue_max_size(self, index: int) -> int: raise NotImplementedError
    def read_isr(self) -> int: raise NotImplementedError
    def read_config(self, offset: int, size: int) -> bytes: raise NotImplementedError
    def notify(self, index: int) -> None: raise NotImplementedError

    def _setup_queue(self, index, size, desc, avail, used) -> None: raise NotImplementedError

    # -- the initialisation sequence (§3.1.1) --------------------------------
    def reset(self, timeout: float = 1.0) -> None:
        """Write 0 to the status register and wait until the device reads back 0."""
        held = self.holder()
        if held is not None and held is not self.owner:
            raise DeviceError(f"the NIC is driven by {held!r}: close it before resetting "
                              "the device through another transport")
        self.write_status(0)
        deadline = time.monotonic() + timeout
        while (status := self.read_status()) != 0:
            if time.monotonic() > deadline:
                raise VirtioError("device did not finish its reset", status=status, asked="reset")
            time.sleep(0.001)
        self.negotiated = self.driver_status = 0

    def add_status(self, bit: int) -> int:
        """Set one more status bit (keeping the others) and return the register read back."""
        status = self.read_status()
        if status & Status.DEVICE_NEEDS_RESET:
            raise VirtioError("device needs a reset", status=status,
                              asked=f"set {Status(bit).name}")
        self.write_status(status | bit)
        self.driver_status |= bit
        return self.read_status()

    def negotiate(self, wanted: int) -> int:
        """reset, ACKNOWLEDGE, DRIVER, write features, FEATURES_OK; returns the features.

        ``wanted`` must be a subset of what the device offers: the driver refuses
        otherwise (sets FAILED and raises), because a device is free to ignore bits it
        never offered -- QEMU silently drops them, and the driver would then believe in
        a feature the device does not use.
        """
        wanted |= self.required_features
        self.reset()
        self.add_status(Status.ACKNOWLEDGE)
        self.add_status(Status.DRIVER)
        self.offered = self.device_features()
        missing = wanted & ~self.offered
        if missing:
            self.write_status(self.read_status() | Status.FAILED)
            self.driver_status |= Status.FAILED
            raise VirtioError(f"device does not offer {', '.join(feature_names(missing))}",
                              status=self.read_status(),
                              asked=f"features {', '.join(feature_names(wanted))}")
        self.write_driver_features(wanted)
        self._features_ok(wanted)
        self.negotiated = wanted
        log.info("%s: negotiated %s", self.kind, feature_names(wanted))
        return wanted

    def _features_ok(self, wanted: int) -> None:
        """Modern: set FEATURES_OK and check it stuck.  Legacy has no such step."""
        status = self.add_status(Status.FEATURES_OK)
        if not status & Status.FEATURES_OK:
            raise VirtioError("device did not accept the features (FEATURES_OK did not stick)",
                              status=status, asked=f"features {', '.join(feature_names(wanted))}")

    @property
    def features_accepted(self) -> int:
        """The status bit that must be set before queues are set up."""
        return Status.FEATURES_OK

    def setup_queue(self, index: int, size: int, desc: int, avail: int, used: int) -> None:
        """Tell the device where queue ``index`` lives (after FEATURES_OK, before DRIVER_OK)."""
        status = self.read_status()
        asked = f"queue {index}: size {size}, desc {desc:#x}, avail {avail:#x}, used {used:#x}"
        if not status & self.features_accepted or status & (Status.DRIVER_OK | Status.FAILED):
            raise VirtioError("queues are set up after feature negotiation and before "
                              f"DRIVER_OK (need {Status(self.features_accepted).name})",
                              status=status, asked=asked)
        if not 0 <= index < self.num_queues():
            raise VirtioError(f"no queue {index} (device has {self.num_queues()})",
                              status=status, asked=asked)
        self._setup_queue(index, size, desc, avail, used)

    def driver_ok(self) -> None:
        status = self.add_status(Status.DRIVER_OK)
        if not status & Status.DRIVER_OK or status & Status.DEVICE_NEEDS_RESET:
            raise VirtioError("device did not go live", status=status, asked="DRIVER_OK")

    def check(self) -> int:
        """Read the status register; raise if the device needs a reset or the driver failed."""
        status = self.read_status()
        if status & (Status.DEVICE_NEEDS_RESET | Status.FAILED):
            raise VirtioError("device stopped working; reset it", status=status,
                              asked="check status")
        return status

    def describe(self) -> dict:
        return {"transport": self.kind}


class LegacyTransport(Transport):
    """Legacy registers in an I/O BAR (virtio 1.x §4.1.4.8; no MSI-X enabled)."""

    kind = "legacy"
    HOST_FEATURES, GUEST_FEATURES = 0, 4        # le32: device's offer / driver's choice
    QUEUE_PFN, QUEUE_SIZE, QUEUE_SELECT = 8, 12, 14
    QUEUE_NOTIFY, STATUS, ISR = 16, 18, 19
    CONFIG = 20                                 # device config (24 with MSI-X enabled)
    QUEUE_ALIGN = 4096                          # legacy ring layout alignment (§2.7.2 legacy)
    NUM_QUEUES = 3                              # virtio-net: rx, tx, ctrl (no register says so)

    def __init__(self, qtest, io_base: int, location=None):
        super().__init__(qtest, location or f"io {io_base:#x}")
        self.io_base = io_base

    def read_status(self): return self.qtest.inb(self.io_base + self.STATUS)
    def write_status(self, value): self.qtest.outb(self.io_base + self.STATUS, value)
    def device_features(self): return self.qtest.inl(self.io_base + self.HOST_FEATURES)
    def read_isr(self): return self.qtest.inb(self.io_base + self.ISR)
    def notify(self, index): self.qtest.outw(self.io_base + self.QUEUE_NOTIFY, index, wait=False)
    def num_queues(self): return self.NUM_QUEUES

    def write_driver_features(self, bits):
        if bits >> 32:
            raise VirtioError("the legacy interface has 32 feature bits",
                              asked=f"features {', '.join(feature_names(bits))}")
        self.qtest.outl(self.io_base + self.GUEST_FEATURES, bits)

    def _features_ok(self, wanted):
        pass                                    # legacy devices have no FEATURES_OK step

    @property
    def features_accepted(self):
        return Status.DRIVER

    def queue_max_size(self, index):
        with self.qtest.transaction():          # select, then read: nobody between
            self.qtest.outw(self.io_base + self.QUEUE_SELECT, index)
            return self.qtest.inw(self.io_base + self.QUEUE_SIZE)

    def _setup_queue(self, index, size, desc, avail, used):
        device_size = self.queue_max_size(index)
        if size != device_size:
            raise VirtioError(f"a legacy queue has the device's size, {device_size}",
                              status=self.read_status(), asked=f"queue {index}: size {size}")
        from .virtqueue import split_layout      # legacy rings are one contiguous block
        layout = split_layout(size, self.QUEUE_ALIGN)
        if desc % 4096 or avail != desc + layout.avail or used != desc + layout.used:
            raise VirtioError("legacy rings must be one page-aligned block: avail after desc, "
                              "used at the next 4096-byte boundary", status=self.read_status(),
                              asked=f"queue {index}: desc {desc:#x}, avail {avail:#x}, used {used:#x}")
        self.qtest.outl(self.io_base + self.QUEUE_PFN, desc >> 12)

    def read_config(self, offset, size):
        return bytes(self.qtest.inb(self.io_base + self.CONFIG + offset + i) for i in range(size))

    def describe(self):
        return {"transport": self.kind, "io_base": self.io_base}


class ModernTransport(Transport):
    """virtio 1.x PCI: common cfg, notify, ISR and device cfg in memory BARs (§4.1.4)."""

    kind = "modern"
    required_features = Feature.VIRTIO_F_VERSION_1
    # struct virtio_pci_common_cfg (§4.1.4.3): (offset, width); "driver"/"device" = who writes
    DEVICE_FEATURE_SELECT = 0x00, 4     # driver
    DEVICE_FEATURE = 0x04, 4            # device (read-only)
    DRIVER_FEATURE_SELECT = 0x08, 4     # driver
    DRIVER_FEATURE = 0x0C, 4            # driver
    MSIX_CONFIG = 0x10, 2
    NUM_QUEUES = 0x12, 2                # device
    DEVICE_STATUS = 0x14, 1             # driver writes, device may clear / add NEEDS_RESET
    CONFIG_GENERATION = 0x15, 1         # device
    QUEUE_SELECT = 0x16, 2              # driver
    QUEUE_SIZE = 0x18, 2                # device writes the maximum; driver may lower it
    QUEUE_MSIX_VECTOR = 0x1A, 2
    QUEUE_ENABLE = 0x1C, 2              # driver writes 1 when the queue is ready
    QUEUE_NOTIFY_OFF = 0x1E, 2          # device
    QUEUE_DESC = 0x20                   # le64, driver (written as two le32 halves)
    QUEUE_DRIVER = 0x28                 # le64: the avail ring
    QUEUE_DEVICE = 0x30                 # le64: the used ring

    def __init__(self, qtest, *, common: int, notify: int, notify_off_multiplier: int,
                 isr: int, device: int, location=None):
        super().__init__(qtest, location or f"common {common:#x}")
        self.common, self.notify_base, self.isr, self.device = common, notify, isr, device
        self.notify_off_multiplier = notify_off_multiplier
        self._notify_addr: dict[int, int] = {}

    def _read(self, reg) -> int:
        offset, width = reg
        return {1: self.qtest.readb, 2: self.qtest.readw, 4: self.qtest.readl}[width](
            self.common + offset)

    def _write(self, reg, value) -> None:
        offset, width = reg
        {1: self.qtest.writeb, 2: self.qtest.writew, 4: self.qtest.writel}[width](
            self.common + offset, value)

    def _write64(self, offset, value) -> None:
        self.qtest.writel(self.common + offset, value & 0xFFFFFFFF)
        self.qtest.writel(self.common + offset + 4, value >> 32)

    def read_status(self): return self._read(self.DEVICE_STATUS)
    def write_status(self, value): self._write(self.DEVICE_STATUS, value)
    def read_isr(self): return self.qtest.readb(self.isr)
    def num_queues(self): return self._read(self.NUM_QUEUES)

    # Registers behind a select register are read and written in qtest transactions:
    # another thread's select cannot slip between ours and the access.
    def device_features(self):
        bits = 0
        with self.qtest.transaction():
            for word in (0, 1):
                self._write(self.DEVICE_FEATURE_SELECT, word)
                bits |= self._read(self.DEVICE_FEATURE) << (32 * word)
        return bits

    def write_driver_features(self, bits):
        with self.qtest.transaction():
            for word in (0, 1):
                self._write(self.DRIVER_FEATURE_SELECT, word)
                self._write(self.DRIVER_FEATURE, bits >> (32 * word) & 0xFFFFFFFF)

    def queue_max_size(self, index):
        with self.qtest.transaction():
            self._write(self.QUEUE_SELECT, index)
            return self._read(self.QUEUE_SIZE)

    def _setup_queue(self, index, size, desc, avail, used):
        with self.qtest.transaction():
            self._setup_selected_queue(index, size, desc, avail, used)

    def _setup_selected_queue(self, index, size, desc, avail, used):
        maximum = self.queue_max_size(index)            # also selects the queue
        asked = f"queue {index}: size {size}"
        if not 0 < size <= maximum or size & (size - 1):
            raise VirtioError(f"queue size must be a power of two, 1..{maximum}",
                              status=self.read_status(), asked=asked)
        self._write(self.QUEUE_SIZE, size)
        if (got := self._read(self.QUEUE_SIZE)) != size:
            raise VirtioError(f"device kept queue size {got}", status=self.read_status(),
                              asked=asked)
        self._write64(self.QUEUE_DESC, desc)
        self._write64(self.QUEUE_DRIVER, avail)
        self._write64(self.QUEUE_DEVICE, used)
        off = self._read(self.QUEUE_NOTIFY_OFF)
        self._notify_addr[index] = self.notify_base + off * self.notify_off_multiplier
        self._write(self.QUEUE_ENABLE, 1)
        if self._read(self.QUEUE_ENABLE) != 1:
            raise VirtioError("device did not enable the queue", status=self.read_status(),
                              asked=asked)

    def notify(self, index):
        self.qtest.writew(self._notify_addr[index], index, wait=False)     # posted

    def reset(self, timeout=1.0):
        super().reset(timeout)
        self._notify_addr.clear()

    def read_config(self, offset, size):
        """Device config, re-read until config_generation is stable (§4.1.4.3.1)."""
        while True:
            before = self._read(self.CONFIG_GENERATION)
            data = bytes(self.qtest.readb(self.device + offset + i) for i in range(size))
            if self._read(self.CONFIG_GENERATION) == before:
                return data

    def describe(self):
        return {"transport": self.kind, "common": self.common, "notify": self.notify_base,
                "notify_off_multiplier": self.notify_off_multiplier, "isr": self.isr,
                "device": self.device}


def open_transport(qtest, kind: str | None = None, *, vendor: int = 0x1AF4) -> Transport:
    """Find the virtio-net PCI function, enable it and return its transport.

    ``kind``: "legacy" (the I/O BAR of a transitional device), "modern" (the virtio
    capabilities), or None: legacy when the device has an I/O BAR, else modern.
    """
    from ..pci import enable, find                  # hw.pci: config space, BARs, capabilities
    fn = find(qtest, vendor)                        # DeviceError if there is none
    enable(qtest, fn, io=True, memory=True, bus_master=True)
    io_bars = [b for b in fn.bars if b.kind == "io"]
    if kind is None:
        kind = "legacy" if io_bars else "modern"
    if kind == "legacy":
        if not io_bars:
            raise DeviceError(f"{fn.vendor:04x}:{fn.device:04x} has no I/O BAR: it is a "
                              "modern-only device (disable-legacy=on); use the modern transport")
        return LegacyTransport(qtest, io_bars[0].address, location=fn.bdf)
    if kind != "modern":
        raise ValueError(f"transport {kind!r}: expected legacy, modern or None")

    def where(cfg_name):                            # the first capability of each kind
        cap = fn.virtio_cap(cfg_name).data
        return fn.bar(cap["bar"]).address + cap["offset"]

    return ModernTransport(qtest, common=where("common"), notify=where("notify"),
                           notify_off_multiplier=fn.virtio_cap("notify").data["notify_off_multiplier"],
                           isr=where("isr"), device=where("device"), location=fn.bdf)
