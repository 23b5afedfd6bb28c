// SPDX-License-Identifier: GPL-2.0
/*
 * Inserting into and removing from the flow table with the backends' active
 * counts kept right (see flow_table.h).
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "flow_table.h"

void lb_flow_table_init(struct lb_flow_table *t, int fd, struct lb_backend *backends,
			uint64_t *evictions)
{
	*t = (struct lb_flow_table){ .fd = fd, .backends = backends, .evictions = evictions };
}

/* Lower goes first; -1 never: the dispatcher still holds that connection's state. */
static int victim_rank(uint32_t state)
{
	switch (state) {
	case LB_FLOW_CLOSING: return 0; /* ended, only lingering for its last ACKs */
	case LB_FLOW_BOUND: return 1;
	default: return -1;
	}
}

int lb_flow_pick_victim(const struct lb_flow *f, size_t n)
{
	int best = -1, best_rank = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int r = victim_rank(f[i].state);

		if (r < 0)
			continue;
		if (best < 0 || r < best_rank ||
		    (r == best_rank && f[i].last_seen_ns < f[best].last_seen_ns)) {
			best = (int)i;
			best_rank = r;
		}
	}
	return best;
}

int lb_flow_remove(struct lb_flow_table *t, const struct lb_flow_key *k, struct lb_flow *gone)
{
	struct lb_flow f;

	if (t->fd < 0)
		return -ENOENT;
	/*
	 * The value as it was deleted decides the count, not an earlier lookup:
	 * a FIN that XDP saw in between has already moved it to closing and
	 * taken it off. What remains is XDP holding the element from a lookup
	 * made just before our delete and doing its compare-and-swap to closing
	 * after the kernel copied the value out: then both of us count the
	 * close, once too many. That needs the flow's first FIN or RST within
	 * the same microsecond as its eviction or expiry.
	 */
	if (bpf_map_lookup_and_delete_elem(t->fd, k, &f))
		return -errno;
	if (f.state == LB_FLOW_BOUND && t->backends && f.backend < LB_MAX_BACKENDS)
		__atomic_fetch_sub(&t->backends[f.backend].active, 1, __ATOMIC_RELAXED);
	if (gone)
		*gone = f;
	return 0;
}

int lb_flow_walk(struct lb_flow_table *t, struct lb_flow_cursor *c, struct lb_flow_key *keys,
		 struct lb_flow *vals, uint32_t max)
{
	uint32_t in = c->bucket, n = max;
	int err;

	if (t->fd < 0)
		return 0;
	err = bpf_map_lookup_batch(t->fd, c->started ? &in : NULL, &c->bucket, keys, vals, &n, NULL);
	if (err && errno != ENOENT) {
		/* ENOSPC: a bucket fuller than @max, which a hash this size never has. */
		err = -errno;
		c->started = false;
		return err;
	}
	/* ENOENT: the table's last buckets came with it; the next read starts over. */
	c->started = !err;
	return (int)n;
}

/*
 * Make room for one flow: sample up to LB_FLOW_SAMPLE entries from where the
 * last sample stopped (so successive evictions look at the whole table in
 * turn, like a clock hand) and delete the best victim among them.
 */
static int evict_one(struct lb_flow_table *t)
{
	struct lb_flow_key keys[LB_FLOW_SAMPLE];
	struct lb_flow vals[LB_FLOW_SAMPLE], gone;
	bool wrapped = !t->sample.started;
	int n, v, err;

	n = lb_flow_walk(t, &t->sample, keys, vals, LB_FLOW_SAMPLE);
	/* The table's end can come back empty: once more, from its start. */
	if (n == 0 && !wrapped)
		n = lb_flow_walk(t, &t->sample, keys, vals, LB_FLOW_SAMPLE);
	if (n < 0)
		return n;
	v = lb_flow_pick_victim(vals, (size_t)n);
	if (v < 0)
		return -E2BIG;
	err = lb_flow_remove(t, &keys[v], &gone);
	if (err == -ENOENT)
		return 0; /* ended meanwhile (port reuse in XDP): room all the same */
	if (err)
		return err;
	if (t->evictions)
		(*t->evictions)++;
	if (t->evicted)
		t->evicted(t->evicted_ctx, &keys[v], &gone);
	return 0;
}

int lb_flow_insert(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	int tries, err;

	if (t->fd < 0)
		return 0;
	/* Only this (single-threaded) daemon inserts: room made is room kept. Bounded anyway. */
	for (tries = 0; tries < 3; tries++) {
		if (!bpf_map_update_elem(t->fd, k, f, BPF_ANY))
			return 0;
		if (errno != E2BIG && errno != ENOSPC)
			return -errno;
		err = evict_one(t);
		if (err)
			return err;
	}
	return -E2BIG;
}
