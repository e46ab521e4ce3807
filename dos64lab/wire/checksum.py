"""The Internet checksum (network layer helper).

One job: the 16-bit one's complement sum used by IPv4, ICMP, UDP and TCP
(RFC 1071 section 1), and the IPv4 pseudo-header that UDP and TCP add to it
(RFC 768, RFC 9293 section 3.1).
"""

from __future__ import annotations

import functools
import struct
from ipaddress import IPv4Address

__all__ = ["ones_sum", "internet_checksum", "pseudo_header_sum"]


def ones_sum(data, start: int = 0) -> int:
    """One's complement sum of ``data`` as big-endian 16-bit words, folded to 16 bits.

    An odd trailing byte is padded with a zero (RFC 1071 section 4.1).
    ``start`` lets sums be chained: ``ones_sum(payload, ones_sum(header))``.
    """
    if len(data) % 2:
        data = bytes(data) + b"\0"
    # The words, read as one big number, are  sum(word_i * 2**(16 i)); since 2**16 = 1
    # modulo 0xffff, that number is the sum of the words modulo 0xffff -- which is what
    # adding the carries back in computes, but for 0xffff in place of 0 (RFC 1071 §2(B):
    # "end-around carry").  One big-number remainder instead of a loop over words.
    total = int.from_bytes(data, "big") + start
    folded = total % 0xFFFF
    return 0xFFFF if total and not folded else folded


def internet_checksum(data, start: int = 0) -> int:
    """The checksum to store: the complement of the sum.  A received header
    whose stored checksum is right sums to 0xffff, so this returns 0 for it."""
    return ~ones_sum(data, start) & 0xFFFF


def pseudo_header_sum(src: IPv4Address, dst: IPv4Address, protocol: int, length: int) -> int:
    """Sum of the IPv4 pseudo-header: src, dst, zero, protocol, upper-layer length."""
    return ones_sum(struct.pack("!xBH", protocol, length), _addresses_sum(src, dst))


@functools.lru_cache(maxsize=1024)
def _addresses_sum(src: IPv4Address, dst: IPv4Address) -> int:
    """The addresses' part of the sum: the same two for every segment of a connection."""
    return ones_sum(src.packed + dst.packed)
