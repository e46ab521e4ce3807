"""TCP's receive side: what arrived, in order, for the application; what is early, kept.

RFC 9293 §3.10.7.4 (the acceptability test and in-order delivery), §3.8.6.2.2 (the
receiver's silly-window avoidance), RFC 2018 (SACK blocks we tell the peer about),
RFC 7323 §2 (our window scale).

* ``ready``: in-order bytes the application has not read yet, at most ``capacity``;
* ``early``: out-of-order segments inside the window, kept sorted and merged (bounded
  by the window, so a peer cannot make us hold more than we advertised);
* ``window()``: free room, announced in steps of at least one MSS or half the buffer
  (SWS avoidance), so the peer never sends a trickle of tiny segments.
"""

from __future__ import annotations

from .seq import Seq

__all__ = ["Receiver"]


class Receiver:
    def __init__(self, capacity: int, mss: int):
        self.capacity, self.mss = capacity, mss
        self.nxt: Seq | None = None       # RCV.NXT: the next byte we expect
        self.ready = bytearray()          # in order, unread
        self.early: list[tuple[Seq, bytes]] = []   # out of order: (seq, data), sorted, disjoint
        self.fin: Seq | None = None       # where the peer's FIN sits, once seen
        self.fin_received = False         # ... and RCV.NXT has passed it
        self.announced = capacity         # the window we last told the peer (unscaled bytes)
        self.sack_order: list[Seq] = []   # starts of early blocks, most recent first (RFC 2018 §4)
        self.ooo_segments = self.dup_segments = 0

    def start(self, irs: Seq) -> None:
        """The peer's SYN carried its initial sequence number (IRS)."""
        self.nxt = irs + 1

    # -- the window ---------------------------------------------------------------------
    def room(self) -> int:
        return self.capacity - len(self.ready)

    def window(self) -> int:
        """The window to announce (RFC 9293 §3.8.6.2.2): shrink never, grow in big steps."""
        room = self.room()
        if room - self.announced >= min(self.mss, self.capacity // 2) or room < self.announced:
            self.announced = room
        return max(0, min(self.announced, room))

    def acceptable(self, seq: Seq, length: int) -> bool:
        """RFC 9293 §3.10.7.4, the four cases of the acceptability test."""
        window = self.room()
        if length == 0:
            return seq == self.nxt if window == 0 else seq.between(self.nxt, self.nxt + window)
        if window == 0:
            return False
        end = seq + length - 1
        return seq.between(self.nxt, self.nxt + window) or end.between(self.nxt, self.nxt + window)

    # -- data -----------------------------------------------------------------------------
    def receive(self, seq: Seq, data: bytes, fin: bool) -> bool:
        """Take a segment's data (and FIN).  Returns True if it was out of order or filled
        a hole -- an ACK should go at once (RFC 5681 §4.2)."""
        offset = self.nxt - seq                      # bytes we already have at the front
        if offset > 0:
            if offset >= len(data) + fin:            # all of it (its FIN too): a duplicate,
                self.dup_segments += 1
                return True                          # ACK at once
            data, seq = data[offset:], self.nxt
        room = max(0, self.room() - (seq - self.nxt))
        if len(data) > room:                         # never beyond the window (§3.10.7.4);
            data, fin = data[:room], False           # a FIN past its edge is not taken
        if fin:
            self.fin = seq + len(data)
        hole_filled, in_order = False, seq == self.nxt
        if in_order:
            self.ready += data
            self.nxt = self.nxt + len(data)
            hole_filled = bool(self.early)
            self._drain_early()
        elif data:
            self._keep_early(seq, data)
            self.ooo_segments += 1
        if self.fin is not None and self.nxt == self.fin and not self.fin_received:
            self.fin_received = True
            self.nxt = self.nxt + 1                  # the FIN takes one sequence number
        return hole_filled or not in_order

    def _keep_early(self, seq: Seq, data: bytes) -> None:
        """Insert and merge an out-of-order block; the total stays within the window."""
        blocks = self.early + [(seq, data)]
        blocks.sort(key=lambda b: b[0] - self.nxt)
        merged: list[tuple[Seq, bytes]] = []
        for start, chunk in blocks:
            if merged:
                last_start, last = merged[-1]
                overlap = (last_start + len(last)) - start
                if overlap >= 0:
                    merged[-1] = (last_start, last + chunk[overlap:])
                    continue
            merged.append((start, chunk))
        self.early = merged
        newest = next(s for s, c in merged if 0 <= seq - s <= len(c))    # the block it joined
        starts = {s for s, _ in merged}
        self.sack_order = [newest] + [s for s in self.sack_order if s != newest and s in starts]

    def _drain_early(self) -> None:
        while self.early and self.early[0][0] <= self.nxt:
            start, chunk = self.early.pop(0)
            tail = chunk[self.nxt - start:]
            self.ready += tail
            self.nxt = self.nxt + len(tail)
        starts = {s for s, _ in self.early}
        self.sack_order = [s for s in self.sack_order if s in starts]

    def sack_blocks(self, limit: int) -> tuple[tuple[int, int], ...]:
        """Up to ``limit`` (left, right) edges of what we hold early, newest first."""
        by_start = dict(self.early)
        return tuple((int(s), int(s + len(by_start[s]))) for s in self.sack_order[:limit])

    def read(self, limit: int | None = None) -> bytes:
        n = len(self.ready) if limit is None else min(limit, len(self.ready))
        data = bytes(self.ready[:n])
        del self.ready[:n]
        return data

    @property
    def held_early(self) -> int:
        return sum(len(c) for _, c in self.early)
