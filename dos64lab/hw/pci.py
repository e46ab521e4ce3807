"""hw layer: PCI enumeration -- config space, BARs and capabilities.

One job: find the PCI functions of the machine and describe them as plain data,
the way a kernel's PCI code does at boot.  It follows the PCI Local Bus
Specification 3.0: configuration mechanism #1 (§3.2.2.3.2, ports 0xCF8/0xCFC),
the type 0/1 header (§6.1), BAR sizing (§6.2.5.1) and the capability list
(§6.7); MSI-X (§6.8.2) and the virtio vendor capabilities (virtio 1.x §4.1.4)
are decoded.

Every access is a port I/O through the qtest channel, exactly the ``out``/``in``
instructions a kernel would execute.  SeaBIOS has already assigned BAR
addresses before DOS64 boots; we size BARs and keep those addresses.
Nothing is cached: ``scan`` reads the hardware each time and returns values.
"""

import logging
from dataclasses import dataclass

from ..errors import DeviceError
from . import pci_ids

log = logging.getLogger(__name__)

__all__ = ["scan", "find", "enable", "PciFunction", "Bar", "Capability", "ConfigSpace",
           "config_address"]

# -- configuration mechanism #1 -------------------------------------------------
CONFIG_ADDRESS = 0xCF8          # write: which function and dword to reach
CONFIG_DATA = 0xCFC             # read/write: that dword (0xCFC..0xCFF for smaller widths)
CONFIG_ENABLE = 1 << 31

# -- header registers, common to all header types ------------------------------
VENDOR_ID = 0x00                # 16 bits; 0xffff: no function here
DEVICE_ID = 0x02
COMMAND = 0x04
STATUS = 0x06
REVISION_ID = 0x08
PROG_IF = 0x09
SUBCLASS = 0x0A
CLASS_CODE = 0x0B
CACHE_LINE_SIZE = 0x0C
LATENCY_TIMER = 0x0D
HEADER_TYPE = 0x0E              # bits 0-6: layout (0 device, 1 PCI-PCI bridge); bit 7: multi-function
BIST = 0x0F
BAR0 = 0x10                     # type 0: six BARs 0x10..0x24; type 1: two, 0x10 and 0x14
CAPABILITIES_POINTER = 0x34     # valid when STATUS_CAP_LIST is set
INTERRUPT_LINE = 0x3C
INTERRUPT_PIN = 0x3D
# type 0 (device) only
SUBSYSTEM_VENDOR_ID = 0x2C
SUBSYSTEM_ID = 0x2E
# type 1 (PCI-PCI bridge) only
PRIMARY_BUS = 0x18
SECONDARY_BUS = 0x19            # the bus behind the bridge
SUBORDINATE_BUS = 0x1A          # the highest bus number behind the bridge

HEADER_TYPE_MASK = 0x7F
HEADER_MULTIFUNCTION = 0x80
HEADER_DEVICE, HEADER_BRIDGE = 0, 1
BAR_COUNT = {HEADER_DEVICE: 6, HEADER_BRIDGE: 2}

COMMAND_IO = 1 << 0             # respond to I/O BARs
COMMAND_MEMORY = 1 << 1         # respond to memory BARs
COMMAND_BUS_MASTER = 1 << 2     # may start DMA (virtio rings live in guest RAM)
COMMAND_INTX_DISABLE = 1 << 10
STATUS_CAP_LIST = 1 << 4

BAR_IO = 0x1                    # bit 0 of a BAR: 1 = I/O space
BAR_MEM_TYPE_64 = 0x4           # bits 1-2 of a memory BAR: 0b10 = 64-bit (takes two slots)
BAR_PREFETCHABLE = 0x8

CAP_NAMES = {0x01: "PM", 0x03: "VPD", 0x05: "MSI", 0x09: "Vendor", 0x0C: "HotPlug",
             0x0D: "SSVID", 0x10: "PCIe", 0x11: "MSI-X", 0x12: "SATA"}
CAP_VENDOR, CAP_MSIX = 0x09, 0x11

# virtio 1.x §4.1.4: struct virtio_pci_cap, at the capability's offset
VIRTIO_CAP_CFG_TYPE = 3
VIRTIO_CAP_BAR = 4
VIRTIO_CAP_OFFSET = 8
VIRTIO_CAP_LENGTH = 12
VIRTIO_NOTIFY_OFF_MULTIPLIER = 16    # only in the notify capability (cfg_type 2)
VIRTIO_CFG_NAMES = {1: "common", 2: "notify", 3: "isr", 4: "device", 5: "pci"}
VIRTIO_VENDOR = 0x1AF4


