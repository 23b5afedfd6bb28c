// SPDX-License-Identifier: GPL-2.0
/*
 * The host rule (user/host.c), and that every reader of a host applies it
 * alike: a request's Host, a route's host in the config, the directory's
 * scopes. A host one of them takes and another refuses would be a route no
 * request can reach, or a request no route can name.
 */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "directory.h"
#include "host.h"
#include "http.h"
#include "suites.h"

static const char L63[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijk";
static const char L64[] = "abcdefghijklmnopqrstuvwxyzabcdefghijklmnopqrstuvwxyzabcdefghijkl";

static const struct host_row {
	const char *in;
	const char *canon; /* NULL: refused */
} rows[] = {
	{ "example.com", "example.com" },
	{ "Static.Example.COM", "static.example.com" },
	{ "a.example.", "a.example" }, /* one trailing dot: the same site */
	{ "under_score-ok.lan", "under_score-ok.lan" },
	{ "localhost", "localhost" },
	{ "192.0.2.80", "192.0.2.80" },
	{ "[2001:DB8::1]", "[2001:db8::1]" },
	{ "[::]", "[::]" },
	{ "a..b", NULL },
	{ ".a", NULL },
	{ "a..", NULL },
	{ ".", NULL },
	{ "exa mple.com", NULL },
	{ "ex%61mple.com", NULL },
	{ "[2001:db8::1", NULL },
	{ "[g::1]", NULL },
	{ "[:]", NULL },
	{ "a/b", NULL },
};

START_TEST(test_canon)
{
	const struct host_row *r = &rows[_i];
	char out[LB_HOST_MAX];
	const char *why = NULL;
	size_t n = lb_host_canon(r->in, strlen(r->in), out, &why);

	if (!r->canon) {
		ck_assert_msg(n == 0, "%s taken as %.*s", r->in, (int)n, out);
		ck_assert_ptr_nonnull(why);
		return;
	}
	ck_assert_msg(n == strlen(r->canon) && !memcmp(out, r->canon, n), "%s → %.*s, want %s",
		      r->in, (int)n, out, r->canon);
}
END_TEST

START_TEST(test_lengths)
{
	char host[300], out[LB_HOST_MAX];
	const char *why;
	size_t i;

	ck_assert_uint_eq(lb_host_canon(L63, 63, out, &why), 63);
	ck_assert_uint_eq(lb_host_canon(L64, 64, out, &why), 0);
	/* 63+1+63+1+63+1+61 = 253 bytes: the most a name may have. */
	snprintf(host, sizeof(host), "%s.%s.%s.%.61s", L63, L63, L63, L63);
	ck_assert_uint_eq(lb_host_canon(host, strlen(host), out, &why), 253);
	i = strlen(host);
	host[i] = 'x';
	ck_assert_uint_eq(lb_host_canon(host, i + 1, out, &why), 0);
}
END_TEST

/* The request parser's verdict on "Host: @h", and the host it keeps. */
static bool http_takes(const char *h, char *kept)
{
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_http_request req;
	char buf[512];
	int n = snprintf(buf, sizeof(buf), "GET / HTTP/1.1\r\nHost: %s\r\n\r\n", h);

	if (lb_http_parse_head(buf, (size_t)n, &lim, &req) != LB_HTTP_DONE)
		return false;
	memcpy(kept, req.host, req.host_len);
	kept[req.host_len] = '\0';
	return true;
}

/* The config loader's verdict on a route for host @h, and the host it keeps. */
static bool config_takes(const char *h, char *kept)
{
	struct lb_config cfg;
	char yaml[512], err[LB_ERR_MAX];
	int n = snprintf(yaml, sizeof(yaml),
			 "interface: eth0\nvips: [{address: 192.0.2.80, port: 80}]\n"
			 "backends: [{name: web1, address: 198.51.100.11}]\n"
			 "routes: [{host: \"%s\", prefix: /, backends: [web1]}]\n", h);

	if (lb_config_parse("t.yaml", yaml, (size_t)n, &cfg, err, sizeof(err)))
		return false;
	strcpy(kept, cfg.routes[0].host);
	lb_config_free(&cfg);
	return true;
}

/* The directory's verdict on a route for host @h (built from routes, not a config). */
static bool directory_takes(const char *h)
{
	uint32_t b = 0;
	struct lb_cfg_route r = { .host = (char *)h, .prefix = (char *)"/", .backends = &b,
				  .n_backends = 1, .line = 1 };
	char err[LB_ERR_MAX];
	struct lb_directory *d = lb_directory_build(&r, 1, err, sizeof(err));

	lb_directory_free(d);
	return d != NULL;
}

START_TEST(test_readers_agree)
{
	const struct host_row *r = &rows[_i];
	char from_http[LB_HOST_MAX + 1], from_cfg[LB_HOST_MAX + 1];
	bool http = http_takes(r->in, from_http), cfg = config_takes(r->in, from_cfg);

	ck_assert_msg(http == !!r->canon, "request Host %s: %s", r->in, http ? "taken" : "refused");
	ck_assert_msg(cfg == !!r->canon, "route host %s: %s", r->in, cfg ? "taken" : "refused");
	ck_assert_msg(directory_takes(r->in) == !!r->canon, "directory host %s", r->in);
	if (r->canon) {
		ck_assert_str_eq(from_http, r->canon);
		ck_assert_str_eq(from_cfg, r->canon);
	}
}
END_TEST

Suite *host_suite(void)
{
	Suite *s = suite_create("host");
	TCase *tc = tcase_create("rule");
	const int n = (int)(sizeof(rows) / sizeof(rows[0]));

	tcase_add_loop_test(tc, test_canon, 0, n);
	tcase_add_test(tc, test_lengths);
	tcase_add_loop_test(tc, test_readers_agree, 0, n);
	suite_add_tcase(s, tc);
	return s;
}
