/* meta_restore: the restore lock, one restore of a project at a time across every mount of
 * this meta database, and the restore audit log. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


#include "meta.h"
#include "model.h"
#include "meta_internal.h"
#include "pg.h"
#include "util.h"

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

/* A column's text, or NULL for SQL NULL. */
static const char *meta_text(const PGresult *res, int row, int col)
{
	return PQgetisnull(res, row, col) ? NULL : PQgetvalue(res, row, col);
}

int meta_restore_log(struct meta *m, int limit, char **rows, char *msg, size_t msglen)
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
	struct model_restore_row *row = NULL;
	int rc, i, n;

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
	n = PQntuples(q.res);
	row = calloc(n ? (size_t)n : 1, sizeof(*row));
	if (!row)
		goto nomem;
	for (i = 0; i < n; i++) {
		row[i].id = strtoll(PQgetvalue(q.res, i, 0), NULL, 10);
		row[i].snapshot_id = meta_text(q.res, i, 1);
		row[i].snapshot_name = meta_text(q.res, i, 2);
		row[i].branch_before = meta_text(q.res, i, 3);
		row[i].branch_after = meta_text(q.res, i, 4);
		row[i].user = meta_text(q.res, i, 5);
		row[i].host = meta_text(q.res, i, 6);
		row[i].started_at = meta_text(q.res, i, 7);
		row[i].ended_at = meta_text(q.res, i, 8);
		row[i].outcome = meta_text(q.res, i, 9);
		row[i].error = meta_text(q.res, i, 10);
	}
	/* Written while the rows still point into the result. */
	*rows = model_restore_log(row, (size_t)n);
	if (!*rows)
		goto nomem;
	free(row);
	PQclear(q.res);
	return 0;

nomem:
	free(row);
	PQclear(q.res);
	util_msg(msg, msglen, "out of memory");
	return -ENOMEM;
}

int meta_restore_unsettled(struct meta *m, struct meta_restore_row **list, size_t *count,
			   char *msg, size_t msglen)
{
	const char *values[1];
	struct meta_q q = {
		.sql = "SELECT id, extract(epoch FROM started_at)::bigint, snapshot_id,"
		       " coalesce(snapshot_name, ''), coalesce(branch_before, ''),"
		       " coalesce(mount_user, ''), coalesce(mount_host, '')"
		       " FROM restores WHERE project_id = $1 AND outcome = 'running' ORDER BY id",
		.nparams = 1, .values = values,
	};
	struct meta_restore_row *rows;
	int rc, i, n;

	*list = NULL;
	*count = 0;
	if (!m)
		return meta_none(msg, msglen);
	values[0] = m->project_id;
	if ((rc = meta_exec(m, true, &q, msg, msglen)) < 0)
		return rc;
	n = PQntuples(q.res);
	rows = calloc(n ? (size_t)n : 1, sizeof(*rows));
	if (!rows) {
		PQclear(q.res);
		util_msg(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		struct meta_restore *r = &rows[i].r;

		rows[i].id = strtoll(PQgetvalue(q.res, i, 0), NULL, 10);
		rows[i].started_at = strtoll(PQgetvalue(q.res, i, 1), NULL, 10);
		snprintf(r->snapshot_id, sizeof(r->snapshot_id), "%s", PQgetvalue(q.res, i, 2));
		snprintf(r->snapshot_name, sizeof(r->snapshot_name), "%s", PQgetvalue(q.res, i, 3));
		snprintf(r->branch_before, sizeof(r->branch_before), "%s", PQgetvalue(q.res, i, 4));
		snprintf(r->user, sizeof(r->user), "%s", PQgetvalue(q.res, i, 5));
		snprintf(r->host, sizeof(r->host), "%s", PQgetvalue(q.res, i, 6));
		snprintf(r->outcome, sizeof(r->outcome), "running");
	}
	PQclear(q.res);
	*list = rows;
	*count = (size_t)n;
	return 0;
}
