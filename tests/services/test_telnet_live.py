"""The telnet service live: a real DOS64 machine, the Python stack on its NIC, serve_telnet on
guest port 23, and real clients on the host at 127.0.0.1:m.host_ports["telnet"] (slirp's
hostfwd): Debian's telnet in a pty (pexpect), telnetlib3, and raw sockets for the hostile
bytes.  Afterwards the shell must still answer, in a new session and in ``m.run()``.
"""

import asyncio
import random
import re
import socket
import threading
import time

import pexpect
import pytest
import telnetlib3
from telnetlib3.telopt import ECHO, NAWS, SGA

from dos64lab.machine import Machine
from dos64lab.services.telnet import ConsoleBusy, console_owner, hold_console, serve_telnet
from dos64lab.services.telnet_nvt import Naws
from dos64lab.stack import Stack

PROMPT = b"C:\\>"
IAC, WILL, WONT, DO, DONT, SB, SE, AYT = 255, 251, 252, 253, 254, 250, 240, 246


@pytest.fixture(scope="module")
def lab():
    with Machine() as m, Stack.on(m) as net:
        net.configure()
        yield m, net


@pytest.fixture
def m(lab):
    return lab[0]


@pytest.fixture
def server(lab):
    m, net = lab
    with serve_telnet(net, m) as srv:
        yield srv
    assert console_owner(m) is None
    assert not [t.name for t in threading.enumerate() if t.name.startswith("dos64lab-telnet")]


@pytest.fixture
def port(m):
    return m.host_ports["telnet"]


def wait_until(predicate, timeout=10.0, what="the condition", seen=lambda: ""):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what}; {seen()}")
        time.sleep(0.02)
    return value


class Raw:
    """A bare TCP client: what it receives, negotiation bytes and all, in ``seen``."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.seen = b""

    def until(self, pattern: bytes, timeout=10.0) -> re.Match:
        rx, deadline = re.compile(pattern, re.S), time.monotonic() + timeout
        while not (match := rx.search(self.seen)):
            self.sock.settimeout(max(0.01, deadline - time.monotonic()))
            try:
                chunk = self.sock.recv(65536)
            except socket.timeout:
                chunk = None
            if not chunk:
                raise AssertionError(f"no {pattern!r} ({'closed' if chunk == b'' else 'timeout'}); "
                                     f"seen: {self.seen[-400:]!r}")
            self.seen += chunk
        return match

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def ver(self) -> str:
        """Type VER at a fresh prompt; its answer."""
        self.until(re.escape(PROMPT))
        start = len(self.seen)
        self.send(b"VER\r\n")
        self.until(rb"VER\r\n.*?C:\\>", timeout=20)
        return self.seen[start:].decode("latin-1")

    def close(self):
        self.sock.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def session_over(server):
    return lambda: server.owner is None and not server.sessions


def state(server, m) -> str:
    """What a failed wait prints: the server and the console's last lines."""
    return f"{server!r}, stats {dict(server.stats)}; console:\n{m.console.tail(8)}"


# -- real clients ---------------------------------------------------------------------------

