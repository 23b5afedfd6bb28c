// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>

#include "packet.h"

/* Frames are read and written as bytes: field offsets by name, host order via rd/wr. */
#define ETH_OFF_DST   offsetof(struct ethhdr, h_dest)
#define ETH_OFF_SRC   offsetof(struct ethhdr, h_source)
#define ETH_OFF_PROTO offsetof(struct ethhdr, h_proto)
#define IP_OFF(f)     offsetof(struct iphdr, f)
#define TCP_OFF(f)    offsetof(struct tcphdr, f)
#define IP_HLEN	      sizeof(struct iphdr)  /* without options: all the dispatcher takes */
#define TCP_HLEN      sizeof(struct tcphdr) /* without options */
#define TCP_OFF_DOFF  12 /* data offset in the high nibble (a bitfield in struct tcphdr) */
#define TCP_OFF_FLAGS 13 /* the LB_TH_* byte */
#define IP_VERSION_IHL_5 0x45
#define IP_FLAG_DF	 0x4000
#define IP_FRAG_MASK	 0x3fff /* MF and the fragment offset: any of them is a fragment */
#define IP_DEFAULT_TTL	 64
#define TS_OPT_ALIGNED	 12 /* NOP, NOP, timestamps */

static uint32_t sum16(const uint8_t *p, size_t len, uint32_t sum)
{
	size_t i;

	for (i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static uint32_t rd32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void wr16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v;
}

static void wr32(uint8_t *p, uint32_t v)
{
	p[0] = v >> 24;
	p[1] = v >> 16;
	p[2] = v >> 8;
	p[3] = v;
}

int lb_segment_parse(const uint8_t *f, size_t len, struct lb_segment *s)
{
	const uint8_t *ip = f + ETH_HLEN, *th, *opt;
	size_t ihl, tot, doff, i;

	memset(s, 0, sizeof(*s));
	if (len < ETH_HLEN + IP_HLEN + TCP_HLEN || rd16(f + ETH_OFF_PROTO) != ETH_P_IP)
		return -1;
	ihl = (ip[0] & 0xf) * 4;
	tot = rd16(ip + IP_OFF(tot_len));
	if ((ip[0] >> 4) != 4 || ihl != IP_HLEN || ip[IP_OFF(protocol)] != IPPROTO_TCP ||
	    tot > len - ETH_HLEN || tot < IP_HLEN + TCP_HLEN ||
	    (rd16(ip + IP_OFF(frag_off)) & IP_FRAG_MASK))
		return -1;
	th = ip + IP_HLEN;
	doff = (th[TCP_OFF_DOFF] >> 4) * 4;
	if (doff < TCP_HLEN || doff > tot - IP_HLEN)
		return -1;

	memcpy(s->dst_mac, f + ETH_OFF_DST, ETH_ALEN);
	memcpy(s->src_mac, f + ETH_OFF_SRC, ETH_ALEN);
	memcpy(&s->saddr, ip + IP_OFF(saddr), 4);
	memcpy(&s->daddr, ip + IP_OFF(daddr), 4);
	s->ttl = ip[IP_OFF(ttl)];
	s->ip_flags = rd16(ip + IP_OFF(frag_off)) & ~(IP_FRAG_MASK | IP_FLAG_DF);
	memcpy(&s->sport, th + TCP_OFF(source), 2);
	memcpy(&s->dport, th + TCP_OFF(dest), 2);
	s->seq = rd32(th + TCP_OFF(seq));
	s->ack = rd32(th + TCP_OFF(ack_seq));
	s->flags = th[TCP_OFF_FLAGS];
	s->window = rd16(th + TCP_OFF(window));
	s->payload = th + doff;
	s->len = tot - IP_HLEN - doff;

	opt = th + TCP_HLEN;
	for (i = 0; i < doff - TCP_HLEN;) {
		uint8_t kind = opt[i], olen;

		if (kind == LB_TCPOPT_EOL)
			break;
		if (kind == LB_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= doff - TCP_HLEN)
			return -1;
		olen = opt[i + 1];
		if (olen < 2 || i + olen > doff - TCP_HLEN)
			return -1;
		if (kind == LB_TCPOPT_TIMESTAMP && olen == LB_TCPOLEN_TIMESTAMP) {
			s->has_ts = true;
			s->tsval = rd32(opt + i + 2);
			s->tsecr = rd32(opt + i + 6);
		} else if (kind == LB_REBIND_OPT_KIND &&
			   (olen == LB_REBIND_OPT_LEN || olen == LB_PROBE_OPT_LEN)) {
			s->has_rebind = true;
			memcpy(&s->rebind, opt + i, sizeof(s->rebind));
			/* A probe's answer: the framing report follows. */
			s->has_framing = olen == LB_PROBE_OPT_LEN;
			if (s->has_framing)
				memcpy(&s->framing, opt + i + LB_REBIND_OPT_LEN, sizeof(s->framing));
		}
		i += olen;
	}
	return 0;
}

struct lb_flow_key lb_segment_flow_key(const struct lb_segment *s)
{
	struct lb_flow_key k = {
		.saddr = s->saddr, .daddr = s->daddr, .sport = s->sport, .dport = s->dport,
		.proto = IPPROTO_TCP,
	};
	return k;
}

/* TCP checksum of @len bytes at @tcp under the pseudo-header of the IPv4 header @ip. */
static uint16_t tcp_csum(const uint8_t *ip, const uint8_t *tcp, size_t len)
{
	uint8_t pseudo[12]; /* saddr, daddr, zero, protocol, TCP length */

	memcpy(pseudo, ip + IP_OFF(saddr), 8);
	pseudo[8] = 0;
	pseudo[9] = IPPROTO_TCP;
	wr16(pseudo + 10, len);
	return fold(sum16(tcp, len, sum16(pseudo, sizeof(pseudo), 0)));
}

void lb_frame_fix_csums(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + ETH_HLEN;
	size_t ihl, tot;

	if (len < ETH_HLEN + IP_HLEN)
		return;
	ihl = (ip[0] & 0xf) * 4;
	tot = rd16(ip + IP_OFF(tot_len));
	wr16(ip + IP_OFF(check), 0);
	wr16(ip + IP_OFF(check), fold(sum16(ip, ihl, 0)));
	if (tot > len - ETH_HLEN || tot < ihl + TCP_HLEN)
		return;
	wr16(ip + ihl + TCP_OFF(check), 0);
	wr16(ip + ihl + TCP_OFF(check), tcp_csum(ip, ip + ihl, tot - ihl));
}

bool lb_frame_ends(const uint8_t *f, size_t len, struct lb_frame_ends *e)
{
	const size_t eth = 14, ip = 20;

	if (len < eth + ip + 4 || f[12] != 0x08 || f[13] != 0x00 || f[eth] != 0x45 ||
	    f[eth + 9] != IPPROTO_TCP)
		return false;
	memcpy(&e->saddr, f + eth + 12, 4);
	memcpy(&e->daddr, f + eth + 16, 4);
	memcpy(&e->sport, f + eth + ip, 2);
	memcpy(&e->dport, f + eth + ip + 2, 2);
	return true;
}

int lb_frame_check_csums(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + ETH_HLEN;
	size_t ihl, tot;

	if (len < ETH_HLEN + IP_HLEN)
		return -1;
	ihl = (ip[0] & 0xf) * 4;
	tot = rd16(ip + IP_OFF(tot_len));
	if (ihl < IP_HLEN || tot > len - ETH_HLEN || tot < ihl + TCP_HLEN || fold(sum16(ip, ihl, 0)))
		return -1;
	return tcp_csum(ip, ip + ihl, tot - ihl) ? -1 : 0;
}

size_t lb_segment_build(uint8_t *buf, size_t cap, const struct lb_segment *s)
{
	size_t base = s->opts ? s->optlen : s->has_ts ? TS_OPT_ALIGNED : 0;
	size_t optlen = base + (s->extra ? s->extra_len : 0);
	size_t thl = TCP_HLEN + optlen, tot = IP_HLEN + thl + s->len;
	uint8_t *ip = buf + ETH_HLEN, *th = ip + IP_HLEN, *opt = th + TCP_HLEN;

	if (optlen % 4 || optlen > LB_TCP_MAX_OPTLEN || tot > 0xffff || ETH_HLEN + tot > cap)
		return 0;
	memset(buf, 0, ETH_HLEN + IP_HLEN + thl);
	memcpy(buf + ETH_OFF_DST, s->dst_mac, ETH_ALEN);
	memcpy(buf + ETH_OFF_SRC, s->src_mac, ETH_ALEN);
	wr16(buf + ETH_OFF_PROTO, ETH_P_IP);

	ip[0] = IP_VERSION_IHL_5;
	wr16(ip + IP_OFF(tot_len), tot);
	wr16(ip + IP_OFF(frag_off), IP_FLAG_DF | s->ip_flags);
	ip[IP_OFF(ttl)] = s->ttl ? s->ttl : IP_DEFAULT_TTL;
	ip[IP_OFF(protocol)] = IPPROTO_TCP;
	memcpy(ip + IP_OFF(saddr), &s->saddr, 4);
	memcpy(ip + IP_OFF(daddr), &s->daddr, 4);

	memcpy(th + TCP_OFF(source), &s->sport, 2);
	memcpy(th + TCP_OFF(dest), &s->dport, 2);
	wr32(th + TCP_OFF(seq), s->seq);
	wr32(th + TCP_OFF(ack_seq), s->ack);
	th[TCP_OFF_DOFF] = (thl / 4) << 4;
	th[TCP_OFF_FLAGS] = s->flags;
	wr16(th + TCP_OFF(window), s->window);
	if (s->extra)
		memcpy(opt + base, s->extra, s->extra_len);
	if (s->opts) {
		memcpy(opt, s->opts, base);
	} else if (s->has_ts) {
		opt[0] = LB_TCPOPT_NOP;
		opt[1] = LB_TCPOPT_NOP;
		opt[2] = LB_TCPOPT_TIMESTAMP;
		opt[3] = LB_TCPOLEN_TIMESTAMP;
		wr32(opt + 4, s->tsval);
		wr32(opt + 8, s->tsecr);
	}
	if (s->len)
		memmove(th + thl, s->payload, s->len);
	lb_frame_fix_csums(buf, ETH_HLEN + tot);
	return ETH_HLEN + tot;
}

size_t lb_client_reset_build(uint8_t *buf, size_t cap, const struct lb_flow_key *key,
			     const struct lb_flow *f, const uint8_t own_mac[6])
{
	struct lb_segment rst = {
		.saddr = key->daddr, .daddr = key->saddr, .sport = key->dport, .dport = key->sport,
		.seq = f->client_ack, .flags = LB_TH_RST,
	};

	if (!f->client_ack)
		return 0;
	memcpy(rst.dst_mac, f->client_hop_mac, 6);
	memcpy(rst.src_mac, own_mac, 6);
	return lb_segment_build(buf, cap, &rst);
}
