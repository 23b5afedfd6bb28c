// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: replication advice (user/advise.h) from access statistics
 * as `latebind advise` reads them from the pinned maps, which another build
 * or a racing daemon may have left in any state.
 *
 * Input: the options (factor, cold share, limits), each backend's state and
 * hand-offs, the total, whether the hand-offs are given, up to 24 top-list
 * rows (a config route's name key or a stray key, any count), then sketch
 * cells (column, row, value) until the input runs out (layout: mkcorpus.py). The config is fixed: five backends, twelve routes, of one,
 * two or three holders, some with characters YAML must quote.
 *
 * Invariants, beyond ASan/UBSan:
 *   - every item names a config route and a backend taking requests; an add
 *     goes to a backend that did not hold the route (nor got it already), a
 *     drop to one of its holders; at most max_add adds and max_drop drops;
 *   - the text never fails to print, and the YAML, put after the config's
 *     other sections, loads (lb_config_parse) with every advised route there
 *     with its new holders.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "advise.h"
#include "config.h"
#include "route_counts.h"
#include "topk.h"
#include "fuzz_common.h"

#define MAX_TOP 24

static const char head[] =
	"interface: eth0\n"
	"vips: [{address: 192.0.2.80, port: 80}]\n"
	"backends:\n"
	"  - {name: a, address: 198.51.100.11}\n"
	"  - {name: b, address: 198.51.100.12}\n"
	"  - {name: c, address: 198.51.100.13}\n"
	"  - {name: d.e, address: 198.51.100.14}\n"
	"  - {name: f_g, address: 198.51.100.15}\n";

static const char routes[] =
	"routes:\n"
	"  - {name: r0, path: /a, backends: [a]}\n"
	"  - {name: r1, prefix: /b/, backends: [a, b]}\n"
	"  - {prefix: /c/, backends: [c, d.e, f_g]}\n"
	"  - {name: r-3.q_, path: \"/q%25x\", backends: [b, c]}\n"
	"  - {name: r4, host: \"*.example.com\", path: /x, backends: [d.e]}\n"
	"  - {name: r5, host: Example.COM, prefix: \"/sp ace/\", backends: [f_g, a]}\n"
	"  - {name: r6, path: /6, backends: [a, b, c]}\n"
	"  - {name: r7, path: /7, backends: [c]}\n"
	"  - {path: /8, backends: [d.e, a]}\n"
	"  - {name: r9, prefix: /9/, backends: [b]}\n"
	"  - {name: r10, path: \"/a\\\\b\", backends: [a, f_g]}\n"
	"  - {name: r11, path: /11, backends: [b, d.e]}\n";

static struct lb_config cfg;
static struct lb_route_sketch *sketch;
static char *site;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[LB_ERR_MAX];
	size_t n = strlen(head) + strlen(routes) + 1;

	site = malloc(n);
	sketch = malloc(sizeof(*sketch));
	if (!site || !sketch)
		abort();
	snprintf(site, n, "%s%s", head, routes);
	if (lb_config_parse("fuzz.yaml", site, strlen(site), &cfg, err, sizeof(err))) {
		fprintf(stderr, "fuzz_advise: the fixed config: %s\n", err);
		abort();
	}
	return 0;
}

static bool holds(const struct lb_cfg_route *r, uint32_t b)
{
	for (size_t k = 0; k < r->n_backends; k++)
		if (r->backends[k] == b)
			return true;
	return false;
}

