"""Services on the host's 127.0.0.1 for the guest to reach, started and always stopped by the lab.

Traffic stays on this machine: the guest reaches a host service at 10.0.2.2:PORT (slirp
maps it to the host's 127.0.0.1:PORT when the machine is unrestricted -- and then the
stack's egress allow-list admits only 10.0.2.2).  Each service here binds 127.0.0.1 on a
free port, is a context manager, and ends with it (terminate, then kill).

``Dnsmasq``: Debian's dnsmasq (package dnsmasq-base) as a DNS server with fixed
answers and no upstream, so a lookup never leaves the machine::

    with Dnsmasq() as dns:                     # lab.test -> 10.9.8.7, fd00::7
        net.resolve("alias.lab.test", server=("10.0.2.2", dns.port))
"""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
import time

from .errors import Dos64LabError

__all__ = ["Dnsmasq", "free_port", "GUEST_SEES_HOST_AT"]

GUEST_SEES_HOST_AT = "10.0.2.2"


def free_port() -> int:
    """A port on 127.0.0.1 that nothing uses right now, for UDP and TCP alike (dnsmasq
    binds both)."""
    while True:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as u:
            u.bind(("127.0.0.1", 0))
            port = u.getsockname()[1]
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as t:
                try:
                    t.bind(("127.0.0.1", port))
                    return port
                except OSError:
                    continue


class Dnsmasq:
    """dnsmasq on 127.0.0.1:``port`` answering for ``domain`` only.

    ``records``: ``{name: [addresses]}`` (A and AAAA); ``cnames``: ``{alias: target}``.
    Other names under ``domain`` are NXDOMAIN; names elsewhere are REFUSED-like (no
    upstream: ``--no-resolv``).  ``log`` holds dnsmasq's query log once stopped.
    """

    def __init__(self, records=None, cnames=None, domain="lab.test", ttl=300):
        self.domain = domain
        self.records = records or {"lab.test": ["10.9.8.7", "fd00::7"]}
        self.cnames = cnames or {"alias.lab.test": "lab.test"}
        self.ttl = ttl
        self.port = None
        self.proc = None
        self.log = ""

    @property
    def argv(self) -> list[str]:
        return (["dnsmasq", "--no-resolv", "--no-hosts", "--keep-in-foreground",
                 "--bind-interfaces", "--listen-address=127.0.0.1", f"--port={self.port}",
                 f"--local=/{self.domain}/", f"--local-ttl={self.ttl}", "--log-queries",
                 "--log-facility=-", "--conf-file=/dev/null"]
                + [f"--host-record={name},{','.join(addrs)}" for name, addrs in self.records.items()]
                + [f"--cname={alias},{target}" for alias, target in self.cnames.items()])

    def start(self, timeout: float = 5.0) -> "Dnsmasq":
        if shutil.which("dnsmasq") is None:
            raise Dos64LabError("dnsmasq not found: install the Debian package dnsmasq-base "
                                "(make lab and make test do it)")
        self.port = free_port()
        self.proc = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise Dos64LabError(f"dnsmasq did not start: {' '.join(self.argv)}\n{self.log}")
        return self

    def answers(self) -> bool:
        """Does it answer an A query for the domain yet (asked from the host)?"""
        name = b"".join(bytes([len(p)]) + p.encode() for p in self.domain.split(".")) + b"\0"
        query = struct.pack("!6H", 0x4C41, 0x0100, 1, 0, 0, 0) + name + b"\0\1\0\1"
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.2)
            s.sendto(query, ("127.0.0.1", self.port))
            try:
                return s.recv(512)[:2] == query[:2]
            except OSError:
                return False

    @property
    def server(self) -> tuple[str, int]:
        """Where the guest reaches it."""
        return GUEST_SEES_HOST_AT, self.port

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(5)
        self.log = self.proc.stdout.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc = None

    def __enter__(self) -> "Dnsmasq":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
