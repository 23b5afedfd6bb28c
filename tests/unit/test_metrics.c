// SPDX-License-Identifier: GPL-2.0
/*
 * The Prometheus exporter (user/metrics.c): the exposition rendered from a
 * source we fill ourselves (arrays instead of maps), checked line by line and
 * against the text format's grammar; and the HTTP server driven through its
 * poll API with real sockets on 127.0.0.1 (port 0), one process playing both
 * the daemon's loop and its clients.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "config.h"
#include "metrics.h"
#include "route_counts.h"
#include "topk.h"
#include "stats.h"
#include "suites.h"

static const char yaml[] =
	"interface: eth0\n"
	"vips:\n"
	"  - {address: 192.0.2.80, port: 80, mode: http}\n"
	"  - {address: 192.0.2.81, port: 8080, mode: http}\n"
	"backends:\n"
	"  - {name: web1, address: 198.51.100.11}\n"
	"  - {name: web2, address: 198.51.100.12, weight: 3}\n"
	"  - {name: web3, address: 198.51.100.13}\n"
	"routes:\n"
	"  - {name: images, host: \"*\", prefix: /images/, backends: [web1, web2]}\n"
	"  - {name: report, host: \"*\", path: /report.pdf, backends: [web3]}\n"
	"  - {host: \"*\", prefix: /, backends: [web1, web2, web3]}\n";

/* One fixture per test (Check forks each one). */
static struct {
	struct lb_config cfg;
	struct lb_counter xdp[LB_XDP_REASON_MAX];
	uint64_t disp[LB_DISP_MAX];
	struct lb_backend be[3];
	struct lb_topk top;
	struct lb_histogram hist;
	struct lb_metrics_source src;
} t;

/* @n requests of @cfg's route @i, 100 bytes each. */
static void hits(struct lb_topk *top, const struct lb_config *cfg, size_t i, unsigned int n)
{
	char buf[32];

	while (n--)
		lb_topk_hit(top, lb_route_key(lb_route_label(cfg, i, buf)), (uint32_t)i, 100);
}

static void setup(void)
{
	char err[LB_ERR_MAX];

	memset(&t, 0, sizeof(t));
	ck_assert_msg(!lb_config_parse("t.yaml", yaml, strlen(yaml), &t.cfg, err, sizeof(err)), "%s",
		      err);
	t.xdp[LB_XDP_TX_SYNACK] = (struct lb_counter){ .packets = 7, .bytes = 420 };
	t.xdp[LB_XDP_DROP_BAD_COOKIE] = (struct lb_counter){ .packets = 2, .bytes = 108 };
	t.disp[LB_DISP_DECISIONS] = 11;
	t.disp[LB_DISP_REPLY_404] = 4;
	t.disp[LB_DISP_REPLY_503] = 1;
	t.disp[LB_DISP_REPLY_RETRANSMITS] = 9;
	t.be[0] = (struct lb_backend){ .state = LB_BACKEND_UP, .weight = 1, .active = 3,
				       .chosen = 10, .packets = 100, .bytes = 6000 };
	t.be[1] = (struct lb_backend){ .state = LB_BACKEND_DRAINING, .weight = 3, .active = 2,
				       .chosen = 1 };
	t.be[2] = (struct lb_backend){ .state = LB_BACKEND_DOWN, .weight = 1 };
	ck_assert_int_eq(lb_topk_init(&t.top, LB_ROUTE_TOP_DEFAULT), 0);
	hits(&t.top, &t.cfg, 0, 5);
	hits(&t.top, &t.cfg, 2, 6);
	t.src = (struct lb_metrics_source){
		.cfg = &t.cfg, .stats_fd = -1, .xdp = t.xdp, .backends = t.be,
		.disp_counters = t.disp, .route_top = &t.top, .handoff_latency = &t.hist,
		.version = "1.2.3",
	};
}

static void teardown(void)
{
	lb_topk_free(&t.top);
	lb_config_free(&t.cfg);
}

static char *render(const struct lb_metrics_source *src)
{
	char *text;
	size_t len;

	ck_assert_int_eq(lb_metrics_render(src, &text, &len), 0);
	ck_assert_ptr_nonnull(text);
	ck_assert_uint_eq(len, strlen(text));
	return text;
}

/* @line (without its newline) is one whole line of @text. */
static bool has_line(const char *text, const char *line)
{
	size_t n = strlen(line);
	const char *p;

	for (p = text; (p = strstr(p, line)); p++)
		if ((p == text || p[-1] == '\n') && p[n] == '\n')
			return true;
	return false;
}

#define ck_assert_line(text, line) \
	ck_assert_msg(has_line(text, line), "missing line '%s' in:\n%s", line, text)
#define ck_assert_no_line(text, line) \
	ck_assert_msg(!has_line(text, line), "unexpected line '%s' in:\n%s", line, text)

/* How many lines of @text start with @prefix. */
static int count_prefix(const char *text, const char *prefix)
{
	size_t n = strlen(prefix);
	const char *p = text;
	int count = 0;

	while (*p) {
		if (!strncmp(p, prefix, n))
			count++;
		p = strchr(p, '\n');
		if (!p)
			break;
		p++;
	}
	return count;
}

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* A label named le (not one ending in it, like table). */
static bool has_le(const char *line)
{
	return strstr(line, "{le=\"") || strstr(line, ",le=\"");
}

/*
 * The text format 0.0.4 as Prometheus parses it, strictly: every family has
 * HELP then TYPE once, its samples follow it without another family in
 * between, counters end in _total, histogram samples are _bucket (with le),
 * _sum and _count, label values use only the three escapes, every value is a
 * number, every line ends in a newline.
 */
