"""Chapter 08 exercise: a socket of your own in the poll loop -- a UDP echo service.

The learner writes ``EchoSocket(port)``, a ``socket.Socket`` with the methods the
interface calls (``accepts_udp``, ``process_udp``, ``dispatch``, ``poll_at``): every
datagram that arrives on ``port`` goes back to whoever sent it, from ``port``.  The
check plugs one into the learner's live stack and has programs on the host's 127.0.0.1
send to it through slirp: one datagram, a burst of ten, a second program, 1400 bytes, and
a datagram for *another* port, which the echo must leave to that port's socket.  Then it
counts the stack's poll rounds for a while: an idle echo socket must let the loop sleep.

slirp is a NAT: a host program can reach a guest port only after that port has sent
something out (slirp then holds a host socket for it).  So the check first opens the way:
a socket of its own on the port sends one datagram to each host program, and steps aside.

The learner's code runs inside the stack's poll thread, where an exception would stop the
stack: the check wraps the socket so that an exception (or a ``dispatch`` that returns
something other than ``ipv4.Repr`` packets) is caught, shown as a wrong case, and the
stack goes on.  Traffic: UDP to 10.0.2.2 only.
"""

from __future__ import annotations

import os
import socket
import time
from ipaddress import IPv4Address, IPv4Interface

from ..errors import Dos64LabError
from ..iface import Interface, InterfaceConfig
from ..socket import Socket, UdpSocket
from ..wire import ipv4, udp
from ..wire.ipv4 import IpProtocol
from .common import report
from .ipv4 import not_done, on_stack

__all__ = ["check_echo_socket"]

GATEWAY = IPv4Address("10.0.2.2")
US = IPv4Address("10.0.2.15")
IDLE_ROUNDS = 100           # poll rounds in IDLE_FOR seconds: more means the loop never sleeps
IDLE_FOR = 0.4


def check_echo_socket(EchoSocket, net) -> None:
    """``EchoSocket(port)``: a ``Socket`` that sends every UDP datagram arriving on ``port``
    back to its sender, from ``port``; ``poll_at`` says ``now`` while an echo waits to go,
    None otherwise.

    ``net``: a live ``Stack`` whose allow-list admits 10.0.2.2, on a machine started with
    ``restrict=False`` (or such a ``Machine``: the check brings up a stack of its own).
    """
    name = "check_echo_socket"
    try:
        offline = _offline_cases(EchoSocket)
    except NotImplementedError:
        return not_done(name, "EchoSocket")
    with on_stack(net) as stack:
        live = _live_cases(EchoSocket, stack)
    report(name, offline + live)


# -- the learner's socket, guarded ------------------------------------------------------------

class _Guarded(Socket):
    """The learner's socket as the stack sees it during the check: exceptions and wrong
    return values are kept in ``problems`` instead of stopping the poll thread."""

    def __init__(self, inner):
        super().__init__()
        self.inner = inner
        self.problems: list[str] = []

    def _call(self, method: str, default, *args):
        try:
            return getattr(self.inner, method)(*args)
        except Exception as err:
            self.problems.append(f"{method}() raised {type(err).__name__}: {err}")
            return default

    def accepts_udp(self, iface, ip, d) -> bool:
        return bool(self._call("accepts_udp", False, iface, ip, d))

    def process_udp(self, iface, now, ip, d) -> None:
        self._call("process_udp", None, iface, now, ip, d)

    def dispatch(self, iface, now) -> list:
        out = self._call("dispatch", [], iface, now)
        if out is None:
            return []
        try:
            packets = list(out)
        except TypeError:
            self.problems.append(f"dispatch() returned {out!r}, want a list of ipv4.Repr")
            return []
        good = [p for p in packets if isinstance(p, ipv4.Repr)]
        if len(good) != len(packets):
            bad = next(p for p in packets if not isinstance(p, ipv4.Repr))
            self.problems.append(f"dispatch() returned a {type(bad).__name__}, want ipv4.Repr "
                                 "packets (the interface routes and frames them)")
        return good

    def poll_at(self, now):
        due = self._call("poll_at", None, now)
        if due is not None and not isinstance(due, (int, float)):
            self.problems.append(f"poll_at() returned {due!r}, want a time (float) or None")
            return None
        return due


# -- cases without the network: the contract of poll_at and dispatch ---------------------------

def _datagram(src_port: int, dst_port: int, data: bytes, src=GATEWAY, dst=US):
    d = udp.Repr(src_port, dst_port, data)
    ip = ipv4.Repr(src, dst, IpProtocol.UDP, d.to_bytes(src, dst))
    return ip, d


