"""State through libpq: schema files, the meta database, attachments, the restore audit log.

Everything is driven through a real mount over the local Neon stack. The project's database
(branch `main`) keeps its tables from test to test, so each test starts by emptying it.
"""
import ctypes
import difflib
import errno
import json
import os
import pwd
import re
import shutil
import socket
import stat
import subprocess
import tempfile
import threading
import time
import urllib.parse

import psycopg2
import pytest

from mountlib import sql, wait_for, wait_idle

LSN = re.compile(r"^[0-9A-F]+/[0-9A-F]+$")


# ---- helpers -----------------------------------------------------------------------------

def pid(stack):
    return stack.env["NEON_PROJECT_ID"]


def api_branches(stack):
    status, body = stack.api("GET", "/projects/%s/branches" % pid(stack))
    assert status == 200, body
    return {b["name"]: b for b in body["branches"]}


def api_snapshots(stack):
    status, body = stack.api("GET", "/projects/%s/snapshots" % pid(stack))
    assert status == 200, body
    return {s["name"]: s for s in body["snapshots"]}


def api_endpoints(stack):
    status, body = stack.api("GET", "/projects/%s/endpoints" % pid(stack))
    assert status == 200, body
    return body["endpoints"]


def restore_posts(stack):
    return [r for r in stack.requests()
            if r["method"] == "POST" and r["path"].endswith("/restore")]


def empty_database(uri):
    """Drops every user object, so a test starts from an empty schema."""
    sql(uri, """
        DO $$
        DECLARE r record;
        BEGIN
            FOR r IN SELECT extname FROM pg_extension WHERE extname <> 'plpgsql' LOOP
                EXECUTE format('DROP EXTENSION %I CASCADE', r.extname);
            END LOOP;
            FOR r IN SELECT nspname FROM pg_namespace
                     WHERE nspname !~ '^pg_' AND nspname NOT IN ('information_schema', 'public')
            LOOP
                EXECUTE format('DROP SCHEMA %I CASCADE', r.nspname);
            END LOOP;
        END $$""")
    sql(uri, "DROP SCHEMA public CASCADE")
    sql(uri, "CREATE SCHEMA public")


def write_restore(m, name):
    data = (name + "\n").encode()
    fd = os.open(m.p("active", "restore"), os.O_WRONLY | os.O_TRUNC)
    try:
        assert os.write(fd, data) == len(data)
    finally:
        os.close(fd)


def read_bytes(path):
    with open(path, "rb") as f:
        return f.read()


def write_file(path, data, flags=os.O_WRONLY | os.O_CREAT | os.O_TRUNC):
    """open/write/close; close(2) is where an attachment is stored, so its error counts."""
    fd = os.open(path, flags, 0o644)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except BaseException:
        os.close(fd)
        raise
    os.close(fd)


def expect_errno(errs, fn, *args):
    if isinstance(errs, int):
        errs = (errs,)
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno in errs, "expected %s, got %r" % (
        "/".join(errno.errorcode[x] for x in errs), e.value)
    return e.value


def split_schema(text):
    """(the leading comment lines, the rest): the rest is the schema proper."""
    lines = text.split("\n")
    n = 0
    while n < len(lines) and lines[n].startswith("--"):
        n += 1
    assert n >= 1, text[:200]
    return "\n".join(lines[:n]), "\n".join(lines[n:])


def body(text):
    return split_schema(text)[1]


