"""A new user on a bare Debian 12: the README's commands set everything up by themselves.

A minimal Debian 12 root made with ``debootstrap --variant=minbase`` (nothing but
the host's apt sources, apt settings, pip settings, CA certificates and resolv.conf
copied in, as any chroot build does), in which:

1. as root, the README's bare-machine line (``apt-get install -y git make``);
2. as a user without sudo, before any package is there: ``make test`` stops at once
   with ONE message naming every missing package (python3-venv among them) and the
   apt-get command that installs them;
3. as root, ``make test`` in a clone: set-up installs every package itself (the same
   list), builds .venv and the kernel, and the inner suite passes. The inner run
   gets ``PYTEST_ADDOPTS='-m "not fresh_debian" <SMOKE>'``: it does not run this test
   again, and it runs the files in ``SMOKE`` -- one or more for every tool set-up
   installs (QEMU, tshark, dnsmasq, curl, telnet, JupyterLab, nbval, Chromium, npm) -- rather than the
   whole suite a second time, which would double CI's time as the suite grows;
   and a network namespace of its own (slirp4netns: the mirrors, but a loopback of
   its own), so its servers on 127.0.0.1 never meet the outer suite's;
4. a .venv whose pip is gone (a set-up that stopped half-way) is rebuilt by the next
   ``make setup``, which says so.

What is tested is the committed HEAD of the repository the suite runs from (a
bare clone of it is copied in): CI runs on a clean clone of main, so that is main.
Uncommitted changes are not seen here.

Only the debootstrapped base system is cached between runs
(``~/.cache/dos64lab/debootstrap/``, refreshed weekly); the project's own set-up
never is. Every step runs in fresh mount and PID namespaces (``unshare``): the
mounts (proc, sys, dev) vanish with the step and the kernel kills whatever the
step left running, QEMU included; a sweep of /proc/*/root checks it. The log of
every step is in the test's tmp dir; failures show its tail.
"""

import os
import re
import shlex
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUITE = "bookworm"
CACHE = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "dos64lab" / "debootstrap"
CACHE_DAYS = 7
INNER_MARKER = "fresh_debian"
#: what the inner run tests: every tool set-up installs is used by at least one of these
SMOKE = ("tests/test_setup_packages.py", "tests/test_machine.py", "tests/hw/test_virtio.py",
         "tests/phy/test_pcap.py", "tests/stack/test_live_dhcp_dns.py",
         "tests/services/test_http_live.py", "tests/services/test_telnet_live.py",
         "tests/test_lab.py", "notebooks/00-welcome.ipynb",
         "tests/classroom/test_browser.py::test_run_all_in_chromium_then_save_and_reopen[00-welcome]",
         "tests/classroom/test_jupyterhub.py")                 # Chromium; npm's proxy
LEARNER = "learner"
PATH_ROOT = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
PATH_USER = "/usr/local/bin:/usr/bin:/bin"      # Debian's for a user: no sbin

pytestmark = pytest.mark.fresh_debian


# --- the host's ways out, copied in -------------------------------------------------

def apt_source_files() -> list[Path]:
    """The host's active apt sources (apt reads only *.list and *.sources)."""
    files = [Path("/etc/apt/sources.list")]
    d = Path("/etc/apt/sources.list.d")
    if d.is_dir():
        files += sorted(p for p in d.iterdir() if p.suffix in (".list", ".sources"))
    return [p for p in files if p.is_file()]


def debian_mirror() -> str:
    """The URI the host's sources use for Debian's main archive (for debootstrap)."""
    for f in apt_source_files():
        text = f.read_text()
        if f.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                uris = re.search(r"^URIs:\s*(.+)$", stanza, re.M)
                suites = re.search(r"^Suites:\s*(.+)$", stanza, re.M)
                if uris and suites and SUITE in suites.group(1).split():
                    return uris.group(1).split()[0]
        else:
            for line in text.splitlines():
                m = re.match(r"\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if m and m.group(2) == SUITE:
                    return m.group(1)
    return "http://deb.debian.org/debian"


def pip_config_files() -> list[Path]:
    home = Path.home()
    found = [Path("/etc/pip.conf"), home / ".config/pip/pip.conf", home / ".pip/pip.conf"]
    if os.environ.get("PIP_CONFIG_FILE"):
        found.append(Path(os.environ["PIP_CONFIG_FILE"]))
    found += sorted(Path("/etc/xdg/pip").glob("*")) if Path("/etc/xdg/pip").is_dir() else []
    return [p for p in found if p.is_file()]


def pip_env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k.startswith("PIP_")}


