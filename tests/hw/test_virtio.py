"""The Python virtio-net driver against QEMU's real device, both transports.

Traffic stays inside slirp: ARP, DHCP and ICMP echo to 10.0.2.2 only.  Frames are
built with scapy with explicit MACs (bytes only; scapy never sends anything).
"""

import time

import pytest
from scapy.layers.dhcp import BOOTP, DHCP
from scapy.layers.inet import ICMP, IP, UDP
from scapy.layers.l2 import ARP, Ether

from dos64lab.errors import DeviceError
from dos64lab.hw.virtio.features import LEGACY_ONLY
from dos64lab.hw.virtio import Feature, Status, VirtioError, open_transport, status_names
from dos64lab.inspect import compare, qemu_queue, qemu_status, read_rings
from dos64lab.machine import Machine
from dos64lab.phy import Device
from dos64lab.phy.virtio import VirtioNetDevice

ME, GW = "52:54:00:12:34:56", "52:55:0a:00:02:02"


def arp_who_has(ip="10.0.2.2"):
    return bytes(Ether(src=ME, dst="ff:ff:ff:ff:ff:ff")
                 / ARP(op=1, hwsrc=ME, psrc="10.0.2.15", hwdst="00:00:00:00:00:00", pdst=ip))


def echo_request(seq, payload=b"dos64lab"):
    return bytes(Ether(src=ME, dst=GW) / IP(src="10.0.2.15", dst="10.0.2.2")
                 / ICMP(id=0x64, seq=seq) / payload)


def dhcp_discover():
    return bytes(Ether(src=ME, dst="ff:ff:ff:ff:ff:ff")
                 / IP(src="0.0.0.0", dst="255.255.255.255") / UDP(sport=68, dport=67)
                 / BOOTP(chaddr=bytes.fromhex(ME.replace(":", "")) + bytes(10), xid=0x6464)
                 / DHCP(options=[("message-type", "discover"), "end"]))


def wait_frames(dev, n, timeout=2.0):
    got, deadline = [], time.monotonic() + timeout
    while len(got) < n and time.monotonic() < deadline:
        got += dev.receive_batch()
    return got


@pytest.fixture(scope="module", params=["legacy", "modern"])
def m(request):
    with Machine(virtio=request.param) as machine:
        yield machine


@pytest.fixture
def dev(m):
    with VirtioNetDevice(m) as d:
        yield d


# -- the handshake, step by step, as QEMU sees it ----------------------------------
def test_status_handshake_matches_qemu_at_every_step(m):
    t = open_transport(m.qtest, m.config.virtio)
    t.reset()
    assert t.read_status() == 0 and qemu_status(m)["status"] == 0
    steps = [Status.ACKNOWLEDGE, Status.DRIVER]
    for bit in steps:
        t.add_status(bit)
        assert qemu_status(m)["status"] == t.read_status() == t.driver_status
    offered = t.device_features()
    host = qemu_status(m)["host_features"]
    if t.kind == "modern":          # legacy-only bits are hidden from a modern driver
        assert offered == host & ~LEGACY_ONLY and offered >> 32
    else:                           # the legacy registers have 32 bits
        assert offered == host & 0xFFFFFFFF == 0x79BF8064
    assert offered & Feature.VIRTIO_NET_F_MAC
    assert bool(offered & Feature.VIRTIO_F_VERSION_1) == (t.kind == "modern")
    t.reset()
    features = t.negotiate(Feature.VIRTIO_NET_F_MAC)
    q = qemu_status(m)
    assert q["guest_features"] == features
    want = ["ACKNOWLEDGE", "DRIVER"] + (["FEATURES_OK"] if t.kind == "modern" else [])
    assert q["status_names"] == status_names(t.read_status()) == want
    t.reset()


def test_device_satisfies_the_phy_protocol_and_reads_its_mac(dev, m):
    assert isinstance(dev, Device)
    qom_mac = m.qmp.execute("qom-get", {"path": "/machine/peripheral/nic0", "property": "mac"})
    assert str(dev.mac) == qom_mac == ME
    assert dev.mtu == 1500 and dev.transport == m.config.virtio
    assert dev.net.header_len == (12 if m.config.virtio == "modern" else 10)
    assert dev.net.rx.size == dev.net.tx.size == 256
    assert dev.net.link_up() is True
    assert not dev.features & ~(Feature.VIRTIO_NET_F_MAC | Feature.VIRTIO_NET_F_STATUS
                                | Feature.VIRTIO_F_ANY_LAYOUT | Feature.VIRTIO_F_VERSION_1)


# -- slirp answers ---------------------------------------------------------------------
def test_arp_who_has_the_gateway(dev):
    dev.send(arp_who_has())
    [reply] = wait_frames(dev, 1)
    e = Ether(reply)
    assert e.src == GW and e.dst == ME and e[ARP].op == 2
    assert e[ARP].hwsrc == GW and e[ARP].psrc == "10.0.2.2" and e[ARP].pdst == "10.0.2.15"


