"""PCI enumeration against a real QEMU, checked against QEMU's own view (QMP query-pci)."""

import json

import pytest

from dos64lab.errors import DeviceError
from dos64lab.hw import pci, pci_ids
from dos64lab.hw.pci import COMMAND, ConfigSpace
from dos64lab.machine import Machine
from conftest import dos64lab

BRIDGES = (  # a PCI-PCI bridge, a second bridge behind it, a device behind that; a PCIe root port
    "-device", "pci-bridge,chassis_nr=1,id=br1,bus=pcie.0,addr=0x5",
    "-device", "pci-bridge,chassis_nr=2,id=br2,bus=br1,addr=0x4",
    "-device", "virtio-rng-pci,bus=br2,addr=0x2",
    "-device", "pcie-root-port,id=rp1,chassis=3,bus=pcie.0,addr=0x6",
    "-device", "virtio-rng-pci,bus=rp1",
)
MACHINES = {"default": {}, "modern": {"virtio": "modern"}, "bridges": {"extra_args": BRIDGES}}


def qmp_functions(m) -> dict:
    """query-pci flattened: {(bus, slot, function): device}, following pci_bridge."""
    found = {}

    def walk(devices):
        for d in devices:
            found[d["bus"], d["slot"], d["function"]] = d
            walk(d.get("pci_bridge", {}).get("devices", []))

    for bus in m.qmp.execute("query-pci"):
        walk(bus["devices"])
    return found


def qmp_bars(d) -> set:
    kinds = lambda r: "io" if r["type"] == "io" else "mem64" if r["mem_type_64"] else "mem32"
    return {(r["bar"], kinds(r), r["address"], r["size"], r.get("prefetch", False))
            for r in d["regions"] if r["bar"] < 6}          # 6 would be an expansion ROM


def our_bars(f) -> set:
    return {(b.index, b.kind, b.address, b.size, b.prefetchable) for b in f.bars}


@pytest.mark.parametrize("name", MACHINES)
def test_scan_agrees_with_query_pci(name):
    with Machine(**MACHINES[name]) as m:
        ours = {(f.bus, f.slot, f.function): f for f in pci.scan(m.qtest)}
        theirs = qmp_functions(m)
    assert sorted(ours) == sorted(theirs)
    for where, f in ours.items():
        d = theirs[where]
        assert (f.vendor, f.device) == (d["id"]["vendor"], d["id"]["device"]), f.bdf
        assert f.class_code << 8 | f.subclass == d["class_info"]["class"], f.bdf
        assert our_bars(f) == qmp_bars(d), f.bdf
        if "pci_bridge" in d:
            assert f.header_type == pci.HEADER_BRIDGE
            assert f.secondary_bus == d["pci_bridge"]["bus"]["secondary"]
    if name == "bridges":       # bus 2 is reachable only through two bridges
        assert {bus for bus, _, _ in ours} == {0, 1, 2, 3}
        assert (ours[2, 2, 0].vendor, ours[2, 2, 0].device) == (0x1AF4, 0x1005)


def test_scan_finds_every_function_of_a_multifunction_device(machine):
    lpc = {f.function: f for f in pci.scan(machine.qtest) if f.slot == 0x1F}
    assert sorted(lpc) == [0, 2, 3]          # ICH9: LPC, SATA, SMBus; no function 1
    assert lpc[0].multifunction and (lpc[0].vendor, lpc[0].device) == (0x8086, 0x2918)


def test_absent_functions_read_all_ones_and_are_skipped(machine):
    q = machine.qtest
    assert ConfigSpace(q, 0, 2, 0).read16(pci.VENDOR_ID) == 0xFFFF      # empty slot
    assert ConfigSpace(q, 0, 0x1F, 1).read32(pci.VENDOR_ID) == 0xFFFFFFFF  # hole in 00:1f
    assert ConfigSpace(q, 7, 0, 0).read16(pci.VENDOR_ID) == 0xFFFF      # no such bus
    found = {f.bdf for f in pci.scan(q)}
    assert found == {"00:00.0", "00:01.0", "00:1f.0", "00:1f.2", "00:1f.3"}


def test_config_address_layout():
    assert pci.config_address(0, 1, 0, 0) == 0x8000_0800
    assert pci.config_address(0x12, 0x1F, 7, 0x3D) == 0x8012_FF3C     # low two bits dropped


