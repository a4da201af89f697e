"""active/ and active/restore: rolling the database back in place, through files only."""
import errno
import json
import os
import stat
import threading

import pytest

from mountlib import sql, wait_for, wait_idle


def branches(stack):
    status, body = stack.api("GET", "/projects/%s/branches" % stack.env["NEON_PROJECT_ID"])
    assert status == 200
    return {b["name"]: b for b in body["branches"]}


def restore_posts(stack):
    return [r for r in stack.requests() if r["method"] == "POST" and r["path"].endswith("/restore")]


def write_restore(fs, data):
    fd = os.open(fs.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        return os.write(fd, data)
    finally:
        os.close(fd)


def test_active_files(fs, project):
    assert sorted(os.listdir(fs.p("active"))) == ["connection_uri", "id", "meta.json", "next",
                                                  "restore", "schema"]
    main = branches(project)["main"]
    assert fs.read("active", "id") == main["id"] + "\n"
    meta = json.loads(fs.read("active", "meta.json"))
    assert meta["id"] == main["id"] and meta["name"] == "main"
    assert "password" not in json.dumps(meta).lower() or "password" not in meta
    uri = fs.read("active", "connection_uri").strip()
    assert uri.startswith("postgresql://")
    assert stat.S_IMODE(os.stat(fs.p("active", "connection_uri")).st_mode) == 0o600
    assert sql(uri, "SELECT 1") == [(1,)]
    assert json.loads(fs.read("active", "restore")) == {"state": "idle"}


def test_replay_scenario_restores_data_behind_the_same_uri(fs, project):
    """seeds/004: checkpoint before a destructive step, roll back after the mistake."""
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS users")
    sql(uri, "CREATE TABLE users (id serial PRIMARY KEY, name text NOT NULL)")
    sql(uri, "INSERT INTO users (name) VALUES ('Alice'), ('Bob')")
    sql(uri, "INSERT INTO users (name) VALUES ('Charlie')")
    os.mkdir(fs.p("snapshots", "pre_drop"))
    sql(uri, "DROP TABLE users")
    before_id = fs.read("active", "id").strip()

    assert write_restore(fs, b"pre_drop\n") == 9
    # Right after the write returns, the unchanged connection string has the data.
    assert sql(uri, "SELECT name FROM users ORDER BY id") == [("Alice",), ("Bob",), ("Charlie",)]

    status = json.loads(fs.read("active", "restore"))
    assert status["state"] == "finished"
    assert status["snapshot"]["name"] == "pre_drop"
    assert status["operations"] and all(op["status"] in ("finished", "skipped")
                                        for op in status["operations"])
    assert status["started_at"] <= status["ended_at"]
    # The active branch has a new id, resolved by name; the URI did not change.
    after = branches(project)
    assert after["main"]["id"] != before_id
    assert fs.read("active", "id").strip() == after["main"]["id"]
    assert status["branch"]["id_after"] == after["main"]["id"]
    assert fs.read("active", "connection_uri").strip() == uri
    # The replaced branch is kept and shows under branches/.
    assert after["main (old)"]["id"] == before_id
    assert "main (old)" in os.listdir(fs.p("branches"))
    # Every restore sent target_branch_id, the trap of a stale source branch.
    for r in restore_posts(project):
        assert r.get("body", {}).get("target_branch_id", before_id) == before_id


def test_restore_back_and_forth_by_name_and_id(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS t")
    sql(uri, "CREATE TABLE t (v int)")
    sql(uri, "INSERT INTO t VALUES (1)")
    os.mkdir(fs.p("snapshots", "one"))
    sql(uri, "INSERT INTO t VALUES (2)")
    os.mkdir(fs.p("snapshots", "two"))
    one_id = fs.read("snapshots", "one", "id").strip()

    write_restore(fs, (one_id + "\n").encode())
    assert sql(uri, "SELECT v FROM t ORDER BY v") == [(1,)]
    write_restore(fs, b"two")
    assert sql(uri, "SELECT v FROM t ORDER BY v") == [(1,), (2,)]
    write_restore(fs, b"one\n")
    assert sql(uri, "SELECT v FROM t ORDER BY v") == [(1,)]
    # A second restore targets the branch that now holds the name, never the old id.
    posts = restore_posts(project)
    assert len(posts) == 3
    targets = [p["body"]["target_branch_id"] for p in posts]
    assert len(set(targets)) == 3


@pytest.mark.parametrize("data", [b"", b"\n", b"a\nb\n", b"x" * 300, b"v\x01", b"\xff\xfe"])
def test_malformed_input_is_einval_without_an_api_call(fs, project, data):
    os.mkdir(fs.p("snapshots", "s"))
    project.clear_requests()
    with pytest.raises(OSError) as e:
        write_restore(fs, data)
    assert e.value.errno == errno.EINVAL
    assert restore_posts(project) == []


def test_unknown_snapshot_is_enoent(fs, project):
    with pytest.raises(OSError) as e:
        write_restore(fs, b"no-such-snapshot\n")
    assert e.value.errno == errno.ENOENT
    assert restore_posts(project) == []


@pytest.mark.concurrency
def test_two_restores_at_once_the_second_is_ebusy(fs, project):
    os.mkdir(fs.p("snapshots", "s"))
    # The first restore's request is held by the API for a while.
    project.fault(method="POST", path=r"/restore$", delay_ms=3000, count=1)
    result = {}

    def first():
        try:
            result["n"] = write_restore(fs, b"s\n")
        except OSError as e:
            result["err"] = e.errno
    t = threading.Thread(target=first)
    t.start()
    wait_for(lambda: json.loads(fs.read("active", "restore"))["state"] == "running", 10,
             "the first restore to run")
    with pytest.raises(OSError) as e:
        write_restore(fs, b"s\n")
    assert e.value.errno == errno.EBUSY
    t.join(60)
    assert result == {"n": 2}
    assert json.loads(fs.read("active", "restore"))["state"] == "finished"


def test_operation_error_gives_eio_and_the_reason(fs, project):
    os.mkdir(fs.p("snapshots", "s"))
    project.fault(method="POST", path=r"/restore$", operation="error", count=1)
    with pytest.raises(OSError) as e:
        write_restore(fs, b"s\n")
    assert e.value.errno == errno.EIO
    status = json.loads(fs.read("active", "restore"))
    assert status["state"] == "failed"
    assert status["error"]
    assert any(op["status"] == "error" for op in status["operations"])
    assert "restore" in fs.output()


def test_failed_operation_is_polled_until_it_finishes(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS f")
    sql(uri, "CREATE TABLE f (v int)")
    os.mkdir(fs.p("snapshots", "s"))
    sql(uri, "DROP TABLE f")
    project.fault(method="POST", path=r"/restore$", operation="failed", count=1)
    write_restore(fs, b"s\n")
    assert sql(uri, "SELECT count(*) FROM f") == [(0,)]


def test_locked_api_during_restore_is_retried(fs, project):
    os.mkdir(fs.p("snapshots", "s"))
    project.fault(method="POST", path=r"/restore$", status=423, count=2)
    write_restore(fs, b"s\n")
    assert [r["status"] for r in restore_posts(project)] == [423, 423, 200]
    assert json.loads(fs.read("active", "restore"))["state"] == "finished"


def test_clean_old_branches_deletes_the_replaced_branch(mount_factory, project):
    fs = mount_factory("clean_old_branches")
    os.mkdir(fs.p("snapshots", "s"))
    old = fs.read("active", "id").strip()
    write_restore(fs, b"s\n")
    names = branches(project)
    assert "main (old)" not in names
    assert old not in {b["id"] for b in names.values()}
    assert sql(fs.read("active", "connection_uri").strip(), "SELECT 1") == [(1,)]


def test_snapshot_after_a_restore_made_elsewhere_is_of_the_new_branch(fs, project):
    """A change resolves the active branch afresh: the cached listing still names the
    branch a restore made elsewhere replaced (cache_ttl=30, no polling)."""
    pid = project.env["NEON_PROJECT_ID"]
    os.mkdir(fs.p("snapshots", "base"))
    old_id = fs.read("active", "id").strip()
    sid = fs.read("snapshots", "base", "id").strip()
    status, body = project.api("POST", "/projects/%s/snapshots/%s/restore" % (pid, sid),
                               body={"target_branch_id": old_id, "finalize_restore": True})
    assert status == 200, body
    wait_idle(project)
    new_id = branches(project)["main"]["id"]
    assert new_id != old_id
    os.mkdir(fs.p("snapshots", "after"))
    status, body = project.api("GET", "/projects/%s/snapshots" % pid)
    after = [s for s in body["snapshots"] if s["name"] == "after"][0]
    assert after["source_branch_id"] == new_id


def two_snapshots(fs):
    """Table t holds 1 in snapshot one and 1, 2 in snapshot two."""
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS t")
    sql(uri, "CREATE TABLE t (v int)")
    sql(uri, "INSERT INTO t VALUES (1)")
    os.mkdir(fs.p("snapshots", "one"))
    sql(uri, "INSERT INTO t VALUES (2)")
    os.mkdir(fs.p("snapshots", "two"))
    sql(uri, "INSERT INTO t VALUES (3)")
    return uri


def test_two_mounts_restoring_at_once_one_wins_the_other_is_ebusy(mount_factory, project):
    """Both mounts share the meta database: the second restore is refused at once instead
    of being sent later with a target the first one renamed to "main (old)"."""
    opts = ("cache_ttl=30", "api_timeout=5", "poll_min=600", "poll_max=600")
    fs = [mount_factory(*opts), mount_factory(*opts)]
    uri = two_snapshots(fs[0])
    before = branches(project)["main"]["id"]
    # Whichever POST comes first is held, so the restores overlap for sure.
    project.fault(method="POST", path=r"/restore$", delay_ms=1000, count=1)
    barrier = threading.Barrier(2)
    result = [None, None]

    def restore(i, name):
        barrier.wait()
        try:
            result[i] = write_restore(fs[i], name)
        except OSError as e:
            result[i] = -e.errno
    threads = [threading.Thread(target=restore, args=(0, b"one\n")),
               threading.Thread(target=restore, args=(1, b"two\n"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(result) == sorted([4, -errno.EBUSY]), result
    winner = result.index(4)
    loser = 1 - winner
    expected = [[(1,)], [(1,), (2,)]][winner]
    assert sql(uri, "SELECT v FROM t ORDER BY v") == expected

    won = json.loads(fs[winner].read("active", "restore"))
    assert won["state"] == "finished"
    assert won["snapshot"]["name"] == ["one", "two"][winner]
    assert won["branch"]["id_before"] == before
    after = branches(project)
    assert won["branch"]["id_after"] == after["main"]["id"]
    assert after["main"]["restored_from"] == won["snapshot"]["id"]
    # The other restore never ran: only one branch was replaced.
    assert after["main (old)"]["id"] == before
    assert len(after) == 2
    assert won["verified"]

    lost = json.loads(fs[loser].read("active", "restore"))
    assert lost["state"] == "failed"
    assert lost["snapshot"]["name"] == ["one", "two"][loser]
    assert "another mount" in lost["error"]
    assert "pid %d" % fs[winner].proc.pid in lost["error"]
    assert lost["branch"]["id_after"] is None
    assert not lost.get("verified")
    # One restore reached the API.
    assert len([r for r in restore_posts(project) if r["status"] == 200]) == 1


def test_a_locked_restore_is_sent_again_to_the_branch_that_now_holds_the_name(fs, project):
    """While the first POST waits for its 423, a restore made elsewhere renames the target
    to "main (old)": the next POST names the branch that is now "main"."""
    pid = project.env["NEON_PROJECT_ID"]
    uri = two_snapshots(fs)
    old_id = fs.read("active", "id").strip()
    two = fs.read("snapshots", "two", "id").strip()
    project.clear_requests()
    project.fault(method="POST", path=r"/restore$", status=423, delay_ms=2500, count=1)
    result = {}

    def first():
        try:
            result["n"] = write_restore(fs, b"one\n")
        except OSError as e:
            result["err"] = e.errno
    t = threading.Thread(target=first)
    t.start()
    # The mount's POST holds the fault; now restore "two" elsewhere.
    wait_for(lambda: not project.admin("GET", "/faults")[1]["faults"], 10,
             "the mount's restore to reach the API")
    status, body = project.api("POST", "/projects/%s/snapshots/%s/restore" % (pid, two),
                               body={"target_branch_id": old_id, "finalize_restore": True})
    assert status == 200, body
    wait_idle(project)
    elsewhere = branches(project)["main"]["id"]
    assert elsewhere != old_id
    t.join(60)
    assert result == {"n": 4}

    # In the order they were sent: the mount's, the one made elsewhere, the mount's again.
    posts = sorted(restore_posts(project), key=lambda r: r["t"])
    assert [(r["status"], r["body"]["target_branch_id"]) for r in posts] == [
        (423, old_id), (200, old_id), (200, elsewhere)]
    assert "fault" in posts[0] and "fault" not in posts[2]
    assert sql(uri, "SELECT v FROM t ORDER BY v") == [(1,)]
    after = branches(project)
    status = json.loads(fs.read("active", "restore"))
    assert status["state"] == "finished"
    assert status["branch"]["id_before"] == elsewhere
    assert status["branch"]["id_after"] == after["main"]["id"]
    # Both replaced branches are kept, each under a name of its own.
    kept = {b["id"]: name for name, b in after.items()}
    assert kept[old_id] == "main (old)"
    assert kept[elsewhere] not in ("main", "main (old)")


def test_restore_is_not_reported_done_while_its_endpoint_cannot_be_seen(fs, project):
    """A query that answers is not enough: the endpoint behind the connection string must be
    seen serving the restored branch, or the write fails with EIO and says why."""
    pid = project.env["NEON_PROJECT_ID"]
    os.mkdir(fs.p("snapshots", "s"))
    project.fault(method="GET", path=r"^/projects/%s/endpoints$" % pid, status=500,
                  count=-1)
    with pytest.raises(OSError) as e:
        write_restore(fs, b"s\n")
    assert e.value.errno == errno.EIO
    status = json.loads(fs.read("active", "restore"))
    assert status["state"] == "failed"
    assert "does not reach the restored data" in status["error"]
    assert "list endpoints" in status["error"]
    assert status["verified"] is None
    project.clear_faults()
    write_restore(fs, b"s\n")
    status = json.loads(fs.read("active", "restore"))
    assert status["state"] == "finished"
    ep = [e for e in project.api("GET", "/projects/%s/endpoints" % pid)[1]["endpoints"]
          if e["type"] == "read_write" and e["branch_id"] == status["branch"]["id_after"]]
    assert len(ep) == 1 and ep[0]["id"] in status["verified"]
