/* util: the small helpers every module needs, in one place. */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>

#include "util.h"

double util_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void util_iso8601(const struct timespec *ts, char *buf, size_t len)
{
	struct tm tm;

	if (!len)
		return;
	if (ts->tv_sec == 0 && ts->tv_nsec == 0) {
		buf[0] = '\0';
		return;
	}
	gmtime_r(&ts->tv_sec, &tm);
	snprintf(buf, len, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ", tm.tm_year + 1900,
		 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ts->tv_nsec / 1000000);
}

void util_msg(char *msg, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (!msg || !len)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, len, fmt, ap);
	va_end(ap);
}

struct timespec util_deadline(double seconds)
{
	struct timespec until;
	double whole;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_nsec += (long)(modf(seconds, &whole) * 1e9);
	until.tv_sec += (time_t)whole + until.tv_nsec / 1000000000L;
	until.tv_nsec %= 1000000000L;
	return until;
}

/* Absolute sleeps on util_now()'s clock, so an interrupted sleep resumes without drifting. */
void util_sleep_until(double t)
{
	struct timespec ts;

	if (t <= util_now())
		return;
	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - (double)ts.tv_sec) * 1e9);
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
		;
}
