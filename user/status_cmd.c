// SPDX-License-Identifier: GPL-2.0
/*
 * latebind status: what the balancer is doing, read from its pinned maps, so
 * it works whether or not the daemon is running.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "announce.h"
#include "clock.h"
#include "commands.h"
#include "counters.h"
#include "maps.h"
#include "pinned.h"
#include "route_top.h"
#include "stats.h"

static int open_pinned(const char *name)
{
	return lb_open_pinned("status", name);
}

/* The peer balancers flows are shared with (none: nothing printed). */
static void print_peers(int fd, bool json)
{
	struct lb_peer_stat p;
	char addr[INET_ADDRSTRLEN];
	uint64_t now_ms = lb_clock_ms(CLOCK_REALTIME);
	bool first = true;
	__u32 i;

	for (i = 0; fd >= 0 && i < LB_MAX_PEERS; i++) {
		if (bpf_map_lookup_elem(fd, &i, &p) || !p.addr)
			continue;
		inet_ntop(AF_INET, &p.addr, addr, sizeof(addr));
		if (first)
			printf(json ? "\"peers\":[" : "Peers (address:port heard views_received "
							 "datagrams_sent send_errors):\n");
		if (json)
			printf("%s{\"address\":\"%s\",\"port\":%u,\"last_heard_ms\":%llu,"
			       "\"views_received\":%llu,\"datagrams_sent\":%llu,\"send_errors\":%llu}",
			       first ? "" : ",", addr, p.port, (unsigned long long)p.last_heard_ms,
			       (unsigned long long)p.views_received,
			       (unsigned long long)p.datagrams_sent, (unsigned long long)p.send_errors);
		else if (p.last_heard_ms)
			printf("  %s:%u %llus-ago %llu %llu %llu\n", addr, p.port,
			       (unsigned long long)(now_ms > p.last_heard_ms
							    ? (now_ms - p.last_heard_ms) / 1000
							    : 0),
			       (unsigned long long)p.views_received,
			       (unsigned long long)p.datagrams_sent, (unsigned long long)p.send_errors);
		else
			printf("  %s:%u never %llu %llu %llu\n", addr, p.port,
			       (unsigned long long)p.views_received,
			       (unsigned long long)p.datagrams_sent, (unsigned long long)p.send_errors);
		first = false;
	}
	if (!first && json)
		printf("],");
}

static void print_backends(int fd, int names_fd, bool json)
{
	static const char *const states[] = { "down", "up", "draining" };
	struct lb_backend_name n;
	struct lb_backend b;
	char addr[INET_ADDRSTRLEN];
	bool first = true;
	__u32 i;

	printf(json ? "\"backends\":[" : "Backends (index address state active chosen packets bytes name):\n");
	for (i = 0; i < LB_MAX_BACKENDS; i++) {
		if (bpf_map_lookup_elem(fd, &i, &b) || !b.addr)
			continue;
		if (names_fd < 0 || bpf_map_lookup_elem(names_fd, &i, &n))
			n.name[0] = '\0';
		n.name[sizeof(n.name) - 1] = '\0';
		inet_ntop(AF_INET, &b.addr, addr, sizeof(addr));
		if (json)
			printf("%s{\"index\":%u,\"name\":\"%s\",\"address\":\"%s\",\"state\":\"%s\","
			       "\"drained_by_operator\":%s,\"weight\":%u,\"active\":%llu,\"chosen\":%llu,"
			       "\"packets\":%llu,\"bytes\":%llu}",
			       first ? "" : ",", i, n.name, addr, b.state < 3 ? states[b.state] : "?",
			       b.admin == LB_ADMIN_DRAINED ? "true" : "false", b.weight,
			       (unsigned long long)b.active, (unsigned long long)b.chosen,
			       (unsigned long long)b.packets, (unsigned long long)b.bytes);
		else
			printf("  %-3u %-15s %-8s %llu %llu %llu %llu %s%s%s\n", i, addr,
			       b.state < 3 ? states[b.state] : "?", (unsigned long long)b.active,
			       (unsigned long long)b.chosen, (unsigned long long)b.packets,
			       (unsigned long long)b.bytes, n.name,
			       b.ifindex == LB_IFINDEX_LOCAL ? " (local)" : "",
			       b.admin == LB_ADMIN_DRAINED ? " (drained by operator)" : "");
		first = false;
	}
	printf(json ? "]," : "");
}

