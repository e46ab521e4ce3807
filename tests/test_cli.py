"""The `dos64lab` command, run as a user runs it."""

import json
import subprocess
import sys
from conftest import dos64lab


def test_info_json_describes_the_machine():
    out = dos64lab("info", "--json")
    assert out.returncode == 0, out.stderr
    info = json.loads(out.stdout)
    assert int(info["qemu_version"].split(".")[0]) >= 7
    assert info["accel"] == "tcg"
    assert info["kernel"]["version"] == "0.1.0" and info["kernel"]["net_mode"] == "host"
    assert info["kernel"]["dma_region"]["size"] >= 16 << 20
    assert set(info["host_ports"]) == {"http", "telnet"}
    assert {"bus": 0, "slot": 1, "function": 0, "vendor": 0x1AF4, "device": 0x1000,
            "class": 0x0200} in info["pci"]
    assert 0 < info["boot_seconds"] < 30


def test_run_prints_each_commands_output():
    out = dos64lab("run", "VER", "ECHO hi", "MEM")
    assert out.returncode == 0, out.stderr
    assert "C:\\>VER\nDOS64 Version 0.1.0" in out.stdout
    assert "C:\\>ECHO hi\nhi\n" in out.stdout
    assert "Free memory:" in out.stdout


def test_errors_are_one_clear_line_not_a_traceback(tmp_path):
    out = subprocess.run([sys.executable, "-m", "dos64lab.cli", "info"], capture_output=True,
                         text=True, env={"DOS64_KERNEL": str(tmp_path / "missing.elf"),
                                         "PATH": "/usr/bin:/bin"}, timeout=60)
    assert out.returncode == 1
    assert out.stderr.startswith("dos64lab: ") and "missing.elf" in out.stderr
    assert "Traceback" not in out.stderr


def test_boot_attaches_the_console_to_a_terminal():
    import os
    import pty
    import select
    import time

    master, slave = pty.openpty()
    boot = subprocess.Popen([sys.executable, "-m", "dos64lab.cli", "boot"],
                            stdin=slave, stdout=slave, stderr=slave, start_new_session=True)
    os.close(slave)
    seen = b""

    def read_until(marker, seconds=30):
        nonlocal seen
        deadline = time.monotonic() + seconds
        while marker not in seen and time.monotonic() < deadline:
            if select.select([master], [], [], 0.1)[0]:
                seen += os.read(master, 4096)
        assert marker in seen, seen.decode(errors="replace")

    try:
        read_until(b"C:\\>")
        os.write(master, b"ECHO typed at a terminal\r")
        read_until(b"\r\ntyped at a terminal\r\n")      # the output, not the echo
        os.write(master, b"\x1d")                       # Ctrl-] leaves
        read_until(b"left the console")
        assert boot.wait(15) == 0
    finally:
        if boot.poll() is None:
            boot.kill()
        os.close(master)
