/* <mnt>/ of an organization: one directory per project, and events with every project's
 * lines. mkdir makes a project; rmdir deletes one, only with -o allow_project_delete. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "log.h"
#include "model.h"
#include "node.h"
#include "org.h"
#include "util.h"

static int org_getattr(struct node_ctx *c, const struct tree_node *n, struct stat *st)
{
	node_fill(c, st, n->ino, S_IFDIR | 0755, 0);
	return 0;
}

/* The root of project @id's tree, numbered from its slot: made without opening it, so
 * that ls -l of the mount costs the listing and nothing per project. */
static int org_project_node(struct node_ctx *c, const char *id, struct tree_node *out)
{
	uint32_t slot = org_slot(c->org, id);

	if (!slot)
		return -ENOMEM;
	memset(out, 0, sizeof(*out));
	out->ino = TREE_SLOT_INO(slot, TREE_INO_ROOT);
	out->kind = TREE_ROOT;
	return 0;
}

static int org_lookup(struct node_ctx *c, const struct tree_node *dir, const char *name,
		      struct tree_node *child)
{
	struct model_list *l = NULL;
	const struct neon_project *p;
	int res;

	(void)dir;
	if (strcmp(name, "events") == 0)
		return tree_get(c->tree, tree_ino(c->tree, TREE_INO_EVENTS), child);
	res = org_projects(c->org, &l);
	if (res)
		return res;
	p = model_project_by_entry(l, name);
	res = p ? org_project_node(c, p->id, child) : -ENOENT;
	model_list_put(l);
	return res;
}

static int org_readdir(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d)
{
	struct model_list *l = NULL;
	size_t i, n;
	int res = org_projects(c->org, &l);

	(void)dir;
	if (res)
		return res;
	res = node_dir_add(d, "events", tree_ino(c->tree, TREE_INO_EVENTS), S_IFREG);
	n = model_count(l);
	for (i = 0; i < n && !res; i++) {
		const struct neon_project *p = model_project_at(l, i);
		uint32_t slot = org_slot(c->org, p->id);

		res = slot ? node_dir_add(d, p->entry, TREE_SLOT_INO(slot, TREE_INO_ROOT), S_IFDIR) :
		      -ENOMEM;
	}
	model_list_put(l);
	return res;
}

static int org_mkdir(struct node_ctx *c, const struct tree_node *dir, const char *name,
		     struct tree_node *child)
{
	char id[64], msg[512] = "";
	int res = org_create(c->org, name, c->op_timeout, id, sizeof(id), msg, sizeof(msg));

	(void)dir;
	if (res) {
		log_err("mkdir %s: %s", name, msg);
		return res;
	}
	log_info("project %s created as %s", name, id);
	return org_project_node(c, id, child);
}

static int org_rmdir(struct node_ctx *c, const struct tree_node *dir, const char *name)
{
	struct model_list *l = NULL;
	const struct neon_project *p;
	char id[64], msg[512] = "";
	int res;

	(void)dir;
	if (strcmp(name, "events") == 0)
		return -ENOTDIR;
	res = org_projects(c->org, &l);
	if (res)
		return res;
	p = model_project_by_entry(l, name);
	if (p)
		util_msg(id, sizeof(id), "%s", p->id);
	model_list_put(l);
	if (!p)
		return -ENOENT;
	/* It takes every branch, snapshot and database of the project with it. */
	if (!c->allow_project_delete) {
		log_err("rmdir %s: deleting a project needs -o allow_project_delete", name);
		return -EPERM;
	}
	res = org_delete(c->org, id, msg, sizeof(msg));
	if (res)
		log_err("rmdir %s: %s", name, msg);
	else
		log_info("project %s (%s) deleted", name, id);
	return res;
}

const struct node_ops node_org_ops = {
	.what = "the organization's root",
	.getattr = org_getattr,
	.lookup = org_lookup,
	.readdir = org_readdir,
	.mkdir = org_mkdir,
	.rmdir = org_rmdir,
};
