/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Verdict and reason counters of the balancer's XDP program. Every packet the
 * program sees leaves through one exit that counts it in exactly one slot of the
 * per-CPU array `stats`; every drop has a reason of its own. The local
 * backend's TC egress program (lb_local_egress) counts its two reasons there
 * too, and leaves every other packet uncounted.
 *
 * The list is an X-macro so the enum (BPF and userspace) and the names printed
 * by `latebind status` and the exporter come from one place; each name is its
 * id in lower case (tests/unit/test_metrics.c checks it).
 */
#ifndef LATEBIND_STATS_H
#define LATEBIND_STATS_H

#include "lb_types.h"
#include "maps.h" /* LB_MAX_QUEUES */

/*    id                   name (metrics label)   what it counts */
#define LB_XDP_REASONS(X)                                                       \
	X(PASS_NOT_IPV4,      "pass_not_ipv4")      /* ARP, IPv6, ...: host's */ \
	X(PASS_NOT_VIP,       "pass_not_vip")       /* not to a VIP:port       */ \
	X(TX_SYNACK,          "tx_synack")          /* SYN answered, cookie    */ \
	X(DROP_HANDSHAKE_ACK, "drop_handshake_ack") /* valid bare ACK: done    */ \
	X(REDIRECT_DISPATCH,  "redirect_dispatch")  /* to the dispatcher (xsk) */ \
	X(DROP_NO_XSK,        "drop_no_xsk")        /* no dispatcher on queue  */ \
	X(TX_FAST_PATH,       "tx_fast_path")       /* bound flow → backend    */ \
	X(TX_DIVERTED,        "tx_diverted")        /* backend FIN/RST → client*/ \
	X(DROP_DIVERT_NO_FLOW, "drop_divert_no_flow") /* diverted, flow unknown */ \
	X(DROP_DIVERT_NOT_BACKEND, "drop_divert_not_backend") /* not its backend's MAC */ \
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
	X(DROP_INTERNAL,      "drop_internal")      /* helper failed; a bug    */ \
	X(REDIRECT_REPLAY,    "redirect_replay")    /* backend's answer to a replayed SYN → dispatcher */ \
	X(REDIRECT_FAST_PATH, "redirect_fast_path") /* bound flow → backend behind another interface */ \
	X(REDIRECT_DIVERTED,  "redirect_diverted")  /* FIN/RST from another interface → client */ \
	X(DROP_NO_TX_PORT,    "drop_no_tx_port")    /* that interface is not in tx_ports/ifaces */ \
	X(DROP_FIN_NOTICE,    "drop_fin_notice")    /* backend's FIN notice: flow closed, its data+FIN went direct */ \
	X(REDIRECT_NEXT_REQUEST, "redirect_next_request") /* data past a bound flow's request: the next one → dispatcher */ \
	X(REDIRECT_PROBE_ANSWER, "redirect_probe_answer") /* backend's answer to a probe → dispatcher */ \
	X(REDIRECT_MOVING,    "redirect_moving")    /* client packet while the new backend adopts → dispatcher */ \
	X(TX_SAME_HOLDER,     "tx_same_holder")     /* next request, same backend by its hint: forwarded here */ \
	X(PASS_OTHER_HOST,    "pass_other_host")    /* to another host's MAC (a promiscuous port, a flooding switch) */ \
	X(PASS_LOCAL,         "pass_local")         /* bound flow → the balancer's own stack (local: true) */ \
	X(LOCAL_END,          "local_end")          /* the local backend's FIN/RST, seen by lb_local_egress: flow closed */ \
	X(DROP_LOCAL_REFUSAL, "drop_local_refusal") /* ... its RST of a connection moving to it: the dispatcher retries */ \
	X(TX_CLIENT_RESET,    "tx_client_reset")    /* client segment after its backend's RST: our RST at its ack */

/*
 * The backend's TC programs (ingress: adopting hand-offs; egress: FIN/RST
 * diversion), cookie mode and replay mode in one list: a counter a mode never
 * uses stays at zero.
 */
