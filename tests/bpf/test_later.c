// SPDX-License-Identifier: GPL-2.0
/*
 * Per-request binding at the dispatcher's level (docs/packet-walk.md §5a): the
 * real dispatcher, the real hand-off (user/handoff.c) and the real balancer
 * object's flow table (flows_v3, the lb_flow_end and lb_flow_move programs,
 * the mmapped backends map, hint_gen). Client segments and backend answers go
 * in as frames; every bind step is recorded with the connection view it was
 * given and the flow as it stood after it, and every frame the dispatcher and
 * the hand-off send is captured in order and parsed back.
 *
 * What is checked: a pipelined second request is cut from the first's
 * hand-off and forwarded (same holder) or held behind a probe (another one);
 * the bytes of a coalesced retransmission before req_end go to the bound
 * backend alone; a probe's answer retires the old backend and moves the flow
 * and one active count to the new one, which gets the request with an adopt
 * option; a busy answer holds it; a later request with no route is answered
 * 404 at the server's numbers once the flow is the dispatcher's; and which
 * routes give the same-holder hint.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "balancer.skel.h"
#include "backend_run.h"
#include "clock.h"
#include "config.h"
#include "cookie.h"
#include "directory.h"
#include "dispatcher.h"
#include "fin_notice.h"
#include "flow_table.h"
#include "loader.h"
#include "handoff.h"
#include "hint.h"
#include "maps.h"
#include "packet.h"
#include "rebind.h"
#include "stats.h"
#include "suites.h"

#define TAI	    1800000000ULL /* the TAI second client cookies are made and checked at */
#define CLIENT_IP   0xcb00710aU	  /* 203.0.113.10 */
#define VIP_IP	    0xc0000250U	  /* 192.0.2.80 */
#define VIP_PORT    80
#define CLIENT_PORT 40000
#define CLIENT_ISN  0x10000000u
#define LIMIT	    4096 /* handoff.request_limit */
#define FLOW_SLOTS  64
#define MMAP_LEN    (LB_MAX_BACKENDS * sizeof(struct lb_backend))
#define MAX_WIRE    32
#define MAX_STEPS   16
#define WEB1	    0
#define WEB2	    1
#define CLIENT_ECR  0x0badcafeu /* what the client echoes at first: our SYN/ACK's clock */
#define BE_CLOCK    0x70000000u /* the bound backend's clock, as the client echoes it later */
#define GEN_BEFORE  41		/* hint_gen as a previous daemon left it */
#define RESPONSE    500		/* bytes the bound backend sent for the first request */
#define D_FLAGS	    (LB_TH_ACK | LB_TH_PSH)

static const char yaml_head[] =
	"interface: eth0\n"
	"vips:\n"
	"  - {address: 192.0.2.80, port: 80, mode: http}\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11}\n"
	"  - {name: web2, address: 198.51.100.12}\n"
	"routes:\n";
/* The old backend's socket reset at each move, unless a test parks it (L.park). */
static const char yaml_tail[] = "handoff: {mss: 1400, wscale: 7, request_limit: 4096, "
				"request_timeout_ms: 1000, park: %s}\n";

/* Two leaf prefix routes, every route for any host: both give a hint. */
static const char routes_leaves[] =
	"  - {host: \"*\", prefix: /a/, backends: [web1]}\n"
	"  - {host: \"*\", prefix: /b/, backends: [web2]}\n";

static const uint8_t hop_mac[6] = { 0x02, 0, 0, 0, 0x00, 0x0c }; /* the client's next hop */
static const uint8_t lb_mac[6] = { 0x02, 0, 0, 0, 0x00, 0x1b };	 /* the balancer */
static const uint8_t be_mac[2][6] = {
	{ 0x02, 0, 0, 0, 0x01, 0x01 },
	{ 0x02, 0, 0, 0, 0x01, 0x02 },
};

static const char req_a1[] = "GET /a/1 HTTP/1.1\r\nHost: x\r\n\r\n";
static const char req_a2[] = "GET /a/2 HTTP/1.1\r\nHost: x\r\n\r\n";
static const char req_b2[] = "GET /b/2 HTTP/1.1\r\nHost: x\r\n\r\n";
static const char req_none[] = "GET /nothing HTTP/1.1\r\nHost: x\r\n\r\n";

enum sender { FROM_DISPATCHER = 1, FROM_HANDOFF = 2 };

struct wire_frame {
	enum sender from;
	size_t len;
	uint8_t buf[2048];
};

/* One call of the bind callback: what it was asked, and what it left behind. */
struct step_rec {
	enum lb_bind_step step;
	uint32_t backend;
	int ret;
	bool later;
	bool park;
	uint32_t client_isn;
	uint32_t cookie;
	uint32_t request_len;
	uint8_t request[LIMIT];
	uint32_t request_end;
	uint8_t flow_flags;
	uint8_t syn_opts;
	uint16_t binds;
	uint32_t hint_hash;
	uint16_t hint_len;
	uint16_t hint_gen;
	uint32_t tsval, tsecr;
	bool has_seg; /* LB_BIND_FORWARD's segment */
	uint32_t seg_seq, seg_ack, seg_len;
	uint8_t seg_flags;
	uint8_t seg_payload[2048];
	bool flow_ok; /* the flow after the step, if there is one */
	struct lb_flow flow;
	uint64_t active[2];
};

static struct {
	struct balancer *skel;
	struct lb_backend *backends;
	struct lb_flow_table flows;
	struct lb_config cfg;
	struct lb_directory *dir;
	bool have_cfg;
	struct lb_cookie_secret secret;
	struct lb_handoff_ctx h;
	struct lb_dispatcher *d;
	uint64_t now;
	struct wire_frame wire[MAX_WIRE];
	size_t n_wire;
	struct step_rec steps[MAX_STEPS];
	size_t n_steps;
	bool park; /* handoff.park in the config start() parses */
} L;

struct client {
	uint16_t port;
	uint32_t isn;
	uint32_t cookie;
	uint32_t tsval;	 /* the last TSval sent */
	uint32_t tsecr;	 /* what it echoes now */
};

/* ---- callbacks ------------------------------------------------------------------ */

static int capture(void *ctx, const uint8_t *frame, size_t len)
{
	struct wire_frame *w;

	ck_assert_uint_lt(L.n_wire, MAX_WIRE);
	ck_assert_uint_le(len, sizeof(w->buf));
	w = &L.wire[L.n_wire++];
	w->from = (enum sender)(uintptr_t)ctx;
	w->len = len;
	memcpy(w->buf, frame, len);
	return 0;
}

static int on_bind(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c, uint32_t backend,
		   enum lb_bind_step step)
{
	struct lb_conn_view v;
	struct step_rec *r;

	(void)ctx;
	ck_assert_uint_lt(L.n_steps, MAX_STEPS);
	r = &L.steps[L.n_steps++];
	memset(r, 0, sizeof(*r));
	lb_conn_describe(c, &v);
	r->step = step;
	r->backend = backend;
	r->later = v.later;
	r->park = v.park;
	r->client_isn = v.client_isn;
	r->cookie = v.cookie;
	r->request_len = v.request_len;
	ck_assert_uint_le(v.request_len, sizeof(r->request));
	if (v.request_len)
		memcpy(r->request, v.request, v.request_len);
	r->request_end = v.request_end;
	r->flow_flags = v.flow_flags;
	r->syn_opts = v.syn_opts;
	r->binds = v.binds;
	r->hint_hash = v.hint_hash;
	r->hint_len = v.hint_len;
	r->hint_gen = v.hint_gen;
	r->tsval = v.tsval;
	r->tsecr = v.tsecr;
	if (v.segment) {
		r->has_seg = true;
		r->seg_seq = v.segment->seq;
		r->seg_ack = v.segment->ack;
		r->seg_len = v.segment->len;
		r->seg_flags = v.segment->flags;
		ck_assert_uint_le(v.segment->len, sizeof(r->seg_payload));
		if (v.segment->len)
			memcpy(r->seg_payload, v.segment->payload, v.segment->len);
	}
	r->ret = lb_handoff_bind(&L.h, d, c, backend, step);
	r->flow_ok = !bpf_map_lookup_elem(L.flows.fd, &v.key, &r->flow);
	r->active[WEB1] = L.backends[WEB1].active;
	r->active[WEB2] = L.backends[WEB2].active;
	return r->ret;
}

/* ---- set-up ----------------------------------------------------------------------- */

static void setup(void)
{
	int i;

	memset(&L, 0, sizeof(L));
	L.skel = balancer__open();
	ck_assert_msg(L.skel, "open balancer skeleton: %s", strerror(errno));
	bpf_map__set_max_entries(L.skel->maps.flows_v3, FLOW_SLOTS);
	ck_assert_msg(balancer__load(L.skel) == 0, "load balancer: %s (run as root)",
		      strerror(errno));
	L.backends = mmap(NULL, MMAP_LEN, PROT_READ | PROT_WRITE, MAP_SHARED,
			  bpf_map__fd(L.skel->maps.backends), 0);
	ck_assert_msg(L.backends != MAP_FAILED, "mmap backends: %s", strerror(errno));
	for (i = 0; i < 2; i++) {
		L.backends[i].state = LB_BACKEND_UP;
		L.backends[i].weight = 1;
		memcpy(L.backends[i].mac, be_mac[i], 6);
	}
	lb_flow_table_init(&L.flows, bpf_map__fd(L.skel->maps.flows_v3),
			   lb_loader_flow_progs(L.skel), L.backends);
	L.secret = (struct lb_cookie_secret){
		.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
		.period_s = 64,
		.windows = 2,
	};
	L.now = 1000;
}

static void teardown(void)
{
	lb_dispatcher_free(L.d);
	if (L.dir)
		lb_directory_free(L.dir);
	if (L.have_cfg)
		lb_config_free(&L.cfg);
	if (L.backends && L.backends != MAP_FAILED)
		munmap(L.backends, MMAP_LEN);
	balancer__destroy(L.skel);
}

static uint32_t hint_gen_map(void)
{
	struct lb_hint_gen g;
	__u32 k = 0;

	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(L.skel->maps.hint_gen), &k, &g), 0);
	return g.gen;
}

