/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Running one frame through a backend TC program (either mode's object) with
 * BPF_PROG_TEST_RUN, and what moved in its `stats` map: shared by
 * test_backend.c and test_backend_replay.c.
 */
#ifndef LATEBIND_TEST_BACKEND_RUN_H
#define LATEBIND_TEST_BACKEND_RUN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <bpf/libbpf.h>

#include "cookie.h"
#include "frames.h"
#include "stats.h"

struct run {
	int action;
	uint8_t out[PKT_MAX];
	uint32_t out_len;
	uint64_t stats[LB_BE_REASON_MAX]; /* change of each counter's packets */
};

/* Packets per reason, summed over CPUs, from the object's `stats` map. */
void be_read_stats(struct bpf_map *stats, uint64_t *out);

/* Run @frame through @prog; @stats is the object's counters map. */
void be_run_prog(struct bpf_map *stats, struct bpf_program *prog, const uint8_t *frame,
		 size_t len, struct run *r);

/* The one counter that moved must be @reason, by one. */
void be_assert_counted(const struct run *r, enum lb_backend_reason reason);

/*
 * Per-request binding (headers/rebind.h), as the dispatcher writes it
 * (user/handoff.c): a probe is an ACK in the client's direction with the
 * reserved IPv4 flag, timestamps, and the probe option last.
 */
struct be_probe {
	const uint8_t *src_mac, *dst_mac;
	const char *saddr, *daddr; /* client, VIP */
	uint16_t sport, dport;	   /* host order */
	uint32_t seq, ack;
	const struct lb_cookie_secret *secret;
	uint32_t counter;  /* the cookie's time counter the tag is made for */
	uint32_t tag_xor;  /* spoils the tag */
	uint16_t exid;	   /* 0: LB_PROBE_EXID */
	uint8_t flags;	   /* 0: ACK */
	bool no_ip_flag;   /* without LB_FIN_NOTICE_IP_FLAG */
	bool opt_first;	   /* the option before the timestamps, not last */
};

size_t be_probe_build(uint8_t *frame, const struct be_probe *p);

/*
 * The answer the backend's ingress makes of @probe (@len bytes, no IP options
 * or some), written independently of the program: MACs, addresses and ports
 * swapped, seq and ack replaced, the option's ExID "LA", @status, pad 0 and
 * @unsent, everything else as it came, both checksums recomputed in full.
 */
size_t be_probe_answer(uint8_t *out, const uint8_t *probe, size_t len, uint8_t status,
		       uint32_t seq, uint32_t ack, uint32_t unsent);

/* The same with a framing report (headers/rebind.h): @start and @end relative to @seq. */
size_t be_probe_answer_framed(uint8_t *out, const uint8_t *probe, size_t len, uint8_t status,
			      uint32_t seq, uint32_t ack, uint32_t unsent, uint16_t framing,
			      uint32_t start, uint32_t end, uint32_t body_len);

/* The TCP segment's fields at offset @field of its header, in a frame with any IP options. */
uint32_t be_tcp32(const uint8_t *frame, size_t field);

/* ---- several balancers (docs/packet-walk.md §6) ---------------------------- */

/*
 * The tables' balancers: be_balancers[0] is the MAC the one-balancer tables
 * use, [1] a second one configured beside it, be_stranger a third that is
 * not configured.
 */
extern const uint8_t be_balancers[2][6];
extern const uint8_t be_stranger[6];

/* The configured balancer lb_balancer_pick() gives connection CLIENT:cport → VIP:vport. */
uint32_t be_hash_choice(const char *client, uint16_t cport, const char *vip, uint16_t vport,
			uint32_t n);

/* A client port from @from up whose hash choice over two balancers is @want. */
uint16_t be_port_hashing_to(const char *client, uint16_t from, const char *vip, uint16_t vport,
			    uint32_t want);

/* The `balancer_of` entry of that connection: the balancer's index, or -1 with none. */
int be_balancer_of(struct bpf_map *m, const char *client, uint16_t cport, const char *vip,
		   uint16_t vport);

/* How many entries @m holds. */
unsigned int be_map_entries(struct bpf_map *m);

/* ---- a real kernel: programs on a veth's TC hooks, frames through a packet socket ---- */

/* Run @cmd with sh -c; it must succeed. */
void be_sh(const char *cmd);

/*
 * In a network namespace of this process's own: @vip on lo, and a veth pair,
 * v0 (the backend's side, @backend/24, offloads off so the kernel checks every
 * checksum a program changed) and v1 (where the test plays balancer and client,
 * 198.51.100.1, clients behind it in 203.0.113.0/24). Their ifindexes.
 */
void be_veth_netns(const char *vip, const char *backend, int *v0, int *v1);

/* Both programs on a clsact qdisc of @ifindex (made once: it serves both hooks). */
void be_tc_on(int ifindex, struct bpf_program *ingress, struct bpf_program *egress);

struct lb_segment;

/* The next TCP frame from source port @port on the packet socket, within a second; 0 if none. */
size_t be_next_frame(int fd, uint8_t *buf, struct lb_segment *seg, uint16_t port);

#endif
