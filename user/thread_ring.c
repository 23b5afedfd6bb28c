// SPDX-License-Identifier: GPL-2.0
/* The rings between dispatcher threads and the connections' owners (see thread_ring.h). */
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "packet.h"
#include "thread_ring.h"

struct slot {
	uint16_t len;
	uint8_t data[LB_TRING_FRAME];
};

struct lb_tring {
	/* Apart on their own cache lines: each is written by one side and read by the other. */
	_Alignas(64) _Atomic uint32_t head; /* next slot the producer fills */
	_Alignas(64) _Atomic uint32_t tail; /* next slot the consumer takes */
	_Alignas(64) uint32_t mask;
	_Atomic uint64_t drops; /* written by the producer only */
	struct slot slots[];
};

struct lb_tring *lb_tring_new(unsigned int slots)
{
	struct lb_tring *r;

	if (slots < 2 || (slots & (slots - 1))) {
		errno = EINVAL;
		return NULL;
	}
	/* calloc: the slots' pages are only touched as the ring is used. */
	r = calloc(1, sizeof(*r) + (size_t)slots * sizeof(r->slots[0]));
	if (!r)
		return NULL;
	r->mask = slots - 1;
	return r;
}

void lb_tring_free(struct lb_tring *r)
{
	free(r);
}

int lb_tring_push(struct lb_tring *r, const uint8_t *frame, size_t len)
{
	uint32_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
	/* Acquire: the consumer is done reading the slots it gave back. */
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
	struct slot *s;

	if (head - tail > r->mask || len > LB_TRING_FRAME) {
		atomic_store_explicit(&r->drops,
				      atomic_load_explicit(&r->drops, memory_order_relaxed) + 1,
				      memory_order_relaxed);
		return -1;
	}
	s = &r->slots[head & r->mask];
	memcpy(s->data, frame, len);
	s->len = (uint16_t)len;
	/* Release: the copy is visible before the consumer sees the slot. */
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	return 0;
}

unsigned int lb_tring_drain(struct lb_tring *r, unsigned int max, lb_tring_fn fn, void *ctx)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
	unsigned int n = 0;

	for (; tail != head && n < max; tail++, n++) {
		const struct slot *s = &r->slots[tail & r->mask];

		fn(ctx, s->data, s->len);
	}
	/* Release: the slots are read before the producer may fill them again. */
	if (n)
		atomic_store_explicit(&r->tail, tail, memory_order_release);
	return n;
}

bool lb_tring_pending(struct lb_tring *r)
{
	return atomic_load_explicit(&r->head, memory_order_acquire) !=
	       atomic_load_explicit(&r->tail, memory_order_relaxed);
}

uint64_t lb_tring_drops(const struct lb_tring *r)
{
	return atomic_load_explicit(&r->drops, memory_order_relaxed);
}

int lb_frame_owner(const uint8_t *f, size_t len, unsigned int n)
{
	struct lb_frame_ends e;
	uint64_t a, b, h;

	if (n <= 1)
		return 0;
	if (!lb_frame_ends(f, len, &e))
		return -1;
	a = (uint64_t)e.saddr << 16 | e.sport; /* source addr:port */
	b = (uint64_t)e.daddr << 16 | e.dport; /* destination */
	/* XOR of the two ends: the same whichever way the frame goes. Then mixed,
	 * so nearby ports spread over the threads. */
	h = lb_splitmix64(a ^ b);
	return (int)(h % n);
}
