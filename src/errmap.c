/* errmap: the one place that knows what a remote failure means locally.
 *
 * Other modules never compare HTTP statuses or curl codes; they ask here.
 * Everything is a lookup in const tables, so the functions are thread-safe. */
#include "config.h"

#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>
#include <curl/curl.h>

#include "errmap.h"

/* Whether a request may be sent again after this answer. */
enum errmap_retry {
	RETRY_NEVER = 0,
	RETRY_IDEMPOTENT,	/* GET/HEAD only: a POST may have been processed */
	RETRY_ALWAYS,		/* the server promises nothing was done */
};

struct errmap_http_row {
	enum errmap_action action;	/* ERRMAP_ANY matches every action */
	long lo, hi;			/* HTTP status range, inclusive */
	const char *code;		/* substring of GeneralError.code, or NULL */
	const char *msg;		/* substring of the message, any case, or NULL */
	int err;
	enum errmap_retry retry;	/* only read from unconditional ERRMAP_ANY rows */
	const char *reason;
};

/*
 * First match wins, so the narrow rows come first. Choices worth knowing:
 * - 423 and 503 are documented as safe to retry; 429 is rate limiting. They are
 *   retried by api.c, and the errno here is what is left once the deadline ran
 *   out: EBUSY for a lock held by another operation, EAGAIN for "try later".
 * - 502 maps to EIO, not EAGAIN: a gateway lost the answer, so for a POST we
 *   cannot know whether it was applied, and "try again" would mislead.
 * - 504 maps to ETIMEDOUT, the same as a local timeout.
 * - 423/429 come before the LIMIT_EXCEEDED row so a rate limit that names
 *   itself "RATE_LIMIT_EXCEEDED" stays EAGAIN and is not read as a quota.
 * - 401, 404, 408, 410 and 413 say exactly what happened, so they come before
 *   every row that looks at the code or the message: those carry branch names
 *   and ids ("branch root-copy not found"), and a word in a name must not turn
 *   a missing branch into a refusal, nor a too large request into a quota.
 *   The word rows are left to the statuses a refusal comes with (400, 403,
 *   409, 422 and the rest of 4xx).
 */
static const struct errmap_http_row errmap_http_table[] = {
	{ ERRMAP_ANY, 200, 299, NULL, NULL, 0, RETRY_NEVER, "success" },
	{ ERRMAP_ANY, 423, 423, NULL, NULL, EBUSY, RETRY_ALWAYS,
	  "locked by another operation in progress" },
	{ ERRMAP_ANY, 429, 429, NULL, NULL, EAGAIN, RETRY_ALWAYS, "too many requests" },

	{ ERRMAP_ANY, 401, 401, NULL, NULL, EACCES, RETRY_NEVER,
	  "the API key was not accepted" },
	{ ERRMAP_RESTORE, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER, "unknown snapshot" },
	{ ERRMAP_SNAPSHOT_DELETE, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER,
	  "no such snapshot" },
	{ ERRMAP_SNAPSHOT_RENAME, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER,
	  "no such snapshot" },
	{ ERRMAP_SNAPSHOT_CREATE, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER,
	  "no such branch" },
	{ ERRMAP_BRANCH_CREATE, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER,
	  "no such parent branch" },
	{ ERRMAP_BRANCH_DELETE, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER, "no such branch" },
	{ ERRMAP_ANY, 404, 404, NULL, NULL, ENOENT, RETRY_NEVER, "not found" },
	{ ERRMAP_ANY, 408, 408, NULL, NULL, ETIMEDOUT, RETRY_IDEMPOTENT,
	  "the server timed out reading the request" },
	{ ERRMAP_ANY, 410, 410, NULL, NULL, ENOENT, RETRY_NEVER, "gone" },
	{ ERRMAP_ANY, 413, 413, NULL, NULL, EFBIG, RETRY_NEVER, "request too large" },

	{ ERRMAP_BRANCH_DELETE, 400, 499, NULL, "child", EBUSY, RETRY_NEVER,
	  "the branch has child branches" },
	{ ERRMAP_BRANCH_DELETE, 400, 499, NULL, "protected", EPERM, RETRY_NEVER,
	  "the branch is protected" },
	{ ERRMAP_BRANCH_DELETE, 400, 499, NULL, "default", EPERM, RETRY_NEVER,
	  "the default branch cannot be deleted" },
	{ ERRMAP_BRANCH_DELETE, 400, 499, NULL, "root", EPERM, RETRY_NEVER,
	  "the root branch cannot be deleted" },

	{ ERRMAP_ANY, 400, 499, "LIMIT_EXCEEDED", NULL, EDQUOT, RETRY_NEVER,
	  "project limit reached" },

	{ ERRMAP_ANY, 400, 400, NULL, NULL, EINVAL, RETRY_NEVER, "bad request" },
	{ ERRMAP_ANY, 403, 403, NULL, NULL, EPERM, RETRY_NEVER, "not permitted" },
	{ ERRMAP_ANY, 409, 409, NULL, NULL, EEXIST, RETRY_NEVER, "already exists" },
	{ ERRMAP_ANY, 422, 422, NULL, NULL, EINVAL, RETRY_NEVER, "invalid request" },
	{ ERRMAP_ANY, 400, 499, NULL, NULL, EINVAL, RETRY_NEVER, "request refused" },

	{ ERRMAP_ANY, 500, 500, NULL, NULL, EIO, RETRY_IDEMPOTENT, "internal server error" },
	{ ERRMAP_ANY, 502, 502, NULL, NULL, EIO, RETRY_IDEMPOTENT, "bad gateway" },
	{ ERRMAP_ANY, 503, 503, NULL, NULL, EAGAIN, RETRY_ALWAYS,
	  "service temporarily unavailable" },
	{ ERRMAP_ANY, 504, 504, NULL, NULL, ETIMEDOUT, RETRY_IDEMPOTENT, "gateway timeout" },
	{ ERRMAP_ANY, 500, 599, NULL, NULL, EIO, RETRY_NEVER, "server error" },

	/* Redirects are not followed (they could carry the key elsewhere). */
	{ ERRMAP_ANY, 0, 199, NULL, NULL, EIO, RETRY_NEVER, "unexpected answer" },
	{ ERRMAP_ANY, 300, 399, NULL, NULL, EIO, RETRY_NEVER, "unexpected redirect" },
	{ ERRMAP_ANY, 600, 999, NULL, NULL, EIO, RETRY_NEVER, "unexpected answer" },
};

