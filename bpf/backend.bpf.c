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

#define LB_BACKEND_RESUME /* the `resumed` storage (backend_common.h) */
#include "backend_common.h"

extern int bpf_sk_assign_tcp_reqsk(struct __sk_buff *skb, struct sock *sk,
				   struct bpf_tcp_req_attrs *attrs, int attrs__sz) __ksym;

/* The hand-off ACK, re-injected after its TIME_WAIT or stale socket was cleared, and that reset. */
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
 * A hand-off for a 4-tuple this host still has a socket for, which it can
 * neither adopt over nor take up again: TIME_WAIT (it closed the client's
 * previous connection on that port first), or a socket the connection left
 * here that is no longer idle (its server closed it meanwhile). Two copies go
 * back into this interface's receive path: first one that ends the old socket
 * (@seq, @ack and @word replace the segment's), then the hand-off ACK itself,
 * marked, which now finds only the listener and is adopted like any other.
 * Payload and options ride along unchanged; the original is dropped.
 */
static __always_inline int clear_then_adopt(struct __sk_buff *skb, const struct l4 *p, __be32 seq,
					    __be32 ack, __be16 word, enum lb_backend_reason done,
					    enum lb_backend_reason failed)
{
	const struct tcphdr *th = p->th;
	__be32 seq0 = th->seq, ack0 = th->ack_seq;
	__be16 word0 = ((const __be16 *)th)[6];
	__u32 ifindex = skb->ifindex;

	skb->mark = LB_REINJECT_MARK;
	if (set_tcp(skb, p, seq, ack, word) || bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS) ||
	    set_tcp(skb, p, seq0, ack0, word0))
		return count(skb, failed, TC_ACT_SHOT);
	if (bpf_clone_redirect(skb, ifindex, BPF_F_INGRESS))
		return count(skb, failed, TC_ACT_SHOT);
	return count(skb, done, TC_ACT_SHOT);
}

/*
 * TIME_WAIT: only a SYN ends it early. A SYN+FIN at the client's ISN: TIME_WAIT
 * takes it as a new SYN and gives way at once; the listener then discards it
 * (SYN+FIN), making nothing.
 */
static __always_inline int clear_time_wait(struct __sk_buff *skb, const struct l4 *p)
{
	__be16 doff = ((const __be16 *)p->th)[6] & bpf_htons(0xf000);

	return clear_then_adopt(skb, p, bpf_htonl(bpf_ntohl(p->th->seq) - 1), 0,
				doff | bpf_htons(LB_TH_SYN | LB_TH_FIN), LB_BE_TIME_WAIT_CLEARED,
				LB_BE_DROP_TIME_WAIT);
}

/* ---- sockets left here and taken up again (docs/parked-sockets.md) -------- */

/* Our option, when the dispatcher put one last in the segment (adopt, retire): its ExID, else 0. */
static __always_inline __u16 last_option(struct __sk_buff *skb, const struct l4 *p,
					 struct lb_rebind_opt *o)
{
	__u32 thl = p->th->doff * 4;

	if (thl < sizeof(struct tcphdr) + LB_REBIND_OPT_LEN ||
	    bpf_skb_load_bytes(skb, p->off + thl - LB_REBIND_OPT_LEN, o, sizeof(*o)) ||
	    o->kind != LB_REBIND_OPT_KIND || o->len != LB_REBIND_OPT_LEN)
		return 0;
	return bpf_ntohs(o->exid);
}

/* Is @o's tag the balancer's, for this segment's tuple and numbers, in @domain? */
static __always_inline bool tag_valid(const struct l4 *p, const struct lb_rebind_opt *o,
				      __u32 domain)
{
	struct lb_cookie_secret *secret;
	struct lb_cookie_tuple ct;
	__u32 key0 = 0;

	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	if (!secret)
		return false;
	cookie_tuple_of(p, &ct);
	return !lb_rebind_tag_check(secret, &ct, bpf_ntohl(p->th->seq), bpf_ntohl(p->th->ack_seq),
				    o->arg, domain, bpf_ntohl(o->val),
				    bpf_ktime_get_tai_ns() / LB_NS_PER_S);
}

/*
 * The balancer's retire (headers/rebind.h): the RST goes on at the socket's
 * own next expected byte, which the kernel takes at once and answers with
 * nothing. Releases @skc.
 */
