/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Where an HTTP answer ends, read from its head (docs/packet-walk.md §5a).
 * The backend's egress program feeds each answer's head through this scanner
 * one byte at a time as it goes out; userspace tests and fuzzes the same code.
 *
 * It accepts only what servers write, and anything else is "not framed" (the
 * caller then proves nothing): "HTTP/1.0" or "HTTP/1.1", a space, three
 * digits, a space or the line's end; header lines ending in CRLF, names
 * without white space; at most one Content-Length of decimal digits up to
 * LB_ANSWER_BODY_MAX; no Transfer-Encoding (chunked or not, its end is not in
 * the head); an empty line within LB_ANSWER_HEAD_MAX + 1 bytes.
 */
#ifndef LATEBIND_ANSWER_HEAD_H
#define LATEBIND_ANSWER_HEAD_H

#include "lb_types.h"

#define LB_ANSWER_HEAD_MAX 1023	      /* longer heads are not framed (a mask: 2^n - 1) */
#define LB_ANSWER_BODY_MAX (1u << 30) /* larger bodies are not framed */

enum lb_answer_phase {
	LB_AH_STATUS = 0, /* "HTTP/1.x NNN" */
	LB_AH_REASON,	  /* the rest of the status line */
	LB_AH_LF,	  /* a line's CR seen */
	LB_AH_LINE,	  /* at a line's start */
	LB_AH_NAME,	  /* in a field name */
	LB_AH_CL_VALUE,	  /* Content-Length, before its digits */
	LB_AH_CL_DIGITS,
	LB_AH_CL_AFTER, /* white space after them */
	LB_AH_VALUE,	/* any other field's value */
	LB_AH_END_LF,	/* the empty line's CR seen */
	LB_AH_DONE,	/* head_len, status and body_len are known */
	LB_AH_BAD,	/* not framed */
};

struct lb_answer_scan {
	__u32 phase;	/* enum lb_answer_phase */
	__u32 head_len; /* DONE: the head's bytes, its empty line included */
	__u32 body_len; /* Content-Length's value */
	__u16 status;
	__u8 name_pos; /* bytes of the field name so far (up to 255) */
	__u8 maybe;    /* which names it may still be: LB_AH_IS_* */
	__u8 has_cl;
	__u8 pad[3];
};

#define LB_AH_IS_CL 1 /* content-length */
#define LB_AH_IS_TE 2 /* transfer-encoding */

/* The lower-case names' bytes at @pos, 0 past their end. */
LB_INLINE __u8 lb_answer_name_byte(__u32 which, __u32 pos)
{
	const char cl[] = "content-length";
	const char te[] = "transfer-encoding";

	if (which == LB_AH_IS_CL)
		return pos < sizeof(cl) - 1 ? cl[pos] : 0;
	return pos < sizeof(te) - 1 ? te[pos] : 0;
}

/* The status line's first 13 bytes: @i's expected byte, or a class ('0': a digit). */
LB_INLINE int lb_answer_status_byte(struct lb_answer_scan *s, __u32 i, __u8 c)
{
	const char version[] = "HTTP/1.";

	if (i < sizeof(version) - 1)
		return c == version[i] ? 0 : -1;
	if (i == 7)
		return c == '0' || c == '1' ? 0 : -1;
	if (i == 8)
		return c == ' ' ? 0 : -1;
	if (i <= 11) {
		if (c < '0' || c > '9')
			return -1;
		s->status = s->status * 10 + (c - '0');
		return 0;
	}
	/* i == 12: the reason phrase, or none */
	if (c == ' ')
		s->phase = LB_AH_REASON;
	else if (c == '\r')
		s->phase = LB_AH_LF;
	else
		return -1;
	return 0;
}

LB_INLINE __u8 lb_answer_lower(__u8 c)
{
	return c >= 'A' && c <= 'Z' ? c + ('a' - 'A') : c;
}

