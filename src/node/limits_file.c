/* <mnt>/limits: what is used of each Neon limit neonfs knows (render.c's render_limits), and
 * the snapshot limit as df -i shows it. Read-only; its text is fixed at open, and stat gives
 * the size of the same text within the cache window. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "node.h"
#include "project.h"
#include "render.h"

static int limits_render(void *data, char **text)
{
	return render_limits(data, text);
}

static int limits_text(struct node_ctx *c, struct shared_text **out)
{
	char key[64];

	/* A "file:" key: every change through the mount or found by the watcher drops it. */
	snprintf(key, sizeof(key), "file:%d", TREE_INO_LIMITS);
	return project_text(c->project, key, limits_render, c->project, out);
}

static int limits_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	struct shared_text *t = NULL;
	int res = limits_text(c, &t);

	if (res)
		return res;
	node_fill(c, st, n->ino, S_IFREG | 0444, 0);
	st->st_size = (off_t)t->len;
	st->st_blocks = (blkcnt_t)((t->len + 511) / 512);
	shared_put(&t->base);
	return 0;
}

static int limits_open(struct node_ctx *c, const struct tree_node *n,
		       const struct node_opener *who, struct node_handle *h)
{
	struct shared_text *t = NULL;
	int res = limits_text(c, &t);

	(void)n;
	(void)who;
	if (res)
		return res;
	h->priv = t;
	/* The text changes with every snapshot: a size the kernel kept must not cut a read. */
	h->direct_io = true;
	return 0;
}

static ssize_t limits_read(struct node_ctx *c, struct node_handle *h, char *buf, size_t size,
			   off_t off)
{
	struct shared_text *t = h->priv;

	(void)c;
	if (off < 0 || (size_t)off >= t->len)
		return 0;
	if (size > t->len - (size_t)off)
		size = t->len - (size_t)off;
	memcpy(buf, t->text + off, size);
	return (ssize_t)size;
}

static void limits_release(struct node_ctx *c, struct node_handle *h)
{
	(void)c;
	if (h->priv)
		shared_put(&((struct shared_text *)h->priv)->base);
}

int node_limits_inodes(struct node_ctx *c, unsigned long *files, unsigned long *ffree)
{
	long long used = 0, limit = -1;
	int res;

	/* An organization's root has no project, so no snapshot limit to show. */
	if (!c->project)
		return -ENOENT;
	res = render_snapshot_room(c->project, &used, &limit);
	if (res)
		return res;
	if (limit < 0)
		return -ENOENT;
	*files = (unsigned long)limit;
	*ffree = used >= limit ? 0 : (unsigned long)(limit - used);
	return 0;
}

const struct node_ops node_limits_ops = {
	.what = "limits",
	.getattr = limits_getattr,
	.open = limits_open,
	.read = limits_read,
	.release = limits_release,
};
