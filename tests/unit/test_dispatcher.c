// SPDX-License-Identifier: GPL-2.0
/*
 * The dispatcher (user/dispatcher.c) driven through its public API only:
 * client segments built with lb_segment_build() and a real cookie go in, the
 * frames it sends are captured and parsed back, time is a number we choose.
 * Each test asserts the bytes and fields on the wire and the counters, so it
 * fails when the feature it names breaks.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "config.h"
#include "cookie.h"
#include "directory.h"
#include "dispatcher.h"
#include "handoff.h"
#include "route_counts.h"
#include "topk.h"
#include "handoff_opt.h"
#include "packet.h"
#include "reply.h"
#include "select.h"
#include "stats.h"
#include "suites.h"

#define TAI	    1800000000ULL	/* a fixed TAI second for every cookie */
#define CLIENT_IP   0xcb00710aU		/* 203.0.113.10 */
#define VIP_IP	    0xc0000250U		/* 192.0.2.80 */
#define VIP_PORT    80
#define CLIENT_PORT 40000
#define LIMIT	    4096		/* handoff.request_limit below */
#define TIMEOUT_MS  1000		/* handoff.request_timeout_ms below */
#define SCALE	    7			/* handoff.wscale below */
#define MAX_SENT    64
#define D_FLAGS	    (LB_TH_ACK | LB_TH_PSH)

static const char yaml[] =
	"interface: eth0\n"
	"vips:\n"
	"  - {address: 192.0.2.80, port: 80, mode: http}\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11}\n"
	"  - {name: web2, address: 198.51.100.12}\n"
	"  - {name: web3, address: 198.51.100.13}\n"
	"routes:\n"
	"  - {host: \"*\", prefix: /web1/, backends: [web1]}\n"
	"  - {host: \"*\", prefix: /pair/, backends: [web1, web2]}\n"
	"  - {host: \"*\", path: /, backends: [web1, web2, web3]}\n"
	"handoff: {mss: 1400, wscale: 7, request_limit: 4096, request_timeout_ms: 1000}\n";

static const uint8_t hop_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x0c }; /* router */
static const uint8_t lb_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x00, 0x1b };  /* balancer */

/* What the client's SYN offered: everything, or nothing at all. */
static const struct lb_cookie_opts opts_full = { .mss = 1460, .wscale = 7, .sack = 1 };
static const struct lb_cookie_opts opts_none = { .mss = 536, .wscale = LB_COOKIE_WSCALE_NONE };

struct sent_frame {
	size_t len;
	uint64_t at; /* t.now when it was sent */
	uint8_t buf[2048];
};

/* One fixture per test (Check forks each one). */
static struct {
	struct lb_config cfg;
	struct lb_directory *dir;
	struct lb_cookie_secret secret;
	struct lb_dispatcher *d;
	uint64_t now;
	uint64_t tai;
	/* send callback */
	struct sent_frame sent[MAX_SENT];
	size_t n_sent;
	bool send_fail;
	/* bind callback */
	int bind_ret;
	unsigned binds;
	uint32_t bound;
	enum lb_bind_step steps[16]; /* every call's step, in order */
	uint32_t step_backend[16];
	struct lb_handoff_ctx *handoff;  /* set: the real hand-off runs too, frames captured */
	struct lb_flow_table flows;	 /* no map: counts binds once a test gives it backends */
	size_t conns_in_bind;
	struct lb_conn_view view;
	uint8_t request[LIMIT];
} t;

struct client {
	uint16_t port;
	uint32_t isn;
	uint32_t cookie;
	struct lb_cookie_opts opts;
	bool ts;
	uint32_t tsval; /* the last TSval sent */
};

/* ---- callbacks --------------------------------------------------------------- */

static int capture(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	if (t.send_fail)
		return -1;
	ck_assert_uint_lt(t.n_sent, MAX_SENT);
	ck_assert_uint_le(len, sizeof(t.sent[0].buf));
	memcpy(t.sent[t.n_sent].buf, frame, len);
	t.sent[t.n_sent].len = len;
	t.sent[t.n_sent].at = t.now;
	t.n_sent++;
	return 0;
}

static int on_bind(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c, uint32_t backend,
		   enum lb_bind_step step)
{
	(void)ctx;
	if (t.binds < 16) {
		t.steps[t.binds] = step;
		t.step_backend[t.binds] = backend;
	}
	t.binds++;
	t.bound = backend;
	t.conns_in_bind = lb_dispatcher_conns(d);
	lb_conn_describe(c, &t.view);
	ck_assert_uint_le(t.view.request_len, sizeof(t.request));
	if (t.view.request_len)
		memcpy(t.request, t.view.request, t.view.request_len);
	t.view.request = NULL; /* not ours to keep */
	if (t.handoff && !t.bind_ret)
		return lb_handoff_bind(t.handoff, d, c, backend, step);
	return t.bind_ret;
}

static void setup_with(const char *text)
{
	struct lb_dispatcher_maps maps = { .flows = &t.flows, .backends_fd = -1,
					  .hint_gen_fd = -1 };
	char err[LB_ERR_MAX];

	memset(&t, 0, sizeof(t));
	lb_flow_table_init(&t.flows, -1, LB_FLOW_NO_PROGS, NULL);
	ck_assert_msg(!lb_config_parse("dispatcher.yaml", text, strlen(text), &t.cfg, err,
				       sizeof(err)),
		      "config: %s", err);
	t.dir = lb_directory_build(t.cfg.routes, t.cfg.n_routes, err, sizeof(err));
	ck_assert_msg(t.dir, "directory: %s", err);
	t.secret = (struct lb_cookie_secret){
		.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
		.period_s = 64,
		.windows = 2,
	};
	t.tai = TAI;
	t.d = lb_dispatcher_new(&t.cfg, t.dir, &t.secret, &maps, capture, NULL);
	ck_assert_ptr_nonnull(t.d);
	lb_dispatcher_set_bind(t.d, on_bind, NULL);
}

static void setup(void)
{
	setup_with(yaml);
}

static void teardown(void)
{
	lb_dispatcher_free(t.d);
	lb_directory_free(t.dir);
	lb_config_free(&t.cfg);
}

/* ---- the client side ----------------------------------------------------------- */

static void client_init(struct client *cl, uint16_t port, uint32_t isn, bool ts,
			const struct lb_cookie_opts *o)
{
	struct lb_cookie_tuple tu = {
		.caddr = htonl(CLIENT_IP), .vaddr = htonl(VIP_IP),
		.cport = htons(port), .vport = htons(VIP_PORT),
	};

	memset(cl, 0, sizeof(*cl));
	cl->port = port;
	cl->isn = isn;
	cl->opts = *o;
	cl->ts = ts;
	cl->tsval = 0x5eed0000 + port;
	cl->cookie = lb_cookie_make(t.secret.key, &tu, isn, lb_cookie_counter(&t.secret, TAI),
				    lb_cookie_encode_opts(o));
}

/* The default client: 203.0.113.10:40000, timestamps and all options on. */
static void client_default(struct client *cl)
{
	client_init(cl, CLIENT_PORT, 0x10000000, true, &opts_full);
}

static size_t client_frame(struct client *cl, uint8_t *buf, size_t cap, uint32_t seq, uint32_t ack,
			   uint8_t flags, const void *data, size_t len)
{
	struct lb_segment s = {
		.saddr = htonl(CLIENT_IP), .daddr = htonl(VIP_IP),
		.sport = htons(cl->port), .dport = htons(VIP_PORT),
		.seq = seq, .ack = ack, .flags = flags, .window = 502,
		.has_ts = cl->ts, .tsval = ++cl->tsval, .tsecr = 0x0badcafe,
		.payload = data, .len = (uint32_t)len,
	};
	size_t n;

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, hop_mac, 6);
	n = lb_segment_build(buf, cap, &s);
	ck_assert_uint_gt(n, 0);
	return n;
}

/* A segment with explicit seq and ack, in at time t.now. */
static void client_raw(struct client *cl, uint32_t seq, uint32_t ack, uint8_t flags,
		       const void *data, size_t len)
{
	uint8_t buf[2048];
	size_t n = client_frame(cl, buf, sizeof(buf), seq, ack, flags, data, len);

	lb_dispatcher_input(t.d, buf, n, t.now, t.tai);
}

/* Request bytes at offset @off of the client's stream, acknowledging our SYN/ACK. */
static void client_send(struct client *cl, uint32_t off, uint8_t flags, const void *data,
			size_t len)
{
	client_raw(cl, cl->isn + 1 + off, cl->cookie + 1, flags, data, len);
}

static void client_str(struct client *cl, uint32_t off, const char *s)
{
	client_send(cl, off, D_FLAGS, s, strlen(s));
}

/* ---- what came out ------------------------------------------------------------- */

static void sent_seg(size_t i, struct lb_segment *s)
{
	ck_assert_uint_lt(i, t.n_sent);
	ck_assert_msg(lb_segment_parse(t.sent[i].buf, t.sent[i].len, s) == 0,
		      "frame %zu does not parse", i);
}

static uint64_t ctr(enum lb_dispatch_counter c)
{
	return lb_dispatcher_counter(t.d, c);
}

static uint64_t replies(void)
{
	return ctr(LB_DISP_REPLY_400) + ctr(LB_DISP_REPLY_404) + ctr(LB_DISP_REPLY_408) +
	       ctr(LB_DISP_REPLY_414) + ctr(LB_DISP_REPLY_431) + ctr(LB_DISP_REPLY_501) +
	       ctr(LB_DISP_REPLY_503) + ctr(LB_DISP_REPLY_505);
}

/* Addressed from VIP:80 to @cl, on the Ethernet hop the client's frames came from. */
static void expect_to_client(const struct lb_segment *s, const struct client *cl)
{
	ck_assert_uint_eq(s->saddr, htonl(VIP_IP));
	ck_assert_uint_eq(s->daddr, htonl(CLIENT_IP));
	ck_assert_uint_eq(ntohs(s->sport), VIP_PORT);
	ck_assert_uint_eq(ntohs(s->dport), cl->port);
	ck_assert_mem_eq(s->dst_mac, hop_mac, 6);
	ck_assert_mem_eq(s->src_mac, lb_mac, 6);
	ck_assert(!(s->flags & (LB_TH_SYN)));
	if (cl->ts) {
		ck_assert(s->has_ts);
		ck_assert_uint_eq(s->tsecr, cl->tsval); /* echoes the client's latest TSval */
	} else {
		ck_assert(!s->has_ts);
	}
}

/* The receive window never reaches past what the dispatcher can buffer. */
static void expect_window(const struct lb_segment *s, const struct client *cl, uint32_t held)
{
	uint32_t shift = cl->opts.wscale == LB_COOKIE_WSCALE_NONE ? 0 : SCALE;
	uint64_t win = (uint64_t)s->window << shift;

	ck_assert_uint_le(held + win, LIMIT);
	ck_assert_uint_gt(held + win + (1u << shift), LIMIT);
}

/* Frame @i is a pure ACK with this seq and ack. */
static void expect_ack(size_t i, const struct client *cl, uint32_t seq, uint32_t ack)
{
	struct lb_segment s;

	sent_seg(i, &s);
	expect_to_client(&s, cl);
	ck_assert_msg(s.flags == LB_TH_ACK, "frame %zu: flags %#x, want a pure ACK", i, s.flags);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_msg(s.seq == seq, "frame %zu: seq %u, want %u", i, s.seq, seq);
	ck_assert_msg(s.ack == ack, "frame %zu: ack %u, want %u (%+d)", i, s.ack, ack,
		      (int32_t)(s.ack - ack));
}

