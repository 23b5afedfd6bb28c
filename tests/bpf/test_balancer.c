// SPDX-License-Identifier: GPL-2.0
/*
 * Packet tables for the balancer's XDP program, run with BPF_PROG_TEST_RUN on
 * the real object (loaded from its skeleton, as the daemon does).
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "balancer.skel.h"
#include "cookie.h"
#include "fin_notice.h"
#include "maps.h"
#include "frames.h"
#include "stats.h"
#include "suites.h"
#include "test_xsk.h"

#define VIP	   "192.0.2.80"
#define CLIENT	   "203.0.113.10"
#define VPORT	   80
#define CPORT	   40000
#define CISN	   0x11223344u
#define TCP_MODE_PORT 8025 /* a tcp-mode VIP port on the same address */
#define TEST_MSS   1400
#define TEST_WS	   7

static struct balancer *skel;
static const uint8_t client_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const uint8_t lb_mac[6] = { 0x02, 0, 0, 0, 0x02, 0x02 };

static struct lb_cookie_secret secret = {
	.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
	.prev_key = { 0x1111111111111111ULL, 0x2222222222222222ULL },
	.period_s = 64,
	.windows = 2,
};

static uint64_t tai_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return ts.tv_sec;
}

static void set_secret(const struct lb_cookie_secret *s)
{
	uint32_t k = 0;

	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.cookie_secret), &k, s, 0), 0);
}

static void add_vip(const char *addr, uint16_t port, uint32_t mode)
{
	struct lb_vip_key k = { .port = htons(port), .proto = IPPROTO_TCP };
	struct lb_vip v = { .mode = mode };
	int fd = bpf_map__fd(skel->maps.vips);

	inet_pton(AF_INET, addr, &k.addr);
	ck_assert_int_eq(bpf_map_update_elem(fd, &k, &v, 0), 0);
	k.port = 0; /* the address marker */
	ck_assert_int_eq(bpf_map_update_elem(fd, &k, &v, 0), 0);
}

/*
 * BPF_PROG_TEST_RUN delivers every frame on the loopback device, so another
 * interface of the balancer is a devmap key that stands for it: key PORT_IFINDEX,
 * value lo's ifindex (the daemon uses the same number for both).
 */
#define LO_IFINDEX	1
#define PORT_IFINDEX	7  /* "eth1": in tx_ports and ifaces */
#define NO_PORT_IFINDEX 9  /* named by a backend, never entered by the daemon */

static const uint8_t port_mac[6] = { 0x02, 0, 0, 0, 0x05, 0x02 };

static void add_port(uint32_t key, const uint8_t mac[6])
{
	struct lb_iface iface = {};
	uint32_t dev = LO_IFINDEX;

	memcpy(iface.mac, mac, 6);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.tx_ports), &key, &dev, 0), 0);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.ifaces), &key, &iface, 0), 0);
}

/* Our MAC on the main interface as the daemon sets it, or all zero (not checked). */
static uint8_t main_mac[6];

static void load(uint32_t main_ifindex)
{
	struct bpf_prog_info info = {};
	uint32_t len = sizeof(info);

	skel = balancer__open();
	ck_assert_msg(skel, "open balancer skeleton: %s", strerror(errno));
	/* A small flow table keeps the test cheap; the daemon sizes it from the config. */
	bpf_map__set_max_entries(skel->maps.flows_v3, 1024);
	skel->rodata->cfg_mss = TEST_MSS;
	skel->rodata->cfg_wscale = TEST_WS;
	skel->rodata->cfg_main_ifindex = main_ifindex;
	memcpy((void *)skel->rodata->cfg_main_mac, main_mac, 6);
	ck_assert_msg(balancer__load(skel) == 0, "load balancer: %s (run as root)", strerror(errno));

	/* It really loaded: the kernel holds a verified program of some size. */
	ck_assert_int_eq(bpf_obj_get_info_by_fd(bpf_program__fd(skel->progs.lb_xdp), &info, &len), 0);
	ck_assert_uint_gt(info.xlated_prog_len, 1000);

	set_secret(&secret);
	add_vip(VIP, VPORT, LB_VIP_HTTP);
	add_vip(VIP, TCP_MODE_PORT, LB_VIP_TCP);
	add_port(PORT_IFINDEX, port_mac);
}

/* Frames arrive on the main interface (the default: every interface is). */
static void setup(void)
{
	load(0);
}

/* Frames arrive on a backend-side interface: the main one is PORT_IFINDEX. */
static void setup_backend_side(void)
{
	load(PORT_IFINDEX);
}

/* As the daemon loads it: frames come in on the main interface (lo), our MAC known. */
static void setup_mac_checked(void)
{
	memcpy(main_mac, lb_mac, 6);
	load(LO_IFINDEX);
	memset(main_mac, 0, 6);
}

static void teardown(void)
{
	balancer__destroy(skel);
	skel = NULL;
}

/* ---- running a frame ---------------------------------------------------- */

struct run {
	int action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t stats[LB_XDP_REASON_MAX]; /* change of each counter's packets */
};

static void read_stats(uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_counter vals[ncpu];
	uint32_t r;
	int c;

	for (r = 0; r < LB_XDP_REASON_MAX; r++) {
		out[r] = 0;
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &r, vals), 0);
		for (c = 0; c < ncpu; c++)
			out[r] += vals[c].packets;
	}
}

