// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counters.h"

int lb_counters_sum(int fd, uint32_t n, struct lb_counter *out)
{
	int ncpu = libbpf_num_possible_cpus(), c, err = 0;
	struct lb_counter *vals;
	uint32_t r;

	if (ncpu <= 0)
		return -1;
	vals = calloc(ncpu, sizeof(*vals));
	if (!vals)
		return -1;
	for (r = 0; r < n; r++) {
		out[r] = (struct lb_counter){};
		if (bpf_map_lookup_elem(fd, &r, vals)) {
			err = -1;
			break;
		}
		for (c = 0; c < ncpu; c++) {
			out[r].packets += vals[c].packets;
			out[r].bytes += vals[c].bytes;
		}
	}
	free(vals);
	return err;
}

void lb_disp_rows_add(const struct lb_disp_row *rows, uint32_t n, uint64_t out[LB_DISP_MAX])
{
	uint32_t r;
	int c;

	for (r = 0; r < n; r++)
		for (c = 0; c < LB_DISP_MAX; c++)
			out[c] += __atomic_load_n(&rows[r].counts[c], __ATOMIC_RELAXED);
}

int lb_disp_stats_sum(int fd, uint64_t out[LB_DISP_MAX])
{
	struct lb_disp_row row;
	uint32_t r;

	memset(out, 0, LB_DISP_MAX * sizeof(*out));
	for (r = 0; r < LB_DISP_ROWS; r++) {
		if (bpf_map_lookup_elem(fd, &r, &row))
			return -1;
		lb_disp_rows_add(&row, 1, out);
	}
	return 0;
}
