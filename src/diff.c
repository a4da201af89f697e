/* diff: what changed between what the watcher saw and a fresh listing. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "diff.h"

struct seen_item {
	struct seen_item *hnext;          /* bucket chain */
	struct seen_item *prev, *next;    /* in the order first seen: deletions come out so */
	char *id, *name, *entry;
	time_t expires;                   /* a snapshot's expiry as last seen; 0: none */
};

struct diff_seen {
	struct seen_item **buckets;
	size_t nbuckets;
	size_t count;
	struct seen_item *first, *last;
};

static uint64_t diff_hash(const char *s)
{
	uint64_t h = 14695981039346656037ULL;

	while (*s) {
		h ^= (unsigned char)*s++;
		h *= 1099511628211ULL;
	}
	return h;
}

struct diff_seen *diff_seen_new(void)
{
	struct diff_seen *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->nbuckets = 64;
	s->buckets = calloc(s->nbuckets, sizeof(*s->buckets));
	if (!s->buckets) {
		free(s);
		return NULL;
	}
	return s;
}

static void diff_item_free(struct seen_item *it)
{
	free(it->id);
	free(it->name);
	free(it->entry);
	free(it);
}

static void diff_seen_clear(struct diff_seen *s)
{
	struct seen_item *it = s->first;

	while (it) {
		struct seen_item *next = it->next;

		diff_item_free(it);
		it = next;
	}
	memset(s->buckets, 0, s->nbuckets * sizeof(*s->buckets));
	s->first = s->last = NULL;
	s->count = 0;
}

void diff_seen_free(struct diff_seen *s)
{
	if (!s)
		return;
	diff_seen_clear(s);
	free(s->buckets);
	free(s);
}

static struct seen_item **diff_seen_slot(const struct diff_seen *s, const char *id)
{
	struct seen_item **p = &s->buckets[diff_hash(id) & (s->nbuckets - 1)];

	while (*p && strcmp((*p)->id, id) != 0)
		p = &(*p)->hnext;
	return p;
}

static const struct seen_item *diff_seen_find(const struct diff_seen *s, const char *id)
{
	return s && id ? *diff_seen_slot(s, id) : NULL;
}

/* Keeps chains short as the map grows; a failed grow only makes lookups slower. */
static void diff_seen_grow(struct diff_seen *s)
{
	size_t n = s->nbuckets * 2;
	struct seen_item **b = calloc(n, sizeof(*b)), *it;

	if (!b)
		return;
	free(s->buckets);
	s->buckets = b;
	s->nbuckets = n;
	for (it = s->first; it; it = it->next) {
		struct seen_item **p = &b[diff_hash(it->id) & (n - 1)];

		it->hnext = *p;
		*p = it;
	}
}

