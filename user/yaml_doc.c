// SPDX-License-Identifier: GPL-2.0
/*
 * One YAML value at a time into a node tree, typed getters over the nodes, and
 * the one-line messages (see yaml_doc.h).
 *
 * libyaml's event parser is used rather than its document loader: the loader
 * keeps every node of the file in memory at once, and a config's route list
 * may run to a million entries.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hex.h"
#include "yaml_doc.h"

#define YD_SUGGEST_MAX 64 /* longer unknown keys get no suggestion */
#define ARENA_CHUNK    (64 * 1024)

/* --- arena: emptied after each value the caller is done with -------------- */

struct yd_chunk {
	struct yd_chunk *next; /* the older chunk */
	size_t size;
	size_t used;
	max_align_t data[];
};

void *yd_alloc(struct ydoc *d, size_t size)
{
	struct yd_chunk *c = d->arena;
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
		c->next = d->arena;
		d->arena = c;
	}
	ptr = (unsigned char *)c->data + c->used;
	c->used += size;
	return ptr;
}

/* Keep the oldest chunk so a million small values do not mean a million mallocs. */
void yd_reset(struct ydoc *d)
{
	struct yd_chunk *c = d->arena;

	if (!c)
		return;
	while (c->next) {
		struct yd_chunk *next = c->next;

		free(c);
		c = next;
	}
	c->used = 0;
	d->arena = c;
}

static void arena_free(struct ydoc *d)
{
	while (d->arena) {
		struct yd_chunk *next = d->arena->next;

		free(d->arena);
		d->arena = next;
	}
}

/* --- errors --------------------------------------------------------------- */

void yd_one_line(char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			*s = '?';
}

