"""TCP benchmark: goodput of the lab's stack both ways through slirp, with and without loss,
beside a real Linux in the same QEMU set-up and the raw driver's frame rate, in one run.

* guest <- host: the stack GETs 10 MB from Python's http.server on the host's 127.0.0.1
  (the guest reaches it at 10.0.2.2; the machine is unrestricted and the stack's egress
  allow-list admits only that address);
* host -> guest: a host socket sends 10 MB through hostfwd to a guest listener on port 80;
* guest -> host: a host socket GETs 10 MB through hostfwd from a guest listener on port 80;
* with 5 % loss: a FaultInjector drops 5 % of frames both ways between stack and NIC.

The host's side (http.server, the sender, the getter) runs in processes of its own, as a
real host program does: in the stack's process it would compete with it for the GIL.

The Linux peer (``LinuxPeer``, Debian's kernel + busybox, TCG like the machine):
* on slirp + hostfwd, restricted (so no "guest <- host" row): the host GETs the same 10 MB
  from its httpd and sends 10 MB into its ``nc -l``; the ratio ours / Linux is printed;
* on a private segment with our stack (``Machine(link=peer)``, where Linux negotiates
  window scaling, timestamps and SACK): we GET from its httpd, its wget GETs from our
  listener, with and without 5 % loss on our side (Linux's retransmissions from its
  /proc/net/snmp).

Per run: MB/s, qtest round trips per segment, retransmissions.  Printed, never asserted.
Run: `make bench` or `.venv/bin/python benchmarks/bench_tcp.py [--quick]` (2 MB, no lossy
private-segment rows).
"""

import argparse
import hashlib
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
from ipaddress import IPv4Network

from dos64lab.iface import InterfaceConfig
from dos64lab.machine import Machine
from dos64lab.peer import LinuxPeer
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.stack import Stack
from dos64lab.wire.build import arp_who_has, icmp_echo_request


# The host's side of every transfer: programs of their own (see the docstring).
SENDER = """import socket, sys, time
data = open(sys.argv[2], "rb").read()
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=120)
t0 = time.perf_counter()
s.sendall(data)
s.shutdown(socket.SHUT_WR)
reply = b""
while chunk := s.recv(64):                           # the sink's answer, once it has it all
    reply += chunk
print(time.perf_counter() - t0, reply.decode().strip() or "-")
"""

GETTER = """import hashlib, socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=120)
t0 = time.perf_counter()
s.sendall(b"GET /" + sys.argv[2].encode() + b" HTTP/1.0\\r\\nHost: localhost\\r\\n\\r\\n")
data = bytearray()
while chunk := s.recv(1 << 20):
    data += chunk
elapsed = time.perf_counter() - t0
body = bytes(data).partition(b"\\r\\n\\r\\n")[2]
print(elapsed, len(body), hashlib.sha256(body).hexdigest())
"""


