/* render: the text of the files neonfs makes up. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "meta.h"
#include "model.h"
#include "pg.h"
#include "project.h"
#include "quota.h"
#include "render.h"
#include "schema.h"

const char *const render_snapshot_files[] = { "id", "meta.json", "schema", "expires_at",
					       "connection_uri", NULL };
const char *const render_branch_files[] = { "id", "meta.json", "schema", "connection_uri", NULL };
const char *const render_active_files[] = { "id", "meta.json", "schema", "connection_uri", NULL };

bool render_in(const char *const *list, const char *file)
{
	for (; *list; list++)
		if (strcmp(*list, file) == 0)
			return true;
	return false;
}

bool render_live(enum render_owner owner, const char *file)
{
	return owner != RENDER_SNAPSHOT &&
	       (strcmp(file, "schema") == 0 || strcmp(file, "meta.json") == 0);
}

static char *render_line(const char *s)
{
	char *out = NULL;

	if (asprintf(&out, "%s\n", s ? s : "") < 0)
		return NULL;
	return out;
}

/* Has @snap_id's schema been captured (kept with its record, or in memory)? */
static int render_has_schema(struct project *p, const char *snap_id)
{
	struct project_records *recs = NULL;
	const struct meta_record *r;
	char *kept;
	int res = project_records(p, &recs);

	if (res)
		return res;
	r = project_record(recs, snap_id);
	res = r && r->has_schema;
	shared_put(&recs->base);
	if (res)
		return 1;
	kept = project_kept_schema(p, snap_id);
	res = kept != NULL;
	free(kept);
	return res;
}

int render_shows(struct project *p, enum render_owner owner, const char *id, const char *file)
{
	struct model_list *l = NULL;
	const struct neon_branch *b;
	int res;

	if (owner == RENDER_SNAPSHOT) {
		if (!render_in(render_snapshot_files, file))
			return 0;
		if (strcmp(file, "schema") == 0)
			return render_has_schema(p, id);
		if (strcmp(file, "connection_uri") != 0)
			return 1;
		res = project_branches(p, &l);
		if (res)
			return res;
		res = model_preview_branch(l, id) != NULL;
		model_list_put(l);
		return res;
	}
	if (!render_in(owner == RENDER_ACTIVE ? render_active_files : render_branch_files, file))
		return 0;
	if (owner == RENDER_ACTIVE || (strcmp(file, "schema") != 0 &&
				       strcmp(file, "connection_uri") != 0))
		return 1;
	(void)b;
	return project_has_compute(p, id);
}

static int render_uri_line(struct project *p, const char *branch_id, char **text)
{
	char *uri = NULL;
	int res = project_uri(p, branch_id, &uri);

	if (res)
		return res;
	*text = render_line(uri);
	free(uri);
	return *text ? 0 : -ENOMEM;
}

static int render_live_schema(struct project *p, const char *branch_id, char **text)
{
	char *uri = NULL, msg[512] = "";
	int res = project_uri(p, branch_id, &uri);

	if (res)
		return res;
	res = schema_dump_uri(project_pool(p), uri, text, NULL, 0, msg, sizeof(msg));
	if (res)
		log_err("schema of branch %s: %s", branch_id, msg);
	free(uri);
	return res;
}

/* A snapshot's captured schema: from its record, else from memory (then stored with the
 * record once the meta database takes it). Never through a branch: reads are free. */
static int render_snapshot_schema(struct project *p, const struct neon_snapshot *s, char **text)
{
	struct meta_checkpoint rec = { 0 }, c = { 0 };
	char msg[512] = "";
	int res = -ENOTSUP;

	if (project_meta(p))
		res = meta_checkpoint_get(project_meta(p), s->id, &rec, msg, sizeof(msg));
	if (res == 0 && rec.schema) {
		*text = rec.schema;
		rec.schema = NULL;
		meta_checkpoint_clear(&rec);
		return 0;
	}
	meta_checkpoint_clear(&rec);
	if (res != 0 && res != -ENOENT && res != -ENOTSUP) {
		log_err("schema of snapshot %s: the meta database: %s", s->id, msg);
		return res;
	}
	*text = project_kept_schema(p, s->id);
	if (!*text)
		return -ENOENT;
	if (project_meta(p)) {
		snprintf(c.snapshot_id, sizeof(c.snapshot_id), "%s", s->id);
		snprintf(c.name, sizeof(c.name), "%s", s->name);
		snprintf(c.created_at, sizeof(c.created_at), "%s", s->created_at);
		snprintf(c.lsn, sizeof(c.lsn), "%s", s->lsn);
		c.schema = *text;
		if (res == 0)
			res = meta_checkpoint_set_schema(project_meta(p), s->id, *text, msg,
							 sizeof(msg));
		else
			res = meta_checkpoint_put(project_meta(p), &c, msg, sizeof(msg));
		if (res == 0) {
			project_drop_kept_schema(p, s->id);
			project_forget(p, PROJECT_RECORDS);
		}
	}
	return 0;
}

