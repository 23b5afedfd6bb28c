/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Packet parsing with a cursor: each helper checks its header against
 * data_end before reading it and never trusts a length field without a check.
 */
#ifndef LATEBIND_BPF_PARSE_H
#define LATEBIND_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>

#include "consts.h"
#include "handoff_opt.h"
#include "rebind.h"

struct cursor {
	void *pos;
	void *end;
};

static __always_inline struct ethhdr *parse_eth(struct cursor *c)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return NULL;
	c->pos = eth + 1;
	return eth;
}

/* The fixed 20 bytes of an IPv4 header; the caller judges ihl and lengths. */
static __always_inline struct iphdr *parse_ipv4_fixed(struct cursor *c)
{
	struct iphdr *iph = c->pos;

	if ((void *)(iph + 1) > c->end)
		return NULL;
	c->pos = iph + 1;
	return iph;
}

static __always_inline struct tcphdr *parse_tcp_fixed(struct cursor *c)
{
	struct tcphdr *th = c->pos;

	if ((void *)(th + 1) > c->end)
		return NULL;
	c->pos = th + 1;
	return th;
}

static __always_inline __u8 tcp_flags(const struct tcphdr *th)
{
	return ((const __u8 *)th)[13];
}

/*
 * What a SYN offered (or an ACK carries), from its options, and where the
 * options a replay-mode backend rewrites sit: offsets into the option bytes
 * (0 is the first option byte), valid when the matching has_ flag is set.
 */
struct syn_options {
	__u16 mss;	/* 0: no MSS option */
	__u8 wscale;	/* valid when has_wscale */
	__u8 has_wscale;
	__u8 sack_ok;
	__u8 has_ts;
	__u32 tsval;	/* host order */
	__u32 tsecr;	/* host order; 0 in a SYN */
	__u8 ts_off;	   /* the timestamp option's kind byte */
	__u8 sack_off;	   /* a well-formed SACK option's kind byte */
	__u8 sack_blocks;  /* its blocks, 1..4; 0: no SACK option */
	__u8 has_handoff;  /* the hand-off option (handoff_opt.h), kind 253 + our ExID */
	__u8 handoff_off;  /* its kind byte */
	__u8 handoff_rebind; /* ... the re-bind variant (LB_HANDOFF_REBIND_EXID) */
	__u8 has_rebind;   /* a per-request binding option (rebind.h) */
	__u8 rebind_off;   /* its kind byte */
	__u16 rebind_exid; /* which: probe, answer or adopt */
};

/*
 * An index into a 64-byte stack buffer the verifier can see is in bounds: the
 * empty asm hides the value from clang, which would otherwise drop the mask
 * after an earlier range check the verifier does not connect to this register.
 */
static __always_inline __u32 idx64(__u32 v)
{
	asm volatile("" : "+r"(v));
	return v & 63;
}

struct optparse {
	const __u8 *buf; /* 64 bytes on the caller's stack, options first */
	__u32 len;	 /* bytes of options */
	__u32 i;	 /* next option */
	int err;
	struct syn_options *o;
};

/* One option per call; bpf_loop keeps the verifier from walking every path of 40. */
static long parse_one_option(__u32 n, void *arg)
{
	struct optparse *p = arg;
	const __u8 *buf = p->buf;
	struct syn_options *o = p->o;
	__u32 i = p->i;
	__u8 kind, olen;

	if (i >= p->len || i >= LB_TCP_MAX_OPTLEN)
		return 1;
	kind = buf[idx64(i)];
	if (kind == LB_TCPOPT_EOL)
		return 1;
	if (kind == LB_TCPOPT_NOP) {
		p->i = i + 1;
		return 0;
	}
	if (i + 1 >= p->len)
		goto bad;
	olen = buf[idx64(i + 1)];
	if (olen < 2 || i + olen > p->len)
		goto bad;
	switch (kind) {
	case LB_TCPOPT_MSS:
		if (olen != 4)
			goto bad;
		o->mss = (__u16)buf[idx64(i + 2)] << 8 | buf[idx64(i + 3)];
		break;
	case LB_TCPOPT_WINDOW:
		if (olen != 3)
			goto bad;
		o->wscale = buf[idx64(i + 2)];
		o->has_wscale = 1;
		break;
	case LB_TCPOPT_SACK_PERM:
		if (olen != 2)
			goto bad;
		o->sack_ok = 1;
		break;
	case LB_TCPOPT_SACK:
		/* Only a well-formed one is of use (its edges get rewritten); the kernel
		 * ignores the rest, so do we. */
		if (olen >= 10 && olen <= 34 && (olen - 2) % 8 == 0) {
			o->sack_off = i;
			o->sack_blocks = (olen - 2) / 8;
		}
		break;
	case LB_HANDOFF_OPT_KIND: {
		/* Other experiments share the kind: only our ExIDs at our lengths are ours. */
		__u16 exid = (__u16)buf[idx64(i + 2)] << 8 | buf[idx64(i + 3)];

		if (olen == LB_HANDOFF_OPT_LEN &&
		    (exid == LB_HANDOFF_OPT_EXID || exid == LB_HANDOFF_REBIND_EXID)) {
			o->handoff_off = i;
			o->has_handoff = 1;
			o->handoff_rebind = exid == LB_HANDOFF_REBIND_EXID;
		} else if (olen == LB_REBIND_OPT_LEN &&
			   (exid == LB_PROBE_EXID || exid == LB_ANSWER_EXID || exid == LB_ADOPT_EXID)) {
			o->rebind_off = i;
			o->has_rebind = 1;
			o->rebind_exid = exid;
		}
		break;
	}
	case LB_TCPOPT_TIMESTAMP:
		if (olen != 10)
			goto bad;
		o->ts_off = i;
		o->tsval = (__u32)buf[idx64(i + 2)] << 24 | (__u32)buf[idx64(i + 3)] << 16 |
			   (__u32)buf[idx64(i + 4)] << 8 | buf[idx64(i + 5)];
		o->tsecr = (__u32)buf[idx64(i + 6)] << 24 | (__u32)buf[idx64(i + 7)] << 16 |
			   (__u32)buf[idx64(i + 8)] << 8 | buf[idx64(i + 9)];
		o->has_ts = 1;
		break;
	}
	p->i = i + olen;
	return 0;
bad:
	p->err = -1;
	return 1;
}

/*
 * Parse TCP options copied to the stack (@len bytes of the 64-byte @buf).
 * Returns 0, or -1 when an option is malformed (length < 2, running past the
 * header, or a known option with the wrong length). Unknown options are skipped.
 */
static __always_inline int parse_syn_options(const __u8 *buf, __u32 len, struct syn_options *o)
{
	struct optparse p = { .buf = buf, .len = len, .o = o };

	/* Each option takes at least one byte, so LB_TCP_MAX_OPTLEN calls are enough. */
	if (bpf_loop(LB_TCP_MAX_OPTLEN, parse_one_option, &p, 0) < 0)
		return -1;
	return p.err;
}

#endif
