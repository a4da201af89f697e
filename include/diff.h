/* diff: what changed between what the watcher saw and a fresh listing.
 *
 * A pure function over plain data, so every case (created, deleted, renamed, restored
 * elsewhere) is unit-tested without a server. The watcher keeps a seen map per kind
 * (snapshots, branches): id -> name and the entry it was shown under. Changes made through
 * the mount update the map at once, so only changes made elsewhere come out of a diff. */
#ifndef NEONFS_DIFF_H
#define NEONFS_DIFF_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "model.h"
#include "names.h"

struct diff_seen;

struct diff_seen *diff_seen_new(void);
void diff_seen_free(struct diff_seen *s);
/* Records (or replaces) @id as shown under @entry with @name; removes it when @name is NULL. */
void diff_seen_set(struct diff_seen *s, const char *id, const char *name, const char *entry);
/* When snapshot @id expires (0: never), as a change through the mount set it. */
void diff_seen_set_expiry(struct diff_seen *s, const char *id, time_t expires);
/* Replaces the whole map with what @l lists (snapshots with their expiry) (snapshots or branches). */
void diff_seen_reset(struct diff_seen *s, const struct model_list *l);
/* The name seen for @id, or NULL. */
const char *diff_seen_name(const struct diff_seen *s, const char *id);
/* The entry @id was shown under, or NULL. */
const char *diff_seen_entry(const struct diff_seen *s, const char *id);
size_t diff_seen_count(const struct diff_seen *s);

enum diff_kind {
	DIFF_CREATED = 1,   /* snapshot.created / branch.created */
	DIFF_DELETED,       /* snapshot.deleted / branch.deleted */
	DIFF_EXPIRED,       /* snapshot.expired: a snapshot gone after its seen expiry passed
			     * (Neon deleted it); otherwise as DIFF_DELETED */
	DIFF_RENAMED,       /* snapshot.renamed / branch.renamed */
	DIFF_RESTORED,      /* restore.finished made elsewhere: a branch took the name of the
			     * branch it replaced (restore_status "finalized", restored_as = the
			     * id we saw under that name) */
};

struct diff_change {
	enum diff_kind kind;
	bool snapshot;                   /* a snapshot, else a branch */
	char id[64];
	char name[NAMES_MAX + 1];
	char entry[NAMES_MAX + 1];       /* where it shows now ("" when deleted) */
	char old_name[NAMES_MAX + 1];    /* renamed, deleted: the name it had */
	char old_entry[NAMES_MAX + 1];   /* renamed, deleted: the entry it was shown under */
	/* DIFF_RESTORED only: */
	char snapshot_id[64];
	char snapshot_name[NAMES_MAX + 1];   /* from @snapshots_seen; "" when unknown */
	char branch_id_before[64];
};

/* A snapshot gone up to this many seconds before its expiry counts as expired: Neon's clock
 * and ours need not agree to the second. */
#define DIFF_EXPIRY_SLACK 5

/* Compares @seen (of the kind @fresh lists) with @fresh at time @now. @snapshots_seen names
 * snapshots for restore changes (may be NULL). Writes a malloc'd array to *out (NULL when none) and
 * returns how many changes, or -ENOMEM. Order: for each object of @fresh in listing order
 * its changes (a restored branch whose name also changed gives DIFF_RESTORED then
 * DIFF_RENAMED; a new branch that is a restore gives DIFF_RESTORED only), then deletions.
 * Neither @seen nor @fresh is changed. */
int diff_compute(const struct diff_seen *seen, const struct diff_seen *snapshots_seen,
		 const struct model_list *fresh, time_t now, struct diff_change **out);

#endif
