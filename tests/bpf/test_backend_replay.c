// SPDX-License-Identifier: GPL-2.0
/*
 * Packet tables for the backend's replay-mode TC programs
 * (bpf/backend_replay.bpf.c), run with BPF_PROG_TEST_RUN on the real object
 * loaded from its skeleton as `latebind backend attach --mode replay` loads it.
 *
 * Each output frame is compared byte for byte with the frame we expect, built
 * independently by the test's frame builder with the translated values (so the
 * checksum the program updated incrementally must equal a full recomputation),
 * and its checksums are recomputed in full once more.
 *
 * Socket lookups (only for ACKs to the real address) see the test process's
 * namespace, as in test_backend.c: a listener on INADDR_ANY at the VIP port.
 *
 * test_kernel then runs one hand-off through a real kernel: in a network
 * namespace of its own, the programs on a veth's TC hooks, a listening socket
 * on the VIP, and the balancer's side played through a packet socket on the
 * veth's peer.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backend_maps.h"
#include "backend_replay.skel.h"
#include "cookie.h"
#include "fin_notice.h"
#include "backend_run.h"
#include "frames.h"
#include "handoff_opt.h"
#include "stats.h"
#include "suites.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define VIP	"192.0.2.80"
#define CLIENT	"203.0.113.10"
#define BACKEND "198.51.100.11"
#define CISN	0x11223344u
#define T_LB	0x01000000u /* the balancer's SYN/ACK TSval */
#define T_CLI	0x00abcdefu /* the client's TSval */
#define WS_ADV	7	    /* what the balancer told clients */

static const uint8_t *const balancer_mac = be_balancers[0]; /* the one-balancer tables' */
static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const uint8_t backend_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x0b };
static const uint8_t router_mac[6] = { 0x02, 0, 0, 0, 0x04, 0x0c };

static const struct lb_cookie_secret secret = {
	.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
	.period_s = 64,
	.windows = 2,
};

static struct backend_replay *skel;
static int listen_fd = -1;
static uint16_t vport; /* host order */

static uint64_t tai_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return ts.tv_sec;
}

static void assert_loaded(struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	ck_assert_int_eq(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), 0);
	ck_assert_msg(info.xlated_prog_len > 0, "%s: no verified instructions",
		      bpf_program__name(prog));
}

/* Attached as `backend attach` does it, with the first @balancers of be_balancers. */
static void setup_n(uint32_t balancers)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t alen = sizeof(a);
	uint32_t k = 0;

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(listen_fd, 0);
	ck_assert_int_eq(bind(listen_fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(listen_fd, 16), 0);
	ck_assert_int_eq(getsockname(listen_fd, (struct sockaddr *)&a, &alen), 0);
	vport = ntohs(a.sin_port);

	skel = backend_replay__open();
	ck_assert_msg(skel, "open backend_replay skeleton: %s", strerror(errno));
	inet_pton(AF_INET, VIP, (void *)&skel->rodata->cfg_vip_addr);
	skel->rodata->cfg_vip_port = htons(vport);
	memcpy((void *)skel->rodata->cfg_balancer_macs, be_balancers, balancers * 6);
	skel->rodata->cfg_balancers = balancers;
	ck_assert_msg(backend_replay__load(skel) == 0, "load backend_replay: %s (run as root)",
		      strerror(errno));
	assert_loaded(skel->progs.lb_replay_ingress);
	assert_loaded(skel->progs.lb_replay_egress);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.cookie_secret), &k, &secret, 0),
			 0);
}

static void setup(void)
{
	setup_n(1);
}

/* The "several balancers" case: two. */
static void setup_two(void)
{
	setup_n(2);
}

static void teardown(void)
{
	backend_replay__destroy(skel);
	skel = NULL;
	close(listen_fd);
	listen_fd = -1;
}

/* ---- running a frame ---------------------------------------------------- */

static void run_prog(struct bpf_program *prog, const uint8_t *frame, size_t len, struct run *r)
{
	be_run_prog(skel->maps.stats, prog, frame, len, r);
}

#define assert_counted be_assert_counted

/* The program's output is exactly @want, and its checksums hold when recomputed. */
static void assert_output(const char *name, const struct run *r, const uint8_t *want, size_t len)
{
	size_t i;

	ck_assert_msg(r->out_len == len, "%s: output of %u bytes, expected %zu", name, r->out_len,
		      len);
	for (i = 0; i < len; i++)
		ck_assert_msg(r->out[i] == want[i], "%s: byte %zu is %#x, expected %#x", name, i,
			      r->out[i], want[i]);
	ck_assert_msg(pkt_check_csums(r->out, r->out_len) == 0, "%s: checksum wrong", name);
}

/* ---- options and entries ------------------------------------------------ */

#define NOP 1

static size_t put32(uint8_t *o, uint32_t v)
{
	o[0] = v >> 24;
	o[1] = v >> 16;
	o[2] = v >> 8;
	o[3] = v;
	return 4;
}

static size_t put_ts(uint8_t *o, uint32_t tsval, uint32_t tsecr)
{
	o[0] = 8;
	o[1] = 10;
	put32(o + 2, tsval);
	put32(o + 6, tsecr);
	return 10;
}

static size_t put_sack(uint8_t *o, const uint32_t *edges, int blocks)
{
	int i;

	o[0] = 5;
	o[1] = 2 + 8 * blocks;
	for (i = 0; i < 2 * blocks; i++)
		put32(o + 2 + 4 * i, edges[i]);
	return 2 + 8 * blocks;
}

static size_t pad4(uint8_t *o, size_t n)
{
	while (n % 4)
		o[n++] = NOP;
	return n;
}

/* Where timestamps and SACK blocks sit in a segment's options. */
enum layout {
	L_NONE,	   /* no options */
	L_TS,	   /* NOP NOP TS */
	L_TS_SACK, /* NOP NOP TS NOP NOP SACK(n) */
	L_SACK,	   /* NOP NOP SACK(n), no timestamps */
	L_ODD,	   /* NOP SACK(n) TS NOPs: every field at an odd offset */
};

static size_t build_opts(uint8_t *o, enum layout l, int blocks, uint32_t tsval, uint32_t tsecr,
			 const uint32_t *edges)
{
	size_t n = 0;

	switch (l) {
	case L_NONE:
		return 0;
	case L_TS:
		o[n++] = NOP;
		o[n++] = NOP;
		n += put_ts(o + n, tsval, tsecr);
		break;
	case L_TS_SACK:
		o[n++] = NOP;
		o[n++] = NOP;
		n += put_ts(o + n, tsval, tsecr);
		o[n++] = NOP;
		o[n++] = NOP;
		n += put_sack(o + n, edges, blocks);
		break;
	case L_SACK:
		o[n++] = NOP;
		o[n++] = NOP;
		n += put_sack(o + n, edges, blocks);
		break;
	case L_ODD:
		o[n++] = NOP;
		n += put_sack(o + n, edges, blocks);
		n += put_ts(o + n, tsval, tsecr);
		break;
	}
	return pad4(o, n);
}

static struct lb_handoff_key key_for(uint16_t cport)
{
	struct lb_handoff_key k = { .cport = htons(cport), .vport = htons(vport) };

	inet_pton(AF_INET, CLIENT, &k.caddr);
	inet_pton(AF_INET, VIP, &k.vaddr);
	return k;
}

static int get_entry(uint16_t cport, struct lb_handoff *v)
{
	struct lb_handoff_key k = key_for(cport);

	return bpf_map_lookup_elem(bpf_map__fd(skel->maps.handoffs), &k, v);
}

static void put_entry(uint16_t cport, const struct lb_handoff *v)
{
	struct lb_handoff_key k = key_for(cport);

	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.handoffs), &k, v, BPF_ANY), 0);
}

static void del_entry(uint16_t cport)
{
	struct lb_handoff_key k = key_for(cport);

	bpf_map_delete_elem(bpf_map__fd(skel->maps.handoffs), &k);
}

