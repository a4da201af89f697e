/* api: the Neon HTTP API v2 over libcurl. It moves bytes; the model reads them.
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

#include "api.h"
#include "budget.h"
#include "api_internal.h"
#include "errmap.h"
#include "log.h"
#include "model.h"
#include "util.h"


#define API_BODY_MAX		((size_t)64 << 20)
#define API_BACKOFF_BASE_S	0.1
#define API_BACKOFF_CAP_S	5.0
#define API_RETRY_AFTER_MAX_S	3600.0
#define API_CONNECT_TIMEOUT_S	10.0

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


static uint64_t api_random(void)
{
	static atomic_uint_fast64_t fallback;
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	/* Only jitter and request ids depend on this, so splitmix64 over the
	 * clock is good enough when the kernel has no entropy to spare. */
	v = atomic_fetch_add(&fallback, UINT64_C(0x9e3779b97f4a7c15)) +
	    (uint64_t)(util_now() * 1e9);
	v = (v ^ (v >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	v = (v ^ (v >> 27)) * UINT64_C(0x94d049bb133111eb);
	return v ^ (v >> 31);
}

/* Uniform in [0, 1). */
static double api_random_unit(void)
{
	return (double)(api_random() >> 11) * (1.0 / 9007199254740992.0);
}

void api_error_clear(struct api_error *err)
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
int api_fail(struct api_error *err, long status, int e, const char *code,
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

int api_buf_append(struct api_buf *b, const char *p, size_t n)
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

int api_buf_puts(struct api_buf *b, const char *s)
{
	return api_buf_append(b, s, strlen(s));
}

void api_buf_free(struct api_buf *b)
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
	if (!cfg || ((!cfg->project_id || !*cfg->project_id) &&
		     (!cfg->org_id || !*cfg->org_id))) {
		log_err("api: no project or organization id given");
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
	a->project_id = strdup(cfg->project_id ? cfg->project_id : "");
	a->org_id = strdup(cfg->org_id ? cfg->org_id : "");
	if (!a->base_url || !a->project_id || !a->org_id)
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
	a->budget = budget_new(cfg->rate_per_minute);
	a->owns_budget = true;
	a->flow = budget_flow_new(a->budget);
	a->changes = budget_flow_new(a->budget);
	if (cfg->rate_per_minute > 0 && (!a->budget || !a->flow || !a->changes))
		goto fail_free;
	/* An organization's reads are its projects listing: one call a page in a row (13 at
	 * 5,000 projects), which every lookup at the root may wait for. As many turns as a
	 * large organization's pages keep it from waiting a turn a page. */
	if (*a->org_id)
		budget_flow_weigh(a->budget, a->flow, API_ORG_LISTING_WEIGHT);
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
	budget_flow_free(a->flow);
	budget_flow_free(a->changes);
	if (a->owns_budget)
		budget_free(a->budget);
	if (a->auth_header) {
		/* Do not leave the key lying around in freed memory. */
		memset(a->auth_header, 0, strlen(a->auth_header));
		free(a->auth_header);
	}
	free(a->base_url);
	free(a->project_id);
	free(a->org_id);
	free(a);
}

const char *api_project_id(const struct api *a)
{
	return a->project_id;
}

const char *api_org_id(const struct api *a)
{
	return a->org_id;
}

double api_retry_seconds(const struct api *a)
{
	return a->retry_deadline_s;
}

void api_get_stats(struct api *a, struct api_stats *st)
{
	pthread_mutex_lock(&a->lock);
	*st = a->stats;
	pthread_mutex_unlock(&a->lock);
}

static void api_count(struct api *a, int retry)
{
	if (a->shared)
		a = a->shared;
	pthread_mutex_lock(&a->lock);
	a->stats.requests++;
	if (retry)
		a->stats.retries++;
	pthread_mutex_unlock(&a->lock);
}

static CURL *api_handle_get(struct api *a)
{
	CURL *h = NULL;

	if (a->shared)
		a = a->shared;
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
	if (a->shared)
		a = a->shared;
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

/* GeneralError {code, message}, read by the model, made fit for a terminal. */
static void api_parse_general_error(const struct api_buf *b, struct api_general_error *ge)
{
	model_error_parse(b->data, b->len, ge->code, sizeof(ge->code), ge->message,
			  sizeof(ge->message));
	api_sanitize(ge->code);
	api_sanitize(ge->message);
}

/* The answer's body for the caller: NULL when it had none. */
static void api_take_body(struct api_buf *b, char **out)
{
	if (!out)
		return;
	*out = NULL;
	if (b->len && b->data[strspn(b->data, " \t\r\n")]) {
		*out = b->data;
		memset(b, 0, sizeof(*b));
	}
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

/* One API call with retries until @deadline (absolute, util_now() clock).
 * @what says what neonfs was doing, for messages. */
/* Set by the watcher's thread for its own calls. */
static __thread bool api_background;

void api_set_background(bool background)
{
	api_background = background;
}

int api_request(struct api *a, enum errmap_action action, const char *what,
		const char *method, const char *path, const char *query,
		const char *body, double deadline, char **out, struct api_error *err)
{
	return api_request_flags(a, action, what, method, path, query, body, deadline, 0, out,
				 err);
}

/* A project's reads and its changes queue as two flows: an `ls` waits for one listing,
 * and must not queue behind the operation polls of a mkdir in the same project. */
static struct budget_flow *api_flow(const struct api *a, const char *method, unsigned int flags)
{
	if ((flags & API_OPERATION) || strcmp(method, "GET") != 0)
		return a->changes;
	return a->flow;
}

int api_request_flags(struct api *a, enum errmap_action action, const char *what,
		      const char *method, const char *path, const char *query,
		      const char *body, double deadline, unsigned int flags,
		      char **out, struct api_error *err)
{
	struct api_exchange x;
	const char *q = query && *query ? "?" : "";
	const char *qs = query && *query ? query : "";
	char *url = NULL;
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
	/* A random UUID (version 4) per call, whose last 16 bits count the attempts:
	 * the shape servers expect, and retries of one call still share a prefix. */
	id_hi = (api_random() & UINT64_C(0xffffffffffff0fff)) | UINT64_C(0x4000);
	id_lo = (api_random() & UINT64_C(0x3fffffffffff0000)) | UINT64_C(0x8000000000000000);

	for (attempt = 1;; attempt++) {
		double start = util_now(), sent, delay, cap;
		int retry;

		snprintf(req_id, sizeof(req_id), "%08" PRIx64 "-%04" PRIx64 "-%04" PRIx64 "-%04"
			 PRIx64 "-%012" PRIx64, id_hi >> 32, (id_hi >> 16) & 0xffff, id_hi & 0xffff,
			 id_lo >> 48, (id_lo & UINT64_C(0xffffffffffff)) | (attempt & 0xffff));
		if (budget_take(a->budget, api_flow(a, method, flags), api_background,
				deadline) != 0) {
			res = api_fail(err, 0, EAGAIN, NULL, "%s: the API budget (-o api_rate=) has no "
				       "room for this call before its deadline", what);
			if (api_background)
				log_debug("api: %s %s: shed: the budget has no room", method, path);
			else
				log_err("api: %s %s: %s", method, path, err->message);
			goto out;
		}
		sent = util_now();
		res = api_exchange_run(a, method, url, body, req_id, idempotent, &x);
		if (res) {
			res = api_fail(err, 0, -res, NULL, "%s: %s", what, strerror(-res));
			goto out;
		}
		api_count(a, attempt > 1);

		if (x.cc == CURLE_OK && x.status >= 200 && x.status < 300) {
			log_debug("api: %s %s%s%s -> %ld in %.0f ms, %.0f ms of them waiting for "
				  "the budget [%s]", method, path, q, qs, x.status,
				  (util_now() - start) * 1000.0, (sent - start) * 1000.0, req_id);
			api_take_body(&x.body, out);
			res = 0;
			goto out;
		}

		/* A request that never left this host is as safe to repeat as a GET. */
		retry = errmap_retryable(x.cc == CURLE_OK ? x.status : 0, (int)x.cc,
					 idempotent || !x.sent);
		if (x.cc == CURLE_OK && x.status == 423 && (flags & API_NO_RETRY_LOCKED))
			retry = 0;
		if (!retry)
			break;
		/* Full jitter: spreads out clients that failed at the same moment. */
		cap = backoff < API_BACKOFF_CAP_S ? backoff : API_BACKOFF_CAP_S;
		delay = x.retry_after >= 0 ? x.retry_after : cap * api_random_unit();
		/* Rate limited: the whole mount slows down, not just this call. */
		if (x.cc == CURLE_OK && x.status == 429)
			budget_pause(a->budget, x.retry_after >= 0 ? x.retry_after : cap);
		backoff *= 2;
		if (util_now() + delay > deadline)
			break;
		api_describe(&x, action, why, sizeof(why));
		log_info("api: %s %s%s%s: %s; retry %u in %.0f ms [%s]", method, path, q, qs, why,
			 attempt, delay * 1000.0, req_id);
		util_sleep_until(util_now() + delay);
	}
	res = api_failure(action, what, method, path, query, &x, idempotent, attempt, req_id,
			  err);

out:
	api_buf_free(&x.body);
	free(url);
	return res;
}

int api_call(struct api *a, int action, const char *method, const char *path,
	     const char *query, const char *body, char **out, struct api_error *err)
{
	char what[160];

	snprintf(what, sizeof(what), "%s %s", method ? method : "(no method)",
		 path ? path : "(no path)");
	return api_request(a, (enum errmap_action)action, what, method, path, query, body,
			   util_now() + a->retry_deadline_s, out, err);
}

int api_do(struct api *a, enum errmap_action action, const char *what,
	   const char *method, const char *path, const char *query,
	   const char *body, char **out, struct api_error *err)
{
	return api_request(a, action, what, method, path, query, body,
			   util_now() + a->retry_deadline_s, out, err);
}

int api_parse_fail(int res, const char *what, const char *msg, struct api_error *err)
{
	if (res == -ENOMEM)
		return api_fail(err, 0, ENOMEM, NULL, "%s: out of memory", what);
	return api_fail(err, 0, EIO, NULL, "%s: %s", what, msg);
}
