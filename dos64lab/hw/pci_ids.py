"""hw layer: names for PCI numbers (vendor, device, class), for people to read.

Names come from the ``pci.ids`` database (https://pci-ids.ucw.cz, Debian
package ``pci.ids``) when it is installed, else from a small built-in table
that covers the lab machine.  Names are labels only: no code decides anything
by a name.  The file (~1.4 MB) is parsed once, on first use, keeping only
vendor, device and class lines (subsystem lines are skipped).

pci.ids format: ``VVVV  name`` (vendor), ``\\tDDDD  name`` (device),
``\\t\\tSSSS SSSS  name`` (subsystem); after ``C CC  name`` (class) the
tab-indented lines are subclasses (``\\tSS``) and programming interfaces
(``\\t\\tPP``).
"""

import logging
import os

log = logging.getLogger(__name__)

#: Where Debian (pci.ids package) and other distributions (hwdata) put the file.
PCI_IDS_PATHS = ("/usr/share/misc/pci.ids", "/usr/share/hwdata/pci.ids")

#: Used when no pci.ids file is installed: what the lab machine has.
BUILTIN_VENDORS = {
    0x1AF4: ("Red Hat, Inc.", {
        0x1000: "Virtio network device", 0x1001: "Virtio block device",
        0x1005: "Virtio RNG", 0x1041: "Virtio 1.0 network device",
        0x1042: "Virtio 1.0 block device", 0x1044: "Virtio 1.0 RNG"}),
    0x1B36: ("Red Hat, Inc.", {0x0001: "QEMU PCI-PCI bridge", 0x000C: "QEMU PCIe Root port"}),
    0x8086: ("Intel Corporation", {
        0x29C0: "82G33/G31/P35/P31 Express DRAM Controller",
        0x2918: "82801IB (ICH9) LPC Interface Controller",
        0x2922: "82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]",
        0x2930: "82801I (ICH9 Family) SMBus Controller"}),
}
BUILTIN_CLASSES = {
    0x00: ("Unclassified device", {}),
    0x01: ("Mass storage controller", {0x06: "SATA controller"}),
    0x02: ("Network controller", {0x00: "Ethernet controller"}),
    0x03: ("Display controller", {0x00: "VGA compatible controller"}),
    0x06: ("Bridge", {0x00: "Host bridge", 0x01: "ISA bridge", 0x04: "PCI bridge"}),
    0x0C: ("Serial bus controller", {0x05: "SMBus"}),
    0xFF: ("Unassigned class", {0x00: "Unassigned class"}),
}
BUILTIN = "built-in"

_db = None      # (source, vendors, classes) once loaded


def load(paths=PCI_IDS_PATHS):
    """Parse the first pci.ids found in ``paths`` (or fall back to the built-in table).

    Returns ``(source, vendors, classes)``: ``vendors[v] = (name, {device: name})``,
    ``classes[c] = (name, {subclass: name})``.  Nothing is cached here.
    """
    for path in paths:
        if os.path.exists(path):
            vendors, classes = _parse(path)
            log.debug("pci.ids: %d vendors from %s", len(vendors), path)
            return path, vendors, classes
    return BUILTIN, BUILTIN_VENDORS, BUILTIN_CLASSES


def _parse(path):
    vendors, classes = {}, {}
    table = None                # the dict tab-indented lines belong to
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            if not line.strip() or line[0] == "#" or line.startswith("\t\t"):
                continue                                    # comments, subsystems, prog-ifs
            if line[0] == "\t":
                if table is not None:
                    number, _, name = line.strip().partition("  ")
                    table[int(number, 16)] = name
            elif line.startswith("C "):
                number, _, name = line[2:].strip().partition("  ")
                table = {}
                classes[int(number, 16)] = (name, table)
            else:
                number, _, name = line.strip().partition("  ")
                try:
                    table = {}
                    vendors[int(number, 16)] = (name, table)
                except ValueError:                          # other sections (e.g. "X ...")
                    table = None
    return vendors, classes


def database():
    """The parsed database, loaded on first use and kept in this module."""
    global _db
    if _db is None:
        _db = load()
    return _db


def source() -> str:
    """The pci.ids path names come from, or ``"built-in"``."""
    return database()[0]


def vendor_name(vendor: int) -> str:
    return database()[1].get(vendor, ("", {}))[0] or f"vendor {vendor:04x}"


def device_name(vendor: int, device: int) -> str:
    return database()[1].get(vendor, ("", {}))[1].get(device) or f"device {device:04x}"


def class_name(class_code: int, subclass: int) -> str:
    """Subclass name when known (``"Ethernet controller"``), else the class name."""
    name, subclasses = database()[2].get(class_code, ("", {}))
    return subclasses.get(subclass) or name or f"class {class_code:02x}{subclass:02x}"
