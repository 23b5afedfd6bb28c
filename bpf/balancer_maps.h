/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Maps of the balancer's XDP program. Pinned under LB_PIN_DIR by userspace;
 * the key/value structs live in headers/maps.h so BPF and userspace share them.
 * docs/maps.md has every map with its readers and writers.
 */
#ifndef LATEBIND_BALANCER_MAPS_H
#define LATEBIND_BALANCER_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cookie.h"
#include "cookie_map.h"
#include "hint.h"
#include "maps.h"
#include "stats.h"

/* VIP address:port → mode. Written by the daemon from the config. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS * 2);
	__type(key, struct lb_vip_key);
	__type(value, struct lb_vip);
} vips SEC(".maps");

/*
 * Connections the balancer has accepted a request on (client → VIP tuple).
 * Written by the dispatcher when it takes a connection and at hand-off; the
 * XDP program updates counters and closing state. A plain hash, sized by the
 * daemon (limits.flows): when it is full the dispatcher evicts a flow itself
 * (user/flow_table.c), so the eviction is counted and a bound flow leaves its
 * backend's active count; an LRU hash would evict silently and leak that
 * count. The _v2: a map whose layout changes gets a new name, so a pin of an
 * incompatible table is never taken for this one.
 */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_FLOWS);
	__type(key, struct lb_flow_key);
	__type(value, struct lb_flow);
} flows_v3 SEC(".maps");

/*
 * Backend index → address, MAC, state, active flows. The daemon writes the
 * config part, the dispatcher counts hand-offs in, the XDP program counts
 * closes out and traffic. Mmapable so both sides can use atomics on it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend);
} backends SEC(".maps");


/* RX queue → the dispatcher's AF_XDP socket on that queue. */
struct {
	__uint(type, BPF_MAP_TYPE_XSKMAP);
	__uint(max_entries, LB_MAX_QUEUES);
	__type(key, __u32);
	__type(value, __u32);
} xsks SEC(".maps");

/*
 * ifindex → that interface, for XDP_REDIRECT out of it: the main interface and
 * those backends sit behind (lb_backend.ifindex). Key and value are the same
 * ifindex; the daemon fills it at start.
 */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, LB_MAX_IFACES);
	__type(key, __u32);
	__type(value, __u32);
} tx_ports SEC(".maps");

/* ifindex → its MAC, the source of frames redirected out of it. Only the daemon writes. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct lb_iface);
} ifaces SEC(".maps");

/* enum lb_xdp_reason → packets and bytes, per CPU. Only the XDP program writes. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_XDP_REASON_MAX);
	__type(key, __u32);
	__type(value, struct lb_counter);
} stats SEC(".maps");

/* Slot → backend name, for `latebind status`/`drain`. Only the daemon writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_BACKENDS);
	__type(key, __u32);
	__type(value, struct lb_backend_name);
} backend_names SEC(".maps");

/*
 * Row (0: the daemon's main thread, 1 + t: dispatcher thread t) → struct
 * lb_disp_row, its counts by enum lb_dispatch_counter. Only the daemon writes
 * it, in place (mmapped); it lives here so it is pinned and read like every
 * other counter.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LB_DISP_ROWS);
	__type(key, __u32);
	__type(value, struct lb_disp_row);
} disp_stats SEC(".maps");

/*
 * Dispatcher thread → struct lb_disp_thread (headers/stats.h): each thread's
 * frames, hand-offs between threads, decisions. Only the daemon's threads
 * write it, each its own row, in place (mmapped).
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LB_MAX_QUEUES);
	__type(key, __u32);
	__type(value, struct lb_disp_thread);
} disp_threads SEC(".maps");

/* The peer balancers and what came from them (struct lb_peer_stat); only the daemon writes it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_PEERS);
	__type(key, __u32);
	__type(value, struct lb_peer_stat);
} peers SEC(".maps");

/*
 * The directory's generation for same-holder hints (headers/hint.h): a hint
 * made under another one is not used. Only the daemon writes it.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_hint_gen);
} hint_gen SEC(".maps");

/* A request head being read for a same-holder hint: one per CPU, one packet at a time. */
struct lb_head_buf {
	__u8 b[LB_HINT_HEAD_MAX + 1];
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_head_buf);
} head_buf SEC(".maps");

/*
 * Whether the VIPs are announced (user/announce.c writes it; `status` reads
 * it). XDP never touches it: it lives here to be pinned, taken over and
 * removed with the rest.
 */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_announce);
} announce SEC(".maps");

/* Access statistics (headers/maps.h): only the daemon writes them, `advise` reads them. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_ROUTE_TOP_MAX);
	__type(key, __u32);
	__type(value, struct lb_route_top);
} route_top SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_route_sketch);
} route_sketch SEC(".maps");

#endif
