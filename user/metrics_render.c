// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus text exposition (format 0.0.4) of the balancer's counters and
 * the handoff latency histogram: pure rendering into memory, no sockets. The
 * server that hands the page out is metrics_http.c; metrics.h has the contract.
 */
#include <arpa/inet.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "counters.h"
#include "metrics.h"
#include "route_counts.h"
#include "stat.h"
#include "version.h"

/* --- histogram ------------------------------------------------------------ */

static const uint64_t hist_bound_ns[] = {
#define LB_HIST_NS(ns, le) ns,
	LB_HISTOGRAM_BOUNDS(LB_HIST_NS)
#undef LB_HIST_NS
};

static const char *const hist_le[] = {
#define LB_HIST_LE(ns, le) le,
	LB_HISTOGRAM_BOUNDS(LB_HIST_LE)
#undef LB_HIST_LE
};

_Static_assert(sizeof(hist_bound_ns) / sizeof(hist_bound_ns[0]) == LB_HISTOGRAM_BUCKETS - 1,
	       "one bound per bucket but +Inf");

void lb_histogram_observe_ns(struct lb_histogram *h, uint64_t ns)
{
	size_t i;

	for (i = 0; i < LB_HISTOGRAM_BUCKETS - 1; i++)
		if (ns <= hist_bound_ns[i])
			break;
	lb_stat_add(&h->counts[i], 1);
	lb_stat_add(&h->count, 1);
	lb_stat_add(&h->sum_ns, ns);
}

void lb_histogram_sum(struct lb_histogram *sum, const struct lb_histogram *h)
{
	size_t i;

	for (i = 0; i < LB_HISTOGRAM_BUCKETS; i++)
		sum->counts[i] += lb_stat_read(&h->counts[i]);
	sum->count += lb_stat_read(&h->count);
	sum->sum_ns += lb_stat_read(&h->sum_ns);
}

void lb_histogram_observe(struct lb_histogram *h, double seconds)
{
	if (isnan(seconds))
		return;
	if (seconds <= 0)
		seconds = 0;
	/* Past ~584 years the nanoseconds would wrap: a duration that long is a bug. */
	if (seconds > 1e9)
		seconds = 1e9;
	lb_histogram_observe_ns(h, (uint64_t)(seconds * 1e9 + 0.5));
}

/* --- text building -------------------------------------------------------- */

struct sbuf {
	char *p;
	size_t len, cap;
	bool oom;
};

static bool sb_reserve(struct sbuf *b, size_t more)
{
	size_t cap;
	char *p;

	if (b->oom)
		return false;
	if (b->len + more + 1 <= b->cap)
		return true;
	cap = b->cap ? b->cap : 4096;
	while (cap < b->len + more + 1)
		cap *= 2;
	p = realloc(b->p, cap);
	if (!p) {
		b->oom = true;
		return false;
	}
	b->p = p;
	b->cap = cap;
	return true;
}

static void sb_put(struct sbuf *b, const char *s, size_t n)
{
	if (!sb_reserve(b, n))
		return;
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static __attribute__((format(printf, 2, 3))) void sb_printf(struct sbuf *b, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (!sb_reserve(b, 256))
		return;
	va_start(ap, fmt);
	n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->oom = true;
		return;
	}
	if ((size_t)n >= b->cap - b->len) {
		if (!sb_reserve(b, n))
			return;
		va_start(ap, fmt);
		vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
		va_end(ap);
	}
	b->len += n;
}

static void sb_puts(struct sbuf *b, const char *s)
{
	sb_put(b, s, strlen(s));
}

static void sb_u64(struct sbuf *b, uint64_t v)
{
	char tmp[20];
	int i = sizeof(tmp);

	do
		tmp[--i] = '0' + v % 10;
	while (v /= 10);
	sb_put(b, tmp + i, sizeof(tmp) - i);
}

/* A label value as the format wants it: \ → \\, " → \", newline → \n. */
static void sb_label_value(struct sbuf *b, const char *v)
{
	size_t n;

	for (;;) {
		n = strcspn(v, "\\\"\n");
		sb_put(b, v, n);
		v += n;
		if (!*v)
			return;
		sb_put(b, *v == '\n' ? "\\n" : *v == '"' ? "\\\"" : "\\\\", 2);
		v++;
	}
}