static __always_inline int retire(struct __sk_buff *skb, const struct l4 *p, struct bpf_sock *skc,
				  const struct lb_rebind_opt *o)
{
	struct tcp_sock *tp;
	__be32 seq;

	if (!tag_valid(p, o, LB_REBIND_TAG_RETIRE)) {
		bpf_sk_release(skc);
		return count(skb, LB_BE_DROP_BAD_RETIRE, TC_ACT_SHOT);
	}
	tp = bpf_skc_to_tcp_sock(skc);
	seq = tp ? bpf_htonl(tp->rcv_nxt) : 0;
	bpf_sk_release(skc);
	if (!tp)
		return count(skb, LB_BE_RETIRE_NO_SOCKET, TC_ACT_SHOT);
	if (set32(skb, p, TCP_SEQ_OFF(p), p->th->seq, seq))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	return count(skb, LB_BE_PARKED_RETIRED, TC_ACT_OK);
}

/* Nothing in flight either way: every byte written acknowledged, every byte come read. */
static __always_inline bool socket_idle(const struct tcp_sock *tp)
{
	__u32 nxt = tp->snd_nxt;

	return tp->snd_una == nxt && tp->write_seq == nxt && tp->copied_seq == tp->rcv_nxt;
}

enum resume_result {
	RESUME_TAKEN,	 /* taken up again: *@r translates from now on */
	RESUME_ORDINARY, /* not a return: the hand-off that made this socket (or resumed it)
			  * sent again, a segment like any of its own */
	RESUME_STALE,	 /* a return to a socket that is not idle: reset it, adopt afresh */
	RESUME_FAILED,
};

/*
 * An adopt option for a tuple this host has a socket for. A return of the
 * connection to the socket it left here comes past every byte the socket has
 * had (other backends took the requests in between); the hand-off that made
 * or resumed the socket, sent again, does not. On a return to an idle socket
 * the deltas are where the client's numbers are now against where the
 * socket's stand. The timestamp delta needs the segment's TSecr, which
 * translate() reads: until then ts_delta holds the socket's clock now
 * (what its next TSval would be) and has_ts says so.
 */
static __always_inline enum resume_result resume(const struct l4 *p, struct bpf_sock *skc,
						  __u32 state, struct lb_resume **rp,
						  __u32 *rcv_nxt)
{
	__u32 seq = bpf_ntohl(p->th->seq), ack = bpf_ntohl(p->th->ack_seq);
	struct lb_resume *r = *rp;
	struct lb_handoff_key conn;
	struct tcp_sock *tp;

	if (r && r->at_seq == seq && r->at_ack == ack)
		return RESUME_ORDINARY;
	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return RESUME_FAILED;
	*rcv_nxt = tp->rcv_nxt;
	if ((__s32)(seq - (r ? r->seq_delta : 0) - tp->rcv_nxt) <= 0)
		return RESUME_ORDINARY;
	if (state != BPF_TCP_ESTABLISHED || !socket_idle(tp))
		return RESUME_STALE;
	r = bpf_sk_storage_get(&resumed, skc, 0, BPF_SK_STORAGE_GET_F_CREATE);
	if (!r)
		return RESUME_FAILED;
	*rp = r;
	r->seq_delta = seq - tp->rcv_nxt;
	r->ack_delta = ack - tp->snd_nxt;
	r->ts_delta = (__u32)(bpf_ktime_get_ns() / (LB_NS_PER_S / 1000)) + tp->tsoffset;
	r->has_ts = LB_RESUME_TS_PENDING;
	r->at_seq = seq;
	r->at_ack = ack;
	conn_of_client(p, &conn);
	answers_begin(&conn, tp->snd_nxt);
	return RESUME_TAKEN;
}

/* How far behind the socket's next expected byte a segment of its own may be (retransmissions). */
#define OWN_SEGMENT_BEHIND (1U << 20)

/*
 * A segment the socket would not take (its seq, in the socket's numbers,
 * neither a retransmission nor in its window) that carries a valid cookie: a
 * new connection on the same ports, which the socket an earlier one left
 * here (parked, its retire not come yet) stands in the way of. *@rcv_nxt
 * gets where a RST ends that socket.
 */
static __always_inline bool reused_ports(const struct l4 *p, struct bpf_sock *skc,
					 const struct lb_resume *r, __u32 *rcv_nxt)
{
	__u32 seq = bpf_ntohl(p->th->seq), ack = bpf_ntohl(p->th->ack_seq), key0 = 0, off;
	struct lb_cookie_secret *secret;
	struct lb_cookie_tuple ct;
	struct lb_cookie_opts co;
	struct tcp_sock *tp;

	tp = bpf_skc_to_tcp_sock(skc);
	if (!tp)
		return false;
	off = seq - (r ? r->seq_delta : 0) - tp->rcv_nxt;
	if (off <= tp->rcv_wnd || -off <= OWN_SEGMENT_BEHIND)
		return false;
	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	if (!secret)
		return false;
	cookie_tuple_of(p, &ct);
	if (lb_cookie_check(secret, &ct, seq - 1, ack - 1, bpf_ktime_get_tai_ns() / LB_NS_PER_S,
			    &co))
		return false;
	*rcv_nxt = tp->rcv_nxt;
	return true;
}

