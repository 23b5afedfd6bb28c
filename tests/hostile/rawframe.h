/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Small helpers shared by the hostile-traffic tools of the lab tests: argument
 * parsing, a fast PRNG, RFC 1071 checksums, Ethernet/IPv4/TCP frame building
 * and an AF_PACKET socket on one interface.
 *
 * These tools spoof addresses by design. Run them only inside the lab's network
 * namespaces (tests/lab), towards documentation addresses. Every sending loop
 * is bounded by a packet count and a time limit.
 */
#ifndef HOSTILE_RAWFRAME_H
#define HOSTILE_RAWFRAME_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RF_ETH_LEN 14
#define RF_IP_LEN  20
#define RF_TCP_LEN 20

#define RF_FIN 0x01
#define RF_SYN 0x02
#define RF_RST 0x04
#define RF_PSH 0x08
#define RF_ACK 0x10

#define RF_MAX_SECONDS 120.0
#define RF_MAX_COUNT   10000000ULL

static const char *rf_prog = "hostile";

static inline void __attribute__((noreturn, format(printf, 1, 2))) rf_die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", rf_prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(2);
}

/* ---- arguments ----------------------------------------------------------- */

static inline void rf_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		rf_die("bad MAC '%s' (want aa:bb:cc:dd:ee:ff)", s);
	for (int i = 0; i < 6; i++)
		mac[i] = (uint8_t)b[i];
}

/* An IPv4 address, returned in network order. */
static inline uint32_t rf_ip(const char *s)
{
	struct in_addr a;

	if (inet_pton(AF_INET, s, &a) != 1)
		rf_die("bad IPv4 address '%s'", s);
	return a.s_addr;
}

static inline unsigned long long rf_ull(const char *s, unsigned long long min,
					unsigned long long max, const char *what)
{
	char *end;
	unsigned long long v;

	errno = 0;
	if (*s == '-' || !*s)
		rf_die("bad %s '%s'", what, s);
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		rf_die("bad %s '%s' (want %llu..%llu)", what, s, min, max);
	return v;
}

static inline double rf_seconds(const char *s)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || *end || !(v > 0) || v > RF_MAX_SECONDS)
		rf_die("bad seconds '%s' (want more than 0, at most %.0f)", s, RF_MAX_SECONDS);
	return v;
}

/* "A.B.C.D/LEN" → network (host order) and the number of host bits. */
static inline void rf_net(const char *s, uint32_t *net, unsigned int *host_bits)
{
	char buf[32], *slash;
	unsigned long long len = 32;

	if (strlen(s) >= sizeof(buf))
		rf_die("bad network '%s'", s);
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		len = rf_ull(slash + 1, 8, 32, "prefix length");
	}
	*net = ntohl(rf_ip(buf)) & (len == 32 ? ~0U : ~(~0U >> len));
	*host_bits = 32 - (unsigned int)len;
}

/* ---- time and random numbers ----------------------------------------------- */

static inline double rf_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint64_t rf_rng = 0x853c49e6748fea9bULL;

static inline void rf_seed(uint64_t s)
{
	/* splitmix64 once, so that nearby seeds give unrelated streams */
	s += 0x9e3779b97f4a7c15ULL;
	s = (s ^ (s >> 30)) * 0xbf58476d1ce4e5b9ULL;
	s = (s ^ (s >> 27)) * 0x94d049bb133111ebULL;
	rf_rng = (s ^ (s >> 31)) | 1;
}

