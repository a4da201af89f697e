/* model_project: what a listing of an organization's projects keeps of each Project
 * object, so that thousands are read page by page without holding every field of each. */
#include "config.h"

#include <json-c/json.h>

#include "model.h"
#include "model_json.h"

struct json_object *model_project_brief(struct json_object *o)
{
	static const char *const keep[] = { "id", "name", "created_at" };
	struct json_object *b;
	size_t i;

	if (!json_object_is_type(o, json_type_object) || !model_json_str(o, "id"))
		return NULL;
	b = json_object_new_object();
	for (i = 0; b && i < sizeof(keep) / sizeof(keep[0]); i++) {
		const char *v = model_json_str(o, keep[i]);

		if (v && json_object_object_add(b, keep[i], json_object_new_string(v)) != 0) {
			json_object_put(b);
			b = NULL;
		}
	}
	return b;
}
