/* schema: one database's schema as deterministic, replayable SQL text.
 *
 * Every object becomes one "unit" of DDL, read from the catalogs in one REPEATABLE READ
 * snapshot. Units are ordered by a key made only of names (phase, schema, name, sub-kind,
 * sub-name), never of OIDs, and then topologically by their pg_depend edges, always taking
 * the smallest ready key. Same names and same dependencies give the same bytes, whatever
 * order the objects were created in, and the text replays in order.
 *
 * Most of the rendering happens in SQL (format('%I'), pg_get_*def), with search_path empty
 * so every user object comes out schema-qualified the same way. */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"
#include "schema.h"
#include "schema_internal.h"
#include "util.h"

struct schema_unit {
	unsigned classid, objid;
	int phase, sub;
	const char *nsp, *name, *subname, *text, *deps;	/* point into a kept PGresult */
	size_t ndeps;		/* units this one waits for, not yet written */
	size_t after;		/* its waiters: pairs[after .. after + nafter) */
	size_t nafter;
	bool done;
};

/* @from must come after @to. */
struct schema_pair {
	size_t to, from;
};

struct schema_map_entry {
	unsigned classid, objid;
	size_t unit;
	bool used;
};

struct schema_map {
	struct schema_map_entry *slots;
	size_t cap;		/* power of two */
};

struct schema_buf {
	char *data;
	size_t len, cap;
};

struct schema_dump_state {
	PGresult **results;
	size_t nresults;
	struct schema_unit *units;
	size_t nunits, capunits;
	struct schema_pair *pairs;
	size_t npairs, cappairs;
	struct schema_map map;
};

