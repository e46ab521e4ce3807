"""wget: an HTTP/1.1 client over the lab's TCP, printed the way GNU wget prints it.

A small user program on the stack's API (``Stack.connect`` gives a ``TcpConnection``
with blocking ``sendall``/``recv``): read it top to bottom.  One GET per connection,
``Connection: close``; the response as RFC 9112 frames it:

* the status line and the header fields (§2-§5), each line and the whole head bounded;
* the body (§6.3): chunked (§7.1, chunk-size lines bounded), else Content-Length
  bytes, else everything until the server closes;
* redirects (RFC 9110 §15.4: 301, 302, 303, 307, 308), at most ``MAX_REDIRECTS``,
  absolute or relative ``Location``.

URLs name hosts as the guest sees them: ``http://10.0.2.2:8000/`` is a server on the
host's 127.0.0.1:8000.  Only ``http://`` with an IPv4 address.  The body goes through
SHA-256 (and to ``output``) as it arrives, never held whole; a tqdm bar shows bytes/s.

Everything that goes wrong is a ``WgetError`` whose ``kind`` says what: "url",
"refused", "reset", "timeout", "status" (``HttpStatusError``, non-2xx after redirects),
"malformed", "redirects", "file" (the output cannot be written).
"""

from __future__ import annotations

import hashlib
import os
import re
import sys
import time
from contextlib import contextmanager
from dataclasses import dataclass
from ipaddress import IPv4Address
from urllib.parse import urljoin, urlsplit

from tqdm import tqdm

from ..errors import Dos64LabError
from ..socket.tcp import ConnectionRefused, ConnectionReset, ConnectionTimeout
from ..stack import StackTimeout

__all__ = ["wget", "parse_url", "Url", "WgetError", "HttpStatusError", "MAX_REDIRECTS"]

MAX_REDIRECTS = 5
MAX_LINE = 8192              # bytes in the status line or one header line
MAX_HEADERS = 100            # header fields in one response (or trailer)
MAX_HEAD = 64 * 1024         # bytes in the whole head (or trailer)
MAX_CHUNK_LINE = 1024        # bytes in a chunk-size line, extensions included
MAX_CHUNK_DIGITS = 16        # hex digits in a chunk size: < 2**64
MAX_INTERIM = 5              # 1xx responses skipped before the final one
USER_AGENT = "dos64lab-wget/0.1"
REDIRECTS = {301, 302, 303, 307, 308}


class WgetError(Dos64LabError):
    """A download failed.  ``kind``: url, refused, reset, timeout, status, malformed,
    redirects, file; ``url``: the URL being fetched."""

    def __init__(self, kind: str, url, message: str):
        self.kind, self.url = kind, url
        super().__init__(f"{url}: {message}" if url else message)


class HttpStatusError(WgetError):
    """The final response was not 2xx: ``status``, ``reason``."""

    def __init__(self, url, status: int, reason: str):
        self.status, self.reason = status, reason
        super().__init__("status", url, f"server answered {status} {reason}".rstrip())


# -- URLs ------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Url:
    host: IPv4Address
    port: int
    target: str                  # the request target: path and query, e.g. "/a/b?c=d"

    def __str__(self):
        port = "" if self.port == 80 else f":{self.port}"
        return f"http://{self.host}{port}{self.target}"


def parse_url(text: str, base: Url | None = None) -> Url:
    """``http://IPv4[:port]/path?query`` -> Url (``http://`` may be left out, as in wget);
    relative to ``base`` (a Location)."""
    if base is not None:
        text = urljoin(str(base), text)
    elif "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme != "http":
        raise WgetError("url", None, f"{text!r}: only http:// URLs (the lab has no TLS)")
    try:
        port = parts.port or 80
        host = IPv4Address(parts.hostname or "")
    except ValueError as err:
        raise WgetError("url", None,
                        f"{text!r} is not an http://IPv4[:port]/path URL: {err}") from None
    if parts.username is not None or parts.password is not None:
        raise WgetError("url", None, f"{text!r}: user names in URLs are not supported")
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if not target.startswith("/") or any(not 0x21 <= ord(c) <= 0x7E for c in target):
        raise WgetError("url", None, f"{text!r}: the path must be printable ASCII without spaces")
    return Url(host, port, target)


# -- reading a response ----------------------------------------------------------------------

