"""TCP's retransmission timer (RFC 6298): SRTT, RTTVAR, RTO, Karn's rule, backoff.

    first sample R:  SRTT = R, RTTVAR = R/2
    later samples:   RTTVAR = 3/4 RTTVAR + 1/4 |SRTT - R|;  SRTT = 7/8 SRTT + 1/8 R
    RTO = max(min_rto, SRTT + max(G, 4 RTTVAR)), at most max_rto           (§2)

Karn's rule (§3): no sample from a retransmitted segment -- unless timestamps say which
transmission the ACK answers (RFC 7323 §4.1), which the socket decides.  Each expiry
doubles the RTO (§5.5) until a new sample resets it.  RFC 6298 asks for a 1 s minimum;
like Linux we take a smaller one, a parameter (200 ms): smoltcp #1190 shows what a
fixed 1 s costs on a fast link.
"""

from __future__ import annotations

__all__ = ["RttEstimator"]

INITIAL_RTO = 1.0           # §2.1
CLOCK_GRANULARITY = 0.001   # G: our clock is a float, a millisecond is honest


class RttEstimator:
    def __init__(self, min_rto: float = 0.2, max_rto: float = 60.0):
        self.min_rto, self.max_rto = min_rto, max_rto
        self.srtt: float | None = None
        self.rttvar: float | None = None
        self.base_rto = INITIAL_RTO
        self.backoffs = 0
        self.samples = 0

    @property
    def rto(self) -> float:
        return min(self.max_rto, self.base_rto * (2 ** self.backoffs))

    def sample(self, r: float) -> None:
        """A measured round trip (seconds) of a segment sent once (or timestamped)."""
        r = max(r, 0.0)
        if self.srtt is None:                                   # §2.2
            self.srtt, self.rttvar = r, r / 2
        else:                                                   # §2.3
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - r)
            self.srtt = 0.875 * self.srtt + 0.125 * r
        self.base_rto = max(self.min_rto, self.srtt + max(CLOCK_GRANULARITY, 4 * self.rttvar))
        self.backoffs = 0
        self.samples += 1

    def backoff(self) -> None:
        """The timer expired: double the RTO (§5.5)."""
        if self.rto < self.max_rto:
            self.backoffs += 1

    def describe(self) -> dict:
        return {"srtt_ms": None if self.srtt is None else round(self.srtt * 1000, 3),
                "rttvar_ms": None if self.rttvar is None else round(self.rttvar * 1000, 3),
                "rto_ms": round(self.rto * 1000, 1), "backoffs": self.backoffs}
