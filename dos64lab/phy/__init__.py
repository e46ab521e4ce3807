"""Devices: where frames enter and leave the stack.

Layer: phy.  ``Device`` is the protocol the stack polls; ``Loopback`` is one
without hardware; ``Tracer``, ``PcapTap`` and ``FaultInjector`` wrap any Device
to print, record or damage the frames passing through.  The real NIC driver,
``VirtioNetDevice``, implements the same protocol.
"""

from .device import ETHERNET_MTU, Device, DeviceWrapper
from .fault import FaultInjector, FaultStats, parse_faults
from .loopback import Loopback
from .pcap import PcapTap, PcapWriter, read_pcap
from .tracer import Tracer
from .virtio import VirtioNetDevice

__all__ = ["Device", "VirtioNetDevice", "Loopback", "Tracer", "PcapWriter", "PcapTap", "read_pcap",
           "FaultInjector", "FaultStats", "parse_faults", "DeviceWrapper", "ETHERNET_MTU"]
