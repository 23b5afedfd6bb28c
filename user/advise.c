// SPDX-License-Identifier: GPL-2.0
/* Replication advice: the model is described in advise.h. */
#include <stdlib.h>
#include <string.h>

#include "advise.h"
#include "route_counts.h"
#include "topk.h"

/* A listed route as the model sees it: its share and its holders so far. */
struct hot {
	size_t route; /* SIZE_MAX: not in this config */
	double share;
	uint64_t holders[LB_MAX_BACKENDS / 64]; /* bit b: backend b holds it */
};

struct cold {
	size_t route;
	uint64_t bound;
};

static bool has(const uint64_t *set, uint32_t b)
{
	return set[b / 64] >> (b % 64) & 1;
}

static void put(uint64_t *set, uint32_t b)
{
	set[b / 64] |= 1ULL << (b % 64);
}

/* Holders of @set that take requests. */
static unsigned int up_holders(const struct lb_advise_in *in, const uint64_t *set)
{
	unsigned int n = 0;
	uint32_t b;

	for (b = 0; b < in->cfg->n_backends; b++)
		n += has(set, b) && in->up[b];
	return n;
}

static void holder_set(const struct lb_cfg_route *r, uint64_t *set)
{
	size_t i;

	memset(set, 0, LB_MAX_BACKENDS / 8);
	for (i = 0; i < r->n_backends; i++)
		put(set, r->backends[i]);
}

/* Which config route each listed one is (by name key), and the cold routes. */
static int scan_routes(const struct lb_advise_in *in, struct hot *hot, struct cold **cold,
		       size_t *n_cold)
{
	const struct lb_config *cfg = in->cfg;
	size_t cap = 4, mask, i, k, room = 0;
	uint32_t *slot; /* top index + 1 by key */
	uint64_t set[LB_MAX_BACKENDS / 64], total = in->sketch->requests, bound, key;
	char buf[32];

	while (cap < 2 * in->n_top)
		cap <<= 1;
	mask = cap - 1;
	slot = calloc(cap, sizeof(*slot));
	if (!slot)
		return -1;
	for (i = 0; i < in->n_top; i++) {
		hot[i].route = SIZE_MAX;
		hot[i].share = (double)in->top[i].requests / (double)total;
		for (k = in->top[i].key & mask; slot[k]; k = (k + 1) & mask)
			;
		slot[k] = (uint32_t)i + 1;
	}
	*cold = NULL;
	*n_cold = 0;
	for (i = 0; i < cfg->n_routes; i++) {
		key = lb_route_key(lb_route_label(cfg, i, buf));
		bound = UINT64_MAX;
		for (k = key & mask; slot[k]; k = (k + 1) & mask) {
			if (in->top[slot[k] - 1].key == key) {
				hot[slot[k] - 1].route = i;
				holder_set(&cfg->routes[i], hot[slot[k] - 1].holders);
				bound = in->top[slot[k] - 1].requests;
				break;
			}
		}
		if (bound == UINT64_MAX)
			bound = lb_sketch_estimate(in->sketch, key);
		if ((double)bound >= in->cold * (double)total)
			continue;
		holder_set(&cfg->routes[i], set);
		if (up_holders(in, set) < 2)
			continue;
		if (*n_cold == room) {
			struct cold *c = realloc(*cold, (room = room ? 2 * room : 64) * sizeof(*c));

			if (!c) {
				free(slot);
				return -1;
			}
			*cold = c;
		}
		(*cold)[(*n_cold)++] = (struct cold){ i, bound };
	}
	free(slot);
	return 0;
}

