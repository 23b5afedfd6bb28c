/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The replay-mode hand-off TCP option (docs/packet-walk.md, 4b): the one
 * definition used by the balancer's dispatcher, which puts it on the SYN it
 * replays to a backend, and the backend's TC ingress program, which reads it.
 *
 * RFC 6994 shared experimental option, 16 bytes:
 *
 *   0      kind  = 253 (TCPOPT_EXP)
 *   1      len   = 16
 *   2..3   ExID  = 0x4c42 ("LB")
 *   4..7   C     the ISN the client was given: the balancer's cookie
 *   8..11  T_lb  the latest TSval the client had from the balancer (0 without timestamps)
 *   12     ws    the window scale the client was told (LB_COOKIE_WSCALE_NONE: none)
 *   13..15 tag   top 24 bits of SipHash-2-4(cookie key, tuple, C, T_lb, ws)
 *
 * Only the balancer holds the key, so only it can make an option the backend
 * accepts. The backend also checks that C is a valid cookie for the SYN's
 * tuple and ISN: that bounds an option's life to the cookie's.
 * Multi-byte fields are in network order.
 */
#ifndef LATEBIND_HANDOFF_OPT_H
#define LATEBIND_HANDOFF_OPT_H

#include "cookie.h"
#include "rebind.h"

#define LB_HANDOFF_OPT_KIND 253
#define LB_HANDOFF_OPT_LEN  16
#define LB_HANDOFF_OPT_EXID 0x4c42

struct lb_handoff_opt {
	__u8 kind;
	__u8 len;
	__be16 exid;
	__be32 client_isn;  /* C: the cookie */
	__be32 lb_tsval;    /* T_lb */
	__u8 wscale;	    /* what the client was told */
	__u8 tag[3];
} __attribute__((packed));
_Static_assert(sizeof(struct lb_handoff_opt) == LB_HANDOFF_OPT_LEN, "lb_handoff_opt layout");

/* Domain separation from the cookie's tag, which uses the same key. */
#define LB_HANDOFF_TAG_DOMAIN 0x68616e64ULL /* "hand" */

LB_INLINE __u32 lb_handoff_tag(const __u64 key[2], const struct lb_cookie_tuple *t, __u32 cookie,
			       __u32 lb_tsval, __u8 wscale)
{
	__u64 a = (__u64)t->caddr | (__u64)t->vaddr << 32;
	__u64 b = (__u64)t->cport | (__u64)t->vport << 16 | (__u64)cookie << 32;
	__u64 c = (__u64)lb_tsval | (__u64)wscale << 32 | LB_HANDOFF_TAG_DOMAIN << 40;

	return (__u32)(lb_siphash_3u64(key, a, b, c) >> 40);
}

/*
 * Does @tag (24 bits) authenticate this option under the current key or the
 * still-honoured previous one? 0 if so, -1 otherwise.
 */
LB_INLINE int lb_handoff_tag_check(const struct lb_cookie_secret *s, const struct lb_cookie_tuple *t,
				   __u32 cookie, __u32 lb_tsval, __u8 wscale, __u32 tag, __u64 tai_s)
{
	if (lb_handoff_tag(s->key, t, cookie, lb_tsval, wscale) == tag)
		return 0;
	if (s->prev_until_s && tai_s < s->prev_until_s &&
	    lb_handoff_tag(s->prev_key, t, cookie, lb_tsval, wscale) == tag)
		return 0;
	return -1;
}

/*
 * The re-bind variant (per-request binding, headers/rebind.h): the SYN replayed
 * when a keep-alive connection's next request moves to a replay-mode backend.
 * Same layout, ExID "LS"; C is the server-side sequence number the client is
 * at (less one), not a cookie, so the tag also covers the SYN's ISN and the
 * cookie's time counter, which bounds the option's life instead.
 */
#define LB_HANDOFF_REBIND_EXID 0x4c53
#define LB_HANDOFF_TAG_REBIND  0x53 /* 'S': its domain in lb_rebind_tag() */

LB_INLINE __u32 lb_handoff_rebind_tag(const __u64 key[2], const struct lb_cookie_tuple *t,
				      __u32 isn, __u32 c, __u32 lb_tsval, __u8 wscale,
				      __u32 counter)
{
	return (lb_handoff_tag(key, t, c, lb_tsval, wscale) ^
		lb_rebind_tag(key, t, isn, c, wscale, counter, LB_HANDOFF_TAG_REBIND) >> 8) &
	       0xffffff;
}

/* lb_handoff_tag_check() for the re-bind variant, over the cookie's windows. */
LB_INLINE int lb_handoff_rebind_check(const struct lb_cookie_secret *s,
				      const struct lb_cookie_tuple *t, __u32 isn, __u32 c,
				      __u32 lb_tsval, __u8 wscale, __u32 tag, __u64 tai_s)
{
	__u32 now = lb_cookie_counter(s, tai_s);
	int use_prev = s->prev_until_s && tai_s < s->prev_until_s;
	__u32 i;

	for (i = 0; i < LB_COOKIE_MAX_WINDOWS; i++) {
		if (i >= s->windows)
			break;
		if (lb_handoff_rebind_tag(s->key, t, isn, c, lb_tsval, wscale, now - i) == tag)
			return 0;
		if (use_prev &&
		    lb_handoff_rebind_tag(s->prev_key, t, isn, c, lb_tsval, wscale, now - i) == tag)
			return 0;
	}
	return -1;
}

/* The 24-bit tag in the option's last three bytes. */
LB_INLINE __u32 lb_handoff_opt_tag(const struct lb_handoff_opt *o)
{
	return (__u32)o->tag[0] << 16 | (__u32)o->tag[1] << 8 | o->tag[2];
}

LB_INLINE void lb_handoff_opt_set_tag(struct lb_handoff_opt *o, __u32 tag)
{
	o->tag[0] = tag >> 16;
	o->tag[1] = tag >> 8;
	o->tag[2] = tag;
}

#endif
