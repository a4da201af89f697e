/* project: one Neon project as the tree sees it, its listings through the cache. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cache.h"
#include "log.h"
#include "neon.h"
#include "names.h"
#include "pg.h"
#include "project.h"
#include "quota.h"
#include "util.h"

#define KEY_SNAPSHOTS "snapshots"
#define KEY_BRANCHES  "branches"
#define KEY_ENDPOINTS "endpoints"
#define KEY_RECORDS   "records"

struct kept_schema {
	struct kept_schema *next;
	char snapshot_id[64];
	char *schema;
};

struct project {
	struct api *api;
	struct meta *meta;
	struct pg_pool *pool;
	struct cache *cache;
	struct quota *quota;
	char active_name[NAMES_MAX + 1];
	char database[128];
	char role[128];
	pthread_mutex_t kept_lock;
	struct kept_schema *kept;
	double used;             /* util_now() of the last request; read and written atomically */
};

/* What a fetch of a rendered file needs besides the key. */
struct project_render {
	struct project *p;
	project_render_fn render;
	void *data;
};

static void project_free_plain(struct shared *s)
{
	free(s);
}

static int project_fetch_list(struct project *p, enum model_kind kind, const char *what,
			      struct shared **val)
{
	struct api_error err = { 0 };
	struct model_list *l = NULL;
	int res = neon_list(p->api, kind, &l, &err);

	if (res) {
		log_err("listing %s: %s", what, err.message);
		return res;
	}
	*val = model_list_shared(l);
	return 0;
}

static int project_fetch_attachments(struct project *p, const char *snap_id, struct shared **val)
{
	struct meta_attachment *atts = NULL;
	struct project_attachments *out;
	size_t n = 0;
	char msg[512] = "";
	int res = p->meta ? meta_attachment_list(p->meta, snap_id, &atts, &n, msg, sizeof(msg)) : 0;

	if (res) {
		/* Never an empty list for a failure: cp -r would silently drop the files. */
		if (*snap_id)
			log_err("attachments of snapshot %s cannot be listed: %s", snap_id, msg);
		else
			log_err("active/next/ cannot be listed: %s", msg);
		return res;
	}
	out = malloc(sizeof(*out) + n * sizeof(out->items[0]));
	if (!out) {
		free(atts);
		return -ENOMEM;
	}
	shared_init(&out->base, project_free_plain);
	out->n = n;
	if (n)
		memcpy(out->items, atts, n * sizeof(out->items[0]));
	free(atts);
	*val = &out->base;
	return 0;
}

static int project_record_cmp(const void *a, const void *b)
{
	return strcmp(((const struct meta_record *)a)->snapshot_id,
		      ((const struct meta_record *)b)->snapshot_id);
}

static int project_fetch_records(struct project *p, struct shared **val)
{
	struct meta_record *recs = NULL;
	struct project_records *out;
	size_t n = 0;
	char msg[512] = "";
	int res = p->meta ? meta_checkpoint_list(p->meta, &recs, &n, msg, sizeof(msg)) : 0;

	if (res) {
		log_err("checkpoint records cannot be read: %s", msg);
		return res;
	}
	out = malloc(sizeof(*out) + n * sizeof(out->items[0]));
	if (!out) {
		free(recs);
		return -ENOMEM;
	}
	shared_init(&out->base, project_free_plain);
	out->n = n;
	if (n) {
		memcpy(out->items, recs, n * sizeof(out->items[0]));
		/* The database's collation need not be strcmp's; lookups bsearch with strcmp. */
		qsort(out->items, n, sizeof(out->items[0]), project_record_cmp);
	}
	free(recs);
	*val = &out->base;
	return 0;
}

