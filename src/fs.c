/* fs: the tree a user sees, as FUSE low-level operations.
 *
 *   snapshots/<name>/{id,meta.json,schema,<attachments>}   mkdir, rmdir, mv, cp into
 *   branches/<name>/{id,meta.json,schema,connection_uri}  mkdir, rmdir, ln -s, rm
 *   active/{id,meta.json,schema,connection_uri,restore}   echo <snapshot> > restore
 *   events                                                 tail -f
 *
 * Handlers run on the multi-threaded loop's workers and may block on the network; every
 * failure is logged with its reason before the errno goes back. Listings come from the
 * cache module, so ls, ls -l and stat cost one API call per cache window. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "api.h"
#include "cache.h"
#include "errmap.h"
#include "events.h"
#include "fs.h"
#include "log.h"
#include "meta.h"
#include "names.h"
#include "pg.h"
#include "restore.h"
#include "schema.h"
#include "tree.h"

#define FS_KEY_SNAPSHOTS  "snapshots"
#define FS_KEY_BRANCHES   "branches"
#define FS_KEY_ENDPOINTS  "endpoints"
#define FS_KEY_RECORDS    "checkpoints"

struct fs {
	struct fs_config cfg;
	struct api *api;
	struct meta *meta;
	struct pg_pool *pool;
	struct cache *cache;     /* listings and rendered files */
	struct tree *tree;
	struct restore *restore;
	struct events *events;
	struct fuse_session *se;
	uid_t uid;
	gid_t gid;
	time_t mounted;
	char active_name[NAMES_MAX + 1];
	char database[128];
	char role[128];

	/* What the watcher last saw, id -> name; changes made through the mount update it
	 * at once, so only changes made elsewhere come out of the watcher's diff. */
	pthread_mutex_t watch_lock;
	pthread_cond_t watch_cond;
	struct json_object *seen_snapshots;
	struct json_object *seen_branches;
	bool seeded;          /* the seen maps hold a real listing */
	int local_busy;       /* changes through the mount in flight */
	unsigned long local_gen;
	pthread_t watcher;
	bool watching;
	bool stopping;
};

/* A change through the mount is in flight: the watcher must not take what it sees in the
 * meantime for a change made elsewhere. */
static void fs_local_begin(struct fs *fs)
{
	pthread_mutex_lock(&fs->watch_lock);
	fs->local_busy++;
	pthread_mutex_unlock(&fs->watch_lock);
}

static void fs_local_end(struct fs *fs)
{
	pthread_mutex_lock(&fs->watch_lock);
	fs->local_busy--;
	fs->local_gen++;
	pthread_mutex_unlock(&fs->watch_lock);
}

static void fs_seen(struct fs *fs, bool snapshot, const char *id, const char *name)
{
	pthread_mutex_lock(&fs->watch_lock);
	if (name)
		json_object_object_add(snapshot ? fs->seen_snapshots : fs->seen_branches, id,
				       json_object_new_string(name));
	else
		json_object_object_del(snapshot ? fs->seen_snapshots : fs->seen_branches, id);
	pthread_mutex_unlock(&fs->watch_lock);
}

/* An open file: its bytes as of open, so stat, read and re-read agree. */
struct fs_file {
	char *buf;
	size_t len;
	size_t cap;
	bool attachment;
	bool dirty;
	bool restore_writer;  /* opened active/restore for writing */
	bool wrote;
	bool log_reader;      /* reads events as a growing log: end of file when caught up */
	struct events_reader *reader;
	char snapshot_id[64];
	char name[256];
};

/* An open directory: its entries as of opendir, so a listing read in pieces is consistent. */
struct fs_dirent {
	char *name;
	uint64_t ino;
	mode_t mode;
};

struct fs_dir {
	struct fs_dirent *ents;
	size_t n, cap;
};

static void fs_seen_refresh(struct fs *fs);
struct tree_node;
static int fs_render(struct fs *fs, const struct tree_node *n, char **text);

static struct fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

/* ---- small JSON helpers ---- */

static const char *fs_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	return json_object_get_string(v);
}

static bool fs_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

/* RFC 3339 to seconds; 0 when absent or unreadable. */
static time_t fs_time(const char *s)
{
	struct tm tm;

	if (!s)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (!strptime(s, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

/* ---- errors: every errno a user gets is also said in words ---- */

static void fs_fail(fuse_req_t req, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void fs_fail(fuse_req_t req, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err == ENOENT)
		log_debug("%s (%s)", msg, strerror(err));
	else
		log_err("%s (%s)", msg, strerror(err));
	fuse_reply_err(req, err);
}

/* One line in `events`: @kind, then name/value string pairs ending with NULL. */
static void fs_emit(struct fs *fs, const char *kind, bool local, ...)
{
	struct json_object *ev = json_object_new_object();
	const char *key, *value;
	va_list ap;

	va_start(ap, local);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value)
			json_object_object_add(ev, key, json_object_new_string(value));
	}
	va_end(ap);
	events_emit(fs->events, kind, ev, local);
	json_object_put(ev);
}

/* ---- listings ---- */

static int fs_fetch(void *data, const char *key, struct json_object **val)
{
	struct fs *fs = data;
	struct api_error err = { 0 };
	char msg[512];
	int res;

	if (strcmp(key, FS_KEY_SNAPSHOTS) == 0) {
		res = api_list_snapshots(fs->api, val, &err);
	} else if (strcmp(key, FS_KEY_BRANCHES) == 0) {
		res = api_list_branches(fs->api, val, &err);
	} else if (strcmp(key, FS_KEY_ENDPOINTS) == 0) {
		struct json_object *resp = NULL, *eps;
		char path[256];

		snprintf(path, sizeof(path), "/projects/%s/endpoints", api_project_id(fs->api));
		res = api_call(fs->api, ERRMAP_READ, "GET", path, NULL, NULL, &resp, &err);
		if (res == 0) {
			if (json_object_object_get_ex(resp, "endpoints", &eps))
				*val = json_object_get(eps);
			else
				*val = json_object_new_array();
		}
		json_object_put(resp);
	} else if (strncmp(key, "uri:", 4) == 0) {
		char *uri = NULL;

		res = api_connection_uri(fs->api, key + 4, fs->database, fs->role, &uri, &err);
		if (res == 0) {
			*val = json_object_new_string(uri);
			free(uri);
		}
	} else if (strncmp(key, "file:", 5) == 0) {
		struct tree_node n;
		char *text = NULL;

		res = tree_get(fs->tree, strtoull(key + 5, NULL, 10), &n);
		if (res == 0)
			res = fs_render(fs, &n, &text);
		if (res == 0) {
			*val = json_object_new_string(text);
			free(text);
		}
		return res;
	} else if (strncmp(key, "attachments:", 12) == 0) {
		struct meta_attachment *atts = NULL;
		size_t natt = 0, i;

		res = meta_attachment_list(fs->meta, key + 12, &atts, &natt, msg, sizeof(msg));
		if (res == -ENOTSUP) {
			/* No meta database: a snapshot has no attachments. */
			*val = json_object_new_array();
			return 0;
		}
		if (res) {
			log_err("attachments of snapshot %s: %s", key + 12, msg);
			return res;
		}
		*val = json_object_new_array();
		for (i = 0; i < natt; i++) {
			struct json_object *a = json_object_new_object();

			json_object_object_add(a, "name", json_object_new_string(atts[i].name));
			json_object_object_add(a, "size", json_object_new_int64(atts[i].size));
			json_object_object_add(a, "created_at", json_object_new_int64(atts[i].created_at));
			json_object_object_add(a, "updated_at", json_object_new_int64(atts[i].updated_at));
			json_object_array_add(*val, a);
		}
		free(atts);
		return 0;
	} else if (strcmp(key, FS_KEY_RECORDS) == 0) {
		res = meta_checkpoint_all(fs->meta, val, msg, sizeof(msg));
		if (res && res != -ENOTSUP)
			log_warn("checkpoint records unavailable: %s", msg);
		if (res) {
			*val = json_object_new_object();
			res = 0;
		}
		return res;
	} else {
		return -ENOENT;
	}
	if (res)
		log_err("listing %s: %s", key, err.message);
	return res;
}

static int fs_listing(struct fs *fs, const char *key, struct json_object **arr)
{
	return cache_get(fs->cache, key, fs_fetch, fs, arr);
}

/* Drops what a change through the mount made stale: the listing, and every rendered file
 * (a meta.json shows names, records and attachments). */
static void fs_changed(struct fs *fs, const char *key)
{
	cache_invalidate(fs->cache, key);
	cache_invalidate_prefix(fs->cache, "file:");
}

/* A snapshot's attachments: [{name, size, created_at, updated_at}], one query per cache
 * window however many are looked up or listed. */
static int fs_attachments(struct fs *fs, const char *snap_id, struct json_object **arr)
{
	char key[96];

	snprintf(key, sizeof(key), "attachments:%s", snap_id);
	return cache_get(fs->cache, key, fs_fetch, fs, arr);
}

/* An attachment of @snap_id was written, created, renamed or removed through the mount. */
static void fs_attachments_changed(struct fs *fs, const char *snap_id)
{
	char key[96];

	snprintf(key, sizeof(key), "attachments:%s", snap_id);
	cache_invalidate(fs->cache, key);
	fs_changed(fs, FS_KEY_RECORDS);
}

static struct json_object *fs_find(struct json_object *arr, const char *field, const char *value)
{
	size_t i, n = arr ? json_object_array_length(arr) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *v = fs_str(o, field);

		if (v && strcmp(v, value) == 0)
			return o;
	}
	return NULL;
}

/* The object listed under @entry: by name, or by id when its name can't be an entry. */
static struct json_object *fs_find_entry(struct json_object *arr, const char *entry)
{
	size_t i, n = arr ? json_object_array_length(arr) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *name = fs_str(o, "name"), *id = fs_str(o, "id");

		if (id && strcmp(names_entry(name, id), entry) == 0)
			return o;
	}
	return NULL;
}

/* Looks an object up in a listing and hands back a new reference, or -ENOENT. */
static int fs_get(struct fs *fs, const char *key, const char *field, const char *value,
		  struct json_object **obj)
{
	struct json_object *arr = NULL, *o;
	int res = fs_listing(fs, key, &arr);

	if (res)
		return res;
	o = strcmp(field, "entry") == 0 ? fs_find_entry(arr, value) : fs_find(arr, field, value);
	*obj = json_object_get(o);
	json_object_put(arr);
	return o ? 0 : -ENOENT;
}

/* The active branch, resolved by name every time: a restore gives it a new id. */
static int fs_active(struct fs *fs, struct json_object **branch)
{
	return fs_get(fs, FS_KEY_BRANCHES, "name", fs->active_name, branch);
}

/* The active branch's id for a change about to be made: read afresh, never from the cache,
 * since a restore made elsewhere moves the name to a new id and acting on the old one
 * would snapshot or branch the replaced branch. */
static int fs_active_id(struct fs *fs, char *id, size_t len)
{
	struct json_object *b = NULL;
	int res;

	cache_invalidate(fs->cache, FS_KEY_BRANCHES);
	res = fs_active(fs, &b);

	if (res == 0)
		snprintf(id, len, "%s", fs_str(b, "id"));
	json_object_put(b);
	return res;
}

/* Does @branch_id have a read-write compute, so it can be connected to? */
static bool fs_has_compute(struct fs *fs, const char *branch_id)
{
	struct json_object *eps = NULL;
	size_t i, n;
	bool found = false;

	if (fs_listing(fs, FS_KEY_ENDPOINTS, &eps))
		return false;
	n = json_object_array_length(eps);
	for (i = 0; i < n && !found; i++) {
		struct json_object *e = json_object_array_get_idx(eps, i);
		const char *b = fs_str(e, "branch_id"), *type = fs_str(e, "type");

		found = b && type && strcmp(b, branch_id) == 0 && strcmp(type, "read_write") == 0;
	}
	json_object_put(eps);
	return found;
}

