"""TCP sequence numbers: 32-bit counters compared modulo 2³² (RFC 9293 §3.4).

``Seq`` is an ``int`` that stays in 0..2³²-1 and compares the way TCP needs: ``a < b``
means "b is ahead of a by less than 2³¹" (RFC 1982 serial-number arithmetic), so the
comparison keeps working when the numbers wrap past 2³² -- plain ``int`` comparisons
break there (CONVENTIONS 13; gVisor's ``seqnum``, smoltcp's ``TcpSeqNumber``).

    Seq(0xFFFFFFF0) + 0x20 == Seq(0x10)         # wraps
    Seq(0x10) - Seq(0xFFFFFFF0) == 0x20         # a signed distance, an int
    Seq(0xFFFFFFF0) < Seq(0x10)                 # 0x10 is ahead
"""

from __future__ import annotations

__all__ = ["Seq"]

MOD = 1 << 32
HALF = 1 << 31
_new = int.__new__


class Seq(int):
    __slots__ = ()

    def __new__(cls, value: int) -> "Seq":
        return int.__new__(cls, value % MOD)

    # Every segment does a dozen of these, so they call int's own operations directly
    # (``int.__sub__(a, b)`` is a - b on the plain numbers, whatever a and b are).
    def __add__(self, n: int) -> "Seq":
        return _new(Seq, int.__add__(self, n) % MOD)

    __radd__ = __add__

    def __sub__(self, other):
        """Seq - Seq: how far ``self`` is ahead (negative: behind).  Seq - int: a Seq."""
        if type(other) is Seq:
            return (int.__sub__(self, other) + HALF) % MOD - HALF
        return _new(Seq, int.__sub__(self, other) % MOD)

    # a < b  <=>  b is ahead of a by less than 2³¹  <=>  (a - b) mod 2³² lies in the upper half
    def __lt__(self, other) -> bool: return (int.__sub__(self, other) + HALF) % MOD < HALF
    def __le__(self, other) -> bool: return (int.__sub__(self, other) + HALF) % MOD <= HALF
    def __gt__(self, other) -> bool: return (int.__sub__(self, other) + HALF) % MOD > HALF
    def __ge__(self, other) -> bool: return (int.__sub__(self, other) + HALF) % MOD >= HALF
    def __eq__(self, other) -> bool: return isinstance(other, int) and int(self) == int(other) % MOD
    def __ne__(self, other) -> bool: return not self == other
    __hash__ = int.__hash__

    def between(self, low: "Seq", high: "Seq") -> bool:
        """low <= self < high, modulo 2³² (the RFC's window tests)."""
        return 0 <= self - Seq(low) < Seq(high) - Seq(low)

    def __repr__(self) -> str:
        return f"Seq({int(self)})"


def seq_max(a: Seq, b: Seq) -> Seq:
    return a if a >= b else b
