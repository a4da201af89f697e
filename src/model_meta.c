/* model_meta: what meta.json shows, written from the model's objects. Part of the model:
 * like model.c it is where Neon's JSON is read (each object's own text, kept in the
 * listing) and written. */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <json-c/json.h>

#include "model.h"

static char *model_pretty(struct json_object *o)
{
	const char *s = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PRETTY |
						       JSON_C_TO_STRING_SPACED | JSON_C_TO_STRING_NOSLASHESCAPE);
	char *out = NULL;

	if (s && asprintf(&out, "%s\n", s) < 0)
		out = NULL;
	return out;
}

/* NULL stays JSON null, as a missing record field always showed. */
static struct json_object *model_jstr(const char *s)
{
	return s ? json_object_new_string(s) : NULL;
}

/* The object as Neon sent it, to add our fields to. */
static struct json_object *model_reparse(const char *json)
{
	struct json_object *o = json_tokener_parse(json);

	if (o && !json_object_is_type(o, json_type_object)) {
		json_object_put(o);
		o = json_object_new_object();
	}
	return o;
}

char *model_snapshot_meta(const struct neon_snapshot *s, const struct model_checkpoint *cp)
{
	struct json_object *o = model_reparse(s->json), *rec = NULL;
	char *text;
	size_t i;

	if (!o)
		return NULL;
	if (cp) {
		rec = json_object_new_object();
		if (!rec)
			goto nomem;
		json_object_object_add(rec, "name", model_jstr(cp->name));
		json_object_object_add(rec, "created_at", model_jstr(cp->created_at));
		json_object_object_add(rec, "lsn", model_jstr(cp->lsn));
		json_object_object_add(rec, "has_schema", json_object_new_boolean(cp->has_schema));
		if (cp->attachments) {
			struct json_object *arr = json_object_new_array();

			if (!arr)
				goto nomem;
			json_object_object_add(rec, "attachments", arr);
			for (i = 0; i < cp->nattachments; i++) {
				struct json_object *line = json_object_new_object();

				if (!line)
					goto nomem;
				json_object_array_add(arr, line);
				json_object_object_add(line, "name", model_jstr(cp->attachments[i].name));
				json_object_object_add(line, "size",
						       json_object_new_int64(cp->attachments[i].size));
			}
		}
	}
	json_object_object_add(o, "checkpoint", rec);
	text = model_pretty(o);
	json_object_put(o);
	return text;

nomem:
	json_object_put(rec);
	json_object_put(o);
	return NULL;
}

char *model_branch_meta(const struct neon_branch *b, const struct model_live *live)
{
	struct json_object *o = model_reparse(b->json), *facts = NULL;
	char *text;

	if (!o)
		return NULL;
	if (live) {
		facts = json_object_new_object();
		if (!facts) {
			json_object_put(o);
			return NULL;
		}
		if (live->error) {
			json_object_object_add(facts, "error", json_object_new_string(live->error));
		} else {
			json_object_object_add(facts, "server_version", model_jstr(live->server_version));
			json_object_object_add(facts, "database", model_jstr(live->database));
			json_object_object_add(facts, "database_size",
					       json_object_new_int64(live->database_size));
			json_object_object_add(facts, "current_lsn", model_jstr(live->current_lsn));
			json_object_object_add(facts, "table_count",
					       json_object_new_int64(live->table_count));
		}
	}
	json_object_object_add(o, "live", facts);
	text = model_pretty(o);
	json_object_put(o);
	return text;
}

/* A count, or null when it is not known. */
static struct json_object *model_jcount(long long v)
{
	return v >= 0 ? json_object_new_int64(v) : NULL;
}

char *model_limits_json(const struct model_limit *l, size_t n)
{
	struct json_object *o = json_object_new_object();
	char *text;
	size_t i, j;

	if (!o)
		return NULL;
	for (i = 0; i < n; i++) {
		struct json_object *e = json_object_new_object(), *del = json_object_new_array();
		bool known = l[i].used >= 0 && l[i].limit >= 0;

		if (!e || !del) {
			json_object_put(e);
			json_object_put(del);
			goto nomem;
		}
		json_object_object_add(o, l[i].name, e);
		json_object_object_add(e, "used", model_jcount(l[i].used));
		json_object_object_add(e, "used_from", model_jstr(l[i].used >= 0 ? "api" : NULL));
		json_object_object_add(e, "limit", model_jcount(l[i].limit));
		json_object_object_add(e, "limit_from", model_jstr(l[i].limit >= 0 &&
								    l[i].limit_from[0] ?
								    l[i].limit_from : NULL));
		json_object_object_add(e, "left", model_jcount(!known ? -1 :
							       l[i].used >= l[i].limit ? 0 :
							       l[i].limit - l[i].used));
		json_object_object_add(e, "reached",
				       json_object_new_boolean(known && l[i].used >= l[i].limit));
		json_object_object_add(e, "delete", del);
		for (j = 0; j < l[i].nremove; j++)
			json_object_array_add(del, json_object_new_string(l[i].remove[j]));
	}
	text = model_pretty(o);
	json_object_put(o);
	return text;

nomem:
	json_object_put(o);
	return NULL;
}
