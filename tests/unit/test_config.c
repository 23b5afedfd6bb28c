// SPDX-License-Identifier: GPL-2.0
/*
 * The YAML config loader (user/config.c): the example of docs/config.md and its
 * defaults, one table row per kind of error (with the exact line and key it
 * must name), and hostile inputs that must give an error, never a crash.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <sched.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "config.h"
#include "defaults.h"
#include "directory.h"
#include "maps.h"
#include "reload_job.h"
#include "suites.h"

/* The example of docs/config.md, with the optional fields each given once. */
static const char example[] =
	"# latebind example\n"							  /* 1 */
	"interface: eth0\n"							  /* 2 */
	"vips:\n"								  /* 3 */
	"  - address: 192.0.2.80\n"						  /* 4 */
	"    port: 80\n"							  /* 5 */
	"    mode: http            # the only mode built\n"			  /* 6 */
	"  - {address: 192.0.2.81, port: 8080}\n"				  /* 7 */
	"backends:\n"								  /* 8 */
	"  - {name: web1, address: 198.51.100.11, weight: 1, handoff: cookie}\n"  /* 9 */
	"  - {name: web2, address: 198.51.100.12, weight: 300, handoff: replay,\n" /* 10 */
	"     mac: \"02:00:00:00:00:1A\"}\n"					  /* 11 */
	"  - {name: web3, address: 198.51.100.13, state: draining}\n"		  /* 12 */
	"routes:\n"								  /* 13 */
	"  - {host: \"*\", prefix: /images/, backends: [web1, web2]}\n"		  /* 14 */
	"  - {host: \"*\", path: /report.pdf, backends: [web3]}\n"		  /* 15 */
	"  - {name: everything, host: \"*\", prefix: /, backends: [web1, web2, web3]}\n" /* 16 */
	"  - {host: Static.Example.COM, prefix: /a%20b/, backends: [web2]}\n"	  /* 17 */
	"  - {host: \"*.example.com\", path: /x, backends: [web3, web1]}\n"	  /* 18 */
	"health: {path: /healthz, interval_ms: 500, timeout_ms: 250, rise: 4, fall: 5}\n"
	"handoff: {mss: 1360, wscale: 9, request_limit: 8192, request_timeout_ms: 3000}\n"
	"metrics: {listen: \"[::1]:9181\"}\n"
	"cookie: {key_file: /run/lb/cookie.key, period_s: 32, windows: 3}\n"
	"limits: {flows: 4096}\n"
	"peers: [198.51.100.3, \"198.51.100.4:7481\"]\n"
	"peer_port: 7490\n";

static int parse(const char *yaml, struct lb_config *cfg, char *err, size_t errlen)
{
	return lb_config_parse("t.yaml", yaml, strlen(yaml), cfg, err, errlen);
}

static void expect_ok(const char *yaml, struct lb_config *cfg)
{
	char err[LB_ERR_MAX];

	ck_assert_msg(parse(yaml, cfg, err, sizeof(err)) == 0, "parse failed: %s", err);
}

static const char *ip(struct in_addr a, char *buf)
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

START_TEST(test_example_values)
{
	struct lb_config cfg;
	char a[INET_ADDRSTRLEN];
	const uint8_t mac[6] = { 0x02, 0, 0, 0, 0, 0x1a };

	expect_ok(example, &cfg);
	ck_assert_str_eq(cfg.path, "t.yaml");
	ck_assert_str_eq(cfg.interface, "eth0");

	ck_assert_uint_eq(cfg.n_vips, 2);
	ck_assert_str_eq(ip(cfg.vips[0].address, a), "192.0.2.80");
	ck_assert_uint_eq(cfg.vips[0].port, 80);
	ck_assert_int_eq(cfg.vips[0].mode, LB_VIP_HTTP);
	ck_assert_int_eq(cfg.vips[0].line, 4);
	ck_assert_str_eq(ip(cfg.vips[1].address, a), "192.0.2.81");
	ck_assert_uint_eq(cfg.vips[1].port, 8080);
	ck_assert_int_eq(cfg.vips[1].mode, LB_VIP_HTTP);
	ck_assert_int_eq(cfg.vips[1].line, 7);

	ck_assert_uint_eq(cfg.n_backends, 3);
	ck_assert_str_eq(cfg.backends[0].name, "web1");
	ck_assert_str_eq(ip(cfg.backends[0].address, a), "198.51.100.11");
	ck_assert_uint_eq(cfg.backends[0].weight, 1);
	ck_assert_int_eq(cfg.backends[0].handoff, LB_HANDOFF_COOKIE);
	ck_assert_int_eq(cfg.backends[0].state, LB_BACKEND_UP);
	ck_assert(!cfg.backends[0].mac_given);
	ck_assert_int_eq(cfg.backends[0].line, 9);
	ck_assert_str_eq(cfg.backends[1].name, "web2");
	ck_assert_uint_eq(cfg.backends[1].weight, 300);
	ck_assert_int_eq(cfg.backends[1].handoff, LB_HANDOFF_REPLAY);
	ck_assert(cfg.backends[1].mac_given);
	ck_assert_mem_eq(cfg.backends[1].mac, mac, 6);
	ck_assert_int_eq(cfg.backends[1].line, 10);
	ck_assert_int_eq(cfg.backends[2].state, LB_BACKEND_DRAINING);
	ck_assert_int_eq(cfg.backends[2].handoff, LB_HANDOFF_COOKIE);

	ck_assert_uint_eq(cfg.n_routes, 5);
	ck_assert_str_eq(cfg.routes[0].name, "route0");
	ck_assert_str_eq(cfg.routes[0].host, "*");
	ck_assert_str_eq(cfg.routes[0].prefix, "/images/");
	ck_assert_ptr_null(cfg.routes[0].path);
	ck_assert_uint_eq(cfg.routes[0].n_backends, 2);
	ck_assert_uint_eq(cfg.routes[0].backends[0], 0);
	ck_assert_uint_eq(cfg.routes[0].backends[1], 1);
	ck_assert_int_eq(cfg.routes[0].line, 14);
	ck_assert_str_eq(cfg.routes[1].path, "/report.pdf");
	ck_assert_ptr_null(cfg.routes[1].prefix);
	ck_assert_uint_eq(cfg.routes[1].n_backends, 1);
	ck_assert_uint_eq(cfg.routes[1].backends[0], 2);
	ck_assert_str_eq(cfg.routes[2].name, "everything");
	ck_assert_uint_eq(cfg.routes[2].n_backends, 3);
	/* Hosts are stored lower case; paths percent-decoded like requests. */
	ck_assert_str_eq(cfg.routes[3].host, "static.example.com");
	ck_assert_str_eq(cfg.routes[3].prefix, "/a b/");
	ck_assert_str_eq(cfg.routes[4].host, "*.example.com");
	ck_assert_uint_eq(cfg.routes[4].backends[0], 2);
	ck_assert_uint_eq(cfg.routes[4].backends[1], 0);
	ck_assert_int_eq(cfg.routes[4].line, 18);

	ck_assert_str_eq(cfg.health.path, "/healthz");
	ck_assert_uint_eq(cfg.health.interval_ms, 500);
	ck_assert_uint_eq(cfg.health.timeout_ms, 250);
	ck_assert_uint_eq(cfg.health.rise, 4);
	ck_assert_uint_eq(cfg.health.fall, 5);
	ck_assert_uint_eq(cfg.handoff.mss, 1360);
	ck_assert_uint_eq(cfg.handoff.wscale, 9);
	ck_assert_uint_eq(cfg.handoff.request_limit, 8192);
	ck_assert_uint_eq(cfg.handoff.request_timeout_ms, 3000);
	ck_assert_uint_eq(cfg.limits.flows, 4096);
	ck_assert_uint_eq(cfg.n_peers, 2);
	ck_assert_str_eq(ip(cfg.peers[0].addr, a), "198.51.100.3");
	ck_assert_uint_eq(cfg.peers[0].port, 0);
	ck_assert_str_eq(ip(cfg.peers[1].addr, a), "198.51.100.4");
	ck_assert_uint_eq(cfg.peers[1].port, 7481);
	ck_assert_uint_eq(cfg.peer_port, 7490);
	ck_assert_str_eq(cfg.metrics.listen, "[::1]:9181");
	ck_assert_str_eq(cfg.cookie.key_file, "/run/lb/cookie.key");
	ck_assert_uint_eq(cfg.cookie.period_s, 32);
	ck_assert_uint_eq(cfg.cookie.windows, 3);

	ck_assert_int_eq(lb_config_backend_index(&cfg, "web3"), 2);
	ck_assert_int_eq(lb_config_backend_index(&cfg, "web1"), 0);
	ck_assert_int_eq(lb_config_backend_index(&cfg, "nope"), -1);
	lb_config_free(&cfg);
}
END_TEST