static int schema_buf_add(struct schema_buf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *p;

		while (b->len + n + 1 > cap)
			cap *= 2;
		p = realloc(b->data, cap);
		if (!p)
			return -ENOMEM;
		b->data = p;
		b->cap = cap;
	}
	memcpy(b->data + b->len, s, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int schema_buf_str(struct schema_buf *b, const char *s)
{
	return schema_buf_add(b, s, strlen(s));
}

static size_t schema_hash(unsigned classid, unsigned objid)
{
	uint64_t h = ((uint64_t)classid << 32) | objid;

	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return (size_t)h;
}

static int schema_map_init(struct schema_map *m, size_t n)
{
	size_t cap = 64;

	while (cap < n * 2)
		cap *= 2;
	m->slots = calloc(cap, sizeof(*m->slots));
	if (!m->slots)
		return -ENOMEM;
	m->cap = cap;
	return 0;
}

static struct schema_map_entry *schema_map_slot(struct schema_map *m, unsigned classid,
						unsigned objid)
{
	size_t i = schema_hash(classid, objid) & (m->cap - 1);

	while (m->slots[i].used &&
	       (m->slots[i].classid != classid || m->slots[i].objid != objid))
		i = (i + 1) & (m->cap - 1);
	return &m->slots[i];
}

static bool schema_map_get(struct schema_map *m, unsigned classid, unsigned objid,
			   size_t *unit)
{
	struct schema_map_entry *e = schema_map_slot(m, classid, objid);

	if (!e->used)
		return false;
	*unit = e->unit;
	return true;
}

/* The map is sized for every row up front, so it never fills. */
static void schema_map_put(struct schema_map *m, unsigned classid, unsigned objid, size_t unit)
{
	struct schema_map_entry *e = schema_map_slot(m, classid, objid);

	if (e->used)
		return;		/* first owner wins; rows are stable so this is stable */
	e->used = true;
	e->classid = classid;
	e->objid = objid;
	e->unit = unit;
}

/* Catalog rows as read through libpq, or as given by a test (schema_render_rows). */
struct schema_src {
	const PGresult *res;
	const struct schema_rows *rows;
};

static int schema_nrows(const struct schema_src *src)
{
	return src->res ? PQntuples(src->res) : src->rows->nrows;
}

static int schema_nfields(const struct schema_src *src)
{
	return src->res ? PQnfields(src->res) : src->rows->nfields;
}

static bool schema_isnull(const struct schema_src *src, int row, int col)
{
	if (src->res)
		return PQgetisnull(src->res, row, col);
	return src->rows->cells[(size_t)row * (size_t)src->rows->nfields + (size_t)col] == NULL;
}

/* As PQgetvalue: "" for a NULL. */
static const char *schema_value(const struct schema_src *src, int row, int col)
{
	const char *v;

	if (src->res)
		return PQgetvalue(src->res, row, col);
	v = src->rows->cells[(size_t)row * (size_t)src->rows->nfields + (size_t)col];
	return v ? v : "";
}

static unsigned schema_oid(const struct schema_src *src, int row, int col)
{
	return (unsigned)strtoul(schema_value(src, row, col), NULL, 10);
}

static int schema_keep(struct schema_dump_state *st, PGresult *res)
{
	PGresult **r = realloc(st->results, (st->nresults + 1) * sizeof(*r));

	if (!r) {
		PQclear(res);
		return -ENOMEM;
	}
	st->results = r;
	st->results[st->nresults++] = res;
	return 0;
}

/* BEGIN, the settings, the unit queries, parts, edges, COMMIT. */
#define SCHEMA_NBATCH 20
_Static_assert(SCHEMA_NBATCH == SCHEMA_NUNIT_QUERIES + 5, "a name for every statement");

/* Set on a pooled connection once the dump's statements are prepared on it. */
#define SCHEMA_MARK_PREPARED 1u

/* After a failed run which of the statements exist is unknown: drop them all, so the next
 * run prepares them afresh (a PREPARE of a name that exists fails). A connection left
 * mid-pipeline (a timeout) is closed by pg_release instead. */
static void schema_unprepare(PGconn *conn)
{
	PGresult *res;

	pg_unmark(conn, SCHEMA_MARK_PREPARED);
	if (PQstatus(conn) != CONNECTION_OK || PQpipelineStatus(conn) != PQ_PIPELINE_OFF)
		return;
	if (PQtransactionStatus(conn) != PQTRANS_IDLE &&
	    pg_exec(conn, "ROLLBACK", 0, NULL, &res, NULL, 0) == 0)
		PQclear(res);
	if (PQtransactionStatus(conn) == PQTRANS_IDLE &&
	    pg_exec(conn, "DEALLOCATE ALL", 0, NULL, &res, NULL, 0) == 0)
		PQclear(res);
}

/* Every statement of a dump in one pipeline, so the whole read is one round trip to the
 * compute (a client far from Neon's region pays its latency once, not per catalog), and
 * prepared, so a connection plans the catalog queries once, not at every snapshot. */
static void schema_batch(const char **names, const char **sqls)
{
	static const char *const prepared[SCHEMA_NBATCH] = {
		NULL, "neonfs_schema_settings",
		"neonfs_schema_u0", "neonfs_schema_u1", "neonfs_schema_u2", "neonfs_schema_u3",
		"neonfs_schema_u4", "neonfs_schema_u5", "neonfs_schema_u6", "neonfs_schema_u7",
		"neonfs_schema_u8", "neonfs_schema_u9", "neonfs_schema_u10", "neonfs_schema_u11",
		"neonfs_schema_u12", "neonfs_schema_u13", "neonfs_schema_u14",
		"neonfs_schema_parts", "neonfs_schema_edges", NULL,
	};
	size_t i, n = 0;

	sqls[n++] = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";
	sqls[n++] = schema_q_settings;
	for (i = 0; i < SCHEMA_NUNIT_QUERIES; i++)
		sqls[n++] = schema_unit_queries[i];
	sqls[n++] = schema_q_parts;
	sqls[n++] = schema_q_edges;
	sqls[n++] = "COMMIT";
	for (i = 0; i < n; i++)
		names[i] = prepared[i];
}

static int schema_add_units(struct schema_dump_state *st, const struct schema_src *res)
{
	int rows = schema_nrows(res), i;

	if (schema_nfields(res) != 9)
		return -EPROTO;
	for (i = 0; i < rows; i++) {
		struct schema_unit *u;

		if (st->nunits == st->capunits) {
			size_t cap = st->capunits ? st->capunits * 2 : 256;
			struct schema_unit *p = realloc(st->units, cap * sizeof(*p));

			if (!p)
				return -ENOMEM;
			st->units = p;
			st->capunits = cap;
		}
		u = &st->units[st->nunits++];
		memset(u, 0, sizeof(*u));
		u->classid = schema_oid(res, i, 0);
		u->objid = schema_oid(res, i, 1);
		u->phase = atoi(schema_value(res, i, 2));
		u->nsp = schema_value(res, i, 3);
		u->name = schema_value(res, i, 4);
		u->sub = atoi(schema_value(res, i, 5));
		u->subname = schema_value(res, i, 6);
		u->text = schema_value(res, i, 7);
		u->deps = schema_isnull(res, i, 8) ? NULL : schema_value(res, i, 8);
	}
	return 0;
}

/* The order of the text: names only, bytewise, so no locale or OID can change it. */
static int schema_unit_cmp(const void *pa, const void *pb)
{
	const struct schema_unit *a = pa, *b = pb;
	int c;

	if (a->phase != b->phase)
		return a->phase < b->phase ? -1 : 1;
	if ((c = strcmp(a->nsp, b->nsp)) != 0)
		return c;
	if ((c = strcmp(a->name, b->name)) != 0)
		return c;
	if (a->sub != b->sub)
		return a->sub < b->sub ? -1 : 1;
	if ((c = strcmp(a->subname, b->subname)) != 0)
		return c;
	return strcmp(a->text, b->text);
}

static int schema_edge(struct schema_dump_state *st, size_t from, size_t to)
{
	if (from == to)
		return 0;
	if (st->npairs == st->cappairs) {
		size_t cap = st->cappairs ? st->cappairs * 2 : 1024;
		struct schema_pair *p = realloc(st->pairs, cap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		st->pairs = p;
		st->cappairs = cap;
	}
	st->pairs[st->npairs].to = to;
	st->pairs[st->npairs].from = from;
	st->npairs++;
	return 0;
}

static int schema_pair_cmp(const void *pa, const void *pb)
{
	const struct schema_pair *a = pa, *b = pb;

	if (a->to != b->to)
		return a->to < b->to ? -1 : 1;
	if (a->from != b->from)
		return a->from < b->from ? -1 : 1;
	return 0;
}

/* Sorts and dedupes the edges; each unit's waiters become one slice of the array. */
static void schema_link(struct schema_dump_state *st)
{
	size_t i, n = 0;

	if (st->npairs)
		qsort(st->pairs, st->npairs, sizeof(st->pairs[0]), schema_pair_cmp);
	for (i = 0; i < st->npairs; i++)
		if (n == 0 || schema_pair_cmp(&st->pairs[n - 1], &st->pairs[i]) != 0)
			st->pairs[n++] = st->pairs[i];
	st->npairs = n;
	for (i = 0; i < n; i++) {
		struct schema_unit *u = &st->units[st->pairs[i].to];

		if (u->nafter == 0)
			u->after = i;
		u->nafter++;
		st->units[st->pairs[i].from].ndeps++;
	}
}

/* Maps every part (array type, row type, default, rule, constraint index, ...) to the unit
 * it belongs to. Parts of parts resolve over a few passes. */
static int schema_map_parts(struct schema_dump_state *st, const struct schema_src *parts)
{
	int rows = schema_nrows(parts), pass, i;

	for (pass = 0; pass < 4; pass++) {
		bool more = false;

		for (i = 0; i < rows; i++) {
			unsigned classid = schema_oid(parts, i, 0), objid = schema_oid(parts, i, 1);
			size_t unit;

			if (schema_map_get(&st->map, classid, objid, &unit))
				continue;
			if (schema_map_get(&st->map, schema_oid(parts, i, 2),
					   schema_oid(parts, i, 3), &unit)) {
				schema_map_put(&st->map, classid, objid, unit);
				more = true;
			}
		}
		if (!more)
			break;
	}
	return 0;
}

static int schema_add_edges(struct schema_dump_state *st, const struct schema_src *edges)
{
	int rows = schema_nrows(edges), i, r;
	size_t k;

	for (i = 0; i < rows; i++) {
		size_t from, to;

		if (!schema_map_get(&st->map, schema_oid(edges, i, 0), schema_oid(edges, i, 1),
				    &from))
			continue;
		if (!schema_map_get(&st->map, schema_oid(edges, i, 2), schema_oid(edges, i, 3),
				    &to))
			continue;
		if ((r = schema_edge(st, from, to)) < 0)
			return r;
	}
	/* Edges a unit states itself ("classid:objid ..."). */
	for (k = 0; k < st->nunits; k++) {
		const char *p = st->units[k].deps;

		while (p && *p) {
			char *end;
			unsigned classid = (unsigned)strtoul(p, &end, 10), objid;
			size_t to;

			if (*end != ':')
				break;
			objid = (unsigned)strtoul(end + 1, &end, 10);
			if (schema_map_get(&st->map, classid, objid, &to) &&
			    (r = schema_edge(st, k, to)) < 0)
				return r;
			p = end;
			while (*p == ' ')
				p++;
		}
	}
	return 0;
}

/* Min-heap of unit indexes; units are sorted, so the index is the rank. */
static void schema_heap_push(size_t *heap, size_t *n, size_t v)
{
	size_t i = (*n)++;

	while (i > 0 && heap[(i - 1) / 2] > v) {
		heap[i] = heap[(i - 1) / 2];
		i = (i - 1) / 2;
	}
	heap[i] = v;
}

static size_t schema_heap_pop(size_t *heap, size_t *n)
{
	size_t top = heap[0], v = heap[--(*n)], i = 0;

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= *n)
			break;
		if (c + 1 < *n && heap[c + 1] < heap[c])
			c++;
		if (heap[c] >= v)
			break;
		heap[i] = heap[c];
		i = c;
	}
	if (*n > 0)
		heap[i] = v;
	return top;
}