def _offline_cases(EchoSocket) -> list:
    """Raises NotImplementedError while the exercise is not written."""
    iface = Interface(InterfaceConfig(IPv4Interface(f"{US}/24"), GATEWAY))
    ip, d = _datagram(40000, 7, b"probe")
    try:                                                # NotImplementedError goes up from here
        sock = EchoSocket(7)
        accepted = sock.accepts_udp(iface, ip, d)
        sock.process_udp(iface, 5.0, ip, d)
    except NotImplementedError:
        raise
    except Exception as err:
        return [("EchoSocket(7) takes a datagram for port 7", False,
                 f"raised {type(err).__name__}: {err}")]
    results = []
    try:
        due = sock.poll_at(5.0)
        ok = due is not None and due <= 5.0
        results.append(("poll_at with an echo waiting to go", ok,
                        f"{due!r}" + ("" if ok else ": want now (5.0), so the loop comes back "
                                      "at once to dispatch it")))
    except NotImplementedError:
        raise
    except Exception as err:
        results.append(("poll_at with an echo waiting to go", False,
                        f"raised {type(err).__name__}: {err}"))
    try:
        out = list(sock.dispatch(iface, 5.0) or [])
        again = list(sock.dispatch(iface, 5.0) or [])
        results.append(("dispatch: one packet back to the sender, once", *_judge_dispatch(
            out, again, accepted)))
    except NotImplementedError:
        raise
    except Exception as err:
        results.append(("dispatch: one packet back to the sender, once", False,
                        f"raised {type(err).__name__}: {err}"))
    return results


def _judge_dispatch(out, again, accepted) -> tuple[bool, str]:
    if not accepted:
        return False, "accepts_udp() said False for a datagram to its own port 7"
    if len(out) != 1 or not isinstance(out[0], ipv4.Repr):
        shown = repr(out) if len(repr(out)) <= 60 else repr(out)[:57] + "..."
        return False, f"dispatch() gave {shown}, want [ipv4.Repr(...)]: one packet"
    p = out[0]
    if p.protocol != IpProtocol.UDP:
        return False, f"protocol {p.protocol!r}, want UDP"
    try:
        d = udp.Repr.parse(p.payload, p.src, p.dst)
    except Exception as err:
        return False, (f"its payload is no UDP datagram with a right checksum for {p.src} > "
                       f"{p.dst} ({err}): build it with udp.Repr(...).to_bytes(src, dst)")
    want = (US, GATEWAY, 7, 40000, b"probe")
    got = (p.src, p.dst, d.src_port, d.dst_port, d.payload)
    if got != want:
        return False, (f"{p.src}:{d.src_port} > {p.dst}:{d.dst_port} {d.payload!r}, want "
                       f"{US}:7 > {GATEWAY}:40000 b'probe': back to the sender, from our port")
    if again:
        return False, "a second dispatch() sent it again: forget an echo once it is sent"
    return True, f"{p.src}:{d.src_port} > {p.dst}:{d.dst_port} {d.payload!r}, and no more"


# -- live: host programs through slirp -------------------------------------------------------------

def _free_guest_port(stack) -> int:
    used = {getattr(s, "port", None) for s in stack.sockets}
    while True:
        port = stack.iface.random.randrange(20000, 40000)
        if port not in used and port + 1 not in used:
            return port


def _host_socket() -> socket.socket:
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", 0))                        # the host's loopback only
    s.settimeout(3)
    return s


def _open_way(stack, port: int, programs) -> tuple:
    """A socket of our own on guest ``port`` sends to each host program; each learns where
    slirp holds that port on the host.  Returns (our UdpSocket, handle, [host address])."""
    sock = UdpSocket()
    with stack.lock:
        sock.bind(port)
        handle = stack.sockets.add(sock)
        for prog in programs:
            sock.send_to(b"open", (GATEWAY, prog.getsockname()[1]))
    stack.wake()
    seen = []
    for prog in programs:
        try:
            data, addr = prog.recvfrom(2048)
        except OSError as err:
            stack.remove(handle)
            raise Dos64LabError(
                f"a datagram from guest port {port} to {GATEWAY}:{prog.getsockname()[1]} never "
                f"reached the host program ({err}).  The machine must be started with "
                "restrict=False, and the stack's allow-list must admit 10.0.2.2.") from err
        seen.append(addr)
    return sock, handle, seen


