/* meta: the checkpoint records, attachments and restore audit log, kept in a Postgres
 * database separate from the project, so no restore can roll them back.
 *
 * Connections come from a private pg pool: several FUSE threads may talk to the meta
 * database at once, a connection that died (the database restarted) is replaced on the
 * next call, and idempotent calls are retried once on a fresh connection. The struct
 * itself never changes after meta_open, so it needs no lock of its own. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "meta.h"
#include "pg.h"
#include "util.h"

#define META_CONNECT_TIMEOUT_S		5
#define META_STATEMENT_TIMEOUT_S	30
#define META_LOCK_KEY			"121381940258419"	/* "neonfs" as a number */

/* Times as ISO 8601 in UTC, NULL stays NULL. */
#define META_ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

struct meta {
	struct pg_pool *pool;
	char *url;
	char *project_id;
};

/* Versioned migrations: append, never edit one that has shipped. */
static const char *const meta_migration_1[] = {
	"CREATE TABLE checkpoints ("
	" project_id text NOT NULL,"
	" snapshot_id text NOT NULL,"
	" name text NOT NULL,"
	" created_at timestamptz,"
	" lsn text,"
	" schema text,"
	" recorded_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (project_id, snapshot_id))",

	/* No foreign key to checkpoints: a snapshot made elsewhere has no record yet may
	 * carry files; meta_checkpoint_delete removes both in one statement. */
	"CREATE TABLE attachments ("
	" project_id text NOT NULL,"
	" snapshot_id text NOT NULL,"
	" name text NOT NULL,"
	" data bytea NOT NULL,"
	" size bigint NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT now(),"
	" updated_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (project_id, snapshot_id, name))",

	"CREATE TABLE restores ("
	" id bigserial PRIMARY KEY,"
	" project_id text NOT NULL,"
	" snapshot_id text NOT NULL,"
	" snapshot_name text,"
	" branch_before text,"
	" branch_after text,"
	" mount_user text,"
	" mount_host text,"
	" started_at timestamptz NOT NULL DEFAULT now(),"
	" ended_at timestamptz,"
	" outcome text NOT NULL DEFAULT 'running',"
	" error text)",

	"CREATE INDEX restores_project_id_idx ON restores (project_id, id DESC)",
	NULL
};

/* Files written into active/next/, waiting for the next snapshot made through a mount of
 * this project: kept here so that they survive a remount and a crash. */
static const char *const meta_migration_2[] = {
	"CREATE TABLE pending ("
	" project_id text NOT NULL,"
	" name text NOT NULL,"
	" data bytea NOT NULL,"
	" size bigint NOT NULL,"
	" created_at timestamptz NOT NULL DEFAULT now(),"
	" updated_at timestamptz NOT NULL DEFAULT now(),"
	" PRIMARY KEY (project_id, name))",
	NULL
};

static const struct {
	int version;
	const char *const *statements;
} meta_migrations[] = {
	{ 1, meta_migration_1 },
	{ 2, meta_migration_2 },
};

static int meta_none(char *msg, size_t msglen)
{
	util_msg(msg, msglen, "no meta database");
	return -ENOTSUP;
}

/* One statement with its parameters, as PQexecParams takes them. */
struct meta_q {
	const char *sql;
	int nparams;
	const char *const *values;
	const int *lengths;
	const int *formats;
	int result_format;
	PGresult *res;
};

static int meta_q_fn(PGconn *conn, void *arg, char *msg, size_t msglen)
{
	struct meta_q *q = arg;

	return pg_exec_params(conn, q->sql, q->nparams, q->values, q->lengths, q->formats,
			      q->result_format, &q->res, msg, msglen);
}

/* @retry: the statement may run twice without harm (reads, upserts, updates to fixed
 * values, deletes). */
static int meta_exec(struct meta *m, bool retry, struct meta_q *q, char *msg, size_t msglen)
{
	int r = pg_run(m->pool, m->url, retry, meta_q_fn, q, msg, msglen);

	if (r < 0) {
		PQclear(q->res);
		q->res = NULL;
	}
	return r;
}

/* Rows an UPDATE or DELETE touched; 0 means the record is not there. */
static int meta_affected(struct meta_q *q, char *msg, size_t msglen, const char *what)
{
	const char *n = PQcmdTuples(q->res);	/* points into the result */
	bool none = !n || strcmp(n, "0") == 0;

	PQclear(q->res);
	q->res = NULL;
	if (none) {
		util_msg(msg, msglen, "%s", what);
		return -ENOENT;
	}
	return 0;
}

static int meta_run(PGconn *conn, const char *sql, int nparams, const char *const *values,
		    char *msg, size_t msglen)
{
	PGresult *res;
	int r = pg_exec(conn, sql, nparams, values, &res, msg, msglen);

	PQclear(res);
	return r;
}

