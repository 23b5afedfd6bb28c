// SPDX-License-Identifier: GPL-2.0
/*
 * Inserting into, ending and removing from the flow table with the backends'
 * active counts kept right (see flow_table.h).
 */
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>

#include "clock.h"
#include "flow_table.h"
#include "stat.h"

#define WALK_BATCH 128 /* entries per read of a whole-table walk */

void lb_flow_table_init(struct lb_flow_table *t, int fd, struct lb_flow_progs progs,
			struct lb_backend *backends)
{
	*t = (struct lb_flow_table){ .fd = fd, .progs = progs, .backends = backends };
}

static void count(struct lb_flow_table *t, uint32_t backend, int64_t by)
{
	if (t->backends && backend < LB_MAX_BACKENDS)
		__atomic_fetch_add(&t->backends[backend].active, by, __ATOMIC_RELAXED);
}

/* Lower goes first; -1 never: the dispatcher still holds that connection's state. */
static int victim_rank(uint32_t state)
{
	switch (state) {
	case LB_FLOW_CLOSING: return 0; /* ended, only lingering for its last ACKs */
	case LB_FLOW_BOUND: return 1;
	default: return -1;
	}
}

int lb_flow_pick_victim(const struct lb_flow *f, size_t n)
{
	int best = -1, best_rank = 0;
	size_t i;

	for (i = 0; i < n; i++) {
		int r = victim_rank(f[i].state);

		if (r < 0)
			continue;
		if (best < 0 || r < best_rank ||
		    (r == best_rank && f[i].last_seen_ns < f[best].last_seen_ns)) {
			best = (int)i;
			best_rank = r;
		}
	}
	return best;
}

/* Does @f hold parked backends (docs/parked-sockets.md)? */
static bool has_parked(const struct lb_flow *f)
{
	size_t i;

	for (i = 0; i < LB_FLOW_PARKED; i++)
		if (f->parked[i])
			return true;
	return false;
}

/* One run of the syscall program @prog_fd on @ctx: its return value, or a negative errno. */
static int run_step(const struct lb_flow_table *t, int prog_fd, void *ctx, size_t size)
{
	LIBBPF_OPTS(bpf_test_run_opts, opts, .ctx_in = ctx, .ctx_size_in = size);

	if (t->fd < 0)
		return LB_FLOW_END_NONE;
	if (bpf_prog_test_run_opts(prog_fd, &opts))
		return -errno;
	return (int)opts.retval;
}

int lb_flow_end(struct lb_flow_table *t, const struct lb_flow_key *k)
{
	struct lb_flow_key ctx = *k;

	return run_step(t, t->progs.end, &ctx, sizeof(ctx));
}

/*
 * Tell the peers about @k's flow (bound or closing; ours): @f as the sweep
 * read it, or NULL for a change the daemon just made, which is read back and
 * dated now (a move is news even if no packet came since the last view).
 */
static void changed(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	struct lb_flow now;

	if (!t->changed)
		return;
	if (!f) {
		if (bpf_map_lookup_elem(t->fd, k, &now))
			return;
		now.last_seen_ns = lb_clock_ns(CLOCK_MONOTONIC);
		f = &now;
	}
	if (f->state == LB_FLOW_BOUND || f->state == LB_FLOW_CLOSING)
		t->changed(t->changed_ctx, k, f);
}

int lb_flow_move(struct lb_flow_table *t, struct lb_flow_move *m)
{
	int ret = run_step(t, t->progs.move, m, sizeof(*m));

	if (ret == LB_FLOW_END_ENDED && m->op != LB_MOVE_PEER && m->op != LB_MOVE_DROP)
		changed(t, &m->key, NULL);
	return ret;
}

/* The dispatcher's own states: XDP never ends them, so their counts are ours to take back. */
static bool dispatcher_counted(uint32_t state)
{
	return state == LB_FLOW_REPLAY || state == LB_FLOW_MOVING;
}

