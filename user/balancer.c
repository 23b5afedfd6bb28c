// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include "commands.h"
int cmd_balancer(int argc, char **argv)
{
	fprintf(stderr, "latebind balancer: not built in this version yet\n");
	return LB_EXIT_NOT_BUILT;
}
