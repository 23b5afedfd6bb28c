/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Choosing the backend for a request among the holders of its resource:
 * the least active flows per unit of weight, among those that are up.
 */
#ifndef LATEBIND_SELECT_H
#define LATEBIND_SELECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"

/*
 * What selection needs to know of one backend, indexed like lb_config.backends
 * (and the `backends` map). The dispatcher fills it from the map and its
 * health checks; selection itself never touches a map.
 */
struct lb_backend_view {
	uint32_t state;	 /* enum lb_backend_state: only LB_BACKEND_UP takes new flows */
	uint32_t weight; /* 0 takes no new flows, like draining */
	uint64_t active; /* flows bound and not yet closed */
};

/*
 * What selection sees of the backend in @b, a slot of the mmapped backends
 * map: its state, but down while its MAC is unknown if @need_mac (nowhere to
 * hand off to; a redirect needs none).
 */
struct lb_backend_view lb_backend_view_of(const struct lb_backend *b, uint32_t weight,
					  bool need_mac);

/* Can it take new flows: up, with a weight. The rule selection applies to each holder. */
bool lb_backend_usable(const struct lb_backend_view *b);

/*
 * Pick one of @holders[0..n) (indexes into @view[0..nview); out-of-range ones
 * are skipped). Returns the chosen backend index, or -1 when no holder is up
 * with a non-zero weight (the caller answers 503).
 *
 * a beats b when active_a / weight_a < active_b / weight_b, compared as
 * active_a * weight_b < active_b * weight_a without division or rounding.
 * Among equally loaded holders the choice rotates with *rr_state (advanced on
 * every call), so idle backends share new flows instead of the first one
 * taking them all. Keep one rr_state per dispatcher thread; no locking here.
 */
int lb_select_backend(const uint32_t *holders, size_t n, const struct lb_backend_view *view,
		      size_t nview, uint32_t *rr_state);

/*
 * Recent choices that hold no flow: a redirected client goes to its backend
 * directly, so its load never shows in the active count. Each redirect adds
 * one to its backend's count here, which halves every LB_RECENT_HALF_LIFE_MS,
 * and the dispatcher adds the count to the backend's active flows for every
 * choice it makes (docs/architecture.md, "Redirect mode"). One per dispatcher
 * thread, indexed like the config's backends.
 */
#define LB_RECENT_HALF_LIFE_MS 1000

struct lb_recent {
	uint64_t q16[LB_MAX_BACKENDS];	 /* the count in 1/65536ths, as of at_ms */
	uint64_t at_ms[LB_MAX_BACKENDS];
};

/* One more choice of @backend at @now_ms (milliseconds, monotonic). */
void lb_recent_note(struct lb_recent *r, uint32_t backend, uint64_t now_ms);

/* @backend's recent choices at @now_ms, rounded to a whole number. */
uint64_t lb_recent_load(const struct lb_recent *r, uint32_t backend, uint64_t now_ms);

#endif
