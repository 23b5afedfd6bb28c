/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Counters one thread writes and others read (a dispatcher thread's row of
 * the mmapped disp_stats map, read by `latebind status` and summed by the
 * exporter). The writer is alone, so an add needs no locked instruction;
 * relaxed atomic loads and stores only keep a reader from seeing a value torn.
 */
#ifndef LATEBIND_STAT_H
#define LATEBIND_STAT_H

#include <stdint.h>

static inline void lb_stat_add(uint64_t *p, uint64_t n)
{
	__atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + n, __ATOMIC_RELAXED);
}

static inline void lb_stat_set(uint64_t *p, uint64_t v)
{
	__atomic_store_n(p, v, __ATOMIC_RELAXED);
}

static inline uint64_t lb_stat_read(const uint64_t *p)
{
	return __atomic_load_n(p, __ATOMIC_RELAXED);
}

#endif
