// SPDX-License-Identifier: GPL-2.0
/*
 * Packet fuzzer of the backend's TC programs, ingress and egress, cookie mode
 * (bpf/backend.bpf.c) and replay mode (bpf/backend_replay.bpf.c), loaded from
 * their skeletons as `latebind backend attach` loads them
 * and run with BPF_PROG_TEST_RUN. Needs root. A plain libFuzzer target like
 * fuzz_xdp (see there), with the programs' verdict reasons as extra counters.
 *
 * It runs in a network namespace of its own (unshare), where it listens on the
 * VIP port: the ingress program looks sockets up in the namespace of the
 * test-run skb's device, and nothing it could re-inject reaches the host's.
 *
 * Input: one control byte, then the frame.
 *   bit 0  egress (else ingress)
 *   bit 3  addressed as the VIP service: ingress to VIP:port, egress from it
 *   bit 4  ingress: from the balancer's MAC
 *   bit 1  ingress: acknowledgement set to a valid cookie (now) for the tuple
 *   bit 2  checksums made valid
 *   bit 5  the replay-mode object instead of the cookie-mode one
 *   bit 6  replay: a hand-off entry (SYN/ACK seen) for the frame's tuple first
 *
 * Invariants:
 *   - egress: TC_ACT_OK or TC_ACT_SHOT; nothing but the destination MAC ever
 *     changes, and it changes only to the balancer's, only for a FIN or RST
 *     from the VIP service; a drop only of a SYN/ACK from the VIP service;
 *     anything else passes untouched;
 *   - ingress: TC_ACT_OK or TC_ACT_SHOT and the frame unchanged; a hand-off
 *     (adopted, or refused by the kernel's kfunc) only for an ACK without SYN
 *     or RST, to the VIP service, from the balancer's MAC, whose cookie
 *     lb_cookie_check() accepts: a forged cookie or a client's own cookie ACK
 *     never gets that far; anything not for the VIP service passes, except an
 *     ACK to another address's service port dropped as drop_spoof_real_addr;
 *   - replay mode: not for the VIP service, the same as above; for it, nothing
 *     but the destination MAC (to the balancer's, only for a SYN/ACK, FIN or
 *     RST), seq, window and TCP options (egress), or ack and options (ingress),
 *     and the checksum ever change; a changed frame was counted as translated
 *     or diverted and its checksum is still valid if it was; a hand-off SYN is
 *     recorded only from the balancer's MAC; a drop only of a SYN/ACK without
 *     a replay, a SYN without a valid hand-off option, malformed options, or a
 *     client's segment before the SYN/ACK;
 *   - a FIN with data from the VIP service may instead become a FIN notice
 *     (headers/fin_notice.h; the unchanged copy went out by clone): then the
 *     output is the input's headers only, to the balancer's MAC, with the
 *     notice flag, IP length and seq advanced past the payload (cookie mode:
 *     nothing else changed) and valid checksums if the input's were;
 *   - exactly one reason counter moves, by one.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backend.skel.h"
#include "backend_maps.h"
#include "backend_replay.skel.h"
#include "cookie.h"
#include "fuzz_common.h"
#include "packet.h"
#include "stats.h"

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2
#define FRAME_MAX   1600

static const uint8_t balancer_mac[6] = { 0x02, 0, 0, 0, 0x02, 0x02 };

static const struct lb_cookie_secret secret = {
	.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL },
	.period_s = 64,
	.windows = 2,
};

static struct backend *skel;
static struct backend_replay *rskel;
static int in_fd, eg_fd, stats_fd, ncpu, listen_fd;
static int r_in_fd, r_eg_fd, r_stats_fd, ho_fd;
static uint64_t r_stats_prev[LB_BE_REASON_MAX];
static uint32_t vip;
static uint16_t port; /* host order */
static uint64_t stats_prev[LB_BE_REASON_MAX];

#define COV_REASON 0
#define COV_SIZE   (LB_BE_REASON_MAX * 2 * 16 * 2) /* reason, direction, flags, mode */
__attribute__((section("__libfuzzer_extra_counters"), used)) static uint8_t cov[COV_SIZE];

