// SPDX-License-Identifier: GPL-2.0
/*
 * Flow bindings shared between balancers (user/peer_sync.c) on two real
 * balancer objects, "A" and "B", each with its flow table and backends map,
 * their peer sockets talking over loopback: a flow bound on A appears on B,
 * counted on the same backend (found by address, in another slot); a move on
 * A moves it on B; an older view is left; a closing view ends B's copy once; a
 * flow B's dispatcher holds is not touched; B's own packet of the flow (XDP)
 * makes it B's to send; what B learnt is not echoed; a datagram with a wrong
 * tag, from a stranger or played again is dropped and counted.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "balancer.skel.h"
#include "clock.h"
#include "flow_table.h"
#include "loader.h"
#include "frames.h"
#include "peer_sync.h"
#include "suites.h"

#define MMAP_LEN (LB_MAX_BACKENDS * sizeof(struct lb_backend))
#define PORT_A	 17480
#define PORT_B	 17481
#define WEB1	 "198.51.100.11"
#define WEB2	 "198.51.100.12"
#define C(x)	 (LB_DISP_PEER_##x - LB_DISP_PEER_VIEWS_SENT)

struct node {
	struct balancer *skel;
	struct lb_backend *backends;
	struct lb_flow_table t;
	struct lb_config cfg;
	struct lb_peers *peers;
};

static struct node a, b;
static const struct lb_cookie_secret secret = { .key = { 0x0123456789abcdefULL, 0x1122334455667788ULL },
						.period_s = 64, .windows = 2 };

static void put_backend(struct node *n, int slot, const char *addr, uint8_t mac_last)
{
	inet_pton(AF_INET, addr, &n->backends[slot].addr);
	n->backends[slot].weight = 1;
	n->backends[slot].state = LB_BACKEND_UP;
	memcpy(n->backends[slot].mac, (uint8_t[]){ 2, 0, 0, 0, 2, mac_last }, 6);
}

static void node_up(struct node *n, uint16_t port, uint16_t peer_port)
{
	n->skel = balancer__open_and_load();
	ck_assert_msg(n->skel, "load balancer: %s (run as root)", strerror(errno));
	n->backends = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			   bpf_map__fd(n->skel->maps.backends), 0);
	ck_assert(n->backends != MAP_FAILED);
	lb_flow_table_init(&n->t, bpf_map__fd(n->skel->maps.flows_v3),
			   lb_loader_flow_progs(n->skel), n->backends);
	n->cfg = (struct lb_config){ .peer_port = port, .n_peers = 1 };
	inet_pton(AF_INET, "127.0.0.1", &n->cfg.peers[0].addr);
	n->cfg.peers[0].port = peer_port;
	n->peers = lb_peers_open(&n->cfg, &n->t, n->backends, &secret);
	ck_assert_msg(n->peers, "peer socket on port %u: %s", port, strerror(errno));
	n->t.changed = lb_peers_changed;
	n->t.changed_ctx = n->peers;
}

static void node_down(struct node *n)
{
	lb_peers_close(n->peers);
	munmap(n->backends, MMAP_LEN);
	balancer__destroy(n->skel);
	memset(n, 0, sizeof(*n));
}

static void setup(void)
{
	node_up(&a, PORT_A, PORT_B);
	node_up(&b, PORT_B, PORT_A);
	/* The same backends in other slots: views name them by address. */
	put_backend(&a, 1, WEB1, 0x11);
	put_backend(&a, 2, WEB2, 0x12);
	put_backend(&b, 5, WEB1, 0x11);
	put_backend(&b, 7, WEB2, 0x12);
}

static void teardown(void)
{
	node_down(&a);
	node_down(&b);
}

static uint64_t counter(const struct node *n, int i)
{
	uint64_t c[LB_PEER_COUNTERS];

	lb_peers_counters(n->peers, c);
	return c[i];
}

