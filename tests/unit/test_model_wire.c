/* The model's parsers of API answers: what a missing, mistyped or broken field reads as. */
#include <errno.h>

#include "check.h"
#include "model.h"

static char code[64], message[400];

/* The body as the wire has it: its text and its length. */
static void parse_error(const char *text, size_t messagelen)
{
	model_error_parse(text, text ? strlen(text) : 0, code, sizeof(code), message, messagelen);
}

static void test_operation(void)
{
	struct neon_operation op;
	char msg[256], id[80];

	/* Fields of the wrong type read as missing, never as text to print. */
	CHECK_INT(model_operation_parse("{\"operation\": {\"id\": \"op-1\", \"status\": \"running\","
					" \"action\": 5, \"error\": null, \"branch_id\": [\"br\"],"
					" \"created_at\": 7, \"failures_count\": 2}}", &op,
					msg, sizeof(msg)), 0);
	CHECK_STR(op.id, "op-1");
	CHECK_STR(op.status, "running");
	CHECK_STR(op.action, "");
	CHECK_STR(op.error, "");
	CHECK_STR(op.branch_id, "");
	CHECK_STR(op.created_at, "");
	CHECK_INT(op.failures_count, 2);

	/* Without a string id there is nothing to poll. */
	msg[0] = '\0';
	CHECK_INT(model_operation_parse("{\"operation\": {\"status\": \"running\"}}", &op, msg,
					sizeof(msg)), -EIO);
	CHECK(strstr(msg, "no id") != NULL);
	CHECK_INT(model_operation_parse("{\"operation\": {\"id\": 17}}", &op, msg, sizeof(msg)),
		  -EIO);
	CHECK_INT(model_operation_parse("{\"operation\": {\"id\": \"\"}}", &op, msg, sizeof(msg)),
		  -EIO);
	/* An id cut to fit would poll another operation. */
	memset(id, 'a', sizeof(id) - 1);
	id[sizeof(id) - 1] = '\0';
	{
		char text[200];

		snprintf(text, sizeof(text), "{\"operation\": {\"id\": \"%s\"}}", id);
		CHECK_INT(model_operation_parse(text, &op, msg, sizeof(msg)), -EIO);
	}
	CHECK_INT(model_operation_parse("{\"operation\": \"op-1\"}", &op, msg, sizeof(msg)), -EIO);
	CHECK_INT(model_operation_parse("{\"operations\": []}", &op, msg, sizeof(msg)), -EIO);
	CHECK(strstr(msg, "no \"operation\"") != NULL);
	CHECK_INT(model_operation_parse("{\"operation\": {\"id\": \"op-1\"", &op, msg,
					sizeof(msg)), -EIO);
	CHECK(strstr(msg, "invalid JSON") != NULL);
	CHECK_INT(model_operation_parse(NULL, &op, msg, sizeof(msg)), -EIO);
	CHECK_INT(model_operation_parse("  \n", &op, msg, sizeof(msg)), -EIO);
	CHECK_INT(model_operation_parse("null", &op, msg, sizeof(msg)), -EIO);
}

