// SPDX-License-Identifier: GPL-2.0
#include <errno.h>
#include <stdlib.h>

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
