"""Ethernet II framing (link layer).

One job: read and write the 14-byte header in front of every frame the NIC
moves: destination MAC, source MAC, EtherType (RFC 894; IEEE 802.3 clause 3.2).
The frame check sequence is not here: virtio-net, like most NICs, strips it.
Frames shorter than 60 bytes are padded on the wire; the padding stays in
``payload`` and upper layers use their own length fields to ignore it.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from .base import BytesField, PacketView, ReprBase, U16

__all__ = ["EthernetAddress", "BROADCAST", "EtherType", "HEADER_LEN", "Packet", "Repr"]


@dataclass(frozen=True, slots=True)
class EthernetAddress:
    """A 48-bit MAC address; ``str()`` gives ``52:54:00:12:34:56``."""

    octets: bytes

    def __post_init__(self):
        if len(self.octets) != 6:
            raise ValueError(f"an Ethernet address has 6 bytes, not {len(self.octets)}")

    @classmethod
    def parse(cls, text: str) -> EthernetAddress:
        """``EthernetAddress.parse("52:54:00:12:34:56")`` (``-`` separators work too)."""
        return cls(bytes.fromhex(text.replace(":", "").replace("-", "")))

    @property
    def is_broadcast(self) -> bool:
        return self.octets == b"\xff" * 6

    @property
    def is_multicast(self) -> bool:
        return bool(self.octets[0] & 1)       # the I/G bit; broadcast is multicast too

    def __bytes__(self) -> bytes:
        return self.octets

    def __str__(self) -> str:
        return self.octets.hex(":")


BROADCAST = EthernetAddress(b"\xff" * 6)


class EtherType(IntEnum):
    IPV4 = 0x0800
    ARP = 0x0806
    IPV6 = 0x86DD


DST, SRC, ETHERTYPE = 0, 6, 12     # field offsets
HEADER_LEN = 14
_HEADER = struct.Struct("!6s6sH")  # the whole header in one call (emit runs for every frame)


class Packet(PacketView):
    LAYER = "ethernet"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    dst = BytesField(DST, 6, EthernetAddress)
    src = BytesField(SRC, 6, EthernetAddress)
    ethertype = U16(ETHERTYPE, EtherType)

    @property
    def payload(self) -> memoryview:
        return self.buffer[HEADER_LEN:]


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    """One Ethernet frame: header fields and the payload bytes (padding included)."""

    Packet = Packet
    src: EthernetAddress
    dst: EthernetAddress
    ethertype: EtherType | int
    payload: bytes = b""

    @classmethod
    def parse(cls, packet_or_bytes) -> Repr:
        p = cls.view(packet_or_bytes)
        return cls(p.src, p.dst, p.ethertype, bytes(p.payload))

    def buffer_len(self) -> int:
        return HEADER_LEN + len(self.payload)

    def emit(self, buf) -> None:
        _HEADER.pack_into(buf, 0, bytes(self.dst), bytes(self.src), self.ethertype)
        buf[HEADER_LEN:HEADER_LEN + len(self.payload)] = self.payload
