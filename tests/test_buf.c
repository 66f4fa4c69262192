/* test_buf.c: unit tests for src/buf.c, the capped growable buffer. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "sessiond/buf.h"

START_TEST(append_grows_and_terminates)
{
	struct buf b;
	buf_init(&b, 0);
	for (int i = 0; i < 1000; i++)
		ck_assert_int_eq(buf_append_str(&b, "ab"), ERROR_OK);
	ck_assert_uint_eq(b.len, 2000);
	ck_assert_uint_eq(strlen(b.data), 2000);
	ck_assert_int_eq(memcmp(b.data + 1998, "ab", 3), 0);
	buf_free(&b);
	ck_assert_ptr_null(b.data);
}
END_TEST

START_TEST(cap_refuses_and_leaves_buffer_unchanged)
{
	struct buf b;
	buf_init(&b, 5);
	ck_assert_int_eq(buf_append_str(&b, "abcd"), ERROR_OK);
	ck_assert_int_eq(buf_error(&b), ERROR_OK);
	ck_assert_int_eq(buf_append_str(&b, "ef"), ERROR_TOO_LARGE);
	ck_assert_str_eq(b.data, "abcd");
	buf_free(&b);
}
END_TEST

/* A failed append sticks: an append that would fit is refused after it,
 * so the text can never lose a piece in the middle, and buf_steal hands
 * out nothing. buf_reset clears the error. */
START_TEST(error_sticks_until_reset)
{
	struct buf b;
	buf_init(&b, 8);
	ck_assert_int_eq(buf_append_str(&b, "a AND "), ERROR_OK);
	ck_assert_int_eq(buf_printf(&b, "(%s)", "too long"), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_append_char(&b, 'x'), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_append_hex(&b, (const unsigned char *)"", 0), ERROR_TOO_LARGE);
	ck_assert_int_eq(buf_error(&b), ERROR_TOO_LARGE);
	ck_assert_str_eq(b.data, "a AND ");
	buf_reset(&b);
	ck_assert_int_eq(buf_error(&b), ERROR_OK);
	ck_assert_int_eq(buf_append_char(&b, 'x'), ERROR_OK);
	ck_assert_int_eq(buf_append_str(&b, "too long"), ERROR_TOO_LARGE);
	ck_assert_ptr_null(buf_steal(&b));
	ck_assert_ptr_null(b.data);
	ck_assert_int_eq(buf_error(&b), ERROR_OK);
}
END_TEST

START_TEST(printf_hex_and_steal)
{
	struct buf b;
	const unsigned char bytes[] = { 0x00, 0x7f, 0xab, 0xff };
	char *s;

	buf_init(&b, 0);
	ck_assert_int_eq(buf_printf(&b, "%s-%05d:", "x", 42), ERROR_OK);
	ck_assert_int_eq(buf_append_hex(&b, bytes, sizeof(bytes)), ERROR_OK);
	ck_assert_str_eq(b.data, "x-00042:007fabff");
	buf_reset(&b);
	ck_assert_str_eq(b.data, "");
	s = buf_steal(&b);
	ck_assert_str_eq(s, "");
	ck_assert_ptr_null(b.data);
	free(s);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("buf");
	TCase *tc = tcase_create("core");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, append_grows_and_terminates);
	tcase_add_test(tc, cap_refuses_and_leaves_buffer_unchanged);
	tcase_add_test(tc, error_sticks_until_reset);
	tcase_add_test(tc, printf_hex_and_steal);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
