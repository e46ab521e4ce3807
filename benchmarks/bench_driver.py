"""Driver benchmark: frames per second through the Python virtio-net driver, and qtest
round trips per frame (batching is what keeps them low).

TX: echo requests to slirp's 10.0.2.2 queued with ``send_batch`` and completed
(``flush``).  RX: the replies, reaped with ``receive_batch``.  Figures are printed,
never asserted.  Run: `make bench` or `.venv/bin/python benchmarks/bench_driver.py [--quick]`.
"""

import argparse
import time

from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.wire.build import arp_who_has, icmp_echo_request

ME, GW = bytes.fromhex("525400123456"), bytes.fromhex("52550a000202")


def run(kind: str, queue_size, frames: int, batch: int) -> None:
    with Machine(virtio=kind) as m, VirtioNetDevice(m, queue_size=queue_size) as dev:
        q = m.qtest
        dev.send(arp_who_has(ME))                       # slirp learns our MAC
        while dev.receive() is None:
            pass
        tx_time = rx_time = 0.0
        tx_trips = rx_trips = received = 0
        pings = [icmp_echo_request(ME, GW, n, bytes(56)) for n in range(frames)]   # not timed
        for start in range(0, frames, batch):
            chunk = pings[start:start + batch]
            t0, r0 = time.perf_counter(), q.round_trips
            dev.send_batch(chunk)
            dev.flush()
            t1, r1 = time.perf_counter(), q.round_trips
            tx_time, tx_trips = tx_time + t1 - t0, tx_trips + r1 - r0
            want = start + len(chunk)
            while received < want:
                received += len(dev.receive_batch())
            rx_time, rx_trips = rx_time + time.perf_counter() - t1, rx_trips + q.round_trips - r1
        size = dev.net.rx.size
        print(f"  {kind:6s} queue {size:3d}, batch {batch:3d}: "
              f"TX {frames / tx_time:8.0f} frames/s, {tx_trips / frames:5.2f} round trips/frame   "
              f"RX {received / rx_time:8.0f} frames/s, {rx_trips / received:5.2f} round trips/frame")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer frames")
    args = ap.parse_args(argv)
    frames = 2_000 if args.quick else 20_000
    print(f"== Python driver: {frames} ICMP echo requests to 10.0.2.2 (98-byte frames) "
          "and their replies ==")
    for kind, queue_size, batch in (("legacy", None, 1), ("legacy", None, 64),
                                    ("legacy", None, 256), ("modern", None, 64),
                                    ("modern", 8, 8), ("modern", 1, 1)):
        run(kind, queue_size, frames // (10 if batch == 1 else 1), batch)


if __name__ == "__main__":
    main()
