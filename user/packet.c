// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <string.h>

#include "packet.h"

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
	const uint8_t *ip = f + 14, *th, *opt;
	size_t ihl, tot, doff, i;

	memset(s, 0, sizeof(*s));
	if (len < 14 + 20 + 20 || rd16(f + 12) != 0x0800)
		return -1;
	ihl = (ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	if ((ip[0] >> 4) != 4 || ihl != 20 || ip[9] != 6 || tot > len - 14 || tot < 40 ||
	    (rd16(ip + 6) & 0x3fff))
		return -1;
	th = ip + 20;
	doff = (th[12] >> 4) * 4;
	if (doff < 20 || doff > tot - 20)
		return -1;

	memcpy(s->dst_mac, f, 6);
	memcpy(s->src_mac, f + 6, 6);
	memcpy(&s->saddr, ip + 12, 4);
	memcpy(&s->daddr, ip + 16, 4);
	s->ttl = ip[8];
	memcpy(&s->sport, th, 2);
	memcpy(&s->dport, th + 2, 2);
	s->seq = rd32(th + 4);
	s->ack = rd32(th + 8);
	s->flags = th[13];
	s->window = rd16(th + 14);
	s->payload = th + doff;
	s->len = tot - 20 - doff;

	opt = th + 20;
	for (i = 0; i < doff - 20;) {
		uint8_t kind = opt[i], olen;

		if (kind == LB_TCPOPT_EOL)
			break;
		if (kind == LB_TCPOPT_NOP) {
			i++;
			continue;
		}
		if (i + 1 >= doff - 20)
			return -1;
		olen = opt[i + 1];
		if (olen < 2 || i + olen > doff - 20)
			return -1;
		if (kind == LB_TCPOPT_TIMESTAMP && olen == LB_TCPOLEN_TIMESTAMP) {
			s->has_ts = true;
			s->tsval = rd32(opt + i + 2);
			s->tsecr = rd32(opt + i + 6);
		}
		i += olen;
	}
	return 0;
}

struct lb_flow_key lb_segment_flow_key(const struct lb_segment *s)
{
	struct lb_flow_key k = {
		.saddr = s->saddr, .daddr = s->daddr, .sport = s->sport, .dport = s->dport,
		.proto = 6,
	};
	return k;
}

/* TCP checksum of @len bytes at @tcp under the pseudo-header of the IPv4 header @ip. */
static uint16_t tcp_csum(const uint8_t *ip, const uint8_t *tcp, size_t len)
{
	uint8_t pseudo[12];

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	wr16(pseudo + 10, len);
	return fold(sum16(tcp, len, sum16(pseudo, sizeof(pseudo), 0)));
}

void lb_frame_fix_csums(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + 14;
	size_t ihl, tot;

	if (len < 14 + 20)
		return;
	ihl = (ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	wr16(ip + 10, 0);
	wr16(ip + 10, fold(sum16(ip, ihl, 0)));
	if (tot > len - 14 || tot < ihl + 20)
		return;
	wr16(ip + ihl + 16, 0);
	wr16(ip + ihl + 16, tcp_csum(ip, ip + ihl, tot - ihl));
}

int lb_frame_check_csums(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + 14;
	size_t ihl, tot;

	if (len < 14 + 20)
		return -1;
	ihl = (ip[0] & 0xf) * 4;
	tot = rd16(ip + 2);
	if (ihl < 20 || tot > len - 14 || tot < ihl + 20 || fold(sum16(ip, ihl, 0)))
		return -1;
	return tcp_csum(ip, ip + ihl, tot - ihl) ? -1 : 0;
}

size_t lb_segment_build(uint8_t *buf, size_t cap, const struct lb_segment *s)
{
	size_t optlen = s->opts ? s->optlen : s->has_ts ? 12 : 0;
	size_t thl = 20 + optlen, tot = 20 + thl + s->len;
	uint8_t *ip = buf + 14, *th = ip + 20;

	if (optlen % 4 || optlen > 40 || tot > 0xffff || 14 + tot > cap)
		return 0;
	memset(buf, 0, 14 + 20 + thl);
	memcpy(buf, s->dst_mac, 6);
	memcpy(buf + 6, s->src_mac, 6);
	wr16(buf + 12, 0x0800);

	ip[0] = 0x45;
	wr16(ip + 2, tot);
	wr16(ip + 6, 0x4000);
	ip[8] = s->ttl ? s->ttl : 64;
	ip[9] = 6;
	memcpy(ip + 12, &s->saddr, 4);
	memcpy(ip + 16, &s->daddr, 4);

	memcpy(th, &s->sport, 2);
	memcpy(th + 2, &s->dport, 2);
	wr32(th + 4, s->seq);
	wr32(th + 8, s->ack);
	th[12] = (thl / 4) << 4;
	th[13] = s->flags;
	wr16(th + 14, s->window);
	if (s->opts) {
		memcpy(th + 20, s->opts, optlen);
	} else if (s->has_ts) {
		th[20] = 1;
		th[21] = 1;
		th[22] = 8;
		th[23] = 10;
		wr32(th + 24, s->tsval);
		wr32(th + 28, s->tsecr);
	}
	if (s->len)
		memmove(th + thl, s->payload, s->len);
	lb_frame_fix_csums(buf, 14 + tot);
	return 14 + tot;
}
