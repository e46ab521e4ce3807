"""The DOS64 shell on COM1, driven through the serial console of a real QEMU."""

import random
import re
import time

import pytest

from dos64lab.errors import ArgumentError
from dos64lab.machine import Machine


COMMANDS = ["HELP", "VER", "MEM", "PCI", "UPTIME", "ECHO", "CLS", "CMDLINE", "PANIC", "EXIT"]


def test_ready_line_describes_the_kernel(machine):
    info = machine.kernel_info
    assert info["version"] == "0.1.0"
    assert info["net"] == "host"
    base, size = machine.dma_region
    assert size >= 16 << 20 and base >= 1 << 20
    assert base + size <= int(info["mem_kib"]) * 1024 + (1 << 20)


def test_help_lists_every_command(machine):
    out = machine.run("HELP")
    for command in COMMANDS:
        assert re.search(rf"^{command}\b", out, re.M), f"{command} missing from HELP:\n{out}"


def test_commands_are_case_insensitive(machine):
    assert machine.run("ver") == machine.run("VER")
    assert "DOS64 Version 0.1.0" in machine.run("VER")


def test_mem_shows_map_and_free_memory(machine):
    out = machine.run("MEM")
    free = int(re.search(r"Free memory: (\d+) KiB", out).group(1))
    assert 16 * 1024 < free < int(machine.kernel_info["mem_kib"])
    assert re.search(r"(?i)available", out)
    assert f"{machine.dma_region[0]:#x}" in out.lower()


def test_pci_scan_agrees_with_qemu(machine):
    ours = set(re.findall(r"^([0-9a-f]{2}):([0-9a-f]{2})\.(\d) ([0-9a-f]{4}):([0-9a-f]{4})",
                          machine.run("PCI"), re.M))
    theirs = {(f"{b['bus']:02x}", f"{d['slot']:02x}", str(d["function"]),
               f"{d['id']['vendor']:04x}", f"{d['id']['device']:04x}")
              for b in machine.qmp.execute("query-pci") for d in b["devices"]}
    assert ours == theirs
    assert ("00", "01", "0", "1af4", "1000") in ours    # the transitional virtio-net


def test_uptime_advances(machine):
    def ticks():
        return int(re.search(r"\((\d+) ticks\)", machine.run("UPTIME")).group(1))

    first = ticks()
    time.sleep(0.3)
    assert ticks() >= first + 10          # 100 Hz PIT: 0.3 s is about 30 ticks


def test_echo_and_cmdline(machine):
    assert machine.run("ECHO Hello, DOS64!") == "Hello, DOS64!"
    assert machine.run("ECHO") == ""
    assert machine.run("CMDLINE") == "net=host"


def test_cls_clears_the_screen(machine):
    assert "\x1b[2J" in machine.run("CLS")


def test_unknown_command_is_an_error_line(machine):
    assert machine.run("FORMAT C:") == "Bad command or file name"
    assert machine.run("") == ""


def test_backspace_edits_the_line(machine):
    c = machine.console
    c.expect(r"C:\\>")
    c.send("ECHO abX\x08c\x7fd\r")
    c.expect(r"\r\nabd\r\n")
    assert machine.run("ECHO still here") == "still here"


def test_garbage_input_never_hangs_the_shell(machine):
    rng = random.Random(64)
    machine.console.send(bytes(rng.randrange(256) for _ in range(3000)))
    machine.console.send(b"\r\x1b[A\x00\xff" + b"A" * 500 + b"\r")
    assert machine.run("ECHO alive") == "alive"


def test_telnet_style_line_ends_count_once(machine):
    c = machine.console
    c.expect(r"C:\\>")
    c.send(b"ECHO one\r\nECHO two\r\x00")
    c.expect(r"\r\none\r\nC:\\>")
    c.expect(r"\r\ntwo\r\n")
    assert machine.run("ECHO three") == "three"   # no empty command in between


def test_a_half_typed_line_never_changes_the_next_answer(machine):
    machine.console.send("ECHO junk")             # typed, Enter never pressed
    assert machine.run("VER").startswith("DOS64 Version")
    machine.console.send(b"X" * 300)              # longer than the shell's line
    assert machine.run("ECHO exact") == "exact"


def test_run_after_a_flood_answers_exactly():
    rng = random.Random(7)
    with Machine() as m:
        ver = m.run("VER")
        m.console.send(bytes(rng.randrange(256) for _ in range(100_000)))
        m.console.send(b"ECHO tail without a line end")
        assert m.run("VER", timeout=30) == ver
        assert m.run("ECHO clean") == "clean"


@pytest.mark.parametrize("command", ["ECHO a\rVER", "ECHO \x1b[2J", "ECHO " + "x" * 200])
def test_a_command_the_shell_cannot_take_is_refused(machine, command):
    with pytest.raises(ArgumentError, match="command="):
        machine.run(command)
    assert machine.run("ECHO ok") == "ok"
