/* restore: a finalized restore into the active branch, and what `cat active/restore` says.
 *
 * One restore of a project at a time, across every mount that shares the meta database
 * (an advisory lock there; without one, per mount only). Under the lock the target is
 * the branch that holds the active branch's name now, resolved again after every 423:
 * the branch a caller saw may since have been renamed "<name> (old)" by another restore,
 * and a restore sent to it would land in the backup branch.
 *
 * The write that starts a restore returns only when the connection string users hold
 * reaches the restored data: the operations Neon returns must all end, the endpoint the
 * connection string names must serve the restored branch, and a query through that very
 * string must answer. Neon restarts the compute on finalize, so the first connections may
 * be refused; they are retried until the deadline.
 *
 * An undo is this same run with Neon's branch restore as its one call (restore_undo.c),
 * so it takes the same lock, lookups and checks. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <pwd.h>

#include "api.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "pg.h"
#include "restore.h"
#include "restore_settle.h"
#include "util.h"

#include "restore_internal.h"

struct restore {
	struct api *api;
	struct pg_pool *pool;
	struct meta *meta;

	pthread_mutex_t lock;
	bool running;
	bool ever;
	char snapshot_id[64];
	char snapshot_name[260];
	char branch_name[260];
	char branch_before[64];
	char branch_after[64];
	char state[16];
	struct timespec started, ended;
	struct neon_operation *ops;       /* latest state of its operations */
	size_t nops;
	char verified[400];               /* how the restored data was seen, "" until it was */
	char error[640];
	int err;
	char source_id[64];               /* an undo's source branch; "" for a snapshot */
	char source_name[260];
	char undo[64];                    /* what to write to undo this restore, "" for none */
	char undo_note[900];
	void (*progress)(void *data, const char *statuses, long waited_s);
	void *progress_data;
	double progress_last;             /* when restore.progress was last given */
};

struct restore *restore_new(struct api *api, struct pg_pool *pool, struct meta *meta)
{
	struct restore *r = calloc(1, sizeof(*r));

	if (!r)
		return NULL;
	r->api = api;
	r->pool = pool;
	r->meta = meta;
	pthread_mutex_init(&r->lock, NULL);
	strcpy(r->state, "idle");
	return r;
}

void restore_free(struct restore *r)
{
	if (!r)
		return;
	free(r->ops);
	pthread_mutex_destroy(&r->lock);
	free(r);
}

bool restore_running(struct restore *r)
{
	bool running;

	pthread_mutex_lock(&r->lock);
	running = r->running;
	pthread_mutex_unlock(&r->lock);
	return running;
}

static void restore_copy(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

int restore_record_begin(struct restore *r, const struct restore_request *req)
{
	pthread_mutex_lock(&r->lock);
	if (r->running) {
		pthread_mutex_unlock(&r->lock);
		return -EBUSY;
	}
	r->running = true;
	r->ever = true;
	restore_copy(r->snapshot_id, sizeof(r->snapshot_id), req->snapshot_id);
	restore_copy(r->snapshot_name, sizeof(r->snapshot_name), req->snapshot_name);
	restore_copy(r->branch_name, sizeof(r->branch_name), req->branch_name);
	restore_copy(r->branch_before, sizeof(r->branch_before), req->branch_id);
	r->branch_after[0] = '\0';
	strcpy(r->state, "running");
	clock_gettime(CLOCK_REALTIME, &r->started);
	memset(&r->ended, 0, sizeof(r->ended));
	free(r->ops);
	r->ops = NULL;
	r->nops = 0;
	r->verified[0] = '\0';
	r->error[0] = '\0';
	r->err = 0;
	restore_copy(r->source_id, sizeof(r->source_id), req->source_branch_id);
	restore_copy(r->source_name, sizeof(r->source_name), req->source_branch_name);
	/* The undo of the restore before stays: one that replaces nothing leaves it true. */
	r->progress = req->progress;
	r->progress_data = req->progress_data;
	r->progress_last = util_now();
	pthread_mutex_unlock(&r->lock);
	return 0;
}

void restore_record_undo(struct restore *r, const char *undo, const char *note)
{
	pthread_mutex_lock(&r->lock);
	if (undo) {
		restore_copy(r->undo, sizeof(r->undo), undo);
		restore_copy(r->undo_note, sizeof(r->undo_note), note);
	} else if (r->undo[0]) {
		util_msg(r->undo_note, sizeof(r->undo_note), "this restore replaced nothing; the "
			 "undo is still that of the restore before it");
	} else {
		util_msg(r->undo_note, sizeof(r->undo_note), "no undo: this restore replaced "
			 "nothing");
	}
	pthread_mutex_unlock(&r->lock);
}

/* Seconds since the restore began, for the status and restore.progress. */
static long restore_waited(const struct restore *r)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (long)(now.tv_sec - r->started.tv_sec -
		      (now.tv_nsec < r->started.tv_nsec ? 1 : 0));
}