/* @to has read what @from flushed: every datagram @from sent is in (loopback). */
static void deliver(struct node *from, struct node *to)
{
	uint64_t sent = counter(from, C(DATAGRAMS_SENT)), had;
	struct pollfd pfd = { .fd = lb_peers_fd(to->peers), .events = POLLIN };

	lb_peers_flush(from->peers);
	ck_assert_uint_eq(counter(from, C(SEND_ERRORS)), 0);
	if (counter(from, C(DATAGRAMS_SENT)) == sent)
		return;
	had = counter(to, C(VIEWS_RECEIVED)) + counter(to, C(DATAGRAMS_REJECTED));
	while (counter(to, C(VIEWS_RECEIVED)) + counter(to, C(DATAGRAMS_REJECTED)) == had) {
		ck_assert_int_eq(poll(&pfd, 1, 10000), 1); /* a bound only: loopback delivers at once */
		lb_peers_receive(to->peers);
	}
}

static struct lb_flow_key key(uint16_t port)
{
	return (struct lb_flow_key){ .saddr = htonl(0xcb00710a), .daddr = htonl(0xc0000250),
				     .sport = htons(port), .dport = htons(80), .proto = IPPROTO_TCP };
}

static bool get(struct node *n, uint16_t port, struct lb_flow *f)
{
	struct lb_flow_key k = key(port);

	return !bpf_map_lookup_elem(n->t.fd, &k, f);
}

static void bind_on(struct node *n, uint16_t port, uint32_t slot)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f = { .state = LB_FLOW_BOUND, .backend = slot, .req_end = 1000,
			     .srv_seq = 5000, .flags = LB_FLOW_F_REQUESTS | LB_FLOW_F_TS,
			     .syn_opts = 0x46, .binds = 1, .client_ack = 5001,
			     .client_hop_mac = { 2, 0, 0, 0, 2, 1 },
			     .last_seen_ns = lb_clock_ns(CLOCK_MONOTONIC) };

	memcpy(f.backend_mac, n->backends[slot].mac, 6);
	ck_assert_int_eq(lb_flow_bind(&n->t, &k, &f), 0);
}

static void backdate(struct node *n, uint16_t port)
{
	struct lb_flow_key k = key(port);
	struct lb_flow f;

	ck_assert(get(n, port, &f));
	f.last_seen_ns -= LB_NS_PER_S;
	ck_assert_int_eq(bpf_map_update_elem(n->t.fd, &k, &f, BPF_EXIST), 0);
}

START_TEST(test_bind_reaches_peer)
{
	struct lb_flow f;

	bind_on(&a, 1000, 1);
	ck_assert_uint_eq(counter(&a, C(VIEWS_SENT)), 1);
	deliver(&a, &b);
	ck_assert_uint_eq(counter(&b, C(VIEWS_APPLIED)), 1);
	ck_assert(get(&b, 1000, &f));
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f.backend, 5); /* web1 in B's slots */
	ck_assert_mem_eq(f.backend_mac, b.backends[5].mac, 6);
	ck_assert_uint_eq(f.req_end, 1000);
	ck_assert_uint_eq(f.srv_seq, 5000);
	ck_assert_uint_eq(f.client_ack, 5001);
	ck_assert_uint_eq(f.syn_opts, 0x46);
	ck_assert_uint_eq(f.flags, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS | LB_FLOW_F_PEER);
	ck_assert_uint_eq(f.client_hop_mac[5], 1);
	ck_assert_uint_eq(b.backends[5].active, 1);
	/* What B learnt it does not send back. */
	lb_flow_expire_step(&b.t, lb_clock_ns(CLOCK_MONOTONIC));
	lb_flow_expire_step(&b.t, lb_clock_ns(CLOCK_MONOTONIC));
	lb_peers_flush(b.peers);
	ck_assert_uint_eq(counter(&b, C(VIEWS_SENT)), 0);
}
END_TEST