/* @frame through @prog (lb_xdp, or lb_local_egress as TC); its verdict and counters in @r. */
static void run_prog(struct bpf_program *prog, const uint8_t *frame, size_t len, struct run *r)
{
	uint64_t before[LB_XDP_REASON_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int i;

	read_stats(before);
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	r->action = opts.retval;
	r->out_len = opts.data_size_out;
	read_stats(r->stats);
	for (i = 0; i < LB_XDP_REASON_MAX; i++)
		r->stats[i] -= before[i];
}

static void run_frame(const uint8_t *frame, size_t len, struct run *r)
{
	run_prog(skel->progs.lb_xdp, frame, len, r);
}

/* The one counter that moved must be @reason, by one. */
static void assert_counted(const struct run *r, enum lb_xdp_reason reason)
{
	int i;

	for (i = 0; i < LB_XDP_REASON_MAX; i++)
		ck_assert_msg(r->stats[i] == (i == (int)reason),
			      "counter %s moved by %llu, expected %s to move by 1",
			      lb_xdp_reason_names[i], (unsigned long long)r->stats[i],
			      lb_xdp_reason_names[reason]);
}

static struct pkt_spec client_pkt(uint8_t flags)
{
	struct pkt_spec s = {
		.saddr = CLIENT, .daddr = VIP, .sport = CPORT, .dport = VPORT,
		.seq = CISN, .flags = flags, .window = 64240,
	};

	memcpy(s.src_mac, client_mac, 6);
	memcpy(s.dst_mac, lb_mac, 6);
	return s;
}

static struct lb_cookie_tuple client_tuple(void)
{
	struct lb_cookie_tuple t = { .cport = htons(CPORT), .vport = htons(VPORT) };

	inet_pton(AF_INET, CLIENT, &t.caddr);
	inet_pton(AF_INET, VIP, &t.vaddr);
	return t;
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* ---- SYN → SYN/ACK -------------------------------------------------------- */

/* Markers in expected option bytes for the two timestamp fields we can't know. */
#define TSV 0xf1 /* our TSval: any 4 bytes */
#define TSE 0xf2 /* must equal the client's TSval */

struct syn_case {
	const char *name;
	uint8_t opts[40];
	size_t optlen;
	uint8_t flags;		/* extra flags on the SYN (ECE|CWR) */
	/* expected */
	uint8_t synack_opts[20];
	size_t synack_optlen;
	uint16_t cookie_mss;
	uint8_t cookie_wscale;
	uint8_t cookie_sack;
	uint8_t cookie_ecn;
};

#define MSS(v) 2, 4, (v) >> 8, (v) & 0xff
#define WS(v)  3, 3, (v)
#define SACKP  4, 2
#define TS(v)  8, 10, (v) >> 24, ((v) >> 16) & 0xff, ((v) >> 8) & 0xff, (v) & 0xff, 0, 0, 0, 0
#define NOP    1
#define OUR_TS 8, 10, TSV, TSV, TSV, TSV, TSE, TSE, TSE, TSE

static const struct syn_case syn_cases[] = {
	{ "no options", {}, 0, 0,
	  { MSS(TEST_MSS) }, 4, 536, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "MSS only", { MSS(1460) }, 4, 0,
	  { MSS(TEST_MSS) }, 4, 1460, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "Linux default: MSS SACK TS WS", { MSS(1460), SACKP, TS(0xa0b0c0d0), NOP, WS(7) }, 20, 0,
	  { MSS(TEST_MSS), SACKP, OUR_TS, NOP, WS(TEST_WS) }, 20, 1460, 7, 1, 0 },
	{ "wscale 0", { MSS(1460), NOP, WS(0) }, 8, 0,
	  { MSS(TEST_MSS), NOP, WS(TEST_WS) }, 8, 1460, 0, 0, 0 },
	{ "wscale 14", { MSS(1460), NOP, WS(14) }, 8, 0,
	  { MSS(TEST_MSS), NOP, WS(TEST_WS) }, 8, 1460, 14, 0, 0 },
	{ "wscale 15 clamped to 14", { MSS(1460), NOP, WS(15) }, 8, 0,
	  { MSS(TEST_MSS), NOP, WS(TEST_WS) }, 8, 1460, 14, 0, 0 },
	{ "MSS 536 caps ours", { MSS(536) }, 4, 0,
	  { MSS(536) }, 4, 536, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "MSS 1220 caps ours", { MSS(1220), NOP, NOP, SACKP }, 8, 0,
	  { MSS(1220), NOP, NOP, SACKP }, 8, 1220, LB_COOKIE_WSCALE_NONE, 1, 0 },
	{ "MSS 1300 → cookie 1220", { MSS(1300) }, 4, 0,
	  { MSS(1300) }, 4, 1220, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "odd order WS TS SACK MSS", { NOP, WS(2), TS(5), SACKP, MSS(1400), NOP, NOP, NOP }, 24, 0,
	  { MSS(TEST_MSS), SACKP, OUR_TS, NOP, WS(TEST_WS) }, 20, 1400, 2, 1, 0 },
	{ "TS without SACK", { MSS(1460), NOP, NOP, TS(77) }, 16, 0,
	  { MSS(TEST_MSS), NOP, NOP, OUR_TS }, 16, 1460, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "unknown options skipped", { 30, 4, 9, 9, MSS(1460), 253, 2, NOP, NOP }, 12, 0,
	  { MSS(TEST_MSS) }, 4, 1460, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "EOL ends the list", { MSS(1460), 0, 3, 3, 9 }, 8, 0,
	  { MSS(TEST_MSS) }, 4, 1460, LB_COOKIE_WSCALE_NONE, 0, 0 },
	{ "ECN set-up", { MSS(1460) }, 4, 0xc0,
	  { MSS(TEST_MSS) }, 4, 1460, LB_COOKIE_WSCALE_NONE, 0, 1 },
};

/* Where the client's TSval sits in its options, and where our TSecr starts in ours. */
static size_t client_tsval_at(const struct syn_case *tc)
{
	size_t j = 0;

	while (j + 10 <= tc->optlen && !(tc->opts[j] == 8 && tc->opts[j + 1] == 10))
		j += tc->opts[j] == NOP ? 1 : tc->opts[j + 1];
	return j + 2;
}

static size_t first_tse(const struct syn_case *tc)
{
	size_t i = 0;

	while (tc->synack_opts[i] != TSE)
		i++;
	return i;
}

START_TEST(test_syn_answered)
{
	const struct syn_case *tc = &syn_cases[_i];
	struct pkt_spec s = client_pkt(0x02 | tc->flags);
	struct lb_cookie_tuple t = client_tuple();
	struct lb_cookie_opts co;
	uint8_t frame[PKT_MAX];
	const uint8_t *ip, *tcp, *in_ip;
	struct run r;
	size_t len, i;
	uint32_t cookie;

	s.opts = tc->opts;
	s.optlen = tc->optlen;
	len = pkt_build_tcp(frame, &s);
	run_frame(frame, len, &r);

	ck_assert_msg(r.action == XDP_TX, "%s: action %d", tc->name, r.action);
	assert_counted(&r, LB_XDP_TX_SYNACK);
	ck_assert_uint_eq(r.out_len, 14 + 20 + 20 + tc->synack_optlen);
	ck_assert_int_eq(pkt_check_csums(r.out, r.out_len), 0);

	/* Ethernet: back to the sender. */
	ck_assert_mem_eq(r.out, client_mac, 6);
	ck_assert_mem_eq(r.out + 6, lb_mac, 6);
	ck_assert_uint_eq(get16(r.out + 12), 0x0800);

	ip = r.out + PKT_IP;
	in_ip = frame + PKT_IP;
	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(get16(ip + 2), 40 + tc->synack_optlen);
	ck_assert_uint_eq(get16(ip + 6), 0x4000);
	ck_assert_uint_eq(ip[8], 64);
	ck_assert_uint_eq(ip[9], 6);
	ck_assert_mem_eq(ip + 12, in_ip + 16, 4);
	ck_assert_mem_eq(ip + 16, in_ip + 12, 4);

	tcp = r.out + PKT_TCP;
	ck_assert_uint_eq(get16(tcp), VPORT);
	ck_assert_uint_eq(get16(tcp + 2), CPORT);
	ck_assert_uint_eq(get32(tcp + 8), CISN + 1);
	ck_assert_uint_eq(tcp[12] >> 4, (20 + tc->synack_optlen) / 4);
	ck_assert_uint_eq(tcp[13], tc->cookie_ecn ? 0x52 : 0x12);
	ck_assert_uint_eq(get16(tcp + 14), 65535);
	ck_assert_uint_eq(get16(tcp + 18), 0);

	for (i = 0; i < tc->synack_optlen; i++) {
		if (tc->synack_opts[i] == TSV)
			continue;
		if (tc->synack_opts[i] == TSE) {
			/* TSecr echoes the client's TSval, byte for byte. */
			ck_assert_uint_eq(tcp[20 + i], tc->opts[client_tsval_at(tc) + i - first_tse(tc)]);
			continue;
		}
		ck_assert_msg(tcp[20 + i] == tc->synack_opts[i], "%s: option byte %zu is %u, expected %u",
			      tc->name, i, tcp[20 + i], tc->synack_opts[i]);
	}

	/* The cookie validates in userspace and remembers what the client offered. */
	cookie = get32(tcp + 4);
	ck_assert_int_eq(lb_cookie_check(&secret, &t, CISN, cookie, tai_now(), &co), 0);
	ck_assert_uint_eq(co.mss, tc->cookie_mss);
	ck_assert_uint_eq(co.wscale, tc->cookie_wscale);
	ck_assert_uint_eq(co.sack, tc->cookie_sack);
	ck_assert_uint_eq(co.ecn, tc->cookie_ecn);
}
END_TEST

START_TEST(test_syn_retransmit_same_cookie)
{
	/* One counter value for the whole test: no period boundary can fall inside it. */
	struct lb_cookie_secret s = secret;
	struct pkt_spec p = client_pkt(0x02);
	uint8_t opts[] = { MSS(1460), SACKP, TS(1), NOP, WS(7) };
	uint8_t frame[PKT_MAX];
	struct run a, b;
	size_t len;

	s.period_s = 1u << 31;
	set_secret(&s);
	p.opts = opts;
	p.optlen = sizeof(opts);
	len = pkt_build_tcp(frame, &p);
	run_frame(frame, len, &a);
	run_frame(frame, len, &b);
	ck_assert_int_eq(a.action, XDP_TX);
	ck_assert_int_eq(b.action, XDP_TX);
	ck_assert_uint_eq(get32(a.out + PKT_TCP + 4), get32(b.out + PKT_TCP + 4));

	/* Another client ISN is another cookie. */
	p.seq++;
	len = pkt_build_tcp(frame, &p);
	run_frame(frame, len, &b);
	ck_assert_uint_ne(get32(a.out + PKT_TCP + 4), get32(b.out + PKT_TCP + 4));
}
END_TEST

/* ---- ACKs ----------------------------------------------------------------- */

enum cookie_kind { COOKIE_NOW, COOKIE_LAST_WINDOW, COOKIE_EXPIRED, COOKIE_PREV_KEY,
		   COOKIE_PREV_KEY_RETIRED, COOKIE_FORGED, COOKIE_OPTS_CHANGED };

struct ack_case {
	const char *name;
	enum cookie_kind kind;
	uint8_t flags;
	const char *payload;
	uint16_t vport;
	int action;
	enum lb_xdp_reason reason;
};

static const struct ack_case ack_cases[] = {
	{ "bare ACK, valid cookie", COOKIE_NOW, 0x10, NULL, VPORT, XDP_DROP, LB_XDP_DROP_HANDSHAKE_ACK },
	{ "ACK + request, no dispatcher", COOKIE_NOW, 0x18, "GET / HTTP/1.1\r\n", VPORT, XDP_DROP,
	  LB_XDP_DROP_NO_XSK },
	{ "FIN, valid cookie → dispatcher", COOKIE_NOW, 0x11, NULL, VPORT, XDP_DROP, LB_XDP_DROP_NO_XSK },
	{ "RST+ACK, valid cookie → dispatcher", COOKIE_NOW, 0x14, NULL, VPORT, XDP_DROP,
	  LB_XDP_DROP_NO_XSK },
	{ "bare ACK on a tcp-mode VIP → dispatcher", COOKIE_NOW, 0x10, NULL, TCP_MODE_PORT, XDP_DROP,
	  LB_XDP_DROP_NO_XSK },
	{ "cookie from the previous window", COOKIE_LAST_WINDOW, 0x10, NULL, VPORT, XDP_DROP,
	  LB_XDP_DROP_HANDSHAKE_ACK },
	{ "cookie from an expired window", COOKIE_EXPIRED, 0x10, NULL, VPORT, XDP_DROP,
	  LB_XDP_DROP_BAD_COOKIE },
	{ "cookie under the previous key", COOKIE_PREV_KEY, 0x10, NULL, VPORT, XDP_DROP,
	  LB_XDP_DROP_HANDSHAKE_ACK },
	{ "previous key past its grace", COOKIE_PREV_KEY_RETIRED, 0x10, NULL, VPORT, XDP_DROP,
	  LB_XDP_DROP_BAD_COOKIE },
	{ "forged cookie", COOKIE_FORGED, 0x18, "GET / HTTP/1.1\r\n", VPORT, XDP_DROP,
	  LB_XDP_DROP_BAD_COOKIE },
	{ "options bits altered", COOKIE_OPTS_CHANGED, 0x10, NULL, VPORT, XDP_DROP,
	  LB_XDP_DROP_BAD_COOKIE },
	{ "RST without ACK", COOKIE_NOW, 0x04, NULL, VPORT, XDP_DROP, LB_XDP_DROP_TCP_FLAGS },
	{ "no flags at all", COOKIE_NOW, 0x00, NULL, VPORT, XDP_DROP, LB_XDP_DROP_TCP_FLAGS },
};

START_TEST(test_ack_verdicts)
{
	const struct ack_case *tc = &ack_cases[_i];
	struct lb_cookie_secret s = secret;
	struct lb_cookie_tuple t = client_tuple();
	struct pkt_spec p = client_pkt(tc->flags);
	struct lb_cookie_opts co = { .mss = 1460, .wscale = 7, .sack = 1 };
	uint64_t now = tai_now();
	uint32_t counter = now / s.period_s, opts = lb_cookie_encode_opts(&co), cookie;
	const __u64 *key = s.key;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	t.vport = htons(tc->vport);
	switch (tc->kind) {
	case COOKIE_LAST_WINDOW: counter -= 1; break;
	case COOKIE_EXPIRED: counter -= 2; break;
	case COOKIE_PREV_KEY:
		s.prev_until_s = now + 3600;
		key = s.prev_key;
		break;
	case COOKIE_PREV_KEY_RETIRED:
		s.prev_until_s = now - 1;
		key = s.prev_key;
		break;
	default: break;
	}
	set_secret(&s);
	cookie = lb_cookie_make(key, &t, CISN, counter, opts);
	if (tc->kind == COOKIE_FORGED)
		cookie ^= 0x100;
	if (tc->kind == COOKIE_OPTS_CHANGED)
		cookie ^= 0x40; /* claim SACK differently */

	p.dport = tc->vport;
	p.seq = CISN + 1;
	p.ack = cookie + 1;
	if (tc->payload) {
		p.payload = (const uint8_t *)tc->payload;
		p.paylen = strlen(tc->payload);
	}
	len = pkt_build_tcp(frame, &p);
	run_frame(frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	assert_counted(&r, tc->reason);
}
END_TEST

/*
 * A connection the dispatcher has taken goes to it whatever its ack number: after
 * the first segment the client's seq no longer tells its ISN, so the cookie can't
 * be checked again. Without the flow entry the same segment is a bad cookie.
 */
START_TEST(test_known_flow_goes_to_dispatcher)
{
	struct pkt_spec p = client_pkt(0x18);
	struct lb_flow f = { .state = LB_FLOW_DISPATCH };
	struct lb_flow_key k = { .sport = htons(CPORT), .dport = htons(VPORT), .proto = IPPROTO_TCP };
	const char *data = "rest of the head\r\n\r\n";
	int fd = bpf_map__fd(skel->maps.flows_v3);
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	inet_pton(AF_INET, CLIENT, &k.saddr);
	inet_pton(AF_INET, VIP, &k.daddr);
	p.seq = CISN + 1 + 700; /* a later segment */
	p.ack = 0x12345678;
	p.payload = (const uint8_t *)data;
	p.paylen = strlen(data);
	len = pkt_build_tcp(frame, &p);

	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_DROP_BAD_COOKIE);

	ck_assert_int_eq(bpf_map_update_elem(fd, &k, &f, BPF_ANY), 0);
	run_frame(frame, len, &r);
	/* No AF_XDP socket in a test run: the redirect is counted as such. */
	assert_counted(&r, LB_XDP_DROP_NO_XSK);
	/* Waiting for a replay-mode backend's SYN/ACK: still the dispatcher's, no fast path. */
	f.state = LB_FLOW_REPLAY;
	ck_assert_int_eq(bpf_map_update_elem(fd, &k, &f, BPF_ANY), 0);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_DROP_NO_XSK);
	ck_assert_int_eq(bpf_map_delete_elem(fd, &k), 0);
}
END_TEST

/* ---- malformed frames to a VIP, and traffic that is not ours ------------------- */

enum mangle {
	M_NONE, M_TRUNC_IP, M_TRUNC_TCP, M_IHL4, M_IP_OPTIONS, M_VERSION6, M_FRAG_MF,
	M_FRAG_OFFSET, M_TOTLEN_LONG, M_TOTLEN_SHORT, M_DOFF4, M_DOFF_PAST, M_SYN_FIN, M_SYN_RST,
	M_SYN_ACK, M_SYN_PAYLOAD, M_BAD_OPTLEN0, M_BAD_OPTLEN_PAST, M_BAD_MSS_LEN, M_ARP, M_IPV6,
	M_OTHER_DADDR, M_OTHER_PORT, M_PORT_ZERO, M_UDP_TO_VIP,
};

struct bad_case {
	const char *name;
	enum mangle m;
	int action;
	enum lb_xdp_reason reason;
};

static const struct bad_case bad_cases[] = {
	/* BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header. */
	{ "truncated IP header", M_TRUNC_IP, XDP_DROP, LB_XDP_DROP_IP_TRUNC },
	{ "truncated TCP header", M_TRUNC_TCP, XDP_DROP, LB_XDP_DROP_TCP_TRUNC },
	{ "ihl 4", M_IHL4, XDP_DROP, LB_XDP_DROP_IP_IHL },
	{ "IP options", M_IP_OPTIONS, XDP_DROP, LB_XDP_DROP_IP_OPTIONS },
	{ "version 6 in an IPv4 frame", M_VERSION6, XDP_DROP, LB_XDP_DROP_IP_IHL },
	{ "first fragment (MF)", M_FRAG_MF, XDP_DROP, LB_XDP_DROP_IP_FRAGMENT },
	{ "later fragment (offset)", M_FRAG_OFFSET, XDP_DROP, LB_XDP_DROP_IP_FRAGMENT },
	{ "tot_len past the frame", M_TOTLEN_LONG, XDP_DROP, LB_XDP_DROP_IP_LEN },
	{ "tot_len shorter than headers", M_TOTLEN_SHORT, XDP_DROP, LB_XDP_DROP_IP_LEN },
	{ "doff 4", M_DOFF4, XDP_DROP, LB_XDP_DROP_TCP_DOFF },
	{ "doff past the packet", M_DOFF_PAST, XDP_DROP, LB_XDP_DROP_TCP_DOFF },
	{ "SYN+FIN", M_SYN_FIN, XDP_DROP, LB_XDP_DROP_TCP_FLAGS },
	{ "SYN+RST", M_SYN_RST, XDP_DROP, LB_XDP_DROP_TCP_FLAGS },
	{ "SYN+ACK from a client", M_SYN_ACK, XDP_DROP, LB_XDP_DROP_TCP_FLAGS },
	{ "SYN with data", M_SYN_PAYLOAD, XDP_DROP, LB_XDP_DROP_SYN_PAYLOAD },
	{ "option length 0", M_BAD_OPTLEN0, XDP_DROP, LB_XDP_DROP_TCP_OPTIONS },
	{ "option past the header", M_BAD_OPTLEN_PAST, XDP_DROP, LB_XDP_DROP_TCP_OPTIONS },
	{ "MSS option of length 3", M_BAD_MSS_LEN, XDP_DROP, LB_XDP_DROP_TCP_OPTIONS },
	{ "ARP passes", M_ARP, XDP_PASS, LB_XDP_PASS_NOT_IPV4 },
	{ "IPv6 passes", M_IPV6, XDP_PASS, LB_XDP_PASS_NOT_IPV4 },
	{ "other destination passes", M_OTHER_DADDR, XDP_PASS, LB_XDP_PASS_NOT_VIP },
	{ "VIP address, other port passes", M_OTHER_PORT, XDP_PASS, LB_XDP_PASS_NOT_VIP },
	/* Port 0 keys the address marker in `vips`; it must not look like a service. */
	{ "SYN to VIP port 0 passes", M_PORT_ZERO, XDP_PASS, LB_XDP_PASS_NOT_VIP },
	{ "UDP to the VIP passes", M_UDP_TO_VIP, XDP_PASS, LB_XDP_PASS_NOT_VIP },
};

START_TEST(test_bad_and_foreign)
{
	const struct bad_case tc_ = bad_cases[_i], *tc = &tc_;
	struct pkt_spec p = client_pkt(0x02);
	uint8_t opts[8] = { MSS(1460), NOP, NOP, NOP, NOP };
	uint8_t frame[PKT_MAX];
	uint8_t *ip = frame + PKT_IP, *tcp = frame + PKT_TCP;
	size_t len;
	struct run r;
	int fix = 1;

	p.opts = opts;
	p.optlen = sizeof(opts);
	switch (tc->m) {
	case M_SYN_FIN: p.flags = 0x03; break;
	case M_SYN_RST: p.flags = 0x06; break;
	case M_SYN_ACK: p.flags = 0x12; break;
	case M_SYN_PAYLOAD: p.payload = (const uint8_t *)"x"; p.paylen = 1; break;
	case M_OTHER_DADDR: p.daddr = "198.51.100.11"; break;
	case M_OTHER_PORT: p.dport = 8080; break;
	case M_PORT_ZERO: p.dport = 0; break;
	case M_BAD_OPTLEN0: opts[4] = 30; opts[5] = 0; break;
	case M_BAD_OPTLEN_PAST: opts[4] = 30; opts[5] = 6; break;
	case M_BAD_MSS_LEN: opts[1] = 3; break;
	default: break;
	}
	len = pkt_build_tcp(frame, &p);

	switch (tc->m) {
	case M_TRUNC_IP: len = PKT_IP + 12; break;
	case M_TRUNC_TCP: len = PKT_TCP + 12; break;
	case M_IHL4: ip[0] = 0x44; break;
	case M_IP_OPTIONS: ip[0] = 0x46; break;
	case M_VERSION6: ip[0] = 0x65; break;
	case M_FRAG_MF: ip[6] |= 0x20; break;
	case M_FRAG_OFFSET: ip[7] = 0x10; break;
	case M_TOTLEN_LONG: ip[3] += 8; break;
	case M_TOTLEN_SHORT: ip[2] = 0; ip[3] = 36; break;
	case M_DOFF4: tcp[12] = 0x40; break;
	case M_DOFF_PAST: tcp[12] = 0xf0; break;
	case M_ARP: frame[12] = 0x08; frame[13] = 0x06; fix = 0; break;
	case M_IPV6: frame[12] = 0x86; frame[13] = 0xdd; fix = 0; break;
	case M_UDP_TO_VIP: ip[9] = 17; fix = 0; break;
	default: break;
	}
	if (fix && len > PKT_TCP + 20)
		pkt_fix_csums(frame, len);

	run_frame(frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	assert_counted(&r, tc->reason);
	if (tc->action == XDP_PASS) {
		/* Not ours: not a byte changed. */
		ck_assert_uint_eq(r.out_len, len);
		ck_assert_mem_eq(r.out, frame, len);
	}
}
END_TEST

/* ---- bound flows: fast path, closing, diversion ---------------------------- */

#define BACKEND_IDX  1
#define ACTIVE_START 5
#define SERVER_ISN   0x55667788u

static const uint8_t backend_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x0b };
static const uint8_t client_hop_mac[6] = { 0x02, 0, 0, 0, 0x04, 0x0c };

/* Each test uses its own client port, so a failed test's leftovers harm no other. */
static struct lb_flow_key flow_key(uint16_t cport)
{
	struct lb_flow_key k = { .sport = htons(cport), .dport = htons(VPORT), .proto = IPPROTO_TCP };

	inet_pton(AF_INET, CLIENT, &k.saddr);
	inet_pton(AF_INET, VIP, &k.daddr);
	return k;
}

/* A flow as the dispatcher leaves it, with counters already running. */
static void put_flow(uint16_t cport, uint32_t state)
{
	struct lb_flow_key k = flow_key(cport);
	struct lb_flow f = {
		.state = state, .backend = BACKEND_IDX, .packets = 10, .bytes = 1000,
	};

	memcpy(f.backend_mac, backend_mac, 6);
	memcpy(f.client_hop_mac, client_hop_mac, 6);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f, BPF_ANY), 0);
}

