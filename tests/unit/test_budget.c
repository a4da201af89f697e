/* The API budget: its size, what background calls leave for users, pauses, and the order
 * in which the calls users wait for are served.
 *
 * Order is read from the queue itself (budget_queue): callers are queued one at a time
 * while a pause, renewed as the test polls, holds the queue still, so the order of arrival
 * is fixed; once the pause ends, every state of the queue seen must be a tail of the first
 * (only the head ever takes a token). */
#include <errno.h>
#include <pthread.h>

#include "budget.h"
#include "check.h"
#include "util.h"

/* 500 a second: the bucket holds one token and the queue moves every 2 ms. */
#define FAST_PER_MINUTE 30000
/* How long each renewal of the pause holds the queue. */
#define HOLD_S 0.1
#define POLL_S 10.0
#define MAX_CALLERS 32

struct caller {
	struct budget *b;
	struct budget_flow *flow;
	double deadline;
	int res;
	int waiting_after;   /* how many still waited when this one returned */
	pthread_t thread;
};

struct scene {
	struct budget *b;
	struct caller callers[MAX_CALLERS];
	int n;
};

static void *caller_run(void *arg)
{
	struct caller *c = arg;

	c->res = budget_take(c->b, c->flow, false, c->deadline);
	c->waiting_after = budget_waiting(c->b);
	return NULL;
}

static void poll_pause(void)
{
	util_sleep_until(util_now() + 0.001);
}

/* Holds the queue still until @n calls wait in it; false if they never do. */
static bool hold_until_waiting(struct budget *b, int n)
{
	double end = util_now() + POLL_S;

	while (util_now() < end) {
		budget_pause(b, HOLD_S);
		if (budget_waiting(b) == n)
			return true;
		poll_pause();
	}
	fprintf(stderr, "%d calls waiting, never %d\n", budget_waiting(b), n);
	return false;
}

/* Queues one more call of @flow behind those already queued. */
static void arrive(struct scene *s, struct budget_flow *flow, double deadline)
{
	struct caller *c = &s->callers[s->n];
	int waiting = budget_waiting(s->b);

	c->b = s->b;
	c->flow = flow;
	c->deadline = deadline;
	c->res = 1;
	/* Held before it comes, or a token left in the bucket would serve it at once. */
	budget_pause(s->b, HOLD_S);
	if (pthread_create(&c->thread, NULL, caller_run, c) != 0) {
		CHECK(!"pthread_create");
		return;
	}
	s->n++;
	CHECK(hold_until_waiting(s->b, waiting + 1));
}

static void join_all(struct scene *s)
{
	int i;

	for (i = 0; i < s->n; i++)
		pthread_join(s->callers[i].thread, NULL);
}

/* Every caller of the scene returns, each with a token. */
static void all_served(struct scene *s)
{
	int i;

	join_all(s);
	for (i = 0; i < s->n; i++)
		CHECK_INT(s->callers[i].res, 0);
}

/* Lets the queue go and checks it is served from its head only, to its end. */
static void check_served_in_order(struct budget *b, const struct budget_flow **order, int n)
{
	const struct budget_flow *now[MAX_CALLERS];
	double end = util_now() + POLL_S;
	int k, i, last = n;
	bool tail = true;

	while (tail && (k = budget_queue(b, now, MAX_CALLERS)) > 0 && util_now() < end) {
		/* A tail of the first order, and never longer than the last one seen. */
		tail = k <= last;
		for (i = 0; tail && i < k; i++)
			tail = now[i] == order[n - k + i];
		CHECK(tail);
		last = k;
		poll_pause();
	}
	end = util_now() + POLL_S;
	while (budget_waiting(b) > 0 && util_now() < end)
		poll_pause();
	CHECK_INT(budget_waiting(b), 0);
}

