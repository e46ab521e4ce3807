"""ping: ICMP echo over the lab's stack, printed the way iputils' ping prints it.

A small user program on the stack's API (``Stack.ping`` sends one echo request at a
time and yields what came back): read it top to bottom.  Exit status as ping's:
0 when any reply came, 1 when none did.
"""

from __future__ import annotations

import statistics
import time

from ..socket import EchoError, EchoReply

__all__ = ["ping"]


def ping(stack, host: str, count: int = 4, interval: float = 1.0, size: int = 56,
         timeout: float = 1.0, out=print) -> dict:
    """Ping ``host`` ``count`` times; print a line per reply and the summary; return it."""
    out(f"PING {host} ({host}) {size}({size + 28}) bytes of data.")
    start, rtts, errors, sent = time.monotonic(), [], 0, 0
    for seq, item in enumerate(stack.ping(host, count, interval, size, timeout), start=1):
        sent += 1
        if isinstance(item, EchoReply):
            rtts.append(item.rtt * 1000)
            out(f"{item.size} bytes from {item.src}: icmp_seq={item.seq} ttl={item.ttl} "
                f"time={item.rtt * 1000:.2f} ms")
        elif isinstance(item, EchoError):
            errors += 1
            src = stack.iface.address if str(item.src) == "0.0.0.0" else item.src
            out(f"From {src} icmp_seq={item.seq} {item.text}")
    elapsed_ms = (time.monotonic() - start) * 1000
    received = len(rtts)
    loss = 100 * (sent - received) / sent if sent else 0
    summary = {"host": host, "transmitted": sent, "received": received, "errors": errors,
               "loss_percent": round(loss, 1), "time_ms": round(elapsed_ms)}
    out(f"\n--- {host} ping statistics ---")
    out(f"{sent} packets transmitted, {received} received"
        + (f", +{errors} errors" if errors else "") + f", {loss:.0f}% packet loss, "
        f"time {elapsed_ms:.0f}ms")
    if rtts:
        mdev = statistics.pstdev(rtts)
        summary["rtt_ms"] = {"min": min(rtts), "avg": statistics.fmean(rtts), "max": max(rtts),
                             "mdev": mdev}
        out(f"rtt min/avg/max/mdev = {min(rtts):.3f}/{statistics.fmean(rtts):.3f}/"
            f"{max(rtts):.3f}/{mdev:.3f} ms")
    return summary
