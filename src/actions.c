/* actions: what changes Neon or the checkpoint records, for a user's verb. */
#include "config.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "api.h"
#include "events.h"
#include "log.h"
#include "meta.h"
#include "model.h"
#include "names.h"
#include "neon.h"
#include "notify.h"
#include "pg.h"
#include "project.h"
#include "quota.h"
#include "util.h"
#include "restore.h"
#include "schema.h"
#include "watcher.h"
#include "when.h"

#include "actions_internal.h"

void action_done(struct actions *a, const struct change *c)
{
	const char *const *f = c->fields;
	unsigned forget = c->forget;
	/* Something gone or renamed is patched out of the listing, so the next lookup or ls
	 * costs no call. An object a POST or PATCH answered with is not put in: it may lack
	 * fields the listing has (sizes, states), and meta.json would change under a reader
	 * when the listing is next read. */
	unsigned listing = c->seen == 1 ? PROJECT_SNAPSHOTS : c->seen == 2 ? PROJECT_BRANCHES : 0;

	if (listing && (forget & listing) && c->seen_id && !c->object) {
		project_patch(a->p, c->seen == 1, c->seen_id, NULL, c->seen_name);
		forget &= ~listing;
	}
	if (forget)
		project_forget(a->p, forget);
	if (c->attachments_of)
		project_forget_attachments(a->p, c->attachments_of);
	if (c->pending)
		project_forget_attachments(a->p, META_PENDING);
	if (c->seen)
		watcher_seen(a->watcher, c->seen == 1, c->seen_id, c->seen_name,
			     c->seen_name ? names_entry(c->seen_name, c->seen_id) : NULL);
	if (c->seen_expiry)
		watcher_seen_expiry(a->watcher, c->seen_id, c->expires);
	if (c->event)
		events_emit(a->events, c->event, true, f[0], f[1], f[2], f[3], f[4], f[5],
			    f[6], f[7], NULL);
	notify_send(a->notify, &(struct notify_change){
		.event = c->event, .fields = c->fields, .forget = c->forget,
		.attachments_of = c->attachments_of, .pending = c->pending, .seen = c->seen,
		.seen_id = c->seen_id, .seen_name = c->seen_name, .seen_expiry = c->seen_expiry,
		.expires = c->expires, .object = c->object,
	});
}

void actions_set_notify(struct actions *a, struct notify *n)
{
	a->notify = n;
}

struct actions *actions_new(const struct actions_config *cfg, struct project *p,
			    struct events *ev, struct watcher *w, struct restore *r)
{
	struct actions *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	a->cfg = *cfg;
	a->p = p;
	a->events = ev;
	a->watcher = w;
	a->restore = r;
	return a;
}

void actions_free(struct actions *a)
{
	free(a);
}

/* A new snapshot or branch called @name: one Neon accepts, and one no entry shows yet (an
 * entry is a name or, for names that cannot be one, an id). */
int action_name_free(struct actions *a, bool snapshot, const char *name)
{
	struct model_list *l = NULL;
	const char *what = snapshot ? "snapshots" : "branches";
	int res;

	/* The kernel leaves name lengths to us (FUSE takes up to 1024 bytes); a name no entry
	 * can hold is too long, as statfs's 255 says, even where Neon would take 256. */
	if (strlen(name) > 255) {
		log_err("%s/%s: a name is at most 255 bytes", what, name);
		return -ENAMETOOLONG;
	}
	if (!names_valid_remote(name) || !names_valid_entry(name)) {
		log_err("%s/%s: not a name Neon accepts (1 to %d printable characters, no '/')",
			what, name, NAMES_MAX);
		return -EINVAL;
	}
	/* The listing of the cache window is enough: a name taken since, Neon refuses itself
	 * (409, EEXIST); what only the tree knows (an entry that is an id) is in it. */
	res = snapshot ? project_snapshots(a->p, &l) : project_branches(a->p, &l);
	if (res)
		return res;
	if (model_name_taken(l, name)) {
		log_err("%s/%s: that name is taken", what, name);
		res = -EEXIST;
	}
	model_list_put(l);
	return res;
}

