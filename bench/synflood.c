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

#include "rawframe.h" /* tests/hostile: argument parsing, PRNG, checksums */

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
	uint32_t net;		 /* host order, masked */
	unsigned int host_bits; /* 32 - prefix length */
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
		DEFAULT_COUNT, DEFAULT_SECONDS, RF_MAX_SECONDS, DEFAULT_BATCH, MAX_BATCH);
}

/* Host addresses --ack-flows tuples use: the network's, as randomize_frame picks them. */
static unsigned long long ack_hosts(const struct options *o)
{
	unsigned int host_bits = o->host_bits;

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
	int c;

	*o = (struct options){ .count = DEFAULT_COUNT, .seconds = DEFAULT_SECONDS,
			       .batch = DEFAULT_BATCH };
	rf_net("203.0.113.0/24", &o->net, &o->host_bits);

	while ((c = getopt_long(argc, argv, "i:M:m:d:p:s:c:t:b:S:A:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i':
			o->ifname = optarg;
			break;
		case 'M':
			rf_mac(optarg, o->dst_mac);
			o->have_dst_mac = true;
			break;
		case 'm':
			rf_mac(optarg, o->src_mac);
			o->have_src_mac = true;
			break;
		case 'd':
			o->dst.s_addr = rf_ip(optarg);
			o->have_dst = true;
			break;
		case 'p':
			o->dport = (uint16_t)rf_ull(optarg, 1, 65535, "--dport");
			break;
		case 's':
			rf_net(optarg, &o->net, &o->host_bits);
			break;
		case 'c':
			o->count = rf_ull(optarg, 1, MAX_COUNT, "--count");
			break;
		case 't':
			o->seconds = rf_seconds(optarg);
			break;
		case 'b':
			o->batch = (unsigned int)rf_ull(optarg, 1, MAX_BATCH, "--batch");
			break;
		case 'S':
			o->seed = rf_ull(optarg, 0, ULLONG_MAX, "--seed");
			o->have_seed = true;
			break;
		case 'A':
			o->ack_flows = rf_ull(optarg, 1, 1ULL << 24, "--ack-flows");
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
		rf_die("unexpected argument '%s'", argv[optind]);
	if (!o->ifname || !o->have_dst_mac || !o->have_dst || !o->dport) {
		usage(stderr);
		exit(2);
	}
	if (o->ack_flows) {
		unsigned long long hosts = ack_hosts(o);

		if (o->ack_flows > hosts * (65536 - ACK_SPORT_BASE))
			rf_die("--ack-flows: more tuples than --src-net has address and port pairs");
	}
}

/* --- frames ---------------------------------------------------------------- */

/* Everything that is the same in every frame. */
static void build_template(uint8_t *f, const struct options *o)
{
	uint8_t *ip = f + ETH_LEN, *tcp = ip + IP_LEN, *opt = tcp + TCP_LEN;

	memset(f, 0, FRAME_LEN);
	memcpy(f, o->dst_mac, ETH_ALEN);
	memcpy(f + ETH_ALEN, o->src_mac, ETH_ALEN);
	rf_put16(f + 12, ETHERTYPE_IP);

	ip[0] = 0x45;					/* version 4, ihl 5 */
	rf_put16(ip + 2, IP_LEN + TCP_LEN + TCP_OPT_LEN);	/* total length */
	rf_put16(ip + 6, 0x4000);				/* DF */
	ip[8] = 64;					/* TTL */
	ip[9] = IPPROTO_TCP;
	memcpy(ip + 16, &o->dst.s_addr, 4);		/* already network order */

	rf_put16(tcp + 2, o->dport);
	if (o->ack_flows) {
		tcp[12] = (TCP_LEN + ACK_OPT_LEN) / 4 << 4; /* data offset */
		tcp[13] = 0x18;				    /* ACK | PSH */
		rf_put16(tcp + 14, 502);			    /* window (scaled) */
		/* NOP | NOP | timestamps (TSval at opt+4, TSecr at opt+8) | 8 data bytes */
		opt[0] = 1, opt[1] = 1, opt[2] = 8, opt[3] = 10;
		memcpy(opt + ACK_OPT_LEN, "latebind", ACK_DATA_LEN);
		return;
	}
	tcp[12] = (TCP_LEN + TCP_OPT_LEN) / 4 << 4;	/* data offset */
	tcp[13] = 0x02;					/* SYN */
	rf_put16(tcp + 14, 64240);				/* window */

	/* MSS 1460 | SACK-permitted | timestamps (TSval, TSecr 0) | NOP | wscale 7 */
	opt[0] = 2, opt[1] = 4, rf_put16(opt + 2, 1460);
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
	uint64_t r1 = rf_rand(), r2 = rf_rand();
	uint32_t host, sum;

	i = r1 % o->ack_flows;
	host = (uint32_t)(i % hosts) + (o->host_bits >= 2 ? 1 : 0);
	rf_put16(ip + 4, (uint16_t)(r1 >> 48));		   /* IP ID */
	rf_put16(ip + 10, 0);
	rf_put32(ip + 12, o->net | host);
	rf_put16(ip + 10, rf_fold(rf_sum(ip, IP_LEN, 0)));

	rf_put16(tcp, (uint16_t)(ACK_SPORT_BASE + i / hosts)); /* source port */
	rf_put32(tcp + 4, (uint32_t)r2);			   /* seq */
	rf_put32(tcp + 8, (uint32_t)(r2 >> 32));		   /* ack */
	rf_put32(opt + 4, (uint32_t)(r1 >> 16));		   /* TSval */
	rf_put32(opt + 8, (uint32_t)r2 ^ 0x5a5a5a5a);	   /* TSecr */
	rf_put16(tcp + 16, 0);
	sum = rf_sum(ip + 12, 8, 0);
	sum += IPPROTO_TCP + TCP_LEN + TCP_OPT_LEN;	   /* header, options, data: 40 */
	sum = rf_sum(tcp, TCP_LEN + TCP_OPT_LEN, sum);
	rf_put16(tcp + 16, rf_fold(sum));
}

/* Fill in what varies (source, port, ISN, IP ID, TSval) and the checksums. */
static void randomize_frame(uint8_t *f, const struct options *o)
{
	uint8_t *ip = f + ETH_LEN, *tcp = ip + IP_LEN, *opt = tcp + TCP_LEN;
	unsigned int host_bits = o->host_bits;
	uint64_t r1, r2;
	uint32_t host = 0, saddr, sum;

	if (o->ack_flows) {
		ack_frame(f, o);
		return;
	}
	r1 = rf_rand(), r2 = rf_rand();
	if (host_bits >= 2) /* skip the network and broadcast addresses */
		host = 1 + (uint32_t)(r1 % ((1ULL << host_bits) - 2));
	else if (host_bits == 1)
		host = r1 & 1;
	saddr = o->net | host;

	rf_put16(ip + 4, (uint16_t)(r1 >> 32));		   /* IP ID */
	rf_put16(ip + 10, 0);
	rf_put32(ip + 12, saddr);
	rf_put16(ip + 10, rf_fold(rf_sum(ip, IP_LEN, 0)));

	rf_put16(tcp, (uint16_t)(1024 + (r1 >> 48) % (65536 - 1024))); /* source port */
	rf_put32(tcp + 4, (uint32_t)r2);			   /* ISN */
	rf_put32(opt + 8, (uint32_t)(r2 >> 32));		   /* TSval */
	rf_put16(tcp + 16, 0);
	/* Pseudo-header: addresses, protocol, TCP length; then header and options. */
	sum = rf_sum(ip + 12, 8, 0);
	sum += IPPROTO_TCP + TCP_LEN + TCP_OPT_LEN;
	sum = rf_sum(tcp, TCP_LEN + TCP_OPT_LEN, sum);
	rf_put16(tcp + 16, rf_fold(sum));
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

	rf_prog = "synflood";
	parse_args(argc, argv, &o);

	fd = socket(AF_PACKET, SOCK_RAW, 0); /* protocol 0: this socket receives nothing */
	if (fd < 0) {
		perror("synflood: socket(AF_PACKET) (needs CAP_NET_RAW)");
		return 1;
	}
	memset(&ifr, 0, sizeof(ifr));
	if (strlen(o.ifname) >= IFNAMSIZ)
		rf_die("interface name too long: %s", o.ifname);
	strcpy(ifr.ifr_name, o.ifname);
	if (ioctl(fd, SIOCGIFINDEX, &ifr) < 0)
		rf_die("no interface %s here", o.ifname);
	sll.sll_family = AF_PACKET;
	sll.sll_ifindex = ifr.ifr_ifindex;
	sll.sll_protocol = htons(ETH_P_IP);
	sll.sll_halen = ETH_ALEN;
	memcpy(sll.sll_addr, o.dst_mac, ETH_ALEN);
	if (!o.have_src_mac) {
		if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0)
			rf_die("cannot read the MAC of %s; give --src-mac", o.ifname);
		memcpy(o.src_mac, ifr.ifr_hwaddr.sa_data, ETH_ALEN);
	}
	bypass = setsockopt(fd, SOL_PACKET, PACKET_QDISC_BYPASS, &one, sizeof(one)) == 0;

	if (o.have_seed)
		rf_seed(o.seed);
	else
		rf_seed_auto();

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
	t0 = rf_now();
	deadline = t0 + o.seconds;
	first = o.batch; /* nothing waiting yet */
	for (;;) {
		unsigned long long left = o.count - sent;
		int n;

		if (stop_requested || !left || rf_now() >= deadline)
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
	t1 = rf_now();
	close(fd);

	printf("sent=%llu rejected=%llu seconds=%.3f pps=%.0f cpu_seconds=%.3f qdisc_bypass=%d "
	       "batch=%u\n",
	       sent, rejected, t1 - t0, (t1 > t0) ? (double)sent / (t1 - t0) : 0.0,
	       cpu_seconds() - cpu0, bypass, o.batch);
	return 0;
}
