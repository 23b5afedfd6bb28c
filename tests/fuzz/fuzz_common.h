/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the fuzz harnesses: a reader that takes typed values off
 * the fuzzer's bytes (never past the end; zeros once they run out), and the
 * invariant checks.
 *
 * CHECK() is an invariant of the code under test: it prints what broke and
 * aborts, so libFuzzer saves the input under build/fuzz/crashes/.
 *
 * KNOWN() is an invariant that a reported, still open bug breaks. By default
 * it prints the first violation (once per process) and the run goes on, so the
 * short run of `make test` stays green while the fix is pending; with
 * LB_FUZZ_STRICT=1 in the environment it aborts like CHECK(), which is how the
 * fix is verified (and how the reproducers in README.md are replayed).
 */
#ifndef LATEBIND_FUZZ_COMMON_H
#define LATEBIND_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define CHECK(cond, ...)                                                       \
	do {                                                                   \
		if (!(cond)) {                                                 \
			fprintf(stderr, "fuzz invariant broken at %s:%d: %s\n  ", __FILE__, \
				__LINE__, #cond);                              \
			fprintf(stderr, __VA_ARGS__);                          \
			fputc('\n', stderr);                                   \
			abort();                                               \
		}                                                              \
	} while (0)

static inline bool fuzz_strict(void)
{
	static int strict = -1;

	if (strict < 0) {
		const char *e = getenv("LB_FUZZ_STRICT");

		strict = e && *e && strcmp(e, "0");
	}
	return strict;
}

/* @id names the bug in README.md ("B1", ...); the message is one line. */
#define KNOWN(id, cond, ...)                                                   \
	do {                                                                   \
		static bool reported_;                                         \
		if (!(cond)) {                                                 \
			if (fuzz_strict() || !reported_) {                     \
				fprintf(stderr, "fuzz: known bug %s: ", id);   \
				fprintf(stderr, __VA_ARGS__);                  \
				fprintf(stderr, " (%s:%d)\n", __FILE__, __LINE__); \
				reported_ = true;                              \
			}                                                      \
			if (fuzz_strict())                                     \
				abort();                                       \
		}                                                              \
	} while (0)

#if defined(__has_feature)
#if __has_feature(address_sanitizer) && defined(FUZZ_UBSAN_SUPP)
/*
 * UBSan's defaults, built in so that running a fuzzer by hand behaves as the
 * runner does: every report stops the run, but for the open bugs listed in
 * ubsan.supp. (Called before libc is ready: no getenv here. To drop the list,
 * as LB_FUZZ_STRICT=1 does in run.sh, set UBSAN_OPTIONS=suppressions= .)
 */
const char *__ubsan_default_options(void);
const char *__ubsan_default_options(void)
{
	return "halt_on_error=1:print_stacktrace=1:suppressions=" FUZZ_UBSAN_SUPP;
}
#endif
#endif

struct reader {
	const uint8_t *p;
	size_t n;
};

static inline uint8_t rd_u8(struct reader *r)
{
	uint8_t v = 0;

	if (r->n) {
		v = *r->p++;
		r->n--;
	}
	return v;
}

static inline uint16_t rd_u16(struct reader *r)
{
	return (uint16_t)(rd_u8(r) | rd_u8(r) << 8);
}

static inline uint32_t rd_u32(struct reader *r)
{
	return (uint32_t)rd_u16(r) | (uint32_t)rd_u16(r) << 16;
}

static inline bool rd_bool(struct reader *r)
{
	return rd_u8(r) & 1;
}

/* @n bytes (at most @max, at most what is left); points into the input. */
static inline const uint8_t *rd_take(struct reader *r, size_t n, size_t max, size_t *len)
{
	const uint8_t *p = r->p;

	if (n > max)
		n = max;
	if (n > r->n)
		n = r->n;
	r->p += n;
	r->n -= n;
	*len = n;
	return p;
}

/* Up to @max bytes, length-prefixed by one byte. */
static inline const uint8_t *rd_bytes(struct reader *r, size_t max, size_t *len)
{
	return rd_take(r, rd_u8(r), max, len);
}

/* Like rd_bytes() with a two-byte length. */
static inline const uint8_t *rd_bytes16(struct reader *r, size_t max, size_t *len)
{
	return rd_take(r, rd_u16(r), max, len);
}

/* A private copy of exactly @n bytes, so ASan catches a read one past the end. */
/* LB_FUZZ_VERBOSE=1: say what each input did (for replaying a corpus by hand). */
static inline bool fuzz_verbose(void)
{
	static int v = -1;

	if (v < 0)
		v = getenv("LB_FUZZ_VERBOSE") && strcmp(getenv("LB_FUZZ_VERBOSE"), "0");
	return v;
}

/* Big-endian fields of a frame. */
static inline uint16_t rd16be(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

static inline uint32_t rd32be(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* TAI seconds, the cookie's clock. */
static inline uint64_t tai_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_TAI, &ts);
	return ts.tv_sec;
}

static inline uint8_t *dup_exact(const void *p, size_t n)
{
	uint8_t *d = malloc(n);

	if (!d && n)
		abort();
	if (n)
		memcpy(d, p, n);
	return d;
}

#endif
