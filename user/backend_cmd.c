// SPDX-License-Identifier: GPL-2.0
/*
 * latebind backend attach|detach|status: the backend-side programs, cookie
 * mode (bpf/backend.bpf.c) or replay mode (bpf/backend_replay.bpf.c). attach
 * checks the host, loads, attaches to TC ingress and egress, pins under
 * LB_BACKEND_PIN_DIR and exits: the programs stay attached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "backend.skel.h"
#include "backend_maps.h"
#include "backend_replay.skel.h"
#include "clock.h"
#include "commands.h"
#include "counters.h"
#include "cookie.h"
#include "cookie_key.h"
#include "log.h"
#include "own_address.h"
#include "stats.h"

#define TC_HANDLE	   0x1b /* ours among the interface's TC filters */
#define TC_PRIORITY	   1

/*
 * --balancer-flows: below a handful the LRU would forget live connections at
 * once; above 16 Mi entries (~1 GiB of kernel memory) is a typo, not a site.
 */
#define LB_BALANCER_FLOWS_MIN	16
#define LB_BALANCER_FLOWS_LIMIT (16U << 20)

extern char **environ;

struct attach_opts {
	const char *ifname;
	struct in_addr vip;
	uint16_t port;
	uint8_t balancer_macs[LB_MAX_BALANCERS][6]; /* in the order given */
	unsigned int balancers;
	unsigned int balancer_flows; /* balancer_of's size, with several balancers */
	const char *key_file;
	const char *mode;
	bool setup_vip;
	unsigned int wscale, period_s, windows;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: latebind backend attach --interface IF --vip ADDR:PORT --balancer-mac MAC\n"
		"                               [--balancer-mac MAC...] [--balancer-flows N]\n"
		"                               --cookie-key FILE [--mode cookie|replay] [--setup-vip]\n"
		"                               [--wscale N] [--cookie-period S] [--cookie-windows N]\n"
		"       latebind backend detach --interface IF\n"
		"       latebind backend status [--gc]\n\n"
		"attach loads the hand-off programs on IF (TC ingress and egress), pins them\n"
		"under %s and exits. --wscale and the cookie settings must match the\n"
		"balancer's handoff.wscale and cookie.period_s/windows (defaults do).\n"
		"--setup-vip puts the VIP on lo and sets arp_ignore=1/arp_announce=2.\n"
		"--balancer-mac once per balancer of the site (at most %d): hand-offs are\n"
		"accepted from each, and a connection's FIN/RST go to the one its packets\n"
		"last came through (--balancer-flows connections remembered, default %d).\n"
		"--mode cookie (default) needs Linux >= 6.9 (bpf_sk_assign_tcp_reqsk);\n"
		"--mode replay needs Linux >= 6.1: the balancer replays the client's SYN\n"
		"and these programs translate the connection's packets.\n"
		"status prints the mode, the counters and, in replay mode, the hand-offs\n"
		"by state; --gc also removes hand-offs that can carry no more traffic\n"
		"(closing or never completed, idle over %llu s).\n",
		LB_BACKEND_PIN_DIR, LB_MAX_BALANCERS, LB_BALANCER_OF_MAX,
		LB_HANDOFF_LINGER_NS / LB_NS_PER_S);
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	int i;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5]) != 6)
		return -1;
	for (i = 0; i < 6; i++) {
		if (b[i] > 255)
			return -1;
		mac[i] = b[i];
	}
	return 0;
}

/*
 * One more --balancer-mac: each balancer of the site once, at most
 * LB_MAX_BALANCERS. Says what to write instead when it cannot be taken.
 */
static int add_balancer_mac(struct attach_opts *o, const char *arg)
{
	uint8_t mac[6];
	unsigned int i;

	if (parse_mac(arg, mac)) {
		fprintf(stderr, "latebind backend attach: --balancer-mac '%s': write six hex bytes, "
			"e.g. 02:00:00:00:02:02\n", arg);
		return -1;
	}
	for (i = 0; i < o->balancers; i++)
		if (!memcmp(o->balancer_macs[i], mac, 6)) {
			fprintf(stderr, "latebind backend attach: --balancer-mac %s is given twice; "
				"give each balancer's MAC once\n", arg);
			return -1;
		}
	if (o->balancers == LB_MAX_BALANCERS) {
		fprintf(stderr, "latebind backend attach: --balancer-mac %s: at most %d balancer "
			"MACs; list only the balancers on this backend's segment, or rebuild with "
			"a larger LB_MAX_BALANCERS (headers/backend_maps.h)\n", arg, LB_MAX_BALANCERS);
		return -1;
	}
	memcpy(o->balancer_macs[o->balancers++], mac, 6);
	return 0;
}

