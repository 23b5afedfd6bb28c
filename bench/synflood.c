// SPDX-License-Identifier: GPL-2.0
/*
 * synflood: a small, bounded TCP SYN generator for the latebind lab.
 *
 * It writes whole Ethernet frames to one interface through an AF_PACKET raw
 * socket, in batches (sendmmsg), bypassing the qdisc where the kernel allows it
 * (PACKET_QDISC_BYPASS), so the cost per packet on the sending side stays small
 * next to what the receiver's XDP program spends.
 *
 * Every frame is a SYN as a Linux client sends it: IPv4 (DF, TTL 64, no
 * options), TCP window 64240 and the options MSS 1460, SACK-permitted,
 * timestamps, NOP, window scale 7 (20 option bytes, Linux's order), 74 bytes on
 * the wire. The source address is random within --src-net (its network and
 * broadcast addresses skipped when the prefix is /30 or shorter), the source
 * port random in 1024..65535, ISN, IP ID and TSval random. IPv4 and TCP
 * checksums are correct, so the receiver can verify them.
 *
 * The flood is always bounded: it stops after --count packets or --seconds,
 * whichever comes first (both have defaults and limits), or on SIGINT/SIGTERM.
 * At the end it prints one line of key=value fields on stdout:
 *
 *   sent=N rejected=N seconds=S pps=R cpu_seconds=C qdisc_bypass=0|1 batch=N
 *
 * sent: frames the kernel accepted; rejected: send attempts it refused (a full
 * device queue: ENOBUFS/EAGAIN; each is retried); pps: sent / seconds;
 * cpu_seconds: user + system time of this process (getrusage). On a veth whose
 * peer runs XDP, the receiver's NAPI poll — its XDP program and what that sends
 * back — usually runs in softirq right in the sender's system call, and without
 * CONFIG_IRQ_TIME_ACCOUNTING that time is charged to the sender: cpu_seconds /
 * sent is then the CPU cost of one packet's whole trip, however much of the CPU
 * other processes took meanwhile.
 *
 * With --ack-flows N it sends, instead of SYNs, the segments of N established
 * connections: ACK + 8 bytes of data, options NOP NOP timestamps, also 74 bytes
 * on the wire, each on one of N fixed 4-tuples drawn at random per frame.
 * Tuple i (0 <= i < N) is source address net + 1 + i % H and source port
 * 10000 + i / H, where H is the number of host addresses in --src-net (its
 * network and broadcast addresses skipped as above); bench/fastflows.c makes
 * the matching entries in latebind's `flows` map, so these frames take the
 * balancer's fast path (bench/xdp.sh).
 *
 * Only run it inside a network namespace you made for it, towards documentation
 * addresses: it spoofs sources by design. Used by bench/xdp.sh, and meant for
 * the SYN-flood hostile-traffic test too.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <linux/if_packet.h>
#include <net/ethernet.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#ifndef PACKET_QDISC_BYPASS
#define PACKET_QDISC_BYPASS 20
#endif

#define ETH_LEN 14
#define IP_LEN 20
#define TCP_LEN 20
#define TCP_OPT_LEN 20
#define FRAME_LEN (ETH_LEN + IP_LEN + TCP_LEN + TCP_OPT_LEN) /* 74 */

#define MAX_BATCH 1024
#define DEFAULT_BATCH 64
#define DEFAULT_COUNT 1000000ULL
#define DEFAULT_SECONDS 5.0
#define MAX_COUNT (1ULL << 40)
#define MAX_SECONDS 600.0
#define ACK_DATA_LEN 8			   /* with NOP NOP TS, an ACK is as long as a SYN */
#define ACK_OPT_LEN (TCP_OPT_LEN - ACK_DATA_LEN) /* 12 */
#define ACK_SPORT_BASE 10000