/*
 * lb_flow_remove() for a flow last seen in state @seen. Only the daemon makes a
 * flow bound, so one seen in another state is not bound now and needs no end:
 * a walk's removals save the program run per closing flow.
 */
static int remove_seen(struct lb_flow_table *t, const struct lb_flow_key *k, uint32_t seen,
		       struct lb_flow *gone)
{
	int ended = LB_FLOW_END_NOT_BOUND;
	struct lb_flow f;

	if (t->fd < 0)
		return -ENOENT;
	/* Bound: ended first, through the compare-and-swap XDP's close takes too. */
	if (seen == LB_FLOW_BOUND)
		ended = lb_flow_end(t, k);
	if (ended < 0)
		return ended;
	if (bpf_map_lookup_and_delete_elem(t->fd, k, &f))
		return -errno;
	if (dispatcher_counted(f.state))
		count(t, f.backend, -1);
	/* Nobody else would retire them: the list was the flow's alone. */
	if (t->parked && has_parked(&f))
		t->parked(t->parked_ctx, k, f.parked);
	if (ended == LB_FLOW_END_ENDED)
		f.state = LB_FLOW_BOUND;
	if (gone)
		*gone = f;
	return 0;
}

int lb_flow_remove(struct lb_flow_table *t, const struct lb_flow_key *k, struct lb_flow *gone)
{
	return remove_seen(t, k, LB_FLOW_BOUND, gone);
}

int lb_flow_drop(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *seen)
{
	struct lb_flow_move m = { .key = *k, .op = LB_MOVE_DROP, .state = seen->state,
				  .seen_ns = seen->last_seen_ns };
	int ret;

	if (seen->state != LB_FLOW_BOUND && seen->state != LB_FLOW_CLOSING)
		return -EINVAL; /* the dispatcher's own: lb_flow_remove, by its owner */
	ret = run_step(t, t->progs.move, &m, sizeof(m));
	if (ret < 0)
		return ret;
	return ret == LB_FLOW_END_ENDED ? 0 : ret == LB_FLOW_END_NONE ? -ENOENT : -ESTALE;
}

int lb_flow_walk(struct lb_flow_table *t, struct lb_flow_cursor *c, struct lb_flow_key *keys,
		 struct lb_flow *vals, uint32_t max)
{
	uint32_t in = c->bucket, n = max;
	int err;

	if (t->fd < 0)
		return 0;
	err = bpf_map_lookup_batch(t->fd, c->started ? &in : NULL, &c->bucket, keys, vals, &n, NULL);
	if (err && errno != ENOENT) {
		/* ENOSPC: a bucket fuller than @max, which a hash this size never has. */
		err = -errno;
		c->started = false;
		return err;
	}
	/* ENOENT: the table's last buckets came with it; the next read starts over. */
	c->started = !err;
	return (int)n;
}

/*
 * Make room for one flow: sample up to LB_FLOW_SAMPLE entries from where the
 * last sample stopped (so successive evictions look at the whole table in
 * turn, like a clock hand) and delete the best victim among them.
 */
static int evict_one(struct lb_flow_table *t)
{
	struct lb_flow_key keys[LB_FLOW_SAMPLE];
	struct lb_flow vals[LB_FLOW_SAMPLE], gone;
	bool wrapped = !t->sample.started;
	int n, v, err;

	n = lb_flow_walk(t, &t->sample, keys, vals, LB_FLOW_SAMPLE);
	/* The table's end can come back empty: once more, from its start. */
	if (n == 0 && !wrapped)
		n = lb_flow_walk(t, &t->sample, keys, vals, LB_FLOW_SAMPLE);
	if (n < 0)
		return n;
	v = lb_flow_pick_victim(vals, (size_t)n);
	if (v < 0)
		return -E2BIG;
	gone = vals[v];
	err = lb_flow_drop(t, &keys[v], &gone);
	if (err == -ENOENT)
		return 0; /* ended meanwhile (port reuse in XDP): room all the same */
	if (err == -ESTALE)
		return 0; /* changed since the sample (a packet, a new connection): the next one */
	if (err)
		return err;
	lb_stat_add(&t->evictions, 1); /* read by the daemon's main thread */
	if (t->evicted && gone.state == LB_FLOW_BOUND)
		t->evicted(t->evicted_ctx, &keys[v], &gone);
	if (t->parked && has_parked(&gone))
		t->parked(t->parked_ctx, &keys[v], gone.parked);
	return 0;
}

