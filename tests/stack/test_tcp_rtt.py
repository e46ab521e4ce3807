"""The retransmission timer (RFC 6298): SRTT/RTTVAR, a minimum RTO that is a parameter,
exponential backoff, Karn's rule, and RTT samples from timestamps (RFC 7323 §4) -- first on
``RttEstimator`` alone, then on a socket: the exact segment and the exact time it goes."""

import pytest

from dos64lab.socket.tcp import ConnectionTimeout, State, TcpSocket
from dos64lab.socket.tcp.rtt import INITIAL_RTO, RttEstimator
from dos64lab.wire import tcp
from dos64lab.wire.tcp import TcpFlags as F

from .tcp_fixtures import (IRS, ISS, RX, established, from_peer, recv, send, syn_options,
                           syn_sent, to_peer)


# -- RttEstimator ------------------------------------------------------------------------------

def test_rto_before_any_sample_is_one_second():
    assert RttEstimator().rto == INITIAL_RTO == 1.0                         # §2.1


def test_first_sample_sets_srtt_and_half_rttvar():
    r = RttEstimator()
    r.sample(0.1)                                                           # §2.2
    assert (r.srtt, r.rttvar) == (0.1, 0.05) and r.rto == pytest.approx(0.3)


def test_later_samples_smooth_with_alpha_and_beta():
    r = RttEstimator()
    r.sample(0.1)
    r.sample(0.2)                                                           # §2.3
    assert r.rttvar == pytest.approx(0.75 * 0.05 + 0.25 * 0.1)
    assert r.srtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.2)
    assert r.rto == pytest.approx(r.srtt + 4 * r.rttvar) and r.samples == 2


def test_rto_has_the_minimum_given():
    r = RttEstimator(min_rto=0.2)
    r.sample(0.001)
    assert r.rto == 0.2
    r = RttEstimator(min_rto=0.01)
    r.sample(0.001)
    assert r.rto == 0.01


def test_clock_granularity_bounds_the_variance_term():
    r = RttEstimator(min_rto=0.0)
    r.sample(0.05)
    r.sample(0.05)
    r.sample(0.05)
    assert r.rto == pytest.approx(r.srtt + max(0.001, 4 * r.rttvar))


def test_backoff_doubles_and_stops_at_the_maximum():
    r = RttEstimator(max_rto=6.0)
    for expected in (2.0, 4.0, 6.0, 6.0):
        r.backoff()                                                         # §5.5
        assert r.rto == expected
    assert r.backoffs == 3


def test_a_sample_ends_the_backoff():
    r = RttEstimator()
    r.backoff()
    r.sample(0.1)
    assert r.backoffs == 0 and r.rto == pytest.approx(0.3)


def test_describe_is_in_milliseconds():
    r = RttEstimator()
    r.sample(0.1)
    assert r.describe() == {"srtt_ms": 100.0, "rttvar_ms": 50.0, "rto_ms": 300.0, "backoffs": 0}


# -- on a socket --------------------------------------------------------------------------------

def data_segment(seq, payload, ack=IRS + 1, **kw):
    return to_peer(seq, ack, payload=payload, **kw)


def test_handshake_gives_the_first_sample():
    sock = established(rtt=0.1)
    assert sock.snd.rtt.srtt == pytest.approx(0.1) and sock.snd.rtt.rto == pytest.approx(0.3)


def test_ack_of_data_gives_a_sample():
    sock = established(rtt=0.1)
    sock.send(b"x" * 100)
    assert recv(sock, 1.0) == [data_segment(ISS + 1, b"x" * 100)]
    send(sock, from_peer(IRS + 1, ISS + 101), 1.2)
    rtt = sock.snd.rtt
    assert rtt.samples == 2 and rtt.srtt == pytest.approx(0.1125)
    assert rtt.rto == pytest.approx(0.1125 + 4 * 0.0625)


def test_rto_expiry_retransmits_the_oldest_segment_with_backoff():
    sock = established(rtt=0.1)                                             # RTO 0.3
    sock.send(b"x" * 100)
    first = recv(sock, 1.0)
    assert sock.poll_at(1.0) == pytest.approx(1.3)
    assert recv(sock, 1.29) == []
    assert recv(sock, sock.poll_at(1.0)) == first                           # §5.4
    assert sock.poll_at(1.3) == pytest.approx(1.9)                         # §5.5: doubled
    assert recv(sock, sock.poll_at(1.3)) == first
    assert sock.poll_at(1.9) == pytest.approx(3.1)
    assert sock.snd.retransmits == 2 and sock.stats["timeouts"] == 2


