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
/* A file's attributes and pages may have changed. */
void ops_notify_inode(struct fuse_session *se, uint64_t ino);

#endif
