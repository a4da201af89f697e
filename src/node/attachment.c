/* snapshots/<name>/<file>: a file stored with the checkpoint in the meta database; and
 * active/next/<file>, a pending file that the next mkdir attaches to its snapshot. Both are
 * the same kind of file, told apart by the snapshot id (META_PENDING for a pending one), and
 * the directories that hold them share the helpers at the end of this file.
 *
 * An open file holds its bytes in a buffer that write and truncate change and flush stores,
 * so close(2) reports a failure to store. The buffer has its own lock: the kernel may send
 * reads, writes and a flush of one open file from several threads at once. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "log.h"
#include "meta.h"
#include "node.h"
#include "project.h"

struct attachment_handle {
	pthread_mutex_t lock;
	char *buf;
	size_t len, cap;
	bool dirty;
	char snapshot_id[64];
	char name[256];
};

static int attachment_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	struct meta_attachment att;
	int res = project_attachment(c->project, n->obj, n->file, &att);

	if (res)
		return res;
	node_fill(c, st, n->ino, S_IFREG | 0644, (time_t)att.updated_at);
	st->st_size = att.size;
	st->st_blocks = (att.size + 511) / 512;
	return 0;
}

static struct attachment_handle *attachment_handle_new(const struct tree_node *n)
{
	struct attachment_handle *a = calloc(1, sizeof(*a));

	if (!a)
		return NULL;
	pthread_mutex_init(&a->lock, NULL);
	snprintf(a->snapshot_id, sizeof(a->snapshot_id), "%s", n->obj);
	snprintf(a->name, sizeof(a->name), "%s", n->file);
	return a;
}

static void attachment_handle_free(struct attachment_handle *a)
{
	if (!a)
		return;
	pthread_mutex_destroy(&a->lock);
	free(a->buf);
	free(a);
}

static int attachment_open(struct node_ctx *c, const struct tree_node *n,
			   const struct node_opener *who, struct node_handle *h)
{
	struct attachment_handle *a = attachment_handle_new(n);
	struct meta_attachment info;
	char msg[512] = "";
	int res = 0;

	if (!a)
		return -ENOMEM;
	if (who->flags & O_TRUNC) {
		a->dirty = true;
	} else if (!project_meta(c->project)) {
		res = -ENOENT;
	} else {
		res = meta_attachment_get(project_meta(c->project), n->obj, n->file, &a->buf, &a->len,
					  &info, msg, sizeof(msg));
		if (res)
			log_err("open %s: %s", n->file, msg);
		a->cap = a->len;
	}
	if (res) {
		attachment_handle_free(a);
		return res;
	}
	h->priv = a;
	return 0;
}

/* Caller holds the lock. Grows the buffer to hold @len bytes, zero-filling what is new. */
static int attachment_resize(struct attachment_handle *a, size_t len)
{
	if (len > a->cap) {
		size_t cap = a->cap ? a->cap : 4096;
		char *nb;

		while (cap < len)
			cap *= 2;
		nb = realloc(a->buf, cap);
		if (!nb)
			return -ENOMEM;
		a->buf = nb;
		a->cap = cap;
	}
	if (len > a->len)
		memset(a->buf + a->len, 0, len - a->len);
	a->len = len;
	a->dirty = true;
	return 0;
}

static ssize_t attachment_read(struct node_ctx *c, struct node_handle *h, char *buf,
			       size_t size, off_t off)
{
	struct attachment_handle *a = h->priv;
	ssize_t n;

	(void)c;
	pthread_mutex_lock(&a->lock);
	n = node_copy_out(a->buf, a->len, buf, size, off);
	pthread_mutex_unlock(&a->lock);
	return n;
}

static ssize_t attachment_write(struct node_ctx *c, struct node_handle *h, const char *buf,
				size_t size, off_t off)
{
	struct attachment_handle *a = h->priv;
	size_t end;
	int res = 0;

	if (off < 0 || (size_t)off > c->attachment_max || size > c->attachment_max - (size_t)off) {
		log_err("write %s: attachments are limited to %zu bytes (-o attachment_max=)",
			a->name, c->attachment_max);
		return -EFBIG;
	}
	end = (size_t)off + size;
	pthread_mutex_lock(&a->lock);
	if (end > a->len)
		res = attachment_resize(a, end);
	if (!res) {
		memcpy(a->buf + off, buf, size);
		a->dirty = true;
	}
	pthread_mutex_unlock(&a->lock);
	return res ? res : (ssize_t)size;
}

/* Caller holds the lock. */
static int attachment_store(struct node_ctx *c, struct attachment_handle *a)
{
	int res;

	if (!a->dirty)
		return 0;
	res = action_attachment_store(c->actions, a->snapshot_id, a->name, a->buf, a->len);
	if (res == 0)
		a->dirty = false;
	return res;
}

