/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow table (the `flows_v2` hash) as userspace changes it. Every insert
 * and every removal goes through here, so a bound flow leaves its backend's
 * active count exactly once whoever ends it: XDP's first FIN/RST (which moves
 * it to closing), idle expiry, or eviction.
 *
 * The table is a plain hash of limits.flows entries: when it is full an insert
 * fails with E2BIG and lb_flow_insert() evicts one flow to make room. The
 * victim is chosen from a bounded sample of entries (sampled LRU): closing
 * flows first, then the bound flow silent for longest. Flows still in the
 * dispatcher's hands (collecting a request, replaying a SYN) are never evicted
 * here: the dispatcher caps those itself.
 */
#ifndef LATEBIND_FLOW_TABLE_H
#define LATEBIND_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"

#define LB_FLOW_SAMPLE 32 /* entries looked at per eviction, at most (whole hash buckets) */

/* Where a walk over the table stands: the kernel's batch cursor, a hash bucket. */
struct lb_flow_cursor {
	uint32_t bucket;
	bool started; /* false: the next read starts at the table's first bucket */
};

/* Called for each evicted flow, as it was when deleted (the daemon resets its client). */
typedef void (*lb_flow_evicted_fn)(void *ctx, const struct lb_flow_key *k, const struct lb_flow *f);

struct lb_flow_table {
	int fd;			     /* the flows map; -1: none (unit tests) */
	struct lb_backend *backends; /* the mmapped backends map (active counts), or NULL */
	uint64_t *evictions;	     /* where evictions are counted (a dispatcher counter) */
	lb_flow_evicted_fn evicted;  /* or NULL */
	void *evicted_ctx;
	struct lb_flow_cursor sample; /* eviction samples go round the table */
};

void lb_flow_table_init(struct lb_flow_table *t, int fd, struct lb_backend *backends,
			uint64_t *evictions);

/*
 * Insert or replace @k's flow. A full table evicts one flow first. Returns 0,
 * or a negative errno (-E2BIG: full, and nothing in the sample may be evicted).
 */
int lb_flow_insert(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/*
 * Delete @k's flow and, if it was bound, take it off its backend's active
 * count. @gone (if not NULL) gets the flow as it was deleted. Returns 0, or a
 * negative errno (-ENOENT: not there).
 */
int lb_flow_remove(struct lb_flow_table *t, const struct lb_flow_key *k, struct lb_flow *gone);

/*
 * The next entries of a walk over the table, in one system call: whole hash
 * buckets, at most @max entries, into @keys and @vals. Returns how many were
 * read; past the table's last bucket the walk starts over (c->started false).
 * A negative errno on failure, and the walk starts over. Both the idle expiry
 * and the eviction sample walk the table this way: a system call per batch,
 * not two per flow, and deletions behind the cursor do not disturb it.
 */
int lb_flow_walk(struct lb_flow_table *t, struct lb_flow_cursor *c, struct lb_flow_key *keys,
		 struct lb_flow *vals, uint32_t max);

/*
 * The eviction choice over @n sampled flows: the index of the closing flow
 * seen longest ago, else of the bound flow seen longest ago; -1 if none of them
 * may go. Pure, for the unit tests.
 */
int lb_flow_pick_victim(const struct lb_flow *f, size_t n);

#endif