static void read_stats_of(int fd, uint64_t *out)
{
	struct lb_counter vals[ncpu];

	for (uint32_t r = 0; r < LB_BE_REASON_MAX; r++) {
		CHECK(!bpf_map_lookup_elem(fd, &r, vals), "stats: %s", strerror(errno));
		out[r] = 0;
		for (int c = 0; c < ncpu; c++)
			out[r] += vals[c].packets;
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_ANY) };
	socklen_t alen = sizeof(a);
	uint32_t k = 0;
	cpu_set_t cpus;

	if (geteuid() != 0) {
		fprintf(stderr, "fuzz_tc: loading BPF programs needs root\n");
		exit(1);
	}
	CHECK(!unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET): %s", strerror(errno));
	CPU_ZERO(&cpus);
	CPU_SET(0, &cpus);
	sched_setaffinity(0, sizeof(cpus), &cpus);
	libbpf_set_print(NULL);

	listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	CHECK(listen_fd >= 0 && !bind(listen_fd, (struct sockaddr *)&a, sizeof(a)) &&
		      !listen(listen_fd, 16) &&
		      !getsockname(listen_fd, (struct sockaddr *)&a, &alen),
	      "listener: %s", strerror(errno));
	port = ntohs(a.sin_port);

	inet_pton(AF_INET, "192.0.2.80", &vip);
	ncpu = libbpf_num_possible_cpus();
	skel = backend__open();
	CHECK(skel, "open backend skeleton: %s", strerror(errno));
	skel->rodata->cfg_vip_addr = vip;
	skel->rodata->cfg_vip_port = htons(port);
	memcpy((void *)skel->rodata->cfg_balancer_macs[0], balancer_mac, 6);
	skel->rodata->cfg_wscale = 7;
	CHECK(!backend__load(skel), "load backend: %s", strerror(errno));
	in_fd = bpf_program__fd(skel->progs.lb_backend_ingress);
	eg_fd = bpf_program__fd(skel->progs.lb_backend_egress);
	stats_fd = bpf_map__fd(skel->maps.stats);
	CHECK(!bpf_map_update_elem(bpf_map__fd(skel->maps.cookie_secret), &k, &secret, 0),
	      "secret: %s", strerror(errno));
	read_stats_of(stats_fd, stats_prev);

	rskel = backend_replay__open();
	CHECK(rskel, "open backend_replay skeleton: %s", strerror(errno));
	rskel->rodata->cfg_vip_addr = vip;
	rskel->rodata->cfg_vip_port = htons(port);
	memcpy((void *)rskel->rodata->cfg_balancer_macs[0], balancer_mac, 6);
	CHECK(!backend_replay__load(rskel), "load backend_replay: %s", strerror(errno));
	r_in_fd = bpf_program__fd(rskel->progs.lb_replay_ingress);
	r_eg_fd = bpf_program__fd(rskel->progs.lb_replay_egress);
	r_stats_fd = bpf_map__fd(rskel->maps.stats);
	ho_fd = bpf_map__fd(rskel->maps.handoffs);
	CHECK(!bpf_map_update_elem(bpf_map__fd(rskel->maps.cookie_secret), &k, &secret, 0),
	      "secret: %s", strerror(errno));
	read_stats_of(r_stats_fd, r_stats_prev);
	return 0;
}

/* A FIN notice (see the top): @out of @out_len bytes made from @in. */
static void check_fin_notice(const uint8_t *in, size_t len, const uint8_t *out, size_t out_len,
			     size_t th, uint8_t flags, bool service, bool replay)
{
	size_t ihl = (in[14] & 15) * 4, hdr = th + (in[th + 12] >> 4) * 4;
	uint32_t payload = rd16be(in + 16) - (uint32_t)(hdr - 14);

	CHECK(service && (flags & 0x05) == 0x01, "a FIN notice for flags %#x", flags);
	CHECK(out_len == hdr && payload > 0 && payload <= len - hdr,
	      "FIN notice of %zu bytes for %zu of headers and %u of payload", out_len, hdr, payload);
	CHECK(!memcmp(out, balancer_mac, 6) && !memcmp(out + 6, in + 6, 8),
	      "FIN notice not to the balancer, or its source changed");
	CHECK(rd16be(out + 16) == hdr - 14 && rd16be(out + 20) == (rd16be(in + 20) | 0x8000),
	      "FIN notice: IP length %u, flags %#x", rd16be(out + 16), rd16be(out + 20));
	if (!replay) {
		/* Everything else as it was: IP header but length, flags and checksum;
		 * TCP header but seq (past the payload) and checksum. */
		CHECK(!memcmp(out + 14, in + 14, 2) && !memcmp(out + 18, in + 18, 2) &&
			      !memcmp(out + 22, in + 22, 2) && !memcmp(out + 26, in + 26, ihl - 12),
		      "FIN notice changed the IP header");
		CHECK(rd32be(out + th + 4) == rd32be(in + th + 4) + payload,
		      "FIN notice seq %u for %u + %u", rd32be(out + th + 4), rd32be(in + th + 4),
		      payload);
		CHECK(!memcmp(out + th, in + th, 4) && !memcmp(out + th + 8, in + th + 8, 8) &&
			      !memcmp(out + th + 18, in + th + 18, hdr - th - 18),
		      "FIN notice changed the TCP header");
	}
	if (!lb_frame_check_csums(in, len))
		CHECK(!lb_frame_check_csums(out, out_len), "FIN notice with a broken checksum");
}

