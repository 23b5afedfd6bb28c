// SPDX-License-Identifier: GPL-2.0
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "clock.h"
#include "flow_table.h"
#include "handoff.h"
#include "fin_notice.h"
#include "handoff_opt.h"
#include "ifaces.h"
#include "log.h"
#include "packet.h"
#include "rebind.h"

static bool mac_known(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) != 0;
}

static const char *name_of(const struct lb_handoff_ctx *h, uint32_t backend)
{
	return h->cfg->backends[backend].name;
}

/* The interface a backend sits behind, unless it is the main one (NULL). */
static const struct lb_handoff_port *port_of(const struct lb_handoff_ctx *h,
					     const struct lb_backend *b)
{
	size_t i;

	if (b->ifindex == LB_IFINDEX_LOCAL)
		return h->local;
	for (i = 0; b->ifindex && i < h->n_ports; i++)
		if (h->ports[i].ifindex == b->ifindex)
			return &h->ports[i];
	return NULL;
}

/*
 * One frame from the client's side of the connection to the backend's MAC,
 * out of the interface the backend sits behind, from our MAC there (a backend
 * checks that hand-offs come from the balancer's MAC it was given). For the
 * local backend, into lo: sent there, a frame comes back up this host's own
 * stack (the backend programs on lo's TC ingress adopt it), addressed to lo's
 * all-zero MAC or the stack would take it for another host's.
 */
static int send_to_backend(struct lb_handoff_ctx *h, const struct lb_conn_view *v,
			   const struct lb_backend *b, struct lb_segment *s)
{
	const struct lb_handoff_port *port = port_of(h, b);
	size_t len;

	if (b->ifindex && !port)
		return -1; /* the daemon fills both from the same config */
	memcpy(s->src_mac, port ? port->mac : v->own_mac, 6);
	if (b->ifindex == LB_IFINDEX_LOCAL)
		memset(s->dst_mac, 0, 6);
	else
		memcpy(s->dst_mac, b->mac, 6);
	s->saddr = v->key.saddr;
	s->daddr = v->key.daddr;
	s->sport = v->key.sport;
	s->dport = v->key.dport;
	len = lb_segment_build(h->frame, sizeof(h->frame), s);
	if (!len)
		return -1;
	if (h->capture) {
		memcpy(h->capture->data, h->frame, len);
		h->capture->len = (uint16_t)len;
		return 0;
	}
	if (port)
		return send(port->fd, h->frame, len, MSG_DONTWAIT) == (ssize_t)len ? 0 : -1;
	return h->send(h->send_ctx, h->frame, len) ? -1 : 0;
}

/* The cookie's time counter now: what freshness the per-request binding tags carry. */
static uint32_t tag_counter(const struct lb_handoff_ctx *h)
{
	return lb_cookie_counter(h->secret, lb_clock_ns(CLOCK_TAI) / LB_NS_PER_S);
}

/* The most request bytes per segment: what the client may send, its MSS less the options. */
static uint32_t request_mss(const struct lb_conn_view *v, bool adopt)
{
	return v->opts.mss - (v->ts_ok ? 12 : 0) - (adopt ? LB_REBIND_OPT_LEN : 0);
}

/*
 * The client's ACK and request as it sent them, in the client's sequence space:
 * ack = our cookie + 1 for a first request (a cookie-mode backend adopts the
 * connection from it, a replay-mode backend's TC program translates it into
 * its own); for a later request, ack = where the server's side of the
 * connection is, and @adopt adds the option that proves the hand-off instead
 * of a cookie (headers/rebind.h), for a backend that has no socket yet.
 */
