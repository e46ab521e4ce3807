"""inspect layer: DOS64's own network stack (``net=kernel``), watched from outside, read-only.

When DOS64 drives the NIC itself, Python only observes.  Three witnesses, none of which
writes anything or runs anything in the guest:

* QEMU's view over QMP: ``x-query-virtio-status`` and ``x-query-virtio-queue-status``
  (negotiated features, status bits, ring addresses, the device's indices);
* the rings themselves, read from guest RAM through the qtest channel at the addresses
  QEMU reports (virtio 1.x §2.7: desc, avail, used), decoded like the Python driver's;
* the kernel's counters, read from guest RAM at the addresses of ``net_stats`` and
  ``net_stat_names`` in the kernel image's symbol table (``kernel/net/stats.c``) --
  the same names NETSTAT and ``/api/status`` print.

``TWINS`` lines the kernel's path up with the Python stack's, step by step (chapter 12)::

    with Machine(net_mode="kernel") as m:
        rings(m)["rx"]["used"]["idx"]          # frames the device has delivered
        counters(m)["tcp_rx"]
"""

from __future__ import annotations

import functools
import json
import os
import struct
import time
import urllib.request
from pathlib import Path

from ..errors import MachineError
from .virtio import qemu_queue, qemu_status, read_rings

__all__ = ["TWINS", "symbols", "counters", "rings", "ring_indices", "snapshot", "watch",
           "status_document"]

#: The kernel's path beside the Python stack's: (step, C in kernel/, Python in dos64lab/).
TWINS = [
    ("find the NIC on PCI (1af4:1041 or 1af4:1000)", "pci.c pci_find", "hw/pci.py find"),
    ("modern transport via vendor capabilities, else legacy I/O BAR",
     "net/virtio_pci.c transport_open", "hw/virtio/transport.py open_transport"),
    ("reset, ACKNOWLEDGE, DRIVER, features, FEATURES_OK",
     "net/virtio_pci.c transport_negotiate", "hw/virtio/transport.py Transport.negotiate"),
    ("split virtqueues: desc, avail, used in the DMA region",
     "net/virtqueue.c virtq_init + transport_setup_queue", "hw/virtio/net.py VirtioNet._make_queue"),
    ("DRIVER_OK, every RX buffer posted, kick",
     "net/virtio_net.c virtio_net_init", "hw/virtio/net.py VirtioNet.start + refill_rx"),
    ("lend a buffer / publish avail.idx / notify", "net/virtqueue.c virtq_add, virtq_kick",
     "hw/virtio/virtqueue.py Virtqueue.add, kick"),
    ("reap used buffers", "net/virtqueue.c virtq_reap", "hw/virtio/virtqueue.py Virtqueue.reap"),
    ("wait for work", "idle.c idle: sti; hlt until the NIC's INTx",
     "stack.py Stack: a thread polls the used ring (no interrupts over qtest)"),
    ("one round: ingress, sockets, timers", "net/iface.c iface_poll",
     "iface/interface.py Interface.poll"),
    ("ARP cache and the pending queue", "net/neighbor.c, net/arp.c",
     "iface/neighbor.py NeighborCache, Interface._arp"),
    ("IPv4 checks, every drop counted", "net/ipv4.c ipv4_input", "iface/interface.py Interface._ipv4"),
    ("ICMP echo both ways", "net/icmp.c icmp_input, ping_send", "socket/icmp.py IcmpSocket"),
    ("UDP sockets", "net/udp.c", "socket/udp.py UdpSocket"),
    ("DHCP lease", "net/dhcp.c dhcp_poll", "socket/dhcp.py DhcpClient"),
    ("TCP segment arrives", "net/tcp_in.c tcp_input", "socket/tcp/socket.py TcpSocket.process_tcp"),
    ("TCP output and timers", "net/tcp_out.c tcp_output, tcp_poll",
     "socket/tcp/socket.py TcpSocket.dispatch"),
    ("HTTP/1.1 server, /api/status", "net/http.c, net/status.c",
     "services/http.py, services/status.py"),
    ("telnet to the shell", "net/telnet.c + console.c", "services/telnet.py"),
]


# -- the kernel image's symbols ------------------------------------------------------------
def _image(machine) -> Path:
    """The ELF the machine booted (its 64-bit link beside it, if there)."""
    argv = list(getattr(machine, "argv", []))
    path = Path(argv[argv.index("-kernel") + 1]) if "-kernel" in argv else None
    if path is None:
        from ..machine.kernel import kernel_image
        path = kernel_image()
    sibling = path.with_suffix(".elf64")
    return sibling if sibling.is_file() else path


