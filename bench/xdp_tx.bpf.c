// SPDX-License-Identifier: GPL-2.0
/*
 * Plain XDP_TX, the reference latebind's SYN/ACKs are measured against: swap the
 * Ethernet addresses and send the frame back out of the interface it came in
 * on, as `xdp-bench tx` does in its default swap-macs mode. bench/run.sh uses
 * it when xdp-bench cannot run (xdp-tools 1.3.1 fails to load on kernels
 * without the xdp_redirect_map tracepoints, removed in 6.16).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#define ETH_ALEN 6 /* not in vmlinux.h: a macro */

SEC("xdp")
int bench_tx(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	unsigned char tmp[ETH_ALEN];

	if ((void *)(eth + 1) > data_end)
		return XDP_DROP;
	__builtin_memcpy(tmp, eth->h_source, ETH_ALEN);
	__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
	__builtin_memcpy(eth->h_dest, tmp, ETH_ALEN);
	return XDP_TX;
}

char LICENSE[] SEC("license") = "GPL";
