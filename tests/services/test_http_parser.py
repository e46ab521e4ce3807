"""The HTTP/1.1 parser and response writer (``services.http11``) and the status document's
shape (``services.status``), without QEMU.

Every limit at its edge and one past it, every refusal with its status code, the
request-smuggling cases, and hypothesis: random and mutated requests give a Request or
an HttpError -- never another exception -- in bounded time; well-formed requests parse
as h11 (a strict, independent parser) parses them; our responses parse in h11 as a client.
"""

import io
import json
import math
import re
import time
from ipaddress import IPv4Address

import h11
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from dos64lab.services import http11
from dos64lab.services.http11 import (MAX_BODY, MAX_HEADER_BYTES, MAX_HEADER_FIELDS,
                                      MAX_REQUEST_LINE, HttpError, format_response,
                                      parse_request, read_body, read_request)
from dos64lab.services.status import SCHEMA, check_shape, status

GET = b"GET / HTTP/1.1\r\nHost: lab\r\n\r\n"


def refused(data: bytes) -> int:
    """The status the parser refuses ``data`` with (fails if it accepts it)."""
    with pytest.raises(HttpError) as err:
        parse_request(data)
    return err.value.status


def request(head: str, body: bytes = b"") -> bytes:
    return head.replace("\n", "\r\n").encode() + b"\r\n" + body


# -- requests that parse ---------------------------------------------------------------------

def test_a_simple_get():
    r = parse_request(b"GET /index.html?x=1 HTTP/1.1\r\nHost: lab\r\nAccept: */*\r\n\r\n")
    assert (r.method, r.target, r.path, r.query, r.version) == \
        ("GET", "/index.html?x=1", "/index.html", "x=1", (1, 1))
    assert r.headers == [("host", "lab"), ("accept", "*/*")]
    assert r.keep_alive and r.body == b"" and not r.framed


def test_field_names_are_case_insensitive_and_values_trimmed():
    r = parse_request(b"GET / HTTP/1.1\r\nHOST:   lab \t\r\nX-A: 1\r\nx-a: 2\r\n\r\n")
    assert r.header("host") == "lab" and r.header("X-a") == "1, 2"
    assert r.header("missing", "none") == "none"


@pytest.mark.parametrize("head, keep", [
    ("GET / HTTP/1.1\nHost: l\n", True),
    ("GET / HTTP/1.1\nHost: l\nConnection: close\n", False),
    ("GET / HTTP/1.1\nHost: l\nConnection: Keep-Alive, CLOSE\n", False),
    ("GET / HTTP/1.0\n", False),
    ("GET / HTTP/1.0\nConnection: keep-alive\n", True),
])
def test_keep_alive_by_version_and_connection(head, keep):
    assert parse_request(request(head)).keep_alive is keep


def test_http_1_0_needs_no_host_and_a_newer_1_x_is_read_as_1_1():
    assert parse_request(b"GET / HTTP/1.0\r\n\r\n").version == (1, 0)
    assert parse_request(b"GET / HTTP/1.2\r\nHost: l\r\n\r\n").version == (1, 1)


def test_absolute_form_and_asterisk_form():
    assert parse_request(request("GET http://lab:80/a/b?q HTTP/1.1\nHost: lab\n")).target == "/a/b?q"
    assert parse_request(request("GET http://lab HTTP/1.1\nHost: lab\n")).target == "/"
    assert parse_request(request("OPTIONS * HTTP/1.1\nHost: lab\n")).target == "*"
    assert refused(request("GET * HTTP/1.1\nHost: lab\n")) == 400


def test_bare_lf_and_leading_empty_lines_are_accepted():
    """RFC 9112 §2.2: a bare LF may end a line; empty lines before a request are skipped."""
    r = parse_request(b"\r\n\nGET / HTTP/1.1\nHost: lab\n\n")
    assert r.method == "GET" and r.header("host") == "lab"
    assert refused(b"\r\n" * (http11.MAX_EMPTY_LINES + 1) + GET) == 400


