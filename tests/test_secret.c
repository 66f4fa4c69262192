/* test_secret.c: unit tests for src/secret.c, copies of optional strings
 * that may hold a secret and their wiping free. */
#include <check.h>
#include <stdlib.h>
#include <string.h>

#include "helpers/check_run.h"
#include "sessiond/secret.h"

START_TEST(dup_copies_set_strings_only)
{
	bool nomem = false;
	const char *orig = "s3cr3t";
	char *p = secret_dup(orig, &nomem);

	ck_assert_ptr_nonnull(p);
	ck_assert_ptr_ne(p, orig);
	ck_assert_str_eq(p, "s3cr3t");
	/* Unset settings stay unset, and are no allocation failure. */
	ck_assert_ptr_null(secret_dup(NULL, &nomem));
	ck_assert_ptr_null(secret_dup("", &nomem));
	ck_assert(!nomem);
	secret_free(p);
	secret_free(NULL);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("secret");
	TCase *tc = tcase_create("core");

	tcase_add_test(tc, dup_copies_set_strings_only);
	suite_add_tcase(s, tc);
	return check_run(s);
}
