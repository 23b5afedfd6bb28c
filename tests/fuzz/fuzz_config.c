// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the config loader on arbitrary bytes (lb_config_parse).
 *
 * Invariants, beyond ASan/UBSan and LeakSanitizer (lb_config_free always):
 *   - failure: a message of one line, "fuzz.yaml:LINE: KEY: ...", and a config
 *     left zeroed (freeing it again is harmless);
 *   - success: the config re-validates: at least one VIP, backend and route;
 *     VIP address:port pairs, backend names and backend addresses unique;
 *     names of 1..63 allowed characters; given MACs unicast and non-zero;
 *     every route has a name (unique), a host, exactly one of path and prefix
 *     (starting with '/', no control byte, no "." or ".." segment but as the end
 *     of a prefix) and 1..n holders, each < n_backends and listed once;
 *     settings within the ranges the loader documents;
 *   - what the loader accepts, the balancer can start with: the routes build
 *     a content directory (known bug B2 while a route with "//" passes);
 *   - round trip: the config written back as YAML parses to the same config
 *     (public names, redirects of VIPs and routes and `redirect: none` included).
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "directory.h"
#include "fuzz_common.h"
#include "maps.h"
#include "own_address.h"

static bool valid_name(const char *s)
{
	size_t n = strlen(s);

	if (!n || n >= LB_NAME_MAX)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!(isalnum((unsigned char)s[i]) || s[i] == '-' || s[i] == '_' || s[i] == '.'))
			return false;
	return true;
}

