"""Views of PCI: a labelled config-space dump, the capability chain, the table, the tree.

Everything here turns values that ``dos64lab.hw.pci`` already read into static HTML or
SVG; nothing touches the machine, and a saved notebook keeps every picture (no widget
model).  Pass the 256 bytes (``fn.config(q).dump()``) and the ``PciFunction`` that
``scan`` returned for them; the tree takes the whole ``scan`` result.
"""

from __future__ import annotations

from html import escape

from ..hw import pci

# colour per field group, pale so the hex stays readable
_COLOURS = {"ids": "#cde4ff", "command/status": "#ffd6a5", "class": "#caffbf",
            "header": "#e0e0e0", "BARs": "#fdffb6", "subsystem": "#d7ccf0",
            "capability pointer": "#ffadad", "interrupt": "#e8d5c4", "capabilities": "#bdeff0"}
_CAP_LEN = {pci.CAP_MSIX: 12, 0x05: 10, 0x01: 8, 0x10: 60}     # bytes of known capability bodies


def _fields(fn: pci.PciFunction, data: bytes) -> list[tuple[int, int, str, str, str]]:
    """(offset, length, group, name, decoded value) for every labelled field."""
    out = [(pci.VENDOR_ID, 2, "ids", "vendor id", f"{fn.vendor:#06x} {fn.vendor_name}"),
           (pci.DEVICE_ID, 2, "ids", "device id", f"{fn.device:#06x} {fn.device_name}"),
           (pci.COMMAND, 2, "command/status", "command", _command(fn.command)),
           (pci.STATUS, 2, "command/status", "status",
            f"{fn.status:#06x}" + (" (capability list)" if fn.status & pci.STATUS_CAP_LIST else "")),
           (pci.REVISION_ID, 1, "ids", "revision", f"{fn.revision:#04x}"),
           (pci.PROG_IF, 1, "class", "prog-if", f"{fn.prog_if:#04x}"),
           (pci.SUBCLASS, 1, "class", "subclass", f"{fn.subclass:#04x} {fn.class_name}"),
           (pci.CLASS_CODE, 1, "class", "class", f"{fn.class_code:#04x}"),
           (pci.HEADER_TYPE, 1, "header", "header type",
            f"type {fn.header_type}" + (", multi-function" if fn.multifunction else ""))]
    for b in fn.bars:
        width = 8 if b.kind == "mem64" else 4
        out.append((b.offset, width, "BARs", f"BAR{b.index}",
                    f"{b.kind} {b.address:#x} size {b.size:#x}"
                    + (" prefetchable" if b.prefetchable else "")))
    if fn.header_type == pci.HEADER_BRIDGE:
        out.append((pci.SECONDARY_BUS, 1, "header", "secondary bus", f"{fn.secondary_bus}"))
    else:
        sub = int.from_bytes(data[pci.SUBSYSTEM_VENDOR_ID:pci.SUBSYSTEM_VENDOR_ID + 4], "little")
        out.append((pci.SUBSYSTEM_VENDOR_ID, 4, "subsystem", "subsystem vendor/id",
                    f"{sub & 0xFFFF:#06x} / {sub >> 16:#06x}"))
    if fn.capabilities:
        out.append((pci.CAPABILITIES_POINTER, 1, "capability pointer", "capabilities pointer",
                    f"{fn.capabilities[0].offset:#04x}"))
    line, pin = data[pci.INTERRUPT_LINE], data[pci.INTERRUPT_PIN]
    out.append((pci.INTERRUPT_LINE, 2, "interrupt", "interrupt line/pin",
                f"IRQ {line}, " + (f"INT{'ABCD'[pin - 1]}" if 1 <= pin <= 4 else "no pin")))
    for c in fn.capabilities:
        length = c.data.get("cap_len") or _CAP_LEN.get(c.id, 2)
        out.append((c.offset, length, "capabilities", f"cap {c.offset:#04x} {c.name}", _cap_text(c)))
    return out


def _command(command: int) -> str:
    bits = [n for bit, n in ((pci.COMMAND_IO, "I/O"), (pci.COMMAND_MEMORY, "memory"),
                             (pci.COMMAND_BUS_MASTER, "bus master"),
                             (pci.COMMAND_INTX_DISABLE, "INTx off")) if command & bit]
    return f"{command:#06x} " + ", ".join(bits)


def _cap_text(c: pci.Capability) -> str:
    if "cfg_name" in c.data:
        d = c.data
        if d["cfg_type"] == 5:
            return "virtio pci: a window onto the BARs through config space"
        text = f"virtio {d['cfg_name']}: BAR{d['bar']} + {d['offset']:#x}, {d['length']:#x} bytes"
        if "notify_off_multiplier" in d:
            text += f", notify_off_multiplier {d['notify_off_multiplier']}"
        return text
    if c.id == pci.CAP_MSIX:
        d = c.data
        return (f"{d['table_size']} vectors, table BAR{d['table_bar']}+{d['table_offset']:#x}, "
                f"PBA BAR{d['pba_bar']}+{d['pba_offset']:#x}")
    return ", ".join(f"{k} {v}" for k, v in c.data.items())


