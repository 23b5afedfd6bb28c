/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The backend's maps (docs/maps.md): the one definition of their keys and
 * values. `handoffs` (replay mode) is written by bpf/backend_replay.bpf.c and
 * read and pruned by `latebind backend status`; `balancer_of` (both modes,
 * several balancers) is written and read by both objects' TC programs
 * (bpf/backend_common.h).
 *
 * One entry per handed-off connection, keyed by the 4-tuple as the client
 * sends it (client → VIP). It holds what the backend's TC programs need to
 * translate between the client's view of the connection (the balancer's
 * cookie as ISN, its timestamp clock and window scale) and the backend
 * kernel's own (its ISN, clock and scale).
 */
#ifndef LATEBIND_BACKEND_MAPS_H
#define LATEBIND_BACKEND_MAPS_H

#include "lb_types.h"

/* Where `latebind backend attach` pins (the balancer checks it for a local backend). */
#define LB_BACKEND_PIN_DIR "/sys/fs/bpf/latebind-backend"

/* Pinned under the backend's bpffs folder as "handoffs". */
#define LB_HANDOFFS_MAX 65536

struct lb_handoff_key {
	__be32 caddr; /* client */
	__be32 vaddr; /* VIP */
	__be16 cport;
	__be16 vport;
};
_Static_assert(sizeof(struct lb_handoff_key) == 12, "lb_handoff_key layout");

enum lb_handoff_state {
	LB_HO_SYN_SEEN = 1,    /* replayed SYN accepted; backend's SYN/ACK maybe seen */
	LB_HO_ESTABLISHED = 2, /* the client's hand-off ACK went in */
	LB_HO_CLOSING = 3,     /* a FIN went either way */
};

/* lb_handoff.flags */
#define LB_HO_F_SYNACK 0x01 /* backend_isn, be_tsval and be_wscale are known */

/*
 * Sequence numbers and timestamps in host order. The translations:
 *   backend → client: seq + (client_isn − backend_isn), TSval + (lb_tsval − be_tsval)
 *   client → backend: ack and SACK edges − (client_isn − backend_isn),
 *                     TSecr − (lb_tsval − be_tsval)
 */
struct lb_handoff {
	__u32 client_isn;  /* C: the ISN the client was given (the balancer's cookie) */
	__u32 backend_isn; /* B: the ISN of the backend's SYN/ACK */
	__u32 lb_tsval;	   /* T_lb: the latest TSval the client had from the balancer */
	__u32 be_tsval;	   /* T_be: TSval of the backend's SYN/ACK */
	__u64 last_seen_ns; /* bpf_ktime_get_ns() (CLOCK_MONOTONIC) of the last packet */
	__u8 ws_adv;	   /* window scale the client was told; LB_COOKIE_WSCALE_NONE: none */
	__u8 be_wscale;	   /* the backend's own, from its SYN/ACK (0 without the option) */
	__u8 has_ts;	   /* the replayed SYN carried timestamps */
	__u8 state;	   /* enum lb_handoff_state */
	__u8 flags;	   /* LB_HO_F_* */
	__u8 pad[3];
};
_Static_assert(sizeof(struct lb_handoff) == 32, "lb_handoff layout");

/*
 * `answers`: connection (client → VIP) → where the backend's HTTP answers on
 * it start and end, in the socket's own sequence numbers (docs/packet-walk.md
 * §5a). Made at each hand-off to this host (next = the socket's first byte),
 * moved by the egress program at every answer's head, read by the probe's
 * answer. LRU: a connection idle for longest goes first; a missing entry only
 * means no proof, and its pipelined requests stay where they are.
 */
#define LB_ANSWERS_MAX 65536

struct lb_answer_track {
	__u32 next;	/* where the next answer's head is due */
	__u32 start;	/* the latest answer's first byte (its 1xx heads included) */
	__u32 end;	/* the byte after its body */
	__u32 body_len; /* its Content-Length; 0 without a body */
	__u16 status;	/* its latest head's */
	__u8 framing;	/* enum lb_framing (rebind.h) */
	__u8 pad;
};
_Static_assert(sizeof(struct lb_answer_track) == 20, "lb_answer_track layout");

/*
 * `resumed` (cookie mode; socket-local storage, so it goes with its socket):
 * a connection that left this host and came back, to the socket it left
 * idle ("parked", docs/parked-sockets.md). The client's numbers have moved on
 * meanwhile; the socket's have not. In host order:
 *   client → socket: seq − seq_delta, ack and SACK edges − ack_delta,
 *                    TSecr − ts_delta
 *   socket → client: seq + ack_delta, ack and SACK edges + seq_delta,
 *                    TSval + ts_delta
 * A socket this host adopted and never left has no entry: nothing to translate.
 */
#define LB_RESUME_TS_PENDING 2 /* just resumed: ts_delta holds the socket's clock until the
				* first segment's TSecr makes it the delta */

struct lb_resume {
	__u32 seq_delta; /* the client's sequence numbers less the socket's view of them */
	__u32 ack_delta; /* the server side's numbers as the client knows them, less the socket's */
	__u32 ts_delta;	 /* added to the socket's TSvals */
	__u32 at_seq;	 /* the client's seq and ack the resume was made at: the same */
	__u32 at_ack;	 /*   request sent again takes the same deltas */
	__u8 has_ts;	 /* 1: translate timestamps; LB_RESUME_TS_PENDING: see below */
	__u8 pad[3];
};
_Static_assert(sizeof(struct lb_resume) == 24, "lb_resume layout");

/*
 * How long `latebind backend status --gc` lets an entry that can no longer
 * carry traffic sit idle: CLOSING beyond the kernel's 60 s TIME_WAIT, SYN_SEEN
 * (a replay the dispatcher gave up on) beyond any retransmission of it.
 */
#define LB_HANDOFF_LINGER_NS (120 * LB_NS_PER_S)

/*
 * Several balancers (docs/packet-walk.md, §6): how many MACs `latebind backend
 * attach --balancer-mac` takes. Every hand-off is checked against each in
 * turn (an unrolled loop, in load-time settings of fixed size), so the list
 * stays small; a site's ECMP group of balancers is a handful. Raise it and
 * rebuild for more.
 */
#define LB_MAX_BALANCERS 4

/*
 * `balancer_of`: connection (an lb_handoff_key, client → VIP) → index of the
 * balancer MAC that last forwarded one of its packets here, so that what the
 * backend diverts goes to a balancer that knows the flow. LRU: the entry of a
 * connection idle for longest goes first, and a missing entry only costs the
 * fallback below. Default size; `attach --balancer-flows` sets another.
 */
#define LB_BALANCER_OF_MAX 65536

/*
 * The fallback for a connection with no `balancer_of` entry: one of the @n
 * configured balancers, chosen by a hash of the 4-tuple so that every segment
 * of that connection goes to the same one. It need agree with nothing else
 * (balancers share bindings: any of them can forward it), only spread.
 */
LB_INLINE __u32 lb_balancer_pick(const struct lb_handoff_key *k, __u32 n)
{
	__u32 h = k->caddr ^ (k->vaddr * 0x9e3779b1U) ^ ((__u32)k->cport << 16 | k->vport);

	/* Murmur3's finaliser: every input bit reaches the low bits the modulo keeps. */
	h ^= h >> 16;
	h *= 0x85ebca6bU;
	h ^= h >> 13;
	h *= 0xc2b2ae35U;
	h ^= h >> 16;
	return n ? h % n : 0;
}

#endif
