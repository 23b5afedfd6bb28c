// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the HTTP request-head parser and the routing form of a
 * path (user/http.h).
 *
 * Input: one control byte, then either a request head or (control bit 1) a raw
 * path. Control bit 0 takes three more bytes as small parser limits, so the
 * 414/431 edges are reached without megabyte inputs.
 *
 * Invariants, beyond ASan/UBSan (every buffer handed over is an exact-size
 * heap copy, so one byte read past @len is caught):
 *   - the result is DONE, AGAIN or one of the documented errors;
 *   - on DONE: head_len <= len and <= max_head, the head ends in CRLFCRLF, has
 *     no bare CR or LF and no NUL; every pointer of the request lies inside it;
 *     host is lower case, without a trailing dot, and its length is right;
 *     HTTP/1.1 has a Host; never both Content-Length and Transfer-Encoding;
 *     Transfer-Encoding only when chunked; Host, Content-Length and
 *     Transfer-Encoding were seen iff a line of that name is in the head
 *     (counted here independently);
 *   - on an error: a reason and an offset within the input;
 *   - prefixes: parsing any prefix gives AGAIN or the same answer (with the same
 *     head_len), and DONE exactly from head_len bytes on;
 *   - routing path: never 414 with len + 2 bytes; starts with '/', no "//",
 *     "/./", "/../" and no trailing "/." or "/..", equal to a reference
 *     normaliser written here from the documentation, and normalising it again
 *     (with '%', '?' and '#' escaped) gives it back unchanged;
 *   - with a short output buffer: never a write past it, and any answer that is
 *     not 414 is the reference's.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "http.h"

#define PATH_BUF 20000

