// SPDX-License-Identifier: GPL-2.0
/*
 * The least any direct-return balancer can do on the lab's topology, and so
 * the ceiling of its throughput there: a client's frame to the VIP's port has
 * its MACs rewritten towards a backend and goes back out the way it came
 * (XDP_TX), as latebind's fast path does with a bound flow; the backend holds
 * the VIP on lo, accepts the connection itself and answers the client
 * directly. No flow table, no counters, no checks beyond what reading the
 * headers needs: what is left is the topology's extra hop through the
 * balancer. bench/http.sh attaches it on the balancer's eth0 in latebind's
 * place (its "ceiling" mode).
 *
 * Which backend: the bench's clients bind ports per backend (curl
 * --local-port), CEILING_PORT_SPAN ports from CEILING_PORT_BASE for the
 * first backend, the next span for the second, and so on, so each transfer
 * reaches the backend that holds its object, as in the other modes. Any other
 * client port goes to the first backend. Everything that is not TCP to the
 * VIP's port passes to the balancer's stack.
 *
 * The lab's values come from the build (bench/run.sh, from tests/lab/lib.sh):
 *   CEILING_VIP      the VIP, an IPv4 address as a host-order number
 *   CEILING_PORT     the VIP's port
 *   CEILING_MACS     the backends' MACs, six bytes each, comma-separated
 *   CEILING_PORT_BASE, CEILING_PORT_SPAN
 */
#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#define ETH_ALEN 6	 /* not in vmlinux.h: macros */
#define ETH_P_IP 0x0800

/* The backends' MACs one after the other: backend i's at i * ETH_ALEN. */
static const __u8 backend_macs[] = { CEILING_MACS };
#define BACKENDS (sizeof(backend_macs) / ETH_ALEN)

SEC("xdp")
int bench_ceiling(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *iph = (void *)(eth + 1);
	struct tcphdr *th;
	__u32 port, slot, i;

	if ((void *)(iph + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) ||
	    iph->protocol != IPPROTO_TCP || iph->daddr != bpf_htonl(CEILING_VIP))
		return XDP_PASS;
	th = (void *)iph + iph->ihl * 4;
	if ((void *)(th + 1) > data_end || th->dest != bpf_htons(CEILING_PORT))
		return XDP_PASS;
	/* Compared, not divided: the verifier cannot bound a quotient used as an index. */
	port = (__u32)bpf_ntohs(th->source) - CEILING_PORT_BASE; /* below the base: wraps, large */
	slot = 0;
	for (i = 1; i < BACKENDS; i++)
		if (port >= i * CEILING_PORT_SPAN && port < (i + 1) * CEILING_PORT_SPAN)
			slot = i;
	/* Our MAC (the frame's destination) as the source, the backend's as the destination. */
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, &backend_macs[slot * ETH_ALEN], ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
