/* model: Neon's objects as plain C, parsed once from the API's JSON.
 *
 * A listing is built once and then only read, so its strings live in an arena freed with
 * it, and its hash tables never change: readers need no lock, only a reference. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "log.h"
#include "model.h"
#include "model_json.h"
#include "names.h"

#define MODEL_NONE SIZE_MAX
/* A listing's string blocks start small and double up to MODEL_BLOCK: most projects have a
 * few branches and snapshots, and an organization's mount holds thousands of listings. */
#define MODEL_BLOCK_FIRST 1024
#define MODEL_BLOCK (64 * 1024)

/* ---- strings: one arena per listing, or one allocation per object ---- */

struct arena_block {
	struct arena_block *next;
	size_t used, cap;
	char data[];
};

struct arena {
	struct arena_block *blocks;   /* a listing: grows in blocks */
	char *fixed;                  /* a single object: sized beforehand */
	size_t fixed_used, fixed_cap;
	bool measure;                 /* only count what the strings need */
	size_t need;
	bool failed;
};

static const char *arena_dup(struct arena *a, const char *s)
{
	size_t len;
	char *p;

	if (!s || !*s)
		return "";
	len = strlen(s) + 1;
	if (a->measure) {
		a->need += len;
		return "";
	}
	if (a->fixed) {
		if (a->fixed_cap - a->fixed_used < len) {
			a->failed = true;
			return "";
		}
		p = a->fixed + a->fixed_used;
		a->fixed_used += len;
	} else {
		struct arena_block *b = a->blocks;

		if (!b || b->cap - b->used < len) {
			size_t cap = !b ? MODEL_BLOCK_FIRST :
				     b->cap < MODEL_BLOCK ? 2 * b->cap : MODEL_BLOCK;

			if (cap < len)
				cap = len;

			b = malloc(sizeof(*b) + cap);
			if (!b) {
				a->failed = true;
				return "";
			}
			b->next = a->blocks;
			b->used = 0;
			b->cap = cap;
			a->blocks = b;
		}
		p = b->data + b->used;
		b->used += len;
	}
	memcpy(p, s, len);
	return p;
}

static void arena_free(struct arena *a)
{
	while (a->blocks) {
		struct arena_block *next = a->blocks->next;

		free(a->blocks);
		a->blocks = next;
	}
}

/* ---- reading Neon's JSON ---- */

const char *model_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	const char *s;

	if (!o || !json_object_object_get_ex(o, key, &v) || !json_object_is_type(v, json_type_string))
		return NULL;
	s = json_object_get_string(v);
	/* A string with a NUL inside reads in C as its prefix, which is another string. */
	if (strlen(s) != (size_t)json_object_get_string_len(v))
		return NULL;
	return s;
}

bool model_json_bool(struct json_object *o, const char *key)
{
	struct json_object *v;

	return o && json_object_object_get_ex(o, key, &v) && json_object_get_boolean(v);
}

long long model_json_int(struct json_object *o, const char *key, long long dflt)
{
	struct json_object *v;

	if (!o || !json_object_object_get_ex(o, key, &v))
		return dflt;
	return (long long)json_object_get_int64(v);
}

time_t model_time(const char *rfc3339)
{
	struct tm tm;

	if (!rfc3339 || !*rfc3339)
		return 0;
	memset(&tm, 0, sizeof(tm));
	if (!strptime(rfc3339, "%Y-%m-%dT%H:%M:%S", &tm))
		return 0;
	return timegm(&tm);
}

static const char *model_json(struct arena *a, struct json_object *o)
{
	return arena_dup(a, json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN |
							   JSON_C_TO_STRING_NOSLASHESCAPE));
}

