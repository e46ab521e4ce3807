"""The lab's TCP live against slirp's, on both virtio transports (issue 9).

* `dos64lab wget` (the CLI and ``apps.wget``) fetches 10 MB from an HTTP server this test
  runs on host 127.0.0.1 (seen by the guest at 10.0.2.2): the same SHA-256; chunked
  bodies, a redirect chain, 404, a refused port; and through ``--faults`` (drop 5 %,
  corrupt 1 %, both ways).  The machine is unrestricted (slirp must reach the host's
  loopback) and the stack's egress allow-list admits exactly 10.0.2.2:PORT.
* A guest listener (``net.listen(80)``) reached by host clients through hostfwd: 1 MB
  echoed, 64 connections at once.
* On the hub (``Machine(wire=True)``, slirp restrict=on, so nothing injected leaves): a
  SYN flood from fake hosts and hostile segments leave the listener serving, its
  half-open connections bounded, every drop counted by name.

slirp's TCP is BSD's (Reno, no SACK, a retransmission timeout of 1 s or more, doubled on
each loss of a retransmission): under 5 % loss it recovers mostly by timeouts, about
35 KB/s here -- 10 MB took 285-295 s per transport.  The fault test therefore moves
``DOS64LAB_FAULT_BYTES`` (default 500 kB, ~15 s; 10_000_000 for the issue's full size).
"""

import hashlib
import http.server
import json
import os
import random
import socket
import struct
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from ipaddress import IPv4Address, IPv4Network

import pytest

from dos64lab.apps.wget import MAX_REDIRECTS, HttpStatusError, WgetError, wget
from dos64lab.iface import InterfaceConfig
from dos64lab.iface.neighbor import CAPACITY, PENDING_ADDRESSES
from dos64lab.machine import Machine
from dos64lab.stack import Stack, StackTimeout
from dos64lab.wire import arp, ethernet, icmp, ipv4
from dos64lab.wire.checksum import internet_checksum, pseudo_header_sum
from dos64lab.wire.ethernet import EtherType, EthernetAddress
from dos64lab.wire.ipv4 import IpProtocol
from dos64lab.wire.tcp import TcpFlags as F

CLI = [sys.executable, "-m", "dos64lab.cli"]
TRANSPORTS = ["legacy", "modern"]
HOST = "10.0.2.2"                                      # the host, as the guest sees it
SLIRP_MAC = EthernetAddress.parse("52:55:0a:00:02:02")
BIG = 10_000_000
FAULT_BYTES = int(os.environ.get("DOS64LAB_FAULT_BYTES", 500_000))


# -- a host HTTP server on 127.0.0.1 ------------------------------------------------------------

class Handler(http.server.BaseHTTPRequestHandler):
    """/file (Content-Length), /head/N (its first N bytes), /chunked, /hop/N (a chain of
    redirects, absolute and relative, ending at /file), /loop (redirects for ever)."""
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        data, port = self.server.data, self.server.server_address[1]
        if self.path == "/file":
            return self.send(200, data)
        if self.path.startswith("/head/"):
            return self.send(200, data[:int(self.path[6:])])
        if self.path == "/chunked":
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            rng, at = random.Random(9), 0
            while at < len(data):
                chunk = data[at:at + rng.randrange(1, 70_000)]
                at += len(chunk)
                self.wfile.write(b"%x;n=%d\r\n%s\r\n" % (len(chunk), at, chunk))
            self.wfile.write(b"0\r\nX-Trailer: done\r\n\r\n")
            return
        if self.path.startswith("/hop/"):
            n = int(self.path[5:])
            location = {3: "/hop/2", 2: f"http://{HOST}:{port}/hop/1", 1: "0", 0: "/file"}[n]
            return self.send((302, 301, 307, 308)[n], b"", location)
        if self.path == "/loop":
            return self.send(302, b"", "/loop")
        self.send(404, b"no such thing\n")

    def send(self, status, body, location=None):
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Content-Type", "application/octet-stream")
        if location:
            self.send_header("Location", location)
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture(scope="module")
def web():
    """The server, serving 10 MB of random bytes; stopped (and checked stopped) at the end."""
    data = random.Random(20261125).randbytes(BIG)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.data = data
    server.sha = hashlib.sha256(data).hexdigest()
    server.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)
    assert not thread.is_alive()
    with pytest.raises(OSError):                       # nothing listens there any more
        socket.create_connection(("127.0.0.1", server.port), timeout=1).close()


