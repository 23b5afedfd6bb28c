// SPDX-License-Identifier: GPL-2.0
/*
 * The dispatcher's TCP bookkeeping before binding. A connection is born when
 * its first segment with a valid cookie arrives; from then on the flows map
 * sends all of its segments here (state LB_FLOW_DISPATCH). Request bytes are
 * stored at their offset in a buffer of handoff.request_limit bytes with a bit
 * per byte received, so duplicates, overlaps and out-of-order segments are
 * handled alike and the first copy of a byte wins (a retransmission cannot
 * change what was already parsed).
 *
 *   COLLECTING  ─ head complete ─► routed: cookie-mode hand-off (bind callback) or 503
 *       │        │                 └ replay-mode backend: SYN replayed ─► REPLAYING
 *       │        └ bad / no route / too large / timeout ─► REPLYING
 *   REPLAYING: waiting for the backend's SYN/ACK, which the XDP program sends
 *             here; the SYN is sent again on a timer. SYN/ACK ─► the client's
 *             segments go to the backend and we forget the connection; no
 *             answer after LB_REPLAY_TRIES, or a reset ─► the next holder, or 503.
 *             Client segments meanwhile are dropped (it retransmits them to the
 *             backend later): never sent twice.
 *   REPLYING: our reply + FIN sent, retransmitted until the client acknowledges
 *             it and sends its FIN, which we acknowledge ─► LINGER
 *   LINGER: kept briefly to acknowledge a retransmitted FIN, then gone
 *
 * Per-request binding: XDP sends up the data of a bound connection past the
 * end of the requests its backend has (the flow's req_end), and that becomes a
 * connection record of its own ("later"), collected the same way but never
 * acknowledged by us (the backend owns the sequence space):
 *   COLLECTING ─ the bound backend holds it ─► forwarded, req_end moved (gone)
 *       │       └ another holder, or our own answer ─► PROBING
 *   PROBING: the bound backend is asked what it has in flight until it has
 *            nothing; then its socket is reset at its own numbers, and the
 *            request goes to the new holder at the connection's numbers:
 *            cookie mode ─► MOVING, replay mode ─► REPLAYING; or our reply
 *            ─► REPLYING. A backend busy for LB_HOLD_MAX_MS keeps the request.
 *            A pipelined request (sent before the answer before it was
 *            complete) waits until the backend's framing report proves that
 *            answer complete, then goes to its holder, the bound one too;
 *            without a proof it stays with the bound backend.
 *   MOVING: the new backend has the request but has not shown that it made a
 *           socket from it; client segments come here and the request is sent
 *           again (with its proof) until the client acknowledges the new
 *           backend's bytes, or XDP sees the backend send something ─► gone
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <bpf/bpf.h>

#include "dispatcher.h"
#include "clock.h"
#include "flow_table.h"
#include "hint.h"
#include "http.h"
#include "log.h"
#include "metrics.h"
#include "maps.h"
#include "packet.h"
#include "redirect.h"
#include "reply.h"
#include "route_counts.h"
#include "select.h"
#include "stat.h"

#define LB_CONN_BUCKETS	     65536
#define LB_DEFAULT_MAX_CONNS 16384
#define LB_REPLY_RTO_MS	     200  /* first retransmission of our reply */
#define LB_REPLY_TRIES	     6	  /* then the client is reset */
#define LB_LINGER_MS	     2000 /* to acknowledge a retransmitted FIN */
/*
 * Replayed SYN: first retransmission, doubling after. A backend sits on the
 * balancer's LAN, so 3 tries (100 + 200 + 400 ms) is generous before the next
 * holder is tried; the client sees at most that as extra latency.
 */
#define LB_REPLAY_RTO_MS     100
#define LB_REPLAY_TRIES	     3
/*
 * Per-request binding. A probe's answer takes a LAN round trip: asked again
 * after 2 ms, backing off to 64 ms, while the backend is busy; one still busy
 * after 5 s keeps the request. A new cookie-mode backend that shows no sign of
 * the connection gets the request again at 100, 200, 400, 800 ms, then 503.
 */
#define LB_PROBE_RTO_MS	     2
#define LB_PROBE_MAX_MS	     64
#define LB_HOLD_MAX_MS	     5000
#define LB_ADOPT_RTO_MS	     100
#define LB_ADOPT_TRIES	     5
#define LB_BODY_FOLLOWED     (1u << 30) /* a request end this far is followed; beyond, it stays */
#define LB_NO_BACKEND	     UINT32_MAX
#define LB_TS_MARGIN_MS	     16 /* a moved connection's clock starts this far ahead of ours */

enum conn_state { COLLECTING, REPLYING, LINGER, REPLAYING, PROBING, MOVING };

struct lb_conn {
	struct lb_flow_key key;
	struct lb_conn *hnext;	     /* hash chain */
	struct lb_conn *prev, *next; /* age list, oldest first */
	uint8_t client_mac[6];	     /* next hop towards the client */
	uint8_t own_mac[6];
	uint32_t client_isn;
	uint32_t cookie;	     /* our ISN */
	struct lb_cookie_opts opts;
	bool ts_ok;
	uint32_t ts_recent;	     /* the client's last TSval, echoed in ours */
	uint32_t ts_sent;	     /* the latest TSval the client got from us: our
				      * SYN/ACK's (its first echo), then our ACKs' */
	uint16_t client_window;	     /* from its last segment, unscaled */
	enum conn_state state;
	uint8_t *buf;		     /* request bytes by offset, `cap` of them so far */
	uint8_t *have;		     /* a bit per byte of buf: received */
	uint32_t cap;		     /* grows with what arrives, up to request_limit */
	uint32_t held;		     /* contiguous request bytes from offset 0 */
	bool fin_seen;		     /* the client's FIN, in order, at offset `held` + `discarded` */
	uint32_t discarded;	     /* in-order bytes after the head we took and dropped */
	uint64_t deadline_ms;	     /* request timeout, retransmission or linger end */
	uint64_t first_byte_ns;	     /* CLOCK_MONOTONIC when request bytes first came */
	/* REPLYING */
	char *reply;
	uint32_t reply_len;
	uint32_t tries;		     /* also: replayed SYNs sent */
	bool reply_acked;
	/* REPLAYING */
	uint32_t backend;	     /* the holder the SYN was replayed to; also where it was
				      * handed (cookie mode) or is moving to (MOVING) */
	uint64_t tried[LB_MAX_BACKENDS / 64]; /* holders that failed this request */
	/* The flow's per-request fields (what the hand-off writes) */
	uint32_t req_len;	     /* this request's bytes, head and body; 0: not parsed yet */
	uint8_t flow_flags;	     /* LB_FLOW_F_* */
	uint8_t syn_opts;	     /* the cookie's low byte */
	uint16_t binds;		     /* backends the connection has had */
	/* A later request on a bound connection */
	bool later;
	bool pipelined;		     /* sent before the answer to the request before it */
	bool prev_exact;	     /* srv_prev is where that answer begins, proven */
	bool prev_no_body;	     /* ... and it has no body (a HEAD's) */
	bool retired;		     /* the previous backend is let go (its socket reset, or parked) */
	bool park;		     /* ... parked: left open for the connection's return */
	bool held_counted;
	uint32_t bound;		     /* the backend the connection is bound to */
	uint32_t srv_prev;	     /* its sequence number when it got its latest request */
	uint32_t client_ack;	     /* the client's latest ACK */
	uint32_t first_ack;	     /* the ACK the request came with: the answers before it
				      * end there, unless it was pipelined */
	uint32_t chosen;	     /* PROBING: the new holder; LB_NO_BACKEND: our reply */
	int reply_status;	     /* PROBING: the reply (built) to send once the backend is idle */
	bool reply_head;
	uint64_t hold_until_ms;	     /* PROBING: give up waiting for an idle backend */
	uint64_t rebind_start_ns;
	const struct lb_segment *fwd; /* LB_BIND_FORWARD's segment, during the call */
	uint32_t hint_hash;	     /* the same-holder hint the flow gets (hint.h) */
	uint16_t hint_len;
	uint16_t hint_gen;
	bool fresh;		     /* tried whole (take_whole): no flow yet, the hand-off
				      * inserts one only where there is none */
};

/* A route's same-holder hint: its prefix's FNV-1a and length (0: none). */
struct route_hint {
	uint32_t hash;
	uint16_t len;
};

struct lb_dispatcher {
	const struct lb_config *cfg;
	const struct lb_directory *dir;
	struct lb_cookie_secret secret;
	struct lb_dispatcher_maps maps;
	struct lb_flow_table *flows;	/* maps.flows: the daemon's, or NULL */
	lb_send_fn send;
	void *send_ctx;
	lb_bind_fn bind;
	void *bind_ctx;
	struct lb_conn **buckets;
	struct lb_conn *oldest, *newest;
	size_t n_conns, max_conns;
	uint32_t rr;
	uint64_t now_ms;
	uint64_t *counters; /* maps.counters (a disp_stats row), or own_counters */
	uint64_t own_counters[LB_DISP_MAX];
	struct lb_route_counts route_counts;
	struct lb_histogram handoff_latency;
	struct lb_histogram rebind_latency;
	struct lb_recent recent;	/* redirects sent, as load (select.h) */
	struct route_hint *hints;	/* per route of cfg; NULL: no hints for this site */
	uint16_t hint_gen;		/* the directory generation hints are made under */
	/*
	 * A whole first request being tried (take_whole): nothing is sent, counted
	 * or kept until it is handed off; anything else calls the trial off.
	 */
	struct {
		bool on, off, done;
		struct lb_dispatch_tally tally; /* counted once it is handed off */
		struct lb_dispatch_tally *held; /* or kept there (lb_dispatcher_hold_tally) */
	} trial;
	uint8_t frame[2048];
};

/* ---- helpers --------------------------------------------------------------- */