def test_content_length_body():
    r = parse_request(request("POST /api/echo HTTP/1.1\nHost: l\nContent-Length: 5\n", b"hello"))
    assert r.body == b"hello" and r.length == 5 and r.framed


def test_two_equal_content_lengths_are_one():
    """RFC 9112 §6.3 rule 5: a list of identical values may be taken as one."""
    r = parse_request(request("POST / HTTP/1.1\nHost: l\nContent-Length: 3\nContent-Length: 003\n",
                              b"abc"))
    assert r.body == b"abc"
    assert parse_request(request("POST / HTTP/1.1\nHost: l\nContent-Length: 3, 3\n", b"abc")).body == b"abc"


def test_chunked_body_with_extensions_and_trailers():
    body = b"5;name=value\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    r = parse_request(request("POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked\n", body))
    assert r.body == b"hello world" and r.chunked and r.length is None


def test_chunk_sizes_are_hex_and_any_case():
    body = b"A\r\n0123456789\r\nb\r\n0123456789a\r\n0\r\n\r\n"
    r = parse_request(request("POST / HTTP/1.1\nHost: l\nTransfer-Encoding: Chunked\n", body))
    assert r.body == b"01234567890123456789a"


def test_a_post_without_a_length_has_an_empty_body():
    """RFC 9112 §6.3 rule 7 -- the server answers 411 where a route wants a body."""
    r = parse_request(request("POST / HTTP/1.1\nHost: l\n"))
    assert r.body == b"" and not r.framed


def test_pipelined_requests_come_out_in_order_and_eof_is_none():
    stream = io.BytesIO(GET.replace(b"/", b"/one", 1) + request(
        "POST /two HTTP/1.1\nHost: l\nContent-Length: 2\n", b"hi") + GET.replace(b"/", b"/three", 1))
    seen = []
    while (r := read_request(stream)) is not None:
        read_body(stream, r)
        seen.append((r.path, r.body))
    assert seen == [("/one", b""), ("/two", b"hi"), ("/three", b"")]


# -- the limits, at the edge and one past --------------------------------------------------

def test_request_line_limit_414():
    fits = b"GET /" + b"a" * (MAX_REQUEST_LINE - len(b"GET / HTTP/1.1")) + b" HTTP/1.1"
    assert len(fits) == MAX_REQUEST_LINE
    assert parse_request(fits + b"\r\nHost: l\r\n\r\n").method == "GET"
    too_long = fits.replace(b"/a", b"/aa", 1)
    assert refused(too_long + b"\r\nHost: l\r\n\r\n") == 414
    assert refused(b"GET /" + b"a" * 100_000) == 414              # never a line end


def test_header_section_limit_431():
    line = b"X-Pad: " + b"p" * 100 + b"\r\n"                      # 109 bytes a line
    head = b"GET / HTTP/1.1\r\nHost: l\r\n"
    room = MAX_HEADER_BYTES - len(b"Host: l\r\n")
    n, rest = divmod(room, len(line))
    exact = line * n + b"X: " + b"x" * (rest - 5) + b"\r\n"
    assert parse_request(head + exact + b"\r\n").header("x") == "x" * (rest - 5)
    assert refused(head + exact.replace(b"X: ", b"X: y") + b"\r\n") == 431
    assert refused(head + b"Cookie: " + b"c" * 64 * 1024 + b"\r\n\r\n") == 431   # 64 KB


def test_header_count_limit_431():
    head = b"GET / HTTP/1.1\r\nHost: l\r\n" + b"A: 1\r\n" * (MAX_HEADER_FIELDS - 1)
    assert len(parse_request(head + b"\r\n").headers) == MAX_HEADER_FIELDS
    assert refused(head + b"A: 1\r\n\r\n") == 431


