/* util: the small helpers every module needs, in one place. */
#ifndef NEONFS_UTIL_H
#define NEONFS_UTIL_H

#include <stddef.h>
#include <time.h>

/* Seconds on the monotonic clock: for deadlines and intervals, never for display. */
double util_now(void);

/* @ts as RFC 3339 UTC with milliseconds ("2026-12-01T10:35:13.123Z"). An all-zero @ts gives "". */
void util_iso8601(const struct timespec *ts, char *buf, size_t len);

/* Writes a message for the caller's @msg buffer (printf-style). NULL or 0-length is ignored. */
void util_msg(char *msg, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Sleeps until util_now() reaches @t (absolute: an interrupted sleep resumes without
 * drifting). */
void util_sleep_until(double t);

/* An absolute CLOCK_REALTIME time @seconds from now, for pthread_cond_timedwait. */
struct timespec util_deadline(double seconds);

#endif