static int attachment_truncate(struct node_ctx *c, const struct tree_node *n,
			       struct node_handle *h, off_t size)
{
	struct attachment_handle *a = h ? h->priv : NULL;
	char msg[512] = "", *data = NULL;
	size_t len = 0;
	struct meta_attachment info;
	int res;

	if (size < 0 || (size_t)size > c->attachment_max) {
		log_err("truncate %s: over the attachment limit of %zu bytes", n->file,
			c->attachment_max);
		return -EFBIG;
	}
	if (a) {
		pthread_mutex_lock(&a->lock);
		res = attachment_resize(a, (size_t)size);
		if (!res)
			res = attachment_store(c, a);
		pthread_mutex_unlock(&a->lock);
		return res;
	}
	if (!project_meta(c->project))
		return -ENOENT;
	res = meta_attachment_get(project_meta(c->project), n->obj, n->file, &data, &len, &info,
				  msg, sizeof(msg));
	if (res) {
		log_err("truncate %s: %s", n->file, msg);
		return res;
	}
	if ((size_t)size != len) {
		char *nd = realloc(data, (size_t)size + 1);

		if (!nd) {
			free(data);
			return -ENOMEM;
		}
		if ((size_t)size > len)
			memset(nd + len, 0, (size_t)size - len);
		data = nd;
		res = action_attachment_store(c->actions, n->obj, n->file, data, (size_t)size);
	}
	free(data);
	return res;
}

static int attachment_flush(struct node_ctx *c, struct node_handle *h)
{
	struct attachment_handle *a = h->priv;
	int res;

	pthread_mutex_lock(&a->lock);
	res = attachment_store(c, a);
	pthread_mutex_unlock(&a->lock);
	return res;
}

static void attachment_release(struct node_ctx *c, struct node_handle *h)
{
	struct attachment_handle *a = h->priv;

	if (!a)
		return;
	pthread_mutex_lock(&a->lock);
	attachment_store(c, a);
	pthread_mutex_unlock(&a->lock);
	attachment_handle_free(a);
}

const struct node_ops node_attachment_ops = {
	.what = "an attachment",
	.getattr = attachment_getattr,
	.open = attachment_open,
	.read = attachment_read,
	.write = attachment_write,
	.truncate = attachment_truncate,
	.flush = attachment_flush,
	.release = attachment_release,
};

/* What a directory of attachments (a snapshot's, active/next/) does with them; @kind is the
 * tree kind of its files and @obj the snapshot id they belong to. */

int node_attachments_lookup(struct node_ctx *c, enum tree_kind kind, const char *obj,
			    const char *name, struct tree_node *child)
{
	struct meta_attachment att;
	int res = project_attachment(c->project, obj, name, &att);

	return res ? res : node_make(c, kind, obj, name, child);
}

int node_attachments_readdir(struct node_ctx *c, enum tree_kind kind, const char *obj,
			     struct node_dir *d)
{
	struct project_attachments *atts = NULL;
	size_t i;
	/* A listing that cannot be read completely fails: cp -r must not drop files. */
	int res = project_attachments(c->project, obj, &atts);

	if (res)
		return res;
	for (i = 0; i < atts->n && !res; i++)
		res = node_dir_add(d, atts->items[i].name,
				   tree_intern(c->tree, kind, obj, atts->items[i].name), S_IFREG);
	shared_put(&atts->base);
	return res;
}

int node_attachments_rename(struct node_ctx *c, enum tree_kind kind, const char *obj,
			    const char *name, const char *newname, unsigned int flags)
{
	int res;

	/* FUSE passes names of up to 1024 bytes; one the tree cannot hold must not be stored,
	 * or the listing would show it cut short, as a file that cannot be opened. */
	if (strlen(newname) > NODE_NAME_MAX) {
		log_err("mv: a file name is at most %d bytes", NODE_NAME_MAX);
		return -ENAMETOOLONG;
	}
	res = action_attachment_rename(c->actions, obj, name, newname, flags & RENAME_NOREPLACE);

	/* The inode the kernel holds must name the file under its new name. */
	if (res == 0)
		tree_rename(c->tree, kind, obj, name, newname);
	return res;
}

int node_attachments_create(struct node_ctx *c, enum tree_kind kind, const char *obj,
			    const char *name, const struct node_opener *who,
			    struct tree_node *child, struct node_handle *h)
{
	int res;

	/* FUSE passes names of up to 1024 bytes; one the tree cannot hold must not be stored,
	 * or the listing would show it cut short, as a file that cannot be opened. */
	if (strlen(name) > NODE_NAME_MAX) {
		log_err("create: a file name is at most %d bytes", NODE_NAME_MAX);
		return -ENAMETOOLONG;
	}
	res = action_attachment_create(c->actions, obj, name, who->flags & O_EXCL);

	if (!res)
		res = node_make(c, kind, obj, name, child);
	if (res)
		return res;
	/* Empty, nothing to load. */
	h->priv = attachment_handle_new(child);
	return h->priv ? 0 : -ENOMEM;
}