/* A whole decimal number in [@min, @max]. */
static int parse_uint(const char *s, unsigned int min, unsigned int max, unsigned int *out)
{
	unsigned long v;
	char *end;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || *s == '-' || v < min || v > max)
		return -1;
	*out = v;
	return 0;
}

static int parse_vip(const char *s, struct in_addr *addr, uint16_t *port)
{
	char buf[64], *colon;
	long p;

	snprintf(buf, sizeof(buf), "%s", s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	p = strtol(colon + 1, NULL, 10);
	if (p < 1 || p > 65535 || inet_pton(AF_INET, buf, addr) != 1)
		return -1;
	*port = p;
	return 0;
}

static int run_cmd(char *const argv[])
{
	pid_t pid;
	int status;

	if (posix_spawnp(&pid, argv[0], NULL, NULL, argv, environ))
		return -1;
	if (waitpid(pid, &status, 0) < 0)
		return -1;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0 ? 0 : -1;
}

static int read_sysctl(const char *path)
{
	FILE *f = fopen(path, "r");
	int v = -1;

	if (f) {
		if (fscanf(f, "%d", &v) != 1)
			v = -1;
		fclose(f);
	}
	return v;
}

static int write_sysctl(const char *path, const char *val)
{
	FILE *f = fopen(path, "w");
	int ret;

	if (!f)
		return -1;
	ret = fputs(val, f) < 0 ? -1 : 0;
	return fclose(f) || ret ? -1 : 0;
}

/* The kernel uses the larger of "all" and the interface's own value. */
static int conf_setting(const char *ifname, const char *name)
{
	char path[128];
	int all, dev;

	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/all/%s", name);
	all = read_sysctl(path);
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/%s", ifname, name);
	dev = read_sysctl(path);
	return all > dev ? all : dev;
}

/* Is anything listening on the VIP's port (on the VIP or on any address)? */
static bool listening(struct in_addr vip, uint16_t port)
{
	char line[256];
	FILE *f = fopen("/proc/net/tcp", "r");
	bool found = false;

	if (!f)
		return false;
	while (fgets(line, sizeof(line), f)) {
		unsigned int addr, lport, state;

		if (sscanf(line, " %*d: %x:%x %*x:%*x %x", &addr, &lport, &state) != 3)
			continue;
		/* /proc/net/tcp prints addresses as the host-order value of the raw word. */
		if (state == 0x0a && lport == port && (addr == 0 || addr == vip.s_addr))
			found = true;
	}
	fclose(f);
	return found;
}

static bool kernel_has_kfunc(const char *name)
{
	struct btf *btf = btf__load_vmlinux_btf();
	bool found;

	if (!btf)
		return false;
	found = btf__find_by_name_kind(btf, name, BTF_KIND_FUNC) > 0;
	btf__free(btf);
	return found;
}

static int setup_vip(const struct attach_opts *o)
{
	char addr[32];
	char *const ip_argv[] = { "ip", "addr", "replace", addr, "dev", "lo", NULL };
	char path[128];

	snprintf(addr, sizeof(addr), "%s/32", inet_ntoa(o->vip));
	if (!lb_own_address(o->vip) && run_cmd(ip_argv)) {
		pr_warn("cannot add %s to lo (ip addr replace failed)\n", addr);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_ignore", o->ifname);
	if (write_sysctl("/proc/sys/net/ipv4/conf/all/arp_ignore", "1") || write_sysctl(path, "1"))
		return -1;
	snprintf(path, sizeof(path), "/proc/sys/net/ipv4/conf/%s/arp_announce", o->ifname);
	return write_sysctl("/proc/sys/net/ipv4/conf/all/arp_announce", "2") ||
	       write_sysctl(path, "2");
}

/*
 * Every missing prerequisite, said once with what to do about it. Replay mode
 * needs no kfunc: it is the mode for kernels without it (6.1 to 6.8).
 */
static int check_host(const struct attach_opts *o, bool replay)
{
	int problems = 0;

	/* The helpers of replay mode's newest kernels: the cookie clock and the option loop. */
	if (replay &&
	    (libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_ktime_get_tai_ns, NULL) != 1 ||
	     libbpf_probe_bpf_helper(BPF_PROG_TYPE_SCHED_CLS, BPF_FUNC_loop, NULL) != 1)) {
		pr_warn("this kernel lacks bpf_ktime_get_tai_ns or bpf_loop (Linux >= 6.1 needed "
			"for replay mode); upgrade the backend's kernel\n");
		problems++;
	}
	if (!replay && !kernel_has_kfunc("bpf_sk_assign_tcp_reqsk")) {
		pr_warn("this kernel has no bpf_sk_assign_tcp_reqsk (Linux >= 6.9 needed for "
			"cookie mode); use --mode replay\n");
		problems++;
	}
	if (!lb_own_address(o->vip)) {
		pr_warn("%s is not on a local interface: add it to lo (ip addr add %s/32 dev lo) "
			"or use --setup-vip\n", inet_ntoa(o->vip), inet_ntoa(o->vip));
		problems++;
	}
	/*
	 * On a balancer that serves too (--interface lo): hand-offs are written
	 * into lo with the client's source address, which strict reverse-path
	 * filtering drops after the programs adopted them.
	 */
	if (!strcmp(o->ifname, "lo") && conf_setting("lo", "rp_filter") == 1) {
		pr_warn("net.ipv4.conf.all.rp_filter or conf.lo.rp_filter is 1 (strict): it drops "
			"the hand-offs written into lo; set both to 0 or 2 (loose)\n");
		problems++;
	}
	if (conf_setting(o->ifname, "arp_ignore") < 1 || conf_setting(o->ifname, "arp_announce") < 2) {
		pr_warn("this host would answer ARP for the VIP: set net.ipv4.conf.all.arp_ignore=1 "
			"and arp_announce=2, or use --setup-vip\n");
		problems++;
	}
	/*
	 * Not fatal: the connections work, but clients the balancer told to use
	 * timestamps get segments without them (most stacks accept that).
	 */
	if (replay && read_sysctl("/proc/sys/net/ipv4/tcp_timestamps") == 0)
		pr_warn("net.ipv4.tcp_timestamps is 0: replayed connections will carry no "
			"timestamps the clients were promised; set it to 1\n");
	if (!listening(o->vip, o->port)) {
		pr_warn("nothing listens on port %u: start the web server first\n", o->port);
		problems++;
	}
	return problems ? -1 : 0;
}

static int tc_attach(int ifindex, enum bpf_tc_attach_point where, int prog_fd)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int err = bpf_tc_hook_create(&hook);

	if (err && err != -EEXIST)
		return err;
	return bpf_tc_attach(&hook, &opts);
}