@pytest.fixture(scope="module", params=TRANSPORTS)
def client(request, web):
    """An unrestricted machine whose stack may send only to 10.0.2.2:<the server's port>."""
    allow = ((IPv4Network(f"{HOST}/32"), web.port),)
    with Machine(virtio=request.param, restrict=False) as m, \
            Stack.on(m, InterfaceConfig(allow=allow)) as net:
        net.configure()
        yield net
        assert net.iface.stats["ipv4_tx_drop_not_allowed"] == 0


def quiet(*args):
    pass


def cli(*args, timeout=120):
    return subprocess.run(CLI + list(args), capture_output=True, text=True, timeout=timeout)


# -- wget ---------------------------------------------------------------------------------------

@pytest.mark.timeout(120)
def test_wget_10_mb_gives_the_same_sha256(client, web, tmp_path):
    target = tmp_path / "file"
    summary = wget(client, f"http://{HOST}:{web.port}/file", target, out=quiet)
    assert summary["sha256"] == web.sha and summary["size"] == BIG
    assert hashlib.sha256(target.read_bytes()).hexdigest() == web.sha
    print(f"\n10 MB: {summary['bytes_per_second'] / 1e6:.2f} MB/s")


@pytest.mark.timeout(120)
def test_wget_a_chunked_body_and_a_chain_of_redirects(client, web):
    summary = wget(client, f"http://{HOST}:{web.port}/chunked", out=quiet)
    assert summary["chunked"] and summary["sha256"] == web.sha
    summary = wget(client, f"http://{HOST}:{web.port}/hop/3", out=quiet)
    assert [r["status"] for r in summary["redirects"]] == [308, 307, 301, 302]
    assert summary["final_url"] == f"http://{HOST}:{web.port}/file"
    assert summary["sha256"] == web.sha


def test_wget_404_endless_redirects_and_a_port_off_the_allow_list(client, web):
    with pytest.raises(HttpStatusError, match="404") as info:
        wget(client, f"http://{HOST}:{web.port}/nothing", out=quiet)
    assert info.value.status == 404
    with pytest.raises(WgetError, match=f"more than {MAX_REDIRECTS} redirects"):
        wget(client, f"http://{HOST}:{web.port}/loop", out=quiet)
    with pytest.raises(WgetError, match="not on the stack's egress allow-list"):
        wget(client, f"http://{HOST}:{web.port + 1}/", out=quiet)


@pytest.mark.timeout(120)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cli_wget_10_mb(web, tmp_path, transport):
    target = tmp_path / "got"
    r = cli("wget", f"http://{HOST}:{web.port}/file", "-O", str(target), "--json",
            *(["--modern"] if transport == "modern" else []))
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["sha256"] == web.sha and summary["size"] == BIG
    assert hashlib.sha256(target.read_bytes()).hexdigest() == web.sha
    print(f"\nCLI, {transport}: {summary['bytes_per_second'] / 1e6:.2f} MB/s")


def test_cli_wget_prints_like_wget_and_names_its_errors(web, tmp_path):
    r = cli("wget", f"http://{HOST}:{web.port}/head/1000", "-O", str(tmp_path / "k"))
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1:4] == [f"Connecting to {HOST}:{web.port}... connected.",
                          "HTTP request sent, awaiting response... 200 OK", "Length: 1000"]
    assert f"sha256 {hashlib.sha256(web.data[:1000]).hexdigest()}  1000 bytes" in r.stdout
    r = cli("wget", f"http://{HOST}:{web.port}/nothing", "-O", str(tmp_path / "n"))
    assert r.returncode == 1 and "server answered 404 Not Found" in r.stderr
    assert not (tmp_path / "n").exists()
    with socket.socket() as s:                          # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    r = cli("wget", f"http://{HOST}:{closed}/", "-O", str(tmp_path / "r"))
    assert r.returncode == 2 and "connection refused" in r.stderr, r.stderr
    r = cli("wget", "https://10.0.2.2/")
    assert r.returncode == 2 and "only http://" in r.stderr


