// SPDX-License-Identifier: GPL-2.0
/*
 * HTTP/1.x request-head parser (RFC 9112 message syntax, RFC 9110 semantics).
 *
 * Shape: a cursor walks the buffer once, byte by byte, and every check is
 * decided by the bytes up to the one being looked at. Running out of bytes
 * before anything is decided gives LB_HTTP_AGAIN, reaching a size limit gives
 * 414/431, so the answer for a prefix is either AGAIN or the final answer.
 * No state is kept between calls: the dispatcher simply calls again with more
 * bytes, which costs at most a re-read of a head it already bounds (16 KiB).
 *
 * We are stricter than the RFCs require wherever they allow a choice ("MAY
 * accept", "reject or replace"): every such leniency is a place where we and
 * the backend could read the same bytes differently (request smuggling), and
 * the backend, not us, will answer the request.
 */
#include <string.h>

#include "hex.h"
#include "host.h"
#include "http.h"

enum line_kind {
	LINE_REQUEST,
	LINE_FIELD,
};

struct parser {
	const unsigned char *b;
	size_t len;
	size_t pos;
	size_t hard;	/* first position this line may not reach */
	int hard_err;	/* what reaching it means */
	const char *hard_why;
	size_t line_start;
	uint32_t max_head, max_line, max_fields;
	struct lb_http_request *req;
};

/* RFC 9110 5.6.2: tchar, the characters of a token (methods, field names). */
static inline bool is_tchar(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	switch (c) {
	case '!': case '#': case '$': case '%': case '&': case '\'': case '*':
	case '+': case '-': case '.': case '^': case '_': case '`': case '|':
	case '~':
		return true;
	}
	return false;
}

static inline bool is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}


/*
 * RFC 3986 pchar and '/', minus '%' (checked separately): unreserved,
 * sub-delims, ':' and '@'. Everything else (space, '"', '<', '>', '\\', '^',
 * '`', '{', '|', '}', '#', '[', ']', controls, bytes >= 0x80) is refused in a
 * path: some servers fold '\\' into '/', some decode bytes >= 0x80 by locale,
 * and a router must not guess which.
 */
static inline bool is_path_char(unsigned char c)
{
	if (is_alpha(c) || is_digit(c))
		return true;
	switch (c) {
	case '-': case '.': case '_': case '~':
	case '!': case '$': case '&': case '\'': case '(': case ')': case '*':
	case '+': case ',': case ';': case '=': case ':': case '@': case '/':
		return true;
	}
	return false;
}

/*
 * The query is not used for routing and is passed on as sent, so it only has
 * to be unambiguous about where it ends: any visible ASCII but '#'. This lets
 * through the unencoded '|', '{', '"' that real clients put in queries.
 */
static inline bool is_query_char(unsigned char c)
{
	return c > 0x20 && c < 0x7f && c != '#';
}


static bool eq_nocase(const unsigned char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if (lb_lower(a[i]) != (unsigned char)lit[i])
			return false;
	return true;
}

/*
 * Like eq_nocase() with '_' taken as '-': some servers (CGI-style, older
 * proxies) fold "Content_Length" into Content-Length, others ignore it, so
 * such a name means different things to us and to the backend.
 */
static bool eq_dashes(const unsigned char *a, size_t alen, const char *lit)
{
	size_t n = strlen(lit);

	if (alen != n)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((a[i] == '_' ? '-' : lb_lower(a[i])) != (unsigned char)lit[i])
			return false;
	return true;
}

static int fail(struct parser *p, int err, const char *why)
{
	p->req->error = why;
	p->req->error_offset = p->pos;
	return err;
}

/* A new line starts at p->pos: set the position it must end before. */
static void line_begin(struct parser *p, enum line_kind kind)
{
	size_t line_end = p->pos + p->max_line;

	p->line_start = p->pos;
	if (line_end <= p->max_head) {
		p->hard = line_end;
		if (kind == LINE_REQUEST) {
			p->hard_err = LB_HTTP_E414;
			p->hard_why = "request line too long";
		} else {
			p->hard_err = LB_HTTP_E431;
			p->hard_why = "header field line too long";
		}
	} else {
		p->hard = p->max_head;
		p->hard_err = LB_HTTP_E431;
		p->hard_why = "request head too large";
	}
}

