// SPDX-License-Identifier: GPL-2.0
/*
 * latebind balancer, the daemon: wires the parts together and runs the loop.
 * interfaces (ifaces.c) → open, pin, attach (loader.c) → fill the maps
 * (map_sync.c) → dispatcher, hand-off, health, metrics → loop until a signal →
 * detach, or leave everything in place for the next daemon. Reloads remap the
 * backend slots (slots.c) and refill the maps.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "announce.h"
#include "backend_maps.h"
#include "balancer.skel.h"
#include "clock.h"
#include "commands.h"
#include "config.h"
#include "cookie.h"
#include "counters.h"
#include "directory.h"
#include "dispatcher.h"
#include "flow_table.h"
#include "handoff.h"
#include "health.h"
#include "ifaces.h"
#include "loader.h"
#include "log.h"
#include "map_sync.h"
#include "maps.h"
#include "metrics.h"
#include "packet.h"
#include "peer_sync.h"
#include "reload_job.h"
#include "route_top.h"
#include "slots.h"
#include "stat.h"
#include "workers.h"
#include "xsk.h"

#define LB_PID_FILE "/run/latebind.pid"
#define LB_RETIRED_MAX 8 /* configs the threads may still read, waiting to be freed */

/* A config and directory replaced by a reload, freed once every thread took a later one. */
struct lb_retired {
	struct lb_config cfg; /* owns the arrays and strings */
	struct lb_directory *dir;
	struct lb_disp_conf *conf;
	uint64_t epoch; /* of the config that replaced it */
};

/* The daemon's state; `struct balancer` is the skeleton's name. */
struct lb_daemon {
	struct lb_config cfg;
	struct lb_loader ld; /* skeleton, attachments, the mmapped backends map */
	struct lb_cookie_secret secret;
	struct lb_directory *dir;
	struct lb_xsk *xsk;
	struct lb_workers *workers; /* the dispatcher threads (workers.h) */
	struct lb_disp_conf *conf;  /* what they were given last: cfg and dir, shared */
	struct lb_retired retired[LB_RETIRED_MAX];
	size_t n_retired;
	/* The main thread's handle on the flow table: expiry, peers' views, dead backends. */
	struct lb_flow_table flows;
	struct lb_ifaces ifs;
	/* What the main thread sends backends: retires of parked sockets (flow table's pass). */
	struct lb_handoff_ctx retire;
	struct lb_metrics *metrics;  /* the Prometheus exporter, or NULL */
	struct lb_health *health;    /* active checks of every backend */
	struct lb_metrics_source msrc;
	/* Dispatcher counters: the main thread's own (its disp_stats row), every row's sum. */
	uint64_t *own, sum[LB_DISP_MAX];
	size_t conns;
	struct lb_disp_thread threads[LB_MAX_QUEUES]; /* each thread's figures, for the exporter */
	struct lb_histogram handoff_latency, rebind_latency;
	struct lb_topk route_top; /* every thread's route counts, merged (cap 0: none) */
	__u64 resets_seen[LB_MAX_BACKENDS]; /* handoff_resets already told to health */
	struct lb_peers *peers;		 /* flow bindings shared with the peer balancers, or NULL */
	uint64_t peer_counted[LB_PEER_COUNTERS]; /* their counters already in the dispatcher's */
	struct lb_peer_stat peer_stats[LB_MAX_PEERS]; /* as last written to the `peers` map */
	struct lb_reload_job *reloading; /* the config being read, or NULL */
	bool reload_again;		 /* SIGHUP while reading: read the file once more */
	struct lb_announcer ann;	 /* the VIPs' routes for BGP (announce:) */
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: latebind balancer --config FILE [--xdp-mode auto|native|generic] [--verbose]\n"
		"                         [--pid-file FILE (default " LB_PID_FILE ")]\n\n"
		"Runs the balancer on the config's interface. Signals:\n"
		"  SIGHUP          reload the config (a bad one is refused; the running one stays)\n"
		"  SIGINT, SIGTERM stop: withdraw the announced routes, serve on for\n"
		"                  announce.withdraw_grace_ms, detach, remove the pinned maps (%s)\n"
		"  SIGUSR2         exit leaving program and maps forwarding established flows;\n"
		"                  the next daemon (e.g. a new build) takes them over atomically\n"
		"Killed any other way, everything stays in place the same.\n",
		LB_PIN_DIR);
}

/* For `latebind reload`. */
static void write_pid_file(const char *path)
{
	FILE *f = fopen(path, "w");

	if (!f || fprintf(f, "%d\n", (int)getpid()) < 0)
		pr_warn("cannot write %s: %s (latebind reload will not find this daemon)\n", path,
			strerror(errno));
	if (f)
		fclose(f);
}

