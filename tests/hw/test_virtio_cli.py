"""`dos64lab virtio`, run as a user runs it."""

import json

import pytest
from conftest import dos64lab


@pytest.mark.parametrize("flag, header, extra", [("--legacy", 10, "VIRTIO_F_ANY_LAYOUT"),
                                                 ("--modern", 12, "VIRTIO_F_VERSION_1")])
def test_virtio_json_agrees_with_qemu(flag, header, extra):
    out = dos64lab("virtio", "--json", flag)
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert info["transport"] == flag[2:] and info["header_len"] == header
    assert info["mac"] == "52:54:00:12:34:56" and info["gateway"]["mac"] == "52:55:0a:00:02:02"
    assert info["negotiated_features"] == ["VIRTIO_NET_F_MAC", "VIRTIO_NET_F_STATUS", extra]
    assert set(info["negotiated_features"]) <= set(info["offered_features"])
    assert info["qemu"]["negotiated_features"] == info["negotiated_features"]
    assert info["status"][-1] == "DRIVER_OK" == info["qemu"]["status"][-1]
    assert info["queue_sizes"] == {"rx": 256, "tx": 256}
    assert info["agree"] is True and all(c["agree"] for c in info["checks"])


def test_virtio_text_output():
    out = dos64lab("virtio")
    assert out.returncode == 0, out.stderr
    assert "via the legacy transport, MAC 52:54:00:12:34:56" in out.stdout
    assert "10.0.2.2 is at 52:55:0a:00:02:02" in out.stdout
    assert out.stdout.rstrip().endswith("agree: true") and "✗" not in out.stdout
