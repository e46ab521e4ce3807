"""socket layer: ICMP echo (RFC 792) -- what ``ping`` is made of.

An ``IcmpSocket`` has an identifier (the "port" of echo messages); ``send_echo``
queues a request with a sequence number and remembers when it left, and each echo
reply with our identifier becomes an ``EchoReply`` with its round-trip time.
ICMP errors quoting one of our requests (host unreachable, TTL exceeded) become
``EchoError`` items in the same queue, so ``ping`` can print them in order.
"""

from __future__ import annotations

import random
from collections import deque
from dataclasses import dataclass
from ipaddress import IPv4Address

from ..wire import icmp, ipv4
from ..wire.icmp import IcmpType
from ..wire.ipv4 import IpProtocol
from .base import Socket, SocketError

__all__ = ["IcmpSocket", "EchoReply", "EchoError"]

MAX_DATA = 65_507           # 65,535 - 20 (IPv4 header) - 8 (ICMP header)


@dataclass(frozen=True)
class EchoReply:
    src: IPv4Address
    seq: int
    ttl: int
    size: int               # ICMP bytes (header + data), as ping prints it
    rtt: float | None       # seconds; None if we never sent that seq
    data: bytes


@dataclass(frozen=True)
class EchoError:
    src: IPv4Address        # who reported it (a router, or the host itself)
    seq: int
    type: int
    code: int

    @property
    def text(self) -> str:
        names = {(3, 0): "Destination Net Unreachable", (3, 1): "Destination Host Unreachable",
                 (3, 3): "Destination Port Unreachable", (11, 0): "Time to live exceeded"}
        return names.get((self.type, self.code), f"ICMP type {self.type} code {self.code}")


class IcmpSocket(Socket):
    def __init__(self, ident: int | None = None, capacity: int = 256):
        super().__init__()
        self.ident = random.randrange(1 << 16) if ident is None else ident
        self.capacity = capacity
        self.rx: deque = deque()
        self.tx: deque = deque()            # (dst, icmp.Repr)
        self.sent_at: dict[int, float] = {}  # seq -> when the request left (bounded)

    def send_echo(self, dst, seq: int, data: bytes = b"") -> None:
        if len(data) > MAX_DATA:
            raise SocketError(f"echo data of {len(data)} bytes: at most {MAX_DATA}")
        if len(self.tx) >= self.capacity:
            self.stats["tx_drop_full"] += 1
            raise SocketError(f"ICMP send queue full ({len(self.tx)} requests waiting)")
        self.tx.append((IPv4Address(dst), icmp.Repr.echo_request(self.ident, seq & 0xFFFF, data)))

    def recv(self) -> EchoReply | EchoError | None:
        return self.rx.popleft() if self.rx else None

    def _queue(self, item) -> None:
        if len(self.rx) >= self.capacity:
            self.stats["rx_drop_full"] += 1
            return
        self.rx.append(item)
        self.stats["rx"] += 1

    # -- what the interface calls ------------------------------------------------
    def process_icmp(self, iface, now, ip, m) -> bool:
        if m.type != IcmpType.ECHO_REPLY or m.ident != self.ident:
            return False
        sent = self.sent_at.pop(m.seq, None)
        self._queue(EchoReply(ip.src, m.seq, ip.ttl, m.buffer_len(),
                              None if sent is None else now - sent, m.data))
        return True

    def process_icmp_error(self, iface, now, ip, m, quoted) -> bool:
        if quoted.protocol != IpProtocol.ICMP or len(quoted.payload) < 8:
            return False
        try:
            echo = icmp.Repr.parse(quoted.payload, verify_checksum=False)
        except Exception:
            return False
        if echo.type != IcmpType.ECHO_REQUEST or echo.ident != self.ident:
            return False
        self.sent_at.pop(echo.seq, None)
        self._queue(EchoError(ip.src, echo.seq, int(m.type), m.code))   # the reporter
        return True

    def send_failed(self, now, packet, message) -> None:
        """One of our requests could not leave (no route, no ARP answer): that seq failed,
        reported by us (src 0.0.0.0), as ping reports "Destination Host Unreachable"."""
        super().send_failed(now, packet, message)
        seq = icmp.Repr.parse(packet.payload, verify_checksum=False).seq   # we built it
        self.sent_at.pop(seq, None)
        self._queue(EchoError(IPv4Address(0), seq, 3, 1))

    def dispatch(self, iface, now) -> list:
        out = []
        while self.tx:
            dst, m = self.tx.popleft()
            self.sent_at[m.seq] = now
            if len(self.sent_at) > self.capacity:            # forget the oldest
                self.sent_at.pop(next(iter(self.sent_at)))
            out.append(ipv4.Repr(iface.address or IPv4Address(0), dst, IpProtocol.ICMP,
                                 m.to_bytes()))
            self.stats["tx"] += 1
        return out

    def poll_at(self, now) -> float | None:
        return now if self.tx else None

    def describe(self) -> dict:
        return {**super().describe(), "proto": "icmp", "ident": self.ident,
                "rx_queue": len(self.rx), "waiting": len(self.sent_at)}
