/* test_errmap: the errno table, row by row. */
#include "config.h"

#include <errno.h>
#include <curl/curl.h>

#include "check.h"
#include "errmap.h"

static void test_generic_statuses(void)
{
	CHECK_INT(errmap_http(ERRMAP_ANY, 400, "", "bad"), EINVAL);
	CHECK_INT(errmap_http(ERRMAP_ANY, 422, NULL, NULL), EINVAL);
	CHECK_INT(errmap_http(ERRMAP_ANY, 401, NULL, NULL), EACCES);
	CHECK_INT(errmap_http(ERRMAP_ANY, 403, NULL, NULL), EPERM);
	CHECK_INT(errmap_http(ERRMAP_ANY, 404, NULL, NULL), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_READ, 404, NULL, NULL), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_ANY, 409, NULL, NULL), EEXIST);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_CREATE, 409, "", "snapshot name already exists"),
		  EEXIST);
	CHECK_INT(errmap_http(ERRMAP_ANY, 423, NULL, NULL), EBUSY);
	CHECK_INT(errmap_http(ERRMAP_ANY, 429, NULL, NULL), EAGAIN);
	CHECK_INT(errmap_http(ERRMAP_ANY, 500, NULL, NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_ANY, 502, NULL, NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_ANY, 503, NULL, NULL), EAGAIN);
	CHECK_INT(errmap_http(ERRMAP_ANY, 504, NULL, NULL), ETIMEDOUT);
	/* Statuses without a row of their own fall into their class. */
	CHECK_INT(errmap_http(ERRMAP_ANY, 418, NULL, NULL), EINVAL);
	CHECK_INT(errmap_http(ERRMAP_ANY, 599, NULL, NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_ANY, 302, NULL, NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_ANY, 0, NULL, NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_ANY, -1, NULL, NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_ANY, 200, NULL, NULL), 0);
}

static void test_quota(void)
{
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_CREATE, 422, "SNAPSHOTS_LIMIT_EXCEEDED",
			      "too many snapshots"), EDQUOT);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_CREATE, 400, "BRANCHES_LIMIT_EXCEEDED", NULL), EDQUOT);
	/* Rate limiting stays "try again", whatever its code says. */
	CHECK_INT(errmap_http(ERRMAP_ANY, 429, "RATE_LIMIT_EXCEEDED", NULL), EAGAIN);
	/* A code only counts as a quota on a client error. */
	CHECK_INT(errmap_http(ERRMAP_ANY, 500, "SNAPSHOTS_LIMIT_EXCEEDED", NULL), EIO);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_CREATE, 422, "", "invalid name"), EINVAL);
}

static void test_action_rows(void)
{
	CHECK_INT(errmap_http(ERRMAP_RESTORE, 404, "", "snapshot not found"), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_DELETE, 404, NULL, NULL), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_RENAME, 404, NULL, NULL), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_RENAME, 409, NULL, NULL), EEXIST);

	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 400, "",
			      "cannot delete branch that has Child branches"), EBUSY);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 422, NULL, "branch has children"), EBUSY);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 400, "", "cannot delete the DEFAULT branch"),
		  EPERM);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 403, "", "branch is protected"), EPERM);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 409, "", "Protected branch"), EPERM);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 404, NULL, NULL), ENOENT);
	/* The same words mean nothing special for other actions. */
	CHECK_INT(errmap_http(ERRMAP_BRANCH_CREATE, 400, "", "branch has children"), EINVAL);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_DELETE, 409, "", "default"), EEXIST);
	/* A lock stays a lock even on a branch delete that mentions children. */
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 423, "", "child operation running"), EBUSY);
}

/* A status that says exactly what happened wins over words in the message: branch names and
 * ids appear in messages, so "root", "default" or "child" may be part of a name. */
