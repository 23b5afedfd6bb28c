// SPDX-License-Identifier: GPL-2.0
/*
 * The flow table's eviction choice (lb_flow_pick_victim): closing flows go
 * first, then the bound flow silent longest; flows the dispatcher still holds
 * never. The inserts and removals on a real map are in tests/bpf/.
 */
#include "flow_table.h"
#include "suites.h"

#define F(st, seen) { .state = (st), .last_seen_ns = (seen) }

START_TEST(test_oldest_bound)
{
	struct lb_flow f[] = { F(LB_FLOW_BOUND, 300), F(LB_FLOW_BOUND, 100), F(LB_FLOW_BOUND, 200) };

	ck_assert_int_eq(lb_flow_pick_victim(f, 3), 1);
	/* The first of equals: a stable choice. */
	f[2].last_seen_ns = 100;
	ck_assert_int_eq(lb_flow_pick_victim(f, 3), 1);
}
END_TEST

START_TEST(test_closing_first)
{
	/* A closing flow seen a moment ago still goes before a bound one idle for long. */
	struct lb_flow f[] = { F(LB_FLOW_BOUND, 1), F(LB_FLOW_CLOSING, 900), F(LB_FLOW_CLOSING, 500),
			       F(LB_FLOW_BOUND, 0) };

	ck_assert_int_eq(lb_flow_pick_victim(f, 4), 2);
}
END_TEST

START_TEST(test_dispatcher_flows_kept)
{
	/* Collecting a request or replaying a SYN: the dispatcher's, never evicted here. */
	struct lb_flow f[] = { F(LB_FLOW_DISPATCH, 0), F(LB_FLOW_REPLAY, 0), F(LB_FLOW_BOUND, 700),
			       F(0, 0), F(99, 0) };

	ck_assert_int_eq(lb_flow_pick_victim(f, 5), 2);
	ck_assert_int_eq(lb_flow_pick_victim(f, 2), -1);
	ck_assert_int_eq(lb_flow_pick_victim(f + 3, 2), -1); /* unknown states: not ours to judge */
	ck_assert_int_eq(lb_flow_pick_victim(f, 0), -1);
}
END_TEST

START_TEST(test_full_sample)
{
	struct lb_flow f[LB_FLOW_SAMPLE];
	size_t i;

	for (i = 0; i < LB_FLOW_SAMPLE; i++)
		f[i] = (struct lb_flow)F(LB_FLOW_BOUND, 1000 + (i * 7919) % LB_FLOW_SAMPLE);
	/* i * 7919 mod 32 is 0 only at i = 0. */
	ck_assert_int_eq(lb_flow_pick_victim(f, LB_FLOW_SAMPLE), 0);
	f[LB_FLOW_SAMPLE - 1].state = LB_FLOW_CLOSING;
	ck_assert_int_eq(lb_flow_pick_victim(f, LB_FLOW_SAMPLE), LB_FLOW_SAMPLE - 1);
}
END_TEST

Suite *flow_table_suite(void)
{
	Suite *s = suite_create("flow_table");
	TCase *tc = tcase_create("victim");

	tcase_add_test(tc, test_oldest_bound);
	tcase_add_test(tc, test_closing_first);
	tcase_add_test(tc, test_dispatcher_flows_kept);
	tcase_add_test(tc, test_full_sample);
	suite_add_tcase(s, tc);
	return s;
}
