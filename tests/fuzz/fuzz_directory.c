// SPDX-License-Identifier: GPL-2.0
/*
 * libFuzzer target: the content directory (user/directory.h).
 *
 * Input: up to 12 routes (host pattern, exact path or prefix, holders, name),
 * then lookups (host, path) until the input runs out. Hosts and paths are
 * taken from small pools (so routes and requests meet), spelt out of a small
 * alphabet, repeated two-byte units (long names, many dots), or raw bytes.
 *
 * Invariants, beyond ASan/UBSan:
 *   - building succeeds exactly when a reference check written here from
 *     directory.h says the routes are valid (paths in normal form, a trailing
 *     "." or ".." only at the end of a prefix, no two routes with the same host
 *     pattern and the same path or prefix) — decided only when every host is
 *     one the reference knows to be valid;
 *   - every lookup equals a naive matcher over the route list that follows the
 *     documented precedence: exact host, then "*.suffix" from the longest
 *     suffix to the shortest, then "*"; within a scope the exact path, then the
 *     longest byte prefix; an empty scope falls through to the next. Host as
 *     sent: lower-cased, ":port" and one trailing dot removed ([IPv6]:port
 *     kept up to its ']'); a host longer than 255 only matches "*";
 *   - the match's route, name and holders are the route's own.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "fuzz_common.h"

#define MAX_ROUTES 12
#define STR_MAX	   300

struct froute {
	char host[STR_MAX];
	bool host_known; /* from the pool: the reference knows whether it is valid */
	char canon[STR_MAX]; /* the pattern as the directory keys it: "*", ".a.com", "a.com" */
	char path[STR_MAX];
	bool exact;
	uint32_t holders[4];
	size_t n_holders;
	char name[16];
	bool named;
};

/* Valid route host patterns and their canonical keys. */
static const char *const route_hosts[][2] = {
	{ "*", "*" },		  { "a.com", "a.com" },	    { "*.a.com", ".a.com" },
	{ "x.a.com", "x.a.com" }, { "*.x.a.com", ".x.a.com" }, { "A.Com", "a.com" },
	{ "a.com.", "a.com" },	  { "[::1]", "[::1]" },	    { "*.com", ".com" },
	{ "localhost", "localhost" }, { "b.a.com", "b.a.com" }, { "*.B.A.COM.", ".b.a.com" },
};
#define N_ROUTE_HOSTS (sizeof(route_hosts) / sizeof(route_hosts[0]))

static const char *const req_hosts[] = {
	"a.com", "A.COM", "a.com.", "a.com:8080", "x.a.com", "y.x.a.com", "b.a.com", "[::1]",
	"[::1]:80", "", "com", ".a.com", "a.com..", "localhost", "X.A.Com.:1", "[::1", "c.b.a.com",
	"a.com:", ":80",
};
#define N_REQ_HOSTS (sizeof(req_hosts) / sizeof(req_hosts[0]))

static const char *const paths[] = {
	"/", "/a", "/a/", "/a/b", "/a/b/", "/ab", "/images/", "/images", "/images/x.jpg",
	"/.well", "/a/.", "/a/..", "/%", "/a//b", "", "/b/c",
};
#define N_PATHS (sizeof(paths) / sizeof(paths[0]))

/* A string by one of four recipes; returns false when it came from raw bytes. */
static bool rd_string(struct reader *r, char *out, const char *const *pool, size_t npool,
		      const char *alpha, bool lead_slash)
{
	uint8_t how = rd_u8(r);
	size_t n = 0, len;
	const uint8_t *b;

	switch (how & 3) {
	case 0:
		snprintf(out, STR_MAX, "%s", pool[(how >> 2) % npool]);
		return true;
	case 1: /* spelt from the alphabet */
		b = rd_bytes(r, 64, &len);
		if (lead_slash)
			out[n++] = '/';
		for (size_t i = 0; i < len; i++)
			out[n++] = alpha[b[i] % strlen(alpha)];
		out[n] = '\0';
		return true;
	case 2: { /* a two-byte unit repeated: long names, many dots */
		uint8_t u0 = rd_u8(r), u1 = rd_u8(r), k = rd_u8(r);

		if (lead_slash)
			out[n++] = '/';
		for (size_t i = 0; i < k && n + 2 < STR_MAX - 1; i++) {
			out[n++] = alpha[u0 % strlen(alpha)];
			out[n++] = alpha[u1 % strlen(alpha)];
		}
		if (how & 4 && n + 1 < STR_MAX)
			out[n++] = alpha[(how >> 3) % strlen(alpha)];
		out[n] = '\0';
		return true;
	}
	default: /* raw, up to a NUL */
		b = rd_bytes(r, STR_MAX - 1, &len);
		memcpy(out, b, len);
		out[len] = '\0';
		return false;
	}
}

