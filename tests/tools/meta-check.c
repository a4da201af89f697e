/* meta-check: exercises the meta store against a real database.
 *
 *   meta-check <uri>            runs every check once; prints one line per check,
 *                               "ok" at the end; exit 0, or 1 at the first failure
 *   meta-check <uri> --repl     opens the store, prints "open ok", then for each line
 *                               read from stdin ("call" or "quit") makes a few calls and
 *                               prints "ok <ms>" or "error <errno> <ms> <words>"
 *
 * The second form lets a test stop and restart the database under one open store. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <json-c/json.h>

#include "meta.h"

static int failures;

#define CHECK(cond, ...) do {						\
	if (cond) {							\
		printf("PASS %s\n", #cond);				\
	} else {							\
		printf("FAIL %s:%d %s: ", __FILE__, __LINE__, #cond);	\
		printf(__VA_ARGS__);					\
		printf("\n");						\
		failures++;						\
		return 1;						\
	}								\
} while (0)

static void fill_checkpoint(struct meta_checkpoint *c, const char *id, const char *name,
			    const char *created, const char *lsn, const char *schema)
{
	memset(c, 0, sizeof(*c));
	snprintf(c->snapshot_id, sizeof(c->snapshot_id), "%s", id);
	snprintf(c->name, sizeof(c->name), "%s", name);
	snprintf(c->created_at, sizeof(c->created_at), "%s", created);
	snprintf(c->lsn, sizeof(c->lsn), "%s", lsn);
	c->schema = schema ? strdup(schema) : NULL;
}

static int check_checkpoints(struct meta *m, struct meta *other)
{
	struct meta_checkpoint c, got;
	struct meta_record *recs = NULL;
	size_t nrecs = 0;
	char msg[512];
	int r;

	r = meta_checkpoint_get(m, "snap-none", &got, msg, sizeof(msg));
	CHECK(r == -ENOENT, "get of a missing record: %d %s", r, msg);

	fill_checkpoint(&c, "snap-1", "v1", "2024-05-01T12:00:00Z", "0/16B3748",
			"CREATE TABLE t ();\n");
	r = meta_checkpoint_put(m, &c, msg, sizeof(msg));
	meta_checkpoint_clear(&c);
	CHECK(r == 0, "put: %d %s", r, msg);
	r = meta_checkpoint_get(m, "snap-1", &got, msg, sizeof(msg));
	CHECK(r == 0, "get: %d %s", r, msg);
	CHECK(strcmp(got.snapshot_id, "snap-1") == 0, "id %s", got.snapshot_id);
	CHECK(strcmp(got.name, "v1") == 0, "name %s", got.name);
	CHECK(strcmp(got.created_at, "2024-05-01T12:00:00Z") == 0, "created %s", got.created_at);
	CHECK(strcmp(got.lsn, "0/16B3748") == 0, "lsn %s", got.lsn);
	CHECK(got.schema && strcmp(got.schema, "CREATE TABLE t ();\n") == 0, "schema");
	meta_checkpoint_clear(&got);
	CHECK(got.schema == NULL, "clear resets the schema");

	/* Replacing without a schema or LSN: the record is replaced as a whole. */
	fill_checkpoint(&c, "snap-1", "v1 again", "2024-05-01T13:00:00+01:00", "", NULL);
	r = meta_checkpoint_put(m, &c, msg, sizeof(msg));
	CHECK(r == 0, "replace: %d %s", r, msg);
	r = meta_checkpoint_get(m, "snap-1", &got, msg, sizeof(msg));
	CHECK(r == 0 && got.schema == NULL && got.lsn[0] == '\0' &&
	      strcmp(got.name, "v1 again") == 0 &&
	      strcmp(got.created_at, "2024-05-01T12:00:00Z") == 0,
	      "replaced record: %d name=%s lsn=%s created=%s", r, got.name, got.lsn,
	      got.created_at);
	meta_checkpoint_clear(&got);

	/* Values that would break a pasted query. */
	r = meta_checkpoint_rename(m, "snap-1", "it's; DROP TABLE checkpoints; --", msg,
				   sizeof(msg));
	CHECK(r == 0, "rename: %d %s", r, msg);
	r = meta_checkpoint_get(m, "snap-1", &got, msg, sizeof(msg));
	CHECK(r == 0 && strcmp(got.name, "it's; DROP TABLE checkpoints; --") == 0,
	      "renamed: %s", got.name);
	meta_checkpoint_clear(&got);
	r = meta_checkpoint_rename(m, "snap-none", "x", msg, sizeof(msg));
	CHECK(r == -ENOENT, "rename of a missing record: %d", r);

	r = meta_checkpoint_set_schema(m, "snap-1", "CREATE TABLE u (a int);\n", msg, sizeof(msg));
	CHECK(r == 0, "set_schema: %d %s", r, msg);
	r = meta_checkpoint_get(m, "snap-1", &got, msg, sizeof(msg));
	CHECK(r == 0 && got.schema && strcmp(got.schema, "CREATE TABLE u (a int);\n") == 0,
	      "schema after set_schema");
	meta_checkpoint_clear(&got);
	r = meta_checkpoint_set_schema(m, "snap-none", "x", msg, sizeof(msg));
	CHECK(r == -ENOENT, "set_schema of a missing record: %d", r);

	r = meta_checkpoint_put(m, &(struct meta_checkpoint){ .snapshot_id = "",
			       .name = "x" }, msg, sizeof(msg));
	CHECK(r == -EINVAL, "put without an id: %d", r);
	fill_checkpoint(&c, "snap-bad", "bad", "not a time", "", NULL);
	r = meta_checkpoint_put(m, &c, msg, sizeof(msg));
	CHECK(r == -EINVAL, "put with a bad time: %d %s", r, msg);

	fill_checkpoint(&c, "snap-2", "v2", "", "0/2000000", "x");
	r = meta_checkpoint_put(m, &c, msg, sizeof(msg));
	meta_checkpoint_clear(&c);
	CHECK(r == 0, "put 2: %d %s", r, msg);

	r = meta_checkpoint_list(m, &recs, &nrecs, msg, sizeof(msg));
	CHECK(r == 0 && recs, "list: %d %s", r, msg);
	CHECK(nrecs == 2, "two records");
	CHECK(nrecs >= 1 && strcmp(recs[0].snapshot_id, "snap-1") == 0, "snap-1 listed");
	CHECK(nrecs >= 1 && recs[0].has_schema, "snap-1 has a schema");
	CHECK(nrecs >= 1 && recs[0].lsn[0] == '\0', "snap-1 has no lsn");
	CHECK(nrecs >= 2 && strcmp(recs[1].snapshot_id, "snap-2") == 0 &&
	      recs[1].created_at[0] == '\0' && strcmp(recs[1].name, "v2") == 0, "snap-2 record");
	free(recs);

	/* Another project sees none of it. */
	r = meta_checkpoint_list(other, &recs, &nrecs, msg, sizeof(msg));
	CHECK(r == 0 && nrecs == 0, "other project empty");
	free(recs);
	r = meta_checkpoint_get(other, "snap-1", &got, msg, sizeof(msg));
	CHECK(r == -ENOENT, "other project cannot read it: %d", r);
	return 0;
}