static struct lb_flow get_flow(uint16_t cport)
{
	struct lb_flow_key k = flow_key(cport);
	struct lb_flow f;

	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f), 0);
	return f;
}

static void del_flow(uint16_t cport)
{
	struct lb_flow_key k = flow_key(cport);

	bpf_map_delete_elem(bpf_map__fd(skel->maps.flows_v3), &k);
}

/* `backends` is BPF_F_MMAPABLE; the syscall accessors work on it all the same. */
static const struct lb_backend backend_start = {
	.mac = { 0x02, 0, 0, 0, 0x03, 0x0b },
	.weight = 1,
	.state = LB_BACKEND_UP,
	.active = ACTIVE_START,
	.chosen = 42,
	.packets = 100,
	.bytes = 100000,
};

static void put_backend_on(uint32_t ifindex)
{
	struct lb_backend b = backend_start;
	uint32_t k = BACKEND_IDX;

	b.ifindex = ifindex;

	inet_pton(AF_INET, "198.51.100.11", &b.addr);
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.backends), &k, &b, BPF_ANY), 0);
}

/* Behind the main interface, as every backend was before XDP_REDIRECT. */
static void put_backend(void)
{
	put_backend_on(0);
}

static struct lb_backend get_backend(void)
{
	uint32_t k = BACKEND_IDX;
	struct lb_backend b;

	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.backends), &k, &b), 0);
	return b;
}

