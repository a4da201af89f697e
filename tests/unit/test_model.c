/* The typed model: parsing Neon's objects, entries, hashed lookups, meta.json, sharing. */
#include <errno.h>
#include <pthread.h>

#include <json-c/json.h>

#include "check.h"
#include "model.h"
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

static void test_parse(void)
{
	struct model_list *l = parse(MODEL_SNAPSHOTS,
		"[{\"id\": \"snap-a\", \"name\": \"v1\", \"created_at\": \"2026-01-02T03:04:05Z\","
		" \"expires_at\": \"2026-02-02T00:00:00Z\", \"lsn\": \"0/16B3748\","
		" \"source_branch_id\": \"br-main\", \"url\": \"a/b\"},"
		" {\"name\": \"no id\"},"
		" {\"id\": 42, \"name\": \"numeric id\"},"
		" \"not an object\","
		" {\"id\": \"snap-b\", \"name\": 7, \"created_at\": false},"
		" {\"id\": \"snap-c\"}]");
	const struct neon_snapshot *s;

	CHECK_INT(model_list_kind(l), MODEL_SNAPSHOTS);
	CHECK_INT(model_count(l), 3);
	s = model_snapshot_at(l, 0);
	CHECK_STR(s->id, "snap-a");
	CHECK_STR(s->name, "v1");
	CHECK_STR(s->entry, "v1");
	CHECK_STR(s->created_at, "2026-01-02T03:04:05Z");
	CHECK_STR(s->lsn, "0/16B3748");
	CHECK_STR(s->source_branch_id, "br-main");
	CHECK_INT(s->created, 1767323045);
	CHECK_INT(s->expires, 1769990400);
	/* Compact, and slashes as sent. */
	CHECK(strstr(s->json, "\"url\":\"a/b\"") != NULL);
	CHECK(strstr(s->json, "\"name\":\"v1\"") != NULL);
	s = model_snapshot_at(l, 1);
	CHECK_STR(s->id, "snap-b");
	CHECK_STR(s->name, "");
	CHECK_STR(s->entry, "snap-b");
	CHECK_STR(s->created_at, "");
	CHECK_INT(s->created, 0);
	s = model_snapshot_at(l, 2);
	CHECK_STR(s->id, "snap-c");
	CHECK_STR(s->expires_at, "");
	CHECK_INT(s->expires, 0);
	CHECK(model_snapshot_at(l, 3) == NULL);
	CHECK(model_branch_at(l, 0) == NULL);
	CHECK(model_branch_by_id(l, "snap-a") == NULL);
	model_list_put(l);

	/* An id that cannot stand as an entry or a URL segment names nothing: shown under it,
	 * the object would be no directory (or "..", its parent), and a call with it would go
	 * to another resource. */
	l = parse(MODEL_BRANCHES,
		  "[{\"id\": \"\", \"name\": \"empty id\"}, {\"id\": \"..\", \"name\": \"up\"},"
		  " {\"id\": \".\", \"name\": \"here\"}, {\"id\": \"br/x\", \"name\": \"slash\"},"
		  " {\"id\": \"br-ok\", \"name\": \"ok\"}]");
	CHECK_INT(model_count(l), 1);
	CHECK_STR(model_branch_at(l, 0)->entry, "ok");
	CHECK(model_branch_by_name(l, "up") == NULL);
	model_list_put(l);
	{
		struct json_object *answer = json_tokener_parse("{\"snapshot\": {\"id\": \"..\"}}");
		struct neon_object *o = NULL;

		CHECK_INT(model_object_from_answer(answer, "snapshot", &o), -EIO);
		CHECK(o == NULL);
		json_object_put(answer);
	}

	/* Not an array: an empty listing, not a failure. */
	{
		struct json_object *o = json_object_new_object();

		l = model_list_from_json(MODEL_BRANCHES, o);
		CHECK(l != NULL);
		CHECK_INT(model_count(l), 0);
		CHECK(model_branch_by_name(l, "main") == NULL);
		CHECK(model_branch_default(l) == NULL);
		model_list_put(l);
		l = model_list_from_json(MODEL_BRANCHES, NULL);
		CHECK_INT(model_count(l), 0);
		model_list_put(l);
		json_object_put(o);
	}
}

