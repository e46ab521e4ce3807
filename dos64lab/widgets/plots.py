"""Small static SVG plots of a live stack over time (display only): TCP's counters, poll wake-ups.

* ``LinePlot``: panels of lines over a shared time axis (no matplotlib: plain SVG that
  survives saving the notebook and renders on GitHub);
* ``TcpTrace.record(net)``: while the block runs, the state of every TCP socket of a live
  ``Stack`` after each frame it takes in, and its counters (``describe()``: cwnd, SRTT,
  RTO, retransmits ...) after each poll round; ``trace.plot(conn)`` draws cwnd, SRTT and
  the losses over time, ``trace.path(conn)`` gives the states for ``StateDiagram``;
* ``PollTimeline.record(net)``: every poll round (busy or idle), how long the stack slept
  before the next one and what ``poll_at`` said -- the wake-ups of chapter 08.

Recording does not change what the stack does: it wraps the interface's ``poll`` and
``poll_at`` *on this one instance*, under the stack's lock, reads sockets while the
round holds that lock, and puts the methods back when the block ends.  Recorders may
be nested (the inner one ends first).
"""

from __future__ import annotations

import math
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from html import escape

from ..phy.device import DeviceWrapper

__all__ = ["LinePlot", "Panel", "Series", "TcpTrace", "PollTimeline", "tcp_plot"]

_BLUE, _GREEN, _ORANGE, _RED, _GREY = "#1f5fbf", "#2a8a3a", "#d08a00", "#c0392b", "#8a8a8a"
_LEFT, _RIGHT, _GAP, _CHAR_W = 78, 150, 34, 6.3


# -- the plot --------------------------------------------------------------------------------

@dataclass
class Series:
    name: str
    points: list                    # (x, y) pairs, x ascending; y None: a gap in the line
    color: str = _BLUE
    step: bool = False              # each value holds until the next point (counters)
    dash: bool = False
    dots: bool = False              # points, no line
    bars: bool = False              # a thin vertical bar from the axis to each point


@dataclass
class Panel:
    title: str
    series: list
    unit: str = ""
    log: bool = False               # a log y axis (values <= 0 are left out)
    height: int = 130
    ymin: float | None = 0.0        # None: from the data
    lines: list = field(default_factory=list)   # horizontal guides: (y, label)
    ticks: bool = True              # numbers on the y axis


