"""Mounts that share a meta database tell each other what they changed (LISTEN/NOTIFY).

Mount B polls so rarely (poll_min=poll_max=600) and caches so long that only a notice from
mount A can make A's change show in B's listing and events within the deadline. B reaches
the API through a counting proxy of its own, so the test knows which calls B made.
"""
import errno
import http.client
import json
import os
import select
import threading
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import psycopg2
import pytest

from mountlib import wait_for

QUIET = ("cache_ttl=600", "attr_timeout=30", "poll_min=600", "poll_max=600", "api_timeout=5")
DEADLINE = 1.0   # seconds from the syscall on A to the change showing on B


class CountingProxy:
    """Forwards one mount's API requests to the emulator and keeps (method, path) of each."""

    def __init__(self, target):
        parts = urllib.parse.urlsplit(target)
        self.host, self.port, self.prefix = parts.hostname, parts.port, parts.path.rstrip("/")
        self.lock = threading.Lock()
        self.seen = []
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def forward(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                with proxy.lock:
                    proxy.seen.append((self.command, self.path))
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "connection", "content-length")}
                conn = http.client.HTTPConnection(proxy.host, proxy.port, timeout=60)
                try:
                    conn.request(self.command, self.path, body, headers)
                    r = conn.getresponse()
                    data = r.read()
                finally:
                    conn.close()
                self.send_response(r.status)
                for k, v in r.getheaders():
                    if k.lower() not in ("transfer-encoding", "connection", "content-length"):
                        self.send_header(k, v)
                if r.status not in (204, 304):
                    self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if r.status not in (204, 304):
                    self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self):
        return "http://127.0.0.1:%d%s" % (self.server.server_address[1], self.prefix)

    def calls(self):
        with self.lock:
            return list(self.seen)

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def proxy(project):
    p = CountingProxy(project.env["NEON_API_HOST"])
    yield p
    p.close()


class Events:
    """A non-blocking reader of a mount's events file, closed before the unmount."""

    def __init__(self, mount):
        self.fd = os.open(mount.p("events"), os.O_RDONLY | os.O_NONBLOCK)
        self.buf = b""
        self.lines = []

    def _read(self):
        while True:
            try:
                data = os.read(self.fd, 65536)
            except OSError as e:
                if e.errno == errno.EAGAIN:
                    return
                raise
            if not data:
                return
            self.buf += data
            while b"\n" in self.buf:
                line, self.buf = self.buf.split(b"\n", 1)
                self.lines.append(json.loads(line))

    def wait(self, kind, timeout, **fields):
        """The first line of @kind with @fields, waited for up to @timeout seconds."""
        def match():
            self._read()
            for e in self.lines:
                if e["kind"] == kind and all(e.get(k) == v for k, v in fields.items()):
                    return e
            select.select([self.fd], [], [], 0.05)
            return None
        return wait_for(match, timeout, "%s %r in events" % (kind, fields))

    def of(self, kind):
        self._read()
        return [e for e in self.lines if e["kind"] == kind]

    def close(self):
        os.close(self.fd)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def two_mounts(mount_factory, proxy, *b_options):
    a = mount_factory(*QUIET)
    b = mount_factory(*(b_options or QUIET), env_extra={"NEON_API_HOST": proxy.url})
    return a, b


def api_snapshots(project):
    pid = project.env["NEON_PROJECT_ID"]
    status, body = project.api("GET", "/projects/%s/snapshots" % pid)
    assert status == 200, body
    return {s["name"]: s for s in body["snapshots"]}


def shows(mount, names):
    return lambda: sorted(os.listdir(mount.p("snapshots"))) == sorted(names)