@pytest.mark.timeout(240)
@pytest.mark.parametrize("transport", TRANSPORTS)
def test_cli_wget_through_faults_both_ways(web, tmp_path, transport):
    target = tmp_path / "got"
    start = time.monotonic()
    r = cli("wget", f"http://{HOST}:{web.port}/head/{FAULT_BYTES}", "-O", str(target), "--json",
            "--timeout", "30", "--faults", "drop=0.05,corrupt=0.01,seed=3",
            *(["--modern"] if transport == "modern" else []), timeout=230)
    assert r.returncode == 0, r.stderr
    summary = json.loads(r.stdout)
    assert summary["sha256"] == hashlib.sha256(web.data[:FAULT_BYTES]).hexdigest()
    print(f"\nfaults, {transport}: {FAULT_BYTES} bytes at "
          f"{summary['bytes_per_second'] / 1e3:.1f} KB/s, {time.monotonic() - start:.1f} s in all")


# -- a guest listener, host clients through hostfwd ---------------------------------------------

class EchoServer:
    """The guest side: ``net.listen(port)``; a thread accepts, a thread per connection
    echoes until the peer closes.  ``errors`` keeps what went wrong, ``conns`` the open ones."""

    def __init__(self, net, port=80, backlog=64):
        self.server = net.listen(port, backlog)
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.errors, self.conns, self.threads = [], [], []
        self.served = self.most_at_once = 0
        self.accepter = threading.Thread(target=self.accept, daemon=True)
        self.accepter.start()

    def accept(self):
        while not self.stop.is_set():
            try:
                conn = self.server.accept(timeout=0.2)
            except StackTimeout:
                continue
            except Exception as err:
                self.errors.append(err)
                return
            thread = threading.Thread(target=self.echo, args=(conn,), daemon=True)
            with self.lock:
                self.conns.append(conn)
                self.most_at_once = max(self.most_at_once, len(self.conns))
                self.threads.append(thread)
            thread.start()

    def echo(self, conn):
        try:
            while data := conn.recv(65536, timeout=60):
                conn.sendall(data)
            conn.close()
            with self.lock:
                self.served += 1
        except Exception as err:
            self.errors.append(err)
            conn.abort()
        finally:
            with self.lock:
                self.conns.remove(conn)

    def close(self):
        self.stop.set()
        self.accepter.join(5)
        for thread in self.threads:
            thread.join(10)
        self.server.close()
        assert not self.accepter.is_alive() and not any(t.is_alive() for t in self.threads)


