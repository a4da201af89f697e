"""An organization's mount closes a project left idle for -o project_idle: its instance goes,
and its next use opens it again with the same tree. What holds it (an open file, a working
directory inside, a long action) keeps it open, and it is closed once that lets go. Every
wait is for a line of the log or a condition, with a deadline; a project that is held is
checked against another, idle one that is closed meanwhile, so no check passes for want of
time."""
import os
import re
import signal
import subprocess
import threading

import pytest

from mountlib import Mount, exit_problem, wait_for
from stack import Stack

IDLE = 2
PROJECTS = 7

# The reaper's thread meets the request threads: these run under ThreadSanitizer too.
pytestmark = pytest.mark.concurrency


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    with Stack.running(tmp_path_factory.mktemp("orgclose"), operation_ms=100,
                       projects=PROJECTS) as st:
        yield st


@pytest.fixture
def mount(org, tmp_path):
    org.reset(operation_ms=100)
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    m = Mount(org, path, str(tmp_path / "neonfs.log"),
              ["org=" + org.org_id, "project_idle=%d" % IDLE, "cache_ttl=1", "api_timeout=5"])
    try:
        yield m
    finally:
        problem = exit_problem(m)
        assert problem is None, problem


def ids(org):
    status, body = org.api("GET", "/projects", query={"limit": 400})
    assert status == 200, body
    return {p["name"]: p["id"] for p in body["projects"]}


def times(m, pid, what):
    return len(re.findall(r"project %s %s" % (re.escape(pid), what), m.output()))


def closed(m, pid, n=1):
    return times(m, pid, r"closed after \d+ s idle") >= n


def wait_closed(m, pid, name, n=1):
    wait_for(lambda: closed(m, pid, n), 30, "%s to be closed" % name)


def use(m, name):
    """Opens the project: its tree, as ls shows it."""
    return sorted(os.listdir(m.p(name, "branches"))), sorted(os.listdir(m.p(name)))


def test_an_idle_project_is_closed_and_its_next_use_opens_it_again(org, mount):
    m, pid = mount, ids(org)["project-0001"]
    before = use(m, "project-0001")
    assert before[0] == ["main"]
    main = os.stat(m.p("project-0001", "branches", "main"))
    snapshots = os.stat(m.p("project-0001", "snapshots")).st_ino
    assert times(m, pid, "opened") == 1
    wait_closed(m, pid, "project-0001")
    # Its next use opens it again, with the same tree.
    assert use(m, "project-0001") == before
    assert times(m, pid, "opened") == 2
    again = os.stat(m.p("project-0001", "branches", "main"))
    assert again.st_mode == main.st_mode and again.st_mtime == main.st_mtime
    # The kernel let go of the old numbers; the new tree never gives one of them again.
    assert again.st_ino > main.st_ino
    # The fixed directories keep theirs, as their meaning never changes.
    assert os.stat(m.p("project-0001", "snapshots")).st_ino == snapshots
    # Made and used again after a reopen, then closed again: what the tree counts of the
    # kernel's holds is right across the two lives.
    os.mkdir(m.p("project-0001", "snapshots", "s1"))
    assert os.listdir(m.p("project-0001", "snapshots")) == ["s1"]
    wait_closed(m, pid, "project-0001", 2)
    assert os.listdir(m.p("project-0001", "snapshots")) == ["s1"]
    assert os.path.isfile(m.p("project-0001", "snapshots", "s1", "meta.json"))


def test_an_open_file_or_a_working_directory_inside_keeps_a_project_open(org, mount):
    m, pid = mount, ids(org)
    use(m, "project-0002")
    use(m, "project-0003")
    f = open(m.p("project-0002", "branches", "main", "meta.json"))
    shell = subprocess.Popen(["sleep", "600"], cwd=m.p("project-0003", "branches", "main"))
    try:
        assert f.read().startswith("{")
        # Opened last: once it is closed, the two held ones were idle longer.
        use(m, "project-0004")
        wait_closed(m, pid["project-0004"], "project-0004")
        assert not closed(m, pid["project-0002"]), "closed with a file open"
        assert not closed(m, pid["project-0003"]), "closed with a working directory inside"
        f.close()
        wait_closed(m, pid["project-0002"], "project-0002 once its file is closed")
        assert not closed(m, pid["project-0003"])
    finally:
        f.close()
        shell.kill()
        shell.wait()
    wait_closed(m, pid["project-0003"], "project-0003 once nothing is inside")
    assert use(m, "project-0003")[0] == ["main"]


def test_events_followed_keep_a_project_open(org, mount):
    m, pid = mount, ids(org)
    use(m, "project-0005")
    tail = subprocess.Popen(["tail", "-f", m.p("project-0005", "events")],
                            stdout=subprocess.DEVNULL)
    try:
        use(m, "project-0004")
        wait_closed(m, pid["project-0004"], "project-0004")
        assert tail.poll() is None
        assert not closed(m, pid["project-0005"]), "closed with its events followed"
    finally:
        tail.kill()
        tail.wait()
    wait_closed(m, pid["project-0005"], "project-0005 once its events are let go")


