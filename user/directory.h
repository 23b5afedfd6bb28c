/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The content directory: which backends hold which resource, built once from
 * the config's routes and then only read (a reload builds a new one).
 *
 * Matching, most specific first:
 *   host scope: the exact host, then "*.suffix" scopes from the longest
 *               suffix to the shortest, then "*";
 *   in a scope: the exact path, then the longest prefix.
 * When the most specific host scope has no rule for the path, the next less
 * specific scope is tried, down to "*": a site can override a few paths for
 * one host and leave the rest to the catch-all routes.
 *
 * Hosts compare case-insensitively, without ":port" and without a trailing
 * dot. "*.example.com" matches "a.example.com" and "a.b.example.com" but not
 * "example.com" itself (as nginx's server_name does).
 *
 * Paths compare as bytes against the normalised request path (see
 * lb_http_normalize_path()): route paths are taken as already decoded, so a
 * file called "100%.txt" is the route "/100%.txt" and matches a request for
 * "/100%25.txt". A prefix is a byte prefix: "/images/" matches "/images/a.jpg"
 * and "/images/" but not "/images"; "/images" matches all three and also
 * "/images2". Route paths must be in normal form (start with '/', no "//",
 * no "." or ".." segments): a rule that could never match is refused at build.
 *
 * Cost: exact paths live in one open-addressing hash table, prefixes in one
 * compressed trie per host scope, so a lookup is O(host + path length)
 * whatever the number of routes. Strings are copied once into arenas and
 * identical holder lists are stored once.
 */
#ifndef LATEBIND_DIRECTORY_H
#define LATEBIND_DIRECTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"

struct lb_directory;

struct lb_route_match {
	uint32_t route;		 /* index into the routes the directory was built from */
	const char *name;	 /* the route's name, for logs and metrics */
	const uint32_t *holders; /* indexes into lb_config.backends, config order */
	size_t n_holders;	 /* 0 is allowed: such a route always answers 503 */
};

struct lb_directory_stats {
	size_t routes;
	size_t exact;	    /* exact-path routes */
	size_t prefixes;    /* prefix routes */
	size_t scopes;	    /* distinct host patterns */
	size_t holder_sets; /* distinct holder lists */
	size_t trie_nodes;
	size_t bytes;	    /* memory held by the directory */
};

/*
 * The rules a route must meet to be matched at all, owned here: the config
 * loader applies them too, to report a route that breaks one by file, line
 * and key.
 */

/* Why @path (@n bytes) can be no route's exact path (or, if @prefix, prefix); NULL if it can. */
const char *lb_route_path_problem(const char *path, size_t n, bool prefix);

/*
 * Host pattern @host (@n bytes: "*", "*.name" or "name") as the directory keys
 * it ("*", ".name", "name", the name canonical as lb_host_canon makes it) into
 * @out (LB_HOST_MAX + 1 bytes). Returns its length, or 0 with @why.
 */
size_t lb_route_host_pattern(const char *host, size_t n, char *out, const char **why);

enum lb_route_fault {
	LB_ROUTE_KIND,	    /* both or neither of path and prefix */
	LB_ROUTE_HOST,	    /* see lb_route_host_pattern */
	LB_ROUTE_PATH,	    /* see lb_route_path_problem */
	LB_ROUTE_DUPLICATE, /* same host pattern, same kind, same path as route @other */
	LB_ROUTE_NOMEM,
};

struct lb_route_problem {
	enum lb_route_fault fault;
	size_t route; /* the first route in the list that breaks a rule */
	size_t other; /* LB_ROUTE_DUPLICATE: the earlier route it repeats */
	const char *why; /* LB_ROUTE_HOST and LB_ROUTE_PATH */
};

/* Check @n routes against every rule. 0, or -1 with the first problem in @pb. */
int lb_routes_check(const struct lb_cfg_route *routes, size_t n, struct lb_route_problem *pb);

/*
 * Build from @n routes (see struct lb_cfg_route). Returns NULL with a message
 * in @err naming the route's line when a route breaks a rule above (bad host
 * pattern, path not in normal form, both or neither of path/prefix, same host
 * pattern and same exact path or same prefix as another), or when memory runs
 * out.
 */
struct lb_directory *lb_directory_build(const struct lb_cfg_route *routes, size_t n, char *err,
					size_t errlen);

void lb_directory_free(struct lb_directory *d);

/*
 * Find the route for @host (as sent: case, port and trailing dot are dealt
 * with here) and @path (normalised). Fills @m and returns true, or returns
 * false when no route matches (404). Thread-safe: it only reads.
 */
bool lb_directory_lookup(const struct lb_directory *d, const char *host, size_t hostlen,
			 const char *path, size_t pathlen, struct lb_route_match *m);

/* Route @idx (as in lb_route_match.route) without a lookup; false if out of range. */
bool lb_directory_route(const struct lb_directory *d, uint32_t idx, struct lb_route_match *m);

void lb_directory_stats(const struct lb_directory *d, struct lb_directory_stats *st);

#endif
