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
#include "project.h"
#include "ops.h"
#include "ops_internal.h"
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

/* Every errno a user gets is also said in words. ENOENT is what lookups of names that do
 * not exist get all day long (shells, editors): not worth an error line. */
void ops_fail(fuse_req_t req, int err, const char *fmt, ...)
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

const struct node_ops *ops_for(enum tree_kind kind)
{
	switch (kind) {
	case TREE_ROOT:          return &node_root_ops;
	case TREE_ORG:           return &node_org_ops;
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
	case TREE_ATTACHMENT:
	case TREE_NEXT_FILE:     return &node_attachment_ops;
	case TREE_NEXT:          return &node_next_ops;
	case TREE_SNAPSHOT_FILE:
	case TREE_BRANCH_FILE:
	case TREE_ACTIVE_FILE:   return &node_file_ops;
	}
	return &node_root_ops;
}



/* What a node type that lacks an operation answers (DESIGN.md: anything else that would
 * change the tree is refused with a clear errno, never silently accepted). */
static const struct {
	int err;
	const char *why;
} ops_refusals[] = {
	[VERB_LOOKUP]   = { ENOTDIR, "not a directory" },
	[VERB_READDIR]  = { ENOTDIR, "not a directory" },
	[VERB_MKDIR]    = { EPERM, "only snapshots/, branches/ and an organization's root take"
				   " new directories" },
	[VERB_RMDIR]    = { EPERM, "only snapshots and branches can be removed" },
	[VERB_UNLINK]   = { EPERM, "only attachments and preview links can be removed" },
	[VERB_SYMLINK]  = { EPERM, "links are made in branches/: ln -s ../snapshots/<name>" },
	[VERB_RENAME]   = { EPERM, "only snapshots and attachments can be renamed" },
	[VERB_CREATE]   = { EPERM, "files can only be added to a snapshot's directory or"
				   " active/next/" },
	[VERB_READLINK] = { EINVAL, "not a link" },
	[VERB_OPEN]     = { EISDIR, "a directory" },
	[VERB_WRITE]    = { EACCES, "a read-only file" },
	[VERB_TRUNCATE] = { EACCES, "a read-only file" },
	[VERB_CHMOD]    = { EPERM, "modes and owners are fixed" },
	[VERB_READ]     = { EISDIR, "a directory" },
};