def test_a_long_action_keeps_its_project_open(org, mount):
    m, pid = mount, ids(org)
    use(m, "project-0006")
    # Each of Neon's operations takes 8 s: the snapshot waits that long for its own.
    org.config(operation_ms=8000)
    errors = []

    def make():
        try:
            os.mkdir(m.p("project-0006", "snapshots", "slow"))
        except OSError as e:
            errors.append(e)

    mkdir = threading.Thread(target=make)
    mkdir.start()
    try:
        wait_for(lambda: "POST" in [r["method"] for r in org.requests()
                                     if r["path"].startswith("/projects/%s/" %
                                                             pid["project-0006"])],
                 30, "the snapshot to be asked for")
        use(m, "project-0004")
        wait_closed(m, pid["project-0004"], "project-0004")
        assert mkdir.is_alive(), "the mkdir ended before the check could mean anything"
        assert not closed(m, pid["project-0006"]), "closed with a mkdir in flight"
    finally:
        mkdir.join(60)
        org.config(operation_ms=100)
    assert not mkdir.is_alive() and errors == [], errors
    wait_closed(m, pid["project-0006"], "project-0006 once its mkdir ended")
    assert "slow" in os.listdir(m.p("project-0006", "snapshots"))


def test_an_action_whose_caller_was_killed_keeps_its_project_open_to_its_end(org, mount):
    m, pid = mount, ids(org)
    use(m, "project-0001")
    org.config(operation_ms=8000)
    try:
        org.clear_requests()
        # A session of its own, so the kill reaches mkdir itself.
        maker = subprocess.Popen(["mkdir", m.p("project-0001", "snapshots", "orphan")],
                                 start_new_session=True)
        wait_for(lambda: [r for r in org.requests() if r["method"] == "POST" and
                          r["path"].endswith("/snapshot")], 30, "the snapshot to be asked for")
        os.killpg(maker.pid, signal.SIGKILL)
        maker.wait(timeout=30)
        wait_for(lambda: "the caller was interrupted" in m.output(), 30, "the release")
        # The kernel holds nothing of it for the action: only the job keeps it open.
        use(m, "project-0004")
        wait_closed(m, pid["project-0004"], "project-0004")
        assert "done, after its caller was interrupted" not in m.output(), \
            "the mkdir ended before the check could mean anything"
        assert not closed(m, pid["project-0001"]), "closed with its mkdir still running"
    finally:
        org.config(operation_ms=100)
    wait_for(lambda: "done, after its caller was interrupted" in m.output(), 60,
             "the mkdir to end")
    wait_closed(m, pid["project-0001"], "project-0001 once its mkdir ended")
    assert "orphan" in os.listdir(m.p("project-0001", "snapshots"))


def test_projects_close_and_open_again_while_others_are_used(org, mount):
    m, pid = mount, ids(org)
    stop, errors = threading.Event(), []

    def busy():
        # Another project used all along, and the root listed: requests of every kind of
        # context meet the closes.
        while not stop.is_set():
            try:
                os.listdir(m.path)
                assert os.listdir(m.p("project-0002", "snapshots")) == []
                os.stat(m.p("project-0002", "limits"))
            except (OSError, AssertionError) as e:
                errors.append(e)
                return

    users = [threading.Thread(target=busy) for _ in range(3)]
    for t in users:
        t.start()
    try:
        for n in range(1, 4):
            assert use(m, "project-0001")[0] == ["main"]
            wait_closed(m, pid["project-0001"], "project-0001", n)
    finally:
        stop.set()
        for t in users:
            t.join(30)
    assert errors == []
    assert times(m, pid["project-0001"], "opened") == 3
    assert not closed(m, pid["project-0002"]), "closed while used"



def test_watch_always_keeps_opened_projects_open_and_polled(org, tmp_path):
    """-o watch=always polls every opened project: none is closed, and the polls go on past
    project_idle."""
    org.reset(operation_ms=100)
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    m = Mount(org, path, str(tmp_path / "neonfs.log"),
              ["org=" + org.org_id, "project_idle=%d" % IDLE, "watch=always", "poll_min=0.5",
               "poll_max=1", "cache_ttl=1"])
    try:
        pid = ids(org)["project-0002"]
        use(m, "project-0002")
        org.clear_requests()
        # A poll that begins well after the project would have been closed.
        wait_for(lambda: sum(1 for r in org.requests()
                             if r["path"] == "/projects/%s/snapshots" % pid) >= 3 * IDLE + 2,
                 60, "the project to be polled past project_idle")
        assert not closed(m, pid)
    finally:
        problem = exit_problem(m)
        assert problem is None, problem
