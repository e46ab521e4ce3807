"""The live stack: a device, an ``Interface`` and a ``SocketSet``, polled on a thread of its own.

``Interface.poll`` is pure (no threads, no clocks).  This is the one object above
it that owns the pieces and keeps them moving, so notebooks and apps get a blocking
API with timeouts::

    with Machine() as m, Stack.on(m) as net:
        lease = net.dhcp()                      # 10.0.2.15 from slirp
        for reply in net.ping("10.0.2.2", count=3):
            print(reply)

The poll thread sleeps until ``poll_at`` or until frames may have arrived.  There
are no interrupts over qtest, so it watches the used ring adaptively: again at once
while traffic flows, every ``MIN_IDLE`` for ``BUSY_POLL`` after it (as Linux's busy
polling does), then backing off (doubling up to ``MAX_IDLE``) while idle.  A call of
the API wakes it at once.  Every access to the interface and the sockets happens under
``lock``; the device below is itself safe to share.
"""

from __future__ import annotations

import logging
import threading
import time
import weakref
from ipaddress import IPv4Address, IPv4Interface

from .errors import Dos64LabError
from .iface import Interface, InterfaceConfig
from .socket import IcmpSocket, SocketSet, UdpSocket
from .socket.tcp import State
from .socket.udp import SocketError

__all__ = ["Stack", "StackError", "StackTimeout", "SLIRP"]

log = logging.getLogger(__name__)

MIN_IDLE = 0.0001       # seconds between polls while traffic flows (a look at the used
                        # ring is a read of shared memory: cheap, so we look often)
BUSY_POLL = 0.010       # ... and for this long after the last frame: a client's next
                        # request usually follows within milliseconds
MAX_IDLE = 0.050        # then the sleep doubles up to this: the wake-up latency we accept
                        # for 1-2 % of a core (Python + QEMU; `make bench` measures it)
MAX_TIME_WAIT = 64      # closed connections kept in TIME-WAIT; past it the oldest ends
                        # early (Linux's tcp_max_tw_buckets, lwIP's tcp_kill_timewait)


class SLIRP:
    """QEMU user networking's fixed addresses (QEMU-FACTS)."""
    GUEST = IPv4Interface("10.0.2.15/24")
    GATEWAY = IPv4Address("10.0.2.2")
    DNS = IPv4Address("10.0.2.3")


class StackError(Dos64LabError):
    """The live stack failed, or stopped (its error says why)."""


class StackTimeout(StackError, TimeoutError):
    """A blocking call ran out of time; the message says what it waited for and saw."""