/*
 * Frames [first, t.n_sent) are exactly one reply of ours: in sequence from
 * cookie + 1, every one ACKing @ack, FIN and PSH on the last only. Their
 * payload, reassembled, goes into @out (NUL-terminated); returns its length.
 */
static size_t collect_reply(const struct client *cl, size_t first, uint32_t ack, char *out,
			    size_t cap)
{
	size_t i, n = 0;

	ck_assert_uint_lt(first, t.n_sent);
	for (i = first; i < t.n_sent; i++) {
		struct lb_segment s;
		bool last = i + 1 == t.n_sent;

		sent_seg(i, &s);
		expect_to_client(&s, cl);
		ck_assert_uint_eq(s.seq, cl->cookie + 1 + n);
		ck_assert_uint_eq(s.ack, ack);
		ck_assert(s.flags & LB_TH_ACK);
		ck_assert(!(s.flags & LB_TH_RST));
		ck_assert_msg(!!(s.flags & LB_TH_FIN) == last, "FIN on frame %zu of %zu", i - first,
			      t.n_sent - first);
		if (last)
			ck_assert(s.flags & LB_TH_PSH);
		ck_assert_uint_le(s.len, cl->opts.mss);
		ck_assert_uint_lt(n + s.len, cap);
		memcpy(out + n, s.payload, s.len);
		n += s.len;
	}
	out[n] = '\0';
	return n;
}

/* @text is a complete HTTP/1.1 reply starting with @status_line, closing the connection. */
static void check_http_reply(const char *text, size_t len, const char *status_line, bool head)
{
	const char *end = strstr(text, "\r\n\r\n"), *cl;
	size_t hlen, blen;
	unsigned long clen;

	ck_assert_msg(!strncmp(text, status_line, strlen(status_line)), "reply starts '%.40s'",
		      text);
	ck_assert_ptr_nonnull(end);
	hlen = end + 4 - text;
	blen = len - hlen;
	ck_assert_msg(memmem(text, hlen, "\r\nConnection: close\r\n", 21), "%s", text);
	cl = memmem(text, hlen, "\r\nContent-Length: ", 18);
	ck_assert_msg(cl, "no Content-Length in %s", text);
	clen = strtoul(cl + 18, NULL, 10);
	if (head) {
		ck_assert_uint_eq(blen, 0);
		ck_assert_uint_gt(clen, 0);
	} else {
		ck_assert_uint_eq(clen, blen);
		ck_assert_uint_gt(blen, 0);
	}
}

/* The whole of what was sent from @first on is one reply with this status line. */
static void expect_reply(const struct client *cl, size_t first, uint32_t ack,
			 const char *status_line, bool head, char *text, size_t cap)
{
	size_t n = collect_reply(cl, first, ack, text, cap);

	check_http_reply(text, n, status_line, head);
}

/* ---- 1. an unrouted request: the balancer's own 404 ------------------------------ */

static const struct unrouted_row {
	const char *name;
	const char *req;
	bool ts;
	const struct lb_cookie_opts *opts;
	bool head;
} unrouted_rows[] = {
	{ "GET, timestamps", "GET /nothing HTTP/1.1\r\nHost: example.com\r\n\r\n", true,
	  &opts_full, false },
	{ "GET, no options", "GET /nothing HTTP/1.1\r\nHost: example.com\r\n\r\n", false,
	  &opts_none, false },
	{ "HEAD: no body", "HEAD /nothing HTTP/1.1\r\nHost: example.com\r\n\r\n", true,
	  &opts_full, true },
	{ "dot segments cannot dodge", "GET /web1/../nothing HTTP/1.1\r\nHost: a\r\n\r\n", true,
	  &opts_full, false },
	{ "%2e%2e cannot dodge", "GET /web1/%2e%2E/x HTTP/1.1\r\nHost: a\r\n\r\n", true,
	  &opts_full, false },
	{ "prefix is a byte prefix", "GET /web1 HTTP/1.1\r\nHost: a\r\n\r\n", true, &opts_full,
	  false },
};

START_TEST(test_unrouted_404)
{
	const struct unrouted_row *r = &unrouted_rows[_i];
	uint32_t len = strlen(r->req);
	struct client cl;
	char text[1024];

	client_init(&cl, CLIENT_PORT, 0xfffffff0, r->ts, r->opts); /* seq wraps inside */
	client_str(&cl, 0, r->req);
	ck_assert_msg(t.n_sent >= 1, "%s: nothing sent", r->name);
	expect_reply(&cl, 0, cl.isn + 1 + len, "HTTP/1.1 404 Not Found\r\n", r->head, text,
		     sizeof(text));
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 1);
	ck_assert_uint_eq(replies(), 1);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 1);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 0);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_COOKIE), 0);
	ck_assert_uint_eq(t.binds, 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 1); /* until the close completes */

	/* The request again (our ACK was lost): decided once, not answered twice. */
	t.n_sent = 0;
	client_str(&cl, 0, r->req);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 1);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 1);
	ck_assert_uint_eq(t.binds, 0);
}
END_TEST

/* ---- 2. a routed request goes to the bind callback ------------------------------ */

static const struct route_row {
	const char *name;
	const char *req;
	uint32_t holders; /* bit i: backend i may be chosen */
} route_rows[] = {
	{ "prefix /web1/", "GET /web1/a.jpg HTTP/1.1\r\nHost: example.com\r\n\r\n", 1 << 0 },
	{ "prefix /pair/", "GET /pair/b HTTP/1.1\r\nHost: example.com\r\n\r\n", 1 << 0 | 1 << 1 },
	{ "exact /", "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n", 7 },
	{ "body passes untouched",
	  "POST /web1/up HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello", 1 << 0 },
	{ "/a/../web1/x", "GET /a/../web1/x HTTP/1.1\r\nHost: h\r\n\r\n", 1 << 0 },
	{ "//web1//x", "GET //web1//x HTTP/1.1\r\nHost: h\r\n\r\n", 1 << 0 },
	{ "%2F splits", "GET /x/..%2Fweb1/y HTTP/1.1\r\nHost: h\r\n\r\n", 1 << 0 },
	{ "absolute form", "GET http://example.com/a/../web1/x HTTP/1.1\r\nHost: example.com\r\n\r\n",
	  1 << 0 },
	{ "query ignored", "GET /pair/../web1/?q=/pair/ HTTP/1.1\r\nHost: h\r\n\r\n", 1 << 0 },
	{ "HTTP/1.0 without Host", "GET /web1/x HTTP/1.0\r\n\r\n", 1 << 0 },
};

START_TEST(test_routed_bind)
{
	const struct route_row *r = &route_rows[_i];
	uint32_t len = strlen(r->req);
	struct client cl;

	client_default(&cl);
	client_str(&cl, 0, r->req);
	ck_assert_msg(t.binds == 1, "%s: bind called %u times", r->name, t.binds);
	ck_assert_msg(r->holders & 1u << t.bound, "%s: bound to backend %u", r->name, t.bound);
	ck_assert_uint_eq(t.conns_in_bind, 1);
	/* What the hand-off gets: the connection as the client sees it. */
	ck_assert_uint_eq(t.view.request_len, len);
	ck_assert_mem_eq(t.request, r->req, len);
	ck_assert_uint_eq(t.view.client_isn, cl.isn);
	ck_assert_uint_eq(t.view.cookie, cl.cookie);
	ck_assert_uint_eq(t.view.key.saddr, htonl(CLIENT_IP));
	ck_assert_uint_eq(t.view.key.daddr, htonl(VIP_IP));
	ck_assert_uint_eq(ntohs(t.view.key.sport), CLIENT_PORT);
	ck_assert_uint_eq(ntohs(t.view.key.dport), VIP_PORT);
	ck_assert_mem_eq(t.view.client_hop_mac, hop_mac, 6);
	ck_assert_mem_eq(t.view.own_mac, lb_mac, 6);
	ck_assert_uint_eq(t.view.opts.mss, opts_full.mss);
	ck_assert_uint_eq(t.view.opts.wscale, opts_full.wscale);
	ck_assert_uint_eq(t.view.opts.sack, opts_full.sack);
	ck_assert_uint_eq(t.view.opts.ecn, opts_full.ecn);
	/* Taken by the hand-off: forgotten, nothing said to the client. */
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(t.n_sent, 0);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 1);
	ck_assert_uint_eq(replies(), 0);
	/* No timer left behind for it. */
	t.now += 60000;
	lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(t.n_sent, 0);
}
END_TEST

/* Routed, but nobody to hand it to: 503 with Retry-After. */
static const struct unbound_row {
	const char *name;
	bool has_bind;
	int bind_ret;
	bool head;
} unbound_rows[] = {
	{ "no bind callback", false, 0, false },
	{ "bind refuses", true, -1, false },
	{ "bind refuses a HEAD", true, 1, true },
};

START_TEST(test_unbound_503)
{
	const struct unbound_row *r = &unbound_rows[_i];
	const char *req = r->head ? "HEAD /web1/x HTTP/1.1\r\nHost: h\r\n\r\n"
				  : "GET /web1/x HTTP/1.1\r\nHost: h\r\n\r\n";
	struct client cl;
	char text[1024];

	if (!r->has_bind)
		lb_dispatcher_set_bind(t.d, NULL, NULL);
	t.bind_ret = r->bind_ret;
	client_default(&cl);
	client_str(&cl, 0, req);
	/* Asked twice: trying the whole request at once, then the usual way, which answers. */
	ck_assert_uint_eq(t.binds, r->has_bind ? 2 : 0);
	if (r->has_bind)
		ck_assert_uint_eq(t.bound, 0);
	expect_reply(&cl, 0, cl.isn + 1 + strlen(req), "HTTP/1.1 503 Service Unavailable\r\n",
		     r->head, text, sizeof(text));
	ck_assert_msg(strstr(text, "\r\nRetry-After: "), "%s: no Retry-After in %s", r->name, text);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_503), 1);
	ck_assert_uint_eq(replies(), 1);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 1);
}
END_TEST

/* ---- 3. a segment without a valid cookie allocates nothing, answers nothing ------- */

enum forge { FLIP_ACK, SEQ_OFF, STALE, FUTURE, WRONG_PORT, NO_ACK_FLAG };

static const struct forge_row {
	const char *name;
	enum forge how;
	uint32_t arg;
} forge_rows[] = {
	{ "ack bit 0 (opts)", FLIP_ACK, 0 },
	{ "ack bit 7 (ecn)", FLIP_ACK, 7 },
	{ "ack bit 8 (tag)", FLIP_ACK, 8 },
	{ "ack bit 31 (tag)", FLIP_ACK, 31 },
	{ "seq not at ISN + 1", SEQ_OFF, 1 },
	{ "cookie two periods old", STALE, 2 },
	{ "cookie from the next period", FUTURE, 1 },
	{ "other client port", WRONG_PORT, 1 },
	{ "no ACK flag", NO_ACK_FLAG, 0 },
};

/*
 * A segment damaged on the way (AF_XDP frames skip the kernel's checks) must
 * not become the request: counted and dropped; the intact retransmission wins.
 */