static uint32_t cookie_for(uint16_t cport, uint32_t isn)
{
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct lb_handoff_key k = key_for(cport);
	struct lb_cookie_tuple t = { k.caddr, k.vaddr, k.cport, k.vport };

	return lb_cookie_make(secret.key, &t, isn, lb_cookie_counter(&secret, tai_now()),
			      lb_cookie_encode_opts(&co));
}

/* The hand-off option as the dispatcher writes it; @tag_xor spoils the tag. */
static void handoff_opt(struct lb_handoff_opt *o, uint16_t cport, uint32_t c, uint32_t t_lb,
			uint8_t ws, uint32_t tag_xor)
{
	struct lb_handoff_key k = key_for(cport);
	struct lb_cookie_tuple t = { k.caddr, k.vaddr, k.cport, k.vport };

	o->kind = LB_HANDOFF_OPT_KIND;
	o->len = LB_HANDOFF_OPT_LEN;
	o->exid = htons(LB_HANDOFF_OPT_EXID);
	o->client_isn = htonl(c);
	o->lb_tsval = htonl(t_lb);
	o->wscale = ws;
	lb_handoff_opt_set_tag(o, (lb_handoff_tag(secret.key, &t, c, t_lb, ws) ^ tag_xor) & 0xffffff);
}

/* ---- ingress: the replayed SYN ------------------------------------------- */

enum syn_kind {
	S_VALID,	/* everything right */
	S_ODD,		/* valid, the option first and at an odd place among NOPs */
	S_NO_TS,	/* valid, a client without timestamps: T_lb 0 */
	S_NO_WS,	/* valid, a client without window scaling */
	S_BAD_TAG,	/* a tag bit flipped */
	S_NOT_BALANCER, /* valid option, from a client's MAC */
	S_BAD_COOKIE,	/* C no cookie (tag made over it, as if the key leaked) */
	S_WRONG_ISN,	/* the SYN's ISN is not the one C was made for */
	S_WS_ALTERED,	/* ws changed after the tag was made */
	S_NO_OPTION,	/* a plain SYN to the VIP */
	S_OTHER_EXID,	/* kind 253 of another experiment */
};

struct syn_case {
	const char *name;
	enum syn_kind kind;
	int action;
	enum lb_backend_reason reason;
};

static const struct syn_case syn_cases[] = {
	{ "valid hand-off SYN", S_VALID, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "valid, option at an odd offset", S_ODD, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "valid, no timestamps", S_NO_TS, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "valid, no window scaling", S_NO_WS, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "forged tag", S_BAD_TAG, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "not from the balancer's MAC", S_NOT_BALANCER, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "C not a valid cookie", S_BAD_COOKIE, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "SYN ISN not C's", S_WRONG_ISN, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "ws altered", S_WS_ALTERED, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "SYN without the option", S_NO_OPTION, TC_ACT_SHOT, LB_BE_DROP_SYN_NO_HANDOFF },
	{ "another experiment's option", S_OTHER_EXID, TC_ACT_SHOT, LB_BE_DROP_SYN_NO_HANDOFF },
};

/* A replayed SYN for @cport: MSS, SACK-permitted, timestamps, window scale, hand-off. */
static size_t replay_syn_frame(uint8_t *frame, const struct syn_case *tc, uint16_t cport,
			       uint32_t *c_out)
{
	struct lb_handoff_opt ho;
	struct pkt_spec p = {
		.saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = vport, .seq = CISN,
		.flags = 0x02, .window = 64240,
	};
	uint8_t opts[40];
	uint32_t c = cookie_for(cport, CISN), t_lb = tc->kind == S_NO_TS ? 0 : T_LB;
	uint8_t ws = tc->kind == S_NO_WS ? LB_COOKIE_WSCALE_NONE : WS_ADV;
	size_t n = 0;

	if (tc->kind == S_BAD_COOKIE)
		c ^= 1u << 12;
	handoff_opt(&ho, cport, c, t_lb, ws, tc->kind == S_BAD_TAG ? 1u << 5 : 0);
	if (tc->kind == S_WS_ALTERED)
		ho.wscale = WS_ADV + 1;
	if (tc->kind == S_OTHER_EXID)
		ho.exid = htons(0x1234);
	if (tc->kind == S_WRONG_ISN)
		p.seq = CISN + 1;
	if (tc->kind == S_ODD) {
		opts[n++] = NOP;
		memcpy(opts + n, &ho, sizeof(ho));
		n += sizeof(ho);
		opts[n++] = 2; /* MSS 1460 */
		opts[n++] = 4;
		opts[n++] = 0x05;
		opts[n++] = 0xb4;
		n += put_ts(opts + n, T_CLI, 0);
		opts[n++] = 4; /* SACK permitted */
		opts[n++] = 2;
		opts[n++] = 3; /* window scale 7 */
		opts[n++] = 3;
		opts[n++] = 7;
	} else {
		opts[n++] = 2;
		opts[n++] = 4;
		opts[n++] = 0x05;
		opts[n++] = 0xb4;
		opts[n++] = 4;
		opts[n++] = 2;
		if (tc->kind != S_NO_TS)
			n += put_ts(opts + n, T_CLI, 0);
		if (tc->kind != S_NO_WS) {
			opts[n++] = NOP;
			opts[n++] = 3;
			opts[n++] = 3;
			opts[n++] = 7;
		}
		if (tc->kind != S_NO_OPTION) {
			memcpy(opts + n, &ho, sizeof(ho));
			n += sizeof(ho);
		}
	}
	n = pad4(opts, n);
	ck_assert_uint_le(n, 40);
	memcpy(p.src_mac, tc->kind == S_NOT_BALANCER ? client_mac : balancer_mac, 6);
	memcpy(p.dst_mac, backend_mac, 6);
	p.opts = opts;
	p.optlen = n;
	*c_out = c;
	return pkt_build_tcp(frame, &p);
}

START_TEST(test_replay_syn)
{
	const struct syn_case *tc = &syn_cases[_i];
	uint16_t cport = 41000 + _i;
	uint8_t frame[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	uint32_t c;
	size_t len;

	del_entry(cport);
	len = replay_syn_frame(frame, tc, cport, &c);
	ck_assert_uint_gt(len, 0);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d", tc->name, r.action);
	assert_counted(&r, tc->reason);
	/* Ingress passes a SYN as it came (the kernel ignores the option). */
	ck_assert_uint_eq(r.out_len, len);
	ck_assert_mem_eq(r.out, frame, len);
	if (tc->action != TC_ACT_OK) {
		ck_assert_msg(get_entry(cport, &v) != 0, "%s: an entry was made", tc->name);
		return;
	}
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.client_isn, c);
	ck_assert_uint_eq(v.lb_tsval, tc->kind == S_NO_TS ? 0 : T_LB);
	ck_assert_uint_eq(v.ws_adv, tc->kind == S_NO_WS ? LB_COOKIE_WSCALE_NONE : WS_ADV);
	ck_assert_uint_eq(v.has_ts, tc->kind != S_NO_TS);
	ck_assert_uint_eq(v.state, LB_HO_SYN_SEEN);
	ck_assert_uint_eq(v.flags, 0);
	ck_assert_uint_gt(v.last_seen_ns, 0);
}
END_TEST

/* ---- egress: the backend's SYN/ACK ----------------------------------------- */

static size_t synack_frame(uint8_t *frame, uint16_t cport, uint32_t b, uint32_t t_be, int be_ws)
{
	uint8_t opts[40];
	size_t n = 0;
	struct pkt_spec p = {
		.saddr = VIP, .daddr = CLIENT, .sport = vport, .dport = cport, .seq = b,
		.ack = CISN + 1, .flags = 0x12, .window = 65160,
	};

	opts[n++] = 2;
	opts[n++] = 4;
	opts[n++] = 0x05;
	opts[n++] = 0xb4;
	opts[n++] = 4;
	opts[n++] = 2;
	n += put_ts(opts + n, t_be, T_CLI);
	if (be_ws >= 0) {
		opts[n++] = NOP;
		opts[n++] = 3;
		opts[n++] = 3;
		opts[n++] = be_ws;
	}
	n = pad4(opts, n);
	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	p.opts = opts;
	p.optlen = n;
	return pkt_build_tcp(frame, &p);
}