/* Applies every migration newer than the database's version, all in one transaction under
 * an advisory lock, so two mounts starting together do not race. */
static int meta_migrate(PGconn *conn, void *arg, char *msg, size_t msglen)
{
	const char *lock[] = { META_LOCK_KEY };
	PGresult *res = NULL;
	size_t i, j;
	int r, version;

	if ((r = meta_run(conn, "BEGIN", 0, NULL, msg, msglen)) < 0)
		return r;
	if ((r = meta_run(conn, "SELECT pg_advisory_xact_lock($1::bigint)", 1, lock,
			  msg, msglen)) < 0)
		goto fail;
	if ((r = meta_run(conn, "CREATE TABLE IF NOT EXISTS neonfs_schema_version ("
			  " version int PRIMARY KEY,"
			  " applied_at timestamptz NOT NULL DEFAULT now())",
			  0, NULL, msg, msglen)) < 0)
		goto fail;
	if ((r = pg_exec(conn, "SELECT coalesce(max(version), 0) FROM neonfs_schema_version",
			 0, NULL, &res, msg, msglen)) < 0)
		goto fail;
	version = atoi(PQgetvalue(res, 0, 0));
	PQclear(res);

	for (i = 0; i < sizeof(meta_migrations) / sizeof(meta_migrations[0]); i++) {
		char v[16];
		const char *params[] = { v };

		if (meta_migrations[i].version <= version)
			continue;
		for (j = 0; meta_migrations[i].statements[j]; j++)
			if ((r = meta_run(conn, meta_migrations[i].statements[j], 0, NULL,
					  msg, msglen)) < 0)
				goto fail;
		snprintf(v, sizeof(v), "%d", meta_migrations[i].version);
		if ((r = meta_run(conn, "INSERT INTO neonfs_schema_version (version, applied_at)"
				  " VALUES ($1::int, now())", 1, params, msg, msglen)) < 0)
			goto fail;
	}
	return meta_run(conn, "COMMIT", 0, NULL, msg, msglen);

fail:
	if (PQstatus(conn) == CONNECTION_OK &&
	    (PQtransactionStatus(conn) == PQTRANS_INTRANS ||
	     PQtransactionStatus(conn) == PQTRANS_INERROR))
		meta_run(conn, "ROLLBACK", 0, NULL, NULL, 0);
	return r;
}

void meta_close(struct meta *m)
{
	if (!m)
		return;
	pg_pool_free(m->pool);
	free(m->url);
	free(m->project_id);
	free(m);
}

struct meta *meta_open(const char *url, const char *project_id, double timeout_s,
		       char *msg, size_t msglen)
{
	struct meta *m;
	int r;

	if (!url || !*url || !project_id || !*project_id) {
		util_msg(msg, msglen, "no meta database or project given");
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m)
		goto nomem;
	m->url = strdup(url);
	m->project_id = strdup(project_id);
	m->pool = timeout_s > 0 ? pg_pool_new(timeout_s, timeout_s) :
		  pg_pool_new(META_CONNECT_TIMEOUT_S, META_STATEMENT_TIMEOUT_S);
	if (!m->url || !m->project_id || !m->pool)
		goto nomem;

	/* All or nothing in one transaction, so running it again is harmless. */
	r = pg_run(m->pool, m->url, true, meta_migrate, NULL, msg, msglen);
	if (r < 0) {
		meta_close(m);
		return NULL;
	}
	return m;

nomem:
	meta_close(m);
	util_msg(msg, msglen, "out of memory");
	return NULL;
}

void meta_checkpoint_clear(struct meta_checkpoint *c)
{
	if (!c)
		return;
	free(c->schema);
	c->schema = NULL;
}

static const char *meta_nonempty(const char *s)
{
	return s && *s ? s : NULL;
}

#define META_CHECKPOINT_UPSERT \
	"INSERT INTO checkpoints" \
	" (project_id, snapshot_id, name, created_at, lsn, schema, recorded_at)" \
	" VALUES ($1, $2, $3, $4::timestamptz, $5, $6, now())" \
	" ON CONFLICT (project_id, snapshot_id) DO UPDATE SET" \
	" name = EXCLUDED.name, created_at = EXCLUDED.created_at," \
	" lsn = EXCLUDED.lsn, schema = EXCLUDED.schema, recorded_at = now()"

/* The record as parameters $1 to $6 of META_CHECKPOINT_UPSERT. */
static int meta_checkpoint_values(struct meta *m, const struct meta_checkpoint *c,
				  const char **values, char *msg, size_t msglen)
{
	if (!c || !*c->snapshot_id) {
		util_msg(msg, msglen, "no snapshot id");
		return -EINVAL;
	}
	values[0] = m->project_id;
	values[1] = c->snapshot_id;
	values[2] = c->name;
	values[3] = meta_nonempty(c->created_at);
	values[4] = meta_nonempty(c->lsn);
	values[5] = c->schema;
	return 0;
}