static void test_time(void)
{
	CHECK_INT(model_time("1970-01-01T00:00:10Z"), 10);
	CHECK_INT(model_time("2026-01-02T03:04:05.123456Z"), 1767323045);
	CHECK_INT(model_time(""), 0);
	CHECK_INT(model_time(NULL), 0);
	CHECK_INT(model_time("yesterday"), 0);
}

/* The getters the wire and the restore status read fields with: a field of the wrong type
 * reads as missing, never as a string to print. */
static void test_json_getters(void)
{
	struct json_object *o = json_tokener_parse(
		"{\"s\": \"x\", \"n\": 3, \"t\": true, \"f\": false, \"z\": null, \"a\": [1]}");

	CHECK(o != NULL);
	CHECK_STR(model_json_str(o, "s"), "x");
	CHECK(model_json_str(o, "n") == NULL);
	CHECK(model_json_str(o, "z") == NULL);
	CHECK(model_json_str(o, "a") == NULL);
	CHECK(model_json_str(o, "missing") == NULL);
	CHECK(model_json_str(NULL, "s") == NULL);
	CHECK(model_json_bool(o, "t"));
	CHECK(!model_json_bool(o, "f"));
	CHECK(!model_json_bool(o, "missing"));
	CHECK(!model_json_bool(NULL, "t"));
	CHECK_INT(model_json_int(o, "n", -1), 3);
	CHECK_INT(model_json_int(o, "missing", -1), -1);
	CHECK_INT(model_json_int(NULL, "n", -1), -1);
	json_object_put(o);
}

static void test_entries(void)
{
	struct model_list *l = parse(MODEL_BRANCHES,
		"[{\"id\": \"br-1\", \"name\": \"twin\"},"
		" {\"id\": \"br-2\", \"name\": \"twin\"},"
		" {\"id\": \"br-3\", \"name\": \"br-4\"},"
		" {\"id\": \"br-4\", \"name\": \"four\"},"
		" {\"id\": \"br-5\", \"name\": \"x/y\"},"
		" {\"id\": \"br-6\", \"name\": \".\"},"
		" {\"id\": \"br-7\", \"name\": \"..\"},"
		" {\"id\": \"br-8\", \"name\": \"\"},"
		" {\"id\": \"br-9\", \"name\": \"br-9\"},"
		" {\"id\": \"br-10\", \"name\": \"tab\\there\"},"
		" {\"id\": \"br-11\", \"name\": \"main\", \"default\": true},"
		" {\"id\": \"br-1\", \"name\": \"again\"}]");

	/* The repeated id is dropped: one id, one object. */
	CHECK_INT(model_count(l), 11);
	CHECK_STR(model_branch_at(l, 0)->entry, "br-1");
	CHECK_STR(model_branch_at(l, 1)->entry, "br-2");
	CHECK_STR(model_branch_at(l, 2)->entry, "br-3");
	CHECK_STR(model_branch_at(l, 3)->entry, "four");
	CHECK_STR(model_branch_at(l, 4)->entry, "br-5");
	CHECK_STR(model_branch_at(l, 5)->entry, "br-6");
	CHECK_STR(model_branch_at(l, 6)->entry, "br-7");
	CHECK_STR(model_branch_at(l, 7)->entry, "br-8");
	CHECK_STR(model_branch_at(l, 8)->entry, "br-9");
	/* names_valid_entry decides: a tab is allowed in an entry. */
	CHECK_STR(model_branch_at(l, 9)->entry, "tab\there");
	CHECK_STR(model_branch_at(l, 10)->entry, "main");

	CHECK(model_branch_by_entry(l, "twin") == NULL);
	CHECK_STR(model_branch_by_entry(l, "br-1")->name, "twin");
	CHECK_STR(model_branch_by_entry(l, "br-2")->id, "br-2");
	/* Branch br-4 shows by its name, and the one named "br-4" by its id: no entry br-4. */
	CHECK(model_branch_by_entry(l, "br-4") == NULL);
	CHECK_STR(model_branch_by_entry(l, "four")->id, "br-4");
	CHECK_STR(model_branch_by_entry(l, "br-3")->name, "br-4");
	CHECK(model_branch_by_entry(l, "x/y") == NULL);
	CHECK(model_branch_by_entry(l, "..") == NULL);
	CHECK_STR(model_branch_by_entry(l, "br-7")->name, "..");
	CHECK_STR(model_branch_by_name(l, "twin")->id, "br-1");
	CHECK_STR(model_branch_by_name(l, "br-4")->id, "br-3");
	CHECK_STR(model_branch_by_name(l, "x/y")->id, "br-5");
	CHECK_STR(model_branch_by_id(l, "br-4")->name, "four");
	CHECK(model_branch_by_id(l, "br-12") == NULL);
	CHECK(model_branch_by_name(l, "again") == NULL);
	CHECK_STR(model_branch_default(l)->id, "br-11");
	CHECK(model_branch_default(l)->is_default);

	CHECK(model_name_taken(l, "twin"));
	CHECK(model_name_taken(l, "br-3"));
	CHECK(model_name_taken(l, "four"));
	CHECK(model_name_taken(l, "x/y"));
	CHECK(model_name_taken(l, "main"));
	CHECK(!model_name_taken(l, "new"));
	CHECK(!model_name_taken(l, "again"));
	model_list_put(l);
}

