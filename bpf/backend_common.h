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

#include "consts.h"
#include "cookie.h"
#include "cookie_map.h"
#include "parse.h"
#include "stats.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

/* Set by `latebind backend attach` before load. */
const volatile __be32 cfg_vip_addr;
const volatile __be16 cfg_vip_port;
const volatile __u8 cfg_balancer_mac[ETH_ALEN];
const volatile __u8 cfg_wscale = LB_DEFAULT_WSCALE; /* the balancer's handoff.wscale */

/* enum lb_backend_reason → packets and bytes, per CPU. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_BE_REASON_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
} stats SEC(".maps");

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

/* Offsets of TCP fields in the frame. */
#define TCP_SEQ_OFF(p)	 ((p)->off + offsetof(struct tcphdr, seq))
#define TCP_ACK_OFF(p)	 ((p)->off + offsetof(struct tcphdr, ack_seq))
#define TCP_FLAGS_OFF(p) ((p)->off + 12) /* the 16-bit word of doff and flags */
#define TCP_WIN_OFF(p)	 ((p)->off + offsetof(struct tcphdr, window))
#define TCP_CSUM_OFF(p)	 ((p)->off + offsetof(struct tcphdr, check))
#define TCP_OPT_OFF(p)	 ((p)->off + sizeof(struct tcphdr))

/*
 * The TCP options, copied into @buf (64 bytes, zeroed by the caller) and
 * parsed. *@len gets their length. -1 when they are malformed.
 */
static __always_inline int tcp_options(struct __sk_buff *skb, const struct l4 *p, __u8 *buf,
				       __u32 *len, struct syn_options *o)
{
	__u32 optlen = p->th->doff * 4 - sizeof(struct tcphdr);

	if (optlen > TCP_MAX_OPTLEN)
		return -1;
	*len = optlen;
	if (!optlen)
		return 0;
	if (bpf_skb_load_bytes(skb, TCP_OPT_OFF(p), buf, optlen))
		return -1;
	return parse_syn_options(buf, optlen, o);
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

static __always_inline bool from_balancer(const struct ethhdr *eth)
{
	int i;

	for (i = 0; i < ETH_ALEN; i++)
		if (eth->h_source[i] != cfg_balancer_mac[i])
			return false;
	return true;
}

/* Send the frame to the balancer instead: only the destination MAC changes. */
static __always_inline int to_balancer(struct __sk_buff *skb)
{
	__u8 mac[ETH_ALEN];
	int i;

	for (i = 0; i < ETH_ALEN; i++)
		mac[i] = cfg_balancer_mac[i];
	return bpf_skb_store_bytes(skb, offsetof(struct ethhdr, h_dest), mac, ETH_ALEN, 0);
}

static __always_inline void tuple_of(const struct l4 *p, struct bpf_sock_tuple *t)
{
	t->ipv4.saddr = p->iph->saddr;
	t->ipv4.daddr = p->iph->daddr;
	t->ipv4.sport = p->th->source;
	t->ipv4.dport = p->th->dest;
}

/*
 * Ingress, not for the VIP. An ACK (no SYN or RST) to the service port of
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

	if (p->th->dest != cfg_vip_port || (flags & (TH_SYN | TH_RST)) || !(flags & TH_ACK))
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
