/* api_calls: one function per Neon API endpoint neonfs uses, over the transport in api.c.
 *
 * Each builds its path (one escaped segment per identifier) and query, has the model write
 * its body, picks the errmap action that gives the answer's statuses their meaning, and
 * hands the answer's body to the model's parser for what the caller wants. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_internal.h"
#include "errmap.h"
#include "model.h"
#include "util.h"

#define API_BRANCH_PAGE		"1000"
#define API_MAX_PAGES		10000

static int api_buf_escaped(struct api_buf *b, const char *s)
{
	char *e = api_escape(s);
	int res;

	if (!e)
		return -ENOMEM;
	res = api_buf_puts(b, e);
	free(e);
	return res;
}

/* Builds a path from @fmt, where each %s is one path segment (escaped here).
 * -EINVAL for a missing, empty, "." or ".." segment: it would address another resource
 * ("." and ".." are unreserved, so escaping keeps them, and URL resolution removes them). */
int api_path(char **out, const char *fmt, ...)
{
	struct api_buf b = { 0 };
	va_list ap;
	int res = 0;

	*out = NULL;
	va_start(ap, fmt);
	for (; *fmt && !res; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 's') {
			const char *seg = va_arg(ap, const char *);

			fmt++;
			if (!seg || !*seg || strcmp(seg, ".") == 0 || strcmp(seg, "..") == 0)
				res = -EINVAL;
			else
				res = api_buf_escaped(&b, seg);
		} else {
			res = api_buf_append(&b, fmt, 1);
		}
	}
	va_end(ap);
	if (res) {
		api_buf_free(&b);
		return res;
	}
	*out = b.data;
	return 0;
}

/* Appends key=value to a query string; a NULL value is left out. */
int api_query_add(struct api_buf *q, const char *key, const char *value)
{
	int res;

	if (!value)
		return 0;
	if (q->len) {
		res = api_buf_puts(q, "&");
		if (res)
			return res;
	}
	res = api_buf_escaped(q, key);
	if (!res)
		res = api_buf_puts(q, "=");
	if (!res)
		res = api_buf_escaped(q, value);
	return res;
}

int api_path_fail(int res, const char *what, struct api_error *err)
{
	if (res == -EINVAL)
		return api_fail(err, 0, EINVAL, NULL, "%s: missing or empty identifier", what);
	return api_fail(err, 0, -res, NULL, "%s: %s", what, strerror(-res));
}

/* The answer of a mutation, parsed. */
static int api_answer(int res, char *text, const char *what, struct model_answer **resp,
		      struct api_error *err)
{
	char msg[256] = "";

	if (!res) {
		res = model_answer_parse(text, resp, msg, sizeof(msg));
		if (res)
			res = api_parse_fail(res, what, msg, err);
	}
	free(text);
	return res;
}

/* A mutation at @path with the model's @body (NULL from a writer: out of memory). */
static int api_mutate(struct api *a, enum errmap_action action, const char *what,
		      const char *method, const char *path, const char *query, const char *body,
		      bool needs_body, struct model_answer **resp, struct api_error *err)
{
	char *text = NULL;
	int res;

	if (needs_body && !body)
		return api_path_fail(-ENOMEM, what, err);
	res = api_do(a, action, what, method, path, query, body, &text, err);
	return api_answer(res, text, what, resp, err);
}

/* GET of a listing, parsed. */
static int api_listing(struct api *a, enum model_kind kind, const char *what, const char *path,
		       struct model_list **out, struct api_error *err)
{
	char *text = NULL, msg[256] = "";
	int res;

	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, &text, err);
	if (!res) {
		res = model_list_parse(kind, text, out, msg, sizeof(msg));
		if (res)
			res = api_parse_fail(res, what, msg, err);
	}
	free(text);
	return res;
}

int api_list_snapshots(struct api *a, struct model_list **snapshots, struct api_error *err)
{
	static const char what[] = "list snapshots";
	char *path;
	int res;

	*snapshots = NULL;
	res = api_path(&path, "/projects/%s/snapshots", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_listing(a, MODEL_SNAPSHOTS, what, path, snapshots, err);
	free(path);
	return res;
}

int api_create_snapshot(struct api *a, const char *branch_id, const char *name,
			const char *lsn, const char *expires_at, struct model_answer **resp,
			struct api_error *err)
{
	static const char what[] = "create snapshot";
	struct api_buf q = { 0 };
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/snapshot", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	/* The spec takes these as query parameters; there is no request body. */
	res = api_query_add(&q, "name", name);
	if (!res)
		res = api_query_add(&q, "lsn", lsn);
	if (!res)
		res = api_query_add(&q, "expires_at", expires_at);
	if (res)
		res = api_path_fail(res, what, err);
	else
		res = api_mutate(a, ERRMAP_SNAPSHOT_CREATE, what, "POST", path, q.data, NULL,
				 false, resp, err);
	api_buf_free(&q);
	free(path);
	return res;
}

int api_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "rename snapshot";
	char *path = NULL, *body;
	int res;

	*resp = NULL;
	if (!name)
		return api_fail(err, 0, EINVAL, NULL, "%s: no new name", what);
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = model_body_snapshot_rename(name);
	res = api_mutate(a, ERRMAP_SNAPSHOT_RENAME, what, "PATCH", path, NULL, body, true, resp,
			 err);
	free(body);
	free(path);
	return res;
}

