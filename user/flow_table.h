/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The flow table (the `flows_v3` hash) as userspace changes it. Every insert
 * and removal, and every change of a backend's active count outside XDP, goes
 * through here. A flow counts on its backend from its bind (bound, or a replay
 * waiting for its SYN/ACK) until it ends; a bound flow ends through one
 * compare-and-swap shared with XDP (the lb_flow_end program), so it leaves the
 * count exactly once whoever ends it: XDP's first FIN/RST, idle expiry,
 * eviction, or the reset of a dead backend's clients.
 *
 * The table is a plain hash of limits.flows entries: when it is full an insert
 * fails with E2BIG and lb_flow_put() evicts one flow to make room. The
 * victim is chosen from a bounded sample of entries (sampled LRU): closing
 * flows first, then the bound flow silent for longest. Flows still in the
 * dispatcher's hands (collecting a request, replaying a SYN, moving to another
 * backend) are never evicted
 * here: the dispatcher caps those itself.
 */
#ifndef LATEBIND_FLOW_TABLE_H
#define LATEBIND_FLOW_TABLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"

#define LB_FLOW_SAMPLE	  32 /* entries looked at per eviction, at most (whole hash buckets) */
#define LB_FLOW_SWEEP	  512 /* entries looked at per expiry step (whole hash buckets) */
#define LB_FLOW_IDLE_NS	  (300 * LB_NS_PER_S) /* bound and silent this long: ended */
#define LB_FLOW_LINGER_NS (3 * LB_NS_PER_S)   /* closing: time for the last ACKs */
/* XDP stamps flows with the coarse clock: up to a tick (10 ms at HZ 100) behind. */
#define LB_FLOW_COARSE_NS (10 * LB_NS_PER_MS)

/* Where a walk over the table stands: the kernel's batch cursor, a hash bucket. */
struct lb_flow_cursor {
	uint32_t bucket;
	bool started; /* false: the next read starts at the table's first bucket */
};

/*
 * Called for a flow the table ended that was still bound (@f as it was, state
 * bound): its client has not seen the end yet (the daemon resets it).
 */
typedef void (*lb_flow_ended_fn)(void *ctx, const struct lb_flow_key *k, const struct lb_flow *f);

/*
 * Called with a flow's new view after the daemon bound or moved it, and during
 * the idle expiry for every flow of ours (not a peer's, LB_FLOW_F_PEER) seen
 * since the pass before: what the peer balancers are sent (user/peer_sync.h).
 */
typedef void (*lb_flow_changed_fn)(void *ctx, const struct lb_flow_key *k, const struct lb_flow *f);

/*
 * Called with the backends holding a parked socket of @k's connection (index
 * + 1 each, 0: none; docs/parked-sockets.md) once it has ended (closing,
 * expired, evicted), taken out of the flow: the daemon retires them.
 */
typedef void (*lb_flow_parked_fn)(void *ctx, const struct lb_flow_key *k,
				  const uint8_t parked[LB_FLOW_PARKED]);

/* The balancer object's syscall programs that change flows (bpf/balancer.bpf.c). */
struct lb_flow_progs {
	int end;   /* lb_flow_end */
	int move;  /* lb_flow_move */
	int drops; /* lb_flow_drops */
	int binds; /* lb_flow_binds */
};

struct lb_flow_table {
	int fd;			     /* the flows map; -1: none (unit tests) */
	struct lb_flow_progs progs;
	struct lb_backend *backends; /* the mmapped backends map (active counts), or NULL */
	uint64_t evictions;	     /* flows evicted to make room (the dispatcher reports it) */
	lb_flow_ended_fn evicted;    /* a bound flow evicted; or NULL */
	void *evicted_ctx;
	struct lb_flow_cursor sample; /* eviction samples go round the table */
	struct lb_flow_cursor sweep;  /* and so does the idle expiry */
	lb_flow_parked_fn parked;     /* or NULL: left to the backends' own timeouts */
	void *parked_ctx;
	lb_flow_changed_fn changed;   /* or NULL: no peers */
	void *changed_ctx;
	uint64_t pass_ns, prev_pass_ns; /* when this expiry pass and the one before began */
};

/* No map, no programs: the unit tests' table (every change a no-op). */
#define LB_FLOW_NO_PROGS ((struct lb_flow_progs){ -1, -1, -1, -1 })

void lb_flow_table_init(struct lb_flow_table *t, int fd, struct lb_flow_progs progs,
			struct lb_backend *backends);

/*
 * Insert or replace @k's flow, its backend's count untouched (a flow being
 * collected, or a counted replay now bound). A full table evicts one flow
 * first. Returns 0, or a negative errno (-E2BIG: full, and nothing in the
 * sample may be evicted).
 */