static void check_grammar(const char *text)
{
	char fam[128] = "", type[16] = "", seen[64][128];
	int n_seen = 0, lineno = 0, i;
	const char *p = text;

	ck_assert_msg(*text && text[strlen(text) - 1] == '\n', "must end in a newline");
	while (*p) {
		const char *eol = strchr(p, '\n');
		char line[1024], name[128];
		size_t len = eol - p, k = 0;

		lineno++;
		ck_assert_ptr_nonnull(eol);
		ck_assert_uint_lt(len, sizeof(line));
		memcpy(line, p, len);
		line[len] = '\0';
		p = eol + 1;
		if (!strncmp(line, "# HELP ", 7)) {
			ck_assert_int_eq(sscanf(line + 7, "%127s", name), 1);
			for (i = 0; i < n_seen; i++)
				ck_assert_msg(strcmp(seen[i], name), "line %d: family %s twice", lineno, name);
			ck_assert_int_lt(n_seen, 64);
			strcpy(seen[n_seen++], name);
			strcpy(fam, name);
			type[0] = '\0';
			ck_assert_msg(strlen(line) > 8 + strlen(name), "line %d: empty help", lineno);
			continue;
		}
		if (!strncmp(line, "# TYPE ", 7)) {
			ck_assert_int_eq(sscanf(line + 7, "%127s %15s", name, type), 2);
			ck_assert_msg(!strcmp(name, fam), "line %d: TYPE %s after HELP %s", lineno, name, fam);
			ck_assert_msg(!strcmp(type, "counter") || !strcmp(type, "gauge") ||
					      !strcmp(type, "histogram"), "line %d: type %s", lineno, type);
			if (!strcmp(type, "counter"))
				ck_assert_msg(strlen(name) > 6 && !strcmp(name + strlen(name) - 6, "_total"),
					      "counter %s without _total", name);
			else
				ck_assert_msg(!strstr(name, "_total"), "%s %s ends in _total", type, name);
			continue;
		}
		ck_assert_msg(line[0] != '#', "line %d: stray comment", lineno);
		ck_assert_msg(type[0], "line %d: sample before HELP and TYPE", lineno);
		/* name */
		while (name_char(line[k], k == 0))
			k++;
		ck_assert_uint_gt(k, 0);
		memcpy(name, line, k);
		name[k] = '\0';
		if (!strcmp(type, "histogram")) {
			char b[160], s[160], c[160];

			snprintf(b, sizeof(b), "%s_bucket", fam);
			snprintf(s, sizeof(s), "%s_sum", fam);
			snprintf(c, sizeof(c), "%s_count", fam);
			ck_assert_msg(!strcmp(name, b) || !strcmp(name, s) || !strcmp(name, c),
				      "line %d: %s in histogram %s", lineno, name, fam);
			if (!strcmp(name, b))
				ck_assert_msg(has_le(line), "line %d: bucket without le", lineno);
		} else {
			ck_assert_msg(!strcmp(name, fam), "line %d: sample %s in family %s", lineno, name,
				      fam);
			ck_assert_msg(!has_le(line), "line %d: le outside a histogram", lineno);
		}
		/* labels */
		if (line[k] == '{') {
			k++;
			while (line[k] != '}') {
				size_t l0 = k;

				while (name_char(line[k], k == l0) && line[k] != ':')
					k++;
				ck_assert_msg(k > l0 && line[k] == '=' && line[k + 1] == '"',
					      "line %d: bad label at %zu", lineno, k);
				k += 2;
				while (line[k] != '"') {
					ck_assert_msg(line[k], "line %d: unterminated value", lineno);
					if (line[k] == '\\') {
						ck_assert_msg(line[k + 1] == '\\' || line[k + 1] == '"' ||
								      line[k + 1] == 'n',
							      "line %d: bad escape", lineno);
						k++;
					}
					k++;
				}
				k++;
				if (line[k] == ',')
					k++;
				else
					ck_assert_msg(line[k] == '}', "line %d: after a label", lineno);
			}
			k++;
		}
		/* value */
		ck_assert_msg(line[k] == ' ', "line %d: no space before the value", lineno);
		{
			char *end;

			errno = 0;
			strtod(line + k + 1, &end);
			ck_assert_msg(!errno && end != line + k + 1 && !*end, "line %d: bad value '%s'",
				      lineno, line + k + 1);
		}
	}
}

START_TEST(test_render_build_info_only)
{
	struct lb_metrics_source none = { .stats_fd = -1, .version = "1.2.3" };
	char *text = render(&none);

	/* Every missing source leaves its family out, HELP and TYPE included. */
	ck_assert_str_eq(text, "# HELP latebind_build_info The running latebind build (always 1).\n"
			       "# TYPE latebind_build_info gauge\n"
			       "latebind_build_info{version=\"1.2.3\"} 1\n");
	free(text);
	/* No source at all: still a valid page, with this build's version. */
	text = render(NULL);
	ck_assert_msg(strstr(text, "\nlatebind_build_info{version=\"") &&
			      !strstr(text, "{version=\"\"}"), "%s", text);
	check_grammar(text);
	free(text);
}
END_TEST

/* The announce families: only with a table, one series each, the table as label. */
START_TEST(test_render_announce)
{
	struct lb_announce off = { 0 }, on = { .table = 200, .announced = 1, .withdrawals = 3 };
	struct lb_metrics_source src = { .stats_fd = -1, .version = "1", .announce = &off };
	char *text = render(&src);

	ck_assert_msg(!strstr(text, "latebind_announce"), "%s", text);
	free(text);
	src.announce = &on;
	text = render(&src);
	ck_assert_msg(has_line(text, "# TYPE latebind_announced gauge"), "%s", text);
	ck_assert_msg(has_line(text, "latebind_announced{table=\"200\"} 1"), "%s", text);
	ck_assert_msg(has_line(text, "# TYPE latebind_announce_withdrawals_total counter"), "%s", text);
	ck_assert_msg(has_line(text, "latebind_announce_withdrawals_total{table=\"200\"} 3"), "%s",
		      text);
	check_grammar(text);
	free(text);
	on.announced = 0;
	text = render(&src);
	ck_assert_msg(has_line(text, "latebind_announced{table=\"200\"} 0"), "%s", text);
	free(text);
}
END_TEST

