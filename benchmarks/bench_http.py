"""HTTP benchmark: requests/s and p50/p99 latency from the host through slirp's hostfwd,
keep-alive and a new connection per request, in one run beside

* ours: DOS64, the lab's stack on the NIC, ``serve_http`` on guest port 80 (GET /, the
  bundled page);
* the Linux peer of QEMU-FACTS (``LinuxPeer(slirp=True)``: Debian's kernel and busybox httpd,
  TCG, the same hostfwd; its image is built from ``apt-get download`` once and cached);
* Python's ``http.server`` on the host's loopback: the ceiling without a virtual NIC.

The client runs in a process of its own, as ``curl`` would.

Loops are bounded by a count and by seconds.  Targets (issue 10): new-connection
requests/s >= the Linux peer's; keep-alive >= 1,000 requests/s.  Printed, never asserted.
Run: `.venv/bin/python benchmarks/bench_http.py [--quick] [--no-linux]`.
"""

import argparse
import http.client
import http.server
import json
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from dos64lab.machine import Machine
from dos64lab.services.http import serve_http
from dos64lab.stack import Stack


def keep_alive(port, count, seconds):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    times, end = [], time.monotonic() + seconds
    while len(times) < count and time.monotonic() < end:
        t0 = time.perf_counter()
        conn.request("GET", "/")
        response = conn.getresponse()
        response.read()
        times.append(time.perf_counter() - t0)
        if response.will_close:                     # HTTP/1.0 servers: reconnect
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.close()
    return times


def new_connection(port, count, seconds):
    times, end = [], time.monotonic() + seconds
    while len(times) < count and time.monotonic() < end:
        t0 = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(b"GET / HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")
            while s.recv(65536):
                pass
        times.append(time.perf_counter() - t0)
    return times


def row(name, mode, times):
    if not times:
        return print(f"{name:<22}{mode:<16}  no answers")
    q = statistics.quantiles(times, n=100) if len(times) > 1 else [times[0]] * 99
    print(f"{name:<22}{mode:<16}{len(times) / sum(times):>10.0f} req/s   p50 {q[49] * 1000:7.2f} ms"
          f"   p99 {q[98] * 1000:7.2f} ms   ({len(times)} requests)")
    return len(times) / sum(times)


def client(mode, port, count, seconds):
    """The host's client, in a process of its own (as curl would be): in the server's
    process it would compete with the stack for the GIL.  Its times, one per request."""
    out = subprocess.run([sys.executable, __file__, "--client", mode, str(port), str(count),
                          str(seconds)], capture_output=True, text=True, timeout=seconds + 60)
    return json.loads(out.stdout or "[]")


def run(name, port, count, seconds):
    client("keep-alive", port, 20, 5)                # warm up
    return {"keep-alive": row(name, "keep-alive", client("keep-alive", port, count, seconds)),
            "new connection": row(name, "new connection",
                                  client("new connection", port, count // 2, seconds))}


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--quick", action="store_true", help="fewer requests")
    p.add_argument("--no-linux", action="store_true", help="skip the Linux peer")
    p.add_argument("--client", nargs=4, metavar=("MODE", "PORT", "COUNT", "SECONDS"),
                   help=argparse.SUPPRESS)          # run() starts this script as the client
    args = p.parse_args()
    if args.client:
        mode, port, count, seconds = args.client
        loop = keep_alive if mode == "keep-alive" else new_connection
        return print(json.dumps(loop(int(port), int(count), float(seconds))))
    count, seconds = (300, 5) if args.quick else (2000, 20)
    results = {}
    with Machine() as m, Stack.on(m) as net:
        net.configure()
        with serve_http(net):
            results["ours"] = run("DOS64 (Python stack)", m.host_ports["http"], count, seconds)
    if not args.no_linux:
        from dos64lab.peer import LinuxPeer
        with LinuxPeer(slirp=True) as peer:
            results["linux"] = run("Linux peer (busybox)", peer.host_ports["http"], count, seconds)
    root = Path(tempfile.mkdtemp())
    (root / "index.html").write_text("<html><body>hello</body></html>\n")
    handler = lambda *a: http.server.SimpleHTTPRequestHandler(*a, directory=str(root))  # noqa: E731
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
    http.server.SimpleHTTPRequestHandler.protocol_version = "HTTP/1.1"
    # it writes the head and the body apart: without this, Nagle holds the body until the
    # client's delayed ACK (40 ms) and the ceiling row would measure that
    http.server.SimpleHTTPRequestHandler.disable_nagle_algorithm = True
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    results["http.server"] = run("http.server (host)", server.server_address[1], count, seconds)
    server.shutdown()
    server.server_close()
    ours = results["ours"]
    print(f"\ntargets: keep-alive >= 1000 req/s: {ours['keep-alive'] or 0:.0f}"
          + (f"; new connection >= Linux's: {ours['new connection'] or 0:.0f} vs "
             f"{results['linux']['new connection'] or 0:.0f}" if "linux" in results else ""))


if __name__ == "__main__":
    main()