def test_body_limit_413():
    ok = request(f"POST / HTTP/1.1\nHost: l\nContent-Length: {MAX_BODY}\n", b"x" * MAX_BODY)
    assert len(parse_request(ok).body) == MAX_BODY
    assert refused(request(f"POST / HTTP/1.1\nHost: l\nContent-Length: {MAX_BODY + 1}\n")) == 413
    assert refused(request("POST / HTTP/1.1\nHost: l\nContent-Length: " + "9" * 5000 + "\n")) == 413
    chunk = b"%x\r\n" % (MAX_BODY // 2) + b"y" * (MAX_BODY // 2) + b"\r\n"
    te = "POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked\n"
    assert len(parse_request(request(te, chunk * 2 + b"0\r\n\r\n")).body) == MAX_BODY
    assert refused(request(te, chunk * 2 + b"1\r\nz\r\n0\r\n\r\n")) == 413
    assert refused(request(te, b"f" * 900 + b"\r\n")) == 413     # an enormous chunk size


# -- refusals ---------------------------------------------------------------------------------

@pytest.mark.parametrize("data", [
    b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",              # a TLS ClientHello
    b"\x00\x01\x02\x03garbage\r\n\r\n",
    b"GARBAGE\r\n\r\n",
    b"GET /\r\n\r\n",                                             # HTTP/0.9
    b"GET  / HTTP/1.1\r\nHost: l\r\n\r\n",                        # two spaces
    b"GET / HTTP/1.1 \r\nHost: l\r\n\r\n",
    b"GET /a b HTTP/1.1\r\nHost: l\r\n\r\n",
    b"GET /\xc3\xa9 HTTP/1.1\r\nHost: l\r\n\r\n",                 # non-ASCII target
    b"GET index.html HTTP/1.1\r\nHost: l\r\n\r\n",
    b"G(T / HTTP/1.1\r\nHost: l\r\n\r\n",                          # not a token
    b"GET / HTTP/1.10\r\nHost: l\r\n\r\n",
    b"GET / http/1.1\r\nHost: l\r\n\r\n",
    b"GET / HTTP/1.1\r\n\r\n",                                    # no Host
    b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n",              # two Hosts
    b"GET / HTTP/1.1\r\nHost : l\r\n\r\n",                        # space before the colon
    b"GET / HTTP/1.1\r\nHost: l\r\n folded\r\n\r\n",              # obs-fold
    b"GET / HTTP/1.1\r\nHost: l\r\nNoColon\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: l\r\n: empty name\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: l\r\nX: a\x00b\r\n\r\n",            # NUL
    b"GET / HTTP/1.1\r\nHost: l\rX: bare CR\r\n\r\n",             # bare CR
    b"GET / HTTP/1.1\r\nHost: l\r\nX: \x7f\r\n\r\n",
    b"GET / HTTP/1.1\r\nHost: l\r\n",                             # ends inside the head
    b"GET / HTTP/1.1",                                            # ends inside the line
])
def test_garbage_is_400(data):
    assert refused(data) == 400


@pytest.mark.parametrize("head", [
    # RFC 9112 §6.3 and §11.2: the request smuggling cases
    "POST / HTTP/1.1\nHost: l\nContent-Length: 4\nTransfer-Encoding: chunked\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked\nContent-Length: 4\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: 4\nContent-Length: 5\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: 4, 5\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: +4\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: -4\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: 0x4\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: 4 4\n",
    "POST / HTTP/1.1\nHost: l\nContent-Length: \u00b2\n",         # a digit, but not ASCII
    "POST / HTTP/1.1\nHost: l\nContent-Length:\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked, chunked\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked, gzip\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding: gzip\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding: xchunked\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding:\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding : chunked\n",
    "POST / HTTP/1.1\nHost: l\nTransfer-Encoding:\n chunked\n",
    "POST / HTTP/1.0\nTransfer-Encoding: chunked\n",
])
def test_smuggling_cases_are_400(head):
    assert refused(request(head, b"0\r\n\r\n")) == 400


@pytest.mark.parametrize("body", [
    b"zz\r\nhello\r\n0\r\n\r\n",                  # not hex
    b"0x5\r\nhello\r\n0\r\n\r\n",
    b"-5\r\nhello\r\n0\r\n\r\n",
    b" 5\r\nhello\r\n0\r\n\r\n",
    b"\r\nhello\r\n0\r\n\r\n",                    # no size
    b"5\r\nhelloXX0\r\n\r\n",                     # data not followed by CRLF
    b"5\r\nhel",                                   # ends inside the data
    b"5\r\nhello\r\n",                             # no last chunk
    b"0\r\nX: trailer",                            # ends inside the trailers
    b"5;" + b"e" * 2000 + b"\r\nhello\r\n0\r\n\r\n",   # chunk-size line too long
])
def test_bad_chunking_is_400(body):
    assert refused(request("POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked\n", body)) == 400


def test_trailers_have_the_header_limits():
    body = b"0\r\n" + b"T: " + b"t" * MAX_HEADER_BYTES + b"\r\n\r\n"
    assert refused(request("POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked\n", body)) == 431


def test_a_body_cut_short_is_400():
    assert refused(request("POST / HTTP/1.1\nHost: l\nContent-Length: 10\n", b"short")) == 400


@pytest.mark.parametrize("data, status", [
    (b"BREW /pot HTTP/1.1\r\nHost: l\r\n\r\n", 501),              # RFC 9110 §9.1
    (b"get / HTTP/1.1\r\nHost: l\r\n\r\n", 501),                  # methods are case-sensitive
    (request("POST / HTTP/1.1\nHost: l\nTransfer-Encoding: gzip, chunked\n"), 501),
    (b"GET / HTTP/2.0\r\nHost: l\r\n\r\n", 505),
    (b"GET / HTTP/0.9\r\nHost: l\r\n\r\n", 505),
    (b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505),                  # HTTP/2's preface
])
def test_not_implemented_and_version(data, status):
    assert refused(data) == status


def test_the_reason_is_said_and_kept():
    with pytest.raises(HttpError) as err:
        parse_request(request("POST / HTTP/1.1\nHost: l\nContent-Length: 1\nContent-Length: 2\n"))
    assert err.value.status == 400 and "two different Content-Lengths" in err.value.reason
    assert str(err.value).startswith("400 Bad Request")


def test_a_closed_stream_is_none_and_garbage_is_seen_in_a_partial_line():
    assert read_request(io.BytesIO(b"")) is None
    http11.check_line_bytes(b"GET / HTTP/1.1\r")                  # CR last: LF may follow
    for partial in (b"\x16\x03\x01", b"GET /\x00", b"GET /\rX"):
        with pytest.raises(HttpError) as err:
            http11.check_line_bytes(partial)
        assert err.value.status == 400


# -- responses ----------------------------------------------------------------------------------

def h11_response(raw: bytes, method: str = "GET"):
    """Parse ``raw`` with h11 as the client that sent ``method /``: (Response, body)."""
    client = h11.Connection(h11.CLIENT)
    client.send(h11.Request(method=method, target="/", headers=[("Host", "lab")]))
    client.send(h11.EndOfMessage())
    client.receive_data(raw)
    client.receive_data(b"")
    events = []
    while (event := client.next_event()) not in (h11.NEED_DATA, h11.PAUSED):
        events.append(event)
        if isinstance(event, (h11.EndOfMessage, h11.ConnectionClosed)):
            break
    response = next(e for e in events if isinstance(e, h11.Response))
    return response, b"".join(e.data for e in events if isinstance(e, h11.Data))


def test_responses_parse_in_h11():
    raw = format_response(200, [("Content-Type", "text/plain")], b"hello")
    assert raw.startswith(b"HTTP/1.1 200 OK\r\n") and raw.endswith(b"\r\n\r\nhello")
    response, body = h11_response(raw)
    assert response.status_code == 200 and body == b"hello"
    assert (b"content-length", b"5") in list(response.headers)


def test_head_and_304_carry_the_length_but_no_body():
    raw = format_response(200, [], b"x" * 10, head=True)
    assert raw.endswith(b"Content-Length: 10\r\n\r\n")
    assert h11_response(raw, "HEAD")[1] == b""
    raw = format_response(304, [("ETag", '"a"')], b"x" * 10)
    assert raw.endswith(b"Content-Length: 10\r\n\r\n")
    response, body = h11_response(raw)
    assert response.status_code == 304 and body == b""


def test_interim_and_no_content_have_no_length():
    assert format_response(100) == b"HTTP/1.1 100 Continue\r\n\r\n"
    assert b"Content-Length" not in format_response(204)


def test_every_status_we_send_has_a_reason_and_parses():
    for code in http11.REASONS:
        if code >= 200:
            response, _ = h11_response(format_response(code, [], b"why\n"))
            assert response.status_code == code and response.reason


def test_http_date_is_imf_fixdate():
    assert http11.http_date(784111777) == "Sun, 06 Nov 1994 08:49:37 GMT"   # RFC 9110 §5.6.7
    assert re.fullmatch(r"\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT", http11.http_date())


# -- hypothesis -------------------------------------------------------------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SEEDS = [GET, request("POST /api/echo HTTP/1.1\nHost: l\nContent-Length: 5\n", b"hello"),
         request("POST / HTTP/1.1\nHost: l\nTransfer-Encoding: chunked\n",
                 b"5;x=y\r\nhello\r\n0\r\nT: 1\r\n\r\n"),
         b"GET http://lab/x?y HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"]


