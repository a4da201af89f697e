/* model_wire: the API's answers, read from the body's text into the model's types. Part of
 * the model: the wire (api*.c) moves bytes and hands each body here, so no other module
 * parses JSON, and a missing or mistyped field reads alike in every answer. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "model.h"
#include "model_json.h"
#include "util.h"

/* NULL (and 0) for a blank body or JSON null; -EIO for text that is not JSON. */
static int wire_parse(const char *text, struct json_object **out, char *msg, size_t msglen)
{
	enum json_tokener_error jerr = json_tokener_success;

	*out = NULL;
	if (!text || !text[strspn(text, " \t\r\n")])
		return 0;
	*out = json_tokener_parse_verbose(text, &jerr);
	if (!*out && jerr != json_tokener_success) {
		util_msg(msg, msglen, "the API answered with invalid JSON (%s)",
			 json_tokener_error_desc(jerr));
		return -EIO;
	}
	return 0;
}

/* The member @key of the answer, or -EIO saying it is missing. */
static int wire_member(struct json_object *answer, const char *key, struct json_object **v,
		       char *msg, size_t msglen)
{
	*v = NULL;
	if (!json_object_is_type(answer, json_type_object) ||
	    !json_object_object_get_ex(answer, key, v) || !*v) {
		util_msg(msg, msglen, "the API's answer has no \"%s\"", key);
		return -EIO;
	}
	return 0;
}

static void model_copy(char *dst, size_t len, struct json_object *obj, const char *key)
{
	const char *v = model_json_str(obj, key);

	snprintf(dst, len, "%s", v ? v : "");
}

int model_operation_from_json(struct json_object *obj, struct neon_operation *op)
{
	const char *id = json_object_is_type(obj, json_type_object) ? model_json_str(obj, "id") :
		NULL;

	memset(op, 0, sizeof(*op));
	/* A cut id would poll another operation, or none. */
	if (!id || !*id || strlen(id) >= sizeof(op->id))
		return -EIO;
	model_copy(op->id, sizeof(op->id), obj, "id");
	model_copy(op->action, sizeof(op->action), obj, "action");
	model_copy(op->status, sizeof(op->status), obj, "status");
	model_copy(op->branch_id, sizeof(op->branch_id), obj, "branch_id");
	model_copy(op->endpoint_id, sizeof(op->endpoint_id), obj, "endpoint_id");
	model_copy(op->error, sizeof(op->error), obj, "error");
	model_copy(op->created_at, sizeof(op->created_at), obj, "created_at");
	model_copy(op->updated_at, sizeof(op->updated_at), obj, "updated_at");
	op->failures_count = model_json_int(obj, "failures_count", 0);
	return 0;
}

int model_operations_from_answer(struct json_object *answer, struct neon_operation **ops,
				 size_t *n)
{
	struct json_object *arr = NULL;
	size_t i, len;

	*ops = NULL;
	*n = 0;
	if (!json_object_is_type(answer, json_type_object))
		return -EIO;
	if (!json_object_object_get_ex(answer, "operations", &arr) || !arr)
		return 0;
	if (!json_object_is_type(arr, json_type_array))
		return -EIO;
	len = json_object_array_length(arr);
	if (len == 0)
		return 0;
	*ops = calloc(len, sizeof(**ops));
	if (!*ops)
		return -ENOMEM;
	for (i = 0; i < len; i++) {
		if (model_operation_from_json(json_object_array_get_idx(arr, i), &(*ops)[i])) {
			free(*ops);
			*ops = NULL;
			return -EIO;
		}
	}
	*n = len;
	return 0;
}

static const char *wire_list_key(enum model_kind kind)
{
	return kind == MODEL_SNAPSHOTS ? "snapshots" : kind == MODEL_BRANCHES ? "branches" :
	       kind == MODEL_PROJECTS ? "projects" : "endpoints";
}

int model_list_parse(enum model_kind kind, const char *text, struct model_list **out,
		     char *msg, size_t msglen)
{
	struct json_object *answer = NULL, *arr;
	int res;

	*out = NULL;
	res = wire_parse(text, &answer, msg, msglen);
	if (!res)
		res = wire_member(answer, wire_list_key(kind), &arr, msg, msglen);
	if (!res) {
		*out = model_list_from_json(kind, arr);
		if (!*out) {
			util_msg(msg, msglen, "out of memory");
			res = -ENOMEM;
		}
	}
	json_object_put(answer);
	return res;
}

struct model_pages {
	struct json_object *all;
};