/* A name with an embedded NUL would read as its prefix in C and collide with the object
 * that has that prefix as its name: it is no name at all, and the object shows by id. */
static void test_nul_in_names(void)
{
	struct json_object *arr = json_tokener_parse(
		"[{\"id\": \"br-1\", \"name\": \"plain\"},"
		" {\"id\": \"br-2\", \"name\": \"plain\\u0000tail\"},"
		" {\"id\": \"br-3\\u0000x\", \"name\": \"odd\"}]");
	struct model_list *l = model_list_from_json(MODEL_BRANCHES, arr);

	json_object_put(arr);
	CHECK_INT(model_count(l), 2);
	CHECK_STR(model_branch_by_entry(l, "plain")->id, "br-1");
	CHECK_STR(model_branch_by_entry(l, "br-2")->id, "br-2");
	CHECK_STR(model_branch_by_id(l, "br-2")->name, "");
	CHECK(model_branch_by_id(l, "br-3") == NULL);
	model_list_put(l);
}

static void test_many(void)
{
	enum { N = 10000 };
	struct json_object *arr = json_object_new_array();
	struct model_list *l;
	char id[64], name[64];
	size_t i;
	int bad = 0;

	for (i = 0; i < N; i++) {
		struct json_object *o = json_object_new_object();

		snprintf(id, sizeof(id), "snap-%zu", i);
		/* Every hundredth pair shares a name, so both show by id. */
		snprintf(name, sizeof(name), "v%zu", i % 100 == 1 ? i - 1 : i);
		json_object_object_add(o, "id", json_object_new_string(id));
		json_object_object_add(o, "name", json_object_new_string(name));
		json_object_array_add(arr, o);
	}
	l = model_list_from_json(MODEL_SNAPSHOTS, arr);
	json_object_put(arr);
	CHECK(l != NULL);
	CHECK_INT(model_count(l), N);
	for (i = 0; i < N; i++) {
		const struct neon_snapshot *s = model_snapshot_at(l, i);
		bool twin = i % 100 <= 1;

		snprintf(id, sizeof(id), "snap-%zu", i);
		snprintf(name, sizeof(name), "v%zu", i % 100 == 1 ? i - 1 : i);
		bad += !s || strcmp(s->id, id) != 0;
		bad += model_snapshot_by_id(l, id) != s;
		bad += strcmp(s->entry, twin ? id : name) != 0;
		bad += model_snapshot_by_entry(l, s->entry) != s;
		bad += !model_snapshot_by_name(l, name) ||
		       strcmp(model_snapshot_by_name(l, name)->name, name) != 0;
		bad += twin && model_snapshot_by_entry(l, name) != NULL;
	}
	CHECK_INT(bad, 0);
	CHECK(model_snapshot_by_id(l, "snap-10000") == NULL);
	model_list_put(l);
}

