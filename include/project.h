/* project: one Neon project as the tree sees it. Its listings come through the cache (one
 * API call per cache window, shared by concurrent readers), its active branch is resolved
 * by name, and it knows the database its files speak for. No FUSE types, no JSON. */
#ifndef NEONFS_PROJECT_H
#define NEONFS_PROJECT_H

#include <stdbool.h>
#include <stddef.h>

#include "meta.h"
#include "model.h"
#include "shared.h"

struct api;
struct pg_pool;

struct project_config {
	const char *branch;      /* active branch name; NULL = the project's default branch */
	const char *database;    /* NULL = the branch's first database */
	const char *role;        /* NULL = that database's owner */
	double cache_ttl;
	double pg_timeout;
	double pg_idle;          /* close connections to computes idle this long */
	long long snapshot_limit;   /* -o snapshot_limit=, 0 when not given */
};

struct project;

/* Resolves the active branch, its database and role. NULL with words in @msg. */
struct project *project_open(const struct project_config *cfg, struct api *api,
			     struct meta *meta, char *msg, size_t msglen);
void project_close(struct project *p);

struct api *project_api(struct project *p);
struct meta *project_meta(struct project *p);      /* NULL without a meta database */
struct pg_pool *project_pool(struct project *p);
struct quota *project_quota(struct project *p);      /* what is known of Neon's limits */
const char *project_id(struct project *p);
const char *project_active_name(struct project *p);
const char *project_database(struct project *p);

/* Listings: 0 and a new reference (model_list_put), or -errno (logged with the reason). */
int project_snapshots(struct project *p, struct model_list **out);
int project_branches(struct project *p, struct model_list **out);
int project_endpoints(struct project *p, struct model_list **out);

/* A snapshot listing read afresh while nothing else of the project runs (as it opens):
 * kept as the cached one, so the watcher's seed and the first `ls` need no call of their
 * own. */
void project_keep_snapshots(struct project *p, struct model_list *l);

/* The active branch in the cached branch listing: *list holds it (put it when done). */
int project_active(struct project *p, struct model_list **list, const struct neon_branch **b);
/* The active branch's id for a change about to be made: read afresh, never from the cache,
 * since a restore made elsewhere moves the name to a new id. */
int project_active_id(struct project *p, char *id, size_t len);

/* 1 when @branch_id has a read-write compute, 0 when not, -errno when that is unknown. */
int project_has_compute(struct project *p, const char *branch_id);
/* The connection string of @branch_id for the mount's database and role (malloc'd). */
int project_uri(struct project *p, const char *branch_id, char **uri);

/* Attachments of a snapshot, one query per cache window. Without a meta database a
 * snapshot has none; a meta database that fails gives its errno, never an empty list.
 * The snapshot id META_PENDING gives the pending files of active/next/ alike. */
struct project_attachments {
	struct shared base;
	size_t n;
	struct meta_attachment items[];
};
int project_attachments(struct project *p, const char *snapshot_id,
			struct project_attachments **out);
/* One attachment's facts: 0, -ENOENT, or the listing's errno. */
int project_attachment(struct project *p, const char *snapshot_id, const char *name,
		       struct meta_attachment *out);

/* Checkpoint records, one query per cache window, as for attachments. */
struct project_records {
	struct shared base;
	size_t n;
	struct meta_record items[];    /* sorted by snapshot id */
};
int project_records(struct project *p, struct project_records **out);
const struct meta_record *project_record(const struct project_records *r, const char *snapshot_id);

/* A file's text, rendered by @render at most once per cache window: stat then read costs
 * one render. @key names the file. */
typedef int (*project_render_fn)(void *data, char **text);
int project_text(struct project *p, const char *key, project_render_fn render, void *data,
		 struct shared_text **out);
void project_text_forget(struct project *p, const char *key);

/* What a change makes stale. */
enum {
	PROJECT_SNAPSHOTS = 1 << 0,
	PROJECT_BRANCHES  = 1 << 1,
	PROJECT_ENDPOINTS = 1 << 2,
	PROJECT_RECORDS   = 1 << 3,
	PROJECT_FILES     = 1 << 4,    /* every rendered file */
	PROJECT_ALL       = (1 << 5) - 1,
};
void project_forget(struct project *p, unsigned what);
void project_forget_attachments(struct project *p, const char *snapshot_id);
/* A change made through the mount (action_done), or one another mount told of (notify.h):
 * the cached snapshot (@snapshot) or branch
 * listing is patched as model_list_patch says, so the next ls costs no API call; without a
 * fresh listing to patch, it is dropped and fetched at the next ls. Rendered files go. */
void project_patch(struct project *p, bool snapshot, const char *id, const char *json,
		   const char *name);
/* The branch's connection string changed or the branch is gone: the cached URI and the
 * pooled connections through it go. */
void project_forget_uri(struct project *p, const char *branch_id);
/* The mount used this project just now (any request), and how long ago that was. */
void project_touch(struct project *p);
double project_idle_for(struct project *p);

/* A snapshot gone from Neon takes its checkpoint record, attachments and kept schema with
 * it. 0 (also when it had no record), or -errno with the reason in @msg. */
int project_record_delete(struct project *p, const char *snapshot_id, char *msg, size_t msglen);
/* Drops cache entries nobody holds, so memory follows what is in use. */
void project_trim(struct project *p);

/* Schemas captured at mkdir that could not be stored in the meta database (none given, or
 * down at the time): kept for the life of the mount, and stored when it answers again. */
void project_keep_schema(struct project *p, const char *snapshot_id, const char *schema);
char *project_kept_schema(struct project *p, const char *snapshot_id);   /* malloc'd or NULL */
void project_drop_kept_schema(struct project *p, const char *snapshot_id);

#endif