/* A flow just put: the peers hear of it, unless a peer sent it. */
static void tell_put(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	struct lb_flow now = *f;

	if (!t->changed || (f->flags & LB_FLOW_F_PEER))
		return;
	now.last_seen_ns = lb_clock_ns(CLOCK_MONOTONIC);
	changed(t, k, &now);
}

/* lb_flow_put() with the map update's @flags (BPF_ANY, or BPF_NOEXIST: -EEXIST if there is one). */
static int put_flags(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f,
		     uint64_t flags)
{
	int tries, err;

	if (t->fd < 0)
		return 0;
	/* Another thread may take the room made meanwhile: a few tries, then E2BIG. */
	for (tries = 0; tries < 3; tries++) {
		if (!bpf_map_update_elem(t->fd, k, f, flags)) {
			tell_put(t, k, f);
			return 0;
		}
		if (errno != E2BIG && errno != ENOSPC)
			return -errno;
		err = evict_one(t);
		if (err)
			return err;
	}
	return -E2BIG;
}

int lb_flow_get(const struct lb_flow_table *t, const struct lb_flow_key *k, struct lb_flow *f)
{
	if (t->fd < 0)
		return -ENOENT;
	return bpf_map_lookup_elem(t->fd, k, f) ? -errno : 0;
}

int lb_flow_put(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	return put_flags(t, k, f, BPF_ANY);
}

int lb_flow_claim(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	struct lb_flow had;
	int err, tries;

	/* Bounded: the flow it finds can end (XDP, expiry) between the insert and the look. */
	for (tries = 0; tries < 3; tries++) {
		err = put_flags(t, k, f, BPF_NOEXIST);
		if (err != -EEXIST)
			return err;
		if (bpf_map_lookup_elem(t->fd, k, &had))
			continue; /* gone meanwhile: insert again */
		if (had.state != LB_FLOW_DISPATCH)
			return -EEXIST;
		/* A record of ours for it was dropped: the flow is this one's now. */
		return lb_flow_put(t, k, f);
	}
	return -EEXIST;
}

int lb_flow_bind(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	int err = lb_flow_put(t, k, f);

	if (!err)
		count(t, f->backend, 1);
	return err;
}

int lb_flow_bind_fresh(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	int err = put_flags(t, k, f, BPF_NOEXIST);

	if (!err)
		count(t, f->backend, 1);
	return err;
}

size_t lb_flow_bind_fresh_many(struct lb_flow_table *t, struct lb_flow_binds *b)
{
	size_t put = 0;
	__u32 i;

	if (b->n > LB_FLOW_BINDS)
		b->n = LB_FLOW_BINDS;
	for (i = 0; i < b->n; i++)
		b->flows[i].result = 0;
	if (t->fd >= 0 && run_step(t, t->progs.binds, b, sizeof(*b)) < 0)
		for (i = 0; i < b->n; i++)
			b->flows[i].result = -E2BIG; /* not run: each on its own below */
	for (i = 0; i < b->n; i++) {
		struct lb_flow_bind *e = &b->flows[i];

		if (e->result == -E2BIG || e->result == -ENOSPC)
			e->result = lb_flow_bind_fresh(t, &e->key, &e->flow);
		else if (!e->result) {
			count(t, e->flow.backend, 1);
			tell_put(t, &e->key, &e->flow);
		}
		put += !e->result;
	}
	return put;
}

