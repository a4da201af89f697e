/* neon: Neon's API in the model's types. The JSON that api.c returns goes straight into
 * the model's parsers; nothing here reads a field by hand but the database choice. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "errmap.h"
#include "neon.h"
#include "util.h"

struct neon_answer {
	struct json_object *json;
};

int neon_list(struct api *a, enum model_kind kind, struct model_list **out,
	      struct api_error *err)
{
	struct json_object *arr = NULL, *resp = NULL, *eps;
	char path[256];
	int res;

	*out = NULL;
	switch (kind) {
	case MODEL_SNAPSHOTS:
		res = api_list_snapshots(a, &arr, err);
		break;
	case MODEL_BRANCHES:
		res = api_list_branches(a, &arr, err);
		break;
	case MODEL_ENDPOINTS:
		snprintf(path, sizeof(path), "/projects/%s/endpoints", api_project_id(a));
		res = api_call(a, ERRMAP_READ, "GET", path, NULL, NULL, &resp, err);
		if (res == 0 && json_object_object_get_ex(resp, "endpoints", &eps))
			arr = json_object_get(eps);
		json_object_put(resp);
		break;
	default:
		return -EINVAL;
	}
	if (res)
		return res;
	*out = model_list_from_json(kind, arr);
	json_object_put(arr);
	return *out ? 0 : -ENOMEM;
}

int neon_list_projects(struct api *a, int page, struct model_list **out, struct api_error *err)
{
	struct json_object *arr = NULL;
	int res = api_list_projects(a, page, &arr, err);

	*out = NULL;
	if (res)
		return res;
	*out = model_list_from_json(MODEL_PROJECTS, arr);
	json_object_put(arr);
	return *out ? 0 : -ENOMEM;
}

static int neon_wrap(int res, struct json_object *json, struct neon_answer **ans)
{
	*ans = NULL;
	if (res) {
		json_object_put(json);
		return res;
	}
	*ans = calloc(1, sizeof(**ans));
	if (!*ans) {
		json_object_put(json);
		return -ENOMEM;
	}
	(*ans)->json = json ? json : json_object_new_object();
	return 0;
}

int neon_create_snapshot(struct api *a, const char *branch_id, const char *name,
			 const char *lsn, const char *expires_at, struct neon_answer **ans,
			 struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_create_snapshot(a, branch_id, name, lsn, expires_at, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			 struct neon_answer **ans, struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_rename_snapshot(a, snapshot_id, name, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_expire_snapshot(struct api *a, const char *snapshot_id, const char *expires_at,
			 struct neon_answer **ans, struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_expire_snapshot(a, snapshot_id, expires_at, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_delete_snapshot(struct api *a, const char *snapshot_id, struct neon_answer **ans,
			 struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_delete_snapshot(a, snapshot_id, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_preview(struct api *a, const char *snapshot_id, const char *target_branch_id,
		 const char *name, struct neon_answer **ans, struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_restore_snapshot(a, snapshot_id, target_branch_id, false, name, &j,
					      err);

	return neon_wrap(res, j, ans);
}

int neon_create_branch(struct api *a, const char *parent_id, const char *name,
		       struct neon_answer **ans, struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_create_branch(a, parent_id, name, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_delete_branch(struct api *a, const char *branch_id, struct neon_answer **ans,
		       struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_delete_branch(a, branch_id, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_create_project(struct api *a, const char *name, struct neon_answer **ans,
			struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_create_project(a, name, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_delete_project(struct api *a, const char *project_id, struct neon_answer **ans,
			struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_delete_project(a, project_id, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_create_endpoint(struct api *a, const char *branch_id, struct neon_answer **ans,
			 struct api_error *err)
{
	struct json_object *j = NULL;
	int res = api_create_endpoint(a, branch_id, &j, err);

	return neon_wrap(res, j, ans);
}

int neon_answer_object(const struct neon_answer *ans, const char *key, struct neon_object **out)
{
	*out = NULL;
	return model_object_from_answer(ans->json, key, out);
}

bool neon_answer_has(const struct neon_answer *ans, const char *key)
{
	struct json_object *v, *first;

	if (!json_object_object_get_ex(ans->json, key, &v) || !v)
		return false;
	if (!json_object_is_type(v, json_type_array))
		return true;
	/* "endpoints": [ ... ] counts when it is not empty. */
	first = json_object_array_length(v) ? json_object_array_get_idx(v, 0) : NULL;
	return first != NULL;
}

int neon_answer_wait(struct api *a, const struct neon_answer *ans, double timeout_s,
		     struct api_error *err)
{
	struct json_object *ops;

	if (!json_object_object_get_ex(ans->json, "operations", &ops) ||
	    !json_object_is_type(ops, json_type_array))
		return 0;
	return api_wait_operations(a, ops, timeout_s, NULL, NULL, NULL, err);
}

void neon_answer_free(struct neon_answer *ans)
{
	if (!ans)
		return;
	json_object_put(ans->json);
	free(ans);
}

/* The first object of @arr whose "name" is @name (any when @name is NULL). */
static struct json_object *neon_named(struct json_object *arr, const char *name)
{
	size_t i, n = arr && json_object_is_type(arr, json_type_array) ?
		      json_object_array_length(arr) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *v = model_json_str(o, "name");

		if (v && (!name || strcmp(v, name) == 0))
			return o;
	}
	return NULL;
}

int neon_pick_database(struct api *a, const char *branch_id, const char *want_db,
		       const char *want_role, char *db, size_t dblen, char *role, size_t rolelen,
		       char *msg, size_t msglen)
{
	struct json_object *dbs = NULL, *roles = NULL, *d;
	struct api_error err = { 0 };
	int res;

	res = api_list_databases(a, branch_id, &dbs, &err);
	if (res) {
		util_msg(msg, msglen, "databases of the active branch: %s", err.message);
		return res;
	}
	d = neon_named(dbs, want_db);
	if (!d) {
		util_msg(msg, msglen, want_db ? "the active branch has no database %s" :
			 "the active branch has no database%s", want_db ? want_db : "");
		res = -ENOENT;
		goto out;
	}
	snprintf(db, dblen, "%s", model_json_str(d, "name"));
	if (want_role) {
		res = api_list_roles(a, branch_id, &roles, &err);
		if (res) {
			util_msg(msg, msglen, "roles of the active branch: %s", err.message);
			goto out;
		}
		if (!neon_named(roles, want_role)) {
			util_msg(msg, msglen, "the active branch has no role %s", want_role);
			res = -ENOENT;
			goto out;
		}
		snprintf(role, rolelen, "%s", want_role);
	} else {
		const char *owner = model_json_str(d, "owner_name");

		snprintf(role, rolelen, "%s", owner ? owner : "");
	}
out:
	json_object_put(dbs);
	json_object_put(roles);
	return res;
}
