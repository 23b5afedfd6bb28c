// SPDX-License-Identifier: GPL-2.0
/*
 * Content directory: host scopes -> (exact paths | longest prefix) -> holders.
 *
 * Layout, chosen for a million routes:
 *  - every route is one 20-byte record; its path bytes sit in one arena and
 *    are referred to by offset (no per-route allocation, no pointers to chase);
 *  - exact paths: one open-addressing table for all scopes, 8-byte slots of
 *    (hash tag, route), load <= 1/2, keyed by hash(path) mixed with the scope,
 *    so the path is hashed once per lookup whatever the number of scopes;
 *  - prefixes: a compressed trie per scope, built in one pass over the sorted
 *    prefixes. Edge labels point into the path arena (no copies); children of
 *    a node are contiguous and their first bytes sit in a separate byte array,
 *    so choosing a child is a memchr over at most 256 bytes;
 *  - host patterns: a small hash table. "*.a.com" is stored as ".a.com", so
 *    every suffix of a request host starting at a '.' is a candidate key; the
 *    host hash runs from the right so all suffix hashes come from one pass.
 *  - holder lists are interned: a million routes usually share a few lists.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "hash.h"
#include "hex.h"
#include "host.h"

#define NONE		UINT32_MAX

struct route_rec {
	uint32_t key_off;  /* path bytes in d->paths */
	uint32_t key_len;
	uint32_t scope;
	uint32_t name_off; /* NUL-terminated in d->names */
	uint32_t set;	   /* offset in d->sets of [count, holder...] */
};

struct scope {
	uint32_t host_off; /* pattern in d->hosts: "a.com", ".a.com" or "*" */
	uint32_t host_len;
	uint32_t trie_root; /* NONE when the scope has no prefix routes */
	uint32_t n_exact;
};

struct slot {
	uint32_t tag; /* hash bits, compared before touching the key */
	uint32_t id1; /* id + 1; 0 is an empty slot */
};

struct node {
	uint32_t label_off; /* in d->paths */
	uint32_t route;	    /* prefix route ending here, or NONE */
	uint32_t child;	    /* first child; the n_child children are contiguous */
	uint16_t label_len;
	uint16_t n_child;
};

struct table {
	struct slot *s;
	uint32_t mask;
	uint32_t used;
};

struct lb_directory {
	struct route_rec *routes;
	size_t n_routes;
	char *paths;
	size_t paths_len;
	char *names;
	size_t names_len;

	struct scope *scopes;
	size_t n_scopes, cap_scopes;
	char *hosts;
	size_t hosts_len, cap_hosts;
	struct table host_tab;
	uint32_t star;	      /* scope of "*", or NONE */
	uint32_t n_wild;      /* "*.suffix" scopes */
	uint32_t max_wild_len; /* longest ".suffix": longer host suffixes cannot match */

	uint32_t *sets;
	size_t sets_len, cap_sets;
	struct table set_tab;
	size_t n_sets;

	struct slot *exact;
	uint32_t exact_mask;
	size_t n_exact;

	struct node *nodes;
	uint8_t *first; /* first byte of each node's label */
	size_t n_nodes;
	size_t n_prefixes;
};

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}


/*
 * Paths: eight bytes per step. Not keyed: the tables are built from the
 * config and never grow from requests, so a crafted path can only probe,
 * never lengthen a chain.
 */