static int diff_replace(char **field, const char *value)
{
	char *copy = strdup(value ? value : "");

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

void diff_seen_set(struct diff_seen *s, const char *id, const char *name, const char *entry)
{
	struct seen_item **p, *it;

	if (!s || !id)
		return;
	p = diff_seen_slot(s, id);
	it = *p;
	if (!name) {
		if (!it)
			return;
		*p = it->hnext;
		if (it->prev)
			it->prev->next = it->next;
		else
			s->first = it->next;
		if (it->next)
			it->next->prev = it->prev;
		else
			s->last = it->prev;
		s->count--;
		diff_item_free(it);
		return;
	}
	if (it) {
		/* On out of memory the old values stay: a change shows at the next look. */
		diff_replace(&it->name, name);
		diff_replace(&it->entry, entry ? entry : names_entry(name, id));
		return;
	}
	it = calloc(1, sizeof(*it));
	if (!it)
		return;
	it->id = strdup(id);
	it->name = strdup(name);
	it->entry = strdup(entry ? entry : names_entry(name, id));
	if (!it->id || !it->name || !it->entry) {
		diff_item_free(it);
		return;
	}
	it->hnext = *p;
	*p = it;
	it->prev = s->last;
	if (s->last)
		s->last->next = it;
	else
		s->first = it;
	s->last = it;
	s->count++;
	if (s->count > s->nbuckets)
		diff_seen_grow(s);
}

void diff_seen_set_expiry(struct diff_seen *s, const char *id, time_t expires)
{
	struct seen_item *it;

	if (!s || !id)
		return;
	it = *diff_seen_slot(s, id);
	if (it)
		it->expires = expires;
}

void diff_seen_reset(struct diff_seen *s, const struct model_list *l)
{
	size_t i, n = model_count(l);

	if (!s)
		return;
	diff_seen_clear(s);
	for (i = 0; i < n; i++) {
		const struct neon_snapshot *snap = model_snapshot_at(l, i);
		const struct neon_branch *b = model_branch_at(l, i);

		if (snap) {
			diff_seen_set(s, snap->id, snap->name, snap->entry);
			diff_seen_set_expiry(s, snap->id, snap->expires);
		}
		else if (b)
			diff_seen_set(s, b->id, b->name, b->entry);
	}
}

const char *diff_seen_name(const struct diff_seen *s, const char *id)
{
	const struct seen_item *it = diff_seen_find(s, id);

	return it ? it->name : NULL;
}

const char *diff_seen_entry(const struct diff_seen *s, const char *id)
{
	const struct seen_item *it = diff_seen_find(s, id);

	return it ? it->entry : NULL;
}

size_t diff_seen_count(const struct diff_seen *s)
{
	return s ? s->count : 0;
}

/* ---- the diff ---- */

struct diff_out {
	struct diff_change *v;
	size_t n, cap;
};

static struct diff_change *diff_add(struct diff_out *out, enum diff_kind kind, bool snapshot,
				    const char *id)
{
	struct diff_change *c;

	if (out->n == out->cap) {
		size_t cap = out->cap ? out->cap * 2 : 8;
		struct diff_change *v = realloc(out->v, cap * sizeof(*v));

		if (!v)
			return NULL;
		out->v = v;
		out->cap = cap;
	}
	c = &out->v[out->n++];
	memset(c, 0, sizeof(*c));
	c->kind = kind;
	c->snapshot = snapshot;
	snprintf(c->id, sizeof(c->id), "%s", id);
	return c;
}

#define DIFF_COPY(dst, src) snprintf((dst), sizeof(dst), "%s", (src) ? (src) : "")

/* Did @b just replace another branch by a finalized restore? It took the name the branch
 * it replaced had when we saw it. (A branch restored long ago keeps its restored_* fields;
 * those alone say nothing about now.) */
static bool diff_took_over(const struct diff_seen *seen, const struct neon_branch *b)
{
	const char *was;

	if (strcmp(b->restore_status, "finalized") != 0 || !*b->restored_as || !*b->name)
		return false;
	was = diff_seen_name(seen, b->restored_as);
	return was && strcmp(was, b->name) == 0;
}

static int diff_restored(struct diff_out *out, const struct diff_seen *snapshots_seen,
			 const struct neon_branch *b)
{
	struct diff_change *c = diff_add(out, DIFF_RESTORED, false, b->id);

	if (!c)
		return -ENOMEM;
	DIFF_COPY(c->name, b->name);
	DIFF_COPY(c->entry, b->entry);
	DIFF_COPY(c->snapshot_id, b->restored_from);
	DIFF_COPY(c->snapshot_name, diff_seen_name(snapshots_seen, b->restored_from));
	DIFF_COPY(c->branch_id_before, b->restored_as);
	return 0;
}

int diff_compute(const struct diff_seen *seen, const struct diff_seen *snapshots_seen,
		 const struct model_list *fresh, time_t now, struct diff_change **out)
{
	struct diff_out o = { 0 };
	size_t i, n = model_count(fresh);
	bool snapshots = fresh && model_list_kind(fresh) == MODEL_SNAPSHOTS;
	const struct seen_item *it;

	*out = NULL;
	for (i = 0; i < n; i++) {
		const struct neon_snapshot *s = model_snapshot_at(fresh, i);
		const struct neon_branch *b = model_branch_at(fresh, i);
		const char *id = s ? s->id : b ? b->id : NULL;
		const char *name = s ? s->name : b ? b->name : NULL;
		const char *entry = s ? s->entry : b ? b->entry : NULL;
		const struct seen_item *was;
		struct diff_change *c;

		if (!id)
			continue;
		was = diff_seen_find(seen, id);
		if (was && strcmp(was->name, name) == 0)
			continue;
		if (b && diff_took_over(seen, b)) {
			if (diff_restored(&o, snapshots_seen, b))
				goto nomem;
			if (!was)
				continue;
		}
		c = diff_add(&o, was ? DIFF_RENAMED : DIFF_CREATED, snapshots, id);
		if (!c)
			goto nomem;
		DIFF_COPY(c->name, name);
		DIFF_COPY(c->entry, entry);
		if (was) {
			DIFF_COPY(c->old_name, was->name);
			DIFF_COPY(c->old_entry, was->entry);
		}
	}
	for (it = seen ? seen->first : NULL; it; it = it->next) {
		struct diff_change *c;
		bool present = snapshots ? model_snapshot_by_id(fresh, it->id) != NULL :
				 model_branch_by_id(fresh, it->id) != NULL;

		if (present)
			continue;
		/* Gone once its time had come: Neon deleted it, nobody else did. */
		c = diff_add(&o, snapshots && it->expires && it->expires <= now + DIFF_EXPIRY_SLACK ?
			     DIFF_EXPIRED : DIFF_DELETED, snapshots, it->id);
		if (!c)
			goto nomem;
		DIFF_COPY(c->name, it->name);
		DIFF_COPY(c->old_name, it->name);
		DIFF_COPY(c->old_entry, it->entry);
	}
	if (o.n > INT32_MAX)
		goto nomem;
	*out = o.v;
	return (int)o.n;

nomem:
	free(o.v);
	return -ENOMEM;
}