#define LB_BACKEND_REASONS(X)                                                   \
	X(PASS_OTHER,        "pass_other")        /* not for the VIP service      */ \
	X(PASS_SOCKET,       "pass_socket")       /* for an existing connection   */ \
	X(PASS_NO_LISTENER,  "pass_no_listener")  /* nothing listens: kernel RSTs */ \
	X(ADOPTED,           "adopted")           /* cookie ACK → connection      */ \
	X(DROP_NOT_BALANCER, "drop_not_balancer") /* cookie ACK from elsewhere    */ \
	X(DROP_BAD_COOKIE,   "drop_bad_cookie")                                  \
	X(DROP_MALFORMED,    "drop_malformed")                                   \
	X(DROP_ASSIGN_FAILED, "drop_assign_failed") /* the kernel refused it      */ \
	X(TIME_WAIT_CLEARED, "time_wait_cleared") /* port reuse: SYN+FIN first   */ \
	X(DROP_TIME_WAIT,    "drop_time_wait")    /* TIME_WAIT would not clear   */ \
	X(EGRESS_DIVERTED,   "egress_diverted")   /* FIN/RST sent to the balancer */ \
	X(EGRESS_SYNACK_DROPPED, "egress_synack_dropped") /* never ours to send */ \
	X(EGRESS_PASS,       "egress_pass")                                      \
	X(DROP_SPOOF_REAL_ADDR, "drop_spoof_real_addr") /* ACK to the real address finding only the listener */ \
	X(REPLAY_SYN,        "replay_syn")        /* hand-off SYN: recorded, passed */ \
	X(DROP_FORGED_HANDOFF, "drop_forged_handoff") /* option: not the balancer's, bad tag or cookie */ \
	X(DROP_SYN_NO_HANDOFF, "drop_syn_no_handoff") /* replay: SYN to the VIP without the option */ \
	X(REPLAY_SYNACK_DIVERTED, "replay_synack_diverted") /* answer to a hand-off SYN → balancer */ \
	X(REPLAY_IN,         "replay_in")         /* client segment translated    */ \
	X(REPLAY_OUT,        "replay_out")        /* backend segment translated   */ \
	X(REPLAY_NO_ENTRY,   "replay_no_entry")   /* VIP segment, no hand-off: untouched */ \
	X(DROP_REPLAY_EARLY, "drop_replay_early") /* client ACK before our SYN/ACK */ \
	X(DROP_REWRITE_FAILED, "drop_rewrite_failed") /* a helper failed; a bug     */ \
	X(EGRESS_FIN_DIRECT, "egress_fin_direct") /* FIN with data: the copy going straight to the client */ \
	X(EGRESS_FIN_NOTICE, "egress_fin_notice") /* ... and its header-only notice to the balancer */ \
	X(PROBE_ANSWERED,    "probe_answered")    /* balancer's probe: answer sent back */ \
	X(DROP_BAD_PROBE,    "drop_bad_probe")    /* probe: not from the balancer, or a bad tag */ \
	X(REBIND_ADOPTED,    "rebind_adopted")    /* next request's hand-off → connection */ \
	X(DROP_BAD_REBIND,   "drop_bad_rebind")   /* its option: not the balancer's, or a bad tag */ \
	X(RESUMED,           "resumed")           /* ... found its idle socket here: taken up again */ \
	X(STALE_RESET,       "stale_reset")       /* ... found one not idle: reset, then adopted */ \
	X(DROP_STALE,        "drop_stale")        /* ... and the hand-off found it there again */ \
	X(RESUME_IN,         "resume_in")         /* client segment translated for a resumed socket */ \
	X(RESUME_OUT,        "resume_out")        /* resumed socket's segment translated */ \
	X(PARKED_RETIRED,    "parked_retired")    /* balancer's retire: the socket reset */ \
	X(RETIRE_NO_SOCKET,  "retire_no_socket")  /* ... nothing left to reset */ \
	X(DROP_BAD_RETIRE,   "drop_bad_retire")   /* its option: not the balancer's, or a bad tag */

enum lb_backend_reason {
#define LB_BREASON_ENUM(id, name) LB_BE_##id,
	LB_BACKEND_REASONS(LB_BREASON_ENUM)
#undef LB_BREASON_ENUM
	LB_BE_REASON_MAX
};

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

/*
 * The dispatcher's counters (userspace only), in the pinned array
 * `disp_stats` (struct lb_disp_row) so `latebind status` and bpftool read them
 * like the rest.
 */