static void test_status_beats_words(void)
{
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 404, "", "branch root-copy not found"), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 404, "", "no branch named default-old"),
		  ENOENT);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 404, "", "branch child-1 not found"), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 404, "", "protected-db: not found"), ENOENT);
	CHECK_STR(errmap_http_reason(ERRMAP_BRANCH_DELETE, 404, "", "branch root-copy not found"),
		  "no such branch");
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 410, "", "branch child-1 is gone"), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 401, "", "key may not delete the default branch"),
		  EACCES);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 408, "", "timed out deleting child"), ETIMEDOUT);
	/* A too large request is not a project quota, whatever its code says. */
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_CREATE, 413, "BODY_LIMIT_EXCEEDED", NULL), EFBIG);
	CHECK_INT(errmap_http(ERRMAP_SNAPSHOT_CREATE, 404, "BRANCHES_LIMIT_EXCEEDED", NULL), ENOENT);
	CHECK_INT(errmap_http(ERRMAP_ANY, 401, "LIMIT_EXCEEDED", NULL), EACCES);
	/* The refusals the words are there for still read as such. */
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 409, "", "it has child branches"), EBUSY);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 422, "", "cannot delete the root branch"), EPERM);
	CHECK_INT(errmap_http(ERRMAP_BRANCH_DELETE, 422, "", "the default branch"), EPERM);
}

static void test_transport(void)
{
	CHECK_INT(errmap_transport(CURLE_COULDNT_CONNECT), ECONNREFUSED);
	CHECK_INT(errmap_transport(CURLE_COULDNT_RESOLVE_HOST), EHOSTUNREACH);
	CHECK_INT(errmap_transport(CURLE_COULDNT_RESOLVE_PROXY), EHOSTUNREACH);
	CHECK_INT(errmap_transport(CURLE_OPERATION_TIMEDOUT), ETIMEDOUT);
	CHECK_INT(errmap_transport(CURLE_GOT_NOTHING), EIO);
	CHECK_INT(errmap_transport(CURLE_RECV_ERROR), EIO);
	CHECK_INT(errmap_transport(CURLE_SEND_ERROR), EIO);
	CHECK_INT(errmap_transport(CURLE_PEER_FAILED_VERIFICATION), EIO);
	CHECK_INT(errmap_transport(99999), EIO);
}

static void test_operations(void)
{
	CHECK_INT(errmap_operation("finished"), 0);
	CHECK_INT(errmap_operation("skipped"), 0);
	CHECK_INT(errmap_operation("error"), EIO);
	CHECK_INT(errmap_operation("cancelled"), ECANCELED);
	CHECK_INT(errmap_operation("failed"), -1);
	CHECK_INT(errmap_operation("running"), -1);
	CHECK_INT(errmap_operation("scheduling"), -1);
	CHECK_INT(errmap_operation("cancelling"), -1);
	CHECK_INT(errmap_operation("something_new"), -1);
	CHECK_INT(errmap_operation(NULL), -1);

	CHECK(errmap_operation_terminal("finished"));
	CHECK(errmap_operation_terminal("skipped"));
	CHECK(errmap_operation_terminal("cancelled"));
	CHECK(errmap_operation_terminal("error"));
	CHECK(!errmap_operation_terminal("failed"));
	CHECK(!errmap_operation_terminal("running"));
	CHECK(!errmap_operation_terminal("scheduling"));
	CHECK(!errmap_operation_terminal("cancelling"));
	CHECK(!errmap_operation_terminal("FINISHED"));
	CHECK(!errmap_operation_terminal(NULL));
}