void restore_record_operations(struct restore *r, const struct neon_operation *ops, size_t n)
{
	struct neon_operation *copy = n ? malloc(n * sizeof(*copy)) : NULL;

	/* Out of memory: the status shows the operations as they were last seen. */
	if (n && !copy)
		return;
	if (n)
		memcpy(copy, ops, n * sizeof(*copy));
	pthread_mutex_lock(&r->lock);
	free(r->ops);
	r->ops = copy;
	r->nops = n;
	pthread_mutex_unlock(&r->lock);
}

void restore_record_target(struct restore *r, const char *branch_id)
{
	pthread_mutex_lock(&r->lock);
	restore_copy(r->branch_before, sizeof(r->branch_before), branch_id);
	pthread_mutex_unlock(&r->lock);
}

void restore_record_verified(struct restore *r, const char *how)
{
	pthread_mutex_lock(&r->lock);
	restore_copy(r->verified, sizeof(r->verified), how);
	pthread_mutex_unlock(&r->lock);
}

void restore_record_end(struct restore *r, int err, const char *branch_after, const char *error)
{
	pthread_mutex_lock(&r->lock);
	r->running = false;
	r->err = err;
	strcpy(r->state, err ? "failed" : "finished");
	restore_copy(r->branch_after, sizeof(r->branch_after), branch_after);
	restore_copy(r->error, sizeof(r->error), err ? error : "");
	clock_gettime(CLOCK_REALTIME, &r->ended);
	pthread_mutex_unlock(&r->lock);
}

char *restore_status(struct restore *r)
{
	struct model_restore_status st = { .duration_ms = -1 };
	char started[64], ended[64];
	char *out;

	pthread_mutex_lock(&r->lock);
	st.state = r->state;
	st.ever = r->ever;
	st.snapshot_id = r->snapshot_id;
	st.snapshot_name = r->snapshot_name;
	st.undo_of_branch_id = r->source_id;
	st.undo_of_branch_name = r->source_name;
	st.branch_name = r->branch_name;
	st.branch_before = r->branch_before;
	st.branch_after = r->branch_after;
	/* An unset time (no restore yet, or this one still running) is JSON null. */
	util_iso8601(&r->started, started, sizeof(started));
	util_iso8601(&r->ended, ended, sizeof(ended));
	st.started_at = started;
	st.ended_at = ended;
	if (r->ended.tv_sec)
		st.duration_ms = (r->ended.tv_sec - r->started.tv_sec) * 1000 +
				 (r->ended.tv_nsec - r->started.tv_nsec) / 1000000;
	st.has_waited = r->running;
	st.waited_s = r->running ? restore_waited(r) : 0;
	st.ops = r->ops;
	st.nops = r->nops;
	st.verified = r->verified;
	st.error = r->error;
	st.has_undo = !r->running;
	st.undo = r->undo;
	st.undo_note = r->undo_note;
	out = model_restore_status(&st);
	pthread_mutex_unlock(&r->lock);
	return out;
}

