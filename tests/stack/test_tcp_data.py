"""Data on an established connection, segment by segment (CONVENTIONS 14): delayed ACK and
the immediate ACKs (RFC 1122 §4.2.3.2, RFC 5681 §4.2), out-of-order reassembly bounded by the
window, SACK blocks (RFC 2018), the receive window and its updates, Nagle (RFC 896), the
sender's silly-window avoidance, zero window and persist probes (RFC 9293 §3.8.6), window
scaling and timestamps (RFC 7323), keep-alive (RFC 1122 §4.2.3.6), and sequence numbers
across 2³²."""

import pytest

from dos64lab.socket.tcp import ConnectionTimeout, Seq, State, TcpSocket
from dos64lab.socket.tcp.recv import Receiver
from dos64lab.wire import tcp
from dos64lab.wire.tcp import TcpFlags as F

from .tcp_fixtures import (IRS, ISS, LOCAL, ME, MSS, PEER, REMOTE, RX, WIN, established,
                           fixed_iss, from_peer, new_socket, recv, send, syn_options,
                           syn_received, to_peer)

TOP = 1 << 32


def data(seq, payload, ack=ISS + 1, flags=F.ACK | F.PSH, **kw):
    """A data segment from the peer."""
    return from_peer(seq, ack, flags, payload=payload, **kw)


def ack_at(seq, ack, window=RX, **kw):
    """A pure ACK from us."""
    return to_peer(seq, ack, window=window, **kw)


# -- receiving: delayed and immediate ACKs ------------------------------------------------------

def test_in_order_data_is_acked_after_the_delay():
    sock = established()
    send(sock, data(IRS + 1, b"x" * 100), 1.0)
    assert recv(sock, 1.0) == [] and sock.poll_at(1.0) == pytest.approx(1.04)
    assert recv(sock, sock.poll_at(1.0)) == [ack_at(ISS + 1, IRS + 101, RX - 100)]
    assert sock.recv() == b"x" * 100


def test_delayed_ack_is_a_parameter():
    sock = established(delayed_ack=0.2)
    send(sock, data(IRS + 1, b"x"), 1.0)
    assert sock.poll_at(1.0) == pytest.approx(1.2)


def test_every_second_segment_is_acked_at_once():
    sock = established()
    send(sock, data(IRS + 1, b"a" * 1000), 1.0)
    send(sock, data(IRS + 1001, b"b" * 1000), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 2001, RX - 2000)]


def test_the_ack_rides_on_data_we_send():
    sock = established()
    send(sock, data(IRS + 1, b"question"), 1.0)
    sock.send(b"answer")
    assert recv(sock, 1.01) == [to_peer(ISS + 1, IRS + 9, window=RX - 8, payload=b"answer")]
    assert recv(sock, 1.05) == []                                    # no ACK left to send


def test_out_of_order_segment_gets_an_immediate_duplicate_ack():
    sock = established()
    send(sock, data(IRS + 1001, b"b" * 1000), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 1)]             # RFC 5681 §4.2
    assert sock.recv() == b"" and sock.rcv.held_early == 1000


def test_each_out_of_order_segment_in_one_round_gets_its_own_duplicate_ack():
    """Three segments after a hole, received in one poll round: three duplicate ACKs, so
    the peer can fast-retransmit (one ACK per round would hide the loss: RFC 5681 §4.2)."""
    sock = established()
    for n in (1, 2, 3):
        send(sock, data(IRS + 1 + 1000 * n, b"x" * 1000), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 1)] * 3


def test_filling_the_hole_delivers_in_order_and_acks_at_once():
    sock = established()
    send(sock, data(IRS + 1001, b"b" * 1000), 1.0)
    recv(sock, 1.0)
    send(sock, data(IRS + 1, b"a" * 1000), 1.1)
    assert recv(sock, 1.1) == [ack_at(ISS + 1, IRS + 2001, RX - 2000)]
    assert sock.recv() == b"a" * 1000 + b"b" * 1000 and sock.rcv.early == []


def test_duplicate_segment_is_acked_at_once_and_delivered_once():
    sock = established()
    send(sock, data(IRS + 1, b"once"), 1.0)
    send(sock, data(IRS + 1, b"once"), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 5, RX - 4)]
    assert sock.recv() == b"once" and sock.stats["rx_drop_out_of_window"] == 1