def config_dump_html(data: bytes, fn: pci.PciFunction) -> str:
    """256 bytes, 16 per row, coloured by field, with the decoded fields beside."""
    fields = _fields(fn, data)
    owner = {}
    for offset, length, group, name, _ in fields:
        for i in range(offset, min(offset + length, len(data))):
            owner.setdefault(i, (group, name))      # header fields win over capability bodies
    rows = []
    for row in range(0, len(data), 16):
        cells = [f'<td style="color:#888;padding-right:8px">{row:02x}</td>']
        for i in range(row, min(row + 16, len(data))):
            group, name = owner.get(i, (None, ""))
            style = f"background:{_COLOURS[group]};" if group else ""
            cells.append(f'<td style="{style}padding:1px 3px" title="{i:#04x} {escape(name)}">'
                         f"{data[i]:02x}</td>")
        rows.append("<tr>" + "".join(cells) + "</tr>")
    header = "".join(f'<th style="color:#888;font-weight:normal">{i:x}</th>' for i in range(16))
    dump = (f'<table style="font-family:monospace;border-collapse:collapse;font-size:12px">'
            f"<tr><th></th>{header}</tr>{''.join(rows)}</table>")
    legend = "".join(
        f'<tr><td style="background:{_COLOURS[g]};padding:1px 4px;font-family:monospace">'
        f"{o:#04x}</td><td style='padding:1px 6px'>{escape(n)}</td>"
        f"<td style='padding:1px 6px'>{escape(v)}</td></tr>" for o, _, g, n, v in fields)
    title = f"<b>{fn.bdf}</b> {escape(fn.vendor_name)} {escape(fn.device_name)}"
    return (f"<div>{title}<div style='display:flex;gap:24px;align-items:flex-start'>{dump}"
            f"<table style='font-size:12px'>{legend}</table></div></div>")


def capability_chain_html(fn: pci.PciFunction) -> str:
    """The capability list as linked boxes: pointer at 0x34 → first → … → 0x00."""
    box = ("display:inline-block;border:1px solid #36c;border-radius:4px;padding:4px 8px;"
           "margin:2px;vertical-align:middle;font-size:12px")
    arrow = '<span style="vertical-align:middle"> → </span>'
    parts = [f'<div style="{box};background:{_COLOURS["capability pointer"]}">'
             f"<b>{pci.CAPABILITIES_POINTER:#04x}</b><br>pointer</div>"]
    for c in fn.capabilities:
        parts.append(f'<div style="{box};background:{_COLOURS["capabilities"]}">'
                     f"<b>{c.offset:#04x}</b> {escape(c.name)} (id {c.id:#04x})<br>"
                     f"{escape(_cap_text(c))}<br><span style='color:#666'>next {c.next:#04x}"
                     "</span></div>")
    parts.append(f'<div style="{box}">0x00<br>end</div>')
    return f"<div>{arrow.join(parts)}</div>"


def pci_table_html(functions) -> str:
    """One row per function: bdf, ids, names, class, BARs, capabilities."""
    rows = []
    for f in functions:
        bars = "<br>".join(f"BAR{b.index} {b.kind} {b.address:#x}+{b.size:#x}" for b in f.bars)
        caps = ", ".join(c.data.get("cfg_name", c.name) for c in f.capabilities)
        rows.append(f"<tr><td>{f.bdf}</td><td>{f.vendor:04x}:{f.device:04x}</td>"
                    f"<td>{escape(f.vendor_name)}<br>{escape(f.device_name)}</td>"
                    f"<td>{escape(f.class_name)}</td><td style='font-family:monospace'>{bars}</td>"
                    f"<td>{escape(caps)}</td></tr>")
    head = "".join(f"<th>{h}</th>" for h in ("bdf", "ids", "names", "class", "BARs", "capabilities"))
    return f"<table style='font-size:12px'><tr>{head}</tr>{''.join(rows)}</table>"


def show_config_space(data: bytes, fn: pci.PciFunction):
    """Display the labelled hex dump in a notebook."""
    from IPython.display import HTML
    return HTML(config_dump_html(data, fn))


def show_capability_chain(fn: pci.PciFunction):
    from IPython.display import HTML
    return HTML(capability_chain_html(fn))


def show_pci_table(functions):
    from IPython.display import HTML
    return HTML(pci_table_html(functions))


# -- the tree: buses, bridges and functions, as lspci -t draws it ---------------------------

_TREE_COLOURS = {"network": "#ffb870", "bridge": "#cde4ff", "other": "#f0f0f0"}
_ROW, _INDENT, _BOX_W = 30, 34, 640


