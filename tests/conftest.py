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


# The fault matrix (integration/test_fault_matrix.py): each of its tests hands back its
# cells in its report, which pytest-xdist brings from the worker to the controller, so the
# table is whole in a parallel run too. Here, not in integration/conftest.py, because that
# one is not loaded on the controller of `pytest tests`.
_matrix = {"rows": [], "faults": [], "cells": {}}


def pytest_runtest_logreport(report):
    for key, value in getattr(report, "user_properties", ()):
        if key == "fault_matrix" and report.when == "call":
            _matrix["rows"], _matrix["faults"] = list(value["rows"]), list(value["faults"])
            for row, fault, text in value["cells"]:
                _matrix["cells"][(row, fault)] = text


def pytest_terminal_summary(terminalreporter):
    """The fault matrix's table, when any of its cells ran: errno and time of each cell."""
    rows, faults, cells = _matrix["rows"], _matrix["faults"], _matrix["cells"]
    if not cells:
        return
    width = max(len(r) for r in rows)
    terminalreporter.write_sep("-", "fault matrix")
    terminalreporter.write_line("errno and time of each cell; n/a: the fault cannot reach it;"
                                " -: not run")
    terminalreporter.write_line(" " * width + " | " + " | ".join("%-12s" % f for f in faults))
    for r in rows:
        terminalreporter.write_line("%-*s | " % (width, r) + " | ".join(
            "%-12s" % cells.get((r, f), "-") for f in faults))
