/* test_jitter.c: unit tests for src/jitter.c, the random source of retry
 * and refresh jitter. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "helpers/check_run.h"
#include "sessiond/jitter.h"

/* Marsaglia's xorshift64 (13, 7, 17) from state 1, computed independently. */
START_TEST(xorshift64_sequence)
{
	struct jitter j = {.state = 1};

	ck_assert_uint_eq(jitter_next(&j, UINT64_MAX), 0x40822041ull);
	ck_assert_uint_eq(jitter_next(&j, UINT64_MAX), 0x100041060c011441ull);
	ck_assert_uint_eq(jitter_next(&j, UINT64_MAX), 0x9b1e842f6e862629ull);
}
END_TEST

START_TEST(draws_stay_within_the_ceiling_and_spread)
{
	struct jitter j;
	int low = 0, high = 0;

	jitter_seed(&j);
	ck_assert_uint_ne(j.state, 0);
	for (int i = 0; i < 10000; i++) {
		uint64_t v = jitter_next(&j, 999);
		ck_assert_uint_le(v, 999);
		low += v < 100;
		high += v >= 900;
	}
	/* About 1,000 each; zero would mean a stuck or biased source. */
	ck_assert_int_gt(low, 500);
	ck_assert_int_gt(high, 500);
	ck_assert_uint_eq(jitter_next(&j, 0), 0);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("jitter");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, xorshift64_sequence);
	tcase_add_test(tc, draws_stay_within_the_ceiling_and_spread);
	suite_add_tcase(s, tc);
	return check_run(s);
}
