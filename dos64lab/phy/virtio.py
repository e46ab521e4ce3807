"""phy layer: the machine's virtio-net card as a ``Device`` -- the seam the TCP/IP stack sits on.

One job: find the card on the PCI bus, bring it up with the Python driver
(``hw.virtio.VirtioNet``: transport, split virtqueues, buffers in the DMA region)
and offer what ``phy.Device`` names -- ``mtu``, ``mac``, ``send``, ``receive`` --
plus batches, counters, ``reset`` and ``close``.  Everything below this line is
virtio; everything above it is frames.

    with VirtioNetDevice(machine) as dev:
        dev.send(frame)
        reply = dev.receive()       # bytes, or None at once when nothing waits
"""

import logging

from ..errors import DeviceError
from ..hw.dma import DmaAllocator
from ..hw.virtio import VirtioNet, open_transport
from ..wire.ethernet import EthernetAddress

__all__ = ["VirtioNetDevice"]

log = logging.getLogger(__name__)


class VirtioNetDevice:
    """The Python driver on a machine's virtio-net card.

    ``transport``: "legacy" (I/O BAR of the transitional device), "modern" (virtio
    PCI capabilities) or None: the machine's own kind (``Machine(virtio=...)``).
    ``queue_size``: None for the device's size (256); modern accepts smaller powers of two.
    ``features``: feature bits to ask for beyond VIRTIO_NET_F_MAC | VIRTIO_NET_F_STATUS.
    """

    def __init__(self, machine, transport: str | None = None, queue_size: int | None = None,
                 features: int = 0):
        self.machine = machine
        kind = transport or machine.config.virtio
        self.dma = DmaAllocator.for_machine(machine)
        # VirtioNet claims the card before resetting it: DeviceError if another driver holds it
        self.net = VirtioNet(open_transport(machine.qtest, kind), self.dma,
                             features=features, queue_size=queue_size)

    # -- the Device protocol ------------------------------------------------
    @property
    def mtu(self) -> int:
        return self.net.mtu

    @property
    def mac(self) -> EthernetAddress:
        return EthernetAddress(self.net.mac)

    def send(self, frame: bytes) -> None:
        """Queue one Ethernet frame (no FCS) for transmission."""
        self.net.send(frame)

    def receive(self) -> bytes | None:
        """The next received frame, or None at once when nothing waits."""
        return self.net.receive()

    # -- more than the protocol ---------------------------------------------
    def send_batch(self, frames) -> None:
        """Queue many frames: the cheap way (a few qtest commands per ring-full)."""
        self.net.send_batch(frames)

    def receive_batch(self, limit: int | None = None) -> list[bytes]:
        """Every frame waiting (at most ``limit``), oldest first; [] when none."""
        return self.net.receive_batch(limit)

    def flush(self, timeout: float = 2.0) -> None:
        """Wait until the device has sent every queued frame."""
        self.net.flush(timeout)

    @property
    def stats(self) -> dict:
        """Counters: frames and bytes each way, kicks sent and suppressed, RX ring ran dry."""
        n = self.net
        return {**n.stats, "tx_kicks": n.tx.kicks, "tx_kicks_suppressed": n.tx.kicks_suppressed,
                "rx_kicks": n.rx.kicks, "rx_kicks_suppressed": n.rx.kicks_suppressed}

    @property
    def transport(self) -> str:
        return self.net.transport.kind

    @property
    def features(self) -> int:
        return self.net.features

    def reset(self) -> None:
        """Reset the card and bring it up again (after an error, say)."""
        self.net.reset()

    def close(self) -> None:
        """Reset the card so it stops using guest RAM; later use raises DeviceError."""
        self.net.close()

    @property
    def closed(self) -> bool:
        return self.net.closed

    def __enter__(self) -> "VirtioNetDevice":
        if self.closed:
            raise DeviceError("virtio-net device was closed; open a new one")
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self):
        state = "closed" if self.closed else f"mtu={self.mtu} queues={self.net.rx.size}"
        return f"<VirtioNetDevice {self.transport} {self.mac} {state}>"
