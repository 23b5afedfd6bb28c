/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the backend's two TC objects share: cookie mode (backend.bpf.c) and
 * replay mode (backend_replay.bpf.c). Each object includes this once, so each
 * gets its own copy of the load-time settings and of the `stats` map; `latebind
 * backend attach` loads one or the other, never both.
 */
#ifndef LATEBIND_BPF_BACKEND_COMMON_H
#define LATEBIND_BPF_BACKEND_COMMON_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "answer_head.h"
#include "backend_maps.h"
#include "consts.h"
#include "cookie.h"
#include "cookie_map.h"
#include "fin_notice.h"
#include "parse.h"
#include "rebind.h"
#include "stats.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* Set by `latebind backend attach` before load. */
const volatile __be32 cfg_vip_addr;
const volatile __be16 cfg_vip_port;
const volatile __u8 cfg_balancer_macs[LB_MAX_BALANCERS][ETH_ALEN];
const volatile __u32 cfg_balancers = 1; /* how many of cfg_balancer_macs are set */
const volatile __u8 cfg_wscale = LB_DEFAULT_WSCALE; /* the balancer's handoff.wscale */

/*
 * Several balancers only: connection (client → VIP) → index in
 * cfg_balancer_macs of the balancer that last forwarded one of its packets
 * here. Written by the ingress programs when that changes, read by the egress
 * programs for where a diverted segment goes (headers/backend_maps.h). With
 * one balancer nothing touches it and attach sizes it at one entry. Not
 * deleted at a close: a FIN or RST sent again needs the same answer, and the
 * LRU reclaims idle entries (docs/maps.md, `balancer_of`).
 */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_BALANCER_OF_MAX);
	__type(key, struct lb_handoff_key);
	__type(value, __u32);
} balancer_of SEC(".maps");

/* enum lb_backend_reason → packets and bytes, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_BE_REASON_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
} stats SEC(".maps");

/* connection → where its HTTP answers end (headers/backend_maps.h, `answers`). */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_ANSWERS_MAX);
	__type(key, struct lb_handoff_key);
	__type(value, struct lb_answer_track);
} answers SEC(".maps");

#ifdef LB_BACKEND_RESUME
/* Cookie mode: socket → its translation since it was taken up again (struct lb_resume). */
struct {
	__uint(type, BPF_MAP_TYPE_SK_STORAGE);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, int);
	__type(value, struct lb_resume);
} resumed SEC(".maps");
#endif

/* One per CPU: the answer head being read, too big for the stack. */
struct answer_buf {
	__u8 b[LB_ANSWER_HEAD_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct answer_buf);
} answer_buf SEC(".maps");

static __always_inline int count(struct __sk_buff *skb, enum lb_backend_reason reason, int action)
{
	__u32 key = reason;
	struct lb_counter *c = bpf_map_lookup_elem(&stats, &key);

	if (c) {
		c->packets++;
		c->bytes += skb->len;
	}
	return action;
}

/* Ethernet, IPv4 with the most options, TCP with the most options. */
#define LINEAR_HEADERS (sizeof(struct ethhdr) + 60 + 60)

struct l4 {
	struct ethhdr *eth;
	struct iphdr *iph;
	struct tcphdr *th;
	__u32 off; /* of the TCP header in the frame: IP options move it */
};

/*
 * IPv4/TCP, IP options allowed, headers in the linear part. Not a fragment
 * after the first: what sits where its TCP header would is payload.
 */
static __always_inline int parse(struct __sk_buff *skb, struct l4 *p)
{
	struct cursor c;
	__u32 ihl;

	/*
	 * Headers may sit in fragments: make eth + IP + TCP with options linear.
	 * Unconditionally: a conditional pull makes clang merge two ctx loads into
	 * one with a computed offset, which the verifier refuses.
	 */
	bpf_skb_pull_data(skb, skb->len < LINEAR_HEADERS ? skb->len : LINEAR_HEADERS);
	c.pos = (void *)(long)skb->data;
	c.end = (void *)(long)skb->data_end;
	p->eth = parse_eth(&c);
	if (!p->eth || p->eth->h_proto != bpf_htons(ETH_P_IP))
		return -1;
	p->iph = parse_ipv4_fixed(&c);
	if (!p->iph || p->iph->protocol != IPPROTO_TCP || p->iph->ihl < 5 ||
	    (p->iph->frag_off & bpf_htons(IP_OFFSET)))
		return -1;
	ihl = p->iph->ihl * 4;
	c.pos = (void *)p->iph + ihl;
	p->th = parse_tcp_fixed(&c);
	if (!p->th || p->th->doff < 5)
		return -1;
	/*
	 * Headers longer than the IP packet says it is: not a segment we could
	 * rewrite consistently (its checksum covers tot_len). 0 is BIG TCP's
	 * GSO packet over 64 KiB, whose length is the skb's.
	 */
	if (p->iph->tot_len && bpf_ntohs(p->iph->tot_len) < ihl + p->th->doff * 4)
		return -1;
	p->off = sizeof(struct ethhdr) + ihl;
	return 0;
}

