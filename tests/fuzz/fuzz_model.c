/* Fuzzes the model: any text as an API answer, through every parser the wire hands bodies
 * to (model_wire.c: listings, pages, answers, operations, error bodies, names, the URI),
 * and parsed as each kind of listing and as single objects and operations, then every
 * lookup and the meta.json writers. What the model promises is checked, not only that it
 * does not crash: no NULL string, each entry finds its own object, operations have ids,
 * and meta.json and the restore status are JSON. */
#include "config.h"

#include <json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model.h"
#include "model_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_model: %s\n", #c); abort(); } } while (0)

static void must_be_json(char *text)
{
	struct json_object *o;

	if (!text)
		return;
	o = json_tokener_parse(text);
	MUST(o != NULL);
	json_object_put(o);
	free(text);
}

static void snapshots(const struct model_list *l, const char *probe)
{
	size_t i, n = model_count(l);

	for (i = 0; i < n; i++) {
		const struct neon_snapshot *s = model_snapshot_at(l, i);
		struct model_attachment_line att[2] = { { s->name, 0 }, { s->id, -1 } };
		struct model_checkpoint cp = { s->name, s->created_at, s->lsn, true, att, 2 };

		MUST(s && s->id && s->name && s->entry && s->created_at && s->expires_at &&
		     s->lsn && s->source_branch_id && s->json);
		MUST(model_snapshot_by_id(l, s->id) == s);
		MUST(model_snapshot_by_entry(l, s->entry) == s);
		MUST(model_snapshot_by_name(l, s->name) != NULL);
		MUST(model_name_taken(l, s->entry) && model_name_taken(l, s->id));
		MUST(model_branch_at(l, i) == NULL && model_endpoint_at(l, i) == NULL);
		must_be_json(model_snapshot_meta(s, NULL));
		must_be_json(model_snapshot_meta(s, &cp));
		cp.attachments = NULL;
		must_be_json(model_snapshot_meta(s, &cp));
	}
	(void)model_snapshot_by_id(l, probe);
	(void)model_snapshot_by_name(l, probe);
	(void)model_snapshot_by_entry(l, probe);
	(void)model_name_taken(l, probe);
}

static void branches(const struct model_list *l, const char *probe)
{
	struct model_live live = { NULL, "16.4", "neondb", "0/2A", 7340032, 3 };
	struct model_live down = { "no compute", NULL, NULL, NULL, 0, 0 };
	size_t i, n = model_count(l);

	for (i = 0; i < n; i++) {
		const struct neon_branch *b = model_branch_at(l, i);
		const char *from;

		MUST(b && b->id && b->name && b->entry && b->parent_id && b->created_at &&
		     b->updated_at && b->restore_status && b->restored_from && b->restored_as &&
		     b->json);
		MUST(model_branch_by_id(l, b->id) == b);
		MUST(model_branch_by_entry(l, b->entry) == b);
		MUST(model_branch_by_name(l, b->name) != NULL);
		from = model_preview_of(b);
		if (from)
			MUST(model_preview_branch(l, from) != NULL);
		(void)model_children(l, b->id);
		must_be_json(model_branch_meta(b, NULL));
		must_be_json(model_branch_meta(b, &live));
		must_be_json(model_branch_meta(b, &down));
	}
	(void)model_branch_default(l);
	(void)model_branch_by_id(l, probe);
	(void)model_branch_by_name(l, probe);
	(void)model_branch_by_entry(l, probe);
	(void)model_preview_branch(l, probe);
	(void)model_children(l, probe);
}

static void endpoints(const struct model_list *l, const char *probe)
{
	size_t i, n = model_count(l);

	for (i = 0; i < n; i++) {
		const struct neon_endpoint *e = model_endpoint_at(l, i);

		MUST(e && e->id && e->branch_id && e->type && e->current_state);
		(void)model_endpoint_rw(l, e->branch_id);
	}
	(void)model_endpoint_rw(l, probe);
}

static void listing(enum model_kind kind, struct json_object *arr, const char *probe)
{
	struct model_list *l = model_list_from_json(kind, arr);

	if (!l)
		return;
	MUST(model_list_kind(l) == kind);
	if (kind == MODEL_SNAPSHOTS)
		snapshots(l, probe);
	else if (kind == MODEL_BRANCHES)
		branches(l, probe);
	else
		endpoints(l, probe);
	/* A listing travels through a cache as its shared header. */
	MUST(model_list_of(model_list_shared(l)) == l);
	model_list_get(l);
	model_list_put(l);
	model_list_put(l);
}

static void object(struct json_object *answer, const char *key)
{
	struct neon_object *o = NULL;

	if (model_object_from_answer(answer, key, &o) != 0) {
		MUST(o == NULL);
		return;
	}
	if (o->kind == MODEL_SNAPSHOTS) {
		MUST(o->u.snapshot.id && o->u.snapshot.entry && o->u.snapshot.json);
		must_be_json(model_snapshot_meta(&o->u.snapshot, NULL));
	} else if (o->kind == MODEL_BRANCHES) {
		MUST(o->u.branch.id && o->u.branch.entry && o->u.branch.json);
		(void)model_preview_of(&o->u.branch);
		must_be_json(model_branch_meta(&o->u.branch, NULL));
	} else {
		MUST(o->kind == MODEL_ENDPOINTS && o->u.endpoint.id && o->u.endpoint.type);
	}
	model_object_put(o);
}

