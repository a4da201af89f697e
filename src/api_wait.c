/* api_wait: polling Neon's asynchronous operations until they end, in the model's
 * struct neon_operation. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_internal.h"
#include "errmap.h"
#include "log.h"
#include "model.h"
#include "util.h"

#define API_POLL_FIRST_S	0.02
#define API_POLL_FACTOR		1.5
#define API_POLL_CAP_S		1.0
#define API_POLL_FRACTION	0.10

static int api_get_operation_until(struct api *a, const char *operation_id, double deadline,
				   struct neon_operation *operation, struct api_error *err)
{
	static const char what[] = "poll operation";
	char *path, *text = NULL, msg[256] = "";
	int res;

	memset(operation, 0, sizeof(*operation));
	res = api_path(&path, "/projects/%s/operations/%s", a->project_id, operation_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_request_flags(a, ERRMAP_READ, what, "GET", path, NULL, NULL, deadline,
				API_OPERATION, &text, err);
	free(path);
	if (!res) {
		res = model_operation_parse(text, operation, msg, sizeof(msg));
		if (res)
			res = api_parse_fail(res, what, msg, err);
	}
	free(text);
	return res;
}

int api_get_operation(struct api *a, const char *operation_id,
		      struct neon_operation *operation, struct api_error *err)
{
	return api_get_operation_until(a, operation_id, util_now() + a->retry_deadline_s,
				       operation, err);
}

/* 0: all succeeded; 1: some still running; a negative errno (with *err) when one
 * ended badly. The first bad one in array order decides. */
static int api_ops_outcome(const struct neon_operation *ops, size_t n, struct api_error *err)
{
	int pending = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *status = ops[i].status;
		const char *action = ops[i].action[0] ? ops[i].action : "operation";
		int e = errmap_operation(status);

		if (e < 0) {
			pending = 1;
		} else if (e > 0) {
			if (ops[i].error[0])
				return api_fail(err, 0, e, NULL,
						"operation %s (%s) ended with status \"%s\": %s",
						action, ops[i].id, status, ops[i].error);
			return api_fail(err, 0, e, NULL, "operation %s (%s) ended with status \"%s\"",
					action, ops[i].id, status);
		}
	}
	return pending;
}

static int api_ops_timeout(const struct neon_operation *ops, size_t n, double timeout_s,
			   struct api_error *err)
{
	char list[400];
	size_t i, used = 0;

	list[0] = '\0';
	for (i = 0; i < n && used < sizeof(list); i++) {
		int w;

		if (errmap_operation(ops[i].status) >= 0)
			continue;
		w = snprintf(list + used, sizeof(list) - used, "%s%s %s %s", used ? ", " : "",
			     ops[i].action[0] ? ops[i].action : "operation", ops[i].id,
			     ops[i].status[0] ? ops[i].status : "(no status)");
		if (w > 0)
			used += (size_t)w;
		if (used < sizeof(list) && ops[i].failures_count > 0) {
			w = snprintf(list + used, sizeof(list) - used, " (%lld failures)",
				     ops[i].failures_count);
			if (w > 0)
				used += (size_t)w;
		}
	}
	return api_fail(err, 0, ETIMEDOUT, NULL,
			"timed out after %.1f s waiting for operations still pending: %s",
			timeout_s > 0 ? timeout_s : 0.0, list);
}

int api_wait_operations(struct api *a, const struct neon_operation *operations, size_t n,
			double timeout_s, api_progress_fn progress, void *data,
			struct neon_operation **latest, struct api_error *err)
{
	struct neon_operation *ops = NULL;
	struct api_error local;
	double start = util_now(), deadline = start + timeout_s;
	double interval = API_POLL_FIRST_S, next, poll_deadline;
	size_t i;
	int res;

	if (!err)
		err = &local;
	if (latest)
		*latest = NULL;
	api_error_clear(err);
	if (n && !operations)
		return api_fail(err, 0, EINVAL, NULL, "wait for operations: none given");
	ops = calloc(n ? n : 1, sizeof(*ops));
	if (!ops)
		return api_fail(err, 0, ENOMEM, NULL, "wait for operations: out of memory");
	if (n)
		memcpy(ops, operations, n * sizeof(*ops));
	for (i = 0; i < n; i++) {
		if (!ops[i].id[0]) {
			res = api_fail(err, 0, EINVAL, NULL, "wait for operations: one has no id");
			goto out;
		}
	}

	/* Short operations are the common case: look early, then back off. */
	res = api_ops_outcome(ops, n, err);
	next = start + interval;
	while (res > 0) {
		util_sleep_until(next < deadline ? next : deadline);
		for (i = 0; i < n; i++) {
			struct neon_operation op;

			if (errmap_operation(ops[i].status) >= 0)
				continue;
			/* Bounded by our deadline so a flaky API cannot stretch the wait much,
			 * but a hiccup right at the deadline still gets a short retry. */
			poll_deadline = util_now() + API_POLL_CAP_S;
			if (poll_deadline < deadline)
				poll_deadline = deadline;
			if (poll_deadline > util_now() + a->retry_deadline_s)
				poll_deadline = util_now() + a->retry_deadline_s;
			res = api_get_operation_until(a, ops[i].id, poll_deadline, &op, err);
			if (res)
				goto out;
			ops[i] = op;
			/* Neon runs a mutation's operations one after another: while this one
			 * runs, the later ones cannot have ended, so asking costs calls for
			 * nothing. An operation that ended passes the turn to the next at once. */
			if (errmap_operation(op.status) < 0)
				break;
		}
		if (progress)
			progress(data, ops, n);
		res = api_ops_outcome(ops, n, err);
		if (res > 0 && util_now() >= deadline) {
			res = api_ops_timeout(ops, n, timeout_s, err);
			break;
		}
		/* The wait can overshoot the operations' end by one interval: keep that a
		 * small fraction of the time waited so far, as well as under the cap. */
		interval *= API_POLL_FACTOR;
		if (interval > API_POLL_FRACTION * (util_now() - start))
			interval = API_POLL_FRACTION * (util_now() - start);
		if (interval < API_POLL_FIRST_S)
			interval = API_POLL_FIRST_S;
		if (interval > API_POLL_CAP_S)
			interval = API_POLL_CAP_S;
		next = util_now() + interval;
	}

out:
	if (res < 0)
		log_warn("api: waiting for operations: %s", err->message);
	if (latest) {
		*latest = ops;
		ops = NULL;
	}
	free(ops);
	return res;
}