/* restore.progress, at most once a second: each operation's "action:status". */
static void restore_progress_event(struct restore *r, const struct neon_operation *ops,
				   size_t n)
{
	char statuses[1024];
	void (*fn)(void *, const char *, long);
	void *data;
	long waited;

	pthread_mutex_lock(&r->lock);
	fn = r->progress;
	data = r->progress_data;
	if (!fn || util_now() - r->progress_last < 1.0) {
		pthread_mutex_unlock(&r->lock);
		return;
	}
	r->progress_last = util_now();
	waited = restore_waited(r);
	pthread_mutex_unlock(&r->lock);
	model_operations_line(ops, n, statuses, sizeof(statuses));
	fn(data, statuses, waited);
}

static void restore_progress(void *data, const struct neon_operation *ops, size_t n)
{
	struct restore *r = data;
	size_t i;

	for (i = 0; i < n; i++)
		log_debug("restore: operation %s (%s): %s", ops[i].id, ops[i].action,
			  ops[i].status);
	restore_record_operations(r, ops, n);
	restore_progress_event(r, ops, n);
}

/* The restore is only done for users when their connection string answers a query. */
static int restore_verify(struct restore *r, const char *uri, double deadline,
			  char *msg, size_t msglen)
{
	double delay = 0.02;
	int res = -ETIMEDOUT;

	util_msg(msg, msglen, "the database did not answer through the connection string");
	pg_forget(r->pool, uri);
	for (;;) {
		PGresult *res_q = NULL;

		if (pg_query(r->pool, uri, "SELECT 1", 0, NULL, &res_q, msg, msglen) == 0) {
			PQclear(res_q);
			return 0;
		}
		if (util_now() + delay > deadline)
			break;
		usleep((useconds_t)(delay * 1e6));
		delay = delay * 1.5 > 0.5 ? 0.5 : delay * 1.5;
	}
	return res;
}

/* Which endpoint a connection string reaches, in Neon's terms: the one it names with
 * `options=endpoint=<id>` (how clients without SNI say it), else the one whose host is
 * the string's host. @id is "" when the string names none. */
static int restore_uri_endpoint(const char *uri, char *id, size_t idlen, char *host,
				size_t hostlen, char *msg, size_t msglen)
{
	PQconninfoOption *opts, *o;
	char *perr = NULL;

	id[0] = host[0] = '\0';
	opts = PQconninfoParse(uri, &perr);
	if (!opts) {
		util_msg(msg, msglen, "the connection string cannot be read: %s",
			 perr ? perr : "out of memory");
		PQfreemem(perr);
		return -EIO;
	}
	for (o = opts; o->keyword; o++) {
		if (!o->val)
			continue;
		if (strcmp(o->keyword, "host") == 0) {
			snprintf(host, hostlen, "%s", o->val);
		} else if (strcmp(o->keyword, "options") == 0) {
			const char *p = o->val;

			while (*p) {
				size_t n;

				p += strspn(p, " \t");
				n = strcspn(p, " \t");
				if (n > 9 && strncmp(p, "endpoint=", 9) == 0)
					snprintf(id, idlen, "%.*s", (int)(n - 9), p + 9);
				p += n;
			}
		}
	}
	PQconninfoFree(opts);
	return 0;
}

/* Does the URI's @host reach the endpoint whose host is @ep_host? The pooler's host is the
 * endpoint's with "-pooler" after the endpoint id. */
static bool restore_host_match(const char *ep_host, const char *host)
{
	const char *dot = strchr(host, '.');
	size_t label = dot ? (size_t)(dot - host) : strlen(host);
	static const char pooler[] = "-pooler";
	size_t pl = sizeof(pooler) - 1;

	if (!ep_host || !*ep_host)
		return false;
	if (strcmp(ep_host, host) == 0)
		return true;
	return label > pl && strncmp(host + label - pl, pooler, pl) == 0 &&
	       strncmp(ep_host, host, label - pl) == 0 &&
	       strcmp(ep_host + label - pl, host + label) == 0;
}

