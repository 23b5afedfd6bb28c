// SPDX-License-Identifier: GPL-2.0
/* Runs the BPF packet tables. Needs root: it loads the real programs. */
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "suites.h"

int main(void)
{
	SRunner *sr;
	int failed;

	if (geteuid() != 0)
		fprintf(stderr, "bpf tests: not root; loading BPF programs will fail\n");
	sr = srunner_create(balancer_suite());
	srunner_add_suite(sr, backend_suite());
	srunner_add_suite(sr, backend_replay_suite());
	srunner_add_suite(sr, answers_suite());
	srunner_add_suite(sr, flow_table_suite());
	srunner_add_suite(sr, later_suite());
	srunner_add_suite(sr, peer_sync_suite());
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
