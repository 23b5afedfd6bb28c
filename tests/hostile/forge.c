// SPDX-License-Identifier: GPL-2.0
/*
 * forge: send forged hand-off segments (TCP ACK + request head) and report what
 * comes back, for the lab's spoofed hand-off tests.
 *
 * Each of --count segments is an ACK with PSH and the --payload, from --src to
 * --dst:--dport, written out of --interface to --dst-mac. The "cookie" it
 * acknowledges is either
 *   random     (default) random seq and ack, a fresh source port per segment;
 *   handshake  a real one: first a SYN from --src to --vip:--dport through
 *              --vip-mac, whose SYN/ACK carries the balancer's cookie; then
 *              the segments acknowledge that cookie exactly as a client would,
 *              but go to --dst through --dst-mac instead.
 * Then it listens on the interface for --listen-ms and counts every TCP frame
 * from --dst:--dport (or the VIP) back to the ports it used.
 *
 * Prints one line: cookie=random|valid sent=N replies=N rst=N synack=N acks=N
 * data_bytes=N http=N (http: replies whose payload starts with "HTTP/").
 * Exit status 0 when it ran, 1 when the handshake got no SYN/ACK, 2 on usage.
 *
 * Spoofs by design: only inside the lab's network namespaces.
 */
#include "rawframe.h" /* first: it defines _GNU_SOURCE */

#include <getopt.h>
#include <poll.h>

#define MAX_PORTS 4096

struct opts {
	const char *ifname;
	uint8_t dst_mac[6], vip_mac[6], src_mac[6];
	bool have_dst_mac, have_vip_mac, have_src_mac;
	uint32_t src, dst, vip; /* network order */
	uint16_t dport, sport;
	bool handshake;
	const char *payload;
	unsigned int count;
	unsigned int listen_ms;
};

struct tally {
	unsigned int replies, rst, synack, acks, http;
	unsigned long long data_bytes;
};

static uint16_t ports[MAX_PORTS];
static unsigned int n_ports;

static void usage(FILE *f)
{
	fprintf(f,
		"usage: forge --interface IF --dst-mac MAC --src IP --dst IP [--dport PORT]\n"
		"             [--sport PORT] [--src-mac MAC] [--payload TEXT] [--count N]\n"
		"             [--listen-ms MS] [--handshake --vip IP --vip-mac MAC]\n"
		"Sends --count (default 1, at most %d) forged ACKs with the payload (default a\n"
		"GET of /; \\r and \\n are understood) and counts the replies seen within\n"
		"--listen-ms (default 500, at most 5000).\n",
		MAX_PORTS);
}

/* Copy @s, turning the two-character escapes \r and \n into CR and LF. */
static char *unescape(const char *s)
{
	char *out = malloc(strlen(s) + 1), *p = out;

	if (!out)
		rf_die("out of memory");
	for (; *s; s++) {
		if (s[0] == '\\' && (s[1] == 'r' || s[1] == 'n')) {
			*p++ = s[1] == 'r' ? '\r' : '\n';
			s++;
		} else {
			*p++ = *s;
		}
	}
	*p = '\0';
	return out;
}

