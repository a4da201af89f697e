"""Shared pytest fixtures: one local Neon stack (PostgreSQL + API emulator) per session."""

import pytest

from stack import Stack

# Operations finish this fast in tests (the emulator's default is 1500 ms).
TEST_OPERATION_MS = 300


@pytest.fixture(scope="session")
def neon_stack(tmp_path_factory):
    """The running stack; stopped (servers and data) when the session ends."""
    st = Stack.start(tmp_path_factory.mktemp("neon"), operation_ms=TEST_OPERATION_MS)
    try:
        yield st
    finally:
        st.stop()


@pytest.fixture
def neon(neon_stack):
    """neon_stack with a clean slate for one test: no faults, an empty request
    log, default knobs, and no operation still running from an earlier test."""
    neon_stack.reset(operation_ms=TEST_OPERATION_MS)
    yield neon_stack
    neon_stack.clear_faults()
