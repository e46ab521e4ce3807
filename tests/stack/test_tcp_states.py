"""RFC 9293's state machine, one test per transition, named after it (CONVENTIONS 14): a
socket in a state (``tcp_fixtures``), one segment from the peer, the exact segments that come
out.  Then RST in every state, RFC 5961's challenge ACKs, simultaneous open and close, and
whole exchanges between two Interfaces on a cable (golden frames)."""

import pytest

from dos64lab.socket.tcp import (ConnectionRefused, ConnectionReset, State, TcpError,
                                 TcpListener, TcpSocket)
from dos64lab.wire import icmp, ipv4, tcp
from dos64lab.wire.ipv4 import IpProtocol
from dos64lab.wire.tcp import TcpFlags as F

from .conftest import A_NET, B_NET, decode, pair
from .tcp_fixtures import (IRS, ISS, LOCAL, ME, PEER, REMOTE, RX, Iface, close_wait, closing,
                           established, fin_wait_1, fin_wait_2, fixed_iss, from_peer, last_ack,
                           new_socket, recv, send, syn_options, syn_received, syn_sent,
                           time_wait, to_peer)

MSS_OPTION = (tcp.Mss(1460),)          # what we offer: MTU 1500 - 40


# -- CLOSED and SYN-SENT (RFC 9293 §3.10.1, §3.10.7.3) ----------------------------------------

def test_closed_connect_sends_syn():
    sock = new_socket()
    with fixed_iss():
        sock.connect((ME, LOCAL), (PEER, REMOTE), 0.0)
    assert sock.state == State.SYN_SENT and sock.poll_at(0.0) == 0.0
    assert recv(sock, 0.0) == [to_peer(ISS, None, F.SYN, options=MSS_OPTION)]
    assert recv(sock, 0.0) == []


def test_closed_connect_offers_window_scale_sack_and_timestamps():
    sock = new_socket(rx_capacity=256 * 1024, window_scale=True, sack=True, timestamps=True)
    with fixed_iss():
        sock.connect((ME, LOCAL), (PEER, REMOTE), 2.0)
    syn, = recv(sock, 2.0)
    assert syn == to_peer(ISS, None, F.SYN, window=0xFFFF,                 # never scaled
                          options=(tcp.Mss(1460), tcp.WindowScale(3), tcp.SackPermitted(),
                                   tcp.Timestamps(2000, 0)))


def test_closed_connect_twice_raises():
    sock = syn_sent()
    with pytest.raises(TcpError, match="SYN-SENT"):
        sock.connect((ME, LOCAL), (PEER, REMOTE), 0.0)


def test_closed_socket_takes_no_segment():
    sock = new_socket()
    assert send(sock, from_peer(IRS, ISS + 1)) is False


def test_syn_sent_syn_ack():
    sock = syn_sent()
    send(sock, from_peer(IRS, ISS + 1, F.SYN | F.ACK, options=syn_options()))
    assert sock.state == State.ESTABLISHED
    assert recv(sock, 0.0) == [to_peer(ISS + 1, IRS + 1)]
    assert sock.snd.mss == 1000 and sock.snd.wnd == 8000


def test_syn_sent_syn_ack_without_mss_uses_536():
    sock = syn_sent()
    send(sock, from_peer(IRS, ISS + 1, F.SYN | F.ACK))
    assert sock.snd.mss == 536                                              # §3.7.1


@pytest.mark.parametrize("ack", [ISS, ISS + 2, ISS - 1000])
def test_syn_sent_syn_ack_with_bad_ack_gets_rst(ack):
    sock = syn_sent()
    send(sock, from_peer(IRS, ack, F.SYN | F.ACK))
    assert recv(sock, 0.0) == [to_peer(ack, None, F.RST, window=0)]      # <SEQ=SEG.ACK><RST>
    assert sock.state == State.SYN_SENT


def test_syn_sent_rst_ack():
    sock = syn_sent()
    send(sock, from_peer(0, ISS + 1, F.RST | F.ACK))
    assert sock.state == State.CLOSED and recv(sock, 0.0) == [] and sock.finished()
    with pytest.raises(ConnectionRefused, match="RST in SYN-SENT"):
        sock.send(b"x")


