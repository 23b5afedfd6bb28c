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
#include "counters.h"
#include "dispatcher.h"
#include "flow_table.h"
#include "loader.h"
#include "stat.h"
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

static uint32_t slots = SLOTS;

static void setup(void)
{
	skel = balancer__open();
	ck_assert_msg(skel, "open balancer skeleton: %s", strerror(errno));
	bpf_map__set_max_entries(skel->maps.flows_v3, slots);
	ck_assert_msg(balancer__load(skel) == 0, "load balancer: %s (run as root)", strerror(errno));
	backends = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			bpf_map__fd(skel->maps.backends), 0);
	ck_assert_msg(backends != MAP_FAILED, "mmap backends: %s", strerror(errno));
	reported = 0;
	lb_flow_table_init(&t, bpf_map__fd(skel->maps.flows_v3),
			   lb_loader_flow_progs(skel), backends);
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

/*
 * lb_flow_drop acts on a flow as a walk read it: a flow changed since (a port
 * reused for a new connection a dispatcher thread holds, a packet) is left.
 */
START_TEST(test_drop_as_read)
{
	struct lb_flow_key k1 = key(1), k2 = key(2), k3 = key(3);
	struct lb_flow seen1, seen2, seen3, now;

	put(1, LB_FLOW_CLOSING, 100);
	put(2, LB_FLOW_BOUND, 100);
	put(3, LB_FLOW_REPLAY, 100);
	ck_assert_int_eq(bpf_map_lookup_elem(t.fd, &k1, &seen1), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(t.fd, &k2, &seen2), 0);
	ck_assert_int_eq(bpf_map_lookup_elem(t.fd, &k3, &seen3), 0);
	ck_assert_uint_eq(backends[BE].active, 2);

	/* Port 1 reused: XDP deleted the closing flow, the new connection is collected. */
	put(1, LB_FLOW_DISPATCH, 100);
	ck_assert_int_eq(lb_flow_drop(&t, &k1, &seen1), -ESTALE);
	ck_assert_uint_eq(state_of(1), LB_FLOW_DISPATCH);
	/* A packet on port 2 since: still bound, still counted. */
	now = seen2;
	now.last_seen_ns = 200;
	ck_assert_int_eq(bpf_map_update_elem(t.fd, &k2, &now, BPF_EXIST), 0);
	ck_assert_int_eq(lb_flow_drop(&t, &k2, &seen2), -ESTALE);
	ck_assert_uint_eq(state_of(2), LB_FLOW_BOUND);
	ck_assert_uint_eq(backends[BE].active, 2);
	/* The dispatcher's own states are its owner's to remove. */
	ck_assert_int_eq(lb_flow_drop(&t, &k3, &seen3), -EINVAL);
	ck_assert(present(3));

	/* As read: ended (its count) and gone. */
	ck_assert_int_eq(lb_flow_drop(&t, &k2, &now), 0);
	ck_assert(!present(2));
	ck_assert_uint_eq(backends[BE].active, 1);
	ck_assert_int_eq(lb_flow_drop(&t, &k2, &now), -ENOENT);
	seen1.state = LB_FLOW_DISPATCH;
	ck_assert_int_eq(lb_flow_drop(&t, &k1, &seen1), -EINVAL);
}
END_TEST

