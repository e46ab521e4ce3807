"""The packet ladder: lanes, one arrow per frame with its direction, and hostile text
escaped so the SVG is always well-formed XML with no markup from a frame."""

import xml.etree.ElementTree as ET
from ipaddress import IPv4Address

from dos64lab.phy import PcapWriter
from dos64lab.widgets import Ladder, ladder_svg
from dos64lab.widgets.ladder import EVERYONE, summary
from dos64lab.wire import EtherType, EthernetAddress, IpProtocol, dns, ethernet, ipv4, udp
from dos64lab.wire.build import arp_who_has, icmp_echo_request
from fixtures.frames import frame

US = EthernetAddress.parse("52:54:00:12:34:56")
GW = EthernetAddress.parse("52:55:0a:00:02:02")
SVG = "{http://www.w3.org/2000/svg}"

# A label that closes the text element, opens a script, carries bytes XML forbids
# (NUL, ESC, BEL) and an entity; it fits in one DNS label (no dots, < 64 bytes).
EVIL = "</text><script>alert(1)</script>\x00\x1b]0;x\x07&amp;\"'"


def ping_capture():
    """(time, frame): who-has, is-at, echo request, echo reply -- captured from slirp."""
    names = ["arp_request", "arp_reply", "icmp_echo_request", "icmp_echo_reply"]
    return [(100.0 + i * 0.002, frame(n)) for i, n in enumerate(names)]


def dns_answer_frame(name: str, port: int = 53) -> bytes:
    src, dst = IPv4Address("10.0.2.2"), IPv4Address("10.0.2.15")
    answer = dns.Repr(7, dns.Flags.QR | dns.Flags.RD, (dns.Question(name),),
                      (dns.Record(name, dns.Type.A, 60, IPv4Address("10.9.8.7")),))
    datagram = udp.Repr(port, 49152, answer.to_bytes()).to_bytes(src, dst)
    packet = ipv4.Repr(src, dst, IpProtocol.UDP, datagram).to_bytes()
    return ethernet.Repr(GW, US, EtherType.IPV4, packet).to_bytes()


def texts(svg: str) -> list[str]:
    """Every text drawn (titles included), from the parsed SVG."""
    root = ET.fromstring(svg)
    return ["".join(t.itertext()) for t in root.iter(f"{SVG}text")]


def test_two_lanes_us_first_then_slirp_by_name():
    ladder = Ladder(ping_capture(), me=US)
    assert [lane.label for lane in ladder.lanes] == ["10.0.2.15 (us)", "10.0.2.2 (slirp)"]


def test_one_arrow_per_frame_in_order_and_each_points_the_right_way():
    ladder = Ladder(ping_capture(), me=US)
    assert [(a.src, a.dst, a.sent) for a in ladder.arrows] == [
        (0, 1, True), (1, 0, False), (0, 1, True), (1, 0, False)]
    assert [a.broadcast for a in ladder.arrows] == [True, False, False, False]
    assert [a.label for a in ladder.arrows] == [
        "ARP who-has 10.0.2.2 tell 10.0.2.15", "ARP 10.0.2.2 is-at 52:55:0a:00:02:02",
        "ICMP echo request id=28 seq=1 len=56", "ICMP echo reply id=28 seq=1 len=56"]
    svg = ET.fromstring(ladder.svg())
    assert len(svg.findall(f"{SVG}polygon")) == 4          # one arrowhead per frame


def test_times_are_offsets_from_the_first_frame():
    ladder = Ladder(ping_capture(), me=US)
    assert [round(a.time, 6) for a in ladder.arrows] == [0.0, 0.002, 0.004, 0.006]
    assert {"0.0 ms", "2.0 ms", "6.0 ms"} <= set(texts(ladder.svg()))
    bare = Ladder([f for _, f in ping_capture()], me=US)     # frames without times
    assert [a.time for a in bare.arrows] == [None] * 4


def test_our_ip_or_a_device_names_us_as_well_as_our_mac():
    class Device:
        mac = US
    by_mac = Ladder(ping_capture(), me=US).rows()
    assert Ladder(ping_capture(), me="10.0.2.15").rows() == by_mac
    assert Ladder(ping_capture(), me=Device()).rows() == by_mac
    assert Ladder(ping_capture(), me="52:54:00:12:34:56").rows() == by_mac


def test_a_silent_neighbour_gets_a_lane_and_a_broadcast_spans_every_lane():
    capture = ping_capture() + [(101.0 + i, arp_who_has(US, "10.0.2.99")) for i in range(3)]
    capture.append((104.0, frame("dhcp_discover")))            # 0.0.0.0 -> 255.255.255.255
    ladder = Ladder(capture, me=US)
    assert [lane.key for lane in ladder.lanes] == ["us", "10.0.2.2", "10.0.2.99"]
    assert [(a.src, a.dst) for a in ladder.arrows[4:7]] == [(0, 2)] * 3
    discover = ladder.arrows[7]
    assert (discover.src, discover.dst, discover.broadcast) == (0, EVERYONE, True)
    assert discover.label.startswith("UDP 68 > 67 DHCP DISCOVER")
    root = ET.fromstring(ladder.svg())
    assert len(root.findall(f"{SVG}polygon")) == 4 + 3 + 2    # the DISCOVER reaches both peers


