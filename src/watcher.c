/* watcher: changes made elsewhere, found by polling and diffing (diff.c).
 *
 * The polls of every project of a mount run on one small pool of threads (struct
 * watch_pool), each watcher due at its own time: an organization's mount opens thousands of
 * projects, and a thread each would cost a stack and a malloc arena per project for a loop
 * that mostly sleeps. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "api.h"
#include "diff.h"
#include "events.h"
#include "log.h"
#include "neon.h"
#include "project.h"
#include "util.h"
#include "watcher.h"

struct watcher {
	struct project *p;
	struct events *events;
	struct watcher_config cfg;
	struct watcher_notify notify;
	void *data;

	pthread_mutex_t lock;
	struct diff_seen *snapshots;
	struct diff_seen *branches;
	bool seeded;              /* the seen maps hold a real listing */
	int local_busy;           /* changes through the mount in flight */
	unsigned long local_gen;

	/* Under the pool's lock. */
	struct watch_pool *pool;  /* NULL until started, and again once stopped */
	double due;               /* when the next look is (util_now() clock) */
	double interval;          /* the adaptive poll interval */
	bool polling;             /* a pool thread looks at it now */
};

#define WATCH_POOL_MAX 16

struct watch_pool {
	pthread_mutex_t lock;
	pthread_cond_t cond;      /* a watcher joined, or the pool stops */
	pthread_cond_t done;      /* a look ended */
	struct watcher **w;       /* the started watchers, in no order */
	size_t n, cap;
	bool stopping;
	unsigned nthreads;
	pthread_t threads[WATCH_POOL_MAX];
};

struct watcher *watcher_new(struct project *p, struct events *ev,
			    const struct watcher_config *cfg,
			    const struct watcher_notify *notify, void *data)
{
	struct watcher *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->p = p;
	w->events = ev;
	w->cfg = *cfg;
	w->notify = *notify;
	w->data = data;
	pthread_mutex_init(&w->lock, NULL);
	w->snapshots = diff_seen_new();
	w->branches = diff_seen_new();
	if (!w->snapshots || !w->branches) {
		watcher_free(w);
		return NULL;
	}
	return w;
}

void watcher_free(struct watcher *w)
{
	if (!w)
		return;
	watcher_stop(w);
	diff_seen_free(w->snapshots);
	diff_seen_free(w->branches);
	pthread_mutex_destroy(&w->lock);
	free(w);
}

void watcher_local_begin(struct watcher *w)
{
	pthread_mutex_lock(&w->lock);
	w->local_busy++;
	pthread_mutex_unlock(&w->lock);
}

void watcher_local_end(struct watcher *w)
{
	pthread_mutex_lock(&w->lock);
	w->local_busy--;
	w->local_gen++;
	pthread_mutex_unlock(&w->lock);
}

void watcher_seen(struct watcher *w, bool snapshot, const char *id, const char *name,
		  const char *entry)
{
	pthread_mutex_lock(&w->lock);
	diff_seen_set(snapshot ? w->snapshots : w->branches, id, name, entry);
	pthread_mutex_unlock(&w->lock);
}

void watcher_seen_expiry(struct watcher *w, const char *id, time_t expires)
{
	pthread_mutex_lock(&w->lock);
	diff_seen_set_expiry(w->snapshots, id, expires);
	pthread_mutex_unlock(&w->lock);
}

void watcher_seen_refresh(struct watcher *w)
{
	struct api_error err = { 0 };
	struct model_list *branches = NULL;

	if (neon_list(project_api(w->p), MODEL_BRANCHES, &branches, &err) != 0)
		return;
	pthread_mutex_lock(&w->lock);
	diff_seen_reset(w->branches, branches);
	pthread_mutex_unlock(&w->lock);
	model_list_put(branches);
}

bool watcher_learn(struct watcher *w, bool snapshot, const char *id, const char *name,
		   const char *entry, char *old_entry, size_t len)
{
	struct diff_seen *seen = snapshot ? w->snapshots : w->branches;
	const char *was, *was_entry;
	bool news;

	pthread_mutex_lock(&w->lock);
	was = diff_seen_name(seen, id);
	was_entry = diff_seen_entry(seen, id);
	news = name ? !was || strcmp(was, name) != 0 : was != NULL;
	snprintf(old_entry, len, "%s", was_entry ? was_entry : "");
	diff_seen_set(seen, id, name, entry);
	pthread_mutex_unlock(&w->lock);
	return news;
}

bool watcher_knows(struct watcher *w, bool snapshot, const char *id)
{
	bool known;

	pthread_mutex_lock(&w->lock);
	known = diff_seen_name(snapshot ? w->snapshots : w->branches, id) != NULL;
	pthread_mutex_unlock(&w->lock);
	return known;
}

void watcher_seen_branches(struct watcher *w, const struct model_list *branches)
{
	pthread_mutex_lock(&w->lock);
	diff_seen_reset(w->branches, branches);
	pthread_mutex_unlock(&w->lock);
}

