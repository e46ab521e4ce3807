"""Native benchmark: DOS64's own network stack (net=kernel) beside the lab's Python stack and a
Linux peer, in one QEMU set-up (q35, virtio-net, slirp + hostfwd on 127.0.0.1, TCG), in one run.

Rows, the same client code against each stack through hostfwd:

* HTTP requests/s with keep-alive and with a new connection per request (CONNS clients at
  once, SECONDS each, a 64-byte body: the kernel's /bytes/64, a 64-byte static file for the
  Python server and Linux's busybox httpd -- which has no keep-alive), p50/p99 latency;
* TCP goodput both ways: the host GETs SIZE bytes (guest -> host) and sends SIZE bytes the
  guest reads and drops (host -> guest: the kernel's server skips a POST body; the Python stack
  and Linux read into a sink, a listener on the telnet port / nc -l into wc -c);
* ping RTT to 10.0.2.2 from the guest (the kernel's PING, the Python stack's ping, busybox ping);
* boot to serving: from starting QEMU to the first 200 through hostfwd;
* idle CPU: QEMU's share of a core while nothing happens (Python: plus this process's poll
  thread, which is the stack).

The targets (issue 11): the kernel >= 10x the Python stack and >= the Linux peer on every row;
boot to serving <= 0.3 s.  Figures are printed, never asserted.
Run: `.venv/bin/python benchmarks/bench_native.py [--quick] [--skip-python] [--skip-linux]`.
"""

import argparse
import http.client
import os
import re
import socket
import statistics
import tempfile
import threading
import time
import urllib.request

from dos64lab.machine import Machine

TICK = os.sysconf("SC_CLK_TCK")
CONNS = 4


def cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


def own_cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def wait_serving(port: int, path: str, t0: float, timeout: float = 60) -> float:
    while time.monotonic() - t0 < timeout:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=2) as r:
                if r.status == 200:
                    r.read()
                    return time.monotonic() - t0
        except OSError:
            time.sleep(0.005)
    return float("nan")


