"""The serving commands of `dos64lab`: DOS64 as a server the host can reach.

    dos64lab serve [--http-port P] [--telnet-port P] [--wire 127.0.0.1:PORT] [--native] [--json]
    dos64lab httpd DIR [--port P] [--json]        a host directory from the guest's HTTP server
    dos64lab netstat [--url URL] [--json]         the sockets and counters of a running serve

``serve`` boots DOS64, brings the lab's stack up on the NIC (DHCP), starts the HTTP
(guest 80) and telnet (guest 23) services and says how to reach them through slirp's
hostfwd: ``curl http://localhost:8080/`` and ``telnet localhost 2323`` -- 8080 and 2323
when they are free, free ports otherwise, always on 127.0.0.1.  ``--native``: DOS64's own
driver, stack and servers (``net=kernel``) instead of the Python ones.  It runs until
Ctrl-C or SIGTERM, then stops everything (exit 0).  With ``--json`` it prints one line
once both services answer: ``{"http": 8080, "telnet": 2323, ...}``.

While it runs, a state file ``dos64lab-serve-<pid>.json`` in ``$XDG_RUNTIME_DIR`` (else
the temporary directory) names its ports; ``netstat`` finds it there.

``--wire 127.0.0.1:PORT`` relays the NIC's wire (the hub of ``Machine(wire=True)``) as
raw Ethernet frames over UDP, one frame per datagram: every datagram sent to PORT goes on
the wire, and every frame on the wire goes to the peers that have sent something (an empty
datagram only subscribes).  Loopback only.
"""

from __future__ import annotations

import contextlib
import glob
import http.client
import ipaddress
import json
import os
import signal
import socket
import sys
import tempfile
import threading
import time

from .cli_net import _errors_exit_2
from .errors import Dos64LabError, LaunchError

PREFERRED = {"http": 8080, "telnet": 2323}      # the seed's ports
READY_TIMEOUT = 30.0                            # s for both services to answer
MAX_WIRE_PEERS = 4


# -- ports ---------------------------------------------------------------------------------------

def port_free(port: int) -> bool:
    """Whether a TCP listener could bind 127.0.0.1:``port`` now (as slirp binds it)."""
    with socket.socket() as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def choose_ports(asked: dict) -> tuple[dict, list[str]]:
    """Host ports to ask slirp for: those ``asked`` ({name: port or None}); for None the
    seed's port if free, else 0 (any).  Returns them and notes for the user."""
    ports, notes = {}, []
    for name, port in asked.items():
        if port is not None:
            if port and not port_free(port):
                raise Dos64LabError(f"127.0.0.1:{port} is in use: choose another --{name}-port "
                                    "(0: any free port)")
            ports[name] = port
        elif port_free(PREFERRED[name]):
            ports[name] = PREFERRED[name]
        else:
            ports[name] = 0
            notes.append(f"port {PREFERRED[name]} is in use: {name} gets a free port")
    return ports, notes


# -- the state file ------------------------------------------------------------------------------

def state_dir() -> str:
    return os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()


def write_state(info: dict) -> str:
    path = os.path.join(state_dir(), f"dos64lab-serve-{os.getpid()}.json")
    with open(path + ".tmp", "w") as f:
        json.dump(info, f)
    os.replace(path + ".tmp", path)             # readers never see half a file
    return path


def running_serves() -> list[dict]:
    """The state of every `dos64lab serve` still running, newest first (stale files of
    killed ones are skipped)."""
    found = []
    for path in glob.glob(os.path.join(state_dir(), "dos64lab-serve-*.json")):
        try:
            with open(path) as f:
                info = json.load(f)
            os.kill(int(info["pid"]), 0)
        except (OSError, ValueError, KeyError, TypeError):
            continue
        found.append(info)
    return sorted(found, key=lambda i: i.get("started", 0), reverse=True)


# -- waiting for the services --------------------------------------------------------------------

def http_answers(port: int, timeout: float = 2.0) -> bool:
    """GET /api/status on 127.0.0.1:``port`` gives 200."""
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
        try:
            conn.request("GET", "/api/status")
            return conn.getresponse().status == 200
        finally:
            conn.close()
    except (OSError, http.client.HTTPException):
        return False


