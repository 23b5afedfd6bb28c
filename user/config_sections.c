// SPDX-License-Identifier: GPL-2.0
/*
 * The config's sections other than routes (docs/config.md): interface, vips,
 * backends, health, handoff, metrics, cookie and limits, each from its node
 * tree into struct lb_config, with the defaults of headers/defaults.h left
 * where a key is absent.
 */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config_parse.h"
#include "defaults.h"
#include "hex.h"
#include "maps.h"
#include "own_address.h"

/* An IPv4 address that can be a VIP or a backend: unicast, not loopback. */
static int want_ipv4(struct parse *p, const struct ynode *n, const struct ykey *key,
		     struct in_addr *out)
{
	static const char expect[] = "a unicast IPv4 address like 192.0.2.80";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *why = NULL;
	struct in_addr a;
	struct yd_qbuf q;
	uint8_t first;

	if (!s)
		return -1;
	if (inet_pton(AF_INET, s, &a) != 1)
		return yd_fail(&p->doc, n->line, key, "%s is not an IPv4 address; expected %s",
			       yd_quote(&q, n), expect);
	first = ntohl(a.s_addr) >> 24;
	if (first == 0)
		why = "in 0.0.0.0/8";
	else if (first == 127)
		why = "a loopback address";
	else if (first >= 224 && first < 240)
		why = "a multicast address";
	else if (first >= 240)
		why = "a reserved or broadcast address";
	if (why)
		return yd_fail(&p->doc, n->line, key, "%s is %s; expected %s", yd_quote(&q, n), why,
			       expect);
	*out = a;
	return 0;
}

/* Backend and route names end up as metric labels and in log lines. */
int cfg_want_name(struct parse *p, const struct ynode *n, const struct ykey *key, char *buf)
{
	static const char expect[] = "a name of 1..63 letters, digits, '-', '_' or '.'";
	const char *s = yd_want_scalar(&p->doc, n, key, expect);
	struct yd_qbuf q;
	size_t i;

	if (!s)
		return -1;
	if (!n->n || n->n >= LB_NAME_MAX)
		return yd_fail(&p->doc, n->line, key, "%s has %zu characters; expected %s",
			       yd_quote(&q, n), n->n, expect);
	for (i = 0; i < n->n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return yd_fail(&p->doc, n->line, key, "%s is not a valid name; expected %s",
				       yd_quote(&q, n), expect);
	}
	memcpy(buf, s, n->n + 1);
	return 0;
}

/* An interface name at @key into @buf (LB_IFNAME_MAX bytes). */
static int want_ifname(struct parse *p, const struct ynode *n, const struct ykey *key, char *buf)
{
	static const char expect[] = "a network interface name like eth0";
	const char *s = yd_want_scalar(&p->doc, n, key, expect);
	struct yd_qbuf q;
	size_t i;

	if (!s)
		return -1;
	if (!n->n || n->n >= LB_IFNAME_MAX)
		return yd_fail(&p->doc, n->line, key, "%s has %zu characters; expected 1..%d",
			       yd_quote(&q, n), n->n, LB_IFNAME_MAX - 1);
	/* The kernel's rules (dev_valid_name), kept to printable ASCII. */
	for (i = 0; i < n->n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == ':')
			break;
	if (i < n->n || !strcmp(s, ".") || !strcmp(s, ".."))
		return yd_fail(&p->doc, n->line, key,
			       "%s is not a valid interface name; expected %s", yd_quote(&q, n),
			       expect);
	memcpy(buf, s, n->n + 1);
	return 0;
}

int cfg_interface(struct parse *p, const struct ynode *n)
{
	return want_ifname(p, n, YKEY("interface"), p->cfg->interface);
}

int cfg_grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 8;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * size);
	if (!n)
		return -1;
	/* Zeroed so that cleanup after a failure can free every slot. */
	memset((char *)n + *cap * size, 0, (ncap - *cap) * size);
	*arr = n;
	*cap = ncap;
	return 0;
}

