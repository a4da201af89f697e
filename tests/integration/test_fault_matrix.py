"""Every action through the mount against every fault the emulator can inject.

A cell is one action under one fault. Afterwards the project holds exactly what it should
(the object made, renamed or deleted when the action was done on Neon, untouched when it
was not; nothing doubled; no temporary branch), the action returned the one errno the
errmap table gives for that fault (src/errmap.c; a transport failure is EIO), the log
names the reason, the tree shows what Neon has, and the mount still answers.

One mount per action row and group of faults, reused by its cells; the rows and groups are
separate tests, so the workers of a parallel run share them out. A test hands its cells back
in its report (user property "fault_matrix"), and tests/conftest.py prints the matrix at the
end of the run (with -q too, and with pytest-xdist on its controller). Every cell runs by
default; -m slow_matrix runs only the slow ones (429, 423, latency, op_failed). A cell a
fault cannot reach is "n/a", with the reason.
"""
import errno
import os
import time

import pytest

from faultlib import api_ok, branches, meta_down, meta_rows, snapshots, write_restore
from mountlib import wait_for

OP_MS = 100
OPTS = ("api_timeout=2", "op_timeout=3", "pg_timeout=2", "cache_ttl=0", "poll_min=600",
        "poll_max=600")

FAULTS = ["503", "429", "500", "423", "drop", "latency", "op_error", "op_failed",
          "compute_down", "meta_down"]
# A fault of each kind; the rest are the slow cells, marked slow_matrix.
QUICK = {"503", "500", "drop", "op_error", "compute_down", "meta_down"}

# What a fault does to the action's request (None: not an injected API fault).
INJECT = {
    "503": dict(status=503), "429": dict(status=429), "500": dict(status=500),
    "423": dict(status=423), "drop": dict(drop="after"), "latency": dict(delay_ms=300),
    "op_error": dict(operation="error"), "op_failed": dict(operation="failed"),
}

NO_API = "no API call: an attachment lives in the meta database only"
NO_OPS = "a rename has no operations"
NO_COMPUTE = "no connection to a compute"
NO_META = "the meta database has no part in it"

# (errno, done on Neon, what the log must say). A tuple of one string: n/a, and why.
OK = (0, True, None)
EXPECT = {
    "mkdir snapshot": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (0, True, "the answer was lost"), "latency": OK,
        "op_error": (errno.EIO, False, "emulated failure of the operation"),
        "op_failed": OK,
        "compute_down": (0, True, "schema not captured"),
        "meta_down": (0, True, "checkpoint record not written"),
    },
    "rmdir snapshot": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (0, True, "the answer was lost"), "latency": OK,
        "op_error": (errno.EIO, False, "emulated failure of the operation"),
        "op_failed": OK, "compute_down": (NO_COMPUTE,),
        "meta_down": (0, True, "checkpoint record kept"),
    },
    "mv snapshot": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (0, True, "the answer was lost"), "latency": OK,
        "op_error": (NO_OPS,), "op_failed": (NO_OPS,), "compute_down": (NO_COMPUTE,),
        "meta_down": (0, True, "checkpoint record keeps the old name"),
    },
    "restore": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (0, True, "the answer was lost"), "latency": OK,
        "op_error": (errno.EIO, False, "emulated failure of the operation"),
        "op_failed": OK,
        "compute_down": (errno.EIO, True, "does not reach the restored data"),
        "meta_down": (0, True, "no lock across mounts"),
    },
    "ln -s preview": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (errno.EIO, True, "Empty reply from server"), "latency": OK,
        "op_error": (errno.EIO, False, "emulated failure of the operation"),
        "op_failed": OK, "compute_down": (NO_COMPUTE,), "meta_down": (NO_META,),
    },
    "mkdir branch": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (errno.EIO, True, "Empty reply from server"), "latency": OK,
        "op_error": (errno.EIO, False, "emulated failure of the operation"),
        "op_failed": OK, "compute_down": (NO_COMPUTE,), "meta_down": (NO_META,),
    },
    "rmdir branch": {
        "503": (0, True, "HTTP 503"), "429": (0, True, "HTTP 429"),
        "500": (errno.EIO, False, "HTTP 500"), "423": (0, True, "HTTP 423"),
        "drop": (0, True, "the answer was lost"), "latency": OK,
        "op_error": (errno.EIO, False, "emulated failure of the operation"),
        "op_failed": OK, "compute_down": (NO_COMPUTE,), "meta_down": (NO_META,),
    },
    "attachment write": dict(
        {f: (NO_API,) for f in INJECT}, compute_down=(NO_COMPUTE,),
        meta_down=(errno.EIO, False, "not currently accepting connections")),
}

