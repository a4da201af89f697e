/* ops: the FUSE low-level operations table, and the only place that answers the kernel.
 *
 * Each operation maps its inode to a node (tree.h), calls that node type's operation
 * (node.h, one file per type under node/), and replies. Every errno it returns is logged
 * with its reason; what a node type does not support is refused here, from one table. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/statvfs.h>

#include "fs.h"
#include "log.h"
#include "node.h"
#include "ops.h"
#include "reply.h"
#include "worker.h"

/* ---- answering the kernel ---- */

void reply_err(fuse_req_t req, int err)
{
	fuse_reply_err(req, err);
}

void reply_buf(fuse_req_t req, const char *buf, size_t len)
{
	fuse_reply_buf(req, buf, len);
}

static void ops_fail(fuse_req_t req, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* Every errno a user gets is also said in words. ENOENT is what lookups of names that do
 * not exist get all day long (shells, editors): not worth an error line. */
static void ops_fail(fuse_req_t req, int err, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (err == ENOENT)
		log_debug("%s (%s)", msg, strerror(err));
	else
		log_err("%s (%s)", msg, strerror(err));
	fuse_reply_err(req, err);
}

/* ---- what each node type does, and what it refuses ---- */

static const struct node_ops *ops_for(enum tree_kind kind)
{
	switch (kind) {
	case TREE_ROOT:          return &node_root_ops;
	case TREE_SNAPSHOTS:     return &node_snapshots_ops;
	case TREE_SNAPSHOT:      return &node_snapshot_ops;
	case TREE_BRANCHES:      return &node_branches_ops;
	case TREE_BRANCH:        return &node_branch_ops;
	case TREE_PREVIEW:       return &node_preview_ops;
	case TREE_ACTIVE:        return &node_active_ops;
	case TREE_RESTORE:       return &node_restore_ops;
	case TREE_EXPIRES:       return &node_expires_ops;
	case TREE_LIMITS:        return &node_limits_ops;
	case TREE_EVENTS:        return &node_events_ops;
	case TREE_ATTACHMENT:    return &node_attachment_ops;
	case TREE_SNAPSHOT_FILE:
	case TREE_BRANCH_FILE:
	case TREE_ACTIVE_FILE:   return &node_file_ops;
	}
	return &node_root_ops;
}

enum ops_verb {
	VERB_LOOKUP, VERB_READDIR, VERB_MKDIR, VERB_RMDIR, VERB_UNLINK, VERB_SYMLINK,
	VERB_RENAME, VERB_CREATE, VERB_READLINK, VERB_OPEN, VERB_WRITE, VERB_TRUNCATE,
	VERB_CHMOD, VERB_READ,
};

/* What a node type that lacks an operation answers (DESIGN.md: anything else that would
 * change the tree is refused with a clear errno, never silently accepted). */
static const struct {
	int err;
	const char *why;
} ops_refusals[] = {
	[VERB_LOOKUP]   = { ENOTDIR, "not a directory" },
	[VERB_READDIR]  = { ENOTDIR, "not a directory" },
	[VERB_MKDIR]    = { EPERM, "only snapshots/ and branches/ take new directories" },
	[VERB_RMDIR]    = { EPERM, "only snapshots and branches can be removed" },
	[VERB_UNLINK]   = { EPERM, "only attachments and preview links can be removed" },
	[VERB_SYMLINK]  = { EPERM, "links are made in branches/: ln -s ../snapshots/<name>" },
	[VERB_RENAME]   = { EPERM, "only snapshots and attachments can be renamed" },
	[VERB_CREATE]   = { EPERM, "files can only be added to a snapshot's directory" },
	[VERB_READLINK] = { EINVAL, "not a link" },
	[VERB_OPEN]     = { EISDIR, "a directory" },
	[VERB_WRITE]    = { EACCES, "a read-only file" },
	[VERB_TRUNCATE] = { EACCES, "a read-only file" },
	[VERB_CHMOD]    = { EPERM, "modes and owners are fixed" },
	[VERB_READ]     = { EISDIR, "a directory" },
};

static void ops_refuse(fuse_req_t req, const struct tree_node *n, enum ops_verb verb,
		       const char *name)
{
	int err = ops_refusals[verb].err;

	/* Creating a file where files are the mount's own (active/, a branch) is a matter of
	 * permission, as for a read-only directory. */
	if (verb == VERB_CREATE && (n->kind == TREE_ACTIVE || n->kind == TREE_BRANCH))
		err = EACCES;
	ops_fail(req, err, "%s%s%s: %s", ops_for(n->kind)->what, name ? ": " : "",
		 name ? name : "", ops_refusals[verb].why);
}

static struct node_ctx *ops_ctx(fuse_req_t req)
{
	return fs_node_ctx(fuse_req_userdata(req));
}

/* The node of @ino, or a reply of ENOENT. */
static bool ops_node(fuse_req_t req, fuse_ino_t ino, struct tree_node *n)
{
	int res = tree_get(ops_ctx(req)->tree, ino, n);

	if (res)
		ops_fail(req, -res, "inode %lu is not one neonfs gave out", (unsigned long)ino);
	return res == 0;
}

static double ops_timeout(const struct node_ctx *c, const struct tree_node *n)
{
	/* events grows with every change; pollers must see each new size. limits changes
	 * with any snapshot made anywhere, and its size is never to disagree with a read. */
	return n->kind == TREE_EVENTS || n->kind == TREE_LIMITS ? 0 : c->attr_timeout;
}

/* Answers with @child's entry, its attributes from its own type. */
static void ops_reply_entry(fuse_req_t req, const struct tree_node *child, const char *what)
{
	struct node_ctx *c = ops_ctx(req);
	struct fuse_entry_param e;
	int res;

	memset(&e, 0, sizeof(e));
	res = ops_for(child->kind)->getattr(c, child, &e.attr);
	if (res) {
		ops_fail(req, -res, "%s", what);
		return;
	}
	e.ino = child->ino;
	e.attr_timeout = ops_timeout(c, child);
	e.entry_timeout = c->attr_timeout;
	fuse_reply_entry(req, &e);
}

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
	struct node_ctx *c;
	struct tree_node node;         /* the directory, or the file written */
	struct node_handle *h;         /* a write's open file (a reference held) */
	unsigned int flags;
	size_t size;
	char *arg;                     /* the link target, or the bytes written */
	char name[256];
	char newname[256];
	char what[300];                /* for the log */
	struct tree_node child;        /* ANSWER_ENTRY */
	ssize_t written;               /* ANSWER_WRITE */
};

