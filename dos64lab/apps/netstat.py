"""netstat: the sockets and counters of a running DOS64 machine, printed the way
net-tools' ``netstat -tuan`` prints them.

A small user program (CONVENTIONS 17): it reads the status document -- the same one
``GET /api/status`` answers, shaped by ``services.status`` -- and prints it.  The document
comes from the running server over HTTP (``read_status(url)``, what ``dos64lab netstat``
does) or straight from a stack in this process (``services.status.status(stack=net)``)::

    doc = read_status("http://127.0.0.1:8080/api/status")
    netstat(doc)
"""

from __future__ import annotations

import json
import urllib.request

__all__ = ["netstat", "read_status", "listening"]


def read_status(url: str, timeout: float = 5.0) -> dict:
    """The status document at ``url`` (``http://127.0.0.1:PORT/api/status``)."""
    with urllib.request.urlopen(url, timeout=timeout) as response:    # noqa: S310 (http only)
        return json.load(response)


def listening(doc: dict) -> list[dict]:
    """The sockets in state LISTEN."""
    return [s for s in doc["sockets"] if s["state"] == "LISTEN"]


def netstat(doc: dict, counters: bool = True, out=print) -> dict:
    """Print the sockets of status document ``doc`` (and its non-zero counters); return
    what was printed as plain data: ``{"sockets": [...], "counters": {...}}``."""
    interface = doc["interface"]
    out(f"Active connections of {doc['kernel']['name']} {doc['kernel']['version']} "
        f"({doc['stack']['name']} stack, {interface['address'] or 'no address'})")
    out(f"{'Proto':<6}{'Recv-Q':>7}{'Send-Q':>7} {'Local Address':<22}{'Foreign Address':<22}State")
    for s in doc["sockets"]:
        out(f"{s['proto']:<6}{s['rx_queue']:>7}{s['tx_queue']:>7} {s['local'] or '*':<22}"
            f"{s['remote'] or '*':<22}{s['state']}")
    seen = {"interface": interface["counters"], "virtio": doc["virtio"]["counters"]}
    if counters:
        for where, values in seen.items():
            nonzero = {k: v for k, v in sorted(values.items()) if v}
            if nonzero:
                out(f"\n{where} counters:")
                for name, value in nonzero.items():
                    out(f"  {name:<32}{value:>12}")
    return {"sockets": doc["sockets"], "counters": seen}
