"""The Device protocol (phy layer): what the stack needs from a network card.

One job: name the four things ``iface`` may use -- ``mtu``, ``mac``, ``send``,
``receive`` -- so the stack runs the same on a real virtio-net device
(``VirtioNetDevice``), on a ``Loopback``, or on any wrapper (``Tracer``,
``PcapTap``, ``FaultInjector``).  Frames are whole Ethernet frames without the
FCS; ``receive`` never blocks (smoltcp ``phy::Device``, polled by
``Interface.poll(now, device, sockets)``).
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from ..wire.ethernet import HEADER_LEN, EthernetAddress

__all__ = ["Device", "DeviceWrapper", "ETHERNET_MTU", "max_frame_len"]

ETHERNET_MTU = 1500         # bytes of Ethernet payload (the IPv4 packet), RFC 894


def max_frame_len(device: Device) -> int:
    """The longest frame ``device`` carries: header + MTU (no FCS, no VLAN tag)."""
    return HEADER_LEN + device.mtu


@runtime_checkable
class Device(Protocol):
    """A network device as the stack sees it."""

    @property
    def mtu(self) -> int:
        """Largest Ethernet payload in bytes (1500)."""

    @property
    def mac(self) -> EthernetAddress:
        """This device's own address."""

    def send(self, frame: bytes) -> None:
        """Queue one Ethernet frame for transmission."""

    def receive(self) -> bytes | None:
        """The next received frame, or None at once when nothing waits."""


class DeviceWrapper:
    """A Device that passes everything to ``inner``; subclasses watch or change frames."""

    def __init__(self, inner: Device):
        self.inner = inner

    @property
    def mtu(self) -> int:
        return self.inner.mtu

    @property
    def mac(self) -> EthernetAddress:
        return self.inner.mac

    def send(self, frame: bytes) -> None:
        self.inner.send(frame)

    def receive(self) -> bytes | None:
        return self.inner.receive()