struct options {
	const char *ifname;
	uint8_t dst_mac[ETH_ALEN];
	uint8_t src_mac[ETH_ALEN];
	bool have_dst_mac, have_src_mac;
	struct in_addr dst;
	bool have_dst;
	uint16_t dport;
	uint32_t net;      /* host order, masked */
	unsigned int plen; /* prefix length */
	unsigned long long count;
	double seconds;
	unsigned int batch;
	uint64_t seed;
	bool have_seed;
	unsigned long long ack_flows; /* 0: SYNs */
};

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: synflood --interface IF --dst-mac MAC --dst IP --dport PORT\n"
		"                [--src-mac MAC] [--src-net A.B.C.D/LEN] [--count N]\n"
		"                [--seconds S] [--batch N] [--seed N] [--ack-flows N]\n"
		"\n"
		"Sends TCP SYNs (Linux-like options, valid checksums) from random\n"
		"sources in --src-net (default 203.0.113.0/24) and random ports to\n"
		"DST:PORT, as Ethernet frames out of IF (AF_PACKET). Stops after\n"
		"--count packets (default %llu, at most 2^40) or --seconds (default %.0f,\n"
		"at most %.0f), whichever comes first. --src-mac defaults to IF's MAC;\n"
		"--batch is the sendmmsg batch (default %d, at most %d).\n"
		"--ack-flows N: ACKs with 8 data bytes on N fixed 4-tuples instead (tuple i:\n"
		"source net + 1 + i %% H, port 10000 + i / H; H hosts in --src-net).\n"
		"Prints: sent=N rejected=N seconds=S pps=R cpu_seconds=C qdisc_bypass=0|1 batch=N\n",
		DEFAULT_COUNT, DEFAULT_SECONDS, MAX_SECONDS, DEFAULT_BATCH, MAX_BATCH);
}

static void die(const char *fmt, const char *arg)
{
	fprintf(stderr, "synflood: ");
	fprintf(stderr, fmt, arg);
	fprintf(stderr, "\n");
	exit(2);
}

static bool parse_mac(const char *s, uint8_t mac[ETH_ALEN])
{
	unsigned int b[ETH_ALEN];
	char tail;

	if (sscanf(s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != ETH_ALEN)
		return false;
	for (int i = 0; i < ETH_ALEN; i++)
		mac[i] = (uint8_t)b[i];
	return true;
}

static bool parse_ull(const char *s, unsigned long long min, unsigned long long max,
		      unsigned long long *out)
{
	char *end;
	unsigned long long v;

	if (*s == '-' || *s == '\0')
		return false;
	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || *end || v < min || v > max)
		return false;
	*out = v;
	return true;
}

static bool parse_net(const char *s, uint32_t *net, unsigned int *plen)
{
	char buf[32];
	char *slash;
	struct in_addr a;
	unsigned long long len = 32;

	if (strlen(s) >= sizeof(buf))
		return false;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		if (!parse_ull(slash + 1, 0, 32, &len))
			return false;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return false;
	*plen = (unsigned int)len;
	*net = ntohl(a.s_addr) & (len ? ~0U << (32 - len) : 0);
	return true;
}

/* Host addresses --ack-flows tuples use: the network's, as randomize_frame picks them. */
static unsigned long long ack_hosts(const struct options *o)
{
	unsigned int host_bits = 32 - o->plen;

	if (host_bits >= 2)
		return (1ULL << host_bits) - 2;
	return host_bits == 1 ? 2 : 1;
}