/*
 * Each dispatcher thread's figures (headers/stats.h), the daemon's threads
 * only (a row with no queue is none). A pin from before threads had figures:
 * nothing shown.
 */
static void print_threads(bool json)
{
	int fd = bpf_obj_get(LB_PIN_DIR "/disp_threads");
	struct lb_disp_thread t;
	bool first = true;
	__u32 i;
	size_t f;

	if (fd < 0)
		return;
	for (i = 0; i < LB_MAX_QUEUES; i++) {
		if (bpf_map_lookup_elem(fd, &i, &t) || !t.queues)
			continue;
		if (first && !json) {
			printf("Dispatcher threads (thread queues first_queue");
			for (f = 0; f < LB_THREAD_FIGURES_N; f++)
				printf(" %s", lb_thread_figures[f].name);
			printf("):\n");
		}
		if (json) {
			printf("%s{\"thread\":%u,\"queues\":%u,\"first_queue\":%u",
			       first ? "\"dispatcher_threads\":[" : ",", i, t.queues, t.first_queue);
			for (f = 0; f < LB_THREAD_FIGURES_N; f++)
				printf(",\"%s\":%llu", lb_thread_figures[f].name,
				       (unsigned long long)lb_thread_figure(&t, f));
			printf("}");
		} else {
			printf("  %u %u %u", i, t.queues, t.first_queue);
			for (f = 0; f < LB_THREAD_FIGURES_N; f++)
				printf(" %llu", (unsigned long long)lb_thread_figure(&t, f));
			printf("\n");
		}
		first = false;
	}
	if (!first && json)
		printf("],");
	close(fd);
}

/* One line per flow, @offset flows skipped, at most @limit shown. */
static void print_flows(int flows_fd, int backends_fd, long offset, long limit, bool json)
{
	static const char *const states[] = { "?",	"dispatch", "bound",
					      "closing", "replay",   "moving" };
	const size_t n_states = sizeof(states) / sizeof(states[0]);
	struct lb_flow_key key, next, *prev = NULL;
	struct lb_flow f;
	struct lb_backend b;
	char c[INET_ADDRSTRLEN], v[INET_ADDRSTRLEN], be[INET_ADDRSTRLEN];
	long i = 0, shown = 0;

	uint64_t now_ns = lb_clock_ns(CLOCK_MONOTONIC);

	printf(json ? "\"flow_list\":["
		    : "Flow list (client vip state backend packets bytes idle_s binds req_end):\n");
	while (!bpf_map_get_next_key(flows_fd, prev, &next) && shown < limit) {
		char req_end[16] = "-";
		double idle;

		key = next;
		prev = &key;
		if (i++ < offset || bpf_map_lookup_elem(flows_fd, &key, &f))
			continue;
		inet_ntop(AF_INET, &key.saddr, c, sizeof(c));
		inet_ntop(AF_INET, &key.daddr, v, sizeof(v));
		strcpy(be, "-");
		if (f.state != LB_FLOW_DISPATCH && !bpf_map_lookup_elem(backends_fd, &f.backend, &b))
			inet_ntop(AF_INET, &b.addr, be, sizeof(be));
		idle = f.last_seen_ns && f.last_seen_ns < now_ns ? (now_ns - f.last_seen_ns) / (double)LB_NS_PER_S : 0;
		/* Where the current request ends: two balancers' copies of a flow compare by it. */
		if (f.flags & LB_FLOW_F_REQUESTS)
			snprintf(req_end, sizeof(req_end), "%u", f.req_end);
		if (json)
			printf("%s{\"client\":\"%s:%u\",\"vip\":\"%s:%u\",\"state\":\"%s\","
			       "\"backend\":\"%s\",\"packets\":%llu,\"bytes\":%llu,\"idle_s\":%.1f,"
			       "\"binds\":%u,\"req_end\":%s}",
			       shown ? "," : "", c, ntohs(key.sport), v, ntohs(key.dport),
			       f.state < n_states ? states[f.state] : "?", be,
			       (unsigned long long)f.packets, (unsigned long long)f.bytes, idle, f.binds,
			       f.flags & LB_FLOW_F_REQUESTS ? req_end : "null");
		else
			printf("  %s:%u %s:%u %s %s %llu %llu %.1f %u %s\n", c, ntohs(key.sport), v,
			       ntohs(key.dport), f.state < n_states ? states[f.state] : "?", be,
			       (unsigned long long)f.packets, (unsigned long long)f.bytes, idle, f.binds,
			       req_end);
		shown++;
	}
	printf(json ? "]," : "");
}

