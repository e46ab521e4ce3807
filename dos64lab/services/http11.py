"""HTTP/1.1 messages: parse a request, format a response (RFC 9112, with RFC 9110's semantics).

The services layer's parser, kept apart from the server so it can be read and tested
without QEMU.  It reads from any object with ``readline(limit)`` and ``read(n)`` (an
``io.BytesIO`` in the tests, the server's connection reader live) and raises
``HttpError(status, reason)`` for every request it refuses, never another exception::

    request = read_request(reader)          # None: the client closed between requests
    body = read_body(reader, request)       # Content-Length or chunked, at most MAX_BODY

What a request may be (the limits are the constants below):

    request-line = method SP request-target SP HTTP-version CRLF     RFC 9112 §3
    field-line   = field-name ":" OWS field-value OWS CRLF           RFC 9112 §5
    body         = Content-Length bytes, or chunks                   RFC 9112 §6, §7

We are strict where leniency lets two parsers disagree about where a message ends
(request smuggling, RFC 9112 §6.3 and §11.2): Content-Length together with
Transfer-Encoding, two different Content-Lengths, whitespace before the colon, obs-fold
and bare CR are all 400.  We are lenient where the RFC asks for it: a bare LF ends a line
(§2.2) and a few empty lines before a request are skipped (§2.2).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from email.utils import formatdate

from ..errors import Dos64LabError

__all__ = ["read_request", "read_body", "parse_request", "Request", "HttpError",
           "format_response", "http_date", "check_line_bytes", "REASONS",
           "MAX_REQUEST_LINE", "MAX_HEADER_BYTES", "MAX_HEADER_FIELDS", "MAX_BODY"]

# -- limits (each one's answer in brackets) ------------------------------------------------
MAX_REQUEST_LINE = 8 * 1024     # bytes of request-line, CRLF not counted        [414]
MAX_HEADER_BYTES = 8 * 1024     # bytes of the field lines together, CRLFs counted  [431]
MAX_HEADER_FIELDS = 100         # field lines                                      [431]
MAX_BODY = 1024 * 1024          # bytes of body, by Content-Length or chunked      [413]
MAX_CHUNK_LINE = 1024           # bytes of one chunk-size line with its extensions [400]
MAX_EMPTY_LINES = 4             # empty lines skipped before a request-line        [400]

#: RFC 9110 §9: methods we know.  An unknown one is 501 (§9.1); a known one that a
#: resource does not take is 405 with Allow (§15.5.6) -- the server decides that.
KNOWN_METHODS = {"GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH"}

REASONS = {
    100: "Continue", 200: "OK", 204: "No Content", 304: "Not Modified",
    400: "Bad Request", 403: "Forbidden", 404: "Not Found", 405: "Method Not Allowed",
    408: "Request Timeout", 411: "Length Required", 413: "Content Too Large",
    414: "URI Too Long", 417: "Expectation Failed", 431: "Request Header Fields Too Large",
    500: "Internal Server Error", 501: "Not Implemented", 503: "Service Unavailable",
    505: "HTTP Version Not Supported",
}

_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")                 # RFC 9110 §5.6.2
_TARGET = re.compile(rb"[\x21-\x7e]+")                                  # visible ASCII only
_VERSION = re.compile(rb"HTTP/([0-9])\.([0-9])")                        # RFC 9112 §2.3
_BAD_BYTE = re.compile(rb"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|\r(?!\n)")   # never in a head line
_FIELD_VALUE = re.compile(rb"[\t\x20-\x7e\x80-\xff]*")                  # §5.5, obs-text allowed
_HEX = re.compile(rb"[0-9A-Fa-f]+")
_DIGITS = re.compile(r"[0-9]+")


class HttpError(Dos64LabError):
    """A request we refuse: ``status`` is the answer's code, ``reason`` says why (its body)."""

    def __init__(self, status: int, reason: str):
        super().__init__(f"{status} {REASONS.get(status, '')}: {reason}")
        self.status, self.reason = status, reason


