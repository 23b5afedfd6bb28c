// SPDX-License-Identifier: GPL-2.0
/*
 * The backend's TC programs, replay mode (docs/packet-walk.md, 4b): for
 * kernels without bpf_sk_assign_tcp_reqsk (< 6.9). Nothing here may reference
 * that kfunc: this object must load where it does not exist.
 *
 * The dispatcher replays the client's SYN (client ISN, its options, and the
 * hand-off option of headers/handoff_opt.h) from a balancer's MAC. This host's
 * kernel answers it with a SYN/ACK of its own ISN B and clock T_be, which we
 * send to the balancer instead of the client: the client already holds the
 * balancer's SYN/ACK (ISN C, clock T_lb). From the client's ACK on, every
 * packet of the connection is translated between the two views, per the
 * `handoffs` entry (headers/backend_maps.h):
 *
 * ingress (client → backend): ack and SACK edges − (C − B), TSecr − (T_lb − T_be);
 *   a FIN or RST marks the entry CLOSING.
 *   A SYN with the hand-off option counts only from a balancer's MAC with a
 *   valid tag and C a valid cookie for the tuple and the SYN's ISN; it then
 *   makes the entry and goes on to the kernel.
 * egress (backend → client): seq + (C − B), TSval + (T_lb − T_be), the window
 *   rescaled to the scale the client was told; then FIN and RST diverted to the
 *   balancer as in cookie mode (a FIN with data split into a direct copy and a
 *   notice, after translation); a FIN marks the entry CLOSING, a RST (the
 *   kernel has dropped the connection) deletes it. A SYN/ACK goes to the
 *   balancer untranslated, and only as the answer to a replayed SYN. Every
 *   data segment's answer heads are read first, in the socket's numbers
 *   (backend_common.h, track_answers).
 *
 * Checksums are updated incrementally, with no pseudo-header flag: none of these
 * fields is in the pseudo-header, which is also what CHECKSUM_PARTIAL on egress
 * needs. A GSO super-packet carries its first segment's seq; the kernel numbers
 * the rest from it after us, so translating that one is enough.
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "backend_common.h"
#include "backend_maps.h"
#include "handoff_opt.h"

/*
 * Handed-off connections, client 4-tuple → translation state. Written by
 * both programs; read and pruned (CLOSING and stale SYN_SEEN entries) by
 * `latebind backend status --gc`. LRU: under pressure the least recently used
 * go first, which are idle or finished connections.
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_HANDOFFS_MAX);
	__type(key, struct lb_handoff_key);
	__type(value, struct lb_handoff);
} handoffs SEC(".maps");

/* A SYN to the VIP service: only a replay the balancer vouches for goes in. */
static __noinline int replay_syn(struct __sk_buff *skb)
{
	struct l4 q, *p = &q;
	struct syn_options so = {};
	struct lb_cookie_secret *secret;
	struct lb_cookie_tuple ct;
	struct lb_cookie_opts co;
	struct lb_handoff_key key;
	struct lb_handoff ho = {}, *old;
	__u32 key0 = 0, optlen, c, t_lb, tag, off, isn;
	__u8 buf[64] = {};
	__u64 tai_s;
	__u8 ws;

	/* A function of its own (the re-bind check's stack): parsed again. -1: not a SYN. */
	if (parse(skb, p) || !to_vip_service(p) ||
	    (tcp_flags(p->th) & (LB_TH_SYN | LB_TH_ACK | LB_TH_RST)) != LB_TH_SYN)
		return -1;
	isn = bpf_ntohl(p->th->seq);
	conn_of_client(p, &key);
	ct.caddr = key.caddr;
	ct.vaddr = key.vaddr;
	ct.cport = key.cport;
	ct.vport = key.vport;
	if (tcp_options(skb, p, buf, &optlen, &so))
		return count(skb, LB_BE_DROP_MALFORMED, TC_ACT_SHOT);
	/* Nothing but the dispatcher opens connections to the VIP here. */
	if (!so.has_handoff)
		return count(skb, LB_BE_DROP_SYN_NO_HANDOFF, TC_ACT_SHOT);
	if (!from_balancer(p->eth))
		return count(skb, LB_BE_DROP_FORGED_HANDOFF, TC_ACT_SHOT);

	off = so.handoff_off;
	c = opt_rd32(buf, off + offsetof(struct lb_handoff_opt, client_isn));
	t_lb = opt_rd32(buf, off + offsetof(struct lb_handoff_opt, lb_tsval));
	ws = buf[idx64(off + offsetof(struct lb_handoff_opt, wscale))];
	off += offsetof(struct lb_handoff_opt, tag);
	tag = (__u32)buf[idx64(off)] << 16 | (__u32)buf[idx64(off + 1)] << 8 | buf[idx64(off + 2)];

	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	tai_s = bpf_ktime_get_tai_ns() / LB_NS_PER_S;
	if (!secret || (ws > LB_TCP_MAX_WSCALE && ws != LB_COOKIE_WSCALE_NONE))
		return count(skb, LB_BE_DROP_FORGED_HANDOFF, TC_ACT_SHOT);
	if (so.handoff_rebind) {
		/* A later request moving here: the tag covers the ISN and bounds its life. */
		if (lb_handoff_rebind_check(secret, &ct, isn, c, t_lb, ws, tag, tai_s))
			return count(skb, LB_BE_DROP_FORGED_HANDOFF, TC_ACT_SHOT);
	} else if (lb_handoff_tag_check(secret, &ct, c, t_lb, ws, tag, tai_s) ||
		   lb_cookie_check(secret, &ct, isn, c, tai_s, &co)) {
		/* The tag says the balancer wrote it; the cookie bounds its life. */
		return count(skb, LB_BE_DROP_FORGED_HANDOFF, TC_ACT_SHOT);
	}

	/* Its SYN/ACK goes back to the balancer that sent it (balancer_for()). */
	note_balancer(p);
	/*
	 * The dispatcher sending the same replay again (our SYN/ACK got lost): keep
	 * what the entry learnt. Another C is a new connection on the same ports:
	 * it replaces the old entry.
	 */
	old = bpf_map_lookup_elem(&handoffs, &key);
	if (old && old->client_isn == c) {
		old->last_seen_ns = bpf_ktime_get_ns();
		return count(skb, LB_BE_REPLAY_SYN, TC_ACT_OK);
	}
	ho.client_isn = c;
	ho.lb_tsval = t_lb;
	ho.ws_adv = ws;
	ho.has_ts = so.has_ts;
	ho.state = LB_HO_SYN_SEEN;
	ho.last_seen_ns = bpf_ktime_get_ns();
	if (bpf_map_update_elem(&handoffs, &key, &ho, BPF_ANY))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	return count(skb, LB_BE_REPLAY_SYN, TC_ACT_OK);
}

