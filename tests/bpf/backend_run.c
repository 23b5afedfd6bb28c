// SPDX-License-Identifier: GPL-2.0
#include <check.h>

#include <bpf/bpf.h>

#include "backend_run.h"
#include "maps.h"

void be_read_stats(struct bpf_map *stats, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_counter vals[ncpu];
	uint32_t r;
	int c;

	for (r = 0; r < LB_BE_REASON_MAX; r++) {
		out[r] = 0;
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(stats), &r, vals), 0);
		for (c = 0; c < ncpu; c++)
			out[r] += vals[c].packets;
	}
}

void be_run_prog(struct bpf_map *stats, struct bpf_program *prog, const uint8_t *frame,
		 size_t len, struct run *r)
{
	uint64_t before[LB_BE_REASON_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int i;

	be_read_stats(stats, before);
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	r->action = opts.retval;
	r->out_len = opts.data_size_out;
	be_read_stats(stats, r->stats);
	for (i = 0; i < LB_BE_REASON_MAX; i++)
		r->stats[i] -= before[i];
}

void be_assert_counted(const struct run *r, enum lb_backend_reason reason)
{
	int i;

	for (i = 0; i < LB_BE_REASON_MAX; i++)
		ck_assert_msg(r->stats[i] == (i == (int)reason),
			      "counter %s moved by %llu, expected %s to move by 1",
			      lb_backend_reason_names[i], (unsigned long long)r->stats[i],
			      lb_backend_reason_names[reason]);
}
