/* Fuzzes what a user writes to active/restore: any bytes through names_parse_line. What is
 * accepted must be one line Neon would take as a name, no longer than the buffer. */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define MUST(c) do { if (!(c)) { fprintf(stderr, "fuzz_restore: %s\n", #c); abort(); } } while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char out[NAMES_MAX + 1], small[8];
	/* An exact-size copy, so that reading past the write shows as an overflow. */
	char *buf = malloc(size ? size : 1);
	int r;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	memset(out, 'x', sizeof(out));
	r = names_parse_line(buf, size, out, sizeof(out));
	MUST(r == 0 || r == -EINVAL);
	if (r == 0) {
		size_t len = strlen(out);

		MUST(len > 0 && len <= NAMES_MAX && len <= size);
		MUST(memcmp(out, buf, len) == 0);
		MUST(strchr(out, '\n') == NULL);
		MUST(names_valid_remote(out));
		(void)names_valid_entry(out);
		/* The same line into a buffer too small for it is refused, not cut. */
		r = names_parse_line(buf, size, small, sizeof(small));
		MUST(r == (len < sizeof(small) ? 0 : -EINVAL));
	}
	free(buf);
	return 0;
}
