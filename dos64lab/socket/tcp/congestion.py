"""TCP congestion control: slow start, congestion avoidance (RFC 5681), fast retransmit
and NewReno fast recovery (RFC 6582).  Counted in bytes.

    cwnd < ssthresh:  slow start, cwnd += min(acked, SMSS) per ACK          (RFC 5681 §3.1)
    otherwise:        congestion avoidance, cwnd += SMSS*SMSS/cwnd per ACK  (§3.1, eq. 3)
    3 duplicate ACKs: ssthresh = max(flight/2, 2 SMSS); retransmit; cwnd = ssthresh + 3 SMSS,
                      recover = highest sequence sent                       (§3.2, RFC 6582 §3.2)
    in recovery:      a partial ACK retransmits the next hole; a full ACK (>= recover) ends it
    RTO:              ssthresh = max(flight/2, 2 SMSS); cwnd = 1 SMSS (loss window, §3.1)
"""

from __future__ import annotations

from .seq import Seq

__all__ = ["NewReno"]

DUPACK_THRESHOLD = 3


class NewReno:
    def __init__(self, smss: int):
        self.smss = smss
        self.cwnd = min(4 * smss, max(2 * smss, 4380))      # RFC 5681 §3.1: initial window
        self.ssthresh = 1 << 30                              # "arbitrarily high"
        self.dupacks = 0
        self.recover: Seq | None = None                      # in fast recovery until this is acked
        self.fast_retransmits = 0
        self.timeouts = 0

    @property
    def in_recovery(self) -> bool:
        return self.recover is not None

    def on_new_ack(self, acked: int, snd_una: Seq) -> bool:
        """``acked`` new bytes were acknowledged (snd_una is the new one).
        Returns True for a partial ACK in recovery: retransmit the next hole."""
        self.dupacks = 0
        if self.recover is not None:
            if snd_una >= self.recover:                      # full ACK: recovery ends (§3.2 3)
                self.recover = None
                self.cwnd = self.ssthresh
                return False
            self.cwnd = max(self.smss, self.cwnd - acked + self.smss)   # partial ACK (§3.2 5)
            return True
        if self.cwnd < self.ssthresh:
            self.cwnd += min(acked, self.smss)
        else:
            self.cwnd += max(1, self.smss * self.smss // self.cwnd)
        return False

    def on_dupack(self, flight: int, snd_max: Seq) -> bool:
        """A duplicate ACK.  Returns True when it is time to fast-retransmit."""
        self.dupacks += 1
        if self.recover is not None:
            self.cwnd += self.smss                           # inflate: a segment has left
            return False
        if self.dupacks == DUPACK_THRESHOLD:
            self.ssthresh = max(flight // 2, 2 * self.smss)
            self.cwnd = self.ssthresh + DUPACK_THRESHOLD * self.smss
            self.recover = snd_max
            self.fast_retransmits += 1
            return True
        return False

    def on_timeout(self, flight: int) -> None:
        self.ssthresh = max(flight // 2, 2 * self.smss)
        self.cwnd = self.smss
        self.recover = None
        self.dupacks = 0
        self.timeouts += 1

    def describe(self) -> dict:
        return {"cwnd": self.cwnd, "ssthresh": min(self.ssthresh, 1 << 30),
                "in_recovery": self.in_recovery, "fast_retransmits": self.fast_retransmits,
                "timeouts": self.timeouts}
