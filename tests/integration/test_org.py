"""An organization's mount: every project a directory holding a project's tree, listed one
API call per page, created with mkdir and deleted with rmdir when the mount allows it, and a
root events file whose lines name their project."""
import errno
import json
import os
import time
import uuid

import pytest

from mountlib import Mount, exit_problem, sql, wait_for
from stack import Stack

PROJECTS = 30
PAGE = 7          # 30 projects: five pages (7+7+7+7+2)


@pytest.fixture(scope="module")
def org(tmp_path_factory):
    with Stack.running(tmp_path_factory.mktemp("org"), operation_ms=300,
                       projects=PROJECTS) as st:
        yield st


@pytest.fixture
def mount_org(org, tmp_path):
    """mount_org(*options) mounts the organization; each daemon must exit 0 without a
    sanitizer report at teardown."""
    org.reset(operation_ms=300)
    mounts = []

    def make(*options):
        path = str(tmp_path / ("mnt%d" % len(mounts)))
        os.mkdir(path)
        m = Mount(org, path, str(tmp_path / ("neonfs%d.log" % len(mounts))),
                  ["org=" + org.org_id, "project_page=%d" % PAGE, "api_timeout=5"] +
                  list(options))
        mounts.append(m)
        return m

    yield make
    problems = [p for p in map(exit_problem, mounts) if p]
    assert not problems, "\n".join(problems)


def all_projects(org):
    out, cursor = [], None
    while True:
        status, body = org.api("GET", "/projects", query={"limit": 400, "cursor": cursor})
        assert status == 200, body
        out += body["projects"]
        if len(body["projects"]) < 400:
            return out
        cursor = body["pagination"]["cursor"]


def create_project(org, name):
    status, body = org.api("POST", "/projects", {"project": {"name": name}})
    assert status == 201, body
    org.wait_operations(body["operations"])
    return body["project"]["id"]


def delete_project(org, pid):
    status, body = org.api("DELETE", "/projects/" + pid)
    assert status in (200, 404), body


def calls(org, method, path_prefix):
    return [r for r in org.requests() if r["method"] == method and
            r["path"].startswith(path_prefix)]


def test_every_project_is_listed_one_call_a_page_and_stat_opens_none(org, mount_org):
    expected = sorted(["events"] + [p["name"] for p in all_projects(org)])
    org.clear_requests()
    # The mount lists the projects once before it mounts (a wrong key or organization is
    # told on the terminal); reading the root within the cache window costs no more.
    m = mount_org("cache_ttl=30")
    names = sorted(os.listdir(m.path))
    assert names == expected
    pages = [r for r in calls(org, "GET", "/projects") if r["path"] == "/projects"]
    # The API's pages in order, each asked once, Neon's cursor passed back as it came.
    assert len(pages) == 5, pages
    assert all(r["query"]["limit"] == str(PAGE) and r["query"]["org_id"] == org.org_id
               for r in pages)
    assert "cursor" not in pages[0]["query"] and all("cursor" in r["query"] for r in pages[1:])
    # ls -l: the attributes of every project's directory without a call for any of them;
    # and the listing again within the cache window costs nothing.
    org.clear_requests()
    for name in os.listdir(m.path):
        os.lstat(m.p(name))
    assert org.requests() == []
    inos = {os.lstat(m.p(n)).st_ino for n in names}
    assert len(inos) == len(names)


def test_the_projects_listing_is_kept_a_cache_window_for_each_page(org, mount_org):
    """Five pages of projects are kept five cache windows: a large organization's listing
    costs about one call a cache_ttl, not one a page; a project made elsewhere shows once
    that window ends."""
    m = mount_org("cache_ttl=1")
    before = set(os.listdir(m.path))
    org.clear_requests()
    # Past one cache_ttl, within five: the span observed, not a wait for anything.
    time.sleep(1.5)
    assert set(os.listdir(m.path)) == before
    assert [r for r in calls(org, "GET", "/projects") if r["path"] == "/projects"] == []
    name = "late-" + uuid.uuid4().hex[:8]
    pid = create_project(org, name)
    try:
        wait_for(lambda: name in os.listdir(m.path), 30, "the new project to be listed")
    finally:
        delete_project(org, pid)


def test_a_project_directory_holds_the_tree_of_one_project(org, mount_org):
    m = mount_org()
    name = "project-0004"
    assert sorted(os.listdir(m.p(name))) == ["active", "branches", "events", "limits",
                                               "snapshots"]
    assert os.listdir(m.p(name, "branches")) == ["main"]
    os.mkdir(m.p(name, "snapshots", "v1"))
    assert os.listdir(m.p(name, "snapshots")) == ["v1"]
    pid = next(p["id"] for p in all_projects(org) if p["name"] == name)
    status, body = org.api("GET", "/projects/%s/snapshots" % pid)
    assert [s["name"] for s in body["snapshots"]] == ["v1"]
    # Another project's tree is its own, with its own inode numbers.
    assert os.listdir(m.p("project-0005", "snapshots")) == []
    assert os.stat(m.p(name, "snapshots")).st_ino != os.stat(m.p("project-0005",
                                                                  "snapshots")).st_ino
    os.rmdir(m.p(name, "snapshots", "v1"))
    assert os.listdir(m.p(name, "snapshots")) == []