static void operations(const struct neon_operation *ops, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		MUST(ops[i].id[0] && memchr(ops[i].id, '\0', sizeof(ops[i].id)) &&
		     memchr(ops[i].status, '\0', sizeof(ops[i].status)) &&
		     memchr(ops[i].error, '\0', sizeof(ops[i].error)));
}

/* The text as the wire hands it over, through each parser of model_wire.c. */
static void wire(const char *text, size_t size, const char *probe)
{
	static const enum model_kind kinds[] = { MODEL_SNAPSHOTS, MODEL_BRANCHES, MODEL_ENDPOINTS };
	struct model_restore_status st = { .state = "running", .ever = true, .duration_ms = -1 };
	struct model_answer *a = NULL;
	struct model_list *l = NULL;
	struct model_pages *p;
	struct neon_operation op;
	struct neon_named *named = NULL;
	char msg[256], code[64], message[400], *next = NULL, *uri = NULL;
	size_t i, n = 0;

	if (model_answer_parse(text, &a, msg, sizeof(msg)) == 0) {
		MUST(a != NULL);
		MUST(!a->snapshot || (a->snapshot->u.snapshot.id[0] && a->snapshot->u.snapshot.json));
		MUST(!a->branch || (a->branch->u.branch.id[0] && a->branch->u.branch.entry));
		MUST(!a->endpoint || a->endpoint->u.endpoint.host);
		operations(a->ops, a->nops);
		st.ops = a->ops;
		st.nops = a->nops;
		st.snapshot_name = probe;
		must_be_json(model_restore_status(&st));
		model_answer_free(a);
	} else {
		MUST(a == NULL && memchr(msg, '\0', sizeof(msg)));
	}
	for (i = 0; i < 3; i++) {
		if (model_list_parse(kinds[i], text, &l, msg, sizeof(msg)) == 0) {
			MUST(l && model_list_kind(l) == kinds[i]);
			model_list_put(l);
		} else {
			MUST(l == NULL);
		}
	}
	p = model_pages_new();
	if (p) {
		if (model_pages_add(p, text, "branches", &n, &next, msg, sizeof(msg)) == 0)
			MUST(!next || *next);
		free(next);
		l = model_pages_list(p, MODEL_BRANCHES);
		model_list_put(l);
		model_pages_free(p);
	}
	if (model_operation_parse(text, &op, msg, sizeof(msg)) == 0)
		operations(&op, 1);
	if (model_named_parse(text, "databases", &named, &n, msg, sizeof(msg)) == 0) {
		for (i = 0; i < n; i++)
			MUST(named[i].name[0] && memchr(named[i].owner, '\0', sizeof(named[i].owner)));
		free(named);
	}
	if (model_uri_parse(text, &uri, msg, sizeof(msg)) == 0)
		MUST(uri != NULL);
	free(uri);
	/* An error body is read from its bytes, which may hold a NUL. */
	model_error_parse(text, size, code, sizeof(code), message, sizeof(message));
	MUST(strlen(code) < sizeof(code) && strlen(message) < sizeof(message));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const keys[] = { "snapshots", "branches", "endpoints" };
	struct neon_operation *ops = NULL;
	struct json_object *answer;
	char *text, probe[64];
	size_t n = 0, i;

	log_init(LOG_LEVEL_ERR, 0);
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	/* A lookup for something that may or may not be there: the input's first bytes. */
	snprintf(probe, sizeof(probe), "%s", text);
	wire(text, size, probe);
	answer = json_tokener_parse(text);
	free(text);
	if (!answer)
		return 0;

	for (i = 0; i < 3; i++) {
		struct json_object *arr = NULL;

		/* A listing as the API sends it, {"snapshots": [...]}, and a bare array. */
		listing((enum model_kind)(MODEL_SNAPSHOTS + i), answer, probe);
		if (json_object_object_get_ex(answer, keys[i], &arr))
			listing((enum model_kind)(MODEL_SNAPSHOTS + i), arr, probe);
	}
	object(answer, "snapshot");
	object(answer, "branch");
	object(answer, "endpoint");
	if (model_operations_from_answer(answer, &ops, &n) == 0) {
		for (i = 0; i < n; i++)
			MUST(memchr(ops[i].id, '\0', sizeof(ops[i].id)) &&
			     memchr(ops[i].status, '\0', sizeof(ops[i].status)) &&
			     memchr(ops[i].error, '\0', sizeof(ops[i].error)));
		free(ops);
	} else {
		MUST(ops == NULL);
	}
	json_object_put(answer);
	return 0;
}
