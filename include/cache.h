/* cache: short-lived copies of remote listings and rendered files, so ls and stat do not
 * each cost a call.
 *
 * One immutable shared value per key (shared.h), kept for a TTL. Concurrent readers of an
 * expired key share one fetch, and share its failure too: readers that waited for a fetch
 * that failed get its errno instead of each fetching again in turn. Failures are never
 * stored. A change made through the mount invalidates the key; the generation guard (as in
 * sshfs's write counter) stops a fetch that started before the change from storing what it
 * read. Keys are hashed, so a mount with many thousands of rendered files stays fast. */
#ifndef NEONFS_CACHE_H
#define NEONFS_CACHE_H

#include "shared.h"

struct cache;

/* Fetches a fresh value for @key: 0 and *val (a reference the cache takes), or -errno. */
typedef int (*cache_fetch_fn)(void *data, const char *key, struct shared **val);

struct cache *cache_new(double ttl_s);
void cache_free(struct cache *c);
void cache_set_ttl(struct cache *c, double ttl_s);

/* The value for @key, fetched through @fetch when absent or expired.
 * Returns 0 with a new reference in *val, or the fetch's -errno. */
int cache_get(struct cache *c, const char *key, cache_fetch_fn fetch, void *data,
	      struct shared **val);

/* The cached value for @key even if expired, or NULL: never fetches. */
struct shared *cache_peek(struct cache *c, const char *key);

/* Forgets @key; an in-flight fetch started before this will not be stored. */
void cache_invalidate(struct cache *c, const char *key);

/* Forgets every key starting with @prefix. */
void cache_invalidate_prefix(struct cache *c, const char *prefix);

/* Replace @key's value with @val (takes a new reference), as if just fetched. */
void cache_store(struct cache *c, const char *key, struct shared *val);

/* Puts @val in place of @old, the value held for @key now, keeping the time @old was
 * fetched at: a listing patched for a change another mount told of ages as the fetch it
 * came from. Returns 0, or -ENOENT (nothing replaced) when @key holds another value, is
 * expired, or is being fetched (that fetch may have read the state before the change). */
int cache_replace(struct cache *c, const char *key, struct shared *old, struct shared *val);

/* How many readers wait for @key's fetch under way (for tests). */
int cache_waiting(struct cache *c, const char *key);

/* Drops entries that hold no value and nobody is fetching, so memory follows what is in use. */
void cache_trim(struct cache *c);

#endif