def parse_any(data: bytes) -> None:
    """Parse ``data`` as a stream of requests: only Request, None or HttpError may come out,
    within a bounded time."""
    stream, start = io.BytesIO(data), time.monotonic()
    try:
        for _ in range(len(data) + 1):
            r = read_request(stream)
            if r is None:
                break
            read_body(stream, r)
    except HttpError as err:
        assert err.status in http11.REASONS
    assert time.monotonic() - start < 2.0


@st.composite
def mutated(draw):
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(1, 6))):
        at = draw(st.integers(0, len(data)))
        how = draw(st.sampled_from(["flip", "insert", "delete", "cut", "repeat"]))
        if how == "flip" and at < len(data):
            data[at] = draw(st.integers(0, 255))
        elif how == "insert":
            data[at:at] = draw(st.sampled_from([b"\r", b"\n", b"\r\n", b" ", b":", b";", b"0",
                                                b"\x00", b"chunked", b",", b"\t", b"9" * 30]))
        elif how == "delete":
            del data[at:at + draw(st.integers(1, 8))]
        elif how == "cut":
            del data[at:]
        elif how == "repeat":
            data += data[at:]
    return bytes(data)


@FUZZ
@given(st.binary(max_size=512))
def test_fuzz_random_bytes(data):
    parse_any(data)


