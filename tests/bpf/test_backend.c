// SPDX-License-Identifier: GPL-2.0
/*
 * Packet tables for the backend's TC programs (cookie mode), run with
 * BPF_PROG_TEST_RUN on the real object loaded from its skeleton, as
 * `latebind backend attach` loads it.
 *
 * The ingress program looks sockets up with bpf_skc_lookup_tcp in the network
 * namespace of the skb's device, which under BPF_PROG_TEST_RUN is the loopback
 * of the test process's namespace: the tests make "a listener exists" true by
 * listening on INADDR_ANY at the VIP port themselves.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/if_ether.h>
#include <linux/if_packet.h>
#include <net/if.h>
#include <linux/sockios.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backend.skel.h"
#include "cookie.h"
#include "fin_notice.h"
#include "rebind.h"
#include "backend_run.h"
#include "frames.h"
#include "stats.h"
#include "suites.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

#define VIP	  "192.0.2.80"
#define CLIENT	  "203.0.113.10"
#define BACKEND	  "198.51.100.11" /* the backend's own address */
#define CPORT	  40000
#define CISN	  0x11223344u
#define TEST_WS	  7
#define OTHER_PORT 8080

/*
 * What bpf_sk_assign_tcp_reqsk() does with a valid hand-off under
 * BPF_PROG_TEST_RUN: it refuses it with -EINVAL, so the program drops the ACK
 * as drop_assign_failed. The kfunc only works on an skb at TC ingress
 * (skb_at_tc_ingress()), and the skb BPF_PROG_TEST_RUN builds never went
 * through the ingress hook: its tc_at_ingress bit is clear. Checked on this
 * kernel (6.18) with a probe program returning the kfunc's result and that
 * bit: -EINVAL and 0 under BPF_PROG_TEST_RUN; 0 (a request socket assigned)
 * and 1 for the same call on a real clsact ingress hook of a veth.
 *
 * So these rows cannot tell adoption from a refusal by the kernel (the lab's
 * tests/lab/test_handoff.sh covers real adoption); what they prove is that
 * every check of ours before the kfunc passed: the counter that moved is not
 * drop_bad_cookie, drop_not_balancer, drop_malformed or pass_no_listener.
 */
#define KFUNC_ACTION TC_ACT_SHOT
#define KFUNC_REASON LB_BE_DROP_ASSIGN_FAILED

static const uint8_t *const balancer_mac = be_balancers[0]; /* the one-balancer tables' */
static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const uint8_t backend_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x0b };
static const uint8_t router_mac[6] = { 0x02, 0, 0, 0, 0x04, 0x0c };

static const struct lb_cookie_secret secret = {
	.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
	.period_s = 64,
	.windows = 2,
};

/*
 * be: the VIP port has a listener; be_nl: another port where nothing listens;
 * be2: the VIP port, two balancers (only for the "several balancers" case).
 */
static struct backend *be, *be_nl, *be2;
static int listen_fd = -1, hold_fd = -1;
static uint16_t port_p, port_q; /* host order */

static uint64_t tai_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return ts.tv_sec;
}

/* A TCP socket bound to INADDR_ANY at a free port; listening if @listening. */
static int tcp_socket_any_port(int listening, uint16_t *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t alen = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	if (listening)
		ck_assert_int_eq(listen(fd, 16), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

static void assert_loaded(struct bpf_program *prog)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	ck_assert_int_eq(bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len), 0);
	ck_assert_msg(info.xlated_prog_len > 0, "%s: no verified instructions",
		      bpf_program__name(prog));
}

/* Attached as `backend attach` does it, with the first @balancers of be_balancers. */
static struct backend *load_backend(uint16_t port, uint32_t balancers)
{
	struct backend *skel = backend__open();
	uint32_t k = 0;

	ck_assert_msg(skel, "open backend skeleton: %s", strerror(errno));
	inet_pton(AF_INET, VIP, (void *)&skel->rodata->cfg_vip_addr);
	skel->rodata->cfg_vip_port = htons(port);
	memcpy((void *)skel->rodata->cfg_balancer_macs, be_balancers, balancers * 6);
	skel->rodata->cfg_balancers = balancers;
	skel->rodata->cfg_wscale = TEST_WS;
	ck_assert_msg(backend__load(skel) == 0, "load backend: %s (run as root)", strerror(errno));

	/* It really loaded: both programs are verified programs in the kernel. */
	assert_loaded(skel->progs.lb_backend_ingress);
	assert_loaded(skel->progs.lb_backend_egress);

	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.cookie_secret), &k, &secret, 0),
			 0);
	return skel;
}

static void setup(void)
{
	listen_fd = tcp_socket_any_port(1, &port_p);
	/* Bound but not listening: keeps port Q ours, and nothing to find there. */
	hold_fd = tcp_socket_any_port(0, &port_q);
	ck_assert_uint_ne(port_p, port_q);
	be = load_backend(port_p, 1);
	be_nl = load_backend(port_q, 1);
}

static void teardown(void)
{
	backend__destroy(be);
	backend__destroy(be_nl);
	be = be_nl = NULL;
	close(listen_fd);
	close(hold_fd);
	listen_fd = hold_fd = -1;
}

/* ---- running a frame ---------------------------------------------------- */

static void run_prog(struct backend *skel, struct bpf_program *prog, const uint8_t *frame,
		     size_t len, struct run *r)
{
	be_run_prog(skel->maps.stats, prog, frame, len, r);
}

#define assert_counted be_assert_counted

static void assert_unchanged(const struct run *r, const uint8_t *in, size_t len)
{
	ck_assert_uint_eq(r->out_len, len);
	ck_assert_mem_eq(r->out, in, len);
}

/* ---- ingress: hand-offs from the balancer, and everything else ------------ */

enum ack_kind {
	ACK_PLAIN,	  /* seq/ack of no cookie at all */
	ACK_VALID,	  /* seq = ISN + 1, ack = cookie + 1, current window */
	ACK_PREV_WINDOW,  /* a cookie of the window before: still valid */
	ACK_FORGED,	  /* a tag bit flipped */
	ACK_OPTS_ALTERED, /* an options bit flipped (claims SACK) */
	ACK_WRONG_ISN,	  /* seq not the ISN the cookie was made for */
	ACK_EXPIRED,	  /* the window before the accepted ones */
};

enum opt_kind { OPT_NONE, OPT_TS, OPT_MALFORMED };
enum target {
	T_LISTENER, T_NO_LISTENER, T_OTHER_PORT,
	T_OTHER_ADDR,	 /* the backend's real address, service port (a listener) */
	T_OTHER_ADDR_NL, /* the real address, service port, nothing listening */
	T_UDP, T_ARP,
	T_IP_OPTIONS,	 /* to the listener, with IP options */
};

struct in_case {
	const char *name;
	int from_balancer;
	uint8_t flags;
	enum ack_kind ack;
	enum opt_kind opts;
	enum target to;
	int action;
	enum lb_backend_reason reason;
};

static const struct in_case in_cases[] = {
	/* Validation passes; then the kfunc (see KFUNC_REASON). */
	{ "hand-off ACK + request, valid cookie", 1, 0x18, ACK_VALID, OPT_NONE, T_LISTENER,
	  KFUNC_ACTION, KFUNC_REASON },
	{ "hand-off ACK + request, valid cookie, timestamps", 1, 0x18, ACK_VALID, OPT_TS,
	  T_LISTENER, KFUNC_ACTION, KFUNC_REASON },
	{ "hand-off bare ACK (tcp-mode VIP), valid cookie", 1, 0x10, ACK_VALID, OPT_TS, T_LISTENER,
	  KFUNC_ACTION, KFUNC_REASON },
	{ "hand-off, cookie of the previous window", 1, 0x18, ACK_PREV_WINDOW, OPT_NONE,
	  T_LISTENER, KFUNC_ACTION, KFUNC_REASON },
	/* The balancer vouches for nothing the key did not sign. */
	{ "forged cookie (tag bit)", 1, 0x18, ACK_FORGED, OPT_NONE, T_LISTENER, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_COOKIE },
	{ "cookie options altered", 1, 0x18, ACK_OPTS_ALTERED, OPT_TS, T_LISTENER, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_COOKIE },
	{ "seq not ISN + 1", 1, 0x18, ACK_WRONG_ISN, OPT_NONE, T_LISTENER, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_COOKIE },
	{ "expired cookie", 1, 0x18, ACK_EXPIRED, OPT_NONE, T_LISTENER, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_COOKIE },
	{ "no cookie at all", 1, 0x10, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_COOKIE },
	{ "valid cookie, malformed options", 1, 0x18, ACK_VALID, OPT_MALFORMED, T_LISTENER,
	  TC_ACT_SHOT, LB_BE_DROP_MALFORMED },
	/* A client talking to the backend directly is never adopted, cookie or not. */
	{ "valid cookie from a client's MAC", 0, 0x18, ACK_VALID, OPT_NONE, T_LISTENER,
	  TC_ACT_SHOT, LB_BE_DROP_NOT_BALANCER },
	{ "valid cookie from a client's MAC, timestamps", 0, 0x10, ACK_VALID, OPT_TS, T_LISTENER,
	  TC_ACT_SHOT, LB_BE_DROP_NOT_BALANCER },
	{ "stray ACK from a client's MAC", 0, 0x10, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_SHOT,
	  LB_BE_DROP_NOT_BALANCER },
	/* Nothing listens on the VIP port: the kernel answers with a reset. */
	{ "hand-off, no listener", 1, 0x18, ACK_VALID, OPT_NONE, T_NO_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_NO_LISTENER },
	{ "forged cookie, no listener", 1, 0x18, ACK_FORGED, OPT_NONE, T_NO_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_NO_LISTENER },
	{ "client's ACK, no listener", 0, 0x10, ACK_VALID, OPT_NONE, T_NO_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_NO_LISTENER },
	/* Not an ACK that could complete a hand-off: the kernel's business. */
	{ "SYN from a client", 0, 0x02, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_SOCKET },
	{ "SYN from the balancer's MAC", 1, 0x02, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_SOCKET },
	{ "RST", 1, 0x04, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_OK, LB_BE_PASS_SOCKET },
	{ "RST|ACK with a valid cookie", 1, 0x14, ACK_VALID, OPT_NONE, T_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_SOCKET },
	{ "SYN|ACK", 0, 0x12, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_OK, LB_BE_PASS_SOCKET },
	{ "FIN without ACK", 1, 0x01, ACK_PLAIN, OPT_NONE, T_LISTENER, TC_ACT_OK,
	  LB_BE_PASS_SOCKET },
	{ "hand-off with IP options, valid cookie", 1, 0x18, ACK_VALID, OPT_TS, T_IP_OPTIONS,
	  KFUNC_ACTION, KFUNC_REASON },
	{ "IP options, forged cookie", 1, 0x18, ACK_FORGED, OPT_NONE, T_IP_OPTIONS, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_COOKIE },
	/*
	 * The real address's service port: an ACK that finds only the listener is
	 * a cookie replayed past the VIP, or junk.
	 */
	{ "real address, a valid cookie from the balancer's MAC", 1, 0x18, ACK_VALID, OPT_NONE,
	  T_OTHER_ADDR, TC_ACT_SHOT, LB_BE_DROP_SPOOF_REAL_ADDR },
	{ "real address, a valid cookie from a client", 0, 0x18, ACK_VALID, OPT_NONE, T_OTHER_ADDR,
	  TC_ACT_SHOT, LB_BE_DROP_SPOOF_REAL_ADDR },
	{ "real address, stray ACK", 0, 0x10, ACK_PLAIN, OPT_NONE, T_OTHER_ADDR, TC_ACT_SHOT,
	  LB_BE_DROP_SPOOF_REAL_ADDR },
	{ "real address, SYN (a health check)", 1, 0x02, ACK_PLAIN, OPT_NONE, T_OTHER_ADDR,
	  TC_ACT_OK, LB_BE_PASS_OTHER },
	{ "real address, RST|ACK", 0, 0x14, ACK_PLAIN, OPT_NONE, T_OTHER_ADDR, TC_ACT_OK,
	  LB_BE_PASS_OTHER },
	{ "real address, nothing listens", 0, 0x10, ACK_VALID, OPT_NONE, T_OTHER_ADDR_NL,
	  TC_ACT_OK, LB_BE_PASS_OTHER },
	/* Not for the VIP service. */
	{ "to the VIP, another port", 1, 0x18, ACK_VALID, OPT_NONE, T_OTHER_PORT, TC_ACT_OK,
	  LB_BE_PASS_OTHER },
	{ "UDP to the VIP port", 1, 0x18, ACK_VALID, OPT_NONE, T_UDP, TC_ACT_OK,
	  LB_BE_PASS_OTHER },
	{ "ARP", 1, 0, ACK_PLAIN, OPT_NONE, T_ARP, TC_ACT_OK, LB_BE_PASS_OTHER },
};

