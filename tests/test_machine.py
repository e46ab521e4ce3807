"""Machine lifecycle against a real QEMU: boot, channels, panic, exit, errors."""

import asyncio
import os
import re
import socket
import threading
import time

import pytest

from dos64lab import LaunchError, MachineError
from dos64lab.errors import PanicError
from dos64lab.machine import Machine, live_machines


def test_qtest_reads_pci_config_like_a_driver(machine):
    q = machine.qtest
    q.outl(0xCF8, 0x80000000 | (1 << 11))       # bus 0, device 1, function 0, offset 0
    assert q.inl(0xCFC) == 0x10001AF4           # virtio-net: device 0x1000, vendor 0x1af4


@pytest.mark.parametrize("form", ["b64", "hex"])
def test_qtest_guest_ram_round_trip(machine, form):
    base, size = machine.dma_region
    data = bytes(range(256)) * 16
    machine.qtest.write(base + 0x1000, data, form=form)
    assert machine.qtest.read(base + 0x1000, len(data), form=form) == data
    machine.qtest.writeq(base, 0x1122334455667788)
    assert machine.qtest.readl(base + 4) == 0x11223344


def test_qtest_failure_is_a_clear_error(machine):
    with pytest.raises(MachineError, match="qtest"):
        machine.qtest.command("no_such_command 1")
    assert machine.qtest.inb(0x3F8 + 5) & 0x20      # the channel still works (LSR: THR empty)


def test_qmp_agrees_the_guest_runs(machine):
    assert machine.qmp.execute("query-status")["status"] == "running"
    assert machine.qmp.greeting["QMP"]["version"]["qemu"]["major"] >= 7


def test_qmp_sync_facade_inside_a_running_event_loop(machine):
    async def in_a_loop():          # what a Jupyter cell is: code inside a running loop
        sync = machine.qmp.execute("query-status")["status"]
        asynchronous = (await machine.qmp.execute_async("query-status"))["status"]
        return sync, asynchronous

    assert asyncio.run(in_a_loop()) == ("running", "running")


def test_hostfwd_ports_are_on_loopback(machine):
    ports = machine.host_ports
    assert set(ports) == {"http", "telnet"} and ports["http"] != ports["telnet"]
    for port in ports.values():
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            pass                   # slirp accepts; nobody answers in the guest yet


def test_panic_prints_a_register_dump_and_halts():
    with Machine() as m:
        m.console.sendline("PANIC")
        m.console.expect(r"System halted\.", 10)
        dump = m.console.transcript
        assert re.search(r"(?i)page fault", dump)
        assert re.search(r"(?i)cr2\W+0x0*100000000", dump)
        assert re.search(r"(?i)rip\W+0x[0-9a-f]+", dump)
        assert "PANIC" in dump
        assert m.is_running()                   # halted, not exited
    assert not m.is_running()


def test_run_stops_at_once_on_a_panic_with_the_register_dump():
    with Machine() as m:
        t0 = time.monotonic()
        with pytest.raises(PanicError) as info:
            m.run("PANIC", timeout=20)
        assert time.monotonic() - t0 < 5, "run() waited for a prompt that never comes"
        report = str(info.value)
        assert "PANIC: page fault at address 0x100000000" in report
        assert re.search(r"CR2=0x0*100000000", report) and re.search(r"RIP=0x[0-9a-f]+", report)
        assert "System halted." in report
        t0 = time.monotonic()
        with pytest.raises(PanicError):             # the machine stays halted: again at once
            m.run("VER", timeout=20)
        assert time.monotonic() - t0 < 5


def test_exit_command_ends_qemu():
    m = Machine().start()
    m.console.sendline("EXIT")
    assert m.wait(10) == 1                      # isa-debug-exit: (0 << 1) | 1
    assert "Bye." in m.console.transcript
    m.close()
    m.close()                                   # idempotent


def test_close_is_idempotent_and_frees_the_machine():
    m = Machine().start()
    pid = m.pid
    assert m in live_machines()
    m.close()
    m.close()
    assert not m.is_running() and m not in live_machines()
    with pytest.raises(MachineError):
        m.start()
    assert pid not in [x.pid for x in live_machines()]


