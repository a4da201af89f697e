/* The API budget: its size, what background calls leave for users, pauses. */
#include <errno.h>

#include "budget.h"
#include "check.h"
#include "util.h"

static void test_no_budget(void)
{
	CHECK(budget_new(0) == NULL);
	CHECK_INT(budget_take(NULL, false, 0), 0);
	CHECK_INT(budget_take(NULL, true, 0), 0);
}

static void test_burst_and_reserve(void)
{
	/* 600 a minute is 10 a second: a burst of 30 keeps a second under 40. */
	struct budget *b = budget_new(600);
	int background = 0, user = 0;

	while (budget_take(b, true, 0) == 0)
		background++;
	/* Polls stop while a quarter is left for users... */
	CHECK(background >= 21 && background <= 23);
	while (budget_take(b, false, util_now()) == 0)
		user++;
	/* ...who then get the rest, and no more without waiting. */
	CHECK(background + user >= 30 && background + user <= 31);
	/* A user's call waits for the next token when its deadline allows. */
	CHECK_INT(budget_take(b, false, util_now() + 0.5), 0);
	budget_free(b);
}

static void test_pause(void)
{
	struct budget *b = budget_new(6000);

	budget_pause(b, 0.3);
	CHECK_INT(budget_take(b, false, util_now() + 0.05), -EAGAIN);
	CHECK_INT(budget_take(b, true, util_now() + 10), -EAGAIN);
	CHECK_INT(budget_take(b, false, util_now() + 2), 0);
	budget_free(b);
}

int main(void)
{
	test_no_budget();
	test_burst_and_reserve();
	test_pause();
	CHECK_DONE();
}
