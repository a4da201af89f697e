/* The watcher's diff: every kind of change made elsewhere, without a server. */
#include <errno.h>

#include <json-c/json.h>

#include "check.h"
#include "diff.h"
#include "model_json.h"

static struct model_list *parse(enum model_kind kind, const char *json)
{
	struct json_object *arr = json_tokener_parse(json);
	struct model_list *l;

	CHECK(arr != NULL);
	l = model_list_from_json(kind, arr);
	json_object_put(arr);
	CHECK(l != NULL);
	return l;
}

static struct diff_seen *seen_of(enum model_kind kind, const char *json)
{
	struct model_list *l = parse(kind, json);
	struct diff_seen *s = diff_seen_new();

	diff_seen_reset(s, l);
	model_list_put(l);
	return s;
}

static void test_seen(void)
{
	struct diff_seen *s = seen_of(MODEL_SNAPSHOTS,
		"[{\"id\": \"snap-a\", \"name\": \"v1\"}, {\"id\": \"snap-b\", \"name\": \"a/b\"}]");
	char id[32];
	int i;

	CHECK_INT(diff_seen_count(s), 2);
	CHECK_STR(diff_seen_name(s, "snap-a"), "v1");
	CHECK_STR(diff_seen_entry(s, "snap-a"), "v1");
	CHECK_STR(diff_seen_name(s, "snap-b"), "a/b");
	CHECK_STR(diff_seen_entry(s, "snap-b"), "snap-b");
	CHECK(diff_seen_name(s, "snap-c") == NULL);
	diff_seen_set(s, "snap-a", "v2", "v2");
	CHECK_STR(diff_seen_name(s, "snap-a"), "v2");
	CHECK_INT(diff_seen_count(s), 2);
	diff_seen_set(s, "snap-a", NULL, NULL);
	CHECK(diff_seen_name(s, "snap-a") == NULL);
	CHECK_INT(diff_seen_count(s), 1);
	diff_seen_set(s, "snap-a", NULL, NULL);
	CHECK_INT(diff_seen_count(s), 1);
	/* Enough to make the map grow. */
	for (i = 0; i < 1000; i++) {
		snprintf(id, sizeof(id), "snap-%d", i);
		diff_seen_set(s, id, id, id);
	}
	CHECK_INT(diff_seen_count(s), 1001);
	CHECK_STR(diff_seen_name(s, "snap-999"), "snap-999");
	CHECK_STR(diff_seen_name(s, "snap-b"), "a/b");
	diff_seen_free(s);
}

static int run(struct diff_seen *seen, struct diff_seen *snaps, enum model_kind kind,
	       const char *fresh_json, struct diff_change **out)
{
	struct model_list *fresh = parse(kind, fresh_json);
	int n = diff_compute(seen, snaps, fresh, 1798675200, out);

	model_list_put(fresh);
	return n;
}

static void test_none(void)
{
	const char *json = "[{\"id\": \"snap-a\", \"name\": \"v1\"}, {\"id\": \"snap-b\", \"name\": \"v2\"}]";
	struct diff_seen *s = seen_of(MODEL_SNAPSHOTS, json);
	struct diff_change *c = (void *)&s;

	CHECK_INT(run(s, NULL, MODEL_SNAPSHOTS, json, &c), 0);
	CHECK(c == NULL);
	CHECK_INT(diff_seen_count(s), 2);
	diff_seen_free(s);
}

static void test_empty_seen(void)
{
	struct diff_seen *s = diff_seen_new();
	struct diff_change *c = NULL;

	CHECK_INT(run(s, NULL, MODEL_SNAPSHOTS,
		      "[{\"id\": \"snap-a\", \"name\": \"v1\"}, {\"id\": \"snap-b\", \"name\": \"x/y\"}]",
		      &c), 2);
	CHECK_INT(c[0].kind, DIFF_CREATED);
	CHECK(c[0].snapshot);
	CHECK_STR(c[0].id, "snap-a");
	CHECK_STR(c[0].name, "v1");
	CHECK_STR(c[0].entry, "v1");
	CHECK_INT(c[1].kind, DIFF_CREATED);
	CHECK_STR(c[1].name, "x/y");
	CHECK_STR(c[1].entry, "snap-b");
	free(c);
	/* Nothing seen and nothing there. */
	CHECK_INT(run(s, NULL, MODEL_SNAPSHOTS, "[]", &c), 0);
	CHECK(c == NULL);
	CHECK_INT(diff_seen_count(s), 0);
	diff_seen_free(s);
}

