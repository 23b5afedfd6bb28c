// SPDX-License-Identifier: GPL-2.0
/*
 * forge: send forged hand-off segments and report what comes back, for the
 * lab's spoofed hand-off tests. A hand-off is forged the way either mode
 * takes one: cookie mode's ACK + request head, or replay mode's SYN with the
 * hand-off option (headers/handoff_opt.h).
 *
 * Each of --count segments goes from --src to --dst:--dport, written out of
 * --interface to --dst-mac, and is
 *   (default)      an ACK with PSH and the --payload;
 *   --syn          a SYN with the options a Linux client offers (MSS, SACK
 *                  permitted, window scale) and nothing else;
 *   --handoff-syn  the same SYN plus a hand-off option: C, T_lb and ws from
 *                  --handoff-c (default random), --handoff-tlb (0) and
 *                  --handoff-ws (7), and a random tag, which only the
 *                  balancer's key could make right.
 * The cookie (the ACK's, or the option's C) is either
 *   random     (default) random seq and ack (or C), a fresh source port per
 *              segment;
 *   handshake  a real one: first a SYN from --src to --vip:--dport through
 *              --vip-mac (out of --vip-interface if given, from that
 *              interface's own MAC), whose SYN/ACK carries the balancer's
 *              cookie; then the one segment uses that cookie, source port and
 *              client ISN exactly as a client would (an option's ws is the
 *              scale that SYN/ACK told, unless --handoff-ws), but goes to
 *              --dst through --dst-mac.
 *              With --handoff-syn only the tag is wrong.
 * Then it listens on the interface for --listen-ms and counts every TCP frame
 * from --dst:--dport (or the VIP) back to the ports it used. With --complete,
 * a SYN/ACK to one of its SYNs is answered as the client would: an ACK with
 * the payload, acknowledging C + 1 for a hand-off SYN (the client's view of
 * the connection: only a backend that took the option would answer at all)
 * or the SYN/ACK's own ISN + 1 for a plain one.
 *
 * Prints one line: cookie=random|valid|none sent=N replies=N rst=N synack=N
 * acks=N data_bytes=N http=N segment=ack|syn|handoff-syn completed=N (http:
 * replies whose payload starts with "HTTP/"; cookie=none: plain SYNs, or a
 * handshake that failed; completed: handshakes finished with --complete).
 * Exit status 0 when it ran, 1 when the handshake got no SYN/ACK, 2 on usage.
 *
 * Spoofs by design: only inside the lab's network namespaces.
 */
#include "rawframe.h" /* first: it defines _GNU_SOURCE */

#include <getopt.h>
#include <poll.h>

#include "handoff_opt.h" /* the option's layout: the one the backend parses */

#define MAX_PORTS 4096

enum segment { SEG_ACK, SEG_SYN, SEG_HANDOFF_SYN };

static const char *const segment_names[] = {
	[SEG_ACK] = "ack", [SEG_SYN] = "syn", [SEG_HANDOFF_SYN] = "handoff-syn",
};

struct opts {
	const char *ifname, *vip_ifname;
	uint8_t dst_mac[6], vip_mac[6], src_mac[6];
	bool have_dst_mac, have_vip_mac, have_src_mac;
	uint32_t src, dst, vip; /* network order */
	uint16_t dport, sport;
	bool handshake, complete;
	enum segment segment;
	/* The hand-off option's fields (host order); C random unless given. */
	uint32_t ho_c, ho_tlb;
	bool have_ho_c, have_ho_ws, have_ho_fields;
	uint8_t ho_ws;
	const char *payload;
	unsigned int count;
	unsigned int listen_ms;
};

struct tally {
	unsigned int replies, rst, synack, acks, http, completed;
	unsigned long long data_bytes;
};

/* One segment sent: what its client would know, to answer a SYN/ACK as it would. */
struct probe {
	uint16_t port;
	uint32_t isn; /* the SYN's seq */
	uint32_t c;   /* the hand-off option's C */
	bool completed;
};

static struct probe probes[MAX_PORTS];
static unsigned int n_probes;

/* MSS 1460, SACK permitted, NOP, window scale 7, NOP, NOP: what the cookie encodes. */
static const uint8_t syn_opts[] = { 2, 4, 0x05, 0xb4, 4, 2, 1, 3, 3, 7, 1, 1 };