/* A long mkdir is seen from the shell as a restore is: a "<kind>.progress" event at most
 * once a second, with each operation's status and the seconds waited. */
struct action_progress {
	struct actions *a;
	const char *kind, *name;
	double started, last;
};

static void action_progress(void *data, const struct neon_operation *ops, size_t n)
{
	struct action_progress *pr = data;
	char statuses[1024], waited[32];
	double now = util_now();

	if (now - pr->last < 1.0 || now - pr->started < 1.0)
		return;
	pr->last = now;
	model_operations_line(ops, n, statuses, sizeof(statuses));
	snprintf(waited, sizeof(waited), "%ld", (long)(now - pr->started));
	events_emit(pr->a->events, pr->kind, 1, "name", pr->name, "operations", statuses,
		    "waited_s", waited, NULL);
}

int action_wait_progress(struct actions *a, const struct neon_answer *ans, const char *what,
			 const char *kind, const char *name)
{
	struct action_progress pr = { a, kind, name, util_now(), 0 };
	struct api_error err = { 0 };
	int res = neon_answer_wait_progress(project_api(a->p), ans, a->cfg.op_timeout,
					    action_progress, &pr, &err);

	if (res)
		log_err("%s: %s", what, err.message);
	return res;
}

int action_wait(struct actions *a, const struct neon_answer *ans, const char *what)
{
	struct api_error err = { 0 };
	int res = neon_answer_wait(project_api(a->p), ans, a->cfg.op_timeout, &err);

	if (res)
		log_err("%s: %s", what, err.message);
	return res;
}

/* Neon refused @what at one of its limits: the limits file learns the number, and the log
 * says which limit it is and what to delete to make room. */
void action_at_limit(struct actions *a, const struct api_error *err, int kind,
		     const char *what)
{
	struct model_list *l = NULL;
	long long limit;
	char names[1024] = "";
	size_t i, n, len = 0;
	int known = quota_kind_of(err->code);

	if (err->err != EDQUOT)
		return;
	if (known >= 0)
		kind = known;
	if (kind == QUOTA_SNAPSHOTS) {
		const struct neon_snapshot *oldest = NULL;

		project_forget(a->p, PROJECT_SNAPSHOTS);
		if (project_snapshots(a->p, &l))
			return;
		n = model_count(l);
		for (i = 0; i < n; i++) {
			const struct neon_snapshot *s = model_snapshot_at(l, i);

			if (!oldest || s->created < oldest->created)
				oldest = s;
		}
		limit = quota_learn(project_quota(a->p), QUOTA_SNAPSHOTS, err->message,
				    (long long)n);
		log_err("%s: Neon's snapshot limit (%lld) is reached; delete a snapshot to make "
			"room, such as the oldest: rmdir 'snapshots/%s' (cat limits)", what, limit,
			oldest ? oldest->entry : "<name>");
	} else if (kind == QUOTA_ROOT_BRANCHES) {
		project_forget(a->p, PROJECT_BRANCHES);
		if (project_branches(a->p, &l))
			return;
		n = model_count(l);
		for (i = 0; i < n; i++) {
			const struct neon_branch *b = model_branch_at(l, i);
			int w;

			if (!model_branch_replaced(l, b) || len >= sizeof(names))
				continue;
			w = snprintf(names + len, sizeof(names) - len, " 'branches/%s'", b->entry);
			len += w > 0 ? (size_t)w : 0;
		}
		limit = quota_learn(project_quota(a->p), QUOTA_ROOT_BRANCHES, err->message,
				    (long long)model_root_branches(l));
		log_err("%s: Neon's root branch limit (%lld) is reached; each restore keeps the "
			"branch it replaced: delete those no longer needed: rmdir%s (cat limits)",
			what, limit, names[0] ? names : " 'branches/<name> (old)'");
	} else {
		log_err("%s: a Neon limit is reached: %s", what, err->message);
	}
	/* The limits file shows the number now. */
	project_forget(a->p, PROJECT_FILES);
	model_list_put(l);
}

/* A branch Neon made for us gets a compute only when Neon did not make one with it: Neon
 * refuses a second read-write compute on a branch. */