static uint64_t clock_ns(clockid_t clock)
{
	struct timespec ts;

	clock_gettime(clock, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

/* A later segment of a handed-off connection, client → VIP, via the client's router. */
static size_t client_segment(uint8_t *frame, uint16_t cport, uint8_t flags, const char *data)
{
	static const uint8_t ts[] = { NOP, NOP, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0 };
	struct pkt_spec p = client_pkt(flags);

	p.sport = cport;
	p.seq = CISN + 1 + 77;
	p.ack = SERVER_ISN + 1 + 5000;
	p.opts = ts;
	p.optlen = sizeof(ts);
	if (data) {
		p.payload = (const uint8_t *)data;
		p.paylen = strlen(data);
	}
	return pkt_build_tcp(frame, &p);
}

/* The backend's FIN/RST as its TC egress program sends it: from the VIP, to our MAC. */
static size_t backend_segment(uint8_t *frame, uint16_t cport, uint8_t flags)
{
	struct pkt_spec p = {
		.saddr = VIP, .daddr = CLIENT, .sport = VPORT, .dport = cport,
		.seq = SERVER_ISN + 1 + 5000, .ack = CISN + 1 + 77, .flags = flags, .window = 502,
	};

	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, lb_mac, 6);
	return pkt_build_tcp(frame, &p);
}

/* XDP_TX of @in with only the Ethernet addresses changed: dst @dst, src the input's dst. */
static void assert_tx_rewritten(const struct run *r, const uint8_t *in, size_t len,
				const uint8_t *dst)
{
	ck_assert_int_eq(r->action, XDP_TX);
	ck_assert_uint_eq(r->out_len, len);
	ck_assert_mem_eq(r->out, dst, 6);
	ck_assert_mem_eq(r->out + 6, in, 6); /* in[0..5]: our MAC, as the frame came */
	ck_assert_mem_eq(r->out + 12, in + 12, len - 12);
	ck_assert_int_eq(pkt_check_csums(r->out, r->out_len), 0);
}

START_TEST(test_fast_path)
{
	const uint16_t cport = 41001;
	const char *data = "GET /next.jpg HTTP/1.1\r\nHost: site\r\n\r\n";
	uint8_t frame[PKT_MAX];
	struct lb_backend b;
	struct lb_flow f;
	uint64_t t0, t1;
	struct run r;
	size_t len;

	put_backend();
	put_flow(cport, LB_FLOW_BOUND);
	len = client_segment(frame, cport, 0x18, data);
	ck_assert_mem_eq(frame, lb_mac, 6);

	/* The fast path stamps flows with the coarse clock (a tick's resolution). */
	t0 = clock_ns(CLOCK_MONOTONIC_COARSE);
	run_frame(frame, len, &r);
	t1 = mono_ns();

	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	assert_tx_rewritten(&r, frame, len, backend_mac);

	f = get_flow(cport);
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(f.backend, BACKEND_IDX);
	ck_assert_mem_eq(f.backend_mac, backend_mac, 6);
	ck_assert_mem_eq(f.client_hop_mac, client_hop_mac, 6);
	ck_assert_uint_eq(f.packets, 10 + 1);
	ck_assert_uint_eq(f.bytes, 1000 + len);
	/* Where a reset to the client must sit: what it last acknowledged. */
	ck_assert_uint_eq(f.client_ack, get32(frame + PKT_TCP + 8));
	ck_assert_msg(f.last_seen_ns >= t0 && f.last_seen_ns <= t1,
		      "last_seen_ns %llu not within the run [%llu, %llu]",
		      (unsigned long long)f.last_seen_ns, (unsigned long long)t0,
		      (unsigned long long)t1);

	/* Data does not close anything: only the traffic counters of the backend move. */
	b = get_backend();
	ck_assert_uint_eq(b.active, ACTIVE_START);
	ck_assert_uint_eq(b.packets, backend_start.packets + 1);
	ck_assert_uint_eq(b.bytes, backend_start.bytes + len);
	ck_assert_uint_eq(b.chosen, backend_start.chosen);
	ck_assert_uint_eq(b.addr, htonl(0xc633640b)); /* 198.51.100.11 */
	ck_assert_uint_eq(b.state, LB_BACKEND_UP);

	/* A second segment adds up. */
	len = client_segment(frame, cport, 0x10, NULL);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	assert_tx_rewritten(&r, frame, len, backend_mac);
	ck_assert_uint_eq(get_flow(cport).packets, 10 + 2);
	ck_assert_uint_eq(get_backend().packets, backend_start.packets + 2);
	del_flow(cport);
}
END_TEST

/* ---- a SYN on a known flow: the client's new connection on an old port ---- */

struct reuse_case {
	const char *name;
	uint32_t state;
	uint8_t flags;	    /* the flow's (LB_FLOW_F_PEER: as a peer sent it) */
	enum lb_xdp_reason reason;
	bool gone;	    /* the flow is deleted */
	int active;	    /* the backend's active count moves by this */
};

static const struct reuse_case reuse_cases[] = {
	{ "closing flow: a new connection", LB_FLOW_CLOSING, 0, LB_XDP_TX_SYNACK, true, 0 },
	{ "a peer's bound flow, never seen here: ended there", LB_FLOW_BOUND, LB_FLOW_F_PEER,
	  LB_XDP_TX_SYNACK, true, -1 },
	{ "our own bound flow: forwarded, kept", LB_FLOW_BOUND, 0, LB_XDP_TX_FAST_PATH, false, 0 },
};

START_TEST(test_syn_on_known_flow)
{
	const struct reuse_case *tc = &reuse_cases[_i];
	const uint16_t cport = 41100 + _i;
	struct lb_flow_key k = flow_key(cport);
	struct pkt_spec p = client_pkt(0x02);
	uint8_t opts[] = { MSS(1460), SACKP, TS(1), NOP, WS(7) };
	uint8_t frame[PKT_MAX];
	struct lb_flow f;
	struct run r;
	size_t len;

	put_backend();
	put_flow(cport, tc->state);
	f = get_flow(cport);
	f.flags = tc->flags;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f, BPF_EXIST), 0);
	p.sport = cport;
	p.opts = opts;
	p.optlen = sizeof(opts);
	len = pkt_build_tcp(frame, &p);
	run_frame(frame, len, &r);
	assert_counted(&r, tc->reason);
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f),
			 tc->gone ? -ENOENT : 0);
	ck_assert_int_eq((int)get_backend().active, ACTIVE_START + tc->active);
	del_flow(cport);
}
END_TEST

/* ---- closing exactly once ---- */

enum closer {
	C_CLIENT_FIN, C_CLIENT_RST_ACK, C_CLIENT_RST, C_BACKEND_FIN, C_BACKEND_RST,
	C_BACKEND_NOTICE, /* its data+FIN went to the client directly */
};

static const struct {
	const char *name;
	enum closer who;
} closers[] = {
	{ "client FIN|ACK", C_CLIENT_FIN },
	{ "client RST|ACK", C_CLIENT_RST_ACK },
	{ "client RST", C_CLIENT_RST },
	{ "diverted backend FIN|ACK", C_BACKEND_FIN },
	{ "diverted backend RST", C_BACKEND_RST },
	{ "backend FIN notice", C_BACKEND_NOTICE },
};

/* A FIN notice as the backend's egress program makes it (headers/fin_notice.h). */
static void make_notice(uint8_t *frame, size_t len)
{
	frame[PKT_IP + 6] |= LB_FIN_NOTICE_IP_FLAG >> 8;
	pkt_fix_csums(frame, len);
}

/*
 * XDP_TX of a RST answering client segment @in: back to its sender, from the
 * VIP, at the segment's ack, nothing else in it.
 */
static void assert_client_reset(const struct run *r, const uint8_t *in)
{
	const uint8_t *ip = r->out + PKT_IP, *tcp = r->out + PKT_TCP;

	ck_assert_int_eq(r->action, XDP_TX);
	ck_assert_uint_eq(r->out_len, 14 + 20 + 20);
	ck_assert_int_eq(pkt_check_csums(r->out, r->out_len), 0);
	ck_assert_mem_eq(r->out, in + 6, 6);
	ck_assert_mem_eq(r->out + 6, in, 6);
	ck_assert_uint_eq(ip[0], 0x45);
	ck_assert_uint_eq(get16(ip + 2), 40);
	ck_assert_uint_eq(ip[9], 6);
	ck_assert_mem_eq(ip + 12, in + PKT_IP + 16, 4);
	ck_assert_mem_eq(ip + 16, in + PKT_IP + 12, 4);
	ck_assert_uint_eq(get16(tcp), get16(in + PKT_TCP + 2));
	ck_assert_uint_eq(get16(tcp + 2), get16(in + PKT_TCP));
	ck_assert_uint_eq(get32(tcp + 4), get32(in + PKT_TCP + 8));
	ck_assert_uint_eq(get32(tcp + 8), 0);
	ck_assert_uint_eq(tcp[12] >> 4, 5);
	ck_assert_uint_eq(tcp[13], 0x04);
}

/*
 * Send one closing segment of @who on @cport's flow: forwarded whatever the
 * state, but for a client's segment with ACK (not RST) after the backend's
 * RST, which we answer ourselves.
 */
static void send_closer(enum closer who, uint16_t cport, const char *name)
{
	static const uint8_t flags[] = {
		[C_CLIENT_FIN] = 0x11, [C_CLIENT_RST_ACK] = 0x14, [C_CLIENT_RST] = 0x04,
		[C_BACKEND_FIN] = 0x11, [C_BACKEND_RST] = 0x04, [C_BACKEND_NOTICE] = 0x19,
	};
	int backend = who >= C_BACKEND_FIN;
	uint8_t frame[PKT_MAX];
	struct run r;
	bool reset;
	size_t len;

	len = backend ? backend_segment(frame, cport, flags[who])
		      : client_segment(frame, cport, flags[who], NULL);
	if (who == C_BACKEND_NOTICE) {
		make_notice(frame, len);
		run_frame(frame, len, &r);
		ck_assert_msg(r.action == XDP_DROP, "%s: action %d", name, r.action);
		assert_counted(&r, LB_XDP_DROP_FIN_NOTICE);
		return;
	}
	reset = (get_flow(cport).flags & LB_FLOW_F_RESET) && !backend &&
		(flags[who] & 0x14) == 0x10;
	run_frame(frame, len, &r);
	ck_assert_msg(r.action == XDP_TX, "%s: action %d", name, r.action);
	if (reset) {
		assert_counted(&r, LB_XDP_TX_CLIENT_RESET);
		assert_client_reset(&r, frame);
		return;
	}
	assert_counted(&r, backend ? LB_XDP_TX_DIVERTED : LB_XDP_TX_FAST_PATH);
	assert_tx_rewritten(&r, frame, len, backend ? client_hop_mac : backend_mac);
}