/* The TCP payload's bytes (BIG TCP's GSO packets, tot_len 0, have the skb's). */
static __always_inline __u32 payload_len(struct __sk_buff *skb, const struct l4 *p)
{
	__u32 hl = p->off + p->th->doff * 4;

	if (p->iph->tot_len)
		return sizeof(struct ethhdr) + bpf_ntohs(p->iph->tot_len) - hl; /* parse() vouched */
	return skb->len > hl ? skb->len - hl : 0;
}

/* Offsets of TCP fields in the frame. */
#define TCP_SEQ_OFF(p)	 ((p)->off + offsetof(struct tcphdr, seq))
#define TCP_ACK_OFF(p)	 ((p)->off + offsetof(struct tcphdr, ack_seq))
#define TCP_FLAGS_OFF(p) ((p)->off + 12) /* the 16-bit word of doff and flags */
#define TCP_WIN_OFF(p)	 ((p)->off + offsetof(struct tcphdr, window))
#define TCP_CSUM_OFF(p)	 ((p)->off + offsetof(struct tcphdr, check))
#define TCP_OPT_OFF(p)	 ((p)->off + sizeof(struct tcphdr))

/* Offsets of IPv4 fields in the frame. */
#define IP_TOT_LEN_OFF (sizeof(struct ethhdr) + offsetof(struct iphdr, tot_len))
#define IP_FRAG_OFF    (sizeof(struct ethhdr) + offsetof(struct iphdr, frag_off))
#define IP_CSUM_OFF    (sizeof(struct ethhdr) + offsetof(struct iphdr, check))

/*
 * The TCP options, copied into @buf (64 bytes, zeroed by the caller) and
 * parsed. *@len gets their length. -1 when they are malformed.
 */
static __always_inline int tcp_options(struct __sk_buff *skb, const struct l4 *p, __u8 *buf,
				       __u32 *len, struct syn_options *o)
{
	__u32 optlen = p->th->doff * 4 - sizeof(struct tcphdr);

	if (optlen > LB_TCP_MAX_OPTLEN)
		return -1;
	*len = optlen;
	if (!optlen)
		return 0;
	if (bpf_skb_load_bytes(skb, TCP_OPT_OFF(p), buf, optlen))
		return -1;
	return parse_syn_options(buf, optlen, o);
}

/* Big-endian 32-bit words at any byte offset of a 64-byte option buffer. */
static __always_inline __u32 opt_rd32(const __u8 *b, __u32 off)
{
	return (__u32)b[idx64(off)] << 24 | (__u32)b[idx64(off + 1)] << 16 |
	       (__u32)b[idx64(off + 2)] << 8 | b[idx64(off + 3)];
}

static __always_inline void opt_wr32(__u8 *b, __u32 off, __u32 v)
{
	b[idx64(off)] = v >> 24;
	b[idx64(off + 1)] = v >> 16;
	b[idx64(off + 2)] = v >> 8;
	b[idx64(off + 3)] = v;
}

/* Replace an aligned 32-bit header field, checksum first. */
static __always_inline int set32(struct __sk_buff *skb, const struct l4 *p, __u32 off, __be32 old,
				 __be32 new)
{
	if (old == new)
		return 0;
	if (bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old, new, 4))
		return -1;
	return bpf_skb_store_bytes(skb, off, &new, 4, 0);
}

/*
 * Write back the option bytes edited in @new (@old as they were). The fields
 * sit at any byte offset, so the checksum takes the difference over the whole
 * option area, which is 4-byte aligned in the header like its length.
 */
static __always_inline int set_options(struct __sk_buff *skb, const struct l4 *p, __u8 *old,
				       __u8 *new, __u32 optlen)
{
	__s64 diff;

	optlen = idx64(optlen);
	if (!optlen)
		return 0;
	diff = bpf_csum_diff((__be32 *)old, optlen, (__be32 *)new, optlen, 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), 0, (__u32)diff, 0))
		return -1;
	return bpf_skb_store_bytes(skb, TCP_OPT_OFF(p), new, optlen, 0);
}

/*
 * skc->state, loaded with a constant offset: left to itself clang merges the
 * loads of several branches into one with a computed offset, and the verifier
 * refuses pointer arithmetic on a socket.
 */