/* Pending files: their own place, per project, moved to a snapshot with its record. */
static int check_pending(struct meta *m, struct meta *other)
{
	struct meta_attachment *list = NULL;
	struct meta_checkpoint c, got;
	char *data = NULL, msg[512];
	size_t count = 0, len = 0, attached = 99;
	int r;

	r = meta_attachment_put(m, META_PENDING, "state.json", "s\0s", 3, msg, sizeof(msg));
	CHECK(r == 0, "put pending: %d %s", r, msg);
	r = meta_attachment_create(m, META_PENDING, "notes", msg, sizeof(msg));
	CHECK(r == 0, "create pending: %d %s", r, msg);
	r = meta_attachment_create(m, META_PENDING, "notes", msg, sizeof(msg));
	CHECK(r == -EEXIST, "create it again: %d", r);
	r = meta_attachment_rename(m, META_PENDING, "notes", "notes.md", true, msg, sizeof(msg));
	CHECK(r == 0, "rename pending: %d %s", r, msg);
	r = meta_attachment_rename(m, META_PENDING, "notes.md", "state.json", true, msg,
				   sizeof(msg));
	CHECK(r == -EEXIST, "rename without replacing: %d", r);
	r = meta_attachment_put(m, META_PENDING, "gone", "x", 1, msg, sizeof(msg));
	CHECK(r == 0, "put: %d %s", r, msg);
	r = meta_attachment_delete(m, META_PENDING, "gone", msg, sizeof(msg));
	CHECK(r == 0, "delete pending: %d %s", r, msg);
	r = meta_attachment_list(m, META_PENDING, &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 2 && strcmp(list[0].name, "notes.md") == 0 &&
	      strcmp(list[1].name, "state.json") == 0 && list[1].size == 3, "pending list");
	free(list);
	r = meta_attachment_list(other, META_PENDING, &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 0, "another project has none: %zu", count);
	free(list);
	r = meta_attachment_list(m, "snap-p", &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 0, "pending files are no snapshot's: %zu", count);
	free(list);

	fill_checkpoint(&c, "snap-p", "p1", "2024-05-01T12:00:00Z", "", NULL);
	r = meta_checkpoint_put_with_pending(m, &c, &attached, msg, sizeof(msg));
	meta_checkpoint_clear(&c);
	CHECK(r == 0 && attached == 2, "record with pending: %d %zu %s", r, attached, msg);
	r = meta_checkpoint_get(m, "snap-p", &got, msg, sizeof(msg));
	CHECK(r == 0 && strcmp(got.name, "p1") == 0, "record written: %d", r);
	meta_checkpoint_clear(&got);
	r = meta_attachment_get(m, "snap-p", "state.json", &data, &len, NULL, msg, sizeof(msg));
	CHECK(r == 0 && len == 3 && memcmp(data, "s\0s", 3) == 0, "attached: %d %zu", r, len);
	free(data);
	r = meta_attachment_list(m, META_PENDING, &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 0, "nothing pending: %zu", count);
	free(list);

	fill_checkpoint(&c, "snap-q", "p2", "2024-05-01T12:00:00Z", "", NULL);
	r = meta_checkpoint_put_with_pending(m, &c, &attached, msg, sizeof(msg));
	meta_checkpoint_clear(&c);
	CHECK(r == 0 && attached == 0, "record with nothing pending: %d %zu", r, attached);
	r = meta_checkpoint_delete(m, "snap-q", msg, sizeof(msg));
	CHECK(r == 0, "delete: %d %s", r, msg);
	r = meta_checkpoint_delete(m, "snap-p", msg, sizeof(msg));
	CHECK(r == 0, "delete: %d %s", r, msg);
	return 0;
}