int lb_flow_apply_peer(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	struct lb_flow_move m = {
		.key = *k, .op = LB_MOVE_PEER, .state = f->state, .backend = f->backend,
		.req_end = f->req_end, .srv_seq = f->srv_seq, .flags = f->flags | LB_FLOW_F_PEER,
		.seen_ns = f->last_seen_ns, .client_ack = f->client_ack, .binds = f->binds,
		.syn_opts = f->syn_opts,
	};
	struct lb_flow fresh = *f;
	int ret, err;

	memcpy(m.backend_mac, f->backend_mac, sizeof(m.backend_mac));
	memcpy(m.client_hop_mac, f->client_hop_mac, sizeof(m.client_hop_mac));
	ret = lb_flow_move(t, &m);
	if (ret != LB_FLOW_END_NONE || t->fd < 0)
		return ret;
	/* New here. */
	fresh.flags |= LB_FLOW_F_PEER;
	fresh.packets = fresh.bytes = 0;
	fresh.hint_len = 0; /* made under the peer's directory generation, not ours */
	/*
	 * A dispatcher thread may have taken a new connection on these ports since
	 * the look: never over it. The view then meets that flow as any other.
	 */
	err = fresh.state == LB_FLOW_BOUND ? lb_flow_bind_fresh(t, k, &fresh)
					   : put_flags(t, k, &fresh, BPF_NOEXIST);
	if (err == -EEXIST)
		return lb_flow_move(t, &m);
	return err ? err : LB_FLOW_END_ENDED;
}

void lb_flow_unbind(struct lb_flow_table *t, const struct lb_flow_key *k, const struct lb_flow *f)
{
	/* Removed instead, the replay leaves its count there. */
	if (lb_flow_put(t, k, f))
		remove_seen(t, k, LB_FLOW_REPLAY, NULL);
	else
		count(t, f->backend, -1);
}

bool lb_flow_unpark(struct lb_flow_table *t, const struct lb_flow_key *k,
		    uint8_t parked[LB_FLOW_PARKED])
{
	struct lb_flow_move m = { .key = *k, .op = LB_MOVE_UNPARK };

	if (run_step(t, t->progs.move, &m, sizeof(m)) != LB_FLOW_END_ENDED)
		return false;
	memcpy(parked, m.parked, LB_FLOW_PARKED);
	return true;
}

/* @k's connection has ended: its parked backends leave the flow, and go to the callback. */
static void unpark(struct lb_flow_table *t, const struct lb_flow_key *k)
{
	uint8_t parked[LB_FLOW_PARKED];

	if (lb_flow_unpark(t, k, parked))
		t->parked(t->parked_ctx, k, parked);
}

static bool expired(const struct lb_flow *f, uint64_t now_ns)
{
	if (f->last_seen_ns > now_ns)
		return false;
	if (f->state == LB_FLOW_CLOSING)
		return now_ns - f->last_seen_ns > LB_FLOW_LINGER_NS;
	return f->state == LB_FLOW_BOUND && now_ns - f->last_seen_ns > LB_FLOW_IDLE_NS;
}

/* The flows in @d dropped, as lb_flow_drop() drops one; @d emptied. */
static void drop_batch(struct lb_flow_table *t, struct lb_flow_drops *d)
{
	if (d->n && t->fd >= 0)
		run_step(t, t->progs.drops, d, sizeof(*d));
	d->n = 0;
}