@pytest.mark.concurrency
def test_mkdir_mv_rmdir_through_one_mount_show_in_the_other_without_an_api_call(
        proxy, mount_factory, project):
    a, b = two_mounts(mount_factory, proxy)
    assert os.listdir(b.p("snapshots")) == []     # B's listing is cached from here on
    with Events(b) as ev:
        before = len(proxy.calls())

        os.mkdir(a.p("snapshots", "v1"))
        wait_for(shows(b, ["v1"]), DEADLINE, "v1 in B's listing")
        e = ev.wait("snapshot.created", DEADLINE, name="v1")
        assert e["local"] is False
        assert e["id"] == api_snapshots(project)["v1"]["id"]
        assert b.read("snapshots", "v1", "id").strip() == e["id"]

        os.rename(a.p("snapshots", "v1"), a.p("snapshots", "v2"))
        wait_for(shows(b, ["v2"]), DEADLINE, "v2 in B's listing, v1 gone")
        e = ev.wait("snapshot.renamed", DEADLINE, name="v2")
        assert (e["local"], e["old_name"]) == (False, "v1")
        assert not os.path.exists(b.p("snapshots", "v1"))

        os.rmdir(a.p("snapshots", "v2"))
        wait_for(shows(b, []), DEADLINE, "v2 gone from B's listing")
        e = ev.wait("snapshot.deleted", DEADLINE, name="v2")
        assert e["local"] is False
        assert not os.path.exists(b.p("snapshots", "v2"))

        # B patched its listing from the notices: it asked Neon nothing.
        assert proxy.calls()[before:] == []
        assert len(ev.of("snapshot.created")) == 1


def test_expiry_set_through_one_mount_shows_in_the_other(proxy, mount_factory, project):
    a, b = two_mounts(mount_factory, proxy)
    os.mkdir(a.p("snapshots", "v1"))
    wait_for(shows(b, ["v1"]), DEADLINE, "v1 in B's listing")
    assert b.read("snapshots", "v1", "expires_at") == ""
    before = len(proxy.calls())
    fd = os.open(a.p("snapshots", "v1", "expires_at"), os.O_WRONLY | os.O_TRUNC)
    try:
        os.write(fd, b"2099-01-01T00:00:00Z\n")
    finally:
        os.close(fd)
    want = api_snapshots(project)["v1"]["expires_at"]
    assert want
    wait_for(lambda: b.read("snapshots", "v1", "expires_at").strip() == want, DEADLINE,
             "the expiry in B's expires_at")
    assert proxy.calls()[before:] == []


def test_branches_made_and_deleted_through_one_mount_show_in_the_other(proxy, mount_factory,
                                                                       project):
    a, b = two_mounts(mount_factory, proxy)
    os.mkdir(a.p("snapshots", "v1"))
    assert sorted(os.listdir(b.p("branches"))) == ["main"]
    before = len(proxy.calls())
    with Events(b) as ev:
        os.mkdir(a.p("branches", "exp"))
        wait_for(lambda: "exp" in os.listdir(b.p("branches")), DEADLINE, "exp in B's branches")
        assert ev.wait("branch.created", DEADLINE, name="exp")["local"] is False
        os.symlink("../snapshots/v1", a.p("branches", "pv"))
        wait_for(lambda: "pv" in os.listdir(b.p("branches")), DEADLINE, "pv in B's branches")
        assert os.readlink(b.p("branches", "pv")) == "../snapshots/v1"
        os.rmdir(a.p("branches", "exp"))
        os.unlink(a.p("branches", "pv"))
        wait_for(lambda: sorted(os.listdir(b.p("branches"))) == ["main"], DEADLINE,
                 "exp and pv gone from B's branches")
        assert [e["name"] for e in ev.of("branch.deleted")] == ["exp", "pv"]
    assert proxy.calls()[before:] == []


