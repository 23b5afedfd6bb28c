// SPDX-License-Identifier: GPL-2.0
/*
 * Content directory: precedence of hosts and paths, fallbacks, build errors,
 * requests that try to dodge a rule through encoding, and a million routes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "directory.h"
#include "http.h"
#include "suites.h"

static uint32_t B[16] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15 };

#define EXACT(h, p, b) { .host = (char *)(h), .path = (char *)(p), .backends = &B[b], \
			 .n_backends = 1, .line = __LINE__ }
#define PREFIX(h, p, b) { .host = (char *)(h), .prefix = (char *)(p), .backends = &B[b], \
			  .n_backends = 1, .line = __LINE__ }

/* Route i holds backend i, so a match's holder says which route it was. */
static struct lb_cfg_route site[] = {
	PREFIX("*", "/", 0),
	PREFIX("*", "/images/", 1),
	PREFIX("*", "/images/big/", 2),
	EXACT("*", "/images/logo.png", 3),
	PREFIX("example.com", "/", 4),
	EXACT("example.com", "/special", 5),
	PREFIX("*.example.com", "/", 6),
	PREFIX("*.b.example.com", "/x/", 7),
	PREFIX("*", "/secret/", 8),
	EXACT("api.example.com", "/v1", 9),
	PREFIX("*", "/img", 10),
	EXACT("*", "/img", 11),
	PREFIX("*", "/a/.", 12),
	PREFIX("[2001:db8::1]", "/", 13),
	EXACT("Upper.Example.NET.", "/u", 14),
};

struct lookup_case {
	const char *host;
	const char *path;
	int route; /* -1: no match */
};

static const struct lookup_case site_cases[] = {
	/* exact path beats longest prefix beats shorter prefix */
	{ "other.org", "/", 0 },
	{ "other.org", "/x/y", 0 },
	{ "other.org", "/images/a.jpg", 1 },
	{ "other.org", "/images/", 1 },
	{ "other.org", "/images", 0 },	 /* "/images/" is no prefix of "/images"; "/img" neither */
	{ "other.org", "/images/big/a.jpg", 2 },
	{ "other.org", "/images/big", 1 },
	{ "other.org", "/images/logo.png", 3 },
	{ "other.org", "/images/logo.png2", 1 },
	{ "other.org", "/img", 11 },
	{ "other.org", "/imgx", 10 },
	{ "other.org", "/a/.well-known/x", 12 },
	{ "other.org", "/a/", 0 },
	/* exact host beats wildcards beats "*"; case, port and dot ignored */
	{ "example.com", "/anything", 4 },
	{ "example.com", "/images/a.jpg", 4 },
	{ "EXAMPLE.com.:8080", "/special", 5 },
	{ "example.com:80", "/special/", 4 },
	{ "a.example.com", "/z", 6 },
	{ "A.EXAMPLE.COM", "/z", 6 },
	{ "c.b.example.com", "/x/y", 7 },
	{ "d.c.b.example.com", "/x/", 7 },
	/* the longest wildcard has no rule: fall back to the shorter one */
	{ "c.b.example.com", "/z", 6 },
	/* "*.b.example.com" does not cover b.example.com itself */
	{ "b.example.com", "/x/y", 6 },
	/* exact host without a rule falls back to its wildcard, then "*" */
	{ "api.example.com", "/v1", 9 },
	{ "api.example.com", "/v2", 6 },
	{ "api.example.com", "/v1/", 6 },
	{ "example.org", "/images/a.jpg", 1 },
	{ "", "/secret/x", 8 },
	{ "notexample.com", "/z", 0 },
	{ "[2001:DB8::1]:8080", "/z", 13 },
	{ "[2001:db8::2]", "/z", 0 },
	{ "upper.example.net", "/u", 14 },
	{ "upper.example.net", "/v", 0 },
	/* hosts no pattern can carry go straight to "*" */
	{ "a..b", "/images/", 1 },
	{ ".", "/", 0 },
	{ ":", "/", 0 },
	/* ".example.com" is how "*.example.com" is stored, not a host name */
	{ ".example.com", "/z", 0 },
};

