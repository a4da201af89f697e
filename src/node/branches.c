/* branches/: one directory per branch, and a link per preview branch of a snapshot.
 * mkdir branches from the active branch, ln -s ../snapshots/<x> makes a preview, rmdir and
 * rm delete them. */
#include "config.h"

#include <errno.h>

#include "actions.h"
#include "model.h"
#include "node.h"
#include "project.h"

static int branches_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	node_fill(c, st, n->ino, S_IFDIR | 0755, 0);
	return 0;
}

static int branches_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
			   struct tree_node *child)
{
	struct model_list *l = NULL;
	const struct neon_branch *b;
	int res = project_branches(c->project, &l);

	(void)dir;
	if (res)
		return res;
	b = model_branch_by_entry(l, name);
	res = !b ? -ENOENT : node_make(c, model_preview_of(b) ? TREE_PREVIEW : TREE_BRANCH, b->id,
				       "", child);
	model_list_put(l);
	return res;
}

static int branches_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	struct model_list *l = NULL;
	size_t i, n;
	int res = project_branches(c->project, &l);

	(void)dir;
	if (res)
		return res;
	n = model_count(l);
	for (i = 0; i < n && !res; i++) {
		const struct neon_branch *b = model_branch_at(l, i);
		bool preview = model_preview_of(b) != NULL;

		res = node_dir_add(d, b->entry, tree_intern(c->tree, preview ? TREE_PREVIEW :
				   TREE_BRANCH, b->id, ""), preview ? S_IFLNK : S_IFDIR);
	}
	model_list_put(l);
	return res;
}

static int branches_mkdir(struct node_ctx *c, const struct tree_node *dir, const char *name,
			  struct tree_node *child)
{
	char id[64];
	int res = action_branch_create(c->actions, name, id, sizeof(id));

	(void)dir;
	return res ? res : node_make(c, TREE_BRANCH, id, "", child);
}

static int branches_rmdir(struct node_ctx *c, const struct tree_node *dir, const char *name)
{
	(void)dir;
	return action_branch_delete(c->actions, name, false);
}

static int branches_unlink(struct node_ctx *c, const struct tree_node *dir, const char *name)
{
	(void)dir;
	return action_branch_delete(c->actions, name, true);
}

static int branches_symlink(struct node_ctx *c, const struct tree_node *dir, const char *name,
			    const char *target, struct tree_node *child)
{
	char id[64];
	int res = action_preview_create(c->actions, target, name, id, sizeof(id));

	(void)dir;
	return res ? res : node_make(c, TREE_PREVIEW, id, "", child);
}

const struct node_ops node_branches_ops = {
	.what = "branches/",
	.getattr = branches_getattr,
	.lookup = branches_lookup,
	.readdir = branches_readdir,
	.mkdir = branches_mkdir,
	.rmdir = branches_rmdir,
	.unlink = branches_unlink,
	.symlink = branches_symlink,
};