static pthread_mutex_t ops_jobs_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ops_job *ops_jobs;

static void ops_handle_put(struct node_ctx *c, struct node_handle *h);

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
		ops_handle_put(j->c, j->h);
	free(j->arg);
	free(j);
}

static void ops_job_run(void *data)
{
	struct ops_job *j = data, **pp;
	bool answered;
	int res = j->work(j);

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
}

/* Parks @j's request and runs it on the pool (here, when the pool cannot take it). */
static void ops_park(struct ops_job *j)
{
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
	j->c = ops_ctx(req);
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
	j->written = j->o->write(j->c, j->h, j->arg, j->size, 0);
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

/* ---- the operations ---- */

static void ops_init(void *userdata, struct fuse_conn_info *conn)
{
	(void)userdata;
	/* Listings change remotely; the kernel must ask again on every opendir. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->time_gran = 1000000000;
	/* O_TRUNC comes with open, not as a setattr under the inode lock: a second
	 * `echo x > active/restore` reaches open and can be told EBUSY at once. */
	if (conn->capable & FUSE_CAP_ATOMIC_O_TRUNC)
		conn->want |= FUSE_CAP_ATOMIC_O_TRUNC;
}

static void ops_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct node_ctx *c = ops_ctx(req);
	const struct node_ops *o;
	struct tree_node p, child;
	int res;

	if (!ops_node(req, parent, &p))
		return;
	o = ops_for(p.kind);
	if (!o->lookup) {
		ops_refuse(req, &p, VERB_LOOKUP, name);
		return;
	}
	res = o->lookup(c, &p, name, &child);
	if (res) {
		ops_fail(req, -res, "lookup %s in %s", name, o->what);
		return;
	}
	ops_reply_entry(req, &child, name);
}