/* _i 0: wscale 9; 1: no wscale option (scaling refused). */
START_TEST(test_synack_recorded)
{
	const struct syn_case *valid = &syn_cases[0];
	uint16_t cport = 42000 + _i;
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	uint32_t c;
	size_t len;

	del_entry(cport);
	len = replay_syn_frame(frame, valid, cport, &c);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYN);

	len = synack_frame(frame, cport, 0xfffffff0u, 0x7000, _i ? -1 : 9);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_REPLAY_SYNACK_DIVERTED);
	/* To the balancer, untranslated. */
	memcpy(want, frame, len);
	memcpy(want, balancer_mac, 6);
	assert_output("SYN/ACK", &r, want, len);

	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.client_isn, c);
	ck_assert_uint_eq(v.backend_isn, 0xfffffff0u);
	ck_assert_uint_eq(v.be_tsval, 0x7000);
	ck_assert_uint_eq(v.be_wscale, _i ? 0 : 9);
	ck_assert_uint_eq(v.flags, LB_HO_F_SYNACK);
	ck_assert_uint_eq(v.state, LB_HO_SYN_SEEN);

	/* The dispatcher retransmits the same replay: what was learnt stays. */
	len = replay_syn_frame(frame, valid, cport, &c);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYN);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.backend_isn, 0xfffffff0u);
	ck_assert_uint_eq(v.flags, LB_HO_F_SYNACK);
}
END_TEST

/* A SYN/ACK from the VIP with no replay waiting for it is never sent. */
START_TEST(test_synack_without_entry)
{
	uint16_t cport = 42100;
	uint8_t frame[PKT_MAX];
	struct lb_handoff v = { .client_isn = 1, .state = LB_HO_ESTABLISHED,
				.flags = LB_HO_F_SYNACK };
	struct run r;
	size_t len;

	del_entry(cport);
	len = synack_frame(frame, cport, 0x1000, 0x7000, 7);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_SHOT);
	assert_counted(&r, LB_BE_EGRESS_SYNACK_DROPPED);

	/* Nor one for a connection already past its handshake. */
	put_entry(cport, &v);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_SHOT);
	assert_counted(&r, LB_BE_EGRESS_SYNACK_DROPPED);
	del_entry(cport);
}
END_TEST

/* A valid replay for a tuple in use is a new connection (port reuse): it replaces the entry. */
START_TEST(test_syn_replaces)
{
	uint16_t cport = 42200;
	struct lb_handoff v = { .client_isn = 0x5555, .backend_isn = 0x6666,
				.state = LB_HO_CLOSING, .flags = LB_HO_F_SYNACK };
	uint8_t frame[PKT_MAX];
	struct run r;
	uint32_t c;
	size_t len;

	put_entry(cport, &v);
	len = replay_syn_frame(frame, &syn_cases[0], cport, &c);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYN);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.client_isn, c);
	ck_assert_uint_eq(v.backend_isn, 0);
	ck_assert_uint_eq(v.flags, 0);
	ck_assert_uint_eq(v.state, LB_HO_SYN_SEEN);

	/* A forged one leaves it alone. */
	len = replay_syn_frame(frame, &syn_cases[4], cport, &c);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_DROP_FORGED_HANDOFF);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.state, LB_HO_SYN_SEEN);
	del_entry(cport);
}
END_TEST

/* ---- translation, both ways ------------------------------------------------ */

/* C < B on purpose: the deltas wrap. */
#define E_C   0x00001000u
#define E_B   0xfff00000u
#define E_TBE 0xffffff00u /* T_lb − T_be wraps too */

struct xl_case {
	const char *name;
	uint8_t flags;
	enum layout layout;
	int blocks;
	int has_ts;	  /* the entry's */
	uint8_t be_ws, ws; /* the entry's */
	uint16_t win;
	int ip_options;
};

static const struct xl_case in_cases[] = {
	{ "hand-off ACK + request, timestamps", 0x18, L_TS, 0, 1, 7, 7, 502, 0 },
	{ "ACK, no timestamps on the connection", 0x10, L_NONE, 0, 0, 7, 7, 502, 0 },
	{ "ACK, timestamps option but not negotiated", 0x10, L_TS, 0, 0, 7, 7, 502, 0 },
	{ "SACK 1 block + TS", 0x10, L_TS_SACK, 1, 1, 7, 7, 502, 0 },
	{ "SACK 2 blocks + TS", 0x10, L_TS_SACK, 2, 1, 7, 7, 502, 0 },
	{ "SACK 3 blocks + TS", 0x10, L_TS_SACK, 3, 1, 7, 7, 502, 0 },
	{ "SACK 4 blocks, no TS", 0x10, L_SACK, 4, 0, 7, 7, 502, 0 },
	{ "SACK + TS at odd offsets", 0x10, L_ODD, 1, 1, 7, 7, 502, 0 },
	{ "FIN|ACK", 0x11, L_TS, 0, 1, 7, 7, 502, 0 },
	{ "RST|ACK", 0x14, L_NONE, 0, 1, 7, 7, 0, 0 },
	{ "bare RST (no ack field)", 0x04, L_NONE, 0, 1, 7, 7, 0, 0 },
	{ "ACK + data, IP options", 0x18, L_TS_SACK, 2, 1, 7, 7, 502, 1 },
};

static const uint8_t ip_opts[] = { 7, 7, 4, 198, 51, 100, 1, 0 }; /* record route, EOL */

static size_t xl_frame(uint8_t *frame, const struct xl_case *tc, int egress, uint16_t cport,
		       uint32_t seq, uint32_t ack, uint32_t tsval, uint32_t tsecr,
		       const uint32_t *edges, uint16_t win, int divert)
{
	static const char body[] = "GET / HTTP/1.1\r\nHost: site\r\n\r\n";
	uint8_t opts[40];
	struct pkt_spec p = {
		.saddr = egress ? VIP : CLIENT, .daddr = egress ? CLIENT : VIP,
		.sport = egress ? vport : cport, .dport = egress ? cport : vport,
		.seq = seq, .ack = ack, .flags = tc->flags, .window = win,
	};
	size_t len;

	memcpy(p.src_mac, egress ? backend_mac : balancer_mac, 6);
	memcpy(p.dst_mac, egress ? (divert ? balancer_mac : router_mac) : backend_mac, 6);
	p.optlen = build_opts(opts, tc->layout, tc->blocks, tsval, tsecr, edges);
	ck_assert_uint_le(p.optlen, 40);
	p.opts = opts;
	if (tc->flags & 0x08) {
		p.payload = (const uint8_t *)body;
		p.paylen = sizeof(body) - 1;
	}
	len = pkt_build_tcp(frame, &p);
	ck_assert_uint_gt(len, 0);
	if (tc->ip_options)
		len = pkt_add_ip_options(frame, len, ip_opts, sizeof(ip_opts));
	return len;
}

static void entry_for(const struct xl_case *tc, uint16_t cport)
{
	struct lb_handoff v = {
		.client_isn = E_C, .backend_isn = E_B, .lb_tsval = T_LB, .be_tsval = T_LB - E_TBE,
		.ws_adv = tc->ws, .be_wscale = tc->be_ws, .has_ts = tc->has_ts,
		.state = LB_HO_SYN_SEEN, .flags = LB_HO_F_SYNACK, .last_seen_ns = 1,
	};

	put_entry(cport, &v);
}

