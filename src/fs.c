/* fs: one mount, put together. This file only wires the modules to each other; what a
 * user's verb does is in node/ (the tree) and actions.c (Neon), reached through ops.c.
 *
 * A mount of one project has one instance of a project's parts (its project, watcher,
 * actions, events, restore and tree) at the root. An organization's mount has one per
 * project, opened on the first use of the project's directory, each with its tree
 * numbered from the project's slot (tree.h), so the inode says which instance serves it. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "api.h"
#include "events.h"
#include "fs.h"
#include "log.h"
#include "meta.h"
#include "node.h"
#include "notify.h"
#include "notify_hub.h"
#include "ops.h"
#include "org.h"
#include "project.h"
#include "render.h"
#include "restore.h"
#include "restore_settle.h"
#include "tree.h"
#include "util.h"
#include "watcher.h"
#include "worker.h"

/* One project's parts. */
struct fs_inst {
	struct node_ctx ctx;
	struct fs *fs;
	struct api *api;       /* an organization's mount: this project's client (owned) */
	struct meta *meta;     /* likewise */
	bool owned;
	struct project *project;
	struct watcher *watcher;
	struct notify *notify;        /* NULL without a meta database */
	struct actions *actions;
	struct events *events;
	struct restore *restore;
	struct tree *tree;
};

struct fs {
	struct fs_config cfg;
	struct api *api;
	struct meta *meta;           /* an organization's mount: each project's comes from it */
	struct notify_hub *hub;      /* other mounts' notices, for every project; NULL without
				      * a meta database */
	struct fs_inst *single;      /* a mount of one project */

	/* An organization's mount: its root's context (tree, events), the projects' slots
	 * and the instances opened so far, by slot. */
	struct node_ctx ctx;
	struct org *org;
	struct tree *tree;
	struct events *events;
	pthread_mutex_t lock;
	pthread_cond_t opened;       /* a project was opened (or failed to be) */
	struct fs_inst **insts;
	uint32_t ninsts;
	bool started;

	struct worker_pool *workers;
	struct watch_pool *watching;  /* the watchers' threads, for every project */
	struct fuse_session *se;
};

/* Long actions at once (mkdir, rmdir, restores, previews); more wait their turn. */
#define FS_WORKERS 32
/* Threads that poll for changes made elsewhere: one for a project, a few for an
 * organization (polls are few: the budget sheds them first, and idle projects make none). */
#define FS_WATCH_THREADS_ORG 4

/* ---- what the watcher tells the kernel ---- */

static void fs_notify_gone(void *data, bool snapshot, const char *id, const char *entry)
{
	struct fs_inst *in = data;
	uint64_t dir = tree_ino(in->tree, snapshot ? TREE_INO_SNAPSHOTS : TREE_INO_BRANCHES);
	/* Not made for this: a node the kernel does not hold needs only its entry dropped. */
	uint64_t child = tree_find(in->tree, snapshot ? TREE_SNAPSHOT : TREE_BRANCH, id, "");

	ops_notify_gone(in->fs->se, dir, child, entry);
}

static void fs_notify_entry(void *data, bool snapshot, const char *entry)
{
	struct fs_inst *in = data;

	ops_notify_entry(in->fs->se, tree_ino(in->tree, snapshot ? TREE_INO_SNAPSHOTS :
					      TREE_INO_BRANCHES), entry);
}

static void fs_notify_active(void *data)
{
	struct fs_inst *in = data;
	const char *const *f;

	for (f = render_active_files; *f; f++)
		ops_notify_inode(in->fs->se, tree_intern(in->tree, TREE_ACTIVE_FILE, "", *f));
}

static const struct watcher_notify fs_watcher_notify = {
	.gone = fs_notify_gone,
	.entry = fs_notify_entry,
	.active = fs_notify_active,
};

/* ---- one project's parts ---- */

static void fs_inst_free(struct fs_inst *in)
{
	if (!in)
		return;
	if (in->events)
		events_shutdown(in->events);
	notify_stop(in->notify);
	if (in->watcher)
		watcher_stop(in->watcher);
	actions_free(in->actions);
	notify_free(in->notify);
	watcher_free(in->watcher);
	restore_free(in->restore);
	events_free(in->events);
	tree_free(in->tree);
	project_close(in->project);
	if (in->owned) {
		meta_close(in->meta);
		api_free(in->api);
	}
	free(in);
}

