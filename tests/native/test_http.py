"""DOS64's own HTTP/1.1 server (kernel/net/http.c) through slirp's hostfwd: Debian's curl for
behaviour, h11 to check every response is well-formed HTTP/1.1, and the status document
against the one shape both stacks serve (dos64lab.services.status.check_shape)."""

import json
import re
import socket
import subprocess

import h11
import pytest

from dos64lab.services.status import check_shape


@pytest.fixture(scope="module")
def port(native):
    return native.host_ports["http"]


def curl(*args, timeout=15) -> subprocess.CompletedProcess:
    return subprocess.run(["curl", "-sS", "--max-time", "10", *args],
                          capture_output=True, text=True, timeout=timeout)


def exchange(port, method="GET", target="/", headers=(), raw=None, body=b""):
    """One request (h11 builds it, or ``raw`` bytes go instead); the response as h11 read it:
    (h11.Response, body bytes, whether the server closed the connection afterwards)."""
    conn = h11.Connection(h11.CLIENT)
    hdrs = [("Host", "dos64"), *headers]
    if body:
        hdrs.append(("Content-Length", str(len(body))))
    data = conn.send(h11.Request(method=method, target=target, headers=hdrs))
    data += conn.send(h11.Data(data=body)) if body else b""
    data += conn.send(h11.EndOfMessage())
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(raw if raw is not None else data)
        response, chunks = None, []
        while True:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(s.recv(65536))
            elif isinstance(event, h11.Response):
                response = event
            elif isinstance(event, h11.Data):
                chunks.append(event.data)
            elif isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
                break
        s.settimeout(2)
        try:
            closed = s.recv(1) == b""
        except socket.timeout:
            closed = False
    return response, b"".join(chunks), closed


def header(response, name):
    return dict(response.headers).get(name.lower().encode(), b"").decode()


def test_status_document_has_the_shared_shape(port):
    out = curl("-i", f"http://127.0.0.1:{port}/api/status")
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition("\n\n")       # text mode: CR LF read as LF
    assert head.startswith("HTTP/1.1 200 OK")
    assert re.search(r"(?im)^content-type: application/json\r?$", head)
    doc = json.loads(body)
    assert check_shape(doc) == []
    assert doc["kernel"] == {**doc["kernel"], "name": "DOS64", "net": "kernel", "version": "0.1.0"}
    assert doc["stack"]["name"] == "DOS64" and doc["stack"]["polls"] > 0
    assert doc["interface"]["address"] == "10.0.2.15/24"
    assert doc["dhcp"]["state"] == "BOUND" and doc["dhcp"]["address"] == "10.0.2.15/24"
    assert doc["virtio"]["transport"] == "modern"
    assert doc["virtio"]["queues"]["rx"]["size"] == 256
    assert any(s["state"] == "LISTEN" and s["local"] == "*:80" for s in doc["sockets"])
    assert any(s["proto"] == "tcp" and s["state"] == "ESTABLISHED" for s in doc["sockets"])  # this one


def test_status_page(port):
    out = curl("-i", f"http://127.0.0.1:{port}/")
    assert out.stdout.startswith("HTTP/1.1 200 OK")
    assert "text/html" in out.stdout and "DOS64" in out.stdout and "/api/status" in out.stdout


def test_head_has_headers_and_no_body(port):
    response, body, _ = exchange(port, "HEAD", "/api/status")
    assert response.status_code == 200 and body == b""
    assert int(header(response, "content-length")) > 1000
    out = curl("-I", f"http://127.0.0.1:{port}/")
    assert out.stdout.startswith("HTTP/1.1 200 OK") and "Content-Length:" in out.stdout


def test_keep_alive_reuses_one_connection(port):
    urls = [a for p in ("/api/status", "/", "/nope", "/api/status")
            for a in ("-o", "/dev/null", f"http://127.0.0.1:{port}{p}")]
    out = curl("-s", "-w", "%{http_code} %{num_connects}\n", *urls)
    assert out.stdout.split("\n")[:4] == ["200 1", "200 0", "404 0", "200 0"], out.stdout


def test_not_found(port):
    out = curl("-i", f"http://127.0.0.1:{port}/nope")
    assert out.stdout.startswith("HTTP/1.1 404 Not Found")
    assert out.stdout.endswith("404 Not Found\n/nope is not here\n")


