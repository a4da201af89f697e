/* branches/<preview>: a preview branch of a snapshot, shown as a link to the snapshot's
 * directory (../snapshots/<name>), as `ln -s` was given it. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "names.h"
#include "node.h"
#include "project.h"

/* Where the link points: the snapshot's entry, or its id once the snapshot is gone. */
static int preview_target(struct node_ctx *c, const char *branch_id, char *buf, size_t len,
			  time_t *updated)
{
	struct model_list *branches = NULL, *snaps = NULL;
	const struct neon_branch *b;
	const struct neon_snapshot *s;
	const char *snap_id;
	int res = project_branches(c->project, &branches);

	if (res)
		return res;
	b = model_branch_by_id(branches, branch_id);
	snap_id = b ? model_preview_of(b) : NULL;
	if (!snap_id) {
		model_list_put(branches);
		return -ENOENT;
	}
	if (updated)
		*updated = b->updated;
	res = project_snapshots(c->project, &snaps);
	if (res == 0) {
		s = model_snapshot_by_id(snaps, snap_id);
		snprintf(buf, len, "../snapshots/%s", s ? s->entry : snap_id);
	}
	model_list_put(snaps);
	model_list_put(branches);
	return res;
}

static int preview_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	char target[NAMES_MAX + 32];
	time_t updated = 0;
	int res = preview_target(c, n->obj, target, sizeof(target), &updated);

	if (res)
		return res;
	node_fill(c, st, n->ino, S_IFLNK | 0777, updated);
	st->st_size = (off_t)strlen(target);
	return 0;
}

static int preview_readlink(struct node_ctx *c, const struct tree_node *n, char *buf, size_t len)
{
	return preview_target(c, n->obj, buf, len, NULL);
}

const struct node_ops node_preview_ops = {
	.what = "a preview branch's link",
	.getattr = preview_getattr,
	.readlink = preview_readlink,
};