START_TEST(test_render_full_page)
{
	char *text = render(&t.src);

	check_grammar(text);
	ck_assert_line(text, "latebind_build_info{version=\"1.2.3\"} 1");
	ck_assert_line(text, "latebind_vip_info{vip=\"192.0.2.80:80\",mode=\"http\"} 1");
	ck_assert_line(text, "latebind_vip_info{vip=\"192.0.2.81:8080\",mode=\"http\"} 1");

	/* XDP: every reason, packets and bytes, by the names in stats.h. */
	ck_assert_line(text, "# TYPE latebind_xdp_packets_total counter");
	ck_assert_line(text, "latebind_xdp_packets_total{reason=\"tx_synack\"} 7");
	ck_assert_line(text, "latebind_xdp_bytes_total{reason=\"tx_synack\"} 420");
	ck_assert_line(text, "latebind_xdp_packets_total{reason=\"drop_bad_cookie\"} 2");
	ck_assert_line(text, "latebind_xdp_bytes_total{reason=\"drop_bad_cookie\"} 108");
	ck_assert_line(text, "latebind_xdp_packets_total{reason=\"pass_not_ipv4\"} 0");
	ck_assert_int_eq(count_prefix(text, "latebind_xdp_packets_total{"), LB_XDP_REASON_MAX);
	ck_assert_int_eq(count_prefix(text, "latebind_xdp_bytes_total{"), LB_XDP_REASON_MAX);

	/* Dispatcher: the reply_NNN counters become replies_total{code}, the rest events. */
	ck_assert_line(text, "# TYPE latebind_replies_total counter");
	ck_assert_line(text, "latebind_replies_total{code=\"404\"} 4");
	ck_assert_line(text, "latebind_replies_total{code=\"503\"} 1");
	ck_assert_line(text, "latebind_replies_total{code=\"400\"} 0");
	ck_assert_line(text, "latebind_replies_total{code=\"307\"} 0");
	ck_assert_int_eq(count_prefix(text, "latebind_replies_total{"), 11);
	ck_assert_line(text, "latebind_dispatcher_events_total{event=\"decisions\"} 11");
	ck_assert_line(text, "latebind_dispatcher_events_total{event=\"reply_retransmits\"} 9");
	ck_assert_no_line(text, "latebind_dispatcher_events_total{event=\"reply_404\"} 4");
	ck_assert_int_eq(count_prefix(text, "latebind_dispatcher_events_total{"), LB_DISP_MAX - 11);
	/* No callback given: no gauge of held connections. */
	ck_assert_int_eq(count_prefix(text, "latebind_dispatcher_connections"), 0);

	/* Backends, by config name, from the mmapped array. */
	ck_assert_line(text, "latebind_backend_info{backend=\"web1\",address=\"198.51.100.11\","
			     "handoff=\"cookie\"} 1");
	ck_assert_line(text, "latebind_backend_up{backend=\"web1\"} 1");
	ck_assert_line(text, "latebind_backend_up{backend=\"web2\"} 0");
	ck_assert_line(text, "latebind_backend_up{backend=\"web3\"} 0");
	ck_assert_line(text, "latebind_backend_draining{backend=\"web1\"} 0");
	ck_assert_line(text, "latebind_backend_draining{backend=\"web2\"} 1");
	ck_assert_line(text, "latebind_backend_draining{backend=\"web3\"} 0");
	ck_assert_line(text, "latebind_backend_weight{backend=\"web2\"} 3");
	ck_assert_line(text, "latebind_backend_active_flows{backend=\"web1\"} 3");
	ck_assert_line(text, "latebind_backend_active_flows{backend=\"web2\"} 2");
	ck_assert_line(text, "# TYPE latebind_backend_handoffs_total counter");
	ck_assert_line(text, "latebind_backend_handoffs_total{backend=\"web1\"} 10");
	ck_assert_line(text, "latebind_backend_packets_total{backend=\"web1\"} 100");
	ck_assert_line(text, "latebind_backend_bytes_total{backend=\"web1\"} 6000");
	ck_assert_line(text, "latebind_flows_active 5");

	/* Routes by name (the unnamed one is called route2 by the loader), never by path;
	 * only those requested, most first. */
	ck_assert_line(text, "latebind_route_requests_total{route=\"images\"} 5");
	ck_assert_no_line(text, "latebind_route_requests_total{route=\"report\"} 0");
	ck_assert_line(text, "latebind_route_requests_total{route=\"route2\"} 6");
	ck_assert(strstr(text, "{route=\"route2\"} 6") < strstr(text, "{route=\"images\"} 5"));
	ck_assert_line(text, "latebind_route_requests_error{route=\"images\"} 0");
	ck_assert_line(text, "latebind_route_bytes_total{route=\"images\"} 500");
	ck_assert_line(text, "latebind_routed_requests_total 11");
	ck_assert_line(text, "latebind_route_requests_other 0");
	ck_assert_ptr_null(strstr(text, "/images/"));
	ck_assert_ptr_null(strstr(text, "report.pdf"));

	ck_assert_line(text, "# TYPE latebind_handoff_latency_seconds histogram");
	ck_assert_line(text, "latebind_handoff_latency_seconds_count 0");
	free(text);
}
END_TEST