def test_attachments_written_through_one_mount_show_in_the_other(proxy, mount_factory,
                                                                 project):
    a, b = two_mounts(mount_factory, proxy)
    os.mkdir(a.p("snapshots", "v1"))
    wait_for(shows(b, ["v1"]), DEADLINE, "v1 in B's listing")
    assert "notes.txt" not in os.listdir(b.p("snapshots", "v1"))
    before = len(proxy.calls())
    with open(a.p("snapshots", "v1", "notes.txt"), "wb") as f:
        f.write(b"kept with v1")
    wait_for(lambda: "notes.txt" in os.listdir(b.p("snapshots", "v1")), DEADLINE,
             "notes.txt in B's snapshots/v1")
    assert b.read("snapshots", "v1", "notes.txt") == "kept with v1"
    os.unlink(a.p("snapshots", "v1", "notes.txt"))
    wait_for(lambda: "notes.txt" not in os.listdir(b.p("snapshots", "v1")), DEADLINE,
             "notes.txt gone from B's snapshots/v1")
    assert proxy.calls()[before:] == []


@pytest.mark.concurrency
def test_a_notified_change_is_not_reported_again_by_polling(proxy, mount_factory, project):
    """B polls fast: its polls after the notice see the snapshot as known."""
    a, b = two_mounts(mount_factory, proxy, "poll_min=0.2", "poll_max=0.5", "cache_ttl=600",
                      "watch=always")
    with Events(b) as ev:
        os.mkdir(a.p("snapshots", "v1"))
        ev.wait("snapshot.created", DEADLINE, name="v1", local=False)
        since = len(proxy.calls())
        path = "/projects/%s/snapshots" % project.env["NEON_PROJECT_ID"]

        def polled_twice():
            return len([c for c in proxy.calls()[since:]
                        if c[0] == "GET" and c[1].split("?")[0].endswith(path)]) >= 2
        wait_for(polled_twice, 15, "two polls by B")
        # The poll that follows a listing has emitted what it found; read after another.
        ev.wait("snapshot.created", 1, name="v1")
        assert len([e for e in ev.of("snapshot.created") if e["name"] == "v1"]) == 1


def test_restore_through_one_mount_shows_in_the_other(proxy, mount_factory, project):
    a, b = two_mounts(mount_factory, proxy)
    os.mkdir(a.p("snapshots", "s1"))
    wait_for(shows(b, ["s1"]), DEADLINE, "s1 in B's listing")
    old = b.read("active", "id").strip()
    with Events(b) as ev:
        fd = os.open(a.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
        try:
            os.write(fd, b"s1\n")
        finally:
            os.close(fd)
        new = a.read("active", "id").strip()
        assert new != old
        e = ev.wait("restore.finished", DEADLINE, snapshot_name="s1")
        assert e["local"] is False
        assert (e["branch_id_before"], e["branch_id"]) == (old, new)
        wait_for(lambda: b.read("active", "id").strip() == new, DEADLINE,
                 "B's active/id on the restored branch")
        assert "main (old)" in os.listdir(b.p("branches"))


def test_the_listener_comes_back_with_the_meta_database(proxy, mount_factory, project):
    meta_url = project.env["NEONFS_META_URL"]
    parts = urllib.parse.urlsplit(meta_url)
    dbname = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    a, b = two_mounts(mount_factory, proxy)
    assert os.listdir(b.p("snapshots")) == []
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE %s ALLOW_CONNECTIONS false" % dbname)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
        lost = "lost the meta database's connection that other mounts' changes come through"
        wait_for(lambda: lost in b.output() and lost in a.output(), 10, "the listeners lost")
        # Told to nobody: B's poll (every 600 s) would be the only way to see it.
        os.mkdir(a.p("snapshots", "during"))
    finally:
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE %s ALLOW_CONNECTIONS true" % dbname)
        admin.close()
    back = "listening for other mounts' changes again"
    wait_for(lambda: back in b.output() and back in a.output(), 30, "the listeners back")
    # What was not heard meanwhile: B dropped its listings, so the next ls reads afresh.
    assert os.listdir(b.p("snapshots")) == ["during"]
    with Events(b) as ev:
        os.mkdir(a.p("snapshots", "after"))
        wait_for(shows(b, ["during", "after"]), DEADLINE, "after in B's listing")
        ev.wait("snapshot.created", DEADLINE, name="after", local=False)
