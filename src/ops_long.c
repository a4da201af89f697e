/* ops_long: the actions that wait on Neon (mkdir, rmdir, mv, ln -s, rm of a preview, a
 * restore), parked and answered from the worker pool. Part of ops: like ops.c it answers
 * the kernel, and nothing else does. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fs.h"
#include "log.h"
#include "node.h"
#include "ops_internal.h"
#include "worker.h"

/* ---- long actions: parked, answered from the worker pool ---- */

/* mkdir, rmdir, ln -s, a restore ... wait on Neon's operations for seconds or minutes. They
 * run on the worker pool, so no thread of the FUSE loop waits with them, and a caller
 * that is interrupted (Ctrl-C, kill) is released at once with EINTR: the action itself goes
 * on to its end, as a restore or snapshot Neon has accepted cannot be called back, and
 * what it did shows in the tree, the log and events. */
enum ops_answer { ANSWER_ERR, ANSWER_ENTRY, ANSWER_WRITE };

struct ops_job {
	struct ops_job *next;          /* in ops_jobs while its request is unanswered */
	fuse_req_t req;
	bool answered;
	enum ops_answer answer;
	int (*work)(struct ops_job *j);
	const struct node_ops *o;
	struct fs *fs;
	struct node_ctx *c;            /* held (fs_hold) until the job is freed */
	struct tree_node node;         /* the directory, or the file written */
	struct node_handle *h;         /* a write's open file (a reference held) */
	unsigned int flags;
	size_t size;
	off_t off;                     /* where a write was made: the node judges it */
	char *arg;                     /* the link target, or the bytes written */
	char name[1025];               /* FUSE passes names of up to 1024 bytes */
	char newname[1025];
	char what[2200];               /* for the log */
	struct tree_node child;        /* ANSWER_ENTRY */
	ssize_t written;               /* ANSWER_WRITE */
};

static pthread_mutex_t ops_jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ops_job *ops_jobs;

/* The caller gave up (a signal): it gets EINTR now, and the action runs on. */
static void ops_interrupted(fuse_req_t req, void *data)
{
	struct ops_job *j;

	pthread_mutex_lock(&ops_jobs_lock);
	for (j = ops_jobs; j; j = j->next) {
		if (j == data && j->req == req && !j->answered) {
			j->answered = true;
			log_info("%s: the caller was interrupted; the action goes on to its end",
				 j->what);
			fuse_reply_err(req, EINTR);
			break;
		}
	}
	pthread_mutex_unlock(&ops_jobs_lock);
}

static void ops_job_free(struct ops_job *j)
{
	if (j->h)
		ops_handle_put(j->fs, j->c, j->h);
	fs_drop(j->fs, j->c);
	free(j->arg);
	free(j);
}

static void ops_job_run(void *data)
{
	struct ops_job *j = data, **pp;
	struct fs_scope scope;
	bool answered;
	int res;

	/* What the answer looks up (a new project's directory) is held as in a request. */
	fs_scope_begin(j->fs, &scope);
	res = j->work(j);
	pthread_mutex_lock(&ops_jobs_lock);
	for (pp = &ops_jobs; *pp; pp = &(*pp)->next) {
		if (*pp == j) {
			*pp = j->next;
			break;
		}
	}
	answered = j->answered;
	j->answered = true;
	pthread_mutex_unlock(&ops_jobs_lock);
	if (answered) {
		if (res)
			log_err("%s, after its caller was interrupted: %s", j->what, strerror(-res));
		else
			log_info("%s: done, after its caller was interrupted", j->what);
	} else if (res) {
		ops_fail(j->req, -res, "%s", j->what);
	} else if (j->answer == ANSWER_ENTRY) {
		ops_reply_entry(j->req, &j->child, j->name);
	} else if (j->answer == ANSWER_WRITE) {
		fuse_reply_write(j->req, (size_t)j->written);
	} else {
		fuse_reply_err(j->req, 0);
	}
	ops_job_free(j);
	fs_scope_end(&scope);
}

/* Parks @j's request and runs it on the pool (here, when the pool cannot take it). */
static void ops_park(struct ops_job *j)
{
	/* The job keeps its project open to its end, after its request's scope. */
	fs_hold(j->fs, j->c);
	pthread_mutex_lock(&ops_jobs_lock);
	j->next = ops_jobs;
	ops_jobs = j;
	pthread_mutex_unlock(&ops_jobs_lock);
	/* Registered outside the lock: an interrupt that came already is delivered here. */
	fuse_req_interrupt_func(j->req, ops_interrupted, j);
	if (worker_submit(j->c->workers, ops_job_run, j) != 0)
		ops_job_run(j);
}

static struct ops_job *ops_job_new(fuse_req_t req, const struct tree_node *n,
				   const struct node_ops *o, enum ops_answer answer,
				   int (*work)(struct ops_job *j))
{
	struct ops_job *j = calloc(1, sizeof(*j));

	if (!j) {
		ops_fail(req, ENOMEM, "out of memory");
		return NULL;
	}
	j->req = req;
	j->fs = fuse_req_userdata(req);
	j->c = ops_ctx(req, n->ino);
	j->node = *n;
	j->o = o;
	j->answer = answer;
	j->work = work;
	return j;
}