def test_partly_duplicate_segment_is_trimmed():
    sock = established()
    send(sock, data(IRS + 1, b"abc"), 1.0)
    send(sock, data(IRS + 2, b"bcdef"), 1.0)
    assert sock.recv() == b"abcdef"


def test_data_past_the_window_is_trimmed_at_its_edge():
    sock = established()
    for i in range(7):
        send(sock, data(IRS + 1 + 1000 * i, b"z" * 1000), 1.0)
    send(sock, data(IRS + 7001, b"y" * 1500), 1.0)                    # 1000 fit
    assert sock.rcv.nxt == IRS + 8001 and len(sock.rcv.ready) == RX
    assert recv(sock, 1.0)[-1] == ack_at(ISS + 1, IRS + 8001, 0)


def test_fin_past_the_window_edge_is_not_taken():
    sock = established()
    for i in range(7):
        send(sock, data(IRS + 1 + 1000 * i, b"z" * 1000), 1.0)
    send(sock, data(IRS + 7001, b"y" * 1500, flags=F.ACK | F.FIN), 1.0)
    assert sock.state == State.ESTABLISHED and sock.rcv.nxt == IRS + 8001


def test_zero_window_refuses_data_with_an_ack():
    sock = established()
    for i in range(8):
        send(sock, data(IRS + 1 + 1000 * i, b"z" * 1000), 1.0)
    recv(sock, 1.0)
    send(sock, data(IRS + 8001, b"more"), 1.1)
    assert recv(sock, 1.1) == [ack_at(ISS + 1, IRS + 8001, 0)]
    assert sock.rcv.nxt == IRS + 8001 and sock.stats["rx_drop_out_of_window"] == 1


def test_zero_window_still_takes_the_ack_field():
    sock = established()
    sock.send(b"ours")
    recv(sock, 1.0)
    for i in range(8):
        send(sock, data(IRS + 1 + 1000 * i, b"z" * 1000, ack=ISS + 1), 1.0)
    send(sock, data(IRS + 8001, b"probe", ack=ISS + 5), 1.1)          # RFC 9293 §3.10.7.4
    assert sock.snd.una == ISS + 5 and sock.rto_at is None


def test_reading_a_full_window_sends_a_window_update_at_once():
    sock = established()
    for i in range(8):
        send(sock, data(IRS + 1 + 1000 * i, b"z" * 1000), 1.0)
    recv(sock, 1.0)
    assert len(sock.recv()) == RX and sock.poll_at(1.5) == 1.5
    assert recv(sock, 1.5) == [ack_at(ISS + 1, IRS + 8001, RX)]


def test_small_read_sends_no_window_update():
    sock = established()
    for i in range(8):
        send(sock, data(IRS + 1 + 1000 * i, b"z" * 1000), 1.0)
    recv(sock, 1.0)
    sock.recv(100)                                                    # RFC 9293 §3.8.6.2.2
    assert recv(sock, 1.5) == [] and sock.rcv.window() == 0


def test_out_of_order_fin_waits_for_the_hole():
    sock = established()
    send(sock, data(IRS + 4, b"def", flags=F.ACK | F.FIN), 1.0)
    assert sock.state == State.ESTABLISHED
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 1)]
    send(sock, data(IRS + 1, b"abc"), 1.1)
    assert sock.state == State.CLOSE_WAIT
    assert recv(sock, 1.1) == [ack_at(ISS + 1, IRS + 8, RX - 6)]
    assert sock.recv() == b"abcdef" and sock.eof


def test_out_of_order_data_is_held_only_inside_the_window():
    sock = established()
    send(sock, data(IRS + 1 + RX, b"far"), 1.0)                       # just past the window
    send(sock, data(IRS + RX - 99, b"w" * 500), 1.0)                  # straddles its edge
    assert sock.rcv.held_early == 100 and sock.rcv.early == [(IRS + RX - 99, b"w" * 100)]


