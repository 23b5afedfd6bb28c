// SPDX-License-Identifier: GPL-2.0
/*
 * The balancer's XDP program (see docs/packet-walk.md).
 *
 *   SYN to a VIP           → SYN/ACK whose ISN is a keyed cookie, XDP_TX; no state
 *   ACK, valid cookie      → bare: dropped (handshake done); with data/FIN/RST:
 *                            to the dispatcher's AF_XDP socket on this RX queue
 *   packet of a flow being collected → to the dispatcher
 *   packet of a bound flow → MACs rewritten towards its backend, XDP_TX; a
 *                            backend behind another interface: XDP_REDIRECT there
 *   a backend's diverted FIN/RST (from a VIP) → to the client, XDP_TX; arriving
 *                            on a backend-side interface: XDP_REDIRECT to the main one
 *   a client's segment after its backend's RST → our RST at its ack, XDP_TX
 *   a backend's FIN notice (its data+FIN went to the client directly) → flow
 *                            closed, XDP_DROP
 *   a replay-mode backend's answer to a replayed SYN → to the dispatcher
 *   anything else to a VIP → dropped under its own reason
 *   not to a VIP           → XDP_PASS, untouched
 *   packet of a flow bound to the balancer itself (local: true) → XDP_PASS
 *
 * lb_local_egress (TC, main interface): the local backend's FIN/RST closes its flow.
 *
 * Every packet leaves through verdict(), which counts it in `stats`.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <xdp/xdp_helpers.h>

#include "balancer_maps.h"
#include "consts.h"
#include "cookie.h"
#include "csum.h"
#include "fin_notice.h"
#include "parse.h"

/* Load-time settings, written through the skeleton before load. */
const volatile __u16 cfg_mss = LB_DEFAULT_MSS;
const volatile __u8 cfg_wscale = LB_DEFAULT_WSCALE;
const volatile __u16 cfg_syn_window = LB_DEFAULT_SYN_WINDOW;
/*
 * The interface clients come through. The program also runs on the interfaces
 * backends sit behind, where only their diverted FIN/RST concern it. 0: every
 * interface is the main one (tests, benchmarks).
 */
const volatile __u32 cfg_main_ifindex;
/*
 * Our MAC on the main interface. A unicast frame to another MAC reached us
 * only because the port is promiscuous or a switch flooded it: another
 * balancer's, not ours to forward. All zero: not checked (tests).
 */
const volatile __u8 cfg_main_mac[ETH_ALEN];

static __always_inline int verdict(__u64 bytes, enum lb_xdp_reason reason, int action)
{
	__u32 key = reason;
	struct lb_counter *c = bpf_map_lookup_elem(&stats, &key);

	if (c) {
		c->packets++;
		c->bytes += bytes;
	}
	return action;
}

/*
 * An answer of ours (a SYN/ACK, a RST) as it is built on the stack before it
 * replaces the segment it answers.
 */
struct answer {
	struct iphdr ip;
	struct tcphdr tcp;
	__u32 opts[5]; /* SYN/ACK: MSS, SACK-permitted + timestamps, window scale: at most 20 bytes */
};

/*
 * TCP options of our SYN/ACK, in the order Linux sends them. Only options the
 * client offered are answered. Returns the options length in bytes.
 */
static __always_inline __u32 synack_options(__u32 *opts, const struct syn_options *so,
					    __u16 mss, __u32 tsval)
{
	__u32 n = 0;

	opts[n++] = bpf_htonl(LB_TCPOPT_MSS << 24 | 4 << 16 | mss);
	if (so->has_ts) {
		if (so->sack_ok)
			opts[n++] = bpf_htonl(LB_TCPOPT_SACK_PERM << 24 | 2 << 16 | LB_TCPOPT_TIMESTAMP << 8 | 10);
		else
			opts[n++] = bpf_htonl(LB_TCPOPT_NOP << 24 | LB_TCPOPT_NOP << 16 | LB_TCPOPT_TIMESTAMP << 8 | 10);
		opts[n++] = bpf_htonl(tsval);
		opts[n++] = bpf_htonl(so->tsval);
	} else if (so->sack_ok) {
		opts[n++] = bpf_htonl(LB_TCPOPT_NOP << 24 | LB_TCPOPT_NOP << 16 | LB_TCPOPT_SACK_PERM << 8 | 2);
	}
	if (so->has_wscale)
		opts[n++] = bpf_htonl(LB_TCPOPT_NOP << 24 | LB_TCPOPT_WINDOW << 16 | 3 << 8 | cfg_wscale);
	return n * 4;
}

/* The timestamp clock of our SYN/ACKs: milliseconds, like Linux's. */
static __always_inline __u32 ts_clock(void)
{
	return (__u32)(bpf_ktime_get_ns() / 1000000);
}

/*
 * Send @a back the way @th came, in place of it: @a's sequence numbers, flags
 * and window set by the caller, @optlen bytes of options in a->opts; the
 * addresses, ports, lengths and checksums are filled in here.
 */
static __always_inline int answer_back(struct xdp_md *ctx, __u64 bytes, struct ethhdr *eth,
				       const struct iphdr *iph, const struct tcphdr *th,
				       struct answer *a, __u32 optlen, enum lb_xdp_reason reason)
{
	__u32 out_len = sizeof(a->ip) + sizeof(a->tcp) + optlen;
	void *data, *data_end;
	__u8 mac[ETH_ALEN];
	int delta;

	a->ip.version = 4;
	a->ip.ihl = 5;
	a->ip.tot_len = bpf_htons(out_len);
	a->ip.frag_off = bpf_htons(IP_DF);
	a->ip.ttl = LB_ANSWER_TTL;
	a->ip.protocol = IPPROTO_TCP;
	a->ip.saddr = iph->daddr;
	a->ip.daddr = iph->saddr;
	a->ip.check = ipv4_csum(&a->ip);

	a->tcp.source = th->dest;
	a->tcp.dest = th->source;
	a->tcp.doff = (sizeof(a->tcp) + optlen) / 4;
	a->tcp.check = tcp_csum_stack(a->ip.saddr, a->ip.daddr, &a->tcp, sizeof(a->tcp) + optlen);

