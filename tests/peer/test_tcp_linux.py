"""TCP between the lab's stack and a real Linux on a private segment (issue 14).

slirp offers only MSS; Linux offers window scaling, timestamps and SACK, so these are the
tests where our options are negotiated -- and honoured, which the machine's capture
(``Machine(pcap=...)``, QEMU's filter-dump on our NIC) shows frame by frame:

* our stack as client: 10 MiB from the peer's busybox httpd, same SHA-256 as ``sha256sum``;
* Linux as client: busybox ``wget`` fetches 10 MiB from our listener, hashed on Linux;
* both again with a ``FaultInjector`` on our side (Linux has no ``tc`` qdisc to drop with):
  5 % of frames dropped and 1 % corrupted each way -- Linux retransmits to us, our ACKs
  carry SACK blocks; we retransmit, fast-retransmit and fill holes the peer's SACK names;
* 64 wget clients at once against one listener.

(Linux pinging us with 3000-byte fragments is in test_link.py.)  One peer and one machine
for the module; each test brings up its own ``Stack`` on the machine's NIC.  The capture
sits under pytest's tmp folder: when a test fails, read it with tshark.
"""

import hashlib
import os
import re
import struct
import threading
import time
from contextlib import contextmanager
from ipaddress import IPv4Address

import pytest

from dos64lab.errors import Dos64LabError
from dos64lab.machine import Machine
from dos64lab.peer import LinuxPeer
from dos64lab.stack import Stack
from dos64lab.wire import ethernet, ipv4, tcp
from dos64lab.wire.ethernet import EtherType
from dos64lab.wire.ipv4 import IpProtocol
from dos64lab.wire.tcp import TcpFlags as F

OUR_IP = IPv4Address("10.0.2.15")
PEER_IP = "10.0.2.16/24"
BIG = 10 * 1024 * 1024              # clean transfers
LOSSY = 3 * 1024 * 1024             # with loss: ~2,200 segments, ~100 lost each way
FAULTS = {"drop": 0.05, "corrupt": 0.01}
MSS_WITH_TS = 1460 - 12             # Ethernet MSS less the timestamps option


@pytest.fixture(scope="module")
def rig(tmp_path_factory):
    capture = tmp_path_factory.mktemp("tcp_linux") / "wire.pcap"
    peer = LinuxPeer(ip=PEER_IP)
    with Machine(link=peer, pcap=str(capture)) as m, peer:
        yield m, peer, capture


@contextmanager
def stack(m, faults=None):
    with Stack.on(m, faults=faults) as net:
        net.configure(f"{OUR_IP}/24", gateway=None)
        yield net


# -- the capture ------------------------------------------------------------------------

class Wire:
    """The TCP segments of one connection in the capture, from ``mark()`` on."""

    def __init__(self, path):
        self.path, self.start = path, os.path.getsize(path)

    def segments(self, port: int) -> list[tuple[bool, tcp.Repr]]:
        """(from us?, segment) for every TCP segment to or from ``port`` on either side.
        Frames our FaultInjector corrupted on the way out are skipped (Linux drops them too)."""
        with open(self.path, "rb") as f:
            f.seek(self.start)
            data = f.read()
        out, pos = [], 0
        while pos + 16 <= len(data):
            _, _, n, _ = struct.unpack_from("<IIII", data, pos)
            frame, pos = data[pos + 16:pos + 16 + n], pos + 16 + n
            if len(frame) < n:
                break                                  # QEMU is still writing this one
            try:
                eth = ethernet.Repr.parse(frame)
                if eth.ethertype != EtherType.IPV4:
                    continue
                ip = ipv4.Repr.parse(eth.payload)
                if ip.protocol != IpProtocol.TCP or ip.is_fragment:
                    continue
                seg = tcp.Repr.parse(ip.payload, ip.src, ip.dst)
            except (Dos64LabError, ValueError, struct.error):
                continue
            if port in (seg.src_port, seg.dst_port):
                out.append((ip.src == OUR_IP, seg))
        return out


def mark(rig) -> Wire:
    return Wire(rig[2])


def sent_by(segments, us: bool) -> list[tcp.Repr]:
    return [s for mine, s in segments if mine == us]


def rel(seq: int, base: int) -> int:
    return (seq - base) & 0xFFFFFFFF


