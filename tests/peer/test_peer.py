"""A Linux peer on its own: it boots Debian's kernel, its shell answers with output and exit
status, a command that hangs is interrupted, and on slirp with hostfwd the host reaches its
busybox httpd and telnetd on 127.0.0.1 -- as the benchmarks' Linux rows will."""

import os
import socket
import subprocess
import time

import pytest

from dos64lab.errors import ArgumentError, LaunchError, MachineError
from dos64lab.peer import LinuxPeer, PeerTimeout, RunResult


@pytest.fixture(scope="module")
def peer():
    with LinuxPeer(slirp=True) as p:
        print(f"peer booted in {p.boot_seconds:.2f} s")
        yield p


def test_the_peer_boots_debians_kernel_and_answers(peer):
    abi = peer.image.version.split()[0].removeprefix("linux-image-")
    assert peer.run("uname -r") == RunResult(abi + "\n", 0)
    assert peer.info == {"ip": "10.0.2.15/24", "mac": peer.mac, "kernel": abi}
    assert peer.mac == "52:54:0a:00:02:0f" and str(peer.address) == "10.0.2.15"
    assert 0 < peer.boot_seconds < 60


def test_exit_status_and_both_output_streams(peer):
    assert peer.run("false") == ("", 1) and not peer.run("false").ok
    out, status = peer.run("sh -c 'echo out; echo err >&2; exit 3'")
    assert (out, status) == ("out\nerr\n", 3)
    assert peer.run("printf no-newline") == ("no-newline", 0)
    assert peer.run("for i in 1 2 3; do echo $i; done | wc -l").output.strip() == "3"


def test_a_command_reads_nothing_from_the_console(peer):
    t0 = time.monotonic()
    assert peer.run("cat", timeout=5) == ("", 0)          # stdin is /dev/null
    assert time.monotonic() - t0 < 3


def test_a_command_that_runs_too_long_is_interrupted_with_a_clear_error(peer):
    t0 = time.monotonic()
    with pytest.raises(PeerTimeout, match=r"`sleep 30` did not finish within 1 s") as info:
        peer.run("sleep 30", timeout=1)
    assert isinstance(info.value, TimeoutError) and time.monotonic() - t0 < 3
    assert peer.run("echo still here") == ("still here\n", 0)      # Ctrl-C reached it
    assert peer.run("pidof sleep").status == 1                       # and the sleep is gone


@pytest.mark.parametrize("command", ["", "echo \x03", "echo é", "x" * 5000])
def test_a_command_must_be_one_printable_shell_text(peer, command):
    with pytest.raises(ArgumentError, match="run: command="):
        peer.run(command)


def test_httpd_answers_curl_on_the_host_through_hostfwd(peer):
    url = f"http://127.0.0.1:{peer.host_ports['http']}/"
    page = subprocess.run(["curl", "-sS", "--max-time", "10", url], capture_output=True,
                          text=True, timeout=20)
    assert page.returncode == 0, page.stderr
    assert "<h1>Linux peer</h1>" in page.stdout


def test_telnetd_gives_a_shell_through_hostfwd(peer):
    with socket.create_connection(("127.0.0.1", peer.host_ports["telnet"]), timeout=10) as s:
        s.settimeout(10)
        seen = s.recv(1024)
        assert seen[:1] == b"\xff"                       # IAC: telnet option negotiation
        s.sendall(b"echo telnet-$((6*7))\r\n")
        deadline = time.monotonic() + 10
        while b"telnet-42" not in seen and time.monotonic() < deadline:
            seen += s.recv(1024)
        assert b"telnet-42" in seen


def test_the_peer_reaches_slirp_and_nothing_beyond(peer):
    assert peer.run("ping -c 1 -W 5 10.0.2.2", timeout=10).ok      # slirp's own address
    assert "default via 10.0.2.2" in peer.run("ip route").output
    assert not peer.run("wget -q -T 3 -O - http://10.0.2.2:9/", timeout=10).ok   # restrict=on


def test_a_peer_says_when_it_is_not_started_or_closed():
    p = LinuxPeer()
    with pytest.raises(MachineError, match=r"peer not started: call start\(\)"):
        p.run("true")
    p.start()
    pid, tmpdir = p.pid, p.tmpdir
    assert p.is_running() and os.path.isdir(tmpdir)
    p.close()
    p.close()                                           # idempotent
    assert not p.is_running() and not os.path.exists(tmpdir)
    for use in (lambda: p.run("true"), lambda: p.qmp, lambda: p.console):
        with pytest.raises(MachineError, match="peer was closed"):
            use()
    with pytest.raises(MachineError, match="already started"):
        p.start()
    assert p.link.closed


def test_a_peer_that_cannot_boot_is_a_launch_error_with_context():
    with pytest.raises(LaunchError) as info:
        LinuxPeer(extra_args=("-no-such-option",)).start()
    err = info.value
    assert err.returncode not in (None, 0) and "-no-such-option" in err.stderr
    assert "QEMU exited before Linux was ready" in str(err) and "-initrd" in err.argv