def changed_lines(a_path, b_path):
    """The lines `diff -u` removes and adds going from @a_path to @b_path."""
    r = subprocess.run(["diff", "-u", a_path, b_path], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode in (0, 1), r.stderr
    removed, added = [], []
    for line in r.stdout.splitlines():
        if line.startswith(("---", "+++", "@@")):
            continue
        if line.startswith("-"):
            removed.append(line[1:])
        elif line.startswith("+"):
            added.append(line[1:])
    return removed, added, r.stdout


def meta_rows(stack, query, params=None):
    return sql(stack.env["NEONFS_META_URL"], query, params)


def uri_password(uri):
    return urllib.parse.unquote(urllib.parse.urlsplit(uri).password or "")


def columns(uri, table):
    return [r[0] for r in sql(uri, "SELECT attname FROM pg_attribute WHERE attrelid = %s::regclass"
                                   " AND attnum > 0 AND NOT attisdropped ORDER BY attnum", (table,))]


# ---- 1. the contacts app's evolution ----------------------------------------------------

CONTACTS_V1 = [("Ada Lovelace", "ada@example.com"), ("Grace Hopper", "grace@example.com"),
               ("Alan Turing", "alan@example.com")]


def test_contacts_evolution_diffs_and_restores(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE contacts(id uuid primary key default gen_random_uuid(),"
             " name text not null, email text not null unique)")
    for name, email in CONTACTS_V1:
        sql(uri, "INSERT INTO contacts (name, email) VALUES (%s, %s)", (name, email))
    os.mkdir(fs.p("snapshots", "v1"))

    sql(uri, "ALTER TABLE contacts ADD COLUMN role text, ADD COLUMN company text")
    sql(uri, "INSERT INTO contacts (name, email, role, company)"
             " VALUES ('Linus', 'linus@example.com', 'maintainer', 'Linux Foundation')")
    os.mkdir(fs.p("snapshots", "v2"))

    sql(uri, "ALTER TABLE contacts ADD COLUMN tags text[] default '{}'")
    sql(uri, "INSERT INTO contacts (name, email, tags)"
             " VALUES ('Barbara Liskov', 'barbara@example.com', '{vip,research}')")
    os.mkdir(fs.p("snapshots", "v3"))

    v1 = fs.read("snapshots", "v1", "schema")
    v2 = fs.read("snapshots", "v2", "schema")
    v3 = fs.read("snapshots", "v3", "schema")
    assert "CREATE TABLE public.contacts (" in v1
    assert "\temail text NOT NULL\n);" in v1
    assert "ALTER TABLE public.contacts ADD CONSTRAINT contacts_email_key UNIQUE (email);" in v1

    # v1 -> v2: the two new columns, and the comma SQL needs after the line before them.
    removed, added, text = changed_lines(fs.p("snapshots", "v1", "schema"),
                                         fs.p("snapshots", "v2", "schema"))
    assert removed == ["\temail text NOT NULL"], text
    assert added == ["\temail text NOT NULL,", "\trole text,", "\tcompany text"], text
    # v2 -> v3: tags only.
    removed, added, text = changed_lines(fs.p("snapshots", "v2", "schema"),
                                         fs.p("snapshots", "v3", "schema"))
    assert removed == ["\tcompany text"], text
    assert added == ["\tcompany text,", "\ttags text[] DEFAULT '{}'::text[]"], text
    # Applying exactly those line changes to v1 gives v3: nothing else moved.
    assert v3 == v1.replace("\temail text NOT NULL\n", "\temail text NOT NULL,\n\trole text,\n"
                            "\tcompany text,\n\ttags text[] DEFAULT '{}'::text[]\n")

    write_restore(fs, "v1")
    active_after_v1 = fs.read("active", "schema")
    assert body(active_after_v1) == body(v1)
    assert sql(uri, "SELECT name, email FROM contacts ORDER BY email") == sorted(
        CONTACTS_V1, key=lambda r: r[1])
    assert columns(uri, "contacts") == ["id", "name", "email"]

    write_restore(fs, "v3")
    active_after_v3 = fs.read("active", "schema")
    assert body(active_after_v3) == body(v3)
    assert sql(uri, "SELECT count(*) FROM contacts") == [(5,)]
    assert columns(uri, "contacts") == ["id", "name", "email", "role", "company", "tags"]
    assert sql(uri, "SELECT tags FROM contacts WHERE email = 'barbara@example.com'") == \
        [(["vip", "research"],)]
    assert sql(uri, "SELECT role FROM contacts WHERE email = 'linus@example.com'") == \
        [("maintainer",)]
    # The snapshots' own texts did not move.
    assert fs.read("snapshots", "v1", "schema") == v1

    # Byte for byte, header included (see test_schema_header_is_the_same_on_every_branch).
    assert active_after_v1 == v1, "\n".join(difflib.unified_diff(
        v1.splitlines(), active_after_v1.splitlines(), "snapshots/v1/schema",
        "active/schema after restoring v1", lineterm=""))
    assert active_after_v3 == v3


def test_schema_header_is_the_same_on_every_branch(fs, project):
    """The schema text must not carry what differs from branch to branch (the server's name
    for the database behind a proxy, a branch id); otherwise `diff snapshots/a/schema
    active/schema` differs after every restore."""
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE h (v int)")
    os.mkdir(fs.p("snapshots", "h1"))
    before = fs.read("active", "id").strip()
    snap = fs.read("snapshots", "h1", "schema")
    write_restore(fs, "h1")
    after = fs.read("active", "id").strip()
    active = fs.read("active", "schema")
    assert body(active) == body(snap)
    server_db = sql(uri, "SELECT current_database()")[0][0]
    for text in (snap, active):
        for branch_specific in (before, after, before.replace("-", "_"),
                                after.replace("-", "_")):
            assert branch_specific not in text
        if server_db != "neondb":
            assert server_db not in text
    assert active == snap


# ---- 2. determinism through the mount ---------------------------------------------------

ORDER_A = [
    "CREATE SCHEMA app",
    "CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy')",
    "CREATE SEQUENCE public.ticket_seq START 100 INCREMENT 5",
    "CREATE TABLE public.people (id serial PRIMARY KEY, name text NOT NULL, mood public.mood,"
    " ticket int DEFAULT nextval('public.ticket_seq'), updated_at timestamptz)",
    "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " person_id int REFERENCES public.people(id), body text)",
    "CREATE INDEX people_name_idx ON public.people (lower(name))",
    "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$",
    "CREATE TRIGGER people_touch BEFORE UPDATE ON public.people FOR EACH ROW"
    " EXECUTE FUNCTION public.touch()",
    "CREATE VIEW public.happy_people AS SELECT id, name FROM public.people WHERE mood = 'happy'",
    "CREATE TABLE app.settings (k text PRIMARY KEY, v jsonb DEFAULT '{}')",
    "CREATE VIEW app.note_count AS SELECT p.name, count(n.id) AS n"
    " FROM public.people p LEFT JOIN public.notes n ON n.person_id = p.id GROUP BY p.name",
    "INSERT INTO public.people (name, mood) VALUES ('a', 'ok'), ('b', 'happy')",
]

# The same objects, made the other way round and by detours.
ORDER_B = [
    "CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql AS"
    " $$BEGIN NEW.updated_at := now(); RETURN NEW; END$$",
    "CREATE SCHEMA app",
    "CREATE TABLE app.settings (k text PRIMARY KEY, v jsonb DEFAULT '{}')",
    "CREATE TYPE public.mood AS ENUM ('sad', 'happy')",
    "ALTER TYPE public.mood ADD VALUE 'ok' BEFORE 'happy'",
    "CREATE SEQUENCE public.ticket_seq START 100 INCREMENT 5",
    "CREATE TABLE public.unrelated (x int)",
    "CREATE TABLE public.people (id serial PRIMARY KEY, junk int, name text NOT NULL)",
    "ALTER TABLE public.people DROP COLUMN junk",
    "ALTER TABLE public.people ADD COLUMN mood public.mood",
    "ALTER TABLE public.people ADD COLUMN ticket int DEFAULT nextval('public.ticket_seq')",
    "ALTER TABLE public.people ADD COLUMN updated_at timestamptz",
    "CREATE TRIGGER people_touch BEFORE UPDATE ON public.people FOR EACH ROW"
    " EXECUTE FUNCTION public.touch()",
    "CREATE TABLE public.notes (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,"
    " person_id int, body text)",
    "CREATE VIEW public.happy_people AS SELECT id, name FROM public.people WHERE mood = 'happy'",
    "CREATE INDEX people_name_idx ON public.people (lower(name))",
    "ALTER TABLE public.notes ADD FOREIGN KEY (person_id) REFERENCES public.people(id)",
    "CREATE VIEW app.note_count AS SELECT p.name, count(n.id) AS n"
    " FROM public.people p LEFT JOIN public.notes n ON n.person_id = p.id GROUP BY p.name",
    "DROP TABLE public.unrelated",
    "INSERT INTO public.people (name, mood) VALUES ('z', 'sad')",
]


def test_schema_is_the_same_whatever_the_creation_order(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    os.mkdir(fs.p("snapshots", "empty"))
    for stmt in ORDER_A:
        sql(uri, stmt)
    os.mkdir(fs.p("snapshots", "s1"))

    write_restore(fs, "empty")
    assert body(fs.read("active", "schema")) == body(fs.read("snapshots", "empty", "schema"))
    assert "CREATE" not in body(fs.read("active", "schema"))
    for stmt in ORDER_B:
        sql(uri, stmt)
    os.mkdir(fs.p("snapshots", "s2"))

    s1 = fs.read("snapshots", "s1", "schema")
    s2 = fs.read("snapshots", "s2", "schema")
    for piece in ("CREATE SCHEMA app;", "CREATE TYPE public.mood AS ENUM (\n\t'sad',\n\t'ok',"
                  "\n\t'happy'\n);", "CREATE SEQUENCE public.ticket_seq",
                  "CREATE TABLE public.people (", "CREATE TABLE public.notes (",
                  "CREATE INDEX people_name_idx ON public.people", "FUNCTION public.touch()",
                  "CREATE TRIGGER people_touch BEFORE UPDATE ON public.people",
                  "CREATE VIEW public.happy_people AS", "CREATE VIEW app.note_count AS",
                  "CREATE TABLE app.settings (", "FOREIGN KEY (person_id) REFERENCES",
                  "ALTER SEQUENCE public.people_id_seq OWNED BY public.people.id;"):
        assert piece in s1, piece
    assert "unrelated" not in s2 and "junk" not in s2
    # `diff snapshots/s1/schema snapshots/s2/schema` is empty.
    assert s1 == s2, "\n".join(difflib.unified_diff(
        s1.splitlines(), s2.splitlines(), "s1 (order A)", "s2 (order B)", lineterm=""))
    assert subprocess.run(["diff", fs.p("snapshots", "s1", "schema"),
                           fs.p("snapshots", "s2", "schema")]).returncode == 0


# ---- 3. a snapshot made elsewhere --------------------------------------------------------

def mutations(stack):
    return [r for r in stack.requests() if r["method"] != "GET"]


def capture_schema(fs, *snapshot_path):
    """touch snapshots/<x>/schema: the explicit action that reads a snapshot's schema."""
    os.close(os.open(fs.p(*snapshot_path, "schema"), os.O_WRONLY | os.O_CREAT, 0o644))


def test_schema_of_a_snapshot_made_with_the_api(mount_factory, project):
    first = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    uri = first.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE orders (id serial PRIMARY KEY, total numeric NOT NULL)")
    sql(uri, "CREATE INDEX orders_total_idx ON orders (total)")
    expected = first.read("active", "schema")
    main = api_branches(project)["main"]
    status, resp = project.api("POST", "/projects/%s/branches/%s/snapshot" % (pid(project),
                                                                             main["id"]),
                               query={"name": "from-api"})
    assert status == 200, resp
    snap = resp["snapshot"]
    wait_idle(project)
    # Changed after the snapshot: the snapshot's schema must not show this.
    sql(uri, "ALTER TABLE orders ADD COLUMN note text")
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (snap["id"],)) == [(0,)]

    fs = mount_factory("cache_ttl=30", "api_timeout=5", "poll_min=600", "poll_max=600")
    project.clear_requests()
    # Reads are free: the schema of a snapshot made elsewhere is not there until asked for,
    # and nothing a reader does creates a branch or a compute.
    assert sorted(os.listdir(fs.p("snapshots", "from-api"))) == ["expires_at", "id", "meta.json"]
    with pytest.raises(FileNotFoundError):
        fs.read("snapshots", "from-api", "schema")
    meta = json.loads(fs.read("snapshots", "from-api", "meta.json"))
    assert meta["checkpoint"] is None
    assert mutations(project) == []

    capture_schema(fs, "snapshots", "from-api")
    text = fs.read("snapshots", "from-api", "schema")
    assert "note" not in text
    assert text == expected, "\n".join(difflib.unified_diff(
        expected.splitlines(), text.splitlines(), "active/schema at the snapshot",
        "snapshots/from-api/schema", lineterm=""))
    posts = restore_posts(project)
    assert len(posts) == 1, posts
    assert posts[0]["body"].get("finalize_restore") is False, posts[0]
    # The temporary branch and its compute are gone again.
    assert set(api_branches(project)) == {"main"}
    live = {b["id"] for b in api_branches(project).values()}
    assert all(e["branch_id"] in live for e in api_endpoints(project))
    assert sorted(os.listdir(fs.p("branches"))) == ["main"]
    assert sorted(os.listdir(fs.p("snapshots", "from-api"))) == ["expires_at", "id", "meta.json",
                                                                  "schema"]
    # The result is kept with a checkpoint record.
    rows = meta_rows(project, "SELECT name, lsn, schema FROM checkpoints"
                              " WHERE project_id = %s AND snapshot_id = %s",
                     (pid(project), snap["id"]))
    assert rows == [("from-api", snap.get("lsn"), text)]
    meta = json.loads(fs.read("snapshots", "from-api", "meta.json"))
    assert meta["checkpoint"]["has_schema"] is True
    assert meta["checkpoint"]["lsn"] == snap["lsn"]

    # A second read (a new mount, nothing cached) comes from the record: no restore.
    other = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    project.clear_requests()
    assert other.read("snapshots", "from-api", "schema") == text
    assert mutations(project) == []


def test_reading_a_whole_mount_of_snapshots_made_elsewhere_changes_nothing(mount_factory,
                                                                            project):
    """ls -lR and cp -r of a mount whose snapshots were all made elsewhere make no
    mutating API call, with a meta database and without one."""
    main = api_branches(project)["main"]
    for name in ("e1", "e2", "e3"):
        status, resp = project.api("POST", "/projects/%s/branches/%s/snapshot" %
                                   (pid(project), main["id"]), query={"name": name})
        assert status == 200, resp
        wait_idle(project)
    for opts in (("cache_ttl=0",), ("cache_ttl=0", "no_meta")):
        fs = mount_factory(*opts, "poll_min=600", "poll_max=600")
        project.clear_requests()
        out = subprocess.run(["ls", "-lR", fs.path], capture_output=True, text=True)
        assert out.returncode == 0, out.stderr
        dest = tempfile.mkdtemp(prefix="neonfs-cp-")
        try:
            out = subprocess.run(["cp", "-r", fs.p("snapshots"), fs.p("branches"),
                                  fs.p("active"), dest], capture_output=True, text=True)
            assert out.returncode == 0, out.stderr
            assert sorted(os.listdir(os.path.join(dest, "snapshots"))) == ["e1", "e2", "e3"]
        finally:
            shutil.rmtree(dest)
        assert mutations(project) == [], (opts, mutations(project))
        fs.unmount()


def test_schema_of_an_api_snapshot_when_its_compute_cannot_start(mount_factory, project):
    """A failed capture returns the table's errno and still deletes its temporary branch."""
    main = api_branches(project)["main"]
    status, resp = project.api("POST", "/projects/%s/branches/%s/snapshot" % (pid(project),
                                                                             main["id"]),
                               query={"name": "no-compute"})
    assert status == 200, resp
    wait_idle(project)
    fs = mount_factory("cache_ttl=0", "api_timeout=2", "poll_min=600", "poll_max=600")
    project.fault(method="POST", path=r"/endpoints$", status=500, count=-1)
    try:
        with pytest.raises(OSError) as e:
            capture_schema(fs, "snapshots", "no-compute")
        assert e.value.errno == errno.EIO, e.value
    finally:
        project.clear_faults()
    wait_idle(project)
    assert set(api_branches(project)) == {"main"}
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (resp["snapshot"]["id"],)) == [(0,)]
    assert "schema of a snapshot" in fs.output()
    assert "schema" not in os.listdir(fs.p("snapshots", "no-compute"))
    # Once computes start again, the schema is read and kept.
    capture_schema(fs, "snapshots", "no-compute")
    text = fs.read("snapshots", "no-compute", "schema")
    assert set(api_branches(project)) == {"main"}
    assert meta_rows(project, "SELECT schema FROM checkpoints WHERE snapshot_id = %s",
                     (resp["snapshot"]["id"],)) == [(text,)]


