// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the dispatcher (user/dispatcher.h), driven only through
 * its public API with frames, a clock and callbacks, as the unit tests do.
 *
 * Input: a header (connection cap, bind policy, four clients' TCP options),
 * then operations until the input runs out:
 *   segment  from one of four clients: sequence offset, acknowledgement (our
 *            cookie + 1 mostly), raw flags, window, and a payload: raw bytes or
 *            a slice of one of a few request heads at its own offset, so
 *            heads split over segments, out of order and overlapping come easily;
 *   corrupt  the same, then one byte flipped anywhere in the frame;
 *   raw      any bytes as a frame;
 *   time     the clock moves on (the cookie clock too) and timers run;
 *   bind     the hand-off starts or stops accepting.
 * At the end time runs on until every connection must have been dropped.
 *
 * Invariants, beyond ASan/UBSan and LeakSanitizer:
 *   - every frame sent has valid IPv4 and TCP checksums and parses back
 *     (lb_frame_check_csums, lb_segment_parse); it goes from the VIP:port and
 *     the balancer's MAC to a client's address, port and hop MAC, carries ACK,
 *     never SYN, fits 2048 bytes; a reply's first byte starts "HTTP/1.1 ";
 *   - a hand-off happens only for a complete head (re-parsed here from the
 *     bytes the dispatcher hands over), whose normalised path and host the
 *     directory routes to a route that holds the chosen backend, and that
 *     backend is up (not draining);
 *   - connections held <= the cap after every operation, and none left once
 *     time has run far enough;
 *   - known bug B3: a frame whose TCP checksum is wrong is taken as data.
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "cookie.h"
#include "directory.h"
#include "dispatcher.h"
#include "fuzz_common.h"
#include "http.h"
#include "packet.h"

#define VIP_IP	  0xc0000250u /* 192.0.2.80 */
#define VIP_PORT  80
#define CLIENT_IP 0xcb00710au /* 203.0.113.10 */
#define TAI	  1800000000ull
#define LIMIT	  2048
#define N_CLIENTS 4

static const char yaml[] =
	"interface: eth0\n"
	"vips: [{address: 192.0.2.80, port: 80}]\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11}\n"
	"  - {name: web2, address: 198.51.100.12, weight: 3, handoff: replay}\n"
	"  - {name: web3, address: 198.51.100.13, state: draining}\n"
	"  - {name: web4, address: 198.51.100.14}\n"
	"routes:\n"
	"  - {host: \"*\", prefix: /, backends: [web1, web2]}\n"
	"  - {host: \"*\", prefix: /images/, backends: [web2, web3]}\n"
	"  - {host: a.example, path: /secret, backends: [web4]}\n"
	"  - {host: \"*.example\", prefix: /x/, backends: [web1]}\n"
	"  - {host: \"*\", path: /only3, backends: [web3]}\n"
	"handoff: {request_limit: 2048, request_timeout_ms: 1000}\n";

/* With LB_FUZZ_STRICT: a long wildcard, so T6's Host reaches bug B1 from the wire. */
static const char yaml_b1[] =
	"  - {host: \"*.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j."
	"k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z.a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q.r.s.t.u.v.w.x.y.z\","
	" prefix: /, backends: [web1]}\n";

static const char *const templates[] = {
	"GET /images/a.jpg HTTP/1.1\r\nHost: www.example\r\nAccept: */*\r\n\r\n",
	"GET /secret HTTP/1.1\r\nHost: a.example\r\n\r\n",
	"POST /x/y HTTP/1.1\r\nHost: b.example\r\nContent-Length: 10\r\n\r\n0123456789",
	"GET /a/../secret HTTP/1.1\r\nHost: A.EXAMPLE.\r\n\r\n",
	"GET /only3 HTTP/1.0\r\n\r\n",
	("HEAD /%2e%2e/images/ HTTP/1.1\r\nHost: x\r\nX-Pad: "
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	"pppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppppp"
	"\r\n\r\n"),
	("GET / HTTP/1.1\r\nHost: [......................................................."
	"............................................................................"
	"...................................................................]\r\n\r\n"),
	"GET /images/a.jpg HTTP/1.1\r\nHost: a\r\nHost: a.example\r\n\r\n",
	("GET /secret HTTP/1.1\r\nHost: a.example:80\r\nTransfer-Encoding: chunked\r\n"
	 "Content-Length: 3\r\n\r\n"),
};
#define N_TEMPLATES (sizeof(templates) / sizeof(templates[0]))

static const uint8_t lb_mac[6] = { 0x02, 0, 0, 0, 0x02, 0x02 };
static const uint8_t hop_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };

