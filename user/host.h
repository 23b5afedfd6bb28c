/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The one rule for host names, wherever one is read: a request's Host (or
 * absolute-form authority), a route's host in the config, the directory's
 * scopes. A host is a reg-name of DNS-like labels, or an IP-literal.
 */
#ifndef LATEBIND_HOST_H
#define LATEBIND_HOST_H

#include <stddef.h>

#define LB_HOST_MAX 255 /* canonical form, bytes */

/*
 * The canonical form of host @s (@n bytes, no port) into @out (room for
 * LB_HOST_MAX bytes, not terminated): lower case, one trailing dot dropped
 * ("a.example." names the same site as "a.example"). A reg-name has labels of
 * letters, digits, '-' and '_' (seen in internal names), none empty, none over
 * 63 bytes, 253 in all; an IP-literal is "[...]" of hex digits, ':' and '.'.
 * Returns the canonical length, or 0 with *@why saying what is wrong.
 */
size_t lb_host_canon(const char *s, size_t n, char *out, const char **why);

#endif
