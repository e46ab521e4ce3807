"""The HTTP/1.1 client of `dos64lab wget` (apps/wget.py) against scripted servers: a fake
stack whose connections deliver bytes a test chose, in pieces of any size -- framing
(Content-Length, chunked, until close), redirects, status errors, and hostile responses
(endless headers, huge lines, bad chunk sizes, endless redirects), each stopped within
its bound, having read no more than the bound allows."""

import hashlib
import itertools
from ipaddress import IPv4Address

import pytest

from dos64lab.apps.wget import (MAX_CHUNK_LINE, MAX_HEAD, MAX_HEADERS, MAX_LINE, MAX_REDIRECTS,
                                HttpStatusError, Url, WgetError, parse_url, request, wget)
from dos64lab.errors import Dos64LabError
from dos64lab.socket.tcp import ConnectionRefused, ConnectionReset
from dos64lab.stack import StackTimeout

HOST = IPv4Address("10.0.2.2")


class FakeConn:
    """A TcpConnection's surface over scripted bytes: ``script`` is bytes or an iterable of
    bytes and exceptions (raised when reached); ``piece`` caps each recv()."""

    def __init__(self, script, piece: int = 4096):
        self.source = iter([script] if isinstance(script, bytes) else script)
        self.piece, self.pending = piece, b""
        self.sent, self.delivered = bytearray(), 0
        self.closed = self.aborted = False

    def sendall(self, data, timeout=None):
        self.sent += data

    def recv(self, limit=65536, timeout=10.0):
        if not self.pending:
            item = next(self.source, b"")
            if isinstance(item, BaseException):
                raise item
            self.pending = item
        n = min(limit, self.piece)
        out, self.pending = self.pending[:n], self.pending[n:]
        self.delivered += len(out)
        return out

    def close(self):
        self.closed = True

    def abort(self):
        self.aborted = True


class FakeIface:
    def __init__(self, allowed=None):
        self.allowed = allowed                 # {(ip, port)}; None: everything

    def allows(self, dst, port=None):
        return self.allowed is None or (IPv4Address(dst), port) in self.allowed


class FakeStack:
    """``servers``: {port: a function (request bytes) -> FakeConn script, or an exception}."""

    def __init__(self, servers, piece=4096, allowed=None):
        self.servers, self.piece = servers, piece
        self.iface = FakeIface(allowed)
        self.conns: list[FakeConn] = []

    def connect(self, host, port, timeout=10.0):
        server = self.servers.get(port, ConnectionRefused(f"connection to {host}:{port} refused "
                                                          "(RST in SYN-SENT)"))
        if isinstance(server, BaseException):
            raise server
        conn = FakeConn(server(self), self.piece)
        self.conns.append(conn)
        return conn


def serve(*responses):
    """A server that answers each connection with the next response (the last one repeats)."""
    answers = itertools.chain(responses, itertools.repeat(responses[-1]))
    return lambda stack: next(answers)