def test_config_space_widths_agree(machine):
    cfg = ConfigSpace(machine.qtest, 0, 1, 0)
    ids = cfg.read32(pci.VENDOR_ID)
    assert ids == 0x1000_1AF4
    assert cfg.read16(pci.DEVICE_ID) == ids >> 16 and cfg.read8(pci.VENDOR_ID + 1) == 0x1A
    assert (cfg.read8(pci.CLASS_CODE), cfg.read8(pci.SUBCLASS)) == (0x02, 0x00)
    assert cfg.dump()[:4] == ids.to_bytes(4, "little") and len(cfg.dump()) == 256
    line = cfg.read8(pci.INTERRUPT_LINE)
    try:                                        # a read-write byte: writes land where asked
        cfg.write8(pci.INTERRUPT_LINE, 0x5A)
        assert cfg.read8(pci.INTERRUPT_LINE) == 0x5A
        assert cfg.read8(pci.INTERRUPT_PIN) == 1      # the neighbour byte is untouched
    finally:
        cfg.write8(pci.INTERRUPT_LINE, line)
    with pytest.raises(ValueError):
        cfg.read8(0x100)


def test_bar_sizing_restores_bars_and_command(machine):
    cfg = ConfigSpace(machine.qtest, 0, 1, 0)
    before = [cfg.read32(pci.BAR0 + 4 * i) for i in range(6)] + [cfg.read16(COMMAND)]
    assert before[-1] & (pci.COMMAND_IO | pci.COMMAND_MEMORY)    # SeaBIOS left decoding on
    bars = pci.size_bars(cfg)
    after = [cfg.read32(pci.BAR0 + 4 * i) for i in range(6)] + [cfg.read16(COMMAND)]
    assert after == before
    assert [(b.index, b.size) for b in bars] == [(0, 0x20), (1, 0x1000), (4, 0x4000)]
    # and the device still decodes at its BAR: the legacy MAC (+20) reads through BAR0
    mac = bytes(machine.qtest.inb(bars[0].address + 20 + i) for i in range(6))
    assert mac == bytes.fromhex("525400123456")


def test_transitional_virtio_net_as_qemu_facts_say(machine):
    nic = pci.find(machine.qtest, 0x1AF4, 0x1000)
    assert nic.bdf == "00:01.0" and nic.revision == 0     # transitional devices: revision 0
    io, msix_bar, mmio = nic.bar(0), nic.bar(1), nic.bar(4)
    assert (io.kind, io.address, io.size) == ("io", 0xC040, 0x20)
    assert ConfigSpace(machine.qtest, 0, 1, 0).read32(pci.BAR0) == 0xC041
    assert (msix_bar.kind, msix_bar.size) == ("mem32", 0x1000)
    assert (mmio.kind, mmio.address, mmio.size, mmio.prefetchable) == ("mem64", 0xFEBF8000, 0x4000, True)
    assert not any(b.index == 5 for b in nic.bars)        # BAR5 is BAR4's upper half

    msix = nic.capability("MSI-X")
    assert msix is nic.capability(0x11) and msix.offset == nic.capabilities[0].offset
    vectors = machine.qmp.execute("qom-get", {"path": "/machine/peripheral/nic0",
                                              "property": "vectors"})
    assert msix.data["table_size"] == vectors == 4
    assert (msix.data["table_bar"], msix.data["table_offset"]) == (1, 0)
    assert (msix.data["pba_bar"], msix.data["pba_offset"]) == (1, 0x800)

    found = {c.data["cfg_name"]: (c.data["cfg_type"], c.data["bar"], c.data["offset"])
             for c in nic.virtio_caps}
    assert found == {"common": (1, 4, 0x0), "isr": (3, 4, 0x1000), "device": (4, 4, 0x2000),
                     "notify": (2, 4, 0x3000), "pci": (5, 0, 0)}
    notify = nic.virtio_cap("notify")
    assert notify.data["notify_off_multiplier"] == 4
    for c in nic.virtio_caps:               # every window fits in the BAR it names
        if c.data["cfg_type"] != 5:
            assert c.data["offset"] + c.data["length"] <= nic.bar(c.data["bar"]).size


def test_capability_chain_is_linked(machine):
    nic = pci.find(machine.qtest, 0x1AF4)
    cfg = nic.config(machine.qtest)
    assert nic.capabilities[0].offset == cfg.read8(pci.CAPABILITIES_POINTER)
    for cap, nxt in zip(nic.capabilities, nic.capabilities[1:] + (None,)):
        assert cap.next == (nxt.offset if nxt else 0)
        assert cfg.read8(cap.offset) == cap.id
    assert nic.capability("PCIe") is None


def test_modern_virtio_net_has_no_io_bar():
    with Machine(virtio="modern") as m:
        nic = pci.find(m.qtest, 0x1AF4)
    assert nic.device == 0x1041 and nic.revision == 1
    assert [b.kind for b in nic.bars] == ["mem32", "mem64"]
    assert nic.bar(4).address == 0xFEBF8000
    assert nic.virtio_cap("common").data["bar"] == 4
    with pytest.raises(DeviceError, match="BAR0"):
        nic.bar(0)


def test_find_an_absent_device_raises(machine):
    with pytest.raises(DeviceError, match="1234:5678"):
        pci.find(machine.qtest, 0x1234, 0x5678)
    with pytest.raises(DeviceError):
        pci.find(machine.qtest, 0x1AF4, 0x1041)     # the modern id: not on this machine
    assert pci.find(machine.qtest, 0x8086).bdf == "00:00.0"


