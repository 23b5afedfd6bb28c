/* SPDX-License-Identifier: GPL-2.0 */
/* ASCII by hand: hex digits (percent-decoding, MACs, the key file) and case folding. */
#ifndef LATEBIND_HEX_H
#define LATEBIND_HEX_H

/* The value of hex digit @c, or -1 if it is not one. */
static inline int lb_hex_digit(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* ASCII lower case, whatever the locale: hosts, schemes and header names. */
static inline unsigned char lb_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c;
}

#endif