/* The lb_flow_drops program: each flow dropped as lb_flow_drop() would, its result written back. */
START_TEST(test_drops_program)
{
	struct lb_flow_drops d = { .n = 6 };
	const uint32_t want[6] = { LB_FLOW_END_ENDED, LB_FLOW_END_ENDED, LB_FLOW_END_NOT_BOUND,
				   LB_FLOW_END_NOT_BOUND, LB_FLOW_END_NONE, LB_FLOW_END_NONE };
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &d, .ctx_size_in = sizeof(d));
	unsigned int i;

	put(1, LB_FLOW_CLOSING, 100);
	put(2, LB_FLOW_BOUND, 100);
	put(3, LB_FLOW_BOUND, 150); /* a packet since the read (at 100) */
	put(4, LB_FLOW_DISPATCH, 100); /* the port reused: a new connection's */
	ck_assert_uint_eq(backends[BE].active, 2);
	for (i = 0; i < 4; i++)
		d.flows[i] = (struct lb_flow_drop){ .key = key(i + 1), .seen_ns = 100,
						    .state = i == 1 || i == 2 ? LB_FLOW_BOUND
									      : LB_FLOW_CLOSING,
						    .result = 99 };
	d.flows[4] = d.flows[0]; /* dropped already, earlier in the same run */
	d.flows[5] = (struct lb_flow_drop){ .key = key(9), .seen_ns = 100, .state = LB_FLOW_CLOSING };
	d.flows[6] = d.flows[1]; /* past n: not looked at */
	d.flows[6].result = 99;

	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.lb_flow_drops), &opts), 0);
	ck_assert_int_eq(opts.retval, 2);
	for (i = 0; i < 6; i++)
		ck_assert_msg(d.flows[i].result == want[i], "flow %u: result %u, want %u", i,
			      d.flows[i].result, want[i]);
	ck_assert_uint_eq(d.flows[6].result, 99);
	ck_assert(!present(1) && !present(2) && present(3) && present(4));
	ck_assert_uint_eq(state_of(3), LB_FLOW_BOUND);
	ck_assert_uint_eq(state_of(4), LB_FLOW_DISPATCH);
	ck_assert_uint_eq(backends[BE].active, 1); /* port 2's count, once */
}
END_TEST

/*
 * More expired flows than one lb_flow_drops run takes, and than a whole
 * number of runs: every one goes, the fresh ones stay (a larger table).
 */
START_TEST(test_expiry_in_batches)
{
	const uint64_t now = 1000 * LB_NS_PER_S;
	const uint16_t expired = 2 * LB_FLOW_DROPS + 7, fresh = 30;
	uint16_t port, left = 0;

	for (port = 1; port <= expired; port++)
		put(port, port % 2 ? LB_FLOW_CLOSING : LB_FLOW_BOUND,
		    now - (port % 2 ? LB_FLOW_LINGER_NS : LB_FLOW_IDLE_NS) - 1);
	for (port = expired + 1; port <= expired + fresh; port++)
		put(port, LB_FLOW_BOUND, now);
	ck_assert_uint_eq(backends[BE].active, expired / 2 + fresh);
	while (lb_flow_expire_step(&t, now))
		;
	for (port = 1; port <= expired + fresh; port++)
		left += present(port);
	ck_assert_uint_eq(left, fresh);
	ck_assert_uint_eq(backends[BE].active, fresh);
}
END_TEST

/*
 * New connections' flows put in one call: each put and counted once; one whose
 * ports have a flow already (another thread's) is left out, and the rest go in
 * all the same; a full table evicts for the ones that do not fit.
 */
START_TEST(test_bind_fresh_many)
{
	static struct lb_flow_binds b = { .n = 6 };
	struct lb_flow f;
	uint16_t port;

	put(3, LB_FLOW_DISPATCH, 100); /* a record of another thread's */
	for (port = 1; port <= 6; port++)
		b.flows[port - 1] = (struct lb_flow_bind){
			.key = key(port), .result = 99,
			.flow = { .state = LB_FLOW_BOUND, .backend = BE, .last_seen_ns = 200 + port,
				  .client_ack = 1 },
		};
	b.flows[6] = b.flows[0]; /* past n: not put */
	b.flows[6].key = key(7);
	ck_assert_uint_eq(lb_flow_bind_fresh_many(&t, &b), 5);
	for (port = 1; port <= 6; port++)
		ck_assert_msg(b.flows[port - 1].result == (port == 3 ? -EEXIST : 0),
			      "port %u: result %d", port, b.flows[port - 1].result);
	ck_assert_uint_eq(state_of(3), LB_FLOW_DISPATCH);
	ck_assert(!present(7));
	ck_assert_uint_eq(backends[BE].active, 5);
	for (port = 4; port <= 6; port++) {
		struct lb_flow_key k = key(port);

		ck_assert_int_eq(bpf_map_lookup_elem(t.fd, &k, &f), 0);
		ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
		ck_assert_uint_eq(f.last_seen_ns, 200 + port);
	}
}
END_TEST