static void tc_detach(int ifindex, enum bpf_tc_attach_point where)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = where);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = TC_HANDLE, .priority = TC_PRIORITY);

	bpf_tc_detach(&hook, &opts);
}

static void unpin_all(void)
{
	static const char *const names[] = { "cookie_secret", "stats", "ingress", "egress",
					     "handoffs", "balancer_of" };
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", LB_BACKEND_PIN_DIR, names[i]);
		unlink(path);
	}
	rmdir(LB_BACKEND_PIN_DIR);
}

/* What attach pins and attaches, whichever object it comes from. */
struct be_objs {
	struct bpf_map *cookie_secret, *stats, *handoffs; /* handoffs: replay mode only */
	struct bpf_map *balancer_of;
	struct bpf_program *ingress, *egress;
};

/*
 * Both objects take the same load-time settings (bpf/backend_common.h); their
 * skeletons are different types, hence a macro.
 */
#define SET_RODATA(skel, o)                                                              \
	do {                                                                             \
		(skel)->rodata->cfg_vip_addr = (o)->vip.s_addr;                          \
		(skel)->rodata->cfg_vip_port = htons((o)->port);                         \
		memcpy((void *)(skel)->rodata->cfg_balancer_macs, (o)->balancer_macs,    \
		       sizeof((o)->balancer_macs));                                      \
		(skel)->rodata->cfg_balancers = (o)->balancers;                          \
		(skel)->rodata->cfg_wscale = (o)->wscale;                                \
	} while (0)

