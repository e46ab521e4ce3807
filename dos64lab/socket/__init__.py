"""socket layer: state machines over bounded buffers, driven by ``iface.Interface.poll``.

``base`` (what every socket offers the interface, and ``SocketSet``), then one
module per kind: ``icmp`` (echo), ``udp``, ``dhcp`` (the DHCP client), ``dns``
(the stub resolver).
"""

from .base import Socket, SocketSet
from .dhcp import DhcpClient, DhcpState, Lease
from .dns import DnsClient, DnsResult, Query
from .icmp import EchoError, EchoReply, IcmpSocket
from .udp import SocketError, UdpSocket

__all__ = ["SocketSet", "Socket", "UdpSocket", "IcmpSocket", "EchoReply", "EchoError",
           "SocketError", "DhcpClient", "DhcpState", "Lease", "DnsClient", "DnsResult", "Query"]
