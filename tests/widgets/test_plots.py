"""Static SVG plots: a line plot's panels and thinning, TcpTrace (states and counters of every
TCP socket, per frame and per round) and PollTimeline (each poll round, busy or idle, and the
sleep after it) -- on a stack that talks to itself over a Loopback, at times the test names."""

import xml.etree.ElementTree as ET

import pytest

from dos64lab.phy import Loopback
from dos64lab.socket.tcp import State, TcpListener, TcpSocket
from dos64lab.stack import MAX_IDLE, MIN_IDLE, Stack
from dos64lab.widgets import LinePlot, PollTimeline, TcpTrace, tcp_plot
from dos64lab.widgets.plots import Panel, Series, _ticks

SVG = "{http://www.w3.org/2000/svg}"


def texts(svg: str) -> list[str]:
    return ["".join(t.itertext()) for t in ET.fromstring(svg).iter(f"{SVG}text")]


class Clock:
    def __init__(self, t: float = 100.0):
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def net():
    """A stack on a Loopback with a clock the test moves, its thread not started."""
    clock = Clock()
    stack = Stack(Loopback(capacity=256), clock=clock, start=False)
    stack.configure()
    stack.test_clock = clock
    yield stack
    stack.close()


def rounds(net, n: int, dt: float = 0.001) -> None:
    for _ in range(n):
        net.test_clock.t += dt
        net.poll_once()


def talk(net):
    """A connection to our own port 80: handshake, 5000 bytes, the client closes first."""
    ip = net.iface.address
    listener = TcpListener(80)
    net.add(listener)
    client = TcpSocket()
    client.connect((ip, 50000), (ip, 80), net.clock())
    net.add(client)
    rounds(net, 10)
    server = listener.accept()
    net.add(server)
    client.send(b"x" * 5000)
    rounds(net, 10)
    assert server.recv() == b"x" * 5000
    client.close()
    rounds(net, 10)
    server.close()
    rounds(net, 20, 0.01)
    return client, server


# -- LinePlot -----------------------------------------------------------------------------------

def test_a_line_plot_is_valid_svg_with_a_title_per_panel_and_a_legend_per_series():
    plot = LinePlot([Panel("cwnd", [Series("cwnd", [(0, 1), (1, 3), (2, 2)])], unit="KiB"),
                     Panel("rtt", [Series("SRTT", [(0, 5), (2, 7)]),
                                   Series("RTO", [(0, 200), (2, 200)], dash=True)],
                           unit="ms", log=True)],
                    title="a transfer", marks=[(1.5, "loss on")])
    svg = plot.svg()
    shown = texts(svg)
    assert {"a transfer", "cwnd", "SRTT", "RTO", "loss on", "seconds"} <= set(shown)
    assert any(t.startswith("rtt") and "(ms)" in t for t in shown)
    assert plot._repr_svg_() == svg and "2 panels" in repr(plot)
    assert len(ET.fromstring(svg).findall(f".//{SVG}polyline")) == 3      # one per series


def test_thousands_of_points_are_thinned_to_a_few_per_pixel_column_keeping_the_extremes():
    points = [(i / 1000, (i % 100) * 1.0) for i in range(100_000)]
    svg = LinePlot([Panel("many", [Series("y", points)])], width=500).svg()
    line = ET.fromstring(svg).find(f".//{SVG}polyline")
    coords = line.get("points").split()
    assert len(coords) <= 4 * 500
    ys = sorted(float(c.split(",")[1]) for c in coords)
    assert ys[0] < ys[-1] - 50                         # the minimum and maximum both kept


def test_a_log_panel_leaves_out_zeros_and_gaps_are_gaps():
    svg = LinePlot([Panel("log", [Series("y", [(0, 0), (1, 10), (2, None), (3, 1000)])],
                          log=True)]).svg()
    line = ET.fromstring(svg).find(f".//{SVG}polyline")
    assert len(line.get("points").split()) == 2
    assert {"10", "100", "1000"} <= set(texts(svg))


def test_ticks_are_round_numbers():
    assert [v for v, _ in _ticks(0, 1.2, 4)] == [0, 0.5, 1.0]
    assert [t for _, t in _ticks(0, 60000, 4)] == ["0", "20k", "40k", "60k"]


def test_hostile_text_is_escaped():
    evil = "<script>alert(1)</script>\x00"
    svg = LinePlot([Panel(evil, [Series(evil, [(0, 1), (1, 2)])], unit=evil)], title=evil,
                   marks=[(0.5, evil)]).svg()
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if "script" in e.tag]


def test_tcp_plot_leaves_out_the_handshake_and_an_infinite_ssthresh():
    info = {"state": "ESTABLISHED", "cwnd": 4380, "ssthresh": 1 << 30, "snd_wnd": 65535,
            "srtt_ms": 3.0, "rto_ms": 200.0, "retransmits": 0, "fast_retransmits": 0,
            "timeouts": 0}
    samples = [(0.0, {**info, "state": "SYN-SENT", "snd_wnd": 0}), (0.1, info),
               (0.2, {**info, "cwnd": 2920, "ssthresh": 2920, "retransmits": 1})]
    plot = tcp_plot(samples, title="t")
    cwnd, ssthresh, window = plot.panels[0].series
    assert cwnd.points == [(0.1, 4380 / 1024), (0.2, 2920 / 1024)]
    assert ssthresh.points == [(0.1, None), (0.2, 2920 / 1024)]
    assert [p.title for p in plot.panels] == ["congestion window", "round-trip time", "sent again"]
    ET.fromstring(plot.svg())