class LinePlot:
    """Panels stacked over one time axis.  ``marks``: ``(x, label)`` drawn across all panels."""

    def __init__(self, panels, *, title: str | None = None, xlabel: str = "seconds",
                 width: int = 760, marks=(), xmin: float | None = None,
                 xmax: float | None = None):
        self.panels, self.title, self.xlabel = list(panels), title, xlabel
        self.width, self.marks = width, list(marks)
        xs = [x for p in self.panels for s in p.series for x, _ in s.points]
        xs += [x for x, _ in self.marks]
        self.x0 = min(xs, default=0.0) if xmin is None else xmin
        self.x1 = max(xs, default=1.0) if xmax is None else xmax
        if self.x1 <= self.x0:
            self.x1 = self.x0 + 1.0

    def svg(self) -> str:
        plot_w = self.width - _LEFT - _RIGHT
        top = 34 if self.title else 12
        marks_at = top + 8                          # the marks' labels: a row of their own
        top += 16 if self.marks else 0
        height = top + sum(p.height + _GAP for p in self.panels) + 30
        out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{self.width}" height="{height}" '
               f'viewBox="0 0 {self.width} {height}" font-family="sans-serif" font-size="11">',
               f'<rect width="{self.width}" height="{height}" fill="white"/>']
        if self.title:
            out.append(f'<text x="8" y="20" font-size="14" font-weight="bold">'
                       f'{_xml(self.title)}</text>')
        sx = _scale(self.x0, self.x1, _LEFT, _LEFT + plot_w)
        y = top
        for panel in self.panels:
            out += self._panel(panel, y + 16, sx, plot_w)
            y += panel.height + _GAP
        bottom = y - _GAP + 16
        for x, _ in _ticks(self.x0, self.x1, 8):
            if x > self.x1 + 1e-9:
                continue
            out.append(f'<text x="{sx(x):.1f}" y="{bottom + 14}" text-anchor="middle" '
                       f'fill="#444">{_num(x)}</text>')
        out.append(f'<text x="{_LEFT + plot_w / 2}" y="{bottom + 28}" text-anchor="middle" '
                   f'fill="#444">{_xml(self.xlabel)}</text>')
        for x, label in self.marks:
            px = sx(x)
            out.append(f'<line x1="{px:.1f}" y1="{marks_at + 3}" x2="{px:.1f}" y2="{bottom}" '
                       'stroke="#b07800" stroke-dasharray="3 3"/>')
            out.append(f'<text x="{px + 3:.1f}" y="{marks_at}" fill="#b07800">'
                       f'{_xml(label)}</text>')
        return "\n".join(out + ["</svg>"])

    def _panel(self, panel: Panel, top: float, sx, plot_w: int) -> list[str]:
        h = panel.height - 16
        ys = [v for s in panel.series for _, v in s.points if v is not None]
        ys += [v for v, _ in panel.lines]
        if panel.log:
            ys = [v for v in ys if v > 0] or [1.0]
            lo = 10 ** math.floor(math.log10(min(ys)))
            hi = 10 ** math.ceil(math.log10(max(ys)))
            if hi <= lo:
                hi = lo * 10
            sy = _log_scale(lo, hi, top + h, top)
            ticks = [(10 ** k, _num(10 ** k)) for k in range(round(math.log10(lo)),
                                                              round(math.log10(hi)) + 1)]
        else:
            lo = min(ys, default=0.0) if panel.ymin is None else min(panel.ymin, *ys) if ys else panel.ymin
            hi = max(ys, default=1.0)
            if hi <= lo:
                hi = lo + 1.0
            ticks = _ticks(lo, hi, 4)
            hi = max(hi, ticks[-1][0])
            sy = _scale(lo, hi, top + h, top)
        out = [f'<text x="{_LEFT}" y="{top - 5}" font-weight="bold">{_xml(panel.title)}'
               + (f' <tspan fill="#666" font-weight="normal">({_xml(panel.unit)})</tspan>'
                  if panel.unit else "") + '</text>',
               f'<rect x="{_LEFT}" y="{top}" width="{plot_w}" height="{h}" fill="#fbfbfb" '
               'stroke="#ccc"/>']
        for v, text in ticks if panel.ticks else ():
            py = sy(v)
            out.append(f'<line x1="{_LEFT}" y1="{py:.1f}" x2="{_LEFT + plot_w}" y2="{py:.1f}" '
                       'stroke="#e6e6e6"/>')
            out.append(f'<text x="{_LEFT - 5}" y="{py + 4:.1f}" text-anchor="end" '
                       f'fill="#444">{text}</text>')
        for v, label in panel.lines:
            if panel.log and v <= 0:
                continue
            py = sy(v)
            out.append(f'<line x1="{_LEFT}" y1="{py:.1f}" x2="{_LEFT + plot_w}" y2="{py:.1f}" '
                       'stroke="#b07800" stroke-dasharray="2 3"/>')
            out.append(f'<text x="{_LEFT + plot_w - 4}" y="{py - 3:.1f}" text-anchor="end" '
                       f'fill="#b07800">{_xml(label)}</text>')
        for i, s in enumerate(panel.series):
            out += _series(s, sx, sy, plot_w, panel.log)
            ly = top + 12 + i * 15
            out.append(_legend_line(_LEFT + plot_w + 10, ly - 4, s))
            out.append(f'<text x="{_LEFT + plot_w + 32}" y="{ly}">{_xml(s.name)}</text>')
        return out

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        names = ", ".join(p.title for p in self.panels)
        return f"<LinePlot: {len(self.panels)} panels ({names}), x {self.x0:g}..{self.x1:g}>"


def _legend_line(x: float, y: float, s: Series) -> str:
    dash = ' stroke-dasharray="4 3"' if s.dash else ""
    return (f'<line x1="{x}" y1="{y}" x2="{x + 18}" y2="{y}" stroke="{s.color}" '
            f'stroke-width="{4 if s.dots or s.bars else 2}"{dash}/>')


