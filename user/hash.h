/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The daemon's hashes of names, paths and keys: 64-bit FNV-1a (short strings
 * from the config and requests) and two finalisers that spread its bits over
 * the whole word. Userspace only: XDP's 32-bit FNV-1a is headers/hint.h's.
 */
#ifndef LATEBIND_HASH_H
#define LATEBIND_HASH_H

#include <stddef.h>
#include <stdint.h>

#define LB_FNV64_BASIS 0xcbf29ce484222325ULL
#define LB_FNV64_PRIME 0x100000001b3ULL
#define LB_GOLDEN64    0x9e3779b97f4a7c15ULL /* 2^64 / phi: an odd constant with no pattern */

static inline uint64_t lb_fnv64_step(uint64_t h, unsigned char c)
{
	return (h ^ c) * LB_FNV64_PRIME;
}

static inline uint64_t lb_fnv64(const char *s, size_t n)
{
	uint64_t h = LB_FNV64_BASIS;

	while (n--)
		h = lb_fnv64_step(h, (unsigned char)*s++);
	return h;
}

static inline uint64_t lb_fnv64_str(const char *s)
{
	uint64_t h = LB_FNV64_BASIS;

	while (*s)
		h = lb_fnv64_step(h, (unsigned char)*s++);
	return h;
}

/* murmur3's finaliser: every input bit reaches every output bit. */
static inline uint64_t lb_fmix64(uint64_t h)
{
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ULL;
	return h ^ h >> 33;
}

/* splitmix64's finaliser: the same job, other constants (route keys and thread owners use it). */
static inline uint64_t lb_splitmix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	return x ^ x >> 31;
}

#endif
