/* actions_branch: branches and previews, through the mount (mkdir, rmdir and rm in
 * branches/, ln -s of a snapshot). Part of the actions module. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions_internal.h"
#include "api.h"
#include "log.h"
#include "model.h"
#include "names.h"
#include "neon.h"
#include "project.h"
#include "quota.h"
#include "watcher.h"

/* A branch made for an action that then failed (its operations ended in error): the user
 * was told the action failed, so the branch must not stay behind. */
static void action_drop_unfinished(struct actions *a, const char *what, const char *name,
				   const char *branch_id)
{
	struct neon_answer *del = NULL;
	struct api_error err = { 0 };

	if (neon_delete_branch(project_api(a->p), branch_id, &del, &err) == 0)
		action_wait(a, del, "delete the unfinished branch");
	else
		log_err("%s branches/%s: the unfinished branch %s was not deleted: %s", what,
			name, branch_id, err.message);
	neon_answer_free(del);
	project_forget(a->p, PROJECT_BRANCHES | PROJECT_ENDPOINTS);
}

static int do_branch_create(struct actions *a, const char *name, char *id, size_t idlen)
{
	struct neon_answer *ans = NULL;
	struct neon_object *obj = NULL;
	struct api_error err = { 0 };
	char parent[64];
	int res;

	res = action_name_free(a, false, name);
	if (res)
		return res;
	res = project_active_id(a->p, parent, sizeof(parent));
	if (res)
		return res;
	res = neon_create_branch(project_api(a->p), parent, name, &ans, &err);
	if (res) {
		log_err("mkdir branches/%s: %s", name, err.message);
		goto out;
	}
	project_forget(a->p, PROJECT_BRANCHES | PROJECT_ENDPOINTS);
	res = neon_answer_object(ans, "branch", &obj);
	if (res) {
		log_err("mkdir branches/%s: the API's answer had no branch", name);
		goto out;
	}
	res = action_wait_progress(a, ans, "mkdir branch", "branch.progress", name);
	if (res && res != -ETIMEDOUT)
		action_drop_unfinished(a, "mkdir", name, obj->u.branch.id);
	if (res)
		goto out;
	action_done(a, &(struct change){
		.forget = PROJECT_BRANCHES | PROJECT_ENDPOINTS,
		.event = "branch.created", .fields = { "id", obj->u.branch.id, "name", name },
		.seen = 2, .seen_id = obj->u.branch.id, .seen_name = name,
		.object = obj->u.branch.json,
	});
	log_info("branch %s (%s) created", name, obj->u.branch.id);
	snprintf(id, idlen, "%s", obj->u.branch.id);
out:
	model_object_put(obj);
	neon_answer_free(ans);
	return res;
}

static int do_branch_delete(struct actions *a, const char *entry, bool preview)
{
	struct model_list *l = NULL;
	struct neon_answer *ans = NULL;
	struct api_error err = { 0 };
	const struct neon_branch *b;
	char id[64], name[NAMES_MAX + 1];
	const char *why = NULL;
	int res;

	res = project_branches(a->p, &l);
	if (res)
		return res;
	b = model_branch_by_entry(l, entry);
	if (!b) {
		res = -ENOENT;
		goto out;
	}
	if (preview != (model_preview_of(b) != NULL)) {
		/* rm of a branch directory, rmdir of a preview's link. */
		log_err("delete branches/%s: %s", entry, preview ? "a branch is a directory: rmdir" :
			"a preview branch is a link: rm");
		res = preview ? -EISDIR : -ENOTDIR;
		goto out;
	}
	snprintf(id, sizeof(id), "%s", b->id);
	snprintf(name, sizeof(name), "%s", b->name);
	if (strcmp(b->name, project_active_name(a->p)) == 0)
		why = "active";
	else if (b->is_default)
		why = "default";
	else if (b->is_protected)
		why = "protected";
	if (why) {
		log_err("delete branches/%s: the %s branch cannot be deleted", entry, why);
		res = -EPERM;
		goto out;
	}
	if (model_children(l, id) > 0) {
		log_err("delete branches/%s: it has child branches; delete those first", entry);
		res = -EBUSY;
		goto out;
	}
	model_list_put(l);
	l = NULL;
	res = neon_delete_branch(project_api(a->p), id, &ans, &err);
	project_forget(a->p, PROJECT_BRANCHES | PROJECT_ENDPOINTS);
	if (res && err.http_status == 0 && action_lost_answer_done(a, false, id, NULL) == 1) {
		log_warn("delete branches/%s: the answer was lost (%s), but Neon deleted it",
			 entry, err.message);
		res = 0;
	} else if (res) {
		log_err("delete branches/%s: %s", entry, err.message);
		goto out;
	}
	project_forget_uri(a->p, id);
	if (ans) {
		res = action_wait(a, ans, "delete branch");
		if (res)
			goto out;
	}
	action_done(a, &(struct change){
		.forget = PROJECT_BRANCHES | PROJECT_ENDPOINTS,
		.event = "branch.deleted", .fields = { "id", id, "name", name },
		.seen = 2, .seen_id = id, .seen_name = NULL,
	});
	log_info("branch %s (%s) deleted", entry, id);
out:
	model_list_put(l);
	neon_answer_free(ans);
	return res;
}

