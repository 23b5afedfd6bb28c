/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Frames passed between dispatcher threads (docs/architecture.md, "Threads").
 * A connection belongs to one thread, chosen by a hash of its 4-tuple that is
 * the same in both directions (lb_frame_owner); a thread that receives a frame
 * of a connection it does not own copies it into a ring towards the owner.
 *
 * One ring per ordered pair of threads: a single producer and a single
 * consumer, lock-free (C11 atomics, acquire/release), fixed size. A full ring
 * drops the frame, and the client or backend retransmits it.
 */
#ifndef LATEBIND_THREAD_RING_H
#define LATEBIND_THREAD_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define LB_TRING_FRAME 2048 /* bytes a slot holds: an Ethernet frame of MTU 1500 */

struct lb_tring;

/* A ring of @slots frames (a power of two, >= 2). NULL with errno. */
struct lb_tring *lb_tring_new(unsigned int slots);
void lb_tring_free(struct lb_tring *r);

/*
 * Producer: a copy of @frame at the ring's end. 0, or -1 when the ring is
 * full or the frame longer than a slot (dropped, counted in lb_tring_drops).
 */
int lb_tring_push(struct lb_tring *r, const uint8_t *frame, size_t len);

typedef void (*lb_tring_fn)(void *ctx, const uint8_t *frame, size_t len);

/* Consumer: up to @max frames, oldest first, to @fn, then their slots are free. Returns how many. */
unsigned int lb_tring_drain(struct lb_tring *r, unsigned int max, lb_tring_fn fn, void *ctx);

/* Consumer: does the ring hold a frame (acquire: a frame pushed before a fence the caller orders with)? */
bool lb_tring_pending(struct lb_tring *r);

/* Frames the producer could not push (read by the producer, or after it stopped). */
uint64_t lb_tring_drops(const struct lb_tring *r);

/*
 * Which of @n threads owns the connection of @frame (Ethernet, IPv4, TCP):
 * a hash of {client addr:port, VIP addr:port} modulo @n, the same for the
 * client's segments and for the backend's frames from the VIP to the client.
 * -1 for a frame that is not such (its receiver keeps it: the dispatcher
 * drops it anyway).
 */
int lb_frame_owner(const uint8_t *frame, size_t len, unsigned int n);

#endif