/* The parts of the project @api speaks for, numbered from @slot. */
static struct fs_inst *fs_inst_new(struct fs *fs, uint32_t slot, struct api *api,
				   struct meta *meta, char *msg, size_t msglen)
{
	const struct fs_config *cfg = &fs->cfg;
	struct fs_inst *in = calloc(1, sizeof(*in));
	struct project_config pc = {
		.branch = cfg->branch, .database = cfg->database, .role = cfg->role,
		.cache_ttl = cfg->cache_ttl, .pg_timeout = cfg->pg_timeout, .pg_idle = cfg->pg_idle,
		.snapshot_limit = cfg->snapshot_limit,
	};
	struct watcher_config wc = {
		.poll_min = cfg->poll_min, .poll_max = cfg->poll_max, .always = cfg->watch_always,
	};
	struct actions_config ac = {
		.op_timeout = cfg->op_timeout, .keep_old_branches = cfg->keep_old_branches,
		.attachment_max = cfg->attachment_max, .snapshot_ttl = cfg->snapshot_ttl,
	};

	if (!in) {
		util_msg(msg, msglen, "out of memory");
		return NULL;
	}
	in->fs = fs;
	in->api = api;
	in->meta = meta;
	in->project = project_open(&pc, api, meta, msg, msglen);
	if (!in->project)
		goto fail;
	in->tree = tree_new(slot);
	in->events = events_new(1024);
	if (in->events && fs->org && events_forward(in->events, fs->events, api_project_id(api)))
		goto nomem;
	in->restore = restore_new(api, project_pool(in->project), meta);
	if (in->events)
		in->watcher = watcher_new(in->project, in->events, &wc, &fs_watcher_notify, in);
	if (in->watcher && in->restore)
		in->actions = actions_new(&ac, in->project, in->events, in->watcher, in->restore);
	if (!in->tree || !in->events || !in->restore || !in->watcher || !in->actions)
		goto nomem;
	/* A project's notices are on its channel, heard by the mount's one listener. */
	in->notify = notify_new(fs->hub, in->project, meta, in->watcher, in->events,
				&fs_watcher_notify, in);
	if (meta && !in->notify)
		goto nomem;
	actions_set_notify(in->actions, in->notify);
	in->ctx = (struct node_ctx){
		.tree = in->tree, .project = in->project, .actions = in->actions,
		.events = in->events, .restore = in->restore, .uid = getuid(), .gid = getgid(),
		.mounted = time(NULL), .attachment_max = cfg->attachment_max,
		.attr_timeout = cfg->attr_timeout, .workers = fs->workers,
		.op_timeout = cfg->op_timeout,
	};
	return in;
nomem:
	util_msg(msg, msglen, "out of memory");
fail:
	fs_inst_free(in);
	return NULL;
}

/* What a project does once the mount runs: clean up after an earlier mount, and watch. */
static int fs_inst_start(struct fs_inst *in)
{
	int res;

	in->ctx.workers = in->fs->workers;
	action_cleanup_temporary(in->actions);
	action_cleanup_records(in->actions);
	restore_settle_start(in->restore, in->api, in->meta, in->fs->workers,
			     project_active_name(in->project), in->fs->cfg.op_timeout);
	res = watcher_start(in->watcher, in->fs->watching);
	return res ? res : notify_start(in->notify);
}

/* Opens project @slot of an organization's mount. */
static struct fs_inst *fs_org_open(struct fs *fs, uint32_t slot)
{
	struct fs_inst *in;
	struct api *api;
	struct meta *meta = NULL;
	char id[64], msg[1024] = "";

