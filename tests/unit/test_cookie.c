// SPDX-License-Identifier: GPL-2.0
/* The shared SYN cookie (headers/cookie.h), as userspace compiles it. */
#include <arpa/inet.h>
#include <stdint.h>
#include <string.h>

#include "cookie.h"
#include "peer_sync.h"
#include "suites.h"

/* Reference SipHash-2-4 over bytes, written from the paper, to check the 3-word form. */
static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1]; v[1] = rotl(v[1], 13); v[1] ^= v[0]; v[0] = rotl(v[0], 32);
	v[2] += v[3]; v[3] = rotl(v[3], 16); v[3] ^= v[2];
	v[0] += v[3]; v[3] = rotl(v[3], 21); v[3] ^= v[0];
	v[2] += v[1]; v[1] = rotl(v[1], 17); v[1] ^= v[2]; v[2] = rotl(v[2], 32);
}

static uint64_t le64(const uint8_t *p, size_t n)
{
	uint64_t x = 0;
	size_t i;

	for (i = 0; i < n; i++)
		x |= (uint64_t)p[i] << (8 * i);
	return x;
}

static uint64_t siphash_ref(const uint8_t key[16], const uint8_t *m, size_t len)
{
	uint64_t k0 = le64(key, 8), k1 = le64(key + 8, 8);
	uint64_t v[4] = { 0x736f6d6570736575ULL ^ k0, 0x646f72616e646f6dULL ^ k1,
			  0x6c7967656e657261ULL ^ k0, 0x7465646279746573ULL ^ k1 };
	size_t i, full = len / 8 * 8;
	uint64_t b;

	for (i = 0; i < full; i += 8) {
		b = le64(m + i, 8);
		v[3] ^= b;
		sipround(v);
		sipround(v);
		v[0] ^= b;
	}
	b = le64(m + full, len - full) | (uint64_t)len << 56;
	v[3] ^= b;
	sipround(v);
	sipround(v);
	v[0] ^= b;
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

static const uint8_t test_key[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

START_TEST(test_siphash_reference_vector)
{
	uint8_t m[15];
	size_t i;

	for (i = 0; i < sizeof(m); i++)
		m[i] = i;
	/* The example in the SipHash paper (Aumasson, Bernstein 2012), appendix A. */
	ck_assert_uint_eq(siphash_ref(test_key, m, sizeof(m)), 0xa129ca6149be45e5ULL);
}
END_TEST

START_TEST(test_siphash_3u64_matches_reference)
{
	__u64 key[2] = { le64(test_key, 8), le64(test_key + 8, 8) };
	uint8_t m[24];
	uint64_t x = 0x9e3779b97f4a7c15ULL;
	int round, i;

	for (round = 0; round < 64; round++) {
		for (i = 0; i < 24; i++) {
			x ^= x << 13; x ^= x >> 7; x ^= x << 17;
			m[i] = x;
		}
		ck_assert_uint_eq(lb_siphash_3u64(key, le64(m, 8), le64(m + 8, 8), le64(m + 16, 8)),
				  siphash_ref(test_key, m, 24));
	}
}
END_TEST

/* The byte-wise one the peer balancers' datagrams are tagged with: every length of a block. */
START_TEST(test_siphash_bytes_matches_reference)
{
	__u64 key[2] = { le64(test_key, 8), le64(test_key + 8, 8) };
	uint8_t m[64];
	size_t len;

	for (len = 0; len < sizeof(m); len++)
		m[len] = (uint8_t)(len * 37 + 11);
	for (len = 0; len <= sizeof(m); len++)
		ck_assert_uint_eq(lb_siphash(key, m, len), siphash_ref(test_key, m, len));
}
END_TEST

static struct lb_cookie_secret secret(void)
{
	struct lb_cookie_secret s = {
		.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
		.period_s = 64,
		.windows = 2,
	};
	return s;
}

static struct lb_cookie_tuple tuple(void)
{
	struct lb_cookie_tuple t = { .cport = htons(40000), .vport = htons(80) };

	inet_pton(AF_INET, "203.0.113.10", &t.caddr);
	inet_pton(AF_INET, "192.0.2.80", &t.vaddr);
	return t;
}

#define NOW 1800000000ULL /* a fixed TAI second keeps the window tests exact */
#define ISN 0xdeadbeefu

START_TEST(test_every_option_combination_round_trips)
{
	static const __u16 mss[] = { LB_COOKIE_MSS_0, LB_COOKIE_MSS_1, LB_COOKIE_MSS_2, LB_COOKIE_MSS_3 };
	struct lb_cookie_secret s = secret();
	struct lb_cookie_tuple t = tuple();
	__u32 counter = lb_cookie_counter(&s, NOW);
	int m, ws, sack, ecn, n = 0;

	for (m = 0; m < 4; m++)
		for (ws = 0; ws <= LB_COOKIE_WSCALE_NONE; ws++)
			for (sack = 0; sack < 2; sack++)
				for (ecn = 0; ecn < 2; ecn++) {
					struct lb_cookie_opts in = { mss[m], ws, sack, ecn }, out;
					__u32 c = lb_cookie_make(s.key, &t, ISN, counter,
								 lb_cookie_encode_opts(&in));

					ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, c, NOW, &out), 0);
					ck_assert_uint_eq(out.mss, in.mss);
					ck_assert_uint_eq(out.wscale, in.wscale);
					ck_assert_uint_eq(out.sack, in.sack);
					ck_assert_uint_eq(out.ecn, in.ecn);
					n++;
				}
	ck_assert_int_eq(n, 4 * 16 * 2 * 2);
}
END_TEST

