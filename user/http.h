/* SPDX-License-Identifier: GPL-2.0 */
/*
 * HTTP/1.x request-head parser and the path normalisation used for routing.
 *
 * The dispatcher feeds whatever bytes it holds for a connection; the parser
 * only reads them (what the backend gets stays exactly what the client sent),
 * keeps no state between calls, allocates nothing and never reads past @len.
 * It re-parses from the start each call, and checks every byte in order, so
 * feeding a head byte by byte gives the same answer as feeding it at once:
 * LB_HTTP_AGAIN on every prefix until the first byte that decides.
 *
 * What is rejected, and why (RFC 9110 / RFC 9112 section numbers in http.c):
 *   400  anything malformed or ambiguous between two parsers: bare LF or CR,
 *        control characters (HTAB allowed in values), NUL, obs-fold, whitespace
 *        before a colon or before the first field, bad method token, a target
 *        that is not origin-form / absolute-form ("http" only) / asterisk-form
 *        (OPTIONS only), any CONNECT (we are an origin, not a tunnel; 405 would
 *        need an Allow list we do not know), userinfo in the target, missing
 *        Host in 1.1, more than one Host, Host disagreeing with an
 *        absolute-form target, invalid Host, invalid or differing
 *        Content-Length, Content-Length together with Transfer-Encoding,
 *        Transfer-Encoding in 1.0, chunked twice or not last, and names such
 *        as "Content_Length" that some servers read as the framing field.
 *   414  request line longer than max_line (only the target can make it so).
 *   431  a field line longer than max_line, more than max_fields fields, or a
 *        head that does not end within max_head bytes.
 *   501  a transfer coding we do not know, or transfer-parameters.
 *   505  a well-formed version other than HTTP/1.0 and HTTP/1.1.
 */
#ifndef LATEBIND_HTTP_H
#define LATEBIND_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "host.h"

/* Return values of lb_http_parse_head(); errors are the negated status. */
#define LB_HTTP_DONE	0	/* complete head; req->head_len says where it ends */
#define LB_HTTP_AGAIN	1	/* valid so far, need more bytes */
#define LB_HTTP_E400	(-400)
#define LB_HTTP_E414	(-414)
#define LB_HTTP_E431	(-431)
#define LB_HTTP_E501	(-501)
#define LB_HTTP_E505	(-505)

/* A DNS name is at most 253 characters; leave room for "a.b." and IP-literals. */
#define LB_HTTP_HOST_MAX LB_HOST_MAX

/* A zero member means its default, so a zeroed config section still works. */
struct lb_http_limits {
	uint32_t max_head;   /* whole head, leading empty lines and final CRLF included */
	uint32_t max_line;   /* request line or one field line, its CRLF included */
	uint32_t max_fields; /* field lines */
};

/* 16 KiB is handoff.request_limit's default; 8 KiB lines as nginx and Apache. */
#define LB_HTTP_LIMITS_DEFAULT                                                 \
	((struct lb_http_limits){                                              \
		.max_head = 16384, .max_line = 8192, .max_fields = 100 })

enum lb_http_method {
	LB_METHOD_OTHER = 0, /* any other valid token: passed on untouched */
	LB_METHOD_GET,
	LB_METHOD_HEAD,	     /* the balancer's own replies to it carry no body */
	LB_METHOD_POST,
	LB_METHOD_PUT,
	LB_METHOD_DELETE,
	LB_METHOD_OPTIONS,
	LB_METHOD_TRACE,
	LB_METHOD_PATCH,
};

enum lb_http_target_form {
	LB_TARGET_ORIGIN = 1,	/* /path?query */
	LB_TARGET_ABSOLUTE = 2, /* http://host[:port]/path?query */
	LB_TARGET_ASTERISK = 3, /* OPTIONS * */
};

/*
 * What the parser found. Pointers point into the caller's buffer and are valid
 * as long as it is; host[] is a copy because it is rewritten for matching.
 */
