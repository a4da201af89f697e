/* pg: libpq connections, reused per connection string, reconnected when they break.
 *
 * A connection is borrowed for one unit of work and given back. Dead connections (a restore
 * restarts the compute; the network drops) are detected on borrow and replaced, so callers
 * see a working connection or an errno with a message, never a hang. */
#ifndef NEONFS_PG_H
#define NEONFS_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <libpq-fe.h>

struct pg_pool;

/* @connect_timeout_s bounds connecting; @statement_timeout_s is set on every connection. */
struct pg_pool *pg_pool_new(double connect_timeout_s, double statement_timeout_s);
void pg_pool_free(struct pg_pool *p);

/* Borrows a connection to @uri (a postgresql:// URI or conninfo). Returns NULL with a
 * positive errno in *err (ETIMEDOUT, ECONNREFUSED, EACCES, EIO) and words in @msg. */
PGconn *pg_acquire(struct pg_pool *p, const char *uri, int *err, char *msg, size_t msglen);

/* Gives @conn back. @broken: the caller saw it fail; it is closed instead of kept. */
void pg_release(struct pg_pool *p, const char *uri, PGconn *conn, bool broken);

/* Idle connections older than @idle_s are closed (-o pg_idle; default 60 s), so a
 * compute that was read once can suspend (Neon bills a compute while it runs). */
void pg_pool_set_idle(struct pg_pool *p, double idle_s);
/* Closes the idle connections older than that, of every URI; returns how many. Called on
 * a timer (the watcher's thread), not only when a URI is borrowed again. */
size_t pg_close_idle(struct pg_pool *p);

/* Closes every idle connection to @uri (its target changed, e.g. after a restore). */
void pg_forget(struct pg_pool *p, const char *uri);

/* Maps a failed result or connection to an errno and copies the server's words to @msg.
 * Sets *broken when the connection itself is gone. */
int pg_errno(PGconn *conn, const PGresult *res, bool *broken, char *msg, size_t msglen);

/* Helpers beyond the pool itself. */

/* One unit of work on a borrowed connection: returns 0 or -errno (words in @msg). */
typedef int (*pg_work_fn)(PGconn *conn, void *arg, char *msg, size_t msglen);

/* Borrows a connection to @uri, runs @fn on it and gives the connection back (closed when
 * it broke). @retry: @fn is safe to run twice (a read, or an idempotent write); if it failed
 * because a pooled connection had died (a restore restarted the compute), it runs once more
 * on a freshly opened connection. Returns what @fn returned, or -errno when no connection
 * could be made. */
int pg_run(struct pg_pool *p, const char *uri, bool retry, pg_work_fn fn, void *arg,
	   char *msg, size_t msglen);

/* A read through pg_run: PQexecParams of @sql with @nparams text parameters (NULL entries
 * are SQL NULL), retried once on a fresh connection as above. Returns 0 and the result in
 * *res (PGRES_TUPLES_OK or PGRES_COMMAND_OK; PQclear it), or -errno with words in @msg. */
int pg_query(struct pg_pool *p, const char *uri, const char *sql, int nparams,
	     const char *const *values, PGresult **res, char *msg, size_t msglen);

/* Executes @sql on @conn with text parameters; 0 and *res on success (PQclear it), else
 * -errno with words in @msg and *res NULL. For use inside a pg_work_fn. The wait for the
 * answer is bounded on the client too (the pool's statement timeout plus a margin), so a
 * frozen server yields ETIMEDOUT; the connection is then busy and pg_release closes it. */
int pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
	    PGresult **res, char *msg, size_t msglen);

/* As pg_exec, with PQexecParams's @lengths and @formats (1: binary, e.g. bytea) for the
 * parameters and @result_format (1: binary) for the result. */
int pg_exec_params(PGconn *conn, const char *sql, int nparams, const char *const *values,
		   const int *lengths, const int *formats, int result_format,
		   PGresult **res, char *msg, size_t msglen);

/* Runs @n parameterless statements in one round trip (libpq's pipeline mode) and collects
 * one result per statement into @res (PQclear each). @names[i] non-NULL: a prepared
 * statement of that name, first prepared from @sqls[i] when @prepare (planned once per
 * connection, not per run); NULL: @sqls[i] as it is. Returns @n, or -errno with words in
 * @msg and nothing in @res: the first failed statement's (the server skips the rest),
 * ETIMEDOUT as pg_exec. For use inside a pg_work_fn. */
int pg_pipeline(PGconn *conn, int n, const char *const *names, const char *const *sqls,
		bool prepare, PGresult **res, char *msg, size_t msglen);

/* Per-connection flags for what a user set up on a pooled connection (prepared
 * statements): pg_mark sets @mark and returns 1 if it was set already, 0 if not; -1 for a
 * connection the pool did not open, which keeps no flags. pg_unmark clears it. */
int pg_mark(PGconn *conn, unsigned mark);
void pg_unmark(PGconn *conn, unsigned mark);

#endif
