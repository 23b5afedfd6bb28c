/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balancer's interfaces: the main one (the config's `interface:`) and the
 * others backends sit behind ("sides"), our MAC on each, the raw sockets
 * hand-offs leave through, the tx_ports and ifaces maps XDP redirects by, and
 * the backends' MACs learnt from the kernel's neighbour table. Everything that
 * knows an interface's name, index or MAC is here.
 */
#ifndef LATEBIND_IFACES_H
#define LATEBIND_IFACES_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "handoff.h"
#include "maps.h"

struct lb_ifaces {
	int ifindex;	/* the main interface */
	uint8_t mac[6]; /* ours there, for frames the daemon makes */
	int fd;		/* a packet socket there, for the main thread's frames */
	/* The sides; ports[] of the same index is where their hand-offs leave. */
	char names[LB_MAX_IFACES - 1][LB_IFNAME_MAX];
	struct lb_handoff_port ports[LB_MAX_IFACES - 1];
	size_t n_sides;
	/* lo, where the local backend's hand-offs go in; fd -1 without one (`local: true`). */
	struct lb_handoff_port local;
};

/*
 * The main interface and every interface @cfg puts backends behind: index,
 * our MAC there, and for the sides a raw socket for hand-offs. Returns 0, or
 * -1 having said what is wrong (lb_ifaces_close() undoes a partial open).
 */
int lb_ifaces_open(struct lb_ifaces *ifs, const struct lb_config *cfg);
void lb_ifaces_close(struct lb_ifaces *ifs);

/*
 * One frame out of the main interface from the main thread (resets of a dead
 * backend's clients): the AF_XDP queues' TX rings belong to the dispatcher
 * threads, one producer each. Returns 0, or -1.
 */
int lb_ifaces_send(const struct lb_ifaces *ifs, const uint8_t *frame, size_t len);

/* The side backend @c sits behind: its index in names[]/ports[], or -1 for the main one. */
int lb_ifaces_side_of(const struct lb_ifaces *ifs, const struct lb_cfg_backend *c);

/*
 * lb_backend.ifindex for @c: its side's, 0 for the main interface (XDP_TX
 * there), LB_IFINDEX_LOCAL for the balancer itself (XDP_PASS).
 */
uint32_t lb_ifaces_backend_ifindex(const struct lb_ifaces *ifs, const struct lb_cfg_backend *c);

/*
 * tx_ports and ifaces (@devmap_fd, @ifaces_fd): where XDP may redirect and our
 * MAC there, for every interface; entries a previous daemon left for others go.
 */
int lb_ifaces_fill_ports(const struct lb_ifaces *ifs, int devmap_fd, int ifaces_fd);

/*
 * The MACs of @cfg's backends without a `mac:`, into @backends (the backends
 * map, indexed by slot) from the neighbour table; a backend not there yet is
 * sent a datagram so the kernel asks for it, and the next call finds it.
 */
void lb_ifaces_resolve_macs(const struct lb_config *cfg, struct lb_backend *backends);

#endif
