"""TCP's state diagram (RFC 9293 §3.3.2, figure 5) as static SVG, one state lit (display only).

The eleven states as boxes, laid out as the RFC draws them -- CLOSED on top, the two
opens (LISTEN → SYN-RECEIVED, SYN-SENT) below it, ESTABLISHED in the middle, the
active close on the left, the passive close on the right, TIME-WAIT at the bottom --
and every transition of the figure as an arrow labelled ``event / action``.  Like
the RFC, CLOSED is drawn twice (the second box, dashed, is where connections end).

    StateDiagram(State.ESTABLISHED)                 # one state lit
    StateDiagram(conn)                              # a live TcpConnection / TcpSocket: its state now
    StateDiagram(conn, path=[s for _, s in trace.states(conn)])   # and the way it came

``path``: states in the order a connection went through them; the arrows between
consecutive ones (when the figure has such an arrow) and the states on the way are
drawn in blue.  The picture is plain SVG (``_repr_svg_``): it survives saving the
notebook and renders on GitHub.
"""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..socket.tcp import State

__all__ = ["StateDiagram", "state_diagram_svg", "TRANSITIONS", "as_state"]

_W, _H = 860, 790                   # the picture
_BOX_W, _BOX_H = 126, 36
_L, _M, _R = 150, 430, 710          # column centres
_ROWS = (70, 170, 290, 410, 510, 610, 700)
_LIT, _VISITED, _PLAIN = "#ffd166", "#e3edfb", "#f7f7f7"
_PATH, _EDGE = "#1f5fbf", "#8a8a8a"

#: where each state's box is (centre x, centre y); "CLOSED*" is the second CLOSED box
_BOXES = {
    "CLOSED": (_M, _ROWS[0]), "LISTEN": (_M, _ROWS[1]),
    "SYN-RECEIVED": (_L, _ROWS[2]), "SYN-SENT": (_R, _ROWS[2]),
    "ESTABLISHED": (_M, _ROWS[3]),
    "FIN-WAIT-1": (_L, _ROWS[4]), "CLOSE-WAIT": (_R, _ROWS[4]),
    "FIN-WAIT-2": (_L, _ROWS[5]), "CLOSING": (_M, _ROWS[5]), "LAST-ACK": (_R, _ROWS[5]),
    "TIME-WAIT": (_M, _ROWS[6]), "CLOSED*": (_R, _ROWS[6]),
}


@dataclass(frozen=True)
class Transition:
    src: str                        # a state's value ("SYN-SENT"); "CLOSED*" for the lower box
    dst: str
    label: str                      # "event / action", as the RFC's figure says it
    points: tuple                   # the arrow's polyline
    at: tuple                       # where its label goes: (x, y, text-anchor)
    extra: bool = False             # not in the RFC's figure (its text has it): dashed


def _top(s):
    x, y = _BOXES[s]
    return y - _BOX_H / 2


def _bottom(s):
    x, y = _BOXES[s]
    return y + _BOX_H / 2


_HW = _BOX_W / 2
_r = _ROWS

