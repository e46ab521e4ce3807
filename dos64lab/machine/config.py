"""The QEMU command line, as data.

``MachineConfig`` holds every choice a lab machine makes; ``argv()`` turns it
into the exact command line, so tests and learners can read what runs.  The
three control channels (QMP, qtest, serial console) are sockets Python already
holds: QEMU gets their other ends as inherited file descriptors, so nothing
listens on a path and nothing can connect to the wrong machine.

The NIC's netdev ``n0`` is slirp (QEMU's user network), or with ``link=`` a Unix
datagram socket shared with a ``LinuxPeer``'s QEMU (one frame per datagram, no port
opened), or, when there are several (``wire=True``, ``slirp=True`` beside a link), a
QEMU hub joining them (``nic_netdevs``).
"""

from dataclasses import dataclass

#: Guest ports forwarded from host 127.0.0.1 (the host side picks free ports, unless
#: ``MachineConfig.host_ports`` names one).
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
    host_ports: tuple = ()      # (("http", 8080), ...): these host ports, not free ones;
                                # a dict is taken too; 0 = any (QEMU fails if one is taken)
    restrict: bool = True       # slirp restrict=on: guest reaches only slirp itself
    guestfwd: tuple = ()        # ((guest_ip, guest_port, host_port), ...) to 127.0.0.1
    pcap: str | None = None     # record every frame on the NIC (filter-dump)
    wire: bool = False          # a hub: NIC + slirp + a raw-frame socket Python holds (Wire)
    link: object = None         # a LinuxPeer (or Link): the NIC on its private segment
    slirp: bool | None = None   # slirp on the NIC; None: yes unless there is a link
                                # (link and slirp=True: both, on a hub)
    nic_slot: int | None = None # PCI slot of the NIC on bus 0 (QEMU picks 1 by default)
    qemu: str = "qemu-system-x86_64"
    extra_args: tuple = ()

    def __post_init__(self):
        _check("accel", self.accel, ("tcg", "kvm"))
        _check("net_mode", self.net_mode, ("host", "kernel"))
        _check("virtio", self.virtio, ("legacy", "modern"))
        if isinstance(self.host_ports, dict):       # frozen: keep it hashable
            object.__setattr__(self, "host_ports", tuple(sorted(self.host_ports.items())))
        for name, port in self.host_ports:
            if name not in GUEST_PORTS or not 0 <= int(port) <= 65535:
                raise ValueError(f"host_ports: {name}={port!r}: expected one of "
                                 f"{', '.join(GUEST_PORTS)} = 0..65535")
        if not (self.has_slirp or self.wire or self.link is not None):
            raise ValueError("slirp=False leaves the NIC unplugged: give a link or wire=True")

    @property
    def has_slirp(self) -> bool:
        return self.link is None if self.slirp is None else self.slirp

    @property
    def has_hostfwd(self) -> bool:
        return self.hostfwd and self.has_slirp

    def argv(self, kernel: str, qmp_fd: int, qtest_fd: int, console_fd: int,
             wire_fd: int | None = None, link_fd: int | None = None,
             ram_fd: int | None = None) -> list[str]:
        accel = ["-accel", "kvm", "-accel", "tcg"] if self.accel == "kvm" else ["-accel", "tcg"]
        backends = {}                               # what the NIC's netdev n0 is cabled to
        if self.has_slirp:
            backends["u0"] = slirp_netdev(self.restrict, self.hostfwd, self.guestfwd,
                                            dict(self.host_ports))
        if self.wire:                               # raw frames to and from Python (Wire)
            backends["d0"] = f"dgram,local.type=fd,local.str={wire_fd}"
        if self.link is not None:                   # a peer's private segment (Link)
            backends["l0"] = f"dgram,local.type=fd,local.str={link_fd}"
        nic = f"virtio-net-pci,id={NIC_ID},netdev=n0,romfile="
        if self.virtio == "modern":
            nic += ",disable-legacy=on"
        if self.nic_slot is not None:
            nic += f",addr={self.nic_slot:#x}"
        netdevs = nic_netdevs(backends)
        machine, ram = "q35", []
        if ram_fd is not None:      # guest RAM in a file Python maps too (Machine.start)
            machine += ",memory-backend=ram"
            ram = ["-object", f"memory-backend-file,id=ram,size={self.memory_mib}M,"
                              f"mem-path=/proc/self/fd/{ram_fd},share=on"]
        argv = [
            self.qemu, "-machine", machine, *ram, "-nodefaults", "-no-user-config",
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


def slirp_netdev(restrict: bool = True, hostfwd: bool = True, guestfwd=(),
                 host_ports: dict | None = None) -> str:
    """QEMU's user networking (slirp); hostfwd: host 127.0.0.1:<free> (or the port
    ``host_ports`` names) to GUEST_PORTS."""
    netdev = f"user,restrict={'on' if restrict else 'off'}"
    if hostfwd:
        host_ports = host_ports or {}
        netdev += "".join(f",hostfwd=tcp:127.0.0.1:{int(host_ports.get(name, 0))}-:{p}"
                          for name, p in GUEST_PORTS.items())
    for guest_ip, guest_port, host_port in guestfwd:
        netdev += f",guestfwd=tcp:{guest_ip}:{guest_port}-tcp:127.0.0.1:{host_port}"
    return netdev


def nic_netdevs(backends: dict) -> list[str]:
    """``-netdev`` options giving the NIC's netdev ``n0`` its backends ({id: "type,options"}).

    One backend is ``n0`` itself.  Several meet on hub 0 (``-netdev hubport``), with one
    more port for the NIC: every port sees the frames of every other.
    """
    def netdev(spec, id):
        kind, _, options = spec.partition(",")
        return ["-netdev", f"{kind},id={id}" + (f",{options}" if options else "")]

    if len(backends) == 1:
        return netdev(next(iter(backends.values())), "n0")
    args = [arg for id, spec in backends.items() for arg in netdev(spec, id)]
    for i, id in enumerate(backends):
        args += ["-netdev", f"hubport,id=h{i},hubid=0,netdev={id}"]
    return args + ["-netdev", "hubport,id=n0,hubid=0"]


def _check(name, value, allowed):
    if value not in allowed:
        raise ValueError(f"{name}={value!r}: expected one of {', '.join(allowed)}")
