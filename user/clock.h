/* SPDX-License-Identifier: GPL-2.0 */
/* The clocks the daemon and the commands read, in the units they use. */
#ifndef LATEBIND_CLOCK_H
#define LATEBIND_CLOCK_H

#include <stdint.h>
#include <time.h>

#include "lb_types.h"

#define LB_NS_PER_MS 1000000ULL

/*
 * @id in nanoseconds. CLOCK_MONOTONIC is bpf_ktime_get_ns()'s clock (flows'
 * last_seen), CLOCK_TAI bpf_ktime_get_tai_ns()'s (the cookies' time counter).
 */
static inline uint64_t lb_clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (uint64_t)ts.tv_sec * LB_NS_PER_S + (uint64_t)ts.tv_nsec;
}

static inline uint64_t lb_clock_ms(clockid_t id)
{
	return lb_clock_ns(id) / LB_NS_PER_MS;
}

#endif
