"""A picture of one split virtqueue (virtio 1.x §2.7): desc table, avail ring, used ring.

Display only: it draws a ``Virtqueue.snapshot()`` (plain data) and, if given, QEMU's
``x-query-virtio-queue-status`` beside it.  Two ways to show one:

* ``show_rings(snap, qemu)`` -> ``RingPicture``: *that moment's* picture, static SVG
  (``_repr_svg_``).  A cell that shows one keeps showing that moment, after Run All,
  after saving and reopening, on GitHub: no widget model is needed.
* ``RingView(snap, qemu)`` -> the *live* view: shown once (a display with an id), it is
  redrawn in place by ``update(snap, qemu)`` -- one view that follows the device.  It
  is still a plain SVG display, so a saved notebook shows its last picture.  ``.widget``
  gives an ipywidgets mirror (the HTML table) for dashboards that want one.

The picture: three strips of slots.  Descriptors the *device* owns now (in an in-flight
chain) are orange, free ones grey; avail slots published and not yet returned are
orange; used slots the device returned and the driver has not reaped yet are yellow.
Pointers under the strips: ``free_head`` (desc), ``avail.idx`` (avail: the next slot
the driver fills), ``used.idx`` and ``last_used_idx`` (used: the device's next slot and
the driver's reaping point); QEMU's ``last_avail_idx`` and ``used_idx`` beside ours.
"""

from __future__ import annotations

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



# -- the SVG picture -----------------------------------------------------------------------

_ORANGE, _GREY, _YELLOW, _WHITE = "#ffb870", "#e6e6e6", "#ffe066", "#ffffff"
_INK, _FAINT = "#222222", "#888888"
_POINTER = {"free_head": "#7a3fb0", "avail.idx": "#1f5fbf", "used.idx": "#b85c00",
            "last_used_idx": "#2a8a3a", "QEMU last_avail_idx": "#555555",
            "QEMU used_idx": "#555555"}
_PER_ROW, _BOX_W, _BOX_H, _GAP, _LEFT = 8, 80, 40, 6, 14
_FONT = 'font-family="DejaVu Sans Mono, Menlo, Consolas, monospace"'


def _text(x, y, text, size=11, anchor="start", fill=_INK, weight="normal") -> str:
    return (f'<text x="{x:.0f}" y="{y:.0f}" font-size="{size}" text-anchor="{anchor}" '
            f'fill="{fill}" font-weight="{weight}">{escape(str(text))}</text>')


def _chain_owned(snap: dict) -> set[int]:
    owned = set()
    for head in snap["in_flight"]:
        i, seen = head, 0
        while 0 <= i < snap["size"] and seen < snap["size"]:
            owned.add(i)
            if not snap["desc"][i]["flags"] & 1:
                break
            i, seen = snap["desc"][i]["next"], seen + 1
    return owned


def _strip(out: list, y: float, name: str, kind: str, slots: list, pointers: dict,
           more: int) -> float:
    """One strip: a heading, rows of slots, the pointers under them; returns the next y."""
    out.append(_text(_LEFT, y + 12, name, 12, weight="bold"))
    y += 20
    by_slot: dict[int, list[str]] = {}
    for label, slot in pointers.items():
        if slot is not None:
            by_slot.setdefault(slot, []).append(label)
    rows = (len(slots) + _PER_ROW - 1) // _PER_ROW
    for row in range(rows):
        depth = max((len(by_slot.get(s, [])) for s in
                     range(row * _PER_ROW, min((row + 1) * _PER_ROW, len(slots)))), default=0)
        for col in range(_PER_ROW):
            s = row * _PER_ROW + col
            if s >= len(slots):
                break
            fill, owner, lines = slots[s]
            x = _LEFT + col * (_BOX_W + _GAP)
            out.append(f'<g class="slot {kind}" data-slot="{s}" data-owner="{owner}">'
                       f'<rect x="{x}" y="{y:.0f}" width="{_BOX_W}" height="{_BOX_H}" rx="3" '
                       f'fill="{fill}" stroke="#999"/>'
                       + _text(x + 3, y + 10, s, 9, fill=_FAINT)
                       + "".join(_text(x + _BOX_W / 2 + 4, y + 19 + 13 * k, t, 11, "middle")
                                 for k, t in enumerate(lines[:2]))
                       + "</g>")
            for k, label in enumerate(by_slot.get(s, [])):
                colour = _POINTER.get(label, _INK)
                top = y + _BOX_H + 2 + 13 * k
                if k == 0:
                    cx = x + _BOX_W / 2
                    out.append(f'<path d="M{cx - 5:.0f},{top + 7:.0f} L{cx:.0f},{top:.0f} '
                               f'L{cx + 5:.0f},{top + 7:.0f} Z" fill="{colour}"/>')
                half = len(label) * 3.1 + 2            # 10 px monospace: ~6.2 px a character
                lx = max(x + _BOX_W / 2, half + 2)      # a long label stays inside the picture
                out.append(f'<g class="pointer" data-name="{escape(label)}" data-slot="{s}">'
                           + _text(lx, top + 18, f"{label}", 10, "middle", colour,
                                   "bold") + "</g>")
        y += _BOX_H + 8 + 13 * depth + (10 if depth else 0)
    if more:
        out.append(_text(_LEFT, y + 4, f"… {more} more slots not drawn", 10, fill=_FAINT))
        y += 14
    return y + 6