int api_expire_snapshot(struct api *a, const char *snapshot_id, const char *expires_at,
			struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "set snapshot expiry";
	char *path = NULL, *body;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = model_body_snapshot_expiry(expires_at);
	/* The same PATCH as a rename, so the same statuses mean the same. */
	res = api_mutate(a, ERRMAP_SNAPSHOT_RENAME, what, "PATCH", path, NULL, body, true, resp,
			 err);
	free(body);
	free(path);
	return res;
}

int api_delete_snapshot(struct api *a, const char *snapshot_id,
			struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "delete snapshot";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_mutate(a, ERRMAP_SNAPSHOT_DELETE, what, "DELETE", path, NULL, NULL, false, resp,
			 err);
	free(path);
	return res;
}

int api_restore_snapshot(struct api *a, const char *snapshot_id, const char *target_branch_id,
			 bool finalize, const char *new_branch_name,
			 struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "restore snapshot";
	char *path = NULL, *body = NULL, *text = NULL;
	int res;

	*resp = NULL;
	/* The server's default target is the snapshot's source branch, which may be
	 * a renamed leftover of an earlier restore: always name the target. */
	if (!target_branch_id || !*target_branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no target branch", what);
	res = api_path(&path, "/projects/%s/snapshots/%s/restore", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = model_body_restore(target_branch_id, finalize, new_branch_name);
	if (!body) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	/* A finalized restore renames its target to "<name> (old)". A 423 may mean another
	 * restore holds the project and is about to do just that, so resending this body
	 * could restore into the backup branch: the caller resolves the target by name
	 * again and calls anew. A preview names its target only as a source, so the
	 * transport may resend it. */
	res = api_request_flags(a, ERRMAP_RESTORE, what, "POST", path, NULL, body,
				util_now() + a->retry_deadline_s,
				finalize ? API_NO_RETRY_LOCKED : 0, &text, err);
	res = api_answer(res, text, what, resp, err);
out:
	free(body);
	free(path);
	return res;
}

int api_finalize_restore(struct api *a, const char *branch_id, const char *old_branch_name,
			 struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "finalize restore";
	char *path = NULL, *body;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/finalize_restore", a->project_id,
		       branch_id);
	if (res)
		return api_path_fail(res, what, err);
	body = model_body_finalize_restore(old_branch_name);
	/* ERRMAP_ANY: a 404 here is an unknown branch, not an unknown snapshot. */
	res = api_mutate(a, ERRMAP_ANY, what, "POST", path, NULL, body, true, resp, err);
	free(body);
	free(path);
	return res;
}

int api_list_branches(struct api *a, struct model_list **branches, struct api_error *err)
{
	static const char what[] = "list branches";
	struct model_pages *all = NULL;
	struct api_buf q = { 0 };
	char *path = NULL, *cursor = NULL, *page = NULL, msg[256] = "";
	int pages, res;

	*branches = NULL;
	res = api_path(&path, "/projects/%s/branches", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	all = model_pages_new();
	if (!all) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	for (pages = 1;; pages++) {
		char *next_cursor = NULL;
		size_t n;

		/* Oldest first: a branch created meanwhile lands on a later page
		 * instead of shifting the ones not yet read. */
		api_buf_free(&q);
		res = api_query_add(&q, "limit", API_BRANCH_PAGE);
		if (!res)
			res = api_query_add(&q, "sort_by", "created_at");
		if (!res)
			res = api_query_add(&q, "sort_order", "asc");
		if (!res)
			res = api_query_add(&q, "cursor", cursor);
		if (res) {
			res = api_path_fail(res, what, err);
			goto out;
		}
		free(page);
		res = api_request(a, ERRMAP_READ, what, "GET", path, q.data, NULL,
				  util_now() + a->retry_deadline_s, &page, err);
		if (res)
			goto out;
		res = model_pages_add(all, page, "branches", &n, &next_cursor, msg, sizeof(msg));
		if (res) {
			res = api_parse_fail(res, what, msg, err);
			goto out;
		}
		/* Stop on an empty page or a cursor that does not move, or we would loop. */
		if (!next_cursor || n == 0 || (cursor && strcmp(cursor, next_cursor) == 0)) {
			free(next_cursor);
			break;
		}
		if (pages >= API_MAX_PAGES) {
			free(next_cursor);
			res = api_fail(err, 0, EIO, NULL, "%s: more than %d pages", what,
				       API_MAX_PAGES);
			goto out;
		}
		free(cursor);
		cursor = next_cursor;
	}
	*branches = model_pages_list(all, MODEL_BRANCHES);
	if (!*branches)
		res = api_path_fail(-ENOMEM, what, err);
out:
	model_pages_free(all);
	free(page);
	api_buf_free(&q);
	free(cursor);
	free(path);
	return res;
}

int api_create_branch(struct api *a, const char *parent_id, const char *name,
		      struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "create branch";
	char *path = NULL, *body;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	body = model_body_branch_create(parent_id, name);
	res = api_mutate(a, ERRMAP_BRANCH_CREATE, what, "POST", path, NULL, body, true, resp,
			 err);
	free(body);
	free(path);
	return res;
}

int api_delete_branch(struct api *a, const char *branch_id,
		      struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "delete branch";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_mutate(a, ERRMAP_BRANCH_DELETE, what, "DELETE", path, NULL, NULL, false, resp,
			 err);
	free(path);
	return res;
}

/* GET /projects/{p}/branches/{b}/{leaf}: the databases or roles under @leaf. */
static int api_branch_names(struct api *a, const char *what, const char *branch_id,
			    const char *leaf, struct neon_named **out, size_t *n,
			    struct api_error *err)
{
	char *path, *text = NULL, msg[256] = "";
	int res;

	*out = NULL;
	*n = 0;
	res = api_path(&path, "/projects/%s/branches/%s/%s", a->project_id, branch_id, leaf);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, &text, err);
	if (!res) {
		res = model_named_parse(text, leaf, out, n, msg, sizeof(msg));
		if (res)
			res = api_parse_fail(res, what, msg, err);
	}
	free(text);
	free(path);
	return res;
}

int api_list_endpoints(struct api *a, struct model_list **endpoints, struct api_error *err)
{
	static const char what[] = "list endpoints";
	char *path;
	int res;

	*endpoints = NULL;
	res = api_path(&path, "/projects/%s/endpoints", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_listing(a, MODEL_ENDPOINTS, what, path, endpoints, err);
	free(path);
	return res;
}

int api_create_endpoint(struct api *a, const char *branch_id,
			struct model_answer **resp, struct api_error *err)
{
	static const char what[] = "create endpoint";
	char *path = NULL, *body;
	int res;

	*resp = NULL;
	if (!branch_id || !*branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no branch", what);
	res = api_path(&path, "/projects/%s/endpoints", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	body = model_body_endpoint_create(branch_id);
	res = api_mutate(a, ERRMAP_ANY, what, "POST", path, NULL, body, true, resp, err);
	free(body);
	free(path);
	return res;
}

int api_list_databases(struct api *a, const char *branch_id,
		       struct neon_named **databases, size_t *n, struct api_error *err)
{
	return api_branch_names(a, "list databases", branch_id, "databases", databases, n, err);
}

int api_list_roles(struct api *a, const char *branch_id,
		   struct neon_named **roles, size_t *n, struct api_error *err)
{
	return api_branch_names(a, "list roles", branch_id, "roles", roles, n, err);
}

int api_connection_uri(struct api *a, const char *branch_id, const char *database,
		       const char *role, char **uri, struct api_error *err)
{
	static const char what[] = "get connection URI";
	struct api_buf q = { 0 };
	char *path = NULL, *text = NULL, msg[256] = "";
	int res;

	*uri = NULL;
	if (!database || !role)
		return api_fail(err, 0, EINVAL, NULL, "%s: database and role are required", what);
	res = api_path(&path, "/projects/%s/connection_uri", a->project_id);
	if (!res)
		res = api_query_add(&q, "branch_id", branch_id);
	if (!res)
		res = api_query_add(&q, "database_name", database);
	if (!res)
		res = api_query_add(&q, "role_name", role);
	if (res) {
		res = api_path_fail(res, what, err);
		goto out;
	}
	/* The URI holds a password: it is returned, never logged. */
	res = api_do(a, ERRMAP_READ, what, "GET", path, q.data, NULL, &text, err);
	if (!res) {
		res = model_uri_parse(text, uri, msg, sizeof(msg));
		if (res)
			res = api_parse_fail(res, what, msg, err);
	}
out:
	if (text) {
		/* It held the password too. */
		memset(text, 0, strlen(text));
		free(text);
	}
	api_buf_free(&q);
	free(path);
	return res;
}