START_TEST(test_mss_index)
{
	static const struct { __u32 in, out; } rows[] = {
		{ 0, 536 }, { 535, 536 }, { 536, 536 }, { 1219, 536 }, { 1220, 1220 },
		{ 1399, 1220 }, { 1400, 1400 }, { 1459, 1400 }, { 1460, 1460 }, { 9000, 1460 },
	};
	size_t i;

	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		ck_assert_uint_eq(lb_cookie_mss_from_index(lb_cookie_mss_index(rows[i].in)), rows[i].out);
}
END_TEST

/* Flipping any one bit of what the cookie covers must make it fail. */
START_TEST(test_any_changed_bit_breaks_it)
{
	struct lb_cookie_secret s = secret();
	struct lb_cookie_tuple t = tuple(), t2;
	struct lb_cookie_opts o = { 1460, 7, 1, 0 }, out;
	__u32 c = lb_cookie_make(s.key, &t, ISN, lb_cookie_counter(&s, NOW), lb_cookie_encode_opts(&o));
	int bit;

	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, c, NOW, &out), 0);
	for (bit = 0; bit < 32; bit++) {
		t2 = t;
		t2.caddr ^= 1u << bit;
		ck_assert_int_eq(lb_cookie_check(&s, &t2, ISN, c, NOW, &out), -1);
		t2 = t;
		t2.vaddr ^= 1u << bit;
		ck_assert_int_eq(lb_cookie_check(&s, &t2, ISN, c, NOW, &out), -1);
		ck_assert_int_eq(lb_cookie_check(&s, &t, ISN ^ (1u << bit), c, NOW, &out), -1);
		ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, c ^ (1u << bit), NOW, &out), -1);
	}
	for (bit = 0; bit < 16; bit++) {
		t2 = t;
		t2.cport ^= 1u << bit;
		ck_assert_int_eq(lb_cookie_check(&s, &t2, ISN, c, NOW, &out), -1);
		t2 = t;
		t2.vport ^= 1u << bit;
		ck_assert_int_eq(lb_cookie_check(&s, &t2, ISN, c, NOW, &out), -1);
	}
	for (bit = 0; bit < 128; bit++) {
		struct lb_cookie_secret s2 = s;

		s2.key[bit / 64] ^= 1ULL << (bit % 64);
		ck_assert_int_eq(lb_cookie_check(&s2, &t, ISN, c, NOW, &out), -1);
	}
}
END_TEST

START_TEST(test_time_windows_and_key_rotation)
{
	struct lb_cookie_secret s = secret(), rotated;
	struct lb_cookie_tuple t = tuple();
	struct lb_cookie_opts out;
	__u32 now = lb_cookie_counter(&s, NOW);
	__u32 cur = lb_cookie_make(s.key, &t, ISN, now, 0);
	__u32 last = lb_cookie_make(s.key, &t, ISN, now - 1, 0);
	__u32 old = lb_cookie_make(s.key, &t, ISN, now - 2, 0);
	__u32 future = lb_cookie_make(s.key, &t, ISN, now + 1, 0);

	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, cur, NOW, &out), 0);
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, last, NOW, &out), 0);
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, old, NOW, &out), -1);
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, future, NOW, &out), -1);
	/* One period later, the current cookie is the last one accepted. */
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, cur, NOW + s.period_s, &out), 0);
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, cur, NOW + 2 * s.period_s, &out), -1);

	s.windows = 1;
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, last, NOW, &out), -1);
	s.windows = 4;
	ck_assert_int_eq(lb_cookie_check(&s, &t, ISN, old, NOW, &out), 0);

	/* Rotation: the old key validates until prev_until_s, then not. */
	rotated = secret();
	memcpy(rotated.prev_key, s.key, sizeof(s.key));
	rotated.key[0] ^= 0x5555;
	rotated.prev_until_s = NOW + 10;
	ck_assert_int_eq(lb_cookie_check(&rotated, &t, ISN, cur, NOW, &out), 0);
	ck_assert_int_eq(lb_cookie_check(&rotated, &t, ISN, cur, NOW + 10, &out), -1);
	rotated.prev_until_s = 0;
	ck_assert_int_eq(lb_cookie_check(&rotated, &t, ISN, cur, NOW, &out), -1);
}
END_TEST

Suite *cookie_suite(void)
{
	Suite *s = suite_create("cookie");
	TCase *tc = tcase_create("cookie");

	tcase_add_test(tc, test_siphash_reference_vector);
	tcase_add_test(tc, test_siphash_3u64_matches_reference);
	tcase_add_test(tc, test_siphash_bytes_matches_reference);
	tcase_add_test(tc, test_every_option_combination_round_trips);
	tcase_add_test(tc, test_mss_index);
	tcase_add_test(tc, test_any_changed_bit_breaks_it);
	tcase_add_test(tc, test_time_windows_and_key_rotation);
	suite_add_tcase(s, tc);
	return s;
}
