"""Pictures that stay (issue 12): the ring picture, the PCI tree, the roadmap.

Each is static SVG (no widget model): a cell's picture is that moment's, a live
``RingView`` redraws one display in place, and the roadmap says which chapters exist.
"""

import re
import xml.etree.ElementTree as ET

import pytest

from dos64lab.hw import pci
from dos64lab.inspect import qemu_queue
from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice
from dos64lab.widgets import (PciTree, RingPicture, RingView, roadmap_svg, rings_svg,
                              show_rings)
from dos64lab.wire.build import arp_who_has

SVG = "{http://www.w3.org/2000/svg}"


def slots(svg: str, kind: str) -> list[ET.Element]:
    root = ET.fromstring(svg)                       # well-formed XML, or this raises
    return [g for g in root.iter(f"{SVG}g") if g.get("class") == f"slot {kind}"]


def pointers(svg: str) -> dict[str, int]:
    root = ET.fromstring(svg)
    return {g.get("data-name"): int(g.get("data-slot")) for g in root.iter(f"{SVG}g")
            if g.get("class") == "pointer"}


@pytest.fixture(scope="module")
def modern():
    with Machine(virtio="modern") as m:
        yield m


def wait_used(m, q, want, timeout=2.0):
    import time
    deadline = time.monotonic() + timeout
    while qemu_queue(m, q)["used-idx"] != want and time.monotonic() < deadline:
        time.sleep(0.005)


def test_ring_picture_has_every_slot_owners_and_pointers(modern):
    with VirtioNetDevice(modern, queue_size=8) as dev:
        rx = dev.net.rx
        dev.send_batch([arp_who_has(dev.mac)] * 3)
        wait_used(modern, 0, (rx.last_used_idx + 3) & 0xFFFF)
        got = rx.reap(limit=2)                              # two reaped, one left to reap
        assert len(got) == 2
        rx_snap, theirs = rx.snapshot(), qemu_queue(modern, 0)
        picture = show_rings(rx_snap, theirs, title="rx")
        svg = picture._repr_svg_()
    for kind in ("desc", "avail", "used"):
        assert len(slots(svg, kind)) == 8
    owners = [g.get("data-owner") for g in slots(svg, "desc")]
    assert owners.count("device") == 8 - rx_snap["num_free"]
    ptr = pointers(svg)
    assert ptr["avail.idx"] == rx_snap["avail"]["idx"] % 8
    assert ptr["used.idx"] == rx_snap["used"]["idx"] % 8
    assert ptr["last_used_idx"] == rx_snap["last_used_idx"] % 8
    assert ptr["QEMU used_idx"] == theirs["used-idx"] % 8 != ptr["last_used_idx"]
    assert [g.get("data-owner") for g in slots(svg, "used")].count("to-reap") == 1
    assert 'data-size="8"' in svg


def test_a_picture_is_that_moment_and_the_live_view_follows(modern, monkeypatch):
    shown = []

    class Handle:
        display_id = "ring-1"

        def update(self, obj):
            shown.append(("update", obj._repr_svg_()))

    def display(obj, display_id=None):
        shown.append(("display", obj._repr_svg_()))
        return Handle()

    monkeypatch.setattr("IPython.display.display", display)
    with VirtioNetDevice(modern, queue_size=8) as dev:
        rx = dev.net.rx
        before = show_rings(rx.snapshot(), title="rx")
        first = before._repr_svg_()
        live = RingView(rx.snapshot(), title="rx").display()
        dev.send_batch([arp_who_has(dev.mac)] * 2)
        wait_used(modern, 0, (rx.last_used_idx + 2) & 0xFFFF)
        rx.reap()
        live.update(rx.snapshot(), qemu_queue(modern, 0))
        assert before._repr_svg_() == first                    # the moment's picture stays
        assert [kind for kind, _ in shown] == ["display", "update"]
        assert shown[1][1] != shown[0][1] and "QEMU" in shown[1][1]
        assert f"used.idx = {rx.used_idx}" in live.widget.value  # the ipywidgets mirror


def test_ring_picture_of_a_big_ring_draws_16_and_says_how_many_more():
    snap = {"index": 0, "size": 256, "addresses": {"desc": 0x1000, "avail": 0x2000, "used": 0x3000},
            "desc": [{"addr": 0, "len": 0, "flags": 0, "next": i + 1} for i in range(256)],
            "avail": {"flags": 0, "idx": 300, "ring": list(range(256))},
            "used": {"flags": 0, "idx": 290, "ring": [{"id": 0, "len": 0}] * 256},
            "avail_idx": 300, "last_used_idx": 280, "free_head": 20, "num_free": 236,
            "in_flight": list(range(20)), "kicks": 3, "kicks_suppressed": 1}
    svg = rings_svg(snap, title="<script>")
    assert len(slots(svg, "used")) == 16 and "240 more slots" in svg
    assert "<script>" not in svg and "&lt;script&gt;" in svg
    assert repr(RingPicture(snap)).startswith("<RingPicture queue 0")


def test_pci_tree_draws_every_function_and_the_bus_behind_a_bridge():
    bridged = ("-device", "pci-bridge,chassis_nr=1,id=br1,bus=pcie.0,addr=0x5",
               "-device", "virtio-rng-pci,bus=br1,addr=0x3")
    with Machine(extra_args=bridged) as m:
        functions = pci.scan(m.qtest)
    svg = PciTree(functions, "bridged")._repr_svg_()
    root = ET.fromstring(svg)
    drawn = {g.get("data-bdf"): g.get("data-kind") for g in root.iter(f"{SVG}g")
             if g.get("class") == "pci-function"}
    assert set(drawn) == {f.bdf for f in functions}
    assert drawn["00:01.0"] == "network" and drawn["00:05.0"] == "bridge" and "01:03.0" in drawn
    buses = [g.get("data-bus") for g in root.iter(f"{SVG}g") if g.get("class") == "pci-bus"]
    assert buses == ["0", "1"]


def test_roadmap_says_which_chapters_are_not_written_yet():
    svg = roadmap_svg(highlight=3, written={0, 1, 2, 3})
    root = ET.fromstring(svg)
    state = {int(g.get("data-chapter")): g.get("data-written") for g in root.iter(f"{SVG}g")
             if g.get("class") == "chapter"}
    assert state[3] == "true" and state[4] == "false" and state[12] == "false"
    assert svg.count("coming: not written yet") == 9
    assert re.search(r"not written yet \(04, 05, .*12\)", svg)
    assert "coming" not in roadmap_svg(written=set(range(13)))