/* Once: the endpoint behind @uri serves @branch_id. -EAGAIN while it serves another
 * (Neon may not have moved it yet), -EIO when the endpoint cannot be told. */
static int restore_endpoint_once(struct restore *r, const char *uri, const char *branch_id,
				 char *how, size_t howlen, char *msg, size_t msglen)
{
	struct model_list *eps = NULL;
	const struct neon_endpoint *found = NULL;
	struct api_error err = { 0 };
	char id[64], host[256];
	const char *served, *found_id;
	size_t i, n;
	int matches = 0, res;

	res = restore_uri_endpoint(uri, id, sizeof(id), host, sizeof(host), msg, msglen);
	if (res)
		return res;
	res = api_list_endpoints(r->api, &eps, &err);
	if (res) {
		util_msg(msg, msglen, "%s", err.message);
		return res;
	}
	n = model_count(eps);
	for (i = 0; i < n; i++) {
		const struct neon_endpoint *ep = model_endpoint_at(eps, i);

		if (id[0] ? strcmp(ep->id, id) == 0 : restore_host_match(ep->host, host)) {
			found = ep;
			matches++;
		}
	}
	res = -EIO;
	found_id = found ? found->id : "(no id)";
	if (matches == 0)
		util_msg(msg, msglen, "no endpoint of the project is the one the connection "
			 "string reaches (%s %s)", id[0] ? "endpoint" : "host", id[0] ? id : host);
	else if (matches > 1)
		util_msg(msg, msglen, "the connection string's host %s is that of %d endpoints; "
			 "which one it reaches cannot be told", host, matches);
	else if (!*(served = found->branch_id) || strcmp(served, branch_id)) {
		util_msg(msg, msglen, "endpoint %s, which the connection string reaches, serves "
			 "branch %s, not the restored branch %s", found_id,
			 *served ? served : "(none)", branch_id);
		res = -EAGAIN;
	} else {
		util_msg(how, howlen, "endpoint %s, which the connection string reaches (by its %s), "
			 "serves the restored branch %s; a query through the connection string "
			 "answered", found_id, id[0] ? "options" : "host",
			 branch_id);
		res = 0;
	}
	model_list_put(eps);
	return res;
}

/* The endpoint behind the connection string serves the restored branch: asked until
 * @deadline while it serves another, as Neon may lag behind its operations. */
static int restore_endpoint(struct restore *r, const char *uri, const char *branch_id,
			    double deadline, char *how, size_t howlen, char *msg, size_t msglen)
{
	double delay = 0.02;
	int res;

	for (;;) {
		res = restore_endpoint_once(r, uri, branch_id, how, howlen, msg, msglen);
		if (res != -EAGAIN)
			return res;
		if (util_now() + delay > deadline)
			return -EIO;
		usleep((useconds_t)(delay * 1e6));
		delay = delay * 1.5 > 0.5 ? 0.5 : delay * 1.5;
	}
}

static void restore_audit_user(struct meta_restore *mr)
{
	struct passwd pw, *found = NULL;
	char buf[1024];

	if (getpwuid_r(getuid(), &pw, buf, sizeof(buf), &found) == 0 && found)
		snprintf(mr->user, sizeof(mr->user), "%s", pw.pw_name);
	else
		snprintf(mr->user, sizeof(mr->user), "%u", (unsigned)getuid());
	if (gethostname(mr->host, sizeof(mr->host)) != 0)
		mr->host[0] = '\0';
	mr->host[sizeof(mr->host) - 1] = '\0';
}