def _series(s: Series, sx, sy, plot_w: int, log: bool) -> list[str]:
    """One series, thinned to at most ~4 points per pixel column (first, min, max, last)."""
    points = [(x, y) for x, y in s.points if y is not None and (not log or y > 0)]
    if not points:
        return []
    if len(points) > 2 * plot_w:
        points = _thin(points, sx)
    if s.bars:
        base = sy(0.0) if not log else sy(1e-300)
        return [f'<g stroke="{s.color}" stroke-width="1">'] + [
            f'<line x1="{sx(x):.1f}" y1="{base:.1f}" x2="{sx(x):.1f}" y2="{sy(y):.1f}"/>'
            for x, y in points] + ["</g>"]
    if s.dots:
        return [f'<g fill="{s.color}">'] + [
            f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="1.6"/>' for x, y in points] + ["</g>"]
    coords, last = [], None
    for x, y in points:
        if s.step and last is not None:
            coords.append(f"{sx(x):.1f},{sy(last):.1f}")
        coords.append(f"{sx(x):.1f},{sy(y):.1f}")
        last = y
    dash = ' stroke-dasharray="5 3"' if s.dash else ""
    return [f'<polyline points="{" ".join(coords)}" fill="none" stroke="{s.color}" '
            f'stroke-width="1.6"{dash}/>']


def _thin(points, sx):
    columns: dict[int, list] = {}
    for x, y in points:
        columns.setdefault(int(sx(x)), []).append((x, y))
    out = []
    for col in sorted(columns):
        pts = columns[col]
        keep = {0, len(pts) - 1, min(range(len(pts)), key=lambda i: pts[i][1]),
                max(range(len(pts)), key=lambda i: pts[i][1])}
        out += [pts[i] for i in sorted(keep)]
    return out


def _scale(v0: float, v1: float, p0: float, p1: float):
    span = (v1 - v0) or 1.0
    return lambda v: p0 + (v - v0) * (p1 - p0) / span


def _log_scale(v0: float, v1: float, p0: float, p1: float):
    a, b = math.log10(v0), math.log10(v1)
    return lambda v: p0 + (math.log10(max(v, v0)) - a) * (p1 - p0) / ((b - a) or 1.0)


def _ticks(lo: float, hi: float, n: int) -> list[tuple[float, str]]:
    """About ``n`` round values from ``lo`` up to at least ``hi``: 1, 2 or 5 times 10^k apart."""
    span = hi - lo
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    out, v = [], start
    while v < hi + step * 0.5 and len(out) < 50:
        if v >= lo - step * 1e-9:
            out.append((v, _num(v)))
        v = round(v + step, 12)
    return out or [(lo, _num(lo))]


def _num(v: float) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e6 and v == int(v):
        return f"{v / 1e6:g}M"
    if abs(v) >= 1e4 and v == int(v):
        return f"{v / 1e3:g}k"
    return f"{v:.6g}" if abs(v) >= 0.001 else f"{v:.1e}"


def _xml(text) -> str:
    return escape("".join(ch if ch >= " " else " " for ch in str(text)), quote=True)


# -- watching a live stack -----------------------------------------------------------------------

class _FrameWatch(DeviceWrapper):
    """Calls ``before_receive()`` each time the interface asks for a frame: by then it has
    finished with the previous one.  Everything else (``send_batch`` ...) passes through."""

    def __init__(self, inner, before_receive):
        super().__init__(inner)
        self._before = before_receive

    def receive(self):
        self._before()
        return self.inner.receive()

    def __getattr__(self, name):
        return getattr(self.inner, name)


_UNSET = object()


@contextmanager
def _hooked(net, *, before_receive=None, after_round=None, after_poll_at=None):
    """Wrap ``net.iface.poll`` (and ``poll_at``) on this instance while the block runs."""
    iface = net.iface
    saved = {name: iface.__dict__.get(name, _UNSET) for name in ("poll", "poll_at")}
    inner_poll, inner_poll_at = iface.poll, iface.poll_at

    def poll(now, device, sockets):
        started = time.perf_counter()
        did = inner_poll(now, _FrameWatch(device, before_receive) if before_receive else device,
                         sockets)
        if after_round:
            after_round(now, did, time.perf_counter() - started, sockets)
        return did

    def poll_at(now, sockets):
        due = inner_poll_at(now, sockets)
        after_poll_at(now, due)
        return due

    with net.lock:
        iface.poll = poll
        if after_poll_at:
            iface.poll_at = poll_at
    try:
        yield
    finally:
        with net.lock:
            for name, value in saved.items():
                if value is _UNSET:
                    iface.__dict__.pop(name, None)
                else:
                    setattr(iface, name, value)


def _tcp_sockets(sockets):
    """Every TCP socket of a socket set: connections, listeners, and the connections a
    listener holds that nobody has accepted yet."""
    from ..socket.tcp import TcpListener, TcpSocket
    for s in sockets:
        if isinstance(s, TcpSocket):
            yield s
        elif isinstance(s, TcpListener):
            yield s
            yield from list(s.children.values())
            yield from list(s.queue)


def _socket_of(conn):
    """The TcpSocket of a TcpConnection (or the socket itself)."""
    return getattr(conn, "socket", conn)


class TcpTrace:
    """What the TCP sockets of a live stack did while ``record`` ran.

        with TcpTrace.record(net) as trace:     # or trace = TcpTrace.start(net) ... trace.stop()
            conn = net.connect("10.0.2.2", port)
            ...
        trace.path(conn)        # [CLOSED, SYN-SENT, ESTABLISHED, ...]
        trace.plot(conn)        # cwnd, SRTT, retransmits over time

    Times are seconds since ``record`` began, on the stack's clock.  States are noted
    after every frame the interface takes in and after every round; counters
    (``describe()``) after every round in which something happened.
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.t0 = clock()
        self.events: dict = {}          # socket -> [(t, State)], one per change
        self.info: dict = {}            # socket -> [(t, describe())]
        self.marks: list = []           # (t, label)

    @classmethod
    def start(cls, net) -> "TcpTrace":
        """Begin recording (``stop()`` ends it); ``record`` does both around a block."""
        trace = cls(net.clock)
        trace._net = net

        def note_states():
            t = trace.clock() - trace.t0
            for s in _tcp_sockets(net.sockets):
                trace._note(s, t)

        def after_round(now, did, _duration, sockets):
            t = now - trace.t0
            for s in _tcp_sockets(sockets):
                trace._note(s, t)
                if did and getattr(s, "snd", None) is not None:
                    trace.info.setdefault(s, []).append((t, s.describe()))

        with net.lock:
            note_states()
        trace._hook = _hooked(net, before_receive=note_states, after_round=after_round)
        trace._hook.__enter__()
        trace._note_states = note_states
        return trace

    def stop(self) -> "TcpTrace":
        """End recording (idempotent); the stack's interface is as it was."""
        hook, self._hook = getattr(self, "_hook", None), None
        if hook is not None:
            hook.__exit__(None, None, None)
            with self._net.lock:
                self._note_states()
        return self

    @classmethod
    @contextmanager
    def record(cls, net):
        trace = cls.start(net)
        try:
            yield trace
        finally:
            trace.stop()

    def _note(self, s, t: float) -> None:
        seen = self.events.setdefault(s, [])
        if not seen or seen[-1][1] != s.state:
            seen.append((t, s.state))

    def mark(self, label: str) -> None:
        """A labelled moment, drawn across the plot (``"loss on"``)."""
        self.marks.append((self.clock() - self.t0, label))

    # -- what happened to one connection ------------------------------------------------
    @property
    def sockets(self) -> list:
        """Every TCP socket seen, in the order first seen."""
        return list(self.events)

    def states(self, conn) -> list:
        """``[(t, State)]``: the states ``conn`` (a TcpConnection or TcpSocket) was seen in."""
        return list(self.events.get(_socket_of(conn), []))

    def path(self, conn) -> list:
        """The states in order, from where the connection began: CLOSED before an active
        open (SYN-SENT), LISTEN before a connection a listener made (SYN-RECEIVED)."""
        from ..socket.tcp import State
        states = [s for _, s in self.states(conn)]
        if states and states[0] == State.SYN_SENT:
            states.insert(0, State.CLOSED)
        elif states and states[0] == State.SYN_RECEIVED:
            states.insert(0, State.LISTEN)
        return states

    def text(self, conn) -> str:
        """The state changes as lines: ``  12.3 ms  ESTABLISHED``."""
        return "\n".join(f"{t * 1000:9.1f} ms  {s.value}" for t, s in self.states(conn))

    def samples(self, conn) -> list:
        """``[(t, describe())]`` of ``conn`` after each busy round."""
        return list(self.info.get(_socket_of(conn), []))

    def diagram(self, conn, **kwargs):
        """``StateDiagram`` of ``conn``: its state now lit, the way it came drawn."""
        from .tcp_states import StateDiagram
        return StateDiagram(_socket_of(conn).state, path=self.path(conn), **kwargs)

    def plot(self, conn, title: str | None = None) -> LinePlot:
        """cwnd, SRTT and the losses of ``conn`` over time (``tcp_plot``)."""
        return tcp_plot(self.samples(conn), title=title, marks=self.marks)


def tcp_plot(samples, *, title: str | None = None, marks=()) -> LinePlot:
    """Three panels from ``[(t, info)]`` (``TcpConnection.info()`` / ``describe()`` dicts):
    the congestion window (with ssthresh and the peer's window), SRTT and RTO, and the
    counters of segments sent again (retransmits, fast retransmits, timeouts)."""
    samples = [(t, info) for t, info in samples
                if info.get("state") not in ("SYN-SENT", "SYN-RECEIVED", "CLOSED")]

    def series(key, scale=1.0, limit=None):
        out = []
        for t, info in samples:
            v = info.get(key)
            out.append((t, None if v is None or (limit is not None and v >= limit)
                        else v / scale))
        return out

    panels = [
        Panel("congestion window", [
            Series("cwnd", series("cwnd", 1024), _BLUE),
            Series("ssthresh", series("ssthresh", 1024, limit=1 << 30), _ORANGE, step=True,
                   dash=True),
            Series("peer's window", series("snd_wnd", 1024), _GREY, step=True, dash=True)],
            unit="KiB"),
        Panel("round-trip time", [
            Series("SRTT", series("srtt_ms"), _GREEN),
            Series("RTO", series("rto_ms"), _RED, step=True, dash=True)],
            unit="ms", log=True),
        Panel("sent again", [
            Series("retransmits", series("retransmits"), _BLUE, step=True),
            Series("fast retransmits", series("fast_retransmits"), _ORANGE, step=True),
            Series("timeouts", series("timeouts"), _RED, step=True)],
            unit="segments, so far"),
    ]
    return LinePlot(panels, title=title, marks=marks, xmin=0.0)


class PollTimeline:
    """Every poll round of a live stack while ``record`` ran: when it began (the stack's
    clock, seconds since the start), whether it did anything (busy) or not (idle), how long
    it took, and what ``poll_at`` said after it.

        with PollTimeline.record(net) as timeline:      # or PollTimeline.start(net) ... .stop()
            ...                                 # traffic, or nothing
        timeline                                # the picture
        timeline.summary()
    """

    def __init__(self, clock=time.monotonic):
        self.clock = clock
        self.t0 = clock()
        self.rounds: list = []          # (t, busy, duration in seconds)
        self.dues: list = []            # (t, seconds until poll_at's deadline, or None)
        self.marks: list = []           # (t, label)
        self.end: float | None = None

    @classmethod
    def start(cls, net) -> "PollTimeline":
        """Begin recording (``stop()`` ends it); ``record`` does both around a block."""
        timeline = cls(net.clock)

        def after_round(now, did, duration, _sockets):
            timeline.rounds.append((now - timeline.t0, bool(did), duration))

        def after_poll_at(now, due):
            timeline.dues.append((now - timeline.t0, None if due is None else due - now))

        timeline._hook = _hooked(net, after_round=after_round, after_poll_at=after_poll_at)
        timeline._hook.__enter__()
        return timeline

    def stop(self) -> "PollTimeline":
        """End recording (idempotent); the stack's interface is as it was."""
        hook, self._hook = getattr(self, "_hook", None), None
        if hook is not None:
            hook.__exit__(None, None, None)
            self.end = self.clock() - self.t0
        return self

    @classmethod
    @contextmanager
    def record(cls, net):
        timeline = cls.start(net)
        try:
            yield timeline
        finally:
            timeline.stop()

    def mark(self, label: str) -> None:
        """A labelled moment (``"20 connections send"``), drawn across the timeline."""
        self.marks.append((self.clock() - self.t0, label))

    def gaps(self) -> list:
        """``(t, busy, seconds until the next round began)`` for every round but the last."""
        return [(t, busy, nxt - t) for (t, busy, _), (nxt, _, _) in zip(self.rounds, self.rounds[1:])]

    def summary(self) -> dict:
        busy = sum(1 for _, b, _ in self.rounds if b)
        idle_gaps = sorted(g for _, b, g in self.gaps() if not b)
        span = self.end if self.end is not None else self.clock() - self.t0
        return {"seconds": round(span, 3), "rounds": len(self.rounds), "busy": busy,
                "idle": len(self.rounds) - busy,
                "rounds_per_second": round(len(self.rounds) / span, 1) if span > 0 else None,
                "longest_sleep_ms": round(idle_gaps[-1] * 1000, 2) if idle_gaps else None,
                "median_idle_sleep_ms": (round(idle_gaps[len(idle_gaps) // 2] * 1000, 2)
                                         if idle_gaps else None),
                "busy_time_ms": round(sum(d for _, _, d in self.rounds) * 1000, 1)}

    def plot(self, title: str | None = None, min_idle: float | None = None,
             max_idle: float | None = None) -> LinePlot:
        """Two panels: the rounds (busy high, idle low), and the sleep after each (log ms)
        beside what ``poll_at`` said after it (deadlines further than 2 s left out)."""
        if min_idle is None or max_idle is None:
            from .. import stack
            min_idle = stack.MIN_IDLE if min_idle is None else min_idle
            max_idle = stack.MAX_IDLE if max_idle is None else max_idle
        rounds = Panel("poll rounds", [
            Series("busy", [(t, 1.0) for t, b, _ in self.rounds if b], _BLUE, bars=True),
            Series("idle", [(t, 0.45) for t, b, _ in self.rounds if not b], _GREY, bars=True)],
            unit="a line per round: tall busy, short idle", height=64, ymin=0.0, ticks=False)
        gaps = self.gaps()
        floor = 0.01                                    # ms: a round straight after another
        sleeps = Panel("time until the next round", [
            Series("after a busy round", [(t, max(g * 1000, floor)) for t, b, g in gaps if b],
                   _BLUE, dots=True),
            Series("after an idle one", [(t, max(g * 1000, floor)) for t, b, g in gaps if not b],
                   _GREY, dots=True),
            Series("poll_at: due in", [(t, max(d * 1000, floor)) for t, d in self.dues
                                       if d is not None and d < 2.0], _ORANGE, dots=True)],
            unit="ms, log scale", log=True, height=170,
            lines=[(min_idle * 1000, f"MIN_IDLE {min_idle * 1000:g} ms"),
                   (max_idle * 1000, f"MAX_IDLE {max_idle * 1000:g} ms")])
        s = self.summary()
        title = title or (f"{s['rounds']} poll rounds in {s['seconds']:g} s: {s['busy']} busy, "
                          f"{s['idle']} idle")
        return LinePlot([rounds, sleeps], title=title, marks=self.marks, xmin=0.0,
                        xmax=self.end if self.end is not None else None)

    def svg(self) -> str:
        return self.plot().svg()

    def _repr_svg_(self) -> str:
        return self.svg()

    def __repr__(self) -> str:
        s = self.summary()
        return f"<PollTimeline: {s['rounds']} rounds ({s['busy']} busy) in {s['seconds']:g} s>"