static __noinline int replay_ingress_segment(struct __sk_buff *skb)
{
	struct syn_options so = {};
	struct lb_handoff_key key;
	struct lb_handoff *e;
	__u32 d_isn, d_ts, optlen, off, k;
	__u8 old[64] = {}, buf[64] = {};
	__be32 ack;
	struct l4 p;
	__u8 flags;

	if (parse(skb, &p))
		return count(skb, LB_BE_PASS_OTHER, TC_ACT_OK);
	if (!to_vip_service(&p))
		return not_for_vip(skb, &p);
	note_balancer(&p);
	flags = tcp_flags(p.th);
	if (flags & LB_TH_SYN)
		return count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);

	conn_of_client(&p, &key);
	ack = p.th->ack_seq;
	e = bpf_map_lookup_elem(&handoffs, &key);
	/* Not handed off here (or evicted): untranslated, the kernel judges it. */
	if (!e)
		return count(skb, LB_BE_REPLAY_NO_ENTRY, TC_ACT_OK);
	/* Nothing to translate with until our SYN/ACK told us B. */
	if (!(e->flags & LB_HO_F_SYNACK))
		return count(skb, LB_BE_DROP_REPLAY_EARLY, TC_ACT_SHOT);
	d_isn = e->client_isn - e->backend_isn;
	d_ts = e->lb_tsval - e->be_tsval;

	if (tcp_options(skb, &p, old, &optlen, &so))
		return count(skb, LB_BE_DROP_MALFORMED, TC_ACT_SHOT);
	/* Options with nothing of ours in them are left as they are. */
	if (!(so.has_ts && e->has_ts) && !so.sack_blocks)
		optlen = 0;
	__builtin_memcpy(buf, old, sizeof(buf));
	if (so.has_ts && e->has_ts)
		opt_wr32(buf, so.ts_off + 6, so.tsecr - d_ts);
	for (k = 0; k < 4; k++) {
		if (k >= so.sack_blocks)
			break;
		off = so.sack_off + 2 + k * 8;
		opt_wr32(buf, off, opt_rd32(buf, off) - d_isn);
		opt_wr32(buf, off + 4, opt_rd32(buf, off + 4) - d_isn);
	}
	if (((flags & LB_TH_ACK) &&
	     set32(skb, &p, TCP_ACK_OFF(&p), ack, bpf_htonl(bpf_ntohl(ack) - d_isn))) ||
	    set_options(skb, &p, old, buf, optlen))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);

	/*
	 * A client's RST only marks the entry: whether it resets anything is the
	 * kernel's call (RFC 5961: only an exact in-window one does), and deleting
	 * here would let a blind RST for a known 4-tuple break a live connection's
	 * translation. A reset connection's entry goes with --gc, the LRU, a new
	 * replay for the tuple, or the kernel's own RST for its next segment.
	 */
	if (flags & (LB_TH_FIN | LB_TH_RST))
		e->state = LB_HO_CLOSING;
	else if ((flags & LB_TH_ACK) && e->state == LB_HO_SYN_SEEN)
		e->state = LB_HO_ESTABLISHED;
	e->last_seen_ns = bpf_ktime_get_ns();
	return count(skb, LB_BE_REPLAY_IN, TC_ACT_OK);
}