/* The id of the branch named @name now (branch ids are never cached across restores). */
static int restore_resolve(struct restore *r, const char *name, char *id, size_t idlen,
			   char *msg, size_t msglen)
{
	struct model_list *list = NULL;
	const struct neon_branch *b;
	struct api_error err = { 0 };
	int res;

	res = api_list_branches(r->api, &list, &err);
	if (res) {
		util_msg(msg, msglen, "%s", err.message);
		return res;
	}
	res = -EIO;
	util_msg(msg, msglen, "no branch is named %s any more", name);
	b = model_branch_by_name(list, name);
	if (b) {
		snprintf(id, idlen, "%s", b->id);
		res = 0;
	}
	model_list_put(list);
	return res;
}

/* Looks the target up again; says so when another restore replaced it meanwhile. */
static int restore_retarget(struct restore *r, const struct restore_request *req,
			    char *target, size_t len, struct meta_restore *mr,
			    char *msg, size_t msglen)
{
	char now[64];
	int res = restore_resolve(r, req->branch_name, now, sizeof(now), msg, msglen);

	if (res)
		return res;
	if (strcmp(now, target) != 0) {
		log_info("restore: branch %s is %s now, no longer %s (restored meanwhile)",
			 req->branch_name, now, target);
		snprintf(target, len, "%s", now);
		restore_record_target(r, target);
	}
	snprintf(mr->branch_before, sizeof(mr->branch_before), "%s", target);
	return 0;
}

/* The restore request was sent but its answer never came: Neon tells whether it restored.
 * The request is never sent twice, so 0 only when Neon did it, and then the new branch is
 * in @new_id; -EIO, with nothing changed, when it shows no such restore. */
static int restore_lost_answer(struct restore *r, const struct restore_request *req,
			       const char *target, time_t sent, double deadline,
			       const struct api_error *err, char *new_id, size_t idlen,
			       char *msg, size_t msglen)
{
	char why[400];
	int res;

	if (req->source_branch_id) {
		/* An undo keeps the branch's id: its new parent says whether Neon did it. */
		res = restore_landed(r->api, req, target, why, sizeof(why));
		if (res == 0) {
			log_warn("restore: the answer was lost (%s), but Neon restored branch %s "
				 "into %s", err->message, req->source_branch_id, target);
			snprintf(new_id, idlen, "%s", target);
			return 0;
		}
		if (res == -EIO)
			res = -ENOENT;
	} else {
		res = restore_settle_wait(r->api, req->snapshot_id, target, sent, deadline,
					  new_id, idlen, why, sizeof(why));
	}
	if (res == 0) {
		log_warn("restore: the answer was lost (%s), but Neon restored snapshot %s into "
			 "%s as branch %s", err->message, req->snapshot_name, target, new_id);
		return 0;
	}
	util_msg(msg, msglen, "the answer to the restore request was lost (%s), and %s%s",
		 err->message, why, res == -ENOENT ? ": nothing changed, write it again" :
		 "; whether Neon restored it is not known yet: the next mount settles it from "
		 "what Neon shows");
	return res == -ENOENT ? -EIO : res;
}

static void restore_unlock(struct restore *r, struct meta_lock *lock)
{
	char msg[400];

	if (lock && meta_restore_unlock(r->meta, lock, msg, sizeof(msg)) != 0)
		log_warn("restore: %s", msg);
}

