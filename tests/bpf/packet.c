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

/* TCP checksum of a segment of @len bytes at @tcp; the check field must be 0 or valid. */
static uint16_t tcp_sum(const uint8_t *ip, const uint8_t *tcp, size_t len)
{
	uint8_t pseudo[12];

	memcpy(pseudo, ip + 12, 8);
	pseudo[8] = 0;
	pseudo[9] = 6;
	pseudo[10] = len >> 8;
	pseudo[11] = len & 0xff;
	return fold(sum16(tcp, len, sum16(pseudo, sizeof(pseudo), 0)));
}

size_t pkt_build_tcp(uint8_t *buf, const struct pkt_spec *s)
{
	size_t thl = 20 + s->optlen, ipl = 20 + thl + s->paylen;
	uint8_t *ip = buf + PKT_IP, *tcp = buf + PKT_TCP;
	uint32_t v;
	uint16_t w;

	memset(buf, 0, 14 + ipl);
	memcpy(buf, s->dst_mac, 6);
	memcpy(buf + 6, s->src_mac, 6);
	buf[12] = 0x08;
	buf[13] = 0x00;

	ip[0] = 0x45;
	ip[2] = ipl >> 8;
	ip[3] = ipl & 0xff;
	ip[6] = 0x40; /* DF */
	ip[8] = 64;
	ip[9] = 6;
	inet_pton(AF_INET, s->saddr, ip + 12);
	inet_pton(AF_INET, s->daddr, ip + 16);

	w = htons(s->sport);
	memcpy(tcp, &w, 2);
	w = htons(s->dport);
	memcpy(tcp + 2, &w, 2);
	v = htonl(s->seq);
	memcpy(tcp + 4, &v, 4);
	v = htonl(s->ack);
	memcpy(tcp + 8, &v, 4);
	tcp[12] = (thl / 4) << 4;
	tcp[13] = s->flags;
	w = htons(s->window);
	memcpy(tcp + 14, &w, 2);
	if (s->optlen)
		memcpy(tcp + 20, s->opts, s->optlen);
	if (s->paylen)
		memcpy(tcp + thl, s->payload, s->paylen);
	pkt_fix_csums(buf, 14 + ipl);
	return 14 + ipl;
}

void pkt_fix_csums(uint8_t *frame, size_t len)
{
	uint8_t *ip = frame + PKT_IP;
	size_t ihl = (ip[0] & 0xf) * 4, tot = (size_t)ip[2] << 8 | ip[3];
	uint16_t c;

	ip[10] = ip[11] = 0;
	c = fold(sum16(ip, ihl, 0));
	ip[10] = c >> 8;
	ip[11] = c & 0xff;
	if (tot > len - PKT_IP || tot < ihl + 20)
		return;
	ip[ihl + 16] = ip[ihl + 17] = 0;
	c = tcp_sum(ip, ip + ihl, tot - ihl);
	ip[ihl + 16] = c >> 8;
	ip[ihl + 17] = c & 0xff;
}

int pkt_check_csums(const uint8_t *frame, size_t len)
{
	const uint8_t *ip = frame + PKT_IP;
	size_t ihl, tot;

	if (len < PKT_IP + 20)
		return -1;
	ihl = (ip[0] & 0xf) * 4;
	tot = (size_t)ip[2] << 8 | ip[3];
	if (tot > len - PKT_IP || tot < ihl + 20)
		return -1;
	if (fold(sum16(ip, ihl, 0)) != 0)
		return -1;
	return tcp_sum(ip, ip + ihl, tot - ihl) != 0 ? -1 : 0;
}
