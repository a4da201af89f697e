/* notify_hub: the one connection and thread a mount hears other mounts' notices on.
 *
 * Every project of the mount (one, or each opened project of an organization) joins with
 * its channel; the hub LISTENs on it at once when connected, and on every channel again
 * when it connects anew, and hands each notice to the project of its channel. A mount of
 * 500 projects thus holds one session of the meta database, not 500. */
#ifndef NEONFS_NOTIFY_HUB_H
#define NEONFS_NOTIFY_HUB_H

#include <stdbool.h>

struct notify_hub;
struct notify_hub_entry;

/* What the hub asks of a project that joined; called on the hub's thread, no lock held. */
struct notify_hub_client {
	void (*hear)(void *data, const char *payload);
	/* Notices were missed while the connection was lost: listings are read again. */
	void (*missed)(void *data);
	/* Is the project in use? An idle mount does not connect. */
	bool (*wanted)(void *data);
	void *data;
};

/* NULL without @conninfo (no meta database) or memory. */
struct notify_hub *notify_hub_new(const char *conninfo);
void notify_hub_free(struct notify_hub *h);
/* Starts the thread (after the daemon's fork). 0 or -errno. */
int notify_hub_start(struct notify_hub *h);
void notify_hub_stop(struct notify_hub *h);

/* Who this mount is in a notice: its own are ignored. */
const char *notify_hub_mount(const struct notify_hub *h);
/* The meta database did not answer the last try: notices are not sent. */
bool notify_hub_away(struct notify_hub *h);

/* Listens on @channel for @c; returns once the hub listens on it or one try to connect
 * failed, so no change told from then on is missed. NULL: out of memory. */
struct notify_hub_entry *notify_hub_join(struct notify_hub *h, const char *channel,
					 const struct notify_hub_client *c);
/* Stops listening; once it returns, @c is called no more. */
void notify_hub_leave(struct notify_hub *h, struct notify_hub_entry *e);

#endif
