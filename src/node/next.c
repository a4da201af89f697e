/* active/next/: files waiting for the next snapshot. What is written here is kept in the
 * meta database as pending files; the next mkdir snapshots/<x> through a mount of this
 * project attaches them all to the new snapshot, in the transaction that writes its record,
 * and this directory is empty again. The files themselves are attachments (attachment.c)
 * of no snapshot yet (META_PENDING). */
#include "config.h"

#include "actions.h"
#include "meta.h"
#include "node.h"

static int next_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	node_fill(c, st, n->ino, S_IFDIR | 0755, 0);
	return 0;
}

static int next_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
		       struct tree_node *child)
{
	(void)dir;
	return node_attachments_lookup(c, TREE_NEXT_FILE, META_PENDING, name, child);
}

static int next_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	(void)dir;
	return node_attachments_readdir(c, TREE_NEXT_FILE, META_PENDING, d);
}

static int next_unlink(struct node_ctx *c, const struct tree_node *dir, const char *name)
{
	(void)dir;
	return action_attachment_delete(c->actions, META_PENDING, name);
}

static int next_rename(struct node_ctx *c, const struct tree_node *dir, const char *name,
		       const char *newname, unsigned int flags)
{
	(void)dir;
	return node_attachments_rename(c, TREE_NEXT_FILE, META_PENDING, name, newname, flags);
}

static int next_create(struct node_ctx *c, const struct tree_node *dir, const char *name,
		       const struct node_opener *who, struct tree_node *child,
		       struct node_handle *h)
{
	(void)dir;
	return node_attachments_create(c, TREE_NEXT_FILE, META_PENDING, name, who, child, h);
}

const struct node_ops node_next_ops = {
	.what = "active/next/",
	.getattr = next_getattr,
	.lookup = next_lookup,
	.readdir = next_readdir,
	.unlink = next_unlink,
	.rename = next_rename,
	.create = next_create,
};