START_TEST(test_bad_checksum_dropped)
{
	const char *req = "GET /web1/x HTTP/1.1\r\nHost: h\r\n\r\n";
	uint8_t buf[2048];
	struct client cl;
	size_t n;

	client_default(&cl);
	n = client_frame(&cl, buf, sizeof(buf), cl.isn + 1, cl.cookie + 1, D_FLAGS, req,
			 strlen(req));
	buf[n - 3] ^= 0x20; /* "x" → "X" in the path: the TCP checksum no longer holds */
	lb_dispatcher_input(t.d, buf, n, t.now, t.tai);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_CHECKSUM), 1);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 0);
	ck_assert_uint_eq(t.n_sent, 0);
	ck_assert_uint_eq(t.binds, 0);

	client_str(&cl, 0, req);
	ck_assert_uint_eq(t.binds, 1);
	ck_assert_uint_eq(t.view.request_len, strlen(req));
	ck_assert_mem_eq(t.request, req, strlen(req));
}
END_TEST

START_TEST(test_bad_cookie)
{
	const struct forge_row *r = &forge_rows[_i];
	const char *req = "GET /web1/x HTTP/1.1\r\nHost: h\r\n\r\n";
	uint32_t seq, ack;
	uint8_t flags = D_FLAGS;
	struct client cl;

	client_default(&cl);
	seq = cl.isn + 1;
	ack = cl.cookie + 1;
	switch (r->how) {
	case FLIP_ACK:
		ack ^= 1u << r->arg;
		break;
	case SEQ_OFF:
		seq += r->arg;
		break;
	case STALE:
		t.tai = TAI + (uint64_t)r->arg * t.secret.period_s;
		break;
	case FUTURE:
		t.tai = TAI - (uint64_t)r->arg * t.secret.period_s;
		break;
	case WRONG_PORT:
		cl.port += r->arg; /* the cookie was made for the other port */
		break;
	case NO_ACK_FLAG:
		flags = LB_TH_PSH;
		break;
	}
	client_raw(&cl, seq, ack, flags, req, strlen(req));
	ck_assert_msg(t.n_sent == 0, "%s: %zu frames sent", r->name, t.n_sent);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_COOKIE), 1);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS), 1);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(t.binds, 0);
	ck_assert_uint_eq(replies(), 0);
	/* Timers find nothing to do either. */
	t.now += 60000;
	lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(t.n_sent, 0);
}
END_TEST

/* ---- 4. a head in pieces: out of order, duplicated, overlapping ------------------- */

static const char split_req[] =
	"GET /pair/x HTTP/1.1\r\nHost: example.com\r\nUser-Agent: unit\r\nAccept: */*\r\n\r\n";

/*
 * The connection opens with "GET " (a segment at ISN + 1 is the only kind that
 * can open one: the client ISN, and so the cookie check, comes from its seq).
 * The rest is three segments, A [4, 24), B [24, 48), C [48, 74), delivered
 * C, A, B, with a differing copy of C, a duplicate of A and an overlap of A
 * and B whose A bytes differ (first copy wins) in between.
 */
START_TEST(test_split_out_of_order)
{
	const uint32_t len = sizeof(split_req) - 1, a = 4, b = 24, c = 48, o_end = 36;
	char c_alt[64], o_alt[64];
	struct client cl;
	uint32_t i;

	ck_assert_uint_eq(len, 74);
	client_default(&cl);

	/* Differing copies: C' with every letter changed, O = "/web1/..." over A, then B. */
	memcpy(c_alt, split_req + c, len - c);
	for (i = 0; i < len - c; i++)
		if (c_alt[i] >= 'a' && c_alt[i] <= 'z')
			c_alt[i] = 'z';
	memcpy(o_alt, split_req + a, o_end - a);
	memcpy(o_alt, "/web1/", 6);
	ck_assert(memcmp(o_alt, split_req + a, b - a));
	ck_assert(!memcmp(o_alt + (b - a), split_req + b, o_end - b));

	client_send(&cl, 0, D_FLAGS, split_req, a); /* "GET " */
	ck_assert_uint_eq(t.n_sent, 1);
	expect_ack(0, &cl, cl.cookie + 1, cl.isn + 1 + a);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 1);

	client_send(&cl, c, D_FLAGS, split_req + c, len - c); /* 3rd: ahead of a hole */
	ck_assert_uint_eq(t.n_sent, 2);
	expect_ack(1, &cl, cl.cookie + 1, cl.isn + 1 + a); /* still at the hole */
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_OOO), 1);

	client_send(&cl, c, D_FLAGS, c_alt, len - c); /* 3rd again, other bytes */
	ck_assert_uint_eq(t.n_sent, 3);
	expect_ack(2, &cl, cl.cookie + 1, cl.isn + 1 + a);

	client_send(&cl, a, D_FLAGS, split_req + a, b - a); /* 1st */
	ck_assert_uint_eq(t.n_sent, 4);
	expect_ack(3, &cl, cl.cookie + 1, cl.isn + 1 + b);
	{
		struct lb_segment s;

		sent_seg(3, &s);
		expect_window(&s, &cl, b);
	}

	client_send(&cl, a, D_FLAGS, split_req + a, b - a); /* 1st, duplicate */
	ck_assert_uint_eq(t.n_sent, 5);
	expect_ack(4, &cl, cl.cookie + 1, cl.isn + 1 + b);
	ck_assert_uint_ge(ctr(LB_DISP_SEGMENTS_DUP), 1);

	client_send(&cl, a, D_FLAGS, o_alt, o_end - a); /* overlap, differing over A */
	ck_assert_uint_eq(t.n_sent, 6);
	expect_ack(5, &cl, cl.cookie + 1, cl.isn + 1 + o_end);
	ck_assert_uint_eq(t.binds, 0);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 0);

	client_send(&cl, b, D_FLAGS, split_req + b, c - b); /* 2nd: completes the head */
	ck_assert_uint_eq(t.binds, 1);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 1);
	ck_assert_uint_eq(t.view.request_len, len);
	ck_assert_msg(!memcmp(t.request, split_req, len), "request given to bind: '%.*s'", (int)len,
		      (const char *)t.request);
	ck_assert_msg(t.bound == 0 || t.bound == 1, "bound to %u", t.bound);
	ck_assert_uint_eq(t.n_sent, 6); /* no ACK after the hand-off took it */
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_OOO), 1);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS), 7);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_COOKIE), 0);
	ck_assert_uint_eq(replies(), 0);
}
END_TEST

/*
 * The 3rd segment first, on a connection not seen yet: its seq is not ISN + 1,
 * so its cookie cannot be checked and nothing is kept or sent. The client's
 * retransmission from the start then goes through.
 */
START_TEST(test_split_third_first)
{
	const uint32_t len = sizeof(split_req) - 1, b = 24, c = 48;
	struct client cl;

	client_default(&cl);
	client_send(&cl, c, D_FLAGS, split_req + c, len - c);
	ck_assert_uint_eq(t.n_sent, 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_COOKIE), 1);

	client_send(&cl, 0, D_FLAGS, split_req, b);
	ck_assert_uint_eq(t.n_sent, 1);
	expect_ack(0, &cl, cl.cookie + 1, cl.isn + 1 + b);
	client_send(&cl, b, D_FLAGS, split_req + b, c - b);
	ck_assert_uint_eq(t.n_sent, 2);
	expect_ack(1, &cl, cl.cookie + 1, cl.isn + 1 + c);
	ck_assert_uint_eq(t.binds, 0);
	client_send(&cl, c, D_FLAGS, split_req + c, len - c);
	ck_assert_uint_eq(t.binds, 1);
	ck_assert_uint_eq(t.view.request_len, len);
	ck_assert_mem_eq(t.request, split_req, len);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
}
END_TEST

/* A segment with nothing new in it is a duplicate, also when it repeats held out-of-order bytes. */
START_TEST(test_dup_counted)
{
	const uint32_t len = sizeof(split_req) - 1, c = 48;
	struct client cl;

	client_default(&cl);
	client_send(&cl, 0, D_FLAGS, split_req, 4);
	client_send(&cl, 0, D_FLAGS, split_req, 4); /* in order, again */
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_DUP), 1);
	client_send(&cl, c, D_FLAGS, split_req + c, len - c);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_OOO), 1);
	client_send(&cl, c, D_FLAGS, split_req + c, len - c); /* out of order, again */
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_OOO), 1);
	ck_assert_msg(ctr(LB_DISP_SEGMENTS_DUP) == 2,
		      "a repeat of held out-of-order bytes: segments_dup %llu, want 2",
		      (unsigned long long)ctr(LB_DISP_SEGMENTS_DUP));
}
END_TEST

/* ---- 5. a head that does not fit: 431 --------------------------------------------- */

START_TEST(test_head_too_large_431)
{
	const uint32_t seg = 1400, total = 3 * seg;
	char *big = malloc(total), text[1024];
	const char *start = "GET /web1/x HTTP/1.1\r\nHost: h\r\nX-Fill: ";
	struct client cl;
	uint32_t off;

	ck_assert_ptr_nonnull(big);
	memset(big, 'a', total);
	memcpy(big, start, strlen(start));
	client_default(&cl);
	for (off = 0; off < 2 * seg; off += seg) {
		struct lb_segment s;

		client_send(&cl, off, D_FLAGS, big + off, seg);
		ck_assert_uint_eq(t.n_sent, off / seg + 1);
		expect_ack(t.n_sent - 1, &cl, cl.cookie + 1, cl.isn + 1 + off + seg);
		sent_seg(t.n_sent - 1, &s);
		expect_window(&s, &cl, off + seg);
	}
	ck_assert_uint_eq(replies(), 0);
	client_send(&cl, 2 * seg, D_FLAGS, big + 2 * seg, seg); /* crosses the limit */
	expect_reply(&cl, 2, cl.isn + 1 + LIMIT, "HTTP/1.1 431 Request Header Fields Too Large\r\n",
		     false, text, sizeof(text));
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_431), 1);
	ck_assert_uint_eq(replies(), 1);
	ck_assert_uint_eq(ctr(LB_DISP_SEGMENTS_OUTSIDE), 1);
	ck_assert_uint_eq(t.binds, 0);
	free(big);
}
END_TEST

/* ---- 6. a head that never completes: 408 at the timeout --------------------------- */

START_TEST(test_request_timeout_408)
{
	const char *part = "GET /web1/x HTTP/1.1\r\nHo";
	uint32_t len = strlen(part);
	struct client cl;
	char text[1024];
	uint64_t wait;

	t.now = 5000;
	client_default(&cl);
	client_str(&cl, 0, part);
	ck_assert_uint_eq(t.n_sent, 1);
	expect_ack(0, &cl, cl.cookie + 1, cl.isn + 1 + len);

	t.now = 5000 + TIMEOUT_MS / 2;
	wait = lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(wait, TIMEOUT_MS / 2);
	t.now = 5000 + TIMEOUT_MS - 1;
	wait = lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(wait, 1);
	ck_assert_uint_eq(t.n_sent, 1);
	ck_assert_uint_eq(replies(), 0);

	t.now = 5000 + TIMEOUT_MS + 1;
	lb_dispatcher_timers(t.d, t.now);
	expect_reply(&cl, 1, cl.isn + 1 + len, "HTTP/1.1 408 Request Timeout\r\n", false, text,
		     sizeof(text));
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_408), 1);
	ck_assert_uint_eq(replies(), 1);
	ck_assert_uint_eq(t.binds, 0);
}
END_TEST

/* ---- 7. the client resets before the head is complete ----------------------------- */

static const uint8_t rst_rows[] = { LB_TH_RST, LB_TH_RST | LB_TH_ACK };

