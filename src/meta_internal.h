/* meta_internal: what the meta module's own files share; only src/meta*.c include it.
 *
 * The module is split by concern: meta.c is the connection, the migrations, the statement
 * helpers below and the checkpoint records; meta_files.c the files stored in the meta
 * database (a snapshot's attachments and the pending files of active/next/); meta_restore.c
 * the restore lock and the restore audit log. None of this is part of the module's
 * interface, which stays in include/meta.h. */
#ifndef NEONFS_META_INTERNAL_H
#define NEONFS_META_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

#include "meta.h"

/* Times as ISO 8601 in UTC, NULL stays NULL. */
#define META_ISO(col) \
	"to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* Never changes after meta_open, so it needs no lock of its own. */
struct meta {
	struct pg_pool *pool;
	char *url;
	char *project_id;
	bool shares_pool;	/* meta_for_project's: the pool is the one it came from */
};

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

/* -ENOTSUP, "no meta database": what every call gives without one. */
int meta_none(char *msg, size_t msglen);
/* @retry: the statement may run twice without harm (reads, upserts, updates to fixed
 * values, deletes). */
int meta_exec(struct meta *m, bool retry, struct meta_q *q, char *msg, size_t msglen);
/* Rows an UPDATE or DELETE touched; 0 means the record is not there. */
int meta_affected(struct meta_q *q, char *msg, size_t msglen, const char *what);
/* One statement on @conn, its result dropped. */
int meta_run(PGconn *conn, const char *sql, int nparams, const char *const *values,
	     char *msg, size_t msglen);

#endif
