/* SPDX-License-Identifier: GPL-2.0 */
/* Internet checksum helpers for headers the programs build themselves. */
#ifndef LATEBIND_BPF_CSUM_H
#define LATEBIND_BPF_CSUM_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"

static __always_inline __u16 csum_fold(__u64 sum)
{
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	sum = (sum & 0xffff) + (sum >> 16);
	return (__u16)~sum;
}

/* Checksum of an IPv4 header without options (20 bytes, on the stack). */
static __always_inline __u16 ipv4_csum(struct iphdr *iph)
{
	__u16 *w = (__u16 *)iph;
	__u64 sum = 0;
	int i;

	iph->check = 0;
#pragma unroll
	for (i = 0; i < (int)sizeof(*iph) / 2; i++)
		sum += w[i];
	return csum_fold(sum);
}

/*
 * TCP checksum of a segment held on the stack (header and options, no
 * payload), including the IPv4 pseudo-header. @len is a multiple of 4.
 */
static __always_inline __u16 tcp_csum_stack(__be32 saddr, __be32 daddr, void *tcp, __u32 len)
{
	struct {
		__be32 saddr;
		__be32 daddr;
		__u8 zero;
		__u8 proto;
		__be16 len;
	} pseudo = {
		.saddr = saddr,
		.daddr = daddr,
		.proto = IPPROTO_TCP,
		.len = bpf_htons(len),
	};
	__s64 sum;

	sum = bpf_csum_diff(NULL, 0, (void *)&pseudo, sizeof(pseudo), 0);
	if (sum < 0)
		return 0;
	sum = bpf_csum_diff(NULL, 0, tcp, len, sum);
	if (sum < 0)
		return 0;
	return csum_fold(sum);
}

#endif
