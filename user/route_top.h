/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The access statistics in the pinned maps `route_top` and `route_sketch`
 * (headers/maps.h): the daemon writes its merged counts there about once a
 * second, `latebind advise` reads them back. One definition of both sides.
 */
#ifndef LATEBIND_ROUTE_TOP_H
#define LATEBIND_ROUTE_TOP_H

#include <stddef.h>

#include "config.h"
#include "maps.h"
#include "topk.h"

/* @t (merged under @cfg) into the maps; -1 with errno if the kernel refused. */
int lb_route_top_publish(int top_fd, int sketch_fd, const struct lb_topk *t,
			 const struct lb_config *cfg);

/*
 * The published statistics: @sketch (allocated by the caller) and @top[0..ret)
 * (room for LB_ROUTE_TOP_MAX), most requested first. -1 with errno on error.
 */
int lb_route_top_read(int top_fd, int sketch_fd, struct lb_route_sketch *sketch,
		      struct lb_route_top *top);

#endif
