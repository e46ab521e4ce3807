"""IPv4 (network layer).

One job: the IPv4 header (RFC 791 section 3.1): addresses, protocol, TTL,
total length, the header checksum (RFC 1071), fragmentation fields (recognised,
not reassembled) and options (checked for well-formedness, kept raw).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum
from ipaddress import IPv4Address

from ..errors import ParseError
from .base import Ipv4Field, PacketView, ReprBase, U8, U16, ipv4_address, known
from .checksum import internet_checksum

__all__ = ["IpProtocol", "HEADER_LEN", "Packet", "Repr", "parse_options"]


class IpProtocol(IntEnum):
    ICMP = 1
    IGMP = 2
    TCP = 6
    UDP = 17
    ICMPV6 = 58


VER_IHL, DSCP_ECN, LENGTH, IDENT, FLAGS_FRAG, TTL, PROTOCOL, CHECKSUM, SRC, DST = (
    0, 1, 2, 4, 6, 8, 9, 10, 12, 16)
HEADER_LEN = 20          # without options; the header may grow to 60 bytes
DF, MF = 0x4000, 0x2000  # in the 16-bit flags/fragment-offset word
#: the whole fixed header at once: parse and emit run for every packet, so they read and
#: write it with one struct call (the ``Packet`` getters are for looking at one field)
_HEADER = struct.Struct("!BBHHHBBH4s4s")


class Packet(PacketView):
    LAYER = "ipv4"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    dscp_ecn = U8(DSCP_ECN)
    total_len = U16(LENGTH)
    ident = U16(IDENT)
    flags_frag = U16(FLAGS_FRAG)
    ttl = U8(TTL)
    protocol = U8(PROTOCOL, IpProtocol)
    checksum = U16(CHECKSUM)
    src = Ipv4Field(SRC)
    dst = Ipv4Field(DST)

    def check_len(self) -> None:
        self.need(HEADER_LEN, "length")
        if self.header_len < HEADER_LEN:
            raise ParseError("ipv4", "header length", f"{self.header_len} < {HEADER_LEN}")
        self.need(self.header_len, "header length")
        if not self.header_len <= self.total_len <= len(self.buffer):
            raise ParseError("ipv4", "total length",
                             f"{self.total_len}, header {self.header_len}, buffer {len(self.buffer)}")

    @property
    def version(self) -> int:
        return self.buffer[VER_IHL] >> 4

    @property
    def header_len(self) -> int:
        """Header length in bytes (the IHL field counts 32-bit words)."""
        return (self.buffer[VER_IHL] & 0x0F) * 4

    def set_version_header_len(self, version: int, header_len: int) -> None:
        self.buffer[VER_IHL] = version << 4 | header_len // 4

    @property
    def dont_fragment(self) -> bool:
        return bool(self.flags_frag & DF)

    @property
    def more_fragments(self) -> bool:
        return bool(self.flags_frag & MF)

    @property
    def frag_offset(self) -> int:
        """Fragment offset in bytes (the field counts 8-byte units)."""
        return (self.flags_frag & 0x1FFF) * 8

    def set_fragment(self, dont_fragment: bool, more_fragments: bool, offset: int) -> None:
        if offset % 8:
            raise ValueError("a fragment offset is a multiple of 8 bytes")
        self.flags_frag = (DF if dont_fragment else 0) | (MF if more_fragments else 0) | offset // 8

    @property
    def options(self) -> memoryview:
        return self.buffer[HEADER_LEN:self.header_len]

    @property
    def payload(self) -> memoryview:
        """The bytes the total length covers after the header (Ethernet padding cut off)."""
        return self.buffer[self.header_len:self.total_len]

    def verify_checksum(self) -> bool:
        return internet_checksum(self.buffer[:self.header_len]) == 0

    def fill_checksum(self) -> None:
        self.checksum = 0
        self.checksum = internet_checksum(self.buffer[:self.header_len])


def parse_options(raw) -> list[tuple[int, bytes]]:
    """Split raw options into ``(type, data)`` pairs; END stops, NOP is ``(1, b"")``."""
    out, i = [], 0
    while i < len(raw):
        kind = raw[i]
        if kind == 0:                              # End of Option List
            break
        if kind == 1:                              # No Operation
            out.append((1, b""))
            i += 1
            continue
        if i + 1 >= len(raw) or not 2 <= raw[i + 1] <= len(raw) - i:
            raise ParseError("ipv4", "options", f"option {kind} has a bad length")
        out.append((kind, bytes(raw[i + 2:i + raw[i + 1]])))
        i += raw[i + 1]
    return out


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    """One IPv4 packet.  ``options`` is raw, a multiple of 4 bytes (pad with 0 = END)."""

    Packet = Packet
    src: IPv4Address
    dst: IPv4Address
    protocol: IpProtocol | int
    payload: bytes = b""
    ttl: int = 64
    ident: int = 0
    dscp_ecn: int = 0
    dont_fragment: bool = False
    more_fragments: bool = False
    frag_offset: int = 0
    options: bytes = b""

    @property
    def is_fragment(self) -> bool:
        return self.more_fragments or self.frag_offset != 0

    def stamped(self, ident: int, ttl: int) -> Repr:
        """This packet with the identification and TTL the interface gives it as it leaves
        (``dataclasses.replace`` does the same, several times slower: once per packet)."""
        return Repr(self.src, self.dst, self.protocol, self.payload, ttl, ident, self.dscp_ecn,
                    self.dont_fragment, self.more_fragments, self.frag_offset, self.options)

    @classmethod
    def parse(cls, packet_or_bytes, *, verify_checksum: bool = True) -> Repr:
        p = cls.view(packet_or_bytes)                   # every length checked
        (ver_ihl, dscp_ecn, total_len, ident, flags_frag, ttl, protocol, checksum,
         src, dst) = _HEADER.unpack_from(p.buffer)
        if ver_ihl >> 4 != 4:
            raise ParseError("ipv4", "version", str(ver_ihl >> 4))
        header_len = (ver_ihl & 0x0F) * 4
        if verify_checksum and internet_checksum(p.buffer[:header_len]) != 0:
            raise ParseError("ipv4", "checksum", f"{checksum:#06x}")
        options = bytes(p.buffer[HEADER_LEN:header_len])
        if options:
            parse_options(options)
        return cls(ipv4_address(src), ipv4_address(dst), known(IpProtocol, protocol),
                   bytes(p.buffer[header_len:total_len]), ttl, ident, dscp_ecn,
                   bool(flags_frag & DF), bool(flags_frag & MF), (flags_frag & 0x1FFF) * 8,
                   options)

    def buffer_len(self) -> int:
        return HEADER_LEN + len(self.options) + len(self.payload)

    def emit(self, buf) -> None:
        if len(self.options) % 4 or len(self.options) > 40:
            raise ValueError("IPv4 options are a multiple of 4 bytes, at most 40")
        if self.frag_offset % 8:
            raise ValueError("a fragment offset is a multiple of 8 bytes")
        header_len = HEADER_LEN + len(self.options)
        total_len = header_len + len(self.payload)
        flags_frag = ((DF if self.dont_fragment else 0) | (MF if self.more_fragments else 0)
                      | self.frag_offset // 8)
        _HEADER.pack_into(buf, 0, 4 << 4 | header_len // 4, self.dscp_ecn, total_len, self.ident,
                          flags_frag, self.ttl, self.protocol, 0, _packed(self.src),
                          _packed(self.dst))
        buf[HEADER_LEN:header_len] = self.options
        buf[header_len:total_len] = self.payload
        struct.pack_into("!H", buf, CHECKSUM, internet_checksum(buf[:header_len]))


def _packed(address) -> bytes:
    return address.packed if isinstance(address, IPv4Address) else bytes(address)