START_TEST(test_translate_in)
{
	const struct xl_case *tc = &in_cases[_i];
	uint16_t cport = 43000 + _i;
	const uint32_t d = E_C - E_B;
	uint32_t edges[8], want_edges[8], ack = tc->flags & 0x10 ? E_C + 1 + 777 : 0;
	uint32_t want_ack = tc->flags & 0x10 ? ack - d : 0;
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	size_t len, wlen;
	int i;

	for (i = 0; i < 8; i++) {
		edges[i] = E_C + 1 + 1000 * (i + 1);
		want_edges[i] = edges[i] - d;
	}
	entry_for(tc, cport);
	len = xl_frame(frame, tc, 0, cport, CISN + 1, ack, T_CLI, T_LB + 5, edges, tc->win, 0);
	/* Client space in, backend space out: ack, SACK edges, TSecr; TSval stays. */
	wlen = xl_frame(want, tc, 0, cport, CISN + 1, want_ack, T_CLI,
			tc->has_ts ? T_LB + 5 - E_TBE : T_LB + 5, want_edges, tc->win, 0);
	ck_assert_uint_eq(len, wlen);

	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_msg(r.action == TC_ACT_OK, "%s: action %d", tc->name, r.action);
	assert_counted(&r, LB_BE_REPLAY_IN);
	assert_output(tc->name, &r, want, wlen);

	/* A client's RST only marks it: a blind one must not end the translation. */
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.state, tc->flags & 0x05 ? LB_HO_CLOSING : LB_HO_ESTABLISHED);
	ck_assert_uint_gt(v.last_seen_ns, 1);
	del_entry(cport);
}
END_TEST

static const struct xl_case out_cases[] = {
	{ "data, same scale", 0x18, L_TS, 0, 1, 7, 7, 502, 0 },
	{ "data, backend scale 9, told 7: window x4", 0x18, L_TS, 0, 1, 9, 7, 502, 0 },
	{ "ACK, backend scale 9, told 7: window capped", 0x10, L_TS, 0, 1, 9, 7, 40000, 0 },
	{ "ACK, backend scale 5, told 7: window / 4", 0x10, L_TS, 0, 1, 5, 7, 502, 0 },
	{ "ACK, backend scale 0, told 7: tiny window stays open", 0x10, L_TS, 0, 1, 0, 7, 3, 0 },
	{ "ACK, no scaling negotiated", 0x10, L_TS, 0, 1, 0, LB_COOKIE_WSCALE_NONE, 60000, 0 },
	{ "ACK, no timestamps", 0x10, L_NONE, 0, 0, 7, 7, 502, 0 },
	{ "ACK with SACK (client space, untouched) + TS", 0x10, L_TS_SACK, 2, 1, 7, 7, 502, 0 },
	{ "TS at an odd offset", 0x10, L_ODD, 1, 1, 7, 7, 502, 0 },
	{ "FIN|ACK: translated, then diverted", 0x11, L_TS, 0, 1, 9, 7, 502, 0 },
	{ "RST|ACK: translated, then diverted", 0x14, L_NONE, 0, 1, 7, 7, 0, 0 },
	{ "bare RST", 0x04, L_NONE, 0, 1, 7, 7, 0, 0 },
	{ "FIN|ACK with IP options", 0x11, L_TS, 0, 1, 7, 7, 502, 1 },
	{ "data with IP options, rescaled", 0x18, L_TS, 0, 1, 9, 7, 502, 1 },
};

static uint16_t want_window(uint16_t win, uint8_t be_ws, uint8_t ws)
{
	uint64_t w;

	if (ws == LB_COOKIE_WSCALE_NONE)
		return win;
	w = ((uint64_t)win << be_ws) >> ws;
	if (w > 65535)
		w = 65535;
	return !w && win ? 1 : w;
}

START_TEST(test_translate_out)
{
	const struct xl_case *tc = &out_cases[_i];
	uint16_t cport = 44000 + _i;
	const uint32_t d = E_C - E_B;
	int divert = !!(tc->flags & 0x05);
	uint32_t edges[8], seq = E_B + 1 + 4321, ack = CISN + 1 + 99;
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	size_t len, wlen;
	int i;

	for (i = 0; i < 8; i++)
		edges[i] = CISN + 1000 * (i + 1);
	entry_for(tc, cport);
	len = xl_frame(frame, tc, 1, cport, seq, ack, T_LB - E_TBE + 50, T_CLI, edges, tc->win, 0);
	/* Backend space in, client space out: seq, TSval, window; ack, SACK, TSecr stay. */
	wlen = xl_frame(want, tc, 1, cport, seq + d, ack,
			tc->has_ts ? T_LB + 50 : T_LB - E_TBE + 50, T_CLI, edges,
			want_window(tc->win, tc->be_ws, tc->ws), divert);
	ck_assert_uint_eq(len, wlen);

	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_msg(r.action == TC_ACT_OK, "%s: action %d", tc->name, r.action);
	assert_counted(&r, divert ? LB_BE_EGRESS_DIVERTED : LB_BE_REPLAY_OUT);
	assert_output(tc->name, &r, want, wlen);

	if (tc->flags & 0x04) {
		ck_assert_msg(get_entry(cport, &v) != 0, "%s: entry kept after a RST", tc->name);
		return;
	}
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.state, tc->flags & 0x01 ? LB_HO_CLOSING : LB_HO_SYN_SEEN);
	del_entry(cport);
}
END_TEST

/* Without an entry: nothing to translate; FIN/RST still go to the balancer. */
START_TEST(test_no_entry)
{
	static const struct xl_case data = { "data", 0x18, L_TS, 0, 1, 7, 7, 502, 0 };
	static const struct xl_case fin = { "FIN", 0x11, L_TS, 0, 1, 7, 7, 502, 0 };
	uint16_t cport = 45000;
	uint32_t edges[8] = { 0 };
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct lb_handoff v = { .client_isn = E_C, .state = LB_HO_SYN_SEEN };
	struct run r;
	size_t len;

	del_entry(cport);
	len = xl_frame(frame, &data, 0, cport, CISN + 1, E_C + 1, T_CLI, T_LB, edges, 502, 0);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_REPLAY_NO_ENTRY);
	assert_output("ingress, no entry", &r, frame, len);

	len = xl_frame(frame, &data, 1, cport, 0x1234, CISN + 1, 5, T_CLI, edges, 502, 0);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_REPLAY_NO_ENTRY);
	assert_output("egress, no entry", &r, frame, len);

	len = xl_frame(frame, &fin, 1, cport, 0x1234, CISN + 1, 5, T_CLI, edges, 502, 0);
	xl_frame(want, &fin, 1, cport, 0x1234, CISN + 1, 5, T_CLI, edges, 502, 1);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_DIVERTED);
	assert_output("egress FIN, no entry", &r, want, len);

	/* The client's ACK before our SYN/ACK told us B: cannot be translated. */
	put_entry(cport, &v);
	len = xl_frame(frame, &data, 0, cport, CISN + 1, E_C + 1, T_CLI, T_LB, edges, 502, 0);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_SHOT);
	assert_counted(&r, LB_BE_DROP_REPLAY_EARLY);
	del_entry(cport);
}
END_TEST

/*
 * The whole walk through both programs: replayed SYN, the kernel's SYN/ACK,
 * the hand-off ACK in client space, the response in backend space, the
 * client's FIN, the backend's RST.
 */
