/* restore_settle: a restore whose end neonfs did not see, settled from what Neon shows.
 *
 * Two cases: the answer to the restore request was lost (Neon may or may not have done
 * it), and a neonfs that died after it wrote the restore's intent to the audit log. Neon
 * tells: a restore from snapshot S into branch T made a branch with `restored_from` S,
 * which, once finalized, has `restored_as` T. */
#ifndef NEONFS_RESTORE_SETTLE_H
#define NEONFS_RESTORE_SETTLE_H

#include <stddef.h>
#include <time.h>

struct api;
struct meta;
struct restore;
struct worker_pool;

/* Did Neon restore @snapshot_id into @target_id, asked for at @since? Waits, until
 * @deadline (util_now() clock), for a restore under way to be finalized. 0 and its branch
 * in @new_id when it was; -ENOENT when Neon shows no such restore (nothing was done);
 * -ETIMEDOUT when it was still under way at @deadline; another -errno when Neon could not
 * be asked. The reason is in @msg. */
int restore_settle_wait(struct api *api, const char *snapshot_id, const char *target_id,
			time_t since, double deadline, char *new_id, size_t idlen,
			char *msg, size_t msglen);

/* The branch @branch_id a restore made, whose operations then ended in error, is deleted
 * unless Neon finalized it (it holds the active branch's name, or replaced a branch).
 * 0 when it was deleted. */
int restore_settle_drop_unfinished(struct api *api, const char *branch_id, double timeout_s);

/* At mount: the restores the audit log still shows running are settled from Neon, under
 * the restore lock, on @workers (one may still be under way there), each waited for up to
 * @timeout_s. The newest shows in the status file as running meanwhile, then as it ended.
 * @branch_name: the active branch's name. @done(@done_data), when not NULL, is called once
 * nothing of this uses @r, @api and @meta any more: at once, or at the end on the pool. */
void restore_settle_start(struct restore *r, struct api *api, struct meta *meta,
			  struct worker_pool *workers, const char *branch_name, double timeout_s,
			  void (*done)(void *data), void *done_data);

#endif
