// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: a datagram from a peer balancer (user/peer_sync.h,
 * lb_peers_input), the flow-sync wire format and its checks.
 *
 * Input: one byte of flags, then the datagram.
 *   bit 0  the harness writes the right tag into the datagram's last 8 bytes
 *          (so the views themselves get read, not only refused for their tag);
 *   bit 1  it comes from a stranger (another port) instead of the peer;
 *   bit 2  the sequence number is made fresh (else the fuzzer's own, which a
 *          later input of the same start may have used up);
 *   bit 3  its send time is now (else the fuzzer's, mostly too old for a
 *          start not heard from before).
 * The writes happen in that order, the tag last.
 * The flow table is none (fd -1): a view that passes its checks is counted,
 * applying it does nothing.
 *
 * Invariants, beyond ASan/UBSan and LeakSanitizer:
 *   - a datagram is either taken whole (views received grow by its count,
 *     which matches its length: 32 + 48 n + 8 bytes, 1 <= n <= 29) or
 *     rejected whole (the rejected count grows by one, nothing else moves);
 *   - a stranger's datagram, or one without the right tag, is never taken;
 *   - every view taken is counted once: applied, stale or unknown backend.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <stdint.h>
#include <string.h>

#include "clock.h"
#include "flow_table.h"
#include "fuzz_common.h"
#include "peer_sync.h"

#define PEER_PORT 7480
#define C(x)	  (LB_DISP_PEER_##x - LB_DISP_PEER_VIEWS_SENT)

static const struct lb_cookie_secret secret = {
	.key = { 0x0706050403020100ULL, 0x0f0e0d0c0b0a0908ULL }, .period_s = 64, .windows = 2
};
static struct lb_backend backends[LB_MAX_BACKENDS];
static struct lb_flow_table flows;
static struct lb_peers *peers;
static uint64_t fresh_seq = 1ULL << 40;

static void setup(void)
{
	struct lb_config cfg = { .peer_port = 0, .n_peers = 1 };

	inet_pton(AF_INET, "198.51.100.3", &cfg.peers[0].addr);
	cfg.peers[0].port = PEER_PORT;
	inet_pton(AF_INET, "198.51.100.11", &backends[1].addr);
	backends[1].weight = 1;
	lb_flow_table_init(&flows, -1, LB_FLOW_NO_PROGS, backends);
	/* Port 0: any free one; nothing is sent, datagrams come through lb_peers_input. */
	peers = lb_peers_open(&cfg, &flows, backends, &secret);
	CHECK(peers, "cannot open the peer socket");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sockaddr_in from = { .sin_family = AF_INET, .sin_port = htons(PEER_PORT) };
	uint64_t before[LB_PEER_COUNTERS], after[LB_PEER_COUNTERS], tag;
	uint8_t msg[2048];
	size_t len, count = 0;
	bool signed_ok, taken;
	uint8_t flags;

	if (!peers)
		setup();
	if (!size || size - 1 > sizeof(msg))
		return 0;
	flags = data[0];
	len = size - 1;
	memcpy(msg, data + 1, len);
	inet_pton(AF_INET, "198.51.100.3", &from.sin_addr);
	if (flags & 2)
		from.sin_port = htons(PEER_PORT + 1);
	if ((flags & 4) && len >= 24) {
		uint64_t seq = htobe64(fresh_seq++);

		memcpy(msg + 16, &seq, 8);
	}
	if ((flags & 8) && len >= 32) {
		uint64_t now = htobe64(lb_clock_ms(CLOCK_REALTIME));

		memcpy(msg + 24, &now, 8);
	}
	if ((flags & 1) && len >= 8) {
		tag = lb_peers_tag(secret.key, msg, len - 8);
		memcpy(msg + len - 8, &tag, 8);
	}
	memcpy(&tag, msg + len - (len >= 8 ? 8 : 0), len >= 8 ? 8 : 0);
	signed_ok = len >= 8 && tag == lb_peers_tag(secret.key, msg, len - 8);
	if (len > 5)
		count = msg[5];

	lb_peers_counters(peers, before);
	lb_peers_input(peers, &from, msg, len);
	lb_peers_counters(peers, after);

	taken = after[C(VIEWS_RECEIVED)] != before[C(VIEWS_RECEIVED)];
	if (taken) {
		CHECK(after[C(DATAGRAMS_REJECTED)] == before[C(DATAGRAMS_REJECTED)],
		      "a datagram both taken and rejected");
		CHECK(after[C(VIEWS_RECEIVED)] - before[C(VIEWS_RECEIVED)] == count,
		      "took %llu views of a datagram that has %zu",
		      (unsigned long long)(after[C(VIEWS_RECEIVED)] - before[C(VIEWS_RECEIVED)]), count);
		CHECK(count >= 1 && count <= LB_PEER_BATCH && len == 32 + 48 * count + 8,
		      "took a datagram of %zu bytes with %zu views", len, count);
		CHECK(!(flags & 2), "took a stranger's datagram");
		CHECK(signed_ok, "took a datagram without the right tag");
	} else {
		CHECK(after[C(DATAGRAMS_REJECTED)] == before[C(DATAGRAMS_REJECTED)] + 1,
		      "a datagram neither taken nor rejected");
	}
	CHECK(after[C(VIEWS_RECEIVED)] - before[C(VIEWS_RECEIVED)] ==
		      (after[C(VIEWS_APPLIED)] - before[C(VIEWS_APPLIED)]) +
			      (after[C(VIEWS_STALE)] - before[C(VIEWS_STALE)]) +
			      (after[C(VIEWS_UNKNOWN_BACKEND)] - before[C(VIEWS_UNKNOWN_BACKEND)]),
	      "a view counted other than once");
	return 0;
}
