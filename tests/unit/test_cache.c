/* The listing cache: TTL, one fetch for concurrent readers, and the race guard. */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <string.h>

#include "cache.h"
#include "check.h"
#include "util.h"

struct fetcher {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	int calls;
	int fail;
	int hold;      /* block in fetch until released */
	int in_fetch;
	const char *value;
};

static int fetch(void *data, const char *key, struct shared **val)
{
	struct fetcher *f = data;

	pthread_mutex_lock(&f->lock);
	f->calls++;
	f->in_fetch = 1;
	pthread_cond_broadcast(&f->cond);
	while (f->hold)
		pthread_cond_wait(&f->cond, &f->lock);
	f->in_fetch = 0;
	pthread_mutex_unlock(&f->lock);
	if (f->fail)
		return -f->fail;
	*val = &shared_text_new(f->value, strlen(f->value))->base;
	return 0;
}

static struct fetcher fetcher_init(void)
{
	struct fetcher f = { .value = "one" };

	pthread_mutex_init(&f.lock, NULL);
	pthread_cond_init(&f.cond, NULL);
	return f;
}

static void test_ttl(void)
{
	struct fetcher f = fetcher_init();
	struct cache *c = cache_new(3600);
	struct shared *v = NULL;

	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	CHECK_STR(((struct shared_text *)v)->text, "one");
	shared_put(v);
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	shared_put(v);
	CHECK_INT(f.calls, 1);

	/* A TTL of zero means every read fetches. */
	cache_set_ttl(c, 0);
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	shared_put(v);
	CHECK_INT(f.calls, 2);

	/* Errors are passed on and not cached. */
	cache_set_ttl(c, 3600);
	cache_invalidate(c, "snapshots");
	f.fail = EIO;
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), -EIO);
	f.fail = 0;
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	shared_put(v);
	CHECK_INT(f.calls, 4);
	cache_free(c);
}

struct reader {
	struct cache *c;
	struct fetcher *f;
	int res;
	struct shared *v;
};

static void *reader_main(void *arg)
{
	struct reader *r = arg;

	r->res = cache_get(r->c, "snapshots", fetch, r->f, &r->v);
	return NULL;
}

/* Two readers of an empty key share one fetch. */
static void test_single_flight(void)
{
	struct fetcher f = fetcher_init();
	struct cache *c = cache_new(3600);
	struct reader r1 = { c, &f, -1, NULL }, r2 = { c, &f, -1, NULL };
	pthread_t t1, t2;

	f.hold = 1;
	pthread_create(&t1, NULL, reader_main, &r1);
	pthread_mutex_lock(&f.lock);
	while (!f.in_fetch)
		pthread_cond_wait(&f.cond, &f.lock);
	pthread_mutex_unlock(&f.lock);
	pthread_create(&t2, NULL, reader_main, &r2);
	pthread_mutex_lock(&f.lock);
	f.hold = 0;
	pthread_cond_broadcast(&f.cond);
	pthread_mutex_unlock(&f.lock);
	pthread_join(t1, NULL);
	pthread_join(t2, NULL);
	CHECK_INT(r1.res, 0);
	CHECK_INT(r2.res, 0);
	/* The second reader either waited for the first fetch or came after it was stored. */
	CHECK_INT(f.calls, 1);
	shared_put(r1.v);
	shared_put(r2.v);
	cache_free(c);
}

/* A fetch that started before an invalidation must not store what it read. */
static void test_race_guard(void)
{
	struct fetcher f = fetcher_init();
	struct cache *c = cache_new(3600);
	struct reader r1 = { c, &f, -1, NULL };
	struct shared *v = NULL;
	pthread_t t1;

	f.hold = 1;
	f.value = "stale";
	pthread_create(&t1, NULL, reader_main, &r1);
	pthread_mutex_lock(&f.lock);
	while (!f.in_fetch)
		pthread_cond_wait(&f.cond, &f.lock);
	pthread_mutex_unlock(&f.lock);
	cache_invalidate(c, "snapshots");
	pthread_mutex_lock(&f.lock);
	f.hold = 0;
	pthread_cond_broadcast(&f.cond);
	pthread_mutex_unlock(&f.lock);
	pthread_join(t1, NULL);
	CHECK_INT(r1.res, 0);
	shared_put(r1.v);
	CHECK(cache_peek(c, "snapshots") == NULL);
	f.value = "fresh";
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	CHECK_STR(((struct shared_text *)v)->text, "fresh");
	shared_put(v);

	/* cache_store replaces the value at once (a change made through the mount). */
	v = &shared_text_new("stored", 6)->base;
	cache_store(c, "snapshots", v);
	shared_put(v);
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	CHECK_STR(((struct shared_text *)v)->text, "stored");
	shared_put(v);
	cache_free(c);
}

/* A patch replaces only the value it was made from, while it is fresh, and keeps its age:
 * a patched listing expires when the fetch it came from would have. */