struct errmap_transport_row {
	int curl_code;
	int err;
	enum errmap_retry retry;
};

/* RETRY_ALWAYS: no byte of the request can have reached the server.
 * RETRY_NEVER: a local or configuration problem that repeats identically.
 * Anything else: the request may have been processed; GET only. */
static const struct errmap_transport_row errmap_transport_table[] = {
	{ CURLE_COULDNT_RESOLVE_HOST, EHOSTUNREACH, RETRY_ALWAYS },
	{ CURLE_COULDNT_RESOLVE_PROXY, EHOSTUNREACH, RETRY_ALWAYS },
	{ CURLE_COULDNT_CONNECT, ECONNREFUSED, RETRY_ALWAYS },
	{ CURLE_SSL_CONNECT_ERROR, EIO, RETRY_ALWAYS },
	{ CURLE_OPERATION_TIMEDOUT, ETIMEDOUT, RETRY_IDEMPOTENT },
	{ CURLE_OUT_OF_MEMORY, ENOMEM, RETRY_NEVER },
	{ CURLE_UNSUPPORTED_PROTOCOL, EIO, RETRY_NEVER },
	{ CURLE_URL_MALFORMAT, EIO, RETRY_NEVER },
	{ CURLE_NOT_BUILT_IN, EIO, RETRY_NEVER },
	{ CURLE_BAD_FUNCTION_ARGUMENT, EIO, RETRY_NEVER },
	{ CURLE_PEER_FAILED_VERIFICATION, EIO, RETRY_NEVER },
	{ CURLE_SSL_CERTPROBLEM, EIO, RETRY_NEVER },
	{ CURLE_SSL_CACERT_BADFILE, EIO, RETRY_NEVER },
	{ CURLE_SSL_ENGINE_NOTFOUND, EIO, RETRY_NEVER },
	{ CURLE_TOO_MANY_REDIRECTS, EIO, RETRY_NEVER },
	/* api.c aborts oversized answers from its write callback. */
	{ CURLE_WRITE_ERROR, EIO, RETRY_NEVER },
	{ CURLE_FILESIZE_EXCEEDED, EFBIG, RETRY_NEVER },
};

struct errmap_op_row {
	const char *status;
	int terminal;
	int err;
};

