/* SPDX-License-Identifier: GPL-2.0 */
/* Building and checking IPv4/TCP frames for the BPF packet tables. */
#ifndef LATEBIND_TEST_FRAMES_H
#define LATEBIND_TEST_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "packet.h" /* user/packet.h: the builder under test elsewhere */

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

/*
 * Insert @n bytes (4k, at most 40) of IP options after the fixed IPv4 header
 * of a frame built above: ihl, total length and both checksums follow.
 * Returns the new length.
 */
size_t pkt_add_ip_options(uint8_t *frame, size_t len, const uint8_t *opts, size_t n);

#define pkt_check_csums lb_frame_check_csums
#define pkt_fix_csums	lb_frame_fix_csums

/* Offsets into a frame without IP options. */
#define PKT_IP  14
#define PKT_TCP 34

#endif
