"""Idle is free, at an organization's scale: a mount of 1,000 projects that nobody uses makes
no API call, whatever it listed and opened before; `-o watch=always` keeps polling the
projects it opened, which shows the observation can see calls when there are any."""
import os
import time

import pytest

from mountlib import Mount, exit_problem, wait_for
from stack import Stack

PROJECTS = 1000
OPENED = 20
POLL_MAX = 2.0
# How long an idle mount is watched. Nothing is waited for: the absence of calls over a
# span is the behaviour under test, and the span is several poll_max.
WATCH_S = 4 * POLL_MAX


@pytest.fixture(scope="module")
def big_org(tmp_path_factory):
    with Stack.running(tmp_path_factory.mktemp("bigorg"), operation_ms=100,
                       projects=PROJECTS) as st:
        yield st


def api_calls(st):
    return [r for r in st.requests() if not r["path"].startswith("/_emulator")]


def quiet(st, span):
    """True once the emulator's log has had no API call for @span seconds."""
    calls = api_calls(st)
    if not calls:
        return True
    return time.time() - max(r["t"] for r in calls) >= span


def used_then_idle(st, tmp_path, *options):
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    m = Mount(st, path, str(tmp_path / "neonfs.log"),
              ["org=" + st.org_id, "cache_ttl=1", "poll_min=0.5",
               "poll_max=%g" % POLL_MAX] + list(options))
    try:
        names = sorted(n for n in os.listdir(path) if n != "events")
        assert len(names) == PROJECTS
        for n in names[:OPENED]:
            os.listdir(os.path.join(path, n, "snapshots"))
        # Past poll_max since the last use, the opened projects are idle: the log goes
        # quiet. With watch=always it never does; that mount is watched at once.
        if "watch=always" not in options:
            wait_for(lambda: quiet(st, POLL_MAX + 1), 30, "the API log to go quiet")
        st.clear_requests()
        time.sleep(WATCH_S)  # the span observed, not a wait for anything
        return api_calls(st)
    finally:
        problem = exit_problem(m)
        assert problem is None, problem


def test_an_idle_mount_of_a_thousand_projects_makes_no_call(big_org, tmp_path):
    big_org.reset(operation_ms=100)
    calls = used_then_idle(big_org, tmp_path)
    assert calls == [], ["%s %s" % (r["method"], r["path"]) for r in calls][:20]


def test_watch_always_keeps_polling_the_projects_it_opened(big_org, tmp_path):
    big_org.reset(operation_ms=100)
    calls = used_then_idle(big_org, tmp_path, "watch=always")
    polled = {r["path"].split("/")[2] for r in calls if r["path"].startswith("/projects/")}
    # Only opened projects are polled, and the budget sheds background polls first, so
    # some of the 20 may wait past the span; the 980 never opened are never polled.
    assert 0 < len(polled) <= OPENED, sorted(polled)


def threads_of(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("Threads:"):
                return int(line.split()[1])
    raise AssertionError("no thread count for %d" % pid)


def test_opening_projects_starts_no_thread(big_org, tmp_path):
    """Every opened project is watched from the mount's few watcher threads: a thread a
    project would cost a stack and a malloc arena each, at thousands of projects."""
    big_org.reset(operation_ms=100)
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    m = Mount(big_org, path, str(tmp_path / "neonfs.log"),
              ["org=" + big_org.org_id, "cache_ttl=1", "poll_min=0.5", "watch=always"])
    try:
        names = sorted(n for n in os.listdir(path) if n != "events")
        os.listdir(os.path.join(path, names[0], "snapshots"))
        before = threads_of(m.proc.pid)
        for n in names[1:OPENED + 1]:
            os.listdir(os.path.join(path, n, "snapshots"))
        big_org.clear_requests()
        # Each of them is watched (watch=always): their polls reach the emulator.
        wait_for(lambda: len({r["path"].split("/")[2] for r in api_calls(big_org)
                              if r["path"].endswith("/snapshots")}) >= OPENED + 1, 60,
                 "every opened project to be polled")
        # FUSE's loop starts and ends threads of its own as requests overlap (a few); a
        # thread a project would be OPENED more.
        assert threads_of(m.proc.pid) - before < OPENED // 2
    finally:
        problem = exit_problem(m)
        assert problem is None, problem