bool lb_flow_expire_step(struct lb_flow_table *t, uint64_t now_ns)
{
	static struct lb_flow_key keys[LB_FLOW_SWEEP];
	static struct lb_flow vals[LB_FLOW_SWEEP];
	struct lb_flow_drops drops = { .n = 0 };
	int n, i;

	/* A failed read starts the pass over; the next step takes it up again. */
	if (!t->sweep.started) {
		t->prev_pass_ns = t->pass_ns ? t->pass_ns : now_ns;
		t->pass_ns = now_ns;
	}
	n = lb_flow_walk(t, &t->sweep, keys, vals, LB_FLOW_SWEEP);
	for (i = 0; i < n; i++) {
		/* Closing, or about to go: its parked sockets are not wanted any more. */
		if (t->parked && has_parked(&vals[i]) &&
		    (vals[i].state == LB_FLOW_CLOSING || expired(&vals[i], now_ns)))
			unpark(t, &keys[i]);
		if (expired(&vals[i], now_ns)) {
			drops.flows[drops.n++] = (struct lb_flow_drop){
				.key = keys[i], .seen_ns = vals[i].last_seen_ns, .state = vals[i].state
			};
			if (drops.n == LB_FLOW_DROPS)
				drop_batch(t, &drops);
		}
		/*
		 * Seen since the pass before started, by XDP's coarse stamp: a packet
		 * that came just after that pass read the flow may be stamped a tick
		 * before its start, and would be sent by neither pass.
		 */
		else if (!(vals[i].flags & LB_FLOW_F_PEER) &&
			 vals[i].last_seen_ns + LB_FLOW_COARSE_NS >= t->prev_pass_ns)
			changed(t, &keys[i], &vals[i]);
	}
	drop_batch(t, &drops);
	return t->sweep.started;
}

/* Calls @fn on every flow in one pass over the table; returns how many it counted (true). */
static uint64_t walk_all(struct lb_flow_table *t,
			 bool (*fn)(struct lb_flow_table *t, const struct lb_flow_key *k,
				    const struct lb_flow *f, void *ctx),
			 void *ctx)
{
	struct lb_flow_key keys[WALK_BATCH];
	struct lb_flow vals[WALK_BATCH];
	struct lb_flow_cursor c = {};
	uint64_t n = 0;
	int got, i;

	do {
		got = lb_flow_walk(t, &c, keys, vals, WALK_BATCH);
		for (i = 0; i < got; i++)
			n += fn(t, &keys[i], &vals[i], ctx);
	} while (got >= 0 && c.started);
	return n;
}

static bool unpark_if_parked(struct lb_flow_table *t, const struct lb_flow_key *k,
			     const struct lb_flow *f, void *arg)
{
	if (!has_parked(f))
		return false;
	unpark(t, k);
	return true;
}

uint64_t lb_flow_unpark_all(struct lb_flow_table *t)
{
	return t->parked ? walk_all(t, unpark_if_parked, NULL) : 0;
}

struct end_backend {
	uint32_t slot;
	lb_flow_ended_fn fn;
	void *ctx;
};

static bool end_if_on_backend(struct lb_flow_table *t, const struct lb_flow_key *k,
			      const struct lb_flow *f, void *arg)
{
	const struct end_backend *e = arg;

	/* No ACK seen yet: no point in the window a RST would be taken at. */
	if (f->state != LB_FLOW_BOUND || f->backend != e->slot || !f->client_ack)
		return false;
	if (lb_flow_end(t, k) != LB_FLOW_END_ENDED)
		return false;
	if (e->fn)
		e->fn(e->ctx, k, f);
	return true;
}

uint64_t lb_flow_end_backend(struct lb_flow_table *t, uint32_t slot, lb_flow_ended_fn fn,
			     void *ctx)
{
	struct end_backend e = { .slot = slot, .fn = fn, .ctx = ctx };

	return walk_all(t, end_if_on_backend, &e);
}

static bool remove_if_dispatch(struct lb_flow_table *t, const struct lb_flow_key *k,
			       const struct lb_flow *f, void *ctx)
{
	return (f->state == LB_FLOW_DISPATCH || dispatcher_counted(f->state)) &&
	       !remove_seen(t, k, f->state, NULL);
}

uint64_t lb_flow_forget_dispatch(struct lb_flow_table *t)
{
	return walk_all(t, remove_if_dispatch, NULL);
}