int meta_checkpoint_put(struct meta *m, const struct meta_checkpoint *c, char *msg, size_t msglen)
{
	const char *values[6];
	struct meta_q q = { .sql = META_CHECKPOINT_UPSERT, .nparams = 6, .values = values };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if ((r = meta_checkpoint_values(m, c, values, msg, msglen)) < 0)
		return r;
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	PQclear(q.res);
	return 0;
}

int meta_checkpoint_put_with_pending(struct meta *m, const struct meta_checkpoint *c,
				     size_t *attached, char *msg, size_t msglen)
{
	const char *values[6];
	/* One statement is one transaction: the record is written and every pending file
	 * becomes its attachment, or nothing happens and the files stay pending. A file written
	 * into active/next/ while this runs is either moved or stays pending, never lost. Run
	 * twice (a lost answer), it rewrites the same record and moves what is pending then. */
	struct meta_q q = {
		.sql = "WITH c AS (" META_CHECKPOINT_UPSERT " RETURNING 1),"
		       " moved AS (DELETE FROM pending WHERE project_id = $1"
		       "  RETURNING name, data, size, created_at),"
		       " a AS (INSERT INTO attachments"
		       "  (project_id, snapshot_id, name, data, size, created_at, updated_at)"
		       "  SELECT $1, $2, name, data, size, created_at, now() FROM moved"
		       "  ON CONFLICT (project_id, snapshot_id, name) DO UPDATE SET"
		       "  data = EXCLUDED.data, size = EXCLUDED.size, updated_at = now()"
		       "  RETURNING 1)"
		       " SELECT (SELECT count(*) FROM a), (SELECT count(*) FROM c)",
		.nparams = 6, .values = values,
	};
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if ((r = meta_checkpoint_values(m, c, values, msg, msglen)) < 0)
		return r;
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	if (attached)
		*attached = (size_t)strtoull(PQgetvalue(q.res, 0, 0), NULL, 10);
	PQclear(q.res);
	return 0;
}

int meta_checkpoint_get(struct meta *m, const char *snapshot_id, struct meta_checkpoint *c,
			char *msg, size_t msglen)
{
	const char *values[] = { m ? m->project_id : NULL, snapshot_id };
	struct meta_q q = {
		.sql = "SELECT snapshot_id, name, coalesce(" META_ISO("created_at") ", ''),"
		       " coalesce(lsn, ''), schema"
		       " FROM checkpoints WHERE project_id = $1 AND snapshot_id = $2",
		.nparams = 2, .values = values,
	};
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !c) {
		util_msg(msg, msglen, "no snapshot id");
		return -EINVAL;
	}
	memset(c, 0, sizeof(*c));
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	if (PQntuples(q.res) == 0) {
		PQclear(q.res);
		util_msg(msg, msglen, "no record of this checkpoint");
		return -ENOENT;
	}
	snprintf(c->snapshot_id, sizeof(c->snapshot_id), "%s", PQgetvalue(q.res, 0, 0));
	snprintf(c->name, sizeof(c->name), "%s", PQgetvalue(q.res, 0, 1));
	snprintf(c->created_at, sizeof(c->created_at), "%s", PQgetvalue(q.res, 0, 2));
	snprintf(c->lsn, sizeof(c->lsn), "%s", PQgetvalue(q.res, 0, 3));
	if (!PQgetisnull(q.res, 0, 4)) {
		c->schema = strdup(PQgetvalue(q.res, 0, 4));
		if (!c->schema) {
			PQclear(q.res);
			util_msg(msg, msglen, "out of memory");
			return -ENOMEM;
		}
	}
	PQclear(q.res);
	return 0;
}

/* One statement on one row of this project: $1 the project, $2 the snapshot, $3 @value.
 * -ENOENT with @what when no row matched. */
static int meta_one_row(struct meta *m, const char *sql, const char *snapshot_id,
			const char *value, const char *what, char *msg, size_t msglen)
{
	const char *values[] = { m ? m->project_id : NULL, snapshot_id, value };
	struct meta_q q = { .sql = sql, .nparams = 3, .values = values };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !value) {
		util_msg(msg, msglen, "no snapshot id or value");
		return -EINVAL;
	}
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	return meta_affected(&q, msg, msglen, what);
}

int meta_checkpoint_rename(struct meta *m, const char *snapshot_id, const char *name,
			   char *msg, size_t msglen)
{
	return meta_one_row(m, "UPDATE checkpoints SET name = $3"
			    " WHERE project_id = $1 AND snapshot_id = $2",
			    snapshot_id, name, "no record of this checkpoint", msg, msglen);
}

int meta_checkpoint_set_schema(struct meta *m, const char *snapshot_id, const char *schema,
			       char *msg, size_t msglen)
{
	return meta_one_row(m, "UPDATE checkpoints SET schema = $3"
			    " WHERE project_id = $1 AND snapshot_id = $2",
			    snapshot_id, schema, "no record of this checkpoint", msg, msglen);
}