#: RFC 9293 figure 5, arrow by arrow
TRANSITIONS: tuple[Transition, ...] = (
    Transition("CLOSED", "LISTEN", "passive OPEN / create TCB",
               ((_M - 30, _bottom("CLOSED")), (_M - 30, _top("LISTEN"))),
               (_M - 36, (_r[0] + _r[1]) / 2 + 4, "end")),
    Transition("LISTEN", "CLOSED", "CLOSE / delete TCB",
               ((_M + 30, _top("LISTEN")), (_M + 30, _bottom("CLOSED"))),
               (_M + 36, (_r[0] + _r[1]) / 2 + 4, "start")),
    Transition("CLOSED", "SYN-SENT", "active OPEN / snd SYN",
               ((_M + _HW, _r[0] - 8), (_R + 30, _r[0] - 8), (_R + 30, _top("SYN-SENT"))),
               ((_M + _R) / 2 + 40, _r[0] - 14, "middle")),
    Transition("SYN-SENT", "CLOSED", "CLOSE / delete TCB",
               ((_R - 10, _top("SYN-SENT")), (_R - 10, _r[0] + 8), (_M + _HW, _r[0] + 8)),
               ((_M + _R) / 2 + 10, _r[0] + 24, "middle")),
    Transition("LISTEN", "SYN-RECEIVED", "rcv SYN / snd SYN,ACK",
               ((_M - _HW, _r[1] + 8), (_L + 30, _r[1] + 8), (_L + 30, _top("SYN-RECEIVED"))),
               ((_L + _M) / 2, _r[1] + 24, "middle")),
    Transition("SYN-RECEIVED", "LISTEN", "rcv RST",
               ((_L - 10, _top("SYN-RECEIVED")), (_L - 10, _r[1] - 8), (_M - _HW, _r[1] - 8)),
               ((_L + _M) / 2 + 10, _r[1] - 14, "middle")),
    Transition("LISTEN", "SYN-SENT", "SEND / snd SYN",
               ((_M + _HW, _r[1] + 8), (_R - 40, _r[1] + 8), (_R - 40, _top("SYN-SENT"))),
               ((_M + _R) / 2 - 10, _r[1] + 24, "middle")),
    Transition("SYN-SENT", "SYN-RECEIVED", "rcv SYN / snd SYN,ACK (simultaneous open)",
               ((_R - _HW, _r[2]), (_L + _HW, _r[2])),
               (_M, _r[2] - 6, "middle")),
    Transition("SYN-RECEIVED", "ESTABLISHED", "rcv ACK of SYN",
               ((_L + 40, _bottom("SYN-RECEIVED")), (_L + 40, _r[3]), (_M - _HW, _r[3])),
               (_L + 46, (_r[2] + _r[3]) / 2 + 4, "start")),
    Transition("SYN-SENT", "ESTABLISHED", "rcv SYN,ACK / snd ACK",
               ((_R - 40, _bottom("SYN-SENT")), (_R - 40, _r[3]), (_M + _HW, _r[3])),
               (_R - 46, (_r[2] + _r[3]) / 2 + 4, "end")),
    Transition("SYN-RECEIVED", "FIN-WAIT-1", "CLOSE / snd FIN",
               ((_L - 30, _bottom("SYN-RECEIVED")), (_L - 30, _top("FIN-WAIT-1"))),
               (_L - 36, (_r[2] + _r[4]) / 2 + 4, "end")),
    Transition("ESTABLISHED", "FIN-WAIT-1", "CLOSE / snd FIN",
               ((_M - 30, _bottom("ESTABLISHED")), (_M - 30, _r[4] - 8), (_L + _HW, _r[4] - 8)),
               ((_L + _M) / 2 + 10, _r[4] - 14, "middle")),
    Transition("ESTABLISHED", "CLOSE-WAIT", "rcv FIN / snd ACK",
               ((_M + 30, _bottom("ESTABLISHED")), (_M + 30, _r[4] - 8), (_R - _HW, _r[4] - 8)),
               ((_M + _R) / 2 - 10, _r[4] - 14, "middle")),
    Transition("FIN-WAIT-1", "FIN-WAIT-2", "rcv ACK of FIN",
               ((_L, _bottom("FIN-WAIT-1")), (_L, _top("FIN-WAIT-2"))),
               (_L - 6, (_r[4] + _r[5]) / 2 + 4, "end")),
    Transition("FIN-WAIT-1", "CLOSING", "rcv FIN / snd ACK",
               ((_L + _HW, _r[4] + 10), (_M, _r[4] + 10), (_M, _top("CLOSING"))),
               ((_L + _M) / 2 + 10, _r[4] + 26, "middle")),
    Transition("CLOSE-WAIT", "LAST-ACK", "CLOSE / snd FIN",
               ((_R, _bottom("CLOSE-WAIT")), (_R, _top("LAST-ACK"))),
               (_R + 6, (_r[4] + _r[5]) / 2 + 4, "start")),
    Transition("FIN-WAIT-2", "TIME-WAIT", "rcv FIN / snd ACK",
               ((_L, _bottom("FIN-WAIT-2")), (_L, _r[6]), (_M - _HW, _r[6])),
               ((_L + _M) / 2 - 10, _r[6] + 16, "middle")),
    Transition("FIN-WAIT-1", "TIME-WAIT", "rcv FIN,ACK / snd ACK",
               ((_L + 50, _bottom("FIN-WAIT-1")), (_L + 50, _r[4] + 40), (_L + 90, _r[4] + 40),
                (_L + 90, _r[6] - 10), (_M - _HW, _r[6] - 10)),
               (_L + 96, (_r[5] + _r[6]) / 2 + 8, "start"), extra=True),
    Transition("CLOSING", "TIME-WAIT", "rcv ACK of FIN",
               ((_M, _bottom("CLOSING")), (_M, _top("TIME-WAIT"))),
               (_M + 6, (_r[5] + _r[6]) / 2 + 4, "start")),
    Transition("LAST-ACK", "CLOSED*", "rcv ACK of FIN",
               ((_R, _bottom("LAST-ACK")), (_R, _top("CLOSED*"))),
               (_R + 6, (_r[5] + _r[6]) / 2 + 4, "start")),
    Transition("TIME-WAIT", "CLOSED*", "timeout = 2 MSL",
               ((_M + _HW, _r[6]), (_R - _HW, _r[6])),
               ((_M + _R) / 2, _r[6] - 6, "middle")),
)


