"""`dos64lab run --native` and `dos64lab native`: DOS64's own stack from the command line."""

import json
import re

from tests.conftest import dos64lab


def test_run_native_pings_from_the_kernel():
    out = dos64lab("run", "--native", "PING 10.0.2.2 2", "IFCONFIG")
    assert out.returncode == 0, out.stderr
    assert "C:\\>PING 10.0.2.2 2" in out.stdout
    assert len(re.findall(r"^64 bytes from 10\.0\.2\.2: icmp_seq=\d ttl=\d+ time=[\d.]+ ms$",
                          out.stdout, re.M)) == 2
    assert "inet 10.0.2.15/24" in out.stdout and "(dhcp)" in out.stdout


def test_run_without_native_is_unchanged():
    out = dos64lab("run", "IFCONFIG")
    assert out.returncode == 0
    assert "net=host: the NIC belongs to the lab's Python driver" in out.stdout


def test_native_json_shows_rings_moving_and_counters():
    out = dos64lab("native", "--json", "--watch", "0.5", "--curl", "10")
    assert out.returncode == 0, out.stderr
    snap = json.loads(out.stdout)
    assert snap["status"] == ["ACKNOWLEDGE", "DRIVER", "FEATURES_OK", "DRIVER_OK"]
    assert snap["kernel"]["net"] == "kernel" and snap["kernel"]["ip"] == "10.0.2.15"
    assert snap["counters"]["tcp_accepted"] >= 10
    rx = snap["rings"]["rx"]
    assert rx["used_idx"] == rx["qemu_used_idx"] >= 10                 # the kernel reaped them
    assert rx["avail_idx"] - rx["used_idx"] == 256                     # and posted them again
    assert snap["watch"][-1]["tx"]["used_idx"] > snap["watch"][0]["tx"]["used_idx"] or \
        snap["rings"]["tx"]["used_idx"] > 10


def test_native_text():
    out = dos64lab("native")
    assert out.returncode == 0, out.stderr
    assert "device status: ACKNOWLEDGE | DRIVER | FEATURES_OK | DRIVER_OK" in out.stdout
    assert re.search(r"^rx: avail\.idx +\d+ +used\.idx", out.stdout, re.M)