int cfg_vip(struct parse *p, const struct ynode *n, size_t idx)
{
	static const char *const modes[] = { [LB_VIP_HTTP] = "http", [LB_VIP_TCP] = "tcp" };
	enum { V_ADDRESS, V_PORT, V_MODE, V_REDIRECT, V_N };
	struct yd_field f[V_N] = { [V_ADDRESS] = { "address" },
				   [V_PORT] = { "port" },
				   [V_MODE] = { "mode" },
				   [V_REDIRECT] = { "redirect" } };
	struct lb_config *cfg = p->cfg;
	char addr[INET_ADDRSTRLEN];
	struct lb_cfg_vip v = { .mode = LB_VIP_HTTP, .line = n->line };
	const struct ykey *where = YKEY_AT(YKEY("vips"), idx);
	uint32_t port;
	size_t i;

	if (idx >= LB_MAX_VIPS)
		return yd_fail(&p->doc, n->line, where, "one VIP too many; expected at most %d",
			       LB_MAX_VIPS);
	if (yd_want_map(&p->doc, n, where, "{address: 192.0.2.80, port: 80, mode: http}") ||
	    yd_fields(&p->doc, n, where, f, V_N))
		return -1;
	if (!f[V_ADDRESS].val)
		return yd_missing(&p->doc, n, where, "address",
				  "the VIP's IPv4 address, e.g. address: 192.0.2.80");
	if (want_ipv4(p, f[V_ADDRESS].val, YKEY_IN(where, "address"), &v.address))
		return -1;
	if (!f[V_PORT].val)
		return yd_missing(&p->doc, n, where, "port", "the VIP's TCP port, e.g. port: 80");
	if (yd_want_uint(&p->doc, f[V_PORT].val, YKEY_IN(where, "port"), 1, 65535, &port))
		return -1;
	v.port = (uint16_t)port;
	if (f[V_MODE].val && yd_want_enum(&p->doc, f[V_MODE].val, YKEY_IN(where, "mode"),
					  "a VIP mode", modes, 2, "http", &v.mode))
		return -1;
	/* Binding on the handshake is not built: every such connection would be reset. */
	if (v.mode == LB_VIP_TCP)
		return yd_fail(&p->doc, f[V_MODE].val->line, YKEY_IN(where, "mode"),
			       "tcp (binding on the handshake) is not built in this version; expected "
			       "http");
	if (f[V_REDIRECT].val && cfg_redirect(p, f[V_REDIRECT].val, YKEY_IN(where, "redirect"),
					      false, &v.redirect))
		return -1;
	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].address.s_addr == v.address.s_addr && cfg->vips[i].port == v.port)
			return yd_fail(
				&p->doc, n->line, where,
				"%s:%u is already vips[%zu] (line %d); expected each address and port once",
				inet_ntop(AF_INET, &v.address, addr, sizeof(addr)), v.port, i,
				cfg->vips[i].line);
	if (cfg_grow((void **)&cfg->vips, &p->cap_vips, cfg->n_vips + 1, sizeof(v)))
		return yd_oom(&p->doc, n->line, where);
	cfg->vips[cfg->n_vips++] = v;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	int i, hi, lo;

	for (i = 0; i < 6; i++) {
		hi = lb_hex_digit(s[0]);
		lo = hi < 0 ? -1 : lb_hex_digit(s[1]);
		if (lo < 0)
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -1;
	}
	return *s ? -1 : 0;
}

/*
 * `local: true`: the balancer's own web server. Its address must be one of
 * this host's (health probes go there, and the local stack must own it); it
 * is reached through lo in cookie mode, with no MAC or interface of its own.
 */
