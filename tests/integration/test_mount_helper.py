"""mount(8), fstab and other users: neonfs mounted the way a system mounts a filesystem.

`mount -t fuse.neonfs SRC DIR -o OPTS` runs /sbin/mount.fuse3, which runs `neonfs SRC DIR -o
OPTS` through /bin/sh. mount(8) drops PATH and HOME from the helper's environment, so the
shell searches its built-in path (/usr/local/sbin first): the tests put a link to the build's
neonfs there for their duration. Nothing reaches neonfs through the environment, so the key,
the API host and the meta database all come through options, as on a real system.
"""
import contextlib
import errno
import fcntl
import json
import os
import shutil
import subprocess
import tempfile
import urllib.parse

import pytest

from mountlib import NEONFS, SANITIZER, Mount, wait_for

HELPER_DIR = "/usr/local/sbin"
HELPER = os.path.join(HELPER_DIR, "neonfs")
LOCK = "/run/lock/neonfs-test-mount-helper.lock" if os.path.isdir("/run/lock") else \
    "/tmp/neonfs-test-mount-helper.lock"
# What mount(8) leaves a helper, give or take: no PATH of ours, no NEON_* variables.
MOUNT_ENV = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8"}


@pytest.fixture
def helper():
    """The build's neonfs where mount.fuse3's shell finds it, for one test at a time."""
    if os.geteuid() != 0:
        pytest.skip("mount(8) of a FUSE type needs root here")
    with open(LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if os.path.lexists(HELPER) and not (os.path.islink(HELPER) and
                                            os.readlink(HELPER).endswith("/neonfs")):
            pytest.skip("%s exists and is not a test link; not replacing it" % HELPER)
        os.makedirs(HELPER_DIR, exist_ok=True)
        with contextlib.suppress(FileNotFoundError):
            os.unlink(HELPER)
        os.symlink(NEONFS, HELPER)
        try:
            yield HELPER
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(HELPER)


@pytest.fixture
def creds(project, tmp_path):
    """Options that carry everything a mount needs, with no secret on the command line."""
    key = tmp_path / "key"
    key.write_text(project.api_key + "\n")
    os.chmod(key, 0o600)
    u = urllib.parse.urlsplit(project.meta_url)
    passfile = tmp_path / "pgpass"
    passfile.write_text("%s:%d:%s:%s:%s\n" % (u.hostname, u.port, u.path.lstrip("/"),
                                              u.username, urllib.parse.unquote(u.password)))
    os.chmod(passfile, 0o600)
    meta_url = "postgresql://%s@%s:%d%s?passfile=%s" % (u.username, u.hostname, u.port, u.path,
                                                         passfile)
    opts = ["key_file=%s" % key, "api_host=%s" % project.env["NEON_API_HOST"],
            "meta_url=%s" % meta_url, "api_timeout=5"]
    return {"options": opts, "password": urllib.parse.unquote(u.password),
            "key": project.api_key}


def daemons(mnt):
    """Pids of neonfs processes serving @mnt."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                argv = f.read().split(b"\0")
        except OSError:
            continue
        if argv and argv[0].endswith(b"neonfs") and mnt.encode() in argv:
            found.append(int(pid))
    return found


@pytest.fixture
def mnt(tmp_path):
    path = str(tmp_path / "mnt")
    os.mkdir(path)
    yield path
    if os.path.ismount(path):
        subprocess.run(["umount", path], capture_output=True)
    if os.path.ismount(path):
        subprocess.run(["fusermount3", "-uz", path], capture_output=True)
    with contextlib.suppress(AssertionError):
        wait_for(lambda: not daemons(path), 30, "neonfs at %s to exit" % path)
    for pid in daemons(path):
        os.kill(pid, 9)


def mount(*args):
    return subprocess.run(["mount"] + list(args), capture_output=True, text=True,
                          env=MOUNT_ENV, timeout=60)


def umount_and_wait(path):
    pids = daemons(path)
    assert pids, "no neonfs serves %s" % path
    r = subprocess.run(["umount", path], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert not os.path.ismount(path)
    wait_for(lambda: not daemons(path), 30, "neonfs at %s to exit after umount" % path)


def fstype(path):
    r = subprocess.run(["findmnt", "-n", "-o", "FSTYPE,SOURCE", "--mountpoint", path],
                       capture_output=True, text=True)
    return r.stdout.split()


def cmdlines(path):
    out = b""
    for pid in daemons(path):
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            out += f.read()
    return out.decode(errors="replace")


def test_mount_t_fuse_neonfs_mounts_the_project_given_as_source(helper, creds, project, mnt):
    r = mount("-t", "fuse.neonfs", project.project_id, mnt, "-o", ",".join(creds["options"]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert os.path.ismount(mnt)
    assert fstype(mnt) == ["fuse.neonfs", project.project_id]
    with open(os.path.join(mnt, "active", "id")) as f:
        assert f.read().strip() == project.default_branch()["id"]
    # The meta database answers through the password file: an attachment is stored.
    os.mkdir(os.path.join(mnt, "snapshots", "via-mount"))
    with open(os.path.join(mnt, "snapshots", "via-mount", "state.json"), "w") as f:
        f.write('{"step": 1}')
    with open(os.path.join(mnt, "snapshots", "via-mount", "state.json")) as f:
        assert json.load(f) == {"step": 1}
    line = cmdlines(mnt)
    assert creds["password"] not in line and creds["key"] not in line, line
    umount_and_wait(mnt)


def test_an_fstab_line_mounts_with_mount_T(helper, creds, project, mnt, tmp_path):
    fstab = tmp_path / "fstab"
    opts = ["_netdev", "noauto", "x-systemd.automount"] + creds["options"]
    fstab.write_text("# neonfs test\n%s %s fuse.neonfs %s 0 0\n"
                     % (project.project_id, mnt, ",".join(opts)))
    r = mount("-T", str(fstab), mnt)
    assert r.returncode == 0, r.stdout + r.stderr
    assert fstype(mnt) == ["fuse.neonfs", project.project_id]
    assert os.listdir(os.path.join(mnt, "snapshots")) == []
    umount_and_wait(mnt)


def test_an_organization_mounts_as_org_source(helper, creds, project, mnt):
    source = "org:" + project.org_id
    r = mount("-t", "fuse.neonfs", source, mnt, "-o", ",".join(creds["options"]))
    assert r.returncode == 0, r.stdout + r.stderr
    assert fstype(mnt) == ["fuse.neonfs", source]
    assert sorted(os.listdir(mnt)) == sorted(["events", project.project_id])
    assert os.listdir(os.path.join(mnt, project.project_id, "snapshots")) == []
    umount_and_wait(mnt)


def test_mount_with_a_password_in_meta_url_is_refused(helper, creds, project, mnt):
    opts = [o for o in creds["options"] if not o.startswith("meta_url=")]
    opts.append("meta_url=" + project.meta_url)
    r = mount("-t", "fuse.neonfs", project.project_id, mnt, "-o", ",".join(opts))
    assert r.returncode != 0
    assert "must not carry a password" in r.stderr, r.stderr
    assert not os.path.ismount(mnt)
    assert not daemons(mnt)


# ---- other users of an allow_other mount ----

# Run as nobody: each action and the errno it got (0 for success).
AS_NOBODY = r"""
import errno, json, os, sys
m = sys.argv[1]
def attempt(fn):
    try:
        fn()
        return 0
    except OSError as e:
        return errno.errorcode[e.errno]
def read(p):
    with open(os.path.join(m, p)) as f:
        f.read()
def write(p, data):
    fd = os.open(os.path.join(m, p), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
j = lambda *p: os.path.join(m, *p)
print(json.dumps({
    "read active/id": attempt(lambda: read("active/id")),
    "list snapshots": attempt(lambda: os.listdir(j("snapshots"))),
    "read snapshot schema": attempt(lambda: read("snapshots/cp/schema")),
    "read active/connection_uri": attempt(lambda: read("active/connection_uri")),
    "read branches/<default>/connection_uri":
        attempt(lambda: read("branches/%s/connection_uri" % sys.argv[2])),
    "write active/restore": attempt(lambda: write("active/restore", b"cp\n")),
    "mkdir snapshots/x": attempt(lambda: os.mkdir(j("snapshots", "x"))),
    "rmdir snapshots/cp": attempt(lambda: os.rmdir(j("snapshots", "cp"))),
    "mv snapshots/cp": attempt(lambda: os.rename(j("snapshots", "cp"), j("snapshots", "cp2"))),
    "mkdir branches/x": attempt(lambda: os.mkdir(j("branches", "x"))),
    "ln -s preview": attempt(lambda: os.symlink("../snapshots/cp", j("branches", "pv"))),
    "cp attachment": attempt(lambda: write("snapshots/cp/state.json", b"{}")),
}))
"""


@pytest.fixture
def shared_mount(project):
    """A root mount with allow_other, under a directory other users can traverse."""
    top = tempfile.mkdtemp(prefix="neonfs-shared-", dir="/tmp")
    os.chmod(top, 0o755)
    path = os.path.join(top, "mnt")
    os.mkdir(path)
    m = Mount(project, path, os.path.join(top, "neonfs.log"),
              ["allow_other", "cache_ttl=30", "api_timeout=5", "poll_min=600", "poll_max=600"])
    try:
        yield m
    finally:
        rc = m.unmount()
        out = m.output()
        shutil.rmtree(top, ignore_errors=True)
        assert rc == 0, out[-4000:]
        assert not SANITIZER.search(out), out[-8000:]


def test_other_users_read_only_what_the_modes_allow(shared_mount, project):
    m = shared_mount
    os.mkdir(m.p("snapshots", "cp"))
    project.clear_requests()
    default = project.default_branch()["name"]
    assert os.stat(m.p("active", "connection_uri")).st_mode & 0o777 == 0o600
    r = subprocess.run(["runuser", "-u", "nobody", "--", "/usr/bin/python3", "-c", AS_NOBODY,
                        m.path, default], capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)
    # The mount lets them in at all: what the modes allow works.
    assert got.pop("read active/id") == 0
    assert got.pop("list snapshots") == 0
    assert got.pop("read snapshot schema") == 0
    # Everything else is the owner's alone, refused by the kernel before neonfs sees it.
    assert got == {k: "EACCES" for k in got}, got
    assert sorted(os.listdir(m.p("snapshots"))) == ["cp"]
    assert sorted(os.listdir(m.p("branches"))) == [default]
    # And nothing reached Neon: no mutation of any kind was sent.
    assert [r for r in project.requests() if r["method"] != "GET"] == []


def test_a_read_only_mount_refuses_changes_with_erofs(mount_factory, project):
    m = mount_factory("ro", "fsname=neonfs-ro-test", "api_timeout=5", "poll_min=600", "poll_max=600")
    assert m.read("active", "id").strip() == project.default_branch()["id"]
    project.clear_requests()
    for action in (lambda: os.mkdir(m.p("snapshots", "x")),
                   lambda: open(m.p("active", "restore"), "w")):
        with pytest.raises(OSError) as e:
            action()
        assert e.value.errno == errno.EROFS
    assert [r for r in project.requests() if r["method"] != "GET"] == []
    # A source given with -o fsname= is kept.
    assert fstype(m.path) == ["fuse.neonfs", "neonfs-ro-test"]