/* With one balancer balancer_of is never used: one entry, not a table's worth of memory. */
static __u32 balancer_of_size(const struct attach_opts *o)
{
	return o->balancers > 1 ? o->balancer_flows : 1;
}

/* Open, configure and load the mode's object; NULL objs->ingress on failure. */
static int load_mode(const struct attach_opts *o, bool replay, struct backend **cskel,
		     struct backend_replay **rskel, struct be_objs *objs)
{
	int e;

	if (replay) {
		struct backend_replay *skel = backend_replay__open();

		*rskel = skel;
		if (!skel)
			return -errno;
		SET_RODATA(skel, o);
		e = bpf_map__set_max_entries(skel->maps.balancer_of, balancer_of_size(o));
		if (!e)
			e = backend_replay__load(skel);
		if (e)
			return e;
		*objs = (struct be_objs){ skel->maps.cookie_secret, skel->maps.stats,
					  skel->maps.handoffs, skel->maps.balancer_of,
					  skel->progs.lb_replay_ingress,
					  skel->progs.lb_replay_egress };
	} else {
		struct backend *skel = backend__open();

		*cskel = skel;
		if (!skel)
			return -errno;
		SET_RODATA(skel, o);
		e = bpf_map__set_max_entries(skel->maps.balancer_of, balancer_of_size(o));
		if (!e)
			e = backend__load(skel);
		if (e)
			return e;
		*objs = (struct be_objs){ skel->maps.cookie_secret, skel->maps.stats, NULL,
					  skel->maps.balancer_of, skel->progs.lb_backend_ingress,
					  skel->progs.lb_backend_egress };
	}
	return 0;
}

static int do_attach(const struct attach_opts *o)
{
	struct lb_cookie_secret secret = { .period_s = o->period_s, .windows = o->windows };
	bool replay = !strcmp(o->mode, "replay");
	struct backend_replay *rskel = NULL;
	struct backend *cskel = NULL;
	struct be_objs objs = {};
	char err[256];
	int ifindex, ret = LB_EXIT_FAIL, e;
	__u32 k = 0;

	ifindex = if_nametoindex(o->ifname);
	if (!ifindex) {
		pr_warn("no interface '%s' on this host\n", o->ifname);
		return LB_EXIT_FAIL;
	}
	if (o->setup_vip && setup_vip(o)) {
		pr_warn("--setup-vip failed: %s\n", strerror(errno));
		return LB_EXIT_FAIL;
	}
	if (check_host(o, replay))
		return LB_EXIT_FAIL;
	if (lb_cookie_key_load(o->key_file, false, secret.key, err, sizeof(err))) {
		pr_warn("%s\n", err);
		return LB_EXIT_FAIL;
	}
	if (mkdir(LB_BACKEND_PIN_DIR, 0700) && errno != EEXIST) {
		pr_warn("cannot create %s: %s (is bpffs mounted on /sys/fs/bpf?)\n",
			LB_BACKEND_PIN_DIR, strerror(errno));
		return LB_EXIT_FAIL;
	}

	e = load_mode(o, replay, &cskel, &rskel, &objs);
	if (e) {
		pr_warn("cannot load the backend programs (%s mode): %s\n", o->mode, strerror(-e));
		goto out;
	}
	if (bpf_map_update_elem(bpf_map__fd(objs.cookie_secret), &k, &secret, 0))
		goto out;
	/* Replace what a previous attach pinned (either mode): this one is the one running. */
	unpin_all();
	mkdir(LB_BACKEND_PIN_DIR, 0700);
	if (bpf_map__pin(objs.cookie_secret, LB_BACKEND_PIN_DIR "/cookie_secret") ||
	    bpf_map__pin(objs.stats, LB_BACKEND_PIN_DIR "/stats") ||
	    (objs.handoffs && bpf_map__pin(objs.handoffs, LB_BACKEND_PIN_DIR "/handoffs")) ||
	    (o->balancers > 1 &&
	     bpf_map__pin(objs.balancer_of, LB_BACKEND_PIN_DIR "/balancer_of")) ||
	    bpf_program__pin(objs.ingress, LB_BACKEND_PIN_DIR "/ingress") ||
	    bpf_program__pin(objs.egress, LB_BACKEND_PIN_DIR "/egress")) {
		pr_warn("cannot pin under %s: %s\n", LB_BACKEND_PIN_DIR, strerror(errno));
		unpin_all();
		goto out;
	}
	e = tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(objs.ingress));
	if (!e)
		e = tc_attach(ifindex, BPF_TC_EGRESS, bpf_program__fd(objs.egress));
	if (e) {
		pr_warn("cannot attach to %s's TC hooks: %s\n", o->ifname, strerror(-e));
		tc_detach(ifindex, BPF_TC_INGRESS);
		unpin_all();
		goto out;
	}
	pr_info("%s-mode hand-off attached to %s for %s:%u\n", o->mode, o->ifname,
		inet_ntoa(o->vip), o->port);
	ret = LB_EXIT_OK;