/* Writes units in key order, each only after what it depends on. A cycle (which the
 * catalogs should not allow among these units) is broken at its smallest key. */
static int schema_render(struct schema_dump_state *st, struct schema_buf *out)
{
	size_t *heap, nheap = 0, written = 0, scan = 0, i;
	int r = 0;

	heap = malloc((st->nunits + 1) * sizeof(*heap));
	if (!heap)
		return -ENOMEM;
	for (i = 0; i < st->nunits; i++)
		if (st->units[i].ndeps == 0)
			schema_heap_push(heap, &nheap, i);

	while (written < st->nunits) {
		struct schema_unit *u;
		size_t k;

		if (nheap == 0) {
			while (scan < st->nunits && st->units[scan].done)
				scan++;
			st->units[scan].ndeps = 0;
			schema_heap_push(heap, &nheap, scan);
		}
		k = schema_heap_pop(heap, &nheap);
		u = &st->units[k];
		if (u->done)
			continue;
		u->done = true;
		written++;
		if ((r = schema_buf_str(out, "\n")) < 0 ||
		    (r = schema_buf_str(out, u->text)) < 0 ||
		    (r = schema_buf_str(out, "\n")) < 0)
			break;
		for (i = u->after; i < u->after + u->nafter; i++) {
			size_t w = st->pairs[i].from;

			if (!st->units[w].done && st->units[w].ndeps > 0 &&
			    --st->units[w].ndeps == 0)
				schema_heap_push(heap, &nheap, w);
		}
	}
	free(heap);
	return r;
}

