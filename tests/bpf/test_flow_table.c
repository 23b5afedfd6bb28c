// SPDX-License-Identifier: GPL-2.0
/*
 * user/flow_table.c on the real balancer object, its flows_v3 cut to four
 * entries, and its mmapped backends map: a full table evicts instead of
 * refusing, the eviction is counted and reported, a bound victim leaves its
 * backend's active count, closing flows go first, and flows the dispatcher
 * holds are never evicted. Bind, unbind, end, expiry, a dead backend's resets
 * and a restart's forgetting each move the count exactly once, through the
 * same compare-and-swap as XDP's close (the lb_flow_end program).
 */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "balancer.skel.h"
#include "flow_table.h"
#include "suites.h"

#define SLOTS	 4
#define BE	 1 /* the backend every bound flow here belongs to */
#define MMAP_LEN (LB_MAX_BACKENDS * sizeof(struct lb_backend))

static struct balancer *skel;
static struct lb_flow_table t;
static struct lb_backend *backends;
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
	skel = balancer__open();
	ck_assert_msg(skel, "open balancer skeleton: %s", strerror(errno));
	bpf_map__set_max_entries(skel->maps.flows_v3, SLOTS);
	ck_assert_msg(balancer__load(skel) == 0, "load balancer: %s (run as root)", strerror(errno));
	backends = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(skel->maps.backends), 0);
	ck_assert_msg(backends != MAP_FAILED, "mmap backends: %s", strerror(errno));
	reported = 0;
	lb_flow_table_init(&t, bpf_map__fd(skel->maps.flows_v3),
			   bpf_program__fd(skel->progs.lb_flow_end),
			   bpf_program__fd(skel->progs.lb_flow_move), backends);
	t.evicted = on_evicted;
}

static void teardown(void)
{
	munmap(backends, MMAP_LEN);
	balancer__destroy(skel);
	skel = NULL;
}

static struct lb_flow_key key(uint16_t port)
{
	return (struct lb_flow_key){ .saddr = 0x0a000001, .daddr = 0x50000000, .sport = port,
				     .dport = 80, .proto = 6 };
}

/* A flow goes in as the daemon puts it: bound and replaying ones are bound (counted). */
static void put_on(uint16_t port, uint32_t state, uint64_t seen, uint32_t backend, uint32_t ack)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f = { .state = state, .backend = backend, .last_seen_ns = seen,
			     .client_ack = ack };

	if (state == LB_FLOW_BOUND || state == LB_FLOW_REPLAY)
		ck_assert_int_eq(lb_flow_bind(&t, &k, &f), 0);
	else
		ck_assert_int_eq(lb_flow_put(&t, &k, &f), 0);
}

static void put(uint16_t port, uint32_t state, uint64_t seen)
{
	put_on(port, state, seen, BE, 1);
}

static bool present(uint16_t port)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f;

	return !bpf_map_lookup_elem(t.fd, &k, &f);
}

static uint32_t state_of(uint16_t port)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f;

	ck_assert_int_eq(bpf_map_lookup_elem(t.fd, &k, &f), 0);
	return f.state;
}

START_TEST(test_evicts_oldest_bound)
{
	put(1, LB_FLOW_BOUND, 300);
	put(2, LB_FLOW_BOUND, 100);
	put(3, LB_FLOW_DISPATCH, 0);
	put(4, LB_FLOW_BOUND, 200);
	ck_assert_uint_eq(backends[BE].active, 3);
	ck_assert_uint_eq(t.evictions, 0);

	put(5, LB_FLOW_BOUND, 400);
	ck_assert_uint_eq(t.evictions, 1);
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
	ck_assert_uint_eq(t.evictions, 1);
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
	ck_assert_int_eq(lb_flow_bind(&t, &k, &f), 0);
	ck_assert_uint_eq(t.evictions, 0);
	ck_assert_uint_eq(backends[BE].active, 4);
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
	ck_assert_int_eq(lb_flow_put(&t, &k, &f), -E2BIG);
	ck_assert_uint_eq(t.evictions, 0);
	ck_assert_int_eq(reported, 0);
	ck_assert_uint_eq(backends[BE].active, 1); /* the replay */
}
END_TEST

START_TEST(test_many_evictions)
{
	uint16_t p;

	/* Each new flow is the newest: every insert past the fourth evicts the oldest. */
	for (p = 1; p <= 100; p++)
		put(p, LB_FLOW_BOUND, p);
	ck_assert_uint_eq(t.evictions, 96);
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
	ck_assert_uint_eq(t.evictions, 0);
}
END_TEST