/*
 * Look at the byte at p->pos without taking it. 0 when there is one, else
 * the limit error or LB_HTTP_AGAIN. The limit is tested first: a byte beyond
 * it is refused whether or not we already hold it, which is what keeps the
 * answer independent of how the bytes were split.
 */
static inline int peek(struct parser *p, unsigned char *c)
{
	*c = 0;
	if (p->pos >= p->hard)
		return fail(p, p->hard_err, p->hard_why);
	if (p->pos >= p->len)
		return LB_HTTP_AGAIN;
	*c = p->b[p->pos];
	return 0;
}

static inline int take(struct parser *p, unsigned char *c)
{
	int r = peek(p, c);

	if (!r)
		p->pos++;
	return r;
}

/* After a CR only LF may follow (RFC 9112 2.2: a bare CR is invalid). */
static int take_lf_after_cr(struct parser *p)
{
	unsigned char c;
	int r = take(p, &c);

	if (r)
		return r;
	if (c != '\n') {
		p->pos--;
		return fail(p, LB_HTTP_E400, "CR not followed by LF");
	}
	return 0;
}

/*
 * uri-host [ ":" port ] (RFC 9110 7.2, RFC 3986 3.2.2) into @out: the host in
 * its canonical form (lb_host_canon: lower case, one trailing dot dropped),
 * without the port. Returns 0 or -1.
 */
static int parse_host(const unsigned char *s, size_t n, bool allow_empty, char *out,
		      size_t *outlen, uint16_t *port)
{
	const unsigned char *end;
	const char *why;
	size_t i, o;

	*port = 0;
	*outlen = 0;
	out[0] = '\0';
	if (n == 0)
		return allow_empty ? 0 : -1;
	/* The host ends after an IP-literal's ']', or else at the port's ':'. */
	if (s[0] == '[') {
		end = memchr(s, ']', n);
		if (!end)
			return -1;
		i = (size_t)(end - s) + 1;
	} else {
		end = memchr(s, ':', n);
		i = end ? (size_t)(end - s) : n;
	}
	o = lb_host_canon((const char *)s, i, out, &why);
	if (!o)
		return -1;

	if (i < n) {
		uint32_t v = 0;
		size_t digits = 0;

		if (s[i++] != ':')
			return -1;
		for (; i < n; i++, digits++) {
			if (!is_digit(s[i]) || digits >= 5)
				return -1;
			v = v * 10 + (s[i] - '0');
		}
		/* An empty port is legal URI syntax, but no client sends it. */
		if (digits == 0 || v == 0 || v > 65535)
			return -1;
		*port = (uint16_t)v;
	}
	out[o] = '\0';
	*outlen = o;
	return 0;
}

static int classify_method(const unsigned char *m, size_t n)
{
	static const struct {
		const char *name;
		int id;
	} known[] = {
		{ "GET", LB_METHOD_GET },	  { "HEAD", LB_METHOD_HEAD },
		{ "POST", LB_METHOD_POST },	  { "PUT", LB_METHOD_PUT },
		{ "DELETE", LB_METHOD_DELETE },	  { "OPTIONS", LB_METHOD_OPTIONS },
		{ "TRACE", LB_METHOD_TRACE },	  { "PATCH", LB_METHOD_PATCH },
	};

	/* Methods are case-sensitive (RFC 9110 9.1): "get" is some other method. */
	for (size_t i = 0; i < sizeof(known) / sizeof(known[0]); i++)
		if (strlen(known[i].name) == n && !memcmp(known[i].name, m, n))
			return known[i].id;
	return LB_METHOD_OTHER;
}

/* path-abempty: ( "/" / pchar / %XX )* up to the first other byte. */
static int scan_path(struct parser *p)
{
	unsigned char c;
	int r;

	for (;;) {
		r = peek(p, &c);
		if (r)
			return r;
		if (is_path_char(c)) {
			p->pos++;
		} else if (c == '%') {
			p->pos++;
			for (int k = 0; k < 2; k++) {
				r = peek(p, &c);
				if (r)
					return r;
				if (lb_hex_digit(c) < 0)
					return fail(p, LB_HTTP_E400, "invalid percent-escape in path");
				p->pos++;
			}
		} else {
			return 0;
		}
	}
}