static int project_fetch(void *data, const char *key, struct shared **val)
{
	struct project *p = data;
	struct api_error err = { 0 };

	if (strcmp(key, KEY_SNAPSHOTS) == 0)
		return project_fetch_list(p, MODEL_SNAPSHOTS, "snapshots", val);
	if (strcmp(key, KEY_BRANCHES) == 0)
		return project_fetch_list(p, MODEL_BRANCHES, "branches", val);
	if (strcmp(key, KEY_ENDPOINTS) == 0)
		return project_fetch_list(p, MODEL_ENDPOINTS, "endpoints", val);
	if (strcmp(key, KEY_RECORDS) == 0)
		return project_fetch_records(p, val);
	if (strncmp(key, "attachments:", 12) == 0)
		return project_fetch_attachments(p, key + 12, val);
	if (strncmp(key, "uri:", 4) == 0) {
		struct shared_text *t;
		char *uri = NULL;
		int res = api_connection_uri(p->api, key + 4, p->database, p->role, &uri, &err);

		if (res) {
			log_err("connection string of branch %s: %s", key + 4, err.message);
			return res;
		}
		t = shared_text_new(uri, strlen(uri));
		free(uri);
		if (!t)
			return -ENOMEM;
		*val = &t->base;
		return 0;
	}
	return -ENOENT;
}

static int project_fetch_text(void *data, const char *key, struct shared **val)
{
	struct project_render *r = data;
	struct shared_text *t;
	char *text = NULL;
	int res;

	(void)key;
	res = r->render(r->data, &text);
	if (res)
		return res;
	t = shared_text_new(text, strlen(text));
	free(text);
	if (!t)
		return -ENOMEM;
	*val = &t->base;
	return 0;
}

static int project_list(struct project *p, const char *key, struct model_list **out)
{
	struct shared *s = NULL;
	int res = cache_get(p->cache, key, project_fetch, p, &s);

	*out = res ? NULL : model_list_of(s);
	return res;
}

int project_snapshots(struct project *p, struct model_list **out)
{
	return project_list(p, KEY_SNAPSHOTS, out);
}

void project_keep_snapshots(struct project *p, struct model_list *l)
{
	cache_store(p->cache, KEY_SNAPSHOTS, model_list_shared(l));
}

int project_branches(struct project *p, struct model_list **out)
{
	return project_list(p, KEY_BRANCHES, out);
}

int project_endpoints(struct project *p, struct model_list **out)
{
	return project_list(p, KEY_ENDPOINTS, out);
}

int project_active(struct project *p, struct model_list **list, const struct neon_branch **b)
{
	int res = project_branches(p, list);

	if (res)
		return res;
	*b = model_branch_by_name(*list, p->active_name);
	if (*b)
		return 0;
	log_err("the active branch %s is not in the project's branches", p->active_name);
	model_list_put(*list);
	*list = NULL;
	return -ENOENT;
}

int project_active_id(struct project *p, char *id, size_t len)
{
	const struct neon_branch *b;
	struct model_list *l = NULL;
	int res;

	cache_invalidate(p->cache, KEY_BRANCHES);
	res = project_active(p, &l, &b);
	if (res == 0)
		snprintf(id, len, "%s", b->id);
	model_list_put(l);
	return res;
}

int project_has_compute(struct project *p, const char *branch_id)
{
	struct model_list *eps = NULL;
	int res = project_endpoints(p, &eps);

	if (res)
		return res;
	res = model_endpoint_rw(eps, branch_id) != NULL;
	model_list_put(eps);
	return res;
}

int project_uri(struct project *p, const char *branch_id, char **uri)
{
	struct shared *s = NULL;
	char key[128];
	int res;

	snprintf(key, sizeof(key), "uri:%s", branch_id);
	res = cache_get(p->cache, key, project_fetch, p, &s);
	if (res)
		return res;
	*uri = strdup(((struct shared_text *)s)->text);
	shared_put(s);
	return *uri ? 0 : -ENOMEM;
}

int project_attachments(struct project *p, const char *snapshot_id,
			struct project_attachments **out)
{
	struct shared *s = NULL;
	char key[96];
	int res;

	snprintf(key, sizeof(key), "attachments:%s", snapshot_id);
	res = cache_get(p->cache, key, project_fetch, p, &s);
	*out = res ? NULL : (struct project_attachments *)s;
	return res;
}

int project_attachment(struct project *p, const char *snapshot_id, const char *name,
		       struct meta_attachment *out)
{
	struct project_attachments *atts = NULL;
	size_t i;
	int res = project_attachments(p, snapshot_id, &atts);

	if (res)
		return res;
	res = -ENOENT;
	for (i = 0; i < atts->n; i++) {
		if (strcmp(atts->items[i].name, name) == 0) {
			*out = atts->items[i];
			res = 0;
			break;
		}
	}
	shared_put(&atts->base);
	return res;
}

