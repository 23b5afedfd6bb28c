/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Announcing the VIPs (docs/architecture.md, "Announcing the VIPs"): while the
 * balancer is ready to serve, each VIP address has a route
 *
 *	blackhole VIP/32 proto 176 table <announce.table>
 *
 * in a kernel routing table that a BGP daemon (BIRD's kernel protocol with
 * `kernel table N; learn;`) exports to the routers. latebind speaks no BGP: it
 * only adds and removes these routes, over rtnetlink (RTM_NEWROUTE with
 * NLM_F_CREATE|NLM_F_REPLACE, RTM_DELROUTE), and reads each answer.
 *
 * Ready means: attached and the dispatcher running (the daemon calls this only
 * from its loop, once both are so) and at least one backend that takes new
 * flows by selection's rule (lb_backend_usable). Not ready → the routes go.
 * The state and its reason are written to the pinned `announce` map for
 * `status` and kept in `state` for the exporter. Not thread-safe: the daemon's
 * loop owns it.
 */
#ifndef LATEBIND_ANNOUNCE_H
#define LATEBIND_ANNOUNCE_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maps.h"

/*
 * The routes' protocol: a number no routing daemon registers (linux/rtnetlink.h,
 * iproute2's rt_protos), so `ip route show table N proto 176` lists exactly
 * ours and removing stale ones never touches an operator's or another daemon's.
 * Not RTPROT_STATIC: that is every administrator's, and BIRD skips its own 12.
 */
#define LB_RTPROT 176

/* One route of ours: a VIP address in a table. */
struct lb_announce_route {
	uint32_t table;
	struct in_addr addr;
};

struct lb_announcer {
	int nl;		 /* NETLINK_ROUTE socket; -1 before open */
	uint32_t seq;
	int state_fd;	 /* the pinned `announce` map; -1: none */
	struct lb_announce state; /* what status and the exporter show */
	struct lb_announce_route held[2 * LB_MAX_VIPS]; /* in the kernel, as far as we know */
	size_t n_held;
	bool stopping;	 /* withdrawn for good: nothing is announced again */
	uint64_t retry_ms; /* after a refused change, not before this */
};

/*
 * Open the netlink socket, and remove the routes of ours (protocol
 * LB_RTPROT, any table) that @cfg will not announce: a killed daemon's. The
 * ones it will announce stay until the first lb_announce_update(), so a
 * restart never withdraws them. @state_fd: the `announce` map, or -1.
 */
int lb_announce_open(struct lb_announcer *a, const struct lb_config *cfg, int state_fd);

/*
 * Bring the table in line with @cfg (reloads included: another table, other
 * VIPs) and the backends' states in @backends (the mmapped map). Cheap when
 * nothing changed; call it every turn of the loop. @now_ms: CLOCK_MONOTONIC,
 * so a refused change is tried again once a second, not every turn.
 */
void lb_announce_update(struct lb_announcer *a, const struct lb_config *cfg,
			const struct lb_backend *backends, uint64_t now_ms);

/* Stopping: withdraw every route for good. Returns how many were withdrawn. */
size_t lb_announce_stop(struct lb_announcer *a);

/* SIGUSR2: the routes stay for the next daemon, which asserts them again. */
void lb_announce_leave(struct lb_announcer *a);

void lb_announce_close(struct lb_announcer *a);

/* A reason as status and the log say it ("no backend takes new flows", ...). */
const char *lb_announce_reason_text(unsigned int reason);
/* ... and as one word ("no_backend"), for --json. */
const char *lb_announce_reason_name(unsigned int reason);

#endif