static int cfg_backend_local(struct parse *p, size_t idx,
			     const struct ynode *local, const struct ynode *mac,
			     const struct ynode *interface, const struct ynode *handoff,
			     struct lb_cfg_backend *b)
{
	static const char *const bools[] = { "false", "true" };
	const struct ykey *where = YKEY_AT(YKEY("backends"), idx);
	const struct ykey *key = YKEY_IN(where, "local");
	char addr[INET_ADDRSTRLEN];
	struct lb_config *cfg = p->cfg;
	int on;
	size_t i;

	if (yd_want_enum(&p->doc, local, key, "true or false", bools, 2,
			 "local: true or local: false", &on))
		return -1;
	if (!on)
		return 0;
	if (mac)
		return yd_fail(&p->doc, mac->line, YKEY_IN(where, "mac"),
			       "a local backend is reached through lo, not by a MAC; expected no "
			       "mac: with local: true");
	if (interface)
		return yd_fail(&p->doc, interface->line, YKEY_IN(where, "interface"),
			       "a local backend is reached through lo, not behind an interface; "
			       "expected no interface: with local: true");
	if (handoff && b->handoff != LB_HANDOFF_COOKIE)
		return yd_fail(&p->doc, handoff->line, YKEY_IN(where, "handoff"),
			       "a local backend takes hand-offs in cookie mode (the balancer's "
			       "kernel is >= 6.9 or it could not run it); expected handoff: cookie "
			       "or no handoff: with local: true");
	for (i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].local)
			return yd_fail(&p->doc, local->line, key,
				       "%s (line %d) is the local backend already; expected at "
				       "most one backend with local: true",
				       cfg->backends[i].name, cfg->backends[i].line);
	if (!lb_own_address(b->address))
		return yd_fail(&p->doc, local->line, key,
			       "%s is not an address of this host; expected local: true only on "
			       "the backend whose address: is one of the balancer's own (ip -4 "
			       "addr shows them)",
			       inet_ntop(AF_INET, &b->address, addr, sizeof(addr)));
	b->local = true;
	return 0;
}

