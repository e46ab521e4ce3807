"""One NIC shared between threads, wrong use of the driver, and the driver's own bookkeeping.

The stack polls on a background thread while notebook cells send through the same
device: these tests hammer that sharing on the real QEMU device.
"""

import struct
import threading

import pytest
from scapy.layers.l2 import ARP, Ether

from dos64lab.errors import DeviceError
from dos64lab.hw.dma import DmaAllocator
from dos64lab.hw.virtio import VirtioNet, open_transport
from dos64lab.inspect import compare
from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice

from .test_virtio_traffic import ICMP_AT, arp_who_has, echo_request, introduce, wait_frames

SENDERS, PER_SENDER = 4, 5_000


@pytest.fixture(scope="module", params=["legacy", "modern"])
def m(request):
    with Machine(virtio=request.param) as machine:
        yield machine


def echo_from(thread: int, n: int) -> bytes:
    """An echo request whose ICMP id names the thread (checksum adjusted)."""
    frame = bytearray(echo_request(n))
    old_id, = struct.unpack_from(">H", frame, ICMP_AT + 4)
    struct.pack_into(">H", frame, ICMP_AT + 4, thread)
    checksum, = struct.unpack_from(">H", frame, ICMP_AT + 2)
    total = checksum + old_id + (~thread & 0xFFFF)          # RFC 1624 incremental update
    total = (total & 0xFFFF) + (total >> 16)
    struct.pack_into(">H", frame, ICMP_AT + 2, (total & 0xFFFF) + (total >> 16))
    return bytes(frame)


