/* api_wait: polling Neon's asynchronous operations until they end. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <json-c/json.h>

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
				   struct json_object **operation, struct api_error *err)
{
	static const char what[] = "poll operation";
	struct json_object *resp = NULL, *op;
	char *path;
	int res;

	*operation = NULL;
	res = api_path(&path, "/projects/%s/operations/%s", a->project_id, operation_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_request(a, ERRMAP_READ, what, "GET", path, NULL, NULL, deadline, &resp, err);
	free(path);
	if (res)
		return res;
	if (!json_object_object_get_ex(resp, "operation", &op) ||
	    !json_object_is_type(op, json_type_object)) {
		json_object_put(resp);
		return api_fail(err, 0, EIO, NULL, "%s: the API's answer has no \"operation\"",
				what);
	}
	*operation = json_object_get(op);
	json_object_put(resp);
	return 0;
}

int api_get_operation(struct api *a, const char *operation_id,
		      struct json_object **operation, struct api_error *err)
{
	return api_get_operation_until(a, operation_id, util_now() + a->retry_deadline_s,
				       operation, err);
}

/* 0: all succeeded; 1: some still running; a negative errno (with *err) when one
 * ended badly. The first bad one in array order decides. */
static int api_ops_outcome(struct json_object **ops, size_t n, struct api_error *err)
{
	int pending = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *status = model_json_str(ops[i], "status");
		const char *action = model_json_str(ops[i], "action");
		const char *id = model_json_str(ops[i], "id");
		const char *text = model_json_str(ops[i], "error");
		int e = errmap_operation(status);

		if (e < 0) {
			pending = 1;
		} else if (e > 0) {
			if (!action)
				action = "operation";
			if (!id)
				id = "?";
			if (text && *text)
				return api_fail(err, 0, e, NULL,
						"operation %s (%s) ended with status \"%s\": %s",
						action, id, status, text);
			return api_fail(err, 0, e, NULL, "operation %s (%s) ended with status \"%s\"",
					action, id, status);
		}
	}
	return pending;
}

static struct json_object *api_ops_array(struct json_object **ops, size_t n)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		if (api_json_push(arr, json_object_get(ops[i]))) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static int api_ops_timeout(struct json_object **ops, size_t n, double timeout_s,
			   struct api_error *err)
{
	char list[400];
	size_t i, used = 0;

	list[0] = '\0';
	for (i = 0; i < n && used < sizeof(list); i++) {
		const char *status = model_json_str(ops[i], "status");
		const char *action = model_json_str(ops[i], "action");
		const char *id = model_json_str(ops[i], "id");
		long long failures = model_json_int(ops[i], "failures_count", 0);
		int w;

		if (errmap_operation(status) >= 0)
			continue;
		w = snprintf(list + used, sizeof(list) - used, "%s%s %s %s", used ? ", " : "",
			     action ? action : "operation", id ? id : "?",
			     status ? status : "(no status)");
		if (w > 0)
			used += (size_t)w;
		if (used < sizeof(list) && failures > 0) {
			w = snprintf(list + used, sizeof(list) - used, " (%lld failures)", failures);
			if (w > 0)
				used += (size_t)w;
		}
	}
	return api_fail(err, 0, ETIMEDOUT, NULL,
			"timed out after %.1f s waiting for operations still pending: %s",
			timeout_s > 0 ? timeout_s : 0.0, list);
}

int api_wait_operations(struct api *a, struct json_object *operations, double timeout_s,
			api_progress_fn progress, void *data,
			struct json_object **latest, struct api_error *err)
{
	struct json_object **ops = NULL;
	struct api_error local;
	double start = util_now(), deadline = start + timeout_s;
	double interval = API_POLL_FIRST_S, next, poll_deadline;
	size_t i, n;
	int res;

	if (!err)
		err = &local;
	if (latest)
		*latest = NULL;
	api_error_clear(err);
	if (!operations || !json_object_is_type(operations, json_type_array))
		return api_fail(err, 0, EINVAL, NULL, "wait for operations: not an array");
	n = json_object_array_length(operations);
	if (n == 0) {
		if (latest)
			*latest = json_object_new_array();
		return 0;
	}
	ops = calloc(n, sizeof(*ops));
	if (!ops)
		return api_fail(err, 0, ENOMEM, NULL, "wait for operations: out of memory");
	for (i = 0; i < n; i++)
		ops[i] = json_object_get(json_object_array_get_idx(operations, i));
	for (i = 0; i < n; i++) {
		if (!model_json_str(ops[i], "id")) {
			res = api_fail(err, 0, EINVAL, NULL, "wait for operations: one has no id");
			goto out;
		}
	}

	/* Short operations are the common case: look early, then back off. */
	res = api_ops_outcome(ops, n, err);
	next = start + interval;
	while (res > 0) {
		struct json_object *arr;

		util_sleep_until(next < deadline ? next : deadline);
		for (i = 0; i < n; i++) {
			struct json_object *op = NULL;

			if (errmap_operation(model_json_str(ops[i], "status")) >= 0)
				continue;
			/* Bounded by our deadline so a flaky API cannot stretch the wait much,
			 * but a hiccup right at the deadline still gets a short retry. */
			poll_deadline = util_now() + API_POLL_CAP_S;
			if (poll_deadline < deadline)
				poll_deadline = deadline;
			if (poll_deadline > util_now() + a->retry_deadline_s)
				poll_deadline = util_now() + a->retry_deadline_s;
			res = api_get_operation_until(a, model_json_str(ops[i], "id"),
						      poll_deadline, &op, err);
			if (res)
				goto out;
			json_object_put(ops[i]);
			ops[i] = op;
			/* Neon runs a mutation's operations one after another: while this one
			 * runs, the later ones cannot have ended, so asking costs calls for
			 * nothing. An operation that ended passes the turn to the next at once. */
			if (errmap_operation(model_json_str(op, "status")) < 0)
				break;
		}
		if (progress) {
			arr = api_ops_array(ops, n);
			if (arr) {
				progress(data, arr);
				json_object_put(arr);
			}
		}
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
	if (latest)
		*latest = api_ops_array(ops, n);
	for (i = 0; i < n; i++)
		json_object_put(ops[i]);
	free(ops);
	return res;
}
