"""Test helpers: split a fixture frame into our Reprs, put them back, mutate bytes."""

from __future__ import annotations

import dataclasses

from hypothesis import HealthCheck, given, settings, strategies as st

from dos64lab.errors import ParseError
from dos64lab.wire import arp, dhcp, dns, ethernet, icmp, ipv4, tcp, udp
from dos64lab.wire.ethernet import EtherType
from dos64lab.wire.ipv4 import IpProtocol
from fixtures.frames import FRAMES, frame

__all__ = ["FRAMES", "frame", "decode", "encode", "layer", "mutated", "parse_then_emit", "fuzz_tests"]


def decode(raw: bytes) -> list:
    """[ethernet, (arp | ipv4, icmp | udp | tcp, dhcp | dns)] Reprs of a whole frame."""
    eth = ethernet.Repr.parse(raw)
    if eth.ethertype == EtherType.ARP:
        return [eth, arp.Repr.parse(eth.payload)]
    ip = ipv4.Repr.parse(eth.payload)
    if ip.protocol == IpProtocol.ICMP:
        return [eth, ip, icmp.Repr.parse(ip.payload)]
    if ip.protocol == IpProtocol.TCP:
        return [eth, ip, tcp.Repr.parse(ip.payload, ip.src, ip.dst)]
    u = udp.Repr.parse(ip.payload, ip.src, ip.dst)
    app = dhcp.Repr if dhcp.SERVER_PORT in (u.src_port, u.dst_port) else dns.Repr
    return [eth, ip, u, app.parse(u.payload)]


def encode(reprs: list) -> bytes:
    """Emit the innermost Repr, then each outer one around it (payloads re-emitted)."""
    ip = next((r for r in reprs if isinstance(r, ipv4.Repr)), None)
    inner = None
    for r in reversed(reprs):
        if inner is not None:
            field = _payload_field(r)
            old = getattr(r, field)
            r = dataclasses.replace(r, **{field: inner + old[len(inner):]})  # keeps Ethernet padding
        inner = r.to_bytes(ip.src, ip.dst) if isinstance(r, (udp.Repr, tcp.Repr)) else r.to_bytes()
    return inner


def _payload_field(r) -> str:
    return "data" if isinstance(r, icmp.Repr) else "payload"


def layer(name: str, index: int) -> tuple[bytes, object]:
    """The bytes of layer ``index`` (0 = Ethernet) of fixture ``name``, and the IPv4 Repr."""
    reprs = decode(frame(name))
    ip = next((r for r in reprs if isinstance(r, ipv4.Repr)), None)
    if index == 0:
        return frame(name), ip
    return getattr(reprs[index - 1], _payload_field(reprs[index - 1])), ip


@st.composite
def mutated(draw, seeds: list[bytes]):
    """A real frame with a few bytes replaced, inserted or cut off."""
    data = bytearray(draw(st.sampled_from(seeds)))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["set", "set", "insert", "truncate"]))
        pos = draw(st.integers(0, max(len(data) - 1, 0)))
        if kind == "set" and data:
            data[pos] = draw(st.integers(0, 255))
        elif kind == "insert":
            data[pos:pos] = draw(st.binary(min_size=1, max_size=8))
        else:
            del data[pos:]
    return bytes(data)


# -- fuzzing: untrusted bytes give ParseError and nothing else ----------------------------

FUZZ_EXAMPLES = 1500          # per strategy, per protocol: keep the whole run well under 60 s


def parse_then_emit(parse, data: bytes, emit=lambda r: r.to_bytes()) -> None:
    """Parse ``data``; a ParseError is fine, any other exception fails the test;
    whatever parses must emit without an exception."""
    try:
        r = parse(data)
    except ParseError:
        return
    emit(r)


def fuzz_tests(parse, seeds: list[bytes], emit=lambda r: r.to_bytes(), random=None):
    """The two hypothesis tests every protocol gets: random bytes and mutated real frames."""
    settings_ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                         suppress_health_check=[HealthCheck.too_slow])

    @settings_
    @given(st.binary(max_size=128) if random is None else random)
    def test_fuzz_random_bytes(data):
        parse_then_emit(parse, data, emit)

    @settings_
    @given(mutated(seeds))
    def test_fuzz_mutated_frames(data):
        parse_then_emit(parse, data, emit)

    return test_fuzz_random_bytes, test_fuzz_mutated_frames