def test_out_of_order_blocks_merge():
    r = Receiver(8000, 1000)
    r.start(Seq(0))
    for start, chunk in ((201, b"c" * 100), (101, b"b" * 100), (401, b"e" * 50), (250, b"x" * 100)):
        r.receive(Seq(start), chunk, False)
    assert r.early == [(Seq(101), b"b" * 100 + b"c" * 100 + b"x" * 49), (Seq(401), b"e" * 50)]
    r.receive(Seq(1), b"a" * 100, False)
    assert r.read() == b"a" * 100 + b"b" * 100 + b"c" * 100 + b"x" * 49
    assert r.early == [(Seq(401), b"e" * 50)] and r.nxt == 350


def test_a_fin_counts_one_sequence_number_once():
    r = Receiver(8000, 1000)
    r.start(Seq(0))
    r.receive(Seq(1), b"ab", True)
    assert r.nxt == 4 and r.fin_received
    assert r.receive(Seq(1), b"ab", True) is True                       # again: a duplicate
    assert r.receive(Seq(3), b"", True) is True
    assert r.nxt == 4 and r.fin == 3 and r.read() == b"ab"


# -- SACK blocks we send (RFC 2018 §4) -----------------------------------------------------------

def sack_socket(**args):
    return established(sack=True, peer_options=syn_options(sack=True), **args)


def blocks(*pairs):
    return (tcp.Sack(tuple((int(IRS + 1 + l), int(IRS + 1 + r)) for l, r in pairs)),)


def test_sack_blocks_name_the_newest_first():
    sock = sack_socket()
    send(sock, data(IRS + 1001, b"b" * 100), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 1, options=blocks((1000, 1100)))]
    send(sock, data(IRS + 3001, b"d" * 100), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 1,
                                      options=blocks((3000, 3100), (1000, 1100)))]
    send(sock, data(IRS + 1101, b"c" * 100), 1.0)                     # extends the older block
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 1,
                                      options=blocks((1000, 1200), (3000, 3100)))]


def test_sack_blocks_are_at_most_four():
    sock = sack_socket()
    for i in range(5):
        send(sock, data(IRS + 1001 + 1000 * i, b"x" * 10), 1.0)
    ack = recv(sock, 1.0)[-1]
    assert ack.sack_blocks == tuple((int(IRS + 1001 + 1000 * i), int(IRS + 1011 + 1000 * i))
                                    for i in (4, 3, 2, 1))


def test_sack_blocks_go_as_the_hole_fills():
    sock = sack_socket()
    send(sock, data(IRS + 1001, b"b" * 100), 1.0)
    send(sock, data(IRS + 3001, b"d" * 100), 1.0)
    recv(sock, 1.0)
    send(sock, data(IRS + 1, b"a" * 1000), 1.1)
    assert recv(sock, 1.1) == [ack_at(ISS + 1, IRS + 1101, RX - 1100,
                                      options=blocks((3000, 3100)))]


def test_sack_blocks_ride_on_pure_acks_only():
    sock = sack_socket()
    send(sock, data(IRS + 1001, b"b" * 100), 1.0)
    recv(sock, 1.0)
    sock.send(b"x" * 1000)
    assert recv(sock, 1.0) == [to_peer(ISS + 1, IRS + 1, payload=b"x" * 1000)]


# -- sending: Nagle, silly windows, the send buffer ----------------------------------------------

def test_nagle_holds_a_small_segment_while_data_is_unacked():
    sock = established()
    sock.send(b"a" * 100)
    assert recv(sock, 1.0) == [to_peer(ISS + 1, IRS + 1, payload=b"a" * 100)]
    sock.send(b"b" * 50)
    assert recv(sock, 1.0) == [] and sock.poll_at(1.0) == pytest.approx(1.2)   # the RTO only
    send(sock, from_peer(IRS + 1, ISS + 101), 1.1)
    assert recv(sock, 1.1) == [to_peer(ISS + 101, IRS + 1, payload=b"b" * 50)]


def test_nagle_lets_full_segments_go():
    sock = established()
    sock.send(b"a" * 100)
    recv(sock, 1.0)
    sock.send(b"b" * 2500)
    assert [len(s.payload) for s in recv(sock, 1.0)] == [1000, 1000]           # 500 wait


