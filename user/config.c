// SPDX-License-Identifier: GPL-2.0
/*
 * The balancer's YAML config (docs/config.md) into struct lb_config.
 *
 * libyaml's event parser is used rather than its document loader: the loader
 * keeps every node of the file in memory at once, and the route list is the
 * content directory, which may run to a million entries. Each top-level value, or each item of the
 * vips/backends/routes lists, is read into a small tree in an arena, checked,
 * copied into the config and dropped before the next one is read.
 *
 * Anchors, aliases and tags are refused: the config needs none of them and
 * they are the usual way to make a small YAML file expensive. Nesting is
 * limited for the same reason (libyaml's scanner goes quadratic in it).
 *
 * Every error is one line, "FILE:LINE: KEY: what is wrong; expected what",
 * and the first one found stops the parse.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#include "hex.h"
#include "host.h"
#include "config.h"
#include "defaults.h"
#include "maps.h"

#define CFG_MAX_DEPTH	16		/* the schema needs 5 levels */
#define CFG_MAX_BYTES	(512u << 20)	/* bigger than any sane directory */
#define CFG_KEY_MAX	192		/* "routes[123456].backends[12]" and room */
#define CFG_QUOTE_MAX	40		/* bytes of a value shown in a message */
#define CFG_SUGGEST_MAX 64		/* longer unknown keys get no suggestion */
#define ARENA_CHUNK	(64 * 1024)

/* --- arena: one per parse, emptied after each top-level value ------------ */

struct chunk {
	struct chunk *next; /* the older chunk */
	size_t size;
	size_t used;
	max_align_t data[];
};

struct arena {
	struct chunk *head;
};

static void *arena_alloc(struct arena *a, size_t size)
{
	struct chunk *c = a->head;
	void *ptr;

	if (size > SIZE_MAX / 2)
		return NULL;
	size = (size + sizeof(max_align_t) - 1) & ~(sizeof(max_align_t) - 1);
	if (!c || c->size - c->used < size) {
		size_t csize = size > ARENA_CHUNK ? size : ARENA_CHUNK;

		c = malloc(sizeof(*c) + csize);
		if (!c)
			return NULL;
		c->size = csize;
		c->used = 0;
		c->next = a->head;
		a->head = c;
	}
	ptr = (unsigned char *)c->data + c->used;
	c->used += size;
	return ptr;
}

/* Keep the oldest chunk so a million small routes do not mean a million mallocs. */
static void arena_reset(struct arena *a)
{
	struct chunk *c = a->head;

	if (!c)
		return;
	while (c->next) {
		struct chunk *next = c->next;

		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
}

static void arena_free(struct arena *a)
{
	while (a->head) {
		struct chunk *next = a->head->next;

		free(a->head);
		a->head = next;
	}
}

/* --- the tree of one value ----------------------------------------------- */

enum ynode_type {
	YN_NULL,   /* plain "", "~" or "null": nothing written */
	YN_SCALAR,
	YN_SEQ,
	YN_MAP,
};

struct ynode {
	enum ynode_type type;
	int line;
	size_t n; /* scalar: length (may hold NULs); else number of kids */
	union {
		char *str;	      /* NUL-terminated copy */
		struct ynode **kids; /* map: key, value, key, value, ... */
	};
};

/* --- parse state and errors ---------------------------------------------- */

/* Route backend names kept until the backends list has been read. */
struct pending {
	void *blk; /* n ints (lines), then n NUL-terminated names */
	size_t n;
};

/* A backend name and its index, sorted by name for lookups from routes. */
struct name_idx {
	const char *name;
	uint32_t idx;
};

enum section {
	S_INTERFACE,
	S_VIPS,
	S_BACKENDS,
	S_ROUTES,
	S_HEALTH,
	S_HANDOFF,
	S_METRICS,
	S_COOKIE,
	S_LIMITS,
	S_COUNT,
};

static const char *const section_names[S_COUNT] = {
	[S_INTERFACE] = "interface",
	[S_VIPS] = "vips",
	[S_BACKENDS] = "backends",
	[S_ROUTES] = "routes",
	[S_HEALTH] = "health",
	[S_HANDOFF] = "handoff",
	[S_METRICS] = "metrics",
	[S_COOKIE] = "cookie",
	[S_LIMITS] = "limits",
};

struct parse {
	const char *name; /* labels errors */
	const unsigned char *text;
	size_t len;
	yaml_parser_t parser;
	struct lb_config *cfg;
	struct arena arena;
	char *err;
	size_t errlen;
	bool failed;
	int doc_line;  /* of the document start, for an empty document */
	int root_line;
	int seen[S_COUNT]; /* line of each top-level key, 0 if absent */
	size_t cap_vips, cap_backends, cap_routes, cap_pending;
	struct pending *pending; /* per route, while backends are unknown */
	struct name_idx *by_name; /* set once the backends list is complete */
};

static void one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

/* Record the first error; later ones are consequences of it. Returns -1. */
static int __attribute__((format(printf, 4, 5)))
fail(struct parse *p, int line, const char *key, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (p->failed)
		return -1;
	p->failed = true;
	if (!p->err || !p->errlen)
		return -1;
	n = snprintf(p->err, p->errlen, "%s:%d: %s: ", p->name, line, key);
	if (n >= 0 && (size_t)n < p->errlen) {
		va_start(ap, fmt);
		vsnprintf(p->err + n, p->errlen - n, fmt, ap);
		va_end(ap);
	}
	/* File names and values may hold newlines; the message must not. */
	one_line(p->err);
	return -1;
}

static int oom(struct parse *p, int line, const char *key)
{
	return fail(p, line, key, "out of memory; expected a smaller config");
}

/*
 * A value as it may appear in a message: escaped, cut at CFG_QUOTE_MAX bytes
 * (on a UTF-8 boundary) and, if @quoted, in double quotes.
 */
struct qbuf {
	char s[CFG_QUOTE_MAX * 4 + 8];
};

static const char *show(struct qbuf *q, const char *s, size_t n, bool quoted)
{
	size_t i, o = 0, lim = n;
	bool cut = false;

	if (lim > CFG_QUOTE_MAX) {
		lim = CFG_QUOTE_MAX;
		while (lim > 0 && ((unsigned char)s[lim] & 0xc0) == 0x80)
			lim--;
		cut = true;
	}
	if (quoted)
		q->s[o++] = '"';
	for (i = 0; i < lim; i++) {
		unsigned char c = s[i];

		if (c == '"' || c == '\\') {
			q->s[o++] = '\\';
			q->s[o++] = c;
		} else if (c < 0x20 || c == 0x7f) {
			o += sprintf(q->s + o, "\\x%02x", c);
		} else {
			q->s[o++] = c;
		}
	}
	if (cut) {
		memcpy(q->s + o, "...", 3);
		o += 3;
	}
	if (quoted)
		q->s[o++] = '"';
	q->s[o] = '\0';
	return q->s;
}

static const char *quote(struct qbuf *q, const struct ynode *n)
{
	return show(q, n->str, n->n, true);
}

/* A key path that did not fit says so rather than ending mid-name. */
static const char *key_cut(char out[CFG_KEY_MAX], int n)
{
	if (n >= CFG_KEY_MAX)
		memcpy(out + CFG_KEY_MAX - 4, "...", 4);
	return out;
}

static const char *subkey(char out[CFG_KEY_MAX], const char *where, const char *key)
{
	return key_cut(out, snprintf(out, CFG_KEY_MAX, "%s%s%s", where, *where ? "." : "", key));
}

static const char *subidx(char out[CFG_KEY_MAX], const char *where, size_t i)
{
	return key_cut(out, snprintf(out, CFG_KEY_MAX, "%s[%zu]", where, i));
}

static const char *kind(const struct ynode *n)
{
	switch (n->type) {
	case YN_NULL:
		return "empty";
	case YN_SEQ:
		return "a list";
	case YN_MAP:
		return "a mapping";
	default:
		return "a string";
	}
}

/* --- reading events into trees ------------------------------------------- */

static int line_of(const yaml_mark_t *m)
{
	return m->line >= INT_MAX ? INT_MAX : (int)m->line + 1;
}

/* Line of byte @off, for reader errors which come without a line. */
static int line_at(const struct parse *p, size_t off)
{
	size_t i;
	int line = 1;

	for (i = 0; i < off && i < p->len; i++)
		if (p->text[i] == '\n' && line < INT_MAX)
			line++;
	return line;
}

/* Whether @line starts with whitespace holding a tab. */
static bool indented_with_tab(const struct parse *p, int line)
{
	size_t i = 0;
	int l = 1;

	for (; i < p->len && l < line; i++)
		if (p->text[i] == '\n')
			l++;
	for (; i < p->len && (p->text[i] == ' ' || p->text[i] == '\t'); i++)
		if (p->text[i] == '\t')
			return true;
	return false;
}

static int syntax_error(struct parse *p)
{
	const yaml_parser_t *y = &p->parser;
	const char *problem = y->problem ? y->problem : "unknown error";
	int line = line_of(&y->problem_mark);
	const char *expect = "expected valid YAML";

	switch (y->error) {
	case YAML_MEMORY_ERROR:
		return oom(p, line, "YAML");
	case YAML_READER_ERROR:
		if (y->problem_value >= 0)
			return fail(p, line_at(p, y->problem_offset), "YAML",
				    "%s (byte 0x%02x at offset %zu); expected UTF-8 text", problem,
				    y->problem_value & 0xff, y->problem_offset);
		return fail(p, line_at(p, y->problem_offset), "YAML",
			    "%s (at offset %zu); expected UTF-8 text", problem, y->problem_offset);
	default:
		break;
	}
	/* Tabs are the usual culprit and libyaml does not say so. */
	if (indented_with_tab(p, line))
		expect = "expected spaces for indentation, not tabs";
	if (y->context && line_of(&y->context_mark) != line)
		return fail(p, line, "YAML", "%s %s (line %d); %s", problem, y->context,
			    line_of(&y->context_mark), expect);
	if (y->context)
		return fail(p, line, "YAML", "%s %s; %s", problem, y->context, expect);
	return fail(p, line, "YAML", "%s; %s", problem, expect);
}

static int next_event(struct parse *p, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&p->parser, ev))
		return syntax_error(p);
	return 0;
}

