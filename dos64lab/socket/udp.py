"""socket layer: UDP (RFC 768) -- datagrams to and from one local port, over bounded queues.

``bind(port)`` (0: an ephemeral port, RFC 6056 style random in 49152..65535),
``send_to(data, (ip, port))`` queues a datagram, ``recv_from()`` takes one.  Both
queues are bounded in datagrams and bytes; what does not fit is dropped and
counted (``rx_drop_full``, ``tx_drop_full``), never grown without limit.  ICMP
errors about our datagrams (port unreachable, ...) land in ``errors``.
"""

from __future__ import annotations

import random
from collections import deque
from ipaddress import IPv4Address

from ..wire import ipv4, udp
from ..wire.ipv4 import IpProtocol
from .base import Socket, SocketError

__all__ = ["UdpSocket", "SocketError", "EPHEMERAL_PORTS", "MAX_PAYLOAD"]

EPHEMERAL_PORTS = range(49152, 65536)
MAX_PAYLOAD = 65_507            # 65,535 - 20 (IPv4 header) - 8 (UDP header)


class UdpSocket(Socket):
    def __init__(self, rx_packets: int = 64, tx_packets: int = 64, max_bytes: int = 256 * 1024):
        super().__init__()
        self.port: int | None = None
        self.rx: deque = deque()        # (data, (src ip, src port))
        self.tx: deque = deque()        # (data, (dst ip, dst port))
        self.rx_packets, self.tx_packets, self.max_bytes = rx_packets, tx_packets, max_bytes
        self._rx_bytes = self._tx_bytes = 0

    def bind(self, port: int = 0, rng: random.Random | None = None) -> int:
        if self.port is not None:
            raise SocketError(f"UDP socket already bound to port {self.port}")
        if not 0 <= port <= 0xFFFF:
            raise SocketError(f"UDP port {port} is not in 0..65535")
        self.port = port or (rng or random).choice(EPHEMERAL_PORTS)
        return self.port

    def send_to(self, data: bytes, to: tuple) -> None:
        if self.port is None:
            raise SocketError("bind the UDP socket before sending")
        if not isinstance(data, (bytes, bytearray, memoryview)):
            raise SocketError(f"UDP payload must be bytes, not {type(data).__name__}")
        if len(data) > MAX_PAYLOAD:
            raise SocketError(f"UDP payload of {len(data)} bytes: at most {MAX_PAYLOAD}")
        try:
            ip, port = IPv4Address(to[0]), int(to[1])
        except (TypeError, ValueError, IndexError) as err:
            raise SocketError(f"UDP destination {to!r} is not an (IPv4 address, port) pair: "
                              f"{err}") from err
        if not 0 < port <= 0xFFFF:
            raise SocketError(f"UDP destination port {port} is not in 1..65535")
        if len(self.tx) >= self.tx_packets or self._tx_bytes + len(data) > self.max_bytes:
            self.stats["tx_drop_full"] += 1
            raise SocketError(f"UDP send queue full ({len(self.tx)} datagrams waiting)")
        self.tx.append((bytes(data), (ip, port)))
        self._tx_bytes += len(data)

    def recv_from(self) -> tuple[bytes, tuple[IPv4Address, int]] | None:
        if not self.rx:
            return None
        data, src = self.rx.popleft()
        self._rx_bytes -= len(data)
        return data, src

    # -- what the interface calls -------------------------------------------------
    def accepts_udp(self, iface, ip, d) -> bool:
        return d.dst_port == self.port

    def process_udp(self, iface, now, ip, d) -> None:
        if len(self.rx) >= self.rx_packets or self._rx_bytes + len(d.payload) > self.max_bytes:
            self.stats["rx_drop_full"] += 1
            return
        self.rx.append((d.payload, (ip.src, d.src_port)))
        self._rx_bytes += len(d.payload)
        self.stats["rx"] += 1

    def icmp_error(self, now, message, quoted) -> bool:
        if quoted.protocol != IpProtocol.UDP or len(quoted.payload) < 4:
            return False
        src_port = int.from_bytes(quoted.payload[:2], "big")
        if src_port != self.port:
            return False
        dst_port = int.from_bytes(quoted.payload[2:4], "big")
        self.error(now, f"ICMP {message.type.name if hasattr(message.type, 'name') else message.type} "
                        f"code {message.code} from {quoted.dst}:{dst_port}")
        return True

    def dispatch(self, iface, now) -> list:
        out = []
        src = iface.address or IPv4Address(0)
        while self.tx:
            data, (dst, port) = self.tx.popleft()
            self._tx_bytes -= len(data)
            payload = udp.Repr(self.port, port, data).to_bytes(src, dst)
            out.append(ipv4.Repr(src, dst, IpProtocol.UDP, payload))
            self.stats["tx"] += 1
        return out

    def poll_at(self, now) -> float | None:
        return now if self.tx else None

    def describe(self) -> dict:
        return {**super().describe(), "proto": "udp", "local_port": self.port,
                "rx_queue": len(self.rx), "tx_queue": len(self.tx)}