def test_dhcp_discover_gets_an_offer(dev):
    dev.send(dhcp_discover())
    [reply] = wait_frames(dev, 1)
    e = Ether(reply)
    assert e.src == GW and e[BOOTP].xid == 0x6464 and e[BOOTP].yiaddr == "10.0.2.15"
    assert ("message-type", 2) in e[DHCP].options                 # 2 = OFFER


def test_icmp_echo_to_the_gateway_is_answered_with_restrict_on(dev, m):
    assert m.config.restrict
    dev.send(arp_who_has())                   # slirp learns our MAC from the ARP request
    wait_frames(dev, 1)
    dev.send(echo_request(7, b"restrict=on"))
    [reply] = wait_frames(dev, 1)
    e = Ether(reply)
    assert e[ICMP].type == 0 and e[ICMP].seq == 7 and bytes(e[ICMP].payload) == b"restrict=on"


# -- our view against QEMU's and guest RAM's --------------------------------------------
def test_features_status_and_ring_indices_agree_with_qemu(dev, m):
    dev.send_batch([arp_who_has()] * 5)
    assert len(wait_frames(dev, 5)) == 5
    dev.flush()
    view = compare(dev, m)
    assert view["agree"], [c for c in view["checks"] if not c["agree"]]
    assert qemu_queue(m, 1)["used-idx"] == dev.net.tx.last_used_idx == 5
    assert qemu_queue(m, 0)["used-idx"] == dev.net.rx.last_used_idx == 5
    assert qemu_status(m)["status_names"][-1] == "DRIVER_OK"


def test_the_shadow_is_what_guest_ram_holds(dev, m):
    dev.send_batch([arp_who_has()] * 3)
    wait_frames(dev, 3)
    dev.flush()
    for vq in (dev.net.rx, dev.net.tx):
        vq.publish()                  # reaping relinked the free list in the shadow only
        snap = vq.snapshot()
        ram = read_rings(m.qtest, vq.size, vq.desc_addr, vq.avail_addr, vq.used_addr)
        assert ram["desc"] == snap["desc"] and ram["avail"] == snap["avail"]
        assert ram["used"]["idx"] == snap["used"]["idx"] == vq.last_used_idx


def test_header_length_10_or_12_and_what_mixing_them_does(dev, m):
    dev.send(arp_who_has())
    [frame] = wait_frames(dev, 1)
    rx = dev.net.rx
    last = rx.used_ring[(rx.last_used_idx - 1) % rx.size]
    addr, length = rx.desc[last[0]][0], last[1]
    raw = m.qtest.read(addr, length)            # the buffer as the device wrote it
    hdr = dev.net.header_len
    assert raw[hdr:] == frame and frame[:6] == bytes.fromhex(ME.replace(":", ""))
    if hdr == 12:   # VERSION_1: reading it as a 10-byte header shifts the frame by two
        assert raw[10:16] != frame[:6] and raw[12:18] == frame[:6]
        assert raw[10:12] == b"\x00\x00" or raw[10:12] == b"\x01\x00"   # num_buffers
    else:
        assert len(raw) == len(frame) + 10


# -- wrong use: clear errors, and the device still works after a reset -----------------
def test_asking_a_feature_not_offered(m):
    with pytest.raises(VirtioError, match="does not offer VIRTIO_NET_F_CSUM") as err:
        VirtioNetDevice(m, features=Feature.VIRTIO_NET_F_CSUM)
    assert err.value.status & Status.FAILED and "VIRTIO_NET_F_CSUM" in err.value.asked
    assert "FAILED" in qemu_status(m)["status_names"]
    with VirtioNetDevice(m) as dev:              # a fresh bring-up resets the device
        dev.send(arp_who_has())
        assert len(wait_frames(dev, 1)) == 1


def test_a_queue_before_features_ok(m):
    t = open_transport(m.qtest, m.config.virtio)
    t.reset()
    t.add_status(Status.ACKNOWLEDGE)
    if t.kind == "modern":
        t.add_status(Status.DRIVER)               # legacy: DRIVER is the last step before queues
    need = "FEATURES_OK" if t.kind == "modern" else "DRIVER"
    with pytest.raises(VirtioError, match=f"need {need}") as err:
        t.setup_queue(0, 256, 0x1000000, 0x1001000, 0x1002000)
    assert err.value.status == t.read_status() and "queue 0" in err.value.asked
    assert qemu_queue(m, 0)["vring-desc"] == 0   # the device never saw the queue


def test_a_frame_larger_than_the_mtu(dev):
    dev.send(bytes(1514))                          # the largest frame: accepted
    with pytest.raises(DeviceError, match="1515 bytes.*MTU 1500"):
        dev.send(bytes(1515))
    with pytest.raises(DeviceError, match="5 bytes"):
        dev.send(b"short")
    dev.send(arp_who_has())
    assert Ether(wait_frames(dev, 1)[0])[ARP].op == 2


def test_using_the_device_after_close(m):
    dev = VirtioNetDevice(m)
    dev.close()
    dev.close()                                    # idempotent
    for use in (lambda: dev.send(arp_who_has()), dev.receive, dev.reset,
                lambda: dev.__enter__()):
        with pytest.raises(DeviceError, match="closed"):
            use()
    assert qemu_status(m)["status"] == 0           # close reset the device