/* A preview branch: made from a snapshot and not finalized into another branch. */
static const char *fs_preview_of(struct json_object *branch)
{
	const char *status = fs_str(branch, "restore_status");

	if (!status || strcmp(status, "restored") != 0)
		return NULL;
	return fs_str(branch, "restored_from");
}

/* The newest preview branch of snapshot @snap_id, or NULL (borrowed from @branches). */
static struct json_object *fs_preview_branch(struct json_object *branches, const char *snap_id)
{
	struct json_object *best = NULL;
	size_t i, n = branches ? json_object_array_length(branches) : 0;

	for (i = 0; i < n; i++) {
		struct json_object *b = json_object_array_get_idx(branches, i);
		const char *from = fs_preview_of(b);

		if (from && strcmp(from, snap_id) == 0 &&
		    (!best || fs_time(fs_str(b, "created_at")) >= fs_time(fs_str(best, "created_at"))))
			best = b;
	}
	return best;
}

/* ---- text cached per file ---- */

static int fs_uri(struct fs *fs, const char *branch_id, char **uri)
{
	struct json_object *v = NULL;
	char key[128];
	int res;

	snprintf(key, sizeof(key), "uri:%s", branch_id);
	res = cache_get(fs->cache, key, fs_fetch, fs, &v);
	if (res)
		return res;
	*uri = strdup(json_object_get_string(v));
	json_object_put(v);
	return *uri ? 0 : -ENOMEM;
}

/* Facts about a branch's database read through libpq, for meta.json. */
static struct json_object *fs_live_facts(struct fs *fs, const char *branch_id)
{
	static const char *const sql =
		"SELECT current_setting('server_version'), NULL, "
		"pg_database_size(current_database()), pg_current_wal_lsn()::text, "
		"(SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
		" WHERE c.relkind IN ('r', 'p') AND n.nspname !~ '^pg_' "
		" AND n.nspname <> 'information_schema')";
	struct json_object *live = json_object_new_object();
	char *uri = NULL, msg[512] = "";
	PGresult *r = NULL;

	if (!fs_has_compute(fs, branch_id)) {
		json_object_object_add(live, "error", json_object_new_string(
			"the branch has no compute to connect to"));
		return live;
	}
	if (fs_uri(fs, branch_id, &uri)) {
		json_object_object_add(live, "error", json_object_new_string(
			"no connection string for the branch"));
		return live;
	}
	if (pg_query(fs->pool, uri, sql, 0, NULL, &r, msg, sizeof(msg)) != 0 ||
	    PQntuples(r) != 1) {
		log_warn("live facts of branch %s: %s", branch_id, msg);
		json_object_object_add(live, "error", json_object_new_string(msg[0] ? msg :
				       "no answer from the database"));
		PQclear(r);
		free(uri);
		return live;
	}
	json_object_object_add(live, "server_version", json_object_new_string(PQgetvalue(r, 0, 0)));
	json_object_object_add(live, "database", json_object_new_string(fs->database));
	json_object_object_add(live, "database_size",
			       json_object_new_int64(strtoll(PQgetvalue(r, 0, 2), NULL, 10)));
	json_object_object_add(live, "current_lsn", json_object_new_string(PQgetvalue(r, 0, 3)));
	json_object_object_add(live, "table_count",
			       json_object_new_int64(strtoll(PQgetvalue(r, 0, 4), NULL, 10)));
	PQclear(r);
	free(uri);
	return live;
}

static int fs_live_schema(struct fs *fs, const char *branch_id, char **text)
{
	char *uri = NULL, msg[512] = "";
	int res;

	res = fs_uri(fs, branch_id, &uri);
	if (res)
		return res;
	res = schema_dump_uri(fs->pool, uri, text, NULL, 0, msg, sizeof(msg));
	if (res)
		log_err("schema of branch %s: %s", branch_id, msg);
	free(uri);
	return res;
}

static int fs_wait(struct fs *fs, struct json_object *resp, const char *what)
{
	struct json_object *ops;
	struct api_error err = { 0 };
	int res;

	if (!json_object_object_get_ex(resp, "operations", &ops))
		return 0;
	res = api_wait_operations(fs->api, ops, fs->cfg.op_timeout, NULL, NULL, NULL, &err);
	if (res)
		log_err("%s: %s", what, err.message);
	return res;
}

/* A snapshot made elsewhere has no captured schema: read it from a short-lived preview
 * branch of the snapshot, then delete that branch. */
static int fs_materialize_schema(struct fs *fs, struct json_object *snap, char **text)
{
	const char *snap_id = fs_str(snap, "id");
	struct json_object *resp = NULL, *eresp = NULL, *dresp = NULL, *branch;
	struct api_error err = { 0 };
	char active_id[64], name[NAMES_MAX + 1], branch_id[64] = "";
	int res;

	res = fs_active_id(fs, active_id, sizeof(active_id));
	if (res)
		return res;
	snprintf(name, sizeof(name), "neonfs-schema-%s", snap_id);
	log_info("schema of snapshot %s: reading it through a temporary branch", snap_id);
	res = api_restore_snapshot(fs->api, snap_id, active_id, false, name, &resp, &err);
	if (res) {
		log_err("schema of snapshot %s: %s", snap_id, err.message);
		return res;
	}
	if (json_object_object_get_ex(resp, "branch", &branch))
		snprintf(branch_id, sizeof(branch_id), "%s", fs_str(branch, "id"));
	if (branch_id[0])
		fs_seen(fs, false, branch_id, name);
	res = fs_wait(fs, resp, "temporary branch for a snapshot's schema");
	if (res)
		goto out;
	res = api_create_endpoint(fs->api, branch_id, &eresp, &err);
	if (res) {
		log_err("schema of snapshot %s: %s", snap_id, err.message);
		goto out;
	}
	res = fs_wait(fs, eresp, "compute for a snapshot's schema");
	if (res)
		goto out;
	fs_changed(fs, FS_KEY_ENDPOINTS);
	res = fs_live_schema(fs, branch_id, text);
out:
	if (branch_id[0]) {
		if (api_delete_branch(fs->api, branch_id, &dresp, &err) == 0) {
			fs_wait(fs, dresp, "delete the temporary branch");
			fs_seen(fs, false, branch_id, NULL);
		} else {
			log_err("temporary branch %s was not deleted: %s", branch_id, err.message);
		}
	}
	fs_changed(fs, FS_KEY_BRANCHES);
	fs_changed(fs, FS_KEY_ENDPOINTS);
	json_object_put(resp);
	json_object_put(eresp);
	json_object_put(dresp);
	return res;
}

static int fs_snapshot_schema(struct fs *fs, struct json_object *snap, char **text)
{
	struct meta_checkpoint rec = { 0 };
	char msg[512];
	int res;

	res = meta_checkpoint_get(fs->meta, fs_str(snap, "id"), &rec, msg, sizeof(msg));
	if (res == 0 && rec.schema) {
		*text = rec.schema;
		rec.schema = NULL;
		meta_checkpoint_clear(&rec);
		return 0;
	}
	meta_checkpoint_clear(&rec);
	res = fs_materialize_schema(fs, snap, text);
	if (res)
		return res;
	if (fs->meta) {
		struct meta_checkpoint c = { 0 };

		snprintf(c.snapshot_id, sizeof(c.snapshot_id), "%s", fs_str(snap, "id"));
		snprintf(c.name, sizeof(c.name), "%s", fs_str(snap, "name"));
		snprintf(c.created_at, sizeof(c.created_at), "%s", fs_str(snap, "created_at"));
		if (fs_str(snap, "lsn"))
			snprintf(c.lsn, sizeof(c.lsn), "%s", fs_str(snap, "lsn"));
		c.schema = *text;
		if (meta_checkpoint_get(fs->meta, c.snapshot_id, &rec, msg, sizeof(msg)) == 0)
			res = meta_checkpoint_set_schema(fs->meta, c.snapshot_id, *text, msg, sizeof(msg));
		else
			res = meta_checkpoint_put(fs->meta, &c, msg, sizeof(msg));
		meta_checkpoint_clear(&rec);
		if (res)
			log_warn("schema of snapshot %s not kept: %s", c.snapshot_id, msg);
		fs_changed(fs, FS_KEY_RECORDS);
	}
	return 0;
}

static char *fs_json_text(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = NULL;

	if (s && asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	return out;
}

static char *fs_line(const char *s)
{
	char *out = NULL;

	if (asprintf(&out, "%s\n", s ? s : "") < 0)
		return NULL;
	return out;
}

static int fs_snapshot_meta(struct fs *fs, struct json_object *snap, char **text)
{
	struct json_object *o = json_object_new_object(), *records = NULL, *rec = NULL;
	struct json_object *atts = NULL;

	json_object_object_foreach(snap, k, v)
		json_object_object_add(o, k, json_object_get(v));
	if (fs_listing(fs, FS_KEY_RECORDS, &records) == 0 &&
	    json_object_object_get_ex(records, fs_str(snap, "id"), &rec)) {
		struct json_object *cp = json_object_get(rec);

		if (fs_attachments(fs, fs_str(snap, "id"), &atts) == 0) {
			struct json_object *arr = json_object_new_array();
			size_t i, natt = json_object_array_length(atts);

			for (i = 0; i < natt; i++) {
				struct json_object *a = json_object_array_get_idx(atts, i), *field;
				struct json_object *line = json_object_new_object();

				if (json_object_object_get_ex(a, "name", &field))
					json_object_object_add(line, "name", json_object_get(field));
				if (json_object_object_get_ex(a, "size", &field))
					json_object_object_add(line, "size", json_object_get(field));
				json_object_array_add(arr, line);
			}
			json_object_object_add(cp, "attachments", arr);
			json_object_put(atts);
		}
		json_object_object_add(o, "checkpoint", cp);
	} else {
		json_object_object_add(o, "checkpoint", NULL);
	}
	json_object_put(records);
	*text = fs_json_text(o);
	json_object_put(o);
	return *text ? 0 : -ENOMEM;
}

static int fs_branch_meta(struct fs *fs, struct json_object *branch, char **text)
{
	struct json_object *o = json_object_new_object();

	json_object_object_foreach(branch, k, v)
		json_object_object_add(o, k, json_object_get(v));
	json_object_object_add(o, "live", fs_live_facts(fs, fs_str(branch, "id")));
	*text = fs_json_text(o);
	json_object_put(o);
	return *text ? 0 : -ENOMEM;
}

/* The connection_uri file: the URI on one line. */
static int fs_uri_line(struct fs *fs, const char *branch_id, char **text)
{
	char *uri = NULL;
	int res = fs_uri(fs, branch_id, &uri);

	if (res)
		return res;
	*text = fs_line(uri);
	free(uri);
	return *text ? 0 : -ENOMEM;
}

/* Renders a file of a snapshot, a branch or active/ by name. */
static int fs_render(struct fs *fs, const struct tree_node *n, char **text)
{
	struct json_object *obj = NULL, *branches = NULL, *pv;
	const char *file = n->file;
	int res;

	*text = NULL;
	if (n->kind == TREE_SNAPSHOT_FILE) {
		res = fs_get(fs, FS_KEY_SNAPSHOTS, "id", n->obj, &obj);
		if (res)
			return res;
		if (strcmp(file, "id") == 0) {
			*text = fs_line(n->obj);
		} else if (strcmp(file, "meta.json") == 0) {
			res = fs_snapshot_meta(fs, obj, text);
		} else if (strcmp(file, "schema") == 0) {
			res = fs_snapshot_schema(fs, obj, text);
		} else if (strcmp(file, "connection_uri") == 0) {
			res = fs_listing(fs, FS_KEY_BRANCHES, &branches);
			pv = res ? NULL : fs_preview_branch(branches, n->obj);
			if (!res && !pv)
				res = -ENOENT;
			if (!res)
				res = fs_uri_line(fs, fs_str(pv, "id"), text);
			json_object_put(branches);
		} else {
			res = -ENOENT;
		}
		json_object_put(obj);
		return res ? res : (*text ? 0 : -ENOMEM);
	}
	if (n->kind == TREE_ACTIVE_FILE && strcmp(file, "restore") == 0) {
		*text = restore_status(fs->restore);
		return *text ? 0 : -ENOMEM;
	}
	if (n->kind == TREE_ACTIVE_FILE)
		res = fs_active(fs, &obj);
	else
		res = fs_get(fs, FS_KEY_BRANCHES, "id", n->obj, &obj);
	if (res)
		return res;
	if (strcmp(file, "id") == 0) {
		*text = fs_line(fs_str(obj, "id"));
	} else if (strcmp(file, "meta.json") == 0) {
		res = fs_branch_meta(fs, obj, text);
	} else if (strcmp(file, "schema") == 0) {
		res = fs_live_schema(fs, fs_str(obj, "id"), text);
	} else if (strcmp(file, "connection_uri") == 0) {
		res = fs_uri_line(fs, fs_str(obj, "id"), text);
	} else {
		res = -ENOENT;
	}
	json_object_put(obj);
	return res ? res : (*text ? 0 : -ENOMEM);
}

/* Rendered text, reused within the cache window so stat then read costs one render. */
static int fs_text(struct fs *fs, const struct tree_node *n, char **text, size_t *len)
{
	struct json_object *v = NULL;
	char key[64];
	int res;

	if (n->kind == TREE_ACTIVE_FILE && strcmp(n->file, "restore") == 0) {
		/* The restore status changes while it is read: never cached. */
		res = fs_render(fs, n, text);
		if (res == 0)
			*len = strlen(*text);
		return res;
	}
	snprintf(key, sizeof(key), "file:%llu", (unsigned long long)n->ino);
	res = cache_get(fs->cache, key, fs_fetch, fs, &v);
	if (res)
		return res;
	*len = (size_t)json_object_get_string_len(v);
	*text = malloc(*len + 1);
	if (*text)
		memcpy(*text, json_object_get_string(v), *len + 1);
	json_object_put(v);
	return *text ? 0 : -ENOMEM;
}

/* Forgets listings and rendered files: after a restore or a change made elsewhere, live
 * files may differ. */
static void fs_forget_files(struct fs *fs)
{
	cache_invalidate(fs->cache, FS_KEY_SNAPSHOTS);
	cache_invalidate(fs->cache, FS_KEY_BRANCHES);
	cache_invalidate(fs->cache, FS_KEY_ENDPOINTS);
	cache_invalidate(fs->cache, FS_KEY_RECORDS);
	cache_invalidate_prefix(fs->cache, "file:");
}

/* Where a preview branch's link points: its snapshot's entry, as `ln -s` was given it. */
static void fs_link_target(struct fs *fs, struct json_object *branch, char *buf, size_t len)
{
	struct json_object *snap = NULL;
	const char *snap_id = fs_preview_of(branch);

	if (fs_get(fs, FS_KEY_SNAPSHOTS, "id", snap_id, &snap) == 0)
		snprintf(buf, len, "../snapshots/%s",
			 names_entry(fs_str(snap, "name"), fs_str(snap, "id")));
	else
		snprintf(buf, len, "../snapshots/%s", snap_id);
	json_object_put(snap);
}

/* ---- attributes ---- */

static void fs_fill(struct fs *fs, struct stat *st, uint64_t ino, mode_t mode, time_t t)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	st->st_mode = mode;
	st->st_nlink = S_ISDIR(mode) ? 2 : 1;
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = 4096;
	st->st_atime = st->st_mtime = st->st_ctime = t ? t : fs->mounted;
}