def config_address(bus: int, slot: int, function: int, offset: int) -> int:
    """The dword written to CONFIG_ADDRESS (0xCF8) to reach ``offset``'s dword.

    bit 31 enable | bits 23-16 bus | 15-11 device (slot) | 10-8 function | 7-2 register
    """
    return CONFIG_ENABLE | bus << 16 | slot << 11 | function << 8 | (offset & 0xFC)


class ConfigSpace:
    """The 256-byte configuration space of one function, via mechanism #1.

    Each access selects the dword at 0xCF8, then reads or writes 0xCFC plus the
    byte offset within that dword: two port accesses (two qtest round trips).
    """

    def __init__(self, qtest, bus: int, slot: int, function: int):
        self.qtest, self.bus, self.slot, self.function = qtest, bus, slot, function

    def _select(self, offset: int) -> int:
        if not 0 <= offset < 256:
            raise ValueError(f"config offset {offset:#x} outside 0..0xff")
        self.qtest.outl(CONFIG_ADDRESS, config_address(self.bus, self.slot, self.function, offset))
        return CONFIG_DATA + (offset & 3)

    # select + access is one qtest transaction: another thread's select can't slip between
    def _read(self, offset, width):
        with self.qtest.transaction():
            return getattr(self.qtest, "in" + width)(self._select(offset))

    def _write(self, offset, width, value):
        with self.qtest.transaction():
            getattr(self.qtest, "out" + width)(self._select(offset), value)

    def read8(self, offset: int) -> int: return self._read(offset, "b")
    def read16(self, offset: int) -> int: return self._read(offset, "w")
    def read32(self, offset: int) -> int: return self._read(offset, "l")
    def write8(self, offset: int, value: int) -> None: self._write(offset, "b", value)
    def write16(self, offset: int, value: int) -> None: self._write(offset, "w", value)
    def write32(self, offset: int, value: int) -> None: self._write(offset, "l", value)

    def dump(self, size: int = 256) -> bytes:
        """The first ``size`` bytes, read a dword at a time (for hex dumps)."""
        return b"".join(self.read32(o).to_bytes(4, "little") for o in range(0, size, 4))

    def __repr__(self):
        return f"<ConfigSpace {self.bus:02x}:{self.slot:02x}.{self.function}>"


@dataclass(frozen=True)
class Bar:
    """One base address register: where a function's registers or memory sit."""
    index: int                  # 0..5; a 64-bit BAR uses index and index + 1
    kind: str                   # "io", "mem32" or "mem64"
    address: int                # as SeaBIOS assigned it (type bits masked off)
    size: int                   # bytes decoded, found by sizing
    prefetchable: bool

    @property
    def offset(self) -> int:
        """Where this BAR's register is in config space."""
        return BAR0 + 4 * self.index


@dataclass(frozen=True)
class Capability:
    """One entry of the capability list, with its fields decoded into ``data``."""
    offset: int                 # where it is in config space
    id: int
    name: str                   # "MSI-X", "Vendor", ... (CAP_NAMES)
    data: dict                  # decoded fields (see _decode_capability)
    next: int = 0               # offset of the next capability, 0 at the end


@dataclass(frozen=True)
class PciFunction:
    """What enumeration learned about one function, as plain data."""
    bus: int
    slot: int
    function: int
    vendor: int
    device: int
    revision: int
    class_code: int
    subclass: int
    prog_if: int
    header_type: int            # layout only (bit 7 masked off)
    multifunction: bool
    command: int
    status: int
    bars: tuple                 # tuple[Bar, ...]
    capabilities: tuple         # tuple[Capability, ...], in list order
    vendor_name: str
    device_name: str
    class_name: str
    secondary_bus: int | None = None    # bridges only: the bus behind

    @property
    def bdf(self) -> str:
        """``"00:01.0"``: bus:device.function, as lspci prints it."""
        return f"{self.bus:02x}:{self.slot:02x}.{self.function}"

    def config(self, qtest) -> ConfigSpace:
        return ConfigSpace(qtest, self.bus, self.slot, self.function)

    def bar(self, index: int) -> Bar:
        for b in self.bars:
            if b.index == index:
                return b
        raise DeviceError(f"{self.bdf} has no BAR{index}")

    def capability(self, name_or_id) -> Capability | None:
        """The first capability with this id (0x11) or name ("MSI-X"), else None."""
        for cap in self.capabilities:
            if name_or_id in (cap.id, cap.name):
                return cap
        return None

    @property
    def virtio_caps(self) -> tuple:
        """The virtio vendor capabilities, in list order (virtio 1.x §4.1.4)."""
        return tuple(c for c in self.capabilities if "cfg_type" in c.data)

    def virtio_cap(self, cfg_name: str) -> Capability:
        """The first virtio capability of a type ("common", "notify", ...): the
        spec lets a device offer several and the driver uses the first."""
        for cap in self.virtio_caps:
            if cap.data["cfg_name"] == cfg_name:
                return cap
        raise DeviceError(f"{self.bdf} has no virtio {cfg_name} capability")


