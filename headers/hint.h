/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The same-holder hint (docs/packet-walk.md §5a): what lets XDP forward a
 * keep-alive connection's next request to its bound backend without the
 * dispatcher, in the common case. One definition for both sides.
 *
 * When the dispatcher binds a request routed by a prefix route whose every
 * match is that route (a "leaf": no other route's path starts with the prefix,
 * and every route of the site is for any host), it gives the flow the
 * prefix's length and FNV-1a hash. XDP takes the next request itself when it
 * starts exactly at req_end, is one whole head in one segment (a GET or HEAD
 * ending in an empty line, nothing after it), its target starts with a byte
 * string of that length and hash, the rest of the path needs no normalising
 * (no '%', "//" or "/."), no header names a body or an Upgrade, and the backend
 * is up. Anything else goes to the dispatcher, which decides as always.
 *
 * A hash collision can only make XDP keep a request on the bound backend that
 * the directory would have sent elsewhere (that backend answers 404); the
 * framing checks compare names by hash too, where a collision only sends a
 * request to the dispatcher.
 */
#ifndef LATEBIND_HINT_H
#define LATEBIND_HINT_H

#include "lb_types.h"

#define LB_HINT_PREFIX_MAX 64	/* longer prefixes give no hint */
#define LB_HINT_HEAD_MAX   1023	/* longer heads go to the dispatcher (a mask: 2^n - 1) */
#define LB_HINT_ROUTES_MAX 16384 /* sites with more routes give no hints (the leaf check sorts them) */

#define LB_FNV_BASIS 0x811c9dc5u
#define LB_FNV_PRIME 0x01000193u

LB_INLINE __u32 lb_fnv_step(__u32 h, __u8 c)
{
	return (h ^ c) * LB_FNV_PRIME;
}

/* Lower-case field names that mean a body or a protocol change, as FNV-1a and length. */
#define LB_HINT_NAME_CONTENT_LENGTH    0x4df9451du /* "content-length", 14 */
#define LB_HINT_NAME_TRANSFER_ENCODING 0xddb4744cu /* "transfer-encoding", 17 */
#define LB_HINT_NAME_UPGRADE	       0xdc97cc77u /* "upgrade", 7 */

LB_INLINE bool lb_hint_name_is_framing(__u32 hash, __u32 len)
{
	return (len == 14 && hash == LB_HINT_NAME_CONTENT_LENGTH) ||
	       (len == 17 && hash == LB_HINT_NAME_TRANSFER_ENCODING) ||
	       (len == 7 && hash == LB_HINT_NAME_UPGRADE);
}

/* `hint_gen` array slot 0: bumped by the daemon when the directory changes. */
struct lb_hint_gen {
	__u32 gen;
};

#endif