static struct lb_directory *build(struct lb_cfg_route *r, size_t n)
{
	char err[LB_ERR_MAX] = "";
	struct lb_directory *d = lb_directory_build(r, n, err, sizeof(err));

	ck_assert_msg(d != NULL, "build failed: %s", err);
	return d;
}

START_TEST(test_precedence)
{
	struct lb_directory *d = build(site, sizeof(site) / sizeof(site[0]));
	const struct lookup_case *c = &site_cases[_i];
	struct lb_route_match m;
	bool ok = lb_directory_lookup(d, c->host, strlen(c->host), c->path, strlen(c->path), &m);

	if (c->route < 0) {
		ck_assert_msg(!ok, "%s %s: matched route %u", c->host, c->path, m.route);
	} else {
		ck_assert_msg(ok, "%s %s: no match", c->host, c->path);
		ck_assert_msg(m.route == (uint32_t)c->route, "%s %s: route %u want %d", c->host,
			      c->path, m.route, c->route);
		ck_assert_uint_eq(m.n_holders, 1);
		ck_assert_uint_eq(m.holders[0], (uint32_t)c->route);
	}
	lb_directory_free(d);
}
END_TEST

START_TEST(test_no_route)
{
	struct lb_cfg_route r[] = {
		PREFIX("example.com", "/a/", 1),
		EXACT("*", "/b", 2),
	};
	struct lb_directory *d = build(r, 2);
	struct lb_route_match m;

	ck_assert(!lb_directory_lookup(d, "example.com", 11, "/", 1, &m));
	ck_assert(!lb_directory_lookup(d, "example.com", 11, "/a", 2, &m));
	ck_assert(!lb_directory_lookup(d, "other", 5, "/a/x", 4, &m));
	ck_assert(!lb_directory_lookup(d, "other", 5, "/b/", 3, &m));
	ck_assert(lb_directory_lookup(d, "example.com", 11, "/b", 2, &m));
	ck_assert_uint_eq(m.route, 1);
	lb_directory_free(d);

	d = build(NULL, 0);
	ck_assert(!lb_directory_lookup(d, "a", 1, "/", 1, &m));
	lb_directory_free(d);
}
END_TEST

START_TEST(test_names_and_sets)
{
	uint32_t h12[] = { 1, 2 }, h21[] = { 2, 1 };
	struct lb_cfg_route r[] = {
		{ .name = (char *)"pics", .host = (char *)"*", .prefix = (char *)"/p/",
		  .backends = h12, .n_backends = 2 },
		{ .host = (char *)"*", .prefix = (char *)"/q/", .backends = h12, .n_backends = 2 },
		{ .host = (char *)"*", .prefix = (char *)"/r/", .backends = h21, .n_backends = 2 },
		{ .host = (char *)"*", .path = (char *)"/none", .backends = NULL, .n_backends = 0 },
	};
	struct lb_directory *d = build(r, 4);
	struct lb_directory_stats st;
	struct lb_route_match m;

	ck_assert(lb_directory_lookup(d, "h", 1, "/p/x", 4, &m));
	ck_assert_str_eq(m.name, "pics");
	ck_assert_uint_eq(m.n_holders, 2);
	ck_assert_uint_eq(m.holders[0], 1);
	ck_assert_uint_eq(m.holders[1], 2);
	ck_assert(lb_directory_lookup(d, "h", 1, "/r/x", 4, &m));
	ck_assert_str_eq(m.name, "route2");
	ck_assert_uint_eq(m.holders[0], 2); /* order kept: it may mean preference */
	ck_assert(lb_directory_lookup(d, "h", 1, "/none", 5, &m));
	ck_assert_uint_eq(m.n_holders, 0);
	ck_assert(lb_directory_route(d, 1, &m));
	ck_assert_str_eq(m.name, "route1");
	ck_assert(!lb_directory_route(d, 4, &m));

	lb_directory_stats(d, &st);
	ck_assert_uint_eq(st.routes, 4);
	ck_assert_uint_eq(st.exact, 1);
	ck_assert_uint_eq(st.prefixes, 3);
	ck_assert_uint_eq(st.scopes, 1);
	ck_assert_uint_eq(st.holder_sets, 3); /* {1,2} once, {2,1}, {} */
	ck_assert_uint_gt(st.bytes, 0);
	lb_directory_free(d);
}
END_TEST

