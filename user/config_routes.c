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
#include "hex.h"
#include "host.h"

static int want_host(struct parse *p, const struct ynode *n, const struct ykey *key, char **out)
{
	static const char expect[] =
		"\"*\", a hostname like example.com, \"*.example.com\" or "
		"an IP-literal like [2001:db8::1]";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *why = NULL;
	char canon[LB_HOST_MAX];
	size_t off = 0, len;
	struct yd_qbuf q;
	char *h;

	if (!s)
		return -1;
	if (!strcmp(s, "*")) {
		h = strdup(s);
	} else {
		if (n->n > 2 && s[0] == '*' && s[1] == '.')
			off = 2;
		len = lb_host_canon(s + off, n->n - off, canon, &why);
		if (!len)
			return yd_fail(&p->doc, n->line, key,
				       "%s is not a valid host (%s); expected %s", yd_quote(&q, n),
				       why, expect);
		/* Stored canonical ("*." kept), as requests' hosts are compared. */
		h = malloc(off + len + 1);
		if (h) {
			memcpy(h, s, off);
			memcpy(h + off, canon, len);
			h[off + len] = '\0';
		}
	}
	if (!h)
		return yd_oom(&p->doc, n->line, key);
	*out = h;
	return 0;
}


/*
 * A route path or prefix. Requests are percent-decoded and dot-segment
 * normalised before they are matched, so the config is decoded the same way
 * here, and a path that normalisation would rewrite is refused: it could never
 * match anything.
 */