static int check_attachments(struct meta *m)
{
	struct meta_attachment *list = NULL, info;
	char bytes[300], *data = NULL, msg[512];
	size_t count = 0, len = 0, i;
	int r;

	for (i = 0; i < sizeof(bytes); i++)
		bytes[i] = (char)(i * 7 % 256);	/* NULs and high bytes throughout */
	bytes[0] = '\0';

	r = meta_attachment_put(m, "snap-1", "state.json", bytes, sizeof(bytes), msg, sizeof(msg));
	CHECK(r == 0, "put: %d %s", r, msg);
	r = meta_attachment_get(m, "snap-1", "state.json", &data, &len, &info, msg, sizeof(msg));
	CHECK(r == 0, "get: %d %s", r, msg);
	CHECK(len == sizeof(bytes) && memcmp(data, bytes, len) == 0, "bytes round-trip (%zu)", len);
	CHECK(info.size == (int64_t)sizeof(bytes), "size %lld", (long long)info.size);
	CHECK(info.created_at > 1600000000 && info.updated_at >= info.created_at,
	      "times %lld %lld", (long long)info.created_at, (long long)info.updated_at);
	CHECK(strcmp(info.name, "state.json") == 0, "name");
	free(data);

	r = meta_attachment_put(m, "snap-1", "state.json", "new", 3, msg, sizeof(msg));
	CHECK(r == 0, "replace: %d %s", r, msg);
	r = meta_attachment_get(m, "snap-1", "state.json", &data, &len, NULL, msg, sizeof(msg));
	CHECK(r == 0 && len == 3 && memcmp(data, "new", 3) == 0 && data[3] == '\0',
	      "replaced content");
	free(data);

	r = meta_attachment_put(m, "snap-1", "empty", NULL, 0, msg, sizeof(msg));
	CHECK(r == 0, "put empty: %d %s", r, msg);
	r = meta_attachment_get(m, "snap-1", "empty", &data, &len, &info, msg, sizeof(msg));
	CHECK(r == 0 && len == 0 && info.size == 0, "empty content: %d %zu", r, len);
	free(data);
	r = meta_attachment_put(m, "snap-1", "Zeta'; --", "z", 1, msg, sizeof(msg));
	CHECK(r == 0, "put odd name: %d %s", r, msg);

	r = meta_attachment_list(m, "snap-1", &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 3, "list: %d %zu", r, count);
	CHECK(strcmp(list[0].name, "Zeta'; --") == 0 && strcmp(list[1].name, "empty") == 0 &&
	      strcmp(list[2].name, "state.json") == 0, "sorted bytewise: %s %s %s",
	      list[0].name, list[1].name, list[2].name);
	CHECK(list[2].size == 3 && list[1].size == 0, "sizes in the list");
	free(list);
	r = meta_attachment_list(m, "snap-none", &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 0 && list, "empty list");
	free(list);

	r = meta_attachment_delete(m, "snap-1", "empty", msg, sizeof(msg));
	CHECK(r == 0, "delete: %d %s", r, msg);
	r = meta_attachment_delete(m, "snap-1", "empty", msg, sizeof(msg));
	CHECK(r == -ENOENT, "delete again: %d", r);
	r = meta_attachment_get(m, "snap-1", "empty", &data, &len, NULL, msg, sizeof(msg));
	CHECK(r == -ENOENT && data == NULL, "get deleted: %d", r);

	/* Deleting the checkpoint takes its attachments along. */
	r = meta_checkpoint_delete(m, "snap-1", msg, sizeof(msg));
	CHECK(r == 0, "checkpoint delete: %d %s", r, msg);
	r = meta_attachment_list(m, "snap-1", &list, &count, msg, sizeof(msg));
	CHECK(r == 0 && count == 0, "attachments gone: %zu", count);
	free(list);
	r = meta_checkpoint_get(m, "snap-1", &(struct meta_checkpoint){ 0 }, msg, sizeof(msg));
	CHECK(r == -ENOENT, "record gone: %d", r);
	r = meta_checkpoint_delete(m, "snap-1", msg, sizeof(msg));
	CHECK(r == -ENOENT, "delete again: %d", r);
	return 0;
}

