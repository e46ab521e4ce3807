"""The status document: one machine's kernel, interface, ARP cache, sockets, virtqueues and
DHCP lease as plain JSON data -- what ``GET /api/status`` answers.

This file is the one definition of its shape.  The Python server (``services.http``)
serves ``status(...)``; DOS64's own HTTP server (issue 11, ``kernel/``) builds the same
document in C; the status page (``site/app.js``) and the tests read both with
``check_shape``.  Version 1 (``"schema": "dos64lab-status/1"``); every key is always
present, ``null`` where noted::

    {
      "schema":    "dos64lab-status/1",
      "time":      1732540000.123,             # Unix time of the snapshot, seconds (float)
      "kernel": {
        "name":     "DOS64",
        "version":  "0.1.0",                   # DOS64's ready line: version=
        "net":      "host",                    # host: the lab's Python drives the NIC;
                                               # kernel: DOS64's own driver and stack
        "uptime_s": 12.34                      # seconds since the machine started, or null
      },
      "stack": {
        "name":  "dos64lab",                   # "dos64lab" (Python) or "DOS64" (C)
        "polls": 1234                          # rounds of the poll loop (iface_poll)
      },
      "interface": {
        "mac":         "52:54:00:12:34:56",
        "address":     "10.0.2.15/24",         # or null before dhcp()/configure()
        "gateway":     "10.0.2.2",             # or null
        "dns_servers": ["10.0.2.3"],
        "counters":    {"eth_rx": 10, "ipv4_rx_drop_checksum": 0, ...}   # name -> integer
      },
      "arp": [                                 # the neighbour cache, live entries only
        {"ip": "10.0.2.2", "mac": "52:55:0a:00:02:02", "expires_in_s": 55.0}
      ],
      "sockets": [                             # like ss(8):
        {"proto":    "tcp",                    # tcp, udp, icmp, dhcp, dns
         "state":    "ESTABLISHED",            # RFC 9293 names for TCP ("LISTEN", "TIME-WAIT"),
                                               # the DHCP state, "OPEN" for the others
         "local":    "10.0.2.15:80",           # "*:80" while listening; or null
         "remote":   "10.0.2.2:41234",         # or null
         "rx_queue": 0,                        # bytes (tcp) or datagrams waiting to be read;
                                               # a listener: connections waiting for accept
         "tx_queue": 0,                        # bytes (tcp) or datagrams not yet sent (acked);
                                               # a listener: its backlog
         "counters": {"rx_segments": 4, "retransmits": 0, ...}}          # name -> integer
      ],
      "virtio": {
        "transport": "legacy",                 # legacy or modern (native: the C driver's)
        "features":  65569,                    # negotiated feature bits
        "counters":  {"rx_frames": 10, "tx_frames": 9, ...},             # name -> integer
        "queues": {                            # virtio 1.x §2.7, the driver's view:
          "rx": {"index": 0, "size": 256,
                 "avail_idx": 256,             # avail.idx as published to the device
                 "used_idx": 10,               # used.idx as the driver last read it
                 "last_used_idx": 10,          # next used.ring slot the driver reaps
                 "num_free": 0,                # descriptors on the free list
                 "kicks": 1, "kicks_suppressed": 0},
          "tx": {... the same keys ...}
        }
      },
      "dhcp": null,                            # no DHCP client; else:
      "dhcp": {"state": "BOUND", "address": "10.0.2.15/24", "router": "10.0.2.2",
               "dns_servers": ["10.0.2.3"], "server": "10.0.2.2",
               "lease_time_s": 86400.0,        # null: infinite
               "renew_in_s": 43190.2, "expires_in_s": 86390.2}   # null: never
    }

Counters' names are free (each side names its own), their values integers.  JSON has no
infinity: an infinite time is ``null``.
"""

from __future__ import annotations

import math
import os
import time

__all__ = ["status", "check_shape", "SCHEMA"]

SCHEMA = "dos64lab-status/1"