static void test_previews(void)
{
	struct model_list *l = parse(MODEL_BRANCHES,
		"[{\"id\": \"br-main\", \"name\": \"main\", \"default\": true, \"protected\": true},"
		" {\"id\": \"br-p1\", \"name\": \"p1\", \"parent_id\": \"br-main\","
		"  \"restore_status\": \"restored\", \"restored_from\": \"snap-a\","
		"  \"created_at\": \"2026-01-02T00:00:00Z\"},"
		" {\"id\": \"br-p2\", \"name\": \"p2\", \"parent_id\": \"br-main\","
		"  \"restore_status\": \"restored\", \"restored_from\": \"snap-a\","
		"  \"created_at\": \"2026-01-03T00:00:00Z\"},"
		" {\"id\": \"br-p3\", \"name\": \"p3\", \"restore_status\": \"restored\","
		"  \"restored_from\": \"snap-a\", \"created_at\": \"2026-01-01T00:00:00Z\"},"
		" {\"id\": \"br-t1\", \"name\": \"t1\", \"restore_status\": \"restored\","
		"  \"restored_from\": \"snap-b\", \"created_at\": \"2026-01-01T00:00:00Z\"},"
		" {\"id\": \"br-t2\", \"name\": \"t2\", \"restore_status\": \"restored\","
		"  \"restored_from\": \"snap-b\", \"created_at\": \"2026-01-01T00:00:00Z\"},"
		" {\"id\": \"br-f\", \"name\": \"main (old)\", \"restore_status\": \"finalized\","
		"  \"restored_from\": \"snap-c\", \"restored_as\": \"br-x\"},"
		" {\"id\": \"br-e\", \"name\": \"e\", \"restore_status\": \"restored\"}]");

	CHECK(model_branch_by_id(l, "br-main")->is_protected);
	CHECK(!model_branch_by_id(l, "br-p1")->is_protected);
	CHECK_STR(model_preview_of(model_branch_by_id(l, "br-p1")), "snap-a");
	CHECK(model_preview_of(model_branch_by_id(l, "br-main")) == NULL);
	CHECK(model_preview_of(model_branch_by_id(l, "br-f")) == NULL);
	CHECK(model_preview_of(model_branch_by_id(l, "br-e")) == NULL);
	CHECK_STR(model_preview_branch(l, "snap-a")->id, "br-p2");
	/* Made in the same second: the later listed. */
	CHECK_STR(model_preview_branch(l, "snap-b")->id, "br-t2");
	CHECK(model_preview_branch(l, "snap-c") == NULL);
	CHECK(model_preview_branch(l, "") == NULL);
	CHECK_INT(model_children(l, "br-main"), 2);
	CHECK_INT(model_children(l, "br-p1"), 0);
	CHECK_STR(model_branch_by_id(l, "br-f")->restored_as, "br-x");
	model_list_put(l);
}

static void test_endpoints(void)
{
	struct model_list *l = parse(MODEL_ENDPOINTS,
		"[{\"id\": \"ep-ro\", \"branch_id\": \"br-a\", \"type\": \"read_only\"},"
		" {\"id\": \"ep-rw\", \"branch_id\": \"br-a\", \"type\": \"read_write\","
		"  \"current_state\": \"idle\"},"
		" {\"id\": \"ep-b\", \"branch_id\": \"br-b\", \"type\": \"read_only\"},"
		" {\"branch_id\": \"br-c\", \"type\": \"read_write\"}]");

	CHECK_INT(model_count(l), 3);
	CHECK_STR(model_endpoint_at(l, 1)->current_state, "idle");
	CHECK_STR(model_endpoint_at(l, 0)->current_state, "");
	CHECK_STR(model_endpoint_rw(l, "br-a")->id, "ep-rw");
	CHECK(model_endpoint_rw(l, "br-b") == NULL);
	CHECK(model_endpoint_rw(l, "br-c") == NULL);
	CHECK(model_snapshot_at(l, 0) == NULL);
	model_list_put(l);
}

