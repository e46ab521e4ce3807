"""services layer: an HTTP/1.1 server on the stack's blocking sockets (guest port 80).

One job: answer HTTP/1.1 (RFC 9112) on a listening port of a ``Stack``.  It is a small
program on the socket API, read top to bottom: an accept loop on a thread, one thread
per connection, each reading requests with ``http11`` and answering them in order::

    with Machine() as m, Stack.on(m) as net:
        net.configure()
        with serve_http(net) as server:        # guest 10.0.2.15:80
            ...                                # curl http://127.0.0.1:{m.host_ports["http"]}/

Routes: ``/api/status`` (GET, HEAD: the ``services.status`` document as JSON),
``/api/echo`` (POST: the body back) and static files from ``root`` for everything else
(GET, HEAD; the bundled status page by default; ETag and If-None-Match → 304).

Connections: at most ``max_connections`` are served at once; one more gets 503 and is
closed.  A connection is kept open between requests (HTTP/1.1's default) until the client
says ``Connection: close`` or stays silent for ``idle_timeout`` (then it is closed
without an answer, as nginx does: a client may be sending its next request just then).
A request's head and body must arrive within ``request_timeout`` of its first byte (of the
connection, for the first request): a slow or silent client (slowloris) gets 408.  After a
refused request (4xx/5xx from the parser) the connection is closed: its framing is lost.
"""

from __future__ import annotations

import hashlib
import json
import logging
import mimetypes
import os
import stat
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import unquote

from ..socket.tcp import TcpError
from ..stack import StackError, StackTimeout
from . import http11
from .http11 import HttpError

__all__ = ["serve_http", "HttpServer", "SITE"]

log = logging.getLogger(__name__)

SITE = Path(__file__).with_name("site")     # the bundled status page
SERVER = "DOS64Lab/0.1 (Python)"
MAX_CONNECTIONS = 64
IDLE_TIMEOUT = 15.0         # s of silence between requests before we close
REQUEST_TIMEOUT = 10.0      # s for a whole request (head and body) to arrive: else 408
SLICE = 0.5                 # s: how often a waiting connection looks whether we are closing
CACHE_FILE_MAX = 256 * 1024  # static files up to this size are kept in memory
SERVE_FILE_MAX = 16 * 1024 * 1024


def serve_http(stack, port: int = 80, root=None, status=None, **options) -> "HttpServer":
    """Start an ``HttpServer`` on ``stack``'s TCP ``port``; close it (or use ``with``)."""
    return HttpServer(stack, port, root, status, **options).start()


