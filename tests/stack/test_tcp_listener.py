"""The listening socket (RFC 9293 §3.10.7.2): a backlog and an accept queue, bounded half-open
connections so a SYN flood cannot exhaust memory, and the demultiplexing that sends a
connection's segments to its own socket, not to the listener on its port."""

import random

from dos64lab.socket.tcp import ConnectionReset, State, TcpListener, TcpSocket
from dos64lab.wire import ipv4, tcp
from dos64lab.wire.ipv4 import IpProtocol
from dos64lab.wire.tcp import TcpFlags as F

from .conftest import A_NET, B_NET, decode, pair, run
from .tcp_fixtures import (IRS, ISS, LOCAL, REMOTE, fixed_iss, from_peer, listener, recv, send,
                           syn_options)


def connect(lst, port, now=0.0, complete=True):
    """A peer at ``port`` sends its SYN (and, if ``complete``, its ACK of our SYN-ACK)."""
    with fixed_iss():
        assert send(lst, from_peer(IRS, None, F.SYN, options=syn_options(), src_port=port), now)
    recv(lst, now)
    if complete:
        send(lst, from_peer(IRS + 1, ISS + 1, src_port=port), now)
    return lst.children.get((lst_peer(), port))


def lst_peer():
    from .tcp_fixtures import PEER
    return PEER


def reset_to(port, seq=ISS + 1):
    return tcp.Repr(LOCAL, port, int(seq), 0, F.RST, 0)


def test_accept_queue_is_first_in_first_out():
    lst = listener()
    a, b = connect(lst, 1001), connect(lst, 1002)
    assert lst.accept() is a and lst.accept() is b and lst.accept() is None
    assert lst.children == {}


def test_children_take_the_listeners_socket_arguments():
    lst = listener(rx_capacity=4000, nodelay=True)
    child = connect(lst, 1001)
    assert child.rx_capacity == 4000 and child.nodelay


def test_a_full_backlog_ignores_the_completing_ack_until_there_is_room():
    """Linux's way (tcp_abort_on_overflow=0): no reset; the SYN-ACK goes again on its timer,
    the peer's next ACK gets in once accept() made room."""
    lst = listener(backlog=2)
    connect(lst, 1001)
    connect(lst, 1002)
    third = connect(lst, 1003)
    assert third.state == State.SYN_RECEIVED and len(lst.queue) == 2
    assert lst.stats["backlog_full"] == 1 and not lst._dead
    assert [c.remote[1] for c in lst.queue] == [1001, 1002]
    [again] = recv(lst, 1.5)                                   # the SYN-ACK, on its timer
    assert again.flags == F.SYN | F.ACK and again.dst_port == 1003
    lst.accept()
    send(lst, from_peer(IRS + 1, ISS + 1, src_port=1003), 1.6)
    assert third.state == State.ESTABLISHED and lst.queue[-1] is third


def test_backlog_frees_up_as_connections_are_accepted():
    lst = listener(backlog=1)
    connect(lst, 1001)
    lst.accept()
    assert connect(lst, 1002).state == State.ESTABLISHED and lst.stats["backlog_full"] == 0


def test_half_open_connections_are_bounded_the_oldest_goes():
    lst = listener(max_half_open=3)
    for port in (1001, 1002, 1003, 1004):
        connect(lst, port, complete=False)
    assert sorted(port for _, port in lst.children) == [1002, 1003, 1004]
    assert lst.stats["half_open_dropped"] == 1
    assert send(lst, from_peer(IRS + 1, ISS + 1, src_port=1001)) is False   # the interface: RST


def test_syn_flood_cannot_exhaust_memory_and_a_client_still_gets_in():
    lst = listener(max_half_open=64)
    rng = random.Random(9)
    for port in range(10_000, 20_000):
        send(lst, from_peer(rng.randrange(1 << 32), None, F.SYN, src_port=port))
    assert len(lst.children) == 64 and lst.stats["half_open_dropped"] == 10_000 - 64
    recv(lst, 0.0)                                                     # 64 SYN-ACKs, no more
    assert connect(lst, 999).state == State.ESTABLISHED
    assert lst.accept().remote[1] == 999


def test_half_open_child_gives_up_and_is_forgotten():
    lst = listener()
    connect(lst, 1001, complete=False)
    out = []
    while lst.children:
        out += recv(lst, lst.poll_at(0.0))
    assert [s.flags for s in out] == [F.SYN | F.ACK] * TcpSocket.SYN_RETRIES + [F.RST]
    assert lst.poll_at(100.0) is None


def test_established_child_waiting_for_accept_still_acks_data():
    lst = listener()
    child = connect(lst, 1001)
    send(lst, from_peer(IRS + 1, ISS + 1, payload=b"early", src_port=1001), 0.1)
    assert lst.poll_at(0.1) > 0.1
    ack, = recv(lst, lst.poll_at(0.1))
    assert ack.ack == IRS + 6 and lst.accept().recv() == b"early" and child is not None


def test_connection_reset_before_accept_is_accepted_with_its_error():
    lst = listener()
    connect(lst, 1001)
    send(lst, from_peer(IRS + 1, None, F.RST, src_port=1001), 0.1)
    child = lst.accept()
    assert child.state == State.CLOSED and isinstance(child.error, ConnectionReset)


def test_listener_close_resets_what_was_not_accepted():
    lst = listener()
    connect(lst, 1001)
    connect(lst, 1002, complete=False)
    lst.close(0.2)
    assert not lst.finished() and lst.state == State.CLOSED
    assert recv(lst, 0.2) == [reset_to(1001), reset_to(1002)]
    assert lst.finished()
    assert send(lst, from_peer(IRS, None, F.SYN, src_port=1003)) is False


def test_listener_describe():
    lst = listener(backlog=4)
    connect(lst, 1001)
    connect(lst, 1002, complete=False)
    d = lst.describe()
    assert (d["state"], d["local"], d["backlog"], d["accept_queue"], d["half_open"]) == \
        ("LISTEN", f"*:{LOCAL}", 4, 1, 1)


# -- through an Interface: a connection's segments go to its own socket ---------------------------

def tcp_log(frames):
    out = []
    for frame in frames:
        _, ip = decode(frame)
        if isinstance(ip, ipv4.Repr) and ip.protocol == IpProtocol.TCP:
            out.append(tcp.Repr.parse(ip.payload, ip.src, ip.dst))
    return out


def test_late_duplicate_syn_goes_to_the_accepted_connection_not_the_listener():
    a, b, ea, eb = pair()
    lst = b.add(TcpListener(80))
    client = a.add(TcpSocket())
    client.connect((A_NET.ip, 40000), (B_NET.ip, 80), 0.0)
    run(a, b, 0.0)
    server = b.add(lst.accept())
    first_syn = next(s for s in tcp_log(ea.take()) if s.flags == F.SYN)
    eb.take()
    a.iface.send_ip(0.5, ipv4.Repr(A_NET.ip, B_NET.ip, IpProtocol.TCP,       # the network
                                   first_syn.to_bytes(A_NET.ip, B_NET.ip)))  # duplicated it
    run(a, b, 0.5)
    answer = tcp_log(eb.take())
    assert [s.flags for s in answer] == [F.ACK]                     # an ACK (RFC 5961 §4)
    assert lst.children == {} and server.stats["rx_drop_out_of_window"] == 1
    assert client.state == server.state == State.ESTABLISHED
