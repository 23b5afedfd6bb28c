// SPDX-License-Identifier: GPL-2.0
/*
 * decisions: how many routing decisions a second the dispatcher's own code
 * makes on one core, with a content directory of a million routes.
 *
 *   decisions [--routes N] [--requests N] [--rounds N] [--pool N] [--seed N]
 *             [--cpu N] [--threads N] [--keep-config FILE]
 *
 * --threads N runs the decisions on N threads, as the daemon's dispatcher
 * threads (dispatcher: {threads: N}) would: thread t pinned to CPU (cpu + t) %
 * CPUs, deciding on its own slice of the pool, the directory shared read-only,
 * the backends' active counts shared and moved with atomics (as in the mmapped
 * `backends` map). Each round then prints the total and one line per thread:
 *   round=I threads=N decisions=M seconds=S per_second=R   (S: the slowest thread)
 *   round=I thread=T decisions=M seconds=S cpu_seconds=C per_second=R
 *
 * What it runs is what the dispatcher runs once a request head is complete
 * (user/dispatcher.c, conn_parse and conn_decide), linked from the project's
 * own objects (user/http.c, directory.c, select.c, config.c, as the Makefile
 * builds them for the tests):
 *
 *   lb_http_parse_head  → lb_http_route_path → lb_directory_lookup →
 *   the backends' view (state, weight, active flows) → lb_select_backend
 *
 * Nothing here touches the network, a BPF map or the AF_XDP ring: the figure is
 * the decision alone, the part of a new connection's cost that grows with the
 * size of the directory. (The dispatcher reads the backends' active counts
 * from the mmap'ed `backends` array; here they are a plain array that the
 * benchmark moves as flows would: +1 on a choice, -1 when one of the last 64
 * choices ends.)
 *
 * Setup, timed and printed but not part of the rate:
 *  1. a YAML config with three backends and N routes is written to a temporary
 *     file and loaded with lb_config_load(), as `latebind balancer` does: 70 %
 *     exact file paths (/dNNN/fNNNNNNN.jpg, 1000 directories), 30 % directory
 *     prefixes (/pNNNNN/sNNN/), over the hosts "*", "www.example.com" (every
 *     7th file) and "*.example.com" (every other prefix), with holder sets of
 *     one, two or three backends;
 *  2. the directory is built from it (lb_directory_build);
 *  3. a pool of request heads is made, each for a route drawn at random (so a
 *     run touches the whole directory, not a cached corner), as curl sends them
 *     (request line, Host, User-Agent, Accept): 70 % files, 25 % files under a
 *     prefix, 5 % paths no route holds (404: a decision too, and as costly).
 *     Every 16th path is percent-encoded in one place, every 32nd carries a
 *     query, so normalisation is not always the short cut.
 * Then R rounds of M decisions each, on the pool in order, pinned to one CPU;
 * every decision's outcome is checked against the route the head was made for.
 *
 * Prints one line per round and a summary:
 *   round=I decisions=M seconds=S cpu_seconds=C per_second=R per_cpu_second=R ns_per_decision=X
 *   routes=N exact=E prefixes=P config_load_s=T build_s=T directory_mib=X pool=K
 *     not_found=F wrong=W  min_per_second=... median_per_second=... max_per_second=...
 * per_cpu_second (decisions over the process's own user + system time) does
 * not care how much of the core other processes took; per_second is wall clock.
 * Exits 1 if any decision was wrong.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "directory.h"
#include "http.h"
#include "maps.h"
#include "route_counts.h"
#include "select.h"
#include "site_head.h"

#define N_BACKENDS 3
#define FLOW_RING 64 /* choices still "active": each ends 64 decisions later */

struct opts {
	size_t routes, requests, rounds, pool, threads;
	bool count_routes; /* each round also with the route counts (one thread only) */
	uint64_t seed;
	int cpu;
	const char *keep_config;
};

/* Every head in one arena; head i is heads[off[i] .. off[i] + len[i]). */
struct pool {
	char *heads;
	size_t *off;
	uint32_t *len;
	int32_t *want; /* route index expected, -1 for a 404 */
	size_t n;
};

static uint64_t rng;

static uint64_t rnd(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return rng * 0x2545f4914f6cdd1dULL;
}

