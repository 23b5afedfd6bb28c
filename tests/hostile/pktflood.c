// SPDX-License-Identifier: GPL-2.0
/*
 * pktflood: bounded floods of hostile frames at a VIP, for the lab tests.
 *
 *   pktflood ack     forged ACKs: random spoofed source and port, random seq and
 *                    ack (so random "cookies"), flags ACK, PSH+ACK with a request
 *                    head as payload, FIN+ACK or RST+ACK in turn
 *   pktflood garbage malformed frames, one kind after the other, each built to
 *                    hit one drop reason of the balancer's XDP program
 *                    (headers/stats.h), plus random TCP and non-TCP packets
 *
 * Frames are written whole to one interface through AF_PACKET (sendmmsg). The
 * flood stops after --count frames or --seconds, whichever comes first (both
 * bounded), or on SIGINT/SIGTERM. At the end one line of key=value fields goes
 * to stdout: sent=N (frames the kernel took) refused=N (frames it refused, each
 * sent again) seconds=S pps=R, then the frames sent per kind.
 *
 * Spoofs sources by design: only inside the lab's network namespaces, towards
 * documentation addresses.
 */
#include "rawframe.h" /* first: it defines _GNU_SOURCE */

#include <getopt.h>
#include <signal.h>

#define BATCH	   32
#define FRAME_MAX  512

/* Garbage kinds, named after the reason they are meant to be counted under. */
#define KINDS(X)                                                               \
	X(IP_TRUNC, "drop_ip_trunc")       /* IPv4 ethertype, < 20 bytes after */ \
	X(IP_VERSION, "ip_version")        /* version != 4: drop_ip_ihl        */ \
	X(IP_IHL, "drop_ip_ihl")           /* ihl < 5                          */ \
	X(IP_OPTIONS, "drop_ip_options")   /* ihl > 5                          */ \
	X(IP_FRAGMENT, "drop_ip_fragment") /* MF or an offset                  */ \
	X(TCP_TRUNC, "drop_tcp_trunc")     /* < 20 bytes of TCP                */ \
	X(IP_LEN, "drop_ip_len")           /* tot_len past the frame or < 40   */ \
	X(TCP_DOFF, "drop_tcp_doff")       /* doff < 5 or past the end         */ \
	X(TCP_FLAGS, "drop_tcp_flags")     /* no SYN, no ACK; or SYN+ACK/FIN/RST */ \
	X(SYN_PAYLOAD, "drop_syn_payload") /* data on a SYN                    */ \
	X(TCP_OPTIONS, "drop_tcp_options") /* a SYN's option of length 0 or 1  */ \
	X(RANDOM, "random")                /* random TCP header and payload, no SYN */ \
	X(OTHER_PROTO, "pass_not_vip")     /* not TCP: the host's business     */

enum kind {
#define K_ENUM(id, name) K_##id,
	KINDS(K_ENUM)
#undef K_ENUM
	K_MAX
};

static const char *const kind_names[K_MAX] = {
#define K_NAME(id, name) [K_##id] = name,
	KINDS(K_NAME)
#undef K_NAME
};

struct opts {
	bool garbage;
	const char *ifname;
	uint8_t dst_mac[6], src_mac[6];
	bool have_dst_mac, have_src_mac;
	uint32_t dst;  /* network order */
	uint16_t dport;
	uint32_t net;  /* host order */
	unsigned int host_bits;
	unsigned long long count;
	double seconds;
};

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: pktflood ack|garbage --interface IF --dst-mac MAC --dst IP [--dport PORT]\n"
		"                [--src-mac MAC] [--src-net A.B.C.D/LEN] [--count N] [--seconds S]\n"
		"                [--seed N]\n"
		"Floods DST with forged ACKs or malformed frames from random sources in\n"
		"--src-net (default 192.0.2.0/26), out of IF. Stops after --count frames\n"
		"(default 100000, at most %llu) or --seconds (default 3, at most %.0f).\n",
		RF_MAX_COUNT, RF_MAX_SECONDS);
}

