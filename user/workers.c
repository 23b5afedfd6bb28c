// SPDX-License-Identifier: GPL-2.0
/*
 * The dispatcher threads (see workers.h): each one's loop, its share of the
 * queues, and what the main thread reads of them.
 */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "counters.h"
#include "dispatcher.h"
#include "handoff.h"
#include "log.h"
#include "packet.h"
#include "route_counts.h"
#include "topk.h"
#include "stat.h"
#include "thread_ring.h"
#include "workers.h"

#define WAIT_MAX_MS 1000 /* a thread looks at its timers at least this often */
/* Frames a thread takes from one ring per turn: its own sockets are not starved. */
#define RING_BATCH 256

struct worker {
	struct lb_workers *ws;
	unsigned int id;
	pthread_t thread;
	bool started;
	int wake_fd; /* eventfd: the main thread has news (a config, stop) */
	unsigned int queues[LB_MAX_QUEUES], n_queues;
	unsigned int tx_queue; /* where this thread's frames leave now */
	struct lb_dispatcher *disp;
	struct lb_flow_table flows; /* its own cursors and evictions on the shared map */
	struct lb_handoff_ctx handoff;
	struct lb_handoff_batch batch; /* the hand-offs of the frames being received */
	struct lb_disp_conf *conf; /* the one in use */
	uint64_t seen;		   /* the epoch of the newest config taken (atomic) */
	uint64_t now_ms, tai_s;
	uint64_t woken; /* bit u: a frame went to thread u's ring this turn, wake it */
	/*
	 * (atomic) In poll() or about to be: frames pushed to its rings need a
	 * wake-up. Awake, it drains them before it sleeps again, so the producer
	 * spares the write and the wake-up, each of which costs more than the frame.
	 */
	bool asleep;
	/* Its own figures beside the dispatcher's counters (stat.h: it writes, others read). */
	uint64_t frames, frames_in;
	struct lb_disp_thread *figures; /* its disp_threads row (mmapped), or NULL */
};

struct lb_workers {
	struct lb_workers_env env;
	struct lb_disp_conf *conf; /* published last (atomic) */
	uint64_t epoch;		   /* of that config (atomic) */
	bool stop;		   /* (atomic) */
	unsigned int n;
	/* rings[from * n + to]: frames thread `from` received for connections `to` owns; n > 1 only */
	struct lb_tring **rings;
	struct worker w[];
};

unsigned int lb_workers_threads(unsigned int threads, unsigned int queues)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);

	if (!queues)
		queues = 1;
	if (!threads)
		threads = cpus > 0 && (unsigned long)cpus < queues ? (unsigned int)cpus : queues;
	return threads < queues ? threads : queues;
}

/* The dispatcher's frames leave through the queue being served (timers: the first). */
static int send_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct worker *w = arg;

	return lb_xsk_send(w->ws->env.xsk, w->tx_queue, frame, len);
}

/*
 * A bound flow this thread evicted from the full flow table: its client's next
 * packet would find no flow and be dropped as a bad cookie, so the client
 * would hang until its own timeout. It gets a RST instead (flushed with the
 * batch); an idle keep-alive connection is what gets evicted.
 */
static void on_evicted(void *arg, const struct lb_flow_key *key, const struct lb_flow *f)
{
	struct worker *w = arg;
	uint8_t frame[128];
	size_t len = lb_client_reset_build(frame, sizeof(frame), key, f, w->ws->env.ifs->mac);

	if (len)
		lb_xsk_send(w->ws->env.xsk, w->tx_queue, frame, len);
}

/* A flow this thread evicted had parked sockets: they go (lb_handoff_retire_parked). */
static void on_parked(void *arg, const struct lb_flow_key *key,
		      const uint8_t parked[LB_FLOW_PARKED])
{
	struct worker *w = arg;

	lb_dispatcher_count(w->disp, LB_DISP_PARKED_RETIRES,
			    lb_handoff_retire_parked(&w->handoff, key, parked));
}

