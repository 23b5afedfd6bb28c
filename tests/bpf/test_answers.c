// SPDX-License-Identifier: GPL-2.0
/*
 * Where the backend's answers end (docs/packet-walk.md §5a; bpf/backend_common.h,
 * track_answers): the segments of one connection's answers go through a
 * backend egress program with BPF_PROG_TEST_RUN, in both modes' objects, and
 * the connection's `answers` entry must say where the latest answer starts and
 * ends, or that it cannot be told.
 */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <string.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "backend.skel.h"
#include "backend_replay.skel.h"
#include "backend_maps.h"
#include "backend_run.h"
#include "frames.h"
#include "rebind.h"
#include "suites.h"

#define VIP    "192.0.2.80"
#define CLIENT "203.0.113.10"
#define VPORT  8080
#define CPORT  40001
#define FIRST  0xfffff000u /* the socket's first answer byte: numbers wrap mid-answer */

static const uint8_t backend_mac[6] = { 0x02, 0, 0, 0, 0x03, 0x0b };
static const uint8_t router_mac[6] = { 0x02, 0, 0, 0, 0x04, 0x0c };

#define H200_5	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
#define H200_3K "HTTP/1.1 200 OK\r\nServer: t\r\ncontent-LENGTH:  3000 \r\nETag: \"x\"\r\n\r\n"
#define H204	"HTTP/1.1 204 No Content\r\nServer: t\r\n\r\n"
#define H304	"HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n"
#define H100	"HTTP/1.1 100 Continue\r\n\r\n"
#define HCHUNK	"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n"
#define L(s)	((uint32_t)sizeof(s) - 1)
/* Heads at the scanner's limit (LB_ANSWER_HEAD_MAX + 1 bytes) and one past it. */
#define P16	"pppppppppppppppp"
#define P976	P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 \
		P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 \
		P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16 P16
#define H1024	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: " P976 "p\r\n\r\n"
#define H1025	"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-Pad: " P976 "pp\r\n\r\n"

struct seg {
	uint32_t off;	  /* from FIRST */
	const char *data; /* NULL: fill bytes ('x'), n of them */
	uint32_t n;
	uint8_t flags; /* 0: ACK|PSH */
};

struct answers_case {
	const char *name;
	struct seg segs[6];
	uint8_t framing;		     /* enum lb_framing */
	uint32_t start, end, body_len, next; /* from FIRST; start etc. only when known */
	uint16_t status;
};

#define S(o, str)                     \
	{                             \
		(o), (str), L(str), 0 \
	}
#define FILL(o, len)                \
	{                           \
		(o), NULL, (len), 0 \
	}
#define UNFRAMED LB_FRAMING_UNKNOWN, 0, 0, 0, 0, 0