static void count(struct lb_dispatcher *d, enum lb_dispatch_counter c)
{
	if (d->trial.on) {
		struct lb_dispatch_tally *t = &d->trial.tally;

		if (t->n < sizeof(t->counts) / sizeof(t->counts[0]))
			t->counts[t->n++] = c;
		else
			d->trial.off = true;
		return;
	}
	lb_stat_add(&d->counters[c], 1); /* status reads the row as it is written */
}

/* A trial must stop here (a reply, a replay, a frame to the client): true if one is on. */
static bool trial_off(struct lb_dispatcher *d)
{
	if (d->trial.on)
		d->trial.off = true;
	return d->trial.on;
}

static uint32_t key_hash(const struct lb_flow_key *k)
{
	uint64_t h = ((uint64_t)k->saddr << 32 | k->daddr) * 0x9e3779b97f4a7c15ULL;

	h ^= ((uint64_t)k->sport << 16 | k->dport) * 0xc2b2ae3d27d4eb4fULL;
	return (uint32_t)(h >> 32) & (LB_CONN_BUCKETS - 1);
}

static bool key_eq(const struct lb_flow_key *a, const struct lb_flow_key *b)
{
	return a->saddr == b->saddr && a->daddr == b->daddr && a->sport == b->sport &&
	       a->dport == b->dport;
}

static struct lb_conn *conn_find(struct lb_dispatcher *d, const struct lb_flow_key *k)
{
	struct lb_conn *c;

	for (c = d->buckets[key_hash(k)]; c; c = c->hnext)
		if (key_eq(&c->key, k))
			return c;
	return NULL;
}

static uint32_t limit(const struct lb_dispatcher *d)
{
	return d->cfg->handoff.request_limit;
}

static bool have_byte(const struct lb_conn *c, uint32_t off)
{
	return off < c->cap && (c->have[off / 8] & (1u << (off % 8)));
}

/*
 * Room for bytes up to offset @end: memory follows what a client has sent, not
 * what it may send, so thousands of slow clients cost little. Doubles from 2 KiB.
 */
static int conn_grow(struct lb_conn *c, uint32_t end, uint32_t lim)
{
	uint32_t cap = c->cap ? c->cap : 2048;
	uint8_t *buf, *have;

	while (cap < end)
		cap *= 2;
	if (cap > lim)
		cap = lim;
	if (cap <= c->cap)
		return 0;
	buf = realloc(c->buf, cap);
	if (!buf)
		return -1;
	c->buf = buf;
	have = realloc(c->have, (cap + 7) / 8);
	if (!have)
		return -1;
	memset(have + (c->cap + 7) / 8, 0, (cap + 7) / 8 - (c->cap + 7) / 8);
	c->have = have;
	c->cap = cap;
	return 0;
}

/*
 * Forget @c; @drop_flow also removes its flows entry (not after a hand-off),
 * and undoes a replay under way (the backend's count, its half-open connection).
 */
static void conn_unlink(struct lb_dispatcher *d, struct lb_conn *c, bool drop_flow)
{
	struct lb_conn **pp = &d->buckets[key_hash(&c->key)];

	if (drop_flow && c->state == REPLAYING && d->bind)
		d->bind(d->bind_ctx, d, c, c->backend, LB_BIND_REPLAY_ABORT);

	while (*pp != c)
		pp = &(*pp)->hnext;
	*pp = c->hnext;
	if (c->prev)
		c->prev->next = c->next;
	else
		d->oldest = c->next;
	if (c->next)
		c->next->prev = c->prev;
	else
		d->newest = c->prev;
	__atomic_store_n(&d->n_conns, d->n_conns - 1, __ATOMIC_RELAXED);
	/* A later request being collected or held: the flow is still its backend's. */
	if (c->later && !c->retired && (c->state == COLLECTING || c->state == PROBING))
		drop_flow = false;
	if (drop_flow && d->flows)
		lb_flow_remove(d->flows, &c->key, NULL);
	free(c->buf);
	free(c->have);
	free(c->reply);
	free(c);
}

static void conn_free(struct lb_dispatcher *d, struct lb_conn *c)
{
	conn_unlink(d, c, true);
}

/* ---- sending ----------------------------------------------------------------- */

/* The next client sequence number we expect: everything taken, and its FIN. */
static uint32_t rcv_nxt(const struct lb_conn *c)
{
	return c->client_isn + 1 + c->held + c->discarded + (c->fin_seen ? 1 : 0);
}

/* A segment from the VIP to the client on @c's connection. */
static void conn_send(struct lb_dispatcher *d, struct lb_conn *c, uint32_t seq, uint8_t flags,
		      const char *data, uint32_t len)
{
	uint32_t lim = limit(d), space = c->held < lim ? lim - c->held : 0;
	struct lb_segment s = {
		.saddr = c->key.daddr, .daddr = c->key.saddr,
		.sport = c->key.dport, .dport = c->key.sport,
		.seq = seq, .ack = rcv_nxt(c),
		.flags = flags | LB_TH_ACK,
		.has_ts = c->ts_ok, .tsval = (uint32_t)d->now_ms, .tsecr = c->ts_recent,
		.payload = (const uint8_t *)data, .len = len,
	};
	size_t n;

	if (trial_off(d))
		return;
	/* The right edge of our window never moves back: it stays at the limit. */
	if (c->opts.wscale != LB_COOKIE_WSCALE_NONE)
		space >>= d->cfg->handoff.wscale;
	s.window = space > 0xffff ? 0xffff : space;
	memcpy(s.dst_mac, c->client_mac, 6);
	memcpy(s.src_mac, c->own_mac, 6);
	/* Never below what the client has had (a backend's clock, mid-connection): PAWS. */
	if (c->ts_ok && (int32_t)(s.tsval - c->ts_sent) > 0)
		c->ts_sent = s.tsval;
	else if (c->ts_ok)
		s.tsval = c->ts_sent;
	n = lb_segment_build(d->frame, sizeof(d->frame), &s);
	if (!n || d->send(d->send_ctx, d->frame, n))
		count(d, LB_DISP_TX_FULL);
}

static void conn_ack(struct lb_dispatcher *d, struct lb_conn *c)
{
	/* A later request's bytes are not ours to acknowledge: the backend's sequence space. */
	if (!c->later)
		conn_send(d, c, c->cookie + 1, 0, NULL, 0);
}

/* Our reply and FIN, split to the client's MSS. */
static void send_reply(struct lb_dispatcher *d, struct lb_conn *c)
{
	uint32_t mss = c->opts.mss - (c->ts_ok ? 12 : 0), off = 0;

	do {
		uint32_t n = c->reply_len - off > mss ? mss : c->reply_len - off;
		bool last = off + n == c->reply_len;

		conn_send(d, c, c->cookie + 1 + off, last ? LB_TH_FIN | LB_TH_PSH : 0,
			  c->reply ? c->reply + off : NULL, n);
		off += n;
	} while (off < c->reply_len);
}

static void send_rst(struct lb_dispatcher *d, struct lb_conn *c)
{
	uint32_t seq = c->cookie + 1 + (c->state == REPLYING ? c->reply_len + 1 : 0);

	conn_send(d, c, seq, LB_TH_RST, NULL, 0);
}

/* Close without a reply: just our FIN, retransmitted like a reply would be. */
static void conn_close(struct lb_dispatcher *d, struct lb_conn *c)
{
	c->state = REPLYING;
	c->tries = 1;
	c->deadline_ms = d->now_ms + LB_REPLY_RTO_MS;
	send_reply(d, c);
}

/*
 * Answer the client ourselves and close: a complete HTTP/1.1 response with
 * Connection: close, then FIN. @head_only for HEAD requests (no body).
 */
static void start_probe(struct lb_dispatcher *d, struct lb_conn *c);

/*
 * Where the timestamps go on when a retired backend's connection is answered
 * by us or handed to another backend (whose clock starts from the echo it is
 * given). The client's echo we hold may be older than the old backend's latest
 * TSval; every backend's clock runs from the balancer's own (its SYN/ACK's),
 * so the balancer's clock now, a little ahead, is not behind it: PAWS holds.
 */
static void ts_past_backend(struct lb_dispatcher *d, struct lb_conn *c)
{
	uint32_t floor = (uint32_t)d->now_ms + LB_TS_MARGIN_MS;

	if (c->ts_ok && (int32_t)(floor - c->ts_sent) > 0)
		c->ts_sent = floor;
}

/*
 * Send the reply built in c->reply (@status, counted under it) and close: at
 * once, or on a bound connection once its backend has nothing in flight.
 */
static void conn_answer(struct lb_dispatcher *d, struct lb_conn *c, int status)
{
	if (trial_off(d))
		return;
	if (c->later && !c->retired) {
		c->reply_status = status;
		c->chosen = LB_NO_BACKEND;
		start_probe(d, c);
		return;
	}
	/* From here on the flow's packets are ours. */
	if (c->later && d->bind)
		d->bind(d->bind_ctx, d, c, c->bound, LB_BIND_RELEASE);
	if (c->later)
		ts_past_backend(d, c);
	if (!c->reply_len) {
		send_rst(d, c);
		conn_free(d, c);
		return;
	}
	count(d, lb_reply_counter(status));
	conn_close(d, c);
}

static void conn_reply(struct lb_dispatcher *d, struct lb_conn *c, int status, const char *why,
		       bool head_only)
{
	free(c->reply);
	c->reply_len = lb_reply_build(status, why, head_only, &c->reply);
	conn_answer(d, c, status);
}

/* ---- the request ------------------------------------------------------------- */

static bool tried(const struct lb_conn *c, uint32_t backend)
{
	return c->tried[backend / 64] & (1ULL << (backend % 64));
}

/*
 * What selection sees; holders that already failed @c's replay are down for it.
 * Redirects sent count as load for a while (lb_recent_load). A redirect
 * (!@need_mac) sends nothing to the backend, so its MAC need not be known.
 */
static void read_backends(struct lb_dispatcher *d, const struct lb_conn *c,
			  struct lb_backend_view *view, size_t n, bool need_mac)
{
	size_t i;

