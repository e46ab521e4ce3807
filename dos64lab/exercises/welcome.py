"""Chapter 00 exercise: read a PCI function's IDs through the qtest channel.

The learner's ``read_id(qtest, bus, slot, function)`` runs on the live machine for every
function QEMU reports (QMP ``query-pci``, behind bridges too) and for an empty slot, where
the bus answers all ones (vendor 0xffff).  PCI Local Bus spec 3.0 §3.2.2.3.2.
"""

from .common import not_done, report


def _functions(machine):
    """(bus, slot, function, vendor, device) of every function QEMU reports, bridges walked."""
    def walk(devices):
        for d in devices:
            yield d["bus"], d["slot"], d["function"], d["id"]["vendor"], d["id"]["device"]
            yield from walk(d.get("pci_bridge", {}).get("devices", []))

    for bus in machine.qmp.execute("query-pci"):
        yield from walk(bus["devices"])


def _empty_slot(machine) -> int:
    used = {slot for bus, slot, *_ in _functions(machine) if bus == 0}
    return max(s for s in range(32) if s not in used)


def check_pci_id(read_id, machine) -> None:
    """``read_id(qtest, bus, slot, function) -> (vendor, device)``.

    Checked on every function QEMU reports (QMP query-pci, behind bridges too) and on
    an empty slot of bus 0, where the bus answers all ones (vendor 0xffff).
    """
    __tracebackhide__ = True
    cases = [(f"{bus:02x}:{slot:02x}.{fn}", (bus, slot, fn), (vendor, device))
             for bus, slot, fn, vendor, device in _functions(machine)]
    empty = _empty_slot(machine)
    cases.append((f"empty slot 00:{empty:02x}.0", (0, empty, 0), (0xFFFF, 0xFFFF)))
    results = []
    for where, bdf, want in cases:
        try:
            got = read_id(machine.qtest, *bdf)
        except NotImplementedError:
            return not_done("check_pci_id", "read_id")
        except Exception as err:            # the learner's bug, reported as a wrong case
            results.append((where, False, f"raised {type(err).__name__}: {err}"))
            continue
        ok = _pair(got) == want if want[0] != 0xFFFF else _pair(got)[:1] == (0xFFFF,)
        results.append((where, ok, _ids(got, want)))
    report("check_pci_id", results)


def _pair(got):
    try:
        vendor, device = got
        return int(vendor), int(device)
    except (TypeError, ValueError):
        return (None, None)


def _ids(got, want) -> str:
    try:
        got_s = f"{got[0]:04x}:{got[1]:04x}"
    except (TypeError, ValueError, IndexError):
        got_s = repr(got)[:40]
    return got_s if _pair(got) == want else f"got {got_s}, want {want[0]:04x}:{want[1]:04x}"
