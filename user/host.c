// SPDX-License-Identifier: GPL-2.0
#include <stdbool.h>

#include "hex.h"
#include "host.h"

#define LABEL_MAX    63
#define REG_NAME_MAX 253


static size_t ip_literal(const char *s, size_t n, char *out, const char **why)
{
	size_t i;

	/* "[" two characters at least ("::") "]" */
	if (n < 4 || s[n - 1] != ']' || n > LB_HOST_MAX) {
		*why = "invalid IP-literal host";
		return 0;
	}
	out[0] = '[';
	for (i = 1; i < n - 1; i++) {
		unsigned char c = lb_lower(s[i]);

		if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == ':' || c == '.')) {
			*why = "invalid IP-literal host";
			return 0;
		}
		out[i] = c;
	}
	out[n - 1] = ']';
	return n;
}

size_t lb_host_canon(const char *s, size_t n, char *out, const char **why)
{
	size_t i, label = 0;

	if (n && s[0] == '[')
		return ip_literal(s, n, out, why);
	if (n && s[n - 1] == '.')
		n--;
	if (!n) {
		*why = "empty host";
		return 0;
	}
	if (n > REG_NAME_MAX) {
		*why = "host longer than 253 characters";
		return 0;
	}
	for (i = 0; i < n; i++) {
		unsigned char c = lb_lower(s[i]);

		if (c == '.') {
			if (!label) {
				*why = "empty label in host";
				return 0;
			}
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_') {
			if (++label > LABEL_MAX) {
				*why = "host label longer than 63 characters";
				return 0;
			}
		} else {
			*why = c == ':' ? "a host takes no port here" : "invalid character in host";
			return 0;
		}
		out[i] = c;
	}
	if (!label) { /* "a.." less its one trailing dot */
		*why = "empty label in host";
		return 0;
	}
	return n;
}
