// SPDX-License-Identifier: GPL-2.0
/* Runs every unit suite; Check prints the summary tests/run.sh adds up. */
#include <stdlib.h>

#include "suites.h"

int main(void)
{
	Suite *(*const suites[])(void) = {
		cookie_suite, config_suite, http_suite, directory_suite, select_suite,
		dispatcher_suite, health_suite, metrics_suite, flow_table_suite, host_suite,
		slots_suite, thread_ring_suite, redirect_suite,
	};
	SRunner *sr = srunner_create(NULL);
	size_t i;
	int failed;

	for (i = 0; i < sizeof(suites) / sizeof(suites[0]); i++)
		srunner_add_suite(sr, suites[i]());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