static double wall(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double cpu(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static void die(const char *what)
{
	fprintf(stderr, "decisions: %s\n", what);
	exit(2);
}

/* Route i of n: 70 % exact files, then prefixes. */
static size_t n_exact(size_t n)
{
	return n * 7 / 10;
}

static void route_target(size_t i, size_t n, char *buf, size_t len)
{
	if (i < n_exact(n))
		snprintf(buf, len, "/d%03zu/f%07zu.jpg", i % 1000, i);
	else
		snprintf(buf, len, "/p%05zu/s%03zu/", (i - n_exact(n)) / 1000, i % 1000);
}

static const char *route_host(size_t i, size_t n)
{
	if (i < n_exact(n))
		return i % 7 ? "*" : "www.example.com";
	return i % 2 ? "*" : "*.example.com";
}

/* Holder sets: {web1}, {web1,web2}, {web2,web3}, {web1,web2,web3}. */
static const char *route_holders(size_t i)
{
	static const char *sets[] = { "[web1]", "[web1, web2]", "[web2, web3]",
				      "[web1, web2, web3]" };
	return sets[i % 4];
}

static void write_config(FILE *f, size_t n)
{
	char target[48];

	fprintf(f, "# generated by bench/decisions.c: %zu routes\n"
		   BENCH_SITE_HEAD,
		n);
	for (size_t i = 0; i < n; i++) {
		route_target(i, n, target, sizeof(target));
		fprintf(f, "  - {host: \"%s\", %s: %s, backends: %s}\n", route_host(i, n),
			i < n_exact(n) ? "path" : "prefix", target, route_holders(i));
	}
	fprintf(f, "cookie: {key_file: /nonexistent/decisions-bench.key}\n");
}

/* A request for route i (or for nothing, want = -1), as curl would send it. */
static int make_head(char *buf, size_t len, size_t n, int32_t *want)
{
	size_t i = (size_t)(rnd() % n);
	unsigned int kind = (unsigned int)(rnd() % 100);
	char path[96], target[48];
	const char *host = route_host(i, n);

	route_target(i, n, target, sizeof(target));
	if (!strcmp(host, "*"))
		host = "site.example.net";
	else if (host[0] == '*')
		host = "img.example.com";
	*want = (int32_t)i;
	if (kind < 5) {
		/* Nothing holds it: a directory no route names, on a host with no "*" miss. */
		snprintf(path, sizeof(path), "/missing/%07zu.jpg", i);
		*want = -1;
	} else if (i < n_exact(n)) {
		snprintf(path, sizeof(path), "%s", target);
	} else {
		snprintf(path, sizeof(path), "%sitem%zu.html", target, i % 97);
	}
	if (i % 16 == 3) { /* "/d123/..." as "/%64123/...": the same route once decoded */
		memmove(path + 4, path + 2, strlen(path + 2) + 1);
		memcpy(path + 1, "%64", 3);
		if (*want >= 0 && i >= n_exact(n))
			memcpy(path + 1, "%70", 3); /* prefix routes start with 'p' */
		if (*want < 0)
			memcpy(path + 1, "%6d", 3); /* "/missing" starts with 'm' */
	}
	if (i % 32 == 5)
		strcat(path, "?v=2");
	return snprintf(buf, len,
			"GET %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: curl/7.88.1\r\n"
			"Accept: */*\r\n\r\n",
			path, host);
}

static void make_pool(struct pool *p, size_t k, size_t n)
{
	size_t cap = k * 128, used = 0;

	p->heads = malloc(cap);
	p->off = malloc(k * sizeof(*p->off));
	p->len = malloc(k * sizeof(*p->len));
	p->want = malloc(k * sizeof(*p->want));
	if (!p->heads || !p->off || !p->len || !p->want)
		die("out of memory for the request pool");
	for (size_t j = 0; j < k; j++) {
		int w = make_head(p->heads + used, cap - used, n, &p->want[j]);

		if (w <= 0 || (size_t)w >= cap - used)
			die("request pool arena too small");
		p->off[j] = used;
		p->len[j] = (uint32_t)w;
		used += (size_t)w;
	}
	p->n = k;
}

/* One decision, as conn_parse + conn_decide make it; returns the route or -1 (404), -2 error. */
static int decide(const struct lb_directory *dir, const char *head, size_t len,
		  struct lb_backend_view *view, const uint64_t *active, uint32_t *rr,
		  int *chosen, const char **name)
{
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_http_request req;
	struct lb_route_match m;
	char path[4096];
	int plen;

	if (lb_http_parse_head(head, len, &lim, &req) != LB_HTTP_DONE)
		return -2;
	plen = lb_http_route_path(&req, path, sizeof(path));
	if (plen < 0)
		return -2;
	if (!lb_directory_lookup(dir, req.host, req.host_len, path, (size_t)plen, &m))
		return -1;
	for (size_t b = 0; b < N_BACKENDS; b++) /* read_backends(): state and load */
		view[b].active = __atomic_load_n(&active[b], __ATOMIC_RELAXED);
	*chosen = lb_select_backend(m.holders, m.n_holders, view, N_BACKENDS, rr);
	*name = m.name;
	return *chosen < 0 ? -2 : (int)m.route;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "routes", required_argument, NULL, 'n' },
		{ "requests", required_argument, NULL, 'm' },
		{ "rounds", required_argument, NULL, 'r' },
		{ "pool", required_argument, NULL, 'p' },
		{ "seed", required_argument, NULL, 's' },
		{ "cpu", required_argument, NULL, 'c' },
		{ "threads", required_argument, NULL, 't' },
		{ "keep-config", required_argument, NULL, 'k' },
		{ "count-routes", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .routes = 1000000, .requests = 2000000, .rounds = 3,
			    .pool = 262144, .seed = 1, .cpu = -1, .threads = 1 };
	while ((c = getopt_long(argc, argv, "n:m:r:p:s:c:t:k:Ch", longopts, NULL)) != -1) {
		char *end;
		unsigned long long v;

		if (c == 'h') {
			printf("usage: decisions [--routes N] [--requests N] [--rounds N] [--pool N]\n"
			       "                 [--seed N] [--cpu N] [--threads N] [--keep-config FILE]\n"
			       "                 [--count-routes]\n"
			       "Defaults: 1000000 routes, 2000000 decisions per round (per thread), 3 rounds,\n"
			       "a pool of 262144 request heads, one thread pinned to the CPU it starts on.\n");
			exit(0);
		}
		if (c == 'k') {
			o->keep_config = optarg;
			continue;
		}
		if (c == 'C') {
			o->count_routes = true;
			continue;
		}
		if (c == '?')
			exit(2);
		errno = 0;
		v = strtoull(optarg, &end, 10);
		if (errno || *end || *optarg == '-')
			die("bad number");
		switch (c) {
		case 'n': o->routes = v; break;
		case 'm': o->requests = v; break;
		case 'r': o->rounds = v; break;
		case 'p': o->pool = v; break;
		case 's': o->seed = v; break;
		case 'c': o->cpu = (int)v; break;
		case 't': o->threads = v; break;
		}
	}
	if (o->routes < 1000 || o->routes > 10000000)
		die("--routes: 1000 .. 10000000");
	if (!o->requests || o->requests > 1000000000ULL || !o->rounds || o->rounds > 100)
		die("--requests 1 .. 1e9, --rounds 1 .. 100");
	if (o->pool < 1 || o->pool > 4000000)
		die("--pool: 1 .. 4000000");
	if (!o->threads || o->threads > 64 || o->threads > o->pool)
		die("--threads: 1 .. 64, and no more than --pool");
}

/* One of --threads N: its slice of the pool, the shared directory and active counts. */
struct bench_thread {
	pthread_t thread;
	size_t id, lo, hi, requests;
	int cpu;
	const struct lb_directory *dir;
	const struct pool *pool;
	struct lb_backend_view view[N_BACKENDS];
	uint64_t *active; /* shared: moved with atomics, as the mmapped backends map is */
	pthread_barrier_t *start;
	double wall, cpu_s;
	size_t wrong, not_found;
};

static double thread_cpu(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *bench_thread_run(void *arg)
{
	struct bench_thread *t = arg;
	const struct pool *p = t->pool;
	int ring[FLOW_RING];
	size_t filled = 0, next = 0, j = t->lo;
	uint32_t rr = 0;
	cpu_set_t set;
	double w0, c0;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "decisions: thread %zu: cannot pin to CPU %d\n", t->id, t->cpu);
	pthread_barrier_wait(t->start); /* every thread pinned: the clocks start together */
	w0 = wall();
	c0 = thread_cpu();
	for (size_t k = 0; k < t->requests; k++) {
		const char *name;
		int chosen = -1, got;

		got = decide(t->dir, p->heads + p->off[j], p->len[j], t->view, t->active, &rr,
			     &chosen, &name);
		if (got != p->want[j])
			t->wrong++;
		if (got == -1)
			t->not_found++;
		if (chosen >= 0) {
			__atomic_fetch_add(&t->active[chosen], 1, __ATOMIC_RELAXED);
			if (filled == FLOW_RING)
				__atomic_fetch_sub(&t->active[ring[next]], 1, __ATOMIC_RELAXED);
			else
				filled++;
			ring[next] = chosen;
			next = (next + 1) % FLOW_RING;
		}
		if (++j == t->hi)
			j = t->lo;
	}
	t->wall = wall() - w0;
	t->cpu_s = thread_cpu() - c0;
	return NULL;
}

/*
 * --threads N: each round starts N threads on their slices and reports the
 * total rate over the slowest thread's time, and each thread's own. Returns
 * the number of wrong decisions.
 */
static size_t run_threads(const struct opts *o, const struct lb_directory *dir,
			  const struct pool *pool, const struct lb_backend_view *view,
			  uint64_t *active, double *rate, size_t *not_found)
{
	struct bench_thread *t = calloc(o->threads, sizeof(*t));
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int first = o->cpu >= 0 ? o->cpu : sched_getcpu();
	pthread_barrier_t start;
	size_t wrong = 0;

	if (!t || cpus < 1)
		die("out of memory");
	for (size_t r = 0; r < o->rounds; r++) {
		double slowest = 0;

		pthread_barrier_init(&start, NULL, (unsigned int)o->threads);
		for (size_t i = 0; i < o->threads; i++) {
			t[i] = (struct bench_thread){
				.id = i, .requests = o->requests, .dir = dir, .pool = pool,
				.lo = pool->n * i / o->threads, .hi = pool->n * (i + 1) / o->threads,
				.cpu = (int)((first + (long)i) % cpus), .active = active, .start = &start,
			};
			memcpy(t[i].view, view, sizeof(t[i].view));
			if (pthread_create(&t[i].thread, NULL, bench_thread_run, &t[i]))
				die("cannot start a thread");
		}
		for (size_t i = 0; i < o->threads; i++) {
			pthread_join(t[i].thread, NULL);
			if (t[i].wall > slowest)
				slowest = t[i].wall;
			wrong += t[i].wrong;
			*not_found += t[i].not_found;
		}
		pthread_barrier_destroy(&start);
		rate[r] = (double)(o->requests * o->threads) / slowest;
		printf("round=%zu threads=%zu decisions=%zu seconds=%.3f per_second=%.0f\n", r + 1,
		       o->threads, o->requests * o->threads, slowest, rate[r]);
		for (size_t i = 0; i < o->threads; i++)
			printf("round=%zu thread=%zu cpu=%d decisions=%zu seconds=%.3f cpu_seconds=%.3f "
			       "per_second=%.0f\n", r + 1, i, t[i].cpu, o->requests, t[i].wall,
			       t[i].cpu_s, (double)o->requests / t[i].wall);
		fflush(stdout);
	}
	free(t);
	return wrong;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	struct lb_backend_view view[N_BACKENDS];
	uint64_t active[N_BACKENDS] = { 0 };
	int ring[FLOW_RING];
	struct lb_directory_stats st;
	struct lb_route_counts counts = {};
	struct lb_config cfg;
	struct lb_directory *dir;
	struct pool pool;
	struct opts o;
	char path[] = "/tmp/latebind-decisions-XXXXXX.yaml", err[LB_ERR_MAX];
	double t0, t_load, t_build, *rate;
	size_t not_found = 0, wrong = 0, filled = 0, next = 0;
	uint32_t rr = 0;
	cpu_set_t set;
	FILE *f;
	int fd;

	parse_args(argc, argv, &o);
	rng = o.seed * 0x9e3779b97f4a7c15ULL + 1;

	/* 1. the config, through the real loader */
	fd = o.keep_config ? -1 : mkstemps(path, 5);
	f = o.keep_config ? fopen(o.keep_config, "w") : fdopen(fd, "w");
	if (!f)
		die("cannot write the config file");
	write_config(f, o.routes);
	if (fclose(f))
		die("cannot write the config file");
	t0 = wall();
	if (lb_config_load(o.keep_config ? o.keep_config : path, &cfg, err, sizeof(err))) {
		fprintf(stderr, "decisions: config: %s\n", err);
		if (!o.keep_config)
			unlink(path);
		return 2;
	}
	t_load = wall() - t0;
	if (!o.keep_config)
		unlink(path);
	if (cfg.n_routes != o.routes || cfg.n_backends != N_BACKENDS)
		die("the config did not load as written");

	/* 2. the directory */
	t0 = wall();
	dir = lb_directory_build(cfg.routes, cfg.n_routes, err, sizeof(err));
	t_build = wall() - t0;
	if (!dir) {
		fprintf(stderr, "decisions: directory: %s\n", err);
		return 2;
	}
	lb_directory_stats(dir, &st);

	/* 3. the requests */
	make_pool(&pool, o.pool, o.routes);
	for (size_t b = 0; b < N_BACKENDS; b++)
		view[b] = (struct lb_backend_view){ .state = (uint32_t)cfg.backends[b].state,
						    .weight = cfg.backends[b].weight };

	rate = calloc(o.rounds, sizeof(*rate));
	if (!rate)
		die("out of memory");
	if (o.threads > 1) {
		wrong = run_threads(&o, dir, &pool, view, active, rate, &not_found);
		goto summary;
	}
	/* One core: the one we start on, unless told. */
	CPU_ZERO(&set);
	CPU_SET(o.cpu >= 0 ? o.cpu : sched_getcpu(), &set);
	if (sched_setaffinity(0, sizeof(set), &set))
		perror("decisions: sched_setaffinity (running unpinned)");

	if (o.count_routes && lb_route_counts_init(&counts, &cfg))
		die("out of memory");
	for (size_t run = 0; run < o.rounds * (1 + o.count_routes); run++) {
		/* --count-routes: each round twice, the second also counting as the dispatcher does. */
		size_t r = run / (1 + o.count_routes), j = (r * 7919) % pool.n;
		bool counting = o.count_routes && run % 2;
		double w0 = wall(), c0 = cpu(), w, c;

		for (size_t k = 0; k < o.requests; k++) {
			const char *name = NULL;
			int chosen = -1, got;

			got = decide(dir, pool.heads + pool.off[j], pool.len[j], view, active, &rr,
				     &chosen, &name);
			if (counting && got >= 0)
				lb_route_counts_hit(&counts, (size_t)got, name, pool.len[j]);
			if (got != pool.want[j])
				wrong++;
			if (got == -1)
				not_found++;
			if (chosen >= 0) {
				active[chosen]++;
				if (filled == FLOW_RING)
					active[ring[next]]--; /* the flow chosen 64 decisions ago ends */
				else
					filled++;
				ring[next] = chosen;
				next = (next + 1) % FLOW_RING;
			}
			if (++j == pool.n)
				j = 0;
		}
		w = wall() - w0;
		c = cpu() - c0;
		if (counting) {
			printf("round=%zu counting_routes=1 seconds=%.3f cpu_seconds=%.3f "
			       "per_second=%.0f ratio_to_uncounted=%.3f\n",
			       r + 1, w, c, (double)o.requests / w,
			       (double)o.requests / w / rate[r]);
			fflush(stdout);
			continue;
		}
		rate[r] = (double)o.requests / w;
		printf("round=%zu decisions=%zu seconds=%.3f cpu_seconds=%.3f per_second=%.0f "
		       "per_cpu_second=%.0f ns_per_decision=%.1f\n",
		       r + 1, o.requests, w, c, rate[r], c > 0 ? (double)o.requests / c : 0,
		       c > 0 ? c * 1e9 / (double)o.requests : 0);
		fflush(stdout);
	}
summary:
	qsort(rate, o.rounds, sizeof(*rate), cmp_double);
	printf("routes=%zu exact=%zu prefixes=%zu trie_nodes=%zu config_load_s=%.2f build_s=%.2f "
	       "directory_mib=%.1f pool=%zu not_found=%zu wrong=%zu active=%llu,%llu,%llu "
	       "min_per_second=%.0f median_per_second=%.0f max_per_second=%.0f\n",
	       st.routes, st.exact, st.prefixes, st.trie_nodes, t_load, t_build,
	       st.bytes / 1048576.0, pool.n, not_found, wrong, (unsigned long long)active[0],
	       (unsigned long long)active[1], (unsigned long long)active[2], rate[0],
	       o.rounds % 2 ? rate[o.rounds / 2] : (rate[o.rounds / 2 - 1] + rate[o.rounds / 2]) / 2,
	       rate[o.rounds - 1]);
	if (o.count_routes)
		lb_route_counts_free(&counts);
	lb_directory_free(dir);
	lb_config_free(&cfg);
	free(rate);
	free(pool.heads);
	free(pool.off);
	free(pool.len);
	free(pool.want);
	return wrong ? 1 : 0;
}
