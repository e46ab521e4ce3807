"""iface layer: the interface -- frames in, packets to sockets; packets out, frames to the device.

After smoltcp's ``iface::Interface``: ``poll(now, device, sockets)`` does one round
of work and returns whether anything happened; ``poll_at(now, sockets)`` says when
the next round is due.  No threads, no clocks: time is an argument, so the same
code runs on the real NIC and, in tests, on ``phy.Loopback``.

One round of ``poll``:

1. ingress -- up to ``MAX_FRAMES_PER_POLL`` frames: Ethernet → ARP or IPv4 (every
   header check, fragments reassembled) → ICMP (echo answered here) or UDP → the
   socket it is for; UDP to a closed port gets ICMP port unreachable (rate-limited);
2. egress -- each socket's ``dispatch``: route, ARP (queueing until the answer
   comes), fragment to the MTU, frame;
3. timers -- ARP retries and give-ups, fragment timeouts, the gratuitous ARP.

Every frame dropped is counted in ``stats`` under ``<layer>_rx_drop_<reason>``
(CONVENTIONS 16): netstat, the status API and the tests read the same counters.
"""

from __future__ import annotations

import dataclasses
import functools
import logging
import random
from collections import Counter
from dataclasses import dataclass
from ipaddress import IPv4Address, IPv4Interface, IPv4Network

from ..errors import ParseError
from ..wire import arp, ethernet, icmp, ipv4, tcp, udp
from ..wire.ethernet import BROADCAST, EtherType, EthernetAddress
from ..wire.icmp import IcmpType
from ..wire.ipv4 import IpProtocol
from ..socket.tcp import TcpListener, tcp_reset_for
from .fragment import Reassembler, fragment
from .neighbor import NeighborCache

__all__ = ["Interface", "InterfaceConfig", "MAX_FRAMES_PER_POLL"]

log = logging.getLogger(__name__)

MAX_FRAMES_PER_POLL = 64        # ingress per round: egress and timers are never starved
ICMP_ERRORS_PER_SECOND = 10     # RFC 1812 §4.3.2.8: rate-limit the errors we send
MAX_PACKET = 65_535             # an IPv4 total length: fragment offsets cannot go further
UNSPECIFIED = IPv4Address(0)
LIMITED_BROADCAST = IPv4Address("255.255.255.255")


@dataclass
class InterfaceConfig:
    """What the interface knows of itself and its network (changed by DHCP)."""
    address: IPv4Interface | None = None        # e.g. IPv4Interface("10.0.2.15/24")
    gateway: IPv4Address | None = None          # the default route
    dns_servers: tuple[IPv4Address, ...] = ()
    #: destinations the stack may send to (None: any).  Others are dropped and counted:
    #: tests use it to prove traffic stays with slirp and the test's own servers.  An
    #: entry is a network (anything to it) or ``(network, port)``: only TCP and UDP to
    #: that destination port, e.g. ``((IPv4Network("10.0.2.2/32"), 8000),)``.
    allow: tuple[IPv4Network | tuple[IPv4Network, int], ...] | None = None
    ttl: int = 64


