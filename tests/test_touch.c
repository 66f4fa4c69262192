/* test_touch.c: unit tests for src/touch.c, the query of a sliding read
 * and the touch_after rule. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/touch.h"

static enum error_code parse(const char *q, struct touch_query *out)
{
	struct session_why why;

	return touch_query_parse(q, 1000, out, &why);
}

START_TEST(no_query_is_a_plain_read)
{
	struct touch_query t;

	ck_assert_int_eq(parse(NULL, &t), ERROR_OK);
	ck_assert(!t.touch && !t.has_ttl);
	ck_assert_int_eq(parse("", &t), ERROR_OK);
	ck_assert(!t.touch);
	ck_assert_int_eq(parse("foo=bar&x", &t), ERROR_OK); /* v1 ignored others */
	ck_assert(!t.touch);
}
END_TEST

START_TEST(touch_and_ttl_parse)
{
	struct touch_query t;

	ck_assert_int_eq(parse("touch=1", &t), ERROR_OK);
	ck_assert(t.touch && !t.has_ttl);
	ck_assert_int_eq(parse("ttl=60&touch=1", &t), ERROR_OK);
	ck_assert(t.touch && t.has_ttl);
	ck_assert_int_eq(t.ttl, 60);
	ck_assert_int_eq(parse("a=b&touch=1&&ttl=0999&", &t), ERROR_OK);
	ck_assert_int_eq(t.ttl, 999);
}
END_TEST

START_TEST(bad_queries_are_refused_whole)
{
	static const char *const bad[] = {
		"touch", "touch=", "touch=0", "touch=true", "touch=11", "touch=1%00",
		"touch=1&touch=1", "ttl=60", "touch=1&ttl=", "touch=1&ttl", "touch=1&ttl=0",
		"touch=1&ttl=1001", "touch=1&ttl=-1", "touch=1&ttl=6%30", "touch=1&ttl=60&ttl=60",
		"touch=1&ttl=0000000000000000000000000001",
	};
	struct session_why why;
	struct touch_query t;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		memset(&t, 0xff, sizeof(t));
		ck_assert_msg(touch_query_parse(bad[i], 1000, &t, &why) == ERROR_PARSE, "%s", bad[i]);
		ck_assert_msg(!t.touch && !t.has_ttl, "%s", bad[i]);
		ck_assert_msg(why.detail[0] != '\0', "%s", bad[i]);
	}
	ck_assert_int_eq(touch_query_parse("touch=1", 1000, NULL, &why), ERROR_INVALID);
	ck_assert_int_eq(touch_query_parse("touch=1", 1000, &t, NULL), ERROR_OK);
}
END_TEST

START_TEST(touch_after_throttles_small_moves_only)
{
	ck_assert(touch_must_write(1000, 1000, 0)); /* v1: always */
	ck_assert(touch_must_write(1000, 1001, 0));
	ck_assert(!touch_must_write(1000, 1060, 60));
	ck_assert(touch_must_write(1000, 1061, 60));
	ck_assert(!touch_must_write(1000, 940, 60));
	ck_assert(touch_must_write(1000, 939, 60)); /* a shorter ttl moves it back */
	ck_assert(!touch_must_write(1000, 1000, 1));
}
END_TEST

int main(void)
{
	Suite *s = suite_create("touch");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, no_query_is_a_plain_read);
	tcase_add_test(tc, touch_and_ttl_parse);
	tcase_add_test(tc, bad_queries_are_refused_whole);
	tcase_add_test(tc, touch_after_throttles_small_moves_only);
	suite_add_tcase(s, tc);
	return check_run(s);
}