	/* Back the way it came: swap MACs. */
	__builtin_memcpy(mac, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, mac, ETH_ALEN);

	/* Resize the frame to the answer; every packet pointer is stale after this. */
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	delta = (int)(sizeof(struct ethhdr) + out_len) - (int)(data_end - data);
	if (delta && bpf_xdp_adjust_tail(ctx, delta))
		return verdict(bytes, LB_XDP_DROP_INTERNAL, XDP_DROP);
	if (out_len > sizeof(*a) || bpf_xdp_store_bytes(ctx, sizeof(struct ethhdr), a, out_len))
		return verdict(bytes, LB_XDP_DROP_INTERNAL, XDP_DROP);
	return verdict(bytes, reason, XDP_TX);
}

static __always_inline int answer_syn(struct xdp_md *ctx, __u64 bytes, struct ethhdr *eth,
				      struct iphdr *iph, struct tcphdr *th, __u32 tcp_hdr_len)
{
	__u8 optbuf[64] = {};
	struct syn_options so = {};
	struct lb_cookie_opts co = {};
	struct lb_cookie_tuple t;
	struct lb_cookie_secret *secret;
	struct answer sa = {};
	__u32 optlen = tcp_hdr_len - sizeof(*th);
	__u32 key0 = 0, client_isn, cookie, out_optlen;
	__u16 mss;

	if (optlen > LB_TCP_MAX_OPTLEN)
		return verdict(bytes, LB_XDP_DROP_TCP_DOFF, XDP_DROP);
	if (optlen && bpf_xdp_load_bytes(ctx, sizeof(*eth) + sizeof(*iph) + sizeof(*th), optbuf,
					 optlen))
		return verdict(bytes, LB_XDP_DROP_TCP_TRUNC, XDP_DROP);
	if (parse_syn_options(optbuf, optlen, &so))
		return verdict(bytes, LB_XDP_DROP_TCP_OPTIONS, XDP_DROP);

	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	if (!secret)
		return verdict(bytes, LB_XDP_DROP_INTERNAL, XDP_DROP);

	/* What the cookie remembers is what the client can take (RFC 9293: 536 default). */
	co.mss = so.mss ? so.mss : LB_COOKIE_MSS_0;
	co.wscale = so.has_wscale ? (so.wscale > LB_TCP_MAX_WSCALE ? LB_TCP_MAX_WSCALE : so.wscale)
				  : LB_COOKIE_WSCALE_NONE;
	co.sack = so.sack_ok;
	co.ecn = (tcp_flags(th) & (LB_TH_ECE | LB_TH_CWR)) == (LB_TH_ECE | LB_TH_CWR);

	t.caddr = iph->saddr;
	t.vaddr = iph->daddr;
	t.cport = th->source;
	t.vport = th->dest;
	client_isn = bpf_ntohl(th->seq);
	cookie = lb_cookie_make(secret->key, &t, client_isn,
				lb_cookie_counter(secret, bpf_ktime_get_tai_ns() / LB_NS_PER_S),
				lb_cookie_encode_opts(&co));

	/* We tell the client our MSS, never more than it can take itself. */
	mss = cfg_mss;
	if (so.mss && so.mss < mss)
		mss = so.mss;

	out_optlen = synack_options(sa.opts, &so, mss, ts_clock());
	sa.tcp.seq = bpf_htonl(cookie);
	sa.tcp.ack_seq = bpf_htonl(client_isn + 1);
	sa.tcp.syn = 1;
	sa.tcp.ack = 1;
	sa.tcp.ece = co.ecn;
	sa.tcp.window = bpf_htons(cfg_syn_window);
	return answer_back(ctx, bytes, eth, iph, th, &sa, out_optlen, LB_XDP_TX_SYNACK);
}

/*
 * A client's segment on a connection its backend has reset (LB_FLOW_F_RESET):
 * the backend has no socket left to answer it, so we answer as its kernel
 * would have (RFC 9293, 3.10.7.1): a RST at the segment's ack, the one
 * sequence number the client surely takes. Needed when the backend's RST came
 * round through us ahead of data still on its way to the client (or lost):
 * the client saw a RST past what it had and sent a challenge ACK instead
 * (RFC 5961), which the backend would drop as a bad cookie.
 */
static __always_inline int reset_client(struct xdp_md *ctx, __u64 bytes, struct ethhdr *eth,
					const struct iphdr *iph, const struct tcphdr *th)
{
	struct answer rst = {};

	rst.tcp.seq = th->ack_seq;
	rst.tcp.rst = 1;
	return answer_back(ctx, bytes, eth, iph, th, &rst, 0, LB_XDP_TX_CLIENT_RESET);
}

static __always_inline int to_dispatcher(struct xdp_md *ctx, __u64 bytes,
					 enum lb_xdp_reason reason)
{
	__u32 queue = ctx->rx_queue_index;

	/* Without a socket on this queue the redirect would fail: say so in the count. */
	if (!bpf_map_lookup_elem(&xsks, &queue))
		return verdict(bytes, LB_XDP_DROP_NO_XSK, XDP_DROP);
	if (bpf_redirect_map(&xsks, queue, XDP_DROP) != XDP_REDIRECT)
		return verdict(bytes, LB_XDP_DROP_NO_XSK, XDP_DROP);
	return verdict(bytes, reason, XDP_REDIRECT);
}

static __always_inline bool mac_eq(const __u8 *a, const __u8 *b)
{
	return ((const __u32 *)a)[0] == ((const __u32 *)b)[0] &&
	       ((const __u16 *)a)[2] == ((const __u16 *)b)[2];
}

/*
 * Ends a bound flow: the first FIN or RST from either side, or the daemon
 * (lb_flow_end below). The compare-and-swap lets exactly one of them take the
 * flow off its backend's active count. Returns true for that one.
 */
static __always_inline bool close_flow(struct lb_flow *f)
{
	struct lb_backend *b;
	__u32 idx = f->backend;

	if (__sync_val_compare_and_swap(&f->state, LB_FLOW_BOUND, LB_FLOW_CLOSING) != LB_FLOW_BOUND)
		return false;
	b = bpf_map_lookup_elem(&backends, &idx);
	if (b)
		__sync_fetch_and_add(&b->active, -1);
	return true;
}

