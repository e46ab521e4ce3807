"""DHCPv4 (application layer, over UDP ports 67/68).

One job: the BOOTP message (RFC 2131 section 2, RFC 951) and the DHCP options
after its magic cookie (RFC 2132): message type (9.6), lease time (9.2),
subnet mask (3.3), router (3.5), DNS servers (3.8), hostname (3.14), server
identifier (9.7), requested IP (9.1), parameter request list (9.8), client
identifier (9.14).  Other options are kept as raw bytes, in order.

Options are kept as an ordered tuple of ``(code, value)`` pairs so a real
message re-emits byte for byte; the properties (``router``, ``lease_time`` ...)
read them.  Build a message with ``Repr.build(op, xid, chaddr, message_type=..., ...)``.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, fields
from enum import IntEnum
from ipaddress import IPv4Address

from ..errors import ParseError
from .base import BytesField, Ipv4Field, PacketView, ReprBase, U8, U16, U32, known
from .ethernet import EthernetAddress

__all__ = ["Op", "MessageType", "OptionCode", "MAGIC_COOKIE", "SERVER_PORT", "CLIENT_PORT",
           "HEADER_LEN", "Packet", "Repr"]

SERVER_PORT, CLIENT_PORT = 67, 68
MAGIC_COOKIE = 0x63825363


class Op(IntEnum):
    REQUEST = 1      # client to server
    REPLY = 2        # server to client


class MessageType(IntEnum):
    DISCOVER = 1
    OFFER = 2
    REQUEST = 3
    DECLINE = 4
    ACK = 5
    NAK = 6
    RELEASE = 7
    INFORM = 8


class OptionCode(IntEnum):
    PAD = 0
    SUBNET_MASK = 1
    ROUTER = 3
    DNS_SERVERS = 6
    HOSTNAME = 12
    REQUESTED_IP = 50
    LEASE_TIME = 51
    MESSAGE_TYPE = 53
    SERVER_ID = 54
    PARAMETER_REQUEST_LIST = 55
    CLIENT_ID = 61
    END = 255


OP, HTYPE, HLEN, HOPS, XID, SECS, FLAGS = 0, 1, 2, 3, 4, 8, 10
CIADDR, YIADDR, SIADDR, GIADDR, CHADDR, SNAME, FILE, COOKIE = 12, 16, 20, 24, 28, 44, 108, 236
HEADER_LEN = 240          # fixed BOOTP part + magic cookie; options follow
BROADCAST_FLAG = 0x8000


def _addr(data: bytes) -> IPv4Address:
    if len(data) != 4:
        raise ValueError("needs 4 bytes")
    return IPv4Address(data)


def _addrs(data: bytes) -> tuple[IPv4Address, ...]:
    if not data or len(data) % 4:
        raise ValueError("needs a multiple of 4 bytes")
    return tuple(IPv4Address(data[i:i + 4]) for i in range(0, len(data), 4))


def _u32(data: bytes) -> int:
    if len(data) != 4:
        raise ValueError("needs 4 bytes")
    return struct.unpack("!I", data)[0]


def _message_type(data: bytes) -> MessageType | int:
    if len(data) != 1:
        raise ValueError("needs 1 byte")
    return known(MessageType, data[0])


# code -> (decode bytes to value, encode value to bytes); other codes stay bytes
_CODECS = {
    OptionCode.SUBNET_MASK: (_addr, lambda v: v.packed),
    OptionCode.ROUTER: (_addrs, lambda v: b"".join(a.packed for a in v)),
    OptionCode.DNS_SERVERS: (_addrs, lambda v: b"".join(a.packed for a in v)),
    OptionCode.HOSTNAME: (lambda d: d.decode("latin-1"), lambda v: v.encode("latin-1")),
    OptionCode.REQUESTED_IP: (_addr, lambda v: v.packed),
    OptionCode.LEASE_TIME: (_u32, lambda v: struct.pack("!I", v)),
    OptionCode.MESSAGE_TYPE: (_message_type, lambda v: bytes([v])),
    OptionCode.SERVER_ID: (_addr, lambda v: v.packed),
    OptionCode.PARAMETER_REQUEST_LIST: (tuple, bytes),
}


class Packet(PacketView):
    LAYER = "dhcp"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    op = U8(OP, Op)
    htype = U8(HTYPE)
    hlen = U8(HLEN)
    hops = U8(HOPS)
    xid = U32(XID)
    secs = U16(SECS)
    flags = U16(FLAGS)
    ciaddr = Ipv4Field(CIADDR)       # client's address, when it already has one
    yiaddr = Ipv4Field(YIADDR)       # "your" address: what the server offers
    siaddr = Ipv4Field(SIADDR)       # next server (boot)
    giaddr = Ipv4Field(GIADDR)       # relay agent
    chaddr = BytesField(CHADDR, 6, EthernetAddress)   # 16 bytes on the wire; Ethernet uses 6
    sname = BytesField(SNAME, 64)
    file = BytesField(FILE, 128)
    cookie = U32(COOKIE)

    @property
    def options(self) -> memoryview:
        return self.buffer[HEADER_LEN:]


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    Packet = Packet
    op: Op | int
    xid: int
    chaddr: EthernetAddress
    secs: int = 0
    flags: int = 0
    hops: int = 0
    ciaddr: IPv4Address = IPv4Address(0)
    yiaddr: IPv4Address = IPv4Address(0)
    siaddr: IPv4Address = IPv4Address(0)
    giaddr: IPv4Address = IPv4Address(0)
    sname: bytes = b""          # trailing zeros stripped
    file: bytes = b""
    options: tuple[tuple[OptionCode | int, object], ...] = ()
    padding: int = 0            # zero bytes after the END option (BOOTP minimum is 300 bytes)

    @classmethod
    def build(cls, op, xid, chaddr, **kwargs) -> Repr:
        """Header fields by name; any other keyword is an option, in the order given:
        ``Repr.build(Op.REQUEST, 0x1234, mac, message_type=MessageType.DISCOVER,
        parameter_request_list=(1, 3, 6))``."""
        header = {f.name for f in fields(cls)}
        options = tuple((OptionCode[k.upper()], v) for k, v in kwargs.items() if k not in header)
        return cls(op, xid, chaddr, options=options,
                   **{k: v for k, v in kwargs.items() if k in header})

    def option(self, code: int, default=None):
        return next((v for c, v in self.options if c == code), default)

    message_type = property(lambda self: self.option(OptionCode.MESSAGE_TYPE))
    subnet_mask = property(lambda self: self.option(OptionCode.SUBNET_MASK))
    router = property(lambda self: self.option(OptionCode.ROUTER, (None,))[0])
    dns_servers = property(lambda self: self.option(OptionCode.DNS_SERVERS, ()))
    lease_time = property(lambda self: self.option(OptionCode.LEASE_TIME))
    server_id = property(lambda self: self.option(OptionCode.SERVER_ID))
    requested_ip = property(lambda self: self.option(OptionCode.REQUESTED_IP))
    parameter_request_list = property(
        lambda self: self.option(OptionCode.PARAMETER_REQUEST_LIST, ()))
    client_id = property(lambda self: self.option(OptionCode.CLIENT_ID))
    hostname = property(lambda self: self.option(OptionCode.HOSTNAME))

    @property
    def broadcast(self) -> bool:
        return bool(self.flags & BROADCAST_FLAG)

    @classmethod
    def parse(cls, packet_or_bytes) -> Repr:
        p = cls.view(packet_or_bytes)
        if p.htype != 1 or p.hlen != 6:
            raise ParseError("dhcp", "hardware type", "only Ethernet (htype 1, hlen 6) is handled")
        if p.cookie != MAGIC_COOKIE:
            raise ParseError("dhcp", "magic cookie", f"{p.cookie:#010x}")
        options, padding = _parse_options(p.options)
        return cls(p.op, p.xid, p.chaddr, p.secs, p.flags, p.hops, p.ciaddr, p.yiaddr,
                   p.siaddr, p.giaddr, p.sname.rstrip(b"\0"), p.file.rstrip(b"\0"),
                   options, padding)

    def _options_bytes(self) -> bytes:
        out = bytearray()
        for code, value in self.options:
            data = _CODECS[code][1](value) if code in _CODECS else bytes(value)
            if len(data) > 255:
                raise ValueError(f"option {code} is {len(data)} bytes, at most 255")
            out += bytes([code, len(data)]) + data
        return bytes(out + bytes([OptionCode.END]) + bytes(self.padding))

    def buffer_len(self) -> int:
        return HEADER_LEN + len(self._options_bytes())

    def emit(self, buf) -> None:
        p = self.view(buf, checked=False)
        p.buffer[:HEADER_LEN] = bytes(HEADER_LEN)        # chaddr padding, sname, file
        p.op, p.htype, p.hlen, p.hops = self.op, 1, 6, self.hops
        p.xid, p.secs, p.flags = self.xid, self.secs, self.flags
        p.ciaddr, p.yiaddr, p.siaddr, p.giaddr = self.ciaddr, self.yiaddr, self.siaddr, self.giaddr
        p.chaddr = self.chaddr
        p.sname, p.file = self.sname.ljust(64, b"\0"), self.file.ljust(128, b"\0")
        p.cookie = MAGIC_COOKIE
        options = self._options_bytes()
        p.buffer[HEADER_LEN:HEADER_LEN + len(options)] = options


def _parse_options(raw) -> tuple[tuple, int]:
    """The ``(code, value)`` pairs up to END, and how many bytes follow END."""
    out, i = [], 0
    while i < len(raw):
        code = raw[i]
        if code == OptionCode.END:
            return tuple(out), len(raw) - i - 1
        if code == OptionCode.PAD:
            i += 1
            continue
        if i + 1 >= len(raw) or i + 2 + raw[i + 1] > len(raw):
            raise ParseError("dhcp", "options", f"option {code} runs past the end")
        data = bytes(raw[i + 2:i + 2 + raw[i + 1]])
        code = known(OptionCode, code)
        if code in _CODECS:
            try:
                data = _CODECS[code][0](data)
            except ValueError as err:
                raise ParseError("dhcp", f"option {code.name.lower()}", str(err)) from err
        out.append((code, data))
        i += 2 + raw[i + 1]
    raise ParseError("dhcp", "options", "no END option")
