// SPDX-License-Identifier: GPL-2.0
/* latebind status: what the balancer is doing, read from its pinned maps. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

int cmd_status(int argc, char **argv)
{
	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: latebind status [--json] [--flows]\n");
		return LB_EXIT_OK;
	}
	fprintf(stderr, "latebind status: not built in this version yet\n");
	return LB_EXIT_NOT_BUILT;
}
