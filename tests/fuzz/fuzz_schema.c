/* Fuzzes the schema text's ordering: catalog rows given as text, rendered as schema_dump
 * would render them. A line is one row, its fields split by '|', "\N" a NULL; it starts
 * with U (a unit: classid|objid|phase|schema|name|sub|subname|ddl|deps), P (a part:
 * classid|objid|owner classid|owner objid) or E (an edge, as a part). Every unit must be
 * written exactly once, and when keys and OIDs are all distinct, the order of the rows must
 * not change a byte (the text is made of names, not of the order the catalogs gave). */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "schema.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_schema: %s\n", #c); abort(); } } while (0)

#define MAX_ROWS 64
#define UNIT_FIELDS 9
#define LINK_FIELDS 4

struct table {
	const char *cells[MAX_ROWS * UNIT_FIELDS];
	int nrows, nfields;
};

static void add_row(struct table *t, char *line)
{
	const char **row;
	int f;

	if (t->nrows == MAX_ROWS)
		return;
	row = &t->cells[t->nrows * t->nfields];
	for (f = 0; f < t->nfields; f++) {
		char *bar = line ? strchr(line, '|') : NULL;

		if (bar)
			*bar = '\0';
		row[f] = !line ? "" : strcmp(line, "\\N") == 0 ? NULL : line;
		line = bar ? bar + 1 : NULL;
	}
	t->nrows++;
}

static const char *cell(const struct table *t, int row, int col)
{
	const char *v = t->cells[row * t->nfields + col];

	return v ? v : "";
}

static int render(const struct table *units, const struct table *parts,
		  const struct table *edges, char **text)
{
	struct schema_rows u = { units->cells, units->nrows, units->nfields };
	struct schema_rows p = { parts->cells, parts->nrows, parts->nfields };
	struct schema_rows e = { edges->cells, edges->nrows, edges->nfields };

	return schema_render_rows(&u, 1, &p, &e, text);
}

/* Two rows alike in the columns that identify them. */
static bool same(const struct table *t, int a, int b, const int *cols, int ncols)
{
	int i;

	for (i = 0; i < ncols; i++)
		if (strtoul(cell(t, a, cols[i]), NULL, 10) != strtoul(cell(t, b, cols[i]), NULL, 10))
			return false;
	return true;
}

static bool same_key(const struct table *t, int a, int b)
{
	int i;

	if (atoi(cell(t, a, 2)) != atoi(cell(t, b, 2)) || atoi(cell(t, a, 5)) != atoi(cell(t, b, 5)))
		return false;
	for (i = 3; i <= 7; i++)
		if (i != 5 && strcmp(cell(t, a, i), cell(t, b, i)) != 0)
			return false;
	return true;
}

static bool distinct(const struct table *units, const struct table *parts)
{
	static const int ids[] = { 0, 1 };
	int a, b;

	for (a = 0; a < units->nrows; a++)
		for (b = 0; b < a; b++)
			if (same_key(units, a, b) || same(units, a, b, ids, 2))
				return false;
	for (a = 0; a < parts->nrows; a++)
		for (b = 0; b < a; b++)
			if (same(parts, a, b, ids, 2))
				return false;
	/* A part of a part of a part...: resolved in a bounded number of passes, so a long
	 * chain may resolve in one order of rows and not in another. */
	return parts->nrows <= 4;
}

static void reverse(struct table *t)
{
	int a, b, f;

	for (a = 0, b = t->nrows - 1; a < b; a++, b--)
		for (f = 0; f < t->nfields; f++) {
			const char *x = t->cells[a * t->nfields + f];

			t->cells[a * t->nfields + f] = t->cells[b * t->nfields + f];
			t->cells[b * t->nfields + f] = x;
		}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct table units, parts, edges;
	char *text, *line, *next, *out = NULL, *again = NULL;
	size_t expect;
	int i;

	units = (struct table){ .nfields = UNIT_FIELDS };
	parts = (struct table){ .nfields = LINK_FIELDS };
	edges = (struct table){ .nfields = LINK_FIELDS };
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	for (line = text; line; line = next) {
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (line[0] == 'U')
			add_row(&units, line + 1);
		else if (line[0] == 'P')
			add_row(&parts, line + 1);
		else if (line[0] == 'E')
			add_row(&edges, line + 1);
	}

	if (render(&units, &parts, &edges, &out) == 0) {
		char *p;

		/* The header, then each unit's DDL between newlines, once. */
		p = strstr(out, "SET check_function_bodies = false;\n");
		MUST(p != NULL);
		expect = (size_t)(p - out) + strlen("SET check_function_bodies = false;\n");
		for (i = 0; i < units.nrows; i++)
			expect += strlen(cell(&units, i, 7)) + 2;
		MUST(strlen(out) == expect);
		if (distinct(&units, &parts)) {
			reverse(&units);
			reverse(&parts);
			reverse(&edges);
			MUST(render(&units, &parts, &edges, &again) == 0);
			MUST(strcmp(out, again) == 0);
			free(again);
		}
		free(out);
	}
	free(text);
	return 0;
}
