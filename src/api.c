/* api: the Neon HTTP API v2 over libcurl, answers parsed with json-c.
 *
 * Thread-safety: any number of threads may call into one struct api at once.
 * Each call takes a curl easy handle from a small pool (so connections and TLS
 * sessions are reused) and gives it back afterwards; the pool and the counters
 * are guarded by one mutex. Nothing else in struct api changes after api_new().
 *
 * Retries follow the API's own guidance: 423 and 503 are always safe, 429 is
 * rate limiting, a request that never left this host may be repeated, and
 * everything else is repeated for GET only. A POST, PATCH or DELETE that may
 * have reached the server is never sent twice. */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <sys/random.h>
#include <curl/curl.h>
#include <json-c/json.h>

#include "api.h"
#include "errmap.h"
#include "log.h"


#define API_POOL_MAX		8
#define API_BODY_MAX		((size_t)64 << 20)
#define API_BACKOFF_BASE_S	0.1
#define API_BACKOFF_CAP_S	5.0
#define API_RETRY_AFTER_MAX_S	3600.0
#define API_CONNECT_TIMEOUT_S	10.0
#define API_POLL_FIRST_S	0.02
#define API_POLL_FACTOR		1.5
#define API_POLL_CAP_S		1.0
#define API_POLL_FRACTION	0.10
#define API_BRANCH_PAGE		"1000"
#define API_MAX_PAGES		10000

struct api {
	char *base_url;
	char *auth_header;	/* "Authorization: Bearer ...", or NULL without a key */
	char *project_id;
	double request_timeout_s;
	double retry_deadline_s;

	pthread_mutex_t lock;	/* guards everything below */
	struct api_stats stats;
	CURL *idle[API_POOL_MAX];
	int nidle;
};

/* A growable byte buffer, always NUL-terminated once it holds anything. */
struct api_buf {
	char *data;
	size_t len;
	size_t cap;
};

/* The outcome of one HTTP exchange. */
struct api_exchange {
	long status;		/* 0 when the transport failed */
	CURLcode cc;
	int sent;		/* part of the request reached the wire */
	double retry_after;	/* seconds the server asked us to wait, or < 0 */
	struct api_buf body;
	char errbuf[CURL_ERROR_SIZE];
};

/* GeneralError, as far as the answer carried one. */
struct api_general_error {
	char code[64];
	char message[400];
};

static pthread_once_t api_once = PTHREAD_ONCE_INIT;
static CURLcode api_global_rc = CURLE_FAILED_INIT;

