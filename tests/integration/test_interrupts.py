"""Long actions hold no thread of the FUSE loop and honour interrupts.

A restore or a snapshot waits on Neon's operations for as long as they take. A caller that
is killed meanwhile is released at once (no process stuck in D state for op_timeout); the
action goes on to its end, as Neon has accepted it, and the tree, the status file and
events show how it ended. Meanwhile the mount keeps answering.
"""
import json
import os
import signal
import subprocess

from mountlib import sql, wait_for, wait_idle

SLOW_MS = 4000


def posts(stack, suffix):
    return [r for r in stack.requests() if r["method"] == "POST" and r["path"].endswith(suffix)]


def start_shell(cmd):
    # A shell of its own, so the kill reaches the process in the write, not just a wrapper.
    return subprocess.Popen(["/bin/sh", "-c", cmd], start_new_session=True)


def test_a_killed_restore_writer_is_released_and_the_restore_finishes(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS k")
    sql(uri, "CREATE TABLE k (v int)")
    os.mkdir(fs.p("snapshots", "before"))
    sql(uri, "INSERT INTO k VALUES (1)")
    project.config(operation_ms=SLOW_MS)
    try:
        project.clear_requests()
        writer = start_shell("echo before > %s" % fs.p("active", "restore"))
        wait_for(lambda: posts(project, "/restore"), 10, "the restore to be sent")
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait(timeout=30)
        # Released while the restore still runs, not when it ends.
        assert json.loads(fs.read("active", "restore"))["state"] == "running"
        # The mount answers meanwhile.
        assert sorted(os.listdir(fs.p("snapshots"))) == ["before"]
        wait_for(lambda: json.loads(fs.read("active", "restore"))["state"] == "finished",
                 30, "the restore to finish")
    finally:
        project.config(operation_ms=300)
    assert sql(uri, "SELECT count(*) FROM k") == [(0,)]
    assert "the caller was interrupted" in fs.output()


def test_a_killed_mkdir_is_released_and_the_snapshot_is_made(fs, project):
    project.config(operation_ms=SLOW_MS)
    try:
        project.clear_requests()
        maker = start_shell("mkdir %s" % fs.p("snapshots", "slow"))
        wait_for(lambda: posts(project, "/snapshot"), 10, "the snapshot to be asked for")
        os.killpg(maker.pid, signal.SIGKILL)
        maker.wait(timeout=30)
        assert "done, after its caller was interrupted" not in fs.output()
        wait_idle(project)
    finally:
        project.config(operation_ms=300)
    wait_for(lambda: "done, after its caller was interrupted" in fs.output(), 30,
             "the mkdir to end")
    assert os.listdir(fs.p("snapshots")) == ["slow"]
    meta = json.loads(fs.read("snapshots", "slow", "meta.json"))
    assert meta["checkpoint"]["has_schema"] is True