/* The dispatcher on this object, with @routes as the config's routes. */
static void start(const char *routes)
{
	struct lb_dispatcher_maps maps = {
		.flows = &L.flows, .backends_fd = -1, .backends = L.backends,
		.hint_gen_fd = bpf_map__fd(L.skel->maps.hint_gen),
	};
	struct lb_hint_gen g = { .gen = GEN_BEFORE };
	char text[4096], tail[256], err[LB_ERR_MAX];
	__u32 k = 0;

	snprintf(tail, sizeof(tail), yaml_tail, L.park ? "true" : "false");
	snprintf(text, sizeof(text), "%s%s%s", yaml_head, routes, tail);
	ck_assert_msg(!lb_config_parse("later.yaml", text, strlen(text), &L.cfg, err, sizeof(err)),
		      "config: %s", err);
	L.have_cfg = true;
	L.dir = lb_directory_build(L.cfg.routes, L.cfg.n_routes, err, sizeof(err));
	ck_assert_msg(L.dir, "directory: %s", err);
	ck_assert_int_eq(bpf_map_update_elem(maps.hint_gen_fd, &k, &g, BPF_ANY), 0);
	L.h = (struct lb_handoff_ctx){
		.cfg = &L.cfg, .flows = &L.flows, .backends = L.backends, .send = capture,
		.send_ctx = (void *)(uintptr_t)FROM_HANDOFF, .secret = &L.secret,
	};
	L.d = lb_dispatcher_new(&L.cfg, L.dir, &L.secret, &maps, capture,
				(void *)(uintptr_t)FROM_DISPATCHER);
	ck_assert_ptr_nonnull(L.d);
	lb_dispatcher_set_bind(L.d, on_bind, NULL);
	/* A generation past the previous daemon's, published. */
	ck_assert_uint_eq(hint_gen_map(), GEN_BEFORE + 1);
}

/* ---- the client and the backends --------------------------------------------------- */

static const struct lb_cookie_opts client_opts = { .mss = 1460, .wscale = 7, .sack = 1 };

static struct lb_cookie_tuple tuple_of(const struct client *cl)
{
	return (struct lb_cookie_tuple){
		.caddr = htonl(CLIENT_IP), .vaddr = htonl(VIP_IP),
		.cport = htons(cl->port), .vport = htons(VIP_PORT),
	};
}

static void client_init(struct client *cl, uint16_t port)
{
	struct lb_cookie_tuple tu;

	memset(cl, 0, sizeof(*cl));
	cl->port = port;
	cl->isn = CLIENT_ISN;
	cl->tsval = 0x5eed0000;
	cl->tsecr = CLIENT_ECR;
	tu = tuple_of(cl);
	cl->cookie = lb_cookie_make(L.secret.key, &tu, cl->isn,
				    lb_cookie_counter(&L.secret, TAI),
				    lb_cookie_encode_opts(&client_opts));
}

static struct lb_flow_key flow_key(const struct client *cl)
{
	return (struct lb_flow_key){ .saddr = htonl(CLIENT_IP), .daddr = htonl(VIP_IP),
				     .sport = htons(cl->port), .dport = htons(VIP_PORT),
				     .proto = IPPROTO_TCP };
}

/* A client segment (timestamps on), into the dispatcher at L.now. */
static void client_seg(struct client *cl, uint32_t seq, uint32_t ack, uint8_t flags,
		       const void *data, size_t len)
{
	struct lb_segment s = {
		.saddr = htonl(CLIENT_IP), .daddr = htonl(VIP_IP),
		.sport = htons(cl->port), .dport = htons(VIP_PORT),
		.seq = seq, .ack = ack, .flags = flags, .window = 502,
		.has_ts = true, .tsval = ++cl->tsval, .tsecr = cl->tsecr,
		.payload = data, .len = (uint32_t)len,
	};
	uint8_t buf[2048];
	size_t n;

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, hop_mac, 6);
	n = lb_segment_build(buf, sizeof(buf), &s);
	ck_assert_uint_gt(n, 0);
	/* As a dispatcher thread does with a batch: the frame a hand-off is made from. */
	if (L.h.batch) {
		L.h.batch->rx_frame = buf;
		L.h.batch->rx_len = n;
	}
	lb_dispatcher_input(L.d, buf, n, L.now, TAI);
	if (L.h.batch)
		L.h.batch->rx_frame = NULL;
}

/* The first request's bytes at @off of the stream, acknowledging our SYN/ACK. */
static void client_first(struct client *cl, uint32_t off, const void *data, size_t len)
{
	client_seg(cl, cl->isn + 1 + off, cl->cookie + 1, D_FLAGS, data, len);
}

/* The bound backend's answer to the probe in wire frame @probe, as its ingress makes it. */
static void backend_answer(size_t probe, uint8_t status, uint32_t seq, uint32_t ack)
{
	uint8_t out[2048];
	size_t n;

	ck_assert_uint_lt(probe, L.n_wire);
	n = be_probe_answer(out, L.wire[probe].buf, L.wire[probe].len, status, seq, ack, 0);
	lb_dispatcher_input(L.d, out, n, L.now, TAI);
}

/*
 * The same with a framing report (headers/rebind.h): the latest answer from
 * server number @start to @end with a @body_len body, @unsent bytes written
 * beyond seq.
 */
static void backend_answer_framed(size_t probe, uint8_t status, uint32_t seq, uint32_t ack,
				  uint32_t unsent, uint16_t framing, uint32_t start, uint32_t end,
				  uint32_t body_len)
{
	uint8_t out[2048];
	size_t n;

	ck_assert_uint_lt(probe, L.n_wire);
	n = be_probe_answer_framed(out, L.wire[probe].buf, L.wire[probe].len, status, seq, ack,
				   unsent, framing, start - seq, end - seq, body_len);
	lb_dispatcher_input(L.d, out, n, L.now, TAI);
}

/* ---- what came out ------------------------------------------------------------------ */

static uint64_t ctr(enum lb_dispatch_counter c)
{
	return lb_dispatcher_counter(L.d, c);
}

static struct lb_flow flow_of(const struct client *cl)
{
	struct lb_flow_key k = flow_key(cl);
	struct lb_flow f;

	ck_assert_int_eq(bpf_map_lookup_elem(L.flows.fd, &k, &f), 0);
	return f;
}

static const char *step_name(enum lb_bind_step s)
{
	static const char *const names[] = {
		[LB_BIND_HANDOFF] = "HANDOFF",	       [LB_BIND_REPLAY_SYN] = "REPLAY_SYN",
		[LB_BIND_REPLAY_RESEND] = "REPLAY_RESEND", [LB_BIND_REPLAY_DONE] = "REPLAY_DONE",
		[LB_BIND_REPLAY_ABORT] = "REPLAY_ABORT",   [LB_BIND_ADVANCE] = "ADVANCE",
		[LB_BIND_PROBE] = "PROBE",		   [LB_BIND_RETIRE] = "RETIRE",
		[LB_BIND_ADOPT_RESEND] = "ADOPT_RESEND",   [LB_BIND_SETTLE] = "SETTLE",
		[LB_BIND_RELEASE] = "RELEASE",		   [LB_BIND_FORWARD] = "FORWARD",
	};

	return s < sizeof(names) / sizeof(names[0]) && names[s] ? names[s] : "?";
}

/* Exactly @n steps so far. */
static void expect_n_steps(size_t n)
{
	size_t i;
	char all[512] = "";

	for (i = 0; i < L.n_steps; i++) {
		strncat(all, step_name(L.steps[i].step), sizeof(all) - strlen(all) - 2);
		strncat(all, " ", sizeof(all) - strlen(all) - 1);
	}
	ck_assert_msg(L.n_steps == n, "%zu bind steps (%s), want %zu", L.n_steps, all, n);
}

/* Step @i was @step for @backend, and the hand-off took it. */
static const struct step_rec *expect_step(size_t i, enum lb_bind_step step, uint32_t backend)
{
	const struct step_rec *r;

	ck_assert_msg(i < L.n_steps, "no step %zu (%zu so far)", i, L.n_steps);
	r = &L.steps[i];
	ck_assert_msg(r->step == step, "step %zu: %s, want %s", i, step_name(r->step),
		      step_name(step));
	ck_assert_msg(r->backend == backend, "step %zu (%s): backend %u, want %u", i,
		      step_name(step), r->backend, backend);
	ck_assert_msg(r->ret == 0, "step %zu (%s): the hand-off returned %d", i, step_name(step),
		      r->ret);
	return r;
}

static void expect_n_wire(size_t n)
{
	ck_assert_msg(L.n_wire == n, "%zu frames sent, want %zu", L.n_wire, n);
}

/* Frame @i, parsed, with valid checksums. */
static void wire_seg(size_t i, struct lb_segment *s)
{
	ck_assert_msg(i < L.n_wire, "no frame %zu (%zu sent)", i, L.n_wire);
	ck_assert_msg(lb_segment_parse(L.wire[i].buf, L.wire[i].len, s) == 0,
		      "frame %zu does not parse", i);
	ck_assert_msg(lb_frame_check_csums(L.wire[i].buf, L.wire[i].len) == 0,
		      "frame %zu: bad checksum", i);
}

/* Frame @i goes to @backend's MAC from ours, in the client's direction of @cl. */
static void expect_to_backend(size_t i, const struct client *cl, uint32_t backend,
			      struct lb_segment *s)
{
	wire_seg(i, s);
	ck_assert_msg(L.wire[i].from == FROM_HANDOFF, "frame %zu: not sent by the hand-off", i);
	ck_assert_msg(!memcmp(s->dst_mac, be_mac[backend], 6), "frame %zu: not to backend %u", i,
		      backend);
	ck_assert_mem_eq(s->src_mac, lb_mac, 6);
	ck_assert_uint_eq(s->saddr, htonl(CLIENT_IP));
	ck_assert_uint_eq(s->daddr, htonl(VIP_IP));
	ck_assert_uint_eq(ntohs(s->sport), cl->port);
	ck_assert_uint_eq(ntohs(s->dport), VIP_PORT);
}

/* Frame @i goes to the client, from the VIP, through its next hop. */
static void expect_to_client(size_t i, const struct client *cl, struct lb_segment *s)
{
	wire_seg(i, s);
	ck_assert_msg(L.wire[i].from == FROM_DISPATCHER, "frame %zu: not the dispatcher's", i);
	ck_assert_mem_eq(s->dst_mac, hop_mac, 6);
	ck_assert_mem_eq(s->src_mac, lb_mac, 6);
	ck_assert_uint_eq(s->saddr, htonl(VIP_IP));
	ck_assert_uint_eq(s->daddr, htonl(CLIENT_IP));
	ck_assert_uint_eq(ntohs(s->sport), VIP_PORT);
	ck_assert_uint_eq(ntohs(s->dport), cl->port);
}