static void test_objects(void)
{
	struct json_object *answer = json_tokener_parse(
		"{\"branch\": {\"id\": \"br-new\", \"name\": \"dev\", \"parent_id\": \"br-main\"},"
		" \"endpoints\": [],"
		" \"operations\": [{\"id\": \"op-1\", \"action\": \"create_branch\","
		"  \"status\": \"running\", \"branch_id\": \"br-new\","
		"  \"created_at\": \"2026-01-01T00:00:00Z\"},"
		"  {\"id\": \"op-2\", \"action\": \"start_compute\", \"status\": \"failed\","
		"  \"endpoint_id\": \"ep-1\", \"error\": \"no room\"}]}");
	struct neon_object *o = NULL;
	struct neon_operation *ops = NULL, op;
	size_t n = 99;

	CHECK_INT(model_object_from_answer(answer, "branch", &o), 0);
	CHECK_INT(o->kind, MODEL_BRANCHES);
	model_object_put(o);
	CHECK_INT(model_object_from_answer(answer, "snapshot", &o), -EIO);
	CHECK(o == NULL);
	CHECK_INT(model_object_from_answer(answer, "branch", &o), 0);
	/* Its strings are its own: the answer can go first. */
	CHECK_INT(model_operations_from_answer(answer, &ops, &n), 0);
	json_object_put(answer);
	CHECK_STR(o->u.branch.id, "br-new");
	CHECK_STR(o->u.branch.name, "dev");
	CHECK_STR(o->u.branch.entry, "dev");
	CHECK_STR(o->u.branch.parent_id, "br-main");
	CHECK_STR(o->u.branch.restore_status, "");
	CHECK(strstr(o->u.branch.json, "\"parent_id\":\"br-main\"") != NULL);
	model_object_put(o);
	CHECK_INT(n, 2);
	CHECK_STR(ops[0].id, "op-1");
	CHECK_STR(ops[0].status, "running");
	CHECK_STR(ops[0].branch_id, "br-new");
	CHECK_STR(ops[0].created_at, "2026-01-01T00:00:00Z");
	CHECK_STR(ops[0].error, "");
	CHECK_STR(ops[1].endpoint_id, "ep-1");
	CHECK_STR(ops[1].error, "no room");
	free(ops);

	answer = json_tokener_parse("{\"snapshot\": {\"id\": \"snap-1\", \"name\": \"a/b\"}}");
	CHECK_INT(model_object_from_answer(answer, "snapshot", &o), 0);
	CHECK_STR(o->u.snapshot.entry, "snap-1");
	model_object_put(o);
	ops = (void *)&op;
	CHECK_INT(model_operations_from_answer(answer, &ops, &n), 0);
	CHECK_INT(n, 0);
	CHECK(ops == NULL);
	json_object_put(answer);

	answer = json_tokener_parse("{\"endpoint\": {\"name\": \"no id\"}, \"operations\": [{}]}");
	CHECK_INT(model_object_from_answer(answer, "endpoint", &o), -EIO);
	CHECK_INT(model_operations_from_answer(answer, &ops, &n), -EIO);
	CHECK(ops == NULL);
	json_object_put(answer);
	answer = json_tokener_parse("{\"endpoint\": {\"id\": \"ep-1\", \"type\": \"read_write\"},"
				    " \"operations\": {}}");
	CHECK_INT(model_object_from_answer(answer, "endpoint", &o), 0);
	CHECK_STR(o->u.endpoint.type, "read_write");
	CHECK_STR(o->u.endpoint.branch_id, "");
	model_object_put(o);
	CHECK_INT(model_operations_from_answer(answer, &ops, &n), -EIO);
	json_object_put(answer);

	answer = json_tokener_parse("{\"id\": 5}");
	CHECK_INT(model_operation_from_json(answer, &op), -EIO);
	json_object_put(answer);
}

