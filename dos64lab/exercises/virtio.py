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
from .common import not_done, report


def _short(bits: int) -> str:
    """MAC+STATUS+VERSION_1: feature names without their VIRTIO_*_F_ prefix."""
    names = [n.split("_F_", 1)[-1] for n in feature_names(bits or 0)]
    return "+".join(names) or "none"


def _steps(names) -> str:
    return ", ".join(n.replace("ACKNOWLEDGE", "ACK") for n in names) or "0"


def check_negotiate(negotiate, machine) -> None:
    """``negotiate(transport, wanted) -> features``: reset, ACKNOWLEDGE, DRIVER, check and
    write the features, FEATURES_OK (modern: re-read it).  Refuse unoffered features
    by raising a ``DeviceError``.

    The transport gives ``reset()``, ``read_status()``, ``write_status(v)``,
    ``device_features()`` and ``write_driver_features(bits)``.
    """
    __tracebackhide__ = True
    t = open_transport(machine.qtest, machine.config.virtio)
    base = t.required_features            # modern: VIRTIO_F_VERSION_1 must be accepted
    steps = ["ACKNOWLEDGE", "DRIVER"] + (["FEATURES_OK"] if t.kind == "modern" else [])
    results = []
    cases = [(f"{t.kind}: MAC", Feature.VIRTIO_NET_F_MAC | base),
             (f"{t.kind}: MAC + STATUS, again without a clean device",
              Feature.VIRTIO_NET_F_MAC | Feature.VIRTIO_NET_F_STATUS | base)]
    try:
        for name, wanted in cases:
            try:
                got = negotiate(t, wanted)
            except NotImplementedError:
                return not_done("check_negotiate", "negotiate")
            except Exception as err:           # the learner's bug, reported as a wrong case
                results.append((name, False, f"raised {type(err).__name__}: {err}"))
                continue
            q = qemu_status(machine)
            wrong = []
            if got != wanted:
                wrong.append(f"returned {_short(got)}")
            if q["guest_features"] != wanted:
                wrong.append(f"QEMU has {_short(q['guest_features'])}")
            if q["status_names"] != steps:
                wrong.append(f"QEMU status {_steps(q['status_names'])} (want {_steps(steps)})")
            results.append((name, not wrong, "; ".join(wrong) + f"; want {_short(wanted)}" if wrong
                            else f"{_short(got)}, status {_steps(steps)}; QEMU agrees"))
        wanted = Feature.VIRTIO_NET_F_CSUM | Feature.VIRTIO_NET_F_MAC | base
        name = f"{t.kind}: CSUM, which the device does not offer"
        try:
            negotiate(t, wanted)
            q = qemu_status(machine)
            results.append((name, False, f"no error raised; QEMU status {_steps(q['status_names'])}"))
        except NotImplementedError:
            return not_done("check_negotiate", "negotiate")
        except Dos64LabError as err:
            q = qemu_status(machine)
            ok = not q["status"] & (8 | 4)     # neither FEATURES_OK nor DRIVER_OK
            results.append((name, ok, f"{type(err).__name__}: {str(err)[:60]}" if ok else
                            f"raised, but QEMU status is {_steps(q['status_names'])}"))
        except Exception as err:
            results.append((name, False, f"raised {type(err).__name__} (want a DeviceError): {err}"))
    finally:
        t.reset()
    report("check_negotiate", results)


def check_reap_used(reap_used, dev, machine) -> None:
    """``reap_used(qtest, used_addr, size, last_used_idx) -> (entries, new_last_used_idx)``.

    ``entries`` are the ``(id, len)`` pairs the device put in used.ring since
    ``last_used_idx`` (a free-running 16-bit counter), oldest first.  ``dev`` is a
    ``VirtioNetDevice``: the check makes slirp answer ARP requests into its RX ring,
    round after round until the ring wraps, and compares with QEMU's used.idx.
    """
    __tracebackhide__ = True
    net, results = dev.net, []
    rx, qtest = net.rx, machine.qtest
    net.receive_batch()                           # start from a reaped ring
    try:
        reap_used(qtest, rx.used_addr, rx.size, rx.last_used_idx)
    except NotImplementedError:
        return not_done("check_reap_used", "reap_used")
    except Exception:                             # judged case by case below
        pass
    arp = arp_who_has(net.mac)
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
        end = (last + k) & 0xFFFF
        wraps = " (wraps)" if k and (last % rx.size) + k > rx.size else ""
        case = (f"{k} new entries from last_used_idx {last}, slots {last % rx.size}.."
                f"{(last + k - 1) % rx.size}{wraps}" if k else f"nothing new at last_used_idx {last}")
        try:
            entries, new_last = reap_used(qtest, rx.used_addr, rx.size, last)
            entries = [tuple(e) for e in entries]
        except Exception as err:
            results.append((case, False, f"raised {type(err).__name__}: {err}"))
        else:
            ok = entries == want and new_last == end
            if ok:
                detail = f"{len(entries)} entries, last_used_idx {new_last}"
            elif entries != want:
                detail = (f"got {len(entries)} entries {_few(entries)}, want {len(want)} "
                          f"{_few(want)}")
            else:
                detail = f"last_used_idx {new_last}, want {end}"
            results.append((case, ok, detail))
        net.receive_batch()                       # our driver reaps and re-posts for the next round
    report("check_reap_used", results)


def _few(entries) -> str:
    """The first two (id, len) pairs, then an ellipsis."""
    shown = ", ".join(repr(e) for e in entries[:2])
    return f"[{shown}{', …' if len(entries) > 2 else ''}]"
