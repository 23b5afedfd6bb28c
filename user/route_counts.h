/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Requests per route (latebind_route_requests_total), kept across reloads by
 * route name so that no series goes backwards.
 */
#ifndef LATEBIND_ROUTE_COUNTS_H
#define LATEBIND_ROUTE_COUNTS_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "stat.h"

struct lb_route_counts {
	uint64_t *n; /* [n_routes]: requests per route of @routes; NULL: none counted */
	/* The routes counted, apart from the config: a reload refills that in place. */
	const struct lb_cfg_route *routes;
	size_t n_routes;
};

/* Zero counts for @cfg's routes; -1 if out of memory. */
int lb_route_counts_init(struct lb_route_counts *rc, const struct lb_config *cfg);

/*
 * Counts for @cfg's routes, each carried over from the old route of its name
 * (new ones from 0). Out of memory, they start again from 0 (-1).
 */
int lb_route_counts_carry(struct lb_route_counts *rc, const struct lb_config *cfg);

void lb_route_counts_free(struct lb_route_counts *rc);

static inline void lb_route_counts_hit(struct lb_route_counts *rc, size_t route)
{
	if (rc->n && route < rc->n_routes)
		lb_stat_add(&rc->n[route], 1); /* the daemon's main thread sums them */
}

#endif
