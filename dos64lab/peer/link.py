"""A private Ethernet segment between two QEMUs: one Unix datagram socket pair.

Each QEMU gets one end as ``-netdev dgram,local.type=fd,local.str=N`` (an inherited
descriptor): every frame one side's NIC sends is one datagram the other side's NIC
receives.  No port, no path, no address: nothing else can join the segment, and no frame
can leave the machine.

Python creates the pair at once and keeps both ends open while the link lives, so either
QEMU may start first (frames wait in the socket), and after a ``Machine`` closes, the next
``Machine(link=...)`` takes the same end.
"""

from __future__ import annotations

import socket

from ..errors import MachineError

__all__ = ["Link"]


class Link:
    """The cable: its ``"machine"`` end for a ``Machine``, its ``"peer"`` end for a ``LinuxPeer``."""

    SIDES = ("machine", "peer")

    def __init__(self):
        self._ends = dict(zip(self.SIDES, socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)))
        self.closed = False

    def fileno_for(self, side: str) -> int:
        """The descriptor the QEMU on ``side`` inherits."""
        if side not in self.SIDES:
            raise ValueError(f"side={side!r}: expected one of {', '.join(self.SIDES)}")
        if self.closed:
            raise MachineError("this link was closed (its peer closed): make a new LinuxPeer")
        return self._ends[side].fileno()

    def close(self) -> None:
        """Let go of both ends (a QEMU still running keeps its own copy).  Idempotent."""
        self.closed = True
        for end in self._ends.values():
            end.close()

    def __repr__(self):
        return f"<Link {'closed' if self.closed else 'open'}>"
