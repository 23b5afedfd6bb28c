// SPDX-License-Identifier: GPL-2.0
/*
 * Flow bindings to and from the peer balancers (see peer_sync.h): the wire
 * format, its tag, and applying what arrives.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "log.h"
#include "peer_sync.h"

#define SYNC_MAGIC   0x4c425359u /* "LBSY" */
#define SYNC_VERSION 1
#define SYNC_MAX_AGE_MS 30000 /* a new start's first datagram older than this is a replay */
/* Index of counter LB_DISP_PEER_@x in lb_peers.counters. */
#define C(x) (LB_DISP_PEER_##x - LB_DISP_PEER_VIEWS_SENT)
#define SYNC_RX_BURST	64    /* datagrams read per call: the loop has other work too */

/* On the wire every field is in network order. */
struct sync_hdr {
	uint32_t magic;
	uint8_t version;
	uint8_t count;	   /* flow views that follow */
	uint16_t reserved;
	uint64_t boot;	   /* the sender's start, random */
	uint64_t seq;	   /* per start, from 1 up */
	uint64_t sent_ms;  /* the sender's CLOCK_REALTIME */
} __attribute__((packed));
_Static_assert(sizeof(struct sync_hdr) == 32, "sync_hdr layout");

struct sync_view {
	uint32_t saddr, daddr; /* the flow key, as in lb_flow_key */
	uint16_t sport, dport;
	uint8_t state;	       /* LB_FLOW_BOUND or LB_FLOW_CLOSING */
	uint8_t flags;	       /* LB_FLOW_F_REQUESTS, LB_FLOW_F_TS */
	uint8_t syn_opts;
	uint8_t pad;
	uint32_t backend;      /* the backend's address: slots differ between balancers */
	uint8_t client_hop_mac[6];
	uint16_t binds;
	uint32_t req_end, srv_seq, client_ack;
	uint32_t age_ms;       /* since the sender last saw a packet of it (0: just changed) */
	uint32_t pad2;
} __attribute__((packed));
_Static_assert(sizeof(struct sync_view) == 48, "sync_view layout");

#define SYNC_TAG_LEN 8
#define SYNC_MAX_LEN (sizeof(struct sync_hdr) + LB_PEER_BATCH * sizeof(struct sync_view) + SYNC_TAG_LEN)
_Static_assert(SYNC_MAX_LEN <= 1472, "a datagram fits a 1500-byte MTU");

struct peer {
	struct in_addr addr;
	uint16_t port;
	uint64_t boot, seq; /* the latest accepted from it */
	struct lb_peer_stat stat;
};

struct lb_peers {
	/*
	 * The dispatcher threads queue views as they bind and move connections,
	 * the main thread as its expiry pass goes, and each flushes: one mutex
	 * over the outgoing batch, its sequence number and the peers' list. It is
	 * taken per bound connection and per loop turn, never per packet, and a
	 * datagram is numbered and sent under it, so datagrams leave in sequence
	 * order (the receiver takes only a sequence above the last it took).
	 */
	pthread_mutex_t lock;
	int fd;
	struct peer peers[LB_MAX_PEERS];
	size_t n_peers;
	struct lb_flow_table *flows;
	const struct lb_backend *backends;
	const struct lb_cookie_secret *secret;
	uint64_t boot, seq;
	uint8_t out[SYNC_MAX_LEN];
	size_t out_views;
	uint64_t counters[LB_PEER_COUNTERS];
};

/* ---- SipHash-2-4 --------------------------------------------------------- */

static uint64_t rotl(uint64_t x, int b)
{
	return (x << b) | (x >> (64 - b));
}

static void sipround(uint64_t v[4])
{
	v[0] += v[1], v[1] = rotl(v[1], 13), v[1] ^= v[0], v[0] = rotl(v[0], 32);
	v[2] += v[3], v[3] = rotl(v[3], 16), v[3] ^= v[2];
	v[0] += v[3], v[3] = rotl(v[3], 21), v[3] ^= v[0];
	v[2] += v[1], v[1] = rotl(v[1], 17), v[1] ^= v[2], v[2] = rotl(v[2], 32);
}

static void sip_compress(uint64_t v[4], uint64_t m)
{
	v[3] ^= m;
	sipround(v);
	sipround(v);
	v[0] ^= m;
}