@FUZZ
@given(mutated())
def test_fuzz_mutated_requests(data):
    parse_any(data)


@FUZZ
@given(st.binary(min_size=1, max_size=64).map(lambda b: b * 300))
def test_fuzz_long_repeated_input(data):
    parse_any(data)


TOKEN = st.text("abcdefghijklmnopqrstuvwxyz0123456789-", min_size=1, max_size=12)
VALUE = st.text("abcdefghijklmnopqrstuvwxyz0123456789 -_./=;", max_size=30).map(str.strip)


@st.composite
def wellformed(draw):
    """A valid request, written the way a client would, and what it means."""
    method = draw(st.sampled_from(["GET", "HEAD", "POST", "DELETE", "OPTIONS"]))
    path = "/" + "/".join(draw(st.lists(TOKEN, max_size=4)))
    fields = [("host", "lab")] + draw(st.lists(
        st.tuples(TOKEN.filter(lambda t: t not in ("host", "content-length", "transfer-encoding",
                                                   "connection", "expect")), VALUE), max_size=8))
    body = draw(st.binary(max_size=200)) if method == "POST" else b""
    chunked = method == "POST" and draw(st.booleans())
    if chunked:
        fields.append(("transfer-encoding", "chunked"))
        sizes = draw(st.lists(st.integers(1, 50), max_size=5))
        wire, at = b"", 0
        for n in sizes:
            piece = body[at:at + n]
            if piece:
                wire += b"%x\r\n" % len(piece) + piece + b"\r\n"
            at += n
        body = body[:at] if sizes else b""
        wire += b"0\r\n\r\n"
    else:
        if method == "POST":
            fields.append(("content-length", str(len(body))))
        wire = body
    head = f"{method} {path} HTTP/1.1\r\n" + "".join(f"{n}: {v}\r\n" for n, v in fields) + "\r\n"
    return head.encode() + wire, method, path, fields, body