#define NOP 1
#define TS(v, e)                                                                     \
	8, 10, (v) >> 24, ((v) >> 16) & 0xff, ((v) >> 8) & 0xff, (v) & 0xff, (e) >> 24, \
		((e) >> 16) & 0xff, ((e) >> 8) & 0xff, (e) & 0xff

START_TEST(test_ingress)
{
	const struct in_case *tc = &in_cases[_i];
	static const uint8_t ts_opts[] = { NOP, NOP, TS(0x01020304u, 0x0a0b0c0du) };
	static const uint8_t bad_opts[] = { 2, 4, 5, 0xb4, 30, 0, NOP, NOP }; /* length 0 */
	const char *req = "GET /images/a.jpg HTTP/1.1\r\nHost: site\r\n\r\n";
	static const uint8_t ip_opts[] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	int nl = tc->to == T_NO_LISTENER || tc->to == T_OTHER_ADDR_NL;
	struct backend *skel = nl ? be_nl : be;
	uint16_t vport = nl ? port_q : port_p;
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct lb_cookie_tuple t = { .cport = htons(CPORT), .vport = htons(vport) };
	struct pkt_spec p = {
		.saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = vport,
		.seq = CISN + 1, .ack = 0x9abcdef0, .flags = tc->flags, .window = 502,
	};
	uint32_t counter = tai_now() / secret.period_s, cookie;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	if (tc->ack == ACK_PREV_WINDOW)
		counter -= 1;
	if (tc->ack == ACK_EXPIRED)
		counter -= secret.windows;
	cookie = lb_cookie_make(secret.key, &t, CISN, counter, lb_cookie_encode_opts(&co));
	if (tc->ack == ACK_FORGED)
		cookie ^= 1u << 20;
	if (tc->ack == ACK_OPTS_ALTERED)
		cookie ^= 0x80; /* claims ECN the SYN never asked for */
	if (tc->ack != ACK_PLAIN)
		p.ack = cookie + 1;
	if (tc->ack == ACK_WRONG_ISN)
		p.seq = CISN + 2;

	memcpy(p.src_mac, tc->from_balancer ? balancer_mac : client_mac, 6);
	memcpy(p.dst_mac, backend_mac, 6);
	if (tc->opts == OPT_TS) {
		p.opts = ts_opts;
		p.optlen = sizeof(ts_opts);
	} else if (tc->opts == OPT_MALFORMED) {
		p.opts = bad_opts;
		p.optlen = sizeof(bad_opts);
	}
	if (tc->flags & 0x08) {
		p.payload = (const uint8_t *)req;
		p.paylen = strlen(req);
	}
	if (tc->to == T_OTHER_ADDR || tc->to == T_OTHER_ADDR_NL)
		p.daddr = BACKEND;
	if (tc->to == T_OTHER_PORT)
		p.dport = OTHER_PORT;
	len = pkt_build_tcp(frame, &p);
	ck_assert_uint_gt(len, 0);
	if (tc->to == T_UDP) {
		frame[PKT_IP + 9] = 17;
		pkt_fix_csums(frame, len);
	}
	if (tc->to == T_ARP) {
		frame[12] = 0x08;
		frame[13] = 0x06;
	}
	if (tc->to == T_IP_OPTIONS)
		len = pkt_add_ip_options(frame, len, ip_opts, sizeof(ip_opts));

	run_prog(skel, skel->progs.lb_backend_ingress, frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	/* Whatever the kfunc did, a valid hand-off got past every check of ours. */
	if (tc->reason == KFUNC_REASON) {
		ck_assert_uint_eq(r.stats[LB_BE_DROP_BAD_COOKIE], 0);
		ck_assert_uint_eq(r.stats[LB_BE_DROP_NOT_BALANCER], 0);
		ck_assert_uint_eq(r.stats[LB_BE_DROP_MALFORMED], 0);
		ck_assert_uint_eq(r.stats[LB_BE_PASS_NO_LISTENER], 0);
	}
	assert_counted(&r, tc->reason);
	/* Ingress never edits a frame. */
	assert_unchanged(&r, frame, len);
}
END_TEST

/*
 * Once adopted (or for any connection the kernel already has), the client's
 * next segments find their own socket, not the listener, and pass; whether
 * they come through the balancer or not. An established connection to the VIP
 * needs the VIP as a local address: made in a namespace of our own, left again
 * before the test ends, so the host is never touched.
 */
static int if_ioctl(int fd, unsigned long req, const char *name, struct ifreq *ifr)
{
	strncpy(ifr->ifr_name, name, IFNAMSIZ - 1);
	return ioctl(fd, req, ifr);
}

static void netns_with_vip(void)
{
	struct sockaddr_in *sin;
	struct ifreq ifr = {};
	int fd;

	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(if_ioctl(fd, SIOCGIFFLAGS, "lo", &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(if_ioctl(fd, SIOCSIFFLAGS, "lo", &ifr), 0);
	memset(&ifr, 0, sizeof(ifr));
	sin = (struct sockaddr_in *)&ifr.ifr_addr;
	sin->sin_family = AF_INET;
	inet_pton(AF_INET, VIP, &sin->sin_addr);
	ck_assert_msg(if_ioctl(fd, SIOCSIFADDR, "lo:1", &ifr) == 0, "VIP on lo: %s",
		      strerror(errno));
	close(fd);
}

/*
 * _i 0: from a client's MAC, 1: from the balancer's; 2: to the real address
 * (127.0.0.1 stands in for it: any local address but the VIP), where an ACK of
 * an established connection passes and the same ACK finding only the listener
 * is dropped as a spoof.
 */
START_TEST(test_ingress_established)
{
	const int from_balancer = _i == 1, real_addr = _i == 2;
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port_p) };
	struct sockaddr_in ca;
	socklen_t alen = sizeof(ca);
	int orig, lfd, cfd, afd;
	char caddr[INET_ADDRSTRLEN];
	uint8_t frame[PKT_MAX], frame2[PKT_MAX];
	struct pkt_spec p = {
		.daddr = VIP, .dport = port_p, .seq = 0x1000, .ack = 0x2000, .flags = 0x18,
		.window = 502, .payload = (const uint8_t *)"more", .paylen = 4,
	};
	struct run r, r2;
	size_t len, len2;

	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(orig, 0);
	netns_with_vip();

	inet_pton(AF_INET, real_addr ? "127.0.0.1" : VIP, &a.sin_addr);
	p.daddr = real_addr ? "127.0.0.1" : VIP;
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_ge(cfd, 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	ck_assert_int_eq(getsockname(cfd, (struct sockaddr *)&ca, &alen), 0);

	/* A segment of that connection, as the client side sends it. */
	inet_ntop(AF_INET, &ca.sin_addr, caddr, sizeof(caddr));
	p.saddr = caddr;
	p.sport = ntohs(ca.sin_port);
	memcpy(p.src_mac, from_balancer ? balancer_mac : client_mac, 6);
	memcpy(p.dst_mac, backend_mac, 6);
	len = pkt_build_tcp(frame, &p);
	run_prog(be, be->progs.lb_backend_ingress, frame, len, &r);

	/*
	 * The control: the same segment from another client port finds only the
	 * listener, so it is judged as a hand-off (a bad cookie from the balancer)
	 * or as a direct client's ACK.
	 */
	p.sport++;
	len2 = pkt_build_tcp(frame2, &p);
	run_prog(be, be->progs.lb_backend_ingress, frame2, len2, &r2);

	close(afd);
	close(cfd);
	close(lfd);
	ck_assert_msg(setns(orig, CLONE_NEWNET) == 0, "back to our namespace: %s", strerror(errno));
	close(orig);

	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, real_addr ? LB_BE_PASS_OTHER : LB_BE_PASS_SOCKET);
	assert_unchanged(&r, frame, len);
	ck_assert_int_eq(r2.action, TC_ACT_SHOT);
	assert_counted(&r2, real_addr	   ? LB_BE_DROP_SPOOF_REAL_ADDR
			    : from_balancer ? LB_BE_DROP_BAD_COOKIE
					    : LB_BE_DROP_NOT_BALANCER);
}
END_TEST

/* ---- egress: the VIP service's FIN and RST go to the balancer ------------- */

struct eg_case {
	const char *name;
	const char *saddr;
	int other_port;
	uint8_t flags;
	int diverted; /* 1: to the balancer, 0: untouched, -1: dropped */
	int ip_options;
};

static const struct eg_case eg_cases[] = {
	{ "FIN|ACK from the VIP", VIP, 0, 0x11, 1, 0 },
	/* A FIN with data is split: see test_egress_fin_data. */
	{ "RST from the VIP", VIP, 0, 0x04, 1, 0 },
	{ "RST|ACK from the VIP", VIP, 0, 0x14, 1, 0 },
	{ "data from the VIP (direct return)", VIP, 0, 0x18, 0, 0 },
	{ "bare ACK from the VIP", VIP, 0, 0x10, 0, 0 },
	{ "FIN from the VIP address, another port", VIP, 1, 0x11, 0, 0 },
	{ "FIN from the backend's own address", BACKEND, 0, 0x11, 0, 0 },
	{ "RST from the backend's own address", BACKEND, 0, 0x04, 0, 0 },
	/* Connections to the VIP are adopted from cookies, never from a SYN. */
	{ "SYN|ACK from the VIP: dropped", VIP, 0, 0x12, -1, 0 },
	{ "SYN|ACK from the backend's own address", BACKEND, 0, 0x12, 0, 0 },
	/* IP options move the TCP header; a FIN behind them is still one. */
	{ "FIN|ACK from the VIP, IP options", VIP, 0, 0x11, 1, 1 },
	{ "RST from the VIP, IP options", VIP, 0, 0x04, 1, 1 },
	{ "data from the VIP, IP options", VIP, 0, 0x18, 0, 1 },
	{ "SYN|ACK from the VIP, IP options: dropped", VIP, 0, 0x12, -1, 1 },
};

START_TEST(test_egress)
{
	/* Record route (one slot), then EOL. */
	static const uint8_t ip_opts[] = { 7, 7, 4, 198, 51, 100, 1, 0 };
	const struct eg_case *tc = &eg_cases[_i];
	struct pkt_spec p = {
		.saddr = tc->saddr, .daddr = CLIENT, .dport = CPORT,
		.sport = tc->other_port ? OTHER_PORT : port_p,
		.seq = 0x55667788, .ack = CISN + 1 + 40, .flags = tc->flags, .window = 502,
	};
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	if (tc->flags & 0x08) {
		p.payload = (const uint8_t *)"HTTP/1.1 200 OK\r\n";
		p.paylen = 17;
	}
	len = pkt_build_tcp(frame, &p);
	if (tc->ip_options)
		len = pkt_add_ip_options(frame, len, ip_opts, sizeof(ip_opts));
	run_prog(be, be->progs.lb_backend_egress, frame, len, &r);

	if (tc->diverted < 0) {
		ck_assert_msg(r.action == TC_ACT_SHOT, "%s: action %d", tc->name, r.action);
		assert_counted(&r, LB_BE_EGRESS_SYNACK_DROPPED);
		return;
	}
	ck_assert_msg(r.action == TC_ACT_OK, "%s: action %d", tc->name, r.action);
	assert_counted(&r, tc->diverted ? LB_BE_EGRESS_DIVERTED : LB_BE_EGRESS_PASS);
	ck_assert_uint_eq(r.out_len, len);
	if (tc->diverted) {
		/* To the balancer's MAC; not another byte changed (checksums still hold). */
		ck_assert_mem_eq(r.out, balancer_mac, 6);
		ck_assert_mem_eq(r.out + 6, frame + 6, len - 6);
		ck_assert_int_eq(pkt_check_csums(r.out, r.out_len), 0);
	} else {
		assert_unchanged(&r, frame, len);
	}
}
END_TEST

/*
 * A FIN that carries data: the segment goes to the client unchanged
 * through bpf_clone_redirect, and the program returns the header-only notice
 * for the balancer. A test run cannot show the clone (it goes out of the
 * test's own loopback, where no program of ours runs, and is dropped there):
 * the returned frame and the counters are what these rows check; the clone
 * itself is checked through a real kernel in test_backend_replay.c's
 * test_kernel and in the lab (tests/lab/test_handoff.sh). Each row runs in a
 * network namespace of its own so the clone never reaches the host's loopback.
 */
struct fin_case {
	const char *name;
	uint8_t flags;
	size_t paylen;
	int ts;		/* a timestamps option */
	int ip_options;
	int lo_up;	/* 0: the copy is dropped by the device */
	int gso;	/* claims to be a GSO packet */
	int split;	/* 1: notice expected; 0: diverted whole */
};

static const struct fin_case fin_cases[] = {
	{ "FIN|PSH|ACK with the last 17 bytes", 0x19, 17, 0, 0, 1, 0, 1 },
	{ "FIN|ACK with 1 byte (odd length)", 0x11, 1, 0, 0, 1, 0, 1 },
	{ "FIN|PSH|ACK with 1 KiB + 3 and timestamps", 0x19, 1027, 1, 0, 1, 0, 1 },
	{ "FIN|PSH|ACK with 1448 bytes (a full segment)", 0x19, 1448, 1, 0, 1, 0, 1 },
	{ "FIN|PSH|ACK with data, IP options", 0x19, 100, 1, 1, 1, 0, 1 },
	/* The down device's qdisc drops the copy: a loss TCP repairs; the notice goes all the same. */
	{ "FIN with data, the copy dropped on the way out", 0x19, 100, 0, 0, 0, 0, 1 },
	{ "FIN with data, a GSO packet", 0x19, 1400, 0, 0, 1, 1, 0 },
	{ "RST|ACK with data: never split", 0x14, 20, 0, 0, 1, 0, 0 },
};

static void lo_up(void)
{
	struct ifreq ifr = {};
	int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(if_ioctl(fd, SIOCGIFFLAGS, "lo", &ifr), 0);
	ifr.ifr_flags |= IFF_UP;
	ck_assert_int_eq(if_ioctl(fd, SIOCSIFFLAGS, "lo", &ifr), 0);
	close(fd);
}

START_TEST(test_egress_fin_data)
{
	static const uint8_t ts_opts[] = { NOP, NOP, TS(0x01020304u, 0x0a0b0c0du) };
	static const uint8_t ip_opts[] = { 7, 7, 4, 198, 51, 100, 1, 0 };
	const struct fin_case *tc = &fin_cases[_i];
	struct pkt_spec p = {
		.saddr = VIP, .daddr = CLIENT, .sport = port_p, .dport = CPORT,
		.seq = 0xfffffe00u, /* seq + payload wraps for the longer rows */
		.ack = CISN + 1 + 40, .flags = tc->flags, .window = 502,
	};
	struct __sk_buff ctx = { .gso_size = 1000, .gso_segs = 2 };
	LIBBPF_OPTS(bpf_test_run_opts, opts);
	uint8_t payload[1500], frame[PKT_MAX], want[PKT_MAX];
	uint64_t before[LB_BE_REASON_MAX];
	size_t len, wlen, i;
	struct run r;
	int orig;

	for (i = 0; i < tc->paylen; i++)
		payload[i] = 'a' + i % 26;
	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	if (tc->ts) {
		p.opts = ts_opts;
		p.optlen = sizeof(ts_opts);
	}
	p.payload = payload;
	p.paylen = tc->paylen;
	len = pkt_build_tcp(frame, &p);
	if (tc->ip_options)
		len = pkt_add_ip_options(frame, len, ip_opts, sizeof(ip_opts));

	/* The notice: no payload, seq past it, the marker, the balancer's MAC. */
	memcpy(p.dst_mac, balancer_mac, 6);
	p.seq += tc->paylen;
	p.paylen = 0;
	wlen = pkt_build_tcp(want, &p);
	if (tc->ip_options)
		wlen = pkt_add_ip_options(want, wlen, ip_opts, sizeof(ip_opts));
	want[PKT_IP + 6] |= LB_FIN_NOTICE_IP_FLAG >> 8;
	pkt_fix_csums(want, wlen);

	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(orig, 0);
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	if (tc->lo_up)
		lo_up();
	if (tc->gso) {
		opts.ctx_in = &ctx;
		opts.ctx_size_in = sizeof(ctx);
	}
	opts.data_in = frame;
	opts.data_size_in = len;
	opts.data_out = r.out;
	opts.data_size_out = sizeof(r.out);
	opts.repeat = 1;
	be_read_stats(be->maps.stats, before);
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(be->progs.lb_backend_egress), &opts),
			 0);
	r.action = opts.retval;
	r.out_len = opts.data_size_out;
	be_read_stats(be->maps.stats, r.stats);
	for (i = 0; i < LB_BE_REASON_MAX; i++)
		r.stats[i] -= before[i];
	ck_assert_msg(setns(orig, CLONE_NEWNET) == 0, "back to our namespace: %s", strerror(errno));
	close(orig);

	ck_assert_msg(r.action == TC_ACT_OK, "%s: action %d", tc->name, r.action);
	if (tc->split) {
		assert_counted(&r, LB_BE_EGRESS_FIN_NOTICE);
		ck_assert_msg(r.out_len == wlen, "%s: %u bytes out, expected %zu", tc->name,
			      r.out_len, wlen);
		for (i = 0; i < wlen; i++)
			ck_assert_msg(r.out[i] == want[i], "%s: byte %zu is %#x, expected %#x",
				      tc->name, i, r.out[i], want[i]);
		ck_assert_int_eq(pkt_check_csums(r.out, r.out_len), 0);
	} else {
		/* Today's path: the whole segment to the balancer's MAC, nothing else changed. */
		assert_counted(&r, LB_BE_EGRESS_DIVERTED);
		ck_assert_uint_eq(r.out_len, len);
		ck_assert_mem_eq(r.out, balancer_mac, 6);
		ck_assert_mem_eq(r.out + 6, frame + 6, len - 6);
		ck_assert_int_eq(pkt_check_csums(r.out, r.out_len), 0);
	}
}
END_TEST