def _recv(prog, n: int, timeout: float = 2.0, give_up=lambda: False) -> list:
    """Up to ``n`` datagrams the host program gets within ``timeout`` (sooner once
    ``give_up()`` says so): [(data, address)]."""
    out, deadline = [], time.monotonic() + timeout
    while len(out) < n:
        left = deadline - time.monotonic()
        if left <= 0 or give_up():
            break
        prog.settimeout(min(left, 0.1))
        try:
            out.append(prog.recvfrom(65536))
        except TimeoutError:
            continue
        except OSError:
            break
    return out


def _live_cases(EchoSocket, stack) -> list:
    port = _free_guest_port(stack)
    a, b = _host_socket(), _host_socket()
    ours = []                                       # sockets the check put in the stack
    try:
        opener, h, (at, at_b) = _open_way(stack, port, (a, b))
        stack.remove(h)
        other, h_other, (other_at,) = _open_way(stack, port + 1, (a,))
        ours.append(other)
        try:
            echo = _Guarded(EchoSocket(port))
        except Exception as err:
            return [(f"EchoSocket({port})", False, f"raised {type(err).__name__}: {err}")]
        with stack.lock:                            # the echo first, so a greedy one shows
            stack.sockets.remove(h_other)
            stack.sockets.add(echo)
            ours.append(echo)
            stack.sockets.add(other)
        results = []

        failed = []

        def broken() -> bool:                       # no need to wait long for a broken one
            return bool(echo.problems or failed)

        def case(label, ok, detail):
            if echo.problems:
                ok, detail = False, "; ".join(dict.fromkeys(echo.problems))
                echo.problems.clear()
                failed.append(label)
            results.append((label, ok, detail))

        a.sendto(b"ping 1", at)
        got = _recv(a, 1, 2.0, broken)
        case("one datagram from a host program came back", bool(got) and got[0][0] == b"ping 1",
            f"{got[0][0]!r}" if got else "no echo within 2 s")
        if got and got[0][0] == b"ping 1":
            ok = got[0][1] == at
            wrong = (f", not {at[0]}:{at[1]}: send it from self.port (slirp gave the echo its "
                     "own host socket, so the program saw a stranger answer)")
            case("the echo came from the port the program sent to", ok,
                 f"from {got[0][1][0]}:{got[0][1][1]}" + ("" if ok else wrong))
        burst = [f"burst {i}".encode() for i in range(10)]
        for data in burst:
            a.sendto(data, at)
        got = [d for d, _ in _recv(a, 10, 2.0, broken)]
        case("ten datagrams in a burst: ten echoes, in order", got == burst,
             f"{len(got)} of 10 came back" + ("" if got == burst or len(got) != 10 else
                                              ", in another order"))
        b.sendto(b"from B", at_b)
        got_b, got_a = _recv(b, 1, 2.0, broken), _recv(a, 1, 0.3)
        ok = [d for d, _ in got_b] == [b"from B"] and not got_a
        case("a second host program: its echo went back to it, not the first", ok,
             "to B" if ok else f"B got {[d for d, _ in got_b]}, A got {[d for d, _ in got_a]}")
        big = os.urandom(1400)
        a.sendto(big, at)
        got = [d for d, _ in _recv(a, 1, 2.0, broken)]
        case("1400 bytes, byte for byte", got == [big],
             "1400 bytes, the same" if got == [big] else
             (f"{len(got[0])} bytes, not the same" if got else "no echo within 2 s"))
        a.sendto(b"for the other port", other_at)
        stolen = _recv(a, 1, 0.5)
        with stack.lock:
            theirs = other.recv_from()
        ok = theirs is not None and theirs[0] == b"for the other port" and not stolen
        case(f"a datagram for guest port {port + 1} went to that port's socket, not the echo", ok,
             "left alone" if ok else "the echo socket took it: accepts_udp() must look at the "
             "destination port (and only then say True)")
        time.sleep(0.1)
        before = stack.polls
        time.sleep(IDLE_FOR)
        rounds = stack.polls - before
        case(f"idle: the stack slept ({rounds} poll rounds in {IDLE_FOR:g} s)",
             rounds < IDLE_ROUNDS, "the loop backs off while nothing is due" if rounds < IDLE_ROUNDS
             else "the loop never slept: poll_at() must say None when no echo waits")
        return results
    finally:
        with stack.lock:
            for handle, sock in stack.sockets.items():
                if any(sock is s for s in ours):
                    stack.sockets.remove(handle)
        a.close()
        b.close()
