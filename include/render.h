/* render: the text of the files neonfs makes up (id, meta.json, schema, connection_uri) for
 * a snapshot, a branch or active/. No FUSE types; reads only: nothing here changes Neon. */
#ifndef NEONFS_RENDER_H
#define NEONFS_RENDER_H

#include <stdbool.h>

struct project;

enum render_owner {
	RENDER_SNAPSHOT = 1,   /* @id is a snapshot id */
	RENDER_BRANCH,         /* @id is a branch id */
	RENDER_ACTIVE,         /* the active branch, whatever its id is now */
};

/* The files each kind of directory can hold, NULL-terminated. */
extern const char *const render_snapshot_files[];   /* id, meta.json, schema, expires_at,
						     * connection_uri */
extern const char *const render_branch_files[];     /* id, meta.json, schema, connection_uri */
extern const char *const render_active_files[];     /* id, meta.json, schema, connection_uri */

/* Is @file one of @list? */
bool render_in(const char *const *list, const char *file);

/* Does @owner's directory show @file now? A snapshot shows schema once it was captured and
 * connection_uri while it has a preview branch; a branch shows schema and connection_uri
 * while it has a compute. 1, 0, or -errno when that cannot be known. */
int render_shows(struct project *p, enum render_owner owner, const char *id, const char *file);

/* The text of @file, malloc'd. -ENOENT when the object or file is not there. */
int render_file(struct project *p, enum render_owner owner, const char *id, const char *file,
		char **text);

/* Files whose bytes come from the database itself and change without the API knowing:
 * read fresh at every open. */
bool render_live(enum render_owner owner, const char *file);

/* <mnt>/limits: each of Neon's limits neonfs knows, what is used of it, where each number
 * came from and what to delete at the limit (JSON, model.h's model_limits_json). */
int render_limits(struct project *p, char **text);

/* The snapshots there are and the snapshot limit (-1 when unknown), for df -i. From the
 * cached listing: no API call within the cache window. */
int render_snapshot_room(struct project *p, long long *used, long long *limit);

#endif
