"""iface layer: IPv4 fragments -- reassembly with bounds, and fragmentation on send.

RFC 791 §3.2 (fragmentation and reassembly) and RFC 815's hole-list idea, reduced:
fragments of one datagram are keyed by (src, dst, protocol, ident) and kept as
``{offset: bytes}``.  The defences a hostile network needs:

* at most ``MAX_DATAGRAMS`` reassemblies in flight and ``MAX_BYTES`` held in all;
  past that a new datagram is refused (the old ones are not evicted by a flood);
* a datagram is given up ``TIMEOUT`` seconds after its first fragment (RFC 791
  suggests 15 s; Linux uses 30 s);
* at most ``MAX_FRAGMENTS`` pieces per datagram, so tiny-fragment floods cost little;
* overlapping fragments drop the whole datagram (RFC 5722 asks this of IPv6; it
  defeats teardrop-style attacks), and so does one that would grow past 65,535 bytes;
  an exact duplicate (the network sent it twice) is only ignored (RFC 8200 §4.5).

Each refusal returns a reason: the interface counts it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ..wire import ipv4

__all__ = ["Reassembler", "fragment", "TIMEOUT", "MAX_DATAGRAMS", "MAX_BYTES"]

TIMEOUT = 30.0
MAX_DATAGRAMS = 16
MAX_BYTES = 256 * 1024
MAX_FRAGMENTS = 64          # a 64 KiB datagram in 1480-byte fragments needs 45
MAX_DATAGRAM = 65_535       # total length of an IPv4 datagram, header included


@dataclass
class _Datagram:
    started: float
    header: ipv4.Repr                           # the first fragment's header (offset 0)
    pieces: dict = field(default_factory=dict)  # offset -> payload bytes
    total: int | None = None                    # payload length, known from the last fragment

    def complete(self) -> bool:
        if self.total is None or 0 not in self.pieces:
            return False
        end = 0
        for offset in sorted(self.pieces):
            if offset != end:
                return False
            end += len(self.pieces[offset])
        return end == self.total


class Reassembler:
    def __init__(self):
        self.datagrams: dict[tuple, _Datagram] = {}
        self.held = 0                               # payload bytes held in all datagrams

    def add(self, packet: ipv4.Repr, now: float) -> tuple[ipv4.Repr | None, str | None]:
        """Take one fragment.  Returns (the whole datagram or None, a drop reason or None)."""
        key = (packet.src, packet.dst, packet.protocol, packet.ident)
        start, data = packet.frag_offset, packet.payload
        end = start + len(data)
        d = self.datagrams.get(key)
        if ipv4.HEADER_LEN + end > MAX_DATAGRAM:
            return self._drop(key), "frag_too_big"
        if d is None:
            if len(self.datagrams) >= MAX_DATAGRAMS:
                return None, "frag_table_full"
            d = _Datagram(now, packet)
        if start in d.pieces:                       # this offset again: a copy, or a lie
            if d.pieces[start] == data:
                return None, "frag_duplicate"
            return self._drop(key), "frag_overlap"  # (replacing it would lose track of `held`)
        if self.held + len(data) > MAX_BYTES:
            return None, "frag_memory_full"
        if len(d.pieces) >= MAX_FRAGMENTS:
            return self._drop(key), "frag_too_many"
        for offset, piece in d.pieces.items():      # RFC 5722: any overlap spoils it all
            if start < offset + len(piece) and offset < end:
                return self._drop(key), "frag_overlap"
        if not packet.more_fragments:               # the last fragment fixes the length
            if d.total is not None and d.total != end:
                return self._drop(key), "frag_overlap"
            d.total = end
        if d.total is not None and end > d.total:
            return self._drop(key), "frag_overlap"
        self.datagrams[key] = d
        d.pieces[start] = data
        self.held += len(data)
        if start == 0:
            d.header = packet
        if not d.complete():
            return None, None
        self._drop(key)
        payload = b"".join(d.pieces[o] for o in sorted(d.pieces))
        h = d.header
        return ipv4.Repr(h.src, h.dst, h.protocol, payload, h.ttl, h.ident, h.dscp_ecn), None

    def _drop(self, key) -> None:
        d = self.datagrams.pop(key, None)
        if d is not None:
            self.held -= sum(map(len, d.pieces.values()))

    def expire(self, now: float) -> int:
        """Drop reassemblies older than TIMEOUT; returns how many."""
        old = [k for k, d in self.datagrams.items() if now - d.started >= TIMEOUT]
        for k in old:
            self._drop(k)
        return len(old)

    def poll_at(self) -> float | None:
        return min((d.started + TIMEOUT for d in self.datagrams.values()), default=None)


def fragment(packet: ipv4.Repr, mtu: int) -> list[ipv4.Repr]:
    """Split ``packet`` so each piece fits ``mtu`` (RFC 791 §3.2: offsets in 8-byte units)."""
    room = (mtu - ipv4.HEADER_LEN - len(packet.options)) & ~7
    if ipv4.HEADER_LEN + len(packet.options) + len(packet.payload) <= mtu:
        return [packet]
    if packet.dont_fragment:
        raise ValueError(f"{len(packet.payload)}-byte payload with DF set does not fit MTU {mtu}")
    data, pieces = packet.payload, []
    for offset in range(0, len(data), room):
        chunk = data[offset:offset + room]
        last = offset + room >= len(data)
        pieces.append(ipv4.Repr(packet.src, packet.dst, packet.protocol, chunk, packet.ttl,
                                packet.ident, packet.dscp_ecn, False, not last, offset,
                                packet.options if offset == 0 else b""))
    return pieces