START_TEST(test_walk)
{
	static const struct xl_case ack = { "ACK", 0x18, L_TS, 0, 1, 9, 7, 502, 0 };
	static const struct xl_case fin = { "FIN", 0x11, L_TS, 0, 1, 9, 7, 502, 0 };
	static const struct xl_case rst = { "RST", 0x04, L_NONE, 0, 1, 9, 7, 0, 0 };
	const uint32_t b = 0x8000aaaau, t_be = 0x00000100u;
	uint16_t cport = 46000;
	uint32_t c, edges[8] = { 0 };
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	size_t len;

	del_entry(cport);
	len = replay_syn_frame(frame, &syn_cases[0], cport, &c);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYN);
	len = synack_frame(frame, cport, b, t_be, 9);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYNACK_DIVERTED);

	/* ack = C + 1, TSecr = T_lb → B + 1, T_be. */
	len = xl_frame(frame, &ack, 0, cport, CISN + 1, c + 1, T_CLI + 1, T_LB, edges, 502, 0);
	xl_frame(want, &ack, 0, cport, CISN + 1, b + 1, T_CLI + 1, t_be, edges, 502, 0);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_IN);
	assert_output("hand-off ACK", &r, want, len);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.state, LB_HO_ESTABLISHED);

	/* seq = B + 1, TSval = T_be + 3 → C + 1, T_lb + 3; window 100 << 9 >> 7. */
	len = xl_frame(frame, &ack, 1, cport, b + 1, CISN + 1 + 40, t_be + 3, T_CLI + 1, edges, 100,
		       0);
	xl_frame(want, &ack, 1, cport, c + 1, CISN + 1 + 40, T_LB + 3, T_CLI + 1, edges, 400, 0);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_OUT);
	assert_output("response", &r, want, len);

	len = xl_frame(frame, &fin, 0, cport, CISN + 41, c + 100, T_CLI + 2, T_LB + 3, edges, 502,
		       0);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_IN);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.state, LB_HO_CLOSING);

	len = xl_frame(frame, &rst, 1, cport, b + 100, 0, 0, 0, edges, 0, 0);
	xl_frame(want, &rst, 1, cport, c + 100, 0, 0, 0, edges, 0, 1);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	assert_counted(&r, LB_BE_EGRESS_DIVERTED);
	assert_output("backend RST", &r, want, len);
	ck_assert_int_ne(get_entry(cport, &v), 0);
}
END_TEST

/* The real address's service port: the same spoof check as cookie mode. */
START_TEST(test_real_addr)
{
	struct pkt_spec p = {
		.saddr = CLIENT, .daddr = BACKEND, .sport = 47000, .dport = vport,
		.seq = CISN + 1, .ack = 0x9abcdef0, .flags = 0x18, .window = 502,
	};
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	memcpy(p.src_mac, client_mac, 6);
	memcpy(p.dst_mac, backend_mac, 6);
	len = pkt_build_tcp(frame, &p);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_SHOT);
	assert_counted(&r, LB_BE_DROP_SPOOF_REAL_ADDR);

	p.flags = 0x02;
	len = pkt_build_tcp(frame, &p);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_PASS_OTHER);
}
END_TEST

/* ---- one hand-off through a real kernel ----------------------------------- */

#define sh	   be_sh
#define tc_on	   be_tc_on
#define next_frame be_next_frame

START_TEST(test_kernel)
{
	static const char req[] = "GET / HTTP/1.0\r\n\r\n";
	struct sockaddr_in a = { .sin_family = AF_INET };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	struct pollfd pfd;
	struct backend_replay *k;
	struct lb_handoff_opt ho;
	struct lb_segment seg;
	struct lb_handoff v;
	uint8_t opts[40], frame[PKT_MAX], in[PKT_MAX];
	const uint16_t cport = 40404, port = 8080;
	uint32_t c, b, t_be, t_ack, kk = 0, got_fin = 0, data_seen = 0;
	int lfd, afd, pfd_fd, v0, v1, n = 0, i;
	size_t len;
	struct lb_handoff_key key = { .cport = htons(cport), .vport = htons(port) };
	struct lb_cookie_tuple t;
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct lb_segment out = {
		.sport = htons(cport), .dport = htons(port), .seq = CISN, .flags = LB_TH_SYN,
		.window = 64240, .opts = opts,
	};

	be_veth_netns(VIP, BACKEND, &v0, &v1);

	k = backend_replay__open();
	ck_assert_ptr_nonnull(k);
	inet_pton(AF_INET, VIP, (void *)&k->rodata->cfg_vip_addr);
	k->rodata->cfg_vip_port = htons(port);
	memcpy((void *)k->rodata->cfg_balancer_macs[0], balancer_mac, 6);
	ck_assert_int_eq(backend_replay__load(k), 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(k->maps.cookie_secret), &kk, &secret, 0), 0);
	tc_on(v0, k->progs.lb_replay_ingress, k->progs.lb_replay_egress);

	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	a.sin_port = htons(port);
	inet_pton(AF_INET, VIP, &a.sin_addr);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	pfd_fd = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(pfd_fd, 0);
	ll.sll_ifindex = v1;
	ck_assert_int_eq(bind(pfd_fd, (struct sockaddr *)&ll, sizeof(ll)), 0);

	/* The replayed SYN, as the dispatcher sends it. */
	inet_pton(AF_INET, CLIENT, &out.saddr);
	inet_pton(AF_INET, VIP, &out.daddr);
	key.caddr = out.saddr;
	key.vaddr = out.daddr;
	t = (struct lb_cookie_tuple){ key.caddr, key.vaddr, key.cport, key.vport };
	c = lb_cookie_make(secret.key, &t, CISN, lb_cookie_counter(&secret, tai_now()),
			   lb_cookie_encode_opts(&co));
	ho.kind = LB_HANDOFF_OPT_KIND;
	ho.len = LB_HANDOFF_OPT_LEN;
	ho.exid = htons(LB_HANDOFF_OPT_EXID);
	ho.client_isn = htonl(c);
	ho.lb_tsval = htonl(T_LB);
	ho.wscale = WS_ADV;
	lb_handoff_opt_set_tag(&ho, lb_handoff_tag(secret.key, &t, c, T_LB, WS_ADV));
	memcpy(opts, (const uint8_t[]){ 2, 4, 0x05, 0xb4, 4, 2 }, 6);
	n = 6 + put_ts(opts + 6, T_CLI, 0);
	memcpy(opts + n, (const uint8_t[]){ NOP, 3, 3, 7 }, 4);
	n += 4;
	memcpy(opts + n, &ho, sizeof(ho));
	out.optlen = pad4(opts, n + sizeof(ho));
	memcpy(out.src_mac, balancer_mac, 6);
	memcpy(out.dst_mac, backend_mac, 6);
	len = lb_segment_build(frame, sizeof(frame), &out);
	ck_assert_int_eq(send(pfd_fd, frame, len, 0), (ssize_t)len);

	/* The kernel's SYN/ACK: to the balancer's MAC, the kernel's own ISN and clock. */
	do
		len = next_frame(pfd_fd, in, &seg, port);
	while (len && !(seg.flags & LB_TH_SYN));
	ck_assert_msg(len, "no SYN/ACK from the backend's kernel");
	ck_assert_uint_eq(seg.flags, LB_TH_SYN | LB_TH_ACK);
	ck_assert_mem_eq(in, balancer_mac, 6);
	ck_assert_uint_eq(seg.ack, CISN + 1);
	ck_assert(seg.has_ts);
	ck_assert_int_eq(pkt_check_csums(in, len), 0);
	b = seg.seq;
	t_be = seg.tsval;
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(k->maps.handoffs), &key, &v), 0);
	ck_assert_uint_eq(v.backend_isn, b);
	ck_assert_uint_eq(v.be_tsval, t_be);
	ck_assert_uint_eq(v.flags, LB_HO_F_SYNACK);

	/* The client's ACK + request, in the client's sequence space. */
	out.seq = CISN + 1;
	out.ack = c + 1;
	out.flags = LB_TH_ACK | LB_TH_PSH;
	out.window = 502;
	out.opts = NULL;
	out.has_ts = true;
	out.tsval = T_CLI + 1;
	out.tsecr = T_LB;
	out.payload = (const uint8_t *)req;
	out.len = sizeof(req) - 1;
	len = lb_segment_build(frame, sizeof(frame), &out);
	ck_assert_int_eq(send(pfd_fd, frame, len, 0), (ssize_t)len);

	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the server never got the connection");
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	pfd = (struct pollfd){ .fd = afd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_eq(recv(afd, frame, sizeof(frame), 0), (ssize_t)sizeof(req) - 1);
	/* Corked until close(): the response and the FIN leave in one segment, as nginx's do. */
	ck_assert_int_eq(setsockopt(afd, IPPROTO_TCP, TCP_CORK, &(int){ 1 }, sizeof(int)), 0);
	ck_assert_int_eq(send(afd, "hello", 5, 0), 5);
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(k->maps.handoffs), &key, &v), 0);
	ck_assert_uint_eq(v.state, LB_HO_ESTABLISHED);
	close(afd);

	/*
	 * What leaves: client space, valid checksums (the kernel completed them
	 * after the programs: CHECKSUM_PARTIAL). The data+FIN segment straight to
	 * the router, unchanged; a header-only notice of it to the balancer.
	 */
	for (i = 0; i < 8 && !(got_fin && data_seen); i++) {
		len = next_frame(pfd_fd, in, &seg, port);
		if (!len)
			break;
		ck_assert_int_eq(pkt_check_csums(in, len), 0);
		ck_assert_uint_eq(seg.ack, CISN + 1 + sizeof(req) - 1);
		ck_assert(seg.has_ts);
		ck_assert_uint_eq(seg.tsecr, T_CLI + 1);
		/* T_lb + the backend clock's progress since its SYN/ACK (well under a minute). */
		t_ack = seg.tsval - T_LB;
		ck_assert_uint_lt(t_ack, 60000);
		if (!(seg.flags & LB_TH_FIN)) {
			/* The ACK of the request, sent while the response was corked. */
			ck_assert_mem_eq(in, router_mac, 6);
			ck_assert_uint_eq(seg.len, 0);
			continue;
		}
		if (!memcmp(in, balancer_mac, 6)) {
			ck_assert_uint_eq(seg.len, 0);
			ck_assert_uint_eq(seg.seq, c + 1 + 5);
			ck_assert(in[PKT_IP + 6] & (LB_FIN_NOTICE_IP_FLAG >> 8));
			got_fin = 1;
		} else {
			ck_assert_mem_eq(in, router_mac, 6);
			ck_assert_uint_eq(seg.len, 5);
			ck_assert_uint_eq(seg.seq, c + 1);
			ck_assert_mem_eq(seg.payload, "hello", 5);
			ck_assert(!(in[PKT_IP + 6] & (LB_FIN_NOTICE_IP_FLAG >> 8)));
			data_seen = 1;
		}
	}
	ck_assert_msg(data_seen && got_fin, "direct copy %u, notice %u", data_seen, got_fin);
	/* The copy came round through the egress program once more and was let go. */
	{
		int ncpu = libbpf_num_possible_cpus();
		struct lb_counter vals[ncpu];
		uint64_t direct = 0, notice = 0;
		uint32_t key;

		key = LB_BE_EGRESS_FIN_DIRECT;
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(k->maps.stats), &key, vals), 0);
		for (i = 0; i < ncpu; i++)
			direct += vals[i].packets;
		key = LB_BE_EGRESS_FIN_NOTICE;
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(k->maps.stats), &key, vals), 0);
		for (i = 0; i < ncpu; i++)
			notice += vals[i].packets;
		ck_assert_uint_ge(direct, 1);
		ck_assert_uint_eq(direct, notice);
	}
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(k->maps.handoffs), &key, &v), 0);
	ck_assert_uint_eq(v.state, LB_HO_CLOSING);

	close(pfd_fd);
	close(lfd);
	backend_replay__destroy(k);
}
END_TEST