def test_full_segments_in_flight_do_not_hold_the_tail_back():
    """Minshall's refinement of Nagle (as Linux): only an unacknowledged *small* segment holds
    the next small one -- else a reply's tail waits for the peer's delayed ACK (40 ms)."""
    sock = established()
    sock.send(b"c" * 2500)
    assert [len(s.payload) for s in recv(sock, 1.0)] == [1000, 1000, 500]
    sock.send(b"d" * 10)
    assert recv(sock, 1.0) == []                                 # the 500-byte one is out


def test_nodelay_sends_small_segments_at_once():
    sock = established(nodelay=True)
    sock.send(b"a" * 100)
    sock_out = recv(sock, 1.0)
    sock.send(b"b" * 50)
    assert sock_out + recv(sock, 1.0) == [to_peer(ISS + 1, IRS + 1, payload=b"a" * 100),
                                          to_peer(ISS + 101, IRS + 1, payload=b"b" * 50)]


def test_send_window_limits_what_goes():
    sock = established(window=2500, nodelay=True)
    sock.send(b"x" * 4000)
    assert [len(s.payload) for s in recv(sock, 1.0)] == [1000, 1000]  # not a 500 sliver (SWS)


def test_sender_sws_waits_for_a_window_worth_sending():
    sock = established(nodelay=True)
    sock.send(b"x" * 3000)
    recv(sock, 1.0)
    send(sock, from_peer(IRS + 1, ISS + 3001, window=300), 1.1)
    sock.send(b"y" * 2000)
    assert recv(sock, 1.1) == []                                      # RFC 9293 §3.8.6.2.1
    send(sock, from_peer(IRS + 1, ISS + 3001, window=8000), 1.2)
    assert [len(s.payload) for s in recv(sock, 1.2)] == [1000, 1000]


def test_send_buffer_is_bounded():
    sock = established()
    assert sock.send(b"x" * 20_000) == 16_000 and sock.send(b"y") == 0


def test_peer_mss_is_honoured():
    sock = established(peer_options=syn_options(mss=536), nodelay=True)
    sock.send(b"x" * 1200)
    assert [len(s.payload) for s in recv(sock, 1.0)] == [536, 536, 128]


def test_our_mss_follows_the_mtu():
    class SmallMtu:
        address, mtu = ME, 1000
    sock = new_socket()
    with fixed_iss():
        sock.connect((ME, LOCAL), (PEER, REMOTE), 0.0)
    syn, = sock.dispatch(SmallMtu, 0.0)
    assert tcp.Repr.parse(syn.payload, ME, PEER).mss == 960


# -- zero window and the persist timer (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17) -----------------

def zero_window(**args):
    """1000 bytes sent and acknowledged with window 0 at t=1.1 (RTO 0.25); 1000 more waiting."""
    sock = established(rtt=0.1, nodelay=True, **args)
    sock.send(b"a" * 1000)
    recv(sock, 1.0)
    send(sock, from_peer(IRS + 1, ISS + 1001, window=0), 1.1)
    sock.send(b"b" * 1000)
    assert recv(sock, 1.1) == []
    return sock


def test_zero_window_starts_the_persist_timer():
    sock = zero_window()
    assert sock.snd.rtt.rto == pytest.approx(0.25) and sock.poll_at(1.1) == pytest.approx(1.35)


def test_persist_probe_carries_one_byte():
    sock = zero_window()
    assert recv(sock, sock.poll_at(1.1)) == [to_peer(ISS + 1001, IRS + 1, payload=b"b")]
    assert sock.stats["window_probes"] == 1 and sock.snd.nxt == ISS + 1001


def test_persist_probes_back_off_and_never_give_up_while_answered():
    sock = zero_window()
    now, gaps = 1.1, []
    for _ in range(TcpSocket.MAX_RETRIES + 5):
        at = sock.poll_at(now)
        gaps.append(round(at - now, 3))
        probe, = recv(sock, at)
        send(sock, from_peer(IRS + 1, ISS + 1001, window=0), at)      # rejected, still zero
        now = at
    assert gaps[:4] == [0.25, 0.5, 1.0, 2.0] and max(gaps) == 60.0       # backs off
    assert sock.state == State.ESTABLISHED and probe.payload == b"b"