def test_syn_sent_rst_without_ack_is_ignored():
    sock = syn_sent()
    send(sock, from_peer(IRS, None, F.RST))
    assert sock.state == State.SYN_SENT and recv(sock, 0.0) == []


def test_syn_sent_rst_with_bad_ack_is_ignored():
    sock = syn_sent()
    send(sock, from_peer(0, ISS + 5, F.RST | F.ACK))
    assert sock.state == State.SYN_SENT and recv(sock, 0.0) == []


def test_syn_sent_ack_without_syn_is_dropped():
    sock = syn_sent()
    send(sock, from_peer(IRS, ISS + 1))
    assert sock.state == State.SYN_SENT and recv(sock, 0.0) == []


def test_syn_sent_syn_enters_syn_received():
    sock = syn_sent()                                                       # §3.5 fig. 8
    send(sock, from_peer(IRS, None, F.SYN, options=syn_options()), 0.1)
    assert sock.state == State.SYN_RECEIVED
    assert recv(sock, 0.1) == [to_peer(ISS, IRS + 1, F.SYN | F.ACK, options=MSS_OPTION)]


def test_syn_sent_close():
    sock = syn_sent()
    sock.close()
    assert sock.state == State.CLOSED and recv(sock, 0.0) == [] and sock.finished()


def test_syn_sent_data_queued_goes_with_the_handshake_ack():
    sock = syn_sent()
    assert sock.send(b"early") == 5
    send(sock, from_peer(IRS, ISS + 1, F.SYN | F.ACK, options=syn_options()))
    assert recv(sock, 0.0) == [to_peer(ISS + 1, IRS + 1, payload=b"early")]


def test_syn_sent_icmp_port_unreachable_refuses():
    sock = syn_sent()
    syn = to_peer(ISS, None, F.SYN, options=MSS_OPTION)
    quoted = ipv4.Repr(ME, PEER, IpProtocol.TCP, syn.to_bytes(ME, PEER)[:8])
    assert sock.icmp_error(0.1, icmp.Repr.dest_unreachable(3, b""), quoted) is True
    assert sock.state == State.CLOSED and isinstance(sock.error, ConnectionRefused)


# -- LISTEN and SYN-RECEIVED (§3.10.7.2, §3.10.7.4) --------------------------------------------

def test_listen_syn_sends_syn_ack():
    lst, child = syn_received()
    assert child.local == (ME, LOCAL) and child.remote == (PEER, REMOTE)
    assert child.snd.mss == 1000 and lst.stats["syns"] == 1
    send(lst, from_peer(IRS, None, F.SYN, options=syn_options()), 1.0)     # the SYN again
    assert recv(lst, 1.0) == [to_peer(ISS, IRS + 1, F.SYN | F.ACK, options=MSS_OPTION)]


def test_listen_syn_ack_is_not_taken():
    lst = TcpListener(LOCAL)
    assert send(lst, from_peer(IRS, ISS + 1, F.SYN | F.ACK)) is False       # the interface: RST
    assert send(lst, from_peer(IRS, ISS + 1)) is False
    assert send(lst, from_peer(IRS, None, F.RST)) is False


def test_listen_syn_for_another_port_is_not_taken():
    lst = TcpListener(LOCAL)
    assert send(lst, from_peer(IRS, None, F.SYN, dst_port=LOCAL + 1)) is False


def test_syn_received_ack():
    lst, child = syn_received()
    send(lst, from_peer(IRS + 1, ISS + 1), 0.1)
    assert child.state == State.ESTABLISHED and recv(lst, 0.1) == []
    assert lst.accept() is child and lst.accept() is None
    assert child.snd.wnd == 8000


def test_syn_received_ack_with_data():
    lst, child = syn_received()
    send(lst, from_peer(IRS + 1, ISS + 1, payload=b"hello"), 0.1)
    assert child.state == State.ESTABLISHED and child.recv() == b"hello"


def test_syn_received_bad_ack_gets_rst():
    lst, child = syn_received()
    send(lst, from_peer(IRS + 1, ISS + 7), 0.1)
    assert recv(lst, 0.1) == [to_peer(ISS + 7, None, F.RST, window=0)]      # <SEQ=SEG.ACK>
    assert child.state == State.SYN_RECEIVED


