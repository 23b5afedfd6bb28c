/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Keys and values of the balancer's BPF maps, shared by bpf/ and user/.
 * Network byte order is written into the type (__be32/__be16); padding is
 * explicit so BPF and userspace agree on every byte, and bpftool prints it.
 */
#ifndef LATEBIND_MAPS_H
#define LATEBIND_MAPS_H

#include "lb_types.h"

#define LB_PIN_DIR	 "/sys/fs/bpf/latebind"
#define LB_MAX_VIPS	 64
#define LB_MAX_BACKENDS	 256
#define LB_MAX_FLOWS	 (1 << 20) /* default size of the flow table (config: limits.flows) */
#define LB_FLOWS_MAP	 "flows_v3" /* the flow table's map (and pin) name */
#define LB_FLOWS_MIN	 16
#define LB_FLOWS_MAX	 (1 << 24)
#define LB_MAX_QUEUES	 64
#define LB_MAX_PEERS	 8  /* other balancers one shares flows with (a front door, not a farm) */
#define LB_MAX_IFACES	 16 /* the main interface and those backends sit behind */

/* VIP mode: when the balancer binds the connection to a backend. */
enum lb_vip_mode {
	LB_VIP_HTTP = 0, /* on the first request (delayed binding) */
	LB_VIP_TCP = 1,	 /* on the handshake (server speaks first) */
};

/* `vips` hash: which destination address:port is ours. */
struct lb_vip_key {
	__be32 addr;
	__be16 port;
	__u8 proto; /* IPPROTO_TCP */
	__u8 pad;
};
_Static_assert(sizeof(struct lb_vip_key) == 8, "lb_vip_key layout");

struct lb_vip {
	__u32 index; /* position in the config's vips list */
	__u32 mode;  /* enum lb_vip_mode */
};
_Static_assert(sizeof(struct lb_vip) == 8, "lb_vip layout");

/* `flows_v3` hash key: a connection as the client sent it (client → VIP). */
struct lb_flow_key {
	__be32 saddr;
	__be32 daddr;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct lb_flow_key) == 16, "lb_flow_key layout");

enum lb_flow_state {
	LB_FLOW_DISPATCH = 1, /* cookie checked, request being collected: to the dispatcher */
	LB_FLOW_BOUND = 2,    /* handed off: fast path to the backend */
	LB_FLOW_CLOSING = 3,  /* FIN or RST seen: lingers for the last ACKs */
	LB_FLOW_REPLAY = 4,   /* replay mode: SYN replayed to the backend, waiting for its
			       * SYN/ACK; client packets and that SYN/ACK to the dispatcher */
	LB_FLOW_MOVING = 5,   /* re-bound to a cookie-mode backend that has not shown yet
			       * that it adopted the connection: client packets to the
			       * dispatcher, which sends the request again until it has */
};

/* lb_flow.flags */
#define LB_FLOW_F_REQUESTS 0x01 /* req_end is kept: data past it goes to the dispatcher */
#define LB_FLOW_F_TS	   0x02 /* the client uses timestamps */
#define LB_FLOW_F_PEER	   0x04 /* as a peer balancer last sent it: no packet of it here since
				     * (XDP clears it), so not ours to send on (user/peer_sync.h) */
