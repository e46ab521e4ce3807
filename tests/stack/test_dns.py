"""DnsClient in smoltcp's shape: a fake DNS server made of the wire layer, time as an argument.

The client runs in an ``Interface`` (10.0.2.15/24, the gateway's MAC known) on a
``WireEnd``; each test sends a query, feeds one answer frame and checks the result --
or that a spoofed, mismatched or hostile answer is ignored, counted, and never raises.
"""

from ipaddress import IPv4Address, IPv6Address

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dos64lab.errors import ArgumentError
from dos64lab.iface import InterfaceConfig
from dos64lab.socket import DnsClient
from dos64lab.stack import Stack, StackTimeout
from dos64lab.wire import arp, dns, ethernet, icmp, ipv4, udp
from dos64lab.wire.dns import Flags, Question, Rcode, Record, Type
from dos64lab.wire.ethernet import EtherType

from .conftest import (GW_IP, GW_MAC, HOST_IP, NET, Host, WireEnd, arp_frame, icmp_packet,
                       ip_frame, udp_packet)

SERVER = (GW_IP, 5353)
ANSWER = Flags.QR | Flags.RD | Flags.RA


def sent_queries(frames) -> list:
    """(ipv4.Repr, udp.Repr, dns.Repr) of each DNS query among ``frames``."""
    out = []
    for frame in frames:
        eth = ethernet.Repr.parse(frame)
        assert eth.ethertype == EtherType.IPV4, "no ARP expected: the gateway is known"
        ip = ipv4.Repr.parse(eth.payload)
        d = udp.Repr.parse(ip.payload, ip.src, ip.dst)
        out.append((ip, d, dns.Repr.parse(d.payload)))
    return out


def reply(query, *answers, rcode=0, flags=ANSWER, id=None, questions=None, src=GW_IP,
          src_port=None, dst_port=None) -> bytes:
    """The server's answer to ``query`` (from ``sent_queries``); any field can be wrong."""
    ip, d, m = query
    message = dns.Repr(m.id if id is None else id, int(flags) | rcode,
                       m.questions if questions is None else questions, tuple(answers))
    return ip_frame(udp_packet(src, HOST_IP, d.dst_port if src_port is None else src_port,
                               d.src_port if dst_port is None else dst_port, message.to_bytes()))


def a(name, address, ttl=300):
    return Record(name, Type.A, ttl, IPv4Address(address))


def cname(name, target, ttl=300):
    return Record(name, Type.CNAME, ttl, target)


@pytest.fixture
def dnsc(host_gw):
    """``host_gw`` with a DnsClient: 1 s per try, 3 tries, seeded."""
    host_gw.client = host_gw.add(DnsClient(timeout=1.0, tries=3, seed=5))
    return host_gw


def ask(h, name="lab.test", type_="A", now=0.0, server=SERVER):
    q = h.client.query(name, type_, server)
    sent = sent_queries(h.poll(now))
    assert len(sent) == 1
    return q, sent[0]


# -- answers --------------------------------------------------------------------------

def test_a_query_goes_to_the_server_with_a_random_id_from_a_random_port(dnsc):
    q, (ip, d, m) = ask(dnsc)
    assert (ip.src, ip.dst, d.dst_port) == (HOST_IP, GW_IP, 5353)
    assert d.src_port == q.port and 49152 <= q.port <= 65535
    assert m.id == q.id and m.flags == Flags.RD and not m.is_response
    assert m.questions == (Question("lab.test", Type.A),)
    assert dnsc.client.poll_at(0.0) == 1.0


def test_an_a_answer_gives_the_address_with_its_ttl(dnsc):
    q, sent = ask(dnsc)
    dnsc.poll(0.25, reply(sent, a("lab.test", "10.9.8.7", ttl=60)))
    r = q.result
    assert q.done and q.error is None and r.ok and r.rcode == Rcode.NOERROR
    assert r.addresses == [IPv4Address("10.9.8.7")] and r.ttl == 60
    assert (r.rtt, r.tries, r.truncated, r.cnames) == (0.25, 1, False, ())
    assert dnsc.client.queries == {} and dnsc.client.poll_at(1.0) is None
    assert "lab.test A 10.9.8.7 ttl 60" in str(r)


def test_an_aaaa_answer(dnsc):
    q, sent = ask(dnsc, type_="AAAA")
    assert sent[2].questions[0].type == Type.AAAA
    dnsc.poll(0.1, reply(sent, Record("lab.test", Type.AAAA, 30, IPv6Address("fd00::7"))))
    assert q.result.addresses == [IPv6Address("fd00::7")]


