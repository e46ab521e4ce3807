"""Congestion control: slow start and congestion avoidance (RFC 5681 §3.1), fast retransmit on
the third duplicate ACK (§3.2), NewReno recovery (RFC 6582) and the SACK scoreboard (RFC 2018,
RFC 6675's "only the holes") -- on ``NewReno`` alone, then on a socket, segment by segment.

On a socket: the peer's MSS is 1000, so segment ``Sn`` carries bytes ISS+1+1000(n-1) ...
"""

import pytest

from dos64lab.socket.tcp.congestion import NewReno
from dos64lab.socket.tcp.seq import Seq
from dos64lab.wire import tcp

from .tcp_fixtures import IRS, ISS, MSS, established, from_peer, recv, send, syn_options, to_peer

# -- NewReno alone -----------------------------------------------------------------------------


@pytest.mark.parametrize("smss, window", [(536, 2144), (1000, 4000), (1460, 4380), (2500, 5000)])
def test_initial_window(smss, window):
    assert NewReno(smss).cwnd == window                       # RFC 5681 §3.1 (RFC 3390)


def test_slow_start_grows_by_what_is_acked_at_most_one_smss():
    cc = NewReno(1000)
    assert cc.on_new_ack(500, Seq(500)) is False and cc.cwnd == 4500
    cc.on_new_ack(2000, Seq(2500))
    assert cc.cwnd == 5500                                    # eq. 2: min(N, SMSS)


def test_congestion_avoidance_grows_by_smss_squared_over_cwnd():
    cc = NewReno(1000)
    cc.ssthresh = cc.cwnd = 8000
    cc.on_new_ack(1000, Seq(1000))
    assert cc.cwnd == 8000 + 1000 * 1000 // 8000              # eq. 3


def test_third_duplicate_ack_enters_fast_recovery():
    cc = NewReno(1000)
    assert [cc.on_dupack(8000, Seq(9000)) for _ in range(3)] == [False, False, True]
    assert (cc.ssthresh, cc.cwnd, cc.recover) == (4000, 7000, Seq(9000))   # eq. 4, step 3
    assert cc.in_recovery and cc.fast_retransmits == 1


def test_ssthresh_is_at_least_two_segments():
    cc = NewReno(1000)
    for _ in range(3):
        cc.on_dupack(3000, Seq(3000))
    assert cc.ssthresh == 2000


def test_more_duplicates_inflate_the_window():
    cc = NewReno(1000)
    for _ in range(5):
        cc.on_dupack(8000, Seq(9000))
    assert cc.cwnd == 9000 and cc.fast_retransmits == 1       # RFC 5681 §3.2 step 4


def test_partial_ack_deflates_and_asks_for_the_next_hole():
    cc = NewReno(1000)
    for _ in range(6):
        cc.on_dupack(8000, Seq(9000))                          # cwnd 10000
    assert cc.on_new_ack(3000, Seq(4000)) is True              # RFC 6582 §3.2 step 5
    assert cc.cwnd == 10000 - 3000 + 1000 and cc.in_recovery


def test_full_ack_ends_recovery_at_ssthresh():
    cc = NewReno(1000)
    for _ in range(3):
        cc.on_dupack(8000, Seq(9000))
    assert cc.on_new_ack(8000, Seq(9000)) is False             # step 3 (2): cwnd = ssthresh
    assert not cc.in_recovery and cc.cwnd == 4000 and cc.dupacks == 0


def test_timeout_drops_to_one_segment():
    cc = NewReno(1000)
    for _ in range(3):
        cc.on_dupack(8000, Seq(9000))
    cc.on_timeout(6000)                                        # RFC 5681 §3.1 eq. 4, LW
    assert (cc.cwnd, cc.ssthresh, cc.in_recovery, cc.timeouts) == (1000, 3000, False, 1)


def test_describe():
    assert NewReno(1000).describe() == {"cwnd": 4000, "ssthresh": 1 << 30, "in_recovery": False,
                                        "fast_retransmits": 0, "timeouts": 0}


# -- on a socket ---------------------------------------------------------------------------------