/*
 * Connections a previous dispatcher was still collecting requests for, or
 * waiting on a replay-mode backend's SYN/ACK for: their state died with it.
 * Without a flows entry, the client's retransmitted first segment opens them
 * again here.
 */
static void forget_dispatch_flows(struct lb_daemon *lb)
{
	uint64_t n = lb_flow_forget_dispatch(&lb->flows);

	if (n)
		pr_info("%llu connection(s) the previous dispatcher was collecting will start over\n",
			(unsigned long long)n);
}

/*
 * A RST to @f's client (lb_client_reset_build) from the main thread: through
 * the packet socket, as the AF_XDP queues are the dispatcher threads'.
 */
static void reset_client(struct lb_daemon *lb, const struct lb_flow_key *key,
			 const struct lb_flow *f)
{
	uint8_t frame[128];
	size_t len = lb_client_reset_build(frame, sizeof(frame), key, f, lb->ifs.mac);

	if (len && lb_ifaces_send(&lb->ifs, frame, len))
		lb_stat_add(&lb->own[LB_DISP_TX_FULL], 1);
}

/*
 * A bound flow evicted from the full flow table by the main thread (taking a
 * peer's view): its client would hang until its own timeout, so it is reset
 * (the dispatcher threads do the same for theirs, user/workers.c).
 */
static void on_flow_evicted(void *arg, const struct lb_flow_key *key, const struct lb_flow *f)
{
	reset_client(arg, key, f);
}

/* A connection ended (closing, expired, evicted): the sockets it left parked on backends go. */
static void on_flow_parked(void *arg, const struct lb_flow_key *key,
			   const uint8_t parked[LB_FLOW_PARKED])
{
	struct lb_daemon *lb = arg;
	unsigned int sent = lb_handoff_retire_parked(&lb->retire, key, parked);

	lb_stat_add(&lb->own[LB_DISP_PARKED_RETIRES], sent);
}

/*
 * The flows go with a daemon that stops, and nobody would retire what they
 * left parked: nginx would close those sockets later, each FIN going to a
 * client whose connection lives elsewhere or has ended.
 */
static void retire_parked_at_stop(struct lb_daemon *lb)
{
	uint64_t before = lb_stat_read(&lb->own[LB_DISP_PARKED_RETIRES]);

	if (lb_flow_unpark_all(&lb->flows))
		pr_info("stopping: %" PRIu64 " parked socket(s) retired\n",
			lb_stat_read(&lb->own[LB_DISP_PARKED_RETIRES]) - before);
}

static int send_main(void *arg, const uint8_t *frame, size_t len)
{
	struct lb_daemon *lb = arg;

	return lb_ifaces_send(&lb->ifs, frame, len);
}

static void on_backend_flow_ended(void *arg, const struct lb_flow_key *key,
				  const struct lb_flow *f)
{
	reset_client(arg, key, f);
}

/*
 * @slot's backend is dead: its clients would wait for it until their own
 * timeouts. Each bound flow ends (closing, off the backend's count) and its
 * client gets a RST (reset_client).
 */
static void reset_backend_flows(struct lb_daemon *lb, unsigned int slot)
{
	uint64_t n = lb_flow_end_backend(&lb->flows, slot, on_backend_flow_ended, lb);

	lb_stat_add(&lb->own[LB_DISP_FLOWS_RESET], n);
	if (n)
		pr_info("backend %s: reset %llu client connection(s)\n", lb->cfg.backends[slot].name,
			(unsigned long long)n);
}

/* A backend's health changed: selection sees it now; a dead one's clients are reset. */
static void on_health(void *arg, unsigned int slot, int state, const char *reason)
{
	struct lb_daemon *lb = arg;
	const char *name = slot < lb->cfg.n_backends ? lb->cfg.backends[slot].name : "?";

	if (slot >= LB_MAX_BACKENDS)
		return;
	__atomic_store_n(&lb->ld.backends[slot].state, state, __ATOMIC_RELAXED);
	if (state == LB_BACKEND_DOWN) {
		pr_warn("backend %s is down: %s\n", name, reason);
		reset_backend_flows(lb, slot);
	} else {
		pr_info("backend %s is %s: %s\n", name, lb_health_state_name(state), reason);
	}
}

/* Every backend slot into the maps, with its state and, if missing, its MAC. */
static int sync_backends(struct lb_daemon *lb)
{
	if (lb_sync_backends(&lb->cfg, &lb->ifs, lb->ld.backends,
			     bpf_map__fd(lb->ld.skel->maps.backend_names)))
		return -1;
	lb_sync_states(&lb->cfg, lb->ld.backends, lb->health);
	lb_ifaces_resolve_macs(&lb->cfg, lb->ld.backends);
	return 0;
}

