// SPDX-License-Identifier: GPL-2.0
/*
 * latebind check-config: parse a balancer config exactly as the balancer
 * would, without touching the network, so a config can be checked in CI or
 * before a reload. Errors go to stderr as the one line the parser produced.
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "config.h"
#include "maps.h"

/* Long lists are cut here: the summary is for a glance, not a dump. */
#define SHOW_MAX 16

static void usage(FILE *out)
{
	fprintf(out,
		"usage: latebind check-config [--config] FILE\n\n"
		"Check a balancer config file (YAML) and print a summary of it.\n"
		"Exits 0 if it is valid, 1 with the first error on stderr if not,\n"
		"2 on a bad command line.\n\n"
		"options:\n"
		"  -c, --config FILE  the config file (or give it as the argument)\n"
		"  -h, --help         this text\n");
}

static const char *plural(size_t n, const char *one, const char *many)
{
	return n == 1 ? one : many;
}

/* Redirect mode: which VIPs and routes answer with a redirect, and the names they send to. */
static void redirects(const struct lb_config *cfg)
{
	char addr[INET_ADDRSTRLEN];
	size_t i, own = 0, none = 0, shown = 0;
	const struct lb_redirect *first = NULL;

	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].redirect)
			printf("  %-10s vip %s:%u: %u %s\n", "redirect",
			       inet_ntop(AF_INET, &cfg->vips[i].address, addr, sizeof(addr)),
			       cfg->vips[i].port, cfg->vips[i].redirect->status,
			       cfg->vips[i].redirect->url);
	for (i = 0; i < cfg->n_routes; i++) {
		const struct lb_redirect *r = cfg->routes[i].redirect;

		none += r == &lb_redirect_none;
		if (r && r != &lb_redirect_none && !own++)
			first = r;
	}
	if (own)
		printf("  %-10s routes: %zu (the first: %u %s)\n", "redirect", own, first->status,
		       first->url);
	if (none)
		printf("  %-10s routes handed off whatever the VIP does (redirect: none): %zu\n",
		       "redirect", none);
	for (i = 0; i < cfg->n_backends; i++) {
		if (!cfg->backends[i].public_name[0])
			continue;
		if (shown == SHOW_MAX) {
			printf(", ...");
			break;
		}
		printf("%s%s %s", shown++ ? ", " : "  public     ", cfg->backends[i].name,
		       cfg->backends[i].public_name);
	}
	if (shown)
		printf("\n");
}

static void summary(const struct lb_config *cfg)
{
	static const char *const handoff[] = { [LB_HANDOFF_COOKIE] = "cookie",
					       [LB_HANDOFF_REPLAY] = "replay" };
	char addr[INET_ADDRSTRLEN];
	size_t i, cookie = 0;

	printf("%s: OK\n", cfg->path);
	printf("  interface  %s\n", cfg->interface);

	printf("  %zu %-8s", cfg->n_vips, plural(cfg->n_vips, "vip", "vips"));
	for (i = 0; i < cfg->n_vips && i < SHOW_MAX; i++)
		printf("%s%s:%u (%s)", i ? ", " : " ",
		       inet_ntop(AF_INET, &cfg->vips[i].address, addr, sizeof(addr)),
		       cfg->vips[i].port, cfg->vips[i].mode == LB_VIP_TCP ? "tcp" : "http");
	if (cfg->n_vips > SHOW_MAX)
		printf(", and %zu more", cfg->n_vips - SHOW_MAX);
	printf("\n");

	for (i = 0; i < cfg->n_backends; i++)
		cookie += cfg->backends[i].handoff == LB_HANDOFF_COOKIE;
	/* The handoff mode decides what each backend needs installed. */
	printf("  %zu %-8s", cfg->n_backends, plural(cfg->n_backends, "backend", "backends"));
	for (i = 0; i < cfg->n_backends && i < SHOW_MAX; i++)
		printf("%s%s (%s%s)", i ? ", " : " ", cfg->backends[i].name,
		       handoff[cfg->backends[i].handoff],
		       cfg->backends[i].state == LB_BACKEND_DRAINING ? ", draining" : "");
	if (cfg->n_backends > SHOW_MAX)
		printf(", and %zu more", cfg->n_backends - SHOW_MAX);
	printf("\n");
	if (cfg->n_backends > SHOW_MAX)
		printf("  %-10s %zu cookie, %zu replay\n", "handoff", cookie,
		       cfg->n_backends - cookie);

	printf("  %zu %s\n", cfg->n_routes, plural(cfg->n_routes, "route", "routes"));
	redirects(cfg);
	/* The flow table's size decides when eviction starts (and its kernel memory). */
	printf("  %-10s flows %u\n", "limits", cfg->limits.flows);
	if (cfg->announce.table)
		printf("  %-10s table %u, withdraw grace %u ms\n", "announce", cfg->announce.table,
		       cfg->announce.withdraw_grace_ms);
}

int cmd_check_config(int argc, char **argv)
{
	static const struct option options[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *file = NULL;
	char err[LB_ERR_MAX];
	struct lb_config cfg;
	int c;

	while ((c = getopt_long(argc, argv, "c:h", options, NULL)) != -1) {
		switch (c) {
		case 'c':
			if (file) {
				fprintf(stderr, "latebind check-config: one config file at a time\n");
				return LB_EXIT_USAGE;
			}
			file = optarg;
			break;
		case 'h':
			usage(stdout);
			return LB_EXIT_OK;
		default:
			usage(stderr);
			return LB_EXIT_USAGE;
		}
	}
	if (optind < argc) {
		if (file || argc - optind > 1) {
			fprintf(stderr, "latebind check-config: one config file at a time\n");
			return LB_EXIT_USAGE;
		}
		file = argv[optind];
	}
	if (!file) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	if (lb_config_load(file, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return LB_EXIT_FAIL;
	}
	summary(&cfg);
	lb_config_free(&cfg);
	return LB_EXIT_OK;
}
