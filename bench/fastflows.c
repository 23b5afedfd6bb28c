// SPDX-License-Identifier: GPL-2.0
/*
 * fastflows: bound flows for bench/synflood's --ack-flows tuples, written
 * straight into a running balancer's pinned `flows` map, so that the flood
 * takes latebind's XDP fast path (flow found, MACs rewritten, XDP_TX) and
 * nothing else.
 *
 *   fastflows --map PINNED_FLOWS --src-net A.B.C.D/LEN --vip IP --dport N
 *             --flows N --backend-mac MAC [--delete]
 *
 * Flow i has the tuple synflood --ack-flows gives it (source net + 1 + i % H,
 * port 10000 + i / H, to VIP:dport; H hosts in the net, network and broadcast
 * addresses skipped when the prefix is /30 or shorter) and the value
 * { state BOUND, backend LB_MAX_BACKENDS - 1, backend_mac MAC, last_seen now }.
 * Backend slot 255 is one no config fills, so the balancer's per-backend
 * counters and active counts of the real backends are not touched; MAC is the
 * generator's own, so the forwarded frames go back to its sink.
 * --delete removes the same entries again. Prints "flows=N" (written or deleted).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "maps.h"

#define SPORT_BASE 10000

static void die(const char *msg, const char *arg)
{
	fprintf(stderr, "fastflows: %s%s\n", msg, arg ? arg : "");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "map", required_argument, NULL, 'f' },
		{ "src-net", required_argument, NULL, 's' },
		{ "vip", required_argument, NULL, 'v' },
		{ "dport", required_argument, NULL, 'p' },
		{ "flows", required_argument, NULL, 'n' },
		{ "backend-mac", required_argument, NULL, 'm' },
		{ "delete", no_argument, NULL, 'd' },
		{ NULL, 0, NULL, 0 },
	};
	const char *map = NULL;
	char net_s[32] = "";
	struct in_addr vip = { 0 }, net_a;
	unsigned long dport = 0, n = 0, plen = 0, hosts, done = 0;
	unsigned int mac[6];
	bool have_mac = false, del = false;
	struct timespec ts;
	struct lb_flow val;
	uint32_t net;
	int c, fd;

	while ((c = getopt_long(argc, argv, "f:s:v:p:n:m:d", longopts, NULL)) != -1) {
		char *slash, *end;

		switch (c) {
		case 'f':
			map = optarg;
			break;
		case 's':
			if (strlen(optarg) >= sizeof(net_s))
				die("bad --src-net ", optarg);
			strcpy(net_s, optarg);
			slash = strchr(net_s, '/');
			if (!slash)
				die("--src-net needs /LEN: ", optarg);
			*slash = '\0';
			plen = strtoul(slash + 1, &end, 10);
			if (*end || plen > 32 || inet_pton(AF_INET, net_s, &net_a) != 1)
				die("bad --src-net ", optarg);
			break;
		case 'v':
			if (inet_pton(AF_INET, optarg, &vip) != 1)
				die("bad --vip ", optarg);
			break;
		case 'p':
			dport = strtoul(optarg, &end, 10);
			if (*end || !dport || dport > 65535)
				die("bad --dport ", optarg);
			break;
		case 'n':
			n = strtoul(optarg, &end, 10);
			if (*end || !n || n > (1UL << 24))
				die("bad --flows ", optarg);
			break;
		case 'm':
			if (sscanf(optarg, "%2x:%2x:%2x:%2x:%2x:%2x", &mac[0], &mac[1], &mac[2], &mac[3],
				   &mac[4], &mac[5]) != 6)
				die("bad --backend-mac ", optarg);
			have_mac = true;
			break;
		case 'd':
			del = true;
			break;
		default:
			fprintf(stderr, "usage: fastflows --map PINNED --src-net NET/LEN --vip IP "
					"--dport N --flows N --backend-mac MAC [--delete]\n");
			return 2;
		}
	}
	if (!map || !net_s[0] || !vip.s_addr || !dport || !n || !have_mac)
		die("--map, --src-net, --vip, --dport, --flows and --backend-mac are required", NULL);
	net = ntohl(net_a.s_addr) & (plen ? ~0U << (32 - plen) : 0);
	hosts = 32 - plen >= 2 ? (1UL << (32 - plen)) - 2 : (32 - plen == 1 ? 2 : 1);
	if (n > hosts * (65536 - SPORT_BASE))
		die("--flows: more than the net has address and port pairs for", NULL);

	fd = bpf_obj_get(map);
	if (fd < 0) {
		fprintf(stderr, "fastflows: %s: %s\n", map, strerror(errno));
		return 1;
	}
	clock_gettime(CLOCK_MONOTONIC, &ts); /* bpf_ktime_get_ns()'s clock */
	memset(&val, 0, sizeof(val));
	val.state = LB_FLOW_BOUND;
	val.backend = LB_MAX_BACKENDS - 1;
	for (int k = 0; k < 6; k++)
		val.backend_mac[k] = (__u8)mac[k];
	val.last_seen_ns = (__u64)ts.tv_sec * 1000000000ULL + (__u64)ts.tv_nsec;

	for (unsigned long i = 0; i < n; i++) {
		struct lb_flow_key key;

		memset(&key, 0, sizeof(key));
		key.saddr = htonl(net | (uint32_t)(i % hosts + (32 - plen >= 2 ? 1 : 0)));
		key.daddr = vip.s_addr;
		key.sport = htons((uint16_t)(SPORT_BASE + i / hosts));
		key.dport = htons((uint16_t)dport);
		key.proto = IPPROTO_TCP;
		if (del ? bpf_map_delete_elem(fd, &key) : bpf_map_update_elem(fd, &key, &val, BPF_ANY)) {
			if (del && errno == ENOENT)
				continue;
			fprintf(stderr, "fastflows: flow %lu: %s\n", i, strerror(errno));
			return 1;
		}
		done++;
	}
	printf("flows=%lu\n", done);
	return 0;
}
