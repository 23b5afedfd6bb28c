/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Replication advice from the access statistics (docs/architecture.md,
 * "Access statistics"): which hot routes one more replica would take the most
 * load off the busiest holder for, and which cold routes could give one up.
 * A pure function of what it is given, so it is tested without a balancer;
 * `latebind advise` (advise_cmd.c) gathers the input from the pinned maps.
 *
 * The model:
 *   - a route's load is its share of the routed requests: its count in the
 *     top list, or (not listed) the sketch's estimate, an upper bound;
 *   - a backend's load is its share of the hand-offs (`chosen` in the
 *     backends map), or, with none yet, the sum of its routes' shares, each
 *     split evenly among the route's holders that take new requests;
 *   - a backend is busy when its load is above `factor` times the mean (1 / the
 *     backends taking requests). While one is, the busiest gets one more
 *     holder for the listed route it holds whose replica relieves it most
 *     (share/h - share/(h+1) with h holders): the least loaded backend not
 *     holding it, if that stays below the busiest after the move. The move is
 *     applied to the model and the next one chosen, up to `max_add`;
 *   - a route is cold when it has two holders or more and even its upper
 *     bound is below `cold` of the requests; its busiest holder may drop it.
 *     The coldest first, up to `max_drop`.
 * Nothing is advised before `min_requests` requests have been routed.
 */
#ifndef LATEBIND_ADVISE_H
#define LATEBIND_ADVISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "config.h"
#include "maps.h"

struct lb_advise_in {
	const struct lb_config *cfg;
	const bool *up;		/* [cfg->n_backends]: takes new requests */
	const uint64_t *chosen; /* [cfg->n_backends]: hand-offs so far, or NULL */
	const struct lb_route_top *top; /* [n_top], most requested first */
	size_t n_top;
	const struct lb_route_sketch *sketch; /* totals and the sketch */
	double factor;		/* busy above factor × the mean load */
	double cold;		/* cold below this share of the requests */
	uint64_t min_requests;
	unsigned int max_add, max_drop;
};

#define LB_ADVISE_DEFAULTS                                                               \
	.factor = 1.25, .cold = 0.001, .min_requests = 1000, .max_add = 10, .max_drop = 10

enum lb_advice_op { LB_ADVICE_ADD = 1, LB_ADVICE_DROP = 2 };

struct lb_advice_item {
	enum lb_advice_op op;
	size_t route;	  /* index in cfg->routes */
	uint32_t backend; /* the one added, or dropped */
	uint32_t relieved; /* ADD: the busiest holder it relieves */
	double share;	  /* the route's share of the requests (DROP: at most) */
	uint64_t requests; /* ... as a count (an upper bound) */
	double before, after; /* ADD: the relieved holder's load */
};

struct lb_advice {
	struct lb_advice_item *items;
	size_t n, n_add;
	size_t more_cold;		/* cold routes past max_drop */
	double load[LB_MAX_BACKENDS];	/* each backend's load before any change */
	double mean;
	bool measured;			/* loads from hand-offs, not the model */
	const char *none;		/* why there is no advice at all, or NULL */
};

/* Advice for @in into @out (free with lb_advice_free); -1 if out of memory. */
int lb_advise(const struct lb_advise_in *in, struct lb_advice *out);
void lb_advice_free(struct lb_advice *a);

/* What to do, in words. */
void lb_advice_print(FILE *f, const struct lb_advise_in *in, const struct lb_advice *a);

/* The changed routes, as a routes: section to paste over those of the same name. */
void lb_advice_print_yaml(FILE *f, const struct lb_advise_in *in, const struct lb_advice *a);

#endif