@FUZZ
@given(wellformed())
def test_wellformed_requests_parse_as_h11_parses_them(case):
    data, method, path, fields, body = case
    ours = parse_request(data)
    server = h11.Connection(h11.SERVER)
    server.receive_data(data)
    theirs, got = server.next_event(), b""
    while not isinstance(event := server.next_event(), h11.EndOfMessage):
        got += event.data
    assert (ours.method, ours.target) == (theirs.method.decode(), theirs.target.decode()) == (method, path)
    assert ours.headers == [(n.decode(), v.decode()) for n, v in theirs.headers] == fields
    assert ours.body == got == body


# -- the status document's shape ----------------------------------------------------------------

class FakeStack:
    """Just enough of a Stack for ``status()``: an interface and sockets, no device."""

    def __init__(self, sockets=()):
        import threading
        from dos64lab.iface import Interface, InterfaceConfig
        from ipaddress import IPv4Interface
        self.lock, self.clock, self.polls = threading.RLock(), lambda: 100.0, 7
        self.iface = Interface(InterfaceConfig(IPv4Interface("10.0.2.15/24"),
                                               IPv4Address("10.0.2.2")))
        self.sockets, self.device = list(sockets), None


def test_the_status_document_without_a_machine_has_the_shape():
    from dos64lab.socket import UdpSocket
    from dos64lab.socket.tcp import TcpListener
    doc = status(stack=FakeStack([TcpListener(80, backlog=8), UdpSocket()]))
    assert check_shape(doc) == [] and doc["schema"] == SCHEMA
    assert doc["kernel"]["uptime_s"] is None and doc["stack"]["polls"] == 7
    listener = doc["sockets"][0]
    assert (listener["proto"], listener["state"], listener["local"], listener["tx_queue"]) == \
        ("tcp", "LISTEN", "*:80", 8)
    json.dumps(doc, allow_nan=False)


def test_an_infinite_lease_is_null_in_json():
    from dos64lab.socket import DhcpClient, DhcpState, Lease
    client = DhcpClient()
    client.state = DhcpState.BOUND
    client.lease = Lease(IPv4Address("10.0.2.15"), IPv4Address("255.255.255.0"),
                         IPv4Address("10.0.2.2"), (IPv4Address("10.0.2.3"),), math.inf,
                         IPv4Address("10.0.2.2"), math.inf, math.inf, 90.0)
    doc = status(stack=FakeStack([client]))
    assert check_shape(doc) == []
    assert doc["dhcp"] == {"state": "BOUND", "address": "10.0.2.15/24", "router": "10.0.2.2",
                           "dns_servers": ["10.0.2.3"], "server": "10.0.2.2",
                           "lease_time_s": None, "renew_in_s": None, "expires_in_s": None}
    json.dumps(doc, allow_nan=False)


def test_check_shape_names_what_is_wrong():
    doc = status(stack=FakeStack())
    doc["kernel"]["uptime_s"] = "soon"
    doc["interface"]["counters"]["x"] = 1.5
    del doc["arp"]
    doc["extra"] = 1
    problems = check_shape(doc)
    assert any(p.startswith("$.kernel.uptime_s") for p in problems)
    assert any(p.startswith("$.interface.counters") for p in problems)
    assert "$.arp: missing" in problems and "$.extra: not in the schema" in problems