struct client {
	uint16_t port;
	uint32_t isn, cookie;
	struct lb_cookie_opts opts;
	bool ts;
	uint32_t tsval;
};

static struct {
	struct lb_config cfg;
	struct lb_directory *dir;
	struct lb_cookie_secret secret;
	struct client cl[N_CLIENTS];
	uint64_t now, tai;
	bool bind_ok;
	bool raw_seen; /* a raw frame may have opened a connection with other MACs */
	unsigned binds, sent;
} g;

static int on_send(void *ctx, const uint8_t *f, size_t len)
{
	struct lb_segment s;
	int i;

	g.sent++;
	CHECK(len <= 2048, "sent a frame of %zu bytes", len);
	CHECK(!lb_frame_check_csums(f, len), "sent a frame with a bad checksum (%zu bytes)", len);
	CHECK(!lb_segment_parse(f, len, &s), "sent a frame that does not parse (%zu bytes)", len);
	CHECK(s.saddr == htonl(VIP_IP) && s.sport == htons(VIP_PORT), "sent from %08x:%u",
	      ntohl(s.saddr), ntohs(s.sport));
	CHECK(s.daddr == htonl(CLIENT_IP), "sent to %08x", ntohl(s.daddr));
	for (i = 0; i < N_CLIENTS; i++)
		if (s.dport == htons(g.cl[i].port))
			break;
	CHECK(i < N_CLIENTS, "sent to port %u, no client's", ntohs(s.dport));
	if (!g.raw_seen)
		CHECK(!memcmp(s.dst_mac, hop_mac, 6) && !memcmp(s.src_mac, lb_mac, 6),
		      "sent with wrong MACs");
	CHECK((s.flags & LB_TH_ACK) && !(s.flags & LB_TH_SYN), "sent flags %#x", s.flags);
	if (s.len && s.seq == g.cl[i].cookie + 1)
		CHECK(s.len >= 9 && !memcmp(s.payload, "HTTP/1.1 ", 9), "a reply not starting HTTP/1.1");
	return 0;
}

/* The hand-off: the request must be complete and routed to a holder that is up. */
static int on_bind(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c, uint32_t backend,
		   enum lb_bind_step step)
{
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_conn_view v;
	struct lb_http_request q;
	struct lb_route_match m;
	char path[4096];
	uint8_t *req;
	int r, n;
	size_t i;

	g.binds++;
	lb_conn_describe(c, &v);
	/*
	 * Only a hand-off to a new holder must carry a routed head: the other steps
	 * hand no request over (probes, resets, forwarded segments), or leave one
	 * with the backend it is bound to whatever it is (a later request whose
	 * backend would not go quiet: LB_BIND_ADVANCE, stays_busy).
	 */
	if (step != LB_BIND_HANDOFF && step != LB_BIND_REPLAY_SYN)
		return g.bind_ok ? 0 : -1;
	CHECK(v.request_len > 0 && v.request_len <= LIMIT, "bind with %u request bytes", v.request_len);
	CHECK(backend < g.cfg.n_backends, "bind to backend %u of %zu", backend, g.cfg.n_backends);
	CHECK(g.cfg.backends[backend].state == LB_BACKEND_UP, "bind to %s, which is not up",
	      g.cfg.backends[backend].name);
	CHECK(v.key.daddr == htonl(VIP_IP) && v.key.dport == htons(VIP_PORT) &&
		      v.key.saddr == htonl(CLIENT_IP),
	      "bind of a connection that is no client's");