struct bad_case {
	struct lb_cfg_route r[2];
	size_t n;
	const char *msg; /* expected in the error */
};

START_TEST(test_build_errors)
{
	static const struct bad_case bad[] = {
		{ { EXACT("*", "/a", 0), EXACT("*", "/a", 1) }, 2, "same host and path" },
		{ { PREFIX("a.example", "/a/", 0), PREFIX("A.example.", "/a/", 1) }, 2,
		  "same host and prefix" },
		{ { EXACT("a:80", "/a", 0) }, 1, "no port" },
		{ { EXACT("*a.com", "/a", 0) }, 1, "'*'" },
		{ { EXACT("a.*.com", "/a", 0) }, 1, "'*'" },
		{ { EXACT("a..b", "/a", 0) }, 1, "empty label" },
		{ { EXACT("*.", "/a", 0) }, 1, "empty host" },
		{ { EXACT("", "/a", 0) }, 1, "empty host" },
		{ { EXACT("a b", "/a", 0) }, 1, "invalid character" },
		{ { EXACT("*", "a/b", 0) }, 1, "start with" },
		{ { EXACT("*", "", 0) }, 1, "start with" },
		{ { EXACT("*", "/a//b", 0) }, 1, "//" },
		{ { PREFIX("*", "//", 0) }, 1, "//" },
		{ { EXACT("*", "/a/../b", 0) }, 1, "segment" },
		{ { EXACT("*", "/a/.", 0) }, 1, "segment" },
		{ { PREFIX("*", "/a/./", 0) }, 1, "segment" },
		{ { { .host = (char *)"*", .line = 7 } }, 1, "exactly one" },
		{ { { .host = (char *)"*", .path = (char *)"/a", .prefix = (char *)"/a", .line = 7 } },
		  1, "exactly one" },
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char err[LB_ERR_MAX] = "";
		struct lb_directory *d = lb_directory_build(bad[i].r, bad[i].n, err, sizeof(err));

		ck_assert_msg(d == NULL, "case %zu built", i);
		ck_assert_msg(strstr(err, bad[i].msg) && strstr(err, "line "),
			      "case %zu: \"%s\" lacks \"%s\"", i, err, bad[i].msg);
	}
}
END_TEST

/* The rules report which route broke which, for the config to name by file and key. */
START_TEST(test_routes_check)
{
	const struct lb_cfg_route ok[] = { EXACT("*", "/a", 0), PREFIX("*", "/a", 1),
					   EXACT("a.example", "/a", 0), PREFIX("*.a.example", "/a", 0) };
	const struct lb_cfg_route dup[] = { EXACT("*", "/b", 0), EXACT("*.A.example", "/a", 0),
					    EXACT("*", "/c", 0), EXACT("*.a.example.", "/a", 1),
					    EXACT("*", "/b", 1) };
	const struct lb_cfg_route bad[] = { EXACT("*", "/a", 0), EXACT("*", "/a", 0),
					    EXACT("a b", "/a", 0) };
	struct lb_route_problem pb;

	ck_assert_int_eq(lb_routes_check(ok, 4, &pb), 0);
	ck_assert_int_eq(lb_routes_check(dup, 5, &pb), -1);
	ck_assert_int_eq(pb.fault, LB_ROUTE_DUPLICATE);
	ck_assert_uint_eq(pb.route, 3);
	ck_assert_uint_eq(pb.other, 1);
	/* The first route that breaks a rule, whichever rule it is. */
	ck_assert_int_eq(lb_routes_check(bad, 3, &pb), -1);
	ck_assert_int_eq(pb.fault, LB_ROUTE_DUPLICATE);
	ck_assert_uint_eq(pb.route, 1);
	ck_assert_int_eq(lb_routes_check(bad + 1, 2, &pb), -1);
	ck_assert_int_eq(pb.fault, LB_ROUTE_HOST);
	ck_assert_uint_eq(pb.route, 1);
	ck_assert_ptr_nonnull(pb.why);
}
END_TEST