#define IFACE	 "interface: eth0\n"
#define VIPS	 "vips: [{address: 192.0.2.80, port: 80}]\n"
#define BACKENDS "backends: [{name: web1, address: 198.51.100.11}, {name: web2, address: 198.51.100.12}]\n"
#define ROUTES	 "routes: [{prefix: /, backends: [web1]}]\n"
/* Lines 1-4; a row's own text starts on line 5. */
#define BASE	 IFACE VIPS BACKENDS ROUTES
/* One-line sections with something added, on line 2, 3 or 4. */
#define VIP(x)	 "vips: [{address: 192.0.2.80, port: 80" x "}]\n"
#define BE(x)	 "backends: [{name: web1, address: 198.51.100.11" x "}, {name: web2, address: 198.51.100.12}]\n"
#define ROUTE(x) "routes: [{" x "}]\n"

/* The health check's passing statuses and a backend's own check path. */
START_TEST(test_health_overrides)
{
	static const char text[] = IFACE VIPS
		"backends: [{name: web1, address: 198.51.100.11, health_path: /up}, "
		"{name: web2, address: 198.51.100.12}]\n" ROUTES
		"health: {path: /h, status_min: 200, status_max: 204}\n";
	struct lb_config cfg;
	char err[LB_ERR_MAX];

	ck_assert_msg(lb_config_parse("t.yaml", text, strlen(text), &cfg, err, sizeof(err)) == 0,
		      "%s", err);
	ck_assert_uint_eq(cfg.health.status_min, 200);
	ck_assert_uint_eq(cfg.health.status_max, 204);
	ck_assert_str_eq(cfg.health.path, "/h");
	ck_assert_str_eq(cfg.backends[0].health_path, "/up");
	ck_assert_str_eq(cfg.backends[1].health_path, "");
	lb_config_free(&cfg);
}
END_TEST

/* A backend's interface: the main one's name is the default written out. */
START_TEST(test_backend_interface)
{
	static const char text[] = VIPS
		"backends: [{name: web1, address: 198.51.100.11, interface: eth1}, "
		"{name: web2, address: 198.51.100.12, interface: eth0}, "
		"{name: web3, address: 198.51.100.13, interface: eth1},"
		"{name: web4, address: 198.51.100.14}]\n" ROUTES
		"interface: eth0\n"; /* after the list: checked once the file is read */
	struct lb_config cfg;

	expect_ok(text, &cfg);
	ck_assert_str_eq(cfg.backends[0].interface, "eth1");
	ck_assert_int_eq(cfg.backends[0].interface_line, 2);
	ck_assert_str_eq(cfg.backends[1].interface, "");
	ck_assert_str_eq(cfg.backends[2].interface, "eth1");
	ck_assert_str_eq(cfg.backends[3].interface, "");
	lb_config_free(&cfg);
}
END_TEST

/*
 * Into a network namespace of our own (the test's child process only) whose
 * loopback has @addr: an address of this host that is not 127/8, whatever the
 * machine's own interfaces are.
 */
