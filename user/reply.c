// SPDX-License-Identifier: GPL-2.0
#include <stdio.h>
#include <stdlib.h>

#include "reply.h"

static const char *reason_phrase(int status)
{
	switch (status) {
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

size_t lb_reply_build(int status, const char *why, bool head_only, char **out)
{
	char body[256];
	int blen, n;

	blen = snprintf(body, sizeof(body), "%d %s: %s\n", status, reason_phrase(status), why);
	*out = malloc(512 + blen); /* the head is well under 512 bytes */
	if (!*out)
		return 0;
	n = sprintf(*out,
		    "HTTP/1.1 %d %s\r\nServer: latebind\r\nContent-Type: text/plain\r\n"
		    "Content-Length: %d\r\n%sConnection: close\r\n\r\n%s",
		    status, reason_phrase(status), blen,
		    status == 503 ? "Retry-After: 5\r\n" : "", head_only ? "" : body);
	return (size_t)n;
}
