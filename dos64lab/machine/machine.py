"""One lab machine: a QEMU process running DOS64, and the lab's hold on it.

Lifecycle (after qemu.qmp's ``QEMUMachine``): ``start()`` launches QEMU and
waits for DOS64's ready line; ``close()`` asks QEMU to quit over QMP, then kills
it; ``close()`` is idempotent and also runs from ``with``, a finalizer and
``atexit``.  QEMU runs in its own session, so Jupyter's "Interrupt" (SIGINT to
the kernel's process group) does not reach it, and it is started with
PR_SET_PDEATHSIG so that it dies with the Python process, even on SIGKILL.

Its files live in a temp folder ``dos64lab-<owner pid>-*``, removed by
``close()``, by a SIGTERM of the owner (a handler is installed only where
SIGTERM still has its default action) and, after a SIGKILL, by the next
``start()`` of any owner, which removes folders whose owner process is gone.

A machine is used between ``start()`` and ``close()``: before or after, every
method and channel raises ``MachineError`` saying which.  When QEMU dies under
a channel, the error (``QemuExitedError``) carries its exit status and stderr.

All of this lives in ``QemuProcess``, which ``Machine`` (DOS64) and
``dos64lab.peer.LinuxPeer`` (a Linux to talk to) both are.
"""

import atexit
import ctypes
import glob
import logging
import mmap
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
import weakref

from ..errors import LaunchError, MachineError, QemuExitedError
from . import _io
from .config import GUEST_PORTS, VIRTIO_PATH, MachineConfig
from .console import SerialConsole
from .kernel import kernel_image
from .qmp import QMP
from .qtest import Qtest
from .wire import Wire

log = logging.getLogger(__name__)

_libc = ctypes.CDLL(None, use_errno=True)
_PR_SET_PDEATHSIG = 1
_live: "weakref.WeakSet[QemuProcess]" = weakref.WeakSet()   # machines and peers
_READY = r"DOS64 READY ([^\r\n]*)\r?\n|PANIC: (?s:.*?)System halted"   # ready, or a boot panic