/* Counts the packet on its flow and backend; returns the backend (NULL: none in the slot). */
static __always_inline struct lb_backend *count_flow(struct lb_flow *f, __u64 bytes)
{
	struct lb_backend *b;
	__u32 idx = f->backend;

	/*
	 * Per packet, so kept cheap. The coarse clock (CLOCK_MONOTONIC_COARSE, a
	 * tick behind at most) is plenty for the daemon's linger (3 s) and idle
	 * expiry (300 s).
	 * Plain adds: a flow's packets come in on one RX queue, so one CPU at a
	 * time; a rare overlap (the sender moved) loses a count, never state. The
	 * backend's totals are every flow's: atomics there.
	 */
	f->last_seen_ns = bpf_ktime_get_coarse_ns();
	/* Ours from now on: the daemon sends it to the peers again. A write only on change. */
	if (f->flags & LB_FLOW_F_PEER)
		f->flags &= ~LB_FLOW_F_PEER;
	f->packets++;
	f->bytes += bytes;
	b = bpf_map_lookup_elem(&backends, &idx);
	if (b) {
		__sync_fetch_and_add(&b->packets, 1);
		__sync_fetch_and_add(&b->bytes, bytes);
	}
	return b;
}

/*
 * Out of another interface of ours, @ifindex: our MAC there as the source (the
 * destination is already set), through the devmap. An interface the daemon did
 * not enter is a config the program cannot serve: dropped, counted.
 */
static __always_inline int redirect_out(struct ethhdr *eth, __u32 ifindex, __u64 bytes,
					enum lb_xdp_reason reason)
{
	struct lb_iface *port = bpf_map_lookup_elem(&ifaces, &ifindex);

	if (!port)
		return verdict(bytes, LB_XDP_DROP_NO_TX_PORT, XDP_DROP);
	__builtin_memcpy(eth->h_source, port->mac, ETH_ALEN);
	if (bpf_redirect_map(&tx_ports, ifindex, 0) != XDP_REDIRECT)
		return verdict(bytes, LB_XDP_DROP_NO_TX_PORT, XDP_DROP);
	return verdict(bytes, reason, XDP_REDIRECT);
}

/* Reading a request head for the same-holder hint (headers/hint.h), one byte per call. */
enum head_phase { HEAD_PATH, HEAD_QUERY, HEAD_VERSION, HEAD_LINE, HEAD_NAME, HEAD_VALUE, HEAD_END };

struct head_scan {
	const __u8 *b; /* the head, in this CPU's head_buf */
	__u32 len;
	__u32 from;    /* the path's byte after the prefix */
	__u32 phase;   /* enum head_phase */
	__u32 name_start;
	__u32 name_hash;
	__u8 prev;
	__u8 ok;       /* one whole head, no body, nothing after it */
};

static long head_byte(__u32 i, void *arg)
{
	struct head_scan *h = arg;
	__u8 c;

	if (i >= h->len)
		return 1;
	if (i < h->from)
		return 0;
	c = h->b[i & LB_HINT_HEAD_MAX];
	switch (h->phase) {
	case HEAD_PATH:
		/* Only a path normalising leaves as it is: no escapes, no empty or dot segments. */
		if (c == ' ')
			h->phase = HEAD_VERSION;
		else if (c == '?')
			h->phase = HEAD_QUERY;
		else if (c == '%' || (h->prev == '/' && (c == '/' || c == '.')) || c < 0x21)
			return 1;
		break;
	case HEAD_QUERY:
		if (c == ' ')
			h->phase = HEAD_VERSION;
		break;
	case HEAD_VERSION:
	case HEAD_VALUE:
		if (c == '\n')
			h->phase = HEAD_LINE;
		break;
	case HEAD_LINE:
		if (c == '\r') {
			h->phase = HEAD_END;
			break;
		}
		h->name_start = i;
		h->name_hash = LB_FNV_BASIS;
		h->phase = HEAD_NAME;
		/* fallthrough */
	case HEAD_NAME:
		if (c == ':') {
			if (lb_hint_name_is_framing(h->name_hash, i - h->name_start))
				return 1;
			h->phase = HEAD_VALUE;
		} else if (c == '\n') {
			return 1;
		} else {
			h->name_hash = lb_fnv_step(h->name_hash, c >= 'A' && c <= 'Z' ? c + 32 : c);
		}
		break;
	case HEAD_END:
		h->ok = c == '\n' && i + 1 == h->len;
		return 1;
	}
	h->prev = c;
	return 0;
}

/*
 * The next request on @f, starting at req_end in this segment: the bound
 * backend's by the flow's hint (headers/hint.h)? Then req_end moves past it
 * and it takes the fast path; anything less certain goes to the dispatcher.
 */
static __always_inline bool same_holder(struct xdp_md *ctx, struct lb_flow *f, struct tcphdr *th,
					__u32 payload_off, __u32 payload)
{
	struct head_scan h = { .len = payload, .phase = HEAD_PATH };
	__u32 key0 = 0, idx = f->backend, plen = f->hint_len, hash = LB_FNV_BASIS, ts, i;
	struct lb_head_buf *buf;
	struct lb_hint_gen *g;
	struct lb_backend *b;

	if (!plen || plen > LB_HINT_PREFIX_MAX || payload > LB_HINT_HEAD_MAX || payload < 16 ||
	    bpf_ntohl(th->seq) != f->req_end)
		return false;
	g = bpf_map_lookup_elem(&hint_gen, &key0);
	b = bpf_map_lookup_elem(&backends, &idx);
	buf = bpf_map_lookup_elem(&head_buf, &key0);
	if (!g || (__u16)g->gen != f->hint_gen || !b || b->state != LB_BACKEND_UP || !b->weight ||
	    !buf)
		return false;
	if (bpf_xdp_load_bytes(ctx, payload_off, buf->b, payload))
		return false;
	if (buf->b[0] == 'G' && buf->b[1] == 'E' && buf->b[2] == 'T' && buf->b[3] == ' ')
		ts = 4;
	else if (buf->b[0] == 'H' && buf->b[1] == 'E' && buf->b[2] == 'A' && buf->b[3] == 'D' &&
		 buf->b[4] == ' ')
		ts = 5;
	else
		return false;
	if (buf->b[ts] != '/' || ts + plen >= payload)
		return false;
	for (i = 0; i < LB_HINT_PREFIX_MAX; i++) {
		if (i >= plen)
			break;
		hash = lb_fnv_step(hash, buf->b[(ts + i) & LB_HINT_HEAD_MAX]);
	}
	if (hash != f->hint_hash)
		return false;
	h.b = buf->b;
	h.from = ts + plen;
	h.prev = buf->b[(ts + plen - 1) & LB_HINT_HEAD_MAX];
	bpf_loop(LB_HINT_HEAD_MAX + 1, head_byte, &h, 0);
	if (!h.ok)
		return false;
	f->req_end = bpf_ntohl(th->seq) + payload;
	f->srv_seq = bpf_ntohl(th->ack_seq);
	/* The client's ACK: where the answer begins only if the one before was whole. */
	f->flags &= ~(LB_FLOW_F_SRV_EXACT | LB_FLOW_F_NO_BODY);
	return true;
}