int restore_run(struct restore *r, const struct restore_request *req,
		char *target_id, char *new_branch_id, size_t idlen)
{
	struct model_answer *resp = NULL;
	struct neon_operation *latest = NULL;
	struct api_error err = { 0 };
	struct meta_restore mr = { 0 };
	struct meta_lock *lock = NULL;
	int64_t audit_id = -1;
	char msg[512] = "", target[64], how[400] = "", preserve[260] = "", what[400];
	char undo[64] = "", note[900] = "", lost_id[64] = "";
	const char *new_id = NULL;
	time_t sent = time(NULL);
	bool unsettled = false;	/* Neon may have done it: the audit log keeps it running */
	double deadline = util_now() + req->timeout_s, locked_until, delay;
	bool replaced = false;
	int res;

	snprintf(target, sizeof(target), "%s", req->branch_id);
	snprintf(target_id, idlen, "%s", target);
	res = restore_record_begin(r, req);
	if (res)
		return res;
	if (req->source_branch_id)
		snprintf(what, sizeof(what), "undo from branch '%s' (%s)", req->source_branch_name,
			 req->source_branch_id);
	else
		snprintf(what, sizeof(what), "snapshot %s (%s)", req->snapshot_name,
			 req->snapshot_id);
	log_info("restore: %s into branch %s (%s)", what, req->branch_name, req->branch_id);
	restore_audit_user(&mr);

	if (r->meta) {
		char holder[300];

		snprintf(holder, sizeof(holder), "pid %ld on %s", (long)getpid(),
			 mr.host[0] ? mr.host : "a host without a name");
		res = meta_restore_lock(r->meta, holder, &lock, msg, sizeof(msg));
		if (res == -EBUSY) {
			log_err("restore: %s into %s refused: %s", what, req->branch_name, msg);
			restore_record_end(r, res, NULL, msg);
			return res;
		}
		/* A meta database that is away stops no restore (as it stops no snapshot):
		 * what keeps this one out of a branch another restore renames meanwhile is
		 * then the lookup by name after each 423 and the endpoint check. */
		if (res)
			log_warn("restore: no lock across mounts, the meta database did not "
				 "answer: %s", msg);
	}
	/* Only now, under the lock, is the branch holding the name the one to restore into. */
	res = restore_retarget(r, req, target, sizeof(target), &mr, msg, sizeof(msg));
	if (!res && req->source_branch_id)
		res = restore_preserve_name(r->api, req->branch_name, preserve, sizeof(preserve),
					    msg, sizeof(msg));
	if (res)
		goto fail;

	snprintf(mr.snapshot_id, sizeof(mr.snapshot_id), "%s", req->snapshot_id);
	snprintf(mr.snapshot_name, sizeof(mr.snapshot_name), "%.250s",
		 req->source_branch_id ? what : req->snapshot_name);
	snprintf(mr.outcome, sizeof(mr.outcome), "running");
	if (r->meta && meta_restore_begin(r->meta, &mr, &audit_id, msg, sizeof(msg)) != 0) {
		log_warn("restore: audit log not written: %s", msg);
		audit_id = -1;
	}

	/* Neon documents 423 as "locked, nothing done", but the lock may be another restore
	 * (made without neonfs, or by a mount without the meta database) that renames our
	 * target: so each retry looks up the name's branch again, for api_timeout. */
	locked_until = util_now() + api_retry_seconds(r->api);
	for (delay = 0.1;; delay = delay * 2 > 2.0 ? 2.0 : delay * 2) {
		res = restore_send(r->api, req, target, preserve[0] ? preserve : NULL, &resp, &err);
		if (!res)
			break;
		snprintf(msg, sizeof(msg), "%s", err.message);
		if (err.http_status == 0) {
			res = restore_lost_answer(r, req, target, sent, deadline, &err, lost_id,
						  sizeof(lost_id), msg, sizeof(msg));
			unsettled = res && res != -EIO;
			if (res)
				goto fail;
			new_id = lost_id;
			goto restored;
		}
		if (err.http_status != 423 || util_now() + delay > locked_until ||
		    util_now() + delay > deadline)
			goto fail;
		log_info("restore: %s; again in %.0f ms", err.message, delay * 1000.0);
		usleep((useconds_t)(delay * 1e6));
		res = restore_retarget(r, req, target, sizeof(target), &mr, msg, sizeof(msg));
		if (res)
			goto fail;
	}
	if (resp->branch)
		new_id = resp->branch->u.branch.id;
	if (!new_id || !resp->has_operations) {
		res = -EIO;
		snprintf(msg, sizeof(msg), "restore: the API's answer had no branch or operations");
		goto fail;
	}
	restore_record_operations(r, resp->ops, resp->nops);
	res = api_wait_operations(r->api, resp->ops, resp->nops, deadline - util_now(),
				  restore_progress, r, &latest, &err);
	if (latest)
		restore_record_operations(r, latest, resp->nops);
	if (res) {
		snprintf(msg, sizeof(msg), "%s", err.message);
		if (res != -ETIMEDOUT)
			res = -EIO;
		/* Neon gave up on it: the branch it made is no restore, and must not stay. */
		if (res == -EIO && restore_settle_drop_unfinished(r->api, new_id,
				util_now() + api_retry_seconds(r->api) < deadline ?
				deadline - util_now() : api_retry_seconds(r->api)) == 0)
			new_id = NULL;
		goto fail;
	}
restored:
	replaced = true;
	/* Proof that the string users hold reaches the restored branch, not merely a
	 * database: the endpoint it names serves that branch, then a query answers. */
	res = restore_landed(r->api, req, new_id, msg, sizeof(msg));
	if (!res)
		res = restore_endpoint(r, req->verify_uri, new_id,
				       util_now() + api_retry_seconds(r->api) < deadline ?
				       util_now() + api_retry_seconds(r->api) : deadline,
				       how, sizeof(how), msg, sizeof(msg));
	if (!res)
		res = restore_verify(r, req->verify_uri, deadline, msg, sizeof(msg));
	if (res) {
		char why[400];

		snprintf(why, sizeof(why), "%.399s", msg);
		snprintf(msg, sizeof(msg), "restore finished but the connection string does not "
			 "reach the restored data: %s", why);
		res = -EIO;
		goto fail;
	}
	restore_record_verified(r, how);
	snprintf(new_branch_id, idlen, "%s", new_id);
	log_info("restore: finished; branch %s is now %s (%s)", req->branch_name, new_id, how);

	/* Only now that the restored branch answered may replaced branches go. */
	restore_after(r->api, req, target, preserve, new_id, true, deadline, undo, sizeof(undo),
		      note, sizeof(note));
	restore_record_undo(r, undo, note);

	snprintf(mr.branch_after, sizeof(mr.branch_after), "%s", new_id);
	snprintf(mr.outcome, sizeof(mr.outcome), "finished");
	if (audit_id >= 0 && meta_restore_end(r->meta, audit_id, &mr, msg, sizeof(msg)) != 0)
		log_warn("restore: audit log not updated: %s", msg);
	restore_unlock(r, lock);
	snprintf(target_id, idlen, "%s", target);
	restore_record_end(r, 0, new_id, NULL);
	free(latest);
	model_answer_free(resp);
	return 0;

fail:
	log_err("restore: %s into %s failed: %s", what, req->branch_name, msg);
	/* Neon replaced the branch even if the connection string does not show it yet. */
	if (replaced)
		restore_after(r->api, req, target, preserve, new_id, false, deadline, undo,
			      sizeof(undo), note, sizeof(note));
	restore_record_undo(r, replaced ? undo : NULL, note);
	snprintf(mr.outcome, sizeof(mr.outcome), "%s", unsettled ? "running" : "failed");
	snprintf(mr.error, sizeof(mr.error), "%s", msg);
	if (new_id)
		snprintf(mr.branch_after, sizeof(mr.branch_after), "%s", new_id);
	if (audit_id >= 0) {
		char m2[256];

		if (meta_restore_end(r->meta, audit_id, &mr, m2, sizeof(m2)) != 0)
			log_warn("restore: audit log not updated: %s", m2);
	}
	restore_unlock(r, lock);
	snprintf(target_id, idlen, "%s", target);
	restore_record_end(r, res, new_id, msg);
	free(latest);
	model_answer_free(resp);
	return res;
}