static void test_retryable(void)
{
	/* Safe for every method, per the API's own guidance. */
	CHECK(errmap_retryable(423, 0, 0));
	CHECK(errmap_retryable(503, 0, 0));
	CHECK(errmap_retryable(429, 0, 0));
	CHECK(errmap_retryable(423, 0, 1));
	/* Server errors: GET only. */
	CHECK(errmap_retryable(502, 0, 1));
	CHECK(errmap_retryable(500, 0, 1));
	CHECK(errmap_retryable(504, 0, 1));
	CHECK(!errmap_retryable(502, 0, 0));
	CHECK(!errmap_retryable(500, 0, 0));
	CHECK(!errmap_retryable(504, 0, 0));
	/* Client errors repeat identically. */
	CHECK(!errmap_retryable(400, 0, 1));
	CHECK(!errmap_retryable(404, 0, 1));
	CHECK(!errmap_retryable(409, 0, 1));
	CHECK(!errmap_retryable(422, 0, 1));
	CHECK(!errmap_retryable(200, 0, 1));

	/* Nothing was sent: repeat whatever the method. */
	CHECK(errmap_retryable(0, CURLE_COULDNT_CONNECT, 0));
	CHECK(errmap_retryable(0, CURLE_COULDNT_RESOLVE_HOST, 0));
	/* May have been processed: never for POST. */
	CHECK(!errmap_retryable(0, CURLE_OPERATION_TIMEDOUT, 0));
	CHECK(!errmap_retryable(0, CURLE_GOT_NOTHING, 0));
	CHECK(!errmap_retryable(0, CURLE_RECV_ERROR, 0));
	CHECK(errmap_retryable(0, CURLE_OPERATION_TIMEDOUT, 1));
	CHECK(errmap_retryable(0, CURLE_GOT_NOTHING, 1));
	CHECK(errmap_retryable(0, CURLE_RECV_ERROR, 1));
	/* A bad certificate stays bad. */
	CHECK(!errmap_retryable(0, CURLE_PEER_FAILED_VERIFICATION, 1));
	CHECK(!errmap_retryable(0, CURLE_OK, 1));
}

/* Each row of the SQLSTATE table, and whether it says the session is over. */
#define CHECK_SQLSTATE(state, err, lost) do { \
	int lost_ = -1; \
	CHECK_INT(errmap_sqlstate((state), &lost_), (err)); \
	CHECK_INT(lost_, (lost)); \
} while (0)

static void test_sqlstate(void)
{
	CHECK_SQLSTATE("57014", ETIMEDOUT, 0);	/* statement timeout */
	CHECK_SQLSTATE("55P03", ETIMEDOUT, 0);	/* lock timeout */
	CHECK_SQLSTATE("28P01", EACCES, 0);
	CHECK_SQLSTATE("28000", EACCES, 0);
	CHECK_SQLSTATE("42501", EACCES, 0);
	CHECK_SQLSTATE("3D000", ENOENT, 0);
	CHECK_SQLSTATE("25006", EROFS, 0);
	CHECK_SQLSTATE("23505", EEXIST, 0);
	CHECK_SQLSTATE("22P02", EINVAL, 0);	/* class 22: invalid text representation */
	CHECK_SQLSTATE("22001", EINVAL, 0);	/* string data right truncation */
	/* Cannot connect now: refused, and the session is over. */
	CHECK_SQLSTATE("57P03", ECONNREFUSED, 1);
	CHECK_SQLSTATE("57P01", EIO, 1);	/* admin shutdown */
	CHECK_SQLSTATE("57P02", EIO, 1);	/* crash shutdown */
	CHECK_SQLSTATE("57P05", EIO, 1);	/* idle session timeout */
	CHECK_SQLSTATE("08006", EIO, 1);	/* connection failure */
	CHECK_SQLSTATE("08000", EIO, 1);
	/* Other states are plain failures on a connection that still works. */
	CHECK_SQLSTATE("42P01", EIO, 0);	/* undefined table */
	CHECK_SQLSTATE("23503", EIO, 0);	/* foreign key violation: not "taken" */
	CHECK_SQLSTATE("57000", EIO, 0);	/* class 57, but not a session end */
	CHECK_SQLSTATE("XX000", EIO, 0);
	CHECK_SQLSTATE("2", EIO, 0);		/* a class alone is no state */
	CHECK_SQLSTATE("220", EIO, 0);
	CHECK_SQLSTATE("0800", EIO, 0);
	CHECK_SQLSTATE("080060", EIO, 0);
	CHECK_SQLSTATE("", EIO, 0);
	CHECK_SQLSTATE(NULL, EIO, 0);
	CHECK_INT(errmap_sqlstate("57014", NULL), ETIMEDOUT);
	CHECK_INT(errmap_sqlstate("08006", NULL), EIO);
}

