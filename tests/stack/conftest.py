"""Test helpers for the stack: a cable between two devices, frames built with the wire layer,
and ``Host`` -- one Interface with its device and sockets, polled at times the test names.

Tests follow smoltcp's shape (CONVENTIONS 14): put an interface in a state, feed it one
frame, assert the exact frames that come out and the counters; time is an argument.
"""

from __future__ import annotations

import dataclasses
from collections import deque
from ipaddress import IPv4Address, IPv4Interface

import pytest

from dos64lab.iface import Interface, InterfaceConfig
from dos64lab.socket import SocketSet
from dos64lab.wire import arp, ethernet, icmp, ipv4, udp
from dos64lab.wire.ethernet import BROADCAST, EtherType, EthernetAddress
from dos64lab.wire.ipv4 import IpProtocol

# QEMU's user network, as the captured fixture frames have it
HOST_MAC = EthernetAddress.parse("52:54:00:12:34:56")
GW_MAC = EthernetAddress.parse("52:55:0a:00:02:02")
EVIL_MAC = EthernetAddress.parse("02:00:00:66:66:66")
HOST_IP = IPv4Address("10.0.2.15")
GW_IP = IPv4Address("10.0.2.2")
NET = IPv4Interface("10.0.2.15/24")
ZERO_MAC = EthernetAddress(bytes(6))


# -- a cable: two devices back to back -------------------------------------------------------

class WireEnd:
    """A ``phy.Device`` at one end of a cable.

    ``rx``: frames the interface will receive (tests append to it); ``sent``: every frame
    the interface sent, oldest first (``take()`` empties it).  When cabled, a sent frame
    also lands in the peer's ``rx``.
    """

    def __init__(self, mac: EthernetAddress = HOST_MAC, mtu: int = 1500):
        self.mac, self.mtu = mac, mtu
        self.rx: deque[bytes] = deque()
        self.sent: list[bytes] = []
        self.peer: WireEnd | None = None

    def send(self, frame: bytes) -> None:
        if len(frame) > ethernet.HEADER_LEN + self.mtu:
            raise AssertionError(f"{len(frame)}-byte frame exceeds MTU {self.mtu}")
        self.sent.append(bytes(frame))
        if self.peer is not None:
            self.peer.rx.append(bytes(frame))

    def receive(self) -> bytes | None:
        return self.rx.popleft() if self.rx else None

    def take(self) -> list[bytes]:
        out, self.sent = self.sent, []
        return out


def cable(a: WireEnd, b: WireEnd) -> None:
    """Connect two devices back to back: what one sends, the other receives."""
    a.peer, b.peer = b, a


# -- frames, built with the wire layer -----------------------------------------------------

def arp_frame(op, sender_mac, sender_ip, target_ip, *, target_mac=ZERO_MAC, dst=BROADCAST,
              pad: bool = False) -> bytes:
    message = arp.Repr(op, sender_mac, IPv4Address(sender_ip), target_mac, IPv4Address(target_ip))
    return eth_frame(sender_mac, dst, EtherType.ARP, message.to_bytes(), pad=pad)


def eth_frame(src, dst, ethertype, payload: bytes, pad: bool = False) -> bytes:
    raw = ethernet.Repr(src, dst, ethertype, payload).to_bytes()
    return raw.ljust(60, b"\0") if pad else raw


def ip_frame(packet: ipv4.Repr, src_mac=GW_MAC, dst_mac=HOST_MAC, pad: bool = False) -> bytes:
    return eth_frame(src_mac, dst_mac, EtherType.IPV4, packet.to_bytes(), pad=pad)


def icmp_packet(src, dst, message: icmp.Repr, **fields) -> ipv4.Repr:
    src, dst = IPv4Address(src), IPv4Address(dst)
    return ipv4.Repr(src, dst, IpProtocol.ICMP, message.to_bytes(), **fields)


def udp_packet(src, dst, src_port: int, dst_port: int, data: bytes, **fields) -> ipv4.Repr:
    src, dst = IPv4Address(src), IPv4Address(dst)
    payload = udp.Repr(src_port, dst_port, data).to_bytes(src, dst)
    return ipv4.Repr(src, dst, IpProtocol.UDP, payload, **fields)


def echo_request_frame(seq: int, data: bytes = b"", ident: int = 0x64, src=GW_IP, dst=HOST_IP,
                       src_mac=GW_MAC, dst_mac=HOST_MAC, **fields) -> bytes:
    message = icmp.Repr.echo_request(ident, seq, data)
    return ip_frame(icmp_packet(src, dst, message, **fields), src_mac, dst_mac)


def decode(frame: bytes):
    """``(ethernet.Repr, arp.Repr | ipv4.Repr)`` of a frame the interface sent.

    The IPv4 ident is set to 0: the interface chooses it (seeded), everything else is
    compared exactly.  Checksums are verified by parsing.
    """
    eth = ethernet.Repr.parse(frame)
    if eth.ethertype == EtherType.ARP:
        return dataclasses.replace(eth, payload=b""), arp.Repr.parse(eth.payload)
    ip = ipv4.Repr.parse(eth.payload)
    return dataclasses.replace(eth, payload=b""), dataclasses.replace(ip, ident=0)