/* "failed" is not terminal: Neon retries failed operations by itself. */
static const struct errmap_op_row errmap_op_table[] = {
	{ "finished", 1, 0 },
	{ "skipped", 1, 0 },
	{ "cancelled", 1, ECANCELED },
	{ "error", 1, EIO },
	{ "scheduling", 0, 0 },
	{ "running", 0, 0 },
	{ "failed", 0, 0 },
	{ "cancelling", 0, 0 },
};

struct errmap_sqlstate_row {
	const char *state;	/* a whole SQLSTATE, or its first characters (a class) */
	int err;
	int conn_lost;		/* the session is over; the connection cannot be reused */
};

/* First match wins: whole states come before the classes they belong to. */
static const struct errmap_sqlstate_row errmap_sqlstate_table[] = {
	/* statement_timeout and lock_timeout: the server gave up waiting. */
	{ "57014", ETIMEDOUT, 0 },
	{ "55P03", ETIMEDOUT, 0 },
	/* Wrong password, no pg_hba.conf entry, or no privilege on the object. */
	{ "28P01", EACCES, 0 },
	{ "28000", EACCES, 0 },
	{ "42501", EACCES, 0 },
	/* The database named in the connection string does not exist. */
	{ "3D000", ENOENT, 0 },
	/* A read-only transaction: the compute is read-only. */
	{ "25006", EROFS, 0 },
	/* A unique violation: the row (a name) is taken. */
	{ "23505", EEXIST, 0 },
	/* Starting up or shutting down (a restore restarts the compute): nobody is
	 * listening yet, as with a refused connection. */
	{ "57P03", ECONNREFUSED, 1 },
	/* Data exceptions: a value the server would not take. */
	{ "22", EINVAL, 0 },
	/* The server ended the session (admin shutdown, crash, terminated backend)... */
	{ "57P0", EIO, 1 },
	/* ... or the link failed. */
	{ "08", EIO, 1 },
};

struct errmap_pg_words_row {
	const char *words;	/* substring of libpq's message, any case */
	const char *and_words;	/* must be there too, or NULL */
	int err;
};

/* libpq says why a connection failed only in words. First match wins: when libpq tried
 * several addresses its message lists each failure, and a timeout on any of them is what
 * the caller waited for. */
static const struct errmap_pg_words_row errmap_pg_words_table[] = {
	{ "timeout expired", NULL, ETIMEDOUT },
	{ "timed out", NULL, ETIMEDOUT },
	{ "connection refused", NULL, ECONNREFUSED },
	/* Nowhere to connect to is, to the caller, the same as nobody listening. */
	{ "could not translate host name", NULL, ECONNREFUSED },
	{ "no route to host", NULL, ECONNREFUSED },
	{ "network is unreachable", NULL, ECONNREFUSED },
	/* A Unix socket path with no server behind it. */
	{ "No such file or directory", NULL, ECONNREFUSED },
	{ "authentication failed", NULL, EACCES },
	{ "pg_hba.conf", NULL, EACCES },
	{ "no password supplied", NULL, EACCES },
	{ "permission denied", NULL, EACCES },
	{ "database \"", "does not exist", ENOENT },
};

struct errmap_local_row {
	enum errmap_local cond;
	enum errmap_action action;	/* ERRMAP_ANY: every action without a row of its own */
	int err;
	const char *reason;
};

/* First match wins; each condition ends with its ERRMAP_ANY row, so every action has an
 * answer. */
