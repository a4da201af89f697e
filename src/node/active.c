/* active/: the active branch, whatever its id is after restores, behind the unchanged
 * connection string; restore, the file that restores a snapshot into it; and next/, the
 * files the next snapshot takes with it. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "node.h"
#include "render.h"

static int active_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	node_fill(c, st, n->ino, S_IFDIR | 0755, 0);
	return 0;
}

static int active_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
			 struct tree_node *child)
{
	(void)dir;
	if (strcmp(name, "restore") == 0)
		return node_make(c, TREE_RESTORE, "", "", child);
	if (strcmp(name, "next") == 0)
		return node_make(c, TREE_NEXT, "", "", child);
	if (!render_in(render_active_files, name))
		return -ENOENT;
	return node_make(c, TREE_ACTIVE_FILE, "", name, child);
}

static int active_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	const char *const *f;
	int res = 0;

	(void)dir;
	for (f = render_active_files; *f && !res; f++)
		res = node_dir_add(d, *f, tree_intern(c->tree, TREE_ACTIVE_FILE, "", *f), S_IFREG);
	if (!res)
		res = node_dir_add(d, "restore", tree_intern(c->tree, TREE_RESTORE, "", ""),
				   S_IFREG);
	if (!res)
		res = node_dir_add(d, "next", tree_ino(c->tree, TREE_INO_NEXT), S_IFDIR);
	return res;
}

const struct node_ops node_active_ops = {
	.what = "active/",
	.getattr = active_getattr,
	.lookup = active_lookup,
	.readdir = active_readdir,
};
