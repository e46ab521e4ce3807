"""A loopback device (phy layer).

One job: be a ``Device`` with no hardware: every frame sent comes back from
``receive``, in order.  The stack can then talk to itself, deterministically,
in tests and notebooks (smoltcp ``phy::Loopback``).

The queue is bounded like a NIC's ring: when ``capacity`` frames wait, a newly
sent frame is dropped (tail drop) and counted in ``dropped``.
"""

from __future__ import annotations

from collections import deque

from ..errors import DeviceError
from ..wire.ethernet import EthernetAddress
from .device import ETHERNET_MTU, max_frame_len

__all__ = ["Loopback"]


class Loopback:
    def __init__(self, mac: EthernetAddress = EthernetAddress.parse("52:54:00:12:34:56"),
                 mtu: int = ETHERNET_MTU, capacity: int = 64):
        self.mac, self.mtu, self.capacity = mac, mtu, capacity
        self.queue: deque[bytes] = deque()
        self.dropped = 0

    def send(self, frame: bytes) -> None:
        if len(frame) > max_frame_len(self):
            raise DeviceError(f"frame of {len(frame)} bytes exceeds {max_frame_len(self)} (MTU {self.mtu})")
        if len(self.queue) >= self.capacity:
            self.dropped += 1                  # full: the newest frame is lost
            return
        self.queue.append(bytes(frame))

    def receive(self) -> bytes | None:
        return self.queue.popleft() if self.queue else None
