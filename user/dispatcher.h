/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dispatcher: the balancer's userspace half. It receives (via AF_XDP) the
 * segments of connections the XDP program accepted with a valid cookie, keeps
 * the little TCP state needed to collect a request head (ACKing what it holds),
 * parses the head, looks the resource up in the content directory and picks the
 * least-loaded healthy holder. Requests it cannot route get the balancer's own
 * small HTTP reply on the client's connection.
 *
 * It does no I/O itself: frames come in through lb_dispatcher_input(), go out
 * through the send callback, and time is passed in, so the unit tests drive the
 * real thing with frames and a clock of their own.
 */
#ifndef LATEBIND_DISPATCHER_H
#define LATEBIND_DISPATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cookie.h"
#include "directory.h"
#include "flow_table.h"
#include "maps.h"
#include "stats.h"

struct lb_histogram;
struct lb_segment;

struct lb_conn;
struct lb_dispatcher;

/* Sends one complete Ethernet frame; returns 0, or -1 if it could not be queued. */
typedef int (*lb_send_fn)(void *ctx, const uint8_t *frame, size_t len);

/*
 * What the dispatcher asks of the hand-off for a routed request (see handoff.h):
 *   LB_BIND_HANDOFF        cookie mode: hand the connection over now
 *   LB_BIND_REPLAY_SYN     replay mode: take the flow, send the replayed SYN
 *   LB_BIND_REPLAY_RESEND  no answer in time: send that SYN again
 *   LB_BIND_REPLAY_DONE    the backend's SYN/ACK came: send the client's ACK and
 *                          request, the flow goes to the fast path
 *   LB_BIND_REPLAY_ABORT   given up (no answer, refused, client gone): undo the
 *                          flow and the count, reset the backend's half-open one;
 *                          also a re-bind to a cookie-mode backend given up
 * and for a later request on a bound connection (per-request binding):
 *   LB_BIND_ADVANCE        the bound backend holds it: forward it, move the
 *                          flow's request end
 *   LB_BIND_PROBE          ask the bound backend what it has in flight
 *   LB_BIND_RETIRE         it has nothing: reset its socket, at its own numbers
 *   LB_BIND_HANDOFF/REPLAY_SYN  (with view.later) move the flow to the new
 *                          backend and hand the request over at the
 *                          connection's current numbers
 *   LB_BIND_ADOPT_RESEND   the new cookie-mode backend has not shown it took the
 *                          connection: the request again
 *   LB_BIND_SETTLE         it has: the flow goes to the fast path
 *   LB_BIND_RELEASE        the balancer answers this request itself: the flow
 *                          leaves its (retired) backend and comes to us
 *   LB_BIND_FORWARD        view.segment to the bound backend as it is
 */
enum lb_bind_step {
	LB_BIND_HANDOFF,
	LB_BIND_REPLAY_SYN,
	LB_BIND_REPLAY_RESEND,
	LB_BIND_REPLAY_DONE,
	LB_BIND_REPLAY_ABORT,
	LB_BIND_ADVANCE,
	LB_BIND_PROBE,
	LB_BIND_RETIRE,
	LB_BIND_ADOPT_RESEND,
	LB_BIND_SETTLE,
	LB_BIND_RELEASE,
	LB_BIND_FORWARD,
};

/*
 * Called with a request routed to @backend (index into the config's backends),
 * in that backend's hand-off mode. For LB_BIND_HANDOFF and LB_BIND_REPLAY_DONE,
 * returning 0 means the connection now belongs to the hand-off (the dispatcher
 * forgets it); for LB_BIND_REPLAY_SYN, that the replay is under way. Non-zero
 * makes the dispatcher try another holder or answer 503.
 */
typedef int (*lb_bind_fn)(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c,
			  uint32_t backend, enum lb_bind_step step);

struct lb_dispatcher_maps {
	/*
	 * The daemon's flow table, shared with the hand-off: every insert and
	 * removal goes through it. NULL: none (unit tests).
	 */
	struct lb_flow_table *flows;
	int backends_fd; /* -1: every backend is up with no load */
	/* Where the counters go: this thread's disp_stats row (mmapped); NULL: the dispatcher's own. */
	uint64_t *counters;
	/* The backends map mmapped (state, load; atomics shared with XDP), or NULL. */
	struct lb_backend *backends;
	int hint_gen_fd; /* `hint_gen` (headers/hint.h); -1: none */
	/* Non-zero: the hints' generation, already published (lb_hint_gen_next) by
	 * the daemon for its threads; 0: a new one is published in hint_gen_fd. */
	uint16_t hint_gen;
};

struct lb_dispatcher *lb_dispatcher_new(const struct lb_config *cfg, const struct lb_directory *dir,
					const struct lb_cookie_secret *secret,
					const struct lb_dispatcher_maps *maps, lb_send_fn send,
					void *send_ctx);
void lb_dispatcher_free(struct lb_dispatcher *d);

/*
 * A reloaded config and its directory; connections being collected carry on.
 * Request counts follow route names, read from the previous config's routes:
 * those must still be allocated during the call, even if @cfg is the storage
 * the previous config was in (the daemon refills its config in place).
 */
void lb_dispatcher_set_config(struct lb_dispatcher *d, const struct lb_config *cfg,
			      const struct lb_directory *dir);

/*
 * The same for one of several dispatchers (the daemon's threads): the hints'
 * generation @hint_gen is the one the daemon published for @dir
 * (lb_hint_gen_next), so every thread's hints are current together.
 */
void lb_dispatcher_set_config_gen(struct lb_dispatcher *d, const struct lb_config *cfg,
				  const struct lb_directory *dir, uint16_t hint_gen);
uint16_t lb_dispatcher_hint_gen(const struct lb_dispatcher *d);

