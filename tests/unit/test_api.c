/* test_api: the API client against a scripted HTTP/1.1 server on 127.0.0.1.
 *
 * The server answers the n-th request with the n-th scripted reply (the last
 * one repeats) and records every request it read, so the tests can count
 * attempts and look at methods, targets, headers and bodies. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <json-c/json.h>

#include "api.h"
#include "check.h"
#include "errmap.h"
#include "log.h"
#include "model.h"

#define TEST_KEY "sekrit-key-123"

/* ---- the scripted server ---- */

struct mock_reply {
	int status;		/* 0: read the request, then close without a word */
	const char *headers;	/* extra header lines, each ending in "\r\n", or NULL */
	const char *body;	/* JSON text, or NULL */
};

struct mock_request {
	char method[16];
	char target[1024];
	char *head;		/* the header lines as received */
	char *body;
	size_t body_len;
};

#define MOCK_MAX_REQUESTS 256

struct mock {
	int listen_fd;
	int wake[2];
	int port;
	char base[64];
	pthread_t thread;
	pthread_mutex_t lock;
	const struct mock_reply *script;
	size_t nscript;
	struct mock_request reqs[MOCK_MAX_REQUESTS];
	size_t nreqs;
};

static const char *mock_reason(int status)
{
	switch (status) {
	case 200: return "OK";
	case 201: return "Created";
	case 202: return "Accepted";
	case 204: return "No Content";
	case 404: return "Not Found";
	case 409: return "Conflict";
	case 423: return "Locked";
	case 429: return "Too Many Requests";
	case 502: return "Bad Gateway";
	case 503: return "Service Unavailable";
	default: return "Status";
	}
}

static int mock_write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/* Reads one request; 0 when it is complete and recorded into *r. */
static int mock_read_request(int fd, struct mock_request *r)
{
	char buf[65536];
	size_t len = 0, head_len, body_len = 0;
	char *end, *cl;

	memset(r, 0, sizeof(*r));
	for (;;) {
		ssize_t n;

		buf[len] = '\0';
		end = strstr(buf, "\r\n\r\n");
		if (end)
			break;
		if (len == sizeof(buf) - 1)
			return -1;
		n = recv(fd, buf + len, sizeof(buf) - 1 - len, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	head_len = (size_t)(end - buf) + 4;
	if (sscanf(buf, "%15s %1023s", r->method, r->target) != 2)
		return -1;
	r->head = strndup(buf, head_len);
	if (!r->head)
		return -1;
	for (cl = r->head; cl && *cl; cl = strchr(cl, '\n')) {
		if (*cl == '\n')
			cl++;
		if (strncasecmp(cl, "content-length:", 15) == 0)
			body_len = strtoul(cl + 15, NULL, 10);
	}
	r->body = malloc(body_len + 1);
	if (!r->body)
		return -1;
	len -= head_len;
	if (len > body_len)
		len = body_len;
	memcpy(r->body, buf + head_len, len);
	while (len < body_len) {
		ssize_t n = recv(fd, r->body + len, body_len - len, 0);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		len += (size_t)n;
	}
	r->body[body_len] = '\0';
	r->body_len = body_len;
	return 0;
}

static void mock_serve(struct mock *m, int fd)
{
	struct mock_request r;
	struct mock_reply reply = { 500, NULL, "{\"code\":\"\",\"message\":\"no script\"}" };
	struct timeval tv = { 5, 0 };
	char head[1024];
	size_t idx;
	int n;

	/* A client that stalls must not hang the test forever. */
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (mock_read_request(fd, &r) != 0) {
		free(r.head);
		free(r.body);
		return;
	}
	pthread_mutex_lock(&m->lock);
	idx = m->nreqs;
	if (m->nreqs < MOCK_MAX_REQUESTS) {
		m->reqs[m->nreqs++] = r;
	} else {
		free(r.head);
		free(r.body);
	}
	if (m->nscript)
		reply = m->script[idx < m->nscript ? idx : m->nscript - 1];
	pthread_mutex_unlock(&m->lock);

	if (reply.status == 0)
		return;
	n = snprintf(head, sizeof(head),
		     "HTTP/1.1 %d %s\r\nContent-Type: application/json\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n%s\r\n",
		     reply.status, mock_reason(reply.status),
		     reply.body ? strlen(reply.body) : (size_t)0,
		     reply.headers ? reply.headers : "");
	if (n > 0 && mock_write_all(fd, head, (size_t)n) == 0 && reply.body)
		mock_write_all(fd, reply.body, strlen(reply.body));
}

static void *mock_thread(void *arg)
{
	struct mock *m = arg;

	for (;;) {
		struct pollfd p[2] = { { m->listen_fd, POLLIN, 0 }, { m->wake[0], POLLIN, 0 } };
		int fd;

		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[1].revents)
			break;
		fd = accept(m->listen_fd, NULL, NULL);
		if (fd < 0)
			continue;
		mock_serve(m, fd);
		close(fd);
	}
	return NULL;
}

static int mock_listen(int *port)
{
	struct sockaddr_in sa;
	socklen_t slen = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&sa, &slen) != 0) {
		close(fd);
		return -1;
	}
	*port = ntohs(sa.sin_port);
	return fd;
}

