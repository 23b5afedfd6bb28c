/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Requests per route, in bounded memory (user/topk.h): one dispatcher thread's
 * summary of the most requested routes and its sketch of all of them. Counts
 * are kept by route name, so a reload that keeps a route keeps its count.
 * The thread counts under the lock; the daemon's main thread merges every
 * thread's under it (lb_route_counts_merge).
 */
#ifndef LATEBIND_ROUTE_COUNTS_H
#define LATEBIND_ROUTE_COUNTS_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "config.h"
#include "topk.h"

struct lb_route_counts {
	pthread_mutex_t lock;
	struct lb_topk top; /* top.cap == 0: out of memory, nothing counted */
	const struct lb_config *cfg; /* the routes counted */
};

/* @name, or for a route without one "route<@i>" in @buf: what it is counted and shown as. */
static inline const char *lb_route_name_or_index(const char *name, size_t i, char buf[32])
{
	char digits[24];
	size_t n = 0, k;

	if (name)
		return name;
	do /* by hand: snprintf would cost more than the counting, per request */
		digits[n++] = (char)('0' + i % 10);
	while ((i /= 10) && n < sizeof(digits));
	memcpy(buf, "route", 5);
	for (k = 0; k < n; k++)
		buf[5 + k] = digits[n - 1 - k];
	buf[5 + n] = '\0';
	return buf;
}

/* The label route @i of @cfg is counted and shown under: its name, or "route<i>". */
static inline const char *lb_route_label(const struct lb_config *cfg, size_t i, char buf[32])
{
	return lb_route_name_or_index(cfg->routes[i].name, i, buf);
}

/* Nothing counted yet, for @cfg's routes; -1 if out of memory. */
int lb_route_counts_init(struct lb_route_counts *rc, const struct lb_config *cfg);

/*
 * Go on counting under @cfg: routes kept by name keep their counts (and take
 * their new index), routes gone are dropped, metrics.top_routes is applied.
 * Out of memory, counting starts again from nothing (-1).
 */
int lb_route_counts_carry(struct lb_route_counts *rc, const struct lb_config *cfg);

void lb_route_counts_free(struct lb_route_counts *rc);

/*
 * One request routed by @route, binding @bytes. @name is the route's name as
 * the directory's match gives it (NULL: none), so that the config's route
 * array, a cache miss with a million routes, is not read again.
 */
void lb_route_counts_hit(struct lb_route_counts *rc, size_t route, const char *name,
			 uint64_t bytes);

/*
 * Merge @n threads' counts into @out (lb_topk_init'ed, empty), each under its
 * lock; those counting under other routes than @cfg's (a copy of the config
 * they were given) are left out until they take them. -1 if out of memory.
 */
int lb_route_counts_merge(struct lb_route_counts *const *rc, size_t n,
			  const struct lb_config *cfg, struct lb_topk *out);

#endif
