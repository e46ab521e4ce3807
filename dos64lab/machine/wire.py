"""The other end of the machine's Ethernet cable: raw frames in and out, beside slirp.

With ``Machine(wire=True)`` the NIC does not plug into slirp directly but into a QEMU
hub (``-netdev hubport``) with two more ports: slirp (so DHCP, ping and hostfwd keep
working) and a ``-netdev dgram`` whose other end is a datagram socket Python holds
(QEMU-FACTS: one frame per datagram; here a Unix socket pair, so no port is opened).

On a hub every port sees every frame but its own: the wire sees what the guest sends
*and* what slirp sends, and a frame sent on the wire reaches both the guest and slirp.
That is what packet tests need: inject hand-made (or hostile) frames the stack really
receives, and watch everything it answers::

    with Machine(wire=True) as m:
        m.wire.send(frame)
        reply = m.wire.receive(timeout=1)
"""

from __future__ import annotations

import collections
import socket
import threading
import time

from ..errors import ArgumentError, MachineError

__all__ = ["Wire", "MAX_HELD"]

MAX_HELD = 4096          # frames kept for receive(); older ones are dropped (and counted)
MAX_FRAME = 65_535


class Wire:
    def __init__(self, sock: socket.socket):
        self._sock = sock
        self._frames: collections.deque = collections.deque()
        self._cond = threading.Condition()
        self.dropped = 0         # frames that arrived while MAX_HELD waited unread
        self.sent = 0
        self.closed = False
        threading.Thread(target=self._reader, name="dos64lab-wire", daemon=True).start()

    def _reader(self) -> None:
        while True:
            try:
                frame = self._sock.recv(MAX_FRAME)
            except OSError:
                frame = b""
            with self._cond:
                if not frame:
                    self.closed = True
                    self._cond.notify_all()
                    return
                if len(self._frames) >= MAX_HELD:
                    self._frames.popleft()
                    self.dropped += 1
                self._frames.append(frame)
                self._cond.notify_all()

    def send(self, frame: bytes) -> None:
        """Put one raw Ethernet frame on the hub (the guest and slirp both get it)."""
        if not isinstance(frame, (bytes, bytearray, memoryview)) or not 0 < len(frame) <= MAX_FRAME:
            shown = f"{len(frame)} bytes" if isinstance(frame, (bytes, bytearray, memoryview)) \
                else type(frame).__name__
            raise ArgumentError("wire.send", "frame", shown, f"must be 1..{MAX_FRAME} bytes")
        try:
            self._sock.send(frame)
        except OSError as err:
            raise MachineError(f"wire: cannot send ({err}): is the machine still running?") from err
        self.sent += 1

    def receive(self, timeout: float = 0.0) -> bytes | None:
        """The oldest frame seen on the hub, waiting up to ``timeout``; None if none came."""
        with self._cond:
            self._cond.wait_for(lambda: self._frames or self.closed, timeout)
            return self._frames.popleft() if self._frames else None

    def expect(self, predicate, timeout: float = 2.0) -> bytes:
        """The first frame for which ``predicate(frame)`` is true (others are skipped)."""
        deadline = time.monotonic() + timeout
        while (left := deadline - time.monotonic()) > 0:
            frame = self.receive(left)
            if frame is not None and predicate(frame):
                return frame
        raise MachineError(f"wire: no matching frame within {timeout} s")

    def clear(self) -> None:
        with self._cond:
            self._frames.clear()

    def close(self) -> None:
        try:
            self._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._sock.close()