int cfg_backend(struct parse *p, const struct ynode *n, size_t idx)
{
	static const char *const
		handoffs[] = { [LB_HANDOFF_COOKIE] = "cookie", [LB_HANDOFF_REPLAY] = "replay" };
	static const char
		*const states[] = { [LB_BACKEND_UP] = "up", [LB_BACKEND_DRAINING] = "draining" };
	static const char mac_expect[] = "a unicast MAC address like \"02:00:00:00:00:11\"";
	enum {
		B_NAME,
		B_ADDRESS,
		B_MAC,
		B_WEIGHT,
		B_HANDOFF,
		B_STATE,
		B_HEALTH_PATH,
		B_INTERFACE,
		B_PUBLIC,
		B_LOCAL,
		B_N
	};
	struct yd_field f[B_N] = {
		[B_NAME] = { "name" },
		[B_ADDRESS] = { "address" },
		[B_MAC] = { "mac" },
		[B_WEIGHT] = { "weight" },
		[B_HANDOFF] = { "handoff" },
		[B_STATE] = { "state" },
		[B_HEALTH_PATH] = { "health_path" },
		[B_INTERFACE] = { "interface" },
		[B_PUBLIC] = { "public" },
		[B_LOCAL] = { "local" },
	};
	struct lb_cfg_backend b = {
		.weight = 1,
		.handoff = LB_HANDOFF_COOKIE,
		.state = LB_BACKEND_UP,
		.line = n->line,
	};
	const struct ykey *where = YKEY_AT(YKEY("backends"), idx), *key;
	struct lb_config *cfg = p->cfg;
	char addr[INET_ADDRSTRLEN];
	uint32_t weight;
	struct yd_qbuf q;
	const char *s;
	size_t i;

	if (idx >= LB_MAX_BACKENDS)
		return yd_fail(&p->doc, n->line, where, "one backend too many; expected at most %d",
			       LB_MAX_BACKENDS);
	if (yd_want_map(&p->doc, n, where, "{name: web1, address: 198.51.100.11}") ||
	    yd_fields(&p->doc, n, where, f, B_N))
		return -1;
	if (!f[B_NAME].val)
		return yd_missing(&p->doc, n, where, "name",
				  "a name for the backend, e.g. name: web1");
	key = YKEY_IN(where, "name");
	if (cfg_want_name(p, f[B_NAME].val, key, b.name))
		return -1;
	for (i = 0; i < cfg->n_backends; i++)
		if (!strcmp(cfg->backends[i].name, b.name))
			return yd_fail(&p->doc, f[B_NAME].val->line, key,
				       "%s is already backends[%zu] (line %d); expected unique names",
				       yd_quote(&q, f[B_NAME].val), i, cfg->backends[i].line);
	if (!f[B_ADDRESS].val)
		return yd_missing(&p->doc, n, where, "address",
				  "the backend's IPv4 address, e.g. address: 198.51.100.11");
	key = YKEY_IN(where, "address");
	if (want_ipv4(p, f[B_ADDRESS].val, key, &b.address))
		return -1;
	/* Two entries for one machine would split its flows and its health. */
	for (i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].address.s_addr == b.address.s_addr)
			return yd_fail(
				&p->doc, f[B_ADDRESS].val->line, key,
				"%s is already the address of %s (line %d); expected one backend per address",
				inet_ntop(AF_INET, &b.address, addr, sizeof(addr)),
				cfg->backends[i].name, cfg->backends[i].line);
	if (f[B_MAC].val) {
		key = YKEY_IN(where, "mac");
		s = yd_want_scalar(&p->doc, f[B_MAC].val, key, mac_expect);
		if (!s)
			return -1;
		if (parse_mac(s, b.mac) || (b.mac[0] & 1) || !memcmp(b.mac, "\0\0\0\0\0\0", 6))
			return yd_fail(&p->doc, f[B_MAC].val->line, key,
				       "%s is not a unicast MAC; expected %s",
				       yd_quote(&q, f[B_MAC].val), mac_expect);
		b.mac_given = true;
	}
	if (f[B_WEIGHT].val) {
		if (yd_want_uint(&p->doc, f[B_WEIGHT].val, YKEY_IN(where, "weight"), 1, 65535,
				 &weight))
			return -1;
		b.weight = (uint16_t)weight;
	}
	if (f[B_HANDOFF].val &&
	    yd_want_enum(&p->doc, f[B_HANDOFF].val, YKEY_IN(where, "handoff"), "a handoff mode",
			 handoffs, 2, "cookie or replay", &b.handoff))
		return -1;
	if (f[B_STATE].val) {
		key = YKEY_IN(where, "state");
		s = yd_want_scalar(&p->doc, f[B_STATE].val, key, "up or draining");
		if (!s)
			return -1;
		/* Down is what health checks conclude, not something to configure. */
		if (!strcmp(s, "down"))
			return yd_fail(
				&p->doc, f[B_STATE].val->line, key,
				"\"down\" is set by health checks only; expected up or draining");
		if (yd_want_enum(&p->doc, f[B_STATE].val, key, "a backend state", states, 3,
				 "up or draining", &b.state))
			return -1;
	}
	if (f[B_HEALTH_PATH].val) {
		const struct ynode *v = f[B_HEALTH_PATH].val;

		key = YKEY_IN(where, "health_path");
		if (yd_want_string(&p->doc, v, key, b.health_path, sizeof(b.health_path),
				   "a request path like /healthz"))
			return -1;
		for (i = 0; i < v->n; i++)
			if (b.health_path[i] <= ' ' || b.health_path[i] > '~' ||
			    b.health_path[i] == '#')
				break;
		if (b.health_path[0] != '/' || i < v->n)
			return yd_fail(&p->doc, v->line, key,
				       "%s is not a request path; expected a request "
				       "path like /healthz (printable, no spaces)",
				       yd_quote(&q, v));
	}
	if (f[B_INTERFACE].val) {
		if (want_ifname(p, f[B_INTERFACE].val, YKEY_IN(where, "interface"), b.interface))
			return -1;
		b.interface_line = f[B_INTERFACE].val->line;
	}
	if (f[B_PUBLIC].val && cfg_public(p, f[B_PUBLIC].val, YKEY_IN(where, "public"), &b))
		return -1;
	if (f[B_LOCAL].val && cfg_backend_local(p, idx, f[B_LOCAL].val, f[B_MAC].val,
						f[B_INTERFACE].val, f[B_HANDOFF].val, &b))
		return -1;
	if (cfg_grow((void **)&cfg->backends, &p->cap_backends, cfg->n_backends + 1, sizeof(b)))
		return yd_oom(&p->doc, n->line, where);
	cfg->backends[cfg->n_backends++] = b;
	return 0;
}

