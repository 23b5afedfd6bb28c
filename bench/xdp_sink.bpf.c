// SPDX-License-Identifier: GPL-2.0
/*
 * The way back of the benchmark's flood. bench/run.sh puts this program on the
 * switch-side peer of the balancer's link (sw-balancer) in place of the lab's
 * pass program. A veth delivers XDP-transmitted frames only to a peer that runs
 * XDP, so the answers (SYN/ACKs, hairpinned SYNs) arrive here; those addressed
 * to the generator's MAC are dropped at once — no skb, no bridge, as little
 * work as possible on the generator's side — and counted by the veth (ethtool
 * -S sw-balancer: rx_queue_*_xdp_drops, summed). Everything else passes, so the lab's
 * own traffic (ARP, health checks) still works during a benchmark.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

/* The generator's source MAC: bench/run.sh's GEN_MAC, used by nothing else. */
static const unsigned char gen_mac[6] = { 0x02, 0x00, 0x00, 0x00, 0x02, 0xfe };

SEC("xdp")
int bench_sink(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	unsigned char *dst = data;

	if (data + 6 > data_end)
		return XDP_PASS;
	if (dst[0] == gen_mac[0] && dst[1] == gen_mac[1] && dst[2] == gen_mac[2] &&
	    dst[3] == gen_mac[3] && dst[4] == gen_mac[4] && dst[5] == gen_mac[5])
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
