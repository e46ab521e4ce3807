"""ICMPv4 (network layer).

One job: the 8-byte ICMP header and its data (RFC 792): echo request/reply
(what ``ping`` sends), destination unreachable and time exceeded (whose data
quotes the offending IPv4 header + 8 bytes); other types are kept raw.
Every ICMP message is covered by the Internet checksum (RFC 1071).
The 4 bytes after the checksum ("rest of header") mean different things per
type: identifier + sequence number for echo, next-hop MTU for "fragmentation
needed" (RFC 1191 section 4), unused otherwise.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum

from ..errors import ParseError
from .base import PacketView, ReprBase, U8, U16
from .checksum import internet_checksum

__all__ = ["IcmpType", "HEADER_LEN", "Packet", "Repr"]


class IcmpType(IntEnum):
    ECHO_REPLY = 0
    DEST_UNREACHABLE = 3
    REDIRECT = 5
    ECHO_REQUEST = 8
    TIME_EXCEEDED = 11
    PARAM_PROBLEM = 12


TYPE, CODE, CHECKSUM, REST, IDENT, SEQ = 0, 1, 2, 4, 4, 6
HEADER_LEN = 8
QUOTING = (IcmpType.DEST_UNREACHABLE, IcmpType.TIME_EXCEEDED)   # data = original datagram


class Packet(PacketView):
    LAYER = "icmp"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    type = U8(TYPE, IcmpType)
    code = U8(CODE)
    checksum = U16(CHECKSUM)
    ident = U16(IDENT)      # echo only
    seq = U16(SEQ)          # echo only
    next_hop_mtu = U16(SEQ)  # destination unreachable, code 4 only

    @property
    def rest(self) -> memoryview:
        return self.buffer[REST:HEADER_LEN]

    @property
    def payload(self) -> memoryview:
        return self.buffer[HEADER_LEN:]

    def verify_checksum(self) -> bool:
        return internet_checksum(self.buffer) == 0

    def fill_checksum(self) -> None:
        self.checksum = 0
        self.checksum = internet_checksum(self.buffer)


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    """One ICMP message: type, code, the 4 "rest of header" bytes, and data.

    Build the common ones with ``Repr.echo_request(ident, seq, data)`` etc.
    """

    Packet = Packet
    type: IcmpType | int
    code: int = 0
    rest: bytes = bytes(4)
    data: bytes = b""

    @classmethod
    def echo_request(cls, ident: int, seq: int, data: bytes = b"") -> Repr:
        return cls(IcmpType.ECHO_REQUEST, 0, struct.pack("!HH", ident, seq), data)

    @classmethod
    def echo_reply(cls, ident: int, seq: int, data: bytes = b"") -> Repr:
        return cls(IcmpType.ECHO_REPLY, 0, struct.pack("!HH", ident, seq), data)

    @classmethod
    def dest_unreachable(cls, code: int, original: bytes, mtu: int = 0) -> Repr:
        return cls(IcmpType.DEST_UNREACHABLE, code, struct.pack("!xxH", mtu), original)

    @classmethod
    def time_exceeded(cls, code: int, original: bytes) -> Repr:
        return cls(IcmpType.TIME_EXCEEDED, code, bytes(4), original)

    @property
    def ident(self) -> int:
        return struct.unpack_from("!H", self.rest, 0)[0]

    @property
    def seq(self) -> int:
        return struct.unpack_from("!H", self.rest, 2)[0]

    @property
    def mtu(self) -> int:
        return struct.unpack_from("!H", self.rest, 2)[0]

    @classmethod
    def parse(cls, packet_or_bytes, *, verify_checksum: bool = True) -> Repr:
        p = cls.view(packet_or_bytes)
        if verify_checksum and not p.verify_checksum():
            raise ParseError("icmp", "checksum", f"{p.checksum:#06x}")
        if p.type in QUOTING and len(p.payload) < 20:
            raise ParseError("icmp", "data", "too short to quote an IPv4 header")
        return cls(p.type, p.code, bytes(p.rest), bytes(p.payload))

    def buffer_len(self) -> int:
        return HEADER_LEN + len(self.data)

    def emit(self, buf) -> None:
        if len(self.rest) != 4:
            raise ValueError("rest of header is 4 bytes")
        end = self.buffer_len()
        p = Packet(self.view(buf, checked=False).buffer[:end])  # the checksum covers exactly this
        p.type, p.code = self.type, self.code
        p.buffer[REST:HEADER_LEN] = self.rest
        p.buffer[HEADER_LEN:end] = self.data
        p.fill_checksum()
