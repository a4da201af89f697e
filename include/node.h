/* node: one set of operations per node type, in the manner of ZFS's ctldir and configfs.
 *
 * ops.c maps an inode to its node (tree.h), calls that node type's operation, and is the
 * only place that answers the kernel. A node type's operation returns 0 or -errno and
 * fills plain structs; it never replies. An operation a type leaves NULL is refused by
 * ops.c with the errno DESIGN.md gives for it. */
#ifndef NEONFS_NODE_H
#define NEONFS_NODE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <fuse_lowlevel.h>

#include "tree.h"

/* The longest file name the tree holds (struct tree_node.file) and statfs reports. */
#define NODE_NAME_MAX 255

struct project;
struct org;
struct actions;
struct events;
struct restore;
struct worker_pool;

/* What every node operation may use: the mount's parts, each behind its own header. */
struct node_ctx {
	struct tree *tree;
	struct project *project;
	struct actions *actions;
	struct events *events;
	struct restore *restore;
	uid_t uid;
	gid_t gid;
	time_t mounted;
	size_t attachment_max;
	double attr_timeout;   /* seconds the kernel may keep attributes and entries */
	struct worker_pool *workers;   /* where long actions run (worker.h) */
	/* An organization's mount, in its own root's context only (project is NULL there). */
	struct org *org;
	bool allow_project_delete;     /* -o allow_project_delete */
	double op_timeout;             /* seconds a new project's operations may take */
};

/* The entries of a directory as of opendir, so a listing read in pieces is consistent. */
struct node_dirent {
	char *name;
	uint64_t ino;
	mode_t mode;
};
struct node_dir {
	struct node_dirent *ents;
	size_t n, cap;
};
int node_dir_add(struct node_dir *d, const char *name, uint64_t ino, mode_t mode);

/* An open file: the node type's own state behind @priv. */
struct node_handle {
	struct tree_node node;
	void *priv;
	bool direct_io;      /* no page cache: the bytes change under a reader */
	bool nonseekable;
	unsigned refs;       /* ops.c's: the open file, and a long write still running */
};

/* What the opener is, for the one file that must tell (events and tail). */
struct node_opener {
	pid_t pid;
	int flags;           /* open(2) flags */
};

struct node_ops {
	const char *what;    /* for logs: "snapshots/", "a snapshot", ... */

	int (*getattr)(struct node_ctx *c, const struct tree_node *n, struct stat *st);

	/* Directories. */
	int (*lookup)(struct node_ctx *c, const struct tree_node *dir, const char *name,
		      struct tree_node *child);
	int (*readdir)(struct node_ctx *c, const struct tree_node *dir, struct node_dir *d);
	int (*mkdir)(struct node_ctx *c, const struct tree_node *dir, const char *name,
		     struct tree_node *child);
	int (*rmdir)(struct node_ctx *c, const struct tree_node *dir, const char *name);
	int (*unlink)(struct node_ctx *c, const struct tree_node *dir, const char *name);
	int (*symlink)(struct node_ctx *c, const struct tree_node *dir, const char *name,
		       const char *target, struct tree_node *child);
	/* Within @dir only; @flags: RENAME_NOREPLACE or 0. */
	int (*rename)(struct node_ctx *c, const struct tree_node *dir, const char *name,
		      const char *newname, unsigned int flags);
	/* A new file, opened: fills @child and @h. */
	int (*create)(struct node_ctx *c, const struct tree_node *dir, const char *name,
		      const struct node_opener *who, struct tree_node *child,
		      struct node_handle *h);

	/* Links. */
	int (*readlink)(struct node_ctx *c, const struct tree_node *n, char *buf, size_t len);

