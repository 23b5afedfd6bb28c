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
 *     not 414 is the reference's;
 *   - where a complete request ends (lb_http_request_extent): Upgrade if such a
 *     field is in the head, else chunked if Transfer-Encoding is, else head_len
 *     plus Content-Length (its value read here), no body without one; the
 *     request's bytes up to there parse to the same head; the bytes from there
 *     on (a pipelined request) parse in place exactly as an exact-size copy of
 *     them alone does, every prefix of that head is AGAIN, and the same checks
 *     go on down the pipeline (PIPELINE_MAX requests).
 *
 * Control bit 2: the rest is an answer's head for the backend's scanner
 * (headers/answer_head.h), fed a byte at a time: it finishes exactly when a
 * reference written here from that header's rules says the head is framed
 * (DONE, with the same head length, status and Content-Length) or not (BAD,
 * or still scanning when no empty line came), never reads past a byte it
 * returned 1 on.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "answer_head.h"
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

/* The value of the first field line named @name in the complete head @b (@h bytes); NULL if none. */
static const uint8_t *field_value(const uint8_t *b, size_t h, const char *name, size_t *vlen)
{
	size_t i = 0, line = 0;

	while (i + 1 < h && b[i] == '\r') /* leading empty lines */
		i += 2;
	for (;;) {
		size_t e = i, c;

		while (e + 1 < h && !(b[e] == '\r' && b[e + 1] == '\n'))
			e++;
		if (e + 1 >= h || e == i)
			return NULL;
		if (line++) {
			for (c = i; c < e && b[c] != ':'; c++)
				;
			if (c < e && name_is(b + i, c - i, name)) {
				for (c++; c < e && (b[c] == ' ' || b[c] == '\t'); c++)
					;
				*vlen = e - c;
				return b + c;
			}
		}
		i = e + 2;
	}
}

static bool has_field(const uint8_t *b, size_t h, const char *name)
{
	size_t n;

	return field_value(b, h, name, &n) != NULL;
}

/* Two parses of the same bytes at different addresses: the same answer, field for field. */
static void check_same_parse(const char *what, int r1, const struct lb_http_request *a,
			     const uint8_t *ab, int r2, const struct lb_http_request *b,
			     const uint8_t *bb)
{
	CHECK(r1 == r2, "%s: %d in place, %d alone", what, r1, r2);
	if (r1 < 0)
		CHECK(a->error_offset == b->error_offset && !strcmp(a->error, b->error),
		      "%s: error \"%s\" at %zu in place, \"%s\" at %zu alone", what, a->error,
		      a->error_offset, b->error, b->error_offset);
	if (r1 != LB_HTTP_DONE)
		return;
	CHECK(a->head_len == b->head_len, "%s: head_len %zu in place, %zu alone", what, a->head_len,
	      b->head_len);
	CHECK((const uint8_t *)a->method - ab == (const uint8_t *)b->method - bb &&
		      a->method_len == b->method_len && a->method_id == b->method_id,
	      "%s: the method differs", what);
	CHECK((const uint8_t *)a->target - ab == (const uint8_t *)b->target - bb &&
		      a->target_len == b->target_len && a->path_len == b->path_len &&
		      a->target_form == b->target_form,
	      "%s: the target differs", what);
	CHECK(a->host_len == b->host_len && !strcmp(a->host, b->host) && a->port == b->port,
	      "%s: host \"%s\" in place, \"%s\" alone", what, a->host, b->host);
	CHECK(a->has_content_length == b->has_content_length &&
		      a->content_length == b->content_length && a->chunked == b->chunked &&
		      a->upgrade == b->upgrade && a->n_fields == b->n_fields,
	      "%s: the framing fields differ", what);
}

#define PIPELINE_MAX 8

/*
 * Where a complete request ends (lb_http_request_extent), from the head's own
 * lines: an Upgrade field, else chunked (a Transfer-Encoding the parser took
 * is chunked), else the head plus Content-Length, none without one. Then the
 * next request on the connection: the bytes from the extent on parse in place
 * exactly as a copy of them alone does, and so on down the pipeline.
 */
static void check_extent(const uint8_t *b, size_t len, const struct lb_http_limits *lim,
			 const struct lb_http_request *q, int depth)
{
	size_t h = q->head_len, vlen = 0, i;
	const uint8_t *cl = field_value(b, h, "content-length", &vlen);
	uint64_t n = UINT64_MAX, want = h, body = 0;
	struct lb_http_request q1, q2;
	enum lb_http_extent e = lb_http_request_extent(q, &n);
	uint8_t *copy;
	int r1, r2;

	if (has_field(b, h, "upgrade")) {
		CHECK(e == LB_EXTENT_UPGRADE, "an Upgrade field, extent %d", e);
		return;
	}
	if (has_field(b, h, "transfer-encoding")) {
		CHECK(e == LB_EXTENT_CHUNKED, "chunked, extent %d", e);
		return;
	}
	CHECK(e == LB_EXTENT_SIZED, "no Upgrade, no Transfer-Encoding: extent %d", e);
	if (cl) {
		for (i = 0; i < vlen && cl[i] >= '0' && cl[i] <= '9'; i++)
			body = body * 10 + (cl[i] - '0');
		CHECK(i > 0, "Content-Length taken without digits");
		want += body;
	}
	CHECK(n == want, "extent %llu, expected head %zu + body %llu", (unsigned long long)n, h,
	      (unsigned long long)body);
	if (n > len)
		return; /* the body is still coming: nothing after it yet */

	/* The request's own bytes parse to it; a body changes nothing. */
	check_prefix(b, n, lim, LB_HTTP_DONE, q);
	if (n == len || depth >= PIPELINE_MAX)
		return;

	/* The next request starts at the extent: in place and alone alike. */
	r1 = lb_http_parse_head((const char *)b + n, len - n, lim, &q1);
	copy = dup_exact(b + n, len - n);
	r2 = lb_http_parse_head((const char *)copy, len - n, lim, &q2);
	check_same_parse("pipelined request", r1, &q1, b + n, r2, &q2, copy);
	CHECK(valid_ret(r2), "pipelined request: %d", r2);
	if (r2 == LB_HTTP_DONE) {
		check_done(copy, len - n, lim, &q2);
		/* A head still arriving is AGAIN, never a request to take an extent of. */
		check_prefix(copy, q2.head_len - 1, lim, r2, &q2);
		check_extent(copy, len - n, lim, &q2, depth + 1);
	}
	free(copy);
}