/* The first lines. No database name: the same schema on two branches (whose databases
 * may be named apart, as on a local emulator) must give the same bytes. */
static int schema_header(struct schema_buf *out, const char *dbname)
{
	(void)dbname;
	/* Function bodies may name objects that come later in the text. */
	return schema_buf_str(out, "-- schema: SQL DDL, system schemas and extension members left out\n"
			      "SET check_function_bodies = false;\n");
}

/* From the units read to the text after the header: rank by key, map the parts to their
 * units, add the edges, write in order. */
static int schema_order(struct schema_dump_state *st, const struct schema_src *parts,
			const struct schema_src *edges, struct schema_buf *out)
{
	size_t i;
	int r;

	/* Rank by key; from here on a unit's index is its rank. */
	if (st->nunits > 1)
		qsort(st->units, st->nunits, sizeof(st->units[0]), schema_unit_cmp);
	r = schema_map_init(&st->map, st->nunits + (size_t)schema_nrows(parts));
	if (r < 0)
		return r;
	for (i = 0; i < st->nunits; i++)
		schema_map_put(&st->map, st->units[i].classid, st->units[i].objid, i);
	if ((r = schema_map_parts(st, parts)) < 0 || (r = schema_add_edges(st, edges)) < 0)
		return r;
	schema_link(st);
	return schema_render(st, out);
}

