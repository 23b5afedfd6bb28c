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
 *   - every lookup equals a brute-force reference that tests each route alone
 *     and keeps the most specific match, ranked by directory.h's precedence:
 *     host (exact name, then "*.suffix" by length, then "*") before path
 *     (exact, then the longest byte prefix), which is the fall-through to less
 *     specific hosts. Host as sent: lower-cased, ":port" and one trailing dot
 *     removed ([IPv6]:port kept up to its ']'); a host longer than 255 only
 *     matches "*";
 *   - the match's route, name and holders are the route's own.
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "directory.h"
#include "http.h"
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

/*
 * The reference for what build refuses, from the rule's meaning rather than its
 * code: a route path must be one the request normaliser can produce. Every byte
 * but the first '/' escaped as %XX, it normalises back to itself exactly when
 * it can (no "//", no "." or ".." segment to remove). A prefix's last segment may be cut short
 * (".well-known" from "/."), so only the part up to its last '/' is judged.
 */
static bool ref_path_ok(const char *s, bool prefix)
{
	static char enc[3 * 4096 + 1], out[3 * 4096 + 2];
	size_t n = strlen(s), judged = n, i;
	const char *last = strrchr(s, '/');
	int r;

	if (!n || s[0] != '/' || n >= 4096)
		return false;
	if (prefix && last && last[1])
		judged = (size_t)(last - s) + 1;
	/* The leading '/' as it is: the normaliser takes only absolute paths. */
	enc[0] = '/';
	for (i = 1; i < judged; i++)
		snprintf(enc + 1 + 3 * (i - 1), 4, "%%%02X", (unsigned char)s[i]);
	r = lb_http_normalize_path(enc, 1 + 3 * (judged - 1), out, sizeof(out));
	return r >= 0 && (size_t)r == judged && !memcmp(out, s, judged);
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

/*
 * The reference matcher, written from directory.h's rules and unlike the
 * directory's walk (host scopes in turn, a hash table, a trie): every route is
 * tested alone against the request, and of those that match, the most
 * specific wins, ranked first by host, then by path:
 *   host: the exact name, then "*.suffix" by the suffix's length, then "*";
 *   path: the exact path, then a prefix by its length.
 * Ranking the host first is the fall-through: a less specific host's route
 * wins only when no more specific host has a rule for the path.
 */
enum { REF_STAR, REF_WILD, REF_NAME };

/* How a route's host pattern matches, from its canonical key. */
static int ref_kind(const struct froute *f)
{
	if (!strcmp(f->canon, "*"))
		return REF_STAR;
	return f->canon[0] == '.' ? REF_WILD : REF_NAME;
}

/*
 * The request host as sent, compared as directory.h says: lower case, without
 * ":port" (a "[...]" IP literal ends at its ']', any other host at its first
 * ':'), without a trailing dot. Returns its length; 0 when no host name can
 * match: empty, or over 255 bytes (no DNS name is longer, RFC 1035), when only
 * "*" applies.
 */
static size_t ref_req_host(const char *host, size_t len, char *out)
{
	bool literal = len && host[0] == '[';
	size_t n = 0;

	for (size_t i = 0; i < len; i++) {
		if (!literal && host[i] == ':')
			break;
		out[n++] = (char)tolower((unsigned char)host[i]);
		if (literal && host[i] == ']')
			break;
	}
	if (n && out[n - 1] == '.')
		n--;
	return n > 255 ? 0 : n;
}

/* The host rank of route @f for host @h (@hn bytes), or -1 if it does not match. */
static long ref_host_rank(const struct froute *f, const char *h, size_t hn)
{
	size_t cl = strlen(f->canon);

	switch (ref_kind(f)) {
	case REF_STAR:
		return 0;
	case REF_NAME:
		return hn && hn == cl && !memcmp(h, f->canon, cl) ? 100000 : -1;
	default: /* "*.a.com" matches "x.a.com" and "x.y.a.com", never "a.com" */
		return hn > cl && !memcmp(h + hn - cl, f->canon, cl) ? (long)cl : -1;
	}
}

/* The path rank of route @f for @path, or -1 if it does not match. */
static long ref_path_rank(const struct froute *f, const char *path, size_t pathlen)
{
	size_t pl = strlen(f->path);

	if (f->exact)
		return pl == pathlen && !memcmp(f->path, path, pl) ? 100000 : -1;
	return pl <= pathlen && !memcmp(f->path, path, pl) ? (long)pl : -1;
}

static int ref_lookup(const struct froute *rt, size_t n, const char *host, size_t hostlen,
		      const char *path, size_t pathlen)
{
	char h[STR_MAX];
	size_t hn = ref_req_host(host, hostlen, h);
	long best_h = -1, best_p = -1;
	int best = -1;

	for (size_t i = 0; i < n; i++) {
		long hr = ref_host_rank(&rt[i], h, hn), pr = ref_path_rank(&rt[i], path, pathlen);

		if (hr < 0 || pr < 0)
			continue;
		/* Two routes this specific are duplicates, which the build refused. */
		CHECK(hr != best_h || pr != best_p, "harness: routes %d and %zu rank alike", best, i);
		if (hr > best_h || (hr == best_h && pr > best_p)) {
			best = (int)i;
			best_h = hr;
			best_p = pr;
		}
	}
	return best;
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