def test_frames_between_others_and_unreadable_frames_are_drawn_not_fatal():
    other = EthernetAddress.parse("02:00:00:00:00:99")
    between = icmp_echo_request(other, GW, 1, src="10.0.2.16")
    ladder = Ladder([(0, between), (1, b"\x01\x02\x03"), (2, b"")], me=US)
    assert [lane.key for lane in ladder.lanes] == ["us", "10.0.2.16", "10.0.2.2",
                                                   "(unreadable frames)"]
    assert (ladder.arrows[0].src, ladder.arrows[0].dst, ladder.arrows[0].sent) == (1, 2, False)
    assert ladder.arrows[1].label.startswith("malformed")
    ET.fromstring(ladder.svg())


def test_a_hostile_dns_name_is_text_in_the_svg_never_markup():
    capture = ping_capture() + [(100.01, dns_answer_frame(EVIL + ".lab.test"))]
    svg = Ladder(capture, me=US, max_frames=10).svg()
    root = ET.fromstring(svg)                                 # well-formed XML
    assert not [e for e in root.iter() if "script" in e.tag]  # no element from the frame
    assert not any(ch in svg for ch in "\x00\x1b\x07")        # bytes XML forbids, spelt out
    shown = [t for t in texts(svg) if "DNS response" in t]
    assert shown and all("</text><script>" in t for t in shown)
    full = [t.text for t in root.iter(f"{SVG}title") if t.text and "DNS" in t.text]
    assert full == [r"UDP 53 > 49152 DNS response id=0x0007 A? " + EVIL_PRETTY
                    + r".lab.test: A 10.9.8.7"] * 2            # the arrow's and the label's


EVIL_PRETTY = r"</text><script>alert(1)</script>\x00\x1b]0;x\x07&amp;" + "\"'"


def test_hostile_names_titles_and_labels_of_our_own_are_escaped_too():
    evil = "<svg onload=alert(1)>\x00\x0b&\ud800\uffff"
    svg = ladder_svg(ping_capture(), me=US, title=evil, names={"10.0.2.2": evil},
                     label=lambda f: evil)
    root = ET.fromstring(svg)
    assert [e.tag for e in root.iter() if e.tag.endswith("svg")] == [f"{SVG}svg"]
    assert any(t.startswith("<svg onload=alert(1)>\\x00\\x0b&\\ud800\\uffff") for t in texts(svg))


def test_a_label_function_that_fails_is_named_not_raised():
    ladder = Ladder(ping_capture(), me=US, label=lambda f: 1 / 0)
    assert {a.label for a in ladder.arrows} == {"(label failed: ZeroDivisionError)"}


def test_long_captures_are_cut_at_max_frames_and_say_so():
    capture = ping_capture() * 30
    ladder = Ladder(capture, me=US, max_frames=10)
    assert len(ladder.arrows) == 10 and ladder.total == 120
    assert any("and 110 more frames" in t for t in texts(ladder.svg()))


def test_from_pcap_and_the_notebook_repr(tmp_path):
    with PcapWriter(tmp_path / "ping.pcap") as w:
        for t, f in ping_capture():
            w.write(f, t)
    ladder = Ladder.from_pcap(tmp_path / "ping.pcap", me=US)
    assert ladder.rows() == Ladder(ping_capture(), me=US).rows()
    assert ladder._repr_svg_() == ladder.svg()
    assert "2 lanes" in repr(ladder)
    assert ladder.text().splitlines()[0] == (
        "     0.0 ms  10.0.2.15 (us) -> 10.0.2.2 (slirp): ARP who-has 10.0.2.2 tell 10.0.2.15")


def test_summary_drops_the_addresses_and_keeps_the_ports():
    assert summary(frame("dns_query")) == "UDP 49153 > 53 DNS query id=0xbeef A? www.example.com"
    assert summary(frame("tcp_synack")).startswith("TCP 80 > 49152 [S.] seq=1 ack=1001")


def test_dns_on_another_port_is_read_as_dns_when_told_and_still_escaped():
    capture = [(0.0, dns_answer_frame("lab.test", port=5353)),
               (0.1, dns_answer_frame(EVIL + ".lab.test", port=5353))]
    assert Ladder(capture, me=US).arrows[0].label == "UDP 5353 > 49152 len=42"
    ladder = Ladder(capture, me=US, dns_ports=(5353,))
    assert ladder.arrows[0].label == "UDP 5353 > 49152 DNS response id=0x0007 A? lab.test: A 10.9.8.7"
    assert ladder.arrows[1].label == ("UDP 5353 > 49152 DNS response id=0x0007 A? " + EVIL_PRETTY
                                      + ".lab.test: A 10.9.8.7")
    root = ET.fromstring(ladder.svg())
    assert not [e for e in root.iter() if "script" in e.tag]
