"""socket layer: what every socket offers the interface, and the set that holds them.

After smoltcp's ``socket`` module: a socket is a state machine over bounded
buffers.  The interface hands it packets that concern it (``process_*``), asks it
for packets to send (``dispatch``) and for its next deadline (``poll_at``).  It
never touches a device or a clock: ``now`` (seconds) is always an argument.

Every method has a default that does nothing, so each socket writes only what its
protocol needs.
"""

from __future__ import annotations

from collections import Counter

from ..errors import Dos64LabError

__all__ = ["Socket", "SocketSet", "SocketError"]


class SocketError(Dos64LabError):
    """A socket was used wrongly (not bound, queue full, payload too large)."""


class Socket:
    """The base of every socket (all methods are optional)."""

    def __init__(self):
        self.stats = Counter()          # rx, tx, drops by reason: netstat reads these
        self.errors: list[str] = []     # what went wrong, oldest first (bounded)

    # -- ingress: the interface offers what it received -----------------------
    def accepts_udp(self, iface, ip, udp) -> bool:
        """Is this UDP datagram (``ipv4.Repr``, ``udp.Repr``) for me?"""
        return False

    def process_udp(self, iface, now: float, ip, udp) -> None:
        pass

    def accepts_tcp(self, iface, ip, seg) -> bool:
        """Is this TCP segment (``ipv4.Repr``, ``tcp.Repr``) for me?"""
        return False

    def process_tcp(self, iface, now: float, ip, seg) -> None:
        pass

    def process_icmp(self, iface, now: float, ip, icmp) -> bool:
        """An ICMP message that is not an error: True if it was mine."""
        return False

    def icmp_error(self, now: float, icmp, quoted) -> bool:
        """An ICMP error quoting ``quoted`` (the ``ipv4.Repr`` of our packet, payload
        cut to the 8 bytes the error carries): True if that packet was mine."""
        return False

    def process_icmp_error(self, iface, now: float, ip, icmp, quoted) -> bool:
        """The same, with the packet that carried the error (``ip.src``: who reported it);
        by default ``icmp_error``, for sockets that need not know the sender."""
        return self.icmp_error(now, icmp, quoted)

    # -- egress ---------------------------------------------------------------
    def dispatch(self, iface, now: float) -> list:
        """Packets (``ipv4.Repr``) to send now."""
        return []

    def poll_at(self, now: float) -> float | None:
        """When this socket next needs ``dispatch`` (None: only when something arrives)."""
        return None

    def error(self, now: float, message: str) -> None:
        """Something went wrong for this socket: kept (the last 16) and counted."""
        self.errors.append(message)
        del self.errors[:-16]
        self.stats["tx_errors"] += 1

    def send_failed(self, now: float, packet, message: str) -> None:
        """The interface could not send ``packet`` (an ``ipv4.Repr`` from our ``dispatch``):
        no route, no ARP answer, not allowed.  By default, one ``error`` per packet."""
        self.error(now, message)

    def finished(self) -> bool:
        """Nothing left to send or wait for: the set may drop this socket."""
        return True

    def describe(self) -> dict:
        """State and counters as plain data (netstat, the status API)."""
        return {"kind": type(self).__name__, "stats": dict(self.stats),
                "errors": list(self.errors[-3:])}


class SocketSet:
    """Sockets by handle (a small int), as smoltcp's ``SocketSet``."""

    def __init__(self):
        self._sockets: dict[int, Socket] = {}
        self._members: set[int] = set()     # id() of each socket: ``socket in set`` at once
        self._next = 0

    def add(self, socket: Socket) -> int:
        handle, self._next = self._next, self._next + 1
        self._sockets[handle] = socket
        self._members.add(id(socket))
        return handle

    def remove(self, handle: int) -> Socket:
        socket = self._sockets.pop(handle)
        if not any(s is socket for s in self._sockets.values()):   # not under another handle
            self._members.discard(id(socket))
        return socket

    def __contains__(self, socket) -> bool:
        return id(socket) in self._members

    def __getitem__(self, handle: int) -> Socket:
        return self._sockets[handle]

    def items(self):
        return list(self._sockets.items())

    def __iter__(self):
        return iter(list(self._sockets.values()))

    def __len__(self) -> int:
        return len(self._sockets)
