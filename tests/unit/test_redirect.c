// SPDX-License-Identifier: GPL-2.0
/*
 * Redirect mode's parts (user/redirect.c, config_redirect.c, reply.c): the
 * template compiler's verdicts, the renderer's Location for hostile requests
 * (only URI characters come out), backends' public names, and the config keys
 * with the line, key and advice each error must give.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "redirect.h"
#include "reply.h"
#include "suites.h"

/* --- templates ------------------------------------------------------------- */

static const struct tmpl_row {
	const char *url;
	enum lb_redirect_fault fault;
	size_t off; /* where the fault is */
} tmpl_rows[] = {
	{ "http://{public}{path}", LB_RF_OK, 0 },
	{ "HTTPS://{public}:8443/mirror{path}?from={host}", LB_RF_OK, 0 },
	{ "http://{public}.{host}/a%20b{path}", LB_RF_OK, 0 },
	{ "http://{public}", LB_RF_OK, 0 },
	{ "ftp://{public}{path}", LB_RF_SCHEME, 0 },
	{ "//{public}{path}", LB_RF_SCHEME, 0 },
	{ "http://{pubic}{path}", LB_RF_UNKNOWN_VAR, 7 },
	{ "http://{public}{}", LB_RF_UNKNOWN_VAR, 15 },
	{ "http://{public}{path", LB_RF_UNCLOSED, 15 },
	{ "http://{public{path}", LB_RF_UNCLOSED, 7 },
	{ "http://{public}}", LB_RF_STRAY_CLOSE, 15 },
	{ "http://example.com{path}", LB_RF_NO_PUBLIC, 0 },
	{ "http://{public}/a b", LB_RF_CHAR, 17 },
	{ "http://{public}/\r\nSet-Cookie: x", LB_RF_CHAR, 16 },
	{ "http://{public}/%zz", LB_RF_CHAR, 16 },
	{ "http://{public}/\"", LB_RF_CHAR, 16 },
	{ "http://{public}/\xc3\xa9", LB_RF_CHAR, 16 },
};

START_TEST(test_compile)
{
	const struct tmpl_row *r = &tmpl_rows[_i];
	struct lb_redirect_part parts[LB_REDIRECT_PARTS_MAX];
	struct lb_redirect_problem pb;
	struct lb_redirect rd;
	int ret = lb_redirect_compile(r->url, strlen(r->url), 307, &rd, parts, &pb);

	ck_assert_msg(pb.fault == r->fault, "%s: fault %d, want %d", r->url, pb.fault, r->fault);
	ck_assert_int_eq(ret, r->fault == LB_RF_OK ? 0 : -1);
	if (r->fault != LB_RF_OK && r->fault != LB_RF_NO_PUBLIC && r->fault != LB_RF_SCHEME)
		ck_assert_msg(pb.off == r->off, "%s: at %zu, want %zu", r->url, pb.off, r->off);
}
END_TEST

START_TEST(test_compile_limits)
{
	struct lb_redirect_part parts[LB_REDIRECT_PARTS_MAX];
	struct lb_redirect_problem pb;
	struct lb_redirect rd;
	char url[LB_REDIRECT_URL_MAX + 64];
	size_t n;

	/* Every part a placeholder: 32 fit, 33 do not. */
	n = (size_t)sprintf(url, "http://");
	for (int i = 0; i < LB_REDIRECT_PARTS_MAX - 1; i++)
		n += (size_t)sprintf(url + n, "{public}");
	ck_assert_int_eq(lb_redirect_compile(url, n, 307, &rd, parts, &pb), 0);
	ck_assert_uint_eq(rd.n_parts, LB_REDIRECT_PARTS_MAX);
	n += (size_t)sprintf(url + n, "{path}");
	ck_assert_int_eq(lb_redirect_compile(url, n, 307, &rd, parts, &pb), -1);
	ck_assert_int_eq(pb.fault, LB_RF_LONG);
	/* Bytes: LB_REDIRECT_URL_MAX fit. */
	n = (size_t)sprintf(url, "http://{public}/");
	memset(url + n, 'a', LB_REDIRECT_URL_MAX - n);
	ck_assert_int_eq(lb_redirect_compile(url, LB_REDIRECT_URL_MAX, 307, &rd, parts, &pb), 0);
	url[LB_REDIRECT_URL_MAX] = 'a';
	ck_assert_int_eq(lb_redirect_compile(url, LB_REDIRECT_URL_MAX + 1, 307, &rd, parts, &pb), -1);
	ck_assert_int_eq(pb.fault, LB_RF_LONG);
}
END_TEST

