"""branches/: mkdir, ln -s (preview of a snapshot), rmdir and rm, through a real mount."""
import errno
import json
import os
import stat

import pytest

from mountlib import sql, wait_idle


def api_branches(stack):
    status, body = stack.api("GET", "/projects/%s/branches" % stack.env["NEON_PROJECT_ID"])
    assert status == 200
    return {b["name"]: b for b in body["branches"]}


def test_branches_list_every_branch_with_its_files(fs, project):
    assert os.listdir(fs.p("branches")) == ["main"]
    main = api_branches(project)["main"]
    assert sorted(os.listdir(fs.p("branches", "main"))) == ["connection_uri", "id", "meta.json",
                                                            "schema"]
    assert fs.read("branches", "main", "id") == main["id"] + "\n"
    meta = json.loads(fs.read("branches", "main", "meta.json"))
    assert meta["id"] == main["id"]
    assert meta["live"]["table_count"] >= 0 and meta["live"]["server_version"]
    assert stat.S_IMODE(os.stat(fs.p("branches", "main", "connection_uri")).st_mode) == 0o600


def test_mkdir_branch_from_the_active_head(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS b")
    sql(uri, "CREATE TABLE b (v int)")
    sql(uri, "INSERT INTO b VALUES (7)")
    os.mkdir(fs.p("branches", "exp"))
    remote = api_branches(project)
    assert remote["exp"]["parent_id"] == remote["main"]["id"]
    exp_uri = fs.read("branches", "exp", "connection_uri").strip()
    assert exp_uri != uri
    assert sql(exp_uri, "SELECT v FROM b") == [(7,)]
    sql(exp_uri, "INSERT INTO b VALUES (8)")
    assert sql(uri, "SELECT v FROM b") == [(7,)]
    os.rmdir(fs.p("branches", "exp"))
    assert "exp" not in api_branches(project)
    assert os.listdir(fs.p("branches")) == ["main"]


@pytest.fixture(params=[0, 1], ids=["compute-added", "compute-made-by-neon"])
def preview_compute(request, project):
    """Neon may give a preview branch its compute itself; a second one it refuses."""
    project.config(preview_compute=request.param)
    yield request.param
    project.config(preview_compute=0)


def test_preview_branch_from_a_snapshot_leaves_active_alone(fs, project, preview_compute):
    uri = fs.read("active", "connection_uri").strip()
    sql(uri, "DROP TABLE IF EXISTS p")
    sql(uri, "CREATE TABLE p (v int)")
    sql(uri, "INSERT INTO p VALUES (1)")
    os.mkdir(fs.p("snapshots", "v2"))
    sql(uri, "INSERT INTO p VALUES (2)")
    active_id = fs.read("active", "id")

    project.clear_requests()
    os.symlink("../snapshots/v2", fs.p("branches", "preview-v2"))
    assert os.readlink(fs.p("branches", "preview-v2")) == "../snapshots/v2"
    made = [r for r in project.requests() if r["method"] == "POST" and
            r["path"].endswith("/endpoints")]
    assert len(made) == (0 if preview_compute else 1), made
    assert stat.S_ISLNK(os.lstat(fs.p("branches", "preview-v2")).st_mode)
    remote = api_branches(project)
    preview = remote["preview-v2"]
    assert preview["restored_from"] == fs.read("snapshots", "v2", "id").strip()
    # Its own connection string, reached through the link, holds the snapshot's data.
    puri = fs.read("branches", "preview-v2", "connection_uri").strip()
    assert puri != uri
    assert sql(puri, "SELECT v FROM p ORDER BY v") == [(1,)]
    # The active branch is untouched.
    assert fs.read("active", "id") == active_id
    assert sql(uri, "SELECT v FROM p ORDER BY v") == [(1,), (2,)]
    # rm deletes the preview branch.
    os.unlink(fs.p("branches", "preview-v2"))
    assert "preview-v2" not in api_branches(project)
    assert not os.path.lexists(fs.p("branches", "preview-v2"))


def test_symlink_errnos(fs, project):
    with pytest.raises(OSError) as e:
        os.symlink("../snapshots/none", fs.p("branches", "x"))
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        os.symlink("/etc/passwd", fs.p("branches", "y"))
    assert e.value.errno == errno.EINVAL
    with pytest.raises(OSError) as e:
        os.symlink("../snapshots/none", fs.p("snapshots", "z"))
    assert e.value.errno == errno.EPERM
    assert sorted(api_branches(project)) == ["main"]


def test_rmdir_refuses_active_default_and_parents(fs, project):
    with pytest.raises(OSError) as e:
        os.rmdir(fs.p("branches", "main"))
    assert e.value.errno == errno.EPERM
    os.mkdir(fs.p("branches", "parent"))
    pid = project.env["NEON_PROJECT_ID"]
    parent_id = api_branches(project)["parent"]["id"]
    status, body = project.api("POST", "/projects/%s/branches" % pid,
                               body={"branch": {"parent_id": parent_id, "name": "child"}})
    assert status == 201, body
    wait_idle(project)
    with pytest.raises(OSError) as e:
        os.rmdir(fs.p("branches", "parent"))
    assert e.value.errno == errno.EBUSY
    assert "parent" in api_branches(project)
    with pytest.raises(OSError) as e:
        os.rmdir(fs.p("branches", "none"))
    assert e.value.errno == errno.ENOENT
    with pytest.raises(OSError) as e:
        os.mkdir(fs.p("branches", "parent"))
    assert e.value.errno == errno.EEXIST


def test_branch_without_compute_shows_no_connection_uri(mount_factory, project):
    pid = project.env["NEON_PROJECT_ID"]
    main_id = api_branches(project)["main"]["id"]
    status, body = project.api("POST", "/projects/%s/branches" % pid,
                               body={"branch": {"parent_id": main_id, "name": "bare"}})
    assert status == 201, body
    wait_idle(project)
    fs = mount_factory()
    names = sorted(os.listdir(fs.p("branches", "bare")))
    assert names == ["id", "meta.json"]
    assert not os.path.exists(fs.p("branches", "bare", "connection_uri"))
    meta = json.loads(fs.read("branches", "bare", "meta.json"))
    assert "error" in meta["live"]


def api_branch(project, name, parent_id):
    pid = project.env["NEON_PROJECT_ID"]
    status, body = project.api("POST", "/projects/%s/branches" % pid,
                               body={"branch": {"parent_id": parent_id, "name": name}})
    assert status == 201, body
    wait_idle(project)
    return body["branch"]["id"]


def test_every_entry_names_exactly_one_branch(mount_factory, project):
    """A name that cannot be an entry is listed under the id; that id is then a taken name,
    and each entry leads to the branch it showed."""
    main = api_branches(project)["main"]["id"]
    slashed = api_branch(project, "x/y", main)
    fs = mount_factory("cache_ttl=0")
    assert sorted(os.listdir(fs.p("branches"))) == sorted(["main", slashed])
    assert fs.read("branches", slashed, "id").strip() == slashed
    with pytest.raises(OSError) as e:
        os.mkdir(fs.p("branches", slashed))
    assert e.value.errno == errno.EEXIST
    assert sorted(os.listdir(fs.p("branches"))) == sorted(["main", slashed])
    # A branch elsewhere named as another's id: both are then shown by id, once each.
    clash = api_branch(project, slashed, main)
    entries = sorted(os.listdir(fs.p("branches")))
    assert entries == sorted(["main", slashed, clash]), entries
    os.rmdir(fs.p("branches", clash))
    remaining = {b["id"] for b in api_branches(project).values()}
    assert slashed in remaining and clash not in remaining