/* Each dispatcher thread's figures: a family each, a sample per thread, by the names in stats.h. */
START_TEST(test_render_threads)
{
	struct lb_disp_thread th[2] = {
		{ .queues = 1, .first_queue = 0, .frames = 40, .handoffs_out = 3, .handoffs_in = 5,
		  .decisions = 7, .connections = 2 },
		{ .queues = 1, .first_queue = 1, .frames = 22, .handoffs_out = 5, .handoffs_in = 3,
		  .ring_full = 1, .decisions = 4 },
	};
	char *text;

	t.src.threads = th;
	t.src.n_threads = 2;
	text = render(&t.src);
	check_grammar(text);
	ck_assert_line(text, "# TYPE latebind_dispatcher_thread_decisions_total counter");
	ck_assert_line(text, "latebind_dispatcher_thread_decisions_total{thread=\"0\"} 7");
	ck_assert_line(text, "latebind_dispatcher_thread_decisions_total{thread=\"1\"} 4");
	ck_assert_line(text, "latebind_dispatcher_thread_frames_total{thread=\"0\"} 40");
	ck_assert_line(text, "latebind_dispatcher_thread_handoffs_out_total{thread=\"1\"} 5");
	ck_assert_line(text, "latebind_dispatcher_thread_handoffs_in_total{thread=\"0\"} 5");
	ck_assert_line(text, "latebind_dispatcher_thread_ring_full_total{thread=\"1\"} 1");
	ck_assert_line(text, "# TYPE latebind_dispatcher_thread_connections gauge");
	ck_assert_line(text, "latebind_dispatcher_thread_connections{thread=\"0\"} 2");
	ck_assert_int_eq(count_prefix(text, "latebind_dispatcher_thread_"), 2 * LB_THREAD_FIGURES_N);
	free(text);

	/* No threads given: no family. */
	t.src.threads = NULL;
	text = render(&t.src);
	ck_assert_int_eq(count_prefix(text, "latebind_dispatcher_thread_"), 0);
	free(text);
}
END_TEST

START_TEST(test_render_label_escaping)
{
	char *text, *old = t.cfg.routes[0].name;

	t.src.version = "a\"b\\c\nd";
	t.cfg.routes[0].name = "we\"ird\\route\n";
	text = render(&t.src);
	check_grammar(text);
	ck_assert_line(text, "latebind_build_info{version=\"a\\\"b\\\\c\\nd\"} 1");
	ck_assert_line(text, "latebind_route_requests_total{route=\"we\\\"ird\\\\route\\n\"} 5");
	t.cfg.routes[0].name = old;
	free(text);
}
END_TEST

START_TEST(test_histogram_buckets)
{
	static const char *const want[] = {
		"latebind_handoff_latency_seconds_bucket{le=\"5e-05\"} 3",
		"latebind_handoff_latency_seconds_bucket{le=\"0.0001\"} 4",
		"latebind_handoff_latency_seconds_bucket{le=\"0.00025\"} 4",
		"latebind_handoff_latency_seconds_bucket{le=\"0.0005\"} 4",
		"latebind_handoff_latency_seconds_bucket{le=\"0.001\"} 4",
		"latebind_handoff_latency_seconds_bucket{le=\"0.0025\"} 4",
		"latebind_handoff_latency_seconds_bucket{le=\"0.005\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"0.01\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"0.025\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"0.05\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"0.1\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"0.25\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"0.5\"} 6",
		"latebind_handoff_latency_seconds_bucket{le=\"1\"} 7",
		"latebind_handoff_latency_seconds_bucket{le=\"+Inf\"} 8",
		"latebind_handoff_latency_seconds_sum 3.008100001",
		"latebind_handoff_latency_seconds_count 8",
	};
	struct lb_histogram *h = &t.hist;
	char *text, *p;
	size_t i;

	lb_histogram_observe(h, 0);
	lb_histogram_observe(h, -1);	    /* a clock step back counts as 0 */
	lb_histogram_observe(h, 50e-6);	    /* on a bound: in that bucket (le) */
	lb_histogram_observe(h, 50.001e-6); /* just above: the next one */
	lb_histogram_observe(h, 0.003);
	lb_histogram_observe_ns(h, 5000000); /* exactly 5 ms */
	lb_histogram_observe(h, 1.0);
	lb_histogram_observe(h, 2.0);	    /* past the last bound: +Inf only */
	lb_histogram_observe(h, NAN);	    /* ignored */
	ck_assert_uint_eq(h->count, 8);
	ck_assert_uint_eq(h->sum_ns, 3008100001ULL);
	ck_assert_uint_eq(h->counts[0], 3);
	ck_assert_uint_eq(h->counts[1], 1);
	ck_assert_uint_eq(h->counts[6], 2);
	ck_assert_uint_eq(h->counts[LB_HISTOGRAM_BUCKETS - 2], 1);
	ck_assert_uint_eq(h->counts[LB_HISTOGRAM_BUCKETS - 1], 1);

	text = render(&t.src);
	check_grammar(text);
	/* Cumulative, in order, one after the other, ending with _sum and _count. */
	p = strstr(text, want[0]);
	ck_assert_msg(p, "no first bucket in:\n%s", text);
	for (i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
		ck_assert_msg(!strncmp(p, want[i], strlen(want[i])) && p[strlen(want[i])] == '\n',
			      "expected '%s' at '%.80s'", want[i], p);
		p += strlen(want[i]) + 1;
	}
	free(text);
	/* A whole number of seconds prints without a fraction. */
	memset(h, 0, sizeof(*h));
	lb_histogram_observe(h, 2.0);
	text = render(&t.src);
	ck_assert_line(text, "latebind_handoff_latency_seconds_sum 2");
	free(text);
}
END_TEST

static uint64_t fake_counter(const struct lb_dispatcher *d, enum lb_dispatch_counter c)
{
	return (const uint64_t *)d == t.disp ? 1000 + c : 0;
}

static size_t fake_conns(const struct lb_dispatcher *d)
{
	return (const uint64_t *)d == t.disp ? 42 : 0;
}

START_TEST(test_render_dispatcher_callbacks)
{
	char line[128], *text;

	t.src.disp_counters = NULL;
	t.src.disp = (const struct lb_dispatcher *)t.disp;
	t.src.disp_counter = fake_counter;
	t.src.disp_conns = fake_conns;
	text = render(&t.src);
	check_grammar(text);
	ck_assert_line(text, "# TYPE latebind_dispatcher_connections gauge");
	ck_assert_line(text, "latebind_dispatcher_connections 42");
	snprintf(line, sizeof(line), "latebind_dispatcher_events_total{event=\"decisions\"} %d",
		 1000 + LB_DISP_DECISIONS);
	ck_assert_line(text, line);
	snprintf(line, sizeof(line), "latebind_replies_total{code=\"431\"} %d", 1000 + LB_DISP_REPLY_431);
	ck_assert_line(text, line);
	free(text);
}
END_TEST

