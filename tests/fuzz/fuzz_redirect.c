// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: redirect mode's template compiler and renderer, backends'
 * public names and the redirect reply (user/redirect.h, reply.h).
 *
 * Input: a control byte (the status), then length-prefixed fields: the
 * template, a public name, a request path, a query (control bit 3: none) and a
 * host, each any bytes at all, as a hostile config or request could hold.
 *
 * Invariants, beyond ASan/UBSan (each field is an exact-size heap copy):
 *   - compile: 0 exactly when no fault; on success the parts cover the
 *     template in order, byte for byte, text parts hold only URI characters,
 *     there is a {public}, uses_host says whether there is a {host}, and the
 *     template starts with http:// or https://; on a fault its place lies
 *     inside the template;
 *   - public names: an accepted one is its own canonical form (canon again
 *     gives it back), is lower case and fits LB_PUBLIC_MAX;
 *   - render (the compiled template, else "http://{public}{path}/{host}"):
 *     the Location equals a reference renderer written here from redirect.h,
 *     holds only URI characters with every '%' starting a %XX escape, and its
 *     length is its strlen; NO_HOST exactly when the template uses {host} and
 *     the host is empty, BAD_HOST when the host is not canonical;
 *   - the reply: one head ending in CRLFCRLF, no CR or LF but as line ends,
 *     its Location line the Location, Content-Length the body's length (none
 *     for HEAD), Cache-Control: no-store.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fuzz_common.h"
#include "host.h"
#include "redirect.h"
#include "reply.h"

/* RFC 3986 2.2, 2.3: what a URI may hold unencoded. */
static bool uri_char(unsigned char c)
{
	return c && (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~", c) ||
		     strchr(":/?#[]@!$&'()*+,;=", c));
}

static bool hex(unsigned char c)
{
	return c && strchr("0123456789abcdefABCDEF", c);
}

/* The reference: @s where @allowed may stand as they are, valid %XX kept, the rest %XX. */
static size_t ref_encode(char *out, const char *s, size_t n, const char *allowed)
{
	static const char digits[] = "0123456789ABCDEF";
	size_t i, o = 0;

	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if ((c && (strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
				  "!$&'()*+,;=", c) ||
			   strchr(allowed, c))) ||
		    (c == '%' && i + 2 < n && hex(s[i + 1]) && hex(s[i + 2]))) {
			out[o++] = (char)c;
		} else {
			out[o++] = '%';
			out[o++] = digits[c >> 4];
			out[o++] = digits[c & 15];
		}
	}
	return o;
}

/* The reference renderer: NULL when the request has no Location. */
static char *ref_render(const struct lb_redirect *r, const struct lb_redirect_vars *v)
{
	/* Each part may be any placeholder, each byte of a value encoded in three. */
	size_t cap = strlen(r->url) +
		     (size_t)r->n_parts * (3 * (v->public_len + v->path_len + v->query_len) +
					   v->host_len + 2) + 8;
	char *out = malloc(cap), canon[LB_HOST_MAX];
	const char *why;
	size_t i, o = 0;

	CHECK(out, "out of memory");
	for (i = 0; i < r->n_parts; i++) {
		const struct lb_redirect_part *p = &r->parts[i];

		if (p->var == LB_RV_TEXT) {
			memcpy(out + o, r->url + p->off, p->len);
			o += p->len;
		} else if (p->var == LB_RV_PUBLIC) {
			o += ref_encode(out + o, v->public_name, v->public_len, ":[]");
		} else if (p->var == LB_RV_PATH) {
			if (v->path_len && v->path[0] == '/')
				o += ref_encode(out + o, v->path, v->path_len, ":@/");
			else
				out[o++] = '/';
			if (v->query) {
				out[o++] = '?';
				o += ref_encode(out + o, v->query, v->query_len, ":@/?");
			}
		} else {
			if (!v->host_len || lb_host_canon(v->host, v->host_len, canon, &why) != v->host_len ||
			    memcmp(canon, v->host, v->host_len)) {
				free(out);
				return NULL;
			}
			memcpy(out + o, v->host, v->host_len);
			o += v->host_len;
		}
	}
	out[o] = '\0';
	return out;
}

