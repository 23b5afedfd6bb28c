/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Reading a YAML file one value at a time, with messages a person can act on.
 *
 * libyaml's event parser drives it: the caller walks the document's outer
 * structure event by event and has each value it wants read into a small tree
 * of nodes (yd_load) in an arena, which it checks with the typed getters
 * (yd_want_*, yd_fields) and then drops (yd_reset). Memory stays bounded by
 * the largest single value, whatever the size of the file.
 *
 * Anchors, aliases and tags are refused, and nesting is limited to
 * YD_MAX_DEPTH: a config needs none of them, and they are the usual ways to
 * make a small YAML file expensive (libyaml's scanner goes quadratic in depth).
 *
 * Every error is one line, "FILE:LINE: KEY: what is wrong; expected what"
 * (unknown keys get a "did you mean"), and the first one recorded stops the
 * parse: later ones are consequences of it. KEY is a struct ykey, a chain
 * built on the stack as the walk descends, written out only when a message
 * names it, so reading a million clean values never formats a key.
 *
 * The schema (which keys, which types, what is required) is the caller's:
 * config.c for the balancer's config.
 */
#ifndef LATEBIND_YAML_DOC_H
#define LATEBIND_YAML_DOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <yaml.h>

#define YD_MAX_DEPTH 16	 /* the config's schema needs 5 levels */
#define YD_KEY_MAX   192 /* "routes[123456].backends[12]" and room */
#define YD_QUOTE_MAX 40	 /* bytes of a value shown in a message */

enum ynode_type {
	YN_NULL, /* plain "", "~" or "null": nothing written */
	YN_SCALAR,
	YN_SEQ,
	YN_MAP,
};

struct ynode {
	enum ynode_type type;
	int line;
	size_t n; /* scalar: length (may hold NULs); else number of kids */
	union {
		char *str;	     /* NUL-terminated copy */
		struct ynode **kids; /* map: key, value, key, value, ... */
	};
};

/*
 * Where a value sits: "name" under @up, or "[idx]" under @up when @name is
 * NULL. @len 0 means @name is NUL-terminated. A NULL key reads "config".
 */
struct ykey {
	const struct ykey *up;
	const char *name;
	size_t len;
	size_t idx;
};

/* Links that live until the end of the enclosing block. */
#define YKEY(n)		(&(const struct ykey){ .name = (n) })
#define YKEY_IN(u, n)	(&(const struct ykey){ .up = (u), .name = (n) })
#define YKEY_AT(u, i)	(&(const struct ykey){ .up = (u), .idx = (i) })
/* Named after the key node @k (a scalar, as YAML wrote it). */
#define YKEY_NODE(u, k) (&(const struct ykey){ .up = (u), .name = (k)->str, .len = (k)->n })

struct yd_chunk;

struct ydoc {
	const char *name; /* labels errors */
	const unsigned char *text;
	size_t len;
	yaml_parser_t parser;
	struct yd_chunk *arena;
	char *err;
	size_t errlen;
	bool failed;
};

/* Start reading @text (@len bytes); @name labels errors. Returns 0, or -1 (recorded). */
int yd_open(struct ydoc *d, const char *name, const char *text, size_t len, char *err,
	    size_t errlen);
void yd_close(struct ydoc *d);

/* Record the first error (later ones are dropped). Always returns -1. */
int yd_fail(struct ydoc *d, int line, const struct ykey *key, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
int yd_oom(struct ydoc *d, int line, const struct ykey *key);

/* @key written out as in messages ("routes[3].path"), cut with "..." if long. */
const char *yd_key_str(char out[YD_KEY_MAX], const struct ykey *key);

/* Messages must be one line: control characters become '?'. */
void yd_one_line(char *s);

int yd_line(const yaml_mark_t *m);

/* The next event, or -1 with the syntax error recorded. */
int yd_next(struct ydoc *d, yaml_event_t *ev);

/* Refuse aliases, anchors, tags and nesting past YD_MAX_DEPTH at @ev. */
int yd_check_event(struct ydoc *d, const yaml_event_t *ev, const struct ykey *key, int depth);

/* Read the value that starts with @ev (consumed) into a tree in the arena. */
int yd_load(struct ydoc *d, yaml_event_t *ev, const struct ykey *key, int depth, struct ynode **out);

/* Bytes in the arena, gone at the next yd_reset. */
void *yd_alloc(struct ydoc *d, size_t size);
void yd_reset(struct ydoc *d);

/*
 * After an error in the content, read on to the end: a syntax error further
 * down has to be fixed first, so it replaces the recorded one.
 */
void yd_prefer_syntax_error(struct ydoc *d);

/* --- values in messages --------------------------------------------------- */

/* Escaped, cut at YD_QUOTE_MAX bytes on a UTF-8 boundary, in quotes if @quoted. */
struct yd_qbuf {
	char s[YD_QUOTE_MAX * 4 + 8];
};

const char *yd_show(struct yd_qbuf *q, const char *s, size_t n, bool quoted);
const char *yd_quote(struct yd_qbuf *q, const struct ynode *n);

/* "empty", "a string", "a list" or "a mapping". */
const char *yd_kind(const struct ynode *n);

/* --- typed getters: NULL or -1 when the value does not fit (recorded) ------ */

/* A string without NULs; @expect says what was wanted. */
const char *yd_want_scalar(struct ydoc *d, const struct ynode *n, const struct ykey *key,
			   const char *expect);

/* A decimal integer in lo..hi (no sign, no leading zero). */
int yd_want_uint(struct ydoc *d, const struct ynode *n, const struct ykey *key, uint32_t lo,
		 uint32_t hi, uint32_t *out);

/* @names[i] gives the value i; @what names the value in the message. */
int yd_want_enum(struct ydoc *d, const struct ynode *n, const struct ykey *key, const char *what,
		 const char *const *names, size_t count, const char *expect, int *out);

/* A string shorter than @size into @buf. */
int yd_want_string(struct ydoc *d, const struct ynode *n, const struct ykey *key, char *buf,
		   size_t size, const char *expect);

/* A mapping; @example shows one. */
int yd_want_map(struct ydoc *d, const struct ynode *n, const struct ykey *key, const char *example);

bool yd_all_digits(const char *s);

/* --- mappings: known keys, duplicates, typos ------------------------------ */

struct yd_field {
	const char *key;
	const struct ynode *val; /* NULL when absent */
	int line;		 /* of the key; 0 when absent */
};

#define YD_FIELDS_MAX 12

/*
 * Sort the keys of @map into @f[0..nf) (at most YD_FIELDS_MAX): an unknown key
 * gets a suggestion, a key given twice the line of the first.
 */
int yd_fields(struct ydoc *d, const struct ynode *map, const struct ykey *key, struct yd_field *f,
	      size_t nf);

/* "KEY.@name: missing; expected @expect", on the line of @map. */
int yd_missing(struct ydoc *d, const struct ynode *map, const struct ykey *key, const char *name,
	       const char *expect);

/* A key must be a string without NULs. */
int yd_check_key(struct ydoc *d, const struct ynode *k, const struct ykey *where);

/* Index of @k in @known, or -1. */
int yd_find_key(const struct ynode *k, const char *const *known, size_t nk);

/* The one of @known[0..nk) that @key (@len bytes) was probably meant as, or NULL. */
const char *yd_suggest(const char *key, size_t len, const char *const *known, size_t nk);

int yd_unknown_key(struct ydoc *d, const struct ynode *k, const struct ykey *where,
		   const char *const *known, size_t nk);

#endif
