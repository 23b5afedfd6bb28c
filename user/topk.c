// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "hash.h"
#include "topk.h"


uint64_t lb_route_key(const char *name)
{
	return lb_splitmix64(lb_fnv64_str(name));
}

/* Row i's column from two halves of the key (Kirsch–Mitzenmacher double hashing). */
size_t lb_sketch_column(uint64_t key, unsigned int row)
{
	uint64_t h2 = lb_splitmix64(key ^ LB_GOLDEN64) | 1;

	return (size_t)((key + row * h2) >> 20) & (LB_SKETCH_WIDTH - 1);
}

uint64_t lb_sketch_add(struct lb_route_sketch *s, uint64_t key, uint64_t n)
{
	uint64_t est = UINT64_MAX;
	__u64 *c;
	unsigned int r;

	for (r = 0; r < LB_SKETCH_DEPTH; r++) {
		c = &s->c[r][lb_sketch_column(key, r)];
		*c += n;
		if (*c < est)
			est = *c;
	}
	return est;
}

uint64_t lb_sketch_estimate(const struct lb_route_sketch *s, uint64_t key)
{
	uint64_t est = UINT64_MAX, v;
	unsigned int r;

	for (r = 0; r < LB_SKETCH_DEPTH; r++) {
		v = s->c[r][lb_sketch_column(key, r)];
		if (v < est)
			est = v;
	}
	return est;
}

int lb_topk_init(struct lb_topk *t, size_t cap)
{
	size_t slots = 4;

	memset(t, 0, sizeof(*t));
	if (cap < 1)
		cap = 1;
	if (cap > LB_ROUTE_TOP_MAX)
		cap = LB_ROUTE_TOP_MAX;
	while (slots < 2 * cap)
		slots <<= 1;
	t->cap = cap;
	t->index_mask = slots - 1;
	t->e = calloc(cap, sizeof(*t->e));
	t->heap = calloc(cap, sizeof(*t->heap));
	t->index = calloc(slots, sizeof(*t->index));
	t->sketch = calloc(1, sizeof(*t->sketch));
	if (!t->e || !t->heap || !t->index || !t->sketch) {
		lb_topk_free(t);
		return -1;
	}
	return 0;
}

void lb_topk_free(struct lb_topk *t)
{
	free(t->e);
	free(t->heap);
	free(t->index);
	free(t->sketch);
	memset(t, 0, sizeof(*t));
}

/* ---- key → entry: linear probing, deletion by backward shift (no tombstones) ---- */

static size_t slot_of(const struct lb_topk *t, uint64_t key)
{
	size_t k = (size_t)key & t->index_mask;

	while (t->index[k] && t->e[t->index[k] - 1].key != key)
		k = (k + 1) & t->index_mask;
	return k;
}

static void index_del(struct lb_topk *t, uint64_t key)
{
	size_t hole = slot_of(t, key), k = hole, home;

	if (!t->index[hole])
		return;
	t->index[hole] = 0;
	for (;;) {
		k = (k + 1) & t->index_mask;
		if (!t->index[k])
			return;
		home = (size_t)t->e[t->index[k] - 1].key & t->index_mask;
		/* Move it into the hole unless its home lies cyclically in (hole, k]. */
		if (((k - home) & t->index_mask) >= ((k - hole) & t->index_mask)) {
			t->index[hole] = t->index[k];
			t->index[k] = 0;
			hole = k;
		}
	}
}

/* ---- the heap, least count at the top ---- */

static void heap_set(struct lb_topk *t, size_t pos, uint32_t ent)
{
	t->heap[pos] = ent;
	t->e[ent].heap_pos = (uint32_t)pos;
}

static void sift_down(struct lb_topk *t, size_t pos)
{
	uint32_t ent = t->heap[pos];
	size_t c;

	while ((c = 2 * pos + 1) < t->n) {
		if (c + 1 < t->n && t->e[t->heap[c + 1]].count < t->e[t->heap[c]].count)
			c++;
		if (t->e[t->heap[c]].count >= t->e[ent].count)
			break;
		heap_set(t, pos, t->heap[c]);
		pos = c;
	}
	heap_set(t, pos, ent);
}

static void sift_up(struct lb_topk *t, size_t pos)
{
	uint32_t ent = t->heap[pos];

	while (pos && t->e[t->heap[(pos - 1) / 2]].count > t->e[ent].count) {
		heap_set(t, pos, t->heap[(pos - 1) / 2]);
		pos = (pos - 1) / 2;
	}
	heap_set(t, pos, ent);
}

const struct lb_topk_entry *lb_topk_find(const struct lb_topk *t, uint64_t key)
{
	size_t k = slot_of(t, key);

	return t->index[k] ? &t->e[t->index[k] - 1] : NULL;
}

/* Keep @key with @count (upper bound) and @error, evicting the least counted if full. */
static struct lb_topk_entry *enter(struct lb_topk *t, uint64_t key, uint32_t route,
				   uint64_t count, uint64_t error)
{
	struct lb_topk_entry *e;
	uint32_t ent;

	if (t->n < t->cap) {
		ent = (uint32_t)t->n++;
		e = &t->e[ent];
		heap_set(t, t->n - 1, ent);
	} else {
		ent = t->heap[0];
		e = &t->e[ent];
		if (e->count > t->floor)
			t->floor = e->count;
		index_del(t, e->key);
	}
	e->key = key;
	e->route = route;
	e->count = count;
	e->error = error;
	e->bytes = 0;
	t->index[slot_of(t, key)] = ent + 1;
	sift_up(t, e->heap_pos);
	sift_down(t, e->heap_pos);
	return e;
}

