// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <stdio.h>
#include <poll.h>
#include <spawn.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <bpf/bpf.h>

#include "backend_maps.h"
#include "backend_run.h"
#include "fin_notice.h"
#include "maps.h"
#include "rebind.h"

void be_read_stats(struct bpf_map *stats, uint64_t *out)
{
	int ncpu = libbpf_num_possible_cpus();
	struct lb_counter vals[ncpu];
	uint32_t r;
	int c;

	for (r = 0; r < LB_BE_REASON_MAX; r++) {
		out[r] = 0;
		ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(stats), &r, vals), 0);
		for (c = 0; c < ncpu; c++)
			out[r] += vals[c].packets;
	}
}

void be_run_prog(struct bpf_map *stats, struct bpf_program *prog, const uint8_t *frame,
		 size_t len, struct run *r)
{
	uint64_t before[LB_BE_REASON_MAX];
	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = len,
		    .data_out = r->out, .data_size_out = sizeof(r->out), .repeat = 1);
	int i;

	be_read_stats(stats, before);
	ck_assert_int_eq(bpf_prog_test_run_opts(bpf_program__fd(prog), &opts), 0);
	r->action = opts.retval;
	r->out_len = opts.data_size_out;
	be_read_stats(stats, r->stats);
	for (i = 0; i < LB_BE_REASON_MAX; i++)
		r->stats[i] -= before[i];
}

void be_assert_counted(const struct run *r, enum lb_backend_reason reason)
{
	int i;

	for (i = 0; i < LB_BE_REASON_MAX; i++)
		ck_assert_msg(r->stats[i] == (i == (int)reason),
			      "counter %s moved by %llu, expected %s to move by 1",
			      lb_backend_reason_names[i], (unsigned long long)r->stats[i],
			      lb_backend_reason_names[reason]);
}

size_t be_probe_build(uint8_t *frame, const struct be_probe *p)
{
	struct lb_cookie_tuple t = { .cport = htons(p->sport), .vport = htons(p->dport) };
	struct lb_probe_opt po = {
		.o = { .kind = LB_REBIND_OPT_KIND, .len = LB_PROBE_OPT_LEN,
		       .exid = htons(p->exid ? p->exid : LB_PROBE_EXID) },
	};
	struct lb_rebind_opt *o = &po.o;
	/* An adopt option is the short kind: with an adopt ExID, so is this one. */
	uint8_t olen = p->exid == LB_ADOPT_EXID ? LB_REBIND_OPT_LEN : LB_PROBE_OPT_LEN;
	uint8_t opts[LB_PROBE_OPT_LEN + 12];

	po.o.len = olen;
	struct lb_segment s = {
		.seq = p->seq, .ack = p->ack, .flags = p->flags ? p->flags : 0x10, .window = 502,
		.has_ts = true, .tsval = 0x01020304, .tsecr = 0x0a0b0c0d,
		.ip_flags = p->no_ip_flag ? 0 : LB_FIN_NOTICE_IP_FLAG,
	};
	size_t len;

	inet_pton(AF_INET, p->saddr, &t.caddr);
	inet_pton(AF_INET, p->daddr, &t.vaddr);
	o->val = htonl(lb_rebind_tag(p->secret->key, &t, p->seq, p->ack, 0, p->counter,
				    LB_REBIND_TAG_PROBE) ^
		      p->tag_xor);
	if (p->opt_first) {
		/* The option, then NOP NOP TS: the same bytes in another order. */
		memcpy(opts, &po, olen);
		opts[olen] = 1;
		opts[olen + 1] = 1;
		opts[olen + 2] = 8;
		opts[olen + 3] = 10;
		memcpy(opts + olen + 4, "\x01\x02\x03\x04\x0a\x0b\x0c\x0d", 8);
		s.opts = opts;
		s.optlen = olen + 12;
	} else {
		s.extra = (const uint8_t *)&po;
		s.extra_len = olen;
	}
	memcpy(s.src_mac, p->src_mac, 6);
	memcpy(s.dst_mac, p->dst_mac, 6);
	s.saddr = t.caddr;
	s.daddr = t.vaddr;
	s.sport = t.cport;
	s.dport = t.vport;
	len = lb_segment_build(frame, PKT_MAX, &s);
	ck_assert_uint_gt(len, 0);
	return len;
}

static uint8_t *tcp_of(uint8_t *frame)
{
	return frame + PKT_IP + (frame[PKT_IP] & 0xf) * 4;
}

static void put32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

uint32_t be_tcp32(const uint8_t *frame, size_t field)
{
	const uint8_t *th = frame + PKT_IP + (frame[PKT_IP] & 0xf) * 4 + field;

	return (uint32_t)th[0] << 24 | (uint32_t)th[1] << 16 | (uint32_t)th[2] << 8 | th[3];
}

size_t be_probe_answer(uint8_t *out, const uint8_t *probe, size_t len, uint8_t status,
		       uint32_t seq, uint32_t ack, uint32_t unsent)
{
	return be_probe_answer_framed(out, probe, len, status, seq, ack, unsent, LB_FRAMING_NONE, 0,
				      0, 0);
}