class HttpServer:
    """An HTTP/1.1 server: ``start()``, ``close()`` (joins every thread), ``stats``.

    ``root``: the directory of static files (default: the bundled site).  ``status``: a
    callable returning the ``/api/status`` document (default: ``services.status.status``
    of this stack).
    """

    def __init__(self, stack, port: int = 80, root=None, status=None, *,
                 max_connections: int = MAX_CONNECTIONS, idle_timeout: float = IDLE_TIMEOUT,
                 request_timeout: float = REQUEST_TIMEOUT, backlog: int = 256):
        if status is None:
            from .status import status as document
            status = lambda: document(stack=stack)      # noqa: E731
        self.stack, self.port, self.status = stack, port, status
        self.root = Path(root if root is not None else SITE).resolve()
        self.max_connections = max_connections
        self.idle_timeout, self.request_timeout = idle_timeout, request_timeout
        self.backlog = backlog
        self.routes = {"/api/status": (("GET", "HEAD"), self._status),
                       "/api/echo": (("POST",), self._echo)}
        self.stats = Counter()                  # connections, requests, rejected, status_200, ...
        self._lock = threading.Lock()           # guards stats and _handlers
        self._handlers: dict[threading.Thread, object] = {}    # thread -> its connection
        self._cache: dict[str, tuple] = {}      # request path -> (file, stat key, entry)
        self._closing = threading.Event()
        self._server = None
        self._accept_thread = None

    # -- the accept loop ----------------------------------------------------------------------
    def start(self) -> "HttpServer":
        # A burst of clients (slirp connects them as fast as the host accepts) must neither
        # overflow the accept queue nor push half-open connections out (each gets an RST):
        # both as deep as the backlog.  nodelay: an answer goes out in one send, so Nagle
        # would only hold back the next one.
        self._server = self.stack.listen(self.port, self.backlog, max_half_open=self.backlog,
                                         nodelay=True)
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"http:{self.port} accept")
        self._accept_thread.start()
        return self

    def _accept_loop(self) -> None:
        while not self._closing.is_set():
            try:
                conn = self._server.accept(timeout=SLICE)
            except StackTimeout:
                continue
            except StackError as err:
                log.warning("http:%d: the stack stopped: %r", self.port, err)
                return
            with self._lock:
                self.stats["connections"] += 1
                full = len(self._handlers) >= self.max_connections
                if not full:
                    thread = threading.Thread(target=self._connection, args=(conn,), daemon=True,
                                              name=f"http:{self.port} {conn.remote}")
                    self._handlers[thread] = conn
            if not full:
                try:
                    thread.start()
                    continue
                except RuntimeError:                    # no more threads: as if full
                    with self._lock:
                        self._handlers.pop(thread, None)
            self._reject(conn)

    def _reject(self, conn) -> None:
        """Over the limit: 503 and our FIN, without waiting (the accept loop must go on)."""
        self._count("rejected")
        self._count("status_503")
        try:
            conn.send(self._error(503, f"more than {self.max_connections} connections; "
                                       "try again", [("Retry-After", "1")]), timeout=1)
            conn.shutdown()
            self.stack.reap_later(conn.handle)          # gone once the peer closed too
        except (TcpError, StackError):
            conn.abort()

    # -- one connection -------------------------------------------------------------------------
    def _connection(self, conn) -> None:
        reader = _Reader(conn, self._closing)
        reader.deadline = time.monotonic() + self.request_timeout   # the first request's
        try:
            while True:
                try:
                    request = http11.read_request(reader)
                    if request is None:                 # the client closed between requests
                        break
                    expect = request.header("expect")
                    if expect is not None:
                        if expect.lower() != "100-continue":
                            raise HttpError(417, "we only know Expect: 100-continue")
                        if (request.length or request.chunked) and not reader.buffer:
                            conn.sendall(b"HTTP/1.1 100 Continue\r\n\r\n", self.idle_timeout)
                    http11.read_body(reader, request)
                except HttpError as err:
                    self._count(f"status_{err.status}")
                    conn.sendall(self._error(err.status, err.reason), self.idle_timeout)
                    self._linger(conn, reader)
                    return
                self._count("requests")
                conn.sendall(self._answer(request), self.idle_timeout)
                if not request.keep_alive:
                    break
                if not reader.wait(self.idle_timeout):  # silent too long, or closed: done
                    break
                reader.deadline = time.monotonic() + self.request_timeout
            conn.close(timeout=2)
        except _Closing:
            conn.abort()
        except (TcpError, StackError) as err:           # reset, gone, or would not read
            log.debug("http:%d %s: %r", self.port, conn.remote, err)
            self._count("connection_errors")
            conn.abort()
        except Exception:                               # a bug of ours: this client only
            log.exception("http:%d %s: internal error", self.port, conn.remote)
            self._count("internal_errors")
            conn.abort()
        finally:
            with self._lock:
                self._handlers.pop(threading.current_thread(), None)

    def _linger(self, conn, reader) -> None:
        """After an error answer: our FIN, then read (and drop) what the client still sends
        for a moment, so it reads our answer before the connection goes (Apache's
        lingering close)."""
        conn.shutdown()
        reader.drain(seconds=2.0, limit=4 * http11.MAX_BODY)
        conn.close(timeout=1)

    # -- answers ---------------------------------------------------------------------------------
    def _answer(self, request) -> bytes:
        """The whole response to ``request`` (routed, with the headers every answer has)."""
        allowed, route = self.routes.get(request.path, (("GET", "HEAD"), self._static))
        text = [("Content-Type", "text/plain; charset=utf-8")]
        if request.method not in allowed:                       # RFC 9110 §15.5.6
            status, headers = 405, [("Allow", ", ".join(allowed))] + text
            body = _error_body(405, f"{request.path} takes {', '.join(allowed)}")
        elif request.method == "POST" and not request.framed:   # RFC 9110 §15.5.12
            status, headers = 411, text
            body = _error_body(411, "POST needs Content-Length or Transfer-Encoding: chunked")
        else:
            try:
                status, headers, body = route(request)
            except HttpError as err:                            # 404, 400 from a route
                status, headers, body = err.status, text, _error_body(err.status, err.reason)
            except Exception:
                log.exception("http:%d: route %s failed", self.port, request.path)
                status, headers, body = 500, text, _error_body(500, "the route failed")
        self._count(f"status_{status}")
        common = [("Date", http11.http_date()), ("Server", SERVER)]
        if not request.keep_alive:
            common.append(("Connection", "close"))
        elif request.version == (1, 0):
            common.append(("Connection", "keep-alive"))
        # HEAD and 304 carry no body, but the Content-Length a GET's 200 would have
        return http11.format_response(status, common + headers, body,
                                      head=request.method == "HEAD")

    def _error(self, status: int, reason: str, extra=()) -> bytes:
        """An error answer that closes the connection."""
        headers = [("Date", http11.http_date()), ("Server", SERVER),
                   ("Content-Type", "text/plain; charset=utf-8"), ("Connection", "close"),
                   *extra]
        return http11.format_response(status, headers, _error_body(status, reason))

    def _status(self, request):
        body = json.dumps(self.status(), separators=(",", ":"), allow_nan=False).encode()
        return 200, [("Content-Type", "application/json"), ("Cache-Control", "no-store")], body

    def _echo(self, request):
        kind = request.header("content-type", "application/octet-stream")
        return 200, [("Content-Type", kind), ("Cache-Control", "no-store")], request.body

    def _static(self, request):
        """A file under ``root``: never outside it, whatever the path says."""
        entry = self._cache.get(request.path)
        if entry is None or _stat_key(entry[0]) != entry[1]:
            file = self._resolve(request.path)
            key = _stat_key(file)
            if key is None:
                raise HttpError(404, f"{request.path} is not here")
            entry = (file, key, _load(file))
            if key[1] <= CACHE_FILE_MAX:
                if len(self._cache) > 256:
                    self._cache.clear()
                self._cache[request.path] = entry
        content_type, etag, body = entry[2]
        headers = [("Content-Type", content_type), ("ETag", etag), ("Cache-Control", "no-cache")]
        if _etag_matches(request.header("if-none-match"), etag):      # RFC 9110 §13.1.2
            return 304, headers, body                    # format_response drops the body
        return 200, headers, body

    def _resolve(self, path: str) -> Path:
        """``path`` (percent-encoded) as a file under root; 404 for anything that would leave
        it: "..", "%2e%2e", backslashes, NUL, symbolic links pointing out."""
        try:
            text = unquote(path, errors="strict")
        except UnicodeDecodeError:
            raise HttpError(400, "the path is not UTF-8 once percent-decoded") from None
        parts = [p for p in text.split("/") if p]
        if "\0" in text or "\\" in text or any(p in (".", "..") for p in parts):
            raise HttpError(404, "no such file")
        file = self.root.joinpath(*parts)
        if file.is_dir():
            file = file / "index.html"
        real = Path(os.path.realpath(file))
        if real != self.root and self.root not in real.parents:
            raise HttpError(404, "no such file")
        return real

    def _count(self, name: str) -> None:
        with self._lock:
            self.stats[name] += 1

    # -- stopping ----------------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Stop listening, end every connection, join every thread.  Idempotent."""
        if self._closing.is_set():
            return
        self._closing.set()
        if self._server is not None:
            self._server.close()
        if self._accept_thread is not None:
            self._accept_thread.join(timeout)
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._handlers)
        for thread in threads:                  # each sees _closing within SLICE
            thread.join(max(0.0, min(SLICE * 3, deadline - time.monotonic())))
        with self._lock:
            stuck = list(self._handlers.items())
        for thread, conn in stuck:              # blocked in a send to a client that won't read
            conn.abort()
        for thread, _ in stuck:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def connections(self) -> int:
        """Connections being served now."""
        with self._lock:
            return len(self._handlers)

    def threads(self) -> list[threading.Thread]:
        """The server's threads still alive (none after ``close()``)."""
        with self._lock:
            handlers = list(self._handlers)
        return [t for t in [self._accept_thread, *handlers] if t is not None and t.is_alive()]

    def __enter__(self) -> "HttpServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self):
        return (f"<HttpServer :{self.port} root={self.root} connections={self.connections} "
                f"requests={self.stats['requests']}>")