/*
 * Client → backend on a bound flow: only the MACs change. Out the way it came
 * (XDP_TX), or, for a backend behind another interface, redirected out of that.
 * Data past the end of the requests the backend has is the next request: the
 * dispatcher's, which may send it elsewhere (per-request binding). A FIN or
 * RST ends the connection where it is bound.
 */
static __always_inline int fast_path(struct xdp_md *ctx, struct ethhdr *eth, struct lb_flow *f,
				     struct tcphdr *th, __u8 flags, __u32 payload_off,
				     __u32 payload, __u64 bytes)
{
	enum lb_xdp_reason reason = LB_XDP_TX_FAST_PATH;
	struct lb_backend *b;

	if (flags & LB_TH_ACK)
		f->client_ack = bpf_ntohl(th->ack_seq);
	if (payload && (f->flags & LB_FLOW_F_REQUESTS) && f->state == LB_FLOW_BOUND &&
	    !(flags & (LB_TH_FIN | LB_TH_RST)) &&
	    (__s32)(bpf_ntohl(th->seq) + payload - f->req_end) > 0) {
		if (!same_holder(ctx, f, th, payload_off, payload))
			return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_NEXT_REQUEST);
		reason = LB_XDP_TX_SAME_HOLDER;
	}
	if (flags & (LB_TH_FIN | LB_TH_RST))
		close_flow(f);
	b = count_flow(f, bytes);
	/* The balancer's own web server (local: true): its kernel has the socket. */
	if (b && b->ifindex == LB_IFINDEX_LOCAL)
		return verdict(bytes, LB_XDP_PASS_LOCAL, XDP_PASS);
	if (b && b->ifindex && b->ifindex != ctx->ingress_ifindex) {
		__builtin_memcpy(eth->h_dest, f->backend_mac, ETH_ALEN);
		return redirect_out(eth, b->ifindex, bytes, LB_XDP_REDIRECT_FAST_PATH);
	}
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, f->backend_mac, ETH_ALEN);
	return verdict(bytes, reason, XDP_TX);
}

/* The flow of a packet the server side sends (VIP → client): the tuple reversed. */
static __always_inline struct lb_flow *flow_from_server(const struct iphdr *iph,
							const struct tcphdr *th)
{
	struct lb_flow_key fkey = {};

	fkey.saddr = iph->daddr;
	fkey.daddr = iph->saddr;
	fkey.sport = th->dest;
	fkey.dport = th->source;
	fkey.proto = IPPROTO_TCP;
	return bpf_map_lookup_elem(&flows_v3, &fkey);
}

/*
 * A packet from the flow's backend, diverted to us or (local backend) seen
 * leaving: a FIN or RST ends the flow. A reset while nothing of the client's
 * has come after the hand-off is the backend refusing the connection (no
 * listener, full queue); the daemon counts these toward the backend's health.
 * @answer_client: after a RST, we answer the client's segments (reset_client):
 * a remote backend's kernel no longer can; the local one's still does.
 */
static __always_inline void backend_end(struct lb_flow *f, __u8 flags, bool answer_client)
{
	if ((flags & LB_TH_RST) && f->state == LB_FLOW_BOUND && !f->packets) {
		struct lb_backend *b;
		__u32 idx = f->backend;

		b = bpf_map_lookup_elem(&backends, &idx);
		if (b)
			__sync_fetch_and_add(&b->handoff_resets, 1);
	}
	if (flags & (LB_TH_FIN | LB_TH_RST))
		close_flow(f);
	if ((flags & LB_TH_RST) && answer_client && !(f->flags & LB_FLOW_F_RESET))
		f->flags |= LB_FLOW_F_RESET;
	f->last_seen_ns = bpf_ktime_get_ns();
}

/*
 * A backend's FIN or RST, sent to us by its TC egress program so we see the
 * connection end: note it, then send it on to the client's next hop. Clients
 * are always behind the main interface, so a close that came in on a
 * backend-side interface is redirected there; the flow needs no field for it.
 */
static __always_inline int diverted(struct xdp_md *ctx, struct ethhdr *eth, struct iphdr *iph,
				    struct cursor *c, __u64 bytes)
{
	struct tcphdr *th;
	struct lb_flow *f;