/* A request segment to @backend: @data at @seq, acknowledging @ack, PSH on it, no option. */
static void expect_request(size_t i, const struct client *cl, uint32_t backend, uint32_t seq,
			   uint32_t ack, const char *data, size_t len, bool adopt)
{
	struct lb_segment s;

	expect_to_backend(i, cl, backend, &s);
	ck_assert_msg(s.seq == seq, "frame %zu: seq %u, want %u (%+d)", i, s.seq, seq,
		      (int32_t)(s.seq - seq));
	ck_assert_msg(s.ack == ack, "frame %zu: ack %u, want %u (%+d)", i, s.ack, ack,
		      (int32_t)(s.ack - ack));
	ck_assert_uint_eq(s.flags, LB_TH_ACK | LB_TH_PSH);
	ck_assert_uint_eq(s.ip_flags, 0);
	ck_assert_msg(s.len == len, "frame %zu: %u bytes, want %zu", i, s.len, len);
	ck_assert_mem_eq(s.payload, data, len);
	ck_assert(s.has_ts);
	ck_assert_uint_eq(s.tsval, cl->tsval);
	ck_assert_int_eq(s.has_rebind, adopt);
}

/*
 * Where the option of kind 253 sits in frame @i's TCP options: its offset, and
 * the options' length.
 */
static void rebind_opt_at(size_t i, size_t *off, size_t *optlen)
{
	const uint8_t *th = L.wire[i].buf + 14 + 20;
	size_t doff = (th[12] >> 4) * 4, o = 0;

	*optlen = doff - 20;
	while (o < *optlen) {
		if (th[20 + o] == LB_TCPOPT_NOP) {
			o++;
			continue;
		}
		ck_assert_uint_lt(o + 1, *optlen);
		if (th[20 + o] == LB_REBIND_OPT_KIND) {
			*off = o;
			return;
		}
		ck_assert_uint_ge(th[20 + o + 1], 2);
		o += th[20 + o + 1];
	}
	ck_abort_msg("frame %zu: no option of kind %d", i, LB_REBIND_OPT_KIND);
}

/*
 * @tag is one the balancer makes for these numbers now (lb_rebind_tag under
 * the cookie key, the time counter of the real TAI clock, as the hand-off
 * does; the counter before it too, should a period have ended in between).
 */
static bool tag_ok(const struct client *cl, uint32_t seq, uint32_t ack, uint32_t arg,
		   uint32_t domain, uint32_t tag)
{
	struct lb_cookie_tuple tu = tuple_of(cl);
	uint32_t now = lb_cookie_counter(&L.secret, lb_clock_ns(CLOCK_TAI) / LB_NS_PER_S);

	return lb_rebind_tag(L.secret.key, &tu, seq, ack, arg, now, domain) == tag ||
	       lb_rebind_tag(L.secret.key, &tu, seq, ack, arg, now - 1, domain) == tag;
}

/*
 * Frame @i is a probe to @backend at @seq/@ack (headers/rebind.h): a bare ACK
 * with the reserved IP flag, the client's timestamps, the probe option last
 * with a tag for these numbers.
 */
static void expect_probe(size_t i, const struct client *cl, uint32_t backend, uint32_t seq,
			 uint32_t ack, uint32_t tsecr)
{
	struct lb_segment s;
	size_t off, optlen;

	expect_to_backend(i, cl, backend, &s);
	ck_assert_msg(s.flags == LB_TH_ACK, "frame %zu: flags %#x, want a bare ACK", i, s.flags);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_msg(s.seq == seq, "probe: seq %u, want %u (%+d)", s.seq, seq,
		      (int32_t)(s.seq - seq));
	ck_assert_msg(s.ack == ack, "probe: ack %u, want %u (%+d)", s.ack, ack,
		      (int32_t)(s.ack - ack));
	ck_assert_uint_eq(s.ip_flags, LB_FIN_NOTICE_IP_FLAG);
	ck_assert(s.has_ts);
	ck_assert_uint_eq(s.tsval, cl->tsval);
	ck_assert_uint_eq(s.tsecr, tsecr);
	ck_assert(s.has_rebind);
	ck_assert_uint_eq(ntohs(s.rebind.exid), LB_PROBE_EXID);
	ck_assert_uint_eq(s.rebind.arg, 0);
	rebind_opt_at(i, &off, &optlen);
	ck_assert_msg(off + LB_PROBE_OPT_LEN == optlen, "probe option at %zu of %zu: not last",
		      off, optlen);
	ck_assert_msg(tag_ok(cl, seq, ack, 0, LB_REBIND_TAG_PROBE, ntohl(s.rebind.val)),
		      "probe tag %#x does not verify", ntohl(s.rebind.val));
	ck_assert(!tag_ok(cl, seq, ack + 1, 0, LB_REBIND_TAG_PROBE, ntohl(s.rebind.val)));
}

/* Frame @i is a reset to @backend at @seq (the next byte that backend expects). */
static void expect_backend_rst(size_t i, const struct client *cl, uint32_t backend, uint32_t seq)
{
	struct lb_segment s;

	expect_to_backend(i, cl, backend, &s);
	ck_assert_msg(s.flags == LB_TH_RST, "frame %zu: flags %#x, want RST", i, s.flags);
	ck_assert_msg(s.seq == seq, "RST: seq %u, want %u (%+d)", s.seq, seq,
		      (int32_t)(s.seq - seq));
	ck_assert_uint_eq(s.len, 0);
}

/* FNV-1a of @s, written here from its definition (32-bit offset basis and prime). */
static uint32_t fnv1a(const char *s)
{
	uint32_t h = 2166136261u;

	while (*s) {
		h ^= (uint8_t)*s++;
		h *= 16777619u;
	}
	return h;
}

static void expect_hint(const struct lb_flow *f, const char *prefix)
{
	if (!prefix) {
		ck_assert_msg(f->hint_len == 0, "hint of length %u, want none", f->hint_len);
		ck_assert_uint_eq(f->hint_hash, 0);
		return;
	}
	ck_assert_msg(f->hint_len == strlen(prefix), "hint of length %u, want %zu ('%s')",
		      f->hint_len, strlen(prefix), prefix);
	ck_assert_uint_eq(f->hint_hash, fnv1a(prefix));
	ck_assert_uint_eq(f->hint_gen, hint_gen_map());
}

/* The flow of the first hand-off: bound to @backend, its request ending at @end. */
static void expect_first_flow(const struct lb_flow *f, const struct client *cl, uint32_t backend,
			      uint32_t end)
{
	ck_assert_uint_eq(f->state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f->backend, backend);
	ck_assert_mem_eq(f->backend_mac, be_mac[backend], 6);
	ck_assert_mem_eq(f->client_hop_mac, hop_mac, 6);
	ck_assert_msg(f->req_end == end, "req_end %u, want %u (%+d)", f->req_end, end,
		      (int32_t)(f->req_end - end));
	ck_assert_uint_eq(f->flags, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS | LB_FLOW_F_SRV_EXACT);
	ck_assert_uint_eq(f->syn_opts, cl->cookie & 0xff);
	ck_assert_uint_eq(f->binds, 1);
	ck_assert_uint_eq(f->srv_seq, cl->cookie + 1);
}

/* ---- 1. a pipelined second request in the first request's segment -------------------- */

/*
 * Both requests for web1: the hand-off carries the first alone, the flow ends
 * its requests after it; the second is a later request web1 holds, sent before
 * the first's answer: held until web1's framing report proves that answer
 * complete, then forwarded (ADVANCE) with the server's side where its answer
 * begins, proven, so a request after it can move. Nothing goes to the client.
 */
START_TEST(test_pipelined_same_holder)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_a2);
	char both[256];
	const struct step_rec *r;
	struct client cl;
	uint32_t srv;
	struct lb_flow f;

	start(routes_leaves);
	client_init(&cl, CLIENT_PORT);
	snprintf(both, sizeof(both), "%s%s", req_a1, req_a2);
	client_first(&cl, 0, both, l1 + l2);
	srv = cl.cookie + 1;

	expect_n_steps(2);
	r = expect_step(0, LB_BIND_HANDOFF, WEB1);
	ck_assert(!r->later);
	ck_assert_uint_eq(r->request_len, l1);
	ck_assert_mem_eq(r->request, req_a1, l1);
	ck_assert_uint_eq(r->request_end, cl.isn + 1 + l1);
	ck_assert(r->flow_ok);
	expect_first_flow(&r->flow, &cl, WEB1, cl.isn + 1 + l1);
	expect_hint(&r->flow, "/a/");
	ck_assert_uint_eq(r->active[WEB1], 1);
	expect_step(1, LB_BIND_PROBE, WEB1);
	expect_n_wire(2);
	expect_probe(1, &cl, WEB1, cl.isn + 1 + l1, srv, CLIENT_ECR);

	/* Half of the first answer acknowledged: held. */
	backend_answer_framed(1, LB_PROBE_BUSY, srv + RESPONSE / 2, cl.isn + 1 + l1, RESPONSE / 2,
			      LB_FRAMING_KNOWN, srv, srv + RESPONSE, 100);
	expect_n_steps(2);
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_HELD), 1);

	/* All of it, nothing beyond: web1 gets the second, its answer begins there. */
	backend_answer_framed(1, LB_PROBE_IDLE, srv + RESPONSE, cl.isn + 1 + l1, 0,
			      LB_FRAMING_KNOWN, srv, srv + RESPONSE, 100);
	expect_n_steps(3);
	r = expect_step(2, LB_BIND_ADVANCE, WEB1);
	ck_assert(r->later);
	ck_assert_uint_eq(r->client_isn + 1, cl.isn + 1 + l1);
	ck_assert_uint_eq(r->request_len, l2);
	ck_assert_mem_eq(r->request, req_a2, l2);
	ck_assert_uint_eq(r->request_end, cl.isn + 1 + l1 + l2);

	f = flow_of(&cl);
	ck_assert_uint_eq(f.req_end, cl.isn + 1 + l1 + l2);
	ck_assert_uint_eq(f.srv_seq, srv + RESPONSE);
	ck_assert_uint_eq(f.flags, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS | LB_FLOW_F_SRV_EXACT);
	ck_assert_uint_eq(ctr(LB_DISP_STAYS_PIPELINED), 0);
	ck_assert_uint_eq(ctr(LB_DISP_PIPELINED_PROVEN), 1);
	ck_assert_uint_eq(L.backends[WEB1].active, 1);
	ck_assert_uint_eq(L.backends[WEB2].active, 0);

	expect_n_wire(3);
	expect_request(2, &cl, WEB1, cl.isn + 1 + l1, srv + RESPONSE, req_a2, l2, false);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 2);
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_NEXT), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_SAME_HOLDER), 1);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 0);
}
END_TEST

