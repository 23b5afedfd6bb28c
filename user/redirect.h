/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Redirect mode (docs/architecture.md, "Redirect mode"): for a VIP or a route
 * with `redirect:`, the balancer answers the request itself with a redirect to
 * the chosen holder's public name instead of handing the connection over.
 *
 * The URL template ("http://{public}{path}") is compiled once, at config load,
 * and rendered per request. Whatever the request held, a rendered Location has
 * only URI characters: the template's text was checked at load, {public} comes
 * from the config, {host} must pass the host rule (host.h), and every byte of
 * {path} outside what RFC 3986 allows there is percent-encoded.
 */
#ifndef LATEBIND_REDIRECT_H
#define LATEBIND_REDIRECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

#define LB_REDIRECT_URL_MAX   1024 /* template bytes */
#define LB_REDIRECT_PARTS_MAX 32   /* text runs and placeholders */
#define LB_PUBLIC_MAX	      (LB_HOST_MAX + 7) /* host, ':' and a port, NUL */

enum lb_redirect_var {
	LB_RV_TEXT,   /* the template's own bytes */
	LB_RV_PUBLIC, /* the chosen backend's public: */
	LB_RV_PATH,   /* the request's path and query, as sent */
	LB_RV_HOST,   /* the request's host, canonical, without port */
};

struct lb_redirect_part {
	uint8_t var;  /* enum lb_redirect_var */
	uint16_t off; /* LB_RV_TEXT: its bytes are url[off, off + len) */
	uint16_t len;
};

struct lb_redirect {
	uint16_t status;    /* 302, 307 or 308; 0 in lb_redirect_none */
	uint16_t n_parts;
	bool uses_host;
	const char *url;    /* the template as written */
	const struct lb_redirect_part *parts;
};

/* A route's `redirect: none`: handed off even when its VIP redirects. */
extern const struct lb_redirect lb_redirect_none;

/* What the template may hold, as written in it (for messages). */
#define LB_REDIRECT_VARS "{public}, {path} or {host}"

/* Why a template is refused, and where in it. */
enum lb_redirect_fault {
	LB_RF_OK,
	LB_RF_LONG,	    /* over LB_REDIRECT_URL_MAX bytes, or too many parts */
	LB_RF_SCHEME,	    /* does not start with http:// or https:// */
	LB_RF_CHAR,	    /* a byte that has no place in a URL */
	LB_RF_UNCLOSED,	    /* '{' without '}' */
	LB_RF_STRAY_CLOSE,  /* '}' without '{' */
	LB_RF_UNKNOWN_VAR,  /* {something else} */
	LB_RF_NO_PUBLIC,    /* no {public}: the choice of backend would be lost */
};

struct lb_redirect_problem {
	enum lb_redirect_fault fault;
	size_t off, len; /* the bytes of @url at fault (the whole placeholder for UNKNOWN_VAR) */
};

/*
 * Compile template @url (@n bytes) into @r, its parts in @parts (room for
 * LB_REDIRECT_PARTS_MAX). @r->url points at @url, which must outlive it.
 * Returns 0, or -1 with @pb saying what is wrong.
 */
int lb_redirect_compile(const char *url, size_t n, uint16_t status, struct lb_redirect *r,
			struct lb_redirect_part *parts, struct lb_redirect_problem *pb);

/* A short phrase for @f ("has no {public}"), for messages. */
const char *lb_redirect_fault_str(enum lb_redirect_fault f);

/* Is @status one a redirect may have: 302, 307, 308. */
bool lb_redirect_status_ok(uint32_t status);

/*
 * A backend's `public:`: HOST or HOST:PORT, HOST a name or an IPv4 or
 * [IPv6] literal by the host rule, PORT 1..65535. Its canonical form (the host
 * in lower case) into @out (LB_PUBLIC_MAX bytes, NUL-terminated). Returns its
 * length, or 0 with *@why saying what is wrong.
 */
size_t lb_public_canon(const char *s, size_t n, char *out, const char **why);

/* What one request gives the template. */
struct lb_redirect_vars {
	const char *public_name; /* the chosen backend's public:, canonical */
	size_t public_len;
	const char *path;	 /* the target's path as sent: "" or "*" render as "/" */
	size_t path_len;
	const char *query;	 /* after '?', or NULL without one */
	size_t query_len;
	const char *host;	 /* the request's host, canonical; "" when it has none */
	size_t host_len;
};

/* Why a Location could not be made for a request. */
enum lb_redirect_render_fault {
	LB_RR_OK,
	LB_RR_NO_HOST,	 /* {host} and the request has none */
	LB_RR_BAD_HOST,	 /* {host} and the host breaks the host rule */
	LB_RR_NOMEM,
};

/*
 * The Location for @v, malloc'd and NUL-terminated into *@out. Returns its
 * length, or 0 with *@fault set.
 */
size_t lb_redirect_render(const struct lb_redirect *r, const struct lb_redirect_vars *v,
			  char **out, enum lb_redirect_render_fault *fault);

#endif
