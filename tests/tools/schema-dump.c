/* schema-dump: prints the schema text neonfs shows in a `schema` file.
 *
 *   schema-dump <conninfo or postgresql:// URI> [--lsn]
 *
 * The text goes to stdout; with --lsn the LSN it was read at goes to stderr (read through
 * schema_dump_uri, the pool helper; without it through pg_acquire and schema_dump). On
 * failure the reason goes to stderr and the exit status is 1. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "schema.h"

int main(int argc, char *argv[])
{
	struct pg_pool *pool;
	PGconn *conn;
	char msg[512] = "", lsn[64] = "";
	char *text = NULL;
	bool want_lsn = argc > 2 && strcmp(argv[2], "--lsn") == 0;
	int err = 0, r;

	if (argc < 2 || argc > 3 || (argc == 3 && !want_lsn)) {
		fprintf(stderr, "usage: %s <conninfo|uri> [--lsn]\n", argv[0]);
		return 1;
	}
	pool = pg_pool_new(5, 60);
	if (!pool) {
		fprintf(stderr, "schema-dump: out of memory\n");
		return 1;
	}
	if (want_lsn) {
		r = schema_dump_uri(pool, argv[1], &text, lsn, sizeof(lsn), msg, sizeof(msg));
	} else {
		conn = pg_acquire(pool, argv[1], &err, msg, sizeof(msg));
		if (!conn) {
			fprintf(stderr, "schema-dump: cannot connect (errno %d): %s\n", err, msg);
			pg_pool_free(pool);
			return 1;
		}
		r = schema_dump(conn, &text, msg, sizeof(msg));
		pg_release(pool, argv[1], conn, r < 0);
	}
	pg_pool_free(pool);
	if (r < 0) {
		fprintf(stderr, "schema-dump: %s (errno %d)\n", msg, -r);
		return 1;
	}
	fputs(text, stdout);
	if (want_lsn)
		fprintf(stderr, "%s\n", lsn);
	free(text);
	return fflush(stdout) == 0 ? 0 : 1;
}