static int render_snapshot_meta(struct project *p, const struct neon_snapshot *s, char **text)
{
	struct project_records *recs = NULL;
	struct project_attachments *atts = NULL;
	struct model_attachment_line *lines = NULL;
	struct model_checkpoint cp = { 0 };
	const struct meta_record *r;
	size_t i;
	int res;

	res = project_records(p, &recs);
	if (res)
		return res;
	r = project_record(recs, s->id);
	if (r) {
		res = project_attachments(p, s->id, &atts);
		if (res)
			goto out;
		lines = calloc(atts->n ? atts->n : 1, sizeof(*lines));
		if (!lines) {
			res = -ENOMEM;
			goto out;
		}
		for (i = 0; i < atts->n; i++) {
			lines[i].name = atts->items[i].name;
			lines[i].size = atts->items[i].size;
		}
		cp.name = r->name[0] ? r->name : NULL;
		cp.created_at = r->created_at[0] ? r->created_at : NULL;
		cp.lsn = r->lsn[0] ? r->lsn : NULL;
		cp.has_schema = r->has_schema;
		cp.attachments = lines;
		cp.nattachments = atts->n;
	}
	*text = model_snapshot_meta(s, r ? &cp : NULL);
	res = *text ? 0 : -ENOMEM;
out:
	free(lines);
	if (atts)
		shared_put(&atts->base);
	shared_put(&recs->base);
	return res;
}

/* Facts about a branch's database read through libpq, for meta.json. */
static int render_branch_meta(struct project *p, const struct neon_branch *b, char **text)
{
	static const char *const sql =
		"SELECT current_setting('server_version'), NULL, "
		"pg_database_size(current_database()), pg_current_wal_lsn()::text, "
		"(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		" WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' "
		" AND n.nspname <> 'information_schema')";
	struct model_live live = { 0 };
	char *uri = NULL, msg[512] = "";
	PGresult *r = NULL;
	int res = project_has_compute(p, b->id);

	if (res < 0)
		return res;
	if (res == 0) {
		live.error = "the branch has no compute to connect to";
	} else if (project_uri(p, b->id, &uri)) {
		live.error = "no connection string for the branch";
	} else if (pg_query(project_pool(p), uri, sql, 0, NULL, &r, msg, sizeof(msg)) != 0 ||
		   PQntuples(r) != 1) {
		log_warn("live facts of branch %s: %s", b->id, msg);
		live.error = msg[0] ? msg : "no answer from the database";
	} else {
		live.server_version = PQgetvalue(r, 0, 0);
		live.database = project_database(p);
		live.database_size = strtoll(PQgetvalue(r, 0, 2), NULL, 10);
		live.current_lsn = PQgetvalue(r, 0, 3);
		live.table_count = strtoll(PQgetvalue(r, 0, 4), NULL, 10);
	}
	*text = model_branch_meta(b, &live);
	PQclear(r);
	free(uri);
	return *text ? 0 : -ENOMEM;
}

static int render_snapshot(struct project *p, const char *id, const char *file, char **text)
{
	struct model_list *l = NULL, *branches = NULL;
	const struct neon_snapshot *s;
	const struct neon_branch *pv;
	int res = project_snapshots(p, &l);

	if (res)
		return res;
	s = model_snapshot_by_id(l, id);
	if (!s) {
		res = -ENOENT;
	} else if (strcmp(file, "id") == 0) {
		*text = render_line(s->id);
		res = *text ? 0 : -ENOMEM;
	} else if (strcmp(file, "meta.json") == 0) {
		res = render_snapshot_meta(p, s, text);
	} else if (strcmp(file, "schema") == 0) {
		res = render_snapshot_schema(p, s, text);
	} else if (strcmp(file, "expires_at") == 0) {
		/* Neon's time as it sent it; no expiry is an empty file, not an empty line. */
		*text = s->expires_at[0] ? render_line(s->expires_at) : strdup("");
		res = *text ? 0 : -ENOMEM;
	} else if (strcmp(file, "connection_uri") == 0) {
		res = project_branches(p, &branches);
		pv = res ? NULL : model_preview_branch(branches, id);
		if (!res)
			res = pv ? render_uri_line(p, pv->id, text) : -ENOENT;
		model_list_put(branches);
	} else {
		res = -ENOENT;
	}
	model_list_put(l);
	return res;
}

