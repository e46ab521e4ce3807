"""A real Linux on the lab's Ethernet: Debian's kernel and busybox in a second QEMU.

slirp is a peer, but an old one: its SYN-ACK carries only MSS, and it never pings or
connects on its own.  ``LinuxPeer`` boots Debian's cloud kernel with a busybox initramfs
(``image.py``) and offers its serial console as a shell::

    with LinuxPeer() as peer, Machine(link=peer) as m:     # one private segment
        net = Stack.on(m); net.configure("10.0.2.15/24", gateway=None)
        out, status = peer.run("ping -c 3 10.0.2.15")

Two ways to plug its NIC in:

* the default: a ``Link`` (a private segment) that a ``Machine(link=peer)`` joins, at
  10.0.2.16/24 unless ``ip=`` says otherwise;
* ``slirp=True``: QEMU's user network, like the lab's machine: 10.0.2.15/24, gateway
  10.0.2.2, restricted, with ``httpd`` (80) and ``telnetd`` (23) forwarded to free ports
  on the host's 127.0.0.1 (``host_ports``) -- the Linux rows of the benchmarks.

Its lifecycle is the machine's (``QemuProcess``): a context manager, QMP quit then kill,
QEMU in its own session and killed with its owner (PR_SET_PDEATHSIG), no temp folder left.
"""

from __future__ import annotations

import re
import secrets
import socket
import sys
import threading
import time
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface
from typing import NamedTuple

from ..errors import ArgumentError, MachineError
from ..machine.config import nic_netdevs, slirp_netdev
from ..machine.console import SerialConsole
from ..machine.machine import QemuProcess
from ..machine.qmp import QMP
from .image import PeerImage, peer_image
from .link import Link

__all__ = ["LinuxPeer", "PeerConfig", "RunResult", "PeerError", "PeerTimeout"]

# /init prints one of these; then the shell prints its prompt (PS1 in image.INIT)
_READY = r"PEER READY ([^\r\n]*)\r?\n|(PEER FAILED: [^\r\n]*|Kernel panic[^\r\n]*)"
_PROMPT = r"peer:[^\r\n#]*# "
LINE_MAX = 4000             # a tty line holds 4095 characters


class PeerError(MachineError):
    """The Linux peer failed, or was used wrongly."""


class PeerTimeout(PeerError, TimeoutError):
    """A command on the peer did not finish in time (it was interrupted with Ctrl-C)."""


class RunResult(NamedTuple):
    """What ``LinuxPeer.run`` returns: ``out, status = peer.run(...)``."""
    output: str             # what the terminal showed: stdout and stderr, "\n" line ends
    status: int             # the exit status, as $? saw it

    @property
    def ok(self) -> bool:
        return self.status == 0


@dataclass(frozen=True)
class PeerConfig:
    """The peer's QEMU command line, as data (like ``MachineConfig``)."""
    ip: IPv4Interface
    gateway: IPv4Address | None
    mac: str
    slirp: bool = False         # slirp with hostfwd instead of a Link
    memory_mib: int = 128
    pcap: str | None = None     # record every frame on the NIC (filter-dump)
    qemu: str = "qemu-system-x86_64"
    extra_args: tuple = ()

    def cmdline(self) -> str:
        """The kernel command line; /init reads the peer.* words."""
        words = ["console=ttyS0", "quiet", "panic=-1", f"peer.ip={self.ip.with_prefixlen}"]
        return " ".join(words + ([f"peer.gw={self.gateway}"] if self.gateway else []))

    def argv(self, image: PeerImage, qmp_fd: int, console_fd: int,
             link_fd: int | None = None) -> list[str]:
        net = (slirp_netdev(restrict=True, hostfwd=True) if self.slirp
               else f"dgram,local.type=fd,local.str={link_fd}")
        argv = [
            self.qemu, "-machine", "q35", "-nodefaults", "-no-user-config",
            "-display", "none", "-m", str(self.memory_mib), "-accel", "tcg",
            "-kernel", str(image.kernel), "-initrd", str(image.initrd),
            "-append", self.cmdline(), "-no-reboot",          # a kernel panic ends QEMU
            *nic_netdevs({"n0": net}),
            "-device", f"virtio-net-pci,netdev=n0,mac={self.mac},romfile=",
            "-chardev", f"socket,id=qmp,fd={qmp_fd}", "-mon", "chardev=qmp,mode=control",
            "-chardev", f"socket,id=con,fd={console_fd}", "-serial", "chardev:con",
        ]
        if self.pcap:
            argv += ["-object", f"filter-dump,id=dump0,netdev=n0,file={self.pcap}"]
        return argv + list(self.extra_args)


def _to_stderr(line: str) -> None:
    print(f"dos64lab: {line}", file=sys.stderr, flush=True)


