/* watcher: changes made elsewhere (console, API, other tools), found by polling the
 * project's listings and comparing them with what was seen (diff.h).
 *
 * It polls fast while things change and slower while they don't, on a thread of the mount's
 * watch pool (never a request handler's: a kernel notification from one can deadlock), one
 * pool for every project of the mount. Changes made through the
 * mount are told to it as they happen (watcher_local_*, watcher_seen), so they never come
 * back as made elsewhere. */
#ifndef NEONFS_WATCHER_H
#define NEONFS_WATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

struct project;
struct events;
struct watcher;
struct watch_pool;
struct model_list;

/* The threads every watcher of a mount is polled on; made after the mount daemonized (a
 * fork keeps no threads). Free it after every watcher on it was stopped. */
struct watch_pool *watch_pool_new(unsigned threads);
void watch_pool_free(struct watch_pool *pool);

/* What the watcher tells the tree about, after it let go of its own lock: a notification
 * waits for a directory's lock, which a handler may hold while it waits for the watcher. */
struct watcher_notify {
	/* An entry went away (snapshot or branch @id, shown as @entry). */
	void (*gone)(void *data, bool snapshot, const char *id, const char *entry);
	/* An entry appeared or changed its name. */
	void (*entry)(void *data, bool snapshot, const char *entry);
	/* A branch changed: active/ may now be another branch. */
	void (*active)(void *data);
};

struct watcher_config {
	double poll_min, poll_max;   /* seconds */
	bool always;                 /* poll even while nobody uses the mount (-o watch=always) */
};

struct watcher *watcher_new(struct project *p, struct events *ev,
			    const struct watcher_config *cfg,
			    const struct watcher_notify *notify, void *data);
void watcher_free(struct watcher *w);

/* Seeds what was seen from the current listings and puts it on @pool's schedule. 0 or
 * -errno. */
int watcher_start(struct watcher *w, struct watch_pool *pool);
/* Off the schedule; a look under way ends first. */
void watcher_stop(struct watcher *w);

/* A change through the mount is in flight: what a poll sees meanwhile is not taken for a
 * change made elsewhere. */
void watcher_local_begin(struct watcher *w);
void watcher_local_end(struct watcher *w);

/* A change through the mount: @id (a snapshot or branch) is now called @name and shown as
 * @entry; @name NULL: it is gone. */
void watcher_seen(struct watcher *w, bool snapshot, const char *id, const char *name,
		  const char *entry);
/* After a restore through the mount, the branches changed here: seen afresh. */
void watcher_seen_refresh(struct watcher *w);
/* When snapshot @id expires (0: never), as set through the mount: a snapshot that then goes
 * is reported as expired, not deleted. */
void watcher_seen_expiry(struct watcher *w, const char *id, time_t expires);

/* Is the mount in use: someone follows events, or it was used within poll_max (or
 * -o watch=always)? An idle mount asks nothing of anyone. */
bool watcher_wanted(struct watcher *w);
/* A change another mount made and told of (notify.h), taken as seen so that a poll does
 * not report it again: @id is now @name (NULL: gone), shown as @entry. Returns true when
 * it is news (no poll saw it first), with the entry @id was shown under before in
 * @old_entry ("" when it is new). */
bool watcher_learn(struct watcher *w, bool snapshot, const char *id, const char *name,
		   const char *entry, char *old_entry, size_t len);
/* Has the watcher seen branch or snapshot @id? */
bool watcher_knows(struct watcher *w, bool snapshot, const char *id);
/* After a restore another mount told of: what @branches lists is seen. */
void watcher_seen_branches(struct watcher *w, const struct model_list *branches);

#endif
