"""Protocol bytes: one module per protocol, each with ``Packet`` (a view) and ``Repr`` (a value).

Layer: wire.  Knows bytes, never devices (ARCHITECTURE "Boundaries").  Start with
``pretty(frame)``, then read ``ethernet.py``; every other module has the same shape.
"""

from . import arp, checksum, dhcp, dns, ethernet, icmp, ipv4, tcp, udp
from .checksum import internet_checksum, pseudo_header_sum
from .ethernet import BROADCAST, EtherType, EthernetAddress
from .icmp import IcmpType
from .ipv4 import IpProtocol
from .pretty import pretty
from .tcp import TcpFlags

__all__ = ["pretty", "EthernetAddress", "BROADCAST", "EtherType", "IpProtocol", "IcmpType",
           "TcpFlags", "internet_checksum", "pseudo_header_sum",
           "ethernet", "arp", "ipv4", "icmp", "udp", "tcp", "dhcp", "dns", "checksum"]
