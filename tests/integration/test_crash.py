"""A killed neonfs loses nothing. neonfs is killed (SIGKILL) in the middle of an action:
while Neon's operations for a mkdir or a restore run, while an attachment is being stored,
while a schema is captured through a temporary branch. After a remount every snapshot,
branch, record and attachment that existed is there, the restore shows as it ended on
Neon, and no temporary branch is left.

"In the middle" is found by polling (the emulator's request log shows the request; the
meta database shows the statement waiting), never by sleeping."""
import json
import os
import signal
import subprocess

import psycopg2

from faultlib import audit, audit_mark, branches, meta_rows, restore_status, snapshots
from mountlib import sql, wait_for, wait_idle

SLOW_MS = 3000
OPTS = ("api_timeout=5", "op_timeout=30", "cache_ttl=0", "poll_min=600", "poll_max=600")


def posted(stack, suffix):
    return [r for r in stack.requests() if r["method"] == "POST" and r["path"].endswith(suffix)]


def start(cmd):
    return subprocess.Popen(["/bin/sh", "-c", cmd], start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def crash(m):
    """SIGKILL to the daemon, then its dead mount unmounted as a user would (-z: the kernel
    still holds it). The fixture's exit check is for daemons that end by themselves, so the
    exit status is set to what it checks."""
    m.proc.send_signal(signal.SIGKILL)
    assert m.proc.wait(timeout=30) == -signal.SIGKILL
    subprocess.run(["fusermount3", "-u", "-z", m.path], check=True)
    m.proc.returncode = 0


def write_file(path, data):
    with open(path, "wb") as f:
        f.write(data)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def prepare(fs):
    """What must survive: a snapshot with a record and an attachment, a pending file of
    active/next/, a branch."""
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS crash")
    sql(uri, "CREATE TABLE crash (v int)")
    os.mkdir(fs.p("snapshots", "keep"))
    sql(uri, "INSERT INTO crash VALUES (1)")
    write_file(fs.p("snapshots", "keep", "state.json"), b'{"step": 1}')
    write_file(fs.p("active", "next", "pending.txt"), b"pending")
    os.mkdir(fs.p("branches", "side"))
    return uri


def survived(project, again):
    """Everything prepare() made is there after the remount; no temporary branch is."""
    assert "keep" in os.listdir(again.p("snapshots"))
    assert read_bytes(again.p("snapshots", "keep", "state.json")) == b'{"step": 1}'
    meta = json.loads(again.read("snapshots", "keep", "meta.json"))
    assert meta["checkpoint"]["has_schema"] is True
    assert read_bytes(again.p("active", "next", "pending.txt")) == b"pending"
    assert "side" in branches(project) and "side" in os.listdir(again.p("branches"))
    assert not [b for b in branches(project) if b.startswith("neonfs-")]


def test_killed_in_the_middle_of_mkdir(mount_factory, project):
    fs = mount_factory(*OPTS)
    prepare(fs)
    project.config(operation_ms=SLOW_MS)
    project.clear_requests()
    maker = start("mkdir %s" % fs.p("snapshots", "mid"))
    wait_for(lambda: posted(project, "/snapshot"), 20, "the snapshot to be asked for")
    crash(fs)
    maker.wait(timeout=30)
    project.config(operation_ms=300)
    again = mount_factory(*OPTS)
    survived(project, again)
    wait_idle(project)
    # Neon made it; killed before its record, it shows as a snapshot without one, and the
    # pending file stays pending for the next snapshot.
    assert snapshots(project) == ["keep", "mid"]
    assert sorted(os.listdir(again.p("snapshots"))) == ["keep", "mid"]
    assert json.loads(again.read("snapshots", "mid", "meta.json"))["checkpoint"] is None
    assert branches(project) == ["main", "side"]


def test_killed_in_the_middle_of_a_restore(mount_factory, project):
    fs = mount_factory(*OPTS)
    uri = prepare(fs)
    mark = audit_mark(project)
    main = fs.read("active", "id").strip()
    project.config(operation_ms=SLOW_MS)
    project.clear_requests()
    writer = start("echo keep > %s" % fs.p("active", "restore"))
    wait_for(lambda: posted(project, "/restore"), 20, "the restore to be sent")
    crash(fs)
    writer.wait(timeout=30)
    assert [r[0] for r in audit(project, mark)] == ["running"]
    # Remounted while Neon's operations still run: the mount settles it when they end.
    again = mount_factory(*OPTS)
    wait_for(lambda: restore_status(again)["state"] != "running", 30, "the restore to settle")
    project.config(operation_ms=300)
    st = restore_status(again)
    assert st["state"] == "finished", st
    (outcome, name, before, after, error), = audit(project, mark)
    assert (outcome, name, before, error) == ("finished", "keep", main, None)
    assert after == st["branch"]["id_after"] == again.read("active", "id").strip()
    assert sql(uri, "SELECT count(*) FROM crash") == [(0,)]
    survived(project, again)
    assert branches(project) == ["main", "main (old)", "side"]


def test_killed_while_an_attachment_is_stored(mount_factory, project):
    fs = mount_factory(*OPTS)
    prepare(fs)
    locker = psycopg2.connect(project.env["NEONFS_META_URL"], connect_timeout=10)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE attachments IN EXCLUSIVE MODE")
        # One open, one write, one close: a shell's `>` closes a duplicate before its
        # write, which stores the truncated file empty (a close stores what the file is),
        # so a kill after that leaves it empty, as on any file system. What must hold is
        # that a store is whole or not at all.
        writer = subprocess.Popen(
            ["/usr/bin/python3", "-c", "import os, sys; fd = os.open(sys.argv[1], os.O_WRONLY);"
             " os.write(fd, b'{\"step\": 2}'); os.close(fd)",
             fs.p("snapshots", "keep", "state.json")], start_new_session=True,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def waiting():
            return meta_rows(project, "SELECT count(*) FROM pg_stat_activity WHERE"
                                      " wait_event_type = 'Lock' AND query ILIKE %s",
                             ("%attachments%",))[0][0] > 0
        wait_for(waiting, 20, "the attachment's statement to wait on the lock")
        crash(fs)
        writer.wait(timeout=30)
    finally:
        locker.rollback()
        locker.close()
    wait_for(lambda: not waiting(), 20, "the killed neonfs's statement to run")
    again = mount_factory(*OPTS)
    # The statement the killed neonfs sent runs once the lock goes (the server learns of
    # the dead client only when it answers): the new content, whole.
    assert read_bytes(again.p("snapshots", "keep", "state.json")) == b'{"step": 2}'
    write_file(again.p("snapshots", "keep", "state.json"), b'{"step": 1}')
    survived(project, again)
    assert snapshots(project) == ["keep"]


def test_killed_in_the_middle_of_a_schema_capture(mount_factory, project):
    fs = mount_factory(*OPTS)
    prepare(fs)
    main = project.default_branch()["id"]
    status, body = project.api("POST", project.project_path("/branches/%s/snapshot" % main),
                               query={"name": "elsewhere"})
    assert status in (200, 201), body
    project.wait_operations(body["operations"])
    project.config(operation_ms=SLOW_MS)
    project.clear_requests()
    toucher = start("touch %s" % fs.p("snapshots", "elsewhere", "schema"))
    wait_for(lambda: posted(project, "/restore"), 20, "the temporary branch to be asked for")
    crash(fs)
    toucher.wait(timeout=30)
    assert [b for b in branches(project) if b.startswith("neonfs-schema-")]
    wait_idle(project)
    project.config(operation_ms=300)
    again = mount_factory(*OPTS)
    # The mount deleted the branch the killed capture left (before it answers: the kernel
    # shows the mount a moment earlier); the snapshot has no schema yet.
    assert sorted(os.listdir(again.p("snapshots"))) == ["elsewhere", "keep"]
    wait_idle(project)
    survived(project, again)
    assert branches(project) == ["main", "side"]
    assert snapshots(project) == ["elsewhere", "keep"]
    assert "schema" not in os.listdir(again.p("snapshots", "elsewhere"))