def test_persist_gives_up_when_probes_go_unanswered():
    sock = zero_window()
    while sock.state == State.ESTABLISHED:
        recv(sock, sock.poll_at(1.1))
    assert isinstance(sock.error, ConnectionTimeout)
    assert sock.stats["window_probes"] == TcpSocket.MAX_RETRIES


def test_window_update_after_a_rejected_probe_sends_from_snd_una():
    sock = zero_window()
    recv(sock, sock.poll_at(1.1))
    send(sock, from_peer(IRS + 1, ISS + 1001, window=0), 1.45)
    send(sock, from_peer(IRS + 1, ISS + 1001, window=8000), 1.5)      # the window opens
    assert recv(sock, 1.5) == [to_peer(ISS + 1001, IRS + 1, payload=b"b" * 1000)]


def test_probe_byte_taken_moves_on_to_the_next():
    sock = zero_window()
    recv(sock, sock.poll_at(1.1))
    send(sock, from_peer(IRS + 1, ISS + 1002, window=0), 1.45)        # took it, full again
    assert sock.snd.una == ISS + 1002 and recv(sock, 1.45) == []      # the timer starts again
    assert recv(sock, sock.poll_at(1.45)) == [to_peer(ISS + 1002, IRS + 1, payload=b"b")]


def test_zero_window_ack_is_not_a_duplicate_ack():
    sock = zero_window()
    for _ in range(4):
        recv(sock, sock.poll_at(1.1))
        send(sock, from_peer(IRS + 1, ISS + 1001, window=0), sock.poll_at(1.1))
    assert sock.stats["dupacks"] == 0 and not sock.snd.cc.in_recovery


def test_small_window_with_nothing_in_flight_starts_the_persist_timer():
    sock = established(rtt=0.1, nodelay=True)
    sock.send(b"a" * 1000)
    recv(sock, 1.0)
    send(sock, from_peer(IRS + 1, ISS + 1001, window=100), 1.1)       # its update may be lost
    sock.send(b"b" * 1000)
    assert recv(sock, 1.1) == [] and sock.poll_at(1.1) == pytest.approx(1.35)   # SWS holds
    assert recv(sock, sock.poll_at(1.1)) == [to_peer(ISS + 1001, IRS + 1, payload=b"b" * 100)]
    assert sock.snd.nxt == ISS + 1101                                 # the override timeout


def test_rto_retransmission_into_a_small_window_is_not_held_by_sws():
    sock = established(rtt=0.1, nodelay=True)
    sock.send(b"a" * 1000)
    recv(sock, 1.0)
    send(sock, from_peer(IRS + 1, ISS + 945, window=56), 1.1)         # 56 bytes still out
    sock.send(b"b" * 3000)
    assert recv(sock, 1.1) == []
    assert recv(sock, sock.poll_at(1.1)) == [to_peer(ISS + 945, IRS + 1, payload=b"a" * 56)]


# -- window scaling (RFC 7323 §2) ---------------------------------------------------------------

def scaled(peer_ws=2, window=1000):
    return established(rx_capacity=256 * 1024, window_scale=True, window=window,
                       peer_options=syn_options(ws=peer_ws))


def test_window_scale_scales_the_windows_we_announce():
    sock = scaled()
    assert sock.rcv_shift == 3
    send(sock, data(IRS + 1, b"x"), 1.0)
    assert recv(sock, 1.1) == [ack_at(ISS + 1, IRS + 2, (256 * 1024 - 1) >> 3)]


def test_window_scale_scales_the_windows_we_receive_but_not_the_syns():
    sock = scaled(peer_ws=2, window=1000)
    assert sock.snd.wnd == 1000                                       # the SYN-ACK: unscaled
    send(sock, from_peer(IRS + 1, ISS + 1, window=1000), 1.0)
    assert sock.snd.wnd == 4000


def test_window_scale_over_14_is_taken_as_14():
    sock = scaled(peer_ws=15)
    assert sock.snd_shift == 14


def test_window_scale_not_answered_means_no_scaling():
    sock = established(rx_capacity=256 * 1024, window_scale=True)
    assert (sock.snd_shift, sock.rcv_shift) == (0, 0)
    send(sock, data(IRS + 1, b"x"), 1.0)
    assert recv(sock, 1.1)[0].window == 0xFFFF


