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
	struct node_ctx *c = fs_ctx(fuse_req_userdata(req), child->ino, false);
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
	/* Counted before the kernel has it, so its forget can never come first. */
	if (c->tree && TREE_SLOT(child->ino) == TREE_SLOT(tree_ino(c->tree, 0)))
		tree_ref(c->tree, child->ino);
	fuse_reply_entry(req, &e);
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

static struct node_handle *ops_handle(struct fuse_file_info *fi)
{
	return (struct node_handle *)(uintptr_t)fi->fh;
}

/* An open file lives until it is released and no long write holds it any more. */
struct node_handle *ops_handle_get(struct node_handle *h)
{
	__atomic_add_fetch(&h->refs, 1, __ATOMIC_RELAXED);
	return h;
}

void ops_handle_put(struct node_ctx *c, struct node_handle *h)
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
	if (fuse_reply_open(req, fi) != 0) {
		if (o->release)
			o->release(c, h);
		free(h);
	}
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
	tree_ref(c->tree, e.ino);
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
	ops_handle_put(ops_ctx(req, ops_handle(fi)->node.ino), ops_handle(fi));
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

/* The kernel let go of an inode: the tree may drop the node (tree.h). The directory of a
 * project not opened has no tree node to drop. */
static void ops_forget_one(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	struct node_ctx *c = fs_ctx(fuse_req_userdata(req), ino, false);

	if (c && c->tree && TREE_SLOT(ino) == TREE_SLOT(tree_ino(c->tree, 0)))
		tree_forget(c->tree, ino, nlookup);
}

static void ops_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	ops_forget_one(req, ino, nlookup);
	fuse_reply_none(req);
}

static void ops_forget_multi(fuse_req_t req, size_t count, struct fuse_forget_data *forgets)
{
	size_t i;

	for (i = 0; i < count; i++)
		ops_forget_one(req, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static const struct fuse_lowlevel_ops ops_table = {
	.init		= ops_init,
	.lookup		= ops_lookup,
	.forget		= ops_forget,
	.forget_multi	= ops_forget_multi,
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