@functools.lru_cache(maxsize=8)
def _symbols(path: str, mtime: float) -> dict:
    data = Path(path).read_bytes()
    if data[:4] != b"\x7fELF":
        raise MachineError(f"{path} is not an ELF file")
    is64 = data[4] == 2
    if is64:
        shoff, = struct.unpack_from("<Q", data, 0x28)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    else:
        shoff, = struct.unpack_from("<I", data, 0x20)
        shentsize, shnum = struct.unpack_from("<HH", data, 0x2E)
    sections = []
    for i in range(shnum):
        at = shoff + i * shentsize
        if is64:
            _, kind, _, _, off, size, link, _, _, entsize = struct.unpack_from("<IIQQQQIIQQ", data, at)
        else:
            _, kind, _, _, off, size, link, _, _, entsize = struct.unpack_from("<IIIIIIIIII", data, at)
        sections.append((kind, off, size, link, entsize))
    table = {}
    for kind, off, size, link, entsize in sections:
        if kind != 2:                                   # SHT_SYMTAB
            continue
        _, stroff, _, _, _ = sections[link]
        for at in range(off, off + size, entsize):
            if is64:
                name, _, _, _, value, sz = struct.unpack_from("<IBBHQQ", data, at)
            else:
                name, value, sz, _, _, _ = struct.unpack_from("<IIIBBH", data, at)
            end = data.index(b"\0", stroff + name)
            if name:
                table[data[stroff + name:end].decode()] = (value, sz)
    return table


def symbols(machine) -> dict[str, tuple[int, int]]:
    """``{name: (address, size)}`` from the symbol table of the image ``machine`` booted."""
    path = _image(machine)
    return _symbols(str(path), os.stat(path).st_mtime)


def _require_native(machine) -> None:
    if machine.kernel_info.get("net") != "kernel":
        raise MachineError("this machine runs net=host: the NIC is the lab's, DOS64 keeps no "
                           "rings of its own (start it with Machine(net_mode=\"kernel\"))")


# -- the kernel's counters --------------------------------------------------------------
def counters(machine) -> dict[str, int]:
    """The kernel's network counters (``kernel/net/stats.c``), read from guest RAM."""
    _require_native(machine)
    syms = symbols(machine)
    values_at, size = syms["net_stats"]
    names_at, _ = syms["net_stat_names"]
    q = machine.qtest
    values = struct.unpack(f"<{size // 8}Q", q.read(values_at, size))
    pointers = struct.unpack(f"<{size // 8}Q", q.read(names_at, size))
    lo, hi = min(pointers), max(pointers) + 64                 # the names lie together
    blob = q.read(lo, hi - lo)
    names = [blob[p - lo:blob.index(b"\0", p - lo)].decode() for p in pointers]
    return dict(zip(names, values))


# -- the rings ------------------------------------------------------------------------------
def rings(machine) -> dict:
    """Both queues: QEMU's view and the three areas decoded from guest RAM.

    ``{"rx": {"qemu": {...}, "desc": [...], "avail": {...}, "used": {...}}, "tx": ...}``
    """
    _require_native(machine)
    out = {}
    for name, index in (("rx", 0), ("tx", 1)):
        q = qemu_queue(machine, index)
        ring = read_rings(machine.qtest, q["vring-num"], q["vring-desc"], q["vring-avail"],
                          q["vring-used"])
        out[name] = {"qemu": q, **ring}
    return out


def ring_indices(machine) -> dict:
    """The moving numbers only, cheap enough to sample often: for each queue avail.idx (the
    kernel publishes), used.idx (the device returns), QEMU's last_avail_idx and in-use."""
    _require_native(machine)
    out = {}
    for name, index in (("rx", 0), ("tx", 1)):
        q = qemu_queue(machine, index)
        avail = struct.unpack("<HH", machine.qtest.read(q["vring-avail"], 4))
        used = struct.unpack("<HH", machine.qtest.read(q["vring-used"], 4))
        out[name] = {"avail_idx": avail[1], "used_idx": used[1], "avail_flags": avail[0],
                     "used_flags": used[0], "qemu_last_avail_idx": q["last-avail-idx"],
                     "qemu_used_idx": q["used-idx"], "in_use": q["inuse"]}
    return out


def snapshot(machine) -> dict:
    """Everything above at one moment, as plain data."""
    status = qemu_status(machine)
    return {"time": time.time(), "status": status["status_names"],
            "features": status["guest_feature_names"], "rings": ring_indices(machine),
            "counters": counters(machine)}


def watch(machine, seconds: float, interval: float = 0.1) -> list[dict]:
    """``ring_indices`` every ``interval`` for ``seconds``: the rings moving over time."""
    samples, end = [], time.monotonic() + seconds
    while time.monotonic() < end:
        samples.append({"t": time.monotonic(), **ring_indices(machine)})
        time.sleep(interval)
    return samples


def status_document(machine, timeout: float = 5.0) -> dict:
    """GET /api/status from the kernel's own HTTP server, through hostfwd (as any client)."""
    _require_native(machine)
    port = machine.host_ports.get("http")
    if port is None:
        raise MachineError("no hostfwd for guest port 80 on this machine")
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/status", timeout=timeout) as r:
        return json.load(r)