static void api_global_init(void)
{
	api_global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static double api_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Absolute sleeps, so an interrupted sleep resumes without drifting. */
static void api_sleep_until(double t)
{
	struct timespec ts;

	if (t <= api_now())
		return;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}

static uint64_t api_random(void)
{
	static atomic_uint_fast64_t fallback;
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* Only jitter and request ids depend on this, so splitmix64 over the
	 * clock is good enough when the kernel has no entropy to spare. */
	v = atomic_fetch_add(&fallback, UINT64_C(0x9e3779b97f4a7c15)) +
	    (uint64_t)(api_now() * 1e9);
	v = (v ^ (v >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	v = (v ^ (v >> 27)) * UINT64_C(0x94d049bb133111eb);
	return v ^ (v >> 31);
}

/* Uniform in [0, 1). */
static double api_random_unit(void)
{
	return (double)(api_random() >> 11) * (1.0 / 9007199254740992.0);
}

static void api_error_clear(struct api_error *err)
{
	if (err)
		memset(err, 0, sizeof(*err));
}

/* The user reads these; a stray control character must not garble a terminal. */
static void api_sanitize(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = ' ';
}

__attribute__((format(printf, 5, 6)))
static int api_fail(struct api_error *err, long status, int e, const char *code,
		    const char *fmt, ...)
{
	va_list ap;

	if (err) {
		err->http_status = status;
		err->err = e;
		snprintf(err->code, sizeof(err->code), "%s", code ? code : "");
		va_start(ap, fmt);
		vsnprintf(err->message, sizeof(err->message), fmt, ap);
		va_end(ap);
		api_sanitize(err->message);
		api_sanitize(err->code);
	}
	return -e;
}

static int api_buf_append(struct api_buf *b, const char *p, size_t n)
{
	if (n > API_BODY_MAX - b->len)
		return -EFBIG;
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 1024;
		char *d;

		while (cap < b->len + n + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			return -ENOMEM;
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, n);
	b->len += n;
	b->data[b->len] = '\0';
	return 0;
}

static int api_buf_puts(struct api_buf *b, const char *s)
{
	return api_buf_append(b, s, strlen(s));
}

static void api_buf_free(struct api_buf *b)
{
	free(b->data);
	memset(b, 0, sizeof(*b));
}

static int api_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
	       c == '-' || c == '.' || c == '_' || c == '~';
}

char *api_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	char *out, *p;

	if (!s)
		return NULL;
	out = malloc(strlen(s) * 3 + 1);
	if (!out)
		return NULL;
	for (p = out; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (api_unreserved(c)) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

static int api_buf_escaped(struct api_buf *b, const char *s)
{
	char *e = api_escape(s);
	int res;

	if (!e)
		return -ENOMEM;
	res = api_buf_puts(b, e);
	free(e);
	return res;
}

/* Builds a path from @fmt, where each %s is one path segment (escaped here).
 * -EINVAL for a missing or empty segment: it would address another resource. */
static int api_path(char **out, const char *fmt, ...)
{
	struct api_buf b = { 0 };
	va_list ap;
	int res = 0;

	*out = NULL;
	va_start(ap, fmt);
	for (; *fmt && !res; fmt++) {
		if (fmt[0] == '%' && fmt[1] == 's') {
			const char *seg = va_arg(ap, const char *);

			fmt++;
			if (!seg || !*seg)
				res = -EINVAL;
			else
				res = api_buf_escaped(&b, seg);
		} else {
			res = api_buf_append(&b, fmt, 1);
		}
	}
	va_end(ap);
	if (res) {
		api_buf_free(&b);
		return res;
	}
	*out = b.data;
	return 0;
}

/* Appends key=value to a query string; a NULL value is left out. */
static int api_query_add(struct api_buf *q, const char *key, const char *value)
{
	int res;

	if (!value)
		return 0;
	if (q->len) {
		res = api_buf_puts(q, "&");
		if (res)
			return res;
	}
	res = api_buf_escaped(q, key);
	if (!res)
		res = api_buf_puts(q, "=");
	if (!res)
		res = api_buf_escaped(q, value);
	return res;
}

struct api *api_new(const struct api_config *cfg)
{
	struct api *a;
	const char *base;
	size_t len;

	pthread_once(&api_once, api_global_init);
	if (api_global_rc != CURLE_OK) {
		log_err("api: libcurl failed to initialise: %s", curl_easy_strerror(api_global_rc));
		return NULL;
	}
	if (!cfg || !cfg->project_id || !*cfg->project_id) {
		log_err("api: no project id given");
		return NULL;
	}
	/* A newline in the key would let it inject headers. */
	if (cfg->api_key && strpbrk(cfg->api_key, "\r\n")) {
		log_err("api: the API key contains a line break; refusing it");
		return NULL;
	}

	a = calloc(1, sizeof(*a));
	if (!a)
		goto fail_nomem;
	if (pthread_mutex_init(&a->lock, NULL) != 0) {
		free(a);
		goto fail_nomem;
	}
	base = cfg->base_url && *cfg->base_url ? cfg->base_url : API_DEFAULT_BASE;
	a->base_url = strdup(base);
	a->project_id = strdup(cfg->project_id);
	if (!a->base_url || !a->project_id)
		goto fail_free;
	/* Paths start with '/', so a trailing one on the base would double it. */
	len = strlen(a->base_url);
	while (len > 0 && a->base_url[len - 1] == '/')
		a->base_url[--len] = '\0';
	if (cfg->api_key && *cfg->api_key &&
	    asprintf(&a->auth_header, "Authorization: Bearer %s", cfg->api_key) < 0) {
		a->auth_header = NULL;
		goto fail_free;
	}
	a->request_timeout_s = cfg->request_timeout_s > 0 ? cfg->request_timeout_s : 30.0;
	a->retry_deadline_s = cfg->retry_deadline_s > 0 ? cfg->retry_deadline_s : 60.0;
	return a;

fail_free:
	api_free(a);
fail_nomem:
	log_err("api: out of memory");
	return NULL;
}

void api_free(struct api *a)
{
	int i;

	if (!a)
		return;
	for (i = 0; i < a->nidle; i++)
		curl_easy_cleanup(a->idle[i]);
	pthread_mutex_destroy(&a->lock);
	if (a->auth_header) {
		/* Do not leave the key lying around in freed memory. */
		memset(a->auth_header, 0, strlen(a->auth_header));
		free(a->auth_header);
	}
	free(a->base_url);
	free(a->project_id);
	free(a);
}

const char *api_project_id(const struct api *a)
{
	return a->project_id;
}

void api_get_stats(struct api *a, struct api_stats *st)
{
	pthread_mutex_lock(&a->lock);
	*st = a->stats;
	pthread_mutex_unlock(&a->lock);
}

static void api_count(struct api *a, int retry)
{
	pthread_mutex_lock(&a->lock);
	a->stats.requests++;
	if (retry)
		a->stats.retries++;
	pthread_mutex_unlock(&a->lock);
}

static CURL *api_handle_get(struct api *a)
{
	CURL *h = NULL;

	pthread_mutex_lock(&a->lock);
	if (a->nidle > 0)
		h = a->idle[--a->nidle];
	pthread_mutex_unlock(&a->lock);
	return h ? h : curl_easy_init();
}

/* @keep: false after a transport failure, when the connection may be broken. */
static void api_handle_put(struct api *a, CURL *h, int keep)
{
	if (!h)
		return;
	/* Reset now: the handle still points at this request's stack buffers. */
	curl_easy_reset(h);
	if (keep) {
		pthread_mutex_lock(&a->lock);
		if (a->nidle < API_POOL_MAX) {
			a->idle[a->nidle++] = h;
			h = NULL;
		}
		pthread_mutex_unlock(&a->lock);
	}
	if (h)
		curl_easy_cleanup(h);
}

static size_t api_write_cb(char *ptr, size_t size, size_t nmemb, void *userdata)
{
	struct api_buf *b = userdata;
	size_t n = size * nmemb;

	/* Returning less than n aborts the transfer with CURLE_WRITE_ERROR. */
	return api_buf_append(b, ptr, n) == 0 ? n : 0;
}

static size_t api_header_cb(char *buf, size_t size, size_t nitems, void *userdata)
{
	static const char name[] = "retry-after:";
	struct api_exchange *x = userdata;
	size_t n = size * nitems;
	char value[32];
	char *end;
	size_t vlen;
	double v;

	if (n <= sizeof(name) - 1 || strncasecmp(buf, name, sizeof(name) - 1) != 0)
		return n;
	vlen = n - (sizeof(name) - 1);
	if (vlen >= sizeof(value))
		vlen = sizeof(value) - 1;
	memcpy(value, buf + sizeof(name) - 1, vlen);
	value[vlen] = '\0';
	/* Only the delta-seconds form; an HTTP date falls back to our own backoff. */
	v = strtod(value, &end);
	if (end != value && v >= 0) {
		while (*end == ' ' || *end == '\t' || *end == '\r' || *end == '\n')
			end++;
		if (*end == '\0')
			x->retry_after = v < API_RETRY_AFTER_MAX_S ? v : API_RETRY_AFTER_MAX_S;
	}
	return n;
}

static int api_headers_add(struct curl_slist **list, const char *line)
{
	struct curl_slist *l = curl_slist_append(*list, line);

	if (!l)
		return -ENOMEM;
	*list = l;
	return 0;
}

/* One HTTP exchange. Returns 0 when it ran (the outcome is in *x, whatever it
 * was) or a negative errno when it could not even be set up. */
static int api_exchange_run(struct api *a, const char *method, const char *url,
			    const char *body, const char *req_id, int idempotent,
			    struct api_exchange *x)
{
	struct curl_slist *hdrs = NULL;
	char idh[96];
	long req_size = 0;
	long timeout_ms = (long)(a->request_timeout_s * 1000.0);
	long connect_ms = timeout_ms < (long)(API_CONNECT_TIMEOUT_S * 1000.0) ?
			  timeout_ms : (long)(API_CONNECT_TIMEOUT_S * 1000.0);
	CURL *h;
	int res = 0;

	api_buf_free(&x->body);
	x->status = 0;
	x->cc = CURLE_FAILED_INIT;
	x->sent = 0;
	x->retry_after = -1;
	x->errbuf[0] = '\0';

	h = api_handle_get(a);
	if (!h)
		return -ENOMEM;

	snprintf(idh, sizeof(idh), "X-Request-ID: %s", req_id);
	if (api_headers_add(&hdrs, "Accept: application/json") ||
	    api_headers_add(&hdrs, idh) ||
	    /* Waiting for "100 Continue" only adds a round trip. */
	    api_headers_add(&hdrs, "Expect:") ||
	    /* Without a body, stop curl from announcing a form for POST. */
	    api_headers_add(&hdrs, body ? "Content-Type: application/json" : "Content-Type:") ||
	    (a->auth_header && api_headers_add(&hdrs, a->auth_header))) {
		res = -ENOMEM;
		goto out;
	}

	if (curl_easy_setopt(h, CURLOPT_URL, url) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_USERAGENT, "neonfs/" NEONFS_VERSION) != CURLE_OK ||
	    /* Signals and multi-threaded programs do not mix. */
	    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, connect_ms) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L) != CURLE_OK ||
	    /* A redirect would carry the Authorization header to wherever it points. */
	    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, api_write_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_WRITEDATA, &x->body) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, api_header_cb) != CURLE_OK ||
	    curl_easy_setopt(h, CURLOPT_HEADERDATA, x) != CURLE_OK) {
		res = -EINVAL;
		goto out;
	}
	/* Compressed branch lists are welcome, but a build without zlib is fine too. */
	curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "");
