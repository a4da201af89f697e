/* reply: the one place that answers the kernel (ops.c). Modules that hold a request to
 * answer later, such as a parked read of events, answer it through here. */
#ifndef NEONFS_REPLY_H
#define NEONFS_REPLY_H

#include <stddef.h>
#include <fuse_lowlevel.h>

/* Answers @req with errno @err (positive; 0 is success for ops that return nothing). */
void reply_err(fuse_req_t req, int err);

/* Answers a read with @len bytes of @buf. */
void reply_buf(fuse_req_t req, const char *buf, size_t len);

#endif