/* Refuse the YAML features the config does not use (see the top comment). */
static int check_event(struct parse *p, const yaml_event_t *ev, const char *where, int depth)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;
	int line = line_of(&ev->start_mark);
	struct qbuf q;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		anchor = ev->data.alias.anchor;
		return fail(p, line, where, "aliases (*%s) are not supported; expected the value written out",
			    show(&q, (const char *)anchor, strlen((const char *)anchor), false));
	case YAML_SCALAR_EVENT:
		anchor = ev->data.scalar.anchor;
		tag = ev->data.scalar.tag;
		break;
	case YAML_SEQUENCE_START_EVENT:
		anchor = ev->data.sequence_start.anchor;
		tag = ev->data.sequence_start.tag;
		break;
	case YAML_MAPPING_START_EVENT:
		anchor = ev->data.mapping_start.anchor;
		tag = ev->data.mapping_start.tag;
		break;
	default:
		return fail(p, line, where, "unexpected YAML event %d; expected a value", ev->type);
	}
	if (anchor)
		return fail(p, line, where, "anchors (&%s) are not supported; expected plain values",
			    show(&q, (const char *)anchor, strlen((const char *)anchor), false));
	if (tag)
		return fail(p, line, where, "tags (%s) are not supported; expected plain values",
			    show(&q, (const char *)tag, strlen((const char *)tag), false));
	if (depth > CFG_MAX_DEPTH)
		return fail(p, line, where, "nested more than %d levels deep; expected at most %d",
			    CFG_MAX_DEPTH, CFG_MAX_DEPTH);
	return 0;
}

