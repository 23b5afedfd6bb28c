// SPDX-License-Identifier: GPL-2.0
/* Replication advice (user/advise.h): hot routes get a replica, cold ones lose one. */
#include <stdlib.h>
#include <string.h>

#include "advise.h"
#include "config.h"
#include "suites.h"
#include "topk.h"

static const char head[] =
	"interface: eth0\n"
	"vips: [{address: 192.0.2.80, port: 80}]\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11}\n"
	"  - {name: web2, address: 198.51.100.12}\n"
	"  - {name: web3, address: 198.51.100.13}\n";

/* hot: web1 alone; warm: web1+web2; cold: web2+web3; single: web3 alone; odd: a path with '%'. */
static const char routes[] =
	"routes:\n"
	"  - {name: hot, path: /hot.bin, backends: [web1]}\n"
	"  - {name: warm, prefix: /warm/, backends: [web1, web2]}\n"
	"  - {name: cold, host: example.com, prefix: /cold/, backends: [web2, web3]}\n"
	"  - {name: single, path: /single.bin, backends: [web3]}\n"
	"  - {name: odd, path: \"/a%2525b\", backends: [web1, web3]}\n";

static struct {
	struct lb_config cfg;
	struct lb_route_sketch *sketch;
	struct lb_route_top top[8];
	bool up[3];
	uint64_t chosen[3];
	struct lb_advise_in in;
	struct lb_advice a;
} t;

/* @n requests of route @name; listed in the top when @listed. */
static void requests(const char *name, uint64_t n, bool listed)
{
	uint64_t key = lb_route_key(name);

	lb_sketch_add(t.sketch, key, n);
	t.sketch->requests += n;
	if (listed) {
		struct lb_route_top *r = &t.top[t.in.n_top++];

		snprintf(r->name, sizeof(r->name), "%s", name);
		r->key = key;
		r->requests = n;
	}
}

static void setup(void)
{
	char text[2048], err[LB_ERR_MAX];

	memset(&t, 0, sizeof(t));
	snprintf(text, sizeof(text), "%s%s", head, routes);
	ck_assert_msg(!lb_config_parse("t.yaml", text, strlen(text), &t.cfg, err, sizeof(err)), "%s",
		      err);
	t.sketch = calloc(1, sizeof(*t.sketch));
	ck_assert_ptr_nonnull(t.sketch);
	t.in = (struct lb_advise_in){ LB_ADVISE_DEFAULTS };
	t.in.cfg = &t.cfg;
	t.in.up = t.up;
	t.in.top = t.top;
	t.in.sketch = t.sketch;
	t.up[0] = t.up[1] = t.up[2] = true;
	/* A skewed site: "hot" takes 60% of 10000 requests, all on web1. */
	requests("hot", 6000, true);
	requests("warm", 2000, true);
	requests("single", 1995, true);
	requests("cold", 3, false);
	requests("odd", 2, false);
}

static void teardown(void)
{
	lb_advice_free(&t.a);
	free(t.sketch);
	lb_config_free(&t.cfg);
}

static char *printed(bool yaml)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(f);
	if (yaml)
		lb_advice_print_yaml(f, &t.in, &t.a);
	else
		lb_advice_print(f, &t.in, &t.a);
	fclose(f);
	return buf;
}

/* The model's loads (no hand-offs yet): web1 = 60% + 10%, web2 = 10%, web3 = 20%. */
START_TEST(test_hot_route_gets_a_replica)
{
	const struct lb_advice_item *it;
	char *text;

	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	ck_assert_ptr_null(t.a.none);
	ck_assert(!t.a.measured);
	ck_assert_double_eq_tol(t.a.load[0], 0.70, 1e-9);
	ck_assert_double_eq_tol(t.a.load[1], 0.10, 1e-9);
	ck_assert_double_eq_tol(t.a.load[2], 0.1995, 1e-9);
	ck_assert_uint_ge(t.a.n_add, 1);
	it = &t.a.items[0];
	ck_assert_int_eq(it->op, LB_ADVICE_ADD);
	ck_assert_uint_eq(it->route, 0);    /* hot */
	ck_assert_uint_eq(it->backend, 1);  /* web2, the least loaded */
	ck_assert_uint_eq(it->relieved, 0); /* web1 */
	ck_assert_double_eq_tol(it->before, 0.70, 1e-9);
	ck_assert_double_eq_tol(it->after, 0.40, 1e-9);
	text = printed(false);
	ck_assert_msg(strstr(text, "route hot (60.00% of requests), held by web1: add web2; "
				   "web1 70.0% -> 40.0%"), "%s", text);
	ck_assert_msg(strstr(text, "web1 70.0% (busy)"), "%s", text);
	free(text);
}
END_TEST