int action_compute(struct actions *a, const struct neon_answer *made,
			  const char *branch_id, const char *what)
{
	struct neon_answer *ans = NULL;
	struct api_error err = { 0 };
	int res;

	if (neon_answer_has(made, "endpoints"))
		return 0;
	res = neon_create_endpoint(project_api(a->p), branch_id, &ans, &err);
	if (res)
		log_err("%s: compute for branch %s: %s", what, branch_id, err.message);
	else
		res = action_wait(a, ans, what);
	project_forget(a->p, PROJECT_ENDPOINTS);
	neon_answer_free(ans);
	return res;
}

/* Keeps what mkdir captured with the snapshot it made: in its record, or in memory until
 * the meta database can take it. */
static void action_keep_checkpoint(struct actions *a, const struct neon_snapshot *s,
				   const char *name, const char *lsn, char *schema, size_t *attached)
{
	struct meta_checkpoint c = { 0 };
	char msg[512] = "";

	if (!schema && !project_meta(a->p))
		return;
	snprintf(c.snapshot_id, sizeof(c.snapshot_id), "%s", s->id);
	snprintf(c.name, sizeof(c.name), "%s", name);
	snprintf(c.created_at, sizeof(c.created_at), "%s", s->created_at);
	snprintf(c.lsn, sizeof(c.lsn), "%s", s->lsn[0] ? s->lsn : lsn);
	c.schema = schema;
	/* The files of active/next/ go with the record or not at all: a record written is a
	 * snapshot with its files, and a failure leaves them pending. */
	if (project_meta(a->p) &&
	    meta_checkpoint_put_with_pending(project_meta(a->p), &c, attached, msg,
					     sizeof(msg)) == 0) {
		project_drop_kept_schema(a->p, s->id);
		return;
	}
	if (project_meta(a->p))
		log_warn("mkdir snapshots/%s: checkpoint record not written, and the files of "
			 "active/next/ stay there: %s", name, msg);
	if (schema)
		project_keep_schema(a->p, s->id, schema);
}

/* The snapshot a create whose answer never came made, if it made one: the name was free
 * before the request, so a snapshot by that name now is this request's. */
static struct model_list *action_adopt(struct actions *a, const char *name,
				       const struct neon_snapshot **s)
{
	struct model_list *l = NULL;

	project_forget(a->p, PROJECT_SNAPSHOTS);
	if (project_snapshots(a->p, &l))
		return NULL;
	*s = model_snapshot_by_name(l, name);
	if (*s)
		return l;
	model_list_put(l);
	return NULL;
}