/* A full table: the batch's flows go in one at a time, each evicting one. */
START_TEST(test_bind_fresh_many_full)
{
	static struct lb_flow_binds b = { .n = 2 };
	uint16_t port;

	for (port = 1; port <= SLOTS; port++)
		put(port, LB_FLOW_BOUND, 100 + port);
	for (port = 0; port < 2; port++)
		b.flows[port] = (struct lb_flow_bind){
			.key = key(10 + port),
			.flow = { .state = LB_FLOW_BOUND, .backend = BE, .last_seen_ns = 500 },
		};
	ck_assert_uint_eq(lb_flow_bind_fresh_many(&t, &b), 2);
	ck_assert_int_eq(b.flows[0].result, 0);
	ck_assert_int_eq(b.flows[1].result, 0);
	ck_assert(present(10) && present(11));
	ck_assert_uint_eq(t.evictions, 2);
	ck_assert_uint_eq(backends[BE].active, SLOTS);
}
END_TEST

static void setup_large(void)
{
	slots = 256;
	setup();
	slots = SLOTS;
}

/*
 * The expiry pass acts on a batch it read: flows another thread changes
 * meanwhile (here from the peers' callback, between the batch's entries) stay.
 */
static void reuse_ports(void *ctx, const struct lb_flow_key *k, const struct lb_flow *f)
{
	uint16_t port;

	(void)ctx;
	(void)k;
	(void)f;
	for (port = 2; port <= 4; port++)
		if (!present(port) || state_of(port) != LB_FLOW_DISPATCH)
			put(port, LB_FLOW_DISPATCH, 0);
}

START_TEST(test_expiry_leaves_changed)
{
	const uint64_t now = 1000 * LB_NS_PER_S;
	uint16_t port;

	put(1, LB_FLOW_BOUND, now); /* fresh: the pass tells the peers, and the ports go meanwhile */
	for (port = 2; port <= 4; port++)
		put(port, LB_FLOW_CLOSING, now - LB_FLOW_LINGER_NS - 1);
	t.changed = reuse_ports;
	while (lb_flow_expire_step(&t, now))
		;
	t.changed = NULL;
	/* Each one either gone before the callback (then made anew) or left by the pass. */
	for (port = 2; port <= 4; port++) {
		ck_assert_msg(present(port), "port %u: a new connection's flow removed", port);
		ck_assert_uint_eq(state_of(port), LB_FLOW_DISPATCH);
	}
	ck_assert_uint_eq(backends[BE].active, 1);
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

/* ---- lb_flow_move: the steps of per-request binding ---------------------- */

#define BE_NEW 2 /* the backend a later request moves to */

static const uint8_t old_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x01 };
static const uint8_t new_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x02 };
static const uint8_t hop_mac[6] = { 0x02, 0, 0, 0, 0x04, 0x0c };

/* A flow with every field set, in @state, on backend BE. */
static struct lb_flow full_flow(uint32_t state)
{
	struct lb_flow f = {
		.state = state, .backend = BE, .client_ack = 0x1234, .last_seen_ns = 777,
		.packets = 10, .bytes = 1000, .req_end = 0x1000, .flags = LB_FLOW_F_REQUESTS,
		.syn_opts = 0x5a, .binds = 1, .srv_seq = 0x8000,
	};

	memcpy(f.backend_mac, old_mac, 6);
	memcpy(f.client_hop_mac, hop_mac, 6);
	return f;
}

