/* budget: one rate budget for every API call of a mount (-o api_rate=, per minute).
 *
 * A token bucket: it refills at api_rate/60 tokens a second and holds at most what keeps
 * any one second under Neon's 40 requests per route (the bucket's size plus a second's
 * refill). Calls a user waits for queue for a token up to their deadline, served fairly
 * across flows (a flow is one API client: one project of an organization's mount) by
 * start-time fair queuing: a flow that has been quiet is served next, ahead of the
 * backlogs of busy ones, and busy flows take turns. Background calls (the watcher's polls)
 * take a token only while no user call waits and a reserve is left for users, and are shed
 * at once otherwise. A 429 from Neon empties the bucket and pauses every caller for its
 * Retry-After, so the whole mount slows down, not just the one call. */
#ifndef NEONFS_BUDGET_H
#define NEONFS_BUDGET_H

#include <stdbool.h>

struct budget;
struct budget_flow;

/* @per_minute <= 0: no budget (every take succeeds at once). */
struct budget *budget_new(double per_minute);
/* After every flow's last call has returned. */
void budget_free(struct budget *b);

/* One flow of @b's calls; NULL when @b is NULL (or out of memory). Freed before @b. */
struct budget_flow *budget_flow_new(struct budget *b);
void budget_flow_free(struct budget_flow *f);
/* @f gets @weight turns for every other flow's one (1 by default): for a flow whose one
 * answer takes several sequential calls that many callers wait for (an organization's
 * projects listing, one call a page). */
void budget_flow_weigh(struct budget *b, struct budget_flow *f, unsigned weight);

/* One call's token. 0, or -EAGAIN: a background call finds no token to spare, or a user's
 * call cannot get one before @deadline (util_now() clock); it gives up as soon as the
 * bucket shows it cannot, at its deadline at the latest. @flow NULL: one flow shared by
 * every such call. */
int budget_take(struct budget *b, struct budget_flow *flow, bool background, double deadline);

/* Neon said 429: nobody calls for @seconds. */
void budget_pause(struct budget *b, double seconds);

/* How many user calls wait now; budget_queue also gives the flows of up to @max of them
 * in the order they will be served (NULL for calls without a flow). */
int budget_waiting(struct budget *b);
int budget_queue(struct budget *b, const struct budget_flow **flows, int max);

#endif