static void ops_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node_ctx *c = ops_ctx(req);
	struct tree_node n;
	struct stat st;
	int res;

	(void)fi;
	if (!ops_node(req, ino, &n))
		return;
	res = ops_for(n.kind)->getattr(c, &n, &st);
	if (res) {
		ops_fail(req, -res, "stat %s %s%s", ops_for(n.kind)->what, n.obj, n.file);
		return;
	}
	fuse_reply_attr(req, &st, ops_timeout(c, &n));
}

static void ops_readlink(fuse_req_t req, fuse_ino_t ino)
{
	const struct node_ops *o;
	struct tree_node n;
	char target[PATH_MAX];
	int res;

	if (!ops_node(req, ino, &n))
		return;
	o = ops_for(n.kind);
	if (!o->readlink) {
		ops_refuse(req, &n, VERB_READLINK, NULL);
		return;
	}
	res = o->readlink(ops_ctx(req), &n, target, sizeof(target));
	if (res) {
		ops_fail(req, -res, "readlink %s", n.obj);
		return;
	}
	fuse_reply_readlink(req, target);
}

static void ops_dir_free(struct node_dir *d)
{
	size_t i;

	if (!d)
		return;
	for (i = 0; i < d->n; i++)
		free(d->ents[i].name);
	free(d->ents);
	free(d);
}

static void ops_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node_ctx *c = ops_ctx(req);
	const struct node_ops *o;
	struct node_dir *d;
	struct tree_node n;
	int res;

	if (!ops_node(req, ino, &n))
		return;
	o = ops_for(n.kind);
	if (!o->readdir) {
		ops_refuse(req, &n, VERB_READDIR, NULL);
		return;
	}
	d = calloc(1, sizeof(*d));
	res = d ? 0 : -ENOMEM;
	if (!res)
		res = node_dir_add(d, ".", n.ino, S_IFDIR);
	if (!res)
		res = node_dir_add(d, "..", tree_parent(c->tree, &n), S_IFDIR);
	if (!res)
		res = o->readdir(c, &n, d);
	if (res) {
		ops_dir_free(d);
		ops_fail(req, -res, "list %s", o->what);
		return;
	}
	fi->fh = (uint64_t)(uintptr_t)d;
	fuse_reply_open(req, fi);
}

static void ops_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			struct fuse_file_info *fi)
{
	struct node_dir *d = (struct node_dir *)(uintptr_t)fi->fh;
	char *buf = malloc(size ? size : 1);
	size_t used = 0;
	off_t i;

	(void)ino;
	if (!buf) {
		ops_fail(req, ENOMEM, "readdir: out of memory");
		return;
	}
	for (i = off; i < (off_t)d->n; i++) {
		struct stat st;
		size_t need;

		memset(&st, 0, sizeof(st));
		st.st_ino = d->ents[i].ino;
		st.st_mode = d->ents[i].mode;
		need = fuse_add_direntry(req, buf + used, size - used, d->ents[i].name, &st, i + 1);
		if (need > size - used)
			break;
		used += need;
	}
	fuse_reply_buf(req, buf, used);
	free(buf);
}

static void ops_releasedir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	ops_dir_free((struct node_dir *)(uintptr_t)fi->fh);
	fuse_reply_err(req, 0);
}

static void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	const struct node_ops *o;
	struct tree_node p;

	(void)mode;
	if (!ops_node(req, parent, &p))
		return;
	o = ops_for(p.kind);
	if (!o->mkdir) {
		ops_refuse(req, &p, VERB_MKDIR, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ENTRY, ops_work_mkdir, "mkdir", name, NULL, NULL, 0);
}