static long count_keys(int fd, size_t key_size)
{
	unsigned char key[64], next[64];
	void *prev = NULL;
	long n = 0;

	if (key_size > sizeof(key))
		return -1;
	while (!bpf_map_get_next_key(fd, prev, next)) {
		memcpy(key, next, key_size);
		prev = key;
		n++;
	}
	return n;
}

static void print_vips(int fd, bool json)
{
	struct lb_vip_key key, next, *prev = NULL;
	struct lb_vip val;
	char addr[INET_ADDRSTRLEN];
	bool first = true;

	printf(json ? "\"vips\":[" : "VIPs:\n");
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (!key.port || bpf_map_lookup_elem(fd, &key, &val))
			continue; /* port 0: the address marker */
		inet_ntop(AF_INET, &key.addr, addr, sizeof(addr));
		if (json)
			printf("%s{\"address\":\"%s\",\"port\":%u,\"mode\":\"%s\"}", first ? "" : ",",
			       addr, ntohs(key.port), val.mode == LB_VIP_TCP ? "tcp" : "http");
		else
			printf("  %s:%u %s\n", addr, ntohs(key.port),
			       val.mode == LB_VIP_TCP ? "tcp" : "http");
		first = false;
	}
	printf(json ? "]," : "");
}

/* The VIPs' routes for BGP; a balancer from before announcing has no such pin: nothing shown. */
static void print_announce(bool json)
{
	int fd = bpf_obj_get(LB_PIN_DIR "/announce");
	struct lb_announce a;
	long long age;
	__u32 k = 0;

	if (fd < 0)
		return;
	if (bpf_map_lookup_elem(fd, &k, &a)) {
		close(fd);
		return;
	}
	close(fd);
	age = a.changed_s ? (long long)time(NULL) - (long long)a.changed_s : -1;
	if (json) {
		printf("\"announce\":{\"table\":%u,\"announced\":%s,\"routes\":%u,"
		       "\"reason\":\"%s\",\"error\":\"%s\",\"withdrawals\":%llu,"
		       "\"changed_s_ago\":%lld},",
		       a.table, a.announced ? "true" : "false", a.routes,
		       lb_announce_reason_name(a.reason), a.error ? strerror(a.error) : "",
		       (unsigned long long)a.withdrawals, age);
		return;
	}
	if (!a.table && !a.announced) {
		printf("Announce: %s\n", lb_announce_reason_text(LB_ANNOUNCE_OFF));
		return;
	}
	printf("Announce: table %u announced %s routes %u withdrawals %llu: %s%s%s", a.table,
	       a.announced ? "yes" : "no", a.routes, (unsigned long long)a.withdrawals,
	       lb_announce_reason_text(a.reason), a.error ? ": " : "",
	       a.error ? strerror(a.error) : "");
	if (age >= 0)
		printf(" (for %lld s)", age);
	printf("\n");
}

/*
 * The most requested routes (user/route_top.h), the first STATUS_TOP_ROUTES of
 * them; a balancer from before access statistics pins no such maps: nothing shown.
 */
#define STATUS_TOP_ROUTES 10
static void print_top_routes(bool json)
{
	int top_fd = bpf_obj_get(LB_PIN_DIR "/route_top");
	int sketch_fd = bpf_obj_get(LB_PIN_DIR "/route_sketch");
	static struct lb_route_top top[LB_ROUTE_TOP_MAX];
	struct lb_route_sketch *s = malloc(sizeof(*s));
	int n = -1, i;

	if (s && top_fd >= 0 && sketch_fd >= 0)
		n = lb_route_top_read(top_fd, sketch_fd, s, top);
	if (n >= 0) {
		if (n > STATUS_TOP_ROUTES)
			n = STATUS_TOP_ROUTES;
		printf(json ? "\"routes\":{\"routed\":%llu,\"top\":["
			    : "Routes: %llu requests routed; the most requested (requests, "
			      "at most this much above, bound bytes):\n",
		       (unsigned long long)s->requests);
		for (i = 0; i < n; i++)
			printf(json ? "%s{\"route\":\"%s\",\"requests\":%llu,\"error\":%llu,"
				      "\"bytes\":%llu}"
				    : "%s  route %s %llu %llu %llu\n",
			       json && i ? "," : "", top[i].name, (unsigned long long)top[i].requests,
			       (unsigned long long)top[i].error, (unsigned long long)top[i].bytes);
		printf(json ? "]}," : "");
	}
	if (top_fd >= 0)
		close(top_fd);
	if (sketch_fd >= 0)
		close(sketch_fd);
	free(s);
}

