"""The schema text and the meta store, against a throwaway PostgreSQL cluster.

Run with: /usr/bin/python3 -m pytest tests/integration/test_schema_render.py
The tools come from the build directory in NEONFS_BUILD_DIR (default: build).
"""
import difflib
import errno
import os
import re
import select
import shutil
import signal
import socket
import subprocess
import tempfile
import time

import psycopg2
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD = os.path.join(REPO, os.environ.get("NEONFS_BUILD_DIR", "build"))
SCHEMA_DUMP = os.path.join(BUILD, "tests", "tools", "schema-dump")
META_CHECK = os.path.join(BUILD, "tests", "tools", "meta-check")
PG_BIN = os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin")


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """One postmaster on 127.0.0.1, data and socket in a temporary directory."""

    def __init__(self):
        self.dir = tempfile.mkdtemp(prefix="neonfs-schema-test-")
        self.data = os.path.join(self.dir, "data")
        self.port = _free_port()
        # PostgreSQL will not run as root: hand the directory to the postgres user.
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.dir, "postgres")
        self._run("initdb", "-D", self.data, "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C", "-N")

    def _run(self, tool, *args):
        subprocess.run(self.as_user + [os.path.join(PG_BIN, tool), *args], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)

    def start(self):
        opts = (f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1"
                " -c fsync=off -c full_page_writes=off")
        self._run("pg_ctl", "-D", self.data, "-l", os.path.join(self.dir, "log"),
                  "-o", opts, "-w", "-t", "30", "start")

    def stop(self, mode="fast"):
        self._run("pg_ctl", "-D", self.data, "-m", mode, "-w", "-t", "30", "stop")

    def running(self):
        return os.path.exists(os.path.join(self.data, "postmaster.pid"))

    def pids(self):
        """The postmaster and every process it started."""
        with open(os.path.join(self.data, "postmaster.pid")) as f:
            master = int(f.readline())
        pids = [master]
        for entry in os.listdir("/proc"):
            if not entry.isdigit():
                continue
            try:
                with open(f"/proc/{entry}/stat") as f:
                    stat = f.read()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == master:
                pids.append(int(entry))
        return pids

    def uri(self, db):
        return f"postgresql://postgres@127.0.0.1:{self.port}/{db}"

    def admin(self, *statements):
        conn = psycopg2.connect(self.uri("postgres"))
        conn.autocommit = True
        try:
            with conn.cursor() as cur:
                for sql in statements:
                    cur.execute(sql)
        finally:
            conn.close()

    def fresh_db(self, name):
        self.admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', f'CREATE DATABASE "{name}"')

    def psql(self, db, script):
        """Runs @script the way a person would replay a dump."""
        subprocess.run([os.path.join(PG_BIN, "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                        "-d", self.uri(db), "-f", "-"],
                       input=script, text=True, check=True, timeout=60,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

    def cleanup(self):
        try:
            if self.running():
                for pid in self.pids():
                    try:
                        os.kill(pid, signal.SIGCONT)
                    except ProcessLookupError:
                        pass
                self.stop("immediate")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    for tool in (SCHEMA_DUMP, META_CHECK):
        if not os.access(tool, os.X_OK):
            pytest.skip(f"{tool} not built (set NEONFS_BUILD_DIR)")
    c = Cluster()
    try:
        c.start()
        yield c
    finally:
        c.cleanup()


def dump(cluster, db, *extra):
    p = subprocess.run([SCHEMA_DUMP, cluster.uri(db), *extra], capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    return p.stdout, p.stderr


# Every kind of object the text covers, created one way ...
ORDER_A = r"""
CREATE EXTENSION IF NOT EXISTS citext;
CREATE SCHEMA app;
COMMENT ON SCHEMA app IS 'application objects';
CREATE TYPE public.mood AS ENUM ('sad', 'ok', 'happy');
CREATE DOMAIN public.posint AS integer DEFAULT 1 NOT NULL
    CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE TYPE app.pair AS (a integer, b text COLLATE "C", c public.posint);
CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE SEQUENCE public.counter AS integer INCREMENT BY 5 MINVALUE 10 MAXVALUE 1000
    START WITH 20 CACHE 2 CYCLE;
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE FUNCTION public.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT a + b';
CREATE FUNCTION public.add(a numeric, b numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS 'SELECT a + b';
COMMENT ON FUNCTION public.add(numeric, numeric) IS 'adds; it''s exact';
CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
CREATE TABLE public.users (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email citext NOT NULL UNIQUE,
    name text COLLATE "C" NOT NULL DEFAULT '',
    mood public.mood,
    score public.posint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz,
    CONSTRAINT users_name_len CHECK (length(name) < 200)
);
COMMENT ON TABLE public.users IS 'people';
COMMENT ON COLUMN public.users.email IS 'login';
CREATE TABLE app.orders (
    id serial PRIMARY KEY,
    user_id bigint NOT NULL,
    qty integer NOT NULL,
    price numeric(10,2) NOT NULL,
    total numeric GENERATED ALWAYS AS (qty * price) STORED,
    seq2 bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 100 INCREMENT BY 10),
    during tstzrange,
    CONSTRAINT orders_no_overlap EXCLUDE USING gist (during WITH &&)
);
ALTER TABLE app.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE;
CREATE INDEX orders_user_idx ON app.orders (user_id);
CREATE UNIQUE INDEX users_lower_name ON public.users (lower(name)) WHERE name <> '';
CREATE TRIGGER users_touch BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE VIEW app.big_orders AS
    SELECT o.id, u.email FROM app.orders o JOIN public.users u ON u.id = o.user_id
    WHERE o.qty > 10;
CREATE VIEW app.a_view AS SELECT id FROM app.big_orders;
CREATE MATERIALIZED VIEW app.order_counts AS
    SELECT user_id, count(*) AS n FROM app.orders GROUP BY user_id;
CREATE INDEX order_counts_n ON app.order_counts (n);
CREATE UNLOGGED TABLE public.cache (k text PRIMARY KEY, v jsonb DEFAULT '{}');
CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL, PRIMARY KEY (id, at))
    PARTITION BY RANGE (at);
CREATE TABLE public.events_2024 PARTITION OF public.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE INDEX events_at_idx ON public.events (at);
CREATE FUNCTION app.user_count() RETURNS bigint LANGUAGE sql STABLE
    AS 'SELECT count(*) FROM public.users';
CREATE FUNCTION app.users_by_mood(m public.mood) RETURNS SETOF public.users
    LANGUAGE sql STABLE BEGIN ATOMIC SELECT * FROM public.users WHERE mood = m; END;
CREATE TABLE app."Weird Name" ("select" integer DEFAULT public.add(1, 2), "Mixed" text);
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
CREATE POLICY users_self ON public.users FOR UPDATE TO PUBLIC
    USING (name = current_user) WITH CHECK (score > 0);
"""

# ... and the same objects another way: other creation order, constraints and comments
# added later, an enum label inserted, and OIDs moved on by objects made and dropped.
ORDER_B = r"""
CREATE TABLE filler1 (a int, b text);
CREATE TYPE filler_t AS ENUM ('x');
CREATE FUNCTION filler_f() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE SEQUENCE filler_s;
DROP TABLE filler1; DROP TYPE filler_t; DROP FUNCTION filler_f(); DROP SEQUENCE filler_s;
CREATE SCHEMA app;
CREATE FUNCTION public.add(a numeric, b numeric) RETURNS numeric LANGUAGE sql IMMUTABLE
    AS 'SELECT a + b';
CREATE FUNCTION public.add(a integer, b integer) RETURNS integer LANGUAGE sql IMMUTABLE
    AS 'SELECT a + b';
CREATE TABLE app."Weird Name" ("select" integer DEFAULT public.add(1, 2), "Mixed" text);
CREATE PROCEDURE app.noop() LANGUAGE sql AS 'SELECT 1';
CREATE TYPE public.floatrange AS RANGE (subtype = float8, subtype_diff = float8mi);
CREATE TABLE public.events (id bigint NOT NULL, at date NOT NULL) PARTITION BY RANGE (at);
CREATE INDEX events_at_idx ON public.events (at);
ALTER TABLE public.events ADD PRIMARY KEY (id, at);
CREATE TABLE public.events_2024 PARTITION OF public.events
    FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
CREATE UNLOGGED TABLE public.cache (k text PRIMARY KEY, v jsonb DEFAULT '{}');
CREATE SEQUENCE public.counter AS integer INCREMENT BY 5 MINVALUE 10 MAXVALUE 1000
    START WITH 20 CACHE 2 CYCLE;
CREATE TYPE public.mood AS ENUM ('sad', 'happy');
ALTER TYPE public.mood ADD VALUE 'ok' BEFORE 'happy';
CREATE EXTENSION IF NOT EXISTS citext;
CREATE DOMAIN public.posint AS integer DEFAULT 1 NOT NULL
    CONSTRAINT posint_positive CHECK (VALUE > 0);
CREATE FUNCTION public.touch() RETURNS trigger LANGUAGE plpgsql
    AS $$ BEGIN NEW.updated_at := now(); RETURN NEW; END $$;
CREATE TABLE public.users (
    id bigint GENERATED ALWAYS AS IDENTITY,
    email citext NOT NULL,
    name text COLLATE "C" NOT NULL DEFAULT '',
    mood public.mood,
    score public.posint,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz
);
CREATE TRIGGER users_touch BEFORE UPDATE ON public.users
    FOR EACH ROW EXECUTE FUNCTION public.touch();
CREATE POLICY users_self ON public.users FOR UPDATE
    USING (name = current_user) WITH CHECK (score > 0);
ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;
CREATE UNIQUE INDEX users_lower_name ON public.users (lower(name)) WHERE name <> '';
ALTER TABLE public.users ADD CONSTRAINT users_name_len CHECK (length(name) < 200);
ALTER TABLE public.users ADD CONSTRAINT users_email_key UNIQUE (email);
ALTER TABLE public.users ADD PRIMARY KEY (id);
CREATE FUNCTION app.users_by_mood(m public.mood) RETURNS SETOF public.users
    LANGUAGE sql STABLE BEGIN ATOMIC SELECT * FROM public.users WHERE mood = m; END;
CREATE FUNCTION app.user_count() RETURNS bigint LANGUAGE sql STABLE
    AS 'SELECT count(*) FROM public.users';
CREATE TABLE app.orders (
    id serial,
    user_id bigint NOT NULL,
    qty integer NOT NULL,
    price numeric(10,2) NOT NULL,
    total numeric GENERATED ALWAYS AS (qty * price) STORED,
    seq2 bigint GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 10 START WITH 100),
    during tstzrange
);
CREATE INDEX orders_user_idx ON app.orders (user_id);
ALTER TABLE app.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id)
    REFERENCES public.users(id) ON DELETE CASCADE;
ALTER TABLE app.orders ADD CONSTRAINT orders_no_overlap EXCLUDE USING gist (during WITH &&);
ALTER TABLE app.orders ADD PRIMARY KEY (id);
CREATE MATERIALIZED VIEW app.order_counts AS
    SELECT user_id, count(*) AS n FROM app.orders GROUP BY user_id;
CREATE INDEX order_counts_n ON app.order_counts (n);
CREATE VIEW app.big_orders AS
    SELECT o.id, u.email FROM app.orders o JOIN public.users u ON u.id = o.user_id
    WHERE o.qty > 10;
CREATE VIEW app.a_view AS SELECT id FROM app.big_orders;
CREATE TYPE app.pair AS (a integer, b text COLLATE "C", c public.posint);
COMMENT ON COLUMN public.users.email IS 'login';
COMMENT ON TABLE public.users IS 'people';
COMMENT ON FUNCTION public.add(numeric, numeric) IS 'adds; it''s exact';
COMMENT ON SCHEMA app IS 'application objects';
"""

DB = "shape"


@pytest.fixture(scope="module")
def dumps(cluster):
    """The dump of ORDER_A and of ORDER_B, each in a database named DB."""
    cluster.fresh_db(DB)
    cluster.psql(DB, ORDER_A)
    a, _ = dump(cluster, DB)
    cluster.fresh_db(DB)
    cluster.psql(DB, ORDER_B)
    b, _ = dump(cluster, DB)
    return a, b


def test_creation_order_and_oids_do_not_matter(dumps):
    a, b = dumps
    assert a == b, "\n".join(difflib.unified_diff(a.splitlines(), b.splitlines(),
                                                  "order A", "order B", lineterm=""))


def test_dump_is_stable(cluster, dumps):
    again, _ = dump(cluster, DB)
    assert again == dumps[1]


def test_header(dumps):
    lines = dumps[0].splitlines()
    assert lines[0] == "-- schema: SQL DDL, system schemas and extension members left out"
    assert lines[1] == "SET check_function_bodies = false;"
    assert dumps[0].endswith(";\n") and not dumps[0].endswith("\n\n")


EXPECTED_PIECES = [
    "CREATE SCHEMA app;\nCOMMENT ON SCHEMA app IS 'application objects';",
    "CREATE EXTENSION IF NOT EXISTS citext WITH SCHEMA public;",
    "CREATE TYPE public.mood AS ENUM (\n\t'sad',\n\t'ok',\n\t'happy'\n);",
    "CREATE TYPE app.pair AS (\n\ta integer,\n\tb text COLLATE pg_catalog.\"C\",\n"
    "\tc public.posint\n);",
    "CREATE DOMAIN public.posint AS integer DEFAULT 1 NOT NULL\n"
    "\tCONSTRAINT posint_positive CHECK ((VALUE > 0));",
    "CREATE TYPE public.floatrange AS RANGE (subtype = double precision, "
    "subtype_diff = float8mi, multirange_type_name = public.floatmultirange);",
    "CREATE SEQUENCE public.counter\n\tAS integer\n\tINCREMENT BY 5\n\tMINVALUE 10\n"
    "\tMAXVALUE 1000\n\tSTART WITH 20\n\tCACHE 2\n\tCYCLE;",
    "CREATE SEQUENCE app.orders_id_seq\n\tAS integer\n",
    "ALTER SEQUENCE app.orders_id_seq OWNED BY app.orders.id;",
    "CREATE TABLE public.users (\n"
    "\tid bigint GENERATED ALWAYS AS IDENTITY NOT NULL,\n"
    "\temail public.citext NOT NULL,\n"
    "\tname text COLLATE pg_catalog.\"C\" DEFAULT ''::text NOT NULL,\n"
    "\tmood public.mood,\n"
    "\tscore public.posint,\n"
    "\tcreated_at timestamp with time zone DEFAULT now() NOT NULL,\n"
    "\tupdated_at timestamp with time zone\n"
    ");\n"
    "ALTER TABLE public.users ENABLE ROW LEVEL SECURITY;\n"
    "COMMENT ON TABLE public.users IS 'people';\n"
    "COMMENT ON COLUMN public.users.email IS 'login';",
    "\tid integer DEFAULT nextval('app.orders_id_seq'::regclass) NOT NULL,\n",
    "\ttotal numeric GENERATED ALWAYS AS (((qty)::numeric * price)) STORED,\n",
    "\tseq2 bigint GENERATED BY DEFAULT AS IDENTITY (INCREMENT BY 10 START WITH 100) NOT NULL,\n",
    "ALTER TABLE public.users ADD CONSTRAINT users_pkey PRIMARY KEY (id);",
    "ALTER TABLE public.users ADD CONSTRAINT users_email_key UNIQUE (email);",
    "ALTER TABLE public.users ADD CONSTRAINT users_name_len CHECK ((length(name) < 200));",
    "ALTER TABLE app.orders ADD CONSTRAINT orders_no_overlap EXCLUDE USING gist (during WITH &&);",
    "ALTER TABLE app.orders ADD CONSTRAINT orders_user_fk FOREIGN KEY (user_id) "
    "REFERENCES public.users(id) ON DELETE CASCADE;",
    "CREATE INDEX orders_user_idx ON app.orders USING btree (user_id);",
    "CREATE UNIQUE INDEX users_lower_name ON public.users USING btree (lower(name)) "
    "WHERE (name <> ''::text);",
    "CREATE INDEX events_at_idx ON public.events USING btree (at);",
    "CREATE TRIGGER users_touch BEFORE UPDATE ON public.users FOR EACH ROW "
    "EXECUTE FUNCTION public.touch();",
    "CREATE POLICY users_self ON public.users FOR UPDATE TO PUBLIC "
    "USING ((name = CURRENT_USER)) WITH CHECK (((score)::integer > 0));",
    "CREATE VIEW app.big_orders AS\n SELECT o.id,\n",
    "CREATE MATERIALIZED VIEW app.order_counts AS\n",
    "\nWITH NO DATA;",
    "CREATE INDEX order_counts_n ON app.order_counts USING btree (n);",
    "CREATE OR REPLACE FUNCTION public.touch()\n RETURNS trigger\n LANGUAGE plpgsql\n",
    "CREATE OR REPLACE FUNCTION public.add(a integer, b integer)\n",
    "COMMENT ON FUNCTION public.add(a numeric, b numeric) IS 'adds; it''s exact';",
    "CREATE OR REPLACE PROCEDURE app.noop()\n",
    "CREATE UNLOGGED TABLE public.cache (\n\tk text NOT NULL,\n\tv jsonb DEFAULT '{}'::jsonb\n);",
    "CREATE TABLE public.events (\n\tid bigint NOT NULL,\n\tat date NOT NULL\n) "
    "PARTITION BY RANGE (at);",
    "CREATE TABLE public.events_2024 PARTITION OF public.events\n"
    "\tFOR VALUES FROM ('2024-01-01') TO ('2025-01-01');",
    "CREATE TABLE app.\"Weird Name\" (\n\t\"select\" integer DEFAULT public.add(1, 2),\n"
    "\t\"Mixed\" text\n);",
]


@pytest.mark.parametrize("piece", EXPECTED_PIECES, ids=lambda p: p.split("\n")[0][:60])
def test_dump_contains(dumps, piece):
    assert piece in dumps[0]


def _position(text, piece):
    i = text.find(piece)
    assert i >= 0, piece
    return i


def test_dependencies_come_first(dumps):
    text = dumps[0]
    # The key order alone would put these the other way round.
    assert _position(text, "CREATE VIEW app.big_orders") < _position(text, "CREATE VIEW app.a_view")
    assert _position(text, "CREATE DOMAIN public.posint") < _position(text, "CREATE TYPE app.pair")
    assert (_position(text, "CREATE TABLE public.users") <
            _position(text, "FUNCTION app.users_by_mood"))
    assert (_position(text, "ADD CONSTRAINT users_pkey") <
            _position(text, "ADD CONSTRAINT orders_user_fk"))
    assert (_position(text, "CREATE SEQUENCE app.orders_id_seq") <
            _position(text, "CREATE TABLE app.orders"))
    assert (_position(text, "CREATE TABLE app.orders") <
            _position(text, "ALTER SEQUENCE app.orders_id_seq OWNED BY"))


CREATED = re.compile(r"^CREATE (?:OR REPLACE )?(?:UNLOGGED )?(?:UNIQUE )?"
                     r"(SCHEMA|EXTENSION IF NOT EXISTS|TYPE|DOMAIN|SEQUENCE|FUNCTION|PROCEDURE|"
                     r"TABLE|VIEW|MATERIALIZED VIEW|INDEX|TRIGGER) ([^\s(;]+)", re.M)


def test_system_and_extension_objects_absent(cluster, dumps):
    # A temporary table in another session must not show either.
    conn = psycopg2.connect(cluster.uri(DB))
    try:
        with conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE scratch (a int)")
        text, _ = dump(cluster, DB)
    finally:
        conn.close()
    assert text == dumps[1]
    for word in ("information_schema", "pg_toast", "pg_temp", "scratch"):
        assert word not in text
    created = sorted(set(CREATED.findall(text)))
    assert created == sorted({
        ("SCHEMA", "app"), ("EXTENSION IF NOT EXISTS", "citext"),
        ("TYPE", "public.mood"), ("TYPE", "app.pair"), ("TYPE", "public.floatrange"),
        ("DOMAIN", "public.posint"), ("SEQUENCE", "public.counter"),
        ("SEQUENCE", "app.orders_id_seq"),
        ("FUNCTION", "public.touch"), ("FUNCTION", "public.add"),
        ("FUNCTION", "app.user_count"), ("FUNCTION", "app.users_by_mood"),
        ("PROCEDURE", "app.noop"),
        ("TABLE", "public.users"), ("TABLE", "app.orders"), ("TABLE", "public.cache"),
        ("TABLE", "public.events"), ("TABLE", "public.events_2024"),
        ("TABLE", 'app."Weird'),
        ("VIEW", "app.big_orders"), ("VIEW", "app.a_view"),
        ("MATERIALIZED VIEW", "app.order_counts"),
        ("INDEX", "orders_user_idx"), ("INDEX", "users_lower_name"),
        ("INDEX", "events_at_idx"), ("INDEX", "order_counts_n"),
        ("TRIGGER", "users_touch"),
    })
    # citext's own functions and types belong to the extension.
    assert "FUNCTION public.citext" not in text and "TYPE public.citext" not in text
    assert "OID" not in text.upper().replace("VOID", "")


def test_replay_round_trip(cluster, dumps):
    text = dumps[0]
    cluster.fresh_db(DB)
    cluster.psql(DB, text)
    again, _ = dump(cluster, DB)
    assert again == text


def test_added_column_is_one_line(cluster, dumps):
    before, _ = dump(cluster, DB)
    cluster.psql(DB, "ALTER TABLE public.users ADD COLUMN nickname text;")
    after, _ = dump(cluster, DB)
    diff = [line for line in difflib.unified_diff(before.splitlines(), after.splitlines(),
                                                  lineterm="", n=0)
            if not line.startswith(("---", "+++", "@@"))]
    removed = [line[1:] for line in diff if line.startswith("-")]
    added = [line[1:] for line in diff if line.startswith("+")]
    # The new column's line; the line before it only gains the comma SQL needs.
    assert added == ["\tupdated_at timestamp with time zone,", "\tnickname text"], diff
    assert removed == ["\tupdated_at timestamp with time zone"], diff

    cluster.psql(DB, "ALTER TABLE public.users DROP COLUMN nickname;")
    dropped, _ = dump(cluster, DB)
    assert dropped == before


def test_lsn_is_read_with_the_schema(cluster, dumps):
    text, err = dump(cluster, DB, "--lsn")
    assert text == dumps[0]
    assert re.fullmatch(r"[0-9A-F]+/[0-9A-F]+\n", err), err


def test_dump_failures_are_reported(cluster):
    p = subprocess.run([SCHEMA_DUMP, cluster.uri("no_such_db")], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == ""
    assert "does not exist" in p.stderr and f"errno {errno.ENOENT}" in p.stderr

    p = subprocess.run([SCHEMA_DUMP, f"postgresql://postgres@127.0.0.1:{_free_port()}/x"],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and p.stdout == ""
    assert f"errno {errno.ECONNREFUSED}" in p.stderr


def test_meta_store(cluster):
    cluster.fresh_db("meta")
    for _ in range(2):  # a second run reopens the store: migrations are not repeated
        p = subprocess.run([META_CHECK, cluster.uri("meta")], capture_output=True,
                           text=True, timeout=60)
        assert p.returncode == 0, p.stdout + p.stderr
        assert p.stdout.splitlines()[-1] == "ok"
        assert "FAIL" not in p.stdout
    conn = psycopg2.connect(cluster.uri("meta"))
    try:
        with conn.cursor() as cur:
            cur.execute("SELECT version FROM neonfs_schema_version ORDER BY version")
            assert cur.fetchall() == [(1,), (2,)]
            cur.execute("SELECT count(*) FROM information_schema.tables"
                        " WHERE table_name IN ('checkpoints', 'attachments', 'restores',"
                        " 'pending')")
            assert cur.fetchone() == (4,)
    finally:
        conn.close()


class Repl:
    """meta-check --repl: one open store, one call per line."""

    def __init__(self, uri):
        self.p = subprocess.Popen([META_CHECK, uri, "--repl"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
        assert self.read(30) == "open ok"

    def read(self, timeout):
        ready, _, _ = select.select([self.p.stdout], [], [], timeout)
        assert ready, "meta-check did not answer in time: a hang"
        return self.p.stdout.readline().strip()

    def call(self, timeout=40):
        """Returns (errno or 0, seconds taken)."""
        t0 = time.monotonic()
        self.p.stdin.write("call\n")
        self.p.stdin.flush()
        line = self.read(timeout)
        took = time.monotonic() - t0
        if line.startswith("ok"):
            return 0, took
        assert line.startswith("error "), line
        return int(line.split()[1]), took

    def close(self):
        """Returns the exit status (a sanitizer's report makes it non-zero)."""
        if self.p.poll() is None:
            try:
                self.p.stdin.write("quit\n")
                self.p.stdin.flush()
                self.p.wait(timeout=10)
            except (BrokenPipeError, subprocess.TimeoutExpired):
                self.p.kill()
                self.p.wait()
        return self.p.returncode


# Last in the file: it stops and restarts the module's cluster.
def test_meta_store_survives_the_database_going_away(cluster):
    cluster.fresh_db("meta")
    repl = Repl(cluster.uri("meta"))
    try:
        assert repl.call()[0] == 0

        # A restart between calls (a restore restarts the compute): reconnect unnoticed.
        cluster.stop("fast")
        cluster.start()
        err, _ = repl.call()
        assert err == 0

        # Gone: an errno at once, twice, then back to work once it is up again.
        cluster.stop("fast")
        for _ in range(2):
            err, took = repl.call()
            assert err in (errno.ECONNREFUSED, errno.EIO), err
            assert took < 10
        cluster.start()
        assert repl.call()[0] == 0

        # Frozen (the kernel still accepts and acknowledges): a timeout, not a hang.
        time.sleep(2.2)  # the pooled connection is now due a liveness check
        pids = cluster.pids()
        for pid in pids:
            os.kill(pid, signal.SIGSTOP)
        try:
            err, took = repl.call()
        finally:
            for pid in pids:
                os.kill(pid, signal.SIGCONT)
        assert err == errno.ETIMEDOUT, err
        assert took < 15
        assert repl.call()[0] == 0
        assert repl.close() == 0
    finally:
        repl.close()
        if not cluster.running():
            cluster.start()