static mode_t fs_file_mode(const char *file)
{
	if (strcmp(file, "connection_uri") == 0)
		return S_IFREG | 0600;
	if (strcmp(file, "restore") == 0)
		return S_IFREG | 0644;
	return S_IFREG | 0444;
}

static int fs_attachment(struct fs *fs, const char *snap_id, const char *name,
			 struct meta_attachment *out)
{
	struct json_object *arr = NULL, *a, *v;
	int res = fs_attachments(fs, snap_id, &arr);

	if (res)
		return res;
	a = fs_find(arr, "name", name);
	if (!a) {
		json_object_put(arr);
		return -ENOENT;
	}
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "%s", name);
	if (json_object_object_get_ex(a, "size", &v))
		out->size = json_object_get_int64(v);
	if (json_object_object_get_ex(a, "created_at", &v))
		out->created_at = json_object_get_int64(v);
	if (json_object_object_get_ex(a, "updated_at", &v))
		out->updated_at = json_object_get_int64(v);
	json_object_put(arr);
	return 0;
}

static int fs_stat(struct fs *fs, const struct tree_node *n, struct stat *st)
{
	struct json_object *obj = NULL;
	struct meta_attachment att;
	char *text = NULL;
	size_t len = 0;
	int res = 0;

	switch (n->kind) {
	case TREE_ROOT:
	case TREE_SNAPSHOTS:
	case TREE_BRANCHES:
	case TREE_ACTIVE:
		fs_fill(fs, st, n->ino, S_IFDIR | 0755, 0);
		return 0;
	case TREE_EVENTS: {
		unsigned long long bytes;
		struct timespec last;

		events_stat(fs->events, &bytes, &last);
		fs_fill(fs, st, n->ino, S_IFREG | 0444, last.tv_sec);
		st->st_size = (off_t)bytes;
		st->st_mtim = last.tv_sec ? last : st->st_mtim;
		return 0;
	}
	case TREE_SNAPSHOT:
		res = fs_get(fs, FS_KEY_SNAPSHOTS, "id", n->obj, &obj);
		if (res)
			return res;
		fs_fill(fs, st, n->ino, S_IFDIR | 0755, fs_time(fs_str(obj, "created_at")));
		json_object_put(obj);
		return 0;
	case TREE_BRANCH:
		res = fs_get(fs, FS_KEY_BRANCHES, "id", n->obj, &obj);
		if (res)
			return res;
		if (fs_preview_of(obj)) {
			char target[NAMES_MAX + 32];

			/* A preview branch is a link to its snapshot; its size is the link's. */
			fs_link_target(fs, obj, target, sizeof(target));
			fs_fill(fs, st, n->ino, S_IFLNK | 0777, fs_time(fs_str(obj, "updated_at")));
			st->st_size = (off_t)strlen(target);
		} else {
			fs_fill(fs, st, n->ino, S_IFDIR | 0755, fs_time(fs_str(obj, "updated_at")));
		}
		json_object_put(obj);
		return 0;
	case TREE_ATTACHMENT:
		res = fs_attachment(fs, n->obj, n->file, &att);
		if (res)
			return res;
		fs_fill(fs, st, n->ino, S_IFREG | 0644, (time_t)att.updated_at);
		st->st_size = att.size;
		st->st_blocks = (att.size + 511) / 512;
		return 0;
	case TREE_SNAPSHOT_FILE:
	case TREE_BRANCH_FILE:
	case TREE_ACTIVE_FILE:
		break;
	}
	/* Files: the size is what a read returns, so render them. */
	res = fs_text(fs, n, &text, &len);
	if (res)
		return res;
	free(text);
	{
		time_t t = 0;

		if (n->kind == TREE_SNAPSHOT_FILE &&
		    fs_get(fs, FS_KEY_SNAPSHOTS, "id", n->obj, &obj) == 0)
			t = fs_time(fs_str(obj, "created_at"));
		else if (n->kind == TREE_BRANCH_FILE &&
			 fs_get(fs, FS_KEY_BRANCHES, "id", n->obj, &obj) == 0)
			t = fs_time(fs_str(obj, "updated_at"));
		json_object_put(obj);
		fs_fill(fs, st, n->ino, fs_file_mode(n->file), t);
	}
	st->st_size = (off_t)len;
	st->st_blocks = (blkcnt_t)((len + 511) / 512);
	return 0;
}

static void fs_reply_entry(fuse_req_t req, struct fs *fs, const struct stat *st)
{
	struct fuse_entry_param e;

	memset(&e, 0, sizeof(e));
	e.ino = st->st_ino;
	e.attr = *st;
	e.attr_timeout = st->st_ino == TREE_INO_EVENTS ? 0 : fs->cfg.attr_timeout;
	e.entry_timeout = fs->cfg.attr_timeout;
	fuse_reply_entry(req, &e);
}

/* ---- the names each directory holds ---- */

static const char *const fs_snapshot_files[] = { "id", "meta.json", "schema", NULL };
static const char *const fs_branch_files[] = { "id", "meta.json", "schema", "connection_uri", NULL };
static const char *const fs_active_files[] = { "id", "meta.json", "schema", "connection_uri",
					       "restore", NULL };

static bool fs_in(const char *const *list, const char *name)
{
	for (; *list; list++)
		if (strcmp(*list, name) == 0)
			return true;
	return false;
}

/* Resolves @name inside directory @parent to a node. */
static int fs_resolve(struct fs *fs, const struct tree_node *parent, const char *name,
		      struct tree_node *out)
{
	struct json_object *obj = NULL, *branches = NULL;
	struct meta_attachment att;
	enum tree_kind kind;
	const char *obj_id = "", *file = "";
	uint64_t ino;
	int res = 0;

	switch (parent->kind) {
	case TREE_ROOT:
		if (strcmp(name, "snapshots") == 0)
			kind = TREE_SNAPSHOTS;
		else if (strcmp(name, "branches") == 0)
			kind = TREE_BRANCHES;
		else if (strcmp(name, "active") == 0)
			kind = TREE_ACTIVE;
		else if (strcmp(name, "events") == 0)
			kind = TREE_EVENTS;
		else
			return -ENOENT;
		break;
	case TREE_SNAPSHOTS:
		res = fs_get(fs, FS_KEY_SNAPSHOTS, "entry", name, &obj);
		if (res)
			return res;
		kind = TREE_SNAPSHOT;
		obj_id = fs_str(obj, "id");
		break;
	case TREE_BRANCHES:
		res = fs_get(fs, FS_KEY_BRANCHES, "entry", name, &obj);
		if (res)
			return res;
		kind = TREE_BRANCH;
		obj_id = fs_str(obj, "id");
		break;
	case TREE_ACTIVE:
		if (!fs_in(fs_active_files, name))
			return -ENOENT;
		kind = TREE_ACTIVE_FILE;
		file = name;
		break;
	case TREE_SNAPSHOT:
		obj_id = parent->obj;
		file = name;
		if (fs_in(fs_snapshot_files, name)) {
			kind = TREE_SNAPSHOT_FILE;
		} else if (strcmp(name, "connection_uri") == 0) {
			res = fs_listing(fs, FS_KEY_BRANCHES, &branches);
			if (res == 0 && !fs_preview_branch(branches, obj_id))
				res = -ENOENT;
			json_object_put(branches);
			if (res)
				return res;
			kind = TREE_SNAPSHOT_FILE;
		} else {
			res = fs_attachment(fs, obj_id, name, &att);
			if (res)
				return res;
			kind = TREE_ATTACHMENT;
		}
		break;
	case TREE_BRANCH:
		if (!fs_in(fs_branch_files, name))
			return -ENOENT;
		if ((strcmp(name, "connection_uri") == 0 || strcmp(name, "schema") == 0) &&
		    !fs_has_compute(fs, parent->obj))
			return -ENOENT;
		kind = TREE_BRANCH_FILE;
		obj_id = parent->obj;
		file = name;
		break;
	default:
		return -ENOTDIR;
	}
	ino = tree_intern(fs->tree, kind, obj_id, file);
	json_object_put(obj);
	if (!ino)
		return -ENOMEM;
	return tree_get(fs->tree, ino, out);
}

/* ---- directory listings ---- */