def test_a_temporary_branch_left_by_a_killed_neonfs_is_deleted_at_mount(mount_factory,
                                                                         project):
    """A capture interrupted by kill -9 leaves its temporary branch; the next mount deletes
    it (it is the mount's own, by its name) and leaves every other branch alone."""
    main = api_branches(project)["main"]
    status, resp = project.api("POST", "/projects/%s/branches/%s/snapshot" % (pid(project),
                                                                             main["id"]),
                               query={"name": "s"})
    assert status == 200, resp
    wait_idle(project)
    # The name a capture by a process of this host that is gone now would have given it.
    gone = subprocess.Popen(["true"])
    gone.wait()
    left = "neonfs-schema-%s-1-%d@%s" % (resp["snapshot"]["id"], gone.pid, socket.gethostname())
    status, out = project.api("POST", "/projects/%s/snapshots/%s/restore" %
                              (pid(project), resp["snapshot"]["id"]),
                              body={"target_branch_id": main["id"], "finalize_restore": False,
                                    "name": left})
    assert status == 200, out
    wait_idle(project)
    assert left in api_branches(project)
    fs = mount_factory("poll_min=600", "poll_max=600")
    wait_idle(project)
    assert set(api_branches(project)) == {"main"}
    assert "temporary branch" in fs.output()