/* After the path: [ "?" query ] then exactly one SP. */
static int scan_query_and_sp(struct parser *p)
{
	struct lb_http_request *req = p->req;
	unsigned char c;
	int r;

	r = peek(p, &c);
	if (r)
		return r;
	if (c == '?') {
		p->pos++;
		req->query = (const char *)p->b + p->pos;
		for (;;) {
			r = peek(p, &c);
			if (r)
				return r;
			if (!is_query_char(c))
				break;
			p->pos++;
		}
		req->query_len = (const char *)p->b + p->pos - req->query;
	}
	req->target_len = (const char *)p->b + p->pos - req->target;

	r = peek(p, &c);
	if (r)
		return r;
	if (c == ' ') {
		p->pos++;
		return 0;
	}
	if (c == '#')
		return fail(p, LB_HTTP_E400, "fragment in request-target");
	if (c == '\r' || c == '\n')
		return fail(p, LB_HTTP_E400, "request line without HTTP version");
	return fail(p, LB_HTTP_E400, "invalid character in request-target");
}

/*
 * absolute-form, RFC 9112 3.2.2: only "http" (we front plain-HTTP VIPs), an
 * authority without userinfo (RFC 9110 4.2.4) and a non-empty host
 * (RFC 9110 4.2.1), then path-abempty.
 */
static int scan_absolute(struct parser *p)
{
	struct lb_http_request *req = p->req;
	static const char scheme[] = "http://";
	size_t auth_start;
	unsigned char c;
	int r;

	for (size_t k = 0; k < sizeof(scheme) - 1; k++) {
		r = take(p, &c);
		if (r)
			return r;
		if ((k < 4 ? lb_lower(c) : c) != (unsigned char)scheme[k]) {
			p->pos--;
			return fail(p, LB_HTTP_E400, "request-target not origin-form or http absolute-form");
		}
	}

	auth_start = p->pos;
	for (;;) {
		r = peek(p, &c);
		if (r)
			return r;
		/* The authority's extent only; lb_host_canon() judges the host. */
		if (is_alpha(c) || is_digit(c) || c == '-' || c == '.' || c == '_' || c == ':' ||
		    c == '[' || c == ']') {
			p->pos++;
			continue;
		}
		if (c == '@')
			return fail(p, LB_HTTP_E400, "userinfo in request-target");
		if (c == '/' || c == '?' || c == ' ')
			break;
		return fail(p, LB_HTTP_E400, "invalid character in request-target authority");
	}
	if (parse_host(p->b + auth_start, p->pos - auth_start, false, req->host, &req->host_len,
		       &req->port))
		return fail(p, LB_HTTP_E400, "invalid host in request-target");

	req->path = (const char *)p->b + p->pos;
	r = scan_path(p);
	if (r)
		return r;
	req->path_len = (const char *)p->b + p->pos - req->path;
	return scan_query_and_sp(p);
}