static int fs_dir_add(struct fs_dir *d, const char *name, uint64_t ino, mode_t mode)
{
	if (d->n == d->cap) {
		size_t cap = d->cap ? d->cap * 2 : 16;
		struct fs_dirent *e = realloc(d->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		d->ents = e;
		d->cap = cap;
	}
	d->ents[d->n].name = strdup(name);
	if (!d->ents[d->n].name)
		return -ENOMEM;
	d->ents[d->n].ino = ino;
	d->ents[d->n].mode = mode;
	d->n++;
	return 0;
}

static void fs_dir_free(struct fs_dir *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	free(d);
}

static int fs_dir_fill(struct fs *fs, const struct tree_node *n, struct fs_dir *d)
{
	struct json_object *arr = NULL;
	const char *const *files = NULL;
	size_t i, len;
	int res = 0;

	if ((res = fs_dir_add(d, ".", n->ino, S_IFDIR)) ||
	    (res = fs_dir_add(d, "..", tree_parent(fs->tree, n), S_IFDIR)))
		return res;
	switch (n->kind) {
	case TREE_ROOT:
		if ((res = fs_dir_add(d, "snapshots", TREE_INO_SNAPSHOTS, S_IFDIR)) ||
		    (res = fs_dir_add(d, "branches", TREE_INO_BRANCHES, S_IFDIR)) ||
		    (res = fs_dir_add(d, "active", TREE_INO_ACTIVE, S_IFDIR)) ||
		    (res = fs_dir_add(d, "events", TREE_INO_EVENTS, S_IFREG)))
			return res;
		return 0;
	case TREE_SNAPSHOTS:
	case TREE_BRANCHES:
		res = fs_listing(fs, n->kind == TREE_SNAPSHOTS ? FS_KEY_SNAPSHOTS : FS_KEY_BRANCHES,
				 &arr);
		if (res)
			return res;
		len = json_object_array_length(arr);
		for (i = 0; i < len && !res; i++) {
			struct json_object *o = json_object_array_get_idx(arr, i);
			const char *id = fs_str(o, "id");
			enum tree_kind k = n->kind == TREE_SNAPSHOTS ? TREE_SNAPSHOT : TREE_BRANCH;
			mode_t mode = (k == TREE_BRANCH && fs_preview_of(o)) ? S_IFLNK : S_IFDIR;

			if (!id)
				continue;
			res = fs_dir_add(d, names_entry(fs_str(o, "name"), id),
					 tree_intern(fs->tree, k, id, ""), mode);
		}
		json_object_put(arr);
		return res;
	case TREE_ACTIVE:
		files = fs_active_files;
		break;
	case TREE_SNAPSHOT: {
		struct json_object *atts = NULL;

		for (files = fs_snapshot_files; *files && !res; files++)
			res = fs_dir_add(d, *files, tree_intern(fs->tree, TREE_SNAPSHOT_FILE, n->obj,
								 *files), S_IFREG);
		if (res)
			return res;
		if (fs_listing(fs, FS_KEY_BRANCHES, &arr) == 0 && fs_preview_branch(arr, n->obj))
			res = fs_dir_add(d, "connection_uri", tree_intern(fs->tree,
					 TREE_SNAPSHOT_FILE, n->obj, "connection_uri"), S_IFREG);
		json_object_put(arr);
		if (!res && fs_attachments(fs, n->obj, &atts) == 0) {
			size_t natt = json_object_array_length(atts);

			for (i = 0; i < natt && !res; i++) {
				const char *name = fs_str(json_object_array_get_idx(atts, i), "name");

				if (name)
					res = fs_dir_add(d, name, tree_intern(fs->tree, TREE_ATTACHMENT,
							 n->obj, name), S_IFREG);
			}
			json_object_put(atts);
		}
		return res;
	}
	case TREE_BRANCH: {
		bool compute = fs_has_compute(fs, n->obj);

		for (files = fs_branch_files; *files && !res; files++) {
			if (!compute && (strcmp(*files, "connection_uri") == 0 ||
					 strcmp(*files, "schema") == 0))
				continue;
			res = fs_dir_add(d, *files, tree_intern(fs->tree, TREE_BRANCH_FILE, n->obj,
								 *files), S_IFREG);
		}
		return res;
	}
	default:
		return -ENOTDIR;
	}
	for (; *files && !res; files++)
		res = fs_dir_add(d, *files, tree_intern(fs->tree, TREE_ACTIVE_FILE, "", *files),
				 S_IFREG);
	return res;
}

/* ---- FUSE operations ---- */

static void fs_op_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Listings change remotely; the kernel must ask again on every opendir. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->time_gran = 1000000000;
	/* O_TRUNC comes with open, not as a setattr under the inode lock: a second
	 * `echo x > active/restore` reaches open and can be told EBUSY at once. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void fs_op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct tree_node p, n;
	struct stat st;
	int res;

	res = tree_get(fs->tree, parent, &p);
	if (!res)
		res = fs_resolve(fs, &p, name, &n);
	if (!res)
		res = fs_stat(fs, &n, &st);
	if (res) {
		fs_fail(req, -res, "lookup %s", name);
		return;
	}
	fs_reply_entry(req, fs, &st);
}

static void fs_op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_node n;
	struct stat st;
	int res;

	(void)fi;
	res = tree_get(fs->tree, ino, &n);
	if (!res)
		res = fs_stat(fs, &n, &st);
	if (res) {
		fs_fail(req, -res, "stat inode %lu", (unsigned long)ino);
		return;
	}
	/* events grows with every change; pollers must see each new size. */
	fuse_reply_attr(req, &st, n.kind == TREE_EVENTS ? 0 : fs->cfg.attr_timeout);
}

static void fs_op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	struct fs *fs = fs_of(req);
	struct json_object *branch = NULL;
	struct tree_node n;
	char target[NAMES_MAX + 32];
	int res;

	res = tree_get(fs->tree, ino, &n);
	if (!res && n.kind != TREE_BRANCH)
		res = -EINVAL;
	if (!res)
		res = fs_get(fs, FS_KEY_BRANCHES, "id", n.obj, &branch);
	if (!res && !fs_preview_of(branch))
		res = -EINVAL;
	if (res) {
		json_object_put(branch);
		fs_fail(req, -res, "readlink inode %lu", (unsigned long)ino);
		return;
	}
	fs_link_target(fs, branch, target, sizeof(target));
	json_object_put(branch);
	fuse_reply_readlink(req, target);
}