	if (iph->ihl != 5 || !(th = parse_tcp_fixed(c)))
		return verdict(bytes, LB_XDP_DROP_TCP_TRUNC, XDP_DROP);
	f = flow_from_server(iph, th);
	if (!f || (f->state != LB_FLOW_BOUND && f->state != LB_FLOW_CLOSING &&
		   f->state != LB_FLOW_REPLAY && f->state != LB_FLOW_MOVING))
		return verdict(bytes, LB_XDP_DROP_DIVERT_NO_FLOW, XDP_DROP);
	/* Only the flow's own backend may end it: a forged "VIP" frame must not. */
	if (!mac_eq(eth->h_source, f->backend_mac))
		return verdict(bytes, LB_XDP_DROP_DIVERT_NOT_BACKEND, XDP_DROP);
	/* The flag without a FIN: the backend's answer to our probe (headers/rebind.h). */
	if ((iph->frag_off & bpf_htons(LB_FIN_NOTICE_IP_FLAG)) &&
	    !(tcp_flags(th) & (LB_TH_FIN | LB_TH_RST)))
		return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_PROBE_ANSWER);
	/*
	 * From the backend a connection is moving to: a reset is its refusal, the
	 * dispatcher's to handle (another holder, or its own 503); anything else
	 * shows it has adopted the connection, bound from now on.
	 */
	if (f->state == LB_FLOW_MOVING && (tcp_flags(th) & LB_TH_RST))
		return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_MOVING);
	if (f->state == LB_FLOW_MOVING)
		__sync_val_compare_and_swap(&f->state, LB_FLOW_MOVING, LB_FLOW_BOUND);
	/*
	 * A FIN notice (headers/fin_notice.h): the segment with the FIN and the
	 * response's last bytes went to the client directly; this header-only copy
	 * only tells us the connection ends. Close once, forward nothing: the
	 * client would get the FIN twice. Retransmissions bring a notice each,
	 * which finds the flow closing already.
	 */
	if ((iph->frag_off & bpf_htons(LB_FIN_NOTICE_IP_FLAG)) &&
	    (tcp_flags(th) & (LB_TH_FIN | LB_TH_RST)) == LB_TH_FIN) {
		close_flow(f);
		f->last_seen_ns = bpf_ktime_get_ns();
		return verdict(bytes, LB_XDP_DROP_FIN_NOTICE, XDP_DROP);
	}
	/* Its SYN/ACK (or refusal) for the SYN the dispatcher replayed: the dispatcher's. */
	if (f->state == LB_FLOW_REPLAY)
		return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_REPLAY);
	backend_end(f, tcp_flags(th), true);
	if (cfg_main_ifindex && ctx->ingress_ifindex != cfg_main_ifindex) {
		__builtin_memcpy(eth->h_dest, f->client_hop_mac, ETH_ALEN);
		return redirect_out(eth, cfg_main_ifindex, bytes, LB_XDP_REDIRECT_DIVERTED);
	}
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, f->client_hop_mac, ETH_ALEN);
	return verdict(bytes, LB_XDP_TX_DIVERTED, XDP_TX);
}

/* The frame is addressed to us: broadcast or multicast, or our MAC where it came in. */
static __always_inline bool for_us(const struct xdp_md *ctx, const struct ethhdr *eth)
{
	const struct lb_iface *side;
	__u32 idx = ctx->ingress_ifindex;

	if (eth->h_dest[0] & 1)
		return true;
	if (idx != cfg_main_ifindex) {
		side = bpf_map_lookup_elem(&ifaces, &idx);
		return !side || mac_eq(eth->h_dest, side->mac);
	}
	if (!(cfg_main_mac[0] | cfg_main_mac[1] | cfg_main_mac[2] | cfg_main_mac[3] |
	      cfg_main_mac[4] | cfg_main_mac[5]))
		return true;
	return eth->h_dest[0] == cfg_main_mac[0] && eth->h_dest[1] == cfg_main_mac[1] &&
	       eth->h_dest[2] == cfg_main_mac[2] && eth->h_dest[3] == cfg_main_mac[3] &&
	       eth->h_dest[4] == cfg_main_mac[4] && eth->h_dest[5] == cfg_main_mac[5];
}

