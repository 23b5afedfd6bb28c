// SPDX-License-Identifier: GPL-2.0
/*
 * Backend slots across a reload (lb_slots_remap): kept by name, removed ones
 * draining while they carry flows and freed once they carry none, new ones in
 * the lowest free slot, route holders renumbered, and a refusal past
 * LB_MAX_BACKENDS slots that leaves the new config as it was.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"
#include "suites.h"

static struct lb_backend backends[LB_MAX_BACKENDS];
static struct lb_config old, fresh;

/*
 * A config of backends named by @names ("" for a hole) in that order, and one
 * route held by every named one.
 */
static void make(struct lb_config *cfg, const char *const *names, size_t n)
{
	size_t i;

	memset(cfg, 0, sizeof(*cfg));
	cfg->backends = calloc(n ? n : 1, sizeof(*cfg->backends));
	cfg->routes = calloc(1, sizeof(*cfg->routes));
	ck_assert(cfg->backends && cfg->routes);
	cfg->routes[0].backends = calloc(n ? n : 1, sizeof(uint32_t));
	ck_assert(cfg->routes[0].backends);
	cfg->n_routes = 1;
	cfg->n_backends = n;
	for (i = 0; i < n; i++) {
		snprintf(cfg->backends[i].name, sizeof(cfg->backends[i].name), "%s", names[i]);
		cfg->backends[i].address.s_addr = (uint32_t)i + 1;
		cfg->backends[i].state = LB_BACKEND_UP;
		if (names[i][0])
			cfg->routes[0].backends[cfg->routes[0].n_backends++] = i;
	}
}

/* @cfg's slot holding @name, or -1. */
static int slot(const struct lb_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_backends; i++)
		if (!strcmp(cfg->backends[i].name, name))
			return (int)i;
	return -1;
}

static void setup(void)
{
	memset(backends, 0, sizeof(backends));
}

static void teardown(void)
{
	lb_config_free(&old);
	lb_config_free(&fresh);
}

static void remap_ok(void)
{
	char err[LB_ERR_MAX] = "";

	ck_assert_msg(!lb_slots_remap(&old, backends, &fresh, err, sizeof(err)), "remap: %s", err);
}

/* Kept backends keep their slots whatever the new order; holders follow. */
START_TEST(test_kept)
{
	make(&old, (const char *[]){ "a", "b", "c" }, 3);
	make(&fresh, (const char *[]){ "c", "a", "b" }, 3);
	fresh.backends[0].weight = 7; /* the new config's fields win */
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, 3);
	ck_assert_int_eq(slot(&fresh, "a"), 0);
	ck_assert_int_eq(slot(&fresh, "b"), 1);
	ck_assert_int_eq(slot(&fresh, "c"), 2);
	ck_assert_uint_eq(fresh.backends[2].weight, 7);
	/* The route listed c, a, b by config index: now by slot. */
	ck_assert_uint_eq(fresh.routes[0].n_backends, 3);
	ck_assert_uint_eq(fresh.routes[0].backends[0], 2);
	ck_assert_uint_eq(fresh.routes[0].backends[1], 0);
	ck_assert_uint_eq(fresh.routes[0].backends[2], 1);
}
END_TEST

/* A removed backend with flows stays in its slot, draining, out of every route. */
START_TEST(test_removed_with_flows)
{
	make(&old, (const char *[]){ "a", "b", "c" }, 3);
	make(&fresh, (const char *[]){ "a", "c" }, 2);
	backends[1].active = 4;
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, 3);
	ck_assert_int_eq(slot(&fresh, "a"), 0);
	ck_assert_int_eq(slot(&fresh, "b"), 1);
	ck_assert_int_eq(slot(&fresh, "c"), 2);
	ck_assert_int_eq(fresh.backends[1].state, LB_BACKEND_DRAINING);
	ck_assert_uint_eq(fresh.backends[1].address.s_addr, old.backends[1].address.s_addr);
	ck_assert_int_eq(fresh.backends[0].state, LB_BACKEND_UP);
	ck_assert_uint_eq(fresh.routes[0].n_backends, 2);
	ck_assert_uint_eq(fresh.routes[0].backends[0], 0);
	ck_assert_uint_eq(fresh.routes[0].backends[1], 2);
}
END_TEST

