// SPDX-License-Identifier: GPL-2.0
/*
 * Redirect templates: compiled at config load, rendered per request
 * (redirect.h). Which bytes may stand where follows RFC 3986: the template's
 * text may hold any URI character, a rendered {path} only what a path or a
 * query may hold unencoded; anything else in it is percent-encoded, so the
 * Location never carries a byte that could end a header line or change what
 * the URL means.
 */
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "redirect.h"

const struct lb_redirect lb_redirect_none = { 0 };

/* Character classes, one bit each. */
#define C_UNRESERVED (1u << 0) /* ALPHA DIGIT - . _ ~ */
#define C_SUBDELIM   (1u << 1) /* ! $ & ' ( ) * + , ; = */
#define C_GENDELIM   (1u << 2) /* : / ? # [ ] @ */

static unsigned char_class(unsigned char c)
{
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
	    c == '-' || c == '.' || c == '_' || c == '~')
		return C_UNRESERVED;
	if (c && strchr("!$&'()*+,;=", c))
		return C_SUBDELIM;
	if (c && strchr(":/?#[]@", c))
		return C_GENDELIM;
	return 0;
}

/* Where a rendered value goes, for what may stand there unencoded. */
enum part_kind { K_PATH, K_QUERY, K_AUTHORITY };

/*
 * RFC 3986: a path's segment characters and '/' (3.3), a query's also '?'
 * (3.4), an authority's host and port, IP-literals included (3.2).
 */
static bool plain_in(unsigned char c, enum part_kind k)
{
	if (char_class(c) & (C_UNRESERVED | C_SUBDELIM))
		return true;
	if (k == K_AUTHORITY)
		return c == ':' || c == '[' || c == ']';
	return c == ':' || c == '@' || c == '/' || (k == K_QUERY && c == '?');
}

/* A %XX escape starts at @s[@i]. */
static bool pct_escape_at(const char *s, size_t n, size_t i)
{
	return s[i] == '%' && i + 2 < n && lb_hex_digit(s[i + 1]) >= 0 &&
	       lb_hex_digit(s[i + 2]) >= 0;
}

/* --- compiling ------------------------------------------------------------ */

static const char *const var_names[] = {
	[LB_RV_PUBLIC] = "public",
	[LB_RV_PATH] = "path",
	[LB_RV_HOST] = "host",
};

bool lb_redirect_status_ok(uint32_t status)
{
	return status == 302 || status == 307 || status == 308;
}

const char *lb_redirect_fault_str(enum lb_redirect_fault f)
{
	switch (f) {
	case LB_RF_OK: return "is fine";
	case LB_RF_LONG: return "is too long";
	case LB_RF_SCHEME: return "does not start with http:// or https://";
	case LB_RF_CHAR: return "has a character that has no place in a URL";
	case LB_RF_UNCLOSED: return "has a '{' without its '}'";
	case LB_RF_STRAY_CLOSE: return "has a '}' without its '{'";
	case LB_RF_UNKNOWN_VAR: return "has an unknown placeholder";
	case LB_RF_NO_PUBLIC: return "has no {public}";
	}
	return "is wrong";
}

static int refuse(struct lb_redirect_problem *pb, enum lb_redirect_fault f, size_t off,
		  size_t len)
{
	*pb = (struct lb_redirect_problem){ .fault = f, .off = off, .len = len };
	return -1;
}

static bool has_scheme(const char *url, size_t n, const char *scheme)
{
	size_t i, len = strlen(scheme);

	if (n < len)
		return false;
	for (i = 0; i < len; i++)
		if (lb_lower((unsigned char)url[i]) != (unsigned char)scheme[i])
			return false;
	return true;
}

int lb_redirect_compile(const char *url, size_t n, uint16_t status, struct lb_redirect *r,
			struct lb_redirect_part *parts, struct lb_redirect_problem *pb)
{
	size_t i = 0, text = 0, np = 0;
	bool public = false;

	*r = (struct lb_redirect){ .status = status, .url = url, .parts = parts };
	if (n > LB_REDIRECT_URL_MAX)
		return refuse(pb, LB_RF_LONG, LB_REDIRECT_URL_MAX, n - LB_REDIRECT_URL_MAX);
	if (!has_scheme(url, n, "http://") && !has_scheme(url, n, "https://"))
		return refuse(pb, LB_RF_SCHEME, 0, n < 8 ? n : 8);
	while (i <= n) {
		size_t close, v;

		if (i < n && url[i] != '{') {
			unsigned char c = (unsigned char)url[i];

			if (c == '}')
				return refuse(pb, LB_RF_STRAY_CLOSE, i, 1);
			/* '%' only as the start of an escape: the text goes out as it is. */
			if (!char_class(c) && !(c == '%' && pct_escape_at(url, n, i)))
				return refuse(pb, LB_RF_CHAR, i, 1);
			i++;
			continue;
		}
		/* The end of a text run: before a '{', or at the end. */
		if (i > text) {
			if (np == LB_REDIRECT_PARTS_MAX)
				return refuse(pb, LB_RF_LONG, text, i - text);
			parts[np++] = (struct lb_redirect_part){ LB_RV_TEXT, (uint16_t)text,
								 (uint16_t)(i - text) };
		}
		if (i == n)
			break;
		for (close = i + 1; close < n && url[close] != '}' && url[close] != '{'; close++)
			;
		if (close == n || url[close] != '}')
			return refuse(pb, LB_RF_UNCLOSED, i, close - i);
		for (v = LB_RV_PUBLIC; v <= LB_RV_HOST; v++)
			if (close - i - 1 == strlen(var_names[v]) &&
			    !memcmp(url + i + 1, var_names[v], close - i - 1))
				break;
		if (v > LB_RV_HOST)
			return refuse(pb, LB_RF_UNKNOWN_VAR, i, close + 1 - i);
		if (np == LB_REDIRECT_PARTS_MAX)
			return refuse(pb, LB_RF_LONG, i, close + 1 - i);
		parts[np++] = (struct lb_redirect_part){ (uint8_t)v, (uint16_t)i,
							 (uint16_t)(close + 1 - i) };
		public |= v == LB_RV_PUBLIC;
		r->uses_host |= v == LB_RV_HOST;
		i = text = close + 1;
	}
	if (!public)
		return refuse(pb, LB_RF_NO_PUBLIC, 0, n);
	r->n_parts = (uint16_t)np;
	pb->fault = LB_RF_OK;
	return 0;
}

