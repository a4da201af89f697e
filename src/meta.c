/* meta: the checkpoint records, attachments and restore audit log, kept in a Postgres
 * database separate from the project, so no restore can roll them back.
 *
 * Connections come from a private pg pool: several FUSE threads may talk to the meta
 * database at once, a connection that died (the database restarted) is replaced on the
 * next call, and idempotent calls are retried once on a fresh connection.
 *
 * This file is the connection, the migrations, the statement helpers the module's files
 * share (meta_internal.h) and the checkpoint records; the stored files are in
 * meta_files.c, the restore lock and audit log in meta_restore.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "meta_internal.h"
#include "pg.h"
#include "util.h"

#define META_CONNECT_TIMEOUT_S		5
#define META_STATEMENT_TIMEOUT_S	30
#define META_LOCK_KEY			"121381940258419"	/* "neonfs" as a number */

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

int meta_none(char *msg, size_t msglen)
{
	util_msg(msg, msglen, "no meta database");
	return -ENOTSUP;
}

static int meta_q_fn(PGconn *conn, void *arg, char *msg, size_t msglen)
{
	struct meta_q *q = arg;

	return pg_exec_params(conn, q->sql, q->nparams, q->values, q->lengths, q->formats,
			      q->result_format, &q->res, msg, msglen);
}

int meta_exec(struct meta *m, bool retry, struct meta_q *q, char *msg, size_t msglen)
{
	int r = pg_run(m->pool, m->url, retry, meta_q_fn, q, msg, msglen);

	if (r < 0) {
		PQclear(q->res);
		q->res = NULL;
	}
	return r;
}

int meta_affected(struct meta_q *q, char *msg, size_t msglen, const char *what)
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

int meta_run(PGconn *conn, const char *sql, int nparams, const char *const *values,
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
	if (!m->shares_pool)
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

struct meta *meta_for_project(struct meta *base, const char *project_id)
{
	struct meta *m;

	if (!base || !project_id || !*project_id)
		return NULL;
	m = calloc(1, sizeof(*m));
	if (!m)
		return NULL;
	m->url = strdup(base->url);
	m->project_id = strdup(project_id);
	if (!m->url || !m->project_id) {
		free(m->url);
		free(m->project_id);
		free(m);
		return NULL;
	}
	m->pool = base->pool;
	m->shares_pool = true;
	return m;
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