/* The configs every dispatcher thread has moved on from: nobody reads them any more. */
static void free_retired(struct lb_daemon *lb, bool all)
{
	size_t i = 0;

	while (i < lb->n_retired) {
		struct lb_retired *r = &lb->retired[i];

		if (!all && !lb_workers_caught_up(lb->workers, r->epoch)) {
			i++;
			continue;
		}
		lb_config_free(&r->cfg);
		lb_directory_free(r->dir);
		free(r->conf);
		*r = lb->retired[--lb->n_retired];
	}
}

/*
 * The new config and directory to the dispatcher threads, whole: the running
 * ones are kept (retired) until every thread has taken the new ones.
 */
static int publish_config(struct lb_daemon *lb, struct lb_config *fresh, struct lb_directory *dir)
{
	struct lb_disp_conf *conf;
	struct lb_retired *r;

	free_retired(lb, false);
	if (lb->n_retired == LB_RETIRED_MAX) {
		pr_warn("reload refused, the running config stays: the dispatcher threads have not "
			"taken the last %d reloads yet; reload again in a moment\n", LB_RETIRED_MAX);
		return -1;
	}
	conf = malloc(sizeof(*conf));
	if (!conf) {
		pr_warn("reload refused, the running config stays: out of memory\n");
		return -1;
	}
	r = &lb->retired[lb->n_retired++];
	r->cfg = lb->cfg;
	r->dir = lb->dir;
	r->conf = lb->conf;
	lb->cfg = *fresh;
	lb->dir = dir;
	/* A new hint generation for the new directory, the same for every thread. */
	*conf = (struct lb_disp_conf){
		.cfg = lb->cfg, .dir = dir,
		.hint_gen = lb_hint_gen_next(bpf_map__fd(lb->ld.skel->maps.hint_gen),
					     lb->conf->hint_gen),
	};
	lb->conf = conf;
	r->epoch = lb_workers_publish(lb->workers, conf);
	return 0;
}

/* SIGHUP: the new config or, if anything is wrong with it, the running one. */
/*
 * The local backend takes hand-offs through the backend programs on this
 * host's lo (`latebind backend attach --interface lo`), which pin under
 * LB_BACKEND_PIN_DIR in the same bpffs: without them every hand-off to it
 * would be reset by the kernel, so say what to run.
 */
static int check_local_backend(const struct lb_config *cfg)
{
	for (size_t i = 0; i < cfg->n_backends; i++) {
		const struct lb_cfg_backend *c = &cfg->backends[i];

		if (!c->local || !access(LB_BACKEND_PIN_DIR "/ingress", F_OK))
			continue;
		pr_warn("%s:%d: backends[%zu].local: no hand-off programs on this host; run "
			"latebind backend attach --interface lo --vip VIP:PORT --balancer-mac "
			"<%s's MAC> --cookie-key %s first\n", cfg->path, c->line, i,
			cfg->interface, cfg->cookie.key_file);
		return -1;
	}
	return 0;
}