static void send_request(struct lb_handoff_ctx *h, const struct lb_conn_view *v,
			 const struct lb_backend *b, uint32_t backend, bool adopt)
{
	struct lb_cookie_tuple t = { v->key.saddr, v->key.daddr, v->key.sport, v->key.dport };
	uint32_t mss = request_mss(v, adopt);
	uint32_t counter = adopt ? tag_counter(h) : 0, off = 0;

	do {
		uint32_t n = v->request_len - off > mss ? mss : v->request_len - off;
		struct lb_rebind_opt o = {
			.kind = LB_REBIND_OPT_KIND, .len = LB_REBIND_OPT_LEN,
			.exid = htobe16(LB_ADOPT_EXID), .arg = v->syn_opts,
		};
		struct lb_segment s = {
			.seq = v->client_isn + 1 + off, .ack = v->cookie + 1,
			.flags = LB_TH_ACK | (off + n == v->request_len ? LB_TH_PSH : 0),
			.window = v->client_window,
			.has_ts = v->ts_ok, .tsval = v->tsval, .tsecr = v->tsecr,
			.payload = v->request + off, .len = n,
		};

		if (adopt) {
			o.val = htobe32(lb_rebind_tag(h->secret->key, &t, s.seq, s.ack, o.arg, counter,
						      LB_REBIND_TAG_ADOPT));
			s.extra = (const uint8_t *)&o;
			s.extra_len = sizeof(o);
		}
		if (send_to_backend(h, v, b, &s))
			pr_warn("hand-off to %s: a request segment could not be sent; the client "
				"will retransmit it\n", name_of(h, backend));
		off += n;
	} while (off < v->request_len);
}

/*
 * "Is anything of yours in flight?" to the bound backend, at the numbers the
 * connection is at: an ACK marked like a FIN notice, the probe option last.
 */
static int send_probe(struct lb_handoff_ctx *h, const struct lb_conn_view *v,
		      const struct lb_backend *b)
{
	struct lb_cookie_tuple t = { v->key.saddr, v->key.daddr, v->key.sport, v->key.dport };
	/* Room for the answer's framing report, zero here (rebind.h). */
	struct lb_probe_opt o = {
		.o = { .kind = LB_REBIND_OPT_KIND, .len = LB_PROBE_OPT_LEN,
		       .exid = htobe16(LB_PROBE_EXID) },
	};
	struct lb_segment s = {
		.seq = v->client_isn + 1, .ack = v->cookie + 1, .flags = LB_TH_ACK,
		.window = v->client_window,
		.has_ts = v->ts_ok, .tsval = v->tsval, .tsecr = v->tsecr,
		.extra = (const uint8_t *)&o, .extra_len = sizeof(o),
		.ip_flags = LB_FIN_NOTICE_IP_FLAG,
	};

	o.o.val = htobe32(lb_rebind_tag(h->secret->key, &t, s.seq, s.ack, 0, tag_counter(h),
				      LB_REBIND_TAG_PROBE));
	return send_to_backend(h, v, b, &s);
}

/* The flow as it goes into the map: @state, towards @b, with the client's next hop. */
static struct lb_flow flow_of(const struct lb_handoff_ctx *h, const struct lb_conn_view *v,
			      const struct lb_backend *b, uint32_t backend, uint32_t state)
{
	struct lb_flow flow = {
		.state = state, .backend = backend,
		.req_end = v->request_end, .flags = v->flow_flags, .syn_opts = v->syn_opts,
		.binds = v->binds, .srv_seq = v->cookie + 1,
		.hint_hash = v->hint_hash, .hint_len = v->hint_len, .hint_gen = v->hint_gen,
	};

	memcpy(flow.backend_mac, b->mac, 6);
	memcpy(flow.client_hop_mac, v->client_hop_mac, 6);
	flow.last_seen_ns = h->now_ns;
	return flow;
}

/*
 * The SYN the client sent, rebuilt: its ISN, the options its cookie remembers
 * (MSS, SACK, window scale, ECN) and its timestamp, plus the hand-off option
 * that tells the backend's TC program how to translate (handoff_opt.h).
 */
