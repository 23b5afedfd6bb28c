// SPDX-License-Identifier: GPL-2.0
/* Least active flows per weight among the holders that are up; ties rotate. */
#include <stdlib.h>
#include <string.h>

#include "select.h"
#include "suites.h"

#define UP(w, a)       { .state = LB_BACKEND_UP, .weight = (w), .active = (a) }
#define DRAINING(w, a) { .state = LB_BACKEND_DRAINING, .weight = (w), .active = (a) }
#define DOWN(w, a)     { .state = LB_BACKEND_DOWN, .weight = (w), .active = (a) }

static const uint32_t all3[] = { 0, 1, 2 };

START_TEST(test_least_loaded)
{
	struct lb_backend_view v[] = { UP(1, 5), UP(1, 3), UP(1, 9) };
	uint32_t rr = 0;

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), 1);
	/* Per weight: 6/3 = 2 beats 3/1. */
	v[0] = (struct lb_backend_view)UP(3, 6);
	ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), 0);
	/* Only holders count: backend 1 is lighter but does not hold it. */
	ck_assert_int_eq(lb_select_backend((uint32_t[]){ 2, 0 }, 2, v, 3, &rr), 0);
}
END_TEST

START_TEST(test_weights_2_to_1)
{
	struct lb_backend_view v[] = { UP(2, 0), UP(1, 0) };
	uint32_t rr = 7, holders[] = { 0, 1 };
	unsigned picks[2] = { 0, 0 };

	/* Flows that never end: picks split exactly 2:1. */
	for (int i = 0; i < 3000; i++) {
		int b = lb_select_backend(holders, 2, v, 2, &rr);

		ck_assert(b == 0 || b == 1);
		picks[b]++;
		v[b].active++;
		/* At every step the loads stay within one flow of 2:1. */
		ck_assert_uint_le(v[0].active, 2 * v[1].active + 2);
		ck_assert_uint_le(v[1].active, v[0].active / 2 + 1);
	}
	ck_assert_uint_eq(picks[0], 2000);
	ck_assert_uint_eq(picks[1], 1000);

	/* Flows ending at random: active counts hover around 2:1 as well. */
	srand(1);
	memset(picks, 0, sizeof(picks));
	v[0].active = v[1].active = 0;
	for (int i = 0; i < 100000; i++) {
		int b = lb_select_backend(holders, 2, v, 2, &rr);

		picks[b]++;
		v[b].active++;
		for (int k = 0; k < 2; k++)
			if (v[k].active && rand() % 100 < 3)
				v[k].active--;
	}
	ck_assert_msg(picks[0] > 1.8 * picks[1] && picks[0] < 2.2 * picks[1], "%u:%u", picks[0],
		      picks[1]);
}
END_TEST

START_TEST(test_draining_down_skipped)
{
	struct lb_backend_view v[] = { DRAINING(1, 0), DOWN(1, 0), UP(1, 1000) };
	uint32_t rr = 0;

	for (int i = 0; i < 10; i++)
		ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), 2);
	/* Weight 0 takes no new flows either. */
	v[0] = (struct lb_backend_view)UP(0, 0);
	ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), 2);
	/* A state we do not know is not "up". */
	v[1] = (struct lb_backend_view){ .state = 77, .weight = 1 };
	ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), 2);
}
END_TEST

START_TEST(test_none_up)
{
	struct lb_backend_view v[] = { DRAINING(1, 0), DOWN(1, 0), UP(0, 0) };
	uint32_t rr = 0;

	ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), -1);
	ck_assert_int_eq(lb_select_backend(all3, 0, v, 3, &rr), -1);
	ck_assert_int_eq(lb_select_backend(NULL, 0, v, 3, &rr), -1);
	/* Holders beyond the view (a stale directory) are skipped, not read. */
	v[2].weight = 1;
	ck_assert_int_eq(lb_select_backend((uint32_t[]){ 5, 2 }, 2, v, 3, &rr), 2);
	ck_assert_int_eq(lb_select_backend((uint32_t[]){ 5, 2 }, 2, v, 2, &rr), -1);
}
END_TEST