def test_a_cname_chain_is_followed_and_names_off_the_chain_ignored(dnsc):
    q, sent = ask(dnsc, "alias.lab.test")
    dnsc.poll(0.1, reply(sent, cname("alias.lab.test", "mid.lab.test", ttl=100),
                         a("evil.example", "6.6.6.6"),
                         cname("MID.lab.test", "lab.test", ttl=50),
                         a("lab.test", "10.9.8.7", ttl=300)))
    r = q.result
    assert [c.data for c in r.cnames] == ["mid.lab.test", "lab.test"]
    assert r.canonical_name == "lab.test" and r.addresses == [IPv4Address("10.9.8.7")]
    assert r.ttl == 50


def test_a_cname_loop_is_refused(dnsc):
    q, sent = ask(dnsc, "a.lab.test")
    dnsc.poll(0.1, reply(sent, cname("a.lab.test", "b.lab.test"), cname("b.lab.test", "a.lab.test")))
    r = q.result
    assert r.addresses == [] and len(r.cnames) == 1 and "loop" in r.notes[0]


def test_a_cname_chain_longer_than_the_bound_is_not_followed(dnsc):
    dnsc.client.max_cnames = 3
    q, sent = ask(dnsc, "n0.lab.test")
    links = [cname(f"n{i}.lab.test", f"n{i + 1}.lab.test") for i in range(5)]
    dnsc.poll(0.1, reply(sent, *links, a("n5.lab.test", "10.0.0.5")))
    r = q.result
    assert r.addresses == [] and len(r.cnames) == 3 and "longer than 3" in r.notes[0]


def test_a_cname_query_gets_the_cname_itself(dnsc):
    q, sent = ask(dnsc, "alias.lab.test", "CNAME")
    dnsc.poll(0.1, reply(sent, cname("alias.lab.test", "lab.test")))
    assert [r.data for r in q.result.records] == ["lab.test"] and q.result.cnames == ()


def test_nxdomain_is_a_result_with_its_rcode(dnsc):
    q, sent = ask(dnsc, "nope.lab.test")
    dnsc.poll(0.1, reply(sent, rcode=Rcode.NXDOMAIN))
    assert q.result.rcode == Rcode.NXDOMAIN and not q.result.ok and q.result.addresses == []
    assert "NXDOMAIN" in str(q.result)


def test_the_tc_bit_is_reported(dnsc):
    q, sent = ask(dnsc)
    dnsc.poll(0.1, reply(sent, a("lab.test", "10.9.8.7"), flags=ANSWER | Flags.TC))
    assert q.result.truncated and q.result.addresses == [IPv4Address("10.9.8.7")]
    assert dnsc.client.stats["truncated"] == 1


def test_the_question_matches_without_case(dnsc):
    q, sent = ask(dnsc, "Lab.Test")
    dnsc.poll(0.1, reply(sent, a("lAB.tEST", "10.9.8.7"), questions=(Question("LAB.test", Type.A),)))
    assert q.result.addresses == [IPv4Address("10.9.8.7")]


# -- retries and time-outs ------------------------------------------------------------

def test_no_answer_is_retried_then_times_out_with_what_was_last_seen(dnsc):
    q, (_, d, m) = ask(dnsc)
    again = [sent_queries(dnsc.poll(t)) for t in (0.5, 1.0, 1.5, 2.0, 2.5)]
    assert [len(s) for s in again] == [0, 1, 0, 1, 0]
    for _, d2, m2 in again[1] + again[3]:          # a retry keeps the id and the port
        assert (m2.id, d2.src_port) == (m.id, d.src_port)
    dnsc.poll(2.9, reply((None, d, m), id=m.id ^ 1))            # one wrong answer meanwhile
    assert not q.done
    assert dnsc.poll(3.0) == [] and q.done and q.result is None
    assert "after 3 tries" in q.error and "rx_drop_wrong_id" in q.error
    assert dnsc.client.stats["timeout"] == 1 and dnsc.client.stats["tx_retry"] == 2
    assert dnsc.client.queries == {}


