/* meta_files: the files kept in the meta database, a snapshot's attachments and the
 * pending files of active/next/, through one set of functions. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "meta.h"
#include "meta_internal.h"
#include "pg.h"
#include "util.h"

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