static int send_replayed_syn(struct lb_handoff_ctx *h, const struct lb_conn_view *v,
			     const struct lb_backend *b)
{
	struct lb_cookie_tuple t = { v->key.saddr, v->key.daddr, v->key.sport, v->key.dport };
	uint8_t opts[40], n = 0;
	struct lb_handoff_opt ho = {
		.kind = LB_HANDOFF_OPT_KIND, .len = LB_HANDOFF_OPT_LEN,
		.exid = htobe16(v->later ? LB_HANDOFF_REBIND_EXID : LB_HANDOFF_OPT_EXID),
		.client_isn = htobe32(v->cookie),
		.lb_tsval = htobe32(v->ts_ok ? v->tsecr : 0),
		.wscale = v->opts.wscale == LB_COOKIE_WSCALE_NONE ? LB_COOKIE_WSCALE_NONE
								  : h->cfg->handoff.wscale,
	};
	struct lb_segment s = {
		.seq = v->client_isn,
		.flags = LB_TH_SYN | (v->opts.ecn ? LB_TH_ECE | LB_TH_CWR : 0),
		.window = v->client_window,
	};

	if (v->later)
		lb_handoff_opt_set_tag(&ho, lb_handoff_rebind_tag(h->secret->key, &t, v->client_isn,
								  v->cookie, be32toh(ho.lb_tsval),
								  ho.wscale, tag_counter(h)));
	else
		lb_handoff_opt_set_tag(&ho, lb_handoff_tag(h->secret->key, &t, v->cookie,
							   be32toh(ho.lb_tsval), ho.wscale));
	opts[n++] = LB_TCPOPT_MSS;
	opts[n++] = LB_TCPOLEN_MSS;
	opts[n++] = v->opts.mss >> 8;
	opts[n++] = v->opts.mss & 0xff;
	if (v->ts_ok) {
		uint32_t tsval = htobe32(v->tsval), tsecr = 0;

		opts[n++] = v->opts.sack ? LB_TCPOPT_SACK_PERM : LB_TCPOPT_NOP;
		opts[n++] = v->opts.sack ? LB_TCPOLEN_SACK_PERM : LB_TCPOPT_NOP;
		opts[n++] = LB_TCPOPT_TIMESTAMP;
		opts[n++] = LB_TCPOLEN_TIMESTAMP;
		memcpy(opts + n, &tsval, 4);
		memcpy(opts + n + 4, &tsecr, 4);
		n += 8;
	} else if (v->opts.sack) {
		opts[n++] = LB_TCPOPT_NOP;
		opts[n++] = LB_TCPOPT_NOP;
		opts[n++] = LB_TCPOPT_SACK_PERM;
		opts[n++] = LB_TCPOLEN_SACK_PERM;
	}
	if (v->opts.wscale != LB_COOKIE_WSCALE_NONE) {
		opts[n++] = LB_TCPOPT_NOP;
		opts[n++] = LB_TCPOPT_WINDOW;
		opts[n++] = LB_TCPOLEN_WINDOW;
		opts[n++] = v->opts.wscale;
	}
	memcpy(opts + n, &ho, sizeof(ho));
	n += sizeof(ho);
	s.opts = opts;
	s.optlen = n;
	return send_to_backend(h, v, b, &s);
}

/* Replay abandoned: a reset at the client's ISN + 1 ends the backend's half-open connection. */
static void send_backend_rst(struct lb_handoff_ctx *h, const struct lb_conn_view *v,
			     const struct lb_backend *b)
{
	struct lb_segment s = { .seq = v->client_isn + 1, .flags = LB_TH_RST };

	send_to_backend(h, v, b, &s);
}

/* Step @op of lb_flow_move for @v's flow, with the request it hands over. */
static struct lb_flow_move move_of(const struct lb_conn_view *v, uint32_t op)
{
	return (struct lb_flow_move){
		.key = v->key, .op = op,
		.req_end = v->request_end, .srv_seq = v->cookie + 1, .flags = v->flow_flags,
		.hint_len = v->hint_len, .hint_hash = v->hint_hash, .hint_gen = v->hint_gen,
	};
}

