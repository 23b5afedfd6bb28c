// SPDX-License-Identifier: GPL-2.0
/* The heavy-hitter summary and its sketch (user/topk.h), and route counts across reloads. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "config.h"
#include "route_counts.h"
#include "suites.h"
#include "topk.h"

/* A fixed pseudo-random sequence (xorshift64*), so a failure repeats. */
static uint64_t rng_state;

static uint64_t rng(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* Zipf(s) over [0, n): inverse of the cumulative weights, by binary search. */
struct zipf {
	double *cum;
	size_t n;
};

static void zipf_init(struct zipf *z, size_t n, double s)
{
	double sum = 0;
	size_t i;

	z->cum = malloc(n * sizeof(*z->cum));
	ck_assert_ptr_nonnull(z->cum);
	z->n = n;
	for (i = 0; i < n; i++)
		z->cum[i] = sum += 1.0 / pow((double)(i + 1), s);
	for (i = 0; i < n; i++)
		z->cum[i] /= sum;
}

static size_t zipf_draw(const struct zipf *z)
{
	double u = (double)(rng() >> 11) / (double)(1ULL << 53);
	size_t lo = 0, hi = z->n - 1;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;

		if (z->cum[mid] < u)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Every entry reachable by its key, each once, and the heap ordered. */
static void check_shape(const struct lb_topk *t)
{
	size_t i;

	ck_assert_uint_le(t->n, t->cap);
	for (i = 0; i < t->n; i++) {
		ck_assert_ptr_eq(lb_topk_find(t, t->e[i].key), &t->e[i]);
		ck_assert_uint_eq(t->heap[t->e[i].heap_pos], i);
		if (i)
			ck_assert_uint_le(t->e[t->heap[(i - 1) / 2]].count, t->e[t->heap[i]].count);
	}
}

START_TEST(test_exact_while_room)
{
	struct lb_topk t;
	struct lb_topk_entry out[8];
	size_t i;

	ck_assert_int_eq(lb_topk_init(&t, 8), 0);
	for (i = 0; i < 8; i++)
		for (size_t k = 0; k <= i; k++)
			lb_topk_hit(&t, 1000 + i, (uint32_t)i, 10);
	check_shape(&t);
	ck_assert_uint_eq(lb_topk_sorted(&t, out), 8);
	for (i = 0; i < 8; i++) {
		ck_assert_uint_eq(out[i].key, 1007 - i);
		ck_assert_uint_eq(out[i].count, 8 - i);
		ck_assert_uint_eq(out[i].error, 0);
		ck_assert_uint_eq(out[i].bytes, 10 * (8 - i));
		ck_assert_uint_eq(out[i].route, 7 - i);
	}
	ck_assert_uint_eq(t.requests, 36);
	ck_assert_uint_eq(t.bytes, 360);
	lb_topk_free(&t);
}
END_TEST

/*
 * A Zipf stream over a million routes, 100 kept: every route with more than
 * N/K requests is kept, each kept count bounds the truth from above within its
 * error, and the sketch never says less than the truth. Prints the cost of a hit.
 */
START_TEST(test_zipf_heavy_hitters)
{
	enum { ROUTES = 1000000, K = 100, N = 1000000 };
	uint64_t *truth = calloc(ROUTES, sizeof(*truth));
	struct lb_topk t;
	struct lb_topk_entry out[K];
	uint32_t *drawn = malloc(N * sizeof(*drawn));
	struct timespec t0, t1;
	struct zipf z;
	size_t i, n, over = 0;

	ck_assert_ptr_nonnull(truth);
	ck_assert_ptr_nonnull(drawn);
	rng_state = 0x9e3779b97f4a7c15ULL;
	zipf_init(&z, ROUTES, 1.0);
	ck_assert_int_eq(lb_topk_init(&t, K), 0);
	for (i = 0; i < N; i++)
		truth[drawn[i] = (uint32_t)zipf_draw(&z)]++;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0; i < N; i++)
		lb_topk_hit(&t, lb_route_key((char[16]){ 0 }) ^ (drawn[i] * 0x9e3779b97f4a7c15ULL),
			    drawn[i], 1);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	printf("topk: %d hits over %d routes, %d kept: %.0f ns each\n", N, ROUTES, K,
	       ((double)(t1.tv_sec - t0.tv_sec) * 1e9 + (double)(t1.tv_nsec - t0.tv_nsec)) / N);
	check_shape(&t);
	n = lb_topk_sorted(&t, out);
	ck_assert_uint_eq(n, K);
	for (i = 0; i < n; i++) {
		uint64_t real = truth[out[i].route];

		ck_assert_uint_ge(out[i].count, real);
		ck_assert_uint_le(out[i].count - out[i].error, real);
	}
	for (i = 0; i < ROUTES; i++) {
		uint64_t key = lb_route_key((char[16]){ 0 }) ^ (i * 0x9e3779b97f4a7c15ULL);
		uint64_t est = lb_sketch_estimate(t.sketch, key);

		if (truth[i] > N / K)
			ck_assert_msg(lb_topk_find(&t, key), "route %zu (%llu requests) not kept", i,
				      (unsigned long long)truth[i]);
		ck_assert_uint_ge(est, truth[i]);
		over += est > truth[i] + 2 * (uint64_t)N / LB_SKETCH_WIDTH;
	}
	/* e/width per row, four rows: beyond twice that is rare (Markov per row). */
	ck_assert_uint_lt(over, ROUTES / 100);
	/* The hottest ten, in order, are the ten first of the Zipf law. */
	for (i = 0; i < 10; i++)
		ck_assert_uint_eq(out[i].route, i);
	free(truth);
	free(drawn);
	free(z.cum);
	lb_topk_free(&t);
}
END_TEST

/* Removing entries at random keeps index and heap whole. */
START_TEST(test_remove_keeps_shape)
{
	struct lb_topk t;
	size_t i;

	rng_state = 12345;
	ck_assert_int_eq(lb_topk_init(&t, 64), 0);
	for (i = 0; i < 20000; i++) {
		uint64_t key = rng() % 200;

		if (rng() % 8 == 0)
			lb_topk_remove(&t, key);
		else
			lb_topk_hit(&t, key, (uint32_t)key, 1);
		if (i % 97 == 0)
			check_shape(&t);
	}
	check_shape(&t);
	while (t.n) {
		lb_topk_remove(&t, t.e[t.n / 2].key);
		check_shape(&t);
	}
	lb_topk_remove(&t, 5); /* not kept: nothing happens */
	lb_topk_free(&t);
}
END_TEST

/* Two threads' summaries merged: bounds still hold, the sum is the whole stream's. */
START_TEST(test_merge_bounds)
{
	enum { ROUTES = 20000, K = 40, N = 100000 };
	uint64_t *truth = calloc(ROUTES, sizeof(*truth));
	struct lb_topk a, b, m;
	const struct lb_topk *in[2] = { &a, &b };
	struct lb_topk_entry out[K];
	struct zipf z;
	size_t i, n;

	ck_assert_ptr_nonnull(truth);
	rng_state = 777;
	zipf_init(&z, ROUTES, 1.1);
	ck_assert_int_eq(lb_topk_init(&a, K), 0);
	ck_assert_int_eq(lb_topk_init(&b, K), 0);
	ck_assert_int_eq(lb_topk_init(&m, K), 0);
	for (i = 0; i < N; i++) {
		size_t r = zipf_draw(&z);

		truth[r]++;
		lb_topk_hit(rng() & 1 ? &a : &b, r + 1, (uint32_t)r, 2);
	}
	ck_assert_int_eq(lb_topk_merge(&m, in, 2), 0);
	check_shape(&m);
	ck_assert_uint_eq(m.requests, N);
	ck_assert_uint_eq(m.bytes, 2 * N);
	n = lb_topk_sorted(&m, out);
	ck_assert_uint_eq(n, K);
	for (i = 0; i < n; i++) {
		ck_assert_uint_ge(out[i].count, truth[out[i].route]);
		ck_assert_uint_le(out[i].count - out[i].error, truth[out[i].route]);
	}
	for (i = 0; i < 5; i++)
		ck_assert_uint_eq(out[i].route, i);
	for (i = 0; i < ROUTES; i++)
		ck_assert_uint_ge(lb_sketch_estimate(m.sketch, i + 1), truth[i]);
	free(truth);
	free(z.cum);
	lb_topk_free(&a);
	lb_topk_free(&b);
	lb_topk_free(&m);
}
END_TEST

static void load(struct lb_config *cfg, const char *routes)
{
	char text[2048], err[LB_ERR_MAX];

	snprintf(text, sizeof(text),
		 "interface: eth0\nvips: [{address: 192.0.2.80, port: 80}]\n"
		 "backends: [{name: web1, address: 198.51.100.11}]\n%s",
		 routes);
	ck_assert_msg(!lb_config_parse("t.yaml", text, strlen(text), cfg, err, sizeof(err)), "%s",
		      err);
}

/* A reload keeps counts by name, renumbers them, drops gone routes, applies top_routes. */
START_TEST(test_counts_carry)
{
	struct lb_config a, b;
	struct lb_route_counts rc;
	const struct lb_topk_entry *e;
	char buf[32];

	load(&a, "routes:\n  - {name: x, prefix: /x/, backends: [web1]}\n"
		 "  - {name: y, prefix: /y/, backends: [web1]}\n"
		 "  - {prefix: /z/, backends: [web1]}\n");
	load(&b, "metrics: {top_routes: 2}\nroutes:\n  - {name: y, prefix: /y/, backends: [web1]}\n"
		 "  - {name: w, prefix: /w/, backends: [web1]}\n"
		 "  - {name: x, prefix: /x/, backends: [web1]}\n");
	ck_assert_int_eq(lb_route_counts_init(&rc, &a), 0);
	ck_assert_uint_eq(rc.top.cap, LB_ROUTE_TOP_DEFAULT);
	lb_route_counts_hit(&rc, 0, "x", 1);
	lb_route_counts_hit(&rc, 1, "y", 1);
	lb_route_counts_hit(&rc, 1, "y", 1);
	lb_route_counts_hit(&rc, 2, NULL, 1);
	lb_route_counts_hit(&rc, 3, "w", 1); /* no such route: not counted */
	ck_assert_uint_eq(rc.top.requests, 4);
	ck_assert_str_eq(lb_route_label(&a, 2, buf), "route2");
	e = lb_topk_find(&rc.top, lb_route_key("route2"));
	ck_assert_ptr_nonnull(e);

	ck_assert_int_eq(lb_route_counts_carry(&rc, &b), 0);
	ck_assert_uint_eq(rc.top.cap, 2);
	ck_assert_uint_eq(rc.top.n, 2);
	e = lb_topk_find(&rc.top, lb_route_key("y"));
	ck_assert(e && e->count == 2 && e->route == 0);
	e = lb_topk_find(&rc.top, lb_route_key("x"));
	ck_assert(e && e->count == 1 && e->route == 2);
	ck_assert_ptr_null(lb_topk_find(&rc.top, lb_route_key("route2")));
	lb_route_counts_hit(&rc, 1, "w", 1); /* w evicts x: enters with x's count + 1 */
	e = lb_topk_find(&rc.top, lb_route_key("w"));
	ck_assert(e && e->count == 1 && e->error == 0); /* the sketch knows it is new */
	lb_route_counts_free(&rc);
	lb_config_free(&a);
	lb_config_free(&b);
}
END_TEST

Suite *topk_suite(void)
{
	Suite *s = suite_create("topk");
	TCase *tc = tcase_create("topk");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_exact_while_room);
	tcase_add_test(tc, test_zipf_heavy_hitters);
	tcase_add_test(tc, test_remove_keeps_shape);
	tcase_add_test(tc, test_merge_bounds);
	tcase_add_test(tc, test_counts_carry);
	suite_add_tcase(s, tc);
	return s;
}