/*
 * What the dispatcher does: parse, normalise, look up. Every spelling of a
 * path under /secret/ must land on the /secret/ route.
 */
START_TEST(test_no_dodging)
{
	static const char *const targets[] = {
		"/secret/x",
		"/%73ecret/x",
		"/%73%65%63%72%65%74/x",
		"/public/../secret/x",
		"/public/%2e%2e/secret/x",
		"/public/%2E./secret/x",
		"//secret/x",
		"/./secret/x",
		"/secret//x",
		"/secret%2Fx",
		"/public%2F..%2Fsecret/x",
		"/../../secret/x",
		"/secret/./x?/public/",
		"http://site.example/public/../secret/x",
	};
	struct lb_directory *d = build(site, sizeof(site) / sizeof(site[0]));

	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		char head[256], path[256];
		struct lb_http_request req;
		struct lb_route_match m;
		int n, r;

		n = snprintf(head, sizeof(head), "GET %s HTTP/1.1\r\nHost: site.example\r\n\r\n",
			     targets[i]);
		r = lb_http_parse_head(head, (size_t)n, NULL, &req);
		ck_assert_msg(r == LB_HTTP_DONE, "%s: parse %d (%s)", targets[i], r, req.error);
		r = lb_http_route_path(&req, path, sizeof(path));
		ck_assert_msg(r > 0, "%s: normalise %d", targets[i], r);
		ck_assert(lb_directory_lookup(d, req.host, req.host_len, path, (size_t)r, &m));
		ck_assert_msg(m.route == 8, "%s routed as %s to route %u", targets[i], path, m.route);
	}
	lb_directory_free(d);
}
END_TEST

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * A million routes as `latebind index` could write them: 700k files (exact)
 * in 1000 directories, 300k directory prefixes, over "*", one exact host and
 * one wildcard. Correctness is asserted; time and memory are only printed.
 */
#define MILLION 1000000
#define N_EXACT 700000

static void million_path(size_t i, char *buf, size_t len)
{
	if (i < N_EXACT)
		snprintf(buf, len, "/d%03zu/f%07zu.jpg", i % 1000, i);
	else
		snprintf(buf, len, "/p%05zu/s%03zu/", (i - N_EXACT) / 1000, i % 1000);
}

static const char *million_host(size_t i)
{
	if (i < N_EXACT)
		return i % 7 ? "*" : "www.example.com";
	return i % 2 ? "*" : "*.example.com";
}

