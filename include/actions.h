/* actions: what changes Neon or the checkpoint records, for a user's verb. No FUSE types.
 *
 * Each action checks its input before any API call, makes the calls, waits for Neon's
 * operations, and then has its side effects (drop stale caches, tell the watcher, emit the
 * event, log) happen through one function. Every failure is logged with its reason and
 * returned as -errno. */
#ifndef NEONFS_ACTIONS_H
#define NEONFS_ACTIONS_H

#include <stdbool.h>
#include <stddef.h>

struct project;
struct events;
struct watcher;
struct restore;
struct actions;

struct actions_config {
	double op_timeout;          /* seconds to wait for Neon's operations */
	int keep_old_branches;      /* replaced branches a verified restore keeps; -1: all */
	size_t attachment_max;      /* bytes per attachment */
	long long snapshot_ttl;     /* seconds: each snapshot made here expires so long after */
};

struct actions *actions_new(const struct actions_config *cfg, struct project *p,
			    struct events *ev, struct watcher *w, struct restore *r);
void actions_free(struct actions *a);
/* Other mounts of the meta database are told of each change through @n (notify.h). */
struct notify;
void actions_set_notify(struct actions *a, struct notify *n);

/* mkdir snapshots/<name>: a snapshot of the active branch, its schema captured at the LSN it
 * is taken at, and the files of active/next/ attached to it with its record. The new
 * snapshot's id goes to @id. */
int action_snapshot_create(struct actions *a, const char *name, char *id, size_t idlen);
/* rmdir snapshots/<entry>, with its checkpoint record and attachments. */
int action_snapshot_delete(struct actions *a, const char *entry);
/* mv snapshots/<from> snapshots/<to>. */
int action_snapshot_rename(struct actions *a, const char *from, const char *to);

/* echo TIME > snapshots/<x>/expires_at: @buf is what was written, an RFC 3339 time or
 * "+7d"-style duration from now; blank (a newline only) clears the expiry. -EINVAL, with no
 * API call, for a malformed time or one not in the future. */
int action_snapshot_expiry(struct actions *a, const char *snapshot_id, const char *buf,
			   size_t len);

/* mkdir branches/<name>: from the active branch's head, with a compute. */
int action_branch_create(struct actions *a, const char *name, char *id, size_t idlen);
/* rmdir branches/<entry> (@preview false) or rm branches/<entry> (@preview true): -ENOTDIR
 * or -EISDIR when the entry is the other kind; -EPERM for the active, default or a
 * protected branch; -EBUSY while it has children. */
int action_branch_delete(struct actions *a, const char *entry, bool preview);
/* ln -s @target branches/<name>: a preview branch of the snapshot @target names
 * (../snapshots/<entry>), with a compute. */
int action_preview_create(struct actions *a, const char *target, const char *name,
			  char *id, size_t idlen);

/* echo <snapshot> > active/restore: @buf is what was written. */
int action_restore(struct actions *a, const char *buf, size_t len);
/* Is a restore from this mount running? */
bool action_restore_running(struct actions *a);

/* touch snapshots/<x>/schema for a snapshot made elsewhere: reads its schema through a
 * temporary branch (deleted again, whatever happens) and keeps it with the record. */
int action_schema_capture(struct actions *a, const char *snapshot_id);
/* Deletes temporary branches a killed neonfs left behind. Called at mount. */
void action_cleanup_temporary(struct actions *a);
/* Deletes the checkpoint records (and attachments) of snapshots Neon no longer has: what an
 * rmdir whose record could not be deleted, or a deletion made elsewhere, left. At mount. */
void action_cleanup_records(struct actions *a);

/* Attachments: files kept with a checkpoint in the meta database; @snapshot_id META_PENDING
 * names the files of active/next/. */
int action_attachment_create(struct actions *a, const char *snapshot_id, const char *name,
			     bool exclusive);
int action_attachment_store(struct actions *a, const char *snapshot_id, const char *name,
			    const char *data, size_t len);
int action_attachment_delete(struct actions *a, const char *snapshot_id, const char *name);
int action_attachment_rename(struct actions *a, const char *snapshot_id, const char *from,
			     const char *to, bool noreplace);

#endif