/* Measured hand-offs outweigh the model: web3 is the busy one, its route gets the replica. */
START_TEST(test_measured_loads)
{
	t.chosen[0] = 100;
	t.chosen[1] = 100;
	t.chosen[2] = 800;
	t.in.chosen = t.chosen;
	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	ck_assert(t.a.measured);
	ck_assert_double_eq_tol(t.a.load[2], 0.8, 1e-9);
	ck_assert_uint_ge(t.a.n_add, 1);
	ck_assert_uint_eq(t.a.items[0].route, 3); /* single, web3's only listed route */
	ck_assert_uint_eq(t.a.items[0].relieved, 2);
}
END_TEST

/* Nothing busy (factor high): no replica to add; a backend not taking requests gets none. */
START_TEST(test_no_busy_no_target_down)
{
	char *text;

	t.in.factor = 3;
	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	ck_assert_uint_eq(t.a.n_add, 0);
	text = printed(false);
	ck_assert_msg(strstr(text, "nothing to add"), "%s", text);
	free(text);
	lb_advice_free(&t.a);

	t.in.factor = 1.25;
	t.up[1] = false; /* web2 down: the replica goes to web3 */
	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	for (size_t i = 0; i < t.a.n_add; i++)
		ck_assert_uint_ne(t.a.items[i].backend, 1);
}
END_TEST

/* Cold: two holders or more and under the threshold even by the sketch's bound. */
START_TEST(test_cold_routes)
{
	size_t i, drops = 0;
	char *text;

	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	for (i = t.a.n_add; i < t.a.n; i++) {
		ck_assert_int_eq(t.a.items[i].op, LB_ADVICE_DROP);
		drops++;
	}
	/* odd (2 requests) before cold (3); single has one holder; warm is hot enough. */
	ck_assert_uint_eq(drops, 2);
	ck_assert_uint_eq(t.a.items[t.a.n_add].route, 4);
	ck_assert_uint_eq(t.a.items[t.a.n_add + 1].route, 2);
	/* cold's busiest holder under the model (after the adds) is dropped. */
	text = printed(false);
	ck_assert_msg(strstr(text, "route cold (at most 3 requests, 0.030%), held by web2, web3: "
				   "drop "), "%s", text);
	free(text);
	lb_advice_free(&t.a);

	t.in.max_drop = 1;
	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	ck_assert_uint_eq(t.a.more_cold, 1);
	lb_advice_free(&t.a);

	t.in.cold = 0.0001; /* 1 request in 10000: neither is below */
	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	ck_assert_uint_eq(t.a.n, t.a.n_add);
}
END_TEST

START_TEST(test_too_few_requests)
{
	char *text;

	t.in.min_requests = 20000;
	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	ck_assert_ptr_nonnull(t.a.none);
	ck_assert_uint_eq(t.a.n, 0);
	text = printed(true);
	ck_assert_msg(strstr(text, "routes: []\n"), "%s", text);
	free(text);
}
END_TEST

/* The YAML is routes a config takes: loaded back, the changed routes have the new holders. */
START_TEST(test_yaml_loads_back)
{
	struct lb_config back;
	char text[4096], err[LB_ERR_MAX], *yaml;
	size_t i;

	ck_assert_int_eq(lb_advise(&t.in, &t.a), 0);
	yaml = printed(true);
	ck_assert_msg(strstr(yaml, "  - {name: \"hot\", host: \"*\", path: \"/hot.bin\", "
				   "backends: [web1, web2]}\n"), "%s", yaml);
	snprintf(text, sizeof(text), "%s%s", head, yaml);
	ck_assert_msg(!lb_config_parse("advice.yaml", text, strlen(text), &back, err, sizeof(err)),
		      "%s\n%s", err, yaml);
	for (i = 0; i < back.n_routes; i++) {
		if (!strcmp(back.routes[i].name, "odd"))
			ck_assert_str_eq(back.routes[i].path, t.cfg.routes[4].path);
		if (!strcmp(back.routes[i].name, "cold")) {
			ck_assert_str_eq(back.routes[i].host, "example.com");
			ck_assert_uint_eq(back.routes[i].n_backends, 1);
		}
	}
	lb_config_free(&back);
	free(yaml);
}
END_TEST

Suite *advise_suite(void)
{
	Suite *s = suite_create("advise");
	TCase *tc = tcase_create("advise");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_hot_route_gets_a_replica);
	tcase_add_test(tc, test_measured_loads);
	tcase_add_test(tc, test_no_busy_no_target_down);
	tcase_add_test(tc, test_cold_routes);
	tcase_add_test(tc, test_too_few_requests);
	tcase_add_test(tc, test_yaml_loads_back);
	suite_add_tcase(s, tc);
	return s;
}