/* --- rendering -------------------------------------------------------------- */

static const struct render_row {
	const char *url, *path, *query, *host, *want; /* want NULL: refused */
	enum lb_redirect_render_fault fault;
} render_rows[] = {
	{ "http://{public}{path}", "/a/b.jpg", "x=1&y=%41", "h", "http://web1.example:8080/a/b.jpg?x=1&y=%41", LB_RR_OK },
	{ "http://{public}{path}", "/a", "", "h", "http://web1.example:8080/a?", LB_RR_OK },
	{ "http://{public}{path}", "", NULL, "h", "http://web1.example:8080/", LB_RR_OK },	  /* http://h */
	{ "http://{public}{path}", "*", NULL, "h", "http://web1.example:8080/", LB_RR_OK },	  /* OPTIONS * */
	{ "http://{public}{path}", "/a%2Fb/%zz", "q=\"<>\\^`{|}\"?#", "h",
	  "http://web1.example:8080/a%2Fb/%25zz?q=%22%3C%3E%5C%5E%60%7B%7C%7D%22?%23", LB_RR_OK },
	{ "http://{public}{path}", "/\r\nSet-Cookie: a", NULL, "h",
	  "http://web1.example:8080/%0D%0ASet-Cookie:%20a", LB_RR_OK },
	{ "http://{public}{path}", "/\x80\xff", "\x01", "h", "http://web1.example:8080/%80%FF?%01", LB_RR_OK },
	{ "http://{host}.{public}{path}", "/p", NULL, "site.example", "http://site.example.web1.example:8080/p", LB_RR_OK },
	{ "http://{public}/{host}", "/p", NULL, "[2001:db8::1]", "http://web1.example:8080/[2001:db8::1]", LB_RR_OK },
	{ "http://{public}/{host}", "/p", NULL, "", NULL, LB_RR_NO_HOST },
	{ "http://{public}/{host}", "/p", NULL, "Upper.Case", NULL, LB_RR_BAD_HOST },
	{ "http://{public}/{host}", "/p", NULL, "a\r\nb", NULL, LB_RR_BAD_HOST },
	{ "http://{public}/{host}", "/p", NULL, "a b", NULL, LB_RR_BAD_HOST },
};

START_TEST(test_render)
{
	const struct render_row *r = &render_rows[_i];
	struct lb_redirect_part parts[LB_REDIRECT_PARTS_MAX];
	struct lb_redirect_problem pb;
	enum lb_redirect_render_fault fault;
	struct lb_redirect rd;
	struct lb_redirect_vars v = {
		.public_name = "web1.example:8080", .public_len = 17,
		.path = r->path, .path_len = strlen(r->path),
		.query = r->query, .query_len = r->query ? strlen(r->query) : 0,
		.host = r->host, .host_len = strlen(r->host),
	};
	char *out;
	size_t n;

	ck_assert_int_eq(lb_redirect_compile(r->url, strlen(r->url), 307, &rd, parts, &pb), 0);
	n = lb_redirect_render(&rd, &v, &out, &fault);
	if (!r->want) {
		ck_assert_uint_eq(n, 0);
		ck_assert_ptr_null(out);
		ck_assert_int_eq(fault, r->fault);
		return;
	}
	ck_assert_int_eq(fault, LB_RR_OK);
	ck_assert_msg(n == strlen(out) && !strcmp(out, r->want), "row %d: got %s, want %s", _i, out,
		      r->want);
	free(out);
}
END_TEST

/* --- public names --------------------------------------------------------------- */

static const struct public_row {
	const char *in, *want; /* want NULL: refused */
} public_rows[] = {
	{ "web1.example.net", "web1.example.net" },
	{ "Web1.Example.NET.", "web1.example.net" },
	{ "198.51.100.11:8080", "198.51.100.11:8080" },
	{ "[2001:DB8::1]:80", "[2001:db8::1]:80" },
	{ "[2001:db8::1]", "[2001:db8::1]" },
	{ "web1", "web1" },
	{ "web1:65535", "web1:65535" },
	{ "web1:0", NULL },
	{ "web1:65536", NULL },
	{ "web1:080", NULL },
	{ "web1:", NULL },
	{ "web1:8x", NULL },
	{ "web1:123456", NULL },
	{ "", NULL },
	{ "a b", NULL },
	{ "web1/x", NULL },
	{ "[2001:db8::1", NULL },
	{ "[2001:db8::1]x", NULL },
	{ "http://web1", NULL },
};

