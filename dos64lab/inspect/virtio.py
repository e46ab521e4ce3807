"""inspect layer: read-only views of a live virtio device -- QEMU's own, and guest RAM's.

Two witnesses the Python driver cannot fool:

* QEMU's view, over QMP (QEMU 7.2, unstable ``x-`` commands): ``x-query-virtio-status``
  (negotiated features, status bits, ISR, broken), ``x-query-virtio-queue-status``
  (ring addresses, size, the device's last_avail_idx and used_idx) and
  ``x-query-virtio-queue-element`` (one descriptor chain as the device would pop it).
* The rings as they are in guest RAM, decoded from bytes (virtio 1.x §2.7).

``compare(net, machine)`` lines the driver's beliefs up against QEMU's view.
Nothing here writes to the device or to guest RAM.
"""

import struct

from ..hw.virtio.features import feature_names, features_from_names, status_names

__all__ = ["qemu_status", "qemu_queue", "qemu_element", "read_rings", "compare"]

_STATUS_BITS = {"ACKNOWLEDGE": 1, "DRIVER": 2, "DRIVER_OK": 4, "FEATURES_OK": 8,
                "NEEDS_RESET": 64, "DEVICE_NEEDS_RESET": 64, "FAILED": 128}


def _feature_bits(block: dict) -> int:
    """QEMU lists features as "NAME: description" strings plus unknown bits."""
    names = block.get("transports", []) + block.get("dev-features", [])
    return features_from_names(names) | block.get("unknown-dev-features", 0)


def qemu_status(machine) -> dict:
    """``x-query-virtio-status`` as numbers and names (the raw answer under "raw")."""
    raw = machine.qmp.execute("x-query-virtio-status", {"path": machine.virtio_path})
    status = 0
    for s in raw["status"].get("statuses", []):
        status |= _STATUS_BITS[s.split(":")[0].removeprefix("VIRTIO_CONFIG_S_")]
    guest, host = _feature_bits(raw["guest-features"]), _feature_bits(raw["host-features"])
    return {"status": status, "status_names": status_names(status),
            "guest_features": guest, "guest_feature_names": feature_names(guest),
            "host_features": host, "host_feature_names": feature_names(host),
            "num_vqs": raw["num-vqs"], "isr": raw["isr"], "broken": raw["broken"],
            "raw": raw}


def qemu_queue(machine, index: int) -> dict:
    """``x-query-virtio-queue-status``: QEMU's side of queue ``index``."""
    return machine.qmp.execute("x-query-virtio-queue-status",
                               {"path": machine.virtio_path, "queue": index})


def qemu_element(machine, index: int, element: int | None = None) -> dict:
    """``x-query-virtio-queue-element``: the chain at avail.ring[element] (default: next)."""
    args = {"path": machine.virtio_path, "queue": index}
    if element is not None:
        args["index"] = element
    return machine.qmp.execute("x-query-virtio-queue-element", args)


def read_rings(qtest, size: int, desc: int, avail: int, used: int) -> dict:
    """The three areas of a split ring, decoded from guest RAM (3 qtest reads)."""
    d = qtest.read(desc, 16 * size)
    a = qtest.read(avail, 4 + 2 * size)
    u = qtest.read(used, 4 + 8 * size)
    return {
        "desc": [{"addr": x, "len": n, "flags": f, "next": nx}
                 for x, n, f, nx in struct.iter_unpack("<QIHH", d)],
        "avail": {"flags": struct.unpack_from("<H", a)[0], "idx": struct.unpack_from("<H", a, 2)[0],
                  "ring": list(struct.unpack_from(f"<{size}H", a, 4))},
        "used": {"flags": struct.unpack_from("<H", u)[0], "idx": struct.unpack_from("<H", u, 2)[0],
                 "ring": [{"id": i, "len": n} for i, n in struct.iter_unpack("<II", u[4:])]},
    }


def compare(net, machine) -> dict:
    """The driver's view beside QEMU's: ``{"agree": bool, "checks": [...]}``.

    ``net`` is a ``hw.virtio.VirtioNet`` (or a ``phy.VirtioNetDevice``).  The driver's
    own bookkeeping is checked too (``VirtioNet.consistency``).  Ring indices
    agree once the driver has reaped what the device returned (``flush()`` for TX,
    ``receive_batch()`` for RX), so call those first.
    """
    net = getattr(net, "net", net)
    qs = qemu_status(machine)
    checks = [("negotiated features", feature_names(net.features), qs["guest_feature_names"]),
              ("status", status_names(net.transport.driver_status), qs["status_names"])]
    for name, vq in (("rx", net.rx), ("tx", net.tx)):
        q = qemu_queue(machine, vq.index)
        checks += [
            (f"{name} size", vq.size, q["vring-num"]),
            (f"{name} desc/avail/used", [vq.desc_addr, vq.avail_addr, vq.used_addr],
             [q["vring-desc"], q["vring-avail"], q["vring-used"]]),
            (f"{name} used.idx (ours: last_used_idx)", vq.last_used_idx, q["used-idx"]),
            (f"{name} in flight at the device", 0, q["inuse"]),
        ]
    rows = [{"what": w, "ours": o, "qemu": q, "agree": o == q} for w, o, q in checks]
    # the driver can be wrong on its own: its free lists and buffers must add up
    problems = net.consistency()
    rows.append({"what": "driver bookkeeping (free lists, buffers)", "ours": problems or "ok",
                 "qemu": "ok", "agree": not problems})
    return {"agree": all(r["agree"] for r in rows), "checks": rows}
