/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balancer's configuration (one YAML file, see docs/config.md), parsed
 * into typed structs. Every error names the file, the line, the key and what
 * is expected there.
 */
#ifndef LATEBIND_CONFIG_H
#define LATEBIND_CONFIG_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"
#include "redirect.h"

#define LB_NAME_MAX	  64
#define LB_IFNAME_MAX	  16
#define LB_PATH_MAX	  4096
#define LB_ERR_MAX	  512

enum lb_handoff_mode {
	LB_HANDOFF_COOKIE = 0, /* backend kernel adopts the cookie (>= 6.9) */
	LB_HANDOFF_REPLAY = 1, /* replayed SYN + translation on the backend */
};

struct lb_cfg_vip {
	struct in_addr address;
	uint16_t port;	/* host order */
	int mode;	/* enum lb_vip_mode (headers/maps.h) */
	const struct lb_redirect *redirect; /* every request redirected; NULL: handed off */
	int line;	/* where it was defined, for later messages */
};

struct lb_cfg_backend {
	char name[LB_NAME_MAX];
	struct in_addr address;
	uint8_t mac[6];
	bool mac_given;	/* else resolved from the neighbour table */
	uint16_t weight; /* 1..65535, default 1 */
	int handoff;	/* enum lb_handoff_mode */
	int state;	/* enum lb_backend_state: up (default) or draining */
	char health_path[256]; /* overrides health.path for this backend; "" = none */
	/* The balancer's interface it sits behind; "" = the main `interface:` (also
	 * when the config names that one). Others: XDP_REDIRECT, hand-offs sent there. */
	char interface[LB_IFNAME_MAX];
	int interface_line;
	char public_name[LB_PUBLIC_MAX]; /* `public:`, canonical: what redirects name; "" = none */
	int public_line;
	/* The balancer itself (`local: true`): its own web server, reached through lo;
	 * its address is one of this host's (docs/packet-walk.md §10). */
	bool local;
	int line;
};

/* One entry of the content directory: which backends hold what. */
struct lb_cfg_route {
	char *name;	/* label for metrics; default "route<N>" */
	char *host;	/* "*", "example.com" or "*.example.com" (lower case) */
	char *path;	/* exact path, or NULL */
	char *prefix;	/* path prefix, or NULL (exactly one of path/prefix is set) */
	uint32_t *backends; /* indexes into lb_config.backends */
	size_t n_backends;
	/* NULL: as its VIP does; &lb_redirect_none: handed off even so */
	const struct lb_redirect *redirect;
	int line;
};

struct lb_cfg_health {
	char path[LB_PATH_MAX];	/* default "/" */
	uint32_t interval_ms;	/* default 1000 */
	uint32_t timeout_ms;	/* default 1000 */
	uint32_t rise;		/* default 2 */
	uint32_t fall;		/* default 3 */
	uint32_t status_min;	/* a passing status is status_min..status_max, */
	uint32_t status_max;	/* default 200..399 (2xx and 3xx) */
};

struct lb_cfg_handoff {
	uint16_t mss;		   /* advertised MSS, default 1400 (never above the client's) */
	uint8_t wscale;		   /* advertised window scale, default 7 */
	uint32_t request_limit;	   /* bytes of request head buffered, default 16384 */
	uint32_t request_timeout_ms; /* default 10000 */
	bool park;		   /* a connection moving on leaves a cookie-mode backend's socket
				    * open for its return (docs/parked-sockets.md), default true */
};

struct lb_cfg_metrics {
	char listen[128];	/* "127.0.0.1:9180" by default; "" disables */
	uint32_t top_routes;	/* routes counted by name and exported, default
				 * LB_ROUTE_TOP_DEFAULT (1..LB_ROUTE_TOP_MAX) */
};

struct lb_cfg_cookie {
	char key_file[LB_PATH_MAX]; /* default /etc/latebind/cookie.key */
	uint32_t period_s;	    /* time counter granularity, default 64 */
	uint32_t windows;	    /* counter values accepted, default 2 (1..4) */
};

struct lb_cfg_limits {
	uint32_t flows;		/* entries of the flow table, default LB_MAX_FLOWS (maps.h) */
};

/* The VIPs' routes kept in a kernel table for a BGP daemon to export (user/announce.h). */
struct lb_cfg_announce {
	uint32_t table;		    /* routing table id; 0: announce: absent, nothing announced */
	uint32_t withdraw_grace_ms; /* serving on after the withdrawal at a stop, default 1000 */
};

/* The dispatcher threads (user/workers.h); a change takes a restart. */
struct lb_cfg_dispatcher {
	uint32_t threads; /* 0 (default): one per RX queue, capped by the online CPUs */
	bool busy_poll;	  /* SO_PREFER_BUSY_POLL on the AF_XDP sockets */
};

/* `peers:` entry, ADDR or ADDR:PORT. */
struct lb_cfg_peer {
	struct in_addr addr;
	uint16_t port; /* 0: peer_port */
};

struct lb_config {
	char path[LB_PATH_MAX]; /* the file it came from */
	char interface[LB_IFNAME_MAX];
	struct lb_cfg_vip *vips;
	size_t n_vips;
	struct lb_cfg_backend *backends;
	size_t n_backends;
	struct lb_cfg_route *routes;
	size_t n_routes;
	struct lb_cfg_health health;
	struct lb_cfg_handoff handoff;
	struct lb_cfg_metrics metrics;
	struct lb_cfg_cookie cookie;
	struct lb_cfg_limits limits;
	struct lb_cfg_announce announce;
	struct lb_cfg_dispatcher dispatcher;
	struct lb_cfg_peer peers[LB_MAX_PEERS]; /* the site's other balancers (peer_sync.h) */
	size_t n_peers;
	uint16_t peer_port;	/* UDP port they all listen on, default 7480 */
	void *route_mem; /* the loader's: blocks holding the routes' strings and holder lists */
};

/*
 * Parse @path into @cfg. Returns 0, or -1 with a one-line message in @err of
 * the form "FILE:LINE: KEY: what is wrong; what to write instead".
 */
int lb_config_load(const char *path, struct lb_config *cfg, char *err, size_t errlen);

/* Same, from a string already in memory (tests, fuzzing); @name labels errors. */
int lb_config_parse(const char *name, const char *text, size_t len, struct lb_config *cfg,
		    char *err, size_t errlen);

void lb_config_free(struct lb_config *cfg);

/*
 * The redirect for a request to VIP @vip_addr:@vip_port (network, host order)
 * routed by route @route: the route's own, else the VIP's; NULL: hand off.
 */
const struct lb_redirect *lb_config_redirect(const struct lb_config *cfg, uint32_t route,
					     uint32_t vip_addr, uint16_t vip_port);

/* Index of the backend called @name, or -1. */
int lb_config_backend_index(const struct lb_config *cfg, const char *name);

#endif
