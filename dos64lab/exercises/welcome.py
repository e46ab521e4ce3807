"""Chapter 00 exercise: read a PCI function's IDs through the qtest channel."""

from .common import report


def check_pci_id(read_id, machine) -> None:
    """``read_id(qtest, bus, slot, function) -> (vendor, device)``.

    Checked on every function QEMU reports (QMP query-pci) and on an empty
    slot, where the bus answers all ones (vendor 0xffff).
    """
    results = []
    for bus in machine.qmp.execute("query-pci"):
        for d in bus["devices"]:
            want = (d["id"]["vendor"], d["id"]["device"])
            got = read_id(machine.qtest, bus["bus"], d["slot"], d["function"])
            where = f"{bus['bus']:02x}:{d['slot']:02x}.{d['function']}"
            results.append((where, tuple(got) == want, _ids(got, want)))
    got = read_id(machine.qtest, 0, 31 - 1, 0)
    results.append(("empty slot 00:1e.0", got[0] == 0xFFFF, _ids(got, (0xFFFF, 0xFFFF))))
    report("check_pci_id", results)


def _ids(got, want) -> str:
    try:
        got_s = f"{got[0]:04x}:{got[1]:04x}"
    except (TypeError, ValueError, IndexError):
        got_s = repr(got)
    return f"got {got_s}, want {want[0]:04x}:{want[1]:04x}"
