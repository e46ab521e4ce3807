"""TCP benchmark: goodput of the lab's stack both ways through slirp, with and without loss,
beside the raw driver's frame rate, in one run.

* guest <- host: the stack GETs 10 MB from Python's http.server on the host's 127.0.0.1
  (the guest reaches it at 10.0.2.2; the machine is unrestricted and the stack's egress
  allow-list admits only that address);
* host -> guest: a host socket sends 10 MB through hostfwd to a guest listener on port 80;
* with 5 % loss: a FaultInjector drops 5 % of frames both ways between stack and NIC.

Per run: MB/s, qtest round trips per segment, retransmissions.  Printed, never asserted.
Run: `make bench` or `.venv/bin/python benchmarks/bench_tcp.py [--quick]`.
"""

import argparse
import functools
import hashlib
import http.server
import os
import socket
import tempfile
import threading
import time
from ipaddress import IPv4Network

from dos64lab.iface import InterfaceConfig
from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.stack import Stack
from dos64lab.wire.build import arp_who_has, icmp_echo_request


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


def host_server(directory):
    handler = functools.partial(QuietHandler, directory=directory)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def download(net, port, name, size):
    conn = net.connect("10.0.2.2", port)
    conn.sendall(f"GET /{name} HTTP/1.0\r\nHost: 10.0.2.2\r\n\r\n".encode())
    t0, data = time.perf_counter(), bytearray()
    while chunk := conn.recv(1 << 20, timeout=60):
        data += chunk
    elapsed = time.perf_counter() - t0
    info = conn.info()
    conn.close()
    body = bytes(data).partition(b"\r\n\r\n")[2]
    return len(body) == size, elapsed, body, info


def upload(m, net, size):
    server = net.listen(80)
    payload = os.urandom(size)
    received = {}

    def sink():
        conn = server.accept(30)
        got = bytearray()
        while chunk := conn.recv(1 << 20, timeout=60):
            got += chunk
        received["data"], received["info"] = bytes(got), conn.info()
        conn.close()

    t = threading.Thread(target=sink)
    t.start()
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", m.host_ports["http"])) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        t.join(120)
    elapsed = time.perf_counter() - t0
    server.close()
    return received.get("data") == payload, elapsed, received.get("info", {})


def run(kind, size, loss, directory):
    server = host_server(directory)
    port = server.server_address[1]
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
        ok, elapsed, info = upload(m, net, size)
        segments = net.iface.stats["tcp_rx"] - f0
        rows.append(("host -> guest (hostfwd)", ok, elapsed, (q.round_trips - r0) / max(segments, 1),
                     info.get("retransmits", 0)))
    server.shutdown()
    for what, ok, elapsed, trips, retransmits in rows:
        print(f"  {kind:6s} {'5 % loss' if loss else 'no loss':8s} {what:24s}: "
              f"{size / elapsed / 1e6:6.2f} MB/s  {trips:4.2f} round trips/segment  "
              f"{retransmits} retransmitted  {'ok' if ok else 'DATA DIFFERS'}")


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
    ap.add_argument("--quick", action="store_true", help="2 MB instead of 10 MB")
    args = ap.parse_args(argv)
    size = (2 if args.quick else 10) * 1_000_000
    print(f"== TCP through the lab's stack and slirp, {size // 1_000_000} MB each way (TCG) ==")
    with tempfile.TemporaryDirectory() as directory:
        with open(os.path.join(directory, "blob"), "wb") as f:
            f.write(os.urandom(size))
        for kind in ("legacy", "modern"):
            run(kind, size, 0.0, directory)
        run("legacy", size, 0.05, directory)
    rate = raw_frames_per_second()
    print(f"  raw driver, 1442-byte echo requests + replies: {rate:8.0f} frames/s "
          f"({rate * 1442 / 2 / 1e6:.1f} MB/s each way): the ceiling for one qtest channel")


if __name__ == "__main__":
    main()