static void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_ops *o;
	struct tree_node p;

	if (!ops_node(req, parent, &p))
		return;
	o = ops_for(p.kind);
	if (!o->rmdir) {
		ops_refuse(req, &p, VERB_RMDIR, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ERR, ops_work_rmdir, "rmdir", name, NULL, NULL, 0);
}

static void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	const struct node_ops *o;
	struct tree_node p;

	if (!ops_node(req, parent, &p))
		return;
	o = ops_for(p.kind);
	if (!o->unlink) {
		ops_refuse(req, &p, VERB_UNLINK, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ERR, ops_work_unlink, "rm", name, NULL, NULL, 0);
}

static void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name)
{
	const struct node_ops *o;
	struct tree_node p;

	if (!ops_node(req, parent, &p))
		return;
	o = ops_for(p.kind);
	if (!o->symlink) {
		ops_refuse(req, &p, VERB_SYMLINK, name);
		return;
	}
	ops_long(req, &p, o, ANSWER_ENTRY, ops_work_symlink, "ln -s", name, NULL, link, 0);
}

static void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		       fuse_ino_t newparent, const char *newname, unsigned int flags)
{
	const struct node_ops *o;
	struct tree_node p;

	if (!ops_node(req, parent, &p))
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

static struct node_handle *ops_handle(struct fuse_file_info *fi)
{
	return (struct node_handle *)(uintptr_t)fi->fh;
}

/* An open file lives until it is released and no long write holds it any more. */
static struct node_handle *ops_handle_get(struct node_handle *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

static void ops_handle_put(struct node_ctx *c, struct node_handle *h)
{
	const struct node_ops *o;

	if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	o = ops_for(h->node.kind);
	if (o->release)
		o->release(c, h);
	free(h);
}

static void ops_set_handle(struct fuse_file_info *fi, struct node_handle *h)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = h->direct_io;
	fi->nonseekable = h->nonseekable;
}

static void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node_opener who = { fuse_req_ctx(req)->pid, fi->flags };
	const struct node_ops *o;
	struct node_handle *h;
	struct tree_node n;
	int res;

	if (!ops_node(req, ino, &n))
		return;
	o = ops_for(n.kind);
	if (!o->open) {
		ops_refuse(req, &n, VERB_OPEN, NULL);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY && !o->write) {
		ops_refuse(req, &n, VERB_WRITE, n.file[0] ? n.file : NULL);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ops_fail(req, ENOMEM, "open: out of memory");
		return;
	}
	h->node = n;
	h->refs = 1;
	res = o->open(ops_ctx(req), &n, &who, h);
	if (res) {
		free(h);
		ops_fail(req, -res, "open %s", n.file[0] ? n.file : o->what);
		return;
	}
	ops_set_handle(fi, h);
	if (fuse_reply_open(req, fi) != 0) {
		if (o->release)
			o->release(ops_ctx(req), h);
		free(h);
	}
}

static void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct node_ctx *c = ops_ctx(req);
	struct node_opener who = { fuse_req_ctx(req)->pid, fi->flags };
	struct fuse_entry_param e;
	const struct node_ops *o;
	struct node_handle *h;
	struct tree_node p, child;
	int res;

	(void)mode;
	if (!ops_node(req, parent, &p))
		return;
	o = ops_for(p.kind);
	if (!o->create) {
		ops_refuse(req, &p, VERB_CREATE, name);
		return;
	}
	h = calloc(1, sizeof(*h));
	if (!h) {
		ops_fail(req, ENOMEM, "create: out of memory");
		return;
	}
	res = o->create(c, &p, name, &who, &child, h);
	if (res) {
		free(h);
		ops_fail(req, -res, "create %s in %s", name, o->what);
		return;
	}
	h->node = child;
	h->refs = 1;
	memset(&e, 0, sizeof(e));
	res = ops_for(child.kind)->getattr(c, &child, &e.attr);
	if (res) {
		/* Made, but not to be seen yet (a listing failed): say what now holds. */
		node_fill(c, &e.attr, child.ino, S_IFREG | 0644, 0);
	}
	e.ino = child.ino;
	e.attr_timeout = c->attr_timeout;
	e.entry_timeout = c->attr_timeout;
	ops_set_handle(fi, h);
	if (fuse_reply_create(req, &e, fi) != 0) {
		if (ops_for(child.kind)->release)
			ops_for(child.kind)->release(c, h);
		free(h);
	}
}