START_TEST(test_close_exactly_once)
{
	const uint16_t cport = 41100 + _i;
	enum closer first = closers[_i].who, w;

	put_backend();
	put_flow(cport, LB_FLOW_BOUND);

	send_closer(first, cport, closers[_i].name);
	ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);

	/* Retransmitted FINs, the other side's FIN, a late RST: none counts again. */
	for (w = C_CLIENT_FIN; w <= C_BACKEND_NOTICE; w++) {
		send_closer(w, cport, closers[w].name);
		ck_assert_msg(get_backend().active == ACTIVE_START - 1,
			      "first %s, then %s: active %llu", closers[_i].name, closers[w].name,
			      (unsigned long long)get_backend().active);
		ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_CLOSING);
	}
	send_closer(first, cport, closers[_i].name);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);
	del_flow(cport);
}
END_TEST

/* ---- the backend's diverted FIN/RST ---- */

struct divert_case {
	const char *name;
	int flow_state;	/* 0: no flow */
	uint8_t flags;
	int action;
	enum lb_xdp_reason reason;
	int closes;	/* the backend's active count drops by one */
	bool forged;	/* from another MAC than the flow's backend */
	bool notice;	/* the FIN notice's marker set */
};

static const struct divert_case divert_cases[] = {
	{ "FIN|ACK, bound flow", LB_FLOW_BOUND, 0x11, XDP_TX, LB_XDP_TX_DIVERTED, 1, false, false },
	{ "RST, bound flow", LB_FLOW_BOUND, 0x04, XDP_TX, LB_XDP_TX_DIVERTED, 1, false, false },
	{ "RST|ACK, bound flow", LB_FLOW_BOUND, 0x14, XDP_TX, LB_XDP_TX_DIVERTED, 1, false, false },
	/* Not sent by our egress program, but if it comes it is no close. */
	{ "bare ACK, bound flow", LB_FLOW_BOUND, 0x10, XDP_TX, LB_XDP_TX_DIVERTED, 0, false, false },
	{ "FIN|ACK, closing flow", LB_FLOW_CLOSING, 0x11, XDP_TX, LB_XDP_TX_DIVERTED, 0, false, false },
	{ "FIN|ACK, no flow", 0, 0x11, XDP_DROP, LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, false },
	{ "RST, no flow", 0, 0x04, XDP_DROP, LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, false },
	{ "FIN|ACK, flow still at the dispatcher", LB_FLOW_DISPATCH, 0x11, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, false },
	/* Anyone can put a VIP in a source address; only the backend has its MAC. */
	{ "forged RST from another MAC", LB_FLOW_BOUND, 0x04, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NOT_BACKEND, 0, true, false },
	/*
	 * Replay mode: the backend's answer to the replayed SYN goes to the
	 * dispatcher (no AF_XDP socket in a test run: counted as such), the flow
	 * and the count untouched; the dispatcher decides.
	 */
	{ "SYN|ACK, replaying flow", LB_FLOW_REPLAY, 0x12, XDP_DROP, LB_XDP_DROP_NO_XSK, 0, false, false },
	{ "RST|ACK, replaying flow", LB_FLOW_REPLAY, 0x14, XDP_DROP, LB_XDP_DROP_NO_XSK, 0, false, false },
	{ "SYN|ACK, replaying flow, another MAC", LB_FLOW_REPLAY, 0x12, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NOT_BACKEND, 0, true, false },
	{ "SYN|ACK, flow still at the dispatcher", LB_FLOW_DISPATCH, 0x12, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, false },
	/* The FIN notice: the flow closes once, the client never sees it. */
	{ "FIN notice, bound flow", LB_FLOW_BOUND, 0x19, XDP_DROP, LB_XDP_DROP_FIN_NOTICE, 1, false,
	  true },
	{ "FIN notice, closing flow", LB_FLOW_CLOSING, 0x11, XDP_DROP, LB_XDP_DROP_FIN_NOTICE, 0,
	  false, true },
	{ "FIN notice from another MAC", LB_FLOW_BOUND, 0x11, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NOT_BACKEND, 0, true, true },
	{ "FIN notice, no flow", 0, 0x11, XDP_DROP, LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, true },
	{ "FIN notice, replaying flow: nothing to close", LB_FLOW_REPLAY, 0x11, XDP_DROP,
	  LB_XDP_DROP_FIN_NOTICE, 0, false, true },
	/* The marker means a notice only on a FIN: a RST is forwarded as ever. */
	{ "RST with the marker", LB_FLOW_BOUND, 0x04, XDP_TX, LB_XDP_TX_DIVERTED, 1, false, true },
	/*
	 * The marker without FIN or RST: the backend's answer to a probe
	 * (headers/rebind.h), the dispatcher's (no AF_XDP socket here: counted as
	 * such; test_to_dispatcher_reasons tells it apart). Believed only from
	 * the flow's backend; it closes nothing and settles nothing.
	 */
	{ "probe answer, bound flow", LB_FLOW_BOUND, 0x10, XDP_DROP, LB_XDP_DROP_NO_XSK, 0, false,
	  true },
	{ "probe answer with PSH, bound flow", LB_FLOW_BOUND, 0x18, XDP_DROP, LB_XDP_DROP_NO_XSK, 0,
	  false, true },
	{ "probe answer from another MAC", LB_FLOW_BOUND, 0x10, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NOT_BACKEND, 0, true, true },
	{ "probe answer, moving flow: still moving", LB_FLOW_MOVING, 0x10, XDP_DROP,
	  LB_XDP_DROP_NO_XSK, 0, false, true },
	{ "probe answer, closing flow", LB_FLOW_CLOSING, 0x10, XDP_DROP, LB_XDP_DROP_NO_XSK, 0, false,
	  true },
	{ "probe answer, no flow", 0, 0x10, XDP_DROP, LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, true },
	{ "probe answer, flow still at the dispatcher", LB_FLOW_DISPATCH, 0x10, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NO_FLOW, 0, false, true },
	/* A moving flow's new backend, but not its MAC: nothing settles. */
	{ "ACK from another MAC, moving flow", LB_FLOW_MOVING, 0x10, XDP_DROP,
	  LB_XDP_DROP_DIVERT_NOT_BACKEND, 0, true, false },
};

START_TEST(test_diverted)
{
	const struct divert_case *tc = &divert_cases[_i];
	const uint16_t cport = 41200 + _i;
	uint8_t frame[PKT_MAX];
	struct lb_flow f;
	uint64_t t0;
	struct run r;
	size_t len;

	put_backend();
	del_flow(cport);
	if (tc->flow_state)
		put_flow(cport, tc->flow_state);
	len = backend_segment(frame, cport, tc->flags);
	if (tc->notice)
		make_notice(frame, len);
	if (tc->forged)
		frame[11] ^= 0x01; /* the last byte of the source MAC */

	t0 = mono_ns();
	run_frame(frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	assert_counted(&r, tc->reason);
	if (tc->action == XDP_TX) {
		/* To the client's next hop; IP and TCP exactly as the backend sent them. */
		assert_tx_rewritten(&r, frame, len, client_hop_mac);
	}
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - tc->closes);

	if (tc->flow_state) {
		f = get_flow(cport);
		if (tc->action == XDP_TX || tc->reason == LB_XDP_DROP_FIN_NOTICE)
			ck_assert_uint_ge(f.last_seen_ns, t0);
		if (tc->closes || tc->flow_state == LB_FLOW_CLOSING)
			ck_assert_uint_eq(f.state, LB_FLOW_CLOSING);
		else
			ck_assert_uint_eq(f.state, tc->flow_state);
	} else {
		/* A stray close creates nothing. */
		struct lb_flow_key k = flow_key(cport);

		ck_assert_int_ne(bpf_map_lookup_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f), 0);
	}

	/* The same close again (retransmitted): forwarded or dropped alike, never counted twice. */
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, tc->action);
	assert_counted(&r, tc->reason);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - tc->closes);
	del_flow(cport);
}
END_TEST

/*
 * A backend resetting a hand-off before the client sent anything more: counted
 * (the daemon feeds it to the health checks). A reset later in a connection's
 * life is an ordinary close and not counted.
 */
START_TEST(test_handoff_reset_counted)
{
	const uint16_t cport = 41300;
	struct lb_flow_key k = flow_key(cport);
	uint8_t frame[PKT_MAX];
	struct lb_flow f;
	struct run r;
	size_t len;

	put_backend();
	put_flow(cport, LB_FLOW_BOUND);
	len = backend_segment(frame, cport, 0x14);
	run_frame(frame, len, &r); /* packets = 10: a connection well under way */
	assert_counted(&r, LB_XDP_TX_DIVERTED);
	ck_assert_uint_eq(get_backend().handoff_resets, 0);

	put_backend();
	put_flow(cport, LB_FLOW_BOUND);
	f = get_flow(cport);
	f.packets = 0; /* just handed off */
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f, BPF_EXIST), 0);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_DIVERTED);
	ck_assert_uint_eq(get_backend().handoff_resets, 1);
	/* The same reset again: the flow is closing now, nothing more to count. */
	run_frame(frame, len, &r);
	ck_assert_uint_eq(get_backend().handoff_resets, 1);
	del_flow(cport);
}
END_TEST

/*
 * After the backend's RST, nothing is left on its side to answer the client:
 * a challenge ACK (the RST overtook data on its way) or any other segment with
 * an ACK gets our RST at that ack. Only a RST does that: after a FIN the
 * backend's socket still answers; the client's own RST goes on; the
 * backend's count falls once.
 */
START_TEST(test_client_reset_after_backend_rst)
{
	const uint16_t cport = 41310;
	uint8_t frame[PKT_MAX], ack[PKT_MAX];
	size_t len, ack_len;
	struct run r;

	put_backend();
	put_flow(cport, LB_FLOW_BOUND);
	ack_len = client_segment(ack, cport, 0x10, NULL);

	/* The backend's FIN: the client's ACKs still go to the backend. */
	len = backend_segment(frame, cport, 0x11);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_DIVERTED);
	ck_assert_uint_eq(get_flow(cport).flags & LB_FLOW_F_RESET, 0);
	run_frame(ack, ack_len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	assert_tx_rewritten(&r, ack, ack_len, backend_mac);

	/* Then its RST: forwarded, and from now on we answer for it. */
	len = backend_segment(frame, cport, 0x14);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_DIVERTED);
	assert_tx_rewritten(&r, frame, len, client_hop_mac);
	ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_CLOSING);
	ck_assert_uint_ne(get_flow(cport).flags & LB_FLOW_F_RESET, 0);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);
	run_frame(ack, ack_len, &r);
	assert_counted(&r, LB_XDP_TX_CLIENT_RESET);
	assert_client_reset(&r, ack);
	/* Data too, and again: each segment gets its RST, the count stays. */
	len = client_segment(frame, cport, 0x18, "GET / HTTP/1.1\r\n\r\n");
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_CLIENT_RESET);
	assert_client_reset(&r, frame);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);

	/* The client's own RST (with or without ACK) is never answered. */
	len = client_segment(frame, cport, 0x14, NULL);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	len = client_segment(frame, cport, 0x04, NULL);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	del_flow(cport);

	/* The backend's RST on a flow the client closed first: the same. */
	put_backend();
	put_flow(cport, LB_FLOW_BOUND);
	len = client_segment(frame, cport, 0x11, NULL);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	len = backend_segment(frame, cport, 0x04);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_DIVERTED);
	run_frame(ack, ack_len, &r);
	assert_counted(&r, LB_XDP_TX_CLIENT_RESET);
	assert_client_reset(&r, ack);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);
	del_flow(cport);
}
END_TEST

