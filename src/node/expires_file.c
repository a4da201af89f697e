/* snapshots/<x>/expires_at: when Neon deletes the snapshot (RFC 3339, one line), or empty.
 *
 * Writing sets it, as restore does: each write(2) is the whole value and acts at once (ops.c
 * runs it on the worker pool), so the writer learns the errno from write itself: `echo
 * 2026-12-31T00:00:00Z > expires_at`, `echo +7d > expires_at`; a write of only a newline
 * (`echo > expires_at`) clears it. A file opened with O_TRUNC and closed without a write
 * (`: > expires_at`) clears it at the last close, where no errno can reach the caller: the log
 * says how it went. Acting on close instead would act on a shell's intermediate close too,
 * before its write comes. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "log.h"
#include "model.h"
#include "node.h"
#include "project.h"
#include "render.h"

struct expires_handle {
	struct shared_text *text;   /* a reader's bytes, as of open */
	bool writer;
	bool truncated;
	bool wrote;
};

struct expires_render {
	struct project *p;
	const char *id;
};

static int expires_render(void *data, char **text)
{
	struct expires_render *r = data;

	return render_file(r->p, RENDER_SNAPSHOT, r->id, "expires_at", text);
}

static int expires_text(struct node_ctx *c, const struct tree_node *n, struct shared_text **out)
{
	struct expires_render r = { c->project, n->obj };
	char key[64];

	/* The key file.c uses: any change through the mount drops it with the others. */
	snprintf(key, sizeof(key), "file:%llu", (unsigned long long)n->ino);
	return project_text(c->project, key, expires_render, &r, out);
}

static int expires_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	struct model_list *l = NULL;
	const struct neon_snapshot *s;
	struct shared_text *t = NULL;
	time_t created = 0;
	int res = expires_text(c, n, &t);

	if (res)
		return res;
	if (project_snapshots(c->project, &l) == 0) {
		s = model_snapshot_by_id(l, n->obj);
		created = s ? s->created : 0;
	}
	model_list_put(l);
	node_fill(c, st, n->ino, S_IFREG | 0644, created);
	st->st_size = (off_t)t->len;
	st->st_blocks = (blkcnt_t)((t->len + 511) / 512);
	shared_put(&t->base);
	return 0;
}

static int expires_open(struct node_ctx *c, const struct tree_node *n,
			const struct node_opener *who, struct node_handle *h)
{
	struct expires_handle *e = calloc(1, sizeof(*e));
	int res;

	if (!e)
		return -ENOMEM;
	e->writer = (who->flags & O_ACCMODE) != O_RDONLY;
	e->truncated = e->writer && (who->flags & O_TRUNC);
	if ((who->flags & O_ACCMODE) != O_WRONLY) {
		res = expires_text(c, n, &e->text);
		if (res) {
			free(e);
			return res;
		}
	}
	h->priv = e;
	/* A write changes the bytes: no page cache to go stale. */
	h->direct_io = true;
	return 0;
}

static ssize_t expires_read(struct node_ctx *c, struct node_handle *h, char *buf, size_t size,
			    off_t off)
{
	struct expires_handle *e = h->priv;

	(void)c;
	if (!e->text || off < 0 || (size_t)off >= e->text->len)
		return 0;
	if (size > e->text->len - (size_t)off)
		size = e->text->len - (size_t)off;
	memcpy(buf, e->text->text + off, size);
	return (ssize_t)size;
}

static ssize_t expires_write(struct node_ctx *c, struct node_handle *h, const char *buf,
			     size_t size, off_t off)
{
	struct expires_handle *e = h->priv;
	int res;

	(void)off;
	e->wrote = true;
	res = action_snapshot_expiry(c->actions, h->node.obj, buf, size);
	return res ? res : (ssize_t)size;
}

static int expires_truncate(struct node_ctx *c, const struct tree_node *n,
			    struct node_handle *h, off_t size)
{
	if (size != 0) {
		log_err("truncate expires_at: only to 0, which clears the expiry");
		return -EINVAL;
	}
	if (h) {
		/* Part of a write to come, or of `: >`: see the top of this file. */
		((struct expires_handle *)h->priv)->truncated = true;
		return 0;
	}
	/* truncate -s 0 by path: nothing else will come, so it clears now. */
	return action_snapshot_expiry(c->actions, n->obj, "", 0);
}

static void expires_release(struct node_ctx *c, struct node_handle *h)
{
	struct expires_handle *e = h->priv;

	if (!e)
		return;
	if (e->writer && e->truncated && !e->wrote &&
	    action_snapshot_expiry(c->actions, h->node.obj, "", 0) != 0)
		log_err("snapshots/%s/expires_at: emptied, but the expiry was not cleared",
			h->node.obj);
	if (e->text)
		shared_put(&e->text->base);
	free(e);
}

const struct node_ops node_expires_ops = {
	.what = "a snapshot's expires_at",
	.getattr = expires_getattr,
	.open = expires_open,
	.read = expires_read,
	.write = expires_write,
	.truncate = expires_truncate,
	.release = expires_release,
};
