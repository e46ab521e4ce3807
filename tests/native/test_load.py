"""Many clients at once against DOS64's own HTTP server: every one gets a whole, valid answer.

slirp's host side listens with a backlog of 1 (QEMU-FACTS): a burst of connects beyond what
the host kernel queues is dropped there and retried by the client's SYN backoff, before DOS64
sees anything.  So the 200 clients run concurrently but at most ``BOUND`` connect at a time.
"""

import http.client
import re
import threading

import h11

BOUND = 16


def get(port, target):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", target)
        r = c.getresponse()
        return r.status, r.getheader("Content-Length"), r.read()
    finally:
        c.close()


def test_200_concurrent_clients_all_answered(native):
    port = native.host_ports["http"]
    results, errors = [], []
    gate = threading.BoundedSemaphore(BOUND)

    def client(i):
        with gate:
            try:
                results.append(get(port, "/api/status" if i % 2 else f"/missing/{i}"))
            except Exception as err:          # noqa: BLE001 -- reported below
                errors.append(f"client {i}: {err!r}")

    threads = [threading.Thread(target=client, args=(i,)) for i in range(200)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
    assert len(results) == 200
    for status, length, body in results:
        assert status in (200, 404) and int(length) == len(body)
    assert sum(1 for s, _, _ in results if s == 200) == 100
    out = native.run("NETSTAT")
    assert int(re.search(r"tcp_accepted\s+(\d+)", out).group(1)) >= 200
    assert "PANIC" not in native.console.transcript


def test_pipelined_requests_answered_in_order(native):
    import socket
    port = native.host_ports["http"]
    conn = h11.Connection(h11.CLIENT)
    wire = b"".join(conn.send(h11.Request(method="GET", target=t, headers=[("Host", "x")]))
                    + conn.send(h11.EndOfMessage()) if i == 0 else
                    f"GET {t} HTTP/1.1\r\nHost: x\r\n\r\n".encode()
                    for i, t in enumerate(["/nope/1", "/api/status", "/nope/3"]))
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.sendall(wire)
        statuses = []
        while len(statuses) < 3:
            event = conn.next_event()
            if event is h11.NEED_DATA:
                conn.receive_data(s.recv(65536))
            elif isinstance(event, h11.Response):
                statuses.append(event.status_code)
            elif isinstance(event, h11.EndOfMessage):
                conn.start_next_cycle() if len(statuses) < 3 else None
                if len(statuses) < 3:        # h11 needs the next request "sent" to read on
                    conn.send(h11.Request(method="GET", target="/", headers=[("Host", "x")]))
                    conn.send(h11.EndOfMessage())
    assert statuses == [404, 200, 404]