/*
 * The balancer's retire (headers/rebind.h) to @backend, for @k's socket
 * there: a RST the backend's ingress puts at the socket's own numbers. Ours
 * are the tag's only.
 */
static int send_retire(struct lb_handoff_ctx *h, const struct lb_flow_key *k, uint32_t backend)
{
	struct lb_cookie_tuple t = { k->saddr, k->daddr, k->sport, k->dport };
	struct lb_rebind_opt o = {
		.kind = LB_REBIND_OPT_KIND, .len = LB_REBIND_OPT_LEN, .exid = htobe16(LB_RETIRE_EXID),
	};
	struct lb_segment s = {
		.flags = LB_TH_RST, .extra = (const uint8_t *)&o, .extra_len = sizeof(o),
	};
	struct lb_conn_view v = { .key = *k };
	const struct lb_backend *b;

	if (backend >= h->cfg->n_backends || h->cfg->backends[backend].handoff != LB_HANDOFF_COOKIE)
		return -1;
	b = &h->backends[backend];
	if (!mac_known(b->mac))
		return -1;
	memcpy(v.own_mac, h->own_mac, 6);
	o.val = htobe32(lb_rebind_tag(h->secret->key, &t, s.seq, s.ack, 0, tag_counter(h),
				      LB_REBIND_TAG_RETIRE));
	if (send_to_backend(h, &v, b, &s)) {
		pr_debug("retire to %s: not sent; its socket stays until its server closes it\n",
			 name_of(h, backend));
		return -1;
	}
	return 0;
}

void lb_handoff_init(struct lb_handoff_ctx *h, const struct lb_config *cfg,
		     struct lb_flow_table *flows, struct lb_backend *backends,
		     const struct lb_cookie_secret *secret, const struct lb_ifaces *ifs,
		     lb_send_fn send, void *send_ctx)
{
	*h = (struct lb_handoff_ctx){
		.cfg = cfg, .flows = flows, .backends = backends,
		.send = send, .send_ctx = send_ctx, .secret = secret,
		.ports = ifs->ports, .n_ports = ifs->n_sides,
		.local = ifs->local.fd >= 0 ? &ifs->local : NULL,
	};
	memcpy(h->own_mac, ifs->mac, 6);
}

unsigned int lb_handoff_retire_parked(struct lb_handoff_ctx *h, const struct lb_flow_key *k,
				      const uint8_t parked[LB_FLOW_PARKED])
{
	unsigned int i, sent = 0;

	for (i = 0; i < LB_FLOW_PARKED; i++)
		if (parked[i])
			sent += !send_retire(h, k, parked[i] - 1u);
	return sent;
}

/* The flow's own record of its parked sockets is about to be replaced: they go first. */
static void retire_all_parked(struct lb_handoff_ctx *h, struct lb_dispatcher *d,
			      const struct lb_flow_key *k)
{
	uint8_t parked[LB_FLOW_PARKED];

	if (lb_flow_unpark(h->flows, k, parked))
		lb_dispatcher_count(d, LB_DISP_PARKED_RETIRES,
				    lb_handoff_retire_parked(h, k, parked));
}

/*
 * The flow of a later request moves to @backend, in @state (moving or replay);
 * counts move too. A socket parked to make room for the one left now is retired.
 */
static int rebind_flow(struct lb_handoff_ctx *h, struct lb_dispatcher *d,
		       const struct lb_conn_view *v, const struct lb_backend *b, uint32_t backend,
		       uint32_t state)
{
	struct lb_flow_move m = move_of(v, LB_MOVE_REBIND);

	m.state = state;
	m.backend = backend;
	m.park = v->park;
	memcpy(m.backend_mac, b->mac, 6);
	if (lb_flow_move(h->flows, &m) != LB_FLOW_END_ENDED)
		return -1;
	if (m.parked[0] && !send_retire(h, &v->key, m.parked[0] - 1u))
		lb_dispatcher_count(d, LB_DISP_PARKED_RETIRES, 1);
	return 0;
}