uint64_t lb_siphash(const __u64 key[2], const void *data, size_t len)
{
	uint64_t v[4] = { 0x736f6d6570736575ULL ^ key[0], 0x646f72616e646f6dULL ^ key[1],
			  0x6c7967656e657261ULL ^ key[0], 0x7465646279746573ULL ^ key[1] };
	const uint8_t *p = data;
	uint64_t m, last = (uint64_t)len << 56;
	size_t i;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&m, p, 8);
		sip_compress(v, le64toh(m));
	}
	for (i = 0; i < len; i++)
		last |= (uint64_t)p[i] << (8 * i);
	sip_compress(v, last);
	v[2] ^= 0xff;
	for (i = 0; i < 4; i++)
		sipround(v);
	return v[0] ^ v[1] ^ v[2] ^ v[3];
}

/*
 * The tag's key, derived from a cookie key rather than the key itself, so no
 * datagram is ever tagged with the key that signs cookies.
 */
static void tag_key(const __u64 cookie_key[2], __u64 out[2])
{
	static const char label[] = "latebind peer sync v1";

	out[0] = lb_siphash(cookie_key, label, sizeof(label) - 1);
	out[1] = lb_siphash(cookie_key, label, sizeof(label));
}

uint64_t lb_peers_tag(const __u64 cookie_key[2], const void *msg, size_t len)
{
	__u64 k[2];

	tag_key(cookie_key, k);
	return htobe64(lb_siphash(k, msg, len));
}

/* ---- sending ------------------------------------------------------------- */

struct lb_peers *lb_peers_open(const struct lb_config *cfg, struct lb_flow_table *flows,
			       const struct lb_backend *backends,
			       const struct lb_cookie_secret *secret)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(cfg->peer_port) };
	struct lb_peers *p = calloc(1, sizeof(*p));
	int one = 1, err;

	if (!p)
		return NULL;
	p->fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	/* SO_REUSEADDR: the next daemon of a restart without loss binds while this one leaves. */
	if (p->fd < 0 || setsockopt(p->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
	    bind(p->fd, (struct sockaddr *)&sa, sizeof(sa))) {
		err = errno;
		if (p->fd >= 0)
			close(p->fd);
		free(p);
		errno = err;
		return NULL;
	}
	pthread_mutex_init(&p->lock, NULL);
	p->flows = flows;
	p->backends = backends;
	p->secret = secret;
	if (getentropy(&p->boot, sizeof(p->boot)))
		p->boot = lb_clock_ns(CLOCK_REALTIME);
	lb_peers_reconfigure(p, cfg);
	return p;
}

void lb_peers_close(struct lb_peers *p)
{
	if (!p)
		return;
	close(p->fd);
	pthread_mutex_destroy(&p->lock);
	free(p);
}

int lb_peers_fd(const struct lb_peers *p)
{
	return p->fd;
}

void lb_peers_counters(struct lb_peers *p, uint64_t out[LB_PEER_COUNTERS])
{
	pthread_mutex_lock(&p->lock);
	memcpy(out, p->counters, sizeof(p->counters));
	pthread_mutex_unlock(&p->lock);
}

void lb_peers_reconfigure(struct lb_peers *p, const struct lb_config *cfg)
{
	struct peer old[LB_MAX_PEERS];
	size_t i, j, n_old = p->n_peers;

	pthread_mutex_lock(&p->lock);
	memcpy(old, p->peers, sizeof(old));
	p->n_peers = 0;
	for (i = 0; i < cfg->n_peers && i < LB_MAX_PEERS; i++) {
		struct peer np = { .addr = cfg->peers[i].addr,
				   .port = cfg->peers[i].port ? cfg->peers[i].port : cfg->peer_port };

		/* A peer kept keeps its replay state. */
		for (j = 0; j < n_old; j++)
			if (old[j].addr.s_addr == np.addr.s_addr && old[j].port == np.port)
				np = old[j];
		p->peers[p->n_peers++] = np;
	}
	pthread_mutex_unlock(&p->lock);
}

/* Send the batch queued; the caller holds p->lock. */
static void flush_locked(struct lb_peers *p)
{
	struct sync_hdr *h = (struct sync_hdr *)p->out;
	size_t len, i;
	uint64_t tag;

	if (!p->out_views)
		return;
	*h = (struct sync_hdr){
		.magic = htonl(SYNC_MAGIC), .version = SYNC_VERSION, .count = (uint8_t)p->out_views,
		.boot = htobe64(p->boot), .seq = htobe64(++p->seq),
		.sent_ms = htobe64(lb_clock_ms(CLOCK_REALTIME)),
	};
	len = sizeof(*h) + p->out_views * sizeof(struct sync_view);
	tag = lb_peers_tag(p->secret->key, p->out, len);
	memcpy(p->out + len, &tag, SYNC_TAG_LEN);
	len += SYNC_TAG_LEN;
	for (i = 0; i < p->n_peers; i++) {
		struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons(p->peers[i].port),
					  .sin_addr = p->peers[i].addr };

		if (sendto(p->fd, p->out, len, 0, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
			p->counters[C(SEND_ERRORS)]++;
			p->peers[i].stat.send_errors++;
		} else {
			p->counters[C(DATAGRAMS_SENT)]++;
			p->peers[i].stat.datagrams_sent++;
		}
	}
	p->out_views = 0;
}