/* The config published last, if this thread has not taken it yet. */
static void take_config(struct worker *w)
{
	uint64_t epoch = __atomic_load_n(&w->ws->epoch, __ATOMIC_ACQUIRE);
	struct lb_disp_conf *conf;

	if (epoch == w->seen)
		return;
	/* Published before its epoch: at least as new as @epoch says. */
	conf = __atomic_load_n(&w->ws->conf, __ATOMIC_ACQUIRE);
	if (conf != w->conf) {
		lb_dispatcher_set_config_gen(w->disp, &conf->cfg, conf->dir, conf->hint_gen);
		w->handoff.cfg = &conf->cfg;
		w->conf = conf;
	}
	/* From here on the previous config is not used by this thread. */
	__atomic_store_n(&w->seen, epoch, __ATOMIC_RELEASE);
}

/* A frame of a connection this thread owns. */
static void on_own_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct worker *w = arg;

	lb_dispatcher_input(w->disp, frame, len, w->now_ms, w->tai_s);
}

/*
 * A frame from one of this thread's sockets. RSS is not symmetric: a backend's
 * frame (replay SYN/ACK, probe answer, a moving flow's RST) may come in on
 * another queue than its client's, so frames go by their connection's owner.
 */
static void take_frame(struct worker *w, const uint8_t *frame, size_t len)
{
	struct lb_workers *ws = w->ws;
	int owner = ws->n > 1 ? lb_frame_owner(frame, len, ws->n) : -1;

	if (owner < 0 || (unsigned int)owner == w->id) {
		on_own_frame(w, frame, len);
		return;
	}
	/* A new connection's whole request leaves no state: handed off here, no wake-up. */
	if (lb_dispatcher_take_whole(w->disp, frame, len, w->now_ms, w->tai_s))
		return;
	if (lb_tring_push(ws->rings[w->id * ws->n + owner], frame, len)) {
		lb_dispatcher_count(w->disp, LB_DISP_THREAD_RING_FULL, 1);
		return;
	}
	lb_dispatcher_count(w->disp, LB_DISP_THREAD_HANDOFFS, 1);
	w->woken |= 1ULL << owner;
}

/* A hand-off that lost its flow: its frame once more, handed off at once this time. */
static void retry_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct worker *w = arg;

	w->handoff.batch = NULL;
	take_frame(w, frame, len);
	w->handoff.batch = &w->batch;
}

/* The hand-offs waiting in the batch: their flows in (one system call), their frames out. */
static void commit(struct worker *w)
{
	lb_handoff_commit(&w->handoff, retry_frame, w);
}

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
	struct worker *w = arg;

	lb_stat_add(&w->frames, 1);
	/* More of a connection whose hand-off waits: it must meet the flow, as XDP would have. */
	if (lb_handoff_waiting(&w->handoff, frame, len))
		commit(w);
	w->batch.rx_frame = frame;
	w->batch.rx_len = len;
	take_frame(w, frame, len);
	w->batch.rx_frame = NULL;
}

static void wake(struct worker *w);

static struct lb_disp_thread figures_of(const struct worker *w)
{
	return (struct lb_disp_thread){
		.queues = w->n_queues, .first_queue = w->queues[0],
		.frames = lb_stat_read(&w->frames),
		.handoffs_out = lb_dispatcher_counter(w->disp, LB_DISP_THREAD_HANDOFFS),
		.handoffs_in = lb_stat_read(&w->frames_in),
		.ring_full = lb_dispatcher_counter(w->disp, LB_DISP_THREAD_RING_FULL),
		.decisions = lb_dispatcher_counter(w->disp, LB_DISP_DECISIONS),
		.connections = lb_dispatcher_conns(w->disp),
	};
}

/*
 * At the end of each turn, where `latebind status` reads them: the flow table's
 * evictions into the counters' row, this thread's figures into its row (plain
 * stores to mmapped memory; the counters themselves are written as they count).
 */
static void publish(struct worker *w)
{
	struct lb_disp_thread f;

	lb_dispatcher_publish_evictions(w->disp);
	if (!w->figures)
		return;
	f = figures_of(w);
	w->figures->queues = f.queues;
	w->figures->first_queue = f.first_queue;
#define STORE_FIGURE(field, type, help) __atomic_store_n(&w->figures->field, f.field, __ATOMIC_RELAXED);
	LB_THREAD_FIGURES(STORE_FIGURE)
#undef STORE_FIGURE
}

