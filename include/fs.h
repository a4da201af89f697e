/* fs: one mount, put together: a project (or each project of an organization), its
 * watcher, its actions and the tree, with the FUSE operations (ops.c) that serve it.
 * main.c needs nothing else. */
#ifndef NEONFS_FS_H
#define NEONFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <fuse_lowlevel.h>

struct api;
struct meta;

struct fs_config {
	const char *branch;        /* active branch name; NULL = the project's default branch */
	const char *database;      /* NULL = the branch's only (or first) database */
	const char *role;          /* NULL = that database's owner */
	double cache_ttl;          /* seconds a listing is reused */
	double attr_timeout;       /* seconds the kernel may keep attributes and entries */
	double op_timeout;         /* seconds to wait for Neon operations */
	double pg_timeout;         /* seconds for a libpq connect or statement */
	double pg_idle;            /* seconds before an idle connection to a compute closes */
	int keep_old_branches;     /* replaced branches a verified restore keeps; -1: all */
	size_t attachment_max;     /* bytes per attachment */
	long long snapshot_ttl;    /* seconds each new snapshot lives; 0: no expiry */
	long long snapshot_limit;  /* -o snapshot_limit=; 0: not given */
	double poll_min, poll_max; /* bounds of the remote-change poll interval */
	bool watch_always;         /* poll even while the mount is idle */
	/* An organization's mount: the api and meta given are the organization's, and each
	 * project's client and records are made from them (sharing their connections). */
	bool org;
	bool allow_project_delete; /* rmdir <mnt>/<project> deletes the project */
	int project_page;          /* projects a listing call asks for */
	double project_idle;       /* an organization's mount: seconds a project unused and
				    * unheld stays open (-o project_idle); 0: until unmount */
};

struct fs;

/* Resolves the active branch, its database and role. NULL with words in @msg on failure. */
struct fs *fs_new(const struct fs_config *cfg, struct api *api, struct meta *meta,
		  char *msg, size_t msglen);
void fs_free(struct fs *fs);

/* The operations table; the session's userdata is the struct fs. */
const struct fuse_lowlevel_ops *fs_lowlevel_ops(void);

struct node_ctx;
struct tree_node;
/* What node operations on @ino work with (node.h): its project's, or the organization
 * root's. @open opens the project on its first use; without it, the inodes of a project
 * not opened yet get the root's. NULL only when the project cannot be opened (logged). */
struct node_ctx *fs_ctx(struct fs *fs, uint64_t ino, bool open);
/* fs_ctx and the node of @ino: 0, -ENOENT for an inode never given out, -EIO when its
 * project cannot be opened. Without @use, a project's directory is answered unopened. */
int fs_node(struct fs *fs, uint64_t ino, bool use, struct node_ctx **c, struct tree_node *n);

/* A request's use of the projects' instances. An organization's mount closes a project
 * that is idle (fs.c), so what fs_ctx and fs_node give is held for the one request only:
 * ops.c begins a scope on the stack around each handler (and each parked job), and every
 * instance they hand out on that thread in the meantime is held until its end. */
struct fs_inst;
struct fs_scope {
	struct fs *fs;
	struct fs_scope *outer;    /* a job run inline, within its request's scope */
	unsigned n;
	struct fs_inst *held[4];   /* one, or two: a project's directory looked up at the root */
};
void fs_scope_begin(struct fs *fs, struct fs_scope *s);
void fs_scope_end(struct fs_scope *s);
/* Holds what @c belongs to beyond the request (an open file or directory, a parked job),
 * inside a scope that holds it already; fs_drop lets go. */
void fs_hold(struct fs *fs, struct node_ctx *c);
void fs_drop(struct fs *fs, struct node_ctx *c);
/* The kernel was handed @ino in an entry named @name, or let go of @nlookup counts of it
 * (FUSE forget). A project's directory is counted by the mount, not by a tree, since the
 * kernel may hold it whether its project is open or not. */
void fs_ref(struct fs *fs, uint64_t ino, const char *name);
void fs_forget(struct fs *fs, uint64_t ino, uint64_t nlookup);

/* Starts the threads that watch the project; needs the session to send notifications. */
int fs_start(struct fs *fs, struct fuse_session *se);
void fs_stop(struct fs *fs);

#endif
