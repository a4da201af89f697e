/* pg: libpq connections, reused per connection string, reconnected when they break.
 *
 * The pool keeps a few idle connections per URI. A borrowed connection belongs to one
 * thread until it is given back, so libpq never sees two threads on one PGconn; the pool's
 * own lists are guarded by one mutex that is never held across network I/O.
 *
 * Every wait is bounded: connect_timeout for connecting, statement_timeout on the server for
 * queries, TCP keepalives and TCP_USER_TIMEOUT for a peer that vanished without a word, and
 * a poll() deadline for the liveness check of an idle connection. */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libpq-events.h>

#include "errmap.h"
#include "pg.h"
#include "pg_internal.h"
#include "util.h"

#define PG_IDLE_MAX		4	/* idle connections kept per URI */
#define PG_IDLE_CHECK_S		2.0	/* idle longer than this: ping before reuse */
#define PG_IDLE_MAX_S		60.0	/* idle longer than this: closed, so a compute may suspend */
#define PG_KEEPALIVE_IDLE_S	5	/* a silent peer is probed after this long ... */
#define PG_KEEPALIVE_INTERVAL_S	2	/* ... every this often ... */
#define PG_KEEPALIVE_COUNT	3	/* ... and given up after this many lost probes */
#define PG_WAIT_MARGIN_MS	3000	/* client wait beyond the server's statement timeout */
#define PG_WAIT_DEFAULT_MS	120000	/* client wait on a connection not opened here */

struct pg_idle {
	PGconn *conn;
	double since;		/* monotonic seconds when it was given back */
};

struct pg_target {
	struct pg_target *next;
	char *uri;
	size_t nidle;
	struct pg_idle idle[PG_IDLE_MAX];	/* oldest first */
};

struct pg_pool {
	pthread_mutex_t lock;
	int connect_timeout_s;
	long statement_timeout_ms;
	double idle_s;		/* an idle connection older than this is closed */
	struct pg_target *targets;
};

/* Rounds up to a whole number (no libm: the project links without it). */
static long pg_round_up(double v)
{
	long n = (long)v;

	return (double)n < v ? n + 1 : n;
}

/* Copies @text into @msg on one line: libpq's messages carry newlines and tabs. */
static void pg_msg_one_line(char *msg, size_t msglen, const char *text)
{
	size_t n = 0;
	bool space = false;

	if (!msg || msglen == 0)
		return;
	if (!text)
		text = "";
	for (; *text && n + 1 < msglen; text++) {
		if (*text == '\n' || *text == '\t' || *text == '\r' || *text == ' ') {
			space = n > 0;
			continue;
		}
		if (space) {
			if (n + 2 >= msglen)
				break;
			msg[n++] = ' ';
			space = false;
		}
		msg[n++] = *text;
	}
	msg[n] = '\0';
}

struct pg_pool *pg_pool_new(double connect_timeout_s, double statement_timeout_s)
{
	struct pg_pool *p = calloc(1, sizeof(*p));

	if (!p)
		return NULL;
	if (pthread_mutex_init(&p->lock, NULL) != 0) {
		free(p);
		return NULL;
	}
	/* libpq treats anything below 2 s as 2 s; say so rather than pretend. */
	p->connect_timeout_s = connect_timeout_s > 2.0 ? (int)pg_round_up(connect_timeout_s) : 2;
	p->idle_s = PG_IDLE_MAX_S;
	p->statement_timeout_ms = statement_timeout_s > 0 ?
		pg_round_up(statement_timeout_s * 1000.0) : 0;
	return p;
}

static void pg_target_free(struct pg_target *t)
{
	size_t i;

	for (i = 0; i < t->nidle; i++)
		PQfinish(t->idle[i].conn);
	free(t->uri);
	free(t);
}

void pg_pool_free(struct pg_pool *p)
{
	struct pg_target *t, *next;

	if (!p)
		return;
	for (t = p->targets; t; t = next) {
		next = t->next;
		pg_target_free(t);
	}
	pthread_mutex_destroy(&p->lock);
	free(p);
}

static struct pg_target *pg_find(struct pg_pool *p, const char *uri)
{
	struct pg_target *t;

	for (t = p->targets; t; t = t->next)
		if (strcmp(t->uri, uri) == 0)
			return t;
	return NULL;
}