static void family(struct sbuf *b, const char *name, const char *type, const char *help)
{
	sb_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* NAME{LABEL="VALUE"} V: the bulk of a page, so without printf. */
static void sample1(struct sbuf *b, const char *name, const char *label, const char *value,
		    uint64_t v)
{
	sb_puts(b, name);
	sb_put(b, "{", 1);
	sb_puts(b, label);
	sb_put(b, "=\"", 2);
	sb_label_value(b, value);
	sb_put(b, "\"} ", 3);
	sb_u64(b, v);
	sb_put(b, "\n", 1);
}

/* --- families --------------------------------------------------------------- */

static const struct lb_metrics_source no_source = { .stats_fd = -1 };

static void render_build(struct sbuf *b, const struct lb_metrics_source *src)
{
	family(b, "latebind_build_info", "gauge", "The running latebind build (always 1).");
	sample1(b, "latebind_build_info", "version", src->version ? src->version : lb_version,
		1);
}

static void render_vips(struct sbuf *b, const struct lb_config *cfg)
{
	char addr[INET_ADDRSTRLEN];
	size_t i;

	if (!cfg || !cfg->n_vips)
		return;
	family(b, "latebind_vip_info", "gauge", "A configured virtual IP:port and its mode (always 1).");
	for (i = 0; i < cfg->n_vips; i++) {
		const struct lb_cfg_vip *v = &cfg->vips[i];

		inet_ntop(AF_INET, &v->address, addr, sizeof(addr));
		sb_printf(b, "latebind_vip_info{vip=\"%s:%u\",mode=\"%s\"} 1\n", addr, v->port,
			  v->mode == LB_VIP_TCP ? "tcp" : "http");
	}
}

static void render_xdp(struct sbuf *b, const struct lb_metrics_source *src)
{
	struct lb_counter sum[LB_XDP_REASON_MAX];
	const struct lb_counter *xdp = src->xdp;
	int r;

	if (src->stats_fd >= 0)
		xdp = lb_counters_sum(src->stats_fd, LB_XDP_REASON_MAX, sum) ? NULL : sum;
	if (!xdp)
		return;
	family(b, "latebind_xdp_packets_total", "counter",
	       "Packets the balancer's XDP program handled, by verdict and reason.");
	for (r = 0; r < LB_XDP_REASON_MAX; r++)
		sample1(b, "latebind_xdp_packets_total", "reason", lb_xdp_reason_names[r],
			xdp[r].packets);
	family(b, "latebind_xdp_bytes_total", "counter",
	       "Bytes of the packets the balancer's XDP program handled, by verdict and reason.");
	for (r = 0; r < LB_XDP_REASON_MAX; r++)
		sample1(b, "latebind_xdp_bytes_total", "reason", lb_xdp_reason_names[r], xdp[r].bytes);
}

/* "reply_404" → "404"; NULL for counters that are not a reply status. */
static const char *reply_code(const char *name)
{
	const char *p = name + 6;

	if (strncmp(name, "reply_", 6) || strlen(p) != 3)
		return NULL;
	if (p[0] < '1' || p[0] > '5' || p[1] < '0' || p[1] > '9' || p[2] < '0' || p[2] > '9')
		return NULL;
	return p;
}

/* Each dispatcher thread's figures (headers/stats.h), a family each, labelled by thread. */
static void render_threads(struct sbuf *b, const struct lb_disp_thread *th, size_t n)
{
	char name[96], id[24];
	size_t i, t;

	for (i = 0; i < LB_THREAD_FIGURES_N; i++) {
		/* A counter's name ends in _total; decisions_total was the first of them. */
		snprintf(name, sizeof(name), "latebind_dispatcher_thread_%s%s",
			 lb_thread_figures[i].name,
			 strcmp(lb_thread_figures[i].type, "counter") ? "" : "_total");
		family(b, name, lb_thread_figures[i].type, lb_thread_figures[i].help);
		for (t = 0; t < n; t++) {
			snprintf(id, sizeof(id), "%zu", t);
			sample1(b, name, "thread", id, lb_thread_figure(&th[t], i));
		}
	}
}

static void render_dispatcher(struct sbuf *b, const struct lb_metrics_source *src)
{
	uint64_t v[LB_DISP_MAX];
	int c;

	if (src->disp_conns) {
		family(b, "latebind_dispatcher_connections", "gauge",
		       "Connections the dispatcher holds while their request arrives.");
		sb_printf(b, "latebind_dispatcher_connections %zu\n", src->disp_conns(src->disp));
	} else if (src->conns) {
		family(b, "latebind_dispatcher_connections", "gauge",
		       "Connections the dispatcher holds while their request arrives.");
		sb_printf(b, "latebind_dispatcher_connections %zu\n", *src->conns);
	}
	if (src->threads && src->n_threads)
		render_threads(b, src->threads, src->n_threads);
	if (!src->disp_counters && !src->disp_counter)
		return;
	for (c = 0; c < LB_DISP_MAX; c++)
		v[c] = src->disp_counters ? src->disp_counters[c] : src->disp_counter(src->disp, c);

	family(b, "latebind_dispatcher_events_total", "counter",
	       "What the dispatcher saw and did before hand-off, by event.");
	for (c = 0; c < LB_DISP_MAX; c++)
		if (!reply_code(lb_dispatch_counter_names[c]))
			sample1(b, "latebind_dispatcher_events_total", "event",
				lb_dispatch_counter_names[c], v[c]);
	family(b, "latebind_replies_total", "counter",
	       "HTTP replies the balancer wrote itself instead of handing the request off, by status code.");
	for (c = 0; c < LB_DISP_MAX; c++) {
		const char *code = reply_code(lb_dispatch_counter_names[c]);

		if (code)
			sample1(b, "latebind_replies_total", "code", code, v[c]);
	}
}

enum bfield { BF_UP, BF_DRAINING, BF_WEIGHT, BF_ACTIVE, BF_CHOSEN, BF_PACKETS, BF_BYTES, BF_N };

static const struct {
	const char *name, *type, *help;
} backend_families[BF_N] = {
	[BF_UP] = { "latebind_backend_up", "gauge",
		    "1 if the backend takes new connections (state up), else 0." },
	[BF_DRAINING] = { "latebind_backend_draining", "gauge",
			  "1 if the backend is draining: it keeps its flows, takes no new ones." },
	[BF_WEIGHT] = { "latebind_backend_weight", "gauge", "The backend's configured weight." },
	[BF_ACTIVE] = { "latebind_backend_active_flows", "gauge",
			"Connections handed off to the backend and not yet closed." },
	[BF_CHOSEN] = { "latebind_backend_handoffs_total", "counter",
			"Requests the dispatcher chose the backend for." },
	[BF_PACKETS] = { "latebind_backend_packets_total", "counter",
			 "Client packets the fast path forwarded to the backend." },
	[BF_BYTES] = { "latebind_backend_bytes_total", "counter",
		       "Bytes of the client packets the fast path forwarded to the backend." },
};

static uint64_t backend_field(const struct lb_backend *be, enum bfield f)
{
	uint32_t state = __atomic_load_n(&be->state, __ATOMIC_RELAXED);

	switch (f) {
	case BF_UP: return state == LB_BACKEND_UP;
	case BF_DRAINING: return state == LB_BACKEND_DRAINING;
	case BF_WEIGHT: return __atomic_load_n(&be->weight, __ATOMIC_RELAXED);
	case BF_ACTIVE: return __atomic_load_n(&be->active, __ATOMIC_RELAXED);
	case BF_CHOSEN: return __atomic_load_n(&be->chosen, __ATOMIC_RELAXED);
	case BF_PACKETS: return __atomic_load_n(&be->packets, __ATOMIC_RELAXED);
	case BF_BYTES: return __atomic_load_n(&be->bytes, __ATOMIC_RELAXED);
	default: return 0;
	}
}

static void render_backends(struct sbuf *b, const struct lb_metrics_source *src)
{
	const struct lb_config *cfg = src->cfg;
	char addr[INET_ADDRSTRLEN];
	uint64_t active = 0;
	size_t n, i;
	int f;

	if (!cfg || !src->backends)
		return;
	n = cfg->n_backends < LB_MAX_BACKENDS ? cfg->n_backends : LB_MAX_BACKENDS;
	if (n) {
		family(b, "latebind_backend_info", "gauge",
		       "A configured backend: its address and hand-off mode (always 1).");
		for (i = 0; i < n; i++) {
			const struct lb_cfg_backend *cb = &cfg->backends[i];

			if (!cb->name[0])
				continue;
			inet_ntop(AF_INET, &cb->address, addr, sizeof(addr));
			sb_printf(b, "latebind_backend_info{backend=\"");
			sb_label_value(b, cb->name);
			sb_printf(b, "\",address=\"%s\",handoff=\"%s\"} 1\n", addr,
				  cb->handoff == LB_HANDOFF_REPLAY ? "replay" : "cookie");
		}
	}
	for (f = 0; f < BF_N && n; f++) {
		family(b, backend_families[f].name, backend_families[f].type, backend_families[f].help);
		for (i = 0; i < n; i++)
			if (cfg->backends[i].name[0])
				sample1(b, backend_families[f].name, "backend", cfg->backends[i].name,
					backend_field(&src->backends[i], f));
	}
	for (i = 0; i < n; i++)
		active += backend_field(&src->backends[i], BF_ACTIVE);
	family(b, "latebind_flows_active", "gauge",
	       "Connections handed off and not yet closed, all backends together.");
	sb_printf(b, "latebind_flows_active %" PRIu64 "\n", active);
}

/*
 * The most requested routes (metrics.top_routes of them), by name, most first;
 * the rest summed. Bounded whatever the number of routes.
 */
static void render_routes(struct sbuf *b, const struct lb_metrics_source *src)
{
	const struct lb_config *cfg = src->cfg;
	const struct lb_topk *t = src->route_top;
	struct lb_topk_entry *e;
	uint64_t shown = 0;
	char fallback[32];
	size_t i, n;

	if (!cfg || !t || !t->cap)
		return;
	e = calloc(t->cap, sizeof(*e));
	if (!e)
		return;
	n = lb_topk_sorted(t, e);
	family(b, "latebind_route_requests_total", "counter",
	       "Requests routed by each of the most requested routes, by route name (an upper "
	       "bound; see route_requests_error).");
	for (i = 0; i < n; i++) {
		if (e[i].route >= cfg->n_routes)
			continue;
		sample1(b, "latebind_route_requests_total", "route",
			lb_route_label(cfg, e[i].route, fallback), e[i].count);
		shown += e[i].count;
	}
	family(b, "latebind_route_requests_error", "gauge",
	       "How far each shown route's count may be above the truth.");
	for (i = 0; i < n; i++)
		if (e[i].route < cfg->n_routes)
			sample1(b, "latebind_route_requests_error", "route",
				lb_route_label(cfg, e[i].route, fallback), e[i].error);
	family(b, "latebind_route_bytes_total", "counter",
	       "Bytes the requests of each shown route bound to a backend (head and declared "
	       "body), since the route entered the list.");
	for (i = 0; i < n; i++)
		if (e[i].route < cfg->n_routes)
			sample1(b, "latebind_route_bytes_total", "route",
				lb_route_label(cfg, e[i].route, fallback), e[i].bytes);
	family(b, "latebind_routed_requests_total", "counter", "Requests routed, every route.");
	sb_printf(b, "latebind_routed_requests_total %" PRIu64 "\n", t->requests);
	family(b, "latebind_route_requests_other", "gauge",
	       "Requests routed by the routes not shown (at least; the shown counts are upper "
	       "bounds).");
	sb_printf(b, "latebind_route_requests_other %" PRIu64 "\n",
		  t->requests > shown ? t->requests - shown : 0);
	free(e);
}

/* Nanoseconds as decimal seconds, without trailing zeros: 150000 → "0.00015". */
static void sb_seconds(struct sbuf *b, uint64_t ns)
{
	const uint64_t per_s = LB_NS_PER_S;
	char frac[16];
	int n;

	if (!(ns % per_s)) {
		sb_printf(b, "%" PRIu64, ns / per_s);
		return;
	}
	n = snprintf(frac, sizeof(frac), "%09" PRIu64, ns % per_s);
	while (n > 0 && frac[n - 1] == '0')
		frac[--n] = '\0';
	sb_printf(b, "%" PRIu64 ".%s", ns / per_s, frac);
}

static void render_latency(struct sbuf *b, const struct lb_histogram *h, const char *name,
			   const char *help)
{
	uint64_t cum = 0;
	size_t i;

	if (!h)
		return;
	family(b, name, "histogram", help);
	for (i = 0; i < LB_HISTOGRAM_BUCKETS; i++) {
		cum += h->counts[i];
		sb_printf(b, "%s_bucket{le=\"%s\"} %" PRIu64 "\n", name,
			  i < LB_HISTOGRAM_BUCKETS - 1 ? hist_le[i] : "+Inf", cum);
	}
	sb_printf(b, "%s_sum ", name);
	sb_seconds(b, h->sum_ns);
	/* The +Inf bucket and _count must agree: both are the buckets' total. */
	sb_printf(b, "\n%s_count %" PRIu64 "\n", name, cum);
}

/* Per peer balancer, labelled peer="ADDR:PORT" (at most LB_MAX_PEERS series each). */
static void render_peers(struct sbuf *b, const struct lb_metrics_source *src)
{
	static const struct {
		const char *name, *type, *help;
		size_t off;
	} fams[] = {
		{ "latebind_peer_last_heard_timestamp_seconds", "gauge",
		  "When the latest flow-sync datagram from the peer balancer passed its checks (0: never).",
		  offsetof(struct lb_peer_stat, last_heard_ms) },
		{ "latebind_peer_views_received_total", "counter",
		  "Flow views received from the peer balancer.",
		  offsetof(struct lb_peer_stat, views_received) },
		{ "latebind_peer_datagrams_sent_total", "counter",
		  "Flow-sync datagrams sent to the peer balancer.",
		  offsetof(struct lb_peer_stat, datagrams_sent) },
		{ "latebind_peer_send_errors_total", "counter",
		  "Flow-sync datagrams to the peer balancer that the kernel refused.",
		  offsetof(struct lb_peer_stat, send_errors) },
	};
	char label[INET_ADDRSTRLEN + 8], addr[INET_ADDRSTRLEN];
	size_t f, i;

	if (!src->peers || !src->n_peers)
		return;
	for (f = 0; f < sizeof(fams) / sizeof(fams[0]); f++) {
		family(b, fams[f].name, fams[f].type, fams[f].help);
		for (i = 0; i < src->n_peers && i < LB_MAX_PEERS; i++) {
			const struct lb_peer_stat *p = &src->peers[i];
			uint64_t v;

			memcpy(&v, (const char *)p + fams[f].off, sizeof(v));
			inet_ntop(AF_INET, &p->addr, addr, sizeof(addr));
			snprintf(label, sizeof(label), "%s:%u", addr, p->port);
			if (f == 0) /* milliseconds kept, seconds shown */
				sb_printf(b, "%s{peer=\"%s\"} %" PRIu64 ".%03" PRIu64 "\n", fams[f].name,
					  label, v / 1000, v % 1000);
			else
				sample1(b, fams[f].name, "peer", label, v);
		}
	}
}

static void render_announce(struct sbuf *b, const struct lb_announce *a)
{
	char table[16];

	if (!a || !a->table)
		return;
	snprintf(table, sizeof(table), "%u", a->table);
	family(b, "latebind_announced", "gauge",
	       "1 while the VIPs' routes are in the announce table (exported by BGP), else 0.");
	sample1(b, "latebind_announced", "table", table, a->announced ? 1 : 0);
	family(b, "latebind_announce_withdrawals_total", "counter",
	       "Times the VIPs' routes were withdrawn from the announce table.");
	sample1(b, "latebind_announce_withdrawals_total", "table", table, a->withdrawals);
}

int lb_metrics_render(const struct lb_metrics_source *src, char **out, size_t *len)
{
	struct sbuf b = {};

	if (!src)
		src = &no_source;
	render_build(&b, src);
	render_vips(&b, src->cfg);
	render_xdp(&b, src);
	render_dispatcher(&b, src);
	render_backends(&b, src);
	render_routes(&b, src);
	render_peers(&b, src);
	render_announce(&b, src->announce);
	render_latency(&b, src->handoff_latency, "latebind_handoff_latency_seconds",
		       "Time from a connection's first request segment to its hand-off being sent.");
	render_latency(&b, src->rebind_latency, "latebind_rebind_latency_seconds",
		       "Time from holding a later request for another backend to its hand-off to "
		       "that backend starting.");
	if (b.oom || !sb_reserve(&b, 0)) {
		free(b.p);
		*out = NULL;
		*len = 0;
		return -1;
	}
	*out = b.p;
	*len = b.len;
	return 0;
}