	for (i = 0; i < n; i++) {
		const struct lb_cfg_backend *b = &d->cfg->backends[i];
		struct lb_backend val;
		__u32 k = i;

		view[i] = (struct lb_backend_view){ .state = b->state, .weight = b->weight };
		if (d->maps.backends) {
			view[i] = lb_backend_view_of(&d->maps.backends[i], b->weight, need_mac);
		} else if (d->maps.backends_fd >= 0 &&
			   !bpf_map_lookup_elem(d->maps.backends_fd, &k, &val)) {
			view[i].state = val.state;
			view[i].active = val.active;
		}
		if (tried(c, i))
			view[i].state = LB_BACKEND_DOWN;
		view[i].active += lb_recent_load(&d->recent, (uint32_t)i, d->now_ms);
	}
}

static void note_chosen(struct lb_dispatcher *d, uint32_t backend)
{
	if (d->maps.backends)
		__atomic_fetch_add(&d->maps.backends[backend].chosen, 1, __ATOMIC_RELAXED);
}

static void conn_link(struct lb_dispatcher *d, struct lb_conn *c);
static void conn_parse(struct lb_dispatcher *d, struct lb_conn *c);

/*
 * Bytes past the request just handed over (pipelined requests that came with
 * it): a "later" record of their own, bound where this one went. NULL when
 * there are none, or no memory (the client sends them again).
 */
static struct lb_conn *carry_over(const struct lb_conn *c)
{
	struct lb_conn *n;
	uint32_t i;

	if (!c->req_len || c->held <= c->req_len || !(c->flow_flags & LB_FLOW_F_REQUESTS))
		return NULL;
	n = calloc(1, sizeof(*n));
	if (!n || conn_grow(n, c->held - c->req_len, c->cap)) {
		if (n) {
			free(n->buf);
			free(n->have);
		}
		free(n);
		return NULL;
	}
	n->key = c->key;
	memcpy(n->client_mac, c->client_mac, 6);
	memcpy(n->own_mac, c->own_mac, 6);
	n->client_isn = c->client_isn + c->req_len;
	n->cookie = c->cookie;
	n->opts = c->opts;
	n->ts_ok = c->ts_ok;
	n->ts_recent = c->ts_recent;
	n->ts_sent = c->ts_sent;
	n->client_window = c->client_window;
	n->client_ack = c->client_ack;
	n->first_ack = c->client_ack;
	n->first_byte_ns = c->first_byte_ns;
	for (i = c->req_len; i < c->held; i++) {
		n->buf[i - c->req_len] = c->buf[i];
		n->have[(i - c->req_len) / 8] |= 1u << ((i - c->req_len) % 8);
	}
	n->held = c->held - c->req_len;
	n->state = COLLECTING;
	n->later = true;
	n->pipelined = true;
	n->bound = c->backend;
	n->srv_prev = c->cookie + 1;
	n->prev_exact = c->flow_flags & LB_FLOW_F_SRV_EXACT;
	n->prev_no_body = c->flow_flags & LB_FLOW_F_NO_BODY;
	n->flow_flags = c->flow_flags;
	n->syn_opts = c->syn_opts;
	n->binds = c->binds;
	return n;
}

/*
 * The connection now belongs to the hand-off, and so does its flow. Whatever
 * came after the request carries on as the connection's next request.
 */
static void handed_off(struct lb_dispatcher *d, struct lb_conn *c)
{
	uint64_t now = lb_clock_ns(CLOCK_MONOTONIC);
	struct lb_conn *n = carry_over(c);

	if (c->later && c->retired)
		count(d, LB_DISP_REBINDS);
	if (c->later && c->park)
		count(d, LB_DISP_REBINDS_PARKED);
	if (!c->later && c->first_byte_ns && now >= c->first_byte_ns)
		lb_histogram_observe_ns(&d->handoff_latency, now - c->first_byte_ns);
	d->trial.done = d->trial.on;
	conn_unlink(d, c, false);
	if (n) {
		n->deadline_ms = d->now_ms + d->cfg->handoff.request_timeout_ms;
		conn_link(d, n);
		conn_parse(d, n);
	}
}

/* Replay mode: the SYN goes out and we wait for the backend's SYN/ACK. */
static void replay_start(struct lb_dispatcher *d, struct lb_conn *c, uint32_t backend, bool head)
{
	if (trial_off(d))
		return;
	if (!d->bind || d->bind(d->bind_ctx, d, c, backend, LB_BIND_REPLAY_SYN)) {
		conn_reply(d, c, 503, "the hand-off to the chosen backend is not available", head);
		return;
	}
	count(d, LB_DISP_REPLAY_SYNS);
	c->state = REPLAYING;
	c->backend = backend;
	c->tries = 1;
	c->deadline_ms = d->now_ms + LB_REPLAY_RTO_MS;
}

/*
 * The hand-off to c->backend failed (a replayed SYN unanswered or refused; a
 * move the new backend refused or never took): undo it, remember the holder
 * as tried and decide again from the request we still hold: another holder,
 * or 503. @why counts it.
 */
static void handoff_failed(struct lb_dispatcher *d, struct lb_conn *c,
			   enum lb_dispatch_counter why)
{
	count(d, why);
	if (d->bind)
		d->bind(d->bind_ctx, d, c, c->backend, LB_BIND_REPLAY_ABORT);
	/* A later request's move counted the new backend among the connection's. */
	if (c->later)
		c->binds--;
	c->tried[c->backend / 64] |= 1ULL << (c->backend % 64);
	c->state = COLLECTING;
	c->tries = 0;
	c->deadline_ms = d->now_ms + d->cfg->handoff.request_timeout_ms;
	conn_parse(d, c);
}

static void replay_failed(struct lb_dispatcher *d, struct lb_conn *c)
{
	handoff_failed(d, c, LB_DISP_REPLAY_FAILED);
}

/*
 * A frame from the VIP side while replaying: the backend's answer to our SYN,
 * sent here by the XDP program (only from the flow's backend). A SYN/ACK for
 * the client's ISN completes the hand-off; a reset is a refusal.
 */
static void replay_answer(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s)
{
	if (s->flags & LB_TH_RST) {
		pr_debug("replay to %s: refused (reset)\n", d->cfg->backends[c->backend].name);
		replay_failed(d, c);
		return;
	}
	if ((s->flags & (LB_TH_SYN | LB_TH_ACK)) != (LB_TH_SYN | LB_TH_ACK) ||
	    s->ack != c->client_isn + 1) {
		count(d, LB_DISP_SEGMENTS_DUP);
		return;
	}
	if (!d->bind || d->bind(d->bind_ctx, d, c, c->backend, LB_BIND_REPLAY_DONE)) {
		replay_failed(d, c);
		return;
	}
	count(d, LB_DISP_REPLAY_DONE);
	handed_off(d, c);
}

/* ---- same-holder hints (headers/hint.h) ----------------------------------------- */

struct hint_entry {
	const char *s;
	bool prefix;
	uint32_t route;
};

static int hint_entry_cmp(const void *a, const void *b)
{
	const struct hint_entry *x = a, *y = b;
	int r = strcmp(x->s, y->s);

	/* A prefix before an exact path equal to it: the path makes the prefix no leaf. */
	return r ? r : (int)y->prefix - (int)x->prefix;
}

/* Bytes XDP can compare as they come: what normalising leaves alone, and no query. */
static bool hint_safe(const char *p, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == '%' || p[i] == '?' || p[i] == '#')
			return false;
	return n > 0 && p[0] == '/';
}

static uint32_t hint_hash(const char *p, size_t n)
{
	uint32_t h = LB_FNV_BASIS;
	size_t i;

	for (i = 0; i < n; i++)
		h = lb_fnv_step(h, (uint8_t)p[i]);
	return h;
}

/*
 * Which routes can give a same-holder hint: a prefix route is one when every
 * request its prefix starts is its own, that is when no other route's path
 * starts with the prefix (it is a leaf) and every route is for any host (no
 * host scope can take a request first). Sites with more routes than
 * LB_HINT_ROUTES_MAX give none (this sorts them). A new generation each time,
 * published to XDP: hints made under the previous directory are not used.
 */
uint16_t lb_hint_gen_next(int hint_gen_fd, uint16_t prev)
{
	struct lb_hint_gen g;
	__u32 key0 = 0;

	if (hint_gen_fd >= 0 && !bpf_map_lookup_elem(hint_gen_fd, &key0, &g) &&
	    (uint16_t)g.gen >= prev)
		prev = (uint16_t)g.gen; /* a previous daemon's: go past it */
	prev++;
	if (!prev)
		prev = 1; /* 0 is never current: a zeroed flow has no hint */
	g.gen = prev;
	if (hint_gen_fd >= 0)
		bpf_map_update_elem(hint_gen_fd, &key0, &g, BPF_ANY);
	return prev;
}

static void hints_build(struct lb_dispatcher *d, uint16_t gen)
{
	const struct lb_config *cfg = d->cfg;
	struct hint_entry *e = NULL;
	size_t i, n = cfg->n_routes;

	free(d->hints);
	d->hints = NULL;
	d->hint_gen = gen;

	if (!n || n > LB_HINT_ROUTES_MAX)
		return;
	for (i = 0; i < n; i++)
		if (strcmp(cfg->routes[i].host, "*"))
			return;
	e = calloc(n, sizeof(*e));
	d->hints = calloc(n, sizeof(*d->hints));
	if (!e || !d->hints) {
		free(e);
		free(d->hints);
		d->hints = NULL;
		return;
	}
	for (i = 0; i < n; i++) {
		e[i].prefix = cfg->routes[i].prefix != NULL;
		e[i].s = e[i].prefix ? cfg->routes[i].prefix : cfg->routes[i].path;
		e[i].route = (uint32_t)i;
	}
	qsort(e, n, sizeof(*e), hint_entry_cmp);
	for (i = 0; i < n; i++) {
		size_t len = strlen(e[i].s);

		if (!e[i].prefix || len > LB_HINT_PREFIX_MAX || !hint_safe(e[i].s, len))
			continue;
		/* Sorted, whatever starts with this prefix comes right after it. */
		if (i + 1 < n && !strncmp(e[i + 1].s, e[i].s, len))
			continue;
		d->hints[e[i].route] = (struct route_hint){ hint_hash(e[i].s, len), (uint16_t)len };
	}
	free(e);
}