static void put_raw(uint16_t port, const struct lb_flow *f)
{
	struct lb_flow_key k = key(port);

	ck_assert_int_eq(bpf_map_update_elem(t.fd, &k, f, BPF_ANY), 0);
}

static struct lb_flow get_raw(uint16_t port)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f;

	ck_assert_int_eq(bpf_map_lookup_elem(t.fd, &k, &f), 0);
	return f;
}

/* The program itself, its context a struct lb_flow_move, as the daemon runs it. */
static int run_move(uint16_t port, uint32_t op, uint32_t state, uint32_t backend, uint32_t req_end,
		    uint32_t srv_seq, uint8_t flags)
{
	struct lb_flow_move m = {
		.key = key(port), .op = op, .state = state, .backend = backend, .req_end = req_end,
		.srv_seq = srv_seq, .flags = flags,
	};
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = &m, .ctx_size_in = sizeof(m));

	memcpy(m.backend_mac, new_mac, 6);
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(skel->progs.lb_flow_move), &opts), 0);
	return (int)opts.retval;
}

static void set_counts(uint64_t old_active, uint64_t new_active)
{
	backends[BE].active = old_active;
	backends[BE_NEW].active = new_active;
}

static void assert_counts(uint64_t old_active, uint64_t new_active)
{
	ck_assert_uint_eq(backends[BE].active, old_active);
	ck_assert_uint_eq(backends[BE_NEW].active, new_active);
}

static void assert_same_flow(const struct lb_flow *a, const struct lb_flow *b)
{
	ck_assert_mem_eq(a, b, sizeof(*a));
}

START_TEST(test_move_advance)
{
	struct lb_flow f = full_flow(LB_FLOW_BOUND), g;

	set_counts(3, 7);
	put_raw(1, &f);
	ck_assert_int_eq(run_move(1, LB_MOVE_ADVANCE, 0, BE_NEW, 0x2000, 0x9000,
				  LB_FLOW_F_REQUESTS | LB_FLOW_F_TS),
			 LB_FLOW_END_ENDED);
	g = get_raw(1);
	/* Where the requests end, the server's point and the flags; nothing else. */
	ck_assert_uint_eq(g.req_end, 0x2000);
	ck_assert_uint_eq(g.srv_seq, 0x9000);
	ck_assert_uint_eq(g.flags, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS);
	g.req_end = f.req_end;
	g.srv_seq = f.srv_seq;
	g.flags = f.flags;
	assert_same_flow(&g, &f);
	assert_counts(3, 7);

	/* The flag may go: the connection stays with its backend for good. */
	ck_assert_int_eq(run_move(1, LB_MOVE_ADVANCE, 0, 0, 0x3000, 0xa000, 0), LB_FLOW_END_ENDED);
	g = get_raw(1);
	ck_assert_uint_eq(g.flags, 0);
	ck_assert_uint_eq(g.req_end, 0x3000);
	ck_assert_uint_eq(g.state, LB_FLOW_BOUND);

	ck_assert_int_eq(run_move(9, LB_MOVE_ADVANCE, 0, 0, 1, 1, 0), LB_FLOW_END_NONE);
}
END_TEST

/* Every step but the one its state allows changes nothing: flow and counts as they were. */
static const uint32_t states[] = { LB_FLOW_DISPATCH, LB_FLOW_BOUND, LB_FLOW_CLOSING,
				   LB_FLOW_REPLAY, LB_FLOW_MOVING };