class QemuProcess:
    """One QEMU process of this Python process: what ``Machine`` and ``LinuxPeer`` share.

    ``_launch()`` forks QEMU from the lab's I/O thread (PR_SET_PDEATHSIG), in its own
    session, with a temp folder and a finalizer; ``close()`` quits over QMP, then kills,
    and is idempotent; ``with`` starts and closes.  A subclass says what to run in
    ``start()`` and which channels it holds in ``_channels()``.
    """
    noun = "QEMU"           # what the errors call it: "machine", "peer"
    guest = "the guest"     # what must get ready: "DOS64", "Linux"

    def __init__(self):
        self.argv: list[str] = []
        self.proc: subprocess.Popen | None = None
        self._qmp: QMP | None = None
        self._console: SerialConsole | None = None
        self.host_ports: dict = {}      # {"http": port, "telnet": port} on 127.0.0.1
        self.boot_seconds = None
        self.tmpdir = None
        self._stderr = None
        self._closed = False
        self._finalizer = None

    def start(self, timeout: float = 30.0) -> "QemuProcess":
        raise NotImplementedError

    def _launch(self, argv: list[str], pairs: list, inherit: tuple = ()) -> None:
        """Start ``argv``.  QEMU inherits the second socket of each pair in ``pairs``
        (closed here once QEMU has it; on a failure the first ones are closed too) and
        the descriptors in ``inherit`` (left open)."""
        self._require_new()
        self.argv = argv
        if not shutil.which(argv[0]):
            for pair in pairs:
                for sock in pair:
                    sock.close()
            raise LaunchError(f"{argv[0]} not found: install the Debian package "
                              "qemu-system-x86 (make lab does it)")
        _remove_stale_tmpdirs()
        _remove_tmpdirs_on_sigterm()
        self.tmpdir = tempfile.mkdtemp(prefix=f"dos64lab-{os.getpid()}-")
        self._stderr = open(os.path.join(self.tmpdir, "qemu.stderr"), "w+b")
        try:
            self.proc = _io.call(self._spawn, [b.fileno() for _, b in pairs] + list(inherit))
        except BaseException as err:          # no QEMU: nothing else will clean up
            self._stderr.close()
            shutil.rmtree(self.tmpdir, ignore_errors=True)
            for ours, _ in pairs:
                ours.close()
            if isinstance(err, OSError):
                raise LaunchError(f"cannot start QEMU: {err}", argv=self.argv) from err
            raise
        finally:
            for _, b in pairs:
                b.close()
        _live.add(self)
        self._finalizer = weakref.finalize(self, _kill, self.proc, self.tmpdir)
        self._dead = _death_reporter(self.proc, self._stderr.name)

    def _spawn(self, fds):
        parent = os.getpid()

        def die_with_parent():      # runs in the child, between fork and exec
            _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
            if os.getppid() != parent:
                os._exit(1)

        return subprocess.Popen(self.argv, pass_fds=fds, stdin=subprocess.DEVNULL,
                                stdout=self._stderr, stderr=self._stderr,
                                start_new_session=True, preexec_fn=die_with_parent)

    def _launch_failed(self, err):
        try:
            code = self.proc.wait(2)
        except subprocess.TimeoutExpired:
            code = None
        console = self._console.transcript if self._console else ""
        self._stderr.seek(0)
        stderr = self._stderr.read().decode(errors="replace")
        self.close()
        what = (f"QEMU exited before {self.guest} was ready" if code is not None
                else f"{self.guest} did not get ready: {err}")
        raise LaunchError(what, argv=self.argv, returncode=code,
                          console=console, stderr=stderr) from err

    def _read_hostfwd(self) -> dict:
        # No QMP query returns hostfwd ports; HMP `info usernet` lists them.
        table = self._qmp.hmp("info usernet")
        found = {int(g): int(h) for h, g in
                 re.findall(r"TCP\[HOST_FORWARD\]\s+\d+\s+\S+\s+(\d+)\s+\S+\s+(\d+)", table)}
        return {name: found[port] for name, port in GUEST_PORTS.items() if port in found}

    def _require_new(self) -> None:
        if self.proc is not None:
            raise MachineError(f"this {self.noun} was already started; "
                               f"make a new {type(self).__name__}")

    # -- using --------------------------------------------------------------
    def _require_started(self) -> None:
        """Raise MachineError unless start() ran and close() did not."""
        if self.proc is None:
            raise MachineError(f"{self.noun} not started: call start() or use "
                               f"`with {type(self).__name__}() as {self.noun[0]}`")
        if self._closed:
            raise MachineError(f"{self.noun} was closed: make a new {type(self).__name__}")

    @property
    def qmp(self) -> QMP:
        """QEMU's control channel (QMP)."""
        self._require_started()
        return self._qmp

    @property
    def console(self) -> SerialConsole:
        """The guest's serial console (COM1)."""
        self._require_started()
        return self._console

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait(self, timeout: float | None = None) -> int:
        """Wait for QEMU to exit by itself (e.g. after the guest powers off)."""
        self._require_started()
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired as err:
            raise MachineError(f"QEMU still running after {timeout} s") from err

    # -- stopping -----------------------------------------------------------
    def _channels(self) -> list:
        return [self._qmp, self._console]

    def close(self) -> None:
        """Stop QEMU (QMP quit, then kill) and free everything.  Idempotent."""
        if self._closed or self.proc is None:
            return
        self._closed = True
        try:
            if self.proc.poll() is None and self._qmp is not None:
                try:
                    self._qmp.execute("quit", timeout=2)
                    self.proc.wait(3)
                except (MachineError, subprocess.TimeoutExpired) as err:
                    log.debug("soft quit failed: %r", err)
        finally:
            for part in self._channels():
                if part is not None:
                    part.close()
            self._finalizer()          # kills QEMU if still alive, removes tmpdir
            self._stderr.close()
            _live.discard(self)

    def __enter__(self):
        return self if self.proc is not None else self.start()

    def __exit__(self, *exc) -> None:
        self.close()

    def _state(self) -> str:
        return ("new" if self.proc is None else "closed" if self._closed
                else "running" if self.is_running() else "stopped")