static void parse_args(int argc, char **argv, struct opts *o)
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
		{ "seed", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	bool seeded = false;
	int c;

	*o = (struct opts){ .dport = 80, .count = 100000, .seconds = 3 };
	rf_net("192.0.2.0/26", &o->net, &o->host_bits);
	if (argc < 2 || (strcmp(argv[1], "ack") && strcmp(argv[1], "garbage"))) {
		usage(stderr);
		exit(2);
	}
	o->garbage = !strcmp(argv[1], "garbage");
	optind = 2;
	while ((c = getopt_long(argc, argv, "i:M:m:d:p:s:c:t:S:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o->ifname = optarg; break;
		case 'M': rf_mac(optarg, o->dst_mac); o->have_dst_mac = true; break;
		case 'm': rf_mac(optarg, o->src_mac); o->have_src_mac = true; break;
		case 'd': o->dst = rf_ip(optarg); break;
		case 'p': o->dport = (uint16_t)rf_ull(optarg, 1, 65535, "port"); break;
		case 's': rf_net(optarg, &o->net, &o->host_bits); break;
		case 'c': o->count = rf_ull(optarg, 1, RF_MAX_COUNT, "count"); break;
		case 't': o->seconds = rf_seconds(optarg); break;
		case 'S': rf_seed(rf_ull(optarg, 0, ~0ULL, "seed")); seeded = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		rf_die("unexpected argument '%s'", argv[optind]);
	if (!o->ifname || !o->have_dst_mac || !o->dst)
		rf_die("--interface, --dst-mac and --dst are required");
	if (!seeded)
		rf_seed_auto();
}

static uint16_t random_port(void)
{
	return (uint16_t)(1024 + rf_rand() % (65536 - 1024));
}

static const char request_head[] = "GET /shared/1k.bin HTTP/1.1\r\nHost: 192.0.2.80\r\n\r\n";

/* A forged ACK; returns its length. */
static size_t build_ack(uint8_t *f, const struct opts *o, uint64_t n)
{
	static const uint8_t flag_cycle[4] = { RF_ACK, RF_PSH | RF_ACK, RF_FIN | RF_ACK,
					       RF_RST | RF_ACK };
	uint8_t *ip = f + RF_ETH_LEN, *th = ip + RF_IP_LEN;
	uint8_t flags = flag_cycle[n % 4];
	size_t plen = flags == (RF_PSH | RF_ACK) ? sizeof(request_head) - 1 : 0;
	uint64_t r = rf_rand();

	rf_eth(f, o->dst_mac, o->src_mac, ETHERTYPE_IP);
	rf_ipv4(ip, rf_random_host(o->net, o->host_bits), o->dst, IPPROTO_TCP,
		(uint16_t)(RF_IP_LEN + RF_TCP_LEN + plen));
	rf_ipv4_csum(ip);
	rf_tcp(th, random_port(), o->dport, (uint32_t)r, (uint32_t)(r >> 32), flags, 502);
	memcpy(th + RF_TCP_LEN, request_head, plen);
	rf_tcp_csum(ip, th, RF_TCP_LEN + plen);
	return RF_ETH_LEN + RF_IP_LEN + RF_TCP_LEN + plen;
}

/* IPv4 + TCP to the VIP with @plen random payload bytes; returns the length. */
static size_t tcp_frame(uint8_t *f, const struct opts *o, uint8_t flags, size_t plen)
{
	uint8_t *ip = f + RF_ETH_LEN, *th = ip + RF_IP_LEN;
	uint64_t r = rf_rand();

	rf_eth(f, o->dst_mac, o->src_mac, ETHERTYPE_IP);
	rf_ipv4(ip, rf_random_host(o->net, o->host_bits), o->dst, IPPROTO_TCP,
		(uint16_t)(RF_IP_LEN + RF_TCP_LEN + plen));
	rf_tcp(th, random_port(), o->dport, (uint32_t)r, (uint32_t)(r >> 32), flags, 64240);
	rf_fill_random(th + RF_TCP_LEN, plen);
	return RF_ETH_LEN + RF_IP_LEN + RF_TCP_LEN + plen;
}

/* Checksums of a well-formed IPv4/TCP frame (garbage is garbage in its own way). */
static void fix_csums(uint8_t *f, size_t len)
{
	uint8_t *ip = f + RF_ETH_LEN;

	rf_ipv4_csum(ip);
	rf_tcp_csum(ip, ip + RF_IP_LEN, len - RF_ETH_LEN - RF_IP_LEN);
}

static size_t build_garbage(uint8_t *f, const struct opts *o, enum kind k)
{
	uint8_t *ip = f + RF_ETH_LEN, *th = ip + RF_IP_LEN;
	uint64_t r = rf_rand();
	size_t len, plen;

	switch (k) {
	case K_IP_TRUNC:
		rf_eth(f, o->dst_mac, o->src_mac, ETHERTYPE_IP);
		len = RF_ETH_LEN + r % RF_IP_LEN; /* 0..19 bytes of "IPv4" */
		rf_fill_random(ip, RF_IP_LEN);
		return len;
	case K_IP_VERSION:
		len = tcp_frame(f, o, RF_ACK, r % 64);
		fix_csums(f, len);
		ip[0] = (uint8_t)((4 + 1 + (r >> 8) % 15) % 16 << 4 | 5); /* never 4 */
		return len;
	case K_IP_IHL:
		len = tcp_frame(f, o, RF_ACK, r % 64);
		fix_csums(f, len);
		ip[0] = (uint8_t)(0x40 | (r >> 8) % 5); /* ihl 0..4 */
		return len;
	case K_IP_OPTIONS: {
		unsigned int ihl = 6 + (unsigned int)((r >> 8) % 10); /* 6..15 */
		size_t optlen = (ihl - 5) * 4;

		len = tcp_frame(f, o, RF_SYN, optlen); /* room for the options */
		memmove(th + optlen, th, RF_TCP_LEN);
		rf_fill_random(th, optlen);
		ip[0] = (uint8_t)(0x40 | ihl);
		rf_ipv4_csum(ip);
		return len;
	}
	case K_IP_FRAGMENT:
		len = tcp_frame(f, o, (r >> 8) & 1 ? RF_SYN : RF_ACK, r % 64);
		if ((r >> 9) & 1)
			rf_put16(ip + 6, (uint16_t)(0x2000 | (r >> 16) % 0x2000)); /* MF */
		else
			rf_put16(ip + 6, (uint16_t)(1 + (r >> 16) % 0x1fff)); /* an offset */
		fix_csums(f, len);
		return len;
	case K_TCP_TRUNC:
		len = tcp_frame(f, o, RF_SYN, 0);
		len = RF_ETH_LEN + RF_IP_LEN + (r >> 8) % RF_TCP_LEN; /* 0..19 bytes of TCP */
		rf_put16(ip + 2, (uint16_t)(len - RF_ETH_LEN));
		rf_ipv4_csum(ip);
		return len;
	case K_IP_LEN:
		len = tcp_frame(f, o, RF_ACK, r % 64);
		fix_csums(f, len);
		if ((r >> 8) & 1) /* claims more than the frame holds */
			rf_put16(ip + 2, (uint16_t)(len - RF_ETH_LEN + 1 + (r >> 16) % 1400));
		else /* less than an IPv4 and a TCP header */
			rf_put16(ip + 2, (uint16_t)((r >> 16) % (RF_IP_LEN + RF_TCP_LEN)));
		rf_ipv4_csum(ip);
		return len;
	case K_TCP_DOFF:
		plen = (r >> 8) % 32;
		len = tcp_frame(f, o, RF_ACK, plen);
		if ((r >> 16) & 1) /* below the minimum */
			th[12] = (uint8_t)((r >> 24) % 5 << 4);
		else /* options running past the segment's end */
			th[12] = (uint8_t)((RF_TCP_LEN + plen) / 4 + 1 +
					   (r >> 24) % (15 - (RF_TCP_LEN + plen) / 4)) << 4;
		fix_csums(f, len);
		return len;
	case K_TCP_FLAGS: {
		/* No SYN and no ACK, or a SYN with ACK, FIN or RST beside it. */
		static const uint8_t bad[] = { 0, RF_FIN, RF_RST, RF_PSH, RF_FIN | RF_PSH | 0x20,
					       0x20, 0xc0 | RF_RST, RF_SYN | RF_ACK,
					       RF_SYN | RF_FIN, RF_SYN | RF_RST, 0xff };
		len = tcp_frame(f, o, bad[(r >> 8) % sizeof(bad)], 0);
		fix_csums(f, len);
		return len;
	}
	case K_SYN_PAYLOAD:
		len = tcp_frame(f, o, RF_SYN, 1 + (r >> 8) % 100);
		fix_csums(f, len);
		return len;
	case K_TCP_OPTIONS: {
		size_t optlen = 4 * (1 + (r >> 8) % 10); /* 4..40 */
		static const uint8_t kinds[] = { 2, 3, 4, 8, 5, 30, 254 };

		len = tcp_frame(f, o, RF_SYN, optlen);
		th[12] = (uint8_t)((RF_TCP_LEN + optlen) / 4 << 4);
		/* NOPs, then an option whose length byte is 0 or 1, then anything. */
		plen = (r >> 16) % (optlen - 1);
		memset(th + RF_TCP_LEN, 1, plen);
		th[RF_TCP_LEN + plen] = kinds[(r >> 24) % sizeof(kinds)];
		th[RF_TCP_LEN + plen + 1] = (uint8_t)((r >> 32) & 1);
		fix_csums(f, len);
		return len;
	}
	case K_RANDOM:
		len = tcp_frame(f, o, 0, (r >> 8) % 200);
		rf_fill_random(th, RF_TCP_LEN);
		rf_put16(th + 2, o->dport);
		th[13] &= (uint8_t)~RF_SYN; /* SYNs are the SYN flood's business */
		fix_csums(f, len);
		return len;
	case K_OTHER_PROTO: {
		static const uint8_t protos[] = { 1, 17, 47, 50, 132, 253 };

		len = tcp_frame(f, o, 0, (r >> 8) % 64);
		rf_fill_random(th, RF_TCP_LEN);
		ip[9] = protos[(r >> 16) % sizeof(protos)];
		rf_ipv4_csum(ip);
		return len;
	}
	default:
		return 0;
	}
}

int main(int argc, char **argv)
{
	static uint8_t frames[BATCH][FRAME_MAX];
	static struct iovec iov[BATCH];
	static struct mmsghdr msgs[BATCH];
	unsigned long long per_kind[K_MAX] = { 0 }, sent = 0, refused = 0;
	enum kind batch_kind[BATCH] = { 0 };
	struct sigaction sa = { 0 };
	struct rf_sock s;
	struct opts o;
	unsigned int first, fill, i;
	double t0, t1;

	rf_prog = "pktflood";
	parse_args(argc, argv, &o);
	rf_open(&s, o.ifname, false);
	if (!o.have_src_mac)
		memcpy(o.src_mac, s.mac, 6);
	for (i = 0; i < BATCH; i++) {
		iov[i].iov_base = frames[i];
		msgs[i].msg_hdr = (struct msghdr){ .msg_name = &s.to, .msg_namelen = sizeof(s.to),
						   .msg_iov = &iov[i], .msg_iovlen = 1 };
	}
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	t0 = rf_now();
	first = BATCH; /* nothing waiting */
	fill = 0;
	for (uint64_t built = 0;;) {
		int n;

		if (stop || sent >= o.count || rf_now() - t0 >= o.seconds)
			break;
		if (first == BATCH) {
			unsigned long long left = o.count - sent;

			fill = left < BATCH ? (unsigned int)left : BATCH;
			first = BATCH - fill;
			for (i = first; i < BATCH; i++, built++) {
				if (o.garbage) {
					batch_kind[i] = (enum kind)(built % K_MAX);
					iov[i].iov_len = build_garbage(frames[i], &o, batch_kind[i]);
				} else {
					iov[i].iov_len = build_ack(frames[i], &o, built);
				}
			}
		}
		n = sendmmsg(s.fd, &msgs[first], BATCH - first, 0);
		if (n < 0) {
			if (errno != ENOBUFS && errno != EAGAIN && errno != EINTR)
				rf_die("sendmmsg: %s", strerror(errno));
			if (errno != EINTR)
				refused++;
			usleep(20); /* let the receiver drain */
			continue;
		}
		if (o.garbage)
			for (i = first; i < first + (unsigned int)n; i++)
				per_kind[batch_kind[i]]++;
		sent += (unsigned int)n;
		first += (unsigned int)n;
		/*
		 * Short count: the next frame was refused (a full veth ring drops it
		 * and counts it in the port's tx_dropped); it goes again, so the
		 * lab can tell these from frames lost after they were sent.
		 */
		if (first < BATCH)
			refused++;
	}
	t1 = rf_now();
	close(s.fd);

	printf("sent=%llu refused=%llu seconds=%.3f pps=%.0f", sent, refused, t1 - t0,
	       t1 > t0 ? sent / (t1 - t0) : 0.0);
	if (o.garbage)
		for (i = 0; i < K_MAX; i++)
			printf(" %s=%llu", kind_names[i], per_kind[i]);
	printf("\n");
	return 0;
}
