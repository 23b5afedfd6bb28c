// SPDX-License-Identifier: GPL-2.0
/*
 * latebind backend attach|detach|status: the backend-side programs
 * (bpf/backend.bpf.c). attach checks the host, loads, attaches to TC ingress and
 * egress, pins under LB_BACKEND_PIN_DIR and exits: the programs stay attached.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>

#include "backend.skel.h"
#include "commands.h"
#include "cookie.h"
#include "cookie_key.h"
#include "log.h"
#include "stats.h"

#define LB_BACKEND_PIN_DIR "/sys/fs/bpf/latebind-backend"
#define TC_HANDLE	   0x1b /* ours among the interface's TC filters */
#define TC_PRIORITY	   1

extern char **environ;

struct attach_opts {
	const char *ifname;
	struct in_addr vip;
	uint16_t port;
	uint8_t balancer_mac[6];
	const char *key_file;
	const char *mode;
	bool setup_vip;
	unsigned int wscale, period_s, windows;
};

static void usage(FILE *out)
{
	fprintf(out,
		"usage: latebind backend attach --interface IF --vip ADDR:PORT --balancer-mac MAC\n"
		"                               --cookie-key FILE [--mode cookie|replay] [--setup-vip]\n"
		"                               [--wscale N] [--cookie-period S] [--cookie-windows N]\n"
		"       latebind backend detach --interface IF\n"
		"       latebind backend status\n\n"
		"attach loads the hand-off programs on IF (TC ingress and egress), pins them\n"
		"under %s and exits. --wscale and the cookie settings must match the\n"
		"balancer's handoff.wscale and cookie.period_s/windows (defaults do).\n"
		"--setup-vip puts the VIP on lo and sets arp_ignore=1/arp_announce=2.\n",
		LB_BACKEND_PIN_DIR);
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

static bool vip_is_local(struct in_addr vip)
{
	struct ifaddrs *ifa, *i;
	bool found = false;

	if (getifaddrs(&ifa))
		return false;
	for (i = ifa; i; i = i->ifa_next)
		if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET &&
		    ((struct sockaddr_in *)i->ifa_addr)->sin_addr.s_addr == vip.s_addr)
			found = true;
	freeifaddrs(ifa);
	return found;
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
static int arp_setting(const char *ifname, const char *name)
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
	if (!vip_is_local(o->vip) && run_cmd(ip_argv)) {
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

/* Every missing prerequisite, said once with what to do about it. */
static int check_host(const struct attach_opts *o)
{
	int problems = 0;

	if (!kernel_has_kfunc("bpf_sk_assign_tcp_reqsk")) {
		pr_warn("this kernel has no bpf_sk_assign_tcp_reqsk (Linux >= 6.9 needed for "
			"cookie mode); use --mode replay\n");
		problems++;
	}
	if (!vip_is_local(o->vip)) {
		pr_warn("%s is not on a local interface: add it to lo (ip addr add %s/32 dev lo) "
			"or use --setup-vip\n", inet_ntoa(o->vip), inet_ntoa(o->vip));
		problems++;
	}
	if (arp_setting(o->ifname, "arp_ignore") < 1 || arp_setting(o->ifname, "arp_announce") < 2) {
		pr_warn("this host would answer ARP for the VIP: set net.ipv4.conf.all.arp_ignore=1 "
			"and arp_announce=2, or use --setup-vip\n");
		problems++;
	}
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
	static const char *const names[] = { "cookie_secret", "stats", "ingress", "egress" };
	char path[256];
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", LB_BACKEND_PIN_DIR, names[i]);
		unlink(path);
	}
	rmdir(LB_BACKEND_PIN_DIR);
}

static int do_attach(const struct attach_opts *o)
{
	struct lb_cookie_secret secret = { .period_s = o->period_s, .windows = o->windows };
	struct backend *skel = NULL;
	char err[256];
	int ifindex, ret = LB_EXIT_FAIL, e;
	__u32 k = 0;

	if (!strcmp(o->mode, "replay")) {
		pr_warn("replay mode is not built in this version yet; use --mode cookie on "
			"Linux >= 6.9\n");
		return LB_EXIT_NOT_BUILT;
	}
	ifindex = if_nametoindex(o->ifname);
	if (!ifindex) {
		pr_warn("no interface '%s' on this host\n", o->ifname);
		return LB_EXIT_FAIL;
	}
	if (o->setup_vip && setup_vip(o)) {
		pr_warn("--setup-vip failed: %s\n", strerror(errno));
		return LB_EXIT_FAIL;
	}
	if (check_host(o))
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

	skel = backend__open();
	if (!skel) {
		pr_warn("cannot open the backend programs: %s\n", strerror(errno));
		goto out;
	}
	skel->rodata->cfg_vip_addr = o->vip.s_addr;
	skel->rodata->cfg_vip_port = htons(o->port);
	memcpy((void *)skel->rodata->cfg_balancer_mac, o->balancer_mac, 6);
	skel->rodata->cfg_wscale = o->wscale;
	e = backend__load(skel);
	if (e) {
		pr_warn("cannot load the backend programs: %s\n", strerror(-e));
		goto out;
	}
	if (bpf_map_update_elem(bpf_map__fd(skel->maps.cookie_secret), &k, &secret, 0))
		goto out;
	/* Replace what a previous attach pinned: this one is the one running. */
	unpin_all();
	mkdir(LB_BACKEND_PIN_DIR, 0700);
	if (bpf_map__pin(skel->maps.cookie_secret, LB_BACKEND_PIN_DIR "/cookie_secret") ||
	    bpf_map__pin(skel->maps.stats, LB_BACKEND_PIN_DIR "/stats") ||
	    bpf_program__pin(skel->progs.lb_backend_ingress, LB_BACKEND_PIN_DIR "/ingress") ||
	    bpf_program__pin(skel->progs.lb_backend_egress, LB_BACKEND_PIN_DIR "/egress")) {
		pr_warn("cannot pin under %s: %s\n", LB_BACKEND_PIN_DIR, strerror(errno));
		goto out;
	}
	e = tc_attach(ifindex, BPF_TC_INGRESS, bpf_program__fd(skel->progs.lb_backend_ingress));
	if (!e)
		e = tc_attach(ifindex, BPF_TC_EGRESS, bpf_program__fd(skel->progs.lb_backend_egress));
	if (e) {
		pr_warn("cannot attach to %s's TC hooks: %s\n", o->ifname, strerror(-e));
		tc_detach(ifindex, BPF_TC_INGRESS);
		unpin_all();
		goto out;
	}
	pr_info("cookie-mode hand-off attached to %s for %s:%u\n", o->ifname, inet_ntoa(o->vip),
		o->port);
	ret = LB_EXIT_OK;
out:
	backend__destroy(skel);
	return ret;
}

static int cmd_attach(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "vip", required_argument, NULL, 'V' },
		{ "balancer-mac", required_argument, NULL, 'm' },
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
				 .windows = LB_COOKIE_DEFAULT_WINDOWS };
	bool have_vip = false, have_mac = false;
	int opt;

	while ((opt = getopt_long(argc, argv, "i:V:m:k:M:sw:p:W:h", longopts, NULL)) != -1) {
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
			if (parse_mac(optarg, o.balancer_mac)) {
				fprintf(stderr, "latebind backend attach: --balancer-mac '%s': write six "
					"hex bytes, e.g. 02:00:00:00:02:02\n", optarg);
				return LB_EXIT_USAGE;
			}
			have_mac = true;
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
	if (!o.ifname || !have_vip || !have_mac || !o.key_file || optind != argc ||
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
	ifindex = if_nametoindex(ifname);
	if (ifindex) {
		tc_detach(ifindex, BPF_TC_INGRESS);
		tc_detach(ifindex, BPF_TC_EGRESS);
	}
	unpin_all();
	return LB_EXIT_OK;
}

static int cmd_backend_status(int argc, char **argv)
{
	int ncpu = libbpf_num_possible_cpus(), fd, c;
	struct lb_counter vals[ncpu > 0 ? ncpu : 1];
	__u32 r;

	fd = bpf_obj_get(LB_BACKEND_PIN_DIR "/stats");
	if (fd < 0) {
		fprintf(stderr, "latebind backend status: nothing attached here (%s/stats: %s)\n",
			LB_BACKEND_PIN_DIR, strerror(errno));
		return LB_EXIT_FAIL;
	}
	printf("Counters (packets bytes):\n");
	for (r = 0; r < LB_BE_REASON_MAX; r++) {
		__u64 p = 0, b = 0;

		if (!bpf_map_lookup_elem(fd, &r, vals))
			for (c = 0; c < ncpu; c++) {
				p += vals[c].packets;
				b += vals[c].bytes;
			}
		printf("  %-20s %llu %llu\n", lb_backend_reason_names[r], (unsigned long long)p,
		       (unsigned long long)b);
	}
	close(fd);
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