/* The flow's hint for a request routed by @route (nothing if its end is not followed). */
static void note_hint(struct lb_dispatcher *d, struct lb_conn *c, uint32_t route)
{
	c->hint_len = 0;
	c->hint_hash = 0;
	if (!d->hints || route >= d->cfg->n_routes || !(c->flow_flags & LB_FLOW_F_REQUESTS))
		return;
	c->hint_len = d->hints[route].len;
	c->hint_hash = d->hints[route].hash;
	c->hint_gen = d->hint_gen;
}

/* ---- per-request binding ------------------------------------------------------ */

static int bind_step(struct lb_dispatcher *d, struct lb_conn *c, uint32_t backend,
		     enum lb_bind_step step)
{
	return d->bind ? d->bind(d->bind_ctx, d, c, backend, step) : -1;
}

/* The flow's state now (0: none). */
static uint32_t flow_state(struct lb_dispatcher *d, const struct lb_flow_key *k)
{
	struct lb_flow f;

	if (!d->flows || d->flows->fd < 0 || bpf_map_lookup_elem(d->flows->fd, k, &f))
		return 0;
	return f.state;
}

/*
 * Where this request ends, so the flow can send what follows it here. A body
 * whose end is not followed (chunked, or over LB_BODY_FOLLOWED) or an Upgrade
 * leaves the connection with the backend it goes to now, for good.
 */
static void note_extent(struct lb_dispatcher *d, struct lb_conn *c,
			const struct lb_http_request *req)
{
	enum lb_http_extent e;
	uint64_t len;

	e = lb_http_request_extent(req, &len);
	c->flow_flags = c->ts_ok ? LB_FLOW_F_TS : 0;
	/* A first request's answer begins right after our SYN/ACK: a proven start. */
	if (!c->later)
		c->flow_flags |= LB_FLOW_F_SRV_EXACT;
	if (req->method_id == LB_METHOD_HEAD)
		c->flow_flags |= LB_FLOW_F_NO_BODY;
	if (e == LB_EXTENT_SIZED && len <= LB_BODY_FOLLOWED) {
		c->req_len = (uint32_t)len;
		c->flow_flags |= LB_FLOW_F_REQUESTS;
		return;
	}
	c->req_len = 0;
	count(d, e == LB_EXTENT_UPGRADE ? LB_DISP_STAYS_UPGRADE : LB_DISP_STAYS_BODY);
}

static void probe_again(struct lb_dispatcher *d, struct lb_conn *c)
{
	uint64_t wait = (uint64_t)LB_PROBE_RTO_MS << (c->tries < 6 ? c->tries : 6);

	bind_step(d, c, c->bound, LB_BIND_PROBE);
	c->tries++;
	c->deadline_ms = d->now_ms + (wait < LB_PROBE_MAX_MS ? wait : LB_PROBE_MAX_MS);
}

/* The client sequence number after this request: its body's end, or what is held. */
static uint32_t request_end(const struct lb_conn *c)
{
	return c->client_isn + 1 + (c->req_len ? c->req_len : c->held);
}

/* Hold the request and ask the bound backend what it still has in flight. */
static void start_probe(struct lb_dispatcher *d, struct lb_conn *c)
{
	c->state = PROBING;
	c->tries = 0;
	c->hold_until_ms = d->now_ms + LB_HOLD_MAX_MS;
	if (!c->rebind_start_ns)
		c->rebind_start_ns = lb_clock_ns(CLOCK_MONOTONIC);
	probe_again(d, c);
}

/*
 * The bound backend stays (it holds the request, or will not go quiet): forward
 * it there. Its answer begins at @srv, @exact if that is proven (the answer
 * before it complete), else where the client's ACK says.
 */
static void stay_at(struct lb_dispatcher *d, struct lb_conn *c, uint32_t srv, bool exact)
{
	c->backend = c->bound;
	c->cookie = srv - 1;
	if (exact)
		c->flow_flags |= LB_FLOW_F_SRV_EXACT;
	else
		c->flow_flags &= ~LB_FLOW_F_SRV_EXACT;
	if (bind_step(d, c, c->bound, LB_BIND_ADVANCE)) {
		/* The connection ended meanwhile (a FIN, a reset): nothing left to serve. */
		conn_unlink(d, c, false);
		return;
	}
	handed_off(d, c);
}

static void stay(struct lb_dispatcher *d, struct lb_conn *c)
{
	stay_at(d, c, c->client_ack, false);
}

/*
 * The bound backend keeps this request and every later one (the flow stops
 * routing requests one by one), for the reason @why counts.
 */
static void stay_for_good(struct lb_dispatcher *d, struct lb_conn *c, enum lb_dispatch_counter why)
{
	pr_debug("client port %u stays on %s for good (%s)\n", be16toh(c->key.sport),
		 d->cfg->backends[c->bound].name, lb_dispatch_counter_names[why]);
	count(d, why);
	c->flow_flags &= ~LB_FLOW_F_REQUESTS;
	c->hint_len = 0;
	stay(d, c);
}

static bool conn_store(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s);
static bool later_request(struct lb_dispatcher *d, const struct lb_segment *s,
			  const struct lb_flow_key *k);
static void conn_segment(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s);

/* The old backend is retired: the request goes to its new holder at the current numbers. */
static void bind_new(struct lb_dispatcher *d, struct lb_conn *c, uint32_t backend, bool head)
{
	uint64_t now = lb_clock_ns(CLOCK_MONOTONIC);

	ts_past_backend(d, c);
	if (c->rebind_start_ns && now >= c->rebind_start_ns)
		lb_histogram_observe_ns(&d->rebind_latency, now - c->rebind_start_ns);
	c->binds++;
	c->backend = backend;
	/* At the retired backend's numbers: the new one's answer begins there. */
	c->flow_flags |= LB_FLOW_F_SRV_EXACT;
	if (d->cfg->backends[backend].handoff == LB_HANDOFF_REPLAY) {
		replay_start(d, c, backend, head);
		return;
	}
	if (bind_step(d, c, backend, LB_BIND_HANDOFF)) {
		c->binds--;
		conn_reply(d, c, 503, "the hand-off to the chosen backend is not available", head);
		return;
	}
	c->state = MOVING;
	c->tries = 1;
	c->deadline_ms = d->now_ms + LB_ADOPT_RTO_MS;
}

/* The new cookie-mode backend refused the connection (its reset) or never showed it has it. */
static void move_failed(struct lb_dispatcher *d, struct lb_conn *c)
{
	handoff_failed(d, c, LB_DISP_REBIND_FAILED);
}

static void note_held(struct lb_dispatcher *d, struct lb_conn *c)
{
	if (!c->held_counted)
		count(d, LB_DISP_REQUESTS_HELD);
	c->held_counted = true;
}

enum answer_proof {
	PROOF_DONE,	/* the answer before the request is complete */
	PROOF_GOING,	/* not yet: ask again */
	PROOF_NONE,	/* nothing proves where it ends, nor will */
	PROOF_UNFRAMED, /* ... because its head does not say (rebind.h, LB_FRAMING_UNKNOWN) */
};

/*
 * A pipelined request's probe answer: is the answer before the request
 * complete? The backend reports where its latest answer starts and ends, as
 * its head frames it. That proves the end only when the dispatcher knows
 * where the answer to the backend's latest request began (srv_prev, proven:
 * the previous answer was complete when it was handed over) and the report's
 * answer began exactly there. Complete: its end (less the body after a HEAD)
 * acknowledged by the client, nothing written beyond it, every request byte
 * read. A backend that wrote or had acknowledged more than the answer proves
 * nothing.
 */
static enum answer_proof answer_before(const struct lb_conn *c, const struct lb_segment *s)
{
	uint16_t framing = be16toh(s->rebind.arg16);
	uint32_t start, end;

	if (!c->prev_exact)
		return PROOF_NONE;
	/* Nothing of it acknowledged yet (the request came long before): not begun. */
	if ((int32_t)(s->seq - c->srv_prev) <= 0)
		return PROOF_GOING;
	if (!s->has_framing || framing == LB_FRAMING_NONE)
		return PROOF_NONE;
	if (framing == LB_FRAMING_UNKNOWN)
		return PROOF_UNFRAMED;
	start = s->seq + be32toh(s->framing.start);
	if ((int32_t)(start - c->srv_prev) < 0)
		return PROOF_GOING; /* the latest head is an earlier answer's */
	if (start != c->srv_prev)
		return PROOF_NONE;
	if (framing == LB_FRAMING_INTERIM)
		return PROOF_GOING;
	end = s->seq + be32toh(s->framing.end) - (c->prev_no_body ? be32toh(s->framing.body_len) : 0);
	if ((int32_t)(s->seq - end) < 0)
		return PROOF_GOING;
	if (s->seq != end || s->rebind.val)
		return PROOF_NONE;
	return s->rebind.arg == LB_PROBE_IDLE && s->ack == c->client_isn + 1 ? PROOF_DONE
									    : PROOF_GOING;
}

/*
 * Does the idle bound backend keep its socket for the connection's return
 * (docs/parked-sockets.md)? Only a cookie-mode backend's program can take it
 * up again, and only a move to another backend keeps the flow that lists it:
 * our own answer ends the connection.
 */
static bool parks(const struct lb_dispatcher *d, const struct lb_conn *c)
{
	return d->cfg->handoff.park && c->chosen != LB_NO_BACKEND && c->bound < 255 &&
	       d->cfg->backends[c->bound].handoff == LB_HANDOFF_COOKIE;
}

/*
 * The bound backend's answer to our probe (headers/rebind.h), in the client's
 * numbers: seq its first unacknowledged byte, ack the next byte it expects.
 * Idle means everything it wrote is acknowledged, it has read every request
 * byte, and it wrote since its latest request (an answer that has not begun
 * is not an answer that has ended).
 */
