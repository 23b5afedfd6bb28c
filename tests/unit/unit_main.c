// SPDX-License-Identifier: GPL-2.0
/* Runs every unit suite; Check prints the summary tests/run.sh adds up. */
#include <stdlib.h>

#include "suites.h"

/* Weak so a suite not written yet does not break the link. */
#define SUITES(X) X(cookie_suite) X(config_suite) X(http_suite) X(directory_suite) X(select_suite) X(dispatcher_suite)
#define DECLARE_WEAK(fn) Suite *fn(void) __attribute__((weak));
SUITES(DECLARE_WEAK)

int main(void)
{
	SRunner *sr = srunner_create(NULL);
	int failed;

#define ADD_SUITE(fn)                                                          \
	if (fn)                                                                \
		srunner_add_suite(sr, fn());
	SUITES(ADD_SUITE)

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