/* The meta.json a test sees is what a user sees: compare whole texts. */
static void test_meta(void)
{
	struct model_list *l = parse(MODEL_SNAPSHOTS,
		"[{\"id\": \"snap-a\", \"name\": \"v1\", \"size\": 12, \"url\": \"x/y\"}]");
	const struct neon_snapshot *s = model_snapshot_at(l, 0);
	struct model_attachment_line att[] = { { "notes.txt", 5 }, { "b", 0 } };
	struct model_checkpoint cp = { "v1", "2026-01-01T00:00:00Z", NULL, true, att, 2 };
	char *text;

	text = model_snapshot_meta(s, NULL);
	CHECK_STR(text, "{\n  \"id\": \"snap-a\",\n  \"name\": \"v1\",\n  \"size\": 12,\n"
		  "  \"url\": \"x/y\",\n  \"checkpoint\": null\n}\n");
	free(text);
	text = model_snapshot_meta(s, &cp);
	CHECK_STR(text, "{\n  \"id\": \"snap-a\",\n  \"name\": \"v1\",\n  \"size\": 12,\n"
		  "  \"url\": \"x/y\",\n  \"checkpoint\": {\n    \"name\": \"v1\",\n"
		  "    \"created_at\": \"2026-01-01T00:00:00Z\",\n    \"lsn\": null,\n"
		  "    \"has_schema\": true,\n    \"attachments\": [\n      {\n"
		  "        \"name\": \"notes.txt\",\n        \"size\": 5\n      },\n      {\n"
		  "        \"name\": \"b\",\n        \"size\": 0\n      }\n    ]\n  }\n}\n");
	free(text);
	cp.attachments = NULL;
	cp.lsn = "0/1";
	cp.has_schema = false;
	text = model_snapshot_meta(s, &cp);
	CHECK_STR(text, "{\n  \"id\": \"snap-a\",\n  \"name\": \"v1\",\n  \"size\": 12,\n"
		  "  \"url\": \"x/y\",\n  \"checkpoint\": {\n    \"name\": \"v1\",\n"
		  "    \"created_at\": \"2026-01-01T00:00:00Z\",\n    \"lsn\": \"0/1\",\n"
		  "    \"has_schema\": false\n  }\n}\n");
	free(text);
	model_list_put(l);

	l = parse(MODEL_BRANCHES, "[{\"id\": \"br-a\", \"name\": \"main\", \"default\": true}]");
	{
		const struct neon_branch *b = model_branch_at(l, 0);
		struct model_live live = { NULL, "16.4", "neondb", "0/2A", 7340032, 3 };
		struct model_live down = { .error = "the branch has no compute to connect to",
					   .server_version = "ignored" };

		text = model_branch_meta(b, &live);
		CHECK_STR(text, "{\n  \"id\": \"br-a\",\n  \"name\": \"main\",\n  \"default\": true,\n"
			  "  \"live\": {\n    \"server_version\": \"16.4\",\n"
			  "    \"database\": \"neondb\",\n    \"database_size\": 7340032,\n"
			  "    \"current_lsn\": \"0/2A\",\n    \"table_count\": 3\n  }\n}\n");
		free(text);
		text = model_branch_meta(b, &down);
		CHECK_STR(text, "{\n  \"id\": \"br-a\",\n  \"name\": \"main\",\n  \"default\": true,\n"
			  "  \"live\": {\n    \"error\": \"the branch has no compute to connect to\"\n"
			  "  }\n}\n");
		free(text);
	}
	model_list_put(l);
}

enum { THREADS = 8, ROUNDS = 100000 };

static void *hammer(void *data)
{
	struct model_list *l = data;
	int i;

	for (i = 0; i < ROUNDS; i++) {
		struct model_list *mine = model_list_get(l);

		model_list_put(mine);
	}
	return NULL;
}