static __always_inline __u32 sk_state(struct bpf_sock *skc)
{
	__u32 state;

	asm volatile("%0 = *(u32 *)(%1 + %2)"
		     : "=r"(state)
		     : "r"(skc), "i"(__builtin_offsetof(struct bpf_sock, state)));
	return state;
}

/* A segment to the VIP service (ingress view) or from it (egress view). */
static __always_inline bool to_vip_service(const struct l4 *p)
{
	return p->iph->daddr == cfg_vip_addr && p->th->dest == cfg_vip_port;
}

static __always_inline bool from_vip_service(const struct l4 *p)
{
	return p->iph->saddr == cfg_vip_addr && p->th->source == cfg_vip_port;
}

/* Which configured balancer MAC sent the frame: its index, or -1. */
static __always_inline int balancer_index(const struct ethhdr *eth)
{
	__u32 b;
	int i;

	for (b = 0; b < LB_MAX_BALANCERS && b < cfg_balancers; b++) {
		for (i = 0; i < ETH_ALEN; i++)
			if (eth->h_source[i] != cfg_balancer_macs[b][i])
				break;
		if (i == ETH_ALEN)
			return b;
	}
	return -1;
}

static __always_inline bool from_balancer(const struct ethhdr *eth)
{
	return balancer_index(eth) >= 0;
}

static __always_inline void conn_of_client(const struct l4 *p, struct lb_handoff_key *k)
{
	k->caddr = p->iph->saddr;
	k->vaddr = p->iph->daddr;
	k->cport = p->th->source;
	k->vport = p->th->dest;
}

static __always_inline void conn_of_server(const struct l4 *p, struct lb_handoff_key *k)
{
	k->caddr = p->iph->daddr;
	k->vaddr = p->iph->saddr;
	k->cport = p->th->dest;
	k->vport = p->th->source;
}

/*
 * Ingress, a segment to the VIP service: remember which balancer sent it, so
 * that the connection's diverted segments go back to one that knows it (after
 * an ECMP rehash or a balancer's death, the one the client's packets now come
 * through). A lookup per packet, a write only when the balancer changes; with
 * one balancer, nothing (the branch is on a load-time constant).
 */
static __always_inline void note_balancer(const struct l4 *p)
{
	struct lb_handoff_key k;
	__u32 *seen, b;
	int idx;

	if (cfg_balancers < 2)
		return;
	idx = balancer_index(p->eth);
	if (idx < 0)
		return;
	b = idx;
	conn_of_client(p, &k);
	seen = bpf_map_lookup_elem(&balancer_of, &k);
	if (!seen)
		bpf_map_update_elem(&balancer_of, &k, &b, BPF_ANY);
	else if (*seen != b)
		*seen = b;
}

/*
 * The balancer a diverted segment of connection @k goes to: the one that last
 * forwarded its packets here, else the 4-tuple's hash choice. 0 with one.
 */
static __always_inline __u32 balancer_for(const struct lb_handoff_key *k)
{
	__u32 *seen;

	if (cfg_balancers < 2)
		return 0;
	seen = bpf_map_lookup_elem(&balancer_of, k);
	if (seen && *seen < cfg_balancers)
		return *seen;
	return lb_balancer_pick(k, cfg_balancers);
}

/* Send the frame to balancer @b instead: only the destination MAC changes. */
static __always_inline int to_balancer(struct __sk_buff *skb, __u32 b)
{
	__u8 mac[ETH_ALEN];
	int i;

	if (b >= LB_MAX_BALANCERS)
		b = 0;
	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = cfg_balancer_macs[b][i];
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), mac, ETH_ALEN, 0);
}

/*
 * The direct copy of a FIN segment being sent (split_fin): bpf_clone_redirect
 * hands the clone to this interface's egress path, which runs our egress
 * program on it again, synchronously, inside the helper call, on this CPU (TC
 * egress runs with bottom halves off, so nothing else runs our program here
 * meanwhile). The entry says "the next segment like this one is that copy: let
 * it pass". A per-CPU record instead of skb->mark: the mark is the operator's
 * (SO_MARK, fwmark rules, qdisc filters) and a value of ours could both clobber
 * theirs and be forged by them.
 */
struct direct_copy {
	__u32 armed;
	__u32 len; /* skb->len */
	__be32 seq;
	__be32 daddr;
	__be16 dport;
	__u16 pad;
};

/* One slot per CPU: the copy in flight (see struct direct_copy). Only the egress programs use it. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct direct_copy);
} direct_copy SEC(".maps");

/* The copy split_fin() is sending right now, if this is it: its record, else NULL. */
static __always_inline struct direct_copy *direct_copy_due(struct __sk_buff *skb,
							   const struct l4 *p)
{
	struct direct_copy *d;
	__u32 key0 = 0;

	d = bpf_map_lookup_elem(&direct_copy, &key0);
	if (!d || !d->armed || d->len != skb->len || d->seq != p->th->seq ||
	    d->daddr != p->iph->daddr || d->dport != p->th->dest)
		return NULL;
	return d;
}