void ops_refuse(fuse_req_t req, const struct tree_node *n, enum ops_verb verb,
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

struct node_ctx *ops_ctx(fuse_req_t req, uint64_t ino)
{
	return fs_ctx(fuse_req_userdata(req), ino, true);
}

/* The node of @ino and the context it lives in, or a reply of the errno. @use: the
 * operation works inside the node, which opens its project on first use. */
bool ops_node(fuse_req_t req, fuse_ino_t ino, bool use, struct node_ctx **c, struct tree_node *n)
{
	int res = fs_node(fuse_req_userdata(req), ino, use, c, n);

	if (res == -ENOENT)
		ops_fail(req, ENOENT, "inode %lu is not one neonfs gave out", (unsigned long)ino);
	else if (res)
		ops_fail(req, -res, "the project of inode %lu cannot be opened", (unsigned long)ino);
	else if ((*c)->project)
		project_touch((*c)->project);
	return res == 0;
}

static double ops_timeout(const struct node_ctx *c, const struct tree_node *n)
{
	/* events grows with every change; pollers must see each new size. An attachment's
	 * size changes with each close that stores it, from this mount or another; limits
	 * with any snapshot made anywhere. */
	return n->kind == TREE_EVENTS || n->kind == TREE_ATTACHMENT ||
	       n->kind == TREE_NEXT_FILE || n->kind == TREE_LIMITS ? 0 : c->attr_timeout;
}

/* Answers with @child's entry, its attributes from its own type. */
void ops_reply_entry(fuse_req_t req, const struct tree_node *child, const char *what)
{
	/* Not opened for this: a project's directory is stat'ed by ls -l of the root. */
	struct fs *fs = fuse_req_userdata(req);
	struct node_ctx *c = fs_ctx(fs, child->ino, false);
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
	/* Counted before the kernel has it, so its forget can never come first; not had
	 * (the caller was interrupted), it is no count. */
	fs_ref(fs, child->ino, what);
	if (fuse_reply_entry(req, &e) != 0)
		fs_forget(fs, child->ino, 1);
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
	struct node_ctx *c;
	const struct node_ops *o;
	struct tree_node p, child;
	int res;

	if (!ops_node(req, parent, true, &c, &p))
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
	struct node_ctx *c;
	struct tree_node n;
	struct stat st;
	int res;

	(void)fi;
	if (!ops_node(req, ino, false, &c, &n))
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
	struct node_ctx *c;
	const struct node_ops *o;
	struct tree_node n;
	char target[PATH_MAX];
	int res;

	if (!ops_node(req, ino, true, &c, &n))
		return;
	o = ops_for(n.kind);
	if (!o->readlink) {
		ops_refuse(req, &n, VERB_READLINK, NULL);
		return;
	}
	res = o->readlink(c, &n, target, sizeof(target));
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
	struct node_ctx *c;
	const struct node_ops *o;
	struct node_dir *d;
	struct tree_node n;
	int res;

	if (!ops_node(req, ino, true, &c, &n))
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
	/* An open directory keeps its project open. */
	fs_hold(fuse_req_userdata(req), c);
	if (fuse_reply_open(req, fi) != 0) {
		fs_drop(fuse_req_userdata(req), c);
		ops_dir_free(d);
	}
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
	ops_dir_free((struct node_dir *)(uintptr_t)fi->fh);
	fs_drop(fuse_req_userdata(req), fs_ctx(fuse_req_userdata(req), ino, false));
	fuse_reply_err(req, 0);
}

static struct node_handle *ops_handle(struct fuse_file_info *fi)
{
	return (struct node_handle *)(uintptr_t)fi->fh;
}

/* An open file lives until it is released and no long write holds it any more; it holds
 * its project open as long (fs_hold). */
struct node_handle *ops_handle_get(struct node_handle *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

void ops_handle_put(struct fs *fs, struct node_ctx *c, struct node_handle *h)
{
	const struct node_ops *o;

	if (__atomic_sub_fetch(&h->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return;
	o = ops_for(h->node.kind);
	if (o->release)
		o->release(c, h);
	free(h);
	fs_drop(fs, c);
}

static void ops_set_handle(struct fuse_file_info *fi, struct node_handle *h)
{
	fi->fh = (uint64_t)(uintptr_t)h;
	fi->direct_io = h->direct_io;
	fi->nonseekable = h->nonseekable;
}

static void ops_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct node_ctx *c;
	struct node_opener who = { fuse_req_ctx(req)->pid, fi->flags };
	const struct node_ops *o;
	struct node_handle *h;
	struct tree_node n;
	int res;

	if (!ops_node(req, ino, true, &c, &n))
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
	res = o->open(c, &n, &who, h);
	if (res) {
		free(h);
		ops_fail(req, -res, "open %s", n.file[0] ? n.file : o->what);
		return;
	}
	ops_set_handle(fi, h);
	fs_hold(fuse_req_userdata(req), c);
	if (fuse_reply_open(req, fi) != 0)
		ops_handle_put(fuse_req_userdata(req), c, h);
}

static void ops_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
		       struct fuse_file_info *fi)
{
	struct node_ctx *c;
	struct node_opener who = { fuse_req_ctx(req)->pid, fi->flags };
	struct fuse_entry_param e;
	const struct node_ops *o;
	struct node_handle *h;
	struct tree_node p, child;
	int res;

	(void)mode;
	if (!ops_node(req, parent, true, &c, &p))
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
	fs_hold(fuse_req_userdata(req), c);
	fs_ref(fuse_req_userdata(req), e.ino, name);
	if (fuse_reply_create(req, &e, fi) != 0) {
		fs_forget(fuse_req_userdata(req), e.ino, 1);
		ops_handle_put(fuse_req_userdata(req), c, h);
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
		o->read_wait(ops_ctx(req, h->node.ino), h, req, size, fi->flags & O_NONBLOCK);
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
	n = o->read(ops_ctx(req, h->node.ino), h, buf, size, off);
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
		ops_park_write(req, h, o, buf, size, off);
		return;
	}
	n = o->write(ops_ctx(req, h->node.ino), h, buf, size, off);
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
	int res = o->flush ? o->flush(ops_ctx(req, h->node.ino), h) : 0;

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
	ops_handle_put(fuse_req_userdata(req), ops_ctx(req, ops_handle(fi)->node.ino),
		       ops_handle(fi));
	fuse_reply_err(req, 0);
}

static void ops_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			struct fuse_file_info *fi)
{
	struct node_ctx *c;
	const struct node_ops *o;
	struct tree_node n;
	struct stat st;
	int res;

	if (!ops_node(req, ino, true, &c, &n))
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
	if (node_limits_inodes(fs_ctx(fuse_req_userdata(req), ino, false), &files, &ffree) == 0) {
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
	fuse_reply_poll(req, o->poll(ops_ctx(req, h->node.ino), h, ph));
}

/* The kernel let go of an inode: the tree may drop the node (tree.h). */
static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(fuse_req_userdata(req), ino, nlookup);
	fuse_reply_none(req);
}

static void ops_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	struct fs_scope s;
	size_t i;

	/* A batch names inodes of many projects: each is held for its own forget only. */
	for (i = 0; i < count; i++) {
		fs_scope_begin(fuse_req_userdata(req), &s);
		fs_forget(fuse_req_userdata(req), forgets[i].ino, forgets[i].nlookup);
		fs_scope_end(&s);
	}
	fuse_reply_none(req);
}

/* Every handler runs in a scope (fs.h) that holds the projects it uses until it returns.
 * The request is gone once answered: its userdata is read before. */
#define OPS_SCOPED(op, params, ...)                                      \
	static void op##_scoped params                                   \
	{                                                                \
		struct fs_scope s;                                       \
									 \
		fs_scope_begin(fuse_req_userdata(req), &s);              \
		op(__VA_ARGS__);                                         \
		fs_scope_end(&s);                                        \
	}