/*
 * Three pipelined requests, web1's, web1's, web2's, bound in order: the
 * second to web1 once the first answer is proven complete, the third to web2
 * once the second's is (it begins where the first ended).
 */
START_TEST(test_pipelined_in_order)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_a2), l3 = strlen(req_b2);
	const uint32_t end2 = CLIENT_ISN + 1 + l1 + l2;
	const struct step_rec *r;
	struct client cl;
	char all[256];
	uint32_t srv;

	start(routes_leaves);
	client_init(&cl, CLIENT_PORT);
	snprintf(all, sizeof(all), "%s%s%s", req_a1, req_a2, req_b2);
	client_first(&cl, 0, all, l1 + l2 + l3);
	srv = cl.cookie + 1;
	expect_n_steps(2);
	expect_step(1, LB_BIND_PROBE, WEB1);
	backend_answer_framed(1, LB_PROBE_IDLE, srv + RESPONSE, CLIENT_ISN + 1 + l1, 0,
			      LB_FRAMING_KNOWN, srv, srv + RESPONSE, 100);
	/* The second to web1; the third held behind it, web1 probed again. */
	expect_n_steps(4);
	expect_step(2, LB_BIND_ADVANCE, WEB1);
	r = expect_step(3, LB_BIND_PROBE, WEB1);
	ck_assert_uint_eq(r->client_isn + 1, end2);
	/*
	 * The second's answer not begun: web1 at its start, no head read yet. The
	 * third was sent long before (its ACK is older than that start): held.
	 */
	backend_answer(3, LB_PROBE_IDLE, srv + RESPONSE, end2);
	expect_n_steps(4);
	ck_assert_uint_eq(ctr(LB_DISP_STAYS_PIPELINED), 0);
	/* A report of the first answer again proves nothing about the second. */
	backend_answer_framed(3, LB_PROBE_IDLE, srv + RESPONSE, end2, 0, LB_FRAMING_KNOWN, srv,
			      srv + RESPONSE, 100);
	expect_n_steps(4);
	backend_answer_framed(3, LB_PROBE_IDLE, srv + 2 * RESPONSE, end2, 0, LB_FRAMING_KNOWN,
			      srv + RESPONSE, srv + 2 * RESPONSE, 100);
	expect_n_steps(6);
	r = expect_step(4, LB_BIND_RETIRE, WEB1);
	ck_assert_uint_eq(r->client_isn + 1, end2);
	r = expect_step(5, LB_BIND_HANDOFF, WEB2);
	ck_assert_uint_eq(r->request_len, l3);
	ck_assert_mem_eq(r->request, req_b2, l3);
	ck_assert_uint_eq(r->flow.srv_seq, srv + 2 * RESPONSE);
	ck_assert_uint_eq(ctr(LB_DISP_PIPELINED_PROVEN), 2);
	ck_assert_uint_eq(ctr(LB_DISP_STAYS_PIPELINED), 0);
	ck_assert_uint_eq(L.backends[WEB1].active, 0);
	ck_assert_uint_eq(L.backends[WEB2].active, 1);
}
END_TEST

/*
 * A request for web2 pipelined behind web1's: the decision on each framing
 * report web1 may give (headers/rebind.h). Offsets from the server's side at
 * the hand-off; the first request is a GET, or a HEAD (its answer has no body).
 */
enum pipe_outcome { PIPE_MOVES, PIPE_HELD, PIPE_STAYS };

static const struct pipe_row {
	const char *name;
	bool head;
	uint8_t status;
	uint32_t seq, unsent;
	uint16_t framing;
	uint32_t start, end, body;
	enum pipe_outcome want;
	bool unframed;
} pipe_rows[] = {
	{ "complete and acknowledged", false, LB_PROBE_IDLE, RESPONSE, 0, LB_FRAMING_KNOWN, 0,
	  RESPONSE, 100, PIPE_MOVES, false },
	{ "half acknowledged", false, LB_PROBE_BUSY, 200, RESPONSE - 200, LB_FRAMING_KNOWN, 0,
	  RESPONSE, 100, PIPE_HELD, false },
	{ "acknowledged as written, more to write", false, LB_PROBE_IDLE, 200, 0,
	  LB_FRAMING_KNOWN, 0, RESPONSE, 100, PIPE_HELD, false },
	{ "only a 100 Continue", false, LB_PROBE_IDLE, 25, 0, LB_FRAMING_INTERIM, 0, 25, 0,
	  PIPE_HELD, false },
	{ "complete, request bytes unread", false, LB_PROBE_BUSY, RESPONSE, 0, LB_FRAMING_KNOWN, 0,
	  RESPONSE, 100, PIPE_HELD, false },
	{ "after a HEAD: the head is the answer", true, LB_PROBE_IDLE, RESPONSE - 100, 0,
	  LB_FRAMING_KNOWN, 0, RESPONSE, 100, PIPE_MOVES, false },
	{ "a GET's answer at its head's end is not complete", false, LB_PROBE_IDLE, RESPONSE - 100,
	  0, LB_FRAMING_KNOWN, 0, RESPONSE, 100, PIPE_HELD, false },
	{ "unframed (chunked)", false, LB_PROBE_IDLE, RESPONSE, 0, LB_FRAMING_UNKNOWN, 0, 0, 0,
	  PIPE_STAYS, true },
	{ "no report", false, LB_PROBE_IDLE, RESPONSE, 0, LB_FRAMING_NONE, 0, 0, 0, PIPE_STAYS,
	  false },
	{ "the answer began elsewhere", false, LB_PROBE_IDLE, RESPONSE, 0, LB_FRAMING_KNOWN, 10,
	  RESPONSE, 100, PIPE_STAYS, false },
	{ "written past its end", false, LB_PROBE_BUSY, RESPONSE, 50, LB_FRAMING_KNOWN, 0,
	  RESPONSE, 100, PIPE_STAYS, false },
	{ "acknowledged past its end", false, LB_PROBE_IDLE, RESPONSE + 10, 0, LB_FRAMING_KNOWN, 0,
	  RESPONSE, 100, PIPE_STAYS, false },
};

START_TEST(test_pipelined_proof)
{
	static const char head_a1[] = "HEAD /a/1 HTTP/1.1\r\nHost: x\r\n\r\n";
	const struct pipe_row *row = &pipe_rows[_i];
	const char *first = row->head ? head_a1 : req_a1;
	const uint32_t l1 = strlen(first), l2 = strlen(req_b2), end = CLIENT_ISN + 1 + l1;
	const struct step_rec *r;
	struct client cl;
	char both[256];
	uint32_t srv;

	start(routes_leaves);
	client_init(&cl, CLIENT_PORT);
	snprintf(both, sizeof(both), "%s%s", first, req_b2);
	client_first(&cl, 0, both, l1 + l2);
	srv = cl.cookie + 1;
	expect_n_steps(2);
	expect_step(1, LB_BIND_PROBE, WEB1);
	backend_answer_framed(1, row->status, srv + row->seq, end, row->unsent, row->framing,
			      srv + row->start, srv + row->end, row->body);
	switch (row->want) {
	case PIPE_MOVES:
		expect_n_steps(4);
		r = expect_step(2, LB_BIND_RETIRE, WEB1);
		ck_assert_uint_eq(r->cookie + 1, srv + row->seq);
		r = expect_step(3, LB_BIND_HANDOFF, WEB2);
		ck_assert_uint_eq(r->flow.srv_seq, srv + row->seq);
		ck_assert(r->flow.flags & LB_FLOW_F_SRV_EXACT);
		ck_assert_uint_eq(ctr(LB_DISP_PIPELINED_PROVEN), 1);
		break;
	case PIPE_HELD:
		expect_n_steps(2);
		ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_HELD), 1);
		ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1);
		break;
	case PIPE_STAYS:
		expect_n_steps(3);
		expect_step(2, LB_BIND_ADVANCE, WEB1);
		ck_assert_uint_eq(ctr(LB_DISP_STAYS_PIPELINED), 1);
		ck_assert_uint_eq(flow_of(&cl).flags, LB_FLOW_F_TS);
		break;
	}
	ck_assert_uint_eq(ctr(LB_DISP_PIPELINED_UNFRAMED), row->unframed);
	if (row->want != PIPE_MOVES)
		ck_assert_uint_eq(ctr(LB_DISP_PIPELINED_PROVEN), 0);
}
END_TEST

/*
 * The second request for web2: held, and web1 (bound) probed at the numbers
 * the connection is at: seq after the first request, ack our cookie + 1. The
 * flow stays as the hand-off left it.
 */
START_TEST(test_pipelined_other_holder)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_b2);
	const struct step_rec *r;
	char both[256];
	struct client cl;
	struct lb_flow f;

	start(routes_leaves);
	client_init(&cl, CLIENT_PORT);
	snprintf(both, sizeof(both), "%s%s", req_a1, req_b2);
	client_first(&cl, 0, both, l1 + l2);

	expect_n_steps(2);
	r = expect_step(0, LB_BIND_HANDOFF, WEB1);
	ck_assert_uint_eq(r->request_len, l1);
	ck_assert_mem_eq(r->request, req_a1, l1);
	expect_first_flow(&r->flow, &cl, WEB1, cl.isn + 1 + l1);
	r = expect_step(1, LB_BIND_PROBE, WEB1);
	ck_assert(r->later);
	ck_assert_uint_eq(r->client_isn + 1, cl.isn + 1 + l1);
	ck_assert_uint_eq(r->request_len, l2);
	ck_assert_mem_eq(r->request, req_b2, l2);

	f = flow_of(&cl);
	expect_first_flow(&f, &cl, WEB1, cl.isn + 1 + l1);
	ck_assert_uint_eq(L.backends[WEB1].active, 1);
	ck_assert_uint_eq(L.backends[WEB2].active, 0);

	expect_n_wire(2);
	expect_request(0, &cl, WEB1, cl.isn + 1, cl.cookie + 1, req_a1, l1, false);
	expect_probe(1, &cl, WEB1, cl.isn + 1 + l1, cl.cookie + 1, CLIENT_ECR);

	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_NEXT), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_SAME_HOLDER), 0);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1); /* the held request */

	/*
	 * web1 answered the first request and is idle: but it wrote past what the
	 * client had when it sent the second (our cookie + 1), so the second was
	 * pipelined and where the first answer ends is not known (a drained
	 * socket may be mid-answer). It stays with web1, and so does the
	 * connection: no reset, no move.
	 */
	backend_answer(1, LB_PROBE_IDLE, cl.cookie + 1 + RESPONSE, cl.isn + 1 + l1);
	expect_n_steps(3);
	r = expect_step(2, LB_BIND_ADVANCE, WEB1);
	ck_assert_uint_eq(r->request_len, l2);
	f = flow_of(&cl);
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f.backend, WEB1);
	ck_assert_uint_eq(f.req_end, cl.isn + 1 + l1 + l2);
	ck_assert_uint_eq(f.flags, LB_FLOW_F_TS);
	ck_assert_uint_eq(ctr(LB_DISP_STAYS_PIPELINED), 1);
	ck_assert_uint_eq(L.backends[WEB1].active, 1);
	ck_assert_uint_eq(L.backends[WEB2].active, 0);
	expect_n_wire(3);
	expect_request(2, &cl, WEB1, cl.isn + 1 + l1, cl.cookie + 1, req_b2, l2, false);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 0);
}
END_TEST