static int want_route_path(struct parse *p, const struct ynode *n, const struct ykey *key,
			   char **out)
{
	static const char expect[] = "a path starting with '/' like /images/";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *seg;
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
	d = malloc(n->n + 1);
	if (!d)
		return yd_oom(&p->doc, n->line, key);
	for (i = 0; i < n->n; i++) {
		if (s[i] != '%') {
			d[o++] = s[i];
			continue;
		}
		if (i + 2 >= n->n || lb_hex_digit(s[i + 1]) < 0 || lb_hex_digit(s[i + 2]) < 0) {
			free(d);
			return yd_fail(&p->doc, n->line, key,
				       "%s has a bad percent escape; expected %%XX with two hex digits",
				       yd_quote(&q, n));
		}
		d[o++] = (char)(lb_hex_digit(s[i + 1]) << 4 | lb_hex_digit(s[i + 2]));
		i += 2;
	}
	d[o] = '\0';
	for (i = 0; i < o; i++) {
		if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f) {
			free(d);
			return yd_fail(
				&p->doc, n->line, key,
				"%s has a control character (after percent-decoding); expected %s",
				yd_quote(&q, n), expect);
		}
	}
	/* Normalised request paths never hold "//" either: such a route could not match. */
	if (strstr(d, "//")) {
		free(d);
		return yd_fail(&p->doc, n->line, key,
			       "%s has an empty segment (\"//\", after percent-decoding), which requests "
			       "never have after normalisation; expected %s",
			       yd_quote(&q, n), expect);
	}
	for (seg = d; seg; seg = strchr(seg + 1, '/')) {
		size_t len = strcspn(seg + 1, "/");

		if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.')) {
			free(d);
			return yd_fail(
				&p->doc, n->line, key,
				"%s has a '.' or '..' segment, which requests never have after normalisation; expected %s",
				yd_quote(&q, n), expect);
		}
	}
	if (o >= LB_PATH_MAX) {
		free(d);
		return yd_fail(&p->doc, n->line, key, "is %zu bytes long; expected at most %d", o,
			       LB_PATH_MAX - 1);
	}
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

	r->backends = calloc(n, sizeof(*r->backends));
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
	enum { R_NAME, R_HOST, R_PATH, R_PREFIX, R_BACKENDS, R_N };
	struct yd_field f[R_N] = {
		[R_NAME] = { "name" },	   [R_HOST] = { "host" },	  [R_PATH] = { "path" },
		[R_PREFIX] = { "prefix" }, [R_BACKENDS] = { "backends" },
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
	r->name = strdup(name);
	if (!r->name)
		return yd_oom(&p->doc, n->line, where);
	if (f[R_HOST].val) {
		if (want_host(p, f[R_HOST].val, YKEY_IN(where, "host"), &r->host))
			return -1;
	} else {
		r->host = strdup("*");
		if (!r->host)
			return yd_oom(&p->doc, n->line, where);
	}
	if (f[R_PATH].val && want_route_path(p, f[R_PATH].val, YKEY_IN(where, "path"), &r->path))
		return -1;
	if (f[R_PREFIX].val &&
	    want_route_path(p, f[R_PREFIX].val, YKEY_IN(where, "prefix"), &r->prefix))
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

static const char *route_target(const struct lb_cfg_route *r)
{
	return r->path ? r->path : r->prefix;
}

/* Same host, same kind (path or prefix), same string. */
static int route_key_cmp(const struct lb_cfg_route *x, const struct lb_cfg_route *y)
{
	int c = strcmp(x->host, y->host);

	if (c)
		return c;
	if (!x->path != !y->path)
		return x->path ? -1 : 1;
	return strcmp(route_target(x), route_target(y));
}

static int route_name_cmp(const struct lb_cfg_route *x, const struct lb_cfg_route *y)
{
	return strcmp(x->name, y->name);
}

/* Equal keys stay in file order, so the second of a run is its first duplicate. */
static int cmp_route(const void *a, const void *b)
{
	const struct lb_cfg_route *x = *(const struct lb_cfg_route *const *)a;
	const struct lb_cfg_route *y = *(const struct lb_cfg_route *const *)b;
	int c = route_key_cmp(x, y);

	return c ? c : (x > y) - (x < y);
}

static int cmp_route_name(const void *a, const void *b)
{
	const struct lb_cfg_route *x = *(const struct lb_cfg_route *const *)a;
	const struct lb_cfg_route *y = *(const struct lb_cfg_route *const *)b;
	int c = route_name_cmp(x, y);

	return c ? c : (x > y) - (x < y);
}

/*
 * Two routes for the same host and path, or with the same name. Sorting keeps
 * this O(n log n) for a million routes; the duplicate reported is the one
 * that comes first in the file.
 */
static int check_route_dups(struct parse *p, bool by_name)
{
	int (*key_cmp)(const struct lb_cfg_route *, const struct lb_cfg_route *) =
		by_name ? route_name_cmp : route_key_cmp;
	struct lb_config *cfg = p->cfg;
	const struct lb_cfg_route **v, *dup = NULL, *orig = NULL;
	size_t i, run = 0;
	int ret = 0;

	if (cfg->n_routes < 2)
		return 0;
	v = malloc(cfg->n_routes * sizeof(*v));
	if (!v)
		return yd_oom(&p->doc, p->root_line, YKEY("routes"));
	for (i = 0; i < cfg->n_routes; i++)
		v[i] = &cfg->routes[i];
	qsort(v, cfg->n_routes, sizeof(*v), by_name ? cmp_route_name : cmp_route);
	for (i = 1; i < cfg->n_routes; i++) {
		if (!key_cmp(v[run], v[i])) {
			if (i == run + 1 && (!dup || v[i] < dup)) {
				dup = v[i];
				orig = v[run];
			}
			continue;
		}
		run = i;
	}
	if (dup) {
		size_t di = dup - cfg->routes, oi = orig - cfg->routes;

		const struct ykey *where = YKEY_AT(YKEY("routes"), di);

		if (by_name)
			ret = yd_fail(
				&p->doc, dup->line, YKEY_IN(where, "name"),
				"\"%s\" is also the name of routes[%zu] (line %d)%s; expected unique route names",
				dup->name, oi, orig->line,
				strncmp(dup->name, "route", 5) ? ""
							       : " (routeN is the default name)");
		else
			ret = yd_fail(
				&p->doc, dup->line, YKEY_IN(where, dup->path ? "path" : "prefix"),
				"host %s and %s %s are already routes[%zu] (line %d); expected each host and path once",
				dup->host, dup->path ? "path" : "prefix", route_target(dup), oi,
				orig->line);
	}
	free(v);
	return ret;
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
	return check_route_dups(p, false) || check_route_dups(p, true) ? -1 : 0;
}

void cfg_routes_cleanup(struct parse *p)
{
	size_t i;

	for (i = 0; i < p->cap_pending; i++)
		free(p->pending[i].blk);
	free(p->pending);
	free(p->by_name);
}
