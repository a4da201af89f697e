/* api_projects: the organization's calls (list, create and delete its projects), over the
 * transport in api.c. The projects listing pages with `pagination.cursor`, as Neon's
 * operations listing does, not with the branches listing's `pagination.next`; the model
 * reads each page (model_project_pages_add) and writes the create's body. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "api_internal.h"
#include "budget.h"
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
	/* Its own flows: a busy project waits behind itself, not in front of the others. */
	a->flow = budget_flow_new(a->budget);
	a->changes = budget_flow_new(a->budget);
	if (a->budget && (!a->flow || !a->changes)) {
		api_free(a);
		return NULL;
	}
	return a;
}

/* 5,000 projects at 400 a page is 13 pages; this only stops a server that never ends. */
#define API_PROJECT_PAGES_MAX 10000

int api_list_projects(struct api *a, int page, struct model_list **projects,
		      struct api_error *err)
{
	static const char what[] = "list projects";
	struct model_pages *all;
	struct api_buf q = { 0 };
	char *cursor = NULL, *next = NULL, *text = NULL, limit[16], msg[256] = "";
	int pages, res;

	*projects = NULL;
	if (page < 1 || page > API_PROJECT_PAGE_MAX)
		page = API_PROJECT_PAGE_MAX;
	snprintf(limit, sizeof(limit), "%d", page);
	all = model_pages_new();
	if (!all)
		return api_path_fail(-ENOMEM, what, err);
	for (pages = 1;; pages++) {
		size_t n = 0;

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
		free(text);
		text = NULL;
		res = api_request(a, ERRMAP_READ, what, "GET", "/projects", q.data, NULL,
				  util_now() + a->retry_deadline_s, &text, err);
		if (res)
			goto out;
		free(next);
		next = NULL;
		res = model_project_pages_add(all, text, &n, &next, msg, sizeof(msg));
		if (res) {
			res = api_parse_fail(res, what, msg, err);
			goto out;
		}
		/* A short page is the last one (as the Neon CLI reads it), which saves the call
		 * that would only answer an empty page; a cursor that does not move would loop. */
		if (n < (size_t)page || !next || (cursor && strcmp(cursor, next) == 0))
			break;
		if (pages >= API_PROJECT_PAGES_MAX) {
			res = api_fail(err, 0, EIO, NULL, "%s: more than %d pages", what,
				       API_PROJECT_PAGES_MAX);
			goto out;
		}
		free(cursor);
		cursor = next;
		next = NULL;
	}
	*projects = model_pages_list(all, MODEL_PROJECTS);
	if (!*projects)
		res = api_path_fail(-ENOMEM, what, err);
out:
	model_pages_free(all);
	api_buf_free(&q);
	free(text);
	free(cursor);
	free(next);
	return res;
}

int api_create_project(struct api *a, const char *name, struct model_answer **resp,
		       struct api_error *err)
{
	static const char what[] = "create project";
	char *body = model_body_project_create(name, a->org_id);
	int res;

	*resp = NULL;
	/* Not repeated on a lost answer: a second POST would make a second project. */
	res = api_mutate(a, ERRMAP_ANY, what, "POST", "/projects", NULL, body, true, resp, err);
	free(body);
	return res;
}

int api_delete_project(struct api *a, const char *project_id, struct model_answer **resp,
		       struct api_error *err)
{
	static const char what[] = "delete project";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s", project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_mutate(a, ERRMAP_ANY, what, "DELETE", path, NULL, NULL, false, resp, err);
	free(path);
	return res;
}
