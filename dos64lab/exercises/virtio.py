"""Chapter 02 and 03 exercises: negotiate features; reap the used ring.

Both run the learner's function on the live device and judge it by QEMU's own view
(``x-query-virtio-status``, ``x-query-virtio-queue-status``) and by guest RAM.
"""

import struct
import time

from ..errors import Dos64LabError
from ..hw.virtio import Feature, feature_names, open_transport
from ..inspect import qemu_queue, qemu_status
from ..wire.build import arp_who_has
from .common import report



def check_negotiate(negotiate, machine) -> None:
    """``negotiate(transport, wanted) -> features``: reset, ACKNOWLEDGE, DRIVER, check and
    write the features, FEATURES_OK (modern: re-read it).  Refuse unoffered features
    by raising a ``DeviceError``.

    The transport gives ``reset()``, ``read_status()``, ``write_status(v)``,
    ``device_features()`` and ``write_driver_features(bits)``.
    """
    t = open_transport(machine.qtest, machine.config.virtio)
    base = t.required_features            # modern: VIRTIO_F_VERSION_1 must be accepted
    steps = ["ACKNOWLEDGE", "DRIVER"] + (["FEATURES_OK"] if t.kind == "modern" else [])
    results = []
    cases = [("MAC", Feature.VIRTIO_NET_F_MAC | base),
             ("MAC + STATUS, again without a clean device",
              Feature.VIRTIO_NET_F_MAC | Feature.VIRTIO_NET_F_STATUS | base)]
    for name, wanted in cases:
        try:
            got = negotiate(t, wanted)
        except Exception as err:           # the learner's bug, reported as a wrong case
            results.append((name, False, f"raised {type(err).__name__}: {err}"))
            continue
        q = qemu_status(machine)
        ok = got == wanted and q["guest_features"] == wanted and q["status_names"] == steps
        results.append((name, ok, f"returned {feature_names(got or 0)}; QEMU: features "
                        f"{q['guest_feature_names']}, status {q['status_names']} "
                        f"(want {feature_names(wanted)}, status {steps})"))
    wanted = Feature.VIRTIO_NET_F_CSUM | Feature.VIRTIO_NET_F_MAC | base
    try:
        negotiate(t, wanted)
        q = qemu_status(machine)
        results.append(("a feature the device does not offer (CSUM)", False,
                        f"no error raised; QEMU status {q['status_names']}"))
    except Dos64LabError as err:
        q = qemu_status(machine)
        ok = not q["status"] & (8 | 4)     # neither FEATURES_OK nor DRIVER_OK
        results.append(("a feature the device does not offer (CSUM)", ok,
                        f"{type(err).__name__}: {err}; QEMU status {q['status_names']}"))
    except Exception as err:
        results.append(("a feature the device does not offer (CSUM)", False,
                        f"raised {type(err).__name__} (want a DeviceError): {err}"))
    t.reset()
    report("check_negotiate", results)


def check_reap_used(reap_used, dev, machine) -> None:
    """``reap_used(qtest, used_addr, size, last_used_idx) -> (entries, new_last_used_idx)``.

    ``entries`` are the ``(id, len)`` pairs the device put in used.ring since
    ``last_used_idx`` (a free-running 16-bit counter), oldest first.  ``dev`` is a
    ``VirtioNetDevice``: the check makes slirp answer ARP requests into its RX ring,
    round after round until the ring wraps, and compares with QEMU's used.idx.
    """
    net, results = dev.net, []
    rx, qtest = net.rx, machine.qtest
    net.receive_batch()                           # start from a reaped ring
    arp = arp_who_has(net.mac)
    total = 0
    for k in (0, 3, rx.size - 1, rx.size // 2 + 1):
        k = min(k, rx.size)
        last = rx.last_used_idx
        if k:
            net.send_batch([arp] * k)
        deadline = time.monotonic() + 2
        while qemu_queue(machine, rx.index)["used-idx"] != (last + k) & 0xFFFF:
            if time.monotonic() > deadline:
                raise Dos64LabError(f"the device did not return {k} RX buffers in 2 s")
            time.sleep(0.002)
        raw = qtest.read(rx.used_addr + 4, 8 * rx.size)
        want = [struct.unpack_from("<II", raw, 8 * ((last + i) % rx.size)) for i in range(k)]
        case = (f"{k} new entries from last_used_idx {last} (slots {last % rx.size}.."
                f"{(last + k - 1) % rx.size})" if k else f"nothing new at last_used_idx {last}")
        try:
            entries, new_last = reap_used(qtest, rx.used_addr, rx.size, last)
            entries = [tuple(e) for e in entries]
        except Exception as err:
            results.append((case, False, f"raised {type(err).__name__}: {err}"))
        else:
            ok = entries == want and new_last == (last + k) & 0xFFFF
            results.append((case, ok, f"got {entries[:4]}{' …' if len(entries) > 4 else ''} "
                            f"and last_used_idx {new_last}; want {want[:4]}"
                            f"{' …' if len(want) > 4 else ''} and {(last + k) & 0xFFFF}"))
        total += k
        net.receive_batch()                       # our driver reaps and re-posts for the next round
    results.append(("the ring wrapped", total > rx.size, f"{total} buffers through {rx.size} slots"))
    report("check_reap_used", results)