def header(src=HOST_MAC, dst=GW_MAC, ethertype=EtherType.IPV4) -> ethernet.Repr:
    """What ``decode`` gives for the Ethernet header of a frame."""
    return ethernet.Repr(src, dst, ethertype, b"")


def arp_request_for(ip, sender_ip=HOST_IP, mac=HOST_MAC):
    """What ``decode`` gives for our ARP request "who has ``ip``?"."""
    return (header(mac, BROADCAST, EtherType.ARP),
            arp.Repr(arp.Operation.REQUEST, mac, IPv4Address(sender_ip), ZERO_MAC, IPv4Address(ip)))


# -- one interface, its device and its sockets ------------------------------------------------

class Host:
    """An Interface on a ``WireEnd`` (or any device), polled at the times a test names."""

    def __init__(self, config: InterfaceConfig | None = None, device=None, mac=HOST_MAC, seed=1):
        self.device = device if device is not None else WireEnd(mac)
        self.iface = Interface(config, seed=seed)
        self.sockets = SocketSet()

    def add(self, socket):
        self.sockets.add(socket)
        return socket

    def poll(self, now: float, *frames: bytes) -> list[bytes]:
        """Feed ``frames``, run one round at ``now``; the frames sent in it."""
        self.device.rx.extend(frames)
        self.iface.poll(now, self.device, self.sockets)
        return self.device.take()

    def poll_decoded(self, now: float, *frames: bytes) -> list:
        return [decode(f) for f in self.poll(now, *frames)]

    @property
    def stats(self):
        return self.iface.stats


def unaccounted(iface: Interface, sockets=()) -> int:
    """Frames received minus frames with exactly one named outcome (0: all accounted for).

    A frame ends in one place: a drop counter (``*_rx_drop_*``), an ARP handled
    (``arp_rx``), a fragment held for reassembly, an echo request answered, or a
    socket (its ``rx``, ``rx_drop_full`` or, for an ICMP error, ``tx_errors``).
    Three drop counters are not per frame: ``arp_rx_drop_conflict`` and
    ``arp_rx_drop_cache_full`` count ARPs handled (and answered) but not believed,
    ``ipv4_rx_drop_frag_timeout`` datagrams whose fragments were counted as held.
    """
    s = iface.stats
    not_per_frame = {"arp_rx_drop_conflict", "arp_rx_drop_cache_full",
                     "ipv4_rx_drop_frag_timeout"}
    drops = sum(v for k, v in s.items() if "_rx_drop_" in k and k not in not_per_frame)
    delivered = sum(sock.stats[k] for sock in sockets for k in ("rx", "rx_drop_full", "tx_errors"))
    ends = drops + s["arp_rx"] + s["ipv4_rx_fragment_held"] + s["icmp_tx_echo_reply"] + delivered
    return s["eth_rx"] - ends


@pytest.fixture
def host() -> Host:
    """10.0.2.15/24 via 10.0.2.2, its gratuitous ARP already sent (at t=0)."""
    h = Host(InterfaceConfig(NET, GW_IP))
    h.poll(0.0)
    h.stats.clear()
    return h


@pytest.fixture
def host_gw(host) -> Host:
    """``host`` that knows the gateway: 10.0.2.2 asked for us at t=0 and was answered."""
    out = host.poll(0.0, arp_frame(arp.Operation.REQUEST, GW_MAC, GW_IP, HOST_IP))
    assert len(out) == 1
    host.stats.clear()
    return host


# -- two interfaces on a cable -----------------------------------------------------------------

A_NET, B_NET = IPv4Interface("10.0.2.15/24"), IPv4Interface("10.0.2.2/24")


def pair(wrap_a=lambda device: device, mtu: int = 1500):
    """Host A (10.0.2.15, gateway B) and host B (10.0.2.2) cabled back to back; A's device
    may be wrapped (``Tracer``, ``FaultInjector`` ...).  Returns (a, b, a's end, b's end)."""
    ea, eb = WireEnd(HOST_MAC, mtu), WireEnd(GW_MAC, mtu)
    cable(ea, eb)
    a = Host(InterfaceConfig(A_NET, B_NET.ip), wrap_a(ea))
    b = Host(InterfaceConfig(B_NET), eb, seed=2)
    return a, b, ea, eb


def run(a: Host, b: Host, now: float, rounds: int = 50) -> None:
    """Poll both at ``now`` until neither has anything to do (frames cross the cable).
    A device that holds frames back (``FaultInjector``) is flushed before giving up."""
    flushed = False
    for _ in range(rounds):
        busy = a.iface.poll(now, a.device, a.sockets) | b.iface.poll(now, b.device, b.sockets)
        if busy:
            flushed = False
        elif flushed or not hasattr(a.device, "flush"):
            return
        else:
            a.device.flush()
            flushed = True
    raise AssertionError("the hosts never went quiet")