static void fs_op_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_dir *d = calloc(1, sizeof(*d));
	struct tree_node n;
	int res = d ? 0 : -ENOMEM;

	if (!res)
		res = tree_get(fs->tree, ino, &n);
	if (!res)
		res = fs_dir_fill(fs, &n, d);
	if (res) {
		fs_dir_free(d);
		fs_fail(req, -res, "list inode %lu", (unsigned long)ino);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void fs_op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			  struct fuse_file_info *fi)
{
	struct fs_dir *d = (struct fs_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size);
	size_t used = 0;
	off_t i;

	(void)ino;
	if (!buf) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	for (i = off; i < (off_t)d->n; i++) {
		struct stat st;
		size_t need;

		memset(&st, 0, sizeof(st));
		st.st_ino = d->ents[i].ino;
		st.st_mode = d->ents[i].mode;
		need = fuse_add_direntry(req, buf + used, size - used, d->ents[i].name, &st, i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void fs_op_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	fs_dir_free((struct fs_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

/* A new snapshot or branch (@key's listing) called @name: one Neon accepts and nothing of
 * that kind has yet. 0, -EINVAL or -EEXIST (said in the log), or the listing's errno. */
static int fs_name_free(struct fs *fs, const char *key, const char *name)
{
	struct json_object *existing = NULL;
	int res;

	if (!names_valid_remote(name)) {
		log_err("%s/%s: not a name Neon accepts (1 to %d printable characters)", key, name,
			NAMES_MAX);
		return -EINVAL;
	}
	res = fs_get(fs, key, "name", name, &existing);
	json_object_put(existing);
	if (res == 0) {
		log_err("%s/%s: that name is taken", key, name);
		return -EEXIST;
	}
	return res == -ENOENT ? 0 : res;
}

/* mkdir snapshots/<name>: a snapshot of the active branch, with its schema captured at
 * the very LSN the snapshot is taken at. */
static int fs_snapshot_create(struct fs *fs, const char *name, struct tree_node *out)
{
	struct json_object *resp = NULL, *snap;
	struct api_error err = { 0 };
	char branch_id[64], lsn[32] = "", msg[512] = "";
	char *schema = NULL, *uri = NULL;
	uint64_t ino;
	int res;

	res = fs_name_free(fs, FS_KEY_SNAPSHOTS, name);
	if (res)
		return res;
	res = fs_active_id(fs, branch_id, sizeof(branch_id));
	if (res) {
		log_err("mkdir snapshots/%s: the active branch %s was not found", name,
			fs->active_name);
		return res;
	}
	/* Schema and LSN in one transaction, then the snapshot at that LSN: the captured
	 * text is exactly the snapshot's. Without a database connection, snapshot the head. */
	if (fs_uri(fs, branch_id, &uri) == 0) {
		res = schema_dump_uri(fs->pool, uri, &schema, lsn, sizeof(lsn), msg, sizeof(msg));
		if (res) {
			log_warn("mkdir snapshots/%s: schema not captured: %s", name, msg);
			free(schema);
			schema = NULL;
			lsn[0] = '\0';
		}
	}
	res = api_create_snapshot(fs->api, branch_id, name, lsn[0] ? lsn : NULL, &resp, &err);
	if (res) {
		log_err("mkdir snapshots/%s: %s", name, err.message);
		goto out;
	}
	if (!json_object_object_get_ex(resp, "snapshot", &snap) || !fs_str(snap, "id")) {
		log_err("mkdir snapshots/%s: the API's answer had no snapshot", name);
		res = -EIO;
		goto out;
	}
	fs_changed(fs, FS_KEY_SNAPSHOTS);
	res = fs_wait(fs, resp, "mkdir snapshot");
	if (res)
		goto out;
	if (fs->meta) {
		struct meta_checkpoint c = { 0 };

		snprintf(c.snapshot_id, sizeof(c.snapshot_id), "%s", fs_str(snap, "id"));
		snprintf(c.name, sizeof(c.name), "%s", name);
		snprintf(c.created_at, sizeof(c.created_at), "%s",
			 fs_str(snap, "created_at") ? fs_str(snap, "created_at") : "");
		snprintf(c.lsn, sizeof(c.lsn), "%s", fs_str(snap, "lsn") ? fs_str(snap, "lsn") : lsn);
		c.schema = schema;
		if (meta_checkpoint_put(fs->meta, &c, msg, sizeof(msg)))
			log_warn("mkdir snapshots/%s: checkpoint record not written: %s", name, msg);
		fs_changed(fs, FS_KEY_RECORDS);
	}
	fs_emit(fs, "snapshot.created", true, "id", fs_str(snap, "id"), "name", name, NULL);
	fs_seen(fs, true, fs_str(snap, "id"), name);
	log_info("snapshot %s (%s) created", name, fs_str(snap, "id"));
	ino = tree_intern(fs->tree, TREE_SNAPSHOT, fs_str(snap, "id"), "");
	res = ino ? tree_get(fs->tree, ino, out) : -ENOMEM;
out:
	free(schema);
	free(uri);
	json_object_put(resp);
	return res;
}

/* mkdir branches/<name>: a branch from the active branch's head with its own compute. */
static int fs_branch_create(struct fs *fs, const char *name, struct tree_node *out)
{
	struct json_object *resp = NULL, *branch;
	struct api_error err = { 0 };
	char parent[64];
	uint64_t ino;
	int res;

	res = fs_name_free(fs, FS_KEY_BRANCHES, name);
	if (res)
		return res;
	res = fs_active_id(fs, parent, sizeof(parent));
	if (res)
		return res;
	res = api_create_branch(fs->api, parent, name, &resp, &err);
	if (res) {
		log_err("mkdir branches/%s: %s", name, err.message);
		goto out;
	}
	fs_changed(fs, FS_KEY_BRANCHES);
	fs_changed(fs, FS_KEY_ENDPOINTS);
	if (!json_object_object_get_ex(resp, "branch", &branch) || !fs_str(branch, "id")) {
		res = -EIO;
		log_err("mkdir branches/%s: the API's answer had no branch", name);
		goto out;
	}
	res = fs_wait(fs, resp, "mkdir branch");
	if (res)
		goto out;
	fs_emit(fs, "branch.created", true, "id", fs_str(branch, "id"), "name", name, NULL);
	fs_seen(fs, false, fs_str(branch, "id"), name);
	log_info("branch %s (%s) created", name, fs_str(branch, "id"));
	ino = tree_intern(fs->tree, TREE_BRANCH, fs_str(branch, "id"), "");
	res = ino ? tree_get(fs->tree, ino, out) : -ENOMEM;
out:
	json_object_put(resp);
	return res;
}

static void fs_op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	struct fs *fs = fs_of(req);
	struct tree_node p, n;
	struct stat st;
	int res;

	(void)mode;
	res = tree_get(fs->tree, parent, &p);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	fs_local_begin(fs);
	if (p.kind == TREE_SNAPSHOTS)
		res = fs_snapshot_create(fs, name, &n);
	else if (p.kind == TREE_BRANCHES)
		res = fs_branch_create(fs, name, &n);
	else
		res = -EPERM;
	fs_local_end(fs);
	if (!res)
		res = fs_stat(fs, &n, &st);
	if (res) {
		fs_fail(req, -res, "mkdir %s: %s", name, p.kind == TREE_SNAPSHOTS ||
			p.kind == TREE_BRANCHES ? "failed" :
			"only snapshots/ and branches/ take new directories");
		return;
	}
	fs_reply_entry(req, fs, &st);
}

static int fs_snapshot_delete(struct fs *fs, const char *entry)
{
	struct json_object *snap = NULL, *resp = NULL;
	struct api_error err = { 0 };
	char msg[512], id[64];
	int res;

	res = fs_get(fs, FS_KEY_SNAPSHOTS, "entry", entry, &snap);
	if (res)
		return res;
	snprintf(id, sizeof(id), "%s", fs_str(snap, "id"));
	res = api_delete_snapshot(fs->api, id, &resp, &err);
	fs_changed(fs, FS_KEY_SNAPSHOTS);
	if (res) {
		log_err("rmdir snapshots/%s: %s", entry, err.message);
		goto out;
	}
	res = fs_wait(fs, resp, "rmdir snapshot");
	if (res)
		goto out;
	if (fs->meta) {
		int mres = meta_checkpoint_delete(fs->meta, id, msg, sizeof(msg));

		if (mres && mres != -ENOENT)
			log_warn("rmdir snapshots/%s: checkpoint record kept: %s", entry, msg);
	}
	/* The record went with its attachments. */
	fs_attachments_changed(fs, id);
	fs_emit(fs, "snapshot.deleted", true, "id", id, "name", fs_str(snap, "name"), NULL);
	fs_seen(fs, true, id, NULL);
	log_info("snapshot %s (%s) deleted", entry, id);
out:
	json_object_put(snap);
	json_object_put(resp);
	return res;
}

/* Deletes a branch the user named, refusing the ones the project cannot lose. */
static int fs_branch_delete(struct fs *fs, const char *entry)
{
	struct json_object *branch = NULL, *branches = NULL, *resp = NULL;
	struct api_error err = { 0 };
	char id[64];
	size_t i, n;
	int res;

	res = fs_listing(fs, FS_KEY_BRANCHES, &branches);
	if (res)
		return res;
	branch = json_object_get(fs_find_entry(branches, entry));
	if (!branch) {
		res = -ENOENT;
		goto out;
	}
	snprintf(id, sizeof(id), "%s", fs_str(branch, "id"));
	if (strcmp(fs_str(branch, "name"), fs->active_name) == 0 || fs_bool(branch, "default") ||
	    fs_bool(branch, "protected")) {
		log_err("delete branches/%s: the %s branch cannot be deleted", entry,
			strcmp(fs_str(branch, "name"), fs->active_name) == 0 ? "active" :
			fs_bool(branch, "default") ? "default" : "protected");
		res = -EPERM;
		goto out;
	}
	n = json_object_array_length(branches);
	for (i = 0; i < n; i++) {
		const char *parent = fs_str(json_object_array_get_idx(branches, i), "parent_id");

		if (parent && strcmp(parent, id) == 0) {
			log_err("delete branches/%s: it has child branches; delete those first", entry);
			res = -EBUSY;
			goto out;
		}
	}
	res = api_delete_branch(fs->api, id, &resp, &err);
	fs_changed(fs, FS_KEY_BRANCHES);
	fs_changed(fs, FS_KEY_ENDPOINTS);
	if (res) {
		log_err("delete branches/%s: %s", entry, err.message);
		goto out;
	}
	res = fs_wait(fs, resp, "delete branch");
	if (res)
		goto out;
	fs_emit(fs, "branch.deleted", true, "id", id, "name", fs_str(branch, "name"), NULL);
	fs_seen(fs, false, id, NULL);
	log_info("branch %s (%s) deleted", entry, id);
out:
	json_object_put(branch);
	json_object_put(branches);
	json_object_put(resp);
	return res;
}

static void fs_op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct json_object *b = NULL;
	struct tree_node p;
	int res;

	res = tree_get(fs->tree, parent, &p);
	fs_local_begin(fs);
	if (!res && p.kind == TREE_SNAPSHOTS) {
		res = fs_snapshot_delete(fs, name);
	} else if (!res && p.kind == TREE_BRANCHES) {
		res = fs_get(fs, FS_KEY_BRANCHES, "entry", name, &b);
		if (!res && fs_preview_of(b))
			res = -ENOTDIR;
		json_object_put(b);
		if (!res)
			res = fs_branch_delete(fs, name);
	} else if (!res) {
		res = -EPERM;
	}
	fs_local_end(fs);
	if (res) {
		fs_fail(req, -res, "rmdir %s", name);
		return;
	}
	fuse_reply_err(req, 0);
}

/* ln -s ../snapshots/<snap> branches/<name>: a preview branch of the snapshot with its own
 * compute; the active branch is not touched. */
static int fs_preview_create(struct fs *fs, const char *link, const char *name,
			     struct tree_node *out)
{
	struct json_object *snap = NULL, *resp = NULL, *eresp = NULL, *branch;
	struct api_error err = { 0 };
	char target[PATH_MAX], active_id[64], branch_id[64];
	const char *entry, *slash;
	uint64_t ino;
	int res;

	/* Accept ../snapshots/<x>, an absolute path ending in snapshots/<x>, with or without
	 * a trailing slash. */
	snprintf(target, sizeof(target), "%s", link);
	while (strlen(target) > 1 && target[strlen(target) - 1] == '/')
		target[strlen(target) - 1] = '\0';
	slash = strrchr(target, '/');
	entry = slash ? slash + 1 : target;
	if (!slash || (size_t)(slash - target) < 9 || strncmp(slash - 9, "snapshots", 9) != 0 ||
	    (slash - target > 9 && slash[-10] != '/')) {
		log_err("ln -s %s branches/%s: a preview branch links to ../snapshots/<name>",
			link, name);
		return -EINVAL;
	}
	res = fs_name_free(fs, FS_KEY_BRANCHES, name);
	if (res)
		return res;
	res = fs_get(fs, FS_KEY_SNAPSHOTS, "entry", entry, &snap);
	if (res) {
		log_err("ln -s %s branches/%s: no snapshot %s", link, name, entry);
		return res;
	}
	res = fs_active_id(fs, active_id, sizeof(active_id));
	if (res)
		goto out;
	res = api_restore_snapshot(fs->api, fs_str(snap, "id"), active_id, false, name, &resp, &err);
	if (res) {
		log_err("ln -s %s branches/%s: %s", link, name, err.message);
		goto out;
	}
	fs_changed(fs, FS_KEY_BRANCHES);
	if (!json_object_object_get_ex(resp, "branch", &branch) || !fs_str(branch, "id")) {
		res = -EIO;
		goto out;
	}
	snprintf(branch_id, sizeof(branch_id), "%s", fs_str(branch, "id"));
	res = fs_wait(fs, resp, "preview branch");
	if (res)
		goto out;
	res = api_create_endpoint(fs->api, branch_id, &eresp, &err);
	if (res) {
		log_err("ln -s branches/%s: compute for the preview branch: %s", name, err.message);
		goto out;
	}
	fs_changed(fs, FS_KEY_ENDPOINTS);
	res = fs_wait(fs, eresp, "compute for the preview branch");
	if (res)
		goto out;
	fs_emit(fs, "branch.created", true, "id", branch_id, "name", name,
		"snapshot_id", fs_str(snap, "id"), NULL);
	fs_seen(fs, false, branch_id, name);
	log_info("preview branch %s (%s) of snapshot %s created", name, branch_id, entry);
	ino = tree_intern(fs->tree, TREE_BRANCH, branch_id, "");
	res = ino ? tree_get(fs->tree, ino, out) : -ENOMEM;
out:
	json_object_put(snap);
	json_object_put(resp);
	json_object_put(eresp);
	return res;
}

static void fs_op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct tree_node p, n;
	struct stat st;
	int res;

	res = tree_get(fs->tree, parent, &p);
	if (!res && p.kind != TREE_BRANCHES)
		res = -EPERM;
	if (!res) {
		fs_local_begin(fs);
		res = fs_preview_create(fs, link, name, &n);
		fs_local_end(fs);
	}
	if (!res)
		res = fs_stat(fs, &n, &st);
	if (res) {
		fs_fail(req, -res, "symlink %s -> %s", name, link);
		return;
	}
	fs_reply_entry(req, fs, &st);
}

static void fs_op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fs *fs = fs_of(req);
	struct json_object *b = NULL;
	struct tree_node p;
	char msg[512] = "";
	int res;

	res = tree_get(fs->tree, parent, &p);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	if (p.kind == TREE_BRANCHES) {
		/* rm of a preview branch's link deletes that branch; directories need rmdir. */
		res = fs_get(fs, FS_KEY_BRANCHES, "entry", name, &b);
		if (!res && !fs_preview_of(b))
			res = -EISDIR;
		json_object_put(b);
		if (!res) {
			fs_local_begin(fs);
			res = fs_branch_delete(fs, name);
			fs_local_end(fs);
		}
	} else if (p.kind == TREE_SNAPSHOT && !fs_in(fs_snapshot_files, name) &&
		   strcmp(name, "connection_uri") != 0) {
		res = meta_attachment_delete(fs->meta, p.obj, name, msg, sizeof(msg));
		if (res == -ENOTSUP)
			res = -ENOENT;
		if (!res)
			fs_attachments_changed(fs, p.obj);
	} else {
		res = -EPERM;
	}
	if (res) {
		fs_fail(req, -res, "unlink %s%s%s", name, msg[0] ? ": " : "", msg);
		return;
	}
	fuse_reply_err(req, 0);
}

static int fs_snapshot_rename(struct fs *fs, const char *from, const char *to)
{
	struct json_object *snap = NULL, *other = NULL, *resp = NULL;
	struct api_error err = { 0 };
	char msg[512];
	int res;

	res = fs_get(fs, FS_KEY_SNAPSHOTS, "entry", from, &snap);
	if (res)
		return res;
	if (strcmp(from, to) == 0)
		goto out;
	if (!names_valid_remote(to)) {
		log_err("mv snapshots/%s snapshots/%s: not a name Neon accepts", from, to);
		res = -EINVAL;
		goto out;
	}
	if (fs_get(fs, FS_KEY_SNAPSHOTS, "entry", to, &other) == 0 ||
	    fs_get(fs, FS_KEY_SNAPSHOTS, "name", to, &other) == 0) {
		log_err("mv snapshots/%s snapshots/%s: a snapshot of that name exists", from, to);
		res = -EEXIST;
		goto out;
	}
	res = api_rename_snapshot(fs->api, fs_str(snap, "id"), to, &resp, &err);
	fs_changed(fs, FS_KEY_SNAPSHOTS);
	if (res) {
		log_err("mv snapshots/%s snapshots/%s: %s", from, to, err.message);
		goto out;
	}
	if (fs->meta) {
		int mres = meta_checkpoint_rename(fs->meta, fs_str(snap, "id"), to, msg, sizeof(msg));

		if (mres && mres != -ENOENT)
			log_warn("mv snapshots/%s: checkpoint record keeps the old name: %s", from,
				 msg);
	}
	fs_changed(fs, FS_KEY_RECORDS);
	fs_emit(fs, "snapshot.renamed", true, "id", fs_str(snap, "id"), "name", to,
		"old_name", from, NULL);
	fs_seen(fs, true, fs_str(snap, "id"), to);
	log_info("snapshot %s renamed to %s", from, to);
out:
	json_object_put(snap);
	json_object_put(other);
	json_object_put(resp);
	return res;
}

/* Attachments are renamed by copying: editors save through a temporary name. */
static int fs_attachment_rename(struct fs *fs, const char *snap_id, const char *from,
				const char *to)
{
	char *data = NULL, msg[512] = "";
	size_t len = 0;
	struct meta_attachment info;
	int res;

	if (fs_in(fs_snapshot_files, to) || strcmp(to, "connection_uri") == 0)
		return -EPERM;
	res = meta_attachment_get(fs->meta, snap_id, from, &data, &len, &info, msg, sizeof(msg));
	if (!res)
		res = meta_attachment_put(fs->meta, snap_id, to, data, len, msg, sizeof(msg));
	if (!res)
		res = meta_attachment_delete(fs->meta, snap_id, from, msg, sizeof(msg));
	if (res)
		log_err("mv %s %s: %s", from, to, msg);
	free(data);
	return res == -ENOTSUP ? -ENOENT : res;
}

static void fs_op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
			 fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	struct fs *fs = fs_of(req);
	struct tree_node p, np;
	int res;

	res = tree_get(fs->tree, parent, &p);
	if (!res)
		res = tree_get(fs->tree, newparent, &np);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	if (flags & ~RENAME_NOREPLACE) {
		fs_fail(req, EINVAL, "rename %s: exchange and whiteout are not supported", name);
		return;
	}
	if (p.ino != np.ino) {
		fs_fail(req, EXDEV, "rename %s: only within one directory", name);
		return;
	}
	if (p.kind == TREE_SNAPSHOTS) {
		fs_local_begin(fs);
		res = fs_snapshot_rename(fs, name, newname);
		fs_local_end(fs);
	} else if (p.kind == TREE_SNAPSHOT && !fs_in(fs_snapshot_files, name) &&
		   strcmp(name, "connection_uri") != 0) {
		res = fs_attachment_rename(fs, p.obj, name, newname);
		if (!res) {
			tree_rename(fs->tree, TREE_ATTACHMENT, p.obj, name, newname);
			fs_attachments_changed(fs, p.obj);
		}
	} else {
		res = -EPERM;
	}
	if (res) {
		fs_fail(req, -res, "rename %s to %s", name, newname);
		return;
	}
	fuse_reply_err(req, 0);
}

