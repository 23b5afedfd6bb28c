// SPDX-License-Identifier: GPL-2.0
/*
 * user/flow_table.c on a real BPF hash map of four entries (the daemon's
 * flows_v2 layout): a full table evicts instead of refusing, the eviction is
 * counted and reported, a bound victim leaves its backend's active count,
 * closing flows go first, and flows the dispatcher holds are never evicted.
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "flow_table.h"
#include "suites.h"

#define SLOTS 4
#define BE    1 /* the backend every bound flow here belongs to */

static struct lb_flow_table t;
static struct lb_backend *backends;
static uint64_t evictions;
static struct lb_flow_key last_key;
static struct lb_flow last_gone;
static int reported;

static void on_evicted(void *ctx, const struct lb_flow_key *k, const struct lb_flow *f)
{
	last_key = *k;
	last_gone = *f;
	reported++;
}

static void setup(void)
{
	int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "t_flows", sizeof(struct lb_flow_key),
				sizeof(struct lb_flow), SLOTS, NULL);

	ck_assert_msg(fd >= 0, "cannot create a hash map (root? CAP_BPF?): %d", errno);
	backends = calloc(LB_MAX_BACKENDS, sizeof(*backends));
	ck_assert_ptr_nonnull(backends);
	evictions = 0;
	reported = 0;
	lb_flow_table_init(&t, fd, backends, &evictions);
	t.evicted = on_evicted;
}

static void teardown(void)
{
	close(t.fd);
	free(backends);
}

static struct lb_flow_key key(uint16_t port)
{
	return (struct lb_flow_key){ .saddr = 0x0a000001, .daddr = 0x50000000, .sport = port,
				     .dport = 80, .proto = 6 };
}

/* A bound flow is inserted the way the hand-off does it: flow, then count. */
static void put(uint16_t port, uint32_t state, uint64_t seen)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f = { .state = state, .backend = BE, .last_seen_ns = seen };

	ck_assert_int_eq(lb_flow_insert(&t, &k, &f), 0);
	if (state == LB_FLOW_BOUND)
		backends[BE].active++;
}

static bool present(uint16_t port)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f;

	return !bpf_map_lookup_elem(t.fd, &k, &f);
}

START_TEST(test_evicts_oldest_bound)
{
	put(1, LB_FLOW_BOUND, 300);
	put(2, LB_FLOW_BOUND, 100);
	put(3, LB_FLOW_DISPATCH, 0);
	put(4, LB_FLOW_BOUND, 200);
	ck_assert_uint_eq(backends[BE].active, 3);
	ck_assert_uint_eq(evictions, 0);

	put(5, LB_FLOW_BOUND, 400);
	ck_assert_uint_eq(evictions, 1);
	ck_assert_int_eq(reported, 1);
	ck_assert(!present(2));
	ck_assert_uint_eq(last_key.sport, 2);
	ck_assert_uint_eq(last_gone.state, LB_FLOW_BOUND);
	/* Three bound flows in the table, three counted: nothing leaked. */
	ck_assert_uint_eq(backends[BE].active, 3);
	ck_assert(present(1) && present(3) && present(4) && present(5));
}
END_TEST

START_TEST(test_closing_first)
{
	put(1, LB_FLOW_BOUND, 100);
	put(2, LB_FLOW_CLOSING, 900);
	put(3, LB_FLOW_BOUND, 200);
	put(4, LB_FLOW_BOUND, 300);
	put(5, LB_FLOW_BOUND, 400);
	ck_assert(!present(2));
	ck_assert_uint_eq(evictions, 1);
	/* A closing flow has left the count already (XDP's FIN); it is not taken again. */
	ck_assert_uint_eq(backends[BE].active, 4);
}
END_TEST

START_TEST(test_replace_needs_no_room)
{
	struct lb_flow_key k = key(3);
	struct lb_flow f = { .state = LB_FLOW_BOUND, .backend = BE, .last_seen_ns = 5 };

	put(1, LB_FLOW_BOUND, 100);
	put(2, LB_FLOW_BOUND, 200);
	put(3, LB_FLOW_DISPATCH, 0);
	put(4, LB_FLOW_BOUND, 300);
	/* The hand-off turns the dispatcher's entry into a bound one in place. */
	ck_assert_int_eq(lb_flow_insert(&t, &k, &f), 0);
	ck_assert_uint_eq(evictions, 0);
}
END_TEST

START_TEST(test_nothing_evictable)
{
	struct lb_flow_key k = key(9);
	struct lb_flow f = { .state = LB_FLOW_DISPATCH };

	put(1, LB_FLOW_DISPATCH, 0);
	put(2, LB_FLOW_DISPATCH, 0);
	put(3, LB_FLOW_REPLAY, 0);
	put(4, LB_FLOW_DISPATCH, 0);
	ck_assert_int_eq(lb_flow_insert(&t, &k, &f), -E2BIG);
	ck_assert_uint_eq(evictions, 0);
	ck_assert_int_eq(reported, 0);
}
END_TEST

START_TEST(test_many_evictions)
{
	uint16_t p;

	/* Each new flow is the newest: every insert past the fourth evicts the oldest. */
	for (p = 1; p <= 100; p++)
		put(p, LB_FLOW_BOUND, p);
	ck_assert_uint_eq(evictions, 96);
	ck_assert_uint_eq(backends[BE].active, SLOTS);
	for (p = 97; p <= 100; p++)
		ck_assert(present(p));
}
END_TEST

START_TEST(test_remove_counts_once)
{
	struct lb_flow_key k = key(1);
	struct lb_flow gone;

	put(1, LB_FLOW_BOUND, 100);
	ck_assert_int_eq(lb_flow_remove(&t, &k, &gone), 0);
	ck_assert_uint_eq(gone.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(backends[BE].active, 0);
	ck_assert_int_eq(lb_flow_remove(&t, &k, NULL), -ENOENT);
	ck_assert_uint_eq(backends[BE].active, 0);
	/* A removal (expiry, a closed connection) is no eviction. */
	ck_assert_uint_eq(evictions, 0);
}
END_TEST

Suite *flow_table_suite(void)
{
	Suite *s = suite_create("flow_table_map");
	TCase *tc = tcase_create("hash");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_evicts_oldest_bound);
	tcase_add_test(tc, test_closing_first);
	tcase_add_test(tc, test_replace_needs_no_room);
	tcase_add_test(tc, test_nothing_evictable);
	tcase_add_test(tc, test_many_evictions);
	tcase_add_test(tc, test_remove_counts_once);
	suite_add_tcase(s, tc);
	return s;
}