START_TEST(test_client_rst)
{
	const char *part = "GET /web1/x HTTP/1.1\r\nHo";
	uint32_t len = strlen(part);
	struct client cl, other;

	client_default(&cl);
	client_str(&cl, 0, part);
	ck_assert_uint_eq(t.n_sent, 1);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 1);

	client_send(&cl, len, rst_rows[_i], NULL, 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(ctr(LB_DISP_CLIENT_RST), 1);
	ck_assert_uint_eq(t.n_sent, 1);

	/* Nothing left to time out, and no reply ever. */
	t.now += 10 * TIMEOUT_MS;
	lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(t.n_sent, 1);
	ck_assert_uint_eq(replies(), 0);

	/* A reset for a connection never seen: nothing to do, nothing counted. */
	client_init(&other, CLIENT_PORT + 1, 0x20000000, true, &opts_full);
	client_send(&other, 0, rst_rows[_i], NULL, 0);
	ck_assert_uint_eq(t.n_sent, 1);
	ck_assert_uint_eq(ctr(LB_DISP_CLIENT_RST), 1);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_COOKIE), 0);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 1);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
}
END_TEST

/* ---- 8. the client closes first ---------------------------------------------------- */

static const struct fin_row {
	const char *name;
	const char *data;
	bool separate_fin; /* data first, then a FIN of its own */
	int status;	   /* 0: no reply, just our FIN */
} fin_rows[] = {
	{ "FIN, no data", "", false, 0 },
	{ "FIN on a partial head", "GET /web1/x HTTP/1.1\r\nHo", false, 400 },
	{ "FIN after a partial head", "GET /web1/x HTTP/1.1\r\nHo", true, 400 },
};

START_TEST(test_client_fin)
{
	const struct fin_row *r = &fin_rows[_i];
	uint32_t len = strlen(r->data);
	struct client cl;
	size_t first = 0;
	char text[1024];

	client_default(&cl);
	if (r->separate_fin) {
		client_str(&cl, 0, r->data);
		ck_assert_uint_eq(t.n_sent, 1);
		expect_ack(0, &cl, cl.cookie + 1, cl.isn + 1 + len);
		first = 1;
		client_send(&cl, len, LB_TH_FIN | LB_TH_ACK, NULL, 0);
	} else {
		client_send(&cl, 0, LB_TH_FIN | LB_TH_ACK | (len ? LB_TH_PSH : 0), r->data, len);
	}
	ck_assert_uint_eq(ctr(LB_DISP_CLIENT_FIN), 1);
	ck_assert_uint_eq(t.binds, 0);
	if (!r->status) {
		struct lb_segment s;

		ck_assert_uint_eq(t.n_sent, first + 1);
		sent_seg(first, &s);
		expect_to_client(&s, &cl);
		ck_assert(s.flags & LB_TH_FIN);
		ck_assert(s.flags & LB_TH_ACK);
		ck_assert(!(s.flags & LB_TH_RST));
		ck_assert_uint_eq(s.len, 0);
		ck_assert_uint_eq(s.seq, cl.cookie + 1);
		ck_assert_uint_eq(s.ack, cl.isn + 1 + 1); /* their FIN */
		ck_assert_uint_eq(replies(), 0);
		ck_assert_uint_eq(ctr(LB_DISP_REPLY_RETRANSMITS), 0);
	} else {
		char line[64];

		snprintf(line, sizeof(line), "HTTP/1.1 %d ", r->status);
		expect_reply(&cl, first, cl.isn + 1 + len + 1, line, false, text, sizeof(text));
		ck_assert_uint_eq(ctr(LB_DISP_REPLY_400), 1);
		ck_assert_uint_eq(replies(), 1);
	}
}
END_TEST

/* ---- 9. our reply: retransmitted, then abandoned; or closed properly ---------------- */

START_TEST(test_reply_retransmit_abandon)
{
	const char *req = "GET /nothing HTTP/1.1\r\nHost: h\r\n\r\n";
	uint32_t len = strlen(req);
	struct lb_segment first, s;
	struct client cl;
	uint64_t wait;
	size_t i, n_reply;
	char text[1024];

	client_default(&cl);
	client_str(&cl, 0, req);
	n_reply = t.n_sent;
	expect_reply(&cl, 0, cl.isn + 1 + len, "HTTP/1.1 404 Not Found\r\n", false, text,
		     sizeof(text));
	ck_assert_uint_eq(n_reply, 1);
	sent_seg(0, &first);

	/* Nothing is resent straight away. */
	wait = lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_gt(wait, 0);
	ck_assert_uint_eq(t.n_sent, 1);
	t.now += wait - 1;
	lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(t.n_sent, 1);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_RETRANSMITS), 0);
	wait = 1;

	/* The client never answers. */
	while (lb_dispatcher_conns(t.d) && t.now < 600000) {
		t.now += wait;
		wait = lb_dispatcher_timers(t.d, t.now);
		ck_assert_uint_gt(wait, 0);
	}
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_ge(ctr(LB_DISP_REPLY_RETRANSMITS), 2);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_ABANDONED), 1);
	ck_assert_uint_eq(t.n_sent, 1 + ctr(LB_DISP_REPLY_RETRANSMITS) + 1);
	for (i = 1; i + 1 < t.n_sent; i++) {
		sent_seg(i, &s);
		expect_to_client(&s, &cl);
		ck_assert_uint_eq(s.seq, first.seq);
		ck_assert_uint_eq(s.ack, first.ack);
		ck_assert_uint_eq(s.flags, first.flags);
		ck_assert_uint_eq(s.len, first.len);
		ck_assert_mem_eq(s.payload, first.payload, first.len);
		/* Backing off: each wait at least as long as the one before. */
		ck_assert_uint_gt(t.sent[i].at, t.sent[i - 1].at);
		if (i >= 2)
			ck_assert_uint_ge(t.sent[i].at - t.sent[i - 1].at,
					  t.sent[i - 1].at - t.sent[i - 2].at);
	}
	sent_seg(t.n_sent - 1, &s);
	expect_to_client(&s, &cl);
	ck_assert(s.flags & LB_TH_RST);
	ck_assert(!(s.flags & (LB_TH_FIN | LB_TH_PSH)));
	ck_assert_uint_eq(s.len, 0);
	ck_assert_uint_eq(s.seq, cl.cookie + 1 + first.len + 1); /* after our FIN */
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 1);
}
END_TEST

enum close_how { ACK_AND_FIN, ACK_THEN_FIN, FIN_THEN_ACK, ACK_ONLY };

static const struct close_row {
	const char *name;
	enum close_how how;
	uint32_t body; /* bytes of body sent after the head, which the reply made moot */
} close_rows[] = {
	{ "ACK of our FIN with their FIN", ACK_AND_FIN, 0 },
	{ "ACK, then FIN", ACK_THEN_FIN, 0 },
	{ "FIN (not acking ours), then ACK", FIN_THEN_ACK, 0 },
	{ "ACK, never a FIN", ACK_ONLY, 0 },
	{ "body, then ACK with FIN", ACK_AND_FIN, 10 },
};

START_TEST(test_reply_close)
{
	const struct close_row *r = &close_rows[_i];
	const char *req = r->body ? "POST /nothing HTTP/1.1\r\nHost: h\r\nContent-Length: 10\r\n\r\n"
				  : "GET /nothing HTTP/1.1\r\nHost: h\r\n\r\n";
	uint32_t len = strlen(req), our_fin, their_fin;
	struct lb_segment reply;
	struct client cl;
	uint64_t wait, t0;
	size_t n;

	client_default(&cl);
	client_str(&cl, 0, req);
	ck_assert_uint_eq(t.n_sent, 1);
	sent_seg(0, &reply);
	our_fin = cl.cookie + 1 + reply.len; /* seq of our FIN */
	their_fin = cl.isn + 1 + len + r->body;
	t.now = 50;
	if (r->body) {
		/* The body is discarded (like a lingering close); it must not stall the close. */
		client_send(&cl, len, D_FLAGS, "0123456789", r->body);
		ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 1);
		t.n_sent = 1;
	}

	switch (r->how) {
	case ACK_AND_FIN:
		client_raw(&cl, their_fin, our_fin + 1, LB_TH_ACK | LB_TH_FIN, NULL, 0);
		break;
	case ACK_THEN_FIN:
		client_raw(&cl, their_fin, our_fin + 1, LB_TH_ACK, NULL, 0);
		ck_assert_uint_eq(t.n_sent, 1); /* nothing to acknowledge yet */
		client_raw(&cl, their_fin, our_fin + 1, LB_TH_ACK | LB_TH_FIN, NULL, 0);
		break;
	case FIN_THEN_ACK:
		client_raw(&cl, their_fin, cl.cookie + 1, LB_TH_ACK | LB_TH_FIN, NULL, 0);
		ck_assert_uint_eq(t.n_sent, 2);
		expect_ack(1, &cl, our_fin + 1, their_fin + 1);
		client_raw(&cl, their_fin + 1, our_fin + 1, LB_TH_ACK, NULL, 0);
		/* A pure ACK of ours is not acknowledged. */
		ck_assert_msg(t.n_sent == 2, "the client's pure ACK was answered: %zu frames",
			      t.n_sent);
		break;
	case ACK_ONLY:
		client_raw(&cl, their_fin, our_fin + 1, LB_TH_ACK, NULL, 0);
		break;
	}
	if (r->how == FIN_THEN_ACK) {
		/* Checked above, when it was sent (the client's TSval has moved on since). */
	} else if (r->how != ACK_ONLY) {
		/* Their FIN acknowledged: ack = their FIN's seq + 1, from after our FIN. */
		ck_assert_uint_ge(t.n_sent, 2);
		expect_ack(t.n_sent - 1, &cl, our_fin + 1, their_fin + 1);
	} else {
		ck_assert_uint_eq(t.n_sent, 1);
	}
	n = t.n_sent;

	/* Acknowledged: never resent; lingers a while, then is gone without a reset. */
	t0 = t.now;
	t.now += 1;
	wait = lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 1);
	if (r->how != ACK_ONLY) {
		/* Their FIN again (our ACK was lost): acknowledged again. */
		client_raw(&cl, their_fin, our_fin + 1, LB_TH_ACK | LB_TH_FIN, NULL, 0);
		ck_assert_uint_eq(t.n_sent, n + 1);
		expect_ack(n, &cl, our_fin + 1, their_fin + 1);
		n++;
	}
	while (lb_dispatcher_conns(t.d) && t.now < t0 + 600000) {
		t.now += wait;
		wait = lb_dispatcher_timers(t.d, t.now);
	}
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(t.n_sent, n);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_RETRANSMITS), 0);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_ABANDONED), 0);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_404), 1);
}
END_TEST

/* ---- 10. the global cap: the oldest gives way ---------------------------------------- */

