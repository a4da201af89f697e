/* quota: what neonfs knows of Neon's limits on a project, and where each number came from.
 *
 * Neon's API has no call that reads a project's snapshot or root-branch limit (Free plans
 * have 1 snapshot, paid plans 100), so a limit is known from -o snapshot_limit= ("option")
 * or from the error Neon gave when an action ran into it ("error"). What is used is counted
 * from the listings ("api"). No FUSE types, no JSON. */
#ifndef NEONFS_QUOTA_H
#define NEONFS_QUOTA_H

#include <stddef.h>

enum quota_kind {
	QUOTA_SNAPSHOTS = 0,
	QUOTA_ROOT_BRANCHES,
	QUOTA_KINDS,
};

struct quota;

/* @snapshot_limit: -o snapshot_limit=, 0 when not given. */
struct quota *quota_new(long long snapshot_limit);
void quota_free(struct quota *q);

/* The limit of @kind and where it came from ("option", "error"); -1 and "" when unknown. */
long long quota_limit(struct quota *q, enum quota_kind kind, char *from, size_t fromlen);

/* The limit a Neon error code names, or -1: SNAPSHOTS_LIMIT_EXCEEDED,
 * ROOT_BRANCHES_LIMIT_EXCEEDED. */
int quota_kind_of(const char *code);

/* The number in a limit error's message ("... (limit 10)", "limit: 10", "limit of 10"), or
 * -1 when it names none. */
long long quota_number(const char *message);

/* Neon refused an action at the limit of @kind with @message while @used were in use: the
 * limit is the message's number, or @used when it names none. Returns the limit. */
long long quota_learn(struct quota *q, enum quota_kind kind, const char *message,
		      long long used);

#endif
