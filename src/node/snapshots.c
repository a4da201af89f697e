/* snapshots/: one directory per snapshot. mkdir takes one, rmdir deletes one, mv renames. */
#include "config.h"

#include <errno.h>
#include <stdio.h>

#include "actions.h"
#include "model.h"
#include "node.h"
#include "project.h"

static int snapshots_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	node_fill(c, st, n->ino, S_IFDIR | 0755, 0);
	return 0;
}

static int snapshots_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
			    struct tree_node *child)
{
	struct model_list *l = NULL;
	const struct neon_snapshot *s;
	int res = project_snapshots(c->project, &l);

	(void)dir;
	if (res)
		return res;
	s = model_snapshot_by_entry(l, name);
	res = s ? node_make(c, TREE_SNAPSHOT, s->id, "", child) : -ENOENT;
	model_list_put(l);
	return res;
}

static int snapshots_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	struct model_list *l = NULL;
	size_t i, n;
	int res = project_snapshots(c->project, &l);

	(void)dir;
	if (res)
		return res;
	n = model_count(l);
	for (i = 0; i < n && !res; i++) {
		const struct neon_snapshot *s = model_snapshot_at(l, i);

		res = node_dir_add(d, s->entry, tree_intern(c->tree, TREE_SNAPSHOT, s->id, ""),
				   S_IFDIR);
	}
	model_list_put(l);
	return res;
}

static int snapshots_mkdir(struct node_ctx *c, const struct tree_node *dir, const char *name,
			   struct tree_node *child)
{
	char id[64];
	int res = action_snapshot_create(c->actions, name, id, sizeof(id));

	(void)dir;
	return res ? res : node_make(c, TREE_SNAPSHOT, id, "", child);
}

static int snapshots_rmdir(struct node_ctx *c, const struct tree_node *dir, const char *name)
{
	(void)dir;
	return action_snapshot_delete(c->actions, name);
}

static int snapshots_rename(struct node_ctx *c, const struct tree_node *dir, const char *name,
			    const char *newname, unsigned int flags)
{
	(void)dir;
	(void)flags;   /* a taken name is refused either way */
	return action_snapshot_rename(c->actions, name, newname);
}

const struct node_ops node_snapshots_ops = {
	.what = "snapshots/",
	.getattr = snapshots_getattr,
	.lookup = snapshots_lookup,
	.readdir = snapshots_readdir,
	.mkdir = snapshots_mkdir,
	.rmdir = snapshots_rmdir,
	.rename = snapshots_rename,
};