#if LIBCURL_VERSION_NUM >= 0x075500
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https") != CURLE_OK) {
		res = -EINVAL;
		goto out;
	}
#else
	if (curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS)) !=
	    CURLE_OK) {
		res = -EINVAL;
		goto out;
	}
#endif

	if (strcmp(method, "GET") == 0) {
		if (curl_easy_setopt(h, CURLOPT_HTTPGET, 1L) != CURLE_OK)
			res = -EINVAL;
	} else if (strcmp(method, "HEAD") == 0) {
		if (curl_easy_setopt(h, CURLOPT_NOBODY, 1L) != CURLE_OK)
			res = -EINVAL;
	} else {
		if (strcmp(method, "POST") == 0) {
			if (curl_easy_setopt(h, CURLOPT_POST, 1L) != CURLE_OK)
				res = -EINVAL;
		} else if (curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method) != CURLE_OK) {
			res = -EINVAL;
		}
		if (!res && (body || strcmp(method, "POST") == 0) &&
		    (curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)(body ? strlen(body) : 0)) !=
			     CURLE_OK ||
		     curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "") != CURLE_OK))
			res = -EINVAL;
	}
	/* On a reused connection that turns out dead, libcurl resends the request by
	 * itself; a fresh connection keeps it from doing that to a mutation. */
	if (!res && !idempotent && curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L) != CURLE_OK)
		res = -EINVAL;
	if (res)
		goto out;

	x->cc = curl_easy_perform(h);
	if (curl_easy_getinfo(h, CURLINFO_REQUEST_SIZE, &req_size) != CURLE_OK)
		req_size = 1;	/* unknown: assume it went out */
	x->sent = req_size > 0;
	if (x->cc == CURLE_OK &&
	    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &x->status) != CURLE_OK)
		x->status = 0;

out:
	curl_slist_free_all(hdrs);
	api_handle_put(a, h, x->cc == CURLE_OK);
	return res;
}

static void api_copy_json_string(char *dst, size_t size, struct json_object *o, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(o, key, &v) && json_object_is_type(v, json_type_string))
		snprintf(dst, size, "%s", json_object_get_string(v));
}

/* Reads GeneralError {code, message}; a few proxies answer {error: {...}} or plain text. */
static void api_parse_general_error(const struct api_buf *b, struct api_general_error *ge)
{
	struct json_object *o, *inner;
	enum json_tokener_error jerr;
	size_t i, n;

	ge->code[0] = '\0';
	ge->message[0] = '\0';
	if (!b->len)
		return;
	o = json_tokener_parse_verbose(b->data, &jerr);
	if (o && json_object_is_type(o, json_type_object)) {
		api_copy_json_string(ge->code, sizeof(ge->code), o, "code");
		api_copy_json_string(ge->message, sizeof(ge->message), o, "message");
		if (!ge->message[0] && json_object_object_get_ex(o, "error", &inner) &&
		    json_object_is_type(inner, json_type_object)) {
			api_copy_json_string(ge->code, sizeof(ge->code), inner, "code");
			api_copy_json_string(ge->message, sizeof(ge->message), inner, "message");
		}
	} else if (!o && b->len < 200 && !memchr(b->data, '<', b->len)) {
		/* Short plain text is worth showing; an HTML error page is not. */
		n = b->len < sizeof(ge->message) - 1 ? b->len : sizeof(ge->message) - 1;
		for (i = 0; i < n && b->data[i] != '\n' && b->data[i] != '\0'; i++)
			ge->message[i] = b->data[i];
		ge->message[i] = '\0';
	}
	json_object_put(o);
	api_sanitize(ge->code);
	api_sanitize(ge->message);
}

