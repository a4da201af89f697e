/* api: a client for the Neon HTTP API v2 (libcurl).
 *
 * Every call returns 0 or a negative errno. On failure *err says why in words
 * (the server's message when there was one); the errno comes from errmap.
 * The wire moves bytes: request bodies come from the model's writers, and each answer's
 * body goes to the model's parsers, so results come in the model's types (model.h). An
 * answer that is not what the call expects is -EIO. */
#ifndef NEONFS_API_H
#define NEONFS_API_H

#include <stdbool.h>
#include <stddef.h>

struct model_answer;
struct model_list;
struct neon_named;
struct neon_operation;

#define API_DEFAULT_BASE "https://console.neon.tech/api/v2"

struct api;

struct api_config {
	const char *base_url;     /* NEON_API_HOST, or API_DEFAULT_BASE */
	const char *api_key;      /* never logged */
	const char *project_id;
	double request_timeout_s; /* one HTTP exchange; default 30 */
	double retry_deadline_s;  /* all retries of one call; default 60 */
	double rate_per_minute;   /* the mount's API budget (budget.h); <= 0: none */
};

struct api_error {
	long http_status;       /* 0 when no HTTP answer came */
	int err;                /* positive errno, as returned negated */
	char code[64];          /* GeneralError.code */
	char message[512];      /* what to tell the user */
};

/* Counters for tests and the status of the mount. */
struct api_stats {
	unsigned long requests;   /* HTTP exchanges attempted */
	unsigned long retries;
};

struct api *api_new(const struct api_config *cfg);

/* Marks the calling thread's calls as background (the watcher's polls): they are shed
 * first when the budget runs short, and never wait for it. */
void api_set_background(bool background);
void api_free(struct api *a);
const char *api_project_id(const struct api *a);
void api_get_stats(struct api *a, struct api_stats *st);
/* How long one call retries transient failures (api_timeout). */
double api_retry_seconds(const struct api *a);

/* Any call: method "GET"/"POST"/"PATCH"/"DELETE"; @path relative to the base, starting
 * with '/'; @query already URL-encoded ("a=b&c=d") or NULL; @body JSON text or NULL.
 * @action selects errno meanings. *out: the answer's body (malloc'd), NULL when it had
 * none. */
int api_call(struct api *a, int action, const char *method, const char *path,
	     const char *query, const char *body, char **out, struct api_error *err);

/* URL-encode @s into a new string. */
char *api_escape(const char *s);

/* Listings (model_list_put): every page of them. */
int api_list_snapshots(struct api *a, struct model_list **snapshots, struct api_error *err);
int api_list_branches(struct api *a, struct model_list **branches, struct api_error *err);
/* Every endpoint of the project. */
int api_list_endpoints(struct api *a, struct model_list **endpoints, struct api_error *err);

/* Mutations answer a model_answer (model_answer_free): the object and its operations. */
/* @lsn may be NULL (branch head), @expires_at NULL (no expiry). Answer: {snapshot,
 * operations}. */
int api_create_snapshot(struct api *a, const char *branch_id, const char *name,
			const char *lsn, const char *expires_at, struct model_answer **resp,
			struct api_error *err);
/* Sets the time Neon deletes the snapshot (RFC 3339), or clears it when @expires_at is NULL.
 * Answer: {snapshot}. */
int api_expire_snapshot(struct api *a, const char *snapshot_id, const char *expires_at,
			struct model_answer **resp, struct api_error *err);
int api_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			struct model_answer **resp, struct api_error *err);
int api_delete_snapshot(struct api *a, const char *snapshot_id,
			struct model_answer **resp, struct api_error *err);
/* Answer: {branch, endpoints?, operations}. Always sends target_branch_id. With
 * @finalize a 423 is not retried (err->http_status 423, -EBUSY): the target may be
 * renamed meanwhile, so the caller resolves it again before it calls again. */
int api_restore_snapshot(struct api *a, const char *snapshot_id, const char *target_branch_id,
			 bool finalize, const char *new_branch_name,
			 struct model_answer **resp, struct api_error *err);
int api_finalize_restore(struct api *a, const char *branch_id, const char *old_branch_name,
			 struct model_answer **resp, struct api_error *err);
/* New branch from @parent_id's head with one read_write endpoint. Answer: CreatedBranch. */
int api_create_branch(struct api *a, const char *parent_id, const char *name,
		      struct model_answer **resp, struct api_error *err);
int api_delete_branch(struct api *a, const char *branch_id,
		      struct model_answer **resp, struct api_error *err);
int api_create_endpoint(struct api *a, const char *branch_id,
			struct model_answer **resp, struct api_error *err);

/* Databases and roles of a branch (malloc'd arrays), connection URIs. */
int api_list_databases(struct api *a, const char *branch_id,
		       struct neon_named **databases, size_t *n, struct api_error *err);
int api_list_roles(struct api *a, const char *branch_id,
		   struct neon_named **roles, size_t *n, struct api_error *err);
int api_connection_uri(struct api *a, const char *branch_id, const char *database,
		       const char *role, char **uri, struct api_error *err);

/* Operations. */
int api_get_operation(struct api *a, const char *operation_id,
		      struct neon_operation *operation, struct api_error *err);

/* Called after each poll round with the latest state of the operations (status files). */
typedef void (*api_progress_fn)(void *data, const struct neon_operation *ops, size_t n);

/* Polls every operation of @ops until each is terminal (finished, skipped, cancelled,
 * error), or until @timeout_s. Polling adapts: first poll after ~20 ms, then x1.5 up to a
 * 1 s cap. "failed" keeps polling.
 * Returns 0 when all finished or skipped; -EIO when one ended in error (its error text in
 * *err); -ECANCELED when cancelled; -ETIMEDOUT at the deadline; -EINVAL when one has no id.
 * If @latest is not NULL it receives their final state (@n of them, malloc'd). */
int api_wait_operations(struct api *a, const struct neon_operation *ops, size_t n,
			double timeout_s, api_progress_fn progress, void *data,
			struct neon_operation **latest, struct api_error *err);

#endif