/* ---- 2. a segment that starts before req_end ------------------------------------------ */

#define TAIL 6 /* bytes of the first request a coalesced retransmission carries again */

/* The first request alone, handed to web1: the flow's requests end after it. */
static void first_request_alone(struct client *cl)
{
	client_init(cl, CLIENT_PORT);
	client_first(cl, 0, req_a1, strlen(req_a1));
	expect_n_steps(1);
	expect_step(0, LB_BIND_HANDOFF, WEB1);
	expect_n_wire(1);
}

/* The first request's last TAIL bytes and then @next, in one buffer; returns its length. */
static size_t tail_and(char *buf, size_t cap, const char *next)
{
	size_t l1 = strlen(req_a1);

	return (size_t)snprintf(buf, cap, "%s%s", req_a1 + l1 - TAIL, next);
}

/*
 * No record yet: the segment's bytes before req_end go to web1 in a FORWARD of
 * exactly those bytes (the client's numbers, no FIN), the rest is the held
 * request, probed for.
 */
START_TEST(test_coalesced_tail)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_b2), end = CLIENT_ISN + 1 + l1;
	const struct step_rec *r;
	struct lb_segment s;
	struct client cl;
	char seg[256];
	size_t n;

	start(routes_leaves);
	first_request_alone(&cl);
	n = tail_and(seg, sizeof(seg), req_b2);
	client_seg(&cl, end - TAIL, cl.cookie + 1, D_FLAGS, seg, n);

	expect_n_steps(3);
	r = expect_step(1, LB_BIND_FORWARD, WEB1);
	ck_assert(r->has_seg);
	ck_assert_uint_eq(r->seg_seq, end - TAIL);
	ck_assert_uint_eq(r->seg_len, TAIL);
	ck_assert_mem_eq(r->seg_payload, req_a1 + l1 - TAIL, TAIL);
	ck_assert(!(r->seg_flags & LB_TH_FIN));
	r = expect_step(2, LB_BIND_PROBE, WEB1);
	ck_assert_uint_eq(r->client_isn + 1, end);
	ck_assert_uint_eq(r->request_len, l2);
	ck_assert_mem_eq(r->request, req_b2, l2);

	expect_n_wire(3);
	expect_to_backend(1, &cl, WEB1, &s);
	ck_assert_uint_eq(s.seq, end - TAIL);
	ck_assert_uint_eq(s.ack, cl.cookie + 1);
	ck_assert_uint_eq(s.len, TAIL);
	ck_assert_mem_eq(s.payload, req_a1 + l1 - TAIL, TAIL);
	ck_assert_uint_eq(s.flags, LB_TH_ACK | LB_TH_PSH);
	ck_assert(!s.has_rebind);
	expect_probe(2, &cl, WEB1, end, cl.cookie + 1, CLIENT_ECR);
	/* The flow is web1's still: nothing moved. */
	{
		struct lb_flow f = flow_of(&cl);

		expect_first_flow(&f, &cl, WEB1, end);
	}
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1);
}
END_TEST

/*
 * The record exists (the new head's first bytes came first, at req_end): the
 * coalesced retransmission's bytes before req_end still go to web1, exactly
 * those, and what it carries of the held request completes it.
 */
START_TEST(test_coalesced_tail_record_exists)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_b2), end = CLIENT_ISN + 1 + l1;
	const struct step_rec *r;
	struct lb_segment s;
	struct client cl;
	char seg[256];
	size_t n;

	start(routes_leaves);
	first_request_alone(&cl);
	/* The first 10 bytes of the next head: a record, nothing decided. */
	client_seg(&cl, end, cl.cookie + 1, D_FLAGS, req_b2, 10);
	expect_n_steps(2);
	/* Its ACK goes on to web1 alone, without the bytes. */
	r = expect_step(1, LB_BIND_FORWARD, WEB1);
	ck_assert_uint_eq(r->seg_len, 0);
	ck_assert_uint_eq(r->seg_seq, end);
	expect_n_wire(2);
	expect_to_backend(1, &cl, WEB1, &s);
	ck_assert_uint_eq(s.flags, LB_TH_ACK);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_uint_eq(s.seq, end);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1);

	/* The tail of the first request again, with the whole next head. */
	n = tail_and(seg, sizeof(seg), req_b2);
	client_seg(&cl, end - TAIL, cl.cookie + 1, D_FLAGS, seg, n);
	expect_n_steps(4);
	r = expect_step(2, LB_BIND_FORWARD, WEB1);
	ck_assert_uint_eq(r->seg_seq, end - TAIL);
	ck_assert_uint_eq(r->seg_len, TAIL);
	ck_assert_mem_eq(r->seg_payload, req_a1 + l1 - TAIL, TAIL);
	r = expect_step(3, LB_BIND_PROBE, WEB1);
	ck_assert_uint_eq(r->client_isn + 1, end);
	ck_assert_uint_eq(r->request_len, l2);
	ck_assert_mem_eq(r->request, req_b2, l2);

	expect_n_wire(4);
	expect_to_backend(2, &cl, WEB1, &s);
	ck_assert_uint_eq(s.seq, end - TAIL);
	ck_assert_uint_eq(s.len, TAIL);
	ck_assert_mem_eq(s.payload, req_a1 + l1 - TAIL, TAIL);
	expect_probe(3, &cl, WEB1, end, cl.cookie + 1, CLIENT_ECR);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1);
}
END_TEST

/* ---- 3. the probe's answer ---------------------------------------------------------- */

/*
 * A request for web2 held behind web1's first one (pipelined with it), web1
 * probed: wire frame 1 is the probe. Returns the first request's end.
 */
static uint32_t held_for_web2(struct client *cl)
{
	const uint32_t end = CLIENT_ISN + 1 + strlen(req_a1);

	first_request_alone(cl);
	/* web1 answered (RESPONSE bytes); the client, having it all, asks for web2's page. */
	client_seg(cl, end, cl->cookie + 1 + RESPONSE, D_FLAGS, req_b2, strlen(req_b2));
	expect_n_steps(3);
	expect_step(1, LB_BIND_FORWARD, WEB1); /* its ACK */
	expect_step(2, LB_BIND_PROBE, WEB1);
	expect_n_wire(3);
	return end;
}

/*
 * web1 idle, its answer past its first response: web1's socket is reset at
 * req_end, the flow and one active count move to web2 (moving: a cookie-mode
 * backend that has not shown it has the socket), and web2 gets the request
 * at the connection's numbers with an adopt option that verifies. The
 * client's ACK of web2's bytes settles it.
 */
/*
 * Parking on: the idle backend's socket is not reset. The move lists web1
 * among the flow's parked backends, for the retire at the connection's end;
 * the adopt option to web2 is the same (web2's program finds what it has).
 */
START_TEST(test_answer_idle_parks)
{
	const uint32_t l2 = strlen(req_b2);
	const struct step_rec *r;
	struct client cl;
	uint32_t end, srv;

	L.park = true;
	start(routes_leaves);
	end = held_for_web2(&cl);
	srv = cl.cookie + 1 + RESPONSE;
	L.now += 1;
	backend_answer(2, LB_PROBE_IDLE, srv, end);

	expect_n_steps(4);
	r = expect_step(3, LB_BIND_HANDOFF, WEB2);
	ck_assert(r->later && r->park);
	ck_assert(r->flow_ok);
	ck_assert_uint_eq(r->flow.backend, WEB2);
	ck_assert_uint_eq(r->flow.parked[0], WEB1 + 1);
	ck_assert_uint_eq(r->flow.parked[1], 0);
	ck_assert_uint_eq(r->active[WEB1], 0);
	ck_assert_uint_eq(r->active[WEB2], 1);
	/* No reset to web1: the request to web2 is all that goes out. */
	expect_n_wire(4);
	expect_request(3, &cl, WEB2, end, srv, req_b2, l2, true);
}
END_TEST