int meta_checkpoint_delete(struct meta *m, const char *snapshot_id, char *msg, size_t msglen)
{
	const char *values[] = { m ? m->project_id : NULL, snapshot_id };
	/* One statement: the record and its files go together or not at all. */
	struct meta_q q = {
		.sql = "WITH a AS (DELETE FROM attachments"
		       "  WHERE project_id = $1 AND snapshot_id = $2 RETURNING 1),"
		       " c AS (DELETE FROM checkpoints"
		       "  WHERE project_id = $1 AND snapshot_id = $2 RETURNING 1)"
		       " SELECT (SELECT count(*) FROM a) + (SELECT count(*) FROM c)",
		.nparams = 2, .values = values,
	};
	bool gone;
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id) {
		util_msg(msg, msglen, "no snapshot id");
		return -EINVAL;
	}
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	gone = PQntuples(q.res) == 1 && strcmp(PQgetvalue(q.res, 0, 0), "0") == 0;
	PQclear(q.res);
	if (gone) {
		util_msg(msg, msglen, "no record of this checkpoint");
		return -ENOENT;
	}
	return 0;
}

/* A text column into @dst; SQL NULL gives "". */
static void meta_copy_text(char *dst, size_t len, const PGresult *res, int row, int col)
{
	snprintf(dst, len, "%s", PQgetisnull(res, row, col) ? "" : PQgetvalue(res, row, col));
}

