"""The `dos64lab` command: the lab from a terminal.

    dos64lab info [--json]          boot, describe the machine, shut down
    dos64lab pci [--json]           boot, enumerate PCI (BARs, capabilities)
    dos64lab virtio [--json]        bring virtio-net up with the Python driver, ARP the gateway
    dos64lab run "VER" "MEM"        boot, run DOS64 shell commands, print their output
    dos64lab boot                   the DOS64 console in this terminal (Ctrl-] leaves)
    dos64lab decode --pcap FILE     one line per frame
    dos64lab ping | dhcp | dns      the lab's own stack on the NIC (see cli_net)

Every subcommand that boots a machine takes --kvm (try KVM, fall back to TCG)
and --modern (a modern-only virtio-net device instead of the transitional one).
"""

import argparse
import json
import logging
import os
import select
import sys

from .errors import Dos64LabError


def _machine(args, **extra):
    from .machine import Machine
    extra.setdefault("net_mode", "kernel" if getattr(args, "native", False) else "host")
    return Machine(accel="kvm" if args.kvm else "tcg",
                   virtio="modern" if args.modern else "legacy", **extra)


def describe(m) -> dict:
    """What `dos64lab info` prints: the machine as plain data."""
    version = m.qmp.execute("query-version")["qemu"]
    base, size = m.dma_region
    pci = [{"bus": bus["bus"], "slot": d["slot"], "function": d["function"],
            "vendor": d["id"]["vendor"], "device": d["id"]["device"],
            "class": d["class_info"]["class"]}
           for bus in m.qmp.execute("query-pci") for d in bus["devices"]]
    return {
        "qemu_version": "{major}.{minor}.{micro}".format(**version),
        "accel": m.accel,
        "kernel": {"version": m.kernel_info["version"], "net_mode": m.kernel_info["net"],
                   "dma_region": {"base": base, "size": size}},
        "host_ports": m.host_ports,
        "pci": pci,
        "boot_seconds": round(m.boot_seconds, 3),
    }


def cmd_info(args) -> int:
    with _machine(args) as m:
        info = describe(m)
    if args.json:
        print(json.dumps(info, indent=2))
        return 0
    k = info["kernel"]
    print(f"QEMU {info['qemu_version']} ({info['accel']}), DOS64 {k['version']} net={k['net_mode']}, "
          f"booted in {info['boot_seconds']} s")
    print(f"DMA region: {k['dma_region']['base']:#x} + {k['dma_region']['size']:#x}")
    print("host ports: " + ", ".join(f"{n} 127.0.0.1:{p}" for n, p in info["host_ports"].items()))
    for d in info["pci"]:
        print(f"  {d['bus']:02x}:{d['slot']:02x}.{d['function']} {d['vendor']:04x}:{d['device']:04x} "
              f"class {d['class']:04x}")
    return 0


def cmd_pci(args) -> int:
    """Scan PCI like a kernel does (0xCF8/0xCFC) and print what was found."""
    from dataclasses import asdict
    from .hw import pci
    with _machine(args) as m:
        functions = pci.scan(m.qtest)
    if args.json:
        print(json.dumps([dict(asdict(f), bdf=f.bdf) for f in functions], indent=2))
        return 0
    for f in functions:
        print(f"{f.bdf}  {f.vendor:04x}:{f.device:04x}  {f.vendor_name} {f.device_name} "
              f"[{f.class_name}, class {f.class_code:02x}{f.subclass:02x}]")
        for b in f.bars:
            print(f"         BAR{b.index} {b.kind} {b.address:#x}+{b.size:#x}"
                  + (" prefetchable" if b.prefetchable else ""))
        for c in f.capabilities:
            fields = " ".join(f"{k}={v:#x}" if type(v) is int and v >= 16
                              else f"{k}={v}" for k, v in c.data.items())
            print(f"         cap {c.offset:#04x} {c.name} {fields}".rstrip())
    return 0


def cmd_virtio(args) -> int:
    """Bring virtio-net up with the Python driver, ARP the gateway, compare with QEMU."""
    import time
    from .hw.virtio import feature_names, status_names
    from .wire.build import arp_who_has
    from .inspect import compare, qemu_status
    from .phy.virtio import VirtioNetDevice
    with _machine(args) as m, VirtioNetDevice(m) as dev:
        net, mac = dev.net, bytes(dev.mac)
        dev.send(arp_who_has(mac))
        t0, gateway = time.monotonic(), None
        while gateway is None and time.monotonic() - t0 < 2:
            f = dev.receive()
            if f and f[12:14] == b"\x08\x06" and f[20:22] == b"\x00\x02" and f[28:32] == bytes([10, 0, 2, 2]):
                gateway = f[22:28].hex(":")
        dev.flush()
        qemu, view = qemu_status(m), compare(dev, m)
        out = {"transport": dev.transport, "location": net.transport.describe(),
               "offered_features": feature_names(net.transport.offered),
               "negotiated_features": feature_names(net.features),
               "status": status_names(net.transport.driver_status), "mac": str(dev.mac),
               "header_len": net.header_len, "mtu": dev.mtu, "link_up": net.link_up(),
               "queue_sizes": {"rx": net.rx.size, "tx": net.tx.size},
               "gateway": {"ip": "10.0.2.2", "mac": gateway,
                           "ms": round((time.monotonic() - t0) * 1000, 2)},
               "qemu": {"negotiated_features": qemu["guest_feature_names"],
                        "status": qemu["status_names"]},
               "checks": view["checks"], "agree": view["agree"]}
    if args.json:
        print(json.dumps(out, indent=2))
        return 0 if out["agree"] and gateway else 1
    print(f"virtio-net via the {out['transport']} transport, MAC {out['mac']}, MTU {out['mtu']}, "
          f"link {'up' if out['link_up'] else 'down'}, header {out['header_len']} bytes")
    print("offered:    " + " ".join(out["offered_features"]))
    print("negotiated: " + " ".join(out["negotiated_features"]))
    print("status:     " + " | ".join(out["status"]))
    print(f"queues:     rx {net.rx.size}, tx {net.tx.size}")
    print(f"gateway:    10.0.2.2 is at {gateway or '(no ARP reply)'}")
    print("ours beside QEMU's own view (x-query-virtio-status, x-query-virtio-queue-status):")

    def show(v):
        v = v if isinstance(v, list) else [v]
        return " ".join(f"{x:#x}" if isinstance(x, int) and x > 0xFFFF else str(x) for x in v)
    for c in out["checks"]:
        same = "QEMU agrees" if c["agree"] else f"QEMU says {show(c['qemu'])}"
        print(f"  {'✓' if c['agree'] else '✗'} {c['what']}: {show(c['ours'])}  ({same})")
    print(f"agree: {str(out['agree']).lower()}")
    return 0 if out["agree"] and gateway else 1


