/* tree: inode numbers for the things the mount shows.
 *
 * A node the kernel was given (a lookup, a create) lives until the kernel forgets it
 * (FUSE forget); numbers only ever grow, so a forgotten node's number never comes back
 * meaning something else. Nodes only listed (readdir) or only used inside the mount are
 * kept, since the kernel holds no count on them: their number is bounded by the objects
 * ever seen. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tree.h"

/* Per tree, and an organization's mount has one per opened project: small, as chains of a
 * few entries cost nothing next to a kernel round trip. */
#define TREE_BUCKETS 256

struct tree_entry {
	struct tree_node node;
	uint64_t nlookup;      /* the kernel's count of this node (fuse_lowlevel.h's forget) */
	bool fixed;            /* root, snapshots/, ...: never forgotten */
	bool hashed;           /* reachable by key (a replaced file is by inode only) */
	char *entry;           /* its name in the kernel's entry, when not node.file */
	struct tree_entry *by_key_next;
	struct tree_entry *by_ino_next;
};

struct tree {
	pthread_mutex_t lock;
	uint64_t base;       /* the slot's first number (tree.h) */
	uint64_t next_ino;
	size_t held;         /* nodes with nlookup > 0: what the kernel holds of the tree */
	struct tree_entry *by_key[TREE_BUCKETS];
	struct tree_entry *by_ino[TREE_BUCKETS];
};