/*
 * A new connection's hand-off into the batch, if it can wait there: cookie
 * mode, a backend behind the main interface, a request in one segment (one
 * frame to keep), and room.
 */
static bool deferred(struct lb_handoff_ctx *h, struct lb_dispatcher *d,
		     const struct lb_conn_view *v, const struct lb_backend *b, uint32_t backend,
		     const struct lb_flow *flow)
{
	struct lb_handoff_batch *bt = h->batch;
	unsigned int i;

	if (!bt || !bt->rx_frame || bt->rx_len > LB_HANDOFF_FRAME_MAX ||
	    bt->binds.n >= LB_HANDOFF_BATCH || b->ifindex || v->request_len > request_mss(v, false))
		return false;
	i = bt->binds.n;
	h->capture = &bt->out[i];
	h->capture->len = 0;
	send_request(h, v, b, backend, false);
	h->capture = NULL;
	bt->binds.flows[i].key = v->key;
	bt->binds.flows[i].flow = *flow;
	memcpy(bt->in[i].data, bt->rx_frame, bt->rx_len);
	bt->in[i].len = (uint16_t)bt->rx_len;
	bt->tally[i] = (struct lb_dispatch_tally){ .n = 0 };
	bt->disp = d;
	lb_dispatcher_hold_tally(d, &bt->tally[i]);
	bt->binds.n++;
	return true;
}

void lb_handoff_commit(struct lb_handoff_ctx *h, lb_handoff_retry_fn retry, void *ctx)
{
	struct lb_handoff_batch *bt = h->batch;
	unsigned int i, n;

	if (!bt || !bt->binds.n)
		return;
	lb_flow_bind_fresh_many(h->flows, &bt->binds);
	/* Emptied first: a retried frame is taken at once, not into the batch. */
	n = bt->binds.n;
	bt->binds.n = 0;
	for (i = 0; i < n; i++) {
		if (bt->binds.flows[i].result) {
			retry(ctx, bt->in[i].data, bt->in[i].len);
			continue;
		}
		lb_dispatcher_tally(bt->disp, &bt->tally[i]);
		if (bt->out[i].len && h->send(h->send_ctx, bt->out[i].data, bt->out[i].len))
			pr_warn("hand-off to %s: a request segment could not be sent; the client "
				"will retransmit it\n", name_of(h, bt->binds.flows[i].flow.backend));
	}
}

bool lb_handoff_waiting(const struct lb_handoff_ctx *h, const uint8_t *frame, size_t len)
{
	const struct lb_handoff_batch *bt = h->batch;
	struct lb_frame_ends e;
	unsigned int i;

	if (!bt || !bt->binds.n || !lb_frame_ends(frame, len, &e))
		return false;
	for (i = 0; i < bt->binds.n; i++) {
		const struct lb_flow_key *k = &bt->binds.flows[i].key;

		if ((k->saddr == e.saddr && k->daddr == e.daddr && k->sport == e.sport &&
		     k->dport == e.dport) ||
		    (k->saddr == e.daddr && k->daddr == e.saddr && k->sport == e.dport &&
		     k->dport == e.sport))
			return true;
	}
	return false;
}

int lb_handoff_bind(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c, uint32_t backend,
		    enum lb_bind_step step)
{
	struct lb_handoff_ctx *h = ctx;
	struct lb_flow_table *flows = h->flows;
	struct lb_backend *b = &h->backends[backend];
	struct lb_conn_view v;
	struct lb_flow flow;

