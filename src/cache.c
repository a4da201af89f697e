/* cache: short-lived copies of remote listings and rendered files.
 *
 * A hash table of keys under one mutex. A key being fetched is marked so that other readers
 * wait for that fetch instead of sending their own: a burst of ls and stat costs one call,
 * and a burst that meets a failing server costs one failure, not one per reader. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "util.h"

struct cache_entry {
	struct cache_entry *next;    /* in its bucket */
	char *key;
	struct shared *val;          /* NULL until stored */
	double stored_at;
	unsigned long gen;           /* bumped by invalidate: a racing fetch must not store */
	unsigned long fetches;       /* fetches finished, to tell waiters which one they saw */
	int last_err;                /* the errno of the fetch that finished last, 0 if it worked */
	int waiters;
	bool fetching;
};

struct cache {
	pthread_mutex_t lock;
	pthread_cond_t fetched;
	double ttl;
	struct cache_entry **buckets;
	size_t nbuckets, count;
};

static uint64_t cache_hash(const char *s)
{
	uint64_t h = 1469598103934665603ULL;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ULL;
	return h;
}

struct cache *cache_new(double ttl_s)
{
	struct cache *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->nbuckets = 256;
	c->buckets = calloc(c->nbuckets, sizeof(*c->buckets));
	if (!c->buckets) {
		free(c);
		return NULL;
	}
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->fetched, NULL);
	c->ttl = ttl_s;
	return c;
}

static void cache_entry_free(struct cache_entry *e)
{
	shared_put(e->val);
	free(e->key);
	free(e);
}

void cache_free(struct cache *c)
{
	size_t i;

	if (!c)
		return;
	for (i = 0; i < c->nbuckets; i++) {
		struct cache_entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			next = e->next;
			cache_entry_free(e);
		}
	}
	free(c->buckets);
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

/* Doubles the table when it is full; on failure the table just stays denser. Caller holds
 * the lock. */
static void cache_grow(struct cache *c)
{
	size_t n = c->nbuckets * 2, i;
	struct cache_entry **b = calloc(n, sizeof(*b));

	if (!b)
		return;
	for (i = 0; i < c->nbuckets; i++) {
		struct cache_entry *e = c->buckets[i], *next;

		for (; e; e = next) {
			size_t k = cache_hash(e->key) & (n - 1);

			next = e->next;
			e->next = b[k];
			b[k] = e;
		}
	}
	free(c->buckets);
	c->buckets = b;
	c->nbuckets = n;
}

/* Caller holds the lock. */
static struct cache_entry *cache_find(struct cache *c, const char *key, bool create)
{
	size_t k = cache_hash(key) & (c->nbuckets - 1);
	struct cache_entry *e;

	for (e = c->buckets[k]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	if (!create)
		return NULL;
	if (c->count + 1 > c->nbuckets) {
		cache_grow(c);
		k = cache_hash(key) & (c->nbuckets - 1);
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->key = strdup(key);
	if (!e->key) {
		free(e);
		return NULL;
	}
	e->next = c->buckets[k];
	c->buckets[k] = e;
	c->count++;
	return e;
}

static bool cache_fresh(const struct cache *c, const struct cache_entry *e)
{
	return e->val && util_now() - e->stored_at < c->ttl;
}

int cache_get(struct cache *c, const char *key, cache_fetch_fn fetch, void *data,
	      struct shared **val)
{
	struct cache_entry *e;
	struct shared *fresh = NULL;
	unsigned long gen;
	int res;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, true);
	if (!e) {
		pthread_mutex_unlock(&c->lock);
		return -ENOMEM;
	}
	/* One fetcher at a time: a reader that finds a fetch under way waits for it, and
	 * takes its value, or its failure; if the value was not kept (a change made through
	 * the mount came in between) and another reader fetches by then, it waits again. */
	for (;;) {
		unsigned long seen;

		if (cache_fresh(c, e)) {
			*val = shared_get(e->val);
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
		if (!e->fetching)
			break;
		seen = e->fetches;
		e->waiters++;
		while (e->fetching && e->fetches == seen)
			pthread_cond_wait(&c->fetched, &c->lock);
		e->waiters--;
		if (e->fetches != seen && e->last_err) {
			res = e->last_err;
			pthread_mutex_unlock(&c->lock);
			return res;
		}
		if (e->fetches != seen && e->val) {
			/* Just fetched: shared, even where the window is zero. */
			*val = shared_get(e->val);
			pthread_mutex_unlock(&c->lock);
			return 0;
		}
	}
	e->fetching = true;
	gen = e->gen;
	pthread_mutex_unlock(&c->lock);

	res = fetch(data, key, &fresh);

	pthread_mutex_lock(&c->lock);
	e->fetching = false;
	e->fetches++;
	e->last_err = res;
	if (res == 0 && e->gen == gen) {
		shared_put(e->val);
		e->val = shared_get(fresh);
		e->stored_at = util_now();
	}
	pthread_cond_broadcast(&c->fetched);
	pthread_mutex_unlock(&c->lock);
	if (res == 0)
		*val = fresh;
	return res;
}

struct shared *cache_peek(struct cache *c, const char *key)
{
	struct cache_entry *e;
	struct shared *v = NULL;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, false);
	if (e)
		v = shared_get(e->val);
	pthread_mutex_unlock(&c->lock);
	return v;
}

/* Caller holds the lock. */
static void cache_drop(struct cache_entry *e)
{
	e->gen++;
	shared_put(e->val);
	e->val = NULL;
}

void cache_invalidate(struct cache *c, const char *key)
{
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, false);
	if (e)
		cache_drop(e);
	pthread_mutex_unlock(&c->lock);
}

void cache_invalidate_prefix(struct cache *c, const char *prefix)
{
	size_t len = strlen(prefix), i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nbuckets; i++) {
		struct cache_entry *e;

		for (e = c->buckets[i]; e; e = e->next)
			if (strncmp(e->key, prefix, len) == 0)
				cache_drop(e);
	}
	pthread_mutex_unlock(&c->lock);
}

void cache_store(struct cache *c, const char *key, struct shared *val)
{
	struct cache_entry *e;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, true);
	if (e) {
		cache_drop(e);
		e->val = shared_get(val);
		e->stored_at = util_now();
	}
	pthread_mutex_unlock(&c->lock);
}

int cache_replace(struct cache *c, const char *key, struct shared *old, struct shared *val)
{
	struct cache_entry *e;
	int res = -ENOENT;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, false);
	if (e && e->val == old && !e->fetching && cache_fresh(c, e)) {
		double at = e->stored_at;

		cache_drop(e);
		e->val = shared_get(val);
		e->stored_at = at;
		res = 0;
	}
	pthread_mutex_unlock(&c->lock);
	return res;
}

void cache_trim(struct cache *c)
{
	size_t i;

	pthread_mutex_lock(&c->lock);
	for (i = 0; i < c->nbuckets; i++) {
		struct cache_entry **pp = &c->buckets[i], *e;

		while ((e = *pp) != NULL) {
			if (!e->val && !e->fetching && e->waiters == 0) {
				*pp = e->next;
				cache_entry_free(e);
				c->count--;
			} else {
				pp = &e->next;
			}
		}
	}
	pthread_mutex_unlock(&c->lock);
}

int cache_waiting(struct cache *c, const char *key)
{
	struct cache_entry *e;
	int n = 0;

	pthread_mutex_lock(&c->lock);
	e = cache_find(c, key, false);
	if (e)
		n = e->waiters;
	pthread_mutex_unlock(&c->lock);
	return n;
}
