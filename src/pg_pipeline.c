/* pg_pipeline: several statements in one round trip, with libpq's pipeline mode. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>

#include "pg.h"
#include "pg_internal.h"
#include "util.h"

int pg_pipeline(PGconn *conn, int n, const char *const *names, const char *const *sqls,
		bool prepare, PGresult **res, char *msg, size_t msglen)
{
	double deadline;
	PGresult *r, *failed_res = NULL;
	ExecStatusType st;
	int err, w, f, i, got = 0, step = 0, nsteps = 0, nulls = 0, *steps;
	long wait_ms;
	bool synced = false, in_pipeline = false;

	for (i = 0; i < n; i++)
		res[i] = NULL;
	if (!conn) {
		util_msg(msg, msglen, "no database connection");
		return -EINVAL;
	}
	/* The results come in the order sent: a PREPARE's (-1) before its statement's (i). */
	steps = malloc(2 * (size_t)n * sizeof(*steps));
	if (!steps) {
		util_msg(msg, msglen, "out of memory");
		return -ENOMEM;
	}
	for (i = 0; i < n; i++) {
		if (names[i] && prepare)
			steps[nsteps++] = -1;
		steps[nsteps++] = i;
	}
	wait_ms = pg_wait_ms(conn);
	deadline = util_now() + (wait_ms > 0 ? wait_ms / 1000.0 : 1e9);

	if (PQsetnonblocking(conn, 1) != 0 || !PQenterPipelineMode(conn))
		goto failed;
	in_pipeline = true;
	for (i = 0; i < n; i++) {
		if (names[i] && prepare && !PQsendPrepare(conn, names[i], sqls[i], 0, NULL))
			goto failed;
		if (names[i] ? !PQsendQueryPrepared(conn, names[i], 0, NULL, NULL, NULL, 0) :
		    !PQsendQueryParams(conn, sqls[i], 0, NULL, NULL, NULL, NULL, 0))
			goto failed;
	}
	if (!PQpipelineSync(conn))
		goto failed;
	while ((f = PQflush(conn)) != 0) {
		if (f < 0)
			goto failed;
		w = pg_wait(conn, POLLOUT | POLLIN, deadline);
		if (w == 0)
			goto timeout;
		if (w < 0 || !PQconsumeInput(conn))
			goto failed;
	}
	/* One result per command, each followed by NULL; the sync's result ends it. */
	while (!synced) {
		while (PQisBusy(conn)) {
			w = pg_wait(conn, POLLIN, deadline);
			if (w == 0)
				goto timeout;
			if (w < 0 || !PQconsumeInput(conn))
				goto failed;
		}
		r = PQgetResult(conn);
		if (!r) {
			/* One NULL ends a command's results; two in a row, nothing more comes
			 * (the link broke before the sync). */
			if (++nulls > 1 || PQstatus(conn) != CONNECTION_OK)
				goto failed;
			continue;
		}
		nulls = 0;
		st = PQresultStatus(r);
		if (st == PGRES_PIPELINE_SYNC) {
			synced = true;
		} else if (st == PGRES_FATAL_ERROR && !failed_res) {
			failed_res = r;	/* what follows it is skipped: PGRES_PIPELINE_ABORTED */
			r = NULL;
		} else if ((st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) && step < nsteps &&
			   steps[step] >= 0) {
			res[steps[step]] = r;
			got++;
			r = NULL;
		}
		if (st != PGRES_PIPELINE_SYNC)
			step++;
		PQclear(r);
	}
	if (!PQexitPipelineMode(conn))
		goto failed;
	in_pipeline = false;
	PQsetnonblocking(conn, 0);
	free(steps);
	if (failed_res || got < n) {
		if (failed_res)
			err = pg_errno(conn, failed_res, NULL, msg, msglen);
		else {
			err = EIO;
			util_msg(msg, msglen, "the database left statements unanswered");
		}
		PQclear(failed_res);
		goto clear;
	}
	return n;

timeout:
	/* The connection is mid-pipeline now; pg_release sees it busy and closes it. */
	if (msg && msglen)
		snprintf(msg, msglen, "no answer from the database server within %ld s",
			 (wait_ms + 999) / 1000);
	err = ETIMEDOUT;
	PQclear(failed_res);
	free(steps);
	goto clear;

failed:
	err = pg_errno(conn, failed_res, NULL, msg, msglen);
	PQclear(failed_res);
	free(steps);
	/* Left in pipeline mode, the connection is closed by pg_release. */
	if (!in_pipeline && PQstatus(conn) == CONNECTION_OK)
		PQsetnonblocking(conn, 0);
clear:
	for (i = 0; i < n; i++) {
		PQclear(res[i]);
		res[i] = NULL;
	}
	return -err;
}
