/* model_notice: the text of a notice between mounts, written and read (notify.c has it
 * typed). Part of the model, the one module that reads and writes JSON. Version 1:
 *   {"v": 1, "mount": "<sender>", "project": "<id>", "event": "snapshot.created",
 *    "fields": {"id": ..., "name": ...}, "forget": ["snapshots", "records", ...],
 *    "what": "snapshot", "id": ..., "seen": true, "name": ..., "expires": <unix s>,
 *    "object": {<the object as Neon sent it>}, "attachments_of": ..., "pending": true} */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "model.h"
#include "model_json.h"

/* Compact, and "/" as it is: an object reads back as the text Neon's was kept in. */
#define NOTICE_TEXT (JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE)

/* Adds @v (taken) to @o; false when it could not. */
static bool notice_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return false;
	}
	return true;
}

/* A string member, left out when @s is NULL but for @null_ok (JSON null then). */
static bool notice_add_str(struct json_object *o, const char *key, const char *s, bool null_ok)
{
	struct json_object *v;

	if (!s)
		return null_ok ? notice_add(o, key, NULL) : true;
	v = json_object_new_string(s);
	return v && notice_add(o, key, v);
}

static struct json_object *notice_build(const struct model_notice *n)
{
	struct json_object *o = json_object_new_object(), *fields = json_object_new_object();
	struct json_object *stale = json_object_new_array(), *obj;
	bool ok = o && fields && stale;
	size_t i;

	for (i = 0; ok && i + 1 < MODEL_NOTICE_FIELDS && n->fields[i]; i += 2)
		ok = notice_add_str(fields, n->fields[i], n->fields[i + 1], false);
	for (i = 0; ok && i < MODEL_NOTICE_STALE && n->stale[i]; i++) {
		struct json_object *v = json_object_new_string(n->stale[i]);

		ok = v && json_object_array_add(stale, v) == 0;
		if (!ok)
			json_object_put(v);
	}
	ok = ok && notice_add(o, "v", json_object_new_int(n->version)) &&
	     notice_add_str(o, "mount", n->mount, false) &&
	     notice_add_str(o, "project", n->project, false) &&
	     notice_add_str(o, "event", n->event, false);
	if (ok) {
		ok = notice_add(o, "fields", fields) && notice_add(o, "forget", stale);
		fields = stale = NULL;
	}
	if (ok && (n->kind == MODEL_SNAPSHOTS || n->kind == MODEL_BRANCHES))
		ok = notice_add_str(o, "what", n->kind == MODEL_BRANCHES ? "branch" : "snapshot",
				    false);
	ok = ok && notice_add_str(o, "id", n->id, false);
	if (ok && n->seen)
		ok = notice_add(o, "seen", json_object_new_boolean(1)) &&
		     notice_add_str(o, "name", n->name, true);
	if (ok && n->has_expiry)
		ok = notice_add(o, "expires", json_object_new_int64((int64_t)n->expires));
	ok = ok && notice_add_str(o, "attachments_of", n->attachments_of, false);
	if (ok && n->pending)
		ok = notice_add(o, "pending", json_object_new_boolean(1));
	if (ok && n->object) {
		obj = json_tokener_parse(n->object);
		if (json_object_is_type(obj, json_type_object))
			ok = notice_add(o, "object", obj);
		else
			json_object_put(obj);
	}
	json_object_put(fields);
	json_object_put(stale);
	if (!ok) {
		json_object_put(o);
		return NULL;
	}
	return o;
}

char *model_notice_write(const struct model_notice *n, size_t max, size_t *len)
{
	struct json_object *o = notice_build(n);
	const char *text;
	char *out = NULL;

	*len = 0;
	if (!o)
		return NULL;
	text = json_object_to_json_string_ext(o, NOTICE_TEXT);
	if (text && strlen(text) >= max) {
		json_object_object_del(o, "object");
		text = json_object_to_json_string_ext(o, NOTICE_TEXT);
	}
	if (text && strlen(text) >= max)
		*len = strlen(text);
	else if (text)
		out = strdup(text);
	json_object_put(o);
	return out;
}

struct model_notice *model_notice_parse(const char *text)
{
	struct json_object *o = text ? json_tokener_parse(text) : NULL, *v;
	struct model_notice *n = NULL;
	const char *what;
	size_t i = 0;

	if (!json_object_is_type(o, json_type_object) || !model_json_str(o, "mount") ||
	    !model_json_str(o, "project"))
		goto fail;
	n = calloc(1, sizeof(*n));
	if (!n)
		goto fail;
	n->held = o;
	n->version = (int)model_json_int(o, "v", 0);
	n->mount = model_json_str(o, "mount");
	n->project = model_json_str(o, "project");
	n->event = model_json_str(o, "event");
	if (json_object_object_get_ex(o, "fields", &v) && json_object_is_type(v, json_type_object)) {
		json_object_object_foreach(v, key, val) {
			const char *s = model_json_str(v, key);

			(void)val;
			if (i + 1 >= MODEL_NOTICE_FIELDS)
				break;
			if (!s || strlen(key) == 0)
				continue;
			n->fields[i++] = key;
			n->fields[i++] = s;
		}
	}
	if (json_object_object_get_ex(o, "forget", &v) && json_object_is_type(v, json_type_array)) {
		size_t j, len = json_object_array_length(v);

		for (i = 0, j = 0; j < len && i < MODEL_NOTICE_STALE; j++) {
			struct json_object *s = json_object_array_get_idx(v, j);

			if (json_object_is_type(s, json_type_string))
				n->stale[i++] = json_object_get_string(s);
		}
	}
	what = model_json_str(o, "what");
	if (what && strcmp(what, "snapshot") == 0)
		n->kind = MODEL_SNAPSHOTS;
	else if (what && strcmp(what, "branch") == 0)
		n->kind = MODEL_BRANCHES;
	n->id = model_json_str(o, "id");
	n->seen = model_json_bool(o, "seen");
	n->name = model_json_str(o, "name");
	if (json_object_object_get_ex(o, "expires", &v) && json_object_is_type(v, json_type_int)) {
		n->has_expiry = true;
		n->expires = (time_t)json_object_get_int64(v);
	}
	n->attachments_of = model_json_str(o, "attachments_of");
	n->pending = model_json_bool(o, "pending");
	if (json_object_object_get_ex(o, "object", &v) && json_object_is_type(v, json_type_object))
		n->object = json_object_to_json_string_ext(v, NOTICE_TEXT);
	return n;
fail:
	json_object_put(o);
	return NULL;
}

void model_notice_free(struct model_notice *n)
{
	if (!n)
		return;
	json_object_put(n->held);
	free(n);
}