def local_package_dirs() -> list[Path]:
    """Local package mirrors that pip's settings name (file:// indexes, find-links):
    bound read-only at the same place inside, so pip there reaches what pip here does."""
    text = "\n".join(p.read_text(errors="replace") for p in pip_config_files())
    text += "\n" + "\n".join(pip_env().values())
    dirs = set()
    for m in re.finditer(r"(?:file://)?(/[^\s'\",;]+)", text):
        parts = Path(m.group(1)).parts
        if len(parts) >= 3 and parts[1] in ("opt", "srv", "mnt", "data"):
            dirs.add(Path(*parts[:3]))
    return sorted(d for d in dirs if d.is_dir())


def copy_file(src: Path, root: Path, dest: str | None = None) -> None:
    target = root / (dest or str(src)).lstrip("/")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    shutil.copyfile(src, target)      # follows symlinks (resolv.conf often is one)


def copy_host_settings(root: Path) -> None:
    """apt sources and settings, keyrings they name, CA certificates, resolv.conf, pip."""
    (root / "etc/apt/sources.list").unlink(missing_ok=True)   # debootstrap's own
    for f in apt_source_files():
        copy_file(f, root)
        for key in re.findall(r"(?:Signed-By:|signed-by=)\s*(/\S+?)(?:[\]\s]|$)", f.read_text()):
            if Path(key).is_file() and not (root / key.lstrip("/")).exists():
                copy_file(Path(key), root)
    for f in sorted(Path("/etc/apt/trusted.gpg.d").glob("*")):
        if f.is_file() and not (root / str(f).lstrip("/")).exists():
            copy_file(f, root)
    if Path("/etc/apt/apt.conf").is_file():
        copy_file(Path("/etc/apt/apt.conf"), root)
    for f in sorted(Path("/etc/apt/apt.conf.d").glob("*")):
        text = f.read_text(errors="replace") if f.is_file() else ""
        # how apt reaches the archive (proxy, validity), not the host's hooks
        if "Acquire::" in text and "Invoke" not in text:
            copy_file(f, root)
    bundle = Path("/etc/ssl/certs/ca-certificates.crt")
    if bundle.is_file():
        # the host's CAs, its local ones included: in the bundle for now, and where
        # update-ca-certificates (run when apt installs ca-certificates) takes them from
        copy_file(bundle, root)
        copy_file(bundle, root, "/usr/local/share/ca-certificates/host-ca-bundle.crt")
    copy_file(Path("/etc/resolv.conf"), root)
    home = Path.home()
    for f in pip_config_files():
        dest = str(f)
        if f.is_relative_to(home):          # the user's pip.conf: root's inside
            dest = "/root/" + str(f.relative_to(home))
        copy_file(f, root, dest)


# --- the base system, cached --------------------------------------------------------

def base_tarball(log) -> Path:
    mirror = debian_mirror()
    slug = re.sub(r"[^\w.-]+", "_", mirror.split("://")[-1]).strip("_")
    tarball = CACHE / f"{SUITE}-minbase-{slug}.tar.gz"
    if tarball.exists() and time.time() - tarball.stat().st_mtime < CACHE_DAYS * 86400:
        log(f"base system from the cache: {tarball}")
        return tarball
    CACHE.mkdir(parents=True, exist_ok=True)
    work = CACHE / f"build-{os.getpid()}"
    shutil.rmtree(work, ignore_errors=True)
    try:
        log(f"debootstrap --variant=minbase {SUITE} from {mirror}")
        # in namespaces of its own, like every step: what it mounts in the target goes with it
        run_host([*UNSHARE, shutil.which("debootstrap") or "/usr/sbin/debootstrap",
                  "--variant=minbase", SUITE, str(work / "root"), mirror], log, timeout=600)
        tmp = tarball.with_suffix(f".tmp{os.getpid()}")
        run_host(["tar", "--numeric-owner", "-C", str(work / "root"), "-czf", str(tmp), "."],
                 log, timeout=300)
        tmp.replace(tarball)
    finally:
        rm_root(work / "root", log)
        shutil.rmtree(work, ignore_errors=True)
    return tarball