/* The callers have checked that @o has a string id. */
static void model_parse_snapshot(struct arena *a, struct json_object *o, struct neon_snapshot *s)
{
	s->id = arena_dup(a, model_json_str(o, "id"));
	s->name = arena_dup(a, model_json_str(o, "name"));
	s->entry = s->id;
	s->created_at = arena_dup(a, model_json_str(o, "created_at"));
	s->expires_at = arena_dup(a, model_json_str(o, "expires_at"));
	s->lsn = arena_dup(a, model_json_str(o, "lsn"));
	s->source_branch_id = arena_dup(a, model_json_str(o, "source_branch_id"));
	s->created = model_time(model_json_str(o, "created_at"));
	s->expires = model_time(model_json_str(o, "expires_at"));
	s->json = model_json(a, o);
}

static void model_parse_branch(struct arena *a, struct json_object *o, struct neon_branch *b)
{
	b->id = arena_dup(a, model_json_str(o, "id"));
	b->name = arena_dup(a, model_json_str(o, "name"));
	b->entry = b->id;
	b->parent_id = arena_dup(a, model_json_str(o, "parent_id"));
	b->created_at = arena_dup(a, model_json_str(o, "created_at"));
	b->updated_at = arena_dup(a, model_json_str(o, "updated_at"));
	b->restore_status = arena_dup(a, model_json_str(o, "restore_status"));
	b->restored_from = arena_dup(a, model_json_str(o, "restored_from"));
	b->restored_as = arena_dup(a, model_json_str(o, "restored_as"));
	b->created = model_time(model_json_str(o, "created_at"));
	b->updated = model_time(model_json_str(o, "updated_at"));
	b->is_default = model_json_bool(o, "default");
	b->is_protected = model_json_bool(o, "protected");
	b->json = model_json(a, o);
}

static void model_parse_endpoint(struct arena *a, struct json_object *o, struct neon_endpoint *e)
{
	e->id = arena_dup(a, model_json_str(o, "id"));
	e->branch_id = arena_dup(a, model_json_str(o, "branch_id"));
	e->type = arena_dup(a, model_json_str(o, "type"));
	e->current_state = arena_dup(a, model_json_str(o, "current_state"));
	e->host = arena_dup(a, model_json_str(o, "host"));
}

static void model_parse_project(struct arena *a, struct json_object *o, struct neon_project *p)
{
	p->id = arena_dup(a, model_json_str(o, "id"));
	p->name = arena_dup(a, model_json_str(o, "name"));
	p->entry = p->id;
	p->created_at = arena_dup(a, model_json_str(o, "created_at"));
	p->created = model_time(model_json_str(o, "created_at"));
}

/* ---- hash tables: open addressing, built once ---- */

struct slot {
	const char *key;   /* NULL: empty */
	size_t idx;
	size_t count;      /* how many objects share the key */
};

struct table {
	struct slot *v;
	size_t mask;
};

static uint64_t model_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

static int table_init(struct table *t, size_t n)
{
	size_t cap = 8;

	while (cap < 2 * n + 1)
		cap *= 2;
	t->v = calloc(cap, sizeof(*t->v));
	t->mask = cap - 1;
	return t->v ? 0 : -ENOMEM;
}

static struct slot *table_slot(const struct table *t, const char *key)
{
	size_t i = (size_t)model_hash(key) & t->mask;

	/* The load factor stays under a half, so an empty slot always ends the probe. */
	while (t->v[i].key && strcmp(t->v[i].key, key) != 0)
		i = (i + 1) & t->mask;
	return &t->v[i];
}

static size_t table_find(const struct table *t, const char *key)
{
	const struct slot *s;

	if (!t->v || !key)
		return MODEL_NONE;
	s = table_slot(t, key);
	return s->key ? s->idx : MODEL_NONE;
}

static size_t table_count(const struct table *t, const char *key)
{
	const struct slot *s;

	if (!t->v || !key)
		return 0;
	s = table_slot(t, key);
	return s->key ? s->count : 0;
}

