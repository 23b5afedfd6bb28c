// SPDX-License-Identifier: GPL-2.0
/*
 * The routing form of a request's path (http.h): percent-decoding and
 * dot-segment removal, shared by requests and the routes they are matched to.
 */
#include <string.h>

#include "hex.h"
#include "http.h"

/* One byte of the decoded path at *i, or -1 for a bad escape or a NUL. */
static inline int next_decoded(const unsigned char *s, size_t n, size_t *i)
{
	int hi, lo;

	if (s[*i] != '%') {
		if (!s[*i])
			return -1;
		return s[(*i)++];
	}
	if (n - *i < 3)
		return -1;
	hi = lb_hex_digit(s[*i + 1]);
	lo = lb_hex_digit(s[*i + 2]);
	if (hi < 0 || lo < 0)
		return -1;
	*i += 3;
	/* A decoded NUL would end the path early for C-string code downstream. */
	return (hi << 4 | lo) ? (hi << 4 | lo) : -1;
}

/*
 * Segments are decoded straight into @out; when one turns out to be "." or
 * ".." it is taken back out. @out holds "/" or "/s1/.../sk" (no trailing
 * slash) between segments, so ".." is "cut at the last '/'".
 */
int lb_http_normalize_path(const char *path, size_t len, char *out, size_t outlen)
{
	const unsigned char *s = (const unsigned char *)path;
	size_t n = 0, i = 0, o = 1, seg_o = 0, seg_start = 0;
	bool in_seg = false, dir_end = true;

	while (n < len && s[n] != '?' && s[n] != '#')
		n++;
	if (outlen < 2)
		return LB_HTTP_E414;
	if (n && s[0] != '/')
		return LB_HTTP_E400;
	out[0] = '/';

	for (;;) {
		/* A virtual '/' after the last byte closes the last segment. */
		bool end = i >= n;
		int c = end ? '/' : next_decoded(s, n, &i);

		if (c < 0)
			return LB_HTTP_E400;
		if (c == '/') {
			/* End of a segment: a real one stays, an empty one vanishes. */
			dir_end = true;
			if (in_seg) {
				size_t sl = o - seg_start;

				if (sl == 1 && out[seg_start] == '.') {
					o = seg_o;
				} else if (sl == 2 && out[seg_start] == '.' &&
					   out[seg_start + 1] == '.') {
					o = seg_o;
					while (o > 0 && out[o - 1] != '/')
						o--;
					/* Cut the '/' too, but never the root's. */
					o = o > 1 ? o - 1 : 1;
				} else {
					dir_end = false;
				}
				in_seg = false;
			}
			if (end)
				break;
			continue;
		}
		if (!in_seg) {
			seg_o = o;
			if (o > 1) {
				if (o + 1 >= outlen)
					return LB_HTTP_E414;
				out[o++] = '/';
			}
			seg_start = o;
			in_seg = true;
		}
		if (o + 1 >= outlen)
			return LB_HTTP_E414;
		out[o++] = (char)c;
	}
	/*
	 * The input ended on a '/', "." or "..": it names a directory, and
	 * "/images/" must stay distinct from "/images" for prefix rules.
	 */
	if (dir_end && o > 1) {
		if (o + 1 >= outlen)
			return LB_HTTP_E414;
		out[o++] = '/';
	}
	out[o] = '\0';
	return (int)o;
}

int lb_http_route_path(const struct lb_http_request *req, char *out, size_t outlen)
{
	if (req->target_form == LB_TARGET_ASTERISK)
		return lb_http_normalize_path("/", 1, out, outlen);
	return lb_http_normalize_path(req->path, req->path_len, out, outlen);
}