static int do_snapshot_create(struct actions *a, const char *name, char *id, size_t idlen)
{
	struct neon_answer *ans = NULL;
	struct neon_object *obj = NULL;
	struct model_list *adopted = NULL;
	struct api_error err = { 0 };
	char branch_id[64], lsn[32] = "", msg[512] = "", expires[32] = "";
	char *schema = NULL, *uri = NULL;
	const struct neon_snapshot *s = NULL;
	size_t attached = 0;
	int res;

	res = action_name_free(a, true, name);
	if (res)
		return res;
	res = project_active_id(a->p, branch_id, sizeof(branch_id));
	if (res) {
		log_err("mkdir snapshots/%s: the active branch %s was not found", name,
			project_active_name(a->p));
		return res;
	}
	/* Schema and LSN in one transaction, then the snapshot at that LSN: the captured
	 * text is exactly the snapshot's. Without a database connection, snapshot the head. */
	if (project_uri(a->p, branch_id, &uri) == 0) {
		res = schema_dump_uri(project_pool(a->p), uri, &schema, lsn, sizeof(lsn), msg,
				      sizeof(msg));
		if (res) {
			log_warn("mkdir snapshots/%s: schema not captured: %s", name, msg);
			free(schema);
			schema = NULL;
			lsn[0] = '\0';
		}
	}
	if (a->cfg.snapshot_ttl > 0)
		when_format(time(NULL) + (time_t)a->cfg.snapshot_ttl, expires, sizeof(expires));
	res = neon_create_snapshot(project_api(a->p), branch_id, name, lsn[0] ? lsn : NULL,
				   expires[0] ? expires : NULL, &ans, &err);
	if (res && err.http_status == 0 && (adopted = action_adopt(a, name, &s)) != NULL) {
		/* Sent, done by Neon, and its answer lost on the way back. */
		log_warn("mkdir snapshots/%s: the answer was lost (%s), but Neon made the snapshot "
			 "(%s)", name, err.message, s->id);
		res = 0;
	} else if (res) {
		log_err("mkdir snapshots/%s: %s", name, err.message);
		snprintf(msg, sizeof(msg), "mkdir snapshots/%s", name);
		action_at_limit(a, &err, QUOTA_SNAPSHOTS, msg);
		goto out;
	} else {
		res = neon_answer_object(ans, "snapshot", &obj);
		if (res) {
			log_err("mkdir snapshots/%s: the API's answer had no snapshot", name);
			goto out;
		}
		s = &obj->u.snapshot;
		project_forget(a->p, PROJECT_SNAPSHOTS);
		res = action_wait_progress(a, ans, "mkdir snapshot", "snapshot.progress", name);
		if (res && res != -ETIMEDOUT)
			goto out;
	}
	/* Kept even when Neon's operations outlast op_timeout: the snapshot exists, and what
	 * was captured for it must not be lost. */
	action_keep_checkpoint(a, s, name, lsn, schema, &attached);
	action_done(a, &(struct change){
		.forget = PROJECT_SNAPSHOTS | PROJECT_RECORDS,
		.attachments_of = s->id, .pending = true,
		.event = "snapshot.created", .fields = { "id", s->id, "name", name },
		.seen = 1, .seen_id = s->id, .seen_name = name,
		.seen_expiry = s->expires != 0, .expires = s->expires, .object = s->json,
	});
	if (res == 0 && attached)
		log_info("snapshot %s (%s) created, with %zu files of active/next/", name, s->id,
			 attached);
	else if (res == 0)
		log_info("snapshot %s (%s) created", name, s->id);
	snprintf(id, idlen, "%s", s->id);
out:
	free(schema);
	free(uri);
	model_list_put(adopted);
	model_object_put(obj);
	neon_answer_free(ans);
	return res;
}

/* A request whose answer was lost on the way back (no HTTP status): Neon may have done
 * it. The fresh listing says: 1 when the object @id is gone (for a delete) or is called
 * @name (for a rename), 0 when Neon shows it as it was, -errno when Neon cannot say. */
int action_lost_answer_done(struct actions *a, bool snapshot, const char *id, const char *name)
{
	struct model_list *l = NULL;
	const char *now = NULL;
	int res;

	project_forget(a->p, snapshot ? PROJECT_SNAPSHOTS : PROJECT_BRANCHES);
	res = snapshot ? project_snapshots(a->p, &l) : project_branches(a->p, &l);
	if (res)
		return res;
	if (snapshot) {
		const struct neon_snapshot *s = model_snapshot_by_id(l, id);

		now = s ? s->name : NULL;
	} else {
		const struct neon_branch *b = model_branch_by_id(l, id);

		now = b ? b->name : NULL;
	}
	res = name ? (now && strcmp(now, name) == 0) : !now;
	model_list_put(l);
	return res;
}

