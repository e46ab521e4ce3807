"""The TCP state diagram: RFC 9293's eleven states as boxes, the figure's transitions as labelled
arrows, one state lit, the way a connection came drawn -- always well-formed SVG."""

import xml.etree.ElementTree as ET

import pytest

from dos64lab.socket.tcp import State, TcpListener, TcpSocket
from dos64lab.widgets import StateDiagram
from dos64lab.widgets.tcp_states import TRANSITIONS, as_state

SVG = "{http://www.w3.org/2000/svg}"
LIT = "#ffd166"
ACTIVE = ["CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "FIN-WAIT-2", "TIME-WAIT"]
PASSIVE = ["LISTEN", "SYN-RECEIVED", "ESTABLISHED", "CLOSE-WAIT", "LAST-ACK", "CLOSED"]


def boxes(svg: str) -> list:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if "state" in g.get("class", "").split()]


def arrows(svg: str) -> list:
    root = ET.fromstring(svg)
    return [g for g in root.iter(f"{SVG}g") if "transition" in g.get("class", "").split()]


def test_the_eleven_states_are_drawn_each_with_its_name():
    svg = StateDiagram().svg()
    names = [g.get("data-state") for g in boxes(svg)]
    assert set(names) == {s.value for s in State} and len(set(names)) == 11
    assert names.count("CLOSED") == 2                      # as the RFC draws it: top and bottom
    assert [g.get("data-copy") for g in boxes(svg) if g.get("data-state") == "CLOSED"] == [None, "yes"]
    for g in boxes(svg):
        assert "".join(g.find(f"{SVG}text").itertext()) == g.get("data-state")
    assert StateDiagram().states == [s.value for s in State]


@pytest.mark.parametrize("state", list(State), ids=lambda s: s.value)
def test_the_lit_state_is_highlighted_and_nothing_else(state):
    svg = StateDiagram(state).svg()
    drawn = boxes(svg)
    lit = [g for g in drawn if "lit" in g.get("class").split()]
    assert [g.get("data-state") for g in lit] == [state.value]
    assert lit[0].find(f"{SVG}rect").get("fill") == LIT
    others = [g.find(f"{SVG}rect").get("fill") for g in drawn if g is not lit[0]]
    assert LIT not in others and len(others) == 11
    assert state.value in "".join(ET.fromstring(svg).find(f"{SVG}text").itertext())   # the title


def test_nothing_lit_by_default_and_the_svg_is_valid_xml_for_the_notebook():
    d = StateDiagram()
    svg = d.svg()
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    assert not [g for g in boxes(svg) if "lit" in g.get("class").split()]
    assert d._repr_svg_() == svg
    assert repr(d) == "<StateDiagram: nothing lit>"


def test_every_transition_of_the_figure_is_a_labelled_arrow():
    svg = StateDiagram().svg()
    drawn = {(g.get("data-from"), g.get("data-to")) for g in arrows(svg)}
    assert len(arrows(svg)) == len(TRANSITIONS) == 21
    assert {("CLOSED", "SYN-SENT"), ("SYN-SENT", "ESTABLISHED"), ("LISTEN", "SYN-RECEIVED"),
            ("SYN-RECEIVED", "ESTABLISHED"), ("SYN-SENT", "SYN-RECEIVED"),
            ("ESTABLISHED", "FIN-WAIT-1"), ("ESTABLISHED", "CLOSE-WAIT"),
            ("FIN-WAIT-1", "FIN-WAIT-2"), ("FIN-WAIT-1", "CLOSING"), ("FIN-WAIT-2", "TIME-WAIT"),
            ("CLOSING", "TIME-WAIT"), ("CLOSE-WAIT", "LAST-ACK"), ("LAST-ACK", "CLOSED"),
            ("TIME-WAIT", "CLOSED")} <= drawn
    for g in arrows(svg):
        label = "".join(g.findall(f"{SVG}text")[-1].itertext())
        assert label and g.find(f"{SVG}polyline").get("marker-end")
    labels = {"".join(g.findall(f"{SVG}text")[-1].itertext()) for g in arrows(svg)}
    assert {"active OPEN / snd SYN", "rcv SYN,ACK / snd ACK", "timeout = 2 MSL"} <= labels


def test_a_path_draws_the_transitions_taken_and_lights_where_it_ended():
    d = StateDiagram(path=ACTIVE)
    assert d.state == State.TIME_WAIT and not d.missing
    assert [(t.src, t.dst) for t in d.taken] == list(zip(ACTIVE, ACTIVE[1:]))
    svg = d.svg()
    taken = [(g.get("data-from"), g.get("data-to")) for g in arrows(svg)
             if "taken" in g.get("class").split()]
    assert sorted(taken) == sorted(zip(ACTIVE, ACTIVE[1:]))
    visited = {g.get("data-state") for g in boxes(svg) if "visited" in g.get("class").split()}
    assert visited == set(ACTIVE) - {"TIME-WAIT"}


def test_a_connection_that_ended_closed_lights_the_lower_closed_box():
    svg = StateDiagram(path=PASSIVE).svg()
    lit = [g for g in boxes(svg) if "lit" in g.get("class").split()]
    assert [(g.get("data-state"), g.get("data-copy")) for g in lit] == [("CLOSED", "yes")]
    svg = StateDiagram(State.CLOSED).svg()                  # not yet opened: the top one
    lit = [g for g in boxes(svg) if "lit" in g.get("class").split()]
    assert [(g.get("data-state"), g.get("data-copy")) for g in lit] == [("CLOSED", None)]


def test_fin_and_ack_in_one_segment_take_the_dashed_arrow_and_a_reset_is_named():
    d = StateDiagram(path=["CLOSED", "SYN-SENT", "ESTABLISHED", "FIN-WAIT-1", "TIME-WAIT"])
    assert d.taken[-1].extra and not d.missing
    d = StateDiagram(path=["CLOSED", "SYN-SENT", "ESTABLISHED", "CLOSED"])
    assert d.missing == [(State.ESTABLISHED, State.CLOSED)]
    texts = ["".join(t.itertext()) for t in ET.fromstring(d.svg()).iter(f"{SVG}text")]
    assert any("not in the figure: ESTABLISHED → CLOSED" in t for t in texts)


def test_states_come_from_names_sockets_connections_and_info_dicts():
    sock = TcpSocket()
    assert as_state(sock) == State.CLOSED
    assert as_state(TcpListener(80)) == State.LISTEN

    class Connection:                       # a TcpConnection has its socket as .socket
        socket = sock
    assert as_state(Connection()) == State.CLOSED
    assert as_state({"state": "SYN-SENT"}) == State.SYN_SENT
    assert as_state("fin_wait_2") == State.FIN_WAIT_2
    assert StateDiagram("time-wait").state == State.TIME_WAIT
    with pytest.raises(ValueError, match="not a TCP state"):
        as_state("HALF-OPEN")


def test_a_title_is_text_never_markup_and_scale_shrinks_the_picture():
    svg = StateDiagram(State.LISTEN, title="<script>alert(1)</script>", scale=0.5).svg()
    root = ET.fromstring(svg)
    assert not [e for e in root.iter() if "script" in e.tag]
    assert root.get("width") == "430" and root.get("viewBox") == "0 0 860 790"
