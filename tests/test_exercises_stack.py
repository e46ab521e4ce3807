"""The stack chapters' exercise checks, live: ✓ for a right answer, ✗ (and ExerciseFailed) for
a wrong one, and for an exercise not written yet one kind line on stderr and no exception."""

import pytest

from dos64lab.exercises import ExerciseFailed, check_ipv4_checksum
from dos64lab.stack import Stack
from dos64lab.wire.checksum import internet_checksum


@pytest.fixture(scope="module")
def net(machine):
    with Stack.on(machine) as stack:
        stack.configure()
        yield stack


def unsolved(*args):
    raise NotImplementedError()


# -- chapter 05: ipv4_checksum -------------------------------------------------------------

def ipv4_checksum(header: bytes) -> int:
    data = header[:10] + b"\0\0" + header[12:]
    total = sum(data[i] << 8 | data[i + 1] for i in range(0, len(data), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_ipv4_checksum_right_is_all_ticks(net, capsys):
    check_ipv4_checksum(ipv4_checksum, net)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "check_ipv4_checksum: all 7 cases right."
    assert all(line.startswith("✓ ") for line in out[:-1]) and len(out) == 8
    assert any("fragment" in line for line in out) and any("IHL 6" in line for line in out)


def test_ipv4_checksum_counting_the_old_field_is_wrong_and_says_why(net, capsys):
    with pytest.raises(ExerciseFailed, match="7 of 7 cases wrong"):
        check_ipv4_checksum(internet_checksum, net)         # sums the checksum field too
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 7 and all(line.startswith("✗ ") for line in out)
    assert all("count" in line and "as zero" in line for line in out)


def test_ipv4_checksum_without_folding_is_wrong_where_the_sum_carries(net, capsys):
    def no_fold(header):
        data = header[:10] + b"\0\0" + header[12:]
        return ~sum(data[i] << 8 | data[i + 1] for i in range(0, len(data), 2)) & 0xFFFF
    with pytest.raises(ExerciseFailed):
        check_ipv4_checksum(no_fold, net)
    out = capsys.readouterr().out
    assert "✗ a header full of 0xff bytes" in out


def test_ipv4_checksum_that_raises_is_a_wrong_case_not_a_crash(net, capsys):
    with pytest.raises(ExerciseFailed):
        check_ipv4_checksum(lambda header: header[99], net)
    assert "raised IndexError" in capsys.readouterr().out


def test_ipv4_checksum_not_done_yet_is_one_kind_line_and_no_exception(net, capsys):
    check_ipv4_checksum(unsolved, net)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check_ipv4_checksum: not done yet")
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err


def test_ipv4_checksum_restores_the_stacks_device(net):
    before = net.device
    check_ipv4_checksum(ipv4_checksum, net)
    assert net.device is before


def test_ipv4_checksum_on_a_bare_machine_brings_up_its_own_stack(capsys):
    from dos64lab.machine import Machine
    with Machine() as m:
        check_ipv4_checksum(ipv4_checksum, m)
    assert "all 7 cases right" in capsys.readouterr().out
