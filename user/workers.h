/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The dispatcher threads (config `dispatcher: {threads: N}`; docs/architecture.md,
 * "Threads"). Thread t serves the AF_XDP sockets of the RX queues q with
 * q % N == t, with a dispatcher, a flow table handle and a hand-off context
 * of its own. A connection is owned by one thread (lb_frame_owner: a hash of
 * its 4-tuple); a frame another thread receives reaches the owner through a
 * lock-free ring (thread_ring.h). Nothing else on the per-packet path is
 * shared with another thread but the BPF maps (safe for concurrent use) and
 * the backends' active counts (atomics in the mmapped map).
 *
 * A thread sleeps in poll() on its sockets and an eventfd the main thread
 * (a new config, stop) and the other threads (frames for it) write to wake it.
 * Its counters and figures are written by it alone into its rows of the
 * mmapped disp_stats and disp_threads maps, where `latebind status` reads
 * them; its histograms and route counts are summed by the main thread (stat.h).
 */
#ifndef LATEBIND_WORKERS_H
#define LATEBIND_WORKERS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "cookie.h"
#include "directory.h"
#include "flow_table.h"
#include "ifaces.h"
#include "metrics.h"
#include "peer_sync.h"
#include "stats.h"
#include "xsk.h"

/*
 * What the threads dispatch by, swapped whole at a reload: a thread takes the
 * one published last at the top of its loop, and the daemon frees an old one
 * only once every thread has taken a later one (lb_workers_caught_up).
 */
struct lb_disp_conf {
	struct lb_config cfg; /* a copy of the daemon's; its arrays and strings are shared */
	const struct lb_directory *dir;
	uint16_t hint_gen; /* the same-holder hints' generation for dir (lb_hint_gen_next) */
};

/* What every thread shares, read-only. */
struct lb_workers_env {
	const struct lb_cookie_secret *secret;
	struct lb_xsk *xsk;
	const struct lb_ifaces *ifs;
	int flows_fd;			/* the flows map */
	struct lb_flow_progs flow_progs; /* and the programs that change it */
	int backends_fd;
	struct lb_backend *backends; /* the mmapped backends map */
	struct lb_peers *peers;	     /* flows shared with the peers, or NULL */
	struct lb_disp_row *rows;    /* thread t counts in rows[t] (mmapped); NULL: in memory */
	struct lb_disp_thread *figures; /* thread t's figures go to figures[t]; NULL: nowhere */
};

struct lb_workers;

/*
 * @threads as the config gives it, for @queues RX queues: how many threads
 * serve them (0: one per queue, capped by the CPUs online; never more than
 * the queues).
 */
unsigned int lb_workers_threads(unsigned int threads, unsigned int queues);

/*
 * Start @n threads on @env's sockets, dispatching by @conf. NULL with errno
 * (nothing left running) if one cannot start.
 */
struct lb_workers *lb_workers_start(const struct lb_workers_env *env, unsigned int n,
				    struct lb_disp_conf *conf);

/* Stop and join every thread, free what they had. NULL: nothing. */
void lb_workers_stop(struct lb_workers *ws);

unsigned int lb_workers_count(const struct lb_workers *ws);

/* A new config for the threads (woken to take it). Returns its epoch. */
uint64_t lb_workers_publish(struct lb_workers *ws, struct lb_disp_conf *conf);

/* Every thread has taken the config of @epoch or a later one. */
bool lb_workers_caught_up(const struct lb_workers *ws, uint64_t epoch);

/* Each thread's own figures (queues, frames, hand-offs, decisions) into @out[lb_workers_count]. */
void lb_workers_figures(const struct lb_workers *ws, struct lb_disp_thread *out);

/* Connections the threads are collecting requests for. */
size_t lb_workers_conns(const struct lb_workers *ws);

/* Their hand-off and re-bind latencies, added to @handoff and @rebind. */
void lb_workers_latency(const struct lb_workers *ws, struct lb_histogram *handoff,
			struct lb_histogram *rebind);

/*
 * Requests per route under @cfg (the config published last), every thread's
 * merged into @out (lb_topk_init'ed, empty). A thread that has not taken that
 * config yet is left out. -1 if out of memory.
 */
struct lb_topk;
int lb_workers_route_top(struct lb_workers *ws, const struct lb_config *cfg, struct lb_topk *out);

#endif
