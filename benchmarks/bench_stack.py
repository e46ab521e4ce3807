"""Stack benchmark: ping through the lab's stack beside the raw driver, the poll loop's
frame rate, and what an idle stack costs (CPU of Python + QEMU) and buys (wake-up latency).

Figures are printed, never asserted.  Run: `make bench` or
`.venv/bin/python benchmarks/bench_stack.py [--quick]`.
"""

import argparse
import os
import statistics
import time

from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.socket import IcmpSocket
from dos64lab.stack import MAX_IDLE, Stack
from dos64lab.wire.build import arp_who_has, icmp_echo_request

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a whole process, all its threads."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def percentiles(samples_ms):
    s = sorted(samples_ms)
    return s[len(s) // 2], s[min(len(s) - 1, int(len(s) * 0.99))]


def raw_ping(m, count):
    """The same ping with no stack: frames built once, the driver polled in a tight loop."""
    with VirtioNetDevice(m) as dev:
        me, gw = dev.net.mac, bytes.fromhex("52550a000202")
        dev.send(arp_who_has(me))
        while dev.receive() is None:
            pass
        frames = [icmp_echo_request(me, gw, n, bytes(56)) for n in range(count)]
        rtts = []
        for f in frames:
            t0 = time.perf_counter()
            dev.send(f)
            while dev.receive() is None:
                pass
            rtts.append((time.perf_counter() - t0) * 1000)
        return rtts


def stack_ping(net, count):
    """Wall time per ping as the caller sees it (API, poll thread, driver, slirp)."""
    rtts, t0 = [], time.perf_counter()
    for _reply in net.ping("10.0.2.2", count=count, interval=0):
        t1 = time.perf_counter()
        rtts.append((t1 - t0) * 1000)
        t0 = t1
    return rtts


def flood(net, count):
    """``count`` echo requests queued at once; seconds until every reply is in."""
    sock = IcmpSocket()
    handle = net.add(sock)
    t0 = time.perf_counter()
    with net.lock:
        for seq in range(count):
            sock.send_echo("10.0.2.2", seq, bytes(56))
    net.wake()
    net.wait_for(lambda: len(sock.rx) >= count, 30, f"{count} echo replies")
    elapsed = time.perf_counter() - t0
    net.remove(handle)
    return elapsed


def idle(m, net, seconds):
    before = cpu_seconds(os.getpid()), cpu_seconds(m.pid), net.polls
    time.sleep(seconds)
    after = cpu_seconds(os.getpid()), cpu_seconds(m.pid), net.polls
    py, qemu = (after[0] - before[0]) / seconds * 100, (after[1] - before[1]) / seconds * 100
    return py, qemu, (after[2] - before[2]) / seconds


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer pings, shorter idle")
    args = ap.parse_args(argv)
    count, burst, rest = (200, 100, 3) if args.quick else (2000, 200, 10)
    print(f"== the lab's stack on the real NIC (legacy virtio-net, TCG): {count} pings ==")
    with Machine() as m:
        q0 = cpu_seconds(m.pid)
        time.sleep(rest)
        qemu_alone = (cpu_seconds(m.pid) - q0) / rest * 100      # DOS64 idle, nobody polling
        raw = raw_ping(m, count)
        with Stack.on(m) as net:
            net.configure()
            list(net.ping("10.0.2.2", count=3, interval=0))        # ARP, warm-up
            via_stack = stack_ping(net, count)
            seconds = flood(net, burst)
            py, qemu, polls = idle(m, net, rest)
            time.sleep(1)
            t0 = time.perf_counter()
            next(net.ping("10.0.2.2", count=1))
            wake = (time.perf_counter() - t0) * 1000
    for name, rtts in (("raw driver", raw), ("stack", via_stack)):
        p50, p99 = percentiles(rtts)
        print(f"  ping RTT to 10.0.2.2, {name:10s}: p50 {p50:6.3f} ms  p99 {p99:6.3f} ms  "
              f"mean {statistics.fmean(rtts):6.3f} ms")
    print(f"  stack / raw driver, p50: {percentiles(via_stack)[0] / percentiles(raw)[0]:.1f}x")
    print(f"  poll loop, {burst} echo requests at once: {2 * burst / seconds:8.0f} frames/s "
          f"(requests out + replies in)")
    print(f"  idle {rest} s: Python {py:.2f} % + QEMU {qemu:.2f} % = {py + qemu:.2f} % of a core "
          f"(target <= 2 %; QEMU alone, no stack: {qemu_alone:.2f} %); {polls:.0f} polls/s, so an arriving frame waits <= "
          f"{MAX_IDLE * 1000:.0f} ms (mean {500 / max(polls, 1):.1f} ms)")
    print(f"  a ping after 1 s idle (the API wakes the poll thread): {wake:.2f} ms")


if __name__ == "__main__":
    main()