static void test_answer(void)
{
	struct model_answer *a = NULL;
	char msg[256];

	CHECK_INT(model_answer_parse("{\"branch\": {\"id\": \"br-1\", \"name\": 3},"
				     " \"endpoints\": [{\"id\": \"ep-1\"}],"
				     " \"operations\": [{\"id\": \"op-1\", \"status\": 1},"
				     "  {\"id\": \"op-2\", \"action\": \"start_compute\"}]}",
				     &a, msg, sizeof(msg)), 0);
	CHECK(a && a->branch && !a->snapshot && !a->endpoint);
	CHECK_STR(a->branch->u.branch.id, "br-1");
	CHECK_STR(a->branch->u.branch.name, "");
	CHECK(a->has_endpoints);
	CHECK(a->has_operations);
	CHECK_INT(a->nops, 2);
	CHECK_STR(a->ops[0].status, "");
	CHECK_STR(a->ops[0].action, "");
	CHECK_STR(a->ops[1].action, "start_compute");
	model_answer_free(a);

	/* An object without an id is none; an empty "endpoints" made no compute. */
	CHECK_INT(model_answer_parse("{\"snapshot\": {\"name\": \"v1\"}, \"endpoints\": []}", &a,
				     msg, sizeof(msg)), 0);
	CHECK(a && !a->snapshot && !a->has_endpoints && !a->has_operations && a->nops == 0);
	model_answer_free(a);

	/* No body (a 204): an answer with nothing in it. */
	CHECK_INT(model_answer_parse(NULL, &a, msg, sizeof(msg)), 0);
	CHECK(a && !a->branch && a->nops == 0);
	model_answer_free(a);

	/* An operation without an id cannot be waited for: the answer is broken. */
	a = NULL;
	msg[0] = '\0';
	CHECK_INT(model_answer_parse("{\"operations\": [{\"id\": \"op-1\"}, {\"status\": \"x\"}]}",
				     &a, msg, sizeof(msg)), -EIO);
	CHECK(a == NULL);
	CHECK(strstr(msg, "operation") != NULL);
	CHECK_INT(model_answer_parse("{\"operations\": {\"id\": \"op-1\"}}", &a, msg, sizeof(msg)),
		  -EIO);
	CHECK_INT(model_answer_parse("{\"operations\": [\"op-1\"]}", &a, msg, sizeof(msg)), -EIO);
	CHECK_INT(model_answer_parse("{\"branch\": ", &a, msg, sizeof(msg)), -EIO);
	CHECK(strstr(msg, "invalid JSON") != NULL);
	CHECK(a == NULL);
}

static void test_error_body(void)
{
	static const char nul[] = "{\"code\": \"X\", \"message\": \"a\"}\0trailing";

	parse_error("{\"code\": \"BRANCHES_LIMIT_EXCEEDED\", \"message\": \"too many\"}",
		    sizeof(message));
	CHECK_STR(code, "BRANCHES_LIMIT_EXCEEDED");
	CHECK_STR(message, "too many");

	/* Not JSON: short text is the message (its first line); an HTML page is not. */
	parse_error("upstream timed out\nsecond line", sizeof(message));
	CHECK_STR(code, "");
	CHECK_STR(message, "upstream timed out");
	parse_error("<html><body>502 Bad Gateway</body></html>", sizeof(message));
	CHECK_STR(message, "");

	/* JSON without code or message, or with them of another type. */
	parse_error("{\"status\": 500}", sizeof(message));
	CHECK_STR(code, "");
	CHECK_STR(message, "");
	parse_error("{\"code\": 42, \"message\": [\"x\"]}", sizeof(message));
	CHECK_STR(code, "");
	CHECK_STR(message, "");
	parse_error("[\"not an object\"]", sizeof(message));
	CHECK_STR(code, "");
	CHECK_STR(message, "");

	/* A proxy's {"error": {...}}. */
	parse_error("{\"error\": {\"code\": \"RATE\", \"message\": \"slow down\"}}", sizeof(message));
	CHECK_STR(code, "RATE");
	CHECK_STR(message, "slow down");

	/* A message longer than the buffer is cut, still a C string. */
	parse_error("{\"message\": \"0123456789abcdef\"}", 8);
	CHECK_STR(message, "0123456");
	/* A body with a NUL inside reads as the JSON before it. */
	model_error_parse(nul, sizeof(nul) - 1, code, sizeof(code), message, sizeof(message));
	CHECK_STR(code, "X");
	CHECK_STR(message, "a");
	parse_error(NULL, sizeof(message));
	CHECK_STR(code, "");
	CHECK_STR(message, "");
}