int project_records(struct project *p, struct project_records **out)
{
	struct shared *s = NULL;
	int res = cache_get(p->cache, KEY_RECORDS, project_fetch, p, &s);

	*out = res ? NULL : (struct project_records *)s;
	return res;
}

const struct meta_record *project_record(const struct project_records *r, const char *snapshot_id)
{
	struct meta_record key;

	snprintf(key.snapshot_id, sizeof(key.snapshot_id), "%s", snapshot_id);
	return bsearch(&key, r->items, r->n, sizeof(r->items[0]), project_record_cmp);
}

int project_text(struct project *p, const char *key, project_render_fn render, void *data,
		 struct shared_text **out)
{
	struct project_render r = { p, render, data };
	struct shared *s = NULL;
	int res = cache_get(p->cache, key, project_fetch_text, &r, &s);

	*out = res ? NULL : (struct shared_text *)s;
	return res;
}

void project_text_forget(struct project *p, const char *key)
{
	cache_invalidate(p->cache, key);
}

void project_forget(struct project *p, unsigned what)
{
	if (what & PROJECT_SNAPSHOTS)
		cache_invalidate(p->cache, KEY_SNAPSHOTS);
	if (what & PROJECT_BRANCHES)
		cache_invalidate(p->cache, KEY_BRANCHES);
	if (what & PROJECT_ENDPOINTS)
		cache_invalidate(p->cache, KEY_ENDPOINTS);
	if (what & PROJECT_RECORDS)
		cache_invalidate(p->cache, KEY_RECORDS);
	/* A rendered meta.json shows names, records and attachments: any change drops them. */
	if (what)
		cache_invalidate_prefix(p->cache, "file:");
}

void project_forget_attachments(struct project *p, const char *snapshot_id)
{
	char key[96];

	snprintf(key, sizeof(key), "attachments:%s", snapshot_id);
	cache_invalidate(p->cache, key);
	project_forget(p, PROJECT_RECORDS);
}

void project_patch(struct project *p, bool snapshot, const char *id, const char *json,
		   const char *name)
{
	const char *key = snapshot ? KEY_SNAPSHOTS : KEY_BRANCHES;
	struct shared *old = cache_peek(p->cache, key);
	struct model_list *patched = old ? model_list_patch(model_list_of(old), id, json, name) :
					   NULL;

	if (!patched || cache_replace(p->cache, key, old, model_list_shared(patched)) != 0)
		cache_invalidate(p->cache, key);
	model_list_put(patched);
	shared_put(old);
	cache_invalidate_prefix(p->cache, "file:");
}

int project_record_delete(struct project *p, const char *snapshot_id, char *msg, size_t msglen)
{
	int res = p->meta ? meta_checkpoint_delete(p->meta, snapshot_id, msg, msglen) : 0;

	project_drop_kept_schema(p, snapshot_id);
	project_forget_attachments(p, snapshot_id);
	return res == -ENOENT ? 0 : res;
}

void project_forget_uri(struct project *p, const char *branch_id)
{
	struct shared *s;
	char key[128];

	snprintf(key, sizeof(key), "uri:%s", branch_id);
	/* Its connections go too: they would reach what the URI no longer means, or a
	 * compute that is gone, and hold a descriptor each. */
	s = cache_peek(p->cache, key);
	if (s)
		pg_forget(p->pool, ((struct shared_text *)s)->text);
	shared_put(s);
	cache_invalidate(p->cache, key);
}

void project_touch(struct project *p)
{
	double now = util_now();

	__atomic_store(&p->used, &now, __ATOMIC_RELAXED);
}

double project_idle_for(struct project *p)
{
	double used;

	__atomic_load(&p->used, &used, __ATOMIC_RELAXED);
	return util_now() - used;
}

void project_trim(struct project *p)
{
	size_t closed;

	cache_trim(p->cache);
	closed = pg_close_idle(p->pool);
	if (closed)
		log_debug("closed %zu idle database connection(s), so their computes can suspend",
			  closed);
}

