/* snapshots/<name>/: a snapshot's files (id, meta.json, schema, expires_at, connection_uri while it has
 * a preview) and the attachments stored with its checkpoint. Like ZFS's .zfs/snapshot, its
 * made-up files do not keep rmdir from deleting it. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>

#include "actions.h"
#include "log.h"
#include "model.h"
#include "node.h"
#include "project.h"
#include "render.h"

enum tree_kind node_snapshot_file_kind(const char *file)
{
	return strcmp(file, "expires_at") == 0 ? TREE_EXPIRES : TREE_SNAPSHOT_FILE;
}

static int snapshot_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	struct model_list *l = NULL;
	const struct neon_snapshot *s;
	int res = project_snapshots(c->project, &l);

	if (res)
		return res;
	s = model_snapshot_by_id(l, n->obj);
	if (s)
		node_fill(c, st, n->ino, S_IFDIR | 0755, s->created);
	model_list_put(l);
	return s ? 0 : -ENOENT;
}

static int snapshot_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
			   struct tree_node *child)
{
	int res;

	if (render_in(render_snapshot_files, name)) {
		res = render_shows(c->project, RENDER_SNAPSHOT, dir->obj, name);
		if (res < 0)
			return res;
		return res ? node_make(c, node_snapshot_file_kind(name), dir->obj, name, child) :
			     -ENOENT;
	}
	return node_attachments_lookup(c, TREE_ATTACHMENT, dir->obj, name, child);
}

static int snapshot_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	const char *const *f;
	int res = 0, shows;

	for (f = render_snapshot_files; *f && !res; f++) {
		shows = render_shows(c->project, RENDER_SNAPSHOT, dir->obj, *f);
		if (shows < 0)
			return shows;
		if (shows)
			res = node_dir_add(d, *f, tree_intern(c->tree, node_snapshot_file_kind(*f),
							      dir->obj, *f), S_IFREG);
	}
	return res ? res : node_attachments_readdir(c, TREE_ATTACHMENT, dir->obj, d);
}

static int snapshot_unlink(struct node_ctx *c, const struct tree_node *dir, const char *name)
{
	if (render_in(render_snapshot_files, name)) {
		log_err("rm %s: the snapshot's own files cannot be removed", name);
		return -EPERM;
	}
	return action_attachment_delete(c->actions, dir->obj, name);
}

static int snapshot_rename(struct node_ctx *c, const struct tree_node *dir, const char *name,
			   const char *newname, unsigned int flags)
{
	if (render_in(render_snapshot_files, name) || render_in(render_snapshot_files, newname)) {
		log_err("mv %s %s: the snapshot's own files keep their names", name, newname);
		return -EPERM;
	}
	return node_attachments_rename(c, TREE_ATTACHMENT, dir->obj, name, newname, flags);
}

static int snapshot_create(struct node_ctx *c, const struct tree_node *dir, const char *name,
			   const struct node_opener *who, struct tree_node *child,
			   struct node_handle *h)
{
	int res;

	if (strcmp(name, "schema") == 0) {
		/* touch snapshots/<x>/schema asks for the schema of a snapshot made elsewhere:
		 * an explicit action, since reading it costs a temporary branch. */
		res = render_shows(c->project, RENDER_SNAPSHOT, dir->obj, name);
		if (res == 0)
			res = action_schema_capture(c->actions, dir->obj);
		if (res < 0)
			return res;
		if (who->flags & O_EXCL)
			return -EEXIST;
		res = node_make(c, TREE_SNAPSHOT_FILE, dir->obj, name, child);
		/* Open for reading only: the file is the schema, not the creator's to write. */
		return res ? res : node_file_ops.open(c, child, &(struct node_opener){
			.pid = who->pid, .flags = O_RDONLY }, h);
	}
	if (render_in(render_snapshot_files, name)) {
		log_err("create %s: that name belongs to the snapshot", name);
		return -EACCES;
	}
	return node_attachments_create(c, TREE_ATTACHMENT, dir->obj, name, who, child, h);
}

const struct node_ops node_snapshot_ops = {
	.what = "a snapshot's directory",
	.getattr = snapshot_getattr,
	.lookup = snapshot_lookup,
	.readdir = snapshot_readdir,
	.unlink = snapshot_unlink,
	.rename = snapshot_rename,
	.create = snapshot_create,
};