out:
	backend__destroy(cskel);
	backend_replay__destroy(rskel);
	return ret;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "vip", required_argument, NULL, 'V' },
		{ "balancer-mac", required_argument, NULL, 'm' },
		{ "balancer-flows", required_argument, NULL, 'F' },
		{ "cookie-key", required_argument, NULL, 'k' },
		{ "mode", required_argument, NULL, 'M' },
		{ "setup-vip", no_argument, NULL, 's' },
		{ "wscale", required_argument, NULL, 'w' },
		{ "cookie-period", required_argument, NULL, 'p' },
		{ "cookie-windows", required_argument, NULL, 'W' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct attach_opts o = { .mode = "cookie", .wscale = 7, /* the config's handoff.wscale default */
				 .period_s = LB_COOKIE_DEFAULT_PERIOD,
				 .windows = LB_COOKIE_DEFAULT_WINDOWS,
				 .balancer_flows = LB_BALANCER_OF_MAX };
	bool have_vip = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "i:V:m:F:k:M:sw:p:W:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': o.ifname = optarg; break;
		case 'V':
			if (parse_vip(optarg, &o.vip, &o.port)) {
				fprintf(stderr, "latebind backend attach: --vip '%s': write ADDR:PORT, "
					"e.g. 192.0.2.80:80\n", optarg);
				return LB_EXIT_USAGE;
			}
			have_vip = true;
			break;
		case 'm':
			if (add_balancer_mac(&o, optarg))
				return LB_EXIT_USAGE;
			break;
		case 'F':
			if (parse_uint(optarg, LB_BALANCER_FLOWS_MIN, LB_BALANCER_FLOWS_LIMIT,
				       &o.balancer_flows)) {
				fprintf(stderr, "latebind backend attach: --balancer-flows '%s': write a "
					"number of connections from %u to %u (default %u)\n", optarg,
					LB_BALANCER_FLOWS_MIN, LB_BALANCER_FLOWS_LIMIT,
					LB_BALANCER_OF_MAX);
				return LB_EXIT_USAGE;
			}
			break;
		case 'k': o.key_file = optarg; break;
		case 'M': o.mode = optarg; break;
		case 's': o.setup_vip = true; break;
		case 'w': o.wscale = strtoul(optarg, NULL, 10); break;
		case 'p': o.period_s = strtoul(optarg, NULL, 10); break;
		case 'W': o.windows = strtoul(optarg, NULL, 10); break;
		case 'h': usage(stdout); return LB_EXIT_OK;
		default: usage(stderr); return LB_EXIT_USAGE;
		}
	}
	if (!o.ifname || !have_vip || !o.balancers || !o.key_file || optind != argc ||
	    (strcmp(o.mode, "cookie") && strcmp(o.mode, "replay")) || o.wscale > 14 ||
	    !o.period_s || o.windows < 1 || o.windows > LB_COOKIE_MAX_WINDOWS) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	return do_attach(&o);
}