static void probe_answer(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s)
{
	uint8_t status = s->rebind.arg;
	bool proven = false;

	pr_debug("probe answer from %s: status %u, seq %u (request given at %u), ack %u "
		 "(request end %u), %u bytes unacknowledged, framing %u\n",
		 d->cfg->backends[c->bound].name, status, s->seq, c->srv_prev, s->ack,
		 c->client_isn + 1, be32toh(s->rebind.val), be16toh(s->rebind.arg16));
	/*
	 * Written past what the client had when it sent this request: sent before
	 * the answer before it was complete. A socket drained mid-answer (its
	 * server not yet writing the rest) looks idle: only the answer's own
	 * framing tells where it ends.
	 */
	if (status != LB_PROBE_NO_SOCKET && (int32_t)(s->seq - c->first_ack) > 0) {
		enum answer_proof proof = answer_before(c, s);

		pr_debug("pipelined: answer from %u to %u (body %u), answer before begun at %u%s: "
			 "proof %d\n", s->seq + be32toh(s->framing.start),
			 s->seq + be32toh(s->framing.end), be32toh(s->framing.body_len), c->srv_prev,
			 c->prev_exact ? "" : " (not proven)", proof);
		switch (proof) {
		case PROOF_GOING:
			note_held(d, c);
			return; /* the timer asks again */
		case PROOF_UNFRAMED:
			count(d, LB_DISP_PIPELINED_UNFRAMED);
			/* fallthrough */
		case PROOF_NONE:
			stay_for_good(d, c, LB_DISP_STAYS_PIPELINED);
			return;
		case PROOF_DONE:
			count(d, LB_DISP_PIPELINED_PROVEN);
			proven = true;
			break;
		}
	} else if (status == LB_PROBE_IDLE &&
		   (s->seq == c->srv_prev || s->seq != c->first_ack || s->ack != c->client_isn + 1 ||
		    c->chosen == c->bound)) {
		/* A request held for its own backend moves on a proof only. */
		status = LB_PROBE_BUSY;
	}
	if (status == LB_PROBE_BUSY) {
		note_held(d, c);
		return; /* the timer asks again */
	}
	if (status == LB_PROBE_IDLE && c->chosen == c->bound) {
		/* Pipelined to the same backend: it gets it now, its answer begins here. */
		stay_at(d, c, s->seq, proven);
		return;
	}
	if (status == LB_PROBE_IDLE) {
		c->cookie = s->seq - 1;
		c->park = parks(d, c);
		if (!c->park)
			bind_step(d, c, c->bound, LB_BIND_RETIRE);
	} else if (status != LB_PROBE_NO_SOCKET) {
		return;
	}
	/* No socket: the backend let go itself; the client's view of the server stands. */
	c->retired = true;
	if (c->chosen == LB_NO_BACKEND)
		conn_answer(d, c, c->reply_status);
	else
		bind_new(d, c, c->chosen, c->reply_head);
}

/*
 * A client segment while a new cookie-mode backend takes the connection over.
 * An ACK past the server's side of the hand-off acknowledges the new backend's
 * bytes: it has the socket, the flow goes to the fast path and this segment on
 * to it. More of the request is stored and the request sent again.
 */
static void moving_segment(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s)
{
	if ((s->flags & LB_TH_ACK) && (int32_t)(s->ack - (c->cookie + 1)) > 0) {
		uint32_t end = request_end(c);
		struct lb_flow_key k = c->key;

		if (bind_step(d, c, c->backend, LB_BIND_SETTLE))
			return;
		/* Data past this request is the next one (with the ACK, as clients send it). */
		if (s->len && (int32_t)(s->seq + s->len - end) > 0 && (c->flow_flags & LB_FLOW_F_REQUESTS)) {
			struct lb_conn *next;

			handed_off(d, c);
			/*
			 * Held bytes past this request made the next one's record already
			 * (carry_over): the segment is more of it. A second record would
			 * decide the request again and wait on its own probes for good.
			 */
			next = conn_find(d, &k);
			if (next)
				conn_segment(d, next, s);
			else
				later_request(d, s, &k);
			return;
		}
		c->fwd = s;
		bind_step(d, c, c->backend, LB_BIND_FORWARD);
		c->fwd = NULL;
		handed_off(d, c);
		return;
	}
	if (conn_store(d, c, s))
		bind_step(d, c, c->backend, LB_BIND_ADOPT_RESEND);
}

/*
 * A later request is routed (@chosen), or answered by us: the same backend
 * keeps it; another one gets it once the bound one is idle.
 */
static void later_bind(struct lb_dispatcher *d, struct lb_conn *c, uint32_t chosen, bool head)
{
	if (!c->retired && chosen == c->bound) {
		count(d, LB_DISP_REQUESTS_SAME_HOLDER);
		if (!c->pipelined) {
			stay(d, c);
			return;
		}
		/*
		 * Pipelined: it waits until the answer before it is proven complete,
		 * so that its own answer's start is known and a later request can
		 * move. Nothing can prove it without a known start: it stays, and
		 * so does everything after it.
		 */
		if (!c->prev_exact) {
			stay_for_good(d, c, LB_DISP_STAYS_PIPELINED);
			return;
		}
		c->chosen = chosen;
		c->reply_status = 0;
		c->reply_head = head;
		start_probe(d, c);
		return;
	}
	c->reply_head = head;
	if (c->retired) {
		bind_new(d, c, chosen, head);
		return;
	}
	c->chosen = chosen;
	c->reply_status = 0;
	start_probe(d, c);
}

/* Is @backend among the route's holders, up and taking requests? */
static bool holds(const struct lb_route_match *m, const struct lb_backend_view *view,
		  uint32_t backend)
{
	size_t i;

	for (i = 0; i < m->n_holders; i++)
		if (m->holders[i] == backend)
			return view[backend].state == LB_BACKEND_UP && view[backend].weight;
	return false;
}

/*
 * What a request binds to its backend, as far as the balancer can know it
 * when it decides: the head and the body it declares (Content-Length), or
 * the head alone when the body's end is not known (docs/architecture.md,
 * "Access statistics").
 */
static uint64_t bound_bytes(const struct lb_http_request *req)
{
	uint64_t len;

	return lb_http_request_extent(req, &len) == LB_EXTENT_SIZED ? len : req->head_len;
}

/*
 * Redirect mode: the reply sending the client to @backend's public name with
 * redirect @r, into c->reply. Returns 0, or -1 when the request has no Location
 * (answered 400 or 503 instead).
 */
static int redirect_build(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_redirect *r,
			  uint32_t backend, const struct lb_http_request *req, bool head)
{
	const struct lb_cfg_backend *b = &d->cfg->backends[backend];
	const struct lb_redirect_vars v = {
		.public_name = b->public_name, .public_len = strlen(b->public_name),
		.path = req->path, .path_len = req->path_len,
		.query = req->query, .query_len = req->query_len,
		.host = req->host, .host_len = req->host_len,
	};
	enum lb_redirect_render_fault fault;
	char *location;
	size_t len = lb_redirect_render(r, &v, &location, &fault);

	if (!len) {
		if (fault == LB_RR_NOMEM)
			conn_reply(d, c, 503, "out of memory", head);
		else
			conn_reply(d, c, 400, "the redirect for this resource needs a valid Host",
				   head);
		return -1;
	}
	free(c->reply);
	c->reply_len = lb_reply_build_redirect(r->status, location, len, head, &c->reply);
	pr_debug("redirect %u to %s: %s\n", r->status, b->name, location);
	free(location);
	return 0;
}

/* The head is complete (or broken): decide. */
static void conn_decide(struct lb_dispatcher *d, struct lb_conn *c, int ret,
			const struct lb_http_request *req)
{
	struct lb_backend_view view[LB_MAX_BACKENDS];
	const struct lb_redirect *redirect;
	struct lb_route_match m;
	char path[4096];
	bool head = ret == LB_HTTP_DONE && req->method_id == LB_METHOD_HEAD;
	int plen, chosen;

	if (c->later && !c->retired)
		count(d, LB_DISP_REQUESTS_NEXT);

	if (ret != LB_HTTP_DONE) {
		pr_debug("request rejected (%d): %s\n", lb_http_status(ret),
			 req->error ? req->error : "malformed");
		conn_reply(d, c, lb_http_status(ret), req->error ? req->error : "malformed request",
			   false);
		return;
	}
	plen = lb_http_route_path(req, path, sizeof(path));
	if (plen < 0) {
		conn_reply(d, c, lb_http_status(plen) ? lb_http_status(plen) : 400,
			   "request path cannot be normalised", head);
		return;
	}
	if (!lb_directory_lookup(d->dir, req->host, req->host_len, path, plen, &m)) {
		conn_reply(d, c, 404, "no route for this resource", head);
		return;
	}
	redirect = lb_config_redirect(d->cfg, m.route, c->key.daddr, ntohs(c->key.dport));
	read_backends(d, c, view, d->cfg->n_backends, !redirect);
	note_extent(d, c, req);
	note_hint(d, c, m.route);
	/* A later request stays where it is when it can: no move is cheaper. */
	if (c->later && !c->retired && holds(&m, view, c->bound))
		chosen = (int)c->bound;
	else
		chosen = lb_select_backend(m.holders, m.n_holders, view, d->cfg->n_backends,
					   &d->rr);
	if (chosen < 0) {
		conn_reply(d, c, 503, "no holder of this resource is up", head);
		return;
	}
	/* A connection already bound to a holder stays there: cheaper than a round trip. */
	if (c->later && !c->retired && (uint32_t)chosen == c->bound)
		redirect = NULL;
	if (redirect && redirect_build(d, c, redirect, (uint32_t)chosen, req, head))
		return;
	count(d, LB_DISP_DECISIONS);
	if (d->trial.on) {
		struct lb_dispatch_tally *t = &d->trial.tally;

		t->decided = true;
		t->route = m.route;
		t->route_name = m.name;
		t->bytes = bound_bytes(req);
		t->chosen = (uint32_t)chosen;
	} else {
		lb_route_counts_hit(&d->route_counts, m.route, m.name, bound_bytes(req));
		note_chosen(d, chosen);
	}
	/* A trial that gives up is decided again: its line says it was one. */
	pr_debug("%s%.*s %.*s host '%s' → route %s → %s\n", d->trial.on ? "trial: " : "",
		 (int)req->method_len, req->method, (int)req->target_len, req->target, req->host,
		 m.name, d->cfg->backends[chosen].name);
	/* Redirected: nothing is handed over and no flow held, so the choice counts as recent load. */
	if (redirect) {
		if (trial_off(d))
			return; /* an answer: the usual way, which notes the load once */
		lb_recent_note(&d->recent, (uint32_t)chosen, d->now_ms);
		conn_answer(d, c, redirect->status);
		return;
	}
	/*
	 * The balancer's own web server keeps the connection: its stack cannot
	 * send a probe's answer back to us, so nothing could prove it idle
	 * (docs/limits.md). Later requests go up the local stack from XDP.
	 */
	if (d->cfg->backends[chosen].local && (c->flow_flags & LB_FLOW_F_REQUESTS)) {
		count(d, LB_DISP_STAYS_LOCAL);
		c->flow_flags &= ~LB_FLOW_F_REQUESTS;
		c->hint_len = 0;
	}
	if (c->later) {
		later_bind(d, c, (uint32_t)chosen, head);
		return;
	}
	c->backend = (uint32_t)chosen;
	if (d->cfg->backends[chosen].handoff == LB_HANDOFF_REPLAY) {
		replay_start(d, c, chosen, head);
		return;
	}
	if (d->bind && d->bind(d->bind_ctx, d, c, chosen, LB_BIND_HANDOFF) == 0) {
		handed_off(d, c);
		return;
	}
	conn_reply(d, c, 503, "the hand-off to the chosen backend is not available", head);
}

