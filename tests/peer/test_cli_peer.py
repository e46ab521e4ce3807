"""`dos64lab peer`: commands run in a Linux peer, and its shell in a terminal."""

import json
import os
import pty
import select
import subprocess
import sys
import time

from conftest import dos64lab


def test_peer_runs_commands_and_prints_json():
    out = dos64lab("peer", "--json", "uname -r", "false", "echo done", timeout=120)
    assert out.returncode == 1, out.stderr                  # the last failing command's status
    info = json.loads(out.stdout)
    assert info["address"] == "10.0.2.15" and info["mac"] == "52:54:0a:00:02:0f"
    assert set(info["host_ports"]) == {"http", "telnet"}
    assert [r["status"] for r in info["results"]] == [0, 1, 0]
    assert info["results"][0]["output"].strip() == info["kernel"]
    assert info["results"][2]["output"] == "done\n"


def test_peer_shell_in_a_terminal():
    master, slave = pty.openpty()
    peer = subprocess.Popen([sys.executable, "-m", "dos64lab.cli", "peer"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen = b""

    def read_until(marker, seconds=60):
        nonlocal seen
        deadline = time.monotonic() + seconds
        while marker not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        assert marker in seen, seen.decode(errors="replace")

    try:
        read_until(b"peer:/root# ")
        assert b"Linux peer 10.0.2.15/24" in seen and b"http 127.0.0.1:" in seen
        os.write(master, b"echo $((6*7))-at-a-terminal\r")
        read_until(b"\r\n42-at-a-terminal\r\n")             # the output, not the echo
        os.write(master, b"sleep 30\r")
        time.sleep(0.5)
        os.write(master, b"\x03")                           # Ctrl-C reaches Linux
        read_until(b"^C")
        os.write(master, b"\x1d")                           # Ctrl-] leaves
        read_until(b"left the console")
        assert peer.wait(15) == 0
    finally:
        if peer.poll() is None:
            peer.kill()
        os.close(master)