static void test_created_deleted_renamed(void)
{
	struct diff_seen *s = seen_of(MODEL_SNAPSHOTS,
		"[{\"id\": \"snap-a\", \"name\": \"v1\"}, {\"id\": \"snap-b\", \"name\": \"v2\"},"
		" {\"id\": \"snap-c\", \"name\": \"a/b\"}, {\"id\": \"snap-d\", \"name\": \"same\"}]");
	struct diff_change *c = NULL;

	CHECK_INT(run(s, NULL, MODEL_SNAPSHOTS,
		      "[{\"id\": \"snap-e\", \"name\": \"v5\"}, {\"id\": \"snap-b\", \"name\": \"v2 renamed\"},"
		      " {\"id\": \"snap-d\", \"name\": \"same\"}, {\"id\": \"snap-f\", \"name\": \"..\"}]",
		      &c), 5);
	CHECK_INT(c[0].kind, DIFF_CREATED);
	CHECK_STR(c[0].id, "snap-e");
	CHECK_STR(c[0].entry, "v5");
	CHECK_STR(c[0].old_entry, "");
	CHECK_INT(c[1].kind, DIFF_RENAMED);
	CHECK_STR(c[1].id, "snap-b");
	CHECK_STR(c[1].name, "v2 renamed");
	CHECK_STR(c[1].entry, "v2 renamed");
	CHECK_STR(c[1].old_name, "v2");
	CHECK_STR(c[1].old_entry, "v2");
	CHECK_INT(c[2].kind, DIFF_CREATED);
	CHECK_STR(c[2].entry, "snap-f");
	/* Deletions after, in the order first seen. */
	CHECK_INT(c[3].kind, DIFF_DELETED);
	CHECK(c[3].snapshot);
	CHECK_STR(c[3].id, "snap-a");
	CHECK_STR(c[3].name, "v1");
	CHECK_STR(c[3].old_name, "v1");
	CHECK_STR(c[3].old_entry, "v1");
	CHECK_STR(c[3].entry, "");
	CHECK_INT(c[4].kind, DIFF_DELETED);
	CHECK_STR(c[4].id, "snap-c");
	CHECK_STR(c[4].old_entry, "snap-c");
	free(c);
	/* Pure: the map is as it was. */
	CHECK_INT(diff_seen_count(s), 4);
	CHECK_STR(diff_seen_name(s, "snap-b"), "v2");
	diff_seen_free(s);
}

static void test_rename_entries(void)
{
	struct diff_seen *s = seen_of(MODEL_BRANCHES,
		"[{\"id\": \"br-a\", \"name\": \"ok\"}, {\"id\": \"br-b\", \"name\": \"x/y\"}]");
	struct diff_change *c = NULL;

	/* Into a name that cannot be an entry, and out of one. */
	CHECK_INT(run(s, NULL, MODEL_BRANCHES,
		      "[{\"id\": \"br-a\", \"name\": \"a/b\"}, {\"id\": \"br-b\", \"name\": \"fine\"}]",
		      &c), 2);
	CHECK_INT(c[0].kind, DIFF_RENAMED);
	CHECK(!c[0].snapshot);
	CHECK_STR(c[0].entry, "br-a");
	CHECK_STR(c[0].old_entry, "ok");
	CHECK_INT(c[1].kind, DIFF_RENAMED);
	CHECK_STR(c[1].entry, "fine");
	CHECK_STR(c[1].old_entry, "br-b");
	CHECK_STR(c[1].old_name, "x/y");
	free(c);
	diff_seen_free(s);
}

static const char *const seen_branches =
	"[{\"id\": \"br-main\", \"name\": \"main\", \"default\": true},"
	" {\"id\": \"br-dev\", \"name\": \"dev\"}]";
static const char *const seen_snaps = "[{\"id\": \"snap-a\", \"name\": \"v1\"}]";