START_TEST(test_remove_after_close)
{
	struct lb_flow_key k = key(1);
	struct lb_flow gone;

	put(1, LB_FLOW_BOUND, 100);
	/* The program XDP's close shares: the first end counts, a second finds it closing. */
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_ENDED);
	ck_assert_uint_eq(state_of(1), LB_FLOW_CLOSING);
	ck_assert_uint_eq(backends[BE].active, 0);
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_NOT_BOUND);
	ck_assert_int_eq(lb_flow_remove(&t, &k, &gone), 0);
	ck_assert_uint_eq(gone.state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(backends[BE].active, 0);
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_NONE);
}
END_TEST

START_TEST(test_replay_unbind)
{
	struct lb_flow_key k = key(1);
	struct lb_flow back = { .state = LB_FLOW_DISPATCH, .backend = BE };

	put(1, LB_FLOW_REPLAY, 100);
	ck_assert_uint_eq(backends[BE].active, 1);
	/* XDP never ends a replay: only the daemon does, here. */
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_NOT_BOUND);
	ck_assert_uint_eq(backends[BE].active, 1);
	lb_flow_unbind(&t, &k, &back);
	ck_assert_uint_eq(state_of(1), LB_FLOW_DISPATCH);
	ck_assert_uint_eq(backends[BE].active, 0);
	/* A replay removed outright (a restart) leaves the count too. */
	put(2, LB_FLOW_REPLAY, 100);
	k = key(2);
	ck_assert_int_eq(lb_flow_remove(&t, &k, NULL), 0);
	ck_assert_uint_eq(backends[BE].active, 0);
}
END_TEST

START_TEST(test_expiry)
{
	const uint64_t now = 1000 * LB_NS_PER_S;

	put(1, LB_FLOW_BOUND, now - LB_FLOW_IDLE_NS - 1);   /* idle too long: goes */
	put(2, LB_FLOW_BOUND, now - LB_FLOW_IDLE_NS + 1);   /* stays */
	put(3, LB_FLOW_CLOSING, now - LB_FLOW_LINGER_NS - 1); /* lingered enough: goes */
	put(4, LB_FLOW_REPLAY, 0);			    /* the dispatcher's: stays */
	ck_assert_uint_eq(backends[BE].active, 3);
	while (lb_flow_expire_step(&t, now))
		;
	ck_assert(!present(1) && present(2) && !present(3) && present(4));
	ck_assert_uint_eq(backends[BE].active, 2);
	ck_assert_uint_eq(t.evictions, 0);
	ck_assert_int_eq(reported, 0);
}
END_TEST

static int resets;
static void on_reset(void *ctx, const struct lb_flow_key *k, const struct lb_flow *f)
{
	ck_assert_uint_eq(f->state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f->backend, BE);
	resets++;
}

START_TEST(test_end_backend)
{
	resets = 0;
	put_on(1, LB_FLOW_BOUND, 1, BE, 7);
	put_on(2, LB_FLOW_BOUND, 1, BE, 0); /* no ACK seen: no RST point, left alone */
	put_on(3, LB_FLOW_BOUND, 1, BE + 1, 7);
	put_on(4, LB_FLOW_CLOSING, 1, BE, 7);
	ck_assert_uint_eq(lb_flow_end_backend(&t, BE, on_reset, NULL), 1);
	ck_assert_int_eq(resets, 1);
	ck_assert_uint_eq(state_of(1), LB_FLOW_CLOSING);
	ck_assert_uint_eq(state_of(2), LB_FLOW_BOUND);
	ck_assert_uint_eq(state_of(3), LB_FLOW_BOUND);
	ck_assert_uint_eq(backends[BE].active, 1);
	ck_assert_uint_eq(backends[BE + 1].active, 1);
	/* Once: the ended flow is not ended again. */
	ck_assert_uint_eq(lb_flow_end_backend(&t, BE, on_reset, NULL), 0);
	ck_assert_uint_eq(backends[BE].active, 1);
}
END_TEST

START_TEST(test_forget_dispatch)
{
	put(1, LB_FLOW_DISPATCH, 0);
	put(2, LB_FLOW_REPLAY, 0);
	put(3, LB_FLOW_BOUND, 1);
	put(4, LB_FLOW_CLOSING, 1);
	ck_assert_uint_eq(backends[BE].active, 2);
	ck_assert_uint_eq(lb_flow_forget_dispatch(&t), 2);
	ck_assert(!present(1) && !present(2) && present(3) && present(4));
	ck_assert_uint_eq(backends[BE].active, 1);
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
	tcase_add_test(tc, test_remove_after_close);
	tcase_add_test(tc, test_replay_unbind);
	tcase_add_test(tc, test_expiry);
	tcase_add_test(tc, test_end_backend);
	tcase_add_test(tc, test_forget_dispatch);
	suite_add_tcase(s, tc);
	return s;
}
