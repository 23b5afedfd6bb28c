/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The balancer's Prometheus exporter: a small non-blocking HTTP/1.1 server on
 * `metrics.listen` that lives inside the daemon's poll() loop, and the text
 * exposition format 0.0.4 it answers `GET /metrics` with.
 *
 * Use from a poll loop:
 *
 *	m = lb_metrics_open(cfg.metrics.listen, err, sizeof(err));  // "" → NULL, err ""
 *	for (;;) {
 *		n = own_fds;
 *		n += lb_metrics_pollfds(m, pfd + n, LB_METRICS_MAX_FDS);
 *		poll(pfd, n, timeout_ms <= 1000);
 *		...
 *		lb_metrics_serve(m, pfd + own_fds, n - own_fds, &src);
 *	}
 *	lb_metrics_close(m);
 *
 * Every socket is non-blocking and every call returns without waiting. The
 * server:
 *   - keeps at most LB_METRICS_MAX_CLIENTS connections; one more is answered
 *     503 at once and closed;
 *   - gives each connection one deadline for the whole exchange (default
 *     LB_METRICS_TIMEOUT_MS from its accept), so a client that sends nothing,
 *     or reads its answer too slowly, is closed when it passes. Deadlines are
 *     checked on every lb_metrics_serve() call: call it at least once a second
 *     whether or not poll() reported anything for these fds;
 *   - reads a request head of at most LB_METRICS_REQUEST_MAX bytes (431 if
 *     larger), answers one request per connection (`Connection: close`):
 *     GET or HEAD /metrics (any query) → 200 with the exposition, another path
 *     → 404, another method → 405 (`Allow: GET, HEAD`), garbage → 400;
 *   - renders the page once per request, into memory, then writes it as the
 *     socket takes it.
 *
 * Families (all prefixed latebind_; counters end in _total; base units):
 *   build_info{version}                     gauge, 1
 *   vip_info{vip="A.B.C.D:PORT",mode}       gauge, 1 per configured VIP
 *   xdp_packets_total{reason}               counter, the XDP program's verdicts
 *   xdp_bytes_total{reason}                 counter  (reasons: headers/stats.h)
 *   dispatcher_connections                  gauge, connections collecting a request
 *   dispatcher_events_total{event}          counter, every dispatcher counter
 *                                           except the reply_NNN ones
 *   replies_total{code}                     counter, the balancer's own replies
 *   backend_info{backend,address,handoff}   gauge, 1
 *   backend_up{backend}                     gauge 0/1
 *   backend_draining{backend}               gauge 0/1 (down: both 0)
 *   backend_weight{backend}                 gauge
 *   backend_active_flows{backend}           gauge, flows bound and not closed
 *   backend_handoffs_total{backend}         counter, times chosen for a request
 *   backend_packets_total{backend}          counter, fast-path packets to it
 *   backend_bytes_total{backend}            counter
 *   flows_active                            gauge, sum of the active flows
 *   route_requests_total{route}             counter, by route NAME (never a path;
 *                                           the loader keeps names unique), for the
 *                                           metrics.top_routes most requested only,
 *                                           most first (an upper bound)
 *   route_requests_error{route}             gauge, how far above the truth it may be
 *   route_bytes_total{route}                counter, bound bytes since it entered
 *   routed_requests_total                   counter, all routes
 *   route_requests_other                    gauge, the routes not shown, summed
 *   handoff_latency_seconds                 histogram (first request segment →
 *                                           hand-off sent), buckets below
 *   announced{table}                        gauge 0/1, the VIPs' routes are in the
 *                                           announce table (only with announce:)
 *   announce_withdrawals_total{table}       counter, times they were taken out
 * A family whose source is missing (NULL pointer, fd -1, a map read failing)
 * is left out, HELP and TYPE included. The flow table itself is never walked
 * (a million entries would stall the daemon): active flows come from the
 * backends' counts. Route series are capped at metrics.top_routes.
 */
#ifndef LATEBIND_METRICS_H
#define LATEBIND_METRICS_H

#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maps.h"
#include "stats.h"

#define LB_METRICS_MAX_CLIENTS	16
#define LB_METRICS_MAX_FDS	(1 + LB_METRICS_MAX_CLIENTS) /* listener + clients */
#define LB_METRICS_REQUEST_MAX	4096	/* bytes of request head */
#define LB_METRICS_TIMEOUT_MS	5000	/* per connection, accept → closed */

/*
 * A fixed-bucket histogram of durations, kept in integer nanoseconds so sums
 * are exact. Buckets are "less than or equal" upper bounds, 50 µs … 1 s, plus
 * +Inf; counts[] are per bucket (not cumulative; the exposition adds them up).
 */
#define LB_HISTOGRAM_BOUNDS(X)        \
	X(50000ULL, "5e-05")          \
	X(100000ULL, "0.0001")        \
	X(250000ULL, "0.00025")       \
	X(500000ULL, "0.0005")        \
	X(1000000ULL, "0.001")        \
	X(2500000ULL, "0.0025")       \
	X(5000000ULL, "0.005")        \
	X(10000000ULL, "0.01")        \
	X(25000000ULL, "0.025")       \
	X(50000000ULL, "0.05")        \
	X(100000000ULL, "0.1")        \
	X(250000000ULL, "0.25")       \
	X(500000000ULL, "0.5")        \
	X(LB_NS_PER_S, "1")