def test_rto_restarts_on_an_ack_of_new_data():
    sock = established(rtt=0.1, nodelay=True)
    sock.send(b"a" * 1000)
    recv(sock, 1.0)
    sock.send(b"b" * 1000)
    recv(sock, 1.1)
    send(sock, from_peer(IRS + 1, ISS + 1001), 1.2)                         # §5.3
    assert sock.poll_at(1.2) == pytest.approx(1.2 + sock.snd.rtt.rto)


def test_rto_stops_when_everything_is_acked():
    sock = established(rtt=0.1)
    sock.send(b"x" * 100)
    recv(sock, 1.0)
    send(sock, from_peer(IRS + 1, ISS + 101), 1.1)                          # §5.2
    assert sock.rto_at is None and sock.poll_at(1.1) is None


def test_karn_no_sample_from_a_retransmitted_segment():
    sock = established(rtt=0.1)
    sock.send(b"x" * 100)
    recv(sock, 1.0)
    recv(sock, 1.3)                                                         # retransmitted
    send(sock, from_peer(IRS + 1, ISS + 101), 1.35)                         # which one is acked?
    rtt = sock.snd.rtt
    assert rtt.samples == 1 and rtt.srtt == pytest.approx(0.1)
    assert rtt.backoffs == 1 and rtt.rto == pytest.approx(0.6)              # §5.7: kept


def test_karn_backoff_ends_with_the_next_fresh_sample():
    sock = established(rtt=0.1)
    sock.send(b"x" * 100)
    recv(sock, 1.0)
    recv(sock, 1.3)
    send(sock, from_peer(IRS + 1, ISS + 101), 1.35)
    sock.send(b"y" * 100)
    assert recv(sock, 2.0) == [data_segment(ISS + 101, b"y" * 100)]
    assert sock.poll_at(2.0) == pytest.approx(2.6)                         # the backed-off RTO
    send(sock, from_peer(IRS + 1, ISS + 201), 2.1)
    assert sock.snd.rtt.backoffs == 0 and sock.snd.rtt.samples == 2


def ts_socket():
    """Timestamps negotiated: our SYN at t=0 (TSval 0), the peer's SYN-ACK at 0.1."""
    return established(rtt=0.1, timestamps=True,
                       peer_options=syn_options(ts=(7000, 0)))


def test_timestamps_sample_a_retransmitted_segment():
    sock = ts_socket()
    sock.send(b"x" * 100)
    recv(sock, 1.0)
    again, = recv(sock, 1.3)
    assert again.timestamps == tcp.Timestamps(1300, 7000)                   # TSval: ms
    ack = from_peer(IRS + 1, ISS + 101, options=(tcp.Timestamps(7100, 1300),))
    send(sock, ack, 1.35)                                                   # echoes the 2nd
    rtt = sock.snd.rtt
    assert rtt.samples == 2 and rtt.backoffs == 0                           # RFC 7323 §4.1
    assert rtt.srtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.05)


def test_timestamps_sample_from_the_echo_not_the_clock_of_the_first_send():
    sock = ts_socket()
    sock.send(b"x" * 100)
    recv(sock, 1.0)
    ack = from_peer(IRS + 1, ISS + 101, options=(tcp.Timestamps(7100, 1000),))
    send(sock, ack, 1.04)
    assert sock.snd.rtt.srtt == pytest.approx(0.875 * 0.1 + 0.125 * 0.04)


def test_gives_up_after_max_retries_with_a_reset():
    sock = established(rtt=0.1)
    sock.send(b"x" * 100)
    recv(sock, 0.1)
    sent = 0
    while sock.state == State.ESTABLISHED:
        out = recv(sock, sock.poll_at(0.0))
        sent += len(out)
    assert sent == TcpSocket.MAX_RETRIES + 1                                # + the RST
    assert out[-1] == to_peer(ISS + 101, None, F.RST, window=0)
    with pytest.raises(ConnectionTimeout, match="after 12 retransmissions"):
        sock.send(b"more")


def test_syn_retransmits_at_1_3_7_seconds():
    sock = syn_sent()
    for at in (1.0, 3.0, 7.0):
        assert sock.poll_at(0.0) == pytest.approx(at)
        syn, = recv(sock, sock.poll_at(0.0))
        assert syn == to_peer(ISS, None, F.SYN, options=(tcp.Mss(1460),))


def test_syn_gives_up_after_syn_retries():
    sock = syn_sent()
    while sock.state == State.SYN_SENT:
        out = recv(sock, sock.poll_at(0.0))
    assert out == [] and sock.retries == TcpSocket.SYN_RETRIES + 1
    assert isinstance(sock.error, ConnectionTimeout) and sock.finished()