/* The YAML after the config's other sections loads, with the advised routes' new holders. */
static void check_yaml(const struct lb_advise_in *in, const struct lb_advice *a)
{
	char *yaml = NULL, *text, err[LB_ERR_MAX], buf[32];
	size_t len = 0, i, r, k;
	struct lb_config back;
	FILE *f = open_memstream(&yaml, &len);

	CHECK(f, "open_memstream");
	lb_advice_print_yaml(f, in, a);
	fclose(f);
	if (!a->n) {
		CHECK(strstr(yaml, "routes: []\n"), "no advice: %s", yaml);
		free(yaml);
		return;
	}
	text = malloc(strlen(head) + len + 1);
	CHECK(text, "malloc");
	strcpy(text, head);
	strcat(text, yaml);
	CHECK(!lb_config_parse("advice.yaml", text, strlen(text), &back, err, sizeof(err)),
	      "%s\n%s", err, yaml);
	for (i = 0; i < a->n; i++) {
		const struct lb_advice_item *it = &a->items[i];
		const char *name = lb_route_label(&cfg, it->route, buf);

		for (r = 0; r < back.n_routes && strcmp(back.routes[r].name, name); r++)
			;
		CHECK(r < back.n_routes, "route %s missing from\n%s", name, yaml);
		CHECK(!strcmp(back.routes[r].host, cfg.routes[it->route].host) &&
			      !strcmp(back.routes[r].path ? back.routes[r].path : back.routes[r].prefix,
				      cfg.routes[it->route].path ? cfg.routes[it->route].path
								 : cfg.routes[it->route].prefix),
		      "route %s came back as another\n%s", name, yaml);
		for (k = 0; k < back.routes[r].n_backends; k++)
			if (back.routes[r].backends[k] == it->backend)
				break;
		CHECK((k < back.routes[r].n_backends) == (it->op == LB_ADVICE_ADD),
		      "route %s: backend %u %s\n%s", name, it->backend,
		      it->op == LB_ADVICE_ADD ? "not added" : "not dropped", yaml);
	}
	lb_config_free(&back);
	free(text);
	free(yaml);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader rd = { data, size };
	struct lb_advise_in in = { LB_ADVISE_DEFAULTS };
	struct lb_route_top top[MAX_TOP];
	bool up[LB_MAX_BACKENDS] = { false };
	uint64_t chosen[LB_MAX_BACKENDS] = { 0 }, added[MAX_TOP * 2][2];
	struct lb_advice a;
	size_t i, n_added = 0, adds = 0, drops = 0;
	char buf[32];
	FILE *devnull;

	in.factor = 1.0 + rd_u8(&rd) / 32.0;
	in.cold = rd_u8(&rd) / 1024.0;
	in.min_requests = rd_u8(&rd);
	in.max_add = rd_u8(&rd) % 16;
	in.max_drop = rd_u8(&rd) % 16;
	for (i = 0; i < cfg.n_backends; i++) {
		up[i] = rd_bool(&rd);
		chosen[i] = rd_bool(&rd) ? rd_u16(&rd) : 0;
	}
	memset(sketch, 0, sizeof(*sketch));
	sketch->requests = rd_u32(&rd);
	in.chosen = rd_bool(&rd) ? NULL : chosen;
	in.n_top = rd_u8(&rd) % (MAX_TOP + 1);
	for (i = 0; i < in.n_top; i++) {
		uint8_t which = rd_u8(&rd);

		memset(&top[i], 0, sizeof(top[i]));
		top[i].key = which < 2 * cfg.n_routes ? lb_route_key(lb_route_label(&cfg, which % cfg.n_routes, buf))
						      : rd_u32(&rd);
		top[i].requests = rd_u32(&rd);
	}
	while (rd.n) {
		uint16_t col = rd_u16(&rd);

		sketch->c[rd_u8(&rd) % LB_SKETCH_DEPTH][col % LB_SKETCH_WIDTH] = rd_u32(&rd);
	}
	in.cfg = &cfg;
	in.up = up;
	in.top = top;
	in.sketch = sketch;
	if (lb_advise(&in, &a))
		return 0;
	for (i = 0; i < a.n; i++) {
		const struct lb_advice_item *it = &a.items[i];
		const struct lb_cfg_route *r;

		CHECK(it->route < cfg.n_routes && it->backend < cfg.n_backends, "item %zu out of range", i);
		CHECK(up[it->backend], "item %zu: backend %u does not take requests", i, it->backend);
		r = &cfg.routes[it->route];
		if (it->op == LB_ADVICE_ADD) {
			CHECK(i == adds, "an add after a drop");
			CHECK(!holds(r, it->backend), "route %zu: added to a holder", it->route);
			for (size_t k = 0; k < n_added; k++)
				CHECK(added[k][0] != it->route || added[k][1] != it->backend,
				      "route %zu: backend %u added twice", it->route, it->backend);
			added[n_added][0] = it->route;
			added[n_added++][1] = it->backend;
			adds++;
		} else {
			CHECK(it->op == LB_ADVICE_DROP, "op %d", it->op);
			CHECK(holds(r, it->backend), "route %zu: dropped from a non-holder", it->route);
			drops++;
		}
	}
	CHECK(adds == a.n_add && adds <= in.max_add && drops <= in.max_drop, "%zu adds, %zu drops",
	      adds, drops);
	devnull = fopen("/dev/null", "w");
	if (devnull) {
		lb_advice_print(devnull, &in, &a);
		fclose(devnull);
	}
	check_yaml(&in, &a);
	lb_advice_free(&a);
	return 0;
}