/* New bytes arrived at the front: is the head complete? */
static void conn_parse(struct lb_dispatcher *d, struct lb_conn *c)
{
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_http_request req;
	int ret;

	lim.max_head = limit(d);
	ret = lb_http_parse_head((const char *)c->buf, c->held, &lim, &req);
	if (ret == LB_HTTP_AGAIN) {
		if (c->held >= limit(d)) {
			conn_reply(d, c, 431, "request head larger than the balancer accepts", false);
			return;
		}
		if (c->fin_seen) {
			count(d, LB_DISP_CLIENT_FIN);
			if (c->held)
				conn_reply(d, c, 400,
					   "connection closed before the request was complete", false);
			else
				conn_close(d, c); /* asked for nothing: nothing to answer */
			return;
		}
		conn_ack(d, c);
		return;
	}
	conn_decide(d, c, ret, &req);
}

/* Store a segment's bytes at their offset; first copy wins. Returns true if the front grew. */
static bool conn_store(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s)
{
	uint32_t lim = limit(d), held_before = c->held, i;
	int64_t off = (int32_t)(s->seq - (c->client_isn + 1));
	int64_t end = off + s->len;
	bool fresh = false;

	if (end <= c->held && !(s->flags & LB_TH_FIN)) {
		count(d, LB_DISP_SEGMENTS_DUP);
		return false;
	}
	if (off < 0)
		off = 0;
	if (end > lim) {
		count(d, LB_DISP_SEGMENTS_OUTSIDE);
		end = lim;
	}
	if (off < end) {
		if (!c->first_byte_ns)
			c->first_byte_ns = lb_clock_ns(CLOCK_MONOTONIC);
		if (conn_grow(c, end, lim))
			return false;
	}
	for (i = off; i < end; i++) {
		if (have_byte(c, i))
			continue;
		c->buf[i] = s->payload[i - (s->seq - (c->client_isn + 1))];
		c->have[i / 8] |= 1u << (i % 8);
		fresh = true;
	}
	if (off > c->held && fresh)
		count(d, LB_DISP_SEGMENTS_OOO);
	else if (!fresh && off < end)
		count(d, LB_DISP_SEGMENTS_DUP); /* all of it already held, out of order */
	while (c->held < lim && have_byte(c, c->held))
		c->held++;
	/* A FIN counts once everything before it is here. */
	if ((s->flags & LB_TH_FIN) && off + s->len == c->held)
		c->fin_seen = true;
	return c->held != held_before || c->fin_seen;
}

/* ---- segments -------------------------------------------------------------- */

/* Into the hash and at the young end of the age list. */
static void conn_link(struct lb_dispatcher *d, struct lb_conn *c)
{
	uint32_t h = key_hash(&c->key);

	c->hnext = d->buckets[h];
	d->buckets[h] = c;
	c->prev = d->newest;
	c->next = NULL;
	if (d->newest)
		d->newest->next = c;
	else
		d->oldest = c;
	d->newest = c;
	__atomic_store_n(&d->n_conns, d->n_conns + 1, __ATOMIC_RELAXED);
}

/* Room for one more record under the cap: the oldest is the likeliest to be a slow or abandoned client. */
static void make_room(struct lb_dispatcher *d)
{
	if (d->n_conns < d->max_conns || !d->oldest)
		return;
	count(d, LB_DISP_CONNS_EVICTED);
	/* A later request's record has nothing of ours on the wire: it just goes. */
	if (!d->oldest->later)
		send_rst(d, d->oldest);
	conn_free(d, d->oldest);
}

static struct lb_conn *conn_new(struct lb_dispatcher *d, const struct lb_segment *s,
				const struct lb_cookie_opts *o)
{
	struct lb_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	if (!d->trial.on)
		make_room(d); /* a trial's record is gone again before the turn ends */
	c->key = lb_segment_flow_key(s);
	memcpy(c->client_mac, s->src_mac, 6);
	memcpy(c->own_mac, s->dst_mac, 6);
	c->client_isn = s->seq - 1;
	c->cookie = s->ack - 1;
	c->client_ack = s->ack;
	c->opts = *o;
	c->ts_ok = s->has_ts;
	c->ts_recent = s->tsval;
	c->ts_sent = s->tsecr;
	c->client_window = s->window;
	c->state = COLLECTING;
	c->deadline_ms = d->now_ms + d->cfg->handoff.request_timeout_ms;
	c->syn_opts = c->cookie & 0xff;
	c->binds = 1;
	conn_link(d, c);
	count(d, LB_DISP_CONNS_TAKEN);
	return c;
}

/*
 * The flow of a new connection, before its record: from now on the XDP
 * program sends every segment of it here. False if the connection was handed
 * off already (this segment was sent up before that): nothing to do. With no
 * room (a table full of connections collecting requests, none of which may be
 * evicted) only segments that pass the cookie check come: the first, or its
 * retransmission, which is usually the whole request. One insert that fails
 * if there is a flow, not a look first: a system call less per connection.
 */
static bool flow_claim(struct lb_dispatcher *d, const struct lb_segment *s,
		       const struct lb_flow_key *k)
{
	struct lb_flow f = { .state = LB_FLOW_DISPATCH };
	int err;

	if (!d->flows || d->flows->fd < 0)
		return true;
	memcpy(f.client_hop_mac, s->src_mac, 6);
	f.last_seen_ns = d->now_ms * 1000000;
	err = lb_flow_claim(d->flows, k, &f);
	if (err == -EEXIST)
		return false;
	if (err)
		pr_debug("no flow for a new connection: %s\n", strerror(-err));
	return true;
}

/*
 * A new connection's segment that holds one whole request and nothing after
 * it (a GET's head, say): it can be decided and handed off at once, leaving
 * nothing behind. The check reads it only; counted nowhere.
 */
static bool whole_request(const struct lb_dispatcher *d, const struct lb_segment *s)
{
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_http_request req;
	uint64_t end;

	if (!d->bind || !s->len || s->len > limit(d) || (s->flags & (LB_TH_SYN | LB_TH_FIN | LB_TH_RST)))
		return false;
	lim.max_head = limit(d);
	if (lb_http_parse_head((const char *)s->payload, s->len, &lim, &req) != LB_HTTP_DONE)
		return false;
	return lb_http_request_extent(&req, &end) == LB_EXTENT_SIZED && end == s->len;
}

/*
 * @s, a whole request (whole_request) on a new connection with a valid cookie
 * (@o), handed off in one go: no flow is put first, the hand-off inserts the
 * bound one only where there is none (so a flow another record or thread holds
 * wins), and no record stays. Whatever else the request leads to (a reply, a
 * replay, no hand-off) calls it off before anything is sent or counted: false,
 * and the segment goes the usual way. Any thread may try it: it leaves nothing
 * the connection's owner would miss. One flows-map system call per connection
 * instead of two. @for_owner: a thread takes it for the connection's owner
 * (lb_dispatcher_take_whole), so the segment itself counts with the rest.
 */
static bool take_whole(struct lb_dispatcher *d, const struct lb_segment *s,
		       const struct lb_cookie_opts *o, bool for_owner)
{
	uint32_t rr = d->rr;
	struct lb_conn *c;
	bool done;

	d->trial.on = true;
	d->trial.off = d->trial.done = false;
	d->trial.tally = (struct lb_dispatch_tally){ .n = 0 };
	d->trial.held = NULL;
	if (for_owner) {
		count(d, LB_DISP_SEGMENTS);
		count(d, LB_DISP_THREAD_TAKEN_WHOLE);
	}
	c = conn_new(d, s, o);
	if (c) {
		c->fresh = true;
		if (conn_store(d, c, s))
			conn_parse(d, c);
	}
	done = d->trial.done && !d->trial.off;
	d->trial.on = false;
	if (!done) {
		if (c && !d->trial.done)
			conn_unlink(d, c, false); /* nothing of it was written or sent */
		/*
		 * This thread decides again at once: with the same turn of the
		 * rotation, so it picks what the trial picked. Otherwise a holder
		 * a trial cannot hand off to (replay mode) would be skipped every
		 * time the rotation came to it.
		 */
		if (!for_owner)
			d->rr = rr;
		return false;
	}
	if (d->trial.held)
		*d->trial.held = d->trial.tally;
	else
		lb_dispatcher_tally(d, &d->trial.tally);
	return true;
}