static void test_no_budget(void)
{
	CHECK(budget_new(0) == NULL);
	CHECK(budget_flow_new(NULL) == NULL);
	CHECK_INT(budget_take(NULL, NULL, false, 0), 0);
	CHECK_INT(budget_take(NULL, NULL, true, 0), 0);
	CHECK_INT(budget_waiting(NULL), 0);
}

static void test_burst_and_reserve(void)
{
	/* 600 a minute is 10 a second: a burst of 30 keeps a second under 40. */
	struct budget *b = budget_new(600);
	struct budget_flow *f = budget_flow_new(b);
	int background = 0, user = 0;

	while (budget_take(b, f, true, 0) == 0)
		background++;
	/* Polls stop while a quarter is left for users... */
	CHECK(background >= 21 && background <= 23);
	while (budget_take(b, f, false, util_now()) == 0)
		user++;
	/* ...who then get the rest, and no more without waiting. */
	CHECK(background + user >= 30 && background + user <= 31);
	/* A user's call waits for the next token when its deadline allows. */
	CHECK_INT(budget_take(b, f, false, util_now() + 0.5), 0);
	budget_flow_free(f);
	budget_free(b);
}

static void test_quiet_flow_first(void)
{
	struct scene s = { .b = budget_new(FAST_PER_MINUTE) };
	struct budget_flow *busy = budget_flow_new(s.b), *quiet = budget_flow_new(s.b);
	const struct budget_flow *order[MAX_CALLERS], *want[MAX_CALLERS];
	int i, k;

	/* Both flows have called before; the busy one since. */
	CHECK_INT(budget_take(s.b, quiet, false, util_now() + POLL_S), 0);
	for (i = 0; i < 3; i++)
		CHECK_INT(budget_take(s.b, busy, false, util_now() + POLL_S), 0);
	for (i = 0; i < 8; i++)
		arrive(&s, busy, util_now() + 30);
	arrive(&s, quiet, util_now() + 30);
	/* The quiet flow's call goes before the whole backlog that was there first. */
	k = budget_queue(s.b, order, MAX_CALLERS);
	CHECK_INT(k, 9);
	want[0] = quiet;
	for (i = 1; i < 9; i++)
		want[i] = busy;
	for (i = 0; i < k && i < 9; i++)
		CHECK(order[i] == want[i]);
	check_served_in_order(s.b, order, k);
	all_served(&s);
	budget_flow_free(busy);
	budget_flow_free(quiet);
	budget_free(s.b);
}

static void test_new_flow_behind_one_call_at_most(void)
{
	struct scene s = { .b = budget_new(FAST_PER_MINUTE) };
	struct budget_flow *busy = budget_flow_new(s.b), *other = budget_flow_new(s.b);
	const struct budget_flow *order[MAX_CALLERS];
	int i, k;

	/* Nobody has called yet: the first of the backlog and the newcomer start together,
	 * and the one that came first goes first. */
	for (i = 0; i < 8; i++)
		arrive(&s, busy, util_now() + 30);
	arrive(&s, other, util_now() + 30);
	k = budget_queue(s.b, order, MAX_CALLERS);
	CHECK_INT(k, 9);
	for (i = 0; i < k && i < 9; i++)
		CHECK(order[i] == (i == 1 ? other : busy));
	check_served_in_order(s.b, order, k);
	all_served(&s);
	budget_flow_free(busy);
	budget_flow_free(other);
	budget_free(s.b);
}

static void test_busy_flows_alternate(void)
{
	struct scene s = { .b = budget_new(FAST_PER_MINUTE) };
	struct budget_flow *one = budget_flow_new(s.b), *two = budget_flow_new(s.b);
	const struct budget_flow *order[MAX_CALLERS];
	int i, k;

	/* All of one's calls come before any of two's, and still they take turns. */
	for (i = 0; i < 6; i++)
		arrive(&s, one, util_now() + 30);
	for (i = 0; i < 6; i++)
		arrive(&s, two, util_now() + 30);
	k = budget_queue(s.b, order, MAX_CALLERS);
	CHECK_INT(k, 12);
	for (i = 0; i < k && i < 12; i++)
		CHECK(order[i] == (i % 2 ? two : one));
	check_served_in_order(s.b, order, k);
	all_served(&s);
	budget_flow_free(one);
	budget_flow_free(two);
	budget_free(s.b);
}

