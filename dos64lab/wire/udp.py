"""UDP (transport layer).

One job: the 8-byte UDP header (RFC 768): ports, length, and the checksum over
an IPv4 pseudo-header + header + data.  A zero checksum means "none was
computed" and is accepted; a computed checksum of zero is sent as 0xffff.
``src_ip``/``dst_ip`` are parameters because the pseudo-header needs them;
pass ``None`` for both to skip the checksum.
"""

from __future__ import annotations

from dataclasses import dataclass
from ipaddress import IPv4Address

from ..errors import ParseError
from .base import PacketView, ReprBase, U16
from .checksum import internet_checksum, pseudo_header_sum
from .ipv4 import IpProtocol

__all__ = ["HEADER_LEN", "Packet", "Repr"]

SRC_PORT, DST_PORT, LENGTH, CHECKSUM = 0, 2, 4, 6
HEADER_LEN = 8


class Packet(PacketView):
    LAYER = "udp"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    src_port = U16(SRC_PORT)
    dst_port = U16(DST_PORT)
    length = U16(LENGTH)
    checksum = U16(CHECKSUM)

    def check_len(self) -> None:
        self.need(HEADER_LEN, "length")
        if not HEADER_LEN <= self.length <= len(self.buffer):
            raise ParseError("udp", "length", f"{self.length}, buffer {len(self.buffer)}")

    @property
    def payload(self) -> memoryview:
        return self.buffer[HEADER_LEN:self.length]

    def _sum(self, src_ip: IPv4Address, dst_ip: IPv4Address) -> int:
        start = pseudo_header_sum(src_ip, dst_ip, IpProtocol.UDP, self.length)
        return internet_checksum(self.buffer[:self.length], start)

    def verify_checksum(self, src_ip: IPv4Address, dst_ip: IPv4Address) -> bool:
        return self.checksum == 0 or self._sum(src_ip, dst_ip) == 0

    def fill_checksum(self, src_ip: IPv4Address, dst_ip: IPv4Address) -> None:
        self.checksum = 0
        self.checksum = self._sum(src_ip, dst_ip) or 0xFFFF


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    Packet = Packet
    src_port: int
    dst_port: int
    payload: bytes = b""

    @classmethod
    def parse(cls, packet_or_bytes, src_ip: IPv4Address | None, dst_ip: IPv4Address | None,
              *, verify_checksum: bool = True) -> Repr:
        p = cls.view(packet_or_bytes)
        if verify_checksum and src_ip is not None and not p.verify_checksum(src_ip, dst_ip):
            raise ParseError("udp", "checksum", f"{p.checksum:#06x}")
        return cls(p.src_port, p.dst_port, bytes(p.payload))

    def buffer_len(self) -> int:
        return HEADER_LEN + len(self.payload)

    def emit(self, buf, src_ip: IPv4Address | None, dst_ip: IPv4Address | None) -> None:
        p = self.view(buf, checked=False)
        p.src_port, p.dst_port, p.length = self.src_port, self.dst_port, self.buffer_len()
        p.buffer[HEADER_LEN:p.length] = self.payload
        if src_ip is None:
            p.checksum = 0
        else:
            p.fill_checksum(src_ip, dst_ip)
