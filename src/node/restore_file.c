/* active/restore: write a snapshot's name or id to restore it into the active branch; read
 * it for the last restore's status (JSON).
 *
 * The write returns only when the restored data answers through the unchanged connection
 * string. The kernel serializes writes to one inode, so a second writer is told EBUSY at
 * open, not after the first restore ends. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "log.h"
#include "node.h"
#include "restore.h"

struct restore_handle {
	char *status;      /* what a reader sees: the status as of open */
	size_t len;
	bool writer;
	bool wrote;
};

static int restore_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	char *status = restore_status(c->restore);

	if (!status)
		return -ENOMEM;
	node_fill(c, st, n->ino, S_IFREG | 0644, 0);
	st->st_size = (off_t)strlen(status);
	free(status);
	return 0;
}

static int restore_open(struct node_ctx *c, const struct tree_node *n,
			const struct node_opener *who, struct node_handle *h)
{
	struct restore_handle *r = calloc(1, sizeof(*r));

	(void)n;
	if (!r)
		return -ENOMEM;
	r->writer = (who->flags & O_ACCMODE) != O_RDONLY;
	if (r->writer && action_restore_running(c->actions)) {
		log_err("restore: a restore from this mount is running");
		free(r);
		return -EBUSY;
	}
	if (!r->writer) {
		r->status = restore_status(c->restore);
		r->len = r->status ? strlen(r->status) : 0;
	}
	h->priv = r;
	/* The status changes under a reader; no page cache, no size promises. */
	h->direct_io = true;
	return 0;
}

static ssize_t restore_read(struct node_ctx *c, struct node_handle *h, char *buf, size_t size,
			    off_t off)
{
	struct restore_handle *r = h->priv;

	(void)c;
	return node_copy_out(r->status, r->len, buf, size, off);
}

static ssize_t restore_write(struct node_ctx *c, struct node_handle *h, const char *buf,
			     size_t size, off_t off)
{
	struct restore_handle *r = h->priv;
	int res;

	/* A write past the start (pwrite, O_APPEND, a name split over two writes) holds only
	 * part of what was written, and a second write on one open is a second request:
	 * neither is a whole name, so neither may pick a snapshot. */
	if (off != 0 || r->wrote) {
		log_err("restore: write one snapshot name or id at the start, once per open "
			"(got %zu bytes at offset %lld%s)", size, (long long)off,
			r->wrote ? " after an earlier write" : "");
		r->wrote = true;
		return -EINVAL;
	}
	r->wrote = true;
	res = action_restore(c->actions, buf, size);
	if (res) {
		log_err("restore failed; cat active/restore says why");
		return res;
	}
	return (ssize_t)size;
}

static int restore_truncate(struct node_ctx *c, const struct tree_node *n, struct node_handle *h,
			    off_t size)
{
	/* echo > restore truncates first, to 0; there is nothing to cut. Any other size asks
	 * for a file this is not, and is refused rather than silently taken. */
	(void)c;
	(void)n;
	(void)h;
	if (size != 0) {
		log_err("restore: truncate to %lld: only a truncate to 0 is taken",
			(long long)size);
		return -EINVAL;
	}
	return 0;
}

static int restore_flush(struct node_ctx *c, struct node_handle *h)
{
	struct restore_handle *r = h->priv;

	(void)c;
	if (r->writer && !r->wrote) {
		/* `: > active/restore` never writes, and close is the only place left to say the
		 * input was empty. A shell's `echo x > restore` also closes its first descriptor
		 * before writing through a dup of it, and ignores that close's errno: so this
		 * is not worth an error line, which would show on every restore. */
		log_debug("restore: closed with nothing written (empty input)");
		return -EINVAL;
	}
	return 0;
}

static void restore_release(struct node_ctx *c, struct node_handle *h)
{
	struct restore_handle *r = h->priv;

	(void)c;
	if (r)
		free(r->status);
	free(r);
}

const struct node_ops node_restore_ops = {
	.what = "active/restore",
	.getattr = restore_getattr,
	.open = restore_open,
	.read = restore_read,
	.write = restore_write,
	.truncate = restore_truncate,
	.flush = restore_flush,
	.release = restore_release,
};
