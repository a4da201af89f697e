/* schema: one database's schema as deterministic, replayable SQL text.
 *
 * Read from the system catalogs through libpq. The same schema gives the same bytes
 * whatever the OIDs or creation order, so diff of two texts is a schema diff. */
#ifndef NEONFS_SCHEMA_H
#define NEONFS_SCHEMA_H

#include <stddef.h>
#include <libpq-fe.h>

/* Renders the schema of @conn's database into *text (malloc'd, NUL-terminated).
 * Runs in its own REPEATABLE READ READ ONLY transaction.
 * Returns 0, or -errno with the reason in @msg. */
int schema_dump(PGconn *conn, char **text, char *msg, size_t msglen);

/* As schema_dump, and also reads pg_current_wal_lsn() in the same transaction into @lsn
 * ("0/16B3748" form), so a snapshot taken at that LSN has exactly this schema. */
int schema_dump_at_lsn(PGconn *conn, char **text, char *lsn, size_t lsnlen,
		       char *msg, size_t msglen);

struct pg_pool;

/* Borrows a connection to @uri from @pool, dumps through it and gives it back. A read: if
 * a pooled connection had died (a restore restarted the compute), it runs once more on a
 * fresh one. @lsn may be NULL; otherwise as schema_dump_at_lsn. */
int schema_dump_uri(struct pg_pool *pool, const char *uri, char **text, char *lsn,
		    size_t lsnlen, char *msg, size_t msglen);

/* For tests: the part of schema_dump after the catalogs are read, on rows given as text.
 * Cells are row-major, nrows * nfields of them, a NULL cell being SQL NULL. @units are the
 * results of the unit queries, nine columns each (classid, objid, phase, schema, name,
 * sub-kind, sub-name, DDL, "classid:objid ..." dependencies); @parts and @edges have four
 * (classid, objid, owner's or referenced classid, objid). Writes what schema_dump would
 * for those rows into *text (malloc'd). Returns 0, -EPROTO on a wrong column count, or
 * -ENOMEM. */
struct schema_rows {
	const char *const *cells;
	int nrows, nfields;
};
int schema_render_rows(const struct schema_rows *units, size_t nunits,
		       const struct schema_rows *parts, const struct schema_rows *edges,
		       char **text);

#endif
