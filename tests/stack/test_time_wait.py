"""A server that closes first holds each connection in TIME-WAIT for 2 MSL (60 s by default).
The live stack keeps at most ``MAX_TIME_WAIT`` of them and ends the oldest early, as Linux's
``tcp_max_tw_buckets`` does; and every segment finds its connection among many sockets.
The stack talks to itself here, through a ``Loopback``: the real ``Stack`` and its thread."""

from ipaddress import IPv4Interface

from dos64lab.iface import InterfaceConfig
from dos64lab.phy import Loopback
from dos64lab.socket.tcp import State
from dos64lab.stack import MAX_TIME_WAIT, Stack

ME = IPv4Interface("10.0.0.1/24")


def time_waits(net):
    with net.lock:
        return sorted((s.timewait_at, s.remote[1]) for s in net.sockets
                      if getattr(s, "state", None) is State.TIME_WAIT)


def test_a_server_that_closes_first_keeps_at_most_max_time_wait_connections():
    with Stack(Loopback(capacity=1024), InterfaceConfig(ME)) as net:
        server = net.listen(80, backlog=64)
        count, ports = MAX_TIME_WAIT + 12, []
        for i in range(count):
            client = net.connect(ME.ip, 80)
            conn = server.accept(5)
            conn.sendall(b"reply %d" % i)
            conn.close()                        # we close first: this side waits 2 MSL
            assert client.recv_exactly(len(b"reply %d" % i)) == b"reply %d" % i
            client.close()
            ports.append(client.socket.local[1])
        recycled = lambda: net.iface.stats["tcp_time_wait_recycled"]        # noqa: E731
        net.wait_for(lambda: recycled() == count - MAX_TIME_WAIT
                     and len(time_waits(net)) == MAX_TIME_WAIT, 5, "the oldest to end",
                     lambda: f"{recycled()} ended early, {len(time_waits(net))} in TIME-WAIT")
        assert [port for _, port in time_waits(net)] == ports[-MAX_TIME_WAIT:]   # the newest
        # and the next connection still finds its way among them
        client = net.connect(ME.ip, 80)
        conn = server.accept(5)
        client.sendall(b"ping")
        assert conn.recv_exactly(4) == b"ping"
        assert net.iface.stats["tcp_rx_drop_no_socket"] == 0


def test_a_socket_taken_out_of_the_set_gets_no_more_segments():
    """The interface remembers which socket a connection's segments go to; a socket removed
    from the set since must not get them."""
    from dos64lab.socket.tcp import TcpListener, TcpSocket

    from .conftest import A_NET, B_NET, pair, run

    a, b, _, _ = pair()
    listener = b.add(TcpListener(80))
    client = a.add(TcpSocket(nodelay=True))         # "second" goes at once
    client.connect((A_NET.ip, 40000), (B_NET.ip, 80), 0.0)
    run(a, b, 0.0)
    server = listener.accept()
    handle = b.sockets.add(server)
    client.send(b"first")
    run(a, b, 0.1)
    assert server.recv() == b"first"                # its segments found it (and it is remembered)
    b.sockets.remove(handle)
    received, tcp_rx = server.stats["rx_segments"], b.iface.stats["tcp_rx"]
    client.send(b"second")
    run(a, b, 0.2)
    assert b.iface.stats["tcp_rx"] > tcp_rx             # it did arrive ...
    assert server.stats["rx_segments"] == received and server.recv() == b""   # ... elsewhere