void lb_dispatcher_hold_tally(struct lb_dispatcher *d, struct lb_dispatch_tally *to)
{
	if (d->trial.on)
		d->trial.held = to;
}

void lb_dispatcher_tally(struct lb_dispatcher *d, struct lb_dispatch_tally *t)
{
	unsigned int i;

	for (i = 0; i < t->n; i++)
		count(d, t->counts[i]);
	if (t->decided) {
		lb_route_counts_hit(&d->route_counts, t->route, t->route_name, t->bytes);
		note_chosen(d, t->chosen);
	}
	*t = (struct lb_dispatch_tally){ .n = 0 };
}

/*
 * After our reply: bytes the client still sends (a request body we will not
 * read) are taken in order and dropped, so its FIN can be acknowledged at the
 * right sequence number; a bare ACK gets no answer.
 */
static void segment_replying(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s)
{
	uint32_t fin_seq = c->cookie + 1 + c->reply_len; /* our FIN */
	int32_t ahead = (int32_t)(s->seq - rcv_nxt(c));
	bool news = false;

	if ((s->flags & LB_TH_ACK) && (int32_t)(s->ack - (fin_seq + 1)) >= 0)
		c->reply_acked = true;
	if (!c->fin_seen && ahead <= 0 && (int64_t)ahead + s->len > 0) {
		c->discarded += ahead + s->len; /* the part we had not seen yet */
		news = true;
	}
	if (!c->fin_seen && (s->flags & LB_TH_FIN) && (uint32_t)(s->seq + s->len) == rcv_nxt(c)) {
		c->fin_seen = true;
		news = true;
	}
	if (news || (c->fin_seen && (s->flags & LB_TH_FIN)))
		conn_send(d, c, fin_seq + 1, 0, NULL, 0);
	if (c->reply_acked && c->fin_seen) {
		c->state = LINGER;
		c->deadline_ms = d->now_ms + LB_LINGER_MS;
	}
}

/*
 * What of a client segment is the bound backend's, while a later request is
 * held: its bytes before the request (the previous one's tail, a retransmission
 * that took the held request's first bytes along), else its ACK alone, which
 * the backend's answer may be waiting for. @ack_news: the ACK moved.
 */
static void forward_before(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s,
			   bool ack_news)
{
	int32_t before = (int32_t)(c->client_isn + 1 - s->seq);
	struct lb_segment part = *s;

	if (before <= 0 && !ack_news)
		return;
	part.len = before <= 0 ? 0 : before < (int32_t)s->len ? (uint32_t)before : s->len;
	if (before < 0)
		part.seq = c->client_isn + 1;
	part.flags &= ~(LB_TH_FIN | (part.len ? 0 : LB_TH_PSH));
	c->fwd = &part;
	bind_step(d, c, c->bound, LB_BIND_FORWARD);
	c->fwd = NULL;
}

/* A record for the request that starts at the flow's req_end, bound where the flow is. */
static struct lb_conn *later_new(struct lb_dispatcher *d, const struct lb_segment *s,
				 const struct lb_flow_key *k, const struct lb_flow *f)
{
	struct lb_conn *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	make_room(d);
	c->key = *k;
	memcpy(c->client_mac, f->client_hop_mac, 6);
	memcpy(c->own_mac, s->dst_mac, 6);
	c->client_isn = f->req_end - 1;
	/* The server's side as the client has it; the probe's answer says exactly. */
	c->cookie = s->ack - 1;
	c->client_ack = s->ack;
	c->first_ack = s->ack;
	lb_cookie_decode_opts(f->syn_opts, &c->opts);
	c->ts_ok = f->flags & LB_FLOW_F_TS;
	c->ts_recent = s->tsval;
	c->ts_sent = s->tsecr; /* the bound backend's latest, as the client echoes it */
	c->client_window = s->window;
	c->state = COLLECTING;
	c->deadline_ms = d->now_ms + d->cfg->handoff.request_timeout_ms;
	c->later = true;
	/* Nothing new of the server's acknowledged since the request before: pipelined. */
	c->pipelined = (int32_t)(s->ack - f->srv_seq) <= 0;
	c->bound = f->backend;
	c->srv_prev = f->srv_seq;
	c->prev_exact = f->flags & LB_FLOW_F_SRV_EXACT;
	c->prev_no_body = f->flags & LB_FLOW_F_NO_BODY;
	c->syn_opts = f->syn_opts;
	c->flow_flags = f->flags & ~LB_FLOW_F_PEER; /* moved by us: ours */
	c->binds = f->binds;
	conn_link(d, c);
	return c;
}

/* A client's segment of connection @c (found or made for it). */
static void conn_segment(struct lb_dispatcher *d, struct lb_conn *c, const struct lb_segment *s)
{
	if (s->flags & LB_TH_RST) {
		count(d, LB_DISP_CLIENT_RST);
		conn_free(d, c);
		return;
	}
	if (s->has_ts && c->ts_ok)
		c->ts_recent = s->tsval;
	/* The client's echo is a TSval it has had: on a bound connection, its backend's. */
	if (s->has_ts && c->ts_ok && c->later && (int32_t)(s->tsecr - c->ts_sent) > 0)
		c->ts_sent = s->tsecr;
	c->client_window = s->window;
	{
		bool ack_news = (s->flags & LB_TH_ACK) && (int32_t)(s->ack - c->client_ack) > 0;

		if (ack_news)
			c->client_ack = s->ack;
		if (c->later && !c->retired && (c->state == COLLECTING || c->state == PROBING))
			forward_before(d, c, s, ack_news);
	}

	switch (c->state) {
	case COLLECTING:
		if (conn_store(d, c, s))
			conn_parse(d, c);
		else
			conn_ack(d, c); /* a duplicate: tell the client where we are */
		break;
	case REPLYING:
		segment_replying(d, c, s);
		break;
	case LINGER:
		if (s->flags & LB_TH_FIN)
			conn_send(d, c, c->cookie + 1 + c->reply_len + 1, 0, NULL, 0);
		break;
	case REPLAYING:
		/* The backend gets it from the client again once the flow is bound. */
		count(d, LB_DISP_REPLAY_HELD);
		break;
	case PROBING:
		conn_store(d, c, s); /* more of the request; it goes with it */
		break;
	case MOVING:
		moving_segment(d, c, s);
		break;
	}
}

/*
 * A segment without a record that is no hand-shake ACK: the start of a later
 * request on a connection bound before, if XDP sent it up for that (the
 * flow's data past req_end). Its part before req_end, the end of the previous
 * request, goes on to the bound backend first. Returns false if it is none.
 */
static bool later_request(struct lb_dispatcher *d, const struct lb_segment *s,
			  const struct lb_flow_key *k)
{
	struct lb_flow f;
	struct lb_conn *c;
	int32_t before;

	if (!d->flows || d->flows->fd < 0 || bpf_map_lookup_elem(d->flows->fd, k, &f) ||
	    f.state != LB_FLOW_BOUND || !(f.flags & LB_FLOW_F_REQUESTS))
		return false;
	before = (int32_t)(f.req_end - s->seq);
	if (before >= (int32_t)s->len) {
		/* Sent up before the flow moved on (to a new backend, or past this request). */
		struct lb_conn tmp = { .key = *k, .bound = f.backend, .fwd = s };

		memcpy(tmp.client_mac, f.client_hop_mac, 6);
		memcpy(tmp.own_mac, s->dst_mac, 6);
		bind_step(d, &tmp, f.backend, LB_BIND_FORWARD);
		return true;
	}
	c = later_new(d, s, k, &f);
	if (!c)
		return true;
	forward_before(d, c, s, true);
	if (conn_store(d, c, s))
		conn_parse(d, c);
	return true;
}

void lb_dispatcher_input(struct lb_dispatcher *d, const uint8_t *frame, size_t len,
			 uint64_t now_ms, uint64_t tai_s)
{
	struct lb_segment s;
	struct lb_flow_key k;
	struct lb_conn *c;

	d->now_ms = now_ms;
	if (lb_segment_parse(frame, len, &s))
		return;
	/*
	 * From the VIP to a client: a replay-mode backend answering our SYN. Its
	 * checksum may be left to offload (the backend sent it through its own
	 * stack), and nothing of it but the flags and ack is used. A backend's
	 * frame is a SYN/ACK, a reset or a probe's answer: any other segment is a
	 * client's, and skips this look-up (a cache miss in a large table).
	 */
	c = NULL;
	if ((s.flags & (LB_TH_SYN | LB_TH_RST)) || s.has_rebind) {
		k = (struct lb_flow_key){ .saddr = s.daddr, .daddr = s.saddr, .sport = s.dport,
					  .dport = s.sport, .proto = IPPROTO_TCP };
		c = conn_find(d, &k);
	}
	if (c && c->state == REPLAYING && (s.flags & (LB_TH_SYN | LB_TH_RST))) {
		replay_answer(d, c, &s);
		return;
	}
	if (s.has_rebind && s.rebind.exid == htobe16(LB_ANSWER_EXID)) {
		if (c && c->state == PROBING)
			probe_answer(d, c, &s);
		return;
	}
	/* The new backend's reset while the connection moves to it (XDP sends only those). */
	if (c && c->state == MOVING && (s.flags & LB_TH_RST) && s.saddr == c->key.daddr) {
		move_failed(d, c);
		return;
	}
	/*
	 * AF_XDP frames never met the kernel's checksum checks, and what we take
	 * here is replayed to a backend with fresh checksums: a damaged segment
	 * must not become the request (the client retransmits it intact).
	 */
	if (lb_frame_check_csums(frame, len)) {
		count(d, LB_DISP_BAD_CHECKSUM);
		return;
	}
	count(d, LB_DISP_SEGMENTS);
	k = lb_segment_flow_key(&s);
	c = conn_find(d, &k);

	if (!c) {
		struct lb_cookie_tuple t = { s.saddr, s.daddr, s.sport, s.dport };
		struct lb_cookie_opts o;

		if (s.flags & LB_TH_RST)
			return; /* nothing to clean up */
		if (!(s.flags & LB_TH_ACK) ||
		    lb_cookie_check(&d->secret, &t, s.seq - 1, s.ack - 1, tai_s, &o)) {
			if (!later_request(d, &s, &k))
				count(d, LB_DISP_BAD_COOKIE);
			return;
		}
		if (whole_request(d, &s) && take_whole(d, &s, &o, false))
			return;
		if (!flow_claim(d, &s, &k)) {
			/* Sent up before the hand-off took it; the backend has it now. */
			count(d, LB_DISP_SEGMENTS_DUP);
			return;
		}
		c = conn_new(d, &s, &o);
		if (!c) {
			if (d->flows)
				lb_flow_remove(d->flows, &k, NULL);
			return;
		}
		if (!s.len && !(s.flags & LB_TH_FIN)) {
			/* Only a tcp-mode VIP sends a bare ACK up; binding on it comes later. */
			count(d, LB_DISP_TCP_MODE_UNBOUND);
			send_rst(d, c);
			conn_free(d, c);
			return;
		}
	}

	conn_segment(d, c, &s);
}