/* Loads from the hand-offs when there are any, else from the listed routes' shares. */
static void initial_loads(const struct lb_advise_in *in, const struct hot *hot, struct lb_advice *a)
{
	uint64_t sum = 0;
	unsigned int n_up = 0, h;
	double total = 0;
	uint32_t b;
	size_t j;

	for (b = 0; b < in->cfg->n_backends; b++) {
		n_up += in->up[b];
		if (in->up[b] && in->chosen)
			sum += in->chosen[b];
	}
	a->measured = sum > 0;
	for (b = 0; b < in->cfg->n_backends; b++)
		a->load[b] = a->measured && in->up[b] ? (double)in->chosen[b] / (double)sum : 0;
	if (!a->measured) {
		for (j = 0; j < in->n_top; j++) {
			if (hot[j].route == SIZE_MAX || !(h = up_holders(in, hot[j].holders)))
				continue;
			for (b = 0; b < in->cfg->n_backends; b++)
				if (in->up[b] && has(hot[j].holders, b))
					a->load[b] += hot[j].share / h;
		}
	}
	for (b = 0; b < in->cfg->n_backends; b++)
		total += a->load[b];
	a->mean = n_up ? total / n_up : 0;
}

static int add_item(struct lb_advice *a, const struct lb_advice_item *it, size_t *room)
{
	if (a->n == *room) {
		struct lb_advice_item *n = realloc(a->items, (*room = *room ? 2 * *room : 16) * sizeof(*n));

		if (!n)
			return -1;
		a->items = n;
	}
	a->items[a->n++] = *it;
	return 0;
}

/*
 * The busiest backend above factor × mean that one more replica can relieve:
 * the listed route it holds that relieves it most, to the least loaded
 * non-holder. Applies it to @load and the route's holders. False: none.
 */
static bool best_move(const struct lb_advise_in *in, struct hot *hot, double *load, double mean,
		      struct lb_advice_item *it)
{
	bool tried[LB_MAX_BACKENDS] = { false };
	uint32_t busy, b, target, best_target = 0;
	double relief, best_relief, after;
	size_t j, best;
	unsigned int h;

	for (;;) {
		busy = UINT32_MAX;
		for (b = 0; b < in->cfg->n_backends; b++)
			if (in->up[b] && !tried[b] && load[b] > in->factor * mean &&
			    (busy == UINT32_MAX || load[b] > load[busy]))
				busy = b;
		if (busy == UINT32_MAX)
			return false;
		tried[busy] = true;
		best = SIZE_MAX;
		best_relief = 0;
		for (j = 0; j < in->n_top; j++) {
			if (hot[j].route == SIZE_MAX || !has(hot[j].holders, busy))
				continue;
			h = up_holders(in, hot[j].holders);
			relief = hot[j].share / h - hot[j].share / (h + 1);
			target = UINT32_MAX;
			for (b = 0; b < in->cfg->n_backends; b++)
				if (in->up[b] && !has(hot[j].holders, b) &&
				    (target == UINT32_MAX || load[b] < load[target]))
					target = b;
			/* Worth it only if the new holder ends no higher than the relieved one. */
			if (target == UINT32_MAX ||
			    load[target] + hot[j].share / (h + 1) > load[busy] - relief + 1e-9)
				continue;
			if (relief > best_relief) {
				best_relief = relief;
				best = j;
				best_target = target;
			}
		}
		if (best == SIZE_MAX)
			continue;
		h = up_holders(in, hot[best].holders);
		after = load[busy] - best_relief;
		*it = (struct lb_advice_item){ .op = LB_ADVICE_ADD, .route = hot[best].route,
					       .backend = best_target, .relieved = busy,
					       .share = hot[best].share,
					       .requests = in->top[best].requests, .before = load[busy],
					       .after = after };
		for (b = 0; b < in->cfg->n_backends; b++)
			if (in->up[b] && has(hot[best].holders, b))
				load[b] -= best_relief;
		load[best_target] += hot[best].share / (h + 1);
		put(hot[best].holders, best_target);
		return true;
	}
}

static int by_bound(const void *x, const void *y)
{
	const struct cold *a = x, *b = y;

	if (a->bound != b->bound)
		return a->bound < b->bound ? -1 : 1;
	return a->route < b->route ? -1 : a->route > b->route;
}

