/* api_projects: the organization's calls (list, create and delete its projects), over the
 * transport in api.c. The projects listing pages with `pagination.cursor`, as Neon's
 * operations listing does, not with the branches listing's `pagination.next`. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "api.h"
#include "api_internal.h"
#include "errmap.h"
#include "model.h"
#include "util.h"

/* A project's client shares what the organization's owns: its budget (one for the mount)
 * and its pool of connections to the API (thousands of projects must not each keep one). */
struct api *api_for_project(struct api *org, const char *project_id)
{
	struct api *a;

	if (!project_id || !*project_id)
		return NULL;
	a = calloc(1, sizeof(*a));
	if (!a)
		return NULL;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		return NULL;
	}
	a->base_url = strdup(org->base_url);
	a->project_id = strdup(project_id);
	a->org_id = strdup(org->org_id);
	a->auth_header = org->auth_header ? strdup(org->auth_header) : NULL;
	if (!a->base_url || !a->project_id || !a->org_id ||
	    (org->auth_header && !a->auth_header)) {
		api_free(a);
		return NULL;
	}
	a->request_timeout_s = org->request_timeout_s;
	a->retry_deadline_s = org->retry_deadline_s;
	a->budget = org->budget;
	a->owns_budget = false;
	a->shared = org;
	return a;
}

/* 5,000 projects at 400 a page is 13 pages; this only stops a server that never ends. */
#define API_PROJECT_PAGES_MAX 10000

int api_list_projects(struct api *a, int page, struct json_object **projects,
		      struct api_error *err)
{
	static const char what[] = "list projects";
	struct json_object *all = NULL, *answer = NULL;
	struct api_buf q = { 0 };
	char *cursor = NULL, limit[16];
	int pages, res;

	*projects = NULL;
	if (page < 1 || page > API_PROJECT_PAGE_MAX)
		page = API_PROJECT_PAGE_MAX;
	snprintf(limit, sizeof(limit), "%d", page);
	all = json_object_new_array();
	if (!all)
		return api_path_fail(-ENOMEM, what, err);
	for (pages = 1;; pages++) {
		struct json_object *list, *pg;
		const char *next = NULL;
		size_t i, n;

		api_buf_free(&q);
		res = api_query_add(&q, "limit", limit);
		if (!res && *a->org_id)
			res = api_query_add(&q, "org_id", a->org_id);
		if (!res)
			res = api_query_add(&q, "cursor", cursor);
		if (res) {
			res = api_path_fail(res, what, err);
			goto out;
		}
		json_object_put(answer);
		answer = NULL;
		res = api_request(a, ERRMAP_READ, what, "GET", "/projects", q.data, NULL,
				  util_now() + a->retry_deadline_s, &answer, err);
		if (res)
			goto out;
		if (!json_object_object_get_ex(answer, "projects", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			res = api_fail(err, 0, EIO, NULL, "%s: the API's answer has no \"projects\"",
				       what);
			goto out;
		}
		n = json_object_array_length(list);
		for (i = 0; i < n; i++) {
			struct json_object *o = json_object_array_get_idx(list, i);
			struct json_object *brief = model_project_brief(o);

			/* One without an id is dropped by the model anyway (and logged there). */
			if (!brief && json_object_is_type(o, json_type_object) &&
			    model_json_str(o, "id")) {
				res = api_path_fail(-ENOMEM, what, err);
				goto out;
			}
			if (brief && api_json_push(all, brief)) {
				res = api_path_fail(-ENOMEM, what, err);
				goto out;
			}
		}
		if (json_object_object_get_ex(answer, "pagination", &pg))
			next = model_json_str(pg, "cursor");
		/* A short page is the last one (as the Neon CLI reads it), which saves the call
		 * that would only answer an empty page; a cursor that does not move would loop. */
		if (n < (size_t)page || !next || !*next || (cursor && strcmp(cursor, next) == 0))
			break;
		if (pages >= API_PROJECT_PAGES_MAX) {
			res = api_fail(err, 0, EIO, NULL, "%s: more than %d pages", what,
				       API_PROJECT_PAGES_MAX);
			goto out;
		}
		free(cursor);
		cursor = strdup(next);
		if (!cursor) {
			res = api_path_fail(-ENOMEM, what, err);
			goto out;
		}
	}
	*projects = all;
	all = NULL;
out:
	json_object_put(answer);
	json_object_put(all);
	api_buf_free(&q);
	free(cursor);
	return res;
}

int api_create_project(struct api *a, const char *name, struct json_object **resp,
		       struct api_error *err)
{
	static const char what[] = "create project";
	struct json_object *body = json_object_new_object(), *project = json_object_new_object();
	int res;

	*resp = NULL;
	if (!body || !project || api_json_add_string(project, "name", name) ||
	    (*a->org_id && api_json_add_string(project, "org_id", a->org_id))) {
		json_object_put(project);
		json_object_put(body);
		return api_path_fail(-ENOMEM, what, err);
	}
	if (api_json_add(body, "project", project)) {
		json_object_put(body);
		return api_path_fail(-ENOMEM, what, err);
	}
	/* Not repeated on a lost answer: a second POST would make a second project. */
	res = api_do(a, ERRMAP_ANY, what, "POST", "/projects", NULL, body, NULL, resp, err);
	json_object_put(body);
	return res;
}

int api_delete_project(struct api *a, const char *project_id, struct json_object **resp,
		       struct api_error *err)
{
	static const char what[] = "delete project";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s", project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_ANY, what, "DELETE", path, NULL, NULL, NULL, resp, err);
	free(path);
	return res;
}
