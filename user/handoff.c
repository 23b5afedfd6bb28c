// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include <bpf/bpf.h>

#include "handoff.h"
#include "log.h"
#include "packet.h"

static bool mac_known(const uint8_t mac[6])
{
	static const uint8_t zero[6];

	return memcmp(mac, zero, 6) != 0;
}

int lb_handoff_cookie(void *ctx, struct lb_dispatcher *d, const struct lb_conn *c,
		      uint32_t backend)
{
	struct lb_handoff *h = ctx;
	struct lb_backend *b = &h->backends[backend];
	struct lb_flow flow = { .state = LB_FLOW_BOUND, .backend = backend };
	struct lb_conn_view v;
	uint32_t mss, off = 0;

	lb_conn_describe(c, &v);
	if (!mac_known(b->mac)) {
		pr_debug("backend %s: MAC not resolved yet (or give it as 'mac:' in the config)\n",
			 h->cfg->backends[backend].name);
		return -1;
	}
	memcpy(flow.backend_mac, b->mac, 6);
	memcpy(flow.client_hop_mac, v.client_hop_mac, 6);
	flow.last_seen_ns = h->now_ns;
	/* The flow first: the backend's answer may bring client packets at once. */
	if (lb_flow_insert(lb_dispatcher_flows(d), &v.key, &flow))
		return -1;
	__atomic_fetch_add(&b->active, 1, __ATOMIC_RELAXED);

	/* The client's own segments, cut to what it may send (its MSS less options). */
	mss = v.opts.mss - (v.ts_ok ? 12 : 0);
	do {
		uint32_t n = v.request_len - off > mss ? mss : v.request_len - off;
		struct lb_segment s = {
			.saddr = v.key.saddr, .daddr = v.key.daddr,
			.sport = v.key.sport, .dport = v.key.dport,
			.seq = v.client_isn + 1 + off, .ack = v.cookie + 1,
			.flags = LB_TH_ACK | (off + n == v.request_len ? LB_TH_PSH : 0),
			.window = v.client_window,
			.has_ts = v.ts_ok, .tsval = v.tsval, .tsecr = v.tsecr,
			.payload = v.request + off, .len = n,
		};
		size_t len;

		memcpy(s.src_mac, v.own_mac, 6);
		memcpy(s.dst_mac, b->mac, 6);
		len = lb_segment_build(h->frame, sizeof(h->frame), &s);
		if (!len || h->send(h->send_ctx, h->frame, len))
			pr_warn("hand-off to %s: a request segment could not be sent; the client "
				"will retransmit it\n", h->cfg->backends[backend].name);
		off += n;
	} while (off < v.request_len);
	return 0;
}
