// SPDX-License-Identifier: GPL-2.0
/*
 * The balancer's YAML config (docs/config.md) into struct lb_config: the
 * document's outer structure, the order sections may come in, what must be
 * there, and the API. Reading YAML and the messages are yaml_doc.c's; the
 * sections are config_sections.c's and config_routes.c's.
 *
 * Each top-level value, or each item of the vips/backends/routes lists, is
 * read into a small tree, checked, copied into the config and dropped before
 * the next one is read. The first error found stops the parse.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config_parse.h"
#include "defaults.h"
#include "maps.h"

#define CFG_MAX_BYTES (512u << 20) /* bigger than any sane directory */

static const char *const section_names[S_COUNT] = {
	[S_INTERFACE] = "interface", [S_VIPS] = "vips",	    [S_BACKENDS] = "backends",
	[S_ROUTES] = "routes",	     [S_HEALTH] = "health", [S_HANDOFF] = "handoff",
	[S_METRICS] = "metrics",     [S_COOKIE] = "cookie", [S_LIMITS] = "limits",
	[S_PEERS] = "peers",	     [S_PEER_PORT] = "peer_port",
	[S_ANNOUNCE] = "announce",  [S_DISPATCHER] = "dispatcher",
};

static int finish(struct parse *p)
{
	static const char *const expect[] = {
		[S_INTERFACE] = "the interface to attach to, e.g. interface: eth0",
		[S_VIPS] = "a list of VIPs, e.g. vips: [{address: 192.0.2.80, port: 80}]",
		[S_BACKENDS] =
			"a list of backends, e.g. backends: [{name: web1, address: 198.51.100.11}]",
		[S_ROUTES] = "a list of routes, e.g. routes: [{prefix: /, backends: [web1]}]",
	};
	int s;

	for (s = S_INTERFACE; s <= S_ROUTES; s++)
		if (!p->seen[s])
			return yd_fail(&p->doc, p->root_line, YKEY(section_names[s]),
				       "missing; expected %s", expect[s]);
	if (cfg_routes_finish(p) || cfg_redirect_check(p))
		return -1;
	return cfg_backend_interfaces(p);
}

/* --- the document -------------------------------------------------------- */

static int list_item(struct parse *p, enum section s, const struct ynode *n, size_t idx)
{
	switch (s) {
	case S_VIPS: return cfg_vip(p, n, idx);
	case S_BACKENDS: return cfg_backend(p, n, idx);
	default: return cfg_route(p, n, idx);
	}
}

/* vips, backends and routes: one item in memory at a time. */
static int parse_list(struct parse *p, enum section s, yaml_event_t *ev)
{
	const struct ykey *key = YKEY(section_names[s]);
	int line = yd_line(&ev->start_mark);
	struct ynode *item;
	size_t i;

	if (yd_check_event(&p->doc, ev, key, 1)) {
		yaml_event_delete(ev);
		return -1;
	}
	yaml_event_delete(ev);
	for (i = 0;; i++) {
		if (yd_next(&p->doc, ev))
			return -1;
		if (ev->type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(ev);
			break;
		}
		if (yd_load(&p->doc, ev, YKEY_AT(key, i), 2, &item) || list_item(p, s, item, i))
			return -1;
		yd_reset(&p->doc);
	}
	if (!i)
		return yd_fail(&p->doc, line, key, "is an empty list; expected at least one entry");
	if (s == S_BACKENDS)
		return cfg_index_backends(p, line);
	return 0;
}

static int parse_section(struct parse *p, enum section s, const struct ynode *n)
{
	switch (s) {
	case S_INTERFACE: return cfg_interface(p, n);
	case S_HEALTH: return cfg_health(p, n);
	case S_HANDOFF: return cfg_handoff(p, n);
	case S_METRICS: return cfg_metrics(p, n);
	case S_COOKIE: return cfg_cookie(p, n);
	case S_LIMITS: return cfg_limits(p, n);
	case S_PEERS: return cfg_peers(p, n);
	case S_PEER_PORT: return cfg_peer_port(p, n);
	case S_ANNOUNCE: return cfg_announce(p, n);
	case S_DISPATCHER: return cfg_dispatcher(p, n);
	default:
		/* A list section whose value is not a list. */
		return yd_fail(&p->doc, n->line, YKEY(section_names[s]),
			       "is %s; expected a list of %s", yd_kind(n), section_names[s]);
	}
}