static int api_parse_body(struct api_buf *b, struct json_object **out, const char *what,
			  struct api_error *err)
{
	enum json_tokener_error jerr = json_tokener_success;
	struct json_object *o;
	size_t i;

	if (!out)
		return 0;
	*out = NULL;
	for (i = 0; i < b->len && strchr(" \t\r\n", b->data[i]); i++)
		;
	if (i == b->len)
		return 0;
	o = json_tokener_parse_verbose(b->data, &jerr);
	if (!o && jerr != json_tokener_success)
		return api_fail(err, 0, EIO, NULL, "%s: the API answered with invalid JSON (%s)",
				what, json_tokener_error_desc(jerr));
	*out = o;
	return 0;
}

/* Describes a failed exchange in a few words for logs and messages. */
static void api_describe(const struct api_exchange *x, enum errmap_action action,
			 char *buf, size_t size)
{
	struct api_general_error ge;

	if (x->cc != CURLE_OK) {
		snprintf(buf, size, "%s", x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->cc));
		api_sanitize(buf);
		return;
	}
	api_parse_general_error(&x->body, &ge);
	snprintf(buf, size, "HTTP %ld: %s", x->status,
		 ge.message[0] ? ge.message :
				 errmap_http_reason(action, x->status, ge.code, NULL));
}

/* Turns the last failed exchange into an errno, *err and a log line. */
static int api_failure(enum errmap_action action, const char *what, const char *method,
		       const char *path, const char *query, const struct api_exchange *x,
		       int idempotent, unsigned int attempts, const char *req_id,
		       struct api_error *err)
{
	static const char applied[] =
		"; the request may have been applied, check before repeating it";
	struct api_general_error ge;
	const char *q = query && *query ? "?" : "";
	const char *qs = query && *query ? query : "";
	const char *text;
	char tries[48] = "";
	int e;

	if (attempts > 1)
		snprintf(tries, sizeof(tries), " (gave up after %u attempts)", attempts);
	if (x->cc != CURLE_OK) {
		text = x->errbuf[0] ? x->errbuf : curl_easy_strerror(x->cc);
		e = errmap_transport((int)x->cc);
		api_fail(err, 0, e, NULL, "%s: %s%s%s", what, text,
			 !idempotent && x->sent ? applied : "", tries);
		log_err("api: %s %s%s%s failed: %s%s [%s]", method, path, q, qs, text, tries,
			req_id);
		return -e;
	}

	api_parse_general_error(&x->body, &ge);
	e = errmap_http(action, x->status, ge.code, ge.message);
	text = ge.message[0] ? ge.message :
			       errmap_http_reason(action, x->status, ge.code, ge.message);
	/* A gateway that lost the answer cannot tell whether the mutation happened. */
	api_fail(err, x->status, e, ge.code, "%s: HTTP %ld: %s%s%s", what, x->status, text,
		 !idempotent && (x->status == 502 || x->status == 504) ? applied : "", tries);
	if (x->status == 404)
		log_debug("api: %s %s%s%s: HTTP 404: %s [%s]", method, path, q, qs, text, req_id);
	else if (x->status >= 400 && x->status < 500 && x->status != 423 && x->status != 429)
		log_warn("api: %s %s%s%s: HTTP %ld%s%s: %s [%s]", method, path, q, qs, x->status,
			 ge.code[0] ? " " : "", ge.code, text, req_id);
	else
		log_err("api: %s %s%s%s: HTTP %ld%s%s: %s%s [%s]", method, path, q, qs, x->status,
			ge.code[0] ? " " : "", ge.code, text, tries, req_id);
	return -e;
}

/* One API call with retries until @deadline (absolute, api_now() clock).
 * @what says what neonfs was doing, for messages. */
static int api_request(struct api *a, enum errmap_action action, const char *what,
		       const char *method, const char *path, const char *query,
		       struct json_object *body, double deadline, struct json_object **out,
		       struct api_error *err)
{
	struct api_exchange x;
	const char *q = query && *query ? "?" : "";
	const char *qs = query && *query ? query : "";
	char *url = NULL, *body_text = NULL;
	char req_id[40], why[512];
	uint64_t id_hi, id_lo;
	double backoff = API_BACKOFF_BASE_S;
	unsigned int attempt;
	int idempotent, res;

	memset(&x, 0, sizeof(x));
	if (out)
		*out = NULL;
	api_error_clear(err);
	if (!method || !path || path[0] != '/')
		return api_fail(err, 0, EINVAL, NULL, "%s: invalid API method or path", what);
	idempotent = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	if (asprintf(&url, "%s%s%s%s", a->base_url, path, q, qs) < 0) {
		url = NULL;
		res = api_fail(err, 0, ENOMEM, NULL, "%s: out of memory", what);
		goto out;
	}
	if (body) {
		/* Copied: json-c keeps the text inside the object, which is not ours. */
		const char *s = json_object_to_json_string_ext(body, JSON_C_TO_STRING_PLAIN |
								     JSON_C_TO_STRING_NOSLASHESCAPE);

		body_text = s ? strdup(s) : NULL;
		if (!body_text) {
			res = api_fail(err, 0, ENOMEM, NULL, "%s: out of memory", what);
			goto out;
		}
	}
	/* A random UUID (version 4) per call, whose last 16 bits count the attempts:
	 * the shape servers expect, and retries of one call still share a prefix. */
	id_hi = (api_random() & UINT64_C(0xffffffffffff0fff)) | UINT64_C(0x4000);
	id_lo = (api_random() & UINT64_C(0x3fffffffffff0000)) | UINT64_C(0x8000000000000000);

