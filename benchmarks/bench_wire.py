"""Parse and emit cost of dos64lab.wire, per frame kind, beside scapy.

For each fixture frame (tests/fixtures/frames.py): microseconds per packet to
parse every layer into Reprs and to emit it again from them (checksums
included), against scapy dissecting (``Ether(raw)``) and building (``bytes(pkt)``
with its checksums and lengths deleted, so it computes them too).
Figures are printed, never asserted.

    python benchmarks/bench_wire.py [--quick]
"""

from __future__ import annotations

import argparse
import sys
import timeit
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from scapy.layers import dhcp, dns, inet  # noqa: E402,F401  (registers the layer bindings)
from scapy.layers.l2 import Ether  # noqa: E402

from wire.layers import FRAMES, decode, encode, frame  # noqa: E402  (tests/wire/layers.py)


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
    print(f"Python {sys.version.split()[0]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
