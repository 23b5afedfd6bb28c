// SPDX-License-Identifier: GPL-2.0
/*
 * Lab-only programs for several balancers (tests/lab/cluster.sh).
 *
 * rehash (TC ingress, the router's client-side ports): forgets the flow hash a
 * packet carries from the client's own socket. A veth keeps skb->hash across
 * namespaces, and the router's ECMP choice takes that hash when it is there:
 * Linux picks it at random per connection and picks again on a retransmission
 * timeout, so a connection would wander between balancers in a way no real
 * router's hash does. Without it the router hashes addresses and ports, as a
 * real one (fib_multipath_hash_policy=1).
 *
 * steer (XDP, the switch's port from the router), for the handshake-split test
 * (tests/lab/test_cluster.sh): a client's SYN to the VIP goes to one balancer
 * and every other segment of its connections to another, whatever the
 * router's ECMP route chose. It rewrites the destination MAC only; the bridge
 * then delivers the frame to that balancer's port. So one real handshake is
 * answered by one balancer and completed, request and all, at the other: what
 * a rehash between the SYN and the ACK does to a site. It replaces the port's
 * XDP pass program while the test needs it and, like that program, passes
 * everything (XDP_TX'd frames from the balancers still arrive at the router).
 * Configured with `bpftool map update` (steer_cfg), counted in steer_stats.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define STEER_ETH_P_IP 0x0800
#define STEER_IP_MF 0x2000
#define STEER_IP_OFFSET 0x1fff
#define TC_ACT_OK 0

/* Written by the shell; a zero vip steers nothing. */
struct steer_cfg {
	__u8 syn_mac[6];  /* a SYN (no ACK) to vip:port goes here */
	__u8 rest_mac[6]; /* any other TCP segment to vip:port goes here */
	__be32 vip;
	__be32 client;	  /* only from this source address; 0: any */
	__u16 port;	  /* host order */
	__u16 pad;
};

enum steer_stat {
	STEER_SYN,  /* SYNs rewritten to syn_mac */
	STEER_REST, /* other segments rewritten to rest_mac */
	STEER_NR_STATS,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct steer_cfg);
} steer_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, STEER_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} steer_stats SEC(".maps");

SEC("xdp")
int steer(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct steer_cfg *cfg;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 zero = 0, slot;
	__u64 *n;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(STEER_ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	if (ip->frag_off & bpf_htons(STEER_IP_MF | STEER_IP_OFFSET))
		return XDP_PASS;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end)
		return XDP_PASS;

	cfg = bpf_map_lookup_elem(&steer_cfg, &zero);
	if (!cfg || !cfg->vip || ip->daddr != cfg->vip || tcp->dest != bpf_htons(cfg->port))
		return XDP_PASS;
	if (cfg->client && ip->saddr != cfg->client)
		return XDP_PASS;

	if (tcp->syn && !tcp->ack) {
		__builtin_memcpy(eth->h_dest, cfg->syn_mac, sizeof(eth->h_dest));
		slot = STEER_SYN;
	} else {
		__builtin_memcpy(eth->h_dest, cfg->rest_mac, sizeof(eth->h_dest));
		slot = STEER_REST;
	}
	n = bpf_map_lookup_elem(&steer_stats, &slot);
	if (n)
		__sync_fetch_and_add(n, 1);
	return XDP_PASS;
}

SEC("tc")
int rehash(struct __sk_buff *skb)
{
	bpf_set_hash_invalid(skb);
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
