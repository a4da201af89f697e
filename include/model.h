/* model: Neon's objects as plain C, parsed once from the API's JSON.
 *
 * This is the one module that reads Neon's JSON objects. Everything it hands out has been
 * checked: an object without a string id is dropped (logged), a missing or non-string name
 * or time becomes "" and never a NULL to dereference. A listing is immutable and shared
 * (see shared.h): request threads hold references while they read it, and lookups by id,
 * name or entry are hashed.
 *
 * Entries. Each object of a listing is shown under exactly one directory entry: its name,
 * or its id when the name cannot be a file name (names_valid_entry), when two objects of the
 * listing share the name, or when the name equals another object's id. So every entry names
 * one object, and listing and lookup agree. */
#ifndef NEONFS_MODEL_H
#define NEONFS_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "shared.h"

/* Every string field below is non-NULL ("" when Neon sent none) and lives as long as the
 * listing or object that holds it. */
struct neon_snapshot {
	const char *id;
	const char *name;
	const char *entry;          /* what the tree lists it under */
	const char *created_at;     /* RFC 3339 as sent */
	const char *expires_at;     /* "" when it does not expire */
	const char *lsn;
	const char *source_branch_id;
	time_t created;             /* 0 when absent or unreadable */
	time_t expires;             /* 0 when it does not expire */
	const char *json;           /* the object as Neon sent it, compact JSON */
};

struct neon_branch {
	const char *id;
	const char *name;
	const char *entry;
	const char *parent_id;
	const char *created_at;
	const char *updated_at;
	const char *restore_status;   /* "", "restored" (a preview) or "finalized" */
	const char *restored_from;    /* snapshot id */
	const char *restored_as;      /* the branch id it replaced */
	time_t created, updated;
	bool is_default;
	bool is_protected;
	const char *json;
};

struct neon_endpoint {
	const char *id;
	const char *branch_id;
	const char *type;             /* "read_write", "read_only" */
	const char *current_state;
	const char *host;             /* what a connection string names it by */
};

/* A project of an organization's listing. */
struct neon_project {
	const char *id;
	const char *name;
	const char *entry;
	const char *created_at;
	time_t created;
};

/* One of Neon's asynchronous operations. */
struct neon_operation {
	char id[64];
	char action[64];
	char status[32];              /* scheduling, running, finished, failed, error, ... */
	char branch_id[64];
	char endpoint_id[64];
	char error[512];
	char created_at[40];
	char updated_at[40];
	long long failures_count;     /* how often Neon retried it; 0 when not said */
};

enum model_kind { MODEL_SNAPSHOTS = 1, MODEL_BRANCHES, MODEL_ENDPOINTS, MODEL_PROJECTS };

struct model_list;

struct model_list *model_list_get(struct model_list *l);
void model_list_put(struct model_list *l);
/* A listing kept in a cache travels as its shared header. */
struct shared *model_list_shared(struct model_list *l);
struct model_list *model_list_of(struct shared *s);

enum model_kind model_list_kind(const struct model_list *l);
size_t model_count(const struct model_list *l);

/* By index (0..count-1), in the order Neon listed them; NULL on a kind mismatch. */
const struct neon_snapshot *model_snapshot_at(const struct model_list *l, size_t i);
const struct neon_branch *model_branch_at(const struct model_list *l, size_t i);
const struct neon_endpoint *model_endpoint_at(const struct model_list *l, size_t i);
const struct neon_project *model_project_at(const struct model_list *l, size_t i);

/* Hashed lookups; NULL when absent. */
const struct neon_snapshot *model_snapshot_by_id(const struct model_list *l, const char *id);
const struct neon_snapshot *model_snapshot_by_entry(const struct model_list *l, const char *entry);
const struct neon_snapshot *model_snapshot_by_name(const struct model_list *l, const char *name);
const struct neon_branch *model_branch_by_id(const struct model_list *l, const char *id);
const struct neon_branch *model_branch_by_entry(const struct model_list *l, const char *entry);
const struct neon_branch *model_branch_by_name(const struct model_list *l, const char *name);
const struct neon_project *model_project_by_id(const struct model_list *l, const char *id);
const struct neon_project *model_project_by_entry(const struct model_list *l, const char *entry);
/* The branch Neon marks default, or NULL. */
const struct neon_branch *model_branch_default(const struct model_list *l);

