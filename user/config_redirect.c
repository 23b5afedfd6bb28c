// SPDX-License-Identifier: GPL-2.0
/*
 * Redirect mode's keys (docs/config.md): `redirect:` of a VIP or a route, a
 * backend's `public:`, and, once the whole file is read, that every holder of
 * a route that redirects has a public name to redirect to. Templates are
 * compiled here (user/redirect.h), so a request never meets a bad one.
 */
#include <stdio.h>
#include <string.h>

#include "config_parse.h"
#include "redirect.h"

static const char redirect_example[] = "{status: 307, url: \"http://{public}{path}\"}";

/* The template's fault as "what is wrong; expected what". */
static int bad_url(struct parse *p, const struct ynode *v, const struct ykey *key,
		   const struct lb_redirect_problem *pb)
{
	static const char *const vars[] = { "public", "path", "host" };
	const char *url = v->str, *hint;
	struct yd_qbuf q, bit;

	switch (pb->fault) {
	case LB_RF_UNKNOWN_VAR:
		/* "{pubilc}": the name between the braces, matched against the known ones. */
		hint = yd_suggest(url + pb->off + 1, pb->len - 2, vars, 3);
		if (hint)
			return yd_fail(&p->doc, v->line, key,
				       "%s has an unknown placeholder %s; expected {%s} there",
				       yd_quote(&q, v), yd_show(&bit, url + pb->off, pb->len, false),
				       hint);
		return yd_fail(&p->doc, v->line, key,
			       "%s has an unknown placeholder %s; expected " LB_REDIRECT_VARS,
			       yd_quote(&q, v), yd_show(&bit, url + pb->off, pb->len, false));
	case LB_RF_NO_PUBLIC:
		return yd_fail(&p->doc, v->line, key,
			       "%s %s, so the chosen backend would be lost; expected a URL like "
			       "http://{public}{path}",
			       yd_quote(&q, v), lb_redirect_fault_str(pb->fault));
	case LB_RF_CHAR:
		return yd_fail(&p->doc, v->line, key,
			       "%s %s (%s at byte %zu); expected the characters of a URL "
			       "(RFC 3986), others written as %%XX",
			       yd_quote(&q, v), lb_redirect_fault_str(pb->fault),
			       yd_show(&bit, url + pb->off, 1, true), pb->off + 1);
	case LB_RF_LONG:
		return yd_fail(&p->doc, v->line, key,
			       "%s %s; expected at most %d bytes and %d placeholders and text runs",
			       yd_quote(&q, v), lb_redirect_fault_str(pb->fault),
			       LB_REDIRECT_URL_MAX, LB_REDIRECT_PARTS_MAX);
	default:
		return yd_fail(&p->doc, v->line, key,
			       "%s %s; expected a URL like http://{public}{path} with the "
			       "placeholders " LB_REDIRECT_VARS,
			       yd_quote(&q, v), lb_redirect_fault_str(pb->fault));
	}
}

/* The compiled template, in the config's memory; a repeat of the previous one is shared. */
static int keep(struct parse *p, const struct lb_redirect *r, int line, const struct ykey *key,
		const struct lb_redirect **out)
{
	const struct lb_redirect *last = p->last_redirect;
	size_t url_len = strlen(r->url), parts = r->n_parts * sizeof(*r->parts);
	struct lb_redirect *k;
	void *mem;

	if (last && last->status == r->status && !strcmp(last->url, r->url)) {
		*out = last;
		return 0;
	}
	k = cfg_route_alloc(p, sizeof(*k), _Alignof(struct lb_redirect));
	mem = k ? cfg_route_alloc(p, parts + url_len + 1, _Alignof(struct lb_redirect_part))
		: NULL;
	if (!mem)
		return yd_oom(&p->doc, line, key);
	memcpy(mem, r->parts, parts);
	memcpy((char *)mem + parts, r->url, url_len + 1);
	*k = *r;
	k->parts = mem;
	k->url = (char *)mem + parts;
	*out = p->last_redirect = k;
	return 0;
}