# --- running things --------------------------------------------------------------------

class Log:
    def __init__(self, path: Path):
        self.path = path
        self.t0 = time.monotonic()

    def __call__(self, msg: str) -> None:
        with self.path.open("a") as f:
            f.write(f"[{time.monotonic() - self.t0:7.1f}s] {msg}\n")

    def output(self, text: str) -> None:
        with self.path.open("a") as f:
            f.write(text if text.endswith("\n") or not text else text + "\n")

    def tail(self, n: int = 60) -> str:
        lines = self.path.read_text(errors="replace").splitlines()
        return f"--- last {n} lines of {self.path} ---\n" + "\n".join(lines[-n:])


def run_host(argv, log, timeout) -> str:
    log("$ " + shlex.join(argv))
    p = subprocess.run(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, errors="replace", timeout=timeout)
    log.output(p.stdout)
    assert p.returncode == 0, f"{argv[0]} exited {p.returncode}\n{log.tail()}"
    return p.stdout


UNSHARE = ["unshare", "--mount", "--propagation", "private", "--pid", "--fork", "--kill-child", "--"]

# Inside fresh mount and PID namespaces: mount what a chroot needs, then exec the
# step there. When the step's first process ends, the kernel kills the rest and
# the namespace's mounts go with it.
ENTER = r"""
set -e
R=$1; USERSPEC=$2; shift 2
mount -t proc proc "$R/proc"
mount -t sysfs sysfs "$R/sys"
mount --rbind /dev "$R/dev"
for d in $RO_BINDS; do mkdir -p "$R$d"; mount --bind -o ro "$d" "$R$d"; done
if [ -n "$OWN_NETWORK" ]; then     # wait for slirp4netns's default route
  for _ in $(seq 300); do grep -q '^tap0\s00000000' /proc/net/route && break; sleep 0.1; done
  grep -q '^tap0\s00000000' /proc/net/route || { echo "no network in the namespace" >&2; exit 1; }
fi
exec chroot ${USERSPEC:+--userspec=$USERSPEC} "$R" "$@"
"""


def processes_in(root: Path) -> list[int]:
    found = []
    for p in Path("/proc").glob("[0-9]*"):
        try:
            if os.readlink(p / "root") == str(root):
                found.append(int(p.name))
        except OSError:
            continue
    return found


def sweep(root: Path, log) -> list[int]:
    """Kill (and report) any process still inside the root: there should be none."""
    left = processes_in(root)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if left:
        log(f"killed processes left inside the root: {left}")
    return left


def mounts_under(root: Path) -> list[str]:
    return [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()
            if line.split()[4].startswith(str(root))]


def rm_root(root: Path, log) -> None:
    if not root.exists():
        return
    sweep(root, log)
    assert not mounts_under(root), f"mounts left under {root}: {mounts_under(root)}"
    subprocess.run(["rm", "-rf", "--one-file-system", str(root)], timeout=300)