def S(n, ack=IRS + 1):
    """Our data segment n (1-based) of ``b"abcdefgh..."`` (1000 bytes each)."""
    return to_peer(ISS + 1 + MSS * (n - 1), ack, payload=DATA[MSS * (n - 1):MSS * n])


DATA = bytes(range(97, 97 + 26)) * 1000


def eight_in_flight(sack=False, data=8000, window=8000):
    """Established with cwnd 8 MSS (as slow start would have it by now); S1..S8 sent."""
    args = dict(sack=True, peer_options=syn_options(sack=True)) if sack else {}
    sock = established(window=window, nodelay=True, **args)
    sock.snd.cc.cwnd = 8 * MSS
    sock.send(DATA[:data])
    assert recv(sock, 1.0) == [S(n) for n in range(1, 9)]
    return sock


def dupack(*blocks, window=8000):
    options = (tcp.Sack(tuple((int(ISS + 1 + l), int(ISS + 1 + r)) for l, r in blocks)),) \
        if blocks else ()
    return from_peer(IRS + 1, ISS + 1, window=window, options=options)


def ack_of(n, window=8000, blocks=()):
    options = (tcp.Sack(tuple((int(ISS + 1 + l), int(ISS + 1 + r)) for l, r in blocks)),) \
        if blocks else ()
    return from_peer(IRS + 1, ISS + 1 + MSS * n, window=window, options=options)


def test_slow_start_on_a_socket():
    sock = established(nodelay=True)
    sock.send(DATA[:8000])
    assert recv(sock, 1.0) == [S(1), S(2), S(3), S(4)]        # the initial window
    send(sock, ack_of(1), 1.1)
    assert recv(sock, 1.1) == [S(5), S(6)]                     # cwnd 5000, 1000 acked
    assert sock.snd.cc.cwnd == 5000


def test_two_duplicate_acks_send_nothing():
    sock = eight_in_flight()
    for _ in range(2):
        send(sock, dupack(), 1.1)
        assert recv(sock, 1.1) == []
    assert sock.stats["dupacks"] == 2


def test_third_duplicate_ack_fast_retransmits_only_the_first_segment():
    sock = eight_in_flight()
    for _ in range(2):
        send(sock, dupack(), 1.1)
    send(sock, dupack(), 1.1)
    assert recv(sock, 1.1) == [S(1)]                           # not S2..S8 again (go-back-N)
    cc = sock.snd.cc
    assert (cc.ssthresh, cc.cwnd, cc.recover) == (4000, 7000, ISS + 8001)
    assert sock.stats["fast_retransmits"] == 1 and sock.snd.nxt == ISS + 8001


def test_an_ack_that_changes_the_window_is_not_a_duplicate():
    sock = eight_in_flight()
    for window in (8000, 9000, 10000):
        send(sock, dupack(window=window), 1.1)
    assert sock.stats["dupacks"] == 1 and recv(sock, 1.1) == []


def test_an_ack_with_data_is_not_a_duplicate():
    sock = eight_in_flight()
    for i in range(3):
        send(sock, from_peer(IRS + 1 + i, ISS + 1, payload=b"x"), 1.1)
    assert sock.stats["dupacks"] == 0


def test_an_ack_with_nothing_outstanding_is_not_a_duplicate():
    sock = established()
    for _ in range(3):
        send(sock, from_peer(IRS + 1, ISS + 1), 1.0)
    assert sock.stats["dupacks"] == 0 and recv(sock, 1.0) == []


def test_recovery_inflation_lets_new_data_out():
    sock = eight_in_flight(data=10_000, window=16_000)
    for _ in range(3):
        send(sock, dupack(window=16_000), 1.1)
    assert recv(sock, 1.1) == [S(1)]
    send(sock, dupack(window=16_000), 1.1)                     # cwnd 8000 = flight
    assert recv(sock, 1.1) == []
    send(sock, dupack(window=16_000), 1.1)                     # cwnd 9000: one more
    assert recv(sock, 1.1) == [S(9)]