/* ---- backends behind another interface: XDP_REDIRECT ---- */

struct port_case {
	const char *name;
	uint32_t ifindex; /* lb_backend.ifindex */
	int action;
	enum lb_xdp_reason reason;
};

static const struct port_case port_cases[] = {
	{ "behind another interface → redirected there", PORT_IFINDEX, XDP_REDIRECT,
	  LB_XDP_REDIRECT_FAST_PATH },
	/* The daemon writes 0 for the main interface; its own ifindex means the same. */
	{ "behind the interface the frame came in on → XDP_TX", LO_IFINDEX, XDP_TX,
	  LB_XDP_TX_FAST_PATH },
	{ "behind an interface the daemon never entered → dropped", NO_PORT_IFINDEX, XDP_DROP,
	  LB_XDP_DROP_NO_TX_PORT },
	{ "the balancer itself (local: true) → up its own stack", LB_IFINDEX_LOCAL, XDP_PASS,
	  LB_XDP_PASS_LOCAL },
};

START_TEST(test_fast_path_ports)
{
	const struct port_case *tc = &port_cases[_i];
	const uint16_t cport = 41400 + _i;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	put_backend_on(tc->ifindex);
	put_flow(cport, LB_FLOW_BOUND);
	len = client_segment(frame, cport, 0x18, "GET /b HTTP/1.1\r\n\r\n");
	run_frame(frame, len, &r);
	ck_assert_msg(r.action == tc->action, "%s: action %d, expected %d", tc->name, r.action,
		      tc->action);
	assert_counted(&r, tc->reason);
	if (tc->action == XDP_TX)
		assert_tx_rewritten(&r, frame, len, backend_mac);
	if (tc->action == XDP_PASS) { /* untouched: to our MAC, as it came */
		ck_assert_uint_eq(r.out_len, len);
		ck_assert_mem_eq(r.out, frame, len);
	}
	if (tc->action == XDP_REDIRECT) {
		/* To the backend's MAC from ours on its interface; IP and TCP untouched. */
		ck_assert_uint_eq(r.out_len, len);
		ck_assert_mem_eq(r.out, backend_mac, 6);
		ck_assert_mem_eq(r.out + 6, port_mac, 6);
		ck_assert_mem_eq(r.out + 12, frame + 12, len - 12);
	}
	/* Counted on flow and backend whichever way it leaves. */
	ck_assert_uint_eq(get_flow(cport).packets, 10 + 1);
	ck_assert_uint_eq(get_backend().packets, backend_start.packets + 1);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START);

	/* The client's FIN takes the same way and closes the flow once. */
	len = client_segment(frame, cport, 0x11, NULL);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, tc->action);
	assert_counted(&r, tc->reason);
	ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);
	del_flow(cport);
}
END_TEST

/* ---- the local backend's packets leaving: lb_local_egress (TC) ---- */

#define TC_OK	0
#define TC_SHOT 2
#define NO_COUNT LB_XDP_REASON_MAX /* a case that counts nothing */

struct local_case {
	const char *name;
	uint32_t ifindex;    /* the flow's backend: LB_IFINDEX_LOCAL, or a remote one (0) */
	uint32_t state;	     /* the flow before */
	uint64_t packets;    /* the flow's client packets so far (0: just handed off) */
	uint8_t flags;	     /* of the segment from the VIP */
	bool from_client;    /* the client's address as the source instead of the VIP */
	int verdict;	     /* TC_ACT_* */
	enum lb_xdp_reason reason; /* or NO_COUNT */
	uint32_t state_after;
	uint64_t closes;     /* taken off the backend's count */
	uint64_t refusals;   /* handoff_resets */
};

static const struct local_case local_cases[] = {
	{ "FIN of a bound flow: closed, passed on", LB_IFINDEX_LOCAL, LB_FLOW_BOUND, 10, 0x11,
	  false, TC_OK, LB_XDP_LOCAL_END, LB_FLOW_CLOSING, 1, 0 },
	{ "RST of a bound flow: closed, passed on", LB_IFINDEX_LOCAL, LB_FLOW_BOUND, 10, 0x14,
	  false, TC_OK, LB_XDP_LOCAL_END, LB_FLOW_CLOSING, 1, 0 },
	{ "RST right after the hand-off: a refusal, counted for health", LB_IFINDEX_LOCAL,
	  LB_FLOW_BOUND, 0, 0x14, false, TC_OK, LB_XDP_LOCAL_END, LB_FLOW_CLOSING, 1, 1 },
	{ "FIN of a closing flow: nothing more to close", LB_IFINDEX_LOCAL, LB_FLOW_CLOSING, 10,
	  0x11, false, TC_OK, LB_XDP_LOCAL_END, LB_FLOW_CLOSING, 0, 0 },
	{ "data of a bound flow: untouched", LB_IFINDEX_LOCAL, LB_FLOW_BOUND, 10, 0x18, false,
	  TC_OK, NO_COUNT, LB_FLOW_BOUND, 0, 0 },
	{ "data of a flow moving here: it has the connection", LB_IFINDEX_LOCAL, LB_FLOW_MOVING,
	  10, 0x18, false, TC_OK, NO_COUNT, LB_FLOW_BOUND, 0, 0 },
	{ "RST of a flow moving here: its refusal, kept from the client", LB_IFINDEX_LOCAL,
	  LB_FLOW_MOVING, 10, 0x14, false, TC_SHOT, LB_XDP_DROP_LOCAL_REFUSAL, LB_FLOW_MOVING, 0,
	  0 },
	{ "FIN of a flow bound to a remote backend: not ours here", 0, LB_FLOW_BOUND, 10, 0x11,
	  false, TC_OK, NO_COUNT, LB_FLOW_BOUND, 0, 0 },
	{ "FIN from an address that is no VIP: untouched", LB_IFINDEX_LOCAL, LB_FLOW_BOUND, 10,
	  0x11, true, TC_OK, NO_COUNT, LB_FLOW_BOUND, 0, 0 },
};

START_TEST(test_local_egress)
{
	const struct local_case *tc = &local_cases[_i];
	const uint16_t cport = 41600 + _i;
	struct lb_flow_key k = flow_key(cport);
	uint8_t frame[PKT_MAX];
	struct lb_flow f;
	struct run r;
	size_t len;
	int i;

	put_backend_on(tc->ifindex);
	put_flow(cport, tc->state);
	f = get_flow(cport);
	f.packets = tc->packets;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f, BPF_EXIST), 0);
	/* As the local server sends it: from the VIP, out of the main interface to the router. */
	len = backend_segment(frame, cport, tc->flags);
	if (tc->from_client)
		inet_pton(AF_INET, "198.51.100.2", frame + 14 + 12);
	run_prog(skel->progs.lb_local_egress, frame, len, &r);
	ck_assert_msg(r.action == tc->verdict, "%s: verdict %d, expected %d", tc->name, r.action,
		      tc->verdict);
	if (tc->reason == NO_COUNT)
		for (i = 0; i < LB_XDP_REASON_MAX; i++)
			ck_assert_msg(!r.stats[i], "%s: counted %s", tc->name, lb_xdp_reason_names[i]);
	else
		assert_counted(&r, tc->reason);
	if (tc->verdict == TC_OK) { /* passed on as it was */
		ck_assert_uint_eq(r.out_len, len);
		ck_assert_mem_eq(r.out, frame, len);
	}
	ck_assert_msg(get_flow(cport).state == tc->state_after, "%s: state %u, expected %u",
		      tc->name, get_flow(cport).state, tc->state_after);
	/* The local kernel answers the client after its own RST: XDP need not. */
	ck_assert_uint_eq(get_flow(cport).flags & LB_FLOW_F_RESET, 0);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - tc->closes);
	ck_assert_uint_eq(get_backend().handoff_resets, tc->refusals);
	/* Retransmitted: never closed or counted against health twice. */
	run_prog(skel->progs.lb_local_egress, frame, len, &r);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - tc->closes);
	ck_assert_uint_eq(get_backend().handoff_resets, tc->refusals);
	del_flow(cport);
}
END_TEST

/*
 * The program on a backend-side interface (the main one is PORT_IFINDEX): a
 * backend's diverted close goes out of the main interface to the client's next
 * hop, from our MAC there; the flow closes once. A forged one is still dropped.
 */
START_TEST(test_diverted_backend_side)
{
	const uint16_t cport = 41500;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	put_backend_on(LO_IFINDEX);
	put_flow(cport, LB_FLOW_BOUND);
	len = backend_segment(frame, cport, 0x11);
	frame[11] ^= 0x01;
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_DROP_DIVERT_NOT_BACKEND);
	frame[11] ^= 0x01;

	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_REDIRECT);
	assert_counted(&r, LB_XDP_REDIRECT_DIVERTED);
	ck_assert_uint_eq(r.out_len, len);
	ck_assert_mem_eq(r.out, client_hop_mac, 6);
	ck_assert_mem_eq(r.out + 6, port_mac, 6);
	ck_assert_mem_eq(r.out + 12, frame + 12, len - 12);
	ck_assert_int_eq(pkt_check_csums(r.out, r.out_len), 0);
	ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);

	/* Retransmitted: forwarded the same way, not counted again. */
	len = backend_segment(frame, cport, 0x14);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_REDIRECT);
	assert_counted(&r, LB_XDP_REDIRECT_DIVERTED);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);
	del_flow(cport);

	/* No flow: dropped as on the main interface. */
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_DROP_DIVERT_NO_FLOW);
}
END_TEST

/* Without its entry in tx_ports/ifaces the main interface cannot be reached: counted. */
START_TEST(test_diverted_backend_side_no_port)
{
	const uint16_t cport = 41501;
	uint32_t key = PORT_IFINDEX;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	put_backend_on(LO_IFINDEX);
	put_flow(cport, LB_FLOW_BOUND);
	ck_assert_int_eq(bpf_map_delete_elem(bpf_map__fd(skel->maps.ifaces), &key), 0);
	len = backend_segment(frame, cport, 0x11);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_DROP);
	assert_counted(&r, LB_XDP_DROP_NO_TX_PORT);
	add_port(PORT_IFINDEX, port_mac);
	del_flow(cport);
}
END_TEST

/* ---- per-request binding: the next request, moving flows, probe answers ---- */

