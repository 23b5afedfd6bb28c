/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Handing a connection to its backend, cookie mode: the flow goes into the
 * flows map as bound (so the XDP program forwards everything after), the
 * backend's active count goes up once, and the client's ACK and request bytes
 * are sent to the backend's MAC exactly as the client could have sent them. The
 * backend's TC program validates the cookie and its kernel adopts the connection.
 */
#ifndef LATEBIND_HANDOFF_H
#define LATEBIND_HANDOFF_H

#include <stdint.h>

#include "config.h"
#include "dispatcher.h"
#include "maps.h"

struct lb_handoff {
	const struct lb_config *cfg;
	struct lb_backend *backends; /* the mmapped backends map */
	int flows_fd;
	lb_send_fn send;
	void *send_ctx;
	uint64_t now_ns;	     /* CLOCK_MONOTONIC, set by the caller per batch */
	uint8_t frame[2048];
};

/* An lb_bind_fn: 0 when the hand-off is under way, -1 to have the client told 503. */
int lb_handoff_cookie(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c,
		      uint32_t backend);

#endif
