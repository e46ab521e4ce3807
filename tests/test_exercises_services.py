"""The chapter 09 and 10 exercises, checked live: right answers pass, typical wrong ones are
caught, an unwritten one says "not done yet" and raises nothing."""

import pytest

from dos64lab.exercises import ExerciseFailed, check_iac_parser, check_request_line
from dos64lab.exercises.http import reference_request_line
from dos64lab.exercises.telnet import ReferenceIacParser
from dos64lab.services.telnet import serve_telnet
from dos64lab.stack import Stack

pytestmark = pytest.mark.timeout(120)


@pytest.fixture(scope="module")
def net(machine):
    with Stack.on(machine) as stack:
        stack.configure()
        yield stack


def test_request_line_right_answer_passes(net, machine, capsys):
    check_request_line(reference_request_line, net, machine.host_ports["http"])
    out = capsys.readouterr().out
    assert "all 12 cases right" in out and "host got 200" in out and "host got 400" in out


def test_request_line_split_on_any_whitespace_is_caught(net, machine):
    def lenient(line):
        method, target, version = line.split()
        return method.decode(), target.decode(), (int(version[5:6]), int(version[7:8]))
    with pytest.raises(ExerciseFailed, match="two spaces"):
        check_request_line(lenient, net, machine.host_ports["http"])


def test_request_line_unwritten_is_not_done(net, machine, capsys):
    def stub(line):
        raise NotImplementedError
    check_request_line(stub, net, machine.host_ports["http"])
    assert "not done yet" in capsys.readouterr().err


@pytest.fixture(scope="module")
def telnet(net, machine):
    with serve_telnet(net, machine) as server:
        yield machine.host_ports["telnet"]


def test_iac_right_answer_passes(telnet, capsys):
    check_iac_parser(ReferenceIacParser, telnet)
    out = capsys.readouterr().out
    assert "all 6 cases right" in out and "('WILL', 1)" in out and "DOS64 Version" in out


def test_iac_parser_that_forgets_its_state_is_caught(telnet):
    class Stateless(ReferenceIacParser):
        def feed(self, data):
            self.__init__()                      # a new parser for every chunk
            return super().feed(data)
    with pytest.raises(ExerciseFailed, match="one at a time|cut between"):
        check_iac_parser(Stateless, telnet)