/* A config read for a reload, checked against the running one and swapped in. */
static void reload_apply(struct lb_daemon *lb, struct lb_config fresh)
{
	struct lb_directory *dir;
	char err[LB_ERR_MAX];

	if (strcmp(fresh.interface, lb->cfg.interface)) {
		pr_warn("reload refused, the running config stays: %s: interface: changing it "
			"needs a restart\n", fresh.path);
		goto refuse;
	}
	if (fresh.handoff.mss != lb->cfg.handoff.mss || fresh.handoff.wscale != lb->cfg.handoff.wscale ||
	    strcmp(fresh.cookie.key_file, lb->cfg.cookie.key_file) ||
	    fresh.cookie.period_s != lb->cfg.cookie.period_s ||
	    fresh.cookie.windows != lb->cfg.cookie.windows ||
	    strcmp(fresh.metrics.listen, lb->cfg.metrics.listen) ||
	    fresh.dispatcher.threads != lb->cfg.dispatcher.threads ||
	    fresh.dispatcher.busy_poll != lb->cfg.dispatcher.busy_poll)
		pr_warn("%s: handoff.mss/wscale, cookie, metrics and dispatcher settings take "
			"effect at the next restart\n", fresh.path);
	if (fresh.peer_port != lb->cfg.peer_port)
		pr_warn("%s: peer_port stays %u until the next restart\n", fresh.path,
			lb->cfg.peer_port);
	fresh.peer_port = lb->cfg.peer_port;
	if (fresh.limits.flows != lb->cfg.limits.flows)
		pr_warn("%s: limits.flows stays %u: the flow table is sized when it is created; "
			"stop the balancer (SIGTERM removes the pinned table, and with it every "
			"established flow) and start it again to change it\n", fresh.path,
			lb->cfg.limits.flows);
	for (size_t i = 0; i < fresh.n_backends; i++) {
		const struct lb_cfg_backend *c = &fresh.backends[i];

		if (c->local && lb->ifs.local.fd < 0) {
			pr_warn("reload refused, the running config stays: %s:%d: backends[%zu]."
				"local: the first local backend needs a restart\n", fresh.path,
				c->line, i);
			goto refuse;
		}
		if (c->interface[0] && lb_ifaces_side_of(&lb->ifs, c) < 0) {
			pr_warn("reload refused, the running config stays: %s:%d: backends[%zu]."
				"interface: %s has no backend yet; a new backend interface needs a "
				"restart\n", fresh.path, c->interface_line, i, c->interface);
			goto refuse;
		}
	}
	if (lb_slots_remap(&lb->cfg, lb->ld.backends, &fresh, err, sizeof(err))) {
		pr_warn("reload refused, the running config stays: %s\n", err);
		goto refuse;
	}
	dir = lb_directory_build(fresh.routes, fresh.n_routes, err, sizeof(err));
	if (!dir) {
		pr_warn("reload refused, the running config stays: %s: %s\n", fresh.path, err);
		goto refuse;
	}
	/* The threads carry their route counts over by the old routes' names: kept till then. */
	if (publish_config(lb, &fresh, dir)) {
		lb_directory_free(dir);
		goto refuse;
	}
	if (lb->peers)
		lb_peers_reconfigure(lb->peers, &lb->cfg);
	else if (lb->cfg.n_peers)
		pr_warn("%s: peers: sharing flows needs a restart when the balancer started "
			"without peers\n", lb->cfg.path);
	if (lb_health_reconfigure(lb->health, &lb->cfg, 0))
		pr_warn("reload: health checks keep the old backends: %s\n", strerror(errno));
	if (lb_sync_vips(bpf_map__fd(lb->ld.skel->maps.vips), &lb->cfg) || sync_backends(lb))
		pr_warn("reload: cannot update the maps: %s\n", strerror(errno));
	pr_info("reloaded %s: %zu VIP(s), %zu backend slot(s), %zu route(s)\n", lb->cfg.path,
		lb->cfg.n_vips, lb->cfg.n_backends, lb->cfg.n_routes);
	return;
refuse:
	lb_config_free(&fresh);
}

/* SIGHUP: read the config in a thread (reload_done applies it), or at once if none starts. */
static void reload_start(struct lb_daemon *lb)
{
	struct lb_config fresh = {};
	char err[LB_ERR_MAX];

	if (lb->reloading) {
		lb->reload_again = true; /* the file may have changed after it was read */
		return;
	}
	lb->reloading = lb_reload_job_start(lb->cfg.path);
	if (lb->reloading)
		return;
	pr_warn("reload: no thread to read the config (%s); reading it here\n", strerror(errno));
	if (lb_config_load(lb->cfg.path, &fresh, err, sizeof(err))) {
		pr_warn("reload refused, the running config stays: %s\n", err);
		return;
	}
	reload_apply(lb, fresh);
}

/* The thread has read the config: apply it, and read it again if asked meanwhile. */
static void reload_done(struct lb_daemon *lb)
{
	struct lb_config fresh = {};
	char err[LB_ERR_MAX];
	int ret = lb_reload_job_finish(lb->reloading, &fresh, err, sizeof(err));

	lb->reloading = NULL;
	if (ret)
		pr_warn("reload refused, the running config stays: %s\n", err);
	else
		reload_apply(lb, fresh);
	if (lb->reload_again) {
		lb->reload_again = false;
		reload_start(lb);
	}
}

static int signal_fd(void)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR2);
	sigprocmask(SIG_BLOCK, &set, NULL);
	return signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
}

/* Send the flow views of this turn to the peers; their counters into the dispatcher's. */
static void count_peers(struct lb_daemon *lb)
{
	uint64_t now[LB_PEER_COUNTERS];
	int i;

	if (!lb->peers)
		return;
	lb_peers_flush(lb->peers);
	lb_peers_counters(lb->peers, now);
	for (i = 0; i < LB_PEER_COUNTERS; i++) {
		lb_stat_add(&lb->own[LB_DISP_PEER_VIEWS_SENT + i], now[i] - lb->peer_counted[i]);
		lb->peer_counted[i] = now[i];
	}
}

/* What the exporter shows of the dispatcher: every disp_stats row summed, each thread's figures. */
static void sum_counters(struct lb_daemon *lb)
{
	memset(lb->sum, 0, sizeof(lb->sum));
	lb_disp_rows_add(lb->ld.disp_rows, LB_DISP_ROWS, lb->sum);
	lb_workers_figures(lb->workers, lb->threads);
}

/* The threads' route counts merged into lb->route_top, for the exporter and the maps. */
static void merge_route_counts(struct lb_daemon *lb)
{
	lb_topk_free(&lb->route_top);
	lb->msrc.route_top = NULL;
	if (lb_topk_init(&lb->route_top, lb->cfg.metrics.top_routes))
		return;
	if (lb_workers_route_top(lb->workers, &lb->cfg, &lb->route_top)) {
		lb_topk_free(&lb->route_top);
		return;
	}
	lb->msrc.route_top = &lb->route_top;
}