/*
 * The owners this turn's frames went to are woken, once each, if asleep. The
 * fence pairs with the one in sleep_ready(): either the owner sees the frames
 * before it sleeps, or this thread sees it asleep.
 */
static void wake_owners(struct worker *w)
{
	unsigned int u;

	if (!w->woken)
		return;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (u = 0; w->woken; u++)
		if (w->woken & (1ULL << u)) {
			w->woken &= ~(1ULL << u);
			if (__atomic_load_n(&w->ws->w[u].asleep, __ATOMIC_RELAXED))
				wake(&w->ws->w[u]);
		}
}

/* Another thread's ring towards this one holds a frame. */
static bool rings_pending(struct worker *w)
{
	struct lb_workers *ws = w->ws;
	unsigned int from;

	for (from = 0; from < ws->n; from++)
		if (from != w->id && lb_tring_pending(ws->rings[from * ws->n + w->id]))
			return true;
	return false;
}

/*
 * About to sleep @wait_ms: said first, then the rings looked at once more
 * (a frame pushed before the producer saw this thread awake): 0 if one waits.
 */
static uint64_t sleep_ready(struct worker *w, uint64_t wait_ms)
{
	if (w->ws->n < 2 || !wait_ms)
		return wait_ms;
	__atomic_store_n(&w->asleep, true, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	return rings_pending(w) ? 0 : wait_ms;
}

/*
 * Frames the other threads passed to this one, answered through its first
 * queue. True if a ring may hold more: the next poll must not sleep, as their
 * producers woke this thread once already.
 */
static bool drain_rings(struct worker *w)
{
	struct lb_workers *ws = w->ws;
	unsigned int from;
	bool more = false;

	if (ws->n < 2)
		return false;
	w->tx_queue = w->queues[0];
	for (from = 0; from < ws->n; from++) {
		unsigned int got;

		if (from == w->id)
			continue;
		got = lb_tring_drain(ws->rings[from * ws->n + w->id], RING_BATCH, on_own_frame, w);
		lb_stat_add(&w->frames_in, got);
		if (got == RING_BATCH)
			more = true;
	}
	return more;
}

static void *run(void *arg)
{
	struct worker *w = arg;
	struct lb_xsk *xsk = w->ws->env.xsk;
	struct pollfd pfd[LB_MAX_QUEUES + 1];
	uint64_t wait_ms = 0, junk;
	unsigned int i;
	bool more;

	for (i = 0; i < w->n_queues; i++)
		pfd[i] = (struct pollfd){ .fd = lb_xsk_fd(xsk, w->queues[i]), .events = POLLIN };
	pfd[w->n_queues] = (struct pollfd){ .fd = w->wake_fd, .events = POLLIN };
	while (!__atomic_load_n(&w->ws->stop, __ATOMIC_ACQUIRE)) {
		take_config(w);
		wait_ms = sleep_ready(w, wait_ms);
		/* Sleep until a frame, the main thread or the next timer: no busy loop. */
		if (poll(pfd, w->n_queues + 1, wait_ms > WAIT_MAX_MS ? WAIT_MAX_MS : (int)wait_ms) < 0 &&
		    errno != EINTR)
			pr_warn("dispatcher thread %u: poll: %s\n", w->id, strerror(errno));
		__atomic_store_n(&w->asleep, false, __ATOMIC_RELAXED);
		if (pfd[w->n_queues].revents & POLLIN) {
			if (read(w->wake_fd, &junk, sizeof(junk)) < 0)
				junk = 0; /* another read emptied it: nothing lost */
			/* Stop, or a new config first; then on: another thread's frames may wait. */
			if (__atomic_load_n(&w->ws->stop, __ATOMIC_ACQUIRE))
				break;
			take_config(w);
		}
		w->now_ms = lb_clock_ms(CLOCK_MONOTONIC);
		w->tai_s = lb_clock_ns(CLOCK_TAI) / LB_NS_PER_S;
		w->handoff.now_ns = w->now_ms * LB_NS_PER_MS;
		for (i = 0; i < w->n_queues; i++) {
			w->tx_queue = w->queues[i];
			while (lb_xsk_rx(xsk, w->tx_queue, on_frame, w))
				commit(w);
		}
		wake_owners(w);
		more = drain_rings(w);
		w->tx_queue = w->queues[0];
		wait_ms = lb_dispatcher_timers(w->disp, w->now_ms);
		if (more)
			wait_ms = 0;
		/* Sent by the poll() the loop goes back to, which looks at every socket of ours. */
		for (i = 0; i < w->n_queues; i++)
			lb_xsk_flush_by_poll(xsk, w->queues[i]);
		publish(w);
		/* Views of the connections bound this turn leave now, not at the main thread's turn. */
		lb_peers_flush(w->ws->env.peers);
	}
	return NULL;
}

static int worker_init(struct lb_workers *ws, struct worker *w, unsigned int id,
		       struct lb_disp_conf *conf)
{
	const struct lb_workers_env *env = &ws->env;
	struct lb_dispatcher_maps maps = {
		.flows = &w->flows, .backends_fd = env->backends_fd,
		.counters = env->rows ? lb_disp_row_counts(&env->rows[id]) : NULL,
		.backends = env->backends, .hint_gen_fd = -1, .hint_gen = conf->hint_gen,
	};
	unsigned int q, nq = lb_xsk_queues(env->xsk);

	w->ws = ws;
	w->id = id;
	w->conf = conf;
	for (q = id; q < nq; q += ws->n)
		w->queues[w->n_queues++] = q;
	w->tx_queue = w->queues[0];
	lb_flow_table_init(&w->flows, env->flows_fd, env->flow_progs, env->backends);
	w->flows.evicted = on_evicted;
	w->flows.evicted_ctx = w;
	w->flows.parked = on_parked;
	w->flows.parked_ctx = w;
	if (env->peers) {
		w->flows.changed = lb_peers_changed;
		w->flows.changed_ctx = env->peers;
	}
	w->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (w->wake_fd < 0)
		return -1;
	w->figures = env->figures ? &env->figures[id] : NULL;
	w->disp = lb_dispatcher_new(&conf->cfg, conf->dir, env->secret, &maps, send_frame, w);
	if (!w->disp)
		return -1;
	lb_handoff_init(&w->handoff, &conf->cfg, &w->flows, env->backends, env->secret, env->ifs,
			send_frame, w);
	w->handoff.batch = &w->batch;
	lb_dispatcher_set_bind(w->disp, lb_handoff_bind, &w->handoff);
	return 0;
}

/*
 * A ring for each ordered pair of threads. 1024 frames each up to 3 threads;
 * fewer beyond, so a thread's incoming rings hold about 2048 frames in all.
 */
static int rings_new(struct lb_workers *ws)
{
	unsigned int slots = 1024, i;

	while (slots > 64 && slots * (ws->n - 1) > 2048)
		slots /= 2;
	ws->rings = calloc((size_t)ws->n * ws->n, sizeof(*ws->rings));
	if (!ws->rings)
		return -1;
	for (i = 0; i < ws->n * ws->n; i++)
		if (i / ws->n != i % ws->n && !(ws->rings[i] = lb_tring_new(slots)))
			return -1;
	return 0;
}

static void wake(struct worker *w)
{
	uint64_t one = 1;

	if (write(w->wake_fd, &one, sizeof(one)) < 0)
		pr_debug("dispatcher thread %u: wake: %s\n", w->id, strerror(errno));
}

struct lb_workers *lb_workers_start(const struct lb_workers_env *env, unsigned int n,
				    struct lb_disp_conf *conf)
{
	struct lb_workers *ws;
	unsigned int i;
	int err;

	if (!n || n > lb_xsk_queues(env->xsk)) {
		errno = EINVAL;
		return NULL;
	}
	ws = calloc(1, sizeof(*ws) + n * sizeof(ws->w[0]));
	if (!ws)
		return NULL;
	ws->env = *env;
	ws->n = n;
	ws->conf = conf;
	for (i = 0; i < n; i++)
		ws->w[i].wake_fd = -1;
	if (n > 1 && rings_new(ws))
		goto fail;
	for (i = 0; i < n; i++) {
		if (worker_init(ws, &ws->w[i], i, conf))
			goto fail;
	}
	/* Signals stay with the main thread: the threads inherit its blocked mask. */
	for (i = 0; i < n; i++) {
		err = pthread_create(&ws->w[i].thread, NULL, run, &ws->w[i]);
		if (err) {
			errno = err;
			goto fail;
		}
		ws->w[i].started = true;
	}
	return ws;
fail:
	err = errno;
	lb_workers_stop(ws);
	errno = err;
	return NULL;
}

void lb_workers_stop(struct lb_workers *ws)
{
	unsigned int i;

	if (!ws)
		return;
	__atomic_store_n(&ws->stop, true, __ATOMIC_RELEASE);
	for (i = 0; i < ws->n; i++)
		if (ws->w[i].started)
			wake(&ws->w[i]);
	/* All joined before any eventfd closes: a running thread may still wake another. */
	for (i = 0; i < ws->n; i++)
		if (ws->w[i].started)
			pthread_join(ws->w[i].thread, NULL);
	for (i = 0; i < ws->n; i++) {
		struct worker *w = &ws->w[i];
		unsigned int q;

		/* Its records' flows go with it, their parked sockets retired: sent now. */
		lb_dispatcher_free(w->disp);
		for (q = 0; q < w->n_queues; q++)
			lb_xsk_flush(ws->env.xsk, w->queues[q]);
		if (w->wake_fd >= 0)
			close(w->wake_fd);
	}
	if (ws->rings)
		for (i = 0; i < ws->n * ws->n; i++)
			lb_tring_free(ws->rings[i]);
	free(ws->rings);
	free(ws);
}

unsigned int lb_workers_count(const struct lb_workers *ws)
{
	return ws->n;
}

uint64_t lb_workers_publish(struct lb_workers *ws, struct lb_disp_conf *conf)
{
	uint64_t epoch = ws->epoch + 1; /* only this (main) thread writes it */
	unsigned int i;

	__atomic_store_n(&ws->conf, conf, __ATOMIC_RELEASE);
	__atomic_store_n(&ws->epoch, epoch, __ATOMIC_RELEASE);
	for (i = 0; i < ws->n; i++)
		wake(&ws->w[i]);
	return epoch;
}

bool lb_workers_caught_up(const struct lb_workers *ws, uint64_t epoch)
{
	unsigned int i;

	for (i = 0; i < ws->n; i++)
		if (__atomic_load_n(&ws->w[i].seen, __ATOMIC_ACQUIRE) < epoch)
			return false;
	return true;
}

void lb_workers_figures(const struct lb_workers *ws, struct lb_disp_thread *out)
{
	unsigned int i;

	for (i = 0; i < ws->n; i++)
		out[i] = figures_of(&ws->w[i]);
}

size_t lb_workers_conns(const struct lb_workers *ws)
{
	size_t n = 0;
	unsigned int i;

	for (i = 0; i < ws->n; i++)
		n += lb_dispatcher_conns(ws->w[i].disp);
	return n;
}

void lb_workers_latency(const struct lb_workers *ws, struct lb_histogram *handoff,
			struct lb_histogram *rebind)
{
	unsigned int i;

	for (i = 0; i < ws->n; i++) {
		lb_histogram_sum(handoff, lb_dispatcher_handoff_latency(ws->w[i].disp));
		lb_histogram_sum(rebind, lb_dispatcher_rebind_latency(ws->w[i].disp));
	}
}

int lb_workers_route_top(struct lb_workers *ws, const struct lb_config *cfg, struct lb_topk *out)
{
	struct lb_route_counts *rc[LB_MAX_QUEUES];
	unsigned int i;

	for (i = 0; i < ws->n && i < LB_MAX_QUEUES; i++)
		rc[i] = lb_dispatcher_route_counts(ws->w[i].disp);
	return lb_route_counts_merge(rc, i, cfg, out);
}