static const struct errmap_local_row errmap_local_table[] = {
	/* Without a meta database a snapshot has no attachments: an empty listing, not an
	 * error, and lookup, open, rm and mv agree with that listing. */
	{ ERRMAP_NO_META, ERRMAP_ATTACHMENT_LIST, 0, "no meta database, so no attachments" },
	{ ERRMAP_NO_META, ERRMAP_ATTACHMENT_READ, ENOENT, "no meta database, so no attachments" },
	{ ERRMAP_NO_META, ERRMAP_ATTACHMENT_WRITE, ENOENT, "no meta database, so no attachments" },
	{ ERRMAP_NO_META, ERRMAP_ATTACHMENT_DELETE, ENOENT, "no meta database, so no attachments" },
	{ ERRMAP_NO_META, ERRMAP_ATTACHMENT_RENAME, ENOENT, "no meta database, so no attachments" },
	/* Creating one is a request this mount cannot carry out, not a missing file: ENOENT
	 * would say the directory is gone. The words say how to get one. */
	{ ERRMAP_NO_META, ERRMAP_ATTACHMENT_CREATE, ENOTSUP,
	  "attachments need a meta database (-o meta_url= or NEONFS_META_URL)" },
	/* Reads show what Neon has (meta.json, an empty records listing); the schema is then
	 * captured from the database itself. */
	{ ERRMAP_NO_META, ERRMAP_READ, 0, "no meta database, so no checkpoint records" },
	/* The user's change happened on Neon; there is no record to follow it. */
	{ ERRMAP_NO_META, ERRMAP_SNAPSHOT_DELETE, 0,
	  "no meta database, so no checkpoint record to update" },
	{ ERRMAP_NO_META, ERRMAP_SNAPSHOT_RENAME, 0,
	  "no meta database, so no checkpoint record to update" },
	{ ERRMAP_NO_META, ERRMAP_ANY, ENOTSUP, "no meta database" },

	/* A lookup of the name an action would give that finds nothing: the name is free. */
	{ ERRMAP_NAME_UNUSED, ERRMAP_SNAPSHOT_CREATE, 0, "the name is free" },
	{ ERRMAP_NAME_UNUSED, ERRMAP_SNAPSHOT_RENAME, 0, "the name is free" },
	{ ERRMAP_NAME_UNUSED, ERRMAP_BRANCH_CREATE, 0, "the name is free" },
	{ ERRMAP_NAME_UNUSED, ERRMAP_ATTACHMENT_CREATE, 0, "the name is free" },
	{ ERRMAP_NAME_UNUSED, ERRMAP_ATTACHMENT_RENAME, 0, "the name is free" },
	/* A restore is given a snapshot's name or id; one nobody has is unknown. */
	{ ERRMAP_NAME_UNUSED, ERRMAP_RESTORE, ENOENT, "unknown snapshot" },
	/* Any other action looks up what it acts on, and that is not there. */
	{ ERRMAP_NAME_UNUSED, ERRMAP_ANY, ENOENT, "no such entry" },

	/* mv replaces an attachment, as rename(2) replaces a file: editors save through a
	 * temporary name. With RENAME_NOREPLACE the caller asks as ERRMAP_ATTACHMENT_CREATE:
	 * an existing attachment is never replaced by an exclusive create or rename. */
	{ ERRMAP_NAME_TAKEN, ERRMAP_ATTACHMENT_RENAME, 0, "the attachment of that name is replaced" },
	{ ERRMAP_NAME_TAKEN, ERRMAP_ATTACHMENT_CREATE, EEXIST, "an attachment of that name exists" },
	/* Snapshots and branches are Neon objects: one never replaces another. */
	{ ERRMAP_NAME_TAKEN, ERRMAP_ANY, EEXIST, "that name is taken" },

	/* Creating or writing a snapshot's own file is opening a read-only file for writing,
	 * which is EACCES whether the kernel asked to create or to open. Removing or renaming
	 * it is an operation the file does not allow at all. */
	{ ERRMAP_NAME_RESERVED, ERRMAP_ATTACHMENT_CREATE, EACCES,
	  "that name belongs to the snapshot" },
	{ ERRMAP_NAME_RESERVED, ERRMAP_ATTACHMENT_WRITE, EACCES,
	  "that name belongs to the snapshot" },
	{ ERRMAP_NAME_RESERVED, ERRMAP_ANY, EPERM, "that name belongs to the snapshot" },

	/* Snapshots taken before the meta database was given, or by other tools, have no
	 * record: deleting or renaming them has nothing to follow, and reads show what Neon
	 * has. */
	{ ERRMAP_NO_RECORD, ERRMAP_SNAPSHOT_DELETE, 0, "no checkpoint record to update" },
	{ ERRMAP_NO_RECORD, ERRMAP_SNAPSHOT_RENAME, 0, "no checkpoint record to update" },
	{ ERRMAP_NO_RECORD, ERRMAP_READ, 0, "no checkpoint record" },
	{ ERRMAP_NO_RECORD, ERRMAP_ANY, ENOENT, "no checkpoint record" },
};

#define ERRMAP_COUNT(t) (sizeof(t) / sizeof((t)[0]))

static int errmap_contains_nocase(const char *hay, const char *needle)
{
	size_t n = strlen(needle);

	for (; *hay; hay++)
		if (strncasecmp(hay, needle, n) == 0)
			return 1;
	return 0;
}

static const struct errmap_http_row *errmap_http_find(enum errmap_action action, long status,
						      const char *code, const char *message)
{
	size_t i;

	for (i = 0; i < ERRMAP_COUNT(errmap_http_table); i++) {
		const struct errmap_http_row *r = &errmap_http_table[i];

		if (r->action != ERRMAP_ANY && r->action != action)
			continue;
		if (status < r->lo || status > r->hi)
			continue;
		if (r->code && (!code || !strstr(code, r->code)))
			continue;
		if (r->msg && (!message || !errmap_contains_nocase(message, r->msg)))
			continue;
		return r;
	}
	return NULL;
}