/* ---- a FIN with data: direct copy and notice, in client space -------------- */

/*
 * Translated first, then split: the program returns the notice, seq
 * translated and advanced past the payload, the marker set, to the balancer;
 * the clone goes out of the test's loopback (see test_backend.c's
 * test_egress_fin_data), in a namespace of our own so the host's loopback never
 * sees it. _i 0: a hand-off of ours; 1: no entry (untranslated, still split).
 */
START_TEST(test_fin_data)
{
	static const struct xl_case fin = { "FIN|PSH|ACK + data", 0x19, L_TS, 0, 1, 9, 7, 502, 0 };
	static const struct xl_case bare = { "FIN|ACK", 0x11, L_TS, 0, 1, 9, 7, 502, 0 };
	static const char body[] = "GET / HTTP/1.1\r\nHost: site\r\n\r\n"; /* xl_frame's payload */
	const int entry = _i == 0;
	uint16_t cport = 44900 + _i;
	const uint32_t d = entry ? E_C - E_B : 0;
	uint32_t edges[8] = { 0 }, seq = E_B + 1 + 4321, ack = CISN + 1 + 99;
	uint32_t tsval = T_LB - E_TBE + 50, want_ts = entry ? T_LB + 50 : tsval;
	uint16_t want_win = entry ? want_window(502, 9, 7) : 502;
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	size_t len, wlen;
	int orig;

	del_entry(cport);
	if (entry)
		entry_for(&fin, cport);
	len = xl_frame(frame, &fin, 1, cport, seq, ack, tsval, T_CLI, edges, 502, 0);
	/* The notice: translated, no payload, seq past it, PSH kept, the marker. */
	wlen = xl_frame(want, &bare, 1, cport, seq + d + sizeof(body) - 1, ack, want_ts, T_CLI,
			edges, want_win, 1);
	want[PKT_TCP + 13] |= 0x08;
	want[PKT_IP + 6] |= LB_FIN_NOTICE_IP_FLAG >> 8;
	pkt_fix_csums(want, wlen);

	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(orig, 0);
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	sh("ip link set lo up");
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_msg(setns(orig, CLONE_NEWNET) == 0, "back to our namespace: %s", strerror(errno));
	close(orig);

	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_FIN_NOTICE);
	assert_output(fin.name, &r, want, wlen);
	if (entry) {
		ck_assert_int_eq(get_entry(cport, &v), 0);
		ck_assert_uint_eq(v.state, LB_HO_CLOSING);
	}
	del_entry(cport);
}
END_TEST

/* ---- per-request binding: the re-bind SYN, probes ------------------------- */

enum rebind_kind {
	RB_VALID,	  /* everything right, C no cookie */
	RB_PREV_WINDOW,	  /* tagged in the window before: still valid */
	RB_NO_TS,	  /* a client without timestamps: T_lb 0 */
	RB_EXPIRED,	  /* tagged in the window before the accepted ones */
	RB_TAG_BIT,	  /* a tag bit flipped */
	RB_OTHER_ISN,	  /* the SYN's ISN is not the one tagged */
	RB_C_ALTERED,	  /* C changed after tagging */
	RB_FIRST_TAG,	  /* the first request's tag (lb_handoff_tag) under the re-bind ExID */
	RB_REBIND_TAG_LB, /* the re-bind tag under the first request's ExID */
	RB_NOT_BALANCER,  /* from a client's MAC */
};

struct rebind_case {
	const char *name;
	enum rebind_kind kind;
	int action;
	enum lb_backend_reason reason;
};

static const struct rebind_case rebind_cases[] = {
	{ "re-bind SYN", RB_VALID, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "re-bind SYN of the previous window", RB_PREV_WINDOW, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "re-bind SYN, no timestamps", RB_NO_TS, TC_ACT_OK, LB_BE_REPLAY_SYN },
	{ "re-bind SYN, expired window", RB_EXPIRED, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "re-bind SYN, a tag bit flipped", RB_TAG_BIT, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "re-bind SYN, another ISN", RB_OTHER_ISN, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "re-bind SYN, C altered", RB_C_ALTERED, TC_ACT_SHOT, LB_BE_DROP_FORGED_HANDOFF },
	{ "re-bind ExID with a first request's tag", RB_FIRST_TAG, TC_ACT_SHOT,
	  LB_BE_DROP_FORGED_HANDOFF },
	/* C is no cookie, so the first request's variant cannot vouch for it. */
	{ "first request's ExID with a re-bind tag", RB_REBIND_TAG_LB, TC_ACT_SHOT,
	  LB_BE_DROP_FORGED_HANDOFF },
	{ "re-bind SYN from a client's MAC", RB_NOT_BALANCER, TC_ACT_SHOT,
	  LB_BE_DROP_FORGED_HANDOFF },
};

/* Where the server's side of the connection is (less one), not a cookie. */
#define RB_C	 0x5eed0000u
/* The client's next byte less one: the replayed SYN's ISN. */
#define RB_ISN	 (CISN + 4000)

/*
 * A later request's SYN to a replay-mode backend as user/handoff.c's
 * send_replayed_syn() writes it: MSS, SACK-permitted + timestamps, window
 * scale, then the hand-off option with ExID "LS".
 */