/* Adds @key -> @idx; a key already there keeps its first object and counts one more. */
static void table_add(struct table *t, const char *key, size_t idx)
{
	struct slot *s = table_slot(t, key);

	if (!s->key) {
		s->key = key;
		s->idx = idx;
	}
	s->count++;
}

/* ---- listings ---- */

struct model_list {
	struct shared base;
	enum model_kind kind;
	size_t n;
	struct neon_snapshot *snapshots;
	struct neon_branch *branches;
	struct neon_endpoint *endpoints;
	struct neon_project *projects;
	struct table by_id;
	struct table by_name;      /* endpoints: read-write endpoints by branch id */
	struct table by_entry;
	struct table previews;     /* branches: the newest preview by snapshot id */
	size_t default_branch;
	struct arena arena;
};

static void model_list_destroy(struct shared *s)
{
	struct model_list *l = (struct model_list *)s;

	free(l->snapshots);
	free(l->branches);
	free(l->endpoints);
	free(l->projects);
	free(l->by_id.v);
	free(l->by_name.v);
	free(l->by_entry.v);
	free(l->previews.v);
	arena_free(&l->arena);
	free(l);
}

static const char *model_id_at(const struct model_list *l, size_t i)
{
	switch (l->kind) {
	case MODEL_SNAPSHOTS:
		return l->snapshots[i].id;
	case MODEL_BRANCHES:
		return l->branches[i].id;
	case MODEL_ENDPOINTS:
		return l->endpoints[i].id;
	case MODEL_PROJECTS:
		return l->projects[i].id;
	}
	return NULL;
}

static void model_parse_at(struct model_list *l, struct json_object *o, size_t i)
{
	switch (l->kind) {
	case MODEL_SNAPSHOTS:
		model_parse_snapshot(&l->arena, o, &l->snapshots[i]);
		break;
	case MODEL_BRANCHES:
		model_parse_branch(&l->arena, o, &l->branches[i]);
		break;
	case MODEL_ENDPOINTS:
		model_parse_endpoint(&l->arena, o, &l->endpoints[i]);
		break;
	case MODEL_PROJECTS:
		model_parse_project(&l->arena, o, &l->projects[i]);
		break;
	}
}

static const char *model_kind_name(enum model_kind kind)
{
	return kind == MODEL_SNAPSHOTS ? "snapshot" : kind == MODEL_BRANCHES ? "branch" :
	       kind == MODEL_PROJECTS ? "project" : "endpoint";
}

/* The object's id, or NULL when it has none that can name it: the tree shows an object
 * under its id when its name cannot stand, and each call puts the id in a URL path, where
 * "", "." or ".." would address another resource. */
static const char *model_id(struct json_object *o)
{
	const char *id = json_object_is_type(o, json_type_object) ? model_json_str(o, "id") : NULL;

	return id && names_valid_entry(id) ? id : NULL;
}

/* Reads the objects of @arr, dropping those no id can name. */
static int model_list_read(struct model_list *l, struct json_object *arr, size_t total)
{
	size_t i;

	for (i = 0; i < total; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *id = model_id(o);

		if (!id) {
			log_warn("model: %s %zu of the listing has no id that can name it; not shown",
				 model_kind_name(l->kind), i);
			continue;
		}
		/* Two objects under one id would give one entry two meanings. */
		if (table_find(&l->by_id, id) != MODEL_NONE) {
			log_warn("model: %s %s listed twice; the first is shown",
				 model_kind_name(l->kind), id);
			continue;
		}
		model_parse_at(l, o, l->n);
		if (l->arena.failed)
			return -ENOMEM;
		table_add(&l->by_id, model_id_at(l, l->n), l->n);
		l->n++;
	}
	return 0;
}

/* The entry rule of model.h: the name only when it names this object alone. */
static const char *model_entry(const struct model_list *l, size_t i, const char *name,
			       const char *id)
{
	size_t other;

	if (!names_valid_entry(name) || table_count(&l->by_name, name) != 1)
		return id;
	other = table_find(&l->by_id, name);
	return other == MODEL_NONE || other == i ? name : id;
}