static void parse_args(int argc, char **argv, struct options *o)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "dst-mac", required_argument, NULL, 'M' },
		{ "src-mac", required_argument, NULL, 'm' },
		{ "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'p' },
		{ "src-net", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'c' },
		{ "seconds", required_argument, NULL, 't' },
		{ "batch", required_argument, NULL, 'b' },
		{ "seed", required_argument, NULL, 'S' },
		{ "ack-flows", required_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	unsigned long long v;
	char *end;
	int c;

	*o = (struct options){ .count = DEFAULT_COUNT, .seconds = DEFAULT_SECONDS,
			       .batch = DEFAULT_BATCH };
	parse_net("203.0.113.0/24", &o->net, &o->plen);

	while ((c = getopt_long(argc, argv, "i:M:m:d:p:s:c:t:b:S:A:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->ifname = optarg;
			break;
		case 'M':
			if (!parse_mac(optarg, o->dst_mac))
				die("bad --dst-mac '%s' (want aa:bb:cc:dd:ee:ff)", optarg);
			o->have_dst_mac = true;
			break;
		case 'm':
			if (!parse_mac(optarg, o->src_mac))
				die("bad --src-mac '%s' (want aa:bb:cc:dd:ee:ff)", optarg);
			o->have_src_mac = true;
			break;
		case 'd':
			if (inet_pton(AF_INET, optarg, &o->dst) != 1)
				die("bad --dst '%s' (want an IPv4 address)", optarg);
			o->have_dst = true;
			break;
		case 'p':
			if (!parse_ull(optarg, 1, 65535, &v))
				die("bad --dport '%s' (want 1..65535)", optarg);
			o->dport = (uint16_t)v;
			break;
		case 's':
			if (!parse_net(optarg, &o->net, &o->plen))
				die("bad --src-net '%s' (want A.B.C.D/LEN)", optarg);
			break;
		case 'c':
			if (!parse_ull(optarg, 1, MAX_COUNT, &o->count))
				die("bad --count '%s' (want 1..2^40)", optarg);
			break;
		case 't':
			errno = 0;
			o->seconds = strtod(optarg, &end);
			if (errno || *end || !(o->seconds > 0) || o->seconds > MAX_SECONDS)
				die("bad --seconds '%s' (want more than 0, at most 600)", optarg);
			break;
		case 'b':
			if (!parse_ull(optarg, 1, MAX_BATCH, &v))
				die("bad --batch '%s' (want 1..1024)", optarg);
			o->batch = (unsigned int)v;
			break;
		case 'S':
			if (!parse_ull(optarg, 0, ULLONG_MAX, &v))
				die("bad --seed '%s'", optarg);
			o->seed = v;
			o->have_seed = true;
			break;
		case 'A':
			if (!parse_ull(optarg, 1, 1ULL << 24, &o->ack_flows))
				die("bad --ack-flows '%s' (want 1..2^24)", optarg);
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			exit(2);
		}
	}
	if (optind != argc)
		die("unexpected argument '%s'", argv[optind]);
	if (!o->ifname || !o->have_dst_mac || !o->have_dst || !o->dport) {
		usage(stderr);
		exit(2);
	}
	if (o->ack_flows) {
		unsigned long long hosts = ack_hosts(o);

		if (o->ack_flows > hosts * (65536 - ACK_SPORT_BASE))
			die("--ack-flows: more than --src-net has address and port pairs for%s", "");
	}
}

/* --- random numbers: splitmix64 to seed, xorshift64* to draw ------------- */

static uint64_t rng_state;

static uint64_t splitmix64(uint64_t *x)
{
	uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

static inline uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dULL;
}

/* --- checksums (RFC 1071) ------------------------------------------------ */

static uint32_t csum_partial(const void *buf, size_t len, uint32_t sum)
{
	const uint8_t *p = buf;

	for (; len > 1; p += 2, len -= 2)
		sum += (uint32_t)p[0] << 8 | p[1];
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

/* The one's complement of the folded sum: the checksum field's value (put16 it). */
static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static inline void put16(uint8_t *p, uint16_t v) /* v in host order */
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static inline void put32(uint8_t *p, uint32_t v) /* v in host order */
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

/* --- frames ---------------------------------------------------------------- */

/* Everything that is the same in every frame. */
static void build_template(uint8_t *f, const struct options *o)
{
	uint8_t *ip = f + ETH_LEN, *tcp = ip + IP_LEN, *opt = tcp + TCP_LEN;

	memset(f, 0, FRAME_LEN);
	memcpy(f, o->dst_mac, ETH_ALEN);
	memcpy(f + ETH_ALEN, o->src_mac, ETH_ALEN);
	put16(f + 12, ETHERTYPE_IP);

	ip[0] = 0x45;					/* version 4, ihl 5 */
	put16(ip + 2, IP_LEN + TCP_LEN + TCP_OPT_LEN);	/* total length */
	put16(ip + 6, 0x4000);				/* DF */
	ip[8] = 64;					/* TTL */
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 16, &o->dst.s_addr, 4);		/* already network order */

	put16(tcp + 2, o->dport);
	if (o->ack_flows) {
		tcp[12] = (TCP_LEN + ACK_OPT_LEN) / 4 << 4; /* data offset */
		tcp[13] = 0x18;				    /* ACK | PSH */
		put16(tcp + 14, 502);			    /* window (scaled) */
		/* NOP | NOP | timestamps (TSval at opt+4, TSecr at opt+8) | 8 data bytes */
		opt[0] = 1, opt[1] = 1, opt[2] = 8, opt[3] = 10;
		memcpy(opt + ACK_OPT_LEN, "latebind", ACK_DATA_LEN);
		return;
	}
	tcp[12] = (TCP_LEN + TCP_OPT_LEN) / 4 << 4;	/* data offset */
	tcp[13] = 0x02;					/* SYN */
	put16(tcp + 14, 64240);				/* window */

	/* MSS 1460 | SACK-permitted | timestamps (TSval, TSecr 0) | NOP | wscale 7 */
	opt[0] = 2, opt[1] = 4, put16(opt + 2, 1460);
	opt[4] = 4, opt[5] = 2;
	opt[6] = 8, opt[7] = 10;			/* TSval at opt+8, TSecr at opt+12 */
	opt[16] = 1;
	opt[17] = 3, opt[18] = 3, opt[19] = 7;
}

/*
 * An established connection's segment on tuple rnd % ack_flows: source, port,
 * seq, ack, IP ID and TSval/TSecr vary; the checksums are right.
 */
static void ack_frame(uint8_t *f, const struct options *o)
{
	uint8_t *ip = f + ETH_LEN, *tcp = ip + IP_LEN, *opt = tcp + TCP_LEN;
	unsigned long long hosts = ack_hosts(o), i;
	uint64_t r1 = rnd(), r2 = rnd();
	uint32_t host, sum;

	i = r1 % o->ack_flows;
	host = (uint32_t)(i % hosts) + (32 - o->plen >= 2 ? 1 : 0);
	put16(ip + 4, (uint16_t)(r1 >> 48));		   /* IP ID */
	put16(ip + 10, 0);
	put32(ip + 12, o->net | host);
	put16(ip + 10, csum_fold(csum_partial(ip, IP_LEN, 0)));

	put16(tcp, (uint16_t)(ACK_SPORT_BASE + i / hosts)); /* source port */
	put32(tcp + 4, (uint32_t)r2);			   /* seq */
	put32(tcp + 8, (uint32_t)(r2 >> 32));		   /* ack */
	put32(opt + 4, (uint32_t)(r1 >> 16));		   /* TSval */
	put32(opt + 8, (uint32_t)r2 ^ 0x5a5a5a5a);	   /* TSecr */
	put16(tcp + 16, 0);
	sum = csum_partial(ip + 12, 8, 0);
	sum += IPPROTO_TCP + TCP_LEN + TCP_OPT_LEN;	   /* header, options, data: 40 */
	sum = csum_partial(tcp, TCP_LEN + TCP_OPT_LEN, sum);
	put16(tcp + 16, csum_fold(sum));
}

/* Fill in what varies (source, port, ISN, IP ID, TSval) and the checksums. */
static void randomize_frame(uint8_t *f, const struct options *o)
{
	uint8_t *ip = f + ETH_LEN, *tcp = ip + IP_LEN, *opt = tcp + TCP_LEN;
	unsigned int host_bits = 32 - o->plen;
	uint64_t r1, r2;
	uint32_t host = 0, saddr, sum;

	if (o->ack_flows) {
		ack_frame(f, o);
		return;
	}
	r1 = rnd(), r2 = rnd();
	if (host_bits >= 2) /* skip the network and broadcast addresses */
		host = 1 + (uint32_t)(r1 % ((1ULL << host_bits) - 2));
	else if (host_bits == 1)
		host = r1 & 1;
	saddr = o->net | host;

	put16(ip + 4, (uint16_t)(r1 >> 32));		   /* IP ID */
	put16(ip + 10, 0);
	put32(ip + 12, saddr);
	put16(ip + 10, csum_fold(csum_partial(ip, IP_LEN, 0)));

	put16(tcp, (uint16_t)(1024 + (r1 >> 48) % (65536 - 1024))); /* source port */
	put32(tcp + 4, (uint32_t)r2);			   /* ISN */
	put32(opt + 8, (uint32_t)(r2 >> 32));		   /* TSval */
	put16(tcp + 16, 0);
	/* Pseudo-header: addresses, protocol, TCP length; then header and options. */
	sum = csum_partial(ip + 12, 8, 0);
	sum += IPPROTO_TCP + TCP_LEN + TCP_OPT_LEN;
	sum = csum_partial(tcp, TCP_LEN + TCP_OPT_LEN, sum);
	put16(tcp + 16, csum_fold(sum));
}

static double tv_seconds(struct timeval tv)
{
	return (double)tv.tv_sec + tv.tv_usec / 1e6;
}

/* User + system time of this process so far. */
static double cpu_seconds(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru))
		return 0;
	return tv_seconds(ru.ru_utime) + tv_seconds(ru.ru_stime);
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	static uint8_t frames[MAX_BATCH][FRAME_LEN];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	struct sockaddr_ll sll = { 0 };
	struct sigaction sa = { 0 };
	struct options o;
	struct ifreq ifr;
	uint8_t template[FRAME_LEN];
	unsigned long long sent = 0, rejected = 0;
	unsigned int first = 0, fill; /* frames[first..batch) are waiting to go */
	int fd, one = 1, bypass;
	double t0, t1, deadline, cpu0;

	parse_args(argc, argv, &o);

	fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: this socket receives nothing */
	if (fd < 0) {
		perror("synflood: socket(AF_PACKET) (needs CAP_NET_RAW)");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(o.ifname) >= IFNAMSIZ)
		die("interface name too long: %s", o.ifname);
	strcpy(ifr.ifr_name, o.ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		die("no interface %s here", o.ifname);
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifr.ifr_ifindex;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, o.dst_mac, ETH_ALEN);
	if (!o.have_src_mac) {
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
			die("cannot read the MAC of %s; give --src-mac", o.ifname);
		memcpy(o.src_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	}
	bypass = setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) == 0;

	if (o.have_seed) {
		rng_state = splitmix64(&o.seed);
	} else {
		uint64_t s = (uint64_t)time(NULL) ^ (uint64_t)getpid() << 32 ^
			     (uint64_t)(now() * 1e9);
		rng_state = splitmix64(&s);
	}
	if (!rng_state)
		rng_state = 1; /* xorshift's one fixed point */

	build_template(template, &o);
	for (unsigned int i = 0; i < o.batch; i++) {
		iov[i] = (struct iovec){ .iov_base = frames[i], .iov_len = FRAME_LEN };
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &sll, .msg_namelen = sizeof(sll),
						   .msg_iov = &iov[i], .msg_iovlen = 1 };
		memcpy(frames[i], template, FRAME_LEN);
	}

	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	cpu0 = cpu_seconds();
	t0 = now();
	deadline = t0 + o.seconds;
	first = o.batch; /* nothing waiting yet */
	for (;;) {
		unsigned long long left = o.count - sent;
		int n;

		if (stop_requested || !left || now() >= deadline)
			break;
		/* Refill the batch: new random frames where the last call sent some. */
		if (first == o.batch) {
			fill = left < o.batch ? (unsigned int)left : o.batch;
			first = o.batch - fill;
			for (unsigned int i = first; i < o.batch; i++)
				randomize_frame(frames[i], &o);
		}
		n = sendmmsg(fd, &msgs[first], o.batch - first, 0);
		if (n < 0) {
			if (errno == ENOBUFS || errno == EAGAIN || errno == EINTR) {
				if (errno != EINTR)
					rejected++;
				sched_yield(); /* let the receiver drain its ring */
				continue;
			}
			perror("synflood: sendmmsg");
			close(fd);
			return 1;
		}
		sent += (unsigned int)n;
		first += (unsigned int)n;
		if (first < o.batch) /* the next one was refused; it goes again */
			rejected++;
	}
	t1 = now();
	close(fd);

	printf("sent=%llu rejected=%llu seconds=%.3f pps=%.0f cpu_seconds=%.3f qdisc_bypass=%d "
	       "batch=%u\n",
	       sent, rejected, t1 - t0, (t1 > t0) ? (double)sent / (t1 - t0) : 0.0,
	       cpu_seconds() - cpu0, bypass, o.batch);
	return 0;
}
