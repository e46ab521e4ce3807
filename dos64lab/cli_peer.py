"""`dos64lab peer`: a real Linux (Debian's kernel + busybox) in a QEMU of its own.

    dos64lab peer                      boot, print its address and ports, then its shell in
                                       this terminal (Ctrl-] leaves; Ctrl-C reaches Linux)
    dos64lab peer "uname -r" "ip addr" run commands instead, print their output; the exit
                                       status is the last failing command's (else 0)
    dos64lab peer --json [COMMAND ...] the same as JSON: address, MAC, host ports, results

The peer is on QEMU's user network with hostfwd, like the lab's machine: busybox httpd and
telnetd answer on the host's 127.0.0.1 at the ports printed.  The first run builds the
peer's image (a download of about 28 MB, once; see dos64lab.peer.image).
"""

from __future__ import annotations

import json
import os
import select
import sys


def describe(peer) -> dict:
    """What `dos64lab peer --json` prints about the peer."""
    return {"ip": str(peer.ip), "address": str(peer.address), "mac": peer.mac,
            "gateway": str(peer.config.gateway) if peer.config.gateway else None,
            "kernel": peer.info.get("kernel"), "host_ports": peer.host_ports,
            "pid": peer.pid, "boot_seconds": round(peer.boot_seconds, 3)}


def cmd_peer(args) -> int:
    from .peer import LinuxPeer
    with LinuxPeer(slirp=True, memory_mib=args.memory) as peer:
        info = describe(peer)
        if args.commands:
            results = [peer.run(c, timeout=args.timeout) for c in args.commands]
            status = next((r.status for r in reversed(results) if r.status), 0)
            if args.json:
                info["results"] = [{"command": c, "output": r.output, "status": r.status}
                                   for c, r in zip(args.commands, results)]
                print(json.dumps(info, indent=2))
            else:
                for command, result in zip(args.commands, results):
                    print(f"peer# {command}\n{result.output}", end="")
            return status
        if args.json:
            print(json.dumps(info, indent=2), flush=True)
        else:
            ports = ", ".join(f"{n} 127.0.0.1:{p}" for n, p in peer.host_ports.items())
            print(f"Linux peer {peer.ip} ({peer.mac}), kernel {info['kernel']}, "
                  f"booted in {info['boot_seconds']} s; {ports}", flush=True)
        attach(peer.console)
    return 0


def attach(console) -> None:
    """The serial console in this terminal, like `telnet`: Ctrl-] leaves."""
    import termios
    import tty
    sys.stderr.write("Linux peer console. Ctrl-] leaves.\r\n")
    offset = 0                                          # from the boot: the banner, the prompt
    fd = sys.stdin.fileno()
    saved = termios.tcgetattr(fd) if os.isatty(fd) else None
    if saved:
        tty.setraw(fd)
    try:
        while not console.closed:
            data, offset = console.read_from(offset, timeout=0.02)
            if data:
                os.write(sys.stdout.fileno(), data)
            if select.select([fd], [], [], 0.02)[0]:
                typed = os.read(fd, 1024)
                if not typed or b"\x1d" in typed:
                    console.send(typed.split(b"\x1d")[0])
                    break
                console.send(typed)
    finally:
        if saved:
            termios.tcsetattr(fd, termios.TCSADRAIN, saved)
    sys.stderr.write("\r\nleft the console; the peer stopped.\n")


def add_commands(sub) -> None:
    """Register `dos64lab peer` on the CLI's parser."""
    p = sub.add_parser("peer", help="a Linux peer (Debian's kernel + busybox): its shell, "
                                    "or run commands in it")
    p.add_argument("commands", nargs="*", metavar="COMMAND",
                   help="shell commands to run (default: an interactive shell)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument("--timeout", type=float, default=30.0, help="seconds per command")
    p.add_argument("--memory", type=int, default=128, help="MiB of RAM (default 128)")
    p.set_defaults(func=cmd_peer)
