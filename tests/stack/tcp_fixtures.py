"""TCP sockets in a state, for tests in smoltcp's shape (CONVENTIONS 14).

A test takes a socket in a state (``established()``, ``fin_wait_1()`` ...), feeds it one
segment from the peer (``send(sock, from_peer(...))``) and asserts the exact segments that
come out (``recv(sock) == [to_peer(...)]``).  Time is always an argument.

The numbers are fixed so a test reads like a packet trace: our initial sequence number is
``ISS``, the peer's ``IRS``; the peer offers MSS ``MSS`` and window ``WIN``.  By default the
sockets negotiate no options (no window scale, no timestamps, no SACK) so segments are
short; tests of those options turn them on.  ``ts_offset`` is 0, so our TSval is the time
in milliseconds.
"""

from __future__ import annotations

from contextlib import contextmanager
from ipaddress import IPv4Address
from unittest import mock

from dos64lab.socket.tcp import Seq, State, TcpListener, TcpSocket
from dos64lab.socket.tcp import socket as tcp_socket
from dos64lab.wire import ipv4, tcp
from dos64lab.wire.ipv4 import IpProtocol
from dos64lab.wire.tcp import TcpFlags as F

ME, PEER = IPv4Address("10.0.2.15"), IPv4Address("10.0.2.2")
LOCAL, REMOTE = 49152, 80            # our port, the peer's
ISS = Seq(10_000)                    # our initial sequence number
IRS = Seq(20_000)                    # the peer's
MSS = 1000                           # the peer's MSS option: our segments carry 1000 bytes
WIN = 8000                           # the peer's window
RX = 8000                            # our receive buffer: the window we announce
MSL = 1.0                            # TIME-WAIT lasts 2 s

NO_OPTIONS = dict(window_scale=False, timestamps=False, sack=False)
DEFAULTS = dict(rx_capacity=RX, tx_capacity=16_000, msl=MSL, **NO_OPTIONS)


class Iface:
    """What a TCP socket asks of the interface: its MTU (for the MSS it offers)."""
    address = ME
    mtu = 1500


# -- segments -------------------------------------------------------------------------------

def from_peer(seq, ack=None, flags=None, *, window=WIN, payload=b"", options=(),
              src_port=REMOTE, dst_port=LOCAL) -> tcp.Repr:
    """A segment the peer sends.  ``flags`` defaults to ACK when ``ack`` is given."""
    if flags is None:
        flags = F.ACK if ack is not None else F(0)
    return tcp.Repr(src_port, dst_port, int(Seq(seq)), int(Seq(ack)) if ack is not None else 0,
                    F(flags), window, 0, tuple(options), bytes(payload))


def to_peer(seq, ack=None, flags=None, *, window=RX, payload=b"", options=()) -> tcp.Repr:
    """A segment we send, exactly (what ``recv`` returns)."""
    if flags is None:
        flags = F.ACK | (F.PSH if payload else 0)
    return tcp.Repr(LOCAL, REMOTE, int(Seq(seq)), int(Seq(ack)) if ack is not None else 0,
                    F(flags), window, 0, tuple(options), bytes(payload))


def packet(seg: tcp.Repr, src=PEER, dst=ME) -> ipv4.Repr:
    return ipv4.Repr(src, dst, IpProtocol.TCP, seg.to_bytes(src, dst))


def send(sock, seg: tcp.Repr, now: float = 0.0, src=PEER) -> bool:
    """Feed one segment as the interface would: parsed from its bytes (checksum checked),
    offered through ``accepts_tcp``.  False if the socket does not take it (the interface
    would answer a closed port)."""
    ip = packet(seg, src)
    parsed = tcp.Repr.parse(ip.payload, ip.src, ip.dst)
    if not sock.accepts_tcp(Iface, ip, parsed):
        return False
    sock.process_tcp(Iface, now, ip, parsed)
    return True


def recv(sock, now: float = 0.0) -> list[tcp.Repr]:
    """The segments ``dispatch`` gives at ``now``, parsed (checksums checked)."""
    out = []
    for ip in sock.dispatch(Iface, now):
        assert ip.protocol == IpProtocol.TCP
        out.append(tcp.Repr.parse(ip.payload, ip.src, ip.dst))
    return out


# -- sockets in a state ------------------------------------------------------------------------

@contextmanager
def fixed_iss(iss=ISS):
    """``initial_sequence_number`` returns ``iss`` (RFC 6528's hash is tested on its own)."""
    with mock.patch.object(tcp_socket, "initial_sequence_number", lambda *args: Seq(iss)):
        yield