int errmap_http(enum errmap_action action, long status, const char *code, const char *message)
{
	const struct errmap_http_row *r = errmap_http_find(action, status, code, message);

	/* Negative statuses are nonsense; still never claim success for them. */
	return r ? r->err : EIO;
}

const char *errmap_http_reason(enum errmap_action action, long status, const char *code,
			       const char *message)
{
	const struct errmap_http_row *r = errmap_http_find(action, status, code, message);

	return r ? r->reason : "unexpected answer";
}

static const struct errmap_transport_row *errmap_transport_find(int curl_code)
{
	size_t i;

	for (i = 0; i < ERRMAP_COUNT(errmap_transport_table); i++)
		if (errmap_transport_table[i].curl_code == curl_code)
			return &errmap_transport_table[i];
	return NULL;
}

int errmap_transport(int curl_code)
{
	const struct errmap_transport_row *r = errmap_transport_find(curl_code);

	return r ? r->err : EIO;
}

static const struct errmap_op_row *errmap_op_find(const char *status)
{
	size_t i;

	if (!status)
		return NULL;
	for (i = 0; i < ERRMAP_COUNT(errmap_op_table); i++)
		if (strcmp(errmap_op_table[i].status, status) == 0)
			return &errmap_op_table[i];
	return NULL;
}

int errmap_operation(const char *status)
{
	const struct errmap_op_row *r = errmap_op_find(status);

	/* An unknown status is treated as still in progress, bounded by the caller's timeout. */
	if (!r || !r->terminal)
		return -1;
	return r->err;
}

int errmap_operation_terminal(const char *status)
{
	const struct errmap_op_row *r = errmap_op_find(status);

	return r ? r->terminal : 0;
}

int errmap_retryable(long status, int curl_code, int idempotent)
{
	enum errmap_retry retry = RETRY_NEVER;
	size_t i;

	if (status == 0) {
		const struct errmap_transport_row *t = errmap_transport_find(curl_code);

		if (curl_code == CURLE_OK)
			return 0;
		retry = t ? t->retry : RETRY_IDEMPOTENT;
	} else {
		/* Only the unconditional rows speak for a status as a whole. */
		for (i = 0; i < ERRMAP_COUNT(errmap_http_table); i++) {
			const struct errmap_http_row *r = &errmap_http_table[i];

			if (r->action == ERRMAP_ANY && !r->code && !r->msg &&
			    status >= r->lo && status <= r->hi) {
				retry = r->retry;
				break;
			}
		}
	}
	return retry == RETRY_ALWAYS || (retry == RETRY_IDEMPOTENT && idempotent);
}

int errmap_sqlstate(const char *sqlstate, int *conn_lost)
{
	size_t i;

	if (conn_lost)
		*conn_lost = 0;
	if (!sqlstate || strlen(sqlstate) != 5)
		return EIO;
	for (i = 0; i < ERRMAP_COUNT(errmap_sqlstate_table); i++) {
		const struct errmap_sqlstate_row *r = &errmap_sqlstate_table[i];

		if (strncmp(sqlstate, r->state, strlen(r->state)) == 0) {
			if (conn_lost)
				*conn_lost = r->conn_lost;
			return r->err;
		}
	}
	return EIO;
}

int errmap_pg_words(const char *msg)
{
	size_t i;

	if (!msg)
		return EIO;
	for (i = 0; i < ERRMAP_COUNT(errmap_pg_words_table); i++) {
		const struct errmap_pg_words_row *r = &errmap_pg_words_table[i];

		if (errmap_contains_nocase(msg, r->words) &&
		    (!r->and_words || errmap_contains_nocase(msg, r->and_words)))
			return r->err;
	}
	return EIO;
}

int errmap_local(enum errmap_action action, enum errmap_local cond, const char **reason)
{
	size_t i;

	for (i = 0; i < ERRMAP_COUNT(errmap_local_table); i++) {
		const struct errmap_local_row *r = &errmap_local_table[i];

		if (r->cond == cond && (r->action == ERRMAP_ANY || r->action == action)) {
			if (reason)
				*reason = r->reason;
			return r->err;
		}
	}
	if (reason)
		*reason = "unexpected condition";
	return EIO;
}