static void test_a_weighted_flow_gets_its_turns(void)
{
	struct scene s = { .b = budget_new(FAST_PER_MINUTE) };
	struct budget_flow *heavy = budget_flow_new(s.b), *one = budget_flow_new(s.b);
	const struct budget_flow *order[MAX_CALLERS];
	int i, k;

	budget_flow_weigh(s.b, heavy, 4);
	/* Both backlogged from the same start: four of the heavy flow's calls for each of
	 * the other's, the other's first at once (its start is the heavy one's). */
	for (i = 0; i < 9; i++)
		arrive(&s, heavy, util_now() + 30);
	for (i = 0; i < 3; i++)
		arrive(&s, one, util_now() + 30);
	k = budget_queue(s.b, order, MAX_CALLERS);
	CHECK_INT(k, 12);
	for (i = 0; i < k && i < 12; i++)
		CHECK(order[i] == (i == 1 || i == 6 || i == 11 ? one : heavy));
	check_served_in_order(s.b, order, k);
	all_served(&s);
	budget_flow_free(heavy);
	budget_flow_free(one);
	budget_free(s.b);
}

static void test_missed_deadline_at_the_head(void)
{
	struct scene s = { .b = budget_new(FAST_PER_MINUTE) };
	struct budget_flow *hurried = budget_flow_new(s.b), *patient = budget_flow_new(s.b);
	int i;

	/* First in the queue, with a deadline the held queue cannot meet: it leaves when
	 * the pause shows it cannot make it, and those behind it are then served. */
	arrive(&s, hurried, util_now() + 3 * HOLD_S);
	for (i = 0; i < 3; i++)
		arrive(&s, patient, util_now() + 30);
	/* Only it can leave the held queue. */
	CHECK(hold_until_waiting(s.b, 3));
	join_all(&s);
	CHECK_INT(s.callers[0].res, -EAGAIN);
	for (i = 1; i < s.n; i++)
		CHECK_INT(s.callers[i].res, 0);
	CHECK_INT(budget_waiting(s.b), 0);
	budget_flow_free(hurried);
	budget_flow_free(patient);
	budget_free(s.b);
}

static void test_missed_deadline_behind_others(void)
{
	/* 10 a second: the two ahead are served 0.1 s apart once the queue goes. */
	struct scene s = { .b = budget_new(600) };
	struct budget_flow *f = budget_flow_new(s.b);
	double deadline;

	arrive(&s, f, util_now() + 30);
	arrive(&s, f, util_now() + 30);
	/* The first token after the pause comes in time, but its turn, the third, 0.2 s
	 * later, would not. */
	deadline = util_now() + HOLD_S + 0.05;
	arrive(&s, f, deadline);
	join_all(&s);
	CHECK_INT(s.callers[0].res, 0);
	CHECK_INT(s.callers[1].res, 0);
	CHECK_INT(s.callers[2].res, -EAGAIN);
	/* It left while a call ahead of it still waited. */
	CHECK(s.callers[2].waiting_after >= 1);
	budget_flow_free(f);
	budget_free(s.b);
}

