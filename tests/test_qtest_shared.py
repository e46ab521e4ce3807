"""Guest RAM shared with Python (``Qtest.share_ram``) and posted qtest commands.

The DMA region is the guest's own RAM, mapped by Python too: what the driver writes there
QEMU sees at once, and the reverse, without a round trip.  Everything else (port I/O,
MMIO, the rest of RAM) crosses the channel, where writes may be *posted*: one round trip
reads all their replies, in order, and a failure is named by the next command that waits.
The raw ``command()`` lines below always cross the channel: they are QEMU's own view.
"""

import base64
import os

import pytest

from dos64lab.errors import MachineError, QtestError
from dos64lab.machine import Machine


def qemu_reads(q, addr, size) -> bytes:
    return base64.b64decode(q.command(f"b64read {addr:#x} {size:#x}"))


def test_the_dma_region_is_the_guests_own_ram_both_ways(machine):
    q = machine.qtest
    base, size = machine.dma_region
    data = os.urandom(4096)
    trips = q.round_trips
    q.write(base + 4096, data)                              # through the mapping
    q.writel(base, 0x11223344)
    assert q.round_trips == trips                           # no round trip for either
    assert qemu_reads(q, base + 4096, 4096) == data         # QEMU sees them
    assert int(q.command(f"readl {base:#x}"), 16) == 0x11223344
    other = os.urandom(64)
    q.command(f"b64write {base + size - 64:#x} 0x40 {base64.b64encode(other).decode()}")
    trips = q.round_trips
    assert q.read(base + size - 64, 64) == other            # and we see what QEMU wrote
    assert q.readl(base + size - 64) == int.from_bytes(other[:4], "little")
    q.memset(base + 4096, 4096, 0xA5)
    assert q.round_trips == trips
    assert qemu_reads(q, base + 4096, 4096) == b"\xa5" * 4096


def test_ram_outside_the_dma_region_still_crosses_the_channel(machine):
    q = machine.qtest
    base, size = machine.dma_region
    trips = q.round_trips
    q.read(base - 64, 64)                                   # below it
    q.read(base + size - 32, 64)                            # straddling its end
    assert q.round_trips == trips + 2


def test_posted_writes_cost_one_round_trip_and_keep_their_order(machine):
    q = machine.qtest
    base, _ = machine.dma_region
    at = base + 8192
    trips, commands = q.round_trips, q.commands
    for i in range(100):
        q.command(f"writeb {at + i:#x} {i:#x}", wait=False)
    q.command(f"writeb {at:#x} 0xff", wait=False)            # sent later: it wins
    assert q.round_trips == trips and q.commands == commands + 101
    assert q.sync() == [""] * 101                           # every reply: one round trip
    assert q.round_trips == trips + 1
    # the mapping shows a posted write only after sync(): the driver posts doorbells only
    assert q.read(at, 100) == b"\xff" + bytes(range(1, 100))


def test_a_posted_command_that_failed_is_named_by_the_next_one_that_waits(machine):
    q = machine.qtest
    q.outb(0x80, 0x12, wait=False)
    q.command("no_such_command 1", wait=False)
    q.outb(0x80, 0x34, wait=False)
    with pytest.raises(QtestError, match="no_such_command"):
        q.inb(0x3F8 + 5)
    assert q.inb(0x3F8 + 5) & 0x20                          # still in step: one reply each
    assert machine.is_running()


def test_qmp_sees_every_posted_write(machine):
    q = machine.qtest
    base, _ = machine.dma_region
    for value in (0x5A, 0xC3):
        q.command(f"writeb {base + 12288:#x} {value:#x}", wait=False)
        seen = machine.qmp.execute("human-monitor-command",
                                   {"command-line": f"xp /1xb {base + 12288:#x}"})
        assert f"{value:#04x}" in seen


def test_a_closed_machine_shares_nothing_any_more():
    with Machine() as m:
        q, (base, _) = m.qtest, m.dma_region
        q.write(base, b"before")
    with pytest.raises(MachineError):
        q.read(base, 6)
    with pytest.raises(MachineError):
        q.write(base, b"after")