def test_listener_answers_window_scale_only_when_offered():
    lst, child = syn_received(rx_capacity=256 * 1024, window_scale=True,
                              peer_options=syn_options(ws=None))
    send(lst, from_peer(IRS, None, F.SYN, options=syn_options()), 1.0)
    synack, = recv(lst, 1.0)
    assert synack.window_scale is None and child.rcv_shift == 0 and synack.window == 0xFFFF


def test_listener_answers_window_scale_when_offered():
    lst, child = syn_received(rx_capacity=256 * 1024, window_scale=True,
                              peer_options=syn_options(ws=7))
    send(lst, from_peer(IRS, None, F.SYN, options=syn_options(ws=7)), 1.0)
    synack, = recv(lst, 1.0)
    assert synack.window_scale == 3 and synack.window == 0xFFFF and child.snd_shift == 7


# -- timestamps and PAWS (RFC 7323 §3-§5) -------------------------------------------------------

def ts_socket(**args):
    return established(timestamps=True, peer_options=syn_options(ts=(7000, 0)), **args)


def ts(val, ecr):
    return (tcp.Timestamps(val, ecr),)


def test_timestamps_on_every_segment_echo_the_peers_newest():
    sock = ts_socket()
    assert sock.use_ts and sock.snd.mss == MSS - 12                   # RFC 7323 §3.2
    send(sock, data(IRS + 1, b"x", options=ts(7100, 0)), 1.0)
    assert recv(sock, 1.04) == [ack_at(ISS + 1, IRS + 2, RX - 1, options=ts(1040, 7100))]


def test_paws_drops_an_old_timestamp_with_an_ack():
    sock = ts_socket()
    send(sock, data(IRS + 1, b"new", options=ts(7100, 0)), 1.0)
    send(sock, data(IRS + 4, b"old", options=ts(7050, 0)), 1.0)       # RFC 7323 §5.3 R1
    assert sock.stats["rx_drop_paws"] == 1 and sock.rcv.nxt == IRS + 4
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 4, RX - 3, options=ts(1000, 7100))]


def test_paws_does_not_drop_a_rst():
    sock = ts_socket()
    send(sock, data(IRS + 1, b"new", options=ts(7100, 0)), 1.0)
    send(sock, from_peer(IRS + 4, None, F.RST, options=ts(1, 0)), 1.0)
    assert sock.state == State.CLOSED


def test_paws_compares_timestamps_modulo_2_32():
    sock = established(timestamps=True, peer_options=syn_options(ts=(TOP - 10, 0)))
    send(sock, data(IRS + 1, b"wrapped", options=ts(5, 0)), 1.0)      # newer, past 2³²
    assert sock.recv() == b"wrapped" and sock.ts_recent == 5


def test_ts_recent_is_not_taken_from_an_out_of_order_segment():
    sock = ts_socket()
    send(sock, data(IRS + 101, b"late", options=ts(7300, 0)), 1.0)
    assert sock.ts_recent == 7000                                     # RFC 7323 §4.3


# -- keep-alive (RFC 1122 §4.2.3.6) --------------------------------------------------------------

def test_keepalive_is_off_by_default():
    sock = established()
    assert sock.poll_at(0.0) is None


def test_keepalive_probe_after_idle_carries_snd_nxt_minus_one():
    sock = established(keepalive=10.0)
    assert sock.poll_at(0.0) == 10.0
    assert recv(sock, 10.0) == [to_peer(ISS, IRS + 1)]


def test_keepalive_answer_restarts_the_idle_time():
    sock = established(keepalive=10.0)
    recv(sock, 10.0)
    send(sock, from_peer(IRS + 1, ISS + 1), 10.1)
    assert sock.poll_at(10.1) == pytest.approx(20.1) and sock.keepalive_probes == 0


def test_keepalive_gives_up_after_unanswered_probes():
    sock = established(keepalive=10.0)
    probes = []
    while sock.state == State.ESTABLISHED:
        probes += recv(sock, sock.poll_at(0.0))
    assert probes == [to_peer(ISS, IRS + 1)] * 5 + [to_peer(ISS + 1, None, F.RST, window=0)]
    assert isinstance(sock.error, ConnectionTimeout)


