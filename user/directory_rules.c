// SPDX-License-Identifier: GPL-2.0
/*
 * The rules a route must meet to be matched at all (directory.h): a path in
 * the normal form requests are matched in, a valid host pattern, and no two
 * routes for the same host pattern and path. lb_directory_build applies them
 * through lb_routes_check, and so does the config loader, to name the route
 * that breaks one by file, line and key.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "hash.h"
#include "host.h"

struct rule_slot {
	uint32_t tag; /* hash bits, compared before the routes are */
	uint32_t id1; /* route + 1; 0 is an empty slot */
};


static const char *route_target(const struct lb_cfg_route *r)
{
	return r->path ? r->path : r->prefix;
}

size_t lb_route_host_pattern(const char *host, size_t n, char *out, const char **why)
{
	size_t len;

	if (n == 1 && host[0] == '*') {
		out[0] = '*';
		return 1;
	}
	if (n >= 2 && host[0] == '*' && host[1] == '.') {
		out[0] = '.';
		len = lb_host_canon(host + 2, n - 2, out + 1, why);
		return len ? len + 1 : 0;
	}
	if (memchr(host, '*', n)) {
		*why = "'*' only as the whole host or as a leading \"*.\"";
		return 0;
	}
	return lb_host_canon(host, n, out, why);
}

/* The dispatcher matches request paths of up to LB_PATH_MAX - 1 bytes. */
_Static_assert(LB_PATH_MAX == 4096, "the message below names the limit");

/*
 * A route path must be what lb_http_normalize_path() can produce, or it could
 * never match. For a prefix the last segment may be cut short, so a trailing
 * "." or ".." is the start of a name (".well-known"), not a dot segment.
 */
const char *lb_route_path_problem(const char *s, size_t n, bool prefix)
{
	if (!n || s[0] != '/')
		return "does not start with '/'";
	if (n >= LB_PATH_MAX)
		return "is longer than 4095 bytes, the longest request path";
	for (size_t i = 0; i < n; i++) {
		size_t seg;

		if (s[i] != '/')
			continue;
		for (seg = i + 1; seg < n && s[seg] != '/'; seg++)
			;
		seg -= i + 1;
		if (seg == 0 && i + 1 < n)
			return "has an empty segment (\"//\"), which requests never have after "
			       "normalisation";
		if (prefix && i + 1 + seg == n)
			break;
		if ((seg == 1 && s[i + 1] == '.') ||
		    (seg == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
			return "has a '.' or '..' segment, which requests never have after "
			       "normalisation";
	}
	return NULL;
}

/* Whether route @r's host pattern is @pat (@pl bytes); @r's host is known to be valid. */
static bool same_pattern(const struct lb_cfg_route *r, const char *pat, size_t pl)
{
	const char *host = r->host ? r->host : "*", *why;
	char other[LB_HOST_MAX + 2];

	return lb_route_host_pattern(host, strlen(host), other, &why) == pl &&
	       !memcmp(other, pat, pl);
}

/* Probes this many routes ahead: a million-route table is far out of cache. */
#define CHECK_PREFETCH 16

/*
 * Two passes in list order. The first applies the rules of a single route and
 * hashes its (host pattern, kind, path); the second finds repeats through a
 * table of those, reading ahead, so the first route that repeats one is
 * reported with the one it repeats, unless a route before it broke a rule.
 */
int lb_routes_check(const struct lb_cfg_route *routes, size_t n, struct lb_route_problem *pb)
{
	struct lb_route_problem first = { 0 };
	char pat[LB_HOST_MAX + 2];
	const char *prev_host = NULL;
	uint64_t hpat = 0, *hash;
	size_t cap, pl = 0, i, bad;
	struct rule_slot *tab;
	uint32_t mask;
	int ret = 0;

	memset(pb, 0, sizeof(*pb));
	for (cap = 16; cap < 2 * n; cap *= 2)
		;
	tab = n < UINT32_MAX ? calloc(cap, sizeof(*tab)) : NULL;
	hash = tab ? malloc((n ? n : 1) * sizeof(*hash)) : NULL;
	if (!hash) {
		free(tab);
		pb->fault = LB_ROUTE_NOMEM;
		return -1;
	}
	mask = (uint32_t)(cap - 1);
	for (i = 0; i < n; i++) {
		const struct lb_cfg_route *r = &routes[i];
		const char *p = route_target(r), *host = r->host ? r->host : "*";
		size_t len;

		first.route = i;
		if (!r->path == !r->prefix) {
			first.fault = LB_ROUTE_KIND;
			break;
		}
		len = strlen(p);
		first.why = lb_route_path_problem(p, len, !r->path);
		if (first.why) {
			first.fault = LB_ROUTE_PATH;
			break;
		}
		/* Generated route files repeat one host: skip re-checking it. */
		if (host != prev_host && (!prev_host || strcmp(prev_host, host))) {
			pl = lb_route_host_pattern(host, strlen(host), pat, &first.why);
			if (!pl) {
				first.fault = LB_ROUTE_HOST;
				break;
			}
			hpat = lb_fnv64(pat, pl);
		}
		prev_host = host;
		hash[i] = lb_fmix64(lb_fnv64(p, len) ^ (hpat << 17 | hpat >> 47) ^ (r->path != NULL));
	}
	bad = i;
	for (i = 0; i < bad; i++) {
		const struct lb_cfg_route *r = &routes[i];
		uint32_t j, tag = (uint32_t)(hash[i] >> 32);

		if (i + CHECK_PREFETCH < bad)
			__builtin_prefetch(&tab[(uint32_t)hash[i + CHECK_PREFETCH] & mask], 1);
		for (j = (uint32_t)hash[i] & mask; tab[j].id1; j = (j + 1) & mask) {
			const struct lb_cfg_route *o = &routes[tab[j].id1 - 1];
			const char *host = r->host ? r->host : "*", *why;

			if (tab[j].tag != tag || !o->path != !r->path ||
			    strcmp(route_target(o), route_target(r)))
				continue;
			pl = lb_route_host_pattern(host, strlen(host), pat, &why);
			if (same_pattern(o, pat, pl)) {
				pb->fault = LB_ROUTE_DUPLICATE;
				pb->route = i;
				pb->other = tab[j].id1 - 1;
				ret = -1;
				goto out;
			}
		}
		tab[j].tag = tag;
		tab[j].id1 = (uint32_t)i + 1;
	}
	if (bad < n) {
		*pb = first;
		ret = -1;
	}
out:
	free(hash);
	free(tab);
	return ret;
}