static int do_snapshot_delete(struct actions *a, const char *entry)
{
	struct model_list *l = NULL;
	struct neon_answer *ans = NULL;
	struct api_error err = { 0 };
	const struct neon_snapshot *s;
	char msg[512], id[64], name[NAMES_MAX + 1];
	int res;

	res = project_snapshots(a->p, &l);
	if (res)
		return res;
	s = model_snapshot_by_entry(l, entry);
	if (!s) {
		model_list_put(l);
		return -ENOENT;
	}
	snprintf(id, sizeof(id), "%s", s->id);
	snprintf(name, sizeof(name), "%s", s->name);
	model_list_put(l);
	res = neon_delete_snapshot(project_api(a->p), id, &ans, &err);
	if (res == 0)
		project_patch(a->p, true, id, NULL, NULL);
	else
		project_forget(a->p, PROJECT_SNAPSHOTS);
	if (res && err.http_status == 0 && action_lost_answer_done(a, true, id, NULL) == 1) {
		log_warn("rmdir snapshots/%s: the answer was lost (%s), but Neon deleted it",
			 entry, err.message);
		res = 0;
	} else if (res) {
		log_err("rmdir snapshots/%s: %s", entry, err.message);
		goto out;
	} else {
		res = action_wait(a, ans, "rmdir snapshot");
		if (res)
			goto out;
	}
	if (project_meta(a->p)) {
		int mres = meta_checkpoint_delete(project_meta(a->p), id, msg, sizeof(msg));

		if (mres && mres != -ENOENT)
			log_warn("rmdir snapshots/%s: checkpoint record kept: %s", entry, msg);
	}
	project_drop_kept_schema(a->p, id);
	/* The listing was patched when Neon answered, or read afresh when the answer was lost. */
	action_done(a, &(struct change){
		.attachments_of = id,
		.event = "snapshot.deleted", .fields = { "id", id, "name", name },
		.seen = 1, .seen_id = id, .seen_name = NULL,
	});
	log_info("snapshot %s (%s) deleted", entry, id);
out:
	neon_answer_free(ans);
	return res;
}

static int do_snapshot_rename(struct actions *a, const char *from, const char *to)
{
	struct model_list *l = NULL;
	struct neon_answer *ans = NULL;
	struct api_error err = { 0 };
	const struct neon_snapshot *s;
	char msg[512], id[64];
	int res;

	res = project_snapshots(a->p, &l);
	if (res)
		return res;
	s = model_snapshot_by_entry(l, from);
	if (!s) {
		model_list_put(l);
		return -ENOENT;
	}
	snprintf(id, sizeof(id), "%s", s->id);
	model_list_put(l);
	if (strcmp(from, to) == 0)
		return 0;
	res = action_name_free(a, true, to);
	if (res)
		return res;
	res = neon_rename_snapshot(project_api(a->p), id, to, &ans, &err);
	if (res == 0)
		project_patch(a->p, true, id, NULL, to);
	else
		project_forget(a->p, PROJECT_SNAPSHOTS);
	if (res && err.http_status == 0 && action_lost_answer_done(a, true, id, to) == 1) {
		log_warn("mv snapshots/%s snapshots/%s: the answer was lost (%s), but Neon renamed "
			 "it", from, to, err.message);
		res = 0;
	} else if (res) {
		log_err("mv snapshots/%s snapshots/%s: %s", from, to, err.message);
		goto out;
	}
	if (project_meta(a->p)) {
		int mres = meta_checkpoint_rename(project_meta(a->p), id, to, msg, sizeof(msg));

		if (mres && mres != -ENOENT)
			log_warn("mv snapshots/%s: checkpoint record keeps the old name: %s", from,
				 msg);
	}
	/* As for rmdir: patched, or read afresh. */
	action_done(a, &(struct change){
		.forget = PROJECT_RECORDS,
		.event = "snapshot.renamed", .fields = { "id", id, "name", to, "old_name", from },
		.seen = 1, .seen_id = id, .seen_name = to,
	});
	log_info("snapshot %s renamed to %s", from, to);
out:
	neon_answer_free(ans);
	return res;
}

bool action_restore_running(struct actions *a)
{
	return restore_running(a->restore);
}

/* A branch the undo may restore from: one that a restore replaced, as the status's undo
 * names it. Any other branch's id is no undo, and no snapshot either. */
static bool action_undo_source(const struct model_list *l, const struct neon_branch *b,
			       const char *active_name)
{
	size_t i, n = model_count(l);

	if (restore_old_name(b->name, active_name))
		return true;
	for (i = 0; i < n; i++)
		if (strcmp(model_branch_at(l, i)->restored_as, b->id) == 0)
			return true;
	return false;
}

/* restore.progress: what Neon's operations are at, for tail -f events. */
static void action_restore_progress(void *data, const char *statuses, long waited_s)
{
	struct actions *a = data;
	char waited[32];

	snprintf(waited, sizeof(waited), "%ld", waited_s);
	events_emit(a->events, "restore.progress", true, "operations", statuses,
		    "waited_s", waited, NULL);
}

