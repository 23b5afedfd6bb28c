// SPDX-License-Identifier: GPL-2.0
/*
 * latebind advise: replication advice from the access statistics the daemon
 * pins (route_top, route_sketch), the backends' state and hand-offs, and the
 * config's routes (advise.h has the model). It only reads and prints.
 */
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "advise.h"
#include "commands.h"
#include "config.h"
#include "maps.h"
#include "pinned.h"
#include "route_top.h"

static const char usage_text[] =
	"usage: latebind advise --config FILE [--yaml] [--factor X] [--cold SHARE]\n"
	"                       [--min-requests N] [--max-add N] [--max-drop N]\n";

static void help(void)
{
	printf("%s\n"
	       "Which hot routes one more replica would take the most load off the busiest\n"
	       "holder for, and which cold routes could give a replica up, from the running\n"
	       "balancer's access statistics (pinned under %s) and FILE's routes.\n"
	       "Changes nothing.\n\n"
	       "  --config FILE      the balancer's config (its routes and backends)\n"
	       "  --yaml             print the changed routes as a routes: section to paste\n"
	       "  --factor X         a backend is busy above X times the mean load (1.25; > 1)\n"
	       "  --cold SHARE       a route is cold below SHARE of the requests (0.001; 0..1)\n"
	       "  --min-requests N   no advice before N requests were routed (1000)\n"
	       "  --max-add N        replicas to add at most (10)\n"
	       "  --max-drop N       replicas to drop at most (10)\n",
	       usage_text, LB_PIN_DIR);
}

/* @arg as a number in [lo, hi] (lo excluded when @open_lo), or a message naming @opt. */
static int number(const char *opt, const char *arg, double lo, double hi, bool open_lo,
		  double *out)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(arg, &end);
	if (errno || end == arg || *end || isnan(v) || v < lo || v > hi || (open_lo && v == lo)) {
		fprintf(stderr, "latebind advise: --%s '%s': expected a number %s %g and at most %g\n",
			opt, arg, open_lo ? "above" : "from", lo, hi);
		return -1;
	}
	*out = v;
	return 0;
}

static int open_pinned(const char *name)
{
	return lb_open_pinned("advise", name);
}

/* Each config backend's state and hand-offs, by name from the pinned slots. */
static int read_backends(const struct lb_config *cfg, bool *up, uint64_t *chosen)
{
	int fd = open_pinned("backends"), names_fd = open_pinned("backend_names");
	struct lb_backend_name n;
	struct lb_backend be;
	__u32 slot;
	int b, ret = -1;

	if (fd < 0 || names_fd < 0)
		goto out;
	for (slot = 0; slot < LB_MAX_BACKENDS; slot++) {
		if (bpf_map_lookup_elem(names_fd, &slot, &n) || !n.name[0])
			continue;
		n.name[sizeof(n.name) - 1] = '\0';
		b = lb_config_backend_index(cfg, n.name);
		if (b < 0 || bpf_map_lookup_elem(fd, &slot, &be))
			continue;
		up[b] = be.state == LB_BACKEND_UP && be.weight;
		chosen[b] = be.chosen;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	if (names_fd >= 0)
		close(names_fd);
	return ret;
}

int cmd_advise(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "yaml", no_argument, NULL, 'y' },
		{ "factor", required_argument, NULL, 'f' },
		{ "cold", required_argument, NULL, 'C' },
		{ "min-requests", required_argument, NULL, 'm' },
		{ "max-add", required_argument, NULL, 'a' },
		{ "max-drop", required_argument, NULL, 'd' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct lb_advise_in in = { LB_ADVISE_DEFAULTS };
	static struct lb_route_top top[LB_ROUTE_TOP_MAX];
	struct lb_route_sketch *sketch = NULL;
	bool up[LB_MAX_BACKENDS] = { false }, yaml = false;
	uint64_t chosen[LB_MAX_BACKENDS] = { 0 };
	const char *config = NULL;
	struct lb_config cfg = {};
	struct lb_advice a;
	char err[LB_ERR_MAX];
	int opt, top_fd = -1, sketch_fd = -1, n, ret = LB_EXIT_FAIL;
	double v;

	while ((opt = getopt_long(argc, argv, "c:yh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'y': yaml = true; break;
		case 'f':
			if (number("factor", optarg, 1, 100, true, &in.factor))
				return LB_EXIT_USAGE;
			break;
		case 'C':
			if (number("cold", optarg, 0, 1, false, &in.cold))
				return LB_EXIT_USAGE;
			break;
		case 'm':
			if (number("min-requests", optarg, 0, 1e18, false, &v))
				return LB_EXIT_USAGE;
			in.min_requests = (uint64_t)v;
			break;
		case 'a':
		case 'd':
			if (number(opt == 'a' ? "max-add" : "max-drop", optarg, 0, 1000000, false, &v))
				return LB_EXIT_USAGE;
			*(opt == 'a' ? &in.max_add : &in.max_drop) = (unsigned int)v;
			break;
		case 'h': help(); return LB_EXIT_OK;
		default: fputs(usage_text, stderr); return LB_EXIT_USAGE;
		}
	}
	if (!config || optind != argc) {
		fprintf(stderr, "latebind advise: %s\n%s",
			config ? "unexpected argument" : "--config FILE is needed (the balancer's "
							 "config: its routes and backends)",
			usage_text);
		return LB_EXIT_USAGE;
	}
	if (lb_config_load(config, &cfg, err, sizeof(err))) {
		fprintf(stderr, "%s\n", err);
		return LB_EXIT_FAIL;
	}
	sketch = malloc(sizeof(*sketch));
	top_fd = open_pinned("route_top");
	if (top_fd >= 0) /* one message when no daemon has pinned anything */
		sketch_fd = open_pinned("route_sketch");
	if (!sketch || top_fd < 0 || sketch_fd < 0 || read_backends(&cfg, up, chosen))
		goto out;
	n = lb_route_top_read(top_fd, sketch_fd, sketch, top);
	if (n < 0) {
		fprintf(stderr, "latebind advise: cannot read the access statistics: %s\n",
			strerror(errno));
		goto out;
	}
	in.cfg = &cfg;
	in.up = up;
	in.chosen = chosen;
	in.top = top;
	in.n_top = (size_t)n;
	in.sketch = sketch;
	if (lb_advise(&in, &a)) {
		fprintf(stderr, "latebind advise: out of memory\n");
		goto out;
	}
	if (yaml)
		lb_advice_print_yaml(stdout, &in, &a);
	else
		lb_advice_print(stdout, &in, &a);
	lb_advice_free(&a);
	ret = LB_EXIT_OK;
out:
	if (top_fd >= 0)
		close(top_fd);
	if (sketch_fd >= 0)
		close(sketch_fd);
	free(sketch);
	lb_config_free(&cfg);
	return ret;
}
