"""DOS64's telnet on port 23 (the shell, bridged), WGET over the kernel's TCP, HTTPD start|stop
and HELP: Debian's telnet in a pty (pexpect), a host HTTP server the kernel fetches from, curl."""

import http.server
import os
import re
import subprocess
import threading
import zlib

import pexpect
import pytest

from dos64lab.machine import Machine

NET_COMMANDS = ["IFCONFIG", "DHCP", "PING", "WGET", "NETSTAT", "HTTPD"]


def telnet(port):
    child = pexpect.spawn("telnet", ["127.0.0.1", str(port)], timeout=20, dimensions=(30, 120))
    child.expect(rb"DOS64 0\.1\.0 console over telnet")
    child.expect(rb"C:\\>")
    return child


def command(child, line, until=rb"C:\\>"):
    child.send(line + "\r")               # Enter, as a terminal sends it
    child.expect(until)
    return child.before.decode(errors="replace")


def leave(child):
    child.sendcontrol("]")
    child.expect("telnet>")
    child.sendline("quit")
    child.expect(pexpect.EOF)


def test_debian_telnet_runs_ver_mem_and_ping(native):
    child = telnet(native.host_ports["telnet"])
    try:
        out = command(child, "VER")
        assert "DOS64 Version 0.1.0" in out
        out = command(child, "MEM")
        assert re.search(r"Free memory: \d+ KiB", out)
        out = command(child, "PING 10.0.2.2 2")
        assert len(re.findall(r"64 bytes from 10\.0\.2\.2: icmp_seq=\d ttl=\d+ time=[\d.]+ ms", out)) == 2
        assert "2 packets transmitted, 2 received, 0% packet loss" in out
        out = command(child, "EXIT")
        assert "EXIT is not available over telnet" in out
        out = command(child, "panic")
        assert "PANIC is not available over telnet" in out
    finally:
        leave(child)
    # one shell: what the session typed and got is on COM1 too
    transcript = native.console.transcript
    assert "C:\\>VER\nDOS64 Version 0.1.0" in transcript
    assert "PANIC:" not in transcript
    assert "DOS64 Version 0.1.0" in native.run("VER")    # COM1 still has its shell


def test_one_session_at_a_time(native):
    first = telnet(native.host_ports["telnet"])
    try:
        second = pexpect.spawn("telnet", ["127.0.0.1", str(native.host_ports["telnet"])], timeout=20)
        second.expect(rb"The DOS64 console is in use by 10\.0\.2\.2:\d+; try again later\.")
        second.expect(pexpect.EOF)
        assert "DOS64 Version" in command(first, "VER")
    finally:
        leave(first)
    again = telnet(native.host_ports["telnet"])        # the console is free again
    leave(again)


def session_socket(port):
    """A raw connection that owns the console (the last session may still be closing)."""
    import socket
    import time
    deadline = time.monotonic() + 10
    while True:
        s = socket.create_connection(("127.0.0.1", port), timeout=10)
        seen = b""
        while b"C:\\>" not in seen and b"in use" not in seen:
            seen += s.recv(4096)
        if b"C:\\>" in seen or time.monotonic() > deadline:
            return s
        s.close()
        time.sleep(0.2)


def test_iac_storm_and_junk_do_not_wedge_the_session(native):
    import time
    with session_socket(native.host_ports["telnet"]) as s:
        junk = (b"\xff\xfb\x18" * 200 + b"\xff\xfa" + b"x" * 5000 + b"\xff\xf0"
                + bytes(range(256)) * 4 + b"\xff\xff" * 100 + b"A" * 3000 + b"\x7f" * 300)
        s.sendall(junk + b"\rECHO still here\r")
        seen, deadline = b"", time.monotonic() + 15
        while b"still here\r\n" not in seen and time.monotonic() < deadline:
            seen += s.recv(65536)
        assert b"still here\r\n" in seen
        assert seen.count(b"\xff\xfe\x18") == 1       # DONT TERMINAL-TYPE once, not 200 times
    assert "PANIC:" not in native.console.transcript


def test_help_lists_every_command(native):
    out = native.run("HELP")
    for name in NET_COMMANDS + ["VER", "MEM", "PCI", "EXIT"]:
        assert re.search(rf"^{name}\b", out, re.M), f"{name} missing:\n{out}"


def test_httpd_stop_and_start(native):
    url = f"http://127.0.0.1:{native.host_ports['http']}/api/status"

    def code():
        return subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--max-time", "5", url],
                              capture_output=True, text=True).stdout

    assert code() == "200"
    assert "HTTPD: stopped" in native.run("HTTPD stop")
    assert code() == "000"                             # reset: nobody listens on 80
    assert "HTTPD: listening on port 80" in native.run("HTTPD start")
    assert code() == "200"
    assert re.search(r"HTTPD: running on port 80", native.run("HTTPD"))


@pytest.fixture(scope="module")
def blob_server():
    """A host HTTP server on 127.0.0.1 with a 1 MB random file; the guest reaches it at 10.0.2.2."""
    blob = os.urandom(1 << 20)

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):
            if self.path != "/blob":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Length", str(len(blob)))
            self.send_header("Content-Type", "application/octet-stream")
            self.end_headers()
            self.wfile.write(blob)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server.server_address[1], blob
    server.shutdown()
    server.server_close()


def test_wget_1mb_prints_the_crc32_the_host_computes(blob_server):
    port, blob = blob_server
    with Machine(net_mode="kernel", restrict=False) as m:   # restrict=on would block 10.0.2.2:port
        out = m.run(f"WGET http://10.0.2.2:{port}/blob", timeout=60)
        assert f"Connecting to 10.0.2.2:{port}... connected." in out
        assert "HTTP request sent, awaiting response... 200 OK" in out
        assert "Length: 1048576" in out
        got = re.search(r"Received (\d+) bytes in [\d.]+ s \(\d+ KB/s\), CRC-32 0x([0-9a-f]{8})", out)
        assert got, out
        assert int(got.group(1)) == len(blob)
        assert int(got.group(2), 16) == zlib.crc32(blob)
        out = m.run(f"WGET http://10.0.2.2:{port}/nope", timeout=30)
        assert "awaiting response... 404" in out
        out = m.run("WGET http://10.0.2.2:1/", timeout=30)
        assert "failed: Connection refused." in out
        assert "usage: WGET" in m.run("WGET ftp://example.org/")