static int hexv(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/*
 * The documentation of lb_http_normalize_path() as plainly as possible: cut at
 * the first raw '?' or '#', decode every %XX (a bad escape or a NUL: 400),
 * split the decoded bytes at '/', drop empty and "." segments, ".." pops one
 * (never above the root), join; a trailing '/' when the last piece was empty,
 * "." or "..". Returns the length written to @out, or -400.
 */
static int ref_normalize(const uint8_t *s, size_t len, char *out)
{
	static char dec[PATH_BUF];
	static size_t starts[PATH_BUF / 2];
	size_t n = 0, d = 0, o = 1, i, nseg = 0;
	bool trailing = true;

	while (n < len && s[n] != '?' && s[n] != '#')
		n++;
	if (n && s[0] != '/')
		return -400;
	for (i = 0; i < n; i++) {
		int c = s[i];

		if (c == '%') {
			if (n - i < 3)
				return -400;
			if (hexv(s[i + 1]) < 0 || hexv(s[i + 2]) < 0)
				return -400;
			c = hexv(s[i + 1]) << 4 | hexv(s[i + 2]);
			i += 2;
		}
		if (!c)
			return -400;
		dec[d++] = (char)c;
	}

	out[0] = '/';
	for (i = 0; i <= d;) {
		size_t j = i, sl;

		while (j < d && dec[j] != '/')
			j++;
		sl = j - i;
		trailing = true;
		if (sl == 0 || (sl == 1 && dec[i] == '.')) {
			/* nothing */
		} else if (sl == 2 && dec[i] == '.' && dec[i + 1] == '.') {
			if (nseg)
				o = starts[--nseg];
		} else {
			starts[nseg++] = o;
			if (o > 1)
				out[o++] = '/';
			memcpy(out + o, dec + i, sl);
			o += sl;
			trailing = false;
		}
		i = j + 1;
	}
	if (trailing && o > 1)
		out[o++] = '/';
	out[o] = '\0';
	return (int)o;
}

static void check_normal_form(const char *p, int n)
{
	CHECK(n >= 1 && p[0] == '/', "normalised path \"%.*s\" does not start with '/'", n, p);
	CHECK(strlen(p) == (size_t)n, "normalised path has a NUL inside (%zu vs %d)", strlen(p), n);
	CHECK(!strstr(p, "//"), "normalised path \"%s\" has \"//\"", p);
	CHECK(!strstr(p, "/./"), "normalised path \"%s\" has \"/./\"", p);
	CHECK(!strstr(p, "/../"), "normalised path \"%s\" has \"/../\"", p);
	CHECK(!(n >= 2 && !strcmp(p + n - 2, "/.")), "normalised path \"%s\" ends in \"/.\"", p);
	CHECK(!(n >= 3 && !strcmp(p + n - 3, "/..")), "normalised path \"%s\" ends in \"/..\"", p);
}

/* Normalising @p (a normal form) again, with the bytes that decoding produced escaped. */
static void check_idempotent(const char *p, int n)
{
	static char esc[3 * PATH_BUF + 1], again[3 * PATH_BUF + 3];
	static const char hex[] = "0123456789ABCDEF";
	size_t e = 0;
	int r;

	for (int i = 0; i < n; i++) {
		unsigned char c = (unsigned char)p[i];

		if (c == '%' || c == '?' || c == '#') {
			esc[e++] = '%';
			esc[e++] = hex[c >> 4];
			esc[e++] = hex[c & 15];
		} else {
			esc[e++] = (char)c;
		}
	}
	r = lb_http_normalize_path(esc, e, again, e + 2);
	CHECK(r == n && !memcmp(again, p, n), "normalising \"%s\" again gave %d \"%s\"", p, r,
	      r > 0 ? again : "");
}

/* The normaliser on @len bytes at @s, against the reference, with room and without. */
static void fuzz_normalize(const uint8_t *s, size_t len, size_t short_out)
{
	static char ref[PATH_BUF + 3];
	uint8_t *in = dup_exact(s, len);
	char *out = malloc(len + 2);
	int r, rr;

	if (len > PATH_BUF - 4) {
		free(in);
		free(out);
		return;
	}
	rr = ref_normalize(in, len, ref);
	r = lb_http_normalize_path((const char *)in, len, out, len + 2);
	CHECK(r != LB_HTTP_E414, "414 for %zu bytes with len + 2 bytes of room", len);
	CHECK(r == rr, "normalise gave %d, the reference %d (\"%s\" vs \"%s\")", r, rr,
	      r > 0 ? out : "", rr > 0 ? ref : "");
	if (r > 0) {
		CHECK(!memcmp(out, ref, r + 1), "normalise gave \"%s\", the reference \"%s\"", out, ref);
		check_normal_form(out, r);
		check_idempotent(out, r);
	}
	free(out);

	/* Too little room: no write past it, and no answer but 414 or the right one. */
	short_out %= len + 3;
	out = malloc(short_out);
	r = lb_http_normalize_path((const char *)in, len, out, short_out);
	if (r >= 0)
		CHECK(rr >= 0 && r == rr && (size_t)r < short_out && !memcmp(out, ref, r + 1),
		      "with %zu bytes of room normalise gave %d, the reference %d", short_out, r, rr);
	else if (r == LB_HTTP_E400)
		CHECK(rr == -400, "with %zu bytes of room normalise gave 400, the reference %d",
		      short_out, rr);
	else
		CHECK(r == LB_HTTP_E414, "normalise returned %d", r);
	free(out);
	free(in);
}

static bool valid_ret(int r)
{
	return r == LB_HTTP_DONE || r == LB_HTTP_AGAIN || r == LB_HTTP_E400 || r == LB_HTTP_E414 ||
	       r == LB_HTTP_E431 || r == LB_HTTP_E501 || r == LB_HTTP_E505;
}

static bool name_is(const uint8_t *a, size_t n, const char *lit)
{
	size_t l = strlen(lit);

	if (n != l)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = a[i];

		if (c >= 'A' && c <= 'Z')
			c += 'a' - 'A';
		if (c != (unsigned char)lit[i])
			return false;
	}
	return true;
}

static bool inside(const uint8_t *buf, size_t len, const char *p, size_t n)
{
	return (const uint8_t *)p >= buf && (const uint8_t *)p + n <= buf + len;
}