/* GNU tail (and busybox's) reads a file to its end before it follows it, and follows by
 * polling size and mtime; a read that waits for the next event would keep it from ever
 * printing. So tail gets what a growing log gives: end of file once caught up. Every
 * other reader's read waits for the next line. */
static bool fs_opener_is_tail(fuse_req_t req)
{
	const struct fuse_ctx *ctx = fuse_req_ctx(req);
	char path[64], comm[32] = "";
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/comm", (int)ctx->pid);
	f = fopen(path, "r");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = '\0';
	fclose(f);
	comm[strcspn(comm, "\n")] = '\0';
	return strcmp(comm, "tail") == 0;
}

/* Files whose bytes come from the database itself and change without the API knowing. */
static bool fs_live_file(const struct tree_node *n)
{
	return (n->kind == TREE_ACTIVE_FILE || n->kind == TREE_BRANCH_FILE) &&
	       (strcmp(n->file, "schema") == 0 || strcmp(n->file, "meta.json") == 0);
}

static void fs_file_free(struct fs *fs, struct fs_file *f)
{
	if (!f)
		return;
	if (f->reader)
		events_close(fs->events, f->reader);
	free(f->buf);
	free(f);
}

static void fs_op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f;
	struct tree_node n;
	int accmode = fi->flags & O_ACCMODE;
	char msg[512] = "";
	int res;

	res = tree_get(fs->tree, ino, &n);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	f = calloc(1, sizeof(*f));
	if (!f) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (n.kind == TREE_EVENTS) {
		if (accmode != O_RDONLY) {
			res = -EACCES;
			goto fail;
		}
		f->reader = events_open(fs->events);
		f->log_reader = fs_opener_is_tail(req);
		fi->direct_io = 1;
		fi->nonseekable = 1;
		goto done;
	}
	if (n.kind == TREE_ATTACHMENT) {
		struct meta_attachment info;

		f->attachment = true;
		snprintf(f->snapshot_id, sizeof(f->snapshot_id), "%s", n.obj);
		snprintf(f->name, sizeof(f->name), "%s", n.file);
		if (fi->flags & O_TRUNC) {
			f->dirty = true;
		} else {
			res = meta_attachment_get(fs->meta, n.obj, n.file, &f->buf, &f->len, &info,
						  msg, sizeof(msg));
			if (res)
				goto fail;
			f->cap = f->len;
		}
		goto done;
	}
	if (n.kind == TREE_ACTIVE_FILE && strcmp(n.file, "restore") == 0) {
		/* The status changes under a reader; no page cache, no size promises. */
		fi->direct_io = 1;
		if (accmode != O_RDONLY && restore_running(fs->restore)) {
			/* The kernel serializes writes to one file; say it here, not later. */
			snprintf(msg, sizeof(msg), "a restore from this mount is running");
			res = -EBUSY;
			goto fail;
		}
		f->restore_writer = accmode != O_RDONLY;
		if (accmode == O_RDONLY) {
			f->buf = restore_status(fs->restore);
			f->len = f->buf ? strlen(f->buf) : 0;
		}
		goto done;
	}
	if (accmode != O_RDONLY) {
		res = -EACCES;
		goto fail;
	}
	if (fs_live_file(&n)) {
		char key[64];

		/* Read through libpq: what the database holds now, not at the last stat. The
		 * fresh text is cached, so a stat after the read agrees with it. */
		snprintf(key, sizeof(key), "file:%llu", (unsigned long long)n.ino);
		cache_invalidate(fs->cache, key);
		fi->direct_io = 1;
	}
	res = fs_text(fs, &n, &f->buf, &f->len);
	if (res)
		goto fail;
done:
	fi->fh = (uint64_t)(uintptr_t)f;
	fuse_reply_open(req, fi);
	return;
fail:
	fs_file_free(fs, f);
	fs_fail(req, -res, "open %s%s%s", n.file[0] ? n.file : "file", msg[0] ? ": " : "", msg);
}

static void fs_op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

	(void)ino;
	if (f->reader) {
		events_read(fs->events, f->reader, req, size, fi->flags & O_NONBLOCK, f->log_reader);
		return;
	}
	if (off < 0 || (size_t)off >= f->len) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > f->len - (size_t)off)
		size = f->len - (size_t)off;
	fuse_reply_buf(req, f->buf + off, size);
}

/* echo <snapshot> > active/restore */
static int fs_restore_write(struct fs *fs, const char *buf, size_t size)
{
	struct json_object *snap = NULL, *branch = NULL;
	struct restore_request rr = { 0 };
	char value[NAMES_MAX + 1], new_id[64], *uri = NULL;
	int res;

	res = names_parse_line(buf, size, value, sizeof(value));
	if (res) {
		log_err("restore: write one snapshot name or id on one line (got %zu bytes)", size);
		return res;
	}
	if (restore_running(fs->restore)) {
		log_err("restore: another restore from this mount is running");
		return -EBUSY;
	}
	fs_changed(fs, FS_KEY_SNAPSHOTS);
	res = fs_get(fs, FS_KEY_SNAPSHOTS, "id", value, &snap);
	if (res == -ENOENT)
		res = fs_get(fs, FS_KEY_SNAPSHOTS, "name", value, &snap);
	if (res) {
		log_err("restore: no snapshot named %s", value);
		return res;
	}
	fs_changed(fs, FS_KEY_BRANCHES);
	res = fs_active(fs, &branch);
	if (res) {
		log_err("restore: the active branch %s was not found", fs->active_name);
		goto out;
	}
	res = fs_uri(fs, fs_str(branch, "id"), &uri);
	if (res)
		goto out;
	rr.snapshot_id = fs_str(snap, "id");
	rr.snapshot_name = fs_str(snap, "name");
	rr.branch_name = fs->active_name;
	rr.branch_id = fs_str(branch, "id");
	rr.verify_uri = uri;
	rr.timeout_s = fs->cfg.op_timeout;
	rr.clean_old = fs->cfg.clean_old_branches;
	fs_emit(fs, "restore.started", true, "snapshot_id", rr.snapshot_id,
		"snapshot_name", rr.snapshot_name, "branch_id", rr.branch_id, NULL);
	fs_local_begin(fs);
	res = restore_run(fs->restore, &rr, new_id, sizeof(new_id));
	fs_forget_files(fs);
	fs_seen_refresh(fs);
	fs_local_end(fs);
	fs_emit(fs, res ? "restore.failed" : "restore.finished", true,
		"snapshot_id", rr.snapshot_id, "snapshot_name", rr.snapshot_name,
		"branch_id_before", rr.branch_id, "branch_id", res ? NULL : new_id, NULL);
	/* The same URI now reaches another branch: the old branch's entry changes too. */
	{
		char key[128];

		snprintf(key, sizeof(key), "uri:%s", rr.branch_id);
		cache_invalidate(fs->cache, key);
	}
out:
	free(uri);
	json_object_put(snap);
	json_object_put(branch);
	return res;
}

static void fs_op_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
			off_t off, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	struct tree_node n;
	int res;

	res = tree_get(fs->tree, ino, &n);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	if (n.kind == TREE_ACTIVE_FILE && strcmp(n.file, "restore") == 0) {
		f->wrote = true;
		res = fs_restore_write(fs, buf, size);
		if (res) {
			fs_fail(req, -res, "restore failed; cat active/restore says why");
			return;
		}
		fuse_reply_write(req, size);
		return;
	}
	if (!f->attachment) {
		fs_fail(req, EACCES, "write %s: read-only file", n.file);
		return;
	}
	if (off < 0 || (size_t)off + size > fs->cfg.attachment_max) {
		fs_fail(req, EFBIG, "write %s: attachments are limited to %zu bytes "
			"(-o attachment_max=)", n.file, fs->cfg.attachment_max);
		return;
	}
	if ((size_t)off + size > f->cap) {
		size_t cap = f->cap ? f->cap : 4096;
		char *nb;

		while (cap < (size_t)off + size)
			cap *= 2;
		nb = realloc(f->buf, cap);
		if (!nb) {
			fuse_reply_err(req, ENOMEM);
			return;
		}
		f->buf = nb;
		f->cap = cap;
	}
	if ((size_t)off > f->len)
		memset(f->buf + f->len, 0, (size_t)off - f->len);
	memcpy(f->buf + off, buf, size);
	if ((size_t)off + size > f->len)
		f->len = (size_t)off + size;
	f->dirty = true;
	fuse_reply_write(req, size);
}

/* Attachments are stored on flush, so close(2) reports a failure to store them. */
static int fs_attachment_store(struct fs *fs, struct fs_file *f)
{
	char msg[512] = "";
	int res;

	if (!f->attachment || !f->dirty)
		return 0;
	res = meta_attachment_put(fs->meta, f->snapshot_id, f->name, f->buf ? f->buf : "", f->len,
				  msg, sizeof(msg));
	if (res) {
		log_err("attachment %s of snapshot %s not stored: %s", f->name, f->snapshot_id, msg);
		return res;
	}
	fs_attachments_changed(fs, f->snapshot_id);
	f->dirty = false;
	return 0;
}

static void fs_op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;
	int res;

	(void)ino;
	if (f->restore_writer && !f->wrote) {
		/* `: > active/restore` never writes, and close is the only place left to say the
		 * input was empty. A shell's `echo x > restore` also closes its first descriptor
		 * before writing through a dup of it, and ignores that close's errno: so this
		 * is not worth an error line, which would show on every restore. */
		log_debug("restore: closed with nothing written (empty input)");
		fuse_reply_err(req, EINVAL);
		return;
	}
	res = fs_attachment_store(fs, f);
	fuse_reply_err(req, -res);
}

