// SPDX-License-Identifier: GPL-2.0
/*
 * Request-head parser and path normalisation. Every head in the table is also
 * fed one byte at a time: each prefix must answer AGAIN or the final answer,
 * so how TCP split the request can never change the decision.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "suites.h"

#define B(s) .head = (s), .len = sizeof(s) - 1

struct head_case {
	const char *name;
	const char *head;
	size_t len;
	int want;
	/* checked on LB_HTTP_DONE */
	int method;
	int form;
	const char *path;  /* path part as sent */
	const char *query; /* NULL: no '?' */
	const char *host;
	int port;
	int minor;
	long long clen;	   /* -1: none */
	int chunked;
};

#define GET_A "GET / HTTP/1.1\r\nHost: a.example\r\n"

static const struct head_case heads[] = {
	/* --- good --- */
	{ "simple", B("GET / HTTP/1.1\r\nHost: example.com\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "example.com", 0, 1, -1, 0 },
	{ "host case port dot", B("GET /x HTTP/1.1\r\nHost: Example.COM.:8080\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ORIGIN, "/x", NULL, "example.com", 8080, 1, -1, 0 },
	{ "http/1.0 no host", B("HEAD /a/b?c=d HTTP/1.0\r\n\r\n"), LB_HTTP_DONE, LB_METHOD_HEAD,
	  LB_TARGET_ORIGIN, "/a/b", "c=d", "", 0, 0, -1, 0 },
	{ "absolute form", B("GET http://Example.com:80/a?b HTTP/1.1\r\nHost: example.com\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ABSOLUTE, "/a", "b", "example.com", 80, 1, -1, 0 },
	{ "absolute form no path", B("GET HTTP://a.example HTTP/1.1\r\nHost: a.example:80\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ABSOLUTE, "", NULL, "a.example", 0, 1, -1, 0 },
	{ "absolute form 1.0 no host", B("GET http://a.example/x HTTP/1.0\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ABSOLUTE, "/x", NULL, "a.example", 0, 0, -1, 0 },
	{ "options asterisk", B("OPTIONS * HTTP/1.1\r\nHost: a.example\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_OPTIONS, LB_TARGET_ASTERISK, "*", NULL, "a.example", 0, 1, -1, 0 },
	{ "leading empty lines", B("\r\n\r\nGET / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },
	{ "content-length", B("POST /f HTTP/1.1\r\nHost: a.example\r\nContent-Length: 5\r\n\r\nhello"),
	  LB_HTTP_DONE, LB_METHOD_POST, LB_TARGET_ORIGIN, "/f", NULL, "a.example", 0, 1, 5, 0 },
	{ "content-length same list", B(GET_A "Content-Length: 7 , 7\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, 7, 0 },
	{ "content-length same twice", B(GET_A "Content-Length: 7\r\nContent-length: 007\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, 7, 0 },
	{ "chunked", B("PUT /u HTTP/1.1\r\nHost: a.example\r\nTransfer-Encoding: gzip, Chunked\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_PUT, LB_TARGET_ORIGIN, "/u", NULL, "a.example", 0, 1, -1, 1 },
	{ "te over two lines", B(GET_A "Transfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 1 },
	{ "ows around value", B("GET / HTTP/1.1\r\nHost: \t a.example \t\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },
	{ "obs-text in value", B(GET_A "X-Name: caf\xc3\xa9\tau lait\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },
	{ "empty value", B(GET_A "X-Empty:\r\n\r\n"), LB_HTTP_DONE, LB_METHOD_GET,
	  LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },
	{ "loose query", B("GET /s?q={\"a\"|b}&c=%zz HTTP/1.1\r\nHost: a.example\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ORIGIN, "/s", "q={\"a\"|b}&c=%zz", "a.example", 0,
	  1, -1, 0 },
	{ "escapes in path", B("GET /a%20b/%2e%2E/c;p=1:@!$&'()*+,= HTTP/1.1\r\nHost: a.example\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_GET, LB_TARGET_ORIGIN, "/a%20b/%2e%2E/c;p=1:@!$&'()*+,=", NULL,
	  "a.example", 0, 1, -1, 0 },
	{ "ipv6 host", B("GET / HTTP/1.1\r\nHost: [2001:DB8::1]:8080\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "[2001:db8::1]", 8080, 1, -1, 0 },
	{ "ipv4 host", B("GET / HTTP/1.1\r\nHost: 192.0.2.80\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "192.0.2.80", 0, 1, -1, 0 },
	{ "empty host", B("GET / HTTP/1.1\r\nHost:\r\n\r\n"), LB_HTTP_DONE, LB_METHOD_GET,
	  LB_TARGET_ORIGIN, "/", NULL, "", 0, 1, -1, 0 },
	{ "other method", B("PURGE /c HTTP/1.1\r\nhOsT: a.example\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_OTHER, LB_TARGET_ORIGIN, "/c", NULL, "a.example", 0, 1, -1, 0 },
	{ "methods are case-sensitive", B("get / HTTP/1.1\r\nHost: a.example\r\n\r\n"),
	  LB_HTTP_DONE, LB_METHOD_OTHER, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },
	{ "other underscores fine", B(GET_A "X_Forwarded_For: 192.0.2.1\r\n\r\n"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },
	{ "pipelined rest untouched", B(GET_A "\r\nGET /\x00\x01 garbage"), LB_HTTP_DONE,
	  LB_METHOD_GET, LB_TARGET_ORIGIN, "/", NULL, "a.example", 0, 1, -1, 0 },

	/* --- Host --- */
	{ "missing host 1.1", B("GET / HTTP/1.1\r\nX: y\r\n\r\n"), LB_HTTP_E400 },
	{ "duplicate host", B("GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"), LB_HTTP_E400 },
	{ "duplicate same host", B("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "duplicate host 1.0", B("GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n"), LB_HTTP_E400 },
	{ "absolute host differs", B("GET http://evil/ HTTP/1.1\r\nHost: good\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "absolute port differs", B("GET http://a:8080/ HTTP/1.1\r\nHost: a\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "absolute, empty Host", B("GET http://a/ HTTP/1.1\r\nHost:\r\n\r\n"), LB_HTTP_E400 },
	{ "absolute no host 1.1", B("GET http://a/ HTTP/1.1\r\n\r\n"), LB_HTTP_E400 },
	{ "absolute https", B("GET https://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "absolute other scheme", B("GET ftp://a/ HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "absolute userinfo", B("GET http://good@evil/ HTTP/1.1\r\nHost: evil\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "absolute empty host", B("GET http:///x HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "absolute bad path", B("GET http://a/x\\y HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "host with space", B("GET / HTTP/1.1\r\nHost: a b\r\n\r\n"), LB_HTTP_E400 },
	{ "host empty label", B("GET / HTTP/1.1\r\nHost: a..b\r\n\r\n"), LB_HTTP_E400 },
	{ "host leading dot", B("GET / HTTP/1.1\r\nHost: .a\r\n\r\n"), LB_HTTP_E400 },
	{ "host only dot", B("GET / HTTP/1.1\r\nHost: .\r\n\r\n"), LB_HTTP_E400 },
	{ "host bad port", B("GET / HTTP/1.1\r\nHost: a:8o\r\n\r\n"), LB_HTTP_E400 },
	{ "host empty port", B("GET / HTTP/1.1\r\nHost: a:\r\n\r\n"), LB_HTTP_E400 },
	{ "host port too big", B("GET / HTTP/1.1\r\nHost: a:65536\r\n\r\n"), LB_HTTP_E400 },
	{ "host two ports", B("GET / HTTP/1.1\r\nHost: a:80:80\r\n\r\n"), LB_HTTP_E400 },
	{ "host userinfo", B("GET / HTTP/1.1\r\nHost: u@a\r\n\r\n"), LB_HTTP_E400 },
	{ "host escape", B("GET / HTTP/1.1\r\nHost: a%2eb\r\n\r\n"), LB_HTTP_E400 },
	{ "host slash", B("GET / HTTP/1.1\r\nHost: a/b\r\n\r\n"), LB_HTTP_E400 },
	{ "host comma list", B("GET / HTTP/1.1\r\nHost: a, b\r\n\r\n"), LB_HTTP_E400 },
	{ "host bad ip-literal", B("GET / HTTP/1.1\r\nHost: [zz::1]\r\n\r\n"), LB_HTTP_E400 },
	{ "host open ip-literal", B("GET / HTTP/1.1\r\nHost: [::1\r\n\r\n"), LB_HTTP_E400 },

	/* --- field syntax --- */
	{ "space before colon", B("GET / HTTP/1.1\r\nHost : a\r\n\r\n"), LB_HTTP_E400 },
	{ "tab before colon", B(GET_A "Transfer-Encoding\t: chunked\r\n\r\n"), LB_HTTP_E400 },
	{ "space in name", B(GET_A "Content Length: 1\r\n\r\n"), LB_HTTP_E400 },
	{ "empty name", B(GET_A ": x\r\n\r\n"), LB_HTTP_E400 },
	{ "no colon", B(GET_A "Foo\r\n\r\n"), LB_HTTP_E400 },
	{ "bad name char", B(GET_A "X(y): z\r\n\r\n"), LB_HTTP_E400 },
	{ "obs-fold", B(GET_A "X: a\r\n b\r\n\r\n"), LB_HTTP_E400 },
	{ "obs-fold tab", B(GET_A "X: a\r\n\tb\r\n\r\n"), LB_HTTP_E400 },
	{ "space before first field", B("GET / HTTP/1.1\r\n Host: a\r\n\r\n"), LB_HTTP_E400 },
	{ "control char in value", B(GET_A "X: a\x01z\r\n\r\n"), LB_HTTP_E400 },
	{ "NUL in value", B(GET_A "X: a\0z\r\n\r\n"), LB_HTTP_E400 },
	{ "DEL in value", B(GET_A "X: a\x7fz\r\n\r\n"), LB_HTTP_E400 },
	{ "VT in te", B(GET_A "Transfer-Encoding: \x0b" "chunked\r\n\r\n"), LB_HTTP_E400 },

	/* --- line ends --- */
	{ "bare LF request line", B("GET /a HTTP/1.1\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "bare LF field", B("GET /a HTTP/1.1\r\nHost: a\n\r\n"), LB_HTTP_E400 },
	{ "bare LF end", B("GET /a HTTP/1.1\r\nHost: a\r\n\n"), LB_HTTP_E400 },
	{ "bare LF leading", B("\nGET /a HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "bare CR in value", B(GET_A "X: a\rb\r\n\r\n"), LB_HTTP_E400 },
	{ "bare CR end", B(GET_A "\rX\r\n"), LB_HTTP_E400 },
	{ "CR CR LF", B(GET_A "X: a\r\r\n\r\n"), LB_HTTP_E400 },

	/* --- request line --- */
	{ "invalid method char", B("G@T / HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "tab after method", B("GET\t/ HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "empty method", B(" / HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "two spaces", B("GET  / HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "space after version", B("GET / HTTP/1.1 \r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "no version", B("GET /\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "NUL in target", B("GET /a\0b HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "space in target", B("GET /a b HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "fragment", B("GET /a#b HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "backslash", B("GET /a\\..\\b HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "raw utf-8", B("GET /caf\xc3\xa9 HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "bad escape", B("GET /a%zz HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "short escape", B("GET /a%4 HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "CONNECT", B("CONNECT a.example:443 HTTP/1.1\r\nHost: a.example:443\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "CONNECT origin form", B("CONNECT /x HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "authority form", B("GET a.example:80 HTTP/1.1\r\nHost: a.example\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "numeric authority form", B("GET 192.0.2.1:80 HTTP/1.1\r\nHost: a\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "asterisk with GET", B("GET * HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "asterisk with more", B("OPTIONS *x HTTP/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "TLS hello", B("\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"), LB_HTTP_E400 },

	/* --- version --- */
	{ "HTTP/2.0", B("GET / HTTP/2.0\r\nHost: a\r\n\r\n"), LB_HTTP_E505 },
	{ "HTTP/1.2", B("GET / HTTP/1.2\r\nHost: a\r\n\r\n"), LB_HTTP_E505 },
	{ "HTTP/0.9", B("GET / HTTP/0.9\r\n\r\n"), LB_HTTP_E505 },
	{ "lower-case version", B("GET / http/1.1\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "two-digit minor", B("GET / HTTP/1.10\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },
	{ "no dot", B("GET / HTTP/11\r\nHost: a\r\n\r\n"), LB_HTTP_E400 },

	/* --- framing, smuggling --- */
	{ "cl and te", B(GET_A "Content-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "te and cl", B(GET_A "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "chunked twice one line", B(GET_A "Transfer-Encoding: chunked, chunked\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "chunked twice two lines",
	  B(GET_A "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"), LB_HTTP_E400 },
	{ "chunked not last", B(GET_A "Transfer-Encoding: chunked, gzip\r\n\r\n"), LB_HTTP_E400 },
	{ "no chunked", B(GET_A "Transfer-Encoding: gzip\r\n\r\n"), LB_HTTP_E400 },
	{ "te unknown", B(GET_A "Transfer-Encoding: xchunked\r\n\r\n"), LB_HTTP_E501 },
	{ "te identity", B(GET_A "Transfer-Encoding: identity\r\n\r\n"), LB_HTTP_E501 },
	{ "te parameter", B(GET_A "Transfer-Encoding: chunked;q=1\r\n\r\n"), LB_HTTP_E501 },
	{ "te empty", B(GET_A "Transfer-Encoding:  \r\n\r\n"), LB_HTTP_E400 },
	{ "te commas only", B(GET_A "Transfer-Encoding: , ,\r\n\r\n"), LB_HTTP_E400 },
	{ "te bad token", B(GET_A "Transfer-Encoding: \"chunked\"\r\n\r\n"), LB_HTTP_E400 },
	{ "te space inside", B(GET_A "Transfer-Encoding: chun ked\r\n\r\n"), LB_HTTP_E400 },
	{ "te in 1.0", B("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"), LB_HTTP_E400 },
	{ "cl differing list", B(GET_A "Content-Length: 1, 2\r\n\r\n"), LB_HTTP_E400 },
	{ "cl differing lines", B(GET_A "Content-Length: 1\r\nContent-Length: 2\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "cl negative", B(GET_A "Content-Length: -1\r\n\r\n"), LB_HTTP_E400 },
	{ "cl plus", B(GET_A "Content-Length: +1\r\n\r\n"), LB_HTTP_E400 },
	{ "cl space inside", B(GET_A "Content-Length: 1 2\r\n\r\n"), LB_HTTP_E400 },
	{ "cl empty", B(GET_A "Content-Length:\r\n\r\n"), LB_HTTP_E400 },
	{ "cl hex", B(GET_A "Content-Length: 0x10\r\n\r\n"), LB_HTTP_E400 },
	{ "cl empty element", B(GET_A "Content-Length: 1,,1\r\n\r\n"), LB_HTTP_E400 },
	{ "cl trailing comma", B(GET_A "Content-Length: 1,\r\n\r\n"), LB_HTTP_E400 },
	{ "underscore cl", B(GET_A "Content_Length: 5\r\n\r\n"), LB_HTTP_E400 },
	{ "underscore te", B(GET_A "transfer_encoding: chunked\r\n\r\n"), LB_HTTP_E400 },
	{ "underscore mixed", B(GET_A "Content_length: 5\r\nContent-Length: 5\r\n\r\n"),
	  LB_HTTP_E400 },
	{ "cl huge", B(GET_A "Content-Length: 99999999999999999999999\r\n\r\n"), LB_HTTP_E400 },
};

static void check_fields(const struct head_case *c, const struct lb_http_request *r)
{
	ck_assert_int_eq(r->method_id, c->method);
	ck_assert_int_eq(r->target_form, c->form);
	ck_assert_uint_eq(r->path_len, strlen(c->path));
	ck_assert(!memcmp(r->path, c->path, r->path_len));
	if (c->query) {
		ck_assert_ptr_nonnull(r->query);
		ck_assert_uint_eq(r->query_len, strlen(c->query));
		ck_assert(!memcmp(r->query, c->query, r->query_len));
	} else {
		ck_assert_ptr_null(r->query);
	}
	ck_assert_str_eq(r->host, c->host);
	ck_assert_uint_eq(r->host_len, strlen(c->host));
	ck_assert_int_eq(r->port, c->port);
	ck_assert_int_eq(r->version_minor, c->minor);
	ck_assert_int_eq(r->has_content_length, c->clen >= 0);
	if (c->clen >= 0)
		ck_assert_uint_eq(r->content_length, (uint64_t)c->clen);
	ck_assert_int_eq(r->chunked, c->chunked);
	ck_assert_int_eq(r->has_transfer_encoding, c->chunked);
}

START_TEST(test_head_table)
{
	const struct head_case *c = &heads[_i];
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_http_request req, part;
	char *copy;
	int ret;

	/* An exact-size heap copy: ASan/valgrind catch any read past len. */
	copy = malloc(c->len);
	ck_assert_ptr_nonnull(copy);
	memcpy(copy, c->head, c->len);

	ret = lb_http_parse_head(copy, c->len, &lim, &req);
	ck_assert_msg(ret == c->want, "%s: got %d want %d (%s at %zu)", c->name, ret, c->want,
		      req.error ? req.error : "-", req.error_offset);
	if (ret == LB_HTTP_DONE) {
		const char *start = c->head, *end;

		while (!strncmp(start, "\r\n", 2))
			start += 2;
		end = strstr(start, "\r\n\r\n");

		ck_assert_uint_eq(req.head_len, (size_t)(end - c->head) + 4);
		check_fields(c, &req);
	} else {
		ck_assert_ptr_nonnull(req.error);
		ck_assert_uint_le(req.error_offset, c->len);
	}

	/* Byte by byte: AGAIN until the deciding byte, then the same answer. */
	for (size_t k = 0; k <= c->len; k++) {
		int r = lb_http_parse_head(copy, k, &lim, &part);

		if (r == LB_HTTP_AGAIN)
			continue;
		ck_assert_msg(r == ret, "%s: prefix %zu gave %d, whole gave %d", c->name, k, r, ret);
		if (r == LB_HTTP_DONE) {
			ck_assert_uint_eq(part.head_len, req.head_len);
			ck_assert_str_eq(part.host, req.host);
		} else {
			ck_assert_uint_eq(part.error_offset, req.error_offset);
		}
	}
	free(copy);
}
END_TEST

START_TEST(test_empty_and_partial)
{
	struct lb_http_request req;

	ck_assert_int_eq(lb_http_parse_head("", 0, NULL, &req), LB_HTTP_AGAIN);
	ck_assert_int_eq(lb_http_parse_head("GET / HTTP/1.1\r\nHost: a\r\n\r", 26, NULL, &req),
			 LB_HTTP_AGAIN);
	/* Garbage is refused at its first byte, not after a timeout. */
	ck_assert_int_eq(lb_http_parse_head("\x16", 1, NULL, &req), LB_HTTP_E400);
	ck_assert_uint_eq(req.error_offset, 0);
	ck_assert_int_eq(lb_http_parse_head("GET /a\x01", 7, NULL, &req), LB_HTTP_E400);
	ck_assert_uint_eq(req.error_offset, 6);
	ck_assert_int_eq(lb_http_status(LB_HTTP_E431), 431);
}
END_TEST

/* A head with a request line of @line_len bytes (CRLF included) and @fields. */
static char *make_head(size_t line_len, size_t field_len, size_t nfields, size_t *len)
{
	size_t cap = line_len + (field_len + 16) * (nfields + 1) + 64, o = 0;
	char *b = malloc(cap);

	ck_assert_ptr_nonnull(b);
	o += (size_t)sprintf(b, "GET /");
	while (o < line_len - strlen(" HTTP/1.1\r\n"))
		b[o++] = 'a';
	o += (size_t)sprintf(b + o, " HTTP/1.1\r\nHost: a.example\r\n");
	for (size_t f = 0; f < nfields; f++) {
		size_t start = o;

		o += (size_t)sprintf(b + o, "X-%zu: ", f);
		while (o - start < field_len - 2)
			b[o++] = 'v';
		b[o++] = '\r';
		b[o++] = '\n';
	}
	b[o++] = '\r';
	b[o++] = '\n';
	*len = o;
	return b;
}

START_TEST(test_limits)
{
	struct lb_http_limits lim = LB_HTTP_LIMITS_DEFAULT;
	struct lb_http_request req;
	size_t len;
	char *h;

	/* Request line of exactly 8 KiB passes, one byte more is 414. */
	h = make_head(8192, 0, 0, &len);
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_DONE);
	ck_assert_uint_eq(req.path_len, 8192 - strlen("GET  HTTP/1.1\r\n"));
	free(h);
	h = make_head(8193, 0, 0, &len);
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_E414);
	/* Decided at the limit, without waiting for the rest. */
	ck_assert_int_eq(lb_http_parse_head(h, 8192, &lim, &req), LB_HTTP_E414);
	ck_assert_int_eq(lb_http_parse_head(h, 8191, &lim, &req), LB_HTTP_AGAIN);
	free(h);

	/* A field line of 8 KiB passes, 8 KiB + 1 is 431. */
	h = make_head(64, 8192, 1, &len);
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_DONE);
	free(h);
	h = make_head(64, 8193, 1, &len);
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_E431);
	free(h);

	/* Many lines each fine, but the head over 16 KiB: 431. */
	h = make_head(64, 4000, 5, &len);
	ck_assert_uint_gt(len, 16384);
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_E431);
	ck_assert_int_eq(lb_http_parse_head(h, 16384, &lim, &req), LB_HTTP_E431);
	ck_assert_int_eq(lb_http_parse_head(h, 16383, &lim, &req), LB_HTTP_AGAIN);
	lim.max_head = 32768;
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_DONE);
	ck_assert_uint_eq(req.head_len, len);
	free(h);

	/* Field count. */
	lim = LB_HTTP_LIMITS_DEFAULT;
	h = make_head(64, 10, 99, &len); /* + Host = 100 */
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_DONE);
	ck_assert_uint_eq(req.n_fields, 100);
	free(h);
	h = make_head(64, 10, 100, &len);
	ck_assert_int_eq(lb_http_parse_head(h, len, &lim, &req), LB_HTTP_E431);
	free(h);

	/* Small limits from the config are honoured; zero means default. */
	lim = (struct lb_http_limits){ .max_head = 40, .max_line = 0, .max_fields = 0 };
	{
		const char *t = "GET / HTTP/1.1\r\nHost: a\r\nX-Long: 123456\r\n\r\n";

		ck_assert_int_eq(lb_http_parse_head(t, strlen(t), &lim, &req), LB_HTTP_E431);
		lim.max_head = (uint32_t)strlen(t);
		ck_assert_int_eq(lb_http_parse_head(t, strlen(t), &lim, &req), LB_HTTP_DONE);
	}
}
END_TEST

/* --- normalisation ---------------------------------------------------------- */

struct norm_case {
	const char *in;
	size_t len; /* 0: strlen */
	const char *out; /* NULL: error */
	int err;
};

static const struct norm_case norms[] = {
	{ .in = "/", .len = 0, .out = "/" },
	{ .in = "", .len = 0, .out = "/" },
	{ .in = "/a/b", .len = 0, .out = "/a/b" },
	{ .in = "/a/../b", .len = 0, .out = "/b" },
	{ .in = "/a/b/../c", .len = 0, .out = "/a/c" },
	{ .in = "/%2e%2e/x", .len = 0, .out = "/x" },
	{ .in = "/%2E%2e/x", .len = 0, .out = "/x" },
	{ .in = "/a/.%2e/b", .len = 0, .out = "/b" },
	{ .in = "/a/%2e/b", .len = 0, .out = "/a/b" },
	{ .in = "//secret", .len = 0, .out = "/secret" },
	{ .in = "/a//b///c", .len = 0, .out = "/a/b/c" },
	{ .in = "/a/./b", .len = 0, .out = "/a/b" },
	{ .in = "/..", .len = 0, .out = "/" },
	{ .in = "/../../x", .len = 0, .out = "/x" },
	{ .in = "/a/..", .len = 0, .out = "/" },
	{ .in = "/a/b/..", .len = 0, .out = "/a/" },
	{ .in = "/a/.", .len = 0, .out = "/a/" },
	{ .in = "/a/", .len = 0, .out = "/a/" },
	{ .in = "/a//", .len = 0, .out = "/a/" },
	{ .in = "/%2e", .len = 0, .out = "/" },
	{ .in = "/a%2Fb", .len = 0, .out = "/a/b" },
	{ .in = "/a%2fb", .len = 0, .out = "/a/b" },
	{ .in = "/a%2F..%2Fsecret", .len = 0, .out = "/secret" },
	{ .in = "/%2F%2Fsecret", .len = 0, .out = "/secret" },
	{ .in = "/%73ecret/x", .len = 0, .out = "/secret/x" },
	{ .in = "/%7e", .len = 0, .out = "/~" },
	{ .in = "/%7E%41", .len = 0, .out = "/~A" },
	{ .in = "/caf%C3%A9", .len = 0, .out = "/caf\xc3\xa9" },
	{ .in = "/a%20b", .len = 0, .out = "/a b" },
	{ .in = "/a?x=/../y", .len = 0, .out = "/a" },
	{ .in = "/a/..?x", .len = 0, .out = "/" },
	{ .in = "/a#frag/..", .len = 0, .out = "/a" },
	{ .in = "/a%3Fb", .len = 0, .out = "/a?b" },
	{ .in = "/a%23b", .len = 0, .out = "/a#b" },
	{ .in = "/...", .len = 0, .out = "/..." },
	{ .in = "/.a/..b/", .len = 0, .out = "/.a/..b/" },
	{ .in = "/a/b/c/../../../../x/", .len = 0, .out = "/x/" },
	{ .in = "/%00", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "/a%00b", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "/a\0b", .len = 4, .err = LB_HTTP_E400 },
	{ .in = "/a%zz", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "/a%g0", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "/a%2", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "/a%", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "/a%2?", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "a/b", .len = 0, .err = LB_HTTP_E400 },
	{ .in = "*", .len = 0, .err = LB_HTTP_E400 },
};

START_TEST(test_normalize_table)
{
	const struct norm_case *c = &norms[_i];
	size_t len = c->len ? c->len : strlen(c->in);
	char out[64];
	int r;

	memset(out, 'X', sizeof(out));
	r = lb_http_normalize_path(c->in, len, out, sizeof(out));
	if (c->out) {
		ck_assert_msg(r == (int)strlen(c->out) && !strcmp(out, c->out),
			      "\"%s\": got %d \"%.*s\" want \"%s\"", c->in, r, r > 0 ? r : 0, out,
			      c->out);
	} else {
		ck_assert_msg(r == c->err, "\"%s\": got %d want %d", c->in, r, c->err);
	}
}
END_TEST

START_TEST(test_normalize_bounds)
{
	char out[8];

	/* len + 2 always suffices; less may not. */
	ck_assert_int_eq(lb_http_normalize_path("/abcdef", 7, out, 9), 7);
	ck_assert_int_eq(lb_http_normalize_path("/abcdef", 7, out, 8), 7);
	ck_assert_int_eq(lb_http_normalize_path("/abcdefg", 8, out, 8), LB_HTTP_E414);
	ck_assert_int_eq(lb_http_normalize_path("/abcdef/", 8, out, 8), LB_HTTP_E414);
	ck_assert_int_eq(lb_http_normalize_path("", 0, out, 2), 1);
	ck_assert_int_eq(lb_http_normalize_path("", 0, out, 1), LB_HTTP_E414);
	/* Only len bytes are read: the rest of the buffer is not the path. */
	ck_assert_int_eq(lb_http_normalize_path("/ab/../etc", 3, out, sizeof(out)), 3);
	ck_assert_str_eq(out, "/ab");
}
END_TEST

/* The route path of a parsed request, end to end. */
START_TEST(test_route_path)
{
	static const struct {
		const char *head;
		const char *path;
	} cases[] = {
		{ "GET /public/%2e%2e/secret/x?y HTTP/1.1\r\nHost: a\r\n\r\n", "/secret/x" },
		{ "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", "/" },
		{ "GET http://a?q HTTP/1.1\r\nHost: a\r\n\r\n", "/" },
		{ "OPTIONS * HTTP/1.1\r\nHost: a\r\n\r\n", "/" },
		{ "GET //a/./b/ HTTP/1.0\r\n\r\n", "/a/b/" },
	};
	struct lb_http_request req;
	char out[128];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		ck_assert_int_eq(lb_http_parse_head(cases[i].head, strlen(cases[i].head), NULL, &req),
				 LB_HTTP_DONE);
		ck_assert_int_eq(lb_http_route_path(&req, out, sizeof(out)),
				 (int)strlen(cases[i].path));
		ck_assert_str_eq(out, cases[i].path);
	}
}
END_TEST

/* ---- where a request ends: lb_http_request_extent ------------------------ */

#define HOST_A "Host: a.example\r\n"

static const struct extent_case {
	const char *name;
	const char *head; /* a complete head, nothing after it */
	int want;	  /* enum lb_http_extent */
	uint64_t body;	  /* LB_EXTENT_SIZED: bytes after the head */
} extents[] = {
	{ "GET, no body", "GET / HTTP/1.1\r\n" HOST_A "\r\n", LB_EXTENT_SIZED, 0 },
	{ "HEAD, no body", "HEAD /x HTTP/1.1\r\n" HOST_A "\r\n", LB_EXTENT_SIZED, 0 },
	{ "POST without Content-Length has none", "POST /f HTTP/1.1\r\n" HOST_A "\r\n",
	  LB_EXTENT_SIZED, 0 },
	{ "Content-Length 5", "POST /f HTTP/1.1\r\n" HOST_A "Content-Length: 5\r\n\r\n",
	  LB_EXTENT_SIZED, 5 },
	{ "Content-Length 0", "POST /f HTTP/1.1\r\n" HOST_A "Content-Length: 0\r\n\r\n",
	  LB_EXTENT_SIZED, 0 },
	{ "GET with Content-Length", "GET / HTTP/1.1\r\n" HOST_A "Content-Length: 12\r\n\r\n",
	  LB_EXTENT_SIZED, 12 },
	{ "Content-Length list", "PUT /u HTTP/1.1\r\n" HOST_A "Content-Length: 7 , 7\r\n\r\n",
	  LB_EXTENT_SIZED, 7 },
	{ "Content-Length twice, leading zeros",
	  "PUT /u HTTP/1.1\r\n" HOST_A "Content-Length: 7\r\ncontent-length: 007\r\n\r\n",
	  LB_EXTENT_SIZED, 7 },
	{ "HTTP/1.0 with Content-Length", "POST /f HTTP/1.0\r\nContent-Length: 3\r\n\r\n",
	  LB_EXTENT_SIZED, 3 },
	{ "a body of 1 GiB", "PUT /u HTTP/1.1\r\n" HOST_A "Content-Length: 1073741824\r\n\r\n",
	  LB_EXTENT_SIZED, 1073741824 },
	{ "the largest Content-Length taken",
	  "PUT /u HTTP/1.1\r\n" HOST_A "Content-Length: 461168601842738790\r\n\r\n",
	  LB_EXTENT_SIZED, 461168601842738790ULL },
	{ "leading empty lines count", "\r\n\r\nPOST /f HTTP/1.1\r\n" HOST_A "Content-Length: 2\r\n\r\n",
	  LB_EXTENT_SIZED, 2 },
	{ "chunked", "POST /f HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\n\r\n",
	  LB_EXTENT_CHUNKED, 0 },
	{ "gzip, chunked", "POST /f HTTP/1.1\r\n" HOST_A "Transfer-Encoding: gzip, CHUNKED\r\n\r\n",
	  LB_EXTENT_CHUNKED, 0 },
	{ "Upgrade", "GET /ws HTTP/1.1\r\n" HOST_A "Connection: Upgrade\r\nUpgrade: websocket\r\n\r\n",
	  LB_EXTENT_UPGRADE, 0 },
	{ "upgrade, any case", "GET /ws HTTP/1.1\r\n" HOST_A "uPGRADE: h2c\r\n\r\n", LB_EXTENT_UPGRADE,
	  0 },
	{ "Upgrade with a body", "POST /ws HTTP/1.1\r\n" HOST_A "Upgrade: x\r\nContent-Length: 4\r\n\r\n",
	  LB_EXTENT_UPGRADE, 0 },
	{ "Upgrade and chunked", "POST /ws HTTP/1.1\r\n" HOST_A "Upgrade: x\r\nTransfer-Encoding: chunked\r\n\r\n",
	  LB_EXTENT_UPGRADE, 0 },
	/* Only a field named Upgrade: browsers send this one on every request. */
	{ "Upgrade-Insecure-Requests is no Upgrade",
	  "GET / HTTP/1.1\r\n" HOST_A "Upgrade-Insecure-Requests: 1\r\n\r\n", LB_EXTENT_SIZED, 0 },
	{ "Connection: upgrade alone", "GET / HTTP/1.1\r\n" HOST_A "Connection: upgrade\r\n\r\n",
	  LB_EXTENT_SIZED, 0 },
	{ "X-Upgrade", "GET / HTTP/1.1\r\n" HOST_A "X-Upgrade: websocket\r\n\r\n", LB_EXTENT_SIZED, 0 },
};

START_TEST(test_extent_table)
{
	const struct extent_case *c = &extents[_i];
	size_t len = strlen(c->head);
	struct lb_http_request req;
	uint64_t n = 0xdeadbeef;
	int ext;

	ck_assert_msg(lb_http_parse_head(c->head, len, NULL, &req) == LB_HTTP_DONE, "%s: %s",
		      c->name, req.error ? req.error : "not done");
	ck_assert_uint_eq(req.head_len, len);
	ext = lb_http_request_extent(&req, &n);
	ck_assert_msg(ext == c->want, "%s: extent %d, expected %d", c->name, ext, c->want);
	if (ext == LB_EXTENT_SIZED)
		ck_assert_msg(n == len + c->body, "%s: %llu bytes, expected %zu + %llu", c->name,
			      (unsigned long long)n, len, (unsigned long long)c->body);
}
END_TEST

/* The parser clears what a previous request left in the struct: no Upgrade carried over. */
START_TEST(test_extent_reused_request)
{
	static const char ws[] = "GET /ws HTTP/1.1\r\n" HOST_A "Upgrade: websocket\r\n\r\n";
	static const char te[] = "POST /f HTTP/1.1\r\n" HOST_A "Transfer-Encoding: chunked\r\n\r\n";
	static const char get[] = "GET / HTTP/1.1\r\n" HOST_A "\r\n";
	struct lb_http_request req;
	uint64_t n;

	ck_assert_int_eq(lb_http_parse_head(ws, sizeof(ws) - 1, NULL, &req), LB_HTTP_DONE);
	ck_assert_int_eq(lb_http_request_extent(&req, &n), LB_EXTENT_UPGRADE);
	ck_assert_int_eq(lb_http_parse_head(te, sizeof(te) - 1, NULL, &req), LB_HTTP_DONE);
	ck_assert_int_eq(lb_http_request_extent(&req, &n), LB_EXTENT_CHUNKED);
	ck_assert_int_eq(lb_http_parse_head(get, sizeof(get) - 1, NULL, &req), LB_HTTP_DONE);
	ck_assert_int_eq(lb_http_request_extent(&req, &n), LB_EXTENT_SIZED);
	ck_assert_uint_eq(n, sizeof(get) - 1);
}
END_TEST

/*
 * Pipelined requests, as the dispatcher walks them: each request's extent is
 * where the next one starts, bodies skipped whatever they look like; a head
 * still arriving is AGAIN on every prefix.
 */
static const struct {
	const char *name;
	const char *stream;
	const char *paths[4]; /* of each complete request, in order */
	int last;	      /* what the bytes after the last complete one give */
} pipelines[] = {
	{ "three GETs",
	  "GET /a HTTP/1.1\r\n" HOST_A "\r\nGET /b HTTP/1.1\r\n" HOST_A "\r\nGET /c HTTP/1.1\r\n" HOST_A
	  "\r\n",
	  { "/a", "/b", "/c" }, LB_HTTP_AGAIN },
	{ "a body, then a GET",
	  "POST /up HTTP/1.1\r\n" HOST_A "Content-Length: 11\r\n\r\nhello world"
	  "GET /after HTTP/1.1\r\n" HOST_A "\r\n",
	  { "/up", "/after" }, LB_HTTP_AGAIN },
	{ "a body that looks like a request",
	  "POST /up HTTP/1.1\r\n" HOST_A "Content-Length: 34\r\n\r\n"
	  "GET /admin HTTP/1.1\r\nHost: a.b\r\n\r\n"
	  "GET /real HTTP/1.1\r\n" HOST_A "\r\n",
	  { "/up", "/real" }, LB_HTTP_AGAIN },
	{ "Content-Length 0 between",
	  "POST /a HTTP/1.1\r\n" HOST_A "Content-Length: 0\r\n\r\nGET /b HTTP/1.1\r\n" HOST_A "\r\n",
	  { "/a", "/b" }, LB_HTTP_AGAIN },
	{ "an empty line between requests",
	  "GET /a HTTP/1.1\r\n" HOST_A "\r\n\r\nGET /b HTTP/1.1\r\n" HOST_A "\r\n",
	  { "/a", "/b" }, LB_HTTP_AGAIN },
	{ "the second head incomplete",
	  "GET /a HTTP/1.1\r\n" HOST_A "\r\nGET /b HTTP/1.1\r\nHost: a.exa",
	  { "/a" }, LB_HTTP_AGAIN },
	{ "the body incomplete",
	  "POST /a HTTP/1.1\r\n" HOST_A "Content-Length: 100\r\n\r\nonly some of it",
	  { "/a" }, LB_HTTP_AGAIN /* nothing left to parse */ },
	{ "garbage after a request", "GET /a HTTP/1.1\r\n" HOST_A "\r\n\x16\x03\x01", { "/a" },
	  LB_HTTP_E400 },
};

START_TEST(test_extent_pipeline)
{
	const char *stream = pipelines[_i].stream;
	size_t total = strlen(stream), off = 0, k;
	struct lb_http_request req, part;
	char path[256];
	int i, r;

	for (i = 0; i < 4 && pipelines[_i].paths[i]; i++) {
		const char *at = stream + off;
		uint64_t n;

		r = lb_http_parse_head(at, total - off, NULL, &req);
		ck_assert_msg(r == LB_HTTP_DONE, "%s: request %d at %zu: %d", pipelines[_i].name, i,
			      off, r);
		/* From its first byte: a whole method, not the tail of one. */
		ck_assert_msg(req.method_id == LB_METHOD_GET || req.method_id == LB_METHOD_POST,
			      "%s: request %d's method \"%.*s\"", pipelines[_i].name, i,
			      (int)req.method_len, req.method);
		ck_assert_int_eq(lb_http_route_path(&req, path, sizeof(path)),
				 (int)strlen(pipelines[_i].paths[i]));
		ck_assert_str_eq(path, pipelines[_i].paths[i]);
		/* Every prefix of its head: AGAIN, never a request to take an extent of. */
		for (k = 0; k < req.head_len; k++)
			ck_assert_msg(lb_http_parse_head(at, k, NULL, &part) == LB_HTTP_AGAIN,
				      "%s: request %d, %zu of %zu bytes not AGAIN", pipelines[_i].name,
				      i, k, req.head_len);
		ck_assert_int_eq(lb_http_request_extent(&req, &n), LB_EXTENT_SIZED);
		ck_assert_uint_ge(n, req.head_len);
		if (off + n > total) {
			/* Its body is still coming: nothing after it yet. */
			off = total;
			i++;
			break;
		}
		off += n;
	}
	ck_assert_msg(i == 4 || !pipelines[_i].paths[i], "%s: %d requests", pipelines[_i].name, i);
	r = lb_http_parse_head(stream + off, total - off, NULL, &req);
	ck_assert_msg(r == pipelines[_i].last, "%s: the rest gave %d", pipelines[_i].name, r);
}
END_TEST

Suite *http_suite(void)
{
	Suite *s = suite_create("http");
	TCase *tc = tcase_create("parse");

	tcase_add_loop_test(tc, test_head_table, 0, sizeof(heads) / sizeof(heads[0]));
	tcase_add_test(tc, test_empty_and_partial);
	tcase_add_test(tc, test_limits);
	suite_add_tcase(s, tc);

	tc = tcase_create("normalize");
	tcase_add_loop_test(tc, test_normalize_table, 0, sizeof(norms) / sizeof(norms[0]));
	tcase_add_test(tc, test_normalize_bounds);
	tcase_add_test(tc, test_route_path);
	suite_add_tcase(s, tc);

	tc = tcase_create("extent");
	tcase_add_loop_test(tc, test_extent_table, 0, sizeof(extents) / sizeof(extents[0]));
	tcase_add_test(tc, test_extent_reused_request);
	tcase_add_loop_test(tc, test_extent_pipeline, 0, sizeof(pipelines) / sizeof(pipelines[0]));
	suite_add_tcase(s, tc);
	return s;
}
