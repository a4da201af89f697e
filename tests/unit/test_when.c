/* Expiry times and durations as users write them. */
#include <errno.h>

#include "check.h"
#include "when.h"

static void test_duration(void)
{
	long long s = 0;
	char why[256];

	CHECK_INT(when_duration("7d", &s, why, sizeof(why)), 0);
	CHECK_INT(s, 7 * 86400);
	CHECK_INT(when_duration("+12h", &s, why, sizeof(why)), 0);
	CHECK_INT(s, 12 * 3600);
	CHECK_INT(when_duration("30m", &s, why, sizeof(why)), 0);
	CHECK_INT(s, 1800);
	CHECK_INT(when_duration("1d12h", &s, why, sizeof(why)), 0);
	CHECK_INT(s, 86400 + 12 * 3600);
	CHECK_INT(when_duration("2w", &s, why, sizeof(why)), 0);
	CHECK_INT(s, 14 * 86400);
	CHECK_INT(when_duration("45s", &s, why, sizeof(why)), 0);
	CHECK_INT(s, 45);
	s = 99;
	CHECK_INT(when_duration("", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("+", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("7", &s, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "unit") != NULL);
	CHECK_INT(when_duration("d", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("7x", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("-7d", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("0d", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("7d ", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("99999999999999999999d", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_duration("40000d", &s, why, sizeof(why)), -EINVAL);
	CHECK_INT(s, 99);
}

static void test_rfc3339(void)
{
	time_t t = 0;
	char why[256];

	CHECK_INT(when_rfc3339("2026-12-31T00:00:00Z", &t, why, sizeof(why)), 0);
	CHECK_INT(t, 1798675200);
	CHECK_INT(when_rfc3339("2026-12-31T01:00:00+01:00", &t, why, sizeof(why)), 0);
	CHECK_INT(t, 1798675200);
	CHECK_INT(when_rfc3339("2026-12-30T23:30:00-00:30", &t, why, sizeof(why)), 0);
	CHECK_INT(t, 1798675200);
	CHECK_INT(when_rfc3339("2026-12-31t00:00:00.987z", &t, why, sizeof(why)), 0);
	CHECK_INT(t, 1798675200);
	CHECK_INT(when_rfc3339("2028-02-29T00:00:00Z", &t, why, sizeof(why)), 0);
	CHECK_INT(when_rfc3339("2027-02-29T00:00:00Z", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-12-31", &t, why, sizeof(why)), -EINVAL);
	CHECK(strstr(why, "RFC 3339") != NULL);
	CHECK_INT(when_rfc3339("2026-12-31T00:00:00", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-12-31 00:00:00Z", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-13-01T00:00:00Z", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-12-31T24:00:00Z", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-12-31T00:00:00.Z", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-12-31T00:00:00+0100", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("2026-12-31T00:00:00Zjunk", &t, why, sizeof(why)), -EINVAL);
	CHECK_INT(when_rfc3339("tomorrow", &t, why, sizeof(why)), -EINVAL);
}

static void test_expiry(void)
{
	const time_t now = 1798675200;   /* 2026-12-31T00:00:00Z */
	char out[32], why[256];

	CHECK_INT(when_expiry("+7d", now, out, sizeof(out), why, sizeof(why)), 0);
	CHECK_STR(out, "2027-01-07T00:00:00Z");
	CHECK_INT(when_expiry("+90m", now, out, sizeof(out), why, sizeof(why)), 0);
	CHECK_STR(out, "2026-12-31T01:30:00Z");
	CHECK_INT(when_expiry("2027-01-01T02:00:00+02:00", now, out, sizeof(out), why,
			      sizeof(why)), 0);
	CHECK_STR(out, "2027-01-01T00:00:00Z");
	CHECK_INT(when_expiry("2026-12-31T00:00:00Z", now, out, sizeof(out), why, sizeof(why)),
		  -EINVAL);
	CHECK(strstr(why, "not after now") != NULL);
	CHECK_INT(when_expiry("2020-01-01T00:00:00Z", now, out, sizeof(out), why, sizeof(why)),
		  -EINVAL);
	/* A duration needs its '+': "7d" alone could be mistaken for a date. */
	CHECK_INT(when_expiry("7d", now, out, sizeof(out), why, sizeof(why)), -EINVAL);
	CHECK_INT(when_expiry("+0m", now, out, sizeof(out), why, sizeof(why)), -EINVAL);
	when_format(0, out, sizeof(out));
	CHECK_STR(out, "1970-01-01T00:00:00Z");
}

int main(void)
{
	test_duration();
	test_rfc3339();
	test_expiry();
	CHECK_DONE();
}
