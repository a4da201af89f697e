/* The tree's count of what the kernel holds, the names it holds them by, and numbering that
 * goes on across a project's trees. */
#include <stdlib.h>

#include "check.h"
#include "tree.h"

static const struct tree_held *held_by_ino(const struct tree_held *v, size_t n, uint64_t ino)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (v[i].node.ino == ino)
			return &v[i];
	return NULL;
}

static void test_held(void)
{
	struct tree *t = tree_new(3, 0);
	struct tree_held *v = NULL;
	uint64_t snaps = tree_ino(t, TREE_INO_SNAPSHOTS), s1, f;
	size_t n = 9;

	CHECK_INT(tree_held(t), 0);
	s1 = tree_intern(t, TREE_SNAPSHOT, "snap-1", "");
	f = tree_intern(t, TREE_SNAPSHOT_FILE, "snap-1", "meta.json");
	/* Listed only: the kernel holds no count. */
	CHECK_INT(tree_held(t), 0);
	tree_ref(t, snaps, "snapshots");
	tree_ref(t, s1, "v1");
	tree_ref(t, s1, "v1");
	tree_ref(t, f, "meta.json");
	CHECK_INT(tree_held(t), 3);
	CHECK_INT(tree_held_list(t, &v, &n), 0);
	CHECK_INT(n, 3);
	CHECK(held_by_ino(v, n, s1) && strcmp(held_by_ino(v, n, s1)->name, "v1") == 0);
	CHECK(held_by_ino(v, n, f) && strcmp(held_by_ino(v, n, f)->name, "meta.json") == 0);
	CHECK(held_by_ino(v, n, snaps) &&
	      strcmp(held_by_ino(v, n, snaps)->name, "snapshots") == 0);
	free(v);
	/* A fixed node forgotten stays, but is held no more; a snapshot held twice needs both
	 * counts back. */
	tree_forget(t, snaps, 1);
	tree_forget(t, s1, 1);
	CHECK_INT(tree_held(t), 2);
	tree_forget(t, s1, 1);
	tree_forget(t, f, 5);
	CHECK_INT(tree_held(t), 0);
	CHECK_INT(tree_find(t, TREE_SNAPSHOTS, "", ""), snaps);
	CHECK_INT(tree_find(t, TREE_SNAPSHOT, "snap-1", ""), 0);
	CHECK_INT(tree_held_list(t, &v, &n), 0);
	CHECK_INT(n, 0);
	free(v);
	tree_free(t);
}

static void test_numbering_goes_on(void)
{
	struct tree *t = tree_new(5, 0), *again;
	uint64_t first = tree_intern(t, TREE_BRANCH, "br-1", ""), next = tree_next(t);

	CHECK_INT(TREE_SLOT(first), 5);
	CHECK(next > first);
	tree_free(t);
	/* The project opened again: its numbers go on, its fixed ones stay. */
	again = tree_new(5, next);
	CHECK_INT(tree_intern(again, TREE_BRANCH, "br-1", ""), next);
	CHECK_INT(tree_ino(again, TREE_INO_BRANCHES), TREE_SLOT_INO(5, TREE_INO_BRANCHES));
	tree_free(again);
	/* Another slot's number, or none, starts from the first. */
	again = tree_new(5, TREE_SLOT_INO(6, 100));
	CHECK_INT(tree_intern(again, TREE_BRANCH, "br-1", ""), first);
	tree_free(again);
}

int main(void)
{
	test_held();
	test_numbering_goes_on();
	CHECK_DONE();
}
