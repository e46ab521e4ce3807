"""`dos64lab serve`, `httpd` and `netstat` run as a user runs them: subprocesses, reached from
the host with Debian's curl, a raw telnet socket and UDP (the --wire relay).

Each serve runs in a state directory of its own (XDG_RUNTIME_DIR), so netstat finds this
test's serve and no one else's.  Every serve is stopped with SIGTERM and must exit 0, its
QEMU gone and its state file removed.
"""

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import ROOT, dos64lab, pid_alive
from dos64lab.services.status import check_shape

pytestmark = pytest.mark.timeout(180)


class Serve:
    """A `dos64lab serve ... --json` (or httpd) subprocess and the JSON line it printed."""

    def __init__(self, *args, state_dir):
        self.env = {**os.environ, "XDG_RUNTIME_DIR": str(state_dir),
                    "PYTHONPATH": str(ROOT)}
        self.proc = subprocess.Popen([sys.executable, "-m", "dos64lab.cli", *args, "--json"],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=self.env, start_new_session=True)
        self.info = None
        try:
            self.info = json.loads(self._line(timeout=90))
        except BaseException:
            self.stop()
            raise

    def _line(self, timeout: float) -> bytes:
        data, deadline = b"", time.monotonic() + timeout
        while b"\n" not in data and time.monotonic() < deadline:
            if select.select([self.proc.stdout], [], [], 0.2)[0]:
                chunk = os.read(self.proc.stdout.fileno(), 4096)
                if not chunk:
                    break
                data += chunk
        assert b"\n" in data, f"no JSON line: {data!r}, stderr {self._stderr()!r}"
        return data.split(b"\n")[0]

    def _stderr(self) -> str:
        if self.proc.poll() is None:
            return "(still running)"
        return self.proc.stderr.read().decode(errors="replace")

    def stop(self) -> tuple[int, str]:
        """SIGTERM; its exit status and what it said on stderr."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            code = self.proc.wait(10)
        stderr = self.proc.stderr.read().decode(errors="replace")
        self.proc.stdout.close()
        self.proc.stderr.close()
        return code, stderr

    def check_stopped_cleanly(self):
        code, stderr = self.stop()
        assert code == 0, stderr
        assert "Traceback" not in stderr, stderr
        deadline = time.monotonic() + 5
        while pid_alive(self.info["qemu_pid"]) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not pid_alive(self.info["qemu_pid"]), "QEMU outlived dos64lab serve"
        assert not list(self.state_files()), "the state file was left behind"
        return stderr

    def state_files(self):
        return (f for f in os.listdir(self.env["XDG_RUNTIME_DIR"])
                if f.startswith("dos64lab-serve-"))


def curl(*args) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "15", *args], capture_output=True,
                          timeout=20)


@pytest.fixture(scope="module")
def serve(tmp_path_factory):
    s = Serve("serve", "--wire", "127.0.0.1:0", state_dir=tmp_path_factory.mktemp("run"))
    yield s
    s.check_stopped_cleanly()


def test_one_json_line_names_the_ports(serve):
    info = serve.info
    assert {"http", "telnet", "pid", "qemu_pid", "status_url", "wire"} <= info.keys()
    assert info["http"] != info["telnet"] and all(0 < info[k] < 65536 for k in ("http", "telnet"))
    for name, seed in (("http", 8080), ("telnet", 2323)):      # the seed's port, or a note why not
        assert info[name] == seed or any(str(seed) in n for n in info["notes"]), info
    assert info["mode"] == "python" and info["address"] == "10.0.2.15/24"
    assert list(serve.state_files()) == [f"dos64lab-serve-{info['pid']}.json"]


def test_curl_gets_the_page_and_the_status_api(serve):
    page = curl("-i", f"http://127.0.0.1:{serve.info['http']}/")
    assert page.returncode == 0, page.stderr
    assert page.stdout.startswith(b"HTTP/1.1 200") and b"<html" in page.stdout.lower()
    api = curl(f"http://localhost:{serve.info['http']}/api/status")
    assert api.returncode == 0, api.stderr
    doc = json.loads(api.stdout)
    assert check_shape(doc) == []
    assert doc["interface"]["address"] == "10.0.2.15/24" and doc["dhcp"]["state"] == "BOUND"


def test_telnet_answers_ver(serve):
    with socket.create_connection(("127.0.0.1", serve.info["telnet"]), timeout=10) as s:
        seen, deadline = b"", time.monotonic() + 20
        sent = False
        while b"DOS64 Version" not in seen and time.monotonic() < deadline:
            if not sent and b"C:\\>" in seen:           # a fresh prompt: type
                s.sendall(b"VER\r\n")
                sent = True
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            if not chunk:
                break
            seen += chunk
    assert b"\xff\xfb\x01" in seen, "no IAC WILL ECHO"
    assert b"DOS64 Version 0.1.0" in seen, seen


def test_netstat_lists_the_listening_sockets(serve):
    out = dos64lab("netstat", "--json", env=serve.env, timeout=30)
    assert out.returncode == 0, out.stderr
    shown = json.loads(out.stdout)
    listening = {s["local"] for s in shown["sockets"] if s["proto"] == "tcp" and s["state"] == "LISTEN"}
    assert listening == {"*:80", "*:23"}
    assert shown["counters"]["interface"]["tcp_rx"] > 0
    text = dos64lab("netstat", "--url", f"127.0.0.1:{serve.info['http']}", env=serve.env, timeout=30)
    assert text.returncode == 0, text.stderr
    assert "*:80" in text.stdout and "LISTEN" in text.stdout


def test_netstat_without_a_serve_says_so(tmp_path):
    out = dos64lab("netstat", env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)}, timeout=30)
    assert out.returncode == 2 and "no `dos64lab serve` is running" in out.stderr


def arp_request(sender_mac: bytes, sender_ip: bytes, target_ip: bytes) -> bytes:
    arp = (b"\x00\x01\x08\x00\x06\x04\x00\x01" + sender_mac + sender_ip + bytes(6) + target_ip)
    return (b"\xff" * 6 + sender_mac + b"\x08\x06" + arp).ljust(60, b"\0")


def test_wire_relays_an_arp_request_and_its_reply(serve):
    host, port = serve.info["wire"].rsplit(":", 1)
    assert host == "127.0.0.1"
    mac = bytes.fromhex("02000000ab99")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.settimeout(0.5)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            udp.sendto(arp_request(mac, bytes([10, 0, 2, 99]), bytes([10, 0, 2, 15])),
                       (host, int(port)))
            try:
                while True:
                    frame = udp.recv(65535)
                    if frame[12:14] == b"\x08\x06" and frame[20:22] == b"\x00\x02" \
                            and frame[28:32] == bytes([10, 0, 2, 15]) and frame[0:6] == mac:
                        assert frame[32:38] == mac and frame[38:42] == bytes([10, 0, 2, 99])
                        return
            except socket.timeout:
                continue
    pytest.fail("no ARP reply from 10.0.2.15 came back over the wire relay")


def test_wire_must_be_loopback(tmp_path):
    out = dos64lab("serve", "--wire", "0.0.0.0:5555", timeout=30,
                   env={**os.environ, "XDG_RUNTIME_DIR": str(tmp_path)})
    assert out.returncode == 2 and "loopback" in out.stderr


def test_a_taken_8080_gives_another_port_and_says_so(tmp_path):
    blocker = socket.socket()
    try:
        blocker.bind(("127.0.0.1", 8080))
        blocker.listen()
    except OSError:
        pass                                    # taken already: just as good
    try:
        s = Serve("serve", "--telnet-port", "0", state_dir=tmp_path)
        try:
            assert s.info["http"] != 8080
            assert any("8080" in n for n in s.info["notes"]), s.info
            assert curl(f"http://127.0.0.1:{s.info['http']}/api/status").returncode == 0
        finally:
            stderr = s.check_stopped_cleanly()
        assert "note: port 8080 is in use" in stderr
    finally:
        blocker.close()


def test_httpd_serves_the_bytes_of_a_host_directory(tmp_path):
    site = tmp_path / "site"
    (site / "sub").mkdir(parents=True)
    data = os.urandom(50_000) + b"the end\n"
    (site / "sub" / "blob.bin").write_bytes(data)
    s = Serve("httpd", str(site), "--port", "0", state_dir=tmp_path)
    try:
        assert s.info["root"] == str(site) and "telnet" not in s.info
        got = curl(f"http://127.0.0.1:{s.info['http']}/sub/blob.bin")
        assert got.returncode == 0, got.stderr
        assert got.stdout == data
        missing = curl("--path-as-is", "-o", "/dev/null", "-w", "%{http_code}",
                       f"http://127.0.0.1:{s.info['http']}/../etc/passwd")
        assert missing.stdout == b"404"
    finally:
        s.check_stopped_cleanly()


def test_native_serve_is_dos64s_own_server(tmp_path):
    s = Serve("serve", "--native", "--http-port", "0", "--telnet-port", "0", state_dir=tmp_path)
    try:
        assert s.info["mode"] == "native"
        doc = json.loads(curl(f"http://127.0.0.1:{s.info['http']}/api/status").stdout)
        assert check_shape(doc) == [] and doc["kernel"]["net"] == "kernel"
    finally:
        s.check_stopped_cleanly()
