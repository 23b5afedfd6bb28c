// SPDX-License-Identifier: GPL-2.0
/*
 * The rings between dispatcher threads (user/thread_ring.h): frames come out
 * in the order they went in, a full ring drops and counts, the indices wrap
 * around the slots, and a connection has one owner in both directions.
 */
#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "suites.h"
#include "thread_ring.h"

struct seen {
	unsigned int n;
	uint8_t first[64]; /* each frame's first byte, in drain order */
	size_t len[64];
};

static void take(void *ctx, const uint8_t *frame, size_t len)
{
	struct seen *s = ctx;

	ck_assert_uint_lt(s->n, 64);
	s->first[s->n] = frame[0];
	s->len[s->n++] = len;
}

/* A frame of @len bytes, each @tag. */
static const uint8_t *frame_of(uint8_t tag, size_t len)
{
	static uint8_t f[LB_TRING_FRAME + 1];

	memset(f, tag, len);
	return f;
}

START_TEST(order_kept)
{
	struct lb_tring *r = lb_tring_new(8);
	struct seen s = { 0 };
	unsigned int i;

	ck_assert_ptr_nonnull(r);
	ck_assert(!lb_tring_pending(r));
	for (i = 0; i < 5; i++)
		ck_assert_int_eq(lb_tring_push(r, frame_of((uint8_t)i, 60 + i), 60 + i), 0);
	ck_assert(lb_tring_pending(r));
	ck_assert_uint_eq(lb_tring_drain(r, 64, take, &s), 5);
	ck_assert(!lb_tring_pending(r));
	for (i = 0; i < 5; i++) {
		ck_assert_uint_eq(s.first[i], i);
		ck_assert_uint_eq(s.len[i], 60 + i);
	}
	ck_assert_uint_eq(lb_tring_drain(r, 64, take, &s), 0);
	lb_tring_free(r);
}
END_TEST

START_TEST(full_drops_and_counts)
{
	struct lb_tring *r = lb_tring_new(4);
	struct seen s = { 0 };
	unsigned int i;

	for (i = 0; i < 4; i++)
		ck_assert_int_eq(lb_tring_push(r, frame_of((uint8_t)i, 60), 60), 0);
	ck_assert_int_eq(lb_tring_push(r, frame_of(9, 60), 60), -1);
	ck_assert_int_eq(lb_tring_push(r, frame_of(9, LB_TRING_FRAME + 1), LB_TRING_FRAME + 1),
			 -1);
	ck_assert_uint_eq(lb_tring_drops(r), 2);
	/* A partial drain makes room for as many as it took, no more. */
	ck_assert_uint_eq(lb_tring_drain(r, 1, take, &s), 1);
	ck_assert_int_eq(lb_tring_push(r, frame_of(4, 60), 60), 0);
	ck_assert_int_eq(lb_tring_push(r, frame_of(9, 60), 60), -1);
	ck_assert_uint_eq(lb_tring_drops(r), 3);
	ck_assert_uint_eq(lb_tring_drain(r, 64, take, &s), 4);
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(s.first[i], i); /* the dropped 9s never show */
	lb_tring_free(r);
}
END_TEST

START_TEST(wraps_around)
{
	struct lb_tring *r = lb_tring_new(4);
	struct seen s = { 0 };
	unsigned int i, next = 0;

	/* Three at a time through four slots: the indices run past the slots many times. */
	for (i = 0; i < 20; i++) {
		ck_assert_int_eq(lb_tring_push(r, frame_of((uint8_t)next, 60), 60), 0);
		ck_assert_int_eq(lb_tring_push(r, frame_of((uint8_t)(next + 1), 60), 60), 0);
		ck_assert_int_eq(lb_tring_push(r, frame_of((uint8_t)(next + 2), 60), 60), 0);
		s.n = 0;
		ck_assert_uint_eq(lb_tring_drain(r, 64, take, &s), 3);
		ck_assert_uint_eq(s.first[0], (uint8_t)next);
		ck_assert_uint_eq(s.first[2], (uint8_t)(next + 2));
		next += 3;
	}
	ck_assert_uint_eq(lb_tring_drops(r), 0);
	lb_tring_free(r);
}
END_TEST

START_TEST(bad_sizes_refused)
{
	ck_assert_ptr_null(lb_tring_new(0));
	ck_assert_ptr_null(lb_tring_new(1));
	ck_assert_ptr_null(lb_tring_new(6));
}
END_TEST

/* Ethernet + IPv4 + TCP ports: enough for lb_frame_owner. */
static void tuple_frame(uint8_t *f, uint32_t saddr, uint16_t sport, uint32_t daddr, uint16_t dport)
{
	memset(f, 0, 54);
	f[12] = 0x08;
	f[14] = 0x45;
	f[14 + 9] = 6;
	memcpy(f + 26, &saddr, 4);
	memcpy(f + 30, &daddr, 4);
	memcpy(f + 34, &sport, 2);
	memcpy(f + 36, &dport, 2);
}

START_TEST(owner_same_both_ways)
{
	uint8_t to_vip[54], from_vip[54];
	unsigned int used[4] = { 0 }, i, n;

	for (n = 2; n <= 4; n++)
		for (i = 0; i < 200; i++) {
			uint32_t client = htonl(0x0a000002 + i % 7), vip = htonl(0x0a0000fe);
			uint16_t port = htons((uint16_t)(40000 + i));
			int o;

			tuple_frame(to_vip, client, port, vip, htons(80));
			tuple_frame(from_vip, vip, htons(80), client, port);
			o = lb_frame_owner(to_vip, sizeof(to_vip), n);
			ck_assert_int_ge(o, 0);
			ck_assert_int_lt(o, (int)n);
			ck_assert_int_eq(lb_frame_owner(from_vip, sizeof(from_vip), n), o);
			if (n == 4)
				used[o]++;
		}
	for (i = 0; i < 4; i++)
		ck_assert_uint_gt(used[i], 20); /* spread over every thread */
	to_vip[12] = 0x86; /* not IPv4: the receiver keeps it */
	ck_assert_int_eq(lb_frame_owner(to_vip, sizeof(to_vip), 2), -1);
	ck_assert_int_eq(lb_frame_owner(to_vip, 20, 2), -1);
}
END_TEST

Suite *thread_ring_suite(void)
{
	Suite *s = suite_create("thread_ring");
	TCase *tc = tcase_create("ring");

	tcase_add_test(tc, order_kept);
	tcase_add_test(tc, full_drops_and_counts);
	tcase_add_test(tc, wraps_around);
	tcase_add_test(tc, bad_sizes_refused);
	tcase_add_test(tc, owner_same_both_ways);
	suite_add_tcase(s, tc);
	return s;
}
