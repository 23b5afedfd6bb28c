// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "route_counts.h"

/* FNV-1a, high half folded in: route names are short and differ in their last digits. */
static uint64_t name_hash(const char *s)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	while (*s)
		h = (h ^ (unsigned char)*s++) * 0x100000001b3ULL;
	return h ^ h >> 32;
}

/* Old route indexes by name: open addressing, load <= 1/2; NULL if out of memory. */
static uint32_t *name_table(const struct lb_route_counts *rc, size_t *mask)
{
	size_t cap = 2, i, k;
	uint32_t *slot; /* old route index + 1; 0: empty */

	while (cap < 2 * rc->n_routes)
		cap <<= 1;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return NULL;
	*mask = cap - 1;
	for (i = 0; i < rc->n_routes; i++) {
		if (!rc->routes[i].name)
			continue;
		for (k = name_hash(rc->routes[i].name) & *mask; slot[k]; k = (k + 1) & *mask)
			;
		slot[k] = i + 1;
	}
	return slot;
}

/*
 * @counts[i] = the count of the old route named as new route i (the loader
 * refuses two routes of one name). Most reloads keep the routes in order, so
 * the old list is followed while it matches; the first route out of step
 * builds a table of the old names for the rest. Linear either way, so a
 * reload of a million routes does not compare every pair of names.
 */
static int carry(const struct lb_route_counts *rc, const struct lb_config *cfg, uint64_t *counts)
{
	size_t mask = 0, i, k, next = 0; /* next: the old route expected next */
	uint32_t *slot = NULL;

	if (!rc->n || !rc->n_routes)
		return 0;
	for (i = 0; i < cfg->n_routes; i++) {
		const char *name = cfg->routes[i].name;

		if (!name)
			continue;
		if (next < rc->n_routes && rc->routes[next].name &&
		    !strcmp(rc->routes[next].name, name)) {
			counts[i] = rc->n[next++];
			continue;
		}
		if (!slot && !(slot = name_table(rc, &mask)))
			return -1;
		for (k = name_hash(name) & mask; slot[k]; k = (k + 1) & mask) {
			if (!strcmp(rc->routes[slot[k] - 1].name, name)) {
				next = slot[k];
				counts[i] = rc->n[next - 1];
				break;
			}
		}
	}
	free(slot);
	return 0;
}

int lb_route_counts_init(struct lb_route_counts *rc, const struct lb_config *cfg)
{
	rc->n = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*rc->n));
	rc->routes = cfg->routes;
	rc->n_routes = cfg->n_routes;
	return rc->n ? 0 : -1;
}

int lb_route_counts_carry(struct lb_route_counts *rc, const struct lb_config *cfg)
{
	uint64_t *counts = calloc(cfg->n_routes ? cfg->n_routes : 1, sizeof(*counts));
	int err = !counts || carry(rc, cfg, counts) ? -1 : 0;

	free(rc->n);
	rc->n = counts; /* NULL: none counted until the next reload */
	rc->routes = cfg->routes;
	rc->n_routes = counts ? cfg->n_routes : 0;
	return err;
}

void lb_route_counts_free(struct lb_route_counts *rc)
{
	free(rc->n);
	*rc = (struct lb_route_counts){};
}
