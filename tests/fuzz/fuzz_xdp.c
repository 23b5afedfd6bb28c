// SPDX-License-Identifier: GPL-2.0
/*
 * Packet fuzzer of the balancer's XDP program (bpf/balancer.bpf.c): the real
 * object, loaded from its skeleton as tests/bpf/test_balancer.c does, run on
 * each input frame with BPF_PROG_TEST_RUN. Needs root.
 *
 * A plain libFuzzer target, without ASan/UBSan: the program runs in the kernel,
 * where they cannot look (the verifier is its bounds checker), and the harness
 * is small. libFuzzer's coverage sees only the harness, so the program's own
 * path is fed back as extra counters: which verdict reason moved, with which
 * TCP flags, for which of the harness's address templates, and the shape of
 * the SYN/ACK built. That is what makes mutations reach deeper branches.
 *
 * Set-up: VIP 192.0.2.80 with port 80 (http mode) and 8025 (tcp mode), a
 * cookie secret, and four flows restored before every frame: 40001 bound to a
 * backend, 40002 at the dispatcher, 40003 closing, 40004 bound on the tcp-mode
 * port. No AF_XDP socket: what would go to the dispatcher is dropped (no_xsk).
 *
 * Input: one control byte, then the frame.
 *   bits 2..4  address template: 0 as is; 1 a new client to VIP:80; 2, 3, 4
 *              the bound, dispatching, closing flow; 5 the bound flow's backend
 *              diverting to its client (VIP source, backend MAC); 6 the
 *              tcp-mode port; 7 a destination that is no VIP
 *   bit 5      IPv4 total length set to the frame's
 *   bit 6      the closing flow was closed by its backend's RST (LB_FLOW_F_RESET)
 *   bit 0      acknowledgement set to a valid cookie for the frame's tuple, ISN
 *              and option bits (now), so the cookie-valid paths are reached
 *   bit 1      IPv4 and TCP checksums made valid
 *
 * Invariants (checked from a parse of the input written here, not the program's):
 *   - a frame neither to nor from the VIP address, and anything not IPv4/TCP:
 *     XDP_PASS or XDP_DROP, and the output is the input, byte for byte;
 *   - XDP_PASS never changes a byte;
 *   - XDP_TX only as
 *       a SYN/ACK answering a SYN (no ACK/FIN/RST) to a VIP port that has no
 *       live flow: from the VIP:port to the client, MACs swapped, ack = ISN + 1,
 *       valid IPv4 and TCP checksums, lengths consistent, and a cookie that
 *       lb_cookie_check() (userspace, same header) accepts;
 *       the fast path of a bound or closing flow: only the MACs change, to the
 *       flow's backend from the balancer's;
 *       a diverted segment from the VIP, from the flow's backend's MAC, of a
 *       bound or closing flow: only the MACs change, to the client's hop;
 *       a client segment with ACK and without RST on a closing flow its
 *       backend reset: a RST back to the client at the segment's ack, nothing
 *       else in it;
 *     so every XDP_TX output has valid checksums when the input had;
 *   - exactly one verdict counter moves, by one;
 *   - the bound flow only goes to closing on a FIN or RST that was sent on,
 *     or on a FIN notice (headers/fin_notice.h: a FIN with the IPv4 notice
 *     flag, from the VIP), which is dropped;
 *   - known bug B5: a SYN to the VIP address's port 0 is answered.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "balancer.skel.h"
#include "cookie.h"
#include "fuzz_common.h"
#include "maps.h"
#include "packet.h"
#include "stats.h"

#define XDP_DROP_ 1
#define XDP_PASS_ 2
#define XDP_TX_	  3

#define VPORT	  80
#define TCP_PORT  8025
#define FRAME_MAX 1600

static const uint8_t lb_mac[6] = { 0x02, 0, 0, 0, 0x02, 0x02 };
static const uint8_t hop_mac[6] = { 0x02, 0, 0, 0, 0x01, 0x01 };
static const uint8_t be_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x0b };

static struct balancer *skel;
static int prog_fd, flows_fd, stats_fd, ncpu;
static uint32_t vip, client, other;

static const struct lb_cookie_secret secret = {
	.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
	.period_s = 64,
	.windows = 2,
};

struct flowdef {
	uint16_t cport, vport;
	uint32_t state;
};

static const struct flowdef flowdefs[] = {
	{ 40001, VPORT, LB_FLOW_BOUND },
	{ 40002, VPORT, LB_FLOW_DISPATCH },
	{ 40003, VPORT, LB_FLOW_CLOSING },
	{ 40004, TCP_PORT, LB_FLOW_BOUND },
	{ 40005, VPORT, LB_FLOW_REPLAY }, /* waiting for a replay-mode SYN/ACK */
};
#define N_FLOWS (sizeof(flowdefs) / sizeof(flowdefs[0]))