def load(port: int, path: str, seconds: float, keep_alive: bool) -> dict:
    """CONNS clients for ``seconds``: requests/s and latency percentiles (ms)."""
    latencies, errors, stop = [], [0], time.monotonic() + seconds
    lock = threading.Lock()

    def client():
        mine, conn = [], None
        while time.monotonic() < stop:
            t = time.perf_counter()
            try:
                if conn is None:
                    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                conn.request("GET", path, headers={} if keep_alive else {"Connection": "close"})
                r = conn.getresponse()
                r.read()
                if r.status != 200:
                    raise OSError(f"status {r.status}")
                mine.append((time.perf_counter() - t) * 1000)
                if not keep_alive or r.getheader("Connection", "").lower() == "close":
                    conn.close()
                    conn = None
            except (OSError, http.client.HTTPException):
                errors[0] += 1
                if conn:
                    conn.close()
                conn = None
        if conn:
            conn.close()
        with lock:
            latencies.extend(mine)

    t0 = time.monotonic()
    threads = [threading.Thread(target=client) for _ in range(CONNS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - t0
    s = sorted(latencies) or [float("nan")]
    return {"rps": len(latencies) / elapsed, "p50": s[len(s) // 2],
            "p99": s[min(len(s) - 1, int(len(s) * 0.99))], "errors": errors[0]}


def get_bytes(port: int, path: str, size: int) -> float:
    """guest -> host: MB/s of one GET of ``size`` bytes."""
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(f"GET {path} HTTP/1.0\r\nHost: x\r\n\r\n".encode())
        got = 0
        while chunk := s.recv(1 << 20):
            got += len(chunk)
    elapsed = time.perf_counter() - t0
    return size / 1e6 / elapsed if got >= size else float("nan")


def post_bytes(port: int, size: int, then: bytes) -> float:
    """host -> guest: MB/s of a POST of ``size`` bytes the server reads and drops; the clock
    stops when the answer to the request pipelined after it (``then``) is back whole."""
    payload = b"x" * size
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % size + payload + then)
        seen = b""
        while True:
            heads = [m.end() for m in re.finditer(rb"\r\n\r\n", seen)]
            if len(heads) >= 2:
                length = re.findall(rb"(?i)content-length: *(\d+)", seen)
                if len(length) >= 2 and len(seen) >= heads[1] + int(length[1]):
                    break
            chunk = s.recv(1 << 16)
            if not chunk:
                return float("nan")
            seen += chunk
    return size / 1e6 / (time.perf_counter() - t0)


def idle_cpu(pid: int, seconds: float, with_self: bool = False) -> float:
    q0, p0 = cpu_seconds(pid), own_cpu_seconds()
    time.sleep(seconds)
    used = cpu_seconds(pid) - q0 + (own_cpu_seconds() - p0 if with_self else 0)
    return used / seconds * 100


# -- the three stacks ---------------------------------------------------------------------
def kernel_rows(size, seconds, rest) -> dict:
    t0 = time.monotonic()
    with Machine(net_mode="kernel") as m:
        ready = m.boot_seconds
        port = m.host_ports["http"]
        serving = wait_serving(port, "/bytes/64", t0)
        row = {"boot_to_ready_s": ready, "boot_to_serving_s": serving}
        row["keep_alive"] = load(port, "/bytes/64", seconds, True)
        row["new_connection"] = load(port, "/bytes/64", seconds, False)
        row["out_MBps"] = get_bytes(port, f"/bytes/{size}", size)
        row["in_MBps"] = post_bytes(port, size, b"GET /bytes/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        out = m.run("PING 10.0.2.2 5", timeout=20)
        avg = re.search(r"rtt min/avg/max/mdev = [\d.]+/([\d.]+)/", out)
        row["ping_ms"] = float(avg.group(1)) if avg else float("nan")
        time.sleep(1)
        row["idle_cpu_pct"] = idle_cpu(m.pid, rest)
    return row


def python_sink(m, net, size) -> float:
    """host -> guest for the Python stack: a listener on guest port 23 (hostfwd'd; no telnet
    server runs there) reads until EOF; MB/s until it has everything."""
    server = net.listen(23)
    got = [0]

    def sink():
        conn = server.accept(30)
        while chunk := conn.recv(1 << 20, timeout=60):
            got[0] += len(chunk)
        conn.close()

    t = threading.Thread(target=sink)
    t.start()
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", m.host_ports["telnet"]), timeout=120) as s:
        s.sendall(b"x" * size)
        s.shutdown(socket.SHUT_WR)
        t.join(300)
    elapsed = time.perf_counter() - t0
    server.close()
    return size / 1e6 / elapsed if got[0] == size else float("nan")


def python_rows(size, seconds, rest) -> dict:
    from dos64lab.services.http import serve_http
    from dos64lab.stack import Stack
    root = tempfile.mkdtemp(prefix="bench-native-")
    with open(os.path.join(root, "small"), "wb") as f:
        f.write(b"x" * 64)
    with open(os.path.join(root, "blob"), "wb") as f:
        f.write(os.urandom(size))
    t0 = time.monotonic()
    with Machine() as m, Stack.on(m) as net:
        net.configure()
        with serve_http(net, root=root):
            port = m.host_ports["http"]
            row = {"boot_to_ready_s": m.boot_seconds, "boot_to_serving_s": wait_serving(port, "/small", t0)}
            row["keep_alive"] = load(port, "/small", seconds, True)
            row["new_connection"] = load(port, "/small", seconds, False)
            row["out_MBps"] = get_bytes(port, "/blob", size)
            row["in_MBps"] = python_sink(m, net, size)      # its server takes 1 MB bodies at most
            rtts = [r.rtt for r in net.ping("10.0.2.2", count=5, interval=0.2) if getattr(r, "rtt", None)]
            row["ping_ms"] = statistics.fmean(rtts) * 1000 if rtts else float("nan")
            time.sleep(1)
            row["idle_cpu_pct"] = idle_cpu(m.pid, rest, with_self=True)
    return row


def linux_rows(size, seconds, rest) -> dict:
    from dos64lab.peer import LinuxPeer
    t0 = time.monotonic()
    with LinuxPeer(slirp=True) as peer:
        port = peer.host_ports["http"]
        peer.run(f"head -c 64 /dev/zero | tr '\\0' x > /www/small; head -c {size} /dev/urandom > /www/blob",
                 timeout=60)
        row = {"boot_to_ready_s": peer.boot_seconds, "boot_to_serving_s": wait_serving(port, "/small", t0)}
        row["keep_alive"] = load(port, "/small", seconds, True)      # busybox: closes anyway
        row["new_connection"] = load(port, "/small", seconds, False)
        row["out_MBps"] = get_bytes(port, "/blob", size)
        peer.run("killall httpd; (nc -l -p 80 | wc -c > /tmp/count) </dev/null >/dev/null 2>&1 & sleep 0.3")
        t = time.perf_counter()
        with socket.create_connection(("127.0.0.1", port), timeout=120) as s:
            s.sendall(b"x" * size)
            s.shutdown(socket.SHUT_WR)
            s.recv(1)
        row["in_MBps"] = size / 1e6 / (time.perf_counter() - t)
        out = peer.run("ping -c 5 -i 0.2 10.0.2.2", timeout=20).output
        avg = re.search(r"min/avg/max = [\d.]+/([\d.]+)/", out)
        row["ping_ms"] = float(avg.group(1)) if avg else float("nan")
        time.sleep(1)
        row["idle_cpu_pct"] = idle_cpu(peer.pid, rest)
    return row


ROWS = [  # (label, getter, unit, higher is better)
    ("HTTP requests/s, keep-alive", lambda r: r["keep_alive"]["rps"], "req/s", True),
    ("HTTP requests/s, new connection", lambda r: r["new_connection"]["rps"], "req/s", True),
    ("latency p50, keep-alive", lambda r: r["keep_alive"]["p50"], "ms", False),
    ("latency p99, keep-alive", lambda r: r["keep_alive"]["p99"], "ms", False),
    ("latency p50, new connection", lambda r: r["new_connection"]["p50"], "ms", False),
    ("latency p99, new connection", lambda r: r["new_connection"]["p99"], "ms", False),
    ("TCP goodput guest -> host", lambda r: r["out_MBps"], "MB/s", True),
    ("TCP goodput host -> guest", lambda r: r["in_MBps"], "MB/s", True),
    ("ping RTT to 10.0.2.2", lambda r: r["ping_ms"], "ms", False),
    ("boot to serving HTTP", lambda r: r["boot_to_serving_s"], "s", False),
    ("idle CPU", lambda r: r["idle_cpu_pct"], "% core", False),
]


def ratio(kernel, other, higher):
    if not other or other != other or not kernel or kernel != kernel:
        return "   -  "
    return f"{kernel / other if higher else other / kernel:6.1f}x"


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="1 MB transfers, 2 s loads, 3 s idle")
    ap.add_argument("--skip-python", action="store_true")
    ap.add_argument("--skip-linux", action="store_true")
    args = ap.parse_args(argv)
    size, seconds, rest = (1 << 20, 2, 3) if args.quick else (10 << 20, 5, 10)
    results = {"DOS64 kernel": kernel_rows(size, seconds, rest)}
    if not args.skip_python:
        results["Python stack"] = python_rows(size, seconds, rest)
    if not args.skip_linux:
        results["Linux peer"] = linux_rows(size, seconds, rest)
    names = list(results)
    print(f"== three stacks, one QEMU set-up (TCG, slirp + hostfwd): {CONNS} clients, "
          f"{seconds} s loads, {size >> 20} MB transfers ==")
    head = f"{'':34}" + "".join(f"{n:>15}" for n in names)
    head += "".join(f"{'vs ' + n.split()[0]:>10}" for n in names[1:])
    print(head)
    for label, get, unit, higher in ROWS:
        values = [get(results[n]) for n in names]
        line = f"{label + ' (' + unit + ')':34}" + "".join(f"{v:15.3f}" for v in values)
        line += "".join(f"{ratio(values[0], v, higher):>10}" for v in values[1:])
        print(line)
    k = results["DOS64 kernel"]
    print(f"kernel: ready line {k['boot_to_ready_s']:.3f} s after QEMU started "
          f"(target boot to serving <= 0.3 s: {k['boot_to_serving_s']:.3f} s)")
    errors = {n: r["keep_alive"]["errors"] + r["new_connection"]["errors"] for n, r in results.items()}
    print(f"client errors during the loads: {errors}")


if __name__ == "__main__":
    main()
