"""DOS64's own virtio-net driver and IPv4 stack (net=kernel): boot, DHCP, ping, counters.

Python only observes: the shell over the serial console, QEMU's own view over QMP.
"""

import re

import pytest

from dos64lab.inspect import qemu_queue, qemu_status
from dos64lab.machine import Machine

PING_LINE = re.compile(r"^64 bytes from 10\.0\.2\.2: icmp_seq=(\d+) ttl=(\d+) time=(\d+(?:\.\d+)?) ms$", re.M)


def counters(netstat: str) -> dict:
    return {k: int(v) for k, v in re.findall(r"^  ([a-z0-9_]+)\s+(\d+)$", netstat, re.M)}


def test_ready_line_comes_after_dhcp(native):
    info = native.kernel_info
    assert info["net"] == "kernel"
    assert info["ip"] == "10.0.2.15"
    assert re.fullmatch(r"52:54:00(:[0-9a-f]{2}){3}", info["mac"])
    boot = native.console.transcript.split("DOS64 READY")[0]
    assert re.search(r"^DHCP: 10\.0\.2\.15 netmask 255\.255\.255\.0 router 10\.0\.2\.2 dns 10\.0\.2\.3", boot, re.M)
    assert "PANIC" not in native.console.transcript


def test_ifconfig_shows_the_dhcp_lease(native):
    out = native.run("IFCONFIG")
    assert re.search(r"inet 10\.0\.2\.15/24 netmask 255\.255\.255\.0 gateway 10\.0\.2\.2 \(dhcp\)", out), out
    assert "modern transport" in out and "header 12 bytes" in out
    assert "(DRIVER_OK)" in out
    assert native.kernel_info["mac"] in out


def test_ping_gateway_like_iputils(native):
    out = native.run("PING 10.0.2.2 3", timeout=15)
    assert out.splitlines()[0] == "PING 10.0.2.2 (10.0.2.2) 56(84) bytes of data."
    lines = PING_LINE.findall(out)
    assert [int(seq) for seq, _, _ in lines] == [1, 2, 3], out
    assert all(float(ms) < 100 for _, _, ms in lines)
    assert "--- 10.0.2.2 ping statistics ---" in out
    assert re.search(r"^3 packets transmitted, 3 received, 0% packet loss, time \d+ms$", out, re.M), out
    assert re.search(r"^rtt min/avg/max/mdev = [\d.]+/[\d.]+/[\d.]+/[\d.]+ ms$", out, re.M), out


def test_netstat_counts_what_happened(native):
    native.run("PING 10.0.2.2 1", timeout=10)
    out = native.run("NETSTAT")
    c = counters(out)
    assert c["icmp_tx_echo_request"] >= 1 and c["icmp_rx"] >= 1
    assert c["dhcp_tx"] >= 2 and c["dhcp_rx"] >= 2          # DISCOVER/REQUEST, OFFER/ACK
    assert c["arp_tx_gratuitous"] == 1
    assert c["eth_rx"] >= c["ipv4_rx"] + c["arp_rx"]
    assert re.search(r"^  10\.0\.2\.2\s+52:55:0a:00:02:02", out, re.M), out
    assert re.search(r"^udp\s+0\.0\.0\.0:68\b", out, re.M)


def test_qemu_sees_driver_ok_and_live_rings(native):
    status = qemu_status(native)
    assert status["status_names"] == ["ACKNOWLEDGE", "DRIVER", "FEATURES_OK", "DRIVER_OK"]
    assert "VIRTIO_F_VERSION_1" in status["guest_feature_names"]
    assert "VIRTIO_NET_F_MAC" in status["guest_feature_names"]
    rx = qemu_queue(native, 0)
    assert rx["vring-num"] == 256
    dma_base, dma_size = native.dma_region
    assert dma_base <= rx["vring-desc"] < dma_base + dma_size    # the kernel's rings, in the DMA region
    before = qemu_queue(native, 1)["used-idx"]
    native.run("PING 10.0.2.2 1", timeout=10)
    assert qemu_queue(native, 1)["used-idx"] != before            # the TX ring moved


@pytest.mark.parametrize("kind", ["legacy", "modern-only"])
def test_other_transports(kind):
    if kind == "legacy":    # the transitional device through its I/O BAR
        m = Machine(net_mode="kernel", extra_args=("-append", "net=kernel virtio=legacy"))
    else:                   # disable-legacy=on: device 0x1041, capabilities only
        m = Machine(net_mode="kernel", virtio="modern")
    with m:
        out = m.run("IFCONFIG")
        if kind == "legacy":
            assert "1af4:1000, legacy transport" in out and "header 10 bytes" in out, out
            assert qemu_status(m)["status_names"] == ["ACKNOWLEDGE", "DRIVER", "DRIVER_OK"]
        else:
            assert "1af4:1041, modern transport" in out and "header 12 bytes" in out, out
        assert "inet 10.0.2.15/24" in out
        assert len(PING_LINE.findall(m.run("PING 10.0.2.2 2", timeout=15))) == 2


def test_host_mode_leaves_the_nic_alone():
    with Machine() as m:                      # net=host: the lab's, untouched by the kernel
        assert m.kernel_info["net"] == "host" and "ip" not in m.kernel_info
        assert qemu_status(m)["status"] == 0
        out = m.run("IFCONFIG")
        assert "net=host" in out
        assert qemu_status(m)["status"] == 0


def test_net_alias():
    m = Machine(net="kernel")
    assert m.config.net_mode == "kernel"


def test_no_dhcp_server_means_the_static_fallback_said_on_the_console():
    with Machine(net_mode="kernel", wire=True, slirp=False) as m:    # a cable with nobody on it
        boot = m.console.transcript.split("DOS64 READY")[0]
        assert re.search(r"^DHCP: no lease after 3 s; static 10\.0\.2\.15 netmask 255\.255\.255\.0 "
                         r"router 10\.0\.2\.2$", boot, re.M), boot
        assert m.kernel_info["ip"] == "10.0.2.15"
        assert "inet 10.0.2.15/24 netmask 255.255.255.0 gateway 10.0.2.2 (static)" in m.run("IFCONFIG")
        discovers = [f for f in iter(lambda: m.wire.receive(0.2), None)
                     if f[12:14] == b"\x08\x00" and f[23] == 17 and f[36:38] == b"\x00\x43"]
        assert len(discovers) >= 2                  # DISCOVER, retransmitted, before giving up