static void ops_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		     struct fuse_file_info *fi)
{
	struct node_handle *h = ops_handle(fi);
	const struct node_ops *o = ops_for(h->node.kind);
	char *buf;
	ssize_t n;

	(void)ino;
	if (o->read_wait) {
		o->read_wait(ops_ctx(req), h, req, size, fi->flags & O_NONBLOCK);
		return;
	}
	if (!o->read) {
		ops_refuse(req, &h->node, VERB_READ, NULL);
		return;
	}
	buf = malloc(size ? size : 1);
	if (!buf) {
		ops_fail(req, ENOMEM, "read: out of memory");
		return;
	}
	n = o->read(ops_ctx(req), h, buf, size, off);
	if (n < 0)
		ops_fail(req, (int)-n, "read %s", h->node.file);
	else
		fuse_reply_buf(req, buf, (size_t)n);
	free(buf);
}

static void ops_write(fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size, off_t off,
		      struct fuse_file_info *fi)
{
	struct node_handle *h = ops_handle(fi);
	const struct node_ops *o = ops_for(h->node.kind);
	ssize_t n;

	(void)ino;
	if (!o->write) {
		ops_refuse(req, &h->node, VERB_WRITE, h->node.file);
		return;
	}
	if (h->node.kind == TREE_RESTORE || h->node.kind == TREE_EXPIRES) {
		/* A restore or an expiry: an API call, parked, with its own copy of what was
		 * written. */
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
		j->h = ops_handle_get(h);
		snprintf(j->what, sizeof(j->what), "%s", h->node.kind == TREE_RESTORE ?
			 "restore (write to active/restore)" : "write to a snapshot's expires_at");
		ops_park(j);
		return;
	}
	n = o->write(ops_ctx(req), h, buf, size, off);
	if (n < 0) {
		ops_fail(req, (int)-n, "write %s", h->node.file[0] ? h->node.file : o->what);
		return;
	}
	fuse_reply_write(req, (size_t)n);
}

static void ops_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node_handle *h = ops_handle(fi);
	const struct node_ops *o = ops_for(h->node.kind);
	int res = o->flush ? o->flush(ops_ctx(req), h) : 0;

	(void)ino;
	/* The node said why already; a shell's intermediate close of active/restore gets
	 * EINVAL on every restore and must not fill the log. */
	if (res)
		log_debug("close %s: %s", h->node.file[0] ? h->node.file : o->what, strerror(-res));
	fuse_reply_err(req, -res);
}

static void ops_fsync(fuse_req_t req, fuse_ino_t ino, int datasync, struct fuse_file_info *fi)
{
	(void)datasync;
	ops_flush(req, ino, fi);
}

static void ops_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)ino;
	ops_handle_put(ops_ctx(req), ops_handle(fi));
	fuse_reply_err(req, 0);
}

static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct node_ctx *c = ops_ctx(req);
	const struct node_ops *o;
	struct tree_node n;
	struct stat st;
	int res;

	if (!ops_node(req, ino, &n))
		return;
	o = ops_for(n.kind);
	if (to_set & (FUSE_SET_ATTR_MODE | FUSE_SET_ATTR_UID | FUSE_SET_ATTR_GID)) {
		ops_refuse(req, &n, VERB_CHMOD, n.file[0] ? n.file : NULL);
		return;
	}
	if (to_set & FUSE_SET_ATTR_SIZE) {
		if (!o->truncate) {
			ops_refuse(req, &n, VERB_TRUNCATE, n.file[0] ? n.file : NULL);
			return;
		}
		res = o->truncate(c, &n, fi ? ops_handle(fi) : NULL, attr->st_size);
		if (res) {
			ops_fail(req, -res, "truncate %s", n.file);
			return;
		}
	}
	/* Times are the remote objects' own: a touch is answered with them, unchanged. */
	res = o->getattr(c, &n, &st);
	if (res) {
		ops_fail(req, -res, "stat %s", n.file[0] ? n.file : o->what);
		return;
	}
	fuse_reply_attr(req, &st, ops_timeout(c, &n));
}