static int cmd_detach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *ifname = NULL;
	int opt, ifindex;

	while ((opt = getopt_long(argc, argv, "i:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'i': ifname = optarg; break;
		case 'h': usage(stdout); return LB_EXIT_OK;
		default: usage(stderr); return LB_EXIT_USAGE;
		}
	}
	if (!ifname || optind != argc) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	/*
	 * Our filters and every pin of either mode go. The clsact qdisc stays: it
	 * may hold other tools' filters, and an empty one changes nothing.
	 */
	ifindex = if_nametoindex(ifname);
	if (ifindex) {
		tc_detach(ifindex, BPF_TC_INGRESS);
		tc_detach(ifindex, BPF_TC_EGRESS);
	}
	unpin_all();
	return LB_EXIT_OK;
}

static const char *const handoff_state_names[] = {
	[LB_HO_SYN_SEEN] = "syn_seen",
	[LB_HO_ESTABLISHED] = "established",
	[LB_HO_CLOSING] = "closing",
};

/*
 * The replay-mode hand-offs by state; with @gc, first remove those that can
 * carry no more traffic: CLOSING or SYN_SEEN entries idle for longer than
 * LB_HANDOFF_LINGER_NS. ESTABLISHED ones are left to the LRU however long they
 * idle: the kernel may keep an idle connection open for hours, and without its
 * entry it could not be translated any more.
 */
static void print_handoffs(int fd, bool gc)
{
	unsigned long long by_state[4] = {}, other = 0, removed = 0;
	struct lb_handoff_key key, next, *prev = NULL;
	__u64 now = lb_clock_ns(CLOCK_MONOTONIC);
	struct lb_handoff v;
	int i;

	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, &v))
			continue; /* gone meanwhile */
		if (gc && v.state != LB_HO_ESTABLISHED && v.last_seen_ns < now &&
		    now - v.last_seen_ns > LB_HANDOFF_LINGER_NS && !bpf_map_delete_elem(fd, &key)) {
			removed++;
			continue;
		}
		if (v.state >= LB_HO_SYN_SEEN && v.state <= LB_HO_CLOSING)
			by_state[v.state]++;
		else
			other++;
	}
	printf("Hand-offs by state:\n");
	for (i = LB_HO_SYN_SEEN; i <= LB_HO_CLOSING; i++)
		printf("  %-20s %llu\n", handoff_state_names[i], by_state[i]);
	if (other)
		printf("  %-20s %llu\n", "unknown", other);
	if (gc)
		printf("  %-20s %llu\n", "removed_by_gc", removed);
}

/* Where variable @name sits in a .rodata datasec: its offset and size, or -1. */
static int datasec_var(const struct btf *btf, __u32 sec_id, const char *name, __u32 *off,
		       __u32 *size)
{
	const struct btf_type *sec = btf__type_by_id(btf, sec_id);
	const struct btf_var_secinfo *vi;
	int i;

	if (!sec || !btf_is_datasec(sec))
		return -1;
	vi = btf_var_secinfos(sec);
	for (i = 0; i < btf_vlen(sec); i++, vi++) {
		const struct btf_type *var = btf__type_by_id(btf, vi->type);

		if (var && !strcmp(btf__name_by_offset(btf, var->name_off), name)) {
			*off = vi->offset;
			*size = vi->size;
			return 0;
		}
	}
	return -1;
}

/*
 * The balancer MACs the attached programs were loaded with, read from the
 * pinned ingress program's own .rodata map (through its BTF): what runs, not
 * a copy that could differ. 0, or -1 when it cannot be read.
 */