/* Many routes (a generated directory): the top_routes most requested, the rest summed. */
START_TEST(test_render_many_routes)
{
	size_t n = 2000, i;
	struct lb_cfg_route *routes = calloc(n, sizeof(*routes));
	struct lb_cfg_route *old_routes = t.cfg.routes;
	size_t old_n = t.cfg.n_routes;
	char (*names)[16] = calloc(n, 16), *text, *a, *b;
	struct lb_topk top;

	ck_assert_ptr_nonnull(routes);
	ck_assert_ptr_nonnull(names);
	for (i = 0; i < n; i++) {
		snprintf(names[i], 16, "r%zu", i);
		routes[i].name = names[i];
	}
	routes[700].name = "zz";
	routes[900].name = "aa";
	t.cfg.routes = routes;
	t.cfg.n_routes = n;
	ck_assert_int_eq(lb_topk_init(&top, 3), 0);
	hits(&top, &t.cfg, 900, 50);
	hits(&top, &t.cfg, 700, 20);
	for (i = 0; i < 1000; i++)
		hits(&top, &t.cfg, 1000 + i, 1);
	t.src.route_top = &top;
	text = render(&t.src);
	check_grammar(text);
	ck_assert_int_eq(count_prefix(text, "latebind_route_requests_total{"), 3);
	a = strstr(text, "latebind_route_requests_total{route=\"aa\"} 50\n");
	b = strstr(text, "latebind_route_requests_total{route=\"zz\"} 20\n");
	ck_assert_msg(a && b && a < b, "%s", text);
	ck_assert_line(text, "latebind_routed_requests_total 1070");
	/* The third is one of the thousand singles, counted at most 1 + 999 / 1 ... */
	ck_assert_ptr_nonnull(strstr(text, "latebind_route_requests_other "));
	free(text);

	t.src.route_top = &t.top;
	lb_topk_free(&top);
	t.cfg.routes = old_routes;
	t.cfg.n_routes = old_n;
	free(routes);
	free(names);
}
END_TEST

/* The per-CPU `stats` map summed over every possible CPU (needs CAP_BPF). */
START_TEST(test_render_from_stats_map)
{
	int ncpu = libbpf_num_possible_cpus(), fd, c;
	struct lb_counter *vals;
	char line[128], *text;
	__u32 k = LB_XDP_TX_FAST_PATH;

	ck_assert_int_gt(ncpu, 0);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, "stats", sizeof(__u32),
			    sizeof(struct lb_counter), LB_XDP_REASON_MAX, NULL);
	/* Only added when it may create maps (metrics_suite): a failure here is one. */
	ck_assert_msg(fd >= 0, "bpf_map_create: %s", strerror(errno));
	vals = calloc(ncpu, sizeof(*vals));
	for (c = 0; c < ncpu; c++)
		vals[c] = (struct lb_counter){ .packets = c + 1, .bytes = 100 * (c + 1) };
	ck_assert_int_eq(bpf_map_update_elem(fd, &k, vals, 0), 0);
	t.src.stats_fd = fd;
	t.src.xdp = NULL;
	text = render(&t.src);
	check_grammar(text);
	snprintf(line, sizeof(line), "latebind_xdp_packets_total{reason=\"tx_fast_path\"} %d",
		 ncpu * (ncpu + 1) / 2);
	ck_assert_line(text, line);
	snprintf(line, sizeof(line), "latebind_xdp_bytes_total{reason=\"tx_fast_path\"} %d",
		 100 * ncpu * (ncpu + 1) / 2);
	ck_assert_line(text, line);
	ck_assert_line(text, "latebind_xdp_packets_total{reason=\"tx_synack\"} 0");
	free(text);
	close(fd);
	free(vals);
}
END_TEST

/* A reload leaves holes in the backend slots (no name): no series for them. */
START_TEST(test_render_backend_holes)
{
	char *text;

	t.cfg.backends[1].name[0] = '\0';
	text = render(&t.src);
	check_grammar(text);
	ck_assert_ptr_null(strstr(text, "backend=\"\""));
	ck_assert_ptr_null(strstr(text, "198.51.100.12"));
	ck_assert_line(text, "latebind_backend_up{backend=\"web1\"} 1");
	ck_assert_line(text, "latebind_backend_up{backend=\"web3\"} 0");
	ck_assert_int_eq(count_prefix(text, "latebind_backend_active_flows{"), 2);
	free(text);
}
END_TEST

/* A stats fd that is not a map: the XDP families are left out, the rest stays. */
START_TEST(test_render_bad_stats_fd)
{
	int p[2];
	char *text;

	ck_assert_int_eq(pipe(p), 0);
	t.src.stats_fd = p[0];
	text = render(&t.src);
	check_grammar(text);
	ck_assert_ptr_null(strstr(text, "latebind_xdp_"));
	ck_assert_line(text, "latebind_backend_up{backend=\"web1\"} 1");
	free(text);
	close(p[0]);
	close(p[1]);
}
END_TEST

/* --- the server ------------------------------------------------------------- */

static uint64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static uint64_t slowest_serve_ms; /* the longest one lb_metrics_serve() call took */
/*
 * A serve call that waited on a client would wait for its timeout (seconds) or
 * for ever; below this, a call's time is only the scheduler's on a loaded machine.
 */
#define SERVE_NEVER_WAITED_MS 1000

/* One turn of the daemon's loop: poll the exporter's fds (up to @wait_ms), serve. */
static void turn(struct lb_metrics *m, int wait_ms)
{
	struct pollfd fds[LB_METRICS_MAX_FDS];
	uint64_t t0;
	int n = lb_metrics_pollfds(m, fds, LB_METRICS_MAX_FDS);

	ck_assert_int_ge(n, 0);
	ck_assert_int_le(n, LB_METRICS_MAX_FDS);
	poll(fds, n, wait_ms);
	t0 = mono_ms();
	lb_metrics_serve(m, fds, n, &t.src);
	if (mono_ms() - t0 > slowest_serve_ms)
		slowest_serve_ms = mono_ms() - t0;
}

