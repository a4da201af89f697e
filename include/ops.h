/* ops: the FUSE low-level operations table (fs_lowlevel_ops in fs.h) and the only place
 * that answers the kernel; also where the kernel is told of changes made elsewhere. */
#ifndef NEONFS_OPS_H
#define NEONFS_OPS_H

#include <stdint.h>
#include <fuse_lowlevel.h>

/* An entry is gone: its dentry and the inode's link to it. */
void ops_notify_gone(struct fuse_session *se, uint64_t parent, uint64_t child, const char *name);
/* An entry may have changed: the kernel looks it up again. */
void ops_notify_entry(struct fuse_session *se, uint64_t parent, const char *name);
struct tree;
/* A tree nothing uses any more (an idle project's, its root named @name in @parent): the
 * kernel is asked to drop that entry and every one of @t it holds, and so to forget their
 * inodes. Never from a request's handler. */
void ops_notify_let_go(struct fuse_session *se, struct tree *t, uint64_t parent,
		       const char *name);
/* A file's attributes and pages may have changed. */
void ops_notify_inode(struct fuse_session *se, uint64_t ino);

#endif
