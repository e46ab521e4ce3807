"""Chapters 00-04's checks as a learner meets them in the student notebooks (issue 12).

Unsolved -- the function still holds nbgrader's ``raise NotImplementedError()`` -- a check
prints one kind line on stderr, nothing on stdout, and raises nothing; solved, one short
✓ line per case; wrong, ✗ lines and ``ExerciseFailed``.  Report lines wrap to the width.
"""

import pytest

from dos64lab.exercises import (ExerciseFailed, check_arp_reply_parser, check_bar_sizing,
                                check_find_virtio_net, check_negotiate, check_pci_id,
                                check_reap_used)
from dos64lab.exercises.common import line
from dos64lab.machine import Machine
from dos64lab.phy.virtio import VirtioNetDevice


def unsolved(*args):
    # YOUR CODE HERE
    raise NotImplementedError()


def assert_not_done(capsys, function):
    out, err = capsys.readouterr()
    assert out == ""
    assert err.count("\n") == 1 and "not done yet" in err and f"{function}()" in err
    assert "Traceback" not in err


@pytest.fixture(scope="module")
def modern():
    with Machine(virtio="modern") as m:
        yield m


def test_chapter_00_and_01_unsolved(machine, capsys):
    check_pci_id(unsolved, machine)
    assert_not_done(capsys, "read_id")
    check_find_virtio_net(unsolved, machine)
    assert_not_done(capsys, "find_virtio_net")
    check_bar_sizing(unsolved, machine)
    assert_not_done(capsys, "size_bar")


def test_chapter_02_unsolved(modern, capsys):
    check_negotiate(unsolved, modern)
    assert_not_done(capsys, "negotiate")


def test_chapter_03_unsolved_prints_no_tick(modern, capsys):
    with VirtioNetDevice(modern, queue_size=8) as dev:
        check_reap_used(unsolved, dev, modern)
    assert_not_done(capsys, "reap_used")          # no "✓ the ring wrapped" without learner code


def test_chapter_04_unsolved(machine, capsys):
    check_arp_reply_parser(unsolved, machine)
    assert_not_done(capsys, "parse_arp_reply")


def test_chapter_00_right_answer_on_a_bridged_machine(capsys):
    """What chapter 00's hidden test runs: functions behind a PCI-PCI bridge too."""
    def read_id(qtest, bus, slot, function):
        qtest.outl(0xCF8, 0x8000_0000 | bus << 16 | slot << 11 | function << 8)
        value = qtest.inl(0xCFC)
        return value & 0xFFFF, value >> 16

    bridged = ("-device", "pci-bridge,chassis_nr=1,id=br1,bus=pcie.0,addr=0x5",
               "-device", "virtio-rng-pci,bus=br1,addr=0x3")
    with Machine(extra_args=bridged) as m:
        check_pci_id(read_id, m)
    out = capsys.readouterr().out.splitlines()
    assert any(line.startswith("✓ 01:03.0") for line in out), out
    assert out[-1].startswith("check_pci_id: all ") and all(len(x) <= 96 for x in out)


def test_chapter_04_more_cases_catch_a_length_check(machine, capsys):
    def needs_sixty_bytes(frame):
        if len(frame) < 60 or frame[12:14] != b"\x08\x06" or frame[20:22] != b"\x00\x02":
            return None
        return ".".join(str(b) for b in frame[28:32]), frame[22:28]

    check_arp_reply_parser(needs_sixty_bytes, machine)         # the visible cases pass
    with pytest.raises(ExerciseFailed, match="2 of 10 cases wrong"):
        check_arp_reply_parser(needs_sixty_bytes, machine, more_cases=True)
    assert "✗ the 10.0.2.3 reply without its padding" in capsys.readouterr().out


def test_report_lines_wrap_to_the_width():
    detail = "got 0x1234, want 0x5678 " * 8
    text = line("✗", "a case with a long detail", detail, width=60)
    rows = text.splitlines()
    assert rows[0].startswith("✗ a case") and all(len(r) <= 60 for r in rows)
    assert all(r.startswith("    ") for r in rows[1:]) and len(rows) > 2
    assert line("✓", "short", "fine", width=60) == "✓ short: fine"
    assert "\n" not in line("✗", "a case", detail, width=0)
