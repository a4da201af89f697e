"""snapshots/: mkdir, ls, mv, rmdir and the files of a snapshot, through a real mount."""
import errno
import json
import os
import stat
import subprocess
import threading

import pytest

from mountlib import wait_for, wait_idle


def api_snapshots(stack):
    status, body = stack.api("GET", "/projects/%s/snapshots" % stack.env["NEON_PROJECT_ID"])
    assert status == 200
    return {s["name"]: s for s in body["snapshots"]}


def requests(stack, method=None, suffix=None):
    out = []
    for r in stack.requests():
        if method and r["method"] != method:
            continue
        if suffix and not r["path"].endswith(suffix):
            continue
        out.append(r)
    return out


def test_root_holds_the_tree(fs):
    assert sorted(os.listdir(fs.path)) == ["active", "branches", "events", "limits", "snapshots"]
    for d in ("active", "branches", "snapshots"):
        assert stat.S_ISDIR(os.stat(fs.p(d)).st_mode)
    assert stat.S_ISREG(os.stat(fs.p("events")).st_mode)
    assert stat.S_ISREG(os.stat(fs.p("limits")).st_mode)


def test_mkdir_creates_a_snapshot_listed_with_id_and_meta(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    remote = api_snapshots(project)
    assert "v1" in remote
    snap = remote["v1"]
    assert os.listdir(fs.p("snapshots")) == ["v1"]
    assert fs.read("snapshots", "v1", "id") == snap["id"] + "\n"
    meta = json.loads(fs.read("snapshots", "v1", "meta.json"))
    assert meta["id"] == snap["id"]
    assert meta["name"] == "v1"
    assert meta["source_branch_id"] == snap["source_branch_id"]
    assert set(os.listdir(fs.p("snapshots", "v1"))) >= {"id", "meta.json", "schema"}
    # The operations were over before mkdir returned.
    status, body = project.api("GET", "/projects/%s/operations" % project.env["NEON_PROJECT_ID"])
    assert all(op["status"] == "finished" for op in body["operations"])


def test_snapshot_mtime_is_its_creation_time_and_ls_lt_is_the_timeline(fs, project):
    import calendar
    import time as _time
    for name in ("first", "second", "third"):
        os.mkdir(fs.p("snapshots", name))
    remote = api_snapshots(project)
    for name, snap in remote.items():
        created = calendar.timegm(_time.strptime(snap["created_at"][:19], "%Y-%m-%dT%H:%M:%S"))
        assert int(os.stat(fs.p("snapshots", name)).st_mtime) == created
    out = subprocess.run(["ls", "-t", fs.p("snapshots")], capture_output=True, text=True,
                         check=True).stdout.split()
    times = [os.stat(fs.p("snapshots", n)).st_mtime for n in out]
    assert times == sorted(times, reverse=True)
    assert set(out) == {"first", "second", "third"}


def test_change_through_the_mount_is_visible_at_once(fs, project):
    # cache_ttl=30: only invalidation can make these show.
    assert os.listdir(fs.p("snapshots")) == []
    os.mkdir(fs.p("snapshots", "a"))
    assert os.listdir(fs.p("snapshots")) == ["a"]
    os.rename(fs.p("snapshots", "a"), fs.p("snapshots", "b"))
    assert os.listdir(fs.p("snapshots")) == ["b"]
    os.rmdir(fs.p("snapshots", "b"))
    assert os.listdir(fs.p("snapshots")) == []


def test_rename_renames_the_snapshot(fs, project):
    os.mkdir(fs.p("snapshots", "v3"))
    before = api_snapshots(project)["v3"]["id"]
    project.clear_requests()
    os.rename(fs.p("snapshots", "v3"), fs.p("snapshots", "good"))
    remote = api_snapshots(project)
    assert "v3" not in remote and remote["good"]["id"] == before
    patches = requests(project, "PATCH")
    assert len(patches) == 1 and patches[0]["path"].endswith("/snapshots/" + before)
    assert fs.read("snapshots", "good", "id") == before + "\n"
    assert not os.path.exists(fs.p("snapshots", "v3"))


def test_rmdir_deletes_the_snapshot_despite_its_files(fs, project):
    os.mkdir(fs.p("snapshots", "gone"))
    assert os.listdir(fs.p("snapshots", "gone"))
    os.rmdir(fs.p("snapshots", "gone"))
    assert "gone" not in api_snapshots(project)
    assert not os.path.exists(fs.p("snapshots", "gone"))


def expect_errno(err, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == err, "expected %s, got %s" % (errno.errorcode[err], e.value)


def test_errnos_of_snapshots(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    os.mkdir(fs.p("snapshots", "v2"))
    expect_errno(errno.EEXIST, os.mkdir, fs.p("snapshots", "v1"))
    expect_errno(errno.EINVAL, os.mkdir, fs.p("snapshots", "bad\x01name"))
    expect_errno(errno.ENOENT, os.rmdir, fs.p("snapshots", "nope"))
    expect_errno(errno.ENOENT, os.rename, fs.p("snapshots", "nope"), fs.p("snapshots", "x"))
    expect_errno(errno.EEXIST, os.rename, fs.p("snapshots", "v1"), fs.p("snapshots", "v2"))
    expect_errno(errno.EXDEV, os.rename, fs.p("snapshots", "v1"), fs.p("branches", "v1"))
    # The tree outside the actions refuses changes, with a clear errno.
    expect_errno(errno.EPERM, os.mkdir, fs.p("snapshots", "v1", "sub"))
    expect_errno(errno.EPERM, os.mkdir, fs.p("active", "x"))
    expect_errno(errno.EPERM, os.mkdir, fs.p("x"))
    expect_errno(errno.EACCES, open, fs.p("snapshots", "v1", "meta.json"), "w")
    expect_errno(errno.EACCES, open, fs.p("active", "new"), "w")
    expect_errno(errno.EPERM, os.chmod, fs.p("snapshots", "v1", "id"), 0o777)
    expect_errno(errno.EPERM, os.rmdir, fs.p("active"))
    # Nothing of that reached the project.
    assert sorted(api_snapshots(project)) == ["v1", "v2"]


def test_snapshot_limit_gives_edquot(fs, project):
    project.admin("POST", "/config", {"snapshot_limit": 2})
    try:
        os.mkdir(fs.p("snapshots", "one"))
        os.mkdir(fs.p("snapshots", "two"))
        expect_errno(errno.EDQUOT, os.mkdir, fs.p("snapshots", "three"))
        assert sorted(os.listdir(fs.p("snapshots"))) == ["one", "two"]
        assert "limit" in fs.output().lower()
    finally:
        project.admin("POST", "/config", {"snapshot_limit": 10})


def test_locked_api_is_retried_until_it_succeeds(fs, project):
    project.fault(method="POST", path=r"/snapshot$", status=423, count=2)
    os.mkdir(fs.p("snapshots", "after423"))
    assert "after423" in api_snapshots(project)
    posts = requests(project, "POST", "/snapshot")
    assert [r["status"] for r in posts] == [423, 423, 200]


def test_api_down_gives_a_clear_errno_and_recovers(mount_factory, project):
    fs = mount_factory("cache_ttl=0", "api_timeout=1")
    project.admin("POST", "/down", {"seconds": 3})
    try:
        with pytest.raises(OSError) as e:
            os.mkdir(fs.p("snapshots", "offline"))
        assert e.value.errno in (errno.ECONNREFUSED, errno.ETIMEDOUT, errno.EAGAIN)
        with pytest.raises(OSError):
            os.listdir(fs.p("snapshots"))
    finally:
        wait_for(project.api_reachable, 30, "the API to come back")
    os.mkdir(fs.p("snapshots", "online"))
    assert os.listdir(fs.p("snapshots")) == ["online"]
    assert "offline" not in api_snapshots(project)


def test_listing_costs_one_call_whatever_the_count(mount_factory, project):
    pid = project.env["NEON_PROJECT_ID"]
    branch = [b for b in project.api("GET", "/projects/%s/branches" % pid)[1]["branches"]
              if b["default"]][0]["id"]
    for i in range(6):
        status, body = project.api("POST", "/projects/%s/branches/%s/snapshot" % (pid, branch),
                                   query={"name": "s%d" % i})
        assert status == 200, body
        wait_idle(project)
    fs = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    project.clear_requests()
    out = subprocess.run(["ls", "-l", fs.p("snapshots")], capture_output=True, text=True,
                         check=True).stdout
    assert out.count("\nd") + out.startswith("d") == 6
    # The mount may have listed at start; either way ls -l costs at most one call.
    calls = [(r["method"], r["path"]) for r in project.requests()]
    assert calls in ([], [("GET", "/projects/%s/snapshots" % pid)]), calls
    # Within the cache window, listing again costs nothing.
    project.clear_requests()
    subprocess.run(["ls", "-l", fs.p("snapshots")], capture_output=True, check=True)
    for name in os.listdir(fs.p("snapshots")):
        os.stat(fs.p("snapshots", name))
    assert project.requests() == []


def test_rmdir_and_mv_leave_a_listing_that_costs_no_call(mount_factory, project):
    """A snapshot deleted or renamed through the mount is taken out of (or renamed in) the
    cached listing: the ls and lookups that follow, within the cache window, ask Neon
    nothing, and show the change."""
    fs = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    for name in ("a", "b", "c"):
        os.mkdir(fs.p("snapshots", name))
    assert sorted(os.listdir(fs.p("snapshots"))) == ["a", "b", "c"]
    os.rmdir(fs.p("snapshots", "a"))
    os.rename(fs.p("snapshots", "b"), fs.p("snapshots", "good"))
    project.clear_requests()
    assert sorted(os.listdir(fs.p("snapshots"))) == ["c", "good"]
    assert not os.path.exists(fs.p("snapshots", "a"))
    assert not os.path.exists(fs.p("snapshots", "b"))
    assert os.path.isdir(fs.p("snapshots", "good"))
    assert project.requests() == []
    assert sorted(api_snapshots(project)) == ["c", "good"]


def test_stat_size_equals_bytes_read(fs, project):
    os.mkdir(fs.p("snapshots", "sized"))
    for d in (("snapshots", "sized"), ("active",)):
        for name in os.listdir(fs.p(*d)):
            path = fs.p(*d, name)
            if name in ("restore", "next"):    # a control file, and a directory
                continue
            with open(path, "rb") as f:
                data = f.read()
            assert os.stat(path).st_size == len(data), path


def test_concurrent_mkdirs_each_make_one_snapshot(fs, project):
    errors = []

    def make(name):
        try:
            os.mkdir(fs.p("snapshots", name))
        except OSError as e:
            errors.append(e)
    threads = [threading.Thread(target=make, args=("c%d" % i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(os.listdir(fs.p("snapshots"))) == ["c0", "c1", "c2"]


def test_names_that_cannot_be_entries_are_listed_by_id(mount_factory, project):
    pid = project.env["NEON_PROJECT_ID"]
    branch = [b for b in project.api("GET", "/projects/%s/branches" % pid)[1]["branches"]
              if b["default"]][0]["id"]
    status, body = project.api("POST", "/projects/%s/branches/%s/snapshot" % (pid, branch),
                               query={"name": "a/b"})
    assert status == 200, body
    wait_idle(project)
    sid = body["snapshot"]["id"]
    fs = mount_factory()
    assert os.listdir(fs.p("snapshots")) == [sid]
    assert fs.read("snapshots", sid, "id") == sid + "\n"


def test_api_key_is_in_no_argv_and_no_log(mount_factory, project):
    fs = mount_factory("cache_ttl=0")
    key = project.env["NEON_API_KEY"]
    with open("/proc/%d/cmdline" % fs.proc.pid, "rb") as f:
        assert key.encode() not in f.read()
    os.mkdir(fs.p("snapshots", "k"))
    os.listdir(fs.p("snapshots"))
    for root, dirs, files in os.walk(fs.path):
        for name in files:
            if name in ("events", "restore"):
                continue
            with open(os.path.join(root, name), "rb") as f:
                assert key.encode() not in f.read(), name
    assert key not in fs.output()


def test_key_on_the_command_line_is_refused(project, tmp_path):
    from mountlib import NEONFS
    env = dict(os.environ)
    env.update(project.env)
    r = subprocess.run([NEONFS, "-f", "-o", "api_key=secret", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "command line" in r.stderr


def test_bad_key_fails_at_mount_time_with_a_message(project, tmp_path):
    from mountlib import NEONFS
    env = dict(os.environ)
    env.update(project.env)
    env["NEON_API_KEY"] = "wrong"
    r = subprocess.run([NEONFS, "-f", "-o", "api_timeout=1", str(tmp_path)], env=env,
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "NEON_API_KEY" in r.stderr
    assert not os.path.ismount(str(tmp_path))