#define LB_DISPATCH_COUNTERS(X)                                                 \
	X(CONNS_TAKEN,       "conns_taken")       /* valid first segment: buffering */ \
	X(CONNS_EVICTED,     "conns_evicted")     /* oldest dropped at the global cap */ \
	X(BAD_COOKIE,        "bad_cookie")        /* re-validation failed            */ \
	X(SEGMENTS,          "segments")          /* client segments received        */ \
	X(BAD_CHECKSUM,      "bad_checksum")      /* damaged on the way: dropped     */ \
	X(SEGMENTS_DUP,      "segments_dup")      /* nothing new in them             */ \
	X(SEGMENTS_OOO,      "segments_ooo")      /* ahead of a hole, kept           */ \
	X(SEGMENTS_OUTSIDE,  "segments_outside")  /* beyond the request limit        */ \
	X(CLIENT_RST,        "client_rst")        /* reset before binding            */ \
	X(CLIENT_FIN,        "client_fin")        /* closed before a full request    */ \
	X(DECISIONS,         "decisions")         /* request parsed, backend chosen  */ \
	X(REPLY_302,         "reply_302")         /* redirect mode: sent to the chosen holder */ \
	X(REPLY_307,         "reply_307")                                             \
	X(REPLY_308,         "reply_308")                                             \
	X(REPLY_400,         "reply_400")                                             \
	X(REPLY_404,         "reply_404")                                             \
	X(REPLY_408,         "reply_408")                                             \
	X(REPLY_414,         "reply_414")                                             \
	X(REPLY_431,         "reply_431")                                             \
	X(REPLY_501,         "reply_501")                                             \
	X(REPLY_503,         "reply_503")                                             \
	X(REPLY_505,         "reply_505")                                             \
	X(REPLY_RETRANSMITS, "reply_retransmits") /* our reply sent again            */ \
	X(REPLY_ABANDONED,   "reply_abandoned")   /* client never acknowledged it    */ \
	X(TCP_MODE_UNBOUND,  "tcp_mode_unbound")  /* tcp-mode VIP: binding not built   */ \
	X(TX_FULL,           "tx_full")           /* no room to send a frame         */ \
	X(FLOWS_RESET,       "flows_reset")       /* clients of a dead backend reset */ \
	X(REPLAY_SYNS,       "replay_syns")       /* SYNs replayed to replay-mode backends */ \
	X(REPLAY_RETRANSMITS, "replay_retransmits") /* ... sent again: no SYN/ACK in time */ \
	X(REPLAY_DONE,       "replay_done")       /* SYN/ACK came: connection handed over */ \
	X(REPLAY_FAILED,     "replay_failed")     /* no answer or refused: next holder   */ \
	X(REPLAY_HELD,       "replay_held")       /* client segments dropped meanwhile   */ \
	X(FLOW_EVICTIONS,    "flow_evictions")    /* flow table full: one made room  */ \
	X(REQUESTS_NEXT,     "requests_next")     /* a later request on a bound connection */ \
	X(REQUESTS_SAME_HOLDER, "requests_same_holder") /* ... its backend holds it: forwarded */ \
	X(REQUESTS_HELD,     "requests_held")     /* ... waited for the previous response    */ \
	X(REBINDS,           "rebinds")           /* ... moved to another backend            */ \
	X(REBIND_FAILED,     "rebind_failed")     /* the new backend never took it: 503       */ \
	X(REBINDS_PARKED,    "rebinds_parked")    /* ... of those, the old backend's socket kept for a return */ \
	X(PARKED_RETIRES,    "parked_retires")    /* retires sent: parked sockets no longer wanted */ \
	X(STAYS_BODY,        "stays_body")        /* bound for good: a body not followed (chunked, > 1 GiB) */ \
	X(STAYS_UPGRADE,     "stays_upgrade")     /* bound for good: Upgrade asked            */ \
	X(STAYS_BUSY,        "stays_busy")        /* the backend kept sending: left with it   */ \
	X(STAYS_PIPELINED,   "stays_pipelined")   /* bound for good: a pipelined request, the answer before it not proven complete */ \
	X(PIPELINED_PROVEN,  "pipelined_proven")  /* a pipelined request bound once the answer before it was complete */ \
	X(PIPELINED_UNFRAMED, "pipelined_unframed") /* ... stayed: that answer's end is not in its head (chunked, no Content-Length) */ \
	X(STAYS_LOCAL,       "stays_local")       /* bound for good: to the balancer's own web server */ \
	X(PEER_VIEWS_SENT,   "peer_views_sent")   /* flow views for the peer balancers (user/peer_sync.h) */ \
	X(PEER_DATAGRAMS_SENT, "peer_datagrams_sent") /* ... datagrams, counted per peer       */ \
	X(PEER_SEND_ERRORS,  "peer_send_errors")  /* ... refused by the kernel (unreachable, full) */ \
	X(PEER_VIEWS_RECEIVED, "peer_views_received") /* from peers, in datagrams that passed  */ \
	X(PEER_VIEWS_APPLIED, "peer_views_applied") /* ... taken: new here or newer than ours  */ \
	X(PEER_VIEWS_STALE,  "peer_views_stale")  /* ... left: ours newer, or the dispatcher's */ \
	X(PEER_VIEWS_UNKNOWN_BACKEND, "peer_views_unknown_backend") /* ... a backend we do not have */ \
	X(PEER_DATAGRAMS_REJECTED, "peer_datagrams_rejected") /* not a peer's, malformed, bad tag, replayed */ \
	X(THREAD_HANDOFFS,   "thread_handoffs")   /* frames passed to the thread owning their connection */ \
	X(THREAD_RING_FULL,  "thread_ring_full")  /* ... dropped: that thread's ring was full */ \
	X(THREAD_TAKEN_WHOLE, "thread_taken_whole") /* another thread's new connection, its whole request handed off by the receiver */

