"""DhcpClient in smoltcp's shape: a fake server made of the wire layer, time as an argument.

The client runs inside a real ``Interface`` on a ``Wire``; each test puts it in a state,
feeds one server message, and checks the exact message that comes out and when.
Timers: retransmit 1 s doubling (no jitter), a 100 s lease: T1 = 50, T2 = 87.5, expiry 100.
"""

import dataclasses
from ipaddress import IPv4Address, IPv4Interface

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dos64lab.iface import Interface
from dos64lab.socket import DhcpClient, DhcpState, SocketSet
from dos64lab.stack import Stack, StackTimeout
from dos64lab.wire import arp, dhcp, ethernet, ipv4, udp
from dos64lab.wire.dhcp import MessageType, Op
from dos64lab.wire.ethernet import BROADCAST, EtherType

from .conftest import GW_MAC as PEER
from .conftest import HOST_MAC as ME
from .conftest import WireEnd as Wire
from .conftest import ip_frame, udp_packet

SERVER = IPv4Address("10.0.2.2")
ZERO, ALL = IPv4Address(0), IPv4Address("255.255.255.255")
T1, T2, EXPIRY = 50.0, 87.5, 100.0


class FakeServer:
    """A DHCP server on ``wire``: reads what the client sent, answers when told to."""

    def __init__(self, wire, *, address="10.0.2.15", lease_time=100, router="10.0.2.2",
                 dns=("10.0.2.3",), mask="255.255.255.0", server=SERVER):
        self.wire, self.server = wire, IPv4Address(server)
        self.address, self.lease_time = IPv4Address(address), lease_time
        self.router, self.mask = router, mask
        self.dns = tuple(IPv4Address(a) for a in dns)

    def requests(self) -> list:
        """The (ipv4.Repr, dhcp.Repr) pairs the client sent; ARP for us is answered."""
        out = []
        for frame in self.wire.take():
            eth = ethernet.Repr.parse(frame)
            if eth.ethertype == EtherType.ARP:
                a = arp.Repr.parse(eth.payload)
                if a.operation == arp.Operation.REQUEST and a.target_ip == self.server:
                    reply = arp.Repr(arp.Operation.REPLY, PEER, self.server, a.sender_mac, a.sender_ip)
                    self.wire.rx.append(ethernet.Repr(PEER, a.sender_mac, EtherType.ARP,
                                                      reply.to_bytes()).to_bytes())
                continue
            ip = ipv4.Repr.parse(eth.payload)
            d = udp.Repr.parse(ip.payload, ip.src, ip.dst)
            assert (d.src_port, d.dst_port) == (68, 67)
            out.append((ip, dhcp.Repr.parse(d.payload)))
        return out

    def reply(self, request: dhcp.Repr, kind: MessageType, *, xid=None, chaddr=None,
              server_id=None, raw=()) -> None:
        """An OFFER, ACK or NAK to ``request``, broadcast from port 67 as slirp sends it.
        ``raw``: more (code, bytes) options, e.g. T1 and T2."""
        opts = {"message_type": kind, "server_id": server_id or self.server}
        if kind != MessageType.NAK:
            if self.mask:
                opts["subnet_mask"] = IPv4Address(self.mask)
            if self.router:
                opts["router"] = (IPv4Address(self.router),)
            if self.dns:
                opts["dns_servers"] = self.dns
            if self.lease_time is not None:
                opts["lease_time"] = self.lease_time
        message = dhcp.Repr.build(Op.REPLY, request.xid if xid is None else xid,
                                  chaddr or request.chaddr,
                                  yiaddr=self.address if kind != MessageType.NAK else ZERO,
                                  **opts)
        message = dataclasses.replace(message, options=message.options + tuple(raw))
        self.wire.rx.append(ip_frame(udp_packet(self.server, ALL, 67, 68, message.to_bytes()),
                                     PEER, BROADCAST))


class Harness:
    def __init__(self, **client_args):
        self.wire = Wire()
        self.server = FakeServer(self.wire)
        self.iface = Interface(seed=1)
        self.client = DhcpClient(**{"retransmit": 1.0, "jitter": 0.0, "seed": 7,
                                    "min_renew_interval": 5.0, **client_args})
        self.sockets = SocketSet()
        self.sockets.add(self.client)

    def poll(self, now: float) -> list:
        """One round at ``now``; the DHCP messages it sent (ARP answered, then polled)."""
        self.iface.poll(now, self.wire, self.sockets)
        sent = self.server.requests()
        if self.wire.rx:                            # ARP answered: what was waiting goes
            self.iface.poll(now, self.wire, self.sockets)
            sent += self.server.requests()
        return sent

    def only(self, now: float):
        sent = self.poll(now)
        assert len(sent) == 1, sent
        return sent[0]

    def bind(self, now: float = 0.0):
        _, discover = self.only(now)
        self.server.reply(discover, MessageType.OFFER)
        _, request = self.only(now)
        self.server.reply(request, MessageType.ACK)
        assert self.poll(now) == []
        assert self.client.state == DhcpState.BOUND
        return self.client.lease