bool lb_dispatcher_take_whole(struct lb_dispatcher *d, const uint8_t *frame, size_t len,
			      uint64_t now_ms, uint64_t tai_s)
{
	struct lb_cookie_opts o;
	struct lb_cookie_tuple t;
	struct lb_segment s;

	d->now_ms = now_ms;
	if (lb_segment_parse(frame, len, &s) || !(s.flags & LB_TH_ACK) || !whole_request(d, &s) ||
	    lb_frame_check_csums(frame, len))
		return false;
	t = (struct lb_cookie_tuple){ s.saddr, s.daddr, s.sport, s.dport };
	return !lb_cookie_check(&d->secret, &t, s.seq - 1, s.ack - 1, tai_s, &o) &&
	       take_whole(d, &s, &o, true);
}

uint64_t lb_dispatcher_timers(struct lb_dispatcher *d, uint64_t now_ms)
{
	struct lb_conn *c, *next;
	uint64_t wait = 1000;

	d->now_ms = now_ms;
	for (c = d->oldest; c; c = next) {
		next = c->next;
		if (c->deadline_ms > now_ms) {
			if (c->deadline_ms - now_ms < wait)
				wait = c->deadline_ms - now_ms;
			continue;
		}
		switch (c->state) {
		case COLLECTING:
			conn_reply(d, c, 408, "the request did not arrive in time", false);
			break;
		case REPLYING:
			if (c->reply_acked) {
				/* The client has our reply but never closed: we are done with it. */
				conn_free(d, c);
				break;
			}
			if (c->tries >= LB_REPLY_TRIES) {
				count(d, LB_DISP_REPLY_ABANDONED);
				send_rst(d, c);
				conn_free(d, c);
				break;
			}
			count(d, LB_DISP_REPLY_RETRANSMITS);
			send_reply(d, c);
			c->deadline_ms = now_ms + ((uint64_t)LB_REPLY_RTO_MS << c->tries);
			c->tries++;
			break;
		case LINGER:
			conn_free(d, c);
			break;
		case PROBING:
			if (now_ms >= c->hold_until_ms) {
				/* It keeps sending: the request stays with it. */
				stay_for_good(d, c, LB_DISP_STAYS_BUSY);
				break;
			}
			probe_again(d, c);
			break;
		case MOVING:
			/* XDP saw the new backend send (a FIN, a reset): it has the connection. */
			if (flow_state(d, &c->key) != LB_FLOW_MOVING) {
				handed_off(d, c);
				break;
			}
			if (c->tries >= LB_ADOPT_TRIES) {
				move_failed(d, c);
				break;
			}
			bind_step(d, c, c->backend, LB_BIND_ADOPT_RESEND);
			c->deadline_ms = now_ms + ((uint64_t)LB_ADOPT_RTO_MS << c->tries);
			c->tries++;
			break;
		case REPLAYING:
			if (c->tries >= LB_REPLAY_TRIES) {
				pr_debug("replay to %s: no SYN/ACK after %u tries\n",
					 d->cfg->backends[c->backend].name, c->tries);
				replay_failed(d, c);
				break;
			}
			count(d, LB_DISP_REPLAY_RETRANSMITS);
			if (d->bind)
				d->bind(d->bind_ctx, d, c, c->backend, LB_BIND_REPLAY_RESEND);
			c->deadline_ms = now_ms + ((uint64_t)LB_REPLAY_RTO_MS << c->tries);
			c->tries++;
			break;
		}
	}
	return wait;
}

/* ---- life cycle ---------------------------------------------------------------- */

struct lb_dispatcher *lb_dispatcher_new(const struct lb_config *cfg, const struct lb_directory *dir,
					const struct lb_cookie_secret *secret,
					const struct lb_dispatcher_maps *maps, lb_send_fn send,
					void *send_ctx)
{
	struct lb_dispatcher *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->buckets = calloc(LB_CONN_BUCKETS, sizeof(*d->buckets));
	if (!d->buckets) {
		free(d);
		return NULL;
	}
	d->cfg = cfg;
	d->dir = dir;
	d->secret = *secret;
	d->maps = *maps;
	d->counters = maps->counters ? maps->counters : d->own_counters;
	d->flows = maps->flows;
	d->send = send;
	d->send_ctx = send_ctx;
	d->max_conns = LB_DEFAULT_MAX_CONNS;
	if (lb_route_counts_init(&d->route_counts, cfg)) {
		free(d->buckets);
		free(d);
		return NULL;
	}
	hints_build(d, maps->hint_gen ? maps->hint_gen : lb_hint_gen_next(d->maps.hint_gen_fd, 0));
	return d;
}

void lb_dispatcher_free(struct lb_dispatcher *d)
{
	if (!d)
		return;
	while (d->oldest)
		conn_free(d, d->oldest);
	free(d->buckets);
	lb_route_counts_free(&d->route_counts);
	free(d->hints);
	free(d);
}

void lb_dispatcher_set_config(struct lb_dispatcher *d, const struct lb_config *cfg,
			      const struct lb_directory *dir)
{
	lb_dispatcher_set_config_gen(d, cfg, dir, lb_hint_gen_next(d->maps.hint_gen_fd, d->hint_gen));
}

void lb_dispatcher_set_config_gen(struct lb_dispatcher *d, const struct lb_config *cfg,
				  const struct lb_directory *dir, uint16_t hint_gen)
{
	if (lb_route_counts_carry(&d->route_counts, cfg))
		pr_warn("reload: out of memory; route request counts start again from 0\n");
	d->cfg = cfg;
	d->dir = dir;
	/* Backends may have moved between indexes; the counts are a second's worth anyway. */
	memset(&d->recent, 0, sizeof(d->recent));
	hints_build(d, hint_gen);
}

uint16_t lb_dispatcher_hint_gen(const struct lb_dispatcher *d)
{
	return d->hint_gen;
}

struct lb_route_counts *lb_dispatcher_route_counts(struct lb_dispatcher *d)
{
	return &d->route_counts;
}

const struct lb_histogram *lb_dispatcher_handoff_latency(const struct lb_dispatcher *d)
{
	return &d->handoff_latency;
}

const struct lb_histogram *lb_dispatcher_rebind_latency(const struct lb_dispatcher *d)
{
	return &d->rebind_latency;
}

void lb_dispatcher_set_bind(struct lb_dispatcher *d, lb_bind_fn bind, void *ctx)
{
	d->bind = bind;
	d->bind_ctx = ctx;
}

void lb_dispatcher_set_max_conns(struct lb_dispatcher *d, size_t max)
{
	d->max_conns = max ? max : 1;
}

uint64_t lb_dispatcher_counter(const struct lb_dispatcher *d, enum lb_dispatch_counter c)
{
	/* The table counts its own evictions; the dispatcher reports them with its counters. */
	if (c == LB_DISP_FLOW_EVICTIONS && d->flows)
		return lb_stat_read(&d->flows->evictions);
	return lb_stat_read(&d->counters[c]);
}

void lb_dispatcher_count(struct lb_dispatcher *d, enum lb_dispatch_counter c, uint64_t n)
{
	lb_stat_add(&d->counters[c], n);
}

size_t lb_dispatcher_conns(const struct lb_dispatcher *d)
{
	return __atomic_load_n(&d->n_conns, __ATOMIC_RELAXED);
}

void lb_dispatcher_publish_evictions(struct lb_dispatcher *d)
{
	if (d->flows)
		lb_stat_set(&d->counters[LB_DISP_FLOW_EVICTIONS], lb_stat_read(&d->flows->evictions));
}

void lb_conn_describe(const struct lb_conn *c, struct lb_conn_view *v)
{
	v->key = c->key;
	memcpy(v->client_hop_mac, c->client_mac, 6);
	memcpy(v->own_mac, c->own_mac, 6);
	v->client_isn = c->client_isn;
	v->cookie = c->cookie;
	v->opts = c->opts;
	v->request = c->buf;
	v->request_len = c->held;
	v->client_window = c->client_window;
	v->ts_ok = c->ts_ok;
	v->tsval = c->ts_recent;
	v->tsecr = c->ts_sent;
	/* This request only: what came after it is the next one's. */
	if (c->req_len && c->req_len < c->held)
		v->request_len = c->req_len;
	v->later = c->later;
	v->fresh = c->fresh;
	v->park = c->park;
	v->request_end = request_end(c);
	v->flow_flags = c->flow_flags;
	v->syn_opts = c->syn_opts;
	v->binds = c->binds;
	v->segment = c->fwd;
	v->hint_hash = c->hint_hash;
	v->hint_len = c->hint_len;
	v->hint_gen = c->hint_gen;
}