def _virtio_args(p):
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--legacy", action="store_true", help="transitional device, legacy I/O BAR (default)")


def cmd_run(args) -> int:
    with _machine(args) as m:
        for command in args.commands:
            print(f"C:\\>{command}")
            print(m.run(command, timeout=args.timeout))
    return 0


def cmd_boot(args) -> int:
    """Attach the DOS64 console to this terminal, like `telnet`: Ctrl-] leaves."""
    import termios
    import tty
    with _machine(args) as m:
        sys.stderr.write(f"DOS64 console (QEMU pid {m.pid}). Ctrl-] leaves.\r\n")
        offset = 0
        fd = sys.stdin.fileno()
        saved = termios.tcgetattr(fd) if os.isatty(fd) else None
        if saved:
            tty.setraw(fd)
        try:
            while not m.console.closed:
                data, offset = m.console.read_from(offset, timeout=0.02)
                if data:
                    os.write(sys.stdout.fileno(), data)
                if select.select([fd], [], [], 0.02)[0]:
                    typed = os.read(fd, 1024)
                    if not typed or b"\x1d" in typed:
                        m.console.send(typed.split(b"\x1d")[0])
                        break
                    m.console.send(typed.replace(b"\n", b"\r"))
        finally:
            if saved:
                termios.tcsetattr(fd, termios.TCSADRAIN, saved)
        sys.stderr.write("\r\nleft the console; QEMU stopped.\n")
    return 0


def main(argv=None) -> int:
    """The `dos64lab` command.  A reader that stops early (`dos64lab decode ... | head`)
    ends it quietly with status 0, like other Unix tools, whatever the subcommand."""
    try:
        try:
            return _main(argv)
        finally:
            sys.stdout.flush()          # now, so a closed pipe shows up here, not at exit
    except BrokenPipeError:
        # As Python's docs advise (signal module, "Note on SIGPIPE"): point stdout at
        # /dev/null, or the interpreter's own flush at exit fails again and says so.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


def _main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="dos64lab", description=__doc__.split("\n")[0])
    parser.add_argument("-v", "--verbose", action="store_true", help="log what the lab does")
    sub = parser.add_subparsers(dest="command", required=True)

    def machine_command(name, func, help):
        p = sub.add_parser(name, help=help)
        p.add_argument("--kvm", action="store_true", help="use KVM when it works (else TCG)")
        p.add_argument("--modern", action="store_true", help="modern-only virtio-net device")
        p.set_defaults(func=func)
        return p

    machine_command("info", cmd_info, "boot and describe the machine").add_argument(
        "--json", action="store_true", help="print JSON")
    machine_command("pci", cmd_pci, "scan PCI config space and print what is there").add_argument(
        "--json", action="store_true", help="print JSON")
    _virtio_args(machine_command("virtio", cmd_virtio, "the Python virtio-net driver on the live NIC"))
    p = machine_command("run", cmd_run, "run DOS64 shell commands and print their output")
    p.add_argument("commands", nargs="+", metavar="COMMAND")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per command")
    machine_command("boot", cmd_boot, "the DOS64 console in this terminal")
    from .cli_net import add_commands       # ping, dhcp, dns: the lab's stack on the NIC
    add_commands(sub, machine_command)
    from .cli_serve import add_commands as add_serve_commands   # serve, httpd, netstat
    add_serve_commands(sub, machine_command)
    from .cli_peer import add_commands as add_peer_commands     # a Linux peer
    add_peer_commands(sub)
    from .cli_native import add_commands as add_native_commands     # net=kernel: DOS64's own stack
    add_native_commands(sub, machine_command)
    sub.add_parser("decode", help="decode frames from a pcap file or hex on stdin", add_help=False)

    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["decode"]:              # its own argparse takes every option after it
        from .wire.decode import main as decode_main
        return decode_main(argv[1:])
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO if args.verbose else logging.WARNING,
                        format="%(name)s: %(message)s")
    try:
        return args.func(args)
    except Dos64LabError as err:
        print(f"dos64lab: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
