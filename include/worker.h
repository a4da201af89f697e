/* worker: a bounded pool of threads for actions that wait on Neon for seconds or minutes
 * (mkdir, rmdir, a restore, a preview), so they hold none of the FUSE loop's threads and
 * `ls` keeps answering while hundreds of them run. */
#ifndef NEONFS_WORKER_H
#define NEONFS_WORKER_H

#include <stddef.h>

struct worker_pool;

struct worker_pool *worker_pool_new(size_t threads);
/* Runs what was queued, then joins the threads. */
void worker_pool_free(struct worker_pool *p);

/* Queues @run(@data) to run on a pool thread. 0, or -ENOMEM (the caller runs it itself). */
int worker_submit(struct worker_pool *p, void (*run)(void *data), void *data);

#endif
