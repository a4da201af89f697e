/* What the two files of the ops module share (ops.c, ops_long.c); nothing else includes
 * this. */
#ifndef NEONFS_OPS_INTERNAL_H
#define NEONFS_OPS_INTERNAL_H

#include <stdbool.h>
#include <fuse_lowlevel.h>

#include "node.h"

enum ops_verb {
	VERB_LOOKUP, VERB_READDIR, VERB_MKDIR, VERB_RMDIR, VERB_UNLINK, VERB_SYMLINK,
	VERB_RENAME, VERB_CREATE, VERB_READLINK, VERB_OPEN, VERB_WRITE, VERB_TRUNCATE,
	VERB_CHMOD, VERB_READ,
};

void ops_fail(fuse_req_t req, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
const struct node_ops *ops_for(enum tree_kind kind);
void ops_refuse(fuse_req_t req, const struct tree_node *n, enum ops_verb verb, const char *name);
/* The context of @ino, whose project is open (an open file's, a parked job's). */
struct node_ctx *ops_ctx(fuse_req_t req, uint64_t ino);
bool ops_node(fuse_req_t req, fuse_ino_t ino, bool use, struct node_ctx **c, struct tree_node *n);
void ops_reply_entry(fuse_req_t req, const struct tree_node *child, const char *what);
struct node_handle *ops_handle_get(struct node_handle *h);
struct fs;
void ops_handle_put(struct fs *fs, struct node_ctx *c, struct node_handle *h);

/* ops_long.c */
void ops_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode);
void ops_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name);
void ops_unlink(fuse_req_t req, fuse_ino_t parent, const char *name);
void ops_symlink(fuse_req_t req, const char *link, fuse_ino_t parent, const char *name);
void ops_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
		const char *newname, unsigned int flags);
/* A write to active/restore, parked with its own copy of @buf. */
void ops_park_write(fuse_req_t req, struct node_handle *h, const struct node_ops *o,
		    const char *buf, size_t size, off_t off);

#endif
