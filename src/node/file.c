/* The files neonfs makes up in a snapshot's, a branch's and active/'s directory: id,
 * meta.json, schema, connection_uri (render.c writes their text).
 *
 * stat's size is the number of bytes a read returns: the text is rendered once per cache
 * window, shared by stat and read. An open file keeps the bytes it opened with. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "node.h"
#include "project.h"
#include "render.h"

struct file_render {
	struct project *p;
	enum render_owner owner;
	const char *id;
	const char *file;
};

static enum render_owner file_owner(const struct tree_node *n)
{
	return n->kind == TREE_SNAPSHOT_FILE ? RENDER_SNAPSHOT :
	       n->kind == TREE_BRANCH_FILE ? RENDER_BRANCH : RENDER_ACTIVE;
}

static int file_render(void *data, char **text)
{
	struct file_render *r = data;

	return render_file(r->p, r->owner, r->id, r->file, text);
}

static void file_key(const struct tree_node *n, char *key, size_t len)
{
	snprintf(key, len, "file:%llu", (unsigned long long)n->ino);
}

static int file_text(struct node_ctx *c, const struct tree_node *n, struct shared_text **out)
{
	struct file_render r = { c->project, file_owner(n), n->obj, n->file };
	char key[64];

	file_key(n, key, sizeof(key));
	return project_text(c->project, key, file_render, &r, out);
}

/* When the object changed last: a snapshot's creation, a branch's update. */
static time_t file_time(struct node_ctx *c, const struct tree_node *n)
{
	struct model_list *l = NULL;
	time_t t = 0;

	if (n->kind == TREE_SNAPSHOT_FILE && project_snapshots(c->project, &l) == 0) {
		const struct neon_snapshot *s = model_snapshot_by_id(l, n->obj);

		t = s ? s->created : 0;
	} else if (n->kind == TREE_BRANCH_FILE && project_branches(c->project, &l) == 0) {
		const struct neon_branch *b = model_branch_by_id(l, n->obj);

		t = b ? b->updated : 0;
	}
	model_list_put(l);
	return t;
}

static int file_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	struct shared_text *t = NULL;
	int res = file_text(c, n, &t);

	if (res)
		return res;
	node_fill(c, st, n->ino, strcmp(n->file, "connection_uri") == 0 ? S_IFREG | 0600 :
		  S_IFREG | 0444, file_time(c, n));
	st->st_size = (off_t)t->len;
	st->st_blocks = (blkcnt_t)((t->len + 511) / 512);
	shared_put(&t->base);
	return 0;
}

static int file_open(struct node_ctx *c, const struct tree_node *n,
		     const struct node_opener *who, struct node_handle *h)
{
	struct shared_text *t = NULL;
	int res;

	(void)who;
	if (render_live(file_owner(n), n->file)) {
		char key[64];

		/* Read through libpq: what the database holds now, not at the last stat. The
		 * fresh text is cached, so a stat after the read agrees with it. */
		file_key(n, key, sizeof(key));
		project_text_forget(c->project, key);
		h->direct_io = true;
	}
	res = file_text(c, n, &t);
	if (res)
		return res;
	h->priv = t;
	return 0;
}

static ssize_t file_read(struct node_ctx *c, struct node_handle *h, char *buf, size_t size,
			 off_t off)
{
	struct shared_text *t = h->priv;

	(void)c;
	return node_copy_out(t->text, t->len, buf, size, off);
}

static void file_release(struct node_ctx *c, struct node_handle *h)
{
	(void)c;
	if (h->priv)
		shared_put(&((struct shared_text *)h->priv)->base);
}

const struct node_ops node_file_ops = {
	.what = "a snapshot's or branch's file",
	.getattr = file_getattr,
	.open = file_open,
	.read = file_read,
	.release = file_release,
};
