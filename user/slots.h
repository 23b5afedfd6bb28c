/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Backend slots across a reload. A backend's slot is its index in the
 * backends map, and bound flows name their backend by it, so a backend keeps
 * its slot for as long as it has a name in the config, whatever the order of
 * the new config. Pure apart from reading the active counts: unit-tested.
 */
#ifndef LATEBIND_SLOTS_H
#define LATEBIND_SLOTS_H

#include <stddef.h>

#include "config.h"
#include "maps.h"

/*
 * Lay @fresh's backends out in slots, given the running config @old (its
 * backends indexed by slot) and the backends map @backends (active counts,
 * [LB_MAX_BACKENDS]). A backend of both keeps its slot, matched by name; a
 * removed one still carrying flows keeps its slot, draining, until they end;
 * one without flows frees its slot; a new one takes the lowest free slot.
 * Route holders are renumbered to slots. On success @fresh's backends array
 * is indexed by slot (holes have an empty name) and 0 is returned; on failure
 * -1 with a message in @err, and @fresh is untouched.
 */
int lb_slots_remap(const struct lb_config *old, const struct lb_backend *backends,
		   struct lb_config *fresh, char *err, size_t errlen);

#endif
