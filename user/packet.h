/* SPDX-License-Identifier: GPL-2.0 */
/*
 * IPv4/TCP frames in userspace: parsing what the XDP program sent up to the
 * dispatcher, and building the segments the dispatcher sends back (ACKs, the
 * balancer's own replies, resets). Checksums are always complete: frames go
 * out through AF_XDP, below any offload.
 */
#ifndef LATEBIND_PACKET_H
#define LATEBIND_PACKET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "maps.h"
#include "rebind.h"
#include "tcp_wire.h"

#define LB_FRAME_HEADROOM (14 + 20 + 60) /* Ethernet, IPv4, TCP with options */

/* A TCP segment as seen on the wire; multi-byte fields in host order. */
struct lb_segment {
	uint8_t dst_mac[6];
	uint8_t src_mac[6];
	__be32 saddr, daddr;
	__be16 sport, dport;
	uint32_t seq, ack;
	uint8_t flags;
	uint16_t window;	/* as in the header, unscaled */
	bool has_ts;
	uint32_t tsval, tsecr;
	uint8_t ttl;
	const uint8_t *opts;	/* build only: raw TCP options (4n bytes) instead of TS */
	uint8_t optlen;
	const uint8_t *extra;	/* build only: raw options (4n bytes) after TS */
	uint8_t extra_len;
	uint16_t ip_flags;	/* IPv4 flag bits besides DF (LB_FIN_NOTICE_IP_FLAG) */
	bool has_rebind;	/* parse only: a per-request binding option (rebind.h) */
	struct lb_rebind_opt rebind;
	bool has_framing;	/* parse only: a probe or answer's framing report after it */
	struct lb_answer_framing framing;
	const uint8_t *payload; /* points into the frame */
	uint32_t len;
};

/*
 * Parse an Ethernet/IPv4/TCP frame. Returns 0, or -1 if it is not one (bad
 * lengths, options, fragments). Checksums are not verified: the XDP program
 * already vouched for the frame's structure, and the kernel for checksums.
 */
int lb_segment_parse(const uint8_t *frame, size_t len, struct lb_segment *seg);

/* A frame's two ends as on the wire (network order). */
struct lb_frame_ends {
	uint32_t saddr, daddr;
	uint16_t sport, dport;
};

/*
 * @frame's ends, if it is IPv4 without options carrying TCP (the only frames
 * the dispatcher takes): true. Cheaper than lb_segment_parse(), for deciding
 * where a frame goes before it is taken.
 */
bool lb_frame_ends(const uint8_t *frame, size_t len, struct lb_frame_ends *e);

/* The 4-tuple of a client segment as the flows map keys it. */
struct lb_flow_key lb_segment_flow_key(const struct lb_segment *seg);

/*
 * Write @seg as a frame into @buf (at most @cap bytes), with a timestamp
 * option when seg->has_ts, valid IPv4 and TCP checksums, DF set. Returns the
 * frame length, or 0 if it does not fit.
 */
size_t lb_segment_build(uint8_t *buf, size_t cap, const struct lb_segment *seg);

/*
 * A RST from the VIP to @f's client at the sequence number the client last
 * acknowledged (its receive point, so it is taken at once), from @own_mac.
 * Without a known ACK (no client packet since the hand-off) there is no safe
 * sequence number: 0, nothing built. Else the frame's length.
 */
size_t lb_client_reset_build(uint8_t *buf, size_t cap, const struct lb_flow_key *key,
			     const struct lb_flow *f, const uint8_t own_mac[6]);

/* 0 if the frame's IPv4 header and TCP checksums are right (options-free IPv4). */
int lb_frame_check_csums(const uint8_t *frame, size_t len);

/* Recompute both checksums, e.g. after a test edited a header on purpose. */
void lb_frame_fix_csums(uint8_t *frame, size_t len);

#endif