def as_state(value) -> State | None:
    """A ``State`` from a State, its name or value (``"SYN_SENT"``, ``"SYN-SENT"``), a
    ``describe()``/``info()`` dict, a ``TcpSocket``/``TcpListener`` or a ``TcpConnection``."""
    if value is None or isinstance(value, State):
        return value
    if isinstance(value, dict):
        return as_state(value.get("state"))
    if isinstance(value, str):
        text = value.strip().upper().replace("_", "-")
        for s in State:
            if s.value == text:
                return s
        raise ValueError(f"{value!r} is not a TCP state: one of "
                         + ", ".join(s.value for s in State))
    inner = getattr(value, "socket", value)             # a TcpConnection -> its TcpSocket
    if hasattr(inner, "state"):
        return as_state(inner.state)
    raise TypeError(f"no TCP state in {type(value).__name__}")


class StateDiagram:
    """The RFC 9293 state diagram with ``state`` lit (None: nothing lit).

    ``state``: a ``State``, its name, or anything with one (``as_state``).  ``path``: the
    states a connection went through, in order (repeats allowed): those states and the
    arrows between consecutive ones are drawn in blue.  ``scale`` shrinks the picture.
    """

    def __init__(self, state=None, *, path=(), title: str | None = None, scale: float = 1.0):
        self.state = as_state(state)
        self.path = [as_state(s) for s in path]
        if self.state is None and self.path:
            self.state = self.path[-1]
        self.title = title
        self.scale = scale
        self.taken: list[Transition] = []           # arrows of the figure the path took
        self.missing: list[tuple[State, State]] = []  # steps the figure has no arrow for
        keys = []                                   # the box of each state on the path
        for i, s in enumerate(self.path):
            if i == 0 or s == self.path[i - 1]:
                keys.append(keys[-1] if i else s.value)
                continue
            a = self.path[i - 1]
            t = next((t for t in TRANSITIONS if t.src == keys[-1] and t.dst.rstrip("*") == s.value),
                     None)
            if t is not None:
                self.taken.append(t)
                keys.append(t.dst)
            else:
                self.missing.append((a, s))
                keys.append("CLOSED*" if s == State.CLOSED else s.value)
        self._visited = set(keys)
        if self.state is None:
            self._lit = None
        elif keys and self.path[-1] == self.state:
            self._lit = keys[-1]
        else:
            self._lit = self.state.value

    @property
    def states(self) -> list[str]:
        """The states drawn (each once, whatever the boxes)."""
        return [s.value for s in State]

    def svg(self) -> str:
        w, h = round(_W * self.scale), round(_H * self.scale)
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
               f'viewBox="0 0 {_W} {_H}" font-family="sans-serif" font-size="11">',
               '<defs>'
               f'<marker id="tcp-head" markerWidth="8" markerHeight="8" refX="8" refY="4" '
               f'orient="auto" markerUnits="userSpaceOnUse"><path d="M0,0 L8,4 L0,8 z" fill="{_EDGE}"/></marker>'
               f'<marker id="tcp-head-path" markerWidth="8" markerHeight="8" refX="8" refY="4" '
               f'orient="auto" markerUnits="userSpaceOnUse"><path d="M0,0 L8,4 L0,8 z" fill="{_PATH}"/></marker>'
               '</defs>',
               f'<rect width="{_W}" height="{_H}" fill="white"/>']
        title = self.title or ("TCP connection states (RFC 9293 §3.3.2)" + (
            f": {self.state.value}" if self.state else ""))
        out.append(f'<text x="10" y="22" font-size="15" font-weight="bold">{escape(title)}</text>')
        taken = set(self.taken)
        for t in TRANSITIONS:                           # plain arrows first, the path on top
            if t not in taken:
                out += _transition(t, False)
        for t in TRANSITIONS:
            if t in taken:
                out += _transition(t, True)
        for key, (x, y) in _BOXES.items():
            out += _box(key, key.rstrip("*"), x, y, key == self._lit, key in self._visited)
        legend = [(_LIT, "the state now"), (_VISITED, "states on the way"),
                  (_PATH, "transitions taken")]
        x = 10
        for color, text in legend:
            if color == _PATH:
                out.append(f'<line x1="{x}" y1="{_H - 16}" x2="{x + 18}" y2="{_H - 16}" '
                           f'stroke="{_PATH}" stroke-width="3"/>')
            else:
                out.append(f'<rect x="{x}" y="{_H - 23}" width="18" height="14" rx="3" '
                           f'fill="{color}" stroke="#36c"/>')
            out.append(f'<text x="{x + 24}" y="{_H - 12}">{text}</text>')
            x += 24 + len(text) * 6.3 + 24
        out.append(f'<text x="{_W - 10}" y="{_H - 12}" text-anchor="end" fill="#666">'
                   'arrows: event / action; CLOSED is drawn twice, as in the RFC</text>')
        if self.missing:
            steps = ", ".join(f"{a.value} → {b.value}" for a, b in self.missing)
            out.append(f'<text x="10" y="{_H - 34}" fill="{_PATH}">also on the way, not in the '
                       f'figure: {escape(steps)} (an RST, or ABORT)</text>')
        return "\n".join(out + ["</svg>"])

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        path = " → ".join(s.value for s in self.path)
        return (f"<StateDiagram: {self.state.value if self.state else 'nothing'} lit"
                + (f"; path {path}" if path else "") + ">")