START_TEST(test_move_refused)
{
	const uint32_t state = states[_i];
	struct lb_flow f = full_flow(state);
	uint32_t bad[] = { 0, LB_FLOW_DISPATCH, LB_FLOW_BOUND, LB_FLOW_CLOSING, 99 };
	size_t i;

	set_counts(3, 7);
	put_raw(1, &f);
	if (state != LB_FLOW_BOUND) {
		ck_assert_int_eq(run_move(1, LB_MOVE_ADVANCE, 0, BE_NEW, 0x2000, 0x9000, 0),
				 LB_FLOW_END_NOT_BOUND);
		ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, LB_FLOW_MOVING, BE_NEW, 0x2000,
					  0x9000, 0),
				 LB_FLOW_END_NOT_BOUND);
		ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, LB_FLOW_REPLAY, BE_NEW, 0x2000,
					  0x9000, 0),
				 LB_FLOW_END_NOT_BOUND);
	}
	if (state != LB_FLOW_MOVING)
		ck_assert_int_eq(run_move(1, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_NOT_BOUND);
	/* A re-bind only ever leaves a flow moving or replaying. */
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, bad[i], BE_NEW, 0x2000, 0x9000, 0),
				 LB_FLOW_END_NOT_BOUND);
	/* No such step. */
	ck_assert_int_eq(run_move(1, 0, LB_FLOW_MOVING, BE_NEW, 0x2000, 0x9000, 0),
			 LB_FLOW_END_NOT_BOUND);
	ck_assert_int_eq(run_move(1, 4, LB_FLOW_MOVING, BE_NEW, 0x2000, 0x9000, 0),
			 LB_FLOW_END_NOT_BOUND);
	{
		struct lb_flow g = get_raw(1);

		assert_same_flow(&g, &f);
	}
	assert_counts(3, 7);
}
END_TEST

/* _i 0: to a cookie-mode backend (moving), 1: to a replay-mode one (replaying). */
START_TEST(test_move_rebind)
{
	const uint32_t to = _i ? LB_FLOW_REPLAY : LB_FLOW_MOVING;
	struct lb_flow f = full_flow(LB_FLOW_BOUND), g;
	struct lb_flow_key k = key(1);

	set_counts(3, 7);
	put_raw(1, &f);
	ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, to, BE_NEW, 0x2000, 0x9000,
				  LB_FLOW_F_REQUESTS | LB_FLOW_F_TS),
			 LB_FLOW_END_ENDED);
	/* One count moves from the old backend to the new. */
	assert_counts(2, 8);
	g = get_raw(1);
	ck_assert_uint_eq(g.state, to);
	ck_assert_uint_eq(g.backend, BE_NEW);
	ck_assert_mem_eq(g.backend_mac, new_mac, 6);
	ck_assert_uint_eq(g.req_end, 0x2000);
	ck_assert_uint_eq(g.srv_seq, 0x9000);
	ck_assert_uint_eq(g.flags, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS);
	ck_assert_uint_eq(g.binds, 2);
	/* What the connection is, and what it did so far, stays. */
	ck_assert_mem_eq(g.client_hop_mac, hop_mac, 6);
	ck_assert_uint_eq(g.client_ack, f.client_ack);
	ck_assert_uint_eq(g.syn_opts, f.syn_opts);
	ck_assert_uint_eq(g.packets, f.packets);
	ck_assert_uint_eq(g.bytes, f.bytes);

	/* Not bound any more: a second re-bind, an end, an advance change nothing. */
	ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, to, BE, 0x3000, 0xa000, 0),
			 LB_FLOW_END_NOT_BOUND);
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_NOT_BOUND);
	ck_assert_int_eq(run_move(1, LB_MOVE_ADVANCE, 0, 0, 0x3000, 0xa000, 0),
			 LB_FLOW_END_NOT_BOUND);
	assert_counts(2, 8);
	g = get_raw(1);
	ck_assert_uint_eq(g.backend, BE_NEW);
	ck_assert_uint_eq(g.binds, 2);

	if (to == LB_FLOW_MOVING) {
		/* The new backend shows it has the connection: bound to it, counted once. */
		ck_assert_int_eq(run_move(1, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_ENDED);
		ck_assert_uint_eq(get_raw(1).state, LB_FLOW_BOUND);
		ck_assert_int_eq(run_move(1, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_NOT_BOUND);
		assert_counts(2, 8);
		/* Its end takes it off the new backend's count, not the old one's. */
		ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_ENDED);
		assert_counts(2, 7);
	} else {
		/* A replaying flow is no moving one: settling is not its way to bound. */
		ck_assert_int_eq(run_move(1, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_NOT_BOUND);
		ck_assert_uint_eq(get_raw(1).state, LB_FLOW_REPLAY);
		assert_counts(2, 8);
	}
}
END_TEST

/* Back and forth: each re-bind moves one count, binds counts them, nothing leaks. */
START_TEST(test_move_rebind_again)
{
	struct lb_flow f = full_flow(LB_FLOW_BOUND);
	struct lb_flow_key k = key(1);
	int i;

	set_counts(1, 0);
	put_raw(1, &f);
	for (i = 0; i < 4; i++) {
		uint32_t to = i % 2 ? BE : BE_NEW;

		ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, LB_FLOW_MOVING, to, 0x2000 + i, 0x9000,
					  LB_FLOW_F_REQUESTS),
				 LB_FLOW_END_ENDED);
		ck_assert_int_eq(run_move(1, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_ENDED);
		assert_counts(to == BE, to == BE_NEW);
		ck_assert_uint_eq(get_raw(1).binds, 2 + i);
	}
	/* The same backend again: out and in, the count as it was. */
	ck_assert_int_eq(run_move(1, LB_MOVE_REBIND, LB_FLOW_MOVING, BE, 0x3000, 0x9000, 0),
			 LB_FLOW_END_ENDED);
	assert_counts(1, 0);
	ck_assert_int_eq(run_move(1, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_ENDED);
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_ENDED);
	assert_counts(0, 0);
}
END_TEST

