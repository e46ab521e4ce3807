"""Parse and emit cost of dos64lab.wire, per frame kind, beside scapy.

For each fixture frame (tests/fixtures/frames.py): microseconds per packet to
parse every layer into Reprs and to emit it again from them (checksums
included), against scapy dissecting (``Ether(raw)``) and building (``bytes(pkt)``
with its checksums and lengths deleted, so it computes them too).  Then the
hostile DNS messages (64 KB of names following compression pointer chains,
tests/wire/test_dns.py): milliseconds for ``dns.Repr.parse`` to refuse or parse
each; the goal is at most 10 ms to refuse or parse one (the bounds: MAX_POINTERS per
name, MAX_WORK labels and MAX_RECORDS records per message).  The last row is the
costliest message that still parses.
Figures are printed, never asserted.

    python benchmarks/bench_wire.py [--quick]
"""

from __future__ import annotations

import argparse
import struct
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from scapy.layers import dhcp, dns, inet  # noqa: E402,F401  (registers the layer bindings)
from scapy.layers.l2 import Ether  # noqa: E402

from dos64lab.errors import ParseError  # noqa: E402
from dos64lab.wire import dns as dos64lab_dns  # noqa: E402
from wire.layers import FRAMES, decode, encode, frame  # noqa: E402  (tests/wire/layers.py)
from wire.test_dns import chained_message  # noqa: E402


def per_call_us(fn, budget: float, repeat: int) -> float:
    """Best of ``repeat`` runs, each about ``budget`` seconds long, in µs per call."""
    timer = timeit.Timer(fn)
    number = max(1, int(budget / max(timer.timeit(1), 1e-7)))
    return min(timer.repeat(repeat, number)) / number * 1e6


def scapy_template(raw: bytes):
    """A dissected packet whose checksums and lengths scapy must compute again."""
    pkt = Ether(raw)
    layer = pkt
    while layer:
        for field in ("chksum", "len"):
            if field in layer.fields:
                delattr(layer, field)
        layer = layer.payload
    pkt.clear_cache()
    return pkt


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="short runs, one repeat")
    args = parser.parse_args(argv)
    budget, repeat = (0.02, 1) if args.quick else (0.2, 5)

    head = (f"{'frame':<17} {'layers':<26} {'bytes':>5} | {'parse µs':>8} {'scapy':>8} {'×':>5} "
            f"| {'emit µs':>8} {'scapy':>8} {'×':>5}")
    print(head)
    print("-" * len(head))
    for name in FRAMES:
        raw = frame(name)
        reprs = decode(raw)
        assert encode(reprs) == raw
        layers = "/".join(type(r).__module__.rsplit(".", 1)[1] for r in reprs)
        pkt = scapy_template(raw)
        ours_parse = per_call_us(lambda: decode(raw), budget, repeat)
        scapy_parse = per_call_us(lambda: Ether(raw), budget, repeat)
        ours_emit = per_call_us(lambda: encode(reprs), budget, repeat)
        scapy_build = per_call_us(lambda: bytes(pkt), budget, repeat)
        print(f"{name:<17} {layers:<26} {len(raw):>5} | {ours_parse:>8.1f} {scapy_parse:>8.1f} "
              f"{scapy_parse / ours_parse:>5.1f} | {ours_emit:>8.1f} {scapy_build:>8.1f} "
              f"{scapy_build / ours_emit:>5.1f}")
    print("\n× = scapy time / dos64lab time (above 1: dos64lab is faster)")
    hostile_dns(budget, repeat)
    print(f"Python {sys.version.split()[0]}")
    return 0


def parse_dns(raw: bytes) -> str:
    try:
        return f"parsed, {len(dos64lab_dns.Repr.parse(raw).questions)} questions"
    except ParseError as err:
        return f"refused: {err.reason}"


def long_names(count: int) -> bytes:
    """``count`` questions, each a 255-byte name of 127 one-byte labels, read in place."""
    question = b"\x01a" * 127 + b"\x00\x00\x01\x00\x01"
    return struct.pack("!6H", 1, 0, count, 0, 0, 0) + question * count


def worst_that_parses() -> bytes:
    """The most labels the work bound lets through: 255-byte names, then one more byte
    would be refused -- the costliest message that still parses."""
    count = 1
    while parse_dns(long_names(count + 1)).startswith("parsed"):
        count += 1
    return long_names(count)


def hostile_dns(budget: float, repeat: int) -> None:
    print(f"\n{'hostile DNS message':<46} {'bytes':>5} | {'parse ms':>8} | outcome")
    print("-" * 110)
    for what, raw in [
        ("chain 8000 pointers deep (as 14 bits allow)", chained_message(8000)),
        ("names 128 pointers deep, 255 bytes long", chained_message(128)),
        ("names 1 pointer to a 255-byte name", chained_message(1)),
        ("4000 names 128 pointers deep (under MAX_RECORDS)", chained_message(128, size=24_000)),
        ("no pointers: 13099 root names", chained_message(0, bottom=b"\x00")),
        ("no pointers: 252 names of 127 labels", long_names(252)),
        ("worst that parses: names of 127 labels", worst_that_parses()),
    ]:
        ms = per_call_us(lambda: parse_dns(raw), budget, repeat) / 1000
        print(f"{what:<46} {len(raw):>5} | {ms:>8.2f} | {parse_dns(raw)}")


if __name__ == "__main__":
    sys.exit(main())