static int parse_root(struct parse *p, yaml_event_t *ev)
{
	static const char expect[] = "a mapping with interface, vips, backends and routes";
	struct ynode *n;
	int s;

	if (ev->type != YAML_MAPPING_START_EVENT) {
		if (yd_load(&p->doc, ev, YKEY("config"), 0, &n))
			return -1;
		/* libyaml puts an empty document's null on its "..." line. */
		return yd_fail(&p->doc, n->type == YN_NULL ? p->doc_line : n->line, YKEY("config"),
			       "is %s; expected %s", yd_kind(n), expect);
	}
	p->root_line = yd_line(&ev->start_mark);
	if (yd_check_event(&p->doc, ev, YKEY("config"), 0)) {
		yaml_event_delete(ev);
		return -1;
	}
	yaml_event_delete(ev);
	for (;;) {
		if (yd_next(&p->doc, ev))
			return -1;
		if (ev->type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(ev);
			break;
		}
		if (yd_load(&p->doc, ev, YKEY("config"), 1, &n) || yd_check_key(&p->doc, n, NULL))
			return -1;
		s = yd_find_key(n, section_names, S_COUNT);
		if (s < 0)
			return yd_unknown_key(&p->doc, n, NULL, section_names, S_COUNT);
		if (p->seen[s])
			return yd_fail(&p->doc, n->line, YKEY(section_names[s]),
				       "given twice (first at line %d); expected each key once",
				       p->seen[s]);
		p->seen[s] = n->line;
		if (yd_next(&p->doc, ev))
			return -1;
		if ((s == S_VIPS || s == S_BACKENDS || s == S_ROUTES) &&
		    ev->type == YAML_SEQUENCE_START_EVENT) {
			if (parse_list(p, s, ev))
				return -1;
		} else if (yd_load(&p->doc, ev, YKEY(section_names[s]), 1, &n) ||
			   parse_section(p, s, n)) {
			return -1;
		}
		yd_reset(&p->doc);
	}
	return 0;
}

static int parse_stream(struct parse *p)
{
	yaml_event_t ev;

	if (yd_next(&p->doc, &ev))
		return -1;
	yaml_event_delete(&ev); /* stream start */
	if (yd_next(&p->doc, &ev))
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return yd_fail(&p->doc, 1, YKEY("config"),
			       "the file is empty; expected a mapping "
			       "with interface, vips, backends and routes");
	}
	p->doc_line = yd_line(&ev.start_mark);
	yaml_event_delete(&ev); /* document start */
	if (yd_next(&p->doc, &ev) || parse_root(p, &ev))
		return -1;
	if (yd_next(&p->doc, &ev))
		return -1;
	yaml_event_delete(&ev); /* document end */
	if (yd_next(&p->doc, &ev))
		return -1;
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		int line = yd_line(&ev.start_mark);

		yaml_event_delete(&ev);
		return yd_fail(&p->doc, line, YKEY("config"),
			       "a second YAML document starts here; expected one document");
	}
	yaml_event_delete(&ev); /* stream end */
	return finish(p);
}

/* --- API ----------------------------------------------------------------- */

static void set_defaults(struct lb_config *cfg)
{
	strcpy(cfg->health.path, LB_DEFAULT_HEALTH_PATH);
	cfg->health.interval_ms = LB_DEFAULT_HEALTH_INTERVAL_MS;
	cfg->health.timeout_ms = LB_DEFAULT_HEALTH_TIMEOUT_MS;
	cfg->health.rise = LB_DEFAULT_HEALTH_RISE;
	cfg->health.status_min = LB_DEFAULT_HEALTH_STATUS_MIN;
	cfg->health.status_max = LB_DEFAULT_HEALTH_STATUS_MAX;
	cfg->health.fall = LB_DEFAULT_HEALTH_FALL;
	cfg->handoff.mss = LB_DEFAULT_MSS;
	cfg->handoff.wscale = LB_DEFAULT_WSCALE;
	cfg->handoff.request_limit = LB_DEFAULT_REQUEST_LIMIT;
	cfg->handoff.request_timeout_ms = LB_DEFAULT_REQUEST_TIMEOUT_MS;
	cfg->handoff.park = true;
	strcpy(cfg->metrics.listen, LB_DEFAULT_METRICS_LISTEN);
	cfg->metrics.top_routes = LB_ROUTE_TOP_DEFAULT;
	strcpy(cfg->cookie.key_file, LB_DEFAULT_COOKIE_KEY_FILE);
	cfg->cookie.period_s = LB_DEFAULT_COOKIE_PERIOD_S;
	cfg->cookie.windows = LB_DEFAULT_COOKIE_WINDOWS;
	cfg->limits.flows = LB_MAX_FLOWS;
	cfg->peer_port = LB_DEFAULT_PEER_PORT;
	cfg->announce.withdraw_grace_ms = LB_DEFAULT_ANNOUNCE_GRACE_MS;
	cfg->dispatcher.threads = LB_DEFAULT_DISPATCHER_THREADS;
}