def test_syn_received_rst_returns_to_listen():
    lst, child = syn_received()
    send(lst, from_peer(IRS + 1, None, F.RST), 0.1)
    assert child.state == State.CLOSED and child.error is None
    assert lst.children == {} and lst.state == State.LISTEN and recv(lst, 0.1) == []
    with fixed_iss():
        assert send(lst, from_peer(IRS + 99, None, F.SYN, options=syn_options()), 0.2)


def test_syn_received_syn_again_sends_syn_ack_again():
    lst, child = syn_received()
    send(lst, from_peer(IRS, None, F.SYN, options=syn_options()), 0.1)
    assert recv(lst, 0.1) == [to_peer(ISS, IRS + 1, F.SYN | F.ACK, options=MSS_OPTION)]


def test_syn_received_timeout_sends_syn_ack_again():
    lst, child = syn_received()
    assert lst.poll_at(0.0) == pytest.approx(1.0)
    assert recv(lst, 0.99) == []
    assert recv(lst, 1.0) == [to_peer(ISS, IRS + 1, F.SYN | F.ACK, options=MSS_OPTION)]


def test_syn_received_syn_ack_completes_simultaneous_open():
    sock = syn_sent()
    send(sock, from_peer(IRS, None, F.SYN, options=syn_options()), 0.1)
    recv(sock, 0.1)                                                         # our SYN-ACK
    send(sock, from_peer(IRS, ISS + 1, F.SYN | F.ACK, options=syn_options()), 0.2)
    assert sock.state == State.ESTABLISHED                                  # fig. 8, line 6
    assert recv(sock, 0.2) == []


def test_syn_received_rst_after_an_active_open_refuses():
    sock = syn_sent()
    send(sock, from_peer(IRS, None, F.SYN, options=syn_options()), 0.1)
    recv(sock, 0.1)
    send(sock, from_peer(IRS + 1, None, F.RST), 0.2)
    assert sock.state == State.CLOSED and isinstance(sock.error, ConnectionRefused)


def test_syn_received_close_sends_fin_once_established():
    sock = syn_sent()
    send(sock, from_peer(IRS, None, F.SYN, options=syn_options()), 0.1)
    recv(sock, 0.1)
    sock.close()                                                            # §3.10.4: queued
    assert sock.state == State.SYN_RECEIVED
    send(sock, from_peer(IRS + 1, ISS + 1), 0.2)
    assert sock.state == State.FIN_WAIT_1
    assert recv(sock, 0.2) == [to_peer(ISS + 1, IRS + 1, F.FIN | F.ACK)]


# -- ESTABLISHED ---------------------------------------------------------------------------------

def test_established_fin():
    sock = established()
    send(sock, from_peer(IRS + 1, ISS + 1, F.FIN | F.ACK), 0.5)
    assert sock.state == State.CLOSE_WAIT and sock.eof
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 2)]                   # at once


def test_established_fin_with_data():
    sock = established()
    send(sock, from_peer(IRS + 1, ISS + 1, F.FIN | F.ACK | F.PSH, payload=b"bye"), 0.5)
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 5, window=RX - 3)]
    assert sock.state == State.CLOSE_WAIT and not sock.eof
    assert sock.recv() == b"bye" and sock.eof


def test_established_close():
    sock = established()
    sock.close()
    assert sock.state == State.FIN_WAIT_1
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1, F.FIN | F.ACK)]


def test_established_close_puts_the_fin_on_the_last_data():
    sock = established()
    sock.send(b"last words")
    sock.close()
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1, F.FIN | F.PSH | F.ACK,
                                       payload=b"last words")]


def test_established_send_after_close_raises():
    sock = established()
    sock.close()
    with pytest.raises(TcpError, match="closing"):
        sock.send(b"x")


def test_established_rst():
    sock = established()
    send(sock, from_peer(IRS + 1, None, F.RST), 0.5)
    assert sock.state == State.CLOSED and recv(sock, 0.5) == []
    with pytest.raises(ConnectionReset, match="reset by peer in ESTABLISHED"):
        sock.send(b"x")


def test_established_rst_in_window_gets_a_challenge_ack():
    sock = established()
    send(sock, from_peer(IRS + 100, None, F.RST), 0.5)                      # RFC 5961 §3.2
    assert sock.state == State.ESTABLISHED and sock.stats["challenge_acks"] == 1
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1)]