static int parse_request_line(struct parser *p)
{
	struct lb_http_request *req = p->req;
	static const char name[] = "HTTP/";
	unsigned char c, v[3];
	int r;

	/* RFC 9112 2.2: a server SHOULD ignore empty lines before the request-line. */
	for (;;) {
		line_begin(p, LINE_REQUEST);
		r = peek(p, &c);
		if (r)
			return r;
		if (c == '\r') {
			p->pos++;
			r = take_lf_after_cr(p);
			if (r)
				return r;
			continue;
		}
		if (c == '\n')
			return fail(p, LB_HTTP_E400, "bare LF");
		break;
	}

	/* method SP, RFC 9112 3: exactly one SP between the three parts. */
	req->method = (const char *)p->b + p->pos;
	for (;;) {
		r = peek(p, &c);
		if (r)
			return r;
		if (c == ' ')
			break;
		if (!is_tchar(c))
			return fail(p, LB_HTTP_E400, "invalid method");
		p->pos++;
	}
	req->method_len = (const char *)p->b + p->pos - req->method;
	if (!req->method_len)
		return fail(p, LB_HTTP_E400, "empty method");
	/*
	 * CONNECT asks for a tunnel: the site behind a VIP is an origin, not a
	 * proxy. 400 rather than 405 because 405 must list the methods the
	 * resource allows, which only the backends know.
	 */
	if (req->method_len == 7 && !memcmp(req->method, "CONNECT", 7))
		return fail(p, LB_HTTP_E400, "CONNECT not supported");
	req->method_id = classify_method((const unsigned char *)req->method, req->method_len);
	p->pos++;

	req->target = (const char *)p->b + p->pos;
	r = peek(p, &c);
	if (r)
		return r;
	if (c == '/') {
		req->target_form = LB_TARGET_ORIGIN;
		req->path = req->target;
		r = scan_path(p);
		if (r)
			return r;
		req->path_len = (const char *)p->b + p->pos - req->path;
		r = scan_query_and_sp(p);
	} else if (c == '*') {
		/* RFC 9112 3.2.4: asterisk-form is only for a server-wide OPTIONS. */
		if (req->method_id != LB_METHOD_OPTIONS)
			return fail(p, LB_HTTP_E400, "asterisk-form target without OPTIONS");
		req->target_form = LB_TARGET_ASTERISK;
		req->path = req->target;
		req->path_len = 1;
		p->pos++;
		r = scan_query_and_sp(p);
		if (!r && req->query)
			r = fail(p, LB_HTTP_E400, "asterisk-form target with a query");
	} else if (is_alpha(c)) {
		req->target_form = LB_TARGET_ABSOLUTE;
		r = scan_absolute(p);
	} else {
		/* Authority-form (CONNECT) and anything else. */
		r = fail(p, LB_HTTP_E400, "request-target not origin-form or http absolute-form");
	}
	if (r)
		return r;

	/* HTTP-version = "HTTP/" DIGIT "." DIGIT, case-sensitive (RFC 9112 2.3). */
	for (size_t k = 0; k < sizeof(name) - 1; k++) {
		r = take(p, &c);
		if (r)
			return r;
		if (c != (unsigned char)name[k]) {
			p->pos--;
			return fail(p, LB_HTTP_E400, "invalid HTTP version");
		}
	}
	for (int k = 0; k < 3; k++) {
		r = take(p, &v[k]);
		if (r)
			return r;
		if (k == 1 ? v[k] != '.' : !is_digit(v[k])) {
			p->pos--;
			return fail(p, LB_HTTP_E400, "invalid HTTP version");
		}
	}
	r = take(p, &c);
	if (r)
		return r;
	if (c == '\n') {
		p->pos--;
		return fail(p, LB_HTTP_E400, "bare LF");
	}
	if (c != '\r') {
		p->pos--;
		return fail(p, LB_HTTP_E400, "junk after HTTP version");
	}
	r = take_lf_after_cr(p);
	if (r)
		return r;
	if (v[0] != '1' || (v[2] != '0' && v[2] != '1')) {
		p->pos = p->line_start;
		return fail(p, LB_HTTP_E505, "HTTP version not supported");
	}
	req->version_minor = v[2] - '0';
	return 0;
}

/*
 * Content-Length = 1*DIGIT, RFC 9110 8.6. A list of identical values (from a
 * proxy that merged lines) may be accepted as that value; anything else —
 * differing values, signs, spaces inside a number, an empty element — is an
 * error, since it is exactly what two parsers split differently.
 */
static int field_content_length(struct parser *p, const unsigned char *v, size_t n)
{
	struct lb_http_request *req = p->req;
	size_t i = 0;

	for (;;) {
		uint64_t val = 0;
		size_t start = i;

		for (; i < n && is_digit(v[i]); i++) {
			/* 2^62 bytes is past any body; refusing it keeps math simple. */
			if (val > (UINT64_C(1) << 62) / 10)
				return fail(p, LB_HTTP_E400, "Content-Length too large");
			val = val * 10 + (v[i] - '0');
		}
		if (i == start)
			return fail(p, LB_HTTP_E400, "invalid Content-Length");
		if (req->has_content_length && req->content_length != val)
			return fail(p, LB_HTTP_E400, "differing Content-Length values");
		req->has_content_length = true;
		req->content_length = val;

		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i == n)
			return 0;
		if (v[i] != ',')
			return fail(p, LB_HTTP_E400, "invalid Content-Length");
		i++;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
	}
}

/*
 * Transfer-Encoding, RFC 9112 6.1 and 6.3. Lines add up to one list. In a
 * request chunked must be applied once and last, else the body length cannot
 * be known: 400. Codings we do not know get 501 (RFC 9112 6.1 "SHOULD").
 * Transfer-parameters are not used by any registered coding; 501 as well.
 */