/* Is @name already shown or held by an object of @l: an entry, a name or an id? A new
 * object under that name would make two entries mean one thing (EEXIST). */
bool model_name_taken(const struct model_list *l, const char *name);

/* A preview branch: made from a snapshot and not finalized into another branch. Returns
 * the snapshot id, or NULL. */
const char *model_preview_of(const struct neon_branch *b);
/* The newest preview branch of @snapshot_id in a branch listing, or NULL. */
const struct neon_branch *model_preview_branch(const struct model_list *branches,
					       const char *snapshot_id);
/* Branches whose parent is @id. */
size_t model_children(const struct model_list *branches, const char *id);
/* Branches without a parent: what Neon's root-branch limit counts (a snapshot restore makes
 * one, and keeps the branch it replaced as another). */
size_t model_root_branches(const struct model_list *branches);
/* A root branch that a finalized restore replaced and kept ("main (old)"): what to delete
 * at the root-branch limit. Never the default branch. */
bool model_branch_replaced(const struct model_list *branches, const struct neon_branch *b);
/* The read-write endpoint of @branch_id in an endpoint listing, or NULL. */
const struct neon_endpoint *model_endpoint_rw(const struct model_list *endpoints,
					      const char *branch_id);

/* A copy of the snapshot or branch listing @l with one change another mount told of:
 * @json given, it is the object @id as Neon sent it, put in place of the one with that id
 * (or added); @json NULL and @name given, @id is renamed to @name; both NULL, @id is taken
 * out. NULL when out of memory, @json is not the object @id, or @l has no @id to rename or
 * take out (then the listing is fetched afresh instead). */
struct model_list *model_list_patch(const struct model_list *l, const char *id,
				    const char *json, const char *name);

/* A single object of an API answer. */
struct neon_object {
	struct shared base;
	enum model_kind kind;
	union {
		struct neon_snapshot snapshot;
		struct neon_branch branch;
		struct neon_endpoint endpoint;
		struct neon_project project;
	} u;
};
void model_object_put(struct neon_object *o);

/* ---- API answers, parsed from the body's text (model_wire.c) ----
 * Each parser takes the body as the API sent it (NULL or blank: no body) and returns 0,
 * -ENOMEM, or -EIO with what is wrong in @msg ("the API's answer has no ..."). */

/* A listing's answer, {"snapshots" | "branches" | "endpoints": [...]}. */
int model_list_parse(enum model_kind kind, const char *text, struct model_list **out,
		     char *msg, size_t msglen);

/* A listing read page by page (branches): each page's objects are kept until the last. */
struct model_pages;
struct model_pages *model_pages_new(void);
/* Adds one page, {"<key>": [...], "pagination": {"next": cursor}}: *count objects on it,
 * *next the cursor of the page after it (malloc'd), NULL when the page names none. */
int model_pages_add(struct model_pages *p, const char *text, const char *key, size_t *count,
		    char **next, char *msg, size_t msglen);
/* The listing of every page added; NULL when out of memory. */
struct model_list *model_pages_list(struct model_pages *p, enum model_kind kind);
void model_pages_free(struct model_pages *p);
/* Adds one page of an organization's projects, {"projects": [...], "pagination":
 * {"cursor": c}}, keeping of each project only what the listing shows (model_project.c):
 * thousands are read page by page, and every other field goes with its page. *count
 * projects on it, *cursor (malloc'd) the page's cursor, NULL when it names none. The
 * listing is model_pages_list(p, MODEL_PROJECTS). */
int model_project_pages_add(struct model_pages *p, const char *text, size_t *count,
			    char **cursor, char *msg, size_t msglen);

/* What a mutating call answered ({snapshot|branch|endpoint|project, endpoints?,
 * operations}). */
