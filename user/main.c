// SPDX-License-Identifier: GPL-2.0
/* latebind: content-aware HTTP load balancer with delayed binding and direct return. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "version.h"

struct subcommand {
	const char *name;
	int (*run)(int argc, char **argv);
	const char *summary;
};

static const struct subcommand subcommands[] = {
	{ "balancer", cmd_balancer, "run the balancer daemon on this node" },
	{ "backend", cmd_backend, "attach/detach/status of the backend programs on this node" },
	{ "drain", cmd_drain, "stop sending new flows to a backend; established ones finish" },
	{ "undrain", cmd_undrain, "send new flows to a drained backend again" },
	{ "reload", cmd_reload, "make the running balancer re-read its config" },
	{ "status", cmd_status, "VIPs, backends, flows and counters from the pinned maps" },
	{ "check-config", cmd_check_config, "validate a balancer config file" },
	{ "index", cmd_index, "write the routes from the backends' document roots" },
	{ "advise", cmd_advise, "where one more replica helps most, which routes are cold" },
	{ "version", NULL, "print the version" },
};

static void usage(FILE *out)
{
	size_t i;

	fprintf(out,
		"usage: latebind [--verbose] COMMAND [ARGS]\n\n"
		"latebind completes each TCP handshake itself, reads the HTTP request, picks the\n"
		"least-loaded healthy backend holding the resource and hands the connection over;\n"
		"the backend answers the client directly.\n\ncommands:\n");
	for (i = 0; i < sizeof(subcommands) / sizeof(subcommands[0]); i++)
		fprintf(out, "  %-14s %s\n", subcommands[i].name, subcommands[i].summary);
	fprintf(out, "\nRun 'latebind COMMAND --help' for a command's options.\n");
}

int main(int argc, char **argv)
{
	int i = 1;
	size_t j;

	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--verbose") || !strcmp(argv[i], "-v")) {
			lb_verbose = true;
		} else if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return LB_EXIT_OK;
		} else if (!strcmp(argv[i], "--version")) {
			printf("latebind %s\n", lb_version);
			return LB_EXIT_OK;
		} else {
			fprintf(stderr, "latebind: unknown option '%s'\n", argv[i]);
			usage(stderr);
			return LB_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	lb_log_setup_libs();
	for (j = 0; j < sizeof(subcommands) / sizeof(subcommands[0]); j++) {
		if (strcmp(argv[i], subcommands[j].name))
			continue;
		if (!subcommands[j].run) {
			printf("latebind %s\n", lb_version);
			return LB_EXIT_OK;
		}
		/* getopt_long in the subcommand sees its own name as argv[0]. */
		optind = 1;
		return subcommands[j].run(argc - i, argv + i);
	}
	fprintf(stderr, "latebind: unknown command '%s'\n", argv[i]);
	usage(stderr);
	return LB_EXIT_USAGE;
}