int cfg_health(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("health");
	static const char path_expect[] = "a request path like /healthz (printable, no spaces)";
	enum { H_PATH, H_INTERVAL, H_TIMEOUT, H_RISE, H_FALL, H_SMIN, H_SMAX, H_N };
	struct yd_field f[H_N] = {
		[H_PATH] = { "path" },		[H_INTERVAL] = { "interval_ms" },
		[H_TIMEOUT] = { "timeout_ms" }, [H_RISE] = { "rise" },
		[H_FALL] = { "fall" },		[H_SMIN] = { "status_min" },
		[H_SMAX] = { "status_max" },
	};
	struct lb_cfg_health *h = &p->cfg->health;
	struct yd_qbuf q;
	size_t i;

	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where,
			"{path: " LB_DEFAULT_HEALTH_PATH
			", interval_ms: " LB_STR(LB_DEFAULT_HEALTH_INTERVAL_MS) ", rise: " LB_STR(
				LB_DEFAULT_HEALTH_RISE) ", fall: " LB_STR(LB_DEFAULT_HEALTH_FALL) "}") ||
	    yd_fields(&p->doc, n, where, f, H_N))
		return -1;
	if (f[H_PATH].val) {
		const struct ynode *v = f[H_PATH].val;

		if (yd_want_string(&p->doc, v, YKEY_IN(where, "path"), h->path, sizeof(h->path),
				   path_expect))
			return -1;
		/* It goes into a request line as it is. */
		for (i = 0; i < v->n; i++)
			if (h->path[i] <= ' ' || h->path[i] > '~' || h->path[i] == '#')
				break;
		if (h->path[0] != '/' || i < v->n)
			return yd_fail(&p->doc, v->line, YKEY_IN(where, "path"),
				       "%s is not a request path; expected %s", yd_quote(&q, v),
				       path_expect);
	}
	if ((f[H_INTERVAL].val &&
	     yd_want_uint(&p->doc, f[H_INTERVAL].val, YKEY_IN(where, "interval_ms"), 10, 3600000,
			  &h->interval_ms)) ||
	    (f[H_TIMEOUT].val &&
	     yd_want_uint(&p->doc, f[H_TIMEOUT].val, YKEY_IN(where, "timeout_ms"), 10, 3600000,
			  &h->timeout_ms)) ||
	    (f[H_RISE].val &&
	     yd_want_uint(&p->doc, f[H_RISE].val, YKEY_IN(where, "rise"), 1, 100, &h->rise)) ||
	    (f[H_FALL].val &&
	     yd_want_uint(&p->doc, f[H_FALL].val, YKEY_IN(where, "fall"), 1, 100, &h->fall)) ||
	    (f[H_SMIN].val && yd_want_uint(&p->doc, f[H_SMIN].val, YKEY_IN(where, "status_min"),
					   100, 599, &h->status_min)) ||
	    (f[H_SMAX].val && yd_want_uint(&p->doc, f[H_SMAX].val, YKEY_IN(where, "status_max"),
					   100, 599, &h->status_max)))
		return -1;
	if (h->status_min > h->status_max)
		return yd_fail(&p->doc, (f[H_SMIN].val ? f[H_SMIN].val : f[H_SMAX].val)->line,
			       YKEY_IN(where, "status_min"),
			       "%u is above status_max %u; expected status_min <= status_max",
			       h->status_min, h->status_max);
	return 0;
}

