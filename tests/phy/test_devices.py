"""Loopback, Tracer and the Device protocol."""

import logging

import pytest

from dos64lab.errors import DeviceError
from dos64lab.phy import Device, Loopback, Tracer
from fixtures.frames import FRAMES, frame

ALL = [frame(n) for n in FRAMES]


def test_loopback_returns_frames_in_order():
    lo = Loopback()
    assert isinstance(lo, Device) and lo.mtu == 1500 and lo.receive() is None
    for f in ALL:
        lo.send(f)
    assert [lo.receive() for _ in ALL] == ALL and lo.receive() is None


def test_loopback_full_drops_the_newest():
    lo = Loopback(capacity=2)
    for f in ALL[:4]:
        lo.send(f)
    assert lo.dropped == 2 and [lo.receive(), lo.receive(), lo.receive()] == [ALL[0], ALL[1], None]


def test_loopback_refuses_an_oversized_frame():
    lo = Loopback()
    lo.send(bytes(1514))
    with pytest.raises(DeviceError, match="1515"):
        lo.send(bytes(1515))


def test_tracer_reports_both_directions():
    lines = []
    t = Tracer(Loopback(), out=lines.append)
    assert isinstance(t, Device) and t.mtu == 1500
    t.send(frame("arp_request"))
    assert t.receive() == frame("arp_request") and t.receive() is None
    assert lines == ["> 52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15",
                     "< 52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15"]


def test_tracer_to_a_logger_and_malformed_frames(caplog):
    t = Tracer(Loopback(), out=logging.getLogger("trace-test"))
    with caplog.at_level(logging.INFO, logger="trace-test"):
        t.send(b"\x00" * 10)
    assert caplog.messages == ["> malformed: ethernet: bad length (10 bytes, need 14)"]
