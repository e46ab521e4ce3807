"""Sequence numbers (RFC 9293 §3.4, RFC 1982 serial arithmetic; CONVENTIONS 13) and initial
sequence numbers (RFC 6528): the arithmetic every other TCP test leans on."""

from ipaddress import IPv4Address

from hypothesis import given, strategies as st

from dos64lab.socket.tcp import Seq
from dos64lab.socket.tcp.seq import seq_max
from dos64lab.socket.tcp.socket import initial_sequence_number

TOP = (1 << 32) - 1
seqs = st.integers(0, TOP).map(Seq)
distances = st.integers(0, (1 << 31) - 1)


def test_seq_stays_in_32_bits():
    assert Seq(1 << 32) == 0 and Seq(-1) == TOP and int(Seq(TOP + 6)) == 5


def test_seq_plus_wraps_past_2_32():
    assert Seq(0xFFFFFFF0) + 0x20 == Seq(0x10)
    assert 0x20 + Seq(0xFFFFFFF0) == 0x10 and isinstance(0x20 + Seq(0xFFFFFFF0), Seq)


def test_seq_minus_seq_is_a_signed_distance_across_the_wrap():
    assert Seq(0x10) - Seq(0xFFFFFFF0) == 0x20
    assert Seq(0xFFFFFFF0) - Seq(0x10) == -0x20
    assert type(Seq(5) - Seq(3)) is int


def test_seq_minus_int_is_a_seq():
    assert Seq(3) - 5 == Seq(TOP - 1) and isinstance(Seq(3) - 5, Seq)


def test_seq_compares_modulo_2_32():
    a, b = Seq(0xFFFFFFF0), Seq(0x10)
    assert a < b and a <= b and b > a and b >= a and not b < a
    assert int(a) > int(b)                                  # what raw ints would get wrong


def test_seq_equals_an_int_modulo_2_32_and_hashes_like_it():
    assert Seq(7) == 7 and Seq(7) == (1 << 32) + 7 and Seq(7) != 8 and Seq(7) != "7"
    assert {Seq(7): "x"}[7] == "x" and Seq(7) in {Seq(7)}


def test_between_is_a_half_open_window_across_the_wrap():
    low = Seq(TOP - 10)
    assert Seq(TOP).between(low, low + 20) and Seq(5).between(low, low + 20)
    assert low.between(low, low + 20) and not (low + 20).between(low, low + 20)
    assert not Seq(TOP - 11).between(low, low + 20)


def test_between_an_empty_window_holds_nothing():
    assert not Seq(5).between(Seq(5), Seq(5))


def test_seq_max_across_the_wrap():
    assert seq_max(Seq(TOP), Seq(3)) == 3 and seq_max(Seq(3), Seq(TOP)) == 3


def test_python_min_and_max_use_the_modular_order():
    assert max(Seq(TOP), Seq(2)) == 2 and min(Seq(TOP), Seq(2)) == TOP
    assert sorted([Seq(2), Seq(TOP), Seq(0)], key=lambda s: s - Seq(TOP)) == [TOP, 0, 2]


def test_repr_names_the_type():
    assert repr(Seq(42)) == "Seq(42)"


@given(seqs, distances)
def test_adding_less_than_2_31_moves_ahead(a, n):
    b = a + n
    assert b - a == n and a <= b and (n == 0 or a < b)


@given(seqs, seqs)
def test_exactly_one_order_holds(a, b):
    assert sum((a < b, a == b, a > b)) == 1 or (b - a == -(1 << 31))


# -- RFC 6528 §3: ISN = M + F(4-tuple, secret) ---------------------------------------------------

LOCAL = (IPv4Address("10.0.2.15"), 49152)
REMOTE = (IPv4Address("10.0.2.2"), 80)


def test_isn_advances_with_a_4_microsecond_clock():
    a = initial_sequence_number(1.0, LOCAL, REMOTE)
    b = initial_sequence_number(1.0 + 4e-6 * 1000, LOCAL, REMOTE)
    assert b - a == 1000


def test_isn_differs_per_connection_at_the_same_time():
    other = (REMOTE[0], 8080)
    assert initial_sequence_number(1.0, LOCAL, REMOTE) != initial_sequence_number(1.0, LOCAL, other)


def test_isn_is_a_seq_that_wraps():
    isn = initial_sequence_number(20_000.0, LOCAL, REMOTE)          # M alone is past 2³²
    assert isinstance(isn, Seq) and 0 <= int(isn) <= TOP
