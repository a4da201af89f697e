/* when: the times a user writes for a snapshot's expiry, read without a clock of their own.
 *
 * Pure functions: the caller passes "now", so every case is unit-tested. */
#ifndef NEONFS_WHEN_H
#define NEONFS_WHEN_H

#include <stddef.h>
#include <time.h>

/* The longest duration taken: about 100 years, so no sum can overflow a time_t. */
#define WHEN_MAX_SECONDS (100LL * 366 * 24 * 3600)

/* A duration: one or more <number><unit> with the units s, m, h, d, w ("7d", "12h", "1d12h"),
 * an optional leading '+'. 0 and *secs (> 0), or -EINVAL with the reason in @why. */
int when_duration(const char *s, long long *secs, char *why, size_t whylen);

/* An absolute time: RFC 3339 ("2026-12-31T00:00:00Z", "...T01:00:00+01:00", fractions of a
 * second dropped). 0 and *t, or -EINVAL with the reason in @why. */
int when_rfc3339(const char *s, time_t *t, char *why, size_t whylen);

/* What was written to a snapshot's expires_at, one line: an RFC 3339 time or '+' and a
 * duration from @now. It must lie after @now. Writes the time as Neon takes it, RFC 3339 UTC
 * to the second ("2026-12-31T00:00:00Z"), into @out. 0, or -EINVAL with the reason in @why. */
int when_expiry(const char *s, time_t now, char *out, size_t outlen, char *why, size_t whylen);

/* @t as RFC 3339 UTC to the second. */
void when_format(time_t t, char *out, size_t outlen);

#endif