/* Reset the socket at @rcv_nxt, then adopt the segment afresh (clear_then_adopt). */
static __always_inline int reset_then_adopt(struct __sk_buff *skb, const struct l4 *p, __u32 rcv_nxt)
{
	__be16 doff = ((const __be16 *)p->th)[6] & bpf_htons(0xf000);

	return clear_then_adopt(skb, p, bpf_htonl(rcv_nxt), 0, doff | bpf_htons(LB_TH_RST),
				LB_BE_STALE_RESET, LB_BE_DROP_STALE);
}

/*
 * A segment of a resumed socket translated: into the socket's numbers (@in,
 * a client's segment: seq, ack, SACK edges, TSecr) or into the client's (the
 * socket's own: seq, ack, SACK edges, TSval). The SACK edges go with the ack
 * either way. A client's first segment after the resume completes the
 * timestamp delta from its TSecr. Counted; 0, or -1 (drop it). A function of
 * its own: its option buffers stay off the callers' stacks.
 */
static __noinline int translate(struct __sk_buff *skb, struct lb_resume *r, bool in)
{
	struct syn_options so = {};
	__u8 old[64] = {}, buf[64] = {};
	__u32 optlen, off, k, d_seq, d_ack, d_ts, ts_at;
	__be32 seq, ack;
	struct l4 p;
	__u8 flags;

	if (!skb || !r || parse(skb, &p))
		return count(skb, LB_BE_DROP_MALFORMED, -1);
	flags = tcp_flags(p.th);
	seq = p.th->seq; /* the rewrites below leave packet pointers stale */
	ack = p.th->ack_seq;
	if (tcp_options(skb, &p, old, &optlen, &so))
		return count(skb, LB_BE_DROP_MALFORMED, -1);
	if (in && r->has_ts == LB_RESUME_TS_PENDING) {
		/* The socket's TSvals go on from the latest the client has seen. */
		r->ts_delta = so.has_ts ? so.tsecr - r->ts_delta : 0;
		r->has_ts = so.has_ts;
	}
	/* Added to the segment's numbers; unsigned, so "less" is the negation. */
	d_seq = in ? -r->seq_delta : r->ack_delta;
	d_ack = in ? -r->ack_delta : r->seq_delta;
	d_ts = in ? -r->ts_delta : r->ts_delta;
	ts_at = in ? so.ts_off + 6 : so.ts_off + 2; /* TSecr in, TSval out */
	if (!(so.has_ts && r->has_ts == 1) && !so.sack_blocks)
		optlen = 0;
	__builtin_memcpy(buf, old, sizeof(buf));
	if (so.has_ts && r->has_ts == 1)
		opt_wr32(buf, ts_at, opt_rd32(buf, ts_at) + d_ts);
	for (k = 0; k < 4; k++) {
		if (k >= so.sack_blocks)
			break;
		off = so.sack_off + 2 + k * 8;
		opt_wr32(buf, off, opt_rd32(buf, off) + d_ack);
		opt_wr32(buf, off + 4, opt_rd32(buf, off + 4) + d_ack);
	}
	if (set32(skb, &p, TCP_SEQ_OFF(&p), seq, bpf_htonl(bpf_ntohl(seq) + d_seq)) ||
	    ((flags & LB_TH_ACK) &&
	     set32(skb, &p, TCP_ACK_OFF(&p), ack, bpf_htonl(bpf_ntohl(ack) + d_ack))) ||
	    set_options(skb, &p, old, buf, optlen))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, -1);
	return count(skb, in ? LB_BE_RESUME_IN : LB_BE_RESUME_OUT, 0);
}

/* A client's segment for a resumed socket, into its numbers: the verdict. */
static __always_inline int translate_in(struct __sk_buff *skb, struct lb_resume *r)
{
	return translate(skb, r, true) ? TC_ACT_SHOT : TC_ACT_OK;
}

/*
 * Ingress, a segment for a socket this host has (not a listener, not
 * TIME_WAIT): the balancer's retire, a connection coming back to the socket it
 * left here, a new connection's first request on ports that socket still
 * holds, a segment of a resumed socket to translate, or (most often) a
 * connection's own segment to pass. -1: no such socket, backend_ingress_segment()
 * decides.
 */