int cfg_handoff(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("handoff");
	enum { O_MSS, O_WSCALE, O_LIMIT, O_TIMEOUT, O_PARK, O_N };
	struct yd_field f[O_N] = {
		[O_MSS] = { "mss" },
		[O_WSCALE] = { "wscale" },
		[O_LIMIT] = { "request_limit" },
		[O_TIMEOUT] = { "request_timeout_ms" },
		[O_PARK] = { "park" },
	};
	static const char *const bools[] = { "false", "true" };
	struct lb_cfg_handoff *h = &p->cfg->handoff;
	uint32_t v;
	int on;

	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where,
			"{mss: " LB_STR(LB_DEFAULT_MSS) ", wscale: " LB_STR(LB_DEFAULT_WSCALE) "}") ||
	    yd_fields(&p->doc, n, where, f, O_N))
		return -1;
	if (f[O_MSS].val) {
		/* 536 is the IPv4 minimum every host takes; 9000 a jumbo frame's. */
		if (yd_want_uint(&p->doc, f[O_MSS].val, YKEY_IN(where, "mss"), 536, 9000, &v))
			return -1;
		h->mss = (uint16_t)v;
	}
	if (f[O_WSCALE].val) {
		/* RFC 7323 caps the shift at 14. */
		if (yd_want_uint(&p->doc, f[O_WSCALE].val, YKEY_IN(where, "wscale"), 0, 14, &v))
			return -1;
		h->wscale = (uint8_t)v;
	}
	if ((f[O_LIMIT].val && yd_want_uint(&p->doc, f[O_LIMIT].val, YKEY_IN(where, "request_limit"),
					    512, 1048576, &h->request_limit)) ||
	    (f[O_TIMEOUT].val &&
	     yd_want_uint(&p->doc, f[O_TIMEOUT].val, YKEY_IN(where, "request_timeout_ms"), 10,
			  3600000, &h->request_timeout_ms)))
		return -1;
	if (f[O_PARK].val) {
		if (yd_want_enum(&p->doc, f[O_PARK].val, YKEY_IN(where, "park"), "true or false",
				 bools, 2, "park: true or park: false", &on))
			return -1;
		h->park = on;
	}
	return 0;
}

/* "ADDRESS:PORT" with an IPv4 or [IPv6] literal: what the listener binds. */
static bool valid_listen(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char a[sizeof(struct in6_addr)];
	const char *colon, *port;
	size_t hlen;
	int family = AF_INET;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return false;
		family = AF_INET6;
		hlen = close - s - 1;
		s++;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hlen = colon - s;
	}
	if (hlen >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(family, host, a) != 1)
		return false;
	port = colon + 1;
	return yd_all_digits(port) && port[0] != '0' && strlen(port) <= 5 && atoi(port) <= 65535;
}

int cfg_metrics(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("metrics");
	static const char expect[] =
		"an address and port like 127.0.0.1:9180 or [::1]:9180, or \"\" to disable";
	enum { M_LISTEN, M_TOP_ROUTES, M_N };
	struct yd_field f[M_N] = { [M_LISTEN] = { .key = "listen" },
				   [M_TOP_ROUTES] = { .key = "top_routes" } };
	struct lb_cfg_metrics *m = &p->cfg->metrics;
	const struct ynode *v;
	struct yd_qbuf q;

	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where, "{listen: 127.0.0.1:9180, top_routes: 100}") ||
	    yd_fields(&p->doc, n, where, f, M_N))
		return -1;
	if (f[M_TOP_ROUTES].val &&
	    yd_want_uint(&p->doc, f[M_TOP_ROUTES].val, YKEY_IN(where, "top_routes"), 1,
			 LB_ROUTE_TOP_MAX, &m->top_routes))
		return -1;
	v = f[M_LISTEN].val;
	if (!v)
		return 0;
	if (v->type == YN_NULL || (v->type == YN_SCALAR && !v->n)) {
		m->listen[0] = '\0';
		return 0;
	}
	if (yd_want_string(&p->doc, v, YKEY_IN(where, "listen"), m->listen, sizeof(m->listen),
			   expect))
		return -1;
	if (!valid_listen(m->listen))
		return yd_fail(&p->doc, v->line, YKEY_IN(where, "listen"),
			       "%s is not an address:port; expected %s", yd_quote(&q, v), expect);
	return 0;
}