struct model_answer {
	struct neon_object *snapshot;   /* NULL when the answer has none with an id */
	struct neon_object *branch;
	struct neon_object *endpoint;
	struct neon_object *project;    /* an organization's create and delete */
	bool has_endpoints;             /* a non-empty "endpoints": Neon made a compute too */
	bool has_operations;            /* it had an "operations" array */
	struct neon_operation *ops;     /* each with an id */
	size_t nops;
};
/* -EIO also when "operations" is not an array or one of them has no id. */
int model_answer_parse(const char *text, struct model_answer **out, char *msg, size_t msglen);
void model_answer_free(struct model_answer *a);

/* A polled operation, {"operation": {...}}: -EIO when it has none with an id. */
int model_operation_parse(const char *text, struct neon_operation *op, char *msg,
			  size_t msglen);

/* A database or a role of a branch: its name, and a database's owner ("" for a role). */
struct neon_named {
	char name[256];
	char owner[256];
};
/* {"<key>": [{name, owner_name?}, ...]} ("databases", "roles"); objects without a string
 * name are left out. *out is malloc'd. */
int model_named_parse(const char *text, const char *key, struct neon_named **out, size_t *n,
		      char *msg, size_t msglen);

/* {"uri": "..."}: *uri malloc'd. */
int model_uri_parse(const char *text, char **uri, char *msg, size_t msglen);

/* An error answer's GeneralError {code, message}: a few proxies answer {"error": {...}}, or
 * short plain text, which becomes the message (an HTML page does not). Never fails: what
 * cannot be read is "". @len: the body's length, which may hold a NUL. */
void model_error_parse(const char *text, size_t len, char *code, size_t codelen,
		       char *message, size_t messagelen);

/* ---- what neonfs writes (model_write.c): malloc'd text, NULL when out of memory ---- */

/* Request bodies, compact JSON. NULL arguments are left out, but for the expiry, where NULL
 * is JSON null (which clears it). */
char *model_body_snapshot_rename(const char *name);
char *model_body_snapshot_expiry(const char *expires_at);
char *model_body_restore(const char *target_branch_id, bool finalize, const char *name);
char *model_body_finalize_restore(const char *old_branch_name);
/* A branch from @parent_id's head with one read_write endpoint. */
char *model_body_branch_create(const char *parent_id, const char *name);
char *model_body_endpoint_create(const char *branch_id);
/* Neon's branch restore from @source_branch_id's head, keeping the state until then as
 * @preserve_under_name (NULL: not kept). */
char *model_body_branch_restore(const char *source_branch_id, const char *preserve_under_name);
/* A new project of the organization @org_id (NULL or "": the key's own account). */
char *model_body_project_create(const char *name, const char *org_id);

/* What `cat active/restore` shows: pretty JSON, newline-terminated. A string that is NULL
 * or "" shows as null, but @error, which is left out then. */
struct model_restore_status {
	const char *state;             /* "idle", "running", "finished", "failed" */
	bool ever;                     /* false: only the state (no restore yet) */
	const char *snapshot_id, *snapshot_name;
	const char *branch_name, *branch_before, *branch_after;
	const char *started_at, *ended_at;
	long long duration_ms;         /* < 0: left out (still running) */
	const struct neon_operation *ops;
	size_t nops;
	const char *verified;
	const char *error;
	/* An undo: the branch whose head it restores ("snapshot" is then null). NULL or "":
	 * a snapshot restore. */
	const char *undo_of_branch_id, *undo_of_branch_name;
	bool has_waited;               /* shows waited_s: running, so no duration yet */
	long long waited_s;            /* seconds since it began */
	bool has_undo;                 /* shows "undo" and "undo_note" (not while running) */
	const char *undo, *undo_note;
};
/* The operations as one line for progress events: "action:status" each, space-separated,
 * "?" for what Neon did not say; cut to fit @len. */
void model_operations_line(const struct neon_operation *ops, size_t n, char *buf, size_t len);
char *model_restore_status(const struct model_restore_status *s);

