"""No orphan QEMU (nor temp folder): not after SIGKILL of its owner, and not killed by an interrupt.

These run a separate Python process that owns a machine, as a Jupyter kernel
would, and then do to that process what Jupyter or a crash does.
"""

import os
import signal
import subprocess
import sys
import time

import pytest

from conftest import pid_alive
from dos64lab.machine import Machine

OWNER = r"""
import os, signal, sys, time
from dos64lab.machine import Machine
# os.write, not print: the signal may arrive while print() holds stdout's lock
signal.signal(signal.SIGINT, lambda *a: os.write(1, b"interrupted\n"))
m = Machine().start()
print(m.pid, m.tmpdir, flush=True)
for line in sys.stdin:                 # each line: run it in DOS64, print the answer
    print(m.run(line.strip()).replace("\n", " "), flush=True)
"""


def start_owner():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    pid, tmpdir = owner.stdout.readline().split()
    assert pid_alive(int(pid)) and os.path.isdir(tmpdir)
    return owner, int(pid), tmpdir


def wait_gone(pid, seconds):
    deadline = time.monotonic() + seconds
    while pid_alive(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not pid_alive(pid)


@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGTERM], ids=["SIGKILL", "SIGTERM"])
def test_qemu_and_its_temp_folder_go_when_the_owner_is_killed(sig):
    owner, qemu_pid, tmpdir = start_owner()
    owner.send_signal(sig)           # a crash, or a Jupyter kernel restart: no atexit, no finally
    assert owner.wait() == -sig      # the owner still dies of that signal
    assert wait_gone(qemu_pid, 5), f"QEMU {qemu_pid} outlived its owner killed by {sig.name}"
    if sig == signal.SIGTERM:        # Python can run: the owner removes its folder itself
        assert not os.path.exists(tmpdir)
    with Machine():                  # SIGKILL: the next machine removes the stale folder
        assert not os.path.exists(tmpdir)


def test_qemu_survives_an_interrupt_of_its_owner():
    owner, qemu_pid, tmpdir = start_owner()
    try:
        os.killpg(owner.pid, signal.SIGINT)         # what Jupyter's Interrupt button does
        assert owner.stdout.readline().strip() == "interrupted"
        owner.stdin.write("ECHO after interrupt\n")
        owner.stdin.flush()
        assert owner.stdout.readline().strip() == "after interrupt"
        assert pid_alive(qemu_pid)
    finally:
        owner.stdin.close()                         # the owner exits normally: atexit closes
        owner.wait(20)
    assert wait_gone(qemu_pid, 5)


def test_qemu_ends_when_its_owner_exits_without_closing():
    owner, qemu_pid, tmpdir = start_owner()
    owner.stdin.close()                             # script ends, machine never closed by hand
    assert owner.wait(20) == 0
    assert wait_gone(qemu_pid, 5)
    assert not os.path.exists(tmpdir)
