/* cache: short-lived copies of remote listings.
 *
 * Few keys live here (the snapshot list, the branch list, a text per branch), so a list
 * under one mutex is enough. A key being fetched is marked so that other readers wait for
 * that fetch instead of sending their own: a burst of ls and stat costs one call. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cache.h"

struct cache_entry {
	struct cache_entry *next;
	char *key;
	struct json_object *val;  /* NULL until first stored */
	double stored_at;
	unsigned long gen;        /* bumped by invalidate: a racing fetch must not store */
	bool fetching;
};

struct cache {
	pthread_mutex_t lock;
	pthread_cond_t fetched;
	double ttl;
	struct cache_entry *entries;
};

static double cache_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

struct cache *cache_new(double ttl_s)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->fetched, NULL);
	c->ttl = ttl_s;
	return c;
}

void cache_free(struct cache *c)
{
	struct cache_entry *e, *next;

	if (!c)
		return;
	for (e = c->entries; e; e = next) {
		next = e->next;
		json_object_put(e->val);
		free(e->key);
		free(e);
	}
	pthread_cond_destroy(&c->fetched);
	pthread_mutex_destroy(&c->lock);
	free(c);
}

void cache_set_ttl(struct cache *c, double ttl_s)
{
	pthread_mutex_lock(&c->lock);
	c->ttl = ttl_s;
	pthread_mutex_unlock(&c->lock);
}

/* Caller holds the lock. */
static struct cache_entry *cache_find(struct cache *c, const char *key, bool create)
{
	struct cache_entry *e;

	for (e = c->entries; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return NULL;
	}
	e->next = c->entries;
	c->entries = e;
	return e;
}

static bool cache_fresh(const struct cache *c, const struct cache_entry *e)
{
	return e->val && cache_now() - e->stored_at < c->ttl;
}

int cache_get(struct cache *c, const char *key, cache_fetch_fn fetch, void *data,
	      struct json_object **val)
{
	struct cache_entry *e;
	struct json_object *fresh = NULL;
	unsigned long gen;
	int res;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, true);
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	while (!cache_fresh(c, e) && e->fetching)
		pthread_cond_wait(&c->fetched, &c->lock);
	if (cache_fresh(c, e)) {
		*val = json_object_get(e->val);
		pthread_mutex_unlock(&c->lock);
		return 0;
	}
	e->fetching = true;
	gen = e->gen;
	pthread_mutex_unlock(&c->lock);

	res = fetch(data, key, &fresh);

	pthread_mutex_lock(&c->lock);
	e->fetching = false;
	if (res == 0 && e->gen == gen) {
		json_object_put(e->val);
		e->val = json_object_get(fresh);
		e->stored_at = cache_now();
	}
	pthread_cond_broadcast(&c->fetched);
	pthread_mutex_unlock(&c->lock);
	if (res == 0)
		*val = fresh;
	return res;
}

struct json_object *cache_peek(struct cache *c, const char *key)
{
	struct cache_entry *e;
	struct json_object *v = NULL;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, false);
	if (e)
		v = json_object_get(e->val);
	pthread_mutex_unlock(&c->lock);
	return v;
}

void cache_invalidate(struct cache *c, const char *key)
{
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, false);
	if (e) {
		e->gen++;
		json_object_put(e->val);
		e->val = NULL;
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_invalidate_prefix(struct cache *c, const char *prefix)
{
	struct cache_entry *e;
	size_t len = strlen(prefix);

	pthread_mutex_lock(&c->lock);
	for (e = c->entries; e; e = e->next) {
		if (strncmp(e->key, prefix, len) == 0) {
			e->gen++;
			json_object_put(e->val);
			e->val = NULL;
		}
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_store(struct cache *c, const char *key, struct json_object *val)
{
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, true);
	if (e) {
		e->gen++;
		json_object_put(e->val);
		e->val = json_object_get(val);
		e->stored_at = cache_now();
	}
	pthread_mutex_unlock(&c->lock);
}