class Fresh:
    """A minimal Debian 12 root, and a way to run a step in it as root or the learner."""

    def __init__(self, root: Path, log: Log):
        self.root, self.log = root, log
        self.ro_binds = " ".join(str(d) for d in local_package_dirs())

    def run(self, script: str, *, timeout: float, user: str = "root",
            env: dict[str, str] | None = None, own_network: bool = False) -> tuple[int, str]:
        home = "/root" if user == "root" else f"/home/{user}"
        inner_env = {"HOME": home, "USER": user, "LOGNAME": user, "LANG": "C.UTF-8",
                     "PATH": PATH_ROOT if user == "root" else PATH_USER, **pip_env(),
                     **({"CI": os.environ["CI"]} if "CI" in os.environ else {}), **(env or {})}
        argv = [*UNSHARE[:1], *(["--net"] if own_network else []), *UNSHARE[1:],
                "bash", "-c", ENTER, "enter", str(self.root),
                "" if user == "root" else f"{user}:{user}",
                "/usr/bin/env", "-i", *(f"{k}={v}" for k, v in inner_env.items()),
                "bash", "-c", f"cd ~ && {script}"]
        self.log(f"[{user}] $ {script}")
        t0 = time.monotonic()
        host_env = {**os.environ, "RO_BINDS": self.ro_binds,
                    "OWN_NETWORK": "1" if own_network else ""}
        slirp = None
        with subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True, errors="replace",
                              env=host_env) as p:
            try:
                if own_network:
                    slirp = self.connect(p.pid)
                out, _ = p.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
                self.log.output(out or "")
                self.log(f"timed out after {timeout} s")
                sweep(self.root, self.log)
                raise AssertionError(f"step timed out after {timeout} s: {script}\n{self.log.tail()}")
            finally:
                if p.poll() is None:
                    p.kill()
                if slirp is not None:
                    slirp.terminate()
                    slirp.wait(10)
        self.log.output(out)
        self.log(f"exit {p.returncode} after {time.monotonic() - t0:.1f} s")
        left = sweep(self.root, self.log)
        assert not left, f"processes outlived the step: {left}\n{self.log.tail()}"
        return p.returncode, out

    def connect(self, pid: int) -> subprocess.Popen:
        """slirp4netns: the network namespace of unshare's `pid` reaches out as the host does
        (NAT, DNS), with a loopback of its own (--disable-host-loopback)."""
        mine, deadline = os.readlink("/proc/self/ns/net"), time.monotonic() + 10
        while os.readlink(f"/proc/{pid}/ns/net") == mine:
            assert time.monotonic() < deadline, "unshare made no network namespace"
            time.sleep(0.01)
        self.log(f"slirp4netns for the namespace of {pid}")
        with self.log.path.open("a") as f:
            return subprocess.Popen(["slirp4netns", "--configure", "--mtu=65520",
                                     "--disable-host-loopback", str(pid), "tap0"],
                                    stdin=subprocess.DEVNULL, stdout=f, stderr=f)

    def ok(self, script: str, **kw) -> str:
        rc, out = self.run(script, **kw)
        assert rc == 0, f"exit {rc}: {script}\n{self.log.tail()}"
        return out


def committed(commit: str, path: str) -> str:
    """A file as the commit under test has it (the work tree may differ)."""
    return subprocess.run(["git", "-C", str(ROOT), "show", f"{commit}:{path}"],
                          capture_output=True, text=True, timeout=30, check=True).stdout


def readme_prerequisites(commit: str) -> str:
    """The README's line for a bare machine, before its two commands."""
    section = committed(commit, "README.md").split("## Two commands", 1)[1].split("\n## ", 1)[0]
    cmds = re.findall(r"`([^`]*apt-get[^`]*install[^`]*)`", section)
    assert len(cmds) == 1, f"the README's Two commands section should give one apt-get line: {cmds}"
    assert "make test" in section
    return cmds[0]


def apt_txt(commit: str) -> list[str]:
    """What set-up may install (tests/test_setup_packages.py: the same as its table)."""
    lines = committed(commit, "apt.txt").splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]


def plain(text: str) -> str:
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


# --- the test ------------------------------------------------------------------------