static void fs_op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	fs_op_flush(req, ino, fi);
}

static void fs_op_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

	(void)ino;
	fs_attachment_store(fs, f);
	fs_file_free(fs, f);
	fuse_reply_err(req, 0);
}

static void fs_op_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			 struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct fuse_entry_param e;
	struct fs_file *f = NULL;
	struct tree_node p, n;
	char msg[512] = "";
	uint64_t ino;
	int res;

	(void)mode;
	res = tree_get(fs->tree, parent, &p);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	if (p.kind != TREE_SNAPSHOT) {
		fs_fail(req, p.kind == TREE_ACTIVE || p.kind == TREE_BRANCH ? EACCES : EPERM,
			"create %s: files can only be added to a snapshot's directory", name);
		return;
	}
	if (fs_in(fs_snapshot_files, name) || strcmp(name, "connection_uri") == 0) {
		fs_fail(req, EACCES, "create %s: that name belongs to the snapshot", name);
		return;
	}
	if (!fs->meta) {
		fs_fail(req, ENOTSUP, "create %s: attachments need a meta database "
			"(-o meta_url= or NEONFS_META_URL)", name);
		return;
	}
	/* An empty attachment right away, so the listing shows what was created. */
	res = meta_attachment_put(fs->meta, p.obj, name, "", 0, msg, sizeof(msg));
	if (res) {
		fs_fail(req, -res, "create %s: %s", name, msg);
		return;
	}
	fs_attachments_changed(fs, p.obj);
	ino = tree_intern(fs->tree, TREE_ATTACHMENT, p.obj, name);
	f = calloc(1, sizeof(*f));
	if (!ino || !f || tree_get(fs->tree, ino, &n)) {
		free(f);
		fuse_reply_err(req, ENOMEM);
		return;
	}
	f->attachment = true;
	snprintf(f->snapshot_id, sizeof(f->snapshot_id), "%s", p.obj);
	snprintf(f->name, sizeof(f->name), "%s", name);
	memset(&e, 0, sizeof(e));
	fs_fill(fs, &e.attr, ino, S_IFREG | 0644, time(NULL));
	e.ino = ino;
	e.attr_timeout = fs->cfg.attr_timeout;
	e.entry_timeout = fs->cfg.attr_timeout;
	fi->fh = (uint64_t)(uintptr_t)f;
	if (fuse_reply_create(req, &e, fi) != 0)
		fs_file_free(fs, f);
}

static void fs_op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			  struct fuse_file_info *fi)
{
	struct fs *fs = fs_of(req);
	struct tree_node n;
	struct stat st;
	char msg[512] = "";
	int res;

	res = tree_get(fs->tree, ino, &n);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		fs_fail(req, EPERM, "chmod/chown %s: modes and owners are fixed", n.file);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (n.kind == TREE_ACTIVE_FILE && strcmp(n.file, "restore") == 0) {
			/* echo > restore truncates first; nothing to do. */
		} else if (n.kind == TREE_ATTACHMENT) {
			struct fs_file *f = fi ? (struct fs_file *)(uintptr_t)fi->fh : NULL;

			if ((size_t)attr->st_size > fs->cfg.attachment_max) {
				fs_fail(req, EFBIG, "truncate %s: over the attachment limit", n.file);
				return;
			}
			if (f && f->attachment) {
				if ((size_t)attr->st_size > f->cap) {
					char *nb = realloc(f->buf, (size_t)attr->st_size);

					if (!nb) {
						fuse_reply_err(req, ENOMEM);
						return;
					}
					f->buf = nb;
					f->cap = (size_t)attr->st_size;
				}
				if ((size_t)attr->st_size > f->len)
					memset(f->buf + f->len, 0, (size_t)attr->st_size - f->len);
				f->len = (size_t)attr->st_size;
				f->dirty = true;
				res = fs_attachment_store(fs, f);
			} else {
				char *data = NULL;
				size_t len = 0;
				struct meta_attachment info;

				res = meta_attachment_get(fs->meta, n.obj, n.file, &data, &len, &info,
							  msg, sizeof(msg));
				if (!res && (size_t)attr->st_size != len) {
					char *nd = realloc(data, (size_t)attr->st_size + 1);

					if (nd) {
						if ((size_t)attr->st_size > len)
							memset(nd + len, 0, (size_t)attr->st_size - len);
						data = nd;
						res = meta_attachment_put(fs->meta, n.obj, n.file, data,
									  (size_t)attr->st_size, msg,
									  sizeof(msg));
						if (!res)
							fs_attachments_changed(fs, n.obj);
					} else {
						res = -ENOMEM;
					}
				}
				free(data);
			}
			if (res) {
				fs_fail(req, -res, "truncate %s: %s", n.file, msg);
				return;
			}
		} else {
			fs_fail(req, EACCES, "truncate %s: read-only file", n.file);
			return;
		}
	}
	res = fs_stat(fs, &n, &st);
	if (res) {
		fuse_reply_err(req, -res);
		return;
	}
	if (n.kind == TREE_ATTACHMENT && fi && (to_set & FUSE_SET_ATTR_SIZE))
		st.st_size = attr->st_size;
	fuse_reply_attr(req, &st, fs->cfg.attr_timeout);
}

static void fs_op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = 1UL << 28;
	sv.f_bfree = 1UL << 27;
	sv.f_bavail = 1UL << 27;
	sv.f_files = 1UL << 20;
	sv.f_ffree = 1UL << 19;
	sv.f_favail = 1UL << 19;
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void fs_op_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		       struct fuse_pollhandle *ph)
{
	struct fs *fs = fs_of(req);
	struct fs_file *f = (struct fs_file *)(uintptr_t)fi->fh;

	(void)ino;
	if (!f->reader) {
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLOUT);
		return;
	}
	fuse_reply_poll(req, events_poll(fs->events, f->reader, ph));
}

static const struct fuse_lowlevel_ops fs_oper = {
	.init		= fs_op_init,
	.lookup		= fs_op_lookup,
	.getattr	= fs_op_getattr,
	.setattr	= fs_op_setattr,
	.readlink	= fs_op_readlink,
	.mkdir		= fs_op_mkdir,
	.unlink		= fs_op_unlink,
	.rmdir		= fs_op_rmdir,
	.symlink	= fs_op_symlink,
	.rename		= fs_op_rename,
	.open		= fs_op_open,
	.read		= fs_op_read,
	.write		= fs_op_write,
	.flush		= fs_op_flush,
	.release	= fs_op_release,
	.fsync		= fs_op_fsync,
	.opendir	= fs_op_opendir,
	.readdir	= fs_op_readdir,
	.releasedir	= fs_op_releasedir,
	.statfs		= fs_op_statfs,
	.create		= fs_op_create,
	.poll		= fs_op_poll,
};

const struct fuse_lowlevel_ops *fs_lowlevel_ops(void)
{
	return &fs_oper;
}

/* ---- life cycle ---- */

/* Picks the database and role the mount's files speak for. */
static int fs_pick_database(struct fs *fs, const char *branch_id, char *msg, size_t msglen)
{
	struct json_object *dbs = NULL, *roles = NULL, *db = NULL;
	struct api_error err = { 0 };
	int res;

	res = api_list_databases(fs->api, branch_id, &dbs, &err);
	if (res) {
		snprintf(msg, msglen, "databases of branch %s: %s", fs->active_name, err.message);
		return res;
	}
	if (fs->cfg.database) {
		db = fs_find(dbs, "name", fs->cfg.database);
		if (!db) {
			snprintf(msg, msglen, "branch %s has no database %s", fs->active_name,
				 fs->cfg.database);
			res = -ENOENT;
			goto out;
		}
	} else if (json_object_array_length(dbs) > 0) {
		db = json_object_array_get_idx(dbs, 0);
	} else {
		snprintf(msg, msglen, "branch %s has no database", fs->active_name);
		res = -ENOENT;
		goto out;
	}
	snprintf(fs->database, sizeof(fs->database), "%s", fs_str(db, "name"));
	if (fs->cfg.role) {
		res = api_list_roles(fs->api, branch_id, &roles, &err);
		if (res) {
			snprintf(msg, msglen, "roles of branch %s: %s", fs->active_name, err.message);
			goto out;
		}
		if (!fs_find(roles, "name", fs->cfg.role)) {
			snprintf(msg, msglen, "branch %s has no role %s", fs->active_name,
				 fs->cfg.role);
			res = -ENOENT;
			goto out;
		}
		snprintf(fs->role, sizeof(fs->role), "%s", fs->cfg.role);
	} else {
		snprintf(fs->role, sizeof(fs->role), "%s", fs_str(db, "owner_name"));
	}
out:
	json_object_put(dbs);
	json_object_put(roles);
	return res;
}

struct fs *fs_new(const struct fs_config *cfg, struct api *api, struct meta *meta,
		  char *msg, size_t msglen)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	struct json_object *branches = NULL, *b = NULL;
	int res;

	if (!fs) {
		snprintf(msg, msglen, "out of memory");
		return NULL;
	}
	fs->cfg = *cfg;
	fs->api = api;
	fs->meta = meta;
	fs->uid = getuid();
	fs->gid = getgid();
	fs->mounted = time(NULL);
	pthread_mutex_init(&fs->watch_lock, NULL);
	pthread_cond_init(&fs->watch_cond, NULL);
	fs->seen_snapshots = json_object_new_object();
	fs->seen_branches = json_object_new_object();
	fs->cache = cache_new(cfg->cache_ttl);
	fs->tree = tree_new();
	fs->pool = pg_pool_new(cfg->pg_timeout, cfg->pg_timeout);
	fs->events = events_new(1024);
	fs->restore = restore_new(api, fs->pool, meta);
	if (!fs->cache || !fs->tree || !fs->pool || !fs->events || !fs->restore) {
		snprintf(msg, msglen, "out of memory");
		goto fail;
	}
	res = fs_listing(fs, FS_KEY_BRANCHES, &branches);
	if (res) {
		snprintf(msg, msglen, "cannot list the project's branches: %s "
			 "(check NEON_API_KEY, the project id and NEON_API_HOST)", strerror(-res));
		goto fail;
	}
	b = cfg->branch ? fs_find(branches, "name", cfg->branch) : NULL;
	if (!cfg->branch) {
		size_t i, n = json_object_array_length(branches);

		for (i = 0; i < n && !b; i++)
			if (fs_bool(json_object_array_get_idx(branches, i), "default"))
				b = json_object_array_get_idx(branches, i);
	}
	if (!b) {
		snprintf(msg, msglen, cfg->branch ? "the project has no branch named %s" :
			 "the project has no default branch%s", cfg->branch ? cfg->branch : "");
		goto fail;
	}
	snprintf(fs->active_name, sizeof(fs->active_name), "%s", fs_str(b, "name"));
	if (fs_pick_database(fs, fs_str(b, "id"), msg, msglen))
		goto fail;
	log_info("active branch %s (%s), database %s, role %s", fs->active_name, fs_str(b, "id"),
		 fs->database, fs->role);
	json_object_put(branches);
	return fs;
fail:
	json_object_put(branches);
	fs_free(fs);
	return NULL;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	fs_stop(fs);
	restore_free(fs->restore);
	events_free(fs->events);
	pg_pool_free(fs->pool);
	tree_free(fs->tree);
	cache_free(fs->cache);
	json_object_put(fs->seen_snapshots);
	json_object_put(fs->seen_branches);
	pthread_cond_destroy(&fs->watch_cond);
	pthread_mutex_destroy(&fs->watch_lock);
	free(fs);
}

/* ---- changes made elsewhere ---- */

/* Replaces a seen map with what @arr holds. Caller holds watch_lock. */
static void fs_seen_reset(struct json_object **seen, struct json_object *arr)
{
	size_t i, n = arr ? json_object_array_length(arr) : 0;

	json_object_put(*seen);
	*seen = json_object_new_object();
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);

		if (fs_str(o, "id") && fs_str(o, "name"))
			json_object_object_add(*seen, fs_str(o, "id"),
					       json_object_new_string(fs_str(o, "name")));
	}
}

