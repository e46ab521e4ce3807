"""Many frames through the Python driver: nothing lost, order kept, starvation survived.

ICMP echo requests to slirp's own address 10.0.2.2 (answered with restrict=on), each
with its number in the sequence field and in the payload; slirp answers each one
at once, so the replies must come back complete and in order.
"""

import struct
import time

import pytest
from scapy.layers.inet import ICMP, IP
from scapy.layers.l2 import ARP, Ether

from dos64lab.inspect import compare, qemu_queue
from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice

ME, GW = "52:54:00:12:34:56", "52:55:0a:00:02:02"
N = 10_000
BATCH = 64
_TEMPLATE = bytes(Ether(src=ME, dst=GW) / IP(src="10.0.2.15", dst="10.0.2.2")
                  / ICMP(id=0x64, seq=0) / bytes(8))
ICMP_AT = 14 + 20


def echo_request(n: int) -> bytes:
    """The template with sequence n and payload n; ICMP checksum recomputed."""
    icmp = bytearray(_TEMPLATE[ICMP_AT:])
    struct.pack_into(">HH", icmp, 2, 0, n & 0xFFFF)            # checksum 0, then seq
    icmp[8:] = n.to_bytes(8, "big")
    total = sum(struct.unpack(f">{len(icmp) // 2}H", icmp))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into(">H", icmp, 2, ~total & 0xFFFF)
    return _TEMPLATE[:ICMP_AT] + bytes(icmp)


def reply_number(frame: bytes) -> int:
    assert frame[12:14] == b"\x08\x00" and frame[ICMP_AT] == 0, frame.hex()   # IPv4, echo reply
    return int.from_bytes(frame[ICMP_AT + 8:ICMP_AT + 16], "big")


def arp_who_has() -> bytes:
    return bytes(Ether(src=ME, dst="ff:ff:ff:ff:ff:ff")
                 / ARP(op=1, hwsrc=ME, psrc="10.0.2.15", pdst="10.0.2.2"))


def wait_frames(dev, n, timeout=3.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += dev.receive_batch()
    return got


def introduce(dev):
    """slirp learns our MAC from an ARP request before it can answer IP."""
    dev.send(arp_who_has())
    assert len(wait_frames(dev, 1)) == 1


@pytest.fixture(scope="module")
def legacy():
    with Machine(virtio="legacy") as m:
        yield m


@pytest.fixture(scope="module")
def modern():
    with Machine(virtio="modern") as m:
        yield m


@pytest.mark.parametrize("kind, queue_size", [("legacy", None), ("modern", None), ("modern", 1)])
def test_ten_thousand_echoes_each_way_in_order(kind, queue_size, legacy, modern):
    m = legacy if kind == "legacy" else modern
    with VirtioNetDevice(m, queue_size=queue_size) as dev:
        assert dev.net.tx.size == dev.net.rx.size == (queue_size or 256)
        introduce(dev)
        received = []
        for start in range(0, N, BATCH):
            batch = [echo_request(n) for n in range(start, min(start + BATCH, N))]
            dev.send_batch(batch)
            received += wait_frames(dev, start + len(batch) - len(received))
        dev.flush()
        numbers = [reply_number(f) for f in received]
        assert numbers == list(range(N)), f"{len(numbers)} replies, first wrong at " \
            f"{next((i for i, (a, b) in enumerate(zip(numbers, range(N))) if a != b), None)}"
        assert dev.stats["tx_frames"] == N + 1 and dev.stats["rx_frames"] == N + 1
        assert dev.receive() is None                 # nothing more, nothing duplicated
        view = compare(dev, m)
        assert view["agree"], [c for c in view["checks"] if not c["agree"]]
        assert qemu_queue(m, 1)["used-idx"] == (N + 1) % 65536 == dev.net.tx.last_used_idx


def test_rx_starvation_then_refill_resumes(legacy):
    m = legacy
    with VirtioNetDevice(m) as dev:
        introduce(dev)
        dev.net.auto_refill = False                  # reap RX buffers but do not re-post them
        size = dev.net.rx.size
        dev.send_batch([echo_request(n) for n in range(size + 44)])
        first = wait_frames(dev, size)
        assert len(first) == size and dev.net.rx.in_flight == 0      # every buffer used
        time.sleep(0.05)
        assert dev.receive_batch() == []             # starved: 44 replies wait in QEMU
        q = qemu_queue(m, 0)
        assert q["last-avail-idx"] == q["shadow-avail-idx"] == dev.net.rx.published_idx
        assert dev.net.refill_rx() == size           # post them again, and kick
        rest = wait_frames(dev, 44)
        assert [reply_number(f) for f in first + rest] == list(range(size + 44))
        dev.net.auto_refill = True
        dev.send(echo_request(99_999))
        assert [reply_number(f) for f in wait_frames(dev, 1)] == [99_999]
