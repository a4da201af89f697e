"""Administrative access to the PostgreSQL server behind the emulator.

Everything here runs as the cluster's superuser over the server's unix
socket. Each call opens its own short-lived connection, so the helpers are
safe to use from any thread.
"""

import os
import subprocess

import psycopg2
import psycopg2.extensions
import psycopg2.sql as sql


class PgError(Exception):
    pass


class PgAdmin:
    def __init__(self, host, port, user, bindir, tcp_host="127.0.0.1"):
        self.host = host            # unix socket directory (or a host name)
        self.port = int(port)
        self.user = user
        self.bindir = bindir
        self.tcp_host = tcp_host    # where endpoint proxies connect to

    # -- plumbing ---------------------------------------------------------
    def connect(self, dbname="postgres"):
        conn = psycopg2.connect(host=self.host, port=self.port, user=self.user,
                                dbname=dbname, connect_timeout=10)
        conn.set_isolation_level(psycopg2.extensions.ISOLATION_LEVEL_AUTOCOMMIT)
        return conn

    def execute(self, query, params=None, dbname="postgres"):
        conn = self.connect(dbname)
        try:
            with conn.cursor() as cur:
                cur.execute(query, params)
                if cur.description is not None:
                    return cur.fetchall()
                return None
        finally:
            conn.close()

    def _env(self):
        env = dict(os.environ)
        env.pop("PGPASSWORD", None)
        env.update(PGHOST=self.host, PGPORT=str(self.port), PGUSER=self.user)
        return env

    def _bin(self, name):
        return os.path.join(self.bindir, name) if self.bindir else name

    # -- facts ------------------------------------------------------------
    def server_version_major(self):
        rows = self.execute("SHOW server_version_num")
        return int(rows[0][0]) // 10000

    def current_lsn(self):
        return self.execute("SELECT pg_current_wal_lsn()::text")[0][0]

    def lsn_cmp(self, a, b):
        """-1, 0 or 1 comparing two LSN strings with the server's pg_lsn type."""
        rows = self.execute("SELECT sign(%s::pg_lsn - %s::pg_lsn)::int", (a, b))
        return int(rows[0][0])

    def database_exists(self, name):
        rows = self.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        return bool(rows)

    def database_size(self, name):
        rows = self.execute("SELECT pg_database_size(%s)", (name,))
        return int(rows[0][0])

    def list_databases(self, prefixes):
        rows = self.execute("SELECT datname FROM pg_database")
        return [r[0] for r in rows if any(r[0].startswith(p) for p in prefixes)]

    # -- roles ------------------------------------------------------------
    def ensure_role(self, name, password):
        exists = self.execute("SELECT 1 FROM pg_roles WHERE rolname = %s", (name,))
        verb = "ALTER" if exists else "CREATE"
        self.execute(sql.SQL("{} ROLE {} WITH LOGIN PASSWORD %s").format(
            sql.SQL(verb), sql.Identifier(name)), (password,))

    # -- databases --------------------------------------------------------
    def create_database(self, name, owner, template="template0"):
        self.execute(sql.SQL("CREATE DATABASE {} OWNER {} TEMPLATE {}").format(
            sql.Identifier(name), sql.Identifier(owner), sql.Identifier(template)))

    def drop_database(self, name):
        self.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(
            sql.Identifier(name)))

    def copy_database(self, src, dst, owner, schema_only=False):
        """Create @dst as a copy of @src while @src keeps its clients.

        CREATE DATABASE ... TEMPLATE would need @src to have no other
        connections, so this streams `pg_dump -Fc` into `pg_restore` instead.
        pg_dump reads one consistent MVCC snapshot of @src. Returns the WAL
        position right before the dump started.
        """
        lsn = self.current_lsn()
        self.create_database(dst, owner)
        try:
            dump = subprocess.Popen(
                [self._bin("pg_dump"), "--format=custom", "--dbname", src]
                + (["--schema-only"] if schema_only else []),
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=self._env())
            restore = subprocess.run(
                [self._bin("pg_restore"), "--exit-on-error", "--single-transaction",
                 "--dbname", dst],
                stdin=dump.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                env=self._env(), timeout=300)
            dump.stdout.close()
            dump_err = dump.stderr.read()
            dump.stderr.close()
            dump_rc = dump.wait(timeout=300)
            if dump_rc != 0:
                raise PgError("pg_dump of %s failed: %s" % (src, dump_err.decode(errors="replace").strip()))
            if restore.returncode != 0:
                raise PgError("pg_restore into %s failed: %s"
                              % (dst, restore.stderr.decode(errors="replace").strip()))
        except BaseException:
            try:
                self.drop_database(dst)
            except Exception:
                pass
            raise
        return lsn

    def clone_database(self, template, dst, owner):
        """CREATE DATABASE @dst TEMPLATE @template (nobody may be connected to it)."""
        self.create_database(dst, owner, template=template)