static void own_address_in_private_netns(const char *addr)
{
	struct ifreq ifr = {};
	struct sockaddr_in *sin = (struct sockaddr_in *)&ifr.ifr_addr;
	int fd;

	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	strcpy(ifr.ifr_name, "lo");
	sin->sin_family = AF_INET;
	ck_assert_int_eq(inet_pton(AF_INET, addr, &sin->sin_addr), 1);
	ck_assert_msg(ioctl(fd, SIOCSIFADDR, &ifr) == 0, "address on lo: %s", strerror(errno));
	ck_assert_int_eq(ioctl(fd, SIOCGIFFLAGS, &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(ioctl(fd, SIOCSIFFLAGS, &ifr), 0);
	close(fd);
}

/* `local: true` on a backend whose address is this host's. */
START_TEST(test_backend_local)
{
	char text[1024];
	struct lb_config cfg;

	own_address_in_private_netns("192.0.2.99");
	snprintf(text, sizeof(text), IFACE VIPS
		 "backends: [{name: web1, address: 198.51.100.11}, "
		 "{name: self, address: 192.0.2.99, local: true, weight: 2}, "
		 "{name: web2, address: 198.51.100.12, local: false}]\n" ROUTES);
	expect_ok(text, &cfg);
	ck_assert(!cfg.backends[0].local);
	ck_assert(cfg.backends[1].local);
	ck_assert_int_eq(cfg.backends[1].handoff, LB_HANDOFF_COOKIE);
	ck_assert(!cfg.backends[1].mac_given);
	ck_assert_str_eq(cfg.backends[1].interface, "");
	ck_assert(!cfg.backends[2].local);
	lb_config_free(&cfg);
}
END_TEST

START_TEST(test_defaults)
{
	struct lb_config cfg;

	expect_ok(BASE, &cfg);
	ck_assert_int_eq(cfg.vips[0].mode, LB_VIP_HTTP);
	ck_assert_uint_eq(cfg.backends[0].weight, 1);
	ck_assert_int_eq(cfg.backends[0].handoff, LB_HANDOFF_COOKIE);
	ck_assert_int_eq(cfg.backends[0].state, LB_BACKEND_UP);
	ck_assert(!cfg.backends[0].mac_given);
	ck_assert_str_eq(cfg.routes[0].name, "route0");
	ck_assert_str_eq(cfg.routes[0].host, "*");
	ck_assert_str_eq(cfg.health.path, "/");
	ck_assert_uint_eq(cfg.health.interval_ms, 1000);
	ck_assert_uint_eq(cfg.health.timeout_ms, 1000);
	ck_assert_uint_eq(cfg.health.rise, 2);
	ck_assert_uint_eq(cfg.health.fall, 3);
	ck_assert_uint_eq(cfg.health.status_min, 200);
	ck_assert_uint_eq(cfg.health.status_max, 399);
	ck_assert_str_eq(cfg.backends[0].health_path, "");
	ck_assert_uint_eq(cfg.handoff.mss, 1400);
	ck_assert_uint_eq(cfg.handoff.wscale, 7);
	ck_assert_uint_eq(cfg.handoff.request_limit, 16384);
	ck_assert_uint_eq(cfg.handoff.request_timeout_ms, 10000);
	ck_assert_str_eq(cfg.metrics.listen, "127.0.0.1:9180");
	ck_assert_uint_eq(cfg.metrics.top_routes, LB_ROUTE_TOP_DEFAULT);
	ck_assert_str_eq(cfg.cookie.key_file, "/etc/latebind/cookie.key");
	ck_assert_uint_eq(cfg.cookie.period_s, 64);
	ck_assert_uint_eq(cfg.cookie.windows, 2);
	ck_assert_uint_eq(cfg.limits.flows, LB_MAX_FLOWS);
	ck_assert_uint_eq(cfg.n_peers, 0);
	ck_assert_uint_eq(cfg.peer_port, 7480);
	lb_config_free(&cfg);

	/* Sections given empty keep their defaults; an empty listen disables metrics. */
	expect_ok(BASE "health:\nhandoff: {}\nmetrics: {listen: \"\"}\ncookie: ~\n", &cfg);
	ck_assert_uint_eq(cfg.health.rise, 2);
	ck_assert_uint_eq(cfg.handoff.mss, 1400);
	ck_assert_str_eq(cfg.metrics.listen, "");
	ck_assert_uint_eq(cfg.cookie.windows, 2);
	lb_config_free(&cfg);
}
END_TEST

/* Routes may come before the backends they name. */
#define ROUTES_FIRST "routes: [{prefix: /, backends: [web2, web1]}]\n" BACKENDS VIPS IFACE

/* Valid configs near the edges of what is refused below. */
static const char *const good[] = {
	BASE "handoff: {mss: 536, wscale: 0}\ncookie: {windows: 1, period_s: 1}\n",
	BASE "handoff: {mss: 9000, wscale: 14}\ncookie: {windows: 4}\n",
	BASE "limits: {flows: 16}\n",
	BASE "limits: {flows: 16777216}\n",
	BASE "limits: {}\n",
	BASE "peers: []\npeer_port: 1\n",
	BASE "peers: [198.51.100.1, 198.51.100.1:7481, 2.2.2.2, 3.3.3.3, 4.4.4.4, 5.5.5.5, 6.6.6.6, "
	     "7.7.7.7]\npeer_port: 65535\n",
	IFACE VIP(", mode: http") BE(", weight: 65535, mac: \"aa:bb:cc:dd:ee:f0\"") ROUTES,
	/* Same address, other port; same prefix, other host; path and prefix alike. */
	IFACE "vips: [{address: 192.0.2.80, port: 80}, {address: 192.0.2.80, port: 443}]\n" BACKENDS
	      "routes: [{prefix: /a, backends: [web1]}, {host: a.example, prefix: /a, backends: [web1]},"
	      " {path: /a, backends: [web2]}]\n",
	ROUTES_FIRST,
	/* Quoted numbers, a 15-character interface, a document marker. */
	"---\ninterface: abcdefghijklmno\nvips: [{address: 192.0.2.80, port: \"8080\"}]\n" BACKENDS ROUTES
	"...\n",
	BASE "metrics: {listen: 0.0.0.0:1}\n",
	BASE "metrics: {listen: }\n",
	BASE "metrics: {top_routes: 1}\n",
	BASE "metrics: {listen: \"\", top_routes: 1024}\n",
	BASE "health: {path: \"/h?full=1\"}\n",
	/* Replay mode behind the main interface, named. */
	IFACE VIPS BE(", handoff: replay, interface: eth0") ROUTES,
	/* The directory's rule: a prefix's last segment may start a name like ".well-known". */
	IFACE VIPS BACKENDS ROUTE("prefix: /., backends: [web1]"),
	IFACE VIPS BACKENDS ROUTE("prefix: /a/%2e%2e, backends: [web1]"),
};

START_TEST(test_good_variants)
{
	struct lb_config cfg;

	expect_ok(good[_i], &cfg);
	lb_config_free(&cfg);
}
END_TEST

START_TEST(test_routes_before_backends)
{
	struct lb_config cfg;

	expect_ok(ROUTES_FIRST, &cfg);
	ck_assert_uint_eq(cfg.routes[0].n_backends, 2);
	ck_assert_uint_eq(cfg.routes[0].backends[0], 1);
	ck_assert_uint_eq(cfg.routes[0].backends[1], 0);
	lb_config_free(&cfg);
}
END_TEST

struct bad {
	const char *yaml;
	int line;	 /* the line the error must name */
	const char *key; /* exactly what must follow "t.yaml:LINE: " */
	const char *msg; /* a substring of what follows "KEY: " */
};

static const struct bad bad[] = {
	/* Numbers. */
	{ IFACE VIPS
	  "backends:\n"
	  "  - name: web1\n"
	  "    address: 198.51.100.11\n"
	  "  - name: web2\n"
	  "    address: 198.51.100.12\n"
	  "    weight: heavy\n" ROUTES,
	  8, "backends[1].weight", "\"heavy\" is not a number; expected an integer 1..65535" },
	{ IFACE VIPS BE(", weight: 0") ROUTES, 3, "backends[0].weight", "0 is out of range; expected an integer 1..65535" },
	{ IFACE VIPS BE(", weight: 65536") ROUTES, 3, "backends[0].weight", "65536 is out of range" },
	{ IFACE VIPS BE(", weight: -1") ROUTES, 3, "backends[0].weight", "-1 is out of range" },
	{ IFACE VIPS BE(", weight: 1.5") ROUTES, 3, "backends[0].weight", "\"1.5\" is not a decimal integer" },
	{ IFACE VIPS BE(", weight: 010") ROUTES, 3, "backends[0].weight", "leading zero" },
	{ IFACE VIPS BE(", weight: 0x10") ROUTES, 3, "backends[0].weight", "\"0x10\" is not a decimal integer" },
	{ IFACE VIPS BE(", weight: [1]") ROUTES, 3, "backends[0].weight", "is a list; expected an integer" },
	{ IFACE "vips: [{address: 192.0.2.80, port: 99999999999999999999999999999999999999}]\n" BACKENDS ROUTES,
	  2, "vips[0].port",
	  "99999999999999999999999999999999999999 is out of range; expected an integer 1..65535" },
	{ IFACE "vips: [{address: 192.0.2.80, port: 0}]\n" BACKENDS ROUTES, 2, "vips[0].port", "0 is out of range" },
	{ BASE "handoff: {mss: 535}\n", 5, "handoff.mss", "expected an integer 536..9000" },
	{ BASE "handoff: {mss: 9001}\n", 5, "handoff.mss", "9001 is out of range" },
	{ BASE "handoff: {wscale: 15}\n", 5, "handoff.wscale", "expected an integer 0..14" },
	{ BASE "handoff: {request_limit: 0}\n", 5, "handoff.request_limit", "out of range" },
	{ BASE "cookie: {windows: 0}\n", 5, "cookie.windows", "expected an integer 1..4" },
	{ BASE "limits: {flows: 15}\n", 5, "limits.flows", "15 is out of range; expected an integer 16..16777216" },
	{ BASE "limits: {flows: 16777217}\n", 5, "limits.flows", "out of range" },
	{ BASE "limits: {flows: lots}\n", 5, "limits.flows", "\"lots\" is not a number" },
	{ BASE "limits: {flow: 64}\n", 5, "limits.flow", "unknown key; did you mean 'flows'?" },
	{ BASE "limits: 64\n", 5, "limits", "expected a mapping" },
	{ BASE "peers: 198.51.100.3\n", 5, "peers", "expected a list of the other balancers' addresses" },
	{ BASE "peers: [198.51.100.3, 198.51.100.3]\n", 5, "peers[1]", "listed twice (first as peers[0])" },
	{ BASE "peers: [1.1.1.1, 2.2.2.2, 3.3.3.3, 4.4.4.4, 5.5.5.5, 6.6.6.6, 7.7.7.7, 8.8.8.8, 9.9.9.9]\n",
	  5, "peers", "has 9 entries; expected at most 8" },
	{ BASE "peers: [198.51.100.3:0]\n", 5, "peers[0]", "has no valid port" },
	{ BASE "peers: [198.51.100.3:65536]\n", 5, "peers[0]", "has no valid port" },
	{ BASE "peers: [\"198.51.100.3:\"]\n", 5, "peers[0]", "has no valid port" },
	{ BASE "peers: [web2]\n", 5, "peers[0]", "is not an IPv4 address" },
	{ BASE "peers: [127.0.0.1]\n", 5, "peers[0]", "a loopback address" },
	{ BASE "peers: [{address: 198.51.100.3}]\n", 5, "peers[0]", "expected an IPv4 address" },
	{ BASE "peer_port: 0\n", 5, "peer_port", "out of range" },
	{ BASE "cookie: {windows: 5}\n", 5, "cookie.windows", "5 is out of range" },
	{ BASE "cookie: {period_s: 0}\n", 5, "cookie.period_s", "0 is out of range" },
	{ BASE "cookie: {key_file: \"\"}\n", 5, "cookie.key_file", "is empty" },
	{ BASE "health: {rise: 0}\n", 5, "health.rise", "0 is out of range" },
	{ BASE "health: {fall: many}\n", 5, "health.fall", "\"many\" is not a number" },
	{ BASE "health: {path: health}\n", 5, "health.path", "is not a request path" },
	{ BASE "health: {path: \"/a b\"}\n", 5, "health.path", "is not a request path" },
	{ BASE "health: {status_min: 99}\n", 5, "health.status_min", "out of range" },
	{ BASE "health: {status_min: 300, status_max: 299}\n", 5, "health.status_min",
	  "expected status_min <= status_max" },
	{ BASE "metrics: {listen: \"localhost:9180\"}\n", 5, "metrics.listen", "is not an address:port" },
	{ BASE "metrics: {top_routes: 0}\n", 5, "metrics.top_routes", "0 is out of range" },
	{ BASE "metrics: {top_routes: 1025}\n", 5, "metrics.top_routes", "out of range" },
	{ BASE "metrics: {top_routes: many}\n", 5, "metrics.top_routes", "is not a number" },
	/* The interface a backend sits behind. */
	{ IFACE VIPS BE(", interface: \"eth 1\"") ROUTES, 3, "backends[0].interface",
	  "is not a valid interface name; expected a network interface name like eth0" },
	{ IFACE VIPS BE(", interface: abcdefghijklmnop") ROUTES, 3, "backends[0].interface",
	  "has 16 characters; expected 1..15" },
	{ IFACE VIPS BE(", interface: [eth1]") ROUTES, 3, "backends[0].interface", "is a list" },
	{ IFACE VIPS
	  "backends:\n"
	  "  - {name: web1, address: 198.51.100.11}\n"
	  "  - name: web2\n"
	  "    address: 198.51.100.12\n"
	  "    handoff: replay\n"
	  "    interface: eth1\n" ROUTES,
	  8, "backends[1].interface", "a replay-mode backend behind eth1: its SYN/ACK must reach "
	  "the dispatcher on eth0; expected handoff: cookie, or the backend behind eth0" },
	{ BASE "metrics: {listen: \"127.0.0.1:99999\"}\n", 5, "metrics.listen", "is not an address:port" },
	/* The balancer itself as a backend (198.51.100.11 is no address of the test host). */
	{ IFACE VIPS BE(", local: true") ROUTES, 3, "backends[0].local",
	  "198.51.100.11 is not an address of this host; expected local: true only on the backend "
	  "whose address: is one of the balancer's own" },
	{ IFACE VIPS BE(", local: yes") ROUTES, 3, "backends[0].local", "expected local: true or local: false" },
	{ IFACE VIPS BE(", local: true, mac: \"02:00:00:00:00:11\"") ROUTES, 3, "backends[0].mac",
	  "a local backend is reached through lo, not by a MAC" },
	{ IFACE VIPS BE(", local: true, interface: eth1") ROUTES, 3, "backends[0].interface",
	  "a local backend is reached through lo, not behind an interface" },
	{ IFACE VIPS BE(", local: true, handoff: replay") ROUTES, 3, "backends[0].handoff",
	  "a local backend takes hand-offs in cookie mode" },

	/* Addresses, names, enums. */
	{ IFACE "vips: [{address: 300.1.1.1, port: 80}]\n" BACKENDS ROUTES, 2, "vips[0].address",
	  "\"300.1.1.1\" is not an IPv4 address" },
	{ IFACE "vips: [{address: 127.0.0.1, port: 80}]\n" BACKENDS ROUTES, 2, "vips[0].address", "loopback" },
	{ IFACE "vips: [{address: 224.0.0.1, port: 80}]\n" BACKENDS ROUTES, 2, "vips[0].address", "multicast" },
	{ IFACE "vips: [{address: 0.0.0.0, port: 80}]\n" BACKENDS ROUTES, 2, "vips[0].address", "0.0.0.0/8" },
	{ IFACE VIP(", mode: udp") BACKENDS ROUTES, 2, "vips[0].mode", "\"udp\" is not a VIP mode; expected http" },
	{ IFACE VIP(", mode: tcp") BACKENDS ROUTES, 2, "vips[0].mode",
	  "tcp (binding on the handshake) is not built in this version; expected http" },
	{ IFACE VIPS BE(", handoff: magic") ROUTES, 3, "backends[0].handoff", "expected cookie or replay" },
	{ IFACE VIPS BE(", state: down") ROUTES, 3, "backends[0].state", "health checks only; expected up or draining" },
	{ IFACE VIPS BE(", state: sleeping") ROUTES, 3, "backends[0].state", "expected up or draining" },
	{ IFACE VIPS BE(", mac: \"02:00:00:00:00\"") ROUTES, 3, "backends[0].mac", "is not a unicast MAC" },
	{ IFACE VIPS BE(", mac: \"01:00:5e:00:00:01\"") ROUTES, 3, "backends[0].mac", "is not a unicast MAC" },
	{ IFACE VIPS "backends: [{name: \"web 1\", address: 198.51.100.11}]\n" ROUTES, 3, "backends[0].name",
	  "is not a valid name" },
	{ "interface: abcdefghijklmnop\n" VIPS BACKENDS ROUTES, 1, "interface", "has 16 characters; expected 1..15" },
	{ "interface: eth/0\n" VIPS BACKENDS ROUTES, 1, "interface", "is not a valid interface name" },
	{ "interface: [eth0]\n" VIPS BACKENDS ROUTES, 1, "interface", "is a list; expected a network interface name" },

	/* Duplicates. */
	{ IFACE "vips:\n  - {address: 192.0.2.80, port: 80}\n  - {address: 192.0.2.80, port: 80}\n" BACKENDS ROUTES, 4,
	  "vips[1]", "192.0.2.80:80 is already vips[0] (line 3)" },
	{ IFACE VIPS "backends:\n  - {name: web1, address: 198.51.100.11}\n  - {name: web1, address: 198.51.100.12}\n" ROUTES,
	  5, "backends[1].name", "\"web1\" is already backends[0] (line 4)" },
	{ IFACE VIPS "backends:\n  - {name: web1, address: 198.51.100.11}\n  - {name: web2, address: 198.51.100.11}\n" ROUTES,
	  5, "backends[1].address", "already the address of web1" },
	{ IFACE VIPS BACKENDS "routes:\n  - {prefix: /a, backends: [web1]}\n  - {prefix: /b, backends: [web1]}\n"
	  "  - {host: \"*\", prefix: /a, backends: [web2]}\n",
	  7, "routes[2].prefix", "already routes[0] (line 5)" },
	/* Hosts compare as the directory keys them: canonical, lower case. */
	{ IFACE VIPS BACKENDS "routes:\n  - {host: \"*.A.example\", path: /a, backends: [web1]}\n"
	  "  - {host: \"*.a.EXAMPLE.\", path: /a, backends: [web2]}\n",
	  6, "routes[1].path", "host *.a.example and path /a are already routes[0] (line 5)" },
	/* The first route in the file that repeats another is the one named. */
	{ IFACE VIPS BACKENDS "routes:\n  - {path: /b, backends: [web1]}\n  - {path: /a, backends: [web1]}\n"
	  "  - {path: /a, backends: [web1]}\n  - {path: /b, backends: [web1]}\n",
	  7, "routes[2].path", "already routes[1] (line 6)" },
	{ IFACE VIPS BACKENDS "routes:\n  - {name: x, prefix: /a, backends: [web1]}\n  - {name: x, prefix: /b, backends: [web1]}\n",
	  6, "routes[1].name", "\"x\" is also the name of routes[0] (line 5)" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /, backends: [web1, web2, web1]"), 4, "routes[0].backends[2]", "listed twice" },
	{ "interface: eth0\n" VIPS "interface: eth1\n" BACKENDS ROUTES, 3, "interface", "given twice (first at line 1)" },
	{ BASE "health:\n  rise: 2\n  fall: 3\n  rise: 4\n", 8, "health.rise", "given twice (first at line 6)" },

	/* Routes. */
	{ IFACE VIPS BACKENDS ROUTE("prefix: /, backends: [web1, web9]"), 4, "routes[0].backends[1]",
	  "unknown backend \"web9\"; expected one of web1, web2" },
	/* The line of the name itself, also when routes come before backends. */
	{ IFACE VIPS BACKENDS "routes:\n  - prefix: /\n    backends:\n      - web1\n      - web9\n", 8,
	  "routes[0].backends[1]", "unknown backend \"web9\"" },
	{ IFACE VIPS "routes:\n  - prefix: /\n    backends:\n      - web1\n      - web9\n" BACKENDS, 7,
	  "routes[0].backends[1]", "unknown backend \"web9\"; expected one of web1, web2" },
	{ IFACE VIPS BACKENDS ROUTE("path: /a, prefix: /b, backends: [web1]"), 4, "routes[0]", "both path and prefix" },
	{ IFACE VIPS BACKENDS "routes:\n  - host: \"*\"\n    backends: [web1]\n", 5, "routes[0].prefix",
	  "missing; expected exactly one of path" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: images/, backends: [web1]"), 4, "routes[0].prefix", "does not start with '/'" },
	{ IFACE VIPS BACKENDS ROUTE("path: \"/search?q=1\", backends: [web1]"), 4, "routes[0].path", "query" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /a%zz, backends: [web1]"), 4, "routes[0].prefix", "bad percent escape" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /a%00, backends: [web1]"), 4, "routes[0].prefix", "control character" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /a/../b, backends: [web1]"), 4, "routes[0].prefix", "'..' segment" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /a//b, backends: [web1]"), 4, "routes[0].prefix", "empty segment" },
	{ IFACE VIPS BACKENDS ROUTE("path: /a%2F/b, backends: [web1]"), 4, "routes[0].path", "empty segment" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /a/%2e%2e/b, backends: [web1]"), 4, "routes[0].prefix", "'..' segment" },
	{ IFACE VIPS BACKENDS ROUTE("path: /a/., backends: [web1]"), 4, "routes[0].path", "'.' or '..' segment" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /a%2F%2Fb, backends: [web1]"), 4, "routes[0].prefix",
	  "empty segment (\"//\"), which requests never have after normalisation (after percent-decoding)" },
	{ IFACE VIPS BACKENDS ROUTE("host: \"exa mple.com\", prefix: /, backends: [web1]"), 4, "routes[0].host",
	  "is not a valid host (invalid character in host); expected \"*\", a hostname" },
	{ IFACE VIPS BACKENDS ROUTE("host: \"*.\", prefix: /, backends: [web1]"), 4, "routes[0].host", "is not a valid host" },
	{ IFACE VIPS BACKENDS ROUTE("host: a..b, prefix: /, backends: [web1]"), 4, "routes[0].host", "is not a valid host" },
	{ IFACE VIPS BACKENDS ROUTE("host: \"example.com:80\", prefix: /, backends: [web1]"), 4, "routes[0].host",
	  "is not a valid host (a host takes no port here)" },
	{ IFACE VIPS BACKENDS ROUTE("host: \"[2001:db8::1\", prefix: /, backends: [web1]"), 4, "routes[0].host",
	  "is not a valid host (invalid IP-literal host)" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /, backends: []"), 4, "routes[0].backends", "is an empty list" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /, backends: web1"), 4, "routes[0].backends",
	  "is a string; expected a list of backend names" },
	{ IFACE VIPS BACKENDS ROUTE("prefix: /"), 4, "routes[0].backends", "missing" },

	/* Unknown keys, with and without a likely meaning. */
	{ BASE "health: {intreval_ms: 1000}\n", 5, "health.intreval_ms", "unknown key; did you mean 'interval_ms'?" },
	{ BASE "health: {interval: 1000}\n", 5, "health.interval", "did you mean 'interval_ms'?" },
	{ BASE "cookie:\n  period: 64\n", 6, "cookie.period", "did you mean 'period_s'?" },
	{ IFACE VIP(", Port: 80") BACKENDS ROUTES, 2, "vips[0].Port", "did you mean 'port'?" },
	{ IFACE VIPS BACKENDS "route: []\n", 4, "route", "did you mean 'routes'?" },
	{ BASE "zork: 1\n", 5, "zork", "unknown key; expected one of interface, vips, backends, routes" },
	{ BASE "health: {zork: 1}\n", 5, "health.zork", "expected one of path, interval_ms, timeout_ms, rise, fall, status_min, status_max" },
	{ BASE "handoff: {<<: {mss: 1400}}\n", 5, "handoff.<<", "merge keys are not supported" },

	/* Missing and wrongly shaped sections: missing keys name the enclosing mapping. */
	{ "# a comment\n\n" VIPS BACKENDS ROUTES, 3, "interface", "missing; expected the interface" },
	{ IFACE BACKENDS ROUTES, 1, "vips", "missing" },
	{ IFACE VIPS ROUTES, 1, "backends", "missing" },
	{ IFACE VIPS BACKENDS, 1, "routes", "missing" },
	{ IFACE "vips:\n  - address: 192.0.2.80\n    mode: http\n" BACKENDS ROUTES, 3, "vips[0].port",
	  "missing; expected the VIP's TCP port" },
	{ IFACE VIPS "backends:\n  - name: web1\n" ROUTES, 4, "backends[0].address", "missing" },
	{ IFACE VIPS "backends: [{address: 198.51.100.11}]\n" ROUTES, 3, "backends[0].name", "missing" },
	{ IFACE "vips: []\n" BACKENDS ROUTES, 2, "vips", "is an empty list" },
	{ IFACE "vips:\n" BACKENDS ROUTES, 2, "vips", "is empty; expected a list" },
	{ IFACE "vips: {address: 192.0.2.80}\n" BACKENDS ROUTES, 2, "vips", "is a mapping; expected a list" },
	{ IFACE "vips: [192.0.2.80]\n" BACKENDS ROUTES, 2, "vips[0]", "is a string; expected a mapping" },
	{ BASE "health: [1]\n", 5, "health", "is a list; expected a mapping" },

	/* YAML syntax: libyaml's words, our line. */
	{ IFACE "vips:\n\t- {address: 192.0.2.80, port: 80}\n", 3, "YAML", "expected spaces for indentation, not tabs" },
	{ IFACE "vips: [{address: 192.0.2.80, port: 80}\n", 3, "YAML", "did not find expected ',' or ']'" },
	{ IFACE "vips: \"192.0.2.80\n", 3, "YAML", "end of stream" },
	/* A broken line is reported even after an earlier item is already wrong. */
	{ IFACE VIPS "backends:\n  - name: web1\n   address: 198.51.100.11\n" ROUTES, 5, "YAML", "expected '-' indicator" },
	{ "interface: eth0\nvips: \x01\n", 2, "YAML", "control characters are not allowed" },
	{ "interface: eth0\nvips: \xff\xfe\n", 2, "YAML", "expected UTF-8 text" },

	/* Hostile or odd documents. */
	{ "", 1, "config", "the file is empty" },
	{ "# nothing\n\n", 1, "config", "the file is empty" },
	{ "---\n...\n", 1, "config", "is empty; expected a mapping with interface" },
	{ "just words\n", 1, "config", "is a string; expected a mapping" },
	{ "- a\n- b\n", 1, "config", "is a list; expected a mapping" },
	{ BASE "---\n" BASE, 5, "config", "a second YAML document" },
	{ "? [a, b]\n: c\n", 1, "config", "has a key that is a list" },
	{ "interface: &a eth0\n", 1, "interface", "anchors (&a) are not supported" },
	{ IFACE "vips: &v [{address: 192.0.2.80, port: 80}]\n", 2, "vips", "anchors (&v) are not supported" },
	{ "interface: eth0\nvips:\n  - &v {address: 192.0.2.80, port: 80}\n  - *v\n", 3, "vips[0]", "anchors" },
	{ BASE "health: {path: *p}\n", 5, "health.path", "aliases (*p) are not supported" },
	/* The classic expansion bomb: refused at its first anchor. */
	{ BASE "health:\n  a: &a [x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
	       "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n",
	  6, "health.a", "anchors (&a) are not supported" },
	{ IFACE VIP(", port: !!int 80") BACKENDS ROUTES, 2, "vips[0].port", "tags (tag:yaml.org,2002:int) are not supported" },
	{ BASE "health: !include other.yaml\n", 5, "health", "tags (!include) are not supported" },
	{ IFACE VIPS "backends: [{name: \"we\\0b1\", address: 198.51.100.11}]\n" ROUTES, 3, "backends[0].name",
	  "contains a NUL character" },
	{ BASE "health: {path: {a: [{b: [{c: [{d: [{e: [{f: [[[[[x]]]]]}]}]}]}]}]}}\n", 5,
	  "health.path.a[0].b[0].c[0].d[0].e[0].f[0][0][0][0]", "nested more than 16 levels deep" },
};

/*
 * Every error: returns -1, leaves nothing behind, names FILE:LINE: KEY:, says
 * what is expected, and fits on one line.
 */
static void expect_bad(const struct bad *b, int _i)
{
	char err[LB_ERR_MAX], prefix[256];
	struct lb_config cfg;
	int ret;

	ret = lb_config_parse("t.yaml", b->yaml, strlen(b->yaml), &cfg, err, sizeof(err));
	ck_assert_msg(ret == -1, "row %d parsed: %s", _i, b->yaml);
	snprintf(prefix, sizeof(prefix), "t.yaml:%d: %s: ", b->line, b->key);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "row %d: want \"%s...\", got \"%s\"", _i,
		      prefix, err);
	ck_assert_msg(strstr(err + strlen(prefix), b->msg), "row %d: want \"%s\" in \"%s\"", _i, b->msg,
		      err);
	ck_assert_msg(strstr(err, "; ") && (strstr(err, "expected") || strstr(err, "did you mean")),
		      "row %d: says nothing about what to write: %s", _i, err);
	ck_assert_msg(!strchr(err, '\n'), "row %d: more than one line: %s", _i, err);
	/* A failed parse frees everything and leaves a config that is safe to free again. */
	ck_assert_ptr_null(cfg.vips);
	ck_assert_ptr_null(cfg.backends);
	ck_assert_ptr_null(cfg.routes);
	ck_assert_uint_eq(cfg.n_routes, 0);
	lb_config_free(&cfg);
}

START_TEST(test_errors)
{
	expect_bad(&bad[_i], _i);
}
END_TEST

/* announce: the table of the VIPs' routes and the grace after a stop's withdrawal. */
START_TEST(test_announce)
{
	struct lb_config cfg;

	expect_ok(BASE, &cfg);
	ck_assert_uint_eq(cfg.announce.table, 0); /* absent: nothing announced */
	ck_assert_uint_eq(cfg.announce.withdraw_grace_ms, 1000);
	lb_config_free(&cfg);
	expect_ok(BASE "announce:\n", &cfg);
	ck_assert_uint_eq(cfg.announce.table, 0);
	lb_config_free(&cfg);
	expect_ok(BASE "announce: {table: 200}\n", &cfg);
	ck_assert_uint_eq(cfg.announce.table, 200);
	ck_assert_uint_eq(cfg.announce.withdraw_grace_ms, 1000);
	lb_config_free(&cfg);
	expect_ok("announce:\n  withdraw_grace_ms: 0\n  table: \"4294967295\"\n" BASE, &cfg);
	ck_assert_uint_eq(cfg.announce.table, 4294967295u);
	ck_assert_uint_eq(cfg.announce.withdraw_grace_ms, 0);
	lb_config_free(&cfg);
	/* Next to the kernel's own tables, and the longest grace. */
	expect_ok(BASE "announce: {table: 252, withdraw_grace_ms: 60000}\n", &cfg);
	ck_assert_uint_eq(cfg.announce.table, 252);
	ck_assert_uint_eq(cfg.announce.withdraw_grace_ms, 60000);
	lb_config_free(&cfg);
	expect_ok(BASE "announce: {table: 256}\n", &cfg);
	ck_assert_uint_eq(cfg.announce.table, 256);
	lb_config_free(&cfg);
}
END_TEST

static const struct bad bad_announce[] = {
	{ BASE "announce: {table: 254}\n", 5, "announce.table", "254 is the kernel's main table; expected a routing table of latebind's own, like 200" },
	{ BASE "announce: {table: 253}\n", 5, "announce.table", "253 is the kernel's default table" },
	{ BASE "announce: {table: 255}\n", 5, "announce.table", "255 is the kernel's local table" },
	{ BASE "announce: {table: 0}\n", 5, "announce.table", "0 is no table" },
	{ BASE "announce: {table: main}\n", 5, "announce.table", "main is the kernel's main table (254); expected" },
	{ BASE "announce: {table: local}\n", 5, "announce.table", "(255)" },
	{ BASE "announce: {table: default}\n", 5, "announce.table", "(253)" },
	{ BASE "announce: {table: 4294967296}\n", 5, "announce.table", "out of range; expected an integer 0..4294967295" },
	{ BASE "announce: {table: -200}\n", 5, "announce.table", "out of range" },
	{ BASE "announce: {table: bgp}\n", 5, "announce.table", "\"bgp\" is not a number" },
	{ BASE "announce: {table: [200]}\n", 5, "announce.table", "is a list" },
	{ BASE "announce: {withdraw_grace_ms: 10}\n", 5, "announce.table", "missing; expected the routing table" },
	{ BASE "announce: {}\n", 5, "announce.table", "missing" },
	{ BASE "announce: {table: 200, withdraw_grace_ms: 60001}\n", 5, "announce.withdraw_grace_ms", "60001 is out of range; expected an integer 0..60000" },
	{ BASE "announce: {table: 200, grace_ms: 5}\n", 5, "announce.grace_ms", "unknown key" },
	{ BASE "announce: {tabel: 200}\n", 5, "announce.tabel", "did you mean 'table'?" },
	{ BASE "announce: 200\n", 5, "announce", "expected a mapping" },
	{ BASE "announce: {table: 200}\nannounce: {table: 201}\n", 6, "announce", "given twice (first at line 5)" },
	{ BASE "anounce: {table: 200}\n", 5, "anounce", "did you mean 'announce'?" },
};

START_TEST(test_announce_errors)
{
	expect_bad(&bad_announce[_i], _i);
}
END_TEST

/* dispatcher: the threads serving the AF_XDP sockets, and busy-polling. */
START_TEST(test_dispatcher)
{
	struct lb_config cfg;

	expect_ok(BASE, &cfg);
	/* Absent: the default (headers/defaults.h). */
	ck_assert_uint_eq(cfg.dispatcher.threads, LB_DEFAULT_DISPATCHER_THREADS);
	ck_assert(!cfg.dispatcher.busy_poll);
	lb_config_free(&cfg);
	expect_ok(BASE "dispatcher:\n", &cfg);
	ck_assert_uint_eq(cfg.dispatcher.threads, LB_DEFAULT_DISPATCHER_THREADS);
	lb_config_free(&cfg);
	expect_ok(BASE "dispatcher: {threads: 0}\n", &cfg);
	ck_assert_uint_eq(cfg.dispatcher.threads, 0); /* one per RX queue */
	lb_config_free(&cfg);
	expect_ok(BASE "dispatcher: {threads: 2}\n", &cfg);
	ck_assert_uint_eq(cfg.dispatcher.threads, 2);
	ck_assert(!cfg.dispatcher.busy_poll);
	lb_config_free(&cfg);
	expect_ok("dispatcher:\n  busy_poll: true\n  threads: 64\n" BASE, &cfg);
	ck_assert_uint_eq(cfg.dispatcher.threads, 64);
	ck_assert(cfg.dispatcher.busy_poll);
	lb_config_free(&cfg);
}
END_TEST

static const struct bad bad_dispatcher[] = {
	{ BASE "dispatcher: {threads: 65}\n", 5, "dispatcher.threads", "65 is out of range; expected an integer 0..64" },
	{ BASE "dispatcher: {threads: -1}\n", 5, "dispatcher.threads", "out of range" },
	{ BASE "dispatcher: {threads: two}\n", 5, "dispatcher.threads", "\"two\" is not a number" },
	{ BASE "dispatcher: {busy_poll: yes}\n", 5, "dispatcher.busy_poll", "is not true or false; expected busy_poll: true or busy_poll: false" },
	{ BASE "dispatcher: {thread: 2}\n", 5, "dispatcher.thread", "did you mean 'threads'?" },
	{ BASE "dispatcher: 2\n", 5, "dispatcher", "expected a mapping" },
	{ BASE "dispatcher: {threads: 1}\ndispatcher: {threads: 2}\n", 6, "dispatcher", "given twice (first at line 5)" },
};

START_TEST(test_dispatcher_errors)
{
	expect_bad(&bad_dispatcher[_i], _i);
}
END_TEST

static char *repeat(const char *head, const char *unit, size_t n, const char *tail)
{
	size_t hl = strlen(head), ul = strlen(unit), tl = strlen(tail), i;
	char *s = malloc(hl + ul * n + tl + 1), *o = s;

	ck_assert_ptr_nonnull(s);
	memcpy(o, head, hl);
	o += hl;
	for (i = 0; i < n; i++, o += ul)
		memcpy(o, unit, ul);
	memcpy(o, tail, tl + 1);
	return s;
}

static void expect_error(const char *yaml, size_t len, const char *prefix, const char *needle)
{
	char err[LB_ERR_MAX];
	struct lb_config cfg;

	ck_assert_int_eq(lb_config_parse("t.yaml", yaml, len, &cfg, err, sizeof(err)), -1);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "want \"%s...\", got \"%s\"", prefix, err);
	ck_assert_msg(strstr(err, needle), "want \"%s\" in \"%s\"", needle, err);
	ck_assert(!strchr(err, '\n'));
	ck_assert_uint_lt(strlen(err), LB_ERR_MAX);
	lb_config_free(&cfg);
}

