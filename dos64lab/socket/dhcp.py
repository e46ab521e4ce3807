"""socket layer: the DHCP client (RFC 2131) -- an address, a router and DNS servers, leased.

A state machine over time (RFC 2131 §4.4, figure 5), driven like every socket by
``Interface.poll``; ``now`` is always an argument::

    INIT --DISCOVER--> SELECTING --OFFER/REQUEST--> REQUESTING --ACK--> BOUND
    BOUND --T1--> RENEWING (REQUEST unicast to the server)
    RENEWING --T2--> REBINDING (REQUEST broadcast to any server)
    RENEWING/REBINDING --ACK--> BOUND;  NAK or lease expiry --> INIT (interface deconfigured)

On ACK the client calls ``iface.configure(address, router, dns_servers)``.  QEMU's
slirp under ``restrict=on`` leases 10.0.2.15/24 with no router and no DNS option
(QEMU-FACTS); for a lease in 10.0.2.0/24 the client then uses slirp's fixed
10.0.2.2 / 10.0.2.3 and says so in ``lease.notes``.

Every step (sent, received, ignored, state change) goes to ``steps`` with its time:
the CLI prints them and the notebook draws the DORA ladder from them.  Every
datagram ignored is counted in ``stats`` by reason (``rx_drop_xid``, ...).

Where we deviate from RFC 2131, and why:

* no random 1-10 s wait before the first DISCOVER (§4.4.1): one client per network here;
* the first OFFER is taken (§4.4.1 allows collecting several; slirp makes one);
* no ARP probe of the offered address, hence no DECLINE (§4.4.1 SHOULD; slirp owns it);
* the first retransmission interval is a parameter (§4.1 says 4 s): tests and slirp
  answer in milliseconds, so waiting 4 s for a lost frame only slows a lab down.
"""

from __future__ import annotations

import random
import struct
from collections import deque
from dataclasses import dataclass
from enum import Enum
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from ..errors import ParseError
from ..wire import dhcp, ipv4, udp
from ..wire.dhcp import MessageType, Op
from ..wire.ipv4 import IpProtocol
from .base import Socket

__all__ = ["DhcpClient", "DhcpState", "Lease", "Step", "SLIRP_NETWORK"]

UNSPECIFIED = IPv4Address(0)
BROADCAST = IPv4Address("255.255.255.255")
SLIRP_NETWORK = IPv4Network("10.0.2.0/24")
SLIRP_ROUTER, SLIRP_DNS = IPv4Address("10.0.2.2"), IPv4Address("10.0.2.3")
RENEWAL_TIME, REBINDING_TIME = 58, 59           # RFC 2132 §9.11, §9.12 (T1, T2 options)
INFINITE = 0xFFFFFFFF                           # RFC 2132 §9.2: an infinite lease
#: what we ask for (RFC 2132 §9.8): mask, router, DNS, lease time, server id, T1, T2
PARAMETERS = (1, 3, 6, 51, 54, RENEWAL_TIME, REBINDING_TIME)


class DhcpState(Enum):
    INIT = "INIT"
    SELECTING = "SELECTING"
    REQUESTING = "REQUESTING"
    BOUND = "BOUND"
    RENEWING = "RENEWING"
    REBINDING = "REBINDING"


@dataclass(frozen=True)
class Lease:
    """What an ACK gave us.  ``t1``/``t2``/``lease_time`` are seconds after ``obtained_at``."""
    address: IPv4Address
    netmask: IPv4Address
    router: IPv4Address | None
    dns_servers: tuple[IPv4Address, ...]
    lease_time: float                   # float("inf") for an infinite lease
    server: IPv4Address
    t1: float
    t2: float
    obtained_at: float
    notes: tuple[str, ...] = ()         # what we assumed, e.g. slirp's router and DNS

    @property
    def interface(self) -> IPv4Interface:
        return IPv4Interface(f"{self.address}/{self.netmask}")

    renew_at = property(lambda self: self.obtained_at + self.t1)
    rebind_at = property(lambda self: self.obtained_at + self.t2)
    expires_at = property(lambda self: self.obtained_at + self.lease_time)

    def describe(self) -> dict:
        return {"address": str(self.interface), "router": _str(self.router),
                "dns_servers": [str(s) for s in self.dns_servers], "server": str(self.server),
                "lease_time": self.lease_time, "t1": self.t1, "t2": self.t2,
                "obtained_at": self.obtained_at, "notes": list(self.notes)}