def _kind(f) -> str:
    if f.secondary_bus is not None or f.class_code == 0x06 and f.subclass == 0x04:
        return "bridge"
    return "network" if f.class_code == 0x02 else "other"


def pci_tree_svg(functions, title: str = "") -> str:
    """SVG of the PCI hierarchy: the host bridge's bus 0, each function under its bus, and
    behind each PCI-PCI bridge its secondary bus.  Network functions orange, bridges blue."""
    functions = list(functions)
    by_bus: dict[int, list] = {}
    for f in functions:
        by_bus.setdefault(f.bus, []).append(f)
    rows: list[tuple[int, str, object]] = []          # (depth, kind, function or bus number)

    def walk(bus: int, depth: int, seen: frozenset):
        rows.append((depth, "bus", bus))
        for f in sorted(by_bus.get(bus, []), key=lambda f: (f.slot, f.function)):
            rows.append((depth + 1, "fn", f))
            if f.secondary_bus is not None and f.secondary_bus not in seen:
                walk(f.secondary_bus, depth + 2, seen | {f.secondary_bus})

    walk(0, 0, frozenset({0}))
    top = 34 if title else 10
    height = top + len(rows) * _ROW + 40
    width = 40 + max((d for d, _, _ in rows), default=0) * _INDENT + _BOX_W + 20
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="dos64lab-pci-tree" '
           f'data-functions="{len(functions)}" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           '<rect width="100%" height="100%" fill="white"/>']
    if title:
        out.append(f'<text x="10" y="20" font-size="14" font-weight="bold">{escape(title)}</text>')
    parents: dict[int, float] = {}                    # depth -> y of the last box there
    for i, (depth, kind, item) in enumerate(rows):
        x, y = 10 + depth * _INDENT, top + i * _ROW
        if depth and depth - 1 in parents:            # the elbow from the parent
            px = 10 + (depth - 1) * _INDENT + 10
            out.append(f'<path d="M{px},{parents[depth - 1] + 22} V{y + 11} H{x}" '
                       'fill="none" stroke="#888"/>')
        if kind == "bus":
            label = "host bridge: bus 00" if item == 0 else f"bus {item:02x}"
            out.append(f'<g class="pci-bus" data-bus="{item}"><rect x="{x}" y="{y}" width="150" '
                       f'height="22" rx="11" fill="#36c"/><text x="{x + 75}" y="{y + 15}" '
                       f'fill="white" text-anchor="middle" font-weight="bold">{label}</text></g>')
        else:
            f = item
            k = _kind(f)
            bars = " ".join(f"BAR{b.index} {b.kind}" for b in f.bars)
            text = (f"{f.vendor:04x}:{f.device:04x} {f.device_name or f.class_name}"
                    + (f"  → bus {f.secondary_bus:02x}" if f.secondary_bus is not None else ""))
            text = text if len(text) <= 64 else text[:63] + "…"
            out.append(f'<g class="pci-function" data-bdf="{f.bdf}" data-kind="{k}">'
                       f'<rect x="{x}" y="{y}" width="{_BOX_W}" height="22" rx="3" '
                       f'fill="{_TREE_COLOURS[k]}" stroke="#999"/>'
                       f'<text x="{x + 6}" y="{y + 15}" font-family="monospace" '
                       f'font-weight="bold">{f.bdf}</text>'
                       f'<text x="{x + 70}" y="{y + 15}">{escape(text)}</text>'
                       f'<text x="{x + _BOX_W - 6}" y="{y + 15}" text-anchor="end" fill="#555" '
                       f'font-size="10">{escape(bars[:44])}</text></g>')
        parents[depth] = y
        for deeper in [d for d in parents if d > depth]:
            del parents[deeper]
    ly = top + len(rows) * _ROW + 14
    for k, (name, colour) in enumerate((("network", _TREE_COLOURS["network"]),
                                        ("PCI-PCI bridge", _TREE_COLOURS["bridge"]),
                                        ("other", _TREE_COLOURS["other"]))):
        out.append(f'<rect x="{10 + 150 * k}" y="{ly}" width="14" height="12" fill="{colour}" '
                   f'stroke="#999"/><text x="{30 + 150 * k}" y="{ly + 10}" font-size="11">'
                   f'{name}</text>')
    return "\n".join(out + ["</svg>"])


class PciTree:
    """The PCI hierarchy of a ``scan`` as static SVG (``_repr_svg_``)."""

    def __init__(self, functions, title: str = ""):
        self.functions, self.title = list(functions), title

    def svg(self) -> str:
        return pci_tree_svg(self.functions, self.title)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        buses = sorted({f.bus for f in self.functions})
        return f"<PciTree: {len(self.functions)} functions on buses {buses}>"


def show_pci_tree(functions, title: str = "") -> PciTree:
    """Display the PCI tree in a notebook (static SVG)."""
    return PciTree(functions, title)