/* Deep nesting must be refused quickly: libyaml slows down quadratically in it. */
START_TEST(test_deep_nesting)
{
	char *s = repeat(BASE "health: ", "[", 200000, "");

	expect_error(s, strlen(s), "t.yaml:5: health[0][0]", "nested more than 16 levels deep");
	free(s);
	s = repeat(BASE "cookie: ", "{a: ", 200000, "");
	expect_error(s, strlen(s), "t.yaml:5: cookie.a.a.a", "nested more than 16 levels deep");
	free(s);
	/* Under an unknown key the key is the error; its value is never read. */
	s = repeat(BASE "zork: ", "[", 200000, "");
	expect_error(s, strlen(s), "t.yaml:5: zork: ", "unknown key");
	free(s);
}
END_TEST

/* Long keys and values are cut in messages, which stay one line and in bounds. */
START_TEST(test_long_values)
{
	char *s;

	s = repeat(BASE "health: {", "x", 1000, ": 1}\n");
	expect_error(s, strlen(s), "t.yaml:5: health.xxxx", "...: unknown key; expected one of");
	free(s);
	s = repeat("interface: ", "e", 100000, "\n" VIPS BACKENDS ROUTES);
	expect_error(s, strlen(s), "t.yaml:1: interface: \"eeee", "...\" has 100000 characters");
	free(s);
	s = repeat(IFACE VIPS BACKENDS "routes: [{prefix: /, backends: [web1", ", web2", 1000, "]}]\n");
	expect_error(s, strlen(s), "t.yaml:4: routes[0].backends[2]: ", "listed twice");
	free(s);
	/* A newline in a quoted value does not break the message into two lines. */
	expect_error(IFACE VIPS BE(", handoff: \"a\\nb\"") ROUTES, strlen(IFACE VIPS BE(", handoff: \"a\\nb\"") ROUTES),
		     "t.yaml:3: backends[0].handoff: \"a\\x0ab\"", "is not a handoff mode");
}
END_TEST

