// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slots.h"

/* The slot @name has in @old, or -1. */
static int slot_in(const struct lb_config *old, const char *name)
{
	size_t i;

	for (i = 0; i < old->n_backends; i++)
		if (old->backends[i].name[0] && !strcmp(old->backends[i].name, name))
			return (int)i;
	return -1;
}

int lb_slots_remap(const struct lb_config *old, const struct lb_backend *backends,
		   struct lb_config *fresh, char *err, size_t errlen)
{
	int slot_of[LB_MAX_BACKENDS], next_free = 0;
	bool used[LB_MAX_BACKENDS] = {};
	size_t i, j, n, n_slots = 0;
	struct lb_cfg_backend *slots;

	if (old->n_backends > LB_MAX_BACKENDS || fresh->n_backends > LB_MAX_BACKENDS) {
		snprintf(err, errlen, "more than %d backends", LB_MAX_BACKENDS);
		return -1;
	}
	n = old->n_backends + fresh->n_backends; /* the most slots this can need */
	if (n > LB_MAX_BACKENDS)
		n = LB_MAX_BACKENDS;
	slots = calloc(n ? n : 1, sizeof(*slots));
	if (!slots) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (j = 0; j < fresh->n_backends; j++) {
		slot_of[j] = slot_in(old, fresh->backends[j].name);
		if (slot_of[j] >= 0)
			used[slot_of[j]] = true;
	}
	/* Removed backends still carrying flows keep their slot, draining. */
	for (i = 0; i < old->n_backends; i++) {
		if (used[i] || !old->backends[i].name[0] ||
		    !__atomic_load_n(&backends[i].active, __ATOMIC_RELAXED))
			continue;
		slots[i] = old->backends[i];
		slots[i].state = LB_BACKEND_DRAINING;
		used[i] = true;
		if (i + 1 > n_slots)
			n_slots = i + 1;
	}
	for (j = 0; j < fresh->n_backends; j++) {
		if (slot_of[j] < 0) {
			while (next_free < (int)n && used[next_free])
				next_free++;
			if (next_free >= (int)n) {
				snprintf(err, errlen, "more than %d backends counting the ones still "
					 "draining; restart to reload", LB_MAX_BACKENDS);
				free(slots);
				return -1;
			}
			slot_of[j] = next_free;
			used[next_free] = true;
		}
		slots[slot_of[j]] = fresh->backends[j];
		if ((size_t)slot_of[j] + 1 > n_slots)
			n_slots = slot_of[j] + 1;
	}
	for (i = 0; i < fresh->n_routes; i++)
		for (j = 0; j < fresh->routes[i].n_backends; j++)
			fresh->routes[i].backends[j] = slot_of[fresh->routes[i].backends[j]];
	free(fresh->backends);
	fresh->backends = slots; /* holes: empty name, address 0, down */
	fresh->n_backends = n_slots;
	return 0;
}