/* The snapshot entry a preview's link target names: ../snapshots/<x>, or an absolute path
 * ending in /snapshots/<x>, with or without a trailing slash. A relative link is read from
 * branches/, so "snapshots/<x>" or "foo/snapshots/<x>" would point somewhere else. */
static int action_link_entry(const char *target, char *entry, size_t len)
{
	char t[PATH_MAX];
	const char *slash;
	size_t n;

	snprintf(t, sizeof(t), "%s", target);
	while ((n = strlen(t)) > 1 && t[n - 1] == '/')
		t[n - 1] = '\0';
	slash = strrchr(t, '/');
	if (!slash || (size_t)(slash - t) < 10 || strncmp(slash - 10, "/snapshots", 10) != 0 ||
	    (t[0] != '/' && slash - t != 12) || !names_valid_entry(slash + 1))
		return -EINVAL;
	if (t[0] != '/' && strncmp(t, "../", 3) != 0)
		return -EINVAL;
	snprintf(entry, len, "%s", slash + 1);
	return 0;
}

static int do_preview_create(struct actions *a, const char *target, const char *name,
			  char *id, size_t idlen)
{
	struct model_list *l = NULL;
	struct neon_answer *ans = NULL;
	struct neon_object *obj = NULL;
	struct api_error err = { 0 };
	const struct neon_snapshot *s;
	char entry[NAMES_MAX + 1], snap_id[64], active_id[64], branch_id[64] = "";
	int res;

	if (action_link_entry(target, entry, sizeof(entry))) {
		log_err("ln -s %s branches/%s: a preview branch links to ../snapshots/<name>",
			target, name);
		return -EINVAL;
	}
	res = action_name_free(a, false, name);
	if (res)
		return res;
	res = project_snapshots(a->p, &l);
	if (res)
		return res;
	s = model_snapshot_by_entry(l, entry);
	if (!s) {
		log_err("ln -s %s branches/%s: no snapshot %s", target, name, entry);
		model_list_put(l);
		return -ENOENT;
	}
	snprintf(snap_id, sizeof(snap_id), "%s", s->id);
	model_list_put(l);
	res = project_active_id(a->p, active_id, sizeof(active_id));
	if (res)
		return res;
	res = neon_preview(project_api(a->p), snap_id, active_id, name, &ans, &err);
	if (res) {
		char what[NAMES_MAX + 32];

		log_err("ln -s %s branches/%s: %s", target, name, err.message);
		snprintf(what, sizeof(what), "ln -s branches/%s", name);
		action_at_limit(a, &err, QUOTA_ROOT_BRANCHES, what);
		goto out;
	}
	project_forget(a->p, PROJECT_BRANCHES | PROJECT_ENDPOINTS);
	res = neon_answer_object(ans, "branch", &obj);
	if (res) {
		log_err("ln -s branches/%s: the API's answer had no branch", name);
		goto out;
	}
	snprintf(branch_id, sizeof(branch_id), "%s", obj->u.branch.id);
	res = action_wait(a, ans, "preview branch");
	if (!res)
		res = action_compute(a, ans, branch_id, "ln -s preview branch");
	if (res) {
		/* The link was refused: a branch it cannot show must not stay behind. */
		action_drop_unfinished(a, "ln -s", name, branch_id);
		goto out;
	}
	action_done(a, &(struct change){
		.forget = PROJECT_BRANCHES | PROJECT_ENDPOINTS,
		.event = "branch.created",
		.fields = { "id", branch_id, "name", name, "snapshot_id", snap_id },
		.seen = 2, .seen_id = branch_id, .seen_name = name, .object = obj->u.branch.json,
	});
	log_info("preview branch %s (%s) of snapshot %s created", name, branch_id, entry);
	snprintf(id, idlen, "%s", branch_id);
out:
	model_object_put(obj);
	neon_answer_free(ans);
	return res;
}

int action_branch_create(struct actions *a, const char *name, char *id, size_t idlen)
{
	ACTION_LOCAL(do_branch_create(a, name, id, idlen));
}

int action_branch_delete(struct actions *a, const char *entry, bool preview)
{
	ACTION_LOCAL(do_branch_delete(a, entry, preview));
}

int action_preview_create(struct actions *a, const char *target, const char *name,
			  char *id, size_t idlen)
{
	ACTION_LOCAL(do_preview_create(a, target, name, id, idlen));
}