/* --- public names ----------------------------------------------------------- */

size_t lb_public_canon(const char *s, size_t n, char *out, const char **why)
{
	const char *colon = NULL;
	size_t hlen, i, o;
	uint32_t port = 0;

	if (n && s[0] == '[') {
		const char *end = memchr(s, ']', n);

		if (!end) {
			*why = "an IP-literal without its ']'";
			return 0;
		}
		if ((size_t)(end - s) + 1 < n)
			colon = end + 1;
	} else {
		colon = memchr(s, ':', n);
	}
	hlen = colon ? (size_t)(colon - s) : n;
	o = lb_host_canon(s, hlen, out, why);
	if (!o)
		return 0;
	if (!colon) {
		out[o] = '\0';
		return o;
	}
	if (*colon != ':' || colon + 1 == s + n || s + n - colon - 1 > 5) {
		*why = "not a port after the host";
		return 0;
	}
	for (i = 1; colon + i < s + n; i++) {
		if (colon[i] < '0' || colon[i] > '9') {
			*why = "not a port after the host";
			return 0;
		}
		port = port * 10 + (uint32_t)(colon[i] - '0');
	}
	if (colon[1] == '0' || port > 65535) {
		*why = "a port outside 1..65535";
		return 0;
	}
	memcpy(out + o, colon, i);
	out[o + i] = '\0';
	return o + i;
}

/* --- rendering -------------------------------------------------------------- */

/* A growing string whose size is counted first (@buf NULL), then written. */
struct out {
	char *buf;
	size_t len;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->buf)
		memcpy(o->buf + o->len, s, n);
	o->len += n;
}

/* @s where @k says: what may stand there as it is, the rest as %XX. */
static void put_encoded(struct out *o, const char *s, size_t n, enum part_kind k)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t i;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		char esc[3] = { '%', hex[c >> 4], hex[c & 15] };

		if (plain_in(c, k) || (c == '%' && pct_escape_at(s, n, i)))
			put(o, s + i, 1);
		else
			put(o, esc, 3);
	}
}

static enum lb_redirect_render_fault render(const struct lb_redirect *r,
					    const struct lb_redirect_vars *v, struct out *o)
{
	char host[LB_HOST_MAX];
	const char *why;
	size_t i;

	for (i = 0; i < r->n_parts; i++) {
		const struct lb_redirect_part *p = &r->parts[i];

		switch (p->var) {
		case LB_RV_TEXT:
			put(o, r->url + p->off, p->len);
			break;
		case LB_RV_PUBLIC:
			/* Canonical from the config; whatever else it held would be encoded. */
			put_encoded(o, v->public_name, v->public_len, K_AUTHORITY);
			break;
		case LB_RV_PATH:
			/* Absolute-form without a path, and asterisk-form: the root. */
			if (!v->path_len || v->path[0] != '/')
				put(o, "/", 1);
			else
				put_encoded(o, v->path, v->path_len, K_PATH);
			if (v->query) {
				put(o, "?", 1);
				put_encoded(o, v->query, v->query_len, K_QUERY);
			}
			break;
		case LB_RV_HOST:
			if (!v->host_len)
				return LB_RR_NO_HOST;
			/* The parser gave it canonical; the rule is checked here again, it is ours to keep. */
			if (lb_host_canon(v->host, v->host_len, host, &why) != v->host_len ||
			    memcmp(host, v->host, v->host_len))
				return LB_RR_BAD_HOST;
			put(o, v->host, v->host_len);
			break;
		}
	}
	return LB_RR_OK;
}

size_t lb_redirect_render(const struct lb_redirect *r, const struct lb_redirect_vars *v,
			  char **out, enum lb_redirect_render_fault *fault)
{
	struct out o = { 0 };

	*out = NULL;
	*fault = render(r, v, &o);
	if (*fault != LB_RR_OK)
		return 0;
	o.buf = malloc(o.len + 1);
	if (!o.buf) {
		*fault = LB_RR_NOMEM;
		return 0;
	}
	o.len = 0;
	render(r, v, &o);
	o.buf[o.len] = '\0';
	*out = o.buf;
	return o.len;
}
