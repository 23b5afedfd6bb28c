/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading the counter maps: the per-CPU `stats` of the balancer and of a
 * backend, the dispatcher's `disp_stats` rows.
 */
#ifndef LATEBIND_COUNTERS_H
#define LATEBIND_COUNTERS_H

#include <stdint.h>

#include "stats.h"

/* Slots 0..@n-1 of per-CPU map @fd summed over the CPUs into @out; -1 if unreadable. */
int lb_counters_sum(int fd, uint32_t n, struct lb_counter *out);

/* A row's counts as the dispatcher keeps them (uint64_t: the map's __u64, the same bytes). */
static inline uint64_t *lb_disp_row_counts(struct lb_disp_row *row)
{
	return (uint64_t *)row->counts;
}

/* @n rows of `disp_stats` (as mmapped by the daemon) added to @out. */
void lb_disp_rows_add(const struct lb_disp_row *rows, uint32_t n, uint64_t out[LB_DISP_MAX]);

/* Every row of the `disp_stats` map @fd summed into @out; -1 if unreadable. */
int lb_disp_stats_sum(int fd, uint64_t out[LB_DISP_MAX]);

#endif