@dataclass
class Request:
    """One request's head; ``body`` is filled by ``read_body``."""
    method: str
    target: str                      # as sent: "/index.html?x=1"
    version: tuple[int, int]         # (1, 1) or (1, 0)
    headers: list[tuple[str, str]]   # (lower-case name, value), in order, repeats kept
    body: bytes = b""
    length: int | None = None        # Content-Length, when the body is framed by it
    chunked: bool = False            # Transfer-Encoding: chunked
    keep_alive: bool = True          # the connection stays open after the answer (§9.3)
    path: str = field(init=False)    # target without the query, not yet percent-decoded
    query: str = field(init=False)

    def __post_init__(self):
        self.path, _, self.query = self.target.partition("?")

    @property
    def framed(self) -> bool:
        """The body's length was given (Content-Length or chunked); without, it is empty
        (RFC 9112 §6.3 rule 7) -- a route that wants a body answers 411 (RFC 9110 §15.5.12)."""
        return self.length is not None or self.chunked

    def header(self, name: str, default: str | None = None) -> str | None:
        """The value of field ``name`` (case-insensitive); repeats joined by ", " (§5.3)."""
        name = name.lower()
        values = [v for n, v in self.headers if n == name]
        return ", ".join(values) if values else default

    def tokens(self, name: str) -> list[str]:
        """A list-valued field (Connection, Transfer-Encoding) as lower-case tokens."""
        value = self.header(name) or ""
        return [t.strip().lower() for t in value.split(",") if t.strip()]


# -- reading a request ----------------------------------------------------------------------

def check_line_bytes(data: bytes) -> None:
    """400 if ``data`` holds a byte no line of a request head may hold: a control character
    other than HTAB, or CR not followed by LF.  The server also calls this on a partial
    line, so binary garbage is refused at once instead of waiting for a line end."""
    bad = _BAD_BYTE.search(data)
    if bad and not (bad.group() == b"\r" and bad.end() == len(data)):   # CR last: LF may follow
        raise HttpError(400, f"byte {data[bad.start()]:#04x} in the request head")


def _line(reader, limit: int, status: int, what: str) -> bytes | None:
    """One line without its CRLF (or bare LF); None at the end of the stream.
    Longer than ``limit``: HttpError(``status``)."""
    raw = reader.readline(limit + 2)
    if not raw:
        return None
    check_line_bytes(raw)
    if not raw.endswith(b"\n"):
        if len(raw) >= limit + 2 or len(raw.rstrip(b"\r")) > limit:
            raise HttpError(status, f"{what} longer than {limit} bytes")
        raise HttpError(400, f"the connection ended inside the {what}")
    line = raw[:-2] if raw.endswith(b"\r\n") else raw[:-1]
    if len(line) > limit:
        raise HttpError(status, f"{what} longer than {limit} bytes")
    return line


def read_request(reader) -> Request | None:
    """The next request's head (line and fields), its body framing decided; None if the
    stream ended before it began."""
    for _ in range(MAX_EMPTY_LINES + 1):
        line = _line(reader, MAX_REQUEST_LINE, 414, "request line")
        if line is None:
            return None
        if line:
            break
    else:
        raise HttpError(400, "only empty lines")
    method, target, version = parse_request_line(line)
    headers = read_fields(reader, "header")
    request = Request(method, target, version, headers)
    _framing(request)
    return request