def telnet_answers(port: int, timeout: float = 2.0) -> bool:
    """A telnet server on 127.0.0.1:``port`` speaks first (its IAC negotiation)."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
            return bool(s.recv(64))
    except OSError:
        return False


def wait_until_answering(ports: dict, stop: threading.Event, timeout: float = READY_TIMEOUT):
    checks = {"http": http_answers, "telnet": telnet_answers}
    waiting = dict(ports)
    deadline = time.monotonic() + timeout
    while waiting and not stop.is_set():
        for name, port in list(waiting.items()):
            if checks[name](port):
                del waiting[name]
        if waiting:
            if time.monotonic() > deadline:
                raise Dos64LabError(f"{', '.join(waiting)} did not answer within {timeout:g} s")
            stop.wait(0.2)


# -- the wire over UDP ---------------------------------------------------------------------------

def parse_wire(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    try:
        address, number = ipaddress.ip_address(host.strip("[]")), int(port)
    except ValueError:
        raise ValueError(f"--wire {text!r}: expected 127.0.0.1:PORT") from None
    if not address.is_loopback or not 0 <= number <= 65535:
        raise ValueError(f"--wire {text!r}: only a loopback address (127.0.0.1:PORT) is allowed")
    return str(address), number


class WireRelay:
    """The machine's wire ⇄ a UDP socket on loopback, one frame per datagram."""

    def __init__(self, wire, address: tuple[str, int]):
        family = socket.AF_INET6 if ":" in address[0] else socket.AF_INET
        self.wire, self.sock = wire, socket.socket(family, socket.SOCK_DGRAM)
        self.sock.bind(address)
        self.address = self.sock.getsockname()[:2]
        self.peers: list = []
        self.stats = {"to_wire": 0, "from_wire": 0}
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=t, daemon=True, name=f"dos64lab-wire-{n}")
                         for n, t in (("in", self._inbound), ("out", self._outbound))]
        for t in self._threads:
            t.start()

    def _inbound(self) -> None:                 # UDP → wire
        self.sock.settimeout(0.25)
        while not self._stop.is_set():
            try:
                frame, peer = self.sock.recvfrom(65535)
            except socket.timeout:
                continue
            except OSError:
                return
            if peer not in self.peers:
                self.peers = (self.peers + [peer])[-MAX_WIRE_PEERS:]
            if frame:
                with contextlib.suppress(Dos64LabError):
                    self.wire.send(frame)
                    self.stats["to_wire"] += 1

    def _outbound(self) -> None:                # wire → UDP
        while not self._stop.is_set() and not self.wire.closed:
            frame = self.wire.receive(timeout=0.25)
            for peer in list(self.peers) if frame else ():
                with contextlib.suppress(OSError):
                    self.sock.sendto(frame, peer)
                    self.stats["from_wire"] += 1

    def close(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(2)
        self.sock.close()


# -- serve ---------------------------------------------------------------------------------------

@contextlib.contextmanager
def _stop_on_signals():
    """An Event set by SIGTERM or SIGINT (Ctrl-C), instead of dying mid-way: the caller
    stops everything in order.  Their old handlers come back afterwards."""
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return
    old = {s: signal.signal(s, lambda *_: stop.set()) for s in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield stop
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


def _boot(args, ports: dict, notes: list, **config):
    """The machine with hostfwd on ``ports``; if a port we chose was taken meanwhile,
    once more on free ones."""
    from .cli import _machine
    try:
        return _machine(args, host_ports=ports, **config).start()
    except LaunchError as err:
        if "host forwarding" not in str(err):
            raise
        chosen = {n for n, p in ports.items() if getattr(args, f"{n}_port", None) is None}
        if not chosen:
            raise
        notes.append(f"port(s) {', '.join(str(ports[n]) for n in sorted(chosen))} "
                     "were taken while booting: free ports instead")
        return _machine(args, host_ports={n: 0 if n in chosen else p for n, p in ports.items()},
                        **config).start()


def run_server(args, *, telnet: bool = True, root=None) -> int:
    """Boot, serve, print how to reach it, wait for a signal, stop everything."""
    from .stack import Stack
    native = getattr(args, "native", False)
    wire = parse_wire(args.wire) if getattr(args, "wire", None) else None
    asked = {"http": args.http_port}
    if telnet:
        asked["telnet"] = args.telnet_port
    ports, notes = choose_ports(asked)
    with _stop_on_signals() as stop, contextlib.ExitStack() as running:
        m = running.enter_context(_boot(args, ports, notes, wire=wire is not None,
                                        **({"net_mode": "kernel"} if native else {})))
        host_ports = {n: m.host_ports[n] for n in asked}
        for name, port in host_ports.items():
            if ports[name] and port != ports[name]:
                notes.append(f"{name} is on port {port}, not {ports[name]}")
        address = None
        if not native:
            net = running.enter_context(Stack.on(m, faults=_faults(args)))
            lease = net.dhcp()
            address = str(lease.interface)
            from .services.http import serve_http
            if root is None:
                running.enter_context(serve_http(net))
            else:
                from .apps.httpd import httpd
                running.enter_context(httpd(net, root, out=lambda *_: None))
            if telnet:
                from .services.telnet import serve_telnet
                running.enter_context(serve_telnet(net, m))
        relay = running.enter_context(contextlib.closing(WireRelay(m.wire, wire))) if wire else None
        wait_until_answering(host_ports, stop)
        if telnet and not native:       # the probe's own session took the console: wait until
            from .services.telnet import hold_console      # it is free again before saying so
            with hold_console(m, timeout=10, who="dos64lab serve (starting)"):
                pass
        if stop.is_set():
            return 0
        info = {**host_ports, "pid": os.getpid(), "qemu_pid": m.pid,
                "mode": "native" if native else "python", "address": address,
                "root": str(root) if root else None,
                "wire": "{}:{}".format(*relay.address) if relay else None,
                "status_url": f"http://127.0.0.1:{host_ports['http']}/api/status",
                "started": time.time(), "notes": notes}
        state = write_state(info)
        running.callback(lambda: os.path.exists(state) and os.unlink(state))
        _announce(info, args.json)
        while not stop.wait(0.5):
            if not m.is_running():
                print(f"dos64lab {args.command}: QEMU stopped", file=sys.stderr)
                return 1
    return 0


def _faults(args):
    from .phy import parse_faults
    return parse_faults(args.faults) if getattr(args, "faults", None) else None


def _announce(info: dict, as_json: bool) -> None:
    for note in info["notes"]:
        print(f"note: {note}", file=sys.stderr)
    if as_json:
        print(json.dumps(info), flush=True)
        return
    how = "its own stack (net=kernel)" if info["mode"] == "native" else \
        f"the lab's stack, {info['address']} by DHCP"
    print(f"DOS64 is serving (QEMU pid {info['qemu_pid']}, {how}):")
    if info["root"]:
        print(f"  {info['root']} at http://localhost:{info['http']}/")
    print(f"  curl http://localhost:{info['http']}/")
    if "telnet" in info:
        print(f"  telnet localhost {info['telnet']}")
    if info["wire"]:
        print(f"  raw frames over UDP at {info['wire']}")
    print("Ctrl-C stops it.", flush=True)


@_errors_exit_2
def cmd_serve(args) -> int:
    if args.native and args.faults:
        raise ValueError("--faults is for the lab's stack, not --native")
    return run_server(args)


@_errors_exit_2
def cmd_httpd(args) -> int:
    if not os.path.isdir(args.directory):
        raise ValueError(f"{args.directory}: not a directory")
    args.http_port = args.port
    return run_server(args, telnet=False, root=os.path.abspath(args.directory))


@_errors_exit_2
def cmd_netstat(args) -> int:
    from .apps.netstat import netstat, read_status
    url = args.url
    if url is None:
        serves = running_serves()
        if not serves:
            raise Dos64LabError("no `dos64lab serve` is running here: start one, or give --url")
        url = serves[0]["status_url"]
    elif "://" not in url:
        url = f"http://{url}"
    if not url.rstrip("/").endswith("/api/status"):
        url = url.rstrip("/") + "/api/status"
    try:
        doc = read_status(url)
    except (OSError, ValueError) as err:
        raise Dos64LabError(f"{url}: {err}") from err
    shown = netstat(doc, out=(lambda *_: None) if args.json else print)
    if args.json:
        print(json.dumps({"url": url, **shown}))
    return 0


def add_commands(sub, machine_command) -> None:
    """Register serve, httpd and netstat on the CLI's parser."""
    p = machine_command("serve", cmd_serve, "DOS64 serving HTTP and telnet to the host")
    p.add_argument("--http-port", type=int, metavar="P",
                   help="host port for HTTP (default 8080 if free, else any; 0: any)")
    p.add_argument("--telnet-port", type=int, metavar="P",
                   help="host port for telnet (default 2323 if free, else any; 0: any)")
    p.add_argument("--wire", metavar="127.0.0.1:PORT",
                   help="relay the NIC's raw frames over UDP on this loopback address")
    p.add_argument("--native", action="store_true",
                   help="DOS64's own stack and servers (net=kernel), not the lab's Python")
    p.add_argument("--faults", metavar="SPEC", help="damage frames between stack and NIC: "
                                                    "drop=P,corrupt=P,duplicate=P,reorder=P,seed=N")
    p.add_argument("--json", action="store_true", help="print one JSON line once both answer")
    p = machine_command("httpd", cmd_httpd, "serve a host directory from the guest's HTTP server")
    p.add_argument("directory", metavar="DIR")
    p.add_argument("--port", type=int, metavar="P",
                   help="host port (default 8080 if free, else any; 0: any)")
    p.add_argument("--faults", metavar="SPEC", help="damage frames between stack and NIC")
    p.add_argument("--json", action="store_true", help="print one JSON line once it answers")
    p = sub.add_parser("netstat", help="sockets and counters of a running `dos64lab serve`")
    p.add_argument("--url", help="its status API (default: the serve running here)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=cmd_netstat)