def test_debian_telnet_types_ver_and_sees_dos64(server, port, m):
    child = pexpect.spawn("telnet", ["127.0.0.1", str(port)], timeout=15, dimensions=(30, 100))
    try:
        child.expect(rb"DOS64 0\.1\.0 console over telnet")
        child.expect(re.escape(PROMPT))
        child.send("VER\r")
        child.expect(rb"VER\r\nDOS64 Version 0\.1\.0\r\nx86-64 long mode")
        child.expect(re.escape(PROMPT))
        assert server.owner == server.sessions[0].remote == console_owner(m)
        assert server.sessions[0].window == Naws(100, 30)       # the pty's size, by NAWS
        nvt = server.sessions[0].nvt
        assert nvt.local_enabled(ECHO[0]) and nvt.local_enabled(SGA[0])
        child.sendcontrol("]")
        child.expect("telnet>")
        child.sendline("quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    wait_until(session_over(server), what="the session to end")
    assert server.stats["sessions"] == 1


def test_telnetlib3_agrees_echo_and_sga_and_its_naws_is_accepted(server, port):
    async def client():
        reader, writer = await telnetlib3.open_connection(
            "127.0.0.1", port, encoding=False, cols=132, rows=43,
            connect_minwait=0.2, connect_maxwait=5)
        seen = b""
        while PROMPT not in seen:
            seen += await asyncio.wait_for(reader.read(4096), 10)
        agreed = (writer.remote_option.enabled(ECHO), writer.remote_option.enabled(SGA),
                  writer.local_option.enabled(NAWS))
        window = wait_until(lambda: server.sessions and server.sessions[0].window, 5, "NAWS")
        writer.write(b"ver\r")
        answer = b""
        while PROMPT not in answer:
            answer += await asyncio.wait_for(reader.read(4096), 10)
        writer.close()
        return agreed, window, answer

    agreed, window, answer = asyncio.run(client())
    assert agreed == (True, True, True)          # server WILL ECHO, WILL SGA; client WILL NAWS
    assert window == Naws(132, 43)
    assert b"DOS64 Version 0.1.0" in answer
    wait_until(session_over(server), what="the session to end")


# -- one keyboard ---------------------------------------------------------------------------

def test_a_second_session_is_told_who_owns_the_console(server, port):
    with Raw(port) as owner:
        owner.until(re.escape(PROMPT))
        with Raw(port) as second:
            second.until(rb"The DOS64 console is in use by 10\.0\.2\.2:\d+; try again later\.")
            second.sock.settimeout(10)
            while second.sock.recv(4096):        # and then closed
                pass
        assert "DOS64 Version" in owner.ver()    # the owner never noticed
    wait_until(session_over(server), what="the owner's session to end")
    assert server.stats["sessions_refused_busy"] == 1


def test_when_the_owner_leaves_mid_line_the_next_session_gets_a_clean_console(server, port, m):
    with Raw(port) as first:
        first.until(re.escape(PROMPT))
        first.send(b"ECHO half a li")            # no Enter
        first.until(rb"half a li")
    wait_until(session_over(server), what="the first session to end")
    with Raw(port) as second:
        answer = second.ver()
        assert "DOS64 Version 0.1.0" in answer and "half" not in answer and "Bad command" not in answer
    wait_until(session_over(server), what="the second session to end")
    assert m.run("ECHO clean") == "clean"         # between sessions, m.run() just works


def test_exit_and_panic_are_refused_over_telnet(server, port, m):
    with Raw(port) as c:
        c.until(re.escape(PROMPT))
        c.send(b"  exit\r\n")
        c.until(rb"EXIT is not available over telnet")
        c.send(b"PANIC now\r\n")
        c.until(rb"PANIC is not available over telnet")
        assert "DOS64 Version" in c.ver()
    wait_until(session_over(server), what="the session to end")
    assert m.is_running() and server.stats["commands_refused"] == 2


def test_hold_console_waits_for_the_session_and_keeps_new_ones_out(server, port, m):
    with Raw(port) as c:
        c.until(re.escape(PROMPT))
        with pytest.raises(ConsoleBusy, match=r"in use by 10\.0\.2\.2:\d+"):
            with hold_console(m, timeout=0.3):
                pass
    with hold_console(m, timeout=10):
        assert m.run("ECHO held") == "held"
        with Raw(port) as c:
            c.until(rb"in use by m\.run\(\)")
    wait_until(session_over(server), what="the refused session to end")


# -- hostile clients ------------------------------------------------------------------------

def iac_flood(rng: random.Random, size: int) -> bytes:
    """Negotiation for every option, subnegotiations unterminated, too long and bogus, AYTs."""
    out = bytearray()
    while len(out) < size:
        kind = rng.randrange(6)
        opt = rng.randrange(256)
        if kind == 0:
            out += bytes([IAC, rng.choice([WILL, WONT, DO, DONT]), opt])
        elif kind == 1:                             # a subnegotiation far past any bound
            out += bytes([IAC, SB, opt]) + bytes(rng.randrange(255) for _ in range(300)) + bytes([IAC, SE])
        elif kind == 2:                             # a bogus NAWS, ended by another command
            out += bytes([IAC, SB, 31, 1, 2, IAC, DO, opt])
        elif kind == 3:
            out += bytes([IAC, AYT, IAC, rng.randrange(256)])
        elif kind == 4:
            out += bytes([IAC, IAC, 0, 13, 10])
        else:
            out += bytes([IAC, SE])
    return bytes(out)


def test_garbage_and_an_iac_flood_never_wedge_the_console(server, port, m):
    rng = random.Random(23)
    with Raw(port) as c:
        c.until(re.escape(PROMPT))
        c.send(iac_flood(rng, 100_000))
        c.send(bytes(rng.randrange(256) for _ in range(30_000)))
        c.send(bytes([IAC, SB, 24]) + b"never ended")
    wait_until(session_over(server), timeout=30, what="the hostile session to end",
               seen=lambda: state(server, m))
    with Raw(port) as c:
        try:
            answer = c.ver()
        except AssertionError as err:
            raise AssertionError(f"{err}\n{state(server, m)}") from None
        assert "DOS64 Version 0.1.0" in answer
    wait_until(session_over(server), what="the session to end", seen=lambda: state(server, m))
    assert m.run("VER").startswith("DOS64 Version 0.1.0")


def test_a_64kb_line_is_dropped_and_the_shell_answers(server, port, m):
    before = len(m.console.transcript)
    with Raw(port) as c:
        c.until(re.escape(PROMPT))
        c.send(b"ECHO " + b"A" * 65536 + b"\r\n")
        c.until(rb"Line too long \(the shell takes 200 characters\): dropped\.")
        answer = c.ver()
        assert "DOS64 Version 0.1.0" in answer and "Bad command" not in answer
    wait_until(session_over(server), what="the session to end")
    assert "A" * 201 not in m.console.transcript[before:]       # the shell never got more
    assert server.stats["lines_too_long"] == 1


# -- the end ------------------------------------------------------------------------------

def test_closing_the_server_tells_the_owner_and_m_run_works_after(lab, port):
    m, net = lab
    server = serve_telnet(net, m)
    c = Raw(port)
    try:
        c.until(re.escape(PROMPT))
        c.send(b"ECHO typed but not entered")
        c.until(rb"not entered")
        server.close()
        c.until(rb"\[the telnet server is closing\]")
        c.sock.settimeout(10)
        while c.sock.recv(4096):
            pass
    finally:
        c.close()
        server.close()                                  # idempotent
    assert console_owner(m) is None
    assert not [t.name for t in threading.enumerate() if t.name.startswith("dos64lab-telnet")]
    assert m.run("VER").startswith("DOS64 Version 0.1.0")
    assert m.run("ECHO after") == "after"
    late = socket.create_connection(("127.0.0.1", port), timeout=10)
    try:                                                # nobody listens on guest port 23 now:
        assert late.recv(4096) == b""                   # slirp closes (or resets) its side
    except ConnectionResetError:
        pass
    finally:
        late.close()
