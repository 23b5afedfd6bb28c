/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Verdict and reason counters of the balancer's XDP program. Every packet the
 * program sees leaves through one exit that counts it in exactly one slot of the
 * per-CPU array `stats`; every drop has a reason of its own.
 *
 * The list is an X-macro so the enum (BPF and userspace) and the names printed
 * by `latebind status` and the exporter come from one place.
 */
#ifndef LATEBIND_STATS_H
#define LATEBIND_STATS_H

#include "lb_types.h"

/*    id                   name (metrics label)   what it counts */
#define LB_XDP_REASONS(X)                                                       \
	X(PASS_NOT_IPV4,      "pass_not_ipv4")      /* ARP, IPv6, ...: host's */ \
	X(PASS_NOT_VIP,       "pass_not_vip")       /* not to a VIP:port       */ \
	X(TX_SYNACK,          "tx_synack")          /* SYN answered, cookie    */ \
	X(DROP_HANDSHAKE_ACK, "drop_handshake_ack") /* valid bare ACK: done    */ \
	X(REDIRECT_DISPATCH,  "redirect_dispatch")  /* to the dispatcher (xsk) */ \
	X(DROP_NO_XSK,        "drop_no_xsk")        /* no dispatcher on queue  */ \
	X(DROP_BAD_COOKIE,    "drop_bad_cookie")    /* forged, stale, wrong key*/ \
	X(DROP_ETH_TRUNC,     "drop_eth_trunc")                                  \
	X(DROP_IP_TRUNC,      "drop_ip_trunc")                                   \
	X(DROP_IP_IHL,        "drop_ip_ihl")        /* ihl < 5                 */ \
	X(DROP_IP_OPTIONS,    "drop_ip_options")    /* none expected to a VIP  */ \
	X(DROP_IP_FRAGMENT,   "drop_ip_fragment")                                \
	X(DROP_IP_LEN,        "drop_ip_len")        /* tot_len vs. frame       */ \
	X(DROP_TCP_TRUNC,     "drop_tcp_trunc")                                  \
	X(DROP_TCP_DOFF,      "drop_tcp_doff")      /* doff < 5 or past end    */ \
	X(DROP_TCP_FLAGS,     "drop_tcp_flags")     /* SYN+FIN, no ACK, ...    */ \
	X(DROP_TCP_OPTIONS,   "drop_tcp_options")   /* malformed SYN options   */ \
	X(DROP_SYN_PAYLOAD,   "drop_syn_payload")   /* data on a SYN (no TFO)  */ \
	X(DROP_INTERNAL,      "drop_internal")      /* helper failed; a bug    */

enum lb_xdp_reason {
#define LB_REASON_ENUM(id, name) LB_XDP_##id,
	LB_XDP_REASONS(LB_REASON_ENUM)
#undef LB_REASON_ENUM
	LB_XDP_REASON_MAX
};

/* One slot of the per-CPU `stats` array. */
struct lb_counter {
	__u64 packets;
	__u64 bytes;
};

#if !defined(__bpf__)
static const char *const lb_xdp_reason_names[LB_XDP_REASON_MAX] = {
#define LB_REASON_NAME(id, name) [LB_XDP_##id] = name,
	LB_XDP_REASONS(LB_REASON_NAME)
#undef LB_REASON_NAME
};
#endif

#endif