static void watcher_emit(struct watcher *w, const struct diff_change *c)
{
	const char *what = c->snapshot ? "snapshot" : "branch";
	char kind[32];

	switch (c->kind) {
	case DIFF_CREATED:
		snprintf(kind, sizeof(kind), "%s.created", what);
		events_emit(w->events, kind, false, "id", c->id, "name", c->name, NULL);
		break;
	case DIFF_DELETED:
		snprintf(kind, sizeof(kind), "%s.deleted", what);
		events_emit(w->events, kind, false, "id", c->id, "name", c->old_name, NULL);
		break;
	case DIFF_EXPIRED:
		events_emit(w->events, "snapshot.expired", false, "id", c->id, "name", c->old_name,
			    NULL);
		break;
	case DIFF_RENAMED:
		snprintf(kind, sizeof(kind), "%s.renamed", what);
		events_emit(w->events, kind, false, "id", c->id, "name", c->name,
			    "old_name", c->old_name, NULL);
		break;
	case DIFF_RESTORED:
		events_emit(w->events, "restore.finished", false, "snapshot_id", c->snapshot_id,
			    "snapshot_name", c->snapshot_name[0] ? c->snapshot_name : NULL,
			    "branch_id", c->id, "branch_id_before", c->branch_id_before,
			    "name", c->name, NULL);
		break;
	}
}

/* Tells the kernel, outside the lock. */
static void watcher_tell(struct watcher *w, const struct diff_change *c)
{
	switch (c->kind) {
	case DIFF_CREATED:
	case DIFF_RESTORED:
		w->notify.entry(w->data, c->snapshot, c->entry);
		break;
	case DIFF_DELETED:
	case DIFF_EXPIRED:
		w->notify.gone(w->data, c->snapshot, c->id, c->old_entry);
		break;
	case DIFF_RENAMED:
		/* Not "gone": the inode lives on under its new name, and the kernel would mark
		 * it dead. */
		w->notify.entry(w->data, c->snapshot, c->old_entry);
		w->notify.entry(w->data, c->snapshot, c->entry);
		break;
	}
}

/* Neon deleted a snapshot on its expiry: its checkpoint record and attachments go with it,
 * as with rmdir. Outside the lock: the meta database may be slow. */
static void watcher_expired(struct watcher *w, const struct diff_change *c)
{
	char msg[512] = "";

	if (project_record_delete(w->p, c->id, msg, sizeof(msg)))
		log_warn("snapshot %s (%s) expired; its checkpoint record was kept: %s",
			 c->old_name, c->id, msg);
	else
		log_info("snapshot %s (%s) expired; its checkpoint record is removed",
			 c->old_name, c->id);
}

/* One look at the project. Returns how many changes made elsewhere it found. */
static int watcher_poll(struct watcher *w)
{
	struct model_list *snaps = NULL, *branches = NULL;
	struct diff_change *sc = NULL, *bc = NULL;
	struct api_error err = { 0 };
	int ns = 0, nb = 0, i;
	unsigned long gen;
	bool busy;

	pthread_mutex_lock(&w->lock);
	gen = w->local_gen;
	busy = w->local_busy > 0;
	pthread_mutex_unlock(&w->lock);
	if (busy)
		return 0;
	if (neon_list(project_api(w->p), MODEL_SNAPSHOTS, &snaps, &err) ||
	    neon_list(project_api(w->p), MODEL_BRANCHES, &branches, &err)) {
		log_debug("watch: %s", err.message);
		goto out;
	}
	pthread_mutex_lock(&w->lock);
	if (w->local_busy > 0 || w->local_gen != gen) {
		/* A change through the mount overlapped this look: look again next round. */
		pthread_mutex_unlock(&w->lock);
		goto out;
	}
	if (w->seeded) {
		time_t now = time(NULL);

		ns = diff_compute(w->snapshots, NULL, snaps, now, &sc);
		nb = diff_compute(w->branches, w->snapshots, branches, now, &bc);
		if (ns < 0 || nb < 0) {
			pthread_mutex_unlock(&w->lock);
			ns = nb = 0;
			goto out;
		}
		for (i = 0; i < ns; i++)
			watcher_emit(w, &sc[i]);
		for (i = 0; i < nb; i++)
			watcher_emit(w, &bc[i]);
	}
	/* Not seeded yet (the first listing failed): this is the start. */
	diff_seen_reset(w->snapshots, snaps);
	diff_seen_reset(w->branches, branches);
	w->seeded = true;
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < ns; i++) {
		watcher_tell(w, &sc[i]);
		if (sc[i].kind == DIFF_EXPIRED)
			watcher_expired(w, &sc[i]);
	}
	for (i = 0; i < nb; i++)
		watcher_tell(w, &bc[i]);
	if (ns + nb) {
		/* Readers get fresh listings now, not when the cache window ends. */
		project_forget(w->p, PROJECT_ALL);
		if (nb)
			w->notify.active(w->data);
		log_info("watch: %d change(s) made elsewhere", ns + nb);
	}
out:
	free(sc);
	free(bc);
	model_list_put(snaps);
	model_list_put(branches);
	return ns + nb;
}

/* Changes made elsewhere are looked for only while someone follows events or used the
 * mount within poll_max (or always, with -o watch=always). */
