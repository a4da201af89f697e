"""After a restore: its undo (active/restore's `undo`), what -o keep_old_branches= keeps of
the branches restores replaced, and the progress of a restore while Neon works on it."""
import errno
import json
import os
import subprocess
import threading
import time

import pytest

from mountlib import NEONFS, sql, wait_for, wait_idle

WATCH = ("cache_ttl=30", "api_timeout=5", "poll_min=600", "poll_max=600")


def pid(stack):
    return stack.env["NEON_PROJECT_ID"]


def branches(stack):
    status, body = stack.api("GET", "/projects/%s/branches" % pid(stack))
    assert status == 200, body
    return {b["name"]: b for b in body["branches"]}


def write_restore(fs, text):
    fd = os.open(fs.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        return os.write(fd, text.encode())
    finally:
        os.close(fd)


def status(fs):
    return json.loads(fs.read("active", "restore"))


def branch_restores(stack):
    return [r for r in stack.requests()
            if r["method"] == "POST" and "/branches/" in r["path"] and r["path"].endswith("/restore")]


def table_with(uri, value):
    sql(uri, "DROP TABLE IF EXISTS t")
    sql(uri, "CREATE TABLE t (v text)")
    sql(uri, "INSERT INTO t VALUES (%s)", (value,))


def value(uri):
    return sql(uri, "SELECT v FROM t")[0][0]


def test_undo_puts_back_the_state_just_before_the_restore_and_undo_of_undo(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    table_with(uri, "in-snapshot")
    os.mkdir(fs.p("snapshots", "s"))
    sql(uri, "UPDATE t SET v = 'just-before-restore'")
    replaced = fs.read("active", "id").strip()
    write_restore(fs, "s\n")
    assert value(uri) == "in-snapshot"
    st = status(fs)
    assert st["state"] == "finished"
    assert st["undo"] == replaced == branches(project)["main (old)"]["id"]
    assert replaced in st["undo_note"]
    sql(uri, "UPDATE t SET v = 'changed-after-restore'")
    active = fs.read("active", "id").strip()
    project.clear_requests()

    # The undo text, written as it is shown, through the same connection string.
    assert write_restore(fs, st["undo"] + "\n") == len(st["undo"]) + 1
    assert value(uri) == "just-before-restore"
    assert fs.read("active", "connection_uri").strip() == uri
    # A branch restore keeps the branch's id; its state until then is kept as a branch.
    assert fs.read("active", "id").strip() == active
    after = branches(project)
    assert after["main"]["id"] == active and after["main"]["parent_id"] == replaced
    kept = after["main (old 2)"]
    posts = branch_restores(project)
    assert [(r["path"].split("/")[-2], r["body"]) for r in posts] == [
        (active, {"source_branch_id": replaced, "preserve_under_name": "main (old 2)"})]
    # Like a snapshot restore, it is waited for and checked through the endpoint.
    later = [r["path"] for r in project.requests() if r["t"] > posts[0]["t"]]
    assert any(p.endswith("/branches/" + active) for p in later)
    assert any(p.endswith("/endpoints") for p in later)
    st = status(fs)
    assert st["state"] == "finished" and st["snapshot"] is None
    assert st["undo_of"] == {"branch_id": replaced, "branch_name": "main (old)"}
    assert st["branch"]["id_before"] == st["branch"]["id_after"] == active
    assert st["undo"] == kept["id"]
    assert "main (old 2)" in os.listdir(fs.p("branches"))

    # The undo of the undo, as the README shows it (the status read from the very file the
    # shell has opened for the write): back to what the restore had made, later changes
    # included.
    subprocess.run(["sh", "-c", "/usr/bin/python3 -c 'import json, sys; sys.stdout.write("
                    "json.load(open(sys.argv[1]))[\"undo\"] + chr(10))' active/restore > active/restore"],
                   cwd=fs.path, check=True, timeout=120)
    assert value(uri) == "changed-after-restore"
    st = status(fs)
    assert st["undo_of"]["branch_id"] == kept["id"]
    assert st["undo"] == branches(project)["main (old 3)"]["id"]
    log = fs.output()
    assert "undo from branch 'main (old 2)' (%s) into branch main" % kept["id"] in log


def test_undo_is_refused_for_a_branch_that_is_gone_or_the_active_one(fs, project):
    os.mkdir(fs.p("snapshots", "s"))
    write_restore(fs, "s\n")
    st = status(fs)
    os.rmdir(fs.p("branches", "main (old)"))
    project.clear_requests()
    with pytest.raises(OSError) as e:
        write_restore(fs, st["undo"] + "\n")
    assert e.value.errno == errno.ENOENT
    # The active branch is no branch a restore replaced: no undo source either.
    with pytest.raises(OSError) as e:
        write_restore(fs, fs.read("active", "id"))
    assert e.value.errno == errno.ENOENT
    assert branch_restores(project) == []


def test_a_failed_undo_keeps_the_undo_and_the_data_and_is_in_the_audit_log(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    table_with(uri, "snap")
    os.mkdir(fs.p("snapshots", "s"))
    sql(uri, "UPDATE t SET v = 'before'")
    write_restore(fs, "s\n")
    undo = status(fs)["undo"]
    active = fs.read("active", "id").strip()
    t0 = sql(project.env["NEONFS_META_URL"], "SELECT now()")[0][0]
    project.fault(method="POST", path=r"/branches/[^/]+/restore$", operation="error", count=1)
    with pytest.raises(OSError) as e:
        write_restore(fs, undo)
    assert e.value.errno == errno.EIO
    st = status(fs)
    assert st["state"] == "failed" and "error" in st
    assert st["undo"] == undo and "replaced nothing" in st["undo_note"]
    assert value(uri) == "snap"
    assert fs.read("active", "id").strip() == active
    # Then it works, and both are in the audit log.
    write_restore(fs, undo)
    assert value(uri) == "before"
    rows = sql(project.env["NEONFS_META_URL"],
               "SELECT snapshot_id, snapshot_name, branch_before, branch_after, outcome FROM restores"
               " WHERE project_id = %s AND started_at >= %s ORDER BY id", (pid(project), t0))
    what = "undo from branch 'main (old)' (%s)" % undo
    assert [r[4] for r in rows] == ["failed", "finished"]
    assert rows[1] == ("", what, active, active, "finished")


def test_a_snapshot_named_like_the_undo_text_is_einval(fs, project):
    os.mkdir(fs.p("snapshots", "s"))
    write_restore(fs, "s\n")
    undo = status(fs)["undo"]
    os.mkdir(fs.p("snapshots", undo))
    project.clear_requests()
    with pytest.raises(OSError) as e:
        write_restore(fs, undo)
    assert e.value.errno == errno.EINVAL
    assert [r for r in project.requests() if r["method"] == "POST"] == []


def test_undo_after_423_looks_the_target_up_again(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    table_with(uri, "snap")
    os.mkdir(fs.p("snapshots", "s"))
    sql(uri, "UPDATE t SET v = 'before'")
    write_restore(fs, "s\n")
    project.clear_requests()
    project.fault(method="POST", path=r"/branches/[^/]+/restore$", status=423, count=2)
    write_restore(fs, status(fs)["undo"])
    assert [r["status"] for r in branch_restores(project)] == [423, 423, 200]
    # Each retry follows a fresh lookup of the active branch by name.
    lists = [r for r in project.requests() if r["method"] == "GET" and r["path"].endswith("/branches")
             and r["t"] < branch_restores(project)[-1]["t"]]
    assert len(lists) >= 3
    assert value(uri) == "before"


def test_keep_old_branches_keeps_the_newest_and_leaves_a_protected_or_parent_one(
        mount_factory, project):
    fs = mount_factory("keep_old_branches=1", *WATCH)
    os.mkdir(fs.p("snapshots", "s"))
    first = fs.read("active", "id").strip()
    write_restore(fs, "s\n")
    assert branches(project)["main (old)"]["id"] == first
    second = fs.read("active", "id").strip()
    write_restore(fs, "s\n")
    # Only the newest replaced branch stays, and the undo names it.
    olds = {n: b["id"] for n, b in branches(project).items() if n != "main"}
    assert olds == {"main (old 2)": second}
    assert status(fs)["undo"] == second
    assert "replaced branch 'main (old)' (%s) deleted (keep_old_branches=1)" % first in fs.output()

    # A protected one and one with a child are left, and the log says why.
    status_, body = project.api("PATCH", "/projects/%s/branches/%s" % (pid(project), second),
                                body={"branch": {"protected": True}})
    assert status_ == 200, body
    third = fs.read("active", "id").strip()
    status_, body = project.api("POST", "/projects/%s/branches" % pid(project),
                                body={"branch": {"parent_id": third, "name": "child"}})
    assert status_ == 201, body
    try:
        wait_idle(project)
        write_restore(fs, "s\n")
        fourth = fs.read("active", "id").strip()
        write_restore(fs, "s\n")
        names = {b["id"] for b in branches(project).values()}
        assert {second, third, fourth} <= names
        log = fs.output()
        assert "replaced branch 'main (old 2)' (%s) is kept: it is protected" % second in log
        assert "(%s) is kept: branch 'child' is its child" % third in log
    finally:
        project.api("PATCH", "/projects/%s/branches/%s" % (pid(project), second),
                    body={"branch": {"protected": False}})


def test_keep_old_branches_0_is_clean_old_branches_and_offers_no_undo(mount_factory, project):
    fs = mount_factory("keep_old_branches=0", *WATCH)
    os.mkdir(fs.p("snapshots", "s"))
    old = fs.read("active", "id").strip()
    write_restore(fs, "s\n")
    assert old not in {b["id"] for b in branches(project).values()}
    st = status(fs)
    assert st["undo"] is None
    assert "was deleted (keep_old_branches=0)" in st["undo_note"]


@pytest.mark.parametrize("opts", [["keep_old_branches=x"], ["keep_old_branches=-1"],
                                  ["keep_old_branches=2", "clean_old_branches"]])
def test_a_bad_keep_old_branches_is_refused_at_mount(project, tmp_path, opts):
    r = subprocess.run([NEONFS, "-f", "-o", ",".join(opts), str(tmp_path)],
                       env=dict(os.environ, **project.env), capture_output=True, text=True,
                       timeout=30)
    assert r.returncode != 0
    assert "keep_old_branches= takes a count of branches" in r.stderr


@pytest.mark.concurrency
def test_progress_of_a_long_restore_in_the_status_and_events(fs, project):
    os.mkdir(fs.p("snapshots", "s"))
    project.config(operation_ms=4000)
    fd = os.open(fs.p("events"), os.O_RDONLY | os.O_NONBLOCK)
    done = []
    t = threading.Thread(target=lambda: done.append(write_restore(fs, "s\n")))
    t.start()
    try:
        seen = {}

        def running_with_ops():
            st = status(fs)
            if st["state"] == "running" and st["operations"] and st.get("waited_s", 0) >= 1:
                seen.update(st)
                return True
            return False
        wait_for(running_with_ops, 20, "the status to show the running operations")
        assert {op["status"] for op in seen["operations"]} <= {"scheduling", "running",
                                                                "finished"}
        assert all(op["action"] for op in seen["operations"])
        assert "undo" not in seen
        t.join(60)
        assert done == [2]
    finally:
        t.join(60)
        project.config(operation_ms=300)
    events = read_events(fd)
    os.close(fd)
    progress = [e for e in events if e["kind"] == "restore.progress"]
    assert len(progress) >= 2, events
    for e in progress:
        assert e["operations"] and all(":" in op for op in e["operations"].split(" "))
        assert int(e["waited_s"]) >= 1
    stamps = [time.mktime(time.strptime(e["time"][:19], "%Y-%m-%dT%H:%M:%S")) +
              float(e["time"][19:-1]) for e in progress]
    assert all(b - a >= 0.95 for a, b in zip(stamps, stamps[1:])), stamps
    kinds = [e["kind"] for e in events]
    assert kinds.index("restore.started") < kinds.index("restore.progress") < \
        kinds.index("restore.finished")


def read_events(fd):
    raw = b""
    while True:
        try:
            chunk = os.read(fd, 1 << 16)
        except BlockingIOError:
            break
        if not chunk:
            break
        raw += chunk
    return [json.loads(line) for line in raw.splitlines()]


@pytest.mark.parametrize("kind,path", [("snapshot", ("snapshots", "slow")),
                                       ("branch", ("branches", "slow"))])
def test_a_long_mkdir_says_its_progress_in_events(fs, project, kind, path):
    """While Neon works on a mkdir, events carries <kind>.progress at most once a second,
    with each operation's status and the seconds waited, before <kind>.created."""
    fd = os.open(fs.p("events"), os.O_RDONLY | os.O_NONBLOCK)
    project.config(operation_ms=3500)
    try:
        os.mkdir(fs.p(*path))
    finally:
        project.config(operation_ms=300)
    events = read_events(fd)
    os.close(fd)
    kinds = [e["kind"] for e in events]
    progress = [e for e in events if e["kind"] == kind + ".progress"]
    assert len(progress) >= 2, kinds
    for e in progress:
        assert e["name"] == "slow"
        assert e["operations"] and all(":" in op for op in e["operations"].split(" "))
        assert int(e["waited_s"]) >= 1
    assert kinds.index(kind + ".progress") < kinds.index(kind + ".created")
    stamps = [time.mktime(time.strptime(e["time"][:19], "%Y-%m-%dT%H:%M:%S")) +
              float(e["time"][19:-1]) for e in progress]
    assert all(b - a >= 0.95 for a, b in zip(stamps, stamps[1:])), stamps
