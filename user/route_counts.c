// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "route_counts.h"

static size_t top_routes(const struct lb_config *cfg)
{
	return cfg->metrics.top_routes ? cfg->metrics.top_routes : LB_ROUTE_TOP_DEFAULT;
}

int lb_route_counts_init(struct lb_route_counts *rc, const struct lb_config *cfg)
{
	pthread_mutex_init(&rc->lock, NULL);
	rc->cfg = cfg;
	return lb_topk_init(&rc->top, top_routes(cfg));
}

/* Each kept route's index under @cfg; routes @cfg lacks are dropped. */
static void renumber(struct lb_topk *t, const struct lb_config *cfg)
{
	uint8_t *seen = calloc(t->cap, 1);
	char buf[32];
	size_t i;

	if (!seen) {
		while (t->n) /* cannot tell which are gone: none are trusted */
			lb_topk_remove(t, t->e[0].key);
		return;
	}
	for (i = 0; i < cfg->n_routes; i++) {
		const struct lb_topk_entry *e = lb_topk_find(t, lb_route_key(lb_route_label(cfg, i, buf)));

		if (e) {
			((struct lb_topk_entry *)e)->route = (uint32_t)i;
			seen[e - t->e] = 1;
		}
	}
	/* Removing moves the last entry into the hole: walk down from the end. */
	for (i = t->n; i-- > 0;)
		if (!seen[i])
			lb_topk_remove(t, t->e[i].key);
	free(seen);
}

int lb_route_counts_carry(struct lb_route_counts *rc, const struct lb_config *cfg)
{
	struct lb_topk next;
	const struct lb_topk *old = &rc->top;
	int err = 0;

	pthread_mutex_lock(&rc->lock);
	if (rc->top.cap)
		renumber(&rc->top, cfg); /* first: gone routes make no room for others */
	if (rc->top.cap != top_routes(cfg) || !rc->top.cap) {
		if (lb_topk_init(&next, top_routes(cfg)))
			err = -1;
		else if (rc->top.cap && lb_topk_merge(&next, &old, 1))
			err = -1;
		lb_topk_free(&rc->top);
		if (!err)
			rc->top = next;
		else
			lb_topk_free(&next);
	}
	rc->cfg = cfg;
	pthread_mutex_unlock(&rc->lock);
	return err;
}

void lb_route_counts_free(struct lb_route_counts *rc)
{
	lb_topk_free(&rc->top);
	pthread_mutex_destroy(&rc->lock);
	rc->cfg = NULL;
}

void lb_route_counts_hit(struct lb_route_counts *rc, size_t route, const char *name,
			 uint64_t bytes)
{
	char buf[32];
	uint64_t key;

	if (!rc->top.cap || route >= rc->cfg->n_routes)
		return;
	key = lb_route_key(lb_route_name_or_index(name, route, buf));
	pthread_mutex_lock(&rc->lock);
	lb_topk_hit(&rc->top, key, (uint32_t)route, bytes);
	pthread_mutex_unlock(&rc->lock);
}

int lb_route_counts_merge(struct lb_route_counts *const *rc, size_t n,
			  const struct lb_config *cfg, struct lb_topk *out)
{
	const struct lb_topk **in = calloc(n ? n : 1, sizeof(*in));
	size_t i, m = 0;
	int err;

	if (!in)
		return -1;
	for (i = 0; i < n; i++)
		pthread_mutex_lock(&rc[i]->lock);
	for (i = 0; i < n; i++)
		/* The same routes: the daemon's copy of the config the thread was given. */
		if (rc[i]->top.cap && rc[i]->cfg->routes == cfg->routes &&
		    rc[i]->cfg->n_routes == cfg->n_routes)
			in[m++] = &rc[i]->top;
	err = lb_topk_merge(out, in, m);
	for (i = n; i-- > 0;)
		pthread_mutex_unlock(&rc[i]->lock);
	free(in);
	return err;
}
