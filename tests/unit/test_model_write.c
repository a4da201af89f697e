/* The JSON neonfs writes: request bodies, the restore status file and the audit log, with
 * what must be escaped (quotes, backslashes, control characters) escaped, and non-ASCII
 * text passed through as UTF-8. */
#include <json-c/json.h>
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "model.h"

/* Checks the whole text, then frees it. */
static void check_text(char *text, const char *want)
{
	CHECK_STR(text, want);
	if (text && strcmp(text, want) != 0)
		fprintf(stderr, "got:\n%s\n", text);
	free(text);
}

/* The text reads back, as JSON, to @s at @key of @outer. */
static void check_reads_back(const char *text, const char *outer, const char *key,
			     const char *s)
{
	struct json_object *o = json_tokener_parse(text), *v = o;

	CHECK(o != NULL);
	if (outer)
		CHECK(json_object_object_get_ex(o, outer, &v));
	CHECK(json_object_object_get_ex(v, key, &v));
	CHECK_STR(json_object_get_string(v), s);
	json_object_put(o);
}

static void test_bodies(void)
{
	/* A quote, a backslash, a slash, a newline, a control character and UTF-8. */
	static const char odd[] = "v \"1\"\\/\n\x01\xc3\xa9";
	char *t;

	t = model_body_snapshot_rename(odd);
	CHECK(t != NULL);
	check_reads_back(t, "snapshot", "name", odd);
	check_text(t, "{\"snapshot\":{\"name\":\"v \\\"1\\\"\\\\/\\n\\u0001\xc3\xa9\"}}");

	check_text(model_body_snapshot_expiry("2027-01-07T00:00:00Z"),
		   "{\"snapshot\":{\"expires_at\":\"2027-01-07T00:00:00Z\"}}");
	/* null clears the expiry; a missing field would keep it. */
	check_text(model_body_snapshot_expiry(NULL), "{\"snapshot\":{\"expires_at\":null}}");

	check_text(model_body_restore("br-main", true, NULL),
		   "{\"target_branch_id\":\"br-main\",\"finalize_restore\":true}");
	check_text(model_body_restore("br-main", false, "preview \xe2\x9c\x93"),
		   "{\"target_branch_id\":\"br-main\",\"finalize_restore\":false,"
		   "\"name\":\"preview \xe2\x9c\x93\"}");
	check_text(model_body_finalize_restore("main (old)"), "{\"name\":\"main (old)\"}");
	check_text(model_body_finalize_restore(NULL), "{}");
	check_text(model_body_branch_create("br-main", "exp\t1"),
		   "{\"branch\":{\"parent_id\":\"br-main\",\"name\":\"exp\\t1\"},"
		   "\"endpoints\":[{\"type\":\"read_write\"}]}");
	check_text(model_body_endpoint_create("br-new"),
		   "{\"endpoint\":{\"branch_id\":\"br-new\",\"type\":\"read_write\"}}");
	/* An undo: Neon's branch restore, keeping the state it replaces under a new name. */
	check_text(model_body_branch_restore("br-old", "main (old 2)"),
		   "{\"source_branch_id\":\"br-old\",\"preserve_under_name\":\"main (old 2)\"}");
	check_text(model_body_branch_restore("br-old", NULL), "{\"source_branch_id\":\"br-old\"}");
	/* A project of the organization; no organization: the key's own account's. */
	check_text(model_body_project_create("tenant \"a\"", "org-1"),
		   "{\"project\":{\"name\":\"tenant \\\"a\\\"\",\"org_id\":\"org-1\"}}");
	check_text(model_body_project_create("t", ""), "{\"project\":{\"name\":\"t\"}}");
}