/* directory.h's rules for a route path; the reference for what build refuses. */
static bool ref_path_ok(const char *s, bool prefix)
{
	size_t n = strlen(s);

	if (!n || s[0] != '/' || n > 4096)
		return false;
	for (size_t i = 0; i < n; i++) {
		size_t seg;

		if (s[i] != '/')
			continue;
		for (seg = i + 1; seg < n && s[seg] != '/'; seg++)
			;
		seg -= i + 1;
		if (seg == 0 && i + 1 < n)
			return false; /* "//" */
		if (prefix && i + 1 + seg == n)
			break; /* a prefix's last segment may be the start of ".well-known" */
		if ((seg == 1 && s[i + 1] == '.') || (seg == 2 && s[i + 1] == '.' && s[i + 2] == '.'))
			return false;
	}
	return true;
}

/*
 * A route host pattern as the directory keys it (for the reference matcher;
 * whether it is valid is the build's call): lower case, "*.x" as ".x", one
 * trailing dot dropped.
 */
static void ref_canon(const char *host, char *out)
{
	size_t n = 0, i = 0;

	if (host[0] == '*' && host[1] == '.')
		i = 1;
	for (; host[i]; i++)
		out[n++] = (char)tolower((unsigned char)host[i]);
	if (n > 1 && out[n - 1] == '.')
		n--;
	out[n] = '\0';
}

/* The request host as patterns have it; false when only "*" can match. */
static bool ref_host(const char *host, size_t hostlen, char *h, size_t *hn)
{
	size_t n = 0;

	if (hostlen && host[0] == '[') {
		const char *e = memchr(host, ']', hostlen);

		n = e ? (size_t)(e - host) + 1 : hostlen;
	} else {
		const char *e = memchr(host, ':', hostlen);

		n = e ? (size_t)(e - host) : hostlen;
	}
	if (n && host[n - 1] == '.')
		n--;
	if (!n || n > 255)
		return false;
	for (size_t i = 0; i < n; i++)
		h[i] = (char)tolower((unsigned char)host[i]);
	h[n] = '\0';
	*hn = n;
	return true;
}

/* Exact path, else longest prefix, among the routes of one canonical host key. */
static int ref_scope(const struct froute *rt, size_t n, const char *key, size_t keylen,
		     const char *path, size_t pathlen)
{
	int best = -1;
	size_t best_len = 0;

	for (size_t i = 0; i < n; i++)
		if (rt[i].exact && strlen(rt[i].canon) == keylen && !memcmp(rt[i].canon, key, keylen) &&
		    strlen(rt[i].path) == pathlen && !memcmp(rt[i].path, path, pathlen))
			return (int)i;
	for (size_t i = 0; i < n; i++) {
		size_t pl = strlen(rt[i].path);

		if (!rt[i].exact && strlen(rt[i].canon) == keylen && !memcmp(rt[i].canon, key, keylen) &&
		    pl <= pathlen && !memcmp(rt[i].path, path, pl) && (best < 0 || pl > best_len)) {
			best = (int)i;
			best_len = pl;
		}
	}
	return best;
}

static int ref_lookup(const struct froute *rt, size_t n, const char *host, size_t hostlen,
		      const char *path, size_t pathlen)
{
	char h[STR_MAX];
	size_t hn;
	int r = -1;

	if (ref_host(host, hostlen, h, &hn)) {
		if (h[0] != '.')
			r = ref_scope(rt, n, h, hn, path, pathlen);
		/* Suffixes starting at a dot (never the first byte), longest first. */
		for (size_t i = 1; r < 0 && i < hn; i++)
			if (h[i] == '.')
				r = ref_scope(rt, n, h + i, hn - i, path, pathlen);
	}
	if (r < 0)
		r = ref_scope(rt, n, "*", 1, path, pathlen);
	return r;
}


