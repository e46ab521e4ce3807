"""Fixtures for the native stack (issue 11): DOS64 drives the NIC itself (``net=kernel``)."""

import pytest

from dos64lab.machine import Machine


@pytest.fixture(scope="module")
def native():
    """One DOS64 machine with its own network stack, shared by a test module."""
    with Machine(net_mode="kernel") as m:
        yield m