static bool valid_route_path(const char *s, bool prefix)
{
	const char *seg;

	if (s[0] != '/')
		return false;
	for (const char *c = s; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			return false;
	for (seg = s; seg; seg = strchr(seg + 1, '/')) {
		size_t len = strcspn(seg + 1, "/");

		/* A prefix's last segment may be the start of a name like ".well-known". */
		if (prefix && !seg[1 + len])
			break;
		if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.'))
			return false;
	}
	return strlen(s) < LB_PATH_MAX;
}

static void check_config(const struct lb_config *c)
{
	size_t i, j, k;

	CHECK(c->interface[0] && strlen(c->interface) < LB_IFNAME_MAX, "interface \"%s\"",
	      c->interface);
	CHECK(c->n_vips >= 1 && c->n_vips <= LB_MAX_VIPS, "%zu VIPs", c->n_vips);
	for (i = 0; i < c->n_vips; i++) {
		CHECK(c->vips[i].port >= 1, "vips[%zu] port 0", i);
		CHECK(c->vips[i].mode == LB_VIP_HTTP || c->vips[i].mode == LB_VIP_TCP,
		      "vips[%zu] mode %d", i, c->vips[i].mode);
		for (j = 0; j < i; j++)
			CHECK(c->vips[i].address.s_addr != c->vips[j].address.s_addr ||
				      c->vips[i].port != c->vips[j].port,
			      "vips[%zu] and vips[%zu] are the same address:port", j, i);
	}
	CHECK(c->n_backends >= 1 && c->n_backends <= LB_MAX_BACKENDS, "%zu backends", c->n_backends);
	for (i = 0; i < c->n_backends; i++) {
		const struct lb_cfg_backend *b = &c->backends[i];
		static const uint8_t zero[6];

		CHECK(valid_name(b->name), "backends[%zu] name \"%s\"", i, b->name);
		CHECK(b->weight >= 1, "backends[%zu] weight 0", i);
		CHECK(b->handoff == LB_HANDOFF_COOKIE || b->handoff == LB_HANDOFF_REPLAY,
		      "backends[%zu] handoff %d", i, b->handoff);
		CHECK(b->state == LB_BACKEND_UP || b->state == LB_BACKEND_DRAINING,
		      "backends[%zu] state %d", i, b->state);
		if (b->mac_given)
			CHECK(!(b->mac[0] & 1) && memcmp(b->mac, zero, 6), "backends[%zu] MAC not unicast",
			      i);
		/* The balancer itself: one of this host's addresses, reached through lo in cookie mode. */
		if (b->local)
			CHECK(lb_own_address(b->address) && !b->mac_given && !b->interface[0] &&
				      b->handoff == LB_HANDOFF_COOKIE,
			      "backends[%zu] local with a foreign address, a MAC, an interface or replay", i);
		for (j = 0; j < i; j++) {
			CHECK(!b->local || !c->backends[j].local, "backends[%zu] and [%zu] both local", j, i);
			CHECK(strcmp(b->name, c->backends[j].name), "backend name \"%s\" twice", b->name);
			CHECK(b->address.s_addr != c->backends[j].address.s_addr,
			      "backends[%zu] and [%zu] share an address", j, i);
		}
		CHECK(lb_config_backend_index(c, b->name) == (int)i, "backend_index(%s)", b->name);
	}
	CHECK(c->n_routes >= 1, "no routes");
	for (i = 0; i < c->n_routes; i++) {
		const struct lb_cfg_route *r = &c->routes[i];

		CHECK(r->name && valid_name(r->name), "routes[%zu] name", i);
		CHECK(r->host && r->host[0], "routes[%zu] without a host", i);
		for (const char *h = r->host; *h; h++)
			CHECK(!(*h >= 'A' && *h <= 'Z'), "routes[%zu] host \"%s\" not lower case", i,
			      r->host);
		CHECK(!r->path != !r->prefix, "routes[%zu]: path %p prefix %p", i, (void *)r->path,
		      (void *)r->prefix);
		CHECK(valid_route_path(r->path ? r->path : r->prefix, !r->path), "routes[%zu] path \"%s\"", i,
		      r->path ? r->path : r->prefix);
		CHECK(r->n_backends >= 1 && r->backends, "routes[%zu] has no holders", i);
		for (j = 0; j < r->n_backends; j++) {
			CHECK(r->backends[j] < c->n_backends, "routes[%zu] holder %u of %zu backends", i,
			      r->backends[j], c->n_backends);
			for (k = 0; k < j; k++)
				CHECK(r->backends[j] != r->backends[k], "routes[%zu] holder %u twice", i,
				      r->backends[j]);
		}
		for (j = 0; j < i; j++) {
			const struct lb_cfg_route *o = &c->routes[j];

			CHECK(strcmp(r->name, o->name), "route name \"%s\" twice", r->name);
			CHECK(strcmp(r->host, o->host) || !r->path != !o->path ||
				      strcmp(r->path ? r->path : r->prefix, o->path ? o->path : o->prefix),
			      "routes[%zu] and [%zu] have the same host and path", j, i);
		}
	}
	CHECK(c->health.path[0] == '/', "health.path \"%s\"", c->health.path);
	CHECK(c->health.interval_ms >= 10 && c->health.timeout_ms >= 10 && c->health.rise >= 1 &&
		      c->health.rise <= 100 && c->health.fall >= 1 && c->health.fall <= 100,
	      "health settings out of range");
	CHECK(c->handoff.mss >= 536 && c->handoff.mss <= 9000 && c->handoff.wscale <= 14 &&
		      c->handoff.request_limit >= 512 && c->handoff.request_limit <= 1048576 &&
		      c->handoff.request_timeout_ms >= 10,
	      "handoff settings out of range");
	CHECK(c->cookie.key_file[0] && c->cookie.period_s >= 1 && c->cookie.period_s <= 86400 &&
		      c->cookie.windows >= 1 && c->cookie.windows <= 4,
	      "cookie settings out of range");
	CHECK(c->metrics.top_routes >= 1 && c->metrics.top_routes <= LB_ROUTE_TOP_MAX,
	      "metrics.top_routes %u out of range", c->metrics.top_routes);
}

/* ---- the config written back as YAML -------------------------------------------- */

struct out {
	char *b;
	size_t n, cap;
};

static void put(struct out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!o->b)
		abort();
	for (;;) {
		va_start(ap, fmt);
		n = vsnprintf(o->b + o->n, o->cap - o->n, fmt, ap);
		va_end(ap);
		if ((size_t)n < o->cap - o->n)
			break;
		o->cap = o->cap * 2 + n + 64;
		o->b = realloc(o->b, o->cap);
		if (!o->b)
			abort();
	}
	o->n += n;
}

/* A YAML double-quoted scalar of @s; a route path percent-encoded first (it is decoded on load). */
static void put_str(struct out *o, const char *s, bool encode)
{
	put(o, "\"");
	for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
		if (encode && !(isalnum(*c) || *c == '/' || *c == '.' || *c == '-' || *c == '_'))
			put(o, "%%%02X", *c);
		else if (*c == '"' || *c == '\\')
			put(o, "\\%c", *c);
		else if (*c < 0x20 || *c == 0x7f)
			put(o, "\\x%02X", *c);
		else
			put(o, "%c", *c);
	}
	put(o, "\"");
}