static unsigned tree_hash(enum tree_kind kind, const char *obj, const char *file)
{
	unsigned h = 2166136261u ^ (unsigned)kind;
	const char *s;

	for (s = obj; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	h = (h ^ '/') * 16777619u;
	for (s = file; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h % TREE_BUCKETS;
}

static void tree_insert(struct tree *t, struct tree_entry *e)
{
	unsigned k = tree_hash(e->node.kind, e->node.obj, e->node.file);
	unsigned i = e->node.ino % TREE_BUCKETS;

	e->by_key_next = t->by_key[k];
	t->by_key[k] = e;
	e->hashed = true;
	e->by_ino_next = t->by_ino[i];
	t->by_ino[i] = e;
}

static int tree_add_fixed(struct tree *t, uint64_t ino, enum tree_kind kind)
{
	struct tree_entry *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->node.ino = t->base | ino;
	e->node.kind = kind;
	e->fixed = true;
	tree_insert(t, e);
	return 0;
}

static struct tree *tree_alloc(uint32_t slot, uint64_t start)
{
	struct tree *t = calloc(1, sizeof(*t));

	if (!t)
		return NULL;
	pthread_mutex_init(&t->lock, NULL);
	t->base = TREE_SLOT_INO(slot, 0);
	t->next_ino = t->base | 16;
	if (TREE_SLOT(start) == slot && start > t->next_ino)
		t->next_ino = start;
	return t;
}

struct tree *tree_new_org(void)
{
	struct tree *t = tree_alloc(0, 0);

	if (t && (tree_add_fixed(t, TREE_INO_ROOT, TREE_ORG) ||
		  tree_add_fixed(t, TREE_INO_EVENTS, TREE_EVENTS))) {
		tree_free(t);
		return NULL;
	}
	return t;
}

uint64_t tree_ino(const struct tree *t, uint64_t ino)
{
	return t->base | ino;
}

struct tree *tree_new(uint32_t slot, uint64_t start)
{
	struct tree *t = tree_alloc(slot, start);

	if (!t)
		return NULL;
	if (tree_add_fixed(t, TREE_INO_ROOT, TREE_ROOT) ||
	    tree_add_fixed(t, TREE_INO_SNAPSHOTS, TREE_SNAPSHOTS) ||
	    tree_add_fixed(t, TREE_INO_BRANCHES, TREE_BRANCHES) ||
	    tree_add_fixed(t, TREE_INO_ACTIVE, TREE_ACTIVE) ||
	    tree_add_fixed(t, TREE_INO_EVENTS, TREE_EVENTS) ||
	    tree_add_fixed(t, TREE_INO_NEXT, TREE_NEXT) ||
	    tree_add_fixed(t, TREE_INO_LIMITS, TREE_LIMITS)) {
		tree_free(t);
		return NULL;
	}
	return t;
}

void tree_free(struct tree *t)
{
	unsigned i;

	if (!t)
		return;
	for (i = 0; i < TREE_BUCKETS; i++) {
		struct tree_entry *e = t->by_ino[i], *next;

		for (; e; e = next) {
			next = e->by_ino_next;
			free(e->entry);
			free(e);
		}
	}
	pthread_mutex_destroy(&t->lock);
	free(t);
}

uint64_t tree_intern(struct tree *t, enum tree_kind kind, const char *obj, const char *file)
{
	struct tree_entry *e;
	uint64_t ino = 0;
	unsigned k;

	if (!obj)
		obj = "";
	if (!file)
		file = "";
	if (strlen(obj) >= sizeof(e->node.obj) || strlen(file) >= sizeof(e->node.file))
		return 0;
	k = tree_hash(kind, obj, file);
	pthread_mutex_lock(&t->lock);
	for (e = t->by_key[k]; e; e = e->by_key_next) {
		if (e->node.kind == kind && strcmp(e->node.obj, obj) == 0 &&
		    strcmp(e->node.file, file) == 0) {
			ino = e->node.ino;
			goto out;
		}
	}
	e = calloc(1, sizeof(*e));
	if (!e)
		goto out;
	e->node.ino = t->next_ino++;
	e->node.kind = kind;
	strcpy(e->node.obj, obj);
	strcpy(e->node.file, file);
	tree_insert(t, e);
	ino = e->node.ino;
out:
	pthread_mutex_unlock(&t->lock);
	return ino;
}

/* Caller holds the lock. Unlinks and returns the entry for the key, or NULL. */
static struct tree_entry *tree_unhash(struct tree *t, enum tree_kind kind, const char *obj,
				      const char *file)
{
	struct tree_entry **p = &t->by_key[tree_hash(kind, obj, file)], *e;

	for (; (e = *p); p = &e->by_key_next) {
		if (e->node.kind == kind && strcmp(e->node.obj, obj) == 0 &&
		    strcmp(e->node.file, file) == 0) {
			*p = e->by_key_next;
			e->by_key_next = NULL;
			e->hashed = false;
			return e;
		}
	}
	return NULL;
}

void tree_rename(struct tree *t, enum tree_kind kind, const char *obj, const char *from,
		 const char *to)
{
	struct tree_entry *moved, *replaced;
	unsigned k;

	if (strlen(to) >= sizeof(moved->node.file))
		return;
	pthread_mutex_lock(&t->lock);
	moved = tree_unhash(t, kind, obj, from);
	replaced = tree_unhash(t, kind, obj, to);
	if (replaced) {
		/* Still reachable by inode, never by name: a name no file can have. */
		strcpy(replaced->node.file, "/");
	}
	if (moved) {
		/* The kernel's entry moved with it (the rename was its own). */
		free(moved->entry);
		moved->entry = NULL;
		strcpy(moved->node.file, to);
		k = tree_hash(kind, obj, to);
		moved->by_key_next = t->by_key[k];
		t->by_key[k] = moved;
		moved->hashed = true;
	}
	pthread_mutex_unlock(&t->lock);
}

uint64_t tree_find(struct tree *t, enum tree_kind kind, const char *obj, const char *file)
{
	struct tree_entry *e;
	uint64_t ino = 0;

	pthread_mutex_lock(&t->lock);
	for (e = t->by_key[tree_hash(kind, obj, file)]; e; e = e->by_key_next)
		if (e->node.kind == kind && strcmp(e->node.obj, obj) == 0 &&
		    strcmp(e->node.file, file) == 0) {
			ino = e->node.ino;
			break;
		}
	pthread_mutex_unlock(&t->lock);
	return ino;
}

void tree_ref(struct tree *t, uint64_t ino, const char *name)
{
	struct tree_entry *e;
	char *copy;

	pthread_mutex_lock(&t->lock);
	for (e = t->by_ino[ino % TREE_BUCKETS]; e; e = e->by_ino_next)
		if (e->node.ino == ino) {
			if (e->nlookup++ == 0)
				t->held++;
			/* Without memory the name stays unknown: the kernel lets go of it only
			 * with its parent's, or under memory pressure. */
			if (name && strcmp(name, e->node.file) != 0 &&
			    (!e->entry || strcmp(name, e->entry) != 0) && (copy = strdup(name))) {
				free(e->entry);
				e->entry = copy;
			}
			break;
		}
	pthread_mutex_unlock(&t->lock);
}

void tree_forget(struct tree *t, uint64_t ino, uint64_t nlookup)
{
	struct tree_entry **p, *e, **k;

	pthread_mutex_lock(&t->lock);
	for (p = &t->by_ino[ino % TREE_BUCKETS]; (e = *p); p = &e->by_ino_next)
		if (e->node.ino == ino)
			break;
	if (!e)
		goto out;
	if (e->nlookup && nlookup >= e->nlookup)
		t->held--;
	e->nlookup = nlookup < e->nlookup ? e->nlookup - nlookup : 0;
	if (e->nlookup || e->fixed)
		goto out;
	*p = e->by_ino_next;
	if (e->hashed) {
		for (k = &t->by_key[tree_hash(e->node.kind, e->node.obj, e->node.file)]; *k;
		     k = &(*k)->by_key_next)
			if (*k == e) {
				*k = e->by_key_next;
				break;
			}
	}
	free(e->entry);
	free(e);
out:
	pthread_mutex_unlock(&t->lock);
}

size_t tree_held(struct tree *t)
{
	size_t n;

	pthread_mutex_lock(&t->lock);
	n = t->held;
	pthread_mutex_unlock(&t->lock);
	return n;
}

int tree_held_list(struct tree *t, struct tree_held **out, size_t *count)
{
	struct tree_held *v;
	struct tree_entry *e;
	size_t n = 0;
	unsigned i;

	pthread_mutex_lock(&t->lock);
	v = calloc(t->held ? t->held : 1, sizeof(*v));
	for (i = 0; v && i < TREE_BUCKETS; i++)
		for (e = t->by_ino[i]; e; e = e->by_ino_next) {
			if (!e->nlookup || n == t->held)
				continue;
			v[n].node = e->node;
			snprintf(v[n].name, sizeof(v[n].name), "%s", e->entry ? e->entry : e->node.file);
			n++;
		}
	pthread_mutex_unlock(&t->lock);
	if (!v)
		return -ENOMEM;
	*out = v;
	*count = n;
	return 0;
}

uint64_t tree_next(struct tree *t)
{
	uint64_t next;

	pthread_mutex_lock(&t->lock);
	next = t->next_ino;
	pthread_mutex_unlock(&t->lock);
	return next;
}

int tree_get(struct tree *t, uint64_t ino, struct tree_node *n)
{
	struct tree_entry *e;
	int res = -ENOENT;

	pthread_mutex_lock(&t->lock);
	for (e = t->by_ino[ino % TREE_BUCKETS]; e; e = e->by_ino_next) {
		if (e->node.ino == ino) {
			*n = e->node;
			res = 0;
			break;
		}
	}
	pthread_mutex_unlock(&t->lock);
	return res;
}

uint64_t tree_parent(struct tree *t, const struct tree_node *n)
{
	switch (n->kind) {
	case TREE_ROOT:
	case TREE_ORG:
		/* A project's root is the mount's, or a directory of the organization's. */
		return TREE_INO_ROOT;
	case TREE_SNAPSHOTS:
	case TREE_BRANCHES:
	case TREE_ACTIVE:
	case TREE_EVENTS:
	case TREE_LIMITS:
		return t->base | TREE_INO_ROOT;
	case TREE_SNAPSHOT:
		return t->base | TREE_INO_SNAPSHOTS;
	case TREE_BRANCH:
	case TREE_PREVIEW:
		return t->base | TREE_INO_BRANCHES;
	case TREE_ACTIVE_FILE:
	case TREE_RESTORE:
	case TREE_NEXT:
		return t->base | TREE_INO_ACTIVE;
	case TREE_NEXT_FILE:
		return t->base | TREE_INO_NEXT;
	case TREE_SNAPSHOT_FILE:
	case TREE_EXPIRES:
	case TREE_ATTACHMENT:
		return tree_intern(t, TREE_SNAPSHOT, n->obj, "");
	case TREE_BRANCH_FILE:
		return tree_intern(t, TREE_BRANCH, n->obj, "");
	}
	return TREE_INO_ROOT;
}
