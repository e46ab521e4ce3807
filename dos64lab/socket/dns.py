"""socket layer: the DNS stub resolver (RFC 1035 §7) -- names to addresses over UDP, with care.

``query(name, "A", server=(ip, port))`` returns a ``Query``; the client sends it at
the next ``dispatch``, resends it after ``timeout`` seconds up to ``tries`` times,
and fills in ``query.result`` (a ``DnsResult``) or ``query.error``.  Several queries
may be in flight; each has its own random 16-bit id and random source port (RFC 5452
§9.2), so an off-path attacker must guess both.

An answer is believed only if it passes every check of RFC 5452 §9.1: it comes from
the address and port the query went to, to the port it left from, with our id, the
QR bit set, and the same question (name, type, class; names compared without case,
RFC 4343).  Anything else is counted by reason (``rx_drop_wrong_id``, ...) and
ignored; the query keeps waiting.  Nothing a server sends can raise out of ``poll``.

CNAME chains (RFC 1034 §3.6.2) are followed inside the answer section, at most
``max_cnames`` links, loops refused; records for names off the chain are ignored.
A truncated answer (TC bit) is reported as ``result.truncated``: there is no TCP
retry yet.  Error codes (NXDOMAIN, SERVFAIL, ...) are results, not errors.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from ipaddress import IPv4Address

from ..errors import ArgumentError, ParseError
from ..wire import dns, ipv4, udp
from ..wire.base import known
from ..wire.dns import Class, Rcode, Record, Type
from ..wire.ipv4 import IpProtocol
from .base import Socket
from .udp import EPHEMERAL_PORTS, SocketError

__all__ = ["DnsClient", "DnsResult", "Query", "parse_server"]


@dataclass(frozen=True)
class DnsResult:
    """A checked answer.  ``records``: of the type asked for, at the end of the chain."""
    name: str
    type: Type | int
    server: tuple[IPv4Address, int]
    rcode: Rcode | int
    records: tuple[Record, ...]
    cnames: tuple[Record, ...] = ()     # the CNAME records followed, in order
    truncated: bool = False             # TC bit: the server had more than fits in UDP
    authoritative: bool = False
    rtt: float = 0.0                    # from the last (re)transmission to the answer
    tries: int = 1
    notes: tuple[str, ...] = ()         # e.g. "CNAME loop"

    @property
    def ok(self) -> bool:
        return self.rcode == Rcode.NOERROR

    @property
    def addresses(self) -> list:
        return [r.data for r in self.records if r.type in (Type.A, Type.AAAA)]

    @property
    def canonical_name(self) -> str:
        return self.cnames[-1].data if self.cnames else self.name

    @property
    def ttl(self) -> int | None:
        """How long the whole answer may be believed: the smallest TTL in it."""
        return min((r.ttl for r in self.cnames + self.records), default=None)

    def __str__(self):
        kind = _name(self.type, Type)
        head = f"{self.name} {kind}: {_name(self.rcode, Rcode)}" + (" (truncated)" * self.truncated)
        lines = [head] + [f"  {r.name} {_name(r.type, Type)} {r.data} ttl {r.ttl}"
                          for r in self.cnames + self.records]
        return "\n".join(lines + [f"  note: {n}" for n in self.notes])


class Query:
    """One question in flight.  ``done`` once ``result`` or ``error`` is set."""

    def __init__(self, name, type_, server, id_, port, timeout, tries):
        self.name, self.type, self.server = name, type_, server
        self.id, self.port = id_, port
        self.timeout, self.max_tries = timeout, tries
        self.tries = 0
        self.next_send: float | None = None     # None: at the next dispatch
        self.sent_at: float | None = None
        self.result: DnsResult | None = None
        self.error: str | None = None
        self.last_seen = "nothing"              # for the timeout message

    @property
    def done(self) -> bool:
        return self.result is not None or self.error is not None

    def __repr__(self):
        state = "answered" if self.result else f"failed: {self.error}" if self.error else \
            f"waiting (try {self.tries}/{self.max_tries})"
        return (f"<Query {self.name} {_name(self.type, Type)} id {self.id:#06x} "
                f"port {self.port} to {self.server[0]}:{self.server[1]} {state}>")


class DnsClient(Socket):
    """A stub resolver: many queries, each on its own random port."""

    def __init__(self, *, timeout: float = 1.0, tries: int = 3, max_queries: int = 64,
                 max_cnames: int = 8, seed: int | None = None):
        super().__init__()
        self.timeout, self.tries = timeout, tries
        self.max_queries, self.max_cnames = max_queries, max_cnames
        # RFC 5452 §9.2: ids and ports must be unpredictable; a seed is for tests only
        self.random = random.SystemRandom() if seed is None else random.Random(seed)
        self.queries: dict[int, Query] = {}     # in flight, by source port

    def query(self, name: str, type_="A", server=None, *, timeout: float | None = None,
              tries: int | None = None) -> Query:
        """Queue a question for ``server`` ((ip, port), "ip:port" or "ip").  Sent at the
        next ``dispatch``; returns the ``Query`` to watch."""
        name, qtype, server = _check_name(name), _qtype(type_), parse_server(server)
        if len(self.queries) >= self.max_queries:
            self.stats["tx_drop_full"] += 1
            raise SocketError(f"{len(self.queries)} DNS queries already in flight")
        port = self.random.choice(EPHEMERAL_PORTS)
        while port in self.queries:
            port = self.random.choice(EPHEMERAL_PORTS)
        q = Query(name, qtype, server, self.random.getrandbits(16), port,
                  self.timeout if timeout is None else timeout, tries or self.tries)
        self.queries[port] = q
        return q

    # -- what the interface calls -------------------------------------------------
    def accepts_udp(self, iface, ip, d) -> bool:
        return d.dst_port in self.queries

    def process_udp(self, iface, now, ip, d) -> None:
        q = self.queries[d.dst_port]
        self.stats["rx"] += 1                   # every datagram; those ignored also rx_drop_*
        # RFC 5452 §9.1: from the address and port we asked ...
        if (ip.src, d.src_port) != q.server:
            return self._ignore(q, "rx_drop_wrong_source", f"an answer from {ip.src}:{d.src_port}")
        try:
            msg = dns.Repr.parse(d.payload)
        except ParseError as err:
            return self._ignore(q, "rx_drop_malformed", f"a malformed answer ({err})")
        # ... a response, to a standard query, with our id ...
        if not msg.is_response or msg.opcode != 0:
            return self._ignore(q, "rx_drop_not_response", "a message that is not an answer")
        if msg.id != q.id:
            return self._ignore(q, "rx_drop_wrong_id", f"an answer with id {msg.id:#06x}")
        # ... to the very question we asked (RFC 4343: names compared without case)
        asked = dns.Question(q.name, q.type, Class.IN)
        if len(msg.questions) != 1 or not _same_question(msg.questions[0], asked):
            got = msg.questions[0].name if msg.questions else "no question"
            return self._ignore(q, "rx_drop_wrong_question", f"an answer about {got!r}")
        del self.queries[q.port]
        self.stats["answered"] += 1
        if msg.flags & dns.Flags.TC:
            self.stats["truncated"] += 1
        records, cnames, notes = self._follow(q, msg.answers)
        q.result = DnsResult(q.name, q.type, q.server, msg.rcode, records, cnames,
                             bool(msg.flags & dns.Flags.TC), bool(msg.flags & dns.Flags.AA),
                             now - q.sent_at, q.tries, notes)

    def icmp_error(self, now, message, quoted) -> bool:
        if quoted.protocol != IpProtocol.UDP or len(quoted.payload) < 4:
            return False
        q = self.queries.get(int.from_bytes(quoted.payload[:2], "big"))
        if q is None:
            return False
        # Only noted: an ICMP error is as easy to forge as an answer, so we keep trying.
        q.last_seen = f"ICMP type {int(message.type)} code {message.code} from {quoted.dst}"
        self.stats["rx_icmp_error"] += 1
        return True

    def send_failed(self, now, packet, message) -> None:
        """A query could not leave (no route, no ARP answer, not allowed): its last news."""
        super().send_failed(now, packet, message)
        q = self.queries.get(int.from_bytes(packet.payload[:2], "big"))   # our source port
        if q is not None:
            q.last_seen = message

    def dispatch(self, iface, now) -> list:
        out = []
        for q in list(self.queries.values()):
            if q.next_send is not None and now < q.next_send:
                continue
            if q.tries >= q.max_tries:
                del self.queries[q.port]
                self.stats["timeout"] += 1
                q.error = (f"no answer from {q.server[0]}:{q.server[1]} for {q.name} "
                           f"{_name(q.type, Type)} after {q.tries} tries of {q.timeout:g} s; "
                           f"last seen: {q.last_seen}")
                continue
            q.tries += 1
            q.sent_at, q.next_send = now, now + q.timeout
            src = iface.address or IPv4Address(0)
            message = dns.Repr.query(q.id, q.name, q.type).to_bytes()
            payload = udp.Repr(q.port, q.server[1], message).to_bytes(src, q.server[0])
            out.append(ipv4.Repr(src, q.server[0], IpProtocol.UDP, payload))
            self.stats["tx"] += 1
            self.stats["tx_retry"] += q.tries > 1
        return out

    def poll_at(self, now) -> float | None:
        return min((now if q.next_send is None else q.next_send for q in self.queries.values()),
                   default=None)

    def describe(self) -> dict:
        return {**super().describe(), "proto": "dns",
                "in_flight": [repr(q) for q in self.queries.values()]}

    # -- helpers ----------------------------------------------------------------------
    def _ignore(self, q, reason, what) -> None:
        self.stats[reason] += 1
        self.stats["rx_mismatched"] += 1
        q.last_seen = f"{what} ({reason})"

    def _follow(self, q, answers) -> tuple[tuple, tuple, tuple]:
        """The records of the asked type at the end of the CNAME chain from ``q.name``."""
        name, chain = q.name, []
        while True:             # each round adds a link or returns: at most max_cnames rounds
            found = tuple(r for r in answers if _same_name(r.name, name)
                          and r.type == q.type and r.cls == Class.IN)
            if found or q.type == Type.CNAME:
                return found, tuple(chain), ()
            link = next((r for r in answers if _same_name(r.name, name)
                         and r.type == Type.CNAME and r.cls == Class.IN), None)
            if link is None:
                return (), tuple(chain), ()
            if any(_same_name(link.data, seen) for seen in [q.name] + [r.data for r in chain]):
                return (), tuple(chain), (f"CNAME loop at {link.data}",)
            if len(chain) == self.max_cnames:
                return (), tuple(chain), (f"CNAME chain longer than {self.max_cnames}: "
                                          "not followed",)
            chain.append(link)
            name = link.data


def parse_server(server) -> tuple[IPv4Address, int]:
    """(ip, port) from (ip, port), "ip:port" or "ip" (port 53)."""
    try:
        if isinstance(server, str):
            host, _, port = server.partition(":")
            ip, port = IPv4Address(host), int(port or dns.PORT)
        elif isinstance(server, IPv4Address):
            ip, port = server, dns.PORT
        else:
            ip, port = IPv4Address(server[0]), int(server[1])
    except (TypeError, ValueError, IndexError) as err:
        raise ArgumentError("query", "server", server, "is not (ip, port), 'ip:port' or 'ip'") from err
    if not 0 < port <= 0xFFFF:
        raise ArgumentError("query", "server", server, "has a port outside 1..65535")
    return ip, port


def _check_name(name) -> str:
    name = str(name).rstrip(".") if name != "." else ""
    labels = name.split(".") if name else []
    if not name.isascii() or len(name) > 253 or any(not 0 < len(x) < 64 for x in labels):
        raise ArgumentError("query", "name", name, "is not a DNS name (ASCII labels of 1 to 63 "
                                                   "characters, 253 in all)")
    return name


def _qtype(type_) -> Type | int:
    try:
        value = Type[type_.upper()] if isinstance(type_, str) else known(Type, int(type_))
        if not 0 < value <= 0xFFFF:
            raise ValueError(value)
        return value
    except (KeyError, ValueError, TypeError) as err:
        raise ArgumentError("query", "type", type_, "is not a DNS type (A, AAAA, CNAME, ...)") from err


def _same_name(a: str, b: str) -> bool:
    """RFC 4343: DNS names compare without ASCII case (bytes.lower touches ASCII only)."""
    return a.encode("latin-1").lower() == b.encode("latin-1").lower()


def _same_question(got: dns.Question, asked: dns.Question) -> bool:
    return _same_name(got.name, asked.name) and got.type == asked.type and got.cls == asked.cls


def _name(value, enum) -> str:
    return value.name if isinstance(value, enum) else str(value)
