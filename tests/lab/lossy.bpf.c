// SPDX-License-Identifier: GPL-2.0
/*
 * A lossy link for the lab (translation under stress): on the
 * ingress of a veth it drops every Nth TCP segment that carries data or
 * acknowledges it, up to a maximum count, and passes everything else.
 *
 * Deterministic on purpose: the Nth eligible segment in arrival order, not a
 * random one, so a failing run can be reasoned about (and rerun) by count.
 * SYN, FIN and RST segments are never dropped: their retransmission timers
 * are a second or more, which would turn a stress test of the data path into
 * a test of patience; the data path is what replay-mode translation touches.
 *
 * Configured from the shell with `bpftool map update` (lossy_cfg), counted in
 * lossy_stats (read with `bpftool map dump`); see tests/lab/lossy.sh. It also
 * stands in for the lab's XDP pass program where it replaces one: anything it
 * does not drop is XDP_PASS, so XDP_TX/REDIRECT into the peer still arrives.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define LOSSY_ETH_P_IP 0x0800
#define LOSSY_IP_MF 0x2000
#define LOSSY_IP_OFFSET 0x1fff

/* Written by the shell before traffic flows; zero `every` drops nothing. */
struct lossy_cfg {
	__u32 every;	 /* drop the Nth, 2Nth, ... eligible segment */
	__u32 max_drops; /* and no more than this many in all */
	__u32 port;	 /* only segments from or to this TCP port (host order); 0: any */
	__u32 pad;
};

/* Counters, one slot each; written only here, read by the shell. */
enum lossy_stat {
	LOSSY_SEEN,	    /* eligible segments (data or ACK, no SYN/FIN/RST) */
	LOSSY_DROPPED,	    /* of which dropped */
	LOSSY_DROPPED_DATA, /* dropped ones that carried payload */
	LOSSY_DROPPED_ACK,  /* dropped ones that were pure ACKs */
	LOSSY_SEEN_TS,	    /* eligible ones with a timestamp option */
	LOSSY_SEEN_SACK,    /* eligible ones with SACK blocks */
	LOSSY_NR_STATS,
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lossy_cfg);
} lossy_cfg SEC(".maps");

/* Shared, not per-CPU: one arrival order decides which segment is the Nth. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LOSSY_NR_STATS);
	__type(key, __u32);
	__type(value, __u64);
} lossy_stats SEC(".maps");

static __always_inline void lossy_count(__u32 slot)
{
	__u64 *v = bpf_map_lookup_elem(&lossy_stats, &slot);

	if (v)
		__sync_fetch_and_add(v, 1);
}

#define LOSSY_OPT_EOL 0
#define LOSSY_OPT_NOP 1
#define LOSSY_OPT_SACK 5
#define LOSSY_OPT_TS 8
#define LOSSY_MAX_OPTS 40 /* option bytes in a TCP header, so also the most options */

/* Walk state of one segment's options, copied to the stack. */
struct lossy_opts {
	__u8 bytes[LOSSY_MAX_OPTS];
	__u32 len;   /* option bytes present */
	__u32 pos;   /* next option */
	__u32 found; /* 1 << kind of every option seen (kinds below 32) */
};

/* One option per call (bpf_loop): the verifier checks this body once, where an
 * inline loop over variable-length options is more paths than it will follow. */
static long lossy_next_option(__u32 i, void *arg)
{
	struct lossy_opts *o = arg;
	__u32 pos = o->pos;
	__u8 kind, len;

	if (pos >= o->len || pos >= LOSSY_MAX_OPTS - 1)
		return 1;
	kind = o->bytes[pos];
	if (kind == LOSSY_OPT_EOL)
		return 1;
	if (kind == LOSSY_OPT_NOP) {
		o->pos = pos + 1;
		return 0;
	}
	len = o->bytes[pos + 1];
	if (len < 2)
		return 1;
	if (kind < 32)
		o->found |= 1U << kind;
	o->pos = pos + len;
	return 0;
}

/*
 * Which options the segment carries, counted on the wire: a test's claim that
 * timestamps were on (or off) and that SACK blocks flowed rests on these, not
 * on what a tool reports about the endpoints.
 */
static __always_inline void lossy_count_options(struct xdp_md *ctx, struct tcphdr *tcp)
{
	struct lossy_opts o = { .len = tcp->doff * 4 - sizeof(*tcp) };

	if (!o.len || o.len > LOSSY_MAX_OPTS ||
	    bpf_xdp_load_bytes(ctx, (void *)(tcp + 1) - (void *)(long)ctx->data, o.bytes, o.len))
		return;
	bpf_loop(LOSSY_MAX_OPTS, lossy_next_option, &o, 0);
	if (o.found & (1U << LOSSY_OPT_TS))
		lossy_count(LOSSY_SEEN_TS);
	if (o.found & (1U << LOSSY_OPT_SACK))
		lossy_count(LOSSY_SEEN_SACK);
}

SEC("xdp")
int lossy(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct lossy_cfg *cfg;
	struct iphdr *ip;
	struct tcphdr *tcp;
	__u32 zero = 0, slot, ip_len, hdrs;
	__u64 *seen, *dropped, n;

	if ((void *)(eth + 1) > data_end || eth->h_proto != bpf_htons(LOSSY_ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || ip->ihl < 5 || ip->protocol != IPPROTO_TCP)
		return XDP_PASS;
	/* Fragments are left alone: only a first fragment has the TCP header. */
	if (ip->frag_off & bpf_htons(LOSSY_IP_MF | LOSSY_IP_OFFSET))
		return XDP_PASS;
	tcp = (void *)ip + ip->ihl * 4;
	if ((void *)(tcp + 1) > data_end || tcp->doff < 5)
		return XDP_PASS;
	if (tcp->syn || tcp->fin || tcp->rst || !tcp->ack)
		return XDP_PASS;

	cfg = bpf_map_lookup_elem(&lossy_cfg, &zero);
	if (!cfg || !cfg->every)
		return XDP_PASS;
	if (cfg->port && tcp->source != bpf_htons(cfg->port) && tcp->dest != bpf_htons(cfg->port))
		return XDP_PASS;

	slot = LOSSY_SEEN;
	seen = bpf_map_lookup_elem(&lossy_stats, &slot);
	slot = LOSSY_DROPPED;
	dropped = bpf_map_lookup_elem(&lossy_stats, &slot);
	if (!seen || !dropped)
		return XDP_PASS;
	n = __sync_fetch_and_add(seen, 1) + 1;
	lossy_count_options(ctx, tcp);
	/*
	 * The cap is read, then raised: two CPUs may both pass the test, so the
	 * count can end one over per CPU. Bounded either way, which is the point.
	 */
	if (n % cfg->every || *dropped >= cfg->max_drops)
		return XDP_PASS;
	__sync_fetch_and_add(dropped, 1);

	/* Payload: the IP total length beyond both headers (not the frame length,
	 * which may carry Ethernet padding). */
	ip_len = bpf_ntohs(ip->tot_len);
	hdrs = ip->ihl * 4 + tcp->doff * 4;
	lossy_count(ip_len > hdrs ? LOSSY_DROPPED_DATA : LOSSY_DROPPED_ACK);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