START_TEST(test_egress_not_tcp)
{
	struct pkt_spec p = {
		.saddr = VIP, .daddr = CLIENT, .sport = port_p, .dport = CPORT, .flags = 0x11,
	};
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	len = pkt_build_tcp(frame, &p);
	frame[PKT_IP + 9] = 17; /* UDP whose bytes would read as a FIN */
	pkt_fix_csums(frame, len);
	run_prog(be, be->progs.lb_backend_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_PASS);
	assert_unchanged(&r, frame, len);

	frame[12] = 0x86; /* IPv6 ethertype */
	frame[13] = 0xdd;
	run_prog(be, be->progs.lb_backend_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_PASS);
	assert_unchanged(&r, frame, len);
}
END_TEST

/* ---- per-request binding: adopt option, probes ---------------------------- */

#define TC_ACT_REDIRECT 7

enum adopt_kind {
	AD_VALID, AD_PREV_WINDOW, AD_EXPIRED, AD_TAG_BIT, AD_ARG_ALTERED, AD_SEQ_ALTERED,
	AD_PROBE_TAG, AD_OTHER_EXID, AD_OPT_FIRST,
};

struct adopt_case {
	const char *name;
	enum adopt_kind kind;
	int from_balancer;
	int no_listener;
	int action;
	enum lb_backend_reason reason;
};

static const struct adopt_case adopt_cases[] = {
	/* Validation passes; then the kfunc (see KFUNC_REASON). */
	{ "adopt option, listener", AD_VALID, 1, 0, KFUNC_ACTION, KFUNC_REASON },
	{ "adopt option of the previous window", AD_PREV_WINDOW, 1, 0, KFUNC_ACTION, KFUNC_REASON },
	{ "adopt option before the timestamps", AD_OPT_FIRST, 1, 0, KFUNC_ACTION, KFUNC_REASON },
	/* Made for these numbers, this arg and a live window under the key: nothing else. */
	{ "adopt option, expired window", AD_EXPIRED, 1, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_REBIND },
	{ "adopt option, a tag bit flipped", AD_TAG_BIT, 1, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_REBIND },
	{ "adopt option, arg altered", AD_ARG_ALTERED, 1, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_REBIND },
	{ "adopt option, seq altered", AD_SEQ_ALTERED, 1, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_REBIND },
	{ "adopt option with a probe's tag", AD_PROBE_TAG, 1, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_REBIND },
	/* Kind 253 of another experiment is no proof: judged as a cookie ACK. */
	{ "another ExID in its place", AD_OTHER_EXID, 1, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_COOKIE },
	{ "adopt option from a client's MAC", AD_VALID, 0, 0, TC_ACT_SHOT, LB_BE_DROP_NOT_BALANCER },
	{ "adopt option, nothing listens", AD_VALID, 1, 1, TC_ACT_OK, LB_BE_PASS_NO_LISTENER },
};

