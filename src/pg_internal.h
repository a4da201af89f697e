/* pg_internal: what the pg module's own files share; only src/pg*.c include it.
 *
 * The module is split by concern: pg.c is the connection pool, the per-connection data
 * (wait bound, marks) and pg_exec; pg_pipeline.c the pipeline mode. None of this is part
 * of the module's interface, which stays in include/pg.h. */
#ifndef NEONFS_PG_INTERNAL_H
#define NEONFS_PG_INTERNAL_H

#include <libpq-fe.h>

/* How long a client may wait for an answer on @conn, in ms; 0: no bound. */
long pg_wait_ms(PGconn *conn);

/* Waits until @conn's socket is ready for @events or the deadline passes.
 * Returns 1 ready, 0 timed out, -1 failed. */
int pg_wait(PGconn *conn, short events, double deadline);

#endif