/* ", redirect: ..." of a VIP or route; nothing when it has none of its own. */
static void put_redirect(struct out *o, const struct lb_redirect *r)
{
	if (!r)
		return;
	if (r == &lb_redirect_none) {
		put(o, ", redirect: none");
		return;
	}
	put(o, ", redirect: {status: %u, url: ", r->status);
	put_str(o, r->url, false);
	put(o, "}");
}

static char *emit(const struct lb_config *c)
{
	static const char *const handoffs[] = { "cookie", "replay" };
	static const char *const states[] = { "down", "up", "draining" };
	struct out o = { .b = malloc(4096), .cap = 4096 };
	char a[INET_ADDRSTRLEN];
	size_t i, j;

	put(&o, "interface: ");
	put_str(&o, c->interface, false);
	put(&o, "\nvips:\n");
	for (i = 0; i < c->n_vips; i++) {
		put(&o, "  - {address: %s, port: %u, mode: %s",
		    inet_ntop(AF_INET, &c->vips[i].address, a, sizeof(a)), c->vips[i].port,
		    c->vips[i].mode == LB_VIP_TCP ? "tcp" : "http");
		put_redirect(&o, c->vips[i].redirect);
		put(&o, "}\n");
	}
	put(&o, "backends:\n");
	for (i = 0; i < c->n_backends; i++) {
		const struct lb_cfg_backend *b = &c->backends[i];

		put(&o, "  - {name: \"%s\", address: %s, weight: %u, handoff: %s, state: %s", b->name,
		    inet_ntop(AF_INET, &b->address, a, sizeof(a)), b->weight, handoffs[b->handoff],
		    states[b->state]);
		if (b->mac_given)
			put(&o, ", mac: \"%02x:%02x:%02x:%02x:%02x:%02x\"", b->mac[0], b->mac[1],
			    b->mac[2], b->mac[3], b->mac[4], b->mac[5]);
		if (b->local)
			put(&o, ", local: true");
		if (b->public_name[0]) {
			put(&o, ", public: ");
			put_str(&o, b->public_name, false);
		}
		put(&o, "}\n");
	}
	put(&o, "routes:\n");
	for (i = 0; i < c->n_routes; i++) {
		const struct lb_cfg_route *r = &c->routes[i];

		put(&o, "  - {name: \"%s\", host: ", r->name);
		put_str(&o, r->host, false);
		put(&o, ", %s: ", r->path ? "path" : "prefix");
		put_str(&o, r->path ? r->path : r->prefix, true);
		put(&o, ", backends: [");
		for (j = 0; j < r->n_backends; j++)
			put(&o, "%s\"%s\"", j ? ", " : "", c->backends[r->backends[j]].name);
		put(&o, "]");
		put_redirect(&o, r->redirect);
		put(&o, "}\n");
	}
	put(&o, "health: {path: ");
	put_str(&o, c->health.path, false);
	put(&o, ", interval_ms: %u, timeout_ms: %u, rise: %u, fall: %u}\n", c->health.interval_ms,
	    c->health.timeout_ms, c->health.rise, c->health.fall);
	put(&o, "handoff: {mss: %u, wscale: %u, request_limit: %u, request_timeout_ms: %u}\n",
	    c->handoff.mss, c->handoff.wscale, c->handoff.request_limit,
	    c->handoff.request_timeout_ms);
	put(&o, "metrics: {listen: ");
	put_str(&o, c->metrics.listen, false);
	put(&o, ", top_routes: %u}\ncookie: {key_file: ", c->metrics.top_routes);
	put_str(&o, c->cookie.key_file, false);
	put(&o, ", period_s: %u, windows: %u}\n", c->cookie.period_s, c->cookie.windows);
	return o.b;
}

static bool same_str(const char *a, const char *b)
{
	return (!a && !b) || (a && b && !strcmp(a, b));
}

/* The same redirect: none on both, `redirect: none` on both, or the same status and template. */
static bool same_redirect(const struct lb_redirect *x, const struct lb_redirect *y)
{
	if (!x || !y || x == &lb_redirect_none || y == &lb_redirect_none)
		return x == y;
	return x->status == y->status && !strcmp(x->url, y->url);
}

