"""ARP for IPv4 over Ethernet (link layer).

One job: the request "who has 10.0.2.2? tell 10.0.2.15" and its reply
"10.0.2.2 is at 52:55:0a:00:02:02" (RFC 826).  The packet format allows other
hardware and protocol sizes; this module reads the generic header but its
address getters, and ``Repr``, are for Ethernet (6-byte) and IPv4 (4-byte) only.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address

from ..errors import ParseError
from .base import BytesField, Ipv4Field, PacketView, ReprBase, U8, U16
from .ethernet import EtherType, EthernetAddress

__all__ = ["Operation", "HTYPE_ETHERNET", "HEADER_LEN", "Packet", "Repr"]

HTYPE_ETHERNET = 1


class Operation(IntEnum):
    REQUEST = 1
    REPLY = 2


HTYPE, PTYPE, HLEN, PLEN, OPER = 0, 2, 4, 5, 6          # generic header
SHA, SPA, THA, TPA = 8, 14, 18, 24                      # Ethernet/IPv4 addresses
HEADER_LEN = 28


class Packet(PacketView):
    LAYER = "arp"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    hardware_type = U16(HTYPE)
    protocol_type = U16(PTYPE, EtherType)
    hardware_len = U8(HLEN)
    protocol_len = U8(PLEN)
    operation = U16(OPER, Operation)
    sender_mac = BytesField(SHA, 6, EthernetAddress)
    sender_ip = Ipv4Field(SPA)
    target_mac = BytesField(THA, 6, EthernetAddress)
    target_ip = Ipv4Field(TPA)

    def check_len(self) -> None:
        self.need(8, "length")
        self.need(8 + 2 * (self.hardware_len + self.protocol_len), "length")


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    Packet = Packet
    operation: Operation | int
    sender_mac: EthernetAddress
    sender_ip: IPv4Address
    target_mac: EthernetAddress
    target_ip: IPv4Address

    @classmethod
    def parse(cls, packet_or_bytes) -> Repr:
        p = cls.view(packet_or_bytes)
        for field, got, want in (("hardware type", p.hardware_type, HTYPE_ETHERNET),
                                 ("protocol type", p.protocol_type, EtherType.IPV4),
                                 ("hardware length", p.hardware_len, 6),
                                 ("protocol length", p.protocol_len, 4)):
            if got != want:
                raise ParseError("arp", field, f"{got:#x}, only Ethernet/IPv4 ARP is handled")
        return cls(p.operation, p.sender_mac, p.sender_ip, p.target_mac, p.target_ip)

    def buffer_len(self) -> int:
        return HEADER_LEN

    def emit(self, buf) -> None:
        p = self.view(buf, checked=False)
        p.hardware_type, p.protocol_type = HTYPE_ETHERNET, EtherType.IPV4
        p.hardware_len, p.protocol_len, p.operation = 6, 4, self.operation
        p.sender_mac, p.sender_ip = self.sender_mac, self.sender_ip
        p.target_mac, p.target_ip = self.target_mac, self.target_ip
