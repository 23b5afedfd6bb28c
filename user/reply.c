// SPDX-License-Identifier: GPL-2.0
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "reply.h"

static const char *reason_phrase(int status)
{
	switch (status) {
	case 302: return "Found";
	case 307: return "Temporary Redirect";
	case 308: return "Permanent Redirect";
	case 400: return "Bad Request";
	case 404: return "Not Found";
	case 408: return "Request Timeout";
	case 414: return "URI Too Long";
	case 431: return "Request Header Fields Too Large";
	case 501: return "Not Implemented";
	case 503: return "Service Unavailable";
	case 505: return "HTTP Version Not Supported";
	default: return "Error";
	}
}

enum lb_dispatch_counter lb_reply_counter(int status)
{
	switch (status) {
	case 302: return LB_DISP_REPLY_302;
	case 307: return LB_DISP_REPLY_307;
	case 308: return LB_DISP_REPLY_308;
	case 400: return LB_DISP_REPLY_400;
	case 404: return LB_DISP_REPLY_404;
	case 408: return LB_DISP_REPLY_408;
	case 414: return LB_DISP_REPLY_414;
	case 431: return LB_DISP_REPLY_431;
	case 501: return LB_DISP_REPLY_501;
	case 505: return LB_DISP_REPLY_505;
	default: return LB_DISP_REPLY_503;
	}
}

/*
 * The response for @status with @extra header lines (each ending in CRLF) and
 * a text body "STATUS REASON: @what", left out for HEAD (@head_only) but
 * counted in Content-Length as RFC 9110 9.3.2 has it.
 */
static size_t build(int status, const char *extra, const char *what, size_t what_len,
		    bool head_only, char **out)
{
	const char *reason = reason_phrase(status);
	size_t blen = 3 + 1 + strlen(reason) + 2 + what_len + 1;
	size_t cap = 256 + strlen(extra) + blen; /* the fixed head lines are under 256 bytes */
	int n;

	*out = malloc(cap);
	if (!*out)
		return 0;
	n = snprintf(*out, cap,
		     "HTTP/1.1 %d %s\r\nServer: latebind\r\n%sContent-Type: text/plain\r\n"
		     "Content-Length: %zu\r\nConnection: close\r\n\r\n",
		     status, reason, extra, blen);
	if (n < 0 || (size_t)n + blen >= cap) {
		free(*out);
		*out = NULL;
		return 0;
	}
	if (!head_only)
		n += snprintf(*out + n, cap - n, "%d %s: %.*s\n", status, reason, (int)what_len,
			      what);
	return (size_t)n;
}

size_t lb_reply_build(int status, const char *why, bool head_only, char **out)
{
	return build(status, status == 503 ? "Retry-After: 5\r\n" : "", why, strlen(why),
		     head_only, out);
}

size_t lb_reply_build_redirect(int status, const char *location, size_t loc_len, bool head_only,
			       char **out)
{
	/* no-store: the next request must be chosen afresh, not sent by a cache to this holder. */
	static const char fmt[] = "Location: %.*s\r\nCache-Control: no-store\r\n";
	char *extra;
	size_t n;

	if (loc_len > INT_MAX / 2)
		return 0;
	extra = malloc(sizeof(fmt) + loc_len);
	if (!extra)
		return 0;
	snprintf(extra, sizeof(fmt) + loc_len, fmt, (int)loc_len, location);
	n = build(status, extra, location, loc_len, head_only, out);
	free(extra);
	return n;
}