/* The access statistics into `route_top` and `route_sketch`, for `latebind advise`. */
static void publish_route_counts(struct lb_daemon *lb)
{
	merge_route_counts(lb);
	if (lb->route_top.cap &&
	    lb_route_top_publish(bpf_map__fd(lb->ld.skel->maps.route_top),
				 bpf_map__fd(lb->ld.skel->maps.route_sketch), &lb->route_top,
				 &lb->cfg))
		pr_debug("route_top: %s\n", strerror(errno));
}

/* Before the exporter renders a page: what it shows of the threads, summed now. */
static void refresh_metrics(void *arg)
{
	struct lb_daemon *lb = arg;

	sum_counters(lb);
	lb->conns = lb_workers_conns(lb->workers);
	memset(&lb->handoff_latency, 0, sizeof(lb->handoff_latency));
	memset(&lb->rebind_latency, 0, sizeof(lb->rebind_latency));
	lb_workers_latency(lb->workers, &lb->handoff_latency, &lb->rebind_latency);
	merge_route_counts(lb);
}

/* Each peer's figures into the `peers` map (status) and the metrics' view of them. */
static void publish_peers(struct lb_daemon *lb)
{
	int fd = bpf_map__fd(lb->ld.skel->maps.peers);
	__u32 i;

	lb->msrc.n_peers = lb_peers_stats(lb->peers, lb->peer_stats);
	for (i = 0; i < LB_MAX_PEERS; i++)
		bpf_map_update_elem(fd, &i, &lb->peer_stats[i], BPF_ANY);
}

enum { RUN_STOP = 0, RUN_LEAVE = 1 };

/* Serves until a signal says stop (RUN_STOP), leave in place (RUN_LEAVE); -1 on error. */
static int run(struct lb_daemon *lb, int sfd)
{
	/* The AF_XDP sockets are the dispatcher threads' (user/workers.c): not polled here. */
	struct pollfd pfd[4 + LB_METRICS_MAX_FDS + LB_MAX_BACKENDS];
	struct signalfd_siginfo si;
	uint64_t wait_ms = 0, health_ms, now_ms;
	int nm, nh, nr, np;

	pfd[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };

	uint64_t next_expiry = 0, stop_at = 0;
	bool sweeping = false;

	for (;;) {

		nm = lb_metrics_pollfds(lb->metrics, pfd + 1, LB_METRICS_MAX_FDS);
		nh = lb_health_pollfds(lb->health, pfd + 1 + nm, LB_MAX_BACKENDS);
		nr = 0;
		if (lb->reloading)
			pfd[1 + nm + nh + nr++] = (struct pollfd){
				.fd = lb_reload_job_fd(lb->reloading), .events = POLLIN };
		np = 0;
		if (lb->peers)
			pfd[1 + nm + nh + nr + np++] = (struct pollfd){
				.fd = lb_peers_fd(lb->peers), .events = POLLIN };
		now_ms = lb_clock_ms(CLOCK_MONOTONIC);
		health_ms = lb_health_next_ms(lb->health, now_ms);
		if (health_ms < wait_ms)
			wait_ms = health_ms;
		/* Sleep in poll until a frame, a signal or the next timer: no busy loop. */
		if (poll(pfd, 1 + nm + nh + nr + np, wait_ms > 1000 ? 1000 : (int)wait_ms) < 0 &&
		    errno != EINTR)
			return -1;
		now_ms = lb_clock_ms(CLOCK_MONOTONIC);
		lb_health_process(lb->health, pfd + 1 + nm, nh, now_ms);
		lb_sync_handoff_resets(&lb->cfg, lb->ld.backends, lb->resets_seen, lb->health);
		if (lb->peers)
			lb_peers_receive(lb->peers);
		wait_ms = 1000;
		free_retired(lb, false);
		if (lb->n_retired)
			wait_ms = 10; /* a thread is about to take the new config: free the old soon */
		/* A pass over the flow table starts once a second, in steps of 512. */
		if (now_ms >= next_expiry || sweeping)
			sweeping = lb_flow_expire_step(&lb->flows, now_ms * LB_NS_PER_MS);
		if (now_ms >= next_expiry) {
			lb_sync_states(&lb->cfg, lb->ld.backends, lb->health);
			lb_ifaces_resolve_macs(&lb->cfg, lb->ld.backends);
			if (lb->peers)
				publish_peers(lb);
			publish_route_counts(lb);
			next_expiry = now_ms + 1000;
		}
		count_peers(lb);
		lb_stat_set(&lb->own[LB_DISP_FLOW_EVICTIONS], lb_stat_read(&lb->flows.evictions));
		lb_announce_update(&lb->ann, &lb->cfg, lb->ld.backends, now_ms);
		if (stop_at && now_ms >= stop_at) {
			pr_info("withdrawal grace over: detaching\n");
			return RUN_STOP;
		}
		if (stop_at && wait_ms > stop_at - now_ms)
			wait_ms = stop_at - now_ms;
		if (wait_ms > 1000)
			wait_ms = 1000;
		if (sweeping && wait_ms > 5)
			wait_ms = 5;
		lb_metrics_serve(lb->metrics, pfd + 1, nm, &lb->msrc);
		if (nr && (pfd[1 + nm + nh].revents & POLLIN))
			reload_done(lb);

		while ((pfd[0].revents & POLLIN) && read(sfd, &si, sizeof(si)) == sizeof(si)) {
			if (si.ssi_signo == SIGHUP) {
				reload_start(lb);
				continue;
			}
			if (si.ssi_signo == SIGUSR2) {
				pr_info("SIGUSR2: leaving the program and maps in place for the next "
					"daemon\n");
				/* It re-asserts the routes: withdrawing them would be a needless flap. */
				lb_announce_leave(&lb->ann);
				return RUN_LEAVE;
			}
			if (stop_at) {
				pr_info("%s again: detaching now\n", strsignal(si.ssi_signo));
				return RUN_STOP;
			}
			/*
			 * The routes go first, and new connections keep being served while
			 * the routers move away (docs/config.md, announce).
			 */
			if (lb_announce_stop(&lb->ann) && lb->cfg.announce.withdraw_grace_ms) {
				pr_info("%s: serving %u ms more before detaching, so the routers "
					"move away first\n", strsignal(si.ssi_signo),
					lb->cfg.announce.withdraw_grace_ms);
				stop_at = now_ms + lb->cfg.announce.withdraw_grace_ms;
				wait_ms = 0;
				continue;
			}
			pr_info("%s: detaching\n", strsignal(si.ssi_signo));
			return RUN_STOP;
		}
	}
}