	req = dup_exact(v.request, v.request_len);
	lim.max_head = LIMIT;
	r = lb_http_parse_head((const char *)req, v.request_len, &lim, &q);
	CHECK(r == LB_HTTP_DONE, "bind for a head that parses to %d (%s)", r, q.error ? q.error : "");
	n = lb_http_route_path(&q, path, sizeof(path));
	CHECK(n > 0, "bind for a path that does not normalise (%d)", n);
	CHECK(lb_directory_lookup(g.dir, q.host, q.host_len, path, n, &m),
	      "bind for host \"%s\" path \"%s\", which has no route", q.host, path);
	for (i = 0; i < m.n_holders; i++)
		if (m.holders[i] == backend)
			break;
	CHECK(i < m.n_holders, "bind of \"%s\" (route %s) to %s, which does not hold it", path, m.name,
	      g.cfg.backends[backend].name);
	free(req);
	return g.bind_ok ? 0 : -1;
}

static size_t build(uint8_t *buf, size_t cap, struct client *cl, uint32_t seq, uint32_t ack,
		    uint8_t flags, uint16_t window, const uint8_t *data, size_t len)
{
	struct lb_segment s = {
		.saddr = htonl(CLIENT_IP), .daddr = htonl(VIP_IP),
		.sport = htons(cl->port), .dport = htons(VIP_PORT),
		.seq = seq, .ack = ack, .flags = flags, .window = window,
		.has_ts = cl->ts, .tsval = ++cl->tsval, .tsecr = 0x0badcafe,
		.payload = data, .len = (uint32_t)len,
	};

	memcpy(s.dst_mac, lb_mac, 6);
	memcpy(s.src_mac, hop_mac, 6);
	return lb_segment_build(buf, cap, &s);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	char err[LB_ERR_MAX], *text;
	size_t n;

	/* The config with the routes section last: append the B1 route in strict mode. */
	n = strlen(yaml) + sizeof(yaml_b1);
	text = malloc(n);
	CHECK(text, "oom");
	strcpy(text, yaml);
	if (fuzz_strict()) {
		char *h = strstr(text, "handoff:");

		memmove(h + strlen(yaml_b1), h, strlen(h) + 1);
		memcpy(h, yaml_b1, strlen(yaml_b1));
	}
	CHECK(!lb_config_parse("dispatcher.yaml", text, strlen(text), &g.cfg, err, sizeof(err)),
	      "config: %s", err);
	free(text);
	g.dir = lb_directory_build(g.cfg.routes, g.cfg.n_routes, err, sizeof(err));
	CHECK(g.dir, "directory: %s", err);
	g.secret = (struct lb_cookie_secret){
		.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
		.period_s = 64,
		.windows = 2,
	};
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct lb_dispatcher_maps maps = { .flows = NULL, .backends_fd = -1,
					  .hint_gen_fd = -1 };
	struct reader rd = { data, size };
	struct lb_dispatcher *d;
	uint8_t ctl = rd_u8(&rd), frame[4096];
	size_t max_conns = 1 + (ctl & 7);
	int ops = 0;

	g.now = 1000000;
	g.tai = TAI;
	g.bind_ok = !(ctl & 8);
	g.binds = g.sent = 0;
	g.raw_seen = false;
	for (int i = 0; i < N_CLIENTS; i++) {
		struct client *cl = &g.cl[i];
		uint8_t o = rd_u8(&rd);
		struct lb_cookie_tuple tu = {
			.caddr = htonl(CLIENT_IP), .vaddr = htonl(VIP_IP),
			.cport = htons(40000 + i), .vport = htons(VIP_PORT),
		};

		memset(cl, 0, sizeof(*cl));
		cl->port = 40000 + i;
		cl->isn = i == 3 ? 0xfffffff0u : 0x10000000u * (i + 1);
		cl->opts.mss = lb_cookie_mss_from_index(o & 3);
		cl->opts.wscale = (o >> 2) & 15;
		cl->opts.sack = (o >> 6) & 1;
		cl->ts = o >> 7;
		cl->tsval = 0x5eed0000u + i;
		cl->cookie = lb_cookie_make(g.secret.key, &tu, cl->isn,
					    lb_cookie_counter(&g.secret, TAI),
					    lb_cookie_encode_opts(&cl->opts));
	}

	d = lb_dispatcher_new(&g.cfg, g.dir, &g.secret, &maps, on_send, NULL);
	CHECK(d, "lb_dispatcher_new");
	lb_dispatcher_set_bind(d, on_bind, NULL);
	lb_dispatcher_set_max_conns(d, max_conns);

	while (rd.n && ops++ < 256) {
		uint8_t op = rd_u8(&rd) % 8;

		switch (op) {
		case 0: case 1: case 2: case 3: { /* a client's segment (3: one byte flipped) */
			struct client *cl = &g.cl[rd_u8(&rd) % N_CLIENTS];
			uint8_t mode = rd_u8(&rd), ackmode = rd_u8(&rd), flags = rd_u8(&rd);
			uint16_t window = rd_u16(&rd);
			uint32_t off = rd_u16(&rd), ack;
			const uint8_t *payload;
			size_t len, n;
			uint64_t segs;

			if (mode & 1) {
				const char *t = templates[(mode >> 1) % N_TEMPLATES];
				size_t tl = strlen(t), to = rd_u16(&rd) % tl;

				len = rd_u16(&rd); /* 0 or past the end: to the end */
				if (!len || len > tl - to)
					len = tl - to;
				payload = (const uint8_t *)t + to;
				if (!(mode & 0x80))
					off = (uint32_t)to;
			} else {
				payload = rd_bytes16(&rd, 1600, &len);
			}
			if (mode & 0x40)
				off = rd_u32(&rd); /* anywhere, before the ISN too */
			switch (ackmode & 7) {
			case 5: ack = rd_u32(&rd); break;
			case 6: ack = cl->cookie + 1 + rd_u16(&rd); break; /* acknowledging our reply */
			default: ack = cl->cookie + 1; break;
			}
			n = build(frame, sizeof(frame), cl, cl->isn + 1 + off, ack, flags, window, payload,
				  len);
			if (!n)
				break;
			if (op == 3) {
				uint16_t at = rd_u16(&rd);
				uint8_t x = rd_u8(&rd);

				/* Past the MACs: replies go where the frame came from. */
				frame[12 + at % (n - 12)] ^= x ? x : 1;
			}
			segs = lb_dispatcher_counter(d, LB_DISP_SEGMENTS);
			lb_dispatcher_input(d, frame, n, g.now, g.tai);
			if (lb_frame_check_csums(frame, n))
				CHECK(lb_dispatcher_counter(d, LB_DISP_SEGMENTS) == segs,
				      "a segment whose checksum is wrong was taken (%zu bytes)", n);
			break;
		}
		case 4: { /* any bytes as a frame */
			size_t len;
			const uint8_t *b = rd_bytes16(&rd, sizeof(frame), &len);
			uint8_t *f = dup_exact(b, len);

			g.raw_seen = true;
			lb_dispatcher_input(d, f, len, g.now, g.tai);
			free(f);
			break;
		}
		case 5: case 6: { /* time passes */
			uint16_t ms = rd_u16(&rd);

			g.now += op == 6 ? (uint64_t)ms * 16 : ms;
			g.tai = TAI + (g.now - 1000000) / 1000;
			lb_dispatcher_timers(d, g.now);
			break;
		}
		case 7:
			g.bind_ok = !g.bind_ok;
			break;
		}
		CHECK(lb_dispatcher_conns(d) <= max_conns, "%zu connections held, cap %zu",
		      lb_dispatcher_conns(d), max_conns);
	}

	/* Long enough for every timeout, retransmission and linger to run out. */
	for (int i = 0; i < 64 && lb_dispatcher_conns(d); i++) {
		g.now += 30000;
		lb_dispatcher_timers(d, g.now);
	}
	CHECK(!lb_dispatcher_conns(d), "%zu connections still held after an hour",
	      lb_dispatcher_conns(d));
	if (getenv("LB_FUZZ_VERBOSE")) {
		/* What the input did, for replaying a corpus by hand. */
		for (int c = 0; c < LB_DISP_MAX; c++)
			if (lb_dispatcher_counter(d, c))
				fprintf(stderr, "%s=%llu ", lb_dispatch_counter_names[c],
					(unsigned long long)lb_dispatcher_counter(d, c));
		fprintf(stderr, "binds=%u sent=%u\n", g.binds, g.sent);
	}
	lb_dispatcher_free(d);
	return 0;
}
