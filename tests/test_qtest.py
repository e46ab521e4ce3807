"""The qtest channel never crashes QEMU: bad arguments are refused in Python.

QEMU's qtest server asserts on what it cannot parse (a port above 0xffff, a
number wider than 64 bits, ``read`` of 0 bytes) and aborts the whole machine.
The typed methods check every argument first; when QEMU does die, the error
says how (exit status, QEMU's last stderr lines).
"""

import signal

import pytest

from dos64lab.errors import ArgumentError, Dos64LabError, MachineError
from dos64lab.machine import Machine
from dos64lab.machine.qtest import MAX_TRANSFER

TOP = 1 << 64
BAD_CALLS = {   # id: (call, the argument the error must name)
    "inb port 0x10000": (lambda q: q.inb(0x10000), "port"),
    "inb port -1": (lambda q: q.inb(-1), "port"),
    "outl port 2**32": (lambda q: q.outl(1 << 32, 0), "port"),
    "outb value 0x100": (lambda q: q.outb(0x80, 0x100), "value"),
    "outw value -1": (lambda q: q.outw(0x80, -1), "value"),
    "inb port str": (lambda q: q.inb("0x80"), "port"),
    "inl port float": (lambda q: q.inl(3.0), "port"),
    "writeb addr 2**64": (lambda q: q.writeb(TOP, 0), "addr"),
    "writel value 2**32": (lambda q: q.writel(0x1000, 1 << 32), "value"),
    "writeq value 2**64": (lambda q: q.writeq(0x1000, TOP), "value"),
    "readq past 2**64": (lambda q: q.readq(TOP - 4), "addr"),
    "readb addr -1": (lambda q: q.readb(-1), "addr"),
    "read size -1": (lambda q: q.read(0x1000, -1), "size"),
    "read size huge": (lambda q: q.read(0x1000, MAX_TRANSFER + 1), "size"),
    "read past 2**64": (lambda q: q.read(TOP - 1, 2), "addr"),
    "read form": (lambda q: q.read(0x1000, 4, form="utf8"), "form"),
    "write past 2**64": (lambda q: q.write(TOP - 1, b"ab"), "addr"),
    "write data int": (lambda q: q.write(0x1000, 5), "data"),
    "memset size huge": (lambda q: q.memset(0x1000, 1 << 40), "size"),
    "memset value 0x100": (lambda q: q.memset(0x1000, 4, 0x100), "value"),
    "command two lines": (lambda q: q.command("inb 0x80\ninb 0x10000"), "line"),
}


@pytest.mark.parametrize("call, argument", BAD_CALLS.values(), ids=BAD_CALLS.keys())
def test_bad_argument_is_refused_before_qemu_sees_it(machine, call, argument):
    before = machine.qtest.round_trips
    with pytest.raises(ArgumentError, match=rf"\b{argument}=") as info:
        call(machine.qtest)
    assert isinstance(info.value, ValueError) and isinstance(info.value, Dos64LabError)
    assert info.value.argument == argument
    assert machine.qtest.round_trips == before          # nothing was sent
    assert machine.is_running()
    assert machine.qtest.inb(0x3F8 + 5) & 0x20          # the channel still answers


def test_edges_of_the_ranges_are_accepted(machine):
    q = machine.qtest
    base, _ = machine.dma_region
    assert 0 <= q.inb(0xFFFF) <= 0xFF                   # the last port
    q.outb(0x80, 0xFF)                                  # POST code port, widest byte
    q.writeq(base, TOP - 1)
    assert q.readq(base) == TOP - 1
    q.writel(base, 0xFFFFFFFF)
    assert q.read(base, 4) == b"\xff" * 4
    assert q.read(base, 0) == b"" and q.read(TOP - 8, 8) is not None
    q.memset(base, 16, 0xAB)
    assert q.read(base, 16, form="hex") == b"\xab" * 16
    q.write(base, memoryview(bytearray(b"xyz")))        # any bytes-like object
    assert q.read(base, 3) == b"xyz"


def test_when_qemu_dies_every_channel_says_how():
    with Machine() as m:
        with pytest.raises(MachineError) as info:
            m.qtest.command("inb 0x10000")              # the raw line is not checked: QEMU aborts
        err = info.value
        assert err.returncode == -signal.SIGABRT
        assert "addr <= 0xffff" in err.stderr           # QEMU's own assertion message
        assert "addr <= 0xffff" in str(err) and "SIGABRT" in str(err)
        with pytest.raises(MachineError, match=r"addr <= 0xffff") as info:
            m.run("VER")
        assert info.value.returncode == -signal.SIGABRT
        with pytest.raises(MachineError, match=r"addr <= 0xffff"):
            m.qmp.execute("query-status")