/*
 * Byte @i of the answer is @c (the caller feeds 0, 1, 2, ... in order from a
 * zeroed scan). Returns 1 once the scan is DONE or BAD, 0 for more.
 */
LB_INLINE int lb_answer_head_byte(struct lb_answer_scan *s, __u32 i, __u8 c)
{
	switch (s->phase) {
	case LB_AH_STATUS:
		if (lb_answer_status_byte(s, i, c))
			goto bad;
		return 0;
	case LB_AH_REASON:
		if (c == '\r')
			s->phase = LB_AH_LF;
		else if (c == '\n')
			goto bad;
		return 0;
	case LB_AH_LF:
		if (c != '\n')
			goto bad;
		s->phase = LB_AH_LINE;
		return 0;
	case LB_AH_LINE:
		if (c == '\r') {
			s->phase = LB_AH_END_LF;
			return 0;
		}
		s->phase = LB_AH_NAME;
		s->name_pos = 0;
		s->maybe = LB_AH_IS_CL | LB_AH_IS_TE;
		/* fallthrough */
	case LB_AH_NAME:
		if (c == ':') {
			if (!s->name_pos)
				goto bad;
			if ((s->maybe & LB_AH_IS_TE) &&
			    !lb_answer_name_byte(LB_AH_IS_TE, s->name_pos))
				goto bad; /* its end is in the body's chunks */
			if ((s->maybe & LB_AH_IS_CL) &&
			    !lb_answer_name_byte(LB_AH_IS_CL, s->name_pos)) {
				if (s->has_cl)
					goto bad; /* two: which one holds is not ours to say */
				s->has_cl = 1;
				s->phase = LB_AH_CL_VALUE;
				return 0;
			}
			s->phase = LB_AH_VALUE;
			return 0;
		}
		if (c <= ' ' || c >= 0x7f)
			goto bad; /* white space, control bytes, a bare line end */
		if ((s->maybe & LB_AH_IS_CL) &&
		    lb_answer_name_byte(LB_AH_IS_CL, s->name_pos) != lb_answer_lower(c))
			s->maybe &= ~LB_AH_IS_CL;
		if ((s->maybe & LB_AH_IS_TE) &&
		    lb_answer_name_byte(LB_AH_IS_TE, s->name_pos) != lb_answer_lower(c))
			s->maybe &= ~LB_AH_IS_TE;
		if (s->name_pos < 255)
			s->name_pos++;
		else
			s->maybe = 0;
		return 0;
	case LB_AH_CL_VALUE:
		if (c == ' ' || c == '\t')
			return 0;
		s->phase = LB_AH_CL_DIGITS;
		if (c < '0' || c > '9')
			goto bad;
		/* fallthrough */
	case LB_AH_CL_DIGITS:
		if (c >= '0' && c <= '9') {
			if (s->body_len > LB_ANSWER_BODY_MAX / 10)
				goto bad;
			s->body_len = s->body_len * 10 + (c - '0');
			if (s->body_len > LB_ANSWER_BODY_MAX)
				goto bad;
			return 0;
		}
		s->phase = LB_AH_CL_AFTER;
		/* fallthrough */
	case LB_AH_CL_AFTER:
		if (c == ' ' || c == '\t')
			return 0;
		if (c != '\r')
			goto bad;
		s->phase = LB_AH_LF;
		return 0;
	case LB_AH_VALUE:
		if (c == '\r')
			s->phase = LB_AH_LF;
		else if (c == '\n')
			goto bad;
		return 0;
	case LB_AH_END_LF:
		if (c != '\n')
			goto bad;
		s->phase = LB_AH_DONE;
		s->head_len = i + 1;
		return 1;
	default: return 1;
	}
bad:
	s->phase = LB_AH_BAD;
	return 1;
}

/* A status whose answer has no body whatever its head says (RFC 9110 §6.4.1). */
LB_INLINE int lb_answer_bodiless(__u16 status)
{
	return status < 200 || status == 204 || status == 304;
}

#endif