int pg_errno(PGconn *conn, const PGresult *res, bool *broken, char *msg, size_t msglen)
{
	const char *state = NULL, *words = NULL;
	bool gone = conn == NULL || PQstatus(conn) != CONNECTION_OK;
	int err = 0;

	if (res) {
		state = PQresultErrorField(res, PG_DIAG_SQLSTATE);
		words = PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY);
		if (!words || !*words)
			words = PQresultErrorMessage(res);
	}
	if ((!words || !*words) && conn)
		words = PQerrorMessage(conn);
	if (!words || !*words)
		words = conn ? "unknown database error" : "no database connection";

	/* Words only when the server gave no SQLSTATE: connection failures, lost links. */
	if (state) {
		int lost;

		err = errmap_sqlstate(state, &lost);
		gone = gone || lost;
	} else {
		err = errmap_pg_words(words);
	}
	if (broken)
		*broken = gone;
	pg_msg_one_line(msg, msglen, words);
	return err;
}

/* Each pooled connection carries how long a client may wait for an answer on it, and
 * what its users have set up on it (pg_mark). */
struct pg_conn_data {
	long wait_ms;
	unsigned marks;
};

static int pg_event(PGEventId id, void *info, void *passthrough)
{
	if (id == PGEVT_CONNDESTROY) {
		PGEventConnDestroy *e = info;

		free(PQinstanceData(e->conn, pg_event));
	}
	return 1;
}

long pg_wait_ms(PGconn *conn)
{
	const struct pg_conn_data *d = PQinstanceData(conn, pg_event);

	return d ? d->wait_ms : PG_WAIT_DEFAULT_MS;
}

int pg_mark(PGconn *conn, unsigned mark)
{
	struct pg_conn_data *d = conn ? PQinstanceData(conn, pg_event) : NULL;
	int had;

	if (!d)
		return -1;
	had = (d->marks & mark) != 0;
	d->marks |= mark;
	return had;
}

void pg_unmark(PGconn *conn, unsigned mark)
{
	struct pg_conn_data *d = conn ? PQinstanceData(conn, pg_event) : NULL;

	if (d)
		d->marks &= ~mark;
}

/* Waits until @conn's socket is ready for @events or the deadline passes.
 * Returns 1 ready, 0 timed out, -1 failed. */