	if (org_slot_id(fs->org, slot, id, sizeof(id)) != 0)
		return NULL;
	api = api_for_project(fs->api, id);
	if (!api) {
		log_err("project %s: out of memory", id);
		return NULL;
	}
	if (fs->meta && !(meta = meta_for_project(fs->meta, id))) {
		log_err("project %s: out of memory", id);
		api_free(api);
		return NULL;
	}
	in = fs_inst_new(fs, slot, api, meta, msg, sizeof(msg));
	if (!in) {
		log_err("project %s cannot be opened: %s", id, msg);
		meta_close(meta);
		api_free(api);
		return NULL;
	}
	in->owned = true;
	if (fs_inst_start(in) != 0)
		log_warn("project %s: remote changes are not watched", id);
	log_info("project %s opened", id);
	return in;
}

/* Marks a slot whose project is being opened (fs->insts). */
static struct fs_inst fs_opening;

/* The open instance of @slot, opening it when @open; NULL when not open (or it failed). */
static struct fs_inst *fs_org_inst(struct fs *fs, uint32_t slot, bool open)
{
	struct fs_inst *in = NULL;

	pthread_mutex_lock(&fs->lock);
	if (slot <= fs->ninsts)
		in = fs->insts[slot - 1];
	/* Another request opens it: wait for that, rather than open it twice. */
	while (in == &fs_opening && open) {
		pthread_cond_wait(&fs->opened, &fs->lock);
		in = fs->insts[slot - 1];
	}
	if (in == &fs_opening)
		in = NULL;
	if (!in && open && fs->started) {
		if (slot > fs->ninsts) {
			uint32_t n = slot + 64;
			struct fs_inst **v = realloc(fs->insts, n * sizeof(*v));

			if (!v)
				goto out;
			memset(v + fs->ninsts, 0, (n - fs->ninsts) * sizeof(*v));
			fs->insts = v;
			fs->ninsts = n;
		}
		/* Opened without the lock: it makes API calls, and other projects (and the
		 * attributes of this one's directory) must not wait for them. */
		fs->insts[slot - 1] = &fs_opening;
		pthread_mutex_unlock(&fs->lock);
		in = fs_org_open(fs, slot);
		pthread_mutex_lock(&fs->lock);
		fs->insts[slot - 1] = in;
		pthread_cond_broadcast(&fs->opened);
	}
out:
	pthread_mutex_unlock(&fs->lock);
	return in;
}

struct node_ctx *fs_ctx(struct fs *fs, uint64_t ino, bool open)
{
	uint32_t slot = TREE_SLOT(ino);
	struct fs_inst *in;

	if (!fs->org)
		return &fs->single->ctx;
	if (slot == 0)
		return &fs->ctx;
	in = fs_org_inst(fs, slot, open);
	return in ? &in->ctx : open ? NULL : &fs->ctx;
}

int fs_node(struct fs *fs, uint64_t ino, bool use, struct node_ctx **c, struct tree_node *n)
{
	uint32_t slot = TREE_SLOT(ino);

	*c = fs_ctx(fs, ino, use);
	if (!*c)
		return -EIO;
	if (fs->org && slot && *c == &fs->ctx) {
		/* A project's directory, not opened: only its attributes are asked for. */
		if ((ino & 0xffffffffu) != TREE_INO_ROOT)
			return -ENOENT;
		memset(n, 0, sizeof(*n));
		n->ino = ino;
		n->kind = TREE_ROOT;
		return 0;
	}
	return tree_get((*c)->tree, ino, n);
}

/* ---- the mount ---- */

