"""The network commands of `dos64lab`: the lab's own stack on the machine's NIC.

    dos64lab ping HOST [-c N] [-i SEC] [-s SIZE] [-W SEC]   like iputils ping
    dos64lab dhcp [--json]                                  a lease from QEMU, step by step
    dos64lab dns NAME [--type A|AAAA|CNAME] [--server IP:PORT] [--json]
    dos64lab wget URL [-O FILE] [-q] [--timeout S] [--json]  HTTP/1.1, like GNU wget

Each boots DOS64, brings the Python driver and the stack up on the NIC and stops
everything when done.  ``--faults drop=P,corrupt=P,duplicate=P,reorder=P,seed=N``
puts a ``FaultInjector`` between the stack and the NIC.  Exit status: 0 success,
1 no answer (for wget also an HTTP status that is not 2xx), 2 an error (what went
wrong is printed).
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import os
import sys
from ipaddress import IPv4Address, IPv4Network

from .errors import Dos64LabError

BROADCAST_ONLY = (IPv4Network("255.255.255.255/32"),)


@contextlib.contextmanager
def live_stack(args, *, dhcp: bool = False, reach: IPv4Address | None = None,
               port: int | None = None):
    """A machine and a stack on its NIC.

    ``reach``: a host service the guest must reach at 10.0.2.2 (e.g. a DNS server on the
    host's 127.0.0.1).  slirp's restrict=on blocks that, so the machine is unrestricted
    and the stack's egress allow-list admits exactly that address (and broadcast); with
    ``port``, only TCP/UDP to that port of it (and broadcast only for DHCP).  Any other
    address keeps restrict=on: slirp then carries nothing off the machine.
    """
    from .cli import _machine
    from .iface import InterfaceConfig
    from .phy import parse_faults
    from .stack import Stack, SLIRP
    faults = parse_faults(args.faults) if args.faults else None
    if reach is None:
        allow = None
    elif port is None:
        allow = BROADCAST_ONLY + (IPv4Network(reach),)
    else:
        allow = (BROADCAST_ONLY if dhcp else ()) + ((IPv4Network(reach), port),)
    restrict = reach is None or IPv4Address(reach) != SLIRP.GATEWAY
    with _machine(args, restrict=restrict) as m, \
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


@_errors_exit_2
def cmd_dhcp(args) -> int:
    from .socket.dhcp import DhcpClient
    with live_stack(args, dhcp=True) as net:
        with net.lock:
            client = next(s for s in net.sockets if isinstance(s, DhcpClient))
            lease, steps = client.lease, list(client.steps)
    if args.json:
        print(json.dumps({"lease": lease.describe(),
                          "steps": [{"at": round(s.at - steps[0].at, 4), "kind": s.kind,
                                     "message": s.message, "detail": s.detail} for s in steps]}))
        return 0
    start = steps[0].at
    for s in steps:
        print(f"{(s.at - start) * 1000:8.1f} ms  {s.kind:<8} {s.message:<10} {s.detail}".rstrip())
    print(f"lease: {lease.interface} router {lease.router} dns "
          f"{', '.join(map(str, lease.dns_servers)) or '-'} from server {lease.server}, "
          f"{lease.lease_time:g} s (renew at {lease.t1:g} s, rebind at {lease.t2:g} s)")
    for note in lease.notes:
        print(f"note: {note}")
    return 0


@_errors_exit_2
def cmd_dns(args) -> int:
    from .socket.dns import parse_server
    server = parse_server(args.server) if args.server else None
    with live_stack(args, reach=server[0] if server else None) as net:
        result = net.resolve(args.name, args.type, server, timeout=args.timeout)
    if args.json:
        print(json.dumps({
            "name": result.name, "rcode": getattr(result.rcode, "name", result.rcode),
            "records": [{"name": r.name, "type": getattr(r.type, "name", r.type), "ttl": r.ttl,
                         "data": str(r.data)} for r in result.cnames + result.records],
            "truncated": result.truncated, "rtt_ms": round(result.rtt * 1000, 3)}))
    else:
        print(f";; {args.name} {args.type} from {result.server[0]}:{result.server[1]}: "
              f"{getattr(result.rcode, 'name', result.rcode)} in {result.rtt * 1000:.1f} ms"
              + (", TRUNCATED (TC bit)" if result.truncated else ""))
        for r in result.cnames + result.records:
            print(f"{r.name}.\t{r.ttl}\tIN\t{getattr(r.type, 'name', r.type)}\t{r.data}")
    return 0 if result.ok and result.records else 1


@_errors_exit_2
def cmd_wget(args) -> int:
    """Exit 0 saved, 1 an HTTP status that is not 2xx or no answer (timed out), 2 an error
    (bad URL, refused, reset, malformed response, too many redirects)."""
    from .apps.wget import WgetError, parse_url, wget
    url = parse_url(args.url)
    output = args.output or _output_name(url)
    to_stdout = output == "-"
    quiet = args.quiet or args.json
    say = (lambda *_: None) if quiet else functools.partial(
        print, file=sys.stderr if to_stdout else sys.stdout)
    with live_stack(args, reach=url.host, port=url.port) as net:
        try:
            summary = wget(net, args.url, sys.stdout.buffer if to_stdout else output,
                           timeout=args.timeout, progress=False if quiet else None, out=say)
        except WgetError as err:
            if err.kind not in ("status", "timeout"):
                raise
            print(f"dos64lab wget: {err}", file=sys.stderr)
            if args.json:
                print(json.dumps({"error": err.kind, "message": str(err), "url": str(err.url),
                                  "status": getattr(err, "status", None)}))
            return 1
    if args.json:
        print(json.dumps(summary))
    return 0


def _output_name(url) -> str:
    """As wget names a download: the URL's last path segment (index.html if none), with
    .1, .2, ... added when that file exists."""
    name = os.path.basename(url.target.split("?")[0])
    name = "index.html" if name in ("", ".", "..") else name
    candidates = itertools.chain([name], (f"{name}.{i}" for i in itertools.count(1)))
    return next(c for c in candidates if not os.path.exists(c))


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
    network_command("dhcp", cmd_dhcp, "lease an address from QEMU's DHCP server, step by step")
    p = network_command("dns", cmd_dns, "ask a DNS server through the lab's stack")
    p.add_argument("name")
    p.add_argument("--type", default="A", choices=["A", "AAAA", "CNAME"])
    p.add_argument("--server", metavar="IP:PORT",
                   help="a DNS server as the guest sees it: 10.0.2.2:5353 is one on the host's "
                        "127.0.0.1:5353 (default 10.0.2.3, slirp's proxy to the host's resolver, "
                        "which the lab's isolated machine does not reach)")
    p.add_argument("--timeout", type=float, default=5.0, help="seconds in all (3 tries)")
    p = network_command("wget", cmd_wget, "download a URL over HTTP/1.1 with the lab's TCP")
    p.add_argument("url", help="http://IPv4[:PORT]/path as the guest sees it: 10.0.2.2:8000 is "
                               "the host's 127.0.0.1:8000 (only that port is made reachable)")
    p.add_argument("-O", dest="output", metavar="FILE",
                   help="save to FILE ('-': standard output); default: the URL's file name")
    p.add_argument("-q", "--quiet", action="store_true", help="no messages, no progress bar")
    p.add_argument("--timeout", type=float, default=10.0,
                   help="seconds to connect and for each wait for data (default 10)")
