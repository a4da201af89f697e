/* restore: a finalized restore into the active branch, and what `cat active/restore` says.
 *
 * One restore of a project at a time, across the mounts sharing a meta database. Its
 * progress is kept as a record that the status file renders as JSON: snapshot, state,
 * times, each operation, how the result was verified, and the error when it failed. */
#ifndef NEONFS_RESTORE_H
#define NEONFS_RESTORE_H

#include <stdbool.h>
#include <stddef.h>

struct api;
struct api_error;
struct pg_pool;
struct meta;
struct neon_operation;

struct restore;

struct restore_request {
	const char *snapshot_id;
	const char *snapshot_name;
	const char *branch_name;   /* the active branch, by name */
	const char *branch_id;     /* its id right now */
	const char *verify_uri;    /* the connection string users hold; must reach the data */
	double timeout_s;
	bool clean_old;            /* delete the replaced branch once verified */
};

struct restore *restore_new(struct api *api, struct pg_pool *pool, struct meta *meta);
void restore_free(struct restore *r);

/* Runs the restore; blocks until done. Under the meta database's lock (when there is one)
 * the target is looked up again by name, and again after every 423. 0 and the new branch id
 * in @new_branch_id, or -EBUSY (another restore runs, through this mount or another, or
 * Neon stayed locked for api_timeout), -EIO (failed; the reason is in the status),
 * -ETIMEDOUT. @target_id (as large as @new_branch_id) receives the id the restore was
 * sent to, or would have been: @req->branch_id unless another restore replaced it. */
int restore_run(struct restore *r, const struct restore_request *req,
		char *target_id, char *new_branch_id, size_t idlen);

/* Is a restore running now? */
bool restore_running(struct restore *r);

/* The status file's text: JSON, newline-terminated, malloc'd. */
char *restore_status(struct restore *r);

/* Record keeping, exposed for tests: a record can be filled without a server. */
int restore_record_begin(struct restore *r, const struct restore_request *req);
void restore_record_operations(struct restore *r, const struct neon_operation *ops, size_t n);
void restore_record_target(struct restore *r, const char *branch_id);
void restore_record_verified(struct restore *r, const char *how);
void restore_record_end(struct restore *r, int err, const char *branch_after, const char *error);

#endif