static int check_restores(struct meta *m)
{
	struct meta_restore r1 = {
		.snapshot_id = "snap-2", .snapshot_name = "v2", .branch_before = "br-old",
		.user = "alice", .host = "laptop",
	};
	struct meta_restore r2 = r1;
	struct json_object *rows = NULL, *row, *v;
	char *text = NULL;
	int64_t id1 = 0, id2 = 0;
	char msg[512];
	int r;

	r = meta_restore_begin(m, &r1, &id1, msg, sizeof(msg));
	CHECK(r == 0 && id1 > 0, "begin: %d %s", r, msg);
	snprintf(r1.branch_after, sizeof(r1.branch_after), "br-new");
	snprintf(r1.outcome, sizeof(r1.outcome), "finished");
	r = meta_restore_end(m, id1, &r1, msg, sizeof(msg));
	CHECK(r == 0, "end: %d %s", r, msg);
	r = meta_restore_begin(m, &r2, &id2, msg, sizeof(msg));
	CHECK(r == 0 && id2 > id1, "begin 2: %d %s", r, msg);
	snprintf(r2.outcome, sizeof(r2.outcome), "failed");
	snprintf(r2.error, sizeof(r2.error), "operation \"x\" failed");
	r = meta_restore_end(m, id2, &r2, msg, sizeof(msg));
	CHECK(r == 0, "end 2: %d %s", r, msg);
	r = meta_restore_end(m, id2 + 1000, &r2, msg, sizeof(msg));
	CHECK(r == -ENOENT, "end of an unknown restore: %d", r);

	r = meta_restore_log(m, 10, &text, msg, sizeof(msg));
	CHECK(r == 0 && text, "log: %d %s", r, msg);
	printf("log: %s\n", text);
	rows = json_tokener_parse(text);
	free(text);
	CHECK(json_object_is_type(rows, json_type_array), "the log is a JSON array");
	CHECK(json_object_array_length(rows) == 2, "two rows");
	row = json_object_array_get_idx(rows, 0);
	CHECK(json_object_object_get_ex(row, "id", &v) && json_object_get_int64(v) == id2,
	      "newest first");
	CHECK(json_object_object_get_ex(row, "outcome", &v) &&
	      strcmp(json_object_get_string(v), "failed") == 0, "outcome failed");
	CHECK(json_object_object_get_ex(row, "error", &v) &&
	      strcmp(json_object_get_string(v), "operation \"x\" failed") == 0, "error text");
	CHECK(json_object_object_get_ex(row, "branch_after", &v) && v == NULL,
	      "no branch after a failure");
	row = json_object_array_get_idx(rows, 1);
	CHECK(json_object_object_get_ex(row, "branch_after", &v) &&
	      strcmp(json_object_get_string(v), "br-new") == 0, "branch after");
	CHECK(json_object_object_get_ex(row, "user", &v) &&
	      strcmp(json_object_get_string(v), "alice") == 0, "user");
	CHECK(json_object_object_get_ex(row, "started_at", &v) &&
	      strlen(json_object_get_string(v)) == 20 && json_object_get_string(v)[10] == 'T' &&
	      json_object_get_string(v)[19] == 'Z', "ISO 8601 start");
	CHECK(json_object_object_get_ex(row, "ended_at", &v) && v != NULL, "ended");
	json_object_put(rows);

	r = meta_restore_log(m, 1, &text, msg, sizeof(msg));
	CHECK(r == 0 && text, "limit 1: %d %s", r, msg);
	rows = json_tokener_parse(text);
	free(text);
	CHECK(json_object_array_length(rows) == 1, "limit 1");
	json_object_put(rows);
	return 0;
}

