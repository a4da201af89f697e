/* org: the projects of an organization, listed through the cache, and the slots that keep
 * each project's inode numbers apart. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "api.h"
#include "cache.h"
#include "events.h"
#include "log.h"
#include "names.h"
#include "neon.h"
#include "org.h"
#include "util.h"

#define ORG_KEY "projects"
#define ORG_BUCKETS 4096

struct org_slot {
	struct org_slot *next;
	uint32_t slot;
	char id[];
};

struct org {
	struct api *api;
	struct events *events;
	struct cache *cache;
	double cache_ttl;
	int page;

	pthread_mutex_t lock;       /* guards the slots */
	struct org_slot *by_id[ORG_BUCKETS];
	struct org_slot **by_slot;  /* [slot - 1] */
	uint32_t nslots, cap;
};

struct org *org_new(struct api *api, struct events *ev, double cache_ttl, int page)
{
	struct org *o = calloc(1, sizeof(*o));

	if (!o)
		return NULL;
	o->api = api;
	o->events = ev;
	o->page = page;
	o->cache_ttl = cache_ttl;
	o->cache = cache_new(cache_ttl);
	if (!o->cache) {
		free(o);
		return NULL;
	}
	pthread_mutex_init(&o->lock, NULL);
	return o;
}

void org_free(struct org *o)
{
	uint32_t i;

	if (!o)
		return;
	for (i = 0; i < o->nslots; i++)
		free(o->by_slot[i]);
	free(o->by_slot);
	cache_free(o->cache);
	pthread_mutex_destroy(&o->lock);
	free(o);
}

struct api *org_api(struct org *o)
{
	return o->api;
}

static int org_fetch(void *data, const char *key, struct shared **val)
{
	struct org *o = data;
	struct api_error err = { 0 };
	struct model_list *l = NULL;
	int res = neon_list_projects(o->api, o->page, &l, &err);

	(void)key;
	if (res) {
		log_err("listing the organization's projects: %s", err.message);
		return res;
	}
	/* A window of cache_ttl a page: however large the organization, the listing costs
	 * one call a cache_ttl, and leaves the budget to the projects (5,000 projects are 13
	 * pages; re-read every cache_ttl they would take more than the default budget). */
	cache_set_ttl(o->cache, o->cache_ttl * (double)(model_count(l) / (size_t)(o->page > 0 ?
								       o->page : 1) + 1));
	*val = model_list_shared(l);
	return 0;
}

int org_projects(struct org *o, struct model_list **out)
{
	struct shared *s = NULL;
	int res = cache_get(o->cache, ORG_KEY, org_fetch, o, &s);

	*out = res ? NULL : model_list_of(s);
	return res;
}

void org_forget(struct org *o)
{
	cache_invalidate(o->cache, ORG_KEY);
}

static unsigned org_hash(const char *s)
{
	unsigned h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % ORG_BUCKETS;
}

uint32_t org_slot(struct org *o, const char *id)
{
	unsigned k = org_hash(id);
	struct org_slot *e;
	uint32_t slot = 0;

	pthread_mutex_lock(&o->lock);
	for (e = o->by_id[k]; e; e = e->next)
		if (strcmp(e->id, id) == 0) {
			slot = e->slot;
			goto out;
		}
	/* Slots are never given back: the kernel may still hold a deleted project's inodes. */
	if (o->nslots == o->cap) {
		uint32_t cap = o->cap ? o->cap * 2 : 64;
		struct org_slot **v = realloc(o->by_slot, cap * sizeof(*v));

		if (!v)
			goto out;
		o->by_slot = v;
		o->cap = cap;
	}
	e = malloc(sizeof(*e) + strlen(id) + 1);
	if (!e)
		goto out;
	strcpy(e->id, id);
	e->slot = ++o->nslots;
	e->next = o->by_id[k];
	o->by_id[k] = e;
	o->by_slot[e->slot - 1] = e;
	slot = e->slot;
out:
	pthread_mutex_unlock(&o->lock);
	return slot;
}

int org_slot_id(struct org *o, uint32_t slot, char *buf, size_t len)
{
	int res = -ENOENT;

	pthread_mutex_lock(&o->lock);
	if (slot >= 1 && slot <= o->nslots) {
		util_msg(buf, len, "%s", o->by_slot[slot - 1]->id);
		res = 0;
	}
	pthread_mutex_unlock(&o->lock);
	return res;
}

int org_create(struct org *o, const char *name, double timeout_s, char *id, size_t idlen,
	       char *msg, size_t msglen)
{
	struct api_error err = { 0 };
	struct neon_answer *ans = NULL;
	struct neon_object *p = NULL;
	struct model_list *l = NULL;
	struct api *pa = NULL;
	int res;

	if (!names_valid_entry(name) || !names_valid_remote(name)) {
		util_msg(msg, msglen, "%s cannot name a project's directory", name);
		return -EINVAL;
	}
	/* Checked against the listing of the cache window, as a new snapshot's name is. */
	res = org_projects(o, &l);
	if (res) {
		util_msg(msg, msglen, "the organization's projects cannot be listed");
		return res;
	}
	res = model_name_taken(l, name) || strcmp(name, "events") == 0 ? -EEXIST : 0;
	model_list_put(l);
	if (res) {
		util_msg(msg, msglen, "%s is taken", name);
		return res;
	}
	res = neon_create_project(o->api, name, &ans, &err);
	org_forget(o);
	if (res) {
		util_msg(msg, msglen, "%s", err.message);
		return res;
	}
	res = neon_answer_object(ans, "project", &p);
	if (res) {
		util_msg(msg, msglen, "the API's answer has no project");
		goto out;
	}
	util_msg(id, idlen, "%s", p->u.project.id);
	/* Its operations are the new project's: asked for under its own path. */
	pa = api_for_project(o->api, p->u.project.id);
	if (!pa) {
		res = -ENOMEM;
		util_msg(msg, msglen, "out of memory");
		goto out;
	}
	res = neon_answer_wait(pa, ans, timeout_s, &err);
	if (res)
		util_msg(msg, msglen, "project %s: %s", p->u.project.id, err.message);
	else
		events_emit(o->events, "project.created", true, "project", p->u.project.id,
			    "name", name, NULL);
out:
	api_free(pa);
	model_object_put(p);
	neon_answer_free(ans);
	return res;
}

int org_delete(struct org *o, const char *id, char *msg, size_t msglen)
{
	struct api_error err = { 0 };
	struct neon_answer *ans = NULL;
	int res = neon_delete_project(o->api, id, &ans, &err);

	org_forget(o);
	if (res)
		util_msg(msg, msglen, "%s", err.message);
	else
		events_emit(o->events, "project.deleted", true, "project", id, NULL);
	neon_answer_free(ans);
	return res;
}
