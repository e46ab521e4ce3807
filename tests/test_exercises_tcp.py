"""The chapter 07 and 08 exercise checks, live: ✓ for a right answer, ✗ (and ExerciseFailed) for a
wrong one, and for an exercise not written yet one kind line on stderr and no exception.

Both talk to programs the check starts on the host's 127.0.0.1 (the guest reaches them at
10.0.2.2:PORT), so the machine is unrestricted and the stack's allow-list admits 10.0.2.2 alone.
"""

from collections import deque
from ipaddress import IPv4Network

import pytest

from dos64lab.errors import Dos64LabError
from dos64lab.exercises import ExerciseFailed, check_acceptable, check_echo_socket
from dos64lab.exercises.tcp import reference_acceptable
from dos64lab.iface import InterfaceConfig
from dos64lab.machine import Machine
from dos64lab.socket import Socket
from dos64lab.stack import Stack
from dos64lab.wire import ipv4, udp
from dos64lab.wire.ipv4 import IpProtocol

ONLY_SLIRP = InterfaceConfig(allow=(IPv4Network("10.0.2.2/32"),))


@pytest.fixture(scope="module")
def net():
    with Machine(restrict=False, hostfwd=False) as m, Stack.on(m, ONLY_SLIRP) as stack:
        stack.configure()
        yield stack


def unsolved(*args):
    raise NotImplementedError()


def lines(capsys) -> list[str]:
    return capsys.readouterr().out.splitlines()


# -- chapter 07: acceptable(seq, length, rcv_nxt, rcv_wnd) ----------------------------------------

def acceptable(seq, length, rcv_nxt, rcv_wnd):
    def inside(x):
        return (x - rcv_nxt) % 2**32 < rcv_wnd
    if length == 0:
        return seq == rcv_nxt if rcv_wnd == 0 else inside(seq)
    return rcv_wnd > 0 and (inside(seq) or inside((seq + length - 1) % 2**32))


def test_acceptable_right_is_all_ticks_on_live_segments_and_crafted_ones(net, capsys):
    check_acceptable(acceptable, net)
    out = lines(capsys)
    assert out[-1].startswith("check_acceptable: all ") and out[-1].endswith(" cases right.")
    assert all(line.startswith("✓ ") for line in out[:-1]) and len(out) >= 13
    text = "\n".join(out)
    for live in ("slirp's first data segment", "came early", "held-back segment, late",
                 "a duplicate", "slirp's FIN"):
        assert live in text
    assert "not acceptable -- the stack dropped it and ACKed" in text     # the duplicate
    assert "the stack took it" in text
    assert "wrapping past 2³²" in text and "zero window" in text


def test_acceptable_without_modular_arithmetic_is_wrong_where_the_window_wraps(net, capsys):
    def naive(seq, length, rcv_nxt, rcv_wnd):
        if length == 0:
            return seq == rcv_nxt if rcv_wnd == 0 else rcv_nxt <= seq < rcv_nxt + rcv_wnd
        return rcv_wnd > 0 and (rcv_nxt <= seq < rcv_nxt + rcv_wnd
                                or rcv_nxt <= seq + length - 1 < rcv_nxt + rcv_wnd)
    with pytest.raises(ExerciseFailed, match="1 of .* cases wrong"):
        check_acceptable(naive, net)
    wrong = [line for line in lines(capsys) if line.startswith("✗ ")]
    assert len(wrong) == 1 and "wrapping past 2³²" in wrong[0] and "modulo 2³²" in wrong[0]


def test_acceptable_testing_only_the_first_byte_misses_a_segment_that_overlaps(net, capsys):
    def first_byte_only(seq, length, rcv_nxt, rcv_wnd):
        if rcv_wnd == 0:
            return length == 0 and seq == rcv_nxt
        return (seq - rcv_nxt) % 2**32 < rcv_wnd
    with pytest.raises(ExerciseFailed):
        check_acceptable(first_byte_only, net)
    wrong = [line for line in lines(capsys) if line.startswith("✗ ")]
    assert len(wrong) == 1 and "half old, half new" in wrong[0] and "last byte" in wrong[0]


def test_acceptable_ignoring_a_zero_window_is_wrong_and_says_why(net, capsys):
    def no_zero_window(seq, length, rcv_nxt, rcv_wnd):
        return acceptable(seq, length, rcv_nxt, max(rcv_wnd, 1))
    with pytest.raises(ExerciseFailed):
        check_acceptable(no_zero_window, net)
    wrong = [line for line in lines(capsys) if line.startswith("✗ ")]
    assert wrong and all("zero window" in line for line in wrong)


def test_acceptable_that_raises_or_returns_no_bool_is_a_wrong_case_not_a_crash(net, capsys):
    with pytest.raises(ExerciseFailed):
        check_acceptable(lambda *a: 1 / 0, net)
    assert "raised ZeroDivisionError" in capsys.readouterr().out
    with pytest.raises(ExerciseFailed):
        check_acceptable(lambda *a: "yes", net)
    assert "returned 'yes', want True or False" in capsys.readouterr().out


def test_acceptable_not_done_yet_is_one_kind_line_and_no_exception(net, capsys):
    check_acceptable(unsolved, net)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check_acceptable: not done yet")
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err


