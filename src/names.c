/* names: what a snapshot or branch may be called, and how it shows in the tree. */
#include "config.h"

#include <errno.h>
#include <string.h>

#include "names.h"

/* Length of the UTF-8 sequence at @s, or 0 when it is not valid UTF-8. Overlong forms,
 * surrogates and code points past U+10FFFF are not UTF-8 (RFC 3629): Neon's JSON cannot
 * carry them, so a name holding one would reach Neon as another name. */
static size_t names_utf8_len(const unsigned char *s)
{
	unsigned char lo = 0x80, hi = 0xbf;
	size_t n, i;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		n = 2;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		n = 3;
		if (s[0] == 0xe0)
			lo = 0xa0;
		else if (s[0] == 0xed)
			hi = 0x9f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		n = 4;
		if (s[0] == 0xf0)
			lo = 0x90;
		else if (s[0] == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (s[1] < lo || s[1] > hi)
		return 0;
	for (i = 2; i < n; i++)
		if ((s[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

bool names_valid_remote(const char *name)
{
	const unsigned char *p = (const unsigned char *)name;
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len > NAMES_MAX)
		return false;
	while (*p) {
		size_t n = names_utf8_len(p);

		if (n == 0)
			return false;
		if (n == 1 && (*p < 0x20 || *p == 0x7f))
			return false;
		/* U+0080..U+009F are control characters too: NEL breaks a line on a terminal. */
		if (n == 2 && p[0] == 0xc2 && p[1] < 0xa0)
			return false;
		p += n;
	}
	return true;
}

bool names_valid_entry(const char *name)
{
	size_t len;

	if (!name)
		return false;
	len = strlen(name);
	if (len == 0 || len > 255)
		return false;
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	return strchr(name, '/') == NULL;
}

const char *names_entry(const char *name, const char *id)
{
	return names_valid_entry(name) ? name : id;
}

int names_parse_line(const char *buf, size_t len, char *out, size_t outlen)
{
	size_t i;

	/* One trailing newline is what echo adds; anything else multi-line is refused. */
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	if (len > 0 && buf[len - 1] == '\r')
		len--;
	if (len == 0 || len > NAMES_MAX || len >= outlen)
		return -EINVAL;
	for (i = 0; i < len; i++) {
		unsigned char c = (unsigned char)buf[i];

		if (c < 0x20 || c == 0x7f)
			return -EINVAL;
	}
	memcpy(out, buf, len);
	out[len] = '\0';
	if (!names_valid_remote(out))
		return -EINVAL;
	return 0;
}