class Stack:
    """A running network stack.  ``Stack.on(machine)`` brings up the machine's NIC."""

    def __init__(self, device, config: InterfaceConfig | None = None, *, faults=None,
                 clock=time.monotonic, start: bool = True, owns_device: bool = False):
        if faults:
            from .phy import FaultInjector
            device = FaultInjector(device, **faults)
        self.device = device
        self.iface = Interface(config)
        self.sockets = SocketSet()
        self.clock = clock
        self.lock = threading.RLock()
        self.changed = threading.Condition(self.lock)     # notified after every poll
        self.error: BaseException | None = None
        self.polls = 0                  # rounds run
        self.busy_polls = 0             # rounds that did something
        self._owns_device = owns_device
        self._reap: set[int] = set()    # sockets to remove once finished()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread = None
        if start:
            self.start()

    @classmethod
    def on(cls, machine, config: InterfaceConfig | None = None, *, faults=None, **device_args):
        """A stack on the machine's NIC, driven by the Python driver (closed with the stack)."""
        from .phy import VirtioNetDevice
        return cls(VirtioNetDevice(machine, **device_args), config, faults=faults, owns_device=True)

    # -- the poll thread ------------------------------------------------------------
    def start(self) -> "Stack":
        if self._thread is None:
            self._thread = threading.Thread(target=_run, args=(weakref.ref(self),),
                                            name="dos64lab-stack", daemon=True)
            self._thread.start()
        return self

    def poll_once(self) -> bool:
        """One round under the lock; returns whether anything happened."""
        with self.lock:
            now = self.clock()
            did = self.iface.poll(now, self.device, self.sockets)
            for handle in [h for h in self._reap if self.sockets[h].finished()]:
                self.sockets.remove(handle)
                self._reap.discard(handle)
            orphans = [self.sockets[h] for h in self._reap]
            waiting = [s for s in orphans if getattr(s, "state", None) is State.TIME_WAIT]
            for sock in sorted(waiting, key=lambda s: s.timewait_at)[:-MAX_TIME_WAIT]:
                sock.timewait_at = now              # its 2 MSL end now: closed next round
                self.iface.stats["tcp_time_wait_recycled"] += 1
            self.polls += 1
            self.busy_polls += did
            if did:                         # waiters re-check only when something happened
                self.changed.notify_all()
            return did

    def wake(self) -> None:
        """Poll soon: something was queued for sending."""
        self._wake.set()

    def push(self) -> None:
        """Send what was just queued now, from the caller's thread -- as a ``send()`` system
        call runs TCP's output in the caller's context -- rather than a thread switch
        later; and wake the poll thread.  (If the round fails, the poll thread meets the
        same error and reports it.)"""
        try:
            self.poll_once()
        except Exception as err:            # noqa: BLE001 -- the poll thread says what
            log.debug("push: %r", err)
        self.wake()

    def reap_later(self, handle: int) -> None:
        """Remove socket ``handle`` once it has finished (its last RST or FIN sent)."""
        with self.lock:
            self._reap.add(handle)
        self.wake()

    def close(self) -> None:
        """Stop the thread (and close the device if the stack opened it).  Idempotent."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(5)
        with self.lock:
            self.changed.notify_all()
        if self._owns_device:
            inner = getattr(self.device, "inner", self.device)
            try:
                inner.close()
            except Dos64LabError as err:        # e.g. QEMU already gone: nothing to reset
                log.debug("closing the device: %r", err)

    def __enter__(self) -> "Stack":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # -- waiting ---------------------------------------------------------------------
    def wait_for(self, predicate, timeout: float, what: str, seen=lambda: ""):
        """Wait until ``predicate()`` (called under the lock) is truthy; return its value.

        Raises StackTimeout naming ``what`` and ``seen()`` (what was last seen), or
        StackError if the stack stopped.
        """
        deadline = time.monotonic() + timeout
        with self.lock:
            while True:
                value = predicate()
                if value:
                    return value
                if self.error is not None or self._stop.is_set():
                    raise StackError(f"the stack stopped while waiting for {what}: "
                                     f"{self.error!r}") from self.error
                left = deadline - time.monotonic()
                if left <= 0:
                    detail = seen()
                    raise StackTimeout(f"timed out after {timeout:g} s waiting for {what}"
                                       + (f"; last seen: {detail}" if detail else ""))
                self.changed.wait(min(left, 0.1))

    # -- the API -----------------------------------------------------------------------
    def add(self, socket) -> int:
        with self.lock:
            return self.sockets.add(socket)

    def remove(self, handle: int) -> None:
        with self.lock:
            self.sockets.remove(handle)

    def configure(self, address=SLIRP.GUEST, gateway=SLIRP.GATEWAY, dns_servers=(SLIRP.DNS,)):
        """A static address (the default: slirp's fixed one)."""
        with self.lock:
            self.iface.configure(IPv4Interface(address), gateway and IPv4Address(gateway),
                                 [IPv4Address(s) for s in dns_servers])
        self.wake()

    def ping(self, host, count: int = 4, interval: float = 1.0, size: int = 56,
             timeout: float = 1.0):
        """Echo requests to ``host``; yields an ``EchoReply``, an ``EchoError`` or None
        (no answer within ``timeout``) for each, in order."""
        sock = IcmpSocket()
        handle = self.add(sock)
        payload = bytes(range(256)) * (size // 256 + 1)
        try:
            for seq in range(1, count + 1):
                sent = time.monotonic()
                with self.lock:
                    sock.send_echo(host, seq, payload[:size])
                self.wake()
                try:
                    item = self.wait_for(lambda: _take(sock, seq), timeout, f"echo reply {seq}")
                except StackTimeout:
                    item = None
                yield item
                if seq < count:
                    time.sleep(max(0.0, interval - (time.monotonic() - sent)))
        finally:
            self.remove(handle)

    def connect(self, host, port: int, timeout: float = 10.0, **socket_args) -> "TcpConnection":
        """Open a TCP connection (blocking until ESTABLISHED): ConnectionRefused after an RST,
        ConnectionTimeout when the SYN is never answered, StackTimeout after ``timeout``."""
        from .socket.tcp import TcpSocket
        sock = TcpSocket(**socket_args)
        with self.lock:
            if self.iface.address is None:
                raise StackError("the interface has no address: run dhcp() or configure()")
            local = (self.iface.address, self._free_port())
            sock.connect(local, (IPv4Address(host), port), self.clock())
            handle = self.sockets.add(sock)
        self.wake()
        conn = TcpConnection(self, sock, handle)
        conn.wait_established(timeout)
        return conn

    def listen(self, port: int, backlog: int = 16, **socket_args) -> "TcpServer":
        """A listening TCP port; ``accept()`` gives connections."""
        from .socket.tcp import TcpListener
        listener = TcpListener(port, backlog, **socket_args)
        with self.lock:
            if any(type(s) is TcpListener and s.port == port and s.state == State.LISTEN
                   for s in self.sockets):             # a closed one still sending RSTs is not
                raise StackError(f"TCP port {port} is already listening")
            handle = self.sockets.add(listener)
        return TcpServer(self, listener, handle)

    def _free_port(self) -> int:
        """A random ephemeral port no socket holds -- at either end of a connection to
        ourselves, whose other end (in TIME-WAIT, say) is ours too."""
        me = self.iface.address
        used = {s.local[1] for s in self.sockets if getattr(s, "local", None)}
        used |= {s.remote[1] for s in self.sockets if getattr(s, "remote", None)
                 and s.remote[0] == me}
        while (port := self.iface.random.randrange(49152, 65536)) in used:
            pass
        return port

    def udp(self, port: int = 0) -> "UdpEndpoint":
        """A bound UDP socket with blocking ``sendto``/``recvfrom``."""
        return UdpEndpoint(self, port)

    def dhcp(self, timeout: float = 10.0, **client_args):
        """Lease an address by DHCP and configure the interface with it; returns the ``Lease``.

        Adds a ``DhcpClient`` (kept, so it renews the lease) unless one is there.  Its
        first retransmission comes after 1 s, not RFC 2131's 4 s: slirp answers within
        milliseconds, so a lost frame should not cost a learner 4 s.
        """
        from .socket.dhcp import DhcpClient
        with self.lock:
            client = next((s for s in self.sockets if isinstance(s, DhcpClient)), None)
            if client is None:
                client = DhcpClient(**{"retransmit": 1.0, **client_args})
                self.sockets.add(client)
        self.wake()
        return self.wait_for(lambda: client.lease, timeout, "a DHCP lease",
                             lambda: f"state {client.state.value}; {client.last_seen}")

    def resolve(self, name: str, type: str = "A", server=None, timeout: float = 5.0):
        """Ask a DNS server; returns a ``DnsResult`` (rcode, records, CNAME chain, TC bit).

        ``server``: (ip, port), "ip:port" or "ip"; by default the interface's first DNS
        server, port 53.  The query is tried 3 times within ``timeout``.
        """
        from .socket.dns import DnsClient
        with self.lock:
            if server is None:
                if not self.iface.config.dns_servers:
                    raise StackError("no DNS server known: run dhcp() or pass server=")
                server = (self.iface.config.dns_servers[0], 53)
            client = next((s for s in self.sockets if isinstance(s, DnsClient)), None)
            if client is None:
                client = DnsClient()
                self.sockets.add(client)
            query = client.query(name, type, server, timeout=timeout / client.tries)
        self.wake()
        try:
            # the query gives up by itself after its tries; the margin covers poll latency
            self.wait_for(lambda: query.done, timeout + 1.0, f"a DNS answer for {name} {type}",
                          lambda: query.last_seen)
        finally:
            with self.lock:
                client.queries.pop(query.port, None)
        if query.error:
            raise StackTimeout(query.error)
        return query.result

    def status(self) -> dict:
        """The interface and every socket as plain data."""
        with self.lock:
            now = self.clock()
            return {"interface": self.iface.describe(now),
                    "sockets": [{"handle": h, **s.describe()} for h, s in self.sockets.items()],
                    "polls": self.polls, "busy_polls": self.busy_polls}

    def __repr__(self):
        return f"<Stack {self.iface.config.address} on {self.device!r}>"


def _take(sock, seq):
    """The reply (or error) for ``seq`` from an ICMP socket's queue; older ones are dropped."""
    while sock.rx:
        item = sock.rx.popleft()
        if item.seq == seq:
            return item
    return None


class TcpConnection:
    """A TCP connection of a live stack, with blocking calls (a small ``socket.socket``).

    ``send`` queues what fits, ``sendall`` waits until everything is queued, ``recv``
    returns what arrived (b"" at the end of the stream), ``recv_exactly(n)``,
    ``reader()`` a file-like object for line protocols, ``shutdown()`` sends our FIN,
    ``close()`` ends it.  ``info()``: state and counters (cwnd, SRTT, retransmits, ...).
    """

    def __init__(self, stack: Stack, sock, handle: int):
        self.stack, self.socket, self.handle = stack, sock, handle

    def _wait(self, predicate, timeout, what):
        def check():
            value = predicate()
            if not value and self.socket.error is not None:
                raise self.socket.error
            return value
        return self.stack.wait_for(check, timeout, what,
                                   lambda: f"state {self.socket.state.value}")

    def wait_established(self, timeout: float) -> None:
        try:
            self._wait(lambda: self.socket.state not in (State.SYN_SENT, State.SYN_RECEIVED),
                       timeout, f"TCP connection to {self.remote}")
        except StackTimeout:
            self.abort()
            raise
        if self.socket.error is not None:            # refused (RST), or the SYN timed out
            self.stack.reap_later(self.handle)
            raise self.socket.error

    @property
    def remote(self) -> str:
        ip, port = self.socket.remote
        return f"{ip}:{port}"

    def send(self, data: bytes, timeout: float = 10.0) -> int:
        """Queue what fits (waiting up to ``timeout`` for room); returns how many bytes."""
        if not isinstance(data, (bytes, bytearray, memoryview)):
            data = bytes(data)
        data = memoryview(data).cast("B")   # a view: what sendall has left is never copied
        n = self._wait(lambda: self.socket.send(data) if data else -1, timeout,
                       f"room in the send buffer of {self.remote}")
        self.stack.push()
        return max(n, 0)

    def sendall(self, data: bytes, timeout: float = 30.0) -> None:
        view, deadline = memoryview(data), time.monotonic() + timeout
        while view:
            n = self.send(view, max(0.0, deadline - time.monotonic()))
            view = view[n:]

    def recv(self, limit: int = 65536, timeout: float = 10.0) -> bytes:
        """Bytes that arrived (at most ``limit``); b"" once the peer closed its side."""
        data = self._wait(lambda: self.socket.recv(limit) or (self.socket.eof and b"EOF"),
                          timeout, f"data from {self.remote}")
        self.stack.wake()                            # the window grew: maybe an update to send
        return b"" if data == b"EOF" and self.socket.eof else data

    def recv_exactly(self, n: int, timeout: float = 30.0) -> bytes:
        out, deadline = bytearray(), time.monotonic() + timeout
        while len(out) < n:
            chunk = self.recv(n - len(out), max(0.0, deadline - time.monotonic()))
            if not chunk:
                raise StackError(f"{self.remote} closed after {len(out)} of {n} bytes")
            out += chunk
        return bytes(out)

    def reader(self):
        """A buffered, file-like reader (``readline()``, ``read(n)``) over ``recv``."""
        import io
        conn = self

        class Raw(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, buffer):
                data = conn.recv(len(buffer))
                buffer[:len(data)] = data
                return len(data)

        return io.BufferedReader(Raw())

    def shutdown(self) -> None:
        """Send our FIN after what is queued (we still receive)."""
        with self.stack.lock:
            self.socket.close()
        self.stack.wake()

    def close(self, timeout: float = 5.0) -> None:
        """FIN, wait until the peer acknowledged it (or ``timeout``), forget the socket."""
        self.shutdown()
        try:
            self.stack.wait_for(lambda: self.socket.state in (State.CLOSED, State.TIME_WAIT,
                                                              State.FIN_WAIT_2),
                                timeout, "our FIN to be acknowledged")
        except StackError:
            self.abort()
        self._forget_when_closed()

    def abort(self) -> None:
        """RST to the peer, now."""
        with self.stack.lock:
            self.socket.abort(self.stack.clock())
        self.stack.wake()
        self._forget_when_closed()

    def _forget_when_closed(self):
        # TIME-WAIT and FIN-WAIT-2 go on in the poll loop; the set drops CLOSED sockets
        with self.stack.lock:
            self.socket.orphan(self.stack.clock())
        self.stack.reap_later(self.handle)

    def info(self) -> dict:
        with self.stack.lock:
            return self.socket.describe()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self.abort()


class TcpServer:
    """A listening port of a live stack: ``accept(timeout)`` gives ``TcpConnection``s."""

    def __init__(self, stack: Stack, listener, handle: int):
        self.stack, self.listener, self.handle = stack, listener, handle

    def accept(self, timeout: float = 10.0) -> TcpConnection:
        def take():
            child = self.listener.accept()
            return child and (child, self.stack.sockets.add(child))
        child, handle = self.stack.wait_for(take, timeout,
                                            f"a connection on TCP port {self.listener.port}")
        return TcpConnection(self.stack, child, handle)

    def close(self) -> None:
        """Stop listening; connections not yet accepted are reset."""
        with self.stack.lock:
            self.listener.close(self.stack.clock())
        self.stack.reap_later(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class UdpEndpoint:
    """A UDP socket of a live stack, with blocking calls (a small ``socket.socket``)."""

    def __init__(self, stack: Stack, port: int = 0):
        self.stack, self.socket = stack, UdpSocket()
        with stack.lock:
            self.port = self.socket.bind(port, stack.iface.random)
            self.handle = stack.sockets.add(self.socket)

    def sendto(self, data: bytes, to) -> None:
        with self.stack.lock:
            self.socket.send_to(data, to)
        self.stack.wake()

    def recvfrom(self, timeout: float = 5.0):
        def ready():
            if self.socket.errors:
                raise SocketError(self.socket.errors.pop(0))
            return self.socket.recv_from()
        return self.stack.wait_for(ready, timeout, f"a UDP datagram on port {self.port}")

    def close(self) -> None:
        with self.stack.lock:
            if self.handle in dict(self.stack.sockets.items()):
                self.stack.sockets.remove(self.handle)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def _run(ref) -> None:
    """The poll loop.  Holds the stack only weakly, so a forgotten stack can be collected."""
    idle, busy_until = MIN_IDLE, 0.0
    while True:
        stack = ref()
        if stack is None or stack._stop.is_set():
            return
        try:
            did = stack.poll_once()
            with stack.lock:
                now = stack.clock()
                due = stack.iface.poll_at(now, stack.sockets)
        except Exception as err:            # the machine died, the device was closed, ...
            log.warning("stack stopped: %r", err)
            with stack.lock:
                stack.error = err
                stack.changed.notify_all()
            return
        if did:
            busy_until = now + BUSY_POLL
        idle = MIN_IDLE if now < busy_until else min(idle * 2, MAX_IDLE)
        sleep = 0.0 if did else idle if due is None else max(0.0, min(idle, due - now))
        wake = stack._wake
        del stack                           # don't keep it alive while sleeping
        if sleep and wake.wait(sleep):
            wake.clear()
            idle = MIN_IDLE
