"""A frame field by field: offset, bytes, field, our value, scapy's value (display only).

Our values come from the ``wire`` views (``ethernet.Packet``, ``arp.Packet``), scapy's
from its own dissection of the same bytes (``scapy.layers.l2.Ether(raw)``; scapy only
parses here).  The Ethernet header and an ARP body (RFC 826) get one row per field;
whatever follows is one row (an IPv4 packet, or the padding up to 60 bytes).
"""

from html import escape
from ipaddress import IPv4Address
from typing import NamedTuple

from ..wire import arp, ethernet
from ..wire.ethernet import EtherType, EthernetAddress

# (offset, length, our Packet attribute, scapy field name)
ETHERNET_FIELDS = [(ethernet.DST, 6, "dst", "dst"), (ethernet.SRC, 6, "src", "src"),
                   (ethernet.ETHERTYPE, 2, "ethertype", "type")]
ARP_FIELDS = [(arp.HTYPE, 2, "hardware_type", "hwtype"), (arp.PTYPE, 2, "protocol_type", "ptype"),
              (arp.HLEN, 1, "hardware_len", "hwlen"), (arp.PLEN, 1, "protocol_len", "plen"),
              (arp.OPER, 2, "operation", "op"), (arp.SHA, 6, "sender_mac", "hwsrc"),
              (arp.SPA, 4, "sender_ip", "psrc"), (arp.THA, 6, "target_mac", "hwdst"),
              (arp.TPA, 4, "target_ip", "pdst")]


class FieldRow(NamedTuple):
    offset: int          # from the start of the frame
    raw: bytes
    layer: str
    field: str           # our name
    ours: str
    scapy: str           # scapy's field name = its text for the value
    agree: bool          # the same number or address, whatever the spelling


def frame_fields(frame: bytes) -> list[FieldRow]:
    """One row per header field of an Ethernet frame (and of its ARP body)."""
    import scapy.layers.inet  # noqa: F401  (binds IPv4 under Ether, so scapy names the payload)
    from scapy.layers.l2 import ARP, Ether
    theirs = Ether(bytes(frame))
    eth = ethernet.Packet.new_checked(frame)
    rows = _rows(eth, 0, "ethernet", ETHERNET_FIELDS, theirs[Ether])
    start = ethernet.HEADER_LEN
    if eth.ethertype == EtherType.ARP and ARP in theirs:
        body = arp.Packet.new_checked(eth.payload)
        rows += _rows(body, start, "arp", ARP_FIELDS, theirs[ARP])
        start += arp.HEADER_LEN
    if start < len(frame):
        rest = theirs.getlayer(2 if ARP in theirs else 1)
        name = "padding" if eth.ethertype == EtherType.ARP else "payload"
        rows.append(FieldRow(start, bytes(frame[start:]), "", name, f"{len(frame) - start} bytes",
                             f"{rest.name if rest else '-'} {len(bytes(rest)) if rest else 0} bytes",
                             rest is not None and len(bytes(rest)) == len(frame) - start))
    return rows


def _rows(view, base, layer, table, scapy_layer) -> list[FieldRow]:
    rows = []
    for offset, length, ours_name, their_name in table:
        ours = getattr(view, ours_name)
        theirs = scapy_layer.getfieldval(their_name)
        text = scapy_layer.get_field(their_name).i2repr(scapy_layer, theirs)
        rows.append(FieldRow(base + offset, bytes(view.buffer[offset:offset + length]), layer,
                             ours_name, _ours(ours), f"{their_name} = {text}",
                             _plain(ours) == _plain(theirs)))
    return rows


def _ours(value) -> str:
    if hasattr(value, "name") and isinstance(value, int):        # a known enum member
        return f"{value.name} ({int(value):#06x})" if value > 0xFF else f"{value.name} ({int(value)})"
    return str(value)


def _plain(value):
    """Numbers stay numbers; addresses become their usual text (scapy keeps them as str)."""
    if isinstance(value, (EthernetAddress, IPv4Address)):
        return str(value)
    return value.lower() if isinstance(value, str) else int(value)


def frame_fields_html(frame: bytes) -> str:
    head = "".join(f"<th style='text-align:left;padding:2px 8px'>{h}</th>" for h in
                   ("offset", "bytes", "layer", "field", "ours", "scapy", ""))
    body = []
    for r in frame_fields(frame):
        hexed = r.raw.hex(" ") if len(r.raw) <= 8 else r.raw[:6].hex(" ") + " …"
        mark = "<span style='color:#080'>✓</span>" if r.agree else "<span style='color:#c00'>✗</span>"
        cells = (f"{r.offset}", hexed, r.layer, r.field, r.ours, r.scapy)
        body.append("<tr>" + "".join(f"<td style='padding:2px 8px;font-family:monospace'>"
                                     f"{escape(c)}</td>" for c in cells) + f"<td>{mark}</td></tr>")
    return f"<table style='font-size:12px'><tr>{head}</tr>{''.join(body)}</table>"


def show_frame_fields(frame: bytes):
    """Display the field table in a notebook."""
    from IPython.display import HTML
    return HTML(frame_fields_html(frame))