static bool is_null(const yaml_event_t *ev)
{
	const char *v = (const char *)ev->data.scalar.value;
	size_t n = ev->data.scalar.length;

	if (ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	return n == 0 || (n == 1 && v[0] == '~') ||
	       (n == 4 && (!memcmp(v, "null", 4) || !memcmp(v, "Null", 4) || !memcmp(v, "NULL", 4)));
}

/*
 * Read the value that starts with @ev (which this consumes) into a tree.
 * Recursion is bounded by CFG_MAX_DEPTH.
 */
static int load_node(struct parse *p, yaml_event_t *ev, const char *where, int depth,
		     struct ynode **out)
{
	struct ynode *n, **kids = NULL, **grown;
	size_t cap = 0;
	yaml_event_type_t end;
	char key[CFG_KEY_MAX];
	int ret = -1;

	if (check_event(p, ev, where, depth))
		goto out;
	n = arena_alloc(&p->arena, sizeof(*n));
	if (!n) {
		oom(p, line_of(&ev->start_mark), where);
		goto out;
	}
	memset(n, 0, sizeof(*n));
	n->line = line_of(&ev->start_mark);
	if (ev->type == YAML_SCALAR_EVENT) {
		n->type = is_null(ev) ? YN_NULL : YN_SCALAR;
		n->n = ev->data.scalar.length;
		n->str = arena_alloc(&p->arena, n->n + 1);
		if (!n->str) {
			oom(p, n->line, where);
			goto out;
		}
		memcpy(n->str, ev->data.scalar.value, n->n);
		n->str[n->n] = '\0';
		*out = n;
		ret = 0;
		goto out;
	}
	n->type = ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP;
	end = n->type == YN_SEQ ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
	yaml_event_delete(ev);
	for (;;) {
		const char *kwhere = where;
		struct ynode *kid;

		if (next_event(p, ev))
			return -1;
		if (ev->type == end)
			break;
		if (n->type == YN_SEQ) {
			kwhere = subidx(key, where, n->n);
		} else if (n->n % 2) {
			/* A value: name it after its key, when that is a string. */
			const struct ynode *k = kids[n->n - 1];
			struct qbuf q;

			if (k->type == YN_SCALAR)
				kwhere = subkey(key, where, show(&q, k->str, k->n, false));
		}
		if (load_node(p, ev, kwhere, depth + 1, &kid))
			return -1;
		if (n->n == cap) {
			cap = cap ? cap * 2 : 8;
			grown = arena_alloc(&p->arena, cap * sizeof(*kids));
			if (!grown)
				return oom(p, kid->line, where);
			if (n->n)
				memcpy(grown, kids, n->n * sizeof(*kids));
			kids = grown;
		}
		kids[n->n++] = kid;
	}
	n->kids = kids;
	*out = n;
	ret = 0;
out:
	yaml_event_delete(ev);
	return ret;
}

/* --- scalar checks ------------------------------------------------------- */

static const char *want_scalar(struct parse *p, const struct ynode *n, const char *key,
			       const char *expect)
{
	if (n->type != YN_SCALAR) {
		fail(p, n->line, key, "is %s; expected %s", kind(n), expect);
		return NULL;
	}
	/* "\0" in a quoted string would cut names short behind our back. */
	if (strlen(n->str) != n->n) {
		fail(p, n->line, key, "contains a NUL character; expected %s", expect);
		return NULL;
	}
	return n->str;
}

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

static int want_uint(struct parse *p, const struct ynode *n, const char *key, uint32_t lo,
		     uint32_t hi, uint32_t *out)
{
	char expect[64];
	const char *s, *d;
	uint64_t v = 0;
	bool neg = false, big = false;
	struct qbuf q;
	char *end;

	snprintf(expect, sizeof(expect), "an integer %u..%u", lo, hi);
	s = want_scalar(p, n, key, expect);
	if (!s)
		return -1;
	d = s;
	if (*d == '-' || *d == '+')
		neg = *d++ == '-';
	if (!all_digits(d)) {
		if (*s && (strtod(s, &end), !*end))
			return fail(p, n->line, key, "%s is not a decimal integer; expected %s",
				    quote(&q, n), expect);
		return fail(p, n->line, key, "%s is not a number; expected %s", quote(&q, n), expect);
	}
	/* YAML 1.1 reads 010 as 8; refuse rather than guess which was meant. */
	if (d[0] == '0' && d[1])
		return fail(p, n->line, key, "%s has a leading zero (octal in YAML 1.1); expected %s",
			    quote(&q, n), expect);
	for (; *d; d++) {
		v = v * 10 + (uint64_t)(*d - '0');
		if (v > UINT32_MAX) {
			big = true;
			break;
		}
	}
	if (big || (neg && v) || v < lo || v > hi)
		return fail(p, n->line, key, "%s is out of range; expected %s",
			    show(&q, n->str, n->n, false), expect);
	*out = (uint32_t)v;
	return 0;
}

/* @names[i] gives the value i; @what names the value in the message. */
static int want_enum(struct parse *p, const struct ynode *n, const char *key, const char *what,
		     const char *const *names, size_t count, const char *expect, int *out)
{
	const char *s = want_scalar(p, n, key, expect);
	struct qbuf q;
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < count; i++) {
		if (names[i] && !strcmp(s, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return fail(p, n->line, key, "%s is not %s; expected %s", quote(&q, n), what, expect);
}

static int want_string(struct parse *p, const struct ynode *n, const char *key, char *buf,
		       size_t size, const char *expect)
{
	const char *s = want_scalar(p, n, key, expect);
	struct qbuf q;

	if (!s)
		return -1;
	if (n->n >= size)
		return fail(p, n->line, key, "%s is too long (%zu bytes); expected at most %zu",
			    quote(&q, n), n->n, size - 1);
	memcpy(buf, s, n->n + 1);
	return 0;
}

/* An IPv4 address that can be a VIP or a backend: unicast, not loopback. */
static int want_ipv4(struct parse *p, const struct ynode *n, const char *key, struct in_addr *out)
{
	static const char expect[] = "a unicast IPv4 address like 192.0.2.80";
	const char *s = want_scalar(p, n, key, expect), *why = NULL;
	struct in_addr a;
	struct qbuf q;
	uint8_t first;

	if (!s)
		return -1;
	if (inet_pton(AF_INET, s, &a) != 1)
		return fail(p, n->line, key, "%s is not an IPv4 address; expected %s", quote(&q, n),
			    expect);
	first = ntohl(a.s_addr) >> 24;
	if (first == 0)
		why = "in 0.0.0.0/8";
	else if (first == 127)
		why = "a loopback address";
	else if (first >= 224 && first < 240)
		why = "a multicast address";
	else if (first >= 240)
		why = "a reserved or broadcast address";
	if (why)
		return fail(p, n->line, key, "%s is %s; expected %s", quote(&q, n), why, expect);
	*out = a;
	return 0;
}

/* --- mappings: known keys, duplicates, typos ------------------------------ */

struct field {
	const char *key;
	const struct ynode *val; /* NULL when absent */
	int line;		 /* of the key; 0 when absent */
};

/* Optimal string alignment distance: a swapped pair of letters counts once. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t rows[3][CFG_SUGGEST_MAX + 1], *pp = rows[0], *pr = rows[1], *cur = rows[2], *t;
	size_t i, j;

	if (la > CFG_SUGGEST_MAX || lb > CFG_SUGGEST_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		pr[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], d = pr[j - 1] + cost;

			if (pr[j] + 1 < d)
				d = pr[j] + 1;
			if (cur[j - 1] + 1 < d)
				d = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < d)
				d = pp[j - 2] + 1;
			cur[j] = d;
		}
		t = pp;
		pp = pr;
		pr = cur;
		cur = t;
	}
	return pr[lb];
}

/* The known key @key was probably meant as, or NULL. */
static const char *suggest(const char *key, size_t len, const char *const *known, size_t nk)
{
	char low[CFG_SUGGEST_MAX + 1];
	const char *best = NULL;
	size_t i, best_d = SIZE_MAX;

	if (!len || len > CFG_SUGGEST_MAX)
		return NULL;
	for (i = 0; i < len; i++)
		low[i] = key[i] >= 'A' && key[i] <= 'Z' ? key[i] - 'A' + 'a' : key[i];
	low[len] = '\0';
	for (i = 0; i < nk; i++) {
		size_t kl = strlen(known[i]), d = edit_distance(low, len, known[i], kl);
		size_t limit = kl / 4 < 1 ? 1 : kl / 4 > 3 ? 3 : kl / 4;
		size_t shorter = kl < len ? kl : len;

		/* "interval" for "interval_ms": a unit left off is a typo too. */
		if (d > limit && !(shorter >= 4 && !strncmp(low, known[i], shorter)))
			continue;
		if (d < best_d) {
			best_d = d;
			best = known[i];
		}
	}
	return best;
}

static int unknown_key(struct parse *p, const struct ynode *k, const char *where,
		       const char *const *known, size_t nk)
{
	char key[CFG_KEY_MAX], list[256];
	const char *hint = suggest(k->str, k->n, known, nk);
	size_t i, o = 0;
	struct qbuf q;

	subkey(key, where, show(&q, k->str, k->n, false));
	if (k->n == 2 && !memcmp(k->str, "<<", 2))
		return fail(p, k->line, key, "merge keys are not supported; expected the keys written out");
	if (hint)
		return fail(p, k->line, key, "unknown key; did you mean '%s'?", hint);
	list[0] = '\0';
	for (i = 0; i < nk && o < sizeof(list); i++)
		o += snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", known[i]);
	return fail(p, k->line, key, "unknown key; expected one of %s", list);
}

/* A key must be a string; anything else gets one message. */
static int check_key(struct parse *p, const struct ynode *k, const char *where)
{
	if (k->type == YN_SCALAR && strlen(k->str) == k->n)
		return 0;
	return fail(p, k->line, *where ? where : "config", "has a key that is %s; expected a plain key",
		    k->type == YN_SCALAR ? "a string with a NUL character" : kind(k));
}

static int find_key(const struct ynode *k, const char *const *known, size_t nk)
{
	size_t i;

	for (i = 0; i < nk; i++)
		if (!strcmp(k->str, known[i]))
			return (int)i;
	return -1;
}

static int map_fields(struct parse *p, const struct ynode *map, const char *where, struct field *f,
		      size_t nf)
{
	const char *known[8];
	char key[CFG_KEY_MAX];
	size_t i;
	int j;

	/* Sized for the widest mapping (backends: 8 keys). */
	if (nf > sizeof(known) / sizeof(known[0]))
		return fail(p, map->line, where, "internal error: too many keys; expected at most 8");
	for (i = 0; i < nf; i++)
		known[i] = f[i].key;
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *k = map->kids[i];

		if (check_key(p, k, where))
			return -1;
		j = find_key(k, known, nf);
		if (j < 0)
			return unknown_key(p, k, where, known, nf);
		if (f[j].line)
			return fail(p, k->line, subkey(key, where, f[j].key),
				    "given twice (first at line %d); expected each key once", f[j].line);
		f[j].val = map->kids[i + 1];
		f[j].line = k->line;
	}
	return 0;
}

/* An optional section written as just "health:" keeps its defaults. */
static int want_map(struct parse *p, const struct ynode *n, const char *key, const char *example)
{
	if (n->type == YN_MAP)
		return 0;
	return fail(p, n->line, key, "is %s; expected a mapping like %s", kind(n), example);
}

static int missing(struct parse *p, const struct ynode *map, const char *where, const char *key,
		   const char *expect)
{
	char k[CFG_KEY_MAX];

	return fail(p, map->line, subkey(k, where, key), "missing; expected %s", expect);
}

/* --- names, hosts and paths ---------------------------------------------- */

/* Backend and route names end up as metric labels and in log lines. */
static int want_name(struct parse *p, const struct ynode *n, const char *key, char *buf)
{
	static const char expect[] = "a name of 1..63 letters, digits, '-', '_' or '.'";
	const char *s = want_scalar(p, n, key, expect);
	struct qbuf q;
	size_t i;

	if (!s)
		return -1;
	if (!n->n || n->n >= LB_NAME_MAX)
		return fail(p, n->line, key, "%s has %zu characters; expected %s", quote(&q, n), n->n,
			    expect);
	for (i = 0; i < n->n; i++) {
		char c = s[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_' || c == '.'))
			return fail(p, n->line, key, "%s is not a valid name; expected %s", quote(&q, n),
				    expect);
	}
	memcpy(buf, s, n->n + 1);
	return 0;
}

static int want_host(struct parse *p, const struct ynode *n, const char *key, char **out)
{
	static const char expect[] = "\"*\", a hostname like example.com, \"*.example.com\" or "
				     "an IP-literal like [2001:db8::1]";
	const char *s = want_scalar(p, n, key, expect), *why = NULL;
	char canon[LB_HOST_MAX];
	size_t off = 0, len;
	struct qbuf q;
	char *h;

	if (!s)
		return -1;
	if (!strcmp(s, "*")) {
		h = strdup(s);
	} else {
		if (n->n > 2 && s[0] == '*' && s[1] == '.')
			off = 2;
		len = lb_host_canon(s + off, n->n - off, canon, &why);
		if (!len)
			return fail(p, n->line, key, "%s is not a valid host (%s); expected %s",
				    quote(&q, n), why, expect);
		/* Stored canonical ("*." kept), as requests' hosts are compared. */
		h = malloc(off + len + 1);
		if (h) {
			memcpy(h, s, off);
			memcpy(h + off, canon, len);
			h[off + len] = '\0';
		}
	}
	if (!h)
		return oom(p, n->line, key);
	*out = h;
	return 0;
}


/*
 * A route path or prefix. Requests are percent-decoded and dot-segment
 * normalised before they are matched, so the config is decoded the same way
 * here, and a path that normalisation would rewrite is refused: it could never
 * match anything.
 */
static int want_route_path(struct parse *p, const struct ynode *n, const char *key, char **out)
{
	static const char expect[] = "a path starting with '/' like /images/";
	const char *s = want_scalar(p, n, key, expect), *seg;
	struct qbuf q;
	size_t i, o = 0;
	char *d;

	if (!s)
		return -1;
	if (s[0] != '/')
		return fail(p, n->line, key, "%s does not start with '/'; expected %s", quote(&q, n),
			    expect);
	if (strpbrk(s, "?#"))
		return fail(p, n->line, key,
			    "%s has a query or fragment; expected just the path (routes match the path only)",
			    quote(&q, n));
	d = malloc(n->n + 1);
	if (!d)
		return oom(p, n->line, key);
	for (i = 0; i < n->n; i++) {
		if (s[i] != '%') {
			d[o++] = s[i];
			continue;
		}
		if (i + 2 >= n->n || lb_hex_digit(s[i + 1]) < 0 || lb_hex_digit(s[i + 2]) < 0) {
			free(d);
			return fail(p, n->line, key,
				    "%s has a bad percent escape; expected %%XX with two hex digits",
				    quote(&q, n));
		}
		d[o++] = (char)(lb_hex_digit(s[i + 1]) << 4 | lb_hex_digit(s[i + 2]));
		i += 2;
	}
	d[o] = '\0';
	for (i = 0; i < o; i++) {
		if ((unsigned char)d[i] < 0x20 || d[i] == 0x7f) {
			free(d);
			return fail(p, n->line, key,
				    "%s has a control character (after percent-decoding); expected %s",
				    quote(&q, n), expect);
		}
	}
	/* Normalised request paths never hold "//" either: such a route could not match. */
	if (strstr(d, "//")) {
		free(d);
		return fail(p, n->line, key,
			    "%s has an empty segment (\"//\", after percent-decoding), which requests "
			    "never have after normalisation; expected %s", quote(&q, n), expect);
	}
	for (seg = d; seg; seg = strchr(seg + 1, '/')) {
		size_t len = strcspn(seg + 1, "/");

		if ((len == 1 && seg[1] == '.') || (len == 2 && seg[1] == '.' && seg[2] == '.')) {
			free(d);
			return fail(p, n->line, key,
				    "%s has a '.' or '..' segment, which requests never have after normalisation; expected %s",
				    quote(&q, n), expect);
		}
	}
	if (o >= LB_PATH_MAX) {
		free(d);
		return fail(p, n->line, key, "is %zu bytes long; expected at most %d", o,
			    LB_PATH_MAX - 1);
	}
	*out = d;
	return 0;
}

/* --- sections ------------------------------------------------------------ */

/* An interface name at @key into @buf (LB_IFNAME_MAX bytes). */
static int want_ifname(struct parse *p, const struct ynode *n, const char *key, char *buf)
{
	static const char expect[] = "a network interface name like eth0";
	const char *s = want_scalar(p, n, key, expect);
	struct qbuf q;
	size_t i;

	if (!s)
		return -1;
	if (!n->n || n->n >= LB_IFNAME_MAX)
		return fail(p, n->line, key, "%s has %zu characters; expected 1..%d", quote(&q, n),
			    n->n, LB_IFNAME_MAX - 1);
	/* The kernel's rules (dev_valid_name), kept to printable ASCII. */
	for (i = 0; i < n->n; i++)
		if (s[i] <= ' ' || s[i] > '~' || s[i] == '/' || s[i] == ':')
			break;
	if (i < n->n || !strcmp(s, ".") || !strcmp(s, ".."))
		return fail(p, n->line, key, "%s is not a valid interface name; expected %s",
			    quote(&q, n), expect);
	memcpy(buf, s, n->n + 1);
	return 0;
}

static int parse_interface(struct parse *p, const struct ynode *n)
{
	return want_ifname(p, n, "interface", p->cfg->interface);
}

/* Grow an array of @size-byte elements to hold @need of them. */
static int grow(void **arr, size_t *cap, size_t need, size_t size)
{
	size_t ncap = *cap ? *cap : 8;
	void *n;

	if (need <= *cap)
		return 0;
	while (ncap < need)
		ncap *= 2;
	n = realloc(*arr, ncap * size);
	if (!n)
		return -1;
	/* Zeroed so that cleanup after a failure can free every slot. */
	memset((char *)n + *cap * size, 0, (ncap - *cap) * size);
	*arr = n;
	*cap = ncap;
	return 0;
}

static int parse_vip(struct parse *p, const struct ynode *n, size_t idx)
{
	static const char *const modes[] = { [LB_VIP_HTTP] = "http", [LB_VIP_TCP] = "tcp" };
	enum { V_ADDRESS, V_PORT, V_MODE, V_N };
	struct field f[V_N] = { [V_ADDRESS] = { "address" }, [V_PORT] = { "port" }, [V_MODE] = { "mode" } };
	struct lb_config *cfg = p->cfg;
	char where[CFG_KEY_MAX], key[CFG_KEY_MAX], addr[INET_ADDRSTRLEN];
	struct lb_cfg_vip v = { .mode = LB_VIP_HTTP, .line = n->line };
	uint32_t port;
	size_t i;

	subidx(where, "vips", idx);
	if (idx >= LB_MAX_VIPS)
		return fail(p, n->line, where, "one VIP too many; expected at most %d", LB_MAX_VIPS);
	if (want_map(p, n, where, "{address: 192.0.2.80, port: 80, mode: http}") ||
	    map_fields(p, n, where, f, V_N))
		return -1;
	if (!f[V_ADDRESS].val)
		return missing(p, n, where, "address", "the VIP's IPv4 address, e.g. address: 192.0.2.80");
	if (want_ipv4(p, f[V_ADDRESS].val, subkey(key, where, "address"), &v.address))
		return -1;
	if (!f[V_PORT].val)
		return missing(p, n, where, "port", "the VIP's TCP port, e.g. port: 80");
	if (want_uint(p, f[V_PORT].val, subkey(key, where, "port"), 1, 65535, &port))
		return -1;
	v.port = (uint16_t)port;
	if (f[V_MODE].val && want_enum(p, f[V_MODE].val, subkey(key, where, "mode"), "a VIP mode",
				       modes, 2, "http", &v.mode))
		return -1;
	/* Binding on the handshake is not built: every such connection would be reset. */
	if (v.mode == LB_VIP_TCP)
		return fail(p, f[V_MODE].val->line, subkey(key, where, "mode"),
			    "tcp (binding on the handshake) is not built in this version; expected "
			    "http");
	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].address.s_addr == v.address.s_addr && cfg->vips[i].port == v.port)
			return fail(p, n->line, where,
				    "%s:%u is already vips[%zu] (line %d); expected each address and port once",
				    inet_ntop(AF_INET, &v.address, addr, sizeof(addr)), v.port, i,
				    cfg->vips[i].line);
	if (grow((void **)&cfg->vips, &p->cap_vips, cfg->n_vips + 1, sizeof(v)))
		return oom(p, n->line, where);
	cfg->vips[cfg->n_vips++] = v;
	return 0;
}

static int parse_mac(const char *s, uint8_t mac[6])
{
	int i, hi, lo;

	for (i = 0; i < 6; i++) {
		hi = lb_hex_digit(s[0]);
		lo = hi < 0 ? -1 : lb_hex_digit(s[1]);
		if (lo < 0)
			return -1;
		mac[i] = (uint8_t)(hi << 4 | lo);
		s += 2;
		if (i < 5 && *s++ != ':')
			return -1;
	}
	return *s ? -1 : 0;
}

static int parse_backend(struct parse *p, const struct ynode *n, size_t idx)
{
	static const char *const handoffs[] = { [LB_HANDOFF_COOKIE] = "cookie",
						[LB_HANDOFF_REPLAY] = "replay" };
	static const char *const states[] = { [LB_BACKEND_UP] = "up", [LB_BACKEND_DRAINING] = "draining" };
	static const char mac_expect[] = "a unicast MAC address like \"02:00:00:00:00:11\"";
	enum { B_NAME, B_ADDRESS, B_MAC, B_WEIGHT, B_HANDOFF, B_STATE, B_HEALTH_PATH, B_INTERFACE,
	       B_N };
	struct field f[B_N] = {
		[B_NAME] = { "name" },	   [B_ADDRESS] = { "address" }, [B_MAC] = { "mac" },
		[B_WEIGHT] = { "weight" }, [B_HANDOFF] = { "handoff" }, [B_STATE] = { "state" },
		[B_HEALTH_PATH] = { "health_path" }, [B_INTERFACE] = { "interface" },
	};
	struct lb_cfg_backend b = {
		.weight = 1,
		.handoff = LB_HANDOFF_COOKIE,
		.state = LB_BACKEND_UP,
		.line = n->line,
	};
	struct lb_config *cfg = p->cfg;
	char where[CFG_KEY_MAX], key[CFG_KEY_MAX], addr[INET_ADDRSTRLEN];
	uint32_t weight;
	struct qbuf q;
	const char *s;
	size_t i;

	subidx(where, "backends", idx);
	if (idx >= LB_MAX_BACKENDS)
		return fail(p, n->line, where, "one backend too many; expected at most %d",
			    LB_MAX_BACKENDS);
	if (want_map(p, n, where, "{name: web1, address: 198.51.100.11}") ||
	    map_fields(p, n, where, f, B_N))
		return -1;
	if (!f[B_NAME].val)
		return missing(p, n, where, "name", "a name for the backend, e.g. name: web1");
	subkey(key, where, "name");
	if (want_name(p, f[B_NAME].val, key, b.name))
		return -1;
	for (i = 0; i < cfg->n_backends; i++)
		if (!strcmp(cfg->backends[i].name, b.name))
			return fail(p, f[B_NAME].val->line, key,
				    "%s is already backends[%zu] (line %d); expected unique names",
				    quote(&q, f[B_NAME].val), i, cfg->backends[i].line);
	if (!f[B_ADDRESS].val)
		return missing(p, n, where, "address",
			       "the backend's IPv4 address, e.g. address: 198.51.100.11");
	subkey(key, where, "address");
	if (want_ipv4(p, f[B_ADDRESS].val, key, &b.address))
		return -1;
	/* Two entries for one machine would split its flows and its health. */
	for (i = 0; i < cfg->n_backends; i++)
		if (cfg->backends[i].address.s_addr == b.address.s_addr)
			return fail(p, f[B_ADDRESS].val->line, key,
				    "%s is already the address of %s (line %d); expected one backend per address",
				    inet_ntop(AF_INET, &b.address, addr, sizeof(addr)),
				    cfg->backends[i].name, cfg->backends[i].line);
	if (f[B_MAC].val) {
		subkey(key, where, "mac");
		s = want_scalar(p, f[B_MAC].val, key, mac_expect);
		if (!s)
			return -1;
		if (parse_mac(s, b.mac) || (b.mac[0] & 1) || !memcmp(b.mac, "\0\0\0\0\0\0", 6))
			return fail(p, f[B_MAC].val->line, key, "%s is not a unicast MAC; expected %s",
				    quote(&q, f[B_MAC].val), mac_expect);
		b.mac_given = true;
	}
	if (f[B_WEIGHT].val) {
		if (want_uint(p, f[B_WEIGHT].val, subkey(key, where, "weight"), 1, 65535, &weight))
			return -1;
		b.weight = (uint16_t)weight;
	}
	if (f[B_HANDOFF].val && want_enum(p, f[B_HANDOFF].val, subkey(key, where, "handoff"),
					  "a handoff mode", handoffs, 2, "cookie or replay", &b.handoff))
		return -1;
	if (f[B_STATE].val) {
		subkey(key, where, "state");
		s = want_scalar(p, f[B_STATE].val, key, "up or draining");
		if (!s)
			return -1;
		/* Down is what health checks conclude, not something to configure. */
		if (!strcmp(s, "down"))
			return fail(p, f[B_STATE].val->line, key,
				    "\"down\" is set by health checks only; expected up or draining");
		if (want_enum(p, f[B_STATE].val, key, "a backend state", states, 3, "up or draining",
			      &b.state))
			return -1;
	}
	if (f[B_HEALTH_PATH].val) {
		const struct ynode *v = f[B_HEALTH_PATH].val;

		subkey(key, where, "health_path");
		if (want_string(p, v, key, b.health_path, sizeof(b.health_path),
				"a request path like /healthz"))
			return -1;
		for (i = 0; i < v->n; i++)
			if (b.health_path[i] <= ' ' || b.health_path[i] > '~' || b.health_path[i] == '#')
				break;
		if (b.health_path[0] != '/' || i < v->n)
			return fail(p, v->line, key, "%s is not a request path; expected a request "
				    "path like /healthz (printable, no spaces)", quote(&q, v));
	}
	if (f[B_INTERFACE].val) {
		if (want_ifname(p, f[B_INTERFACE].val, subkey(key, where, "interface"), b.interface))
			return -1;
		b.interface_line = f[B_INTERFACE].val->line;
	}
	if (grow((void **)&cfg->backends, &p->cap_backends, cfg->n_backends + 1, sizeof(b)))
		return oom(p, n->line, where);
	cfg->backends[cfg->n_backends++] = b;
	return 0;
}

static int cmp_name_idx(const void *a, const void *b)
{
	return strcmp(((const struct name_idx *)a)->name, ((const struct name_idx *)b)->name);
}

/* The backends list is complete: routes can name backends from now on. */
static int index_backends(struct parse *p, int line)
{
	struct lb_config *cfg = p->cfg;
	size_t i;

	p->by_name = calloc(cfg->n_backends ? cfg->n_backends : 1, sizeof(*p->by_name));
	if (!p->by_name)
		return oom(p, line, "backends");
	for (i = 0; i < cfg->n_backends; i++) {
		p->by_name[i].name = cfg->backends[i].name;
		p->by_name[i].idx = (uint32_t)i;
	}
	qsort(p->by_name, cfg->n_backends, sizeof(*p->by_name), cmp_name_idx);
	return 0;
}

static int unknown_backend(struct parse *p, int line, const char *key, const char *name)
{
	const struct lb_config *cfg = p->cfg;
	char list[300];
	size_t i, o = 0;
	struct qbuf q;

	list[0] = '\0';
	for (i = 0; i < cfg->n_backends; i++) {
		size_t len = strlen(cfg->backends[i].name);

		if (o + len + 7 >= sizeof(list)) {
			strcpy(list + o, ", ...");
			break;
		}
		o += sprintf(list + o, "%s%s", i ? ", " : "", cfg->backends[i].name);
	}
	return fail(p, line, key, "unknown backend %s; expected one of %s",
		    show(&q, name, strlen(name), true), list);
}

/* Turn route @ri's packed backend names (see struct pending) into indexes. */
static int resolve_route(struct parse *p, size_t ri, const void *blk, size_t n)
{
	struct lb_cfg_route *r = &p->cfg->routes[ri];
	const int *lines = blk;
	const char *name = (const char *)(lines + n);
	char key[CFG_KEY_MAX], where[CFG_KEY_MAX];
	struct name_idx want = { 0 }, *hit;
	size_t i, j;

	r->backends = calloc(n, sizeof(*r->backends));
	if (!r->backends)
		return oom(p, r->line, subidx(where, "routes", ri));
	for (i = 0; i < n; i++, name += strlen(name) + 1) {
		subidx(key, subkey(where, subidx(key, "routes", ri), "backends"), i);
		want.name = name;
		hit = bsearch(&want, p->by_name, p->cfg->n_backends, sizeof(want), cmp_name_idx);
		if (!hit)
			return unknown_backend(p, lines[i], key, name);
		for (j = 0; j < r->n_backends; j++)
			if (r->backends[j] == hit->idx)
				return fail(p, lines[i], key,
					    "backend %s is listed twice; expected each backend once", name);
		r->backends[r->n_backends++] = hit->idx;
	}
	return 0;
}

static int parse_route(struct parse *p, const struct ynode *n, size_t idx)
{
	enum { R_NAME, R_HOST, R_PATH, R_PREFIX, R_BACKENDS, R_N };
	struct field f[R_N] = {
		[R_NAME] = { "name" },	   [R_HOST] = { "host" },	  [R_PATH] = { "path" },
		[R_PREFIX] = { "prefix" }, [R_BACKENDS] = { "backends" },
	};
	static const char list_expect[] = "a list of backend names like [web1, web2]";
	struct lb_config *cfg = p->cfg;
	char where[CFG_KEY_MAX], key[CFG_KEY_MAX], name[LB_NAME_MAX];
	struct lb_cfg_route *r;
	const struct ynode *bl;
	size_t i, size;
	unsigned char *blk;
	char *names;
	int *lines;

	subidx(where, "routes", idx);
	if (want_map(p, n, where, "{host: \"*\", prefix: /, backends: [web1]}") ||
	    map_fields(p, n, where, f, R_N))
		return -1;
	if (f[R_PATH].val && f[R_PREFIX].val) {
		/* Name the second of the two: that is where it went wrong. */
		int line = f[R_PATH].line > f[R_PREFIX].line ? f[R_PATH].line : f[R_PREFIX].line;

		return fail(p, line, where, "has both path and prefix; expected exactly one of them");
	}
	if (!f[R_PATH].val && !f[R_PREFIX].val)
		return missing(p, n, where, "prefix",
			       "exactly one of path (exact) or prefix, e.g. prefix: /images/");
	if (!f[R_BACKENDS].val)
		return missing(p, n, where, "backends", list_expect);
	bl = f[R_BACKENDS].val;
	subkey(key, where, "backends");
	if (bl->type != YN_SEQ)
		return fail(p, bl->line, key, "is %s; expected %s", kind(bl), list_expect);
	if (!bl->n)
		return fail(p, bl->line, key, "is an empty list; expected %s", list_expect);
	/* Check the names' shape now; whether they exist may have to wait. */
	size = bl->n * sizeof(int);
	for (i = 0; i < bl->n; i++) {
		char ikey[CFG_KEY_MAX];

		if (want_name(p, bl->kids[i], subidx(ikey, key, i), name))
			return -1;
		size += bl->kids[i]->n + 1;
	}

	if (grow((void **)&cfg->routes, &p->cap_routes, cfg->n_routes + 1, sizeof(*r)))
		return oom(p, n->line, where);
	r = &cfg->routes[cfg->n_routes++];
	memset(r, 0, sizeof(*r));
	r->line = n->line;
	if (f[R_NAME].val) {
		if (want_name(p, f[R_NAME].val, subkey(key, where, "name"), name))
			return -1;
	} else {
		snprintf(name, sizeof(name), "route%zu", idx);
	}
	r->name = strdup(name);
	if (!r->name)
		return oom(p, n->line, where);
	if (f[R_HOST].val) {
		if (want_host(p, f[R_HOST].val, subkey(key, where, "host"), &r->host))
			return -1;
	} else {
		r->host = strdup("*");
		if (!r->host)
			return oom(p, n->line, where);
	}
	if (f[R_PATH].val && want_route_path(p, f[R_PATH].val, subkey(key, where, "path"), &r->path))
		return -1;
	if (f[R_PREFIX].val &&
	    want_route_path(p, f[R_PREFIX].val, subkey(key, where, "prefix"), &r->prefix))
		return -1;

	blk = arena_alloc(&p->arena, size);
	if (!blk)
		return oom(p, n->line, where);
	lines = (int *)blk;
	names = (char *)(lines + bl->n);
	for (i = 0; i < bl->n; i++) {
		lines[i] = bl->kids[i]->line;
		memcpy(names, bl->kids[i]->str, bl->kids[i]->n + 1);
		names += bl->kids[i]->n + 1;
	}
	if (p->by_name)
		return resolve_route(p, idx, blk, bl->n);
	/* Routes came before backends: keep the names until those are known. */
	if (grow((void **)&p->pending, &p->cap_pending, idx + 1, sizeof(*p->pending)))
		return oom(p, n->line, where);
	p->pending[idx].blk = malloc(size);
	if (!p->pending[idx].blk)
		return oom(p, n->line, where);
	memcpy(p->pending[idx].blk, blk, size);
	p->pending[idx].n = bl->n;
	return 0;
}

static int parse_health(struct parse *p, const struct ynode *n)
{
	static const char path_expect[] = "a request path like /healthz (printable, no spaces)";
	enum { H_PATH, H_INTERVAL, H_TIMEOUT, H_RISE, H_FALL, H_SMIN, H_SMAX, H_N };
	struct field f[H_N] = {
		[H_PATH] = { "path" }, [H_INTERVAL] = { "interval_ms" }, [H_TIMEOUT] = { "timeout_ms" },
		[H_RISE] = { "rise" }, [H_FALL] = { "fall" }, [H_SMIN] = { "status_min" },
		[H_SMAX] = { "status_max" },
	};
	struct lb_cfg_health *h = &p->cfg->health;
	char key[CFG_KEY_MAX];
	struct qbuf q;
	size_t i;

	if (n->type == YN_NULL)
		return 0;
	if (want_map(p, n, "health", "{path: " LB_DEFAULT_HEALTH_PATH ", interval_ms: " LB_STR(LB_DEFAULT_HEALTH_INTERVAL_MS) ", rise: " LB_STR(LB_DEFAULT_HEALTH_RISE) ", fall: " LB_STR(LB_DEFAULT_HEALTH_FALL) "}") ||
	    map_fields(p, n, "health", f, H_N))
		return -1;
	if (f[H_PATH].val) {
		const struct ynode *v = f[H_PATH].val;

		if (want_string(p, v, "health.path", h->path, sizeof(h->path), path_expect))
			return -1;
		/* It goes into a request line as it is. */
		for (i = 0; i < v->n; i++)
			if (h->path[i] <= ' ' || h->path[i] > '~' || h->path[i] == '#')
				break;
		if (h->path[0] != '/' || i < v->n)
			return fail(p, v->line, "health.path", "%s is not a request path; expected %s",
				    quote(&q, v), path_expect);
	}
	if ((f[H_INTERVAL].val && want_uint(p, f[H_INTERVAL].val, subkey(key, "health", "interval_ms"),
					    10, 3600000, &h->interval_ms)) ||
	    (f[H_TIMEOUT].val && want_uint(p, f[H_TIMEOUT].val, subkey(key, "health", "timeout_ms"), 10,
					   3600000, &h->timeout_ms)) ||
	    (f[H_RISE].val && want_uint(p, f[H_RISE].val, subkey(key, "health", "rise"), 1, 100,
					&h->rise)) ||
	    (f[H_FALL].val && want_uint(p, f[H_FALL].val, subkey(key, "health", "fall"), 1, 100,
					&h->fall)) ||
	    (f[H_SMIN].val && want_uint(p, f[H_SMIN].val, subkey(key, "health", "status_min"), 100,
					599, &h->status_min)) ||
	    (f[H_SMAX].val && want_uint(p, f[H_SMAX].val, subkey(key, "health", "status_max"), 100,
					599, &h->status_max)))
		return -1;
	if (h->status_min > h->status_max)
		return fail(p, (f[H_SMIN].val ? f[H_SMIN].val : f[H_SMAX].val)->line, "health.status_min",
			    "%u is above status_max %u; expected status_min <= status_max",
			    h->status_min, h->status_max);
	return 0;
}

static int parse_handoff(struct parse *p, const struct ynode *n)
{
	enum { O_MSS, O_WSCALE, O_LIMIT, O_TIMEOUT, O_N };
	struct field f[O_N] = {
		[O_MSS] = { "mss" },
		[O_WSCALE] = { "wscale" },
		[O_LIMIT] = { "request_limit" },
		[O_TIMEOUT] = { "request_timeout_ms" },
	};
	struct lb_cfg_handoff *h = &p->cfg->handoff;
	char key[CFG_KEY_MAX];
	uint32_t v;

	if (n->type == YN_NULL)
		return 0;
	if (want_map(p, n, "handoff", "{mss: " LB_STR(LB_DEFAULT_MSS) ", wscale: " LB_STR(LB_DEFAULT_WSCALE) "}") || map_fields(p, n, "handoff", f, O_N))
		return -1;
	if (f[O_MSS].val) {
		/* 536 is the IPv4 minimum every host takes; 9000 a jumbo frame's. */
		if (want_uint(p, f[O_MSS].val, subkey(key, "handoff", "mss"), 536, 9000, &v))
			return -1;
		h->mss = (uint16_t)v;
	}
	if (f[O_WSCALE].val) {
		/* RFC 7323 caps the shift at 14. */
		if (want_uint(p, f[O_WSCALE].val, subkey(key, "handoff", "wscale"), 0, 14, &v))
			return -1;
		h->wscale = (uint8_t)v;
	}
	if ((f[O_LIMIT].val && want_uint(p, f[O_LIMIT].val, subkey(key, "handoff", "request_limit"),
					 512, 1048576, &h->request_limit)) ||
	    (f[O_TIMEOUT].val &&
	     want_uint(p, f[O_TIMEOUT].val, subkey(key, "handoff", "request_timeout_ms"), 10, 3600000,
		       &h->request_timeout_ms)))
		return -1;
	return 0;
}

/* "ADDRESS:PORT" with an IPv4 or [IPv6] literal: what the listener binds. */
static bool valid_listen(const char *s)
{
	char host[INET6_ADDRSTRLEN + 2];
	unsigned char a[sizeof(struct in6_addr)];
	const char *colon, *port;
	size_t hlen;
	int family = AF_INET;

	if (s[0] == '[') {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return false;
		family = AF_INET6;
		hlen = close - s - 1;
		s++;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return false;
		hlen = colon - s;
	}
	if (hlen >= sizeof(host))
		return false;
	memcpy(host, s, hlen);
	host[hlen] = '\0';
	if (inet_pton(family, host, a) != 1)
		return false;
	port = colon + 1;
	return all_digits(port) && port[0] != '0' && strlen(port) <= 5 && atoi(port) <= 65535;
}

static int parse_metrics(struct parse *p, const struct ynode *n)
{
	static const char expect[] = "an address and port like 127.0.0.1:9180 or [::1]:9180, or \"\" to disable";
	struct field f[] = { { .key = "listen" } };
	struct lb_cfg_metrics *m = &p->cfg->metrics;
	const struct ynode *v;
	struct qbuf q;

	if (n->type == YN_NULL)
		return 0;
	if (want_map(p, n, "metrics", "{listen: 127.0.0.1:9180}") || map_fields(p, n, "metrics", f, 1))
		return -1;
	v = f[0].val;
	if (!v)
		return 0;
	if (v->type == YN_NULL || (v->type == YN_SCALAR && !v->n)) {
		m->listen[0] = '\0';
		return 0;
	}
	if (want_string(p, v, "metrics.listen", m->listen, sizeof(m->listen), expect))
		return -1;
	if (!valid_listen(m->listen))
		return fail(p, v->line, "metrics.listen", "%s is not an address:port; expected %s",
			    quote(&q, v), expect);
	return 0;
}

static int parse_limits(struct parse *p, const struct ynode *n)
{
	struct field f[] = { { .key = "flows" } };
	struct lb_cfg_limits *l = &p->cfg->limits;

	if (n->type == YN_NULL)
		return 0;
	if (want_map(p, n, "limits", "{flows: 1048576}") || map_fields(p, n, "limits", f, 1))
		return -1;
	/* The kernel preallocates every entry (~112 bytes): 16M is already ~2 GB. */
	if (f[0].val && want_uint(p, f[0].val, "limits.flows", LB_FLOWS_MIN, LB_FLOWS_MAX, &l->flows))
		return -1;
	return 0;
}

static int parse_cookie(struct parse *p, const struct ynode *n)
{
	static const char expect[] = "a file name like /etc/latebind/cookie.key";
	enum { C_KEY_FILE, C_PERIOD, C_WINDOWS, C_N };
	struct field f[C_N] = {
		[C_KEY_FILE] = { "key_file" },
		[C_PERIOD] = { "period_s" },
		[C_WINDOWS] = { "windows" },
	};
	struct lb_cfg_cookie *c = &p->cfg->cookie;
	char key[CFG_KEY_MAX];
	const struct ynode *v;
	size_t i;

	if (n->type == YN_NULL)
		return 0;
	if (want_map(p, n, "cookie", "{key_file: " LB_DEFAULT_COOKIE_KEY_FILE ", period_s: " LB_STR(LB_DEFAULT_COOKIE_PERIOD_S) ", windows: " LB_STR(LB_DEFAULT_COOKIE_WINDOWS) "}") ||
	    map_fields(p, n, "cookie", f, C_N))
		return -1;
	v = f[C_KEY_FILE].val;
	if (v) {
		if (want_string(p, v, "cookie.key_file", c->key_file, sizeof(c->key_file), expect))
			return -1;
		for (i = 0; i < v->n; i++)
			if ((unsigned char)c->key_file[i] < 0x20 || c->key_file[i] == 0x7f)
				break;
		if (!v->n || i < v->n)
			return fail(p, v->line, "cookie.key_file",
				    "is empty or has control characters; expected %s", expect);
	}
	/* More windows accept older cookies: a longer replay window for a stolen one. */
	if ((f[C_PERIOD].val && want_uint(p, f[C_PERIOD].val, subkey(key, "cookie", "period_s"), 1,
					  86400, &c->period_s)) ||
	    (f[C_WINDOWS].val && want_uint(p, f[C_WINDOWS].val, subkey(key, "cookie", "windows"), 1, 4,
					   &c->windows)))
		return -1;
	return 0;
}

/* --- after the whole file ------------------------------------------------ */

static const char *route_target(const struct lb_cfg_route *r)
{
	return r->path ? r->path : r->prefix;
}

/* Same host, same kind (path or prefix), same string. */
static int route_key_cmp(const struct lb_cfg_route *x, const struct lb_cfg_route *y)
{
	int c = strcmp(x->host, y->host);

	if (c)
		return c;
	if (!x->path != !y->path)
		return x->path ? -1 : 1;
	return strcmp(route_target(x), route_target(y));
}

static int route_name_cmp(const struct lb_cfg_route *x, const struct lb_cfg_route *y)
{
	return strcmp(x->name, y->name);
}

/* Equal keys stay in file order, so the second of a run is its first duplicate. */
static int cmp_route(const void *a, const void *b)
{
	const struct lb_cfg_route *x = *(const struct lb_cfg_route *const *)a;
	const struct lb_cfg_route *y = *(const struct lb_cfg_route *const *)b;
	int c = route_key_cmp(x, y);

	return c ? c : (x > y) - (x < y);
}

static int cmp_route_name(const void *a, const void *b)
{
	const struct lb_cfg_route *x = *(const struct lb_cfg_route *const *)a;
	const struct lb_cfg_route *y = *(const struct lb_cfg_route *const *)b;
	int c = route_name_cmp(x, y);

	return c ? c : (x > y) - (x < y);
}

/*
 * Two routes for the same host and path, or with the same name. Sorting keeps
 * this O(n log n) for a million routes; the duplicate reported is the one
 * that comes first in the file.
 */
static int check_route_dups(struct parse *p, bool by_name)
{
	int (*key_cmp)(const struct lb_cfg_route *, const struct lb_cfg_route *) =
		by_name ? route_name_cmp : route_key_cmp;
	struct lb_config *cfg = p->cfg;
	const struct lb_cfg_route **v, *dup = NULL, *orig = NULL;
	char key[CFG_KEY_MAX], where[CFG_KEY_MAX];
	size_t i, run = 0;
	int ret = 0;

	if (cfg->n_routes < 2)
		return 0;
	v = malloc(cfg->n_routes * sizeof(*v));
	if (!v)
		return oom(p, p->root_line, "routes");
	for (i = 0; i < cfg->n_routes; i++)
		v[i] = &cfg->routes[i];
	qsort(v, cfg->n_routes, sizeof(*v), by_name ? cmp_route_name : cmp_route);
	for (i = 1; i < cfg->n_routes; i++) {
		if (!key_cmp(v[run], v[i])) {
			if (i == run + 1 && (!dup || v[i] < dup)) {
				dup = v[i];
				orig = v[run];
			}
			continue;
		}
		run = i;
	}
	if (dup) {
		size_t di = dup - cfg->routes, oi = orig - cfg->routes;

		subidx(where, "routes", di);
		if (by_name)
			ret = fail(p, dup->line, subkey(key, where, "name"),
				   "\"%s\" is also the name of routes[%zu] (line %d)%s; expected unique route names",
				   dup->name, oi, orig->line,
				   strncmp(dup->name, "route", 5) ? "" : " (routeN is the default name)");
		else
			ret = fail(p, dup->line, subkey(key, where, dup->path ? "path" : "prefix"),
				   "host %s and %s %s are already routes[%zu] (line %d); expected each host and path once",
				   dup->host, dup->path ? "path" : "prefix", route_target(dup), oi,
				   orig->line);
	}
	free(v);
	return ret;
}

/*
 * Backends behind another interface of the balancer, now that the main one is
 * known (it may come after the list): naming the main one is the default
 * written out; the others must fit the XDP program's map of interfaces, and
 * replay mode needs its SYN/ACK on the dispatcher's own interface.
 */
static int check_backend_interfaces(struct parse *p)
{
	struct lb_config *cfg = p->cfg;
	const char *seen[LB_MAX_IFACES - 1];
	char key[CFG_KEY_MAX], where[CFG_KEY_MAX];
	size_t i, j, n_seen = 0;

	for (i = 0; i < cfg->n_backends; i++) {
		struct lb_cfg_backend *b = &cfg->backends[i];

		if (!strcmp(b->interface, cfg->interface))
			b->interface[0] = '\0';
		if (!b->interface[0])
			continue;
		subkey(key, subidx(where, "backends", i), "interface");
		if (b->handoff == LB_HANDOFF_REPLAY)
			return fail(p, b->interface_line, key,
				    "a replay-mode backend behind %s: its SYN/ACK must reach the "
				    "dispatcher on %s; expected handoff: cookie, or the backend "
				    "behind %s", b->interface, cfg->interface, cfg->interface);
		for (j = 0; j < n_seen && strcmp(seen[j], b->interface); j++)
			;
		if (j < n_seen)
			continue;
		if (n_seen == LB_MAX_IFACES - 1)
			return fail(p, b->interface_line, key,
				    "%s is one interface too many; expected backends behind at most "
				    "%d interfaces besides %s", b->interface, LB_MAX_IFACES - 1,
				    cfg->interface);
		seen[n_seen++] = b->interface;
	}
	return 0;
}

static int finish(struct parse *p)
{
	static const char *const expect[] = {
		[S_INTERFACE] = "the interface to attach to, e.g. interface: eth0",
		[S_VIPS] = "a list of VIPs, e.g. vips: [{address: 192.0.2.80, port: 80}]",
		[S_BACKENDS] = "a list of backends, e.g. backends: [{name: web1, address: 198.51.100.11}]",
		[S_ROUTES] = "a list of routes, e.g. routes: [{prefix: /, backends: [web1]}]",
	};
	struct lb_config *cfg = p->cfg;
	size_t i;
	int s;

	for (s = S_INTERFACE; s <= S_ROUTES; s++)
		if (!p->seen[s])
			return fail(p, p->root_line, section_names[s], "missing; expected %s", expect[s]);
	for (i = 0; p->pending && i < cfg->n_routes; i++) {
		int ret = resolve_route(p, i, p->pending[i].blk, p->pending[i].n);

		free(p->pending[i].blk);
		p->pending[i].blk = NULL;
		if (ret)
			return -1;
	}
	if (check_route_dups(p, false) || check_route_dups(p, true))
		return -1;
	return check_backend_interfaces(p);
}

/* --- the document -------------------------------------------------------- */

static int list_item(struct parse *p, enum section s, const struct ynode *n, size_t idx)
{
	switch (s) {
	case S_VIPS:
		return parse_vip(p, n, idx);
	case S_BACKENDS:
		return parse_backend(p, n, idx);
	default:
		return parse_route(p, n, idx);
	}
}

/* vips, backends and routes: one item in memory at a time. */
static int parse_list(struct parse *p, enum section s, yaml_event_t *ev)
{
	int line = line_of(&ev->start_mark);
	char where[CFG_KEY_MAX];
	struct ynode *item;
	size_t i;

	if (check_event(p, ev, section_names[s], 1)) {
		yaml_event_delete(ev);
		return -1;
	}
	yaml_event_delete(ev);
	for (i = 0;; i++) {
		if (next_event(p, ev))
			return -1;
		if (ev->type == YAML_SEQUENCE_END_EVENT) {
			yaml_event_delete(ev);
			break;
		}
		if (load_node(p, ev, subidx(where, section_names[s], i), 2, &item) ||
		    list_item(p, s, item, i))
			return -1;
		arena_reset(&p->arena);
	}
	if (!i)
		return fail(p, line, section_names[s], "is an empty list; expected at least one entry");
	if (s == S_BACKENDS)
		return index_backends(p, line);
	return 0;
}

static int parse_section(struct parse *p, enum section s, const struct ynode *n)
{
	switch (s) {
	case S_INTERFACE:
		return parse_interface(p, n);
	case S_HEALTH:
		return parse_health(p, n);
	case S_HANDOFF:
		return parse_handoff(p, n);
	case S_METRICS:
		return parse_metrics(p, n);
	case S_COOKIE:
		return parse_cookie(p, n);
	case S_LIMITS:
		return parse_limits(p, n);
	default:
		/* A list section whose value is not a list. */
		return fail(p, n->line, section_names[s], "is %s; expected a list of %s", kind(n),
			    section_names[s]);
	}
}

static int parse_root(struct parse *p, yaml_event_t *ev)
{
	static const char expect[] = "a mapping with interface, vips, backends and routes";
	struct ynode *n;
	int s;

	if (ev->type != YAML_MAPPING_START_EVENT) {
		if (load_node(p, ev, "config", 0, &n))
			return -1;
		/* libyaml puts an empty document's null on its "..." line. */
		return fail(p, n->type == YN_NULL ? p->doc_line : n->line, "config", "is %s; expected %s",
			    kind(n), expect);
	}
	p->root_line = line_of(&ev->start_mark);
	if (check_event(p, ev, "config", 0)) {
		yaml_event_delete(ev);
		return -1;
	}
	yaml_event_delete(ev);
	for (;;) {
		if (next_event(p, ev))
			return -1;
		if (ev->type == YAML_MAPPING_END_EVENT) {
			yaml_event_delete(ev);
			break;
		}
		if (load_node(p, ev, "config", 1, &n) || check_key(p, n, ""))
			return -1;
		s = find_key(n, section_names, S_COUNT);
		if (s < 0)
			return unknown_key(p, n, "", section_names, S_COUNT);
		if (p->seen[s])
			return fail(p, n->line, section_names[s],
				    "given twice (first at line %d); expected each key once", p->seen[s]);
		p->seen[s] = n->line;
		if (next_event(p, ev))
			return -1;
		if ((s == S_VIPS || s == S_BACKENDS || s == S_ROUTES) &&
		    ev->type == YAML_SEQUENCE_START_EVENT) {
			if (parse_list(p, s, ev))
				return -1;
		} else if (load_node(p, ev, section_names[s], 1, &n) || parse_section(p, s, n)) {
			return -1;
		}
		arena_reset(&p->arena);
	}
	return 0;
}

static int parse_stream(struct parse *p)
{
	yaml_event_t ev;

	if (next_event(p, &ev))
		return -1;
	yaml_event_delete(&ev); /* stream start */
	if (next_event(p, &ev))
		return -1;
	if (ev.type == YAML_STREAM_END_EVENT) {
		yaml_event_delete(&ev);
		return fail(p, 1, "config", "the file is empty; expected a mapping with interface, vips, backends and routes");
	}
	p->doc_line = line_of(&ev.start_mark);
	yaml_event_delete(&ev); /* document start */
	if (next_event(p, &ev) || parse_root(p, &ev))
		return -1;
	if (next_event(p, &ev))
		return -1;
	yaml_event_delete(&ev); /* document end */
	if (next_event(p, &ev))
		return -1;
	if (ev.type == YAML_DOCUMENT_START_EVENT) {
		int line = line_of(&ev.start_mark);

		yaml_event_delete(&ev);
		return fail(p, line, "config", "a second YAML document starts here; expected one document");
	}
	yaml_event_delete(&ev); /* stream end */
	return finish(p);
}

/*
 * After a semantic error, read on: items are checked as they stream in, so a
 * broken line further down has not been seen yet, and the YAML has to be
 * fixed first. Stops at the end of the stream, or when nesting runs away
 * (libyaml slows down quadratically in it).
 */
static void prefer_syntax_error(struct parse *p)
{
	yaml_event_t ev;
	int depth = 0;

	while (depth <= CFG_MAX_DEPTH) {
		if (!yaml_parser_parse(&p->parser, &ev)) {
			if (p->parser.error != YAML_MEMORY_ERROR) {
				p->failed = false;
				syntax_error(p);
			}
			return;
		}
		if (ev.type == YAML_SEQUENCE_START_EVENT || ev.type == YAML_MAPPING_START_EVENT)
			depth++;
		else if (ev.type == YAML_SEQUENCE_END_EVENT || ev.type == YAML_MAPPING_END_EVENT)
			depth--;
		else if (ev.type == YAML_STREAM_END_EVENT || ev.type == YAML_NO_EVENT)
			depth = INT_MAX; /* libyaml returns no-events forever after the end */
		yaml_event_delete(&ev);
	}
}

/* --- API ----------------------------------------------------------------- */

static void set_defaults(struct lb_config *cfg)
{
	strcpy(cfg->health.path, LB_DEFAULT_HEALTH_PATH);
	cfg->health.interval_ms = LB_DEFAULT_HEALTH_INTERVAL_MS;
	cfg->health.timeout_ms = LB_DEFAULT_HEALTH_TIMEOUT_MS;
	cfg->health.rise = LB_DEFAULT_HEALTH_RISE;
	cfg->health.status_min = LB_DEFAULT_HEALTH_STATUS_MIN;
	cfg->health.status_max = LB_DEFAULT_HEALTH_STATUS_MAX;
	cfg->health.fall = LB_DEFAULT_HEALTH_FALL;
	cfg->handoff.mss = LB_DEFAULT_MSS;
	cfg->handoff.wscale = LB_DEFAULT_WSCALE;
	cfg->handoff.request_limit = LB_DEFAULT_REQUEST_LIMIT;
	cfg->handoff.request_timeout_ms = LB_DEFAULT_REQUEST_TIMEOUT_MS;
	strcpy(cfg->metrics.listen, LB_DEFAULT_METRICS_LISTEN);
	strcpy(cfg->cookie.key_file, LB_DEFAULT_COOKIE_KEY_FILE);
	cfg->cookie.period_s = LB_DEFAULT_COOKIE_PERIOD_S;
	cfg->cookie.windows = LB_DEFAULT_COOKIE_WINDOWS;
	cfg->limits.flows = LB_MAX_FLOWS;
}

int lb_config_parse(const char *name, const char *text, size_t len, struct lb_config *cfg,
		    char *err, size_t errlen)
{
	struct parse p = {
		.name = name ? name : "config",
		.text = (const unsigned char *)(text ? text : ""),
		.len = text ? len : 0,
		.cfg = cfg,
		.err = err,
		.errlen = errlen,
	};
	size_t i;
	int ret;

	memset(cfg, 0, sizeof(*cfg));
	set_defaults(cfg);
	snprintf(cfg->path, sizeof(cfg->path), "%s", p.name);
	if (err && errlen)
		err[0] = '\0';
	if (!yaml_parser_initialize(&p.parser)) {
		lb_config_free(cfg);
		return oom(&p, 1, "YAML");
	}
	yaml_parser_set_input_string(&p.parser, p.text, p.len);
	ret = parse_stream(&p);
	if (ret && p.parser.error == YAML_NO_ERROR)
		prefer_syntax_error(&p);
	yaml_parser_delete(&p.parser);
	arena_free(&p.arena);
	for (i = 0; i < p.cap_pending; i++)
		free(p.pending[i].blk);
	free(p.pending);
	free(p.by_name);
	if (ret || p.failed) {
		lb_config_free(cfg);
		return -1;
	}
	return 0;
}

static int __attribute__((format(printf, 3, 4)))
load_error(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
		one_line(err);
	}
	return -1;
}