/* Checks of a complete head that do not trust the parser's own walk. */
static void check_done(const uint8_t *b, size_t len, const struct lb_http_limits *lim,
		       const struct lb_http_request *q)
{
	size_t h = q->head_len, i, line, hosts = 0, cls = 0, tes = 0;
	static const char *const methods[] = { NULL, "GET", "HEAD", "POST", "PUT", "DELETE",
					       "OPTIONS", "TRACE", "PATCH" };

	CHECK(h <= len, "head_len %zu > len %zu", h, len);
	CHECK(h >= 4 && !memcmp(b + h - 4, "\r\n\r\n", 4), "head of %zu bytes does not end in CRLFCRLF",
	      h);
	CHECK(h <= (lim->max_head ? lim->max_head : 16384), "head_len %zu over max_head", h);
	for (i = 0; i < h; i++) {
		CHECK(b[i] != 0, "NUL at %zu in an accepted head", i);
		if (b[i] == '\n')
			CHECK(i > 0 && b[i - 1] == '\r', "bare LF at %zu in an accepted head", i);
		if (b[i] == '\r')
			CHECK(i + 1 < h && b[i + 1] == '\n', "bare CR at %zu in an accepted head", i);
	}

	CHECK(q->method_len > 0 && inside(b, h, q->method, q->method_len), "method outside the head");
	CHECK(q->target_len > 0 && inside(b, h, q->target, q->target_len), "target outside the head");
	CHECK(inside(b, h, q->path, q->path_len) && q->path >= q->target &&
		      q->path + q->path_len <= q->target + q->target_len,
	      "path outside the target");
	if (q->query)
		CHECK(q->query >= q->path + q->path_len &&
			      q->query + q->query_len <= q->target + q->target_len,
		      "query outside the target");
	CHECK(q->method_id >= LB_METHOD_OTHER && q->method_id <= LB_METHOD_PATCH, "method_id %d",
	      q->method_id);
	if (q->method_id != LB_METHOD_OTHER)
		CHECK(strlen(methods[q->method_id]) == q->method_len &&
			      !memcmp(methods[q->method_id], q->method, q->method_len),
		      "method_id %d for \"%.*s\"", q->method_id, (int)q->method_len, q->method);
	else
		for (size_t k = 1; k < sizeof(methods) / sizeof(methods[0]); k++)
			CHECK(strlen(methods[k]) != q->method_len ||
				      memcmp(methods[k], q->method, q->method_len),
			      "known method \"%s\" classified OTHER", methods[k]);
	CHECK(!(q->method_len == 7 && !memcmp(q->method, "CONNECT", 7)), "CONNECT accepted");
	CHECK(q->target_form >= LB_TARGET_ORIGIN && q->target_form <= LB_TARGET_ASTERISK,
	      "target_form %d", q->target_form);
	if (q->target_form == LB_TARGET_ORIGIN)
		CHECK(q->target[0] == '/' && q->path == q->target, "origin-form target not at '/'");
	if (q->target_form == LB_TARGET_ASTERISK)
		CHECK(q->method_id == LB_METHOD_OPTIONS && q->target_len == 1 && q->target[0] == '*',
		      "asterisk-form without OPTIONS or with more than '*'");
	CHECK(q->version_minor == 0 || q->version_minor == 1, "version_minor %d", q->version_minor);

	CHECK(q->host_len <= LB_HTTP_HOST_MAX && strlen(q->host) == q->host_len,
	      "host_len %zu, strlen %zu", q->host_len, strlen(q->host));
	for (i = 0; i < q->host_len; i++)
		CHECK(!(q->host[i] >= 'A' && q->host[i] <= 'Z'), "host \"%s\" not lower case", q->host);
	CHECK(!q->host_len || q->host[q->host_len - 1] != '.', "host \"%s\" ends in a dot", q->host);
	if (q->target_form == LB_TARGET_ABSOLUTE)
		CHECK(q->host_len > 0, "absolute-form without a host");
	if (q->version_minor == 1)
		CHECK(q->has_host, "HTTP/1.1 without Host accepted");
	CHECK(!(q->has_content_length && q->has_transfer_encoding), "both CL and TE accepted");
	CHECK(!q->has_transfer_encoding || q->chunked, "TE without final chunked accepted");
	CHECK(q->n_fields <= (lim->max_fields ? lim->max_fields : 100), "%u fields", q->n_fields);

	/* The fields, found here line by line. */
	i = 0;
	while (i + 1 < h && b[i] == '\r') /* leading empty lines */
		i += 2;
	line = 0;
	for (;;) {
		size_t e = i, c;

		while (e + 1 < h && !(b[e] == '\r' && b[e + 1] == '\n'))
			e++;
		CHECK(e + 1 < h, "line at %zu without CRLF in an accepted head", i);
		if (e == i)
			break; /* the empty line */
		if (line++) {
			for (c = i; c < e && b[c] != ':'; c++)
				;
			CHECK(c < e && c > i, "field line at %zu without a name and colon", i);
			hosts += name_is(b + i, c - i, "host");
			cls += name_is(b + i, c - i, "content-length");
			tes += name_is(b + i, c - i, "transfer-encoding");
		}
		i = e + 2;
	}
	CHECK(i + 2 == h, "the empty line ends at %zu, head_len %zu", i + 2, h);
	CHECK(line - 1 == q->n_fields, "%zu field lines, n_fields %u", line - 1, q->n_fields);
	CHECK(hosts <= 1 && (hosts == 1) == q->has_host, "%zu Host lines, has_host %d", hosts,
	      q->has_host);
	CHECK((cls > 0) == q->has_content_length, "%zu Content-Length lines, has %d", cls,
	      q->has_content_length);
	CHECK((tes > 0) == q->has_transfer_encoding, "%zu Transfer-Encoding lines, has %d", tes,
	      q->has_transfer_encoding);
}

