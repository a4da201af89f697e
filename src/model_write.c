/* model_write: the JSON neonfs writes, from typed arguments: the bodies of its requests,
 * the restore status file and the restore audit log. Part of the model, so that JSON is
 * written (and escaped) in one place. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "model.h"

/* Takes @o; its text, copied (json-c keeps the text inside the object). */
static char *write_text(struct json_object *o, int flags, bool newline)
{
	const char *s = o ? json_object_to_json_string_ext(o, flags |
							   JSON_C_TO_STRING_NOSLASHESCAPE) : NULL;
	char *out = NULL;

	if (s && asprintf(&out, "%s%s", s, newline ? "\n" : "") < 0)
		out = NULL;
	json_object_put(o);
	return out;
}

static char *write_compact(struct json_object *o)
{
	return write_text(o, JSON_C_TO_STRING_PLAIN, false);
}

/* Adds @v to @o; false (and @v dropped) when there is no room. NULL @v is JSON null. */
static bool write_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!o || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* A string member; left out when @s is NULL. */
static bool write_add_str(struct json_object *o, const char *key, const char *s)
{
	struct json_object *v;

	if (!s)
		return true;
	v = json_object_new_string(s);
	return v && write_add(o, key, v);
}

/* {"<outer>": {"<key>": s}} */
static char *write_wrapped(const char *outer, const char *key, const char *s, bool null_ok)
{
	struct json_object *body = json_object_new_object(), *in = json_object_new_object();
	bool ok = body && in;

	if (ok)
		ok = s || !null_ok ? write_add_str(in, key, s) : write_add(in, key, NULL);
	if (ok) {
		ok = write_add(body, outer, in);
		in = NULL;
	}
	json_object_put(in);
	if (!ok) {
		json_object_put(body);
		return NULL;
	}
	return write_compact(body);
}

char *model_body_snapshot_rename(const char *name)
{
	return write_wrapped("snapshot", "name", name, false);
}

char *model_body_snapshot_expiry(const char *expires_at)
{
	/* Neon clears an expiry given as null; an absent field would leave it as it was. */
	return write_wrapped("snapshot", "expires_at", expires_at, true);
}

char *model_body_restore(const char *target_branch_id, bool finalize, const char *name)
{
	struct json_object *body = json_object_new_object();

	if (!body || !write_add_str(body, "target_branch_id", target_branch_id) ||
	    !write_add(body, "finalize_restore", json_object_new_boolean(finalize)) ||
	    !write_add_str(body, "name", name)) {
		json_object_put(body);
		return NULL;
	}
	return write_compact(body);
}

char *model_body_finalize_restore(const char *old_branch_name)
{
	struct json_object *body = json_object_new_object();

	if (!body || !write_add_str(body, "name", old_branch_name)) {
		json_object_put(body);
		return NULL;
	}
	return write_compact(body);
}

char *model_body_branch_create(const char *parent_id, const char *name)
{
	struct json_object *body = json_object_new_object(), *br = json_object_new_object();
	struct json_object *eps = json_object_new_array(), *ep = json_object_new_object();

	/* A branch comes without a compute unless asked; it needs one to be queried. */
	if (!body || !br || !eps || !ep ||
	    !write_add_str(br, "parent_id", parent_id) || !write_add_str(br, "name", name) ||
	    !write_add_str(ep, "type", "read_write"))
		goto fail;
	if (json_object_array_add(eps, ep) != 0)
		goto fail;
	ep = NULL;
	if (!write_add(body, "branch", br)) {
		br = NULL;
		goto fail;
	}
	br = NULL;
	if (!write_add(body, "endpoints", eps)) {
		eps = NULL;
		goto fail;
	}
	return write_compact(body);

fail:
	json_object_put(ep);
	json_object_put(eps);
	json_object_put(br);
	json_object_put(body);
	return NULL;
}

char *model_body_endpoint_create(const char *branch_id)
{
	struct json_object *body = json_object_new_object(), *ep = json_object_new_object();

	if (!body || !ep || !write_add_str(ep, "branch_id", branch_id) ||
	    !write_add_str(ep, "type", "read_write")) {
		json_object_put(ep);
		json_object_put(body);
		return NULL;
	}
	if (!write_add(body, "endpoint", ep)) {
		json_object_put(body);
		return NULL;
	}
	return write_compact(body);
}

char *model_body_branch_restore(const char *source_branch_id, const char *preserve_under_name)
{
	struct json_object *body = json_object_new_object();

	if (!body || !write_add_str(body, "source_branch_id", source_branch_id) ||
	    !write_add_str(body, "preserve_under_name", preserve_under_name)) {
		json_object_put(body);
		return NULL;
	}
	return write_compact(body);
}