int lb_config_load(const char *path, struct lb_config *cfg, char *err, size_t errlen)
{
	size_t len = 0, cap = 64 * 1024;
	struct stat st;
	char *buf, *grown;
	ssize_t n;
	int fd, ret;

	memset(cfg, 0, sizeof(*cfg));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		load_error(err, errlen, "%s: cannot open: %s; expected a readable YAML file", path,
			 strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
		load_error(err, errlen, "%s: is a directory; expected a YAML file", path);
		close(fd);
		return -1;
	}
	buf = malloc(cap);
	if (!buf)
		goto nomem;
	/* Read to the end rather than trust st_size: pipes and /proc have none. */
	for (;;) {
		if (len == cap) {
			if (cap >= CFG_MAX_BYTES) {
				load_error(err, errlen, "%s: larger than %u MiB; expected a config file", path,
					 CFG_MAX_BYTES >> 20);
				free(buf);
				close(fd);
				return -1;
			}
			grown = realloc(buf, cap * 2);
			if (!grown)
				goto nomem;
			buf = grown;
			cap *= 2;
		}
		n = read(fd, buf + len, cap - len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			load_error(err, errlen, "%s: cannot read: %s; expected a readable YAML file", path,
				 strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (!n)
			break;
		len += n;
	}
	close(fd);
	ret = lb_config_parse(path, buf, len, cfg, err, errlen);
	free(buf);
	return ret;
nomem:
	load_error(err, errlen, "%s: out of memory reading it; expected a smaller file", path);
	free(buf);
	close(fd);
	return -1;
}

void lb_config_free(struct lb_config *cfg)
{
	size_t i;

	if (!cfg)
		return;
	for (i = 0; i < cfg->n_routes; i++) {
		free(cfg->routes[i].name);
		free(cfg->routes[i].host);
		free(cfg->routes[i].path);
		free(cfg->routes[i].prefix);
		free(cfg->routes[i].backends);
	}
	free(cfg->routes);
	free(cfg->vips);
	free(cfg->backends);
	memset(cfg, 0, sizeof(*cfg));
}

int lb_config_backend_index(const struct lb_config *cfg, const char *name)
{
	size_t i;

	for (i = 0; i < cfg->n_backends; i++)
		if (!strcmp(cfg->backends[i].name, name))
			return (int)i;
	return -1;
}
