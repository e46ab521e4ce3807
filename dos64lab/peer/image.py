"""The Linux peer's boot files: Debian's cloud kernel and an initramfs with busybox, built once.

Two Debian packages make a whole Linux that boots in a few seconds under TCG
(QEMU-FACTS): ``linux-image-<abi>-cloud-amd64`` (the kernel and its virtio modules) and
``busybox-static`` (one static binary: shell, ``ip``, ``ping``, ``wget``, ``httpd``,
``telnetd``).  ``peer_image()`` fetches both with ``apt-get download`` (no root, nothing
installed), unpacks them with ``dpkg-deb -x`` and writes:

* ``vmlinuz``: the kernel, as Debian ships it;
* ``initrd.gz``: a gzip'd cpio archive (the "newc" format, written here in Python) with
  ``/init`` (the ``INIT`` script below), busybox, the virtio-net modules in load order,
  ``/dev/console`` and a small ``/www`` for ``httpd``.

Both live in a cache folder outside the repository: ``$DOS64LAB_PEER_CACHE``, else
``~/.cache/dos64lab/peer``, one sub-folder per kernel version and recipe
(``6.1.0-56-cloud-amd64_6.1.192-2-<hash>``), so a newer Debian kernel or a changed
``INIT`` builds a new image and an unchanged one is reused.  Which kernel is current comes
from apt's local lists (``apt-cache``): no network unless something must be downloaded.
"""

from __future__ import annotations

import contextlib
import fcntl
import gzip
import hashlib
import io
import json
import lzma
import os
import re
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from ..errors import LaunchError

__all__ = ["peer_image", "PeerImage", "ImageError", "cache_dir", "current_packages", "INIT"]

KERNEL_META = "linux-image-cloud-amd64"     # depends on the current linux-image-<abi>-cloud-amd64
BUSYBOX = "busybox-static"
#: what the peer needs from the kernel's modules (dependencies are found from each module)
MODULES = ("virtio_pci", "virtio_net")
APT_LISTS = "/var/lib/apt/lists"
DOWNLOAD_TIMEOUT = 300                      # seconds for apt-get download, in all

#: PID 1 of the peer.  Parameters come from the kernel command line: peer.ip=A.B.C.D/N and,
#: optionally, peer.gw=A.B.C.D.  The lab waits for the "PEER READY" line, then drives the
#: shell on the serial console (``LinuxPeer.run`` in peer.py).
INIT = r"""#!/bin/busybox sh
# /init of the lab's Linux peer: mount, load the NIC's driver, configure, serve, shell.
/bin/busybox --install -s /bin
export PATH=/bin HOME=/root PS1='peer:$PWD# '
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mkdir -p /dev/pts && mount -t devpts devpts /dev/pts
echo 1 > /proc/sys/kernel/printk        # kernel messages stay off the console the lab reads
for m in $(cat /etc/modules); do        # in dependency order: virtio_ring ... virtio_net
    insmod /lib/modules/$m.ko || echo "PEER FAILED: insmod $m"
done
for arg in $(cat /proc/cmdline); do
    case $arg in
        peer.ip=*) ip=${arg#peer.ip=} ;;
        peer.gw=*) gw=${arg#peer.gw=} ;;
    esac
done
hostname peer
ip link set lo up
ip addr add "$ip" dev eth0 && ip link set eth0 up || echo "PEER FAILED: eth0 $ip"
[ -n "$gw" ] && ip route add default via "$gw"
httpd -h /www -p 80
telnetd -l /bin/sh -p 23
cd /root
echo "PEER READY ip=$ip mac=$(cat /sys/class/net/eth0/address) kernel=$(uname -r)"
while :; do setsid cttyhack sh; done   # a shell on the console, with Ctrl-C; again if it exits
"""

INDEX_HTML = b"<html><body><h1>Linux peer</h1><p>busybox httpd on the lab's Linux peer.</p></body></html>\n"


class ImageError(LaunchError):
    """The peer's image could not be built: what failed, and what to do about it."""


