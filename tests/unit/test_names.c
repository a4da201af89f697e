/* Names that Neon accepts, entries the tree can show, and control-file input. */
#include <errno.h>

#include "check.h"
#include "names.h"

static void test_remote(void)
{
	char longname[NAMES_MAX + 2];

	CHECK(names_valid_remote("v3"));
	CHECK(names_valid_remote("pre drop (2026)"));
	CHECK(names_valid_remote("caf\xc3\xa9"));
	CHECK(!names_valid_remote(""));
	CHECK(!names_valid_remote("tab\there"));
	CHECK(!names_valid_remote("bad\xc3"));
	CHECK(!names_valid_remote("del\x7f"));
	CHECK(!names_valid_remote("nel\xc2\x85"));
	CHECK(names_valid_remote("nbsp\xc2\xa0"));
	CHECK(!names_valid_remote("\xc0\xaf"));          /* overlong '/' */
	CHECK(!names_valid_remote("\xe0\x80\xaf"));      /* overlong '/' */
	CHECK(!names_valid_remote("\xf0\x80\x80\xaf"));  /* overlong '/' */
	CHECK(!names_valid_remote("\xed\xa0\x80"));      /* a surrogate */
	CHECK(!names_valid_remote("\xf4\x90\x80\x80"));  /* past U+10FFFF */
	CHECK(names_valid_remote("\xed\x9f\xbf\xf4\x8f\xbf\xbf\xe0\xa0\x80"));
	CHECK(names_valid_remote("\xf0\x9f\x99\x82"));  /* an emoji */
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	CHECK(!names_valid_remote(longname));
	longname[NAMES_MAX] = '\0';
	CHECK(names_valid_remote(longname));
}

static void test_entry(void)
{
	CHECK(names_valid_entry("main"));
	CHECK(names_valid_entry("main (old)"));
	CHECK(!names_valid_entry(""));
	CHECK(!names_valid_entry("."));
	CHECK(!names_valid_entry(".."));
	CHECK(!names_valid_entry("a/b"));
	CHECK_STR(names_entry("v1", "snap-x"), "v1");
	CHECK_STR(names_entry("a/b", "snap-x"), "snap-x");
	CHECK_STR(names_entry("..", "br-a-b-1"), "br-a-b-1");
}

static void test_line(void)
{
	char out[NAMES_MAX + 1];

	CHECK_INT(names_parse_line("v3\n", 3, out, sizeof(out)), 0);
	CHECK_STR(out, "v3");
	CHECK_INT(names_parse_line("snap-a-b-1", 10, out, sizeof(out)), 0);
	CHECK_STR(out, "snap-a-b-1");
	CHECK_INT(names_parse_line("\n", 1, out, sizeof(out)), -EINVAL);
	CHECK_INT(names_parse_line("", 0, out, sizeof(out)), -EINVAL);
	CHECK_INT(names_parse_line("a\nb\n", 4, out, sizeof(out)), -EINVAL);
	CHECK_INT(names_parse_line("a\x01", 2, out, sizeof(out)), -EINVAL);
	CHECK_INT(names_parse_line("a\0b", 3, out, sizeof(out)), -EINVAL);
	{
		char big[400];

		memset(big, 'x', sizeof(big));
		CHECK_INT(names_parse_line(big, sizeof(big), out, sizeof(out)), -EINVAL);
	}
}

int main(void)
{
	test_remote();
	test_entry();
	test_line();
	CHECK_DONE();
}