def host_echo(port: int, data: bytes, timeout: float = 60) -> bytes:
    """A plain host socket to 127.0.0.1:port: send ``data`` (then FIN) while reading it back."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        def send():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
        sender = threading.Thread(target=send, daemon=True)
        sender.start()
        received = bytearray()
        while chunk := s.recv(65536):
            received += chunk
        sender.join(timeout)
    return bytes(received)


@pytest.fixture(scope="module", params=TRANSPORTS)
def server(request):
    """A restricted machine (hostfwd host 127.0.0.1:<port> -> guest 80) with an echo server."""
    with Machine(virtio=request.param) as m, \
            Stack.on(m, InterfaceConfig(allow=(IPv4Network(f"{HOST}/32"),))) as net:
        net.configure()
        echo = EchoServer(net)
        yield m, net, echo
        echo.close()
        assert not echo.errors


@pytest.mark.timeout(120)
def test_a_host_client_through_hostfwd_gets_1_mb_echoed(server):
    m, net, echo = server
    data = random.Random(1).randbytes(1 << 20)
    start = time.monotonic()
    assert host_echo(m.host_ports["http"], data) == data
    print(f"\n1 MB echoed in {time.monotonic() - start:.2f} s")


@pytest.mark.timeout(120)
def test_64_host_connections_at_once(server):
    """64 host clients open connections, exchange a little, wait for one another (so all 64
    are open together), exchange again at once and close at once.

    slirp listens on the host with a backlog of 1: a burst of connects completes in the
    host kernel, whose accept queue (2) drops the handshake's last ACK for the rest; they
    then get in only as the kernel retransmits its SYN-ACK (1 s, 2 s, 4 s ...), two at a
    time.  So the clients are let in two at a time (``admission``), each until its first
    echo proves slirp accepted it; everything after that happens at once."""
    m, net, echo = server
    port, n = m.host_ports["http"], 64
    admission = threading.Semaphore(2)
    everyone = threading.Barrier(n, timeout=60)

    def exchange(s, message):
        s.sendall(message)
        got = b""
        while len(got) < len(message):
            got += s.recv(4096) or b"EOF"
        assert got == message

    def client(i):
        with admission:
            s = socket.create_connection(("127.0.0.1", port), timeout=30)
            exchange(s, b"first %d " % i * 20)
        with s:
            everyone.wait()
            exchange(s, b"second %d " % i * 200)
            everyone.wait()
        return i

    served = echo.served
    with ThreadPoolExecutor(n) as pool:
        assert sorted(pool.map(client, range(n))) == list(range(n))
    net.wait_for(lambda: echo.served >= served + n, 10, "64 connections closed")
    assert echo.most_at_once >= n and not echo.errors


# -- hostile traffic on the hub -----------------------------------------------------------------

FAKE_NET = [IPv4Address(f"10.0.2.{i}") for i in range(100, 200)]


def fake_mac(i: int) -> EthernetAddress:
    return EthernetAddress(bytes([2, 0, 0, 0x5E, i >> 8, i & 0xFF]))


def segment(src, dst, sport, dport, seq, ack, flags, *, window=65535, options=b"", payload=b"",
            offset=None, checksum=True) -> bytes:
    """A TCP segment built by hand, so it may lie: ``offset`` (the data offset in bytes,
    default the real one), ``checksum=False`` (a wrong one)."""
    offset = 20 + len(options) if offset is None else offset
    raw = bytearray(struct.pack("!HHIIHHHH", sport, dport, seq, ack,
                                (offset // 4) << 12 | int(flags), window, 0, 0) + options + payload)
    total = internet_checksum(raw, pseudo_header_sum(src, dst, IpProtocol.TCP, len(raw)))
    struct.pack_into("!H", raw, 16, total if checksum else total ^ 0x5A5A)
    return bytes(raw)


def tcp_frame(net, src, src_mac, seg: bytes) -> bytes:
    packet = ipv4.Repr(IPv4Address(src), net.iface.address, IpProtocol.TCP, seg).to_bytes()
    return ethernet.Repr(src_mac, net.iface.mac, EtherType.IPV4, packet).to_bytes()


def inject(m, net, frames, timeout=60.0) -> list[bytes]:
    """Send in bursts the RX ring takes, then a marker: an echo request from 10.0.2.2.  Once
    its reply is on the hub, the stack has read every frame before it.  Returns the frames
    seen on the hub meanwhile (slirp's among them: it sees the injected frames too)."""
    ident = random.getrandbits(16)
    request = icmp.Repr.echo_request(ident, 1, b"marker").to_bytes()
    marker = ethernet.Repr(SLIRP_MAC, net.iface.mac, EtherType.IPV4, ipv4.Repr(
        IPv4Address(HOST), net.iface.address, IpProtocol.ICMP, request).to_bytes()).to_bytes()
    for i in range(0, len(frames), 64):
        for f in frames[i:i + 64]:
            m.wire.send(f)
        time.sleep(0.005)
    m.wire.send(marker)
    seen, deadline = [], time.monotonic() + timeout
    while time.monotonic() < deadline:
        if (f := m.wire.receive(0.5)) is None:
            continue
        seen.append(f)
        if f[:6] == bytes(SLIRP_MAC) and f[12:14] == b"\x08\x00" and f[23] == IpProtocol.ICMP:
            reply = icmp.Repr.parse(ipv4.Repr.parse(f[14:]).payload)
            if reply.type == icmp.IcmpType.ECHO_REPLY and reply.ident == ident:
                return seen
    raise AssertionError(f"the stack did not answer the marker after {len(frames)} frames "
                         f"within {timeout} s")


@pytest.fixture(scope="module", params=TRANSPORTS)
def hub(request):
    """NIC + slirp (restrict=on) + the test's raw-frame socket on one hub; an echo server
    on 80 reached through hostfwd.  The allow-list covers only the hub's own 10.0.2.0/24."""
    with Machine(virtio=request.param, wire=True) as m, \
            Stack.on(m, InterfaceConfig(allow=(IPv4Network("10.0.2.0/24"),))) as net:
        net.configure()
        echo = EchoServer(net)
        yield m, net, echo
        echo.close()


def listener_view(net) -> dict:
    return next(s for s in net.status()["sockets"] if s.get("local") == "*:80")


def serving(m, n=4, size=20_000) -> bool:
    data = random.Random(n).randbytes(size)
    return all(host_echo(m.host_ports["http"], data, timeout=30) == data for _ in range(n))


@pytest.mark.timeout(180)
def test_a_syn_flood_from_fake_hosts_leaves_the_listener_serving(hub):
    """3,000 SYNs from 100 fake hosts.  The 50 that answer ARP get SYN-ACKs, which slirp
    (on the hub, restrict=on) answers with RSTs for them; the others' SYN-ACKs wait for ARP
    (the queue is bounded: ``ipv4_tx_drop_arp_queue_full``).  The listener keeps at most
    ``max_half_open`` and drops the oldest (``half_open_dropped``); then it serves."""
    m, net, echo = hub
    assert serving(m)
    listener = echo.server.listener
    rng = random.Random(5)
    # half the fake hosts introduce themselves (we learn their MACs and our SYN-ACKs leave);
    # the others never answer ARP, so their SYN-ACKs wait in the neighbour queue
    hello = [ethernet.Repr(fake_mac(i), net.iface.mac, EtherType.ARP, arp.Repr(
        arp.Operation.REQUEST, fake_mac(i), ip, EthernetAddress(bytes(6)),
        net.iface.address).to_bytes()).to_bytes() for i, ip in enumerate(FAKE_NET[:50])]
    syns = [tcp_frame(net, FAKE_NET[i % 100], fake_mac(i % 100),
                      segment(FAKE_NET[i % 100], net.iface.address, 1024 + i, 80,
                              rng.getrandbits(32), 0, F.SYN, window=rng.randrange(65536)))
            for i in range(3000)]
    with net.lock:
        stats = dict(listener.stats)
    seen = inject(m, net, hello + syns)
    # while the flood's half-open connections are there, real clients still get in
    assert serving(m)
    view = listener_view(net)
    assert view["half_open"] <= listener.max_half_open
    assert listener.stats["syns"] - stats.get("syns", 0) >= 3000
    # the 1,500 SYNs of the silent hosts stay half-open: all but max_half_open are dropped
    # (those of the hosts that answer ARP may go sooner, by slirp's RST, or be dropped too)
    dropped = listener.stats["half_open_dropped"] - stats.get("half_open_dropped", 0)
    assert dropped >= 1500 - listener.max_half_open
    with net.lock:
        assert len(listener.children) <= listener.max_half_open + listener.backlog
        assert len(net.iface.neighbors.entries) <= CAPACITY
        assert len(net.iface.neighbors.pending) <= PENDING_ADDRESSES
    synacks = sum(f[:4] == b"\x02\x00\x00\x5e" and f[23] == 6 and f[47] == F.SYN | F.ACK
                  for f in seen)
    assert synacks > 0                           # to the fake hosts that answered ARP
    assert net.error is None and serving(m)


@pytest.mark.timeout(180)
def test_hostile_segments_are_dropped_by_name_and_connections_survive(hub):
    m, net, echo = hub
    port = m.host_ports["http"]
    rng = random.Random(6)
    me, fake, mac = net.iface.address, FAKE_NET[7], fake_mac(7)

    # a real connection through hostfwd, held open while the hostile segments arrive
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"before")
        assert s.recv(100) == b"before"
        conn = next(c for c in echo.conns if c.socket.state.value == "ESTABLISHED")
        peer_ip, peer_port = conn.socket.remote
        with net.lock:
            stats, conn_stats = net.iface.stats.copy(), conn.socket.stats.copy()

        def syn(**kw):
            return segment(fake, me, rng.randrange(1024, 65536), 80, rng.getrandbits(32), 0,
                           F.SYN, **kw)
        broken = {
            "tcp_rx_drop_checksum": [syn(checksum=False)],
            "tcp_rx_drop_data_offset": [syn(offset=12), syn(offset=60), syn(offset=0)],
            "tcp_rx_drop_options": [
                syn(options=b"\x02\x00\x05\xb4"),                # MSS with length 0
                syn(options=b"\x02\x09\x05\xb4"),                # a length past the header
                syn(options=b"\x03\x02\x07\x01"),                # window scale, length 2
                syn(options=b"\x08\x06" + bytes(6)),             # timestamps, 4 data bytes
                syn(options=b"\x05\x07" + bytes(6))],            # SACK of 5 bytes
            "tcp_rx_drop_length": [segment(fake, me, 1, 80, 0, 0, F.SYN)[:12]],
        }
        frames = [tcp_frame(net, fake, mac, seg) for segs in broken.values() for seg in segs]
        # well-formed but absurd: everything set, an MSS of 0, window scale 255, unknown options
        absurd = [syn(options=b"\x02\x04\x00\x00\x03\x03\xff\x04\x02\x63\x1e" + bytes(28)
                      + b"\x01"),
                  segment(fake, me, 4000, 80, 1, 1, F.SYN | F.FIN | F.RST | F.PSH | F.ACK | F.URG),
                  segment(fake, me, 4001, 80, 1, 1, F(0)),             # no flags at all
                  segment(fake, me, 4002, 80, 1, 1, F.ACK, payload=b"data for no one")]
        frames += [tcp_frame(net, fake, mac, seg) for seg in absurd]
        # blind RST, RST+ACK, SYN and data at the real connection, random sequence numbers
        for flags in [F.RST, F.RST | F.ACK, F.SYN, F.ACK] * 50:
            frames.append(tcp_frame(net, peer_ip, SLIRP_MAC, segment(
                peer_ip, me, peer_port, 80, rng.getrandbits(32), rng.getrandbits(32), flags,
                payload=b"x" * 10 if flags == F.ACK else b"")))
        inject(m, net, frames)

        after = net.iface.stats
        for counter, segs in broken.items():
            assert after[counter] - stats.get(counter, 0) >= len(segs), counter
        named = {k: conn.socket.stats[k] - conn_stats.get(k, 0) for k in conn.socket.stats}
        assert named.get("rx_drop_out_of_window", 0) + named.get("challenge_acks", 0) >= 190, named
        assert conn.socket.state.value == "ESTABLISHED"
        s.sendall(b"after")                              # the connection survived
        assert s.recv(100) == b"after"
    assert net.error is None and serving(m)
    with net.lock:
        assert listener_view(net)["half_open"] <= echo.server.listener.max_half_open