@dataclass(frozen=True)
class PeerImage:
    kernel: Path            # vmlinuz
    initrd: Path            # initrd.gz
    version: str            # the kernel package and its Debian version
    modules: tuple          # loaded by /init, in this order


def cache_dir() -> Path:
    """Where peer images are kept: $DOS64LAB_PEER_CACHE, else ~/.cache/dos64lab/peer."""
    if os.environ.get("DOS64LAB_PEER_CACHE"):
        return Path(os.environ["DOS64LAB_PEER_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "dos64lab" / "peer"


def peer_image(progress=None) -> PeerImage:
    """The current image, built first if it is missing (``progress``: called with a line
    for each step of a build, e.g. ``print``)."""
    say = progress or (lambda line: None)
    kernel_pkg, versions = current_packages(say)
    recipe = hashlib.sha256(f"{INIT}{INDEX_HTML!r}{MODULES}{versions}".encode()).hexdigest()[:10]
    abi = kernel_pkg.removeprefix("linux-image-")
    folder = cache_dir() / f"{abi}_{versions[kernel_pkg]}-{recipe}"
    if not (folder / "initrd.gz").is_file():
        with _locked():                                       # one build at a time (pytest -n 2)
            if not (folder / "initrd.gz").is_file():
                _build(folder, kernel_pkg, versions, say)
    modules = tuple((folder / "modules").read_text().split())
    return PeerImage(folder / "vmlinuz", folder / "initrd.gz",
                     f"{kernel_pkg} {versions[kernel_pkg]}", modules)


@contextlib.contextmanager
def _locked():
    cache_dir().mkdir(parents=True, exist_ok=True)
    with open(cache_dir() / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


# -- what is current: apt's local lists -------------------------------------------------
def current_packages(progress=None) -> tuple[str, dict]:
    """The kernel package ``linux-image-cloud-amd64`` depends on, and the versions apt would
    download: ``("linux-image-6.1.0-56-cloud-amd64", {package: version})``.

    Asking ``apt-cache`` takes seconds here (Docker-style images keep no package cache),
    so the answer is kept beside the images until apt's lists change (``apt-get update``).
    When apt's lists do not know the packages (a fresh container has none), root runs
    ``apt-get update`` once; anyone else is told to.
    """
    memo = cache_dir() / "current.json"
    try:
        kept = json.loads(memo.read_text())
        if kept["lists"] == _lists_stamp():
            return kept["kernel"], kept["versions"]
    except (OSError, ValueError, KeyError):
        pass
    try:
        kernel, versions = _ask_apt()
    except ImageError:
        if os.geteuid() != 0:
            raise
        (progress or (lambda line: None))("peer image: apt does not know the packages; "
                                          "running apt-get update")
        _run(["apt-get", "update", "-qq"], "is the Debian mirror reachable?", DOWNLOAD_TIMEOUT)
        kernel, versions = _ask_apt()
    cache_dir().mkdir(parents=True, exist_ok=True)
    tmp = memo.with_suffix(f".{os.getpid()}")
    tmp.write_text(json.dumps({"lists": _lists_stamp(), "kernel": kernel, "versions": versions}))
    tmp.replace(memo)
    return kernel, versions


def _lists_stamp() -> str:
    lists = Path(APT_LISTS)
    seen = sorted((p.name, p.stat().st_mtime_ns) for p in lists.iterdir()) if lists.is_dir() else []
    return hashlib.sha256(repr(seen).encode()).hexdigest()


def _ask_apt() -> tuple[str, dict]:
    out = _run(["apt-cache", "show", "--no-all-versions", KERNEL_META, BUSYBOX],
               "if a package is not found, run `apt-get update` (as root) first")
    stanzas = [dict(re.findall(r"^([\w-]+): (.*)$", text, re.M)) for text in out.split("\n\n")]
    fields = {s["Package"]: s for s in stanzas if "Package" in s}
    kernel = re.search(r"(linux-image-\S+-cloud-amd64) \(= (\S+)\)",
                       fields.get(KERNEL_META, {}).get("Depends", ""))
    if not kernel or BUSYBOX not in fields:
        raise ImageError(f"apt-cache does not name a linux-image-*-cloud-amd64 and {BUSYBOX}; "
                         f"run `apt-get update` (as root) first:\n{out.strip()}")
    return kernel.group(1), {kernel.group(1): kernel.group(2), BUSYBOX: fields[BUSYBOX]["Version"]}


def _run(args, hint: str, timeout: float = 60, cwd=None) -> str:
    """Run a tool; an ImageError that says what failed, what it printed, and ``hint``."""
    try:
        done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, cwd=cwd)
    except FileNotFoundError as err:
        raise ImageError(f"{args[0]} not found: the Linux peer is built from Debian packages "
                         "with apt and dpkg (Debian or Ubuntu)") from err
    except subprocess.TimeoutExpired as err:
        raise ImageError(f"`{' '.join(args)}` took more than {timeout} s: {hint}") from err
    if done.returncode:
        raise ImageError(f"`{' '.join(args)}` failed (exit {done.returncode}): {hint}\n"
                         f"{(done.stderr or done.stdout).strip()}")
    return done.stdout


# -- the build ------------------------------------------------------------------------
def _build(folder: Path, kernel_pkg: str, versions: dict, say) -> None:
    t0 = time.monotonic()
    debs = cache_dir() / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    missing = [f"{pkg}={version}" for pkg, version in versions.items()
               if not _deb(debs, pkg, version)]
    if missing:
        say(f"peer image: downloading {', '.join(missing)} (about 28 MB, once) into {debs}")
        sandbox = ["-o", "APT::Sandbox::User=root"] if os.geteuid() == 0 else []
        with tempfile.TemporaryDirectory(dir=debs) as tmp:
            _run(["apt-get", "download", "-q", "-o", "Acquire::Retries=2",
                  "-o", "Acquire::http::Timeout=30", *sandbox, *missing],
                 "is the Debian mirror reachable?", DOWNLOAD_TIMEOUT, cwd=tmp)
            for deb in Path(tmp).glob("*.deb"):
                deb.rename(debs / deb.name)
    say(f"peer image: unpacking and writing the initramfs into {folder}")
    with tempfile.TemporaryDirectory(dir=folder.parent) as tmp:
        tmp = Path(tmp)
        for pkg, version in versions.items():
            deb = _deb(debs, pkg, version)
            if deb is None:
                raise ImageError(f"apt-get download left no {pkg}_{version}_*.deb in {debs}")
            _run(["dpkg-deb", "-x", str(deb), str(tmp / "root")], "a damaged download? "
                 f"remove {deb} and try again", 120)
        root = tmp / "root"
        abi = kernel_pkg.removeprefix("linux-image-")
        vmlinuz = root / "boot" / f"vmlinuz-{abi}"
        busybox = root / "bin" / "busybox"
        for need in (vmlinuz, busybox):
            if not need.is_file():
                raise ImageError(f"{need.relative_to(root)} is not in the packages' files")
        modules = _modules_in_load_order(root / "lib" / "modules" / abi, MODULES)
        out = tmp / "out"
        out.mkdir()
        shutil.copy(vmlinuz, out / "vmlinuz")
        (out / "modules").write_text(" ".join(name for name, _ in modules) + "\n")
        (out / "initrd.gz").write_bytes(_initramfs(busybox.read_bytes(), modules))
        if folder.exists():                     # a half-built folder from an earlier failure
            shutil.rmtree(folder)
        out.rename(folder)                      # complete, or not there at all
    # Remove what an older kernel or busybox left; other recipes of this kernel stay
    # (another checkout of the lab may boot one right now).
    keep = [_deb(debs, pkg, v) for pkg, v in versions.items()]
    kernel = f"{kernel_pkg.removeprefix('linux-image-')}_{versions[kernel_pkg]}-"
    for old in [*debs.glob("*.deb"), *folder.parent.glob("*-cloud-amd64_*")]:
        if old not in keep and not old.name.startswith(kernel):
            if old.is_dir():
                shutil.rmtree(old, ignore_errors=True)
            else:
                old.unlink(missing_ok=True)
    size = sum(p.stat().st_size for p in folder.iterdir()) / 2**20
    say(f"peer image: ready in {time.monotonic() - t0:.1f} s ({size:.1f} MiB): {folder}")


def _deb(folder: Path, package: str, version: str) -> Path | None:
    quoted = version.replace(":", "%3a")     # apt-get download's file name for an epoch
    return next(folder.glob(f"{package}_{quoted}_*.deb"), None)


def _modules_in_load_order(moddir: Path, wanted) -> list[tuple[str, bytes]]:
    """[(name, module bytes)], each after what it depends on (the ``depends=`` in its
    .modinfo section), uncompressed: ``insmod`` does not resolve dependencies itself."""
    files = {}
    for path in moddir.rglob("*.ko*"):
        name = path.name.split(".ko")[0].replace("-", "_")
        files[name] = path
    ordered, loaded = [], set()

    def load(name):
        if name in loaded:
            return
        if name not in files:
            raise ImageError(f"module {name} is not in {moddir}")
        data = _read_module(files[name])
        found = re.search(rb"(?:^|\0)depends=([^\0]*)\0", data)
        for dep in filter(None, (found.group(1).decode().split(",") if found else [])):
            load(dep.replace("-", "_"))
        loaded.add(name)
        ordered.append((name, data))

    for name in wanted:
        load(name)
    return ordered


def _read_module(path: Path) -> bytes:
    if path.suffix == ".xz":
        return lzma.decompress(path.read_bytes())
    if path.suffix == ".zst":
        return subprocess.run(["zstd", "-dc", str(path)], capture_output=True, check=True,
                              timeout=60).stdout
    return path.read_bytes()


def _initramfs(busybox: bytes, modules) -> bytes:
    """The initramfs: a gzip'd cpio "newc" archive (Linux's
    Documentation/driver-api/early-userspace/buffer-format.rst)."""
    archive = Cpio()
    for d in ("bin", "dev", "etc", "lib", "lib/modules", "proc", "root", "sys", "tmp", "www"):
        archive.add(d, 0o040755)
    archive.add("dev/console", 0o020600, rdev=(5, 1))   # init's stdio before devtmpfs is up
    archive.add("init", 0o100755, INIT.encode())
    archive.add("bin/busybox", 0o100755, busybox)
    for name, data in modules:
        archive.add(f"lib/modules/{name}.ko", 0o100644, data)
    archive.add("etc/modules", 0o100644, "\n".join(name for name, _ in modules).encode() + b"\n")
    archive.add("www/index.html", 0o100644, INDEX_HTML)
    return gzip.compress(archive.finish(), compresslevel=6, mtime=0)


class Cpio:
    """A cpio archive in the "newc" format: per file a 110-byte ASCII header (magic
    070701, then 13 eight-digit hex fields), the name, the data, each padded to 4 bytes."""

    def __init__(self):
        self._out = io.BytesIO()
        self._ino = 0

    def add(self, name: str, mode: int, data: bytes = b"", rdev=(0, 0)) -> None:
        self._ino += 1
        fields = (self._ino, mode, 0, 0, 2 if mode & 0o040000 else 1, 0, len(data),
                  0, 0, rdev[0], rdev[1], len(name) + 1, 0)
        # ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
        self._out.write(b"070701" + b"".join(b"%08X" % f for f in fields))
        self._write_padded(name.encode() + b"\0")
        self._write_padded(data)

    def _write_padded(self, data: bytes) -> None:
        self._out.write(data + b"\0" * (-(self._out.tell() + len(data)) % 4))

    def finish(self) -> bytes:
        self.add("TRAILER!!!", 0)
        return self._out.getvalue()