class Interface:
    def __init__(self, config: InterfaceConfig | None = None, *, mac: EthernetAddress | None = None,
                 seed: int | None = None):
        self.config = config or InterfaceConfig()
        self.mac = mac                          # None: the device's own, taken at the first poll
        self.mtu = 1500                         # the device's, taken at each poll
        self.neighbors = NeighborCache()
        self.fragments = Reassembler()
        self.stats: Counter = Counter()
        self.random = random.Random(seed)
        self._ident = self.random.randrange(1 << 16)
        self._outbox: list[bytes] = []          # frames made during this round
        self._announce = self.config.address is not None   # gratuitous ARP due
        self._error_tokens, self._error_refill = float(ICMP_ERRORS_PER_SECOND), None
        self._tcp_demux: dict[tuple, object] = {}   # (src ip, src port, dst port) -> socket

    # -- configuration (DHCP calls these) ------------------------------------------------
    @property
    def address(self) -> IPv4Address | None:
        return self.config.address.ip if self.config.address else None

    def configure(self, address: IPv4Interface, gateway: IPv4Address | None = None,
                  dns_servers=()) -> None:
        changed = IPv4Interface(address) != self.config.address
        self.config = dataclasses.replace(self.config, address=IPv4Interface(address),
                                          gateway=gateway, dns_servers=tuple(dns_servers))
        self._announce = self._announce or changed
        log.info("interface configured: %s via %s", address, gateway)

    def deconfigure(self) -> None:
        self.config = dataclasses.replace(self.config, address=None, gateway=None, dns_servers=())
        log.info("interface deconfigured")

    # -- one round ---------------------------------------------------------------------
    def poll(self, now: float, device, sockets) -> bool:
        """Receive, deliver, send, run timers.  True if anything happened."""
        if self.mac is None:
            self.mac = device.mac
        self.mtu = device.mtu
        did = False
        for _ in range(MAX_FRAMES_PER_POLL):
            frame = device.receive()
            if frame is None:
                break
            did = True
            self._ingress(now, frame, sockets)
        for socket in sockets:
            for packet in socket.dispatch(self, now):
                did = True
                self.send_ip(now, packet, socket)
        did |= self._timers(now)
        if self._outbox:
            frames, self._outbox = self._outbox, []
            send_batch = getattr(device, "send_batch", None)
            if send_batch:                      # the real NIC: a few qtest commands in all
                send_batch(frames)
            else:
                for f in frames:
                    device.send(f)
            did = True
        return did

    def poll_at(self, now: float, sockets) -> float | None:
        """The earliest time ``poll`` has work to do without new frames (None: never)."""
        times = [s.poll_at(now) for s in sockets]
        times += [self.neighbors.poll_at(), self.fragments.poll_at()]
        if self._announce and self.address:
            times.append(now)
        return min((t for t in times if t is not None), default=None)

    def _timers(self, now: float) -> bool:
        did = False
        if self._announce and self.address:     # RFC 5227 §2.3: announce our address
            self._announce = False
            self._send_arp(arp.Operation.REQUEST, BROADCAST, self.address)
            self.stats["arp_tx_gratuitous"] += 1
            did = True
        for ip, waiting in self.neighbors.expire(now):      # give up first: no 4th request
            self.stats["arp_resolve_failed"] += 1
            self.stats["ipv4_tx_drop_no_arp_reply"] += len(waiting)
            for packet, owner in waiting:
                if owner is not None:
                    owner.send_failed(now, packet, f"no ARP reply from {ip}: host unreachable")
        for ip in self.neighbors.due_requests(now):
            self._send_arp(arp.Operation.REQUEST, BROADCAST, ip)
            self.stats["arp_tx_request"] += 1
            did = True
        if n := self.fragments.expire(now):
            self.stats["ipv4_rx_drop_frag_timeout"] += n
        return did

    # -- ingress -----------------------------------------------------------------------
    def _drop(self, key: str) -> None:
        self.stats[key] += 1

    def _ingress(self, now, frame, sockets) -> None:
        self.stats["eth_rx"] += 1
        try:
            eth = ethernet.Packet.new_checked(frame)
        except ParseError:
            return self._drop("eth_rx_drop_truncated")
        dst = eth.dst
        if dst != self.mac and dst != BROADCAST:
            return self._drop("eth_rx_drop_not_for_us")
        kind = eth.ethertype
        if kind == EtherType.ARP:
            self._arp(now, eth.payload)
        elif kind == EtherType.IPV4:
            self._ipv4(now, eth.src, eth.payload, sockets)
        else:
            self._drop("eth_rx_drop_ethertype")

    def _arp(self, now, payload) -> None:
        try:
            a = arp.Repr.parse(payload)
        except ParseError as err:
            return self._drop(_reason(err))
        me = self.address
        if me is not None and a.sender_ip == me:
            # our own ARP looped back, or another host using our address (RFC 5227 §2.4)
            return self._drop("arp_rx_drop_own_address")
        self.stats["arp_rx"] += 1
        for_me = me is not None and a.target_ip == me
        known = a.sender_ip in self.neighbors.entries
        solicited = (a.operation == arp.Operation.REPLY and for_me
                     and self.neighbors.asked(a.sender_ip))
        # RFC 826 "merge": update what we know; add only what talks to us
        if (for_me or known or solicited) and a.sender_ip != UNSPECIFIED:
            refused, waiting = self.neighbors.learn(a.sender_ip, a.sender_mac, now,
                                                    solicited=solicited,
                                                    keep=a.sender_ip == self.config.gateway)
            if refused:                             # "conflict": another MAC for a live one
                self._drop("arp_rx_drop_" + refused)
            for packet, _owner in waiting:
                self._transmit(a.sender_mac, packet)
        if a.operation == arp.Operation.REQUEST and for_me:
            self._send_arp(arp.Operation.REPLY, a.sender_mac, a.sender_ip)
            self.stats["arp_tx_reply"] += 1

    def _ipv4(self, now, src_mac, payload, sockets) -> None:
        try:
            p = ipv4.Packet.new_checked(payload)        # lengths: header, IHL, total length
            ip = ipv4.Repr.parse(p)                     # version, checksum, options
        except ParseError as err:
            return self._drop(_reason(err))
        if ip.ttl == 0:
            return self._drop("ipv4_rx_drop_ttl")
        if self._bad_source(ip):
            return self._drop("ipv4_rx_drop_source")
        me = self.address
        broadcast = ip.dst == LIMITED_BROADCAST or (
            self.config.address is not None and ip.dst == self.config.address.network.broadcast_address)
        if ip.dst != me and not broadcast and not (me is None and ip.protocol == IpProtocol.UDP):
            return self._drop("ipv4_rx_drop_not_for_us")   # unconfigured: DHCP may unicast to us
        self.stats["ipv4_rx"] += 1
        self.neighbors.refresh(ip.src, src_mac, now)        # traffic keeps an entry alive
        if ip.is_fragment:
            ip, reason = self.fragments.add(ip, now)
            if reason:
                return self._drop("ipv4_rx_drop_" + reason)
            if ip is None:
                self.stats["ipv4_rx_fragment_held"] += 1
                return
            self.stats["ipv4_rx_reassembled"] += 1
        if ip.protocol == IpProtocol.ICMP:
            self._icmp(now, ip, broadcast, sockets)
        elif ip.protocol == IpProtocol.UDP:
            self._udp(now, ip, broadcast, sockets)
        elif ip.protocol == IpProtocol.TCP:
            self._tcp(now, ip, broadcast, sockets)
        else:
            self._drop("ipv4_rx_drop_protocol")
            if not broadcast:
                self._icmp_error(now, ip, icmp.Repr.dest_unreachable(2, _quote(ip)))

    def _bad_source(self, ip) -> bool:
        """RFC 1122 §3.2.1.3: a source names one host -- not a broadcast, multicast or
        class E address (``is_reserved``: 240/4, 255.255.255.255 included); 0.0.0.0 only
        for UDP (a host asking DHCP for an address).  We deviate on 127/8, which the RFC
        also forbids: slirp sends its ICMP errors (port unreachable) from 127.0.0.1."""
        src, net = ip.src, self.config.address
        return (_multicast_or_reserved(src)
                or (net is not None and src == net.network.broadcast_address)
                or (src == UNSPECIFIED and ip.protocol != IpProtocol.UDP))

    def _icmp(self, now, ip, broadcast, sockets) -> None:
        try:
            m = icmp.Repr.parse(ip.payload)
        except ParseError as err:
            return self._drop(_reason(err))
        self.stats["icmp_rx"] += 1
        if m.type == IcmpType.ECHO_REQUEST:
            if broadcast or self.address is None:
                return self._drop("icmp_rx_drop_echo_not_for_us")
            reply = icmp.Repr(IcmpType.ECHO_REPLY, 0, m.rest, m.data)
            self.send_ip(now, ipv4.Repr(self.address, ip.src, IpProtocol.ICMP, reply.to_bytes()))
            self.stats["icmp_tx_echo_reply"] += 1
        elif m.type in icmp.QUOTING:
            try:
                quoted = ipv4.Repr.parse(_QuotedPacket.new_checked(m.data), verify_checksum=False)
            except ParseError:
                return self._drop("icmp_rx_drop_bad_quote")
            if not any(s.process_icmp_error(self, now, ip, m, quoted) for s in sockets):
                self._drop("icmp_rx_drop_no_socket")
        elif not any(s.process_icmp(self, now, ip, m) for s in sockets):
            self._drop("icmp_rx_drop_no_socket")

    def _tcp(self, now, ip, broadcast, sockets) -> None:
        if broadcast:
            return self._drop("tcp_rx_drop_broadcast")
        try:
            seg = tcp.Repr.parse(ip.payload, ip.src, ip.dst)
        except ParseError as err:
            return self._drop(_reason(err))
        self.stats["tcp_rx"] += 1
        # the connection this segment is for, remembered by its addresses and ports (a
        # remembered socket is asked again: it may have closed or left the set since)
        key = (ip.src, seg.src_port, seg.dst_port)
        s = self._tcp_demux.get(key)
        if s is not None and s in sockets and s.accepts_tcp(self, ip, seg):
            return s.process_tcp(self, now, ip, seg)
        # else a connection's own socket first, a listener on its port only if there is none
        # (RFC 9293 §3.10.7): a late duplicate SYN must not open a second connection
        for s in sorted(sockets, key=lambda s: isinstance(s, TcpListener)):
            if s.accepts_tcp(self, ip, seg):
                if not isinstance(s, TcpListener):
                    if len(self._tcp_demux) > 4 * len(sockets):     # forget the long gone
                        self._tcp_demux.clear()
                    self._tcp_demux[key] = s
                return s.process_tcp(self, now, ip, seg)
        self._drop("tcp_rx_drop_no_socket")
        if (reset := tcp_reset_for(ip, seg)) is not None:  # RFC 9293 §3.10.7.1: a closed port
            self.send_ip(now, reset)
            self.stats["tcp_tx_reset"] += 1

    def _udp(self, now, ip, broadcast, sockets) -> None:
        try:
            d = udp.Repr.parse(ip.payload, ip.src, ip.dst)
        except ParseError as err:
            return self._drop(_reason(err))
        self.stats["udp_rx"] += 1
        for s in sockets:
            if s.accepts_udp(self, ip, d):
                return s.process_udp(self, now, ip, d)
        self._drop("udp_rx_drop_no_socket")
        if not broadcast and ip.dst == self.address:        # RFC 1122 §4.1.3.1
            self._icmp_error(now, ip, icmp.Repr.dest_unreachable(3, _quote(ip)))

    def _icmp_error(self, now, about: ipv4.Repr, message: icmp.Repr) -> None:
        """Send an ICMP error about ``about``, at most ICMP_ERRORS_PER_SECOND (token bucket)."""
        if about.src == UNSPECIFIED:            # RFC 1122 §3.2.2: not about "no host"
            return
        if self._error_refill is not None:
            self._error_tokens = min(float(ICMP_ERRORS_PER_SECOND), self._error_tokens
                                     + (now - self._error_refill) * ICMP_ERRORS_PER_SECOND)
        self._error_refill = now
        if self._error_tokens < 1:
            return self._drop("icmp_tx_drop_rate_limited")
        self._error_tokens -= 1
        self.send_ip(now, ipv4.Repr(self.address, about.src, IpProtocol.ICMP, message.to_bytes()))
        self.stats["icmp_tx_error"] += 1

    # -- egress ------------------------------------------------------------------------
    def send_ip(self, now: float, packet: ipv4.Repr, owner=None) -> bool:
        """Route, resolve, fragment and frame one packet.  False if it was dropped
        (and ``owner.send_failed`` told why); a packet waiting for ARP counts as sent."""
        dst, port = packet.dst, _dst_port(packet)
        if not self.allows(dst, port):
            names_ports = any(isinstance(entry, tuple) for entry in self.config.allow)
            where = f"{dst} port {port}" if names_ports and port is not None else f"{dst}"
            return self._refuse(now, owner, "ipv4_tx_drop_not_allowed", packet,
                                f"{where} is not on the egress allow-list")
        hop = self.next_hop(dst)
        if hop is None:
            return self._refuse(now, owner, "ipv4_tx_drop_no_route", packet, f"no route to {dst}")
        self._ident = (self._ident + 1) & 0xFFFF
        packet = packet.stamped(self._ident, packet.ttl or self.config.ttl)
        if packet.buffer_len() > MAX_PACKET:
            return self._refuse(now, owner, "ipv4_tx_drop_too_big", packet,
                                f"{packet.buffer_len()}-byte packet exceeds IPv4's {MAX_PACKET}")
        if packet.dont_fragment and packet.buffer_len() > self.mtu:
            return self._refuse(now, owner, "ipv4_tx_drop_too_big", packet,
                                f"{packet.buffer_len()}-byte packet with DF set exceeds "
                                f"MTU {self.mtu}")
        if hop == LIMITED_BROADCAST:
            mac = BROADCAST
        elif hop == self.address:               # to ourselves: no need to ask
            mac = self.mac
        else:
            mac = self.neighbors.lookup(hop, now)
        if mac is not None:
            self._transmit(mac, packet)
        elif not self.neighbors.enqueue(hop, packet, owner, now):   # the whole datagram waits
            return self._refuse(now, owner, "ipv4_tx_drop_arp_queue_full", packet,
                                f"too many packets waiting for ARP of {hop}")
        return True

    def _transmit(self, mac: EthernetAddress, packet: ipv4.Repr) -> None:
        """The packet leaves now: fragmented to the MTU, each piece framed for ``mac``."""
        pieces = fragment(packet, self.mtu)
        self.stats["ipv4_tx"] += 1
        if len(pieces) > 1:
            self.stats["ipv4_tx_fragmented"] += 1
        for piece in pieces:
            self._frame(mac, EtherType.IPV4, piece.to_bytes())

    def allows(self, dst: IPv4Address, port: int | None = None) -> bool:
        """Is ``dst`` on the egress allow-list?  ``port``: the TCP/UDP destination port
        (None for other protocols), for entries that name one."""
        allow = self.config.allow
        return allow is None or any(
            dst in entry[0] and port == entry[1] if isinstance(entry, tuple) else dst in entry
            for entry in allow)

    def next_hop(self, dst: IPv4Address) -> IPv4Address | None:
        """Where a packet for ``dst`` goes first: itself on-link, else the gateway."""
        if dst == LIMITED_BROADCAST:
            return dst
        net = self.config.address
        if net is None:
            return None
        if dst == net.network.broadcast_address:
            return LIMITED_BROADCAST
        if dst in net.network:
            return dst
        return self.config.gateway

    def _refuse(self, now, owner, counter, packet, message) -> bool:
        self.stats[counter] += 1
        if owner is not None:
            owner.send_failed(now, packet, message)
        return False

    def _frame(self, dst: EthernetAddress, ethertype, payload: bytes) -> None:
        self._outbox.append(ethernet.Repr(self.mac, dst, ethertype, payload).to_bytes())
        self.stats["eth_tx"] += 1

    def _send_arp(self, op, dst_mac: EthernetAddress, target_ip: IPv4Address) -> None:
        target_mac = dst_mac if op == arp.Operation.REPLY else EthernetAddress(bytes(6))
        message = arp.Repr(op, self.mac, self.address or UNSPECIFIED, target_mac, target_ip)
        self._frame(dst_mac, EtherType.ARP, message.to_bytes())

    # -- views ---------------------------------------------------------------------------
    def describe(self, now: float) -> dict:
        """Address, routes, ARP cache and counters as plain data."""
        c = self.config
        return {"mac": str(self.mac) if self.mac else None,
                "address": str(c.address) if c.address else None,
                "gateway": str(c.gateway) if c.gateway else None,
                "dns_servers": [str(s) for s in c.dns_servers],
                "arp": self.neighbors.table(now),
                "arp_pending": [str(ip) for ip in self.neighbors.pending],
                "fragments_held": len(self.fragments.datagrams),
                "stats": dict(sorted(self.stats.items()))}