/* What the cookie remembers of the client's SYN: the adopt option's arg. */
static uint8_t syn_opts_byte(void)
{
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };

	return (uint8_t)lb_cookie_encode_opts(&co);
}

/*
 * A later request's segment as user/handoff.c's send_request() writes it with
 * the adopt option: seq and ack where the connection is (no cookie in them),
 * timestamps, then the option, tagged over seq, ack and the cookie's low byte.
 */
static size_t adopt_frame(uint8_t *frame, const struct adopt_case *tc, uint16_t vport,
			  uint32_t seq, uint32_t ack, const char *req)
{
	struct lb_cookie_tuple t = { .cport = htons(CPORT), .vport = htons(vport) };
	uint32_t counter = lb_cookie_counter(&secret, tai_now());
	struct lb_rebind_opt o = {
		.kind = LB_REBIND_OPT_KIND, .len = LB_REBIND_OPT_LEN, .exid = htons(LB_ADOPT_EXID),
		.arg = syn_opts_byte(),
	};
	uint8_t opts[24];
	struct lb_segment s = {
		.seq = seq, .ack = ack, .flags = 0x18, .window = 502,
		.has_ts = true, .tsval = 0x01020304, .tsecr = 0x0a0b0c0d,
		.payload = (const uint8_t *)req, .len = strlen(req),
	};
	uint32_t domain = tc->kind == AD_PROBE_TAG ? LB_REBIND_TAG_PROBE : LB_REBIND_TAG_ADOPT;
	size_t len;

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	if (tc->kind == AD_PREV_WINDOW)
		counter -= 1;
	if (tc->kind == AD_EXPIRED)
		counter -= secret.windows;
	o.val = htonl(lb_rebind_tag(secret.key, &t, seq, ack, o.arg, counter, domain) ^
		      (tc->kind == AD_TAG_BIT ? 1u << 9 : 0));
	if (tc->kind == AD_ARG_ALTERED)
		o.arg ^= 0x01;
	if (tc->kind == AD_SEQ_ALTERED)
		s.seq += 1;
	if (tc->kind == AD_OTHER_EXID)
		o.exid = htons(0x1234);
	if (tc->kind == AD_OPT_FIRST) {
		memcpy(opts, &o, sizeof(o));
		memcpy(opts + 12, (const uint8_t[]){ NOP, NOP, TS(0x01020304u, 0x0a0b0c0du) }, 12);
		s.opts = opts;
		s.optlen = sizeof(opts);
	} else {
		s.extra = (const uint8_t *)&o;
		s.extra_len = sizeof(o);
	}
	memcpy(s.src_mac, tc->from_balancer ? balancer_mac : client_mac, 6);
	memcpy(s.dst_mac, backend_mac, 6);
	inet_pton(AF_INET, CLIENT, &s.saddr);
	inet_pton(AF_INET, VIP, &s.daddr);
	s.sport = htons(CPORT);
	s.dport = htons(vport);
	len = lb_segment_build(frame, PKT_MAX, &s);
	ck_assert_uint_gt(len, 0);
	return len;
}

START_TEST(test_adopt)
{
	const struct adopt_case *tc = &adopt_cases[_i];
	struct backend *skel = tc->no_listener ? be_nl : be;
	uint16_t vport = tc->no_listener ? port_q : port_p;
	struct lb_cookie_tuple t = { .cport = htons(CPORT), .vport = htons(vport) };
	/* Numbers of a connection well under way: neither is a cookie. */
	const uint32_t seq = CISN + 1 + 5000, ack = 0x7a000001u + 90000;
	struct lb_cookie_opts co;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	ck_assert_int_ne(lb_cookie_check(&secret, &t, seq - 1, ack - 1, tai_now(), &co), 0);
	len = adopt_frame(frame, tc, vport, seq, ack, "GET /next.jpg HTTP/1.1\r\nHost: site\r\n\r\n");
	run_prog(skel, skel->progs.lb_backend_ingress, frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	if (tc->reason == KFUNC_REASON) {
		ck_assert_uint_eq(r.stats[LB_BE_DROP_BAD_REBIND], 0);
		ck_assert_uint_eq(r.stats[LB_BE_DROP_BAD_COOKIE], 0);
		ck_assert_uint_eq(r.stats[LB_BE_DROP_NOT_BALANCER], 0);
	}
	assert_counted(&r, tc->reason);
	assert_unchanged(&r, frame, len);
}
END_TEST

/* ---- probes ---- */

enum probe_kind {
	PR_VALID, PR_PSH, PR_PREV_WINDOW, PR_IP_OPTIONS,
	PR_EXPIRED, PR_TAG_BIT, PR_OTHER_ACK, PR_FROM_CLIENT,
	PR_NO_IP_FLAG, PR_OPT_FIRST, PR_FIN, PR_ADOPT_EXID, PR_OTHER_PORT,
};

struct probe_case {
	const char *name;
	enum probe_kind kind;
	int no_listener;
	int action;
	enum lb_backend_reason reason;
};

static const struct probe_case probe_cases[] = {
	/* Answered: no connection for the tuple, whether the listener is found or nothing. */
	{ "probe, only the listener", PR_VALID, 0, TC_ACT_REDIRECT, LB_BE_PROBE_ANSWERED },
	{ "probe, nothing listens", PR_VALID, 1, TC_ACT_REDIRECT, LB_BE_PROBE_ANSWERED },
	{ "probe with PSH", PR_PSH, 0, TC_ACT_REDIRECT, LB_BE_PROBE_ANSWERED },
	{ "probe, tag of the previous window", PR_PREV_WINDOW, 0, TC_ACT_REDIRECT,
	  LB_BE_PROBE_ANSWERED },
	{ "probe with IP options", PR_IP_OPTIONS, 0, TC_ACT_REDIRECT, LB_BE_PROBE_ANSWERED },
	/* The balancer's, for these numbers, or dropped. */
	{ "probe, expired window", PR_EXPIRED, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_PROBE },
	{ "probe, a tag bit flipped", PR_TAG_BIT, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_PROBE },
	{ "probe, tag for another ack", PR_OTHER_ACK, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_PROBE },
	{ "probe from a client's MAC", PR_FROM_CLIENT, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_PROBE },
	{ "probe from a client's MAC, nothing listens", PR_FROM_CLIENT, 1, TC_ACT_SHOT,
	  LB_BE_DROP_BAD_PROBE },
	/* Not probes: on to the hand-off checks (a cookie ACK from the balancer's MAC, a bad one). */
	{ "probe option without the IP flag", PR_NO_IP_FLAG, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_COOKIE },
	{ "IP flag, probe option not last", PR_OPT_FIRST, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_COOKIE },
	{ "IP flag and probe option on a FIN|ACK", PR_FIN, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_COOKIE },
	/* The probe's tag in an adopt option proves no hand-off. */
	{ "IP flag, adopt ExID last", PR_ADOPT_EXID, 0, TC_ACT_SHOT, LB_BE_DROP_BAD_REBIND },
	{ "probe to another port", PR_OTHER_PORT, 0, TC_ACT_OK, LB_BE_PASS_OTHER },
};

/* The probe of @tc, to @vport (a port of be or be_nl), for the given numbers. */
static size_t probe_frame(uint8_t *frame, enum probe_kind kind, const char *saddr,
			  uint16_t sport, uint16_t vport, uint32_t seq, uint32_t ack)
{
	static const uint8_t ip_opts[] = { 1, 1, 1, 0 }; /* NOP NOP NOP EOL */
	struct be_probe p = {
		.src_mac = kind == PR_FROM_CLIENT ? client_mac : balancer_mac,
		.dst_mac = backend_mac, .saddr = saddr, .daddr = VIP, .sport = sport,
		.dport = kind == PR_OTHER_PORT ? OTHER_PORT : vport, .seq = seq, .ack = ack,
		.secret = &secret, .counter = lb_cookie_counter(&secret, tai_now()),
	};
	size_t len;

	switch (kind) {
	case PR_PSH: p.flags = 0x18; break;
	case PR_PREV_WINDOW: p.counter -= 1; break;
	case PR_EXPIRED: p.counter -= secret.windows; break;
	case PR_TAG_BIT: p.tag_xor = 1u << 30; break;
	case PR_NO_IP_FLAG: p.no_ip_flag = true; break;
	case PR_OPT_FIRST: p.opt_first = true; break;
	case PR_FIN: p.flags = 0x11; break;
	case PR_ADOPT_EXID: p.exid = LB_ADOPT_EXID; break;
	default: break;
	}
	len = be_probe_build(frame, &p);
	if (kind == PR_OTHER_ACK) {
		/* Tagged for one ack, sent with another. */
		frame[PKT_TCP + 11] ^= 0x01;
		pkt_fix_csums(frame, len);
	}
	if (kind == PR_IP_OPTIONS)
		len = pkt_add_ip_options(frame, len, ip_opts, sizeof(ip_opts));
	return len;
}

START_TEST(test_probe)
{
	const struct probe_case *tc = &probe_cases[_i];
	struct backend *skel = tc->no_listener ? be_nl : be;
	uint16_t vport = tc->no_listener ? port_q : port_p;
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct run r;
	size_t len;

	len = probe_frame(frame, tc->kind, CLIENT, CPORT, vport, CISN + 1 + 3000, 0x7a000001u);
	run_prog(skel, skel->progs.lb_backend_ingress, frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	assert_counted(&r, tc->reason);
	if (tc->reason != LB_BE_PROBE_ANSWERED) {
		assert_unchanged(&r, frame, len);
		return;
	}
	/* No socket: nothing unacknowledged, nothing expected, nothing written. */
	be_probe_answer(want, frame, len, LB_PROBE_NO_SOCKET, 0, 0, 0);
	ck_assert_uint_eq(r.out_len, len);
	for (size_t i = 0; i < len; i++)
		ck_assert_msg(r.out[i] == want[i], "%s: byte %zu is %#x, expected %#x", tc->name, i,
			      r.out[i], want[i]);
	ck_assert_int_eq(pkt_check_csums(r.out, r.out_len), 0);
	/* Spelled out: back to the balancer from the VIP, the marker kept. */
	ck_assert_mem_eq(r.out, balancer_mac, 6);
	ck_assert_mem_eq(r.out + 6, backend_mac, 6);
	ck_assert_mem_eq(r.out + PKT_IP + 12, frame + PKT_IP + 16, 4);
	ck_assert_mem_eq(r.out + PKT_IP + 16, frame + PKT_IP + 12, 4);
	ck_assert(r.out[PKT_IP + 6] & (LB_FIN_NOTICE_IP_FLAG >> 8));
}
END_TEST

/*
 * Probes of a real connection: over the loopback of a namespace of our own
 * with the VIP on it, as in test_ingress_established. The numbers the answer
 * must carry are read from the client's side with TCP_REPAIR (its next byte
 * to send is what the server expects; its next byte expected is where the
 * server's unacknowledged data starts once everything is acknowledged).
 */
static uint32_t queue_seq(int fd, int queue)
{
	int on = TCP_REPAIR_ON, off = TCP_REPAIR_OFF_NO_WP;
	uint32_t seq;
	socklen_t len = sizeof(seq);

	ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &on, sizeof(on)), 0);
	ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR_QUEUE, &queue, sizeof(queue)), 0);
	ck_assert_int_eq(getsockopt(fd, IPPROTO_TCP, TCP_QUEUE_SEQ, &seq, &len), 0);
	ck_assert_int_eq(setsockopt(fd, IPPROTO_TCP, TCP_REPAIR, &off, sizeof(off)), 0);
	return seq;
}

