"""Capacity of a host for a class: idle machines it holds, and a learner's whole footprint.

1. Idle machines: N DOS64 machines booted side by side and left at their prompt; each
   QEMU's resident memory (VmRSS) and CPU over a window (utime + stime from /proc).
2. A learner: one Jupyter server (``jupyter lab``, what a JupyterHub single-user server
   runs), one Python kernel that has booted a machine and brought up the virtio-net card
   with the lab's driver (chapter 04's first cell), and that machine's QEMU.
3. What follows for this host: how many idle machines and learners its memory holds
   (keeping 2 GiB for the system) and its cores hold.

Figures are printed, never asserted.  Run: `make bench` or
`.venv/bin/python benchmarks/bench_capacity.py [--quick]`.
"""

from __future__ import annotations

import argparse
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from dos64lab.machine import Machine

TICK = os.sysconf("SC_CLK_TCK")
PAGE = os.sysconf("SC_PAGE_SIZE")
SYSTEM_RESERVE = 2 << 30            # bytes kept for the OS, the hub, the page cache


def rss(pid: int) -> int:
    """Resident bytes of one process."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])          # utime + stime


def tree(pid: int) -> list[int]:
    """``pid`` and all its descendants."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            ppid = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(stat.parent.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def mib(n: float) -> str:
    return f"{n / (1 << 20):.1f} MiB"


def mem_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return 0


def idle_machines(n: int, window: float) -> tuple[float, float]:
    """Mean RSS (bytes) and CPU (% of one core) of ``n`` idle machines."""
    machines = [Machine().start() for _ in range(n)]
    try:
        time.sleep(1.0)                               # let boot settle
        pids = [m.pid for m in machines]
        before = {p: cpu_ticks(p) for p in pids}
        t0 = time.monotonic()
        time.sleep(window)
        dt = time.monotonic() - t0
        cpu = [(cpu_ticks(p) - before[p]) / TICK / dt * 100 for p in pids]
        mem = [rss(p) for p in pids]
    finally:
        for m in machines:
            m.close()
    return sum(mem) / n, sum(cpu) / n


LEARNER_CODE = """
from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.wire import pretty
import scapy.layers.l2
m = Machine().start()
dev = VirtioNetDevice(m)
print(m.pid)
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def learner(window: float) -> dict:
    """RSS of a Jupyter server, a kernel that drives a machine, and the machine's QEMU."""
    from jupyter_client.manager import KernelManager
    tmp = tempfile.mkdtemp(prefix="dos64lab-capacity-")
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_CONFIG_DIR=f"{tmp}/cfg", JUPYTER_RUNTIME_DIR=f"{tmp}/rt")
    server = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
         "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
         f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    km = KernelManager(kernel_name="python3")
    try:
        deadline = time.monotonic() + 60
        while True:                                   # the server answers: it is up
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}", timeout=2)
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError("jupyter lab did not start")
                time.sleep(0.3)
        km.start_kernel(env=env)
        kc = km.client()
        kc.start_channels()
        kc.wait_for_ready(timeout=60)
        out = []
        kc.execute_interactive(LEARNER_CODE, timeout=120,
                               output_hook=lambda msg: out.append(msg["content"].get("text", "")))
        qemu = int("".join(out).split()[0])
        kernel_pid = km.provisioner.process.pid
        time.sleep(1.0)
        before = {p: cpu_ticks(p) for p in (server.pid, kernel_pid, qemu)}
        t0 = time.monotonic()
        time.sleep(window)
        dt = time.monotonic() - t0
        figures = {"server": rss(server.pid), "kernel": rss(kernel_pid), "qemu": rss(qemu),
                   "cpu": sum(cpu_ticks(p) - before[p] for p in before) / TICK / dt * 100}
        kc.execute_interactive("dev.close(); m.close()", timeout=60)
        kc.stop_channels()
        return figures
    finally:
        km.shutdown_kernel(now=False)
        server.terminate()
        try:
            server.wait(20)
        except subprocess.TimeoutExpired:
            server.kill()
        subprocess.run(["rm", "-rf", tmp])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer machines, shorter windows")
    args = ap.parse_args(argv)
    n, window = (4, 3.0) if args.quick else (10, 10.0)
    cores, total = os.cpu_count() or 1, mem_total()

    print(f"== idle machines: {n} side by side, CPU over {window:.0f} s ==")
    mem, cpu = idle_machines(n, window)
    print(f"  per machine: RSS {mib(mem)}, CPU {cpu:.2f} % of a core")
    by_mem = int((total - SYSTEM_RESERVE) // mem) if mem else 0
    by_cpu = int(cores * 100 / cpu) if cpu > 0 else 0
    print(f"  this host ({cores} cores, {mib(total)}): memory holds {by_mem} idle machines, "
          f"CPU {by_cpu}" + (" (CPU is not the limit)" if by_cpu > by_mem else ""))

    print(f"\n== a learner: Jupyter server + kernel driving a machine + its QEMU, over "
          f"{window:.0f} s ==")
    f = learner(window)
    whole = f["server"] + f["kernel"] + f["qemu"]
    print(f"  Jupyter server {mib(f['server'])}, kernel {mib(f['kernel'])}, "
          f"QEMU {mib(f['qemu'])}: {mib(whole)} in all, idle CPU {f['cpu']:.2f} % of a core")
    print(f"  this host holds {int((total - SYSTEM_RESERVE) // whole)} idle learners by memory "
          f"(keeping {mib(SYSTEM_RESERVE)} for the system); a learner's Run All is 2-10 s of "
          f"one core, so {cores} learners can run at full speed at once")


if __name__ == "__main__":
    main()