static void test_refs(void)
{
	struct model_list *l = parse(MODEL_SNAPSHOTS, "[{\"id\": \"snap-a\", \"name\": \"v1\"}]");
	struct shared *s = model_list_shared(l);
	pthread_t t[THREADS];
	int i;

	CHECK(model_list_of(s) == l);
	for (i = 0; i < THREADS; i++)
		CHECK_INT(pthread_create(&t[i], NULL, hammer, l), 0);
	for (i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	/* A lost update would leave the count off (or free the list under the threads). */
	CHECK_INT(atomic_load(&s->refs), 1);
	CHECK_STR(model_snapshot_by_entry(l, "v1")->id, "snap-a");
	model_list_put(l);
}

static void test_text(void)
{
	struct shared_text *t = shared_text_new("abc\0def", 7);
	struct shared *s;

	CHECK(t != NULL);
	CHECK_INT(t->len, 7);
	CHECK(memcmp(t->text, "abc\0def", 8) == 0);
	s = shared_get(&t->base);
	CHECK_INT(atomic_load(&t->base.refs), 2);
	shared_put(s);
	CHECK_INT(atomic_load(&t->base.refs), 1);
	shared_put(&t->base);
	CHECK(shared_get(NULL) == NULL);
	shared_put(NULL);
}

/* An organization's projects follow the entry rule of snapshots and branches: a shared
 * name, one no file can have, or one that is another project's id shows the id. */
static void test_projects(void)
{
	struct model_list *l = parse(MODEL_PROJECTS,
		"[{\"id\": \"calm-sea-1\", \"name\": \"calm-sea-1\","
		" \"created_at\": \"2026-01-02T03:04:05Z\"},"
		" {\"id\": \"p-2\", \"name\": \"tenant\"}, {\"id\": \"p-3\", \"name\": \"tenant\"},"
		" {\"id\": \"p-4\", \"name\": \"a/b\"}, {\"id\": \"p-5\", \"name\": \"p-2\"},"
		" {\"id\": \"p-6\", \"name\": \"solo\"}, {\"name\": \"no id\"}]");
	struct json_object *answer;
	struct neon_object *o = NULL;

	CHECK_INT(model_list_kind(l), MODEL_PROJECTS);
	CHECK_INT(model_count(l), 6);
	CHECK_STR(model_project_at(l, 0)->entry, "calm-sea-1");
	CHECK_INT(model_project_at(l, 0)->created, 1767323045);
	CHECK_STR(model_project_at(l, 1)->entry, "p-2");
	CHECK_STR(model_project_at(l, 2)->entry, "p-3");
	CHECK_STR(model_project_at(l, 3)->entry, "p-4");
	CHECK_STR(model_project_at(l, 4)->entry, "p-5");
	CHECK_STR(model_project_at(l, 5)->entry, "solo");
	CHECK_STR(model_project_by_entry(l, "solo")->id, "p-6");
	CHECK_STR(model_project_by_entry(l, "p-2")->name, "tenant");
	CHECK(model_project_by_entry(l, "tenant") == NULL);
	CHECK_STR(model_project_by_id(l, "p-4")->name, "a/b");
	CHECK(model_name_taken(l, "tenant"));
	CHECK(!model_name_taken(l, "fresh"));
	CHECK(model_snapshot_at(l, 0) == NULL);
	model_list_put(l);

	answer = json_tokener_parse("{\"project\": {\"id\": \"p-9\", \"name\": \"new\"},"
				    " \"operations\": []}");
	CHECK_INT(model_object_from_answer(answer, "project", &o), 0);
	CHECK_STR(o->u.project.id, "p-9");
	CHECK_STR(o->u.project.entry, "new");
	model_object_put(o);
	json_object_put(answer);

	/* A page's objects are cut down to what the listing keeps as they are read. */
	answer = json_tokener_parse("{\"id\": \"p-1\", \"name\": \"n\", \"pg_version\": 17,"
				    " \"created_at\": \"2026-01-02T03:04:05Z\", \"proxy_host\": \"h\"}");
	{
		struct json_object *brief = model_project_brief(answer), *v;

		CHECK(brief != NULL);
		CHECK_INT(json_object_object_length(brief), 3);
		CHECK_STR(model_json_str(brief, "id"), "p-1");
		CHECK_STR(model_json_str(brief, "created_at"), "2026-01-02T03:04:05Z");
		CHECK(!json_object_object_get_ex(brief, "pg_version", &v));
		json_object_put(brief);
	}
	json_object_put(answer);
	answer = json_tokener_parse("{\"name\": \"no id\"}");
	CHECK(model_project_brief(answer) == NULL);
	json_object_put(answer);
}

/* A listing patched for a change another mount told of: put in, renamed, taken out. */
static void test_patch(void)
{
	struct model_list *l = parse(MODEL_SNAPSHOTS,
		"[{\"id\": \"snap-a\", \"name\": \"v1\", \"lsn\": \"0/1\"},"
		" {\"id\": \"snap-b\", \"name\": \"v2\"}]");
	struct model_list *p, *q;

	/* Added, with every field as Neon sent it. */
	p = model_list_patch(l, "snap-c", "{\"id\": \"snap-c\", \"name\": \"v3\","
			     " \"expires_at\": \"2099-01-01T00:00:00Z\"}", NULL);
	CHECK(p != NULL);
	CHECK_INT(model_count(p), 3);
	CHECK_STR(model_snapshot_by_name(p, "v3")->id, "snap-c");
	CHECK_STR(model_snapshot_by_id(p, "snap-c")->expires_at, "2099-01-01T00:00:00Z");
	CHECK_INT(model_count(l), 2);
	/* Replaced in place. */
	q = model_list_patch(p, "snap-a", "{\"id\": \"snap-a\", \"name\": \"v1\","
			     " \"expires_at\": \"2099-01-02T00:00:00Z\"}", NULL);
	CHECK(q != NULL);
	CHECK_INT(model_count(q), 3);
	CHECK_STR(model_snapshot_at(q, 0)->expires_at, "2099-01-02T00:00:00Z");
	model_list_put(p);
	/* Renamed: the rest of the object stays. */
	p = model_list_patch(q, "snap-a", NULL, "good");
	CHECK(p != NULL);
	CHECK(model_snapshot_by_name(p, "v1") == NULL);
	CHECK_STR(model_snapshot_by_entry(p, "good")->id, "snap-a");
	CHECK_STR(model_snapshot_by_id(p, "snap-a")->expires_at, "2099-01-02T00:00:00Z");
	model_list_put(q);
	/* Taken out. */
	q = model_list_patch(p, "snap-b", NULL, NULL);
	CHECK(q != NULL);
	CHECK_INT(model_count(q), 2);
	CHECK(model_snapshot_by_id(q, "snap-b") == NULL);
	model_list_put(p);
	/* What cannot be patched is fetched afresh: an id the listing lacks to rename or take
	 * out, an object that is not the one named, one that is not JSON. */
	CHECK(model_list_patch(q, "snap-x", NULL, "x") == NULL);
	CHECK(model_list_patch(q, "snap-x", NULL, NULL) == NULL);
	CHECK(model_list_patch(q, "snap-a", "{\"id\": \"snap-b\"}", NULL) == NULL);
	CHECK(model_list_patch(q, "snap-a", "{not json", NULL) == NULL);
	model_list_put(q);
	model_list_put(l);
	/* Endpoints keep no JSON to patch with. */
	l = parse(MODEL_ENDPOINTS, "[{\"id\": \"ep-a\", \"branch_id\": \"br-a\"}]");
	CHECK(model_list_patch(l, "ep-a", NULL, NULL) == NULL);
	model_list_put(l);
}

int main(void)
{
	test_parse();
	test_time();
	test_json_getters();
	test_entries();
	test_nul_in_names();
	test_many();
	test_previews();
	test_endpoints();
	test_objects();
	test_meta();
	test_refs();
	test_text();
	test_projects();
	test_patch();
	CHECK_DONE();
}
