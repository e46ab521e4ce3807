"""Chapter 09 exercise: parse an HTTP/1.1 request-line (RFC 9112 §3).

The learner's ``parse_request_line(line: bytes) -> (method, target, (major, minor))`` runs on
request-lines that really crossed the network: the check listens on the guest's port 80
with the learner's stack, sends requests from the host through slirp's hostfwd (Python's
``http.client`` and raw sockets for what no polite client sends), reads each request-line
as the stack received it, and answers the host with what the learner's parser made of it
(200, or 400 for a line it refused).  A malformed line must raise ``ValueError``.

The rule (RFC 9112 §3): ``method SP request-target SP HTTP-version``, exactly one space
apart; the method a token (RFC 9110 §5.6.2), the target visible ASCII, the version
``HTTP/`` DIGIT ``.`` DIGIT.  Traffic: host 127.0.0.1 → guest port 80 only.
"""

from __future__ import annotations

import http.client
import re
import socket
import threading

from .common import not_done, report, unwritten

__all__ = ["check_request_line", "reference_request_line", "CASES"]

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_TARGET = re.compile(rb"[\x21-\x7e]+")
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")

#: (what, request-line) sent raw; the first ones go with http.client instead
CASES = [
    ("a GET with a query", None),
    ("a HEAD", None),
    ("HTTP/1.0", b"GET /old HTTP/1.0"),
    ("OPTIONS *", b"OPTIONS * HTTP/1.1"),
    ("two spaces", b"GET  / HTTP/1.1"),
    ("a space in the target", b"GET /a b HTTP/1.1"),
    ("a trailing space", b"GET / HTTP/1.1 "),
    ("no version", b"GET /"),
    ("version without a dot", b"GET / HTTP/11"),
    ("lower-case version", b"GET / http/1.1"),
    ("a method that is not a token", b"G(T / HTTP/1.1"),
    ("non-ASCII in the target", "GET /café HTTP/1.1".encode()),
]


def reference_request_line(line: bytes):
    """The right answer: ``(method, target, (major, minor))``; ValueError if malformed."""
    parts = line.split(b" ")
    if len(parts) != 3:
        raise ValueError("method SP target SP version: exactly three parts")
    method, target, version = parts
    v = _VERSION.fullmatch(version)
    if not (_TOKEN.fullmatch(method) and _TARGET.fullmatch(target) and v):
        raise ValueError("a part is malformed")
    return method.decode(), target.decode(), (int(v.group(1)), int(v.group(2)))


def _outcome(fn, line):
    try:
        return "ok", fn(line)
    except ValueError as err:
        return "ValueError", str(err)
    except Exception as err:                    # the learner's bug, shown as such
        return type(err).__name__, str(err)


def check_request_line(parse_request_line, net, host_port: int, guest_port: int = 80):
    """Run ``parse_request_line`` on request-lines sent from the host to ``host_port``
    (slirp forwards it to ``guest_port``, where this check listens on ``net``)."""
    __tracebackhide__ = True
    if unwritten(parse_request_line, b"GET / HTTP/1.1"):
        return not_done("check_request_line", "parse_request_line")
    results = []
    with net.listen(guest_port, 4) as listener:
        for what, line in CASES:
            got_reply = {}
            client = threading.Thread(target=_send, args=(what, line, host_port, got_reply),
                                      daemon=True)
            client.start()
            conn = listener.accept(timeout=10)
            with conn:
                data = b""
                while b"\r\n" not in data:
                    chunk = conn.recv(4096, timeout=5)
                    if not chunk:
                        break
                    data += chunk
                received = data.split(b"\r\n")[0]
                want, got = _outcome(reference_request_line, received), \
                    _outcome(parse_request_line, received)
                status = 200 if got[0] == "ok" else 400
                body = repr(got[1]).encode()
                conn.sendall(b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n\r\n"
                             % (status, len(body)) + body)
                conn.close(timeout=2)
            client.join(10)
            ok = got == want if want[0] == "ok" else got[0] == "ValueError"
            seen = f"host got {got_reply.get('status', '?')}"
            detail = (f"{received!r} → {got[1]!r} ({seen})" if ok else
                      f"{received!r}: expected {'ValueError' if want[0] != 'ok' else want[1]!r}, "
                      f"got {got[0] if got[0] != 'ok' else repr(got[1])}")
            results.append((what, ok, detail))
    report("check_request_line", results)


def _send(what, line, port, out):
    try:
        if line is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            method, target = ("GET", "/index.html?lang=en") if "GET" in what else ("HEAD", "/")
            conn.request(method, target)
            out["status"] = conn.getresponse().status
            conn.close()
            return
        with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
            s.sendall(line + b"\r\nHost: dos64\r\n\r\n")
            reply = b""
            while chunk := s.recv(4096):
                reply += chunk
            out["status"] = int(reply.split(b" ")[1]) if reply.startswith(b"HTTP/") else None
    except (OSError, http.client.HTTPException, ValueError, IndexError):
        out["status"] = None