/* The dispatcher: content directory, AF_XDP sockets, the flow table; no thread yet. */
static int start_dispatcher(struct lb_daemon *lb)
{
	struct lb_directory_stats ds;
	char err[LB_ERR_MAX];

	lb->dir = lb_directory_build(lb->cfg.routes, lb->cfg.n_routes, err, sizeof(err));
	if (!lb->dir) {
		pr_warn("%s: %s\n", lb->cfg.path, err);
		return -1;
	}
	lb_directory_stats(lb->dir, &ds);
	lb_flow_table_init(&lb->flows, bpf_map__fd(lb->ld.skel->maps.flows_v3),
			   lb_loader_flow_progs(lb->ld.skel), lb->ld.backends);
	lb->flows.evicted = on_flow_evicted;
	lb->flows.evicted_ctx = lb;
	lb_handoff_init(&lb->retire, &lb->cfg, &lb->flows, lb->ld.backends, &lb->secret, &lb->ifs,
			send_main, lb);
	lb->flows.parked = on_flow_parked;
	lb->flows.parked_ctx = lb;
	if (lb->cfg.n_peers) {
		lb->peers = lb_peers_open(&lb->cfg, &lb->flows, lb->ld.backends, &lb->secret);
		if (!lb->peers) {
			pr_warn("peers: cannot listen on UDP port %u: %s\n", lb->cfg.peer_port,
				strerror(errno));
			return -1;
		}
		lb->flows.changed = lb_peers_changed;
		lb->flows.changed_ctx = lb->peers;
		pr_info("peers: sharing flows with %zu balancer(s) on UDP port %u\n",
			lb->cfg.n_peers, lb->cfg.peer_port);
	}
	lb->xsk = lb_xsk_open(lb->cfg.interface, bpf_map__fd(lb->ld.skel->maps.xsks));
	if (!lb->xsk) {
		pr_warn("cannot open AF_XDP sockets on %s: %s\n", lb->cfg.interface, strerror(errno));
		return -1;
	}
	if (lb->cfg.dispatcher.busy_poll && (errno = -lb_xsk_busy_poll(lb->xsk)))
		pr_warn("dispatcher.busy_poll: the AF_XDP sockets refuse it (%s); they poll as "
			"usual\n", strerror(errno));
	lb->conf = malloc(sizeof(*lb->conf));
	if (!lb->conf)
		return -1;
	*lb->conf = (struct lb_disp_conf){
		.cfg = lb->cfg, .dir = lb->dir,
		.hint_gen = lb_hint_gen_next(bpf_map__fd(lb->ld.skel->maps.hint_gen), 0),
	};
	pr_info("dispatcher: %u AF_XDP socket(s) in %s mode, %zu routes (%zu KiB)\n",
		lb_xsk_queues(lb->xsk), lb_xsk_zerocopy(lb->xsk) ? "zero-copy" : "copy", ds.routes,
		ds.bytes / 1024);
	return 0;
}