	for (attempt = 1;; attempt++) {
		double start = api_now(), delay, cap;
		int retry;

		snprintf(req_id, sizeof(req_id), "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04"
			 PRIx64 "-%012" PRIx64, id_hi >> 32, (id_hi >> 16) & 0xffff, id_hi & 0xffff,
			 id_lo >> 48, (id_lo & UINT64_C(0xffffffffffff)) | (attempt & 0xffff));
		res = api_exchange_run(a, method, url, body_text, req_id, idempotent, &x);
		if (res) {
			res = api_fail(err, 0, -res, NULL, "%s: %s", what, strerror(-res));
			goto out;
		}
		api_count(a, attempt > 1);

		if (x.cc == CURLE_OK && x.status >= 200 && x.status < 300) {
			log_debug("api: %s %s%s%s -> %ld in %.0f ms [%s]", method, path, q, qs,
				  x.status, (api_now() - start) * 1000.0, req_id);
			res = api_parse_body(&x.body, out, what, err);
			goto out;
		}

		/* A request that never left this host is as safe to repeat as a GET. */
		retry = errmap_retryable(x.cc == CURLE_OK ? x.status : 0, (int)x.cc,
					 idempotent || !x.sent);
		if (!retry)
			break;
		/* Full jitter: spreads out clients that failed at the same moment. */
		cap = backoff < API_BACKOFF_CAP_S ? backoff : API_BACKOFF_CAP_S;
		delay = x.retry_after >= 0 ? x.retry_after : cap * api_random_unit();
		backoff *= 2;
		if (api_now() + delay > deadline)
			break;
		api_describe(&x, action, why, sizeof(why));
		log_info("api: %s %s%s%s: %s; retry %u in %.0f ms [%s]", method, path, q, qs, why,
			 attempt, delay * 1000.0, req_id);
		api_sleep_until(api_now() + delay);
	}
	res = api_failure(action, what, method, path, query, &x, idempotent, attempt, req_id,
			  err);

out:
	api_buf_free(&x.body);
	free(url);
	free(body_text);
	return res;
}

int api_call(struct api *a, int action, const char *method, const char *path,
	     const char *query, struct json_object *body,
	     struct json_object **out, struct api_error *err)
{
	char what[160];

	snprintf(what, sizeof(what), "%s %s", method ? method : "(no method)",
		 path ? path : "(no path)");
	return api_request(a, (enum errmap_action)action, what, method, path, query, body,
			   api_now() + a->retry_deadline_s, out, err);
}

/* Runs a call on an already built path and, with @field, keeps only that member. */
static int api_do(struct api *a, enum errmap_action action, const char *what,
		  const char *method, const char *path, const char *query,
		  struct json_object *body, const char *field, struct json_object **out,
		  struct api_error *err)
{
	struct json_object *resp = NULL, *v;
	int res;

	if (out)
		*out = NULL;
	res = api_request(a, action, what, method, path, query, body,
			  api_now() + a->retry_deadline_s, &resp, err);
	if (res)
		return res;
	if (!field) {
		if (out)
			*out = resp;
		else
			json_object_put(resp);
		return 0;
	}
	if (!json_object_object_get_ex(resp, field, &v) || !v) {
		json_object_put(resp);
		return api_fail(err, 0, EIO, NULL, "%s: the API's answer has no \"%s\"", what,
				field);
	}
	if (out)
		*out = json_object_get(v);
	json_object_put(resp);
	return 0;
}

static int api_path_fail(int res, const char *what, struct api_error *err)
{
	if (res == -EINVAL)
		return api_fail(err, 0, EINVAL, NULL, "%s: missing or empty identifier", what);
	return api_fail(err, 0, -res, NULL, "%s: %s", what, strerror(-res));
}