START_TEST(test_move_follows)
{
	struct lb_flow_move m = { .key = key(1001), .op = LB_MOVE_REBIND, .state = LB_FLOW_MOVING,
				  .backend = 2, .req_end = 2000, .srv_seq = 7000,
				  .flags = LB_FLOW_F_REQUESTS };
	struct lb_flow f;

	bind_on(&a, 1001, 1);
	deliver(&a, &b);
	ck_assert_uint_eq(b.backends[5].active, 1);
	/* Moving on A is the dispatcher's business there: nothing sent until settled. */
	ck_assert_int_eq(lb_flow_move(&a.t, &m), LB_FLOW_END_ENDED);
	m.op = LB_MOVE_SETTLE;
	ck_assert_int_eq(lb_flow_move(&a.t, &m), LB_FLOW_END_ENDED);
	deliver(&a, &b);
	ck_assert(get(&b, 1001, &f));
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f.backend, 7);
	ck_assert_uint_eq(f.req_end, 2000);
	ck_assert_uint_eq(f.srv_seq, 7000);
	ck_assert_uint_eq(f.binds, 2);
	ck_assert_uint_eq(b.backends[5].active, 0);
	ck_assert_uint_eq(b.backends[7].active, 1);
}
END_TEST

START_TEST(test_closing_ends_once)
{
	struct lb_flow_key k = key(1002);
	struct lb_flow f;

	bind_on(&a, 1002, 1);
	deliver(&a, &b);
	ck_assert_uint_eq(b.backends[5].active, 1);
	/* A ends it (as XDP's close would); its next sweep tells B. */
	ck_assert_int_eq(lb_flow_end(&a.t, &k), LB_FLOW_END_ENDED);
	ck_assert(get(&a, 1002, &f));
	f.last_seen_ns = lb_clock_ns(CLOCK_MONOTONIC) + 1000; /* seen just now */
	ck_assert_int_eq(bpf_map_update_elem(a.t.fd, &k, &f, BPF_EXIST), 0);
	a.t.pass_ns = 1;
	lb_flow_expire_step(&a.t, lb_clock_ns(CLOCK_MONOTONIC) + 2000);
	deliver(&a, &b);
	ck_assert(get(&b, 1002, &f));
	ck_assert_uint_eq(f.state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(b.backends[5].active, 0);
}
END_TEST

/*
 * A connection shorter than a clock tick: its close is stamped by XDP's coarse
 * clock before the bind's time. B has only what A sent: the close is A's later
 * word and ends B's copy all the same.
 */
START_TEST(test_short_close_ends)
{
	struct lb_flow_key k = key(1004);
	struct lb_flow f;

	bind_on(&a, 1004, 1);
	deliver(&a, &b);
	ck_assert_uint_eq(b.backends[5].active, 1);
	ck_assert_int_eq(lb_flow_end(&a.t, &k), LB_FLOW_END_ENDED);
	ck_assert(get(&a, 1004, &f));
	f.last_seen_ns -= 4 * LB_NS_PER_MS; /* the coarse clock's tick (HZ 250) */
	ck_assert_int_eq(bpf_map_update_elem(a.t.fd, &k, &f, BPF_EXIST), 0);
	a.t.pass_ns = 1; /* A's pass reports every flow of its own */
	lb_flow_expire_step(&a.t, lb_clock_ns(CLOCK_MONOTONIC));
	deliver(&a, &b);
	ck_assert_uint_eq(counter(&b, C(VIEWS_STALE)), 0);
	ck_assert(get(&b, 1004, &f));
	ck_assert_uint_eq(f.state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(b.backends[5].active, 0);
}
END_TEST

/*
 * A packet XDP forwarded just after A's pass read the flow, stamped by the
 * coarse clock a tick before that pass began: the next pass sends it.
 */
START_TEST(test_coarse_stamp_sent)
{
	struct lb_flow_key k = key(1005);
	uint64_t now = lb_clock_ns(CLOCK_MONOTONIC), sent;
	struct lb_flow f;

	bind_on(&a, 1005, 1);
	deliver(&a, &b);
	ck_assert(get(&a, 1005, &f));
	f.req_end = 1045; /* the same-holder hint moved the boundary */
	f.last_seen_ns = now - 3 * LB_NS_PER_MS;
	ck_assert_int_eq(bpf_map_update_elem(a.t.fd, &k, &f, BPF_EXIST), 0);
	a.t.pass_ns = now; /* the pass before began after that stamp */
	sent = counter(&a, C(VIEWS_SENT));
	lb_flow_expire_step(&a.t, now + LB_NS_PER_S);
	ck_assert_uint_eq(counter(&a, C(VIEWS_SENT)), sent + 1);
	deliver(&a, &b);
	ck_assert(get(&b, 1005, &f));
	ck_assert_uint_eq(f.req_end, 1045);
}
END_TEST

START_TEST(test_older_view_left)
{
	struct lb_flow_key k = key(1003);
	struct lb_flow f;

	bind_on(&a, 1003, 1);
	deliver(&a, &b);
	/* B forwards a packet of it later than A's view: B's is newer. */
	ck_assert(get(&b, 1003, &f));
	f.last_seen_ns = lb_clock_ns(CLOCK_MONOTONIC) + 10 * LB_NS_PER_S;
	f.flags &= ~LB_FLOW_F_PEER;
	ck_assert_int_eq(bpf_map_update_elem(b.t.fd, &k, &f, BPF_EXIST), 0);
	ck_assert_int_eq(lb_flow_end(&a.t, &k), LB_FLOW_END_ENDED);
	a.t.pass_ns = 1; /* A's pass reports every flow of its own */
	lb_flow_expire_step(&a.t, lb_clock_ns(CLOCK_MONOTONIC));
	deliver(&a, &b);
	ck_assert_uint_eq(counter(&b, C(VIEWS_STALE)), 1);
	ck_assert(get(&b, 1003, &f));
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(b.backends[5].active, 1);
}
END_TEST

START_TEST(test_dispatcher_flow_left)
{
	struct lb_flow_key k = key(1004);
	struct lb_flow f = { .state = LB_FLOW_DISPATCH };

	ck_assert_int_eq(lb_flow_put(&b.t, &k, &f), 0);
	bind_on(&a, 1004, 1);
	deliver(&a, &b);
	ck_assert_uint_eq(counter(&b, C(VIEWS_STALE)), 1);
	ck_assert(get(&b, 1004, &f));
	ck_assert_uint_eq(f.state, LB_FLOW_DISPATCH);
	ck_assert_uint_eq(b.backends[5].active, 0);
}
END_TEST

START_TEST(test_unknown_backend)
{
	struct lb_flow f;

	memset(&b.backends[7], 0, sizeof(b.backends[7])); /* B has no web2 */
	bind_on(&a, 1005, 2);
	deliver(&a, &b);
	ck_assert_uint_eq(counter(&b, C(VIEWS_UNKNOWN_BACKEND)), 1);
	ck_assert(!get(&b, 1005, &f));
}
END_TEST

/* A packet of the flow through B's XDP: B's own from then on, sent to A by B's sweep. */
START_TEST(test_own_packet_makes_it_ours)
{
	static const uint8_t payload[] = "x";
	struct pkt_spec s = { .saddr = "203.0.113.10", .daddr = "192.0.2.80", .sport = 1006,
			      .dport = 80, .seq = 900, .ack = 5001, .flags = 0x10, .window = 500,
			      .payload = payload, .paylen = 1 };
	struct lb_vip_key vk = { .proto = IPPROTO_TCP };
	struct lb_vip v = { .mode = LB_VIP_HTTP };
	uint8_t frame[PKT_MAX], out[PKT_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_out = out, .data_size_out = sizeof(out));
	uint64_t t0;
	struct lb_flow f;

	inet_pton(AF_INET, "192.0.2.80", &vk.addr);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(b.skel->maps.vips), &vk, &v, BPF_ANY), 0);
	vk.port = htons(80);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(b.skel->maps.vips), &vk, &v, BPF_ANY), 0);
	bind_on(&a, 1006, 1);
	deliver(&a, &b);
	/* A's last packet of it long before B's (XDP stamps a coarse clock, a tick behind). */
	backdate(&a, 1006);
	ck_assert(get(&b, 1006, &f));
	ck_assert(f.flags & LB_FLOW_F_PEER);
	t0 = lb_clock_ns(CLOCK_MONOTONIC);
	opts.data_in = frame;
	opts.data_size_in = pkt_build_tcp(frame, &s);
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(b.skel->progs.lb_xdp), &opts), 0);
	ck_assert_int_eq(opts.retval, XDP_TX);
	ck_assert(get(&b, 1006, &f));
	ck_assert(!(f.flags & LB_FLOW_F_PEER));
	b.t.pass_ns = t0 - LB_NS_PER_S; /* XDP's coarse clock may be a tick behind */
	while (lb_flow_expire_step(&b.t, lb_clock_ns(CLOCK_MONOTONIC)))
		;
	ck_assert_uint_eq(counter(&b, C(VIEWS_SENT)), 1);
	deliver(&b, &a);
	/* A had it from its own bind, older than B's packet: B's view is taken. */
	ck_assert_uint_eq(counter(&a, C(VIEWS_APPLIED)), 1);
	ck_assert(get(&a, 1006, &f));
	ck_assert(f.flags & LB_FLOW_F_PEER);
}
END_TEST

