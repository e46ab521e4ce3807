"""The telnet NVT state machine (dos64lab.services.telnet_nvt), bytes in, bytes out: no I/O.

One test per rule, named after it; hostile input under hypothesis: never an exception,
never more data than input, replies bounded however the peer floods.
"""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dos64lab.services.telnet_nvt import (AYT_REPLY, MAX_REPLY, NO, Cmd, Command, Feed,
                                          Naws, Nvt, Option)

IAC, WILL, WONT, DO, DONT, SB, SE = 255, 251, 252, 253, 254, 250, 240
ECHO, SGA, NAWS, TTYPE, LINEMODE = 1, 3, 31, 24, 34


def cmd(*values) -> bytes:
    return bytes(values)


@pytest.fixture
def nvt():
    """A server NVT after its opening requests (WILL ECHO, WILL SGA, DO NAWS)."""
    n = Nvt()
    assert n.start() == cmd(IAC, WILL, ECHO, IAC, WILL, SGA, IAC, DO, NAWS)
    return n


@pytest.fixture
def agreed(nvt):
    """``nvt`` after the client agreed to everything it asked."""
    feed = nvt.feed(cmd(IAC, DO, ECHO, IAC, DO, SGA, IAC, WILL, NAWS))
    assert feed == Feed()                       # agreements to our requests are not answered
    return nvt


# -- negotiation (RFC 855, RFC 1143) --------------------------------------------------------

def test_agreed_requests_enable_the_options(agreed):
    assert agreed.local_enabled(Option.ECHO) and agreed.local_enabled(Option.SGA)
    assert agreed.remote_enabled(Option.NAWS)


def test_do_for_an_option_we_lack_is_refused_with_wont(nvt):
    assert nvt.feed(cmd(IAC, DO, LINEMODE)).reply == cmd(IAC, WONT, LINEMODE)
    assert nvt.us.get(LINEMODE, NO) == NO and nvt.stats["refused_do"] == 1


def test_will_for_an_option_we_do_not_want_is_refused_with_dont(nvt):
    assert nvt.feed(cmd(IAC, WILL, TTYPE)).reply == cmd(IAC, DONT, TTYPE)
    assert nvt.stats["refused_will"] == 1


def test_refusal_of_our_request_is_not_answered(nvt):
    assert nvt.feed(cmd(IAC, DONT, ECHO, IAC, WONT, NAWS)) == Feed()
    assert not nvt.local_enabled(ECHO) and not nvt.remote_enabled(NAWS)


def test_a_request_for_the_state_we_are_in_is_not_answered(agreed):
    # RFC 854 p. 5: answering it would start a loop
    assert agreed.feed(cmd(IAC, DO, ECHO, IAC, WILL, NAWS, IAC, WONT, TTYPE, IAC, DONT, 99)) == Feed()


def test_disabling_an_enabled_option_is_acknowledged(agreed):
    assert agreed.feed(cmd(IAC, DONT, ECHO)).reply == cmd(IAC, WONT, ECHO)
    assert agreed.feed(cmd(IAC, WONT, NAWS)).reply == cmd(IAC, DONT, NAWS)
    assert not agreed.local_enabled(ECHO) and not agreed.remote_enabled(NAWS)


def test_an_option_enabled_by_the_peer_first_is_agreed_once(nvt):
    n = Nvt()                                   # no opening requests: the client asks first
    assert n.feed(cmd(IAC, DO, SGA)).reply == cmd(IAC, WILL, SGA)
    assert n.feed(cmd(IAC, DO, SGA)).reply == b""
    assert n.local_enabled(SGA)


def test_a_toggling_peer_is_answered_a_bounded_number_of_times(agreed):
    replies = agreed.feed(cmd(IAC, DONT, ECHO, IAC, DO, ECHO) * 1000).reply
    assert 0 < len(replies) <= 3 * 17
    assert agreed.stats["requests_ignored"] > 0


def test_a_refused_request_repeated_is_answered_a_bounded_number_of_times(nvt):
    assert len(nvt.feed(cmd(IAC, DO, LINEMODE) * 10_000).reply) <= 3 * 8