def max_flight(segments, sender_is_us: bool) -> int:
    """The most bytes the sender had sent beyond the receiver's newest cumulative ACK."""
    data = [s for mine, s in segments if mine == sender_is_us and s.payload]
    if not data:
        return 0
    base, acked, top, most = data[0].seq, 0, 0, 0
    for mine, s in segments:
        if mine == sender_is_us and s.payload:
            top = max(top, rel(s.seq, base) + len(s.payload))
        elif mine != sender_is_us and s.flags & F.ACK and rel(s.ack, base) < 1 << 31:
            acked = max(acked, rel(s.ack, base))
        most = max(most, top - acked)
    return most


def retransmissions(segments, sender_is_us: bool) -> tuple[int, int]:
    """(retransmitted data segments, those that skipped bytes the receiver had SACKed).

    Without SACK a sender retransmits at the cumulative ACK, or everything from there on
    (after a timeout): contiguously.  A retransmission above the cumulative ACK that is not
    contiguous with the one before, over bytes a SACK block named, is SACK at work."""
    data = [s for mine, s in segments if mine == sender_is_us and s.payload]
    if not data:
        return 0, 0
    base, acked, top, again, skipped, prev_end = data[0].seq, 0, 0, 0, 0, 0
    sacked: list[tuple[int, int]] = []
    for mine, s in segments:
        if mine != sender_is_us:
            if s.flags & F.ACK and rel(s.ack, base) < 1 << 31:
                acked = max(acked, rel(s.ack, base))
            sacked += [(rel(l, base), rel(r, base)) for l, r in s.sack_blocks]
            continue
        if not s.payload:
            continue
        start = rel(s.seq, base)
        if start + len(s.payload) <= top:
            again += 1
            lo = prev_end if acked < prev_end < start else acked
            if start > acked and start != prev_end and any(l < start and r > lo
                                                           for l, r in sacked):
                skipped += 1
            prev_end = start + len(s.payload)
        top = max(top, start + len(s.payload))
    return again, skipped


def check_handshake(segments, our_syn_flags, their_syn_flags):
    """Both SYNs offered MSS, window scale, SACK-permitted and timestamps."""
    ours = [s for s in sent_by(segments, True) if s.flags & F.SYN]
    theirs = [s for s in sent_by(segments, False) if s.flags & F.SYN]
    assert ours and theirs, "no handshake in the capture"
    for syn, flags in ((ours[0], our_syn_flags), (theirs[0], their_syn_flags)):
        assert syn.flags & (F.SYN | F.ACK) == flags
        assert syn.mss == 1460 and syn.window_scale and syn.sack_permitted and syn.timestamps, syn
    return ours[0], theirs[0]


def check_timestamps_everywhere(segments):
    """RFC 7323 §3.2: once negotiated, every segment but an RST carries timestamps; each
    side echoes the other's (TSecr non-zero after the handshake)."""
    for mine, s in segments:
        if s.flags & F.RST:
            continue
        assert s.timestamps is not None, f"{'our' if mine else 'Linux'} segment without TS: {s}"
        if s.flags & F.ACK:
            assert s.timestamps.tsecr != 0, s


def check_options_in_use(info):
    ws_theirs, ws_ours = info["window_scale"]
    assert info["sack"] is True and info["timestamps"] is True, info
    assert ws_theirs > 0 and ws_ours > 0, info
    assert info["mss"] == MSS_WITH_TS, info


# -- serving from our side ----------------------------------------------------------------

def read_request(conn, timeout=10.0) -> bytes:
    request = b""
    while b"\r\n\r\n" not in request:
        chunk = conn.recv(4096, timeout=timeout)
        if not chunk:
            break
        request += chunk
    return request


def serve_once(net, port, body: bytes, result: dict, timeout=120.0):
    """A thread answering one HTTP GET with ``body``; ``result`` gets the connection's info."""
    server = net.listen(port)

    def run():
        try:
            conn = server.accept(30)
            result["request"] = read_request(conn)
            conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body,
                         timeout=timeout)
            conn.close(timeout=30)
            result["info"] = conn.info()
        except BaseException as err:             # the test reports it
            result["error"] = err
        finally:
            server.close()

    thread = threading.Thread(target=run, name="serve_once", daemon=True)
    thread.start()
    return thread


def linux_fetch(peer, port, size, timeout):
    """Linux's wget fetches from us; returns the SHA-256 Linux computed and its byte count."""
    out, status = peer.run(f"wget -q -O - http://{OUR_IP}:{port}/blob | tee /tmp/got | sha256sum;"
                           f" wc -c < /tmp/got; rm -f /tmp/got", timeout=timeout)
    assert status == 0, out
    words = out.split()                        # "<sha256>  -" and the count
    return words[0], int(words[-1])


