/* branches/<name>/: a branch's id, meta.json, and, while it has a compute, its live schema
 * and connection_uri. */
#include "config.h"

#include <errno.h>

#include "model.h"
#include "node.h"
#include "project.h"
#include "render.h"

static int branch_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	struct model_list *l = NULL;
	const struct neon_branch *b;
	int res = project_branches(c->project, &l);

	if (res)
		return res;
	b = model_branch_by_id(l, n->obj);
	if (b)
		node_fill(c, st, n->ino, S_IFDIR | 0755, b->updated);
	model_list_put(l);
	return b ? 0 : -ENOENT;
}

static int branch_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
			 struct tree_node *child)
{
	int res = render_shows(c->project, RENDER_BRANCH, dir->obj, name);

	if (res < 0)
		return res;
	return res ? node_make(c, TREE_BRANCH_FILE, dir->obj, name, child) : -ENOENT;
}

static int branch_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	const char *const *f;
	int res = 0, shows;

	for (f = render_branch_files; *f && !res; f++) {
		shows = render_shows(c->project, RENDER_BRANCH, dir->obj, *f);
		if (shows < 0)
			return shows;
		if (shows)
			res = node_dir_add(d, *f, tree_intern(c->tree, TREE_BRANCH_FILE, dir->obj,
							      *f), S_IFREG);
	}
	return res;
}

const struct node_ops node_branch_ops = {
	.what = "a branch's directory",
	.getattr = branch_getattr,
	.lookup = branch_lookup,
	.readdir = branch_readdir,
};