# The action's request, which the API faults hit.
REQUEST = {
    "mkdir snapshot": ("POST", r"/snapshot$"),
    "rmdir snapshot": ("DELETE", r"/snapshots/[^/]+$"),
    "mv snapshot": ("PATCH", r"/snapshots/[^/]+$"),
    "restore": ("POST", r"/restore$"),
    "ln -s preview": ("POST", r"/restore$"),
    "mkdir branch": ("POST", r"/branches$"),
    "rmdir branch": ("DELETE", r"/branches/[^/]+$"),
}


def errno_of(fn, *args):
    try:
        fn(*args)
        return 0
    except OSError as e:
        return e.errno


def write_attachment(path, data):
    with open(path, "wb") as f:
        f.write(data)


def name_of(fault):
    return fault.replace("_", "-")


class Row:
    """One action row: its mount, what it prepares, does, and checks."""

    def __init__(self, row, fs, project):
        self.row, self.fs, self.project = row, fs, project
        self.restores = 0
        self.main_before = None

    def prepare(self, faults):
        fs, project, row = self.fs, self.project, self.row
        if row in ("restore", "ln -s preview", "attachment write"):
            os.mkdir(fs.p("snapshots", "base"))
        if row in ("rmdir snapshot", "mv snapshot"):
            # Through the API: cheaper than mkdir's schema capture, and the row is not
            # about records (without one, meta_down still has a record call to fail).
            # mv renames one snapshot back after each cell.
            main = project.default_branch()["id"]
            for f in faults if row == "rmdir snapshot" else ["x"]:
                out = api_ok(project, "POST", "/branches/%s/snapshot" % main,
                             query={"name": "x-" + name_of(f)})
                project.wait_operations(out["operations"])
        if row == "rmdir branch":
            main = project.default_branch()["id"]
            for f in faults:
                out = api_ok(project, "POST", "/branches",
                             body={"branch": {"parent_id": main, "name": "d-" + name_of(f)}})
                project.wait_operations(out["operations"])

    def act(self, fault):
        fs, n = self.fs, name_of(fault)
        if self.row == "mkdir snapshot":
            return errno_of(os.mkdir, fs.p("snapshots", "s-" + n))
        if self.row == "rmdir snapshot":
            return errno_of(os.rmdir, fs.p("snapshots", "x-" + n))
        if self.row == "mv snapshot":
            return errno_of(os.rename, fs.p("snapshots", "x-x"), fs.p("snapshots", "y-" + n))
        if self.row == "restore":
            self.main_before = self.project.default_branch()["id"]
            return write_restore(fs, "base")
        if self.row == "ln -s preview":
            return errno_of(os.symlink, "../snapshots/base", fs.p("branches", "p-" + n))
        if self.row == "mkdir branch":
            return errno_of(os.mkdir, fs.p("branches", "b-" + n))
        if self.row == "rmdir branch":
            return errno_of(os.rmdir, fs.p("branches", "d-" + n))
        if self.row == "attachment write":
            return errno_of(write_attachment, fs.p("snapshots", "base", "a-%s.txt" % n),
                            b"state " + n.encode())
        raise AssertionError(self.row)

    def after(self, fault, expect_snaps):
        """Back to the row's starting point where the next cell needs it."""
        if self.row == "mv snapshot" and "y-" + name_of(fault) in expect_snaps:
            rename_back(self.project, "y-" + name_of(fault), "x-x")
            expect_snaps.discard("y-" + name_of(fault))
            expect_snaps.add("x-x")

    def state(self, fault, done, expect_snaps, expect_branches):
        """Updates the expected names for this cell; returns the problems seen."""
        n, project, row = name_of(fault), self.project, self.row
        problems = []
        if row == "mkdir snapshot" and done:
            expect_snaps.add("s-" + n)
        if row == "rmdir snapshot" and done:
            expect_snaps.discard("x-" + n)
        if row == "mv snapshot" and done:
            expect_snaps.discard("x-x")
            expect_snaps.add("y-" + n)
        if row == "ln -s preview" and done:
            expect_branches.add("p-" + n)
        if row == "mkdir branch" and done:
            expect_branches.add("b-" + n)
        if row == "rmdir branch" and done:
            expect_branches.discard("d-" + n)
        if row == "restore":
            main_now = project.default_branch()["id"]
            if (main_now != self.main_before) != done:
                problems.append("the restore was %sdone on Neon" % ("" if done is False else "not "))
            if main_now != self.main_before:
                self.restores += 1
                expect_branches.add("main (old)" if self.restores == 1 else
                                    "main (old %d)" % self.restores)
        if row == "attachment write":
            rows = meta_rows(project, "SELECT count(*) FROM attachments WHERE name = %s",
                             ("a-%s.txt" % n,))
            if rows != [(1 if done else 0,)]:
                problems.append("attachment rows: %s" % rows)
        return problems