START_TEST(test_public)
{
	const struct public_row *r = &public_rows[_i];
	char out[LB_PUBLIC_MAX];
	const char *why = NULL;
	size_t n = lb_public_canon(r->in, strlen(r->in), out, &why);

	if (!r->want) {
		ck_assert_msg(n == 0 && why, "%s accepted as %s", r->in, out);
		return;
	}
	ck_assert_msg(n == strlen(r->want) && !strcmp(out, r->want), "%s: got %s", r->in,
		      n ? out : why);
}
END_TEST

/* --- the reply -------------------------------------------------------------------- */

START_TEST(test_reply)
{
	static const char loc[] = "http://198.51.100.11/a?b";
	char *out;
	size_t n = lb_reply_build_redirect(308, loc, strlen(loc), false, &out);

	ck_assert_str_eq(out, "HTTP/1.1 308 Permanent Redirect\r\nServer: latebind\r\n"
			      "Location: http://198.51.100.11/a?b\r\nCache-Control: no-store\r\n"
			      "Content-Type: text/plain\r\nContent-Length: 49\r\n"
			      "Connection: close\r\n\r\n"
			      "308 Permanent Redirect: http://198.51.100.11/a?b\n");
	ck_assert_uint_eq(n, strlen(out));
	free(out);
	ck_assert_int_eq(lb_reply_counter(302), LB_DISP_REPLY_302);
	ck_assert_int_eq(lb_reply_counter(307), LB_DISP_REPLY_307);
	ck_assert_int_eq(lb_reply_counter(308), LB_DISP_REPLY_308);
}
END_TEST

/* --- the config ---------------------------------------------------------------------- */

#define HEAD_ "interface: eth0\n"
#define VIP_(x) "vips: [{address: 192.0.2.80, port: 80" x "}]\n"
#define BES_(a, b)                                                                 \
	"backends:\n"                                                              \
	"  - {name: web1, address: 198.51.100.11" a "}\n"                          \
	"  - {name: web2, address: 198.51.100.12" b "}\n"
#define PUB1 ", public: web1.example"
#define PUB2 ", public: \"198.51.100.12:8080\""

static int parse(const char *yaml, struct lb_config *cfg, char *err, size_t errlen)
{
	return lb_config_parse("t.yaml", yaml, strlen(yaml), cfg, err, errlen);
}

START_TEST(test_config_values)
{
	static const char yaml[] = HEAD_ VIP_(", redirect: {url: \"http://{public}{path}\"}")
		BES_(PUB1, PUB2)
		"routes:\n"
		"  - {prefix: /a/, backends: [web1, web2], redirect: {status: 308, url: \"https://{public}{path}\"}}\n"
		"  - {prefix: /b/, backends: [web1, web2], redirect: {status: 308, url: \"https://{public}{path}\"}}\n"
		"  - {prefix: /c/, backends: [web1], redirect: none}\n"
		"  - {prefix: /, backends: [web2]}\n";
	char err[LB_ERR_MAX];
	struct lb_config cfg;
	uint32_t vip = 0;

	ck_assert_msg(!parse(yaml, &cfg, err, sizeof(err)), "%s", err);
	ck_assert_str_eq(cfg.backends[0].public_name, "web1.example");
	ck_assert_str_eq(cfg.backends[1].public_name, "198.51.100.12:8080");
	ck_assert_int_eq(cfg.backends[1].public_line, 5);
	ck_assert_ptr_nonnull(cfg.vips[0].redirect);
	ck_assert_uint_eq(cfg.vips[0].redirect->status, 307); /* the default */
	ck_assert_str_eq(cfg.routes[0].redirect->url, "https://{public}{path}");
	ck_assert_uint_eq(cfg.routes[0].redirect->status, 308);
	ck_assert_ptr_eq(cfg.routes[0].redirect, cfg.routes[1].redirect); /* a repeat is shared */
	ck_assert_ptr_eq(cfg.routes[2].redirect, &lb_redirect_none);
	ck_assert_ptr_null(cfg.routes[3].redirect);
	/* Which applies: the route's, none, or the VIP's (only for that VIP). */
	memcpy(&vip, &cfg.vips[0].address, 4);
	ck_assert_ptr_eq(lb_config_redirect(&cfg, 0, vip, 80), cfg.routes[0].redirect);
	ck_assert_ptr_null(lb_config_redirect(&cfg, 2, vip, 80));
	ck_assert_ptr_eq(lb_config_redirect(&cfg, 3, vip, 80), cfg.vips[0].redirect);
	ck_assert_ptr_null(lb_config_redirect(&cfg, 3, vip, 81));
	lb_config_free(&cfg);
}
END_TEST

