"""DNS messages (application layer, over UDP port 53).

One job: the DNS message (RFC 1035 section 4.1): 12-byte header, questions,
and resource records with A, AAAA (RFC 3596), CNAME, NS, PTR and TXT data
decoded; other types keep their data raw.  Names are dotted strings without
the final dot (the root is ``""``).

Name compression (RFC 1035 section 4.1.4) is read and written.  Reading is
loop-safe and bounded, so a hostile message cannot make parsing slow: a
compression pointer must point *before* the labels that led to it (every jump
goes backwards, the walk ends), a name follows at most ``MAX_POINTERS``
pointers and is at most 255 bytes long, and a whole message may read at most
``MAX_WORK`` labels and pointers, ``MAX_RECORDS`` records (without that, 64 KB of
names each following a long chain took seconds).  Caveat: raw data of other
types (MX, SOA, ...) may contain compressed names that point into the original
message; they are kept as received, so such records only re-emit correctly at
their original offsets.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from enum import IntEnum, IntFlag
from ipaddress import IPv4Address, IPv6Address

from ..errors import ParseError
from .base import PacketView, ReprBase, U16, known

__all__ = ["Type", "Class", "Flags", "Rcode", "PORT", "HEADER_LEN", "Packet", "Question",
           "Record", "Repr"]

PORT = 53


class Type(IntEnum):
    A = 1
    NS = 2
    CNAME = 5
    SOA = 6
    PTR = 12
    MX = 15
    TXT = 16
    AAAA = 28
    SRV = 33
    OPT = 41
    ANY = 255


class Class(IntEnum):
    IN = 1


class Flags(IntFlag):
    QR = 0x8000      # response
    AA = 0x0400      # authoritative answer
    TC = 0x0200      # truncated
    RD = 0x0100      # recursion desired
    RA = 0x0080      # recursion available
    AD = 0x0020      # authentic data (RFC 4035)
    CD = 0x0010      # checking disabled (RFC 4035)


class Rcode(IntEnum):
    NOERROR = 0
    FORMERR = 1
    SERVFAIL = 2
    NXDOMAIN = 3
    NOTIMP = 4
    REFUSED = 5


ID, FLAGS, QDCOUNT, ANCOUNT, NSCOUNT, ARCOUNT = 0, 2, 4, 6, 8, 10
HEADER_LEN = 12
MAX_NAME_LEN = 255     # wire bytes, length octets and the final zero included
POINTER = 0xC0
MAX_POINTERS = 128     # per name; like resolvers, far more than a real name needs
MAX_WORK = 8192        # per message: labels and pointers read, in place or through a
                       # pointer (~0.8 µs each: a 64 KB message is parsed or refused in
                       # < 10 ms; a 1472-byte frame of real names needs a few hundred)
MAX_RECORDS = 4096     # questions + records per message: a 64 KB message of tiny records
                       # is refused in a few ms (a 1472-byte frame holds at most ~300)


class Packet(PacketView):
    LAYER = "dns"
    HEADER_LEN = HEADER_LEN
    __slots__ = ()

    id = U16(ID)
    flags = U16(FLAGS)
    qdcount = U16(QDCOUNT)
    ancount = U16(ANCOUNT)
    nscount = U16(NSCOUNT)
    arcount = U16(ARCOUNT)

    @property
    def payload(self) -> memoryview:
        return self.buffer[HEADER_LEN:]


@dataclass(frozen=True, slots=True)
class Question:
    name: str
    type: Type | int = Type.A
    cls: Class | int = Class.IN


@dataclass(frozen=True, slots=True)
class Record:
    """A resource record.  ``data``: IPv4Address (A), IPv6Address (AAAA), a name
    (CNAME, NS, PTR), a tuple of byte strings (TXT), raw bytes (anything else)."""

    name: str
    type: Type | int
    ttl: int
    data: object
    cls: Class | int = Class.IN


# -- reading -------------------------------------------------------------------------------

def read_name(msg: bytes, pos: int) -> tuple[str, int]:
    """The name at ``msg[pos:]`` and the offset just after it (after the first pointer)."""
    return _Reader(msg).name(pos)


class _Reader:
    """Reads a message front to back, counting the labels and pointers it reads."""

    def __init__(self, msg: bytes):
        self.msg, self.pos = msg, HEADER_LEN
        self.work = 0            # labels and pointers read, whole message

    def name(self, pos: int) -> tuple[str, int]:
        """The name at ``msg[pos:]`` and the offset just after it (after the first pointer)."""
        msg = self.msg
        labels, wire_len, end, segment_start, pointers = [], 1, None, pos, 0
        while True:
            if pos >= len(msg):
                raise ParseError("dns", "name", "runs past the end")
            self.work += 1
            if self.work > MAX_WORK:
                raise ParseError("dns", "names", f"more than {MAX_WORK} labels and "
                                 "pointers in one message")
            n = msg[pos]
            if n & POINTER == POINTER:
                # RFC 1035 §4.1.4: two top bits set, a pointer: the rest of the name is
                # at the 14-bit offset.  It must point back, before the labels that led
                # here, so the walk ends; and at most MAX_POINTERS per name, so it is short.
                if pos + 1 >= len(msg):
                    raise ParseError("dns", "name", "runs past the end")
                target = (n & 0x3F) << 8 | msg[pos + 1]
                if target >= segment_start:
                    raise ParseError("dns", "name", f"compression pointer to {target} does not point back")
                pointers += 1
                if pointers > MAX_POINTERS:
                    raise ParseError("dns", "name", f"more than {MAX_POINTERS} compression pointers")
                if end is None:
                    end = pos + 2
                pos = segment_start = target
                continue
            if n & POINTER:
                raise ParseError("dns", "name", f"label type {n >> 6:#x}")
            if n == 0:
                return ".".join(labels), end if end is not None else pos + 1
            label = msg[pos + 1:pos + 1 + n]
            wire_len += 1 + n
            if len(label) < n:
                raise ParseError("dns", "name", "runs past the end")
            if wire_len > MAX_NAME_LEN:
                raise ParseError("dns", "name", f"longer than {MAX_NAME_LEN} bytes")
            if b"." in label:
                raise ParseError("dns", "name", "a label contains '.'")
            labels.append(label.decode("latin-1"))
            pos += 1 + n

    def data(self, type_: int, start: int, end: int):
        """The record data at ``msg[start:end]``, decoded for the types we know."""
        raw = self.msg[start:end]
        if type_ == Type.A or type_ == Type.AAAA:
            size, kind = (4, IPv4Address) if type_ == Type.A else (16, IPv6Address)
            if len(raw) != size:
                raise ParseError("dns", "rdata", f"{Type(type_).name} needs {size} bytes, got {len(raw)}")
            return kind(raw)
        if type_ in (Type.CNAME, Type.NS, Type.PTR):
            name, after = self.name(start)
            if after != end:
                raise ParseError("dns", "rdata", "name does not fill the record data")
            return name
        if type_ == Type.TXT:
            strings, i = [], 0
            while i < len(raw):
                if i + 1 + raw[i] > len(raw):
                    raise ParseError("dns", "rdata", "TXT string runs past the end")
                strings.append(raw[i + 1:i + 1 + raw[i]])
                i += 1 + raw[i]
            return tuple(strings)
        return raw

    def fixed(self, fmt: str, what: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.msg):
            raise ParseError("dns", what, "runs past the end")
        values = struct.unpack_from(fmt, self.msg, self.pos)
        self.pos += size
        return values

    def question(self) -> Question:
        name, self.pos = self.name(self.pos)
        type_, cls = self.fixed("!HH", "question")
        return Question(name, known(Type, type_), known(Class, cls))

    def record(self) -> Record:
        name, self.pos = self.name(self.pos)
        type_, cls, ttl, length = self.fixed("!HHIH", "record")
        start, self.pos = self.pos, self.pos + length
        if self.pos > len(self.msg):
            raise ParseError("dns", "rdata", "runs past the end")
        return Record(name, known(Type, type_), ttl, self.data(type_, start, self.pos),
                      known(Class, cls))


# -- writing -------------------------------------------------------------------------------

class _Writer:
    """Appends to a message, compressing every name against the suffixes written before."""

    def __init__(self):
        self.out = bytearray(HEADER_LEN)
        self.offsets: dict[tuple[str, ...], int] = {}

    def name(self, name: str) -> None:
        labels = tuple(name.split(".")) if name else ()
        for i in range(len(labels)):
            suffix = labels[i:]          # case-sensitive, so parse(emit(x)) == x
            if suffix in self.offsets:
                self.out += struct.pack("!H", POINTER << 8 | self.offsets[suffix])
                return
            if len(self.out) < 0x4000:               # a pointer holds 14 bits
                self.offsets[suffix] = len(self.out)
            raw = labels[i].encode("latin-1")
            if not 0 < len(raw) < 64:
                raise ValueError(f"DNS label {labels[i]!r} must be 1 to 63 bytes")
            self.out += bytes([len(raw)]) + raw
        self.out += b"\0"

    def question(self, q: Question) -> None:
        self.name(q.name)
        self.out += struct.pack("!HH", q.type, q.cls)

    def record(self, r: Record) -> None:
        self.name(r.name)
        self.out += struct.pack("!HHI", r.type, r.cls, r.ttl)
        length_at = len(self.out)
        self.out += b"\0\0"
        if r.type in (Type.CNAME, Type.NS, Type.PTR):
            self.name(r.data)
        elif r.type == Type.TXT:
            self.out += b"".join(bytes([len(s)]) + s for s in r.data)
        elif isinstance(r.data, (IPv4Address, IPv6Address)):
            self.out += r.data.packed
        else:
            self.out += r.data
        struct.pack_into("!H", self.out, length_at, len(self.out) - length_at - 2)


@dataclass(frozen=True, slots=True)
class Repr(ReprBase):
    Packet = Packet
    id: int
    flags: Flags | int = Flags(0)      # opcode (bits 11-14) and rcode (bits 0-3) live here too
    questions: tuple[Question, ...] = ()
    answers: tuple[Record, ...] = ()
    authorities: tuple[Record, ...] = ()
    additionals: tuple[Record, ...] = ()

    @classmethod
    def query(cls, id: int, name: str, type_: Type | int = Type.A) -> Repr:
        """A recursive query for one name, as a stub resolver sends it."""
        return cls(id, Flags.RD, (Question(name, type_),))

    @property
    def is_response(self) -> bool:
        return bool(self.flags & Flags.QR)

    @property
    def opcode(self) -> int:
        return (self.flags >> 11) & 0xF

    @property
    def rcode(self) -> Rcode | int:
        return known(Rcode, self.flags & 0xF)

    @classmethod
    def parse(cls, packet_or_bytes) -> Repr:
        p = cls.view(packet_or_bytes)
        count = p.qdcount + p.ancount + p.nscount + p.arcount
        if count > MAX_RECORDS:
            raise ParseError("dns", "counts", f"{count} questions and records, at most {MAX_RECORDS}")
        reader = _Reader(bytes(p.buffer))
        questions = tuple(reader.question() for _ in range(p.qdcount))
        sections = [tuple(reader.record() for _ in range(count))
                    for count in (p.ancount, p.nscount, p.arcount)]
        return cls(p.id, Flags(p.flags), questions, *sections)

    def to_bytes(self) -> bytes:
        w = _Writer()
        struct.pack_into("!6H", w.out, 0, self.id, self.flags, len(self.questions),
                         len(self.answers), len(self.authorities), len(self.additionals))
        for q in self.questions:
            w.question(q)
        for r in self.answers + self.authorities + self.additionals:
            w.record(r)
        return bytes(w.out)

    def buffer_len(self) -> int:
        return len(self.to_bytes())

    def emit(self, buf) -> None:
        raw = self.to_bytes()
        self.view(buf, checked=False).buffer[:len(raw)] = raw