@pytest.fixture
def h():
    return Harness()


@pytest.fixture
def bound(h):
    h.bind(0.0)
    return h


# -- INIT, SELECTING, REQUESTING --------------------------------------------------------

def test_init_sends_a_discover_broadcast_from_the_unspecified_address(h):
    ip, m = h.only(0.0)
    assert (ip.src, ip.dst) == (ZERO, ALL)
    assert m.op == Op.REQUEST and m.message_type == MessageType.DISCOVER
    assert m.chaddr == ME and m.ciaddr == ZERO and m.xid == h.client.xid
    assert set(m.parameter_request_list) >= {1, 3, 6, 51}
    assert h.client.state == DhcpState.SELECTING


def test_selecting_offer_sends_a_request_for_the_offered_address(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER)
    ip, m = h.only(0.5)
    assert (ip.src, ip.dst) == (ZERO, ALL)
    assert m.message_type == MessageType.REQUEST and m.xid == discover.xid
    assert m.requested_ip == IPv4Address("10.0.2.15") and m.server_id == SERVER
    assert m.ciaddr == ZERO
    assert h.client.state == DhcpState.REQUESTING


def test_requesting_ack_binds_and_configures_the_interface(h):
    lease = h.bind(0.0)
    assert lease.interface == IPv4Interface("10.0.2.15/24")
    assert (lease.router, lease.dns_servers, lease.server) == (SERVER, (IPv4Address("10.0.2.3"),), SERVER)
    assert (lease.lease_time, lease.t1, lease.t2, lease.obtained_at) == (100, T1, T2, 0.0)
    assert lease.notes == ()
    c = h.iface.config
    assert (c.address, c.gateway, c.dns_servers) == (lease.interface, SERVER, lease.dns_servers)
    ladder = [(s.kind, s.message) for s in h.client.steps if s.kind != "state"]
    assert ladder == [("sent", "DISCOVER"), ("received", "OFFER"), ("sent", "REQUEST"),
                      ("received", "ACK")]
    assert h.iface.poll_at(1.0, h.sockets) == T1
    d = h.client.describe()
    assert d["state"] == "BOUND" and d["lease"]["address"] == "10.0.2.15/24"


def test_selecting_offer_with_another_xid_is_ignored_and_counted(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER, xid=discover.xid ^ 1)
    assert h.poll(0.1) == []
    assert h.client.state == DhcpState.SELECTING and h.client.stats["rx_drop_xid"] == 1
    assert "rx_drop_xid" in h.client.last_seen


def test_selecting_offer_for_another_mac_is_ignored(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER, chaddr=PEER)
    assert h.poll(0.1) == []
    assert h.client.stats["rx_drop_chaddr"] == 1 and h.client.state == DhcpState.SELECTING


def test_selecting_ack_without_an_offer_is_ignored(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.ACK)
    assert h.poll(0.1) == [] and h.client.stats["rx_drop_unexpected"] == 1
    assert h.iface.config.address is None


def test_requesting_nak_goes_back_to_init_and_discovers_again(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER)
    _, request = h.only(0.0)
    h.server.reply(request, MessageType.NAK)
    ip, m = h.only(0.2)
    assert m.message_type == MessageType.DISCOVER and m.xid != discover.xid
    assert h.client.state == DhcpState.SELECTING and h.client.stats["nak"] == 1
    assert h.iface.config.address is None


def test_requesting_ack_from_a_server_we_did_not_choose_is_ignored(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER)
    _, request = h.only(0.0)
    h.server.reply(request, MessageType.ACK, server_id=IPv4Address("10.0.2.99"))
    assert h.poll(0.1) == [] and h.client.stats["rx_drop_server"] == 1
    assert h.client.state == DhcpState.REQUESTING


