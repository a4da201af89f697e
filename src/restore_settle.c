/* restore_settle: a restore whose end neonfs did not see, settled from what Neon shows.
 *
 * The audit log's row is the intent: written "running" before the restore request is
 * sent, settled once its end is known. A neonfs that dies in between leaves it running;
 * the next mount asks Neon how it ended. The same look settles a request whose answer
 * was lost, as a restore request is never sent twice. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "neon.h"
#include "restore.h"
#include "restore_settle.h"
#include "util.h"
#include "worker.h"

/* Clocks of neonfs and Neon may disagree by this much. */
#define SETTLE_SLACK_S 5

enum settle_seen { SETTLE_NONE, SETTLE_UNDER_WAY, SETTLE_DONE };

/* One look at the branches: the restore finalized, under way (made since @since, not yet
 * finalized), or not there. A preview of the snapshot is never finalized, hence the time. */
static int settle_look(struct api *api, const char *snapshot_id, const char *target_id,
		       time_t since, char *new_id, size_t idlen, char *msg, size_t msglen)
{
	struct model_list *l = NULL;
	struct api_error err = { 0 };
	int seen = SETTLE_NONE, res;
	size_t i, n;

	res = neon_list(api, MODEL_BRANCHES, &l, &err);
	if (res) {
		util_msg(msg, msglen, "%s", err.message);
		return res;
	}
	n = model_count(l);
	for (i = 0; i < n; i++) {
		const struct neon_branch *b = model_branch_at(l, i);

		if (strcmp(b->restored_from, snapshot_id) != 0)
			continue;
		if (strcmp(b->restored_as, target_id) == 0) {
			snprintf(new_id, idlen, "%s", b->id);
			seen = SETTLE_DONE;
			break;
		}
		if (!b->restored_as[0] && strcmp(b->restore_status, "restored") == 0 &&
		    b->created + SETTLE_SLACK_S >= since) {
			snprintf(new_id, idlen, "%s", b->id);
			seen = SETTLE_UNDER_WAY;
		}
	}
	model_list_put(l);
	return seen;
}

int restore_settle_wait(struct api *api, const char *snapshot_id, const char *target_id,
			time_t since, double deadline, char *new_id, size_t idlen,
			char *msg, size_t msglen)
{
	double delay = 0.1;
	int seen;

	new_id[0] = '\0';
	for (;;) {
		seen = settle_look(api, snapshot_id, target_id, since, new_id, idlen, msg, msglen);
		if (seen < 0)
			return seen;
		if (seen == SETTLE_DONE)
			return 0;
		if (seen == SETTLE_NONE) {
			util_msg(msg, msglen, "Neon shows no restore of snapshot %s into branch %s",
				 snapshot_id, target_id);
			return -ENOENT;
		}
		if (util_now() + delay > deadline) {
			util_msg(msg, msglen, "Neon's restore of snapshot %s into branch %s (as "
				 "branch %s) had not ended in time", snapshot_id, target_id, new_id);
			return -ETIMEDOUT;
		}
		usleep((useconds_t)(delay * 1e6));
		delay = delay * 1.5 > 1.0 ? 1.0 : delay * 1.5;
	}
}

int restore_settle_drop_unfinished(struct api *api, const char *branch_id, double timeout_s)
{
	struct model_list *l = NULL;
	struct api_error err = { 0 };
	struct neon_answer *del = NULL;
	const struct neon_branch *b;
	bool unfinished;
	int res;

	res = neon_list(api, MODEL_BRANCHES, &l, &err);
	if (res) {
		log_warn("restore: the branch %s it made is kept: %s", branch_id, err.message);
		return res;
	}
	b = model_branch_by_id(l, branch_id);
	unfinished = b && !b->restored_as[0] && strcmp(b->restore_status, "restored") == 0;
	model_list_put(l);
	if (!unfinished)
		return -EEXIST;
	res = neon_delete_branch(api, branch_id, &del, &err);
	if (!res)
		res = neon_answer_wait(api, del, timeout_s, &err);
	neon_answer_free(del);
	if (res)
		log_warn("restore: the unfinished branch %s it made is kept: %s", branch_id,
			 err.message);
	else
		log_info("restore: the unfinished branch %s it made was deleted", branch_id);
	return res;
}