static int sock_ioctl(int fd, unsigned long req)
{
	int n;

	ck_assert_int_eq(ioctl(fd, req, &n), 0);
	return n;
}

/* Wait (2 s at most) for ioctl @req of @fd to read @want: data arrived, or was acknowledged. */
static void wait_ioctl(int fd, unsigned long req, int want, const char *what)
{
	int i;

	for (i = 0; i < 2000 && sock_ioctl(fd, req) != want; i++)
		usleep(1000);
	ck_assert_msg(sock_ioctl(fd, req) == want, "%s: %d, expected %d", what,
		      sock_ioctl(fd, req), want);
}

static void recv_all(int fd, size_t n)
{
	char buf[65536];
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t got;

	while (n) {
		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		got = recv(fd, buf, n < sizeof(buf) ? n : sizeof(buf), 0);
		ck_assert_int_gt(got, 0);
		n -= (size_t)got;
	}
}

struct probed {
	int action;
	enum lb_backend_reason reason;
	uint8_t status;
	uint32_t seq, ack, unsent;
	int csum;
	int rest_ok; /* every byte but seq, ack and the option's as be_probe_answer() has them */
};

/* One probe of the connection cfd (client side) at @seq/@ack, through be's ingress. */
static struct probed probe_conn(int cfd, uint32_t seq, uint32_t ack)
{
	struct sockaddr_in ca;
	socklen_t alen = sizeof(ca);
	char caddr[INET_ADDRSTRLEN];
	uint8_t frame[PKT_MAX], want[PKT_MAX];
	struct probed p = {};
	const uint8_t *opt;
	struct run r;
	size_t len;
	int i;

	ck_assert_int_eq(getsockname(cfd, (struct sockaddr *)&ca, &alen), 0);
	inet_ntop(AF_INET, &ca.sin_addr, caddr, sizeof(caddr));
	len = probe_frame(frame, PR_VALID, caddr, ntohs(ca.sin_port), port_p, seq, ack);
	run_prog(be, be->progs.lb_backend_ingress, frame, len, &r);
	p.action = r.action;
	for (i = 0; i < LB_BE_REASON_MAX; i++)
		if (r.stats[i])
			p.reason = i;
	if (r.action != TC_ACT_REDIRECT || r.out_len != len)
		return p;
	opt = r.out + PKT_TCP + 20 + 12;
	p.seq = be_tcp32(r.out, 4);
	p.ack = be_tcp32(r.out, 8);
	p.status = opt[4];
	p.unsent = (uint32_t)opt[8] << 24 | (uint32_t)opt[9] << 16 | (uint32_t)opt[10] << 8 | opt[11];
	p.csum = pkt_check_csums(r.out, r.out_len);
	be_probe_answer(want, frame, len, p.status, p.seq, p.ack, p.unsent);
	p.rest_ok = !memcmp(r.out, want, len);
	return p;
}

static void assert_answer(const struct probed *p, const char *what, uint8_t status, uint32_t seq,
			  uint32_t ack, uint32_t unsent)
{
	ck_assert_msg(p->action == TC_ACT_REDIRECT && p->reason == LB_BE_PROBE_ANSWERED,
		      "%s: action %d, counter %s", what, p->action, lb_backend_reason_names[p->reason]);
	ck_assert_msg(p->status == status && p->seq == seq && p->ack == ack && p->unsent == unsent,
		      "%s: status %u seq %#x ack %#x unsent %u, expected %u %#x %#x %u", what,
		      p->status, p->seq, p->ack, p->unsent, status, seq, ack, unsent);
	ck_assert_msg(p->rest_ok && p->csum == 0, "%s: answer frame wrong (checksums %d)", what,
		      p->csum);
}

START_TEST(test_probe_established)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port_p) };
	int orig, lfd, cfd, afd, small = 4096;
	uint32_t c_snd, c_rcv, written;
	static char big[1 << 20];
	struct probed p;
	ssize_t n;

	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(orig, 0);
	netns_with_vip();
	inet_pton(AF_INET, VIP, &a.sin_addr);
	lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	cfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	ck_assert_int_ge(lfd, 0);
	ck_assert_int_ge(cfd, 0);
	/* A client that takes little at a time: the server's writes then wait in its queue. */
	ck_assert_int_eq(setsockopt(cfd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)), 0);
	ck_assert_int_eq(bind(lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(lfd, 4), 0);
	ck_assert_int_eq(connect(cfd, (struct sockaddr *)&a, sizeof(a)), 0);
	afd = accept(lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);

	/* A request read, its response written and acknowledged: idle. */
	ck_assert_int_eq(send(cfd, "GET /a\r\n", 8, 0), 8);
	recv_all(afd, 8);
	ck_assert_int_eq(send(afd, "resp", 4, 0), 4);
	recv_all(cfd, 4);
	wait_ioctl(afd, SIOCOUTQ, 0, "server's unacknowledged bytes");
	c_snd = queue_seq(cfd, TCP_SEND_QUEUE);
	c_rcv = queue_seq(cfd, TCP_RECV_QUEUE);
	p = probe_conn(cfd, c_snd, c_rcv);
	assert_answer(&p, "idle", LB_PROBE_IDLE, c_rcv, c_snd, 0);

	/* The balancer's numbers behind the socket's: bytes it does not know of came. */
	p = probe_conn(cfd, c_snd - 8, c_rcv);
	assert_answer(&p, "probe behind", LB_PROBE_BUSY, c_rcv, c_snd, 0);
	/* Ahead of them: request bytes still to come. */
	p = probe_conn(cfd, c_snd + 5, c_rcv);
	assert_answer(&p, "probe ahead", LB_PROBE_BUSY, c_rcv, c_snd, 0);

	/* Request bytes arrived and not read yet: busy; read: idle again. */
	ck_assert_int_eq(send(cfd, "next", 4, 0), 4);
	wait_ioctl(afd, SIOCINQ, 4, "server's unread bytes");
	p = probe_conn(cfd, c_snd + 4, c_rcv);
	assert_answer(&p, "unread request", LB_PROBE_BUSY, c_rcv, c_snd + 4, 0);
	recv_all(afd, 4);
	c_snd += 4;
	p = probe_conn(cfd, c_snd, c_rcv);
	assert_answer(&p, "request read", LB_PROBE_IDLE, c_rcv, c_snd, 0);

	/*
	 * A response the client has not taken: busy, with what is written beyond
	 * the first unacknowledged byte (whatever of it went out meanwhile).
	 */
	n = send(afd, big, sizeof(big), MSG_DONTWAIT);
	ck_assert_int_gt(n, 2 * small);
	written = (uint32_t)n;
	p = probe_conn(cfd, c_snd, c_rcv);
	ck_assert_msg(p.action == TC_ACT_REDIRECT && p.status == LB_PROBE_BUSY,
		      "response in flight: action %d status %u", p.action, p.status);
	ck_assert_uint_eq(p.ack, c_snd);
	ck_assert_msg(p.unsent > 0 && p.seq + p.unsent == c_rcv + written,
		      "response in flight: seq %#x + unsent %u, written %u from %#x", p.seq, p.unsent,
		      written, c_rcv);
	ck_assert(p.rest_ok && p.csum == 0);
	recv_all(cfd, written);
	wait_ioctl(afd, SIOCOUTQ, 0, "server's unacknowledged bytes");
	c_rcv += written;
	ck_assert_uint_eq(queue_seq(cfd, TCP_RECV_QUEUE), c_rcv);
	p = probe_conn(cfd, c_snd, c_rcv);
	assert_answer(&p, "response taken", LB_PROBE_IDLE, c_rcv, c_snd, 0);

	/* The client's FIN, read by the server (close-wait): every byte and the FIN taken. */
	ck_assert_int_eq(shutdown(cfd, SHUT_WR), 0);
	{
		char c;
		struct pollfd pfd = { .fd = afd, .events = POLLIN };

		ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
		ck_assert_int_eq(recv(afd, &c, 1, 0), 0);
	}
	p = probe_conn(cfd, c_snd + 1, c_rcv);
	assert_answer(&p, "close-wait", LB_PROBE_IDLE, c_rcv, c_snd + 1, 0);

	/* The connection gone (the server's side reset): no socket, only the listener. */
	ck_assert_int_eq(setsockopt(afd, SOL_SOCKET, SO_LINGER,
				    &(struct linger){ .l_onoff = 1, .l_linger = 0 },
				    sizeof(struct linger)),
			 0);
	close(afd);
	p = probe_conn(cfd, c_snd + 1, c_rcv);

	close(cfd);
	close(lfd);
	ck_assert_msg(setns(orig, CLONE_NEWNET) == 0, "back to our namespace: %s", strerror(errno));
	close(orig);
	assert_answer(&p, "reset", LB_PROBE_NO_SOCKET, 0, 0, 0);
}
END_TEST

/*
 * A later request adopted and probed through a real kernel: in a network
 * namespace of its own, the cookie-mode programs on a veth's TC hooks, a
 * listener on the VIP, the balancer played through a packet socket on the
 * peer. Its segment carries the adopt option at numbers no cookie made; the
 * kernel must build the connection from them (rebind_adopted), and probes of
 * it are answered back out of the veth, busy while the response is not
 * acknowledged and idle once it is.
 */
static uint64_t stat_of(struct backend *skel, enum lb_backend_reason reason)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_counter vals[ncpu];
	uint32_t key = reason;
	uint64_t sum = 0;
	int i;

	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &key, vals), 0);
	for (i = 0; i < ncpu; i++)
		sum += vals[i].packets;
	return sum;
}

/* The next frame from the VIP on @fd that is a probe answer (@answer) or not. */
static size_t next_of(int fd, uint8_t *buf, struct lb_segment *seg, uint16_t port, bool answer)
{
	size_t len;

	do
		len = be_next_frame(fd, buf, seg, port);
	while (len && (seg->has_rebind && seg->rebind.exid == htons(LB_ANSWER_EXID)) != answer);
	return len;
}

/* A backend object on a veth of a namespace of our own, a listener on the VIP, a packet socket. */
struct kernel_backend {
	struct backend *k;
	int lfd, pkt;
	uint16_t port;
};

