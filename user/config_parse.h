/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The config loader's own state, shared by config.c (the document and the
 * API), config_sections.c (every section but routes) and config_routes.c.
 * Nothing else includes it.
 */
#ifndef LATEBIND_CONFIG_PARSE_H
#define LATEBIND_CONFIG_PARSE_H

#include "config.h"
#include "yaml_doc.h"

enum section {
	S_INTERFACE,
	S_VIPS,
	S_BACKENDS,
	S_ROUTES,
	S_HEALTH,
	S_HANDOFF,
	S_METRICS,
	S_COOKIE,
	S_LIMITS,
	S_PEERS,
	S_PEER_PORT,
	S_ANNOUNCE,
	S_DISPATCHER,
	S_COUNT,
};

/* Route backend names kept until the backends list has been read. */
struct pending {
	void *blk; /* n ints (lines), then n NUL-terminated names */
	size_t n;
};

/* A backend name and its index, sorted by name for lookups from routes. */
struct name_idx {
	const char *name;
	uint32_t idx;
};

struct parse {
	struct ydoc doc;
	struct lb_config *cfg;
	int doc_line; /* of the document start, for an empty document */
	int root_line;
	int seen[S_COUNT]; /* line of each top-level key, 0 if absent */
	size_t cap_vips, cap_backends, cap_routes, cap_pending;
	struct pending *pending;  /* per route, while backends are unknown */
	struct name_idx *by_name; /* set once the backends list is complete */
	char *last_host;	  /* the previous route's, shared by the next that repeats it */
	const struct lb_redirect *last_redirect; /* the same, for redirect templates */
};

/* Grow an array of @size-byte elements to hold @need of them, zeroing the new room. */
int cfg_grow(void **arr, size_t *cap, size_t need, size_t size);

/* Backend and route names: they end up as metric labels and in log lines. */
int cfg_want_name(struct parse *p, const struct ynode *n, const struct ykey *key, char *buf);

/* config_sections.c */
int cfg_interface(struct parse *p, const struct ynode *n);
int cfg_vip(struct parse *p, const struct ynode *n, size_t idx);
int cfg_backend(struct parse *p, const struct ynode *n, size_t idx);
int cfg_health(struct parse *p, const struct ynode *n);
int cfg_handoff(struct parse *p, const struct ynode *n);
int cfg_metrics(struct parse *p, const struct ynode *n);
int cfg_cookie(struct parse *p, const struct ynode *n);
int cfg_limits(struct parse *p, const struct ynode *n);
int cfg_peers(struct parse *p, const struct ynode *n);
int cfg_peer_port(struct parse *p, const struct ynode *n);
int cfg_backend_interfaces(struct parse *p);

/* config_announce.c */
int cfg_announce(struct parse *p, const struct ynode *n);

/* config_dispatcher.c */
int cfg_dispatcher(struct parse *p, const struct ynode *n);

/* config_routes.c */
int cfg_route(struct parse *p, const struct ynode *n, size_t idx);
/* The backends list is complete: routes can name backends from now on. */
int cfg_index_backends(struct parse *p, int line);
/* After the whole file: names routes that came before the backends, then cross-checks. */
int cfg_routes_finish(struct parse *p);
void cfg_routes_cleanup(struct parse *p);
/* @size bytes aligned to @align in lb_config.route_mem (freed with the config), or NULL. */
void *cfg_route_alloc(struct parse *p, size_t size, size_t align);
/* Frees what every route points into (lb_config.route_mem). */
void cfg_free_route_mem(struct lb_config *cfg);

/* config_redirect.c */
/* `redirect:` at @key, of a VIP or (@route) a route, which may also say none. */
int cfg_redirect(struct parse *p, const struct ynode *n, const struct ykey *key, bool route,
		 const struct lb_redirect **out);
/* A backend's `public:`. */
int cfg_public(struct parse *p, const struct ynode *n, const struct ykey *key,
	       struct lb_cfg_backend *b);
/* After the whole file: every holder of a route that redirects has a public name. */
int cfg_redirect_check(struct parse *p);

#endif
