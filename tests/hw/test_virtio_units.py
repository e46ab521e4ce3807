"""hw.dma and the pure parts of hw.virtio: no QEMU needed."""

import pytest

from dos64lab.errors import Dos64LabError
from dos64lab.hw.dma import DmaAllocator, DmaError
from dos64lab.hw.virtio import Feature, Status, feature_names, features_from_names, status_names
from dos64lab.hw.virtio.net import _runs
from dos64lab.hw.virtio.virtqueue import split_layout


def test_dma_allocations_are_aligned_and_disjoint():
    dma = DmaAllocator(0x1000000, 0x100000)
    regions = [dma.alloc(100, 16), dma.alloc(4096, 4096), dma.alloc(6, 2), dma.alloc(10, 64)]
    for r, align in zip(regions, (16, 4096, 2, 64)):
        assert r.addr % align == 0 and 0x1000000 <= r.addr and r.end <= 0x1100000
    spans = sorted((r.addr, r.end) for r in regions)
    assert all(a_end <= b_start for (_, a_end), (b_start, _) in zip(spans, spans[1:]))
    assert dma.free_bytes <= 0x100000 - sum(r.size for r in regions)   # minus alignment padding
    for r in regions:
        dma.free(r)
    assert dma.free_bytes == 0x100000          # padding comes back when neighbours are freed
    assert dma.alloc(0x100000, 4096).addr == 0x1000000   # merged into one extent again


def test_dma_exhaustion_is_a_clear_error():
    dma = DmaAllocator(0x1000000, 0x10000)
    dma.alloc(0x8000, tag="rings")
    with pytest.raises(DmaError, match=r"exhausted.*no 65536 bytes.*rx buffers") as err:
        dma.alloc(0x10000, tag="rx buffers")
    assert isinstance(err.value, Dos64LabError)
    dma.reset()
    assert dma.alloc(0x10000).addr == 0x1000000 and dma.allocations[0].size == 0x10000


def test_dma_refuses_bad_requests():
    dma = DmaAllocator(0x1000000, 0x10000)
    with pytest.raises(ValueError, match="power of two"):
        dma.alloc(16, align=24)
    with pytest.raises(DmaError, match="not an allocation"):
        dma.free(DmaAllocator(0x2000000, 0x1000).alloc(16))


def test_split_layout_matches_the_legacy_rule():
    # desc at PFN*4096 (16 B each), avail right after, used at the next 4096 boundary
    lay = split_layout(256)
    assert (lay.desc, lay.avail, lay.used, lay.total) == (0, 4096, 8192, 8192 + 6 + 8 * 256)
    lay = split_layout(1)
    assert (lay.avail, lay.used) == (16, 4096)


def test_feature_names_are_the_specs():
    offered = 0x79BF8064 | Feature.VIRTIO_F_VERSION_1 | 1 << 40   # what QEMU 7.2 offers here
    names = feature_names(offered)
    assert names[:2] == ["VIRTIO_NET_F_CTRL_GUEST_OFFLOADS", "VIRTIO_NET_F_MAC"]
    assert {"VIRTIO_NET_F_MRG_RXBUF", "VIRTIO_NET_F_STATUS", "VIRTIO_RING_F_EVENT_IDX",
            "VIRTIO_RING_F_INDIRECT_DESC", "VIRTIO_F_VERSION_1", "VIRTIO_F_RING_RESET"} <= set(names)
    assert features_from_names(names) == offered
    assert features_from_names(["VIRTIO_NET_F_MAC: Device has given MAC address"]) == 1 << 5
    assert feature_names(1 << 50) == ["FEATURE_BIT_50"]


def test_status_names_follow_the_handshake_order():
    s = Status.ACKNOWLEDGE | Status.DRIVER | Status.FEATURES_OK | Status.DRIVER_OK
    assert status_names(s) == ["ACKNOWLEDGE", "DRIVER", "FEATURES_OK", "DRIVER_OK"]
    assert status_names(0) == []


def test_nearby_buffers_share_one_qtest_command():
    # slots 2048 apart: a short frame leaves too big a gap, a long one does not
    runs = _runs([(0x2000 + 2048, 1500), (0x2000, 1500), (0x2000 + 4096, 60), (0x2000 + 6144, 60)])
    assert [(s, e, m) for s, e, m in runs] == [(0x2000, 0x2000 + 4096 + 60, [1, 0, 2]),
                                               (0x2000 + 6144, 0x2000 + 6144 + 60, [3])]