int meta_checkpoint_list(struct meta *m, struct meta_record **list, size_t *count,
			 char *msg, size_t msglen)
{
	const char *values[] = { m ? m->project_id : NULL };
	struct meta_q q = {
		.sql = "SELECT snapshot_id, name, " META_ISO("created_at") ", lsn,"
		       " schema IS NOT NULL"
		       " FROM checkpoints WHERE project_id = $1 ORDER BY snapshot_id",
		.nparams = 1, .values = values,
	};
	struct meta_record *all;
	int r, i, n;

	if (!m)
		return meta_none(msg, msglen);
	*list = NULL;
	*count = 0;
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	n = PQntuples(q.res);
	all = calloc(n ? (size_t)n : 1, sizeof(*all));
	if (!all) {
		PQclear(q.res);
		util_msg(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		meta_copy_text(all[i].snapshot_id, sizeof(all[i].snapshot_id), q.res, i, 0);
		meta_copy_text(all[i].name, sizeof(all[i].name), q.res, i, 1);
		meta_copy_text(all[i].created_at, sizeof(all[i].created_at), q.res, i, 2);
		meta_copy_text(all[i].lsn, sizeof(all[i].lsn), q.res, i, 3);
		all[i].has_schema = *PQgetvalue(q.res, i, 4) == 't';
	}
	PQclear(q.res);
	*list = all;
	*count = (size_t)n;
	return 0;
}

/* The statements on one place files live in: a snapshot's attachments, or the pending files
 * of active/next/, which belong to no snapshot yet. The parameters start with the project
 * and, for attachments, the snapshot (meta_files_key); the rest follow in the order each
 * function gives. */
struct meta_files_sql {
	const char *list, *get, *put, *create, *rename, *remove;
};

#define META_FILE_FACTS "size, floor(extract(epoch FROM created_at))::bigint," \
	" floor(extract(epoch FROM updated_at))::bigint"

static const struct meta_files_sql meta_attachments_sql = {
	.list = "SELECT name, " META_FILE_FACTS
		" FROM attachments WHERE project_id = $1 AND snapshot_id = $2"
		" ORDER BY name COLLATE \"C\"",
	.get = "SELECT data, " META_FILE_FACTS
	       " FROM attachments WHERE project_id = $1 AND snapshot_id = $2 AND name = $3",
	.put = "INSERT INTO attachments"
	       " (project_id, snapshot_id, name, data, size, created_at, updated_at)"
	       " VALUES ($1, $2, $3, $4::bytea, octet_length($4::bytea), now(), now())"
	       " ON CONFLICT (project_id, snapshot_id, name) DO UPDATE SET"
	       " data = EXCLUDED.data, size = EXCLUDED.size, updated_at = now()",
	.create = "INSERT INTO attachments"
		  " (project_id, snapshot_id, name, data, size, created_at, updated_at)"
		  " VALUES ($1, $2, $3, ''::bytea, 0, now(), now())"
		  " ON CONFLICT (project_id, snapshot_id, name) DO NOTHING",
	/* One statement, so no other writer sees the file under both names or neither. The
	 * file that the new name held goes only when replacing is allowed; otherwise the
	 * unique key refuses the rename (EEXIST). */
	.rename = "WITH gone AS (DELETE FROM attachments WHERE $5::boolean"
		  " AND project_id = $1 AND snapshot_id = $2 AND name = $4 AND $3 <> $4"
		  " RETURNING 1)"
		  " UPDATE attachments SET name = $4, updated_at = now()"
		  " WHERE project_id = $1 AND snapshot_id = $2 AND name = $3"
		  " AND (SELECT count(*) FROM gone) >= 0",
	.remove = "DELETE FROM attachments"
		  " WHERE project_id = $1 AND snapshot_id = $2 AND name = $3",
};

static const struct meta_files_sql meta_pending_sql = {
	.list = "SELECT name, " META_FILE_FACTS
		" FROM pending WHERE project_id = $1 ORDER BY name COLLATE \"C\"",
	.get = "SELECT data, " META_FILE_FACTS
	       " FROM pending WHERE project_id = $1 AND name = $2",
	.put = "INSERT INTO pending (project_id, name, data, size, created_at, updated_at)"
	       " VALUES ($1, $2, $3::bytea, octet_length($3::bytea), now(), now())"
	       " ON CONFLICT (project_id, name) DO UPDATE SET"
	       " data = EXCLUDED.data, size = EXCLUDED.size, updated_at = now()",
	.create = "INSERT INTO pending (project_id, name, data, size, created_at, updated_at)"
		  " VALUES ($1, $2, ''::bytea, 0, now(), now())"
		  " ON CONFLICT (project_id, name) DO NOTHING",
	.rename = "WITH gone AS (DELETE FROM pending WHERE $4::boolean"
		  " AND project_id = $1 AND name = $3 AND $2 <> $3 RETURNING 1)"
		  " UPDATE pending SET name = $3, updated_at = now()"
		  " WHERE project_id = $1 AND name = $2"
		  " AND (SELECT count(*) FROM gone) >= 0",
	.remove = "DELETE FROM pending WHERE project_id = $1 AND name = $2",
};

static const struct meta_files_sql *meta_files(const char *snapshot_id)
{
	return *snapshot_id ? &meta_attachments_sql : &meta_pending_sql;
}

/* The parameters that say where the files are; returns how many it set. */
static int meta_files_key(const struct meta *m, const char *snapshot_id, const char **values)
{
	values[0] = m->project_id;
	if (!*snapshot_id)
		return 1;
	values[1] = snapshot_id;
	return 2;
}

int meta_attachment_list(struct meta *m, const char *snapshot_id,
			 struct meta_attachment **list, size_t *count, char *msg, size_t msglen)
{
	const char *values[2];
	struct meta_q q = { .values = values };
	struct meta_attachment *a;
	int r, i, n;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !list || !count) {
		util_msg(msg, msglen, "no snapshot id");
		return -EINVAL;
	}
	q.sql = meta_files(snapshot_id)->list;
	q.nparams = meta_files_key(m, snapshot_id, values);
	*list = NULL;
	*count = 0;
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	n = PQntuples(q.res);
	a = calloc(n > 0 ? (size_t)n : 1, sizeof(*a));
	if (!a) {
		PQclear(q.res);
		util_msg(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		snprintf(a[i].name, sizeof(a[i].name), "%s", PQgetvalue(q.res, i, 0));
		a[i].size = strtoll(PQgetvalue(q.res, i, 1), NULL, 10);
		a[i].created_at = strtoll(PQgetvalue(q.res, i, 2), NULL, 10);
		a[i].updated_at = strtoll(PQgetvalue(q.res, i, 3), NULL, 10);
	}
	PQclear(q.res);
	*list = a;
	*count = (size_t)n;
	return 0;
}

/* A bigint in the binary result format: 8 bytes, network order. */
static int64_t meta_int8(const PGresult *res, int row, int col)
{
	const unsigned char *p = (const unsigned char *)PQgetvalue(res, row, col);
	uint64_t v = 0;
	int i;

	if (PQgetlength(res, row, col) != 8)
		return 0;
	for (i = 0; i < 8; i++)
		v = (v << 8) | p[i];
	return (int64_t)v;
}

int meta_attachment_get(struct meta *m, const char *snapshot_id, const char *name,
			char **data, size_t *len, struct meta_attachment *info,
			char *msg, size_t msglen)
{
	const char *values[3];
	/* Binary results: the bytes arrive as they are, NULs and all, without hex. */
	struct meta_q q = { .values = values, .result_format = 1 };
	size_t n;
	char *buf;
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !name || !data || !len) {
		util_msg(msg, msglen, "no snapshot id or name");
		return -EINVAL;
	}
	q.sql = meta_files(snapshot_id)->get;
	q.nparams = meta_files_key(m, snapshot_id, values);
	values[q.nparams++] = name;
	*data = NULL;
	*len = 0;
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	if (PQntuples(q.res) == 0) {
		PQclear(q.res);
		util_msg(msg, msglen, "no such attachment");
		return -ENOENT;
	}
	n = (size_t)PQgetlength(q.res, 0, 0);
	buf = malloc(n + 1);	/* NUL-terminated for callers that treat it as text */
	if (!buf) {
		PQclear(q.res);
		util_msg(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	memcpy(buf, PQgetvalue(q.res, 0, 0), n);
	buf[n] = '\0';
	if (info) {
		memset(info, 0, sizeof(*info));
		snprintf(info->name, sizeof(info->name), "%s", name);
		info->size = meta_int8(q.res, 0, 1);
		info->created_at = meta_int8(q.res, 0, 2);
		info->updated_at = meta_int8(q.res, 0, 3);
	}
	PQclear(q.res);
	*data = buf;
	*len = n;
	return 0;
}

int meta_attachment_put(struct meta *m, const char *snapshot_id, const char *name,
			const char *data, size_t len, char *msg, size_t msglen)
{
	const char *values[4];
	int lengths[4] = { 0, 0, 0, 0 };
	int formats[4] = { 0, 0, 0, 0 };
	struct meta_q q = { .values = values, .lengths = lengths, .formats = formats };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !name || !*name || (!data && len)) {
		util_msg(msg, msglen, "no snapshot id or name");
		return -EINVAL;
	}
	if (len > 0x3fffffff) {		/* what one bytea value can hold */
		util_msg(msg, msglen, "attachment too large");
		return -EFBIG;
	}
	q.sql = meta_files(snapshot_id)->put;
	q.nparams = meta_files_key(m, snapshot_id, values);
	values[q.nparams++] = name;
	values[q.nparams] = data ? data : "";	/* NULL would be SQL NULL, not empty */
	lengths[q.nparams] = (int)len;
	formats[q.nparams++] = 1;		/* the content goes as raw bytes */
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	PQclear(q.res);
	return 0;
}

int meta_attachment_create(struct meta *m, const char *snapshot_id, const char *name,
			   char *msg, size_t msglen)
{
	const char *values[3];
	struct meta_q q = { .values = values };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !name || !*name) {
		util_msg(msg, msglen, "no snapshot id or name");
		return -EINVAL;
	}
	q.sql = meta_files(snapshot_id)->create;
	q.nparams = meta_files_key(m, snapshot_id, values);
	values[q.nparams++] = name;
	/* Not retried: a second run after a lost answer would see its own row as taken. */
	if ((r = meta_exec(m, false, &q, msg, msglen)) < 0)
		return r;
	r = meta_affected(&q, msg, msglen, "an attachment of that name exists");
	return r == -ENOENT ? -EEXIST : r;
}