int pg_wait(PGconn *conn, short events, double deadline)
{
	for (;;) {
		struct pollfd pfd = { .fd = PQsocket(conn), .events = events };
		double left = deadline - util_now();
		int r, ms;

		if (pfd.fd < 0)
			return -1;
		if (left <= 0)
			return 0;
		ms = left > 86400.0 ? -1 : (int)pg_round_up(left * 1000.0);	/* -1: no deadline */
		r = poll(&pfd, 1, ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		return r > 0 ? 1 : 0;
	}
}

int pg_exec_params(PGconn *conn, const char *sql, int nparams, const char *const *values,
		   const int *lengths, const int *formats, int result_format,
		   PGresult **res, char *msg, size_t msglen)
{
	double deadline;
	PGresult *r, *keep = NULL;
	ExecStatusType st;
	int err, w, f;
	long wait_ms;

	*res = NULL;
	if (!conn) {
		util_msg(msg, msglen, "no database connection");
		return -EINVAL;
	}
	wait_ms = pg_wait_ms(conn);
	deadline = util_now() + (wait_ms > 0 ? wait_ms / 1000.0 : 1e9);

	/* Non-blocking sends, so even a large parameter cannot wedge us on a full socket. */
	if (PQsetnonblocking(conn, 1) != 0 ||
	    !PQsendQueryParams(conn, sql, nparams, NULL, values, lengths, formats,
			       result_format))
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
	for (;;) {
		while (PQisBusy(conn)) {
			w = pg_wait(conn, POLLIN, deadline);
			if (w == 0)
				goto timeout;
			if (w < 0 || !PQconsumeInput(conn))
				goto failed;
		}
		r = PQgetResult(conn);
		if (!r)
			break;
		/* As PQexec: the last result, but an error wins over what follows it. */
		if (keep && (PQresultStatus(keep) == PGRES_FATAL_ERROR)) {
			PQclear(r);
			continue;
		}
		PQclear(keep);
		keep = r;
	}
	PQsetnonblocking(conn, 0);

	st = PQresultStatus(keep);
	if (!keep || (st != PGRES_TUPLES_OK && st != PGRES_COMMAND_OK)) {
		err = pg_errno(conn, keep, NULL, msg, msglen);
		PQclear(keep);
		return -err;
	}
	*res = keep;
	return 0;

timeout:
	/* The connection is mid-query now; pg_release sees it busy and closes it. */
	PQclear(keep);
	util_msg(msg, msglen, "no answer from the database server within %ld s",
		 (wait_ms + 999) / 1000);
	return -ETIMEDOUT;

failed:
	PQclear(keep);
	err = pg_errno(conn, NULL, NULL, msg, msglen);
	if (PQstatus(conn) == CONNECTION_OK)
		PQsetnonblocking(conn, 0);
	return -err;
}

int pg_exec(PGconn *conn, const char *sql, int nparams, const char *const *values,
	    PGresult **res, char *msg, size_t msglen)
{
	return pg_exec_params(conn, sql, nparams, values, NULL, NULL, 0, res, msg, msglen);
}

/* Sends "SELECT 1" and waits at most @timeout_ms for the answer. */
static bool pg_ping(PGconn *conn, int timeout_ms)
{
	double deadline = util_now() + timeout_ms / 1000.0;
	PGresult *res;
	bool ok = true;

	if (!PQsendQuery(conn, "SELECT 1"))
		return false;
	while (PQisBusy(conn))
		if (pg_wait(conn, POLLIN, deadline) <= 0 || !PQconsumeInput(conn))
			return false;
	while ((res = PQgetResult(conn)) != NULL) {
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			ok = false;
		PQclear(res);
	}
	return ok && PQstatus(conn) == CONNECTION_OK &&
	       PQtransactionStatus(conn) == PQTRANS_IDLE;
}

/* Is an idle connection still usable? Anything arriving on an idle connection is most
 * likely the server saying goodbye (a restore restarts the compute), so look closer. */
static bool pg_alive(struct pg_pool *p, PGconn *conn, double idle_s)
{
	struct pollfd pfd = { .fd = PQsocket(conn), .events = POLLIN };
	int r;

	if (PQstatus(conn) != CONNECTION_OK || pfd.fd < 0)
		return false;
	r = poll(&pfd, 1, 0);
	if (r < 0)
		return false;
	if (r > 0) {
		if (pfd.revents & (POLLERR | POLLHUP | POLLNVAL))
			return false;
		if (!PQconsumeInput(conn) || PQstatus(conn) != CONNECTION_OK)
			return false;
		return pg_ping(conn, p->connect_timeout_s * 1000);
	}
	if (idle_s > PG_IDLE_CHECK_S)
		return pg_ping(conn, p->connect_timeout_s * 1000);
	return true;
}

/* Notices (CREATE ... IF NOT EXISTS, etc.) are not errors; libpq would print them. */
static void pg_quiet(void *arg, const char *message)
{
}

static PGconn *pg_connect(struct pg_pool *p, const char *uri, int *err, char *msg,
			  size_t msglen)
{
	char connect_timeout[16], keep_idle[16], keep_interval[16], keep_count[16];
	char user_timeout[24], stmt_timeout[24];
	const char *keys[] = {
		"dbname", "connect_timeout", "application_name", "keepalives",
		"keepalives_idle", "keepalives_interval", "keepalives_count",
		"tcp_user_timeout", NULL
	};
	const char *values[9];
	const char *params[1];
	PGresult *res = NULL;
	PGconn *conn;
	struct pg_conn_data *data;
	long unacked_ms;
	int r;

	snprintf(connect_timeout, sizeof(connect_timeout), "%d", p->connect_timeout_s);
	snprintf(keep_idle, sizeof(keep_idle), "%d", PG_KEEPALIVE_IDLE_S);
	snprintf(keep_interval, sizeof(keep_interval), "%d", PG_KEEPALIVE_INTERVAL_S);
	snprintf(keep_count, sizeof(keep_count), "%d", PG_KEEPALIVE_COUNT);
	/* Data the peer never acknowledges: give up about when keepalives would. */
	unacked_ms = (PG_KEEPALIVE_IDLE_S + PG_KEEPALIVE_INTERVAL_S * PG_KEEPALIVE_COUNT) * 1000L +
		     p->connect_timeout_s * 1000L;
	snprintf(user_timeout, sizeof(user_timeout), "%ld", unacked_ms);
	values[0] = uri;	/* expanded: a URI or conninfo; the keywords after it win */
	values[1] = connect_timeout;
	values[2] = "neonfs";
	values[3] = "1";
	values[4] = keep_idle;
	values[5] = keep_interval;
	values[6] = keep_count;
	values[7] = user_timeout;
	values[8] = NULL;

	conn = PQconnectdbParams(keys, values, 1);
	if (!conn) {
		*err = ENOMEM;
		util_msg(msg, msglen, "out of memory");
		return NULL;
	}
	if (PQstatus(conn) != CONNECTION_OK) {
		*err = pg_errno(conn, NULL, NULL, msg, msglen);
		goto fail;
	}
	PQsetNoticeProcessor(conn, pg_quiet, NULL);

	/* How long pg_exec waits here: the server gives up first, we a little later. */
	data = calloc(1, sizeof(*data));
	if (!data || !PQregisterEventProc(conn, pg_event, "neonfs", NULL) ||
	    !PQsetInstanceData(conn, pg_event, data)) {
		free(data);
		*err = ENOMEM;
		util_msg(msg, msglen, "out of memory");
		goto fail;
	}
	data->wait_ms = p->statement_timeout_ms > 0 ?
		p->statement_timeout_ms + p->connect_timeout_s * 1000L + PG_WAIT_MARGIN_MS :
		0;

	if (p->statement_timeout_ms > 0) {
		/* A parameter, not a pasted value: set_config() takes it as text. */
		snprintf(stmt_timeout, sizeof(stmt_timeout), "%ld", p->statement_timeout_ms);
		params[0] = stmt_timeout;
		r = pg_exec(conn, "SELECT pg_catalog.set_config('statement_timeout', $1, false)",
			    1, params, &res, msg, msglen);
		if (r < 0) {
			*err = -r;
			goto fail;
		}
		PQclear(res);
	}
	return conn;

fail:
	PQfinish(conn);
	return NULL;
}

/* Takes an idle connection that still works, or opens a new one (@fresh: always new).
 * *reused tells the caller which, so a failure on a reused one can be retried. */
static PGconn *pg_borrow(struct pg_pool *p, const char *uri, bool fresh, bool *reused,
			 int *err, char *msg, size_t msglen)
{
	PGconn *stale[PG_IDLE_MAX];
	PGconn *conn = NULL;
	size_t nstale = 0, i, keep;
	struct pg_target *t;
	double now = util_now(), idle_s = 0;

	*reused = false;
	pthread_mutex_lock(&p->lock);
	t = fresh ? NULL : pg_find(p, uri);
	if (t) {
		/* Drop the ones idle too long (oldest first), then take the newest. */
		for (keep = 0; keep < t->nidle; keep++)
			if (now - t->idle[keep].since <= p->idle_s)
				break;
		for (i = 0; i < keep; i++)
			stale[nstale++] = t->idle[i].conn;
		memmove(t->idle, t->idle + keep, (t->nidle - keep) * sizeof(t->idle[0]));
		t->nidle -= keep;
		if (t->nidle > 0) {
			t->nidle--;
			conn = t->idle[t->nidle].conn;
			idle_s = now - t->idle[t->nidle].since;
		}
	}
	pthread_mutex_unlock(&p->lock);

	for (i = 0; i < nstale; i++)
		PQfinish(stale[i]);
	if (conn) {
		if (pg_alive(p, conn, idle_s)) {
			*reused = true;
			return conn;
		}
		/* Its siblings talk to the same server: most likely dead too, and checking
		 * each could cost a timeout apiece. */
		PQfinish(conn);
		pg_forget(p, uri);
	}
	return pg_connect(p, uri, err, msg, msglen);
}

PGconn *pg_acquire(struct pg_pool *p, const char *uri, int *err, char *msg, size_t msglen)
{
	bool reused;
	int dummy = 0;

	if (!err)
		err = &dummy;
	*err = 0;
	if (!p || !uri) {
		*err = EINVAL;
		util_msg(msg, msglen, "no connection string");
		return NULL;
	}
	return pg_borrow(p, uri, false, &reused, err, msg, msglen);
}

void pg_release(struct pg_pool *p, const char *uri, PGconn *conn, bool broken)
{
	struct pg_target *t;
	PGconn *drop = NULL;

	if (!conn)
		return;
	if (!p || !uri || broken || PQstatus(conn) != CONNECTION_OK ||
	    PQpipelineStatus(conn) != PQ_PIPELINE_OFF)
		goto close;

	switch (PQtransactionStatus(conn)) {
	case PQTRANS_IDLE:
		break;
	case PQTRANS_INTRANS:
	case PQTRANS_INERROR: {
		/* A caller bailed out mid-transaction: end it, or the next borrower inherits it. */
		PGresult *res;

		if (pg_exec(conn, "ROLLBACK", 0, NULL, &res, NULL, 0) < 0)
			goto close;
		PQclear(res);
		if (PQtransactionStatus(conn) != PQTRANS_IDLE)
			goto close;
		break;
	}
	default:
		goto close;	/* a query still running, or unknown state */
	}

	pthread_mutex_lock(&p->lock);
	t = pg_find(p, uri);
	if (!t) {
		t = calloc(1, sizeof(*t));
		if (t)
			t->uri = strdup(uri);
		if (t && !t->uri) {
			free(t);
			t = NULL;
		}
		if (t) {
			t->next = p->targets;
			p->targets = t;
		}
	}
	if (t && t->nidle < PG_IDLE_MAX) {
		t->idle[t->nidle].conn = conn;
		t->idle[t->nidle].since = util_now();
		t->nidle++;
	} else {
		drop = conn;
	}
	pthread_mutex_unlock(&p->lock);
	if (drop)
		PQfinish(drop);
	return;

close:
	PQfinish(conn);
}

void pg_forget(struct pg_pool *p, const char *uri)
{
	struct pg_target **tp, *t = NULL;

	if (!p || !uri)
		return;
	pthread_mutex_lock(&p->lock);
	for (tp = &p->targets; *tp; tp = &(*tp)->next) {
		if (strcmp((*tp)->uri, uri) == 0) {
			t = *tp;
			*tp = t->next;
			break;
		}
	}
	pthread_mutex_unlock(&p->lock);
	if (t)
		pg_target_free(t);
}

int pg_run(struct pg_pool *p, const char *uri, bool retry, pg_work_fn fn, void *arg,
	   char *msg, size_t msglen)
{
	bool reused, again = false;
	PGconn *conn;
	int err = 0, r;

	if (!p || !uri || !fn) {
		util_msg(msg, msglen, "no connection string");
		return -EINVAL;
	}
	for (;;) {
		conn = pg_borrow(p, uri, again, &reused, &err, msg, msglen);
		if (!conn)
			return -err;
		r = fn(conn, arg, msg, msglen);
		if (r >= 0 || PQstatus(conn) == CONNECTION_OK) {
			pg_release(p, uri, conn, false);
			return r;
		}
		PQfinish(conn);
		if (!retry || !reused || again)
			return r;
		/* The pooled connection had died under us; its siblings most likely too. */
		pg_forget(p, uri);
		again = true;
	}
}

struct pg_query_arg {
	const char *sql;
	int nparams;
	const char *const *values;
	PGresult *res;
};

static int pg_query_fn(PGconn *conn, void *arg, char *msg, size_t msglen)
{
	struct pg_query_arg *q = arg;

	return pg_exec(conn, q->sql, q->nparams, q->values, &q->res, msg, msglen);
}

int pg_query(struct pg_pool *p, const char *uri, const char *sql, int nparams,
	     const char *const *values, PGresult **res, char *msg, size_t msglen)
{
	struct pg_query_arg q = { .sql = sql, .nparams = nparams, .values = values };
	int r;

	*res = NULL;
	r = pg_run(p, uri, true, pg_query_fn, &q, msg, msglen);
	if (r < 0) {
		PQclear(q.res);
		return r;
	}
	*res = q.res;
	return 0;
}

void pg_pool_set_idle(struct pg_pool *p, double idle_s)
{
	pthread_mutex_lock(&p->lock);
	p->idle_s = idle_s > 0 ? idle_s : PG_IDLE_MAX_S;
	pthread_mutex_unlock(&p->lock);
}

size_t pg_close_idle(struct pg_pool *p)
{
	struct pg_target **tp, *t;
	PGconn **old = NULL;
	size_t n = 0, cap = 0, i, keep;
	double now = util_now();

	if (!p)
		return 0;
	pthread_mutex_lock(&p->lock);
	for (tp = &p->targets; (t = *tp) != NULL;) {
		for (keep = 0; keep < t->nidle; keep++)
			if (now - t->idle[keep].since <= p->idle_s)
				break;
		for (i = 0; i < keep; i++) {
			if (n == cap) {
				size_t ncap = cap ? cap * 2 : 8;
				PGconn **nold = realloc(old, ncap * sizeof(*old));

				if (!nold)
					break;
				old = nold;
				cap = ncap;
			}
			old[n++] = t->idle[i].conn;
		}
		keep = i;
		memmove(t->idle, t->idle + keep, (t->nidle - keep) * sizeof(t->idle[0]));
		t->nidle -= keep;
		if (t->nidle == 0) {
			*tp = t->next;
			pg_target_free(t);
		} else {
			tp = &t->next;
		}
	}
	pthread_mutex_unlock(&p->lock);
	/* Closed outside the lock: PQfinish talks to the server. */
	for (i = 0; i < n; i++)
		PQfinish(old[i]);
	free(old);
	return n;
}