int lb_advise(const struct lb_advise_in *in, struct lb_advice *a)
{
	struct hot *hot = NULL;
	struct cold *cold = NULL;
	double load[LB_MAX_BACKENDS];
	size_t n_cold = 0, room = 0, i, k;
	unsigned int n_up = 0;
	struct lb_advice_item it;
	uint32_t b, drop;
	int err = -1;

	memset(a, 0, sizeof(*a));
	for (b = 0; b < in->cfg->n_backends; b++)
		n_up += in->up[b];
	if (in->sketch->requests < in->min_requests || !in->sketch->requests) {
		a->none = "too few requests routed yet to tell hot from cold";
		return 0;
	}
	if (n_up < 2) {
		a->none = "fewer than two backends take requests: no replica to add or drop";
		return 0;
	}
	hot = calloc(in->n_top ? in->n_top : 1, sizeof(*hot));
	if (!hot || scan_routes(in, hot, &cold, &n_cold))
		goto out;
	initial_loads(in, hot, a);
	memcpy(load, a->load, sizeof(load));
	while (a->n_add < in->max_add && best_move(in, hot, load, a->mean, &it)) {
		if (add_item(a, &it, &room))
			goto out;
		a->n_add++;
	}
	if (n_cold)
		qsort(cold, n_cold, sizeof(*cold), by_bound);
	for (i = 0; i < n_cold && i < in->max_drop; i++) {
		const struct lb_cfg_route *r = &in->cfg->routes[cold[i].route];

		drop = UINT32_MAX;
		for (k = 0; k < r->n_backends; k++) {
			b = r->backends[k];
			if (in->up[b] && (drop == UINT32_MAX || load[b] > load[drop]))
				drop = b;
		}
		it = (struct lb_advice_item){ .op = LB_ADVICE_DROP, .route = cold[i].route,
					      .backend = drop, .requests = cold[i].bound,
					      .share = (double)cold[i].bound /
						       (double)in->sketch->requests };
		if (add_item(a, &it, &room))
			goto out;
	}
	a->more_cold = n_cold > in->max_drop ? n_cold - in->max_drop : 0;
	err = 0;
out:
	free(hot);
	free(cold);
	if (err)
		lb_advice_free(a);
	return err;
}

void lb_advice_free(struct lb_advice *a)
{
	free(a->items);
	memset(a, 0, sizeof(*a));
}

static const char *route_label(const struct lb_advise_in *in, size_t i, char buf[32])
{
	return lb_route_label(in->cfg, i, buf);
}

static void print_holders(FILE *f, const struct lb_advise_in *in, const struct lb_cfg_route *r)
{
	size_t k;

	for (k = 0; k < r->n_backends; k++)
		fprintf(f, "%s%s", k ? ", " : "", in->cfg->backends[r->backends[k]].name);
}

void lb_advice_print(FILE *f, const struct lb_advise_in *in, const struct lb_advice *a)
{
	char buf[32];
	uint32_t b;
	size_t i;
	bool first = true;

	fprintf(f, "Routed requests: %llu; %zu routes listed, the others estimated by the sketch\n",
		(unsigned long long)in->sketch->requests, in->n_top);
	if (a->none) {
		fprintf(f, "No advice: %s.\n", a->none);
		return;
	}
	fprintf(f, "Backend loads (%s; mean %.1f%%, busy above %.2f x the mean):",
		a->measured ? "share of hand-offs" : "modelled from the listed routes",
		100 * a->mean, in->factor);
	for (b = 0; b < in->cfg->n_backends; b++) {
		if (!in->cfg->backends[b].name[0])
			continue;
		fprintf(f, "%s %s %s", first ? "" : ",", in->cfg->backends[b].name,
			in->up[b] ? "" : "(not taking requests)");
		if (in->up[b])
			fprintf(f, "%.1f%%%s", 100 * a->load[b],
				a->load[b] > in->factor * a->mean ? " (busy)" : "");
		first = false;
	}
	fprintf(f, "\n");
	if (!a->n_add)
		fprintf(f, "Add a replica: nothing to add (no backend is busy, or no listed route "
			   "of a busy one can move load to a less loaded one).\n");
	for (i = 0; i < a->n; i++) {
		const struct lb_advice_item *it = &a->items[i];
		const struct lb_cfg_route *r = &in->cfg->routes[it->route];

		if (i == 0 && it->op == LB_ADVICE_ADD)
			fprintf(f, "Add a replica (hot routes, most relief first):\n");
		if (it->op == LB_ADVICE_DROP && (i == 0 || a->items[i - 1].op != LB_ADVICE_DROP))
			fprintf(f, "Drop a replica (cold routes: under %g%% of the requests, with two "
				   "holders or more):\n", 100 * in->cold);
		if (it->op == LB_ADVICE_ADD)
			fprintf(f, "  route %s (%.2f%% of requests), held by ",
				route_label(in, it->route, buf), 100 * it->share);
		else
			fprintf(f, "  route %s (at most %llu requests, %.3f%%), held by ",
				route_label(in, it->route, buf), (unsigned long long)it->requests,
				100 * it->share);
		print_holders(f, in, r);
		if (it->op == LB_ADVICE_ADD)
			fprintf(f, ": add %s; %s %.1f%% -> %.1f%%\n",
				in->cfg->backends[it->backend].name,
				in->cfg->backends[it->relieved].name, 100 * it->before,
				100 * it->after);
		else
			fprintf(f, ": drop %s\n", in->cfg->backends[it->backend].name);
	}
	if (a->n == a->n_add)
		fprintf(f, "Drop a replica: no cold route with two holders or more.\n");
	if (a->more_cold)
		fprintf(f, "  ... and %zu more cold routes (--max-drop)\n", a->more_cold);
}

