/* fs: one mount, put together. This file only wires the modules to each other; what a
 * user's verb does is in node/ (the tree) and actions.c (Neon), reached through ops.c.
 *
 * A mount of one project has one instance of a project's parts (its project, watcher,
 * actions, events, restore and tree) at the root. An organization's mount has one per
 * project, opened on the first use of the project's directory, each with its tree
 * numbered from the project's slot (tree.h), so the inode says which instance serves it.
 * There, a project idle for -o project_idle is closed again (see "closing idle projects"
 * below for when, and why no request can then reach what was freed). */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stddef.h>
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
	unsigned busy;         /* holds: requests, open files and directories, jobs (atomic) */
	double let_go;         /* util_now() when the kernel was last asked to let go of it */
};

/* An organization's project, open or not. */
struct fs_slot {
	uint64_t next_ino;     /* where its tree's numbers go on when it is opened again */
	uint64_t root_refs;    /* the kernel's count of the project's directory */
	char *entry;           /* the name it was last handed to the kernel under */
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
	struct fs_slot *slots;       /* as many as insts */
	uint32_t ninsts;
	bool started;
	/* The thread that closes idle projects. */
	pthread_t reaper;
	pthread_cond_t reaper_wake;
	bool reaping, reaper_stop;

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

/* ---- holding a project's instance ----
 *
 * An organization's mount closes a project once it is idle (below), so nothing may use an
 * instance after that. Every pointer into one comes from fs_org_inst, under fs->lock, and
 * there the thread's scope (fs.h: ops.c begins one around each request and each parked
 * job) takes a hold on it, kept to the scope's end; an open file or directory, a parked
 * job and the settling of restores at open add holds of their own, always while one is
 * held already (or before the instance is published). So busy goes from 0 to 1 only under
 * fs->lock while the instance is in fs->insts, and the reaper, which unpublishes one under
 * that lock only at busy 0, frees what no thread has and none can get any more. */

static _Thread_local struct fs_scope *fs_scope_now;

#define FS_INST(c) ((struct fs_inst *)((char *)(c) - offsetof(struct fs_inst, ctx)))

void fs_scope_begin(struct fs *fs, struct fs_scope *s)
{
	s->fs = fs;
	s->n = 0;
	s->outer = fs_scope_now;
	fs_scope_now = s;
}

void fs_scope_end(struct fs_scope *s)
{
	unsigned i;

	for (i = 0; i < s->n; i++)
		__atomic_sub_fetch(&s->held[i]->busy, 1, __ATOMIC_ACQ_REL);
	fs_scope_now = s->outer;
}

/* Caller holds fs->lock: @in, just found in fs->insts, is held by the thread's scope. */
static void fs_take(struct fs_inst *in)
{
	struct fs_scope *s = fs_scope_now;
	unsigned i;

	for (i = 0; s && i < s->n; i++)
		if (s->held[i] == in)
			return;
	__atomic_add_fetch(&in->busy, 1, __ATOMIC_ACQ_REL);
	if (s && s->n < sizeof(s->held) / sizeof(s->held[0])) {
		s->held[s->n++] = in;
		return;
	}
	/* Never let go: the project stays open to the unmount, which is safe. */
	log_warn("project %s: used outside a request's scope, or by one holding %zu projects"
		 " already; it stays open", api_project_id(in->api),
		 sizeof(s->held) / sizeof(s->held[0]));
}

void fs_hold(struct fs *fs, struct node_ctx *c)
{
	if (fs->org && c && c != &fs->ctx)
		__atomic_add_fetch(&FS_INST(c)->busy, 1, __ATOMIC_ACQ_REL);
}

void fs_drop(struct fs *fs, struct node_ctx *c)
{
	if (fs->org && c && c != &fs->ctx)
		__atomic_sub_fetch(&FS_INST(c)->busy, 1, __ATOMIC_ACQ_REL);
}

static void fs_inst_settled(void *data)
{
	struct fs_inst *in = data;

	fs_drop(in->fs, &in->ctx);
}

/* Caller holds fs->lock. Room for @slot in fs->insts and fs->slots. */
static int fs_grow(struct fs *fs, uint32_t slot)
{
	uint32_t n = slot + 64;
	struct fs_inst **v;
	struct fs_slot *s;

	if (slot <= fs->ninsts)
		return 0;
	v = realloc(fs->insts, n * sizeof(*v));
	if (!v)
		return -ENOMEM;
	fs->insts = v;
	s = realloc(fs->slots, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	fs->slots = s;
	memset(v + fs->ninsts, 0, (n - fs->ninsts) * sizeof(*v));
	memset(s + fs->ninsts, 0, (n - fs->ninsts) * sizeof(*s));
	fs->ninsts = n;
	return 0;
}

/* Where the tree of @slot starts: after the numbers its last one gave (tree.h). */
static uint64_t fs_slot_next(struct fs *fs, uint32_t slot)
{
	uint64_t next = 0;

	pthread_mutex_lock(&fs->lock);
	if (slot && slot <= fs->ninsts)
		next = fs->slots[slot - 1].next_ino;
	pthread_mutex_unlock(&fs->lock);
	return next;
}

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
	in->tree = tree_new(slot, fs_slot_next(fs, slot));
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
		/* An organization's: its directory's times stay those of the mount, however
		 * often the project is opened again. */
		.mounted = fs->org ? fs->ctx.mounted : time(NULL), .attachment_max = cfg->attachment_max,
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
	/* Held while restores left running are settled on the pool; not published yet. */
	fs_hold(in->fs, &in->ctx);
	restore_settle_start(in->restore, in->api, in->meta, in->fs->workers,
			     project_active_name(in->project), in->fs->cfg.op_timeout,
			     fs_inst_settled, in);
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
		if (fs_grow(fs, slot) != 0)
			goto out;
		/* Opened without the lock: it makes API calls, and other projects (and the
		 * attributes of this one's directory) must not wait for them. */
		fs->insts[slot - 1] = &fs_opening;
		pthread_mutex_unlock(&fs->lock);
		in = fs_org_open(fs, slot);
		pthread_mutex_lock(&fs->lock);
		fs->insts[slot - 1] = in;
		pthread_cond_broadcast(&fs->opened);
	}
	if (in)
		fs_take(in);
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