/* The invariants of replay mode (see the top), for one frame. */
static void check_replay(const uint8_t *in, const uint8_t *out, size_t len, bool egress,
			 bool service, bool to_real, bool from_bal, size_t th, uint8_t flags,
			 int retval, int moved)
{
	size_t hl = service ? th + ((in[th + 12] >> 4) * 4) : 0;
	bool dmac = memcmp(out, in, 6) != 0, changed = memcmp(out, in, len) != 0;

	if (!service) {
		if (moved == LB_BE_DROP_SPOOF_REAL_ADDR)
			CHECK(to_real && retval == TC_ACT_SHOT, "replay: spoof_real_addr for %#x", flags);
		else
			CHECK(retval == TC_ACT_OK && !changed &&
				      moved == (egress ? LB_BE_EGRESS_PASS : LB_BE_PASS_OTHER),
			      "replay: acted on a frame not for the VIP service (%s)",
			      lb_backend_reason_names[moved]);
		return;
	}
	if (hl > len)
		hl = len; /* options past the end: the programs refuse it as malformed */
	/* Source MAC, ethertype, IP header, ports, payload: never. */
	CHECK(!memcmp(out + 6, in + 6, th + 4 - 6) && !memcmp(out + hl, in + hl, len - hl),
	      "replay: changed what is not ours to change (%s)", lb_backend_reason_names[moved]);
	/* Egress leaves ack alone, ingress seq; the window only egress. */
	if (egress)
		CHECK(!memcmp(out + th + 8, in + th + 8, 6), "replay: egress changed ack or flags");
	else
		CHECK(!memcmp(out + th + 4, in + th + 4, 4) && !memcmp(out + th + 12, in + th + 12, 4),
		      "replay: ingress changed seq, flags or window");
	if (dmac)
		CHECK(egress && !memcmp(out, balancer_mac, 6) && (flags & 0x07) &&
			      (moved == LB_BE_EGRESS_DIVERTED || moved == LB_BE_REPLAY_SYNACK_DIVERTED),
		      "replay: sent flags %#x elsewhere (%s)", flags, lb_backend_reason_names[moved]);
	if (changed && memcmp(out + 6, in + 6, len - 6))
		CHECK(moved == (egress ? LB_BE_REPLAY_OUT : LB_BE_REPLAY_IN) ||
			      moved == LB_BE_EGRESS_DIVERTED,
		      "replay: translated but counted %s", lb_backend_reason_names[moved]);
	if (changed && !lb_frame_check_csums(in, len))
		CHECK(!lb_frame_check_csums(out, len), "replay: a valid checksum broken (%s)",
		      lb_backend_reason_names[moved]);
	if (moved == LB_BE_REPLAY_SYN)
		CHECK(!egress && from_bal && (flags & 0x16) == 0x02, "replay: SYN recorded, flags %#x",
		      flags);
	if (retval == TC_ACT_SHOT)
		CHECK(moved == LB_BE_EGRESS_SYNACK_DROPPED || moved == LB_BE_DROP_SYN_NO_HANDOFF ||
			      moved == LB_BE_DROP_FORGED_HANDOFF || moved == LB_BE_DROP_MALFORMED ||
			      moved == LB_BE_DROP_REPLAY_EARLY,
		      "replay: dropped as %s", lb_backend_reason_names[moved]);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t in[FRAME_MAX], out[FRAME_MAX + 256];
	uint64_t now[LB_BE_REASON_MAX];
	bool egress, service = false, tcp = false, from_bal, cookie_ok = false, to_real = false;
	bool replay;
	int ifd, efd, sfd;
	uint64_t *prev;
	size_t th = 34;
	uint8_t ctl, flags = 0;
	size_t len;
	int moved = -1;
	LIBBPF_OPTS(bpf_test_run_opts, opts);

	if (size < 1 + 14 || size > 1 + FRAME_MAX)
		return 0;
	ctl = data[0];
	egress = ctl & 1;
	replay = ctl & 32;
	ifd = replay ? r_in_fd : in_fd;
	efd = replay ? r_eg_fd : eg_fd;
	sfd = replay ? r_stats_fd : stats_fd;
	prev = replay ? r_stats_prev : stats_prev;
	len = size - 1;
	memcpy(in, data + 1, len);

	if (len >= 14 + 20 + 20 && (ctl & 8)) {
		uint16_t p = htons(port);

		in[12] = 0x08;
		in[13] = 0x00;
		memcpy(in + (egress ? 26 : 30), &vip, 4);
		memcpy(in + (egress ? 34 : 36), &p, 2);
	}
	if (!egress && (ctl & 16))
		memcpy(in + 6, balancer_mac, 6);
	if (!egress && (ctl & 2) && len >= 54) {
		struct lb_cookie_tuple t;
		uint32_t seq = rd32be(in + 38), ack = rd32be(in + 42), c;

		memcpy(&t.caddr, in + 26, 4);
		memcpy(&t.vaddr, in + 30, 4);
		memcpy(&t.cport, in + 34, 2);
		memcpy(&t.vport, in + 36, 2);
		c = htonl(lb_cookie_make(secret.key, &t, seq - 1, lb_cookie_counter(&secret, tai_now()),
					 (ack - 1) & 0xff) + 1);
		memcpy(in + 42, &c, 4);
	}
	if (ctl & 4)
		lb_frame_fix_csums(in, len);

	/*
	 * What the programs should see in it: IPv4 (options allowed, not a later
	 * fragment), TCP with a sane data offset, for the VIP service.
	 */
	if (len >= 14 + 20 && rd16be(in + 12) == 0x0800 && (in[14] & 15) >= 5 && in[23] == 6 &&
	    !(rd16be(in + 20) & 0x1fff) && len >= 14 + (in[14] & 15) * 4 + 20 &&
	    in[14 + (in[14] & 15) * 4 + 12] >> 4 >= 5) {
		uint32_t a;
		uint16_t p;

		th = 14 + (in[14] & 15) * 4;
		tcp = true;
		flags = in[th + 13];
		memcpy(&a, in + (egress ? 26 : 30), 4);
		memcpy(&p, in + th + (egress ? 0 : 2), 2);
		service = a == vip && p == htons(port);
		/* Ingress to another address's service port, an ACK: maybe a replayed cookie. */
		to_real = !egress && a != vip && p == htons(port) && (flags & 0x16) == 0x10;
	}
	from_bal = !memcmp(in + 6, balancer_mac, 6);
	if (replay && service && (ctl & 64)) {
		/* Something to translate with, in whichever state the control byte says. */
		struct lb_handoff_key k;
		struct lb_handoff v = {
			.client_isn = rd32be(in + 2), .backend_isn = rd32be(in + 8),
			.lb_tsval = 0x01000000, .be_tsval = 0xffff0000, .ws_adv = in[0] & 15,
			.be_wscale = in[1] % 15, .has_ts = ctl >> 7, .state = 1 + (ctl >> 1) % 3,
			.flags = LB_HO_F_SYNACK,
		};

		memcpy(&k.caddr, in + (egress ? 30 : 26), 4);
		memcpy(&k.vaddr, in + (egress ? 26 : 30), 4);
		memcpy(&k.cport, in + th + (egress ? 2 : 0), 2);
		memcpy(&k.vport, in + th + (egress ? 0 : 2), 2);
		CHECK(!bpf_map_update_elem(ho_fd, &k, &v, BPF_ANY), "handoffs: %s", strerror(errno));
	}
	if (tcp && !egress) {
		struct lb_cookie_tuple t;
		struct lb_cookie_opts o;

		memcpy(&t.caddr, in + 26, 4);
		memcpy(&t.vaddr, in + 30, 4);
		memcpy(&t.cport, in + th, 2);
		memcpy(&t.vport, in + th + 2, 2);
		cookie_ok = !lb_cookie_check(&secret, &t, rd32be(in + th + 4) - 1,
					     rd32be(in + th + 8) - 1, tai_now(), &o);
	}

	opts.data_in = in;
	opts.data_size_in = (uint32_t)len;
	opts.data_out = out;
	opts.data_size_out = sizeof(out);
	opts.repeat = 1;
	if (bpf_prog_test_run_opts(egress ? efd : ifd, &opts)) {
		/* The kernel refuses to build an skb of some broken IPv4 headers: not a case. */
		CHECK(errno == EINVAL, "test run of %zu bytes: %s", len, strerror(errno));
		read_stats_of(sfd, now);
		CHECK(!memcmp(now, prev, sizeof(now)), "a refused test run counted");
		return 0;
	}

	read_stats_of(sfd, now);
	for (int r = 0; r < LB_BE_REASON_MAX; r++) {
		uint64_t d = now[r] - prev[r];

		CHECK(d == 0 || (d == 1 && moved < 0), "counter %s moved by %llu",
		      lb_backend_reason_names[r], (unsigned long long)d);
		if (d)
			moved = r;
	}
	memcpy(prev, now, sizeof(now));
	CHECK(moved >= 0, "no counter moved");
	if (fuzz_verbose())
		fprintf(stderr, "%zu bytes: verdict %d, %s\n", len, (int)opts.retval, lb_backend_reason_names[moved]);
	cov[COV_REASON + replay * LB_BE_REASON_MAX * 2 * 16 + (moved * 2 + egress) * 16 + ((flags >> 1) & 1) + ((flags >> 3) & 2) +
	    ((flags & 1) << 2) + ((flags & 4) << 1)]++;

	CHECK(opts.retval == TC_ACT_OK || opts.retval == TC_ACT_SHOT, "verdict %d (%s)", opts.retval,
	      lb_backend_reason_names[moved]);
	if (moved == LB_BE_EGRESS_FIN_NOTICE) {
		CHECK(egress && opts.retval == TC_ACT_OK, "a FIN notice from ingress or dropped");
		check_fin_notice(in, len, out, opts.data_size_out, th, flags, service, replay);
		return 0;
	}
	CHECK(opts.data_size_out == len, "output of %u bytes for %zu", opts.data_size_out, len);
	if (replay) {
		check_replay(in, out, len, egress, service, to_real, from_bal, th, flags,
			     opts.retval, moved);
		return 0;
	}

	if (egress) {
		bool diverted = memcmp(out, in, 6) != 0;

		CHECK(!memcmp(out + 6, in + 6, len - 6), "egress changed more than the destination MAC (%s)",
		      lb_backend_reason_names[moved]);
		if (diverted)
			CHECK(!memcmp(out, balancer_mac, 6) && service && (flags & 0x05) &&
				      (flags & 0x12) != 0x12 && moved == LB_BE_EGRESS_DIVERTED,
			      "egress sent flags %#x elsewhere than before (%s)", flags,
			      lb_backend_reason_names[moved]);
		if (opts.retval == TC_ACT_SHOT)
			CHECK(service && (flags & 0x12) == 0x12, "egress dropped flags %#x (%s)", flags,
			      lb_backend_reason_names[moved]);
		if (!service)
			CHECK(opts.retval == TC_ACT_OK && !diverted,
			      "egress acted on a frame not from the VIP service (%s)",
			      lb_backend_reason_names[moved]);
	} else {
		CHECK(!memcmp(out, in, len), "ingress changed the frame (%s)",
		      lb_backend_reason_names[moved]);
		if (moved == LB_BE_ADOPTED || moved == LB_BE_DROP_ASSIGN_FAILED)
			CHECK(service && from_bal && cookie_ok && (flags & 0x10) && !(flags & 0x06),
			      "hand-off attempted for flags %#x, from the balancer %d, cookie valid %d",
			      flags, from_bal, cookie_ok);
		if (moved == LB_BE_DROP_BAD_COOKIE)
			CHECK(from_bal && !cookie_ok, "bad cookie counted (balancer %d, valid %d)",
			      from_bal, cookie_ok);
		if (moved == LB_BE_DROP_NOT_BALANCER)
			CHECK(!from_bal && service, "not_balancer counted for the balancer's frame");
		if (moved == LB_BE_DROP_SPOOF_REAL_ADDR)
			CHECK(to_real && opts.retval == TC_ACT_SHOT,
			      "spoof_real_addr counted for flags %#x, to the real address %d", flags,
			      to_real);
		else if (!service)
			CHECK(opts.retval == TC_ACT_OK && moved == LB_BE_PASS_OTHER,
			      "ingress acted on a frame not for the VIP service (%s)",
			      lb_backend_reason_names[moved]);
	}
	return 0;
}