#define LB_FLOW_F_SRV_EXACT 0x08 /* srv_seq is where the answer to the latest request begins,
				  * proven (the dispatcher's hand-off); XDP's same-holder
				  * hint clears it (its srv_seq is the client's ACK) */
#define LB_FLOW_F_NO_BODY   0x10 /* the latest request was a HEAD: its answer has no body */
#define LB_FLOW_F_RESET	    0x20 /* closing: its backend reset it, so XDP answers the
				  * client's segments with a RST (no socket is left to) */

/* What the lb_flow_end program returns for a key. */
enum lb_flow_end_result {
	LB_FLOW_END_NONE = 0,	   /* no such flow */
	LB_FLOW_END_ENDED = 1,	   /* it was bound: now closing, off its backend's count */
	LB_FLOW_END_NOT_BOUND = 2, /* in another state (ended already, or not handed off) */
};

#define LB_FLOW_PARKED 4 /* parked sockets per connection, at most */

struct lb_flow {
	__u32 state;	       /* enum lb_flow_state */
	__u32 backend;	       /* index into `backends` */
	__u8 backend_mac[6];
	__u8 client_hop_mac[6]; /* next hop towards the client, learnt from its frames */
	__u32 client_ack;      /* the client's last ACK (host order): its receive point,
				* where a RST from us must sit to be taken at once */
	__u64 last_seen_ns;    /* CLOCK_MONOTONIC ns of the last packet (the fast path
				* stamps the coarse clock: a tick's resolution) */
	__u64 packets;
	__u64 bytes;
	__u32 req_end;	       /* LB_FLOW_F_REQUESTS: the client sequence number after the
				* last request byte the backend has; data beyond it is the
				* next request, for the dispatcher */
	__u8 flags;	       /* LB_FLOW_F_* */
	__u8 syn_opts;	       /* the cookie's low byte: what the client's SYN offered */
	__u16 binds;	       /* backends the connection has been bound to so far */
	__u32 srv_seq;	       /* LB_FLOW_F_REQUESTS: the server's sequence number when its
				* latest request was sent; its answer must move past it */
	__u32 hint_hash;       /* same-holder hint (headers/hint.h): FNV-1a of the prefix */
	__u16 hint_len;	       /* ... its length; 0: no hint */
	__u16 hint_gen;	       /* ... the directory generation it was made under */
	__u8 parked[LB_FLOW_PARKED]; /* backends (index + 1; 0: none) holding a socket the
				      * connection left there idle, oldest first
				      * (docs/parked-sockets.md); backend 255 is never parked */
};
_Static_assert(sizeof(struct lb_flow) == 72, "lb_flow layout");

/* What the lb_flow_move program does (struct lb_flow_move.op). */
enum lb_flow_move_op {
	LB_MOVE_ADVANCE = 1, /* bound: the next request is the same backend's (req_end) */
	LB_MOVE_REBIND = 2,  /* bound → state, towards another backend; counts move */
	LB_MOVE_SETTLE = 3,  /* moving → bound: the new backend has the connection */
	LB_MOVE_PEER = 4,    /* a peer balancer's newer view of the flow: bound (to
			      * backend, perhaps another) or closing; counts follow */
	LB_MOVE_DROP = 5,    /* in state (bound or closing) and last seen at seen_ns, as
			      * expiry or eviction read it: ended if bound, deleted;
			      * anything else (a packet since, a port reused) is left */
	LB_MOVE_UNPARK = 6,  /* the flow's parked backends into parked, none left in it */
};

/* The lb_flow_move program's context, run with BPF_PROG_TEST_RUN. */
struct lb_flow_move {
	struct lb_flow_key key;
	__u32 op;	/* enum lb_flow_move_op */
	__u32 state;	/* REBIND: LB_FLOW_MOVING or LB_FLOW_REPLAY; DROP: as read */
	__u32 backend;	/* REBIND: the new backend */
	__u32 req_end;	/* ADVANCE, REBIND */
	__u32 srv_seq;	/* ADVANCE, REBIND */
	__u8 backend_mac[6];
	__u8 flags;	/* ADVANCE, REBIND: the flow's LB_FLOW_F_* from now on */
	__u8 park;	/* REBIND: the old backend's socket stays (parked), not reset */
	__u16 hint_len;	/* ADVANCE, REBIND: the same-holder hint from now on */
	__u32 hint_hash;
	__u16 hint_gen;
	__u16 pad2;
	/* PEER only: the rest of the peer's view (DROP: seen_ns too) */
	__u64 seen_ns;	/* its last packet, on our clock: applied only if newer than ours */
	__u32 client_ack;
	__u16 binds;
	__u8 client_hop_mac[6];
	__u8 syn_opts;
	__u8 pad3[3];
	/* Out: REBIND, a parked backend pushed out by the old one ([0]; to retire);
	 * UNPARK, the flow's parked backends (index + 1 each, as in struct lb_flow) */
	__u8 parked[LB_FLOW_PARKED];
	__u32 pad4;
};
_Static_assert(sizeof(struct lb_flow_move) == 88, "lb_flow_move layout");

/*
 * The lb_flow_drops program's context: flows as a walk read them, each dropped
 * as LB_MOVE_DROP drops one, in one system call for the lot (the idle expiry
 * removes every connection's flow in the end: a call each would cost as much
 * as the connection's bind). result comes back: enum lb_flow_end_result.
 */
#define LB_FLOW_DROPS 32
struct lb_flow_drop {
	struct lb_flow_key key;
	__u64 seen_ns;	/* last_seen_ns as read */
	__u32 state;	/* as read: LB_FLOW_BOUND or LB_FLOW_CLOSING */
	__u32 result;	/* out: ENDED (dropped), NONE (gone), NOT_BOUND (changed: left) */
};
struct lb_flow_drops {
	__u32 n;	/* flows[0..n) */
	__u32 pad;
	struct lb_flow_drop flows[LB_FLOW_DROPS];
};
_Static_assert(sizeof(struct lb_flow_drops) == 8 + 32 * LB_FLOW_DROPS, "lb_flow_drops layout");

/*
 * The lb_flow_binds program's context: new connections' flows, each put only
 * where its ports have none (BPF_NOEXIST), in one system call for a batch of
 * hand-offs (a map batch update takes no such flag). result comes back: 0, or
 * the insert's negative errno (-EEXIST: a flow there; -E2BIG: the table full).
 */
#define LB_FLOW_BINDS 64
struct lb_flow_bind {
	struct lb_flow_key key;
	struct lb_flow flow;
	__s32 result;
	__u32 pad;
};
struct lb_flow_binds {
	__u32 n;	/* flows[0..n) */
	__u32 pad;
	struct lb_flow_bind flows[LB_FLOW_BINDS];
};
_Static_assert(sizeof(struct lb_flow_binds) == 8 + 96 * LB_FLOW_BINDS, "lb_flow_binds layout");

enum lb_backend_state {
	LB_BACKEND_DOWN = 0,
	LB_BACKEND_UP = 1,
	LB_BACKEND_DRAINING = 2,
};

/* What `latebind drain`/`undrain` set; the daemon folds it into `state`. */
enum lb_backend_admin {
	LB_ADMIN_CONFIG = 0,  /* as the config says */
	LB_ADMIN_DRAINED = 1, /* drained by the operator until undrained */
};

/* `backend_names` array slot: the config's name of the backend in that slot. */
struct lb_backend_name {
	char name[64];
};

/*
 * lb_backend.ifindex of the backend that is the balancer itself (`local:
 * true`): its flows go up this host's own stack. No interface has this index.
 */
#define LB_IFINDEX_LOCAL 0xffffffffu

/* `backends` array slot. */
struct lb_backend {
	__be32 addr;
	__u8 mac[6];
	__u16 weight;
	__u32 ifindex;	 /* 0: behind the main interface (XDP_TX); LB_IFINDEX_LOCAL: the
			  * balancer itself (XDP_PASS); else the balancer's interface it
			  * sits behind (XDP_REDIRECT through `tx_ports`) */
	__u32 state;	 /* enum lb_backend_state: what selection sees */
	__u32 admin;	 /* enum lb_backend_admin: the operator's word */
	__u64 active;	 /* flows bound and not yet closed */
	__u64 chosen;	 /* times the dispatcher picked it for a request */
	__u64 packets;
	__u64 bytes;
	__u64 handoff_resets; /* reset by the backend before the client sent anything more */
};
_Static_assert(sizeof(struct lb_backend) == 64, "lb_backend layout");

/*
 * `ifaces` hash, ifindex → what XDP writes into frames it redirects out of that
 * interface: its MAC as the source. Holds the main interface and every
 * interface a backend sits behind; only the daemon writes it.
 */
struct lb_iface {
	__u8 mac[6];
	__u8 pad[2];
};
_Static_assert(sizeof(struct lb_iface) == 8, "lb_iface layout");

/*
 * `peers` array slot: one of the balancers this one shares flows with
 * (user/peer_sync.h), for `latebind status` and the metrics. Only the daemon
 * writes it, about once a second; addr 0: a slot not in use.
 */
struct lb_peer_stat {
	__be32 addr;
	__u16 port;		/* host order */
	__u16 pad;
	__u64 last_heard_ms;	/* CLOCK_REALTIME of its latest datagram that passed; 0: none yet */
	__u64 views_received;	/* flow views in those */
	__u64 datagrams_sent;	/* to it */
	__u64 send_errors;	/* ... that the kernel refused */
};
_Static_assert(sizeof(struct lb_peer_stat) == 40, "lb_peer_stat layout");

/* Why the VIPs' routes are in the announce table or not (struct lb_announce.reason). */
enum lb_announce_reason {
	LB_ANNOUNCE_OFF = 0,	    /* the config has no announce: section */
	LB_ANNOUNCE_READY = 1,	    /* announced: serving, and a backend takes new flows */
	LB_ANNOUNCE_NO_BACKEND = 2, /* withdrawn: every backend down or drained */
	LB_ANNOUNCE_STOPPING = 3,   /* withdrawn: SIGTERM/SIGINT, before the program goes */
	LB_ANNOUNCE_HANDOVER = 4,   /* left in place by SIGUSR2 for the next daemon */
	LB_ANNOUNCE_FAILED = 5,	    /* the kernel refused a route change (errno in `error`) */
	LB_ANNOUNCE_REASONS
};

/*
 * `announce` array, one slot: the state of the VIPs' routes in the kernel
 * table of the config's announce: section. Written by the daemon only
 * (user/announce.c), on each change; read by `status` and bpftool.
 */
struct lb_announce {
	__u32 table;	   /* 0: not announcing */
	__u32 announced;   /* 1 while the routes are in the table */
	__u32 reason;	   /* enum lb_announce_reason */
	__s32 error;	   /* errno of the last refused change; 0 */
	__u32 routes;	   /* VIP addresses in the table */
	__u32 pad;
	__u64 withdrawals; /* times the routes were taken out */
	__u64 changed_s;   /* CLOCK_REALTIME seconds of the last change */
};
_Static_assert(sizeof(struct lb_announce) == 40, "lb_announce layout");

/*
 * Access statistics (user/topk.h, docs/architecture.md "Access statistics"),
 * written by the daemon about once a second and read by `latebind advise`;
 * XDP never touches them.
 *
 * `route_top` array: [0..tracked) the most requested routes, most first.
 */
#define LB_ROUTE_TOP_MAX     1024 /* metrics.top_routes at most */
#define LB_ROUTE_TOP_DEFAULT 100
#define LB_SKETCH_DEPTH	     4
#define LB_SKETCH_WIDTH	     4096 /* a power of two: overestimate <= e/4096 of all requests */

struct lb_route_top {
	char name[64];	 /* the route's name (cut to 63 bytes) */
	__u64 key;	 /* the hash its counts are kept under (user/topk.h) */
	__u64 requests;	 /* an upper bound */
	__u64 error;	 /* requests - error <= the true count */
	__u64 bytes;	 /* bound bytes since it entered the list (a lower bound) */
	__u32 route;	 /* its index in the daemon's config */
	__u32 pad;
};
_Static_assert(sizeof(struct lb_route_top) == 104, "lb_route_top layout");

/* `route_sketch` array, one slot: the totals and the count-min sketch of every route. */
struct lb_route_sketch {
	__u64 requests;	   /* routed requests, all routes */
	__u64 bytes;	   /* their bound bytes */
	__u32 tracked;	   /* entries of route_top in use */
	__u32 top_routes;  /* metrics.top_routes of the daemon */
	__u64 updated_s;   /* CLOCK_REALTIME seconds of the last write; 0: never */
	__u64 c[LB_SKETCH_DEPTH][LB_SKETCH_WIDTH];
};
_Static_assert(sizeof(struct lb_route_sketch) == 32 + 8 * LB_SKETCH_DEPTH * LB_SKETCH_WIDTH,
	       "lb_route_sketch layout");

#endif