static void schema_state_free(struct schema_dump_state *st)
{
	size_t i;

	free(st->units);
	free(st->pairs);
	for (i = 0; i < st->nresults; i++)
		PQclear(st->results[i]);
	free(st->results);
	free(st->map.slots);
}

static int schema_dump_impl(PGconn *conn, char **text, char *lsn, size_t lsnlen,
			    char *msg, size_t msglen)
{
	struct schema_dump_state st = { 0 };
	struct schema_buf out = { 0 };
	PGresult *res = NULL, *settings, *parts, *edges, *batch[SCHEMA_NBATCH];
	const char *names[SCHEMA_NBATCH], *sqls[SCHEMA_NBATCH];
	int mark;
	size_t i;
	int r;

	*text = NULL;
	if (!conn) {
		util_msg(msg, msglen, "no database connection");
		return -EINVAL;
	}
	if (PQtransactionStatus(conn) != PQTRANS_IDLE) {
		/* BEGIN would only warn, and our COMMIT would end the caller's transaction. */
		util_msg(msg, msglen, "connection is busy or inside a transaction");
		return -EBUSY;
	}
	/* One snapshot for every query, so the text is one consistent schema; the COMMIT
	 * ends the pipeline, every result is in memory by then. */
	schema_batch(names, sqls);
	mark = pg_mark(conn, SCHEMA_MARK_PREPARED);
	if (mark < 0)
		memset(names, 0, sizeof(names));	/* not pooled: nothing to keep them for */
	r = pg_pipeline(conn, SCHEMA_NBATCH, names, sqls, mark == 0, batch, msg, msglen);
	if (r < 0 && mark >= 0) {
		bool lost = mark == 1 && strstr(msg, "prepared statement") != NULL;

		schema_unprepare(conn);
		if (lost && PQstatus(conn) == CONNECTION_OK &&
		    PQtransactionStatus(conn) == PQTRANS_IDLE) {
			/* Someone dropped them (DISCARD ALL, a pooler): prepare them again, once. */
			pg_mark(conn, SCHEMA_MARK_PREPARED);
			r = pg_pipeline(conn, SCHEMA_NBATCH, names, sqls, true, batch, msg, msglen);
			if (r < 0)
				schema_unprepare(conn);
		}
	}
	if (r < 0)
		goto out;
	/* Kept in order: the settings, the unit queries, parts, edges. */
	PQclear(batch[0]);
	PQclear(batch[SCHEMA_NBATCH - 1]);
	for (i = 1; i + 1 < (size_t)SCHEMA_NBATCH; i++) {
		if ((r = schema_keep(&st, batch[i])) < 0) {
			while (++i + 1 < (size_t)SCHEMA_NBATCH)
				PQclear(batch[i]);
			goto nomem;
		}
	}
	settings = st.results[0];
	parts = st.results[1 + SCHEMA_NUNIT_QUERIES];
	edges = st.results[2 + SCHEMA_NUNIT_QUERIES];
	if (lsn && lsnlen)
		snprintf(lsn, lsnlen, "%s", PQgetvalue(settings, 0, 8));
	for (i = 0; i < SCHEMA_NUNIT_QUERIES; i++) {
		if ((r = schema_add_units(&st, &(struct schema_src){ .res = st.results[1 + i] })) < 0) {
			util_msg(msg, msglen, "cannot read the catalog rows");
			goto out;
		}
	}

	if ((r = schema_header(&out, PQgetvalue(settings, 0, 7))) < 0 ||
	    (r = schema_order(&st, &(struct schema_src){ .res = parts },
			      &(struct schema_src){ .res = edges }, &out)) < 0)
		goto nomem;

	schema_state_free(&st);
	*text = out.data;
	return 0;

nomem:
	util_msg(msg, msglen, "out of memory rendering the schema");
	r = -ENOMEM;
out:
	/* Leave the connection idle for the next borrower; a dead or busy one is closed by
	 * pg_release anyway. */
	if (PQstatus(conn) == CONNECTION_OK &&
	    (PQtransactionStatus(conn) == PQTRANS_INTRANS ||
	     PQtransactionStatus(conn) == PQTRANS_INERROR) &&
	    pg_exec(conn, "ROLLBACK", 0, NULL, &res, NULL, 0) == 0)
		PQclear(res);
	schema_state_free(&st);
	free(out.data);
	return r;
}