enum {
#define LB_HIST_COUNT(ns, le) +1
	LB_HISTOGRAM_BUCKETS = 0 LB_HISTOGRAM_BOUNDS(LB_HIST_COUNT) + 1 /* + Inf */
#undef LB_HIST_COUNT
};

struct lb_histogram {
	uint64_t counts[LB_HISTOGRAM_BUCKETS]; /* [LB_HISTOGRAM_BUCKETS - 1]: above 1 s */
	uint64_t count;
	uint64_t sum_ns;
};

/* Count one observation; negative durations count as 0, NaN is ignored. */
void lb_histogram_observe(struct lb_histogram *h, double seconds);
void lb_histogram_observe_ns(struct lb_histogram *h, uint64_t ns);
/* Add @h, which another thread may be observing into, to @sum. */
void lb_histogram_sum(struct lb_histogram *sum, const struct lb_histogram *h);

struct lb_dispatcher;
struct lb_topk;

/*
 * What the page shows. Every member is a pointer (or fd) to state the daemon
 * already has, so it can be filled once at start and passed to every
 * lb_metrics_serve() call; it is read only while a page is rendered. After a
 * reload, point it at the new config and arrays. fds use -1 for "none".
 */
struct lb_metrics_source {
	const struct lb_config *cfg; /* names: VIPs, backends, routes (NULL: none) */

	/* XDP counters: the per-CPU `stats` map (summed over CPUs per scrape), or,
	 * when stats_fd < 0, xdp[LB_XDP_REASON_MAX] already summed (or NULL). */
	int stats_fd;
	const struct lb_counter *xdp;

	/* The `backends` map mmapped: [i] is cfg->backends[i] (slots with an empty
	 * name, holes left by a reload, are skipped). NULL: no backend families. */
	const struct lb_backend *backends;

	/* Dispatcher counters: disp_counters[LB_DISP_MAX] if set, else
	 * disp_counter(disp, c) if set (lb_dispatcher_counter fits). */
	const uint64_t *disp_counters;
	const struct lb_dispatcher *disp;
	uint64_t (*disp_counter)(const struct lb_dispatcher *d, enum lb_dispatch_counter c);
	size_t (*disp_conns)(const struct lb_dispatcher *d); /* lb_dispatcher_conns fits */
	const size_t *conns; /* without disp_conns: the connections held, or NULL */
	/* Each dispatcher thread's figures ([n_threads]), or NULL. */
	const struct lb_disp_thread *threads;
	size_t n_threads;
	/* Called before a page is rendered, to bring what the members point at up to date. */
	void (*refresh)(void *ctx);
	void *refresh_ctx;

	const struct lb_topk *route_top;	    /* route counts (user/topk.h), or NULL */
	const struct lb_histogram *handoff_latency; /* or NULL */
	const struct lb_histogram *rebind_latency;  /* or NULL */
	const char *version;			    /* NULL: lb_version (the build's) */
	const struct lb_peer_stat *peers;	    /* [n_peers]: the peer balancers */
	size_t n_peers;
	const struct lb_announce *announce; /* the VIPs' routes (announce.h); NULL or
					     * table 0: not announcing, families left out */
};

/*
 * Render the exposition into *@out (malloc'd, NUL-terminated; free() it),
 * its length in *@len. Returns 0, or -1 when out of memory.
 */
int lb_metrics_render(const struct lb_metrics_source *src, char **out, size_t *len);

struct lb_metrics;

/*
 * Listen on @listen: "A.B.C.D:PORT" or "[V6]:PORT" (port 0 picks a free one,
 * see lb_metrics_port). "" or NULL disables the exporter: returns NULL with
 * @err set to "". Any other failure returns NULL with a one-line message.
 */
struct lb_metrics *lb_metrics_open(const char *listen, char *err, size_t errlen);
void lb_metrics_close(struct lb_metrics *m);

/* The port actually bound (host order). */
uint16_t lb_metrics_port(const struct lb_metrics *m);

/* Per-connection deadline in milliseconds (tests shorten it); 0 keeps the default. */
void lb_metrics_set_timeout(struct lb_metrics *m, unsigned int ms);

/* Connections currently open. */
unsigned int lb_metrics_clients(const struct lb_metrics *m);

/*
 * Fill @fds[0..max) with the sockets to poll (listener first, then clients,
 * with their events). Returns how many; 0 for a NULL @m. Passing
 * max >= LB_METRICS_MAX_FDS never leaves one out.
 */
int lb_metrics_pollfds(struct lb_metrics *m, struct pollfd *fds, int max);

/*
 * Do what can be done without waiting: expire connections past their deadline,
 * read requests, write answers, accept new connections. @fds[0..n) are the
 * entries lb_metrics_pollfds() filled, after poll() (revents); fds that are
 * not ours are ignored. A NULL @m does nothing.
 */
void lb_metrics_serve(struct lb_metrics *m, const struct pollfd *fds, int n,
		      const struct lb_metrics_source *src);

#endif