int action_restore(struct actions *a, const char *buf, size_t len)
{
	struct model_list *snaps = NULL, *branches = NULL;
	const struct neon_snapshot *s, *named = NULL;
	const struct neon_branch *b, *src;
	struct restore_request rr = { 0 };
	char value[NAMES_MAX + 1], new_id[64] = "", snap_id[64] = "", snap_name[NAMES_MAX + 1] = "";
	char branch_id[64], target_id[64], src_id[64] = "", src_name[NAMES_MAX + 1] = "";
	char *uri = NULL;
	int res;

	res = names_parse_line(buf, len, value, sizeof(value));
	if (res) {
		log_err("restore: write one snapshot name or id on one line (got %zu bytes)", len);
		return res;
	}
	if (restore_running(a->restore)) {
		log_err("restore: another restore from this mount is running");
		return -EBUSY;
	}
	project_forget(a->p, PROJECT_SNAPSHOTS);
	res = project_snapshots(a->p, &snaps);
	if (res)
		return res;
	s = model_snapshot_by_id(snaps, value);
	if (!s)
		named = model_snapshot_by_name(snaps, value);
	if (s || named) {
		snprintf(snap_id, sizeof(snap_id), "%s", (s ? s : named)->id);
		snprintf(snap_name, sizeof(snap_name), "%s", (s ? s : named)->name);
	}
	model_list_put(snaps);
	project_forget(a->p, PROJECT_BRANCHES);
	res = project_active(a->p, &branches, &b);
	if (res)
		return res;
	snprintf(branch_id, sizeof(branch_id), "%s", b->id);
	/* A branch id is the undo text of the status: the active branch back to that
	 * branch's head. */
	src = s ? NULL : model_branch_by_id(branches, value);
	if (src && !action_undo_source(branches, src, project_active_name(a->p)))
		src = NULL;
	if (src) {
		snprintf(src_id, sizeof(src_id), "%s", src->id);
		snprintf(src_name, sizeof(src_name), "%s", src->name);
	}
	model_list_put(branches);
	if (src_id[0] && named) {
		log_err("restore: %s is both a snapshot's name and a branch's id; rename the "
			"snapshot, or write its id", value);
		return -EINVAL;
	}
	if (!snap_id[0] && !src_id[0]) {
		log_err("restore: no snapshot named %s, and no branch that a restore replaced "
			"has that id", value);
		return -ENOENT;
	}
	if (src_id[0] && strcmp(src_id, branch_id) == 0) {
		log_err("restore: %s is the active branch itself; nothing to undo", value);
		return -EINVAL;
	}
	res = project_uri(a->p, branch_id, &uri);
	if (res)
		return res;
	rr.snapshot_id = snap_id;
	rr.snapshot_name = snap_name;
	rr.branch_name = project_active_name(a->p);
	rr.branch_id = branch_id;
	rr.verify_uri = uri;
	rr.timeout_s = a->cfg.op_timeout;
	rr.keep_old = a->cfg.keep_old_branches;
	rr.source_branch_id = src_id[0] ? src_id : NULL;
	rr.source_branch_name = src_id[0] ? src_name : NULL;
	rr.progress = action_restore_progress;
	rr.progress_data = a;
	if (src_id[0])
		events_emit(a->events, "restore.started", true, "undo_of_branch_id", src_id,
			    "undo_of_branch_name", src_name, "branch_id", branch_id, NULL);
	else
		events_emit(a->events, "restore.started", true, "snapshot_id", snap_id,
			    "snapshot_name", snap_name, "branch_id", branch_id, NULL);
	watcher_local_begin(a->watcher);
	/* target_id: the branch restored into, looked up again under the restore lock. */
	res = restore_run(a->restore, &rr, target_id, new_id, sizeof(new_id));
	if (res == -EDQUOT) {
		/* A snapshot restore makes a root branch; restore.c kept Neon's words in the
		 * status, the limit itself is learned from the count. */
		struct api_error lim = { .err = EDQUOT };

		snprintf(lim.message, sizeof(lim.message), "the restore reached a limit");
		action_at_limit(a, &lim, QUOTA_ROOT_BRANCHES, "restore");
	}
	project_forget(a->p, PROJECT_ALL);
	watcher_seen_refresh(a->watcher);
	watcher_local_end(a->watcher);
	/* The same URI now reaches another branch (or other data): the old entry changes too. */
	project_forget_uri(a->p, branch_id);
	project_forget_uri(a->p, target_id);
	action_done(a, &(struct change){
		.event = res ? "restore.failed" : "restore.finished",
		.fields = { src_id[0] ? "undo_of_branch_id" : "snapshot_id", src_id[0] ? src_id : snap_id,
			    src_id[0] ? "undo_of_branch_name" : "snapshot_name",
			    src_id[0] ? src_name : snap_name,
			    "branch_id_before", target_id, res ? NULL : "branch_id",
			    res ? NULL : new_id },
	});
	free(uri);
	return res;
}

