"""TCP's state machine: one connection (``TcpSocket``) and a listening port (``TcpListener``).

RFC 9293 §3.3.2 (the eleven states) and §3.10 (event processing: OPEN, SEND, RECEIVE,
CLOSE, ABORT, SEGMENT ARRIVES, timeouts), with RFC 5961 (challenge ACKs against blind
RST and SYN), RFC 6528 (initial sequence numbers), RFC 7323 (window scale, timestamps),
RFC 2018 (SACK), RFC 1122 §4.2.3.2 (delayed ACK) and §4.2.3.6 (keep-alive).  The pieces
live beside this file: ``seq`` (sequence numbers), ``recv`` (receive side), ``send``
(send side, Nagle, the SACK scoreboard), ``rtt`` (RFC 6298), ``congestion`` (NewReno).

Like every socket: ``process_tcp`` takes a segment, ``dispatch`` returns the packets to
send, ``poll_at`` names the next timer; ``now`` is always an argument.

    CLOSED --connect--> SYN-SENT --SYN,ACK--> ESTABLISHED --close--> FIN-WAIT-1 --ACK-->
    FIN-WAIT-2 --FIN--> TIME-WAIT --2 MSL--> CLOSED;   ESTABLISHED --FIN--> CLOSE-WAIT
    --close--> LAST-ACK --ACK--> CLOSED;   a listener's SYN --> SYN-RECEIVED --ACK--> ESTABLISHED
"""

from __future__ import annotations

import hashlib
import os
import random
from collections import deque
from enum import Enum
from ipaddress import IPv4Address

from ...errors import Dos64LabError
from ...wire import ipv4, tcp
from ...wire.ipv4 import IpProtocol
from ...wire.tcp import TcpFlags as F
from ..base import Socket
from .congestion import NewReno
from .recv import Receiver
from .send import Sender
from .seq import Seq

__all__ = ["TcpSocket", "TcpListener", "State", "TcpError", "ConnectionRefused",
           "ConnectionReset", "ConnectionTimeout", "tcp_reset_for"]

_SECRET = os.urandom(16)            # RFC 6528: the secret key of F()
#: a data segment's flags by (has data, has FIN), built once (enum's | is slow per segment)
_DATA_FLAGS = {(data, fin): F.ACK | (F.PSH if data else F(0)) | (F.FIN if fin else F(0))
               for data in (False, True) for fin in (False, True)}


class State(Enum):
    CLOSED = "CLOSED"
    LISTEN = "LISTEN"
    SYN_SENT = "SYN-SENT"
    SYN_RECEIVED = "SYN-RECEIVED"
    ESTABLISHED = "ESTABLISHED"
    FIN_WAIT_1 = "FIN-WAIT-1"
    FIN_WAIT_2 = "FIN-WAIT-2"
    CLOSE_WAIT = "CLOSE-WAIT"
    CLOSING = "CLOSING"
    LAST_ACK = "LAST-ACK"
    TIME_WAIT = "TIME-WAIT"


SYNCHRONIZED = {State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2, State.CLOSE_WAIT,
                State.CLOSING, State.LAST_ACK, State.TIME_WAIT}
RECEIVING = {State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2}    # data still accepted
IDLE = {State.ESTABLISHED, State.CLOSE_WAIT, State.FIN_WAIT_2}         # no timer but keep-alive
SENDING = {State.ESTABLISHED, State.CLOSE_WAIT}                         # send() still allowed


class TcpError(Dos64LabError):
    """A connection failed; the message says how and in which state."""


class ConnectionRefused(TcpError, ConnectionRefusedError):
    """The peer answered our SYN with RST: nobody listens there."""


class ConnectionReset(TcpError, ConnectionResetError):
    """The peer reset an open connection."""


class ConnectionTimeout(TcpError, TimeoutError):
    """Retransmissions gave up: the peer stopped answering."""


def initial_sequence_number(now: float, local, remote) -> Seq:
    """RFC 6528 §3: ISN = M + F(localip, localport, remoteip, remoteport, secretkey),
    M a 4-microsecond clock, F a keyed hash (here SHA-256)."""
    key = f"{local[0]}:{local[1]}-{remote[0]}:{remote[1]}".encode()
    f = int.from_bytes(hashlib.sha256(_SECRET + key).digest()[:4], "big")
    return Seq(int(now * 250_000) + f)


