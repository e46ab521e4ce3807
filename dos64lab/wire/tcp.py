"""TCP (transport layer).

One job: the TCP header (RFC 9293 section 3.1): ports, sequence and
acknowledgment numbers, data offset, the nine control bits (incl. ECE/CWR,
RFC 3168, and NS, RFC 3540), window, checksum over the IPv4 pseudo-header, and
options: MSS (RFC 9293 3.2), window scale and timestamps (RFC 7323), SACK-permitted
and SACK blocks (RFC 2018), NOP and END; unknown options are kept.
TCP has no length field: the segment is whatever IPv4 payload it was given.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import ClassVar
from enum import IntFlag
from ipaddress import IPv4Address

from ..errors import ParseError
from .base import PacketView, ReprBase, U16, U32
from .checksum import internet_checksum, pseudo_header_sum
from .ipv4 import IpProtocol

__all__ = ["TcpFlags", "HEADER_LEN", "Packet", "Repr", "Nop", "Mss", "WindowScale",
           "SackPermitted", "Sack", "Timestamps", "UnknownOption", "parse_options",
           "emit_options"]


class TcpFlags(IntFlag):
    FIN = 0x001
    SYN = 0x002
    RST = 0x004
    PSH = 0x008
    ACK = 0x010
    URG = 0x020
    ECE = 0x040
    CWR = 0x080
    NS = 0x100

    # ``seg.flags & TcpFlags.SYN`` runs several times per segment: int's own AND (a plain
    # int, true or false) instead of enum's, which builds a new TcpFlags each time
    __and__ = __rand__ = int.__and__

    def short(self) -> str:
        """tcpdump's notation: ``S``, ``S.``, ``P.``, ``F.`` ... (``.`` is ACK)."""
        letters = "".join(c for f, c in _LETTERS if self & f)
        return letters + ("." if self & TcpFlags.ACK else "")


_LETTERS = ((TcpFlags.FIN, "F"), (TcpFlags.SYN, "S"), (TcpFlags.RST, "R"), (TcpFlags.PSH, "P"),
            (TcpFlags.URG, "U"), (TcpFlags.ECE, "E"), (TcpFlags.CWR, "W"), (TcpFlags.NS, "N"))

SRC_PORT, DST_PORT, SEQ, ACK, OFFSET_FLAGS, WINDOW, CHECKSUM, URGENT = 0, 2, 4, 8, 12, 14, 16, 18
HEADER_LEN = 20          # without options; the header may grow to 60 bytes
#: the fixed header in one struct call, for parse and emit (they run for every segment)
_HEADER = struct.Struct("!HHIIHHHH")


# -- options: one small value type each --------------------------------------------------

