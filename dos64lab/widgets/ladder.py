"""A packet ladder (sequence diagram) of a capture, as static SVG (display only).

One lane per host -- us first, then each peer in the order it appears -- and one
arrow per frame, in time order, labelled with a short summary (``wire.pretty``
without the addresses, or a label of your own) and the time since the first
frame on the left.  Blue arrows we sent, green ones we received; a dashed arrow
went to the Ethernet broadcast address, and one to *every* host (a DHCP DISCOVER,
a gratuitous ARP) spans all lanes.

    Ladder(read_pcap("ours.pcap"), me=dev.mac)      # in a notebook: the picture

The input is ``(time, frame)`` pairs, as ``read_pcap`` returns them.  Which end is
ours comes from our MAC (or our IPv4 address); a peer's lane is its IPv4 address
(an ARP request goes to the lane of the address it asks for), or its MAC when it
has none.  The picture is plain SVG (``_repr_svg_``): it survives saving the
notebook and renders on GitHub, no widget model needed.  Frames are hostile input:
every text is made printable and XML-escaped before it goes into the SVG.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from html import escape
from ipaddress import IPv4Address

from ..errors import ParseError
from ..wire import arp, dns, ethernet, ipv4, pretty, udp
from ..wire.ethernet import EtherType, EthernetAddress

__all__ = ["Ladder", "Lane", "Arrow", "ladder_svg", "show_ladder", "summary", "SLIRP_NAMES"]

#: names for QEMU user networking's own addresses (QEMU-FACTS)
SLIRP_NAMES = {"10.0.2.2": "slirp", "10.0.2.3": "slirp DNS"}

LIMITED_BROADCAST = IPv4Address("255.255.255.255")
UNSPECIFIED = IPv4Address(0)
EVERYONE = None                 # an Arrow's dst when a frame went to every host

_LEFT, _LANE_W, _TOP, _ROW, _FONT = 92, 380, 62, 30, 11
_CHAR_W = 6.3                   # px per character of an 11 px sans-serif label, roughly
_LANE_MAX, _TITLE_MAX = 52, 400
_SENT, _RECEIVED, _OTHER = "#1f5fbf", "#2a8a3a", "#777777"


@dataclass(frozen=True)
class Lane:
    key: str            # "10.0.2.2", or a MAC for a host without an IPv4 address
    label: str          # "10.0.2.2 (slirp)"


@dataclass(frozen=True)
class Arrow:
    time: float | None  # seconds after the first frame (None: the frame had no time)
    src: int            # lane index
    dst: int | None     # lane index; None (EVERYONE): every other lane
    label: str          # plain text; escaped only where it is drawn
    sent: bool          # sent by us
    broadcast: bool     # Ethernet destination ff:ff:ff:ff:ff:ff


class Ladder:
    """A ladder of ``frames`` -- ``(time, frame)`` pairs (or bare frames) -- seen by ``me``.

    ``me``: our MAC (``EthernetAddress``, ``"52:54:..."``, 6 bytes, or anything with a
    ``.mac`` such as a device), or our IPv4 address.  ``names``: extra words for lanes,
    ``{"10.0.2.2": "slirp"}`` (default ``SLIRP_NAMES``).  ``label``: ``frame -> str``
    for the arrows (default ``summary``); ``dns_ports``: UDP ports besides 53 whose
    datagrams are DNS (a test's dnsmasq on the host).  At most ``max_frames`` arrows.
    """

    def __init__(self, frames, me, *, names: dict | None = None, label=None,
                 dns_ports=(), title: str | None = None, max_frames: int = 100):
        items = [_item(x) for x in frames]
        self.title = title
        self.total = len(items)
        items = items[:max_frames]
        names = SLIRP_NAMES if names is None else names
        label = label or (lambda frame: summary(frame, dns_ports))
        my_mac, my_ip = _whoami(me, items)
        known = _learn_addresses(items, my_mac)       # a peer's MAC -> its IPv4 address
        lanes: dict[str, int] = {"us": 0}
        raw: list[tuple] = []
        for t, frame in items:
            src, dst, bcast, mine = _ends(frame, my_mac, my_ip, known)
            for key in (src, dst):
                if key is not EVERYONE and key not in lanes:
                    lanes[key] = len(lanes)
            raw.append((t, lanes[src], EVERYONE if dst is EVERYONE else lanes[dst],
                        _safe_label(label, frame), mine, bcast))
        if len(lanes) == 1:                          # only broadcasts: draw "everyone"
            lanes["everyone"] = 1
        us = f"{my_ip} (us)" if my_ip else f"{my_mac} (us)" if my_mac else "us"
        self.lanes = [Lane("us", us)] + [
            Lane(key, f"{key} ({names[key]})" if key in names else key)
            for key in list(lanes)[1:]]
        t0 = next((t for t, *_ in raw if t is not None), None)
        self.arrows = [Arrow(None if t is None or t0 is None else t - t0, s, d, text, mine, b)
                       for t, s, d, text, mine, b in raw]

    @classmethod
    def from_pcap(cls, path, me, **kwargs) -> Ladder:
        """The ladder of a classic pcap file (``PcapTap``, QEMU's filter-dump)."""
        from ..phy.pcap import read_pcap
        return cls(read_pcap(path), me, **kwargs)

    # -- views -------------------------------------------------------------------------
    def rows(self) -> list[tuple]:
        """``(time, from lane, to lane, label)`` per arrow, as plain text ("*": everyone)."""
        return [(a.time, self.lanes[a.src].label,
                 "*" if a.dst is EVERYONE else self.lanes[a.dst].label, a.label)
                for a in self.arrows]

    def text(self) -> str:
        """The ladder as lines of text (for a terminal, or a test)."""
        return "\n".join(f"{_time(t):>11}  {src} -> {dst}: {text}"
                         for t, src, dst, text in self.rows())

    def svg(self) -> str:
        """The picture: one SVG document, every text from a frame escaped."""
        n = len(self.lanes)
        width = _LEFT + n * _LANE_W
        top = _TOP + (22 if self.title else 0)
        more = self.total - len(self.arrows)
        bottom = top + len(self.arrows) * _ROW + (_ROW if more else 0)
        height = bottom + 34
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
               f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="{_FONT}">',
               f'<rect width="{width}" height="{height}" fill="white"/>']
        if self.title:
            out.append(f'<text x="8" y="20" font-size="14" font-weight="bold">'
                       f'{_xml(self.title, _TITLE_MAX)}</text>')
        head = top - 52
        out.append(f'<text x="{_LEFT - 8}" y="{head + 21}" text-anchor="end" fill="#666">'
                   'time</text>')
        for i, lane in enumerate(self.lanes):
            x = _x(i)
            out.append(f'<rect x="{x - _LANE_W / 2 + 12}" y="{head + 4}" width="{_LANE_W - 24}" '
                       f'height="26" rx="4" fill="{"#ffd166" if i == 0 else "#e8f1fb"}" '
                       'stroke="#36c"/>')
            out.append(f'<text x="{x}" y="{head + 21}" text-anchor="middle" font-weight="bold">'
                       f'<title>{_xml(lane.label, _TITLE_MAX)}</title>'
                       f'{_xml(lane.label, _LANE_MAX)}</text>')
            out.append(f'<line x1="{x}" y1="{head + 30}" x2="{x}" y2="{bottom}" stroke="#aaa"/>')
        for row, a in enumerate(self.arrows):
            out += _arrow(a, top + row * _ROW + 16, n)
        if more:
            out.append(f'<text x="{_LEFT}" y="{bottom - 10}" fill="#666">… and {more} more '
                       f'frame{"s" if more != 1 else ""} (max_frames={len(self.arrows)})</text>')
        legend = [(_SENT, "→ sent by us"), (_RECEIVED, "→ received"),
                  ("#666", "- - → to the Ethernet broadcast address"),
                  ("#666", "time: since the first frame")]
        x = 8
        for color, text in legend:
            out.append(f'<text x="{x}" y="{height - 10}" fill="{color}">{text}</text>')
            x += len(text) * _CHAR_W + 24
        return "\n".join(out + ["</svg>"])

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        return (f"<Ladder: {len(self.lanes)} lanes ({', '.join(l.label for l in self.lanes)}), "
                f"{len(self.arrows)} arrows>")


def ladder_svg(frames, me, **kwargs) -> str:
    """``Ladder(frames, me, **kwargs).svg()``."""
    return Ladder(frames, me, **kwargs).svg()


def show_ladder(frames, me, **kwargs):
    """Display the ladder in a notebook (as SVG)."""
    from IPython.display import SVG
    return SVG(Ladder(frames, me, **kwargs).svg())


# -- the label of an arrow -----------------------------------------------------------------

_ADDRESSES = re.compile(r"^(\S+) > (\S+) ")
_IP_PORT = re.compile(r"^\d+\.\d+\.\d+\.\d+\.(\d+)$")


def summary(frame: bytes, dns_ports=()) -> str:
    """``pretty(frame)`` without the addresses (the lanes show them); ports kept:
    ``UDP 68 > 67 DHCP DISCOVER xid=0x3903f326``, ``ICMP echo request id=7 seq=1 len=56``.
    UDP to or from one of ``dns_ports`` is read as DNS, as ``pretty`` reads port 53."""
    line = pretty(frame)
    m = _ADDRESSES.match(line)
    if not m:
        return line
    rest = line[m.end():]
    src, dst = _IP_PORT.match(m.group(1)), _IP_PORT.match(m.group(2))
    proto, _, tail = rest.partition(" ")
    if src and dst and proto in ("UDP", "TCP"):
        ports = {int(src.group(1)), int(dst.group(1))}
        if proto == "UDP" and ports & set(dns_ports):
            tail = _dns_text(frame) or tail
        return f"{proto} {src.group(1)} > {dst.group(1)} {tail}".rstrip()
    return rest


def _dns_text(frame: bytes) -> str | None:
    """``DNS response id=0x0007 A? lab.test: A 10.9.8.7`` (pretty's words), or None."""
    try:
        ip = ipv4.Repr.parse(ethernet.Packet.new_checked(frame).payload)
        m = dns.Repr.parse(udp.Packet.new_checked(ip.payload).payload)
    except ParseError:
        return None
    text = f"DNS {'response' if m.is_response else 'query'} id={m.id:#06x}"
    text += "".join(f" {_word(q.type)}? {q.name}" for q in m.questions)
    if m.is_response and m.rcode:
        text += f" {_word(m.rcode)}"
    if m.answers:
        text += ": " + ", ".join(f"{_word(r.type)} {_rdata(r.data)}" for r in m.answers)
    return _printable(text)


def _word(number) -> str:
    return getattr(number, "name", str(number))


def _rdata(data) -> str:
    if isinstance(data, bytes):                       # a type we keep raw
        return f"<{len(data)} bytes>"
    if isinstance(data, tuple):                       # TXT strings
        return " ".join(f'"{s.decode("latin-1")}"' for s in data)
    return str(data)


def _printable(text: str) -> str:
    """Printable ASCII, as ``pretty`` makes it: ``\\`` doubled, other bytes ``\\xNN``."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif " " <= ch < "\x7f":
            out.append(ch)
        else:
            out.append(f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}")
    return "".join(out)


# -- who is who --------------------------------------------------------------------------

def _item(x) -> tuple[float | None, bytes]:
    if isinstance(x, (bytes, bytearray, memoryview)):
        return None, bytes(x)
    t, frame = x
    return (None if t is None else float(t)), bytes(frame)


def _mac(value) -> EthernetAddress | None:
    if isinstance(value, EthernetAddress):
        return value
    if isinstance(value, (bytes, bytearray)) and len(value) == 6:
        return EthernetAddress(bytes(value))
    if isinstance(value, str) and value.count(":") == 5:
        return EthernetAddress.parse(value)
    return None


def _whoami(me, items) -> tuple[EthernetAddress | None, IPv4Address | None]:
    """Our MAC (to tell sent from received) and our IPv4 address (for our lane's name)."""
    mac = _mac(getattr(me, "mac", me))
    ip = None
    if mac is None:
        try:
            ip = IPv4Address(me if not isinstance(me, (bytes, bytearray)) else bytes(me))
        except ValueError:
            raise ValueError(f"me={me!r}: give our MAC address or our IPv4 address") from None
    for _, frame in items:
        eth, src_ip, _, _ = _parse(frame)
        if eth is None or src_ip is None or src_ip == UNSPECIFIED:
            continue
        if mac is None and src_ip == ip:
            mac = eth.src                    # found by our IPv4 address: now we know our MAC
        if mac is not None and eth.src == mac and ip is None:
            ip = src_ip
        if mac is not None and ip is not None:
            break
    return mac, ip


def _parse(frame: bytes):
    """(ethernet view, src IPv4, dst IPv4, ARP target IPv4); None where unreadable."""
    try:
        eth = ethernet.Packet.new_checked(frame)
    except ParseError:
        return None, None, None, None
    try:
        if eth.ethertype == EtherType.IPV4:
            p = ipv4.Packet.new_checked(eth.payload)
            return eth, p.src, p.dst, None
        if eth.ethertype == EtherType.ARP:
            a = arp.Repr.parse(eth.payload)
            return eth, a.sender_ip, None, a.target_ip
    except ParseError:
        pass
    return eth, None, None, None


def _learn_addresses(items, my_mac) -> dict[EthernetAddress, IPv4Address]:
    """Each peer's MAC -> the IPv4 address it sends from, so its lane is its address."""
    known = {}
    for _, frame in items:
        eth, src_ip, _, _ = _parse(frame)
        if eth is not None and eth.src != my_mac and src_ip not in (None, UNSPECIFIED):
            known.setdefault(eth.src, src_ip)
    return known


def _ends(frame, my_mac, my_ip, known) -> tuple[str, str | None, bool, bool]:
    """(src lane key, dst lane key or EVERYONE, Ethernet broadcast, sent by us)."""
    eth, src_ip, dst_ip, target_ip = _parse(frame)
    if eth is None:
        return "(unreadable frames)", "us", False, False
    bcast = eth.dst.is_broadcast
    mine = my_mac is not None and eth.src == my_mac
    if mine:
        src = "us"
    elif src_ip not in (None, UNSPECIFIED):
        src = str(src_ip)
    else:
        src = str(known.get(eth.src, eth.src))
    if my_mac is not None and eth.dst == my_mac:
        dst = "us"
    elif dst_ip is not None:                        # IPv4: its destination address
        dst = (EVERYONE if dst_ip == LIMITED_BROADCAST
               else "us" if dst_ip == my_ip else str(dst_ip))
    elif target_ip is not None:                     # ARP: the address it asks about
        dst = (EVERYONE if target_ip == src_ip      # gratuitous: an announcement to all
               else "us" if target_ip == my_ip else str(target_ip))
    elif bcast:
        dst = EVERYONE
    else:
        dst = str(known.get(eth.dst, eth.dst))
    return src, dst, bcast, mine


# -- drawing -----------------------------------------------------------------------------

def _x(lane: int) -> float:
    return _LEFT + _LANE_W / 2 + lane * _LANE_W


def _arrow(a: Arrow, y: float, lanes: int) -> list[str]:
    color = _SENT if a.sent else _RECEIVED if a.dst == 0 or a.dst is EVERYONE else _OTHER
    dash = ' stroke-dasharray="6 3"' if a.broadcast else ""
    title = f"<title>{_xml(a.label, _TITLE_MAX)}</title>"
    out = [f'<text x="{_LEFT - 8}" y="{y + 4}" text-anchor="end" fill="#666" '
           f'font-family="monospace">{_time(a.time)}</text>']
    x1 = _x(a.src)
    if a.dst is EVERYONE:
        others = [i for i in range(lanes) if i != a.src] or [a.src]
        lo, hi = min(others + [a.src]), max(others + [a.src])
        out.append(f'<line x1="{_x(lo)}" y1="{y}" x2="{_x(hi)}" y2="{y}" stroke="{color}" '
                   f'stroke-width="1.5"{dash}>{title}</line>')
        for i in others:
            if i != a.src:
                out.append(_head(_x(i), y, 1 if _x(i) > x1 else -1, color))
        centre, span = (_x(lo) + _x(hi)) / 2, _x(hi) - _x(lo)
    elif a.dst == a.src:                               # to itself: a small loop
        out.append(f'<path d="M {x1} {y - 6} h 24 v 12 h -20" fill="none" stroke="{color}" '
                   f'stroke-width="1.5"{dash}>{title}</path>')
        out.append(_head(x1 + 2, y + 6, -1, color))
        centre, span = x1 + _LANE_W / 4, _LANE_W / 2
    else:
        x2 = _x(a.dst)
        way = 1 if x2 > x1 else -1
        out.append(f'<line x1="{x1}" y1="{y}" x2="{x2 - way * 2}" y2="{y}" stroke="{color}" '
                   f'stroke-width="1.5"{dash}>{title}</line>')
        out.append(_head(x2, y, way, color))
        centre, span = (x1 + x2) / 2, abs(x2 - x1)
    # the label is centred on its arrow and may run past its ends, not out of the picture
    room = 2 * min(centre - _LEFT, _LEFT + lanes * _LANE_W - centre) - 8
    text = _xml(a.label, max(12, int(max(span, room) / _CHAR_W)))
    # a white halo under the label keeps it readable where it crosses a lifeline
    out.append(f'<text x="{centre}" y="{y - 6}" text-anchor="middle" fill="white" '
               f'stroke="white" stroke-width="3" aria-hidden="true">{text}</text>')
    out.append(f'<text x="{centre}" y="{y - 6}" text-anchor="middle" fill="{color}">'
               f'{title}{text}</text>')
    return out


def _head(x: float, y: float, way: int, color: str) -> str:
    return (f'<polygon points="{x},{y} {x - way * 8},{y - 4} {x - way * 8},{y + 4}" '
            f'fill="{color}"/>')


def _time(t: float | None) -> str:
    if t is None:
        return ""
    return f"{t * 1000:.1f} ms" if t < 1 else f"{t:.3f} s"


# -- hostile text -----------------------------------------------------------------------

# characters XML 1.0 forbids even escaped (C0 controls but tab, newline, CR; surrogates;
# U+FFFE, U+FFFF), and the other line breaks: shown as \xNN / \uNNNN instead
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff"
                      "\t\n\r\u2028\u2029]")


def _xml(text, limit: int) -> str:
    """``text`` as XML character data: forbidden characters spelt out, cut to
    ``limit`` characters (with "…"), then ``& < > " '`` escaped."""
    text = _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100
                        else f"\\u{ord(m.group()):04x}", str(text))
    if len(text) > limit:
        text = text[:limit - 1] + "…"
    return escape(text, quote=True)


def _safe_label(label, frame) -> str:
    """The arrow's text; a label function that fails says so instead of breaking the picture."""
    try:
        return str(label(frame))
    except Exception as err:                 # a learner's label function: never fatal here
        return f"(label failed: {type(err).__name__})"
