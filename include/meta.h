/* meta: the checkpoint records, attachments and restore audit log, kept in a Postgres
 * database separate from the project, so no restore can roll them back.
 *
 * All calls return 0 or -errno with the reason in @msg. Without a meta database
 * (meta_open failed or none given) every call returns -ENOTSUP. If the database goes
 * away during use, calls fail with -EIO/-ETIMEDOUT and later calls reconnect. */
#ifndef NEONFS_META_H
#define NEONFS_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct meta;

/* Connects to @url and applies pending migrations. @timeout_s bounds each connect and
 * statement (0: the defaults). Returns NULL with words in @msg when the database cannot be
 * reached or migrated; neonfs then mounts without it. */
struct meta *meta_open(const char *url, const char *project_id, double timeout_s,
		       char *msg, size_t msglen);
void meta_close(struct meta *m);
/* The records of project @project_id in @base's database, through @base's connections (an
 * organization's mount: one pool for every project, not one each). @base outlives it. */
struct meta *meta_for_project(struct meta *base, const char *project_id);

/* The checkpoint record of a snapshot. */
struct meta_checkpoint {
	char snapshot_id[64];
	char name[260];
	char created_at[40];   /* ISO 8601 */
	char lsn[32];          /* "" when unknown */
	char *schema;          /* NULL when not captured; malloc'd, free with meta_checkpoint_clear */
};
void meta_checkpoint_clear(struct meta_checkpoint *c);

/* Inserts or replaces the record for @c->snapshot_id (schema may be NULL). */
int meta_checkpoint_put(struct meta *m, const struct meta_checkpoint *c, char *msg, size_t msglen);
/* As meta_checkpoint_put, and in the same transaction every pending file (META_PENDING)
 * becomes an attachment of the snapshot: both happen or neither does. @attached: how many
 * files were moved (may be NULL). */
int meta_checkpoint_put_with_pending(struct meta *m, const struct meta_checkpoint *c,
				     size_t *attached, char *msg, size_t msglen);
/* -ENOENT when there is no record. */
int meta_checkpoint_get(struct meta *m, const char *snapshot_id, struct meta_checkpoint *c,
			char *msg, size_t msglen);
int meta_checkpoint_rename(struct meta *m, const char *snapshot_id, const char *name,
			   char *msg, size_t msglen);
/* Stores a schema captured later (materialized through a preview branch). */
int meta_checkpoint_set_schema(struct meta *m, const char *snapshot_id, const char *schema,
			       char *msg, size_t msglen);
/* Deletes the record and its attachments. */
int meta_checkpoint_delete(struct meta *m, const char *snapshot_id, char *msg, size_t msglen);
/* What listings need of every record of this project, in one query: sorted by snapshot id,
 * "" for a field that is NULL. *list is malloc'd (free()). */
struct meta_record {
	char snapshot_id[64];
	char name[260];
	char created_at[40];
	char lsn[32];
	bool has_schema;
};
int meta_checkpoint_list(struct meta *m, struct meta_record **list, size_t *count,
			 char *msg, size_t msglen);

/* Attachments: files stored with a checkpoint. The snapshot id META_PENDING names the
 * pending files of active/next/ instead: they belong to no snapshot yet, and the next
 * meta_checkpoint_put_with_pending attaches them. */
#define META_PENDING ""
struct meta_attachment {
	char name[256];
	int64_t size;
	int64_t created_at;    /* unix seconds */
	int64_t updated_at;
};
/* *list is malloc'd (free()), *count entries, sorted by name. */
int meta_attachment_list(struct meta *m, const char *snapshot_id,
			 struct meta_attachment **list, size_t *count, char *msg, size_t msglen);
int meta_attachment_get(struct meta *m, const char *snapshot_id, const char *name,
			char **data, size_t *len, struct meta_attachment *info,
			char *msg, size_t msglen);
/* Creates or replaces the attachment's whole content. */
int meta_attachment_put(struct meta *m, const char *snapshot_id, const char *name,
			const char *data, size_t len, char *msg, size_t msglen);
/* A new, empty attachment; -EEXIST when one of that name exists (whoever made it). */
int meta_attachment_create(struct meta *m, const char *snapshot_id, const char *name,
			   char *msg, size_t msglen);
/* Renames in one statement. @noreplace: -EEXIST when @to exists; otherwise @to is replaced. */
int meta_attachment_rename(struct meta *m, const char *snapshot_id, const char *from,
			   const char *to, bool noreplace, char *msg, size_t msglen);
int meta_attachment_delete(struct meta *m, const char *snapshot_id, const char *name,
			   char *msg, size_t msglen);

/* Restores of this project, one at a time across every mount of this meta database: a
 * lock held on a connection of its own until meta_restore_unlock. @holder says who
 * takes it ("pid N on HOST"), for the message another mount gets: -EBUSY "a restore of this
 * project is running through another mount (pid N on HOST)". Other failures: -errno, the
 * lock is not taken. The server drops the lock when the connection or neonfs dies. */
struct meta_lock;
int meta_restore_lock(struct meta *m, const char *holder, struct meta_lock **lock,
		      char *msg, size_t msglen);
/* Releases and frees @lock (NULL: nothing). -ENOLCK or -EIO when the lock turned out to
 * have been lost meanwhile (its connection broke); it is released either way. */
int meta_restore_unlock(struct meta *m, struct meta_lock *lock, char *msg, size_t msglen);

/* Restore audit log. */
struct meta_restore {
	char snapshot_id[64];
	char snapshot_name[260];
	char branch_before[64];
	char branch_after[64];   /* "" until known */
	char user[64];           /* the mount's user */
	char host[256];
	char outcome[16];        /* "running", "finished", "failed" */
	char error[512];
};
int meta_restore_begin(struct meta *m, const struct meta_restore *r, int64_t *audit_id,
		       char *msg, size_t msglen);
int meta_restore_end(struct meta *m, int64_t audit_id, const struct meta_restore *r,
		     char *msg, size_t msglen);
/* Restores the log still shows running (their neonfs died, or its link to this database
 * did, before it wrote how they ended), oldest first. *list is malloc'd (free()). */
struct meta_restore_row {
	int64_t id;
	int64_t started_at;      /* unix seconds */
	struct meta_restore r;   /* outcome "running" */
};
int meta_restore_unsettled(struct meta *m, struct meta_restore_row **list, size_t *count,
			   char *msg, size_t msglen);
/* The last @limit restores (<= 0: all), newest first: *rows is their text, one JSON array
 * (model_restore_log), malloc'd. */
int meta_restore_log(struct meta *m, int limit, char **rows, char *msg, size_t msglen);

/* Notices between the mounts of this meta database (notify.h): NOTIFY @channel with
 * @payload (under 8000 bytes), delivered to every session that LISTENs on it. */
int meta_notify(struct meta *m, const char *channel, const char *payload, char *msg,
		size_t msglen);
/* The meta database's connection string, for a connection of its own (the listener's). */
const char *meta_conninfo(const struct meta *m);

#endif