static void parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "dst-mac", required_argument, NULL, 'M' },
		{ "src-mac", required_argument, NULL, 'm' },
		{ "src", required_argument, NULL, 's' },
		{ "dst", required_argument, NULL, 'd' },
		{ "dport", required_argument, NULL, 'p' },
		{ "sport", required_argument, NULL, 'P' },
		{ "payload", required_argument, NULL, 'b' },
		{ "count", required_argument, NULL, 'c' },
		{ "listen-ms", required_argument, NULL, 'l' },
		{ "handshake", no_argument, NULL, 'H' },
		{ "vip", required_argument, NULL, 'v' },
		{ "vip-mac", required_argument, NULL, 'V' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .dport = 80, .count = 1, .listen_ms = 500,
			    .payload = "GET / HTTP/1.1\r\nHost: 192.0.2.80\r\n\r\n" };
	while ((c = getopt_long(argc, argv, "i:M:m:s:d:p:P:b:c:l:Hv:V:h", longopts, NULL)) != -1) {
		switch (c) {
		case 'i': o->ifname = optarg; break;
		case 'M': rf_mac(optarg, o->dst_mac); o->have_dst_mac = true; break;
		case 'm': rf_mac(optarg, o->src_mac); o->have_src_mac = true; break;
		case 's': o->src = rf_ip(optarg); break;
		case 'd': o->dst = rf_ip(optarg); break;
		case 'p': o->dport = (uint16_t)rf_ull(optarg, 1, 65535, "port"); break;
		case 'P': o->sport = (uint16_t)rf_ull(optarg, 1, 65535, "port"); break;
		case 'b': o->payload = unescape(optarg); break;
		case 'c': o->count = (unsigned int)rf_ull(optarg, 1, MAX_PORTS, "count"); break;
		case 'l': o->listen_ms = (unsigned int)rf_ull(optarg, 0, 5000, "listen-ms"); break;
		case 'H': o->handshake = true; break;
		case 'v': o->vip = rf_ip(optarg); break;
		case 'V': rf_mac(optarg, o->vip_mac); o->have_vip_mac = true; break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(2);
		}
	}
	if (optind != argc)
		rf_die("unexpected argument '%s'", argv[optind]);
	if (!o->ifname || !o->have_dst_mac || !o->src || !o->dst)
		rf_die("--interface, --dst-mac, --src and --dst are required");
	if (o->handshake && (!o->vip || !o->have_vip_mac))
		rf_die("--handshake needs --vip and --vip-mac");
	if (o->handshake && o->count != 1)
		rf_die("--handshake sends one segment (--count 1)");
}

static bool used_port(uint16_t port)
{
	for (unsigned int i = 0; i < n_ports; i++)
		if (ports[i] == port)
			return true;
	return false;
}

static uint16_t fresh_port(const struct opts *o)
{
	uint16_t p;

	if (o->sport && !n_ports)
		return o->sport;
	do
		p = (uint16_t)(40000 + rf_rand() % 20000);
	while (used_port(p));
	return p;
}

/* Build and send one TCP segment; @opts/@optlen: raw options (4n bytes). */
static void send_segment(struct rf_sock *s, const struct opts *o, const uint8_t mac[6],
			 uint32_t daddr, uint16_t sport, uint32_t seq, uint32_t ack, uint8_t flags,
			 const uint8_t *opts, size_t optlen, const char *payload)
{
	uint8_t f[1600];
	uint8_t *ip = f + RF_ETH_LEN, *th = ip + RF_IP_LEN;
	size_t plen = payload ? strlen(payload) : 0;
	size_t tcp_len = RF_TCP_LEN + optlen + plen;

	if (RF_ETH_LEN + RF_IP_LEN + tcp_len > sizeof(f))
		rf_die("payload too long");
	rf_eth(f, mac, o->src_mac, ETHERTYPE_IP);
	rf_ipv4(ip, o->src, daddr, IPPROTO_TCP, (uint16_t)(RF_IP_LEN + tcp_len));
	rf_ipv4_csum(ip);
	rf_tcp(th, sport, o->dport, seq, ack, flags, 502);
	th[12] = (uint8_t)((RF_TCP_LEN + optlen) / 4 << 4);
	memcpy(th + RF_TCP_LEN, opts, optlen);
	memcpy(th + RF_TCP_LEN + optlen, payload, plen);
	rf_tcp_csum(ip, th, tcp_len);
	if (rf_send(s, f, RF_ETH_LEN + RF_IP_LEN + tcp_len))
		rf_die("the interface kept refusing the frame");
}

/*
 * Receive one frame before @deadline; returns its TCP header (and sets
 * @tcp_len) if it is an incoming IPv4/TCP frame from @from:dport to @o->src on
 * one of our ports, NULL otherwise (also on timeout).
 */
