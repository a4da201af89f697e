/* notify: mounts that share a meta database tell each other what they changed.
 *
 * After each change made through the mount, a notice goes out on the project's channel of
 * the meta database (NOTIFY): what changed, and the changed object as Neon sent it, so a
 * mount that hears it patches its cached listing instead of asking Neon. Every mount with
 * a meta database listens on one connection of its own, on one thread (notify_hub.h),
 * however many projects it has opened; it ignores
 * its own notices and takes the others' as the watcher takes a change found by polling:
 * caches patched or dropped, the kernel's entries invalidated, a line in events with
 * "local": false, and the watcher told, so its polls do not report the change again.
 * Polling is then only for changes made without neonfs.
 *
 * While the meta database is away nothing is heard or sent; changes then show through
 * polling, and the listener comes back when the database does. */
#ifndef NEONFS_NOTIFY_H
#define NEONFS_NOTIFY_H

#include <stdbool.h>
#include <time.h>

struct project;
struct meta;
struct events;
struct watcher;
struct watcher_notify;
struct notify;
struct notify_hub;

/* @tell and @data: how the kernel is told, as the watcher tells it; @hub: the mount's
 * listener. NULL without @hub or @meta. */
struct notify *notify_new(struct notify_hub *hub, struct project *p, struct meta *meta,
			  struct watcher *w, struct events *ev, const struct watcher_notify *tell,
			  void *data);
void notify_free(struct notify *n);

/* Listens on the project's channel (through the hub). 0 or -errno. */
int notify_start(struct notify *n);
void notify_stop(struct notify *n);

/* A change made through this mount, as action_done has it (actions_internal.h). */
struct notify_change {
	const char *event;             /* the events line's kind, or NULL */
	const char *const *fields;     /* its name/value pairs (8, a NULL name ends them) */
	unsigned forget;               /* PROJECT_* */
	const char *attachments_of;    /* a snapshot whose attachments changed */
	bool pending;                  /* the files of active/next/ changed */
	int seen;                      /* 1: snapshot @seen_id, 2: branch @seen_id */
	const char *seen_id;
	const char *seen_name;         /* NULL: it is gone */
	bool seen_expiry;              /* snapshot @seen_id expires at @expires (0: never) */
	time_t expires;
	const char *object;            /* the changed object as Neon sent it, or NULL */
};
/* Tells the other mounts (n NULL: nothing). Never fails the change: a notice that cannot
 * be sent is logged, and the others find the change by polling. */
void notify_send(struct notify *n, const struct notify_change *c);

#endif