struct model_pages *model_pages_new(void)
{
	struct model_pages *p = calloc(1, sizeof(*p));

	if (p && !(p->all = json_object_new_array())) {
		free(p);
		p = NULL;
	}
	return p;
}

/* One page: its @key array's objects are added (each through @keep when not NULL, which
 * makes what is kept of it, or NULL for an object without an id, left out as the listing
 * would leave it), *next the page's pagination.@cursor_key. */
static int wire_pages_add(struct model_pages *p, const char *text, const char *key,
			  const char *cursor_key, struct json_object *(*keep)(struct json_object *),
			  size_t *count, char **next, char *msg, size_t msglen)
{
	struct json_object *page = NULL, *list, *pg;
	const char *cursor = NULL;
	size_t i, n = 0;
	int res;

	*count = 0;
	*next = NULL;
	res = wire_parse(text, &page, msg, msglen);
	if (!res)
		res = wire_member(page, key, &list, msg, msglen);
	if (!res && !json_object_is_type(list, json_type_array)) {
		util_msg(msg, msglen, "the API's answer has no \"%s\"", key);
		res = -EIO;
	}
	if (res)
		goto out;
	n = json_object_array_length(list);
	for (i = 0; i < n; i++) {
		struct json_object *in = json_object_array_get_idx(list, i), *o;

		o = keep ? keep(in) : json_object_get(in);
		if (!o) {
			/* Only an object with an id has something to keep. */
			if (json_object_is_type(in, json_type_object) && model_json_str(in, "id")) {
				res = -ENOMEM;
				goto out;
			}
			continue;
		}
		if (json_object_array_add(p->all, o) != 0) {
			json_object_put(o);
			res = -ENOMEM;
			goto out;
		}
	}
	if (json_object_object_get_ex(page, "pagination", &pg))
		cursor = model_json_str(pg, cursor_key);
	if (cursor && *cursor && !(*next = strdup(cursor)))
		res = -ENOMEM;
	*count = n;
out:
	if (res == -ENOMEM)
		util_msg(msg, msglen, "out of memory");
	json_object_put(page);
	return res;
}

int model_pages_add(struct model_pages *p, const char *text, const char *key, size_t *count,
		    char **next, char *msg, size_t msglen)
{
	return wire_pages_add(p, text, key, "next", NULL, count, next, msg, msglen);
}

/* The projects listing pages with "cursor", as the operations listing does. */
int model_project_pages_add(struct model_pages *p, const char *text, size_t *count,
			    char **cursor, char *msg, size_t msglen)
{
	return wire_pages_add(p, text, "projects", "cursor", model_project_brief, count, cursor,
			      msg, msglen);
}

struct model_list *model_pages_list(struct model_pages *p, enum model_kind kind)
{
	return model_list_from_json(kind, p->all);
}

void model_pages_free(struct model_pages *p)
{
	if (!p)
		return;
	json_object_put(p->all);
	free(p);
}

/* The answer's @key object, NULL when it has none with an id; -ENOMEM only. */
static int wire_object(struct json_object *answer, const char *key, struct neon_object **out)
{
	int res = model_object_from_answer(answer, key, out);

	return res == -EIO ? 0 : res;
}

int model_answer_parse(const char *text, struct model_answer **out, char *msg, size_t msglen)
{
	struct json_object *answer = NULL, *v;
	struct model_answer *a;
	int res;

	*out = NULL;
	res = wire_parse(text, &answer, msg, msglen);
	if (res)
		return res;
	a = calloc(1, sizeof(*a));
	if (!a) {
		res = -ENOMEM;
		goto out;
	}
	if (json_object_is_type(answer, json_type_object)) {
		res = wire_object(answer, "snapshot", &a->snapshot);
		if (!res)
			res = wire_object(answer, "branch", &a->branch);
		if (!res)
			res = wire_object(answer, "endpoint", &a->endpoint);
		if (!res)
			res = wire_object(answer, "project", &a->project);
		if (res)
			goto out;
		/* "endpoints": [ ... ] counts when it is not empty; anything else said, when it is
		 * there at all. */
		if (json_object_object_get_ex(answer, "endpoints", &v) && v)
			a->has_endpoints = !json_object_is_type(v, json_type_array) ||
					   json_object_array_length(v) > 0;
		a->has_operations = json_object_object_get_ex(answer, "operations", &v) &&
				    json_object_is_type(v, json_type_array);
		res = model_operations_from_answer(answer, &a->ops, &a->nops);
		if (res == -EIO)
			util_msg(msg, msglen, "the API's answer has an operation without an id, or "
				 "operations that are not a list");
		if (res)
			goto out;
	}
	*out = a;
	a = NULL;
out:
	if (res == -ENOMEM)
		util_msg(msg, msglen, "out of memory");
	model_answer_free(a);
	json_object_put(answer);
	return res;
}

