"""active/next/: files that the next snapshot takes with it.

An agent writes its state into active/next/ and then makes the snapshot: the mkdir attaches
every pending file to the new snapshot in the transaction that writes the checkpoint
record, so no failure leaves a snapshot without its state or a state without its snapshot.
"""
import errno
import json
import os
import stat

import pytest

from mountlib import sql

STATE = json.dumps({"currentTurn": 3, "context": {"checkpoint": "v1"}}, indent=2).encode()
NOTES = b"\0binary\0notes\n" * 100


def pid(stack):
    return stack.env["NEON_PROJECT_ID"]


def meta_rows(stack, query, params=()):
    return sql(stack.env["NEONFS_META_URL"], query, (pid(stack),) + tuple(params))


def pending(stack):
    return meta_rows(stack, "SELECT name FROM pending WHERE project_id = %s ORDER BY name")


def attachments(stack, snap_id):
    return [(n, bytes(d)) for n, d in meta_rows(
        stack, "SELECT name, data FROM attachments WHERE project_id = %s AND snapshot_id = %s"
               " ORDER BY name", (snap_id,))]


def record(stack, snap_id):
    return meta_rows(stack, "SELECT name FROM checkpoints WHERE project_id = %s"
                            " AND snapshot_id = %s", (snap_id,))


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """open/write/close; close(2) is where the file is stored, so its error counts."""
    fd = os.open(path, flags, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def expect_errno(err, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == err, "expected %s, got %r" % (errno.errorcode[err], e.value)


@pytest.fixture
def nothing_pending(project, fs):
    """The meta database outlives tests: no pending file of an earlier test is left over."""
    meta_rows(project, "DELETE FROM pending WHERE project_id = %s")
    return fs


def put_two(m):
    nxt = m.p("active", "next")
    write_file(os.path.join(nxt, "run_state.json"), STATE)
    write_file(os.path.join(nxt, "notes.bin"), NOTES)
    return nxt


def test_next_files_become_the_next_snapshots_attachments(nothing_pending, project):
    fs = nothing_pending
    assert "next" in os.listdir(fs.p("active"))
    assert stat.S_ISDIR(os.stat(fs.p("active", "next")).st_mode)
    nxt = put_two(fs)

    # ls, cat, stat, rm, mv and O_EXCL work on pending files.
    assert sorted(os.listdir(nxt)) == ["notes.bin", "run_state.json"]
    assert read_bytes(os.path.join(nxt, "run_state.json")) == STATE
    assert os.stat(os.path.join(nxt, "notes.bin")).st_size == len(NOTES)
    write_file(os.path.join(nxt, "scratch.txt"), b"drop me")
    expect_errno(errno.EEXIST, write_file, os.path.join(nxt, "scratch.txt"), b"x",
                 os.O_WRONLY | os.O_CREAT | os.O_EXCL)
    os.rename(os.path.join(nxt, "scratch.txt"), os.path.join(nxt, "scratch.md"))
    assert read_bytes(os.path.join(nxt, "scratch.md")) == b"drop me"
    os.unlink(os.path.join(nxt, "scratch.md"))
    expect_errno(errno.ENOENT, os.stat, os.path.join(nxt, "scratch.md"))
    assert pending(project) == [("notes.bin",), ("run_state.json",)]

    os.mkdir(fs.p("snapshots", "v1"))
    snap_id = fs.read("snapshots", "v1", "id").strip()
    assert os.listdir(nxt) == []
    assert {"notes.bin", "run_state.json"} <= set(os.listdir(fs.p("snapshots", "v1")))
    assert read_bytes(fs.p("snapshots", "v1", "run_state.json")) == STATE
    assert read_bytes(fs.p("snapshots", "v1", "notes.bin")) == NOTES
    meta = json.loads(fs.read("snapshots", "v1", "meta.json"))
    assert meta["checkpoint"]["attachments"] == [
        {"name": "notes.bin", "size": len(NOTES)}, {"name": "run_state.json", "size": len(STATE)}]
    assert attachments(project, snap_id) == [("notes.bin", NOTES), ("run_state.json", STATE)]
    assert pending(project) == []

    # Taken once: the snapshot after has only its own files.
    os.mkdir(fs.p("snapshots", "v2"))
    assert sorted(os.listdir(fs.p("snapshots", "v2"))) == ["expires_at", "id", "meta.json", "schema"]


def test_record_and_files_are_written_in_one_transaction(nothing_pending, project):
    fs = nothing_pending
    put_two(fs)
    os.mkdir(fs.p("snapshots", "v1"))
    snap_id = fs.read("snapshots", "v1", "id").strip()
    # The transaction that wrote a row is its xmin: the record and both files share one.
    rows = meta_rows(project, "SELECT xmin::text FROM checkpoints WHERE project_id = %s"
                              " AND snapshot_id = %s UNION ALL"
                              " SELECT xmin::text FROM attachments WHERE project_id = %s"
                              " AND snapshot_id = %s", (snap_id, pid(project), snap_id))
    assert len(rows) == 3 and len(set(rows)) == 1, rows


def test_a_record_that_cannot_be_written_leaves_the_files_pending(nothing_pending, project):
    """The snapshot is made, but its files cannot be attached: the record is not written
    either, and the files stay pending for the next snapshot, nothing half done."""
    fs = nothing_pending
    nxt = put_two(fs)
    meta = project.env["NEONFS_META_URL"]
    sql(meta, "CREATE OR REPLACE FUNCTION neonfs_test_refuse() RETURNS trigger"
              " LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by the test'; END $$")
    sql(meta, "CREATE TRIGGER neonfs_test_refuse BEFORE INSERT ON attachments FOR EACH ROW"
              " WHEN (NEW.project_id = %s) EXECUTE FUNCTION neonfs_test_refuse()", (pid(project),))
    try:
        os.mkdir(fs.p("snapshots", "v1"))
    finally:
        sql(meta, "DROP TRIGGER neonfs_test_refuse ON attachments")
        sql(meta, "DROP FUNCTION neonfs_test_refuse()")
    snap_id = fs.read("snapshots", "v1", "id").strip()
    assert record(project, snap_id) == []
    assert attachments(project, snap_id) == []
    assert pending(project) == [("notes.bin",), ("run_state.json",)]
    assert sorted(os.listdir(nxt)) == ["notes.bin", "run_state.json"]
    assert "refused by the test" in fs.output()

    os.mkdir(fs.p("snapshots", "v2"))
    v2 = fs.read("snapshots", "v2", "id").strip()
    assert record(project, v2) == [("v2",)]
    assert attachments(project, v2) == [("notes.bin", NOTES), ("run_state.json", STATE)]
    assert os.listdir(nxt) == []


def test_a_failed_mkdir_leaves_them_pending(nothing_pending, project):
    fs = nothing_pending
    nxt = put_two(fs)
    project.fault(method="POST", path=r"/snapshot$", status=500)
    expect_errno(errno.EIO, os.mkdir, fs.p("snapshots", "v1"))
    assert os.listdir(fs.p("snapshots")) == []
    assert sorted(os.listdir(nxt)) == ["notes.bin", "run_state.json"]
    assert pending(project) == [("notes.bin",), ("run_state.json",)]
    assert read_bytes(os.path.join(nxt, "run_state.json")) == STATE

    os.mkdir(fs.p("snapshots", "v1"))
    assert read_bytes(fs.p("snapshots", "v1", "run_state.json")) == STATE
    assert os.listdir(nxt) == []


def test_pending_files_survive_a_remount(nothing_pending, project, mount_factory):
    fs = nothing_pending
    put_two(fs)
    assert fs.unmount() == 0
    again = mount_factory("poll_min=600", "poll_max=600")
    nxt = again.p("active", "next")
    assert sorted(os.listdir(nxt)) == ["notes.bin", "run_state.json"]
    assert read_bytes(os.path.join(nxt, "notes.bin")) == NOTES
    os.mkdir(again.p("snapshots", "v1"))
    assert read_bytes(again.p("snapshots", "v1", "notes.bin")) == NOTES
    assert os.listdir(nxt) == []


def test_next_without_a_meta_database(mount_factory, project):
    fs = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600",
                       env_drop=("NEONFS_META_URL",))
    nxt = fs.p("active", "next")
    assert os.listdir(nxt) == []
    expect_errno(errno.ENOTSUP, write_file, os.path.join(nxt, "run_state.json"), STATE)
    assert os.listdir(nxt) == []
    assert "run_state.json in active/next/: attachments need a meta database" in fs.output()
    os.mkdir(fs.p("snapshots", "v1"))
    assert sorted(os.listdir(fs.p("snapshots", "v1"))) == ["expires_at", "id", "meta.json", "schema"]