def test_enable_sets_command_bits_and_keeps_the_others(machine):
    nic = pci.find(machine.qtest, 0x1AF4)
    cfg = nic.config(machine.qtest)
    original = cfg.read16(COMMAND)
    try:
        cfg.write16(COMMAND, pci.COMMAND_INTX_DISABLE)
        got = pci.enable(machine.qtest, nic, io=False)
        assert got == cfg.read16(COMMAND) == (pci.COMMAND_INTX_DISABLE | pci.COMMAND_MEMORY
                                              | pci.COMMAND_BUS_MASTER)
        assert pci.enable(machine.qtest, nic) & 0x7 == 0x7
        assert pci.scan(machine.qtest)[1].command & pci.COMMAND_BUS_MASTER
    finally:
        cfg.write16(COMMAND, original)


def test_names_come_from_pci_ids(machine):
    assert pci_ids.source() == "/usr/share/misc/pci.ids"      # Debian package pci.ids
    names = {f.bdf: f for f in pci.scan(machine.qtest)}
    with open(pci_ids.source(), encoding="utf-8") as ids:
        text = ids.read()
    nic = names["00:01.0"]
    assert "\n1af4  Red Hat, Inc.\n" in text and nic.vendor_name == "Red Hat, Inc."
    assert f"\n\t1000  {nic.device_name}\n" in text and nic.class_name == "Ethernet controller"
    assert names["00:1f.2"].device_name == (
        "82801IR/IO/IH (ICH9R/DO/DH) 6 port SATA Controller [AHCI mode]")
    assert pci_ids.vendor_name(0x10EC).startswith("Realtek")        # not in the built-in table
    assert pci_ids.device_name(0x1AF4, 0xBEEF) == "device beef"


def test_built_in_names_without_pci_ids(tmp_path):
    source, vendors, classes = pci_ids.load(paths=(str(tmp_path / "missing.ids"),))
    assert source == pci_ids.BUILTIN
    assert vendors[0x1AF4][1][0x1041] == "Virtio 1.0 network device"
    assert classes[0x06][1][0x04] == "PCI bridge"


def test_pci_ids_parser_keeps_vendors_devices_and_classes(tmp_path):
    path = tmp_path / "pci.ids"
    path.write_text("# comment\n1af4  Red Hat, Inc.\n\t1000  Virtio network device\n"
                    "\t\t01de fffb  a subsystem\n8086  Intel Corporation\n"
                    "C 02  Network controller\n\t00  Ethernet controller\n\t\t01  a prog-if\n")
    source, vendors, classes = pci_ids.load(paths=(str(path),))
    assert source == str(path)
    assert vendors == {0x1AF4: ("Red Hat, Inc.", {0x1000: "Virtio network device"}),
                       0x8086: ("Intel Corporation", {})}
    assert classes == {0x02: ("Network controller", {0x00: "Ethernet controller"})}


def test_cli_pci_json():
    out = dos64lab("pci", "--json")
    assert out.returncode == 0, out.stderr
    found = {f["bus"] << 8 | f["slot"] << 3 | f["function"]: f for f in json.loads(out.stdout)}
    nic = found[1 << 3]
    assert (nic["vendor"], nic["device"], nic["bdf"]) == (0x1AF4, 0x1000, "00:01.0")
    assert {"index": 0, "kind": "io", "address": 0xC040, "size": 0x20,
            "prefetchable": False} in nic["bars"]
    assert [c["name"] for c in nic["capabilities"]][:2] == ["MSI-X", "Vendor"]


def test_cli_pci_table_modern():
    out = dos64lab("pci", "--modern")
    assert out.returncode == 0, out.stderr
    line = next(l for l in out.stdout.splitlines() if l.startswith("00:01.0"))
    assert "1af4:1041" in line and "Virtio 1.0 network device" in line
    assert "BAR4 mem64 0xfebf8000+0x4000" in out.stdout
    assert "notify" in out.stdout and "00:1f.3" in out.stdout


def test_config_dump_widget_shows_every_byte_and_labels_fields(machine):
    from dos64lab.widgets.pci import capability_chain_html, config_dump_html
    nic = pci.find(machine.qtest, 0x1AF4)
    raw = nic.config(machine.qtest).dump()
    html = config_dump_html(raw, nic)
    assert html.count("<td style=") - html.count("color:#888") >= 256     # one cell per byte
    assert 'title="0x00 vendor id">f4<' in html and 'title="0x10 BAR0">41<' in html
    assert "mem64 0xfebf8000 size 0x4000" in html and "notify_off_multiplier 4" in html
    chain = capability_chain_html(nic)
    boxes = [chain.index(f"<b>{c.offset:#04x}</b>") for c in nic.capabilities]
    assert boxes == sorted(boxes) and len(boxes) == 6 and chain.index(">end<") > boxes[-1]
