/* Notices between mounts: what one mount writes, another reads back the same; one too long
 * for Postgres goes without its object; what is not a notice is ignored. */
#include "check.h"
#include "model.h"

#define LIMIT 8000

static const char *object = "{\"id\":\"snap-c\",\"name\":\"v3\","
			    "\"expires_at\":\"2099-01-01T00:00:00Z\",\"lsn\":\"0/16B3748\"}";

static struct model_notice full(void)
{
	return (struct model_notice){
		.version = MODEL_NOTICE_VERSION, .mount = "pid 1 on h/00ff", .project = "p-1",
		.event = "snapshot.created",
		.fields = { "id", "snap-c", "name", "v3 \"quoted\" \\ é" },
		.stale = { "records", "files" },
		.kind = MODEL_SNAPSHOTS, .id = "snap-c", .seen = true, .name = "v3",
		.has_expiry = true, .expires = 4070908800, .attachments_of = "snap-c",
		.pending = true, .object = object,
	};
}

static void test_round_trip(void)
{
	struct model_notice in = full(), *out;
	size_t len = 99;
	char *text = model_notice_write(&in, LIMIT, &len);

	CHECK(text != NULL);
	CHECK_INT(len, 0);
	out = model_notice_parse(text);
	CHECK(out != NULL);
	if (!out)
		goto done;
	CHECK_INT(out->version, MODEL_NOTICE_VERSION);
	CHECK_STR(out->mount, in.mount);
	CHECK_STR(out->project, "p-1");
	CHECK_STR(out->event, "snapshot.created");
	CHECK_STR(out->fields[0], "id");
	CHECK_STR(out->fields[1], "snap-c");
	CHECK_STR(out->fields[2], "name");
	CHECK_STR(out->fields[3], "v3 \"quoted\" \\ é");
	CHECK(out->fields[4] == NULL);
	CHECK_STR(out->stale[0], "records");
	CHECK_STR(out->stale[1], "files");
	CHECK(out->stale[2] == NULL);
	CHECK_INT(out->kind, MODEL_SNAPSHOTS);
	CHECK_STR(out->id, "snap-c");
	CHECK(out->seen);
	CHECK_STR(out->name, "v3");
	CHECK(out->has_expiry);
	CHECK_INT(out->expires, 4070908800);
	CHECK_STR(out->attachments_of, "snap-c");
	CHECK(out->pending);
	/* The object comes back as compact JSON with the same members. */
	CHECK_STR(out->object, object);
done:
	model_notice_free(out);
	free(text);
}

/* A branch gone, no expiry, no object: what is absent reads as absent. */
static void test_gone(void)
{
	struct model_notice in = {
		.version = MODEL_NOTICE_VERSION, .mount = "m", .project = "p",
		.event = "branch.deleted", .fields = { "id", "br-x" },
		.kind = MODEL_BRANCHES, .id = "br-x", .seen = true, .name = NULL,
	}, *out;
	size_t len;
	char *text = model_notice_write(&in, LIMIT, &len);

	out = model_notice_parse(text);
	CHECK(out != NULL);
	if (out) {
		CHECK_INT(out->kind, MODEL_BRANCHES);
		CHECK(out->seen);
		CHECK(out->name == NULL);
		CHECK(!out->has_expiry);
		CHECK(out->object == NULL);
		CHECK(out->attachments_of == NULL);
		CHECK(!out->pending);
		CHECK(out->stale[0] == NULL);
	}
	model_notice_free(out);
	free(text);
}

static void test_too_long(void)
{
	struct model_notice in = full(), *out;
	size_t big = LIMIT + 100, len = 0;
	char *obj = malloc(big + 64), *text;

	/* An object that alone is over the limit: the notice goes without it. */
	snprintf(obj, big + 64, "{\"id\":\"snap-c\",\"pad\":\"%0*d\"}", (int)big, 0);
	in.object = obj;
	text = model_notice_write(&in, LIMIT, &len);
	CHECK(text != NULL);
	CHECK(text && strlen(text) < LIMIT);
	out = model_notice_parse(text);
	CHECK(out != NULL);
	if (out) {
		CHECK(out->object == NULL);
		CHECK_STR(out->id, "snap-c");
		CHECK_STR(out->event, "snapshot.created");
	}
	model_notice_free(out);
	free(text);
	/* Too long even without it (a name over the limit): none, and how long it was. */
	in.object = NULL;
	in.name = obj;
	text = model_notice_write(&in, LIMIT, &len);
	CHECK(text == NULL);
	CHECK(len > LIMIT);
	free(obj);
	/* An object that is not a JSON object is left out. */
	in = full();
	in.object = "{not json";
	text = model_notice_write(&in, LIMIT, &len);
	out = model_notice_parse(text);
	CHECK(out != NULL && out->object == NULL);
	model_notice_free(out);
	free(text);
}

static void test_malformed(void)
{
	static const char *bad[] = {
		"", "{", "not json", "[]", "42", "null", "\"text\"",
		"{\"v\": 1}",
		"{\"v\": 1, \"mount\": \"m\"}",
		"{\"v\": 1, \"mount\": 5, \"project\": \"p\"}",
		"{\"v\": 1, \"mount\": \"m\", \"project\": [\"p\"]}",
		"{\"v\": 1, \"mount\": \"m\\u0000x\", \"project\": \"p\"}",
	};
	struct model_notice *n;
	size_t i;

	CHECK(model_notice_parse(NULL) == NULL);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		n = model_notice_parse(bad[i]);
		if (n)
			fprintf(stderr, "taken as a notice: %s\n", bad[i]);
		CHECK(n == NULL);
		model_notice_free(n);
	}
	/* Mistyped members read as missing; more fields than the events line has are cut. */
	n = model_notice_parse("{\"v\": \"x\", \"mount\": \"m\", \"project\": \"p\","
			       " \"event\": 7, \"fields\": {\"a\": \"1\", \"n\": 2, \"b\": \"2\","
			       " \"c\": \"3\", \"d\": \"4\", \"e\": \"5\"},"
			       " \"forget\": [\"records\", 3, null, \"files\"],"
			       " \"what\": \"endpoint\", \"id\": 9, \"seen\": true, \"name\": [],"
			       " \"expires\": \"soon\", \"object\": \"{}\", \"attachments_of\": {}}");
	CHECK(n != NULL);
	if (n) {
		CHECK_INT(n->version, 0);
		CHECK(n->event == NULL);
		CHECK_STR(n->fields[0], "a");
		CHECK_STR(n->fields[2], "b");
		CHECK_STR(n->fields[6], "d");
		CHECK_STR(n->fields[7], "4");
		CHECK_STR(n->stale[0], "records");
		CHECK_STR(n->stale[1], "files");
		CHECK(n->stale[2] == NULL);
		CHECK_INT(n->kind, 0);
		CHECK(n->id == NULL);
		CHECK(n->name == NULL);
		CHECK(!n->has_expiry);
		CHECK(n->object == NULL);
		CHECK(n->attachments_of == NULL);
	}
	model_notice_free(n);
	model_notice_free(NULL);
}

int main(void)
{
	test_round_trip();
	test_gone();
	test_too_long();
	test_malformed();
	CHECK_DONE();
}