START_TEST(test_answer_idle_moves)
{
	const uint32_t l2 = strlen(req_b2);
	const struct step_rec *r;
	struct lb_segment s;
	struct client cl;
	uint32_t end, srv;
	size_t off, optlen;
	struct lb_flow f;

	start(routes_leaves);
	end = held_for_web2(&cl);
	srv = cl.cookie + 1 + RESPONSE;
	L.now += 1;
	backend_answer(2, LB_PROBE_IDLE, srv, end);

	expect_n_steps(5);
	r = expect_step(3, LB_BIND_RETIRE, WEB1);
	ck_assert_uint_eq(r->cookie + 1, srv);
	ck_assert_uint_eq(r->client_isn + 1, end);
	r = expect_step(4, LB_BIND_HANDOFF, WEB2);
	ck_assert(r->later);
	ck_assert_uint_eq(r->binds, 2);
	ck_assert_uint_eq(r->request_end, end + l2);
	ck_assert_uint_eq(r->request_len, l2);
	ck_assert_mem_eq(r->request, req_b2, l2);
	/* The move: web2's, moving, with the counts moved in the same run. */
	ck_assert(r->flow_ok);
	ck_assert_uint_eq(r->flow.state, LB_FLOW_MOVING);
	ck_assert_uint_eq(r->flow.backend, WEB2);
	ck_assert_mem_eq(r->flow.backend_mac, be_mac[WEB2], 6);
	ck_assert_uint_eq(r->flow.req_end, end + l2);
	ck_assert_uint_eq(r->flow.srv_seq, srv);
	ck_assert_uint_eq(r->flow.flags, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS | LB_FLOW_F_SRV_EXACT);
	ck_assert_uint_eq(r->flow.binds, 2);
	ck_assert_uint_eq(r->flow.syn_opts, cl.cookie & 0xff);
	ck_assert_mem_eq(r->flow.client_hop_mac, hop_mac, 6);
	expect_hint(&r->flow, "/b/");
	ck_assert_uint_eq(r->active[WEB1], 0);
	ck_assert_uint_eq(r->active[WEB2], 1);

	expect_n_wire(5);
	expect_backend_rst(3, &cl, WEB1, end);
	expect_request(4, &cl, WEB2, end, srv, req_b2, l2, true);
	wire_seg(4, &s);
	ck_assert_uint_eq(s.tsecr, CLIENT_ECR);
	ck_assert_uint_eq(ntohs(s.rebind.exid), LB_ADOPT_EXID);
	ck_assert_uint_eq(s.rebind.arg, cl.cookie & 0xff);
	rebind_opt_at(4, &off, &optlen);
	ck_assert_uint_eq(off + LB_REBIND_OPT_LEN, optlen);
	ck_assert_msg(tag_ok(&cl, end, srv, cl.cookie & 0xff, LB_REBIND_TAG_ADOPT,
			     ntohl(s.rebind.val)),
		      "adopt tag %#x does not verify", ntohl(s.rebind.val));
	/* Made for these numbers and this domain only. */
	ck_assert(!tag_ok(&cl, end, srv - 1, cl.cookie & 0xff, LB_REBIND_TAG_ADOPT,
			  ntohl(s.rebind.val)));
	ck_assert(!tag_ok(&cl, end, srv, cl.cookie & 0xff, LB_REBIND_TAG_PROBE,
			  ntohl(s.rebind.val)));
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_HELD), 0);
	ck_assert_uint_eq(ctr(LB_DISP_REBINDS), 0); /* not until web2 shows it */

	/* The client acknowledges web2's first bytes: settled, bound, the ACK on to web2. */
	client_seg(&cl, end + l2, srv + 100, LB_TH_ACK, NULL, 0);
	expect_n_steps(7);
	expect_step(5, LB_BIND_SETTLE, WEB2);
	r = expect_step(6, LB_BIND_FORWARD, WEB2);
	ck_assert_uint_eq(r->seg_ack, srv + 100);
	expect_n_wire(6);
	expect_to_backend(5, &cl, WEB2, &s);
	ck_assert_uint_eq(s.ack, srv + 100);
	f = flow_of(&cl);
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f.backend, WEB2);
	ck_assert_uint_eq(L.backends[WEB1].active, 0);
	ck_assert_uint_eq(L.backends[WEB2].active, 1);
	ck_assert_uint_eq(ctr(LB_DISP_REBINDS), 1);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 0);
}
END_TEST

/*
 * web2's request with web1's next one pipelined behind it, in one segment. While
 * the move to web2 waits to settle, the client's ACK of web2's bytes comes with
 * the next request again (a retransmission): the held bytes already make that
 * request's record (carry_over), and the segment is more of it. One record,
 * one decision, one probe: a second record for the same connection waited on
 * probes only the first got answers to, and "stayed busy" 5 s later.
 */
START_TEST(test_moving_then_next_request_once)
{
	const uint32_t l2 = strlen(req_b2), l3 = strlen(req_a2);
	const uint32_t end = CLIENT_ISN + 1 + strlen(req_a1);
	struct client cl;
	char both[128];
	uint32_t srv;
	size_t i, probes = 0;

	start(routes_leaves);
	first_request_alone(&cl);
	srv = cl.cookie + 1 + RESPONSE;
	snprintf(both, sizeof(both), "%s%s", req_b2, req_a2);
	client_seg(&cl, end, srv, D_FLAGS, both, l2 + l3);
	expect_step(L.n_steps - 1, LB_BIND_PROBE, WEB1);
	backend_answer(L.n_steps - 1, LB_PROBE_IDLE, srv, end);
	expect_step(L.n_steps - 1, LB_BIND_HANDOFF, WEB2);
	ck_assert_uint_eq(flow_of(&cl).state, LB_FLOW_MOVING);
	i = L.n_steps;

	client_seg(&cl, end + l2, srv + 100, D_FLAGS, req_a2, l3);
	expect_step(i, LB_BIND_SETTLE, WEB2);
	for (; i < L.n_steps; i++)
		probes += L.steps[i].step == LB_BIND_PROBE;
	ck_assert_uint_eq(probes, 1);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_NEXT), 2);
}
END_TEST

/*
 * Answers that do not free web1: BUSY; IDLE but at the same srv_seq its last
 * request was given at (its answer has not begun); IDLE but not every request
 * byte received. The request stays held, nothing is sent, the flow and the
 * counts stay, and requests_held counts the request once. The timer asks
 * again; a proper IDLE answer then moves it.
 */
START_TEST(test_answer_busy_holds)
{
	const struct {
		uint8_t status;
		int32_t seq_off; /* from the server's side at hand-off (srv_seq) */
		int32_t ack_off; /* from req_end */
	} answers[] = {
		{ LB_PROBE_BUSY, RESPONSE, 0 },
		{ LB_PROBE_BUSY, RESPONSE, 0 },
		{ LB_PROBE_IDLE, 0, 0 },
		{ LB_PROBE_IDLE, RESPONSE, -1 },
	};
	struct client cl;
	struct lb_flow f;
	uint32_t end;
	size_t i;

	start(routes_leaves);
	end = held_for_web2(&cl);
	for (i = 0; i < sizeof(answers) / sizeof(answers[0]); i++) {
		backend_answer(2, answers[i].status, cl.cookie + 1 + answers[i].seq_off,
			       end + answers[i].ack_off);
		ck_assert_msg(L.n_steps == 3, "answer %zu: %zu steps", i, L.n_steps);
		ck_assert_msg(L.n_wire == 3, "answer %zu: %zu frames", i, L.n_wire);
		ck_assert_msg(ctr(LB_DISP_REQUESTS_HELD) == 1, "answer %zu: requests_held %llu", i,
			      (unsigned long long)ctr(LB_DISP_REQUESTS_HELD));
		f = flow_of(&cl);
		expect_first_flow(&f, &cl, WEB1, end);
		ck_assert_uint_eq(L.backends[WEB1].active, 1);
		ck_assert_uint_eq(L.backends[WEB2].active, 0);
		ck_assert_uint_eq(lb_dispatcher_conns(L.d), 1);
	}

	/* 2 ms on: probed again, at the same numbers. */
	L.now += 2;
	lb_dispatcher_timers(L.d, L.now);
	expect_n_steps(4);
	expect_step(3, LB_BIND_PROBE, WEB1);
	expect_n_wire(4);
	expect_probe(3, &cl, WEB1, end, cl.cookie + 1 + RESPONSE, CLIENT_ECR);

	backend_answer(3, LB_PROBE_IDLE, cl.cookie + 1 + RESPONSE, end);
	expect_n_steps(6);
	expect_step(4, LB_BIND_RETIRE, WEB1);
	expect_step(5, LB_BIND_HANDOFF, WEB2);
	ck_assert_uint_eq(flow_of(&cl).state, LB_FLOW_MOVING);
	ck_assert_uint_eq(L.backends[WEB1].active, 0);
	ck_assert_uint_eq(L.backends[WEB2].active, 1);
	ck_assert_uint_eq(ctr(LB_DISP_REQUESTS_HELD), 1);
}
END_TEST

/* ---- 4. a later request with no route ------------------------------------------------ */

/*
 * The next request, in a segment of its own at req_end, has no route. web1 is
 * probed; once idle it is reset, the flow becomes the dispatcher's, and the
 * client gets our 404 at the server's sequence number (the answer's seq),
 * acknowledging the whole request, with a TSval not below what the client
 * echoes (web1's clock, far ahead of ours), then our FIN.
 */
START_TEST(test_no_route_404)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_none), end = CLIENT_ISN + 1 + l1;
	const struct step_rec *r;
	struct lb_segment s;
	struct client cl;
	struct lb_flow f;
	char text[1024];
	uint32_t srv, acked, n = 0;
	size_t i;

	start(routes_leaves);
	first_request_alone(&cl);
	srv = cl.cookie + 1 + RESPONSE;
	acked = srv;
	/* The client has web1's response: it echoes web1's clock now. */
	cl.tsecr = BE_CLOCK;
	client_seg(&cl, end, acked, D_FLAGS, req_none, l2);
	expect_n_steps(3);
	expect_step(1, LB_BIND_FORWARD, WEB1);
	r = expect_step(2, LB_BIND_PROBE, WEB1);
	ck_assert_uint_eq(r->request_len, l2);
	expect_n_wire(3);
	expect_probe(2, &cl, WEB1, end, acked, BE_CLOCK);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 0); /* not while web1 is bound */

	backend_answer(2, LB_PROBE_IDLE, srv, end);
	expect_n_steps(5);
	expect_step(3, LB_BIND_RETIRE, WEB1);
	r = expect_step(4, LB_BIND_RELEASE, WEB1);
	ck_assert(r->flow_ok);
	ck_assert_uint_eq(r->flow.state, LB_FLOW_DISPATCH);
	ck_assert_mem_eq(r->flow.client_hop_mac, hop_mac, 6);
	ck_assert_uint_eq(r->active[WEB1], 0);
	f = flow_of(&cl);
	ck_assert_uint_eq(f.state, LB_FLOW_DISPATCH);
	ck_assert_uint_eq(L.backends[WEB1].active, 0);
	ck_assert_uint_eq(L.backends[WEB2].active, 0);

	ck_assert_uint_ge(L.n_wire, 5);
	expect_backend_rst(3, &cl, WEB1, end);
	for (i = 4; i < L.n_wire; i++) {
		bool last = i + 1 == L.n_wire;

		expect_to_client(i, &cl, &s);
		ck_assert_msg(s.seq == srv + n, "reply frame %zu: seq %u, want %u (%+d)", i, s.seq,
			      srv + n, (int32_t)(s.seq - (srv + n)));
		ck_assert_msg(s.ack == end + l2, "reply frame %zu: ack %u, want %u", i, s.ack,
			      end + l2);
		ck_assert(s.flags & LB_TH_ACK);
		ck_assert(!(s.flags & LB_TH_RST));
		ck_assert_int_eq(!!(s.flags & LB_TH_FIN), last);
		ck_assert(s.has_ts);
		ck_assert_msg((int32_t)(s.tsval - BE_CLOCK) >= 0,
			      "reply frame %zu: TSval %#x below the client's echo %#x", i, s.tsval,
			      BE_CLOCK);
		ck_assert_uint_eq(s.tsecr, cl.tsval);
		ck_assert_uint_lt(n + s.len, sizeof(text));
		memcpy(text + n, s.payload, s.len);
		n += s.len;
	}
	text[n] = '\0';
	ck_assert_msg(!strncmp(text, "HTTP/1.1 404 Not Found\r\n", 24), "reply: '%.40s'", text);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REBINDS), 0);
}
END_TEST