const char *yd_show(struct yd_qbuf *q, const char *s, size_t n, bool quoted)
{
	size_t i, o = 0, lim = n;
	bool cut = false;

	if (lim > YD_QUOTE_MAX) {
		lim = YD_QUOTE_MAX;
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

const char *yd_quote(struct yd_qbuf *q, const struct ynode *n)
{
	return yd_show(q, n->str, n->n, true);
}

const char *yd_key_str(char out[YD_KEY_MAX], const struct ykey *key)
{
	const struct ykey *chain[2 * YD_MAX_DEPTH + 8];
	size_t depth = 0, o = 0;
	struct yd_qbuf q;

	if (!key) {
		snprintf(out, YD_KEY_MAX, "config");
		return out;
	}
	/* Deeper than the parse allows cannot happen; the outermost links are kept. */
	for (; key; key = key->up)
		if (depth < sizeof(chain) / sizeof(chain[0]))
			chain[depth++] = key;
	out[0] = '\0';
	while (depth-- && o < YD_KEY_MAX) {
		const struct ykey *k = chain[depth];
		int n;

		if (k->name)
			n = snprintf(out + o, YD_KEY_MAX - o, "%s%s", o ? "." : "",
				     yd_show(&q, k->name, k->len ? k->len : strlen(k->name), false));
		else
			n = snprintf(out + o, YD_KEY_MAX - o, "[%zu]", k->idx);
		o += n < 0 ? 0 : (size_t)n;
	}
	/* A key path that did not fit says so rather than ending mid-name. */
	if (o >= YD_KEY_MAX)
		memcpy(out + YD_KEY_MAX - 4, "...", 4);
	return out;
}

int yd_fail(struct ydoc *d, int line, const struct ykey *key, const char *fmt, ...)
{
	char kbuf[YD_KEY_MAX];
	va_list ap;
	int n;

	if (d->failed)
		return -1;
	d->failed = true;
	if (!d->err || !d->errlen)
		return -1;
	n = snprintf(d->err, d->errlen, "%s:%d: %s: ", d->name, line, yd_key_str(kbuf, key));
	if (n >= 0 && (size_t)n < d->errlen) {
		va_start(ap, fmt);
		vsnprintf(d->err + n, d->errlen - n, fmt, ap);
		va_end(ap);
	}
	/* File names and values may hold newlines; the message must not. */
	yd_one_line(d->err);
	return -1;
}

int yd_oom(struct ydoc *d, int line, const struct ykey *key)
{
	return yd_fail(d, line, key, "out of memory; expected a smaller config");
}

const char *yd_kind(const struct ynode *n)
{
	switch (n->type) {
	case YN_NULL: return "empty";
	case YN_SEQ: return "a list";
	case YN_MAP: return "a mapping";
	default: return "a string";
	}
}

/* --- reading events into trees ------------------------------------------- */

int yd_line(const yaml_mark_t *m)
{
	return m->line >= INT_MAX ? INT_MAX : (int)m->line + 1;
}

/* Line of byte @off, for reader errors which come without a line. */
static int line_at(const struct ydoc *d, size_t off)
{
	size_t i;
	int line = 1;

	for (i = 0; i < off && i < d->len; i++)
		if (d->text[i] == '\n' && line < INT_MAX)
			line++;
	return line;
}

/* Whether @line starts with whitespace holding a tab. */
static bool indented_with_tab(const struct ydoc *d, int line)
{
	size_t i = 0;
	int l = 1;

	for (; i < d->len && l < line; i++)
		if (d->text[i] == '\n')
			l++;
	for (; i < d->len && (d->text[i] == ' ' || d->text[i] == '\t'); i++)
		if (d->text[i] == '\t')
			return true;
	return false;
}

static int syntax_error(struct ydoc *d)
{
	const yaml_parser_t *y = &d->parser;
	const char *problem = y->problem ? y->problem : "unknown error";
	int line = yd_line(&y->problem_mark);
	const char *expect = "expected valid YAML";

	switch (y->error) {
	case YAML_MEMORY_ERROR: return yd_oom(d, line, YKEY("YAML"));
	case YAML_READER_ERROR:
		if (y->problem_value >= 0)
			return yd_fail(d, line_at(d, y->problem_offset), YKEY("YAML"),
				       "%s (byte 0x%02x at offset %zu); expected UTF-8 text",
				       problem, y->problem_value & 0xff, y->problem_offset);
		return yd_fail(d, line_at(d, y->problem_offset), YKEY("YAML"),
			       "%s (at offset %zu); expected UTF-8 text", problem,
			       y->problem_offset);
	default: break;
	}
	/* Tabs are the usual culprit and libyaml does not say so. */
	if (indented_with_tab(d, line))
		expect = "expected spaces for indentation, not tabs";
	if (y->context && yd_line(&y->context_mark) != line)
		return yd_fail(d, line, YKEY("YAML"), "%s %s (line %d); %s", problem, y->context,
			       yd_line(&y->context_mark), expect);
	if (y->context)
		return yd_fail(d, line, YKEY("YAML"), "%s %s; %s", problem, y->context, expect);
	return yd_fail(d, line, YKEY("YAML"), "%s; %s", problem, expect);
}

int yd_next(struct ydoc *d, yaml_event_t *ev)
{
	if (!yaml_parser_parse(&d->parser, ev))
		return syntax_error(d);
	return 0;
}

int yd_check_event(struct ydoc *d, const yaml_event_t *ev, const struct ykey *key, int depth)
{
	const yaml_char_t *anchor = NULL, *tag = NULL;
	int line = yd_line(&ev->start_mark);
	struct yd_qbuf q;

	switch (ev->type) {
	case YAML_ALIAS_EVENT:
		anchor = ev->data.alias.anchor;
		return yd_fail(d, line, key,
			       "aliases (*%s) are not supported; expected the value written out",
			       yd_show(&q, (const char *)anchor, strlen((const char *)anchor),
				       false));
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
		return yd_fail(d, line, key, "unexpected YAML event %d; expected a value", ev->type);
	}
	if (anchor)
		return yd_fail(d, line, key,
			       "anchors (&%s) are not supported; expected plain values",
			       yd_show(&q, (const char *)anchor, strlen((const char *)anchor),
				       false));
	if (tag)
		return yd_fail(d, line, key, "tags (%s) are not supported; expected plain values",
			       yd_show(&q, (const char *)tag, strlen((const char *)tag), false));
	if (depth > YD_MAX_DEPTH)
		return yd_fail(d, line, key, "nested more than %d levels deep; expected at most %d",
			       YD_MAX_DEPTH, YD_MAX_DEPTH);
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

/* Recursion is bounded by YD_MAX_DEPTH (yd_check_event). */
int yd_load(struct ydoc *d, yaml_event_t *ev, const struct ykey *key, int depth, struct ynode **out)
{
	struct ynode *n, **kids = NULL, **grown;
	size_t cap = 0;
	yaml_event_type_t end;
	int ret = -1;

	if (yd_check_event(d, ev, key, depth))
		goto out;
	/* A scalar and its bytes in one piece: one bump of the arena. */
	if (ev->type == YAML_SCALAR_EVENT) {
		size_t len = ev->data.scalar.length;

		n = yd_alloc(d, sizeof(*n) + len + 1);
		if (!n) {
			yd_oom(d, yd_line(&ev->start_mark), key);
			goto out;
		}
		n->type = is_null(ev) ? YN_NULL : YN_SCALAR;
		n->line = yd_line(&ev->start_mark);
		n->n = len;
		n->str = (char *)(n + 1);
		memcpy(n->str, ev->data.scalar.value, len);
		n->str[len] = '\0';
		*out = n;
		ret = 0;
		goto out;
	}
	n = yd_alloc(d, sizeof(*n));
	if (!n) {
		yd_oom(d, yd_line(&ev->start_mark), key);
		goto out;
	}
	memset(n, 0, sizeof(*n));
	n->line = yd_line(&ev->start_mark);
	n->type = ev->type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP;
	end = n->type == YN_SEQ ? YAML_SEQUENCE_END_EVENT : YAML_MAPPING_END_EVENT;
	yaml_event_delete(ev);
	for (;;) {
		struct ykey link = { .up = key };
		const struct ykey *kkey = key;
		struct ynode *kid;

		if (yd_next(d, ev))
			return -1;
		if (ev->type == end)
			break;
		if (n->type == YN_SEQ) {
			link.idx = n->n;
			kkey = &link;
		} else if (n->n % 2) {
			/* A value: name it after its key, when that is a string. */
			const struct ynode *k = kids[n->n - 1];

			if (k->type == YN_SCALAR) {
				link.name = k->str;
				link.len = k->n;
				kkey = &link;
			}
		}
		if (yd_load(d, ev, kkey, depth + 1, &kid))
			return -1;
		if (n->n == cap) {
			cap = cap ? cap * 2 : 8;
			grown = yd_alloc(d, cap * sizeof(*kids));
			if (!grown)
				return yd_oom(d, kid->line, key);
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

void yd_prefer_syntax_error(struct ydoc *d)
{
	yaml_event_t ev;
	int depth = 0;

	/* Stops when nesting runs away too: libyaml slows down quadratically in it. */
	while (depth <= YD_MAX_DEPTH) {
		if (!yaml_parser_parse(&d->parser, &ev)) {
			if (d->parser.error != YAML_MEMORY_ERROR) {
				d->failed = false;
				syntax_error(d);
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

int yd_open(struct ydoc *d, const char *name, const char *text, size_t len, char *err, size_t errlen)
{
	memset(d, 0, sizeof(*d));
	d->name = name ? name : "config";
	d->text = (const unsigned char *)(text ? text : "");
	d->len = text ? len : 0;
	d->err = err;
	d->errlen = errlen;
	if (err && errlen)
		err[0] = '\0';
	if (!yaml_parser_initialize(&d->parser))
		return yd_oom(d, 1, YKEY("YAML"));
	yaml_parser_set_input_string(&d->parser, d->text, d->len);
	return 0;
}

void yd_close(struct ydoc *d)
{
	yaml_parser_delete(&d->parser);
	arena_free(d);
}

/* --- scalar checks ------------------------------------------------------- */

const char *yd_want_scalar(struct ydoc *d, const struct ynode *n, const struct ykey *key,
			   const char *expect)
{
	if (n->type != YN_SCALAR) {
		yd_fail(d, n->line, key, "is %s; expected %s", yd_kind(n), expect);
		return NULL;
	}
	/* "\0" in a quoted string would cut names short behind our back. */
	if (strlen(n->str) != n->n) {
		yd_fail(d, n->line, key, "contains a NUL character; expected %s", expect);
		return NULL;
	}
	return n->str;
}

bool yd_all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* What yd_want_uint expects, written only for a message. */
static const char *range(char buf[64], uint32_t lo, uint32_t hi)
{
	snprintf(buf, 64, "an integer %u..%u", lo, hi);
	return buf;
}

int yd_want_uint(struct ydoc *d, const struct ynode *n, const struct ykey *key, uint32_t lo,
		 uint32_t hi, uint32_t *out)
{
	char expect[64];
	const char *s = n->str, *p;
	uint64_t v = 0;
	bool neg = false, big = false;
	struct yd_qbuf q;
	char *end;

	if (n->type != YN_SCALAR || strlen(n->str) != n->n) {
		yd_want_scalar(d, n, key, range(expect, lo, hi));
		return -1;
	}
	p = s;
	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!yd_all_digits(p)) {
		if (*s && (strtod(s, &end), !*end))
			return yd_fail(d, n->line, key, "%s is not a decimal integer; expected %s",
				       yd_quote(&q, n), range(expect, lo, hi));
		return yd_fail(d, n->line, key, "%s is not a number; expected %s", yd_quote(&q, n),
			       range(expect, lo, hi));
	}
	/* YAML 1.1 reads 010 as 8; refuse rather than guess which was meant. */
	if (p[0] == '0' && p[1])
		return yd_fail(d, n->line, key,
			       "%s has a leading zero (octal in YAML 1.1); expected %s",
			       yd_quote(&q, n), range(expect, lo, hi));
	for (; *p; p++) {
		v = v * 10 + (uint64_t)(*p - '0');
		if (v > UINT32_MAX) {
			big = true;
			break;
		}
	}
	if (big || (neg && v) || v < lo || v > hi)
		return yd_fail(d, n->line, key, "%s is out of range; expected %s",
			       yd_show(&q, n->str, n->n, false), range(expect, lo, hi));
	*out = (uint32_t)v;
	return 0;
}

int yd_want_enum(struct ydoc *d, const struct ynode *n, const struct ykey *key, const char *what,
		 const char *const *names, size_t count, const char *expect, int *out)
{
	const char *s = yd_want_scalar(d, n, key, expect);
	struct yd_qbuf q;
	size_t i;

	if (!s)
		return -1;
	for (i = 0; i < count; i++) {
		if (names[i] && !strcmp(s, names[i])) {
			*out = (int)i;
			return 0;
		}
	}
	return yd_fail(d, n->line, key, "%s is not %s; expected %s", yd_quote(&q, n), what, expect);
}

int yd_want_string(struct ydoc *d, const struct ynode *n, const struct ykey *key, char *buf,
		   size_t size, const char *expect)
{
	const char *s = yd_want_scalar(d, n, key, expect);
	struct yd_qbuf q;

	if (!s)
		return -1;
	if (n->n >= size)
		return yd_fail(d, n->line, key, "%s is too long (%zu bytes); expected at most %zu",
			       yd_quote(&q, n), n->n, size - 1);
	memcpy(buf, s, n->n + 1);
	return 0;
}

/* An optional section written as just "health:" is the caller's to allow. */
int yd_want_map(struct ydoc *d, const struct ynode *n, const struct ykey *key, const char *example)
{
	if (n->type == YN_MAP)
		return 0;
	return yd_fail(d, n->line, key, "is %s; expected a mapping like %s", yd_kind(n), example);
}

/* --- mappings: known keys, duplicates, typos ------------------------------ */

/* Optimal string alignment distance: a swapped pair of letters counts once. */
static size_t edit_distance(const char *a, size_t la, const char *b, size_t lb)
{
	size_t rows[3][YD_SUGGEST_MAX + 1], *pp = rows[0], *pr = rows[1], *cur = rows[2], *t;
	size_t i, j;

	if (la > YD_SUGGEST_MAX || lb > YD_SUGGEST_MAX)
		return SIZE_MAX;
	for (j = 0; j <= lb; j++)
		pr[j] = j;
	for (i = 1; i <= la; i++) {
		cur[0] = i;
		for (j = 1; j <= lb; j++) {
			size_t cost = a[i - 1] != b[j - 1], m = pr[j - 1] + cost;

			if (pr[j] + 1 < m)
				m = pr[j] + 1;
			if (cur[j - 1] + 1 < m)
				m = cur[j - 1] + 1;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] &&
			    pp[j - 2] + 1 < m)
				m = pp[j - 2] + 1;
			cur[j] = m;
		}
		t = pp;
		pp = pr;
		pr = cur;
		cur = t;
	}
	return pr[lb];
}

const char *yd_suggest(const char *key, size_t len, const char *const *known, size_t nk)
{
	char low[YD_SUGGEST_MAX + 1];
	const char *best = NULL;
	size_t i, best_d = SIZE_MAX;

	if (!len || len > YD_SUGGEST_MAX)
		return NULL;
	for (i = 0; i < len; i++)
		low[i] = (char)lb_lower((unsigned char)key[i]);
	low[len] = '\0';
	for (i = 0; i < nk; i++) {
		size_t kl = strlen(known[i]), dist = edit_distance(low, len, known[i], kl);
		size_t limit = kl / 4 < 1 ? 1 : kl / 4 > 3 ? 3 : kl / 4;
		size_t shorter = kl < len ? kl : len;

		/* "interval" for "interval_ms": a unit left off is a typo too. */
		if (dist > limit && !(shorter >= 4 && !strncmp(low, known[i], shorter)))
			continue;
		if (dist < best_d) {
			best_d = dist;
			best = known[i];
		}
	}
	return best;
}

int yd_unknown_key(struct ydoc *d, const struct ynode *k, const struct ykey *where,
		   const char *const *known, size_t nk)
{
	const struct ykey *key = YKEY_NODE(where, k);
	const char *hint = yd_suggest(k->str, k->n, known, nk);
	char list[256];
	size_t i, o = 0;

	if (k->n == 2 && !memcmp(k->str, "<<", 2))
		return yd_fail(d, k->line, key,
			       "merge keys are not supported; expected the keys written out");
	if (hint)
		return yd_fail(d, k->line, key, "unknown key; did you mean '%s'?", hint);
	list[0] = '\0';
	for (i = 0; i < nk && o < sizeof(list); i++)
		o += snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", known[i]);
	return yd_fail(d, k->line, key, "unknown key; expected one of %s", list);
}

int yd_check_key(struct ydoc *d, const struct ynode *k, const struct ykey *where)
{
	if (k->type == YN_SCALAR && strlen(k->str) == k->n)
		return 0;
	return yd_fail(d, k->line, where, "has a key that is %s; expected a plain key",
		       k->type == YN_SCALAR ? "a string with a NUL character" : yd_kind(k));
}

int yd_find_key(const struct ynode *k, const char *const *known, size_t nk)
{
	size_t i;

	for (i = 0; i < nk; i++)
		if (!strcmp(k->str, known[i]))
			return (int)i;
	return -1;
}

int yd_fields(struct ydoc *d, const struct ynode *map, const struct ykey *key, struct yd_field *f,
	      size_t nf)
{
	const char *known[YD_FIELDS_MAX];
	size_t i;
	int j;

	if (nf > YD_FIELDS_MAX)
		return yd_fail(d, map->line, key,
			       "internal error: too many keys; expected at most %d", YD_FIELDS_MAX);
	for (i = 0; i < nf; i++)
		known[i] = f[i].key;
	for (i = 0; i + 1 < map->n; i += 2) {
		const struct ynode *k = map->kids[i];

		if (yd_check_key(d, k, key))
			return -1;
		j = yd_find_key(k, known, nf);
		if (j < 0)
			return yd_unknown_key(d, k, key, known, nf);
		if (f[j].line)
			return yd_fail(d, k->line, YKEY_IN(key, f[j].key),
				       "given twice (first at line %d); expected each key once",
				       f[j].line);
		f[j].val = map->kids[i + 1];
		f[j].line = k->line;
	}
	return 0;
}

int yd_missing(struct ydoc *d, const struct ynode *map, const struct ykey *key, const char *name,
	       const char *expect)
{
	return yd_fail(d, map->line, YKEY_IN(key, name), "missing; expected %s", expect);
}