/*
 * The window in the scale the client was told: win' = (win << be_ws) >> ws,
 * at most 65535. A window that is open stays open (at least 1): rounding it to
 * zero would stall a connection the backend keeps open.
 */
static __always_inline __u16 rescale_window(__u16 win, __u8 be_ws, __u8 ws)
{
	__u32 w;

	if (ws == LB_COOKIE_WSCALE_NONE || ws == be_ws)
		return win;
	w = ((__u32)win << (be_ws & 15)) >> (ws & 15);
	if (w > 65535)
		w = 65535;
	if (!w && win)
		w = 1;
	return w;
}

/* The answer to a replayed SYN: learn B, T_be and the scale; the balancer gets it. */
static __always_inline int replay_synack(struct __sk_buff *skb, const struct l4 *p,
					 const struct lb_handoff_key *key, struct lb_handoff *e)
{
	struct syn_options so = {};
	__u32 optlen, isn = bpf_ntohl(p->th->seq);
	__u8 buf[64] = {};

	if (!e || e->state != LB_HO_SYN_SEEN)
		return count(skb, LB_BE_EGRESS_SYNACK_DROPPED, TC_ACT_SHOT);
	if (tcp_options(skb, p, buf, &optlen, &so))
		return count(skb, LB_BE_DROP_MALFORMED, TC_ACT_SHOT);
	e->backend_isn = isn;
	e->be_tsval = so.has_ts ? so.tsval : 0;
	e->be_wscale = so.has_wscale ? so.wscale : 0;
	/* Both ends must have agreed to timestamps for any to flow. */
	e->has_ts = e->has_ts && so.has_ts;
	e->flags |= LB_HO_F_SYNACK;
	e->last_seen_ns = bpf_ktime_get_ns();
	answers_begin(key, isn + 1);
	if (to_balancer(skb, balancer_for(key)))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	return count(skb, LB_BE_REPLAY_SYNACK_DIVERTED, TC_ACT_OK);
}

/*
 * A probe of the balancer's (headers/rebind.h) is answered first, then a SYN
 * is checked for the hand-off option; everything else goes on to
 * replay_ingress_segment(). Functions called in turn, so that no stack adds
 * to another's.
 */
SEC("tc")
int lb_replay_ingress(struct __sk_buff *skb)
{
	int ret = answer_probe(skb);

	if (ret < 0)
		ret = replay_syn(skb);
	return ret >= 0 ? ret : replay_ingress_segment(skb);
}

/* What replay_egress_segment() leaves for divert_end(). */
struct divert {
	__u32 balancer; /* balancer_for() the connection */
	__u8 flags;	/* the segment's TCP flags */
	__u8 translated;
};