/* A client segment of @cport's flow at @seq with @n bytes of payload (timestamps on). */
static size_t client_segment_at(uint8_t *frame, uint16_t cport, uint8_t flags, uint32_t seq,
				size_t n)
{
	static const uint8_t ts[] = { NOP, NOP, 8, 10, 0, 0, 0x10, 0, 0, 0, 0x20, 0 };
	static uint8_t payload[1400];
	struct pkt_spec p = client_pkt(flags);

	memset(payload, 'r', sizeof(payload));
	ck_assert_uint_le(n, sizeof(payload));
	p.sport = cport;
	p.seq = seq;
	p.ack = SERVER_ISN + 1 + 5000;
	p.opts = ts;
	p.optlen = sizeof(ts);
	p.payload = payload;
	p.paylen = n;
	return pkt_build_tcp(frame, &p);
}

/* A bound flow as the dispatcher leaves it after a request: @flags and @req_end. */
static void put_flow_requests(uint16_t cport, uint32_t state, uint8_t flags, uint32_t req_end)
{
	struct lb_flow_key k = flow_key(cport);
	struct lb_flow f;

	put_flow(cport, state);
	f = get_flow(cport);
	f.flags = flags;
	f.req_end = req_end;
	/* Past the client's ACK (SERVER_ISN + 1 + 5000): a moving flow's client has
	 * not acknowledged anything of the new backend's yet. */
	f.srv_seq = SERVER_ISN + 1 + 6000;
	f.binds = 1;
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f, BPF_EXIST), 0);
}

/* @cport's flow has not moved: as put_flow_requests() left it, its backend's counts too. */
static void assert_flow_untouched(uint16_t cport, uint32_t state, uint8_t flags, uint32_t req_end)
{
	struct lb_flow f = get_flow(cport);
	struct lb_backend b = get_backend();

	ck_assert_uint_eq(f.state, state);
	ck_assert_uint_eq(f.backend, BACKEND_IDX);
	ck_assert_mem_eq(f.backend_mac, backend_mac, 6);
	ck_assert_uint_eq(f.flags, flags);
	ck_assert_uint_eq(f.req_end, req_end);
	ck_assert_uint_eq(f.srv_seq, SERVER_ISN + 1 + 6000);
	ck_assert_uint_eq(f.binds, 1);
	ck_assert_uint_eq(f.packets, 10);
	ck_assert_uint_eq(f.bytes, 1000);
	ck_assert_uint_eq(b.active, ACTIVE_START);
	ck_assert_uint_eq(b.packets, backend_start.packets);
	ck_assert_uint_eq(b.bytes, backend_start.bytes);
}

#define SEG_SEQ (CISN + 1 + 77)

struct next_case {
	const char *name;
	uint8_t flow_flags; /* lb_flow.flags */
	uint32_t seq;	    /* 0: SEG_SEQ */
	size_t paylen;
	int32_t end_off;    /* req_end = seq + paylen + end_off */
	uint8_t tcp_flags;
	bool up;	    /* to the dispatcher: the next request */
	bool closes;
};

static const struct next_case next_cases[] = {
	{ "ends before req_end", LB_FLOW_F_REQUESTS, 0, 100, 10, 0x18, false, false },
	{ "ends exactly at req_end", LB_FLOW_F_REQUESTS, 0, 100, 0, 0x18, false, false },
	{ "a retransmission far behind req_end", LB_FLOW_F_REQUESTS, 0, 100, 100000, 0x18, false,
	  false },
	{ "one byte past req_end", LB_FLOW_F_REQUESTS, 0, 100, -1, 0x18, true, false },
	{ "starts at req_end (the next request)", LB_FLOW_F_REQUESTS, 0, 100, -100, 0x18, true,
	  false },
	{ "starts past req_end", LB_FLOW_F_REQUESTS, 0, 100, -1000, 0x10, true, false },
	{ "a full segment past req_end", LB_FLOW_F_REQUESTS, 0, 1400, -1400, 0x10, true, false },
	{ "bare ACK past req_end", LB_FLOW_F_REQUESTS, 0, 0, -500, 0x10, false, false },
	/* A FIN or RST ends the connection where it is bound, data or not. */
	{ "FIN|PSH|ACK with data past req_end", LB_FLOW_F_REQUESTS, 0, 100, -100, 0x19, false,
	  true },
	{ "bare FIN|ACK past req_end", LB_FLOW_F_REQUESTS, 0, 0, -1, 0x11, false, true },
	{ "RST|ACK with data past req_end", LB_FLOW_F_REQUESTS, 0, 20, -20, 0x14, false, true },
	/* Without the flag req_end means nothing: all of it goes to the bound backend. */
	{ "no flag: data past req_end", 0, 0, 100, -100, 0x18, false, false },
	{ "only the timestamps flag: data past req_end", LB_FLOW_F_TS, 0, 100, -100, 0x18, false,
	  false },
	/* Sequence numbers wrap: the comparison is modulo 2^32. */
	{ "ends at req_end across the wrap", LB_FLOW_F_REQUESTS, 0xfffffff0u, 16, 0, 0x18, false,
	  false },
	{ "one byte past req_end across the wrap", LB_FLOW_F_REQUESTS, 0xfffffff0u, 16, -1, 0x18,
	  true, false },
	{ "starts before req_end 0, ends past it", LB_FLOW_F_REQUESTS, 0xfffffff0u, 32, -16, 0x18,
	  true, false },
};

/*
 * A bound flow whose requests end at req_end: a client segment whose payload
 * ends there or before goes the fast path; one that reaches past it carries
 * the next request, the dispatcher's (an AF_XDP socket stands in for it).
 */
START_TEST(test_next_request)
{
	const struct next_case *tc = &next_cases[_i];
	const uint16_t cport = 41600 + _i;
	uint32_t seq = tc->seq ? tc->seq : SEG_SEQ;
	uint32_t req_end = seq + (uint32_t)tc->paylen + (uint32_t)tc->end_off;
	struct test_xsk x;
	uint8_t frame[PKT_MAX];
	struct lb_flow f;
	struct run r;
	size_t len;

	test_xsk_open(&x, bpf_map__fd(skel->maps.xsks));
	put_backend();
	put_flow_requests(cport, LB_FLOW_BOUND, tc->flow_flags, req_end);
	len = client_segment_at(frame, cport, tc->tcp_flags, seq, tc->paylen);
	run_frame(frame, len, &r);
	test_xsk_close(&x);

	if (tc->up) {
		ck_assert_msg(r.action == XDP_REDIRECT, "%s: action %d", tc->name, r.action);
		assert_counted(&r, LB_XDP_REDIRECT_NEXT_REQUEST);
		/* Up as it came, the flow and the backend's counts untouched. */
		ck_assert_uint_eq(r.out_len, len);
		ck_assert_mem_eq(r.out, frame, len);
		assert_flow_untouched(cport, LB_FLOW_BOUND, tc->flow_flags, req_end);
	} else {
		ck_assert_msg(r.action == XDP_TX, "%s: action %d", tc->name, r.action);
		assert_counted(&r, LB_XDP_TX_FAST_PATH);
		assert_tx_rewritten(&r, frame, len, backend_mac);
		f = get_flow(cport);
		ck_assert_uint_eq(f.state, tc->closes ? LB_FLOW_CLOSING : LB_FLOW_BOUND);
		ck_assert_uint_eq(f.req_end, req_end);
		ck_assert_uint_eq(f.flags, tc->flow_flags);
		ck_assert_uint_eq(f.packets, 10 + 1);
		ck_assert_uint_eq(get_backend().active, ACTIVE_START - tc->closes);
		ck_assert_uint_eq(get_backend().packets, backend_start.packets + 1);
	}
	del_flow(cport);
}
END_TEST

/* The same without a dispatcher on the queue: dropped and counted as such, nothing else moves. */
START_TEST(test_next_request_no_dispatcher)
{
	const uint16_t cport = 41650;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	put_backend();
	put_flow_requests(cport, LB_FLOW_BOUND, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS, SEG_SEQ);
	len = client_segment_at(frame, cport, 0x18, SEG_SEQ, 50);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_DROP);
	assert_counted(&r, LB_XDP_DROP_NO_XSK);
	assert_flow_untouched(cport, LB_FLOW_BOUND, LB_FLOW_F_REQUESTS | LB_FLOW_F_TS, SEG_SEQ);
	del_flow(cport);
}
END_TEST

/*
 * A moving flow (re-bound to a cookie-mode backend that has not shown it
 * adopted the connection): every client packet is the dispatcher's, whatever
 * it carries; a FIN or RST closes nothing here.
 */
static const struct {
	const char *name;
	uint8_t flags;
	size_t paylen;
} moving_cases[] = {
	{ "data", 0x18, 100 },
	{ "bare ACK", 0x10, 0 },
	{ "FIN|ACK", 0x11, 0 },
	{ "FIN|PSH|ACK with data", 0x19, 30 },
	{ "RST|ACK", 0x14, 0 },
	{ "RST", 0x04, 0 },
};

START_TEST(test_moving_client)
{
	const uint16_t cport = 41700 + _i;
	const uint32_t req_end = SEG_SEQ + 1000; /* before it or not, all goes up */
	struct test_xsk x;
	uint8_t frame[PKT_MAX];
	struct run r, nx;
	size_t len;

	put_backend();
	put_flow_requests(cport, LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, req_end);
	len = client_segment_at(frame, cport, moving_cases[_i].flags, SEG_SEQ,
				moving_cases[_i].paylen);
	/* No dispatcher on the queue first, then one. */
	run_frame(frame, len, &nx);
	test_xsk_open(&x, bpf_map__fd(skel->maps.xsks));
	run_frame(frame, len, &r);
	test_xsk_close(&x);

	ck_assert_int_eq(nx.action, XDP_DROP);
	assert_counted(&nx, LB_XDP_DROP_NO_XSK);
	ck_assert_msg(r.action == XDP_REDIRECT, "%s: action %d", moving_cases[_i].name, r.action);
	assert_counted(&r, LB_XDP_REDIRECT_MOVING);
	ck_assert_uint_eq(r.out_len, len);
	ck_assert_mem_eq(r.out, frame, len);
	assert_flow_untouched(cport, LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, req_end);
	del_flow(cport);
}
END_TEST

/*
 * Which redirect to the dispatcher each kind of packet gets, with a socket on
 * the queue: the reasons tell the operator why packets went up.
 */
enum up_kind { UP_CLIENT, UP_BACKEND, UP_ANSWER };

