"""What every wire module shares: typed fields over a byte view, and the Repr helpers.

Layer: wire (bytes only, no devices).  One job: let each protocol module describe
its header as a table of offsets (``src_port = U16(0)``) instead of repeating
``struct`` calls, and give every ``Packet``/``Repr`` pair the same shape
(CONVENTIONS 1).  Multi-byte fields are big-endian, "network order" (RFC 1700).
"""

from __future__ import annotations

import functools
import struct
from enum import IntEnum
from ipaddress import IPv4Address
from typing import Any, ClassVar

from ..errors import ParseError

__all__ = ["known", "Field", "U8", "U16", "U32", "BytesField", "Ipv4Field", "ipv4_address",
           "PacketView", "ReprBase"]


def known(enum_cls: type[IntEnum], value: int) -> IntEnum | int:
    """The enum member for ``value``, or ``value`` itself when the number is unknown.

    Unknown numbers are values, not errors (CONVENTIONS 3): a frame with a new
    EtherType still parses, its ethertype is simply a plain ``int``.
    """
    return enum_cls._value2member_map_.get(value, value)


class Field:
    """A fixed-size field at a byte offset; a descriptor on a ``PacketView``."""

    def __init__(self, fmt: str, offset: int, enum: type[IntEnum] | None = None):
        self.struct = struct.Struct("!" + fmt)
        self.offset, self.enum = offset, enum

    def __get__(self, packet, owner=None):
        if packet is None:
            return self
        value = self.struct.unpack_from(packet.buffer, self.offset)[0]
        return known(self.enum, value) if self.enum else value

    def __set__(self, packet, value) -> None:
        self.struct.pack_into(packet.buffer, self.offset, value)


def U8(offset, enum=None):
    return Field("B", offset, enum)


def U16(offset, enum=None):
    return Field("H", offset, enum)


def U32(offset, enum=None):
    return Field("I", offset, enum)


class BytesField:
    """``size`` raw bytes at ``offset``, converted by ``kind`` (e.g. an address type)."""

    def __init__(self, offset: int, size: int, kind=bytes):
        self.offset, self.size, self.kind = offset, size, kind

    def __get__(self, packet, owner=None):
        if packet is None:
            return self
        return self.kind(bytes(packet.buffer[self.offset:self.offset + self.size]))

    def __set__(self, packet, value) -> None:
        raw = value.packed if isinstance(value, IPv4Address) else bytes(value)
        if len(raw) != self.size:
            raise ValueError(f"field needs {self.size} bytes, got {len(raw)}")
        packet.buffer[self.offset:self.offset + self.size] = raw


#: IPv4Address from 4 packed bytes, remembered: every packet names two addresses, and
#: ``ipaddress`` builds each in Python (the same few hosts, thousands of times a second)
ipv4_address = functools.lru_cache(maxsize=4096)(IPv4Address)


def Ipv4Field(offset):
    return BytesField(offset, 4, ipv4_address)


class PacketView:
    """A view over a frame's bytes: getters and setters read and write in place.

    Build one with ``new_checked(buf)`` for untrusted bytes: it checks every
    length the getters rely on, so a getter can never read past the end.
    Setters need a writable buffer (``bytearray``).
    """

    LAYER: ClassVar[str] = "?"
    HEADER_LEN: ClassVar[int] = 0
    __slots__ = ("buffer",)

    def __init__(self, buffer):
        self.buffer = buffer if isinstance(buffer, memoryview) else memoryview(buffer)

    @classmethod
    def new_unchecked(cls, buffer):
        return cls(buffer)

    @classmethod
    def new_checked(cls, buffer):
        packet = cls(buffer)
        packet.check_len()
        return packet

    def check_len(self) -> None:
        """Raise ParseError unless the buffer holds what the getters read."""
        self.need(self.HEADER_LEN, "length")

    def need(self, size: int, field: str) -> None:
        if len(self.buffer) < size:
            raise ParseError(self.LAYER, field, f"{len(self.buffer)} bytes, need {size}")

    def __len__(self) -> int:
        return len(self.buffer)

    def __repr__(self) -> str:
        return f"<{type(self).__module__}.Packet {bytes(self.buffer[:self.HEADER_LEN]).hex()}...>"


class ReprBase:
    """Mixin for the frozen ``Repr`` dataclasses: ``to_bytes`` from ``buffer_len``/``emit``."""

    __slots__ = ()
    Packet: ClassVar[type[PacketView]]

    @classmethod
    def view(cls, packet_or_bytes: Any, checked: bool = True) -> PacketView:
        """The ``Packet`` view of ``packet_or_bytes`` (checked unless told otherwise)."""
        if isinstance(packet_or_bytes, cls.Packet):
            return packet_or_bytes
        make = cls.Packet.new_checked if checked else cls.Packet.new_unchecked
        return make(packet_or_bytes)

    def to_bytes(self, *args, **kwargs) -> bytes:
        buf = bytearray(self.buffer_len())
        self.emit(buf, *args, **kwargs)
        return bytes(buf)
