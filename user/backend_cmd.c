// SPDX-License-Identifier: GPL-2.0
/* latebind backend attach|detach|status: the backend-side programs. */
#include <stdio.h>
#include <string.h>

#include "commands.h"

static void usage(FILE *out)
{
	fprintf(out,
		"usage: latebind backend attach --interface IF --vip ADDR:PORT --balancer-mac MAC\n"
		"                               --cookie-key FILE [--mode cookie|replay] [--setup-vip]\n"
		"       latebind backend detach --interface IF\n"
		"       latebind backend status\n");
}

int cmd_backend(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? LB_EXIT_USAGE : LB_EXIT_OK;
	}
	if (strcmp(argv[1], "attach") && strcmp(argv[1], "detach") && strcmp(argv[1], "status")) {
		fprintf(stderr, "latebind backend: unknown action '%s'\n", argv[1]);
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	fprintf(stderr, "latebind backend %s: not built in this version yet\n", argv[1]);
	return LB_EXIT_NOT_BUILT;
}