int cfg_limits(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("limits");
	struct yd_field f[] = { { .key = "flows" } };
	struct lb_cfg_limits *l = &p->cfg->limits;

	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where, "{flows: 1048576}") || yd_fields(&p->doc, n, where, f, 1))
		return -1;
	/* The kernel preallocates every entry (~152 bytes): 16M is already ~2.4 GB. */
	if (f[0].val && yd_want_uint(&p->doc, f[0].val, YKEY_IN(where, "flows"), LB_FLOWS_MIN,
				     LB_FLOWS_MAX, &l->flows))
		return -1;
	return 0;
}

int cfg_cookie(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("cookie");
	static const char expect[] = "a file name like /etc/latebind/cookie.key";
	enum { C_KEY_FILE, C_PERIOD, C_WINDOWS, C_N };
	struct yd_field f[C_N] = {
		[C_KEY_FILE] = { "key_file" },
		[C_PERIOD] = { "period_s" },
		[C_WINDOWS] = { "windows" },
	};
	struct lb_cfg_cookie *c = &p->cfg->cookie;
	const struct ynode *v;
	size_t i;

	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where,
			"{key_file: " LB_DEFAULT_COOKIE_KEY_FILE
			", period_s: " LB_STR(LB_DEFAULT_COOKIE_PERIOD_S) ", windows: " LB_STR(
				LB_DEFAULT_COOKIE_WINDOWS) "}") ||
	    yd_fields(&p->doc, n, where, f, C_N))
		return -1;
	v = f[C_KEY_FILE].val;
	if (v) {
		if (yd_want_string(&p->doc, v, YKEY_IN(where, "key_file"), c->key_file,
				   sizeof(c->key_file), expect))
			return -1;
		for (i = 0; i < v->n; i++)
			if ((unsigned char)c->key_file[i] < 0x20 || c->key_file[i] == 0x7f)
				break;
		if (!v->n || i < v->n)
			return yd_fail(&p->doc, v->line, YKEY_IN(where, "key_file"),
				       "is empty or has control characters; expected %s", expect);
	}
	/* More windows accept older cookies: a longer replay window for a stolen one. */
	if ((f[C_PERIOD].val && yd_want_uint(&p->doc, f[C_PERIOD].val, YKEY_IN(where, "period_s"),
					     1, 86400, &c->period_s)) ||
	    (f[C_WINDOWS].val &&
	     yd_want_uint(&p->doc, f[C_WINDOWS].val, YKEY_IN(where, "windows"), 1, 4, &c->windows)))
		return -1;
	return 0;
}

/*
 * Backends behind another interface of the balancer, now that the main one is
 * known (it may come after the list): naming the main one is the default
 * written out; the others must fit the XDP program's map of interfaces, and
 * replay mode needs its SYN/ACK on the dispatcher's own interface.
 */