int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct froute rt[MAX_ROUTES];
	struct lb_cfg_route cfg[MAX_ROUTES];
	struct reader rd = { data, size };
	struct lb_directory *d;
	struct lb_directory_stats st;
	char err[512];
	size_t n = rd_u8(&rd) % (MAX_ROUTES + 1), i, j;
	bool decidable = true, valid = true;

	memset(cfg, 0, sizeof(cfg));
	for (i = 0; i < n; i++) {
		struct froute *f = &rt[i];
		uint8_t hb = rd_u8(&rd), flags = rd_u8(&rd);

		memset(f, 0, sizeof(*f));
		if (hb < 192) {
			snprintf(f->host, STR_MAX, "%s", route_hosts[hb % N_ROUTE_HOSTS][0]);
			f->host_known = true;
		} else if (hb < 224) {
			/* "*." and a repeated unit: a long wildcard the reference can judge. */
			uint8_t k = rd_u8(&rd) % 126;
			size_t o = 2;

			strcpy(f->host, "*.");
			for (j = 0; j < k; j++) {
				f->host[o++] = "abc"[j % 3];
				f->host[o++] = '.';
			}
			f->host[o++] = 'z';
			f->host[o] = '\0';
			f->host_known = true;
		} else {
			rd_string(&rd, f->host, route_hosts[0], 1, "ab.*-:[]1", false);
			f->host_known = false;
			decidable = false;
		}
		ref_canon(f->host, f->canon);
		if (hb < 192)
			CHECK(!strcmp(f->canon, route_hosts[hb % N_ROUTE_HOSTS][1]),
			      "harness: canon of %s", f->host);
		f->exact = flags & 1;
		/* Raw paths too are judged by ref_path_ok(), like any other. */
		(void)rd_string(&rd, f->path, paths, N_PATHS, "/ab.%", !(flags & 2));
		f->n_holders = (flags >> 2) & 3;
		for (j = 0; j < f->n_holders; j++)
			f->holders[j] = rd_u8(&rd) % 8;
		f->named = flags & 16;
		snprintf(f->name, sizeof(f->name), "n%zu", i);

		cfg[i].name = f->named ? f->name : NULL;
		cfg[i].host = (flags & 32) && !strcmp(f->host, "*") ? NULL : f->host;
		cfg[i].path = f->exact ? f->path : NULL;
		cfg[i].prefix = f->exact ? NULL : f->path;
		cfg[i].backends = f->holders;
		cfg[i].n_backends = f->n_holders;
		cfg[i].line = (int)i + 1;

		if (!ref_path_ok(f->path, !f->exact))
			valid = false;
	}
	for (i = 0; i < n; i++)
		for (j = 0; j < i; j++)
			if (rt[i].host_known && rt[j].host_known && rt[i].exact == rt[j].exact &&
			    !strcmp(rt[i].canon, rt[j].canon) && !strcmp(rt[i].path, rt[j].path))
				valid = false;

	d = lb_directory_build(cfg, n, err, sizeof(err));
	if (decidable)
		CHECK(!d == !valid, "build %s, the reference says the routes are %s (%s)",
		      d ? "succeeded" : "failed", valid ? "valid" : "invalid", d ? "" : err);
	if (!d) {
		CHECK(err[0], "build failed without a message");
		return 0;
	}
	lb_directory_stats(d, &st);
	CHECK(st.routes == n, "stats: %zu routes of %zu", st.routes, n);

	/* Lookups until the input runs out (at least one). */
	do {
		char host[STR_MAX], path[STR_MAX];
		struct lb_route_match m;
		size_t hl, pl;
		bool found;
		int want;

		rd_string(&rd, host, req_hosts, N_REQ_HOSTS, "ab.c:[]X1", false);
		rd_string(&rd, path, paths, N_PATHS, "/ab.%", true);
		hl = strlen(host);
		pl = strlen(path);
		/* Exact-size copies: a read past either is caught. */
		{
			uint8_t *hc = dup_exact(host, hl), *pc = dup_exact(path, pl);

			memset(&m, 0, sizeof(m));
			found = lb_directory_lookup(d, (const char *)hc, hl, (const char *)pc, pl, &m);
			free(hc);
			free(pc);
		}
		want = ref_lookup(rt, n, host, hl, path, pl);
		CHECK(found == (want >= 0) && (!found || m.route == (uint32_t)want),
		      "lookup host \"%s\" path \"%s\": directory %s %u, reference %d", host, path,
		      found ? "route" : "none", found ? m.route : 0, want);
		if (found) {
			const struct froute *f = &rt[m.route];
			char def[32];

			snprintf(def, sizeof(def), "route%u", m.route);
			CHECK(!strcmp(m.name, f->named ? f->name : def), "route %u named \"%s\"",
			      m.route, m.name);
			CHECK(m.n_holders == f->n_holders &&
				      (!m.n_holders ||
				       !memcmp(m.holders, f->holders, m.n_holders * sizeof(uint32_t))),
			      "route %u holders differ", m.route);
			CHECK(lb_directory_route(d, m.route, &m) && m.route == (uint32_t)want,
			      "lb_directory_route(%d)", want);
		}
	} while (rd.n);
	CHECK(!lb_directory_route(d, (uint32_t)n, NULL), "route %zu of %zu exists", n, n);
	lb_directory_free(d);
	return 0;
}