def test_acceptable_leaves_the_stack_as_it_found_it(net):
    device, count = net.device, len(net.sockets)
    check_acceptable(acceptable, net)
    assert net.device is device
    net.wait_for(lambda: len(net.sockets) <= count + 1, 3, "the check's connection to go")


def test_the_reference_is_rfc_9293s_table():
    assert reference_acceptable(100, 0, 100, 0) and not reference_acceptable(101, 0, 100, 0)
    assert not reference_acceptable(100, 1, 100, 0)
    assert reference_acceptable(2**32 - 10, 20, 5, 100)        # its last byte is in the window
    assert reference_acceptable(3, 10, 2**32 - 5, 100) and not reference_acceptable(95, 1, 2**32 - 5, 100)


def test_acceptable_on_a_restricted_machine_says_what_is_needed():
    with Machine() as m, Stack.on(m, ONLY_SLIRP) as stack:
        stack.configure()
        with pytest.raises(Dos64LabError, match="restrict=False"):
            check_acceptable(acceptable, stack)


# -- chapter 08: EchoSocket(port) ---------------------------------------------------------------------

class EchoSocket(Socket):
    def __init__(self, port):
        super().__init__()
        self.port = port
        self.waiting = deque()

    def accepts_udp(self, iface, ip, datagram):
        return datagram.dst_port == self.port

    def process_udp(self, iface, now, ip, datagram):
        self.waiting.append((ip.src, datagram.src_port, datagram.payload))

    def dispatch(self, iface, now):
        out = []
        while self.waiting:
            dst, port, data = self.waiting.popleft()
            payload = udp.Repr(self.port, port, data).to_bytes(iface.address, dst)
            out.append(ipv4.Repr(iface.address, dst, IpProtocol.UDP, payload))
        return out

    def poll_at(self, now):
        return now if self.waiting else None


def test_echo_socket_right_is_all_ticks(net, capsys):
    check_echo_socket(EchoSocket, net)
    out = lines(capsys)
    assert out[-1] == "check_echo_socket: all 9 cases right."
    assert all(line.startswith("✓ ") for line in out[:-1]) and len(out) == 10
    assert any("ten datagrams in a burst" in line for line in out)
    assert any(line.startswith("✓ idle: the stack slept") for line in out)


def test_echo_socket_that_takes_every_datagram_is_wrong_for_another_port(net, capsys):
    class Greedy(EchoSocket):
        def accepts_udp(self, iface, ip, datagram):
            return True
    with pytest.raises(ExerciseFailed, match="1 of 9 cases wrong"):
        check_echo_socket(Greedy, net)
    wrong = [line for line in lines(capsys) if line.startswith("✗ ")]
    assert len(wrong) == 1 and "destination port" in wrong[0]


def test_echo_socket_whose_poll_at_always_says_now_keeps_the_loop_awake(net, capsys):
    class Restless(EchoSocket):
        def poll_at(self, now):
            return now
    with pytest.raises(ExerciseFailed, match="1 of 9 cases wrong"):
        check_echo_socket(Restless, net)
    wrong = [line for line in lines(capsys) if line.startswith("✗ ")]
    assert len(wrong) == 1 and "never slept" in wrong[0]


def test_echo_socket_answering_from_another_port_is_a_stranger_to_the_host(net, capsys):
    class WrongPort(EchoSocket):
        def dispatch(self, iface, now):
            self.port += 1
            try:
                return super().dispatch(iface, now)
            finally:
                self.port -= 1
    with pytest.raises(ExerciseFailed):
        check_echo_socket(WrongPort, net)
    wrong = [line for line in lines(capsys) if line.startswith("✗ ")]
    assert any("from our port" in line for line in wrong)
    assert any("send it from self.port" in line for line in wrong)


def test_echo_socket_errors_are_wrong_cases_and_the_stack_runs_on(net, capsys):
    class Broken(EchoSocket):
        def dispatch(self, iface, now):
            return [p.to_bytes() for p in super().dispatch(iface, now)]     # bytes, not Repr
    with pytest.raises(ExerciseFailed):
        check_echo_socket(Broken, net)
    out = capsys.readouterr().out
    assert "want ipv4.Repr packets" in out
    assert net.error is None
    assert [type(r).__name__ for r in net.ping("10.0.2.2", count=1, timeout=2)] == ["EchoReply"]


def test_echo_socket_not_done_yet_is_one_kind_line_and_no_exception(net, capsys):
    class Unsolved(Socket):
        def __init__(self, port):
            super().__init__()
            self.port = port

        accepts_udp = process_udp = dispatch = poll_at = unsolved
    check_echo_socket(Unsolved, net)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check_echo_socket: not done yet")
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err


def test_echo_socket_leaves_no_socket_behind(net):
    before = len(net.sockets)
    check_echo_socket(EchoSocket, net)
    assert len(net.sockets) == before


def test_echo_socket_on_a_restricted_machine_says_what_is_needed():
    with Machine() as m, Stack.on(m, ONLY_SLIRP) as stack:
        stack.configure()
        with pytest.raises(Dos64LabError, match="restrict=False"):
            check_echo_socket(EchoSocket, stack)
        assert not [s for s in stack.sockets if getattr(s, "port", None)]   # nothing left behind
