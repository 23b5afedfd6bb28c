/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The most requested routes in bounded memory, however many routes a site has
 * (docs/architecture.md, "Access statistics"):
 *
 *   - a count-min sketch (struct lb_route_sketch, headers/maps.h): every
 *     request adds 1 to one counter in each of its rows; a route's estimate is
 *     the least of its counters, never below the truth and, with a width of
 *     LB_SKETCH_WIDTH, above it by at most e/width of all requests with
 *     probability 1 - e^-depth;
 *   - a Space-Saving summary of K entries: a route already kept is counted
 *     exactly from then on; a route not kept takes the place of the least
 *     counted entry, entering with the smaller of two upper bounds on its
 *     count (the largest count evicted so far + 1, and the sketch's
 *     estimate). Every kept count is within its `error` above the truth; a
 *     route with more than 1/K of the requests is kept (Space-Saving's
 *     guarantee; tests/unit/test_topk.c checks it with the sketch's entries).
 *
 * Keys are 64-bit hashes of route names (lb_route_key), so counts survive a
 * reload that moves routes, and `latebind advise` can ask the sketch about
 * any route of the config. One writer; readers copy under the caller's lock.
 */
#ifndef LATEBIND_TOPK_H
#define LATEBIND_TOPK_H

#include <stddef.h>
#include <stdint.h>

#include "maps.h"

struct lb_topk_entry {
	uint64_t key;	   /* lb_route_key() of the route's name */
	uint64_t count;	   /* requests, an upper bound */
	uint64_t error;	   /* count - error <= the true count */
	uint64_t bytes;	   /* bound bytes counted since it was kept (a lower bound) */
	uint32_t route;	   /* its index in the config counted under */
	uint32_t heap_pos; /* where it sits in the heap */
};

struct lb_topk {
	size_t cap, n;
	struct lb_topk_entry *e; /* [cap] */
	uint32_t *heap;		 /* [cap] entry indexes, least count first */
	uint32_t *index;	 /* key → entry + 1, linear probing; 0: empty */
	size_t index_mask;
	uint64_t requests, bytes; /* everything counted */
	/* The most a route not kept can have had: the largest count evicted (or
	 * merged away). A route entering is bounded by it + 1. */
	uint64_t floor;
	struct lb_route_sketch *sketch;
};

/* The key of a route name: FNV-1a 64 over it, then mixed. */
uint64_t lb_route_key(const char *name);

/* The sketch's column for @key in @row. */
size_t lb_sketch_column(uint64_t key, unsigned int row);
/* Count @n for @key; returns its estimate after. */
uint64_t lb_sketch_add(struct lb_route_sketch *s, uint64_t key, uint64_t n);
uint64_t lb_sketch_estimate(const struct lb_route_sketch *s, uint64_t key);

/* Room for @cap routes (1..LB_ROUTE_TOP_MAX); -1 if out of memory. */
int lb_topk_init(struct lb_topk *t, size_t cap);
void lb_topk_free(struct lb_topk *t);

/* One request for the route @key (config index @route) binding @bytes. */
void lb_topk_hit(struct lb_topk *t, uint64_t key, uint32_t route, uint64_t bytes);

/* The entry of @key, or NULL. */
const struct lb_topk_entry *lb_topk_find(const struct lb_topk *t, uint64_t key);

/* Drop the entry of @key if kept (a route gone at a reload). */
void lb_topk_remove(struct lb_topk *t, uint64_t key);

/*
 * @out[0..ret) = the entries, most requested first (ties: smaller key first,
 * so output is stable); @out has room for t->cap.
 */
size_t lb_topk_sorted(const struct lb_topk *t, struct lb_topk_entry *out);

/*
 * Merge several summaries (one per dispatcher thread) into @out, an empty
 * lb_topk of any capacity: every route kept by one of them, counted as the
 * smaller of the sum of its upper bounds (a summary that does not keep it
 * bounds it by its floor) and the summed sketch. @out keeps the most
 * requested of them.
 */
int lb_topk_merge(struct lb_topk *out, const struct lb_topk *const *in, size_t n);

#endif
