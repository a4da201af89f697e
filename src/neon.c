/* neon: Neon's API in the model's types. api*.c hands every answer to the model's parsers;
 * nothing here reads JSON. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "errmap.h"
#include "neon.h"
#include "util.h"

struct neon_answer {
	struct model_answer *m;
};

int neon_list(struct api *a, enum model_kind kind, struct model_list **out,
	      struct api_error *err)
{
	*out = NULL;
	switch (kind) {
	case MODEL_SNAPSHOTS:
		return api_list_snapshots(a, out, err);
	case MODEL_BRANCHES:
		return api_list_branches(a, out, err);
	case MODEL_ENDPOINTS:
		return api_list_endpoints(a, out, err);
	case MODEL_PROJECTS:
		/* An organization's listing takes its page size: neon_list_projects. */
		break;
	}
	return -EINVAL;
}

int neon_list_projects(struct api *a, int page, struct model_list **out, struct api_error *err)
{
	return api_list_projects(a, page, out, err);
}

static int neon_wrap(int res, struct model_answer *m, struct neon_answer **ans)
{
	*ans = NULL;
	if (res) {
		model_answer_free(m);
		return res;
	}
	*ans = calloc(1, sizeof(**ans));
	if (!*ans) {
		model_answer_free(m);
		return -ENOMEM;
	}
	/* A call answered without a body: an answer with nothing in it. */
	(*ans)->m = m ? m : calloc(1, sizeof(*m));
	if (!(*ans)->m) {
		free(*ans);
		*ans = NULL;
		return -ENOMEM;
	}
	return 0;
}

int neon_create_snapshot(struct api *a, const char *branch_id, const char *name,
			 const char *lsn, const char *expires_at, struct neon_answer **ans,
			 struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_create_snapshot(a, branch_id, name, lsn, expires_at, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			 struct neon_answer **ans, struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_rename_snapshot(a, snapshot_id, name, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_expire_snapshot(struct api *a, const char *snapshot_id, const char *expires_at,
			 struct neon_answer **ans, struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_expire_snapshot(a, snapshot_id, expires_at, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_delete_snapshot(struct api *a, const char *snapshot_id, struct neon_answer **ans,
			 struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_delete_snapshot(a, snapshot_id, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_preview(struct api *a, const char *snapshot_id, const char *target_branch_id,
		 const char *name, struct neon_answer **ans, struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_restore_snapshot(a, snapshot_id, target_branch_id, false, name, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_create_branch(struct api *a, const char *parent_id, const char *name,
		       struct neon_answer **ans, struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_create_branch(a, parent_id, name, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_delete_branch(struct api *a, const char *branch_id, struct neon_answer **ans,
		       struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_delete_branch(a, branch_id, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_create_project(struct api *a, const char *name, struct neon_answer **ans,
			struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_create_project(a, name, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_delete_project(struct api *a, const char *project_id, struct neon_answer **ans,
			struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_delete_project(a, project_id, &m, err);

	return neon_wrap(res, m, ans);
}

int neon_create_endpoint(struct api *a, const char *branch_id, struct neon_answer **ans,
			 struct api_error *err)
{
	struct model_answer *m = NULL;
	int res = api_create_endpoint(a, branch_id, &m, err);

	return neon_wrap(res, m, ans);
}

static struct neon_object *neon_answer_get(const struct neon_answer *ans, const char *key)
{
	if (strcmp(key, "snapshot") == 0)
		return ans->m->snapshot;
	if (strcmp(key, "branch") == 0)
		return ans->m->branch;
	if (strcmp(key, "endpoint") == 0)
		return ans->m->endpoint;
	if (strcmp(key, "project") == 0)
		return ans->m->project;
	return NULL;
}

int neon_answer_object(const struct neon_answer *ans, const char *key, struct neon_object **out)
{
	struct neon_object *o = neon_answer_get(ans, key);

	*out = NULL;
	if (!o)
		return -EIO;
	shared_get(&o->base);
	*out = o;
	return 0;
}

bool neon_answer_has(const struct neon_answer *ans, const char *key)
{
	if (strcmp(key, "endpoints") == 0)
		return ans->m->has_endpoints;
	return neon_answer_get(ans, key) != NULL;
}

int neon_answer_wait_progress(struct api *a, const struct neon_answer *ans, double timeout_s,
			      api_progress_fn progress, void *data, struct api_error *err)
{
	if (!ans->m->nops)
		return 0;
	return api_wait_operations(a, ans->m->ops, ans->m->nops, timeout_s, progress, data,
				   NULL, err);
}

int neon_answer_wait(struct api *a, const struct neon_answer *ans, double timeout_s,
		     struct api_error *err)
{
	return neon_answer_wait_progress(a, ans, timeout_s, NULL, NULL, err);
}

void neon_answer_free(struct neon_answer *ans)
{
	if (!ans)
		return;
	model_answer_free(ans->m);
	free(ans);
}

/* The first of @list whose name is @name (any when @name is NULL). */
static const struct neon_named *neon_named(const struct neon_named *list, size_t n,
					   const char *name)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!name || strcmp(list[i].name, name) == 0)
			return &list[i];
	return NULL;
}

int neon_pick_database(struct api *a, const char *branch_id, const char *want_db,
		       const char *want_role, char *db, size_t dblen, char *role, size_t rolelen,
		       char *msg, size_t msglen)
{
	struct neon_named *dbs = NULL, *roles = NULL;
	const struct neon_named *d;
	struct api_error err = { 0 };
	size_t ndbs = 0, nroles = 0;
	int res;

	res = api_list_databases(a, branch_id, &dbs, &ndbs, &err);
	if (res) {
		util_msg(msg, msglen, "databases of the active branch: %s", err.message);
		return res;
	}
	d = neon_named(dbs, ndbs, want_db);
	if (!d) {
		util_msg(msg, msglen, want_db ? "the active branch has no database %s" :
			 "the active branch has no database%s", want_db ? want_db : "");
		res = -ENOENT;
		goto out;
	}
	snprintf(db, dblen, "%s", d->name);
	if (want_role) {
		res = api_list_roles(a, branch_id, &roles, &nroles, &err);
		if (res) {
			util_msg(msg, msglen, "roles of the active branch: %s", err.message);
			goto out;
		}
		if (!neon_named(roles, nroles, want_role)) {
			util_msg(msg, msglen, "the active branch has no role %s", want_role);
			res = -ENOENT;
			goto out;
		}
		snprintf(role, rolelen, "%s", want_role);
	} else {
		snprintf(role, rolelen, "%s", d->owner);
	}
out:
	free(dbs);
	free(roles);
	return res;
}
