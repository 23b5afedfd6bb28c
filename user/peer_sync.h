/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Flow bindings shared between the balancers of a site (config `peers:`), so
 * an established connection whose packets start arriving at another balancer
 * (the router rehashed, a balancer died) is forwarded there too.
 *
 * Each balancer sends the flows it binds and moves at once, and every flow it
 * forwarded packets of during the last expiry pass (about a second) again;
 * the peers take a view only if it is newer than their own (flow_table.h:
 * lb_flow_apply_peer). A flow learnt from a peer is marked LB_FLOW_F_PEER
 * until a packet of it arrives here, so views are never echoed back. Views go
 * in UDP datagrams of up to LB_PEER_BATCH flows, on the balancers' own
 * addresses, each with a SipHash-2-4 tag under a key derived from the shared
 * cookie key and a per-start sequence number against replays. Docs:
 * docs/cluster.md.
 */
#ifndef LATEBIND_PEER_SYNC_H
#define LATEBIND_PEER_SYNC_H

#include <stddef.h>
#include <stdint.h>
#include <netinet/in.h>

#include "config.h"
#include "cookie.h"
#include "flow_table.h"
#include "maps.h"
#include "stats.h"

#define LB_PEER_BATCH 29 /* flow views per datagram: 32 + 29 * 48 + 8 bytes fit in 1472 */

struct lb_peers;

/*
 * The UDP socket on @cfg's peer_port and the peers' state; NULL with errno
 * if it cannot be opened. @flows: where views are applied; @backends: the
 * mmapped backends map (slot ↔ address); @secret: the cookie secret the tags'
 * key comes from.
 */
struct lb_peers *lb_peers_open(const struct lb_config *cfg, struct lb_flow_table *flows,
			       const struct lb_backend *backends,
			       const struct lb_cookie_secret *secret);
void lb_peers_close(struct lb_peers *p);

/* The socket to poll for POLLIN. */
int lb_peers_fd(const struct lb_peers *p);

/* A reload: the new config's peers (same port; a new port needs a restart). */
void lb_peers_reconfigure(struct lb_peers *p, const struct lb_config *cfg);

/*
 * lb_flow_changed_fn for the flow table: queue @f (ours) for the peers. Any
 * thread may call it, and lb_peers_flush (see struct lb_peers' lock).
 */
void lb_peers_changed(void *p, const struct lb_flow_key *k, const struct lb_flow *f);

/* Send what is queued (at the end of each turn of the loop). */
void lb_peers_flush(struct lb_peers *p);

/* Read and apply what arrived, at most a bounded number of datagrams per call. */
void lb_peers_receive(struct lb_peers *p);

/*
 * One datagram of @len bytes from @from: checked whole (a peer's address and
 * port, length, version, tag, not played before) before any view in it is
 * applied; else counted as rejected.
 */
void lb_peers_input(struct lb_peers *p, const struct sockaddr_in *from, const void *msg,
		    size_t len);

/* Each peer's figures into @out (unused slots zeroed); returns how many peers. */
size_t lb_peers_stats(struct lb_peers *p, struct lb_peer_stat out[LB_MAX_PEERS]);

/*
 * Its counters, as the dispatcher's LB_DISP_PEER_* (headers/stats.h) from
 * LB_DISP_PEER_VIEWS_SENT on, into @out[LB_PEER_COUNTERS].
 */
#define LB_PEER_COUNTERS (LB_DISP_PEER_DATAGRAMS_REJECTED - LB_DISP_PEER_VIEWS_SENT + 1)
void lb_peers_counters(struct lb_peers *p, uint64_t out[LB_PEER_COUNTERS]);

/*
 * The tag of a datagram's first @len bytes under @cookie_key (as it is stored,
 * the 8 bytes after them): SipHash-2-4 under a key derived from the cookie key.
 */
uint64_t lb_peers_tag(const __u64 cookie_key[2], const void *msg, size_t len);

/* SipHash-2-4 of @len bytes (the reference algorithm, byte-wise message). */
uint64_t lb_siphash(const __u64 key[2], const void *data, size_t len);

#endif
