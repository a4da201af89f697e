/* A project's root (<mnt>/, or <mnt>/<project>/ in an organization's mount): snapshots/,
 * branches/, active/, events and limits; nothing else can be made here. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "node.h"

static const struct {
	const char *name;
	enum tree_kind kind;
	uint64_t ino;
	mode_t mode;
} root_entries[] = {
	{ "snapshots", TREE_SNAPSHOTS, TREE_INO_SNAPSHOTS, S_IFDIR },
	{ "branches", TREE_BRANCHES, TREE_INO_BRANCHES, S_IFDIR },
	{ "active", TREE_ACTIVE, TREE_INO_ACTIVE, S_IFDIR },
	{ "events", TREE_EVENTS, TREE_INO_EVENTS, S_IFREG },
	{ "limits", TREE_LIMITS, TREE_INO_LIMITS, S_IFREG },
};

static int root_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	node_fill(c, st, n->ino, S_IFDIR | 0755, 0);
	return 0;
}

static int root_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
		       struct tree_node *child)
{
	size_t i;

	(void)dir;
	for (i = 0; i < sizeof(root_entries) / sizeof(root_entries[0]); i++)
		if (strcmp(name, root_entries[i].name) == 0)
			return tree_get(c->tree, tree_ino(c->tree, root_entries[i].ino), child);
	return -ENOENT;
}

static int root_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	size_t i;
	int res = 0;

	(void)dir;
	for (i = 0; i < sizeof(root_entries) / sizeof(root_entries[0]) && !res; i++)
		res = node_dir_add(d, root_entries[i].name, tree_ino(c->tree, root_entries[i].ino),
				   root_entries[i].mode);
	return res;
}

const struct node_ops node_root_ops = {
	.what = "a project's root",
	.getattr = root_getattr,
	.lookup = root_lookup,
	.readdir = root_readdir,
};