class Reader:
    """The bytes of one response as they arrive: bounded lines and pieces of the body."""

    def __init__(self, conn, url: Url, timeout: float):
        self.conn, self.url, self.timeout = conn, url, timeout
        self.buffer = bytearray()
        self.closed = False              # the server sent its FIN

    def fill(self) -> bool:
        """recv() once more; False once the server has closed."""
        if not self.closed:
            data = self.conn.recv(65536, timeout=self.timeout)
            self.buffer += data
            self.closed = not data
        return not self.closed

    def line(self, limit: int, what: str) -> str:
        """One line (CRLF, or a bare LF: RFC 9112 §2.2), at most ``limit`` bytes."""
        while (end := self.buffer.find(b"\n", 0, limit + 2)) < 0:     # + CR LF
            if len(self.buffer) > limit + 1:
                raise self.malformed(f"{what} longer than {limit} bytes")
            if not self.fill():
                raise self.malformed(f"the server closed in the middle of {what}")
        line = bytes(self.buffer[:end]).removesuffix(b"\r")
        del self.buffer[:end + 1]
        return line.decode("latin-1")

    def some(self, limit: int) -> bytes:
        """Up to ``limit`` bytes of the body (b"": the server closed)."""
        if not self.buffer:
            self.fill()
        piece = bytes(self.buffer[:limit])
        del self.buffer[:limit]
        return piece

    def malformed(self, message: str) -> WgetError:
        return WgetError("malformed", self.url, f"malformed response: {message}")


STATUS_LINE = re.compile(r"HTTP/1\.([0-9]) ([0-9]{3})(?: (.*))?")
TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")


def read_head(reader: Reader) -> tuple[int, str, dict[str, list[str]]]:
    """The status line and header fields: (status, reason, {lower-case name: [values]})."""
    for _ in range(MAX_INTERIM + 1):
        line = reader.line(MAX_LINE, "the status line")
        match = STATUS_LINE.fullmatch(line)
        if not match:
            raise reader.malformed(f"not an HTTP/1.x status line: {line[:80]!r}")
        status, reason = int(match[2]), match[3] or ""
        headers = read_fields(reader, "header")
        if not 100 <= status < 200 or status == 101:
            return status, reason, headers
    raise reader.malformed(f"more than {MAX_INTERIM} interim (1xx) responses")


def read_fields(reader: Reader, what: str) -> dict[str, list[str]]:
    """Header (or trailer) fields up to the empty line (RFC 9112 §5), bounded."""
    fields: dict[str, list[str]] = {}
    count = size = 0
    last = None
    while line := reader.line(MAX_LINE, f"a {what} line"):
        size += len(line) + 2
        if size > MAX_HEAD:
            raise reader.malformed(f"{what}s longer than {MAX_HEAD} bytes")
        if line[0] in " \t":                 # obs-fold (§5.2): a user agent joins it with SP
            if last is None:
                raise reader.malformed(f"a {what} starts with a continuation line")
            fields[last][-1] += " " + line.strip(" \t")
            continue
        name, colon, value = line.partition(":")
        if not colon or not TOKEN.fullmatch(name):       # §5.1: no space before the colon
            raise reader.malformed(f"not a {what} field: {line[:80]!r}")
        count += 1
        if count > MAX_HEADERS:
            raise reader.malformed(f"more than {MAX_HEADERS} {what} fields")
        last = name.lower()
        fields.setdefault(last, []).append(value.strip(" \t"))
    return fields


def body_length(reader: Reader, headers: dict) -> int | None:
    """The body's framing (RFC 9112 §6.3): -1 chunked, N bytes, None until close."""
    if "transfer-encoding" in headers:                   # wins over Content-Length
        codings = [c.strip().lower() for v in headers["transfer-encoding"] for c in v.split(",")]
        if codings != ["chunked"]:
            raise reader.malformed(f"Transfer-Encoding {', '.join(codings)}: only chunked is "
                                   "supported")
        return -1
    if "content-length" in headers:
        values = {v.strip() for v in ",".join(headers["content-length"]).split(",")}
        if len(values) != 1 or not re.fullmatch(r"[0-9]{1,18}", value := values.pop()):
            raise reader.malformed(f"bad Content-Length {headers['content-length']!r}")
        return int(value)
    return None


def body(reader: Reader, length: int | None):
    """Yield the body in pieces as it arrives, checking its framing to the end."""
    if length == -1:
        yield from chunked_body(reader)
        return
    left = length
    while left is None or left > 0:
        piece = reader.some(65536 if left is None else min(left, 65536))
        if not piece:
            if left is None:
                return                                   # ends when the server closes
            raise reader.malformed(f"the server closed after {length - left} of {length} bytes")
        if left is not None:
            left -= len(piece)
        yield piece


def chunked_body(reader: Reader):
    """RFC 9112 §7.1: chunk-size [;ext] CRLF, data CRLF, ..., 0 CRLF, trailers, CRLF."""
    while True:
        line = reader.line(MAX_CHUNK_LINE, "a chunk-size line")
        size = line.split(";", 1)[0].strip(" \t")
        if not re.fullmatch(f"[0-9a-fA-F]{{1,{MAX_CHUNK_DIGITS}}}", size):
            raise reader.malformed(f"bad chunk size {line[:40]!r}")
        left = int(size, 16)
        if left == 0:
            read_fields(reader, "trailer")
            return
        while left:
            piece = reader.some(min(left, 65536))
            if not piece:
                raise reader.malformed(f"the server closed inside a chunk ({left} bytes missing)")
            left -= len(piece)
            yield piece
        if reader.line(2, "the end of a chunk") != "":
            raise reader.malformed("chunk data longer than its size")