static void run_for(struct lb_metrics *m, int ms)
{
	uint64_t end = mono_ms() + ms;

	while (mono_ms() < end)
		turn(m, 5);
}

/* Turns until the exporter has @n clients; false if @ms pass first. */
static bool run_until_clients(struct lb_metrics *m, size_t n, int ms)
{
	uint64_t end = mono_ms() + ms;

	while (lb_metrics_clients(m) != n && mono_ms() < end)
		turn(m, 5);
	return lb_metrics_clients(m) == n;
}

static struct lb_metrics *start(void)
{
	char err[LB_ERR_MAX];
	struct lb_metrics *m = lb_metrics_open("127.0.0.1:0", err, sizeof(err));

	ck_assert_msg(m, "%s", err);
	ck_assert_uint_gt(lb_metrics_port(m), 0);
	return m;
}

static int client(struct lb_metrics *m, int rcvbuf)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(lb_metrics_port(m)),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	ck_assert_int_ge(fd, 0);
	if (rcvbuf)
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof(rcvbuf));
	/* The kernel completes the handshake from the backlog: no accept needed yet. */
	ck_assert_int_eq(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	ck_assert_int_eq(fcntl(fd, F_SETFL, O_NONBLOCK), 0);
	return fd;
}

static void say(int fd, const char *s)
{
	ck_assert_int_eq(send(fd, s, strlen(s), MSG_NOSIGNAL), (ssize_t)strlen(s));
}

struct reply {
	char *text;
	size_t len;
	bool eof;   /* the server closed (FIN or reset) */
	bool reset; /* ... with a reset */
};

/* Serve and read @fd until the server closes it or @ms pass. */
static struct reply collect(struct lb_metrics *m, int fd, int ms)
{
	struct reply r = { .text = malloc(1) };
	uint64_t end = mono_ms() + ms;
	char buf[65536];
	ssize_t n;

	while (!r.eof && mono_ms() < end) {
		turn(m, 2);
		while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) {
			r.text = realloc(r.text, r.len + n + 1);
			memcpy(r.text + r.len, buf, n);
			r.len += n;
		}
		if (n == 0 || (n < 0 && errno != EAGAIN)) {
			r.eof = true;
			r.reset = n < 0;
		}
	}
	r.text[r.len] = '\0';
	return r;
}

static struct reply ask(struct lb_metrics *m, const char *request)
{
	int fd = client(m, 0);
	struct reply r;

	say(fd, request);
	r = collect(m, fd, 2000);
	close(fd);
	ck_assert_msg(r.eof, "no end of the reply to '%s'", request);
	return r;
}

static const char *body_of(const struct reply *r)
{
	const char *b = strstr(r->text, "\r\n\r\n");

	ck_assert_ptr_nonnull(b);
	return b + 4;
}

static void check_content_length(const struct reply *r)
{
	const char *cl = strstr(r->text, "\r\nContent-Length: ");

	ck_assert_ptr_nonnull(cl);
	ck_assert_uint_eq(strtoul(cl + 18, NULL, 10), strlen(body_of(r)));
}

START_TEST(test_server_get_metrics)
{
	struct lb_metrics *m = start();
	char *want;
	size_t wlen;
	struct reply r;

	r = ask(m, "GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: */*\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%s", r.text);
	ck_assert_ptr_nonnull(strstr(r.text, "\r\nContent-Type: text/plain; version=0.0.4"));
	ck_assert_ptr_nonnull(strstr(r.text, "\r\nConnection: close\r\n"));
	check_content_length(&r);
	ck_assert_int_eq(lb_metrics_render(&t.src, &want, &wlen), 0);
	ck_assert_str_eq(body_of(&r), want);
	ck_assert(!r.reset);
	free(r.text);

	/* A query string is fine; HTTP/1.0 too; HEAD has the headers only. */
	r = ask(m, "GET /metrics?x=1 HTTP/1.0\r\n\r\n");
	ck_assert_str_eq(body_of(&r), want);
	free(r.text);
	r = ask(m, "HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%s", r.text);
	ck_assert_str_eq(body_of(&r), "");
	ck_assert_ptr_nonnull(strstr(r.text, "\r\nContent-Type: text/plain; version=0.0.4"));
	{
		char cl[64];

		snprintf(cl, sizeof(cl), "\r\nContent-Length: %zu\r\n", wlen);
		ck_assert_ptr_nonnull(strstr(r.text, cl));
	}
	free(r.text);
	free(want);
	/* Every connection is gone once answered. */
	run_for(m, 20);
	ck_assert_uint_eq(lb_metrics_clients(m), 0);
	lb_metrics_close(m);
}
END_TEST

START_TEST(test_server_errors)
{
	struct lb_metrics *m = start();
	char big[LB_METRICS_REQUEST_MAX + 100];
	struct reply r;

	r = ask(m, "GET /other HTTP/1.1\r\nHost: x\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 404 Not Found\r\n", 24), "%s", r.text);
	check_content_length(&r);
	ck_assert_ptr_null(strstr(r.text, "latebind_"));
	free(r.text);
	r = ask(m, "GET /metricsx HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 404 ", 13), "%s", r.text);
	free(r.text);

	r = ask(m, "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 405 Method Not Allowed\r\n", 33), "%s", r.text);
	ck_assert_ptr_nonnull(strstr(r.text, "\r\nAllow: GET, HEAD\r\n"));
	ck_assert_ptr_null(strstr(r.text, "latebind_"));
	check_content_length(&r);
	free(r.text);
	r = ask(m, "DELETE /metrics HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 405 ", 13), "%s", r.text);
	free(r.text);

	r = ask(m, "HELLO\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 400 ", 13), "%s", r.text);
	free(r.text);
	r = ask(m, "GET /metrics HTTP/2.0\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 400 ", 13), "%s", r.text);
	free(r.text);

	/* A head that never ends within the limit. */
	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	memcpy(big, "GET /metrics HTTP/1.1\r\nX: ", 26);
	r = ask(m, big);
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 431 ", 13), "%.100s", r.text);
	free(r.text);
	run_for(m, 20);
	ck_assert_uint_eq(lb_metrics_clients(m), 0);
	lb_metrics_close(m);
}
END_TEST