/* Many threads through one store at once, as FUSE's worker threads would. */
#define THREADS 8
#define ROUNDS 15

struct worker {
	struct meta *m;
	int n;
	int failed;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	char name[32], content[64], msg[256], *data;
	size_t len;
	int i;

	for (i = 0; i < ROUNDS && !w->failed; i++) {
		struct meta_record *recs = NULL;
		size_t nrecs = 0;

		snprintf(name, sizeof(name), "t%d", w->n);
		snprintf(content, sizeof(content), "thread %d round %d", w->n, i);
		if (meta_attachment_put(w->m, "snap-threads", name, content, strlen(content),
					msg, sizeof(msg)) < 0 ||
		    meta_attachment_get(w->m, "snap-threads", name, &data, &len, NULL,
					msg, sizeof(msg)) < 0) {
			fprintf(stderr, "thread %d: %s\n", w->n, msg);
			w->failed = 1;
			break;
		}
		if (len != strlen(content) || memcmp(data, content, len) != 0)
			w->failed = 1;
		free(data);
		if (meta_checkpoint_list(w->m, &recs, &nrecs, msg, sizeof(msg)) < 0)
			w->failed = 1;
		free(recs);
	}
	return NULL;
}

static int check_threads(struct meta *m)
{
	struct worker w[THREADS];
	pthread_t t[THREADS];
	struct meta_attachment *list = NULL;
	size_t count = 0;
	char msg[256];
	int i, failed = 0;

	for (i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ .m = m, .n = i };
		CHECK(pthread_create(&t[i], NULL, worker_main, &w[i]) == 0, "thread %d", i);
	}
	for (i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		failed += w[i].failed;
	}
	CHECK(failed == 0, "%d threads failed", failed);
	CHECK(meta_attachment_list(m, "snap-threads", &list, &count, msg, sizeof(msg)) == 0 &&
	      count == THREADS, "one attachment per thread: %zu", count);
	free(list);
	return 0;
}

