/* tree: inode numbers for the things the mount shows.
 *
 * The tree's shape is fixed (root, snapshots/, branches/, active/, events); what varies is
 * which snapshots and branches exist. A node is identified by its kind, the remote object's
 * id and, for files, the file name: the same snapshot keeps the same inode while the kernel
 * holds it, and a branch replaced by a restore (new id) gets a new one, as remote
 * replacements should. A node the kernel forgot is made again with a new number when it
 * is next seen; a number is never given twice. */
#ifndef NEONFS_TREE_H
#define NEONFS_TREE_H

#include <stddef.h>
#include <stdint.h>

enum tree_kind {
	TREE_ROOT = 1,
	TREE_SNAPSHOTS,      /* snapshots/ */
	TREE_BRANCHES,       /* branches/ */
	TREE_ACTIVE,         /* active/ */
	TREE_EVENTS,         /* events */
	TREE_SNAPSHOT,       /* snapshots/<name>/ (obj = snapshot id) */
	TREE_SNAPSHOT_FILE,  /* id, meta.json, schema (obj = snapshot id, file = name) */
	TREE_ATTACHMENT,     /* a user's file in a snapshot dir (obj = snapshot id, file = name) */
	TREE_BRANCH,         /* branches/<name>/ (obj = branch id) */
	TREE_BRANCH_FILE,    /* id, meta.json, schema, connection_uri, snapshot (obj = branch id) */
	TREE_ACTIVE_FILE,    /* active/<file> (file = name) */
	TREE_PREVIEW,        /* branches/<preview>, a link (obj = branch id) */
	TREE_RESTORE,        /* active/restore */
	TREE_NEXT,           /* active/next/ */
	TREE_NEXT_FILE,      /* a pending file in active/next/ (obj = "", file = name) */
	TREE_EXPIRES,        /* snapshots/<name>/expires_at (obj = snapshot id) */
	TREE_LIMITS,         /* limits */
	TREE_ORG,            /* an organization's mount: <mnt>/, one directory per project */
};

/* Fixed inode numbers; FUSE's root is 1. */
#define TREE_INO_ROOT      1
#define TREE_INO_SNAPSHOTS 2
#define TREE_INO_BRANCHES  3
#define TREE_INO_ACTIVE    4
#define TREE_INO_EVENTS    5
#define TREE_INO_NEXT      6
#define TREE_INO_LIMITS    7

/* Each project of an organization's mount has a tree of its own, numbered from its slot
 * times 2^32 up (its root is slot<<32 | TREE_INO_ROOT), so inode numbers stay unique
 * across the mount and the project an inode belongs to is read off the number. Slot 0 is
 * the one project of a single mount, or the organization's root (TREE_ORG, and events). */
#define TREE_SLOT_SHIFT 32
#define TREE_SLOT(ino) ((uint32_t)((uint64_t)(ino) >> TREE_SLOT_SHIFT))
#define TREE_SLOT_INO(slot, ino) (((uint64_t)(slot) << TREE_SLOT_SHIFT) | (uint64_t)(ino))

struct tree;

struct tree_node {
	uint64_t ino;
	enum tree_kind kind;
	char obj[64];     /* remote id, "" for fixed nodes */
	char file[256];   /* file name inside an object's directory, "" otherwise */
};

/* The tree of project @slot (0: a single mount's). Its numbers start at @start, when that
 * is one of the slot's above the fixed ones: a project of an organization opened again
 * after it was closed goes on from where its last tree stopped (tree_next), so no number
 * the kernel was given before ever means something else. 0: from the first. */
struct tree *tree_new(uint32_t slot, uint64_t start);
/* The organization's own: its root (TREE_ORG) and events. */
struct tree *tree_new_org(void);
void tree_free(struct tree *t);
/* The number of fixed node @ino (TREE_INO_*) in @t. */
uint64_t tree_ino(const struct tree *t, uint64_t ino);

/* The inode for (kind, obj, file), allocated on first use. 0 on allocation failure. */
uint64_t tree_intern(struct tree *t, enum tree_kind kind, const char *obj, const char *file);

/* The inode for (kind, obj, file) if the tree holds it, else 0; never allocates. */
uint64_t tree_find(struct tree *t, enum tree_kind kind, const char *obj, const char *file);

/* The kernel was handed @ino in an entry named @name (lookup, create, mkdir, symlink): one
 * more count, and the name the kernel knows it by. */
void tree_ref(struct tree *t, uint64_t ino, const char *name);
/* The kernel let go of @nlookup counts of @ino (FUSE forget); at none the node goes, unless
 * it is one of the fixed nodes. */
void tree_forget(struct tree *t, uint64_t ino, uint64_t nlookup);

/* How many of @t's nodes the kernel holds (a count from an entry not yet forgotten), the
 * fixed ones too: none means no inode of the tree can come back in a request. */
size_t tree_held(struct tree *t);
/* What the kernel holds, each node with the name of its entry ("" when not known), in a
 * malloc'd array for the caller to free. 0 or -ENOMEM. */
struct tree_held {
	struct tree_node node;
	char name[256];
};
int tree_held_list(struct tree *t, struct tree_held **out, size_t *count);
/* The number the next new node would get. */
uint64_t tree_next(struct tree *t);

/* Copies the node for @ino into *n. -ENOENT for an inode the tree does not hold. */
int tree_get(struct tree *t, uint64_t ino, struct tree_node *n);

/* After a rename of a file (an attachment), the inode the kernel holds must name the new
 * file: moves the node (kind, obj, from) to (kind, obj, to). A node that held @to before
 * resolves to nothing from then on, as a replaced file should. */
void tree_rename(struct tree *t, enum tree_kind kind, const char *obj, const char *from,
		 const char *to);

/* The directory an inode lives in, for the kinds that have a fixed parent. */
uint64_t tree_parent(struct tree *t, const struct tree_node *n);

#endif