def status(machine=None, stack=None, device=None) -> dict:
    """The status document of ``stack`` (a ``dos64lab.stack.Stack``) on ``machine``.

    ``device`` defaults to the stack's (a ``VirtioNetDevice``, unwrapped from a
    ``FaultInjector``), ``machine`` to the device's.  Reads nothing from the guest and
    nothing over the serial console (the telnet service owns it): the kernel's version
    is its ready line's, the uptime the QEMU process's age.
    """
    if device is None and stack is not None:
        device = getattr(stack.device, "inner", stack.device)
    if machine is None:
        machine = getattr(device, "machine", None)
    info = getattr(machine, "kernel_info", None) or {}
    doc = {
        "schema": SCHEMA,
        "time": time.time(),
        "kernel": {"name": "DOS64", "version": info.get("version", "unknown"),
                   "net": info.get("net", "host"), "uptime_s": _uptime(machine)},
        "stack": {"name": "dos64lab", "polls": 0},
        "interface": {"mac": None, "address": None, "gateway": None, "dns_servers": [],
                      "counters": {}},
        "arp": [], "sockets": [], "virtio": _virtio(None), "dhcp": None,
    }
    if stack is None:
        doc["virtio"] = _virtio(device)
        return doc
    with stack.lock:            # the poll thread holds it while it polls: one consistent view
        now = stack.clock()
        iface = stack.iface.describe(now)
        doc["stack"]["polls"] = stack.polls
        doc["interface"] = {"mac": iface["mac"], "address": iface["address"],
                            "gateway": iface["gateway"], "dns_servers": iface["dns_servers"],
                            "counters": _ints(iface["stats"])}
        doc["arp"] = [{"ip": e["ip"], "mac": e["mac"], "expires_in_s": float(e["expires_in"])}
                      for e in iface["arp"]]
        doc["sockets"] = [_socket(s.describe()) for s in stack.sockets]
        for s in stack.sockets:
            if type(s).__name__ == "DhcpClient":
                doc["dhcp"] = _dhcp(s, now)
        if device is not None:
            doc["virtio"] = _virtio(device)     # the driver's figures, not moving under the lock
    return doc


def _uptime(machine) -> float | None:
    """Seconds since the machine's QEMU started, from /proc (no guest clock needed)."""
    pid = getattr(machine, "pid", None)
    if not pid:
        return None
    try:
        with open(f"/proc/{pid}/stat") as f:
            start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            system_uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return round(max(0.0, system_uptime - start_ticks / os.sysconf("SC_CLK_TCK")), 2)


def _ints(counters: dict) -> dict:
    return {str(k): int(v) for k, v in counters.items()}


def _socket(d: dict) -> dict:
    """A socket's ``describe()`` in the document's shape (ss: Recv-Q, Send-Q)."""
    counters = _ints(d.get("stats", {}))
    if "retransmits" in d:
        counters["retransmits"] = int(d["retransmits"])
    listening = d.get("state") == "LISTEN"
    local = d.get("local") or (f"*:{d['local_port']}" if d.get("local_port") else None)
    return {"proto": d.get("proto", d.get("kind", "?").lower()),
            "state": str(d.get("state", "OPEN")),
            "local": local, "remote": d.get("remote"),
            "rx_queue": int(d.get("accept_queue" if listening else "rx_queue", 0)),
            "tx_queue": max(0, int(d.get("backlog" if listening else "tx_queue", 0))),
            "counters": counters}


def _finite(x) -> float | None:
    return None if x is None or math.isinf(x) or math.isnan(x) else round(float(x), 1)


def _dhcp(client, now: float) -> dict | None:
    lease = client.lease
    if lease is None:
        return None
    d = lease.describe()
    return {"state": client.state.value, "address": d["address"], "router": d["router"],
            "dns_servers": d["dns_servers"], "server": d["server"],
            "lease_time_s": _finite(lease.lease_time),
            "renew_in_s": _finite(lease.renew_at - now),
            "expires_in_s": _finite(lease.expires_at - now)}


_QUEUE_KEYS = ("index", "size", "avail_idx", "used_idx", "last_used_idx", "num_free",
               "kicks", "kicks_suppressed")


