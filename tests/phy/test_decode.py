"""The decode command: pcap files and hex on stdin."""

import io
import subprocess
import sys

from dos64lab.phy import PcapWriter
from dos64lab.wire import decode, dns
from fixtures.frames import FRAMES, frame
from wire.test_pretty import EVIL, EVIL_SHOWN, dns_frame


def test_pcap(tmp_path, capsys):
    with PcapWriter(tmp_path / "a.pcap") as w:
        w.write(frame("arp_request"), 10.5)
        w.write(frame("tcp_syn")[:30], 11.0)
    assert decode.main(["--pcap", str(tmp_path / "a.pcap")]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "    1 10.500000 52:54:00:12:34:56 > ff:ff:ff:ff:ff:ff ARP who-has 10.0.2.2 tell 10.0.2.15",
        "    2 11.000000 malformed: ipv4: bad length (16 bytes, need 20)"]


def test_hex_on_stdin_with_a_malformed_frame(monkeypatch, capsys):
    text = ("# a comment\n" + " ".join(FRAMES["arp_reply"].split()) + "\n\n"
            + FRAMES["dns_query"][:40] + "\n" + "zz\n")
    monkeypatch.setattr("sys.stdin", io.StringIO(text))
    assert decode.main([]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "    1 52:55:0a:00:02:02 > 52:54:00:12:34:56 ARP 10.0.2.2 is-at 52:55:0a:00:02:02"
    assert out[1].startswith("    2 malformed: ipv4: bad")
    assert out[2].startswith("    3 malformed: hex: bad digits")


def test_not_a_pcap_exits_2(tmp_path, capsys):
    (tmp_path / "x.txt").write_text("hello")
    assert decode.main(["--pcap", str(tmp_path / "x.txt")]) == 2
    assert "not a pcap file" in capsys.readouterr().err
    assert decode.main(["--pcap", str(tmp_path / "missing.pcap")]) == 2


def test_runs_as_a_module():
    done = subprocess.run([sys.executable, "-m", "dos64lab.wire.decode"], input=FRAMES["arp_request"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and "ARP who-has 10.0.2.2" in done.stdout


def test_one_frame_is_one_line_whatever_its_names_say(tmp_path, capsys):
    with PcapWriter(tmp_path / "evil.pcap") as w:
        w.write(dns_frame(dns.Repr.query(1, EVIL)), 1.0)
        w.write(frame("arp_request"), 2.0)
    assert decode.main(["--pcap", str(tmp_path / "evil.pcap")]) == 0
    lines = capsys.readouterr().out.split("\n")
    assert lines[0].endswith(f"A? {EVIL_SHOWN}") and lines[1].startswith("    2 2.000000 52:54")
    assert len(lines) == 3 and lines[2] == ""
