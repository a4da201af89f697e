/* What `cat active/restore` says before, during and after a restore. */
#include <errno.h>

#include <json-c/json.h>

#include "check.h"
#include "model.h"
#include "restore.h"

static struct json_object *parse(char *text)
{
	struct json_object *o = json_tokener_parse(text);

	CHECK(o != NULL);
	CHECK(text[strlen(text) - 1] == '\n');
	free(text);
	return o;
}

static const char *field(struct json_object *o, const char *path1, const char *path2)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, path1, &v))
		return NULL;
	if (path2 && !json_object_object_get_ex(v, path2, &v))
		return NULL;
	return json_object_get_string(v);
}

int main(void)
{
	struct restore *r = restore_new(NULL, NULL, NULL);
	struct restore_request req = {
		.snapshot_id = "snap-a-b-1", .snapshot_name = "pre_drop",
		.branch_name = "main", .branch_id = "br-old-one-1",
	};
	struct neon_operation running = { .id = "op1", .action = "create_branch",
					  .status = "running" };
	struct json_object *o, *ops, *op;

	o = parse(restore_status(r));
	CHECK_STR(field(o, "state", NULL), "idle");
	CHECK(!json_object_object_get_ex(o, "snapshot", NULL));
	json_object_put(o);

	CHECK_INT(restore_record_begin(r, &req), 0);
	CHECK(restore_running(r));
	/* A second restore while one runs is refused. */
	CHECK_INT(restore_record_begin(r, &req), -EBUSY);

	restore_record_operations(r, &running, 1);
	o = parse(restore_status(r));
	CHECK_STR(field(o, "state", NULL), "running");
	CHECK_STR(field(o, "snapshot", "name"), "pre_drop");
	CHECK_STR(field(o, "branch", "id_before"), "br-old-one-1");
	json_object_object_get_ex(o, "operations", &ops);
	op = json_object_array_get_idx(ops, 0);
	CHECK_STR(field(op, "status", NULL), "running");
	CHECK(field(o, "ended_at", NULL) == NULL);
	json_object_put(o);

	restore_record_end(r, -EIO, NULL, "operation create_branch ended in error: disk full");
	CHECK(!restore_running(r));
	o = parse(restore_status(r));
	CHECK_STR(field(o, "state", NULL), "failed");
	CHECK_STR(field(o, "error", NULL), "operation create_branch ended in error: disk full");
	CHECK(field(o, "ended_at", NULL) != NULL);
	json_object_put(o);

	CHECK_INT(restore_record_begin(r, &req), 0);
	/* Another restore replaced the target meanwhile: the status names the one used. */
	restore_record_target(r, "br-other-one-3");
	restore_record_verified(r, "endpoint ep-a serves the restored branch br-new-one-2");
	restore_record_end(r, 0, "br-new-one-2", NULL);
	o = parse(restore_status(r));
	CHECK_STR(field(o, "state", NULL), "finished");
	CHECK_STR(field(o, "branch", "id_before"), "br-other-one-3");
	CHECK_STR(field(o, "branch", "id_after"), "br-new-one-2");
	CHECK_STR(field(o, "verified", NULL), "endpoint ep-a serves the restored branch br-new-one-2");
	CHECK(field(o, "error", NULL) == NULL);
	json_object_put(o);

	/* A new restore forgets how the last one was verified. */
	CHECK_INT(restore_record_begin(r, &req), 0);
	o = parse(restore_status(r));
	CHECK(field(o, "verified", NULL) == NULL);
	json_object_put(o);
	restore_record_end(r, -EBUSY, NULL, "a restore of this project is running through "
			   "another mount (pid 7 on h)");

	restore_free(r);
	CHECK_DONE();
}