class HostServer:
    """Python's http.server on the host's 127.0.0.1, in a process of its own."""

    def __init__(self, directory):
        self.proc = subprocess.Popen([sys.executable, "-u", "-m", "http.server", "--bind",
                                      "127.0.0.1", "--directory", directory, "0"],
                                     stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        self.port = int(re.search(r"port (\d+)", self.proc.stdout.readline()).group(1))

    def close(self):
        self.proc.kill()
        self.proc.wait()


def host_send(port, path):
    """The host sends the file at ``path`` through hostfwd; (seconds until the sink's
    answer, the answer)."""
    out = subprocess.run([sys.executable, "-c", SENDER, str(port), path], capture_output=True,
                         text=True, timeout=300).stdout.split()
    return (float(out[0]), out[1]) if len(out) == 2 else (float("inf"), "-")


def host_get(port, path, size, digest=None):
    """The host GETs ``path`` through hostfwd; (ok, seconds)."""
    out = subprocess.run([sys.executable, "-c", GETTER, str(port), path], capture_output=True,
                         text=True, timeout=300).stdout.split()
    if len(out) != 3:
        return False, float("inf")
    elapsed, length, got = float(out[0]), int(out[1]), out[2]
    return length == size and (digest is None or got == digest), elapsed


def download(net, port, name, size, host="10.0.2.2", timeout=60):
    conn = net.connect(host, port)
    conn.sendall(f"GET /{name} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    t0, data = time.perf_counter(), bytearray()
    while chunk := conn.recv(1 << 20, timeout=timeout):
        data += chunk
    elapsed = time.perf_counter() - t0
    info = conn.info()
    conn.close()
    body = bytes(data).partition(b"\r\n\r\n")[2]
    return len(body) == size, elapsed, body, info


def upload(m, net, path):
    """host -> guest: the host sends the file at ``path`` to our listener through hostfwd."""
    server = net.listen(80)
    received = {}

    def sink():
        conn = server.accept(30)
        got = bytearray()
        while chunk := conn.recv(1 << 20, timeout=60):
            got += chunk
        conn.sendall(b"%d" % len(got))            # the sender's clock stops at this answer
        received["data"], received["info"] = bytes(got), conn.info()
        conn.close()

    t = threading.Thread(target=sink)
    t.start()
    elapsed, _answer = host_send(m.host_ports["http"], path)
    t.join(120)
    server.close()
    with open(path, "rb") as f:
        return received.get("data") == f.read(), elapsed, received.get("info", {})


def serve(net, port, body, timeout=120):
    """A thread answering one HTTP request on our listener with ``body``; returns
    (thread, result) where result gets the connection's info."""
    server = net.listen(port)
    result = {}

    def answer():
        try:
            conn = server.accept(30)
            request = b""
            while b"\r\n\r\n" not in request and (chunk := conn.recv(4096, timeout=10)):
                request += chunk
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
                         timeout=timeout)
            conn.close(timeout=30)
            result["info"] = conn.info()
        except Exception as err:                 # printed as a failed row
            result["error"] = err
        finally:
            server.close()

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    return thread, result


def offer(m, net, size):
    """guest -> host: the host GETs ``size`` bytes from our listener through hostfwd."""
    body = os.urandom(size)
    thread, result = serve(net, 80, body)
    ok, elapsed = host_get(m.host_ports["http"], "blob", size, hashlib.sha256(body).hexdigest())
    thread.join(60)
    return ok and "error" not in result, elapsed, result.get("info", {})


def run(kind, size, loss, directory):
    server = HostServer(directory)
    port = server.port
    faults = {"drop": loss, "seed": 1} if loss else None
    config = InterfaceConfig(allow=(IPv4Network("10.0.2.2/32"),))
    rows = []
    with Machine(virtio=kind, restrict=False) as m, Stack.on(m, config, faults=faults) as net:
        net.configure()
        q = m.qtest
        r0, f0 = q.round_trips, net.iface.stats["tcp_rx"]
        ok, elapsed, _body, info = download(net, port, "blob", size)
        segments = net.iface.stats["tcp_rx"] - f0
        rows.append(("guest <- host (wget)", ok, elapsed, (q.round_trips - r0) / max(segments, 1),
                     info.get("retransmits", 0)))
        r0, f0 = q.round_trips, net.iface.stats["tcp_rx"]
        ok, elapsed, info = upload(m, net, os.path.join(directory, "blob"))
        segments = net.iface.stats["tcp_rx"] - f0
        rows.append(("host -> guest (hostfwd)", ok, elapsed, (q.round_trips - r0) / max(segments, 1),
                     info.get("retransmits", 0)))
        r0, f0 = q.round_trips, net.iface.stats["ipv4_tx"]
        ok, elapsed, info = offer(m, net, size)
        segments = net.iface.stats["ipv4_tx"] - f0
        rows.append(("guest -> host (hostfwd)", ok, elapsed, (q.round_trips - r0) / max(segments, 1),
                     info.get("retransmits", 0)))
    server.close()
    return [report(kind, loss, size, *row) for row in rows]


def report(setup, loss, size, what, ok, elapsed, trips, retransmits):
    """Print one row; return (setup, loss, what, MB/s or None)."""
    rate = size / elapsed / 1e6 if ok else None
    trips = "   -" if trips is None else f"{trips:4.2f}"
    print(f"  {setup:13s} {'5 % loss' if loss else 'no loss':8s} {what:26s}: "
          f"{size / elapsed / 1e6:6.2f} MB/s  {trips} round trips/segment  "
          f"{retransmits} retransmitted  {'ok' if ok else 'DATA DIFFERS'}")
    return setup, loss, what, rate


def linux_retransmits(peer) -> int:
    """Linux's TCP RetransSegs so far (/proc/net/snmp)."""
    lines = [line.split() for line in peer.run("grep ^Tcp: /proc/net/snmp").output.splitlines()]
    return int(dict(zip(lines[0], lines[1]))["RetransSegs"])


def linux_on_slirp(size, path):
    """The Linux peer in the machine's set-up (slirp + hostfwd): host GETs from its httpd,
    host sends the file at ``path`` into its ``nc -l``."""
    rows = []
    with LinuxPeer(slirp=True) as peer:
        port = peer.host_ports["http"]
        out, status = peer.run(f"head -c {size} /dev/urandom > /www/blob && sha256sum /www/blob",
                               timeout=60)
        before = linux_retransmits(peer)
        ok, elapsed = host_get(port, "blob", size, out.split()[0] if status == 0 else "?")
        rows.append(("guest -> host (hostfwd)", ok, elapsed, None, linux_retransmits(peer) - before))
        # httpd gives way to a sink on port 80 that answers with the byte count it read: the
        # clock stops at that answer, once Linux has taken every byte (not when the host's
        # socket buffer took them)
        peer.run("killall httpd; rm -f /www/blob; "
                 "(nc -l -p 80 -e sh -c 'wc -c') </dev/null >/dev/null 2>&1 & sleep 0.3")
        elapsed, counted = host_send(port, path)
        rows.append(("host -> guest (hostfwd)", counted == str(size), elapsed, None, "-"))
    return [report("Linux", 0.0, size, *row) for row in rows]


def private_segment(size, losses):
    """Our stack and the Linux peer on one private segment (window scaling, timestamps, SACK):
    we GET from its httpd; its wget GETs from our listener."""
    results = []
    peer = LinuxPeer(ip="10.0.2.16/24")
    with Machine(link=peer) as m, peer:
        out, status = peer.run(f"head -c {size} /dev/urandom > /www/blob && sha256sum /www/blob",
                               timeout=60)
        digest = out.split()[0] if status == 0 else "?"
        q = m.qtest
        for loss in losses:
            faults = {"drop": loss, "seed": 1} if loss else None
            rows = []
            with Stack.on(m, faults=faults) as net:
                net.configure("10.0.2.15/24", gateway=None)
                r0, f0, l0 = q.round_trips, net.iface.stats["tcp_rx"], linux_retransmits(peer)
                ok, elapsed, body, _info = download(net, 80, "blob", size,
                                                    host=str(peer.address), timeout=120)
                ok = ok and hashlib.sha256(body).hexdigest() == digest
                segments = net.iface.stats["tcp_rx"] - f0
                rows.append(("us <- Linux (our GET)", ok, elapsed,
                             (q.round_trips - r0) / max(segments, 1),
                             f"{linux_retransmits(peer) - l0} (Linux)"))
                body = os.urandom(size)
                r0, f0 = q.round_trips, net.iface.stats["ipv4_tx"]
                thread, result = serve(net, 8080, body, timeout=300)
                t0 = time.perf_counter()
                out, status = peer.run("wget -q -O - http://10.0.2.15:8080/blob | wc -c",
                                       timeout=300)
                elapsed = time.perf_counter() - t0
                thread.join(60)
                segments = net.iface.stats["ipv4_tx"] - f0
                rows.append(("us -> Linux (its wget)", status == 0 and out.strip() == str(size),
                             elapsed, (q.round_trips - r0) / max(segments, 1),
                             result.get("info", {}).get("retransmits", "?")))
            results += [report("ours<->Linux", loss, size, *row) for row in rows]
    return results


def ratios(results):
    """ours / Linux for the rows both have, through slirp + hostfwd, no loss."""
    linux = {what: rate for setup, _, what, rate in results if setup == "Linux"}
    print("  ours / Linux (same QEMU set-up, slirp + hostfwd, no loss):")
    for setup, loss, what, rate in results:
        if setup in ("legacy", "modern") and not loss and what in linux:
            theirs = linux[what]
            ratio = f"{rate / theirs:5.2f}" if rate and theirs else "  n/a"
            print(f"    {setup:6s} {what:26s}: {ratio}  ({rate or 0:.2f} vs {theirs or 0:.2f} MB/s)")


def raw_frames_per_second(count=5000):
    with Machine() as m, VirtioNetDevice(m) as dev:
        dev.send(arp_who_has(dev.net.mac))
        while dev.receive() is None:
            pass
        gw = bytes.fromhex("52550a000202")
        frames = [icmp_echo_request(dev.net.mac, gw, n, bytes(1400)) for n in range(count)]
        t0, got = time.perf_counter(), 0
        for i in range(0, count, 64):
            dev.send_batch(frames[i:i + 64])
            while got < i + 64 and got < count:
                got += len(dev.receive_batch())
        return 2 * count / (time.perf_counter() - t0)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true",
                    help="2 MB instead of 10 MB, no lossy private-segment rows")
    args = ap.parse_args(argv)
    size = (2 if args.quick else 10) * 1_000_000
    print(f"== TCP through the lab's stack and slirp, {size // 1_000_000} MB each way (TCG) ==")
    results = []
    with tempfile.TemporaryDirectory() as directory:
        with open(os.path.join(directory, "blob"), "wb") as f:
            f.write(os.urandom(size))
        for kind in ("legacy", "modern"):
            results += run(kind, size, 0.0, directory)
        results += run("legacy", size, 0.05, directory)
        results += linux_on_slirp(size, os.path.join(directory, "blob"))
    results += private_segment(size, (0.0,) if args.quick else (0.0, 0.05))
    ratios(results)
    rate = raw_frames_per_second()
    print(f"  raw driver, 1442-byte echo requests + replies: {rate:8.0f} frames/s "
          f"({rate * 1442 / 2 / 1e6:.1f} MB/s each way): the driver's ceiling, below the stack")


if __name__ == "__main__":
    main()