struct settle_job {
	struct restore *restore;
	struct api *api;
	struct meta *meta;
	struct meta_lock *lock;
	struct meta_restore_row *rows;   /* oldest first */
	size_t count;
	double timeout_s;
	bool status;                     /* the status file waits for the newest row */
	void (*done)(void *data);        /* nothing of the settling runs any more */
	void *done_data;
};

/* One row: its outcome from Neon, written back to the log. With @timeout_s 0 a restore
 * still under way is -ETIMEDOUT at once, quietly: it is waited for on the pool. */
static int settle_row(struct settle_job *job, struct meta_restore_row *row, double timeout_s,
		      char *after, size_t afterlen, char *why, size_t whylen)
{
	struct meta_restore *mr = &row->r;
	char msg[512];
	int res;

	if (!mr->snapshot_id[0]) {
		/* An undo: Neon's branch restore leaves no restored_from to find it by, and
		 * the branch keeps its id; only its parent tells, so say where to look. */
		snprintf(mr->outcome, sizeof(mr->outcome), "unknown");
		snprintf(mr->error, sizeof(mr->error), "neonfs stopped during this undo; whether "
			 "Neon did it shows in the branch's parent_id (its meta.json): the branch "
			 "it was undone from when it did");
		if (meta_restore_end(job->meta, row->id, mr, msg, sizeof(msg)) != 0)
			log_warn("restore: the audit log of restore %lld not settled: %s",
				 (long long)row->id, msg);
		log_warn("restore: restore %lld, %s, left running by an earlier neonfs: %s",
			 (long long)row->id, mr->snapshot_name, mr->error);
		snprintf(why, whylen, "%s", mr->error);
		return -EIO;
	}
	res = restore_settle_wait(job->api, mr->snapshot_id, mr->branch_before,
				  (time_t)row->started_at, util_now() + timeout_s,
				  after, afterlen, msg, sizeof(msg));
	if (res == -ENOENT || res == 0) {
		snprintf(mr->outcome, sizeof(mr->outcome), "%s", res ? "failed" : "finished");
		snprintf(mr->branch_after, sizeof(mr->branch_after), "%s", res ? "" : after);
		snprintf(mr->error, sizeof(mr->error), "%s", "");
		if (res)
			snprintf(mr->error, sizeof(mr->error), "neonfs stopped before the restore "
				 "ended, and %.400s", msg);
		if (meta_restore_end(job->meta, row->id, mr, msg, sizeof(msg)) != 0)
			log_warn("restore: the audit log of restore %lld not settled: %s",
				 (long long)row->id, msg);
		else
			log_info("restore: restore %lld of snapshot %s, left running by an earlier "
				 "neonfs, %s on Neon%s%s", (long long)row->id, mr->snapshot_name,
				 res ? "was not made" : "was made", res ? "" : " as branch ",
				 res ? "" : after);
		snprintf(why, whylen, "%s", mr->error);
		return res ? -EIO : 0;
	}
	if (res == -ETIMEDOUT && timeout_s <= 0)
		return res;
	/* Not known yet: the row stays running, for the next mount to settle. */
	log_warn("restore: restore %lld of snapshot %s, left running by an earlier neonfs, "
		 "not settled: %s", (long long)row->id, mr->snapshot_name, msg);
	snprintf(why, whylen, "its end is not known yet: %s", msg);
	return res;
}