static int field_transfer_encoding(struct parser *p, const unsigned char *v, size_t n)
{
	static const char *const known[] = { "gzip", "x-gzip", "deflate", "compress",
					     "x-compress" };
	struct lb_http_request *req = p->req;
	bool any = false;
	size_t i = 0;

	/* RFC 9112 6.1: an HTTP/1.0 message with it has faulty framing. */
	if (req->version_minor == 0)
		return fail(p, LB_HTTP_E400, "Transfer-Encoding in HTTP/1.0");

	for (;;) {
		size_t start, end;

		/* #rule: empty elements and OWS around commas are allowed. */
		while (i < n && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
			i++;
		if (i == n)
			break;
		start = i;
		while (i < n && is_tchar(v[i]))
			i++;
		if (i == start)
			return fail(p, LB_HTTP_E400, "invalid Transfer-Encoding");

		end = i;
		while (i < n && (v[i] == ' ' || v[i] == '\t'))
			i++;
		if (i < n && v[i] == ';')
			return fail(p, LB_HTTP_E501, "transfer-parameters not supported");
		if (i < n && v[i] != ',')
			return fail(p, LB_HTTP_E400, "invalid Transfer-Encoding");

		if (req->chunked)
			return fail(p, LB_HTTP_E400,
				    eq_nocase(v + start, end - start, "chunked") ?
					    "chunked applied twice" :
					    "chunked is not the last transfer coding");
		if (eq_nocase(v + start, end - start, "chunked")) {
			req->chunked = true;
		} else {
			bool ok = false;

			for (size_t k = 0; k < sizeof(known) / sizeof(known[0]); k++)
				ok |= eq_nocase(v + start, end - start, known[k]);
			if (!ok)
				return fail(p, LB_HTTP_E501, "unknown transfer coding");
		}
		any = true;
	}
	if (!any)
		return fail(p, LB_HTTP_E400, "empty Transfer-Encoding");
	req->has_transfer_encoding = true;
	return 0;
}

static int field_host(struct parser *p, const unsigned char *v, size_t n)
{
	struct lb_http_request *req = p->req;
	char host[LB_HTTP_HOST_MAX + 1];
	size_t host_len;
	uint16_t port;

	/* RFC 9112 3.2: more than one Host line, or an invalid value: 400. */
	if (req->has_host)
		return fail(p, LB_HTTP_E400, "duplicate Host");
	req->has_host = true;
	/* Empty is what a client sends when the target has no authority. */
	if (parse_host(v, n, true, host, &host_len, &port))
		return fail(p, LB_HTTP_E400, "invalid Host");

	if (req->target_form == LB_TARGET_ABSOLUTE) {
		/*
		 * RFC 9112 3.2.2 lets a server ignore Host here, but a backend
		 * might not: two names for one request is a routing bypass, so
		 * they must agree (an absent port being http's 80).
		 */
		if (host_len != req->host_len || memcmp(host, req->host, host_len) ||
		    (port ? port : 80) != (req->port ? req->port : 80))
			return fail(p, LB_HTTP_E400, "Host differs from request-target");
		return 0;
	}
	memcpy(req->host, host, host_len + 1);
	req->host_len = host_len;
	req->port = port;
	return 0;
}

/* field-line = field-name ":" OWS field-value OWS CRLF, RFC 9112 5. */
static int parse_field_line(struct parser *p)
{
	struct lb_http_request *req = p->req;
	const unsigned char *name, *val;
	size_t name_len, val_len, val_start, val_end = 0, line_end;
	unsigned char c;
	int r;

	name = p->b + p->pos;
	for (;;) {
		r = take(p, &c);
		if (r)
			return r;
		if (c == ':')
			break;
		if (is_tchar(c))
			continue;
		p->pos--;
		/* RFC 9112 5.1: MUST reject with 400, never strip and accept. */
		if (c == ' ' || c == '\t')
			return fail(p, LB_HTTP_E400, "whitespace in field name or before colon");
		if (c == '\r' || c == '\n')
			return fail(p, LB_HTTP_E400, "field line without colon");
		return fail(p, LB_HTTP_E400, "invalid character in field name");
	}
	name_len = p->b + p->pos - 1 - name;
	if (!name_len) {
		p->pos--;
		return fail(p, LB_HTTP_E400, "empty field name");
	}

	/* field-value: VCHAR, obs-text, SP and HTAB inside; no other controls. */
	val_start = p->pos;
	for (;;) {
		r = take(p, &c);
		if (r)
			return r;
		if (c == '\r') {
			val_end = p->pos - 1;
			r = take_lf_after_cr(p);
			if (r)
				return r;
			break;
		}
		if (c == '\n') {
			p->pos--;
			return fail(p, LB_HTTP_E400, "bare LF");
		}
		if ((c < 0x20 && c != '\t') || c == 0x7f) {
			p->pos--;
			return fail(p, LB_HTTP_E400, "control character in field value");
		}
	}
	line_end = p->pos;
	/* OWS around the value is not part of it (RFC 9112 5.1). */
	while (val_start < val_end && (p->b[val_start] == ' ' || p->b[val_start] == '\t'))
		val_start++;
	while (val_end > val_start && (p->b[val_end - 1] == ' ' || p->b[val_end - 1] == '\t'))
		val_end--;
	val = p->b + val_start;
	val_len = val_end - val_start;
	req->n_fields++;

	/* Semantic errors are reported at the start of their line. */
	p->pos = p->line_start;
	if (memchr(name, '_', name_len) && (eq_dashes(name, name_len, "content-length") ||
					   eq_dashes(name, name_len, "transfer-encoding")))
		return fail(p, LB_HTTP_E400, "'_' in a framing field name");
	r = 0;
	if (eq_nocase(name, name_len, "host"))
		r = field_host(p, val, val_len);
	else if (eq_nocase(name, name_len, "content-length"))
		r = field_content_length(p, val, val_len);
	else if (eq_nocase(name, name_len, "transfer-encoding"))
		r = field_transfer_encoding(p, val, val_len);
	else if (eq_nocase(name, name_len, "upgrade"))
		req->upgrade = true; /* the connection may stop being HTTP/1.1 after it */
	if (r)
		return r;
	p->pos = line_end;
	return 0;
}

static int parse_fields(struct parser *p)
{
	struct lb_http_request *req = p->req;
	unsigned char c;
	int r;

	for (;;) {
		line_begin(p, LINE_FIELD);
		r = peek(p, &c);
		if (r)
			return r;
		if (c == '\r') {
			p->pos++;
			return take_lf_after_cr(p);
		}
		if (c == '\n')
			return fail(p, LB_HTTP_E400, "bare LF");
		/*
		 * RFC 9112 2.2 and 5.2: whitespace before the first field and
		 * obs-fold may be rejected; accepting either lets the backend
		 * and us see different fields.
		 */
		if (c == ' ' || c == '\t')
			return fail(p, LB_HTTP_E400,
				    req->n_fields ? "obsolete line folding" :
						    "whitespace before first field");
		if (req->n_fields >= p->max_fields)
			return fail(p, LB_HTTP_E431, "too many header fields");
		r = parse_field_line(p);
		if (r)
			return r;
	}
}

int lb_http_parse_head(const char *buf, size_t len, const struct lb_http_limits *lim,
		       struct lb_http_request *req)
{
	struct lb_http_limits def = LB_HTTP_LIMITS_DEFAULT;
	struct parser p = {
		.b = (const unsigned char *)buf,
		.len = len,
		.req = req,
	};
	int r;

	if (!lim)
		lim = &def;
	/* Zero means "default", so a zeroed config section still works. */
	p.max_head = lim->max_head ? lim->max_head : def.max_head;
	p.max_line = lim->max_line ? lim->max_line : def.max_line;
	p.max_fields = lim->max_fields ? lim->max_fields : def.max_fields;

	memset(req, 0, sizeof(*req));

	r = parse_request_line(&p);
	if (r)
		return r;
	r = parse_fields(&p);
	if (r)
		return r;

	/* Checks that need the whole head; reported at its start. */
	req->head_len = p.pos;
	p.pos = 0;
	if (req->version_minor == 1 && !req->has_host)
		return fail(&p, LB_HTTP_E400, "missing Host");
	/* RFC 9112 6.3: "ought to be handled as an error" — smuggling. */
	if (req->has_transfer_encoding && req->has_content_length)
		return fail(&p, LB_HTTP_E400, "both Content-Length and Transfer-Encoding");
	if (req->has_transfer_encoding && !req->chunked)
		return fail(&p, LB_HTTP_E400, "chunked is not the last transfer coding");
	return LB_HTTP_DONE;
}

enum lb_http_extent lb_http_request_extent(const struct lb_http_request *req, uint64_t *len)
{
	*len = req->head_len;
	if (req->upgrade)
		return LB_EXTENT_UPGRADE;
	if (req->chunked)
		return LB_EXTENT_CHUNKED;
	if (req->has_content_length)
		*len += req->content_length;
	return LB_EXTENT_SIZED;
}