static void test_restored_new_branch(void)
{
	struct diff_seen *s = seen_of(MODEL_BRANCHES, seen_branches);
	struct diff_seen *snaps = seen_of(MODEL_SNAPSHOTS, seen_snaps);
	struct diff_change *c = NULL;

	/* A restore made elsewhere: br-new took main's name, main was kept under another. */
	CHECK_INT(run(s, snaps, MODEL_BRANCHES,
		      "[{\"id\": \"br-new\", \"name\": \"main\", \"restore_status\": \"finalized\","
		      "  \"restored_from\": \"snap-a\", \"restored_as\": \"br-main\"},"
		      " {\"id\": \"br-main\", \"name\": \"main (old)\"},"
		      " {\"id\": \"br-dev\", \"name\": \"dev\"}]", &c), 2);
	CHECK_INT(c[0].kind, DIFF_RESTORED);
	CHECK(!c[0].snapshot);
	CHECK_STR(c[0].id, "br-new");
	CHECK_STR(c[0].name, "main");
	CHECK_STR(c[0].entry, "main");
	CHECK_STR(c[0].snapshot_id, "snap-a");
	CHECK_STR(c[0].snapshot_name, "v1");
	CHECK_STR(c[0].branch_id_before, "br-main");
	CHECK_INT(c[1].kind, DIFF_RENAMED);
	CHECK_STR(c[1].id, "br-main");
	CHECK_STR(c[1].old_name, "main");
	CHECK_STR(c[1].entry, "main (old)");
	free(c);

	/* The snapshot's name unknown: "" (no snapshots seen at all, or not this one). */
	CHECK_INT(run(s, NULL, MODEL_BRANCHES,
		      "[{\"id\": \"br-new\", \"name\": \"main\", \"restore_status\": \"finalized\","
		      "  \"restored_from\": \"snap-z\", \"restored_as\": \"br-main\"},"
		      " {\"id\": \"br-dev\", \"name\": \"dev\"}]", &c), 2);
	CHECK_INT(c[0].kind, DIFF_RESTORED);
	CHECK_STR(c[0].snapshot_id, "snap-z");
	CHECK_STR(c[0].snapshot_name, "");
	CHECK_INT(c[1].kind, DIFF_DELETED);
	CHECK_STR(c[1].id, "br-main");
	free(c);
	diff_seen_free(snaps);
	diff_seen_free(s);
}

static void test_restored_rename(void)
{
	struct diff_seen *s = seen_of(MODEL_BRANCHES, seen_branches);
	struct diff_seen *snaps = seen_of(MODEL_SNAPSHOTS, seen_snaps);
	struct diff_change *c = NULL;

	/* A branch we saw (as a preview, say) finalized into main's place: restored, then
	 * renamed. */
	diff_seen_set(s, "br-p", "preview", "preview");
	CHECK_INT(run(s, snaps, MODEL_BRANCHES,
		      "[{\"id\": \"br-main\", \"name\": \"main (old)\"},"
		      " {\"id\": \"br-dev\", \"name\": \"dev\"},"
		      " {\"id\": \"br-p\", \"name\": \"main\", \"restore_status\": \"finalized\","
		      "  \"restored_from\": \"snap-a\", \"restored_as\": \"br-main\"}]", &c), 3);
	CHECK_INT(c[0].kind, DIFF_RENAMED);
	CHECK_STR(c[0].id, "br-main");
	CHECK_INT(c[1].kind, DIFF_RESTORED);
	CHECK_STR(c[1].id, "br-p");
	CHECK_STR(c[1].branch_id_before, "br-main");
	CHECK_STR(c[1].snapshot_name, "v1");
	CHECK_INT(c[2].kind, DIFF_RENAMED);
	CHECK_STR(c[2].id, "br-p");
	CHECK_STR(c[2].name, "main");
	CHECK_STR(c[2].old_name, "preview");
	CHECK_STR(c[2].old_entry, "preview");
	CHECK_STR(c[2].entry, "main");
	free(c);
	diff_seen_free(snaps);
	diff_seen_free(s);
}