def test_queue_sizes_the_device_accepts(m):
    if m.config.virtio == "modern":     # the driver may shrink a queue to any power of two
        with pytest.raises(VirtioError, match="power of two"):
            VirtioNetDevice(m, queue_size=3)
        with pytest.raises(VirtioError, match="power of two, 1..256"):
            VirtioNetDevice(m, queue_size=512)
        with VirtioNetDevice(m, queue_size=1) as dev:       # the smallest: one descriptor
            assert [qemu_queue(m, q)["vring-num"] for q in (0, 1)] == [1, 1]
            dev.send_batch([arp_who_has()] * 3)
            assert len(wait_frames(dev, 3)) == 3            # one buffer, re-posted three times
    else:                               # legacy: the device's size, nothing else
        with pytest.raises(VirtioError, match="legacy queue has the device's size, 256"):
            VirtioNetDevice(m, queue_size=128)
    with VirtioNetDevice(m) as dev:
        assert qemu_queue(m, 0)["vring-num"] == dev.net.rx.size == 256
        dev.send(arp_who_has())
        assert len(wait_frames(dev, 1)) == 1


def test_device_needs_reset_then_reset_recovers(m, dev):
    tx = dev.net.tx
    m.qtest.writew(tx.avail_addr + 2, tx.published_idx + 300)   # avail.idx beyond the ring
    dev.net.transport.notify(tx.index)
    deadline = time.monotonic() + 2
    while not qemu_status(m)["broken"] and time.monotonic() < deadline:
        time.sleep(0.005)
    assert qemu_status(m)["broken"]
    if m.config.virtio == "modern":                # NEEDS_RESET exists from VERSION_1 on
        with pytest.raises(VirtioError, match="reset it") as err:
            dev.net.check()
        assert err.value.status & Status.DEVICE_NEEDS_RESET
    dev.reset()
    assert not qemu_status(m)["broken"]
    dev.send(arp_who_has())
    assert len(wait_frames(dev, 1)) == 1


# -- the chapter 02/03 exercise checks: right answers pass, typical mistakes are caught --
def _negotiate(t, wanted, check_offer=True):
    t.write_status(0)
    while t.read_status():
        pass
    t.write_status(Status.ACKNOWLEDGE)
    t.write_status(Status.ACKNOWLEDGE | Status.DRIVER)
    if check_offer and wanted & ~t.device_features():
        raise DeviceError("not offered")
    t.write_driver_features(wanted)
    if t.kind == "modern":
        t.write_status(t.read_status() | Status.FEATURES_OK)
    return wanted


def _reap(qtest, used, size, last, wrap=True):
    idx, out = qtest.readw(used + 2), []
    while last != idx:
        slot = last % size if wrap else last       # the mistake: forgetting the ring wraps
        out.append(tuple(qtest.read(used + 4 + 8 * slot, 8)[i:i + 4] for i in (0, 4)))
        out[-1] = tuple(int.from_bytes(b, "little") for b in out[-1])
        last = (last + 1) & 0xFFFF
    return out, last


def test_exercise_checks(m):
    from dos64lab.exercises import ExerciseFailed, check_negotiate, check_reap_used
    check_negotiate(_negotiate, m)
    with pytest.raises(ExerciseFailed, match="does not offer.*no error raised"):
        check_negotiate(lambda t, w: _negotiate(t, w, check_offer=False), m)
    with VirtioNetDevice(m) as dev:
        check_reap_used(_reap, dev, m)
        with pytest.raises(ExerciseFailed, match="new entries"):
            check_reap_used(lambda *a: _reap(*a, wrap=False), dev, m)


def test_ring_picture_shows_the_live_indices(dev, m):
    from dos64lab.widgets import RingView, rings_html
    dev.send_batch([arp_who_has()] * 2)
    wait_frames(dev, 2)
    snap, q = dev.net.rx.snapshot(), qemu_queue(m, 0)
    html = rings_html(snap, q, title="rx")
    for text in (f"avail.idx = {snap['avail']['idx']}", f"used.idx = {snap['used']['idx']}",
                 f"last_used_idx = {snap['last_used_idx']}", "num_free = 0",
                 "← used.idx, last_used_idx", "WRITE"):
        assert text in html, text
    assert "… 240 more" in html and str(q["used-idx"]) in html
    view = RingView(snap, q)
    dev.send(arp_who_has())
    wait_frames(dev, 1)
    view.update(dev.net.rx.snapshot())
    assert f"used.idx = {dev.net.rx.used_idx}" in view.widget.value != html


def test_a_second_driver_on_the_same_nic_is_refused(m):
    with VirtioNetDevice(m) as first:
        with pytest.raises(DeviceError, match="already driven"):
            VirtioNetDevice(m)
        first.send(arp_who_has())                  # the first one was not disturbed
        assert Ether(wait_frames(first, 1)[0])[ARP].op == 2
    with VirtioNetDevice(m) as again:              # once closed, the NIC is free again
        assert again.mac == first.mac