static const struct {
	const char *name;
	uint32_t state;
	uint8_t flow_flags;
	enum up_kind who;
	uint8_t flags;
	enum lb_xdp_reason reason;
} up_cases[] = {
	{ "client data, flow being collected", LB_FLOW_DISPATCH, 0, UP_CLIENT, 0x18,
	  LB_XDP_REDIRECT_DISPATCH },
	{ "client data, replaying flow", LB_FLOW_REPLAY, 0, UP_CLIENT, 0x18,
	  LB_XDP_REDIRECT_DISPATCH },
	{ "client data, moving flow", LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, UP_CLIENT, 0x18,
	  LB_XDP_REDIRECT_MOVING },
	{ "client data past req_end, bound flow", LB_FLOW_BOUND, LB_FLOW_F_REQUESTS, UP_CLIENT, 0x18,
	  LB_XDP_REDIRECT_NEXT_REQUEST },
	{ "backend SYN|ACK, replaying flow", LB_FLOW_REPLAY, 0, UP_BACKEND, 0x12,
	  LB_XDP_REDIRECT_REPLAY },
	{ "probe answer, bound flow", LB_FLOW_BOUND, LB_FLOW_F_REQUESTS, UP_ANSWER, 0x10,
	  LB_XDP_REDIRECT_PROBE_ANSWER },
	{ "probe answer, moving flow", LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, UP_ANSWER, 0x10,
	  LB_XDP_REDIRECT_PROBE_ANSWER },
	{ "probe answer, replaying flow", LB_FLOW_REPLAY, 0, UP_ANSWER, 0x10,
	  LB_XDP_REDIRECT_PROBE_ANSWER },
};

START_TEST(test_to_dispatcher_reasons)
{
	const uint16_t cport = 41750 + _i;
	const uint8_t flow_flags = up_cases[_i].flow_flags;
	struct test_xsk x;
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	put_backend();
	/* req_end at the segment's first byte: its data is the next request. */
	put_flow_requests(cport, up_cases[_i].state, flow_flags, SEG_SEQ);
	if (up_cases[_i].who == UP_CLIENT) {
		len = client_segment_at(frame, cport, up_cases[_i].flags, SEG_SEQ, 64);
	} else {
		len = backend_segment(frame, cport, up_cases[_i].flags);
		if (up_cases[_i].who == UP_ANSWER)
			make_notice(frame, len);
	}
	test_xsk_open(&x, bpf_map__fd(skel->maps.xsks));
	run_frame(frame, len, &r);
	test_xsk_close(&x);

	ck_assert_msg(r.action == XDP_REDIRECT, "%s: action %d", up_cases[_i].name, r.action);
	assert_counted(&r, up_cases[_i].reason);
	ck_assert_uint_eq(r.out_len, len);
	ck_assert_mem_eq(r.out, frame, len);
	assert_flow_untouched(cport, up_cases[_i].state, flow_flags, SEG_SEQ);
	del_flow(cport);
}
END_TEST

/*
 * A moving flow settles on the first packet from its new backend's MAC that is
 * not a probe answer: bound from then on (its count was moved by the
 * re-bind, so it stays), and closed like any bound flow, once.
 */
static const struct {
	const char *name;
	uint8_t flags;
	bool notice;
	int action;
	enum lb_xdp_reason reason;
	int closes;
} settle_cases[] = {
	{ "ACK", 0x10, false, XDP_TX, LB_XDP_TX_DIVERTED, 0 },
	{ "FIN|ACK", 0x11, false, XDP_TX, LB_XDP_TX_DIVERTED, 1 },
	{ "FIN notice", 0x19, true, XDP_DROP, LB_XDP_DROP_FIN_NOTICE, 1 },
};

START_TEST(test_moving_settles)
{
	const uint16_t cport = 41800 + _i;
	uint8_t frame[PKT_MAX];
	struct lb_flow f;
	struct run r;
	size_t len;

	put_backend();
	put_flow_requests(cport, LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, SEG_SEQ + 100);

	/* Another MAC first: nothing settles. */
	len = backend_segment(frame, cport, 0x10);
	frame[11] ^= 0x01;
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_DROP_DIVERT_NOT_BACKEND);
	ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_MOVING);

	len = backend_segment(frame, cport, settle_cases[_i].flags);
	if (settle_cases[_i].notice)
		make_notice(frame, len);
	run_frame(frame, len, &r);
	ck_assert_msg(r.action == settle_cases[_i].action, "%s: action %d", settle_cases[_i].name,
		      r.action);
	assert_counted(&r, settle_cases[_i].reason);
	if (r.action == XDP_TX)
		assert_tx_rewritten(&r, frame, len, client_hop_mac);
	f = get_flow(cport);
	ck_assert_uint_eq(f.state, settle_cases[_i].closes ? LB_FLOW_CLOSING : LB_FLOW_BOUND);
	ck_assert_uint_eq(f.req_end, SEG_SEQ + 100);
	ck_assert_uint_eq(f.flags, LB_FLOW_F_REQUESTS);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - settle_cases[_i].closes);
	ck_assert_uint_eq(get_backend().handoff_resets, 0);

	/* Bound now: the client's request goes the fast path, its FIN closes the flow once. */
	len = client_segment_at(frame, cport, 0x18, SEG_SEQ, 100);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	assert_tx_rewritten(&r, frame, len, backend_mac);
	len = client_segment_at(frame, cport, 0x11, SEG_SEQ + 100, 0);
	run_frame(frame, len, &r);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	ck_assert_uint_eq(get_flow(cport).state, LB_FLOW_CLOSING);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START - 1);
	del_flow(cport);
}
END_TEST

/*
 * A reset from the backend a connection is moving to is its refusal: the
 * dispatcher's (another holder, or its 503), so nothing settles or closes here.
 */
START_TEST(test_moving_refused)
{
	const uint16_t cport = 41850;
	uint8_t frame[PKT_MAX];
	struct test_xsk x;
	struct run r;
	size_t len;

	put_backend();
	put_flow_requests(cport, LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, SEG_SEQ + 100);
	len = backend_segment(frame, cport, 0x04);
	test_xsk_open(&x, bpf_map__fd(skel->maps.xsks));
	run_frame(frame, len, &r);
	test_xsk_close(&x);
	ck_assert_int_eq(r.action, XDP_REDIRECT);
	assert_counted(&r, LB_XDP_REDIRECT_MOVING);
	assert_flow_untouched(cport, LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, SEG_SEQ + 100);
	del_flow(cport);
}
END_TEST

/*
 * The client's ACK past the server's side of the move acknowledges the new
 * backend's bytes: XDP makes the flow bound itself and forwards the segment.
 */
START_TEST(test_moving_client_ack_settles)
{
	const uint16_t cport = 41860;
	uint8_t frame[PKT_MAX];
	struct lb_flow_key k = flow_key(cport);
	struct lb_flow f;
	struct run r;
	size_t len;

	put_backend();
	put_flow_requests(cport, LB_FLOW_MOVING, LB_FLOW_F_REQUESTS, SEG_SEQ + 100);
	f = get_flow(cport);
	f.srv_seq = SERVER_ISN + 1 + 4000; /* the client's ACK is 1000 past it */
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(skel->maps.flows_v3), &k, &f, BPF_EXIST), 0);
	len = client_segment_at(frame, cport, 0x10, SEG_SEQ, 0);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_TX);
	assert_counted(&r, LB_XDP_TX_FAST_PATH);
	assert_tx_rewritten(&r, frame, len, backend_mac);
	f = get_flow(cport);
	ck_assert_uint_eq(f.state, LB_FLOW_BOUND);
	ck_assert_uint_eq(get_backend().active, ACTIVE_START);
	del_flow(cport);
}
END_TEST

/*
 * A frame to another host's MAC (a promiscuous port, a switch flooding after
 * its entry aged out: another balancer's traffic) is not forwarded: passed to
 * the stack, which drops it as not its own. Broadcast and multicast go on.
 */
START_TEST(test_other_host_passed)
{
	static const uint8_t other[6] = { 0x02, 0, 0, 0, 0x02, 0x03 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	struct pkt_spec s = client_pkt(0x02);
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t len;

	len = pkt_build_tcp(frame, &s);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_TX);
	assert_counted(&r, LB_XDP_TX_SYNACK);

	memcpy(s.dst_mac, other, 6);
	len = pkt_build_tcp(frame, &s);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_PASS);
	assert_counted(&r, LB_XDP_PASS_OTHER_HOST);

	memcpy(s.dst_mac, bcast, 6);
	len = pkt_build_tcp(frame, &s);
	run_frame(frame, len, &r);
	ck_assert_int_eq(r.action, XDP_TX);
	assert_counted(&r, LB_XDP_TX_SYNACK);
}
END_TEST

Suite *balancer_suite(void)
{
	Suite *s = suite_create("balancer_xdp");
	TCase *tc = tcase_create("packets");
	TCase *side = tcase_create("backend-side interface");
	TCase *mac = tcase_create("our MAC checked");

	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_add_loop_test(tc, test_syn_answered, 0, sizeof(syn_cases) / sizeof(syn_cases[0]));
	tcase_add_test(tc, test_syn_retransmit_same_cookie);
	tcase_add_loop_test(tc, test_ack_verdicts, 0, sizeof(ack_cases) / sizeof(ack_cases[0]));
	tcase_add_test(tc, test_known_flow_goes_to_dispatcher);
	tcase_add_loop_test(tc, test_bad_and_foreign, 0, sizeof(bad_cases) / sizeof(bad_cases[0]));
	tcase_add_test(tc, test_fast_path);
	tcase_add_loop_test(tc, test_syn_on_known_flow, 0, sizeof(reuse_cases) / sizeof(reuse_cases[0]));
	tcase_add_loop_test(tc, test_close_exactly_once, 0, sizeof(closers) / sizeof(closers[0]));
	tcase_add_loop_test(tc, test_diverted, 0, sizeof(divert_cases) / sizeof(divert_cases[0]));
	tcase_add_test(tc, test_handoff_reset_counted);
	tcase_add_test(tc, test_client_reset_after_backend_rst);
	tcase_add_loop_test(tc, test_fast_path_ports, 0, sizeof(port_cases) / sizeof(port_cases[0]));
	tcase_add_loop_test(tc, test_local_egress, 0, sizeof(local_cases) / sizeof(local_cases[0]));
	tcase_add_loop_test(tc, test_next_request, 0, sizeof(next_cases) / sizeof(next_cases[0]));
	tcase_add_test(tc, test_next_request_no_dispatcher);
	tcase_add_loop_test(tc, test_moving_client, 0, sizeof(moving_cases) / sizeof(moving_cases[0]));
	tcase_add_loop_test(tc, test_to_dispatcher_reasons, 0, sizeof(up_cases) / sizeof(up_cases[0]));
	tcase_add_loop_test(tc, test_moving_settles, 0, sizeof(settle_cases) / sizeof(settle_cases[0]));
	tcase_add_test(tc, test_moving_refused);
	tcase_add_test(tc, test_moving_client_ack_settles);
	suite_add_tcase(s, tc);
	tcase_add_unchecked_fixture(side, setup_backend_side, teardown);
	tcase_add_test(side, test_diverted_backend_side);
	tcase_add_test(side, test_diverted_backend_side_no_port);
	suite_add_tcase(s, side);
	tcase_add_unchecked_fixture(mac, setup_mac_checked, teardown);
	tcase_add_test(mac, test_other_host_passed);
	suite_add_tcase(s, mac);
	return s;
}