/*
 * A new generation of same-holder hints (headers/hint.h) past @prev and past
 * the one in the `hint_gen` map (@hint_gen_fd; -1: none), published there:
 * hints made under an older directory stop being used.
 */
uint16_t lb_hint_gen_next(int hint_gen_fd, uint16_t prev);

/* Where routed requests go; without one, they are answered 503 and logged. */
void lb_dispatcher_set_bind(struct lb_dispatcher *d, lb_bind_fn bind, void *ctx);

/*
 * What a whole first request taken in one go counts once it is handed off:
 * counters, its route's hit, its backend's choice. A hand-off whose flow's
 * insert waits in a batch (handoff.h) holds it until the insert: one that loses
 * its flow is taken again and counted then, as if it had never been tried.
 */
struct lb_dispatch_tally {
	enum lb_dispatch_counter counts[10];
	unsigned int n;
	bool decided; /* route, route_name, bytes and chosen are set */
	uint32_t route, chosen;
	const char *route_name; /* the config's: apply it before a reload can free it */
	uint64_t bytes;
};

/*
 * Called by the bind function during the LB_BIND_HANDOFF of a whole first
 * request (lb_conn_view.fresh): its tally goes to @to when the hand-off is
 * done, instead of being counted; lb_dispatcher_tally() counts it later.
 */
void lb_dispatcher_hold_tally(struct lb_dispatcher *d, struct lb_dispatch_tally *to);

/* Count a held tally in, and empty it. */
void lb_dispatcher_tally(struct lb_dispatcher *d, struct lb_dispatch_tally *t);

/* At most this many connections collecting a request at once; the oldest gives way. */
void lb_dispatcher_set_max_conns(struct lb_dispatcher *d, size_t max);

/* One frame the XDP program sent up. @now_ms: CLOCK_MONOTONIC milliseconds. */
void lb_dispatcher_input(struct lb_dispatcher *d, const uint8_t *frame, size_t len,
			 uint64_t now_ms, uint64_t tai_s);

/*
 * For a frame of a connection another dispatcher thread owns: if it is a new
 * connection's first segment holding one whole request, hand it off here, as
 * the owner would, leaving nothing the owner needs (true). Else nothing is
 * done or counted (false): the frame goes to the owner.
 */
bool lb_dispatcher_take_whole(struct lb_dispatcher *d, const uint8_t *frame, size_t len,
			      uint64_t now_ms, uint64_t tai_s);

/* Run timers (request timeouts, reply retransmission, linger). Returns ms until the next. */
uint64_t lb_dispatcher_timers(struct lb_dispatcher *d, uint64_t now_ms);

/* First request byte to hand-off sent, for every hand-off (see metrics.h). */
const struct lb_histogram *lb_dispatcher_handoff_latency(const struct lb_dispatcher *d);
/* From holding a later request to its hand-off to the new backend starting (per-request binding). */
const struct lb_histogram *lb_dispatcher_rebind_latency(const struct lb_dispatcher *d);

/* Counters (flow_evictions read from the flow table), and the connections currently held. */
uint64_t lb_dispatcher_counter(const struct lb_dispatcher *d, enum lb_dispatch_counter c);
/* For events the daemon handles around the dispatcher (resets of dead backends' flows). */
void lb_dispatcher_count(struct lb_dispatcher *d, enum lb_dispatch_counter c, uint64_t n);
size_t lb_dispatcher_conns(const struct lb_dispatcher *d);
/* The flow table's eviction count into the counters (for a disp_stats row's readers); once per turn. */
void lb_dispatcher_publish_evictions(struct lb_dispatcher *d);
/* Requests per route, the most requested by name (the daemon merges the threads'). */
struct lb_route_counts;
struct lb_route_counts *lb_dispatcher_route_counts(struct lb_dispatcher *d);

/* What a hand-off needs to know about the connection it takes over. */
struct lb_conn_view {
	struct lb_flow_key key;
	uint8_t client_hop_mac[6]; /* where frames to the client go */
	uint8_t own_mac[6];
	uint32_t client_isn;
	uint32_t cookie;
	struct lb_cookie_opts opts;
	const uint8_t *request; /* the request bytes held, as the client sent them */
	uint32_t request_len;
	uint16_t client_window; /* as in the client's last segment, unscaled */
	bool ts_ok;
	uint32_t tsval;		/* the client's latest TSval */
	/*
	 * The latest TSval the client got from the balancer: our SYN/ACK's, or an
	 * ACK's sent while the request came in. Hand-off segments echo it, and
	 * the backend's timestamp clock continues from it (cookie mode: the kernel
	 * takes its offset from the echo; replay mode: T_lb in the option). An
	 * older clock would fail the client's PAWS check, and the backend's first
	 * segments would be dropped until retransmitted.
	 */
	uint32_t tsecr;
	/* Per-request binding. */
	bool later;	      /* a later request on a connection bound before: cookie is
			       * the server's sequence number less one, no cookie */
	bool fresh;	      /* no flow of ours yet: the hand-off inserts one only if @key has none */
	bool park;	      /* later: the backend it leaves keeps its socket (parked), not reset */
	uint32_t request_end; /* the client sequence number after this request's body */
	uint8_t flow_flags;   /* LB_FLOW_F_* for the flow */
	uint8_t syn_opts;     /* the cookie's low byte: what the client's SYN offered */
	uint16_t binds;	      /* backends the connection has had, this one included */
	uint32_t hint_hash;   /* the same-holder hint for the flow (headers/hint.h) */
	uint16_t hint_len;    /* 0: none */
	uint16_t hint_gen;
	const struct lb_segment *segment; /* LB_BIND_FORWARD: the client's segment */
};
void lb_conn_describe(const struct lb_conn *c, struct lb_conn_view *v);

#endif
