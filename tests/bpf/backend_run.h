/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running one frame through a backend TC program (either mode's object) with
 * BPF_PROG_TEST_RUN, and what moved in its `stats` map: shared by
 * test_backend.c and test_backend_replay.c.
 */
#ifndef LATEBIND_TEST_BACKEND_RUN_H
#define LATEBIND_TEST_BACKEND_RUN_H

#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "frames.h"
#include "stats.h"

struct run {
	int action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t stats[LB_BE_REASON_MAX]; /* change of each counter's packets */
};

/* Packets per reason, summed over CPUs, from the object's `stats` map. */
void be_read_stats(struct bpf_map *stats, uint64_t *out);

/* Run @frame through @prog; @stats is the object's counters map. */
void be_run_prog(struct bpf_map *stats, struct bpf_program *prog, const uint8_t *frame,
		 size_t len, struct run *r);

/* The one counter that moved must be @reason, by one. */
void be_assert_counted(const struct run *r, enum lb_backend_reason reason);

#endif