# ---- 4. meta.json ------------------------------------------------------------------------

def test_meta_json_of_snapshots_and_branches(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    password = uri_password(uri)
    meta_password = uri_password(project.env["NEONFS_META_URL"])
    assert password and meta_password
    empty_database(uri)
    sql(uri, "CREATE TABLE a (v int)")
    sql(uri, "CREATE TABLE b (v int)")
    sql(uri, "CREATE SCHEMA s")
    sql(uri, "CREATE TABLE s.c (v int)")
    sql(uri, "CREATE VIEW vw AS SELECT * FROM a")
    sql(uri, "CREATE MATERIALIZED VIEW mv AS SELECT * FROM b")
    sql(uri, "CREATE SEQUENCE sq")
    os.mkdir(fs.p("snapshots", "m1"))
    snap = api_snapshots(project)["m1"]

    texts = {}
    meta = json.loads(fs.read("snapshots", "m1", "meta.json"))
    texts["snapshots/m1/meta.json"] = json.dumps(meta)
    for key in ("id", "name", "created_at", "source_branch_id", "lsn"):
        assert meta[key] == snap[key], key
    cp = meta["checkpoint"]
    assert cp["name"] == "m1"
    assert cp["lsn"] == snap["lsn"] and LSN.match(cp["lsn"])
    assert cp["has_schema"] is True
    assert cp["attachments"] == []
    assert cp["created_at"].startswith(snap["created_at"][:19])
    # The snapshot was asked for at the LSN the schema was read at.
    snapshot_posts = [r for r in project.requests()
                      if r["method"] == "POST" and r["path"].endswith("/snapshot")]
    assert [r["query"].get("lsn") for r in snapshot_posts] == [cp["lsn"]]

    main = api_branches(project)["main"]
    for where in (("active",), ("branches", "main")):
        m = json.loads(fs.read(*where, "meta.json"))
        texts["/".join(where) + "/meta.json"] = json.dumps(m)
        assert m["id"] == main["id"] and m["name"] == "main"
        live = m["live"]
        assert "error" not in live, live
        assert live["table_count"] == 3, live
        assert live["database"] == "neondb"
        assert live["server_version"] and live["database_size"] > 0
        assert LSN.match(live["current_lsn"])

    # No password, neither the role's nor the meta database's, in any meta.json or the log.
    for name, text in texts.items():
        assert password not in text, name
        assert meta_password not in text, name
        assert "password" not in text.lower(), name
    assert password not in fs.output() and meta_password not in fs.output()


def test_table_count_matches_the_schema(fs, project):
    """A temporary table of another session is not one of the database's tables: the schema
    leaves it out, and live.table_count must agree."""
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE only_one (v int)")
    conn = psycopg2.connect(uri, connect_timeout=10)
    try:
        conn.autocommit = True
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE scratch (v int)")
        schema = fs.read("active", "schema")
        live = json.loads(fs.read("active", "meta.json"))["live"]
    finally:
        conn.close()
    assert "scratch" not in schema
    assert schema.count("CREATE TABLE ") == 1
    assert live["table_count"] == 1, live


def test_meta_json_follows_changes_made_through_the_mount(fs, project):
    """A change made through the mount is visible at once, in meta.json too."""
    os.mkdir(fs.p("snapshots", "j1"))
    assert json.loads(fs.read("snapshots", "j1", "meta.json"))["checkpoint"]["attachments"] == []
    write_file(fs.p("snapshots", "j1", "notes.txt"), b"hello\n")
    meta = json.loads(fs.read("snapshots", "j1", "meta.json"))
    assert meta["checkpoint"]["attachments"] == [{"name": "notes.txt", "size": 6}]
    os.rename(fs.p("snapshots", "j1"), fs.p("snapshots", "j2"))
    meta = json.loads(fs.read("snapshots", "j2", "meta.json"))
    assert meta["name"] == "j2"
    assert meta["checkpoint"]["name"] == "j2"


def test_mv_and_rmdir_of_a_snapshot_carry_its_record_and_files(fs, project):
    os.mkdir(fs.p("snapshots", "r1"))
    sid = fs.read("snapshots", "r1", "id").strip()
    write_file(fs.p("snapshots", "r1", "state.json"), b"{}")
    os.rename(fs.p("snapshots", "r1"), fs.p("snapshots", "r2"))
    assert meta_rows(project, "SELECT name FROM checkpoints WHERE project_id = %s"
                              " AND snapshot_id = %s", (pid(project), sid)) == [("r2",)]
    assert read_bytes(fs.p("snapshots", "r2", "state.json")) == b"{}"
    os.rmdir(fs.p("snapshots", "r2"))
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (sid,)) == [(0,)]
    assert meta_rows(project, "SELECT count(*) FROM attachments WHERE snapshot_id = %s",
                     (sid,)) == [(0,)]


# ---- 5. attachments ----------------------------------------------------------------------

RUN_STATE = {
    "$schemaVersion": "1.0",
    "currentTurn": 3,
    "currentAgent": {"name": "Contacts assistant"},
    "originalInput": "add a role column to contacts",
    "modelResponses": [{"usage": {"requests": 1, "inputTokens": 812, "outputTokens": 96},
                        "output": [{"type": "function_call", "name": "run_sql",
                                    "arguments": "{\"sql\": \"ALTER TABLE contacts ...\"}"}]}],
    "lastProcessedResponse": None,
    "generatedItems": [{"type": "tool_call_output_item", "output": "ALTER TABLE"}],
    "context": {"usage": {"requests": 3}, "approvals": {}, "context": {"checkpoint": "v1"}},
    "trace": {"id": "trace_0123456789abcdef", "workflow_name": "Agent workflow"},
}