int lb_flow_put(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/* @k's flow as it is now into @f: 0, or a negative errno (-ENOENT: none). */
int lb_flow_get(const struct lb_flow_table *t, const struct lb_flow_key *k, struct lb_flow *f);

/*
 * A new connection's flow @f (state dispatch) for @k, in one system call when
 * @k has none: lb_flow_put() if @k has no flow or one in state dispatch (a
 * record of ours that was dropped); -EEXIST if @k's flow is past the
 * dispatcher (handed off already: the segment is a late copy); else as
 * lb_flow_put().
 */
int lb_flow_claim(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/* Hand @k to @f's backend (@f bound, or a replay): put, and count it in. */
int lb_flow_bind(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/* lb_flow_bind() where @k has no flow yet: -EEXIST if it has one (which stays as it is). */
int lb_flow_bind_fresh(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/*
 * lb_flow_bind_fresh() of each of @b's flows, in one system call (the
 * lb_flow_binds program) but for those that find the table full, which evict
 * one at a time. Each result is 0 (put and counted) or a negative errno.
 * Returns how many were put.
 */
size_t lb_flow_bind_fresh_many(struct lb_flow_table *t, struct lb_flow_binds *b);

/*
 * A replay abandoned: @k goes back to the dispatcher as @f (state dispatch),
 * or out of the table if that fails, and leaves its backend's count.
 */
void lb_flow_unbind(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/*
 * A step of per-request binding on @m->key's flow (enum lb_flow_move_op),
 * taken in the kernel against XDP's own changes: enum lb_flow_end_result
 * (ENDED: done), or a negative errno. @m's out fields (parked) are filled in.
 */
int lb_flow_move(struct lb_flow_table *t, struct lb_flow_move *m);

/*
 * A peer balancer's view @f of @k's flow (bound or closing, its backend one of
 * ours): inserted and counted if we have no such flow (never over one a
 * dispatcher thread made meanwhile), else taken through LB_MOVE_PEER if the
 * peer saw it later. Returns enum lb_flow_end_result (ENDED:
 * applied, NOT_BOUND: ours is newer or the dispatcher's), or a negative errno.
 */
int lb_flow_apply_peer(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f);

/*
 * The backends holding parked sockets of @k's connection taken out of its
 * flow (LB_MOVE_UNPARK) into @parked (index + 1 each, 0: none): true if it
 * had any.
 */
bool lb_flow_unpark(struct lb_flow_table *t, const struct lb_flow_key *k,
		    uint8_t parked[LB_FLOW_PARKED]);

/*
 * Every flow's parked backends taken out and given to the table's parked
 * callback, as if each connection had ended: for a daemon that stops and takes
 * its flows with it. Returns how many flows had any.
 */
uint64_t lb_flow_unpark_all(struct lb_flow_table *t);

/* End @k's flow if it is bound (closing, off its backend's count): enum lb_flow_end_result. */
int lb_flow_end(struct lb_flow_table *t, const struct lb_flow_key *k);

/*
 * Delete @k's flow, ending it first if bound; its parked backends go to the
 * table's parked callback. @gone (if not NULL) gets the flow as deleted, its
 * state bound if this call ended it. Returns 0, or a negative errno (-ENOENT:
 * not there).
 */
int lb_flow_remove(struct lb_flow_table *t, const struct lb_flow_key *k, struct lb_flow *gone);

/*
 * Expiry's and eviction's removal: @k's flow as a walk read it, @seen (bound
 * or closing), ended if bound and deleted, only if it is still in @seen's state
 * and not seen since (one step in the kernel, lb_flow_move). A walk's batch is
 * stale by the time it is acted on: a dispatcher thread may hold a new
 * connection on the same port, XDP a packet of this one. Returns 0, -ESTALE
 * (changed: left alone), -ENOENT, -EINVAL (a state of the dispatcher's own),
 * or another negative errno.
 */
int lb_flow_drop(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *seen);

/*
 * One step of the idle expiry, a slice of the table from where the last one
 * stopped: bound flows silent for LB_FLOW_IDLE_NS and closing ones past
 * LB_FLOW_LINGER_NS go. A slice is one batch read, so the single-threaded
 * daemon never stalls behind a walk of a large table, and its flows go in
 * batches of LB_FLOW_DROPS, as lb_flow_drop() drops one. Returns true while
 * the pass over the table goes on (more steps due soon).
 */
bool lb_flow_expire_step(struct lb_flow_table *t, uint64_t now_ns);

/*
 * End every bound flow of backend @slot whose client has acknowledged
 * something, calling @fn for each (the daemon resets the client). Returns how
 * many were ended.
 */
uint64_t lb_flow_end_backend(struct lb_flow_table *t, uint32_t slot, lb_flow_ended_fn fn,
			     void *ctx);

/*
 * Delete the flows a dispatcher was collecting or replaying (a previous
 * daemon's: their state died with it). Returns how many.
 */
uint64_t lb_flow_forget_dispatch(struct lb_flow_table *t);

/*
 * The next entries of a walk over the table, in one system call: whole hash
 * buckets, at most @max entries, into @keys and @vals. Returns how many were
 * read; past the table's last bucket the walk starts over (c->started false).
 * A negative errno on failure, and the walk starts over. Both the idle expiry
 * and the eviction sample walk the table this way: a system call per batch,
 * not two per flow, and deletions behind the cursor do not disturb it.
 */
int lb_flow_walk(struct lb_flow_table *t, struct lb_flow_cursor *c, struct lb_flow_key *keys,
		 struct lb_flow *vals, uint32_t max);

/*
 * The eviction choice over @n sampled flows: the index of the closing flow
 * seen longest ago, else of the bound flow seen longest ago; -1 if none of them
 * may go. Pure, for the unit tests.
 */
int lb_flow_pick_victim(const struct lb_flow *f, size_t n);

#endif
