"""The native commands of `dos64lab`: DOS64's own driver and stack (``net=kernel``).

    dos64lab run --native "PING 10.0.2.2" "NETSTAT"   the shell of a DOS64 that drives its NIC
    dos64lab native [--json] [--watch SEC] [--curl N]  boot it, then show what it runs: its
                                                       rings (QEMU's and guest RAM's view), its
                                                       counters, read-only; --curl N makes
                                                       traffic (N GETs of /api/status) meanwhile

Python only observes: the serial console, QMP, read-only guest RAM, and the kernel's own
HTTP server through hostfwd (`dos64lab serve --native` serves the host with it).
"""

from __future__ import annotations

import json
import threading
import urllib.request


def _traffic(port: int, count: int) -> threading.Thread:
    def run():
        for _ in range(count):
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=10) as r:
                r.read()
    t = threading.Thread(target=run, name="dos64lab-native-curl", daemon=True)
    t.start()
    return t


def cmd_native(args) -> int:
    from .cli import _machine
    from .inspect import native
    with _machine(args, net_mode="kernel") as m:
        traffic = _traffic(m.host_ports["http"], args.curl) if args.curl else None
        samples = native.watch(m, args.watch, 0.1) if args.watch else []
        if traffic:
            traffic.join(60)
        snap = native.snapshot(m)
        snap["boot_seconds"] = round(m.boot_seconds, 3)
        snap["kernel"] = m.kernel_info
        snap["host_ports"] = m.host_ports
        if samples:
            t0 = samples[0]["t"]
            snap["watch"] = [{**s, "t": round(s["t"] - t0, 3)} for s in samples]
    if args.json:
        print(json.dumps(snap, indent=2))
        return 0
    k = snap["kernel"]
    print(f"DOS64 {k['version']} net={k['net']} ip={k.get('ip')} mac={k.get('mac')}, "
          f"ready in {snap['boot_seconds']} s")
    print("device status: " + " | ".join(snap["status"]))
    print("features:      " + " ".join(snap["features"]))
    for name, r in snap["rings"].items():
        print(f"{name}: avail.idx {r['avail_idx']:5}  used.idx {r['used_idx']:5}  "
              f"QEMU last_avail_idx {r['qemu_last_avail_idx']:5}  used_idx {r['qemu_used_idx']:5}  "
              f"in use {r['in_use']}")
    for s in snap.get("watch", []):
        print(f"  t={s['t']:6.2f}s rx used.idx {s['rx']['used_idx']:5}  tx used.idx {s['tx']['used_idx']:5}")
    print("counters (non-zero):")
    for name, value in snap["counters"].items():
        if value:
            print(f"  {name:32} {value}")
    return 0


def add_commands(sub, machine_command) -> None:
    """`run --native` on the existing `run`, and the `native` command."""
    run = sub.choices["run"]
    run.add_argument("--native", action="store_true",
                     help="net=kernel: DOS64 drives the NIC with its own driver and stack")
    # cmd_run itself boots net=kernel when args.native is set (cli._machine)
    p = machine_command("native", cmd_native,
                        "boot DOS64 with its own network stack and show its rings and counters")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--watch", type=float, default=0.0, metavar="SEC",
                   help="sample the rings every 0.1 s for SEC seconds")
    p.add_argument("--curl", type=int, default=0, metavar="N",
                   help="meanwhile, GET /api/status N times through hostfwd")
