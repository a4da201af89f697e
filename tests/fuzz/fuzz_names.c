/* Fuzzes names: each line of the input is a name (or "name<TAB>id"), checked alone, then
 * made into a listing of snapshots and of branches, where the entry rule of model.h must
 * hold: every entry can stand in a directory, names one object only, and is the object's
 * name exactly when that name is a valid entry, held by no other object and no other id. */
#include "config.h"

#include <json.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "model.h"
#include "model_json.h"
#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_names: %s\n", #c); abort(); } } while (0)

#define MAX_OBJECTS 64

struct obj {
	const char *name, *id;
	char own_id[32];	/* the id when the line gives none */
};

static void one_name(const char *name)
{
	const char *e = names_entry(name, "snap-x");

	if (names_valid_remote(name))
		MUST(strlen(name) >= 1 && strlen(name) <= NAMES_MAX);
	if (names_valid_entry(name))
		MUST(e == name && strchr(name, '/') == NULL && strlen(name) <= 255);
	else
		MUST(strcmp(e, "snap-x") == 0);
}

/* The objects the listing shows: in input order, the first of each id that can name it. */
static size_t shown_objects(const struct obj *o, size_t n, const struct obj **shown)
{
	size_t i, j, k = 0;

	for (i = 0; i < n; i++) {
		bool seen = false;

		if (!names_valid_entry(o[i].id))
			continue;
		for (j = 0; j < k && !seen; j++)
			seen = strcmp(shown[j]->id, o[i].id) == 0;
		if (!seen)
			shown[k++] = &o[i];
	}
	return k;
}

/* The entry rule of model.h, said over the shown objects. */
static const char *expected_entry(const struct obj **shown, size_t k, size_t i)
{
	const char *name = shown[i]->name;
	size_t j, holders = 0;

	if (!names_valid_entry(name))
		return shown[i]->id;
	for (j = 0; j < k; j++) {
		if (strcmp(shown[j]->name, name) == 0)
			holders++;
		if (j != i && strcmp(shown[j]->id, name) == 0)
			return shown[i]->id;
	}
	return holders == 1 ? name : shown[i]->id;
}

static void check_listing(enum model_kind kind, struct json_object *arr, const struct obj *o,
			  size_t n)
{
	struct model_list *l = model_list_from_json(kind, arr);
	const struct obj *shown[MAX_OBJECTS];
	size_t i, j, k = shown_objects(o, n, shown);

	if (!l)
		return;
	MUST(model_count(l) == k);
	for (i = 0; i < k; i++) {
		const char *id, *name, *entry;

		if (kind == MODEL_SNAPSHOTS) {
			const struct neon_snapshot *s = model_snapshot_at(l, i);

			id = s->id, name = s->name, entry = s->entry;
			MUST(model_snapshot_by_entry(l, entry) == s);
			MUST(model_snapshot_by_id(l, id) == s);
		} else {
			const struct neon_branch *b = model_branch_at(l, i);

			id = b->id, name = b->name, entry = b->entry;
			MUST(model_branch_by_entry(l, entry) == b);
			MUST(model_branch_by_id(l, id) == b);
		}
		MUST(strcmp(id, shown[i]->id) == 0 && strcmp(name, shown[i]->name) == 0);
		MUST(names_valid_entry(entry));
		MUST(strcmp(entry, expected_entry(shown, k, i)) == 0);
		MUST(model_name_taken(l, entry) && model_name_taken(l, id) &&
		     model_name_taken(l, name));
		for (j = 0; j < i; j++) {
			const char *other = kind == MODEL_SNAPSHOTS ? model_snapshot_at(l, j)->entry :
				model_branch_at(l, j)->entry;

			MUST(strcmp(other, entry) != 0);
		}
	}
	model_list_put(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct obj objs[MAX_OBJECTS];
	struct json_object *arr;
	char *text, *line, *next;
	size_t n = 0, i;

	log_init(LOG_LEVEL_ERR, 0);
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	arr = json_object_new_array();
	for (line = text; line && n < MAX_OBJECTS; line = next) {
		struct json_object *o;
		char *tab;

		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		one_name(line);
		tab = strchr(line, '\t');
		if (tab) {
			*tab = '\0';
			objs[n].id = tab + 1;
		} else {
			snprintf(objs[n].own_id, sizeof(objs[n].own_id), "snap-%zu", n);
			objs[n].id = objs[n].own_id;
		}
		objs[n].name = line;
		o = json_object_new_object();
		json_object_object_add(o, "id", json_object_new_string(objs[n].id));
		json_object_object_add(o, "name", json_object_new_string(objs[n].name));
		json_object_object_add(o, "created_at",
				       json_object_new_string("2026-01-01T00:00:00Z"));
		json_object_array_add(arr, o);
		n++;
	}
	check_listing(MODEL_SNAPSHOTS, arr, objs, n);
	check_listing(MODEL_BRANCHES, arr, objs, n);
	for (i = 0; i < n; i++)
		(void)names_valid_remote(objs[i].id);
	json_object_put(arr);
	free(text);
	return 0;
}
