/* test_hex.c: unit tests for src/hex.c, hexadecimal digits both ways. */
#include <check.h>
#include <stdlib.h>

#include "helpers/check_run.h"
#include "sessiond/hex.h"

START_TEST(values_of_every_char)
{
	for (int c = -128; c < 128; c++) {
		int want = c >= '0' && c <= '9'	  ? c - '0'
			   : c >= 'a' && c <= 'f' ? c - 'a' + 10
			   : c >= 'A' && c <= 'F' ? c - 'A' + 10
						  : -1;
		ck_assert_int_eq(hex_value((char)c), want);
	}
}
END_TEST

START_TEST(encode_is_lower_case_and_terminated)
{
	const unsigned char in[] = {0x00, 0x7f, 0xab, 0xff};
	char out[9] = "xxxxxxxxx";

	hex_encode(in, sizeof(in), out);
	ck_assert_str_eq(out, "007fabff");
	hex_encode(in, 0, out);
	ck_assert_str_eq(out, "");
}
END_TEST

int main(void)
{
	Suite *s = suite_create("hex");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, values_of_every_char);
	tcase_add_test(tc, encode_is_lower_case_and_terminated);
	suite_add_tcase(s, tc);
	return check_run(s);
}
