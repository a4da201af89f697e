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

int main(void)
{
	test_generic_statuses();
	test_quota();
	test_action_rows();
	test_status_beats_words();
	test_transport();
	test_operations();
	test_retryable();
	CHECK_DONE();
}