def test_selecting_retransmits_the_discover_with_exponential_backoff(h):
    h.client.max_retransmit = 8.0
    sent = {t / 4: h.poll(t / 4) for t in range(0, 4 * 40)}
    # RFC 2131 §4.1: 1, 2, 4, 8, then capped at 8
    assert [t for t, out in sent.items() if out] == [0, 1, 3, 7, 15, 23, 31, 39]
    messages = [m for out in sent.values() for _, m in out]
    assert {m.message_type for m in messages} == {MessageType.DISCOVER}
    assert {m.xid for m in messages} == {h.client.xid}          # one exchange, one xid
    assert [m.secs for m in messages] == [0, 1, 3, 7, 15, 23, 31, 39]


def test_retransmission_jitter_is_a_quarter_of_the_first_interval_by_default():
    h = Harness(jitter=None, retransmit=4.0, seed=3)
    h.only(0.0)
    gaps, last = [], 0.0
    for _ in range(4):
        due = h.client.next_send
        gaps.append(due - last)
        h.only(due)
        last = due
    for gap, nominal in zip(gaps, [4, 8, 16, 32]):
        assert nominal - 1 <= gap <= nominal + 1 and gap != nominal


def test_requesting_gives_up_after_its_tries_and_starts_again():
    h = Harness(request_tries=3)
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER)
    h.only(0.0)                                   # REQUEST 1
    assert h.only(1.0)[1].message_type == MessageType.REQUEST
    assert h.only(3.0)[1].message_type == MessageType.REQUEST
    ip, m = h.only(7.0)                           # no answer to 3: DISCOVER again
    assert m.message_type == MessageType.DISCOVER and h.client.state == DhcpState.SELECTING


# -- BOUND, RENEWING, REBINDING, expiry -----------------------------------------------

def test_bound_sends_nothing_before_t1(bound):
    assert bound.poll(T1 - 0.01) == [] and bound.client.state == DhcpState.BOUND


def test_bound_renews_at_t1_by_unicast_to_the_server(bound):
    ip, m = bound.only(T1)
    assert (ip.src, ip.dst) == (IPv4Address("10.0.2.15"), SERVER)
    # RFC 2131 §4.3.2: ciaddr filled in; no requested IP, no server identifier
    assert m.message_type == MessageType.REQUEST and m.ciaddr == IPv4Address("10.0.2.15")
    assert m.requested_ip is None and m.server_id is None
    assert bound.client.state == DhcpState.RENEWING
    assert bound.iface.config.address == IPv4Interface("10.0.2.15/24")   # still ours


def test_renewing_ack_extends_the_lease(bound):
    _, request = bound.only(T1)
    bound.server.reply(request, MessageType.ACK)
    assert bound.poll(T1 + 1) == []
    lease = bound.client.lease
    assert bound.client.state == DhcpState.BOUND and lease.obtained_at == T1 + 1
    assert lease.renew_at == T1 + 1 + T1


def test_renewing_retransmits_at_half_the_time_left_to_t2_but_not_sooner_than_the_floor(bound):
    sent = [t for t in [x / 8 for x in range(int(T1 * 8), int(T2 * 8))] if bound.poll(t)]
    # RFC 2131 §4.4.5: half of what is left until T2, at least min_renew_interval (5 s here)
    assert sent == [50.0, 68.75, 78.125, 83.125]


def test_renewing_at_t2_rebinds_by_broadcast(bound):
    bound.only(T1)
    ip, m = bound.only(T2)
    assert (ip.src, ip.dst) == (IPv4Address("10.0.2.15"), ALL)
    assert m.message_type == MessageType.REQUEST and m.ciaddr == IPv4Address("10.0.2.15")
    assert bound.client.state == DhcpState.REBINDING


def test_rebinding_ack_binds_again(bound):
    bound.only(T1)
    _, request = bound.only(T2)
    bound.server.reply(request, MessageType.ACK)
    assert bound.poll(T2 + 0.5) == []
    assert bound.client.state == DhcpState.BOUND and bound.client.lease.expires_at == T2 + 0.5 + 100


def test_rebinding_until_expiry_deconfigures_the_interface_and_discovers(bound):
    times = [x / 8 for x in range(int(T1 * 8), int(EXPIRY * 8) + 1)]
    sent = {t: bound.poll(t) for t in times}
    assert [t for t, s in sent.items() if s] == [50.0, 68.75, 78.125, 83.125, 87.5, 93.75,
                                                 98.75, 100.0]
    ip, m = sent[EXPIRY][0]
    assert m.message_type == MessageType.DISCOVER and (ip.src, ip.dst) == (ZERO, ALL)
    c = bound.iface.config
    assert (c.address, c.gateway, c.dns_servers) == (None, None, ())
    assert bound.client.lease is None and bound.client.state == DhcpState.SELECTING
    assert any(s.message == "expired" for s in bound.client.steps)


