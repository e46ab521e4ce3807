"""Chapter 06 exercise: the IPv4 addresses in a DNS answer (RFC 1035 §4.1).

The learner's ``answer_addresses(message)`` runs on DNS responses a real server
sent through the live stack -- dnsmasq on the host's 127.0.0.1, reached from the
guest at 10.0.2.2:PORT (``hostsvc.Dnsmasq``) -- for a name with one address, an
alias (a CNAME before the A record), a name with three addresses, the same name
asked for AAAA, and a name that does not exist (NXDOMAIN); and on one answer
rewritten with every name spelt out (no compression pointers).  The right answers
come from our wire layer (``wire.dns``).  Traffic: UDP to 10.0.2.2 only.
"""

from __future__ import annotations

import random
import struct
from ipaddress import IPv4Address

from ..errors import Dos64LabError
from ..hostsvc import Dnsmasq
from ..wire import dns
from .common import report
from .ipv4 import not_done, on_stack

__all__ = ["check_dns_answer_parser", "LabDnsmasq"]

MANY = ("10.9.8.1", "10.9.8.2", "10.9.8.3")   # many.lab.test: three A records
QUESTIONS = [("lab.test", dns.Type.A, "one address"),
             ("alias.lab.test", dns.Type.A, "an alias: a CNAME, then the A record"),
             ("many.lab.test", dns.Type.A, "three addresses"),
             ("lab.test", dns.Type.AAAA, "asked for AAAA: an IPv6 address, no A record"),
             ("nope.lab.test", dns.Type.A, "a name that does not exist (NXDOMAIN)")]


class LabDnsmasq(Dnsmasq):
    """``hostsvc.Dnsmasq`` (lab.test 10.9.8.7 and fd00::7, alias.lab.test a CNAME of it)
    plus many.lab.test with three A records: one ``--host-record`` per address, since
    dnsmasq keeps one IPv4 address per host-record."""

    @property
    def argv(self) -> list[str]:
        return super().argv + [f"--host-record=many.lab.test,{a}" for a in MANY]


def check_dns_answer_parser(answer_addresses, net) -> None:
    """``answer_addresses(message: bytes) -> list``: the addresses of the A records in the
    answer section of a DNS response, in the message's order ([] when there are none).

    ``net``: a live ``Stack`` whose allow-list admits 10.0.2.2, on a machine started with
    ``restrict=False`` (or such a ``Machine``: the check brings up a stack of its own).
    The check runs its own dnsmasq (``LabDnsmasq``) on the host for the time it takes.
    Addresses may come back as ``str``, ``IPv4Address`` or 4 ``bytes``.
    """
    name = "check_dns_answer_parser"
    probe = dns.Repr(1, dns.Flags.QR, (dns.Question("lab.test"),),
                     (dns.Record("lab.test", dns.Type.A, 1, IPv4Address("10.9.8.7")),)).to_bytes()
    try:
        answer_addresses(probe)
    except NotImplementedError:
        return not_done(name, "answer_addresses")
    except Exception:                   # reported case by case below
        pass
    with on_stack(net) as stack, LabDnsmasq() as server:
        cases = _live_cases(stack, server.server)
    results = []
    for case, message in cases:
        want = _reference(message)
        try:
            got = answer_addresses(bytes(message))
        except Exception as err:        # the learner's bug, reported as a wrong case
            results.append((case, False, f"raised {type(err).__name__}: {err}"))
            continue
        results.append((case, *_judge(got, want)))
    report(name, results)


def _live_cases(stack, server) -> list[tuple[str, bytes]]:
    """Ask ``server`` each question through the live stack; keep the raw responses."""
    ip, port = IPv4Address(server[0]), int(server[1])
    cases = []
    with stack.udp() as sock:
        for qname, qtype, what in QUESTIONS:
            ident = random.randrange(1 << 16)
            sock.sendto(dns.Repr.query(ident, qname, qtype).to_bytes(), (ip, port))
            message = _answer(sock, ident, f"{qname} {qtype.name}")
            cases.append((f"{qname} {qtype.name}: {what}", message))
    first = cases[0][1]
    cases.append(("lab.test A again, every name spelt out (no compression pointers)",
                  _uncompressed(first)))
    return cases


def _answer(sock, ident: int, what: str) -> bytes:
    """The response with id ``ident`` (others, late answers to earlier tries, are skipped)."""
    for _ in range(8):
        data, _src = sock.recvfrom(timeout=3)
        if len(data) >= 2 and struct.unpack_from("!H", data)[0] == ident:
            return data
    raise Dos64LabError(f"no DNS answer for {what}")


def _uncompressed(message: bytes) -> bytes:
    """The same response written without name compression (RFC 1035 allows both)."""
    m = dns.Repr.parse(message)
    out = bytearray(struct.pack("!6H", m.id, m.flags, len(m.questions), len(m.answers), 0, 0))
    for q in m.questions:
        out += _name(q.name) + struct.pack("!HH", q.type, q.cls)
    for r in m.answers:
        data = (r.data.packed if hasattr(r.data, "packed")
                else _name(r.data) if isinstance(r.data, str) else bytes(r.data))
        out += _name(r.name) + struct.pack("!HHIH", r.type, r.cls, r.ttl, len(data)) + data
    return bytes(out)


def _name(name: str) -> bytes:
    return b"".join(bytes([len(p)]) + p.encode("latin-1") for p in name.split(".") if p) + b"\0"


def _reference(message: bytes) -> list[str]:
    """The right answer, by the wire layer: A records of the answer section, in order."""
    return [str(r.data) for r in dns.Repr.parse(message).answers if r.type == dns.Type.A]


def _judge(got, want: list[str]) -> tuple[bool, str]:
    if isinstance(got, (str, bytes, bytearray)) or not hasattr(got, "__iter__"):
        return False, f"returned {got!r}, want a list like {want!r}"
    shown = [_address(a) for a in got]
    if shown == want:
        return True, f"{shown}"
    hint = ""
    if sorted(shown) == sorted(want):
        hint = " (the same addresses in another order: keep the message's order)"
    elif not shown and want:
        hint = " (a name in the answer may be a 2-byte pointer, 0xc0 0x0c: it ends the name)"
    elif len(shown) > len(want):
        hint = " (A records only, TYPE 1: skip the others by their RDLENGTH)"
    return False, f"got {shown}, want {want}{hint}"


def _address(a) -> str:
    """"10.9.8.7" from a str, an IPv4Address or 4 bytes; anything else as its repr."""
    try:
        if isinstance(a, (bytes, bytearray)) and len(a) == 4:
            return str(IPv4Address(bytes(a)))
        if isinstance(a, (str, IPv4Address)):
            return str(IPv4Address(a))
    except ValueError:
        pass
    return repr(a)