def rename_back(project, name, to):
    snap = next((x for x in api_ok(project, "GET", "/snapshots")["snapshots"]
                 if x["name"] == name), None)
    if snap:
        api_ok(project, "PATCH", "/snapshots/" + snap["id"], body={"snapshot": {"name": to}})


def run_cell(rowobj, fault, expect_snaps, expect_branches, cells):
    """Runs one cell, its table text put in @cells; returns the problems seen."""
    row, fs, project = rowobj.row, rowobj.fs, rowobj.project
    want = EXPECT[row][fault]
    if len(want) == 1:
        cells.append((row, fault, "n/a"))
        return []
    want_errno, done, reason = want
    log_at = len(fs.output())
    problems = []
    t0 = time.monotonic()
    if fault in INJECT:
        method, path = REQUEST[row]
        project.fault(method=method, path=path, count=1, **INJECT[fault])
        got = rowobj.act(fault)
    elif fault == "compute_down":
        project.config(compute_down=1)
        try:
            got = rowobj.act(fault)
        finally:
            project.config(compute_down=0)
    else:
        with meta_down(project):
            got = rowobj.act(fault)
    took = time.monotonic() - t0
    project.clear_faults()
    project.wait_idle()
    if got != want_errno:
        problems.append("errno %s (%s), not %s" % (got, errno.errorcode.get(got, got),
                                                    errno.errorcode.get(want_errno, 0)))
    problems += rowobj.state(fault, done, expect_snaps, expect_branches)
    snaps_now, branches_now = snapshots(project), branches(project)
    if snaps_now != sorted(expect_snaps):
        problems.append("snapshots %s, not %s" % (snaps_now, sorted(expect_snaps)))
    if branches_now != sorted(expect_branches):
        problems.append("branches %s, not %s" % (branches_now, sorted(expect_branches)))
    # The tree shows what Neon has, and the mount answers.
    if sorted(os.listdir(fs.p("snapshots"))) != snaps_now:
        problems.append("snapshots/ lists %s" % sorted(os.listdir(fs.p("snapshots"))))
    if sorted(os.listdir(fs.p("branches"))) != branches_now:
        problems.append("branches/ lists %s" % sorted(os.listdir(fs.p("branches"))))
    if reason and reason not in fs.output()[log_at:]:
        problems.append("the log does not say %r" % reason)
    rowobj.after(fault, expect_snaps)
    cells.append((row, fault, "%s %.1fs" % (errno.errorcode.get(got, "0") if got else "0",
                                             took) + ("" if not problems else " FAIL")))
    return ["%s × %s: %s" % (row, fault, "; ".join(problems))] if problems else []


ROWS = list(EXPECT)


def matrix_row(request, mount_factory, project, row, faults):
    project.config(operation_ms=OP_MS, snapshot_limit=100)
    fs = mount_factory(*OPTS)
    rowobj = Row(row, fs, project)
    rowobj.prepare(faults)
    project.wait_idle()
    expect_snaps, expect_branches = set(snapshots(project)), set(branches(project))
    problems, cells = [], []
    try:
        for fault in faults:
            problems += run_cell(rowobj, fault, expect_snaps, expect_branches, cells)
    finally:
        # A cell that raised shows as not run ("-"); the table's layout travels along,
        # as an xdist controller never imports this module.
        request.node.user_properties.append(
            ("fault_matrix", {"rows": ROWS, "faults": FAULTS, "cells": cells}))
    # Nothing the mount made for itself is left: no temporary branch, no leftovers.
    assert not [b for b in branches(project) if b.startswith("neonfs-")]
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("row", ROWS)
def test_fault_matrix(request, mount_factory, project, row):
    matrix_row(request, mount_factory, project, row, [f for f in FAULTS if f in QUICK])


@pytest.mark.slow_matrix
@pytest.mark.parametrize("row", ROWS)
def test_fault_matrix_rest(request, mount_factory, project, row):
    matrix_row(request, mount_factory, project, row, [f for f in FAULTS if f not in QUICK])

