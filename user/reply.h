/* SPDX-License-Identifier: GPL-2.0 */
/* The balancer's own HTTP answers (302/307/308, 400/404/408/414/431/501/503/505), as text. */
#ifndef LATEBIND_REPLY_H
#define LATEBIND_REPLY_H

#include <stdbool.h>
#include <stddef.h>

#include "stats.h"

/*
 * A complete HTTP/1.1 response for @status with Connection: close, its body
 * saying @why (none for HEAD: @head_only). Malloc'd into *@out; returns its
 * length, 0 if out of memory.
 */
size_t lb_reply_build(int status, const char *why, bool head_only, char **out);

/*
 * A redirect (@status 302, 307 or 308) to @location (@loc_len bytes, already
 * safe to send: lb_redirect_render), with Cache-Control: no-store, as above.
 */
size_t lb_reply_build_redirect(int status, const char *location, size_t loc_len, bool head_only,
			       char **out);

/* The dispatcher counter a reply of @status goes under. */
enum lb_dispatch_counter lb_reply_counter(int status);

#endif