static const uint8_t *next_reply(struct rf_sock *s, const struct opts *o, uint32_t from,
				 double deadline, uint8_t *buf, size_t cap, size_t *tcp_len)
{
	struct pollfd pfd = { .fd = s->fd, .events = POLLIN };
	struct sockaddr_ll sll;
	socklen_t sl = sizeof(sll);
	const uint8_t *ip, *th;
	ssize_t n;
	size_t ihl, tot;
	double left = deadline - rf_now();

	if (left <= 0 || poll(&pfd, 1, (int)(left * 1000) + 1) <= 0)
		return NULL;
	n = recvfrom(s->fd, buf, cap, MSG_DONTWAIT, (struct sockaddr *)&sll, &sl);
	if (n < RF_ETH_LEN + RF_IP_LEN + RF_TCP_LEN || sll.sll_pkttype == PACKET_OUTGOING)
		return NULL;
	if (rf_get16(buf + 12) != ETHERTYPE_IP)
		return NULL;
	ip = buf + RF_ETH_LEN;
	ihl = (ip[0] & 0xf) * 4u;
	tot = rf_get16(ip + 2);
	if (ip[9] != IPPROTO_TCP || ihl < RF_IP_LEN || tot > (size_t)n - RF_ETH_LEN ||
	    tot < ihl + RF_TCP_LEN)
		return NULL;
	if (memcmp(ip + 12, &from, 4) || memcmp(ip + 16, &o->src, 4))
		return NULL;
	th = ip + ihl;
	if (rf_get16(th) != o->dport || !used_port(rf_get16(th + 2)))
		return NULL;
	*tcp_len = tot - ihl;
	return th;
}

static void count_reply(struct tally *t, const uint8_t *th, size_t tcp_len)
{
	size_t doff = (th[12] >> 4) * 4u;
	size_t data = tcp_len > doff ? tcp_len - doff : 0;

	t->replies++;
	if (th[13] & RF_RST)
		t->rst++;
	else if ((th[13] & (RF_SYN | RF_ACK)) == (RF_SYN | RF_ACK))
		t->synack++;
	else if (th[13] & RF_ACK)
		t->acks++;
	t->data_bytes += data;
	if (data >= 5 && !memcmp(th + doff, "HTTP/", 5))
		t->http++;
}

int main(int argc, char **argv)
{
	/* MSS 1460, SACK permitted, NOP, window scale 7: what the cookie encodes. */
	static const uint8_t syn_opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1 };
	uint8_t buf[2048];
	struct tally t = { 0 };
	struct rf_sock s;
	struct opts o;
	const uint8_t *th;
	size_t tcp_len;
	double deadline;

	rf_prog = "forge";
	parse_args(argc, argv, &o);
	rf_seed_auto();
	rf_open(&s, o.ifname, true);
	if (!o.have_src_mac)
		memcpy(o.src_mac, s.mac, 6);

	if (o.handshake) {
		uint16_t port = fresh_port(&o);
		uint32_t isn = (uint32_t)rf_rand(), cookie = 0;
		bool got = false;

		ports[n_ports++] = port;
		send_segment(&s, &o, o.vip_mac, o.vip, port, isn, 0, RF_SYN, syn_opts,
			     sizeof(syn_opts), NULL);
		deadline = rf_now() + 2.0;
		while (!got && rf_now() < deadline) {
			th = next_reply(&s, &o, o.vip, deadline, buf, sizeof(buf), &tcp_len);
			if (th && (th[13] & (RF_SYN | RF_ACK)) == (RF_SYN | RF_ACK) &&
			    rf_get32(th + 8) == isn + 1) {
				cookie = rf_get32(th + 4);
				got = true;
			}
		}
		if (!got) {
			printf("cookie=none sent=0 replies=0 rst=0 synack=0 acks=0 data_bytes=0 http=0\n");
			return 1;
		}
		send_segment(&s, &o, o.dst_mac, o.dst, port, isn + 1, cookie + 1, RF_PSH | RF_ACK,
			     NULL, 0, o.payload);
	} else {
		for (unsigned int i = 0; i < o.count; i++) {
			uint16_t port = fresh_port(&o);
			uint64_t r = rf_rand();

			ports[n_ports++] = port;
			send_segment(&s, &o, o.dst_mac, o.dst, port, (uint32_t)r, (uint32_t)(r >> 32),
				     RF_PSH | RF_ACK, NULL, 0, o.payload);
		}
	}

	deadline = rf_now() + o.listen_ms / 1000.0;
	while (rf_now() < deadline) {
		th = next_reply(&s, &o, o.dst, deadline, buf, sizeof(buf), &tcp_len);
		if (th)
			count_reply(&t, th, tcp_len);
	}
	close(s.fd);
	printf("cookie=%s sent=%u replies=%u rst=%u synack=%u acks=%u data_bytes=%llu http=%u\n",
	       o.handshake ? "valid" : "random", o.handshake ? 1 : o.count, t.replies, t.rst,
	       t.synack, t.acks, t.data_bytes, t.http);
	return 0;
}
