/* SPDX-License-Identifier: GPL-2.0 */
/* Reading the per-CPU counter maps (`stats` of the balancer and of a backend). */
#ifndef LATEBIND_COUNTERS_H
#define LATEBIND_COUNTERS_H

#include <stdint.h>

#include "stats.h"

/* Slots 0..@n-1 of per-CPU map @fd summed over the CPUs into @out; -1 if unreadable. */
int lb_counters_sum(int fd, uint32_t n, struct lb_counter *out);

#endif
