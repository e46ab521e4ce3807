"""The network commands of `dos64lab`: the lab's own stack on the machine's NIC.

    dos64lab ping HOST [-c N] [-i SEC] [-s SIZE] [-W SEC]   like iputils ping
    dos64lab dhcp [--json]                                  a lease from QEMU, step by step
    dos64lab dns NAME [--type A|AAAA|CNAME] [--server IP:PORT] [--json]

Each boots DOS64, brings the Python driver and the stack up on the NIC and stops
everything when done.  ``--faults drop=P,corrupt=P,duplicate=P,reorder=P,seed=N``
puts a ``FaultInjector`` between the stack and the NIC.  Exit status: 0 success,
1 no answer, 2 an error (what went wrong is printed).
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys
from ipaddress import IPv4Address, IPv4Network

from .errors import Dos64LabError

BROADCAST_ONLY = (IPv4Network("255.255.255.255/32"),)


@contextlib.contextmanager
def live_stack(args, *, dhcp: bool = False, reach: IPv4Address | None = None):
    """A machine and a stack on its NIC.

    ``reach``: a host service the guest must reach at 10.0.2.2 (e.g. a DNS server on the
    host's 127.0.0.1).  slirp's restrict=on blocks that, so the machine is unrestricted
    and the stack's egress allow-list admits exactly that address (and broadcast).
    """
    from .cli import _machine
    from .iface import InterfaceConfig
    from .phy import parse_faults
    from .stack import Stack
    faults = parse_faults(args.faults) if args.faults else None
    allow = BROADCAST_ONLY + (IPv4Network(reach),) if reach else None
    with _machine(args, restrict=reach is None) as m, \
            Stack.on(m, InterfaceConfig(allow=allow), faults=faults) as net:
        if dhcp:
            net.dhcp()
        else:
            net.configure()
        yield net


def _errors_exit_2(func):
    """Network commands exit 2 on an error (1 means: no answer), as ping does."""
    @functools.wraps(func)
    def run(args):
        try:
            return func(args)
        except (Dos64LabError, ValueError) as err:
            print(f"dos64lab {args.command}: {err}", file=sys.stderr)
            return 2
    return run


@_errors_exit_2
def cmd_ping(args) -> int:
    from .apps.ping import ping
    IPv4Address(args.host)                  # a ValueError names a bad address
    if args.count < 1 or not 0 <= args.size <= 65_507:
        raise ValueError("-c must be at least 1 and -s within 0..65507")
    with live_stack(args) as net:
        summary = ping(net, args.host, args.count, args.interval, args.size, args.timeout,
                       out=(lambda *_: None) if args.json else print)
    if args.json:
        print(json.dumps(summary))
    return 0 if summary["received"] else 1


def add_commands(sub, machine_command) -> None:
    """Register the network subcommands on the CLI's parser."""
    def network_command(name, func, help):
        p = machine_command(name, func, help)
        p.add_argument("--faults", metavar="SPEC",
                       help="damage frames between stack and NIC: drop=P,corrupt=P,"
                            "duplicate=P,reorder=P,seed=N")
        p.add_argument("--json", action="store_true", help="print JSON")
        return p

    p = network_command("ping", cmd_ping, "ICMP echo from the lab's stack, like iputils ping")
    p.add_argument("host")
    p.add_argument("-c", dest="count", type=int, default=4, help="how many (default 4)")
    p.add_argument("-i", dest="interval", type=float, default=1.0, help="seconds between")
    p.add_argument("-s", dest="size", type=int, default=56, help="data bytes (default 56)")
    p.add_argument("-W", dest="timeout", type=float, default=1.0, help="seconds to wait for each")