def test_method_not_allowed_keeps_the_connection(port):
    response, body, closed = exchange(port, "POST", "/api/status", body=b"x=1")
    assert response.status_code == 405 and header(response, "allow") == "GET, HEAD"
    assert not closed
    out = curl("-i", "-X", "DELETE", f"http://127.0.0.1:{port}/")
    assert out.stdout.startswith("HTTP/1.1 405 Method Not Allowed")


@pytest.mark.parametrize("raw", [
    b"GARBAGE\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost : x\r\n\r\n",                 # whitespace before the colon
    b"GET / HTTP/1.1\r\n\r\n",                             # HTTP/1.1 without Host
    b"GET / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
    b"GET nope HTTP/1.1\r\nHost: x\r\n\r\n",
])
def test_bad_request_is_400_and_closes(port, raw):
    response, body, closed = exchange(port, raw=raw)
    assert response.status_code == 400, body
    assert header(response, "connection") == "close" and closed


def test_http_1_0_closes_unless_asked(port):
    response, _, closed = exchange(port, raw=b"GET /api/status HTTP/1.0\r\n\r\n")
    assert response.status_code == 200 and closed
    url = f"http://127.0.0.1:{port}/"
    out = curl("-0", "-s", "-w", "%{http_code} %{num_connects}\n", "-H", "Connection: keep-alive",
               "-o", "/dev/null", url, "-o", "/dev/null", url)
    assert out.stdout.split() == ["200", "1", "200", "0"]


@pytest.mark.parametrize("method,target,status", [
    ("GET", "/", 200), ("HEAD", "/", 200), ("GET", "/api/status", 200), ("HEAD", "/api/status", 200),
    ("GET", "/index.html", 200), ("GET", "/nope", 404), ("HEAD", "/nope", 404),
    ("PUT", "/", 405), ("OPTIONS", "/api/status", 405), ("GET", "/api/status?x=1", 200),
])
def test_h11_reads_every_response(port, method, target, status):
    response, body, closed = exchange(port, method, target)
    assert response.status_code == status
    assert response.http_version == b"1.1"
    assert header(response, "server").startswith("DOS64/")
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", header(response, "date"))
    if method == "HEAD":
        assert body == b""
    else:
        assert len(body) == int(header(response, "content-length"))
    assert not closed                                   # HTTP/1.1: kept alive


def test_the_kernel_counts_what_it_served(native, port):
    curl(f"http://127.0.0.1:{port}/nope")
    out = native.run("HTTPD")
    assert re.search(r"HTTPD: running on port 80, \d+ connections, \d+ requests", out), out
    c = dict(re.findall(r"^  ([a-z0-9_]+)\s+(\d+)$", native.run("NETSTAT"), re.M))
    assert int(c["tcp_accepted"]) >= 1 and "tcp_rx_drop_checksum" not in c


def test_bytes_streams_a_pattern_and_keeps_alive(port):
    out = subprocess.run(["curl", "-s", "--max-time", "20", "-w", "\n%{num_connects}",
                          f"http://127.0.0.1:{port}/bytes/3000000", "-o", "/dev/stdout",
                          f"http://127.0.0.1:{port}/bytes/7"], capture_output=True, timeout=30)
    body = out.stdout
    first, rest = body[:3_000_000], body[3_000_000:]
    assert first == bytes(i % 251 for i in range(251)) * (3_000_000 // 251) + bytes(range(3_000_000 % 251))
    assert rest.startswith(b"\n1") and rest.endswith(b"\x00\x01\x02\x03\x04\x05\x06\n0")


def test_a_request_body_is_read_past_and_the_next_request_answered(port):
    import socket
    body = b"x" * 300_000
    with socket.create_connection(("127.0.0.1", port), timeout=20) as s:
        s.sendall(b"POST /api/status HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % len(body)
                  + body + b"GET /bytes/3 HTTP/1.1\r\nHost: x\r\n\r\n")
        seen = b""
        while not seen.endswith(b"\x00\x01\x02"):
            chunk = s.recv(65536)
            assert chunk, seen
            seen += chunk
    assert seen.startswith(b"HTTP/1.1 405 ") and seen.count(b"HTTP/1.1 200 OK") == 1