def parse_request_line(line: bytes) -> tuple[str, str, tuple[int, int]]:
    """RFC 9112 §3: exactly three parts, one space apart."""
    parts = line.split(b" ")
    if len(parts) != 3:
        raise HttpError(400, "a request line is: method SP target SP HTTP-version")
    method, target, version = parts
    if not _TOKEN.fullmatch(method):
        raise HttpError(400, "the method is not a token")
    v = _VERSION.fullmatch(version)
    if not v:
        raise HttpError(400, "the version is not HTTP/x.y")
    if v.group(1) != b"1":
        raise HttpError(505, f"we speak HTTP/1.1, not {version.decode()}")
    if not _TARGET.fullmatch(target):
        raise HttpError(400, "the request target has spaces, controls or non-ASCII bytes")
    method_s, target_s = method.decode(), target.decode()
    if method_s not in KNOWN_METHODS:
        raise HttpError(501, f"method {method_s} is not implemented")
    target_s = _origin_form(method_s, target_s)
    return method_s, target_s, (1, 0) if v.group(2) == b"0" else (1, 1)


def _origin_form(method: str, target: str) -> str:
    """RFC 9112 §3.2: origin-form ("/path?q"), absolute-form ("http://host/path?q", which
    a server must accept), "*" for OPTIONS; authority-form is for CONNECT, which we lack."""
    if target.startswith("/"):
        return target
    lower = target.lower()
    for scheme in ("http://", "https://"):
        if lower.startswith(scheme):
            rest = target[len(scheme):]
            slash = min((i for i in (rest.find("/"), rest.find("?")) if i >= 0), default=len(rest))
            if slash == 0:
                break                                   # no authority: "http:///x"
            path = rest[slash:]
            return path if path.startswith("/") else "/" + path
    if target == "*" and method == "OPTIONS":
        return target
    raise HttpError(400, "the request target is not /path, an absolute URI or * (OPTIONS)")


def read_fields(reader, what: str = "header") -> list[tuple[str, str]]:
    """Field lines up to the empty line (the header section, or a chunked body's trailers)."""
    fields, total = [], 0
    while True:
        line = _line(reader, MAX_HEADER_BYTES, 431, f"{what} section")
        if line is None:
            raise HttpError(400, f"the connection ended inside the {what} section")
        if not line:
            return fields
        total += len(line) + 2
        if total > MAX_HEADER_BYTES:
            raise HttpError(431, f"{what} section longer than {MAX_HEADER_BYTES} bytes")
        if len(fields) >= MAX_HEADER_FIELDS:
            raise HttpError(431, f"more than {MAX_HEADER_FIELDS} {what} fields")
        fields.append(parse_field(line))


def parse_field(line: bytes) -> tuple[str, str]:
    """RFC 9112 §5.1: ``name: value``; no space before the colon, no obs-fold (§5.2)."""
    if line[:1] in (b" ", b"\t"):
        raise HttpError(400, "obs-fold (a line continued by whitespace) is not accepted")
    name, colon, value = line.partition(b":")
    if not colon or not _TOKEN.fullmatch(name):
        raise HttpError(400, f"not a field line: {line[:40]!r}")
    value = value.strip(b" \t")
    if not _FIELD_VALUE.fullmatch(value):
        raise HttpError(400, f"field {name.decode()} has a control character")
    return name.decode().lower(), value.decode("latin-1")


def _framing(request: Request) -> None:
    """Decide how the body ends (RFC 9112 §6.3) and whether the connection stays open."""
    if request.version >= (1, 1) and len([v for n, v in request.headers if n == "host"]) != 1:
        raise HttpError(400, "an HTTP/1.1 request needs exactly one Host field (RFC 9112 §3.2)")
    codings = request.tokens("transfer-encoding")
    lengths = request.tokens("content-length")
    if request.header("transfer-encoding") is not None:
        if request.version < (1, 1):                                      # §6.1
            raise HttpError(400, "Transfer-Encoding in an HTTP/1.0 request")
        if lengths or request.header("content-length") is not None:       # §6.3 rule 3
            raise HttpError(400, "Content-Length together with Transfer-Encoding")
        if not codings or codings[-1] != "chunked" or codings.count("chunked") > 1:
            raise HttpError(400, "Transfer-Encoding must end in chunked, once")   # §6.3 rule 4
        if codings != ["chunked"]:
            raise HttpError(501, f"transfer coding {codings[0]} is not implemented")
        request.chunked = True
    elif request.header("content-length") is not None:
        if not lengths or not all(_DIGITS.fullmatch(v) for v in lengths):
            raise HttpError(400, "Content-Length is not a number")
        if len({v.lstrip("0") for v in lengths}) > 1:                    # §6.3 rule 5
            raise HttpError(400, "two different Content-Lengths")
        digits = lengths[0].lstrip("0") or "0"
        if len(digits) > len(str(MAX_BODY)) or int(digits) > MAX_BODY:
            raise HttpError(413, f"a body of {digits} bytes; at most {MAX_BODY}")
        request.length = int(digits)
    connection = request.tokens("connection")
    request.keep_alive = ("close" not in connection if request.version >= (1, 1)
                          else "keep-alive" in connection)