int meta_attachment_rename(struct meta *m, const char *snapshot_id, const char *from,
			   const char *to, bool noreplace, char *msg, size_t msglen)
{
	const char *values[5];
	struct meta_q q = { .values = values };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !from || !to || !*to) {
		util_msg(msg, msglen, "no snapshot id or name");
		return -EINVAL;
	}
	q.sql = meta_files(snapshot_id)->rename;
	q.nparams = meta_files_key(m, snapshot_id, values);
	values[q.nparams++] = from;
	values[q.nparams++] = to;
	values[q.nparams++] = noreplace ? "f" : "t";
	if ((r = meta_exec(m, false, &q, msg, msglen)) < 0)
		return r;
	return meta_affected(&q, msg, msglen, "no such attachment");
}

int meta_attachment_delete(struct meta *m, const char *snapshot_id, const char *name,
			   char *msg, size_t msglen)
{
	const char *values[3];
	struct meta_q q = { .values = values };
	int r;

	if (!m)
		return meta_none(msg, msglen);
	if (!snapshot_id || !name) {
		util_msg(msg, msglen, "no snapshot id or name");
		return -EINVAL;
	}
	q.sql = meta_files(snapshot_id)->remove;
	q.nparams = meta_files_key(m, snapshot_id, values);
	values[q.nparams++] = name;
	if ((r = meta_exec(m, true, &q, msg, msglen)) < 0)
		return r;
	return meta_affected(&q, msg, msglen, "no such attachment");
}

/* A restore's lock: a session advisory lock keyed by (this constant, hashtext(project id)),
 * on a connection of its own that nothing else uses until the restore ends. A session lock
 * and not a transaction: the restore takes minutes and an open transaction would hold back
 * vacuum; if neonfs dies, or its connection does, the server drops the lock with it. */
#define META_RESTORE_LOCK_CLASS		"1852207986"	/* "neonfs restore", not the migration key */
#define META_RESTORE_HOLDER_PREFIX	"neonfs restore: "

struct meta_lock {
	PGconn *conn;
};