@pytest.mark.timeout(120)
def test_real_clients_get_in_during_a_sustained_syn_flood(hub):
    """~320 SYNs a second from hosts that never answer, below what the stack can take in
    (~540 frames/s here): the half-open table (256, oldest out) turns over in ~0.8 s, far
    slower than a real handshake, so real clients get in.  (A flood faster than the stack
    reads fills the NIC's ring and QEMU's queue: real SYNs then wait behind it, SYN cookies
    or not -- a limit of a Python stack over qtest, measured in benchmarks, not tested.)"""
    m, net, echo = hub
    stop, rng = threading.Event(), random.Random(7)

    def flood():
        i = 0
        while not stop.is_set():
            for _ in range(64):
                ip = FAKE_NET[50 + i % 50]                  # never answer ARP
                m.wire.send(tcp_frame(net, ip, fake_mac(50 + i % 50), segment(
                    ip, net.iface.address, 1024 + i % 60000, 80, rng.getrandbits(32), 0, F.SYN)))
                i += 1
            time.sleep(0.2)                                 # ~320 SYNs a second

    flooder = threading.Thread(target=flood, daemon=True)
    flooder.start()
    try:
        time.sleep(1)
        data = b"real client " * 100
        answered = 0
        for _ in range(2):
            try:
                answered += host_echo(m.host_ports["http"], data, timeout=2) == data
            except OSError:                                 # reset, or timed out
                pass
    finally:
        stop.set()
        flooder.join(10)
    assert answered == 2