void lb_peers_flush(struct lb_peers *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	flush_locked(p);
	pthread_mutex_unlock(&p->lock);
}

void lb_peers_changed(void *arg, const struct lb_flow_key *k, const struct lb_flow *f)
{
	struct lb_peers *p = arg;
	struct sync_view *v;
	uint64_t now = lb_clock_ns(CLOCK_MONOTONIC), age;

	if (f->backend >= LB_MAX_BACKENDS || k->proto != IPPROTO_TCP)
		return;
	pthread_mutex_lock(&p->lock);
	if (!p->n_peers) {
		pthread_mutex_unlock(&p->lock);
		return;
	}
	if (p->out_views == LB_PEER_BATCH)
		flush_locked(p);
	age = f->last_seen_ns < now ? (now - f->last_seen_ns) / LB_NS_PER_MS : 0;
	v = (struct sync_view *)(p->out + sizeof(struct sync_hdr)) + p->out_views++;
	*v = (struct sync_view){
		.saddr = k->saddr, .daddr = k->daddr, .sport = k->sport, .dport = k->dport,
		.state = (uint8_t)f->state, .flags = f->flags & (LB_FLOW_F_REQUESTS | LB_FLOW_F_TS),
		.syn_opts = f->syn_opts, .backend = p->backends[f->backend].addr,
		.binds = htons(f->binds), .req_end = htonl(f->req_end),
		.srv_seq = htonl(f->srv_seq), .client_ack = htonl(f->client_ack),
		.age_ms = htonl(age > UINT32_MAX ? UINT32_MAX : (uint32_t)age),
	};
	memcpy(v->client_hop_mac, f->client_hop_mac, 6);
	p->counters[C(VIEWS_SENT)]++;
	pthread_mutex_unlock(&p->lock);
}

/* ---- receiving ----------------------------------------------------------- */

/* The peer a datagram came from: its address, and the port it listens on (its source port). */
static struct peer *peer_of(struct lb_peers *p, const struct sockaddr_in *from)
{
	size_t i;

	for (i = 0; i < p->n_peers; i++)
		if (p->peers[i].addr.s_addr == from->sin_addr.s_addr &&
		    p->peers[i].port == ntohs(from->sin_port))
			return &p->peers[i];
	return NULL;
}

/* The slot of the backend at @addr (network order), or -1. */
static int slot_of(const struct lb_peers *p, uint32_t addr)
{
	int i;

	for (i = 0; i < LB_MAX_BACKENDS; i++)
		if (p->backends[i].addr == addr && p->backends[i].weight)
			return i;
	return -1;
}

/* The datagram's tag is right under the current or the previous cookie key. */
static bool tag_ok(const struct lb_peers *p, const uint8_t *msg, size_t len)
{
	uint64_t tag;

	memcpy(&tag, msg + len, SYNC_TAG_LEN);
	if (tag == lb_peers_tag(p->secret->key, msg, len))
		return true;
	return p->secret->prev_until_s &&
	       lb_clock_ns(CLOCK_TAI) / LB_NS_PER_S < p->secret->prev_until_s &&
	       tag == lb_peers_tag(p->secret->prev_key, msg, len);
}

/* A datagram from @from, checked whole before anything in it is used. */
static bool datagram_ok(struct lb_peers *p, struct peer *from, const void *msg, size_t len)
{
	const struct sync_hdr *h = (const struct sync_hdr *)msg;
	uint64_t boot, seq, sent, now;

	if (len < sizeof(*h) + SYNC_TAG_LEN || ntohl(h->magic) != SYNC_MAGIC ||
	    h->version != SYNC_VERSION || !h->count || h->count > LB_PEER_BATCH ||
	    len != sizeof(*h) + h->count * sizeof(struct sync_view) + SYNC_TAG_LEN ||
	    !tag_ok(p, msg, len - SYNC_TAG_LEN))
		return false;
	boot = be64toh(h->boot);
	seq = be64toh(h->seq);
	/* Accepted from it before (seq counts from 1): the same start goes on. */
	if (from->seq && boot == from->boot)
		return seq > from->seq;
	/* Another start of the peer: fresh, or an old datagram played again. */
	sent = be64toh(h->sent_ms);
	now = lb_clock_ms(CLOCK_REALTIME);
	return sent + SYNC_MAX_AGE_MS > now && now + SYNC_MAX_AGE_MS > sent;
}