static const struct answers_case cases[] = {
	{ "head and body in one segment",
	  { S(0, H200_5 "hello") },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H200_5) + 5,
	  5,
	  L(H200_5) + 5,
	  200 },
	{ "head alone, the body over three segments (wrapping)",
	  { S(0, H200_3K), FILL(L(H200_3K), 1000), FILL(L(H200_3K) + 1000, 1000),
	    FILL(L(H200_3K) + 2000, 1000) },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H200_3K) + 3000,
	  3000,
	  L(H200_3K) + 3000,
	  200 },
	{ "a body segment that looks like a head is body",
	  { S(0, H200_3K), S(L(H200_3K), H200_5 "hello") },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H200_3K) + 3000,
	  3000,
	  L(H200_3K) + 3000,
	  200 },
	{ "the next answer, bodiless 204",
	  { S(0, H200_5 "hello"), S(L(H200_5) + 5, H204) },
	  LB_FRAMING_KNOWN,
	  L(H200_5) + 5,
	  L(H200_5) + 5 + L(H204),
	  0,
	  L(H200_5) + 5 + L(H204),
	  204 },
	{ "two answers in one segment, a 304's Content-Length is no body",
	  { S(0, H200_5 "hello" H304) },
	  LB_FRAMING_KNOWN,
	  L(H200_5) + 5,
	  L(H200_5) + 5 + L(H304),
	  0,
	  L(H200_5) + 5 + L(H304),
	  304 },
	{ "a retransmitted head changes nothing",
	  { S(0, H200_5 "hello"), S(0, H200_5 "hello") },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H200_5) + 5,
	  5,
	  L(H200_5) + 5,
	  200 },
	{ "the next head inside a retransmission's tail",
	  { S(0, H200_5), S(0, H200_5 "hello" H204) },
	  LB_FRAMING_KNOWN,
	  L(H200_5) + 5,
	  L(H200_5) + 5 + L(H204),
	  0,
	  L(H200_5) + 5 + L(H204),
	  204 },
	{ "100 Continue, then the answer: one answer",
	  { S(0, H100), S(L(H100), H200_5 "hello") },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H100) + L(H200_5) + 5,
	  5,
	  L(H100) + L(H200_5) + 5,
	  200 },
	{ "100 Continue alone: the answer is still to come",
	  { S(0, H100) },
	  LB_FRAMING_INTERIM,
	  0,
	  L(H100),
	  0,
	  L(H100),
	  100 },
	{ "a FIN with the answer",
	  { { 0, H200_5 "hello", L(H200_5) + 5, 0x19 } },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H200_5) + 5,
	  5,
	  L(H200_5) + 5,
	  200 },
	{ "no data yet", { { 0, "", 0, 0x10 } }, LB_FRAMING_NONE, 0, 0, 0, 0, 0 },
	{ "a head as long as is read",
	  { S(0, H1024 "hello") },
	  LB_FRAMING_KNOWN,
	  0,
	  L(H1024) + 5,
	  5,
	  L(H1024) + 5,
	  200 },
	/* Not framed: from then on nothing on the connection is. */
	{ "chunked", { S(0, HCHUNK) }, UNFRAMED },
	{ "chunked beside a Content-Length",
	  { S(0, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n") },
	  UNFRAMED },
	{ "no Content-Length", { S(0, "HTTP/1.0 200 OK\r\nServer: t\r\n\r\nbody") }, UNFRAMED },
	{ "two Content-Lengths",
	  { S(0,
	      "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n"
	      "Content-Length: 5\r\n\r\nhello") },
	  UNFRAMED },
	{ "Content-Length over 1 GiB",
	  { S(0, "HTTP/1.1 200 OK\r\nContent-Length: 2000000000\r\n\r\n") },
	  UNFRAMED },
	{ "Content-Length not a number",
	  { S(0, "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\n") },
	  UNFRAMED },
	{ "garbage", { S(0, "hello world, this is not HTTP at all\r\n\r\n") }, UNFRAMED },
	{ "HTTP/2 preface-like", { S(0, "HTTP/2 200\r\ncontent-length: 5\r\n\r\nhello") }, UNFRAMED },
	{ "a bare LF", { S(0, "HTTP/1.1 200 OK\nContent-Length: 5\n\nhello") }, UNFRAMED },
	{ "white space in a name",
	  { S(0, "HTTP/1.1 200 OK\r\nContent-Length : 5\r\n\r\nhello") },
	  UNFRAMED },
	{ "a head split over two segments",
	  { S(0, "HTTP/1.1 200 OK\r\nContent-Le"), S(27, "ngth: 5\r\n\r\nhello") },
	  UNFRAMED },
	{ "a head one byte longer than is read", { S(0, H1025 "hello") }, UNFRAMED },
	{ "101 Switching Protocols", { S(0, "HTTP/1.1 101 Switching Protocols\r\n\r\n") }, UNFRAMED },
	{ "bytes past the next head never seen",
	  { S(0, H200_5 "hello"), S(L(H200_5) + 6, H204) },
	  UNFRAMED },
	{ "a good head after a chunked answer is not believed",
	  { S(0, HCHUNK), S(L(HCHUNK), H200_5 "hello") },
	  UNFRAMED },
	{ "after a HEAD's answer the next head is not where its Content-Length says",
	  { S(0, H200_5), S(L(H200_5), H200_5 "hello") },
	  UNFRAMED },
};

static struct backend *cookie_obj;
static struct backend_replay *replay_obj;

static void setup(void)
{
	cookie_obj = backend__open();
	replay_obj = backend_replay__open();
	ck_assert_ptr_nonnull(cookie_obj);
	ck_assert_ptr_nonnull(replay_obj);
	inet_pton(AF_INET, VIP, (void *)&cookie_obj->rodata->cfg_vip_addr);
	inet_pton(AF_INET, VIP, (void *)&replay_obj->rodata->cfg_vip_addr);
	cookie_obj->rodata->cfg_vip_port = htons(VPORT);
	replay_obj->rodata->cfg_vip_port = htons(VPORT);
	memcpy((void *)cookie_obj->rodata->cfg_balancer_macs, be_balancers, 6);
	memcpy((void *)replay_obj->rodata->cfg_balancer_macs, be_balancers, 6);
	ck_assert_msg(backend__load(cookie_obj) == 0, "load backend: %s", strerror(errno));
	ck_assert_msg(backend_replay__load(replay_obj) == 0, "load backend_replay: %s",
		      strerror(errno));
}

static void teardown(void)
{
	backend__destroy(cookie_obj);
	backend_replay__destroy(replay_obj);
	cookie_obj = NULL;
	replay_obj = NULL;
}

static struct lb_handoff_key conn_key(uint16_t cport)
{
	struct lb_handoff_key k = { .cport = htons(cport), .vport = htons(VPORT) };

	inet_pton(AF_INET, CLIENT, &k.caddr);
	inet_pton(AF_INET, VIP, &k.vaddr);
	return k;
}

/* One segment of the server's, VIP:VPORT → CLIENT:@cport, at FIRST + @s->off. */
static size_t server_frame(uint8_t *frame, const struct seg *s, uint16_t cport)
{
	static uint8_t fill[PKT_MAX];
	struct pkt_spec p = {
		.saddr = VIP,
		.daddr = CLIENT,
		.sport = VPORT,
		.dport = cport,
		.seq = FIRST + s->off,
		.ack = 0x10000001u,
		.flags = s->flags ? s->flags : 0x18,
		.window = 502,
		.paylen = s->n,
	};

	memset(fill, 'x', sizeof(fill));
	p.payload = s->data ? (const uint8_t *)s->data : fill;
	memcpy(p.src_mac, backend_mac, 6);
	memcpy(p.dst_mac, router_mac, 6);
	return pkt_build_tcp(frame, &p);
}

static void run_case(const struct answers_case *tc, struct bpf_map *answers, struct bpf_map *stats,
		     struct bpf_program *egress)
{
	struct lb_handoff_key k = conn_key(CPORT), other = conn_key(CPORT + 1);
	struct lb_answer_track t = { .next = FIRST, .start = FIRST, .end = FIRST };
	uint8_t frame[PKT_MAX];
	struct run r;
	size_t i, len;

	/* As a hand-off leaves it: the first answer due at the socket's first byte. */
	ck_assert_int_eq(bpf_map_update_elem(bpf_map__fd(answers), &k, &t, BPF_ANY), 0);
	for (i = 0; i < 6 && (tc->segs[i].data || tc->segs[i].n); i++) {
		len = server_frame(frame, &tc->segs[i], CPORT);
		be_run_prog(stats, egress, frame, len, &r);
		/* The segment itself goes on as it was (a FIN is diverted): tracking only reads. */
		ck_assert_msg((tc->segs[i].flags & 0x01) ||
				      (r.out_len == len && !memcmp(r.out, frame, len)),
			      "%s: segment %zu changed", tc->name, i);
		/* A connection not handed off here gets no entry. */
		len = server_frame(frame, &tc->segs[i], CPORT + 1);
		be_run_prog(stats, egress, frame, len, &r);
	}
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(answers), &k, &t), 0);
	ck_assert_msg(t.framing == tc->framing, "%s: framing %u, want %u", tc->name, t.framing,
		      tc->framing);
	ck_assert_int_ne(bpf_map_lookup_elem(bpf_map__fd(answers), &other, &t), 0);
	if (tc->framing == LB_FRAMING_UNKNOWN)
		return;
	ck_assert_int_eq(bpf_map_lookup_elem(bpf_map__fd(answers), &k, &t), 0);
	ck_assert_msg(t.start == FIRST + tc->start && t.end == FIRST + tc->end &&
			      t.body_len == tc->body_len && t.next == FIRST + tc->next &&
			      t.status == tc->status,
		      "%s: start %+d end %+d body %u next %+d status %u; want %+d %+d %u %+d %u",
		      tc->name, (int)(t.start - FIRST), (int)(t.end - FIRST), t.body_len,
		      (int)(t.next - FIRST), t.status, (int)tc->start, (int)tc->end, tc->body_len,
		      (int)tc->next, tc->status);
}

START_TEST(test_answers_cookie)
{
	run_case(&cases[_i], cookie_obj->maps.answers, cookie_obj->maps.stats,
		 cookie_obj->progs.lb_backend_egress);
}
END_TEST

START_TEST(test_answers_replay)
{
	run_case(&cases[_i], replay_obj->maps.answers, replay_obj->maps.stats,
		 replay_obj->progs.lb_replay_egress);
}
END_TEST

Suite *answers_suite(void)
{
	Suite *s = suite_create("backend_answers");
	TCase *tc = tcase_create("framing");
	int n = sizeof(cases) / sizeof(cases[0]);

	/*
	 * Loaded once for the test case, as each load is seconds of the
	 * verifier's work: every case puts its connection's entry afresh.
	 */
	tcase_add_unchecked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 30);
	tcase_add_loop_test(tc, test_answers_cookie, 0, n);
	tcase_add_loop_test(tc, test_answers_replay, 0, n);
	suite_add_tcase(s, tc);
	return s;
}