bool watcher_wanted(struct watcher *w)
{
	return w->cfg.always || events_readers(w->events) > 0 ||
	       project_idle_for(w->p) <= w->cfg.poll_max;
}

/* One round of a watcher: look when someone wants it, and say when the next is. */
static void watcher_tick(struct watcher *w)
{
	if (!watcher_wanted(w)) {
		/* Idle is free: nobody looks, so nothing is asked of Neon. The next access
		 * revalidates through the cache window, and polling resumes. */
		w->interval = w->cfg.poll_max;
	} else if (watcher_poll(w) > 0) {
		w->interval = w->cfg.poll_min;
	} else {
		w->interval = w->interval * 2 > w->cfg.poll_max ? w->cfg.poll_max : w->interval * 2;
	}
	project_trim(w->p);
}

static void *watch_pool_run(void *data)
{
	struct watch_pool *pool = data;

	/* Polls are what the budget sheds first when calls users wait for need it. */
	api_set_background(true);
	pthread_mutex_lock(&pool->lock);
	while (!pool->stopping) {
		struct watcher *next = NULL;
		double now = util_now();
		size_t i;

		for (i = 0; i < pool->n; i++)
			if (!pool->w[i]->polling && (!next || pool->w[i]->due < next->due))
				next = pool->w[i];
		if (!next) {
			pthread_cond_wait(&pool->cond, &pool->lock);
			continue;
		}
		if (next->due > now) {
			struct timespec until = util_deadline(next->due - now);

			pthread_cond_timedwait(&pool->cond, &pool->lock, &until);
			continue;
		}
		next->polling = true;
		pthread_mutex_unlock(&pool->lock);
		watcher_tick(next);
		pthread_mutex_lock(&pool->lock);
		next->polling = false;
		next->due = util_now() + next->interval;
		pthread_cond_broadcast(&pool->done);
	}
	pthread_mutex_unlock(&pool->lock);
	return NULL;
}

struct watch_pool *watch_pool_new(unsigned threads)
{
	struct watch_pool *pool = calloc(1, sizeof(*pool));
	unsigned i;
	int res;

	if (!pool)
		return NULL;
	if (threads < 1)
		threads = 1;
	if (threads > WATCH_POOL_MAX)
		threads = WATCH_POOL_MAX;
	pthread_mutex_init(&pool->lock, NULL);
	pthread_cond_init(&pool->cond, NULL);
	pthread_cond_init(&pool->done, NULL);
	for (i = 0; i < threads; i++) {
		res = pthread_create(&pool->threads[i], NULL, watch_pool_run, pool);
		if (res) {
			log_err("cannot start the watcher threads: %s", strerror(res));
			watch_pool_free(pool);
			return NULL;
		}
		pool->nthreads++;
	}
	return pool;
}

void watch_pool_free(struct watch_pool *pool)
{
	unsigned i;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	pool->stopping = true;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	for (i = 0; i < pool->nthreads; i++)
		pthread_join(pool->threads[i], NULL);
	/* Every watcher stopped before: a watcher still listed would point at freed memory. */
	free(pool->w);
	pthread_cond_destroy(&pool->done);
	pthread_cond_destroy(&pool->cond);
	pthread_mutex_destroy(&pool->lock);
	free(pool);
}

int watcher_start(struct watcher *w, struct watch_pool *pool)
{
	struct model_list *snaps = NULL, *branches = NULL;

	if (!pool)
		return -EINVAL;
	if (project_snapshots(w->p, &snaps) == 0 && project_branches(w->p, &branches) == 0) {
		pthread_mutex_lock(&w->lock);
		diff_seen_reset(w->snapshots, snaps);
		diff_seen_reset(w->branches, branches);
		w->seeded = true;
		pthread_mutex_unlock(&w->lock);
	}
	model_list_put(snaps);
	model_list_put(branches);
	pthread_mutex_lock(&pool->lock);
	if (pool->n == pool->cap) {
		size_t cap = pool->cap ? pool->cap * 2 : 16;
		struct watcher **v = realloc(pool->w, cap * sizeof(*v));

		if (!v) {
			pthread_mutex_unlock(&pool->lock);
			log_err("cannot watch project %s: out of memory", project_id(w->p));
			return -ENOMEM;
		}
		pool->w = v;
		pool->cap = cap;
	}
	pool->w[pool->n++] = w;
	w->pool = pool;
	w->interval = w->cfg.poll_min;
	w->due = util_now() + w->interval;
	pthread_cond_broadcast(&pool->cond);
	pthread_mutex_unlock(&pool->lock);
	return 0;
}

void watcher_stop(struct watcher *w)
{
	struct watch_pool *pool = w->pool;
	size_t i;

	if (!pool)
		return;
	pthread_mutex_lock(&pool->lock);
	/* A look under way ends first: it uses the project and tells the kernel. */
	while (w->polling)
		pthread_cond_wait(&pool->done, &pool->lock);
	for (i = 0; i < pool->n; i++)
		if (pool->w[i] == w) {
			pool->w[i] = pool->w[--pool->n];
			break;
		}
	w->pool = NULL;
	pthread_mutex_unlock(&pool->lock);
}