static size_t rebind_syn_frame(uint8_t *frame, const struct rebind_case *tc, uint16_t cport)
{
	struct lb_handoff_key k = key_for(cport);
	struct lb_cookie_tuple t = { k.caddr, k.vaddr, k.cport, k.vport };
	uint32_t counter = lb_cookie_counter(&secret, tai_now());
	uint32_t t_lb = tc->kind == RB_NO_TS ? 0 : T_LB, tag;
	struct lb_handoff_opt ho = {
		.kind = LB_HANDOFF_OPT_KIND, .len = LB_HANDOFF_OPT_LEN,
		.exid = htons(LB_HANDOFF_REBIND_EXID), .client_isn = htonl(RB_C),
		.lb_tsval = htonl(t_lb), .wscale = WS_ADV,
	};
	struct pkt_spec p = {
		.saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = vport, .seq = RB_ISN,
		.flags = 0x02, .window = 64240,
	};
	uint8_t opts[40];
	size_t n = 0;

	if (tc->kind == RB_PREV_WINDOW)
		counter -= 1;
	if (tc->kind == RB_EXPIRED)
		counter -= secret.windows;
	tag = lb_handoff_rebind_tag(secret.key, &t, RB_ISN, RB_C, t_lb, WS_ADV, counter);
	if (tc->kind == RB_FIRST_TAG)
		tag = lb_handoff_tag(secret.key, &t, RB_C, t_lb, WS_ADV);
	if (tc->kind == RB_TAG_BIT)
		tag ^= 1u << 17;
	if (tc->kind == RB_REBIND_TAG_LB)
		ho.exid = htons(LB_HANDOFF_OPT_EXID);
	if (tc->kind == RB_C_ALTERED)
		ho.client_isn = htonl(RB_C + 1);
	if (tc->kind == RB_OTHER_ISN)
		p.seq = RB_ISN + 1;
	lb_handoff_opt_set_tag(&ho, tag);

	opts[n++] = 2; /* MSS 1460 */
	opts[n++] = 4;
	opts[n++] = 0x05;
	opts[n++] = 0xb4;
	if (tc->kind != RB_NO_TS) {
		opts[n++] = 4;
		opts[n++] = 2;
		n += put_ts(opts + n, T_CLI, 0);
	} else {
		opts[n++] = NOP;
		opts[n++] = NOP;
		opts[n++] = 4;
		opts[n++] = 2;
	}
	opts[n++] = NOP;
	opts[n++] = 3;
	opts[n++] = 3;
	opts[n++] = 7;
	memcpy(opts + n, &ho, sizeof(ho));
	n += sizeof(ho);
	ck_assert_uint_le(n, 40);
	memcpy(p.src_mac, tc->kind == RB_NOT_BALANCER ? client_mac : balancer_mac, 6);
	memcpy(p.dst_mac, backend_mac, 6);
	p.opts = opts;
	p.optlen = pad4(opts, n);
	return pkt_build_tcp(frame, &p);
}

START_TEST(test_rebind_syn)
{
	const struct rebind_case *tc = &rebind_cases[_i];
	uint16_t cport = 48000 + _i;
	struct lb_handoff_key k = key_for(cport);
	struct lb_cookie_tuple t = { k.caddr, k.vaddr, k.cport, k.vport };
	/* What the connection's earlier backend left: an entry of the first hand-off. */
	struct lb_handoff old = { .client_isn = 0x1111, .backend_isn = 0x2222, .lb_tsval = 5,
				  .state = LB_HO_ESTABLISHED, .flags = LB_HO_F_SYNACK,
				  .last_seen_ns = 1 };
	struct lb_cookie_opts co;
	uint8_t frame[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	size_t len;

	/* C is not a cookie for this SYN: only the re-bind tag can vouch for it. */
	ck_assert_int_ne(lb_cookie_check(&secret, &t, RB_ISN, RB_C, tai_now(), &co), 0);
	put_entry(cport, &old);
	len = rebind_syn_frame(frame, tc, cport);
	ck_assert_uint_gt(len, 0);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d", tc->name, r.action);
	assert_counted(&r, tc->reason);
	ck_assert_uint_eq(r.out_len, len);
	ck_assert_mem_eq(r.out, frame, len);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	if (tc->action != TC_ACT_OK) {
		/* A forged one leaves what was there. */
		ck_assert_mem_eq(&v, &old, sizeof(v));
		del_entry(cport);
		return;
	}
	/* A new connection on the same ports: the entry replaced, C recorded. */
	ck_assert_uint_eq(v.client_isn, RB_C);
	ck_assert_uint_eq(v.backend_isn, 0);
	ck_assert_uint_eq(v.lb_tsval, tc->kind == RB_NO_TS ? 0 : T_LB);
	ck_assert_uint_eq(v.ws_adv, WS_ADV);
	ck_assert_uint_eq(v.has_ts, tc->kind != RB_NO_TS);
	ck_assert_uint_eq(v.state, LB_HO_SYN_SEEN);
	ck_assert_uint_eq(v.flags, 0);
	ck_assert_uint_gt(v.last_seen_ns, 1);

	/* Sent again (its SYN/ACK lost): the same C, the entry kept as it is. */
	v.backend_isn = 0x3333;
	v.flags = LB_HO_F_SYNACK;
	put_entry(cport, &v);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYN);
	ck_assert_int_eq(get_entry(cport, &v), 0);
	ck_assert_uint_eq(v.client_isn, RB_C);
	ck_assert_uint_eq(v.backend_isn, 0x3333);
	ck_assert_uint_eq(v.flags, LB_HO_F_SYNACK);
	del_entry(cport);
}
END_TEST

/* Probes in replay mode: the same answer as in cookie mode, before any translation. */
enum rprobe_kind { RP_VALID, RP_ENTRY, RP_TAG_BIT, RP_FROM_CLIENT, RP_NO_IP_FLAG, RP_NO_OPTION };

static const struct {
	const char *name;
	enum rprobe_kind kind;
	int action;
	enum lb_backend_reason reason;
} rprobe_cases[] = {
	{ "probe, only the listener", RP_VALID, 7 /* TC_ACT_REDIRECT */, LB_BE_PROBE_ANSWERED },
	{ "probe, a hand-off entry but no socket", RP_ENTRY, 7, LB_BE_PROBE_ANSWERED },
	{ "probe, a tag bit flipped", RP_TAG_BIT, TC_ACT_SHOT, LB_BE_DROP_BAD_PROBE },
	{ "probe from a client's MAC", RP_FROM_CLIENT, TC_ACT_SHOT, LB_BE_DROP_BAD_PROBE },
	/* Not probes: untranslated segments of no hand-off. */
	{ "probe option without the IP flag", RP_NO_IP_FLAG, TC_ACT_OK, LB_BE_REPLAY_NO_ENTRY },
	{ "IP flag without the probe option", RP_NO_OPTION, TC_ACT_OK, LB_BE_REPLAY_NO_ENTRY },
};

START_TEST(test_replay_probe)
{
	const uint16_t cport = 48100 + _i;
	struct lb_handoff e = { .client_isn = E_C, .backend_isn = E_B, .state = LB_HO_ESTABLISHED,
				.flags = LB_HO_F_SYNACK, .last_seen_ns = 1 }, v;
	struct be_probe p = {
		.src_mac = rprobe_cases[_i].kind == RP_FROM_CLIENT ? client_mac : balancer_mac,
		.dst_mac = backend_mac, .saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = vport,
		.seq = CISN + 1 + 3000, .ack = E_C + 1 + 700, .secret = &secret,
		.counter = lb_cookie_counter(&secret, tai_now()),
		.tag_xor = rprobe_cases[_i].kind == RP_TAG_BIT ? 1u : 0,
		.no_ip_flag = rprobe_cases[_i].kind == RP_NO_IP_FLAG,
		.exid = rprobe_cases[_i].kind == RP_NO_OPTION ? 0x1234 : 0,
	};
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct run r;
	size_t len;

	del_entry(cport);
	if (rprobe_cases[_i].kind == RP_ENTRY)
		put_entry(cport, &e);
	len = be_probe_build(frame, &p);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	ck_assert_msg(r.action == rprobe_cases[_i].action, "%s: action %d", rprobe_cases[_i].name,
		      r.action);
	assert_counted(&r, rprobe_cases[_i].reason);
	if (rprobe_cases[_i].reason == LB_BE_PROBE_ANSWERED)
		be_probe_answer(want, frame, len, LB_PROBE_NO_SOCKET, 0, 0, 0);
	else
		memcpy(want, frame, len);
	assert_output(rprobe_cases[_i].name, &r, want, len);
	if (rprobe_cases[_i].kind == RP_ENTRY) {
		/* The probe is no segment of the connection: the entry is as it was. */
		ck_assert_int_eq(get_entry(cport, &v), 0);
		ck_assert_mem_eq(&v, &e, sizeof(v));
	}
	del_entry(cport);
}
END_TEST