def _virtio(device) -> dict:
    net = getattr(device, "net", None)
    if net is None or getattr(net, "closed", False):
        return {"transport": None, "features": 0, "counters": {}, "queues": {}}

    def queue(vq) -> dict:
        return {"index": vq.index, "size": vq.size, "avail_idx": vq.published_idx,
                "used_idx": vq.used_idx, "last_used_idx": vq.last_used_idx,
                "num_free": vq.num_free, "kicks": vq.kicks,
                "kicks_suppressed": vq.kicks_suppressed}

    return {"transport": net.transport.kind, "features": int(net.features),
            "counters": _ints(net.stats), "queues": {"rx": queue(net.rx), "tx": queue(net.tx)}}


# -- the shape, checked -----------------------------------------------------------------------

_STR, _NUM, _INT, _OPT_STR, _OPT_NUM = "str", "num", "int", "str|null", "num|null"
_COUNTERS = "counters"
_SHAPE = {
    "schema": _STR, "time": _NUM,
    "kernel": {"name": _STR, "version": _STR, "net": _STR, "uptime_s": _OPT_NUM},
    "stack": {"name": _STR, "polls": _INT},
    "interface": {"mac": _OPT_STR, "address": _OPT_STR, "gateway": _OPT_STR,
                  "dns_servers": [_STR], "counters": _COUNTERS},
    "arp": [{"ip": _STR, "mac": _STR, "expires_in_s": _NUM}],
    "sockets": [{"proto": _STR, "state": _STR, "local": _OPT_STR, "remote": _OPT_STR,
                 "rx_queue": _INT, "tx_queue": _INT, "counters": _COUNTERS}],
    "virtio": {"transport": _OPT_STR, "features": _INT, "counters": _COUNTERS,
               "queues": "queues"},
    "dhcp": ("null", {"state": _STR, "address": _STR, "router": _OPT_STR, "dns_servers": [_STR],
                      "server": _STR, "lease_time_s": _OPT_NUM, "renew_in_s": _OPT_NUM,
                      "expires_in_s": _OPT_NUM}),
}
_QUEUE = {k: _INT for k in _QUEUE_KEYS}


def check_shape(doc) -> list[str]:
    """What is wrong with ``doc`` as a version-1 status document ([] if nothing)."""
    problems: list[str] = []
    _check(doc, _SHAPE, "$", problems)
    if isinstance(doc, dict) and doc.get("schema") != SCHEMA:
        problems.append(f"$.schema: {doc.get('schema')!r}, expected {SCHEMA!r}")
    return problems


def _check(value, shape, where: str, problems: list) -> None:
    if isinstance(shape, tuple):                     # alternatives: null or a dict
        if value is None and "null" in shape:
            return
        shape = shape[1]
    if isinstance(shape, dict):
        if not isinstance(value, dict):
            problems.append(f"{where}: {type(value).__name__}, expected an object")
            return
        for key, sub in shape.items():
            if key not in value:
                problems.append(f"{where}.{key}: missing")
            else:
                _check(value[key], sub, f"{where}.{key}", problems)
        for key in value.keys() - shape.keys():
            problems.append(f"{where}.{key}: not in the schema")
    elif isinstance(shape, list):
        if not isinstance(value, list):
            problems.append(f"{where}: {type(value).__name__}, expected an array")
            return
        for i, item in enumerate(value):
            _check(item, shape[0], f"{where}[{i}]", problems)
    elif shape == _COUNTERS:
        if not isinstance(value, dict) or not all(
                isinstance(k, str) and type(v) is int for k, v in value.items()):
            problems.append(f"{where}: expected an object of integers")
    elif shape == "queues":
        if not isinstance(value, dict) or set(value) - {"rx", "tx"}:
            problems.append(f"{where}: expected {{rx, tx}}")
        else:
            for name, q in value.items():
                _check(q, _QUEUE, f"{where}.{name}", problems)
    else:
        ok = {"str": lambda v: isinstance(v, str),
              "int": lambda v: type(v) is int,
              "num": lambda v: type(v) in (int, float) and math.isfinite(v)}
        allowed = shape.split("|")
        if not (value is None and "null" in allowed
                or any(ok[a](value) for a in allowed if a != "null")):
            problems.append(f"{where}: {value!r} is not {shape}")