static void model_list_index(struct model_list *l)
{
	size_t i;

	if (l->kind == MODEL_ENDPOINTS) {
		for (i = 0; i < l->n; i++)
			if (strcmp(l->endpoints[i].type, "read_write") == 0)
				table_add(&l->by_name, l->endpoints[i].branch_id, i);
		for (i = 0; i < l->n; i++)
			table_add(&l->by_entry, l->endpoints[i].id, i);
		return;
	}
	for (i = 0; i < l->n; i++)
		table_add(&l->by_name, l->kind == MODEL_SNAPSHOTS ? l->snapshots[i].name :
			  l->kind == MODEL_PROJECTS ? l->projects[i].name : l->branches[i].name, i);
	for (i = 0; i < l->n; i++) {
		if (l->kind == MODEL_PROJECTS) {
			struct neon_project *p = &l->projects[i];

			p->entry = model_entry(l, i, p->name, p->id);
			table_add(&l->by_entry, p->entry, i);
		} else if (l->kind == MODEL_SNAPSHOTS) {
			struct neon_snapshot *s = &l->snapshots[i];

			s->entry = model_entry(l, i, s->name, s->id);
			table_add(&l->by_entry, s->entry, i);
		} else {
			struct neon_branch *b = &l->branches[i];
			const char *from = model_preview_of(b);

			b->entry = model_entry(l, i, b->name, b->id);
			table_add(&l->by_entry, b->entry, i);
			if (b->is_default && l->default_branch == MODEL_NONE)
				l->default_branch = i;
			if (from) {
				struct slot *s = table_slot(&l->previews, from);

				/* Newest by creation; of two made in one second, the later listed. */
				if (!s->key || b->created >= l->branches[s->idx].created) {
					s->key = from;
					s->idx = i;
				}
				s->count++;
			}
		}
	}
}

struct model_list *model_list_from_json(enum model_kind kind, struct json_object *arr)
{
	size_t total = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	struct model_list *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	shared_init(&l->base, model_list_destroy);
	l->kind = kind;
	l->default_branch = MODEL_NONE;
	switch (kind) {
	case MODEL_SNAPSHOTS:
		l->snapshots = calloc(total ? total : 1, sizeof(*l->snapshots));
		if (!l->snapshots)
			goto fail;
		break;
	case MODEL_BRANCHES:
		l->branches = calloc(total ? total : 1, sizeof(*l->branches));
		if (!l->branches)
			goto fail;
		break;
	case MODEL_ENDPOINTS:
		l->endpoints = calloc(total ? total : 1, sizeof(*l->endpoints));
		if (!l->endpoints)
			goto fail;
		break;
	case MODEL_PROJECTS:
		l->projects = calloc(total ? total : 1, sizeof(*l->projects));
		if (!l->projects)
			goto fail;
		break;
	default:
		goto fail;
	}
	if (table_init(&l->by_id, total) || table_init(&l->by_name, total) ||
	    table_init(&l->by_entry, total) ||
	    (kind == MODEL_BRANCHES && table_init(&l->previews, total)))
		goto fail;
	if (model_list_read(l, arr, total))
		goto fail;
	model_list_index(l);
	return l;

fail:
	model_list_destroy(&l->base);
	return NULL;
}

struct model_list *model_list_get(struct model_list *l)
{
	return l ? model_list_of(shared_get(&l->base)) : NULL;
}

void model_list_put(struct model_list *l)
{
	if (l)
		shared_put(&l->base);
}

struct shared *model_list_shared(struct model_list *l)
{
	return l ? &l->base : NULL;
}

struct model_list *model_list_of(struct shared *s)
{
	/* The header is the first member. */
	return (struct model_list *)s;
}

enum model_kind model_list_kind(const struct model_list *l)
{
	return l->kind;
}