/* REBIND with @park to @to, settled; the parked backend pushed out (slot + 1), or 0. */
static uint8_t move_parking(uint16_t port, uint32_t to, bool park)
{
	struct lb_flow_move m = {
		.key = key(port), .op = LB_MOVE_REBIND, .state = LB_FLOW_MOVING, .backend = to,
		.park = park,
	};

	ck_assert_int_eq(lb_flow_move(&t, &m), LB_FLOW_END_ENDED);
	ck_assert_int_eq(run_move(port, LB_MOVE_SETTLE, 0, 0, 0, 0, 0), LB_FLOW_END_ENDED);
	return m.parked[0];
}

static void assert_parked(uint16_t port, uint8_t a, uint8_t b, uint8_t c, uint8_t d)
{
	struct lb_flow f = get_raw(port);
	const uint8_t want[LB_FLOW_PARKED] = { a, b, c, d };

	ck_assert_msg(!memcmp(f.parked, want, sizeof(want)), "parked %u %u %u %u, expected %u %u %u %u",
		      f.parked[0], f.parked[1], f.parked[2], f.parked[3], a, b, c, d);
}

static uint8_t parked_seen[LB_FLOW_PARKED];
static int parked_calls;

static void on_parked(void *ctx, const struct lb_flow_key *k, const uint8_t parked[LB_FLOW_PARKED])
{
	memcpy(parked_seen, parked, sizeof(parked_seen));
	parked_calls++;
}

/*
 * A connection visiting backends 10 → 11 → … → 15 → 12 (slot + 1 in the list):
 * each move parks the backend left, oldest first; a fifth pushes the oldest
 * out for the caller to retire; coming back takes a backend off the list; a
 * move without parking leaves the list. The connection's end hands the list
 * to the table's callback once (expiry's pass over a closing flow).
 */
