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
while traffic flows, backing off (``MIN_IDLE`` doubling up to ``MAX_IDLE``) while
idle.  A call of the API wakes it at once.  Every access to the interface and the
sockets happens under ``lock``; the device below is itself safe to share.
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
from .socket.udp import SocketError

__all__ = ["Stack", "StackError", "StackTimeout", "SLIRP"]

log = logging.getLogger(__name__)

MIN_IDLE = 0.0005       # seconds between polls right after traffic
MAX_IDLE = 0.050        # ... and at most, when idle: the wake-up latency we accept
                        # for 1-2 % of a core (Python + QEMU; `make bench` measures it)


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
            self.polls += 1
            self.busy_polls += did
            self.changed.notify_all()
            return did

    def wake(self) -> None:
        """Poll soon: something was queued for sending."""
        self._wake.set()

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
    idle = MIN_IDLE
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
        idle = MIN_IDLE if did else min(idle * 2, MAX_IDLE)
        sleep = 0.0 if did else idle if due is None else max(0.0, min(idle, due - now))
        wake = stack._wake
        del stack                           # don't keep it alive while sleeping
        if sleep and wake.wait(sleep):
            wake.clear()
            idle = MIN_IDLE