/* Is this the copy split_fin() is sending right now? It then leaves untouched. */
static __always_inline bool is_direct_copy(struct __sk_buff *skb, const struct l4 *p)
{
	struct direct_copy *d = direct_copy_due(skb, p);

	if (!d)
		return false;
	d->armed = 0;
	return true;
}

/* Payload is summed in chunks of this many bytes, on the stack. */
#define NOTICE_CHUNK 128

/*
 * A FIN segment that carries data (nginx puts its last response bytes and the
 * FIN in one segment): the segment goes out unchanged to its normal next hop,
 * and this skb becomes the header-only notice of headers/fin_notice.h, still to
 * be sent to the balancer by the caller. The fields are read before anything
 * moves: packet pointers are stale after the clone.
 *
 * 1: not split, nothing changed (no payload, a GSO packet, too much payload,
 *    the clone failed): the caller diverts the segment whole.
 * 0: split; -1: split, but the notice could not be made (drop it).
 *
 * Checksums, whether the TCP one is complete (CHECKSUM_NONE: test runs, some
 * forwarded traffic) or only the pseudo-header's sum the device or
 * skb_checksum_help() completes later (CHECKSUM_PARTIAL: every segment of a
 * local TCP socket): bpf_l4_csum_replace acts on the field as skb->ip_summed
 * needs. The payload's and seq's changes are plain (nothing to do for
 * CHECKSUM_PARTIAL), the TCP length's is BPF_F_PSEUDO_HDR (it is in the
 * pseudo-header, so it changes the field either way).
 *
 * GSO packets stay whole: their FIN is on the last segment the kernel cuts
 * after us, the payload (up to 64 KiB) is too much to sum here, and a trimmed
 * skb would still claim a gso_size. Small responses, the ones this is for,
 * are never GSO; a large response's last GSO packet is a small share of it.
 */
static __always_inline int split_fin(struct __sk_buff *skb, const struct l4 *p)
{
	__u32 ihl = p->iph->ihl * 4, thl = p->th->doff * 4, ip_len = bpf_ntohs(p->iph->tot_len);
	__u32 csum_off = TCP_CSUM_OFF(p), pay_off = p->off + thl, key0 = 0, payload, done, n, i;
	__be16 old_len = p->iph->tot_len, new_len, old_frag = p->iph->frag_off, new_frag;
	__be32 seq = p->th->seq, new_seq;
	__u8 buf[NOTICE_CHUNK + 4];
	struct direct_copy *d;
	__s64 sum = 0;
	int ret;

	/* tot_len 0 is BIG TCP's GSO packet; parse() vouched for ip_len >= ihl + thl. */
	if (!ip_len || skb->gso_size || skb->len < sizeof(struct ethhdr) + ip_len)
		return 1;
	payload = ip_len - ihl - thl;
	if (!payload || payload > LB_FIN_NOTICE_MAX_PAYLOAD)
		return 1;

	/* The sum of the payload, negated: what the notice's checksum loses. */
	for (i = 0; i < LB_FIN_NOTICE_MAX_PAYLOAD / NOTICE_CHUNK; i++) {
		done = i * NOTICE_CHUNK;
		if (done >= payload)
			break;
		n = payload - done;
		if (n > NOTICE_CHUNK)
			n = NOTICE_CHUNK;
		else
			__builtin_memset(buf, 0, sizeof(buf)); /* the odd tail sums as zero padding */
		if (!n || bpf_skb_load_bytes(skb, pay_off + done, buf, n))
			return 1;
		/* Chunks start at even offsets of the segment, so their words line up. */
		sum = bpf_csum_diff((__be32 *)buf, (n + 3) & ~3U, NULL, 0, (__u32)sum);
		if (sum < 0)
			return 1;
	}

	d = bpf_map_lookup_elem(&direct_copy, &key0);
	if (!d)
		return 1;
	d->len = skb->len;
	d->seq = seq;
	d->daddr = p->iph->daddr;
	d->dport = p->th->dest;
	d->armed = 1;
	/* Out of the same interface, egress, headers and next hop as the stack made them. */
	ret = bpf_clone_redirect(skb, skb->ifindex, 0);
	d->armed = 0;
	/* < 0: no clone went out; > 0: a qdisc dropped it, a loss TCP repairs. */
	if (ret < 0)
		return 1;

	new_seq = bpf_htonl(bpf_ntohl(seq) + payload);
	new_len = bpf_htons(ihl + thl);
	new_frag = old_frag | bpf_htons(LB_FIN_NOTICE_IP_FLAG);
	if (bpf_l4_csum_replace(skb, csum_off, 0, (__u32)sum, 0) ||
	    bpf_l4_csum_replace(skb, csum_off, bpf_htons(thl + payload), bpf_htons(thl),
				BPF_F_PSEUDO_HDR | 2) ||
	    bpf_l4_csum_replace(skb, csum_off, seq, new_seq, 4) ||
	    bpf_skb_store_bytes(skb, TCP_SEQ_OFF(p), &new_seq, 4, 0) ||
	    bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_len, new_len, 2) ||
	    bpf_skb_store_bytes(skb, IP_TOT_LEN_OFF, &new_len, 2, 0) ||
	    bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_frag, new_frag, 2) ||
	    bpf_skb_store_bytes(skb, IP_FRAG_OFF, &new_frag, 2, 0) ||
	    bpf_skb_change_tail(skb, sizeof(struct ethhdr) + ihl + thl, 0))
		return -1;
	return 0;
}

