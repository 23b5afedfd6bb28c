// SPDX-License-Identifier: GPL-2.0
/*
 * Drops every frame: the XDP_DROP ceiling of the balancer's link. bench/run.sh
 * attaches it to the balancer's eth0 when `xdp-bench drop` cannot run.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_drop(struct xdp_md *ctx)
{
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