def test_opening_a_project_lists_each_thing_once(org, mount_org):
    """The first `ls snapshots/` of a project opens it: its branches (the active one), the
    active branch's databases and its snapshots, one call each, however many parts of the
    project (the watcher, the clean-up at open, the listing) read them."""
    m = mount_org("cache_ttl=30")
    name = "project-0006"
    pid = next(p["id"] for p in all_projects(org) if p["name"] == name)
    org.clear_requests()
    assert os.listdir(m.p(name, "snapshots")) == []
    got = sorted(r["path"] for r in org.requests() if r["path"].startswith("/projects/"))
    branch = sql_branch_of(org, pid)
    assert got == sorted(["/projects/%s/branches" % pid,
                          "/projects/%s/branches/%s/databases" % (pid, branch),
                          "/projects/%s/snapshots" % pid]), got


def sql_branch_of(org, pid):
    status, body = org.api("GET", "/projects/%s/branches" % pid)
    assert status == 200, body
    return next(b["id"] for b in body["branches"] if b.get("default"))


def test_root_events_name_the_project_of_each_line(org, mount_org):
    m = mount_org()
    fd = os.open(m.p("events"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        name = "project-0007"
        os.mkdir(m.p(name, "snapshots", "ev1"))
        pid = next(p["id"] for p in all_projects(org) if p["name"] == name)
        got = []

        def line():
            try:
                got.extend(json.loads(x) for x in os.read(fd, 65536).decode().splitlines())
            except BlockingIOError:
                pass
            return [e for e in got if e["kind"] == "snapshot.created"]
        ev = wait_for(line, 30, "the root's events line")[0]
        assert ev["project"] == pid and ev["name"] == "ev1" and ev["local"] is True
        os.rmdir(m.p(name, "snapshots", "ev1"))
    finally:
        os.close(fd)


def test_a_name_two_projects_share_or_no_file_can_have_is_listed_under_the_id(org, mount_org):
    twin = "twin-" + uuid.uuid4().hex[:6]
    a, b = create_project(org, twin), create_project(org, twin)
    slash = create_project(org, "a/b")
    try:
        m = mount_org()
        names = os.listdir(m.p())
        assert twin not in names and "a/b" not in names
        assert a in names and b in names and slash in names
        assert sorted(os.listdir(m.p(a))) == ["active", "branches", "events", "limits",
                                              "snapshots"]
    finally:
        for pid in (a, b, slash):
            delete_project(org, pid)


def test_mkdir_makes_a_project_and_rmdir_needs_allow_project_delete(org, mount_org):
    m = mount_org()
    name = "tenant-" + uuid.uuid4().hex[:6]
    os.mkdir(m.p(name))
    made = [p for p in all_projects(org) if p["name"] == name]
    assert len(made) == 1
    pid = made[0]["id"]
    try:
        # mkdir returned when the project's operations had ended.
        status, body = org.api("GET", "/projects/%s/operations" % pid)
        assert status == 200 and body["operations"]
        assert all(o["status"] == "finished" for o in body["operations"])
        assert name in os.listdir(m.p())
        assert os.listdir(m.p(name, "branches")) == ["main"]
        with pytest.raises(FileExistsError):
            os.mkdir(m.p(name))
        with pytest.raises(FileExistsError):
            os.mkdir(m.p("events"))
        with pytest.raises(PermissionError) as e:
            os.rmdir(m.p(name))
        assert e.value.errno == errno.EPERM
        assert pid in {p["id"] for p in all_projects(org)}
        m2 = mount_org("allow_project_delete")
        os.rmdir(m2.p(name))
        assert pid not in {p["id"] for p in all_projects(org)}
        assert name not in os.listdir(m2.p())
        with pytest.raises(FileNotFoundError):
            os.rmdir(m2.p(name))
    finally:
        delete_project(org, pid)


def write_restore(m, name, text):
    fd = os.open(m.p(name, "active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        return os.write(fd, text.encode())
    finally:
        os.close(fd)


def test_a_project_restores_with_progress_undo_and_keep_old_branches(org, mount_org):
    """A restore in a project of an organization's mount is the single mount's: its
    progress lines reach the root's events with the project, -o keep_old_branches= keeps
    that many of its replaced branches, and its undo puts back the state before it."""
    m = mount_org("keep_old_branches=1", "api_timeout=30")
    name = "project-0011"
    pid = next(p["id"] for p in all_projects(org) if p["name"] == name)
    uri = m.read(name, "active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS t")
    sql(uri, "CREATE TABLE t (v text)")
    sql(uri, "INSERT INTO t VALUES ('snap')")
    os.mkdir(m.p(name, "snapshots", "s"))
    sql(uri, "UPDATE t SET v = 'before-1'")
    first = m.read(name, "active", "id").strip()
    fd = os.open(m.p("events"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        org.config(operation_ms=2500)
        try:
            assert write_restore(m, name, "s\n") == 2
        finally:
            org.config(operation_ms=300)
        got = []

        def finished():
            try:
                got.extend(json.loads(x) for x in os.read(fd, 1 << 16).decode().splitlines())
            except BlockingIOError:
                pass
            return any(e["kind"] == "restore.finished" for e in got)
        wait_for(finished, 30, "the restore's lines in the root's events")
    finally:
        os.close(fd)
    progress = [e for e in got if e["kind"] == "restore.progress"]
    assert progress and all(e["project"] == pid and e["operations"] for e in progress), got
    assert all(e["project"] == pid for e in got if e["kind"].startswith("restore."))
    assert sql(uri, "SELECT v FROM t")[0][0] == "snap"

    sql(uri, "UPDATE t SET v = 'before-2'")
    second = m.read(name, "active", "id").strip()
    write_restore(m, name, "s\n")
    status, body = org.api("GET", "/projects/%s/branches" % pid)
    assert status == 200, body
    olds = {b["name"]: b["id"] for b in body["branches"] if b["name"] != "main"}
    # keep_old_branches=1: the first replaced branch went once the second restore was done.
    assert olds == {"main (old 2)": second} and first not in olds.values()
    st = json.loads(m.read(name, "active", "restore"))
    assert st["state"] == "finished" and st["undo"] == second
    # Another project of the mount has a restore status of its own.
    assert json.loads(m.read("project-0012", "active", "restore"))["state"] == "idle"

    write_restore(m, name, st["undo"] + "\n")
    assert sql(uri, "SELECT v FROM t")[0][0] == "before-2"
    st = json.loads(m.read(name, "active", "restore"))
    assert st["state"] == "finished" and st["undo_of"]["branch_id"] == second


def test_another_mounts_change_reaches_a_project_through_its_own_channel(org, mount_org):
    """Two organization mounts of one meta database: a snapshot made through one shows in
    the other's listing and root events by a notice on that project's channel, not by a
    poll (both poll every 600 s and cache for as long)."""
    quiet = ("cache_ttl=600", "poll_min=600", "poll_max=600")
    a, b = mount_org(*quiet), mount_org(*quiet)
    name = "project-0014"
    pid = next(p["id"] for p in all_projects(org) if p["name"] == name)
    assert os.listdir(b.p(name, "snapshots")) == []
    # The other project opened on b hears nothing of this one's change.
    assert os.listdir(b.p("project-0015", "snapshots")) == []
    fd = os.open(b.p("events"), os.O_RDONLY | os.O_NONBLOCK)
    try:
        os.mkdir(a.p(name, "snapshots", "told"))
        wait_for(lambda: os.listdir(b.p(name, "snapshots")) == ["told"], 10,
                 "the snapshot in the other mount's listing")
        got = []

        def line():
            try:
                got.extend(json.loads(x) for x in os.read(fd, 1 << 16).decode().splitlines())
            except BlockingIOError:
                pass
            return [e for e in got if e["kind"] == "snapshot.created"]
        ev = wait_for(line, 10, "the notice's line in the other mount's root events")[0]
        assert ev["project"] == pid and ev["name"] == "told" and ev["local"] is False
    finally:
        os.close(fd)
    assert os.listdir(b.p("project-0015", "snapshots")) == []
    os.rmdir(a.p(name, "snapshots", "told"))


def listening_sessions(org):
    """The meta database's sessions that hear other mounts' notices."""
    return sql(org.env["NEONFS_META_URL"], "SELECT count(*) FROM pg_stat_activity WHERE"
               " application_name = 'neonfs notices' AND query LIKE 'LISTEN %'")[0][0]


def test_a_mount_hears_every_opened_project_on_one_session(org, mount_org):
    """Twenty projects opened on one mount listen on one session of the meta database, not
    twenty, and changes made through another mount still reach two of them, each by its
    own channel (both mounts poll every 600 s and cache for as long)."""
    quiet = ("cache_ttl=600", "poll_min=600", "poll_max=600")
    a = mount_org(*quiet)
    names = ["project-%04d" % i for i in range(1, 21)]
    # Another test of the module may have left a snapshot in one of them.
    before = {name: set(os.listdir(a.p(name, "snapshots"))) for name in names}
    assert listening_sessions(org) == 1
    b = mount_org(*quiet)
    os.mkdir(b.p(names[2], "snapshots", "one"))
    os.mkdir(b.p(names[16], "snapshots", "two"))
    wait_for(lambda: set(os.listdir(a.p(names[2], "snapshots"))) == before[names[2]] | {"one"},
             10, "the first project's snapshot in the other mount")
    wait_for(lambda: set(os.listdir(a.p(names[16], "snapshots"))) == before[names[16]] | {"two"},
             10, "the second project's snapshot in the other mount")
    assert set(os.listdir(a.p(names[9], "snapshots"))) == before[names[9]]
    assert listening_sessions(org) == 2
    os.rmdir(b.p(names[2], "snapshots", "one"))
    os.rmdir(b.p(names[16], "snapshots", "two"))