/*
 * @s as a YAML double-quoted scalar. Paths were percent-decoded when loaded:
 * @percent writes '%' as "%25" so that loading them again gives them back.
 */
static void yaml_quoted(FILE *f, const char *s, bool percent)
{
	fputc('"', f);
	for (; *s; s++) {
		if (*s == '%' && percent) {
			fputs("%25", f);
			continue;
		}
		if (*s == '"' || *s == '\\')
			fputc('\\', f);
		fputc(*s, f);
	}
	fputc('"', f);
}

void lb_advice_print_yaml(FILE *f, const struct lb_advise_in *in, const struct lb_advice *a)
{
	uint64_t set[LB_MAX_BACKENDS / 64];
	char buf[32];
	size_t i, k;
	uint32_t b;
	bool first;

	fprintf(f, "# latebind advise: %zu replica(s) to add, %zu to drop. Replace the routes of\n"
		   "# the same name in the config with these, copy the content, then reload.\n",
		a->n_add, a->n - a->n_add);
	if (a->none)
		fprintf(f, "# No advice: %s.\n", a->none);
	if (!a->n) {
		fprintf(f, "routes: []\n");
		return;
	}
	fprintf(f, "routes:\n");
	for (i = 0; i < a->n; i++) {
		const struct lb_cfg_route *r = &in->cfg->routes[a->items[i].route];

		/* A route advised twice is printed once, at its first item, with every change. */
		for (k = 0; k < i && a->items[k].route != a->items[i].route; k++)
			;
		if (k < i)
			continue;
		holder_set(r, set);
		for (k = i; k < a->n; k++) {
			if (a->items[k].route != a->items[i].route)
				continue;
			if (a->items[k].op == LB_ADVICE_ADD)
				put(set, a->items[k].backend);
			else
				set[a->items[k].backend / 64] &= ~(1ULL << (a->items[k].backend % 64));
		}
		fprintf(f, "  - {name: ");
		yaml_quoted(f, route_label(in, a->items[i].route, buf), false);
		fprintf(f, ", host: ");
		yaml_quoted(f, r->host ? r->host : "*", false);
		fprintf(f, r->path ? ", path: " : ", prefix: ");
		yaml_quoted(f, r->path ? r->path : r->prefix, true);
		fprintf(f, ", backends: [");
		first = true;
		/* The old holders in their order, then the new ones. */
		for (k = 0; k < r->n_backends; k++) {
			if (!has(set, r->backends[k]))
				continue;
			fprintf(f, "%s%s", first ? "" : ", ", in->cfg->backends[r->backends[k]].name);
			set[r->backends[k] / 64] &= ~(1ULL << (r->backends[k] % 64));
			first = false;
		}
		for (b = 0; b < in->cfg->n_backends; b++) {
			if (!has(set, b))
				continue;
			fprintf(f, "%s%s", first ? "" : ", ", in->cfg->backends[b].name);
			first = false;
		}
		fprintf(f, "]}\n");
	}
}