/* On the pool: the restores still under way at mount, waited for. */
static void settle_run(void *data)
{
	struct settle_job *job = data;
	void (*done)(void *data);
	void *done_data;
	char after[64] = "", why[640] = "", msg[256];
	int res = 0;
	size_t i;

	for (i = 0; i < job->count; i++) {
		after[0] = why[0] = '\0';
		res = settle_row(job, &job->rows[i], job->timeout_s, after, sizeof(after), why,
				 sizeof(why));
	}
	if (meta_restore_unlock(job->meta, job->lock, msg, sizeof(msg)) != 0)
		log_warn("restore: %s", msg);
	if (job->status)
		restore_record_end(job->restore, res, res ? NULL : after, why);
	done = job->done;
	done_data = job->done_data;
	free(job->rows);
	free(job);
	if (done)
		done(done_data);
}

/* True when a job was left on @workers (it calls @done). */
static bool settle_start(struct restore *r, struct api *api, struct meta *meta,
			 struct worker_pool *workers, const char *branch_name, double timeout_s,
			 void (*done)(void *data), void *done_data)
{
	struct settle_job *job;
	struct restore_request req = { 0 };
	struct meta_restore_row *newest;
	char msg[512], host[256], holder[300], after[64] = "", why[640] = "";
	size_t i, pending = 0;
	int res = 0;

	if (!meta)
		return false;
	job = calloc(1, sizeof(*job));
	if (!job)
		return false;
	*job = (struct settle_job){ .restore = r, .api = api, .meta = meta,
				    .timeout_s = timeout_s, .done = done, .done_data = done_data };
	if (meta_restore_unsettled(meta, &job->rows, &job->count, msg, sizeof(msg)) != 0) {
		log_warn("restore: the audit log was not checked for unsettled restores: %s", msg);
		goto out;
	}
	if (!job->count)
		goto out;
	if (gethostname(host, sizeof(host)) != 0)
		host[0] = '\0';
	host[sizeof(host) - 1] = '\0';
	snprintf(holder, sizeof(holder), "pid %ld on %s", (long)getpid(),
		 host[0] ? host : "a host without a name");
	/* Under the lock: a restore another mount runs now is that mount's to settle. */
	if (meta_restore_lock(meta, holder, &job->lock, msg, sizeof(msg)) != 0) {
		log_info("restore: %zu restores the audit log shows running are left: %s",
			 job->count, msg);
		goto out;
	}
	newest = &job->rows[job->count - 1];
	req.snapshot_id = newest->r.snapshot_id;
	req.snapshot_name = newest->r.snapshot_name;
	req.branch_name = branch_name;
	req.branch_id = newest->r.branch_before;
	if (restore_record_begin(r, &req) != 0)
		goto unlock;
	/* What Neon has ended is settled now, so the mount answers knowing it; only what is
	 * still under way is waited for, on the pool. */
	for (i = 0; i < job->count; i++) {
		after[0] = why[0] = '\0';
		res = settle_row(job, &job->rows[i], 0, after, sizeof(after), why, sizeof(why));
		if (res == -ETIMEDOUT)
			job->rows[pending++] = job->rows[i];
	}
	job->status = res == -ETIMEDOUT;
	if (!job->status)
		restore_record_end(r, res, res ? NULL : after, why);
	job->count = pending;
	if (!pending)
		goto unlock;
	if (worker_submit(workers, settle_run, job) == 0)
		return true;
	log_warn("restore: the restores still under way on Neon are left to the next mount");
	if (job->status)
		restore_record_end(r, -EIO, NULL, "the restore still under way on Neon was not "
				   "waited for: out of memory");
unlock:
	meta_restore_unlock(meta, job->lock, msg, sizeof(msg));
out:
	free(job->rows);
	free(job);
	return false;
}

void restore_settle_start(struct restore *r, struct api *api, struct meta *meta,
			  struct worker_pool *workers, const char *branch_name, double timeout_s,
			  void (*done)(void *data), void *done_data)
{
	if (!settle_start(r, api, meta, workers, branch_name, timeout_s, done, done_data) &&
	    done)
		done(done_data);
}