int cfg_backend_interfaces(struct parse *p)
{
	struct lb_config *cfg = p->cfg;
	const char *seen[LB_MAX_IFACES - 1];
	size_t i, j, n_seen = 0;

	for (i = 0; i < cfg->n_backends; i++) {
		struct lb_cfg_backend *b = &cfg->backends[i];

		if (!strcmp(b->interface, cfg->interface))
			b->interface[0] = '\0';
		if (!b->interface[0])
			continue;
		const struct ykey *key = YKEY_IN(YKEY_AT(YKEY("backends"), i), "interface");

		if (b->handoff == LB_HANDOFF_REPLAY)
			return yd_fail(&p->doc, b->interface_line, key,
				       "a replay-mode backend behind %s: its SYN/ACK must reach the "
				       "dispatcher on %s; expected handoff: cookie, or the backend "
				       "behind %s",
				       b->interface, cfg->interface, cfg->interface);
		for (j = 0; j < n_seen && strcmp(seen[j], b->interface); j++)
			;
		if (j < n_seen)
			continue;
		if (n_seen == LB_MAX_IFACES - 1)
			return yd_fail(&p->doc, b->interface_line, key,
				       "%s is one interface too many; expected backends behind at most "
				       "%d interfaces besides %s",
				       b->interface, LB_MAX_IFACES - 1, cfg->interface);
		seen[n_seen++] = b->interface;
	}
	return 0;
}

/* A peer balancer: ADDR, or ADDR:PORT when it listens on another port than ours. */
static int want_peer(struct parse *p, const struct ynode *n, const struct ykey *key,
		     struct lb_cfg_peer *out)
{
	static const char expect[] = "an IPv4 address like 198.51.100.3, or 198.51.100.3:7480";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *colon;
	struct ynode addr;
	char buf[INET_ADDRSTRLEN];
	struct yd_qbuf q;

	if (!s)
		return -1;
	colon = strchr(s, ':');
	*out = (struct lb_cfg_peer){};
	if (colon) {
		if (!yd_all_digits(colon + 1) || colon[1] == '0' || strlen(colon + 1) > 5 ||
		    atoi(colon + 1) > 65535 || (size_t)(colon - s) >= sizeof(buf))
			return yd_fail(&p->doc, n->line, key, "%s has no valid port; expected %s",
				       yd_quote(&q, n), expect);
		out->port = (uint16_t)atoi(colon + 1);
		memcpy(buf, s, (size_t)(colon - s));
		buf[colon - s] = '\0';
		addr = *n;
		addr.str = buf;
		addr.n = strlen(buf);
		return want_ipv4(p, &addr, key, &out->addr);
	}
	return want_ipv4(p, n, key, &out->addr);
}

int cfg_peers(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("peers");
	struct lb_config *cfg = p->cfg;
	size_t i, j;

	if (n->type == YN_NULL)
		return 0;
	if (n->type != YN_SEQ)
		return yd_fail(&p->doc, n->line, where,
			       "is %s; expected a list of the other balancers' addresses, "
			       "e.g. peers: [198.51.100.3]",
			       yd_kind(n));
	if (n->n > LB_MAX_PEERS)
		return yd_fail(&p->doc, n->kids[LB_MAX_PEERS]->line, where,
			       "has %zu entries; expected at most " LB_STR(LB_MAX_PEERS), n->n);
	for (i = 0; i < n->n; i++) {
		if (want_peer(p, n->kids[i], YKEY_AT(where, i), &cfg->peers[i]))
			return -1;
		for (j = 0; j < i; j++)
			if (cfg->peers[j].addr.s_addr == cfg->peers[i].addr.s_addr &&
			    cfg->peers[j].port == cfg->peers[i].port)
				return yd_fail(&p->doc, n->kids[i]->line, YKEY_AT(where, i),
					       "is listed twice (first as peers[%zu]); expected each "
					       "peer once",
					       j);
	}
	cfg->n_peers = n->n;
	return 0;
}

int cfg_peer_port(struct parse *p, const struct ynode *n)
{
	uint32_t port;

	if (yd_want_uint(&p->doc, n, YKEY("peer_port"), 1, 65535, &port))
		return -1;
	p->cfg->peer_port = (uint16_t)port;
	return 0;
}