def rings_svg(snap: dict, qemu: dict | None = None, max_entries: int = 16,
              title: str = "") -> str:
    """SVG of one snapshot (``Virtqueue.snapshot()``); ``qemu``: x-query-virtio-queue-status."""
    size, shown = snap["size"], min(snap["size"], max_entries)
    avail_idx, used_idx = snap["avail"]["idx"], snap["used"]["idx"]
    last_used, free_head = snap["last_used_idx"], snap["free_head"]
    owned = _chain_owned(snap)

    desc = []
    for i, d in enumerate(snap["desc"][:shown]):
        mine = i in owned
        flags = "".join(f for bit, f in ((1, "N"), (2, "W"), (4, "I")) if d["flags"] & bit)
        desc.append((_ORANGE if mine else _GREY, "device" if mine else "driver",
                     [f"len {d['len']}", f"{flags or '-'}" + (f" →{d['next']}" if d["flags"] & 1
                                                               else "")]))
    pending = {(last_used + k) % size for k in range((avail_idx - last_used) & 0xFFFF)}
    avail = [(_ORANGE, "device", [f"head {h}"]) if s in pending else
             (_WHITE, "driver", [f"({h})"]) for s, h in enumerate(snap["avail"]["ring"][:shown])]
    unreaped = {(last_used + k) % size for k in range((used_idx - last_used) & 0xFFFF)}
    used = [(_YELLOW, "to-reap", [f"id {e['id']}", f"len {e['len']}"]) if s in unreaped else
            (_WHITE, "driver", [f"({e['id']})", ""])
            for s, e in enumerate(snap["used"]["ring"][:shown])]

    def at(idx):
        return idx % size if idx % size < shown else None

    avail_ptr = {"avail.idx": at(avail_idx)}
    used_ptr = {"used.idx": at(used_idx), "last_used_idx": at(last_used)}
    if qemu:
        if "last-avail-idx" in qemu:
            avail_ptr["QEMU last_avail_idx"] = at(qemu["last-avail-idx"])
        if "used-idx" in qemu:
            used_ptr["QEMU used_idx"] = at(qemu["used-idx"])

    body: list[str] = []
    y = 8.0
    name = f"queue {snap['index']}" + (f" · {title}" if title else "")
    body.append(_text(_LEFT, y + 14, name, 14, weight="bold"))
    body.append(_text(_LEFT, y + 30, f"size {size} · desc {snap['addresses']['desc']:#x} · "
                      f"avail {snap['addresses']['avail']:#x} · used {snap['addresses']['used']:#x}",
                      11, fill="#555"))
    y += 40
    y = _strip(body, y, "descriptor table (driver writes)", "desc", desc,
               {"free_head": at(free_head) if snap["num_free"] else None}, size - shown)
    y = _strip(body, y, f"avail ring (driver writes) · flags {snap['avail']['flags']}", "avail",
               avail, avail_ptr, size - shown)
    y = _strip(body, y, f"used ring (device writes) · flags {snap['used']['flags']}", "used",
               used, used_ptr, size - shown)

    # the indices, ours and QEMU's, in a panel on the right
    px = _LEFT + _PER_ROW * (_BOX_W + _GAP) + 14
    rows = [("avail.idx", avail_idx, qemu and qemu.get("shadow-avail-idx")),
            ("used.idx", used_idx, qemu and qemu.get("used-idx")),
            ("last_used_idx", last_used, None),
            ("QEMU last_avail_idx", None, qemu and qemu.get("last-avail-idx")),
            ("free_head", free_head, None), ("num_free", snap["num_free"], None),
            ("in flight", len(snap["in_flight"]), qemu and qemu.get("inuse")),
            ("kicks", snap["kicks"], None), ("kicks suppressed", snap["kicks_suppressed"], None)]
    py = 56
    body.append(_text(px, py, "index", 11, weight="bold"))
    body.append(_text(px + 150, py, "ours", 11, "end", weight="bold"))
    if qemu:
        body.append(_text(px + 215, py, "QEMU", 11, "end", weight="bold"))
    for label, ours, theirs in rows:
        if ours is None and (not qemu or theirs is None):
            continue
        py += 16
        body.append(_text(px, py, label, 11, fill=_POINTER.get(label, _INK)))
        body.append(_text(px + 150, py, "" if ours is None else ours, 11, "end"))
        if qemu and theirs is not None and theirs is not False:
            body.append(_text(px + 215, py, theirs, 11, "end"))
    if qemu:
        py += 18
        body.append(_text(px, py, "QEMU: x-query-virtio-queue-status", 9, fill=_FAINT))
    py += 26
    for k, (fill, what) in enumerate(((_ORANGE, "the device owns it"),
                                      (_YELLOW, "returned, not yet reaped"),
                                      (_GREY, "free (the driver's)"),
                                      (_WHITE, "stale: the driver's"))):
        body.append(f'<rect x="{px}" y="{py + 16 * k - 10}" width="14" height="12" '
                    f'fill="{fill}" stroke="#999"/>' + _text(px + 20, py + 16 * k, what, 10))
    width = px + 235
    height = max(y, py + 70) + 4
    return (f'<svg xmlns="http://www.w3.org/2000/svg" class="dos64lab-rings" '
            f'data-size="{size}" data-shown="{shown}" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" {_FONT}>'
            f'<rect width="100%" height="100%" fill="white"/>' + "".join(body) + "</svg>")


