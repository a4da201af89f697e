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

struct json_object;

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
};

enum model_kind { MODEL_SNAPSHOTS = 1, MODEL_BRANCHES, MODEL_ENDPOINTS };

struct model_list;

/* Builds a listing from an array of Snapshot, Branch or Endpoint objects (borrowed).
 * NULL only when out of memory; a non-array gives an empty listing. */
struct model_list *model_list_from_json(enum model_kind kind, struct json_object *arr);

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

/* Hashed lookups; NULL when absent. */
const struct neon_snapshot *model_snapshot_by_id(const struct model_list *l, const char *id);
const struct neon_snapshot *model_snapshot_by_entry(const struct model_list *l, const char *entry);
const struct neon_snapshot *model_snapshot_by_name(const struct model_list *l, const char *name);
const struct neon_branch *model_branch_by_id(const struct model_list *l, const char *id);
const struct neon_branch *model_branch_by_entry(const struct model_list *l, const char *entry);
const struct neon_branch *model_branch_by_name(const struct model_list *l, const char *name);
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

/* Single objects and operations from an API answer ({snapshot|branch|endpoint, operations}).
 * Each returns 0, or -EIO when the answer lacks the object or it has no id. */
struct neon_object {
	struct shared base;
	enum model_kind kind;
	union {
		struct neon_snapshot snapshot;
		struct neon_branch branch;
		struct neon_endpoint endpoint;
	} u;
};
/* @key: "snapshot", "branch" or "endpoint". *out is a new object (shared_put its base). */
int model_object_from_answer(struct json_object *answer, const char *key,
			     struct neon_object **out);
void model_object_put(struct neon_object *o);

/* The answer's "operations" array (may be absent: *n = 0). *ops is malloc'd. */
int model_operations_from_answer(struct json_object *answer, struct neon_operation **ops,
				 size_t *n);
/* One Operation object. */
int model_operation_from_json(struct json_object *obj, struct neon_operation *op);

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

/* RFC 3339 since the epoch; 0 when empty or unreadable. */
time_t model_time(const char *rfc3339);

/* The checked getters every module that reads a field of Neon's JSON uses (the wire's error
 * bodies and operations, the restore status), so a missing or mistyped field reads the same
 * everywhere. @o may be NULL or not an object: that reads as missing. */
/* The string at @key; NULL when missing, not a string, or holding a NUL (which C would
 * read as a shorter, different string). */
const char *model_json_str(struct json_object *o, const char *key);
/* @key read as json-c reads a boolean (non-zero numbers and non-empty strings are true);
 * false when missing. */
bool model_json_bool(struct json_object *o, const char *key);
/* @key as an integer (json-c's reading of a number or a numeric string); @dflt when missing. */
long long model_json_int(struct json_object *o, const char *key, long long dflt);

#endif
