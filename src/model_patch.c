/* model_patch: a listing with one object put in, renamed or taken out. Another mount told
 * of its change (notify.c) with the object as Neon sent it, so the cached listing is
 * patched instead of fetched again: no API call. Part of the model module, the one that
 * reads Neon's JSON. */
#include "config.h"

#include <string.h>
#include <json-c/json.h>

#include "model.h"
#include "model_json.h"

/* The JSON text of object @i of @l, as Neon sent it; NULL for endpoints, which keep none. */
static const char *model_patch_json_at(const struct model_list *l, size_t i)
{
	const struct neon_snapshot *s = model_snapshot_at(l, i);
	const struct neon_branch *b = s ? NULL : model_branch_at(l, i);

	return s ? s->json : b ? b->json : NULL;
}

static const char *model_patch_id_at(const struct model_list *l, size_t i)
{
	const struct neon_snapshot *s = model_snapshot_at(l, i);
	const struct neon_branch *b = s ? NULL : model_branch_at(l, i);

	return s ? s->id : b ? b->id : NULL;
}

struct model_list *model_list_patch(const struct model_list *l, const char *id,
				    const char *json, const char *name)
{
	enum model_kind kind = model_list_kind(l);
	struct json_object *arr = NULL, *put = NULL;
	struct model_list *out = NULL;
	size_t i, n = model_count(l);
	bool found = false;

	if ((kind != MODEL_SNAPSHOTS && kind != MODEL_BRANCHES) || !id)
		return NULL;
	if (json) {
		const char *put_id;

		put = json_tokener_parse(json);
		put_id = model_json_str(put, "id");
		/* Only the object it claims to be: a patch never adds another. */
		if (!put_id || strcmp(put_id, id) != 0)
			goto out;
	}
	arr = json_object_new_array();
	if (!arr)
		goto out;
	for (i = 0; i < n; i++) {
		const char *text = model_patch_json_at(l, i);
		struct json_object *o;

		if (strcmp(model_patch_id_at(l, i), id) == 0) {
			found = true;
			if (put) {
				o = put;
				put = NULL;
			} else if (name) {
				o = json_tokener_parse(text);
				if (!o || json_object_object_add(o, "name",
								 json_object_new_string(name))) {
					json_object_put(o);
					goto out;
				}
			} else {
				continue;
			}
		} else {
			o = json_tokener_parse(text);
		}
		if (!o || json_object_array_add(arr, o)) {
			json_object_put(o);
			goto out;
		}
	}
	if (!found && !put)
		goto out;    /* renamed or gone, but this listing never had it: fetch afresh */
	if (put) {
		if (json_object_array_add(arr, put))
			goto out;
		put = NULL;
	}
	out = model_list_from_json(kind, arr);
out:
	json_object_put(put);
	json_object_put(arr);
	return out;
}
