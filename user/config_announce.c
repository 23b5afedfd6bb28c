// SPDX-License-Identifier: GPL-2.0
/*
 * The config's `announce:` section (docs/config.md): the kernel routing table
 * the daemon keeps the VIPs' /32 routes in while it is ready, for a BGP daemon
 * to export (user/announce.h), and the grace after a withdrawal at a stop.
 */
#include <stdint.h>
#include <string.h>

#include "config_parse.h"
#include "defaults.h"

static const char table_expect[] = "a routing table of latebind's own, like 200 (1..4294967295 "
				   "but 253, 254 and 255)";

/* The kernel's own tables: their routes are used for forwarding, not just announced. */
static const char *kernel_table(uint32_t id)
{
	switch (id) {
	case 0: return "0 is no table (the kernel reads it as unspecified)";
	case 253: return "253 is the kernel's default table";
	case 254: return "254 is the kernel's main table";
	case 255: return "255 is the kernel's local table";
	default: return NULL;
	}
}

static int want_table(struct parse *p, const struct ynode *n, const struct ykey *key,
		      uint32_t *out)
{
	static const char *const names[] = { "default", "main", "local" };
	const char *why;
	size_t i;

	/* The names `ip route` takes for them get the same answer as their numbers. */
	if (n->type == YN_SCALAR)
		for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			if (!strcmp(n->str, names[i]))
				return yd_fail(&p->doc, n->line, key,
					       "%s is the kernel's %s table (%u); expected %s",
					       names[i], names[i], 253 + (unsigned int)i,
					       table_expect);
	if (yd_want_uint(&p->doc, n, key, 0, UINT32_MAX, out))
		return -1;
	why = kernel_table(*out);
	if (why)
		return yd_fail(&p->doc, n->line, key, "%s; expected %s", why, table_expect);
	return 0;
}

int cfg_announce(struct parse *p, const struct ynode *n)
{
	const struct ykey *where = YKEY("announce");
	enum { A_TABLE, A_GRACE, A_N };
	struct yd_field f[A_N] = {
		[A_TABLE] = { "table" },
		[A_GRACE] = { "withdraw_grace_ms" },
	};
	struct lb_cfg_announce *a = &p->cfg->announce;

	/* Written empty it keeps its default like any section: nothing announced. */
	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where,
			"{table: 200, withdraw_grace_ms: " LB_STR(LB_DEFAULT_ANNOUNCE_GRACE_MS) "}") ||
	    yd_fields(&p->doc, n, where, f, A_N))
		return -1;
	if (!f[A_TABLE].val)
		return yd_missing(&p->doc, n, where, "table",
				  "the routing table to keep the VIPs' routes in, e.g. table: 200");
	if (want_table(p, f[A_TABLE].val, YKEY_IN(where, "table"), &a->table))
		return -1;
	if (f[A_GRACE].val &&
	    yd_want_uint(&p->doc, f[A_GRACE].val, YKEY_IN(where, "withdraw_grace_ms"), 0,
			 LB_ANNOUNCE_GRACE_MAX_MS, &a->withdraw_grace_ms))
		return -1;
	return 0;
}