@dataclass(frozen=True, slots=True)
class Nop:
    kind: ClassVar[int] = 1

    def data(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class Mss:
    value: int
    kind: ClassVar[int] = 2

    def data(self) -> bytes:
        return struct.pack("!H", self.value)


@dataclass(frozen=True, slots=True)
class WindowScale:
    shift: int
    kind: ClassVar[int] = 3

    def data(self) -> bytes:
        return bytes([self.shift])


@dataclass(frozen=True, slots=True)
class SackPermitted:
    kind: ClassVar[int] = 4

    def data(self) -> bytes:
        return b""


@dataclass(frozen=True, slots=True)
class Sack:
    blocks: tuple[tuple[int, int], ...]     # (left edge, right edge) pairs
    kind: ClassVar[int] = 5

    def data(self) -> bytes:
        return b"".join(struct.pack("!II", left, right) for left, right in self.blocks)


@dataclass(frozen=True, slots=True)
class Timestamps:
    tsval: int
    tsecr: int
    kind: ClassVar[int] = 8

    def data(self) -> bytes:
        return struct.pack("!II", self.tsval, self.tsecr)


@dataclass(frozen=True, slots=True)
class UnknownOption:
    kind: int
    raw: bytes = b""

    def data(self) -> bytes:
        return self.raw


Option = Nop | Mss | WindowScale | SackPermitted | Sack | Timestamps | UnknownOption

# kind -> (is this data length right?, build the option from its data)
_DECODERS = {
    Mss.kind: (lambda n: n == 2, lambda d: Mss(*struct.unpack("!H", d))),
    WindowScale.kind: (lambda n: n == 1, lambda d: WindowScale(d[0])),
    SackPermitted.kind: (lambda n: n == 0, lambda d: SackPermitted()),
    Sack.kind: (lambda n: n > 0 and n % 8 == 0,
                lambda d: Sack(tuple(struct.iter_unpack("!II", d)))),
    Timestamps.kind: (lambda n: n == 8, lambda d: Timestamps(*struct.unpack("!II", d))),
}


def parse_options(raw) -> tuple[Option, ...]:
    """Decode the options area.  END (kind 0) stops it; what follows END is padding."""
    out, i = [], 0
    while i < len(raw) and raw[i] != 0:
        kind = raw[i]
        if kind == Nop.kind:
            out.append(Nop())
            i += 1
            continue
        if i + 1 >= len(raw) or not 2 <= raw[i + 1] <= len(raw) - i:
            raise ParseError("tcp", "options", f"option {kind} has a bad length")
        data = bytes(raw[i + 2:i + raw[i + 1]])
        length_ok, build = _DECODERS.get(kind, (None, None))
        if build is None:
            out.append(UnknownOption(kind, data))
        elif length_ok(len(data)):
            out.append(build(data))
        else:
            raise ParseError("tcp", "options", f"option {kind} with {len(data)} data bytes")
        i += raw[i + 1]
    return tuple(out)


def emit_options(options) -> bytes:
    """Encode options, padded with zeros (END) to a multiple of 4 bytes."""
    if not options:
        return b""
    raw = b"".join(bytes([o.kind]) if isinstance(o, Nop) else
                   bytes([o.kind, 2 + len(o.data())]) + o.data() for o in options)
    raw += bytes(-len(raw) % 4)
    if len(raw) > 40:
        raise ValueError(f"TCP options take {len(raw)} bytes, at most 40 fit")
    return raw


# -- the header ---------------------------------------------------------------------------

class Packet(PacketView):
    LAYER = "tcp"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    src_port = U16(SRC_PORT)
    dst_port = U16(DST_PORT)
    seq = U32(SEQ)
    ack = U32(ACK)
    offset_flags = U16(OFFSET_FLAGS)      # data offset (4 bits), reserved (3), NS + 8 flags
    window = U16(WINDOW)
    checksum = U16(CHECKSUM)
    urgent = U16(URGENT)

    def check_len(self) -> None:
        self.need(HEADER_LEN, "length")
        if self.header_len < HEADER_LEN:
            raise ParseError("tcp", "data offset", f"{self.header_len} < {HEADER_LEN}")
        self.need(self.header_len, "data offset")

    @property
    def header_len(self) -> int:
        return (self.offset_flags >> 12) * 4

    @property
    def flags(self) -> TcpFlags:
        return TcpFlags(self.offset_flags & 0x1FF)

    def set_header_len_flags(self, header_len: int, flags: int) -> None:
        self.offset_flags = (header_len // 4) << 12 | (flags & 0x1FF)

    @property
    def options(self) -> memoryview:
        return self.buffer[HEADER_LEN:self.header_len]

    @property
    def payload(self) -> memoryview:
        return self.buffer[self.header_len:]

    def _sum(self, src_ip: IPv4Address, dst_ip: IPv4Address) -> int:
        start = pseudo_header_sum(src_ip, dst_ip, IpProtocol.TCP, len(self.buffer))
        return internet_checksum(self.buffer, start)

    def verify_checksum(self, src_ip: IPv4Address, dst_ip: IPv4Address) -> bool:
        return self._sum(src_ip, dst_ip) == 0

    def fill_checksum(self, src_ip: IPv4Address, dst_ip: IPv4Address) -> None:
        self.checksum = 0
        self.checksum = self._sum(src_ip, dst_ip)


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    """One TCP segment.  ``options`` keeps their order, so real segments re-emit exactly."""

    Packet = Packet
    src_port: int
    dst_port: int
    seq: int = 0
    ack: int = 0
    flags: TcpFlags = TcpFlags(0)
    window: int = 0
    urgent: int = 0
    options: tuple[Option, ...] = ()
    payload: bytes = b""

    def _find(self, kind: type):
        return next((o for o in self.options if isinstance(o, kind)), None)

    @property
    def mss(self) -> int | None:
        return o.value if (o := self._find(Mss)) else None

    @property
    def window_scale(self) -> int | None:
        return o.shift if (o := self._find(WindowScale)) else None

    @property
    def sack_permitted(self) -> bool:
        return self._find(SackPermitted) is not None

    @property
    def sack_blocks(self) -> tuple[tuple[int, int], ...]:
        return o.blocks if (o := self._find(Sack)) else ()

    @property
    def timestamps(self) -> Timestamps | None:
        return self._find(Timestamps)

    @property
    def seq_len(self) -> int:
        """Sequence space used: payload bytes, plus one each for SYN and FIN."""
        return len(self.payload) + bool(self.flags & TcpFlags.SYN) + bool(self.flags & TcpFlags.FIN)

    @classmethod
    def parse(cls, packet_or_bytes, src_ip: IPv4Address | None, dst_ip: IPv4Address | None,
              *, verify_checksum: bool = True) -> Repr:
        p = cls.view(packet_or_bytes)                   # every length checked
        if verify_checksum and src_ip is not None and not p.verify_checksum(src_ip, dst_ip):
            raise ParseError("tcp", "checksum", f"{p.checksum:#06x}")
        src_port, dst_port, seq, ack, offset_flags, window, _, urgent = \
            _HEADER.unpack_from(p.buffer)
        header_len = (offset_flags >> 12) * 4
        options = p.buffer[HEADER_LEN:header_len]
        return cls(src_port, dst_port, seq, ack, _flags(offset_flags & 0x1FF), window, urgent,
                   parse_options(options) if options else (), bytes(p.buffer[header_len:]))

    def buffer_len(self) -> int:
        return HEADER_LEN + len(emit_options(self.options)) + len(self.payload)

    def emit(self, buf, src_ip: IPv4Address | None, dst_ip: IPv4Address | None) -> None:
        options = emit_options(self.options)
        header_len = HEADER_LEN + len(options)
        end = header_len + len(self.payload)
        _HEADER.pack_into(buf, 0, self.src_port, self.dst_port, self.seq, self.ack,
                          (header_len // 4) << 12 | (self.flags & 0x1FF), self.window, 0,
                          self.urgent)
        buf[HEADER_LEN:header_len] = options
        buf[header_len:end] = self.payload
        if src_ip is not None:
            start = pseudo_header_sum(src_ip, dst_ip, IpProtocol.TCP, end)
            struct.pack_into("!H", buf, CHECKSUM, internet_checksum(memoryview(buf)[:end], start))


def _flags(bits: int) -> TcpFlags:
    """TcpFlags(bits), built once per combination (enum builds each anew otherwise)."""
    return TcpFlags._value2member_map_.get(bits) or TcpFlags(bits)
