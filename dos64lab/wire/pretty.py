"""One line per frame, tcpdump-like (a reading aid, not a protocol).

One job: ``pretty(frame)`` summarises any Ethernet frame on one line, e.g.
``52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15`` or
``10.0.2.15.49152 > 10.0.2.2.80 TCP [S] seq=1 win=8192 mss=1460``.
It never raises on bad bytes: a malformed frame gives
``... malformed: <layer>: bad <field> (<reason>)`` after what did parse.
Text from the frame (DNS names, TXT strings) is escaped where the line is
finished: printable ASCII stays, ``\\`` becomes ``\\\\`` and every other byte
``\\xNN``, so a frame can neither forge output lines nor send terminal escapes.
"""

from __future__ import annotations

from ..errors import ParseError
from . import arp, dhcp, dns, ethernet, icmp, ipv4, tcp, udp
from .ethernet import EtherType
from .icmp import IcmpType
from .ipv4 import IpProtocol

__all__ = ["pretty"]

# Frame text is Latin-1 (one character per byte): these are all the bytes to escape.
_ESCAPES = {byte: f"\\x{byte:02x}" for byte in range(256) if not 0x20 <= byte < 0x7F}
_ESCAPES[ord("\\")] = "\\\\"


def pretty(frame: bytes) -> str:
    """A one-line summary of an Ethernet frame, in printable ASCII."""
    parts: list[str] = []
    try:
        _frame(frame, parts)
    except ParseError as err:
        parts.append(f"malformed: {err}")
    return _printable(" ".join(parts))


def _printable(text: str) -> str:
    """``text`` in printable ASCII: ``\\`` doubled, any other byte as ``\\xNN``
    (and, never from a frame, a character beyond Latin-1 as ``\\uNNNN``)."""
    return text.translate(_ESCAPES).encode("ascii", "backslashreplace").decode("ascii")


def _frame(frame, parts: list[str]) -> None:
    eth = ethernet.Packet.new_checked(frame)
    if eth.ethertype == EtherType.IPV4:
        _ipv4(eth.payload, parts)
        return
    parts.append(f"{eth.src} > {eth.dst}")
    if eth.ethertype == EtherType.ARP:
        parts.append(_arp(arp.Repr.parse(eth.payload)))
    elif eth.ethertype == EtherType.IPV6:
        parts.append(f"IPv6 len={len(eth.payload)}")
    else:
        parts.append(f"ethertype {eth.ethertype:#06x} len={len(eth.payload)}")


def _arp(a: arp.Repr) -> str:
    if a.operation == arp.Operation.REQUEST:
        return f"ARP who-has {a.target_ip} tell {a.sender_ip}"
    if a.operation == arp.Operation.REPLY:
        return f"ARP {a.sender_ip} is-at {a.sender_mac}"
    return f"ARP op {a.operation} {a.sender_ip} ({a.sender_mac}) > {a.target_ip}"


def _ipv4(buf, parts: list[str]) -> None:
    ip = ipv4.Repr.parse(buf)
    src, dst = ip.src, ip.dst
    if ip.is_fragment:
        parts.append(f"{src} > {dst} IPv4 fragment proto={ip.protocol} id={ip.ident:#x} "
                     f"off={ip.frag_offset}{' MF' if ip.more_fragments else ''} len={len(ip.payload)}")
    elif ip.protocol == IpProtocol.ICMP:
        parts.append(f"{src} > {dst}")
        parts.append(_icmp(icmp.Repr.parse(ip.payload)))
    elif ip.protocol == IpProtocol.UDP:
        u = udp.Packet.new_checked(ip.payload)        # ports first, so a bad checksum shows them
        parts.append(f"{src}.{u.src_port} > {dst}.{u.dst_port} UDP")
        parts.append(_udp(udp.Repr.parse(u, src, dst)))
    elif ip.protocol == IpProtocol.TCP:
        t = tcp.Packet.new_checked(ip.payload)
        parts.append(f"{src}.{t.src_port} > {dst}.{t.dst_port} TCP")
        parts.append(_tcp(tcp.Repr.parse(t, src, dst)))
    else:
        parts.append(f"{src} > {dst} proto {ip.protocol} len={len(ip.payload)}")


def _icmp(m: icmp.Repr) -> str:
    if m.type in (IcmpType.ECHO_REQUEST, IcmpType.ECHO_REPLY):
        kind = "request" if m.type == IcmpType.ECHO_REQUEST else "reply"
        return f"ICMP echo {kind} id={m.ident} seq={m.seq} len={len(m.data)}"
    if m.type == IcmpType.DEST_UNREACHABLE:
        return f"ICMP unreachable code={m.code}"
    if m.type == IcmpType.TIME_EXCEEDED:
        return f"ICMP time exceeded code={m.code}"
    return f"ICMP type={m.type} code={m.code} len={len(m.data)}"


def _udp(u: udp.Repr) -> str:
    ports = {u.src_port, u.dst_port}
    if ports == {dhcp.SERVER_PORT, dhcp.CLIENT_PORT}:
        return _dhcp(dhcp.Repr.parse(u.payload))
    if dns.PORT in ports:
        return _dns(dns.Repr.parse(u.payload))
    return f"len={len(u.payload)}"


def _dhcp(d: dhcp.Repr) -> str:
    if d.message_type is None:
        text = f"BOOTP {'request' if d.op == dhcp.Op.REQUEST else 'reply'} xid={d.xid:#x}"
    else:
        text = f"DHCP {_name(d.message_type)} xid={d.xid:#x}"
    if d.yiaddr.packed != bytes(4):
        text += f" yiaddr={d.yiaddr}"
    return text


def _dns(m: dns.Repr) -> str:
    kind = "response" if m.is_response else "query"
    text = f"DNS {kind} id={m.id:#06x}"
    text += "".join(f" {_name(q.type)}? {q.name}" for q in m.questions)
    if m.is_response and m.rcode:
        text += f" {getattr(m.rcode, 'name', m.rcode)}"
    if m.answers:
        text += ": " + ", ".join(f"{_name(r.type)} {_rdata(r)}" for r in m.answers)
    return text


def _name(number) -> str:
    return getattr(number, "name", str(number))


def _rdata(r: dns.Record) -> str:
    if isinstance(r.data, tuple):                     # TXT strings, escaped by pretty()
        return " ".join(f'"{s.decode("latin-1")}"' for s in r.data)
    if isinstance(r.data, bytes):
        return f"<{len(r.data)} bytes>"
    return str(r.data)


def _tcp(t: tcp.Repr) -> str:
    text = f"[{t.flags.short() or 'none'}] seq={t.seq}"
    if t.flags & tcp.TcpFlags.ACK:
        text += f" ack={t.ack}"
    text += f" win={t.window}"
    for o in t.options:
        if isinstance(o, tcp.Mss):
            text += f" mss={o.value}"
        elif isinstance(o, tcp.WindowScale):
            text += f" wscale={o.shift}"
        elif isinstance(o, tcp.SackPermitted):
            text += " sackOK"
        elif isinstance(o, tcp.Sack):
            text += " sack=" + ",".join(f"{left}-{right}" for left, right in o.blocks)
        elif isinstance(o, tcp.Timestamps):
            text += f" ts={o.tsval}/{o.tsecr}"
        elif isinstance(o, tcp.UnknownOption):
            text += f" opt{o.kind}"
    if t.payload:
        text += f" len={len(t.payload)}"
    return text