# -- reading one function ---------------------------------------------------------
def read_function(qtest, bus: int, slot: int, function: int) -> PciFunction | None:
    """Decode one function's header, BARs and capabilities; None if it is absent."""
    cfg = ConfigSpace(qtest, bus, slot, function)
    vendor = cfg.read16(VENDOR_ID)
    if vendor == 0xFFFF:            # nobody answered: the bus reads all ones
        return None
    device = cfg.read16(DEVICE_ID)
    header = cfg.read8(HEADER_TYPE)
    layout = header & HEADER_TYPE_MASK
    class_code, subclass = cfg.read8(CLASS_CODE), cfg.read8(SUBCLASS)
    status = cfg.read16(STATUS)
    bars = size_bars(cfg, BAR_COUNT.get(layout, 0),
                     keep_decoding=(class_code, subclass) == (0x06, 0x00))
    return PciFunction(
        bus=bus, slot=slot, function=function, vendor=vendor, device=device,
        revision=cfg.read8(REVISION_ID), class_code=class_code, subclass=subclass,
        prog_if=cfg.read8(PROG_IF), header_type=layout,
        multifunction=bool(header & HEADER_MULTIFUNCTION),
        command=cfg.read16(COMMAND), status=status, bars=tuple(bars),
        capabilities=tuple(capabilities(cfg, vendor) if status & STATUS_CAP_LIST else ()),
        vendor_name=pci_ids.vendor_name(vendor), device_name=pci_ids.device_name(vendor, device),
        class_name=pci_ids.class_name(class_code, subclass),
        secondary_bus=cfg.read8(SECONDARY_BUS) if layout == HEADER_BRIDGE else None)


def size_bars(cfg: ConfigSpace, count: int = 6, keep_decoding: bool = False) -> list[Bar]:
    """Size the BARs: write all ones, read back which bits stuck, restore.

    The bits the device hardwires to zero give the size (§6.2.5.1).  While a
    BAR holds all ones it would decode at a bogus address, so I/O and memory
    decoding are off meanwhile, then the command register is restored.  (Host
    bridges keep decoding, as Linux does: they are how the CPU reaches RAM.)
    The whole window is one qtest transaction: no other thread reaches the device's
    registers while its decoding is off.
    """
    with cfg.qtest.transaction():
        return _size_bars(cfg, count, keep_decoding)


def _size_bars(cfg, count, keep_decoding):
    command = cfg.read16(COMMAND)
    if not keep_decoding:
        cfg.write16(COMMAND, command & ~(COMMAND_IO | COMMAND_MEMORY))
    bars, index = [], 0
    try:
        while index < count:
            offset = BAR0 + 4 * index
            original = cfg.read32(offset)
            cfg.write32(offset, 0xFFFFFFFF)
            mask = cfg.read32(offset)
            cfg.write32(offset, original)
            if original & BAR_IO:
                mask &= ~0x3
                if mask and not mask & 0xFFFF0000:      # a 16-bit I/O decoder
                    mask |= 0xFFFF0000
                size = (~mask & 0xFFFFFFFF) + 1 if mask else 0
                bar = Bar(index, "io", original & ~0x3, size, False)
                step = 1
            elif original & 0x6 == BAR_MEM_TYPE_64 and index + 1 < count:
                high = cfg.read32(offset + 4)
                cfg.write32(offset + 4, 0xFFFFFFFF)
                mask |= cfg.read32(offset + 4) << 32
                cfg.write32(offset + 4, high)
                mask &= ~0xF
                size = (~mask & 0xFFFFFFFFFFFFFFFF) + 1 if mask else 0
                bar = Bar(index, "mem64", (high << 32 | original) & ~0xF, size,
                          bool(original & BAR_PREFETCHABLE))
                step = 2
            else:
                mask &= ~0xF
                size = (~mask & 0xFFFFFFFF) + 1 if mask else 0
                bar = Bar(index, "mem32", original & ~0xF, size, bool(original & BAR_PREFETCHABLE))
                step = 1
            if size:                                    # a BAR that reads back 0 is not implemented
                bars.append(bar)
            index += step
    finally:
        if not keep_decoding:
            cfg.write16(COMMAND, command)
    return bars


def capabilities(cfg: ConfigSpace, vendor: int) -> list[Capability]:
    """Walk the capability list from CAPABILITIES_POINTER (§6.7).

    Each entry starts with its id (byte 0) and the offset of the next (byte 1);
    the low two bits of a pointer are reserved.  At most 48 entries fit in
    config space, which also stops a (broken) looping list.
    """
    caps, offset = [], cfg.read8(CAPABILITIES_POINTER) & 0xFC
    while offset and len(caps) < 48:
        cap_id, nxt = cfg.read8(offset), cfg.read8(offset + 1) & 0xFC
        caps.append(Capability(offset, cap_id, CAP_NAMES.get(cap_id, f"cap {cap_id:#04x}"),
                               _decode_capability(cfg, offset, cap_id, vendor), nxt))
        offset = nxt
    return caps