class Machine(QemuProcess):
    """A QEMU machine booted into DOS64.  Use it as a context manager::

        with Machine() as m:
            print(m.console.run("VER"))
            print(m.qtest.inl(0xcfc))

    ``Machine(link=peer)`` plugs the NIC into a ``LinuxPeer``'s private segment instead
    of slirp (``slirp=True`` as well: both, on a hub); see ``MachineConfig``.
    ``Machine(net="kernel")`` is short for ``net_mode="kernel"``: DOS64 drives the NIC.
    """
    noun = "machine"
    guest = "DOS64"

    def __init__(self, **config):
        super().__init__()
        if "net" in config:                     # alias: Machine(net="kernel")
            config["net_mode"] = config.pop("net")
        self.config = MachineConfig(**config)
        self._qtest: Qtest | None = None
        self.kernel_info: dict = {}     # the key=value pairs of DOS64's ready line
        self.accel = None               # what QEMU really runs: "tcg" or "kvm"
        self.wire: Wire | None = None   # with wire=True: raw frames on the NIC's hub

    # -- starting -----------------------------------------------------------
    def start(self, timeout: float = 30.0) -> "Machine":
        """Launch QEMU and wait until DOS64 prints its ready line."""
        self._require_new()
        t0 = time.monotonic()
        kernel = str(kernel_image())
        link_fd = _link_end(self.config.link)             # the peer's segment: QEMU shares it
        pairs = [socket.socketpair() for _ in range(3)]   # (ours, QEMU's) for qmp, qtest, console
        if self.config.wire:                              # and raw frames (one per datagram)
            pairs.append(socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM))
        theirs = [b.fileno() for _, b in pairs]
        # guest RAM is a memory file QEMU and we both map: the driver's DMA buffers and
        # rings are read and written in place, as a DMA engine would (Qtest.share_ram)
        ram_fd = os.memfd_create("dos64lab-ram")
        try:
            os.ftruncate(ram_fd, self.config.memory_mib << 20)
            self._launch(self.config.argv(kernel, *theirs[:3],
                                          wire_fd=theirs[3] if self.config.wire else None,
                                          link_fd=link_fd, ram_fd=ram_fd),
                         pairs, inherit=(ram_fd,) if link_fd is None else (link_fd, ram_fd))
            ram = mmap.mmap(ram_fd, self.config.memory_mib << 20)
        finally:
            os.close(ram_fd)                    # the mappings keep the memory
        (qmp_sock, _), (qtest_sock, _), (con_sock, _) = pairs[:3]
        if self.config.wire:
            self.wire = Wire(pairs[3][0])
        self._console = SerialConsole(con_sock, on_dead=self._dead)
        self._qtest = Qtest(qtest_sock, on_dead=self._dead)
        try:
            self._qmp = QMP(qmp_sock, name=f"dos64lab-{self.proc.pid}", on_dead=self._dead,
                            before=self._qtest.sync)    # QMP sees every qtest write posted
            ready = self._console.expect(_READY, timeout)
            if ready.group(1) is None:
                raise MachineError("DOS64 panicked while booting")
        except Exception as err:
            self._launch_failed(err)
        except BaseException:                 # KeyboardInterrupt (Jupyter's Interrupt): stop QEMU
            self.close()
            raise
        self.kernel_info = dict(kv.split("=", 1) for kv in ready.group(1).decode().split())
        self._qtest.share_ram(ram, *self.dma_region)
        self.host_ports = self._read_hostfwd() if self.config.has_hostfwd else {}
        self.accel = "kvm" if self._qmp.execute("query-kvm")["enabled"] else "tcg"
        self.boot_seconds = time.monotonic() - t0
        log.info("machine %d ready in %.2f s (%s)", self.proc.pid, self.boot_seconds, self.accel)
        return self

    # -- using --------------------------------------------------------------
    @property
    def qtest(self) -> Qtest:
        """Port I/O, MMIO and guest RAM from outside the guest (qtest)."""
        self._require_started()
        return self._qtest

    @property
    def console(self) -> SerialConsole:
        """DOS64's serial console (COM1)."""
        self._require_started()
        return self._console

    @property
    def dma_region(self) -> tuple[int, int]:
        """(base, size) of the guest-physical memory DOS64 leaves to the lab."""
        self._require_started()
        return int(self.kernel_info["dma_base"], 16), int(self.kernel_info["dma_size"], 16)

    @property
    def virtio_path(self) -> str:
        return VIRTIO_PATH

    def run(self, command: str, timeout: float = 10.0) -> str:
        """Run a DOS64 shell command and return its output (PanicError if DOS64 panics)."""
        return self.console.run(command, timeout)

    def _channels(self) -> list:
        return [self._qmp, self._qtest, self._console, self.wire]

    def __repr__(self):
        return (f"<Machine pid={self.pid} {self._state()} virtio={self.config.virtio} "
                f"ports={self.host_ports}>")