char *model_body_project_create(const char *name, const char *org_id)
{
	struct json_object *body = json_object_new_object(), *project = json_object_new_object();
	bool ok = body && project && write_add_str(project, "name", name) &&
		  write_add_str(project, "org_id", org_id && *org_id ? org_id : NULL);

	if (ok) {
		ok = write_add(body, "project", project);
		project = NULL;
	}
	json_object_put(project);
	if (!ok) {
		json_object_put(body);
		return NULL;
	}
	return write_compact(body);
}

/* The status file shows an unset field as null. */
static struct json_object *write_str_or_null(const char *s)
{
	return s && *s ? json_object_new_string(s) : NULL;
}

char *model_restore_status(const struct model_restore_status *s)
{
	struct json_object *o = json_object_new_object(), *snap, *branch, *ops;
	size_t i;

	if (!o)
		return NULL;
	json_object_object_add(o, "state", json_object_new_string(s->state ? s->state : ""));
	if (!s->ever)
		goto render;
	if (s->undo_of_branch_id && *s->undo_of_branch_id) {
		struct json_object *src = json_object_new_object();

		json_object_object_add(o, "snapshot", NULL);
		json_object_object_add(src, "branch_id", write_str_or_null(s->undo_of_branch_id));
		json_object_object_add(src, "branch_name", write_str_or_null(s->undo_of_branch_name));
		json_object_object_add(o, "undo_of", src);
	} else {
		snap = json_object_new_object();
		json_object_object_add(snap, "id", write_str_or_null(s->snapshot_id));
		json_object_object_add(snap, "name", write_str_or_null(s->snapshot_name));
		json_object_object_add(o, "snapshot", snap);
	}
	branch = json_object_new_object();
	json_object_object_add(branch, "name", write_str_or_null(s->branch_name));
	json_object_object_add(branch, "id_before", write_str_or_null(s->branch_before));
	json_object_object_add(branch, "id_after", write_str_or_null(s->branch_after));
	json_object_object_add(o, "branch", branch);
	json_object_object_add(o, "started_at", write_str_or_null(s->started_at));
	json_object_object_add(o, "ended_at", write_str_or_null(s->ended_at));
	if (s->duration_ms >= 0)
		json_object_object_add(o, "duration_ms", json_object_new_int64(s->duration_ms));
	else if (s->has_waited)
		json_object_object_add(o, "waited_s", json_object_new_int64(s->waited_s));
	ops = json_object_new_array();
	for (i = 0; ops && i < s->nops; i++) {
		const struct neon_operation *op = &s->ops[i];
		struct json_object *line = json_object_new_object();

		json_object_object_add(line, "id", write_str_or_null(op->id));
		json_object_object_add(line, "action", write_str_or_null(op->action));
		json_object_object_add(line, "status", write_str_or_null(op->status));
		if (op->error[0])
			json_object_object_add(line, "error", json_object_new_string(op->error));
		json_object_array_add(ops, line);
	}
	json_object_object_add(o, "operations", ops);
	json_object_object_add(o, "verified", write_str_or_null(s->verified));
	if (s->error && *s->error)
		json_object_object_add(o, "error", json_object_new_string(s->error));
	if (s->has_undo) {
		json_object_object_add(o, "undo", write_str_or_null(s->undo));
		json_object_object_add(o, "undo_note", write_str_or_null(s->undo_note));
	}
render:
	return write_text(o, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_SPACED, true);
}

/* SQL NULL is JSON null. */
static struct json_object *write_nullable(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

char *model_restore_log(const struct model_restore_row *rows, size_t n)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	if (!arr)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct model_restore_row *r = &rows[i];
		struct json_object *o = json_object_new_object();

		if (!o || json_object_array_add(arr, o) != 0) {
			json_object_put(o);
			json_object_put(arr);
			return NULL;
		}
		json_object_object_add(o, "id", json_object_new_int64(r->id));
		json_object_object_add(o, "snapshot_id", write_nullable(r->snapshot_id));
		json_object_object_add(o, "snapshot_name", write_nullable(r->snapshot_name));
		json_object_object_add(o, "branch_before", write_nullable(r->branch_before));
		json_object_object_add(o, "branch_after", write_nullable(r->branch_after));
		json_object_object_add(o, "user", write_nullable(r->user));
		json_object_object_add(o, "host", write_nullable(r->host));
		json_object_object_add(o, "started_at", write_nullable(r->started_at));
		json_object_object_add(o, "ended_at", write_nullable(r->ended_at));
		json_object_object_add(o, "outcome", write_nullable(r->outcome));
		json_object_object_add(o, "error", write_nullable(r->error));
	}
	return write_compact(arr);
}

void model_operations_line(const struct neon_operation *ops, size_t n, char *buf, size_t len)
{
	size_t i, used = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (i = 0; i < n && used < len; i++) {
		int w = snprintf(buf + used, len - used, "%s%s:%s", i ? " " : "",
				 ops[i].action[0] ? ops[i].action : "?",
				 ops[i].status[0] ? ops[i].status : "?");

		used += w > 0 ? (size_t)w : 0;
	}
}
