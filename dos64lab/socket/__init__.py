"""socket layer: state machines over bounded buffers, driven by ``iface.Interface.poll``.

``base`` (what every socket offers the interface, and ``SocketSet``), then one
module per kind: ``icmp`` (echo), ``udp``.
"""

from .base import Socket, SocketSet
from .icmp import EchoError, EchoReply, IcmpSocket
from .udp import SocketError, UdpSocket

__all__ = ["SocketSet", "Socket", "UdpSocket", "IcmpSocket", "EchoReply", "EchoError",
           "SocketError"]