# -- the program ---------------------------------------------------------------------------------

def request(url: Url) -> bytes:
    host = str(url.host) if url.port == 80 else f"{url.host}:{url.port}"
    return (f"GET {url.target} HTTP/1.1\r\nHost: {host}\r\nUser-Agent: {USER_AGENT}\r\n"
            "Accept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n").encode()


def wget(stack, url: str, output=None, *, timeout: float = 10.0, progress: bool | None = None,
         out=print) -> dict:
    """GET ``url`` through ``stack``; the body to ``output`` (a path or a binary file; None:
    only hashed).  Prints like wget through ``out``; returns the summary.  ``timeout``:
    seconds for the connection and for each wait for data.  ``progress``: a tqdm bar on
    stderr (None: when stderr is a terminal)."""
    first = url = parse_url(url)
    redirects = []
    for _ in range(MAX_REDIRECTS + 1):
        if not stack.iface.allows(url.host, url.port):
            raise WgetError("refused", url, f"{url.host} port {url.port} is not on the stack's "
                            "egress allow-list (the lab reaches only what it opened)")
        out(f"--{_now()}--  {url}")
        with network_errors(url, "connecting"):
            conn = stack.connect(url.host, url.port, timeout)
        out(f"Connecting to {url.host}:{url.port}... connected.")
        try:
            reader = Reader(conn, url, timeout)
            with network_errors(url, "waiting for the response"):
                conn.sendall(request(url), timeout)
                status, reason, headers = read_head(reader)
            out(f"HTTP request sent, awaiting response... {status} {reason}".rstrip())
            if status in REDIRECTS and "location" in headers:
                location = headers["location"][0]
                redirects.append({"status": status, "location": location})
                url = parse_url(location, base=url)
                out(f"Location: {location} [following]")
                conn.close()
                continue
            if not 200 <= status < 300:
                raise HttpStatusError(url, status, reason)
            length = body_length(reader, headers)
            out("Length: " + ("unspecified" if length is None else "chunked" if length == -1
                              else f"{length}"))
            with network_errors(url, "receiving the body"):
                result = download(body(reader, length), length, output, progress, first)
            conn.close()
        except BaseException:
            conn.abort()
            raise
        summary = {"url": str(first), "final_url": str(url), "status": status,
                   "redirects": redirects, "chunked": length == -1,
                   "content_type": headers.get("content-type", [None])[0], **result}
        out(f"{_now()} ({_rate(result['bytes_per_second'])}) - '{result['file'] or '-'}' "
            f"saved [{result['size']}]")
        out(f"sha256 {result['sha256']}  {result['size']} bytes in {result['seconds']:.2f} s, "
            f"{_rate(result['bytes_per_second'])}")
        return summary
    raise WgetError("redirects", first, f"more than {MAX_REDIRECTS} redirects: "
                    + " -> ".join(r["location"] for r in redirects))


def download(pieces, length, output, progress, url: Url) -> dict:
    """The body: through SHA-256 and into ``output``, with the progress bar."""
    path = os.fspath(output) if isinstance(output, (str, os.PathLike)) else None
    try:
        file = open(path, "wb") if path else output
    except OSError as err:
        raise WgetError("file", url, f"cannot write {path}: {err.strerror}") from err
    digest, size, start = hashlib.sha256(), 0, time.monotonic()
    bar = tqdm(total=length if length and length > 0 else None, unit="B", unit_scale=True,
               unit_divisor=1024, file=sys.stderr, leave=False,
               disable=not (sys.stderr.isatty() if progress is None else progress),
               desc=path or os.path.basename(url.target.split("?")[0]) or "index.html")
    try:
        for piece in pieces:
            digest.update(piece)
            if file is not None:
                file.write(piece)
            size += len(piece)
            bar.update(len(piece))
    except BaseException:
        if path:
            file.close()
            os.unlink(path)               # no half-written file left behind
        raise
    finally:
        bar.close()
    if path:
        file.close()
    seconds = time.monotonic() - start
    return {"file": path, "size": size, "sha256": digest.hexdigest(), "seconds": seconds,
            "bytes_per_second": size / seconds if seconds > 0 else None}


@contextmanager
def network_errors(url: Url, doing: str):
    """The stack's errors as WgetErrors that say what wget was doing."""
    try:
        yield
    except ConnectionRefused as err:
        raise WgetError("refused", url, f"connection refused while {doing} ({err})") from err
    except ConnectionReset as err:
        raise WgetError("reset", url, f"connection reset while {doing} ({err})") from err
    except (ConnectionTimeout, StackTimeout) as err:
        raise WgetError("timeout", url, f"timed out while {doing} ({err})") from err


def _now() -> str:
    return time.strftime("%Y-%m-%d %H:%M:%S")


def _rate(bps: float | None) -> str:
    if not bps:
        return "-- B/s"
    for unit in ("B/s", "KB/s", "MB/s"):
        if bps < 1024:
            break
        bps /= 1024
    return f"{bps:.2f} {unit}"
