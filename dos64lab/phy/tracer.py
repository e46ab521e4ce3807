"""A tracing wrapper (phy layer).

One job: report every frame that passes a Device as one ``pretty()`` line,
``> `` for sent (tx) and ``< `` for received (rx), to a callable (``print``,
``list.append``) or a ``logging.Logger`` (at INFO).  By default it logs to
this module's logger, which is silent until logging is configured.
"""

from __future__ import annotations

import logging
from typing import Callable

from ..wire.pretty import pretty
from .device import Device, DeviceWrapper

__all__ = ["Tracer"]

log = logging.getLogger(__name__)


class Tracer(DeviceWrapper):
    def __init__(self, inner: Device, out: Callable[[str], object] | logging.Logger | None = None):
        super().__init__(inner)
        out = log if out is None else out
        self.out = out.info if isinstance(out, logging.Logger) else out

    def send(self, frame: bytes) -> None:
        self.out("> " + pretty(frame))
        self.inner.send(frame)

    def receive(self) -> bytes | None:
        frame = self.inner.receive()
        if frame is not None:
            self.out("< " + pretty(frame))
        return frame
