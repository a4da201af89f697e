/* What the files of the actions module share; nothing outside actions*.c includes this. */
#ifndef NEONFS_ACTIONS_INTERNAL_H
#define NEONFS_ACTIONS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "actions.h"

struct neon_answer;

/* A temporary branch that reads a snapshot's schema is named with this, the snapshot id,
 * the process and a counter: two mounts capturing at once never collide, and a remount
 * knows what a killed neonfs left. */
#define ACTION_TEMP_PREFIX "neonfs-schema-"

struct actions {
	struct actions_config cfg;
	struct project *p;
	struct events *events;
	struct watcher *watcher;
	struct restore *restore;
	struct notify *notify;         /* NULL without a meta database */
	unsigned long temp_seq;
};

/* The side effects of a change made through the mount, all in one place. */
struct change {
	unsigned forget;               /* PROJECT_* caches it made stale */
	const char *attachments_of;    /* a snapshot whose attachments changed */
	bool pending;                  /* the files of active/next/ changed */
	const char *event;             /* the events line, or NULL */
	const char *fields[8];         /* its name/value pairs; a NULL name ends them */
	int seen;                      /* 1: a snapshot, 2: a branch the watcher must know of */
	const char *seen_id;
	const char *seen_name;         /* NULL: it is gone */
	bool seen_expiry;              /* the watcher learns when snapshot @seen_id expires */
	time_t expires;                /* 0: it does not */
	/* The changed object as Neon sent it (JSON): other mounts patch their listing with it. */
	const char *object;
};

/* The side effects of a change, all in one place: caches, watcher, event. */
void action_done(struct actions *a, const struct change *c);
/* Waits for an answer's operations; logs why when they fail. */
int action_wait(struct actions *a, const struct neon_answer *ans, const char *what);
/* action_wait, with a @kind event (e.g. "snapshot.progress") for @name at most once a
 * second while Neon works. */
int action_wait_progress(struct actions *a, const struct neon_answer *ans, const char *what,
			 const char *kind, const char *name);
/* Gives a branch Neon made for us a compute, unless Neon made one with it. */
int action_compute(struct actions *a, const struct neon_answer *made, const char *branch_id,
		   const char *what);

/* Changes through the mount, told to the watcher while they are under way so that what it
 * sees meanwhile is not taken for a change made elsewhere. */
#define ACTION_LOCAL(call) do { \
	int res_; \
	watcher_local_begin(a->watcher); \
	res_ = (call); \
	watcher_local_end(a->watcher); \
	return res_; \
} while (0)

/* A new snapshot (@snapshot) or branch name: one Neon accepts and no entry shows yet. */
int action_name_free(struct actions *a, bool snapshot, const char *name);
struct api_error;
/* An action ran into one of Neon's limits (@kind, quota.h): remember it and say in the log
 * which limit and what to delete. */
void action_at_limit(struct actions *a, const struct api_error *err, int kind,
		     const char *what);

/* After an answer lost on the way back: 1 when Neon shows the delete (@name NULL) or the
 * rename to @name of object @id done, 0 when not, -errno when it cannot be told. */
int action_lost_answer_done(struct actions *a, bool snapshot, const char *id, const char *name);

#endif