void lb_topk_hit(struct lb_topk *t, uint64_t key, uint32_t route, uint64_t bytes)
{
	size_t k = slot_of(t, key);
	struct lb_topk_entry *e;
	uint64_t bound, est;

	t->requests++;
	t->bytes += bytes;
	est = lb_sketch_add(t->sketch, key, 1); /* one pass over the rows: they are cache misses */
	if (t->index[k]) {
		e = &t->e[t->index[k] - 1];
		e->count++;
		e->route = route;
		sift_down(t, e->heap_pos);
	} else {
		/* Both bound what it had before: the floor, and the sketch. */
		bound = t->n < t->cap ? t->floor + 1 : (t->e[t->heap[0]].count > t->floor ?
							t->e[t->heap[0]].count : t->floor) + 1;
		if (est < bound)
			bound = est;
		e = enter(t, key, route, bound, bound - 1);
	}
	e->bytes += bytes;
}

void lb_topk_remove(struct lb_topk *t, uint64_t key)
{
	size_t k = slot_of(t, key), pos;
	uint32_t ent, last;

	if (!t->index[k])
		return;
	ent = t->index[k] - 1;
	index_del(t, key);
	pos = t->e[ent].heap_pos;
	/* The last entry moves into the freed one, so entries stay packed in [0, n). */
	t->n--;
	if (pos != t->n) {
		heap_set(t, pos, t->heap[t->n]);
		sift_up(t, pos);
		sift_down(t, t->e[t->heap[pos]].heap_pos);
	}
	last = (uint32_t)t->n;
	if (ent != last) {
		t->e[ent] = t->e[last];
		t->heap[t->e[ent].heap_pos] = ent;
		t->index[slot_of(t, t->e[ent].key)] = ent + 1;
	}
}

static int by_count_desc(const void *a, const void *b)
{
	const struct lb_topk_entry *x = a, *y = b;

	if (x->count != y->count)
		return x->count < y->count ? 1 : -1;
	return x->key < y->key ? -1 : x->key > y->key;
}

size_t lb_topk_sorted(const struct lb_topk *t, struct lb_topk_entry *out)
{
	memcpy(out, t->e, t->n * sizeof(*out));
	qsort(out, t->n, sizeof(*out), by_count_desc);
	return t->n;
}

/* What summary @s says of @key at most: its count, or its floor if not kept. */
static uint64_t upper_bound(const struct lb_topk *s, uint64_t key, uint64_t *lower)
{
	const struct lb_topk_entry *e = lb_topk_find(s, key);

	if (e) {
		*lower += e->count - e->error;
		return e->count;
	}
	return s->floor;
}

int lb_topk_merge(struct lb_topk *out, const struct lb_topk *const *in, size_t n)
{
	struct lb_topk_entry *cand;
	size_t i, j, k, nc = 0, total = 0;
	uint64_t up, low, est, bytes;

	for (i = 0; i < n; i++)
		total += in[i]->n;
	cand = calloc(total ? total : 1, sizeof(*cand));
	if (!cand)
		return -1;
	for (i = 0; i < n; i++) {
		out->floor += in[i]->floor;
		out->requests += in[i]->requests;
		out->bytes += in[i]->bytes;
		for (k = 0; k < LB_SKETCH_DEPTH; k++)
			for (j = 0; j < LB_SKETCH_WIDTH; j++)
				out->sketch->c[k][j] += in[i]->sketch->c[k][j];
	}
	for (i = 0; i < n; i++) {
		for (j = 0; j < in[i]->n; j++) {
			const struct lb_topk_entry *e = &in[i]->e[j];

			/* Once per route: the first summary that keeps it does the sums. */
			for (k = 0; k < i && !lb_topk_find(in[k], e->key); k++)
				;
			if (k < i)
				continue;
			up = 0;
			low = 0;
			bytes = 0;
			for (k = 0; k < n; k++) {
				const struct lb_topk_entry *o = lb_topk_find(in[k], e->key);

				up += upper_bound(in[k], e->key, &low);
				bytes += o ? o->bytes : 0;
			}
			est = lb_sketch_estimate(out->sketch, e->key);
			if (est < up)
				up = est;
			if (low > up)
				low = up;
			cand[nc++] = (struct lb_topk_entry){ .key = e->key, .count = up,
							     .error = up - low, .bytes = bytes,
							     .route = e->route };
		}
	}
	qsort(cand, nc, sizeof(*cand), by_count_desc);
	for (i = 0; i < nc && i < out->cap; i++)
		enter(out, cand[i].key, cand[i].route, cand[i].count, cand[i].error)->bytes =
			cand[i].bytes;
	/* Those left out bound every route not kept, like an eviction. */
	if (i < nc && cand[i].count > out->floor)
		out->floor = cand[i].count;
	free(cand);
	return 0;
}