START_TEST(test_global_cap)
{
	const char *part = "GET /web1/x HTTP/1.1\r\n";
	const char *rest = "Host: h\r\n\r\n";
	uint32_t len = strlen(part);
	struct client cl[3];
	size_t i, rsts = 0;

	lb_dispatcher_set_max_conns(t.d, 2);
	for (i = 0; i < 3; i++) {
		client_init(&cl[i], CLIENT_PORT + i, 0x30000000 + 0x1000 * i, true, &opts_full);
		t.now = i;
		client_str(&cl[i], 0, part);
	}
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_TAKEN), 3);
	ck_assert_uint_eq(ctr(LB_DISP_CONNS_EVICTED), 1);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 2);
	for (i = 0; i < t.n_sent; i++) {
		struct lb_segment s;

		sent_seg(i, &s);
		if (!(s.flags & LB_TH_RST))
			continue;
		rsts++;
		expect_to_client(&s, &cl[0]);
		ck_assert_uint_eq(s.seq, cl[0].cookie + 1);
		ck_assert_uint_eq(s.len, 0);
	}
	ck_assert_uint_eq(rsts, 1);

	/* The two kept finish and are bound; the evicted one is no longer known. */
	client_str(&cl[1], len, rest);
	client_str(&cl[2], len, rest);
	ck_assert_uint_eq(t.binds, 2);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	client_str(&cl[0], len, rest);
	ck_assert_uint_eq(t.binds, 2);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	ck_assert_uint_eq(ctr(LB_DISP_BAD_COOKIE), 1);
}
END_TEST

/* ---- 11. malformed requests: the parser's verdict, on the wire ----------------------- */

static const struct bad_row {
	const char *name;
	const char *req;
	int status;
	enum lb_dispatch_counter counter;
} bad_rows[] = {
	{ "duplicate Host", "GET /web1/x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400,
	  LB_DISP_REPLY_400 },
	{ "bare LF", "GET /web1/x HTTP/1.1\nHost: a\n\n", 400, LB_DISP_REPLY_400 },
	{ "bare LF in a field", "GET /web1/x HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400,
	  LB_DISP_REPLY_400 },
	{ "no Host in 1.1", "GET /web1/x HTTP/1.1\r\nAccept: */*\r\n\r\n", 400,
	  LB_DISP_REPLY_400 },
	{ "space before colon", "GET /web1/x HTTP/1.1\r\nHost : a\r\n\r\n", 400,
	  LB_DISP_REPLY_400 },
	{ "bad escape", "GET /web1/%zz HTTP/1.1\r\nHost: a\r\n\r\n", 400, LB_DISP_REPLY_400 },
	{ "Content-Length and Transfer-Encoding",
	  "POST /web1/x HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n"
	  "Transfer-Encoding: chunked\r\n\r\n",
	  400, LB_DISP_REPLY_400 },
	{ "CONNECT", "CONNECT web1:443 HTTP/1.1\r\nHost: web1:443\r\n\r\n", 400, LB_DISP_REPLY_400 },
	{ "HTTP/2.0", "GET /web1/x HTTP/2.0\r\nHost: a\r\n\r\n", 505, LB_DISP_REPLY_505 },
	{ "unknown coding", "POST /web1/x HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: xchunked\r\n\r\n",
	  501, LB_DISP_REPLY_501 },
};

START_TEST(test_malformed)
{
	const struct bad_row *r = &bad_rows[_i];
	struct client cl;
	char line[64], text[1024];

	client_default(&cl);
	client_str(&cl, 0, r->req);
	ck_assert_msg(t.n_sent >= 1, "%s: nothing sent", r->name);
	snprintf(line, sizeof(line), "HTTP/1.1 %d ", r->status);
	expect_reply(&cl, 0, cl.isn + 1 + strlen(r->req), line, false, text, sizeof(text));
	ck_assert_msg(ctr(r->counter) == 1, "%s: counter %s not moved", r->name,
		      lb_dispatch_counter_names[r->counter]);
	ck_assert_uint_eq(replies(), 1);
	ck_assert_uint_eq(t.binds, 0);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), 0);
}
END_TEST

/* ---- the send callback failing ---------------------------------------------------------- */

START_TEST(test_tx_full)
{
	struct client cl;

	t.send_fail = true;
	client_default(&cl);
	client_str(&cl, 0, "GET /web1/x HTTP/1.1\r\n"); /* wants to ACK */
	ck_assert_uint_eq(ctr(LB_DISP_TX_FULL), 1);
	client_str(&cl, 0, "GET /web1/x HTTP/1.1\r\n"); /* a duplicate: ACK again */
	ck_assert_uint_eq(ctr(LB_DISP_TX_FULL), 2);
	ck_assert_uint_eq(t.n_sent, 0);
}
END_TEST

/*
 * The hand-off echoes the latest TSval the client got from us (an ACK of ours
 * while the head came in, not only the SYN/ACK's): the backend's clock goes on
 * from there. An older one fails the client's PAWS check: the backend's first
 * segments are dropped and only a retransmission 200 ms later gets through.
 */
START_TEST(test_handoff_echoes_latest_tsval)
{
	const char *part1 = "GET /web1/a HTTP/1.1\r\n", *part2 = "Host: x\r\n\r\n";
	struct lb_segment s;
	struct client cl;

	client_default(&cl);
	t.now = 0x0badcafe + 5000; /* our clock, later than the SYN/ACK's TSval it echoes */
	client_str(&cl, 0, part1);
	ck_assert_uint_eq(t.n_sent, 1);
	sent_seg(0, &s);
	ck_assert_uint_eq(s.tsval, (uint32_t)t.now);
	t.now += 7;
	client_str(&cl, strlen(part1), part2);
	ck_assert_uint_eq(t.binds, 1);
	ck_assert_uint_eq(t.view.tsecr, 0x0badcafe + 5000);
}
END_TEST

/* ---- replay mode ---------------------------------------------------------------- */

static const char yaml_replay[] =
	"interface: eth0\n"
	"vips:\n"
	"  - {address: 192.0.2.80, port: 80, mode: http}\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11, handoff: replay}\n"
	"  - {name: web2, address: 198.51.100.12, handoff: replay}\n"
	"  - {name: web3, address: 198.51.100.13}\n"
	"routes:\n"
	"  - {host: \"*\", prefix: /web1/, backends: [web1]}\n"
	"  - {host: \"*\", prefix: /pair/, backends: [web1, web2]}\n"
	"  - {host: \"*\", prefix: /web3/, backends: [web3]}\n"
	"  - {host: \"*\", prefix: /mix/, backends: [web1, web3]}\n"
	"handoff: {mss: 1400, wscale: 7, request_limit: 4096, request_timeout_ms: 1000}\n";

static const uint8_t be_mac[3][6] = {
	{ 0x02, 0x00, 0x00, 0x00, 0x02, 0x11 },
	{ 0x02, 0x00, 0x00, 0x00, 0x02, 0x12 },
	{ 0x02, 0x00, 0x00, 0x00, 0x02, 0x13 },
};

static void setup_replay(void)
{
	setup_with(yaml_replay);
}

/* A backend's frame to @cl from the VIP, as its TC egress diverts it to the balancer. */
static void backend_says(struct client *cl, uint32_t backend, uint8_t flags, uint32_t seq,
			 uint32_t ack)
{
	struct lb_segment s = {
		.saddr = htonl(VIP_IP), .daddr = htonl(CLIENT_IP),
		.sport = htons(VIP_PORT), .dport = htons(cl->port),
		.seq = seq, .ack = ack, .flags = flags, .window = 65160,
		.has_ts = cl->ts, .tsval = 0x7e570000, .tsecr = cl->tsval,
	};
	uint8_t buf[256];
	size_t n;

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, be_mac[backend], 6);
	n = lb_segment_build(buf, sizeof(buf), &s);
	ck_assert_uint_gt(n, 0);
	lb_dispatcher_input(t.d, buf, n, t.now, t.tai);
}

static void expect_step(unsigned i, enum lb_bind_step step, uint32_t backend)
{
	ck_assert_msg(t.binds > i, "bind call %u never came (%u calls)", i, t.binds);
	ck_assert_msg(t.steps[i] == step, "bind call %u: step %d, want %d", i, t.steps[i], step);
	ck_assert_msg(t.step_backend[i] == backend, "bind call %u: backend %u, want %u", i,
		      t.step_backend[i], backend);
}

static const char req_web1[] = "GET /web1/a HTTP/1.1\r\nHost: x\r\n\r\n";
static const char req_pair[] = "GET /pair/a HTTP/1.1\r\nHost: x\r\n\r\n";

/* SYN replayed, client segments held meanwhile, the SYN/ACK completes the hand-off. */
START_TEST(test_replay_handoff)
{
	struct client cl;

	client_default(&cl);
	client_str(&cl, 0, req_web1);
	ck_assert_uint_eq(t.binds, 1);
	expect_step(0, LB_BIND_REPLAY_SYN, 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 1); /* still ours until the SYN/ACK */
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_SYNS), 1);
	/* The client retransmits meanwhile: held back, nothing answered, no second bind. */
	client_str(&cl, 0, req_web1);
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_HELD), 1);
	ck_assert_uint_eq(t.binds, 1);
	ck_assert_uint_eq(t.n_sent, 0);
	/* A SYN/ACK for another ISN is not the answer. */
	backend_says(&cl, 0, LB_TH_SYN | LB_TH_ACK, 0xb0000000, cl.isn + 5);
	ck_assert_uint_eq(t.binds, 1);
	backend_says(&cl, 0, LB_TH_SYN | LB_TH_ACK, 0xb0000000, cl.isn + 1);
	ck_assert_uint_eq(t.binds, 2);
	expect_step(1, LB_BIND_REPLAY_DONE, 0);
	ck_assert_uint_eq(t.view.request_len, strlen(req_web1));
	ck_assert_mem_eq(t.request, req_web1, strlen(req_web1));
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_DONE), 1);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	/* Nothing left to time out. */
	t.now += 60000;
	lb_dispatcher_timers(t.d, t.now);
	ck_assert_uint_eq(t.binds, 2);
	ck_assert_uint_eq(t.n_sent, 0);
}
END_TEST

/* No answer: the SYN again at 100 and 300 ms, then the next holder, then 503. */
START_TEST(test_replay_retries_then_503)
{
	static const uint64_t waits[] = { 100, 200, 400 };
	char text[1024];
	uint32_t first, second;
	struct client cl;
	unsigned i, round;

	client_default(&cl);
	client_str(&cl, 0, req_pair);
	expect_step(0, LB_BIND_REPLAY_SYN, t.step_backend[0]);
	first = t.step_backend[0];
	ck_assert_uint_lt(first, 2);
	second = 1 - first;
	for (round = 0; round < 2; round++) {
		uint32_t b = round ? second : first;
		unsigned base = round * 4;

		for (i = 0; i < 3; i++) {
			/* Not a millisecond early. */
			t.now += waits[i] - 1;
			lb_dispatcher_timers(t.d, t.now);
			ck_assert_uint_eq(t.binds, base + 1 + i);
			t.now += 1;
			lb_dispatcher_timers(t.d, t.now);
			if (i < 2)
				expect_step(base + 1 + i, LB_BIND_REPLAY_RESEND, b);
		}
		expect_step(base + 3, LB_BIND_REPLAY_ABORT, b);
		if (!round)
			expect_step(base + 4, LB_BIND_REPLAY_SYN, second);
	}
	ck_assert_uint_eq(t.binds, 8); /* no third holder tried: there is none */
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_RETRANSMITS), 4);
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_FAILED), 2);
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_503), 1);
	collect_reply(&cl, 0, cl.isn + 1 + strlen(req_pair), text, sizeof(text));
	ck_assert_msg(strstr(text, "HTTP/1.1 503 ") == text, "%s", text);
}
END_TEST