/* The input is @len bytes, not a C string: nothing past it is read. */
START_TEST(test_length_is_honoured)
{
	const char text[] = BASE "health: {rise: 0}\n";
	struct lb_config cfg;
	char err[LB_ERR_MAX];

	ck_assert_int_eq(lb_config_parse("t.yaml", text, strlen(BASE), &cfg, err, sizeof(err)), 0);
	lb_config_free(&cfg);
	/* A NUL byte inside the length is input, and not valid YAML there. */
	expect_error(BASE "\0health: {}\n", sizeof(BASE "\0health: {}\n") - 1, "t.yaml:5: YAML: ",
		     "control characters are not allowed");
}
END_TEST

START_TEST(test_error_buffer)
{
	char small[24], err[LB_ERR_MAX];
	struct lb_config cfg;
	const char *bad_yaml = BASE "health: {rise: 0}\n";

	/* Truncated, terminated, never overrun. */
	memset(small, 'x', sizeof(small));
	ck_assert_int_eq(parse(bad_yaml, &cfg, small, sizeof(small)), -1);
	ck_assert_uint_eq(strlen(small), sizeof(small) - 1);
	ck_assert_str_eq(small, "t.yaml:5: health.rise: ");
	/* A file name with a newline still gives one line. */
	ck_assert_int_eq(lb_config_parse("a\nb.yaml", bad_yaml, strlen(bad_yaml), &cfg, err, sizeof(err)),
			 -1);
	ck_assert_str_eq(err, "a?b.yaml:5: health.rise: 0 is out of range; expected an integer 1..100");
	/* No buffer at all is allowed, e.g. from a fuzzer. */
	ck_assert_int_eq(parse(bad_yaml, &cfg, NULL, 0), -1);
	ck_assert_int_eq(lb_config_parse(NULL, NULL, 0, &cfg, NULL, 0), -1);
	lb_config_free(&cfg);
}
END_TEST