def test_renewing_without_an_arp_answer_from_the_server_is_logged(bound):
    bound.iface.neighbors.entries.clear()
    bound.iface.poll(T1, bound.wire, bound.sockets)         # the REQUEST waits for ARP
    for t in (T1 + 1, T1 + 2, T1 + 3):                      # nobody answers
        bound.iface.poll(t, bound.wire, bound.sockets)
    assert bound.client.last_seen.endswith("no ARP reply from 10.0.2.2: host unreachable")
    assert bound.client.state == DhcpState.RENEWING and bound.client.stats["tx_errors"] == 1


def test_renewing_nak_deconfigures_and_starts_again(bound):
    _, request = bound.only(T1)
    bound.server.reply(request, MessageType.NAK)
    ip, m = bound.only(T1 + 1)
    assert m.message_type == MessageType.DISCOVER
    assert bound.iface.config.address is None


# -- what a lease says -------------------------------------------------------------------

def test_t1_and_t2_options_override_the_defaults(h):
    _, discover = h.only(0.0)
    h.server.reply(discover, MessageType.OFFER)
    _, request = h.only(0.0)
    # RFC 2132 §9.11, §9.12: T1 (option 58) and T2 (59), seconds
    h.server.reply(request, MessageType.ACK, raw=((58, (10).to_bytes(4, "big")),
                                                  (59, (20).to_bytes(4, "big"))))
    h.poll(0.0)
    assert (h.client.lease.t1, h.client.lease.t2) == (10, 20)


def test_a_slirp_lease_without_router_or_dns_falls_back_and_says_so():
    h = Harness()
    h.server.router, h.server.dns = None, ()            # slirp under restrict=on
    lease = h.bind(0.0)
    assert lease.router == SERVER and lease.dns_servers == (IPv4Address("10.0.2.3"),)
    assert len(lease.notes) == 2 and all("slirp" in n for n in lease.notes)
    assert h.iface.config.gateway == SERVER
    assert [s.detail for s in h.client.steps if s.message == "note"] == list(lease.notes)


def test_a_lease_elsewhere_without_router_gets_no_fallback():
    h = Harness()
    h.server.address, h.server.router, h.server.dns = IPv4Address("192.168.7.9"), None, ()
    lease = h.bind(0.0)
    assert lease.router is None and lease.dns_servers == () and lease.notes == ()


def test_a_lease_without_lease_time_is_infinite_and_never_renews():
    h = Harness()
    h.server.lease_time = None
    lease = h.bind(0.0)
    assert lease.lease_time == float("inf") and lease.notes
    assert h.client.poll_at(1.0) is None
    assert h.poll(1e9) == [] and h.client.state == DhcpState.BOUND


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_garbage_on_port_68_never_raises_and_is_counted(data):
    h = Harness()
    h.only(0.0)
    h.wire.rx.append(ip_frame(udp_packet(SERVER, ALL, 67, 68, data), PEER, BROADCAST))
    h.poll(0.1)
    assert sum(v for k, v in h.client.stats.items() if k.startswith("rx_drop")) == 1
    assert h.client.state == DhcpState.SELECTING


# -- the blocking API ----------------------------------------------------------------

class ServedWire(Wire):
    """A Wire with a DHCP server that answers at once (for the live ``Stack``)."""

    def __init__(self, **server_args):
        super().__init__()
        self.server = FakeServer(self, **server_args)

    def send(self, frame):
        super().send(frame)
        for _, m in self.server.requests():
            kind = {MessageType.DISCOVER: MessageType.OFFER}.get(m.message_type, MessageType.ACK)
            self.server.reply(m, kind)


def test_stack_dhcp_returns_the_lease_and_configures():
    with Stack(ServedWire(router=None, dns=())) as net:
        lease = net.dhcp(timeout=5)
        assert lease.address == IPv4Address("10.0.2.15") and lease.notes
        assert net.iface.config.address == IPv4Interface("10.0.2.15/24")
        assert net.dhcp(timeout=0.1) is lease                   # one client, kept
        kinds = [s["kind"] for s in net.status()["sockets"]]
        assert kinds.count("DhcpClient") == 1


def test_stack_dhcp_timeout_says_the_state_and_what_was_last_seen():
    with Stack(Wire()) as net:
        with pytest.raises(StackTimeout, match=r"DHCP lease.*state SELECTING; no DHCP message"):
            net.dhcp(timeout=0.3)