/*
 * A FIN or RST of the VIP service, to balancer @b (balancer_for()) so it sees
 * the connection end: whole, or (a FIN with data) split into a direct copy and
 * a notice. Returns the verdict, counted; @fail_reason and @fail_action are
 * the caller's for a segment whose MAC could not be rewritten. A function of
 * its own: split_fin's buffer would otherwise sit in every caller's stack.
 */
static __noinline int divert_end(struct __sk_buff *skb, __u32 b, __u8 flags,
				      enum lb_backend_reason fail_reason, int fail_action)
{
	struct l4 q;
	int split = 1;

	/* Parsed again: a caller that translated has stale packet pointers. */
	if (!(flags & LB_TH_RST) && !parse(skb, &q))
		split = split_fin(skb, &q);
	if (split < 0)
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	if (to_balancer(skb, b)) {
		/* A notice is for the balancer only: its data went out already. */
		if (!split)
			return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
		return count(skb, fail_reason, fail_action);
	}
	return count(skb, split ? LB_BE_EGRESS_DIVERTED : LB_BE_EGRESS_FIN_NOTICE, TC_ACT_OK);
}

static __always_inline void tuple_of(const struct l4 *p, struct bpf_sock_tuple *t)
{
	t->ipv4.saddr = p->iph->saddr;
	t->ipv4.daddr = p->iph->daddr;
	t->ipv4.sport = p->th->source;
	t->ipv4.dport = p->th->dest;
}

static __always_inline void cookie_tuple_of(const struct l4 *p, struct lb_cookie_tuple *t)
{
	t->caddr = p->iph->saddr;
	t->vaddr = p->iph->daddr;
	t->cport = p->th->source;
	t->vport = p->th->dest;
}

/* ---- where answers end (docs/packet-walk.md §5a) ---------------------------- */

/* Heads read in one segment at most: small answers written together. */
#define ANSWER_HEADS_PER_SEGMENT 4

/*
 * A hand-off made this host's socket for connection @k: its first answer
 * starts at @first, in the socket's numbers. Whatever an earlier connection on
 * the same ports left is replaced.
 */
static __always_inline void answers_begin(const struct lb_handoff_key *k, __u32 first)
{
	struct lb_answer_track t = { .next = first, .start = first, .end = first };

	bpf_map_update_elem(&answers, k, &t, BPF_ANY);
}

struct head_feed {
	const __u8 *b;
	__u32 len;
	struct lb_answer_scan s;
};

/*
 * Bytes fed per bpf_loop() call: a call costs about as much as scanning a few
 * bytes, and a head is hundreds of bytes long.
 */
#define ANSWER_SCAN_CHUNK 16

static long answer_head_step(__u32 i, void *arg)
{
	struct head_feed *h = arg;
	__u32 j, at;

	for (j = 0; j < ANSWER_SCAN_CHUNK; j++) {
		at = i * ANSWER_SCAN_CHUNK + j;
		if (at >= h->len || lb_answer_head_byte(&h->s, at, h->b[at & LB_ANSWER_HEAD_MAX]))
			return 1;
	}
	return 0;
}

/* The answer head at frame offset @at, @avail bytes of the segment from there: 0 if framed. */
__noinline int read_answer_head(struct __sk_buff *skb, __u32 at, __u32 avail,
				struct lb_answer_scan *out)
{
	struct head_feed h = {};
	struct answer_buf *buf;
	__u32 key0 = 0, n = avail;

