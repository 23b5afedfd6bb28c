// SPDX-License-Identifier: GPL-2.0
/*
 * The routes section (docs/config.md): the content directory, which may run
 * to a million entries, so each route is read, checked and stored as it
 * streams in. Routes may come before the backends they name; their names are
 * then kept until the backends list is complete.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"
#include "directory.h"
#include "hash.h"
#include "hex.h"
#include "host.h"

/*
 * The routes' strings and holder lists, packed into large blocks that the
 * config owns (lb_config.route_mem): a million routes would otherwise be
 * four million mallocs to make and as many frees at the next reload.
 */
struct route_mem {
	struct route_mem *next;
	size_t size, used;
	max_align_t data[];
};

#define ROUTE_MEM_BLOCK (1024 * 1024)

static void *route_alloc(struct parse *p, size_t size, size_t align)
{
	struct route_mem *m = p->cfg->route_mem;
	size_t at;

	if (m) {
		at = (m->used + align - 1) & ~(align - 1);
		if (at <= m->size && m->size - at >= size) {
			m->used = at + size;
			return (char *)m->data + at;
		}
	}
	if (size > SIZE_MAX / 2)
		return NULL;
	m = malloc(sizeof(*m) + (size > ROUTE_MEM_BLOCK ? size : ROUTE_MEM_BLOCK));
	if (!m)
		return NULL;
	m->size = size > ROUTE_MEM_BLOCK ? size : ROUTE_MEM_BLOCK;
	m->used = size;
	m->next = p->cfg->route_mem;
	p->cfg->route_mem = m;
	return m->data;
}

void *cfg_route_alloc(struct parse *p, size_t size, size_t align)
{
	return route_alloc(p, size, align);
}

void cfg_free_route_mem(struct lb_config *cfg)
{
	while (cfg->route_mem) {
		struct route_mem *next = ((struct route_mem *)cfg->route_mem)->next;

		free(cfg->route_mem);
		cfg->route_mem = next;
	}
}

static char *route_strdup(struct parse *p, const char *s, size_t n)
{
	char *d = route_alloc(p, n + 1, 1);

	if (d) {
		memcpy(d, s, n);
		d[n] = '\0';
	}
	return d;
}

/* Host patterns follow the directory's rule (lb_route_host_pattern). */
static int want_host(struct parse *p, const struct ynode *n, const struct ykey *key, char **out)
{
	static const char expect[] =
		"\"*\", a hostname like example.com, \"*.example.com\" or "
		"an IP-literal like [2001:db8::1]";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *why = NULL;
	char pat[LB_HOST_MAX + 2];
	struct yd_qbuf q;
	size_t len;

	if (!s)
		return -1;
	len = lb_route_host_pattern(s, n->n, pat, &why);
	if (!len)
		return yd_fail(&p->doc, n->line, key, "%s is not a valid host (%s); expected %s",
			       yd_quote(&q, n), why, expect);
	/* Stored canonical, "*." as written, as requests' hosts are compared. */
	if (pat[0] == '.') {
		memmove(pat + 1, pat, len++);
		pat[0] = '*';
	}
	/* Generated directories repeat one host: store it once. */
	if (p->last_host && !strncmp(p->last_host, pat, len) && !p->last_host[len]) {
		*out = p->last_host;
		return 0;
	}
	*out = route_strdup(p, pat, len);
	if (!*out)
		return yd_oom(&p->doc, n->line, key);
	p->last_host = *out;
	return 0;
}

/*
 * A route path or prefix. Requests are percent-decoded and dot-segment
 * normalised before they are matched, so the config is decoded the same way
 * here; what may then be matched at all is the directory's rule
 * (lb_route_path_problem).
 */