def test_newreno_partial_ack_retransmits_the_next_hole():
    sock = eight_in_flight()                                   # S1 and S4 lost
    for _ in range(6):
        send(sock, dupack(), 1.1)
    assert recv(sock, 1.1) == [S(1)]
    send(sock, ack_of(3), 1.2)                                 # S1 arrived: ack up to S4
    assert recv(sock, 1.2) == [S(4)]                           # RFC 6582 §3.2 step 5
    assert sock.snd.cc.in_recovery and sock.snd.cc.cwnd == 10_000 - 3000 + 1000


def test_newreno_full_ack_ends_recovery():
    sock = eight_in_flight()
    for _ in range(6):
        send(sock, dupack(), 1.1)
    recv(sock, 1.1)
    send(sock, ack_of(3), 1.2)
    recv(sock, 1.2)
    send(sock, ack_of(8), 1.3)
    assert not sock.snd.cc.in_recovery and sock.snd.cc.cwnd == 4000
    assert recv(sock, 1.3) == [] and sock.rto_at is None


def test_sack_blocks_fill_the_scoreboard():
    sock = eight_in_flight(sack=True)
    send(sock, dupack((1000, 3000), (4000, 5000)), 1.1)
    assert sock.snd.scoreboard == [(ISS + 1001, ISS + 3001), (ISS + 4001, ISS + 5001)]
    assert sock.snd.flight() == 5000


def test_sack_blocks_outside_what_was_sent_are_ignored():
    sock = eight_in_flight(sack=True)
    send(sock, dupack((9000, 10_000), (-500, 0)), 1.1)         # above SND.MAX, below SND.UNA
    assert sock.snd.scoreboard == []


def test_sack_fast_retransmit_sends_only_the_holes():
    sock = eight_in_flight(sack=True)                          # S1 and S4 lost
    send(sock, dupack((1000, 2000)), 1.1)
    send(sock, dupack((1000, 3000)), 1.1)
    send(sock, dupack((4000, 5000), (1000, 3000)), 1.1)
    assert recv(sock, 1.1) == [S(1), S(4)]                     # not S2, S3, S5
    send(sock, dupack((4000, 8000), (1000, 3000)), 1.1)
    assert recv(sock, 1.1) == []                               # each hole once


def test_sack_partial_ack_does_not_resend_a_repaired_hole():
    sock = eight_in_flight(sack=True)
    send(sock, dupack((1000, 2000)), 1.1)
    send(sock, dupack((1000, 3000)), 1.1)
    send(sock, dupack((4000, 8000), (1000, 3000)), 1.1)
    assert recv(sock, 1.1) == [S(1), S(4)]
    send(sock, ack_of(3, blocks=((4000, 8000),)), 1.2)         # S1 arrived, S4 on its way
    assert recv(sock, 1.2) == []
    send(sock, ack_of(8), 1.3)
    assert not sock.snd.cc.in_recovery and sock.snd.scoreboard == []


def test_sack_retransmission_stops_where_a_sacked_block_starts():
    sock = eight_in_flight(sack=True)
    for _ in range(3):
        send(sock, dupack((500, 8000)), 1.1)                   # only [0, 500) is missing
    seg, = recv(sock, 1.1)
    assert seg == to_peer(ISS + 1, IRS + 1, payload=DATA[:500])


def test_rto_drops_to_one_segment_and_forgets_the_scoreboard():
    sock = eight_in_flight(sack=True)
    send(sock, dupack((1000, 2000)), 1.1)
    assert recv(sock, sock.poll_at(1.1)) == [S(1)]             # RFC 6298 §5.4, one segment
    cc = sock.snd.cc
    assert (cc.cwnd, cc.ssthresh) == (1000, 4000) and sock.snd.scoreboard == []
    send(sock, ack_of(2), 1.5)                                 # it had S2: go on from S3
    assert recv(sock, 1.5) == [S(3), S(4)]                     # slow start: cwnd 2000


def test_old_ack_below_snd_una_is_ignored():
    sock = eight_in_flight()
    send(sock, ack_of(4), 1.1)
    send(sock, ack_of(2), 1.1)
    assert sock.snd.una == ISS + 4001 and sock.stats["dupacks"] == 0
