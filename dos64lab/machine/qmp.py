"""The QMP client of one machine: async core, synchronous facade.

QMP is QEMU's JSON control protocol (docs/interop/qmp-spec).  The core is
``qemu.qmp.QMPClient`` running on the lab's I/O thread (see ``_io``).  Both
faces call the same client:

    m.qmp.execute("query-status")           # from a script or a notebook cell
    await m.qmp.execute_async("query-pci")  # from a coroutine

The synchronous face works inside a running event loop (Jupyter), because it
waits on a thread-safe future, not on the caller's loop.  An error QEMU answers
is a ``MachineError``; a lost connection asks ``on_dead`` how QEMU ended.
"""

import asyncio
import logging

from qemu.qmp import ExecuteError, QMPClient
from qemu.qmp.error import QMPError

from ..errors import MachineError
from . import _io

log = logging.getLogger(__name__)


class QMP:
    """QMP connection over an already-connected socket (QEMU holds the other end)."""

    def __init__(self, sock, name="dos64lab", timeout=10.0, on_dead=MachineError, before=None):
        self.timeout = timeout
        self._before = before            # called before each command (e.g. Qtest.sync)
        self._on_dead = on_dead          # message -> the error saying how QEMU ended
        self._client = QMPClient(name)
        _io.run(self._client.connect(sock), timeout)

    @property
    def greeting(self) -> dict:
        """QEMU's greeting: version and capabilities."""
        return dict(self._client.greeting._raw)

    def execute(self, cmd: str, args: dict | None = None, timeout: float | None = None):
        """Run one QMP command and return its "return" value."""
        if self._before:
            self._before()
        try:
            return _io.run(self._client.execute(cmd, args), timeout or self.timeout)
        except (QMPError, OSError, EOFError) as err:
            raise self._error(cmd, err) from err

    async def execute_async(self, cmd: str, args: dict | None = None):
        """Awaitable form of ``execute`` for use inside a running event loop."""
        if self._before:
            self._before()
        try:
            return await asyncio.wrap_future(_io.submit(self._client.execute(cmd, args)))
        except (QMPError, OSError, EOFError) as err:
            raise self._error(cmd, err) from err

    def _error(self, cmd, err) -> MachineError:
        if isinstance(err, (ExecuteError, TimeoutError)):    # QEMU answered, or is slow
            return MachineError(f"QMP {cmd} failed: {err}")
        return self._on_dead(f"QMP {cmd} failed: {err}")     # the connection is gone

    def hmp(self, command: str) -> str:
        """A human-monitor command (only for what QMP lacks, like `info usernet`)."""
        return self.execute("human-monitor-command", {"command-line": command})

    def close(self) -> None:
        """Disconnect; safe to call twice and after QEMU is gone."""
        try:
            _io.run(self._client.disconnect(), 5)
        except Exception as err:  # QEMU may have closed the socket first
            log.debug("QMP disconnect: %r", err)