USES = {   # every way to use a machine
    "run": lambda m: m.run("VER"),
    "wait": lambda m: m.wait(1),
    "qtest": lambda m: m.qtest.inb(0x80),
    "qmp": lambda m: m.qmp.execute("query-status"),
    "console": lambda m: m.console.transcript,
    "dma_region": lambda m: m.dma_region,
}


@pytest.mark.parametrize("use", USES.values(), ids=USES.keys())
def test_a_machine_never_started_says_so(use):
    m = Machine()
    with pytest.raises(MachineError, match=r"not started: call start\(\)"):
        use(m)
    m.close()                                   # still safe, and still idempotent
    m.close()


def test_a_closed_machine_says_so():
    m = Machine().start()
    m.close()
    for name, use in USES.items():
        with pytest.raises(MachineError, match="machine was closed"):
            use(m)
            pytest.fail(f"{name} worked on a closed machine")


def test_qemu_that_cannot_exec_leaves_no_temp_folder(tmp_path):
    fake = tmp_path / "qemu-system-x86_64"
    fake.write_bytes(b"not a program")             # executable bit, but exec fails (ENOEXEC)
    fake.chmod(0o755)
    m = Machine(qemu=str(fake))
    with pytest.raises(LaunchError, match="cannot start QEMU"):
        m.start()
    assert m.tmpdir is None or not os.path.exists(m.tmpdir)


def test_missing_kernel_is_a_launch_error(monkeypatch, tmp_path):
    monkeypatch.setenv("DOS64_KERNEL", str(tmp_path / "nope.elf"))
    with pytest.raises(LaunchError, match="nope.elf"):
        Machine().start()


def test_bad_qemu_option_is_a_launch_error_with_context():
    with pytest.raises(LaunchError) as info:
        Machine(extra_args=("-no-such-option",)).start()
    err = info.value
    assert err.returncode not in (None, 0)
    assert "-no-such-option" in err.stderr
    assert "-no-such-option" in err.argv
    assert "command line:" in str(err) and "exit code" in str(err)


def test_kernel_that_never_gets_ready_is_a_launch_error(tmp_path, monkeypatch):
    junk = tmp_path / "junk.elf"
    junk.write_bytes(b"\x7fELF" + bytes(8188))
    monkeypatch.setenv("DOS64_KERNEL", str(junk))
    with pytest.raises(LaunchError) as info:
        Machine().start(timeout=5)
    assert info.value.argv and "junk.elf" in str(info.value)


def test_bad_config_is_refused_before_launch():
    with pytest.raises(ValueError, match="virtio"):
        Machine(virtio="ancient")


def test_kvm_request_falls_back_to_tcg_when_needed():
    with Machine(accel="kvm") as m:
        assert m.accel in ("kvm", "tcg")
        assert m.run("ECHO ok") == "ok"


def test_modern_virtio_device_in_another_slot():
    with Machine(virtio="modern", nic_slot=6) as m:
        assert re.search(r"^00:06\.0 1af4:1041", m.run("PCI"), re.M)


def test_four_machines_in_parallel_have_their_own_ports():
    machines, errors = [Machine() for _ in range(4)], []

    def boot(m):
        try:
            m.start()
        except Exception as err:   # reported below, in the test's thread
            errors.append(err)

    threads = [threading.Thread(target=boot, args=(m,)) for m in machines]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert not errors
        ports = [p for m in machines for p in m.host_ports.values()]
        assert len(set(ports)) == 8
        assert len({m.pid for m in machines}) == 4
        for i, m in enumerate(machines):
            assert m.run(f"ECHO machine {i}") == f"machine {i}"
    finally:
        for m in machines:
            m.close()


def test_pcap_option_records_through_filter_dump(tmp_path):
    pcap = tmp_path / "nic.pcap"
    with Machine(pcap=str(pcap)) as m:
        assert f"filter-dump,id=dump0,netdev=n0,file={pcap}" in m.argv
    assert pcap.read_bytes()[:4] == bytes.fromhex("d4c3b2a1")   # libpcap magic, little endian