/*
 * Egress up to the divert: returns the verdict, counted, or -1 when the
 * segment is a FIN or RST to divert as @d says.
 */
static __noinline int replay_egress_segment(struct __sk_buff *skb, struct divert *d)
{
	struct syn_options so = {};
	struct lb_handoff_key key;
	struct lb_handoff *e;
	__u32 d_isn, d_ts, optlen;
	__u8 old[64] = {}, buf[64] = {};
	__be32 seq;
	__be16 win, new_win;
	struct l4 p;
	__u8 flags;

	if (parse(skb, &p) || !from_vip_service(&p))
		return count(skb, LB_BE_EGRESS_PASS, TC_ACT_OK);
	flags = tcp_flags(p.th);
	/* Our own direct copy of a FIN with data, translated already: as it is. */
	if ((flags & LB_TH_FIN) && is_direct_copy(skb, &p))
		return count(skb, LB_BE_EGRESS_FIN_DIRECT, TC_ACT_OK);
	conn_of_server(&p, &key);
	seq = p.th->seq;
	win = p.th->window;
	e = bpf_map_lookup_elem(&handoffs, &key);
	if ((flags & (LB_TH_SYN | LB_TH_ACK)) == (LB_TH_SYN | LB_TH_ACK))
		return replay_synack(skb, &p, &key, e);

	d->flags = flags;
	if (!e || !(e->flags & LB_HO_F_SYNACK)) {
		/* Not a hand-off of ours: its end still goes to the balancer. */
		if (!(flags & (LB_TH_FIN | LB_TH_RST)))
			return count(skb, LB_BE_REPLAY_NO_ENTRY, TC_ACT_OK);
		d->balancer = balancer_for(&key);
		return -1;
	}
	d_isn = e->client_isn - e->backend_isn;
	d_ts = e->lb_tsval - e->be_tsval;
	new_win = bpf_htons(rescale_window(bpf_ntohs(win), e->be_wscale, e->ws_adv));

	if (tcp_options(skb, &p, old, &optlen, &so))
		return count(skb, LB_BE_DROP_MALFORMED, TC_ACT_SHOT);
	if (!(so.has_ts && e->has_ts))
		optlen = 0;
	__builtin_memcpy(buf, old, sizeof(buf));
	if (so.has_ts && e->has_ts)
		opt_wr32(buf, so.ts_off + 2, so.tsval + d_ts);
	if (set32(skb, &p, TCP_SEQ_OFF(&p), seq, bpf_htonl(bpf_ntohl(seq) + d_isn)) ||
	    (win != new_win && (bpf_l4_csum_replace(skb, TCP_CSUM_OFF(&p), win, new_win, 2) ||
				bpf_skb_store_bytes(skb, TCP_WIN_OFF(&p), &new_win, 2, 0))) ||
	    set_options(skb, &p, old, buf, optlen))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);

	if (flags & LB_TH_RST)
		bpf_map_delete_elem(&handoffs, &key);
	else {
		if (flags & LB_TH_FIN)
			e->state = LB_HO_CLOSING;
		e->last_seen_ns = bpf_ktime_get_ns();
	}
	if (!(flags & (LB_TH_FIN | LB_TH_RST)))
		return count(skb, LB_BE_REPLAY_OUT, TC_ACT_OK);
	d->balancer = balancer_for(&key);
	d->translated = 1;
	return -1;
}

/*
 * The segment is translated (and its FIN or RST found) first, then diverted:
 * two functions called in turn, so that neither stack adds to the other's.
 */
SEC("tc")
int lb_replay_egress(struct __sk_buff *skb)
{
	struct divert d = {};
	int ret;

	note_answers(skb); /* before translation: in the socket's numbers */
	ret = replay_egress_segment(skb, &d);

	if (ret >= 0)
		return ret;
	/*
	 * Translated first: the balancer forwards it to the client as it is, and
	 * a FIN's direct copy and notice are both in client space.
	 */
	if (d.translated)
		return divert_end(skb, d.balancer, d.flags, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	return divert_end(skb, d.balancer, d.flags, LB_BE_EGRESS_PASS, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "GPL";