static int do_snapshot_expiry(struct actions *a, const char *snapshot_id, const char *buf,
			      size_t len)
{
	struct model_list *l = NULL;
	struct neon_answer *ans = NULL;
	struct neon_object *obj = NULL;
	struct api_error err = { 0 };
	const struct neon_snapshot *s;
	char value[NAMES_MAX + 1] = "", when[32] = "", why[256] = "", entry[NAMES_MAX + 1];
	size_t i;
	bool blank = true;
	int res;

	for (i = 0; i < len; i++)
		if (buf[i] != ' ' && buf[i] != '\t' && buf[i] != '\n' && buf[i] != '\r')
			blank = false;
	res = project_snapshots(a->p, &l);
	if (res)
		return res;
	s = model_snapshot_by_id(l, snapshot_id);
	if (!s) {
		model_list_put(l);
		return -ENOENT;
	}
	snprintf(entry, sizeof(entry), "%s", s->entry);
	model_list_put(l);
	/* Checked before any call: a time Neon would refuse, or one already past, never
	 * leaves the mount. */
	if (!blank) {
		res = names_parse_line(buf, len, value, sizeof(value));
		if (res) {
			log_err("snapshots/%s/expires_at: write one time on one line, such as "
				"2026-12-31T00:00:00Z or +7d (got %zu bytes)", entry, len);
			return -EINVAL;
		}
		res = when_expiry(value, time(NULL), when, sizeof(when), why, sizeof(why));
		if (res) {
			log_err("snapshots/%s/expires_at: %s", entry, why);
			return res;
		}
	}
	res = neon_expire_snapshot(project_api(a->p), snapshot_id, blank ? NULL : when, &ans,
				   &err);
	project_forget(a->p, PROJECT_SNAPSHOTS);
	if (res) {
		log_err("snapshots/%s/expires_at: %s", entry, err.message);
		goto out;
	}
	res = neon_answer_object(ans, "snapshot", &obj);
	if (res) {
		log_err("snapshots/%s/expires_at: the API's answer had no snapshot", entry);
		goto out;
	}
	action_done(a, &(struct change){
		.forget = PROJECT_SNAPSHOTS,
		.seen_expiry = true, .seen_id = snapshot_id, .expires = obj->u.snapshot.expires,
		.object = obj->u.snapshot.json,
	});
	if (blank)
		log_info("snapshot %s no longer expires", entry);
	else
		log_info("snapshot %s expires at %s", entry, obj->u.snapshot.expires_at);
out:
	model_object_put(obj);
	neon_answer_free(ans);
	return res;
}


int action_snapshot_create(struct actions *a, const char *name, char *id, size_t idlen)
{
	ACTION_LOCAL(do_snapshot_create(a, name, id, idlen));
}

int action_snapshot_delete(struct actions *a, const char *entry)
{
	ACTION_LOCAL(do_snapshot_delete(a, entry));
}

int action_snapshot_rename(struct actions *a, const char *from, const char *to)
{
	ACTION_LOCAL(do_snapshot_rename(a, from, to));
}




int action_snapshot_expiry(struct actions *a, const char *snapshot_id, const char *buf,
			   size_t len)
{
	ACTION_LOCAL(do_snapshot_expiry(a, snapshot_id, buf, len));
}
