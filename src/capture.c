/* capture: the schema of a snapshot made elsewhere, read through a temporary branch only
 * when a user asks for it (touch snapshots/<x>/schema), never on a read. */
#include "config.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions_internal.h"
#include "api.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "names.h"
#include "neon.h"
#include "pg.h"
#include "project.h"
#include "schema.h"
#include "watcher.h"

static void capture_host(char *host, size_t len)
{
	if (gethostname(host, len) != 0)
		snprintf(host, len, "unknown");
	host[len - 1] = '\0';
}

/* Is @name a temporary branch that nobody is using any more? Its name says which process
 * on which host made it: one of this host whose process is gone is left over; one of
 * another host is left over once no capture could still be running. */
static bool capture_left_over(const char *name, time_t created, time_t older)
{
	const char *at = strrchr(name, '@'), *p;
	char host[64];
	long pid;

	if (strncmp(name, ACTION_TEMP_PREFIX, strlen(ACTION_TEMP_PREFIX)) != 0)
		return false;
	capture_host(host, sizeof(host));
	if (at && strcmp(at + 1, host) == 0) {
		for (p = at; p > name && p[-1] >= '0' && p[-1] <= '9'; p--)
			;
		pid = strtol(p, NULL, 10);
		if (pid > 0 && p[-1] == '-')
			return pid != (long)getpid() && kill((pid_t)pid, 0) != 0 && errno == ESRCH;
	}
	return created != 0 && created < older;
}

/* Deletes a temporary branch, whatever state the capture left it in. */
static void action_drop_temporary(struct actions *a, const char *branch_id)
{
	struct neon_answer *ans = NULL;
	struct api_error err = { 0 };

	if (neon_delete_branch(project_api(a->p), branch_id, &ans, &err) == 0) {
		action_wait(a, ans, "delete the temporary branch");
		watcher_seen(a->watcher, false, branch_id, NULL, NULL);
	} else if (err.err != ENOENT) {
		log_err("temporary branch %s was not deleted: %s", branch_id, err.message);
	}
	neon_answer_free(ans);
	project_forget(a->p, PROJECT_BRANCHES | PROJECT_ENDPOINTS);
}

/* Reads @snap_id's schema through a temporary branch of it, then deletes that branch. */
static int action_read_schema(struct actions *a, const char *snap_id, char **text)
{
	struct neon_answer *ans = NULL;
	struct neon_object *obj = NULL;
	struct api_error err = { 0 };
	char active_id[64], name[NAMES_MAX + 1], branch_id[64] = "", msg[512] = "", *uri = NULL;
	char host[64];
	int res;

	res = project_active_id(a->p, active_id, sizeof(active_id));
	if (res)
		return res;
	capture_host(host, sizeof(host));
	snprintf(name, sizeof(name), ACTION_TEMP_PREFIX "%s-%lu-%ld@%s", snap_id,
		 __atomic_add_fetch(&a->temp_seq, 1, __ATOMIC_RELAXED), (long)getpid(), host);
	log_info("schema of snapshot %s: reading it through the temporary branch %s", snap_id,
		 name);
	watcher_local_begin(a->watcher);
	res = neon_preview(project_api(a->p), snap_id, active_id, name, &ans, &err);
	if (res) {
		log_err("schema of snapshot %s: %s", snap_id, err.message);
		goto out;
	}
	res = neon_answer_object(ans, "branch", &obj);
	if (res)
		goto out;
	snprintf(branch_id, sizeof(branch_id), "%s", obj->u.branch.id);
	watcher_seen(a->watcher, false, branch_id, name, name);
	res = action_wait(a, ans, "temporary branch for a snapshot's schema");
	if (!res)
		res = action_compute(a, ans, branch_id, "schema of a snapshot");
	if (!res)
		res = project_uri(a->p, branch_id, &uri);
	if (!res) {
		res = schema_dump_uri(project_pool(a->p), uri, text, NULL, 0, msg, sizeof(msg));
		if (res)
			log_err("schema of snapshot %s: %s", snap_id, msg);
		pg_forget(project_pool(a->p), uri);
	}
out:
	if (branch_id[0])
		action_drop_temporary(a, branch_id);
	if (branch_id[0])
		project_forget_uri(a->p, branch_id);
	watcher_local_end(a->watcher);
	free(uri);
	model_object_put(obj);
	neon_answer_free(ans);
	return res;
}