/* The reference: -1 not framed, 0 no empty line yet, 1 framed (and its fields). */
static int answer_ref(const uint8_t *p, size_t n, uint32_t *head_len, uint32_t *status,
		      uint64_t *body, bool *has_cl)
{
	size_t i, line, j, k, colon;
	int ncl = 0;

	*body = 0;
	*has_cl = false;
	/* "HTTP/1.x NNN" and a space or CR, as far as the input goes. */
	for (j = 0; j < 13 && j < n; j++) {
		bool ok = j < 7	  ? p[j] == (uint8_t)"HTTP/1."[j]
			  : j == 7 ? p[j] == '0' || p[j] == '1'
			  : j == 8 ? p[j] == ' '
			  : j < 12 ? p[j] >= '0' && p[j] <= '9'
				   : p[j] == ' ' || p[j] == '\r';

		if (!ok)
			return -1;
	}
	if (n < 13)
		return 0;
	*status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
	i = 12;
	while (i < n && p[i] != '\r' && p[i] != '\n')
		i++;
	for (;;) {
		/* at a CR ending a line */
		if (i >= n)
			return 0;
		if (p[i] != '\r')
			return -1;
		if (i + 1 >= n)
			return 0;
		if (p[i + 1] != '\n')
			return -1;
		line = i + 2;
		if (line >= n)
			return 0;
		if (p[line] == '\r') {
			if (line + 1 >= n)
				return 0;
			if (p[line + 1] != '\n')
				return -1;
			*head_len = line + 2;
			return 1;
		}
		for (colon = line; colon < n && p[colon] != ':'; colon++)
			if (p[colon] <= ' ' || p[colon] >= 0x7f)
				return -1;
		if (colon >= n)
			return 0;
		if (colon == line)
			return -1;
		if (colon - line == 17 && !strncasecmp((const char *)p + line, "transfer-encoding", 17))
			return -1;
		if (colon - line == 14 && !strncasecmp((const char *)p + line, "content-length", 14)) {
			if (++ncl > 1)
				return -1;
			*has_cl = true;
			for (k = colon + 1; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
				;
			if (k >= n)
				return 0;
			if (p[k] < '0' || p[k] > '9')
				return -1;
			for (; k < n && p[k] >= '0' && p[k] <= '9'; k++) {
				*body = *body * 10 + (p[k] - '0');
				if (*body > LB_ANSWER_BODY_MAX)
					return -1;
			}
			for (; k < n && (p[k] == ' ' || p[k] == '\t'); k++)
				;
			if (k < n && p[k] != '\r')
				return -1;
			i = k;
			continue;
		}
		for (i = colon + 1; i < n && p[i] != '\r' && p[i] != '\n'; i++)
			;
	}
}

static void fuzz_answer_head(const uint8_t *p, size_t n)
{
	struct lb_answer_scan s = { 0 };
	uint32_t head_len = 0, status = 0;
	uint64_t body = 0;
	bool has_cl = false, done = false;
	size_t i;
	int ref = answer_ref(p, n, &head_len, &status, &body, &has_cl);

	for (i = 0; i < n && !done; i++)
		done = lb_answer_head_byte(&s, (uint32_t)i, p[i]);
	if (ref == 1) {
		CHECK(s.phase == LB_AH_DONE && s.head_len == head_len && s.status == status &&
			      s.body_len == body && !!s.has_cl == has_cl,
		      "framed head of %u bytes, status %u, Content-Length %llu (%d): scanner phase "
		      "%u, %u bytes, status %u, %u (%d)",
		      head_len, status, (unsigned long long)body, has_cl, s.phase, s.head_len,
		      s.status, s.body_len, s.has_cl);
		CHECK(i == head_len, "scanner read %zu bytes of a %u-byte head", i, head_len);
	} else if (ref < 0) {
		CHECK(s.phase == LB_AH_BAD, "not framed, scanner phase %u after %zu bytes", s.phase, i);
	} else {
		CHECK(!done, "no empty line yet, scanner finished in phase %u", s.phase);
	}
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
	if (ctl & 4) {
		fuzz_answer_head(rd.p, rd.n);
		return 0;
	}
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
		check_extent(buf, len, &lim, &q, 0);
	}
	if (len) {
		check_prefix(buf, len - 1, &lim, r, &q);
		check_prefix(buf, cut % len, &lim, r, &q);
	}
	free(buf);
	return 0;
}