def state_diagram_svg(state=None, **kwargs) -> str:
    """``StateDiagram(state, **kwargs).svg()``."""
    return StateDiagram(state, **kwargs).svg()


def _box(key: str, name: str, x: float, y: float, lit: bool, visited: bool) -> list[str]:
    fill = _LIT if lit else _VISITED if visited else _PLAIN
    copy = key.endswith("*")
    classes = "state" + (" lit" if lit else "") + (" visited" if visited and not lit else "")
    dash = ' stroke-dasharray="5 3"' if copy else ""
    width = 3 if lit else 1.5 if visited else 1
    extra = ' data-copy="yes"' if copy else ""
    return [f'<g class="{classes}" data-state="{name}"{extra}>',
            f'<rect x="{x - _BOX_W / 2}" y="{y - _BOX_H / 2}" width="{_BOX_W}" height="{_BOX_H}" '
            f'rx="5" fill="{fill}" stroke="{"#b07800" if lit else "#36c"}" '
            f'stroke-width="{width}"{dash}/>',
            f'<text x="{x}" y="{y + 4}" text-anchor="middle" font-size="12" '
            f'font-weight="bold">{name}</text>',
            '</g>']


def _transition(t: Transition, taken: bool) -> list[str]:
    points = " ".join(f"{x},{y}" for x, y in t.points)
    color = _PATH if taken else _EDGE
    head = "tcp-head-path" if taken else "tcp-head"
    x, y, anchor = t.at
    dash = ' stroke-dasharray="5 3"' if t.extra else ""
    return [f'<g class="transition{" taken" if taken else ""}" data-from="{t.src.rstrip("*")}" '
            f'data-to="{t.dst.rstrip("*")}">',
            f'<polyline points="{points}" fill="none" stroke="{color}" '
            f'stroke-width="{2.5 if taken else 1.2}"{dash} marker-end="url(#{head})"/>',
            f'<text x="{x}" y="{y}" text-anchor="{anchor}" fill="white" stroke="white" '
            f'stroke-width="3" aria-hidden="true">{escape(t.label)}</text>',
            f'<text x="{x}" y="{y}" text-anchor="{anchor}" fill="{color if taken else "#444"}">'
            f'{escape(t.label)}</text>',
            '</g>']