static int api_json_add(struct json_object *o, const char *key, struct json_object *v)
{
	if (!o || !v || json_object_object_add(o, key, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int api_json_push(struct json_object *arr, struct json_object *v)
{
	if (!arr || !v || json_object_array_add(arr, v) != 0) {
		json_object_put(v);
		return -ENOMEM;
	}
	return 0;
}

static int api_json_add_string(struct json_object *o, const char *key, const char *s)
{
	return s ? api_json_add(o, key, json_object_new_string(s)) : 0;
}

int api_list_snapshots(struct api *a, struct json_object **snapshots, struct api_error *err)
{
	static const char what[] = "list snapshots";
	char *path;
	int res;

	*snapshots = NULL;
	res = api_path(&path, "/projects/%s/snapshots", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, "snapshots", snapshots, err);
	free(path);
	return res;
}

int api_create_snapshot(struct api *a, const char *branch_id, const char *name,
			const char *lsn, struct json_object **resp, struct api_error *err)
{
	static const char what[] = "create snapshot";
	struct api_buf q = { 0 };
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/snapshot", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	/* The spec takes these as query parameters; there is no request body. */
	res = api_query_add(&q, "name", name);
	if (!res)
		res = api_query_add(&q, "lsn", lsn);
	if (res)
		res = api_path_fail(res, what, err);
	else
		res = api_do(a, ERRMAP_SNAPSHOT_CREATE, what, "POST", path, q.data, NULL, NULL,
			     resp, err);
	api_buf_free(&q);
	free(path);
	return res;
}

int api_rename_snapshot(struct api *a, const char *snapshot_id, const char *name,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "rename snapshot";
	struct json_object *body = NULL, *snap = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	if (!name)
		return api_fail(err, 0, EINVAL, NULL, "%s: no new name", what);
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	snap = json_object_new_object();
	if (!snap || api_json_add_string(snap, "name", name) ||
	    api_json_add(body, "snapshot", json_object_get(snap))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_SNAPSHOT_RENAME, what, "PATCH", path, NULL, body, NULL, resp, err);
out:
	json_object_put(snap);
	json_object_put(body);
	free(path);
	return res;
}

int api_delete_snapshot(struct api *a, const char *snapshot_id,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "delete snapshot";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/snapshots/%s", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_SNAPSHOT_DELETE, what, "DELETE", path, NULL, NULL, NULL, resp, err);
	free(path);
	return res;
}

int api_restore_snapshot(struct api *a, const char *snapshot_id, const char *target_branch_id,
			 bool finalize, const char *new_branch_name,
			 struct json_object **resp, struct api_error *err)
{
	static const char what[] = "restore snapshot";
	struct json_object *body = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	/* The server's default target is the snapshot's source branch, which may be
	 * a renamed leftover of an earlier restore: always name the target. */
	if (!target_branch_id || !*target_branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no target branch", what);
	res = api_path(&path, "/projects/%s/snapshots/%s/restore", a->project_id, snapshot_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	if (api_json_add_string(body, "target_branch_id", target_branch_id) ||
	    api_json_add(body, "finalize_restore", json_object_new_boolean(finalize)) ||
	    api_json_add_string(body, "name", new_branch_name)) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_RESTORE, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(body);
	free(path);
	return res;
}

int api_finalize_restore(struct api *a, const char *branch_id, const char *old_branch_name,
			 struct json_object **resp, struct api_error *err)
{
	static const char what[] = "finalize restore";
	struct json_object *body = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/finalize_restore", a->project_id,
		       branch_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	if (!body || api_json_add_string(body, "name", old_branch_name)) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	/* ERRMAP_ANY: a 404 here is an unknown branch, not an unknown snapshot. */
	res = api_do(a, ERRMAP_ANY, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(body);
	free(path);
	return res;
}

int api_list_branches(struct api *a, struct json_object **branches, struct api_error *err)
{
	static const char what[] = "list branches";
	struct json_object *all = NULL, *page = NULL;
	struct api_buf q = { 0 };
	char *path = NULL, *cursor = NULL;
	int pages, res;

	*branches = NULL;
	res = api_path(&path, "/projects/%s/branches", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	all = json_object_new_array();
	if (!all) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	for (pages = 1;; pages++) {
		struct json_object *list, *pg, *next;
		const char *next_cursor = NULL;
		size_t i, n;

		/* Oldest first: a branch created meanwhile lands on a later page
		 * instead of shifting the ones not yet read. */
		api_buf_free(&q);
		res = api_query_add(&q, "limit", API_BRANCH_PAGE);
		if (!res)
			res = api_query_add(&q, "sort_by", "created_at");
		if (!res)
			res = api_query_add(&q, "sort_order", "asc");
		if (!res)
			res = api_query_add(&q, "cursor", cursor);
		if (res) {
			res = api_path_fail(res, what, err);
			goto out;
		}
		json_object_put(page);
		res = api_request(a, ERRMAP_READ, what, "GET", path, q.data, NULL,
				  api_now() + a->retry_deadline_s, &page, err);
		if (res)
			goto out;
		if (!json_object_object_get_ex(page, "branches", &list) ||
		    !json_object_is_type(list, json_type_array)) {
			res = api_fail(err, 0, EIO, NULL, "%s: the API's answer has no \"branches\"",
				       what);
			goto out;
		}
		n = json_object_array_length(list);
		for (i = 0; i < n; i++) {
			struct json_object *b = json_object_array_get_idx(list, i);

			if (api_json_push(all, json_object_get(b))) {
				res = api_path_fail(-ENOMEM, what, err);
				goto out;
			}
		}
		if (json_object_object_get_ex(page, "pagination", &pg) &&
		    json_object_object_get_ex(pg, "next", &next) &&
		    json_object_is_type(next, json_type_string))
			next_cursor = json_object_get_string(next);
		/* Stop on an empty page or a cursor that does not move, or we would loop. */
		if (!next_cursor || !*next_cursor || n == 0 ||
		    (cursor && strcmp(cursor, next_cursor) == 0))
			break;
		if (pages >= API_MAX_PAGES) {
			res = api_fail(err, 0, EIO, NULL, "%s: more than %d pages", what,
				       API_MAX_PAGES);
			goto out;
		}
		free(cursor);
		cursor = strdup(next_cursor);
		if (!cursor) {
			res = api_path_fail(-ENOMEM, what, err);
			goto out;
		}
	}
	*branches = all;
	all = NULL;
out:
	json_object_put(page);
	json_object_put(all);
	api_buf_free(&q);
	free(cursor);
	free(path);
	return res;
}

int api_get_branch(struct api *a, const char *branch_id, struct json_object **branch,
		   struct api_error *err)
{
	static const char what[] = "get branch";
	char *path;
	int res;

	*branch = NULL;
	res = api_path(&path, "/projects/%s/branches/%s", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, "branch", branch, err);
	free(path);
	return res;
}

int api_create_branch(struct api *a, const char *parent_id, const char *name,
		      struct json_object **resp, struct api_error *err)
{
	static const char what[] = "create branch";
	struct json_object *body = NULL, *br = NULL, *eps = NULL, *ep = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	br = json_object_new_object();
	eps = json_object_new_array();
	ep = json_object_new_object();
	/* A branch comes without a compute unless asked; it needs one to be queried. */
	if (!body || !br || !eps || !ep ||
	    api_json_add_string(br, "parent_id", parent_id) ||
	    api_json_add_string(br, "name", name) ||
	    api_json_add_string(ep, "type", "read_write") ||
	    api_json_push(eps, json_object_get(ep)) ||
	    api_json_add(body, "branch", json_object_get(br)) ||
	    api_json_add(body, "endpoints", json_object_get(eps))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_BRANCH_CREATE, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(ep);
	json_object_put(eps);
	json_object_put(br);
	json_object_put(body);
	free(path);
	return res;
}

int api_delete_branch(struct api *a, const char *branch_id,
		      struct json_object **resp, struct api_error *err)
{
	static const char what[] = "delete branch";
	char *path;
	int res;

	*resp = NULL;
	res = api_path(&path, "/projects/%s/branches/%s", a->project_id, branch_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_BRANCH_DELETE, what, "DELETE", path, NULL, NULL, NULL, resp, err);
	free(path);
	return res;
}

/* GET /projects/{p}/branches/{b}/{leaf}, keeping the member named @leaf. */
static int api_branch_list(struct api *a, const char *what, const char *branch_id,
			   const char *leaf, struct json_object **out, struct api_error *err)
{
	char *path;
	int res;

	*out = NULL;
	res = api_path(&path, "/projects/%s/branches/%s/%s", a->project_id, branch_id, leaf);
	if (res)
		return api_path_fail(res, what, err);
	res = api_do(a, ERRMAP_READ, what, "GET", path, NULL, NULL, leaf, out, err);
	free(path);
	return res;
}

int api_list_branch_endpoints(struct api *a, const char *branch_id,
			      struct json_object **endpoints, struct api_error *err)
{
	return api_branch_list(a, "list endpoints", branch_id, "endpoints", endpoints, err);
}

int api_create_endpoint(struct api *a, const char *branch_id,
			struct json_object **resp, struct api_error *err)
{
	static const char what[] = "create endpoint";
	struct json_object *body = NULL, *ep = NULL;
	char *path = NULL;
	int res;

	*resp = NULL;
	if (!branch_id || !*branch_id)
		return api_fail(err, 0, EINVAL, NULL, "%s: no branch", what);
	res = api_path(&path, "/projects/%s/endpoints", a->project_id);
	if (res)
		return api_path_fail(res, what, err);
	body = json_object_new_object();
	ep = json_object_new_object();
	if (!body || !ep || api_json_add_string(ep, "branch_id", branch_id) ||
	    api_json_add_string(ep, "type", "read_write") ||
	    api_json_add(body, "endpoint", json_object_get(ep))) {
		res = api_path_fail(-ENOMEM, what, err);
		goto out;
	}
	res = api_do(a, ERRMAP_ANY, what, "POST", path, NULL, body, NULL, resp, err);
out:
	json_object_put(ep);
	json_object_put(body);
	free(path);
	return res;
}

int api_list_databases(struct api *a, const char *branch_id,
		       struct json_object **databases, struct api_error *err)
{
	return api_branch_list(a, "list databases", branch_id, "databases", databases, err);
}

int api_list_roles(struct api *a, const char *branch_id,
		   struct json_object **roles, struct api_error *err)
{
	return api_branch_list(a, "list roles", branch_id, "roles", roles, err);
}

int api_connection_uri(struct api *a, const char *branch_id, const char *database,
		       const char *role, char **uri, struct api_error *err)
{
	static const char what[] = "get connection URI";
	struct json_object *v = NULL;
	struct api_buf q = { 0 };
	char *path = NULL;
	int res;

	*uri = NULL;
	if (!database || !role)
		return api_fail(err, 0, EINVAL, NULL, "%s: database and role are required", what);
	res = api_path(&path, "/projects/%s/connection_uri", a->project_id);
	if (!res)
		res = api_query_add(&q, "branch_id", branch_id);
	if (!res)
		res = api_query_add(&q, "database_name", database);
	if (!res)
		res = api_query_add(&q, "role_name", role);
	if (res) {
		res = api_path_fail(res, what, err);
		goto out;
	}
	/* The URI holds a password: it is returned, never logged. */
	res = api_do(a, ERRMAP_READ, what, "GET", path, q.data, NULL, "uri", &v, err);
	if (res)
		goto out;
	if (!json_object_is_type(v, json_type_string)) {
		res = api_fail(err, 0, EIO, NULL, "%s: \"uri\" is not a string", what);
		goto out;
	}
	*uri = strdup(json_object_get_string(v));
	if (!*uri)
		res = api_path_fail(-ENOMEM, what, err);
out:
	json_object_put(v);
	api_buf_free(&q);
	free(path);
	return res;
}

static int api_get_operation_until(struct api *a, const char *operation_id, double deadline,
				   struct json_object **operation, struct api_error *err)
{
	static const char what[] = "poll operation";
	struct json_object *resp = NULL, *op;
	char *path;
	int res;

	*operation = NULL;
	res = api_path(&path, "/projects/%s/operations/%s", a->project_id, operation_id);
	if (res)
		return api_path_fail(res, what, err);
	res = api_request(a, ERRMAP_READ, what, "GET", path, NULL, NULL, deadline, &resp, err);
	free(path);
	if (res)
		return res;
	if (!json_object_object_get_ex(resp, "operation", &op) ||
	    !json_object_is_type(op, json_type_object)) {
		json_object_put(resp);
		return api_fail(err, 0, EIO, NULL, "%s: the API's answer has no \"operation\"",
				what);
	}
	*operation = json_object_get(op);
	json_object_put(resp);
	return 0;
}

int api_get_operation(struct api *a, const char *operation_id,
		      struct json_object **operation, struct api_error *err)
{
	return api_get_operation_until(a, operation_id, api_now() + a->retry_deadline_s,
				       operation, err);
}

static const char *api_op_field(struct json_object *op, const char *key)
{
	struct json_object *v;

	if (json_object_object_get_ex(op, key, &v) && json_object_is_type(v, json_type_string))
		return json_object_get_string(v);
	return NULL;
}

/* 0: all succeeded; 1: some still running; a negative errno (with *err) when one
 * ended badly. The first bad one in array order decides. */
static int api_ops_outcome(struct json_object **ops, size_t n, struct api_error *err)
{
	int pending = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		const char *status = api_op_field(ops[i], "status");
		const char *action = api_op_field(ops[i], "action");
		const char *id = api_op_field(ops[i], "id");
		const char *text = api_op_field(ops[i], "error");
		int e = errmap_operation(status);

		if (e < 0) {
			pending = 1;
		} else if (e > 0) {
			if (!action)
				action = "operation";
			if (!id)
				id = "?";
			if (text && *text)
				return api_fail(err, 0, e, NULL,
						"operation %s (%s) ended with status \"%s\": %s",
						action, id, status, text);
			return api_fail(err, 0, e, NULL, "operation %s (%s) ended with status \"%s\"",
					action, id, status);
		}
	}
	return pending;
}

static struct json_object *api_ops_array(struct json_object **ops, size_t n)
{
	struct json_object *arr = json_object_new_array();
	size_t i;

	for (i = 0; arr && i < n; i++) {
		if (api_json_push(arr, json_object_get(ops[i]))) {
			json_object_put(arr);
			return NULL;
		}
	}
	return arr;
}

static int api_ops_timeout(struct json_object **ops, size_t n, double timeout_s,
			   struct api_error *err)
{
	char list[400];
	size_t i, used = 0;

	list[0] = '\0';
	for (i = 0; i < n && used < sizeof(list); i++) {
		const char *status = api_op_field(ops[i], "status");
		struct json_object *fc;
		int w;

		if (errmap_operation(status) >= 0)
			continue;
		w = snprintf(list + used, sizeof(list) - used, "%s%s %s %s", used ? ", " : "",
			     api_op_field(ops[i], "action") ? api_op_field(ops[i], "action") :
							      "operation",
			     api_op_field(ops[i], "id") ? api_op_field(ops[i], "id") : "?",
			     status ? status : "(no status)");
		if (w > 0)
			used += (size_t)w;
		if (used < sizeof(list) &&
		    json_object_object_get_ex(ops[i], "failures_count", &fc) &&
		    json_object_get_int(fc) > 0) {
			w = snprintf(list + used, sizeof(list) - used, " (%d failures)",
				     json_object_get_int(fc));
			if (w > 0)
				used += (size_t)w;
		}
	}
	return api_fail(err, 0, ETIMEDOUT, NULL,
			"timed out after %.1f s waiting for operations still pending: %s",
			timeout_s > 0 ? timeout_s : 0.0, list);
}

int api_wait_operations(struct api *a, struct json_object *operations, double timeout_s,
			api_progress_fn progress, void *data,
			struct json_object **latest, struct api_error *err)
{
	struct json_object **ops = NULL;
	struct api_error local;
	double start = api_now(), deadline = start + timeout_s;
	double interval = API_POLL_FIRST_S, next, poll_deadline;
	size_t i, n;
	int res;

	if (!err)
		err = &local;
	if (latest)
		*latest = NULL;
	api_error_clear(err);
	if (!operations || !json_object_is_type(operations, json_type_array))
		return api_fail(err, 0, EINVAL, NULL, "wait for operations: not an array");
	n = json_object_array_length(operations);
	if (n == 0) {
		if (latest)
			*latest = json_object_new_array();
		return 0;
	}
	ops = calloc(n, sizeof(*ops));
	if (!ops)
		return api_fail(err, 0, ENOMEM, NULL, "wait for operations: out of memory");
	for (i = 0; i < n; i++)
		ops[i] = json_object_get(json_object_array_get_idx(operations, i));
	for (i = 0; i < n; i++) {
		if (!api_op_field(ops[i], "id")) {
			res = api_fail(err, 0, EINVAL, NULL, "wait for operations: one has no id");
			goto out;
		}
	}

	/* Short operations are the common case: look early, then back off. */
	res = api_ops_outcome(ops, n, err);
	next = start + interval;
	while (res > 0) {
		struct json_object *arr;

		api_sleep_until(next < deadline ? next : deadline);
		for (i = 0; i < n; i++) {
			struct json_object *op = NULL;

			if (errmap_operation(api_op_field(ops[i], "status")) >= 0)
				continue;
			/* Bounded by our deadline so a flaky API cannot stretch the wait much,
			 * but a hiccup right at the deadline still gets a short retry. */
			poll_deadline = api_now() + API_POLL_CAP_S;
			if (poll_deadline < deadline)
				poll_deadline = deadline;
			if (poll_deadline > api_now() + a->retry_deadline_s)
				poll_deadline = api_now() + a->retry_deadline_s;
			res = api_get_operation_until(a, api_op_field(ops[i], "id"), poll_deadline,
						      &op, err);
			if (res)
				goto out;
			json_object_put(ops[i]);
			ops[i] = op;
			/* Neon runs a mutation's operations one after another: while this one
			 * runs, the later ones cannot have ended, so asking costs calls for
			 * nothing. An operation that ended passes the turn to the next at once. */
			if (errmap_operation(api_op_field(op, "status")) < 0)
				break;
		}
		if (progress) {
			arr = api_ops_array(ops, n);
			if (arr) {
				progress(data, arr);
				json_object_put(arr);
			}
		}
		res = api_ops_outcome(ops, n, err);
		if (res > 0 && api_now() >= deadline) {
			res = api_ops_timeout(ops, n, timeout_s, err);
			break;
		}
		/* The wait can overshoot the operations' end by one interval: keep that a
		 * small fraction of the time waited so far, as well as under the cap. */
		interval *= API_POLL_FACTOR;
		if (interval > API_POLL_FRACTION * (api_now() - start))
			interval = API_POLL_FRACTION * (api_now() - start);
		if (interval < API_POLL_FIRST_S)
			interval = API_POLL_FIRST_S;
		if (interval > API_POLL_CAP_S)
			interval = API_POLL_CAP_S;
		next = api_now() + interval;
	}

out:
	if (res < 0)
		log_warn("api: waiting for operations: %s", err->message);
	if (latest)
		*latest = api_ops_array(ops, n);
	for (i = 0; i < n; i++)
		json_object_put(ops[i]);
	free(ops);
	return res;
}