/* The dispatcher threads, each on its share of the queues (user/workers.h). */
static int start_threads(struct lb_daemon *lb)
{
	struct lb_workers_env env = {
		.secret = &lb->secret, .xsk = lb->xsk, .ifs = &lb->ifs,
		.flows_fd = bpf_map__fd(lb->ld.skel->maps.flows_v3),
		.flow_progs = lb_loader_flow_progs(lb->ld.skel),
		.backends_fd = bpf_map__fd(lb->ld.skel->maps.backends),
		.backends = lb->ld.backends, .peers = lb->peers,
		.rows = lb->ld.disp_rows + 1, .figures = lb->ld.disp_threads,
	};
	unsigned int nq = lb_xsk_queues(lb->xsk);
	unsigned int n = lb_workers_threads(lb->cfg.dispatcher.threads, nq);

	if (lb->cfg.dispatcher.threads > n)
		pr_info("dispatcher.threads: %u, but %s has %u RX queue(s): %u thread(s)\n",
			lb->cfg.dispatcher.threads, lb->cfg.interface, nq, n);
	lb->workers = lb_workers_start(&env, n, lb->conf);
	if (!lb->workers) {
		pr_warn("cannot start the dispatcher threads: %s\n", strerror(errno));
		return -1;
	}
	pr_info("dispatcher: %u thread(s), thread t serving the RX queues q with q %% %u == t\n",
		n, n);
	if (n > 1)
		pr_info("dispatcher: a connection is owned by one thread (a hash of its addresses "
			"and ports); frames another thread receives are passed to it\n");
	return 0;
}

int cmd_reload(int argc, char **argv)
{
	const char *pid_file = argc > 2 && !strcmp(argv[1], "--pid-file") ? argv[2] : LB_PID_FILE;
	FILE *f;
	int pid = 0;

	if (argc > 1 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: latebind reload [--pid-file FILE]\n\nAsks the running balancer to "
		       "re-read its config (SIGHUP); its log says whether it took it.\n");
		return LB_EXIT_OK;
	}
	f = fopen(pid_file, "r");
	if (!f || fscanf(f, "%d", &pid) != 1 || pid <= 0) {
		fprintf(stderr, "latebind reload: no balancer pid in %s (is the daemon running?)\n",
			pid_file);
		if (f)
			fclose(f);
		return LB_EXIT_FAIL;
	}
	fclose(f);
	if (kill(pid, SIGHUP)) {
		fprintf(stderr, "latebind reload: pid %d: %s\n", pid, strerror(errno));
		return LB_EXIT_FAIL;
	}
	return LB_EXIT_OK;
}