class RingPicture:
    """One moment of one queue, as static SVG: what a cell shows stays that moment."""

    def __init__(self, snap: dict, qemu: dict | None = None, title: str = "",
                 max_entries: int = 16):
        self.snap, self.qemu, self.title, self.max_entries = snap, qemu, title, max_entries

    def svg(self) -> str:
        return rings_svg(self.snap, self.qemu, self.max_entries, self.title)

    def html(self) -> str:
        return rings_html(self.snap, self.qemu, self.max_entries, self.title)

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        s = self.snap
        return (f"<RingPicture {self.title or 'queue'} {s['index']}: size {s['size']} "
                f"avail.idx={s['avail']['idx']} used.idx={s['used']['idx']} "
                f"last_used_idx={s['last_used_idx']} free_head={s['free_head']}>")


class RingView:
    """The live view of a ring: displayed once, redrawn in place by ``update()``.

    It is an ordinary display with an id (no widget model), so it follows the device
    while the kernel runs, and a saved notebook keeps its last picture.
    """

    def __init__(self, snap: dict, qemu: dict | None = None, title: str = "",
                 max_entries: int = 16):
        self.title, self.max_entries = title, max_entries
        self.picture = RingPicture(snap, qemu, title, max_entries)
        self._handle = None
        self._widget = None

    @property
    def widget(self):
        """An ipywidgets ``HTML`` mirror of the view (the table form), kept up to date."""
        if self._widget is None:
            import ipywidgets
            self._widget = ipywidgets.HTML(self.picture.html())
        return self._widget

    def update(self, snap: dict, qemu: dict | None = None) -> None:
        """Redraw from a new snapshot (and QEMU's view, if given) wherever it is shown."""
        self.picture = RingPicture(snap, qemu, self.title, self.max_entries)
        if self._widget is not None:
            self._widget.value = self.picture.html()
        if self._handle is not None:
            self._handle.update(self.picture)

    def display(self):
        """Show the live view here (a cell shows it too when it is the last expression)."""
        from IPython.display import display
        if self._handle is None:
            self._handle = display(self.picture, display_id=True)
        else:
            display(self.picture, display_id=self._handle.display_id)
        return self

    def _ipython_display_(self):
        self.display()

    def _repr_svg_(self) -> str:              # outside IPython's display machinery
        return self.picture.svg()

    def __repr__(self) -> str:
        return f"<RingView (live) {self.picture!r}>"


def show_rings(snap: dict, qemu: dict | None = None, title: str = "",
               max_entries: int = 16) -> RingPicture:
    """That moment's picture of a ring, to display (the last expression of a cell)."""
    return RingPicture(snap, qemu, title, max_entries)


def watch_rings(snap: dict, qemu: dict | None = None, title: str = "",
                max_entries: int = 16) -> RingView:
    """A live view, shown at once; ``update(snap, qemu)`` redraws it in place."""
    return RingView(snap, qemu, title, max_entries).display()