START_TEST(test_move_parks)
{
	struct lb_flow f = full_flow(LB_FLOW_BOUND);
	struct lb_flow_key k = key(1);
	uint32_t i;

	f.backend = 10;
	backends[10].active = 1;
	put_raw(1, &f);
	for (i = 11; i <= 14; i++)
		ck_assert_uint_eq(move_parking(1, i, true), 0);
	assert_parked(1, 11, 12, 13, 14);
	ck_assert_uint_eq(move_parking(1, 15, true), 11); /* backend 10 pushed out */
	assert_parked(1, 12, 13, 14, 15);
	ck_assert_uint_eq(move_parking(1, 12, true), 0); /* back on 12; 15 parked */
	assert_parked(1, 12, 14, 15, 16);
	ck_assert_uint_eq(move_parking(1, 11, false), 0); /* 12 reset, not parked; 11 back */
	assert_parked(1, 14, 15, 16, 0);
	for (i = 10; i <= 15; i++)
		ck_assert_uint_eq(backends[i].active, i == 11);

	t.parked = on_parked;
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_ENDED);
	lb_flow_expire_step(&t, 778); /* closing, not lingered yet: only unparked */
	ck_assert_int_eq(parked_calls, 1);
	ck_assert_mem_eq(parked_seen, ((uint8_t[]){ 14, 15, 16, 0 }), LB_FLOW_PARKED);
	assert_parked(1, 0, 0, 0, 0);
	ck_assert_int_eq(get_raw(1).state, LB_FLOW_CLOSING);
	lb_flow_expire_step(&t, 779);
	ck_assert_int_eq(parked_calls, 1);
}
END_TEST

/*
 * A daemon that stops: every flow with parked backends gives them up to the
 * callback once (the daemon retires them); flows without any are left alone.
 */
START_TEST(test_unpark_all)
{
	struct lb_flow f = full_flow(LB_FLOW_BOUND);

	f.backend = 10;
	backends[10].active = 1;
	put_raw(1, &f);
	put_raw(2, &f);
	put_raw(3, &f);
	ck_assert_uint_eq(move_parking(1, 11, true), 0);
	ck_assert_uint_eq(move_parking(3, 12, true), 0);
	ck_assert_uint_eq(move_parking(3, 13, true), 0);
	t.parked = on_parked;
	ck_assert_uint_eq(lb_flow_unpark_all(&t), 2);
	ck_assert_int_eq(parked_calls, 2);
	assert_parked(1, 0, 0, 0, 0);
	assert_parked(3, 0, 0, 0, 0);
	ck_assert_uint_eq(get_raw(3).backend, 13); /* still bound where it was */
	ck_assert_uint_eq(lb_flow_unpark_all(&t), 0);
	ck_assert_int_eq(parked_calls, 2);
}
END_TEST

/*
 * A flow removed with backends parked (the dispatcher lets a connection go: a
 * client's reset while it moves) gives them to the callback: nobody else has
 * the list.
 */
START_TEST(test_remove_unparks)
{
	struct lb_flow f = full_flow(LB_FLOW_BOUND);
	struct lb_flow_key k = key(1);

	f.backend = 10;
	backends[10].active = 1;
	put_raw(1, &f);
	ck_assert_uint_eq(move_parking(1, 11, true), 0);
	ck_assert_uint_eq(move_parking(1, 12, true), 0);
	t.parked = on_parked;
	ck_assert_int_eq(lb_flow_end(&t, &k), LB_FLOW_END_ENDED); /* closing, as XDP leaves it */
	ck_assert_int_eq(lb_flow_remove(&t, &k, NULL), 0);
	ck_assert_int_eq(parked_calls, 1);
	ck_assert_mem_eq(parked_seen, ((uint8_t[]){ 11, 12, 0, 0 }), LB_FLOW_PARKED);
	ck_assert(!present(1));
}
END_TEST

/*
 * A new connection's flow: inserted where there is none or one in the
 * dispatcher's state (taken over), refused where the connection was handed
 * off already (that flow and its count stay), and a full table makes room.
 */