static int want_route_path(struct parse *p, const struct ynode *n, const struct ykey *key,
			   bool prefix, char **out)
{
	static const char expect[] = "a path starting with '/' like /images/";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *why;
	struct yd_qbuf q;
	size_t i, o = 0;
	char *d;

	if (!s)
		return -1;
	if (s[0] != '/')
		return yd_fail(&p->doc, n->line, key, "%s does not start with '/'; expected %s",
			       yd_quote(&q, n), expect);
	if (strpbrk(s, "?#"))
		return yd_fail(
			&p->doc, n->line, key,
			"%s has a query or fragment; expected just the path (routes match the path only)",
			yd_quote(&q, n));
	/* Decoded straight into the config's memory; a refused one is freed with it. */
	d = route_alloc(p, n->n + 1, 1);
	if (!d)
		return yd_oom(&p->doc, n->line, key);
	for (i = 0; i < n->n; i++) {
		if (s[i] != '%') {
			d[o++] = s[i];
			continue;
		}
		if (i + 2 >= n->n || lb_hex_digit(s[i + 1]) < 0 || lb_hex_digit(s[i + 2]) < 0)
			return yd_fail(&p->doc, n->line, key,
				       "%s has a bad percent escape; expected %%XX with two hex digits",
				       yd_quote(&q, n));
		d[o++] = (char)(lb_hex_digit(s[i + 1]) << 4 | lb_hex_digit(s[i + 2]));
		i += 2;
	}
	d[o] = '\0';
	for (i = 0; i < o; i++)
		if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f)
			return yd_fail(
				&p->doc, n->line, key,
				"%s has a control character (after percent-decoding); expected %s",
				yd_quote(&q, n), expect);
	why = lb_route_path_problem(d, o, prefix);
	if (why)
		return yd_fail(&p->doc, n->line, key, "%s %s%s; expected %s", yd_quote(&q, n), why,
			       o < n->n ? " (after percent-decoding)" : "", expect);
	*out = d;
	return 0;
}

static int cmp_name_idx(const void *a, const void *b)
{
	return strcmp(((const struct name_idx *)a)->name, ((const struct name_idx *)b)->name);
}

/* The backends list is complete: routes can name backends from now on. */
int cfg_index_backends(struct parse *p, int line)
{
	struct lb_config *cfg = p->cfg;
	size_t i;

	p->by_name = calloc(cfg->n_backends ? cfg->n_backends : 1, sizeof(*p->by_name));
	if (!p->by_name)
		return yd_oom(&p->doc, line, YKEY("backends"));
	for (i = 0; i < cfg->n_backends; i++) {
		p->by_name[i].name = cfg->backends[i].name;
		p->by_name[i].idx = (uint32_t)i;
	}
	qsort(p->by_name, cfg->n_backends, sizeof(*p->by_name), cmp_name_idx);
	return 0;
}

static int unknown_backend(struct parse *p, int line, const struct ykey *key, const char *name)
{
	const struct lb_config *cfg = p->cfg;
	char list[300];
	size_t i, o = 0;
	struct yd_qbuf q;

	list[0] = '\0';
	for (i = 0; i < cfg->n_backends; i++) {
		size_t len = strlen(cfg->backends[i].name);

		if (o + len + 7 >= sizeof(list)) {
			strcpy(list + o, ", ...");
			break;
		}
		o += sprintf(list + o, "%s%s", i ? ", " : "", cfg->backends[i].name);
	}
	return yd_fail(&p->doc, line, key, "unknown backend %s; expected one of %s",
		       yd_show(&q, name, strlen(name), true), list);
}

/* Turn route @ri's packed backend names (see struct pending) into indexes. */
static int resolve_route(struct parse *p, size_t ri, const void *blk, size_t n)
{
	struct lb_cfg_route *r = &p->cfg->routes[ri];
	const int *lines = blk;
	const char *name = (const char *)(lines + n);
	const struct ykey *where = YKEY_AT(YKEY("routes"), ri);
	const struct ykey *list = YKEY_IN(where, "backends");
	struct name_idx want = { 0 }, *hit;
	size_t i, j;

	r->backends = route_alloc(p, n * sizeof(*r->backends), sizeof(*r->backends));
	if (!r->backends)
		return yd_oom(&p->doc, r->line, where);
	for (i = 0; i < n; i++, name += strlen(name) + 1) {
		const struct ykey *key = YKEY_AT(list, i);

		want.name = name;
		hit = bsearch(&want, p->by_name, p->cfg->n_backends, sizeof(want), cmp_name_idx);
		if (!hit)
			return unknown_backend(p, lines[i], key, name);
		for (j = 0; j < r->n_backends; j++)
			if (r->backends[j] == hit->idx)
				return yd_fail(&p->doc, lines[i], key,
					       "backend %s is listed twice; expected each backend once",
					       name);
		r->backends[r->n_backends++] = hit->idx;
	}
	return 0;
}