def test_a_query_that_cannot_leave_times_out_saying_why():
    h = Host(InterfaceConfig(NET))                  # no gateway: nothing off-link is reachable
    h.poll(0.0)
    client = h.add(DnsClient(timeout=1.0, tries=2, seed=5))
    q = client.query("lab.test", "A", ("192.0.2.53", 53))
    for t in (0.0, 1.0, 2.0):
        assert h.poll(t) == []
    assert q.error.endswith("after 2 tries of 1 s; last seen: no route to 192.0.2.53")
    assert h.stats["ipv4_tx_drop_no_route"] == 2 and client.stats["tx_errors"] == 2


def test_a_late_answer_to_the_first_try_is_taken(dnsc):
    q, sent = ask(dnsc)
    sent_queries(dnsc.poll(1.0))                    # the retry
    dnsc.poll(1.2, reply(sent, a("lab.test", "10.9.8.7")))
    assert q.result.tries == 2 and q.result.rtt == pytest.approx(0.2)


# -- answers that must not be believed (RFC 5452 §9.1) ----------------------------------

@pytest.mark.parametrize("wrong, reason", [
    (dict(src=IPv4Address("10.0.2.66")), "rx_drop_wrong_source"),
    (dict(src_port=53), "rx_drop_wrong_source"),
    (dict(id="flip"), "rx_drop_wrong_id"),
    (dict(flags=Flags.RD), "rx_drop_not_response"),
    (dict(questions=(Question("other.test", Type.A),)), "rx_drop_wrong_question"),
    (dict(questions=(Question("lab.test", Type.AAAA),)), "rx_drop_wrong_question"),
    (dict(questions=(Question("lab.test", Type.A, 3),)), "rx_drop_wrong_question"),
    (dict(questions=()), "rx_drop_wrong_question"),
])
def test_a_mismatched_answer_is_ignored_and_counted(dnsc, wrong, reason):
    q, sent = ask(dnsc)
    if wrong.get("id") == "flip":
        wrong = dict(id=sent[2].id ^ 0x8000)
    dnsc.poll(0.1, reply(sent, a("lab.test", "6.6.6.6"), **wrong))
    assert not q.done and q.last_seen.endswith(f"({reason})")
    assert dnsc.client.stats[reason] == 1 and dnsc.client.stats["rx_mismatched"] == 1
    dnsc.poll(0.2, reply(sent, a("lab.test", "10.9.8.7")))        # the real one still counts
    assert q.result.addresses == [IPv4Address("10.9.8.7")]


def test_an_answer_to_a_port_we_did_not_use_is_not_ours(dnsc):
    q, sent = ask(dnsc)
    dnsc.poll(0.1, reply(sent, a("lab.test", "6.6.6.6"), dst_port=sent[1].src_port ^ 1))
    assert not q.done and dnsc.client.stats["rx"] == 0
    assert dnsc.stats["udp_rx_drop_no_socket"] == 1


def test_an_icmp_error_about_a_query_is_noted_and_the_query_goes_on(dnsc):
    q, (ip, d, m) = ask(dnsc)
    quoted = ipv4.Repr(ip.src, ip.dst, ip.protocol, ip.payload).to_bytes()[:28]
    error = icmp.Repr.dest_unreachable(3, quoted)
    dnsc.poll(0.1, ip_frame(icmp_packet(GW_IP, HOST_IP, error)))
    assert not q.done and "ICMP type 3 code 3" in q.last_seen
    assert len(sent_queries(dnsc.poll(1.0))) == 1


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_hostile_answers_never_raise_out_of_poll(data):
    host_gw = Host(InterfaceConfig(NET, GW_IP))
    host_gw.iface.neighbors.learn(GW_IP, GW_MAC, 0.0, solicited=True)
    host_gw.poll(0.0)                               # the gratuitous ARP
    client = host_gw.add(DnsClient(seed=9))
    q = client.query("alias.lab.test", "A", SERVER)
    (ip, d, m), = sent_queries(host_gw.poll(0.0))
    good = dns.Repr(m.id, ANSWER, m.questions, (cname("alias.lab.test", "lab.test"),
                                                a("lab.test", "10.9.8.7"))).to_bytes()
    raw = bytearray(data.draw(st.one_of(st.just(good), st.binary(max_size=300)), label="base"))
    for _ in range(data.draw(st.integers(0, 6), label="flips")):
        if raw:
            i = data.draw(st.integers(0, len(raw) - 1))
            raw[i] = data.draw(st.integers(0, 255))
    raw = raw[:data.draw(st.integers(0, len(raw)), label="cut")]
    host_gw.poll(0.1, ip_frame(udp_packet(GW_IP, HOST_IP, 5353, d.src_port, bytes(raw))))
    assert client.stats["rx"] == 1
    assert q.done or client.stats["rx_mismatched"] == 1
    if q.done:
        str(q.result)