@dataclass(frozen=True)
class Step:
    """One line of the ladder: ``kind`` is sent, received, ignored, failed or state."""
    at: float
    kind: str
    message: str                        # DISCOVER, OFFER, ..., or the new state
    detail: str = ""

    def __str__(self):
        return f"{self.at:10.3f} s  {self.kind:<8} {self.message:<10} {self.detail}".rstrip()


class DhcpClient(Socket):
    """A DHCP client on UDP port 68.  Add it to the interface's sockets; it starts at once.

    ``retransmit``: first retransmission interval, doubling up to ``max_retransmit``
    (RFC 2131 §4.1: 4 s to 64 s), each randomised by ±``jitter`` (default: a quarter
    of ``retransmit``, the RFC's ±1 s of 4 s).  ``request_tries``: REQUESTs sent in
    REQUESTING before going back to INIT.  ``min_renew_interval``: the 60 s floor
    between REQUESTs while renewing or rebinding (§4.4.5).
    """

    def __init__(self, *, retransmit: float = 4.0, max_retransmit: float = 64.0,
                 jitter: float | None = None, request_tries: int = 5,
                 min_renew_interval: float = 60.0, slirp_fallback: bool = True,
                 seed: int | None = None, max_steps: int = 64):
        super().__init__()
        self.retransmit, self.max_retransmit = retransmit, max_retransmit
        self.jitter = retransmit / 4 if jitter is None else jitter
        self.request_tries, self.min_renew_interval = request_tries, min_renew_interval
        self.slirp_fallback = slirp_fallback
        self.random = random.Random(seed)
        self.state = DhcpState.INIT
        self.lease: Lease | None = None
        self.steps: deque[Step] = deque(maxlen=max_steps)
        self.xid: int | None = None
        self.offer: dhcp.Repr | None = None     # the OFFER we are requesting
        self.next_send: float | None = None     # when to (re)transmit; None: not before news
        self.tries = 0                          # messages sent in this state
        self.started_at: float | None = None    # for the ``secs`` field (RFC 2131 §2)

    # -- what the interface calls -------------------------------------------------
    def accepts_udp(self, iface, ip, d) -> bool:
        return d.dst_port == dhcp.CLIENT_PORT      # port 68 is ours; process_udp sorts it

    def process_udp(self, iface, now, ip, d) -> None:
        self.stats["rx"] += 1                   # every datagram; those ignored also rx_drop_*
        try:
            msg = dhcp.Repr.parse(d.payload)
        except ParseError:
            return self._ignore(now, "rx_drop_malformed", "?", f"from {ip.src}: does not parse")
        kind = msg.message_type
        name = kind.name if isinstance(kind, MessageType) else str(kind)
        if d.src_port != dhcp.SERVER_PORT or msg.op != Op.REPLY:
            return self._ignore(now, "rx_drop_not_reply", name, f"from {ip.src}:{d.src_port}")
        if msg.xid != self.xid:
            return self._ignore(now, "rx_drop_xid", name, f"xid {msg.xid:#010x} is not ours")
        if msg.chaddr != iface.mac:
            return self._ignore(now, "rx_drop_chaddr", name, f"for {msg.chaddr}")
        s = self.state
        if s == DhcpState.SELECTING and kind == MessageType.OFFER:
            self._offer(now, ip, msg)
        elif s in (DhcpState.REQUESTING, DhcpState.RENEWING, DhcpState.REBINDING) \
                and kind == MessageType.ACK:
            self._ack(iface, now, ip, msg)
        elif s in (DhcpState.REQUESTING, DhcpState.RENEWING, DhcpState.REBINDING) \
                and kind == MessageType.NAK:
            self._nak(iface, now, ip, msg)
        else:
            self._ignore(now, "rx_drop_unexpected", name, f"from {ip.src} in {s.value}")

    def dispatch(self, iface, now) -> list:
        if self.lease and now >= self.lease.expires_at:
            # RFC 2131 §4.4.5: at expiry the client stops using the address, back to INIT
            self._step(now, "state", "expired", f"lease of {self.lease.address} ran out")
            self._restart(iface, now)
        s = self.state
        if s == DhcpState.INIT:
            self.xid = self.random.getrandbits(32)      # RFC 2131 §4.4.1: a random xid
            self.started_at, self.tries = now, 0
            self._enter(now, DhcpState.SELECTING)
        elif s == DhcpState.BOUND and now >= self.lease.renew_at:
            # RFC 2131 §4.4.5: at T1 ask the leasing server, by unicast, to extend it
            self.xid, self.tries = self.random.getrandbits(32), 0
            self._enter(now, DhcpState.RENEWING)
        elif s == DhcpState.RENEWING and now >= self.lease.rebind_at:
            # ... and at T2 ask any server, by broadcast
            self.xid, self.tries = self.random.getrandbits(32), 0
            self._enter(now, DhcpState.REBINDING)
        elif s == DhcpState.REQUESTING and self.tries >= self.request_tries \
                and now >= self.next_send:
            # RFC 2131 §4.4.1: no ACK or NAK after the retransmissions: start again
            self._step(now, "state", "timeout", f"no answer to {self.tries} REQUESTs")
            self._restart(iface, now)
            return self.dispatch(iface, now)
        if self.next_send is None or now < self.next_send:
            return []
        return [self._send(iface, now)]

    def poll_at(self, now) -> float | None:
        times = [self.next_send]
        if self.lease:
            times += [self.lease.expires_at]
            if self.state == DhcpState.BOUND:
                times += [self.lease.renew_at]
            if self.state == DhcpState.RENEWING:
                times += [self.lease.rebind_at]
        if self.state == DhcpState.INIT:
            times += [now]
        return min((t for t in times if t is not None and t != float("inf")), default=None)

    def send_failed(self, now, packet, message) -> None:
        """A message could not leave (e.g. no ARP answer from the server when renewing)."""
        super().send_failed(now, packet, message)
        self._step(now, "failed", "send", message)

    def describe(self) -> dict:
        return {**super().describe(), "proto": "dhcp", "local_port": dhcp.CLIENT_PORT,
                "state": self.state.value,
                "lease": self.lease.describe() if self.lease else None,
                "xid": None if self.xid is None else f"{self.xid:#010x}",
                "next_send": self.next_send, "steps": [str(s) for s in list(self.steps)[-8:]]}

    @property
    def last_seen(self) -> str:
        """The last message received, ignored or not sent, for timeout errors."""
        for step in reversed(self.steps):
            if step.kind in ("received", "ignored", "failed"):
                return str(step).strip()
        return "no DHCP message received"

    # -- the steps ------------------------------------------------------------------
    def _offer(self, now, ip, msg) -> None:
        if msg.yiaddr in (UNSPECIFIED, BROADCAST) or msg.yiaddr.is_multicast:
            return self._ignore(now, "rx_drop_bad_address", "OFFER", f"of {msg.yiaddr}")
        server = msg.server_id or ip.src
        self.offer = msg
        self._step(now, "received", "OFFER", f"of {msg.yiaddr} from {server}")
        self.tries = 0
        self._enter(now, DhcpState.REQUESTING)

    def _ack(self, iface, now, ip, msg) -> None:
        server = msg.server_id or ip.src
        if self.state == DhcpState.REQUESTING and self.offer.server_id not in (None, server):
            return self._ignore(now, "rx_drop_server", "ACK", f"from {server}, not the one we chose")
        if msg.yiaddr in (UNSPECIFIED, BROADCAST) or msg.yiaddr.is_multicast:
            return self._ignore(now, "rx_drop_bad_address", "ACK", f"of {msg.yiaddr}")
        self.lease = lease = self._lease(now, msg, server)
        self._step(now, "received", "ACK", f"{lease.interface} for {lease.lease_time:g} s "
                                           f"from {server}")
        for note in lease.notes:
            self._step(now, "state", "note", note)
        iface.configure(lease.interface, lease.router, lease.dns_servers)
        self.offer = None
        self._enter(now, DhcpState.BOUND)

    def _nak(self, iface, now, ip, msg) -> None:
        # RFC 2131 §4.4.1 (REQUESTING) and §4.4.5 (RENEWING/REBINDING): NAK -> INIT
        self._step(now, "received", "NAK", f"from {msg.server_id or ip.src}")
        self.stats["nak"] += 1
        self._restart(iface, now)

    def _lease(self, now, msg, server) -> Lease:
        notes = []
        lease_time = msg.lease_time
        if lease_time is None:
            notes.append("no lease time option: treated as infinite")
        lease_time = float("inf") if lease_time in (None, INFINITE) else float(lease_time)
        # RFC 2131 §4.4.5: T1 defaults to 0.5 and T2 to 0.875 of the lease
        t1, t2 = 0.5 * lease_time, 0.875 * lease_time
        given1, given2 = _seconds(msg.option(RENEWAL_TIME)), _seconds(msg.option(REBINDING_TIME))
        if given1 is not None and given2 is not None and given1 <= given2 <= lease_time:
            t1, t2 = float(given1), float(given2)
        mask, router, dns = msg.subnet_mask, msg.router, tuple(msg.dns_servers)
        slirp = self.slirp_fallback and msg.yiaddr in SLIRP_NETWORK
        if mask is None:
            mask = SLIRP_NETWORK.netmask if slirp else IPv4Address("255.255.255.255")
            notes.append(f"no subnet mask option: assumed {mask}")
        if router is None and slirp:
            router = SLIRP_ROUTER
            notes.append("no router option (slirp restrict=on): assumed slirp's 10.0.2.2")
        if not dns and slirp:
            dns = (SLIRP_DNS,)
            notes.append("no DNS option (slirp restrict=on): assumed slirp's 10.0.2.3")
        return Lease(msg.yiaddr, mask, router, dns, lease_time, server, t1, t2, now, tuple(notes))

    def _restart(self, iface, now) -> None:
        """Back to INIT; the address (if any) is given up."""
        if self.lease is not None:
            iface.deconfigure()
            self._step(now, "state", "deconfigured", f"{self.lease.address} given up")
        self.lease = self.offer = self.xid = self.next_send = None
        self.state = DhcpState.INIT
        self._step(now, "state", "INIT")

    def _enter(self, now, state) -> None:
        """A new state; each one but BOUND sends its first message at once."""
        self.state = state
        self.next_send = None if state == DhcpState.BOUND else now
        self._step(now, "state", state.value)

    def _send(self, iface, now) -> ipv4.Repr:
        s, lease = self.state, self.lease
        # RFC 2131 §2: secs, the seconds since the client began acquiring an address
        secs = 0 if self.started_at is None else min(0xFFFF, int(now - self.started_at))
        common = dict(secs=secs, parameter_request_list=PARAMETERS)
        if s == DhcpState.SELECTING:
            kind, src, dst = MessageType.DISCOVER, UNSPECIFIED, BROADCAST
            msg = dhcp.Repr.build(Op.REQUEST, self.xid, iface.mac, message_type=kind, **common)
            detail = f"xid {self.xid:#010x}"
        elif s == DhcpState.REQUESTING:
            # RFC 2131 §4.3.2 (SELECTING): requested IP and server identifier filled in
            kind, src, dst, offer = MessageType.REQUEST, UNSPECIFIED, BROADCAST, self.offer
            extra = {"server_id": offer.server_id} if offer.server_id else {}
            msg = dhcp.Repr.build(Op.REQUEST, self.xid, iface.mac, message_type=kind,
                                  requested_ip=offer.yiaddr, **extra, **common)
            detail = f"{offer.yiaddr} from {offer.server_id}"
        else:
            # RFC 2131 §4.3.2 (RENEWING, REBINDING): ciaddr filled in, no requested IP,
            # no server identifier; unicast to the server when renewing, broadcast when
            # rebinding.
            kind, src = MessageType.REQUEST, lease.address
            dst = lease.server if s == DhcpState.RENEWING else BROADCAST
            msg = dhcp.Repr.build(Op.REQUEST, self.xid, iface.mac, ciaddr=lease.address,
                                  message_type=kind, parameter_request_list=PARAMETERS)
            detail = f"{'renew' if s == DhcpState.RENEWING else 'rebind'} {lease.address}"
        self.tries += 1
        self.next_send = self._next_send(now)
        self.stats["tx"] += 1
        self._step(now, "sent", kind.name, f"{detail} to {dst}")
        payload = udp.Repr(dhcp.CLIENT_PORT, dhcp.SERVER_PORT, msg.to_bytes()).to_bytes(src, dst)
        return ipv4.Repr(src, dst, IpProtocol.UDP, payload)

    def _next_send(self, now) -> float:
        """When to retransmit what we just sent."""
        if self.state in (DhcpState.SELECTING, DhcpState.REQUESTING):
            # RFC 2131 §4.1: 4 s, doubling up to 64 s, each randomised by ±1 s
            interval = min(self.retransmit * 2 ** (self.tries - 1), self.max_retransmit)
            return now + max(0.0, interval + self.random.uniform(-self.jitter, self.jitter))
        # RFC 2131 §4.4.5: wait half the time left until T2 (renewing) or until expiry
        # (rebinding), at least 60 s -- and never past the next change of state
        until = self.lease.rebind_at if self.state == DhcpState.RENEWING else self.lease.expires_at
        return min(until, now + max((until - now) / 2, self.min_renew_interval))

    def _step(self, now, kind, message, detail="") -> None:
        self.steps.append(Step(now, kind, message, detail))

    def _ignore(self, now, reason, message, detail) -> None:
        self.stats[reason] += 1
        self._step(now, "ignored", message, f"{detail} ({reason})")


def _seconds(raw) -> int | None:
    """A 4-byte time option (T1, T2) not decoded by the wire layer."""
    return struct.unpack("!I", raw)[0] if isinstance(raw, bytes) and len(raw) == 4 else None


def _str(x) -> str | None:
    return None if x is None else str(x)