static void test_restore_status(void)
{
	const struct neon_operation ops[] = {
		{ .id = "op1", .action = "create_branch", .status = "running" },
		{ .id = "op2", .status = "error", .error = "disk \"full\" \xc3\xa9 \x02" },
	};
	struct model_restore_status st = {
		.state = "failed", .ever = true,
		.snapshot_id = "snap-1", .snapshot_name = "pre \"drop\"\\ /\xc3\xa9\x01\t",
		.branch_name = "main", .branch_before = "br-old", .branch_after = "",
		.started_at = "2026-01-02T03:04:05Z", .ended_at = "2026-01-02T03:04:07Z",
		.duration_ms = 2000, .ops = ops, .nops = 2, .verified = NULL,
		.error = "failed: \"x\"\n",
	};
	struct model_restore_status idle = { .state = "idle", .duration_ms = -1 };

	check_text(model_restore_status(&idle), "{\n  \"state\": \"idle\"\n}\n");
	/* The text `cat active/restore` has always shown, byte for byte. */
	check_text(model_restore_status(&st),
		   "{\n"
		   "  \"state\": \"failed\",\n"
		   "  \"snapshot\": {\n"
		   "    \"id\": \"snap-1\",\n"
		   "    \"name\": \"pre \\\"drop\\\"\\\\ /\xc3\xa9\\u0001\\t\"\n"
		   "  },\n"
		   "  \"branch\": {\n"
		   "    \"name\": \"main\",\n"
		   "    \"id_before\": \"br-old\",\n"
		   "    \"id_after\": null\n"
		   "  },\n"
		   "  \"started_at\": \"2026-01-02T03:04:05Z\",\n"
		   "  \"ended_at\": \"2026-01-02T03:04:07Z\",\n"
		   "  \"duration_ms\": 2000,\n"
		   "  \"operations\": [\n"
		   "    {\n"
		   "      \"id\": \"op1\",\n"
		   "      \"action\": \"create_branch\",\n"
		   "      \"status\": \"running\"\n"
		   "    },\n"
		   "    {\n"
		   "      \"id\": \"op2\",\n"
		   "      \"action\": null,\n"
		   "      \"status\": \"error\",\n"
		   "      \"error\": \"disk \\\"full\\\" \xc3\xa9 \\u0002\"\n"
		   "    }\n"
		   "  ],\n"
		   "  \"verified\": null,\n"
		   "  \"error\": \"failed: \\\"x\\\"\\n\"\n"
		   "}\n");
	/* Running: no duration, no error, and an empty list of operations. */
	st.state = "running";
	st.ended_at = "";
	st.duration_ms = -1;
	st.nops = 0;
	st.error = "";
	st.verified = "endpoint ep-1 serves br-new";
	{
		char *t = model_restore_status(&st);

		CHECK(t && strstr(t, "\"duration_ms\"") == NULL && strstr(t, "\"error\"") == NULL);
		CHECK(t && strstr(t, "  \"ended_at\": null,\n") != NULL);
		CHECK(t && strstr(t, "  \"operations\": [\n  ],\n") != NULL);
		CHECK(t && strstr(t, "  \"verified\": \"endpoint ep-1 serves br-new\"\n") != NULL);
		CHECK(t && strstr(t, "\"waited_s\"") == NULL && strstr(t, "\"undo\"") == NULL);
		free(t);
	}
	/* Still running, it says how long it has waited for Neon. */
	st.has_waited = true;
	st.waited_s = 42;
	{
		char *t = model_restore_status(&st);

		CHECK(t && strstr(t, "  \"ended_at\": null,\n  \"waited_s\": 42,\n") != NULL);
		free(t);
	}
}