int lb_config_parse(const char *name, const char *text, size_t len, struct lb_config *cfg,
		    char *err, size_t errlen)
{
	struct parse p = { .cfg = cfg };
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	set_defaults(cfg);
	ret = yd_open(&p.doc, name, text, len, err, errlen);
	snprintf(cfg->path, sizeof(cfg->path), "%s", p.doc.name);
	if (!ret) {
		ret = parse_stream(&p);
		/* Items are checked as they stream in: a broken line further down is unseen yet. */
		if (ret && p.doc.parser.error == YAML_NO_ERROR)
			yd_prefer_syntax_error(&p.doc);
	}
	yd_close(&p.doc);
	cfg_routes_cleanup(&p);
	if (ret || p.doc.failed) {
		lb_config_free(cfg);
		return -1;
	}
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
load_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		yd_one_line(err);
	}
	return -1;
}

int lb_config_load(const char *path, struct lb_config *cfg, char *err, size_t errlen)
{
	size_t len = 0, cap = 64 * 1024;
	struct stat st;
	char *buf, *grown;
	ssize_t n;
	int fd, ret;

	memset(cfg, 0, sizeof(*cfg));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		load_error(err, errlen, "%s: cannot open: %s; expected a readable YAML file", path,
			   strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		load_error(err, errlen, "%s: is a directory; expected a YAML file", path);
		close(fd);
		return -1;
	}
	buf = malloc(cap);
	if (!buf)
		goto nomem;
	/* Read to the end rather than trust st_size: pipes and /proc have none. */
	for (;;) {
		if (len == cap) {
			if (cap >= CFG_MAX_BYTES) {
				load_error(err, errlen,
					   "%s: larger than %u MiB; expected a config file", path,
					   CFG_MAX_BYTES >> 20);
				free(buf);
				close(fd);
				return -1;
			}
			grown = realloc(buf, cap * 2);
			if (!grown)
				goto nomem;
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			load_error(err, errlen, "%s: cannot read: %s; expected a readable YAML file",
				   path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	ret = lb_config_parse(path, buf, len, cfg, err, errlen);
	free(buf);
	return ret;
nomem:
	load_error(err, errlen, "%s: out of memory reading it; expected a smaller file", path);
	free(buf);
	close(fd);
	return -1;
}

void lb_config_free(struct lb_config *cfg)
{
	if (!cfg)
		return;
	/* The routes' strings and holder lists all live in route_mem. */
	cfg_free_route_mem(cfg);
	free(cfg->routes);
	free(cfg->vips);
	free(cfg->backends);
	memset(cfg, 0, sizeof(*cfg));
}

const struct lb_redirect *lb_config_redirect(const struct lb_config *cfg, uint32_t route,
					     uint32_t vip_addr, uint16_t vip_port)
{
	const struct lb_redirect *r = route < cfg->n_routes ? cfg->routes[route].redirect : NULL;
	size_t i;

	if (r)
		return r == &lb_redirect_none ? NULL : r;
	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].address.s_addr == vip_addr && cfg->vips[i].port == vip_port)
			return cfg->vips[i].redirect;
	return NULL;
}

int lb_config_backend_index(const struct lb_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_backends; i++)
		if (!strcmp(cfg->backends[i].name, name))
			return (int)i;
	return -1;
}