	lb_conn_describe(c, &v);
	switch (step) {
	case LB_BIND_HANDOFF:
	case LB_BIND_REPLAY_SYN:
		if (!mac_known(b->mac)) {
			pr_debug("backend %s: MAC not resolved yet (or give it as 'mac:' in the "
				 "config)\n", name_of(h, backend));
			return -1;
		}
		/* The flow first: the backend's answer may bring client packets at once. */
		if (v.later) {
			if (rebind_flow(h, d, &v, b, backend,
					step == LB_BIND_HANDOFF ? LB_FLOW_MOVING : LB_FLOW_REPLAY))
				return -1;
		} else {
			flow = flow_of(h, &v, b, backend,
				       step == LB_BIND_HANDOFF ? LB_FLOW_BOUND : LB_FLOW_REPLAY);
			if (v.fresh && step == LB_BIND_HANDOFF && deferred(h, d, &v, b, backend, &flow))
				return 0;
			/* Fresh: a flow there (another record's, or handed off) is not ours to replace. */
			if (v.fresh ? lb_flow_bind_fresh(flows, &v.key, &flow)
				    : lb_flow_bind(flows, &v.key, &flow))
				return -1;
		}
		if (step == LB_BIND_HANDOFF) {
			send_request(h, &v, b, backend, v.later);
			return 0;
		}
		/* Lost or not, the timer sends it again. */
		if (send_replayed_syn(h, &v, b))
			pr_warn("replay to %s: the SYN could not be sent\n", name_of(h, backend));
		return 0;
	case LB_BIND_REPLAY_RESEND:
		return send_replayed_syn(h, &v, b);
	case LB_BIND_REPLAY_DONE: {
		struct lb_flow had;

		/* Counted in since the replayed SYN; a later request's parked sockets stay listed. */
		flow = flow_of(h, &v, b, backend, LB_FLOW_BOUND);
		if (v.later && !lb_flow_get(flows, &v.key, &had))
			memcpy(flow.parked, had.parked, sizeof(flow.parked));
		if (lb_flow_put(flows, &v.key, &flow))
			return -1;
		send_request(h, &v, b, backend, false);
		return 0;
	}
	case LB_BIND_REPLAY_ABORT:
		send_backend_rst(h, &v, b);
		if (v.later)
			retire_all_parked(h, d, &v.key);
		/* Back to the dispatcher, which may pick another holder or answer. */
		flow = flow_of(h, &v, b, backend, LB_FLOW_DISPATCH);
		lb_flow_unbind(flows, &v.key, &flow);
		return 0;
	case LB_BIND_ADVANCE: {
		struct lb_flow_move m = move_of(&v, LB_MOVE_ADVANCE);

		if (lb_flow_move(flows, &m) != LB_FLOW_END_ENDED)
			return -1;
		send_request(h, &v, b, backend, false);
		return 0;
	}
	case LB_BIND_PROBE:
		return send_probe(h, &v, b);
	case LB_BIND_RETIRE:
		/* At the next byte it expects: taken at once, and answered with nothing. */
		send_backend_rst(h, &v, b);
		return 0;
	case LB_BIND_ADOPT_RESEND:
		send_request(h, &v, b, backend, true);
		return 0;
	case LB_BIND_SETTLE: {
		struct lb_flow_move m = { .key = v.key, .op = LB_MOVE_SETTLE };
		int ret = lb_flow_move(flows, &m);

		return ret == LB_FLOW_END_ENDED || ret == LB_FLOW_END_NOT_BOUND ? 0 : -1;
	}
	case LB_BIND_RELEASE:
		/* Off its backend's count if still bound to it, then the dispatcher's. */
		retire_all_parked(h, d, &v.key);
		lb_flow_end(flows, &v.key);
		flow = (struct lb_flow){ .state = LB_FLOW_DISPATCH, .last_seen_ns = h->now_ns };
		memcpy(flow.client_hop_mac, v.client_hop_mac, 6);
		return lb_flow_put(flows, &v.key, &flow) ? -1 : 0;
	case LB_BIND_FORWARD: {
		struct lb_segment s = *v.segment;

		return send_to_backend(h, &v, b, &s);
	}
	}
	return -1;
}