size_t model_count(const struct model_list *l)
{
	return l ? l->n : 0;
}

static bool model_is(const struct model_list *l, enum model_kind kind)
{
	return l && l->kind == kind;
}

const struct neon_snapshot *model_snapshot_at(const struct model_list *l, size_t i)
{
	return model_is(l, MODEL_SNAPSHOTS) && i < l->n ? &l->snapshots[i] : NULL;
}

const struct neon_branch *model_branch_at(const struct model_list *l, size_t i)
{
	return model_is(l, MODEL_BRANCHES) && i < l->n ? &l->branches[i] : NULL;
}

const struct neon_endpoint *model_endpoint_at(const struct model_list *l, size_t i)
{
	return model_is(l, MODEL_ENDPOINTS) && i < l->n ? &l->endpoints[i] : NULL;
}

const struct neon_project *model_project_at(const struct model_list *l, size_t i)
{
	return model_is(l, MODEL_PROJECTS) && i < l->n ? &l->projects[i] : NULL;
}

const struct neon_project *model_project_by_id(const struct model_list *l, const char *id)
{
	return model_is(l, MODEL_PROJECTS) ? model_project_at(l, table_find(&l->by_id, id)) : NULL;
}

const struct neon_project *model_project_by_entry(const struct model_list *l, const char *entry)
{
	return model_is(l, MODEL_PROJECTS) ?
	       model_project_at(l, table_find(&l->by_entry, entry)) : NULL;
}

const struct neon_snapshot *model_snapshot_by_id(const struct model_list *l, const char *id)
{
	return model_is(l, MODEL_SNAPSHOTS) ? model_snapshot_at(l, table_find(&l->by_id, id)) : NULL;
}

const struct neon_snapshot *model_snapshot_by_entry(const struct model_list *l, const char *entry)
{
	return model_is(l, MODEL_SNAPSHOTS) ?
	       model_snapshot_at(l, table_find(&l->by_entry, entry)) : NULL;
}

const struct neon_snapshot *model_snapshot_by_name(const struct model_list *l, const char *name)
{
	return model_is(l, MODEL_SNAPSHOTS) ?
	       model_snapshot_at(l, table_find(&l->by_name, name)) : NULL;
}

const struct neon_branch *model_branch_by_id(const struct model_list *l, const char *id)
{
	return model_is(l, MODEL_BRANCHES) ? model_branch_at(l, table_find(&l->by_id, id)) : NULL;
}

const struct neon_branch *model_branch_by_entry(const struct model_list *l, const char *entry)
{
	return model_is(l, MODEL_BRANCHES) ? model_branch_at(l, table_find(&l->by_entry, entry)) : NULL;
}

const struct neon_branch *model_branch_by_name(const struct model_list *l, const char *name)
{
	return model_is(l, MODEL_BRANCHES) ? model_branch_at(l, table_find(&l->by_name, name)) : NULL;
}

const struct neon_branch *model_branch_default(const struct model_list *l)
{
	return model_is(l, MODEL_BRANCHES) ? model_branch_at(l, l->default_branch) : NULL;
}

bool model_name_taken(const struct model_list *l, const char *name)
{
	if (!l || !name)
		return false;
	return table_find(&l->by_entry, name) != MODEL_NONE ||
	       table_find(&l->by_id, name) != MODEL_NONE ||
	       (l->kind != MODEL_ENDPOINTS && table_find(&l->by_name, name) != MODEL_NONE);
}

const char *model_preview_of(const struct neon_branch *b)
{
	if (!b || strcmp(b->restore_status, "restored") != 0 || !*b->restored_from)
		return NULL;
	return b->restored_from;
}

const struct neon_branch *model_preview_branch(const struct model_list *branches,
					       const char *snapshot_id)
{
	if (!model_is(branches, MODEL_BRANCHES))
		return NULL;
	return model_branch_at(branches, table_find(&branches->previews, snapshot_id));
}