	if (!skb || !out)
		return -1;
	buf = bpf_map_lookup_elem(&answer_buf, &key0);
	if (!buf)
		return -1;
	if (n > LB_ANSWER_HEAD_MAX + 1)
		n = LB_ANSWER_HEAD_MAX + 1;
	/* Shorter than a status line and its empty line: a head split over segments. */
	if (n < 17 || bpf_skb_load_bytes(skb, at, buf->b, n))
		return -1;
	h.b = buf->b;
	h.len = n;
	bpf_loop((LB_ANSWER_HEAD_MAX + 1) / ANSWER_SCAN_CHUNK, answer_head_step, &h, 0);
	if (h.s.phase != LB_AH_DONE)
		return -1;
	*out = h.s;
	return 0;
}

/*
 * Egress: a segment of connection @k with @len payload bytes from frame offset
 * @pay_off, at @seq in the socket's numbers. Every answer head that starts in
 * it is read, and the connection's entry moves to where that answer ends. An
 * answer whose end the head does not give (no Content-Length, chunked, a 101,
 * a head not whole in this segment, not HTTP), or bytes past the next head
 * that were never seen, leave the connection UNKNOWN until its next hand-off.
 * Segments before the next head (bodies, retransmissions) cost a lookup.
 */
__noinline int track_answers(struct __sk_buff *skb, const struct lb_handoff_key *k, __u32 seq,
			     __u32 pay_off, __u32 len)
{
	struct lb_answer_track *t;
	struct lb_answer_scan s;
	__u32 i, off, body;

	if (!skb || !k || !len)
		return 0;
	t = bpf_map_lookup_elem(&answers, k);
	if (!t)
		return 0;
	for (i = 0; i < ANSWER_HEADS_PER_SEGMENT; i++) {
		if (t->framing == LB_FRAMING_UNKNOWN || (__s32)(seq + len - t->next) <= 0)
			return 0;
		if ((__s32)(seq - t->next) > 0)
			goto unknown;
		off = t->next - seq;
		if (read_answer_head(skb, pay_off + off, len - off, &s) || s.status == 101 ||
		    (!s.has_cl && !lb_answer_bodiless(s.status)))
			goto unknown;
		body = lb_answer_bodiless(s.status) ? 0 : s.body_len;
		/* A final answer after 1xx ones is one answer with them. */
		if (t->framing != LB_FRAMING_INTERIM)
			t->start = t->next;
		t->end = t->next + s.head_len + body;
		t->body_len = body;
		t->status = s.status;
		t->next = t->end;
		t->framing = s.status < 200 ? LB_FRAMING_INTERIM : LB_FRAMING_KNOWN;
	}
	return 0;
unknown:
	t->framing = LB_FRAMING_UNKNOWN;
	return 0;
}

/*
 * Egress, before anything else looks at the segment: a data segment of the VIP
 * service has its answers' heads read, in the socket's numbers as the stack
 * made it. Not our own direct copy of a FIN with data (split_fin), which comes
 * round again already rewritten. A function of its own, verified once: the
 * egress programs' many paths do not multiply it.
 */
__noinline int note_answers(struct __sk_buff *skb)
{
	struct lb_handoff_key k;
	struct l4 p;

	if (!skb || parse(skb, &p) || !from_vip_service(&p) ||
	    (tcp_flags(p.th) & (LB_TH_SYN | LB_TH_RST)) || direct_copy_due(skb, &p))
		return 0;
	conn_of_server(&p, &k);
	return track_answers(skb, &k, bpf_ntohl(p.th->seq), p.off + p.th->doff * 4,
			     payload_len(skb, &p));
}

/*
 * A probe is marked like a FIN notice, with the reserved IPv4 flag, so that
 * only segments carrying the flag have their options read for one: the flag
 * costs one load per packet, the options a loop.
 */
static __always_inline bool maybe_probe(const struct l4 *p)
{
	return (p->iph->frag_off & bpf_htons(LB_FIN_NOTICE_IP_FLAG)) &&
	       (tcp_flags(p->th) & (LB_TH_SYN | LB_TH_FIN | LB_TH_RST | LB_TH_ACK)) == LB_TH_ACK;
}

/* What this host's socket for the probe's tuple has in flight (headers/rebind.h). */
struct probe_view {
	__u32 status; /* enum lb_probe_status */
	__u32 snd_una, rcv_nxt, unsent; /* the socket's own numbers */
	__u32 snd_delta, rcv_delta;	/* to the client's (a resumed socket's, struct lb_resume) */
	struct lb_answer_track answer; /* what egress knows of its latest answer */
};

