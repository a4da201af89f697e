/* model_json: the model's entry points that take json-c objects. Part of the model module:
 * only src/model*.c and the tests that build inputs by hand include it
 * (tests/check-json-confined fails when anything else does). Everything else hands the
 * model text (model.h). */
#ifndef NEONFS_MODEL_JSON_H
#define NEONFS_MODEL_JSON_H

#include <stdbool.h>

#include "model.h"

struct json_object;

/* Builds a listing from an array of Snapshot, Branch or Endpoint objects (borrowed).
 * NULL only when out of memory; a non-array gives an empty listing. */
struct model_list *model_list_from_json(enum model_kind kind, struct json_object *arr);

/* @key: "snapshot", "branch" or "endpoint". *out is a new object (model_object_put), or
 * -EIO when the answer lacks the object or it has no id. */
int model_object_from_answer(struct json_object *answer, const char *key,
			     struct neon_object **out);

/* The answer's "operations" array (may be absent: *n = 0); -EIO when it is not an array
 * or one of them has no id. *ops is malloc'd. */
int model_operations_from_answer(struct json_object *answer, struct neon_operation **ops,
				 size_t *n);
/* One Operation object; -EIO without a string id that fits. */
int model_operation_from_json(struct json_object *obj, struct neon_operation *op);

/* The checked getters: a missing or mistyped field reads the same everywhere. @o may be
 * NULL or not an object: that reads as missing. */
/* The string at @key; NULL when missing, not a string, or holding a NUL (which C would
 * read as a shorter, different string). */
const char *model_json_str(struct json_object *o, const char *key);
/* @key read as json-c reads a boolean (non-zero numbers and non-empty strings are true);
 * false when missing. */
bool model_json_bool(struct json_object *o, const char *key);
/* @key as an integer (json-c's reading of a number or a numeric string); @dflt when missing. */
long long model_json_int(struct json_object *o, const char *key, long long dflt);

#endif