/* Who holds this project's restore lock, from the application name it set. */
static void meta_lock_holder(PGconn *conn, const char *project_id, char *holder, size_t len)
{
	const char *values[] = { META_RESTORE_LOCK_CLASS, project_id };
	PGresult *res = NULL;

	snprintf(holder, len, "holder unknown");
	if (pg_exec(conn, "SELECT a.application_name FROM pg_locks l"
		    " JOIN pg_stat_activity a ON a.pid = l.pid"
		    " WHERE l.locktype = 'advisory' AND l.granted AND l.objsubid = 2"
		    " AND l.classid = $1::int::oid AND l.objid = hashtext($2)::oid"
		    " AND l.database = (SELECT oid FROM pg_database"
		    "  WHERE datname = current_database())",
		    2, values, &res, NULL, 0) < 0)
		return;
	if (PQntuples(res) > 0) {
		const char *name = PQgetvalue(res, 0, 0);
		size_t n = strlen(META_RESTORE_HOLDER_PREFIX);

		if (strncmp(name, META_RESTORE_HOLDER_PREFIX, n) == 0 && name[n])
			snprintf(holder, len, "%s", name + n);
	}
	PQclear(res);
}

/* 1 when the lock was taken, 0 when another session holds it, -errno on failure. The name
 * is set first, so whoever finds the lock taken can tell who took it. */
static int meta_lock_try(PGconn *conn, const char *project_id, const char *holder,
			 char *msg, size_t msglen)
{
	const char *values[] = { META_RESTORE_LOCK_CLASS, project_id };
	char name[128];
	const char *named[] = { name };
	PGresult *res = NULL;
	int r;

	snprintf(name, sizeof(name), META_RESTORE_HOLDER_PREFIX "%s", holder ? holder : "");
	if ((r = meta_run(conn, "SELECT set_config('application_name', $1, false)", 1, named,
			  msg, msglen)) < 0)
		return r;
	if ((r = pg_exec(conn, "SELECT pg_try_advisory_lock($1::int, hashtext($2))", 2, values,
			 &res, msg, msglen)) < 0)
		return r;
	r = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	PQclear(res);
	return r;
}

int meta_restore_lock(struct meta *m, const char *holder, struct meta_lock **lock,
		      char *msg, size_t msglen)
{
	PGconn *conn = NULL;
	int attempt, err = 0, r = -EIO;

	*lock = NULL;
	if (!m)
		return meta_none(msg, msglen);
	/* Twice: a pooled connection may have died since it was last used. */
	for (attempt = 0; attempt < 2; attempt++) {
		conn = pg_acquire(m->pool, m->url, &err, msg, msglen);
		if (!conn)
			return -err;
		r = meta_lock_try(conn, m->project_id, holder, msg, msglen);
		if (r >= 0 || PQstatus(conn) == CONNECTION_OK)
			break;
		pg_release(m->pool, m->url, conn, true);
		conn = NULL;
	}
	if (r < 0)
		goto fail;
	if (r == 0) {
		char who[128];

		meta_lock_holder(conn, m->project_id, who, sizeof(who));
		util_msg(msg, msglen, "a restore of this project is running through another "
			 "mount (%s)", who);
		r = -EBUSY;
		goto fail;
	}
	*lock = calloc(1, sizeof(**lock));
	if (!*lock) {
		util_msg(msg, msglen, "out of memory");
		r = -ENOMEM;
		goto fail;	/* closing the connection drops the lock */
	}
	(*lock)->conn = conn;
	return 0;

fail:
	/* Closed, not pooled: it carries the restore's name, and perhaps the lock. */
	pg_release(m->pool, m->url, conn, true);
	return r;
}

int meta_restore_unlock(struct meta *m, struct meta_lock *lock, char *msg, size_t msglen)
{
	const char *values[] = { META_RESTORE_LOCK_CLASS, m ? m->project_id : NULL };
	PGresult *res = NULL;
	int r;

	if (!lock)
		return 0;
	/* Unlocked before the close, so the next restore need not wait for the server to
	 * notice the closed connection. */
	r = pg_exec(lock->conn, "SELECT pg_advisory_unlock($1::int, hashtext($2))", 2, values,
		    &res, msg, msglen);
	if (r == 0 && !(PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0)) {
		util_msg(msg, msglen, "the restore lock was no longer held");
		r = -ENOLCK;
	} else if (r < 0) {
		char why[256];

		snprintf(why, sizeof(why), "%s", msg ? msg : "");
		util_msg(msg, msglen, "the restore lock's connection failed, so the lock may "
			 "have been lost during the restore: %s", why);
	}
	PQclear(res);
	pg_release(m->pool, m->url, lock->conn, true);
	free(lock);
	return r;
}