static __always_inline void probe_socket(struct __sk_buff *skb, const struct l4 *p,
					 struct probe_view *v)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *skc;
	struct tcp_sock *tp;
	__u32 write_seq, copied_seq;

	v->status = LB_PROBE_NO_SOCKET;
	tuple_of(p, &tuple);
	skc = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return;
	/* A lookup with no connection finds the listener: that is "none" too. */
	if (sk_state(skc) != BPF_TCP_ESTABLISHED && sk_state(skc) != BPF_TCP_CLOSE_WAIT) {
		bpf_sk_release(skc);
		return;
	}
	tp = bpf_skc_to_tcp_sock(skc);
	if (tp) {
#ifdef LB_BACKEND_RESUME
		struct lb_resume *r = bpf_sk_storage_get(&resumed, skc, 0, 0);

		if (r) {
			v->snd_delta = r->ack_delta;
			v->rcv_delta = r->seq_delta;
		}
#endif
		v->snd_una = tp->snd_una;
		v->rcv_nxt = tp->rcv_nxt;
		write_seq = tp->write_seq;
		copied_seq = tp->copied_seq;
		v->unsent = write_seq - v->snd_una;
		/*
		 * Idle: every byte written is acknowledged, every request byte the
		 * balancer sent (up to the probe's seq) has come and been read.
		 */
		v->status = v->unsent == 0 && v->rcv_nxt + v->rcv_delta == bpf_ntohl(p->th->seq) &&
					    copied_seq == v->rcv_nxt
				    ? LB_PROBE_IDLE
				    : LB_PROBE_BUSY;
	}
	bpf_sk_release(skc);
}

/*
 * The balancer asks whether anything of this connection is in flight before it
 * moves the next request elsewhere. The probe becomes the answer in place
 * (addresses and ports swapped, which leaves the checksums as they are; seq,
 * ack and the option rewritten) and goes back out of this interface to the
 * balancer's MAC. On its way out the egress program sees it as a segment of
 * the connection; in replay mode that puts its seq into the client's numbers.
 */