SEC("xdp")
int lb_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 bytes = data_end - data;
	struct cursor c = { .pos = data, .end = data_end }, at_tcp;
	struct lb_vip_key vkey = {};
	struct lb_flow_key fkey = {};
	struct lb_cookie_secret *secret;
	struct lb_cookie_opts co;
	struct lb_cookie_tuple t;
	struct lb_flow *flow;
	struct lb_vip *vip = NULL;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct tcphdr *th;
	__u32 tot_len, tcp_hdr_len, payload, key0 = 0;
	__u8 flags;

	eth = parse_eth(&c);
	if (!eth)
		return verdict(bytes, LB_XDP_DROP_ETH_TRUNC, XDP_DROP);
	if (!for_us(ctx, eth))
		return verdict(bytes, LB_XDP_PASS_OTHER_HOST, XDP_PASS);
	if (eth->h_proto != bpf_htons(ETH_P_IP))
		return verdict(bytes, LB_XDP_PASS_NOT_IPV4, XDP_PASS);
	iph = parse_ipv4_fixed(&c);
	if (!iph)
		return verdict(bytes, LB_XDP_DROP_IP_TRUNC, XDP_DROP);
	if (iph->protocol != IPPROTO_TCP)
		return verdict(bytes, LB_XDP_PASS_NOT_VIP, XDP_PASS);

	/*
	 * The common case first, in one lookup: a segment for a VIP's service (a
	 * SYN, a bound flow's ACKs), its TCP header right after an option-less IP
	 * header. The daemon enters a service's address marker (below) with it, so
	 * a service found is a VIP address too, and the checks below judge the
	 * segment as they would have after the marker's lookup. Read through a
	 * copy of the cursor: a diverted segment is parsed again from the IP header.
	 */
	vkey.addr = iph->daddr;
	vkey.proto = IPPROTO_TCP;
	at_tcp = c;
	th = parse_tcp_fixed(&at_tcp);
	/* Port 0 is the address marker's key, never a service. */
	if (th && iph->ihl == 5 && th->dest) {
		vkey.port = th->dest;
		vip = bpf_map_lookup_elem(&vips, &vkey);
	}
	/*
	 * Port 0 entries mark VIP addresses: a TCP packet to one is held to our
	 * standards for its IP header whichever port it is for; only a VIP's own
	 * port gets the TCP checks. Anything else (other ports, other protocols)
	 * goes to the balancer host's stack, which has no VIP and drops it.
	 */
	if (!vip) {
		vkey.port = 0;
		if (!bpf_map_lookup_elem(&vips, &vkey)) {
			/* From a VIP: only our backends send that, diverting a connection's end. */
			vkey.addr = iph->saddr;
			if (bpf_map_lookup_elem(&vips, &vkey))
				return diverted(ctx, eth, iph, &c, bytes);
			return verdict(bytes, LB_XDP_PASS_NOT_VIP, XDP_PASS);
		}
	}
	if (iph->version != 4 || iph->ihl < 5)
		return verdict(bytes, LB_XDP_DROP_IP_IHL, XDP_DROP);
	if (iph->ihl > 5)
		return verdict(bytes, LB_XDP_DROP_IP_OPTIONS, XDP_DROP);
	if (iph->frag_off & bpf_htons(IP_MF | IP_OFFSET))
		return verdict(bytes, LB_XDP_DROP_IP_FRAGMENT, XDP_DROP);
	if (!th)
		return verdict(bytes, LB_XDP_DROP_TCP_TRUNC, XDP_DROP);
	/* To the VIP's address, but no service of it: its lookup above missed. */
	if (!vip)
		return verdict(bytes, LB_XDP_PASS_NOT_VIP, XDP_PASS);
	tot_len = bpf_ntohs(iph->tot_len);
	if (tot_len > bytes - sizeof(*eth) || tot_len < sizeof(*iph) + sizeof(*th))
		return verdict(bytes, LB_XDP_DROP_IP_LEN, XDP_DROP);
	tcp_hdr_len = th->doff * 4;
	if (tcp_hdr_len < sizeof(*th) || tcp_hdr_len > tot_len - sizeof(*iph))
		return verdict(bytes, LB_XDP_DROP_TCP_DOFF, XDP_DROP);
	payload = tot_len - sizeof(*iph) - tcp_hdr_len;
	flags = tcp_flags(th);

	fkey.saddr = iph->saddr;
	fkey.daddr = iph->daddr;
	fkey.sport = th->source;
	fkey.dport = th->dest;
	fkey.proto = IPPROTO_TCP;
	flow = bpf_map_lookup_elem(&flows_v3, &fkey);
	/*
	 * The client reuses the port of a connection that has ended: a new one.
	 * So does a SYN on a flow only a peer balancer has seen (bound, no packet
	 * of it here): it ended there, and its close never reached us (the peer
	 * stopped or died within a second of it). A client never sends a SYN on a
	 * connection it still has.
	 */
	if (flow && (flags & (LB_TH_SYN | LB_TH_ACK)) == LB_TH_SYN &&
	    (flow->state == LB_FLOW_CLOSING ||
	     (flow->state == LB_FLOW_BOUND && (flow->flags & LB_FLOW_F_PEER) && close_flow(flow)))) {
		bpf_map_delete_elem(&flows_v3, &fkey);
		flow = NULL;
	}
	if (flow) {
		/* Being collected, or waiting for a replay-mode backend's SYN/ACK. */
		if (flow->state == LB_FLOW_DISPATCH || flow->state == LB_FLOW_REPLAY)
			return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_DISPATCH);
		/* Its backend reset it: a RST of ours, as nobody is left to send one. */
		if (flow->state == LB_FLOW_CLOSING && (flow->flags & LB_FLOW_F_RESET) &&
		    (flags & (LB_TH_ACK | LB_TH_RST)) == LB_TH_ACK)
			return reset_client(ctx, bytes, eth, iph, th);
		/*
		 * An ACK past the server's side of the move acknowledges the new
		 * backend's bytes: it has the socket, the flow is bound from now on.
		 */
		if (flow->state == LB_FLOW_MOVING &&
		    (!(flags & LB_TH_ACK) || (__s32)(bpf_ntohl(th->ack_seq) - flow->srv_seq) <= 0 ||
		     __sync_val_compare_and_swap(&flow->state, LB_FLOW_MOVING, LB_FLOW_BOUND) !=
			     LB_FLOW_MOVING))
			return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_MOVING);
		return fast_path(ctx, eth, flow, th, flags, sizeof(*eth) + sizeof(*iph) + tcp_hdr_len,
				 payload, bytes);
	}

	if (flags & LB_TH_SYN) {
		if (flags & (LB_TH_ACK | LB_TH_FIN | LB_TH_RST))
			return verdict(bytes, LB_XDP_DROP_TCP_FLAGS, XDP_DROP);
		if (payload)
			return verdict(bytes, LB_XDP_DROP_SYN_PAYLOAD, XDP_DROP);
		return answer_syn(ctx, bytes, eth, iph, th, tcp_hdr_len);
	}
	/* Without a flow, anything but a SYN must acknowledge our SYN/ACK. */
	if (!(flags & LB_TH_ACK))
		return verdict(bytes, LB_XDP_DROP_TCP_FLAGS, XDP_DROP);

	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	if (!secret)
		return verdict(bytes, LB_XDP_DROP_INTERNAL, XDP_DROP);
	t.caddr = iph->saddr;
	t.vaddr = iph->daddr;
	t.cport = th->source;
	t.vport = th->dest;
	/* Until a flow exists the client has sent nothing we took: seq is ISN + 1. */
	if (lb_cookie_check(secret, &t, bpf_ntohl(th->seq) - 1, bpf_ntohl(th->ack_seq) - 1,
			    bpf_ktime_get_tai_ns() / LB_NS_PER_S, &co))
		return verdict(bytes, LB_XDP_DROP_BAD_COOKIE, XDP_DROP);

	if (!payload && !(flags & (LB_TH_FIN | LB_TH_RST)) && vip->mode != LB_VIP_TCP)
		return verdict(bytes, LB_XDP_DROP_HANDSHAKE_ACK, XDP_DROP);
	return to_dispatcher(ctx, bytes, LB_XDP_REDIRECT_DISPATCH);
}

/* Run before other programs' defaults when chained by libxdp's dispatcher. */
struct {
	__uint(priority, 10);
	__uint(XDP_PASS, 1);
} XDP_RUN_CONFIG(lb_xdp);

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/*
 * The local backend's packets (`local: true`, docs/packet-walk.md §10), on
 * the main interface's TC egress. The balancer's own web server answers from
 * this host, so no backend program diverts its connection's end to us: here
 * we see it leave instead. A FIN or RST closes the flow as a diverted one
 * does, and the packet goes on to the client. Attached only while the config
 * has a local backend; everything else passes untouched and uncounted.
 */
