/* when: expiry times and durations as users write them. */
#include "config.h"

#include <ctype.h>
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util.h"
#include "when.h"

int when_duration(const char *s, long long *secs, char *why, size_t whylen)
{
	long long total = 0;
	const char *p = s;

	if (*p == '+')
		p++;
	if (!*p) {
		util_msg(why, whylen, "an empty duration");
		return -EINVAL;
	}
	while (*p) {
		long long n = 0, unit;

		if (!isdigit((unsigned char)*p)) {
			util_msg(why, whylen, "\"%s\" is not a duration such as 7d, 12h or 30m", s);
			return -EINVAL;
		}
		for (; isdigit((unsigned char)*p); p++) {
			n = n * 10 + (*p - '0');
			if (n > WHEN_MAX_SECONDS) {
				util_msg(why, whylen, "\"%s\" is longer than 100 years", s);
				return -EINVAL;
			}
		}
		switch (*p) {
		case 's': unit = 1; break;
		case 'm': unit = 60; break;
		case 'h': unit = 3600; break;
		case 'd': unit = 86400; break;
		case 'w': unit = 7 * 86400; break;
		default:
			util_msg(why, whylen, "\"%s\": each number needs a unit (s, m, h, d, w)", s);
			return -EINVAL;
		}
		p++;
		if (n > WHEN_MAX_SECONDS / unit || total + n * unit > WHEN_MAX_SECONDS) {
			util_msg(why, whylen, "\"%s\" is longer than 100 years", s);
			return -EINVAL;
		}
		total += n * unit;
	}
	if (total == 0) {
		util_msg(why, whylen, "\"%s\" is no time at all", s);
		return -EINVAL;
	}
	*secs = total;
	return 0;
}

/* @n digits at @p as a number, or -1. */
static int when_digits(const char *p, int n)
{
	int v = 0, i;

	for (i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return -1;
		v = v * 10 + (p[i] - '0');
	}
	return v;
}

static bool when_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

int when_rfc3339(const char *s, time_t *t, char *why, size_t whylen)
{
	static const int mdays[] = { 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31 };
	struct tm tm = { 0 };
	const char *p = s;
	int y, mo, d, h, mi, sec, off = 0;
	time_t v;

	/* YYYY-MM-DDTHH:MM:SS */
	if (strlen(s) < 20 || s[4] != '-' || s[7] != '-' || (s[10] != 'T' && s[10] != 't') ||
	    s[13] != ':' || s[16] != ':')
		goto bad;
	y = when_digits(p, 4);
	mo = when_digits(p + 5, 2);
	d = when_digits(p + 8, 2);
	h = when_digits(p + 11, 2);
	mi = when_digits(p + 14, 2);
	sec = when_digits(p + 17, 2);
	if (y < 1970 || mo < 1 || mo > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 ||
	    sec < 0 || sec > 60)
		goto bad;
	if (d > mdays[mo - 1] + (mo == 2 && when_leap(y)))
		goto bad;
	p += 19;
	if (*p == '.') {
		if (!isdigit((unsigned char)*++p))
			goto bad;
		while (isdigit((unsigned char)*p))
			p++;
	}
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int oh = when_digits(p + 1, 2), om;

		if (oh < 0 || p[3] != ':' || (om = when_digits(p + 4, 2)) < 0 || oh > 23 ||
		    om > 59)
			goto bad;
		off = (oh * 60 + om) * 60 * (*p == '-' ? -1 : 1);
		p += 6;
	} else {
		goto bad;
	}
	if (*p)
		goto bad;
	tm.tm_year = y - 1900;
	tm.tm_mon = mo - 1;
	tm.tm_mday = d;
	tm.tm_hour = h;
	tm.tm_min = mi;
	tm.tm_sec = sec == 60 ? 59 : sec;
	v = timegm(&tm);
	if (v == (time_t)-1)
		goto bad;
	*t = v - off;
	return 0;
bad:
	util_msg(why, whylen, "\"%s\" is not an RFC 3339 time such as 2026-12-31T00:00:00Z", s);
	return -EINVAL;
}

void when_format(time_t t, char *out, size_t outlen)
{
	struct tm tm;

	if (!gmtime_r(&t, &tm) || !strftime(out, outlen, "%Y-%m-%dT%H:%M:%SZ", &tm))
		snprintf(out, outlen, "%s", "");
}

int when_expiry(const char *s, time_t now, char *out, size_t outlen, char *why, size_t whylen)
{
	time_t t;
	int res;

	if (s[0] == '+') {
		long long secs;

		res = when_duration(s, &secs, why, whylen);
		if (res)
			return res;
		t = now + (time_t)secs;
	} else {
		res = when_rfc3339(s, &t, why, whylen);
		if (res)
			return res;
		if (t <= now) {
			char nowtext[32];

			when_format(now, nowtext, sizeof(nowtext));
			util_msg(why, whylen, "%s is not after now (%s)", s, nowtext);
			return -EINVAL;
		}
	}
	when_format(t, out, outlen);
	return 0;
}