# -- several in flight ------------------------------------------------------------------

def test_several_queries_in_flight_have_distinct_ids_and_ports_and_answer_out_of_order(dnsc):
    names = [f"h{i}.lab.test" for i in range(8)]
    queries = [dnsc.client.query(n, "A", SERVER) for n in names]
    sent = sent_queries(dnsc.poll(0.0))
    assert len(sent) == 8
    assert len({s[1].src_port for s in sent}) == 8 and len({s[2].id for s in sent}) == 8
    for i, s in reversed(list(enumerate(sent))):
        dnsc.poll(0.1, reply(s, a(s[2].questions[0].name, f"10.0.0.{i}")))
    assert [q.result.addresses for q in queries] == [[IPv4Address(f"10.0.0.{i}")] for i in range(8)]


def test_an_answer_for_one_query_on_anothers_port_is_refused(dnsc):
    q1, s1 = ask(dnsc, "one.lab.test")
    q2, s2 = ask(dnsc, "two.lab.test")
    dnsc.poll(0.1, reply(s1, a("one.lab.test", "10.0.0.1"), dst_port=s2[1].src_port))
    assert not q1.done and not q2.done and dnsc.client.stats["rx_drop_wrong_id"] + \
        dnsc.client.stats["rx_drop_wrong_question"] == 1


def test_too_many_queries_in_flight_is_refused(dnsc):
    dnsc.client.max_queries = 2
    dnsc.client.query("a.test", "A", SERVER)
    dnsc.client.query("b.test", "A", SERVER)
    with pytest.raises(Exception, match="2 DNS queries already in flight"):
        dnsc.client.query("c.test", "A", SERVER)


@pytest.mark.parametrize("kwargs, argument", [
    (dict(name="a..b"), "name"), (dict(name="x" * 64 + ".test"), "name"),
    (dict(name="bücher.test"), "name"), (dict(type_="BOGUS"), "type"),
    (dict(type_=70000), "type"), (dict(server="10.0.2.2:99999"), "server"),
    (dict(server="nowhere"), "server"),
])
def test_bad_arguments_are_refused_before_anything_is_sent(dnsc, kwargs, argument):
    args = dict(name="lab.test", type_="A", server=SERVER) | kwargs
    with pytest.raises(ArgumentError, match=f"query: {argument}="):
        dnsc.client.query(**args)
    assert dnsc.poll(0.0) == []


# -- the blocking API -------------------------------------------------------------------

class ServedWire(WireEnd):
    """A WireEnd with a DNS server at 10.0.2.2:53 that answers A queries at once."""

    def send(self, frame):
        super().send(frame)
        eth = ethernet.Repr.parse(frame)
        if eth.ethertype == EtherType.ARP:
            self.rx.append(arp_frame(arp.Operation.REPLY, GW_MAC, GW_IP, HOST_IP,
                                     target_mac=self.mac, dst=self.mac))
            return
        for query in sent_queries([frame]):
            name = query[2].questions[0].name
            self.rx.append(reply(query, a(name, "10.9.8.7")) if name == "lab.test"
                           else reply(query, rcode=Rcode.NXDOMAIN))


def test_stack_resolve_uses_the_interfaces_dns_server():
    with Stack(ServedWire(), InterfaceConfig(NET, GW_IP, (GW_IP,))) as net:
        r = net.resolve("lab.test", timeout=2)
        assert r.addresses == [IPv4Address("10.9.8.7")] and r.server == (GW_IP, 53)
        assert net.resolve("nope.test", timeout=2).rcode == Rcode.NXDOMAIN


def test_stack_resolve_timeout_says_what_was_last_seen():
    with Stack(WireEnd(), InterfaceConfig(NET, GW_IP)) as net:
        with pytest.raises(StackTimeout, match=r"no answer from 10.0.2.2:5353 .* after 3 tries"):
            net.resolve("lab.test", server="10.0.2.2:5353", timeout=0.3)
        assert net.status()["sockets"][0]["in_flight"] == []


def test_stack_resolve_without_a_dns_server_says_so():
    with Stack(WireEnd(), InterfaceConfig(NET, GW_IP)) as net:
        with pytest.raises(Exception, match="no DNS server known"):
            net.resolve("lab.test")
