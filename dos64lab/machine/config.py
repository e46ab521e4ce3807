"""The QEMU command line, as data.

``MachineConfig`` holds every choice a lab machine makes; ``argv()`` turns it
into the exact command line, so tests and learners can read what runs.  The
three control channels (QMP, qtest, serial console) are sockets Python already
holds: QEMU gets their other ends as inherited file descriptors, so nothing
listens on a path and nothing can connect to the wrong machine.
"""

from dataclasses import dataclass

#: Guest ports forwarded from host 127.0.0.1 (the host side picks free ports).
GUEST_PORTS = {"http": 80, "telnet": 23}

NIC_ID = "nic0"
#: QOM path of the virtio backend, for QMP x-query-virtio-* commands.
VIRTIO_PATH = f"/machine/peripheral/{NIC_ID}/virtio-backend"


@dataclass(frozen=True)
class MachineConfig:
    memory_mib: int = 128
    accel: str = "tcg"          # "tcg", or "kvm" (falls back to TCG if KVM fails)
    net_mode: str = "host"      # kernel command line: host = Python drives the NIC
    virtio: str = "legacy"      # "legacy": transitional device (I/O BAR + modern);
                                # "modern": disable-legacy=on (id 0x1041, MMIO only)
    hostfwd: bool = True        # forward host 127.0.0.1:<free> to guest 80 and 23
    restrict: bool = True       # slirp restrict=on: guest reaches only slirp itself
    guestfwd: tuple = ()        # ((guest_ip, guest_port, host_port), ...) to 127.0.0.1
    pcap: str | None = None     # record every frame on the NIC (filter-dump)
    wire: bool = False          # a hub: NIC + slirp + a raw-frame socket Python holds (Wire)
    nic_slot: int | None = None # PCI slot of the NIC on bus 0 (QEMU picks 1 by default)
    qemu: str = "qemu-system-x86_64"
    extra_args: tuple = ()

    def __post_init__(self):
        _check("accel", self.accel, ("tcg", "kvm"))
        _check("net_mode", self.net_mode, ("host", "kernel"))
        _check("virtio", self.virtio, ("legacy", "modern"))

    def argv(self, kernel: str, qmp_fd: int, qtest_fd: int, console_fd: int,
             wire_fd: int | None = None) -> list[str]:
        accel = ["-accel", "kvm", "-accel", "tcg"] if self.accel == "kvm" else ["-accel", "tcg"]
        slirp = "u0" if self.wire else "n0"       # n0 is always what the NIC plugs into
        netdev = f"user,id={slirp},restrict={'on' if self.restrict else 'off'}"
        if self.hostfwd:
            netdev += "".join(f",hostfwd=tcp:127.0.0.1:0-:{p}" for p in GUEST_PORTS.values())
        for guest_ip, guest_port, host_port in self.guestfwd:
            netdev += f",guestfwd=tcp:{guest_ip}:{guest_port}-tcp:127.0.0.1:{host_port}"
        nic = f"virtio-net-pci,id={NIC_ID},netdev=n0,romfile="
        if self.virtio == "modern":
            nic += ",disable-legacy=on"
        if self.nic_slot is not None:
            nic += f",addr={self.nic_slot:#x}"
        netdevs = ["-netdev", netdev]
        if self.wire:                           # hub 0: slirp, the raw-frame socket, the NIC
            netdevs += ["-netdev", f"dgram,id=d0,local.type=fd,local.str={wire_fd}",
                        "-netdev", "hubport,id=h0,hubid=0,netdev=u0",
                        "-netdev", "hubport,id=h1,hubid=0,netdev=d0",
                        "-netdev", "hubport,id=n0,hubid=0"]
        argv = [
            self.qemu, "-machine", "q35", "-nodefaults", "-no-user-config",
            "-display", "none", "-m", str(self.memory_mib), *accel,
            "-kernel", kernel, "-append", f"net={self.net_mode}",
            "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04",
            *netdevs, "-device", nic,
            # control channels: sockets inherited from Python
            "-chardev", f"socket,id=qmp,fd={qmp_fd}", "-mon", "chardev=qmp,mode=control",
            # QEMU 7.2 looks the qtest chardev up by the name "qtest"
            "-chardev", f"socket,id=qtest,fd={qtest_fd}", "-qtest", "chardev:qtest",
            "-qtest-log", "/dev/null",
            "-chardev", f"socket,id=con,fd={console_fd}", "-serial", "chardev:con",
        ]
        if self.pcap:
            argv += ["-object", f"filter-dump,id=dump0,netdev=n0,file={self.pcap}"]
        return argv + list(self.extra_args)


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
