/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dispatcher's AF_XDP sockets (libxdp's xsk API): one per RX queue of the
 * balancer's interface, each with its own UMEM. Half of a UMEM's frames feed
 * the FILL ring, the other half are the TX pool; completed TX frames return to
 * the pool. Zero-copy where the driver allows, copy mode otherwise.
 */
#ifndef LATEBIND_XSK_H
#define LATEBIND_XSK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct lb_xsk;

/*
 * Open a socket on every RX queue of @ifname and enter it in the XSKMAP
 * @xsks_map_fd: zero-copy where the driver has it, else copy mode (logged),
 * need-wakeup either way. Each queue is used by one thread at a time. Our own XDP program does the redirecting, so libxdp's default
 * program is not loaded. Returns NULL with errno set.
 */
struct lb_xsk *lb_xsk_open(const char *ifname, int xsks_map_fd);
void lb_xsk_close(struct lb_xsk *x);

unsigned int lb_xsk_queues(const struct lb_xsk *x);
bool lb_xsk_zerocopy(const struct lb_xsk *x);
int lb_xsk_fd(const struct lb_xsk *x, unsigned int queue);

#define LB_XSK_BUSY_POLL_US 20 /* SO_BUSY_POLL: how long a poll spins on the queue */

/*
 * dispatcher.busy_poll: every socket polls its queue itself (preferred busy
 * polling) rather than waiting for the NIC's interrupt. 0, or a negative errno
 * (the sockets then poll as before).
 */
int lb_xsk_busy_poll(struct lb_xsk *x);

typedef void (*lb_xsk_rx_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Hand every received frame of @queue to @fn (in batches), refill. Returns frames seen. */
unsigned int lb_xsk_rx(struct lb_xsk *x, unsigned int queue, lb_xsk_rx_fn fn, void *ctx);

/* Queue one frame for sending on @queue; lb_xsk_flush() kicks the kernel. */
int lb_xsk_send(struct lb_xsk *x, unsigned int queue, const uint8_t *frame, size_t len);
void lb_xsk_flush(struct lb_xsk *x, unsigned int queue);

/*
 * lb_xsk_flush(), unless the caller's next poll() on @queue's socket sends the
 * frames anyway: with need-wakeup, poll() drives the transmit too (copy mode:
 * up to a batch of LB_XSK_POLL_TX frames; zero-copy: the driver's wake-up), so
 * a thread about to poll saves a sendto() per turn. Only for a thread that
 * polls the socket next, with nothing slow in between.
 */
#define LB_XSK_POLL_TX 32 /* the kernel's default copy-mode budget per call */
void lb_xsk_flush_by_poll(struct lb_xsk *x, unsigned int queue);

#endif
