"""No QEMU of either kind outlives its owner: a process that owns a Linux peer and a
machine cabled to it is SIGKILLed (a crash, a Jupyter kernel restart), or just ends."""

import os
import signal
import subprocess
import sys

from conftest import pid_alive
from dos64lab.machine import Machine
from test_orphans import wait_gone

OWNER = r"""
import sys
from dos64lab.machine import Machine
from dos64lab.peer import LinuxPeer
peer = LinuxPeer().start()
m = Machine(link=peer).start()
print(peer.pid, peer.tmpdir, m.pid, m.tmpdir, flush=True)
sys.stdin.read()                       # until the test closes stdin (or kills us)
"""


def start_owner():
    owner = subprocess.Popen([sys.executable, "-c", OWNER], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True, start_new_session=True)
    line = owner.stdout.readline().split()
    assert len(line) == 4, f"the owner did not start its peer and machine: {line}"
    peer_pid, peer_tmp, m_pid, m_tmp = int(line[0]), line[1], int(line[2]), line[3]
    assert pid_alive(peer_pid) and pid_alive(m_pid) and os.path.isdir(peer_tmp)
    return owner, (peer_pid, m_pid), (peer_tmp, m_tmp)


def test_both_qemus_go_when_the_owner_is_killed():
    owner, pids, tmpdirs = start_owner()
    owner.send_signal(signal.SIGKILL)
    assert owner.wait() == -signal.SIGKILL
    for pid in pids:
        assert wait_gone(pid, 5), f"QEMU {pid} outlived its owner killed by SIGKILL"
    with Machine():                  # the next start removes the folders left behind
        assert not any(os.path.exists(t) for t in tmpdirs)


def test_both_qemus_go_when_the_owner_ends_without_closing():
    owner, pids, tmpdirs = start_owner()
    owner.stdin.close()              # the script ends; nothing closed by hand
    owner.wait(30)
    for pid in pids:
        assert wait_gone(pid, 5)
    assert not any(os.path.exists(t) for t in tmpdirs)