class LinuxPeer(QemuProcess):
    """Debian's Linux in a QEMU of its own, on a private segment (or on slirp).

    ``ip``: its address and prefix (default 10.0.2.16/24, or 10.0.2.15/24 with slirp);
    ``gateway``: its default route (default none, or 10.0.2.2 with slirp); ``mac``:
    default 52:54 followed by the four bytes of ``ip``.  ``progress``: called with a line
    for each step when the image must be built first (default: printed to stderr).
    """
    noun = "peer"
    guest = "Linux"

    def __init__(self, ip=None, gateway=None, mac=None, *, slirp: bool = False,
                 memory_mib: int = 128, pcap: str | None = None,
                 qemu: str = "qemu-system-x86_64", extra_args: tuple = (), progress=_to_stderr):
        super().__init__()
        ip = IPv4Interface(ip or ("10.0.2.15/24" if slirp else "10.0.2.16/24"))
        if gateway is None and slirp:
            gateway = "10.0.2.2"
        mac = mac or "52:54:" + ":".join(f"{b:02x}" for b in ip.ip.packed)
        self.config = PeerConfig(ip, gateway and IPv4Address(gateway), mac, slirp,
                                 memory_mib, pcap, qemu, tuple(extra_args))
        self.link: Link | None = None if slirp else Link()   # now: either QEMU may start first
        self.image: PeerImage | None = None
        self.info: dict = {}            # the key=value pairs of /init's ready line
        self._progress = progress
        self._run_lock = threading.Lock()

    @property
    def ip(self) -> IPv4Interface:
        """Its address with prefix (10.0.2.16/24)."""
        return self.config.ip

    @property
    def address(self) -> IPv4Address:
        return self.config.ip.ip

    @property
    def mac(self) -> str:
        return self.config.mac

    # -- starting -----------------------------------------------------------
    def start(self, timeout: float = 60.0) -> "LinuxPeer":
        """Build the image if needed, boot, and wait for the shell's first prompt."""
        self._require_new()
        self.image = peer_image(self._progress)          # seconds once, then cached
        t0 = time.monotonic()
        pairs = [socket.socketpair() for _ in range(2)]     # (ours, QEMU's): qmp, console
        link_fd = self.link.fileno_for("peer") if self.link else None
        self._launch(self.config.argv(self.image, pairs[0][1].fileno(), pairs[1][1].fileno(),
                                      link_fd),
                     pairs, inherit=() if link_fd is None else (link_fd,))
        (qmp_sock, _), (con_sock, _) = pairs
        self._console = SerialConsole(con_sock, on_dead=self._dead)
        try:
            self._qmp = QMP(qmp_sock, name=f"dos64lab-peer-{self.proc.pid}", on_dead=self._dead)
            ready = self._console.expect(_READY, timeout)
            if ready.group(1) is None:
                raise PeerError(f"Linux did not come up: {ready.group(2).decode()}")
            self._console.expect(_PROMPT, timeout)
        except Exception as err:
            self._launch_failed(err)
        except BaseException:                 # KeyboardInterrupt (Jupyter's Interrupt): stop QEMU
            self.close()
            raise
        self.info = dict(kv.split("=", 1) for kv in ready.group(1).decode().split())
        self.host_ports = self._read_hostfwd() if self.config.slirp else {}
        self.boot_seconds = time.monotonic() - t0
        return self

    # -- using --------------------------------------------------------------
    def run(self, command: str, timeout: float = 10.0) -> RunResult:
        """Run a shell command on the peer's console; its output and exit status.

        Its stdin is /dev/null.  The output is what lies between two markers the shell
        prints around it (random each time, and split in the typed line so that the
        terminal's echo never matches).  After ``timeout`` seconds, Ctrl-C interrupts
        it and ``PeerTimeout`` says what it printed so far.
        """
        if not (isinstance(command, str) and command.strip() and len(command) <= LINE_MAX
                and all(c.isprintable() or c in "\t\n" for c in command) and command.isascii()):
            raise ArgumentError("run", "command", command,
                                f"is not a shell command (printable ASCII, at most {LINE_MAX})")
        console = self.console
        token = secrets.token_hex(6)
        with self._run_lock:
            console.send(f"echo _B''{token}; {{ {command}\n}} </dev/null; echo _E''{token} $?\r")
            try:
                done = console.expect(rf"_B{token}\r?\n((?s:.*?))_E{token} (\d+)\r?\n", timeout)
            except MachineError as err:
                if console.closed:
                    raise
                console.send("\x03")                    # Ctrl-C: the shell takes the next one
                raise PeerTimeout(f"peer: `{command}` did not finish within {timeout:g} s "
                                  f"(interrupted); last output:\n{console.tail(10)}") from err
        output = done.group(1).decode("utf-8", "replace").replace("\r\n", "\n")
        return RunResult(output, int(done.group(2)))

    # -- stopping -----------------------------------------------------------
    def close(self) -> None:
        """Stop QEMU (QMP quit, then kill), free everything, let go of the link.  Idempotent."""
        try:
            super().close()
        finally:
            if self.link is not None:
                self.link.close()

    def __repr__(self):
        where = "slirp" if self.config.slirp else "link"
        return (f"<LinuxPeer pid={self.pid} {self._state()} {self.ip} {self.mac} {where} "
                f"ports={self.host_ports}>")