size_t model_children(const struct model_list *branches, const char *id)
{
	size_t i, n = 0;

	if (!model_is(branches, MODEL_BRANCHES) || !id)
		return 0;
	for (i = 0; i < branches->n; i++)
		if (strcmp(branches->branches[i].parent_id, id) == 0)
			n++;
	return n;
}

size_t model_root_branches(const struct model_list *branches)
{
	size_t i, n = 0;

	if (!model_is(branches, MODEL_BRANCHES))
		return 0;
	for (i = 0; i < branches->n; i++)
		if (!branches->branches[i].parent_id[0])
			n++;
	return n;
}

bool model_branch_replaced(const struct model_list *branches, const struct neon_branch *b)
{
	size_t i;

	if (!model_is(branches, MODEL_BRANCHES) || b->is_default || b->parent_id[0])
		return false;
	if (strstr(b->name, "(old)"))
		return true;
	for (i = 0; i < branches->n; i++)
		if (strcmp(branches->branches[i].restored_as, b->id) == 0)
			return true;
	return false;
}

const struct neon_endpoint *model_endpoint_rw(const struct model_list *endpoints,
					      const char *branch_id)
{
	if (!model_is(endpoints, MODEL_ENDPOINTS))
		return NULL;
	return model_endpoint_at(endpoints, table_find(&endpoints->by_name, branch_id));
}

/* ---- single objects ---- */

static void model_object_destroy(struct shared *s)
{
	free(s);
}

static void model_object_parse(struct arena *a, struct neon_object *o, struct json_object *obj)
{
	switch (o->kind) {
	case MODEL_SNAPSHOTS:
		model_parse_snapshot(a, obj, &o->u.snapshot);
		o->u.snapshot.entry = names_entry(o->u.snapshot.name, o->u.snapshot.id);
		break;
	case MODEL_BRANCHES:
		model_parse_branch(a, obj, &o->u.branch);
		o->u.branch.entry = names_entry(o->u.branch.name, o->u.branch.id);
		break;
	case MODEL_ENDPOINTS:
		model_parse_endpoint(a, obj, &o->u.endpoint);
		break;
	case MODEL_PROJECTS:
		model_parse_project(a, obj, &o->u.project);
		o->u.project.entry = names_entry(o->u.project.name, o->u.project.id);
		break;
	}
}

int model_object_from_answer(struct json_object *answer, const char *key,
			     struct neon_object **out)
{
	struct arena a = { .measure = true };
	struct neon_object probe = { 0 }, *o;
	struct json_object *obj = NULL;

	*out = NULL;
	if (strcmp(key, "snapshot") == 0)
		probe.kind = MODEL_SNAPSHOTS;
	else if (strcmp(key, "branch") == 0)
		probe.kind = MODEL_BRANCHES;
	else if (strcmp(key, "endpoint") == 0)
		probe.kind = MODEL_ENDPOINTS;
	else if (strcmp(key, "project") == 0)
		probe.kind = MODEL_PROJECTS;
	else
		return -EINVAL;
	if (!json_object_is_type(answer, json_type_object) ||
	    !json_object_object_get_ex(answer, key, &obj) ||
	    !model_id(obj))
		return -EIO;
	/* Measured first, so the strings live in the object's own allocation. */
	model_object_parse(&a, &probe, obj);
	o = malloc(sizeof(*o) + a.need);
	if (!o)
		return -ENOMEM;
	memset(o, 0, sizeof(*o));
	shared_init(&o->base, model_object_destroy);
	o->kind = probe.kind;
	a = (struct arena){ .fixed = (char *)(o + 1), .fixed_cap = a.need };
	model_object_parse(&a, o, obj);
	if (a.failed) {
		free(o);
		return -ENOMEM;
	}
	*out = o;
	return 0;
}

void model_object_put(struct neon_object *o)
{
	if (o)
		shared_put(&o->base);
}
