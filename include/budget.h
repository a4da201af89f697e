/* budget: one rate budget for every API call of a mount (-o api_rate=, per minute).
 *
 * A token bucket: it refills at api_rate/60 tokens a second and holds at most what keeps
 * any one second under Neon's 40 requests per route (the bucket's size plus a second's
 * refill). Calls a user waits for take a token, waiting for one up to their deadline;
 * background calls (the watcher's polls) take one only while a reserve is left for users,
 * and are shed at once otherwise. A 429 from Neon empties the bucket and pauses every
 * caller for its Retry-After, so the whole mount slows down, not just the one call. */
#ifndef NEONFS_BUDGET_H
#define NEONFS_BUDGET_H

#include <stdbool.h>

struct budget;

/* @per_minute <= 0: no budget (every take succeeds at once). */
struct budget *budget_new(double per_minute);
void budget_free(struct budget *b);

/* One call's token. 0, or -EAGAIN: a background call finds no token to spare, or a user's
 * call cannot get one before @deadline (util_now() clock). */
int budget_take(struct budget *b, bool background, double deadline);

/* Neon said 429: nobody calls for @seconds. */
void budget_pause(struct budget *b, double seconds);

#endif