size_t be_probe_answer_framed(uint8_t *out, const uint8_t *probe, size_t len, uint8_t status,
			      uint32_t seq, uint32_t ack, uint32_t unsent, uint16_t framing,
			      uint32_t start, uint32_t end, uint32_t body_len)
{
	uint8_t tmp[6], *ip = out + PKT_IP, *th, *opt;

	memcpy(out, probe, len);
	memcpy(tmp, out, 6);
	memcpy(out, out + 6, 6);
	memcpy(out + 6, tmp, 6);
	memcpy(tmp, ip + 12, 4);
	memcpy(ip + 12, ip + 16, 4);
	memcpy(ip + 16, tmp, 4);
	th = tcp_of(out);
	memcpy(tmp, th, 2);
	memcpy(th, th + 2, 2);
	memcpy(th + 2, tmp, 2);
	put32(th + 4, seq);
	put32(th + 8, ack);
	opt = th + (th[12] >> 4) * 4 - LB_PROBE_OPT_LEN;
	opt[2] = LB_ANSWER_EXID >> 8;
	opt[3] = LB_ANSWER_EXID & 0xff;
	opt[4] = status;
	opt[5] = 0;
	opt[6] = framing >> 8;
	opt[7] = framing & 0xff;
	put32(opt + 8, unsent);
	put32(opt + 12, start);
	put32(opt + 16, end);
	put32(opt + 20, body_len);
	pkt_fix_csums(out, len);
	return len;
}

const uint8_t be_balancers[2][6] = { { 0x02, 0, 0, 0, 0x02, 0x02 }, { 0x02, 0, 0, 0, 0x02, 0x03 } };
const uint8_t be_stranger[6] = { 0x02, 0, 0, 0, 0x02, 0x04 };

static struct lb_handoff_key conn_key(const char *client, uint16_t cport, const char *vip,
				      uint16_t vport)
{
	struct lb_handoff_key k = { .cport = htons(cport), .vport = htons(vport) };

	ck_assert_int_eq(inet_pton(AF_INET, client, &k.caddr), 1);
	ck_assert_int_eq(inet_pton(AF_INET, vip, &k.vaddr), 1);
	return k;
}

uint32_t be_hash_choice(const char *client, uint16_t cport, const char *vip, uint16_t vport,
			uint32_t n)
{
	struct lb_handoff_key k = conn_key(client, cport, vip, vport);
	uint32_t b = lb_balancer_pick(&k, n);

	ck_assert_uint_lt(b, n);
	return b;
}

uint16_t be_port_hashing_to(const char *client, uint16_t from, const char *vip, uint16_t vport,
			    uint32_t want)
{
	uint16_t port;

	for (port = from; port < from + 64; port++)
		if (be_hash_choice(client, port, vip, vport, 2) == want)
			return port;
	ck_abort_msg("no port from %u hashes to balancer %u: the hash ignores the port", from,
		     want);
	return 0;
}

int be_balancer_of(struct bpf_map *m, const char *client, uint16_t cport, const char *vip,
		   uint16_t vport)
{
	struct lb_handoff_key k = conn_key(client, cport, vip, vport);
	uint32_t b;

	if (bpf_map_lookup_elem(bpf_map__fd(m), &k, &b))
		return -1;
	return (int)b;
}

unsigned int be_map_entries(struct bpf_map *m)
{
	struct lb_handoff_key k, next, *prev = NULL;
	unsigned int n = 0;

	while (!bpf_map_get_next_key(bpf_map__fd(m), prev, &next)) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}

extern char **environ;

void be_sh(const char *cmd)
{
	char *const argv[] = { "sh", "-c", (char *)cmd, NULL };
	pid_t pid;
	int st;

	ck_assert_msg(posix_spawnp(&pid, "sh", NULL, NULL, argv, environ) == 0, "spawn %s", cmd);
	ck_assert_int_eq(waitpid(pid, &st, 0), pid);
	ck_assert_msg(WIFEXITED(st) && WEXITSTATUS(st) == 0, "'%s' failed", cmd);
}

void be_veth_netns(const char *vip, const char *backend, int *v0, int *v1)
{
	char cmd[512];

	ck_assert_msg(unshare(CLONE_NEWNET) == 0, "unshare(CLONE_NEWNET): %s", strerror(errno));
	snprintf(cmd, sizeof(cmd),
		 "ip link set lo up && ip addr add %s/32 dev lo && "
		 "ip link add v0 address 02:00:00:00:03:0b type veth peer name v1 address "
		 "02:00:00:00:04:0c && "
		 "ip addr add %s/24 dev v0 && ip link set v0 up && ip link set v1 up && "
		 "ethtool -K v0 rx off tx off >/dev/null && ethtool -K v1 rx off tx off >/dev/null && "
		 "ip neigh add 198.51.100.1 lladdr 02:00:00:00:04:0c dev v0 && "
		 "ip route add 203.0.113.0/24 via 198.51.100.1",
		 vip, backend);
	be_sh(cmd);
	*v0 = (int)if_nametoindex("v0");
	*v1 = (int)if_nametoindex("v1");
	ck_assert(*v0 && *v1);
}

void be_tc_on(int ifindex, struct bpf_program *ingress, struct bpf_program *egress)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	LIBBPF_OPTS(bpf_tc_opts, in, .prog_fd = bpf_program__fd(ingress));
	LIBBPF_OPTS(bpf_tc_opts, eg, .prog_fd = bpf_program__fd(egress));

	ck_assert_int_eq(bpf_tc_hook_create(&hook), 0);
	hook.attach_point = BPF_TC_INGRESS;
	ck_assert_int_eq(bpf_tc_attach(&hook, &in), 0);
	hook.attach_point = BPF_TC_EGRESS;
	ck_assert_int_eq(bpf_tc_attach(&hook, &eg), 0);
}

size_t be_next_frame(int fd, uint8_t *buf, struct lb_segment *seg, uint16_t port)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	ssize_t n;

	while (poll(&pfd, 1, 1000) == 1) {
		n = recv(fd, buf, PKT_MAX, 0);
		if (n > 0 && !lb_segment_parse(buf, n, seg) && seg->sport == htons(port))
			return n;
	}
	return 0;
}
