// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include "commands.h"
int cmd_check_config(int argc, char **argv)
{
	fprintf(stderr, "latebind check-config: not built in this version yet\n");
	return LB_EXIT_NOT_BUILT;
}