# -- fetching from Linux's httpd ----------------------------------------------------------

def put_file(peer, name, size) -> str:
    out, status = peer.run(f"dd if=/dev/urandom of=/www/{name} bs=1M count={size >> 20} "
                           f"2>/dev/null && sha256sum /www/{name}", timeout=60)
    assert status == 0, out
    return out.split()[0]


def http_get(net, host, path, timeout=60.0):
    conn = net.connect(host, 80)
    conn.sendall(f"GET /{path} HTTP/1.0\r\nHost: {host}\r\n\r\n".encode())
    data = bytearray()
    while chunk := conn.recv(1 << 20, timeout=timeout):
        data += chunk
    info = conn.info()
    conn.close()
    head, _, body = bytes(data).partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.") and b" 200 " in head.split(b"\r\n")[0], head[:200]
    return body, info


# -- the tests ----------------------------------------------------------------------------

def test_our_client_fetches_10_mib_from_linux_with_its_options(rig):
    m, peer, _ = rig
    want = put_file(peer, "big", BIG)
    wire = mark(rig)
    with stack(m) as net:
        t0 = time.monotonic()
        body, info = http_get(net, peer.address, "big")
        elapsed = time.monotonic() - t0
    peer.run("rm -f /www/big")
    assert len(body) == BIG and hashlib.sha256(body).hexdigest() == want
    check_options_in_use(info)
    assert info["retransmits"] == 0, info
    segments = wire.segments(int(info["local"].split(":")[1]))
    check_handshake(segments, F.SYN, F.SYN | F.ACK)
    check_timestamps_everywhere(segments)
    # our window, scaled, let Linux keep more than 64 KiB in flight (unscaled it could not)
    assert max_flight(segments, sender_is_us=False) > 0xFFFF
    print(f"Linux -> us: {BIG / elapsed / 1e6:.2f} MB/s")


def test_linux_wget_fetches_10_mib_from_our_listener(rig):
    m, peer, _ = rig
    body = os.urandom(BIG)
    result = {}
    wire = mark(rig)
    with stack(m) as net:
        thread = serve_once(net, 8080, body, result)
        t0 = time.monotonic()
        digest, count = linux_fetch(peer, 8080, BIG, timeout=120)
        elapsed = time.monotonic() - t0
        thread.join(60)
    assert "error" not in result, result.get("error")
    assert result["request"].startswith(b"GET /blob HTTP/1.")
    assert count == BIG and digest == hashlib.sha256(body).hexdigest()
    info = result["info"]
    check_options_in_use(info)
    segments = wire.segments(8080)
    check_handshake(segments, F.SYN | F.ACK, F.SYN)
    check_timestamps_everywhere(segments)
    # Linux's window, scaled, let us keep more than 64 KiB in flight
    assert max_flight(segments, sender_is_us=True) > 0xFFFF
    print(f"us -> Linux: {BIG / elapsed / 1e6:.2f} MB/s")


def test_linux_to_us_through_loss_and_corruption(rig):
    """Linux sends through our FaultInjector: it retransmits, our ACKs name the holes in
    SACK blocks, and the bytes arrive intact."""
    m, peer, _ = rig
    want = put_file(peer, "lossy", LOSSY)
    wire = mark(rig)
    with stack(m, faults={**FAULTS, "seed": 14}) as net:
        body, info = http_get(net, peer.address, "lossy")
        faults = net.device.stats
    peer.run("rm -f /www/lossy")
    assert len(body) == LOSSY and hashlib.sha256(body).hexdigest() == want
    assert faults.dropped > 0 and faults.corrupted > 0, faults
    check_options_in_use(info)
    segments = wire.segments(int(info["local"].split(":")[1]))
    again, _ = retransmissions(segments, sender_is_us=False)
    our_sacks = [s for s in sent_by(segments, True) if s.sack_blocks]
    assert again > 0, "Linux never retransmitted: did the faults apply?"
    assert our_sacks, "none of our ACKs carried a SACK block"
    assert all(len(s.sack_blocks) <= 3 for s in our_sacks)       # 3 beside timestamps
    print(f"Linux -> us, {faults}: {again} retransmitted by Linux, "
          f"{len(our_sacks)} of our ACKs with SACK blocks")