/* A reset for the replayed SYN (no listener): the other holder, whose SYN/ACK completes it. */
START_TEST(test_replay_refused_next_holder)
{
	struct client cl;
	uint32_t first;

	client_default(&cl);
	client_str(&cl, 0, req_pair);
	first = t.step_backend[0];
	/* A reset from the VIP for another connection changes nothing. */
	cl.port++;
	backend_says(&cl, first, LB_TH_RST | LB_TH_ACK, 0, 0);
	cl.port--;
	ck_assert_uint_eq(t.binds, 1);
	backend_says(&cl, first, LB_TH_RST | LB_TH_ACK, 0, cl.isn + 1);
	expect_step(1, LB_BIND_REPLAY_ABORT, first);
	expect_step(2, LB_BIND_REPLAY_SYN, 1 - first);
	backend_says(&cl, 1 - first, LB_TH_SYN | LB_TH_ACK, 0xb0000000, cl.isn + 1);
	expect_step(3, LB_BIND_REPLAY_DONE, 1 - first);
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_FAILED), 1);
	ck_assert_uint_eq(ctr(LB_DISP_REPLAY_DONE), 1);
	ck_assert_uint_eq(replies(), 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
}
END_TEST

/* The client gives up while we wait: the replay is undone (count, backend's half-open one). */
START_TEST(test_replay_client_rst)
{
	struct client cl;

	client_default(&cl);
	client_str(&cl, 0, req_web1);
	client_send(&cl, strlen(req_web1), LB_TH_RST | LB_TH_ACK, NULL, 0);
	ck_assert_uint_eq(t.binds, 2);
	expect_step(1, LB_BIND_REPLAY_ABORT, 0);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
	/* A late SYN/ACK finds nothing. */
	backend_says(&cl, 0, LB_TH_SYN | LB_TH_ACK, 0xb0000000, cl.isn + 1);
	ck_assert_uint_eq(t.binds, 2);
}
END_TEST

/* A cookie-mode backend in the same site is handed off at once, as before. */
START_TEST(test_replay_mixed_cookie_backend)
{
	struct client cl;

	client_default(&cl);
	client_str(&cl, 0, "GET /web3/a HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_uint_eq(t.binds, 1);
	expect_step(0, LB_BIND_HANDOFF, 2);
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 0);
}
END_TEST

/*
 * Idle holders in two modes, one request each on new connections: the choice
 * alternates. A whole first request is tried as a hand-off without a record
 * (take_whole); a replay cannot be, so that trial gives up and the request is
 * decided again, at the same turn of the rotation: the replay-mode holder
 * gets its share, where the trial's turn once made it skip web1 every time.
 */
START_TEST(test_replay_mixed_rotation)
{
	static const unsigned int want[] = { 0, 2, 0, 2 };
	struct client cl;
	unsigned int i;

	for (i = 0; i < 4; i++) {
		unsigned int before = t.binds;

		client_init(&cl, (uint16_t)(CLIENT_PORT + i), 0x10000000 + i, true, &opts_full);
		client_str(&cl, 0, "GET /mix/a HTTP/1.1\r\nHost: x\r\n\r\n");
		ck_assert_uint_gt(t.binds, before);
		ck_assert_msg(t.step_backend[before] == want[i], "request %u: backend %u, want %u",
			      i, t.step_backend[before], want[i]);
		expect_step(before, want[i] == 0 ? LB_BIND_REPLAY_SYN : LB_BIND_HANDOFF, want[i]);
	}
}
END_TEST

/* Find TCP option @kind in a built frame (Ethernet, IPv4 without options). */
static const uint8_t *frame_option(const struct sent_frame *f, uint8_t kind, uint8_t *len)
{
	const uint8_t *th = f->buf + 14 + 20, *o = th + 20;
	size_t optlen = (th[12] >> 4) * 4 - 20, i = 0;

	while (i < optlen) {
		if (o[i] == 0)
			break;
		if (o[i] == 1) {
			i++;
			continue;
		}
		ck_assert_uint_le(i + 2, optlen);
		if (o[i] == kind) {
			*len = o[i + 1];
			return o + i;
		}
		i += o[i + 1];
	}
	return NULL;
}

static const struct syn_row {
	const char *name;
	bool ts;
	const struct lb_cookie_opts *opts;
} syn_rows[] = {
	{ "all options", true, &opts_full },
	{ "no options at all", false, &opts_none },
};

/*
 * The real hand-off's frames: the replayed SYN (ISN, the options the cookie
 * remembers, a hand-off option whose tag validates), then the request in the
 * client's sequence space, and on abort a reset.
 */
START_TEST(test_replay_frames)
{
	const struct syn_row *r = &syn_rows[_i];
	struct lb_backend backends[3] = {};
	struct lb_handoff_ctx h = {
		.cfg = &t.cfg, .flows = &t.flows, .backends = backends,
		.send = capture, .secret = &t.secret,
	};
	struct lb_cookie_tuple tu = {
		.caddr = htonl(CLIENT_IP), .vaddr = htonl(VIP_IP),
		.cport = htons(CLIENT_PORT), .vport = htons(VIP_PORT),
	};
	const struct lb_handoff_opt *ho;
	const uint8_t *o;
	struct lb_segment s;
	struct client cl;
	uint32_t tsval;
	uint8_t len;
	int i;

	for (i = 0; i < 3; i++)
		memcpy(backends[i].mac, be_mac[i], 6);
	t.handoff = &h;
	t.flows.backends = backends; /* where binds are counted */
	client_init(&cl, CLIENT_PORT, 0x10000000, r->ts, r->opts);
	client_str(&cl, 0, req_web1);
	tsval = cl.tsval;
	ck_assert_uint_eq(t.n_sent, 1);
	sent_seg(0, &s);
	ck_assert_mem_eq(s.dst_mac, be_mac[0], 6);
	ck_assert_mem_eq(s.src_mac, lb_mac, 6);
	ck_assert_uint_eq(s.saddr, htonl(CLIENT_IP));
	ck_assert_uint_eq(s.daddr, htonl(VIP_IP));
	ck_assert_uint_eq(ntohs(s.sport), CLIENT_PORT);
	ck_assert_uint_eq(s.flags, LB_TH_SYN);
	ck_assert_uint_eq(s.seq, cl.isn);
	ck_assert_uint_eq(s.len, 0);
	ck_assert_int_eq(lb_frame_check_csums(t.sent[0].buf, t.sent[0].len), 0);
	o = frame_option(&t.sent[0], 2, &len);
	ck_assert_ptr_nonnull(o);
	ck_assert_uint_eq((o[2] << 8 | o[3]), r->opts->mss);
	ck_assert_int_eq(!!frame_option(&t.sent[0], 4, &len), r->opts->sack);
	o = frame_option(&t.sent[0], 3, &len);
	ck_assert_int_eq(!!o, r->opts->wscale != LB_COOKIE_WSCALE_NONE);
	if (o)
		ck_assert_uint_eq(o[2], r->opts->wscale);
	ck_assert_int_eq(s.has_ts, r->ts);
	if (r->ts) {
		ck_assert_uint_eq(s.tsval, tsval);
		ck_assert_uint_eq(s.tsecr, 0);
	}
	ho = (const struct lb_handoff_opt *)frame_option(&t.sent[0], LB_HANDOFF_OPT_KIND, &len);
	ck_assert_ptr_nonnull(ho);
	ck_assert_uint_eq(len, LB_HANDOFF_OPT_LEN);
	ck_assert_uint_eq(ntohs(ho->exid), LB_HANDOFF_OPT_EXID);
	ck_assert_uint_eq(ntohl(ho->client_isn), cl.cookie);
	ck_assert_uint_eq(ntohl(ho->lb_tsval), r->ts ? 0x0badcafe : 0); /* the client's TSecr */
	ck_assert_uint_eq(ho->wscale,
			  r->opts->wscale == LB_COOKIE_WSCALE_NONE ? LB_COOKIE_WSCALE_NONE : SCALE);
	ck_assert_int_eq(lb_handoff_tag_check(&t.secret, &tu, cl.cookie, ntohl(ho->lb_tsval),
					      ho->wscale, lb_handoff_opt_tag(ho), TAI),
			 0);
	/* The tag covers every field: change one and it fails. */
	ck_assert_int_ne(lb_handoff_tag_check(&t.secret, &tu, cl.cookie ^ 1, ntohl(ho->lb_tsval),
					      ho->wscale, lb_handoff_opt_tag(ho), TAI),
			 0);
	ck_assert_int_ne(lb_handoff_tag_check(&t.secret, &tu, cl.cookie, ntohl(ho->lb_tsval) + 1,
					      ho->wscale, lb_handoff_opt_tag(ho), TAI),
			 0);

	/* The SYN/ACK: the client's ACK and request follow, in its own sequence space. */
	backend_says(&cl, 0, LB_TH_SYN | LB_TH_ACK, 0xb0000000, cl.isn + 1);
	ck_assert_uint_eq(t.n_sent, 2);
	sent_seg(1, &s);
	ck_assert_mem_eq(s.dst_mac, be_mac[0], 6);
	ck_assert_uint_eq(s.seq, cl.isn + 1);
	ck_assert_uint_eq(s.ack, cl.cookie + 1);
	ck_assert_uint_eq(s.flags, LB_TH_ACK | LB_TH_PSH);
	ck_assert_uint_eq(s.len, strlen(req_web1));
	ck_assert_mem_eq(s.payload, req_web1, s.len);
	if (r->ts)
		ck_assert_uint_eq(s.tsecr, 0x0badcafe);

	/* Another connection given up on: the backend's half-open one gets a reset. */
	client_init(&cl, CLIENT_PORT + 1, 0x20000000, r->ts, r->opts);
	client_str(&cl, 0, req_web1);
	ck_assert_uint_eq(t.n_sent, 3);
	client_send(&cl, strlen(req_web1), LB_TH_RST | LB_TH_ACK, NULL, 0);
	ck_assert_uint_eq(t.n_sent, 4);
	sent_seg(3, &s);
	ck_assert_mem_eq(s.dst_mac, be_mac[0], 6);
	ck_assert_uint_eq(s.flags & LB_TH_RST, LB_TH_RST);
	ck_assert_uint_eq(s.seq, cl.isn + 1);
	ck_assert_uint_eq(ntohs(s.sport), CLIENT_PORT + 1);
	ck_assert_uint_eq(backends[0].active, 1); /* the first one only */
}
END_TEST

/*
 * A cookie-mode backend behind another interface of the balancer: its hand-off
 * leaves through that interface's socket, from our MAC there, and nothing goes
 * out of the main one; a backend behind the main interface is unchanged.
 */