/*
 * web2, the only holder of the held request, refuses the connection it is
 * handed (its kernel's reset, which XDP sends up while the flow moves): its
 * count and the flow come back, and with no other holder the client gets our
 * 503 at the server's numbers. web1 stays retired.
 */
START_TEST(test_new_holder_refuses)
{
	const uint32_t l2 = strlen(req_b2);
	const struct step_rec *r;
	struct lb_segment rst = {
		.saddr = htonl(VIP_IP), .daddr = htonl(CLIENT_IP),
		.sport = htons(VIP_PORT), .dport = htons(CLIENT_PORT), .flags = LB_TH_RST,
	};
	uint8_t buf[128];
	struct lb_segment s;
	struct client cl;
	uint32_t end, srv;
	size_t n;

	start(routes_leaves);
	end = held_for_web2(&cl);
	srv = cl.cookie + 1 + RESPONSE;
	backend_answer(2, LB_PROBE_IDLE, srv, end);
	expect_n_steps(5);
	expect_step(4, LB_BIND_HANDOFF, WEB2);
	expect_n_wire(5);

	rst.seq = srv;
	memcpy(rst.src_mac, be_mac[WEB2], 6);
	memcpy(rst.dst_mac, lb_mac, 6);
	n = lb_segment_build(buf, sizeof(buf), &rst);
	ck_assert_uint_gt(n, 0);
	lb_dispatcher_input(L.d, buf, n, L.now, TAI);

	expect_n_steps(7);
	r = expect_step(5, LB_BIND_REPLAY_ABORT, WEB2);
	ck_assert_uint_eq(r->flow.state, LB_FLOW_DISPATCH);
	ck_assert_uint_eq(r->active[WEB2], 0);
	ck_assert_uint_eq(r->active[WEB1], 0);
	expect_step(6, LB_BIND_RELEASE, WEB1);
	ck_assert_uint_eq(flow_of(&cl).state, LB_FLOW_DISPATCH);
	ck_assert_uint_eq(L.backends[WEB1].active, 0);
	ck_assert_uint_eq(L.backends[WEB2].active, 0);

	ck_assert_uint_ge(L.n_wire, 7);
	expect_backend_rst(5, &cl, WEB2, end);
	expect_to_client(6, &cl, &s);
	ck_assert_uint_eq(s.seq, srv);
	ck_assert_uint_eq(s.ack, end + l2);
	ck_assert_msg(s.len >= 12 && !memcmp(s.payload, "HTTP/1.1 503", 12), "reply '%.*s'",
		      (int)(s.len < 40 ? s.len : 40), (const char *)s.payload);
	ck_assert_uint_eq(ctr(LB_DISP_REBIND_FAILED), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_503), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REBINDS), 0);
}
END_TEST

/* ---- 5. the same-holder hint -------------------------------------------------------- */

static const struct hint_row {
	const char *name;
	const char *routes;
	const char *a_hint; /* the flow's hint after GET /a/1 (web1); NULL: none */
	const char *b_hint; /* ... after GET /b/1 (web2) */
} hint_rows[] = {
	{ "leaf prefix routes, every route for any host", routes_leaves, "/a/", "/b/" },
	{ "a path under /a/: /a/ is no leaf",
	  "  - {host: \"*\", prefix: /a/, backends: [web1]}\n"
	  "  - {host: \"*\", path: /a/x, backends: [web2]}\n"
	  "  - {host: \"*\", prefix: /b/, backends: [web2]}\n",
	  NULL, "/b/" },
	{ "a prefix under /a/: /a/ is no leaf",
	  "  - {host: \"*\", prefix: /a/, backends: [web1]}\n"
	  "  - {host: \"*\", prefix: /a/deep/, backends: [web2]}\n"
	  "  - {host: \"*\", prefix: /b/, backends: [web2]}\n",
	  NULL, "/b/" },
	{ "a host-specific route: no hints at all",
	  "  - {host: \"*\", prefix: /a/, backends: [web1]}\n"
	  "  - {host: \"*\", prefix: /b/, backends: [web2]}\n"
	  "  - {host: example.com, prefix: /c/, backends: [web2]}\n",
	  NULL, NULL },
};

/* The flow written at hand-off carries the route's hint under the current generation. */
START_TEST(test_hints)
{
	const struct hint_row *h = &hint_rows[_i];
	static const char req_b1[] = "GET /b/1 HTTP/1.1\r\nHost: x\r\n\r\n";
	const struct step_rec *r;
	struct client cl, cl2;

	start(h->routes);
	client_init(&cl, CLIENT_PORT);
	client_first(&cl, 0, req_a1, strlen(req_a1));
	expect_n_steps(1);
	r = expect_step(0, LB_BIND_HANDOFF, WEB1);
	ck_assert(r->flow_ok);
	expect_first_flow(&r->flow, &cl, WEB1, cl.isn + 1 + strlen(req_a1));
	expect_hint(&r->flow, h->a_hint);
	if (h->a_hint)
		ck_assert_uint_eq(r->flow.hint_gen, GEN_BEFORE + 1);

	/* Another connection, for web2's prefix. */
	client_init(&cl2, CLIENT_PORT + 1);
	client_first(&cl2, 0, req_b1, strlen(req_b1));
	expect_n_steps(2);
	r = expect_step(1, LB_BIND_HANDOFF, WEB2);
	expect_hint(&r->flow, h->b_hint);
	if (h->b_hint)
		ck_assert_uint_eq(r->flow.hint_gen, GEN_BEFORE + 1);
}
END_TEST

/* ---- regressions: each found here and fixed ----------------------------------------- */

/*
 * "segments" counts client segments received, once each: the first request's
 * segment, then a later request's own segment.
 */
START_TEST(test_later_segment_counted_once)
{
	const uint32_t end = CLIENT_ISN + 1 + strlen(req_a1);
	struct client cl;

	start(routes_leaves);
	first_request_alone(&cl);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS), 1);
	client_seg(&cl, end, cl.cookie + 1, D_FLAGS, req_b2, strlen(req_b2));
	expect_n_steps(3); /* HANDOFF, FORWARD (its ACK), PROBE */
	ck_assert_msg(ctr(LB_DISP_SEGMENTS) == 2, "segments %llu after two client segments",
		      (unsigned long long)ctr(LB_DISP_SEGMENTS));
}
END_TEST

/*
 * Three pipelined requests, web1's, web1's, web2's. web1 gets the first, the
 * second is forwarded to it at once (ADVANCE, with the server's side still
 * where it was at the hand-off), the third is held. web1 then answers the
 * first (RESPONSE bytes, acknowledged) and reads the second, whose answer has
 * not begun (a slow page): its socket has nothing unacknowledged and every
 * request byte read, so its probe answer says idle, past the srv_seq of the
 * second request. web1 must not be reset while the client still waits for its
 * answer to the second request: the client would take web2's answer to the
 * third for it.
 *
 * web1 is simulated as the backend's ingress answers (bpf/backend_common.h):
 * snd_una after the first response, rcv_nxt after what it was sent, idle when
 * that equals the probe's seq. Every probe is answered, the timer runs, for
 * 200 ms.
 */
START_TEST(test_pipelined_chain_stays)
{
	const uint32_t l1 = strlen(req_a1), l2 = strlen(req_a2), l3 = strlen(req_b2);
	const uint32_t second = CLIENT_ISN + 1 + l1;
	size_t answered = 0, i;
	bool second_sent = false;
	char all[256];
	struct client cl;
	int rounds;

	start(routes_leaves);
	client_init(&cl, CLIENT_PORT);
	snprintf(all, sizeof(all), "%s%s%s", req_a1, req_a2, req_b2);
	client_first(&cl, 0, all, l1 + l2 + l3);
	for (rounds = 0; rounds < 100; rounds++) {
		uint32_t rcv_nxt = cl.isn + 1;
		size_t n = L.n_wire;
		struct lb_segment s;

		/* What web1 has received: the request bytes sent to it, in order. */
		for (i = 0; i < n; i++) {
			wire_seg(i, &s);
			if (!memcmp(s.dst_mac, be_mac[WEB1], 6) && !(s.flags & LB_TH_RST) &&
			    s.seq == rcv_nxt)
				rcv_nxt += s.len;
		}
		for (i = answered; i < n; i++) {
			wire_seg(i, &s);
			if (!memcmp(s.dst_mac, be_mac[WEB1], 6) && s.has_rebind &&
			    ntohs(s.rebind.exid) == LB_PROBE_EXID)
				backend_answer(i, s.seq == rcv_nxt ? LB_PROBE_IDLE : LB_PROBE_BUSY,
					       cl.cookie + 1 + RESPONSE, rcv_nxt);
		}
		answered = n;
		L.now += 2;
		lb_dispatcher_timers(L.d, L.now);
	}
	for (i = 0; i < L.n_wire; i++) {
		struct lb_segment s;

		wire_seg(i, &s);
		if (memcmp(s.dst_mac, be_mac[WEB1], 6))
			continue;
		if (s.len && s.seq == second)
			second_sent = true;
		ck_assert_msg(!(s.flags & LB_TH_RST) || !second_sent,
			      "web1 reset (frame %zu, seq %u) while its answer to the request at %u "
			      "has not begun",
			      i, s.seq, second);
	}
	ck_assert_uint_eq(flow_of(&cl).backend, WEB1);
}
END_TEST

/*
 * The new backend's timestamp clock continues from the TSecr of the request
 * it is handed (the adopt request's). A request pipelined with the first one
 * is held while web1 answers the first; the client echoes web1's clock in
 * what it sends meanwhile, here a retransmission of the held request (nobody
 * acknowledges it while it is held). The hand-off to web2 must echo that, not
 * the balancer's SYN/ACK's clock the first segment echoed: web2's segments
 * would carry TSvals below what the client has seen from web1, and the
 * client drops them (PAWS) until web2's clock catches up.
 */