START_TEST(test_million)
{
	static uint32_t sets[4][2] = { { 0, 1 }, { 1, 2 }, { 2, 0 }, { 0, 1 } };
	struct lb_cfg_route *r = calloc(MILLION, sizeof(*r));
	char *strs = malloc((size_t)MILLION * 24), err[LB_ERR_MAX] = "";
	struct lb_directory_stats st;
	struct lb_route_match m;
	struct lb_directory *d;
	double t0, t1, t2;
	size_t hits = 0, lookups = 0, bad = 0;
	char first_bad[128] = "";

	ck_assert_ptr_nonnull(r);
	ck_assert_ptr_nonnull(strs);
	for (size_t i = 0; i < MILLION; i++) {
		char *p = strs + i * 24;

		million_path(i, p, 24);
		r[i].host = (char *)million_host(i);
		if (i < N_EXACT)
			r[i].path = p;
		else
			r[i].prefix = p;
		r[i].backends = sets[i % 4];
		r[i].n_backends = 2;
		r[i].line = (int)i + 1;
	}

	t0 = now_s();
	d = lb_directory_build(r, MILLION, err, sizeof(err));
	t1 = now_s();
	ck_assert_msg(d != NULL, "%s", err);
	lb_directory_stats(d, &st);
	ck_assert_uint_eq(st.routes, MILLION);
	ck_assert_uint_eq(st.exact, N_EXACT);
	ck_assert_uint_eq(st.prefixes, MILLION - N_EXACT);
	ck_assert_uint_eq(st.scopes, 3);
	ck_assert_uint_eq(st.holder_sets, 3);

	/*
	 * Every route is found where it should be. Counted, asserted once:
	 * a Check assertion per lookup would cost more than the lookups.
	 */
	for (size_t i = 0; i < MILLION; i++) {
		const char *host = million_host(i);
		char path[48];
		size_t pl;
		bool ok;

		million_path(i, path, sizeof(path));
		if (i >= N_EXACT)
			strcat(path, "some/file.html");
		if (!strcmp(host, "*"))
			host = "other.example";
		else if (host[0] == '*')
			host = "img.example.com";
		pl = strlen(path);
		ok = lb_directory_lookup(d, host, strlen(host), path, pl, &m) && m.route == i &&
		     m.n_holders == 2 && m.holders[1] == sets[i % 4][1];
		if (!ok && !bad++)
			snprintf(first_bad, sizeof(first_bad), "route %zu (%s %s)", i, host, path);
	}
	ck_assert_msg(!bad, "%zu routes not found as themselves, first %s", bad, first_bad);
	/* Near misses. */
	ck_assert(!lb_directory_lookup(d, "x", 1, "/d001/f0000002.jpg", 18, &m)); /* 2 % 1000 != 1 */
	ck_assert(!lb_directory_lookup(d, "x", 1, "/p00000/s000", 12, &m));
	ck_assert(!lb_directory_lookup(d, "x", 1, "/d000/f0000007.jpg", 18, &m)); /* www only */

	/*
	 * Lookups per second on one core over a shuffled mix of the routes'
	 * own paths (exact hits, prefix hits, misses for "www" routes), with
	 * a host that goes through a wildcard scope first.
	 */
	{
		uint8_t *lens = malloc(MILLION);
		uint32_t *order = malloc(2 * MILLION * sizeof(*order));

		ck_assert(lens && order);
		for (size_t i = 0; i < MILLION; i++)
			lens[i] = (uint8_t)strlen(strs + i * 24);
		for (size_t k = 0; k < 2 * MILLION; k++)
			order[k] = (uint32_t)((k * 2654435761u) % MILLION);
		t2 = now_s();
		for (size_t k = 0; k < 2 * MILLION; k++) {
			size_t i = order[k];

			hits += lb_directory_lookup(d, "img.example.com", 15, strs + i * 24, lens[i],
						    &m);
			lookups++;
		}
		t2 = now_s() - t2;
		free(lens);
		free(order);
	}
	ck_assert_uint_gt(hits, lookups / 2);

	printf("directory: %d routes (%zu exact, %zu prefix, %zu trie nodes) built in %.0f ms, "
	       "%.1f MiB; %.2f M lookups/s on one core\n",
	       MILLION, st.exact, st.prefixes, st.trie_nodes, (t1 - t0) * 1e3,
	       st.bytes / 1048576.0, lookups / t2 / 1e6);
	fflush(stdout);

	lb_directory_free(d);
	free(strs);
	free(r);
}
END_TEST

Suite *directory_suite(void)
{
	Suite *s = suite_create("directory");
	TCase *tc = tcase_create("match");

	tcase_add_loop_test(tc, test_precedence, 0, sizeof(site_cases) / sizeof(site_cases[0]));
	tcase_add_test(tc, test_no_route);
	tcase_add_test(tc, test_names_and_sets);
	tcase_add_test(tc, test_build_errors);
	tcase_add_test(tc, test_routes_check);
	tcase_add_test(tc, test_no_dodging);
	suite_add_tcase(s, tc);

	tc = tcase_create("scale");
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_million);
	suite_add_tcase(s, tc);
	return s;
}
