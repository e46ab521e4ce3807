"""hw layer: a guest-physical memory allocator for DMA (rings and packet buffers).

A device reads and writes guest RAM by physical address ("DMA"), so everything a
driver shares with it -- descriptor tables, avail and used rings, packet buffers --
must sit at known physical addresses.  DOS64 leaves one region to the lab
(``machine.dma_region``); ``DmaAllocator`` hands out aligned pieces of it.

It is a first-fit allocator over a sorted list of free extents: small, predictable,
easy to read.  ``free()`` merges neighbours back; ``reset()`` forgets everything
(after a device reset nothing can point into the region any more).  Nothing here
touches the guest: it is bookkeeping of addresses only.  One lock makes it safe to
share between threads.
"""

import logging
import threading
from dataclasses import dataclass

from ..errors import Dos64LabError

__all__ = ["DmaAllocator", "DmaRegion", "DmaError"]

log = logging.getLogger(__name__)


class DmaError(Dos64LabError):
    """The DMA region cannot satisfy a request (exhausted, or a bad free)."""


@dataclass(frozen=True)
class DmaRegion:
    """One allocation: ``size`` bytes of guest RAM at guest-physical ``addr``."""
    addr: int
    size: int
    tag: str = ""

    @property
    def end(self) -> int:
        return self.addr + self.size


class DmaAllocator:
    """Aligned allocations from ``[base, base + size)`` of guest-physical memory."""

    def __init__(self, base: int, size: int):
        if base < 0 or size <= 0:
            raise ValueError(f"bad DMA region {base:#x} + {size:#x}")
        self.base, self.size = base, size
        self._lock = threading.Lock()
        self.reset()

    @classmethod
    def for_machine(cls, machine) -> "DmaAllocator":
        """An allocator over the region DOS64 leaves to the lab."""
        return cls(*machine.dma_region)

    def reset(self) -> None:
        """Forget every allocation: the whole region is free again."""
        with self._lock:
            self._reset()

    def _reset(self):
        self._free: list[tuple[int, int]] = [(self.base, self.base + self.size)]  # [start, end)
        self._used: dict[int, DmaRegion] = {}

    def alloc(self, size: int, align: int = 16, tag: str = "") -> DmaRegion:
        """``size`` bytes at an address that is a multiple of ``align`` (a power of two)."""
        if size <= 0:
            raise ValueError(f"DMA allocation of {size} bytes")
        if align <= 0 or align & (align - 1):
            raise ValueError(f"alignment {align} is not a power of two")
        with self._lock:
            return self._alloc(size, align, tag)

    def _alloc(self, size, align, tag):
        for i, (start, end) in enumerate(self._free):
            addr = (start + align - 1) & ~(align - 1)
            if addr + size <= end:
                pieces = [(s, e) for s, e in ((start, addr), (addr + size, end)) if e > s]
                self._free[i:i + 1] = pieces
                region = DmaRegion(addr, size, tag)
                self._used[addr] = region
                log.debug("dma alloc %s: %#x + %#x", tag or "-", addr, size)
                return region
        raise DmaError(f"DMA region exhausted: no {size} bytes aligned to {align} left for "
                       f"{tag or 'an allocation'} (region {self.base:#x} + {self.size:#x}, "
                       f"{self.free_bytes} bytes free in {len(self._free)} pieces)")

    def free(self, region: DmaRegion) -> None:
        """Give an allocation back; neighbouring free extents merge."""
        with self._lock:
            self._free_region(region)

    def _free_region(self, region):
        if self._used.get(region.addr) != region:
            raise DmaError(f"free of {region.addr:#x}: not an allocation of this allocator")
        del self._used[region.addr]
        self._free.append((region.addr, region.end))
        self._free.sort()
        merged = [self._free[0]]
        for start, end in self._free[1:]:
            if start == merged[-1][1]:
                merged[-1] = (merged[-1][0], end)
            else:
                merged.append((start, end))
        self._free = merged

    @property
    def free_bytes(self) -> int:
        return sum(end - start for start, end in self._free)

    @property
    def allocations(self) -> list[DmaRegion]:
        """Live allocations, lowest address first."""
        return sorted(self._used.values(), key=lambda r: r.addr)

    def __repr__(self):
        return (f"<DmaAllocator {self.base:#x}+{self.size:#x}: {len(self._used)} allocations, "
                f"{self.free_bytes} bytes free>")