/* libpq's messages, as it writes them, for failures without a SQLSTATE. */
static void test_pg_words(void)
{
	CHECK_INT(errmap_pg_words("connection to server at \"10.0.0.1\", port 5432 failed: "
				  "timeout expired"), ETIMEDOUT);
	CHECK_INT(errmap_pg_words("could not receive data from server: Connection timed out"),
		  ETIMEDOUT);
	CHECK_INT(errmap_pg_words("connection to server at \"127.0.0.1\", port 1 failed: "
				  "Connection refused\n\tIs the server running on that host?"),
		  ECONNREFUSED);
	CHECK_INT(errmap_pg_words("could not translate host name \"nowhere.invalid\" to address: "
				  "Name or service not known"), ECONNREFUSED);
	CHECK_INT(errmap_pg_words("connection to server at \"10.9.9.9\", port 5432 failed: "
				  "No route to host"), ECONNREFUSED);
	CHECK_INT(errmap_pg_words("connection to server at \"10.9.9.9\", port 5432 failed: "
				  "Network is unreachable"), ECONNREFUSED);
	CHECK_INT(errmap_pg_words("connection to server on socket \"/tmp/.s.PGSQL.5432\" "
				  "failed: No such file or directory"), ECONNREFUSED);
	CHECK_INT(errmap_pg_words("FATAL:  password authentication failed for user \"app\""),
		  EACCES);
	CHECK_INT(errmap_pg_words("FATAL:  no pg_hba.conf entry for host \"10.0.0.2\""), EACCES);
	CHECK_INT(errmap_pg_words("fe_sendauth: no password supplied"), EACCES);
	CHECK_INT(errmap_pg_words("connection to server on socket \"/run/pg/.s.PGSQL.5432\" "
				  "failed: Permission denied"), EACCES);
	CHECK_INT(errmap_pg_words("FATAL:  database \"gone\" does not exist"), ENOENT);
	/* Either half alone is not a missing database. */
	CHECK_INT(errmap_pg_words("FATAL:  role \"app\" does not exist"), EIO);
	CHECK_INT(errmap_pg_words("database \"x\" is being accessed by other users"), EIO);
	/* Several addresses tried: a timeout on any is what the caller waited for. */
	CHECK_INT(errmap_pg_words("connection to server at \"::1\", port 5432 failed: "
				  "Connection refused\nconnection to server at \"127.0.0.1\", "
				  "port 5432 failed: timeout expired"), ETIMEDOUT);
	CHECK_INT(errmap_pg_words("server closed the connection unexpectedly"), EIO);
	CHECK_INT(errmap_pg_words(""), EIO);
	CHECK_INT(errmap_pg_words(NULL), EIO);
}

/* What a local condition means, action by action, with its words. */
#define CHECK_LOCAL(action, cond, err, words) do { \
	const char *reason_ = NULL; \
	CHECK_INT(errmap_local((action), (cond), &reason_), (err)); \
	CHECK_STR(reason_, (words)); \
} while (0)