START_TEST(test_adopt_echoes_latest_clock)
{
	const uint32_t l2 = strlen(req_b2);
	struct lb_segment s;
	struct client cl;
	uint32_t end, srv;

	start(routes_leaves);
	end = held_for_web2(&cl);
	srv = cl.cookie + 1 + RESPONSE;
	/* web1 answered the first request; the client retransmits the held one. */
	L.now += 300;
	cl.tsecr = BE_CLOCK;
	client_seg(&cl, end, srv, D_FLAGS, req_b2, l2);
	backend_answer(2, LB_PROBE_IDLE, srv, end);
	ck_assert_uint_ge(L.n_steps, 2);
	ck_assert_msg(L.steps[L.n_steps - 1].step == LB_BIND_HANDOFF, "last step %s",
		      step_name(L.steps[L.n_steps - 1].step));
	wire_seg(L.n_wire - 1, &s);
	ck_assert_mem_eq(s.dst_mac, be_mac[WEB2], 6);
	ck_assert_msg((int32_t)(s.tsecr - BE_CLOCK) >= 0,
		      "adopt request echoes %#x, below %#x the client echoed since", s.tsecr,
		      BE_CLOCK);
}
END_TEST

/* ---- 6. a new connection's flow, claimed in one insert ----------------------------- */

/*
 * A copy of the first segment that was sent up before the hand-off took the
 * connection (queued at the socket, or on another dispatcher thread's ring):
 * the flow is bound now, so it is a duplicate. No second hand-off, nothing on
 * the wire, the flow and its backend's count as the hand-off left them.
 */
START_TEST(test_first_segment_after_handoff)
{
	struct client cl;
	struct lb_flow f;

	start(routes_leaves);
	first_request_alone(&cl);
	client_first(&cl, 0, req_a1, strlen(req_a1));

	/* Tried whole: the fresh flow's insert is refused before anything is sent. */
	expect_n_steps(2);
	ck_assert(L.steps[1].step == LB_BIND_HANDOFF && L.steps[1].ret == -1);
	expect_n_wire(1);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_DUP), 1);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 1);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 1);
	f = flow_of(&cl);
	expect_first_flow(&f, &cl, WEB1, cl.isn + 1 + strlen(req_a1));
	ck_assert_uint_eq(L.backends[WEB1].active, 1);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 0);
}
END_TEST

/*
 * A flow still in the dispatcher's state whose record is gone (dropped at the
 * cap, or a daemon before this one): the connection's first segment takes it
 * over and is handed off.
 */
START_TEST(test_dispatch_flow_taken_over)
{
	struct lb_flow stale = { .state = LB_FLOW_DISPATCH, .last_seen_ns = 1 };
	struct lb_flow_key k;
	struct client cl;
	struct lb_flow f;

	start(routes_leaves);
	client_init(&cl, CLIENT_PORT);
	k = flow_key(&cl);
	ck_assert_int_eq(bpf_map_update_elem(L.flows.fd, &k, &stale, BPF_NOEXIST), 0);
	client_first(&cl, 0, req_a1, strlen(req_a1));

	/* Tried whole, refused (a flow is there), then taken over the usual way. */
	expect_n_steps(2);
	ck_assert(L.steps[0].step == LB_BIND_HANDOFF && L.steps[0].ret == -1);
	expect_step(1, LB_BIND_HANDOFF, WEB1);
	expect_n_wire(1);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_DUP), 0);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 1);
	f = flow_of(&cl);
	expect_first_flow(&f, &cl, WEB1, cl.isn + 1 + strlen(req_a1));
}
END_TEST

/* ---- hand-offs in a batch (user/workers.c's, one lb_flow_binds run) ------------------- */

static struct lb_handoff_batch batch;
static struct {
	uint8_t buf[2048];
	size_t len;
	int n;
} retried;

/* What a dispatcher thread does with a frame whose hand-off lost its flow: take it at once. */
static void retry(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	ck_assert_uint_le(len, sizeof(retried.buf));
	memcpy(retried.buf, frame, len);
	retried.len = len;
	retried.n++;
	L.h.batch = NULL;
	lb_dispatcher_input(L.d, frame, len, L.now, TAI);
	L.h.batch = &batch;
}

static void start_batched(void)
{
	start(routes_leaves);
	memset(&batch, 0, sizeof(batch));
	memset(&retried, 0, sizeof(retried));
	L.h.batch = &batch;
}

/* A frame of @cl's connection (@to_client: the other way, as its backend sends). */
static bool waiting(const struct client *cl, uint16_t port, bool to_client)
{
	struct lb_segment s = {
		.saddr = htonl(CLIENT_IP), .daddr = htonl(VIP_IP), .sport = htons(port),
		.dport = htons(VIP_PORT), .seq = cl->isn + 1, .ack = cl->cookie + 1,
		.flags = LB_TH_ACK, .window = 502,
	};
	uint8_t buf[256];
	size_t n;

	if (to_client) {
		s.saddr = htonl(VIP_IP);
		s.daddr = htonl(CLIENT_IP);
		s.sport = htons(VIP_PORT);
		s.dport = htons(port);
	}
	n = lb_segment_build(buf, sizeof(buf), &s);
	ck_assert_uint_gt(n, 0);
	return lb_handoff_waiting(&L.h, buf, n);
}

/*
 * A whole first request: its hand-off waits in the batch (no flow, nothing
 * sent, the connection's frames known as waiting), and the commit puts the
 * flow, counts it and only then sends the request.
 */
START_TEST(test_batched_handoff)
{
	const uint32_t l1 = strlen(req_a1);
	const struct step_rec *r;
	struct client cl;
	struct lb_flow f;

	start_batched();
	client_init(&cl, CLIENT_PORT);
	client_first(&cl, 0, req_a1, l1);
	expect_n_steps(1);
	r = expect_step(0, LB_BIND_HANDOFF, WEB1);
	ck_assert_int_eq(r->ret, 0);
	ck_assert(!r->flow_ok);
	expect_n_wire(0);
	ck_assert_uint_eq(batch.binds.n, 1);
	ck_assert_uint_eq(L.backends[WEB1].active, 0);
	ck_assert(waiting(&cl, CLIENT_PORT, false));
	ck_assert(waiting(&cl, CLIENT_PORT, true));
	ck_assert(!waiting(&cl, CLIENT_PORT + 1, false));
	/* Its counts wait with it: nothing decided yet as far as anyone can see. */
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 0);
	ck_assert_uint_eq(L.backends[WEB1].chosen, 0);

	lb_handoff_commit(&L.h, retry, NULL);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 1);
	ck_assert_uint_eq(L.backends[WEB1].chosen, 1);
	ck_assert_int_eq(retried.n, 0);
	ck_assert_uint_eq(batch.binds.n, 0);
	ck_assert(!waiting(&cl, CLIENT_PORT, false));
	f = flow_of(&cl);
	expect_first_flow(&f, &cl, WEB1, cl.isn + 1 + l1);
	ck_assert_uint_eq(L.backends[WEB1].active, 1);
	expect_n_wire(1);
	expect_request(0, &cl, WEB1, cl.isn + 1, cl.cookie + 1, req_a1, l1, false);
	ck_assert_uint_eq(lb_dispatcher_conns(L.d), 0);
}
END_TEST

/*
 * The flow's ports taken meanwhile (a flow in the dispatcher's state, its
 * record gone): the batched hand-off sends nothing and its frame is taken
 * again at once, which takes the flow over as test_dispatch_flow_taken_over
 * does: one request on the wire, one count, one decision (the first try's
 * counts went with its flow).
 */
START_TEST(test_batched_handoff_lost)
{
	struct lb_flow stale = { .state = LB_FLOW_DISPATCH, .last_seen_ns = 1 };
	const uint32_t l1 = strlen(req_a1);
	struct lb_flow_key k;
	struct client cl;
	struct lb_flow f;

	start_batched();
	client_init(&cl, CLIENT_PORT);
	k = flow_key(&cl);
	client_first(&cl, 0, req_a1, l1);
	expect_n_steps(1);
	ck_assert_int_eq(L.steps[0].ret, 0);
	ck_assert_int_eq(bpf_map_update_elem(L.flows.fd, &k, &stale, BPF_NOEXIST), 0);

	lb_handoff_commit(&L.h, retry, NULL);
	ck_assert_int_eq(retried.n, 1);
	ck_assert_uint_eq(retried.len, batch.in[0].len);
	expect_n_steps(3); /* tried whole at once, refused; then the usual way */
	ck_assert(L.steps[1].step == LB_BIND_HANDOFF && L.steps[1].ret == -1);
	expect_step(2, LB_BIND_HANDOFF, WEB1);
	expect_n_wire(1);
	expect_request(0, &cl, WEB1, cl.isn + 1, cl.cookie + 1, req_a1, l1, false);
	f = flow_of(&cl);
	expect_first_flow(&f, &cl, WEB1, cl.isn + 1 + l1);
	ck_assert_uint_eq(L.backends[WEB1].active, 1);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 1);
	ck_assert_uint_eq(L.backends[WEB1].chosen, 1);
}
END_TEST

Suite *later_suite(void)
{
	Suite *s = suite_create("later_requests");
	TCase *tc = tcase_create("dispatcher");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_pipelined_same_holder);
	tcase_add_test(tc, test_pipelined_in_order);
	tcase_add_loop_test(tc, test_pipelined_proof, 0, sizeof(pipe_rows) / sizeof(pipe_rows[0]));
	tcase_add_test(tc, test_pipelined_other_holder);
	tcase_add_test(tc, test_coalesced_tail);
	tcase_add_test(tc, test_coalesced_tail_record_exists);
	tcase_add_test(tc, test_answer_idle_moves);
	tcase_add_test(tc, test_answer_idle_parks);
	tcase_add_test(tc, test_moving_then_next_request_once);
	tcase_add_test(tc, test_answer_busy_holds);
	tcase_add_test(tc, test_no_route_404);
	tcase_add_test(tc, test_new_holder_refuses);
	tcase_add_loop_test(tc, test_hints, 0, sizeof(hint_rows) / sizeof(hint_rows[0]));
	tcase_add_test(tc, test_later_segment_counted_once);
	tcase_add_test(tc, test_pipelined_chain_stays);
	tcase_add_test(tc, test_adopt_echoes_latest_clock);
	tcase_add_test(tc, test_first_segment_after_handoff);
	tcase_add_test(tc, test_dispatch_flow_taken_over);
	tcase_add_test(tc, test_batched_handoff);
	tcase_add_test(tc, test_batched_handoff_lost);
	suite_add_tcase(s, tc);
	return s;
}
