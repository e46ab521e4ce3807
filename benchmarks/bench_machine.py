"""Machine benchmarks: boot-to-ready time, qtest round trip, guest RAM throughput.

Figures are printed, never asserted.  Run: `make bench` or
`.venv/bin/python benchmarks/bench_machine.py [--quick]`.
"""

import argparse
import base64
import os
import statistics
import time

from dos64lab.machine import Machine


def boot_times(accel: str, n: int) -> tuple[list[float], str]:
    times, really = [], None
    for _ in range(n):
        t0 = time.perf_counter()
        with Machine(accel=accel) as m:
            times.append(time.perf_counter() - t0)
            really = m.accel
    return times, really


def per_call_us(fn, n: int) -> float:
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n * 1e6


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer repetitions")
    args = ap.parse_args(argv)
    boots, reps = (3, 300) if args.quick else (10, 3000)

    print(f"== boot to DOS64 ready line (median of {boots}) ==")
    tcg, _ = boot_times("tcg", boots)
    print(f"  tcg: {statistics.median(tcg):.3f} s  (min {min(tcg):.3f}, max {max(tcg):.3f})")
    if os.access("/dev/kvm", os.R_OK | os.W_OK):
        kvm, really = boot_times("kvm", boots)
        print(f"  kvm: {statistics.median(kvm):.3f} s  (ran as {really}; "
              f"tcg/kvm ratio {statistics.median(tcg) / statistics.median(kvm):.2f})")
    else:
        print("  kvm: /dev/kvm not usable here, not measured")

    with Machine() as m:
        q, (base, _) = m.qtest, m.dma_region
        print("== qtest round trip ==")
        print(f"  inl 0xcfc : {per_call_us(lambda: q.inl(0xCFC), reps):7.1f} µs")
        print(f"  readl RAM over the channel: "
              f"{per_call_us(lambda: q.command(f'readl {base:#x}'), reps):7.1f} µs")
        print("== guest RAM throughput: the DMA region, shared (q.read/q.write), beside the "
              "qtest channel's own commands ==")
        for size in (64, 2048, 65536):
            n = max(10, reps * 64 // size)
            data = os.urandom(size)
            text = {"b64": base64.b64encode(data).decode(), "hex": "0x" + data.hex()}
            ways = {"shared": (lambda: q.write(base, data), lambda: q.read(base, size)),
                    **{form: (lambda f=form: q.command(f"{'b64write' if f == 'b64' else 'write'} "
                                                       f"{base:#x} {size:#x} {text[f]}"),
                              lambda f=form: q.command(f"{'b64read' if f == 'b64' else 'read'} "
                                                       f"{base:#x} {size:#x}"))
                       for form in ("b64", "hex")}}
            for way, (write, read) in ways.items():
                w, r = per_call_us(write, n), per_call_us(read, n)
                print(f"  {size:6d} B {way:6s}: write {size / w:8.1f} MB/s ({w:7.1f} µs)   "
                      f"read {size / r:8.1f} MB/s ({r:7.1f} µs)")


if __name__ == "__main__":
    main()
