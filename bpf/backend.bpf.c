// SPDX-License-Identifier: GPL-2.0
/*
 * The backend's TC programs, cookie mode (docs/packet-walk.md, 4a).
 *
 * ingress: the balancer forwards a client's ACK (+ request) for the VIP service.
 *   No socket exists for it yet, only the listener: if the ACK comes from a
 *   balancer's MAC and carries a cookie valid under the shared key, we hand the
 *   kernel a request socket built from what the cookie remembers of the client's
 *   SYN (bpf_sk_assign_tcp_reqsk), and the kernel completes the connection as if
 *   it had sent our SYN/ACK itself. Everything else passes untouched.
 * egress: the VIP service's FIN and RST go to the balancer (by MAC; with several,
 *   the one the connection's packets last came through) instead of the router, so it sees every connection end; all other data goes out directly.
 *   A FIN that carries data goes out directly too, and the balancer gets a
 *   header-only notice of it instead (headers/fin_notice.h).
 *   SYN/ACKs for the VIP are dropped: every connection to it is adopted from a
 *   cookie, so one would answer a SYN that did not come from a client.
 *   Every data segment's answer heads are read for where each answer ends
 *   (backend_common.h, track_answers).
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "backend_common.h"

extern int bpf_sk_assign_tcp_reqsk(struct __sk_buff *skb, struct sock *sk,
				   struct bpf_tcp_req_attrs *attrs, int attrs__sz) __ksym;

/* The hand-off ACK, re-injected after its TIME_WAIT was cleared. */
#define LB_REINJECT_MARK 0x1b1d1b1d

/* Rewrite seq, ack and the flags word in place, checksum included. */
static __always_inline int set_tcp(struct __sk_buff *skb, const struct l4 *p, __be32 seq,
				   __be32 ack, __be16 word)
{
	__be32 old32;
	__be16 old16;

	if (bpf_skb_load_bytes(skb, TCP_SEQ_OFF(p), &old32, 4) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old32, seq, 4) ||
	    bpf_skb_store_bytes(skb, TCP_SEQ_OFF(p), &seq, 4, 0))
		return -1;
	if (bpf_skb_load_bytes(skb, TCP_ACK_OFF(p), &old32, 4) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old32, ack, 4) ||
	    bpf_skb_store_bytes(skb, TCP_ACK_OFF(p), &ack, 4, 0))
		return -1;
	if (bpf_skb_load_bytes(skb, TCP_FLAGS_OFF(p), &old16, 2) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old16, word, 2) ||
	    bpf_skb_store_bytes(skb, TCP_FLAGS_OFF(p), &word, 2, 0))
		return -1;
	return 0;
}

/*
 * A hand-off for a 4-tuple this host still holds in TIME_WAIT (it closed the
 * client's previous connection on that port first). The kernel will not adopt
 * a second socket for the tuple, and only a SYN ends a TIME_WAIT early. So two
 * copies go back into this interface's receive path:
 *   a SYN+FIN at the client's ISN: TIME_WAIT takes it as a new SYN and gives
 *     way at once; the listener then discards it (SYN+FIN), making nothing;
 *   the hand-off ACK itself, marked: now adopted like any other.
 * Payload and options ride along unchanged; only seq, ack and flags change in
 * the first. The original is dropped.
 */
static __always_inline int clear_time_wait(struct __sk_buff *skb, const struct l4 *p)
{
	const struct tcphdr *th = p->th;
	__be32 seq = th->seq, ack = th->ack_seq, isn = bpf_htonl(bpf_ntohl(th->seq) - 1);
	__be16 word = ((const __be16 *)th)[6];
	__be16 doff = word & bpf_htons(0xf000);
	__u32 ifindex = skb->ifindex;

	if (set_tcp(skb, p, isn, 0, doff | bpf_htons(LB_TH_SYN | LB_TH_FIN)) ||
	    bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS) ||
	    set_tcp(skb, p, seq, ack, word))
		return count(skb, LB_BE_DROP_TIME_WAIT, TC_ACT_SHOT);
	skb->mark = LB_REINJECT_MARK;
	if (bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS))
		return count(skb, LB_BE_DROP_TIME_WAIT, TC_ACT_SHOT);
	return count(skb, LB_BE_TIME_WAIT_CLEARED, TC_ACT_SHOT);
}