static void check_same(const struct lb_config *a, const struct lb_config *b, const char *yaml)
{
	size_t i;

	CHECK(!strcmp(a->interface, b->interface) && a->n_vips == b->n_vips &&
		      a->n_backends == b->n_backends && a->n_routes == b->n_routes,
	      "round trip changed the shape:\n%s", yaml);
	for (i = 0; i < a->n_vips; i++)
		CHECK(a->vips[i].address.s_addr == b->vips[i].address.s_addr &&
			      a->vips[i].port == b->vips[i].port && a->vips[i].mode == b->vips[i].mode &&
			      same_redirect(a->vips[i].redirect, b->vips[i].redirect),
		      "round trip changed vips[%zu]:\n%s", i, yaml);
	for (i = 0; i < a->n_backends; i++) {
		const struct lb_cfg_backend *x = &a->backends[i], *y = &b->backends[i];

		CHECK(!strcmp(x->name, y->name) && x->address.s_addr == y->address.s_addr &&
			      x->mac_given == y->mac_given && !memcmp(x->mac, y->mac, 6) &&
			      x->weight == y->weight && x->handoff == y->handoff &&
			      x->state == y->state && x->local == y->local &&
			      !strcmp(x->public_name, y->public_name),
		      "round trip changed backends[%zu]:\n%s", i, yaml);
	}
	for (i = 0; i < a->n_routes; i++) {
		const struct lb_cfg_route *x = &a->routes[i], *y = &b->routes[i];

		CHECK(same_str(x->name, y->name) && same_str(x->host, y->host) &&
			      same_str(x->path, y->path) && same_str(x->prefix, y->prefix) &&
			      x->n_backends == y->n_backends &&
			      !memcmp(x->backends, y->backends, x->n_backends * sizeof(uint32_t)) &&
			      same_redirect(x->redirect, y->redirect),
		      "round trip changed routes[%zu]:\n%s", i, yaml);
	}
	CHECK(!memcmp(&a->health, &b->health, sizeof(a->health)) &&
		      !memcmp(&a->handoff, &b->handoff, sizeof(a->handoff)) &&
		      !strcmp(a->metrics.listen, b->metrics.listen) &&
		      a->metrics.top_routes == b->metrics.top_routes &&
		      !strcmp(a->cookie.key_file, b->cookie.key_file) &&
		      a->cookie.period_s == b->cookie.period_s && a->cookie.windows == b->cookie.windows,
	      "round trip changed a setting:\n%s", yaml);
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct lb_config zero;
	struct lb_config cfg, again;
	char err[LB_ERR_MAX], err2[LB_ERR_MAX];
	uint8_t *text = dup_exact(data, size);
	int r = lb_config_parse("fuzz.yaml", (const char *)text, size, &cfg, err, sizeof(err));

	free(text);
	if (r) {
		const char *p = err + strlen("fuzz.yaml:");

		CHECK(r == -1, "lb_config_parse returned %d", r);
		CHECK(!strncmp(err, "fuzz.yaml:", 10) && isdigit((unsigned char)*p),
		      "error not \"FILE:LINE: ...\": %s", err);
		while (isdigit((unsigned char)*p))
			p++;
		CHECK(p[0] == ':' && p[1] == ' ', "error not \"FILE:LINE: ...\": %s", err);
		CHECK(!strchr(err, '\n') && !strchr(err, '\r'), "error of more than one line: %s", err);
		CHECK(!memcmp(&cfg, &zero, sizeof(cfg)), "a failed parse left the config set");
		lb_config_free(&cfg);
		return 0;
	}

	check_config(&cfg);
	{
		struct lb_directory *d = lb_directory_build(cfg.routes, cfg.n_routes, err,
							    sizeof(err));

		CHECK(d, "the loader accepted routes the directory refuses: %s", err);
		lb_directory_free(d);
	}
	{
		char *yaml = emit(&cfg);

		CHECK(!lb_config_parse("again.yaml", yaml, strlen(yaml), &again, err2, sizeof(err2)),
		      "the config written back does not load: %s\n%s", err2, yaml);
		check_same(&cfg, &again, yaml);
		lb_config_free(&again);
		free(yaml);
	}
	lb_config_free(&cfg);
	lb_config_free(&cfg);
	return 0;
}