static void apply_view(struct lb_peers *p, const struct sync_view *v, uint64_t now_ns)
{
	struct lb_flow_key k = { .saddr = v->saddr, .daddr = v->daddr, .sport = v->sport,
				 .dport = v->dport, .proto = IPPROTO_TCP };
	uint64_t age_ns = (uint64_t)ntohl(v->age_ms) * LB_NS_PER_MS;
	int slot = slot_of(p, v->backend), ret;
	struct lb_flow f;

	p->counters[C(VIEWS_RECEIVED)]++;
	if (slot < 0) {
		p->counters[C(VIEWS_UNKNOWN_BACKEND)]++;
		return;
	}
	if (v->state != LB_FLOW_BOUND && v->state != LB_FLOW_CLOSING) {
		p->counters[C(VIEWS_STALE)]++;
		return;
	}
	f = (struct lb_flow){
		.state = v->state, .backend = (uint32_t)slot, .client_ack = ntohl(v->client_ack),
		.last_seen_ns = age_ns < now_ns ? now_ns - age_ns : 0,
		.req_end = ntohl(v->req_end), .flags = v->flags & (LB_FLOW_F_REQUESTS | LB_FLOW_F_TS),
		.syn_opts = v->syn_opts, .binds = ntohs(v->binds), .srv_seq = ntohl(v->srv_seq),
	};
	memcpy(f.backend_mac, p->backends[slot].mac, 6);
	memcpy(f.client_hop_mac, v->client_hop_mac, 6);
	ret = lb_flow_apply_peer(p->flows, &k, &f);
	if (ret == LB_FLOW_END_ENDED)
		p->counters[C(VIEWS_APPLIED)]++;
	else
		p->counters[C(VIEWS_STALE)]++;
}

void lb_peers_input(struct lb_peers *p, const struct sockaddr_in *from, const void *msg,
		    size_t len)
{
	const struct sync_hdr *h = msg;
	struct sync_view v;
	struct peer *peer;
	uint64_t now_ns;
	int i;

	/* The peers' list and their figures are shared with the senders (p->lock). */
	pthread_mutex_lock(&p->lock);
	peer = peer_of(p, from);
	if (!peer || !datagram_ok(p, peer, msg, len)) {
		p->counters[C(DATAGRAMS_REJECTED)]++;
		pthread_mutex_unlock(&p->lock);
		return;
	}
	peer->boot = be64toh(h->boot);
	peer->seq = be64toh(h->seq);
	peer->stat.last_heard_ms = lb_clock_ms(CLOCK_REALTIME);
	peer->stat.views_received += h->count;
	pthread_mutex_unlock(&p->lock);
	now_ns = lb_clock_ns(CLOCK_MONOTONIC);
	for (i = 0; i < h->count; i++) {
		/* Copied out: the views sit at any alignment in the datagram. */
		memcpy(&v, (const uint8_t *)msg + sizeof(*h) + i * sizeof(v), sizeof(v));
		apply_view(p, &v, now_ns);
	}
}

void lb_peers_receive(struct lb_peers *p)
{
	uint8_t msg[SYNC_MAX_LEN + 1]; /* one more: a longer datagram is seen as such */
	int n;

	for (n = 0; n < SYNC_RX_BURST; n++) {
		struct sockaddr_in from = {};
		socklen_t fl = sizeof(from);
		ssize_t len = recvfrom(p->fd, msg, sizeof(msg), 0, (struct sockaddr *)&from, &fl);

		if (len < 0)
			return;
		lb_peers_input(p, &from, msg, (size_t)len);
	}
}

size_t lb_peers_stats(struct lb_peers *p, struct lb_peer_stat out[LB_MAX_PEERS])
{
	size_t i, n;

	memset(out, 0, LB_MAX_PEERS * sizeof(*out));
	pthread_mutex_lock(&p->lock);
	for (i = 0; i < p->n_peers; i++) {
		out[i] = p->peers[i].stat;
		out[i].addr = p->peers[i].addr.s_addr;
		out[i].port = p->peers[i].port;
	}
	n = p->n_peers;
	pthread_mutex_unlock(&p->lock);
	return n;
}