int render_file(struct project *p, enum render_owner owner, const char *id, const char *file,
		char **text)
{
	struct model_list *l = NULL;
	const struct neon_branch *b = NULL;
	int res;

	*text = NULL;
	if (owner == RENDER_SNAPSHOT)
		return render_snapshot(p, id, file, text);
	if (owner == RENDER_ACTIVE) {
		res = project_active(p, &l, &b);
	} else {
		res = project_branches(p, &l);
		b = res ? NULL : model_branch_by_id(l, id);
		if (!res && !b)
			res = -ENOENT;
	}
	if (res) {
		model_list_put(l);
		return res;
	}
	if (strcmp(file, "id") == 0) {
		*text = render_line(b->id);
		res = *text ? 0 : -ENOMEM;
	} else if (strcmp(file, "meta.json") == 0) {
		res = render_branch_meta(p, b, text);
	} else if (strcmp(file, "schema") == 0) {
		res = render_live_schema(p, b->id, text);
	} else if (strcmp(file, "connection_uri") == 0) {
		res = render_uri_line(p, b->id, text);
	} else {
		res = -ENOENT;
	}
	model_list_put(l);
	return res;
}

int render_snapshot_room(struct project *p, long long *used, long long *limit)
{
	struct model_list *l = NULL;
	int res = project_snapshots(p, &l);

	if (res)
		return res;
	*used = (long long)model_count(l);
	*limit = quota_limit(project_quota(p), QUOTA_SNAPSHOTS, NULL, 0);
	model_list_put(l);
	return 0;
}

int render_limits(struct project *p, char **text)
{
	struct model_list *snaps = NULL, *branches = NULL;
	struct model_limit lim[QUOTA_KINDS] = { { 0 } };
	char from[QUOTA_KINDS][16];
	const char **old = NULL, *oldest = NULL;
	time_t oldest_t = 0;
	size_t i, nb, nold = 0;
	int res;

	*text = NULL;
	res = project_snapshots(p, &snaps);
	if (!res)
		res = project_branches(p, &branches);
	if (res)
		goto out;
	for (i = 0; i < model_count(snaps); i++) {
		const struct neon_snapshot *s = model_snapshot_at(snaps, i);

		if (!oldest || s->created < oldest_t) {
			oldest = s->entry;
			oldest_t = s->created;
		}
	}
	nb = model_count(branches);
	old = calloc(nb ? nb : 1, sizeof(*old));
	if (!old) {
		res = -ENOMEM;
		goto out;
	}
	for (i = 0; i < nb; i++) {
		const struct neon_branch *b = model_branch_at(branches, i);

		if (model_branch_replaced(branches, b))
			old[nold++] = b->entry;
	}
	lim[QUOTA_SNAPSHOTS].name = "snapshots";
	lim[QUOTA_SNAPSHOTS].used = (long long)model_count(snaps);
	lim[QUOTA_ROOT_BRANCHES].name = "root_branches";
	lim[QUOTA_ROOT_BRANCHES].used = (long long)model_root_branches(branches);
	for (i = 0; i < QUOTA_KINDS; i++) {
		lim[i].limit = quota_limit(project_quota(p), (enum quota_kind)i, from[i],
					   sizeof(from[i]));
		lim[i].limit_from = from[i];
	}
	/* At the snapshot limit the oldest is the one to let go; the branches a restore
	 * replaced and kept are always what the root-branch limit can spare. */
	if (oldest && lim[QUOTA_SNAPSHOTS].limit >= 0 &&
	    lim[QUOTA_SNAPSHOTS].used >= lim[QUOTA_SNAPSHOTS].limit) {
		lim[QUOTA_SNAPSHOTS].remove = &oldest;
		lim[QUOTA_SNAPSHOTS].nremove = 1;
	}
	lim[QUOTA_ROOT_BRANCHES].remove = old;
	lim[QUOTA_ROOT_BRANCHES].nremove = nold;
	*text = model_limits_json(lim, QUOTA_KINDS);
	res = *text ? 0 : -ENOMEM;
out:
	free(old);
	model_list_put(snaps);
	model_list_put(branches);
	return res;
}