/*
 * The proof a hand-off ACK carries: its cookie (a connection's first request),
 * or the adopt option (a later request moving here from another backend,
 * headers/rebind.h). Fills @co with what the client's SYN offered; *@adopt says
 * which it was.
 */
static __always_inline bool handoff_proof(struct __sk_buff *skb, const struct l4 *p,
					  const __u8 *optbuf, const struct syn_options *so,
					  struct lb_cookie_opts *co, bool *adopt)
{
	struct lb_cookie_secret *secret;
	struct lb_cookie_tuple ct;
	__u32 key0 = 0, seq = bpf_ntohl(p->th->seq), ack = bpf_ntohl(p->th->ack_seq), off, arg, tag;
	__u64 tai_s = bpf_ktime_get_tai_ns() / LB_NS_PER_S;

	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	*adopt = false;
	if (!secret)
		return false;
	cookie_tuple_of(p, &ct);
	if (!lb_cookie_check(secret, &ct, seq - 1, ack - 1, tai_s, co))
		return true;
	if (!so->has_rebind || so->rebind_exid != LB_ADOPT_EXID)
		return false;
	off = so->rebind_off;
	arg = optbuf[idx64(off + 4)];
	tag = (__u32)optbuf[idx64(off + 8)] << 24 | (__u32)optbuf[idx64(off + 9)] << 16 |
	      (__u32)optbuf[idx64(off + 10)] << 8 | optbuf[idx64(off + 11)];
	if (lb_rebind_tag_check(secret, &ct, seq, ack, arg, LB_REBIND_TAG_ADOPT, tag, tai_s))
		return false;
	lb_cookie_decode_opts(arg, co);
	*adopt = true;
	return true;
}