def ok(body: bytes, headers: str = "") -> bytes:
    return (f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{headers}\r\n").encode() + body


def get(response, piece=4096, **kwargs):
    """wget http://10.0.2.2:8000/file from a server answering ``response``."""
    stack = FakeStack({8000: serve(response)}, piece)
    return stack, wget(stack, "http://10.0.2.2:8000/file", out=lambda *a: None, **kwargs)


def fails(response, match, kind="malformed", piece=4096):
    """wget fails with ``kind`` and a message matching ``match``; returns the connection."""
    stack = FakeStack({8000: serve(response)}, piece)
    with pytest.raises(WgetError, match=match) as info:
        wget(stack, "http://10.0.2.2:8000/file", out=lambda *a: None)
    assert info.value.kind == kind and isinstance(info.value, Dos64LabError)
    return stack.conns[-1] if stack.conns else None


BODY = bytes(range(256)) * 40 + b"tail"
SHA = hashlib.sha256(BODY).hexdigest()


# -- URLs and the request -------------------------------------------------------------------

def test_urls_name_an_ipv4_host_as_the_guest_sees_it():
    assert parse_url("http://10.0.2.2:8000/a/b?c=d#frag") == Url(HOST, 8000, "/a/b?c=d")
    assert parse_url("http://10.0.2.2") == Url(HOST, 80, "/")
    assert parse_url("10.0.2.2:8000/file") == Url(HOST, 8000, "/file")      # as wget allows
    assert str(parse_url("http://10.0.2.2:80/x")) == "http://10.0.2.2/x"
    base = parse_url("http://10.0.2.2:8000/dir/file")
    assert parse_url("other", base) == Url(HOST, 8000, "/dir/other")
    assert parse_url("/top", base) == Url(HOST, 8000, "/top")
    assert parse_url("//10.0.2.3:81/x", base) == Url(IPv4Address("10.0.2.3"), 81, "/x")
    assert parse_url("http://10.0.2.2:9000/y", base) == Url(HOST, 9000, "/y")


@pytest.mark.parametrize("url, match", [
    ("https://10.0.2.2/", "only http://"),
    ("ftp://10.0.2.2/", "only http://"),
    ("http://example.com/", "not an http://IPv4"),
    ("http://[::1]:80/", "not an http://IPv4"),
    ("http://10.0.2.2:99999/", "not an http://IPv4"),
    ("http://user:pw@10.0.2.2/", "user names"),
    ("http://10.0.2.2/a b", "printable ASCII"),
    ("http://10.0.2.2/\x7f", "printable ASCII"),
    ("http:///path", "not an http://IPv4"),
])
def test_anything_but_http_to_an_ipv4_address_is_a_clear_error(url, match):
    with pytest.raises(WgetError, match=match) as info:
        parse_url(url)
    assert info.value.kind == "url"


def test_the_request_asks_for_one_identity_response_and_close():
    assert request(Url(HOST, 8000, "/f?x=1")) == (
        b"GET /f?x=1 HTTP/1.1\r\nHost: 10.0.2.2:8000\r\nUser-Agent: dos64lab-wget/0.1\r\n"
        b"Accept: */*\r\nAccept-Encoding: identity\r\nConnection: close\r\n\r\n")
    assert b"\r\nHost: 10.0.2.2\r\n" in request(Url(HOST, 80, "/"))


# -- bodies ---------------------------------------------------------------------------------

@pytest.mark.parametrize("piece", [1, 7, 4096])
def test_a_content_length_body_arriving_in_any_pieces(piece, tmp_path):
    target = tmp_path / "file"
    stack, summary = get(ok(BODY, "Content-Type: application/octet-stream\r\n"), piece,
                         output=target)
    assert summary["sha256"] == SHA and summary["size"] == len(BODY)
    assert target.read_bytes() == BODY and summary["file"] == str(target)
    assert summary["content_type"] == "application/octet-stream" and not summary["chunked"]
    conn, = stack.conns
    assert conn.sent.startswith(b"GET /file HTTP/1.1\r\n") and conn.closed and not conn.aborted


def test_only_content_length_bytes_are_taken():
    _, summary = get(ok(BODY) + b"junk after the body")
    assert summary["sha256"] == SHA


def chunked(body: bytes, size: int, ext: str = "", trailer: str = "") -> bytes:
    out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
    for i in range(0, len(body), size):
        chunk = body[i:i + size]
        out += f"{len(chunk):x}{ext}\r\n".encode() + chunk + b"\r\n"
    return out + f"0\r\n{trailer}\r\n".encode()


@pytest.mark.parametrize("piece", [1, 5, 4096])
def test_a_chunked_body_with_extensions_and_trailers(piece):
    _, summary = get(chunked(BODY, 1000, ext=";name=value", trailer="X-Sum: 1\r\n"), piece)
    assert summary["sha256"] == SHA and summary["chunked"]


def test_chunked_wins_over_content_length_and_upper_case_hex_is_fine():
    response = (b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\nTransfer-Encoding: Chunked\r\n\r\n"
                b"A\r\n0123456789\r\n0\r\n\r\n")
    _, summary = get(response)
    assert summary["size"] == 10


def test_a_body_without_length_runs_until_the_server_closes():
    _, summary = get(b"HTTP/1.0 200 OK\r\n\r\n" + BODY)
    assert summary["sha256"] == SHA and summary["size"] == len(BODY)


def test_bare_lf_line_ends_obs_fold_and_interim_responses_are_accepted():
    response = (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\nX-Long: a\n  b\n"
                b"Content-Length: 2\n\nhi")
    _, summary = get(response)
    assert summary["size"] == 2


# -- redirects and status -----------------------------------------------------------------------

def redirect(status: int, location: str) -> bytes:
    return (f"HTTP/1.1 {status} Moved\r\nLocation: {location}\r\nContent-Length: 5\r\n\r\n"
            "moved").encode()


def test_a_chain_of_absolute_and_relative_redirects_is_followed():
    stack = FakeStack({8000: serve(redirect(301, "http://10.0.2.2:8001/a/b")),
                       8001: serve(redirect(302, "c?x=1"), redirect(307, "/final"), ok(BODY))})
    summary = wget(stack, "http://10.0.2.2:8000/start", out=lambda *a: None)
    assert summary["sha256"] == SHA and summary["final_url"] == "http://10.0.2.2:8001/final"
    assert [r["status"] for r in summary["redirects"]] == [301, 302, 307]
    assert [bytes(c.sent).split(b" ")[1] for c in stack.conns] == [b"/start", b"/a/b", b"/a/c?x=1",
                                                                   b"/final"]
    assert all(c.closed for c in stack.conns)


def test_endless_redirects_stop_after_five():
    stack = FakeStack({8000: serve(redirect(302, "/again"))})
    with pytest.raises(WgetError, match=f"more than {MAX_REDIRECTS} redirects") as info:
        wget(stack, "http://10.0.2.2:8000/", out=lambda *a: None)
    assert info.value.kind == "redirects" and len(stack.conns) == MAX_REDIRECTS + 1


def test_a_redirect_to_a_port_the_stack_may_not_reach_fails_before_connecting():
    stack = FakeStack({8000: serve(redirect(301, "http://10.0.2.2:22/"))},
                      allowed={(HOST, 8000)})
    with pytest.raises(WgetError, match="10.0.2.2 port 22 is not on the stack's egress allow-list"):
        wget(stack, "http://10.0.2.2:8000/", out=lambda *a: None)
    assert len(stack.conns) == 1


def test_a_redirect_to_a_name_or_https_is_a_url_error():
    for where in ("https://10.0.2.2/", "http://example.com/"):
        conn = fails(redirect(302, where), "only http|not an http://IPv4", kind="url")
        assert conn.aborted


@pytest.mark.parametrize("response, status", [
    (b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found", 404),
    (b"HTTP/1.1 500 Internal Server Error\r\n\r\n", 500),
    (b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n", 302),     # a redirect to nowhere
    (b"HTTP/1.1 101 Switching Protocols\r\n\r\n", 101),
])
def test_a_status_that_is_not_2xx_is_an_http_status_error(response, status):
    stack = FakeStack({8000: serve(response)})
    with pytest.raises(HttpStatusError, match=f"server answered {status}") as info:
        wget(stack, "http://10.0.2.2:8000/file", out=lambda *a: None)
    assert info.value.status == status and info.value.kind == "status"


# -- the network's errors -------------------------------------------------------------------------

def test_refused_reset_and_timed_out_say_so(tmp_path):
    stack = FakeStack({})
    with pytest.raises(WgetError, match="connection refused while connecting") as info:
        wget(stack, "http://10.0.2.2:8000/", out=lambda *a: None)
    assert info.value.kind == "refused" and isinstance(info.value.__cause__, ConnectionRefused)

    target = tmp_path / "partial"
    reset = [ok(BODY)[:3000], ConnectionReset("connection to 10.0.2.2:8000 reset by peer")]
    stack = FakeStack({8000: serve(reset)})
    with pytest.raises(WgetError, match="connection reset while receiving the body") as info:
        wget(stack, "http://10.0.2.2:8000/", target, out=lambda *a: None)
    assert info.value.kind == "reset" and stack.conns[0].aborted
    assert not target.exists()                     # no half-written file left behind

    stack = FakeStack({8000: serve([b"HTTP/1.1 200", StackTimeout("timed out after 1 s")])})
    with pytest.raises(WgetError, match="timed out while waiting for the response") as info:
        wget(stack, "http://10.0.2.2:8000/", out=lambda *a: None)
    assert info.value.kind == "timeout"


# -- hostile responses: each stops at its bound ------------------------------------------------

def endless(prefix: bytes, unit: bytes):
    """``prefix``, then ``unit`` for ever (in 4 KiB pieces)."""
    units = itertools.repeat(unit * max(1, 4096 // len(unit)))
    return itertools.chain([prefix] if prefix else [], units)


def test_an_endless_status_line_stops_at_max_line():
    conn = fails(endless(b"HTTP/1.1 200 ", b"A"), f"the status line longer than {MAX_LINE}")
    assert conn.delivered <= MAX_LINE + 2 * 4096 and conn.aborted


def test_an_endless_header_line_stops_at_max_line():
    conn = fails(endless(b"HTTP/1.1 200 OK\r\nX-Big: ", b"x"),
                 f"header line longer than {MAX_LINE}")
    assert conn.delivered <= MAX_LINE + 3 * 4096


def test_endless_headers_stop_at_max_headers():
    conn = fails(endless(b"HTTP/1.1 200 OK\r\n", b"X-Flood: 1\r\n"), f"more than {MAX_HEADERS}")
    assert conn.delivered <= MAX_HEAD


def test_a_head_of_long_lines_stops_at_max_head():
    line = b"X-Long: " + b"y" * 8000 + b"\r\n"
    conn = fails(endless(b"HTTP/1.1 200 OK\r\n", line), f"headers longer than {MAX_HEAD} bytes")
    assert conn.delivered <= MAX_HEAD + 3 * 8192


def test_endless_interim_responses_stop():
    fails(endless(b"", b"HTTP/1.1 100 Continue\r\n\r\n"), "interim")


def test_endless_trailers_stop():
    fails(endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n", b"T: 1\r\n"),
          f"more than {MAX_HEADERS} trailer")


@pytest.mark.parametrize("line", [b"zz", b"-1", b"0x10", b"+5", b"", b" ", b"1 2",
                                  b"1" * 17, b"\xb2"])
def test_bad_chunk_sizes_are_malformed(line):
    response = (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + line
                + b"\r\nabc\r\n0\r\n\r\n")
    fails(response, "bad chunk size")


def test_an_endless_chunk_size_line_stops_at_its_bound():
    conn = fails(endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;", b"e"),
                 f"chunk-size line longer than {MAX_CHUNK_LINE}")
    assert conn.delivered <= 3 * 4096


def test_chunk_data_longer_than_its_size_is_malformed():
    fails(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nabcdef\r\n0\r\n\r\n",
          "end of a chunk|longer than its size")


@pytest.mark.parametrize("response, match", [
    (b"SSH-2.0-OpenSSH_9.2\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/2 200\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 20 OK\r\n\r\n", "not an HTTP/1.x status line"),
    (b"HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n", "not a header field"),
    (b"HTTP/1.1 200 OK\r\nName : value\r\n\r\n", "not a header field"),
    (b"HTTP/1.1 200 OK\r\n folded first\r\n\r\n", "continuation"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\nhello", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 1e3\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: " + b"9" * 30 + b"\r\n\r\n", "Content-Length"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", "only chunked"),
    (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nshort", "closed after 5 of 100 bytes"),
    (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nshort", "inside a chunk"),
    (b"HTTP/1.1 200 OK\r\nContent-", "closed in the middle of a header line"),
    (b"", "closed in the middle of the status line"),
])
def test_malformed_responses_are_named(response, match):
    fails(response, match)


def test_a_valid_content_length_list_of_one_value_is_accepted():
    _, summary = get(b"HTTP/1.1 200 OK\r\nContent-Length: 2, 2\r\n\r\nhi")
    assert summary["size"] == 2