static char *field(struct reader *r, size_t max, size_t *len)
{
	size_t want = rd_u16(r) % (max + 1);
	const uint8_t *p = rd_take(r, want, max, len);
	char *s = malloc(*len + 1);

	CHECK(s, "out of memory");
	memcpy(s, p, *len);
	s[*len] = '\0';
	return s;
}

static void check_compiled(const char *url, size_t n, const struct lb_redirect *rd, int ret,
			   const struct lb_redirect_problem *pb)
{
	size_t i, at = 0;
	bool public = false, host = false;

	CHECK((ret == 0) == (pb->fault == LB_RF_OK), "ret %d, fault %d", ret, pb->fault);
	if (ret) {
		CHECK(pb->off + pb->len <= n || pb->fault == LB_RF_LONG, "fault %d at %zu+%zu of %zu",
		      pb->fault, pb->off, pb->len, n);
		return;
	}
	CHECK(n >= 7 && (!strncasecmp(url, "http://", 7) || !strncasecmp(url, "https://", 8)),
	      "scheme of %s", url);
	for (i = 0; i < rd->n_parts; i++) {
		const struct lb_redirect_part *p = &rd->parts[i];

		CHECK(p->off == at && p->len > 0, "part %zu at %u, want %zu", i, p->off, at);
		if (p->var == LB_RV_TEXT) {
			for (size_t k = p->off; k < (size_t)p->off + p->len; k++)
				CHECK(uri_char((unsigned char)url[k]) ||
					      (url[k] == '%' && k + 2 < n && hex(url[k + 1]) && hex(url[k + 2])),
				      "text byte %#x at %zu", (unsigned char)url[k], k);
		} else {
			static const char *const names[] = { "", "{public}", "{path}", "{host}" };

			CHECK(p->var <= LB_RV_HOST && p->len == strlen(names[p->var]) &&
				      !memcmp(url + p->off, names[p->var], p->len),
			      "placeholder %u at %u", p->var, p->off);
			public |= p->var == LB_RV_PUBLIC;
			host |= p->var == LB_RV_HOST;
		}
		at += p->len;
	}
	CHECK(at == n, "parts cover %zu of %zu bytes", at, n);
	CHECK(public, "no {public} in %s", url);
	CHECK(host == rd->uses_host, "uses_host %d", rd->uses_host);
}