START_TEST(test_ties_rotate)
{
	struct lb_backend_view v[] = { UP(1, 4), UP(2, 8), UP(1, 4), UP(1, 9) };
	uint32_t holders[] = { 0, 1, 2, 3 }, rr = 0;
	unsigned picks[4] = { 0 };
	int prev = -1;

	/* 0, 1, 2 are tied (4/1 = 8/2); 3 is heavier and never picked. */
	for (int i = 0; i < 300; i++) {
		int b = lb_select_backend(holders, 4, v, 4, &rr);

		ck_assert_int_ne(b, prev); /* never the same one twice in a row */
		prev = b;
		picks[b]++;
	}
	ck_assert_uint_eq(picks[0], 100);
	ck_assert_uint_eq(picks[1], 100);
	ck_assert_uint_eq(picks[2], 100);
	ck_assert_uint_eq(picks[3], 0);

	/* Idle backends share the first flows instead of one taking them. */
	v[0].active = v[1].active = v[2].active = v[3].active = 0;
	v[1].weight = 1;
	memset(picks, 0, sizeof(picks));
	for (int i = 0; i < 4; i++)
		picks[lb_select_backend(holders, 4, v, 4, &rr)]++;
	for (int i = 0; i < 4; i++)
		ck_assert_uint_eq(picks[i], 1);
}
END_TEST

/* A map slot as selection (and announcing) sees it: no MAC yet is down. */
START_TEST(test_view_of_map_slot)
{
	struct lb_backend b = { .mac = { 2, 0, 0, 0, 0, 0x11 }, .state = LB_BACKEND_UP, .active = 7 };
	struct lb_backend_view v = lb_backend_view_of(&b, 3, true);

	ck_assert_uint_eq(v.state, LB_BACKEND_UP);
	ck_assert_uint_eq(v.weight, 3);
	ck_assert_uint_eq(v.active, 7);
	ck_assert(lb_backend_usable(&v));
	b.state = LB_BACKEND_DRAINING;
	v = lb_backend_view_of(&b, 3, true);
	ck_assert(!lb_backend_usable(&v));
	b.state = LB_BACKEND_UP;
	memset(b.mac, 0, sizeof(b.mac));
	v = lb_backend_view_of(&b, 3, true);
	ck_assert_uint_eq(v.state, LB_BACKEND_DOWN);
	ck_assert(!lb_backend_usable(&v));
}
END_TEST

START_TEST(test_no_overflow)
{
	/* Products near 2^63: 32-bit math or a careless cast would flip these. */
	struct lb_backend_view v[] = { UP(65535, (UINT64_C(1) << 46) + 1),
				       UP(65535, UINT64_C(1) << 46), UP(1, UINT64_C(1) << 40) };
	uint32_t rr = 0;

	ck_assert_int_eq(lb_select_backend(all3, 2, v, 3, &rr), 1);
	/* 2^40 / 1 against 2^46 / 65535 (about 2^30): the weighted one wins. */
	ck_assert_int_eq(lb_select_backend((uint32_t[]){ 2, 1 }, 2, v, 3, &rr), 1);
	/* Absurd counts saturate instead of wrapping to "idle". */
	v[0].active = UINT64_MAX;
	v[1].active = UINT64_MAX - 1;
	v[2] = (struct lb_backend_view)UP(1, 1000);
	ck_assert_int_eq(lb_select_backend(all3, 3, v, 3, &rr), 2);
}
END_TEST

Suite *select_suite(void)
{
	Suite *s = suite_create("select");
	TCase *tc = tcase_create("select");

	tcase_add_test(tc, test_least_loaded);
	tcase_add_test(tc, test_weights_2_to_1);
	tcase_add_test(tc, test_draining_down_skipped);
	tcase_add_test(tc, test_none_up);
	tcase_add_test(tc, test_ties_rotate);
	tcase_add_test(tc, test_no_overflow);
	tcase_add_test(tc, test_view_of_map_slot);
	suite_add_tcase(s, tc);
	return s;
}
