/* api_calls: one function per Neon API endpoint neonfs uses, over the transport in api.c.
 *
 * Each builds its path (one escaped segment per identifier), query and JSON body, picks
 * the errmap action that gives the answer's statuses their meaning, and keeps only the
 * member of the answer the caller wants. */
#include "config.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

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

int api_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!o || !v || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int api_json_push(struct json_object *arr, struct json_object *v)
{
	if (!arr || !v || json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

int api_json_add_string(struct json_object *o, const char *key, const char *s)
{
	return s ? api_json_add(o, key, json_object_new_string(s)) : 0;
}

int api_list_snapshots(struct api *a, struct json_object **snapshots, struct api_error *err)
{
	static const char what[] = "list snapshots";
	char *path;
	int res;

	*snapshots = NULL;
	res = api_path(&path, "/projects/%s/snapshots", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, "snapshots", snapshots, err);
	free(path);
	return res;
}

int api_create_snapshot(struct api *a, const char *branch_id, const char *name,
			const char *lsn, const char *expires_at, struct json_object **resp,
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
		res = api_do(a, ERRMAP_SNAPSHOT_CREATE, what, "POST", path, q.data, NULL, NULL,
			     resp, err);
	api_buf_free(&q);
	free(path);
	return res;
}

int api_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "rename snapshot";
	struct json_object *body = NULL, *snap = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	if (!name)
		return api_fail(err, 0, EINVAL, NULL, "%s: no new name", what);
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	snap = json_object_new_object();
	if (!snap || api_json_add_string(snap, "name", name) ||
	    api_json_add(body, "snapshot", json_object_get(snap))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_SNAPSHOT_RENAME, what, "PATCH", path, NULL, body, NULL, resp, err);
out:
	json_object_put(snap);
	json_object_put(body);
	free(path);
	return res;
}

int api_expire_snapshot(struct api *a, const char *snapshot_id, const char *expires_at,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "set snapshot expiry";
	struct json_object *body = NULL, *snap = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	snap = json_object_new_object();
	/* Neon clears an expiry given as null; an absent field would leave it as it was. */
	if (!snap || (expires_at ? api_json_add_string(snap, "expires_at", expires_at) :
		      json_object_object_add(snap, "expires_at", NULL)) ||
	    api_json_add(body, "snapshot", json_object_get(snap))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	/* The same PATCH as a rename, so the same statuses mean the same. */
	res = api_do(a, ERRMAP_SNAPSHOT_RENAME, what, "PATCH", path, NULL, body, NULL, resp, err);
out:
	json_object_put(snap);
	json_object_put(body);
	free(path);
	return res;
}

int api_delete_snapshot(struct api *a, const char *snapshot_id,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "delete snapshot";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_SNAPSHOT_DELETE, what, "DELETE", path, NULL, NULL, NULL, resp, err);
	free(path);
	return res;
}

int api_restore_snapshot(struct api *a, const char *snapshot_id, const char *target_branch_id,
			 bool finalize, const char *new_branch_name,
			 struct json_object **resp, struct api_error *err)
{
	static const char what[] = "restore snapshot";
	struct json_object *body = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	/* The server's default target is the snapshot's source branch, which may be
	 * a renamed leftover of an earlier restore: always name the target. */
	if (!target_branch_id || !*target_branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no target branch", what);
	res = api_path(&path, "/projects/%s/snapshots/%s/restore", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	if (api_json_add_string(body, "target_branch_id", target_branch_id) ||
	    api_json_add(body, "finalize_restore", json_object_new_boolean(finalize)) ||
	    api_json_add_string(body, "name", new_branch_name)) {
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
				finalize ? API_NO_RETRY_LOCKED : 0, resp, err);
out:
	json_object_put(body);
	free(path);
	return res;
}

int api_finalize_restore(struct api *a, const char *branch_id, const char *old_branch_name,
			 struct json_object **resp, struct api_error *err)
{
	static const char what[] = "finalize restore";
	struct json_object *body = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/finalize_restore", a->project_id,
		       branch_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	if (!body || api_json_add_string(body, "name", old_branch_name)) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	/* ERRMAP_ANY: a 404 here is an unknown branch, not an unknown snapshot. */
	res = api_do(a, ERRMAP_ANY, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(body);
	free(path);
	return res;
}

int api_restore_branch(struct api *a, const char *branch_id, const char *source_branch_id,
		       const char *preserve_under_name, struct json_object **resp,
		       struct api_error *err)
{
	static const char what[] = "restore branch";
	struct json_object *body = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	if (!source_branch_id || !*source_branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no source branch", what);
	res = api_path(&path, "/projects/%s/branches/%s/restore", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	if (!body || api_json_add_string(body, "source_branch_id", source_branch_id) ||
	    api_json_add_string(body, "preserve_under_name", preserve_under_name)) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	/* As with a finalized snapshot restore, a 423 may be another restore replacing
	 * @branch_id: the caller looks the target up by name again before it resends. */
	res = api_request_flags(a, ERRMAP_ANY, what, "POST", path, NULL, body,
				util_now() + a->retry_deadline_s, API_NO_RETRY_LOCKED, resp, err);
out:
	json_object_put(body);
	free(path);
	return res;
}

int api_list_branches(struct api *a, struct json_object **branches, struct api_error *err)
{
	static const char what[] = "list branches";
	struct json_object *all = NULL, *page = NULL;
	struct api_buf q = { 0 };
	char *path = NULL, *cursor = NULL;
	int pages, res;

	*branches = NULL;
	res = api_path(&path, "/projects/%s/branches", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	all = json_object_new_array();
	if (!all) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	for (pages = 1;; pages++) {
		struct json_object *list, *pg;
		const char *next_cursor = NULL;
		size_t i, n;

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
		json_object_put(page);
		res = api_request(a, ERRMAP_READ, what, "GET", path, q.data, NULL,
				  util_now() + a->retry_deadline_s, &page, err);
		if (res)
			goto out;
		if (!json_object_object_get_ex(page, "branches", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			res = api_fail(err, 0, EIO, NULL, "%s: the API's answer has no \"branches\"",
				       what);
			goto out;
		}
		n = json_object_array_length(list);
		for (i = 0; i < n; i++) {
			struct json_object *b = json_object_array_get_idx(list, i);

			if (api_json_push(all, json_object_get(b))) {
				res = api_path_fail(-ENOMEM, what, err);
				goto out;
			}
		}
		if (json_object_object_get_ex(page, "pagination", &pg))
			next_cursor = model_json_str(pg, "next");
		/* Stop on an empty page or a cursor that does not move, or we would loop. */
		if (!next_cursor || !*next_cursor || n == 0 ||
		    (cursor && strcmp(cursor, next_cursor) == 0))
			break;
		if (pages >= API_MAX_PAGES) {
			res = api_fail(err, 0, EIO, NULL, "%s: more than %d pages", what,
				       API_MAX_PAGES);
			goto out;
		}
		free(cursor);
		cursor = strdup(next_cursor);
		if (!cursor) {
			res = api_path_fail(-ENOMEM, what, err);
			goto out;
		}
	}
	*branches = all;
	all = NULL;
out:
	json_object_put(page);
	json_object_put(all);
	api_buf_free(&q);
	free(cursor);
	free(path);
	return res;
}

int api_get_branch(struct api *a, const char *branch_id, struct json_object **branch,
		   struct api_error *err)
{
	static const char what[] = "get branch";
	char *path;
	int res;

	*branch = NULL;
	res = api_path(&path, "/projects/%s/branches/%s", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, "branch", branch, err);
	free(path);
	return res;
}

int api_create_branch(struct api *a, const char *parent_id, const char *name,
		      struct json_object **resp, struct api_error *err)
{
	static const char what[] = "create branch";
	struct json_object *body = NULL, *br = NULL, *eps = NULL, *ep = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	br = json_object_new_object();
	eps = json_object_new_array();
	ep = json_object_new_object();
	/* A branch comes without a compute unless asked; it needs one to be queried. */
	if (!body || !br || !eps || !ep ||
	    api_json_add_string(br, "parent_id", parent_id) ||
	    api_json_add_string(br, "name", name) ||
	    api_json_add_string(ep, "type", "read_write") ||
	    api_json_push(eps, json_object_get(ep)) ||
	    api_json_add(body, "branch", json_object_get(br)) ||
	    api_json_add(body, "endpoints", json_object_get(eps))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_BRANCH_CREATE, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(ep);
	json_object_put(eps);
	json_object_put(br);
	json_object_put(body);
	free(path);
	return res;
}

int api_delete_branch(struct api *a, const char *branch_id,
		      struct json_object **resp, struct api_error *err)
{
	static const char what[] = "delete branch";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_BRANCH_DELETE, what, "DELETE", path, NULL, NULL, NULL, resp, err);
	free(path);
	return res;
}

/* GET /projects/{p}/branches/{b}/{leaf}, keeping the member named @leaf. */
static int api_branch_list(struct api *a, const char *what, const char *branch_id,
			   const char *leaf, struct json_object **out, struct api_error *err)
{
	char *path;
	int res;

	*out = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/%s", a->project_id, branch_id, leaf);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, leaf, out, err);
	free(path);
	return res;
}

int api_list_branch_endpoints(struct api *a, const char *branch_id,
			      struct json_object **endpoints, struct api_error *err)
{
	return api_branch_list(a, "list endpoints", branch_id, "endpoints", endpoints, err);
}

int api_list_endpoints(struct api *a, struct json_object **endpoints, struct api_error *err)
{
	static const char what[] = "list endpoints";
	char *path;
	int res;

	*endpoints = NULL;
	res = api_path(&path, "/projects/%s/endpoints", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, "endpoints", endpoints,
		     err);
	free(path);
	return res;
}

int api_create_endpoint(struct api *a, const char *branch_id,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "create endpoint";
	struct json_object *body = NULL, *ep = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	if (!branch_id || !*branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no branch", what);
	res = api_path(&path, "/projects/%s/endpoints", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	ep = json_object_new_object();
	if (!body || !ep || api_json_add_string(ep, "branch_id", branch_id) ||
	    api_json_add_string(ep, "type", "read_write") ||
	    api_json_add(body, "endpoint", json_object_get(ep))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_ANY, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(ep);
	json_object_put(body);
	free(path);
	return res;
}

int api_list_databases(struct api *a, const char *branch_id,
		       struct json_object **databases, struct api_error *err)
{
	return api_branch_list(a, "list databases", branch_id, "databases", databases, err);
}

int api_list_roles(struct api *a, const char *branch_id,
		   struct json_object **roles, struct api_error *err)
{
	return api_branch_list(a, "list roles", branch_id, "roles", roles, err);
}

int api_connection_uri(struct api *a, const char *branch_id, const char *database,
		       const char *role, char **uri, struct api_error *err)
{
	static const char what[] = "get connection URI";
	struct json_object *v = NULL;
	struct api_buf q = { 0 };
	char *path = NULL;
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
	res = api_do(a, ERRMAP_READ, what, "GET", path, q.data, NULL, "uri", &v, err);
	if (res)
		goto out;
	if (!json_object_is_type(v, json_type_string)) {
		res = api_fail(err, 0, EIO, NULL, "%s: \"uri\" is not a string", what);
		goto out;
	}
	*uri = strdup(json_object_get_string(v));
	if (!*uri)
		res = api_path_fail(-ENOMEM, what, err);
out:
	json_object_put(v);
	api_buf_free(&q);
	free(path);
	return res;
}