int action_schema_capture(struct actions *a, const char *snapshot_id)
{
	struct model_list *l = NULL;
	const struct neon_snapshot *s;
	struct meta_checkpoint c = { 0 }, rec = { 0 };
	char msg[512] = "", *text = NULL;
	int res;

	res = project_snapshots(a->p, &l);
	if (res)
		return res;
	s = model_snapshot_by_id(l, snapshot_id);
	if (!s) {
		model_list_put(l);
		return -ENOENT;
	}
	snprintf(c.snapshot_id, sizeof(c.snapshot_id), "%s", s->id);
	snprintf(c.name, sizeof(c.name), "%s", s->name);
	snprintf(c.created_at, sizeof(c.created_at), "%s", s->created_at);
	snprintf(c.lsn, sizeof(c.lsn), "%s", s->lsn);
	model_list_put(l);
	res = action_read_schema(a, c.snapshot_id, &text);
	if (res)
		return res;
	c.schema = text;
	if (!project_meta(a->p)) {
		project_keep_schema(a->p, c.snapshot_id, text);
	} else {
		if (meta_checkpoint_get(project_meta(a->p), c.snapshot_id, &rec, msg, sizeof(msg)) == 0)
			res = meta_checkpoint_set_schema(project_meta(a->p), c.snapshot_id, text, msg,
							 sizeof(msg));
		else
			res = meta_checkpoint_put(project_meta(a->p), &c, msg, sizeof(msg));
		meta_checkpoint_clear(&rec);
		if (res) {
			log_warn("schema of snapshot %s kept in memory only: %s", c.snapshot_id, msg);
			project_keep_schema(a->p, c.snapshot_id, text);
			res = 0;
		}
	}
	action_done(a, &(struct change){ .forget = PROJECT_RECORDS });
	log_info("schema of snapshot %s captured", c.snapshot_id);
	free(text);
	return 0;
}

void action_cleanup_temporary(struct actions *a)
{
	struct model_list *l = NULL;
	size_t i, n;
	char (*ids)[64] = NULL;
	size_t nids = 0;
	/* Another mount's capture lives at most as long as its operations may take. */
	time_t older = time(NULL) - (time_t)a->cfg.op_timeout - 60;

	if (project_branches(a->p, &l))
		return;
	n = model_count(l);
	ids = calloc(n ? n : 1, sizeof(*ids));
	for (i = 0; ids && i < n; i++) {
		const struct neon_branch *b = model_branch_at(l, i);

		if (capture_left_over(b->name, b->created, older))
			snprintf(ids[nids++], sizeof(ids[0]), "%s", b->id);
	}
	model_list_put(l);
	for (i = 0; i < nids; i++) {
		log_info("deleting the temporary branch %s that an earlier neonfs left", ids[i]);
		action_drop_temporary(a, ids[i]);
	}
	free(ids);
}


void action_cleanup_records(struct actions *a)
{
	struct meta_record *recs = NULL;
	struct model_list *snaps = NULL;
	struct api_error err = { 0 };
	char msg[512] = "";
	size_t n = 0, i;

	if (!project_meta(a->p))
		return;
	/* Records first: a record is written only once its snapshot exists, so each of these
	 * has its snapshot in the listing that follows, unless Neon no longer has it. */
	if (meta_checkpoint_list(project_meta(a->p), &recs, &n, msg, sizeof(msg)) != 0) {
		log_warn("checkpoint records not checked: %s", msg);
		return;
	}
	/* Most projects of an organization have none: opening them costs no listing here. */
	if (n == 0) {
		free(recs);
		return;
	}
	if (neon_list(project_api(a->p), MODEL_SNAPSHOTS, &snaps, &err) != 0) {
		log_warn("checkpoint records not checked: %s", err.message);
		free(recs);
		return;
	}
	for (i = 0; i < n; i++) {
		if (model_snapshot_by_id(snaps, recs[i].snapshot_id))
			continue;
		if (meta_checkpoint_delete(project_meta(a->p), recs[i].snapshot_id, msg,
					   sizeof(msg)) == 0)
			log_info("the checkpoint record and attachments of snapshot %s (%s), which "
				 "Neon no longer has, were deleted", recs[i].name, recs[i].snapshot_id);
		else
			log_warn("the checkpoint record of snapshot %s, which Neon no longer has, "
				 "stays: %s", recs[i].snapshot_id, msg);
	}
	/* Run as the project opens, before anything else of it: this listing is the newest. */
	project_keep_snapshots(a->p, snaps);
	model_list_put(snaps);
	free(recs);
	project_forget(a->p, PROJECT_RECORDS);
}