static void test_replace(void)
{
	struct fetcher f = fetcher_init();
	struct cache *c = cache_new(0.3);
	struct shared *v = NULL, *old, *patched = &shared_text_new("patched", 7)->base;
	struct shared *other = &shared_text_new("other", 5)->base;
	double start = util_now();

	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	old = cache_peek(c, "snapshots");
	CHECK(old == v);
	CHECK_INT(cache_replace(c, "snapshots", other, patched), -ENOENT);
	CHECK_INT(cache_replace(c, "snapshots", old, patched), 0);
	shared_put(v);
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	CHECK_STR(((struct shared_text *)v)->text, "patched");
	CHECK_INT(f.calls, 1);
	/* Replaced already: a second patch made from the first value is refused. */
	CHECK_INT(cache_replace(c, "snapshots", old, other), -ENOENT);
	shared_put(v);
	shared_put(old);
	/* Patches keep the fetch's age, so the value expires 0.3 s after its fetch: then
	 * there is nothing to patch, and the listing is fetched again. */
	for (;;) {
		old = cache_peek(c, "snapshots");
		if (cache_replace(c, "snapshots", old, other) != 0 || util_now() - start > 5)
			break;
		shared_put(old);
	}
	shared_put(old);
	CHECK(util_now() - start < 5);
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &v), 0);
	CHECK_STR(((struct shared_text *)v)->text, "one");
	CHECK_INT(f.calls, 2);
	shared_put(v);
	shared_put(patched);
	shared_put(other);
	cache_free(c);
}

/* Readers that waited for a fetch that failed get its errno: N readers of a failing server
 * cost one failure, not N fetches one after another. */
static void test_shared_failure(void)
{
	struct fetcher f = fetcher_init();
	struct cache *c = cache_new(3600);
	struct reader r[4];
	pthread_t t[4];
	int i;

	f.hold = 1;
	f.fail = ETIMEDOUT;
	for (i = 0; i < 4; i++) {
		r[i] = (struct reader){ c, &f, -1, NULL };
		pthread_create(&t[i], NULL, reader_main, &r[i]);
	}
	/* One fetches; wait until the three others are waiting for it. */
	while (cache_waiting(c, "snapshots") < 3)
		sched_yield();
	pthread_mutex_lock(&f.lock);
	f.hold = 0;
	pthread_cond_broadcast(&f.cond);
	pthread_mutex_unlock(&f.lock);
	for (i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(r[i].res, -ETIMEDOUT);
	}
	CHECK_INT(f.calls, 1);
	/* The failure is not kept: the next reader asks again. */
	f.fail = 0;
	CHECK_INT(cache_get(c, "snapshots", fetch, &f, &r[0].v), 0);
	shared_put(r[0].v);
	CHECK_INT(f.calls, 2);
	cache_free(c);
}

/* Many keys (a rendered file per inode) and trimming what nobody holds. */
static void test_many_keys(void)
{
	struct fetcher f = fetcher_init();
	struct cache *c = cache_new(3600);
	struct shared *v = NULL;
	char key[32];
	int i;

	for (i = 0; i < 20000; i++) {
		snprintf(key, sizeof(key), "file:%d", i);
		CHECK_INT(cache_get(c, key, fetch, &f, &v), 0);
		shared_put(v);
	}
	CHECK_INT(f.calls, 20000);
	CHECK_INT(cache_get(c, "file:12345", fetch, &f, &v), 0);
	shared_put(v);
	CHECK_INT(f.calls, 20000);
	cache_invalidate_prefix(c, "file:");
	cache_trim(c);
	CHECK(cache_peek(c, "file:12345") == NULL);
	CHECK_INT(cache_get(c, "file:12345", fetch, &f, &v), 0);
	shared_put(v);
	CHECK_INT(f.calls, 20001);
	cache_free(c);
}

/* Readers that waited for a fetch whose value is not kept (expired at once here, or
 * invalidated while it ran) must not start a fetch beside one that another of them has
 * started meanwhile. Two at once on one entry let cache_trim free the entry after the first
 * finished, and the second then wrote into freed memory. */
static atomic_int in_flight, most_in_flight;

static int fetch_counted(void *data, const char *key, struct shared **val)
{
	int n = atomic_fetch_add(&in_flight, 1) + 1, most = atomic_load(&most_in_flight), i;
	struct cache *c = data;

	while (n > most && !atomic_compare_exchange_weak(&most_in_flight, &most, n))
		;
	/* Let the other readers run while this fetch is under way, as the network would. */
	for (i = 0; i < 20; i++)
		sched_yield();
	cache_trim(c);
	atomic_fetch_sub(&in_flight, 1);
	*val = &shared_text_new("v", 1)->base;
	return 0;
}

static void *counted_reader(void *arg)
{
	struct cache *c = arg;
	struct shared *v;
	int i;

	for (i = 0; i < 2000; i++) {
		if (cache_get(c, "snapshots", fetch_counted, c, &v) == 0)
			shared_put(v);
		if (i % 7 == 0)
			cache_invalidate(c, "snapshots");
	}
	return NULL;
}

static void test_one_fetch_at_a_time(void)
{
	struct cache *c = cache_new(0);
	pthread_t t[4];
	int i;

	for (i = 0; i < 4; i++)
		pthread_create(&t[i], NULL, counted_reader, c);
	for (i = 0; i < 4; i++)
		pthread_join(t[i], NULL);
	CHECK_INT(atomic_load(&most_in_flight), 1);
	cache_free(c);
}

int main(void)
{
	test_one_fetch_at_a_time();
	test_shared_failure();
	test_many_keys();
	test_ttl();
	test_single_flight();
	test_race_guard();
	test_replace();
	CHECK_DONE();
}
