"""A snapshot's life: its expiry (snapshots/<x>/expires_at, -o snapshot_ttl=, snapshot.expired)
and Neon's limits shown in band (<mnt>/limits, df -i, EDQUOT that says what to delete)."""
import calendar
import errno
import json
import os
import select
import stat
import subprocess
import time

import pytest

from mountlib import NEONFS, sql, wait_for, wait_idle

# A mount that looks for changes made elsewhere often, with caches only the watcher drops.
WATCHING = ("poll_min=0.2", "poll_max=1", "cache_ttl=30", "attr_timeout=30")


def pid(stack):
    return stack.env["NEON_PROJECT_ID"]


def api_snapshots(stack):
    status, body = stack.api("GET", "/projects/%s/snapshots" % pid(stack))
    assert status == 200, body
    return {s["name"]: s for s in body["snapshots"]}


def requests(stack, method, suffix):
    return [r for r in stack.requests() if r["method"] == method and r["path"].endswith(suffix)]


def epoch(rfc3339):
    return calendar.timegm(time.strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ"))


def write(path, data):
    """One write(2) of @data, as `echo` does; raises the errno the mount gave."""
    fd = os.open(path, os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, data.encode())
    finally:
        os.close(fd)


def expect_errno(err, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == err, "expected %s, got %s" % (errno.errorcode[err], e.value)


def meta_rows(stack, query, params=None):
    return sql(stack.env["NEONFS_META_URL"], query, params)


# ---- expires_at ----------------------------------------------------------------------------

def test_expires_at_is_set_seen_and_cleared_through_the_file(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    path = fs.p("snapshots", "v1", "expires_at")
    assert "expires_at" in os.listdir(fs.p("snapshots", "v1"))
    st = os.stat(path)
    assert stat.S_IMODE(st.st_mode) == 0o644 and st.st_size == 0
    assert fs.read("snapshots", "v1", "expires_at") == ""

    project.clear_requests()
    write(path, "2099-01-01T00:00:00Z\n")
    assert api_snapshots(project)["v1"]["expires_at"] == "2099-01-01T00:00:00Z"
    patches = requests(project, "PATCH", "/snapshots/" + api_snapshots(project)["v1"]["id"])
    assert [r["body"] for r in patches] == [{"snapshot": {"expires_at": "2099-01-01T00:00:00Z"}}]
    assert fs.read("snapshots", "v1", "expires_at") == "2099-01-01T00:00:00Z\n"
    assert os.stat(path).st_size == len("2099-01-01T00:00:00Z\n")
    assert json.loads(fs.read("snapshots", "v1", "meta.json"))["expires_at"] == \
        "2099-01-01T00:00:00Z"

    # An offset is turned into UTC, as Neon takes it.
    write(path, "2099-01-01T02:00:00+02:00\n")
    assert fs.read("snapshots", "v1", "expires_at") == "2099-01-01T00:00:00Z\n"

    # `echo > expires_at`: a newline only clears it, with null.
    project.clear_requests()
    write(path, "\n")
    assert "expires_at" not in api_snapshots(project)["v1"]
    assert [r["body"] for r in requests(project, "PATCH", "")] == \
        [{"snapshot": {"expires_at": None}}]
    assert fs.read("snapshots", "v1", "expires_at") == ""


def test_emptying_the_file_clears_the_expiry(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    path = fs.p("snapshots", "v1", "expires_at")
    write(path, "2099-01-01T00:00:00Z")
    # `: > expires_at` writes nothing: the clear comes at its close.
    os.close(os.open(path, os.O_WRONLY | os.O_TRUNC))
    wait_for(lambda: "expires_at" not in api_snapshots(project)["v1"], 10, "the expiry cleared")
    write(path, "2099-01-01T00:00:00Z")
    os.truncate(path, 0)
    assert "expires_at" not in api_snapshots(project)["v1"]


def test_a_bad_expiry_is_einval_with_no_api_call_and_a_reason_in_the_log(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    path = fs.p("snapshots", "v1", "expires_at")
    project.clear_requests()
    for bad, why in (("tomorrow\n", "not an RFC 3339 time"),
                     ("2026-02-30T00:00:00Z\n", "not an RFC 3339 time"),
                     ("2020-01-01T00:00:00Z\n", "is not after now"),
                     ("+7\n", "needs a unit"),
                     ("+7d\n+1d\n", "one time on one line")):
        expect_errno(errno.EINVAL, write, path, bad)
        assert why in fs.output(), (bad, fs.output()[-2000:])
    assert requests(project, "PATCH", "") == []
    assert "expires_at" not in api_snapshots(project)["v1"]


def test_a_relative_expiry_counts_from_now(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    path = fs.p("snapshots", "v1", "expires_at")
    for text, secs in (("+7d", 7 * 86400), ("+12h", 12 * 3600), ("+30m", 1800)):
        before = int(time.time())
        write(path, text + "\n")
        after = int(time.time())
        got = epoch(api_snapshots(project)["v1"]["expires_at"])
        assert before + secs <= got <= after + secs, (text, got - before)
        assert fs.read("snapshots", "v1", "expires_at").strip() == \
            api_snapshots(project)["v1"]["expires_at"]


def test_snapshot_ttl_gives_each_new_snapshot_an_expiry(mount_factory, project):
    m = mount_factory("snapshot_ttl=7d", "cache_ttl=30", "poll_min=600", "poll_max=600")
    project.clear_requests()
    before = int(time.time())
    os.mkdir(m.p("snapshots", "ttl"))
    after = int(time.time())
    posts = requests(project, "POST", "/snapshot")
    assert len(posts) == 1
    sent = epoch(posts[0]["query"]["expires_at"])
    assert before + 7 * 86400 <= sent <= after + 7 * 86400
    assert api_snapshots(project)["ttl"]["expires_at"] == posts[0]["query"]["expires_at"]
    assert m.read("snapshots", "ttl", "expires_at") == posts[0]["query"]["expires_at"] + "\n"


def test_a_bad_snapshot_ttl_is_refused_at_mount(project, tmp_path):
    r = subprocess.run([NEONFS, "-f", "-o", "snapshot_ttl=soon", str(tmp_path)],
                       env=dict(os.environ, **project.env), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert "snapshot_ttl" in r.stderr and "not a duration" in r.stderr


def events_reader(mount):
    return os.open(mount.p("events"), os.O_RDONLY | os.O_NONBLOCK)


def read_events_until(fd, pred, timeout):
    """Reads event lines until one satisfies @pred: (that event, every event read)."""
    deadline = time.monotonic() + timeout
    buf, seen = b"", []
    while True:
        *lines, buf = buf.split(b"\n")
        seen += [json.loads(line) for line in lines]
        for ev in seen:
            if pred(ev):
                return ev, seen
        left = deadline - time.monotonic()
        if left <= 0:
            raise AssertionError("no such event within %.0fs: %s" % (timeout, seen))
        if select.select([fd], [], [], left)[0]:
            try:
                buf += os.read(fd, 1 << 16)
            except BlockingIOError:
                pass


def test_an_expiry_neon_enforces_shows_as_snapshot_expired_and_takes_the_record(mount_factory,
                                                                               project):
    m = mount_factory(*WATCHING)
    os.mkdir(m.p("snapshots", "brief"))
    os.mkdir(m.p("snapshots", "kept"))
    with open(m.p("snapshots", "brief", "notes.txt"), "w") as f:
        f.write("agent state\n")
    sid = api_snapshots(project)["brief"]["id"]
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (sid,)) == [(1,)]
    assert meta_rows(project, "SELECT count(*) FROM attachments WHERE snapshot_id = %s",
                     (sid,)) == [(1,)]
    fd = events_reader(m)
    try:
        write(m.p("snapshots", "brief", "expires_at"), "+2s\n")
        ev, seen = read_events_until(fd, lambda e: e.get("id") == sid, 20)
        assert ev["kind"] == "snapshot.expired" and ev["name"] == "brief" and \
            ev["local"] is False, seen
        assert not any(e["kind"] == "snapshot.deleted" for e in seen), seen
    finally:
        os.close(fd)
    wait_for(lambda: meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                               (sid,)) == [(0,)], 10, "the checkpoint record removed")
    assert meta_rows(project, "SELECT count(*) FROM attachments WHERE snapshot_id = %s",
                     (sid,)) == [(0,)]
    assert sorted(os.listdir(m.p("snapshots"))) == ["kept"]
    # The other snapshot's record stays.
    kept = api_snapshots(project)["kept"]["id"]
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (kept,)) == [(1,)]


def test_a_snapshot_deleted_elsewhere_before_its_expiry_is_deleted_not_expired(mount_factory,
                                                                              project):
    m = mount_factory(*WATCHING)
    os.mkdir(m.p("snapshots", "later"))
    write(m.p("snapshots", "later", "expires_at"), "+7d\n")
    sid = api_snapshots(project)["later"]["id"]
    fd = events_reader(m)
    try:
        status, _ = project.api("DELETE", "/projects/%s/snapshots/%s" % (pid(project), sid))
        assert status == 202
        wait_idle(project)
        ev, seen = read_events_until(fd, lambda e: e.get("id") == sid, 20)
        assert ev["kind"] == "snapshot.deleted", seen
    finally:
        os.close(fd)


# ---- limits --------------------------------------------------------------------------------

def limits(m):
    with open(m.p("limits")) as f:
        text = f.read()
    assert os.stat(m.p("limits")).st_size == len(text.encode())
    return json.loads(text)


def test_limits_shows_counts_and_where_each_number_came_from(mount_factory, project):
    m = mount_factory("snapshot_limit=3", "cache_ttl=30", "poll_min=600", "poll_max=600")
    assert stat.S_IMODE(os.stat(m.p("limits")).st_mode) == 0o444
    before = limits(m)
    assert before["snapshots"] == {"used": 0, "used_from": "api", "limit": 3,
                                   "limit_from": "option", "left": 3, "reached": False,
                                   "delete": []}
    assert before["root_branches"]["used"] == 1
    assert before["root_branches"]["limit"] is None
    assert before["root_branches"]["limit_from"] is None
    os.mkdir(m.p("snapshots", "v1"))
    after = limits(m)
    assert after["snapshots"]["used"] == 1 and after["snapshots"]["left"] == 2
    expect_errno(errno.EACCES, open, m.p("limits"), "w")


def test_df_i_shows_the_snapshot_limit_and_the_snapshots_left(mount_factory, project):
    m = mount_factory("snapshot_limit=5", "cache_ttl=30", "poll_min=600", "poll_max=600")
    sv = os.statvfs(m.path)
    assert (sv.f_files, sv.f_ffree) == (5, 5)
    os.mkdir(m.p("snapshots", "v1"))
    os.mkdir(m.p("snapshots", "v2"))
    sv = os.statvfs(m.path)
    assert (sv.f_files, sv.f_ffree, sv.f_favail) == (5, 3, 3)
    # Within the cache window statfs costs no API call.
    project.clear_requests()
    for _ in range(5):
        os.statvfs(m.path)
    assert requests(project, "GET", "/snapshots") == []


def test_at_the_snapshot_limit_mkdir_is_edquot_and_says_what_to_delete(fs, project):
    project.config(snapshot_limit=2)
    os.mkdir(fs.p("snapshots", "old"))
    os.mkdir(fs.p("snapshots", "new"))
    # Unknown until Neon says so.
    assert limits(fs)["snapshots"]["limit"] is None
    expect_errno(errno.EDQUOT, os.mkdir, fs.p("snapshots", "three"))
    assert "Neon's snapshot limit (2) is reached" in fs.output()
    assert "rmdir 'snapshots/old'" in fs.output()
    got = limits(fs)["snapshots"]
    assert got == {"used": 2, "used_from": "api", "limit": 2, "limit_from": "error", "left": 0,
                   "reached": True, "delete": ["old"]}
    assert (os.statvfs(fs.path).f_files, os.statvfs(fs.path).f_ffree) == (2, 0)


def test_at_the_root_branch_limit_a_restore_is_edquot_and_names_the_old_branches(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    write(fs.p("active", "restore"), "v1\n")
    assert "main (old)" in os.listdir(fs.p("branches"))
    project.config(root_branch_limit=2)
    expect_errno(errno.EDQUOT, write, fs.p("active", "restore"), "v1\n")
    assert "Neon's root branch limit (2) is reached" in fs.output()
    assert "rmdir 'branches/main (old)'" in fs.output()
    got = limits(fs)["root_branches"]
    assert got["used"] == 2 and got["limit"] == 2 and got["limit_from"] == "error"
    assert got["reached"] is True and got["delete"] == ["main (old)"]