struct fs *fs_new(const struct fs_config *cfg, struct api *api, struct meta *meta,
		  char *msg, size_t msglen)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	struct model_list *l = NULL;

	if (!fs) {
		util_msg(msg, msglen, "out of memory");
		return NULL;
	}
	fs->cfg = *cfg;
	fs->api = api;
	fs->meta = meta;
	pthread_mutex_init(&fs->lock, NULL);
	pthread_cond_init(&fs->opened, NULL);
	if (meta && meta_conninfo(meta) && !(fs->hub = notify_hub_new(meta_conninfo(meta)))) {
		util_msg(msg, msglen, "out of memory");
		goto fail;
	}
	if (!cfg->org) {
		fs->single = fs_inst_new(fs, 0, api, meta, msg, msglen);
		if (!fs->single)
			goto fail;
		return fs;
	}
	fs->tree = tree_new_org();
	fs->events = events_new(1024);
	if (fs->events)
		fs->org = org_new(api, fs->events, cfg->cache_ttl, cfg->project_page);
	if (!fs->tree || !fs->events || !fs->org) {
		util_msg(msg, msglen, "out of memory");
		goto fail;
	}
	/* Before the mount, so a wrong key or organization reaches the terminal. */
	if (org_projects(fs->org, &l) != 0) {
		util_msg(msg, msglen, "cannot list the projects of organization %s (see above)",
			 api_org_id(api));
		goto fail;
	}
	log_info("organization %s: %zu projects", api_org_id(api), model_count(l));
	model_list_put(l);
	fs->ctx = (struct node_ctx){
		.tree = fs->tree, .events = fs->events, .uid = getuid(), .gid = getgid(),
		.mounted = time(NULL), .attr_timeout = cfg->attr_timeout, .org = fs->org,
		.allow_project_delete = cfg->allow_project_delete, .op_timeout = cfg->op_timeout,
	};
	return fs;
fail:
	fs_free(fs);
	return NULL;
}

void fs_free(struct fs *fs)
{
	uint32_t i;

	if (!fs)
		return;
	fs_stop(fs);
	/* Lets the long actions under way end before what they use goes. */
	worker_pool_free(fs->workers);
	fs_inst_free(fs->single);
	for (i = 0; i < fs->ninsts; i++)
		if (fs->insts[i] != &fs_opening)
			fs_inst_free(fs->insts[i]);
	free(fs->insts);
	notify_hub_free(fs->hub);
	org_free(fs->org);
	events_free(fs->events);
	tree_free(fs->tree);
	pthread_cond_destroy(&fs->opened);
	pthread_mutex_destroy(&fs->lock);
	free(fs);
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	fs->se = se;
	/* Threads are made here, after fuse_daemonize's fork: a child has none of its
	 * parent's, and a pool made before would take jobs that never run. */
	fs->workers = worker_pool_new(FS_WORKERS);
	if (!fs->workers) {
		log_err("cannot start the worker threads for long actions");
		return -ENOMEM;
	}
	fs->ctx.workers = fs->workers;
	fs->watching = watch_pool_new(fs->org ? FS_WATCH_THREADS_ORG : 1);
	if (!fs->watching)
		return -ENOMEM;
	if (notify_hub_start(fs->hub) != 0)
		return -EAGAIN;
	pthread_mutex_lock(&fs->lock);
	fs->started = true;
	pthread_mutex_unlock(&fs->lock);
	return fs->single ? fs_inst_start(fs->single) : 0;
}

void fs_stop(struct fs *fs)
{
	uint32_t i;

	if (fs->events)
		events_shutdown(fs->events);
	/* The listener first: what it hears goes to the watchers and the kernel. */
	notify_hub_stop(fs->hub);
	if (fs->single) {
		events_shutdown(fs->single->events);
		notify_stop(fs->single->notify);
		watcher_stop(fs->single->watcher);
	}
	pthread_mutex_lock(&fs->lock);
	/* No project opens once the workers it would use are gone. */
	fs->started = false;
	for (i = 0; i < fs->ninsts; i++) {
		if (!fs->insts[i] || fs->insts[i] == &fs_opening)
			continue;
		events_shutdown(fs->insts[i]->events);
		notify_stop(fs->insts[i]->notify);
		watcher_stop(fs->insts[i]->watcher);
	}
	pthread_mutex_unlock(&fs->lock);
	watch_pool_free(fs->watching);
	fs->watching = NULL;
	/* The long actions under way answer before the session's fd is closed at unmount:
	 * joined here, their replies happen before the close (as ThreadSanitizer checks). */
	worker_pool_free(fs->workers);
	fs->workers = NULL;
	fs->ctx.workers = NULL;
	if (fs->single)
		fs->single->ctx.workers = NULL;
	for (i = 0; i < fs->ninsts; i++)
		if (fs->insts[i] && fs->insts[i] != &fs_opening)
			fs->insts[i]->ctx.workers = NULL;
}