def test_attachments_write_cp_list_read_rm(fs, project, tmp_path):
    os.mkdir(fs.p("snapshots", "v1"))
    snap_dir = fs.p("snapshots", "v1")
    state = json.dumps(RUN_STATE, indent=2).encode()
    blob = bytes(range(256)) * 4 + b"\0" * 1000 + os.urandom(300 * 1024) + b"\0tail\0"
    src = tmp_path / "model.bin"
    src.write_bytes(blob)

    before = time.time()
    write_file(os.path.join(snap_dir, "run_state.json"), state)
    r = subprocess.run(["cp", str(src), snap_dir + "/"], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stderr
    after = time.time()

    names = os.listdir(snap_dir)
    assert {"id", "meta.json", "schema", "run_state.json", "model.bin"} <= set(names)
    for name, data in (("run_state.json", state), ("model.bin", blob)):
        st = os.stat(os.path.join(snap_dir, name))
        assert stat.S_ISREG(st.st_mode), name
        assert st.st_size == len(data), name
        assert before - 5 <= st.st_mtime <= after + 5, (name, st.st_mtime, before, after)
        assert read_bytes(os.path.join(snap_dir, name)) == data, name
    assert json.loads(read_bytes(os.path.join(snap_dir, "run_state.json"))) == RUN_STATE
    assert subprocess.run(["cmp", str(src), os.path.join(snap_dir, "model.bin")]).returncode == 0
    snap_id = fs.read("snapshots", "v1", "id").strip()
    rows = meta_rows(project, "SELECT name, size, data FROM attachments WHERE project_id = %s"
                              " AND snapshot_id = %s ORDER BY name", (pid(project), snap_id))
    assert [(n, sz, bytes(d)) for n, sz, d in rows] == [("model.bin", len(blob), blob),
                                                        ("run_state.json", len(state), state)]

    # Overwrite in place, and append.
    write_file(os.path.join(snap_dir, "run_state.json"), b"{}", os.O_WRONLY)
    assert read_bytes(os.path.join(snap_dir, "run_state.json")) == b"{}" + state[2:]
    write_file(os.path.join(snap_dir, "run_state.json"), state)
    assert read_bytes(os.path.join(snap_dir, "run_state.json")) == state
    with open(os.path.join(snap_dir, "log.txt"), "w") as f:
        f.write("step 1\n")
    with open(os.path.join(snap_dir, "log.txt"), "a") as f:
        f.write("step 2\n")
    assert fs.read("snapshots", "v1", "log.txt") == "step 1\nstep 2\n"
    assert os.stat(os.path.join(snap_dir, "log.txt")).st_size == 14

    # touch makes an empty one; `: > f` empties one; names are any UTF-8.
    odd = "notes \u2013 caf\u00e9 (1).md"
    r = subprocess.run(["touch", os.path.join(snap_dir, odd)], capture_output=True, text=True,
                       timeout=30)
    assert r.returncode == 0, r.stderr
    assert os.stat(os.path.join(snap_dir, odd)).st_size == 0
    write_file(os.path.join(snap_dir, odd), b"# caf\xc3\xa9\n")
    write_file(os.path.join(snap_dir, "log.txt"), b"", os.O_WRONLY | os.O_TRUNC)
    assert os.stat(os.path.join(snap_dir, "log.txt")).st_size == 0
    assert read_bytes(os.path.join(snap_dir, "log.txt")) == b""
    assert odd in os.listdir(snap_dir)
    assert read_bytes(os.path.join(snap_dir, odd)) == b"# caf\xc3\xa9\n"
    os.unlink(os.path.join(snap_dir, odd))

    # rm
    os.unlink(os.path.join(snap_dir, "log.txt"))
    assert "log.txt" not in os.listdir(snap_dir)
    expect_errno(errno.ENOENT, os.stat, os.path.join(snap_dir, "log.txt"))
    expect_errno(errno.ENOENT, os.unlink, os.path.join(snap_dir, "log.txt"))
    r = subprocess.run(["rm", os.path.join(snap_dir, "model.bin")], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stderr
    assert set(os.listdir(snap_dir)) == {"expires_at", "id", "meta.json", "schema",
                                     "run_state.json"}
    assert meta_rows(project, "SELECT name FROM attachments WHERE project_id = %s"
                              " AND snapshot_id = %s", (pid(project), snap_id)) == \
        [("run_state.json",)]


def test_attachment_mv_renames_it(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    d = fs.p("snapshots", "v1")
    blob = b"\0weights\0" * 1000
    write_file(os.path.join(d, "model.bin"), blob)
    assert os.stat(os.path.join(d, "model.bin")).st_size == len(blob)
    r = subprocess.run(["mv", os.path.join(d, "model.bin"), os.path.join(d, "weights.bin")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    names = set(os.listdir(d))
    assert "weights.bin" in names and "model.bin" not in names
    # At once, under the new name: what `mv a b && cat b` does.
    assert os.stat(os.path.join(d, "weights.bin")).st_size == len(blob)
    assert read_bytes(os.path.join(d, "weights.bin")) == blob
    expect_errno(errno.ENOENT, os.stat, os.path.join(d, "model.bin"))
    # Onto an existing one: replaced, as rename(2) does.
    write_file(os.path.join(d, "tmp.json"), b'{"v": 2}')
    write_file(os.path.join(d, "state.json"), b'{"v": 1}')
    assert read_bytes(os.path.join(d, "state.json")) == b'{"v": 1}'
    os.rename(os.path.join(d, "tmp.json"), os.path.join(d, "state.json"))
    assert read_bytes(os.path.join(d, "state.json")) == b'{"v": 2}'
    assert sorted(n for n in os.listdir(d) if n.endswith(".json")) == ["meta.json", "state.json"]


def test_attachments_only_where_they_belong(fs, project):
    os.mkdir(fs.p("snapshots", "v1"))
    d = fs.p("snapshots", "v1")
    write_file(os.path.join(d, "notes.txt"), b"keep me")
    meta_before = fs.read("snapshots", "v1", "meta.json")
    schema_before = fs.read("snapshots", "v1", "schema")
    expect_errno(errno.EACCES, write_file, fs.p("active", "notes.txt"), b"x")
    expect_errno(errno.EACCES, write_file, fs.p("branches", "main", "notes.txt"), b"x")
    expect_errno(errno.EACCES, write_file, os.path.join(d, "meta.json"), b"{}")
    expect_errno(errno.EACCES, write_file, os.path.join(d, "meta.json"), b"{}",
                 os.O_WRONLY | os.O_CREAT)
    expect_errno(errno.EACCES, write_file, os.path.join(d, "schema"), b"")
    expect_errno(errno.EACCES, write_file, os.path.join(d, "id"), b"snap-x\n")
    expect_errno(errno.EACCES, write_file, os.path.join(d, "connection_uri"), b"x")
    expect_errno((errno.EACCES, errno.EPERM, errno.EROFS), os.rename,
                 os.path.join(d, "notes.txt"), os.path.join(d, "meta.json"))
    expect_errno((errno.EACCES, errno.EPERM, errno.EROFS), os.rename,
                 os.path.join(d, "schema"), os.path.join(d, "schema.sql"))
    expect_errno((errno.EACCES, errno.EPERM, errno.EROFS), os.unlink, os.path.join(d, "schema"))
    assert "notes.txt" not in os.listdir(fs.p("active"))
    assert "notes.txt" not in os.listdir(fs.p("branches", "main"))
    assert fs.read("snapshots", "v1", "meta.json") == meta_before
    assert fs.read("snapshots", "v1", "schema") == schema_before
    assert read_bytes(os.path.join(d, "notes.txt")) == b"keep me"
    assert sorted(os.listdir(d)) == ["expires_at", "id", "meta.json", "notes.txt",
                                  "schema"]


def test_attachments_survive_restore_and_remount(fs, project, mount_factory):
    os.mkdir(fs.p("snapshots", "v1"))
    d = fs.p("snapshots", "v1")
    state = json.dumps(RUN_STATE).encode()
    blob = os.urandom(70000) + b"\0" * 70000
    write_file(os.path.join(d, "run_state.json"), state)
    write_file(os.path.join(d, "blob.bin"), blob)
    write_restore(fs, "v1")
    assert read_bytes(os.path.join(d, "run_state.json")) == state
    assert read_bytes(os.path.join(d, "blob.bin")) == blob
    assert fs.unmount() == 0
    again = mount_factory("poll_min=600", "poll_max=600")
    d = again.p("snapshots", "v1")
    assert {"run_state.json", "blob.bin"} <= set(os.listdir(d))
    assert os.stat(os.path.join(d, "blob.bin")).st_size == len(blob)
    assert read_bytes(os.path.join(d, "run_state.json")) == state
    assert read_bytes(os.path.join(d, "blob.bin")) == blob
    meta = json.loads(again.read("snapshots", "v1", "meta.json"))
    assert meta["checkpoint"]["attachments"] == [{"name": "blob.bin", "size": len(blob)},
                                                 {"name": "run_state.json", "size": len(state)}]


def test_attachment_size_limit_is_efbig(mount_factory, project):
    fs = mount_factory("attachment_max=1000", "poll_min=600", "poll_max=600")
    os.mkdir(fs.p("snapshots", "lim"))
    path = fs.p("snapshots", "lim", "a.bin")
    write_file(path, b"\0" * 1000)
    assert os.stat(path).st_size == 1000
    expect_errno(errno.EFBIG, write_file, fs.p("snapshots", "lim", "b.bin"), b"x" * 1001)
    expect_errno(errno.EFBIG, write_file, path, b"y", os.O_WRONLY | os.O_APPEND)
    expect_errno(errno.EFBIG, os.truncate, path, 1001)
    assert read_bytes(path) == b"\0" * 1000
    assert meta_rows(project, "SELECT size FROM attachments WHERE project_id = %s"
                              " AND snapshot_id = %s AND name = 'a.bin'",
                     (pid(project), fs.read("snapshots", "lim", "id").strip())) == [(1000,)]
    assert "attachment_max" in fs.output()


def test_rename_noreplace_keeps_an_existing_attachment(fs, project):
    """renameat2(RENAME_NOREPLACE), as `mv -n` and careful savers use it, must not overwrite."""
    os.mkdir(fs.p("snapshots", "nr"))
    a, b = fs.p("snapshots", "nr", "a.txt"), fs.p("snapshots", "nr", "b.txt")
    write_file(a, b"first")
    write_file(b, b"second")
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, rename_noreplace = -100, 1
    rc = libc.renameat2(at_fdcwd, a.encode(), at_fdcwd, b.encode(), rename_noreplace)
    err = ctypes.get_errno()
    assert read_bytes(b) == b"second"
    assert rc == -1 and err == errno.EEXIST, (rc, errno.errorcode.get(err))
    assert read_bytes(a) == b"first"


# ---- 6. without a meta database ----------------------------------------------------------

def test_without_a_meta_database(mount_factory, project):
    fs = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600",
                       env_drop=("NEONFS_META_URL",))
    out = fs.output()
    assert "no meta database" in out and "attachments" in out and "audit" in out, out
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE nm (v int)")
    os.mkdir(fs.p("snapshots", "nm1"))
    assert os.listdir(fs.p("snapshots")) == ["nm1"]
    assert {"id", "meta.json", "schema"} <= set(os.listdir(fs.p("snapshots", "nm1")))
    assert json.loads(fs.read("snapshots", "nm1", "meta.json"))["checkpoint"] is None
    assert "CREATE TABLE public.nm" in fs.read("snapshots", "nm1", "schema")
    assert set(api_branches(project)) == {"main"}
    expect_errno(errno.ENOTSUP, write_file, fs.p("snapshots", "nm1", "state.json"), b"{}")
    assert "state.json" not in os.listdir(fs.p("snapshots", "nm1"))
    sql(uri, "DROP TABLE nm")
    write_restore(fs, "nm1")
    assert sql(uri, "SELECT count(*) FROM nm") == [(0,)]
    assert json.loads(fs.read("active", "restore"))["state"] == "finished"


def test_meta_database_unreachable_or_refused_at_mount_time(mount_factory, project):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    dead = "postgresql://nobody:secret-pw@127.0.0.1:%d/neonfs_meta?connect_timeout=2" % port
    # A password is refused in -o meta_url=, so the dead URL comes through the environment.
    mounts = (mount_factory("poll_min=600", "poll_max=600", env_extra={"NEONFS_META_URL": dead}),
              mount_factory("poll_min=600", "poll_max=600", "no_meta"))
    for i, m in enumerate(mounts):
        out = m.output()
        assert "meta database" in out and "attachments" in out, out
        assert "secret-pw" not in out
        name = "u%d" % i
        os.mkdir(m.p("snapshots", name))
        expect_errno(errno.ENOTSUP, write_file, m.p("snapshots", name, "x.json"), b"{}")


def test_meta_database_going_away_during_use(mount_factory, project):
    meta_url = project.env["NEONFS_META_URL"]
    parts = urllib.parse.urlsplit(meta_url)
    dbname = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    fs = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE md (v int)")
    os.mkdir(fs.p("snapshots", "before"))
    write_file(fs.p("snapshots", "before", "ok.txt"), b"kept")
    pending = os.open(fs.p("snapshots", "before", "pending.txt"), os.O_WRONLY | os.O_CREAT, 0o644)
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        os.write(pending, b"written while the meta database is away")
        with admin.cursor() as cur:
            # The database's owner may close it and end its sessions.
            cur.execute("ALTER DATABASE %s ALLOW_CONNECTIONS false" % dbname)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
        # close(2) reports that the attachment was not stored, promptly.
        t0 = time.monotonic()
        with pytest.raises(OSError) as e:
            os.close(pending)
        pending = None
        assert e.value.errno in (errno.EIO, errno.ETIMEDOUT, errno.ECONNREFUSED), e.value
        expect_errno((errno.EIO, errno.ETIMEDOUT, errno.ECONNREFUSED), write_file,
                     fs.p("snapshots", "before", "new.txt"), b"x")
        assert time.monotonic() - t0 < 20
        # Snapshots still work; the missing record is logged.
        os.mkdir(fs.p("snapshots", "during"))
        assert "during" in api_snapshots(project)
        assert "during" in os.listdir(fs.p("snapshots"))
        assert "checkpoint record not written" in fs.output()
        # So do restores; the audit log that could not be written is logged.
        sql(uri, "DROP TABLE md")
        write_restore(fs, "before")
        assert sql(uri, "SELECT count(*) FROM md") == [(0,)]
        assert "audit log not written" in fs.output()
    finally:
        if pending is not None:
            try:
                os.close(pending)
            except OSError:
                pass
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE %s ALLOW_CONNECTIONS true" % dbname)
        admin.close()

    # Back: attachments are stored again, and the record missing from the outage is made
    # when the schema is first read.
    write_file(fs.p("snapshots", "before", "after.txt"), b"after")
    assert read_bytes(fs.p("snapshots", "before", "after.txt")) == b"after"
    assert read_bytes(fs.p("snapshots", "before", "ok.txt")) == b"kept"
    assert "CREATE TABLE public.md" in fs.read("snapshots", "during", "schema")
    meta = json.loads(fs.read("snapshots", "during", "meta.json"))
    assert meta["checkpoint"] and meta["checkpoint"]["has_schema"] is True
    # The temporary branch that read it is gone; the restore's replaced branch is kept.
    assert set(api_branches(project)) == {"main", "main (old)"}


def test_a_stuck_meta_database_is_bounded_by_pg_timeout(mount_factory, project):
    """-o pg_timeout bounds libpq connects and statements; a meta database that does not
    answer (here: a lock held on its table) must give an errno in about that time."""
    fs = mount_factory("pg_timeout=2", "poll_min=600", "poll_max=600")
    os.mkdir(fs.p("snapshots", "stuck"))
    path = fs.p("snapshots", "stuck", "a.txt")
    write_file(path, b"1")
    result = {}
    locker = psycopg2.connect(project.env["NEONFS_META_URL"], connect_timeout=10)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE attachments IN EXCLUSIVE MODE")
        fd = os.open(path, os.O_WRONLY)
        os.write(fd, b"2")
        t0 = time.monotonic()

        def closer():
            try:
                os.close(fd)
                result["rc"] = 0
            except OSError as e:
                result["errno"] = e.errno
            result["seconds"] = time.monotonic() - t0
        t = threading.Thread(target=closer)
        t.start()
        t.join(8)
    finally:
        locker.rollback()
        locker.close()
    t.join(60)
    assert result.get("seconds", 99) < 8, result
    assert result.get("errno") in (errno.ETIMEDOUT, errno.EIO), result


# ---- 7. the restore audit log ------------------------------------------------------------

def test_restores_are_in_the_audit_log(fs, project):
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE au (v int)")
    os.mkdir(fs.p("snapshots", "a1"))
    snap = api_snapshots(project)["a1"]
    before = fs.read("active", "id").strip()
    t0 = meta_rows(project, "SELECT now()")[0][0]
    write_restore(fs, "a1")
    after = fs.read("active", "id").strip()
    assert after != before

    cols = ("snapshot_id", "snapshot_name", "branch_before", "branch_after", "mount_user",
            "mount_host", "outcome", "error")
    rows = meta_rows(project, "SELECT %s, started_at, ended_at FROM restores"
                              " WHERE project_id = %%s AND started_at >= %%s ORDER BY id"
                     % ", ".join(cols), (pid(project), t0))
    assert len(rows) == 1, rows
    row = dict(zip(cols + ("started_at", "ended_at"), rows[0]))
    assert row["snapshot_id"] == snap["id"] and row["snapshot_name"] == "a1"
    assert row["branch_before"] == before and row["branch_after"] == after
    assert row["outcome"] == "finished" and row["error"] is None
    assert row["mount_user"] == pwd.getpwuid(os.getuid()).pw_name
    assert row["mount_host"] == socket.gethostname()
    assert row["started_at"] <= row["ended_at"]

    # A failed restore is logged with its reason.
    project.fault(method="POST", path=r"/restore$", operation="error", count=1)
    expect_errno(errno.EIO, write_restore, fs, "a1")
    rows = meta_rows(project, "SELECT outcome, error, ended_at, branch_before FROM restores"
                              " WHERE project_id = %s AND started_at >= %s ORDER BY id",
                     (pid(project), t0))
    assert len(rows) == 2, rows
    outcome, error, ended, branch_before = rows[1]
    assert outcome == "failed" and error and ended is not None
    assert branch_before == after


def test_a_listing_that_cannot_be_read_completely_fails_and_is_not_kept(mount_factory,
                                                                        project):
    """With the meta database away, a snapshot's directory cannot be listed completely: it
    fails rather than show the snapshot without its attachments (cp -r would drop them),
    and the failure is not kept: once the database is back, the files are there."""
    meta_url = project.env["NEONFS_META_URL"]
    parts = urllib.parse.urlsplit(meta_url)
    dbname = parts.path.lstrip("/")
    admin_url = urllib.parse.urlunsplit(parts._replace(path="/postgres"))
    fs = mount_factory("cache_ttl=0", "attr_timeout=0", "poll_min=600", "poll_max=600")
    os.mkdir(fs.p("snapshots", "v1"))
    write_file(fs.p("snapshots", "v1", "state.json"), b"{}")
    admin = psycopg2.connect(admin_url, connect_timeout=10)
    admin.autocommit = True
    try:
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE %s ALLOW_CONNECTIONS false" % dbname)
            cur.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = %s AND pid <> pg_backend_pid()", (dbname,))
        with pytest.raises(OSError) as e:
            os.listdir(fs.p("snapshots", "v1"))
        err = e.value.errno
        assert err == errno.EIO, e.value
        with pytest.raises(OSError) as e:
            fs.read("snapshots", "v1", "meta.json")
        assert e.value.errno == err
        assert "cannot be" in fs.output()
    finally:
        with admin.cursor() as cur:
            cur.execute("ALTER DATABASE %s ALLOW_CONNECTIONS true" % dbname)
        admin.close()
    assert sorted(os.listdir(fs.p("snapshots", "v1"))) == ["expires_at", "id", "meta.json",
                                                          "schema", "state.json"]
    assert json.loads(fs.read("snapshots", "v1", "meta.json"))["checkpoint"]["attachments"] == [
        {"name": "state.json", "size": 2}]


RENAME_NOREPLACE = 1


def rename_noreplace(src, dst):
    libc = ctypes.CDLL(None, use_errno=True)
    AT_FDCWD = -100
    if libc.renameat2(AT_FDCWD, src.encode(), AT_FDCWD, dst.encode(), RENAME_NOREPLACE) != 0:
        e = ctypes.get_errno()
        raise OSError(e, os.strerror(e))


def test_another_mounts_attachment_is_never_replaced_by_a_create(mount_factory, project):
    """Two mounts on one meta database. The second's list of the snapshot's files is from
    before the first made x.txt, so its kernel and its cache both say x.txt is not there:
    only the database can refuse an O_EXCL create, keep a plain create from emptying the
    file, and refuse mv -n onto it."""
    a = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    os.mkdir(a.p("snapshots", "v1"))
    b = mount_factory("cache_ttl=30", "poll_min=600", "poll_max=600")
    assert "x.txt" not in os.listdir(b.p("snapshots", "v1"))
    write_file(a.p("snapshots", "v1", "x.txt"), b"from a")
    with pytest.raises(OSError) as e:
        os.close(os.open(b.p("snapshots", "v1", "x.txt"), os.O_WRONLY | os.O_CREAT | os.O_EXCL,
                         0o644))
    assert e.value.errno == errno.EEXIST
    # A plain create of a file another mount made opens it; it does not empty it.
    os.close(os.open(b.p("snapshots", "v1", "x.txt"), os.O_WRONLY | os.O_CREAT, 0o644))
    assert read_bytes(a.p("snapshots", "v1", "x.txt")) == b"from a"
    rows = meta_rows(project, "SELECT data FROM attachments WHERE name = 'x.txt'")
    assert [bytes(r[0]) for r in rows] == [b"from a"]
    write_file(b.p("snapshots", "v1", "y.txt"), b"from b")
    with pytest.raises(OSError) as e:
        rename_noreplace(b.p("snapshots", "v1", "y.txt"), b.p("snapshots", "v1", "z.txt"))
        rename_noreplace(b.p("snapshots", "v1", "z.txt"), b.p("snapshots", "v1", "x.txt"))
    assert e.value.errno == errno.EEXIST
    assert read_bytes(a.p("snapshots", "v1", "x.txt")) == b"from a"
    # A plain mv replaces, as rename(2) does.
    os.rename(b.p("snapshots", "v1", "z.txt"), b.p("snapshots", "v1", "x.txt"))
    assert read_bytes(b.p("snapshots", "v1", "x.txt")) == b"from b"
    assert sorted(n for n in os.listdir(b.p("snapshots", "v1")) if n.endswith(".txt")) == [
        "x.txt"]


def test_mkdir_whose_answer_was_lost_keeps_its_schema(mount_factory, project):
    """Neon made the snapshot but the answer never came back: the snapshot is the one this
    mkdir asked for, so it keeps the schema captured for it, and mkdir says it exists."""
    fs = mount_factory("cache_ttl=0", "api_timeout=3", "poll_min=600", "poll_max=600")
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE lost (id int)")
    project.fault(method="POST", path=r"/snapshot$", drop="after", count=1)
    os.mkdir(fs.p("snapshots", "lost-answer"))
    wait_idle(project)
    assert os.listdir(fs.p("snapshots")) == ["lost-answer"]
    assert "CREATE TABLE public.lost" in fs.read("snapshots", "lost-answer", "schema")
    meta = json.loads(fs.read("snapshots", "lost-answer", "meta.json"))
    assert meta["checkpoint"]["has_schema"] is True and meta["checkpoint"]["lsn"]


def test_mkdir_whose_operations_outlast_op_timeout_keeps_its_schema(mount_factory, project):
    """mkdir gives up waiting (ETIMEDOUT) but Neon goes on: the snapshot shows, with the
    schema captured for it, once Neon is done."""
    fs = mount_factory("cache_ttl=0", "op_timeout=1", "poll_min=600", "poll_max=600")
    uri = fs.read("active", "connection_uri").strip()
    empty_database(uri)
    sql(uri, "CREATE TABLE slow (id int)")
    project.config(operation_ms=3000)
    try:
        with pytest.raises(OSError) as e:
            os.mkdir(fs.p("snapshots", "slow"))
        assert e.value.errno == errno.ETIMEDOUT
        wait_idle(project)
    finally:
        project.config(operation_ms=300)
    assert os.listdir(fs.p("snapshots")) == ["slow"]
    assert "CREATE TABLE public.slow" in fs.read("snapshots", "slow", "schema")


def test_a_record_an_rmdir_could_not_delete_goes_at_the_next_mount(mount_factory, project):
    """rmdir deleted the snapshot, but the meta database did not answer for its record:
    the next mount finds a record of a snapshot Neon no longer has and deletes it, with
    its attachments."""
    fs = mount_factory("pg_timeout=2", "poll_min=600", "poll_max=600")
    os.mkdir(fs.p("snapshots", "gone"))
    write_file(fs.p("snapshots", "gone", "state.json"), b"{}")
    sid = fs.read("snapshots", "gone", "id").strip()
    locker = psycopg2.connect(project.env["NEONFS_META_URL"], connect_timeout=10)
    try:
        with locker.cursor() as cur:
            cur.execute("LOCK TABLE checkpoints IN EXCLUSIVE MODE")
        os.rmdir(fs.p("snapshots", "gone"))
    finally:
        locker.rollback()
        locker.close()
    assert "checkpoint record kept" in fs.output()
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (sid,)) == [(1,)]
    fs.unmount()
    again = mount_factory("poll_min=600", "poll_max=600")
    assert os.listdir(again.p("snapshots")) == []
    assert meta_rows(project, "SELECT count(*) FROM checkpoints WHERE snapshot_id = %s",
                     (sid,)) == [(0,)]
    assert meta_rows(project, "SELECT count(*) FROM attachments WHERE snapshot_id = %s",
                     (sid,)) == [(0,)]
    assert "which Neon no longer has, were deleted" in again.output()


def compute_sessions(project):
    """neonfs's connections to computes (not to the meta database)."""
    return meta_rows(project, "SELECT count(*) FROM pg_stat_activity WHERE application_name ="
                              " 'neonfs' AND datname <> current_database()")[0][0]


def test_idle_connections_to_a_compute_close_so_it_can_suspend(mount_factory, project):
    fs = mount_factory("pg_idle=1", "watch=always", "poll_min=0.2", "poll_max=0.5")
    assert compute_sessions(project) == 0
    fs.read("active", "schema")
    assert compute_sessions(project) >= 1
    wait_for(lambda: compute_sessions(project) == 0, 10, "the idle connection to close")
    # A deleted branch's connections close with it: no descriptor is left behind.
    fs2 = mount_factory("pg_idle=600", "poll_min=600", "poll_max=600")
    os.mkdir(fs2.p("branches", "b1"))
    port = urllib.parse.urlsplit(fs2.read("branches", "b1", "connection_uri").strip()).port
    fs2.read("branches", "b1", "schema")
    assert sockets_to(fs2.proc.pid, port) == 1
    os.rmdir(fs2.p("branches", "b1"))
    assert sockets_to(fs2.proc.pid, port) == 0


def sockets_to(pid, port):
    """How many of @pid's descriptors are TCP connections to 127.0.0.1:@port."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            target = os.readlink("/proc/%d/fd/%s" % (pid, fd))
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    n = 0
    with open("/proc/%d/net/tcp" % pid) as f:
        next(f)
        for line in f:
            cols = line.split()
            remote, inode = cols[2], cols[9]
            if int(remote.split(":")[1], 16) == port and inode in inodes:
                n += 1
    return n
