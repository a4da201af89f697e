/* budget: one token bucket for every API call of a mount, and a fair queue in front of it
 * for the calls users wait for.
 *
 * The queue is start-time fair queuing: a call of a flow gets the start tag
 * max(V, the flow's last finish) and finishes one later; calls are served in tag order,
 * ties in arrival order, and V is the tag of the call last served. A flow that has been
 * quiet starts at V and so goes before the backlog of busy flows, whose tags run ahead of V
 * by the length of their backlog. Tags count in BUDGET_CALL units a call; a flow of weight
 * w finishes a call BUDGET_CALL / w units later, so it gets w turns for everyone's one. Only the queue's head takes a token; everyone else sleeps
 * on its own condition variable until it becomes the head, its deadline comes, or the
 * bucket shows it cannot make its deadline. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include "budget.h"
#include "util.h"

/* Neon's documented burst limit per route, per second. */
#define BUDGET_ROUTE_PER_SECOND 40.0
/* Refills are computed in floating point: a head woken at its token's time must not find
 * 0.9999999 of it and sleep again for nothing. */
#define BUDGET_EPSILON 1e-9

/* One call's length in tags, for a flow of weight 1. */
#define BUDGET_CALL 64

/* Under the budget's lock. */
struct budget_flow {
	uint64_t cost;         /* BUDGET_CALL / its weight, at least 1 */
	uint64_t finish;       /* the least start tag of its next call */
	uint64_t served;       /* the finish tag of its last call served */
	int queued;
};

/* A user's call in the queue; it lives on its caller's stack. */
struct budget_waiter {
	struct budget_waiter *next;
	uint64_t tag;
	uint64_t seq;          /* arrival order, for equal tags */
	const struct budget_flow *flow;
	double deadline;
	pthread_cond_t wake;
};

struct budget {
	pthread_mutex_t lock;
	pthread_condattr_t attr;  /* waits on util_now()'s clock */
	double rate;           /* tokens a second */
	double size;           /* the most the bucket holds */
	double reserve;        /* what background calls leave for users */
	double tokens;
	double last;           /* when tokens was last refilled */
	double paused_until;
	uint64_t vtime;        /* V: the start tag of the call last served */
	uint64_t arrivals;
	struct budget_waiter *queue;   /* in (tag, seq) order; the head takes the next token */
	int waiting;
	struct budget_flow anonymous;  /* for takes without a flow of their own */
};

struct budget *budget_new(double per_minute)
{
	struct budget *b;

	if (per_minute <= 0)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	b->anonymous.cost = BUDGET_CALL;
	pthread_mutex_init(&b->lock, NULL);
	pthread_condattr_init(&b->attr);
	pthread_condattr_setclock(&b->attr, CLOCK_MONOTONIC);
	b->rate = per_minute / 60.0;
	/* A second can see the whole bucket plus a second's refill: keep that under 40. */
	b->size = BUDGET_ROUTE_PER_SECOND - b->rate;
	if (b->size > b->rate * 4)
		b->size = b->rate * 4;
	if (b->size < 1)
		b->size = 1;
	b->reserve = b->size / 4;
	b->tokens = b->size;
	b->last = util_now();
	return b;
}

void budget_free(struct budget *b)
{
	if (!b)
		return;
	pthread_condattr_destroy(&b->attr);
	pthread_mutex_destroy(&b->lock);
	free(b);
}

struct budget_flow *budget_flow_new(struct budget *b)
{
	struct budget_flow *f;

	if (!b)
		return NULL;
	f = calloc(1, sizeof(*f));
	if (f)
		f->cost = BUDGET_CALL;
	return f;
}

void budget_flow_weigh(struct budget *b, struct budget_flow *f, unsigned weight)
{
	if (!b || !f || weight < 1)
		return;
	pthread_mutex_lock(&b->lock);
	f->cost = weight >= BUDGET_CALL ? 1 : BUDGET_CALL / weight;
	pthread_mutex_unlock(&b->lock);
}

void budget_flow_free(struct budget_flow *f)
{
	free(f);
}

int budget_waiting(struct budget *b)
{
	return budget_queue(b, NULL, 0);
}

int budget_queue(struct budget *b, const struct budget_flow **flows, int max)
{
	const struct budget_waiter *w;
	int n, i = 0;

	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	n = b->waiting;
	for (w = b->queue; w && i < max; w = w->next, i++)
		flows[i] = w->flow == &b->anonymous ? NULL : w->flow;
	pthread_mutex_unlock(&b->lock);
	return n;
}