static void ops_statfs(fuse_req_t req, fuse_ino_t ino)
{
	unsigned long files, ffree;
	struct statvfs sv;

	(void)ino;
	memset(&sv, 0, sizeof(sv));
	sv.f_bsize = 4096;
	sv.f_frsize = 4096;
	sv.f_blocks = 1UL << 28;
	sv.f_bfree = 1UL << 27;
	sv.f_bavail = 1UL << 27;
	sv.f_files = 1UL << 20;
	sv.f_ffree = 1UL << 19;
	sv.f_favail = 1UL << 19;
	/* df -i: the snapshot limit and the snapshots left, when the limit is known. */
	if (node_limits_inodes(ops_ctx(req), &files, &ffree) == 0) {
		sv.f_files = files;
		sv.f_ffree = ffree;
		sv.f_favail = ffree;
	}
	sv.f_namemax = 255;
	fuse_reply_statfs(req, &sv);
}

static void ops_poll(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi,
		     struct fuse_pollhandle *ph)
{
	struct node_handle *h = ops_handle(fi);
	const struct node_ops *o = ops_for(h->node.kind);

	(void)ino;
	if (!o->poll) {
		/* A file whose bytes are all there: always ready. */
		if (ph)
			fuse_pollhandle_destroy(ph);
		fuse_reply_poll(req, POLLIN | POLLOUT);
		return;
	}
	fuse_reply_poll(req, o->poll(ops_ctx(req), h, ph));
}

static const struct fuse_lowlevel_ops ops_table = {
	.init		= ops_init,
	.lookup		= ops_lookup,
	.getattr	= ops_getattr,
	.setattr	= ops_setattr,
	.readlink	= ops_readlink,
	.mkdir		= ops_mkdir,
	.unlink		= ops_unlink,
	.rmdir		= ops_rmdir,
	.symlink	= ops_symlink,
	.rename		= ops_rename,
	.open		= ops_open,
	.read		= ops_read,
	.write		= ops_write,
	.flush		= ops_flush,
	.release	= ops_release,
	.fsync		= ops_fsync,
	.opendir	= ops_opendir,
	.readdir	= ops_readdir,
	.releasedir	= ops_releasedir,
	.statfs		= ops_statfs,
	.create		= ops_create,
	.poll		= ops_poll,
};

const struct fuse_lowlevel_ops *fs_lowlevel_ops(void)
{
	return &ops_table;
}

/* ---- telling the kernel what changed elsewhere ---- */

void ops_notify_gone(struct fuse_session *se, uint64_t parent, uint64_t child, const char *name)
{
	int res;

	if (!se)
		return;
	/* Its dentry goes, and a watch on the directory itself gets IN_DELETE_SELF (the
	 * parent's watch gets no IN_DELETE since Linux 5.3). */
	res = fuse_lowlevel_notify_delete(se, parent, child, name, strlen(name));
	if (res == -ENOENT || res == -ENOTDIR)
		res = fuse_lowlevel_notify_inval_entry(se, parent, name, strlen(name));
	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify delete %s: %s", name, strerror(-res));
}

void ops_notify_entry(struct fuse_session *se, uint64_t parent, const char *name)
{
	int res;

	if (!se)
		return;
	res = fuse_lowlevel_notify_inval_entry(se, parent, name, strlen(name));
	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify entry %s: %s", name, strerror(-res));
}

void ops_notify_inode(struct fuse_session *se, uint64_t ino)
{
	int res;

	if (!se)
		return;
	res = fuse_lowlevel_notify_inval_inode(se, ino, 0, 0);
	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify inode %lu: %s", (unsigned long)ino, strerror(-res));
}
