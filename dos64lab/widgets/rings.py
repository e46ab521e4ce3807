"""A picture of one split virtqueue: desc table, avail ring, used ring and the indices.

Display only: it draws a ``Virtqueue.snapshot()`` (plain data) and, if given, QEMU's
``x-query-virtio-queue-status`` beside it.  ``RingView`` is an ipywidgets HTML
widget with ``update()``, so a notebook can redraw it after each step.

Colours: a descriptor or ring slot the *device* owns now is orange; one the driver
owns is grey; the next slots each side will fill are marked with their index name.
"""

from html import escape

_DEVICE, _DRIVER, _MARK = "#ffd6a5", "#f0f0f0", "#ffd166"
_CELL = 'style="border:1px solid #ccc;padding:1px 6px;font-family:monospace;font-size:12px"'


def _flags(flags: int) -> str:
    return "|".join(n for bit, n in ((1, "NEXT"), (2, "WRITE"), (4, "INDIRECT")) if flags & bit) or "-"


def _table(title: str, head: list[str], rows: list[tuple[list[str], str, str]], more: int) -> str:
    out = [f'<table style="border-collapse:collapse;margin-right:14px;vertical-align:top">'
           f'<caption style="font-weight:bold;text-align:left">{escape(title)}</caption><tr>']
    out += [f"<th {_CELL}>{escape(h)}</th>" for h in head] + ["</tr>"]
    for cells, colour, mark in rows:
        out.append(f'<tr style="background:{colour}">'
                   + "".join(f"<td {_CELL}>{escape(c)}</td>" for c in cells)
                   + f'<td style="padding-left:4px;font-size:12px;color:#a0522d">{escape(mark)}</td></tr>')
    if more:
        out.append(f'<tr><td colspan="{len(head)}" {_CELL}>… {more} more</td></tr>')
    return "".join(out + ["</table>"])


def rings_html(snap: dict, qemu: dict | None = None, max_entries: int = 16, title: str = "") -> str:
    """HTML for one snapshot (``Virtqueue.snapshot()``); ``qemu``: x-query-virtio-queue-status."""
    size, shown = snap["size"], min(snap["size"], max_entries)
    in_flight = set(snap["in_flight"])
    avail_idx, used_idx, last_used = snap["avail"]["idx"], snap["used"]["idx"], snap["last_used_idx"]

    # desc[i]: the device owns every descriptor of an in-flight chain
    owned = set()
    for head in in_flight:
        i = head
        while True:
            owned.add(i)
            if not snap["desc"][i]["flags"] & 1:
                break
            i = snap["desc"][i]["next"]
    desc_rows = [([str(i), f"{d['addr']:#x}", str(d["len"]), _flags(d["flags"]), str(d["next"])],
                  _DEVICE if i in owned else _DRIVER,
                  "← free_head" if i == snap["free_head"] else "")
                 for i, d in enumerate(snap["desc"][:shown])]

    # avail.ring[slot]: slots last_used_idx .. avail.idx-1 are published and not yet reaped
    pending = {(last_used + k) % size for k in range((avail_idx - last_used) & 0xFFFF)}
    avail_rows = [([str(s), str(head)], _DEVICE if s in pending else _DRIVER,
                   "← avail.idx" if s == avail_idx % size else "")
                  for s, head in enumerate(snap["avail"]["ring"][:shown])]

    # used.ring[slot]: slots last_used_idx .. used.idx-1 are returned, not yet reaped
    unreaped = {(last_used + k) % size for k in range((used_idx - last_used) & 0xFFFF)}
    used_rows = []
    for s, e in enumerate(snap["used"]["ring"][:shown]):
        marks = [n for n, v in (("used.idx", used_idx), ("last_used_idx", last_used)) if v % size == s]
        used_rows.append(([str(s), str(e["id"]), str(e["len"])],
                          _MARK if s in unreaped else _DRIVER,
                          ("← " + ", ".join(marks)) if marks else ""))

    idx = [("avail.idx", avail_idx), ("used.idx", used_idx), ("last_used_idx", last_used),
           ("free_head", snap["free_head"]), ("num_free", snap["num_free"]),
           ("in flight", len(in_flight)), ("kicks", snap["kicks"]),
           ("kicks suppressed", snap["kicks_suppressed"])]
    badges = " ".join(f'<span style="background:#e8f1fb;border:1px solid #36c;border-radius:4px;'
                      f'padding:1px 6px;margin-right:4px;font-family:monospace">{n} = {v}</span>'
                      for n, v in idx)
    parts = [f'<div><b>{escape(title or "queue")} {snap["index"]}</b> · size {size} · '
             f'desc {snap["addresses"]["desc"]:#x} · avail {snap["addresses"]["avail"]:#x} · '
             f'used {snap["addresses"]["used"]:#x}</div><div style="margin:4px 0">{badges}</div>',
             '<div style="display:flex;align-items:flex-start">',
             _table("descriptor table (driver writes)", ["i", "addr", "len", "flags", "next"],
                    desc_rows, size - shown),
             _table(f"avail ring (driver writes), flags={snap['avail']['flags']}", ["slot", "head"],
                    avail_rows, size - shown),
             _table(f"used ring (device writes), flags={snap['used']['flags']}", ["slot", "id", "len"],
                    used_rows, size - shown)]
    if qemu:
        keys = ["vring-num", "last-avail-idx", "shadow-avail-idx", "used-idx", "inuse"]
        parts.append(_table("QEMU's view (x-query-virtio-queue-status)", ["field", "value"],
                            [([k, str(qemu[k])], _DRIVER, "") for k in keys if k in qemu], 0))
    parts.append("</div>")
    return "".join(parts)


class RingView:
    """An ipywidgets view of a ring; call ``update(snapshot, qemu=None)`` to redraw."""

    def __init__(self, snap: dict, qemu: dict | None = None, title: str = "", max_entries: int = 16):
        import ipywidgets
        self.title, self.max_entries = title, max_entries
        self.widget = ipywidgets.HTML(rings_html(snap, qemu, max_entries, title))

    def update(self, snap: dict, qemu: dict | None = None) -> None:
        self.widget.value = rings_html(snap, qemu, self.max_entries, self.title)

    def _repr_mimebundle_(self, **kwargs):
        return self.widget._repr_mimebundle_(**kwargs)


def show_rings(snap: dict, qemu: dict | None = None, title: str = "", max_entries: int = 16) -> RingView:
    """A ``RingView`` to display (last expression of a cell) and ``update()`` later."""
    return RingView(snap, qemu, title, max_entries)
