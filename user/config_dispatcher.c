// SPDX-License-Identifier: GPL-2.0
/*
 * The config's `dispatcher:` section (docs/config.md): how many threads serve
 * the AF_XDP sockets (one socket per RX queue; thread t serves the queues q
 * with q % threads == t) and whether their sockets busy-poll.
 */
#include <stdint.h>

#include "config_parse.h"
#include "defaults.h"
#include "maps.h"

int cfg_dispatcher(struct parse *p, const struct ynode *n)
{
	static const char *const bools[] = { "false", "true" };
	const struct ykey *where = YKEY("dispatcher");
	enum { D_THREADS, D_BUSY_POLL, D_N };
	struct yd_field f[D_N] = {
		[D_THREADS] = { "threads" },
		[D_BUSY_POLL] = { "busy_poll" },
	};
	struct lb_cfg_dispatcher *d = &p->cfg->dispatcher;
	int busy;

	if (n->type == YN_NULL)
		return 0;
	if (yd_want_map(&p->doc, n, where, "{threads: 2, busy_poll: false}") ||
	    yd_fields(&p->doc, n, where, f, D_N))
		return -1;
	/* More threads than sockets (LB_MAX_QUEUES at most) would have nothing to serve. */
	if (f[D_THREADS].val &&
	    yd_want_uint(&p->doc, f[D_THREADS].val, YKEY_IN(where, "threads"), 0,
			 LB_MAX_QUEUES, &d->threads))
		return -1;
	if (f[D_BUSY_POLL].val) {
		if (yd_want_enum(&p->doc, f[D_BUSY_POLL].val, YKEY_IN(where, "busy_poll"),
				 "true or false", bools, 2, "busy_poll: true or busy_poll: false",
				 &busy))
			return -1;
		d->busy_poll = busy;
	}
	return 0;
}