static __noinline int backend_ingress_segment(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_tcp_req_attrs attrs = {};
	struct syn_options so = {};
	__u8 optbuf[64] = {};
	struct lb_cookie_opts co;
	struct lb_handoff_key conn;
	struct bpf_sock *skc;
	struct tcp_sock *tp;
	struct l4 p;
	__u32 optlen, state, first;
	bool valid, adopt;
	__u8 flags;
	int ret;

	if (parse(skb, &p))
		return count(skb, LB_BE_PASS_OTHER, TC_ACT_OK);
	if (!to_vip_service(&p))
		return not_for_vip(skb, &p);
	note_balancer(&p);
	flags = tcp_flags(p.th);
	/* Only an ACK can complete a hand-off; SYNs and RSTs are the kernel's business. */
	if ((flags & (LB_TH_SYN | LB_TH_RST)) || !(flags & LB_TH_ACK))
		return count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);

	tuple_of(&p, &tuple);
	skc = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return count(skb, LB_BE_PASS_NO_LISTENER, TC_ACT_OK);
	state = sk_state(skc);
	/* A connection's own segments: the common case, settled by one lookup. */
	if (state != BPF_TCP_LISTEN && state != BPF_TCP_TIME_WAIT) {
		bpf_sk_release(skc);
		return count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);
	}
	if (!from_balancer(p.eth)) {
		bpf_sk_release(skc);
		/* A cookie ACK straight from a client: never adopted, and dropped so the
		 * kernel's own syncookies can't be probed through it either. */
		return state == BPF_TCP_LISTEN ? count(skb, LB_BE_DROP_NOT_BALANCER, TC_ACT_SHOT)
					       : count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);
	}
	/* The ACK's options: the adopt option, and timestamps (the kernel needs both values). */
	if (tcp_options(skb, &p, optbuf, &optlen, &so)) {
		bpf_sk_release(skc);
		return count(skb, LB_BE_DROP_MALFORMED, TC_ACT_SHOT);
	}
	valid = handoff_proof(skb, &p, optbuf, &so, &co, &adopt);

	if (state == BPF_TCP_TIME_WAIT) {
		bpf_sk_release(skc);
		if (!valid)
			return count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);
		if (skb->mark == LB_REINJECT_MARK)
			return count(skb, LB_BE_DROP_TIME_WAIT, TC_ACT_SHOT);
		return clear_time_wait(skb, &p);
	}
	skb->mark = 0;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		goto drop_assign;
	if (!valid) {
		bpf_sk_release(skc);
		if (so.has_rebind && so.rebind_exid == LB_ADOPT_EXID)
			return count(skb, LB_BE_DROP_BAD_REBIND, TC_ACT_SHOT);
		return count(skb, LB_BE_DROP_BAD_COOKIE, TC_ACT_SHOT);
	}

	/* The connection the client was told about by the balancer's SYN/ACK. */
	attrs.mss = co.mss;
	attrs.wscale_ok = co.wscale != LB_COOKIE_WSCALE_NONE;
	attrs.snd_wscale = attrs.wscale_ok ? co.wscale : 0;
	attrs.rcv_wscale = attrs.wscale_ok ? cfg_wscale : 0;
	attrs.sack_ok = co.sack;
	attrs.ecn_ok = co.ecn;
	attrs.tstamp_ok = so.has_ts;
	attrs.rcv_tsval = so.tsval;
	attrs.rcv_tsecr = so.tsecr;
	/* The socket's ISN is the ACK's ack less one: its first answer starts at ack. */
	conn_of_client(&p, &conn);
	first = bpf_ntohl(p.th->ack_seq);

	ret = bpf_sk_assign_tcp_reqsk(skb, (struct sock *)tp, &attrs, sizeof(attrs));
	bpf_sk_release(skc);
	if (ret < 0)
		return count(skb, LB_BE_DROP_ASSIGN_FAILED, TC_ACT_SHOT);
	answers_begin(&conn, first);
	return count(skb, adopt ? LB_BE_REBIND_ADOPTED : LB_BE_ADOPTED, TC_ACT_OK);

drop_assign:
	bpf_sk_release(skc);
	return count(skb, LB_BE_DROP_ASSIGN_FAILED, TC_ACT_SHOT);
}

/*
 * A probe of the balancer's (headers/rebind.h) is answered first; everything
 * else goes on to backend_ingress_segment(). Two functions called in turn, so that
 * neither stack adds to the other's.
 */
SEC("tc")
int lb_backend_ingress(struct __sk_buff *skb)
{
	int ret = answer_probe(skb);

	return ret >= 0 ? ret : backend_ingress_segment(skb);
}

SEC("tc")
int lb_backend_egress(struct __sk_buff *skb)
{
	struct lb_handoff_key conn;
	struct l4 p;
	__u8 flags;

	note_answers(skb);
	if (parse(skb, &p) || !from_vip_service(&p))
		return count(skb, LB_BE_EGRESS_PASS, TC_ACT_OK);
	flags = tcp_flags(p.th);
	/*
	 * Every connection to the VIP is adopted from a cookie; this host never
	 * answers a SYN for it itself (the TIME_WAIT-clearing SYN that ingress re-injects).
	 */
	if ((flags & (LB_TH_SYN | LB_TH_ACK)) == (LB_TH_SYN | LB_TH_ACK))
		return count(skb, LB_BE_EGRESS_SYNACK_DROPPED, TC_ACT_SHOT);
	if (!(flags & (LB_TH_FIN | LB_TH_RST)))
		return count(skb, LB_BE_EGRESS_PASS, TC_ACT_OK);
	/* Our own direct copy of a FIN with data, coming round again. */
	if (is_direct_copy(skb, &p))
		return count(skb, LB_BE_EGRESS_FIN_DIRECT, TC_ACT_OK);
	conn_of_server(&p, &conn);
	return divert_end(skb, balancer_for(&conn), flags, LB_BE_EGRESS_PASS, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "GPL";