def read_body(reader, request: Request) -> bytes:
    """The body, by Content-Length or chunked (RFC 9112 §7.1); also stored in ``request``."""
    if request.chunked:
        request.body = _read_chunked(reader)
    elif request.length:
        request.body = _read_exactly(reader, request.length)
    return request.body


def _read_exactly(reader, n: int) -> bytes:
    data = reader.read(n)
    if len(data) != n:
        raise HttpError(400, f"the connection ended after {len(data)} of {n} body bytes")
    return data


def _read_chunked(reader) -> bytes:
    """chunk = chunk-size [ chunk-ext ] CRLF chunk-data CRLF; last-chunk = "0" CRLF;
    then trailer fields and an empty line (RFC 9112 §7.1).  Extensions and trailers are
    read and dropped (§7.1.1, §7.1.2)."""
    body = bytearray()
    while True:
        line = _line(reader, MAX_CHUNK_LINE, 400, "chunk-size line")
        if line is None:
            raise HttpError(400, "the connection ended before the last chunk")
        size_text = line.split(b";", 1)[0].rstrip(b" \t")
        if not _HEX.fullmatch(size_text):
            raise HttpError(400, f"bad chunk size {size_text[:20]!r}")
        size = int(size_text, 16)
        if size > MAX_BODY - len(body):
            raise HttpError(413, f"chunked body longer than {MAX_BODY} bytes")
        if size == 0:
            read_fields(reader, "trailer")
            return bytes(body)
        body += _read_exactly(reader, size)
        end = reader.readline(3)
        if end not in (b"\r\n", b"\n"):
            raise HttpError(400, "chunk data not followed by CRLF")


def parse_request(data: bytes) -> Request:
    """A whole request from bytes (head and body): for tests and notebooks."""
    import io
    reader = io.BytesIO(data)
    request = read_request(reader)
    if request is None:
        raise HttpError(400, "no request")
    read_body(reader, request)
    return request


# -- writing a response ----------------------------------------------------------------------

_date_cache = [0, ""]


def http_date(now: float | None = None) -> str:
    """IMF-fixdate (RFC 9110 §5.6.7), e.g. "Sun, 06 Nov 1994 08:49:37 GMT"; one per second."""
    second = int(time.time() if now is None else now)
    if _date_cache[0] != second:
        _date_cache[:] = [second, formatdate(second, usegmt=True)]
    return _date_cache[1]


def format_response(status: int, headers: list[tuple[str, str]] | tuple = (), body: bytes = b"",
                    *, head: bool = False, content_length: int | None = None) -> bytes:
    """Status line, fields, empty line and body (none for HEAD, 1xx, 204 and 304).

    ``Content-Length`` is ``len(body)`` unless given (for HEAD and 304 it is the
    length a GET's 200 would have, RFC 9110 §8.6); 1xx and 204 never carry it.
    """
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Unknown')}"]
    lines += [f"{name}: {value}" for name, value in headers]
    if status >= 200 and status != 204:
        lines.append(f"Content-Length: {len(body) if content_length is None else content_length}")
    head_bytes = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    if head or status < 200 or status in (204, 304):
        return head_bytes
    return head_bytes + body