void project_keep_schema(struct project *p, const char *snapshot_id, const char *schema)
{
	struct kept_schema *k = calloc(1, sizeof(*k));

	if (!k || !(k->schema = strdup(schema))) {
		free(k);
		log_warn("schema of snapshot %s is lost: out of memory", snapshot_id);
		return;
	}
	snprintf(k->snapshot_id, sizeof(k->snapshot_id), "%s", snapshot_id);
	project_drop_kept_schema(p, snapshot_id);
	pthread_mutex_lock(&p->kept_lock);
	k->next = p->kept;
	p->kept = k;
	pthread_mutex_unlock(&p->kept_lock);
}

char *project_kept_schema(struct project *p, const char *snapshot_id)
{
	struct kept_schema *k;
	char *out = NULL;

	pthread_mutex_lock(&p->kept_lock);
	for (k = p->kept; k; k = k->next)
		if (strcmp(k->snapshot_id, snapshot_id) == 0) {
			out = strdup(k->schema);
			break;
		}
	pthread_mutex_unlock(&p->kept_lock);
	return out;
}

void project_drop_kept_schema(struct project *p, const char *snapshot_id)
{
	struct kept_schema **pp, *k;

	pthread_mutex_lock(&p->kept_lock);
	for (pp = &p->kept; (k = *pp) != NULL; pp = &k->next) {
		if (strcmp(k->snapshot_id, snapshot_id) == 0) {
			*pp = k->next;
			free(k->schema);
			free(k);
			break;
		}
	}
	pthread_mutex_unlock(&p->kept_lock);
}

struct api *project_api(struct project *p)
{
	return p->api;
}

struct quota *project_quota(struct project *p)
{
	return p->quota;
}

struct meta *project_meta(struct project *p)
{
	return p->meta;
}

struct pg_pool *project_pool(struct project *p)
{
	return p->pool;
}

const char *project_id(struct project *p)
{
	return api_project_id(p->api);
}

const char *project_active_name(struct project *p)
{
	return p->active_name;
}

const char *project_database(struct project *p)
{
	return p->database;
}

struct project *project_open(const struct project_config *cfg, struct api *api,
			     struct meta *meta, char *msg, size_t msglen)
{
	struct project *p = calloc(1, sizeof(*p));
	struct model_list *branches = NULL;
	const struct neon_branch *b;
	int res;

	if (!p) {
		util_msg(msg, msglen, "out of memory");
		return NULL;
	}
	p->api = api;
	p->meta = meta;
	p->used = util_now();
	pthread_mutex_init(&p->kept_lock, NULL);
	p->cache = cache_new(cfg->cache_ttl);
	p->pool = pg_pool_new(cfg->pg_timeout, cfg->pg_timeout);
	if (p->pool)
		pg_pool_set_idle(p->pool, cfg->pg_idle);
	p->quota = quota_new(cfg->snapshot_limit);
	if (!p->cache || !p->pool || !p->quota) {
		util_msg(msg, msglen, "out of memory");
		goto fail;
	}
	res = project_branches(p, &branches);
	if (res) {
		util_msg(msg, msglen, "cannot list the project's branches: %s "
			 "(check NEON_API_KEY, the project id and NEON_API_HOST)", strerror(-res));
		goto fail;
	}
	b = cfg->branch ? model_branch_by_name(branches, cfg->branch) :
	    model_branch_default(branches);
	if (!b) {
		util_msg(msg, msglen, cfg->branch ? "the project has no branch named %s" :
			 "the project has no default branch%s", cfg->branch ? cfg->branch : "");
		goto fail;
	}
	snprintf(p->active_name, sizeof(p->active_name), "%s", b->name);
	if (neon_pick_database(api, b->id, cfg->database, cfg->role, p->database,
			       sizeof(p->database), p->role, sizeof(p->role), msg, msglen))
		goto fail;
	log_info("active branch %s (%s), database %s, role %s", p->active_name, b->id,
		 p->database, p->role);
	model_list_put(branches);
	return p;
fail:
	model_list_put(branches);
	project_close(p);
	return NULL;
}

void project_close(struct project *p)
{
	struct kept_schema *k, *next;

	if (!p)
		return;
	cache_free(p->cache);
	pg_pool_free(p->pool);
	quota_free(p->quota);
	for (k = p->kept; k; k = next) {
		next = k->next;
		free(k->schema);
		free(k);
	}
	pthread_mutex_destroy(&p->kept_lock);
	free(p);
}