START_TEST(test_too_many)
{
	char *s, err[LB_ERR_MAX];
	struct lb_config cfg;
	size_t i, o;

	s = malloc(64 * 1024);
	ck_assert_ptr_nonnull(s);
	o = sprintf(s, IFACE "vips:\n");
	for (i = 0; i <= LB_MAX_VIPS; i++)
		o += sprintf(s + o, "  - {address: 192.0.2.%zu, port: 80}\n", i + 1);
	sprintf(s + o, BACKENDS ROUTES);
	ck_assert_int_eq(parse(s, &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:67: vips[64]: one VIP too many; expected at most 64");

	o = sprintf(s, IFACE VIPS "backends:\n");
	for (i = 0; i <= LB_MAX_BACKENDS; i++)
		o += sprintf(s + o, "  - {name: b%zu, address: 10.%zu.%zu.1}\n", i, i / 200, i % 200 + 1);
	sprintf(s + o, ROUTES);
	ck_assert_int_eq(parse(s, &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.yaml:260: backends[256]: one backend too many; expected at most 256");
	free(s);
}
END_TEST

/*
 * The route list is the content directory and may be long: 100000 routes in
 * well under Check's timeout, and the duplicate found at the end. A quadratic
 * duplicate check or name lookup would time out here.
 */
START_TEST(test_many_routes)
{
	const size_t n = 100000;
	char *s, err[LB_ERR_MAX], want[128];
	struct lb_config cfg;
	size_t i, o;

	s = malloc(n * 80 + 4096);
	ck_assert_ptr_nonnull(s);
	o = sprintf(s, IFACE VIPS BACKENDS "routes:\n");
	for (i = 0; i < n; i++)
		o += sprintf(s + o, "  - {path: /files/%zu.bin, backends: [web%zu]}\n", i, i % 2 + 1);
	ck_assert_int_eq(lb_config_parse("t.yaml", s, o, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.n_routes, n);
	ck_assert_str_eq(cfg.routes[n - 1].path, "/files/99999.bin");
	ck_assert_uint_eq(cfg.routes[n - 1].backends[0], 1);
	ck_assert_int_eq(cfg.routes[n - 1].line, (int)n + 4);
	lb_config_free(&cfg);

	sprintf(s + o, "  - {path: /files/12345.bin, backends: [web1]}\n");
	ck_assert_int_eq(parse(s, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "t.yaml:%zu: routes[%zu].path: host * and path /files/12345.bin are already routes[12345] (line 12350)",
		 n + 5, n);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "got %s", err);
	free(s);
}
END_TEST

/*
 * Every truncation of the example and every byte of it replaced by each of a
 * few YAML-significant characters: each parse succeeds or gives a one-line
 * "t.yaml:LINE: " error. Run under ASan or valgrind this also finds leaks.
 */
START_TEST(test_mutations)
{
	static const char subst[] = { '\0', ':', '[', '{', '-', '\t', '"', '&', '*', '!', '\n', '#', '%' };
	size_t len = strlen(example), i, j;
	char *s = malloc(len + 1), err[LB_ERR_MAX];
	struct lb_config cfg;
	int line, last = 2;

	/* libyaml may name the line after the last one (where the stream ends, past a final newline). */
	for (i = 0; i < len; i++)
		last += example[i] == '\n';

	ck_assert_ptr_nonnull(s);
	for (i = 0; i <= len; i++) {
		for (j = 0; j <= sizeof(subst); j++) {
			memcpy(s, example, len + 1);
			if (j < sizeof(subst) && i < len)
				s[i] = subst[j];
			if (lb_config_parse("t.yaml", s, j == sizeof(subst) ? i : len, &cfg, err,
					    sizeof(err))) {
				ck_assert_msg(sscanf(err, "t.yaml:%d: ", &line) == 1 && line >= 1 &&
						      line <= last,
					      "byte %zu: %s", i, err);
				ck_assert_msg(!strchr(err, '\n'), "byte %zu: %s", i, err);
			}
			lb_config_free(&cfg);
		}
	}
	free(s);
}
END_TEST

/*
 * The route rules are the directory's: whatever lb_route_path_problem says of
 * a path, the loader says too, and what it accepts builds a directory.
 */
START_TEST(test_route_rules_are_the_directorys)
{
	static const char *const paths[] = {
		"/",	 "/a",	   "/a/",     "/.",	 "/..",	    "/a/.",   "/a/..",
		"/a/./", "/a/../", "//",      "/a//b",	 "/.well",  "/..a",   "/a/.b/",
		"/a.",	 "/a/b/.", "/a/b/..", "/./a",	 "/../a",   "/a/...", "/...",
	};
	char yaml[512], err[LB_ERR_MAX];
	struct lb_config cfg;

	for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
		for (int prefix = 0; prefix < 2; prefix++) {
			const char *why = lb_route_path_problem(paths[i], strlen(paths[i]), prefix);
			struct lb_directory *d;
			int ret;

			snprintf(yaml, sizeof(yaml), IFACE VIPS BACKENDS ROUTE("%s: \"%s\", backends: [web1]"),
				 prefix ? "prefix" : "path", paths[i]);
			ret = lb_config_parse("t.yaml", yaml, strlen(yaml), &cfg, err, sizeof(err));
			ck_assert_msg((ret == 0) == !why, "%s %s: loader %s, directory %s",
				      prefix ? "prefix" : "path", paths[i], ret ? err : "accepts",
				      why ? why : "accepts");
			if (ret) {
				ck_assert_msg(strstr(err, why), "\"%s\" lacks \"%s\"", err, why);
				continue;
			}
			d = lb_directory_build(cfg.routes, cfg.n_routes, err, sizeof(err));
			ck_assert_msg(d, "%s", err);
			lb_directory_free(d);
			lb_config_free(&cfg);
		}
	}
}
END_TEST

/* The longest path a request can have is the longest a route may have. */
START_TEST(test_route_path_length)
{
	size_t n = LB_PATH_MAX + 256;
	char *yaml = malloc(n), err[LB_ERR_MAX];
	struct lb_config cfg;
	int o;

	ck_assert_ptr_nonnull(yaml);
	for (int len = LB_PATH_MAX - 1; len <= LB_PATH_MAX; len++) {
		o = snprintf(yaml, n, IFACE VIPS BACKENDS "routes: [{backends: [web1], path: /");
		memset(yaml + o, 'a', len - 1);
		o += len - 1;
		o += snprintf(yaml + o, n - o, "}]\n");
		if (len < LB_PATH_MAX) {
			ck_assert_msg(!lb_config_parse("t.yaml", yaml, o, &cfg, err, sizeof(err)), "%s",
				      err);
			lb_config_free(&cfg);
		} else {
			ck_assert_int_eq(lb_config_parse("t.yaml", yaml, o, &cfg, err, sizeof(err)), -1);
			ck_assert_msg(strstr(err, "t.yaml:4: routes[0].path: ") &&
					      strstr(err, "longer than 4095 bytes"),
				      "%s", err);
		}
	}
	free(yaml);
}
END_TEST

/* A reload's read in its thread: the fd says when, finish gives the config or the error. */
static int load_in_thread(const char *path, struct lb_config *cfg, char *err, size_t errlen)
{
	struct lb_reload_job *j = lb_reload_job_start(path);
	struct pollfd pfd;

	ck_assert_ptr_nonnull(j);
	pfd = (struct pollfd){ .fd = lb_reload_job_fd(j), .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 10000), 1);
	return lb_reload_job_finish(j, cfg, err, errlen);
}

/* Both ways a file is read: at start and check-config, and in a reload's thread. */
static int (*const loaders[])(const char *, struct lb_config *, char *, size_t) = {
	lb_config_load,
	load_in_thread,
};

START_TEST(test_load_file)
{
	static const char wscale20[] = BASE "handoff: {wscale: 20}\n";
	char path[] = "/tmp/latebind-test-config-XXXXXX", err[LB_ERR_MAX], want[256];
	int (*load)(const char *, struct lb_config *, char *, size_t) = loaders[_i];
	struct lb_config cfg;
	int fd = mkstemp(path);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, example, strlen(example)), (ssize_t)strlen(example));
	close(fd);
	ck_assert_msg(load(path, &cfg, err, sizeof(err)) == 0, "%s", err);
	ck_assert_str_eq(cfg.path, path);
	ck_assert_uint_eq(cfg.n_routes, 5);
	lb_config_free(&cfg);

	fd = open(path, O_WRONLY | O_TRUNC);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, wscale20, strlen(wscale20)), (ssize_t)strlen(wscale20));
	close(fd);
	ck_assert_int_eq(load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:5: handoff.wscale: 20 is out of range; expected an integer 0..14", path);
	ck_assert_str_eq(err, want);
	unlink(path);

	ck_assert_int_eq(load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s: cannot open: No such file or directory", path);
	ck_assert_msg(!strncmp(err, want, strlen(want)), "got %s", err);
	ck_assert_int_eq(load("/", &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "/: is a directory; expected a YAML file");
}
END_TEST

Suite *config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *tc = tcase_create("config");

	tcase_set_timeout(tc, 30);
	tcase_add_test(tc, test_example_values);
	tcase_add_test(tc, test_defaults);
	tcase_add_test(tc, test_health_overrides);
	tcase_add_test(tc, test_backend_interface);
	/* Its own address comes from a network namespace of its own: root only (tests/README.md). */
	if (geteuid() == 0) {
		tcase_add_test(tc, test_backend_local);
	} else {
		printf("unit: 1 skipped (config: local: true needs root for an address of its own)\n");
		fflush(stdout); /* before Check forks a child per test */
	}
	tcase_add_loop_test(tc, test_good_variants, 0, sizeof(good) / sizeof(good[0]));
	tcase_add_test(tc, test_routes_before_backends);
	tcase_add_loop_test(tc, test_errors, 0, sizeof(bad) / sizeof(bad[0]));
	tcase_add_test(tc, test_announce);
	tcase_add_loop_test(tc, test_announce_errors, 0,
			    sizeof(bad_announce) / sizeof(bad_announce[0]));
	tcase_add_test(tc, test_dispatcher);
	tcase_add_loop_test(tc, test_dispatcher_errors, 0,
			    sizeof(bad_dispatcher) / sizeof(bad_dispatcher[0]));
	tcase_add_test(tc, test_deep_nesting);
	tcase_add_test(tc, test_long_values);
	tcase_add_test(tc, test_length_is_honoured);
	tcase_add_test(tc, test_error_buffer);
	tcase_add_test(tc, test_too_many);
	tcase_add_test(tc, test_many_routes);
	tcase_add_test(tc, test_mutations);
	tcase_add_test(tc, test_route_rules_are_the_directorys);
	tcase_add_test(tc, test_route_path_length);
	tcase_add_loop_test(tc, test_load_file, 0, sizeof(loaders) / sizeof(loaders[0]));
	suite_add_tcase(s, tc);
	return s;
}