/* Raw datagrams from a socket of the test's own at @port (a peer's port or not). */
static void send_raw(uint16_t port, const void *buf, size_t len)
{
	struct sockaddr_in src = { .sin_family = AF_INET, .sin_port = htons(port),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons(PORT_B),
				   .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_DGRAM, 0), one = 1;

	ck_assert_int_ge(fd, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&src, sizeof(src)), 0);
	ck_assert_int_eq(sendto(fd, buf, len, 0, (struct sockaddr *)&dst, sizeof(dst)), (ssize_t)len);
	close(fd);
}

/* Capture what A sends, by binding B's port ourselves for one datagram. */
static size_t capture_a(uint8_t *buf, size_t cap)
{
	struct sockaddr_in me = { .sin_family = AF_INET, .sin_port = htons(PORT_B),
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd, one = 1;
	ssize_t n;

	lb_peers_close(b.peers);
	b.peers = NULL;
	fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&me, sizeof(me)), 0);
	bind_on(&a, 1007, 1);
	lb_peers_flush(a.peers);
	n = recv(fd, buf, cap, 0);
	ck_assert_int_gt(n, 0);
	close(fd);
	b.peers = lb_peers_open(&b.cfg, &b.t, b.backends, &secret);
	ck_assert(b.peers);
	return (size_t)n;
}