def new_socket(**args) -> TcpSocket:
    sock = TcpSocket(**{**DEFAULTS, **args})
    sock.ts_offset = 0
    return sock


def syn_options(mss=MSS, ws=None, sack=False, ts=None) -> tuple:
    """A SYN's options in our order: MSS, window scale, SACK-permitted, timestamps."""
    options = [tcp.Mss(mss)]
    if ws is not None:
        options.append(tcp.WindowScale(ws))
    if sack:
        options.append(tcp.SackPermitted())
    if ts is not None:
        options.append(tcp.Timestamps(*ts))
    return tuple(options)


def syn_sent(iss=ISS, **args) -> TcpSocket:
    """connect() at t=0; the SYN has gone out."""
    sock = new_socket(**args)
    with fixed_iss(iss):
        sock.connect((ME, LOCAL), (PEER, REMOTE), 0.0)
    syn, = recv(sock, 0.0)
    assert syn.flags == F.SYN and syn.seq == iss
    return sock


def established(iss=ISS, irs=IRS, peer_options=None, window=WIN, rtt=0.0, **args) -> TcpSocket:
    """An active open, completed: SYN at t=0, SYN-ACK (MSS 1000) at t=``rtt``, ACK."""
    sock = syn_sent(iss, **args)
    options = syn_options() if peer_options is None else peer_options
    send(sock, from_peer(irs, Seq(iss) + 1, F.SYN | F.ACK, window=window, options=options), rtt)
    ack, = recv(sock, rtt)
    assert sock.state == State.ESTABLISHED and ack.flags == F.ACK
    return sock


def listener(port=LOCAL, **args) -> TcpListener:
    return TcpListener(port, **{**DEFAULTS, **args})


def syn_received(iss=ISS, irs=IRS, peer_options=None, **args):
    """A listener took the peer's SYN; its child sent the SYN-ACK.  (listener, child)"""
    lst = listener(**args)
    options = syn_options() if peer_options is None else peer_options
    with fixed_iss(iss):
        assert send(lst, from_peer(irs, None, F.SYN, options=options, dst_port=LOCAL))
    child, = lst.children.values()
    child.ts_offset = 0
    synack, = recv(lst, 0.0)
    assert synack.flags == F.SYN | F.ACK and child.state == State.SYN_RECEIVED
    return lst, child


def fin_wait_1(**args) -> TcpSocket:
    """established(), then close(): the FIN went out (unacknowledged)."""
    sock = established(**args)
    sock.close()
    fin, = recv(sock, 0.0)
    assert fin.flags == F.FIN | F.ACK and sock.state == State.FIN_WAIT_1
    return sock


def fin_wait_2(**args) -> TcpSocket:
    """fin_wait_1(), and the peer acknowledged our FIN."""
    sock = fin_wait_1(**args)
    send(sock, from_peer(IRS + 1, ISS + 2))
    assert sock.state == State.FIN_WAIT_2 and recv(sock, 0.0) == []
    return sock


def close_wait(**args) -> TcpSocket:
    """established(), then the peer's FIN, acknowledged."""
    sock = established(**args)
    send(sock, from_peer(IRS + 1, ISS + 1, F.FIN | F.ACK))
    ack, = recv(sock, 0.0)
    assert ack.ack == IRS + 2 and sock.state == State.CLOSE_WAIT
    return sock


def last_ack(**args) -> TcpSocket:
    """close_wait(), then close(): our FIN went out."""
    sock = close_wait(**args)
    sock.close()
    fin, = recv(sock, 0.0)
    assert fin.flags == F.FIN | F.ACK and sock.state == State.LAST_ACK
    return sock


def closing(**args) -> TcpSocket:
    """fin_wait_1(), then the peer's FIN that does not acknowledge ours (simultaneous close)."""
    sock = fin_wait_1(**args)
    send(sock, from_peer(IRS + 1, ISS + 1, F.FIN | F.ACK))
    ack, = recv(sock, 0.0)
    assert ack.ack == IRS + 2 and sock.state == State.CLOSING
    return sock


def time_wait(**args) -> TcpSocket:
    """fin_wait_2(), then the peer's FIN, acknowledged at t=0: TIME-WAIT until t=2 MSL."""
    sock = fin_wait_2(**args)
    send(sock, from_peer(IRS + 1, ISS + 2, F.FIN | F.ACK))
    ack, = recv(sock, 0.0)
    assert ack.ack == IRS + 2 and sock.state == State.TIME_WAIT
    return sock