/* Parse the first @k bytes (an exact-size copy); the answer must be AGAIN or @full's. */
static void check_prefix(const uint8_t *b, size_t k, const struct lb_http_limits *lim, int full,
			 const struct lb_http_request *fq)
{
	struct lb_http_request q;
	uint8_t *c = dup_exact(b, k);
	int r = lb_http_parse_head((const char *)c, k, lim, &q);

	CHECK(r == LB_HTTP_AGAIN || r == full, "prefix of %zu bytes: %d, whole input: %d (%s)", k, r,
	      full, q.error ? q.error : "");
	if (full == LB_HTTP_DONE) {
		if (k < fq->head_len)
			CHECK(r == LB_HTTP_AGAIN, "prefix of %zu bytes < head_len %zu: %d", k,
			      fq->head_len, r);
		else
			CHECK(r == LB_HTTP_DONE && q.head_len == fq->head_len,
			      "prefix of %zu bytes >= head_len %zu: %d, head_len %zu", k, fq->head_len,
			      r, q.head_len);
	}
	free(c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reader rd = { data, size };
	struct lb_http_limits lim = { 0 };
	struct lb_http_request q;
	uint8_t ctl = rd_u8(&rd), *buf;
	size_t len, cut;
	int r;

	if (ctl & 1) {
		lim.max_head = rd_u8(&rd) * 16;
		lim.max_line = rd_u8(&rd) * 4;
		lim.max_fields = rd_u8(&rd) % 8;
	}
	cut = rd_u16(&rd);
	if (ctl & 2) {
		fuzz_normalize(rd.p, rd.n, cut);
		return 0;
	}

	len = rd.n;
	buf = dup_exact(rd.p, len);
	r = lb_http_parse_head((const char *)buf, len, &lim, &q);
	CHECK(valid_ret(r), "lb_http_parse_head returned %d", r);
	if (r < 0)
		CHECK(q.error && q.error_offset <= len, "error %d without a reason or at %zu of %zu", r,
		      q.error_offset, len);
	if (r == LB_HTTP_DONE) {
		char *out = malloc(q.path_len + 2);
		static char ref[PATH_BUF + 3];
		int n, rr;

		check_done(buf, len, &lim, &q);
		n = lb_http_route_path(&q, out, q.path_len + 2);
		CHECK(n != LB_HTTP_E414, "route path: 414 with path_len + 2 bytes of room");
		CHECK(n == LB_HTTP_E400 || n > 0, "route path returned %d", n);
		if (q.target_form == LB_TARGET_ASTERISK)
			CHECK(n == 1 && !strcmp(out, "/"), "asterisk-form routed as \"%s\"", out);
		else if (q.path_len < PATH_BUF - 4) {
			rr = ref_normalize((const uint8_t *)q.path, q.path_len, ref);
			CHECK(n == rr && (n < 0 || !strcmp(out, ref)),
			      "route path %d \"%s\", the reference %d \"%s\"", n, n > 0 ? out : "", rr,
			      rr > 0 ? ref : "");
		}
		if (n > 0) {
			check_normal_form(out, n);
			check_idempotent(out, n);
		}
		free(out);
		check_prefix(buf, q.head_len - 1, &lim, r, &q);
		check_prefix(buf, q.head_len, &lim, r, &q);
	}
	if (len) {
		check_prefix(buf, len - 1, &lim, r, &q);
		check_prefix(buf, cut % len, &lim, r, &q);
	}
	free(buf);
	return 0;
}
