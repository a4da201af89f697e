"""Helpers for the fault and crash tests: the project as Neon and the meta database hold
it, the events a mount emitted, and the meta database or a compute taken away."""
import contextlib
import json
import os
import urllib.parse

import psycopg2

from mountlib import sql


def api_ok(stack, method, suffix, body=None, query=None):
    status, out = stack.api(method, stack.project_path(suffix), body=body, query=query)
    assert 200 <= status < 300, (method, suffix, status, out)
    return out


def snapshots(stack):
    return sorted(s["name"] for s in api_ok(stack, "GET", "/snapshots")["snapshots"])


def branches(stack):
    return sorted(b["name"] for b in api_ok(stack, "GET", "/branches")["branches"])


def meta_rows(stack, query, params=()):
    return sql(stack.env["NEONFS_META_URL"], query, params)


def audit_mark(stack):
    """Where the restore audit log ends now (it outlives each test's project reset)."""
    return meta_rows(stack, "SELECT coalesce(max(id), 0) FROM restores")[0][0]


def audit(stack, since=0):
    """The restore audit log of the project after @since, oldest first: (outcome,
    snapshot_name, branch_before, branch_after, error)."""
    return meta_rows(stack, "SELECT outcome, snapshot_name, branch_before, branch_after, error"
                            " FROM restores WHERE project_id = %s AND id > %s ORDER BY id",
                     (stack.project_id, since))


def write_restore(mount, name):
    """The errno of `echo name > active/restore`, 0 on success."""
    fd = os.open(mount.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, name.encode() + b"\n")
        return 0
    except OSError as e:
        return e.errno
    finally:
        os.close(fd)


def restore_status(mount):
    return json.loads(mount.read("active", "restore"))


class Events:
    """An O_NONBLOCK reader of <mnt>/events: what was emitted since it opened."""

    def __init__(self, mount):
        self.fd = os.open(mount.p("events"), os.O_RDONLY | os.O_NONBLOCK)
        self.buf = b""

    def lines(self):
        while True:
            try:
                chunk = os.read(self.fd, 1 << 16)
            except BlockingIOError:
                break
            if not chunk:
                break
            self.buf += chunk
        return [json.loads(x) for x in self.buf.split(b"\n") if x.strip()]

    def kinds(self):
        return [e["kind"] for e in self.lines()]

    def close(self):
        os.close(self.fd)


def _admin_url(url):
    parts = urllib.parse.urlsplit(url)
    return parts.path.lstrip("/"), urllib.parse.urlunsplit(parts._replace(path="/postgres"))


@contextlib.contextmanager
def database_closed(url):
    """The database @url names refuses connections, and its sessions end, for the block."""
    dbname, admin_url = _admin_url(url)
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS false' % dbname)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
        yield
    finally:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS true' % dbname)
        admin.close()


def meta_down(stack):
    return database_closed(stack.env["NEONFS_META_URL"])


@contextlib.contextmanager
def compute_down(stack, uri):
    """The compute behind @uri refuses connections for the block: its database closed on
    the server, as the owner (the role the connection string has) may do."""
    physical = sql(uri, "SELECT current_database()")[0][0]
    meta = urllib.parse.urlsplit(stack.env["NEONFS_META_URL"])
    parts = urllib.parse.urlsplit(uri)
    admin_url = urllib.parse.urlunsplit(parts._replace(
        netloc="%s:%s@%s:%d" % (parts.username, parts.password, meta.hostname, meta.port),
        path="/postgres", query=""))
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS false' % physical)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (physical,))
        yield
    finally:
        with admin.cursor() as cur:
            cur.execute('ALTER DATABASE "%s" ALLOW_CONNECTIONS true' % physical)
        admin.close()