int schema_dump(PGconn *conn, char **text, char *msg, size_t msglen)
{
	return schema_dump_impl(conn, text, NULL, 0, msg, msglen);
}

int schema_dump_at_lsn(PGconn *conn, char **text, char *lsn, size_t lsnlen,
		       char *msg, size_t msglen)
{
	if (lsn && lsnlen)
		lsn[0] = '\0';
	return schema_dump_impl(conn, text, lsn, lsnlen, msg, msglen);
}

struct schema_dump_arg {
	char **text;
	char *lsn;
	size_t lsnlen;
};

static int schema_dump_fn(PGconn *conn, void *arg, char *msg, size_t msglen)
{
	struct schema_dump_arg *a = arg;

	return schema_dump_impl(conn, a->text, a->lsn, a->lsnlen, msg, msglen);
}

int schema_dump_uri(struct pg_pool *pool, const char *uri, char **text, char *lsn,
		    size_t lsnlen, char *msg, size_t msglen)
{
	struct schema_dump_arg a = { .text = text, .lsn = lsn, .lsnlen = lsnlen };

	*text = NULL;
	if (lsn && lsnlen)
		lsn[0] = '\0';
	return pg_run(pool, uri, true, schema_dump_fn, &a, msg, msglen);
}

int schema_render_rows(const struct schema_rows *units, size_t nunits,
		       const struct schema_rows *parts, const struct schema_rows *edges,
		       char **text)
{
	struct schema_dump_state st = { 0 };
	struct schema_buf out = { 0 };
	size_t i;
	int r;

	*text = NULL;
	if (parts->nfields != 4 || edges->nfields != 4)
		return -EPROTO;
	for (i = 0; i < nunits; i++)
		if ((r = schema_add_units(&st, &(struct schema_src){ .rows = &units[i] })) < 0)
			goto out;
	if ((r = schema_header(&out, "")) < 0 ||
	    (r = schema_order(&st, &(struct schema_src){ .rows = parts },
			      &(struct schema_src){ .rows = edges }, &out)) < 0)
		goto out;
	schema_state_free(&st);
	*text = out.data;
	return 0;
out:
	schema_state_free(&st);
	free(out.data);
	return r;
}