START_TEST(test_handoff_other_interface)
{
	static const uint8_t port_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x05, 0x1b };
	struct lb_backend backends[3] = {};
	struct lb_handoff_port port = { .ifindex = 5 };
	struct lb_handoff_ctx h = {
		.cfg = &t.cfg, .flows = &t.flows, .backends = backends, .send = capture,
		.secret = &t.secret, .ports = &port, .n_ports = 1,
	};
	uint8_t buf[2048];
	struct lb_segment s;
	struct client cl;
	int sp[2], i;
	ssize_t n;

	ck_assert_int_eq(socketpair(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK, 0, sp), 0);
	t.flows.backends = backends; /* where binds are counted */
	port.fd = sp[0];
	memcpy(port.mac, port_mac, 6);
	for (i = 0; i < 3; i++)
		memcpy(backends[i].mac, be_mac[i], 6);
	backends[0].ifindex = 5;
	t.handoff = &h;

	client_default(&cl);
	client_str(&cl, 0, req_web1); /* web1 only: behind ifindex 5 */
	ck_assert_uint_eq(t.binds, 1);
	ck_assert_uint_eq(t.n_sent, 0);
	n = recv(sp[1], buf, sizeof(buf), 0);
	ck_assert_int_gt(n, 0);
	ck_assert_int_eq(lb_frame_check_csums(buf, n), 0);
	ck_assert_mem_eq(buf, be_mac[0], 6);
	ck_assert_mem_eq(buf + 6, port_mac, 6);
	ck_assert_int_lt(recv(sp[1], buf, sizeof(buf), 0), 0); /* one segment */
	ck_assert_uint_eq(backends[0].active, 1);

	/* Behind an interface the daemon did not give the hand-off: refused, not misrouted. */
	backends[0].ifindex = 6;
	client_init(&cl, CLIENT_PORT + 1, 0x20000000, true, &opts_full);
	client_str(&cl, 0, req_web1);
	ck_assert_int_lt(recv(sp[1], buf, sizeof(buf), 0), 0);
	for (i = 0; i < (int)t.n_sent; i++) {
		sent_seg(i, &s);
		ck_assert_mem_ne(s.dst_mac, be_mac[0], 6);
	}

	/* Behind the main interface: through the dispatcher's own send, from our main MAC. */
	backends[0].ifindex = 0;
	client_init(&cl, CLIENT_PORT + 2, 0x30000000, true, &opts_full);
	client_str(&cl, 0, req_web1);
	ck_assert_int_lt(recv(sp[1], buf, sizeof(buf), 0), 0);
	ck_assert_uint_ge(t.n_sent, 1);
	sent_seg(t.n_sent - 1, &s);
	ck_assert_mem_eq(s.dst_mac, be_mac[0], 6);
	ck_assert_mem_eq(s.src_mac, lb_mac, 6);
	close(sp[0]);
	close(sp[1]);
}
END_TEST

/*
 * The flow table is the daemon's: the dispatcher counts evictions it made
 * nowhere else, and reports the table's own count as flow_evictions.
 */
START_TEST(test_flow_evictions_from_table)
{
	ck_assert_uint_eq(ctr(LB_DISP_FLOW_EVICTIONS), 0);
	t.flows.evictions = 3;
	ck_assert_uint_eq(ctr(LB_DISP_FLOW_EVICTIONS), 3);
	lb_dispatcher_count(t.d, LB_DISP_FLOWS_RESET, 2);
	ck_assert_uint_eq(ctr(LB_DISP_FLOWS_RESET), 2);
	ck_assert_uint_eq(ctr(LB_DISP_FLOW_EVICTIONS), 3);
}
END_TEST

/* ---- reload: route counters follow route names ---------------------------------- */

static const char yaml_reload_head[] =
	"interface: eth0\n"
	"vips:\n"
	"  - {address: 192.0.2.80, port: 80, mode: http}\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11}\n"
	"handoff: {mss: 1400, wscale: 7, request_limit: 4096, request_timeout_ms: 1000}\n"
	"metrics: {top_routes: 1024}\n" /* more than the routes: every count exact */
	"routes:\n";

/* "plain" has the default name: route3, by its index, in both. */
static const char routes_a[] =
	"  - {name: keep, host: \"*\", prefix: /keep/, backends: [web1]}\n"
	"  - {name: gone, host: \"*\", prefix: /gone/, backends: [web1]}\n"
	"  - {name: moved, host: \"*\", prefix: /moved/, backends: [web1]}\n"
	"  - {host: \"*\", prefix: /plain/, backends: [web1]}\n";
static const char routes_b[] =
	"  - {name: fresh, host: \"*\", prefix: /fresh/, backends: [web1]}\n"
	"  - {name: moved, host: \"*\", prefix: /moved/, backends: [web1]}\n"
	"  - {name: keep, host: \"*\", prefix: /keep/, backends: [web1]}\n"
	"  - {host: \"*\", prefix: /plain/, backends: [web1]}\n";

/*
 * Enough routes to collide in the counts' key index, kept under
 * metrics.top_routes so every count is exact; MANY / 4 routes m<tag>_<i> at
 * most on top.
 */
#define MANY 600

static char yaml_buf[(MANY + MANY / 4) * 80 + 1024];

static const char *yaml_routes(const char *routes)
{
	snprintf(yaml_buf, sizeof(yaml_buf), "%s%s", yaml_reload_head, routes);
	return yaml_buf;
}

static void setup_reload(void)
{
	setup_with(yaml_routes(routes_a));
}

/* As the daemon reloads: the new config fills t.cfg in place, then the old one goes. */
static void reload_with(const char *text)
{
	struct lb_config fresh = {}, old;
	struct lb_directory *dir;
	char err[LB_ERR_MAX];

	ck_assert_msg(!lb_config_parse("reload.yaml", text, strlen(text), &fresh, err,
				       sizeof(err)),
		      "config: %s", err);
	dir = lb_directory_build(fresh.routes, fresh.n_routes, err, sizeof(err));
	ck_assert_msg(dir, "directory: %s", err);
	old = t.cfg;
	t.cfg = fresh;
	lb_dispatcher_set_config(t.d, &t.cfg, dir);
	lb_config_free(&old);
	lb_directory_free(t.dir);
	t.dir = dir;
}

/* @n requests for @path, each on a connection of its own, all handed off. */
static void requests(const char *path, unsigned n)
{
	static uint16_t port = 41000;
	char req[128];
	struct client cl;
	unsigned before = t.binds;

	snprintf(req, sizeof(req), "GET %s HTTP/1.1\r\nHost: x\r\n\r\n", path);
	for (unsigned i = 0; i < n; i++) {
		client_init(&cl, port, 0x20000000 + port, true, &opts_full);
		port++;
		client_str(&cl, 0, req);
	}
	ck_assert_uint_eq(t.binds, before + n);
}

/* Route i of the config counted want[i] requests, exactly (few routes: no estimate). */
static void expect_counts(const uint64_t *want, size_t n)
{
	const struct lb_topk *top = &lb_dispatcher_route_counts(t.d)->top;
	char buf[32];

	ck_assert_uint_eq(t.cfg.n_routes, n);
	for (size_t i = 0; i < n; i++) {
		const struct lb_topk_entry *e =
			lb_topk_find(top, lb_route_key(lb_route_label(&t.cfg, i, buf)));
		uint64_t got = e ? e->count : 0;

		ck_assert_msg(got == want[i], "route %zu (%s): %llu requests, expected %llu", i,
			      t.cfg.routes[i].name, (unsigned long long)got,
			      (unsigned long long)want[i]);
		ck_assert_msg(!e || (e->route == i && !e->error), "route %zu: index %u, error %llu",
			      i, e->route, (unsigned long long)e->error);
	}
}

START_TEST(test_reload_keeps_route_counts)
{
	static const uint64_t a[] = { 2, 1, 3, 1 }, b[] = { 0, 3, 2, 1 }, b2[] = { 1, 3, 3, 1 },
			      a2[] = { 3, 0, 3, 1 };

	requests("/keep/x", 2);
	requests("/gone/x", 1);
	requests("/moved/x", 3);
	requests("/plain/x", 1);
	expect_counts(a, 4);
	/* Kept routes keep their counts wherever they moved; new ones start at 0. */
	reload_with(yaml_routes(routes_b));
	expect_counts(b, 4);
	/* The new indexes are the ones counted. */
	requests("/fresh/x", 1);
	requests("/keep/x", 1);
	expect_counts(b2, 4);
	/* A removed route's count went with it: back again, it starts at 0. */
	reload_with(yaml_routes(routes_a));
	expect_counts(a2, 4);
}
END_TEST

static const struct reload_step {
	bool reversed;
	unsigned gone;	/* n<i> left out when i % gone == 0 (0: none), and n<gone_too> */
	unsigned gone_too;
	unsigned fresh; /* m<tag>_<i> before n<i> when i % fresh == 0 (0: none) */
	char tag;	/* the same tag again: the same m routes, kept */
} reload_steps[] = {
	{ false, 0, MANY, 0, 'a' },	/* all of them, in order */
	{ true, 3, MANY, 4, 'b' },	/* reversed: out of step throughout */
	{ false, 5, MANY, 7, 'c' },	/* in order again, with gaps and new ones */
	{ false, 5, MANY, 7, 'c' },	/* unchanged: followed in step, no table */
	{ false, 5, 301, 7, 'c' },	/* one gone in the middle: back in step after it */
};

START_TEST(test_reload_many_routes)
{
	static uint64_t want[MANY + MANY / 4], have[MANY];
	static char routes[(MANY + MANY / 4) * 80];
	char path[32];
	size_t st, n;
	unsigned i, k;

	for (st = 0; st < sizeof(reload_steps) / sizeof(reload_steps[0]); st++) {
		const struct reload_step *r = &reload_steps[st];
		bool kept[MANY];
		char *p = routes;

		for (n = 0, k = 0; k < MANY; k++) {
			i = r->reversed ? MANY - 1 - k : k;
			if (r->fresh && i % r->fresh == 0) {
				p += sprintf(p, "  - {name: m%c_%u, host: \"*\", prefix: /m%c_%u/, "
						"backends: [web1]}\n", r->tag, i, r->tag, i);
				want[n++] = 0;
			}
			kept[i] = !(r->gone && i % r->gone == 0) && i != r->gone_too;
			if (!kept[i])
				continue;
			p += sprintf(p, "  - {name: n%u, host: \"*\", prefix: /n%u/, "
					"backends: [web1]}\n", i, i);
			want[n++] = have[i];
		}
		reload_with(yaml_routes(routes));
		expect_counts(want, n);
		/* Counts for the next step: gone ones start again from 0. */
		for (i = 0; i < MANY; i++) {
			if (!kept[i]) {
				have[i] = 0;
				continue;
			}
			snprintf(path, sizeof(path), "/n%u/x", i);
			requests(path, (i + st) % 4);
			have[i] += (i + st) % 4;
		}
	}
}
END_TEST


/* ---- redirect mode: the balancer answers with a redirect to the chosen holder ---- */

static const char yaml_redirect[] =
	"interface: eth0\n"
	"vips:\n"
	"  - {address: 192.0.2.80, port: 80, redirect: {status: 308, url: \"https://{public}{path}\"}}\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11, public: 198.51.100.11}\n"
	"  - {name: web2, address: 198.51.100.12, public: \"Web2.Example:8080\"}\n"
	"  - {name: web3, address: 198.51.100.13, public: web3}\n"
	"routes:\n"
	"  - {prefix: /web1/, backends: [web1], redirect: {status: 307, url: \"http://{public}{path}\"}}\n"
	"  - {prefix: /pair/, backends: [web1, web2], redirect: {url: \"http://{public}{path}\"}}\n"
	"  - {prefix: /both/, backends: [web1, web2], redirect: none}\n"
	"  - {prefix: /named/, backends: [web3], redirect: {status: 302, url: \"http://{public}.{host}{path}\"}}\n"
	"  - {prefix: /, backends: [web3]}\n"
	"handoff: {mss: 1400, wscale: 7, request_limit: 4096, request_timeout_ms: 1000}\n";

static void setup_redirect(void)
{
	setup_with(yaml_redirect);
}

/* @req on a new connection from port @port: the whole reply, its text in @text. */
static void redirect_exchange(uint16_t port, const char *req, const char *status_line, bool head,
			      char *text, size_t cap)
{
	struct client cl;

	client_init(&cl, port, 0x20000000 + port, true, &opts_full);
	t.n_sent = 0;
	client_str(&cl, 0, req);
	expect_reply(&cl, 0, cl.isn + 1 + strlen(req), status_line, head, text, cap);
}