int meta_restore_begin(struct meta *m, const struct meta_restore *r, int64_t *audit_id,
		       char *msg, size_t msglen)
{
	const char *values[9];
	struct meta_q q = {
		.sql = "INSERT INTO restores (project_id, snapshot_id, snapshot_name,"
		       " branch_before, branch_after, mount_user, mount_host, outcome, error)"
		       " VALUES ($1, $2, nullif($3, ''), nullif($4, ''), nullif($5, ''),"
		       " nullif($6, ''), nullif($7, ''), coalesce(nullif($8, ''), 'running'),"
		       " nullif($9, ''))"
		       " RETURNING id",
		.nparams = 9, .values = values,
	};
	int rc;

	if (!m)
		return meta_none(msg, msglen);
	if (!r || !audit_id) {
		util_msg(msg, msglen, "no restore given");
		return -EINVAL;
	}
	values[0] = m->project_id;
	values[1] = r->snapshot_id;
	values[2] = r->snapshot_name;
	values[3] = r->branch_before;
	values[4] = r->branch_after;
	values[5] = r->user;
	values[6] = r->host;
	values[7] = r->outcome;
	values[8] = r->error;
	/* Not retried: if the insert went through before the link died, a second one
	 * would log the restore twice. */
	if ((rc = meta_exec(m, false, &q, msg, msglen)) < 0)
		return rc;
	*audit_id = strtoll(PQgetvalue(q.res, 0, 0), NULL, 10);
	PQclear(q.res);
	return 0;
}

int meta_restore_end(struct meta *m, int64_t audit_id, const struct meta_restore *r,
		     char *msg, size_t msglen)
{
	char id[24];
	const char *values[6];
	struct meta_q q = {
		.sql = "UPDATE restores SET"
		       " branch_before = coalesce(nullif($6, ''), branch_before),"
		       " branch_after = coalesce(nullif($3, ''), branch_after),"
		       " outcome = coalesce(nullif($4, ''), outcome),"
		       " error = nullif($5, ''),"
		       " ended_at = CASE WHEN coalesce(nullif($4, ''), outcome) = 'running'"
		       "  THEN NULL ELSE now() END"
		       " WHERE project_id = $1 AND id = $2::bigint",
		.nparams = 6, .values = values,
	};
	int rc;

	if (!m)
		return meta_none(msg, msglen);
	if (!r) {
		util_msg(msg, msglen, "no restore given");
		return -EINVAL;
	}
	snprintf(id, sizeof(id), "%lld", (long long)audit_id);
	values[0] = m->project_id;
	values[1] = id;
	values[2] = r->branch_after;
	values[3] = r->outcome;
	values[4] = r->error;
	values[5] = r->branch_before;	/* a locked restore may have been sent to another */
	if ((rc = meta_exec(m, true, &q, msg, msglen)) < 0)
		return rc;
	return meta_affected(&q, msg, msglen, "no such restore in the log");
}

/* A JSON string, or null for SQL NULL. */
static struct json_object *meta_json_text(const PGresult *res, int row, int col)
{
	if (PQgetisnull(res, row, col))
		return NULL;
	return json_object_new_string(PQgetvalue(res, row, col));
}

int meta_restore_log(struct meta *m, int limit, struct json_object **rows, char *msg, size_t msglen)
{
	char lim[16];
	const char *values[2];
	struct meta_q q = {
		.sql = "SELECT id, snapshot_id, snapshot_name, branch_before, branch_after,"
		       " mount_user, mount_host, " META_ISO("started_at") ", "
		       META_ISO("ended_at") ", outcome, error"
		       " FROM restores WHERE project_id = $1 ORDER BY id DESC LIMIT $2::bigint",
		.nparams = 2, .values = values,
	};
	static const char *const keys[] = {
		"id", "snapshot_id", "snapshot_name", "branch_before", "branch_after",
		"user", "host", "started_at", "ended_at", "outcome", "error"
	};
	struct json_object *arr;
	int rc, i, k;

	if (!m)
		return meta_none(msg, msglen);
	if (!rows) {
		util_msg(msg, msglen, "no place for the rows");
		return -EINVAL;
	}
	*rows = NULL;
	snprintf(lim, sizeof(lim), "%d", limit);
	values[0] = m->project_id;
	values[1] = limit > 0 ? lim : NULL;	/* LIMIT NULL: all of them */
	if ((rc = meta_exec(m, true, &q, msg, msglen)) < 0)
		return rc;
	arr = json_object_new_array();
	if (!arr)
		goto nomem;
	for (i = 0; i < PQntuples(q.res); i++) {
		struct json_object *o = json_object_new_object();

		if (!o)
			goto nomem;
		json_object_object_add(o, keys[0], json_object_new_int64(
			strtoll(PQgetvalue(q.res, i, 0), NULL, 10)));
		for (k = 1; k < (int)(sizeof(keys) / sizeof(keys[0])); k++)
			json_object_object_add(o, keys[k], meta_json_text(q.res, i, k));
		json_object_array_add(arr, o);
	}
	PQclear(q.res);
	*rows = arr;
	return 0;

nomem:
	json_object_put(arr);
	PQclear(q.res);
	util_msg(msg, msglen, "out of memory");
	return -ENOMEM;
}
