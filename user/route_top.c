// SPDX-License-Identifier: GPL-2.0
#include <bpf/bpf.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "route_counts.h"
#include "route_top.h"

int lb_route_top_publish(int top_fd, int sketch_fd, const struct lb_topk *t,
			 const struct lb_config *cfg)
{
	struct lb_topk_entry *e = calloc(t->cap ? t->cap : 1, sizeof(*e));
	struct lb_route_sketch *s = malloc(sizeof(*s));
	struct lb_route_top row;
	char buf[32];
	__u32 i, n, key0 = 0;
	int err = 0;

	if (!e || !s) {
		free(e);
		free(s);
		errno = ENOMEM;
		return -1;
	}
	n = (__u32)lb_topk_sorted(t, e);
	for (i = 0; i < n && !err; i++) {
		memset(&row, 0, sizeof(row));
		if (e[i].route < cfg->n_routes)
			strncpy(row.name, lb_route_label(cfg, e[i].route, buf), sizeof(row.name) - 1);
		row.key = e[i].key;
		row.requests = e[i].count;
		row.error = e[i].error;
		row.bytes = e[i].bytes;
		row.route = e[i].route;
		err = bpf_map_update_elem(top_fd, &i, &row, BPF_ANY);
	}
	memcpy(s->c, t->sketch->c, sizeof(s->c));
	s->requests = t->requests;
	s->bytes = t->bytes;
	s->tracked = n; /* rows past it are stale: readers stop here */
	s->top_routes = cfg->metrics.top_routes;
	s->updated_s = (__u64)time(NULL);
	if (!err)
		err = bpf_map_update_elem(sketch_fd, &key0, s, BPF_ANY);
	free(e);
	free(s);
	return err ? -1 : 0;
}

int lb_route_top_read(int top_fd, int sketch_fd, struct lb_route_sketch *sketch,
		      struct lb_route_top *top)
{
	__u32 i, key0 = 0;

	if (bpf_map_lookup_elem(sketch_fd, &key0, sketch))
		return -1;
	if (sketch->tracked > LB_ROUTE_TOP_MAX) {
		errno = EINVAL;
		return -1;
	}
	for (i = 0; i < sketch->tracked; i++) {
		if (bpf_map_lookup_elem(top_fd, &i, &top[i]))
			return -1;
		top[i].name[sizeof(top[i].name) - 1] = '\0'; /* whoever wrote it */
	}
	return (int)sketch->tracked;
}
