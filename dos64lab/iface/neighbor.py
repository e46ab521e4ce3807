"""iface layer: the neighbour (ARP) cache, and the packets waiting for an answer.

RFC 826 (ARP) with the timers of RFC 1122 §2.3.2.1, after smoltcp's
``iface/neighbor.rs`` -- and better where its users asked:

* entries expire (``ENTRY_LIFETIME``) and traffic *from* the neighbour refreshes them
  (smoltcp #965: a busy neighbour was forgotten mid-transfer);
* requests are rate-limited per address, not cache-wide (smoltcp #1101: one silent
  host blocked resolution of every other one);
* packets waiting for resolution are **queued** per address (bounded, and so is the
  number of addresses waiting) and sent when the reply comes, so the first ping is
  never lost (smoltcp #597); after ``RESOLVE_TIMEOUT`` they are dropped, counted,
  and their sockets told;
* an unsolicited ARP may add an entry but not overwrite a live one, unless it answers
  a request of ours (a cheap guard against spoofing a known neighbour), nor push one
  out of a full cache (else a flood of strangers would evict the gateway first).

Time is an argument (seconds, a float); nothing here sends frames -- the interface
asks what to send.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass, field
from ipaddress import IPv4Address

from ..wire.ethernet import EthernetAddress

__all__ = ["NeighborCache", "Neighbor", "ENTRY_LIFETIME", "REQUEST_INTERVAL",
           "RESOLVE_TIMEOUT", "PENDING_PER_NEIGHBOR", "PENDING_ADDRESSES"]

ENTRY_LIFETIME = 60.0       # seconds an answer is believed (refreshed by traffic)
REQUEST_INTERVAL = 1.0      # at most one ARP request per address per second
RESOLVE_TIMEOUT = 3.0       # give up on an address (and its queued packets) after this
PENDING_PER_NEIGHBOR = 16   # packets queued per unresolved address; more are dropped
PENDING_ADDRESSES = 64      # addresses being resolved at once; packets for more are dropped
CAPACITY = 256              # entries; the least recently used one goes first


@dataclass
class Neighbor:
    mac: EthernetAddress
    expires_at: float
    keep: bool = False          # asked for by us, or the gateway: never evicted for a stranger


@dataclass
class _Pending:
    """An address being resolved: when we asked, and what waits for the answer."""
    first_asked: float
    last_asked: float
    packets: deque = field(default_factory=deque)     # (packet, owner) pairs, oldest first


class NeighborCache:
    def __init__(self, capacity: int = CAPACITY):
        self.capacity = capacity
        self.entries: OrderedDict[IPv4Address, Neighbor] = OrderedDict()
        self.pending: dict[IPv4Address, _Pending] = {}

    # -- what we know ----------------------------------------------------------------
    def lookup(self, ip: IPv4Address, now: float) -> EthernetAddress | None:
        entry = self.entries.get(ip)
        if entry is None or entry.expires_at <= now:
            return None
        self.entries.move_to_end(ip)
        return entry.mac

    def learn(self, ip: IPv4Address, mac: EthernetAddress, now: float, *,
              solicited: bool, keep: bool = False) -> tuple[str | None, list]:
        """An ARP (or traffic) from ``ip`` says it is at ``mac``.

        Returns (why it was refused, or None; packets that were waiting for this address).
        Unless the news answers our own request (``solicited``), a live entry with another
        MAC is kept ("conflict"), and a full cache makes room only by forgetting the least
        recently used entry that is not kept (``keep``: we asked for it, or the caller says,
        as for the gateway) -- so a flood of strangers cannot push the gateway out
        ("cache_full" when every entry is kept).
        """
        entry = self.entries.get(ip)
        if not solicited:
            if entry and entry.expires_at > now and entry.mac != mac:
                return "conflict", []
            if entry is None and len(self.entries) >= self.capacity:
                stranger = next((k for k, e in self.entries.items() if not e.keep), None)
                if stranger is None:
                    return "cache_full", []
                del self.entries[stranger]
        self.entries[ip] = Neighbor(mac, now + ENTRY_LIFETIME,
                                    solicited or keep or bool(entry and entry.keep))
        self.entries.move_to_end(ip)
        while len(self.entries) > self.capacity:
            self.entries.popitem(last=False)
        waiting = self.pending.pop(ip, None)
        return None, list(waiting.packets) if waiting else []

    def refresh(self, ip: IPv4Address, mac: EthernetAddress, now: float) -> None:
        """Traffic from ``ip`` with the MAC we know: keep the entry alive (smoltcp #965)."""
        entry = self.entries.get(ip)
        if entry and entry.mac == mac and entry.expires_at > now:
            entry.expires_at = now + ENTRY_LIFETIME

    def asked(self, ip: IPv4Address) -> bool:
        """Did we ask for ``ip`` and not hear back yet?"""
        return ip in self.pending

    # -- what waits ----------------------------------------------------------------
    def enqueue(self, ip: IPv4Address, packet, owner, now: float) -> bool:
        """Queue a packet (a whole datagram) for ``ip``; False (dropped) when its queue
        is full, or when ``ip`` is new and too many addresses already wait."""
        if ip not in self.pending and len(self.pending) >= PENDING_ADDRESSES:
            return False
        waiting = self.pending.setdefault(ip, _Pending(now, -REQUEST_INTERVAL))
        if len(waiting.packets) >= PENDING_PER_NEIGHBOR:
            return False
        waiting.packets.append((packet, owner))
        return True

    def due_requests(self, now: float) -> list[IPv4Address]:
        """Addresses to ask for now: each at most once per ``REQUEST_INTERVAL``."""
        due = [ip for ip, p in self.pending.items() if now - p.last_asked >= REQUEST_INTERVAL]
        for ip in due:
            self.pending[ip].last_asked = now
        return due

    def expire(self, now: float) -> list[tuple[IPv4Address, list]]:
        """Forget old entries; give up on addresses that never answered.

        Returns ``[(address, [(packet, owner), ...])]`` for the given-up ones.
        """
        for ip in [ip for ip, e in self.entries.items() if e.expires_at <= now]:
            del self.entries[ip]
        gone = [ip for ip, p in self.pending.items() if now - p.first_asked >= RESOLVE_TIMEOUT]
        return [(ip, list(self.pending.pop(ip).packets)) for ip in gone]

    def poll_at(self) -> float | None:
        """The next time something here is due (a retry or a give-up)."""
        times = [min(p.last_asked + REQUEST_INTERVAL, p.first_asked + RESOLVE_TIMEOUT)
                 for p in self.pending.values()]
        return min(times, default=None)

    def table(self, now: float) -> list[dict]:
        """The cache as plain data (netstat, the status API)."""
        return [{"ip": str(ip), "mac": str(e.mac), "expires_in": round(e.expires_at - now, 1)}
                for ip, e in self.entries.items() if e.expires_at > now]