	/* Files. */
	int (*open)(struct node_ctx *c, const struct tree_node *n, const struct node_opener *who,
		    struct node_handle *h);
	/* Copies up to @size bytes at @off into @buf; returns the count or -errno. */
	ssize_t (*read)(struct node_ctx *c, struct node_handle *h, char *buf, size_t size,
			off_t off);
	/* Reads that may wait for data, answered later (events): the node takes @req and
	 * answers it through reply.h. Used instead of @read when set. */
	void (*read_wait)(struct node_ctx *c, struct node_handle *h, fuse_req_t req,
			  size_t size, bool nonblock);
	ssize_t (*write)(struct node_ctx *c, struct node_handle *h, const char *buf, size_t size,
			 off_t off);
	/* Truncate; @h is NULL for truncate(2) by path. */
	int (*truncate)(struct node_ctx *c, const struct tree_node *n, struct node_handle *h,
			off_t size);
	int (*flush)(struct node_ctx *c, struct node_handle *h);
	void (*release)(struct node_ctx *c, struct node_handle *h);
	/* poll(2): the ready mask now, and @ph kept to notify later (the node owns it). */
	unsigned (*poll)(struct node_ctx *c, struct node_handle *h, struct fuse_pollhandle *ph);
};

/* The operations of each node type, one file each under src/node/. */
extern const struct node_ops node_root_ops;          /* <mnt>/, or <mnt>/<project>/ */
extern const struct node_ops node_org_ops;           /* <mnt>/ of an organization */
extern const struct node_ops node_snapshots_ops;     /* snapshots/ */
extern const struct node_ops node_snapshot_ops;      /* snapshots/<name>/ */
extern const struct node_ops node_branches_ops;      /* branches/ */
extern const struct node_ops node_branch_ops;        /* branches/<name>/ */
extern const struct node_ops node_preview_ops;       /* branches/<preview> -> ../snapshots/<x> */
extern const struct node_ops node_active_ops;        /* active/ */
extern const struct node_ops node_restore_ops;       /* active/restore */
extern const struct node_ops node_expires_ops;       /* snapshots/<name>/expires_at */
extern const struct node_ops node_limits_ops;        /* limits */
extern const struct node_ops node_events_ops;        /* events */
extern const struct node_ops node_attachment_ops;    /* a file stored with a checkpoint */
extern const struct node_ops node_file_ops;          /* id, meta.json, schema, connection_uri */
extern const struct node_ops node_next_ops;          /* active/next/ */

/* Helpers the node types share. */
void node_fill(const struct node_ctx *c, struct stat *st, uint64_t ino, mode_t mode, time_t t);
/* A read of @size bytes at @off from @len bytes at @src, into @buf: the count copied. */
ssize_t node_copy_out(const char *src, size_t len, char *buf, size_t size, off_t off);
/* A directory of attachments: a snapshot's (@obj its id, @kind TREE_ATTACHMENT) or
 * active/next/ (META_PENDING, TREE_NEXT_FILE). Create opens the new file (@h). */
int node_attachments_lookup(struct node_ctx *c, enum tree_kind kind, const char *obj,
			    const char *name, struct tree_node *child);
int node_attachments_readdir(struct node_ctx *c, enum tree_kind kind, const char *obj,
			     struct node_dir *d);
int node_attachments_rename(struct node_ctx *c, enum tree_kind kind, const char *obj,
			    const char *name, const char *newname, unsigned int flags);
int node_attachments_create(struct node_ctx *c, enum tree_kind kind, const char *obj,
			    const char *name, const struct node_opener *who,
			    struct tree_node *child, struct node_handle *h);
/* For df -i: the snapshot limit as total inodes and the snapshots left as free ones, from
 * the cached listing. -ENOENT when the limit is not known. */
int node_limits_inodes(struct node_ctx *c, unsigned long *files, unsigned long *ffree);
/* The tree kind of a file in a snapshot's directory: expires_at has its own. */
enum tree_kind node_snapshot_file_kind(const char *file);
/* The node for (kind, obj, file), interned: 0 or -ENOMEM. */
int node_make(struct node_ctx *c, enum tree_kind kind, const char *obj, const char *file,
	      struct tree_node *out);

#endif
