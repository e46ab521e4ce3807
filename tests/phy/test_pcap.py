"""PcapWriter, PcapTap, read_pcap, and what tshark thinks of our frames."""

import io
import subprocess

import pytest

from dos64lab.errors import ParseError
from dos64lab.phy import Loopback, PcapTap, PcapWriter, read_pcap
from fixtures.frames import FRAMES, frame

ALL = [frame(n) for n in FRAMES]
T0 = 1_700_000_000.25


def _write(path):
    with PcapWriter(path) as w:
        for i, f in enumerate(ALL):
            w.write(f, T0 + i * 0.001)


def test_round_trip(tmp_path):
    _write(tmp_path / "a.pcap")
    records = read_pcap(tmp_path / "a.pcap")
    assert [f for _, f in records] == ALL
    assert [round(t - T0, 6) for t, _ in records] == [round(i * 0.001, 6) for i in range(len(ALL))]


def test_header_is_classic_pcap(tmp_path):
    _write(tmp_path / "a.pcap")
    head = (tmp_path / "a.pcap").read_bytes()[:24]
    assert head.hex() == "d4c3b2a1" "0200" "0400" "00000000" "00000000" "ffff0000" "01000000"


def test_writer_on_an_open_file_and_snaplen():
    buf = io.BytesIO()
    with PcapWriter(buf, snaplen=20) as w:
        w.write(ALL[0], 1.5)
    assert not buf.closed
    buf.seek(0)
    assert read_pcap(buf) == [(1.5, ALL[0][:20])]


def test_tap_records_both_directions():
    buf, ticks = io.BytesIO(), iter(range(100))
    with PcapWriter(buf) as w:
        tap = PcapTap(Loopback(), w, clock=lambda: float(next(ticks)))
        tap.send(ALL[0])
        assert tap.receive() == ALL[0] and tap.receive() is None
    buf.seek(0)
    assert read_pcap(buf) == [(0.0, ALL[0]), (1.0, ALL[0])]


@pytest.mark.parametrize("content, reason", [
    (b"hello", "not a pcap file"),
    (b"\x0a\x0d\x0d\x0a" + bytes(40), "pcapng"),
    (bytes.fromhex("d4c3b2a102000400000000000000000000000100" "71000000"), "link type"),
])
def test_not_pcap(tmp_path, content, reason):
    (tmp_path / "x").write_bytes(content)
    with pytest.raises(ParseError, match=reason):
        read_pcap(tmp_path / "x")


def test_truncated_record(tmp_path):
    _write(tmp_path / "a.pcap")
    raw = (tmp_path / "a.pcap").read_bytes()
    (tmp_path / "b.pcap").write_bytes(raw[:-3])
    with pytest.raises(ParseError, match="truncated"):
        read_pcap(tmp_path / "b.pcap")


def _tshark(path):
    """Expert messages per frame, with checksum validation switched on."""
    out = subprocess.run(
        ["tshark", "-r", str(path), "-o", "ip.check_checksum:TRUE", "-o", "tcp.check_checksum:TRUE",
         "-o", "udp.check_checksum:TRUE", "-T", "fields", "-E", "separator=|",
         "-e", "_ws.expert.message", "-e", "_ws.expert.severity", "-e", "_ws.malformed"],
        capture_output=True, text=True, check=True, timeout=60).stdout
    return out.splitlines()


ERROR_SEVERITY = 0x00800000          # Wireshark PI_ERROR
WARN_SEVERITY = 0x00600000


def _problems(lines):
    bad = []
    for number, line in enumerate(lines, 1):
        messages, severities, malformed = line.split("|")
        levels = [int(s) for s in severities.split(",") if s]
        if malformed or "checksum" in messages.lower() or any(s >= WARN_SEVERITY for s in levels):
            bad.append((number, messages))
    return bad


def test_tshark_finds_nothing_wrong(tmp_path):
    _write(tmp_path / "a.pcap")
    lines = _tshark(tmp_path / "a.pcap")
    assert len(lines) == len(ALL)
    assert _problems(lines) == []


def test_tshark_check_would_catch_bad_frames(tmp_path):
    """The check above is not vacuous: a bad checksum and a cut frame are reported."""
    bad = bytearray(frame("tcp_data"))
    bad[-1] ^= 0xFF
    with PcapWriter(tmp_path / "bad.pcap") as w:
        w.write(bytes(bad), 1.0)
        w.write(frame("tcp_syn")[:40], 2.0)
    assert [n for n, _ in _problems(_tshark(tmp_path / "bad.pcap"))] == [1, 2]