static int check_no_store(void)
{
	struct meta_checkpoint c = { .snapshot_id = "s" };
	char *j = NULL;
	struct meta_record *recs = NULL;
	size_t nrecs = 0;
	struct meta_attachment *list = NULL;
	size_t count, len;
	char msg[128], *data;
	int64_t id;

	CHECK(meta_checkpoint_put(NULL, &c, msg, sizeof(msg)) == -ENOTSUP, "put");
	CHECK(meta_checkpoint_get(NULL, "s", &c, msg, sizeof(msg)) == -ENOTSUP, "get");
	CHECK(meta_checkpoint_rename(NULL, "s", "n", msg, sizeof(msg)) == -ENOTSUP, "rename");
	CHECK(meta_checkpoint_set_schema(NULL, "s", "x", msg, sizeof(msg)) == -ENOTSUP, "schema");
	CHECK(meta_checkpoint_delete(NULL, "s", msg, sizeof(msg)) == -ENOTSUP, "delete");
	CHECK(meta_checkpoint_list(NULL, &recs, &nrecs, msg, sizeof(msg)) == -ENOTSUP, "all");
	CHECK(meta_attachment_list(NULL, "s", &list, &count, msg, sizeof(msg)) == -ENOTSUP, "ls");
	CHECK(meta_attachment_get(NULL, "s", "a", &data, &len, NULL, msg, sizeof(msg)) ==
	      -ENOTSUP, "aget");
	CHECK(meta_attachment_put(NULL, "s", "a", "x", 1, msg, sizeof(msg)) == -ENOTSUP, "aput");
	CHECK(meta_attachment_delete(NULL, "s", "a", msg, sizeof(msg)) == -ENOTSUP, "adel");
	CHECK(meta_restore_begin(NULL, &(struct meta_restore){ 0 }, &id, msg, sizeof(msg)) ==
	      -ENOTSUP, "begin");
	CHECK(meta_restore_end(NULL, 1, &(struct meta_restore){ 0 }, msg, sizeof(msg)) ==
	      -ENOTSUP, "end");
	CHECK(meta_restore_log(NULL, 1, &j, msg, sizeof(msg)) == -ENOTSUP, "log");
	meta_close(NULL);
	return 0;
}

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* A few calls through one open store, for a test that stops and starts the database. */
static int repl(const char *uri)
{
	char line[64], msg[512] = "";
	struct meta *m = meta_open(uri, "proj-repl", 0, msg, sizeof(msg));

	if (!m) {
		printf("open error %s\n", msg);
		return 1;
	}
	printf("open ok\n");
	fflush(stdout);
	while (fgets(line, sizeof(line), stdin)) {
		struct meta_record *recs = NULL;
		size_t nrecs = 0;
		char *data = NULL;
		size_t len = 0;
		double t0 = now_ms();
		int r;

		if (strncmp(line, "quit", 4) == 0)
			break;
		r = meta_attachment_put(m, "snap-r", "a", "x\0y", 3, msg, sizeof(msg));
		if (r == 0)
			r = meta_attachment_get(m, "snap-r", "a", &data, &len, NULL, msg,
						sizeof(msg));
		if (r == 0 && (len != 3 || memcmp(data, "x\0y", 3) != 0)) {
			r = -EPROTO;
			snprintf(msg, sizeof(msg), "content differs");
		}
		free(data);
		if (r == 0)
			r = meta_checkpoint_list(m, &recs, &nrecs, msg, sizeof(msg));
		free(recs);
		if (r == 0)
			printf("ok %.0f\n", now_ms() - t0);
		else
			printf("error %d %.0f %s\n", -r, now_ms() - t0, msg);
		fflush(stdout);
	}
	meta_close(m);
	return 0;
}

int main(int argc, char *argv[])
{
	struct meta *m, *other;
	char msg[512] = "", proj_a[64], proj_b[64];

	if (argc == 3 && strcmp(argv[2], "--repl") == 0)
		return repl(argv[1]);
	if (argc != 2) {
		fprintf(stderr, "usage: %s <uri> [--repl]\n", argv[0]);
		return 2;
	}
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (check_no_store())
		return 1;
	m = meta_open("", "p", 0, msg, sizeof(msg));
	if (m) {
		printf("FAIL meta_open without a url\n");
		return 1;
	}

	/* Projects of their own, so the checks can run again on the same database. */
	snprintf(proj_a, sizeof(proj_a), "proj-a-%ld-%ld", (long)getpid(), (long)time(NULL));
	snprintf(proj_b, sizeof(proj_b), "proj-b-%ld-%ld", (long)getpid(), (long)time(NULL));
	m = meta_open(argv[1], proj_a, 0, msg, sizeof(msg));
	if (!m) {
		printf("FAIL meta_open: %s\n", msg);
		return 1;
	}
	meta_close(m);
	/* Opening again finds the migrations applied and changes nothing. */
	m = meta_open(argv[1], proj_a, 0, msg, sizeof(msg));
	other = meta_open(argv[1], proj_b, 0, msg, sizeof(msg));
	if (!m || !other) {
		printf("FAIL meta_open again: %s\n", msg);
		return 1;
	}
	if (check_checkpoints(m, other) || check_attachments(m) || check_pending(m, other) ||
	    check_restores(m) || check_threads(m)) {
		meta_close(m);
		meta_close(other);
		return 1;
	}
	meta_close(m);
	meta_close(other);
	printf("ok\n");
	return failures ? 1 : 0;
}