/* One row of the restore audit log; NULL strings are JSON null. */
struct model_restore_row {
	long long id;
	const char *snapshot_id, *snapshot_name, *branch_before, *branch_after;
	const char *user, *host, *started_at, *ended_at, *outcome, *error;
};
/* The rows as one compact JSON array. */
char *model_restore_log(const struct model_restore_row *rows, size_t n);

/* What meta.json shows. A snapshot's: the Neon object with its checkpoint record merged in
 * ("checkpoint": null without one). A branch's: the Neon object with facts read through
 * libpq under "live". Both malloc'd, pretty-printed, newline-terminated; NULL when out of
 * memory. */
struct model_attachment_line {
	const char *name;
	long long size;
};
struct model_checkpoint {
	const char *name;
	const char *created_at;
	const char *lsn;
	bool has_schema;
	const struct model_attachment_line *attachments;   /* NULL: not known */
	size_t nattachments;
};
char *model_snapshot_meta(const struct neon_snapshot *s, const struct model_checkpoint *cp);

struct model_live {
	const char *error;            /* non-NULL: only this is shown */
	const char *server_version;
	const char *database;
	const char *current_lsn;
	long long database_size;
	long long table_count;
};
char *model_branch_meta(const struct neon_branch *b, const struct model_live *live);

/* One of Neon's limits as the limits file shows it. */
struct model_limit {
	const char *name;              /* "snapshots", "root_branches" */
	long long used;                /* counted from a listing; -1 when unknown */
	long long limit;               /* -1 when unknown */
	const char *limit_from;        /* "option", "error", or "" */
	const char *const *remove;     /* entries to delete to make room */
	size_t nremove;
};
/* {"<name>": {used, used_from, limit, limit_from, left, reached, delete}, ...}, unknown
 * numbers as null. */
char *model_limits_json(const struct model_limit *l, size_t n);

/* ---- notices between the mounts of one meta database (model_notice.c) ----
 * One compact JSON object of neonfs's own format; notify.c sends and hears them, typed. */
#define MODEL_NOTICE_VERSION	1
#define MODEL_NOTICE_FIELDS	8	/* the events line's name/value slots */
#define MODEL_NOTICE_STALE	8

struct model_notice {
	int version;                   /* MODEL_NOTICE_VERSION; another is not guessed at */
	const char *mount;             /* who sent it: a mount ignores its own */
	const char *project;
	const char *event;             /* the events line's kind, or NULL */
	const char *fields[MODEL_NOTICE_FIELDS];  /* name/value pairs; a NULL name ends them */
	const char *stale[MODEL_NOTICE_STALE];    /* caches to drop, by name; NULL ends them */
	enum model_kind kind;          /* MODEL_SNAPSHOTS or MODEL_BRANCHES: what @id is; 0 */
	const char *id;
	bool seen;                     /* @id is now called @name; @name NULL: it is gone */
	const char *name;
	bool has_expiry;               /* snapshot @id expires at @expires (0: never) */
	time_t expires;
	const char *attachments_of;    /* a snapshot whose attachments changed */
	bool pending;                  /* the files of active/next/ changed */
	const char *object;            /* @id as Neon sent it (JSON text), or NULL */
	void *held;                    /* what a parsed notice's strings live in */
};

/* The notice as text shorter than @max bytes: without its object when it would be longer
 * (the others then fetch the listing instead of patching it). Malloc'd; NULL when out of
 * memory (*len 0) or too long even so (*len: its length). An @object that is not a JSON
 * object is left out. */
char *model_notice_write(const struct model_notice *n, size_t max, size_t *len);
/* A notice heard; NULL when @text is not one (not a JSON object, no mount or project) or
 * out of memory. Mistyped members read as missing. Free with model_notice_free. */
struct model_notice *model_notice_parse(const char *text);
void model_notice_free(struct model_notice *n);

/* RFC 3339 since the epoch; 0 when empty or unreadable. */
time_t model_time(const char *rfc3339);

#endif
