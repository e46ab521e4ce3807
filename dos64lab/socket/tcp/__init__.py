"""socket layer: TCP, split by role as gVisor's netstack does, so each piece reads alone.

Read in this order: ``seq`` (sequence numbers modulo 2³²), ``rtt`` (the retransmission
timer, RFC 6298), ``congestion`` (NewReno, RFC 5681/6582), ``recv`` (the receive side),
``send`` (the send side), ``socket`` (the state machine, RFC 9293, and the listener).
"""

from .seq import Seq
from .socket import (ConnectionRefused, ConnectionReset, ConnectionTimeout, State, TcpError,
                     TcpListener, TcpSocket, tcp_reset_for)

__all__ = ["TcpSocket", "TcpListener", "State", "Seq", "TcpError", "ConnectionRefused",
           "ConnectionReset", "ConnectionTimeout", "tcp_reset_for"]