/* A hand-off SYN's options: all of the above, then the option, 4-byte aligned. */
_Static_assert(sizeof(syn_opts) % 4 == 0, "the hand-off option starts aligned");
_Static_assert(sizeof(syn_opts) + sizeof(struct lb_handoff_opt) <= 40,
	       "TCP options are 40 bytes at most");

static void usage(FILE *f)
{
	fprintf(f,
		"usage: forge --interface IF --dst-mac MAC --src IP --dst IP [--dport PORT]\n"
		"             [--sport PORT] [--src-mac MAC] [--payload TEXT] [--count N]\n"
		"             [--listen-ms MS] [--handshake --vip IP --vip-mac MAC\n"
		"             [--vip-interface IF]] [--syn | --handoff-syn [--handoff-c N]\n"
		"             [--handoff-tlb N] [--handoff-ws N]] [--complete]\n"
		"Sends --count (default 1, at most %d) forged ACKs with the payload (default a\n"
		"GET of /; \\r and \\n are understood), or SYNs (--syn), or SYNs with a forged\n"
		"hand-off option (--handoff-syn), and counts the replies seen within\n"
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
		{ "vip-interface", required_argument, NULL, 'I' },
		{ "syn", no_argument, NULL, 'S' },
		{ "handoff-syn", no_argument, NULL, 'O' },
		{ "handoff-c", required_argument, NULL, 'C' },
		{ "handoff-tlb", required_argument, NULL, 'T' },
		{ "handoff-ws", required_argument, NULL, 'W' },
		{ "complete", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	*o = (struct opts){ .dport = 80, .count = 1, .listen_ms = 500, .ho_ws = 7,
			    .payload = "GET / HTTP/1.1\r\nHost: 192.0.2.80\r\n\r\n" };
	while ((c = getopt_long(argc, argv, "i:M:m:s:d:p:P:b:c:l:Hv:V:I:SOC:T:W:Ah", longopts,
				NULL)) != -1) {
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
		case 'I': o->vip_ifname = optarg; break;
		case 'S': o->segment = SEG_SYN; break;
		case 'O': o->segment = SEG_HANDOFF_SYN; break;
		case 'C':
			o->ho_c = (uint32_t)rf_ull(optarg, 0, UINT32_MAX, "C");
			o->have_ho_c = o->have_ho_fields = true;
			break;
		case 'T':
			o->ho_tlb = (uint32_t)rf_ull(optarg, 0, UINT32_MAX, "T_lb");
			o->have_ho_fields = true;
			break;
		case 'W':
			/* Any byte: the backend must refuse the out-of-range ones itself. */
			o->ho_ws = (uint8_t)rf_ull(optarg, 0, 255, "ws");
			o->have_ho_ws = o->have_ho_fields = true;
			break;
		case 'A': o->complete = true; break;
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
	if (o->vip_ifname && !o->handshake)
		rf_die("--vip-interface is for --handshake");
	if (o->have_ho_fields && o->segment != SEG_HANDOFF_SYN)
		rf_die("--handoff-c, --handoff-tlb and --handoff-ws need --handoff-syn");
	if (o->have_ho_c && o->handshake)
		rf_die("--handshake takes C from the balancer: no --handoff-c");
	if (o->complete && o->segment == SEG_ACK)
		rf_die("--complete answers SYN/ACKs: it needs --syn or --handoff-syn");
}

static struct probe *probe_of(uint16_t port)
{
	for (unsigned int i = 0; i < n_probes; i++)
		if (probes[i].port == port)
			return &probes[i];
	return NULL;
}

static uint16_t fresh_port(const struct opts *o)
{
	uint16_t p;

	if (o->sport && !n_probes)
		return o->sport;
	/*
	 * Above Linux's ephemeral range (32768-60999): the lab's real clients never
	 * use these, so a forged segment cannot land on a backend's TIME_WAIT (or
	 * live) socket of theirs and draw a reply.
	 */
	do
		p = (uint16_t)(61000 + rf_rand() % (65536 - 61000));
	while (probe_of(p));
	return p;
}

/* A new probe on a fresh port, with a random client ISN. */
static struct probe *new_probe(const struct opts *o)
{
	struct probe *pr = &probes[n_probes];

	pr->port = fresh_port(o);
	pr->isn = (uint32_t)rf_rand();
	n_probes++;
	return pr;
}

/*
 * Build and send one TCP segment; @opts/@optlen: raw options (4n bytes).
 * From @o->src and @src_mac out of @s.
 */
static void send_segment(struct rf_sock *s, const struct opts *o, const uint8_t src_mac[6],
			 const uint8_t mac[6], uint32_t daddr, uint16_t sport, uint32_t seq,
			 uint32_t ack, uint8_t flags, const uint8_t *opts, size_t optlen,
			 const char *payload)
{
	uint8_t f[1600];
	uint8_t *ip = f + RF_ETH_LEN, *th = ip + RF_IP_LEN;
	size_t plen = payload ? strlen(payload) : 0;
	size_t tcp_len = RF_TCP_LEN + optlen + plen;

	if (RF_ETH_LEN + RF_IP_LEN + tcp_len > sizeof(f))
		rf_die("payload too long");
	rf_eth(f, mac, src_mac, ETHERTYPE_IP);
	rf_ipv4(ip, o->src, daddr, IPPROTO_TCP, (uint16_t)(RF_IP_LEN + tcp_len));
	rf_ipv4_csum(ip);
	/* A SYN offers what a Linux client offers; later segments a small window. */
	rf_tcp(th, sport, o->dport, seq, ack, flags, flags & RF_SYN ? 64240 : 502);
	th[12] = (uint8_t)((RF_TCP_LEN + optlen) / 4 << 4);
	memcpy(th + RF_TCP_LEN, opts, optlen);
	memcpy(th + RF_TCP_LEN + optlen, payload, plen);
	rf_tcp_csum(ip, th, tcp_len);
	if (rf_send(s, f, RF_ETH_LEN + RF_IP_LEN + tcp_len))
		rf_die("the interface kept refusing the frame");
}

/* A SYN's options into @buf (40 bytes); returns their length. */
static size_t syn_options(const struct opts *o, uint32_t c, uint8_t ws, uint8_t *buf)
{
	struct lb_handoff_opt ho = {
		.kind = LB_HANDOFF_OPT_KIND,
		.len = LB_HANDOFF_OPT_LEN,
		.exid = htons(LB_HANDOFF_OPT_EXID),
		.client_isn = htonl(c),
		.lb_tsval = htonl(o->ho_tlb),
		.wscale = ws,
	};

	memcpy(buf, syn_opts, sizeof(syn_opts));
	if (o->segment != SEG_HANDOFF_SYN)
		return sizeof(syn_opts);
	/* Any 24 bits: without the cookie key there is nothing better to put. */
	lb_handoff_opt_set_tag(&ho, (uint32_t)rf_rand() & 0xffffff);
	memcpy(buf + sizeof(syn_opts), &ho, sizeof(ho));
	return sizeof(syn_opts) + sizeof(ho);
}

/* The window scale a SYN/ACK (@th, @tcp_len bytes) offers; LB_COOKIE_WSCALE_NONE if none. */
static uint8_t synack_wscale(const uint8_t *th, size_t tcp_len)
{
	size_t doff = (th[12] >> 4) * 4u, i = RF_TCP_LEN;

	if (doff > tcp_len)
		return LB_COOKIE_WSCALE_NONE;
	while (i < doff && th[i] != 0) { /* 0: end of options */
		if (th[i] == 1) { /* NOP */
			i++;
			continue;
		}
		if (i + 1 >= doff || th[i + 1] < 2 || i + th[i + 1] > doff)
			break;
		if (th[i] == 3 && th[i + 1] == 3)
			return th[i + 2];
		i += th[i + 1];
	}
	return LB_COOKIE_WSCALE_NONE;
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
	if (rf_get16(th) != o->dport || !probe_of(rf_get16(th + 2)))
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

/*
 * The handshake with the VIP out of @hs: the balancer's cookie for @pr's port
 * and ISN into *@cookie, the window scale its SYN/ACK told into *@ws.
 * Returns false if no SYN/ACK came within 2 s.
 */
static bool handshake(struct rf_sock *hs, const struct opts *o, const uint8_t src_mac[6],
		      const struct probe *pr, uint32_t *cookie, uint8_t *ws)
{
	uint8_t buf[2048];
	const uint8_t *th;
	size_t tcp_len;
	double deadline = rf_now() + 2.0;

	send_segment(hs, o, src_mac, o->vip_mac, o->vip, pr->port, pr->isn, 0, RF_SYN, syn_opts,
		     sizeof(syn_opts), NULL);
	while (rf_now() < deadline) {
		th = next_reply(hs, o, o->vip, deadline, buf, sizeof(buf), &tcp_len);
		if (th && (th[13] & (RF_SYN | RF_ACK)) == (RF_SYN | RF_ACK) &&
		    rf_get32(th + 8) == pr->isn + 1) {
			*cookie = rf_get32(th + 4);
			*ws = synack_wscale(th, tcp_len);
			return true;
		}
	}
	return false;
}

/* One forged segment for @pr: an ACK + payload acknowledging @cookie, or a SYN. */
static void send_forged(struct rf_sock *s, const struct opts *o, struct probe *pr,
			uint32_t cookie, uint8_t ws)
{
	uint8_t opts[40];
	size_t optlen;

	if (o->segment == SEG_ACK) {
		send_segment(s, o, o->src_mac, o->dst_mac, o->dst, pr->port, pr->isn + 1, cookie + 1,
			     RF_PSH | RF_ACK, NULL, 0, o->payload);
		return;
	}
	pr->c = cookie;
	optlen = syn_options(o, cookie, ws, opts);
	send_segment(s, o, o->src_mac, o->dst_mac, o->dst, pr->port, pr->isn, 0, RF_SYN, opts,
		     optlen, NULL);
}

/*
 * --complete: answer the first SYN/ACK to each of our SYNs as the client
 * would, with the ACK that finishes the handshake and the payload.
 */
static void complete(struct rf_sock *s, const struct opts *o, struct tally *t, const uint8_t *th)
{
	struct probe *pr = probe_of(rf_get16(th + 2));
	uint32_t ack;

	if (!pr || pr->completed || (th[13] & (RF_SYN | RF_ACK | RF_RST)) != (RF_SYN | RF_ACK) ||
	    rf_get32(th + 8) != pr->isn + 1)
		return;
	/* A hand-off SYN's client holds C as the server's ISN; the backend translates. */
	ack = (o->segment == SEG_HANDOFF_SYN ? pr->c : rf_get32(th + 4)) + 1;
	send_segment(s, o, o->src_mac, o->dst_mac, o->dst, pr->port, pr->isn + 1, ack,
		     RF_PSH | RF_ACK, NULL, 0, o->payload);
	pr->completed = true;
	t->completed++;
}

int main(int argc, char **argv)
{
	uint8_t buf[2048];
	struct tally t = { 0 };
	struct rf_sock s, vs;
	struct opts o;
	const uint8_t *th;
	const char *cookie_kind;
	size_t tcp_len;
	double deadline;

	rf_prog = "forge";
	parse_args(argc, argv, &o);
	rf_seed_auto();
	rf_open(&s, o.ifname, true);
	if (!o.have_src_mac)
		memcpy(o.src_mac, s.mac, 6);

	if (o.handshake) {
		struct probe *pr = new_probe(&o);
		uint32_t cookie;
		uint8_t ws;
		bool got;

		/* Another interface's handshake comes from that interface's own MAC. */
		if (o.vip_ifname)
			rf_open(&vs, o.vip_ifname, true);
		got = o.vip_ifname ? handshake(&vs, &o, vs.mac, pr, &cookie, &ws)
				   : handshake(&s, &o, o.src_mac, pr, &cookie, &ws);
		if (o.vip_ifname)
			close(vs.fd);
		if (!got) {
			printf("cookie=none sent=0 replies=0 rst=0 synack=0 acks=0 data_bytes=0 http=0 "
			       "segment=%s completed=0\n",
			       segment_names[o.segment]);
			return 1;
		}
		send_forged(&s, &o, pr, cookie, o.have_ho_ws ? o.ho_ws : ws);
		cookie_kind = "valid";
	} else {
		for (unsigned int i = 0; i < o.count; i++) {
			struct probe *pr = new_probe(&o);

			send_forged(&s, &o, pr, o.have_ho_c ? o.ho_c : (uint32_t)rf_rand(), o.ho_ws);
		}
		cookie_kind = o.segment == SEG_SYN ? "none" : "random";
	}

	deadline = rf_now() + o.listen_ms / 1000.0;
	while (rf_now() < deadline) {
		th = next_reply(&s, &o, o.dst, deadline, buf, sizeof(buf), &tcp_len);
		if (!th)
			continue;
		count_reply(&t, th, tcp_len);
		if (o.complete)
			complete(&s, &o, &t, th);
	}
	close(s.fd);
	printf("cookie=%s sent=%u replies=%u rst=%u synack=%u acks=%u data_bytes=%llu http=%u "
	       "segment=%s completed=%u\n",
	       cookie_kind, n_probes, t.replies, t.rst, t.synack, t.acks, t.data_bytes, t.http,
	       segment_names[o.segment], t.completed);
	return 0;
}