int cfg_route(struct parse *p, const struct ynode *n, size_t idx)
{
	enum { R_NAME, R_HOST, R_PATH, R_PREFIX, R_BACKENDS, R_REDIRECT, R_N };
	struct yd_field f[R_N] = {
		[R_NAME] = { "name" },	   [R_HOST] = { "host" },	  [R_PATH] = { "path" },
		[R_PREFIX] = { "prefix" }, [R_BACKENDS] = { "backends" },
		[R_REDIRECT] = { "redirect" },
	};
	static const char list_expect[] = "a list of backend names like [web1, web2]";
	struct lb_config *cfg = p->cfg;
	const struct ykey *where = YKEY_AT(YKEY("routes"), idx), *key;
	char name[LB_NAME_MAX];
	struct lb_cfg_route *r;
	const struct ynode *bl;
	size_t i, size;
	unsigned char *blk;
	char *names;
	int *lines;

	if (yd_want_map(&p->doc, n, where, "{host: \"*\", prefix: /, backends: [web1]}") ||
	    yd_fields(&p->doc, n, where, f, R_N))
		return -1;
	if (f[R_PATH].val && f[R_PREFIX].val) {
		/* Name the second of the two: that is where it went wrong. */
		int line = f[R_PATH].line > f[R_PREFIX].line ? f[R_PATH].line : f[R_PREFIX].line;

		return yd_fail(&p->doc, line, where,
			       "has both path and prefix; expected exactly one of them");
	}
	if (!f[R_PATH].val && !f[R_PREFIX].val)
		return yd_missing(&p->doc, n, where, "prefix",
				  "exactly one of path (exact) or prefix, e.g. prefix: /images/");
	if (!f[R_BACKENDS].val)
		return yd_missing(&p->doc, n, where, "backends", list_expect);
	bl = f[R_BACKENDS].val;
	key = YKEY_IN(where, "backends");
	if (bl->type != YN_SEQ)
		return yd_fail(&p->doc, bl->line, key, "is %s; expected %s", yd_kind(bl),
			       list_expect);
	if (!bl->n)
		return yd_fail(&p->doc, bl->line, key, "is an empty list; expected %s", list_expect);
	/* Check the names' shape now; whether they exist may have to wait. */
	size = bl->n * sizeof(int);
	for (i = 0; i < bl->n; i++) {
		if (cfg_want_name(p, bl->kids[i], YKEY_AT(key, i), name))
			return -1;
		size += bl->kids[i]->n + 1;
	}

	if (cfg_grow((void **)&cfg->routes, &p->cap_routes, cfg->n_routes + 1, sizeof(*r)))
		return yd_oom(&p->doc, n->line, where);
	r = &cfg->routes[cfg->n_routes++];
	memset(r, 0, sizeof(*r));
	r->line = n->line;
	if (f[R_NAME].val) {
		if (cfg_want_name(p, f[R_NAME].val, YKEY_IN(where, "name"), name))
			return -1;
	} else {
		snprintf(name, sizeof(name), "route%zu", idx);
	}
	r->name = route_strdup(p, name, strlen(name));
	if (!r->name)
		return yd_oom(&p->doc, n->line, where);
	if (f[R_HOST].val) {
		if (want_host(p, f[R_HOST].val, YKEY_IN(where, "host"), &r->host))
			return -1;
	} else {
		r->host = route_strdup(p, "*", 1);
		if (!r->host)
			return yd_oom(&p->doc, n->line, where);
	}
	if (f[R_PATH].val &&
	    want_route_path(p, f[R_PATH].val, YKEY_IN(where, "path"), false, &r->path))
		return -1;
	if (f[R_PREFIX].val &&
	    want_route_path(p, f[R_PREFIX].val, YKEY_IN(where, "prefix"), true, &r->prefix))
		return -1;
	if (f[R_REDIRECT].val &&
	    cfg_redirect(p, f[R_REDIRECT].val, YKEY_IN(where, "redirect"), true, &r->redirect))
		return -1;

	blk = yd_alloc(&p->doc, size);
	if (!blk)
		return yd_oom(&p->doc, n->line, where);
	lines = (int *)blk;
	names = (char *)(lines + bl->n);
	for (i = 0; i < bl->n; i++) {
		lines[i] = bl->kids[i]->line;
		memcpy(names, bl->kids[i]->str, bl->kids[i]->n + 1);
		names += bl->kids[i]->n + 1;
	}
	if (p->by_name)
		return resolve_route(p, idx, blk, bl->n);
	/* Routes came before backends: keep the names until those are known. */
	if (cfg_grow((void **)&p->pending, &p->cap_pending, idx + 1, sizeof(*p->pending)))
		return yd_oom(&p->doc, n->line, where);
	p->pending[idx].blk = malloc(size);
	if (!p->pending[idx].blk)
		return yd_oom(&p->doc, n->line, where);
	memcpy(p->pending[idx].blk, blk, size);
	p->pending[idx].n = bl->n;
	return 0;
}

