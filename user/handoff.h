/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handing a connection to its backend. The flow goes into the flows map (so the
 * XDP program forwards what follows), the backend's active count goes up once,
 * and the client's ACK and request bytes are sent to the backend's MAC exactly
 * as the client could have sent them.
 *
 * cookie mode: at once. The backend's TC program validates the cookie and its
 *   kernel adopts the connection.
 * replay mode: first a SYN rebuilt from the client's (its ISN, the options its
 *   cookie remembers) with the hand-off option; the flow waits in REPLAY state
 *   until the backend's SYN/ACK comes back through the XDP program. Then the
 *   ACK and request follow, in the client's sequence space: the backend's TC
 *   programs translate every packet of the connection from then on.
 */
#ifndef LATEBIND_HANDOFF_H
#define LATEBIND_HANDOFF_H

#include <stdint.h>

#include "config.h"
#include "dispatcher.h"
#include "flow_table.h"
#include "maps.h"

/*
 * An interface of the balancer other than the main one, with backends behind
 * it (lb_backend.ifindex). Their hand-off frames leave through it from a raw
 * socket: hand-offs are a few frames per connection, not the fast path.
 */
struct lb_handoff_port {
	uint32_t ifindex; /* LB_IFINDEX_LOCAL: lo, towards the balancer's own stack */
	uint8_t mac[6]; /* ours there: the source of hand-off frames */
	int fd;		/* AF_PACKET socket bound to it */
};

/*
 * New connections' hand-offs gathered over a batch of received frames: each
 * whole request taken in cookie mode towards a backend behind the main
 * interface puts its flow in the table together with the others, in one system
 * call (lb_handoff_commit()), and its frame leaves only once its flow is in.
 * Without a batch (NULL), each hand-off takes its own call.
 */
#define LB_HANDOFF_BATCH     LB_FLOW_BINDS /* as many as a batch of received frames */
#define LB_HANDOFF_FRAME_MAX 2048

struct lb_handoff_frame {
	uint16_t len;
	uint8_t data[LB_HANDOFF_FRAME_MAX];
};

struct lb_handoff_batch {
	struct lb_flow_binds binds; /* the flows, as the lb_flow_binds program takes them */
	struct lb_handoff_frame out[LB_HANDOFF_BATCH]; /* the request, to the backend */
	struct lb_handoff_frame in[LB_HANDOFF_BATCH];  /* the client's frame it came in */
	struct lb_dispatch_tally tally[LB_HANDOFF_BATCH]; /* its counts, in once its flow is */
	struct lb_dispatcher *disp; /* whose counts they are */
	/* Set by the caller around each received frame: what a deferred hand-off keeps. */
	const uint8_t *rx_frame;
	size_t rx_len;
};

/* Called by lb_handoff_commit() for a received frame whose hand-off lost its flow (a flow there). */
typedef void (*lb_handoff_retry_fn)(void *ctx, const uint8_t *frame, size_t len);

/*
 * What the hand-off works with. Not to be confused with struct lb_handoff in
 * headers/backend_maps.h, the value of a replay-mode backend's `handoffs` map.
 */
struct lb_handoff_ctx {
	const struct lb_config *cfg;
	struct lb_flow_table *flows; /* the daemon's, shared with the dispatcher */
	struct lb_backend *backends; /* the mmapped backends map */
	lb_send_fn send;	     /* backends behind the main interface */
	void *send_ctx;
	const struct lb_handoff_port *ports; /* the others; NULL when there are none */
	size_t n_ports;
	const struct lb_handoff_port *local; /* lo, for the local backend; NULL: none */
	const struct lb_cookie_secret *secret; /* keys the replay hand-off option */
	uint64_t now_ns;	     /* CLOCK_MONOTONIC, set by the caller per batch */
	uint8_t own_mac[6];	     /* ours on the main interface: retires made without a frame */
	struct lb_handoff_batch *batch; /* or NULL: every hand-off at once */
	struct lb_handoff_frame *capture; /* the frame being built goes here instead of out */
	uint8_t frame[LB_HANDOFF_FRAME_MAX];
};

struct lb_ifaces;

/*
 * @h set up to hand off and retire through @ifs: frames for a backend behind
 * the main interface go to @send, the others out of @ifs' side ports or lo
 * (a local backend). No batch: a caller that batches sets h->batch.
 */
void lb_handoff_init(struct lb_handoff_ctx *h, const struct lb_config *cfg,
		     struct lb_flow_table *flows, struct lb_backend *backends,
		     const struct lb_cookie_secret *secret, const struct lb_ifaces *ifs,
		     lb_send_fn send, void *send_ctx);

/* The lb_bind_fn of the balancer (see enum lb_bind_step); @ctx: a struct lb_handoff_ctx. */
int lb_handoff_bind(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c, uint32_t backend,
		    enum lb_bind_step step);

/*
 * The batch's flows into the table, then their frames out and their counts in.
 * A hand-off whose flow could not go in (another thread's or a peer's flow on
 * those ports) sends and counts nothing: its received frame goes to @retry, for
 * the caller to take again without a batch, as it would have been taken had
 * the insert come first.
 */
void lb_handoff_commit(struct lb_handoff_ctx *h, lb_handoff_retry_fn retry, void *ctx);

/*
 * @k's connection has ended, or no longer needs its parked sockets
 * (@parked: backend index + 1 each, 0: none; docs/parked-sockets.md): each
 * backend is sent a retire, which resets the socket there. Returns how many went out.
 */
unsigned int lb_handoff_retire_parked(struct lb_handoff_ctx *h, const struct lb_flow_key *k,
			      const uint8_t parked[LB_FLOW_PARKED]);

/* Whether @frame (either way) belongs to a connection whose hand-off waits in the batch. */
bool lb_handoff_waiting(const struct lb_handoff_ctx *h, const uint8_t *frame, size_t len);

#endif