static int ops_work_mkdir(struct ops_job *j)
{
	return j->o->mkdir(j->c, &j->node, j->name, &j->child);
}

static int ops_work_rmdir(struct ops_job *j)
{
	return j->o->rmdir(j->c, &j->node, j->name);
}

static int ops_work_unlink(struct ops_job *j)
{
	return j->o->unlink(j->c, &j->node, j->name);
}

static int ops_work_symlink(struct ops_job *j)
{
	return j->o->symlink(j->c, &j->node, j->name, j->arg, &j->child);
}

static int ops_work_rename(struct ops_job *j)
{
	return j->o->rename(j->c, &j->node, j->name, j->newname, j->flags);
}

static int ops_work_write(struct ops_job *j)
{
	j->written = j->o->write(j->c, j->h, j->arg, j->size, j->off);
	return j->written < 0 ? (int)j->written : 0;
}

/* A job for @verb on @name in directory @p, parked; the node type's op must exist. */
static void ops_long(fuse_req_t req, const struct tree_node *p, const struct node_ops *o,
		     enum ops_answer answer, int (*work)(struct ops_job *j), const char *verb,
		     const char *name, const char *newname, const char *arg, unsigned int flags)
{
	struct ops_job *j = ops_job_new(req, p, o, answer, work);

	if (!j)
		return;
	snprintf(j->name, sizeof(j->name), "%s", name);
	if (newname)
		snprintf(j->newname, sizeof(j->newname), "%s", newname);
	j->flags = flags;
	if (arg && !(j->arg = strdup(arg))) {
		free(j);
		ops_fail(req, ENOMEM, "out of memory");
		return;
	}
	snprintf(j->what, sizeof(j->what), "%s %s%s%s in %s", verb, name, newname ? " to " : "",
		 newname ? newname : "", o->what);
	ops_park(j);
}

void ops_park_write(fuse_req_t req, struct node_handle *h, const struct node_ops *o,
		    const char *buf, size_t size, off_t off)
{
	struct ops_job *j = ops_job_new(req, &h->node, o, ANSWER_WRITE, ops_work_write);

	if (!j)
		return;
	j->arg = malloc(size ? size : 1);
	if (!j->arg) {
		free(j);
		ops_fail(req, ENOMEM, "out of memory");
		return;
	}
	memcpy(j->arg, buf, size);
	j->size = size;
	j->off = off;
	j->h = ops_handle_get(h);
	snprintf(j->what, sizeof(j->what), "restore (write to active/restore)");
	ops_park(j);
}

void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct node_ops *o;
	struct node_ctx *c;
	struct tree_node p;

	(void)mode;
	if (!ops_node(req, parent, true, &c, &p))
		return;
	o = ops_for(p.kind);
	if (!o->mkdir) {
		ops_refuse(req, &p, VERB_MKDIR, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ENTRY, ops_work_mkdir, "mkdir", name, NULL, NULL, 0);
}

void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_ops *o;
	struct node_ctx *c;
	struct tree_node p;

	if (!ops_node(req, parent, true, &c, &p))
		return;
	o = ops_for(p.kind);
	if (!o->rmdir) {
		ops_refuse(req, &p, VERB_RMDIR, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ERR, ops_work_rmdir, "rmdir", name, NULL, NULL, 0);
}

void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_ops *o;
	struct node_ctx *c;
	struct tree_node p;

	if (!ops_node(req, parent, true, &c, &p))
		return;
	o = ops_for(p.kind);
	if (!o->unlink) {
		ops_refuse(req, &p, VERB_UNLINK, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ERR, ops_work_unlink, "rm", name, NULL, NULL, 0);
}

void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	const struct node_ops *o;
	struct node_ctx *c;
	struct tree_node p;

	if (!ops_node(req, parent, true, &c, &p))
		return;
	o = ops_for(p.kind);
	if (!o->symlink) {
		ops_refuse(req, &p, VERB_SYMLINK, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ENTRY, ops_work_symlink, "ln -s", name, NULL, link, 0);
}

void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	const struct node_ops *o;
	struct node_ctx *c;
	struct tree_node p;

	if (!ops_node(req, parent, true, &c, &p))
		return;
	if (flags & ~RENAME_NOREPLACE) {
		ops_fail(req, EINVAL, "rename %s: exchange and whiteout are not supported", name);
		return;
	}
	if (parent != newparent) {
		ops_fail(req, EXDEV, "rename %s: only within one directory", name);
		return;
	}
	o = ops_for(p.kind);
	if (!o->rename) {
		ops_refuse(req, &p, VERB_RENAME, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ERR, ops_work_rename, "mv", name, newname, NULL, flags);
}