/* Caller holds the lock. */
static void budget_refill(struct budget *b, double now)
{
	b->tokens += (now - b->last) * b->rate;
	if (b->tokens > b->size)
		b->tokens = b->size;
	b->last = now;
}

/* The earliest a token can be had, whoever gets it; the lock held and just refilled. The
 * bucket refills during a pause too. */
static double budget_ready(const struct budget *b, double now)
{
	double ready = now;

	if (b->tokens < 1 - BUDGET_EPSILON)
		ready += (1 - b->tokens) / b->rate;
	return ready > b->paused_until ? ready : b->paused_until;
}

/* Is @a served before @b? By tag, then in order of arrival. */
static bool budget_before(const struct budget_waiter *a, const struct budget_waiter *b)
{
	return a->tag < b->tag || (a->tag == b->tag && a->seq < b->seq);
}

static void budget_enqueue(struct budget *b, struct budget_waiter *w)
{
	struct budget_waiter **p = &b->queue;

	while (*p && budget_before(*p, w))
		p = &(*p)->next;
	w->next = *p;
	*p = w;
	b->waiting++;
}

static void budget_dequeue(struct budget *b, struct budget_waiter *w)
{
	struct budget_waiter **p = &b->queue;

	while (*p != w)
		p = &(*p)->next;
	*p = w->next;
	b->waiting--;
}

/* After the queue or the bucket changed: the head looks whether it can take a token now,
 * and whoever's deadline comes before the next token gives up at once rather than at its
 * deadline. The lock held. */
static void budget_wake(struct budget *b, double now)
{
	struct budget_waiter *w;
	double ready;

	if (!b->queue)
		return;
	budget_refill(b, now);
	ready = budget_ready(b, now);
	pthread_cond_signal(&b->queue->wake);
	for (w = b->queue->next; w; w = w->next)
		if (w->deadline < ready)
			pthread_cond_signal(&w->wake);
}

static void budget_wait_until(struct budget *b, struct budget_waiter *w, double t)
{
	struct timespec ts;
	double whole;

	ts.tv_nsec = (long)(modf(t, &whole) * 1e9);
	ts.tv_sec = (time_t)whole;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_cond_timedwait(&w->wake, &b->lock, &ts);
}

/* A background call: a token only while no user waits and the reserve is left. */
static int budget_take_background(struct budget *b)
{
	int res = -EAGAIN;

	pthread_mutex_lock(&b->lock);
	if (!b->queue) {
		double now = util_now();

		budget_refill(b, now);
		if (now >= b->paused_until && b->tokens >= b->reserve + 1) {
			b->tokens -= 1;
			res = 0;
		}
	}
	pthread_mutex_unlock(&b->lock);
	return res;
}

int budget_take(struct budget *b, struct budget_flow *flow, bool background, double deadline)
{
	struct budget_waiter w = { .deadline = deadline };
	int res;

	if (!b)
		return 0;
	if (background)
		return budget_take_background(b);
	if (!flow)
		flow = &b->anonymous;
	w.flow = flow;
	pthread_cond_init(&w.wake, &b->attr);
	pthread_mutex_lock(&b->lock);
	w.tag = flow->finish > b->vtime ? flow->finish : b->vtime;
	w.seq = b->arrivals++;
	flow->finish = w.tag + flow->cost;
	flow->queued++;
	budget_enqueue(b, &w);
	for (;;) {
		double now = util_now(), ready;

		budget_refill(b, now);
		ready = budget_ready(b, now);
		if (b->queue == &w && ready <= now) {
			b->tokens -= 1;
			b->vtime = w.tag;
			flow->served = w.tag + flow->cost;
			res = 0;
			break;
		}
		if (ready > deadline || now >= deadline) {
			res = -EAGAIN;
			break;
		}
		budget_wait_until(b, &w, b->queue == &w ? ready : deadline);
	}
	budget_dequeue(b, &w);
	/* Calls that gave up were never served: the flow's next call must not queue behind
	 * them. Those still queued keep their places. */
	if (--flow->queued == 0)
		flow->finish = flow->served;
	else if (res && flow->finish == w.tag + flow->cost)
		flow->finish = w.tag;
	budget_wake(b, util_now());
	pthread_mutex_unlock(&b->lock);
	pthread_cond_destroy(&w.wake);
	return res;
}

void budget_pause(struct budget *b, double seconds)
{
	double now, until;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	now = util_now();
	until = now + seconds;
	if (until > b->paused_until)
		b->paused_until = until;
	budget_refill(b, now);
	b->tokens = 0;
	budget_wake(b, now);
	pthread_mutex_unlock(&b->lock);
}