static void test_calls_given_up_keep_no_place(void)
{
	struct scene s = { .b = budget_new(FAST_PER_MINUTE) };
	struct budget_flow *gave_up = budget_flow_new(s.b), *other = budget_flow_new(s.b);
	const struct budget_flow *order[MAX_CALLERS];
	int i, k;

	for (i = 0; i < 3; i++)
		arrive(&s, gave_up, util_now() + 3 * HOLD_S);
	CHECK(hold_until_waiting(s.b, 0));
	for (i = 0; i < 3; i++)
		arrive(&s, other, util_now() + 30);
	/* Its next call starts where its last served one ended, not after the three. */
	arrive(&s, gave_up, util_now() + 30);
	k = budget_queue(s.b, order, MAX_CALLERS);
	CHECK_INT(k, 4);
	for (i = 0; i < k && i < 4; i++)
		CHECK(order[i] == (i == 1 ? gave_up : other));
	check_served_in_order(s.b, order, k);
	join_all(&s);
	for (i = 0; i < 3; i++)
		CHECK_INT(s.callers[i].res, -EAGAIN);
	for (i = 3; i < s.n; i++)
		CHECK_INT(s.callers[i].res, 0);
	budget_flow_free(gave_up);
	budget_flow_free(other);
	budget_free(s.b);
}

static void test_background_shed_while_users_wait(void)
{
	/* 20 a second in a bucket of 20: polls need 6 left. */
	struct scene s = { .b = budget_new(1200) };
	struct budget_flow *f = budget_flow_new(s.b);
	double end;
	int res = -EAGAIN;

	arrive(&s, f, util_now() + 30);
	CHECK_INT(budget_take(s.b, f, true, util_now() + 30), -EAGAIN);
	join_all(&s);
	CHECK_INT(s.callers[0].res, 0);
	/* Nobody waits: polls get a token again once the reserve has refilled. */
	end = util_now() + POLL_S;
	while (util_now() < end && (res = budget_take(s.b, f, true, 0)) != 0)
		util_sleep_until(util_now() + 0.01);
	CHECK_INT(res, 0);
	budget_flow_free(f);
	budget_free(s.b);
}

static void test_pause(void)
{
	struct budget *b = budget_new(6000);
	double until = util_now() + 0.3;

	budget_pause(b, 0.3);
	CHECK_INT(budget_take(b, NULL, false, util_now() + 0.05), -EAGAIN);
	CHECK_INT(budget_take(b, NULL, true, util_now() + 10), -EAGAIN);
	CHECK_INT(budget_take(b, NULL, false, util_now() + 2), 0);
	CHECK(util_now() >= until);
	budget_free(b);
}

static void test_pause_sends_away_who_cannot_wait(void)
{
	/* 1 a second: a drained bucket keeps a caller waiting. */
	struct scene s = { .b = budget_new(60) };
	double end;

	while (budget_take(s.b, NULL, false, util_now()) == 0)
		;
	s.callers[0] = (struct caller){ .b = s.b, .deadline = util_now() + 30, .res = 1 };
	CHECK(pthread_create(&s.callers[0].thread, NULL, caller_run, &s.callers[0]) == 0);
	s.n = 1;
	end = util_now() + POLL_S;
	while (budget_waiting(s.b) != 1 && util_now() < end)
		poll_pause();
	CHECK_INT(budget_waiting(s.b), 1);
	/* A pause past its deadline: it gives up now, not at its deadline. */
	budget_pause(s.b, 60);
	end = util_now() + POLL_S;
	while (budget_waiting(s.b) != 0 && util_now() < end)
		poll_pause();
	CHECK_INT(budget_waiting(s.b), 0);
	join_all(&s);
	CHECK_INT(s.callers[0].res, -EAGAIN);
	budget_free(s.b);
}

int main(void)
{
	test_no_budget();
	test_burst_and_reserve();
	test_quiet_flow_first();
	test_new_flow_behind_one_call_at_most();
	test_busy_flows_alternate();
	test_a_weighted_flow_gets_its_turns();
	test_missed_deadline_at_the_head();
	test_missed_deadline_behind_others();
	test_calls_given_up_keep_no_place();
	test_background_shed_while_users_wait();
	test_pause();
	test_pause_sends_away_who_cannot_wait();
	CHECK_DONE();
}