class _Closing(Exception):
    """The server is closing: the connection ends now."""


class _Reader:
    """A connection's bytes for the parser (``readline(limit)``, ``read(n)``), with one
    ``deadline`` for the request being read: past it, HttpError(408)."""

    def __init__(self, conn, closing: threading.Event):
        self.conn, self.closing = conn, closing
        self.buffer = bytearray()
        self.deadline = 0.0

    def _fill(self) -> bool:
        """More bytes into the buffer; False at the end of the stream."""
        while True:
            if self.closing.is_set():
                raise _Closing()
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise HttpError(408, "the request did not arrive in time")
            try:
                data = self.conn.recv(65536, timeout=min(left, SLICE))
            except StackTimeout:
                continue
            if not data:
                return False
            self.buffer += data
            return True

    def _take(self, n: int) -> bytes:
        data = bytes(self.buffer[:n])
        del self.buffer[:n]
        return data

    def readline(self, limit: int) -> bytes:
        while True:
            end = self.buffer.find(b"\n", 0, limit)
            if end >= 0:
                return self._take(end + 1)
            if len(self.buffer) >= limit:
                return self._take(limit)
            http11.check_line_bytes(bytes(self.buffer))   # binary garbage: 400 now, not 408
            if not self._fill():
                return self._take(len(self.buffer))

    def read(self, n: int) -> bytes:
        while len(self.buffer) < n and self._fill():
            pass
        return self._take(min(n, len(self.buffer)))

    def wait(self, timeout: float) -> bool:
        """True once the next request has begun; False if the client closed or stayed
        silent for ``timeout`` seconds."""
        self.deadline = time.monotonic() + timeout
        try:
            return bool(self.buffer) or self._fill()
        except HttpError:
            return False

    def drain(self, seconds: float, limit: int) -> None:
        """Read and drop until the client closes, ``seconds`` pass or ``limit`` bytes came."""
        self.deadline, dropped = time.monotonic() + seconds, 0
        try:
            while dropped < limit and self._fill():
                dropped += len(self.buffer)
                self.buffer.clear()
        except (HttpError, TcpError, StackError):
            pass


def _error_body(status: int, reason: str) -> bytes:
    return f"{status} {http11.REASONS.get(status, '')}\n{reason}\n".encode()


def _stat_key(file) -> tuple | None:
    """What tells us a file changed (one stat call); None: not a regular file."""
    try:
        st = os.stat(file)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size, st.st_ino) if stat.S_ISREG(st.st_mode) else None


def _load(file: Path) -> tuple[str, str, bytes]:
    """(Content-Type, ETag, body) of a file: the ETag is a hash of its bytes."""
    if file.stat().st_size > SERVE_FILE_MAX:
        raise HttpError(403, f"files over {SERVE_FILE_MAX} bytes are not served")
    body = file.read_bytes()
    kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
    if kind.startswith("text/") or kind in ("application/javascript", "application/json"):
        kind += "; charset=utf-8"
    return kind, '"' + hashlib.sha256(body).hexdigest()[:20] + '"', body


def _etag_matches(header: str | None, etag: str) -> bool:
    """If-None-Match: "*" or a list of entity tags, compared weakly (RFC 9110 §13.1.2)."""
    if header is None:
        return False
    if header.strip() == "*":
        return True
    return any(tag.strip().removeprefix("W/") == etag for tag in header.split(","))