static void kernel_backend_up(struct kernel_backend *kb, uint16_t port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	struct sockaddr_ll ll = { .sll_family = AF_PACKET, .sll_protocol = htons(ETH_P_ALL) };
	uint32_t kk = 0;
	int v0, v1;

	be_veth_netns(VIP, BACKEND, &v0, &v1);
	kb->port = port;
	kb->k = backend__open();
	ck_assert_ptr_nonnull(kb->k);
	inet_pton(AF_INET, VIP, (void *)&kb->k->rodata->cfg_vip_addr);
	kb->k->rodata->cfg_vip_port = htons(port);
	memcpy((void *)kb->k->rodata->cfg_balancer_macs[0], balancer_mac, 6);
	kb->k->rodata->cfg_wscale = TEST_WS;
	ck_assert_int_eq(backend__load(kb->k), 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(kb->k->maps.cookie_secret), &kk, &secret, 0),
			 0);
	be_tc_on(v0, kb->k->progs.lb_backend_ingress, kb->k->progs.lb_backend_egress);
	kb->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	inet_pton(AF_INET, VIP, &a.sin_addr);
	ck_assert_int_eq(bind(kb->lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(listen(kb->lfd, 4), 0);
	kb->pkt = socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, htons(ETH_P_ALL));
	ck_assert_int_ge(kb->pkt, 0);
	ll.sll_ifindex = v1;
	ck_assert_int_eq(bind(kb->pkt, (struct sockaddr *)&ll, sizeof(ll)), 0);
}

static void kernel_backend_down(struct kernel_backend *kb)
{
	close(kb->pkt);
	close(kb->lfd);
	backend__destroy(kb->k);
}

START_TEST(test_kernel_adopt)
{
	static const char req[] = "GET /next HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";
	const uint32_t alen = sizeof(answer) - 1;
	const uint16_t port = 8080;
	const uint32_t seq = 0x10000000u + 7777, ack = 0x7a000001u + 90000; /* no cookie */
	const struct adopt_case valid = { "adopt", AD_VALID, 1, 0, 0, 0 };
	uint8_t frame[PKT_MAX], in[PKT_MAX];
	char got[sizeof(req)];
	struct lb_segment seg, s;
	struct kernel_backend kb;
	struct pollfd pfd;
	size_t len;
	int afd;

	kernel_backend_up(&kb, port);

	/* The request's segment with the adopt option, as the dispatcher sends it. */
	len = adopt_frame(frame, &valid, port, seq, ack, req);
	ck_assert_int_eq(send(kb.pkt, frame, len, 0), (ssize_t)len);

	pfd = (struct pollfd){ .fd = kb.lfd, .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the adopt segment made no connection");
	afd = accept(kb.lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	pfd = (struct pollfd){ .fd = afd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_eq(recv(afd, got, sizeof(got), 0), (ssize_t)sizeof(req) - 1);
	ck_assert_mem_eq(got, req, sizeof(req) - 1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_REBIND_ADOPTED), 1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_ADOPTED), 0);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_DROP_BAD_REBIND), 0);

	/* The response continues the connection's numbers: seq = the adopt's ack. */
	ck_assert_int_eq(send(afd, answer, alen, 0), (ssize_t)alen);
	len = next_of(kb.pkt, in, &seg, port, false);
	while (len && !seg.len)
		len = next_of(kb.pkt, in, &seg, port, false); /* the request's own ACK */
	ck_assert_msg(len, "no response from the backend's kernel");
	ck_assert_int_eq(pkt_check_csums(in, len), 0);
	ck_assert_uint_eq(seg.seq, ack);
	ck_assert_uint_eq(seg.ack, seq + sizeof(req) - 1);
	ck_assert_uint_eq(seg.len, alen);
	ck_assert_mem_eq(seg.payload, answer, alen);

	/*
	 * A probe now: the response is not acknowledged, alen bytes beyond seq;
	 * the egress program read its head: it starts at seq and ends alen after.
	 */
	{
		struct be_probe p = {
			.src_mac = balancer_mac, .dst_mac = backend_mac, .saddr = CLIENT,
			.daddr = VIP, .sport = CPORT, .dport = port,
			.seq = seq + sizeof(req) - 1, .ack = ack, .secret = &secret,
			.counter = lb_cookie_counter(&secret, tai_now()),
		};
		uint8_t want[PKT_MAX];
		size_t plen = be_probe_build(frame, &p);

		ck_assert_int_eq(send(kb.pkt, frame, plen, 0), (ssize_t)plen);
		len = next_of(kb.pkt, in, &seg, port, true);
		ck_assert_msg(len, "no answer to the probe");
		be_probe_answer_framed(want, frame, plen, LB_PROBE_BUSY, ack, seq + sizeof(req) - 1,
				       alen, LB_FRAMING_KNOWN, 0, alen, 5);
		ck_assert_uint_eq(len, plen);
		ck_assert_mem_eq(in, want, plen);
		ck_assert_int_eq(pkt_check_csums(in, len), 0);

		/* The client acknowledges the response; the same probe then finds it idle. */
		s = (struct lb_segment){
			.sport = htons(CPORT), .dport = htons(port), .seq = seq + sizeof(req) - 1,
			.ack = ack + alen, .flags = LB_TH_ACK, .window = 502, .has_ts = true,
			.tsval = 0x01020305, .tsecr = seg.tsval,
		};
		memcpy(s.src_mac, balancer_mac, 6);
		memcpy(s.dst_mac, backend_mac, 6);
		inet_pton(AF_INET, CLIENT, &s.saddr);
		inet_pton(AF_INET, VIP, &s.daddr);
		len = lb_segment_build(in, sizeof(in), &s);
		ck_assert_int_eq(send(kb.pkt, in, len, 0), (ssize_t)len);
		wait_ioctl(afd, SIOCOUTQ, 0, "the response acknowledged");
		p.ack = ack + alen;
		plen = be_probe_build(frame, &p);
		ck_assert_int_eq(send(kb.pkt, frame, plen, 0), (ssize_t)plen);
		len = next_of(kb.pkt, in, &seg, port, true);
		ck_assert_msg(len, "no answer to the second probe");
		/* Relative to the new seq: the answer began alen before it and ends there. */
		be_probe_answer_framed(want, frame, plen, LB_PROBE_IDLE, ack + alen,
				       seq + sizeof(req) - 1, 0, LB_FRAMING_KNOWN, -alen, 0, 5);
		ck_assert_uint_eq(len, plen);
		ck_assert_mem_eq(in, want, plen);
	}
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_PROBE_ANSWERED), 2);
	/* The probes never reached the socket: nothing more to read. */
	ck_assert_int_eq(sock_ioctl(afd, SIOCINQ), 0);

	close(afd);
	kernel_backend_down(&kb);
}
END_TEST

/* ---- a socket left here and taken up again (docs/parked-sockets.md) -------- */

/*
 * A client segment as the balancer forwards it: @flags, @seq/@ack, timestamps
 * @tsval/@tsecr, @payload; with our option last if @exid (adopt: tagged over
 * seq, ack and the cookie's low byte; retire: over seq and ack) and the tag
 * spoilt by @tag_xor. Sent out of the packet socket.
 */
static void client_send(const struct kernel_backend *kb, uint8_t flags, uint32_t seq, uint32_t ack,
			uint32_t tsval, uint32_t tsecr, const char *payload, uint16_t exid,
			uint32_t tag_xor)
{
	struct lb_cookie_tuple t = { .cport = htons(CPORT), .vport = htons(kb->port) };
	struct lb_rebind_opt o = {
		.kind = LB_REBIND_OPT_KIND, .len = LB_REBIND_OPT_LEN, .exid = htons(exid),
		.arg = exid == LB_ADOPT_EXID ? syn_opts_byte() : 0,
	};
	struct lb_segment s = {
		.seq = seq, .ack = ack, .flags = flags, .window = 502,
		.has_ts = true, .tsval = tsval, .tsecr = tsecr,
		.payload = (const uint8_t *)payload, .len = payload ? strlen(payload) : 0,
		.sport = htons(CPORT), .dport = htons(kb->port),
	};
	uint8_t frame[PKT_MAX];
	size_t len;

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	if (exid) {
		o.val = htonl(lb_rebind_tag(secret.key, &t, seq, ack, o.arg,
					    lb_cookie_counter(&secret, tai_now()),
					    exid == LB_ADOPT_EXID ? LB_REBIND_TAG_ADOPT
								  : LB_REBIND_TAG_RETIRE) ^
			      tag_xor);
		s.extra = (const uint8_t *)&o;
		s.extra_len = sizeof(o);
	}
	memcpy(s.src_mac, balancer_mac, 6);
	memcpy(s.dst_mac, backend_mac, 6);
	inet_pton(AF_INET, CLIENT, &s.saddr);
	inet_pton(AF_INET, VIP, &s.daddr);
	len = lb_segment_build(frame, sizeof(frame), &s);
	ck_assert_uint_gt(len, 0);
	ck_assert_int_eq(send(kb->pkt, frame, len, 0), (ssize_t)len);
}

/* The backend's next data segment to the client (its ACKs skipped), checksums checked. */
static void server_segment(const struct kernel_backend *kb, struct lb_segment *seg, uint8_t *buf)
{
	size_t len;

	do
		len = next_of(kb->pkt, buf, seg, kb->port, false);
	while (len && !seg->len);
	ck_assert_msg(len, "no data segment from the backend's kernel");
	ck_assert_int_eq(pkt_check_csums(buf, len), 0);
}

/* The first SACK block of a frame (no IP options): true and its edges, or false. */
static bool first_sack(const uint8_t *frame, size_t len, uint32_t edges[2])
{
	size_t i = PKT_TCP + 20, end = PKT_TCP + (frame[PKT_TCP + 12] >> 4) * 4;

	while (i < end && i < len && frame[i] != 0) {
		if (frame[i] == NOP) {
			i++;
			continue;
		}
		if (i + 1 >= end || frame[i + 1] < 2)
			return false;
		if (frame[i] == 5 && frame[i + 1] >= 10 && i + 10 <= end) {
			edges[0] = be_tcp32(frame, i + 2 - PKT_TCP);
			edges[1] = be_tcp32(frame, i + 6 - PKT_TCP);
			return true;
		}
		i += frame[i + 1];
	}
	return false;
}

