/* cache: short-lived copies of remote listings, so ls and stat do not each cost a call.
 *
 * One value per key (a JSON listing), kept for a TTL. Concurrent readers of an expired key
 * share one fetch. A change made through the mount invalidates the key; the generation
 * guard (as in sshfs's write counter) stops a fetch that started before the change from
 * storing what it read. */
#ifndef NEONFS_CACHE_H
#define NEONFS_CACHE_H

#include <json-c/json.h>

struct cache;

/* Fetches a fresh value for @key: 0 and *val (new reference), or -errno. */
typedef int (*cache_fetch_fn)(void *data, const char *key, struct json_object **val);

struct cache *cache_new(double ttl_s);
void cache_free(struct cache *c);
void cache_set_ttl(struct cache *c, double ttl_s);

/* The value for @key, fetched through @fetch when absent or expired.
 * Returns 0 with a new reference in *val, or the fetch's -errno. */
int cache_get(struct cache *c, const char *key, cache_fetch_fn fetch, void *data,
	      struct json_object **val);

/* The cached value for @key even if expired, or NULL: never fetches. */
struct json_object *cache_peek(struct cache *c, const char *key);

/* Forgets @key; an in-flight fetch started before this will not be stored. */
void cache_invalidate(struct cache *c, const char *key);

/* Forgets every key starting with @prefix. */
void cache_invalidate_prefix(struct cache *c, const char *prefix);

/* Replace @key's value with @val (takes a new reference), as if just fetched. */
void cache_store(struct cache *c, const char *key, struct json_object *val);

#endif