/* A request in pieces, with the daemon's loop turning in between. */
START_TEST(test_server_request_in_pieces)
{
	struct lb_metrics *m = start();
	int fd = client(m, 0);
	struct reply r;

	say(fd, "GET /met");
	run_for(m, 30);
	ck_assert_uint_eq(lb_metrics_clients(m), 1);
	say(fd, "rics HTTP/1.1\r\nHost:");
	run_for(m, 30);
	say(fd, " x\r\n\r\n");
	r = collect(m, fd, 2000);
	ck_assert(r.eof);
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%s", r.text);
	check_content_length(&r);
	free(r.text);
	close(fd);
	lb_metrics_close(m);
}
END_TEST

/* A client that sends nothing is closed at its deadline; others are served meanwhile. */
START_TEST(test_server_idle_client_dropped)
{
	struct lb_metrics *m = start();
	uint64_t t0, t_b;
	int idle;
	struct reply r;

	lb_metrics_set_timeout(m, 3000);
	t0 = mono_ms();
	idle = client(m, 0);
	ck_assert(run_until_clients(m, 1, 2000));

	r = ask(m, "GET /metrics HTTP/1.1\r\n\r\n");
	t_b = mono_ms() - t0;
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%s", r.text);
	ck_assert_msg(t_b < 2000, "the second client waited %llu ms behind the idle one",
		      (unsigned long long)t_b);
	free(r.text);

	r = collect(m, idle, 10000);
	ck_assert_msg(r.eof, "the idle client was never closed");
	ck_assert_uint_eq(r.len, 0); /* closed without a word */
	ck_assert_uint_ge(mono_ms() - t0, 3000);
	ck_assert_uint_lt(mono_ms() - t0, 8000);
	ck_assert_uint_eq(lb_metrics_clients(m), 0);
	ck_assert_uint_lt(slowest_serve_ms, SERVE_NEVER_WAITED_MS);
	free(r.text);
	close(idle);
	lb_metrics_close(m);
}
END_TEST

/* Answered but never closing its end: the slot is back within the linger time. */
START_TEST(test_server_answered_client_lingers_briefly)
{
	struct lb_metrics *m = start();
	int fd = client(m, 0);
	uint64_t t0 = mono_ms();
	struct reply r;

	lb_metrics_set_timeout(m, 10000);
	say(fd, "GET /metrics HTTP/1.1\r\n\r\n");
	r = collect(m, fd, 2000); /* reads up to our FIN, keeps its own end open */
	ck_assert(r.eof && !r.reset);
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%s", r.text);
	free(r.text);
	/* Gone by the linger (a second), long before the 10 s timeout. */
	ck_assert(run_until_clients(m, 0, 8000));
	ck_assert_uint_lt(mono_ms() - t0, 8000);
	close(fd);
	lb_metrics_close(m);
}
END_TEST

START_TEST(test_server_max_connections)
{
	struct lb_metrics *m = start();
	int idle[LB_METRICS_MAX_CLIENTS], i;
	struct reply r;

	lb_metrics_set_timeout(m, 3000);
	for (i = 0; i < LB_METRICS_MAX_CLIENTS; i++)
		idle[i] = client(m, 0);
	ck_assert(run_until_clients(m, LB_METRICS_MAX_CLIENTS, 2000));

	/* One too many: turned away at once, never served the page. */
	r = ask(m, "GET /metrics HTTP/1.1\r\n\r\n");
	ck_assert_msg(r.len == 0 || !strncmp(r.text, "HTTP/1.1 503 ", 13), "%s", r.text);
	ck_assert_ptr_null(strstr(r.text, "latebind_"));
	ck_assert_uint_eq(lb_metrics_clients(m), LB_METRICS_MAX_CLIENTS);
	free(r.text);

	/* The idle ones expire and the slots serve again. */
	ck_assert(run_until_clients(m, 0, 10000));
	r = ask(m, "GET /metrics HTTP/1.1\r\n\r\n");
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%s", r.text);
	free(r.text);
	for (i = 0; i < LB_METRICS_MAX_CLIENTS; i++)
		close(idle[i]);
	ck_assert_uint_lt(slowest_serve_ms, SERVE_NEVER_WAITED_MS);
	lb_metrics_close(m);
}
END_TEST

/* A page bigger than the sockets take: written as the client reads, never waited on. */
START_TEST(test_server_slow_reader)
{
	size_t n = 4 << 20, wlen;
	char *big = malloc(n + 1), *want;
	struct pollfd fds[LB_METRICS_MAX_FDS];
	struct lb_metrics *m;
	struct reply r;
	int fd, k, nfds;
	bool writing = false;

	/* Route series are bounded now: a long version label makes the page big. */
	ck_assert_ptr_nonnull(big);
	memset(big, 'v', n);
	big[n] = '\0';
	t.src.version = big;
	ck_assert_int_eq(lb_metrics_render(&t.src, &want, &wlen), 0);
	ck_assert_uint_gt(wlen, 3 << 20);

	m = start();
	fd = client(m, 4096);
	say(fd, "GET /metrics HTTP/1.1\r\n\r\n");
	run_for(m, 100); /* the page is rendered; the client reads nothing yet */
	nfds = lb_metrics_pollfds(m, fds, LB_METRICS_MAX_FDS);
	for (k = 1; k < nfds; k++)
		writing |= fds[k].events == POLLOUT;
	ck_assert_msg(writing, "the answer should be waiting for room to write");
	/* While it waits, every turn of the loop returns at once. */
	slowest_serve_ms = 0;
	run_for(m, 200);
	ck_assert_uint_lt(slowest_serve_ms, SERVE_NEVER_WAITED_MS);
	ck_assert_uint_eq(lb_metrics_clients(m), 1);

	r = collect(m, fd, 5000);
	ck_assert(r.eof && !r.reset);
	ck_assert_msg(!strncmp(r.text, "HTTP/1.1 200 OK\r\n", 17), "%.80s", r.text);
	ck_assert_str_eq(body_of(&r), want);
	free(r.text);
	free(want);
	close(fd);
	lb_metrics_close(m);
	t.src.version = "1.2.3";
	free(big);
}
END_TEST