/* Adopted at @seq/@ack, @req read, @answer written and acknowledged: the socket then idle. */
static int adopted_idle(struct kernel_backend *kb, uint32_t seq, uint32_t ack, const char *req,
			const char *answer)
{
	uint8_t in[PKT_MAX];
	struct lb_segment seg;
	struct pollfd pfd = { .fd = kb->lfd, .events = POLLIN };
	int afd;

	client_send(kb, 0x18, seq, ack, 0x01020304, 0x0a0b0c0d, req, LB_ADOPT_EXID, 0);
	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the adopt segment made no connection");
	afd = accept(kb->lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	recv_all(afd, strlen(req));
	ck_assert_int_eq(send(afd, answer, strlen(answer), 0), (ssize_t)strlen(answer));
	server_segment(kb, &seg, in);
	ck_assert_uint_eq(seg.seq, ack);
	client_send(kb, 0x10, seq + strlen(req), ack + strlen(answer), 0x01020305, seg.tsval, NULL,
		    0, 0);
	wait_ioctl(afd, SIOCOUTQ, 0, "the first answer acknowledged");
	return afd;
}

/* @fd's socket was reset: a read fails with ECONNRESET. */
static void assert_reset(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	char got[64];

	ck_assert_int_eq(poll(&pfd, 1, 2000), 1);
	ck_assert_int_eq(recv(fd, got, sizeof(got), 0), -1);
	ck_assert_int_eq(errno, ECONNRESET);
}

/* @req made a new connection, whose socket is returned; the old one, @old_fd, was reset. */
static int replaced(struct kernel_backend *kb, int old_fd, const char *req)
{
	struct pollfd pfd = { .fd = kb->lfd, .events = POLLIN };
	int fd;

	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the request made no new connection");
	fd = accept(kb->lfd, NULL, NULL);
	ck_assert_int_ge(fd, 0);
	recv_all(fd, strlen(req));
	assert_reset(old_fd);
	return fd;
}

/*
 * The connection left this socket idle, went to other backends, and comes back
 * with its numbers moved on: the adopt option finds the socket, which is taken
 * up again (no new connection), and every segment either way is translated
 * between its numbers and the client's: seq, ack, timestamps, SACK edges, the
 * probe's answer. Then the balancer's retire resets it.
 */
START_TEST(test_kernel_resume)
{
	static const char req1[] = "GET /a HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char req2[] = "GET /b/again HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char answer1[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
	static const char answer2[] = "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond";
	const uint32_t seq = 0x10000000u + 7777, ack = 0x7a000001u + 90000;
	/* Where the connection stands when it comes back: moved on by other backends' answers. */
	const uint32_t seq2 = seq + strlen(req1) + 4321, ack2 = ack + strlen(answer1) + 987654;
	const uint32_t seen_ts = 0x50000000u; /* the latest TSval the client has, another backend's */
	const uint32_t len2 = strlen(req2), alen2 = strlen(answer2);
	struct kernel_backend kb;
	struct lb_segment seg;
	uint8_t in[PKT_MAX];
	char got[sizeof(req2)];
	struct pollfd pfd;
	int afd;

	kernel_backend_up(&kb, 8080);
	afd = adopted_idle(&kb, seq, ack, req1, answer1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_REBIND_ADOPTED), 1);

	/* A forged resume is refused, and changes nothing. */
	client_send(&kb, 0x18, seq2, ack2, 0x01020400, seen_ts, req2, LB_ADOPT_EXID, 1u << 7);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_DROP_BAD_REBIND), 1);

	client_send(&kb, 0x18, seq2, ack2, 0x01020400, seen_ts, req2, LB_ADOPT_EXID, 0);
	pfd = (struct pollfd){ .fd = afd, .events = POLLIN };
	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the resumed socket got no request");
	ck_assert_int_eq(recv(afd, got, sizeof(got), 0), (ssize_t)len2);
	ck_assert_mem_eq(got, req2, len2);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_RESUMED), 1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_REBIND_ADOPTED), 1); /* no second socket */
	pfd = (struct pollfd){ .fd = kb.lfd, .events = POLLIN };
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);

	/* The answer in the client's numbers, its TSvals going on from what the client saw. */
	ck_assert_int_eq(send(afd, answer2, alen2, 0), (ssize_t)alen2);
	server_segment(&kb, &seg, in);
	ck_assert_uint_eq(seg.seq, ack2);
	ck_assert_uint_eq(seg.ack, seq2 + len2);
	ck_assert_msg(seg.has_ts && seg.tsval - seen_ts < 5000,
		      "TSval %#x does not go on from the client's latest %#x", seg.tsval, seen_ts);
	ck_assert_mem_eq(seg.payload, answer2, alen2);

	/* The same request sent again (no sign yet it arrived): the deltas stay. */
	client_send(&kb, 0x18, seq2, ack2, 0x01020400, seen_ts, req2, LB_ADOPT_EXID, 0);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_RESUMED), 1);

	/* The client acknowledges the answer at its own numbers: the socket sees it all taken. */
	client_send(&kb, 0x10, seq2 + len2, ack2 + alen2, 0x01020401, seg.tsval, NULL, 0, 0);
	wait_ioctl(afd, SIOCOUTQ, 0, "the resumed answer acknowledged");
	/*
	 * A byte out of order (one missing before it): the socket's SACK of it
	 * reaches the client in the client's numbers.
	 */
	client_send(&kb, 0x18, seq2 + len2 + 1, ack2 + alen2, 0x01020402, seg.tsval, "x", 0, 0);
	{
		size_t len;

		uint32_t edges[2];

		do
			len = next_of(kb.pkt, in, &seg, kb.port, false);
		/* Skipping the D-SACK of the request sent twice, [seq2, seq2 + len2). */
		while (len && (!first_sack(in, len, edges) || edges[0] == seq2));
		ck_assert_msg(len, "no SACK from the socket");
		ck_assert_int_eq(pkt_check_csums(in, len), 0);
		ck_assert_uint_eq(seg.ack, seq2 + len2);
		ck_assert_uint_eq(edges[0], seq2 + len2 + 1);
		ck_assert_uint_eq(edges[1], seq2 + len2 + 2);
	}
	ck_assert_uint_ge(stat_of(kb.k, LB_BE_RESUME_IN), 2);
	ck_assert_uint_ge(stat_of(kb.k, LB_BE_RESUME_OUT), 1);

	/* A probe at the client's numbers finds it idle, and answers in the client's numbers. */
	{
		struct be_probe p = {
			.src_mac = balancer_mac, .dst_mac = backend_mac, .saddr = CLIENT,
			.daddr = VIP, .sport = CPORT, .dport = kb.port,
			.seq = seq2 + len2, .ack = ack2 + alen2, .secret = &secret,
			.counter = lb_cookie_counter(&secret, tai_now()),
		};
		uint8_t frame[PKT_MAX];
		size_t plen = be_probe_build(frame, &p), len;

		ck_assert_int_eq(send(kb.pkt, frame, plen, 0), (ssize_t)plen);
		len = next_of(kb.pkt, in, &seg, kb.port, true);
		ck_assert_msg(len, "no answer to the probe");
		ck_assert_uint_eq(in[PKT_TCP + 20 + 12 + 4], LB_PROBE_IDLE);
		ck_assert_uint_eq(be_tcp32(in, 4), ack2 + alen2);
		ck_assert_uint_eq(be_tcp32(in, 8), seq2 + len2);
	}

	/* A forged retire is refused; the balancer's resets the socket, at any numbers it sends. */
	client_send(&kb, 0x04, 12345, 0, 0x01020402, seg.tsval, NULL, LB_RETIRE_EXID, 1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_DROP_BAD_RETIRE), 1);
	client_send(&kb, 0x04, 12345, 0, 0x01020402, seg.tsval, NULL, LB_RETIRE_EXID, 0);
	assert_reset(afd);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_PARKED_RETIRED), 1);
	/* Nothing left to retire now. */
	client_send(&kb, 0x04, 12346, 0, 0x01020403, seg.tsval, NULL, LB_RETIRE_EXID, 0);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_RETIRE_NO_SOCKET), 1);

	close(afd);
	kernel_backend_down(&kb);
}
END_TEST

/*
 * The socket left here is not idle when the connection comes back (its server
 * closed it meanwhile: FIN_WAIT): it is reset, and the request adopted into a
 * new one.
 */
START_TEST(test_kernel_resume_stale)
{
	static const char req1[] = "GET /a HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char req2[] = "GET /b HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char answer1[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
	const uint32_t seq = 0x20000000u, ack = 0x6a000001u;
	const uint32_t seq2 = seq + strlen(req1) + 999, ack2 = ack + strlen(answer1) + 55555;
	struct kernel_backend kb;
	int afd, bfd;

	kernel_backend_up(&kb, 8081);
	afd = adopted_idle(&kb, seq, ack, req1, answer1);
	ck_assert_int_eq(shutdown(afd, SHUT_WR), 0); /* its FIN goes out; nobody answers it */

	client_send(&kb, 0x18, seq2, ack2, 0x01020400, 0x0a0b0c0e, req2, LB_ADOPT_EXID, 0);
	bfd = replaced(&kb, afd, req2);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_STALE_RESET), 1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_REBIND_ADOPTED), 2);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_RESUMED), 0);
	close(bfd);
	close(afd);
	kernel_backend_down(&kb);
}
END_TEST

/*
 * The hand-off that made a socket, sent again (the client's ACK of the answer
 * not seen yet) while the socket is busy with that answer: not a return, so
 * no reset; the kernel takes it as the duplicate it is.
 */
START_TEST(test_kernel_adopt_resent)
{
	static const char req[] = "GET /a HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char answer[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
	const uint32_t seq = 0x40000000u, ack = 0x4a000001u;
	struct kernel_backend kb;
	struct lb_segment seg;
	struct pollfd pfd = { .events = POLLIN };
	uint8_t in[PKT_MAX];
	int afd;

	kernel_backend_up(&kb, 8083);
	client_send(&kb, 0x18, seq, ack, 0x01020304, 0x0a0b0c0d, req, LB_ADOPT_EXID, 0);
	pfd.fd = kb.lfd;
	ck_assert_msg(poll(&pfd, 1, 2000) == 1, "the adopt segment made no connection");
	afd = accept(kb.lfd, NULL, NULL);
	ck_assert_int_ge(afd, 0);
	recv_all(afd, strlen(req));
	ck_assert_int_eq(send(afd, answer, strlen(answer), 0), (ssize_t)strlen(answer));
	server_segment(&kb, &seg, in);

	client_send(&kb, 0x18, seq, ack, 0x01020304, 0x0a0b0c0d, req, LB_ADOPT_EXID, 0);
	client_send(&kb, 0x10, seq + strlen(req), ack + strlen(answer), 0x01020305, seg.tsval, NULL,
		    0, 0);
	wait_ioctl(afd, SIOCOUTQ, 0, "the answer acknowledged on the same socket");
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_STALE_RESET), 0);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_RESUMED), 0);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_REBIND_ADOPTED), 1);
	pfd.fd = kb.lfd;
	ck_assert_int_eq(poll(&pfd, 1, 0), 0);
	close(afd);
	kernel_backend_down(&kb);
}
END_TEST

/*
 * A new connection on the ports of one whose socket is still parked here (its
 * retire not come yet): the first request's cookie ACK, which that socket
 * would never take, resets it and is adopted into a new one.
 */
