// SPDX-License-Identifier: GPL-2.0
/*
 * A program that passes everything. On veth, frames sent with XDP_TX or
 * XDP_REDIRECT are only delivered if the peer has an XDP program attached, so
 * the lab attaches this one to the peers of every interface that runs ours.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
