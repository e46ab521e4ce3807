"""The stack chapters' exercise checks, live: ✓ for a right answer, ✗ (and ExerciseFailed) for
a wrong one, and for an exercise not written yet one kind line on stderr and no exception."""

import pytest

from dos64lab.exercises import ExerciseFailed, check_dns_answer_parser, check_ipv4_checksum
from dos64lab.stack import Stack
from dos64lab.wire.checksum import internet_checksum


@pytest.fixture(scope="module")
def net(machine):
    with Stack.on(machine) as stack:
        stack.configure()
        yield stack


def unsolved(*args):
    raise NotImplementedError()


# -- chapter 05: ipv4_checksum -------------------------------------------------------------

def ipv4_checksum(header: bytes) -> int:
    data = header[:10] + b"\0\0" + header[12:]
    total = sum(data[i] << 8 | data[i + 1] for i in range(0, len(data), 2))
    while total > 0xFFFF:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def test_ipv4_checksum_right_is_all_ticks(net, capsys):
    check_ipv4_checksum(ipv4_checksum, net)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "check_ipv4_checksum: all 7 cases right."
    assert all(line.startswith("✓ ") for line in out[:-1]) and len(out) == 8
    assert any("fragment" in line for line in out) and any("IHL 6" in line for line in out)


def test_ipv4_checksum_counting_the_old_field_is_wrong_and_says_why(net, capsys):
    with pytest.raises(ExerciseFailed, match="7 of 7 cases wrong"):
        check_ipv4_checksum(internet_checksum, net)         # sums the checksum field too
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 7 and all(line.startswith("✗ ") for line in out)
    assert all("count" in line and "as zero" in line for line in out)


def test_ipv4_checksum_without_folding_is_wrong_where_the_sum_carries(net, capsys):
    def no_fold(header):
        data = header[:10] + b"\0\0" + header[12:]
        return ~sum(data[i] << 8 | data[i + 1] for i in range(0, len(data), 2)) & 0xFFFF
    with pytest.raises(ExerciseFailed):
        check_ipv4_checksum(no_fold, net)
    out = capsys.readouterr().out
    assert "✗ a header full of 0xff bytes" in out


def test_ipv4_checksum_that_raises_is_a_wrong_case_not_a_crash(net, capsys):
    with pytest.raises(ExerciseFailed):
        check_ipv4_checksum(lambda header: header[99], net)
    assert "raised IndexError" in capsys.readouterr().out


def test_ipv4_checksum_not_done_yet_is_one_kind_line_and_no_exception(net, capsys):
    check_ipv4_checksum(unsolved, net)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check_ipv4_checksum: not done yet")
    assert len(captured.err.splitlines()) == 1 and "Traceback" not in captured.err


def test_ipv4_checksum_restores_the_stacks_device(net):
    before = net.device
    check_ipv4_checksum(ipv4_checksum, net)
    assert net.device is before


def test_ipv4_checksum_on_a_bare_machine_brings_up_its_own_stack(capsys):
    from dos64lab.machine import Machine
    with Machine() as m:
        check_ipv4_checksum(ipv4_checksum, m)
    assert "all 7 cases right" in capsys.readouterr().out


# -- chapter 06: answer_addresses -------------------------------------------------------------

@pytest.fixture(scope="module")
def open_net():
    """A stack on an unrestricted machine (dnsmasq on the host is reached at 10.0.2.2:PORT);
    its allow-list admits 10.0.2.2 and the DHCP broadcast, nothing else."""
    from ipaddress import IPv4Network
    from dos64lab.iface import InterfaceConfig
    from dos64lab.machine import Machine
    allow = InterfaceConfig(allow=(IPv4Network("10.0.2.2/32"), IPv4Network("255.255.255.255/32")))
    with Machine(restrict=False, hostfwd=False) as m, Stack.on(m, allow) as stack:
        stack.dhcp()
        yield stack


def answer_addresses(message: bytes) -> list:
    import struct

    def skip_name(pos):
        while message[pos] and message[pos] & 0xC0 != 0xC0:
            pos += 1 + message[pos]
        return pos + (2 if message[pos] else 1)

    qdcount, ancount = struct.unpack_from("!HH", message, 4)
    pos = 12
    for _ in range(qdcount):
        pos = skip_name(pos) + 4
    out = []
    for _ in range(ancount):
        pos = skip_name(pos)
        rtype, _, _, rdlength = struct.unpack_from("!HHIH", message, pos)
        pos += 10
        if rtype == 1:
            out.append(bytes(message[pos:pos + 4]))         # 4 bytes are a fine answer too
        pos += rdlength
    return out


def test_dns_answer_parser_right_is_all_ticks(open_net, capsys):
    check_dns_answer_parser(answer_addresses, open_net)
    out = capsys.readouterr().out.splitlines()
    assert out[-1] == "check_dns_answer_parser: all 6 cases right."
    assert all(line.startswith("✓ ") for line in out[:-1]) and len(out) == 7
    assert "✓ many.lab.test A: three addresses: " in "\n".join(out)
    assert open_net.iface.stats["ipv4_tx_drop_not_allowed"] == 0


def test_dns_answer_parser_that_ignores_pointers_is_wrong_and_says_why(open_net, capsys):
    import struct

    def no_pointers(message):          # takes a pointer's 0xc0 for a label length
        def skip_name(pos):
            while message[pos]:
                pos += 1 + message[pos]
            return pos + 1
        pos = skip_name(12) + 4
        out = []
        for _ in range(struct.unpack_from("!H", message, 6)[0]):
            pos = skip_name(pos)
            rtype, _, _, rdlength = struct.unpack_from("!HHIH", message, pos)
            if rtype == 1:
                out.append(".".join(map(str, message[pos + 10:pos + 14])))
            pos += 10 + rdlength
        return out
    with pytest.raises(ExerciseFailed):
        check_dns_answer_parser(no_pointers, open_net)
    out = capsys.readouterr().out
    assert "✗ lab.test A: one address: raised IndexError" in out
    assert "✓ nope.lab.test A" in out                       # no answers, no names to skip
    assert "✓ lab.test A again, every name spelt out" in out


def test_dns_answer_parser_that_keeps_every_record_is_wrong_for_aaaa(open_net, capsys):
    from dos64lab.wire import dns

    def every_record(message):
        return [str(r.data) for r in dns.Repr.parse(message).answers if r.type != dns.Type.CNAME]
    with pytest.raises(ExerciseFailed, match="1 of 6 cases wrong"):
        check_dns_answer_parser(every_record, open_net)
    assert "✗ lab.test AAAA" in capsys.readouterr().out


def test_dns_answer_parser_not_done_yet_is_one_kind_line_and_no_exception(open_net, capsys):
    check_dns_answer_parser(unsolved, open_net)
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("check_dns_answer_parser: not done yet")
    assert len(captured.err.splitlines()) == 1


def test_dns_answer_parser_on_a_bare_unrestricted_machine(capsys):
    from dos64lab.machine import Machine
    with Machine(restrict=False, hostfwd=False) as m:
        check_dns_answer_parser(answer_addresses, m)
    assert "all 6 cases right" in capsys.readouterr().out