static struct mock *mock_start(const struct mock_reply *script, size_t nscript)
{
	struct mock *m = calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	m->script = script;
	m->nscript = nscript;
	pthread_mutex_init(&m->lock, NULL);
	m->listen_fd = mock_listen(&m->port);
	if (m->listen_fd < 0 || listen(m->listen_fd, 16) != 0 || pipe(m->wake) != 0 ||
	    pthread_create(&m->thread, NULL, mock_thread, m) != 0) {
		fprintf(stderr, "mock server failed to start: %s\n", strerror(errno));
		exit(2);
	}
	snprintf(m->base, sizeof(m->base), "http://127.0.0.1:%d/api/v2", m->port);
	return m;
}

static void mock_stop(struct mock *m)
{
	size_t i;

	if (write(m->wake[1], "x", 1) != 1)
		fprintf(stderr, "mock: cannot wake the server thread\n");
	pthread_join(m->thread, NULL);
	close(m->wake[0]);
	close(m->wake[1]);
	close(m->listen_fd);
	for (i = 0; i < m->nreqs; i++) {
		free(m->reqs[i].head);
		free(m->reqs[i].body);
	}
	pthread_mutex_destroy(&m->lock);
	free(m);
}

static size_t mock_count(struct mock *m)
{
	size_t n;

	pthread_mutex_lock(&m->lock);
	n = m->nreqs;
	pthread_mutex_unlock(&m->lock);
	return n;
}