def test_established_rst_outside_the_window_is_dropped_silently():
    sock = established()
    send(sock, from_peer(IRS + 1 + RX, None, F.RST), 0.5)
    send(sock, from_peer(IRS, None, F.RST), 0.5)
    assert sock.state == State.ESTABLISHED and recv(sock, 0.5) == []


def test_established_syn_gets_a_challenge_ack():
    sock = established()
    send(sock, from_peer(IRS + 1, None, F.SYN), 0.5)                        # RFC 5961 §4
    assert sock.state == State.ESTABLISHED and sock.stats["challenge_acks"] == 1
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1)]


def test_established_syn_outside_the_window_gets_an_ack_too():
    sock = established()
    send(sock, from_peer(IRS - 5000, None, F.SYN), 0.5)
    assert sock.state == State.ESTABLISHED and recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1)]


def test_established_abort_sends_rst():
    sock = established()
    sock.abort(0.5)
    assert sock.state == State.CLOSED and not sock.finished()
    assert recv(sock, 0.5) == [to_peer(ISS + 1, None, F.RST, window=0)]   # <SEQ=SND.NXT>
    assert sock.finished()


def test_established_ack_of_unsent_data_is_dropped_with_an_ack():
    sock = established()
    send(sock, from_peer(IRS + 1, ISS + 500, payload=b"x"), 0.5)
    assert sock.recv() == b"" and sock.stats["rx_drop_ack_unsent"] == 1
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1)]


def test_established_segment_without_ack_is_dropped():
    sock = established()
    send(sock, from_peer(IRS + 1, None, F.PSH, payload=b"x"), 0.5)
    assert sock.recv() == b"" and sock.stats["rx_drop_no_ack"] == 1 and recv(sock, 0.5) == []


def test_established_segment_before_the_window_is_answered_with_an_ack():
    sock = established()
    send(sock, from_peer(IRS - 100, ISS + 1, payload=b"old"), 0.5)
    assert sock.stats["rx_drop_out_of_window"] == 1
    assert recv(sock, 0.5) == [to_peer(ISS + 1, IRS + 1)]


def test_established_old_ack_with_new_data_takes_the_data():
    sock = established()
    send(sock, from_peer(IRS + 1, ISS, payload=b"abc"), 0.5)              # SEG.ACK < SND.UNA
    assert sock.recv() == b"abc"


# -- FIN-WAIT-1, FIN-WAIT-2, CLOSING, TIME-WAIT ---------------------------------------------------

def test_fin_wait_1_ack():
    sock = fin_wait_1()
    send(sock, from_peer(IRS + 1, ISS + 2), 0.1)
    assert sock.state == State.FIN_WAIT_2 and recv(sock, 0.1) == [] and sock.rto_at is None


def test_fin_wait_1_ack_of_data_only_stays():
    sock = established()
    sock.send(b"abc")
    sock.close()
    recv(sock, 0.0)
    send(sock, from_peer(IRS + 1, ISS + 4), 0.1)                            # not the FIN
    assert sock.state == State.FIN_WAIT_1


def test_fin_wait_1_fin_enters_closing():
    sock = fin_wait_1()                                                     # simultaneous close
    send(sock, from_peer(IRS + 1, ISS + 1, F.FIN | F.ACK), 0.1)
    assert sock.state == State.CLOSING
    assert recv(sock, 0.1) == [to_peer(ISS + 2, IRS + 2)]


def test_fin_wait_1_fin_ack_enters_time_wait():
    sock = fin_wait_1()
    send(sock, from_peer(IRS + 1, ISS + 2, F.FIN | F.ACK), 0.1)
    assert sock.state == State.TIME_WAIT
    assert recv(sock, 0.1) == [to_peer(ISS + 2, IRS + 2)]


def test_fin_wait_1_data_is_still_received():
    sock = fin_wait_1()
    send(sock, from_peer(IRS + 1, ISS + 1, payload=b"more"), 0.1)
    assert sock.recv() == b"more" and sock.state == State.FIN_WAIT_1


