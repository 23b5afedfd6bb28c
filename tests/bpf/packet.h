/* SPDX-License-Identifier: GPL-2.0 */
/* Building and checking IPv4/TCP frames for the BPF packet tables. */
#ifndef LATEBIND_TEST_PACKET_H
#define LATEBIND_TEST_PACKET_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 2048

struct pkt_spec {
	uint8_t src_mac[6], dst_mac[6];
	const char *saddr, *daddr; /* dotted quads */
	uint16_t sport, dport;	   /* host order */
	uint32_t seq, ack;	   /* host order */
	uint8_t flags;		   /* TCP flags byte */
	uint16_t window;
	const uint8_t *opts;	   /* raw TCP options, padded by the caller to 4n */
	size_t optlen;
	const uint8_t *payload;
	size_t paylen;
};

/* Writes a well-formed frame (valid checksums) into @buf; returns its length. */
size_t pkt_build_tcp(uint8_t *buf, const struct pkt_spec *s);

/* 0 if the IPv4 header and TCP checksums of the frame are right. */
int pkt_check_csums(const uint8_t *frame, size_t len);

/* Recompute both checksums after a test edited the frame on purpose. */
void pkt_fix_csums(uint8_t *frame, size_t len);

/* Offsets into a frame without IP options. */
#define PKT_IP  14
#define PKT_TCP 34

#endif