SEC("tc")
int lb_local_egress(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct cursor c = { .pos = data, .end = data_end };
	__u64 bytes = skb->len;
	struct lb_vip_key vkey = {};
	struct lb_backend *b;
	struct ethhdr *eth;
	struct iphdr *iph;
	struct tcphdr *th;
	struct lb_flow *f;
	__u32 idx;
	__u8 flags;

	eth = parse_eth(&c);
	if (!eth || eth->h_proto != bpf_htons(ETH_P_IP))
		return TC_ACT_OK;
	iph = parse_ipv4_fixed(&c);
	if (!iph || iph->protocol != IPPROTO_TCP || iph->ihl != 5)
		return TC_ACT_OK;
	th = parse_tcp_fixed(&c);
	if (!th)
		return TC_ACT_OK;
	vkey.addr = iph->saddr;
	vkey.port = th->source;
	vkey.proto = IPPROTO_TCP;
	if (!vkey.port || !bpf_map_lookup_elem(&vips, &vkey))
		return TC_ACT_OK;
	f = flow_from_server(iph, th);
	if (!f)
		return TC_ACT_OK;
	idx = f->backend;
	b = bpf_map_lookup_elem(&backends, &idx);
	if (!b || b->ifindex != LB_IFINDEX_LOCAL)
		return TC_ACT_OK;
	flags = tcp_flags(th);
	if (f->state == LB_FLOW_MOVING) {
		/*
		 * Refusing a connection moving here: the client must not see it.
		 * The dispatcher, seeing no sign of adoption, decides again.
		 */
		if (flags & LB_TH_RST)
			return verdict(bytes, LB_XDP_DROP_LOCAL_REFUSAL, TC_ACT_SHOT);
		/* Anything else shows the local stack has the connection. */
		__sync_val_compare_and_swap(&f->state, LB_FLOW_MOVING, LB_FLOW_BOUND);
	}
	if (!(flags & (LB_TH_FIN | LB_TH_RST)))
		return TC_ACT_OK;
	backend_end(f, flags, false);
	return verdict(bytes, LB_XDP_LOCAL_END, TC_ACT_OK);
}

/*
 * The daemon's way to end a bound flow (expiry, eviction, a dead backend's
 * resets): run with BPF_PROG_TEST_RUN, the flow's key as context, so it takes
 * the same compare-and-swap as XDP's close and a flow leaves its backend's
 * count once, whoever is first. Returns LB_FLOW_END_* (headers/maps.h).
 */
SEC("syscall")
int lb_flow_end(struct lb_flow_key *ctx)
{
	struct lb_flow_key k = *ctx;
	struct lb_flow *f = bpf_map_lookup_elem(&flows_v3, &k);

	if (!f)
		return LB_FLOW_END_NONE;
	return close_flow(f) ? LB_FLOW_END_ENDED : LB_FLOW_END_NOT_BOUND;
}

/*
 * The daemon's steps of per-request binding, run like lb_flow_end: whatever
 * XDP does to the flow at the same moment, each step either finds the state
 * it expects and completes, or changes nothing. Returns LB_FLOW_END_NONE (no
 * flow), LB_FLOW_END_ENDED (done) or LB_FLOW_END_NOT_BOUND (another state).
 */
/* The fields of the request the flow's backend has now: where it ends, its hint. */
static __always_inline void take_request(struct lb_flow *f, const struct lb_flow_move *ctx)
{
	f->req_end = ctx->req_end;
	f->srv_seq = ctx->srv_seq;
	f->flags = ctx->flags;
	f->hint_hash = ctx->hint_hash;
	f->hint_len = ctx->hint_len;
	f->hint_gen = ctx->hint_gen;
}

/*
 * LB_MOVE_PEER: a peer balancer's view of a flow both of us have, taken if it
 * saw the flow later than we did, or if ours is still what a peer sent
 * (LB_FLOW_F_PEER: no packet of it here since) and the view is of the same
 * binding or a later one: a peer's later word on it (a peer's datagrams are
 * taken in order). The clocks alone cannot put a short connection's close
 * after its bind: XDP stamps packets with the coarse clock, a tick behind the
 * bind's, and a view's age is in whole milliseconds. Closing ends ours through
 * close_flow(); bound to another backend, ours first leaves XDP's hands
 * (moving: XDP never ends it), so the counts move once, then comes back bound.
 * A flow the dispatcher holds (collecting, replaying, moving) is left alone.
 */
/*
 * @f, out of XDP's hands (moving), goes to @ctx's backend: one active count
 * there, and one off the old backend if @counted (the flow was bound).
 */
static __always_inline void move_backend(struct lb_flow *f, const struct lb_flow_move *ctx,
					 bool counted)
{
	struct lb_backend *b;
	__u32 idx = f->backend;

	b = bpf_map_lookup_elem(&backends, &idx);
	if (b && counted)
		__sync_fetch_and_add(&b->active, -1);
	idx = ctx->backend;
	b = bpf_map_lookup_elem(&backends, &idx);
	if (b)
		__sync_fetch_and_add(&b->active, 1);
	f->backend = idx;
	__builtin_memcpy(f->backend_mac, ctx->backend_mac, ETH_ALEN);
}

static __always_inline int peer_view(struct lb_flow *f, const struct lb_flow_move *ctx)
{
	__u32 seen = f->state;

	if ((seen != LB_FLOW_BOUND && seen != LB_FLOW_CLOSING) ||
	    (ctx->seen_ns <= f->last_seen_ns &&
	     (!(f->flags & LB_FLOW_F_PEER) || ctx->binds < f->binds)))
		return LB_FLOW_END_NOT_BOUND;
	if (ctx->state == LB_FLOW_CLOSING) {
		close_flow(f);
	} else if (seen != LB_FLOW_BOUND || f->backend != ctx->backend) {
		if (__sync_val_compare_and_swap(&f->state, seen, LB_FLOW_MOVING) != seen)
			return LB_FLOW_END_NOT_BOUND;
		move_backend(f, ctx, seen == LB_FLOW_BOUND);
		f->state = LB_FLOW_BOUND;
	}
	take_request(f, ctx);
	__builtin_memcpy(f->client_hop_mac, ctx->client_hop_mac, ETH_ALEN);
	f->client_ack = ctx->client_ack;
	f->binds = ctx->binds;
	f->syn_opts = ctx->syn_opts;
	if (ctx->seen_ns > f->last_seen_ns)
		f->last_seen_ns = ctx->seen_ns;
	return LB_FLOW_END_ENDED;
}

