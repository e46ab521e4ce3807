"""One long-lived background thread for the whole process: the lab's I/O thread.

Two jobs live here:

* the asyncio loop that runs every QMP client, so a synchronous call works the
  same from a script, from pytest, or from inside Jupyter's own running loop
  (we never block *that* loop, we hand the work to this one);
* starting QEMU.  Linux's PR_SET_PDEATHSIG fires when the *thread* that forked
  the child ends, so forking from this thread (which lives as long as the
  process) makes the kernel kill QEMU when the Python process dies, even by
  SIGKILL.
"""

import asyncio
import concurrent.futures
import logging
import threading

log = logging.getLogger(__name__)

_loop = None
_lock = threading.Lock()


def loop() -> asyncio.AbstractEventLoop:
    """The lab's I/O loop, started on first use."""
    global _loop
    with _lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            _loop.set_exception_handler(_quiet_about_closed_channels)
            threading.Thread(target=_loop.run_forever, name="dos64lab-io", daemon=True).start()
        return _loop


def submit(coro) -> concurrent.futures.Future:
    """Schedule a coroutine on the I/O loop; returns a thread-safe future."""
    return asyncio.run_coroutine_threadsafe(coro, loop())


def run(coro, timeout: float):
    """Run a coroutine on the I/O loop and wait for its result."""
    return submit(coro).result(timeout)


def call(fn, *args):
    """Call a plain function on the I/O thread and return its result."""
    async def wrapper():
        return fn(*args)
    return run(wrapper(), timeout=60)


def _quiet_about_closed_channels(loop, context):
    # A QEMU that exits (or is killed) closes its QMP socket under the client's
    # reader task; that end of a machine is normal, not an error to print.
    if isinstance(context.get("exception"), (EOFError, ConnectionError)):
        log.debug("QMP channel closed: %s", context.get("message"))
    else:
        loop.default_exception_handler(context)