/* Value of header @name in request @i, into @buf; NULL when absent. */
static const char *mock_header(struct mock *m, size_t i, const char *name, char *buf,
			       size_t size)
{
	const char *line;
	size_t nlen = strlen(name);

	if (i >= mock_count(m))
		return NULL;
	for (line = m->reqs[i].head; line && *line; line = strchr(line, '\n')) {
		if (*line == '\n')
			line++;
		if (strncasecmp(line, name, nlen) == 0 && line[nlen] == ':') {
			const char *v = line + nlen + 1;
			size_t n;

			while (*v == ' ')
				v++;
			n = strcspn(v, "\r\n");
			if (n >= size)
				n = size - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

/* ---- helpers ---- */

static struct api *test_api(const char *base, double deadline_s)
{
	struct api_config cfg = {
		.base_url = base,
		.api_key = TEST_KEY,
		.project_id = "p1",
		.request_timeout_s = 2,
		.retry_deadline_s = deadline_s,
	};
	struct api *a = api_new(&cfg);

	if (!a) {
		fprintf(stderr, "api_new failed\n");
		exit(2);
	}
	return a;
}

static double test_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Every message the API hands back must be free of the key. */
static void check_no_key(const struct api_error *err)
{
	CHECK(strstr(err->message, TEST_KEY) == NULL);
	CHECK(strstr(err->code, TEST_KEY) == NULL);
}

static const char *test_json_str(struct json_object *o, const char *key)
{
	struct json_object *v;

	if (!json_object_object_get_ex(o, key, &v))
		return NULL;
	return json_object_get_string(v);
}

#define SNAP_OK "{\"snapshot\":{\"id\":\"snap-1\",\"name\":\"v1\"},\"operations\":[]}"
#define LIST_OK "{\"snapshots\":[{\"id\":\"snap-1\",\"name\":\"v1\"}]}"
#define LOCKED "{\"code\":\"\",\"message\":\"project is locked by another operation\"}"

/* ---- the tests ---- */

static void test_escape(void)
{
	char *e = api_escape("a b/c?d&e=f~._-%\xc3\xa9");

	CHECK_STR(e, "a%20b%2Fc%3Fd%26e%3Df~._-%25%C3%A9");
	free(e);
	e = api_escape("");
	CHECK_STR(e, "");
	free(e);
	CHECK(api_escape(NULL) == NULL);
}

static void test_headers_and_list(void)
{
	static const struct mock_reply script[] = { { 200, NULL, LIST_OK } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_list *snaps = NULL;
	char buf[256];

	CHECK_INT(api_list_snapshots(a, &snaps, &err), 0);
	CHECK_INT(model_count(snaps), 1);
	CHECK_STR(model_snapshot_at(snaps, 0)->name, "v1");
	CHECK_INT(err.err, 0);
	CHECK_INT(mock_count(m), 1);
	CHECK_STR(m->reqs[0].method, "GET");
	CHECK_STR(m->reqs[0].target, "/api/v2/projects/p1/snapshots");
	CHECK_STR(mock_header(m, 0, "Authorization", buf, sizeof(buf)), "Bearer " TEST_KEY);
	CHECK_STR(mock_header(m, 0, "Accept", buf, sizeof(buf)), "application/json");
	CHECK(mock_header(m, 0, "User-Agent", buf, sizeof(buf)) &&
	      strncmp(buf, "neonfs/", 7) == 0);
	CHECK(mock_header(m, 0, "X-Request-ID", buf, sizeof(buf)) && strlen(buf) == 36 &&
	      buf[8] == '-' && buf[14] == '4');
	model_list_put(snaps);
	api_free(a);
	mock_stop(m);
}

static void test_locked_twice(void)
{
	static const struct mock_reply script[] = {
		{ 423, NULL, LOCKED }, { 423, NULL, LOCKED }, { 200, NULL, SNAP_OK },
	};
	struct mock *m = mock_start(script, 3);
	struct api *a = test_api(m->base, 3);
	struct api_error err;
	struct api_stats st;
	struct model_answer *resp = NULL;
	char id1[128], id2[128];

	CHECK_INT(api_create_snapshot(a, "br-main", "v1", NULL, NULL, &resp, &err), 0);
	CHECK(resp && resp->snapshot);
	CHECK_STR(resp->snapshot->u.snapshot.id, "snap-1");
	CHECK_INT(mock_count(m), 3);
	api_get_stats(a, &st);
	CHECK_INT(st.requests, 3);
	CHECK_INT(st.retries, 2);
	/* Every exchange carries its own request id. */
	CHECK(mock_header(m, 0, "X-Request-ID", id1, sizeof(id1)) &&
	      mock_header(m, 1, "X-Request-ID", id2, sizeof(id2)) && strcmp(id1, id2) != 0);
	/* ... and the retries of one call share all but the attempt counter. */
	CHECK(strncmp(id1, id2, 32) == 0);
	model_answer_free(resp);
	api_free(a);
	mock_stop(m);
}

static void test_locked_until_deadline(void)
{
	static const struct mock_reply script[] = { { 423, NULL, LOCKED } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 0.3);
	struct api_error err;
	struct model_answer *resp = NULL;

	CHECK_INT(api_delete_snapshot(a, "snap-1", &resp, &err), -EBUSY);
	CHECK_INT(err.err, EBUSY);
	CHECK_INT(err.http_status, 423);
	CHECK(strstr(err.message, "locked by another operation") != NULL);
	CHECK(mock_count(m) >= 2);
	CHECK(resp == NULL);
	check_no_key(&err);
	api_free(a);
	mock_stop(m);
}

static void test_unavailable_once(void)
{
	static const struct mock_reply script[] = {
		{ 503, NULL, "{\"code\":\"\",\"message\":\"down for a moment\"}" },
		{ 200, NULL, "{\"branch\":{\"id\":\"br-x\"},\"operations\":[]}" },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_answer *resp = NULL;

	/* 503 is safe to repeat even for a POST. */
	CHECK_INT(api_restore_snapshot(a, "snap-1", "br-main", true, NULL, &resp, &err), 0);
	CHECK_INT(mock_count(m), 2);
	CHECK_STR(m->reqs[1].target, "/api/v2/projects/p1/snapshots/snap-1/restore");
	model_answer_free(resp);
	api_free(a);
	mock_stop(m);
}

static void test_retry_after(void)
{
	static const struct mock_reply script[] = {
		{ 429, "Retry-After: 1\r\n", "{\"code\":\"\",\"message\":\"slow down\"}" },
		{ 200, NULL, LIST_OK },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 3);
	struct api_error err;
	struct model_list *snaps = NULL;
	double t0 = test_now();

	CHECK_INT(api_list_snapshots(a, &snaps, &err), 0);
	CHECK_INT(mock_count(m), 2);
	/* A lower bound cannot flake: the client must have waited what it was told. */
	CHECK(test_now() - t0 >= 0.95);
	model_list_put(snaps);
	api_free(a);
	mock_stop(m);
}

static void test_retry_after_beyond_deadline(void)
{
	static const struct mock_reply script[] = {
		{ 429, "Retry-After: 30\r\n", "{\"code\":\"\",\"message\":\"slow down\"}" },
		{ 200, NULL, LIST_OK },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 1);
	struct api_error err;
	struct model_list *snaps = NULL;

	CHECK_INT(api_list_snapshots(a, &snaps, &err), -EAGAIN);
	CHECK_INT(mock_count(m), 1);
	CHECK(strstr(err.message, "slow down") != NULL);
	api_free(a);
	mock_stop(m);
}

static void test_conflict(void)
{
	static const struct mock_reply script[] = {
		{ 409, NULL, "{\"code\":\"CONFLICT\",\"message\":\"snapshot name already exists\","
			     "\"request_id\":\"r1\"}" },
	};
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_answer *resp = NULL;

	CHECK_INT(api_create_snapshot(a, "br-main", "v1", NULL, NULL, &resp, &err), -EEXIST);
	CHECK_INT(err.err, EEXIST);
	CHECK_INT(err.http_status, 409);
	CHECK_STR(err.code, "CONFLICT");
	CHECK_STR(err.message, "create snapshot: HTTP 409: snapshot name already exists");
	CHECK_INT(mock_count(m), 1);
	check_no_key(&err);
	api_free(a);
	mock_stop(m);
}

static void test_not_found_restore(void)
{
	static const struct mock_reply script[] = { { 404, NULL, NULL } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_answer *resp = NULL;

	/* No message from the server: the table's words stand in. */
	CHECK_INT(api_restore_snapshot(a, "snap-x", "br-main", true, NULL, &resp, &err), -ENOENT);
	CHECK_STR(err.message, "restore snapshot: HTTP 404: unknown snapshot");
	CHECK_INT(mock_count(m), 1);
	api_free(a);
	mock_stop(m);
}

static void test_post_dropped(void)
{
	static const struct mock_reply script[] = { { 0, NULL, NULL }, { 200, NULL, SNAP_OK } };
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct api_stats st;
	struct model_answer *resp = NULL;

	/* The server read the request: it may have acted, so never send it twice. */
	CHECK_INT(api_create_snapshot(a, "br-main", "v1", NULL, NULL, &resp, &err), -EIO);
	CHECK_INT(err.err, EIO);
	CHECK_INT(err.http_status, 0);
	CHECK(strstr(err.message, "create snapshot: ") == err.message);
	CHECK(strstr(err.message, "may have been applied") != NULL);
	CHECK_INT(mock_count(m), 1);
	api_get_stats(a, &st);
	CHECK_INT(st.retries, 0);
	check_no_key(&err);
	api_free(a);
	mock_stop(m);
}

static void test_post_bad_gateway(void)
{
	static const struct mock_reply script[] = { { 502, NULL, NULL }, { 200, NULL, SNAP_OK } };
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_answer *resp = NULL;

	CHECK_INT(api_rename_snapshot(a, "snap-1", "v2", &resp, &err), -EIO);
	CHECK_INT(mock_count(m), 1);
	CHECK(strstr(err.message, "may have been applied") != NULL);
	api_free(a);
	mock_stop(m);
}

static void test_get_dropped_and_bad_gateway(void)
{
	static const struct mock_reply script[] = {
		{ 0, NULL, NULL }, { 502, NULL, NULL }, { 200, NULL, LIST_OK },
	};
	struct mock *m = mock_start(script, 3);
	struct api *a = test_api(m->base, 3);
	struct api_error err;
	struct model_list *snaps = NULL;

	CHECK_INT(api_list_snapshots(a, &snaps, &err), 0);
	CHECK_INT(mock_count(m), 3);
	model_list_put(snaps);
	api_free(a);
	mock_stop(m);
}

static void test_connection_refused(void)
{
	struct api_error err;
	struct api_stats st;
	struct model_list *out = NULL;
	struct model_answer *ans = NULL;
	struct api *a;
	char base[64];
	int port, fd;

	/* A port that was just free and has nobody listening on it. */
	fd = mock_listen(&port);
	CHECK(fd >= 0);
	close(fd);
	snprintf(base, sizeof(base), "http://127.0.0.1:%d/api/v2", port);
	a = test_api(base, 0.4);

	CHECK_INT(api_list_snapshots(a, &out, &err), -ECONNREFUSED);
	CHECK_INT(err.http_status, 0);
	api_get_stats(a, &st);
	CHECK(st.requests >= 2);
	CHECK_INT(st.retries, st.requests - 1);
	check_no_key(&err);

	/* Nothing reached a server, so even a POST is repeated. */
	CHECK_INT(api_create_snapshot(a, "br-main", "v1", NULL, NULL, &ans, &err), -ECONNREFUSED);
	CHECK(strstr(err.message, "may have been applied") == NULL);
	api_get_stats(a, &st);
	CHECK(st.requests >= 4);
	api_free(a);
}

static void test_create_snapshot_query(void)
{
	static const struct mock_reply script[] = { { 200, NULL, SNAP_OK } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_answer *resp = NULL;
	char buf[128];

	CHECK_INT(api_create_snapshot(a, "br-main", "my snap", "0/1A2B3C", NULL, &resp, &err), 0);
	CHECK_INT(mock_count(m), 1);
	CHECK_STR(m->reqs[0].method, "POST");
	CHECK_STR(m->reqs[0].target,
		  "/api/v2/projects/p1/branches/br-main/snapshot?name=my%20snap&lsn=0%2F1A2B3C");
	CHECK_INT(m->reqs[0].body_len, 0);
	CHECK(!mock_header(m, 0, "Content-Type", buf, sizeof(buf)) ||
	      strstr(buf, "json") == NULL);
	model_answer_free(resp);

	/* Branch head: no lsn parameter at all. */
	CHECK_INT(api_create_snapshot(a, "br-main", "v2", NULL, NULL, &resp, &err), 0);
	CHECK_STR(m->reqs[1].target, "/api/v2/projects/p1/branches/br-main/snapshot?name=v2");
	model_answer_free(resp);

	/* snapshot_ttl: the expiry goes with the create, as the spec's expires_at parameter. */
	CHECK_INT(api_create_snapshot(a, "br-main", "v3", NULL, "2027-01-07T00:00:00Z", &resp,
				      &err), 0);
	CHECK_STR(m->reqs[2].target, "/api/v2/projects/p1/branches/br-main/snapshot"
		  "?name=v3&expires_at=2027-01-07T00%3A00%3A00Z");
	model_answer_free(resp);
	api_free(a);
	mock_stop(m);
}

static void test_bodies_and_escaping(void)
{
	static const struct mock_reply script[] = { { 200, NULL, "{\"snapshot\":{}}" } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_answer *resp = NULL;
	struct json_object *body, *v;
	char *uri = NULL;
	char buf[128];

	CHECK_INT(api_rename_snapshot(a, "snap/../x y", "new name", &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[0].method, "PATCH");
	CHECK_STR(m->reqs[0].target, "/api/v2/projects/p1/snapshots/snap%2F..%2Fx%20y");
	CHECK_STR(mock_header(m, 0, "Content-Type", buf, sizeof(buf)), "application/json");
	body = json_tokener_parse(m->reqs[0].body);
	CHECK(json_object_object_get_ex(body, "snapshot", &v));
	CHECK_STR(test_json_str(v, "name"), "new name");
	json_object_put(body);

	CHECK_INT(api_restore_snapshot(a, "snap-1", "br-main", false, "preview", &resp, &err), 0);
	model_answer_free(resp);
	body = json_tokener_parse(m->reqs[1].body);
	CHECK_STR(test_json_str(body, "target_branch_id"), "br-main");
	CHECK(json_object_object_get_ex(body, "finalize_restore", &v) &&
	      json_object_is_type(v, json_type_boolean) && !json_object_get_boolean(v));
	CHECK_STR(test_json_str(body, "name"), "preview");
	json_object_put(body);

	CHECK_INT(api_finalize_restore(a, "br-new", "main_old", &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[2].target, "/api/v2/projects/p1/branches/br-new/finalize_restore");
	body = json_tokener_parse(m->reqs[2].body);
	CHECK_STR(test_json_str(body, "name"), "main_old");
	json_object_put(body);

	CHECK_INT(api_create_branch(a, "br-main", "exp", &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[3].target, "/api/v2/projects/p1/branches");
	body = json_tokener_parse(m->reqs[3].body);
	CHECK(json_object_object_get_ex(body, "branch", &v));
	CHECK_STR(test_json_str(v, "parent_id"), "br-main");
	CHECK_STR(test_json_str(v, "name"), "exp");
	CHECK(json_object_object_get_ex(body, "endpoints", &v) &&
	      json_object_array_length(v) == 1);
	CHECK_STR(test_json_str(json_object_array_get_idx(v, 0), "type"), "read_write");
	json_object_put(body);

	CHECK_INT(api_create_endpoint(a, "br-new", &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[4].target, "/api/v2/projects/p1/endpoints");
	body = json_tokener_parse(m->reqs[4].body);
	CHECK(json_object_object_get_ex(body, "endpoint", &v));
	CHECK_STR(test_json_str(v, "branch_id"), "br-new");
	CHECK_STR(test_json_str(v, "type"), "read_write");
	json_object_put(body);

	CHECK_INT(api_delete_branch(a, "br-old", &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[5].method, "DELETE");
	CHECK_STR(m->reqs[5].target, "/api/v2/projects/p1/branches/br-old");

	/* The answer here has no "uri": the call says so instead of crashing. */
	CHECK_INT(api_connection_uri(a, "br-1", "my db", "own&er", &uri, &err), -EIO);
	CHECK(uri == NULL);
	CHECK_STR(m->reqs[6].target,
		  "/api/v2/projects/p1/connection_uri?branch_id=br-1&database_name=my%20db"
		  "&role_name=own%26er");

	/* An empty id would address the collection instead of one item; "." and ".." stay
	 * as they are when escaped and resolve to the project itself (DELETE /projects/p1). */
	CHECK_INT(api_delete_snapshot(a, "", &resp, &err), -EINVAL);
	CHECK_INT(api_delete_snapshot(a, "..", &resp, &err), -EINVAL);
	CHECK_INT(api_delete_branch(a, ".", &resp, &err), -EINVAL);
	CHECK_INT(mock_count(m), 7);


	/* An expiry is set with its time and cleared with null, never left out. */
	CHECK_INT(api_expire_snapshot(a, "snap-1", "2027-01-07T00:00:00Z", &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[7].method, "PATCH");
	CHECK_STR(m->reqs[7].target, "/api/v2/projects/p1/snapshots/snap-1");
	CHECK_STR(m->reqs[7].body, "{\"snapshot\":{\"expires_at\":\"2027-01-07T00:00:00Z\"}}");
	CHECK_INT(api_expire_snapshot(a, "snap-1", NULL, &resp, &err), 0);
	model_answer_free(resp);
	CHECK_STR(m->reqs[8].body, "{\"snapshot\":{\"expires_at\":null}}");
	CHECK_INT(mock_count(m), 9);
	api_free(a);
	mock_stop(m);
}

static void test_connection_uri(void)
{
	static const struct mock_reply script[] = {
		{ 200, NULL, "{\"uri\":\"postgresql://u:pw@h/db\"}" },
	};
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	char *uri = NULL;

	CHECK_INT(api_connection_uri(a, "br-1", "neondb", "owner", &uri, &err), 0);
	CHECK_STR(uri, "postgresql://u:pw@h/db");
	free(uri);
	api_free(a);
	mock_stop(m);
}

static void test_branch_pages(void)
{
	static const struct mock_reply script[] = {
		{ 200, NULL, "{\"branches\":[{\"id\":\"br-1\"},{\"id\":\"br-2\"}],\"annotations\":{},"
			     "\"pagination\":{\"next\":\"c/1 x\",\"sort_by\":\"created_at\"}}" },
		{ 200, NULL, "{\"branches\":[{\"id\":\"br-3\"}],\"annotations\":{},"
			     "\"pagination\":{}}" },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct model_list *branches = NULL;

	CHECK_INT(api_list_branches(a, &branches, &err), 0);
	CHECK_INT(mock_count(m), 2);
	CHECK_INT(model_count(branches), 3);
	CHECK_STR(model_branch_at(branches, 0)->id, "br-1");
	CHECK_STR(model_branch_at(branches, 2)->id, "br-3");
	CHECK(strncmp(m->reqs[0].target, "/api/v2/projects/p1/branches?", 29) == 0);
	CHECK(strstr(m->reqs[0].target, "cursor=") == NULL);
	CHECK(strstr(m->reqs[1].target, "cursor=c%2F1%20x") != NULL);
	model_list_put(branches);
	api_free(a);
	mock_stop(m);
}

static void test_generic_call(void)
{
	static const struct mock_reply script[] = {
		{ 404, NULL, "{\"code\":\"\",\"message\":\"branch not found\"}" },
		{ 204, NULL, NULL },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	char *out = NULL;

	CHECK_INT(api_call(a, ERRMAP_READ, "GET", "/projects/p1/branches/br-9", NULL, NULL, &out,
			   &err), -ENOENT);
	CHECK(strstr(err.message, "branch not found") != NULL);
	CHECK_INT(mock_count(m), 1);
	/* An answer without a body is success with nothing to parse. */
	CHECK_INT(api_call(a, ERRMAP_ANY, "DELETE", "/projects/p1/branches/br-9", "hard_delete=true",
			   NULL, &out, &err), 0);
	CHECK(out == NULL);
	CHECK_STR(m->reqs[1].target, "/api/v2/projects/p1/branches/br-9?hard_delete=true");
	api_free(a);
	mock_stop(m);
}

struct hammer {
	struct api *a;
	int failures;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	int i;

	for (i = 0; i < 5; i++) {
		struct model_list *snaps = NULL;
		struct api_error err;

		if (api_list_snapshots(h->a, &snaps, &err) != 0 ||
		    model_count(snaps) != 1)
			h->failures++;
		model_list_put(snaps);
	}
	return NULL;
}

/* Many FUSE threads share one struct api. */
static void test_concurrent_calls(void)
{
	static const struct mock_reply script[] = { { 200, NULL, LIST_OK } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 5);
	struct hammer h[8];
	pthread_t t[8];
	struct api_stats st;
	int i, started = 0;

	for (i = 0; i < 8; i++) {
		h[i].a = a;
		h[i].failures = 0;
		if (pthread_create(&t[i], NULL, hammer_thread, &h[i]) != 0)
			break;
		started++;
	}
	CHECK_INT(started, 8);
	for (i = 0; i < started; i++) {
		pthread_join(t[i], NULL);
		CHECK_INT(h[i].failures, 0);
	}
	api_get_stats(a, &st);
	CHECK_INT(st.requests, 5 * started);
	CHECK_INT(mock_count(m), 5 * started);
	api_free(a);
	mock_stop(m);
}

/* ---- operations ---- */

#define OP(id, status, extra) \
	"{\"operation\":{\"id\":\"" id "\",\"project_id\":\"p1\",\"action\":\"create_branch\"," \
	"\"status\":\"" status "\",\"failures_count\":0" extra "}}"

struct progress_log {
	int rounds;
	size_t last_len;
};

static void test_progress(void *data, const struct neon_operation *ops, size_t n)
{
	struct progress_log *p = data;

	p->rounds++;
	p->last_len = n;
}

/* Operations as a mutation's answer gives them. */
struct test_ops {
	struct model_answer *answer;
	struct neon_operation *v;
	size_t n;
};

static struct test_ops test_ops(const char *json)
{
	struct test_ops t = { 0 };
	char *text = NULL, msg[256];

	CHECK(asprintf(&text, "{\"operations\":%s}", json) > 0);
	CHECK_INT(model_answer_parse(text, &t.answer, msg, sizeof(msg)), 0);
	free(text);
	if (t.answer) {
		t.v = t.answer->ops;
		t.n = t.answer->nops;
	}
	return t;
}

static void test_wait_running_finished(void)
{
	static const struct mock_reply script[] = {
		{ 200, NULL, OP("op-1", "running", "") },
		{ 200, NULL, OP("op-1", "running", "") },
		{ 200, NULL, OP("op-1", "finished", "") },
	};
	struct mock *m = mock_start(script, 3);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct progress_log pl = { 0, 0 };
	struct test_ops ops = test_ops("[{\"id\":\"op-1\",\"action\":\"create_branch\","
					   "\"status\":\"scheduling\"},"
					   "{\"id\":\"op-2\",\"action\":\"start_compute\","
					   "\"status\":\"finished\"}]");
	struct neon_operation *latest = NULL;

	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 5, test_progress, &pl, &latest, &err), 0);
	/* Only the unfinished one is polled, and exactly until it finished. */
	CHECK_INT(mock_count(m), 3);
	CHECK_STR(m->reqs[0].target, "/api/v2/projects/p1/operations/op-1");
	CHECK_STR(m->reqs[2].target, "/api/v2/projects/p1/operations/op-1");
	CHECK_INT(pl.rounds, 3);
	CHECK_INT(pl.last_len, 2);
	CHECK(latest != NULL);
	CHECK_STR(latest[0].status, "finished");
	CHECK_STR(latest[1].id, "op-2");
	free(latest);
	model_answer_free(ops.answer);
	api_free(a);
	mock_stop(m);
}

static void test_wait_poll_rate(void)
{
	static const struct mock_reply script[] = { { 200, NULL, OP("op-1", "running", "") } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct test_ops ops = test_ops("[{\"id\":\"op-1\",\"status\":\"running\"}]");
	size_t n;

	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 0.6, NULL, NULL, NULL, &err), -ETIMEDOUT);
	CHECK(strstr(err.message, "op-1") != NULL);
	CHECK(strstr(err.message, "running") != NULL);
	/* Every 20 ms until 10% of the elapsed time is longer (0.2 s), then each interval
	 * 10% of the time waited: about 22 polls in 0.6 s; not one and not hundreds.
	 * A slow machine only makes the count smaller. */
	n = mock_count(m);
	CHECK(n >= 5);
	CHECK(n <= 30);
	model_answer_free(ops.answer);
	api_free(a);
	mock_stop(m);
}

static void test_wait_failed_then_finished(void)
{
	static const struct mock_reply script[] = {
		{ 200, NULL, OP("op-1", "failed", ",\"error\":\"transient\"") },
		{ 200, NULL, OP("op-1", "finished", "") },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct test_ops ops = test_ops("[{\"id\":\"op-1\",\"status\":\"running\"}]");

	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 5, NULL, NULL, NULL, &err), 0);
	CHECK_INT(mock_count(m), 2);
	model_answer_free(ops.answer);
	api_free(a);
	mock_stop(m);
}

static void test_wait_error(void)
{
	static const struct mock_reply script[] = {
		{ 200, NULL, OP("op-1", "running", "") },
		{ 200, NULL, OP("op-1", "error", ",\"error\":\"timeline is broken\"") },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct test_ops ops = test_ops("[{\"id\":\"op-1\",\"status\":\"running\"}]");
	struct neon_operation *latest = NULL;

	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 5, NULL, NULL, &latest, &err), -EIO);
	CHECK_INT(err.err, EIO);
	CHECK(strstr(err.message, "timeline is broken") != NULL);
	CHECK(strstr(err.message, "create_branch") != NULL);
	CHECK_INT(mock_count(m), 2);
	CHECK(latest != NULL);
	CHECK_STR(latest[0].status, "error");
	CHECK_STR(latest[0].error, "timeline is broken");
	free(latest);
	model_answer_free(ops.answer);
	api_free(a);
	mock_stop(m);
}

static void test_wait_cancelled_and_missing(void)
{
	static const struct mock_reply script[] = {
		{ 200, NULL, OP("op-1", "cancelled", "") },
		{ 404, NULL, "{\"code\":\"\",\"message\":\"operation not found\"}" },
	};
	struct mock *m = mock_start(script, 2);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct test_ops ops = test_ops("[{\"id\":\"op-1\",\"status\":\"running\"}]");

	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 5, NULL, NULL, NULL, &err), -ECANCELED);
	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 5, NULL, NULL, NULL, &err), -ENOENT);
	CHECK(strstr(err.message, "operation not found") != NULL);
	CHECK_INT(mock_count(m), 2);
	model_answer_free(ops.answer);
	api_free(a);
	mock_stop(m);
}

static void test_wait_empty(void)
{
	static const struct mock_reply script[] = { { 500, NULL, NULL } };
	struct mock *m = mock_start(script, 1);
	struct api *a = test_api(m->base, 2);
	struct api_error err;
	struct test_ops ops = test_ops("[]");
	struct neon_operation *latest = NULL;
	struct progress_log pl = { 0, 0 };

	CHECK_INT(api_wait_operations(a, ops.v, ops.n, 5, test_progress, &pl, &latest, &err), 0);
	CHECK_INT(mock_count(m), 0);
	CHECK_INT(pl.rounds, 0);
	CHECK(latest != NULL);
	free(latest);
	model_answer_free(ops.answer);
	api_free(a);
	mock_stop(m);
}

/* Logs go to a file while the tests run, so the key can be looked for in them too.
 * It stays on disk if a test crashes, for a look at what happened. */
static const char capture_path[] = "test_api.stderr.log";
static int saved_stderr = -1;

static void capture_begin(void)
{
	int fd = open(capture_path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		return;
	fflush(stderr);
	saved_stderr = dup(2);
	if (saved_stderr < 0 || dup2(fd, 2) < 0) {
		close(fd);
		return;
	}
	close(fd);
}

static void capture_end(void)
{
	char buf[4096];
	FILE *f;
	size_t n;
	int found = 0;

	if (saved_stderr < 0) {
		fprintf(stderr, "note: logs were not captured; key-in-logs check skipped\n");
		return;
	}
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	f = fopen(capture_path, "r");
	if (!f) {
		CHECK(f != NULL);
		return;
	}
	while (fgets(buf, sizeof(buf), f)) {
		if (strstr(buf, TEST_KEY))
			found = 1;
		n = strlen(buf);
		fwrite(buf, 1, n, stderr);
	}
	fclose(f);
	CHECK(!found);
	if (!check_failures)
		unlink(capture_path);
}

int main(void)
{
	log_init(LOG_LEVEL_DEBUG, 0);
	capture_begin();

	test_escape();
	test_headers_and_list();
	test_locked_twice();
	test_locked_until_deadline();
	test_unavailable_once();
	test_retry_after();
	test_retry_after_beyond_deadline();
	test_conflict();
	test_not_found_restore();
	test_post_dropped();
	test_post_bad_gateway();
	test_get_dropped_and_bad_gateway();
	test_connection_refused();
	test_create_snapshot_query();
	test_bodies_and_escaping();
	test_connection_uri();
	test_branch_pages();
	test_generic_call();
	test_concurrent_calls();
	test_wait_running_finished();
	test_wait_poll_rate();
	test_wait_failed_then_finished();
	test_wait_error();
	test_wait_cancelled_and_missing();
	test_wait_empty();

	capture_end();
	CHECK_DONE();
}