static void test_local(void)
{
	/* No meta database: snapshots have no attachments, and say so consistently. */
	CHECK_LOCAL(ERRMAP_ATTACHMENT_LIST, ERRMAP_NO_META, 0,
		    "no meta database, so no attachments");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_READ, ERRMAP_NO_META, ENOENT,
		    "no meta database, so no attachments");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_WRITE, ERRMAP_NO_META, ENOENT,
		    "no meta database, so no attachments");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_DELETE, ERRMAP_NO_META, ENOENT,
		    "no meta database, so no attachments");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_RENAME, ERRMAP_NO_META, ENOENT,
		    "no meta database, so no attachments");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_CREATE, ERRMAP_NO_META, ENOTSUP,
		    "attachments need a meta database (-o meta_url= or NEONFS_META_URL)");
	CHECK_LOCAL(ERRMAP_READ, ERRMAP_NO_META, 0, "no meta database, so no checkpoint records");
	CHECK_LOCAL(ERRMAP_SNAPSHOT_DELETE, ERRMAP_NO_META, 0,
		    "no meta database, so no checkpoint record to update");
	CHECK_LOCAL(ERRMAP_SNAPSHOT_RENAME, ERRMAP_NO_META, 0,
		    "no meta database, so no checkpoint record to update");
	CHECK_LOCAL(ERRMAP_ANY, ERRMAP_NO_META, ENOTSUP, "no meta database");

	/* A name nobody has is free for what would create it, and missing for the rest. */
	CHECK_LOCAL(ERRMAP_SNAPSHOT_CREATE, ERRMAP_NAME_UNUSED, 0, "the name is free");
	CHECK_LOCAL(ERRMAP_SNAPSHOT_RENAME, ERRMAP_NAME_UNUSED, 0, "the name is free");
	CHECK_LOCAL(ERRMAP_BRANCH_CREATE, ERRMAP_NAME_UNUSED, 0, "the name is free");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_CREATE, ERRMAP_NAME_UNUSED, 0, "the name is free");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_RENAME, ERRMAP_NAME_UNUSED, 0, "the name is free");
	CHECK_LOCAL(ERRMAP_RESTORE, ERRMAP_NAME_UNUSED, ENOENT, "unknown snapshot");
	CHECK_LOCAL(ERRMAP_SNAPSHOT_DELETE, ERRMAP_NAME_UNUSED, ENOENT, "no such entry");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_READ, ERRMAP_NAME_UNUSED, ENOENT, "no such entry");
	CHECK_LOCAL(ERRMAP_ANY, ERRMAP_NAME_UNUSED, ENOENT, "no such entry");

	/* A taken name: refused, except that mv over an attachment replaces it. */
	CHECK_LOCAL(ERRMAP_SNAPSHOT_CREATE, ERRMAP_NAME_TAKEN, EEXIST, "that name is taken");
	CHECK_LOCAL(ERRMAP_SNAPSHOT_RENAME, ERRMAP_NAME_TAKEN, EEXIST, "that name is taken");
	CHECK_LOCAL(ERRMAP_BRANCH_CREATE, ERRMAP_NAME_TAKEN, EEXIST, "that name is taken");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_CREATE, ERRMAP_NAME_TAKEN, EEXIST,
		    "an attachment of that name exists");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_RENAME, ERRMAP_NAME_TAKEN, 0,
		    "the attachment of that name is replaced");
	CHECK_LOCAL(ERRMAP_ANY, ERRMAP_NAME_TAKEN, EEXIST, "that name is taken");

	/* A snapshot's own files are not attachments. */
	CHECK_LOCAL(ERRMAP_ATTACHMENT_CREATE, ERRMAP_NAME_RESERVED, EACCES,
		    "that name belongs to the snapshot");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_WRITE, ERRMAP_NAME_RESERVED, EACCES,
		    "that name belongs to the snapshot");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_DELETE, ERRMAP_NAME_RESERVED, EPERM,
		    "that name belongs to the snapshot");
	CHECK_LOCAL(ERRMAP_ATTACHMENT_RENAME, ERRMAP_NAME_RESERVED, EPERM,
		    "that name belongs to the snapshot");
	CHECK_LOCAL(ERRMAP_ANY, ERRMAP_NAME_RESERVED, EPERM, "that name belongs to the snapshot");

	/* No checkpoint record: nothing to follow a change, Neon's fields alone to read. */
	CHECK_LOCAL(ERRMAP_SNAPSHOT_DELETE, ERRMAP_NO_RECORD, 0, "no checkpoint record to update");
	CHECK_LOCAL(ERRMAP_SNAPSHOT_RENAME, ERRMAP_NO_RECORD, 0, "no checkpoint record to update");
	CHECK_LOCAL(ERRMAP_READ, ERRMAP_NO_RECORD, 0, "no checkpoint record");
	CHECK_LOCAL(ERRMAP_ANY, ERRMAP_NO_RECORD, ENOENT, "no checkpoint record");

	/* A condition the table does not know is a failure, never a success. */
	CHECK_LOCAL(ERRMAP_ANY, (enum errmap_local)99, EIO, "unexpected condition");
	CHECK_INT(errmap_local(ERRMAP_ATTACHMENT_CREATE, ERRMAP_NO_META, NULL), ENOTSUP);
}

int main(void)
{
	test_generic_statuses();
	test_quota();
	test_action_rows();
	test_status_beats_words();
	test_transport();
	test_operations();
	test_retryable();
	test_sqlstate();
	test_pg_words();
	test_local();
	CHECK_DONE();
}