/* Without flows its slot is freed: a hole in the middle, trimmed at the end. */
START_TEST(test_removed_without_flows)
{
	make(&old, (const char *[]){ "a", "b", "c" }, 3);
	make(&fresh, (const char *[]){ "a", "c" }, 2);
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, 3);
	ck_assert_str_eq(fresh.backends[1].name, "");
	ck_assert_uint_eq(fresh.backends[1].address.s_addr, 0);
	ck_assert_int_eq(slot(&fresh, "c"), 2);
	lb_config_free(&old);
	old = fresh;
	make(&fresh, (const char *[]){ "a" }, 1);
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, 1);
	ck_assert_int_eq(slot(&fresh, "a"), 0);
}
END_TEST

/* A new backend takes the lowest free slot: a freed one before the end. */
START_TEST(test_new_takes_free_slot)
{
	make(&old, (const char *[]){ "a", "", "c" }, 3);
	make(&fresh, (const char *[]){ "d", "c", "a", "e" }, 4);
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, 4);
	ck_assert_int_eq(slot(&fresh, "a"), 0);
	ck_assert_int_eq(slot(&fresh, "d"), 1);
	ck_assert_int_eq(slot(&fresh, "c"), 2);
	ck_assert_int_eq(slot(&fresh, "e"), 3);
	ck_assert_uint_eq(fresh.routes[0].backends[0], 1);
	ck_assert_uint_eq(fresh.routes[0].backends[3], 3);
}
END_TEST

/* A draining slot is not free: the new backend goes past it. */
START_TEST(test_new_skips_draining)
{
	make(&old, (const char *[]){ "a", "b" }, 2);
	make(&fresh, (const char *[]){ "n" }, 1);
	backends[0].active = 1;
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, 2);
	ck_assert_int_eq(slot(&fresh, "a"), 0);
	ck_assert_int_eq(fresh.backends[0].state, LB_BACKEND_DRAINING);
	ck_assert_int_eq(slot(&fresh, "n"), 1);
	ck_assert_uint_eq(fresh.routes[0].backends[0], 1);
}
END_TEST

/* Every slot still draining and one more new backend: refused, @fresh untouched. */
START_TEST(test_overflow)
{
	static char names[LB_MAX_BACKENDS][LB_NAME_MAX];
	const char *old_names[LB_MAX_BACKENDS];
	struct lb_cfg_backend *before;
	char err[LB_ERR_MAX] = "";
	size_t i;

	for (i = 0; i < LB_MAX_BACKENDS; i++) {
		snprintf(names[i], sizeof(names[i]), "old%zu", i);
		old_names[i] = names[i];
		backends[i].active = 1;
	}
	make(&old, old_names, LB_MAX_BACKENDS);
	make(&fresh, (const char *[]){ "new" }, 1);
	before = fresh.backends;
	ck_assert_int_eq(lb_slots_remap(&old, backends, &fresh, err, sizeof(err)), -1);
	ck_assert_msg(strstr(err, "draining"), "err: %s", err);
	ck_assert_ptr_eq(fresh.backends, before);
	ck_assert_uint_eq(fresh.n_backends, 1);
	ck_assert_uint_eq(fresh.routes[0].backends[0], 0);
	/* One slot's flows end: the new backend takes it. */
	backends[LB_MAX_BACKENDS - 1].active = 0;
	remap_ok();
	ck_assert_uint_eq(fresh.n_backends, LB_MAX_BACKENDS);
	ck_assert_int_eq(slot(&fresh, "new"), LB_MAX_BACKENDS - 1);
	ck_assert_uint_eq(fresh.routes[0].backends[0], LB_MAX_BACKENDS - 1);
}
END_TEST

Suite *slots_suite(void)
{
	Suite *s = suite_create("slots");
	TCase *tc = tcase_create("slots");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_kept);
	tcase_add_test(tc, test_removed_with_flows);
	tcase_add_test(tc, test_removed_without_flows);
	tcase_add_test(tc, test_new_takes_free_slot);
	tcase_add_test(tc, test_new_skips_draining);
	tcase_add_test(tc, test_overflow);
	suite_add_tcase(s, tc);
	return s;
}