static __noinline int answer_probe(struct __sk_buff *skb)
{
	struct l4 q, *p = &q;
	struct lb_cookie_secret *secret;
	struct lb_cookie_tuple ct;
	struct probe_view v = {};
	struct lb_answer_framing f_old, f_new;
	struct lb_handoff_key conn;
	struct lb_answer_track *t;
	struct lb_rebind_opt o;
	__u32 key0 = 0, off, thl;
	__s64 diff;
	__be32 saddr, daddr, old32, new32;
	__be16 sport, dport, old16, new16;
	__u8 smac[ETH_ALEN], dmac[ETH_ALEN];

	if (parse(skb, p) || !to_vip_service(p) || !maybe_probe(p))
		return -1;
	/* The dispatcher puts the probe option last, so no option walk is needed. */
	thl = p->th->doff * 4;
	if (thl < sizeof(struct tcphdr) + LB_PROBE_OPT_LEN)
		return -1;
	off = p->off + thl - LB_PROBE_OPT_LEN;
	if (bpf_skb_load_bytes(skb, off, &o, sizeof(o)) || o.kind != LB_REBIND_OPT_KIND ||
	    o.len != LB_PROBE_OPT_LEN || o.exid != bpf_htons(LB_PROBE_EXID) ||
	    bpf_skb_load_bytes(skb, off + LB_REBIND_OPT_LEN, &f_old, sizeof(f_old)))
		return -1; /* not a probe */
	if (!from_balancer(p->eth))
		return count(skb, LB_BE_DROP_BAD_PROBE, TC_ACT_SHOT);
	saddr = p->iph->saddr;
	daddr = p->iph->daddr;
	sport = p->th->source;
	dport = p->th->dest;
	cookie_tuple_of(p, &ct);
	secret = bpf_map_lookup_elem(&cookie_secret, &key0);
	if (!secret || lb_rebind_tag_check(secret, &ct, bpf_ntohl(p->th->seq),
					   bpf_ntohl(p->th->ack_seq), 0, LB_REBIND_TAG_PROBE,
					   bpf_ntohl(o.val), bpf_ktime_get_tai_ns() / LB_NS_PER_S))
		return count(skb, LB_BE_DROP_BAD_PROBE, TC_ACT_SHOT);
	probe_socket(skb, p, &v);
	conn_of_client(p, &conn);
	t = v.status == LB_PROBE_NO_SOCKET ? NULL : bpf_map_lookup_elem(&answers, &conn);
	__builtin_memset(&f_new, 0, sizeof(f_new));
	if (t) {
		v.answer = *t;
		/* Relative to seq (snd_una): the answer's seq is in the client's numbers by then. */
		f_new.start = bpf_htonl(v.answer.start - v.snd_una);
		f_new.end = bpf_htonl(v.answer.end - v.snd_una);
		f_new.body_len = bpf_htonl(v.answer.body_len);
	}

	__builtin_memcpy(smac, p->eth->h_source, ETH_ALEN);
	__builtin_memcpy(dmac, p->eth->h_dest, ETH_ALEN);
	if (bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), smac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_source), dmac, ETH_ALEN, 0) ||
	    bpf_skb_store_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, saddr), &daddr,
				4, 0) ||
	    bpf_skb_store_bytes(skb, sizeof(struct ethhdr) + offsetof(struct iphdr, daddr), &saddr,
				4, 0) ||
	    bpf_skb_store_bytes(skb, p->off + offsetof(struct tcphdr, source), &dport, 2, 0) ||
	    bpf_skb_store_bytes(skb, p->off + offsetof(struct tcphdr, dest), &sport, 2, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	/*
	 * seq, ack and the option's words (ExID, status, count), each with the
	 * checksum. The option sits at a multiple of 4 from the TCP header (its
	 * length is), so its 16-bit words line up with the checksum's.
	 */
	new32 = bpf_htonl(v.snd_una + v.snd_delta);
	if (bpf_skb_load_bytes(skb, TCP_SEQ_OFF(p), &old32, 4) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old32, new32, 4) ||
	    bpf_skb_store_bytes(skb, TCP_SEQ_OFF(p), &new32, 4, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	new32 = bpf_htonl(v.rcv_nxt + v.rcv_delta);
	if (bpf_skb_load_bytes(skb, TCP_ACK_OFF(p), &old32, 4) ||
	    bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old32, new32, 4) ||
	    bpf_skb_store_bytes(skb, TCP_ACK_OFF(p), &new32, 4, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	new16 = bpf_htons(LB_ANSWER_EXID);
	if (bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), o.exid, new16, 2) ||
	    bpf_skb_store_bytes(skb, off + 2, &new16, 2, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	old16 = *(__be16 *)&o.arg;
	o.arg = v.status;
	o.pad = 0;
	new16 = *(__be16 *)&o.arg;
	if (bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), old16, new16, 2) ||
	    bpf_skb_store_bytes(skb, off + 4, &new16, 2, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	new32 = bpf_htonl(v.unsent);
	if (bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), o.val, new32, 4) ||
	    bpf_skb_store_bytes(skb, off + 8, &new32, 4, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	/* The framing report: arg16, then the three words after the option's first 12 bytes. */
	new16 = bpf_htons(t ? v.answer.framing : LB_FRAMING_NONE);
	if (bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), o.arg16, new16, 2) ||
	    bpf_skb_store_bytes(skb, off + 6, &new16, 2, 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	diff = bpf_csum_diff((__be32 *)&f_old, sizeof(f_old), (__be32 *)&f_new, sizeof(f_new), 0);
	if (diff < 0 || bpf_l4_csum_replace(skb, TCP_CSUM_OFF(p), 0, (__u32)diff, 0) ||
	    bpf_skb_store_bytes(skb, off + LB_REBIND_OPT_LEN, &f_new, sizeof(f_new), 0))
		return count(skb, LB_BE_DROP_REWRITE_FAILED, TC_ACT_SHOT);
	count(skb, LB_BE_PROBE_ANSWERED, TC_ACT_OK);
	return bpf_redirect(skb->ifindex, 0);
}

/*
 * Ingress, not for the VIP service. An ACK (no SYN or RST) to the service port of
 * one of this host's own addresses that finds only the listener is either junk
 * or a latebind cookie replayed to the real address (the listener would answer
 * it with a reset, or its own syncookie code would judge it). Drop it and count
 * it on its own.
 *
 * The trade-off: the kernel's own SYN cookies on the real address stop
 * working for that port, since their ACK too finds only the listener (under a
 * SYN flood on the real address, or with tcp_syncookies=2); and a prober gets
 * silence instead of a reset. A normal handshake (the balancer's health
 * checks) is unaffected: its ACK finds the request socket, and everything
 * after it the established one. One socket lookup per packet to that port.
 */
static __always_inline int not_for_vip(struct __sk_buff *skb, const struct l4 *p)
{
	struct bpf_sock_tuple tuple = {};
	struct bpf_sock *skc;
	bool listener;
	__u8 flags = tcp_flags(p->th);

	if (p->th->dest != cfg_vip_port || (flags & (LB_TH_SYN | LB_TH_RST)) || !(flags & LB_TH_ACK))
		return count(skb, LB_BE_PASS_OTHER, TC_ACT_OK);
	tuple_of(p, &tuple);
	skc = bpf_skc_lookup_tcp(skb, &tuple, sizeof(tuple.ipv4), BPF_F_CURRENT_NETNS, 0);
	if (!skc)
		return count(skb, LB_BE_PASS_OTHER, TC_ACT_OK);
	listener = sk_state(skc) == BPF_TCP_LISTEN;
	bpf_sk_release(skc);
	return listener ? count(skb, LB_BE_DROP_SPOOF_REAL_ADDR, TC_ACT_SHOT)
			: count(skb, LB_BE_PASS_OTHER, TC_ACT_OK);
}

#endif
