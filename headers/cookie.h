/* SPDX-License-Identifier: GPL-2.0 */
/*
 * latebind's keyed SYN cookie: the one definition used by the balancer's XDP
 * program, the backend's TC program and userspace (dispatcher, tests).
 *
 * The balancer answers a SYN with ISN = cookie and keeps no state. The cookie is
 *
 *   bits 31..8  tag  = top 24 bits of SipHash-2-4(key, caddr, vaddr, cport, vport,
 *                                                 client ISN, time counter, opts)
 *   bits  7..0  opts = what the client offered in its SYN, so a backend can build
 *                      the connection as if it had seen that SYN itself:
 *                      bits 1..0 MSS index (lb_cookie_mss_table), bits 5..2 the
 *                      client's window scale (15: not offered), bit 6 SACK
 *                      permitted, bit 7 ECN set-up requested.
 *
 * The time counter is TAI seconds / period; a cookie validates for the current
 * counter and the (windows - 1) before it, so it lives between (windows - 1) and
 * windows periods. The counter is not in the cookie: validation tries each
 * accepted value (and the previous key while it is still honoured), which keeps
 * all 24 tag bits for the MAC. TAI, not boot time, so every node sharing the key
 * agrees on the counter.
 *
 * Options are authenticated by the tag; they are in the clear because the
 * backend must read them before it has anything else to go on.
 */
#ifndef LATEBIND_COOKIE_H
#define LATEBIND_COOKIE_H

#include "defaults.h"
#include "lb_types.h"

#define LB_COOKIE_KEY_LEN	  16
#define LB_COOKIE_MAX_WINDOWS	  4  /* bounds the validation loop in BPF */
#define LB_COOKIE_DEFAULT_PERIOD  LB_DEFAULT_COOKIE_PERIOD_S
#define LB_COOKIE_DEFAULT_WINDOWS LB_DEFAULT_COOKIE_WINDOWS

#define LB_COOKIE_WSCALE_NONE 15
#define LB_TCP_MAX_WSCALE     14

/* Cookie key material as it sits in the BPF map `cookie_secret` (slot 0). */
struct lb_cookie_secret {
	__u64 key[2];	   /* SipHash key, the key file's 16 bytes read little-endian */
	__u64 prev_key[2]; /* previous key, honoured until prev_until_s */
	__u64 prev_until_s; /* TAI seconds; 0 = no previous key */
	__u32 period_s;	    /* time counter granularity, seconds (> 0) */
	__u32 windows;	    /* counter values accepted, 1..LB_COOKIE_MAX_WINDOWS */
};
_Static_assert(sizeof(struct lb_cookie_secret) == 48, "lb_cookie_secret layout");

/* The connection a cookie belongs to, as the client addressed it. */
struct lb_cookie_tuple {
	__be32 caddr; /* client */
	__be32 vaddr; /* virtual IP */
	__be16 cport;
	__be16 vport;
};

/* What the client's SYN offered, decoded from / encoded into the cookie. */
struct lb_cookie_opts {
	__u16 mss;    /* one of lb_cookie_mss_table */
	__u8 wscale;  /* client's window scale, LB_COOKIE_WSCALE_NONE if absent */
	__u8 sack;    /* SACK permitted */
	__u8 ecn;     /* ECN set-up requested (ECE+CWR on the SYN) */
};

/* MSS values a cookie can carry: the largest not above the client's is used. */
#define LB_COOKIE_MSS_0 536 /* also the RFC 9293 default when no MSS option */
#define LB_COOKIE_MSS_1 1220
#define LB_COOKIE_MSS_2 1400
#define LB_COOKIE_MSS_3 1460

LB_INLINE __u16 lb_cookie_mss_from_index(__u32 idx)
{
	switch (idx & 3) {
	case 0: return LB_COOKIE_MSS_0;
	case 1: return LB_COOKIE_MSS_1;
	case 2: return LB_COOKIE_MSS_2;
	default: return LB_COOKIE_MSS_3;
	}
}

LB_INLINE __u32 lb_cookie_mss_index(__u32 mss)
{
	if (mss >= LB_COOKIE_MSS_3)
		return 3;
	if (mss >= LB_COOKIE_MSS_2)
		return 2;
	if (mss >= LB_COOKIE_MSS_1)
		return 1;
	return 0;
}

/* ---- SipHash-2-4 over three 64-bit words (a 24-byte message) ---------- */

#define LB_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define LB_SIPROUND(v0, v1, v2, v3)                                            \
	do {                                                                   \
		v0 += v1; v1 = LB_ROTL64(v1, 13); v1 ^= v0; v0 = LB_ROTL64(v0, 32); \
		v2 += v3; v3 = LB_ROTL64(v3, 16); v3 ^= v2;                    \
		v0 += v3; v3 = LB_ROTL64(v3, 21); v3 ^= v0;                    \
		v2 += v1; v1 = LB_ROTL64(v1, 17); v1 ^= v2; v2 = LB_ROTL64(v2, 32); \
	} while (0)