/* ---- several balancers (docs/packet-walk.md §6) ---------------------------- */

#define assert_mac(got, want, what)                                                       \
	ck_assert_msg(!memcmp((got), (want), 6), "%s: to %02x:..:%02x, expected ..:%02x", \
		      (what), (got)[0], (got)[5], (want)[5])

/*
 * _i: 0, 1 the configured balancers, 2 a third MAC. A replayed SYN from either
 * is taken and its SYN/ACK goes back to it, on a port whose hash chooses the
 * other; a third MAC's is refused and leaves nothing behind.
 */
START_TEST(test_multi_replay_syn)
{
	const uint8_t *mac = _i < 2 ? be_balancers[_i] : be_stranger;
	uint16_t cport = be_port_hashing_to(CLIENT, 46000 + _i * 100, VIP, vport, _i == 0);
	uint8_t frame[PKT_MAX];
	struct lb_handoff v;
	struct run r;
	uint32_t c;
	size_t len;

	del_entry(cport);
	len = replay_syn_frame(frame, &syn_cases[0], cport, &c);
	memcpy(frame + 6, mac, 6);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	if (_i == 2) {
		ck_assert_int_eq(r.action, TC_ACT_SHOT);
		assert_counted(&r, LB_BE_DROP_FORGED_HANDOFF);
		ck_assert_int_ne(get_entry(cport, &v), 0);
		ck_assert_int_eq(be_balancer_of(skel->maps.balancer_of, CLIENT, cport, VIP, vport), -1);
		return;
	}
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_REPLAY_SYN);

	len = synack_frame(frame, cport, 0x40000000u, 0x7000, 7);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_REPLAY_SYNACK_DIVERTED);
	assert_mac(r.out, mac, "SYN/ACK");
	ck_assert_mem_eq(r.out + 6, frame + 6, len - 6);
	del_entry(cport);
}
END_TEST

/* The client's segments through a balancer, then the backend's FIN or RST, in client numbers. */
static const uint8_t *multi_step(uint16_t cport, const uint8_t *from, uint8_t end_flags)
{
	static const struct xl_case ack = { "ACK", 0x10, L_TS, 0, 1, 7, 7, 502, 0 };
	const struct xl_case end = { "end", end_flags, L_NONE, 0, 1, 7, 7, 502, 0 };
	uint32_t edges[8] = { 0 };
	static uint8_t out[6];
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	len = xl_frame(frame, &ack, 0, cport, CISN + 1, E_C + 1, T_CLI, T_LB, edges, 502, 0);
	memcpy(frame + 6, from, 6);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_IN);
	len = xl_frame(frame, &end, 1, cport, E_B + 1, CISN + 1, 0, 0, edges, 502, 0);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_DIVERTED);
	ck_assert_uint_eq(be_tcp32(r.out, 4), E_C + 1); /* translated before it went */
	memcpy(out, r.out, 6);
	return out;
}

/* A connection's ends follow the balancer its packets last came through. */
START_TEST(test_multi_replay_follow)
{
	static const struct xl_case e = { "entry", 0x10, L_TS, 0, 1, 7, 7, 502, 0 };
	uint16_t cport = be_port_hashing_to(CLIENT, 47000, VIP, vport, 0);

	entry_for(&e, cport);
	assert_mac(multi_step(cport, be_balancers[1], 0x11), be_balancers[1], "FIN via 1");
	assert_mac(multi_step(cport, be_balancers[0], 0x11), be_balancers[0], "FIN via 0");
	assert_mac(multi_step(cport, be_balancers[1], 0x14), be_balancers[1], "RST via 1");
	del_entry(cport);
}
END_TEST

/* Neither a hand-off nor a balancer known: the hash choice, the same each time. */
START_TEST(test_multi_replay_unknown)
{
	static const struct xl_case fin = { "FIN", 0x11, L_TS, 0, 1, 7, 7, 502, 0 };
	uint16_t cport = be_port_hashing_to(CLIENT, 48000 + _i * 100, VIP, vport, _i);
	uint32_t edges[8] = { 0 };
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;
	int n;

	del_entry(cport);
	len = xl_frame(frame, &fin, 1, cport, 0x1234, CISN + 1, 5, T_CLI, edges, 502, 0);
	for (n = 0; n < 2; n++) {
		run_prog(skel->progs.lb_replay_egress, frame, len, &r);
		assert_counted(&r, LB_BE_EGRESS_DIVERTED);
		assert_mac(r.out, be_balancers[_i], "FIN, no entry");
	}
}
END_TEST

/* One balancer: balancer_of is never written. */
START_TEST(test_one_balancer_no_map)
{
	uint16_t cport = be_port_hashing_to(CLIENT, 49000, VIP, vport, 1);
	uint8_t frame[PKT_MAX];
	struct run r;
	uint32_t c;
	size_t len;

	del_entry(cport);
	len = replay_syn_frame(frame, &syn_cases[0], cport, &c);
	run_prog(skel->progs.lb_replay_ingress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYN);
	len = synack_frame(frame, cport, 0x40000000u, 0x7000, 7);
	run_prog(skel->progs.lb_replay_egress, frame, len, &r);
	assert_counted(&r, LB_BE_REPLAY_SYNACK_DIVERTED);
	assert_mac(r.out, balancer_mac, "SYN/ACK, one balancer");
	ck_assert_uint_eq(be_map_entries(skel->maps.balancer_of), 0);
	del_entry(cport);
}
END_TEST

Suite *backend_replay_suite(void)
{
	Suite *s = suite_create("backend_replay_tc");
	TCase *tc = tcase_create("packets");
	TCase *multi = tcase_create("several balancers");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_replay_syn, 0, sizeof(syn_cases) / sizeof(syn_cases[0]));
	tcase_add_loop_test(tc, test_synack_recorded, 0, 2);
	tcase_add_test(tc, test_synack_without_entry);
	tcase_add_test(tc, test_syn_replaces);
	tcase_add_loop_test(tc, test_translate_in, 0, sizeof(in_cases) / sizeof(in_cases[0]));
	tcase_add_loop_test(tc, test_translate_out, 0, sizeof(out_cases) / sizeof(out_cases[0]));
	tcase_add_test(tc, test_no_entry);
	tcase_add_test(tc, test_walk);
	tcase_add_test(tc, test_real_addr);
	tcase_add_loop_test(tc, test_fin_data, 0, 2);
	tcase_add_loop_test(tc, test_rebind_syn, 0, sizeof(rebind_cases) / sizeof(rebind_cases[0]));
	tcase_add_loop_test(tc, test_replay_probe, 0, sizeof(rprobe_cases) / sizeof(rprobe_cases[0]));
	/* Forked like every test here: the namespace it makes dies with it. */
	tcase_add_test(tc, test_kernel);
	tcase_add_test(tc, test_one_balancer_no_map);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(multi, setup_two, teardown);
	tcase_add_loop_test(multi, test_multi_replay_syn, 0, 3);
	tcase_add_test(multi, test_multi_replay_follow);
	tcase_add_loop_test(multi, test_multi_replay_unknown, 0, 2);
	suite_add_tcase(s, multi);
	return s;
}