@pytest.mark.parametrize("client_local, client_remote", [
    ({NAWS}, {ECHO, SGA}),                      # a client that wants what we offer
    (set(), set()),                             # one that wants nothing
    ({NAWS, TTYPE, ECHO}, {ECHO, SGA, LINEMODE}),   # one that wants more, ECHO both ways
    (set(range(256)), set(range(256))),         # one that agrees to anything
])
def test_two_nvts_negotiating_always_fall_quiet(client_local, client_remote):
    server, client = Nvt(), Nvt(local=client_local, remote=client_remote)
    to_client, to_server = server.start(), client.start()
    for _ in range(10):
        if not (to_client or to_server):
            break
        to_server, to_client = client.feed(to_client).reply, server.feed(to_server).reply
    else:
        pytest.fail("the negotiation never ended")
    assert server.local_enabled(ECHO) == (ECHO in client_remote)
    assert server.remote_enabled(NAWS) == (NAWS in client_local)
    assert not server.local_enabled(LINEMODE) and not server.remote_enabled(TTYPE)
    for opt in range(256):                      # both ends agree on every option
        assert server.local_enabled(opt) == client.remote_enabled(opt), opt
        assert server.remote_enabled(opt) == client.local_enabled(opt), opt


# -- subnegotiation: NAWS (RFC 1073) and bounds -----------------------------------------------

def test_naws_gives_the_window_size(agreed):
    feed = agreed.feed(cmd(IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE))
    assert feed.events == (Naws(80, 24),) and agreed.window == Naws(80, 24)
    assert feed.data == b"" and feed.reply == b""


def test_naws_with_a_doubled_iac_in_the_size(agreed):
    wire = cmd(IAC, SB, NAWS, 0, IAC, IAC, IAC, IAC, IAC, IAC, IAC, SE)   # 0x00FF x 0xFFFF
    assert agreed.feed(wire).events == (Naws(255, 0xFFFF),)


def test_naws_split_across_feeds(agreed):
    wire = cmd(IAC, SB, NAWS, 1, 0, 0, 50, IAC, SE)
    events = [e for b in wire for e in agreed.feed(bytes([b])).events]
    assert events == [Naws(256, 50)]


def test_naws_before_it_was_agreed_is_ignored(nvt):
    assert nvt.feed(cmd(IAC, SB, NAWS, 0, 80, 0, 24, IAC, SE)).events == ()
    assert nvt.window is None and nvt.stats["sb_not_agreed"] == 1


def test_naws_of_the_wrong_length_is_dropped(agreed):
    assert agreed.feed(cmd(IAC, SB, NAWS, 0, 80, 0, IAC, SE)).events == ()
    assert agreed.stats["sb_bad_naws"] == 1


def test_a_subnegotiation_longer_than_the_bound_is_dropped_whole(agreed):
    feed = agreed.feed(cmd(IAC, SB, NAWS) + b"\x01" * 100_000 + cmd(IAC, SE) + b"ok")
    assert feed == Feed(b"ok") and agreed.stats["sb_too_long"] == 1
    assert len(agreed._sb) <= agreed.sb_max


def test_an_iac_command_inside_sb_ends_it_and_counts(agreed):
    feed = agreed.feed(cmd(IAC, SB, NAWS, 0, 80, IAC, DO, LINEMODE) + b"x")
    assert feed == Feed(b"x", cmd(IAC, WONT, LINEMODE))
    assert agreed.stats["sb_unterminated"] == 1


# -- data (RFC 854) --------------------------------------------------------------------------

@pytest.mark.parametrize("wire, data", [
    (b"VER\r\n", b"VER\r"),                      # CR LF: one Enter
    (b"VER\r\0", b"VER\r"),                      # CR NUL: one Enter
    (b"VER\n", b"VER\r"),                        # a bare LF (deviation: Enter too)
    (b"a\r\r\nb", b"a\r\rb"),                    # two Enters
    (b"a\0b", b"ab"),                            # NUL is a no-op
    (cmd(IAC, IAC), b"\xff"),                    # IAC IAC: a 0xFF data byte
    (b"ab" + cmd(IAC, Cmd.EC) + b"c", b"ab\x7fc"),   # erase character: the shell's DEL
    (b"x" + cmd(IAC, Cmd.NOP, IAC, Cmd.GA, IAC, Cmd.DM) + b"y", b"xy"),
])
def test_data(nvt, wire, data):
    assert nvt.feed(wire).data == data


