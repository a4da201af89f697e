/* budget: one token bucket for every API call of a mount. */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>

#include "budget.h"
#include "util.h"

/* Neon's documented burst limit per route, per second. */
#define BUDGET_ROUTE_PER_SECOND 40.0

struct budget {
	pthread_mutex_t lock;
	double rate;           /* tokens a second */
	double size;           /* the most the bucket holds */
	double reserve;        /* what background calls leave for users */
	double tokens;
	double last;           /* when tokens was last refilled */
	double paused_until;
};

struct budget *budget_new(double per_minute)
{
	struct budget *b;

	if (per_minute <= 0)
		return NULL;
	b = calloc(1, sizeof(*b));
	if (!b)
		return NULL;
	pthread_mutex_init(&b->lock, NULL);
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
	pthread_mutex_destroy(&b->lock);
	free(b);
}

/* Caller holds the lock. */
static void budget_refill(struct budget *b, double now)
{
	b->tokens += (now - b->last) * b->rate;
	if (b->tokens > b->size)
		b->tokens = b->size;
	b->last = now;
}

int budget_take(struct budget *b, bool background, double deadline)
{
	if (!b)
		return 0;
	pthread_mutex_lock(&b->lock);
	for (;;) {
		double now = util_now(), ready;

		budget_refill(b, now);
		if (now >= b->paused_until && b->tokens >= (background ? b->reserve + 1 : 1)) {
			b->tokens -= 1;
			pthread_mutex_unlock(&b->lock);
			return 0;
		}
		if (background)
			break;   /* shed first: a poll can wait for the next round */
		ready = b->paused_until > now ? b->paused_until : now;
		if (b->tokens < 1)
			ready += (1 - b->tokens) / b->rate;
		if (ready > deadline)
			break;
		pthread_mutex_unlock(&b->lock);
		util_sleep_until(ready);
		pthread_mutex_lock(&b->lock);
	}
	pthread_mutex_unlock(&b->lock);
	return -EAGAIN;
}

void budget_pause(struct budget *b, double seconds)
{
	double until;

	if (!b)
		return;
	pthread_mutex_lock(&b->lock);
	until = util_now() + seconds;
	if (until > b->paused_until)
		b->paused_until = until;
	b->tokens = 0;
	pthread_mutex_unlock(&b->lock);
}