# -- TcpTrace -----------------------------------------------------------------------------------

def test_tcp_trace_follows_both_ends_of_a_connection_through_their_states(net):
    with TcpTrace.record(net) as trace:
        client, server = talk(net)
    assert trace.path(client) == [State.CLOSED, State.SYN_SENT, State.ESTABLISHED,
                                  State.FIN_WAIT_1, State.FIN_WAIT_2, State.TIME_WAIT]
    assert trace.path(server) == [State.LISTEN, State.SYN_RECEIVED, State.ESTABLISHED,
                                  State.CLOSE_WAIT, State.LAST_ACK, State.CLOSED]
    times = [t for t, _ in trace.states(client)]
    assert times == sorted(times) and 0 < times[0] < 0.01
    assert trace.text(client).splitlines()[-1].endswith("TIME-WAIT")
    assert client in trace.sockets and server in trace.sockets


def test_tcp_trace_samples_the_counters_and_draws_them(net):
    with TcpTrace.record(net) as trace:
        client, _ = talk(net)
        trace.mark("closing")
    samples = trace.samples(client)
    assert samples and all({"cwnd", "srtt_ms", "retransmits"} <= set(info) for _, info in samples)
    assert samples[-1][1]["srtt_ms"] is not None
    svg = trace.plot(client, title="to ourselves").svg()
    assert {"to ourselves", "cwnd", "SRTT", "retransmits", "closing"} <= set(texts(svg))
    d = trace.diagram(client)
    assert d.state == State.TIME_WAIT and len(d.taken) == 5


def test_recording_leaves_the_interface_as_it_was(net):
    poll, poll_at = net.iface.poll, net.iface.poll_at
    with TcpTrace.record(net), PollTimeline.record(net):
        assert net.iface.poll != poll and net.iface.poll_at != poll_at
        rounds(net, 3)
    assert "poll" not in net.iface.__dict__ and "poll_at" not in net.iface.__dict__
    assert net.iface.poll == poll and net.iface.poll_at == poll_at


# -- PollTimeline ---------------------------------------------------------------------------------

def test_the_timeline_has_every_round_busy_or_idle_and_the_sleep_after_it(net):
    rounds(net, 2)                                          # the gratuitous ARP goes first
    busy_before = net.busy_polls
    with PollTimeline.record(net) as timeline:
        rounds(net, 3, 0.002)                               # nothing to do: idle
        timeline.mark("a connection")
        talk(net)                                           # busy rounds among idle ones
    assert len(timeline.rounds) == 3 + 50 and net.polls >= 53
    assert [b for _, b, _ in timeline.rounds[:3]] == [False] * 3
    assert any(b for _, b, _ in timeline.rounds[3:])
    gaps = timeline.gaps()
    assert len(gaps) == 52 and gaps[0][2] == pytest.approx(0.002)
    s = timeline.summary()
    assert s["rounds"] == 53 and s["busy"] + s["idle"] == 53 and s["busy"] == net.busy_polls - busy_before
    assert len(timeline.dues) == 0                         # poll_at: only the stack's thread asks
    svg = timeline.svg()
    shown = texts(svg)
    assert any(t.startswith("53 poll rounds") for t in shown)
    assert {"a connection", f"MIN_IDLE {MIN_IDLE * 1000:g} ms", f"MAX_IDLE {MAX_IDLE * 1000:g} ms"} <= set(shown)
    assert timeline._repr_svg_() == svg and "53 rounds" in repr(timeline)


def test_the_timeline_notes_what_poll_at_said_on_a_running_stack():
    import time
    stack = Stack(Loopback(), start=False)
    stack.configure()
    with PollTimeline.record(stack) as timeline:
        stack.start()
        time.sleep(0.3)
    stack.close()
    assert len(timeline.rounds) >= 3 and len(timeline.dues) >= 3
    idle = [g for _, busy, g in timeline.gaps() if not busy]
    assert max(idle) <= MAX_IDLE + 0.05                     # backs off, but wakes by MAX_IDLE
    assert timeline.summary()["longest_sleep_ms"] >= MIN_IDLE * 1000


def test_start_and_stop_span_notebook_cells_and_stop_twice_is_harmless(net):
    trace, timeline = TcpTrace.start(net), PollTimeline.start(net)
    client, _ = talk(net)
    timeline.stop(), trace.stop()
    trace.stop(), timeline.stop()
    assert "poll" not in net.iface.__dict__ and "poll_at" not in net.iface.__dict__
    assert trace.path(client)[-1] == State.TIME_WAIT
    assert timeline.end is not None and len(timeline.rounds) == 50
    rounds(net, 5)
    assert len(timeline.rounds) == 50                       # nothing recorded after stop()
