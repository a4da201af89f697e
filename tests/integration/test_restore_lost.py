"""A restore whose answer was lost: Neon may have restored or not, and the mount says
which, truthfully. The intent is in the restore audit log before the request; it is
settled from what Neon shows, by the restore itself or by the next mount."""
import errno
import os

from faultlib import Events, audit, audit_mark, branches, restore_status, write_restore
from mountlib import sql, wait_for, wait_idle


def prepared(fs):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS lost")
    sql(uri, "CREATE TABLE lost (v int)")
    os.mkdir(fs.p("snapshots", "before"))
    sql(uri, "INSERT INTO lost VALUES (1)")
    return uri


def test_a_restore_whose_answer_was_lost_but_was_done_succeeds(mount_factory, project):
    fs = mount_factory("api_timeout=3", "op_timeout=20", "poll_min=600", "poll_max=600")
    uri = prepared(fs)
    mark = audit_mark(project)
    before = fs.read("active", "id").strip()
    ev = Events(fs)
    project.fault(method="POST", path=r"/restore$", drop="after", count=1)
    assert write_restore(fs, "before") == 0
    # Neon restored it: the data is the snapshot's behind the same string.
    assert sql(uri, "SELECT count(*) FROM lost") == [(0,)]
    st = restore_status(fs)
    assert st["state"] == "finished", st
    assert st["branch"]["id_after"] == fs.read("active", "id").strip() != before
    kinds = ev.kinds()
    ev.close()
    assert "restore.finished" in kinds and "restore.failed" not in kinds, kinds
    (outcome, name, b_before, b_after, error), = audit(project, mark)
    assert (outcome, name, b_before, error) == ("finished", "before", before, None)
    assert b_after == st["branch"]["id_after"]
    assert "the answer was lost" in fs.output()
    wait_idle(project)
    assert branches(project) == ["main", "main (old)"]


def test_a_restore_request_that_never_arrived_fails_and_a_retry_restores(mount_factory,
                                                                        project):
    fs = mount_factory("api_timeout=3", "op_timeout=20", "poll_min=600", "poll_max=600")
    uri = prepared(fs)
    mark = audit_mark(project)
    before = fs.read("active", "id").strip()
    ev = Events(fs)
    project.fault(method="POST", path=r"/restore$", drop="before", count=1)
    assert write_restore(fs, "before") == errno.EIO
    # Nothing happened, and everything says so.
    assert sql(uri, "SELECT count(*) FROM lost") == [(1,)]
    assert fs.read("active", "id").strip() == before
    st = restore_status(fs)
    assert st["state"] == "failed" and "Neon shows no restore" in st["error"], st
    assert ev.kinds()[-1] == "restore.failed"
    ev.close()
    assert branches(project) == ["main"]
    (outcome, _, _, b_after, error), = audit(project, mark)
    assert outcome == "failed" and b_after is None and "Neon shows no restore" in error
    # Writing it again restores.
    assert write_restore(fs, "before") == 0
    assert sql(uri, "SELECT count(*) FROM lost") == [(0,)]
    assert [r[0] for r in audit(project, mark)] == ["failed", "finished"]


def test_a_mount_settles_a_restore_an_earlier_neonfs_left_running(mount_factory, project):
    """A neonfs that died after its restore request (here: the request made directly,
    with the intent it would have written): the next mount reads what Neon shows."""
    fs = mount_factory("poll_min=600", "poll_max=600")
    prepared(fs)
    snap = fs.read("snapshots", "before", "id").strip()
    main = fs.read("active", "id").strip()
    fs.unmount()
    url = project.env["NEONFS_META_URL"]
    mark = audit_mark(project)
    sql(url, "INSERT INTO restores (project_id, snapshot_id, snapshot_name, branch_before)"
             " VALUES (%s, %s, 'before', %s)", (project.project_id, snap, main))
    status, body = project.api("POST", project.project_path("/snapshots/%s/restore" % snap),
                               body={"target_branch_id": main, "finalize_restore": True})
    assert status == 200, body
    project.wait_operations(body["operations"])
    again = mount_factory("poll_min=600", "poll_max=600")
    # Settled on the worker pool, so the mount does not wait for it.
    wait_for(lambda: restore_status(again)["state"] != "running", 30, "the restore to settle")
    (outcome, _, _, b_after, _), = audit(project, mark)
    assert (outcome, b_after) == ("finished", body["branch"]["id"])
    st = restore_status(again)
    assert st["state"] == "finished" and st["snapshot"]["name"] == "before", st
    assert st["branch"]["id_after"] == body["branch"]["id"]


def test_a_lost_answer_neon_cannot_be_asked_about_is_left_to_the_next_mount(mount_factory,
                                                                           project):
    """The answer was lost and the branch listing that would tell fails too: the restore
    may have happened, so the audit log keeps it running (not "failed"), the status says
    why, and the next mount settles it."""
    fs = mount_factory("api_timeout=2", "op_timeout=20", "poll_min=600", "poll_max=600")
    uri = prepared(fs)
    mark = audit_mark(project)
    project.clear_requests()
    # The restore's own look-ups before its request pass; every listing after it fails.
    project.fault(method="GET", path=r"/branches$", delay_ms=1, count=2)
    project.fault(method="GET", path=r"/branches$", status=503, count=-1)
    project.fault(method="POST", path=r"/restore$", drop="after", count=1)
    assert write_restore(fs, "before") == errno.EAGAIN
    assert [r for r in project.requests() if r.get("dropped") == "after"]
    st = restore_status(fs)
    assert st["state"] == "failed" and "the next mount settles it" in st["error"], st
    (outcome, _, _, b_after, error), = audit(project, mark)
    assert outcome == "running" and b_after is None and "answer" in error
    project.clear_faults()
    wait_idle(project)
    fs.unmount()
    again = mount_factory("poll_min=600", "poll_max=600")
    wait_for(lambda: restore_status(again)["state"] != "running", 30, "the restore to settle")
    (outcome, _, _, b_after, error), = audit(project, mark)
    assert outcome == "finished" and b_after == again.read("active", "id").strip()
    assert sql(uri, "SELECT count(*) FROM lost") == [(0,)]