static __noinline int ingress_existing(struct __sk_buff *skb)
{
	struct bpf_sock_tuple tuple = {};
	struct lb_rebind_opt o = {};
	struct lb_resume *r;
	struct bpf_sock *skc;
	__u32 state, rcv_nxt = 0;
	enum resume_result res;
	__u16 exid = 0;
	struct l4 p;
	__u8 flags;

	if (!skb || parse(skb, &p) || !to_vip_service(&p))
		return -1;
	flags = tcp_flags(p.th);
	if (flags & LB_TH_SYN)
		return -1;
	tuple_of(&p, &tuple);
	skc = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return -1;
	state = sk_state(skc);
	if (from_balancer(p.eth))
		exid = last_option(skb, &p, &o);
	if ((flags & LB_TH_RST) && exid == LB_RETIRE_EXID) {
		if (state != BPF_TCP_LISTEN && state != BPF_TCP_TIME_WAIT)
			return retire(skb, &p, skc, &o);
		bpf_sk_release(skc);
		return count(skb, LB_BE_RETIRE_NO_SOCKET, TC_ACT_SHOT);
	}
	if (state == BPF_TCP_LISTEN || state == BPF_TCP_TIME_WAIT) {
		bpf_sk_release(skc);
		return -1;
	}
	note_balancer(&p);
	/* Our own reset of a stale socket, or the hand-off after it finding the socket still there. */
	if (skb->mark == LB_REINJECT_MARK) {
		bpf_sk_release(skc);
		return (flags & LB_TH_RST) ? count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK)
					   : count(skb, LB_BE_DROP_STALE, TC_ACT_SHOT);
	}
	r = bpf_sk_storage_get(&resumed, skc, 0, 0);
	if (exid == LB_ADOPT_EXID && (flags & (LB_TH_ACK | LB_TH_RST)) == LB_TH_ACK) {
		if (!tag_valid(&p, &o, LB_REBIND_TAG_ADOPT)) {
			bpf_sk_release(skc);
			return count(skb, LB_BE_DROP_BAD_REBIND, TC_ACT_SHOT);
		}
		res = resume(&p, skc, state, &r, &rcv_nxt);
		bpf_sk_release(skc);
		if (res == RESUME_STALE)
			return reset_then_adopt(skb, &p, rcv_nxt);
		if (res == RESUME_FAILED)
			return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
		if (res == RESUME_TAKEN)
			count(skb, LB_BE_RESUMED, TC_ACT_OK);
		if (!r)
			return count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);
		return translate_in(skb, r);
	}
	if ((flags & (LB_TH_ACK | LB_TH_RST)) == LB_TH_ACK && reused_ports(&p, skc, r, &rcv_nxt)) {
		bpf_sk_release(skc);
		return reset_then_adopt(skb, &p, rcv_nxt);
	}
	bpf_sk_release(skc);
	if (!r)
		return count(skb, LB_BE_PASS_SOCKET, TC_ACT_OK);
	return translate_in(skb, r);
}

/* Egress, a resumed socket's segment into the client's numbers; not a socket's: as it is. */
static __always_inline int translate_out(struct __sk_buff *skb)
{
	struct bpf_sock *sk = skb->sk;
	struct lb_resume *r;

	if (sk)
		sk = bpf_sk_fullsock(sk);
	if (!sk)
		return 0;
	r = bpf_sk_storage_get(&resumed, sk, 0, 0);
	return r ? translate(skb, r, false) : 0;
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

	if (ret < 0)
		ret = ingress_existing(skb);
	return ret >= 0 ? ret : backend_ingress_segment(skb);
}

SEC("tc")
int lb_backend_egress(struct __sk_buff *skb)
{
	struct lb_handoff_key conn;
	struct l4 p;
	__u8 flags;

	note_answers(skb); /* before translation: in the socket's numbers */
	if (parse(skb, &p) || !from_vip_service(&p))
		return count(skb, LB_BE_EGRESS_PASS, TC_ACT_OK);
	flags = tcp_flags(p.th);
	/*
	 * Every connection to the VIP is adopted from a cookie; this host never
	 * answers a SYN for it itself (the TIME_WAIT-clearing SYN that ingress re-injects).
	 */
	if ((flags & (LB_TH_SYN | LB_TH_ACK)) == (LB_TH_SYN | LB_TH_ACK))
		return count(skb, LB_BE_EGRESS_SYNACK_DROPPED, TC_ACT_SHOT);
	/* Our own direct copy of a FIN with data, coming round again, translated already. */
	if ((flags & LB_TH_FIN) && is_direct_copy(skb, &p))
		return count(skb, LB_BE_EGRESS_FIN_DIRECT, TC_ACT_OK);
	if (translate_out(skb) < 0)
		return TC_ACT_SHOT;
	if (!(flags & (LB_TH_FIN | LB_TH_RST)))
		return count(skb, LB_BE_EGRESS_PASS, TC_ACT_OK);
	/* Translated: packet pointers are stale, the tuple is not. */
	if (parse(skb, &p))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	conn_of_server(&p, &conn);
	return divert_end(skb, balancer_for(&conn), flags, LB_BE_EGRESS_PASS, TC_ACT_OK);
}

char LICENSE[] SEC("license") = "GPL";
