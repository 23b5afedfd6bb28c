// SPDX-License-Identifier: GPL-2.0
/*
 * Least active flows per weight, ties rotated. Two passes over the holders
 * (a handful): the first finds the lowest load and how many share it, the
 * second takes the k-th of those, k from the rotating counter, so each tied
 * backend is picked equally often rather than whichever comes first.
 */
#include <stdbool.h>
#include <string.h>

#include "select.h"

/*
 * Weights are at most 65535 (16 bits): capping active below 2^47 keeps
 * active * weight under 2^63, exact in 64 bits. A backend with 2^47 flows
 * is as full as one can be, so the cap changes no real decision.
 */
#define ACTIVE_CAP ((UINT64_C(1) << 47) - 1)

bool lb_backend_usable(const struct lb_backend_view *b)
{
	return b->state == LB_BACKEND_UP && b->weight;
}

struct lb_backend_view lb_backend_view_of(const struct lb_backend *b, uint32_t weight,
					  bool need_mac)
{
	static const uint8_t no_mac[6];
	struct lb_backend_view v = {
		.state = __atomic_load_n(&b->state, __ATOMIC_RELAXED),
		.weight = weight,
		.active = __atomic_load_n(&b->active, __ATOMIC_RELAXED),
	};

	if (need_mac && !memcmp(b->mac, no_mac, sizeof(no_mac)))
		v.state = LB_BACKEND_DOWN;
	return v;
}

static inline uint64_t capped(uint64_t a)
{
	return a < ACTIVE_CAP ? a : ACTIVE_CAP;
}

/* -1, 0, 1 as a's load per weight is below, equal to, above b's. */
static inline int load_cmp(const struct lb_backend_view *a, const struct lb_backend_view *b)
{
	uint32_t wa = a->weight > 0xffff ? 0xffff : a->weight;
	uint32_t wb = b->weight > 0xffff ? 0xffff : b->weight;
	uint64_t la = capped(a->active) * wb, lb = capped(b->active) * wa;

	return (la > lb) - (la < lb);
}

int lb_select_backend(const uint32_t *holders, size_t n, const struct lb_backend_view *view,
		      size_t nview, uint32_t *rr_state)
{
	const struct lb_backend_view *best = NULL;
	size_t ties = 0, k;

	for (size_t i = 0; i < n; i++) {
		const struct lb_backend_view *b;
		int c;

		if (holders[i] >= nview || !lb_backend_usable(&view[holders[i]]))
			continue;
		b = &view[holders[i]];
		c = best ? load_cmp(b, best) : -1;
		if (c < 0) {
			best = b;
			ties = 1;
		} else if (c == 0) {
			ties++;
		}
	}
	if (!best)
		return -1;

	k = ties > 1 ? (*rr_state)++ % ties : 0;
	for (size_t i = 0; i < n; i++) {
		if (holders[i] >= nview || !lb_backend_usable(&view[holders[i]]) ||
		    load_cmp(&view[holders[i]], best))
			continue;
		if (!k--)
			return (int)holders[i];
	}
	return -1; /* not reached: best is one of the holders */
}

/*
 * @q16 as it has decayed over @dt_ms: halved per whole half-life, and within
 * one 2^-f taken as 1 - f/2 (at most 6 % high), which needs no libm.
 */
static uint64_t decayed(uint64_t q16, uint64_t dt_ms)
{
	uint64_t halvings = dt_ms / LB_RECENT_HALF_LIFE_MS;

	if (halvings >= 64)
		return 0;
	q16 >>= halvings;
	return q16 - q16 * (dt_ms % LB_RECENT_HALF_LIFE_MS) / (2 * LB_RECENT_HALF_LIFE_MS);
}

static uint64_t since(const struct lb_recent *r, uint32_t backend, uint64_t now_ms)
{
	return now_ms > r->at_ms[backend] ? now_ms - r->at_ms[backend] : 0;
}

void lb_recent_note(struct lb_recent *r, uint32_t backend, uint64_t now_ms)
{
	if (backend >= LB_MAX_BACKENDS)
		return;
	r->q16[backend] = decayed(r->q16[backend], since(r, backend, now_ms)) + (1u << 16);
	r->at_ms[backend] = now_ms;
}

uint64_t lb_recent_load(const struct lb_recent *r, uint32_t backend, uint64_t now_ms)
{
	if (backend >= LB_MAX_BACKENDS)
		return 0;
	return (decayed(r->q16[backend], since(r, backend, now_ms)) + (1u << 15)) >> 16;
}