def test_our_stack_answers_a_keepalive_probe():
    sock = established()
    send(sock, from_peer(IRS, ISS + 1), 5.0)                          # SEG.SEQ = RCV.NXT - 1
    assert recv(sock, 5.0) == [ack_at(ISS + 1, IRS + 1)]


def test_no_keepalive_in_time_wait():
    sock = established(keepalive=10.0, msl=30.0)                      # TIME-WAIT: 60 s
    sock.close()
    recv(sock, 1.0)
    send(sock, from_peer(IRS + 1, ISS + 2, F.FIN | F.ACK), 1.1)
    recv(sock, 1.1)
    send(sock, from_peer(IRS + 1, ISS + 2, F.FIN | F.ACK), 1.2)      # its FIN again
    assert recv(sock, 1.2) == [ack_at(ISS + 2, IRS + 2)]
    assert sock.state == State.TIME_WAIT and recv(sock, 11.5) == []


# -- sequence numbers across 2³² ---------------------------------------------------------------

def test_sending_across_2_32():
    sock = established(iss=TOP - 500, nodelay=True)
    sock.send(b"x" * 2000)
    out = recv(sock, 1.0)
    assert [(s.seq, len(s.payload)) for s in out] == [(TOP - 499, 1000), (501, 1000)]
    send(sock, from_peer(IRS + 1, Seq(TOP - 499) + 2000), 1.1)
    assert sock.snd.una == 1501 and sock.rto_at is None and sock.snd.buffer == b""


def test_receiving_across_2_32():
    sock = established(irs=TOP - 500)
    send(sock, data(TOP - 499, b"a" * 1000), 1.0)
    send(sock, data(501, b"b" * 1000), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, 1501, RX - 2000)]
    assert sock.recv() == b"a" * 1000 + b"b" * 1000


def test_out_of_order_and_sack_across_2_32():
    sock = established(irs=TOP - 500, sack=True, peer_options=syn_options(sack=True))
    send(sock, data(501, b"b" * 1000), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, TOP - 499, options=(tcp.Sack(((501, 1501),)),))]
    send(sock, data(TOP - 499, b"a" * 1000), 1.1)
    assert sock.recv() == b"a" * 1000 + b"b" * 1000


def test_fin_across_2_32():
    sock = established(irs=TOP - 2)                                    # the FIN at 2³² - 1
    send(sock, data(TOP - 1, b"", flags=F.ACK | F.FIN), 1.0)
    assert sock.state == State.CLOSE_WAIT
    assert recv(sock, 1.0) == [ack_at(ISS + 1, 0)]


def test_fast_retransmit_across_2_32():
    sock = established(iss=TOP - 1500, nodelay=True)
    sock.snd.cc.cwnd = 4 * MSS
    sock.send(b"x" * 4000)
    first = recv(sock, 1.0)[0]
    for _ in range(3):
        send(sock, from_peer(IRS + 1, TOP - 1499), 1.1)
    assert recv(sock, 1.1) == [first] and first.seq == TOP - 1499


def test_four_segments_in_one_round_are_acked_after_the_second_and_the_fourth():
    """RFC 5681 §4.2: an ACK for at least every second full segment, even when several
    arrive between two dispatches (one ACK per poll round starved the peer's ACK clock)."""
    sock = established()
    for n in range(4):
        send(sock, data(IRS + 1 + 1000 * n, b"x" * 1000), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 2001, RX - 2000),
                               ack_at(ISS + 1, IRS + 4001, RX - 4000)]


def test_a_fin_after_a_due_ack_in_the_same_round_is_acked_too():
    sock = established()
    send(sock, data(IRS + 1, b"x" * 1000), 1.0)
    send(sock, data(IRS + 1001, b"y" * 1000), 1.0)          # the ACK falls due here
    send(sock, data(IRS + 2001, b"", flags=F.ACK | F.FIN), 1.0)
    assert recv(sock, 1.0) == [ack_at(ISS + 1, IRS + 2001, RX - 2000),
                               ack_at(ISS + 1, IRS + 2002, RX - 2000)]
    assert sock.state == State.CLOSE_WAIT
