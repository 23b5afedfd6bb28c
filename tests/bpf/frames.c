// SPDX-License-Identifier: GPL-2.0
/* The test spec of a frame, built by the dispatcher's own frame builder. */
#include <arpa/inet.h>
#include <string.h>

#include "frames.h"

size_t pkt_build_tcp(uint8_t *buf, const struct pkt_spec *s)
{
	struct lb_segment seg = {
		.sport = htons(s->sport), .dport = htons(s->dport),
		.seq = s->seq, .ack = s->ack, .flags = s->flags, .window = s->window,
		.opts = s->opts, .optlen = s->optlen,
		.payload = s->payload, .len = s->paylen,
	};
	static const uint8_t no_opts[1];

	if (!seg.opts)
		seg.opts = no_opts; /* raw (empty) options, never a default timestamp */
	memcpy(seg.dst_mac, s->dst_mac, 6);
	memcpy(seg.src_mac, s->src_mac, 6);
	inet_pton(AF_INET, s->saddr, &seg.saddr);
	inet_pton(AF_INET, s->daddr, &seg.daddr);
	return lb_segment_build(buf, PKT_MAX, &seg);
}

size_t pkt_add_ip_options(uint8_t *frame, size_t len, const uint8_t *opts, size_t n)
{
	uint8_t *ip = frame + PKT_IP;
	unsigned int tot = (ip[2] << 8 | ip[3]) + n;

	memmove(frame + PKT_TCP + n, frame + PKT_TCP, len - PKT_TCP);
	memcpy(frame + PKT_TCP, opts, n);
	ip[0] = 0x40 | (5 + n / 4);
	ip[2] = tot >> 8;
	ip[3] = tot;
	pkt_fix_csums(frame, len + n);
	return len + n;
}