/*
 * LB_MOVE_DROP: @f (@k's) as expiry or eviction read it, in @state and last
 * seen at @seen_ns, is ended if bound and deleted. The batch they decided from
 * may be stale by now: a flow changed since (a packet, a new connection on the
 * port that a dispatcher thread holds) is left.
 */
static __always_inline int drop_as_read(struct lb_flow *f, struct lb_flow_key *k, __u32 state,
					__u64 seen_ns)
{
	if ((state != LB_FLOW_BOUND && state != LB_FLOW_CLOSING) || f->state != state ||
	    f->last_seen_ns != seen_ns)
		return LB_FLOW_END_NOT_BOUND;
	/* Off its backend's count once, whoever closes it first. */
	if (state == LB_FLOW_BOUND && !close_flow(f))
		return LB_FLOW_END_NOT_BOUND;
	bpf_map_delete_elem(&flows_v3, k);
	return LB_FLOW_END_ENDED;
}

/*
 * REBIND's parked list: the new backend's entry goes (the connection is back
 * there), and with @ctx->park the old backend's comes last, pushing the
 * oldest out into @ctx->parked[0] when the list is full.
 */
static __always_inline void park_backend(struct lb_flow *f, __u32 old, struct lb_flow_move *ctx)
{
	__u8 leaving = old + 1, coming = ctx->backend + 1;
	__u32 list = 0, shift = 0, i; /* parked[] as one word, [0] its low byte */

#pragma clang loop unroll(full)
	for (i = 0; i < LB_FLOW_PARKED; i++) {
		__u8 b = f->parked[i];

		if (b && b != coming && b != leaving) {
			list |= (__u32)b << shift;
			shift += 8;
		}
	}
	if (ctx->park && old < 255) {
		if (shift == 8 * LB_FLOW_PARKED) {
			ctx->parked[0] = list & 0xff;
			list >>= 8;
			shift -= 8;
		}
		list |= (__u32)leaving << shift;
	}
	__builtin_memcpy(f->parked, &list, LB_FLOW_PARKED);
}

SEC("syscall")
int lb_flow_move(struct lb_flow_move *ctx)
{
	struct lb_flow_key k = ctx->key;
	struct lb_flow *f;

	f = bpf_map_lookup_elem(&flows_v3, &k);
	if (!f)
		return LB_FLOW_END_NONE;
	switch (ctx->op) {
	case LB_MOVE_ADVANCE:
		if (f->state != LB_FLOW_BOUND)
			return LB_FLOW_END_NOT_BOUND;
		take_request(f, ctx);
		return LB_FLOW_END_ENDED;
	case LB_MOVE_SETTLE:
		return __sync_val_compare_and_swap(&f->state, LB_FLOW_MOVING, LB_FLOW_BOUND) ==
				       LB_FLOW_MOVING
			       ? LB_FLOW_END_ENDED
			       : LB_FLOW_END_NOT_BOUND;
	case LB_MOVE_REBIND:
		if (ctx->state != LB_FLOW_MOVING && ctx->state != LB_FLOW_REPLAY)
			return LB_FLOW_END_NOT_BOUND;
		/*
		 * Out of XDP's hands first: it never ends a moving or replaying
		 * flow, so the counts below cannot race with its close.
		 */
		if (__sync_val_compare_and_swap(&f->state, LB_FLOW_BOUND, ctx->state) !=
		    LB_FLOW_BOUND)
			return LB_FLOW_END_NOT_BOUND;
		park_backend(f, f->backend, ctx);
		move_backend(f, ctx, true);
		take_request(f, ctx);
		f->binds++;
		return LB_FLOW_END_ENDED;
	case LB_MOVE_PEER:
		return peer_view(f, ctx);
	case LB_MOVE_DROP:
		return drop_as_read(f, &k, ctx->state, ctx->seen_ns);
	case LB_MOVE_UNPARK: {
		__u32 list = __sync_lock_test_and_set((__u32 *)f->parked, 0);

		__builtin_memcpy(ctx->parked, &list, LB_FLOW_PARKED);
		return list ? LB_FLOW_END_ENDED : LB_FLOW_END_NOT_BOUND;
	}
	}
	return LB_FLOW_END_NOT_BOUND;
}

/*
 * Many LB_MOVE_DROP steps in one run (struct lb_flow_drops): each flow's
 * result written back, the number dropped returned. Unrolled, so that each
 * flow's place in the context is a constant offset, as the verifier wants.
 */
SEC("syscall")
int lb_flow_drops(struct lb_flow_drops *ctx)
{
	__u32 n = ctx->n, i;
	int dropped = 0;

#pragma clang loop unroll(full)
	for (i = 0; i < LB_FLOW_DROPS; i++) {
		struct lb_flow_key k;
		struct lb_flow *f;
		int ret;

		if (i >= n)
			break;
		k = ctx->flows[i].key;
		f = bpf_map_lookup_elem(&flows_v3, &k);
		ret = f ? drop_as_read(f, &k, ctx->flows[i].state, ctx->flows[i].seen_ns)
			: LB_FLOW_END_NONE;
		ctx->flows[i].result = ret;
		dropped += ret == LB_FLOW_END_ENDED;
	}
	return dropped;
}

/* Many new connections' flows put (struct lb_flow_binds); returns how many went in. */
SEC("syscall")
int lb_flow_binds(struct lb_flow_binds *ctx)
{
	__u32 n = ctx->n, i;
	int put = 0;

#pragma clang loop unroll(full)
	for (i = 0; i < LB_FLOW_BINDS; i++) {
		struct lb_flow_key k;
		struct lb_flow f;
		long ret;

		if (i >= n)
			break;
		k = ctx->flows[i].key;
		f = ctx->flows[i].flow;
		ret = bpf_map_update_elem(&flows_v3, &k, &f, BPF_NOEXIST);
		ctx->flows[i].result = (__s32)ret;
		put += !ret;
	}
	return put;
}

char LICENSE[] SEC("license") = "GPL";