def _decode_capability(cfg: ConfigSpace, offset: int, cap_id: int, vendor: int) -> dict:
    if cap_id == CAP_MSIX:                  # §6.8.2: message control, table, PBA
        control = cfg.read16(offset + 2)
        table, pba = cfg.read32(offset + 4), cfg.read32(offset + 8)
        return {"table_size": (control & 0x7FF) + 1, "enabled": bool(control & 0x8000),
                "function_mask": bool(control & 0x4000),
                "table_bar": table & 0x7, "table_offset": table & ~0x7,
                "pba_bar": pba & 0x7, "pba_offset": pba & ~0x7}
    if cap_id == CAP_VENDOR and vendor == VIRTIO_VENDOR:    # virtio 1.x §4.1.4
        cfg_type = cfg.read8(offset + VIRTIO_CAP_CFG_TYPE)
        data = {"cap_len": cfg.read8(offset + 2), "cfg_type": cfg_type,
                "cfg_name": VIRTIO_CFG_NAMES.get(cfg_type, f"type {cfg_type}"),
                "bar": cfg.read8(offset + VIRTIO_CAP_BAR),
                "offset": cfg.read32(offset + VIRTIO_CAP_OFFSET),
                "length": cfg.read32(offset + VIRTIO_CAP_LENGTH)}
        if cfg_type == 2:
            data["notify_off_multiplier"] = cfg.read32(offset + VIRTIO_NOTIFY_OFF_MULTIPLIER)
        return data
    if cap_id == CAP_VENDOR:
        return {"cap_len": cfg.read8(offset + 2)}
    if cap_id == 0x05:                      # MSI §6.8.1
        control = cfg.read16(offset + 2)
        return {"enabled": bool(control & 1), "vectors": 1 << ((control >> 1) & 7),
                "64bit": bool(control & 0x80)}
    if cap_id == 0x10:                      # PCI Express capability register
        caps = cfg.read16(offset + 2)
        return {"version": caps & 0xF, "port_type": (caps >> 4) & 0xF}
    if cap_id == 0x01:                      # power management
        return {"version": cfg.read16(offset + 2) & 0x7}
    return {}


# -- the whole machine --------------------------------------------------------------
def scan(qtest) -> list[PciFunction]:
    """Every function on bus 0 and on every bus behind a PCI-PCI bridge.

    For each slot, function 0 is read first; functions 1-7 only when its
    header type says multi-function.  A bridge's secondary bus (assigned by
    SeaBIOS) is scanned the same way.  Returned in bus, slot, function order.
    """
    found, todo, seen = [], [0], set()
    while todo:
        bus = todo.pop(0)
        if bus in seen:
            continue
        seen.add(bus)
        for slot in range(32):
            first = read_function(qtest, bus, slot, 0)
            if first is None:
                continue
            functions = [first]
            if first.multifunction:
                functions += [f for fn in range(1, 8) if (f := read_function(qtest, bus, slot, fn))]
            for f in functions:
                found.append(f)
                if f.header_type == HEADER_BRIDGE and f.secondary_bus:
                    todo.append(f.secondary_bus)
    log.debug("scan: %d functions on buses %s", len(found), sorted(seen))
    return sorted(found, key=lambda f: (f.bus, f.slot, f.function))


def find(qtest, vendor: int, device: int | None = None) -> PciFunction:
    """The first function with this vendor (and device) id; DeviceError if none."""
    for f in scan(qtest):
        if f.vendor == vendor and device in (None, f.device):
            return f
    want = f"{vendor:04x}:{device:04x}" if device is not None else f"{vendor:04x}:*"
    raise DeviceError(f"no PCI function {want} on this machine")


def enable(qtest, fn: PciFunction, io: bool = True, memory: bool = True,
           bus_master: bool = True) -> int:
    """Set command register bits (others are kept); returns the new command value.

    A driver needs memory (or I/O) decoding to reach its BARs and bus mastering
    before the device may DMA to and from guest RAM (the virtqueues).
    """
    cfg = fn.config(qtest)
    with qtest.transaction():                   # read-modify-write: nobody in between
        command = cfg.read16(COMMAND)
        command |= (COMMAND_IO if io else 0) | (COMMAND_MEMORY if memory else 0) \
            | (COMMAND_BUS_MASTER if bus_master else 0)
        cfg.write16(COMMAND, command)
        got = cfg.read16(COMMAND)
    log.debug("%s: command %#06x", fn.bdf, got)
    return got
