/* errmap: the one table that turns remote failures into errnos, with words for users. */
#ifndef NEONFS_ERRMAP_H
#define NEONFS_ERRMAP_H

/* Which user action failed; a few statuses mean different things per action
 * (404 on restore is an unknown snapshot, on rmdir an already-gone one). */
enum errmap_action {
	ERRMAP_ANY = 0,
	ERRMAP_SNAPSHOT_CREATE,
	ERRMAP_SNAPSHOT_DELETE,
	ERRMAP_SNAPSHOT_RENAME,
	ERRMAP_RESTORE,
	ERRMAP_BRANCH_CREATE,
	ERRMAP_BRANCH_DELETE,
	ERRMAP_READ,
	/* A snapshot's attachments (kept in the meta database): ls, open and read, write or
	 * truncate one that exists, rm, mv within the snapshot, create a new one. */
	ERRMAP_ATTACHMENT_LIST,
	ERRMAP_ATTACHMENT_READ,
	ERRMAP_ATTACHMENT_WRITE,
	ERRMAP_ATTACHMENT_DELETE,
	ERRMAP_ATTACHMENT_RENAME,
	ERRMAP_ATTACHMENT_CREATE,
};

/* Conditions found locally, not in an answer, whose meaning depends on the action. */
enum errmap_local {
	ERRMAP_NO_META,		/* no meta database (meta calls return -ENOTSUP) */
	ERRMAP_NAME_UNUSED,	/* nothing of its kind has the name looked up */
	ERRMAP_NAME_TAKEN,	/* something of its kind has the name the action would give */
	ERRMAP_NAME_RESERVED,	/* the name is one of a snapshot's own files (schema, ...) */
	ERRMAP_NO_RECORD,	/* the snapshot has no checkpoint record in the meta database */
};

/* Errno for an HTTP answer. @code and @message are the GeneralError fields (may be NULL).
 * Returns a positive errno; never 0 for status >= 400. */
int errmap_http(enum errmap_action action, long status, const char *code, const char *message);

/* The table's short reason for an HTTP answer ("unknown snapshot"), for messages when the
 * server sent no words of its own. */
const char *errmap_http_reason(enum errmap_action action, long status, const char *code,
			       const char *message);

/* Errno for a transport failure (a CURLcode as int) after retries ran out. */
int errmap_transport(int curl_code);

/* Errno for an operation that ended in a non-success terminal status ("error", "cancelled"),
 * or 0 when @status means success ("finished", "skipped"). -1 when @status is not terminal. */
int errmap_operation(const char *status);

/* Is this operation status terminal? ("failed" is not: Neon retries it.) */
int errmap_operation_terminal(const char *status);

/* Whether a request that got @status (or transport failure @curl_code when status is 0)
 * may be sent again. @idempotent: GET/HEAD. A POST that may have been processed is never
 * repeated blindly. */
int errmap_retryable(long status, int curl_code, int idempotent);

/* What @cond means for @action: 0 when the action goes on as if nothing failed (an empty
 * listing, a name that is free), else a positive errno. *reason (may be NULL) is set to
 * words for the user, never NULL. Every condition has an answer for every action. */
int errmap_local(enum errmap_action action, enum errmap_local cond, const char **reason);

/* Errno for the SQLSTATE of a failed statement (ETIMEDOUT, EACCES, ENOENT, EROFS, EEXIST,
 * EINVAL, ECONNREFUSED; EIO for the rest, and for NULL or anything not five characters).
 * *conn_lost (may be NULL) is set to whether the state says the session is over: the
 * server is shutting down or ended it, or the link failed. */
int errmap_sqlstate(const char *sqlstate, int *conn_lost);

/* Errno for libpq's message about a failure that came without a SQLSTATE, such as a
 * connection that could not be made (ETIMEDOUT, ECONNREFUSED, EACCES, ENOENT; else EIO). */
int errmap_pg_words(const char *msg);

#endif
