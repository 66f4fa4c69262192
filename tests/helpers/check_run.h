/* check_run.h: how every Check suite here is run: all its tests with the
 * normal report, and the exit status the test runner expects. */
#ifndef SESSIOND_TESTS_CHECK_RUN_H
#define SESSIOND_TESTS_CHECK_RUN_H

#include <check.h>
#include <stdlib.h>

/* Runs every test of s, which it frees; EXIT_SUCCESS if none failed. */
static inline int check_run(Suite *s)
{
	SRunner *sr = srunner_create(s);
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}

#endif