struct lb_http_request {
	const char *method;
	size_t method_len;
	int method_id; /* enum lb_http_method */

	const char *target; /* the request-target as sent */
	size_t target_len;
	int target_form;   /* enum lb_http_target_form */
	const char *path;  /* path part of the target, no query; may be empty for
			    * "http://h" and is "*" for asterisk-form */
	size_t path_len;
	const char *query; /* after '?', or NULL when there is no '?' */
	size_t query_len;

	int version_minor; /* 0 or 1 */

	/*
	 * The authority the request is for: from an absolute-form target, else
	 * from Host. Lower-cased, without port and without a trailing dot, so
	 * the directory can compare bytes. Empty when there is none (HTTP/1.0
	 * without Host, or an empty Host).
	 */
	char host[LB_HTTP_HOST_MAX + 1];
	size_t host_len;
	uint16_t port;	   /* 0 when none was given */
	bool has_host;	   /* a Host field was present */

	bool has_content_length;
	uint64_t content_length;
	bool has_transfer_encoding;
	bool chunked;	   /* chunked is the final (and only once) coding */
	bool upgrade;	   /* an Upgrade field: the protocol may change after the response */

	uint32_t n_fields;
	size_t head_len;   /* bytes up to and including the final CRLFCRLF */

	/* On error: a short static reason for logs, and where it was found. */
	const char *error;
	size_t error_offset;
};

/*
 * Parse the request head at the start of @buf. Returns LB_HTTP_DONE,
 * LB_HTTP_AGAIN or a negated status (LB_HTTP_E4xx/E5xx). @req is filled on
 * DONE; on error only req->error and req->error_offset are meaningful.
 * Bytes after the head (a body, a pipelined request) are never looked at.
 */
int lb_http_parse_head(const char *buf, size_t len, const struct lb_http_limits *lim,
		       struct lb_http_request *req);

/* How far a parsed request reaches (RFC 9112 6.3: a request has no body unless
 * it says so). */
enum lb_http_extent {
	LB_EXTENT_SIZED = 0, /* head plus Content-Length bytes: *len */
	LB_EXTENT_CHUNKED,   /* a chunked body, whose end is not followed */
	LB_EXTENT_UPGRADE,   /* the protocol may change after the response */
};

/*
 * Where the request of @req ends, counted from its first byte, for the
 * dispatcher to know where the next request on the connection starts.
 */
enum lb_http_extent lb_http_request_extent(const struct lb_http_request *req, uint64_t *len);

/* The status code for a negative return of lb_http_parse_head(). */
static inline int lb_http_status(int ret)
{
	return ret < 0 ? -ret : 0;
}

/*
 * Routing form of a path: the query and fragment are dropped, %XX escapes are
 * decoded (%2F becomes '/', so it splits segments exactly as a '/' would and
 * cannot hide a segment from a prefix rule; nginx decodes it the same way),
 * empty segments collapse ("//" -> "/"), "." and ".." segments are removed
 * after decoding (so %2e%2e is "..") and ".." never climbs above the root.
 * A trailing '/' is kept, as RFC 3986 remove_dot_segments keeps it ("/a/b/.."
 * is "/a/"). Hex digits may be of either case.
 *
 * @path must be empty (taken as "/") or start with '/'. Writes a NUL-terminated
 * result that always starts with '/' and returns its length; or LB_HTTP_E400
 * for a bad escape, a decoded NUL or a relative path, LB_HTTP_E414 when it
 * does not fit @outlen (len + 2 bytes always suffice).
 */
int lb_http_normalize_path(const char *path, size_t len, char *out, size_t outlen);

/*
 * The routing path of a parsed request: lb_http_normalize_path() of its path,
 * with asterisk-form ("OPTIONS *", a question about the server as a whole)
 * routed as "/".
 */
int lb_http_route_path(const struct lb_http_request *req, char *out, size_t outlen);

#endif