class TcpSocket(Socket):
    """One TCP connection.  ``connect()`` opens it actively; a ``TcpListener`` makes
    passive ones.  Buffers are bounded (``rx_capacity``, ``tx_capacity``)."""

    MAX_RETRIES = 12                 # RTO expiries in a row before the connection gives up
    SYN_RETRIES = 6

    def __init__(self, *, rx_capacity: int = 256 * 1024, tx_capacity: int = 256 * 1024,
                 min_rto: float = 0.2, msl: float = 30.0, nodelay: bool = False,
                 keepalive: float | None = None, delayed_ack: float = 0.04,
                 window_scale: bool = True, timestamps: bool = True, sack: bool = True):
        super().__init__()
        self.state = State.CLOSED
        self.local: tuple[IPv4Address, int] | None = None
        self.remote: tuple[IPv4Address, int] | None = None
        self.rx_capacity, self.tx_capacity = rx_capacity, tx_capacity
        self.min_rto, self.msl, self.nodelay = min_rto, msl, nodelay
        self.keepalive, self.delayed_ack = keepalive, delayed_ack
        self.offer = {"window_scale": window_scale, "timestamps": timestamps, "sack": sack}
        self.rcv: Receiver | None = None
        self.snd: Sender | None = None
        # negotiated in the handshake
        self.rcv_shift = 0               # how we scale the window we announce (RFC 7323 §2.3)
        self.snd_shift = 0               # how the peer scales its windows
        self.use_ts = self.use_sack = False
        self.ts_recent = 0               # the peer's newest TSval, echoed in TSecr
        self.ts_offset = random.randrange(1 << 32)
        self.peer_mss = 536              # RFC 9293 §3.7.1: the default without the option
        # timers (absolute times, None: not running)
        self.rto_at: float | None = None
        self.delack_at: float | None = None
        self.timewait_at: float | None = None
        self.keepalive_at: float | None = None
        self.retries = 0
        self.ack_now = False             # an ACK (or window update) must go out
        self.unacked_segments = 0        # full segments received since our last ACK
        self.acks: list = []             # ACKs made when they fell due, sent at the next dispatch
        self.send_rst: tcp.Repr | None = None
        self.error: TcpError | None = None
        self.listener = None             # the TcpListener that made us, until accepted
        self._peer_syn: tcp.Repr | None = None   # its options shape our SYN-ACK
        self.keepalive_probes = 0        # sent since the peer last said anything
        self.orphaned = False            # the application closed and went away (orphan())
        self._probe = False              # a keep-alive probe is due
        self._window_probe = False       # the persist timer expired: probe the zero window

    # -- the user's calls (RFC 9293 §3.10.1-§3.10.5) -------------------------------------
    def connect(self, local: tuple, remote: tuple, now: float) -> None:
        """OPEN, active: send a SYN from ``local`` (ip, port) to ``remote`` (ip, port)."""
        if self.state != State.CLOSED:
            raise TcpError(f"connect() in state {self.state.value}")
        self.local, self.remote = (IPv4Address(local[0]), local[1]), (IPv4Address(remote[0]), remote[1])
        self._create_tcb(now)
        self.state = State.SYN_SENT
        self.rto_at = now                # the SYN goes at the next dispatch

    def send(self, data: bytes) -> int:
        """SEND: queue what fits in the send buffer; returns how many bytes."""
        self._raise_error()
        if self.snd is None:
            raise TcpError("send() on a connection that was never opened")
        if self.state not in SENDING and self.state not in (State.SYN_SENT, State.SYN_RECEIVED):
            raise TcpError(f"cannot send in state {self.state.value}: the connection is closing")
        if self.snd.fin_queued:
            raise TcpError("cannot send after shutdown()")
        return self.snd.write(data)

    def recv(self, limit: int | None = None) -> bytes:
        """RECEIVE: the bytes that arrived in order (b"" if none yet)."""
        data = self.rcv.read(limit) if self.rcv else b""
        if data and self.rcv.room() - self.rcv.announced >= min(self.rcv.mss, self.rx_capacity // 2):
            self.ack_now = True              # a window update: the peer may send again
        return data

    def close(self) -> None:
        """CLOSE: send a FIN after the queued data (RFC 9293 §3.10.4)."""
        if self.state in (State.CLOSED, State.LISTEN, State.SYN_SENT):
            self.state = State.CLOSED
        elif self.state == State.SYN_RECEIVED:
            self.snd.fin_queued = True           # the FIN waits for ESTABLISHED (§3.10.4)
        elif self.state == State.ESTABLISHED:
            self.snd.fin_queued = True
            self.state = State.FIN_WAIT_1
        elif self.state == State.CLOSE_WAIT:
            self.snd.fin_queued = True
            self.state = State.LAST_ACK

    def orphan(self, now: float) -> None:
        """The application is gone (it closed and will not read again).  A peer that never
        sends its FIN must not keep us in FIN-WAIT-2 for ever: after 2 MSL we give up, as
        Linux does with tcp_fin_timeout for orphaned connections (RFC 9293 sets no limit)."""
        self.orphaned = True
        if self.state == State.FIN_WAIT_2 and self.timewait_at is None:
            self.timewait_at = now + 2 * self.msl

    def abort(self, now: float) -> None:
        """ABORT: RST to the peer, drop everything (RFC 9293 §3.10.5)."""
        if self.state in SYNCHRONIZED or self.state == State.SYN_RECEIVED:
            self.send_rst = tcp.Repr(self.local[1], self.remote[1], self.snd.max, 0, F.RST)
        self._closed()

    @property
    def eof(self) -> bool:
        """The peer sent its FIN and we have read everything before it."""
        return bool(self.rcv and self.rcv.fin_received and not self.rcv.ready)

    def _raise_error(self):
        if self.error is not None:
            raise self.error

    # -- set-up -----------------------------------------------------------------------------
    def _create_tcb(self, now: float) -> None:
        iss = initial_sequence_number(now, self.local, self.remote)
        self.rcv = Receiver(self.rx_capacity, 1460)
        self.snd = Sender(iss, self.tx_capacity, 536, self.min_rto)
        self.rcv_shift = _shift_for(self.rx_capacity) if self.offer["window_scale"] else 0

    def _our_mss(self, iface) -> int:
        return iface.mtu - ipv4.HEADER_LEN - tcp.HEADER_LEN

    def _syn_options(self, iface, now, peer: tcp.Repr | None) -> tuple:
        """MSS always; WS, SACK-permitted and TS when we offer them and (answering a SYN)
        the peer offered them too (RFC 7323 §1.3, RFC 2018 §2)."""
        options = [tcp.Mss(self._our_mss(iface))]
        if self.offer["window_scale"] and (peer is None or peer.window_scale is not None):
            options.append(tcp.WindowScale(self.rcv_shift))
        if self.offer["sack"] and (peer is None or peer.sack_permitted):
            options.append(tcp.SackPermitted())
        if self.offer["timestamps"] and (peer is None or peer.timestamps):
            options.append(tcp.Timestamps(self._tsval(now), self.ts_recent))
        return tuple(options)

    def _learn_syn_options(self, iface, seg: tcp.Repr) -> None:
        self.peer_mss = seg.mss or 536
        if seg.window_scale is not None and self.offer["window_scale"]:
            self.snd_shift = min(seg.window_scale, 14)        # RFC 7323 §2.3: at most 14
        else:
            self.rcv_shift = 0
        self.use_sack = seg.sack_permitted and self.offer["sack"]
        self.use_ts = seg.timestamps is not None and self.offer["timestamps"]
        if self.use_ts:
            self.ts_recent = seg.timestamps.tsval
        mss = min(self.peer_mss, self._our_mss(iface)) - (12 if self.use_ts else 0)
        self.snd.mss = self.rcv.mss = mss
        self.snd.cc = NewReno(mss)

    def _tsval(self, now: float) -> int:
        return (int(now * 1000) + self.ts_offset) & 0xFFFFFFFF

    # -- what the interface calls ---------------------------------------------------------
    def accepts_tcp(self, iface, ip, seg) -> bool:
        return (self.local is not None and self.state != State.CLOSED
                and seg.dst_port == self.local[1] and seg.src_port == self.remote[1]
                and ip.src == self.remote[0])

    def process_tcp(self, iface, now, ip, seg: tcp.Repr) -> None:
        """SEGMENT ARRIVES (RFC 9293 §3.10.7)."""
        self.stats["rx_segments"] += 1
        self.keepalive_probes = 0
        if self.keepalive:
            self.keepalive_at = now + self.keepalive
        if self.state == State.SYN_SENT:
            return self._syn_sent(iface, now, seg)
        seq, length = Seq(seg.seq), len(seg.payload) + bool(seg.flags & F.FIN)
        # RFC 7323 §5.3 PAWS: a segment older than the newest timestamp is a duplicate
        ts = seg.timestamps if self.use_ts else None
        if ts and not seg.flags & F.RST and _ts_older(ts.tsval, self.ts_recent):
            self.stats["rx_drop_paws"] += 1
            self.ack_now = True
            return
        # first: the sequence number (§3.10.7.4)
        if not self.rcv.acceptable(seq, length) and not (seg.flags & F.SYN and self.state == State.SYN_RECEIVED):
            if not seg.flags & F.RST:
                self.ack_now = True                          # tell the peer what we expect
            if self.state == State.TIME_WAIT and seg.flags & F.FIN:
                self._time_wait(now)                         # its FIN again: restart 2 MSL
            elif (self.rcv.room() == 0 and seq == self.rcv.nxt and seg.flags & F.ACK
                  and not seg.flags & (F.RST | F.SYN)):
                self._ack(iface, now, seg)                   # a zero window still takes ACKs
            self.stats["rx_drop_out_of_window"] += 1
            return
        if ts and seq <= self.rcv.nxt:                       # RFC 7323 §4.3: remember TSval
            self.ts_recent = ts.tsval
        # second: RST (RFC 5961 §3.2: exactly RCV.NXT resets; elsewhere in the window,
        # a challenge ACK -- a blind attacker rarely guesses the exact number)
        if seg.flags & F.RST:
            if seq != self.rcv.nxt:
                self.stats["challenge_acks"] += 1
                self.ack_now = True
                return
            return self._reset_by_peer()
        # fourth: SYN in a synchronized state: RFC 5961 §4, a challenge ACK
        if seg.flags & F.SYN:
            if self.state == State.SYN_RECEIVED and seq == self.rcv.nxt - 1:
                if seg.flags & F.ACK and self.snd.una < Seq(seg.ack) <= self.snd.max:
                    self._ack(iface, now, seg)              # simultaneous open: its SYN-ACK
                    return                                  # acknowledges ours (§3.5, fig. 8)
                self.rto_at = now                           # the peer's SYN again: SYN-ACK again
                return
            self.stats["challenge_acks"] += 1
            self.ack_now = True
            return
        # fifth: ACK
        if not seg.flags & F.ACK:
            self.stats["rx_drop_no_ack"] += 1
            return
        if not self._ack(iface, now, seg):
            return
        # seventh: the segment text
        if (seg.payload and self.state in RECEIVING) or seg.flags & F.FIN:
            self._text(iface, now, seq, seg)

    def _syn_sent(self, iface, now, seg: tcp.Repr) -> None:
        """RFC 9293 §3.10.7.3."""
        snd = self.snd
        ack = Seq(seg.ack)
        if seg.flags & F.ACK and not (snd.iss < ack <= snd.max):
            if not seg.flags & F.RST:
                self.send_rst = tcp.Repr(self.local[1], self.remote[1], seg.ack, 0, F.RST)
            return
        if seg.flags & F.RST:
            if seg.flags & F.ACK:
                self.error = ConnectionRefused(f"connection to {self.remote[0]}:{self.remote[1]} "
                                               "refused (RST in SYN-SENT)")
                self._closed()
            return
        if not seg.flags & F.SYN:
            return
        self.rcv.start(Seq(seg.seq))
        self._learn_syn_options(iface, seg)
        self._peer_syn = seg
        if seg.flags & F.ACK:
            snd.acknowledge(ack, now, None)
            snd.update_window(Seq(seg.seq), ack, seg.window)  # a SYN's window is never scaled
            self.state = State.ESTABLISHED
            self.rto_at = None
            self.retries = 0
            self.ack_now = True
        else:                                                 # simultaneous open (§3.5, fig. 8)
            self.state = State.SYN_RECEIVED
            self.rto_at = now

    def _ack(self, iface, now, seg: tcp.Repr) -> bool:
        """The ACK field (§3.10.7.4, fifth).  False: stop processing this segment."""
        snd, ack = self.snd, Seq(seg.ack)
        if self.state == State.SYN_RECEIVED:
            if not snd.una < ack <= snd.max:
                self.send_rst = tcp.Repr(self.local[1], self.remote[1], seg.ack, 0, F.RST)
                return False
            # a close() in SYN-RECEIVED was queued until now (RFC 9293 §3.10.4)
            self.state = State.FIN_WAIT_1 if snd.fin_queued else State.ESTABLISHED
            self.retries = 0
            snd.update_window(Seq(seg.seq), ack, seg.window << self.snd_shift)
        if ack > snd.max:                                     # acks what we never sent
            self.stats["rx_drop_ack_unsent"] += 1
            self.ack_now = True
            return False
        if self.use_sack and seg.sack_blocks:
            snd.update_scoreboard(seg.sack_blocks)
        window = seg.window << self.snd_shift
        if ack < snd.una:                                     # old duplicate: ignore its ACK
            return True
        if ack == snd.una:
            # RFC 5681 §2: a duplicate ACK -- data outstanding, none carried, the window the
            # same (and not zero: that ACK answers a persist probe)
            if (not seg.payload and not seg.flags & F.FIN and window == snd.wnd and window
                    and snd.max != snd.una):
                self.stats["dupacks"] += 1
                if snd.cc.on_dupack(snd.max - snd.una, snd.max):  # §3.2: fast retransmit
                    snd.high_rxt = snd.una                   # a new recovery: nothing resent yet
                    self._retransmit_hole()
            snd.update_window(Seq(seg.seq), ack, window)
            if snd.wnd == 0:
                self.retries = 0                             # RFC 1122 §4.2.2.17: it answers
        else:
            rtt = None
            ts = seg.timestamps if self.use_ts else None
            if ts and ts.tsecr:
                rtt = ((self._tsval(now) - ts.tsecr) & 0xFFFFFFFF) / 1000
            acked = snd.acknowledge(ack, now, rtt)
            if snd.cc.on_new_ack(acked, snd.una):            # NewReno partial ACK
                self._retransmit_hole()
            snd.update_window(Seq(seg.seq), ack, window)
            self.retries = 0
            self.rto_at = None if snd.una == snd.max else now + snd.rtt.rto
        if snd.fin_acked():
            if self.state == State.FIN_WAIT_1:
                self.state = State.FIN_WAIT_2
                if self.orphaned:
                    self.timewait_at = now + 2 * self.msl
            elif self.state == State.CLOSING:
                self._time_wait(now)
            elif self.state == State.LAST_ACK:
                self._closed()
                return False
        return True

    def _text(self, iface, now, seq, seg: tcp.Repr) -> None:
        """Seventh and eighth: data and FIN (§3.10.7.4)."""
        fin = bool(seg.flags & F.FIN)
        had_fin = self.rcv.fin_received
        urgent = self.rcv.receive(seq, seg.payload, fin)
        if urgent:                                            # out of order, or a hole filled
            self._ack_at_once(iface, now)
        elif fin:
            self.ack_now = True
        elif seg.payload:
            self.unacked_segments += 1
            if self.unacked_segments >= 2:                    # RFC 1122: every 2nd full segment
                self._ack_at_once(iface, now)
            elif self.delack_at is None:
                self.delack_at = now + self.delayed_ack
        if self.rcv.fin_received and not had_fin:             # eighth: the FIN
            self.ack_now = self.ack_now or not urgent         # (an ACK made at once has it)
            if self.state == State.ESTABLISHED:
                self.state = State.CLOSE_WAIT
            elif self.state == State.FIN_WAIT_1:
                if self.snd.fin_acked():
                    self._time_wait(now)
                else:
                    self.state = State.CLOSING
            elif self.state == State.FIN_WAIT_2:
                self._time_wait(now)

    def _ack_at_once(self, iface, now) -> None:
        """Make the ACK now, with what we hold now (RFC 5681 §4.2: one for every second full
        segment, one for each out-of-order segment -- the peer counts those as duplicate
        ACKs).  Several segments arrive in one poll round: each due ACK is its own segment."""
        if len(self.acks) < 64:
            self.acks.append(self._segment(iface, now, self.snd.max, F.ACK, b""))
            self.stats["tx_acks"] += 1
        self.ack_now, self.delack_at, self.unacked_segments = False, None, 0

    def _retransmit_hole(self) -> None:
        """Fast retransmit or a partial ACK: the next dispatch sends the holes again
        (``Sender.next_segment``), not everything after them."""
        self.stats["fast_retransmits"] += 1

    def _reset_by_peer(self) -> None:
        if self.state == State.SYN_RECEIVED and self.listener is not None:
            self.listener.forget(self)                       # back to LISTEN (§3.10.7.4)
        elif self.state == State.SYN_RECEIVED:               # our active open was refused
            self.error = ConnectionRefused(f"connection to {self.remote[0]}:{self.remote[1]} "
                                           "refused (RST in SYN-RECEIVED)")
        elif self.state in (State.ESTABLISHED, State.FIN_WAIT_1, State.FIN_WAIT_2,
                            State.CLOSE_WAIT):
            self.error = ConnectionReset(f"connection to {self.remote[0]}:{self.remote[1]} "
                                         f"reset by peer in {self.state.value}")
        self.stats["resets_received"] += 1
        self._closed()

    def _time_wait(self, now) -> None:
        self.state = State.TIME_WAIT
        self.timewait_at = now + 2 * self.msl
        self.rto_at = self.delack_at = self.keepalive_at = None

    def _closed(self) -> None:
        self.state = State.CLOSED
        self.rto_at = self.delack_at = self.timewait_at = self.keepalive_at = None

    # -- egress ---------------------------------------------------------------------------
    def dispatch(self, iface, now) -> list:
        if self._quiet(now):
            return []
        out = []
        if self.state not in (State.CLOSED, State.LISTEN):
            self._timers(iface, now)                       # may give up: an RST, at once
        if self.send_rst is not None:
            out.append(self._packet(self.send_rst))
            self.send_rst = None
            self.stats["tx_resets"] += 1
        if self.state in (State.CLOSED, State.LISTEN):
            return out
        snd = self.snd
        if self.state in (State.SYN_SENT, State.SYN_RECEIVED):
            return out + self._handshake(iface, now)
        out += self.acks                # the ACKs that fell due while segments came in
        self.acks = []
        made_earlier = len(out)         # what follows is made now, with the ACK number of now
        if self._probe:                 # keep-alive: an old byte's number makes the peer ACK
            self._probe = False
            out.append(self._segment(iface, now, snd.max - 1, F.ACK, b""))
        if self._window_probe:          # persist: a byte into a zero window, or what fits
            self._window_probe = False
            seq, data = snd.window_probe()
            out.append(self._segment(iface, now, seq, F.ACK | F.PSH, data))
        # data, FIN
        nagle = not self.nodelay
        while self.state not in (State.TIME_WAIT, State.CLOSED):
            nxt = snd.next_segment(nagle)
            if nxt is None:
                break
            seq, data, fin = nxt
            retransmission = seq < snd.max
            flags = _DATA_FLAGS[bool(data), bool(fin)]
            out.append(self._segment(iface, now, seq, flags, data))
            snd.sent(seq, len(data) + fin, now, retransmission)
            self.stats["tx_segments"] += 1
            self.stats["tx_bytes"] += len(data)
            if self.rto_at is None:
                self.rto_at = now + snd.rtt.rto
            if fin:
                break
        # data waits, nothing is in flight, yet nothing may go (a zero window, or one too
        # small for SWS): only the peer's window update would move us, and it may be lost --
        # the persist timer probes (RFC 9293 §3.8.6.1, RFC 1122 §4.2.2.17)
        if snd.end > snd.nxt and snd.una == snd.max and self.rto_at is None:
            self.rto_at = now + snd.rtt.rto
        if len(out) > made_earlier:
            self.ack_now = False                               # data segments carry the ACK
            self.delack_at, self.unacked_segments = None, 0
        if self.ack_now or (self.delack_at is not None and now >= self.delack_at):
            # SND.NXT as the peer knows it: the highest sent (``nxt`` may have gone back)
            out.append(self._segment(iface, now, snd.max, F.ACK, b""))
            self.ack_now, self.delack_at, self.unacked_segments = False, None, 0
            self.stats["tx_acks"] += 1
        return out

    def _handshake(self, iface, now) -> list:
        """SYN (SYN-SENT) or SYN-ACK (SYN-RECEIVED): the first, or again when the timer says."""
        snd = self.snd
        self.ack_now = False
        if self.rto_at is None or now < self.rto_at:
            return []
        again = snd.max != snd.iss                      # a SYN went out before
        if again:
            if not self._expired(now, self.SYN_RETRIES):
                return []
        flags = F.SYN if self.state == State.SYN_SENT else F.SYN | F.ACK
        peer = None if self.state == State.SYN_SENT else self._peer_syn
        packet = self._segment(iface, now, snd.iss, flags, b"", self._syn_options(iface, now, peer),
                               window=min(self.rcv.window(), 0xFFFF))   # a SYN's window: unscaled
        snd.sent(snd.iss, 1, now, again)
        self.rto_at = now + snd.rtt.rto
        return [packet]

    def _expired(self, now, limit) -> bool:
        """The retransmission timer expired (RFC 6298 §5.5): back off, or give up."""
        self.retries += 1
        if self.retries > limit:
            self.error = ConnectionTimeout(f"connection to {self.remote[0]}:{self.remote[1]} timed "
                                           f"out in {self.state.value} after {limit} retransmissions")
            self.abort(now)
            return False
        self.snd.rtt.backoff()
        return True

    def _timers(self, iface, now) -> None:
        snd = self.snd
        if self.timewait_at is not None and now >= self.timewait_at:
            self._closed()
            return
        if self.keepalive_at is not None and now >= self.keepalive_at and self.state in IDLE:
            self.keepalive_probes += 1                                  # RFC 1122 §4.2.3.6
            if self.keepalive_probes > 5:
                self.error = ConnectionTimeout(f"keep-alive: {self.remote[0]}:{self.remote[1]} "
                                               "stopped answering")
                self.abort(now)
                return
            self.keepalive_at = now + self.keepalive
            self._probe = True
            self.stats["keepalives"] += 1
        if self.state not in SYNCHRONIZED or self.rto_at is None or now < self.rto_at:
            return
        if not self._expired(now, self.MAX_RETRIES):
            return
        if snd.end > snd.una and (snd.wnd == 0 or snd.una == snd.max):   # persist: probe
            self.stats["window_probes"] += 1
            self._window_probe = True
        else:
            snd.cc.on_timeout(snd.max - snd.una)        # RFC 5681 §3.1 eq. 4: FlightSize
            self.stats["timeouts"] += 1
            snd.rewind()
        self.rto_at = now + snd.rtt.rto

    def _segment(self, iface, now, seq, flags, data, options=None, window=None) -> ipv4.Repr:
        if options is None:
            options = ()
            if self.use_ts:
                options += (tcp.Timestamps(self._tsval(now), self.ts_recent),)
            if self.use_sack and self.rcv.early and not data:   # a full data segment has
                # no room for them within the MSS (RFC 2018 §3): they ride on pure ACKs
                options += (tcp.Sack(self.rcv.sack_blocks(3 if self.use_ts else 4)),)
        if window is None:
            window = min(self.rcv.window() >> self.rcv_shift, 0xFFFF)
        ack = int(self.rcv.nxt) if self.rcv.nxt is not None and flags & F.ACK else 0
        return self._packet(tcp.Repr(self.local[1], self.remote[1], int(seq), ack, flags,
                                     window, 0, options, data))

    def _packet(self, seg: tcp.Repr) -> ipv4.Repr:
        src, dst = self.local[0], self.remote[0]
        return ipv4.Repr(src, dst, IpProtocol.TCP, seg.to_bytes(src, dst))

    def finished(self) -> bool:
        return self.state == State.CLOSED and self.send_rst is None

    def send_failed(self, now, packet, message: str) -> None:
        """The interface could not send a segment (no route, no ARP answer, not allowed).
        (``self.error`` is this socket's TcpError, so the base class's ``error()`` is not
        called.)  A handshake cannot go on without its SYN: it fails at once."""
        self.errors.append(message)
        del self.errors[:-16]
        self.stats["tx_errors"] += 1
        if self.state == State.SYN_SENT:
            self.error = ConnectionTimeout(f"cannot reach {self.remote[0]}:{self.remote[1]}: "
                                           f"{message}")
            self._closed()

    def _quiet(self, now) -> bool:
        """TIME-WAIT with nothing to send before its end: a server that closes first holds
        one per client for 2 MSL, and every poll round asks each of them -- cheaply."""
        return (self.state is State.TIME_WAIT and now < self.timewait_at and not self.acks
                and not self.ack_now and self.send_rst is None)

    def poll_at(self, now) -> float | None:
        if self._quiet(now):
            return self.timewait_at
        if self.send_rst is not None or self.ack_now or self.acks:
            return now
        if self._probe or self._window_probe or self.snd and self.state in SYNCHRONIZED and self.snd.next_segment(not self.nodelay):
            return now
        times = [t for t in (self.rto_at, self.delack_at, self.timewait_at, self.keepalive_at)
                 if t is not None]
        return min(times, default=None)

    def icmp_error(self, now, m, quoted) -> bool:
        """RFC 1122 §4.2.3.9: soft errors are noted; a SYN-SENT connection to a closed host
        port gives up at once (port unreachable means nobody is there)."""
        if quoted.protocol != IpProtocol.TCP or len(quoted.payload) < 4 or self.local is None:
            return False
        src, dst = (int.from_bytes(quoted.payload[i:i + 2], "big") for i in (0, 2))
        if (src, quoted.dst, dst) != (self.local[1], self.remote[0], self.remote[1]):
            return False
        self.errors.append(f"ICMP type {int(m.type)} code {m.code} from {quoted.dst}")
        if self.state == State.SYN_SENT and int(m.type) == 3 and m.code in (2, 3):
            self.error = ConnectionRefused(f"connection to {self.remote[0]}:{self.remote[1]} "
                                           f"refused (ICMP port unreachable)")
            self._closed()
        return True

    def describe(self) -> dict:
        d = {**super().describe(), "proto": "tcp", "state": self.state.value,
             "local": f"{self.local[0]}:{self.local[1]}" if self.local else None,
             "remote": f"{self.remote[0]}:{self.remote[1]}" if self.remote else None}
        if self.snd:
            d.update(rx_queue=len(self.rcv.ready), tx_queue=len(self.snd.buffer),
                     retransmits=self.snd.retransmits, **self.snd.rtt.describe(),
                     **self.snd.cc.describe(), snd_wnd=self.snd.wnd, rcv_wnd=self.rcv.room(),
                     mss=self.snd.mss, window_scale=(self.snd_shift, self.rcv_shift),
                     sack=self.use_sack, timestamps=self.use_ts)
        return d


def _shift_for(capacity: int) -> int:
    """The smallest window scale that lets ``capacity`` be announced (RFC 7323 §2.3)."""
    shift = 0
    while capacity >> shift > 0xFFFF and shift < 14:
        shift += 1
    return shift


def _ts_older(a: int, b: int) -> bool:
    """TSval ``a`` is older than ``b`` (RFC 7323 §5.2: modulo 2³²)."""
    return ((a - b) & 0xFFFFFFFF) > 0x7FFFFFFF


def tcp_reset_for(ip: ipv4.Repr, seg: tcp.Repr) -> ipv4.Repr | None:
    """The RST a closed port answers with (RFC 9293 §3.10.7.1); None for an RST."""
    if seg.flags & F.RST:
        return None
    if seg.flags & F.ACK:
        reset = tcp.Repr(seg.dst_port, seg.src_port, seg.ack, 0, F.RST)
    else:
        reset = tcp.Repr(seg.dst_port, seg.src_port, 0, (seg.seq + seg.seq_len) & 0xFFFFFFFF,
                         F.RST | F.ACK)
    return ipv4.Repr(ip.dst, ip.src, IpProtocol.TCP, reset.to_bytes(ip.dst, ip.src))


class TcpListener(Socket):
    """A listening port with a backlog (RFC 9293 §3.10.7.2 and the accept queue smoltcp
    lacks, #852).  Each SYN makes a ``TcpSocket`` in SYN-RECEIVED; at most
    ``max_half_open`` wait for their handshake (the oldest is dropped for a new one, so a
    SYN flood cannot exhaust memory); established ones wait in ``queue`` (at most
    ``backlog``) until ``accept()`` takes them."""

    def __init__(self, port: int, backlog: int = 16, max_half_open: int = 256, **socket_args):
        super().__init__()
        self.port, self.backlog, self.max_half_open = port, backlog, max_half_open
        self.socket_args = socket_args
        self.state = State.LISTEN
        self.children: dict[tuple, TcpSocket] = {}      # (remote ip, port) -> connection
        self.queue: deque[TcpSocket] = deque()          # established, not yet accepted
        self._dead: list[TcpSocket] = []                # refused, with an RST still to send

    def accept(self) -> TcpSocket | None:
        if not self.queue:
            return None
        child = self.queue.popleft()
        self.children.pop(child.remote, None)
        child.listener = None
        return child

    def forget(self, child: TcpSocket) -> None:
        self.children.pop(child.remote, None)

    def close(self, now: float) -> None:
        """Stop listening; reset every connection not yet accepted."""
        self.state = State.CLOSED
        for child in list(self.children.values()) + list(self.queue):
            child.abort(now)
            self._dead.append(child)
        self.children.clear()
        self.queue.clear()

    def finished(self) -> bool:
        return self.state == State.CLOSED and not self._dead

    def accepts_tcp(self, iface, ip, seg) -> bool:
        return self.state == State.LISTEN and seg.dst_port == self.port and (
            (ip.src, seg.src_port) in self.children or
            (seg.flags & (F.SYN | F.ACK | F.RST)) == F.SYN)

    def process_tcp(self, iface, now, ip, seg) -> None:
        key = (ip.src, seg.src_port)
        child = self.children.get(key)
        if child is None:                                 # a new SYN (§3.10.7.2)
            half_open = [k for k, c in self.children.items() if c.state == State.SYN_RECEIVED]
            if len(half_open) >= self.max_half_open:
                self.children.pop(half_open[0])           # drop the oldest half-open
                self.stats["half_open_dropped"] += 1
            child = TcpSocket(**self.socket_args)
            child.local, child.remote = (ip.dst, self.port), key
            child.listener = self
            child._create_tcb(now)
            child.rcv.start(Seq(seg.seq))
            child._learn_syn_options(iface, seg)
            child._peer_syn = seg
            child.snd.update_window(Seq(seg.seq), child.snd.iss, seg.window)
            child.state = State.SYN_RECEIVED
            child.rto_at = now
            self.children[key] = child
            self.stats["syns"] += 1
            return
        if (child.state == State.SYN_RECEIVED and len(self.queue) >= self.backlog
                and seg.flags & F.ACK and not seg.flags & (F.SYN | F.RST)):
            # The accept queue is full: ignore the ACK that would complete the handshake, as
            # Linux does (tcp_abort_on_overflow=0).  Our SYN-ACK goes again on its timer, the
            # peer ACKs again, and once accept() has made room the connection gets in.
            self.stats["backlog_full"] += 1
            return
        child.process_tcp(iface, now, ip, seg)
        if child.finished():
            self.children.pop(key, None)
        elif child.state != State.SYN_RECEIVED and child not in self.queue:
            self.queue.append(child)

    def dispatch(self, iface, now) -> list:
        out = []
        for child in list(self.children.values()) + self._take_dead():
            out += child.dispatch(iface, now)
            if child.finished() and self.children.get(child.remote) is child:
                del self.children[child.remote]            # gone, its last RST sent
        return out

    def _take_dead(self) -> list:
        dead, self._dead = self._dead, []
        return dead

    def poll_at(self, now) -> float | None:
        if self._dead:
            return now                                     # their RSTs are due
        times = [c.poll_at(now) for c in self.children.values()]
        return min((t for t in times if t is not None), default=None)

    def describe(self) -> dict:
        return {**super().describe(), "proto": "tcp", "state": "LISTEN",
                "local": f"*:{self.port}", "backlog": self.backlog,
                "accept_queue": len(self.queue),
                "half_open": sum(c.state == State.SYN_RECEIVED for c in self.children.values())}