static const struct bad_row {
	const char *yaml;
	int line;
	const char *key, *msg;
} bad_rows[] = {
	{ HEAD_ VIP_("") BES_(PUB1, "") "routes:\n"
	  "  - {prefix: /, backends: [web1, web2], redirect: {url: \"http://{public}{path}\"}}\n",
	  7, "routes[0].backends[1]",
	  "web2 has no public: but this route redirects; expected public: with the host clients "
	  "reach it by on backends[1] (line 5)" },
	{ HEAD_ VIP_(", redirect: {url: \"http://{public}{path}\"}") BES_(PUB1, "") "routes:\n"
	  "  - {prefix: /a/, backends: [web1, web2], redirect: none}\n"
	  "  - {prefix: /, backends: [web1, web2]}\n",
	  8, "routes[1].backends[1]", "vips[0] (line 2) redirects; expected public: with the host "
	  "clients reach it by on backends[1] (line 5), or redirect: none on this route" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {url: \"http://{pubilc}{path}\"}}\n",
	  7, "routes[0].redirect.url", "has an unknown placeholder {pubilc}; expected {public} there" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {url: \"http://{public}{query}\"}}\n",
	  7, "routes[0].redirect.url", "unknown placeholder {query}; expected {public}, {path} or {host}" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {url: \"http://x{path}\"}}\n",
	  7, "routes[0].redirect.url", "has no {public}, so the chosen backend would be lost" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {url: \"http://{public}/a b\"}}\n",
	  7, "routes[0].redirect.url", "(\" \" at byte 18); expected the characters of a URL" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {status: 301, url: \"http://{public}\"}}\n",
	  7, "routes[0].redirect.status", "301 is not a redirect status the balancer sends; expected 307 or 308" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {status: 307}}\n",
	  7, "routes[0].redirect.url", "missing; expected the URL to send clients to" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: {url: \"http://{public}\", code: 307}}\n",
	  7, "routes[0].redirect.code", "unknown key" },
	{ HEAD_ VIP_("") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1], redirect: yes}\n",
	  7, "routes[0].redirect", "is a string; expected a mapping like {status: 307, url: " },
	{ HEAD_ VIP_(", redirect: none") BES_(PUB1, PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1]}\n",
	  2, "vips[0].redirect", "is a string; expected a mapping like" },
	{ HEAD_ VIP_("") BES_(", public: \"web1:0\"", PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1]}\n",
	  4, "backends[0].public", "\"web1:0\" is not a host or host:port (a port outside 1..65535); expected" },
	{ HEAD_ VIP_("") BES_(", public: [a]", PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1]}\n",
	  4, "backends[0].public", "is a list; expected the host clients reach the backend by" },
	{ HEAD_ VIP_("") BES_(", pubic: a", PUB2) "routes:\n"
	  "  - {prefix: /, backends: [web1]}\n",
	  4, "backends[0].pubic", "did you mean 'public'?" },
};

START_TEST(test_config_errors)
{
	const struct bad_row *b = &bad_rows[_i];
	char err[LB_ERR_MAX], prefix[128];
	struct lb_config cfg;

	ck_assert_msg(parse(b->yaml, &cfg, err, sizeof(err)) == -1, "row %d parsed", _i);
	snprintf(prefix, sizeof(prefix), "t.yaml:%d: %s: ", b->line, b->key);
	ck_assert_msg(!strncmp(err, prefix, strlen(prefix)), "row %d: want \"%s...\", got \"%s\"",
		      _i, prefix, err);
	ck_assert_msg(strstr(err, b->msg), "row %d: want \"%s\" in \"%s\"", _i, b->msg, err);
	ck_assert_msg(strstr(err, "expected") || strstr(err, "did you mean"), "row %d: %s", _i, err);
	lb_config_free(&cfg);
}
END_TEST

#define ROWS(a) (int)(sizeof(a) / sizeof((a)[0]))

Suite *redirect_suite(void)
{
	Suite *s = suite_create("redirect");
	TCase *tc = tcase_create("redirect");

	tcase_add_loop_test(tc, test_compile, 0, ROWS(tmpl_rows));
	tcase_add_test(tc, test_compile_limits);
	tcase_add_loop_test(tc, test_render, 0, ROWS(render_rows));
	tcase_add_loop_test(tc, test_public, 0, ROWS(public_rows));
	tcase_add_test(tc, test_reply);
	tcase_add_test(tc, test_config_values);
	tcase_add_loop_test(tc, test_config_errors, 0, ROWS(bad_rows));
	suite_add_tcase(s, tc);
	return s;
}