/* --- after the whole file ------------------------------------------------ */

/* Slots take the low bits and tags the high ones: both spread. */
static uint64_t hash_name(const char *s)
{
	return lb_fmix64(lb_fnv64_str(s));
}

/* Probes this many routes ahead: a million names' table is far out of cache. */
#define NAMES_PREFETCH 16

struct name_slot {
	uint32_t tag; /* hash bits, compared before the names are */
	uint32_t id1; /* route + 1; 0 is an empty slot */
};

/* Route names label metrics, so they must be unique; the first repeat in the file is named. */
static int check_route_names(struct parse *p)
{
	const struct lb_config *cfg = p->cfg;
	size_t cap, mask, i, j, n = cfg->n_routes;
	struct name_slot *tab;
	uint64_t *hash;

	for (cap = 16; cap < 2 * n; cap *= 2)
		;
	tab = n < UINT32_MAX ? calloc(cap, sizeof(*tab)) : NULL;
	hash = tab ? malloc((n ? n : 1) * sizeof(*hash)) : NULL;
	if (!hash) {
		free(tab);
		return yd_oom(&p->doc, p->root_line, YKEY("routes"));
	}
	mask = cap - 1;
	for (i = 0; i < n; i++)
		hash[i] = hash_name(cfg->routes[i].name);
	for (i = 0; i < n; i++) {
		const struct lb_cfg_route *r = &cfg->routes[i], *o;
		uint32_t tag = (uint32_t)(hash[i] >> 32);

		if (i + NAMES_PREFETCH < n)
			__builtin_prefetch(&tab[hash[i + NAMES_PREFETCH] & mask], 1);
		for (j = hash[i] & mask; tab[j].id1; j = (j + 1) & mask) {
			size_t oi = tab[j].id1 - 1;

			o = &cfg->routes[oi];
			if (tab[j].tag != tag || strcmp(o->name, r->name))
				continue;
			free(hash);
			free(tab);
			return yd_fail(&p->doc, r->line, YKEY_IN(YKEY_AT(YKEY("routes"), i), "name"),
				       "\"%s\" is also the name of routes[%zu] (line %d)%s; expected "
				       "unique route names",
				       r->name, oi, o->line,
				       strncmp(r->name, "route", 5) ? ""
								    : " (routeN is the default name)");
		}
		tab[j].tag = tag;
		tab[j].id1 = (uint32_t)i + 1;
	}
	free(hash);
	free(tab);
	return 0;
}

/* The directory's rules across routes (lb_routes_check), reported by file, line and key. */
static int check_route_rules(struct parse *p)
{
	const struct lb_config *cfg = p->cfg;
	struct lb_route_problem pb;
	const struct lb_cfg_route *r, *o;
	const struct ykey *where;

	if (!lb_routes_check(cfg->routes, cfg->n_routes, &pb))
		return 0;
	if (pb.fault == LB_ROUTE_NOMEM)
		return yd_oom(&p->doc, p->root_line, YKEY("routes"));
	r = &cfg->routes[pb.route];
	where = YKEY_AT(YKEY("routes"), pb.route);
	if (pb.fault != LB_ROUTE_DUPLICATE)
		/* Each route was checked by these rules as it was read. */
		return yd_fail(&p->doc, r->line, where, "breaks a rule of the directory (%s)",
			       pb.why ? pb.why : "path and prefix");
	o = &cfg->routes[pb.other];
	return yd_fail(&p->doc, r->line, YKEY_IN(where, r->path ? "path" : "prefix"),
		       "host %s and %s %s are already routes[%zu] (line %d); expected each host "
		       "and path once",
		       r->host, r->path ? "path" : "prefix", r->path ? r->path : r->prefix,
		       pb.other, o->line);
}

/* After the whole file: resolve the names kept, then the checks across routes. */
int cfg_routes_finish(struct parse *p)
{
	struct lb_config *cfg = p->cfg;
	size_t i;

	for (i = 0; p->pending && i < cfg->n_routes; i++) {
		int ret = resolve_route(p, i, p->pending[i].blk, p->pending[i].n);

		free(p->pending[i].blk);
		p->pending[i].blk = NULL;
		if (ret)
			return -1;
	}
	return check_route_rules(p) || check_route_names(p) ? -1 : 0;
}

void cfg_routes_cleanup(struct parse *p)
{
	size_t i;

	for (i = 0; i < p->cap_pending; i++)
		free(p->pending[i].blk);
	free(p->pending);
	free(p->by_name);
}