@pytest.mark.timeout(1500)
def test_a_bare_debian_12_sets_itself_up_and_passes(tmp_path):
    log = Log(tmp_path / "fresh-debian.log")
    root = tmp_path / "root"
    t0 = time.monotonic()
    try:
        tarball = base_tarball(log)
        root.mkdir()
        run_host(["tar", "--numeric-owner", "-C", str(root), "-xzf", str(tarball)], log, timeout=300)
        copy_host_settings(root)
        origin = root / "srv/dos64lab.git"      # HEAD of the repository the suite runs from
        run_host(["git", "clone", "-q", "--bare", "--no-local", "--single-branch", str(ROOT),
                  str(origin)], log, timeout=120)
        head = run_host(["git", "-C", str(origin), "rev-parse", "HEAD"], log, timeout=30).strip()
        fresh = Fresh(root, log)

        # 1. what the README asks of a bare machine, as root
        fresh.ok(readme_prerequisites(head), timeout=300)
        fresh.ok(f"useradd -m {LEARNER} && ! command -v sudo"
                 f" && cp -a /srv/dos64lab.git /srv/{LEARNER}.git"
                 f" && chown -R {LEARNER}: /srv/{LEARNER}.git", timeout=60)
        packages = apt_txt(head)
        absent = fresh.ok("for p in " + " ".join(packages) +
                          "; do dpkg -s $p >/dev/null 2>&1 || echo $p; done", timeout=60).split()
        assert "python3-venv" in absent and "python3" in absent, absent

        # 2. a user without sudo, before the packages exist: one message names them all
        rc, out = fresh.run(f"git clone -q /srv/{LEARNER}.git dos64lab && cd dos64lab"
                            f" && test $(git rev-parse HEAD) = {head} && make test",
                            user=LEARNER, timeout=120)
        out = plain(out)
        assert rc != 0, f"make test as a user without sudo should stop\n{log.tail()}"
        errors = [m for m in re.split(r"(?=\[setup\] error:)", out) if m.startswith("[setup] error:")]
        assert len(errors) == 1, f"one message expected, got {len(errors)}\n{log.tail()}"
        named = [ln for ln in errors[0].splitlines() if "apt-get install" in ln]
        assert named, f"the message gives no apt-get command\n{log.tail()}"
        told = set(named[0].split("apt-get install", 1)[1].split(")")[0].split()) - {"-y"}
        assert told == set(absent), f"the message names {sorted(told)}; missing are {sorted(absent)}"
        for pkg in absent:
            assert re.search(rf"(?<![\w.-]){re.escape(pkg)}(?![\w.-])", errors[0].splitlines()[0]), pkg

        # 3. as root, the README's test command sets everything up itself and passes
        rc, out = fresh.run(f"git clone -q /srv/dos64lab.git dos64lab && cd dos64lab"
                            f" && test $(git rev-parse HEAD) = {head} && make test",
                            timeout=1000,
                            env={"PYTEST_ADDOPTS": f'-m "not {INNER_MARKER}" ' + " ".join(SMOKE)},
                            own_network=True)
        out = plain(out)
        assert rc == 0, f"make test in the fresh root exited {rc}\n{log.tail()}"
        installing = re.search(r"\[setup\] installing Debian packages: (.*)", out)
        assert installing, f"set-up installed no packages itself\n{log.tail()}"
        assert set(installing.group(1).split()) == set(told), "root installed another list than the user was told"
        summary = [ln for ln in out.splitlines() if re.search(r"=+ .*\d+ passed.* in [\d.]+s", ln)]
        assert summary and not re.search(r"\d+ (failed|error)", summary[-1]), \
            f"no clean pytest summary inside\n{log.tail()}"
        fresh.ok("cd dos64lab && dpkg -s " + " ".join(packages) + " >/dev/null"
                 " && .venv/bin/python -m pip --version && test -s kernel/build/dos64.elf"
                 # the inner run left this test out: it made no root of its own
                 " && test -z \"$(find /tmp -name fresh-debian.log)\"", timeout=60)

        # 4. a .venv without pip (a set-up stopped half-way) is rebuilt, and says so
        out = plain(fresh.ok("cd dos64lab && rm -rf .venv/lib/python3*/site-packages/pip"
                             " && ! .venv/bin/python -m pip --version 2>/dev/null"
                             " && make setup && .venv/bin/python -m pip --version"
                             " && .venv/bin/python -c 'import dos64lab, pytest'", timeout=600))
        assert "rebuilding .venv" in out, f"no word of the rebuild\n{log.tail()}"
        assert "installing Debian packages" not in out
    finally:
        try:
            rm_root(root, log)
        finally:
            log(f"done in {time.monotonic() - t0:.0f} s")