START_TEST(test_kernel_port_reused)
{
	static const char req1[] = "GET /a HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char req2[] = "GET /new HTTP/1.1\r\nHost: site\r\n\r\n";
	static const char answer1[] = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfirst";
	const uint32_t isn = 0x5eed0000u;
	struct lb_cookie_tuple t = { .cport = htons(CPORT), .vport = htons(8082) };
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct kernel_backend kb;
	uint32_t cookie;
	int afd, bfd;

	kernel_backend_up(&kb, 8082);
	afd = adopted_idle(&kb, 0x30000000u, 0x5a000001u, req1, answer1);
	/* Its own segments still pass: an ACK at its numbers is no new connection. */
	client_send(&kb, 0x10, 0x30000000u + strlen(req1), 0x5a000001u + strlen(answer1),
		    0x01020306, 0x0a0b0c0e, NULL, 0, 0);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_STALE_RESET), 0);

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	cookie = lb_cookie_make(secret.key, &t, isn, lb_cookie_counter(&secret, tai_now()),
				lb_cookie_encode_opts(&co));
	client_send(&kb, 0x18, isn + 1, cookie + 1, 0x01020400, 0x0a0b0c0f, req2, 0, 0);
	bfd = replaced(&kb, afd, req2);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_STALE_RESET), 1);
	ck_assert_uint_eq(stat_of(kb.k, LB_BE_ADOPTED), 1);
	close(bfd);
	close(afd);
	kernel_backend_down(&kb);
}
END_TEST

/* ---- several balancers (docs/packet-walk.md §6) ---------------------------- */

static void setup_two(void)
{
	setup();
	be2 = load_backend(port_p, 2);
}

static void teardown_two(void)
{
	backend__destroy(be2);
	be2 = NULL;
	teardown();
}

/* A valid hand-off ACK + request for CLIENT:@cport, from @mac. */
static size_t handoff_ack(uint8_t *frame, const uint8_t *mac, uint16_t cport)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: site\r\n\r\n";
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };
	struct lb_cookie_tuple t = { .cport = htons(cport), .vport = htons(port_p) };
	struct pkt_spec p = {
		.saddr = CLIENT, .daddr = VIP, .sport = cport, .dport = port_p, .seq = CISN + 1,
		.flags = 0x18, .window = 502, .payload = (const uint8_t *)req,
		.paylen = sizeof(req) - 1,
	};

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	p.ack = lb_cookie_make(secret.key, &t, CISN, lb_cookie_counter(&secret, tai_now()),
			       lb_cookie_encode_opts(&co)) + 1;
	memcpy(p.src_mac, mac, 6);
	memcpy(p.dst_mac, backend_mac, 6);
	return pkt_build_tcp(frame, &p);
}

/* The ACK through @skel's ingress: a hand-off (refused only by the kfunc), or not the balancer's. */
static void ingress_handoff(struct backend *skel, const uint8_t *mac, uint16_t cport, bool ours)
{
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len = handoff_ack(frame, mac, cport);

	run_prog(skel, skel->progs.lb_backend_ingress, frame, len, &r);
	assert_counted(&r, ours ? KFUNC_REASON : LB_BE_DROP_NOT_BALANCER);
	assert_unchanged(&r, frame, len);
}

/* The backend's FIN|ACK (or RST with @rst) for CLIENT:@cport through @skel's egress: its MAC out. */
static const uint8_t *egress_end(struct backend *skel, uint16_t cport, bool rst)
{
	static uint8_t out[6];
	struct pkt_spec p = {
		.saddr = VIP, .daddr = CLIENT, .sport = port_p, .dport = cport, .seq = 0x55667788,
		.ack = CISN + 1 + 40, .flags = rst ? 0x04 : 0x11, .window = 502,
	};
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	len = pkt_build_tcp(frame, &p);
	run_prog(skel, skel->progs.lb_backend_egress, frame, len, &r);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_DIVERTED);
	ck_assert_uint_eq(r.out_len, len);
	ck_assert_mem_eq(r.out + 6, frame + 6, len - 6);
	memcpy(out, r.out, 6);
	return out;
}

#define assert_mac(got, want, what)                                                       \
	ck_assert_msg(!memcmp((got), (want), 6), "%s: to %02x:..:%02x, expected ..:%02x", \
		      (what), (got)[0], (got)[5], (want)[5])

/* _i: 0, 1 the configured balancers, 2 a third MAC. */
START_TEST(test_multi_handoff)
{
	const uint8_t *mac = _i < 2 ? be_balancers[_i] : be_stranger;
	uint16_t cport = 43000 + _i;

	ingress_handoff(be2, mac, cport, _i < 2);
	/* The balancer it came from is remembered; a stranger is not. */
	ck_assert_int_eq(be_balancer_of(be2->maps.balancer_of, CLIENT, cport, VIP, port_p),
			 _i < 2 ? _i : -1);
}
END_TEST

/* _i: 0, 1 the configured balancers, 2 a third MAC. Answered to the MAC it came from. */
START_TEST(test_multi_probe)
{
	const uint8_t *mac = _i < 2 ? be_balancers[_i] : be_stranger;
	struct be_probe p = {
		.src_mac = mac, .dst_mac = backend_mac, .saddr = CLIENT, .daddr = VIP,
		.sport = CPORT, .dport = port_p, .seq = CISN + 1 + 3000, .ack = 0x7a000001u,
		.secret = &secret, .counter = lb_cookie_counter(&secret, tai_now()),
	};
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len = be_probe_build(frame, &p);

	run_prog(be2, be2->progs.lb_backend_ingress, frame, len, &r);
	if (_i == 2) {
		ck_assert_int_eq(r.action, TC_ACT_SHOT);
		assert_counted(&r, LB_BE_DROP_BAD_PROBE);
		return;
	}
	ck_assert_int_eq(r.action, TC_ACT_REDIRECT);
	assert_counted(&r, LB_BE_PROBE_ANSWERED);
	assert_mac(r.out, mac, "probe answer");
}
END_TEST

/*
 * A connection's ends follow the balancer its packets last came through. The
 * first is the one its hash does not choose, so that each step differs from
 * the fallback and from the step before.
 */
START_TEST(test_multi_divert)
{
	uint16_t cport = be_port_hashing_to(CLIENT, 44000, VIP, port_p, 0);
	const uint8_t *hashed = be_balancers[0], *other = be_balancers[1];

	ingress_handoff(be2, other, cport, true);
	assert_mac(egress_end(be2, cport, false), other, "FIN after the other's hand-off");
	assert_mac(egress_end(be2, cport, true), other, "RST after the other's hand-off");

	ingress_handoff(be2, hashed, cport, true);
	assert_mac(egress_end(be2, cport, false), hashed, "FIN after a packet from the hashed");

	ingress_handoff(be2, other, cport, true);
	assert_mac(egress_end(be2, cport, true), other, "RST after one from the other again");

	/* A third MAC's packet changes nothing. */
	ingress_handoff(be2, be_stranger, cport, false);
	assert_mac(egress_end(be2, cport, false), other, "FIN after a stranger's packet");
	ck_assert_int_eq(be_balancer_of(be2->maps.balancer_of, CLIENT, cport, VIP, port_p), 1);
}
END_TEST

/* No entry: the 4-tuple's hash choice, the same every time; both balancers get some. */
START_TEST(test_multi_unknown)
{
	uint16_t cport = be_port_hashing_to(CLIENT, 45000 + _i * 100, VIP, port_p, _i);
	const uint8_t *first;

	ck_assert_int_eq(be_balancer_of(be2->maps.balancer_of, CLIENT, cport, VIP, port_p), -1);
	first = egress_end(be2, cport, false);
	assert_mac(first, be_balancers[_i], "FIN of an unknown connection");
	assert_mac(egress_end(be2, cport, true), be_balancers[_i], "RST of it");
	/* Egress only reads: still no entry. */
	ck_assert_int_eq(be_balancer_of(be2->maps.balancer_of, CLIENT, cport, VIP, port_p), -1);
}
END_TEST

/* A FIN with data: its notice goes where the connection's last packet came from. */
START_TEST(test_multi_notice)
{
	uint16_t cport = be_port_hashing_to(CLIENT, 46000, VIP, port_p, 0);
	struct pkt_spec p = {
		.saddr = VIP, .daddr = CLIENT, .sport = port_p, .dport = cport, .seq = 0x1000,
		.ack = CISN + 1 + 40, .flags = 0x19, .window = 502,
		.payload = (const uint8_t *)"the last bytes", .paylen = 14,
	};
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;
	int orig;

	ingress_handoff(be2, be_balancers[1], cport, true);
	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	len = pkt_build_tcp(frame, &p);
	/* The direct copy leaves through a loopback of a namespace of our own (test_egress_fin_data). */
	orig = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
	ck_assert_int_ge(orig, 0);
	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	lo_up();
	run_prog(be2, be2->progs.lb_backend_egress, frame, len, &r);
	ck_assert_msg(setns(orig, CLONE_NEWNET) == 0, "back to our namespace: %s", strerror(errno));
	close(orig);
	ck_assert_int_eq(r.action, TC_ACT_OK);
	assert_counted(&r, LB_BE_EGRESS_FIN_NOTICE);
	assert_mac(r.out, be_balancers[1], "FIN notice");
}
END_TEST

/* One balancer: today's path, and balancer_of is never written. */
START_TEST(test_one_balancer_no_map)
{
	uint16_t cport = be_port_hashing_to(CLIENT, 47000, VIP, port_p, 1);

	ingress_handoff(be, balancer_mac, cport, true);
	ingress_handoff(be, be_balancers[1], cport, false);
	assert_mac(egress_end(be, cport, false), balancer_mac, "FIN, one balancer");
	ck_assert_uint_eq(be_map_entries(be->maps.balancer_of), 0);
}
END_TEST

Suite *backend_suite(void)
{
	Suite *s = suite_create("backend_tc");
	TCase *tc = tcase_create("packets");
	TCase *multi = tcase_create("several balancers");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_ingress, 0, sizeof(in_cases) / sizeof(in_cases[0]));
	tcase_add_loop_test(tc, test_ingress_established, 0, 3);
	tcase_add_loop_test(tc, test_egress, 0, sizeof(eg_cases) / sizeof(eg_cases[0]));
	tcase_add_loop_test(tc, test_egress_fin_data, 0, sizeof(fin_cases) / sizeof(fin_cases[0]));
	tcase_add_test(tc, test_egress_not_tcp);
	tcase_add_loop_test(tc, test_adopt, 0, sizeof(adopt_cases) / sizeof(adopt_cases[0]));
	tcase_add_loop_test(tc, test_probe, 0, sizeof(probe_cases) / sizeof(probe_cases[0]));
	tcase_add_test(tc, test_probe_established);
	/* Forked like every test here: the namespace it makes dies with it. */
	tcase_add_test(tc, test_kernel_adopt);
	tcase_add_test(tc, test_kernel_resume);
	tcase_add_test(tc, test_kernel_resume_stale);
	tcase_add_test(tc, test_kernel_port_reused);
	tcase_add_test(tc, test_kernel_adopt_resent);
	tcase_add_test(tc, test_one_balancer_no_map);
	suite_add_tcase(s, tc);

	tcase_add_unchecked_fixture(multi, setup_two, teardown_two);
	tcase_add_loop_test(multi, test_multi_handoff, 0, 3);
	tcase_add_loop_test(multi, test_multi_probe, 0, 3);
	tcase_add_test(multi, test_multi_divert);
	tcase_add_loop_test(multi, test_multi_unknown, 0, 2);
	tcase_add_test(multi, test_multi_notice);
	suite_add_tcase(s, multi);
	return s;
}
