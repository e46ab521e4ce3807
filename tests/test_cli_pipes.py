"""`dos64lab ... | head`: a reader that stops early ends the command quietly.

Like other Unix tools, the command stops when nobody reads its output any more:
no traceback on stderr, exit status 0 (or 141, killed by SIGPIPE).  Every test
runs the installed command in a subprocess, as a shell pipeline would.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from dos64lab.phy import PcapWriter
from fixtures.frames import FRAMES, frame

QUIET = (0, 141, -13)         # exited, exit(128 + SIGPIPE), killed by SIGPIPE
SCRIPT = Path(sys.executable).with_name("dos64lab")
DOS64LAB = [str(SCRIPT)] if SCRIPT.exists() else [sys.executable, "-m", "dos64lab.cli"]
MANY = 5000                   # frames: ~400 KB of output, far more than a pipe holds
# As a user's shell runs it: stdout block-buffered, so the last write may come at exit.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}


def start(command, stdin) -> subprocess.Popen:
    return subprocess.Popen(command, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, env=ENV)


def head_1(command, stdin=subprocess.DEVNULL) -> tuple[str, str, int]:
    """Run ``COMMAND | head -1``: read one line, close the pipe, wait."""
    proc = start(command, stdin)
    try:
        line = proc.stdout.readline()
        proc.stdout.close()
        return line, proc.stderr.read(), proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


def into_a_closed_pipe(command) -> tuple[str, int]:
    """Run ``COMMAND`` with a pipe whose reader is already gone: even output small
    enough to stay buffered until the end fails to be written."""
    proc = start(command, subprocess.DEVNULL)
    proc.stdout.close()
    try:
        return proc.stderr.read(), proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()


@pytest.fixture(scope="module")
def big_pcap(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("pipes") / "many.pcap"
    with PcapWriter(path) as w:
        for i in range(MANY):
            w.write(frame(list(FRAMES)[i % len(FRAMES)]), 1.0 + i / 1000)
    return path


def test_decode_pcap_into_head(big_pcap):
    line, err, status = head_1(DOS64LAB + ["decode", "--pcap", str(big_pcap)])
    assert line.startswith("    1 1.000000 ")
    assert err == "" and status in QUIET


def test_decode_hex_stdin_into_head(tmp_path):
    hex_lines = tmp_path / "frames.txt"
    hex_lines.write_text("\n".join(FRAMES.values()) * (MANY // len(FRAMES)) + "\n")
    with open(hex_lines) as stdin:
        line, err, status = head_1(DOS64LAB + ["decode"], stdin=stdin)
    assert line.startswith("    1 ")
    assert err == "" and status in QUIET


@pytest.mark.parametrize("decode", [DOS64LAB + ["decode"],
                                    [sys.executable, "-m", "dos64lab.wire.decode"]])
def test_decode_into_a_closed_pipe(tmp_path, decode):
    with PcapWriter(tmp_path / "one.pcap") as w:
        w.write(frame("arp_request"), 1.0)
    err, status = into_a_closed_pipe(decode + ["--pcap", str(tmp_path / "one.pcap")])
    assert err == "" and status in QUIET


def test_run_into_a_closed_pipe():
    """A subcommand that boots QEMU: it still shuts the machine down, then ends quietly."""
    err, status = into_a_closed_pipe(DOS64LAB + ["run", "VER", "MEM"])
    assert err == "" and status in QUIET