static void test_undo_status(void)
{
	const struct model_restore_status st = {
		.state = "finished", .ever = true,
		.undo_of_branch_id = "br-old", .undo_of_branch_name = "main (old)",
		.snapshot_id = "", .snapshot_name = "",
		.branch_name = "main", .branch_before = "br-main", .branch_after = "br-main",
		.started_at = "2026-01-02T03:04:05Z", .ended_at = "2026-01-02T03:04:06Z",
		.duration_ms = 1000, .verified = "endpoint ep-1",
		.has_undo = true, .undo = "br-old-2", .undo_note = "writing \"br-old-2\" restores",
	};
	struct model_restore_status none = st;

	/* An undo names the branch it came from, and snapshot is null. */
	check_text(model_restore_status(&st),
		   "{\n"
		   "  \"state\": \"finished\",\n"
		   "  \"snapshot\": null,\n"
		   "  \"undo_of\": {\n"
		   "    \"branch_id\": \"br-old\",\n"
		   "    \"branch_name\": \"main (old)\"\n"
		   "  },\n"
		   "  \"branch\": {\n"
		   "    \"name\": \"main\",\n"
		   "    \"id_before\": \"br-main\",\n"
		   "    \"id_after\": \"br-main\"\n"
		   "  },\n"
		   "  \"started_at\": \"2026-01-02T03:04:05Z\",\n"
		   "  \"ended_at\": \"2026-01-02T03:04:06Z\",\n"
		   "  \"duration_ms\": 1000,\n"
		   "  \"operations\": [\n  ],\n"
		   "  \"verified\": \"endpoint ep-1\",\n"
		   "  \"undo\": \"br-old-2\",\n"
		   "  \"undo_note\": \"writing \\\"br-old-2\\\" restores\"\n"
		   "}\n");
	/* No undo left: null, with the note saying why. */
	none.undo = "";
	none.undo_note = "no undo";
	{
		char *t = model_restore_status(&none);

		CHECK(t && strstr(t, "  \"undo\": null,\n  \"undo_note\": \"no undo\"\n}\n") != NULL);
		free(t);
	}
}

static void test_restore_log(void)
{
	const struct model_restore_row rows[] = {
		{ .id = 2, .snapshot_id = "snap-2", .snapshot_name = "v\"2\"", .branch_before = "br-a",
		  .user = "alice", .host = "h\xc3\xa9", .started_at = "2026-01-02T03:04:05Z",
		  .outcome = "failed", .error = "operation \"x\" failed\n" },
		{ .id = 1, .snapshot_id = "snap-1" },
	};

	/* SQL NULL is null; every key is there in every row. */
	check_text(model_restore_log(rows, 2),
		   "[{\"id\":2,\"snapshot_id\":\"snap-2\",\"snapshot_name\":\"v\\\"2\\\"\","
		   "\"branch_before\":\"br-a\",\"branch_after\":null,\"user\":\"alice\","
		   "\"host\":\"h\xc3\xa9\",\"started_at\":\"2026-01-02T03:04:05Z\",\"ended_at\":null,"
		   "\"outcome\":\"failed\",\"error\":\"operation \\\"x\\\" failed\\n\"},"
		   "{\"id\":1,\"snapshot_id\":\"snap-1\",\"snapshot_name\":null,\"branch_before\":null,"
		   "\"branch_after\":null,\"user\":null,\"host\":null,\"started_at\":null,"
		   "\"ended_at\":null,\"outcome\":null,\"error\":null}]");
	check_text(model_restore_log(NULL, 0), "[]");
}

/* The operations line of progress events: each "action:status", "?" for what is unsaid,
 * and never past the buffer. */
static void test_operations_line(void)
{
	struct neon_operation ops[2];
	char buf[64], tiny[8];

	memset(ops, 0, sizeof(ops));
	snprintf(ops[0].action, sizeof(ops[0].action), "create_branch");
	snprintf(ops[0].status, sizeof(ops[0].status), "running");
	snprintf(ops[1].status, sizeof(ops[1].status), "scheduling");
	model_operations_line(ops, 2, buf, sizeof(buf));
	CHECK_STR(buf, "create_branch:running ?:scheduling");
	model_operations_line(ops, 0, buf, sizeof(buf));
	CHECK_STR(buf, "");
	model_operations_line(ops, 2, tiny, sizeof(tiny));
	CHECK_STR(tiny, "create_");
}

int main(void)
{
	test_operations_line();
	test_bodies();
	test_restore_status();
	test_undo_status();
	test_restore_log();
	CHECK_DONE();
}