static const struct redirect_row {
	const char *name;
	const char *req;
	const char *reply; /* exactly */
} redirect_rows[] = {
	{ "route's own 307, query kept", "GET /web1/a.jpg?x=1&y=%41 HTTP/1.1\r\nHost: h\r\n\r\n",
	  "HTTP/1.1 307 Temporary Redirect\r\nServer: latebind\r\n"
	  "Location: http://198.51.100.11/web1/a.jpg?x=1&y=%41\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 66\r\nConnection: close\r\n\r\n"
	  "307 Temporary Redirect: http://198.51.100.11/web1/a.jpg?x=1&y=%41\n" },
	{ "HEAD: the same head, no body", "HEAD /web1/a HTTP/1.1\r\nHost: h\r\n\r\n",
	  "HTTP/1.1 307 Temporary Redirect\r\nServer: latebind\r\n"
	  "Location: http://198.51.100.11/web1/a\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 52\r\nConnection: close\r\n\r\n" },
	{ "the path as sent, not as normalised",
	  "GET /x/../web1//b%2Fc HTTP/1.1\r\nHost: h\r\n\r\n",
	  "HTTP/1.1 307 Temporary Redirect\r\nServer: latebind\r\n"
	  "Location: http://198.51.100.11/x/../web1//b%2Fc\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 62\r\nConnection: close\r\n\r\n"
	  "307 Temporary Redirect: http://198.51.100.11/x/../web1//b%2Fc\n" },
	{ "query bytes outside RFC 3986 encoded",
	  "GET /web1/q?a=\"<|>\"&b=%zz HTTP/1.1\r\nHost: h\r\n\r\n",
	  "HTTP/1.1 307 Temporary Redirect\r\nServer: latebind\r\n"
	  "Location: http://198.51.100.11/web1/q?a=%22%3C%7C%3E%22&b=%25zz\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 78\r\nConnection: close\r\n\r\n"
	  "307 Temporary Redirect: http://198.51.100.11/web1/q?a=%22%3C%7C%3E%22&b=%25zz\n" },
	{ "absolute form: its path and query",
	  "GET http://h/web1/z?k HTTP/1.1\r\nHost: h\r\n\r\n",
	  "HTTP/1.1 307 Temporary Redirect\r\nServer: latebind\r\n"
	  "Location: http://198.51.100.11/web1/z?k\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 54\r\nConnection: close\r\n\r\n"
	  "307 Temporary Redirect: http://198.51.100.11/web1/z?k\n" },
	{ "{host}: canonical, without port", "GET /named/n HTTP/1.1\r\nHost: Site.Example.:81\r\n\r\n",
	  "HTTP/1.1 302 Found\r\nServer: latebind\r\n"
	  "Location: http://web3.site.example/named/n\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 44\r\nConnection: close\r\n\r\n"
	  "302 Found: http://web3.site.example/named/n\n" },
	{ "{host} without a Host: 400", "GET /named/n HTTP/1.0\r\n\r\n", "HTTP/1.1 400 Bad Request\r\n" },
	{ "the VIP's redirect for a route without its own", "GET /other HTTP/1.1\r\nHost: h\r\n\r\n",
	  "HTTP/1.1 308 Permanent Redirect\r\nServer: latebind\r\n"
	  "Location: https://web3/other\r\nCache-Control: no-store\r\n"
	  "Content-Type: text/plain\r\nContent-Length: 43\r\nConnection: close\r\n\r\n"
	  "308 Permanent Redirect: https://web3/other\n" },
};

START_TEST(test_redirect_reply)
{
	const struct redirect_row *r = &redirect_rows[_i];
	bool head = !strncmp(r->req, "HEAD", 4), full = strlen(r->reply) > 40;
	char text[2048];
	int status = atoi(r->reply + 9);

	redirect_exchange(CLIENT_PORT, r->req, full ? "HTTP/1.1 " : r->reply, head, text,
			  sizeof(text));
	if (full)
		ck_assert_msg(!strcmp(text, r->reply), "%s:\n%s\nwant\n%s", r->name, text, r->reply);
	else
		ck_assert_msg(!strncmp(text, r->reply, strlen(r->reply)), "%s: %s", r->name, text);
	/* Nothing handed over; the same counters as a hand-off, and its status's. */
	ck_assert_uint_eq(t.binds, 0);
	ck_assert_uint_eq(ctr(lb_reply_counter(status)), 1);
	ck_assert_uint_eq(ctr(LB_DISP_DECISIONS), status == 400 ? 0 : 1); /* a 400 sends nobody */
	ck_assert_uint_eq(lb_dispatcher_conns(t.d), 1); /* until the close completes */
}
END_TEST

/* Which backend a /pair/ redirect named (0 web1, 1 web2). */
static int pair_target(uint16_t port)
{
	char text[1024];

	redirect_exchange(port, "GET /pair/x HTTP/1.1\r\nHost: h\r\n\r\n",
			  "HTTP/1.1 307 Temporary Redirect\r\n", false, text, sizeof(text));
	if (strstr(text, "Location: http://198.51.100.11/pair/x\r\n"))
		return 0;
	ck_assert_msg(strstr(text, "Location: http://web2.example:8080/pair/x\r\n"), "%s", text);
	return 1;
}

/*
 * A redirect holds no flow, so it counts as recent load instead: back-to-back
 * redirects alternate between the holders, a hand-off of content they share
 * goes to the one not just redirected to, and the count fades with time.
 */
START_TEST(test_redirect_recent_load)
{
	struct client cl;
	int n[2] = { 0, 0 }, i;

	/* Of each two back-to-back redirects, one goes to each holder. */
	for (i = 0; i < 6; i += 2) {
		int a = pair_target(41000 + i), b;

		t.now += 10;
		b = pair_target(41001 + i);
		t.now += 10;
		ck_assert_int_ne(a, b);
		n[a]++;
		n[b]++;
	}
	ck_assert_int_eq(n[0], 3);
	ck_assert_int_eq(n[1], 3);
	/*
	 * Three more redirects, to web1 alone: hand-offs of content both hold go to
	 * web2, every one (ties would alternate), until the count has faded.
	 */
	for (i = 0; i < 3; i++) {
		char text[1024];

		redirect_exchange(41010 + i, "GET /web1/z HTTP/1.1\r\nHost: h\r\n\r\n",
				  "HTTP/1.1 307 Temporary Redirect\r\n", false, text, sizeof(text));
	}
	for (i = 0; i < 3; i++) {
		client_init(&cl, 41020 + i, 0x30000000, true, &opts_full);
		client_str(&cl, 0, "GET /both/y HTTP/1.1\r\nHost: h\r\n\r\n");
		ck_assert_uint_eq(t.binds, (unsigned)i + 1);
		ck_assert_uint_eq(t.bound, 1);
	}
	/* Ten half-lives later nothing is left: ties again, so both are picked in turn. */
	t.now += 10 * LB_RECENT_HALF_LIFE_MS;
	ck_assert_int_ne(pair_target(41030), pair_target(41031));
	ck_assert_uint_eq(ctr(LB_DISP_REPLY_307), 11);
}
END_TEST

/* The decay itself: halves per half-life, rounds to whole choices. */
START_TEST(test_recent_decay)
{
	struct lb_recent r = { 0 };

	ck_assert_uint_eq(lb_recent_load(&r, 3, 0), 0);
	lb_recent_note(&r, 3, 1000);
	lb_recent_note(&r, 3, 1000);
	lb_recent_note(&r, 3, 1000);
	lb_recent_note(&r, 3, 1000);
	ck_assert_uint_eq(lb_recent_load(&r, 3, 1000), 4);
	ck_assert_uint_eq(lb_recent_load(&r, 3, 1000 + LB_RECENT_HALF_LIFE_MS), 2);
	ck_assert_uint_eq(lb_recent_load(&r, 3, 1000 + 2 * LB_RECENT_HALF_LIFE_MS), 1);
	ck_assert_uint_eq(lb_recent_load(&r, 3, 1000 + 4 * LB_RECENT_HALF_LIFE_MS), 0);
	ck_assert_uint_eq(lb_recent_load(&r, 3, 500), 4); /* an earlier clock: no decay */
	ck_assert_uint_eq(lb_recent_load(&r, 2, 1000), 0);
	lb_recent_note(&r, LB_MAX_BACKENDS, 1000); /* out of range: ignored */
	ck_assert_uint_eq(lb_recent_load(&r, LB_MAX_BACKENDS, 1000), 0);
}
END_TEST

/* One iteration per table row (_i is the row). */
#define ADD_ROWS(tc, fn, rows)                                                 \
	tcase_add_loop_test(tc, fn, 0, (int)(sizeof(rows) / sizeof((rows)[0])))

Suite *dispatcher_suite(void)
{
	Suite *s = suite_create("dispatcher");
	TCase *tc = tcase_create("dispatcher");

	tcase_add_checked_fixture(tc, setup, teardown);
	ADD_ROWS(tc, test_unrouted_404, unrouted_rows);
	ADD_ROWS(tc, test_routed_bind, route_rows);
	ADD_ROWS(tc, test_unbound_503, unbound_rows);
	ADD_ROWS(tc, test_bad_cookie, forge_rows);
	tcase_add_test(tc, test_bad_checksum_dropped);
	tcase_add_test(tc, test_split_out_of_order);
	tcase_add_test(tc, test_split_third_first);
	tcase_add_test(tc, test_dup_counted);
	tcase_add_test(tc, test_head_too_large_431);
	tcase_add_test(tc, test_request_timeout_408);
	ADD_ROWS(tc, test_client_rst, rst_rows);
	ADD_ROWS(tc, test_client_fin, fin_rows);
	tcase_add_test(tc, test_reply_retransmit_abandon);
	ADD_ROWS(tc, test_reply_close, close_rows);
	tcase_add_test(tc, test_global_cap);
	ADD_ROWS(tc, test_malformed, bad_rows);
	tcase_add_test(tc, test_tx_full);
	tcase_add_test(tc, test_handoff_echoes_latest_tsval);
	tcase_add_test(tc, test_flow_evictions_from_table);
	suite_add_tcase(s, tc);

	tc = tcase_create("replay");
	tcase_add_checked_fixture(tc, setup_replay, teardown);
	tcase_add_test(tc, test_replay_handoff);
	tcase_add_test(tc, test_replay_retries_then_503);
	tcase_add_test(tc, test_replay_refused_next_holder);
	tcase_add_test(tc, test_replay_client_rst);
	tcase_add_test(tc, test_replay_mixed_cookie_backend);
	tcase_add_test(tc, test_replay_mixed_rotation);
	ADD_ROWS(tc, test_replay_frames, syn_rows);
	suite_add_tcase(s, tc);

	tc = tcase_create("reload");
	tcase_add_checked_fixture(tc, setup_reload, teardown);
	tcase_add_test(tc, test_reload_keeps_route_counts);
	tcase_add_test(tc, test_reload_many_routes);
	suite_add_tcase(s, tc);

	tc = tcase_create("other interface");
	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_add_test(tc, test_handoff_other_interface);
	suite_add_tcase(s, tc);

	tc = tcase_create("redirect");
	tcase_add_checked_fixture(tc, setup_redirect, teardown);
	ADD_ROWS(tc, test_redirect_reply, redirect_rows);
	tcase_add_test(tc, test_redirect_recent_load);
	tcase_add_test(tc, test_recent_decay);
	suite_add_tcase(s, tc);
	return s;
}