void model_answer_free(struct model_answer *a)
{
	if (!a)
		return;
	model_object_put(a->snapshot);
	model_object_put(a->branch);
	model_object_put(a->endpoint);
	model_object_put(a->project);
	free(a->ops);
	free(a);
}

int model_operation_parse(const char *text, struct neon_operation *op, char *msg,
			  size_t msglen)
{
	struct json_object *answer = NULL, *o;
	int res;

	memset(op, 0, sizeof(*op));
	res = wire_parse(text, &answer, msg, msglen);
	if (!res)
		res = wire_member(answer, "operation", &o, msg, msglen);
	if (!res && (!json_object_is_type(o, json_type_object) ||
		     model_operation_from_json(o, op) != 0)) {
		util_msg(msg, msglen, "the API's operation has no id");
		res = -EIO;
	}
	json_object_put(answer);
	return res;
}

int model_named_parse(const char *text, const char *key, struct neon_named **out, size_t *n,
		      char *msg, size_t msglen)
{
	struct json_object *answer = NULL, *arr;
	size_t i, len;
	int res;

	*out = NULL;
	*n = 0;
	res = wire_parse(text, &answer, msg, msglen);
	if (!res)
		res = wire_member(answer, key, &arr, msg, msglen);
	if (res)
		goto out;
	len = json_object_is_type(arr, json_type_array) ? json_object_array_length(arr) : 0;
	*out = calloc(len ? len : 1, sizeof(**out));
	if (!*out) {
		util_msg(msg, msglen, "out of memory");
		res = -ENOMEM;
		goto out;
	}
	for (i = 0; i < len; i++) {
		struct json_object *o = json_object_array_get_idx(arr, i);
		const char *name = model_json_str(o, "name");

		/* A name that does not fit would be another database's; an empty one names
		 * no database a connection string could ask for. */
		if (!name || !*name || strlen(name) >= sizeof((*out)->name))
			continue;
		model_copy((*out)[*n].name, sizeof((*out)->name), o, "name");
		model_copy((*out)[*n].owner, sizeof((*out)->owner), o, "owner_name");
		(*n)++;
	}
out:
	json_object_put(answer);
	return res;
}

int model_uri_parse(const char *text, char **uri, char *msg, size_t msglen)
{
	struct json_object *answer = NULL, *v;
	int res;

	*uri = NULL;
	res = wire_parse(text, &answer, msg, msglen);
	if (!res)
		res = wire_member(answer, "uri", &v, msg, msglen);
	if (!res && !model_json_str(answer, "uri")) {
		util_msg(msg, msglen, "\"uri\" is not a string");
		res = -EIO;
	}
	if (!res && !(*uri = strdup(model_json_str(answer, "uri")))) {
		util_msg(msg, msglen, "out of memory");
		res = -ENOMEM;
	}
	json_object_put(answer);
	return res;
}

static void wire_copy_if(char *dst, size_t size, struct json_object *o, const char *key)
{
	const char *v = model_json_str(o, key);

	if (v)
		snprintf(dst, size, "%s", v);
}

void model_error_parse(const char *text, size_t len, char *code, size_t codelen,
		       char *message, size_t messagelen)
{
	struct json_object *o = NULL, *inner;
	enum json_tokener_error jerr;
	size_t i, n;

	if (codelen)
		code[0] = '\0';
	if (messagelen)
		message[0] = '\0';
	if (!text || !len || !codelen || !messagelen)
		return;
	o = json_tokener_parse_verbose(text, &jerr);
	if (o && json_object_is_type(o, json_type_object)) {
		wire_copy_if(code, codelen, o, "code");
		wire_copy_if(message, messagelen, o, "message");
		if (!message[0] && json_object_object_get_ex(o, "error", &inner) &&
		    json_object_is_type(inner, json_type_object)) {
			wire_copy_if(code, codelen, inner, "code");
			wire_copy_if(message, messagelen, inner, "message");
		}
	} else if (!o && len < 200 && !memchr(text, '<', len)) {
		/* Short plain text is worth showing; an HTML error page is not. */
		n = len < messagelen - 1 ? len : messagelen - 1;
		for (i = 0; i < n && text[i] != '\n' && text[i] != '\0'; i++)
			message[i] = text[i];
		message[i] = '\0';
	}
	json_object_put(o);
}