/* The program's path, as coverage: libFuzzer reads this section after each run. */
#define COV_REASON 0
#define COV_TMPL   (COV_REASON + LB_XDP_REASON_MAX * 16)
#define COV_SYNACK (COV_TMPL + 8 * 8)
#define COV_SIZE   (COV_SYNACK + 64)
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t cov[COV_SIZE];

static uint64_t stats_prev[LB_XDP_REASON_MAX];

static void wr16be(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = (uint8_t)v;
}

static void wr32be(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static struct lb_flow_key flow_key(uint16_t cport, uint16_t vport)
{
	struct lb_flow_key k = { .saddr = client, .daddr = vip, .sport = htons(cport),
				 .dport = htons(vport), .proto = IPPROTO_TCP };
	return k;
}

/* @reset: the closing flow's backend reset it. */
static void put_flows(bool reset)
{
	for (size_t i = 0; i < N_FLOWS; i++) {
		struct lb_flow_key k = flow_key(flowdefs[i].cport, flowdefs[i].vport);
		struct lb_flow f = { .state = flowdefs[i].state, .backend = 1, .packets = 10 };

		if (reset && f.state == LB_FLOW_CLOSING)
			f.flags = LB_FLOW_F_RESET;
		memcpy(f.backend_mac, be_mac, 6);
		memcpy(f.client_hop_mac, hop_mac, 6);
		CHECK(!bpf_map_update_elem(flows_fd, &k, &f, BPF_ANY), "flows update: %s",
		      strerror(errno));
	}
}

/* Per-reason packet counts summed over CPUs, one batch syscall. */
static void read_stats(uint64_t *out)
{
	static struct lb_counter *vals;
	static uint32_t keys[LB_XDP_REASON_MAX];
	static bool no_batch;
	uint32_t count = LB_XDP_REASON_MAX, r;
	LIBBPF_OPTS(bpf_map_batch_opts, opts);

	if (!vals)
		vals = calloc((size_t)ncpu * LB_XDP_REASON_MAX, sizeof(*vals));
	if (no_batch || bpf_map_lookup_batch(stats_fd, NULL, &r, keys, vals, &count, &opts) ||
	    count != LB_XDP_REASON_MAX) {
		no_batch = true;
		for (r = 0; r < LB_XDP_REASON_MAX; r++) {
			keys[r] = r;
			CHECK(!bpf_map_lookup_elem(stats_fd, &r, vals + (size_t)r * ncpu),
			      "stats lookup: %s", strerror(errno));
		}
	}
	for (r = 0; r < LB_XDP_REASON_MAX; r++) {
		out[keys[r]] = 0;
		for (int c = 0; c < ncpu; c++)
			out[keys[r]] += vals[(size_t)r * ncpu + c].packets;
	}
}

static void add_vip(uint16_t port, uint32_t mode)
{
	struct lb_vip_key k = { .addr = vip, .port = htons(port), .proto = IPPROTO_TCP };
	struct lb_vip v = { .mode = mode };
	int fd = bpf_map__fd(skel->maps.vips);

	CHECK(!bpf_map_update_elem(fd, &k, &v, 0), "vips update: %s", strerror(errno));
	k.port = 0;
	CHECK(!bpf_map_update_elem(fd, &k, &v, 0), "vips update: %s", strerror(errno));
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct lb_backend b = { .weight = 1, .state = LB_BACKEND_UP, .active = 1000 };
	uint32_t k = 0;
	cpu_set_t cpus;

	if (geteuid() != 0) {
		fprintf(stderr, "fuzz_xdp: loading BPF programs needs root\n");
		exit(1);
	}
	/* One CPU: the per-CPU counters then move where we look first. */
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	libbpf_set_print(NULL);

	inet_pton(AF_INET, "192.0.2.80", &vip);
	inet_pton(AF_INET, "203.0.113.10", &client);
	inet_pton(AF_INET, "198.51.100.99", &other);
	ncpu = libbpf_num_possible_cpus();
	CHECK(ncpu > 0, "libbpf_num_possible_cpus: %d", ncpu);

	skel = balancer__open();
	CHECK(skel, "open balancer skeleton: %s", strerror(errno));
	bpf_map__set_max_entries(skel->maps.flows_v3, 64);
	skel->rodata->cfg_mss = 1400;
	skel->rodata->cfg_wscale = 7;
	CHECK(!balancer__load(skel), "load balancer: %s", strerror(errno));
	prog_fd = bpf_program__fd(skel->progs.lb_xdp);
	flows_fd = bpf_map__fd(skel->maps.flows_v3);
	stats_fd = bpf_map__fd(skel->maps.stats);

	CHECK(!bpf_map_update_elem(bpf_map__fd(skel->maps.cookie_secret), &k, &secret, 0),
	      "secret: %s", strerror(errno));
	add_vip(VPORT, LB_VIP_HTTP);
	add_vip(TCP_PORT, LB_VIP_TCP);
	memcpy(b.mac, be_mac, 6);
	for (k = 0; k < 2; k++)
		CHECK(!bpf_map_update_elem(bpf_map__fd(skel->maps.backends), &k, &b, 0),
		      "backends: %s", strerror(errno));
	put_flows(false);
	read_stats(stats_prev);
	return 0;
}

/* The harness's rewriting of the frame (see the top comment). */
static void apply_template(uint8_t *f, size_t len, unsigned t)
{
	uint32_t sa = client, da = vip;
	uint16_t sp = 40000, dp = VPORT;

	if (!t || len < 14 + 20 + 4)
		return;
	wr16be(f + 12, 0x0800);
	memcpy(f, lb_mac, 6);
	memcpy(f + 6, hop_mac, 6);
	switch (t) {
	case 2: sp = 40001; break;
	case 3: sp = 40002; break;
	case 4: sp = 40003; break;
	case 5:
		sa = vip;
		da = client;
		sp = VPORT;
		dp = 40001;
		memcpy(f + 6, be_mac, 6);
		break;
	case 6: sp = 40005; dp = TCP_PORT; break;
	case 7: da = other; break;
	}
	memcpy(f + 26, &sa, 4);
	memcpy(f + 30, &da, 4);
	/* The ports sit after the IPv4 header, whatever its length says. */
	{
		size_t ihl = (size_t)(f[14] & 15) * 4;

		if (ihl < 20)
			ihl = 20;
		if (14 + ihl + 4 <= len) {
			wr16be(f + 14 + ihl, sp);
			wr16be(f + 14 + ihl + 2, dp);
		}
	}
}

struct in {
	bool ipv4, tcp;
	uint32_t saddr, daddr;
	uint8_t ihl, flags;
	uint16_t frag, tot, sport, dport;
	uint32_t seq, ack;
};

static void parse_in(const uint8_t *f, size_t len, struct in *p)
{
	memset(p, 0, sizeof(*p));
	if (len < 14 + 20 || rd16be(f + 12) != 0x0800)
		return;
	p->ipv4 = true;
	p->ihl = f[14] & 15;
	p->tot = rd16be(f + 16);
	p->frag = rd16be(f + 20);
	memcpy(&p->saddr, f + 26, 4);
	memcpy(&p->daddr, f + 30, 4);
	if (f[23] != IPPROTO_TCP || len < 14 + 20 + 20)
		return;
	p->tcp = true;
	/* What the program reads: the TCP header right after 20 bytes of IPv4. */
	p->sport = rd16be(f + 34);
	p->dport = rd16be(f + 36);
	p->seq = rd32be(f + 38);
	p->ack = rd32be(f + 42);
	p->flags = f[47];
}

/* Which of our flows does this client → VIP tuple hit (and in what state before the run)? */
static const struct flowdef *our_flow(uint32_t saddr, uint32_t daddr, uint16_t sport, uint16_t dport)
{
	if (saddr != client || daddr != vip)
		return NULL;
	for (size_t i = 0; i < N_FLOWS; i++)
		if (flowdefs[i].cport == sport && flowdefs[i].vport == dport)
			return &flowdefs[i];
	return NULL;
}

static bool only_macs_changed(const uint8_t *in, const uint8_t *out, size_t len, size_t out_len,
			      const uint8_t *dst, const uint8_t *src)
{
	return out_len == len && !memcmp(out, dst, 6) && !memcmp(out + 6, src, 6) &&
	       !memcmp(out + 12, in + 12, len - 12);
}

/* The balancer's RST for a client segment after its backend's (XDP reset_client). */
static void check_client_reset(const uint8_t *in, const struct in *p, const uint8_t *out,
			       size_t out_len)
{
	struct lb_segment s;

	CHECK(out_len == 14 + 20 + 20 && !lb_segment_parse(out, out_len, &s),
	      "reset of %zu bytes that does not parse", out_len);
	CHECK(!lb_frame_check_csums(out, out_len), "reset with a bad checksum");
	CHECK(s.flags == LB_TH_RST && s.seq == p->ack && !s.len,
	      "client reset with flags %#x, seq %u for ack %u, %u bytes", s.flags, s.seq, p->ack,
	      s.len);
	CHECK(s.saddr == p->daddr && s.daddr == p->saddr && s.sport == htons(p->dport) &&
		      s.dport == htons(p->sport),
	      "client reset not the segment's tuple reversed");
	CHECK(!memcmp(s.dst_mac, in + 6, 6) && !memcmp(s.src_mac, in, 6),
	      "client reset MACs not swapped");
}

static void check_synack(const uint8_t *in, size_t len, const struct in *p, const uint8_t *out,
			 size_t out_len)
{
	struct lb_segment s;
	struct lb_cookie_tuple t = { p->saddr, p->daddr, htons(p->sport), htons(p->dport) };
	struct lb_cookie_opts o;
	size_t doff;

	CHECK(!lb_segment_parse(out, out_len, &s), "SYN/ACK that does not parse (%zu bytes)", out_len);
	CHECK(!lb_frame_check_csums(out, out_len), "SYN/ACK with a bad checksum");
	CHECK(rd16be(out + 16) == out_len - 14, "SYN/ACK tot_len %u for %zu bytes", rd16be(out + 16),
	      out_len);
	CHECK((s.flags & ~LB_TH_ECE) == (LB_TH_SYN | LB_TH_ACK), "TX of flags %#x as a SYN/ACK",
	      s.flags);
	CHECK(!(s.flags & LB_TH_ECE) == !((p->flags & 0xc0) == 0xc0), "ECE %#x for SYN flags %#x",
	      s.flags, p->flags);
	CHECK(s.saddr == p->daddr && s.daddr == p->saddr && s.sport == htons(p->dport) &&
		      s.dport == htons(p->sport),
	      "SYN/ACK not the SYN's tuple reversed");
	CHECK(!memcmp(s.dst_mac, in + 6, 6) && !memcmp(s.src_mac, in, 6), "SYN/ACK MACs not swapped");
	CHECK(s.ack == p->seq + 1, "SYN/ACK ack %u for ISN %u", s.ack, p->seq);
	CHECK(!lb_cookie_check(&secret, &t, p->seq, s.seq, tai_now(), &o),
	      "SYN/ACK cookie %08x that userspace does not accept", s.seq);
	doff = (size_t)(out[14 + 20 + 12] >> 4) * 4;
	CHECK(doff >= 24 && out_len == 14 + 20 + doff, "SYN/ACK of %zu bytes, doff %zu", out_len, doff);
	cov[COV_SYNACK + ((doff - 20) / 4) * 8 + (s.has_ts ? 4 : 0) + o.mss / 500 % 4]++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[FRAME_MAX], out[FRAME_MAX + 256];
	uint64_t now_stats[LB_XDP_REASON_MAX];
	uint8_t ctl;
	size_t len;
	unsigned tmpl;
	int moved = -1;
	struct in p;
	bool to_vip, from_vip, in_csum_ok, reset;
	const struct flowdef *fl = NULL;
	struct lb_flow after;
	struct lb_flow_key bk = flow_key(40001, VPORT);
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (size < 1 + 14 || size > 1 + FRAME_MAX)
		return 0; /* the kernel refuses frames shorter than Ethernet: not a case */
	ctl = data[0];
	len = size - 1;
	memcpy(in, data + 1, len);
	tmpl = (ctl >> 2) & 7;
	apply_template(in, len, tmpl);
	if ((ctl & 0x20) && len >= 34)
		wr16be(in + 16, (uint16_t)(len - 14));
	if ((ctl & 1) && len >= 54 && rd16be(in + 12) == 0x0800) {
		struct lb_cookie_tuple t;
		uint32_t seq = rd32be(in + 38), ack = rd32be(in + 42);

		memcpy(&t.caddr, in + 26, 4);
		memcpy(&t.vaddr, in + 30, 4);
		memcpy(&t.cport, in + 34, 2);
		memcpy(&t.vport, in + 36, 2);
		wr32be(in + 42, lb_cookie_make(secret.key, &t, seq - 1,
					       lb_cookie_counter(&secret, tai_now()),
					       (ack - 1) & 0xff) + 1);
	}
	if (ctl & 2)
		lb_frame_fix_csums(in, len);
	in_csum_ok = !lb_frame_check_csums(in, len);

	reset = ctl & 0x40;
	put_flows(reset);
	opts.data_in = in;
	opts.data_size_in = (uint32_t)len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	CHECK(!bpf_prog_test_run_opts(prog_fd, &opts), "test run of %zu bytes: %s", len,
	      strerror(errno));

	/* Exactly one counter, by one. */
	read_stats(now_stats);
	for (int r = 0; r < LB_XDP_REASON_MAX; r++) {
		uint64_t d = now_stats[r] - stats_prev[r];

		CHECK(d == 0 || (d == 1 && moved < 0), "counter %s moved by %llu (also: %s)",
		      lb_xdp_reason_names[r], (unsigned long long)d,
		      moved >= 0 ? lb_xdp_reason_names[moved] : "-");
		if (d)
			moved = r;
	}
	memcpy(stats_prev, now_stats, sizeof(stats_prev));
	CHECK(moved >= 0, "no counter moved");
	if (fuzz_verbose())
		fprintf(stderr, "%zu bytes: verdict %d, %s\n", len, (int)opts.retval, lb_xdp_reason_names[moved]);

	parse_in(in, len, &p);
	cov[COV_REASON + moved * 16 + ((p.flags >> 1) & 1) + ((p.flags >> 3) & 2) +
	    ((p.flags & 1) << 2) + ((p.flags & 4) << 1)]++;
	cov[COV_TMPL + tmpl * 8 + (opts.retval & 7)]++;

	CHECK(opts.retval == XDP_PASS_ || opts.retval == XDP_DROP_ || opts.retval == XDP_TX_,
	      "verdict %u (%s)", opts.retval, lb_xdp_reason_names[moved]);
	if (opts.retval == XDP_PASS_)
		CHECK(opts.data_size_out == len && !memcmp(out, in, len),
		      "XDP_PASS changed the frame (%s)", lb_xdp_reason_names[moved]);

	to_vip = p.ipv4 && p.daddr == vip;
	from_vip = p.ipv4 && p.saddr == vip && !to_vip;
	if (!p.tcp || (!to_vip && !from_vip)) {
		CHECK(opts.retval != XDP_TX_, "XDP_TX of a frame not to or from a VIP (%s)",
		      lb_xdp_reason_names[moved]);
		CHECK(opts.data_size_out == len && !memcmp(out, in, len),
		      "a frame not for a VIP was changed (%s)", lb_xdp_reason_names[moved]);
	}

	if (opts.retval == XDP_TX_) {
		if (from_vip) {
			fl = our_flow(p.daddr, p.saddr, p.dport, p.sport);
			CHECK(p.ihl == 5 && fl && fl->state != LB_FLOW_DISPATCH &&
				      !memcmp(in + 6, be_mac, 6),
			      "XDP_TX of a frame from the VIP that is no diversion of a live flow "
			      "from its backend (%s)",
			      lb_xdp_reason_names[moved]);
			CHECK(only_macs_changed(in, out, len, opts.data_size_out, hop_mac, in),
			      "a diverted frame changed beyond its MACs");
		} else {
			fl = our_flow(p.saddr, p.daddr, p.sport, p.dport);
			if (fl && reset && fl->state == LB_FLOW_CLOSING && (p.flags & 0x14) == 0x10) {
				check_client_reset(in, &p, out, opts.data_size_out);
			} else if (fl && fl->state != LB_FLOW_DISPATCH &&
			    !(fl->state == LB_FLOW_CLOSING && (p.flags & 0x12) == 0x02)) {
				CHECK(only_macs_changed(in, out, len, opts.data_size_out, be_mac, in),
				      "a fast-path frame changed beyond its MACs");
			} else {
				bool syn = (p.flags & 0x17) == 0x02;

				CHECK(syn && (p.dport == VPORT || p.dport == TCP_PORT),
				      "XDP_TX of a frame that is no SYN to a VIP port, no live "
				      "flow's (flags %#x, %s)",
				      p.flags, lb_xdp_reason_names[moved]);
				check_synack(in, len, &p, out, opts.data_size_out);
			}
		}
		if (in_csum_ok)
			CHECK(!lb_frame_check_csums(out, opts.data_size_out),
			      "XDP_TX broke a valid checksum (%s)", lb_xdp_reason_names[moved]);
	}

	/* The bound flow closes only on a FIN or RST of its own that went on. */
	CHECK(!bpf_map_lookup_elem(flows_fd, &bk, &after), "bound flow gone: %s", strerror(errno));
	if (after.state != LB_FLOW_BOUND && moved == LB_XDP_DROP_FIN_NOTICE)
		CHECK(after.state == LB_FLOW_CLOSING && opts.retval == XDP_DROP &&
			      (p.flags & 0x05) == 0x01 && (rd16be(in + 20) & 0x8000),
		      "bound flow closed by a FIN notice of flags %#x, IP flags %#x", p.flags,
		      rd16be(in + 20));
	else if (after.state != LB_FLOW_BOUND)
		CHECK(after.state == LB_FLOW_CLOSING && opts.retval == XDP_TX_ && fl &&
			      fl->cport == 40001 && (p.flags & 0x05),
		      "bound flow went to state %u (%s, flags %#x)", after.state,
		      lb_xdp_reason_names[moved], p.flags);
	return 0;
}