	/* A project's directory is stat'ed by ls -l of the root: that is no use of the
	 * project, and needs nothing of it. */
	if (fs->org && slot && !use && (ino & 0xffffffffu) == TREE_INO_ROOT)
		*c = &fs->ctx;
	else
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

/* ---- what the kernel holds ---- */

static bool fs_is_project_dir(const struct fs *fs, uint64_t ino)
{
	return fs->org && TREE_SLOT(ino) && (ino & 0xffffffffu) == TREE_INO_ROOT;
}

void fs_ref(struct fs *fs, uint64_t ino, const char *name)
{
	uint32_t slot = TREE_SLOT(ino);
	struct node_ctx *c;
	struct fs_slot *s;
	char *copy;

	if (!fs_is_project_dir(fs, ino)) {
		c = fs_ctx(fs, ino, false);
		if (c && c->tree && TREE_SLOT(tree_ino(c->tree, 0)) == slot)
			tree_ref(c->tree, ino, name);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	if (fs_grow(fs, slot) == 0) {
		s = &fs->slots[slot - 1];
		s->root_refs++;
		/* The name to ask the kernel to let go of; a rename elsewhere changes it. */
		if (name && (!s->entry || strcmp(s->entry, name) != 0) && (copy = strdup(name))) {
			free(s->entry);
			s->entry = copy;
		}
	}
	pthread_mutex_unlock(&fs->lock);
}

void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup)
{
	uint32_t slot = TREE_SLOT(ino);
	struct node_ctx *c;
	struct fs_slot *s;

	if (!fs_is_project_dir(fs, ino)) {
		/* The tree of a closed project held nothing: no forget comes for it. */
		c = fs_ctx(fs, ino, false);
		if (c && c->tree && TREE_SLOT(tree_ino(c->tree, 0)) == slot)
			tree_forget(c->tree, ino, nlookup);
		return;
	}
	pthread_mutex_lock(&fs->lock);
	if (slot <= fs->ninsts) {
		s = &fs->slots[slot - 1];
		s->root_refs = nlookup < s->root_refs ? s->root_refs - nlookup : 0;
	}
	pthread_mutex_unlock(&fs->lock);
}

/* ---- closing idle projects ----
 *
 * A platform's mount lives for weeks while tenants use their projects now and then; a
 * project left alone for -o project_idle is closed, its instance freed with its caches,
 * watcher, channel and connections, and opened again on its next use. Idle is: unused
 * that long (project_idle_for), held by nothing (busy: no request, open file or directory,
 * events reader or parked read, long action), and nothing of its tree held by the kernel.
 * Once idle but for the kernel, the kernel is asked to let go of the project's directory
 * (from this thread: a notification from a request's handler can deadlock); it then sends
 * its forgets, and the next look closes the project. What is still in use (a shell's
 * working directory inside) keeps its inodes, and the project stays open. */

#define FS_REAP_BATCH 32

/* Caller holds fs->lock (dropped meanwhile). One look at every open project. True when
 * there was more to do than one look takes. */
static bool fs_reap(struct fs *fs)
{
	const double idle = fs->cfg.project_idle, now = util_now();
	struct fs_inst *closing[FS_REAP_BATCH], *held[FS_REAP_BATCH];
	double idle_for[FS_REAP_BATCH];
	char *let_go[FS_REAP_BATCH];
	size_t nclose = 0, nlet = 0, k;
	uint32_t i;

	for (i = 0; i < fs->ninsts && nclose < FS_REAP_BATCH && nlet < FS_REAP_BATCH; i++) {
		struct fs_inst *in = fs->insts[i];
		struct fs_slot *s = &fs->slots[i];
		double unused;

		if (!in || in == &fs_opening || __atomic_load_n(&in->busy, __ATOMIC_ACQUIRE))
			continue;
		unused = project_idle_for(in->project);
		if (unused < idle)
			continue;
		if (tree_held(in->tree) || s->root_refs) {
			/* Asked again once a while: an entry looked up since needs it. */
			if (s->entry && (in->let_go == 0 || now - in->let_go >= idle) &&
			    (let_go[nlet] = strdup(s->entry))) {
				in->let_go = now;
				held[nlet++] = in;
			}
			continue;
		}
		s->next_ino = tree_next(in->tree);
		fs->insts[i] = NULL;
		idle_for[nclose] = unused;
		closing[nclose++] = in;
	}
	pthread_mutex_unlock(&fs->lock);
	for (k = 0; k < nclose; k++) {
		log_info("project %s closed after %.0f s idle", api_project_id(closing[k]->api),
			 idle_for[k]);
		fs_inst_free(closing[k]);
	}
	/* Only this thread frees an instance: those held stay while it tells the kernel. */
	for (k = 0; k < nlet; k++) {
		ops_notify_let_go(fs->se, held[k]->tree, TREE_INO_ROOT, let_go[k]);
		free(let_go[k]);
	}
	pthread_mutex_lock(&fs->lock);
	return nclose == FS_REAP_BATCH || nlet == FS_REAP_BATCH;
}

static void *fs_reaper_run(void *arg)
{
	struct fs *fs = arg;
	/* A few looks within project_idle, so a project closes soon after its time. */
	double period = fs->cfg.project_idle / 4;
	struct timespec until;
	bool more = false;

	period = period > 5 ? 5 : period < 0.25 ? 0.25 : period;
	pthread_mutex_lock(&fs->lock);
	while (!fs->reaper_stop) {
		if (!more) {
			until = util_deadline(period);
			pthread_cond_timedwait(&fs->reaper_wake, &fs->lock, &until);
		}
		if (!fs->reaper_stop)
			more = fs_reap(fs);
	}
	pthread_mutex_unlock(&fs->lock);
	return NULL;
}

static void fs_reaper_start(struct fs *fs)
{
	/* watch=always polls every opened project, as it did before projects were closed. */
	if (fs->cfg.project_idle <= 0 || fs->cfg.watch_always)
		return;
	if (pthread_create(&fs->reaper, NULL, fs_reaper_run, fs) != 0) {
		log_warn("projects stay open until unmount: no thread to close idle ones");
		return;
	}
	fs->reaping = true;
}

static void fs_reaper_stop(struct fs *fs)
{
	if (!fs->reaping)
		return;
	pthread_mutex_lock(&fs->lock);
	fs->reaper_stop = true;
	pthread_cond_signal(&fs->reaper_wake);
	pthread_mutex_unlock(&fs->lock);
	pthread_join(fs->reaper, NULL);
	fs->reaping = false;
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
	pthread_cond_init(&fs->reaper_wake, NULL);
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
	for (i = 0; i < fs->ninsts && fs->slots; i++)
		free(fs->slots[i].entry);
	free(fs->slots);
	notify_hub_free(fs->hub);
	org_free(fs->org);
	events_free(fs->events);
	tree_free(fs->tree);
	pthread_cond_destroy(&fs->opened);
	pthread_cond_destroy(&fs->reaper_wake);
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
	if (fs->org)
		fs_reaper_start(fs);
	return fs->single ? fs_inst_start(fs->single) : 0;
}

void fs_stop(struct fs *fs)
{
	uint32_t i;

	/* First: it frees instances, and tells the kernel. */
	fs_reaper_stop(fs);
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
