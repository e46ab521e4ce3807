"""A fault-injecting wrapper (phy layer).

One job: make a perfect link imperfect, repeatably, so the stack's recovery
(ARP retries, TCP retransmission, duplicate detection) can be tested.  Each
frame passing through, in the chosen ``direction`` ("tx", "rx" or "both"),
may be dropped, corrupted (one bit flipped), duplicated, reordered (held back
until the next frame of its direction has passed) or delayed (``delay`` steps).
Probabilities are per frame; ``random.Random(seed)`` makes runs repeat.
``stats`` counts what was done (smoltcp ``phy::FaultInjector``).

Time is counted in steps, not seconds: each call of ``send`` or ``receive`` is one
step, and held frames are released at the step they are due (CONVENTIONS 4).
A frame held for reordering is released when the next frame of its direction
passes, or by ``flush()``.  With ``delay``, frames are delayed, not reordered.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .device import Device, DeviceWrapper

__all__ = ["FaultInjector", "FaultStats", "parse_faults"]


@dataclass
class FaultStats:
    dropped: int = 0
    corrupted: int = 0
    duplicated: int = 0
    reordered: int = 0
    delayed: int = 0


class _Direction:
    """The frames one direction holds: delayed ones with their due step, and one reordered."""

    def __init__(self):
        self.delayed: list[tuple[int, bytes]] = []
        self.held: bytes | None = None

    def due(self, step: int) -> list[bytes]:
        ready = [f for at, f in self.delayed if at <= step]
        self.delayed = [(at, f) for at, f in self.delayed if at > step]
        return ready


class FaultInjector(DeviceWrapper):
    def __init__(self, inner: Device, seed: int, *, drop: float = 0.0, corrupt: float = 0.0,
                 duplicate: float = 0.0, reorder: float = 0.0, delay: int = 0,
                 direction: str = "both"):
        super().__init__(inner)
        if direction not in ("tx", "rx", "both"):
            raise ValueError("direction is 'tx', 'rx' or 'both'")
        self.random = random.Random(seed)
        self.drop, self.corrupt, self.duplicate, self.reorder = drop, corrupt, duplicate, reorder
        self.delay, self.direction = delay, direction
        self.stats = FaultStats()
        self.step = 0
        self._tx, self._rx = _Direction(), _Direction()
        self._rx_ready: list[bytes] = []

    # -- the Device surface ----------------------------------------------------------------

    def send(self, frame: bytes) -> None:
        self._tick()
        self._deliver_tx(self._apply(self._tx, frame, "tx"))

    def receive(self) -> bytes | None:
        self._tick()
        while not self._rx_ready:            # a dropped or held frame is not "nothing waits"
            frame = self.inner.receive()
            if frame is None:
                break
            self._rx_ready += self._apply(self._rx, frame, "rx")
        return self._rx_ready.pop(0) if self._rx_ready else None

    def flush(self) -> None:
        """Release everything held (delayed or reordered) now."""
        for side in (self._tx, self._rx):
            out = [f for _, f in side.delayed] + ([side.held] if side.held else [])
            side.delayed, side.held = [], None
            if side is self._tx:
                self._deliver_tx(out)
            else:
                self._rx_ready += out

    # -- the faults ------------------------------------------------------------------------

    def _tick(self) -> None:
        self.step += 1
        self._deliver_tx(self._tx.due(self.step))
        self._rx_ready += self._rx.due(self.step)

    def _deliver_tx(self, frames: list[bytes]) -> None:
        for f in frames:
            self.inner.send(f)

    def _chance(self, p: float) -> bool:
        return p > 0 and self.random.random() < p

    def _apply(self, side: _Direction, frame: bytes, direction: str) -> list[bytes]:
        """The frames to deliver now, in order, after ``frame`` met the faults."""
        if self.direction not in (direction, "both"):
            return [frame]
        if self._chance(self.drop):
            self.stats.dropped += 1
            return []
        if self._chance(self.corrupt):
            self.stats.corrupted += 1
            if frame:
                bit = self.random.randrange(len(frame) * 8)
                frame = bytearray(frame)
                frame[bit // 8] ^= 1 << bit % 8
                frame = bytes(frame)
        copies = [frame, frame] if self._chance(self.duplicate) else [frame]
        self.stats.duplicated += len(copies) - 1
        if self.delay:
            self.stats.delayed += len(copies)
            side.delayed += [(self.step + self.delay, f) for f in copies]
            return []
        if side.held is None and self._chance(self.reorder):
            self.stats.reordered += 1
            side.held = copies.pop(0)
            return copies
        if side.held is not None:
            copies.append(side.held)          # the held frame goes after this one
            side.held = None
        return copies


def parse_faults(text: str) -> dict:
    """``"drop=0.05,corrupt=0.01,seed=7"`` -> the keyword arguments of ``FaultInjector``.

    Keys: drop, corrupt, duplicate, reorder (probabilities 0..1), delay (steps), seed
    (default 0), direction (tx, rx, both).  A ValueError names what is wrong.
    """
    kinds = {"drop": float, "corrupt": float, "duplicate": float, "reorder": float,
             "delay": int, "seed": int, "direction": str}
    out = {"seed": 0}
    for item in filter(None, text.split(",")):
        key, _, value = item.partition("=")
        key = key.strip()
        if key not in kinds or not value:
            raise ValueError(f"--faults {item!r}: expected KEY=VALUE with KEY one of "
                             + ", ".join(kinds))
        try:
            out[key] = kinds[key](value)
        except ValueError:
            raise ValueError(f"--faults {item!r}: {value!r} is not a {kinds[key].__name__}") from None
        if kinds[key] is float and not 0.0 <= out[key] <= 1.0:
            raise ValueError(f"--faults {item!r}: a probability is between 0 and 1")
    return out
