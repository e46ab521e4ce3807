"""TCP's send side: the bytes the application gave us, what is in flight, what to send next.

RFC 9293 §3.8.6 (windows; §3.8.6.2.1 the sender's silly-window avoidance and Nagle's
algorithm, RFC 896), §3.10.7.4 (what an ACK does to SND.UNA and SND.WND), RFC 2018 (the
peer's SACK blocks: a scoreboard, so only the holes are sent again), RFC 7323 (the peer's
window is scaled).

Sequence space: ``una`` (SND.UNA, oldest unacknowledged) <= ``nxt`` (SND.NXT, next to
send) <= ``max`` (the highest ever sent: ``nxt`` goes back after a timeout).  ``buffer``
holds the bytes from ``base`` on, unacknowledged or unsent; a SYN and a FIN take one
sequence number each but no byte of the buffer.

Fast recovery does not move ``nxt``: ``next_segment`` first sends the holes again -- the
segment at ``una``, then (with SACK) each gap below the peer's highest SACKed byte, once
each (``high_rxt``, RFC 6675's HighRxt) -- and then new data from ``nxt``.
"""

from __future__ import annotations

from .congestion import NewReno
from .rtt import RttEstimator
from .seq import Seq, seq_max

__all__ = ["Sender"]


class Sender:
    def __init__(self, iss: Seq, capacity: int, mss: int, min_rto: float):
        self.iss = iss
        self.una = self.nxt = self.max = iss        # the SYN is iss; data starts at iss + 1
        self.base = iss + 1                         # sequence number of buffer[0]
        self.buffer = bytearray()
        self.capacity = capacity
        self.wnd = 0                                # the peer's window, scaled, in bytes
        self.wl1: Seq | None = None                 # segment seq / ack of the last window update
        self.wl2: Seq | None = None
        self.max_wnd = 0
        self.mss = mss                              # payload bytes per segment (options aside)
        self.fin_queued = False                     # the application closed its side
        self.rtt = RttEstimator(min_rto)
        self.cc = NewReno(mss)
        self.timed: tuple[Seq, float] | None = None  # (seq, sent at): one RTT sample at a time
        self.scoreboard: list[tuple[Seq, Seq]] = []  # SACKed [start, end) above una, sorted
        self.high_rxt = iss                         # in recovery, sent again up to here
        self.retransmits = 0
        self.bytes_acked = 0
        self.small_end = iss                        # end of the last sub-MSS segment sent

    # -- what the application gives ------------------------------------------------------
    def room(self) -> int:
        return self.capacity - len(self.buffer)

    def write(self, data: bytes) -> int:
        n = min(len(data), self.room())
        self.buffer += data[:n]
        return n

    @property
    def end(self) -> Seq:
        """The sequence number after the last byte the application gave us (FIN goes here)."""
        return self.base + len(self.buffer)

    @property
    def fin_seq(self) -> Seq | None:
        return self.end if self.fin_queued else None

    def fin_acked(self) -> bool:
        return self.fin_queued and self.una > self.end

    # -- what is in flight -----------------------------------------------------------------
    def sacked_bytes(self) -> int:
        return sum(e - s for s, e in self.scoreboard)

    def flight(self) -> int:
        """Bytes in the network: sent, not acked, not SACKed (RFC 6675's "pipe", simplified)."""
        return max(0, (self.nxt - self.una) - self.sacked_bytes())

    def is_sacked(self, seq: Seq) -> Seq | None:
        """If ``seq`` lies in a SACKed block, the end of that block."""
        for start, end in self.scoreboard:
            if start <= seq < end:
                return end
        return None

    def update_scoreboard(self, blocks) -> None:
        """The peer's SACK blocks (RFC 2018 §4): remember what it holds above una."""
        ranges = [(Seq(l), Seq(r)) for l, r in blocks]
        ranges = [(max(l, self.una), r) for l, r in ranges
                  if r > self.una and l < r and r <= self.max]
        merged: list[tuple[Seq, Seq]] = []
        for s, e in sorted(self.scoreboard + ranges, key=lambda b: b[0] - self.una):
            if merged and s <= merged[-1][1]:
                merged[-1] = (merged[-1][0], max(merged[-1][1], e))
            else:
                merged.append((s, e))
        self.scoreboard = merged[:32]               # bounded, whatever the peer claims

    # -- what to send next ------------------------------------------------------------------
    def usable_window(self) -> int:
        """min(cwnd, peer's window) minus what is in flight (RFC 5681 §3.1)."""
        return min(self.cc.cwnd, self.wnd) - self.flight()

    def next_segment(self, nagle: bool) -> tuple[Seq, bytes, bool] | None:
        """(seq, data, fin) of the next segment to send now, or None.

        In fast recovery, a hole first (``_hole``).  Then new data from SND.NXT, skipping
        what the peer SACKed.  A partial segment goes only when Nagle allows: no *small*
        segment unacknowledged (RFC 896 with Minshall's refinement, as Linux does: full
        segments in flight do not hold the tail back -- else the tail of every reply waits
        for the peer's delayed ACK), or Nagle off, or the application closed;
        and never a tiny one into a big window (RFC 9293 §3.8.6.2.1) -- unless it is sent
        again: after a timeout the window may be small for good (its update was lost).
        """
        if (hole := self._hole()) is not None:
            return hole
        seq = self.nxt
        while (end := self.is_sacked(seq)) is not None:
            seq = end
        offset = seq - self.base
        available = len(self.buffer) - offset
        room = self.usable_window()
        fin = self.fin_queued and available <= self.mss and seq <= self.end
        if available <= 0:
            if fin and seq == self.end and room >= 0:
                return seq, b"", True                # only the FIN
            return None
        size = min(available, self.mss, max(room, 0))
        if size <= 0:
            return None
        if size < self.mss and size < available and size < self.max_wnd // 2 and seq >= self.max:
            return None                              # SWS avoidance: the window cuts it short
        if (size < self.mss and nagle and self.nxt >= self.max and self.small_end > self.una
                and not self.fin_queued):
            return None                              # Nagle: a small segment is still out
        data = bytes(self.buffer[offset:offset + size])
        return seq, data, fin and size == available

    def _hole(self) -> tuple[Seq, bytes, bool] | None:
        """In fast recovery, a segment the peer lacks (RFC 6582 §3.2; RFC 6675 §4 NextSeg,
        simplified): SND.UNA first -- the duplicate or partial ACKs say it is missing, and
        it goes whatever the window (RFC 5681 §3.2 step 2) -- then, with SACK, each gap
        below the highest SACKed byte while the window allows.  Each at most once."""
        if not self.cc.in_recovery:
            return None
        seq = seq_max(self.una, self.high_rxt)
        while (end := self.is_sacked(seq)) is not None:
            seq = end
        first = seq == self.una
        if seq >= self.nxt or not (first or (self.scoreboard and seq < self.scoreboard[-1][1])):
            return None
        stop = min([seq + self.mss, self.nxt] + [s for s, _ in self.scoreboard if s > seq])
        size = max(0, min(stop, self.end) - seq)
        fin = self.fin_queued and seq + size == self.end and self.max > self.end
        if size == 0 and not fin:
            return None
        if not first and size > self.usable_window():
            return None
        offset = seq - self.base
        return seq, bytes(self.buffer[offset:offset + size]), fin

    def window_probe(self) -> tuple[Seq, bytes]:
        """The persist timer's segment (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17).  Into a zero
        window, the byte at SND.UNA; ``nxt`` stays at ``una``: if the peer rejects the byte,
        it goes again when the window opens; if it takes it, its ACK moves ``nxt``.  Into a
        window too small for SWS avoidance, what fits (§3.8.6.2.1: the override timeout)."""
        offset = self.una - self.base
        data = bytes(self.buffer[offset:offset + max(1, min(self.wnd, self.mss))])
        self.max = seq_max(self.max, self.una + len(data))
        if self.wnd:
            self.nxt = seq_max(self.nxt, self.una + len(data))
        return self.una, data

    def sent(self, seq: Seq, length: int, now: float, retransmission: bool) -> None:
        end = seq + length
        if 0 < length < self.mss and end > self.small_end:
            self.small_end = end                     # Nagle (Minshall): the last small one
        if retransmission:
            self.retransmits += 1
            self.high_rxt = seq_max(self.high_rxt, end)
            if self.timed and seq <= self.timed[0]:
                self.timed = None                    # Karn: that sample is ambiguous now
        elif self.timed is None and length:
            self.timed = (seq, now)
        if end > self.nxt:
            self.nxt = end
        if end > self.max:
            self.max = end

    # -- what an ACK does -------------------------------------------------------------------
    def acknowledge(self, ack: Seq, now: float, rtt_from_timestamps: float | None) -> int:
        """SND.UNA moves to ``ack``.  Returns the bytes newly acknowledged."""
        acked = ack - self.una
        if acked <= 0:
            return 0
        data_acked = max(0, min(ack, self.end) - max(self.una, self.base))
        del self.buffer[:data_acked]
        self.base = self.base + data_acked
        self.una = ack
        if self.nxt < ack:
            self.nxt = ack
        self.bytes_acked += data_acked
        self.scoreboard = [(max(s, ack), e) for s, e in self.scoreboard if e > ack]
        if rtt_from_timestamps is not None:
            self.rtt.sample(rtt_from_timestamps)
            self.timed = None
        elif self.timed and ack > self.timed[0]:
            self.rtt.sample(now - self.timed[1])
            self.timed = None
        return acked

    def update_window(self, seq: Seq, ack: Seq, window: int) -> bool:
        """RFC 9293 §3.10.7.4: take the window from the newest segment only."""
        if self.wl1 is None or self.wl1 < seq or (self.wl1 == seq and self.wl2 <= ack):
            changed = window != self.wnd
            self.wnd, self.wl1, self.wl2 = window, seq, ack
            self.max_wnd = max(self.max_wnd, window)
            return changed
        return False

    def rewind(self) -> None:
        """A retransmission timeout: send again from SND.UNA (the scoreboard is forgotten,
        as RFC 2018 §8 allows the receiver to renege)."""
        self.nxt = self.una
        self.scoreboard = []
        self.timed = None