int cmd_balancer(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "config", required_argument, NULL, 'c' },
		{ "xdp-mode", required_argument, NULL, 'm' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "pid-file", required_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *config = NULL, *mode = "auto", *pid_file = LB_PID_FILE;
	struct lb_daemon lb = { .ann = { .nl = -1, .state_fd = -1 } };
	char err[LB_ERR_MAX];
	int opt, sfd = -1, ret = LB_EXIT_FAIL, rc;

	while ((opt = getopt_long(argc, argv, "c:m:vp:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'c': config = optarg; break;
		case 'p': pid_file = optarg; break;
		case 'v': lb_verbose = true; break;
		case 'm': mode = optarg; break;
		case 'h': usage(stdout); return LB_EXIT_OK;
		default: usage(stderr); return LB_EXIT_USAGE;
		}
	}
	if (!config || optind != argc ||
	    (strcmp(mode, "auto") && strcmp(mode, "native") && strcmp(mode, "generic"))) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	if (lb_config_load(config, &lb.cfg, err, sizeof(err))) {
		fprintf(stderr, "latebind: %s\n", err);
		return LB_EXIT_FAIL;
	}
	if (lb_ifaces_open(&lb.ifs, &lb.cfg) || lb_loader_check_bpffs() ||
	    lb_sync_load_secret(&lb.cfg, &lb.secret) ||
	    lb_loader_open(&lb.ld, &lb.cfg, lb.ifs.ifindex, lb.ifs.mac))
		goto out;
	/* libxdp loads the object while attaching (through its dispatcher). */
	if (lb_loader_attach(&lb.ld, lb.cfg.interface, mode))
		goto out;
	/* The maps first: a close arriving on a backend-side interface is redirected at once. */
	if (lb_loader_map_backends(&lb.ld) || lb_loader_map_counters(&lb.ld) ||
	    lb_sync_secret(bpf_map__fd(lb.ld.skel->maps.cookie_secret), &lb.secret) ||
	    lb_sync_vips(bpf_map__fd(lb.ld.skel->maps.vips), &lb.cfg) ||
	    lb_ifaces_fill_ports(&lb.ifs, bpf_map__fd(lb.ld.skel->maps.tx_ports),
				 bpf_map__fd(lb.ld.skel->maps.ifaces)) ||
	    sync_backends(&lb)) {
		pr_warn("cannot fill the balancer's maps: %s\n", strerror(errno));
		goto detach;
	}
	lb.own = lb_disp_row_counts(&lb.ld.disp_rows[0]);
	for (size_t i = 0; i < lb.ifs.n_sides; i++)
		if (lb_loader_attach_side(&lb.ld, lb.ifs.ports[i].ifindex, lb.ifs.names[i],
					  lb.ifs.n_sides))
			goto detach;
	/* A previous daemon's filter (left by SIGUSR2) is replaced, or removed if unused now. */
	if (lb.ifs.local.fd < 0)
		lb_loader_detach_local(&lb.ld);
	else if (lb_loader_attach_local(&lb.ld, lb.cfg.interface) || check_local_backend(&lb.cfg))
		goto detach;
	sfd = signal_fd();
	if (sfd < 0 || start_dispatcher(&lb))
		goto detach;
	forget_dispatch_flows(&lb);
	if (start_threads(&lb))
		goto detach;
	for (size_t i = 0; i < LB_MAX_BACKENDS; i++) /* a taken-over map has old counts */
		lb.resets_seen[i] = lb.ld.backends[i].handoff_resets;
	lb.health = lb_health_new(&lb.cfg, 0, on_health, &lb);
	if (!lb.health) {
		pr_warn("cannot start the health checks: %s\n", strerror(errno));
		goto detach;
	}
	lb_sync_states(&lb.cfg, lb.ld.backends, lb.health);
	lb.msrc = (struct lb_metrics_source){
		.cfg = &lb.cfg, /* reload replaces the config in place */
		.stats_fd = bpf_map__fd(lb.ld.skel->maps.stats),
		.backends = lb.ld.backends,
		.disp_counters = lb.sum,
		.conns = &lb.conns,
		.threads = lb.threads,
		.n_threads = lb_workers_count(lb.workers),
		.handoff_latency = &lb.handoff_latency,
		.rebind_latency = &lb.rebind_latency,
		.refresh = refresh_metrics,
		.refresh_ctx = &lb,
		.peers = lb.peer_stats,
		.announce = &lb.ann.state,
	};
	/* Without its exporter the balancer still balances: say so, carry on. */
	lb.metrics = lb_metrics_open(lb.cfg.metrics.listen, err, sizeof(err));
	if (!lb.metrics && err[0])
		pr_warn("metrics exporter off: %s\n", err);
	else if (lb.metrics)
		pr_info("metrics at http://%s/metrics\n", lb.cfg.metrics.listen);
	/* Routes of a killed daemon this config will not announce go before serving. */
	if (lb_announce_open(&lb.ann, &lb.cfg, bpf_map__fd(lb.ld.skel->maps.announce)) &&
	    lb.cfg.announce.table)
		goto detach;
	write_pid_file(pid_file);
	pr_info("serving %zu VIP(s) on %s; maps pinned under %s\n", lb.cfg.n_vips,
		lb.cfg.interface, LB_PIN_DIR);

	rc = run(&lb, sfd);
	/* No thread dispatches while the program goes or is left for the next daemon. */
	lb_workers_stop(lb.workers);
	lb.workers = NULL;
	if (lb.reloading) { /* a config still being read: wait for it, drop it */
		struct lb_config unused = {};
		char err[LB_ERR_MAX];

		if (!lb_reload_job_finish(lb.reloading, &unused, err, sizeof(err)))
			lb_config_free(&unused);
		lb.reloading = NULL;
	}
	switch (rc) {
	case RUN_LEAVE:
		ret = LB_EXIT_OK;
		goto out; /* the next daemon takes over program and maps */
	case RUN_STOP:
		ret = LB_EXIT_OK;
		retire_parked_at_stop(&lb);
		break;
	}
detach:
	lb_announce_stop(&lb.ann); /* no route may point at a balancer that stopped */
	lb_loader_detach(&lb.ld);
out:
	if (sfd >= 0) {
		close(sfd);
		unlink(pid_file);
	}
	lb_announce_close(&lb.ann);
	lb_metrics_close(lb.metrics);
	lb_health_free(lb.health);
	lb_workers_stop(lb.workers); /* before what they use goes */
	lb_peers_close(lb.peers);
	lb_xsk_close(lb.xsk);
	lb_ifaces_close(&lb.ifs);
	free_retired(&lb, true);
	free(lb.conf);
	lb_topk_free(&lb.route_top);
	lb_directory_free(lb.dir);
	lb_loader_close(&lb.ld);
	lb_config_free(&lb.cfg);
	return ret;
}