def test_cr_and_lf_split_across_feeds_count_once(nvt):
    assert nvt.feed(b"VER\r").data == b"VER\r"
    assert nvt.feed(b"\nVER").data == b"VER"


def test_cr_then_a_command_then_lf_counts_once(nvt):
    assert nvt.feed(b"\r" + cmd(IAC, Cmd.NOP) + b"\n").data == b"\r"


@pytest.mark.parametrize("code", [Cmd.EL, Cmd.IP, Cmd.BRK, Cmd.AO])
def test_commands_for_the_program_are_events(nvt, code):
    assert nvt.feed(cmd(IAC, code)) == Feed(events=(Command(code),))


def test_are_you_there_is_answered_a_bounded_number_of_times(nvt):
    replies = nvt.feed(cmd(IAC, Cmd.AYT) * 100).reply
    assert replies.startswith(AYT_REPLY) and len(replies) <= 8 * len(AYT_REPLY)


def test_unknown_commands_and_stray_se_are_counted_not_raised(nvt):
    assert nvt.feed(cmd(IAC, 7, IAC, SE, IAC, 239)) == Feed()
    assert nvt.stats["unknown_commands"] == 2 and nvt.stats["stray_se"] == 1


# -- output ----------------------------------------------------------------------------------

@pytest.mark.parametrize("out, wire", [
    (b"C:\\>VER\r\nDOS64\r\n", b"C:\\>VER\r\nDOS64\r\n"),   # the shell's CR LF stays
    (b"a\nb", b"a\r\nb"),                                   # a bare LF becomes CR LF
    (b"a\rb", b"a\r\0b"),                                   # a bare CR becomes CR NUL
    (b"\xff", b"\xff\xff"),                                 # IAC doubled
    (b"x\b \b\a\x1b[2J", b"x\b \b\a\x1b[2J"),               # rubouts, bell, escapes pass
])
def test_encode(nvt, out, wire):
    assert nvt.encode(out) == wire


def test_encode_completes_a_cr_in_the_next_call(nvt):
    assert nvt.encode(b"a\r") + nvt.encode(b"\nb\r") + nvt.encode(b"c") == b"a\r\nb\r\0c"


def test_encoded_output_parses_back_to_the_same_lines():
    out = b"DOS64\r\nline\nIAC \xff here\r\n"
    assert Nvt().feed(Nvt().encode(out)).data == b"DOS64\rline\rIAC \xff here\r"


# -- hostile bytes ---------------------------------------------------------------------------

_special = st.sampled_from([IAC, WILL, WONT, DO, DONT, SB, SE, NAWS, ECHO, SGA, 0, 13, 10, 246])
hostile = st.lists(st.one_of(st.binary(max_size=64),
                             st.lists(_special, max_size=64).map(bytes)), max_size=40)


@settings(max_examples=300, deadline=None)
@given(chunks=hostile)
def test_hostile_bytes_never_raise_and_replies_stay_bounded(chunks):
    n = Nvt(sb_max=16)
    n.start()
    total = 0
    for chunk in chunks:
        feed = n.feed(chunk)
        assert len(feed.data) <= len(chunk)
        assert len(n._sb) <= 16
        total += len(feed.reply)
        n.encode(chunk)
    assert total <= MAX_REPLY
    # IAC SE twice ends any state (a command, an option, a subnegotiation): data flows again
    assert n.feed(cmd(IAC, SE, IAC, SE) + b"VER\r\n").data.endswith(b"VER\r")


@settings(max_examples=50, deadline=None)
@given(opts=st.lists(st.integers(0, 255), min_size=1, max_size=256),
       verbs=st.lists(st.sampled_from([WILL, WONT, DO, DONT]), min_size=1, max_size=8))
def test_a_negotiation_flood_is_bounded_by_max_reply(opts, verbs):
    n = Nvt()
    n.start()
    flood = b"".join(cmd(IAC, v, o) for _ in range(20) for o in opts for v in verbs)
    assert len(n.feed(flood).reply) <= MAX_REPLY


def test_the_worst_flood_stays_within_max_reply():
    n = Nvt(local=range(256), remote=range(256))
    n.start()
    flood = b"".join(cmd(IAC, v, o) for o in range(256) for v in (DONT, DO, WONT, WILL)) * 20
    reply = n.feed(flood + cmd(IAC, Cmd.AYT) * 100).reply
    assert 0 < len(reply) <= MAX_REPLY
