"""Our stack against our stack through a seeded ``FaultInjector`` (issue 9): two Interfaces on
a cable, 5 % of frames dropped, 1 % corrupted, some reordered and duplicated, in both
directions; simulated time advances a millisecond per round.  Everything must arrive, in
order, exactly once: the same sha256 -- and both sides must close cleanly."""

import hashlib
import random

import pytest

from dos64lab.phy import FaultInjector
from dos64lab.socket.tcp import State, TcpListener, TcpSocket

from .conftest import A_NET, B_NET, pair

FAULTS = dict(drop=0.05, corrupt=0.01, reorder=0.02, duplicate=0.02)
TICK = 0.001


def transfer(size: int, seed: int, limit: float, **socket_args):
    """Send ``size`` random bytes from A to B through the faults; (bytes sent, bytes
    received, simulated seconds, client, server, injector)."""
    a, b, _, _ = pair(lambda device: FaultInjector(device, seed, **FAULTS))
    lst = b.add(TcpListener(80, **socket_args))
    client = a.add(TcpSocket(**socket_args))
    client.connect((A_NET.ip, 40000), (B_NET.ip, 80), 0.0)
    data = random.Random(seed).randbytes(size)
    view, sent, got, server, now = memoryview(data), 0, bytearray(), None, 0.0
    closed = False
    while not (server is not None and server.eof) and now < limit:
        now += TICK
        if client.state == State.ESTABLISHED and sent < size:
            sent += client.send(view[sent:sent + 65536])
        elif sent == size and not closed:
            client.close()
            closed = True
        a.iface.poll(now, a.device, a.sockets)
        b.iface.poll(now, b.device, b.sockets)
        if server is None and (server := lst.accept()) is not None:
            b.add(server)
        if server is not None:
            got += server.recv()
    if server is not None and server.eof:
        server.close()
        end = now + 30
        while now < end and not (server.state == State.CLOSED and client.state in
                                 (State.TIME_WAIT, State.CLOSED)):
            now += TICK
            a.iface.poll(now, a.device, a.sockets)
            b.iface.poll(now, b.device, b.sockets)
    return data, bytes(got), now, client, server, a.device


def test_ten_megabytes_through_drops_corruption_reordering_and_duplication():
    data, got, now, client, server, faults = transfer(10 * 1024 * 1024, seed=9, limit=600.0)
    assert len(got) == len(data) and hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
    stats = faults.stats
    assert stats.dropped > 400 and stats.corrupted > 50 and stats.reordered > 100 \
        and stats.duplicated > 100                                   # the faults did happen
    assert server.state == State.CLOSED and client.state == State.TIME_WAIT
    assert client.error is None and server.error is None
    assert client.snd.retransmits < 0.25 * client.stats["tx_segments"]   # holes, not go-back-N


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_megabyte_through_faults_with_other_seeds(seed):
    data, got, *_ = transfer(1024 * 1024, seed=seed, limit=300.0)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()


def test_a_megabyte_without_sack_timestamps_or_window_scale():
    data, got, *_ = transfer(1024 * 1024, seed=4, limit=300.0, window_scale=False,
                             timestamps=False, sack=False)
    assert hashlib.sha256(got).digest() == hashlib.sha256(data).digest()