enum lb_dispatch_counter {
#define LB_DISP_ENUM(id, name) LB_DISP_##id,
	LB_DISPATCH_COUNTERS(LB_DISP_ENUM)
#undef LB_DISP_ENUM
	LB_DISP_MAX
};

/*
 * One row of `disp_stats`, mmapped by the daemon: row 0 is the main thread's
 * own counts, row 1 + t dispatcher thread t's. Each thread writes its row as
 * it counts, so `latebind status` (the sum of the rows) is never behind and
 * no thread is woken to publish. A daemon zeroes every row when it starts.
 */
struct lb_disp_row {
	__u64 counts[LB_DISP_MAX];
};

#define LB_DISP_ROWS (1 + LB_MAX_QUEUES)

/*
 * Each dispatcher thread's own figures (docs/architecture.md, "Threads") in the
 * pinned array `disp_threads`, index = thread, mmapped by the daemon: written
 * by the thread itself at the end of each turn of its loop, read by
 * `latebind status` and the exporter. X(field, metric type, what it counts).
 */
#define LB_THREAD_FIGURES(X)                                                          \
	X(frames,       "counter", "Frames from the thread's own AF_XDP sockets.")       \
	X(handoffs_out, "counter", "Frames it passed to the thread owning their connection.") \
	X(handoffs_in,  "counter", "Frames other threads passed to it.")                  \
	X(ring_full,    "counter", "Frames it could not pass: the owner's ring was full.") \
	X(decisions,    "counter", "Requests it parsed and routed.")                       \
	X(connections,  "gauge",   "Connections it holds while their request arrives, is replayed or moves.")

struct lb_disp_thread {
	__u32 queues;	   /* RX queues it serves; 0: no such thread */
	__u32 first_queue; /* the lowest of them: thread t serves the queues q with q % n == t */
#define LB_THREAD_FIELD(field, type, help) __u64 field;
	LB_THREAD_FIGURES(LB_THREAD_FIELD)
#undef LB_THREAD_FIELD
};
_Static_assert(sizeof(struct lb_disp_thread) == 8 + 6 * 8, "lb_disp_thread: no padding");

#if !defined(__bpf__)
#include <stddef.h>
#include <string.h>

/* LB_THREAD_FIGURES as a table: what `status` and the exporter show of each thread. */
static const struct {
	const char *name, *type, *help;
	size_t off;
} lb_thread_figures[] = {
#define LB_THREAD_ROW(f, type, help) { #f, type, help, offsetof(struct lb_disp_thread, f) },
	LB_THREAD_FIGURES(LB_THREAD_ROW)
#undef LB_THREAD_ROW
};
#define LB_THREAD_FIGURES_N (sizeof(lb_thread_figures) / sizeof(lb_thread_figures[0]))

static inline __u64 lb_thread_figure(const struct lb_disp_thread *t, size_t i)
{
	__u64 v;

	memcpy(&v, (const char *)t + lb_thread_figures[i].off, sizeof(v));
	return v;
}

static const char *const lb_dispatch_counter_names[LB_DISP_MAX] = {
#define LB_DISP_NAME(id, name) [LB_DISP_##id] = name,
	LB_DISPATCH_COUNTERS(LB_DISP_NAME)
#undef LB_DISP_NAME
};

static const char *const lb_backend_reason_names[LB_BE_REASON_MAX] = {
#define LB_BREASON_NAME(id, name) [LB_BE_##id] = name,
	LB_BACKEND_REASONS(LB_BREASON_NAME)
#undef LB_BREASON_NAME
};

static const char *const lb_xdp_reason_names[LB_XDP_REASON_MAX] = {
#define LB_REASON_NAME(id, name) [LB_XDP_##id] = name,
	LB_XDP_REASONS(LB_REASON_NAME)
#undef LB_REASON_NAME
};
#endif

#endif