START_TEST(test_claim)
{
	struct lb_flow f = { .state = LB_FLOW_DISPATCH, .last_seen_ns = 7 };
	struct lb_flow_key k = key(1);

	ck_assert_int_eq(lb_flow_claim(&t, &k, &f), 0);
	ck_assert_uint_eq(state_of(1), LB_FLOW_DISPATCH);
	f.last_seen_ns = 8;
	ck_assert_int_eq(lb_flow_claim(&t, &k, &f), 0); /* a dropped record's flow: taken over */

	put(2, LB_FLOW_BOUND, 100);
	k = key(2);
	ck_assert_int_eq(lb_flow_claim(&t, &k, &f), -EEXIST);
	ck_assert_uint_eq(state_of(2), LB_FLOW_BOUND);
	ck_assert_uint_eq(backends[BE].active, 1);

	put(3, LB_FLOW_BOUND, 50);
	put(4, LB_FLOW_BOUND, 200);
	k = key(5);
	ck_assert_int_eq(lb_flow_claim(&t, &k, &f), 0); /* full: the oldest bound (3) made room */
	ck_assert(!present(3));
	ck_assert_uint_eq(state_of(5), LB_FLOW_DISPATCH);
	ck_assert_uint_eq(t.evictions, 1);
}
END_TEST

/*
 * disp_stats: each thread counts in its own row, in place (mmapped, as the
 * daemon maps it); `status` reads the map and sums the rows.
 */
START_TEST(test_disp_stats_rows)
{
	int fd = bpf_map__fd(skel->maps.disp_stats);
	size_t len = LB_DISP_ROWS * sizeof(struct lb_disp_row);
	struct lb_disp_row *rows = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	uint64_t read[LB_DISP_MAX], summed[LB_DISP_MAX] = { 0 };

	ck_assert_ptr_ne(rows, MAP_FAILED);
	memset(rows, 0, len);
	lb_stat_add(&lb_disp_row_counts(&rows[0])[LB_DISP_FLOWS_RESET], 2);	      /* main thread */
	lb_stat_add(&lb_disp_row_counts(&rows[1])[LB_DISP_DECISIONS], 5);	      /* thread 0 */
	lb_stat_add(&lb_disp_row_counts(&rows[LB_DISP_ROWS - 1])[LB_DISP_DECISIONS], 1); /* the last */
	lb_stat_add(&lb_disp_row_counts(&rows[2])[LB_DISP_MAX - 1], 7);
	ck_assert_int_eq(lb_disp_stats_sum(fd, read), 0);
	lb_disp_rows_add(rows, LB_DISP_ROWS, summed);
	ck_assert_mem_eq(read, summed, sizeof(read));
	ck_assert_uint_eq(read[LB_DISP_DECISIONS], 6);
	ck_assert_uint_eq(read[LB_DISP_FLOWS_RESET], 2);
	ck_assert_uint_eq(read[LB_DISP_MAX - 1], 7);
	ck_assert_uint_eq(read[LB_DISP_SEGMENTS], 0);
	munmap(rows, len);
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
	tcase_add_test(tc, test_drop_as_read);
	tcase_add_test(tc, test_expiry_leaves_changed);
	tcase_add_test(tc, test_drops_program);
	tcase_add_test(tc, test_bind_fresh_many_full);
	tcase_add_test(tc, test_end_backend);
	tcase_add_test(tc, test_forget_dispatch);
	tcase_add_test(tc, test_move_advance);
	tcase_add_loop_test(tc, test_move_refused, 0, sizeof(states) / sizeof(states[0]));
	tcase_add_loop_test(tc, test_move_rebind, 0, 2);
	tcase_add_test(tc, test_move_rebind_again);
	tcase_add_test(tc, test_move_parks);
	tcase_add_test(tc, test_unpark_all);
	tcase_add_test(tc, test_remove_unparks);
	tcase_add_test(tc, test_claim);
	tcase_add_test(tc, test_disp_stats_rows);
	suite_add_tcase(s, tc);
	tc = tcase_create("large");
	tcase_add_checked_fixture(tc, setup_large, teardown);
	tcase_add_test(tc, test_expiry_in_batches);
	tcase_add_test(tc, test_bind_fresh_many);
	suite_add_tcase(s, tc);
	return s;
}
