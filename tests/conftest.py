"""Shared fixtures.  Every test that needs QEMU boots a real one.

The autouse ``no_orphan_qemu`` fixture fails any test after which a QEMU it
started is still running: "no orphans" is checked everywhere, not just once.
"""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from dos64lab.machine import Machine

ROOT = Path(__file__).resolve().parents[1]


def dos64lab(*args, timeout=60, **kwargs) -> subprocess.CompletedProcess:
    """Run the `dos64lab` command as a user would; capture its output."""
    return subprocess.run([sys.executable, "-m", "dos64lab.cli", *args],
                          capture_output=True, text=True, timeout=timeout, **kwargs)


def qemu_children() -> set[int]:
    """PIDs of QEMU processes whose parent is this (pytest) process."""
    me, found = os.getpid(), set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)
            comm, ppid = fields[0].split("(", 1)[1], int(fields[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if ppid == me and comm.startswith("qemu-system"):
            found.add(int(stat.parent.name))
    return found


def pid_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


@pytest.fixture(autouse=True)
def no_orphan_qemu():
    before = qemu_children()
    yield
    deadline = time.monotonic() + 5
    while (left := qemu_children() - before) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not left, f"QEMU processes outlived their test: {sorted(left)}"


@pytest.fixture(scope="module")
def machine():
    """One DOS64 machine shared by a test module (boots in well under a second)."""
    with Machine() as m:
        yield m


def pytest_sessionfinish(session, exitstatus):
    """After the whole suite (in each xdist worker): no QEMU of ours may be left."""
    left = [pid for pid in qemu_children() if pid_alive(pid)]
    if left:
        print(f"\nQEMU processes left after the test session: {left}")
        session.exitstatus = 1