static void test_listings(void)
{
	struct model_list *l = NULL;
	struct model_pages *p;
	char msg[256], *next = NULL;
	size_t n = 99;

	CHECK_INT(model_list_parse(MODEL_ENDPOINTS, "{\"endpoints\": [{\"id\": \"ep-1\","
				   " \"branch_id\": \"br-1\", \"host\": \"ep-1.example\","
				   " \"type\": \"read_write\"}, {\"id\": \"ep-2\", \"host\": 9}]}",
				   &l, msg, sizeof(msg)), 0);
	CHECK_INT(model_count(l), 2);
	CHECK_STR(model_endpoint_at(l, 0)->host, "ep-1.example");
	CHECK_STR(model_endpoint_at(l, 1)->host, "");
	model_list_put(l);
	l = NULL;
	CHECK_INT(model_list_parse(MODEL_SNAPSHOTS, "{\"branches\": []}", &l, msg, sizeof(msg)),
		  -EIO);
	CHECK(strstr(msg, "no \"snapshots\"") != NULL);
	CHECK(l == NULL);
	CHECK_INT(model_list_parse(MODEL_SNAPSHOTS, "nonsense", &l, msg, sizeof(msg)), -EIO);
	CHECK_INT(model_list_parse(MODEL_SNAPSHOTS, NULL, &l, msg, sizeof(msg)), -EIO);

	p = model_pages_new();
	CHECK(p != NULL);
	CHECK_INT(model_pages_add(p, "{\"branches\": [{\"id\": \"br-1\"}, {\"name\": \"no id\"}],"
				  " \"pagination\": {\"next\": \"c1\"}}", "branches", &n, &next,
				  msg, sizeof(msg)), 0);
	CHECK_INT(n, 2);
	CHECK_STR(next, "c1");
	free(next);
	CHECK_INT(model_pages_add(p, "{\"branches\": [{\"id\": \"br-2\"}], \"pagination\":"
				  " {\"next\": 5}}", "branches", &n, &next, msg, sizeof(msg)), 0);
	CHECK_INT(n, 1);
	CHECK(next == NULL);
	CHECK_INT(model_pages_add(p, "{\"branches\": {}}", "branches", &n, &next, msg,
				  sizeof(msg)), -EIO);
	l = model_pages_list(p, MODEL_BRANCHES);
	model_pages_free(p);
	/* The object without an id is not shown; the others outlive their pages. */
	CHECK_INT(model_count(l), 2);
	CHECK_STR(model_branch_at(l, 1)->id, "br-2");
	model_list_put(l);
}

static void test_named_and_uri(void)
{
	struct neon_named *v = NULL;
	size_t n = 0;
	char msg[256], *uri = NULL;

	CHECK_INT(model_named_parse("{\"databases\": [{\"name\": \"neondb\", \"owner_name\": 1},"
				    " {\"owner_name\": \"x\"}, {\"name\": \"app\","
				    " \"owner_name\": \"alice\"}, 7]}", "databases", &v, &n, msg,
				    sizeof(msg)), 0);
	CHECK_INT(n, 2);
	CHECK_STR(v[0].name, "neondb");
	CHECK_STR(v[0].owner, "");
	CHECK_STR(v[1].owner, "alice");
	free(v);
	CHECK_INT(model_named_parse("{}", "roles", &v, &n, msg, sizeof(msg)), -EIO);
	CHECK(v == NULL);

	CHECK_INT(model_uri_parse("{\"uri\": \"postgresql://u:p@h/db\"}", &uri, msg, sizeof(msg)),
		  0);
	CHECK_STR(uri, "postgresql://u:p@h/db");
	free(uri);
	CHECK_INT(model_uri_parse("{\"uri\": 5}", &uri, msg, sizeof(msg)), -EIO);
	CHECK(strstr(msg, "not a string") != NULL);
	CHECK(uri == NULL);
	CHECK_INT(model_uri_parse("{}", &uri, msg, sizeof(msg)), -EIO);
}

int main(void)
{
	test_operation();
	test_answer();
	test_error_body();
	test_listings();
	test_named_and_uri();
	CHECK_DONE();
}
