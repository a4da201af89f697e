/* What neonfs knows of Neon's limits, and where each number came from. */
#include "check.h"
#include "quota.h"

static void test_number(void)
{
	CHECK_INT(quota_number("snapshots limit exceeded: the project already has 10 snapshots "
			       "(limit 10)"), 10);
	CHECK_INT(quota_number("root branches limit: 3"), 3);
	CHECK_INT(quota_number("you have reached the limit of 100 snapshots"), 100);
	CHECK_INT(quota_number("Limit=5"), 5);
	CHECK_INT(quota_number("limit exceeded"), -1);
	CHECK_INT(quota_number("the project has 10 snapshots"), -1);
	CHECK_INT(quota_number(""), -1);
	CHECK_INT(quota_number(NULL), -1);
}

static void test_learn(void)
{
	struct quota *q = quota_new(0);
	char from[16];

	CHECK_INT(quota_limit(q, QUOTA_SNAPSHOTS, from, sizeof(from)), -1);
	CHECK_STR(from, "");
	CHECK_INT(quota_learn(q, QUOTA_SNAPSHOTS, "too many snapshots (limit 7)", 3), 7);
	CHECK_INT(quota_limit(q, QUOTA_SNAPSHOTS, from, sizeof(from)), 7);
	CHECK_STR(from, "error");
	/* A message with no number: the limit is what was in use when Neon refused. */
	CHECK_INT(quota_learn(q, QUOTA_ROOT_BRANCHES, "root branches limit exceeded", 4), 4);
	CHECK_INT(quota_limit(q, QUOTA_ROOT_BRANCHES, from, sizeof(from)), 4);
	CHECK_STR(from, "error");
	quota_free(q);

	q = quota_new(100);
	CHECK_INT(quota_limit(q, QUOTA_SNAPSHOTS, from, sizeof(from)), 100);
	CHECK_STR(from, "option");
	CHECK_INT(quota_limit(q, QUOTA_ROOT_BRANCHES, from, sizeof(from)), -1);
	/* Neon's own answer wins over the option. */
	CHECK_INT(quota_learn(q, QUOTA_SNAPSHOTS, "(limit 1)", 1), 1);
	CHECK_INT(quota_limit(q, QUOTA_SNAPSHOTS, from, sizeof(from)), 1);
	CHECK_STR(from, "error");
	quota_free(q);

	CHECK_INT(quota_kind_of("SNAPSHOTS_LIMIT_EXCEEDED"), QUOTA_SNAPSHOTS);
	CHECK_INT(quota_kind_of("ROOT_BRANCHES_LIMIT_EXCEEDED"), QUOTA_ROOT_BRANCHES);
	CHECK_INT(quota_kind_of("BRANCHES_LIMIT_EXCEEDED"), -1);
	CHECK_INT(quota_kind_of(NULL), -1);
}

int main(void)
{
	test_number();
	test_learn();
	CHECK_DONE();
}