static inline void rf_seed_auto(void)
{
	rf_seed((uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^ (uint64_t)(rf_now() * 1e9));
}

/* xorshift64* */
static inline uint64_t rf_rand(void)
{
	rf_rng ^= rf_rng >> 12;
	rf_rng ^= rf_rng << 25;
	rf_rng ^= rf_rng >> 27;
	return rf_rng * 0x2545f4914f6cdd1dULL;
}

static inline void rf_fill_random(uint8_t *p, size_t n)
{
	while (n) {
		uint64_t r = rf_rand();
		size_t k = n < 8 ? n : 8;

		memcpy(p, &r, k);
		p += k;
		n -= k;
	}
}

/* A random host of the network: its network and broadcast addresses skipped. */
static inline uint32_t rf_random_host(uint32_t net, unsigned int host_bits)
{
	uint32_t span;

	if (host_bits < 2)
		return htonl(net | (host_bits ? (uint32_t)(rf_rand() & 1) : 0));
	span = (host_bits >= 32 ? 0xffffffffU : (1U << host_bits)) - 2;
	return htonl(net | (1 + (uint32_t)(rf_rand() % span)));
}

/* ---- checksums and bytes ---------------------------------------------------- */

static inline uint32_t rf_sum(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static inline uint16_t rf_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void rf_put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void rf_put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static inline uint16_t rf_get16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rf_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* ---- frames ------------------------------------------------------------------ */

static inline void rf_eth(uint8_t *f, const uint8_t dst[6], const uint8_t src[6], uint16_t type)
{
	memcpy(f, dst, 6);
	memcpy(f + 6, src, 6);
	rf_put16(f + 12, type);
}

/* An options-free IPv4 header; addresses in network order. */
static inline void rf_ipv4(uint8_t *ip, uint32_t saddr, uint32_t daddr, uint8_t proto,
			   uint16_t tot_len)
{
	memset(ip, 0, RF_IP_LEN);
	ip[0] = 0x45;
	rf_put16(ip + 2, tot_len);
	rf_put16(ip + 4, (uint16_t)rf_rand());
	rf_put16(ip + 6, 0x4000); /* DF */
	ip[8] = 64;
	ip[9] = proto;
	memcpy(ip + 12, &saddr, 4);
	memcpy(ip + 16, &daddr, 4);
}

static inline void rf_ipv4_csum(uint8_t *ip)
{
	unsigned int ihl = (ip[0] & 0xf) * 4u;

	rf_put16(ip + 10, 0);
	rf_put16(ip + 10, rf_fold(rf_sum(ip, ihl < RF_IP_LEN ? RF_IP_LEN : ihl, 0)));
}

/* A TCP header without options (ports in host order). */
static inline void rf_tcp(uint8_t *th, uint16_t sport, uint16_t dport, uint32_t seq, uint32_t ack,
			  uint8_t flags, uint16_t window)
{
	memset(th, 0, RF_TCP_LEN);
	rf_put16(th, sport);
	rf_put16(th + 2, dport);
	rf_put32(th + 4, seq);
	rf_put32(th + 8, ack);
	th[12] = 5 << 4;
	th[13] = flags;
	rf_put16(th + 14, window);
}

/* The TCP checksum over @len bytes of segment (header and payload) after @ip. */
static inline void rf_tcp_csum(const uint8_t *ip, uint8_t *th, size_t len)
{
	uint32_t sum = rf_sum(ip + 12, 8, 0);

	sum += 6 + (uint32_t)len;
	rf_put16(th + 16, 0);
	rf_put16(th + 16, rf_fold(rf_sum(th, len, sum)));
}

/* ---- AF_PACKET ----------------------------------------------------------------- */

struct rf_sock {
	int fd;
	int ifindex;
	uint8_t mac[6];
	struct sockaddr_ll to;
};

/*
 * A raw socket on @ifname. @rx: also receive every frame the interface sees,
 * in both directions (ETH_P_ALL: a tap before any bridge takes the frame);
 * else the socket receives nothing. The destination MAC goes into every frame,
 * so @to is only what sendto() needs.
 */
static inline void rf_open(struct rf_sock *s, const char *ifname, bool rx)
{
	struct ifreq ifr;
	struct sockaddr_ll bind_to = { 0 };
	int one = 1;

	s->fd = socket(AF_PACKET, SOCK_RAW, rx ? htons(ETH_P_ALL) : 0);
	if (s->fd < 0)
		rf_die("socket(AF_PACKET): %s (needs CAP_NET_RAW)", strerror(errno));
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(ifname) >= IFNAMSIZ)
		rf_die("interface name too long: %s", ifname);
	strcpy(ifr.ifr_name, ifname);
	if (ioctl(s->fd, SIOCGIFINDEX, &ifr) < 0)
		rf_die("no interface %s here", ifname);
	s->ifindex = ifr.ifr_ifindex;
	if (ioctl(s->fd, SIOCGIFHWADDR, &ifr) < 0)
		rf_die("cannot read the MAC of %s", ifname);
	memcpy(s->mac, ifr.ifr_hwaddr.sa_data, 6);
	if (rx) {
		bind_to.sll_family = AF_PACKET;
		bind_to.sll_protocol = htons(ETH_P_ALL);
		bind_to.sll_ifindex = s->ifindex;
		if (bind(s->fd, (struct sockaddr *)&bind_to, sizeof(bind_to)) < 0)
			rf_die("bind(%s): %s", ifname, strerror(errno));
	}
	/* Straight to the driver: no qdisc in the way (best effort). */
	(void)setsockopt(s->fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one));
	memset(&s->to, 0, sizeof(s->to));
	s->to.sll_family = AF_PACKET;
	s->to.sll_ifindex = s->ifindex;
	s->to.sll_halen = 6;
}

/* Send one frame; a full device queue is retried briefly. Returns 0 or -1. */
static inline int rf_send(struct rf_sock *s, const uint8_t *frame, size_t len)
{
	for (int tries = 0; tries < 1000; tries++) {
		if (sendto(s->fd, frame, len, 0, (struct sockaddr *)&s->to, sizeof(s->to)) ==
		    (ssize_t)len)
			return 0;
		if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
			rf_die("sendto: %s", strerror(errno));
		usleep(50);
	}
	return -1;
}

#endif