def run_threads(target, count):
    errors = []

    def guarded(i):
        try:
            target(i)
        except BaseException as err:        # anything escaping a thread fails the test
            errors.append(err)

    threads = [threading.Thread(target=guarded, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    return errors


def test_four_senders_and_a_receiver_share_one_device(m):
    with VirtioNetDevice(m) as dev:
        introduce(dev)
        replies: dict[int, list[int]] = {t: [] for t in range(SENDERS)}
        done = threading.Event()
        receive_errors = []

        def receiver():
            try:
                expected = SENDERS * PER_SENDER
                while sum(map(len, replies.values())) < expected and not done.is_set():
                    for f in dev.receive_batch():
                        ident, = struct.unpack_from(">H", f, ICMP_AT + 4)
                        replies[ident].append(int.from_bytes(f[ICMP_AT + 8:ICMP_AT + 16], "big"))
            except BaseException as err:
                receive_errors.append(err)

        rx = threading.Thread(target=receiver)
        rx.start()

        def sender(t):
            for start in range(0, PER_SENDER, 50):      # single sends and batches, mixed
                if start % 100:
                    dev.send_batch(echo_from(t, n) for n in range(start, start + 50))
                else:
                    for n in range(start, start + 50):
                        dev.send(echo_from(t, n))

        errors = run_threads(sender, SENDERS)
        rx.join(60)
        done.set()
        assert not errors and not receive_errors, errors + receive_errors
        for t in range(SENDERS):                        # every frame answered once, in order
            assert replies[t] == list(range(PER_SENDER)), f"thread {t}"
        dev.flush()
        assert dev.stats["tx_frames"] == SENDERS * PER_SENDER + 1
        report = compare(dev, m)
        assert report["agree"], [r for r in report["checks"] if not r["agree"]]


def test_eight_threads_race_to_open_the_driver_exactly_one_wins(m):
    winners, refused = [], []
    barrier = threading.Barrier(8)

    def opener(_):
        barrier.wait()
        try:
            winners.append(VirtioNetDevice(m))
        except DeviceError as err:
            refused.append(err)

    errors = run_threads(opener, 8)
    try:
        assert not errors, errors
        assert len(winners) == 1 and len(refused) == 7, refused
        assert all("already driven" in str(e) for e in refused), refused
        dev = winners[0]
        dev.send(arp_who_has())                         # the winner's NIC was not disturbed
        assert Ether(wait_frames(dev, 1)[0])[ARP].op == 2
    finally:
        for w in winners:
            w.close()


def test_a_raw_driver_beside_the_device_is_refused_and_resets_nothing(m):
    # a transitional device has both transports: the claim covers the device, not one of them
    kinds = ["legacy", "modern"] if m.config.virtio == "legacy" else ["modern"]
    with VirtioNetDevice(m) as dev:
        for kind in kinds:
            other = open_transport(m.qtest, kind)
            with pytest.raises(DeviceError, match="already driven"):
                VirtioNet(other, DmaAllocator.for_machine(m))
            with pytest.raises(DeviceError, match="close it"):
                other.reset()                           # the transport alone can't reset it
        dev.send(arp_who_has())
        assert Ether(wait_frames(dev, 1)[0])[ARP].op == 2
    raw = VirtioNet(open_transport(m.qtest), DmaAllocator.for_machine(m))   # free again
    raw.close()


@pytest.mark.parametrize("call, what", [
    (lambda d: d.send(100), "int 100"),
    (lambda d: d.send({}), "dict {}"),
    (lambda d: d.send("x"), "str 'x'"),
    (lambda d: d.send(None), "NoneType None"),
    (lambda d: d.send_batch(b"\xff" * 60), "iterable of frames, not one bytes"),
    (lambda d: d.send_batch(7), "iterable of frames, not int 7"),
    (lambda d: d.send_batch([arp_who_has(), 3]), "frame 1: expected bytes"),
    (lambda d: d.send_batch(["abc" * 10]), "frame 0: expected bytes"),
])
def test_sending_something_that_is_not_a_frame(m, call, what):
    with VirtioNetDevice(m) as dev:
        with pytest.raises(DeviceError, match="(?s)" + ".*".join(map(re_escape, what.split()))):
            call(dev)
        assert dev.stats["tx_frames"] == 0                  # nothing went out
        dev.send(memoryview(bytearray(arp_who_has())))      # bytes-like frames are fine
        assert Ether(wait_frames(dev, 1)[0])[ARP].op == 2


def re_escape(text):
    import re
    return re.escape(text)


def test_every_call_after_close_says_closed(m):
    dev = VirtioNetDevice(m)
    dev.close()
    for call in (dev.flush, dev.receive, dev.receive_batch, dev.net.reap_tx,
                 dev.net.refill_rx, lambda: dev.send(arp_who_has())):
        with pytest.raises(DeviceError, match="closed"):
            call()


def test_compare_sees_a_driver_whose_own_books_are_wrong(m):
    with VirtioNetDevice(m) as dev:
        introduce(dev)
        dev.flush()
        assert compare(dev, m)["agree"]
        dev.net.tx_free.append(dev.net.tx_free[0])      # a TX buffer handed out twice
        report = compare(dev, m)
        assert not report["agree"]
        bad = [r for r in report["checks"] if not r["agree"]]
        assert [r["what"] for r in bad] == ["driver bookkeeping (free lists, buffers)"]
        assert "tx buffers" in str(bad[0]["ours"])
        dev.net.tx_free.pop()
        dev.net.rx.num_free += 1                        # a free list one short of num_free
        assert any("free list" in p or "num_free" in p for p in dev.net.consistency())
        dev.net.rx.num_free -= 1
        assert dev.net.consistency() == []


def test_a_flood_past_the_rings_and_qemus_queue_is_counted():
    """15,000 echo replies and nobody receiving: QEMU holds 10,000 and drops the rest."""
    with Machine(virtio="modern") as m, VirtioNetDevice(m, queue_size=8) as dev:
        introduce(dev)
        sent = 15_000
        dev.send_batch(echo_request(n) for n in range(sent))
        dev.flush(10)
        got = wait_frames(dev, sent, 8)
        assert len(got) < sent                           # frames were lost, as documented
        assert dev.stats["rx_ring_ran_dry"] > 0          # and the driver says it ran dry
        assert "rx_ring_ran_dry" in VirtioNetDevice.stats.__doc__ + dev.net.send_batch.__doc__