START_TEST(test_rejects)
{
	uint8_t dgram[2048], bad[2048];
	struct pollfd pfd;
	size_t len = capture_a(dgram, sizeof(dgram));
	struct lb_flow f;
	int i;

	pfd = (struct pollfd){ .fd = lb_peers_fd(b.peers), .events = POLLIN };
	/* One bit of the view changed; not from the peer's port; cut short. */
	memcpy(bad, dgram, len);
	bad[40] ^= 1;
	send_raw(PORT_A, bad, len);
	send_raw(PORT_A + 100, dgram, len);
	send_raw(PORT_A, dgram, len - 1);
	for (i = 0; i < 50 && counter(&b, C(DATAGRAMS_REJECTED)) < 3; i++) {
		poll(&pfd, 1, 100);
		lb_peers_receive(b.peers);
	}
	ck_assert_uint_eq(counter(&b, C(DATAGRAMS_REJECTED)), 3);
	ck_assert(!get(&b, 1007, &f));
	/* The real one is taken, and the same again is a replay. */
	send_raw(PORT_A, dgram, len);
	send_raw(PORT_A, dgram, len);
	for (i = 0; i < 50 && counter(&b, C(DATAGRAMS_REJECTED)) < 4; i++) {
		poll(&pfd, 1, 100);
		lb_peers_receive(b.peers);
	}
	ck_assert_uint_eq(counter(&b, C(VIEWS_APPLIED)), 1);
	ck_assert_uint_eq(counter(&b, C(DATAGRAMS_REJECTED)), 4);
	ck_assert(get(&b, 1007, &f));
}
END_TEST

Suite *peer_sync_suite(void)
{
	Suite *s = suite_create("peer_sync");
	TCase *tc = tcase_create("two balancers");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_bind_reaches_peer);
	tcase_add_test(tc, test_move_follows);
	tcase_add_test(tc, test_closing_ends_once);
	tcase_add_test(tc, test_short_close_ends);
	tcase_add_test(tc, test_coarse_stamp_sent);
	tcase_add_test(tc, test_older_view_left);
	tcase_add_test(tc, test_dispatcher_flow_left);
	tcase_add_test(tc, test_unknown_backend);
	tcase_add_test(tc, test_own_packet_makes_it_ours);
	tcase_add_test(tc, test_rejects);
	suite_add_tcase(s, tc);
	return s;
}