static uint64_t hash_path(const char *s, size_t n)
{
	uint64_t h = LB_GOLDEN64 ^ (n * 0x87c37b91114253d5ULL);
	uint64_t w;

	for (; n >= 8; s += 8, n -= 8) {
		memcpy(&w, s, 8);
		h = rotl64(h ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
	}
	w = 0;
	memcpy(&w, s, n);
	h = rotl64(h ^ (w * 0x87c37b91114253d5ULL), 31) * 0x4cf5ad432745937fULL;
	return h;
}

static inline uint64_t hash_in_scope(uint64_t hpath, uint32_t scope)
{
	return lb_fmix64(hpath ^ ((uint64_t)(scope + 1) * LB_GOLDEN64));
}

/* Hosts hash right to left (FNV-1a steps), so each suffix extends the last. */
static uint32_t hash_host(const char *s, size_t n)
{
	uint64_t h = LB_FNV64_BASIS;

	while (n--)
		h = lb_fnv64_step(h, (unsigned char)s[n]);
	return (uint32_t)lb_fmix64(h);
}

static uint32_t hash_set(const uint32_t *v, size_t n)
{
	uint64_t h = n;

	for (size_t i = 0; i < n; i++)
		h = rotl64(h ^ (v[i] * 0x87c37b91114253d5ULL), 27) * 0x4cf5ad432745937fULL;
	return (uint32_t)lb_fmix64(h);
}


/* --- growable tables (hosts, holder sets), only used while building ------ */

static int table_init(struct table *t, uint32_t cap)
{
	t->s = calloc(cap, sizeof(*t->s));
	t->mask = cap - 1;
	t->used = 0;
	return t->s ? 0 : -1;
}

static int table_grow(struct table *t)
{
	struct table n;

	if (table_init(&n, (t->mask + 1) * 2))
		return -1;
	for (uint32_t i = 0; i <= t->mask; i++) {
		uint32_t j;

		if (!t->s[i].id1)
			continue;
		for (j = t->s[i].tag & n.mask; n.s[j].id1; j = (j + 1) & n.mask)
			;
		n.s[j] = t->s[i];
	}
	n.used = t->used;
	free(t->s);
	*t = n;
	return 0;
}

static bool host_eq(const struct lb_directory *d, uint32_t id, const char *s, size_t n)
{
	const struct scope *sc = &d->scopes[id];

	return sc->host_len == n && !memcmp(d->hosts + sc->host_off, s, n);
}

static uint32_t host_find(const struct lb_directory *d, uint32_t h, const char *s, size_t n)
{
	const struct table *t = &d->host_tab;

	for (uint32_t i = h & t->mask; t->s[i].id1; i = (i + 1) & t->mask)
		if (t->s[i].tag == h && host_eq(d, t->s[i].id1 - 1, s, n))
			return t->s[i].id1 - 1;
	return NONE;
}

/* The scope of pattern @s (already validated and lower-cased), created if new. */
static uint32_t scope_intern(struct lb_directory *d, const char *s, size_t n)
{
	uint32_t h = hash_host(s, n), id = host_find(d, h, s, n), i;
	struct scope *sc;

	if (id != NONE)
		return id;
	if ((d->host_tab.used + 1) * 2 > d->host_tab.mask + 1 && table_grow(&d->host_tab))
		return NONE;
	if (d->n_scopes == d->cap_scopes) {
		size_t cap = d->cap_scopes ? d->cap_scopes * 2 : 16;
		void *p = realloc(d->scopes, cap * sizeof(*d->scopes));

		if (!p)
			return NONE;
		d->scopes = p;
		d->cap_scopes = cap;
	}
	if (d->hosts_len + n > d->cap_hosts) {
		size_t cap = d->cap_hosts ? d->cap_hosts * 2 : 1024;
		void *p;

		while (cap < d->hosts_len + n)
			cap *= 2;
		p = realloc(d->hosts, cap);
		if (!p)
			return NONE;
		d->hosts = p;
		d->cap_hosts = cap;
	}
	memcpy(d->hosts + d->hosts_len, s, n);
	id = (uint32_t)d->n_scopes++;
	sc = &d->scopes[id];
	sc->host_off = (uint32_t)d->hosts_len;
	sc->host_len = (uint32_t)n;
	sc->trie_root = NONE;
	sc->n_exact = 0;
	d->hosts_len += n;

	for (i = h & d->host_tab.mask; d->host_tab.s[i].id1; i = (i + 1) & d->host_tab.mask)
		;
	d->host_tab.s[i].tag = h;
	d->host_tab.s[i].id1 = id + 1;
	d->host_tab.used++;

	if (n == 1 && s[0] == '*') {
		d->star = id;
	} else if (s[0] == '.') {
		d->n_wild++;
		if (n > d->max_wild_len)
			d->max_wild_len = (uint32_t)n;
	}
	return id;
}

/* Offset of the interned copy of @v[0..n) in d->sets, or NONE. */
static uint32_t set_intern(struct lb_directory *d, const uint32_t *v, size_t n)
{
	uint32_t h = hash_set(v, n), i, off;
	struct table *t = &d->set_tab;

	for (i = h & t->mask; t->s[i].id1; i = (i + 1) & t->mask) {
		const uint32_t *s = d->sets + (t->s[i].id1 - 1);

		if (t->s[i].tag == h && s[0] == n && !memcmp(s + 1, v, n * sizeof(*v)))
			return t->s[i].id1 - 1;
	}
	if (d->sets_len + 1 + n > d->cap_sets) {
		size_t cap = d->cap_sets ? d->cap_sets * 2 : 256;
		void *p;

		while (cap < d->sets_len + 1 + n)
			cap *= 2;
		if (cap > UINT32_MAX - 1)
			return NONE;
		p = realloc(d->sets, cap * sizeof(*d->sets));
		if (!p)
			return NONE;
		d->sets = p;
		d->cap_sets = cap;
	}
	off = (uint32_t)d->sets_len;
	d->sets[off] = (uint32_t)n;
	if (n)
		memcpy(d->sets + off + 1, v, n * sizeof(*v));
	d->sets_len += 1 + n;
	d->n_sets++;

	if ((t->used + 1) * 2 > t->mask + 1) {
		if (table_grow(t))
			return NONE;
	}
	for (i = h & t->mask; t->s[i].id1; i = (i + 1) & t->mask)
		;
	t->s[i].tag = h;
	t->s[i].id1 = off + 1;
	t->used++;
	return off;
}

/* --- messages ------------------------------------------------------------ */

static const char *route_target(const struct lb_cfg_route *r)
{
	return r->path ? r->path : r->prefix;
}

/* @pb as the directory's own one-line message. */
static void route_error(char *err, size_t errlen, const struct lb_cfg_route *routes, size_t n,
			const struct lb_route_problem *pb)
{
	const struct lb_cfg_route *r = &routes[pb->route];
	const char *name = r->name ? r->name : "?";

	switch (pb->fault) {
	case LB_ROUTE_KIND:
		set_err(err, errlen, "line %d: route %s: give exactly one of path or prefix", r->line,
			name);
		break;
	case LB_ROUTE_PATH:
		set_err(err, errlen, "line %d: route %s: %s \"%s\" %s", r->line, name,
			r->path ? "path" : "prefix", route_target(r), pb->why);
		break;
	case LB_ROUTE_HOST:
		set_err(err, errlen, "line %d: route %s: host \"%s\": %s", r->line, name,
			r->host ? r->host : "*", pb->why);
		break;
	case LB_ROUTE_DUPLICATE:
		set_err(err, errlen, "line %d: route %s: same host and %s as the route on line %d",
			r->line, name, r->path ? "path" : "prefix", routes[pb->other].line);
		break;
	default:
		set_err(err, errlen, "directory: out of memory checking %zu routes", n);
		break;
	}
}

/* --- trie ----------------------------------------------------------------- */

struct sort_ctx {
	const struct lb_directory *d;
};

static int cmp_prefix(const void *a, const void *b, void *arg)
{
	const struct lb_directory *d = ((const struct sort_ctx *)arg)->d;
	const struct route_rec *ra = &d->routes[*(const uint32_t *)a];
	const struct route_rec *rb = &d->routes[*(const uint32_t *)b];
	size_t n = ra->key_len < rb->key_len ? ra->key_len : rb->key_len;
	int c;

	if (ra->scope != rb->scope)
		return ra->scope < rb->scope ? -1 : 1;
	c = memcmp(d->paths + ra->key_off, d->paths + rb->key_off, n);
	if (c)
		return c;
	return (ra->key_len > rb->key_len) - (ra->key_len < rb->key_len);
}

/*
 * Breadth-first over sorted keys: a node owns a range [lo, hi) of keys that
 * share their first @depth bytes. Since they are sorted, the range's common
 * prefix is that of its first and last key; that is the node's label. A key
 * that ends there is the node's route, the rest split by their next byte
 * into contiguous children. Each key adds at most one leaf and one branch.
 */
static int build_tries(struct lb_directory *d, const uint32_t *sorted, size_t n, char *err,
		       size_t errlen)
{
	size_t cap = 2 * n + d->n_scopes + 1, next = 0;
	uint32_t *lo = NULL, *hi = NULL, *depth = NULL;
	int ret = -1;

	d->nodes = malloc(cap * sizeof(*d->nodes));
	d->first = malloc(cap);
	lo = malloc(cap * sizeof(*lo));
	hi = malloc(cap * sizeof(*hi));
	depth = malloc(cap * sizeof(*depth));
	if (!d->nodes || !d->first || !lo || !hi || !depth) {
		set_err(err, errlen, "directory: out of memory for %zu prefixes", n);
		goto out;
	}

	for (size_t i = 0; i < n;) {
		uint32_t sc = d->routes[sorted[i]].scope;
		size_t j = i, x;

		while (j < n && d->routes[sorted[j]].scope == sc)
			j++;
		d->scopes[sc].trie_root = (uint32_t)next;
		lo[next] = (uint32_t)i;
		hi[next] = (uint32_t)j;
		depth[next] = 0;
		d->first[next] = (uint8_t)d->paths[d->routes[sorted[i]].key_off];
		x = next++;

		/* Nodes are appended in the order they are processed: a queue. */
		for (; x < next; x++) {
			const struct route_rec *a = &d->routes[sorted[lo[x]]];
			const struct route_rec *b = &d->routes[sorted[hi[x] - 1]];
			const char *ka = d->paths + a->key_off, *kb = d->paths + b->key_off;
			uint32_t l = depth[x], m = a->key_len < b->key_len ? a->key_len : b->key_len;
			uint32_t k = lo[x], groups = 0;
			struct node *nd = &d->nodes[x];

			while (l < m && ka[l] == kb[l])
				l++;
			nd->label_off = a->key_off + depth[x];
			nd->label_len = (uint16_t)(l - depth[x]);
			nd->route = NONE;
			nd->child = (uint32_t)next;
			if (a->key_len == l) {
				nd->route = sorted[k];
				k++;
			}
			/* Every key left is longer than l: keys are unique. */
			while (k < hi[x]) {
				unsigned char c = d->paths[d->routes[sorted[k]].key_off + l];
				uint32_t e = k;

				while (e < hi[x] &&
				       (unsigned char)d->paths[d->routes[sorted[e]].key_off + l] == c)
					e++;
				lo[next] = k;
				hi[next] = e;
				depth[next] = l;
				d->first[next] = c;
				next++;
				groups++;
				k = e;
			}
			nd->n_child = (uint16_t)groups;
		}
		i = j;
	}
	d->n_nodes = next;
	/* The bound assumed the worst case; give back what was not used. */
	if (next) {
		void *p = realloc(d->nodes, next * sizeof(*d->nodes));

		if (p)
			d->nodes = p;
		p = realloc(d->first, next);
		if (p)
			d->first = p;
	}
	ret = 0;
out:
	free(lo);
	free(hi);
	free(depth);
	return ret;
}

/* --- build ---------------------------------------------------------------- */

/* Keys are unique (lb_routes_check): the first free slot is the route's. */
static void exact_insert(struct lb_directory *d, uint32_t r)
{
	const struct route_rec *rr = &d->routes[r];
	uint64_t h = hash_in_scope(hash_path(d->paths + rr->key_off, rr->key_len), rr->scope);
	uint32_t i = (uint32_t)h & d->exact_mask;

	for (; d->exact[i].id1; i = (i + 1) & d->exact_mask)
		;
	d->exact[i].tag = (uint32_t)(h >> 32);
	d->exact[i].id1 = r + 1;
}

struct lb_directory *lb_directory_build(const struct lb_cfg_route *routes, size_t n, char *err,
					size_t errlen)
{
	struct lb_directory *d = calloc(1, sizeof(*d));
	size_t paths_total = 0, names_total = 0, n_exact = 0, n_prefix = 0, cap;
	uint32_t *sorted = NULL;
	const char *prev_host = NULL;
	uint32_t prev_scope = NONE;
	struct lb_route_problem pb;
	char pat[LB_HOST_MAX + 2];

	if (!d)
		goto oom;
	d->star = NONE;
	if (n > UINT32_MAX - 1) {
		set_err(err, errlen, "directory: too many routes (%zu)", n);
		goto fail;
	}

	if (lb_routes_check(routes, n, &pb)) {
		route_error(err, errlen, routes, n, &pb);
		goto fail;
	}

	/* Pass 1: size everything, so arenas are allocated once. */
	for (size_t i = 0; i < n; i++) {
		const struct lb_cfg_route *r = &routes[i];
		size_t pl = strlen(route_target(r));

		paths_total += pl;
		names_total += (r->name ? strlen(r->name) : 16) + 1;
		if (r->path)
			n_exact++;
		else
			n_prefix++;
	}
	if (paths_total > UINT32_MAX || names_total > UINT32_MAX) {
		set_err(err, errlen, "directory: routes too large (%zu bytes of paths)", paths_total);
		goto fail;
	}

	d->routes = malloc((n ? n : 1) * sizeof(*d->routes));
	d->paths = malloc(paths_total ? paths_total : 1);
	d->names = malloc(names_total ? names_total : 1);
	for (cap = 16; cap < 2 * n_exact; cap *= 2)
		;
	d->exact = calloc(cap, sizeof(*d->exact));
	d->exact_mask = (uint32_t)(cap - 1);
	sorted = malloc((n_prefix ? n_prefix : 1) * sizeof(*sorted));
	if (!d->routes || !d->paths || !d->names || !d->exact || !sorted ||
	    table_init(&d->host_tab, 16) || table_init(&d->set_tab, 16))
		goto oom;

	/* Pass 2: records, scopes, holder sets, exact table. */
	for (size_t i = 0; i < n; i++) {
		const struct lb_cfg_route *r = &routes[i];
		struct route_rec *rr = &d->routes[i];
		const char *p = route_target(r), *host = r->host ? r->host : "*", *why;
		size_t pl = strlen(p), nl;

		/* Generated route files repeat one host: skip re-hashing it. */
		if (!prev_host || strcmp(prev_host, host)) {
			size_t hl = lb_route_host_pattern(host, strlen(host), pat, &why);

			prev_scope = hl ? scope_intern(d, pat, hl) : NONE;
			if (prev_scope == NONE)
				goto oom;
			prev_host = host;
		}
		rr->scope = prev_scope;

		rr->key_off = (uint32_t)d->paths_len;
		rr->key_len = (uint32_t)pl;
		memcpy(d->paths + d->paths_len, p, pl);
		d->paths_len += pl;

		rr->name_off = (uint32_t)d->names_len;
		if (r->name) {
			nl = strlen(r->name);
			memcpy(d->names + d->names_len, r->name, nl + 1);
		} else {
			nl = (size_t)snprintf(d->names + d->names_len, names_total - d->names_len,
					      "route%zu", i);
		}
		d->names_len += nl + 1;

		if (r->n_backends && !r->backends) {
			set_err(err, errlen, "line %d: route %s: backend list missing", r->line,
				r->name ? r->name : "?");
			goto fail;
		}
		rr->set = set_intern(d, r->backends, r->n_backends);
		if (rr->set == NONE)
			goto oom;

		if (r->path) {
			d->scopes[rr->scope].n_exact++;
			exact_insert(d, (uint32_t)i);
			d->n_exact++;
		} else {
			sorted[d->n_prefixes++] = (uint32_t)i;
		}
	}
	d->n_routes = n;

	/* Pass 3: prefixes, sorted by (scope, bytes), into tries. */
	if (d->n_prefixes) {
		struct sort_ctx ctx = { .d = d };

		qsort_r(sorted, d->n_prefixes, sizeof(*sorted), cmp_prefix, &ctx);
		if (build_tries(d, sorted, d->n_prefixes, err, errlen))
			goto fail;
	}
	free(sorted);
	/* Holder sets are found by offset from now on; the dedup table can go. */
	free(d->set_tab.s);
	d->set_tab.s = NULL;
	return d;

oom:
	set_err(err, errlen, "directory: out of memory building %zu routes", n);
fail:
	free(sorted);
	lb_directory_free(d);
	return NULL;
}

void lb_directory_free(struct lb_directory *d)
{
	if (!d)
		return;
	free(d->routes);
	free(d->paths);
	free(d->names);
	free(d->scopes);
	free(d->hosts);
	free(d->host_tab.s);
	free(d->sets);
	free(d->set_tab.s);
	free(d->exact);
	free(d->nodes);
	free(d->first);
	free(d);
}

/* --- lookup --------------------------------------------------------------- */

static void fill(const struct lb_directory *d, uint32_t r, struct lb_route_match *m)
{
	const struct route_rec *rr = &d->routes[r];

	m->route = r;
	m->name = d->names + rr->name_off;
	m->n_holders = d->sets[rr->set];
	m->holders = d->sets + rr->set + 1;
}

static uint32_t lookup_exact(const struct lb_directory *d, uint32_t sc, uint64_t hpath,
			     const char *path, size_t len)
{
	uint64_t h = hash_in_scope(hpath, sc);
	uint32_t i = (uint32_t)h & d->exact_mask, tag = (uint32_t)(h >> 32);

	for (; d->exact[i].id1; i = (i + 1) & d->exact_mask) {
		const struct route_rec *o;

		if (d->exact[i].tag != tag)
			continue;
		o = &d->routes[d->exact[i].id1 - 1];
		if (o->scope == sc && o->key_len == len && !memcmp(d->paths + o->key_off, path, len))
			return d->exact[i].id1 - 1;
	}
	return NONE;
}

static uint32_t lookup_prefix(const struct lb_directory *d, uint32_t x, const char *path,
			      size_t len)
{
	uint32_t best = NONE;
	size_t pos = 0;

	for (;;) {
		const struct node *nd = &d->nodes[x];
		const uint8_t *c;

		if (nd->label_len > len - pos ||
		    memcmp(d->paths + nd->label_off, path + pos, nd->label_len))
			break;
		pos += nd->label_len;
		if (nd->route != NONE)
			best = nd->route;
		if (pos == len || !nd->n_child)
			break;
		c = memchr(d->first + nd->child, (unsigned char)path[pos], nd->n_child);
		if (!c)
			break;
		x = (uint32_t)(c - d->first);
	}
	return best;
}

static uint32_t lookup_scope(const struct lb_directory *d, uint32_t sc, uint64_t hpath,
			     const char *path, size_t len)
{
	const struct scope *s = &d->scopes[sc];
	uint32_t r = NONE;

	if (s->n_exact)
		r = lookup_exact(d, sc, hpath, path, len);
	if (r == NONE && s->trie_root != NONE)
		r = lookup_prefix(d, s->trie_root, path, len);
	return r;
}

bool lb_directory_lookup(const struct lb_directory *d, const char *host, size_t hostlen,
			 const char *path, size_t pathlen, struct lb_route_match *m)
{
	char h[LB_HOST_MAX];
	/* A dot can stand at every position (the parser lets "[....]" through). */
	uint64_t hh[LB_HOST_MAX], hs, hpath;
	uint32_t at[LB_HOST_MAX], r = NONE, sc;
	size_t n = 0, ndots = 0;

	if (!d || !d->n_routes)
		return false;
	hpath = hash_path(path, pathlen);

	/* The host as the patterns have it: no port, no trailing dot, lower case. */
	if (hostlen && host[0] == '[') {
		const char *e = memchr(host, ']', hostlen);

		n = e ? (size_t)(e - host) + 1 : hostlen;
	} else {
		const char *e = memchr(host, ':', hostlen);

		n = e ? (size_t)(e - host) : hostlen;
	}
	if (n && host[n - 1] == '.')
		n--;

	/* A longer host is no name a route can carry: only "*" applies. */
	if (n && n <= LB_HOST_MAX) {
		for (size_t i = 0; i < n; i++)
			h[i] = (char)lb_lower(host[i]);

		/* All suffix hashes in one right-to-left pass. */
		hs = LB_FNV64_BASIS;
		for (size_t i = n; i-- > 0;) {
			hs = lb_fnv64_step(hs, (unsigned char)h[i]);
			if (h[i] == '.' && i > 0 && d->n_wild && n - i <= d->max_wild_len) {
				hh[ndots] = hs;
				at[ndots++] = (uint32_t)i;
			}
		}
		/* ".a.com" is the key of "*.a.com", never a host's own name. */
		sc = h[0] == '.' ? NONE : host_find(d, (uint32_t)lb_fmix64(hs), h, n);
		if (sc != NONE)
			r = lookup_scope(d, sc, hpath, path, pathlen);
		/* Longest suffix first: the leftmost dot was recorded last. */
		while (r == NONE && ndots--) {
			size_t i = at[ndots];

			sc = host_find(d, (uint32_t)lb_fmix64(hh[ndots]), h + i, n - i);
			if (sc != NONE)
				r = lookup_scope(d, sc, hpath, path, pathlen);
		}
	}
	if (r == NONE && d->star != NONE)
		r = lookup_scope(d, d->star, hpath, path, pathlen);
	if (r == NONE)
		return false;
	fill(d, r, m);
	return true;
}

bool lb_directory_route(const struct lb_directory *d, uint32_t idx, struct lb_route_match *m)
{
	if (!d || idx >= d->n_routes)
		return false;
	fill(d, idx, m);
	return true;
}

void lb_directory_stats(const struct lb_directory *d, struct lb_directory_stats *st)
{
	memset(st, 0, sizeof(*st));
	if (!d)
		return;
	st->routes = d->n_routes;
	st->exact = d->n_exact;
	st->prefixes = d->n_prefixes;
	st->scopes = d->n_scopes;
	st->holder_sets = d->n_sets;
	st->trie_nodes = d->n_nodes;
	st->bytes = sizeof(*d) + d->n_routes * sizeof(*d->routes) + d->paths_len +
		    d->names_len + d->cap_scopes * sizeof(*d->scopes) + d->cap_hosts +
		    (d->host_tab.mask + 1) * sizeof(struct slot) +
		    d->cap_sets * sizeof(*d->sets) +
		    ((size_t)d->exact_mask + 1) * sizeof(*d->exact) +
		    d->n_nodes * (sizeof(*d->nodes) + 1);
}