/* Kernel notifications found by a diff. They are sent after the watcher lets go of its
 * lock: a notification waits for the directory's lock, which a handler may hold while it
 * waits for the watcher's. */
struct fs_note {
	bool gone;
	uint64_t parent;
	uint64_t child;
	char name[256];
};

struct fs_notes {
	struct fs_note *v;
	size_t n, cap;
};

static void fs_note(struct fs_notes *notes, bool gone, uint64_t parent, uint64_t child,
		    const char *name)
{
	if (notes->n == notes->cap) {
		size_t cap = notes->cap ? notes->cap * 2 : 16;
		struct fs_note *v = realloc(notes->v, cap * sizeof(*v));

		if (!v)
			return;
		notes->v = v;
		notes->cap = cap;
	}
	notes->v[notes->n].gone = gone;
	notes->v[notes->n].parent = parent;
	notes->v[notes->n].child = child;
	snprintf(notes->v[notes->n].name, sizeof(notes->v[notes->n].name), "%s", name);
	notes->n++;
}

/* Tells the kernel an entry is gone (notify_delete): its dentry goes, and a watch on the
 * directory itself gets IN_DELETE_SELF (the parent's watch gets no IN_DELETE since 5.3). */
static void fs_notify_gone(struct fs *fs, uint64_t parent, uint64_t child, const char *name)
{
	int res;

	if (!fs->se)
		return;
	res = fuse_lowlevel_notify_delete(fs->se, parent, child, name, strlen(name));
	if (res == -ENOENT || res == -ENOTDIR)
		res = fuse_lowlevel_notify_inval_entry(fs->se, parent, name, strlen(name));
	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify delete %s: %s", name, strerror(-res));
}

static void fs_notify_entry(struct fs *fs, uint64_t parent, const char *name)
{
	int res;

	if (!fs->se)
		return;
	res = fuse_lowlevel_notify_inval_entry(fs->se, parent, name, strlen(name));
	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify entry %s: %s", name, strerror(-res));
}

static void fs_notify_inode(struct fs *fs, uint64_t ino)
{
	int res;

	if (!fs->se)
		return;
	res = fuse_lowlevel_notify_inval_inode(fs->se, ino, 0, 0);
	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify inode %lu: %s", (unsigned long)ino, strerror(-res));
}

/* Did @branch just replace another by a finalized restore? It took the name that the
 * branch it replaced had. (A branch restored long ago keeps its restored_* fields; those
 * alone say nothing about now.) Caller holds watch_lock. */
static bool fs_took_over(struct fs *fs, struct json_object *branch)
{
	const char *status = fs_str(branch, "restore_status"), *replaced = fs_str(branch, "restored_as");
	struct json_object *was = NULL;

	if (!status || strcmp(status, "finalized") != 0 || !replaced || !fs_str(branch, "name"))
		return false;
	return json_object_object_get_ex(fs->seen_branches, replaced, &was) &&
	       strcmp(json_object_get_string(was), fs_str(branch, "name")) == 0;
}

/* A finalized restore made elsewhere, seen through its new branch. Caller holds
 * watch_lock, so the seen snapshots give the snapshot's name. */
static void fs_emit_restored(struct fs *fs, struct json_object *branch)
{
	const char *snap_id = fs_str(branch, "restored_from");
	struct json_object *name = NULL;

	if (snap_id)
		json_object_object_get_ex(fs->seen_snapshots, snap_id, &name);
	fs_emit(fs, "restore.finished", false, "snapshot_id", snap_id,
		"snapshot_name", name ? json_object_get_string(name) : NULL,
		"branch_id", fs_str(branch, "id"), "branch_id_before", fs_str(branch, "restored_as"),
		"name", fs_str(branch, "name"), NULL);
}

/* Compares @fresh with the seen map of one kind of object; emits events and kernel
 * notifications for what changed elsewhere. Returns the number of changes. */
static int fs_diff(struct fs *fs, bool snapshots, struct json_object *fresh,
		   struct json_object *seen, struct fs_notes *notes)
{
	const char *what = snapshots ? "snapshot" : "branch";
	uint64_t dir = snapshots ? TREE_INO_SNAPSHOTS : TREE_INO_BRANCHES;
	enum tree_kind kind = snapshots ? TREE_SNAPSHOT : TREE_BRANCH;
	char kind_created[32], kind_deleted[32], kind_renamed[32];
	size_t i, n = json_object_array_length(fresh);
	struct json_object *fresh_ids = json_object_new_object();
	int changes = 0;

	snprintf(kind_created, sizeof(kind_created), "%s.created", what);
	snprintf(kind_deleted, sizeof(kind_deleted), "%s.deleted", what);
	snprintf(kind_renamed, sizeof(kind_renamed), "%s.renamed", what);
	for (i = 0; i < n; i++) {
		struct json_object *o = json_object_array_get_idx(fresh, i), *was;
		const char *id = fs_str(o, "id"), *name = fs_str(o, "name");

		if (!id || !name)
			continue;
		json_object_object_add(fresh_ids, id, NULL);
		if (!json_object_object_get_ex(seen, id, &was)) {
			changes++;
			if (!snapshots && fs_took_over(fs, o)) {
				fs_emit_restored(fs, o);
			} else {
				fs_emit(fs, kind_created, false, "id", id, "name", name, NULL);
			}
			fs_note(notes, false, dir, 0, names_entry(name, id));
		} else if (strcmp(json_object_get_string(was), name) != 0) {
			char old[NAMES_MAX + 1];

			changes++;
			snprintf(old, sizeof(old), "%s", json_object_get_string(was));
			if (!snapshots && fs_took_over(fs, o)) {
				/* A restore made elsewhere: its branch took the target's name. */
				fs_emit_restored(fs, o);
			}
			fs_emit(fs, kind_renamed, false, "id", id, "name", name, "old_name", old, NULL);
			/* Not notify_delete: the inode lives on under its new name, and the kernel
			 * would mark it dead. */
			fs_note(notes, false, dir, 0, names_entry(old, id));
			fs_note(notes, false, dir, 0, names_entry(name, id));
		}
	}
	{
		json_object_object_foreach(seen, id, name) {
			if (json_object_object_get_ex(fresh_ids, id, NULL))
				continue;
			changes++;
			fs_emit(fs, kind_deleted, false, "id", id, "name", json_object_get_string(name),
				NULL);
			fs_note(notes, true, dir, tree_intern(fs->tree, kind, id, ""),
				names_entry(json_object_get_string(name), id));
		}
	}
	json_object_put(fresh_ids);
	return changes;
}

/* One look at the project. Returns how many changes made elsewhere it found. */
static int fs_poll_once(struct fs *fs)
{
	struct json_object *snaps = NULL, *branches = NULL;
	struct api_error err = { 0 };
	struct fs_notes notes = { 0 };
	int changes = 0, i;
	size_t k;

	unsigned long gen;
	bool busy;

	pthread_mutex_lock(&fs->watch_lock);
	gen = fs->local_gen;
	busy = fs->local_busy > 0;
	pthread_mutex_unlock(&fs->watch_lock);
	if (busy)
		goto out;
	if (api_list_snapshots(fs->api, &snaps, &err) ||
	    api_list_branches(fs->api, &branches, &err)) {
		log_debug("watch: %s", err.message);
		goto out;
	}
	pthread_mutex_lock(&fs->watch_lock);
	if (fs->local_busy > 0 || fs->local_gen != gen) {
		/* A change through the mount overlapped this look: look again next round. */
		pthread_mutex_unlock(&fs->watch_lock);
		goto out;
	}
	if (!fs->seeded) {
		/* Nothing to compare with yet (the first listing failed): this is the start. */
		fs_seen_reset(&fs->seen_snapshots, snaps);
		fs_seen_reset(&fs->seen_branches, branches);
		fs->seeded = true;
		pthread_mutex_unlock(&fs->watch_lock);
		goto out;
	}
	changes = fs_diff(fs, true, snaps, fs->seen_snapshots, &notes);
	i = fs_diff(fs, false, branches, fs->seen_branches, &notes);
	changes += i;
	fs_seen_reset(&fs->seen_snapshots, snaps);
	fs_seen_reset(&fs->seen_branches, branches);
	pthread_mutex_unlock(&fs->watch_lock);
	for (k = 0; k < notes.n; k++) {
		if (notes.v[k].gone)
			fs_notify_gone(fs, notes.v[k].parent, notes.v[k].child, notes.v[k].name);
		else
			fs_notify_entry(fs, notes.v[k].parent, notes.v[k].name);
	}
	free(notes.v);
	if (changes) {
		/* Readers get fresh listings now, not when the cache window ends. */
		fs_forget_files(fs);
		if (i) {
			const char *const *f;

			/* A branch changed: active/ may now be another branch. */
			for (f = fs_active_files; *f; f++)
				fs_notify_inode(fs, tree_intern(fs->tree, TREE_ACTIVE_FILE, "", *f));
		}
		log_info("watch: %d change(s) made elsewhere", changes);
	}
out:
	json_object_put(snaps);
	json_object_put(branches);
	return changes;
}

/* Polls fast while things change, slower while they don't (between poll_min and
 * poll_max). Runs on its own thread: notifications must never come from a handler. */
static void *fs_watch(void *data)
{
	struct fs *fs = data;
	double interval = fs->cfg.poll_min;

	pthread_mutex_lock(&fs->watch_lock);
	while (!fs->stopping) {
		struct timespec until;
		double whole;

		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (long)(modf(interval, &whole) * 1e9);
		until.tv_sec += (time_t)whole + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!fs->stopping &&
		       pthread_cond_timedwait(&fs->watch_cond, &fs->watch_lock, &until) != ETIMEDOUT)
			;
		if (fs->stopping)
			break;
		pthread_mutex_unlock(&fs->watch_lock);
		if (fs_poll_once(fs) > 0)
			interval = fs->cfg.poll_min;
		else
			interval = interval * 2 > fs->cfg.poll_max ? fs->cfg.poll_max : interval * 2;
		pthread_mutex_lock(&fs->watch_lock);
	}
	pthread_mutex_unlock(&fs->watch_lock);
	return NULL;
}

/* After a restore from this mount the branches changed here; the watcher must not report
 * them again as made elsewhere. */
static void fs_seen_refresh(struct fs *fs)
{
	struct json_object *branches = NULL;
	struct api_error err = { 0 };

	if (api_list_branches(fs->api, &branches, &err) != 0)
		return;
	pthread_mutex_lock(&fs->watch_lock);
	fs_seen_reset(&fs->seen_branches, branches);
	pthread_mutex_unlock(&fs->watch_lock);
	json_object_put(branches);
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	struct json_object *snaps = NULL, *branches = NULL;
	int res;

	fs->se = se;
	if (fs_listing(fs, FS_KEY_SNAPSHOTS, &snaps) == 0 &&
	    fs_listing(fs, FS_KEY_BRANCHES, &branches) == 0) {
		pthread_mutex_lock(&fs->watch_lock);
		fs_seen_reset(&fs->seen_snapshots, snaps);
		fs_seen_reset(&fs->seen_branches, branches);
		fs->seeded = true;
		pthread_mutex_unlock(&fs->watch_lock);
	}
	json_object_put(snaps);
	json_object_put(branches);
	res = pthread_create(&fs->watcher, NULL, fs_watch, fs);
	if (res) {
		log_err("cannot start the watcher thread: %s", strerror(res));
		return -res;
	}
	fs->watching = true;
	return 0;
}

void fs_stop(struct fs *fs)
{
	if (fs->events)
		events_shutdown(fs->events);
	if (fs->watching) {
		pthread_mutex_lock(&fs->watch_lock);
		fs->stopping = true;
		pthread_cond_broadcast(&fs->watch_cond);
		pthread_mutex_unlock(&fs->watch_lock);
		pthread_join(fs->watcher, NULL);
		fs->watching = false;
	}
}