#define LB_SIP_COMPRESS(v0, v1, v2, v3, m)                                    \
	do {                                                                   \
		v3 ^= (m);                                                     \
		LB_SIPROUND(v0, v1, v2, v3);                                   \
		LB_SIPROUND(v0, v1, v2, v3);                                   \
		v0 ^= (m);                                                     \
	} while (0)

/*
 * Equal to reference SipHash-2-4 of the 24 bytes a, b, c stored little-endian
 * (tests/unit/test_cookie.c checks this against a byte-wise implementation).
 */
LB_INLINE __u64 lb_siphash_3u64(const __u64 key[2], __u64 a, __u64 b, __u64 c)
{
	__u64 v0 = 0x736f6d6570736575ULL ^ key[0];
	__u64 v1 = 0x646f72616e646f6dULL ^ key[1];
	__u64 v2 = 0x6c7967656e657261ULL ^ key[0];
	__u64 v3 = 0x7465646279746573ULL ^ key[1];
	__u64 last = (__u64)24 << 56;

	LB_SIP_COMPRESS(v0, v1, v2, v3, a);
	LB_SIP_COMPRESS(v0, v1, v2, v3, b);
	LB_SIP_COMPRESS(v0, v1, v2, v3, c);
	LB_SIP_COMPRESS(v0, v1, v2, v3, last);
	v2 ^= 0xff;
	LB_SIPROUND(v0, v1, v2, v3);
	LB_SIPROUND(v0, v1, v2, v3);
	LB_SIPROUND(v0, v1, v2, v3);
	LB_SIPROUND(v0, v1, v2, v3);
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ---- cookie ------------------------------------------------------------ */

LB_INLINE __u32 lb_cookie_encode_opts(const struct lb_cookie_opts *o)
{
	__u32 ws = o->wscale > LB_TCP_MAX_WSCALE ? LB_COOKIE_WSCALE_NONE : o->wscale;

	return lb_cookie_mss_index(o->mss) | ws << 2 | (o->sack ? 1u << 6 : 0) |
	       (o->ecn ? 1u << 7 : 0);
}

LB_INLINE void lb_cookie_decode_opts(__u32 cookie, struct lb_cookie_opts *o)
{
	o->mss = lb_cookie_mss_from_index(cookie & 3);
	o->wscale = (cookie >> 2) & 0xf;
	o->sack = (cookie >> 6) & 1;
	o->ecn = (cookie >> 7) & 1;
}

LB_INLINE __u32 lb_cookie_tag(const __u64 key[2], const struct lb_cookie_tuple *t,
			      __u32 client_isn, __u32 counter, __u32 opts)
{
	__u64 a = (__u64)t->caddr | (__u64)t->vaddr << 32;
	__u64 b = (__u64)t->cport | (__u64)t->vport << 16 | (__u64)client_isn << 32;
	__u64 c = (__u64)counter | (__u64)(opts & 0xff) << 32;

	return (__u32)(lb_siphash_3u64(key, a, b, c) >> 40) << 8;
}

/* The ISN the balancer puts in its SYN/ACK. */
LB_INLINE __u32 lb_cookie_make(const __u64 key[2], const struct lb_cookie_tuple *t,
			       __u32 client_isn, __u32 counter, __u32 opts)
{
	return lb_cookie_tag(key, t, client_isn, counter, opts) | (opts & 0xff);
}

LB_INLINE __u32 lb_cookie_counter(const struct lb_cookie_secret *s, __u64 tai_s)
{
	return (__u32)(tai_s / (s->period_s ? s->period_s : LB_COOKIE_DEFAULT_PERIOD));
}

/*
 * Is @cookie one we issued for this tuple and client ISN within the accepted
 * windows, under the current key or the still-honoured previous one?
 * Returns 0 and fills @o when valid, -1 otherwise.
 */
LB_INLINE int lb_cookie_check(const struct lb_cookie_secret *s, const struct lb_cookie_tuple *t,
			      __u32 client_isn, __u32 cookie, __u64 tai_s,
			      struct lb_cookie_opts *o)
{
	__u32 now = lb_cookie_counter(s, tai_s);
	__u32 opts = cookie & 0xff;
	__u32 tag = cookie & ~0xffu;
	int use_prev = s->prev_until_s && tai_s < s->prev_until_s;
	__u32 i;

	for (i = 0; i < LB_COOKIE_MAX_WINDOWS; i++) {
		if (i >= s->windows)
			break;
		if (lb_cookie_tag(s->key, t, client_isn, now - i, opts) == tag)
			goto valid;
		if (use_prev && lb_cookie_tag(s->prev_key, t, client_isn, now - i, opts) == tag)
			goto valid;
	}
	return -1;
valid:
	lb_cookie_decode_opts(cookie, o);
	return 0;
}

#endif