static int attached_balancers(uint8_t macs[LB_MAX_BALANCERS][6], __u32 *n)
{
	__u32 ids[16], len, i, zero = 0, off_m, size_m, off_n, size_n;
	struct bpf_prog_info pinfo = {};
	int pfd, ret = -1;

	pfd = bpf_obj_get(LB_BACKEND_PIN_DIR "/ingress");
	if (pfd < 0)
		return -1;
	pinfo.nr_map_ids = sizeof(ids) / sizeof(ids[0]);
	pinfo.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(pinfo);
	if (bpf_obj_get_info_by_fd(pfd, &pinfo, &len))
		goto out;
	for (i = 0; i < pinfo.nr_map_ids && i < sizeof(ids) / sizeof(ids[0]) && ret; i++) {
		struct bpf_map_info minfo = {};
		struct btf *btf = NULL;
		uint8_t *val = NULL;
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		len = sizeof(minfo);
		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &minfo, &len) && strstr(minfo.name, ".rodata") &&
		    minfo.btf_id && (btf = btf__load_from_kernel_by_id(minfo.btf_id)) &&
		    !datasec_var(btf, minfo.btf_value_type_id, "cfg_balancer_macs", &off_m, &size_m) &&
		    !datasec_var(btf, minfo.btf_value_type_id, "cfg_balancers", &off_n, &size_n) &&
		    size_m == LB_MAX_BALANCERS * 6 && size_n == sizeof(*n) &&
		    (val = malloc(minfo.value_size)) && !bpf_map_lookup_elem(mfd, &zero, val)) {
			memcpy(macs, val + off_m, size_m);
			memcpy(n, val + off_n, size_n);
			ret = *n >= 1 && *n <= LB_MAX_BALANCERS ? 0 : -1;
		}
		free(val);
		btf__free(btf);
		close(mfd);
	}
out:
	close(pfd);
	return ret;
}

static void print_balancers(void)
{
	uint8_t macs[LB_MAX_BALANCERS][6];
	__u32 n, i;

	if (attached_balancers(macs, &n)) {
		printf("Balancers: (cannot be read from %s/ingress)\n", LB_BACKEND_PIN_DIR);
		return;
	}
	printf("Balancers:");
	for (i = 0; i < n; i++)
		printf(" %02x:%02x:%02x:%02x:%02x:%02x", macs[i][0], macs[i][1], macs[i][2],
		       macs[i][3], macs[i][4], macs[i][5]);
	printf("\n");
}

static int cmd_backend_status(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "gc", no_argument, NULL, 'g' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct lb_counter sums[LB_BE_REASON_MAX];
	int fd, hfd, opt, err;
	bool gc = false;
	__u32 r;

	while ((opt = getopt_long(argc, argv, "gh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'g': gc = true; break;
		case 'h': usage(stdout); return LB_EXIT_OK;
		default: usage(stderr); return LB_EXIT_USAGE;
		}
	}
	if (optind != argc) {
		usage(stderr);
		return LB_EXIT_USAGE;
	}
	fd = bpf_obj_get(LB_BACKEND_PIN_DIR "/stats");
	if (fd < 0) {
		fprintf(stderr, "latebind backend status: nothing attached here (%s/stats: %s)\n",
			LB_BACKEND_PIN_DIR, strerror(errno));
		return LB_EXIT_FAIL;
	}
	/* Only replay mode pins a handoffs map. */
	hfd = bpf_obj_get(LB_BACKEND_PIN_DIR "/handoffs");
	printf("Mode: %s\n", hfd >= 0 ? "replay" : "cookie");
	print_balancers();
	err = lb_counters_sum(fd, LB_BE_REASON_MAX, sums);
	if (err) {
		fprintf(stderr, "latebind backend status: cannot read %s/stats: %s\n",
			LB_BACKEND_PIN_DIR, strerror(errno));
		close(fd);
		if (hfd >= 0)
			close(hfd);
		return LB_EXIT_FAIL;
	}
	printf("Counters (packets bytes):\n");
	for (r = 0; r < LB_BE_REASON_MAX; r++)
		printf("  %-22s %llu %llu\n", lb_backend_reason_names[r],
		       (unsigned long long)sums[r].packets, (unsigned long long)sums[r].bytes);
	close(fd);
	if (hfd >= 0) {
		print_handoffs(hfd, gc);
		close(hfd);
	} else if (gc) {
		printf("(--gc: cookie mode keeps no hand-off state)\n");
	}
	return LB_EXIT_OK;
}

int cmd_backend(int argc, char **argv)
{
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? LB_EXIT_USAGE : LB_EXIT_OK;
	}
	if (!strcmp(argv[1], "attach"))
		return cmd_attach(argc - 1, argv + 1);
	if (!strcmp(argv[1], "detach"))
		return cmd_detach(argc - 1, argv + 1);
	if (!strcmp(argv[1], "status"))
		return cmd_backend_status(argc - 1, argv + 1);
	fprintf(stderr, "latebind backend: unknown action '%s'\n", argv[1]);
	usage(stderr);
	return LB_EXIT_USAGE;
}