int cmd_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "flows", no_argument, NULL, 'f' },
		{ "offset", required_argument, NULL, 'o' },
		{ "limit", required_argument, NULL, 'l' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct lb_counter counters[LB_XDP_REASON_MAX];
	uint64_t disp[LB_DISP_MAX];
	int opt, stats_fd = -1, flows_fd = -1, vips_fd = -1, disp_fd = -1, backends_fd = -1;
	int names_fd = -1, peers_fd = -1, ret = LB_EXIT_FAIL, r;
	bool json = false, flows_listed = false;
	long offset = 0, limit = 100;
	long flows;

	while ((opt = getopt_long(argc, argv, "jfo:l:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'j': json = true; break;
		case 'f': flows_listed = true; break;
		case 'o': offset = strtol(optarg, NULL, 10); break;
		case 'l': limit = strtol(optarg, NULL, 10); break;
		case 'h':
			printf("usage: latebind status [--json] [--flows [--offset N] [--limit N]]\n\n"
			       "VIPs, flows and the XDP program's counters, from the maps pinned under "
			       "%s.\n", LB_PIN_DIR);
			return LB_EXIT_OK;
		default:
			fprintf(stderr, "usage: latebind status [--json] [--flows [--offset N] [--limit N]]\n");
			return LB_EXIT_USAGE;
		}
	}
	stats_fd = open_pinned("stats");
	flows_fd = open_pinned(LB_FLOWS_MAP);
	vips_fd = open_pinned("vips");
	disp_fd = open_pinned("disp_stats");
	backends_fd = open_pinned("backends");
	if (stats_fd < 0 || flows_fd < 0 || vips_fd < 0 || disp_fd < 0 || backends_fd < 0)
		goto out;
	if (lb_counters_sum(stats_fd, LB_XDP_REASON_MAX, counters)) {
		fprintf(stderr, "latebind status: cannot read the counters: %s\n", strerror(errno));
		goto out;
	}
	if (lb_disp_stats_sum(disp_fd, disp)) {
		fprintf(stderr, "latebind status: cannot read the dispatcher's counters: %s\n",
			strerror(errno));
		goto out;
	}
	flows = count_keys(flows_fd, sizeof(struct lb_flow_key));

	printf(json ? "{" : "");
	print_vips(vips_fd, json);
	print_announce(json);
	names_fd = open_pinned("backend_names");
	print_backends(backends_fd, names_fd, json);
	peers_fd = open_pinned("peers");
	print_peers(peers_fd, json);
	print_threads(json);
	print_top_routes(json);
	if (flows_listed)
		print_flows(flows_fd, backends_fd, offset, limit, json);
	printf(json ? "\"flows\":%ld,\"counters\":{" : "Flows: %ld\nCounters (packets bytes):\n",
	       flows);
	for (r = 0; r < LB_XDP_REASON_MAX; r++) {
		if (json)
			printf("%s\"%s\":{\"packets\":%llu,\"bytes\":%llu}", r ? "," : "",
			       lb_xdp_reason_names[r], (unsigned long long)counters[r].packets,
			       (unsigned long long)counters[r].bytes);
		else
			printf("  %-20s %llu %llu\n", lb_xdp_reason_names[r],
			       (unsigned long long)counters[r].packets,
			       (unsigned long long)counters[r].bytes);
	}
	printf(json ? "},\"dispatcher\":{" : "Dispatcher:\n");
	for (r = 0; r < LB_DISP_MAX; r++) {
		__u64 v = disp[r];

		if (json)
			printf("%s\"%s\":%llu", r ? "," : "", lb_dispatch_counter_names[r],
			       (unsigned long long)v);
		else
			printf("  %-20s %llu\n", lb_dispatch_counter_names[r], (unsigned long long)v);
	}
	printf(json ? "}}\n" : "");
	ret = LB_EXIT_OK;
out:
	if (stats_fd >= 0)
		close(stats_fd);
	if (flows_fd >= 0)
		close(flows_fd);
	if (vips_fd >= 0)
		close(vips_fd);
	if (disp_fd >= 0)
		close(disp_fd);
	if (backends_fd >= 0)
		close(backends_fd);
	if (names_fd >= 0)
		close(names_fd);
	if (peers_fd >= 0)
		close(peers_fd);
	return ret;
}
