"""Chapter 01 exercises: find the virtio-net function; size a BAR.

Both are checked on the live device against QEMU's own view (QMP query-pci).
"""

from ..hw.pci import BAR0, COMMAND, ConfigSpace
from .common import not_done, report


def _qmp_functions(machine) -> list[dict]:
    """query-pci flattened through bridges."""
    found = []

    def walk(devices):
        for d in devices:
            found.append(d)
            walk(d.get("pci_bridge", {}).get("devices", []))

    for bus in machine.qmp.execute("query-pci"):
        walk(bus["devices"])
    return found


def _bdf(d) -> str:
    return f"{d['bus']:02x}:{d['slot']:02x}.{d['function']}"


def check_find_virtio_net(find_virtio_net, machine) -> None:
    """``find_virtio_net(qtest) -> "bb:ss.f"``, the bdf of the virtio-net function.

    Checked on ``machine`` (a transitional device, 1af4:1000) and on a machine
    this check boots with a modern-only device (1af4:1041) in another slot: a
    driver must accept both ids and look, not assume.
    """
    __tracebackhide__ = True
    from ..machine import Machine
    results = []
    with Machine(virtio="modern", nic_slot=6) as modern:
        for label, m in (("this machine", machine), ("a modern-only machine", modern)):
            want = [_bdf(d) for d in _qmp_functions(m) if d["qdev_id"] == "nic0"][0]
            ids = [f"{d['id']['vendor']:04x}:{d['id']['device']:04x}"
                   for d in _qmp_functions(m) if d["qdev_id"] == "nic0"][0]
            trips = m.qtest.round_trips
            try:
                got = find_virtio_net(m.qtest)
            except NotImplementedError:
                return not_done("check_find_virtio_net", "find_virtio_net")
            except Exception as err:            # the learner's bug, reported as a wrong case
                results.append((f"{label} ({ids})", False, f"raised {type(err).__name__}: {err}"))
                continue
            trips = m.qtest.round_trips - trips
            results.append((f"{label} ({ids})", got == want,
                            repr(got) if got == want else f"got {got!r}, want {want!r}"))
            results.append((f"{label}: scanned", trips >= 4,
                            f"{trips} port accesses to 0xCF8/0xCFC"))
    report("check_find_virtio_net", results)


def check_bar_sizing(size_bar, machine) -> None:
    """``size_bar(cfg, index) -> (kind, address, size)`` with kind "io", "mem32" or "mem64".

    Checked on every BAR of every function QEMU reports; the BAR registers
    and the command register must hold what they held before.
    """
    __tracebackhide__ = True
    results = []
    for d in _qmp_functions(machine):
        cfg = ConfigSpace(machine.qtest, d["bus"], d["slot"], d["function"])
        for r in d["regions"]:
            if r["bar"] > 5:
                continue
            kind = "io" if r["type"] == "io" else "mem64" if r["mem_type_64"] else "mem32"
            want = (kind, r["address"], r["size"])
            before = [cfg.read32(BAR0 + 4 * i) for i in range(6)] + [cfg.read16(COMMAND)]
            error = None
            try:
                got = tuple(size_bar(cfg, r["bar"]))
            except NotImplementedError:
                return not_done("check_bar_sizing", "size_bar")
            except Exception as err:            # the learner's bug, reported as a wrong case
                got, error = None, f"raised {type(err).__name__}: {err}"
            finally:
                after = [cfg.read32(BAR0 + 4 * i) for i in range(6)] + [cfg.read16(COMMAND)]
                for i, value in enumerate(before[:6]):      # put the machine back regardless
                    cfg.write32(BAR0 + 4 * i, value)
                cfg.write16(COMMAND, before[6])
            where = f"{_bdf(d)} BAR{r['bar']}"
            if error:
                results.append((where, False, error))
                continue
            results.append((where, got == want, _show(got) if got == want
                            else f"got {_show(got)}, want {_show(want)}"))
            if after != before:
                results.append((f"{where}: left as found", False,
                                "a BAR or the command register changed: put them back"))
    report("check_bar_sizing", results)


def _show(t) -> str:
    try:
        kind, address, size = t
        return f"{kind} {address:#x} size {size:#x}"
    except (TypeError, ValueError):
        return repr(t)