def _link_end(link) -> int | None:
    """The descriptor of the machine's end of a ``Link`` (given a Link, or a LinuxPeer)."""
    if link is None:
        return None
    link = getattr(link, "link", link)
    if link is None or not hasattr(link, "fileno_for"):
        raise MachineError(f"link={link!r}: expected a LinuxPeer on a private segment or a Link")
    return link.fileno_for("machine")


def _kill(proc: subprocess.Popen, tmpdir: str) -> None:
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(tmpdir, ignore_errors=True)


def _death_reporter(proc: subprocess.Popen, stderr_path: str):
    """The channels' ``on_dead``: turns "channel closed" into why QEMU is gone.

    Holds the process, not the Machine, so the channels keep no cycle to it.
    """
    def dead(message: str) -> MachineError:
        try:
            code = proc.wait(5)
        except subprocess.TimeoutExpired:
            return MachineError(f"{message} (QEMU still runs)")
        try:
            with open(stderr_path, "rb") as f:
                stderr = f.read().decode(errors="replace")
        except OSError:                       # closed: the folder is gone
            stderr = ""
        return QemuExitedError(message, returncode=code, stderr=stderr)
    return dead


def _remove_stale_tmpdirs() -> None:
    """Remove the folders of owners that died without cleaning up (SIGKILL)."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), "dos64lab-*-*")):
        owner = os.path.basename(path).split("-")[1]
        if owner.isdigit() and not _process_exists(int(owner)):
            shutil.rmtree(path, ignore_errors=True)


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:                   # someone else's: alive
        pass
    return True


def _remove_tmpdirs_on_sigterm() -> None:
    """On SIGTERM (no atexit runs), remove our folders, then die of SIGTERM.

    Installed from the main thread and only over the default action: a handler
    that Jupyter or the user set stays in place.  QEMU itself dies by
    PR_SET_PDEATHSIG.  The handler takes no lock, so it cannot deadlock.
    """
    if (threading.current_thread() is threading.main_thread()
            and signal.getsignal(signal.SIGTERM) is signal.SIG_DFL):
        signal.signal(signal.SIGTERM, _on_sigterm)


def _on_sigterm(signum, frame):
    for m in list(_live):
        if m.tmpdir:
            shutil.rmtree(m.tmpdir, ignore_errors=True)
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def live_machines() -> list[Machine]:
    """Machines started in this process and not yet closed."""
    return [m for m in _live if isinstance(m, Machine) and m.is_running()]


@atexit.register
def _close_all():
    for m in list(_live):
        m.close()