int cfg_redirect(struct parse *p, const struct ynode *n, const struct ykey *key, bool route,
		 const struct lb_redirect **out)
{
	enum { R_STATUS, R_URL, R_N };
	struct yd_field f[R_N] = { [R_STATUS] = { "status" }, [R_URL] = { "url" } };
	struct lb_redirect_part parts[LB_REDIRECT_PARTS_MAX];
	struct lb_redirect_problem pb;
	struct lb_redirect r;
	uint32_t status = 307;
	const struct ykey *k;
	const char *url;

	if (route && n->type == YN_SCALAR && !strcmp(n->str, "none")) {
		*out = &lb_redirect_none;
		return 0;
	}
	if (n->type != YN_MAP)
		return yd_fail(&p->doc, n->line, key, "is %s; expected a mapping like %s%s",
			       yd_kind(n), redirect_example,
			       route ? ", or none (handed off even when the VIP redirects)" : "");
	if (yd_fields(&p->doc, n, key, f, R_N))
		return -1;
	if (f[R_STATUS].val) {
		k = YKEY_IN(key, "status");
		if (yd_want_uint(&p->doc, f[R_STATUS].val, k, 100, 599, &status))
			return -1;
		if (!lb_redirect_status_ok(status))
			return yd_fail(&p->doc, f[R_STATUS].val->line, k,
				       "%u is not a redirect status the balancer sends; expected 307 "
				       "or 308 (the client keeps its method and body), or 302 for "
				       "old clients",
				       status);
	}
	if (!f[R_URL].val)
		return yd_missing(&p->doc, n, key, "url",
				  "the URL to send clients to, e.g. url: \"http://{public}{path}\"");
	k = YKEY_IN(key, "url");
	url = yd_want_scalar(&p->doc, f[R_URL].val, k, "a URL like \"http://{public}{path}\"");
	if (!url)
		return -1;
	if (lb_redirect_compile(url, f[R_URL].val->n, (uint16_t)status, &r, parts, &pb))
		return bad_url(p, f[R_URL].val, k, &pb);
	return keep(p, &r, f[R_URL].val->line, k, out);
}

int cfg_public(struct parse *p, const struct ynode *n, const struct ykey *key,
	       struct lb_cfg_backend *b)
{
	static const char expect[] =
		"the host clients reach the backend by, like web1.example.net or 198.51.100.11:8080";
	const char *s = yd_want_scalar(&p->doc, n, key, expect), *why = "";
	struct yd_qbuf q;

	if (!s)
		return -1;
	if (!lb_public_canon(s, n->n, b->public_name, &why))
		return yd_fail(&p->doc, n->line, key, "%s is not a host or host:port (%s); expected %s",
			       yd_quote(&q, n), why, expect);
	b->public_line = n->line;
	return 0;
}

int cfg_redirect_check(struct parse *p)
{
	const struct lb_config *cfg = p->cfg;
	const struct lb_redirect *by_vip = NULL;
	size_t i, j, vip = 0;
	bool any = false;

	for (i = 0; i < cfg->n_vips && !by_vip; i++)
		if (cfg->vips[i].redirect) {
			by_vip = cfg->vips[i].redirect;
			vip = i;
		}
	for (i = 0; i < cfg->n_routes && !by_vip && !any; i++)
		any = cfg->routes[i].redirect && cfg->routes[i].redirect != &lb_redirect_none;
	if (!by_vip && !any)
		return 0; /* a site without redirects pays nothing for the check */
	for (i = 0; i < cfg->n_routes; i++) {
		const struct lb_cfg_route *r = &cfg->routes[i];
		const struct ykey *where = YKEY_AT(YKEY("routes"), i);
		char whose[96];

		if (r->redirect == &lb_redirect_none || (!r->redirect && !by_vip))
			continue;
		for (j = 0; j < r->n_backends; j++) {
			const struct lb_cfg_backend *b = &cfg->backends[r->backends[j]];

			if (b->public_name[0])
				continue;
			if (r->redirect)
				snprintf(whose, sizeof(whose), "this route redirects");
			else
				snprintf(whose, sizeof(whose), "vips[%zu] (line %d) redirects", vip,
					 cfg->vips[vip].line);
			return yd_fail(&p->doc, r->line, YKEY_AT(YKEY_IN(where, "backends"), j),
				       "%s has no public: but %s; expected public: with the host "
				       "clients reach it by on backends[%u] (line %d)%s",
				       b->name, whose, r->backends[j], b->line,
				       r->redirect ? "" : ", or redirect: none on this route");
		}
	}
	return 0;
}
