"""An idle DOS64 that drives its own NIC costs QEMU what one that does not costs (well under
1 % of a core: the tick, slowed while the shell waits), and still answers at once: the NIC's
INTx wakes the halted CPU, and between interrupts the stack only runs when a timer of its is
due (iface_poll_at)."""

import os
import re
import time

from dos64lab.machine import Machine

TICK = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def test_idle_cpu_like_net_host_and_ping_answered_within_a_millisecond():
    with Machine() as host, Machine(net_mode="kernel") as kernel:
        time.sleep(1)
        h0, k0, t0 = cpu_seconds(host.pid), cpu_seconds(kernel.pid), time.monotonic()
        time.sleep(8)
        elapsed = time.monotonic() - t0
        host_pct = (cpu_seconds(host.pid) - h0) / elapsed * 100
        kernel_pct = (cpu_seconds(kernel.pid) - k0) / elapsed * 100
        assert kernel_pct <= max(host_pct * 1.5, host_pct + 1.0), (kernel_pct, host_pct)
        out = kernel.run("PING 10.0.2.2 3", timeout=15)
        rtts = [float(t) for t in re.findall(r"time=([\d.]+) ms", out)]
        assert len(rtts) == 3 and min(rtts) < 1.0, out
