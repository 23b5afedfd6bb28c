/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Per-request binding (docs/packet-walk.md §5a): the messages between the
 * balancer and a backend's TC programs when a keep-alive connection's next
 * request belongs on another backend. One definition for the dispatcher and
 * both backend objects.
 *
 * Each is an RFC 6994 shared experimental option, kind 253, 12 bytes:
 *
 *   0      kind = 253, 1 len = 12, 2..3 ExID
 *   4      arg    probe: 0; answer: LB_PROBE_*; adopt: the cookie's low byte
 *   5      pad
 *   6..7   arg16  0 (reserved)
 *   8..11  val    probe, adopt: the tag; answer: bytes written, not yet acknowledged
 *
 * Probe and answer are 24 bytes: the 12 above, then where the backend's
 * latest HTTP answer starts and ends (struct lb_answer_framing), zero in the
 * probe and filled in by the answer (its arg16: enum lb_framing).
 *
 * probe  balancer → the bound backend, on an ACK in the client's direction at
 *        the connection's current numbers: "is anything of yours in flight?"
 *        The backend's ingress answers it and drops it.
 * answer the backend's ingress → the balancer, VIP → client, with
 *        LB_FIN_NOTICE_IP_FLAG set (the balancer believes it only from the
 *        flow's backend MAC): seq = the socket's first unacknowledged byte,
 *        ack = the next byte it expects from the client, val = what it has
 *        written beyond seq (sent or not).
 * adopt  balancer → a cookie-mode backend, on the segments of the request it
 *        takes over: the connection's current numbers replace the cookie as
 *        the proof; the backend builds the socket from seq and ack as they
 *        are (bpf_sk_assign_tcp_reqsk takes its ISNs from the ACK). If the
 *        backend still has the socket the connection left there idle (parked),
 *        it takes that up again instead, translated (struct lb_resume).
 * retire balancer → a cookie-mode backend, on a RST: the connection has ended,
 *        or its parked socket there is no longer wanted. The backend puts the
 *        RST at the socket's own next expected byte, so the kernel takes it.
 *        Its seq and ack as sent are the tag's only.
 *
 * Tags are 32 bits of SipHash-2-4 under the cookie key over the tuple, seq,
 * ack, arg and the cookie's time counter, so an option is valid for as long as
 * a cookie is and only for the numbers it was made for.
 */
#ifndef LATEBIND_REBIND_H
#define LATEBIND_REBIND_H

#include "cookie.h"

#define LB_REBIND_OPT_KIND 253
#define LB_REBIND_OPT_LEN  12
#define LB_PROBE_OPT_LEN   24 /* probe and answer: the framing report follows */
#define LB_PROBE_EXID	   0x4c50 /* "LP" */
#define LB_ANSWER_EXID	   0x4c41 /* "LA" */
#define LB_ADOPT_EXID	   0x4c52 /* "LR" */
#define LB_RETIRE_EXID	   0x4c58 /* "LX" */

/* answer's arg: what the backend found. */
enum lb_probe_status {
	LB_PROBE_IDLE = 1,     /* everything written is acknowledged, every request byte read */
	LB_PROBE_BUSY = 2,     /* bytes in flight, or request bytes still to come */
	LB_PROBE_NO_SOCKET = 3, /* no connection for the tuple */
};

struct lb_rebind_opt {
	__u8 kind;
	__u8 len;
	__be16 exid;
	__u8 arg;
	__u8 pad;
	__be16 arg16;
	__be32 val;
} __attribute__((packed));
_Static_assert(sizeof(struct lb_rebind_opt) == LB_REBIND_OPT_LEN, "lb_rebind_opt layout");

/*
 * The answer's arg16: what the backend's egress program knows of the latest
 * HTTP answer it sent on the connection since it got it (backend_common.h,
 * track_answers): the proof a pipelined request waits for (docs/packet-walk.md §5a).
 */
enum lb_framing {
	LB_FRAMING_NONE = 0,	/* no answer's head seen since the hand-off */
	LB_FRAMING_KNOWN = 1,	/* its head was read: start and end below */
	LB_FRAMING_UNKNOWN = 2, /* an answer whose end cannot be told (no Content-Length,
				 * chunked, a head not in one segment, not HTTP) */
	LB_FRAMING_INTERIM = 3, /* the latest head was a 1xx: the final one is still to come */
};

/* After the rebind option in probe and answer; offsets relative to the answer's seq. */
struct lb_answer_framing {
	__be32 start;	 /* the latest answer's first byte (its 1xx heads included) */
	__be32 end;	 /* the byte after its body, as its head frames it */
	__be32 body_len; /* its Content-Length (0 for 1xx, 204, 304): after a HEAD, the
			  * answer ends that much before `end` */
} __attribute__((packed));

struct lb_probe_opt {
	struct lb_rebind_opt o;
	struct lb_answer_framing f;
} __attribute__((packed));
_Static_assert(sizeof(struct lb_probe_opt) == LB_PROBE_OPT_LEN, "lb_probe_opt layout");

/* Domain separation from the cookie and the replay hand-off, which share the key. */
#define LB_REBIND_TAG_PROBE 0x50 /* 'P' */
#define LB_REBIND_TAG_ADOPT 0x52 /* 'R' */
#define LB_REBIND_TAG_RETIRE 0x58 /* 'X' */

LB_INLINE __u32 lb_rebind_tag(const __u64 key[2], const struct lb_cookie_tuple *t, __u32 seq,
			      __u32 ack, __u32 arg, __u32 counter, __u32 domain)
{
	__u64 a = (__u64)t->caddr | (__u64)t->vaddr << 32;
	__u64 b = (__u64)t->cport | (__u64)t->vport << 16 | (__u64)seq << 32;
	__u64 c = (__u64)ack | (__u64)(arg & 0xffff) << 32 | (__u64)(counter & 0xff) << 48 |
		  (__u64)(domain & 0xff) << 56;

	return (__u32)(lb_siphash_3u64(key, a, b, c) >> 32);
}

/*
 * Is @tag one the balancer made for these numbers within the cookie's accepted
 * windows, under the current key or the still-honoured previous one? 0 if so.
 */
LB_INLINE int lb_rebind_tag_check(const struct lb_cookie_secret *s, const struct lb_cookie_tuple *t,
				  __u32 seq, __u32 ack, __u32 arg, __u32 domain, __u32 tag,
				  __u64 tai_s)
{
	__u32 now = lb_cookie_counter(s, tai_s);
	int use_prev = s->prev_until_s && tai_s < s->prev_until_s;
	__u32 i;

	for (i = 0; i < LB_COOKIE_MAX_WINDOWS; i++) {
		if (i >= s->windows)
			break;
		if (lb_rebind_tag(s->key, t, seq, ack, arg, now - i, domain) == tag)
			return 0;
		if (use_prev && lb_rebind_tag(s->prev_key, t, seq, ack, arg, now - i, domain) == tag)
			return 0;
	}
	return -1;
}

#endif