static void check_reply(int status, const char *loc, size_t len, bool head)
{
	char *out, *end, want[64];
	size_t n = lb_reply_build_redirect(status, loc, len, head, &out), hlen, i;
	const char *cl;

	CHECK(n && out, "no reply");
	end = strstr(out, "\r\n\r\n");
	CHECK(end, "no end of head");
	hlen = (size_t)(end - out) + 4;
	for (i = 0; i < hlen; i++)
		if (out[i] == '\r' || out[i] == '\n')
			CHECK(out[i] == '\r' ? out[i + 1] == '\n' : i && out[i - 1] == '\r',
			      "bare CR or LF at %zu", i);
	CHECK(memmem(out, hlen, "\r\nLocation: ", 12) &&
		      !strncmp((char *)memmem(out, hlen, "\r\nLocation: ", 12) + 12, loc, len) &&
		      !strncmp((char *)memmem(out, hlen, "\r\nLocation: ", 12) + 12 + len, "\r\n", 2),
	      "Location line");
	CHECK(memmem(out, hlen, "\r\nCache-Control: no-store\r\n", 27), "no Cache-Control");
	cl = memmem(out, hlen, "\r\nContent-Length: ", 18);
	CHECK(cl, "no Content-Length");
	snprintf(want, sizeof(want), "%zu", head ? strtoul(cl + 18, NULL, 10) : n - hlen);
	CHECK(!strncmp(cl + 18, want, strlen(want)) && cl[18 + strlen(want)] == '\r',
	      "Content-Length %.20s, body %zu", cl + 18, n - hlen);
	CHECK(!head || n == hlen, "a HEAD reply with a body");
	free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const uint16_t statuses[] = { 302, 307, 308 };
	static const char fallback[] = "http://{public}{path}/{host}";
	struct reader r = { data, size };
	uint8_t ctl = rd_u8(&r);
	struct lb_redirect_part parts[LB_REDIRECT_PARTS_MAX];
	struct lb_redirect_problem pb;
	struct lb_redirect rd;
	struct lb_redirect_vars v = { 0 };
	enum lb_redirect_render_fault fault;
	size_t ulen, plen, pathlen, qlen, hlen, n;
	char *url = field(&r, LB_REDIRECT_URL_MAX + 8, &ulen);
	char *pub = field(&r, 300, &plen);
	char *path = field(&r, 600, &pathlen);
	char *query = field(&r, 600, &qlen);
	char *host = field(&r, 300, &hlen);
	char canon[LB_PUBLIC_MAX], again[LB_PUBLIC_MAX], *loc, *ref;
	const char *why = NULL;
	size_t clen;
	int ret;

	ret = lb_redirect_compile(url, ulen, statuses[ctl % 3], &rd, parts, &pb);
	check_compiled(url, ulen, &rd, ret, &pb);
	if (ret)
		CHECK(!lb_redirect_compile(fallback, strlen(fallback), statuses[ctl % 3], &rd, parts,
					   &pb),
		      "fallback template refused");

	clen = lb_public_canon(pub, plen, canon, &why);
	if (clen) {
		CHECK(clen < LB_PUBLIC_MAX && strlen(canon) == clen, "public length %zu", clen);
		CHECK(lb_public_canon(canon, clen, again, &why) == clen && !strcmp(again, canon),
		      "public %s not canonical", canon);
		for (size_t i = 0; i < clen; i++)
			CHECK(canon[i] < 'A' || canon[i] > 'Z', "upper case in %s", canon);
		v.public_name = canon;
		v.public_len = clen;
	} else {
		CHECK(why, "refused without a reason");
		v.public_name = pub; /* hostile: the renderer must still keep it a URI */
		v.public_len = plen;
	}
	v.path = path;
	v.path_len = pathlen;
	v.query = ctl & 8 ? NULL : query;
	v.query_len = ctl & 8 ? 0 : qlen;
	v.host = host;
	v.host_len = hlen;

	n = lb_redirect_render(&rd, &v, &loc, &fault);
	ref = ref_render(&rd, &v);
	if (!ref) {
		CHECK(!n && !loc && (fault == LB_RR_NO_HOST || fault == LB_RR_BAD_HOST),
		      "rendered %s with a bad host", loc);
		CHECK((fault == LB_RR_NO_HOST) == !hlen, "fault %d, host length %zu", fault, hlen);
	} else {
		CHECK(n && loc && fault == LB_RR_OK, "refused (%d) what the reference renders", fault);
		CHECK(!strcmp(loc, ref), "rendered\n  %s\nreference\n  %s", loc, ref);
		CHECK(strlen(loc) == n, "length %zu, strlen %zu", n, strlen(loc));
		for (size_t i = 0; i < n; i++)
			CHECK(uri_char((unsigned char)loc[i]) ||
				      (loc[i] == '%' && i + 2 < n && hex(loc[i + 1]) && hex(loc[i + 2])),
			      "byte %#x at %zu of %s", (unsigned char)loc[i], i, loc);
		check_reply(rd.status, loc, n, ctl & 16);
	}
	free(ref);
	free(loc);
	free(url);
	free(pub);
	free(path);
	free(query);
	free(host);
	return 0;
}