def test_fin_wait_1_rst():
    sock = fin_wait_1()
    send(sock, from_peer(IRS + 1, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and isinstance(sock.error, ConnectionReset)


def test_fin_wait_1_timeout_sends_the_fin_again():
    sock = fin_wait_1()
    assert recv(sock, sock.poll_at(0.0)) == [to_peer(ISS + 1, IRS + 1, F.FIN | F.ACK)]


def test_fin_wait_2_fin():
    sock = fin_wait_2()
    send(sock, from_peer(IRS + 1, ISS + 2, F.FIN | F.ACK), 0.1)
    assert sock.state == State.TIME_WAIT
    assert recv(sock, 0.1) == [to_peer(ISS + 2, IRS + 2)]


def test_fin_wait_2_data_gets_a_delayed_ack():
    sock = fin_wait_2()
    send(sock, from_peer(IRS + 1, ISS + 2, payload=b"tail"), 0.1)
    assert sock.recv() == b"tail" and recv(sock, 0.1) == []
    assert recv(sock, 0.14) == [to_peer(ISS + 2, IRS + 5)]


def test_fin_wait_2_rst():
    sock = fin_wait_2()
    send(sock, from_peer(IRS + 1, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and isinstance(sock.error, ConnectionReset)


def test_closing_ack_enters_time_wait():
    sock = closing()
    send(sock, from_peer(IRS + 2, ISS + 2), 0.1)
    assert sock.state == State.TIME_WAIT and recv(sock, 0.1) == []


def test_closing_timeout_sends_the_fin_again():
    sock = closing()
    assert recv(sock, sock.poll_at(0.0)) == [to_peer(ISS + 1, IRS + 2, F.FIN | F.ACK)]


def test_closing_rst():
    sock = closing()
    send(sock, from_peer(IRS + 2, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and sock.error is None


def test_time_wait_lasts_2_msl():
    sock = time_wait()
    assert sock.poll_at(0.0) == 2.0 and not sock.finished()
    assert recv(sock, 1.99) == [] and sock.state == State.TIME_WAIT
    assert recv(sock, 2.0) == [] and sock.state == State.CLOSED and sock.finished()


def test_time_wait_fin_again_is_acked_and_restarts_2_msl():
    sock = time_wait()
    send(sock, from_peer(IRS + 1, ISS + 2, F.FIN | F.ACK), 1.5)            # our ACK was lost
    assert recv(sock, 1.5) == [to_peer(ISS + 2, IRS + 2)]
    assert sock.state == State.TIME_WAIT and sock.poll_at(1.5) == 3.5


def test_time_wait_rst():
    sock = time_wait()
    send(sock, from_peer(IRS + 2, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and sock.error is None


def test_time_wait_syn_gets_an_ack():
    sock = time_wait()
    send(sock, from_peer(IRS + 2, None, F.SYN), 0.1)
    assert recv(sock, 0.1) == [to_peer(ISS + 2, IRS + 2)] and sock.state == State.TIME_WAIT


# -- CLOSE-WAIT and LAST-ACK ------------------------------------------------------------------------

def test_close_wait_close_sends_fin():
    sock = close_wait()
    sock.close()
    assert sock.state == State.LAST_ACK
    assert recv(sock, 0.1) == [to_peer(ISS + 1, IRS + 2, F.FIN | F.ACK)]


def test_close_wait_can_still_send():
    sock = close_wait()
    sock.send(b"answer")
    assert recv(sock, 0.1) == [to_peer(ISS + 1, IRS + 2, payload=b"answer")]


def test_close_wait_fin_again_is_acked():
    sock = close_wait()
    send(sock, from_peer(IRS + 1, ISS + 1, F.FIN | F.ACK), 0.1)
    assert recv(sock, 0.1) == [to_peer(ISS + 1, IRS + 2)] and sock.state == State.CLOSE_WAIT


def test_close_wait_rst():
    sock = close_wait()
    send(sock, from_peer(IRS + 2, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and isinstance(sock.error, ConnectionReset)


def test_last_ack_ack_closes():
    sock = last_ack()
    send(sock, from_peer(IRS + 2, ISS + 2), 0.1)
    assert sock.state == State.CLOSED and sock.finished() and sock.error is None
    assert recv(sock, 0.1) == []


def test_last_ack_timeout_sends_the_fin_again():
    sock = last_ack()
    assert recv(sock, sock.poll_at(0.0)) == [to_peer(ISS + 1, IRS + 2, F.FIN | F.ACK)]


def test_last_ack_rst():
    sock = last_ack()
    send(sock, from_peer(IRS + 2, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and sock.error is None


# -- RST in every synchronized state: exact, in window, outside (RFC 5961 §3.2) ------------------

STATES = {"established": (established, IRS + 1), "fin_wait_1": (fin_wait_1, IRS + 1),
          "fin_wait_2": (fin_wait_2, IRS + 1), "close_wait": (close_wait, IRS + 2),
          "closing": (closing, IRS + 2), "last_ack": (last_ack, IRS + 2),
          "time_wait": (time_wait, IRS + 2)}


@pytest.mark.parametrize("state", STATES)
def test_rst_at_rcv_nxt_closes(state):
    make, nxt = STATES[state]
    sock = make()
    send(sock, from_peer(nxt, None, F.RST), 0.1)
    assert sock.state == State.CLOSED and recv(sock, 0.1) == []


@pytest.mark.parametrize("state", STATES)
def test_rst_in_window_gets_a_challenge_ack(state):
    make, nxt = STATES[state]
    sock = make()
    before = sock.state
    send(sock, from_peer(nxt + 1, None, F.RST), 0.1)
    seg, = recv(sock, 0.1)
    assert seg.flags == F.ACK and seg.ack == nxt and sock.state == before


# -- simultaneous open and close, socket to socket ------------------------------------------------

def deliver(src, dst, now):
    """Everything ``src`` dispatches at ``now``, handed to ``dst``; the segments."""
    segs = []
    for ip in src.dispatch(Iface, now):
        seg = tcp.Repr.parse(ip.payload, ip.src, ip.dst)
        segs.append(seg)
        if dst.accepts_tcp(Iface, ip, seg):
            dst.process_tcp(Iface, now, ip, seg)
    return segs


def twins(**args):
    a, b = new_socket(**args), new_socket(**args)
    with fixed_iss(ISS):
        a.connect((ME, LOCAL), (PEER, REMOTE), 0.0)
    with fixed_iss(IRS):
        b.connect((PEER, REMOTE), (ME, LOCAL), 0.0)
    return a, b


def test_simultaneous_open():
    a, b = twins()
    a_syn, b_syn = a.dispatch(Iface, 0.0), b.dispatch(Iface, 0.0)          # SYNs cross
    for ip, dst in ((a_syn[0], b), (b_syn[0], a)):
        dst.process_tcp(Iface, 0.1, ip, tcp.Repr.parse(ip.payload, ip.src, ip.dst))
    assert a.state == b.state == State.SYN_RECEIVED
    a_synack, b_synack = a.dispatch(Iface, 0.1), b.dispatch(Iface, 0.1)    # SYN-ACKs cross
    for ip, dst in ((a_synack[0], b), (b_synack[0], a)):
        dst.process_tcp(Iface, 0.2, ip, tcp.Repr.parse(ip.payload, ip.src, ip.dst))
    assert a.state == b.state == State.ESTABLISHED
    a.send(b"ping")
    deliver(a, b, 0.3)
    assert b.recv() == b"ping"


def test_simultaneous_close():
    a, b = twins()
    deliver(a, b, 0.0)                                # a's SYN: b (not yet sent its own)
    deliver(b, a, 0.0)                                # answers SYN-ACK: a is established
    deliver(a, b, 0.0)                                # a's ACK
    assert a.state == b.state == State.ESTABLISHED
    a.close()
    b.close()
    a_fin, b_fin = a.dispatch(Iface, 1.0), b.dispatch(Iface, 1.0)          # FINs cross
    for ip, dst in ((a_fin[0], b), (b_fin[0], a)):
        dst.process_tcp(Iface, 1.1, ip, tcp.Repr.parse(ip.payload, ip.src, ip.dst))
    assert a.state == b.state == State.CLOSING
    acks = deliver(a, b, 1.1) + deliver(b, a, 1.1)
    assert [s.flags for s in acks] == [F.ACK, F.ACK]
    assert a.state == b.state == State.TIME_WAIT
    assert a.poll_at(1.1) == pytest.approx(1.1 + 2 * a.msl)


# -- through two Interfaces on a cable: golden frames ---------------------------------------------

def converse(a, b, now, log):
    """Poll A then B at ``now`` until both are quiet; log (who, flags, seq, ack, bytes)."""
    for _ in range(50):
        busy = False
        for host, name in ((a, "A"), (b, "B")):
            busy |= host.iface.poll(now, host.device, host.sockets)
            for frame in host.device.take():
                _, ip = decode(frame)
                if isinstance(ip, ipv4.Repr) and ip.protocol == IpProtocol.TCP:
                    s = tcp.Repr.parse(ip.payload, ip.src, ip.dst)
                    log.append((name, s.flags.short(), s.seq, s.ack, len(s.payload)))
        if not busy:
            return log
    raise AssertionError("never quiet")


def iss_by_port(now, local, remote):
    from dos64lab.socket.tcp import Seq
    return Seq(1000 if local[1] == 80 else 5000)


def test_flow_handshake_data_and_close(monkeypatch):
    from dos64lab.socket.tcp import socket as tcp_socket
    monkeypatch.setattr(tcp_socket, "initial_sequence_number", iss_by_port)
    a, b, _, _ = pair()
    lst = b.add(TcpListener(80))
    client = a.add(TcpSocket())
    client.connect((A_NET.ip, 40000), (B_NET.ip, 80), 0.0)
    log = converse(a, b, 0.0, [])
    server = b.add(lst.accept())
    assert log == [("A", "S", 5000, 0, 0), ("B", "S.", 1000, 5001, 0), ("A", ".", 5001, 1001, 0)]
    assert client.describe()["window_scale"] == (3, 3) and server.use_sack and server.use_ts
    client.send(b"GET / HTTP/1.0\r\n\r\n")
    log = converse(a, b, 0.1, [])
    assert server.recv() == b"GET / HTTP/1.0\r\n\r\n"
    server.send(b"HTTP/1.0 200 OK\r\n\r\nhello")
    server.close()
    log += converse(a, b, 0.2, [])
    assert client.recv() == b"HTTP/1.0 200 OK\r\n\r\nhello" and client.eof
    client.close()
    log += converse(a, b, 0.3, [])
    assert log == [("A", "P.", 5001, 1001, 18),
                   ("B", "FP.", 1001, 5019, 24),            # data, FIN and the ACK in one
                   ("A", ".", 5019, 1026, 0),               # a FIN is acknowledged at once
                   ("A", "F.", 5019, 1026, 0),              # close() at 0.3
                   ("B", ".", 1026, 5020, 0)]
    assert client.state == State.CLOSED and server.state == State.TIME_WAIT
    converse(a, b, 0.3 + 2 * server.msl, [])
    assert server.state == State.CLOSED


def test_flow_syn_to_a_closed_port_is_refused():
    a, b, _, _ = pair()
    client = a.add(TcpSocket())
    client.connect((A_NET.ip, 40000), (B_NET.ip, 81), 0.0)
    log = converse(a, b, 0.0, [])
    assert [(who, flags, ack) for who, flags, _, ack, _ in log] == \
        [("A", "S", 0), ("B", "R.", (log[0][2] + 1) & 0xFFFFFFFF)]         # §3.10.7.1
    assert client.state == State.CLOSED and isinstance(client.error, ConnectionRefused)
    assert b.stats["tcp_tx_reset"] == 1 and b.stats["tcp_rx_drop_no_socket"] == 1


def test_flow_ack_to_a_listening_port_gets_rst_at_its_ack():
    a, b, _, _ = pair()
    b.add(TcpListener(80))
    seg = tcp.Repr(40000, 80, 123, 4567, F.ACK, 1000)
    a.iface.send_ip(0.0, ipv4.Repr(A_NET.ip, B_NET.ip, IpProtocol.TCP,
                                   seg.to_bytes(A_NET.ip, B_NET.ip)))
    log = converse(a, b, 0.0, [])
    assert log[-1] == ("B", "R", 4567, 0, 0)                                # <SEQ=SEG.ACK><RST>


def test_flow_rst_to_a_closed_port_gets_nothing():
    a, b, _, _ = pair()
    seg = tcp.Repr(40000, 80, 123, 0, F.RST, 0)
    a.iface.send_ip(0.0, ipv4.Repr(A_NET.ip, B_NET.ip, IpProtocol.TCP,
                                   seg.to_bytes(A_NET.ip, B_NET.ip)))
    log = converse(a, b, 0.0, [])
    assert [who for who, *_ in log] == ["A"] and b.stats["tcp_tx_reset"] == 0
