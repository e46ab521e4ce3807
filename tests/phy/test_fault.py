"""FaultInjector: repeatable, and roughly as faulty as asked."""

import pytest

from dos64lab.phy import FaultInjector, Loopback


def _run(seed, n=2000, **faults):
    dev = FaultInjector(Loopback(capacity=10_000), seed, **faults)
    sent = [i.to_bytes(4, "big") * 2 + bytes(56) for i in range(n)]   # one bit flip never gives another
    got = []
    for f in sent:
        dev.send(f)
        while (r := dev.receive()) is not None:
            got.append(r)
    dev.flush()
    while (r := dev.receive()) is not None:
        got.append(r)
    return sent, got, dev.stats


def test_same_seed_same_outcome():
    faults = dict(drop=0.1, corrupt=0.1, duplicate=0.1, reorder=0.1)
    assert _run(7, **faults)[1:] == _run(7, **faults)[1:]
    assert _run(7, **faults)[1] != _run(8, **faults)[1]


@pytest.mark.parametrize("fault", ["drop", "corrupt", "duplicate", "reorder"])
def test_rates_are_sensible(fault):
    n = 2000
    _, _, stats = _run(1, n=n, direction="tx", **{fault: 0.2})
    count = getattr(stats, {"drop": "dropped", "corrupt": "corrupted", "duplicate": "duplicated",
                            "reorder": "reordered"}[fault])
    assert 0.15 * n < count < 0.25 * n


def test_drop_corrupt_duplicate_show_in_the_frames():
    sent, got, stats = _run(3, drop=0.05, corrupt=0.05, duplicate=0.05, direction="rx")
    assert len(got) == len(sent) - stats.dropped + stats.duplicated
    assert len(set(got) - set(sent)) == stats.corrupted     # a duplicate may copy a corrupted one


def test_reorder_swaps_with_the_next_frame():
    sent, got, stats = _run(5, n=500, reorder=0.3, direction="tx")
    assert sorted(got) == sorted(sent) and got != sent and stats.reordered > 0


def test_delay_counts_steps():
    dev = FaultInjector(Loopback(), 0, delay=3, direction="tx")
    dev.send(b"x" * 60)                                  # step 1, due at step 4
    assert [dev.receive(), dev.receive()] == [None, None]     # steps 2, 3
    assert dev.receive() == b"x" * 60 and dev.stats.delayed == 1   # step 4


def test_no_faults_is_transparent():
    sent, got, stats = _run(0, n=100)
    assert got == sent and stats == type(stats)()