def test_us_to_linux_through_loss_and_corruption(rig):
    """We send through our FaultInjector: retransmissions, fast retransmits, and holes
    above the cumulative ACK filled from Linux's SACK blocks."""
    m, peer, _ = rig
    body = os.urandom(LOSSY)
    result = {}
    wire = mark(rig)
    with stack(m, faults={**FAULTS, "seed": 9}) as net:
        thread = serve_once(net, 8081, body, result, timeout=240)
        digest, count = linux_fetch(peer, 8081, LOSSY, timeout=240)
        thread.join(60)
        faults = net.device.stats
    assert "error" not in result, result.get("error")
    assert count == LOSSY and digest == hashlib.sha256(body).hexdigest()
    assert faults.dropped > 0 and faults.corrupted > 0, faults
    info = result["info"]
    check_options_in_use(info)
    assert info["retransmits"] > 0 and info["fast_retransmits"] > 0, info
    segments = wire.segments(8081)
    their_sacks = [s for s in sent_by(segments, False) if s.sack_blocks]
    again, skipping = retransmissions(segments, sender_is_us=True)
    assert their_sacks, "Linux never sent a SACK block"
    assert skipping > 0, "no retransmission skipped what Linux SACKed: SACK unused"
    print(f"us -> Linux, {faults}: retransmits {info['retransmits']}, fast "
          f"{info['fast_retransmits']}, timeouts {info['timeouts']}; {skipping} of {again} "
          f"retransmissions on the wire skipped SACKed bytes")


def body_for(path: bytes) -> bytes:
    return hashlib.sha256(path).digest() * 1024                  # 32 KiB, named by the path


def burst(m, peer, port, clients, backlog, accept_delay=0.0):
    """``clients`` wget processes on Linux start together against one listener; each
    connection is served on a thread of its own (after ``accept_delay``: a slow server).
    Returns what Linux got ({i: sha256}), Linux's output, what we served, errors, and the
    listener's description."""
    served, errors, accepted, stop = [], [], [], threading.Event()
    with stack(m) as net:
        server = net.listen(port, backlog=backlog)

        def handle(conn):
            try:
                request = read_request(conn)
                path = request.split(b" ")[1]
                body = body_for(path)
                conn.sendall(b"HTTP/1.0 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body)
                             + body, timeout=60)
                conn.close(timeout=30)
                served.append(path)
            except BaseException as err:
                errors.append(err)

        def acceptor():
            while len(accepted) < clients and not stop.is_set():
                try:
                    conn = server.accept(0.5)
                except TimeoutError:
                    continue
                except BaseException as err:
                    errors.append(err)
                    return
                accepted.append(conn)
                time.sleep(accept_delay)
                threading.Thread(target=handle, args=(conn,), daemon=True).start()

        accepting = threading.Thread(target=acceptor, daemon=True)
        accepting.start()
        try:
            out, status = peer.run(
                f"for i in $(seq {clients}); do wget -q -O - http://{OUR_IP}:{port}/$i 2>&1 |"
                f" sha256sum > /tmp/p$i & done; wait; for i in $(seq {clients}); do"
                f" echo $i $(cat /tmp/p$i); done; rm -f /tmp/p*", timeout=120)
        finally:
            stop.set()
            accepting.join(30)
        deadline = time.monotonic() + 30
        while len(served) + len(errors) < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.05)
        listener = next(s for s in net.status()["sockets"] if s["kind"] == "TcpListener")
        server.close()
    assert status == 0, out
    got = dict(re.findall(r"^(\d+) ([0-9a-f]{64})", out, re.M))
    return got, out, served, errors, listener


def expected(clients):
    return {str(i): hashlib.sha256(body_for(f"/{i}".encode())).hexdigest()
            for i in range(1, clients + 1)}


def test_64_linux_clients_at_once(rig):
    """64 wget processes start together; a listener with a backlog of 64 serves them all,
    each its own body (named by the path), each checked on Linux."""
    m, peer, _ = rig
    got, out, served, errors, listener = burst(m, peer, 8082, clients=64, backlog=64)
    assert not errors, errors[:3]
    assert got == expected(64), (sorted(set(expected(64)) - set(got)), out[-500:], listener)
    assert sorted(served) == sorted(f"/{i}".encode() for i in range(1, 65))
    assert listener["stats"]["syns"] == 64 and not listener["stats"].get("backlog_full")


def test_32_clients_beyond_a_backlog_of_4_wait_rather_than_being_reset(rig):
    m, peer, _ = rig
    got, out, served, errors, listener = burst(m, peer, 8083, clients=32, backlog=4,
                                                accept_delay=0.05)
    assert got == expected(32), (listener, out[-300:])
