/* fs: one mount, put together. This file only wires the modules to each other; what a
 * user's verb does is in node/ (the tree) and actions.c (Neon), reached through ops.c. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "actions.h"
#include "events.h"
#include "fs.h"
#include "log.h"
#include "node.h"
#include "notify.h"
#include "ops.h"
#include "project.h"
#include "render.h"
#include "restore.h"
#include "restore_settle.h"
#include "tree.h"
#include "util.h"
#include "watcher.h"
#include "worker.h"

struct fs {
	struct node_ctx ctx;
	struct project *project;
	struct watcher *watcher;
	struct notify *notify;        /* NULL without a meta database */
	struct actions *actions;
	struct events *events;
	struct restore *restore;
	struct tree *tree;
	struct worker_pool *workers;
	struct fuse_session *se;
	double op_timeout;	/* how long a restore left running is waited for at mount */
};

/* Long actions at once (mkdir, rmdir, restores, previews); more wait their turn. */
#define FS_WORKERS 32

struct node_ctx *fs_node_ctx(struct fs *fs)
{
	return &fs->ctx;
}

/* ---- what the watcher tells the kernel ---- */

static void fs_notify_gone(void *data, bool snapshot, const char *id, const char *entry)
{
	struct fs *fs = data;
	uint64_t dir = snapshot ? TREE_INO_SNAPSHOTS : TREE_INO_BRANCHES;
	uint64_t child = tree_intern(fs->tree, snapshot ? TREE_SNAPSHOT : TREE_BRANCH, id, "");

	ops_notify_gone(fs->se, dir, child, entry);
}

static void fs_notify_entry(void *data, bool snapshot, const char *entry)
{
	struct fs *fs = data;

	ops_notify_entry(fs->se, snapshot ? TREE_INO_SNAPSHOTS : TREE_INO_BRANCHES, entry);
}

static void fs_notify_active(void *data)
{
	struct fs *fs = data;
	const char *const *f;

	for (f = render_active_files; *f; f++)
		ops_notify_inode(fs->se, tree_intern(fs->tree, TREE_ACTIVE_FILE, "", *f));
}

static const struct watcher_notify fs_watcher_notify = {
	.gone = fs_notify_gone,
	.entry = fs_notify_entry,
	.active = fs_notify_active,
};

struct fs *fs_new(const struct fs_config *cfg, struct api *api, struct meta *meta,
		  char *msg, size_t msglen)
{
	struct fs *fs = calloc(1, sizeof(*fs));
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

	if (!fs) {
		util_msg(msg, msglen, "out of memory");
		return NULL;
	}
	fs->project = project_open(&pc, api, meta, msg, msglen);
	if (!fs->project)
		goto fail;
	fs->tree = tree_new();
	fs->events = events_new(1024);
	fs->restore = restore_new(api, project_pool(fs->project), meta);
	fs->op_timeout = cfg->op_timeout;
	if (fs->events)
		fs->watcher = watcher_new(fs->project, fs->events, &wc, &fs_watcher_notify, fs);
	if (fs->watcher && fs->restore)
		fs->actions = actions_new(&ac, fs->project, fs->events, fs->watcher, fs->restore);
	if (!fs->tree || !fs->events || !fs->restore || !fs->watcher || !fs->actions) {
		util_msg(msg, msglen, "out of memory");
		goto fail;
	}
	fs->notify = notify_new(fs->project, meta, fs->watcher, fs->events, &fs_watcher_notify, fs);
	if (meta && !fs->notify) {
		util_msg(msg, msglen, "out of memory");
		goto fail;
	}
	actions_set_notify(fs->actions, fs->notify);
	fs->ctx = (struct node_ctx){
		.tree = fs->tree, .project = fs->project, .actions = fs->actions,
		.events = fs->events, .restore = fs->restore, .uid = getuid(), .gid = getgid(),
		.mounted = time(NULL), .attachment_max = cfg->attachment_max,
		.attr_timeout = cfg->attr_timeout,
	};
	return fs;
fail:
	fs_free(fs);
	return NULL;
}

void fs_free(struct fs *fs)
{
	if (!fs)
		return;
	fs_stop(fs);
	/* Lets the long actions under way end before what they use goes. */
	worker_pool_free(fs->workers);
	actions_free(fs->actions);
	notify_free(fs->notify);
	watcher_free(fs->watcher);
	restore_free(fs->restore);
	events_free(fs->events);
	tree_free(fs->tree);
	project_close(fs->project);
	free(fs);
}

int fs_start(struct fs *fs, struct fuse_session *se)
{
	int res;

	fs->se = se;
	/* Threads are made here, after fuse_daemonize's fork: a child has none of its
	 * parent's, and a pool made before would take jobs that never run. */
	fs->workers = worker_pool_new(FS_WORKERS);
	if (!fs->workers) {
		log_err("cannot start the worker threads for long actions");
		return -ENOMEM;
	}
	fs->ctx.workers = fs->workers;
	action_cleanup_temporary(fs->actions);
	action_cleanup_records(fs->actions);
	restore_settle_start(fs->restore, project_api(fs->project), project_meta(fs->project),
			     fs->workers, project_active_name(fs->project), fs->op_timeout);
	res = watcher_start(fs->watcher);
	return res ? res : notify_start(fs->notify);
}

void fs_stop(struct fs *fs)
{
	if (fs->events)
		events_shutdown(fs->events);
	/* The listener first: what it hears goes to the watcher and the kernel. */
	notify_stop(fs->notify);
	if (fs->watcher)
		watcher_stop(fs->watcher);
	/* The long actions under way answer before the session's fd is closed at unmount:
	 * joined here, their replies happen before the close (as ThreadSanitizer checks). */
	worker_pool_free(fs->workers);
	fs->workers = NULL;
	fs->ctx.workers = NULL;
}