START_TEST(test_server_open)
{
	char err[LB_ERR_MAX] = "x";
	struct lb_metrics *m, *m2;
	struct pollfd fds[LB_METRICS_MAX_FDS];
	char addr[64];

	/* "" disables the exporter: no server, no error. */
	ck_assert_ptr_null(lb_metrics_open("", err, sizeof(err)));
	ck_assert_str_eq(err, "");
	ck_assert_int_eq(lb_metrics_pollfds(NULL, fds, LB_METRICS_MAX_FDS), 0);
	lb_metrics_serve(NULL, fds, 0, &t.src);
	lb_metrics_close(NULL);

	ck_assert_ptr_null(lb_metrics_open("localhost:9180", err, sizeof(err)));
	ck_assert_msg(strstr(err, "metrics.listen") && strstr(err, "localhost:9180"), "%s", err);
	ck_assert_ptr_null(lb_metrics_open("127.0.0.1:65536", err, sizeof(err)));
	ck_assert_ptr_null(lb_metrics_open("127.0.0.1", err, sizeof(err)));
	ck_assert_ptr_null(lb_metrics_open("127.0.0.1:", err, sizeof(err)));
	ck_assert_ptr_null(lb_metrics_open("::1:9180", err, sizeof(err)));
	ck_assert_ptr_null(lb_metrics_open("[::1]9180", err, sizeof(err)));
	ck_assert_ptr_null(lb_metrics_open("[]:9180", err, sizeof(err)));

	/* A port in use: says which and why. */
	m = start();
	snprintf(addr, sizeof(addr), "127.0.0.1:%u", lb_metrics_port(m));
	m2 = lb_metrics_open(addr, err, sizeof(err));
	ck_assert_ptr_null(m2);
	ck_assert_msg(strstr(err, addr) && strstr(err, "in use"), "%s", err);
	/* The listener is polled for reading, first. */
	ck_assert_int_eq(lb_metrics_pollfds(m, fds, 1), 1);
	ck_assert_int_eq(fds[0].events, POLLIN);
	lb_metrics_close(m);

	/* IPv6, where the host has it. */
	m = lb_metrics_open("[::1]:0", err, sizeof(err));
	if (m) {
		ck_assert_uint_gt(lb_metrics_port(m), 0);
		lb_metrics_close(m);
	} else {
		ck_assert_msg(!strstr(err, "not an address"), "%s", err);
	}
}
END_TEST

/* @name is @id in lower case: the exported name and the enum are one definition. */
static void check_named_after(const char *id, const char *name)
{
	size_t i;

	ck_assert_uint_eq(strlen(id), strlen(name));
	for (i = 0; id[i]; i++)
		ck_assert_msg(name[i] == (id[i] >= 'A' && id[i] <= 'Z' ? id[i] - 'A' + 'a' : id[i]),
			      "counter %s is exported as \"%s\"", id, name);
}

START_TEST(test_counter_names_follow_ids)
{
#define CHECK_NAME(id, name) check_named_after(#id, name);
	LB_XDP_REASONS(CHECK_NAME)
	LB_BACKEND_REASONS(CHECK_NAME)
	LB_DISPATCH_COUNTERS(CHECK_NAME)
#undef CHECK_NAME
}
END_TEST

Suite *metrics_suite(void)
{
	Suite *s = suite_create("metrics");
	TCase *render_tc = tcase_create("render");
	TCase *server_tc = tcase_create("server");

	tcase_add_checked_fixture(render_tc, setup, teardown);
	tcase_add_test(render_tc, test_render_build_info_only);
	tcase_add_test(render_tc, test_render_full_page);
	tcase_add_test(render_tc, test_render_announce);
	tcase_add_test(render_tc, test_render_threads);
	tcase_add_test(render_tc, test_render_label_escaping);
	tcase_add_test(render_tc, test_histogram_buckets);
	tcase_add_test(render_tc, test_render_dispatcher_callbacks);
	tcase_add_test(render_tc, test_render_many_routes);
	tcase_add_test(render_tc, test_counter_names_follow_ids);
	/*
	 * Without root the kernel refuses BPF maps: the test is not run and is
	 * counted as skipped (tests/run.sh reads the line; tests/README.md documents
	 * it). As root it always runs, so a refusal there is a failure.
	 */
	if (geteuid() == 0) {
		tcase_add_test(render_tc, test_render_from_stats_map);
	} else {
		printf("unit: 1 skipped (metrics: the per-CPU stats map needs root to create)\n");
		fflush(stdout); /* before Check forks a child per test */
	}
	tcase_add_test(render_tc, test_render_bad_stats_fd);
	tcase_add_test(render_tc, test_render_backend_holes);
	suite_add_tcase(s, render_tc);

	tcase_add_checked_fixture(server_tc, setup, teardown);
	tcase_set_timeout(server_tc, 30);
	tcase_add_test(server_tc, test_server_get_metrics);
	tcase_add_test(server_tc, test_server_errors);
	tcase_add_test(server_tc, test_server_request_in_pieces);
	tcase_add_test(server_tc, test_server_idle_client_dropped);
	tcase_add_test(server_tc, test_server_answered_client_lingers_briefly);
	tcase_add_test(server_tc, test_server_max_connections);
	tcase_add_test(server_tc, test_server_slow_reader);
	tcase_add_test(server_tc, test_server_open);
	suite_add_tcase(s, server_tc);
	return s;
}