static void test_restore_not_a_takeover(void)
{
	struct diff_seen *s = seen_of(MODEL_BRANCHES, seen_branches);
	struct diff_change *c = NULL;

	/* Restored into a new name: the replaced branch had another name, so just created. */
	CHECK_INT(run(s, NULL, MODEL_BRANCHES,
		      "[{\"id\": \"br-main\", \"name\": \"main\"}, {\"id\": \"br-dev\", \"name\": \"dev\"},"
		      " {\"id\": \"br-new\", \"name\": \"restored\", \"restore_status\": \"finalized\","
		      "  \"restored_from\": \"snap-a\", \"restored_as\": \"br-main\"}]", &c), 1);
	CHECK_INT(c[0].kind, DIFF_CREATED);
	CHECK_STR(c[0].id, "br-new");
	CHECK_STR(c[0].name, "restored");
	free(c);

	/* Restored long ago: it keeps its restored_* fields, but the branch it replaced was
	 * never seen under its name. A rename is only a rename. */
	diff_seen_set(s, "br-old", "old", "old");
	CHECK_INT(run(s, NULL, MODEL_BRANCHES,
		      "[{\"id\": \"br-main\", \"name\": \"main\"}, {\"id\": \"br-dev\", \"name\": \"dev\"},"
		      " {\"id\": \"br-old\", \"name\": \"older\", \"restore_status\": \"finalized\","
		      "  \"restored_from\": \"snap-a\", \"restored_as\": \"br-gone\"}]", &c), 1);
	CHECK_INT(c[0].kind, DIFF_RENAMED);
	CHECK_STR(c[0].old_name, "old");
	free(c);

	/* A preview ("restored") never takes over, whatever its name. */
	diff_seen_set(s, "br-old", NULL, NULL);
	CHECK_INT(run(s, NULL, MODEL_BRANCHES,
		      "[{\"id\": \"br-main\", \"name\": \"main\"}, {\"id\": \"br-dev\", \"name\": \"dev\"},"
		      " {\"id\": \"br-pv\", \"name\": \"dev\", \"restore_status\": \"restored\","
		      "  \"restored_from\": \"snap-a\", \"restored_as\": \"br-dev\"}]", &c), 1);
	CHECK_INT(c[0].kind, DIFF_CREATED);
	/* Two branches named dev now: the new one shows by id. */
	CHECK_STR(c[0].entry, "br-pv");
	free(c);
	diff_seen_free(s);
}

/* A snapshot that goes once the expiry seen for it has passed was deleted by Neon on
 * expiry; one gone before it, or without one, was deleted by someone. "now" is
 * 2026-12-31T00:00:00Z. */
static void test_expired(void)
{
	struct diff_seen *s = seen_of(MODEL_SNAPSHOTS,
		"[{\"id\": \"snap-a\", \"name\": \"v1\", \"expires_at\": \"2026-12-30T23:59:00Z\"},"
		" {\"id\": \"snap-b\", \"name\": \"v2\", \"expires_at\": \"2027-06-01T00:00:00Z\"},"
		" {\"id\": \"snap-c\", \"name\": \"v3\"},"
		" {\"id\": \"snap-d\", \"name\": \"v4\"},"
		" {\"id\": \"snap-e\", \"name\": \"v5\"}]");
	struct diff_change *c = NULL;

	/* Set through the mount after the listing: the seen map learns it at once. */
	diff_seen_set_expiry(s, "snap-d", 1798675200 - 1);
	diff_seen_set_expiry(s, "snap-e", 1798675200 + DIFF_EXPIRY_SLACK + 60);
	CHECK_INT(run(s, NULL, MODEL_SNAPSHOTS, "[]", &c), 5);
	CHECK_INT(c[0].kind, DIFF_EXPIRED);
	CHECK_STR(c[0].id, "snap-a");
	CHECK_STR(c[0].old_name, "v1");
	CHECK_STR(c[0].old_entry, "v1");
	CHECK_INT(c[1].kind, DIFF_DELETED);
	CHECK_STR(c[1].id, "snap-b");
	CHECK_INT(c[2].kind, DIFF_DELETED);
	CHECK_INT(c[3].kind, DIFF_EXPIRED);
	CHECK_STR(c[3].id, "snap-d");
	CHECK_INT(c[4].kind, DIFF_DELETED);
	free(c);
	/* An expiry cleared through the mount: a deletion again. */
	diff_seen_set_expiry(s, "snap-a", 0);
	CHECK_INT(run(s, NULL, MODEL_SNAPSHOTS, "[]", &c), 5);
	CHECK_INT(c[0].kind, DIFF_DELETED);
	free(c);
	diff_seen_free(s);

	/* Branches never expire through this kind, whatever their expires_at. */
	s = seen_of(MODEL_BRANCHES,
		    "[{\"id\": \"br-a\", \"name\": \"x\", \"expires_at\": \"2026-01-01T00:00:00Z\"}]");
	CHECK_INT(run(s, NULL, MODEL_BRANCHES, "[]", &c), 1);
	CHECK_INT(c[0].kind, DIFF_DELETED);
	free(c);
	diff_seen_free(s);
}

int main(void)
{
	test_expired();
	test_seen();
	test_none();
	test_empty_seen();
	test_created_deleted_renamed();
	test_rename_entries();
	test_restored_new_branch();
	test_restored_rename();
	test_restore_not_a_takeover();
	CHECK_DONE();
}