@functools.lru_cache(maxsize=1024)
def _multicast_or_reserved(address: IPv4Address) -> bool:
    """(``ipaddress`` works each out in Python: asked per packet, so remembered.)"""
    return address.is_multicast or address.is_reserved


def _reason(err: ParseError) -> str:
    """A counter name from a parse error: ``ipv4_rx_drop_checksum``."""
    return f"{err.layer}_rx_drop_{err.field.replace(' ', '_')}"


def _dst_port(packet: ipv4.Repr) -> int | None:
    """The destination port of a TCP or UDP packet (bytes 2..3 of either header), else None."""
    if packet.protocol in (IpProtocol.TCP, IpProtocol.UDP) and len(packet.payload) >= 4:
        return int.from_bytes(packet.payload[2:4], "big")
    return None


def _quote(ip: ipv4.Repr) -> bytes:
    """What an ICMP error carries: the IP header and the first 8 bytes (RFC 792)."""
    return ip.to_bytes()[:ipv4.HEADER_LEN + len(ip.options) + 8]


class _QuotedPacket(ipv4.Packet):
    """The quoted datagram in an ICMP error is cut short: its total length may exceed it."""
    __slots__ = ()

    def check_len(self):
        self.need(ipv4.HEADER_LEN, "length")
        if self.header_len < ipv4.HEADER_LEN:
            raise ParseError("ipv4", "header length", str(self.header_len))
        self.need(self.header_len, "header length")

    @property
    def payload(self):
        return self.buffer[self.header_len:]
