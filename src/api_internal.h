/* api_internal: what the api module's own files share; only src/api*.c include it.
 *
 * The module is split by concern: api.c is the transport (curl handles, one call
 * with its retries, error bodies), api_calls.c the endpoints (and the builders of
 * their paths, queries and bodies), api_wait.c the polling of operations. None of
 * this is part of the module's interface, which stays in include/api.h. Bodies are text
 * both ways: the model writes the requests' and parses the answers'. */
#ifndef NEONFS_API_INTERNAL_H
#define NEONFS_API_INTERNAL_H

#include <stddef.h>
#include <pthread.h>
#include <curl/curl.h>

#include "api.h"
#include "errmap.h"

#define API_POOL_MAX		8

struct api {
	char *base_url;
	char *auth_header;	/* "Authorization: Bearer ...", or NULL without a key */
	char *project_id;	/* "" for the organization's own calls */
	char *org_id;		/* "" in a mount of one project */
	double request_timeout_s;
	double retry_deadline_s;
	struct budget *budget;	/* every call's token; NULL: no budget */
	bool owns_budget;	/* false in a project's client of an organization's mount */
	struct budget_flow *flow;	/* this client's reads' turn in the budget's queue */
	struct budget_flow *changes;	/* its changes and the operations they wait for */
	struct api *shared;	/* that organization's client: its handles and counters */

	pthread_mutex_t lock;	/* guards everything below */
	struct api_stats stats;
	CURL *idle[API_POOL_MAX];
	int nidle;
};

/* A growable byte buffer, always NUL-terminated once it holds anything. */
struct api_buf {
	char *data;
	size_t len;
	size_t cap;
};

void api_error_clear(struct api_error *err);
__attribute__((format(printf, 5, 6)))
int api_fail(struct api_error *err, long status, int e, const char *code,
	     const char *fmt, ...);
int api_buf_append(struct api_buf *b, const char *p, size_t n);
int api_buf_puts(struct api_buf *b, const char *s);
void api_buf_free(struct api_buf *b);
/* One call with retries until @deadline (absolute, util_now() clock); @body is JSON text or
 * NULL; *out the answer's body on success (malloc'd), NULL when it had none. */
int api_request(struct api *a, enum errmap_action action, const char *what,
		const char *method, const char *path, const char *query,
		const char *body, double deadline, char **out, struct api_error *err);
/* api_request with @flags: API_NO_RETRY_LOCKED gives a 423 back at once, for a caller
 * that must look at the world again before it repeats the request. */
#define API_NO_RETRY_LOCKED	1u
/* The turns an organization's projects listing gets in the budget's queue (budget.h). */
#define API_ORG_LISTING_WEIGHT 16
/* A poll of an operation a change waits for: in the changes' flow (struct api). */
#define API_OPERATION		2u
int api_request_flags(struct api *a, enum errmap_action action, const char *what,
		      const char *method, const char *path, const char *query,
		      const char *body, double deadline, unsigned int flags,
		      char **out, struct api_error *err);
/* api_request within the call's retry deadline. */
int api_do(struct api *a, enum errmap_action action, const char *what,
	   const char *method, const char *path, const char *query,
	   const char *body, char **out, struct api_error *err);

/* api_calls.c */
int api_path(char **out, const char *fmt, ...);
int api_query_add(struct api_buf *q, const char *key, const char *value);
int api_path_fail(int res, const char *what, struct api_error *err);
/* A model parser's failure (-EIO with @msg, or -ENOMEM) as the call's. */
int api_parse_fail(int res, const char *what, const char *msg, struct api_error *err);
/* A mutation at @path with the model's @body (NULL from a writer: out of memory when
 * @needs_body), its answer parsed. */
struct model_answer;
int api_mutate(struct api *a, enum errmap_action action, const char *what,
	       const char *method, const char *path, const char *query, const char *body,
	       bool needs_body, struct model_answer **resp, struct api_error *err);

#endif