typedef struct fuse_file_info ops_fi;
OPS_SCOPED(ops_lookup, (fuse_req_t req, fuse_ino_t p, const char *name), req, p, name)
OPS_SCOPED(ops_forget, (fuse_req_t req, fuse_ino_t ino, uint64_t n), req, ino, n)
OPS_SCOPED(ops_getattr, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi), req, ino, fi)
OPS_SCOPED(ops_setattr, (fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			 ops_fi *fi), req, ino, attr, to_set, fi)
OPS_SCOPED(ops_readlink, (fuse_req_t req, fuse_ino_t ino), req, ino)
OPS_SCOPED(ops_mkdir, (fuse_req_t req, fuse_ino_t p, const char *name, mode_t mode), req, p,
	   name, mode)
OPS_SCOPED(ops_unlink, (fuse_req_t req, fuse_ino_t p, const char *name), req, p, name)
OPS_SCOPED(ops_rmdir, (fuse_req_t req, fuse_ino_t p, const char *name), req, p, name)
OPS_SCOPED(ops_symlink, (fuse_req_t req, const char *link, fuse_ino_t p, const char *name),
	   req, link, p, name)
OPS_SCOPED(ops_rename, (fuse_req_t req, fuse_ino_t p, const char *name, fuse_ino_t np,
			const char *nn, unsigned int flags), req, p, name, np, nn, flags)
OPS_SCOPED(ops_open, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi), req, ino, fi)
OPS_SCOPED(ops_read, (fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, ops_fi *fi),
	   req, ino, size, off, fi)
OPS_SCOPED(ops_write, (fuse_req_t req, fuse_ino_t ino, const char *buf, size_t size,
		       off_t off, ops_fi *fi), req, ino, buf, size, off, fi)
OPS_SCOPED(ops_flush, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi), req, ino, fi)
OPS_SCOPED(ops_release, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi), req, ino, fi)
OPS_SCOPED(ops_fsync, (fuse_req_t req, fuse_ino_t ino, int datasync, ops_fi *fi), req, ino,
	   datasync, fi)
OPS_SCOPED(ops_opendir, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi), req, ino, fi)
OPS_SCOPED(ops_releasedir, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi), req, ino, fi)
OPS_SCOPED(ops_statfs, (fuse_req_t req, fuse_ino_t ino), req, ino)
OPS_SCOPED(ops_create, (fuse_req_t req, fuse_ino_t p, const char *name, mode_t mode,
			ops_fi *fi), req, p, name, mode, fi)
OPS_SCOPED(ops_poll, (fuse_req_t req, fuse_ino_t ino, ops_fi *fi, struct fuse_pollhandle *ph),
	   req, ino, fi, ph)

static const struct fuse_lowlevel_ops ops_table = {
	.init		= ops_init,
	.lookup		= ops_lookup_scoped,
	.forget		= ops_forget_scoped,
	.forget_multi	= ops_forget_multi,
	.getattr	= ops_getattr_scoped,
	.setattr	= ops_setattr_scoped,
	.readlink	= ops_readlink_scoped,
	.mkdir		= ops_mkdir_scoped,
	.unlink		= ops_unlink_scoped,
	.rmdir		= ops_rmdir_scoped,
	.symlink	= ops_symlink_scoped,
	.rename		= ops_rename_scoped,
	.open		= ops_open_scoped,
	.read		= ops_read_scoped,
	.write		= ops_write_scoped,
	.flush		= ops_flush_scoped,
	.release	= ops_release_scoped,
	.fsync		= ops_fsync_scoped,
	.opendir	= ops_opendir_scoped,
	.readdir	= ops_readdir,
	.releasedir	= ops_releasedir_scoped,
	.statfs		= ops_statfs_scoped,
	.create		= ops_create_scoped,
	.poll		= ops_poll_scoped,
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

static void ops_notify_drop(struct fuse_session *se, uint64_t parent, const char *name)
{
	int res = fuse_lowlevel_notify_inval_entry(se, parent, name, strlen(name));

	if (res && res != -ENOENT && res != -EBADF && res != -ENODEV && res != -ENOSYS)
		log_debug("notify let go of %s: %s", name, strerror(-res));
}

void ops_notify_let_go(struct fuse_session *se, struct tree *t, uint64_t parent,
		       const char *name)
{
	struct tree_held *held;
	size_t i, n;

	if (!se)
		return;
	/* The entry, and below it every one not in use, go; the kernel forgets their inodes. */
	ops_notify_drop(se, parent, name);
	/* An entry in use when its parent's went (a working directory) keeps that parent
	 * (unreachable by name), and lingers once let go of: each entry the kernel holds is
	 * dropped through its parent's inode, which the kernel finds by number. */
	if (tree_held_list(t, &held, &n) != 0)
		return;
	for (i = 0; i < n; i++)
		if (held[i].name[0])
			ops_notify_drop(se, tree_parent(t, &held[i].node), held[i].name);
	free(held);
}
