/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The FIN notice: what a backend's TC egress program sends the
 * balancer instead of a FIN segment that carries data. The segment itself goes
 * straight to the client (direct server return for the response's last bytes
 * too); the balancer only needs the fact of the FIN to close the flow.
 *
 * A notice is that segment with its payload cut off: the same IP and TCP
 * headers (options included), seq advanced past the payload so the FIN sits
 * where it really is, IP total length and both checksums to match, the
 * destination MAC the balancer's, and LB_FIN_NOTICE_IP_FLAG set in the IPv4
 * flags. The balancer's XDP program believes that bit only from the flow's own
 * backend MAC; it closes the flow (once) and drops the notice, so the client
 * never sees it. A bare FIN and every RST still go to the balancer whole and
 * are forwarded to the client from there.
 */
#ifndef LATEBIND_FIN_NOTICE_H
#define LATEBIND_FIN_NOTICE_H

/*
 * The reserved bit of the IPv4 flags (RFC 791: must be zero), in host order of
 * frag_off. No sender sets it, and a notice never leaves the link between the
 * backend and the balancer, so it cannot collide with anything on the way.
 */
#define LB_FIN_NOTICE_IP_FLAG 0x8000

/*
 * Payload up to which a FIN segment is split. Beyond it (only with jumbo
 * frames) the segment goes to the balancer whole, like a bare FIN:
 * the notice's checksum needs the payload's sum, taken in a bounded loop.
 */
#ifndef LB_FIN_NOTICE_MAX_PAYLOAD
#define LB_FIN_NOTICE_MAX_PAYLOAD 9216
#endif

#endif
