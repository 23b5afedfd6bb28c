// SPDX-License-Identifier: GPL-2.0
/*
 * The VIPs' /32 routes in the announce table, kept over rtnetlink while the
 * balancer is ready (announce.h has the contract, docs/architecture.md the
 * why). Every change is one request with NLM_F_ACK, answered before the next.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "announce.h"
#include "log.h"
#include "select.h"

#define NL_BUF 65536 /* a dump's batch fits: the kernel fills up to the reader's size */

static const char *const reason_text[LB_ANNOUNCE_REASONS] = {
	[LB_ANNOUNCE_OFF] = "off (no announce: in the config)",
	[LB_ANNOUNCE_READY] = "serving, and a backend takes new flows",
	[LB_ANNOUNCE_NO_BACKEND] = "no backend takes new flows (all down or drained)",
	[LB_ANNOUNCE_STOPPING] = "stopping",
	[LB_ANNOUNCE_HANDOVER] = "left in place for the next daemon (SIGUSR2)",
	[LB_ANNOUNCE_FAILED] = "the kernel refused a route change",
};

/* For --json and scripts. */
static const char *const reason_name[LB_ANNOUNCE_REASONS] = {
	[LB_ANNOUNCE_OFF] = "off",
	[LB_ANNOUNCE_READY] = "ready",
	[LB_ANNOUNCE_NO_BACKEND] = "no_backend",
	[LB_ANNOUNCE_STOPPING] = "stopping",
	[LB_ANNOUNCE_HANDOVER] = "handover",
	[LB_ANNOUNCE_FAILED] = "failed",
};

const char *lb_announce_reason_text(unsigned int reason)
{
	return reason < LB_ANNOUNCE_REASONS ? reason_text[reason] : "unknown";
}

const char *lb_announce_reason_name(unsigned int reason)
{
	return reason < LB_ANNOUNCE_REASONS ? reason_name[reason] : "unknown";
}

/* --- rtnetlink ------------------------------------------------------------- */

struct route_req {
	struct nlmsghdr nh;
	struct rtmsg rt;
	char attrs[2 * RTA_SPACE(sizeof(uint32_t))];
};

static void put_attr(struct nlmsghdr *nh, unsigned short type, const void *data, size_t len)
{
	struct rtattr *rta = (struct rtattr *)((char *)nh + NLMSG_ALIGN(nh->nlmsg_len));

	rta->rta_type = type;
	rta->rta_len = RTA_LENGTH(len);
	memcpy(RTA_DATA(rta), data, len);
	nh->nlmsg_len = NLMSG_ALIGN(nh->nlmsg_len) + RTA_ALIGN(rta->rta_len);
}

static int nl_send(struct lb_announcer *a, struct nlmsghdr *nh)
{
	struct sockaddr_nl kernel = { .nl_family = AF_NETLINK };

	nh->nlmsg_seq = ++a->seq;
	if (sendto(a->nl, nh, nh->nlmsg_len, 0, (struct sockaddr *)&kernel, sizeof(kernel)) < 0)
		return -errno;
	return 0;
}

/*
 * Read answers to request @seq until its ACK (or, for a dump, its end),
 * handing each route message of a dump to @each. Returns 0 or -errno; answers
 * to an earlier request that timed out are skipped by their sequence number.
 */
static int nl_wait(struct lb_announcer *a, uint32_t seq,
		   void (*each)(void *ctx, const struct nlmsghdr *h), void *ctx)
{
	char *buf = malloc(NL_BUF);
	struct nlmsghdr *h;
	ssize_t n;
	int ret = -EIO;

	if (!buf)
		return -ENOMEM;
	for (;;) {
		n = recv(a->nl, buf, NL_BUF, 0);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			ret = errno == EAGAIN ? -ETIMEDOUT : -errno;
			break;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)n); h = NLMSG_NEXT(h, n)) {
			if (h->nlmsg_seq != seq)
				continue;
			if (h->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e = NLMSG_DATA(h);

				ret = e->error;
				goto out;
			}
			if (h->nlmsg_type == NLMSG_DONE) {
				ret = 0;
				goto out;
			}
			if (each)
				each(ctx, h);
		}
	}
out:
	free(buf);
	return ret;
}

/* Add (RTM_NEWROUTE) or remove (RTM_DELROUTE) blackhole @addr/32 of ours in @table. */
static int nl_route(struct lb_announcer *a, int cmd, uint32_t table, struct in_addr addr)
{
	struct route_req req = {
		.nh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)),
			.nlmsg_type = cmd,
			/* REPLACE: a route a previous daemon left is taken over, not refused. */
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK |
				       (cmd == RTM_NEWROUTE ? NLM_F_CREATE | NLM_F_REPLACE : 0),
		},
		.rt = {
			.rtm_family = AF_INET,
			.rtm_dst_len = 32,
			/* Table ids over 255 only fit the attribute. */
			.rtm_table = table < 256 ? table : RT_TABLE_UNSPEC,
			/* On a delete, the protocol and type make the kernel match only ours. */
			.rtm_protocol = LB_RTPROT,
			.rtm_scope = cmd == RTM_NEWROUTE ? RT_SCOPE_UNIVERSE : RT_SCOPE_NOWHERE,
			.rtm_type = RTN_BLACKHOLE,
		},
	};
	int ret;

	put_attr(&req.nh, RTA_DST, &addr.s_addr, sizeof(addr.s_addr));
	put_attr(&req.nh, RTA_TABLE, &table, sizeof(table));
	ret = nl_send(a, &req.nh);
	if (!ret)
		ret = nl_wait(a, a->seq, NULL, NULL);
	/* Already gone (removed by hand, or never there) is what a delete wants. */
	if (cmd == RTM_DELROUTE && (ret == -ESRCH || ret == -ENOENT))
		ret = 0;
	return ret;
}

struct dump {
	struct lb_announce_route *out;
	size_t max, n;
};

static void collect_ours(void *ctx, const struct nlmsghdr *h)
{
	const struct rtmsg *rt = NLMSG_DATA(h);
	struct dump *d = ctx;
	struct lb_announce_route r = { .table = rt->rtm_table };
	const struct rtattr *rta;
	int len = RTM_PAYLOAD(h);
	bool dst = false;

	if (h->nlmsg_type != RTM_NEWROUTE || rt->rtm_family != AF_INET ||
	    rt->rtm_protocol != LB_RTPROT || rt->rtm_dst_len != 32 || rt->rtm_type != RTN_BLACKHOLE)
		return;
	for (rta = RTM_RTA(rt); RTA_OK(rta, len); rta = RTA_NEXT(rta, len)) {
		if (rta->rta_type == RTA_TABLE && RTA_PAYLOAD(rta) >= sizeof(uint32_t))
			memcpy(&r.table, RTA_DATA(rta), sizeof(uint32_t));
		else if (rta->rta_type == RTA_DST && RTA_PAYLOAD(rta) >= sizeof(r.addr)) {
			memcpy(&r.addr, RTA_DATA(rta), sizeof(r.addr));
			dst = true;
		}
	}
	if (dst && d->n < d->max)
		d->out[d->n++] = r;
}

/* Every IPv4 route of ours, in any table. */
static int nl_dump_ours(struct lb_announcer *a, struct dump *d)
{
	struct {
		struct nlmsghdr nh;
		struct rtmsg rt;
	} req = {
		.nh = {
			.nlmsg_len = NLMSG_LENGTH(sizeof(struct rtmsg)),
			.nlmsg_type = RTM_GETROUTE,
			.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		},
		.rt = { .rtm_family = AF_INET },
	};
	int ret = nl_send(a, &req.nh);

	return ret ? ret : nl_wait(a, a->seq, collect_ours, d);
}

/* --- what should be in the table ------------------------------------------- */

static bool same(const struct lb_announce_route *x, const struct lb_announce_route *y)
{
	return x->table == y->table && x->addr.s_addr == y->addr.s_addr;
}

static bool among(const struct lb_announce_route *r, const struct lb_announce_route *set, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (same(r, &set[i]))
			return true;
	return false;
}

/* The config's VIP addresses in its table, each once (a VIP may have several ports). */
static size_t wanted(const struct lb_config *cfg, struct lb_announce_route *out)
{
	size_t i, n = 0;

	for (i = 0; i < cfg->n_vips && n < LB_MAX_VIPS; i++) {
		struct lb_announce_route r = { cfg->announce.table, cfg->vips[i].address };

		if (!among(&r, out, n))
			out[n++] = r;
	}
	return n;
}

/* Ready to take new connections: a backend selection would hand one to. */
static bool serving(const struct lb_config *cfg, const struct lb_backend *backends)
{
	size_t i;

	for (i = 0; i < cfg->n_backends && i < LB_MAX_BACKENDS; i++) {
		struct lb_backend_view v;

		if (!cfg->backends[i].name[0]) /* a slot freed by a reload */
			continue;
		v = lb_backend_view_of(&backends[i], cfg->backends[i].weight, true);
		if (lb_backend_usable(&v))
			return true;
	}
	return false;
}

static const char *addr_str(struct in_addr a, char buf[INET_ADDRSTRLEN])
{
	return inet_ntop(AF_INET, &a, buf, INET_ADDRSTRLEN);
}

/*
 * Remove what is held but not wanted, then add what is wanted but not held.
 * Returns 0, or the last refusal's -errno (the rest is still tried).
 */
static int reconcile(struct lb_announcer *a, const struct lb_announce_route *want, size_t n_want)
{
	char s[INET_ADDRSTRLEN];
	int ret = 0, r;
	size_t i;

	for (i = a->n_held; i-- > 0;) {
		if (among(&a->held[i], want, n_want))
			continue;
		r = nl_route(a, RTM_DELROUTE, a->held[i].table, a->held[i].addr);
		if (r) {
			pr_debug("announce: cannot remove %s/32 from table %u: %s\n",
				 addr_str(a->held[i].addr, s), a->held[i].table, strerror(-r));
			ret = r;
			continue;
		}
		a->held[i] = a->held[--a->n_held];
	}
	for (i = 0; i < n_want; i++) {
		if (among(&want[i], a->held, a->n_held))
			continue;
		if (a->n_held == sizeof(a->held) / sizeof(a->held[0])) {
			ret = -ENOSPC; /* old routes we could not remove fill the list */
			break;
		}
		r = nl_route(a, RTM_NEWROUTE, want[i].table, want[i].addr);
		if (r) {
			pr_debug("announce: cannot add %s/32 to table %u: %s\n",
				 addr_str(want[i].addr, s), want[i].table, strerror(-r));
			ret = r;
			continue;
		}
		a->held[a->n_held++] = want[i];
	}
	return ret;
}

/* --- state ------------------------------------------------------------------ */

static void publish(struct lb_announcer *a)
{
	__u32 k = 0;

	if (a->state_fd >= 0 && bpf_map_update_elem(a->state_fd, &k, &a->state, 0))
		pr_debug("announce: cannot write the announce map: %s\n", strerror(errno));
}

/* Record and log a change (only a change: the loop calls this every turn). */
static void set_state(struct lb_announcer *a, uint32_t table, unsigned int reason, int err)
{
	struct lb_announce s = a->state;

	s.table = table;
	s.announced = a->n_held > 0;
	s.routes = a->n_held;
	s.reason = reason;
	s.error = -err;
	if (s.table == a->state.table && s.announced == a->state.announced &&
	    s.routes == a->state.routes && s.reason == a->state.reason &&
	    s.error == a->state.error)
		return;
	if (a->state.announced && !s.announced)
		s.withdrawals++;
	s.changed_s = time(NULL);
	if (err)
		pr_warn("announce: table %u: %s: %s; %u route(s) in the table, trying again every "
			"second\n", table, reason_text[LB_ANNOUNCE_FAILED], strerror(-err), s.routes);
	else if (s.announced)
		pr_info("announce: table %u: %u VIP route(s) announced: %s\n", table, s.routes,
			lb_announce_reason_text(reason));
	else if (a->state.announced)
		pr_info("announce: table %u: withdrawn: %s\n", a->state.table,
			lb_announce_reason_text(reason));
	else if (table)
		pr_info("announce: table %u: not announced: %s\n", table,
			lb_announce_reason_text(reason));
	a->state = s;
	publish(a);
}

/* --- API -------------------------------------------------------------------- */

/* Routes of ours that @cfg will not announce: a killed daemon's, or another config's. */
static void remove_stale(struct lb_announcer *a, const struct lb_config *cfg)
{
	struct lb_announce_route found[4 * LB_MAX_VIPS], want[LB_MAX_VIPS];
	struct dump d = { .out = found, .max = sizeof(found) / sizeof(found[0]) };
	size_t n_want = cfg->announce.table ? wanted(cfg, want) : 0, i;
	char s[INET_ADDRSTRLEN];
	int r = nl_dump_ours(a, &d);

	if (r) {
		pr_warn("announce: cannot list the routing tables: %s; routes a previous latebind "
			"left (proto %d) stay\n", strerror(-r), LB_RTPROT);
		return;
	}
	for (i = 0; i < d.n; i++) {
		if (among(&found[i], want, n_want))
			continue; /* ours to keep: asserted (or withdrawn) at the first update */
		r = nl_route(a, RTM_DELROUTE, found[i].table, found[i].addr);
		if (r)
			pr_warn("announce: cannot remove %s/32 from table %u, left by an earlier "
				"latebind: %s\n", addr_str(found[i].addr, s), found[i].table,
				strerror(-r));
		else
			pr_info("announce: removed %s/32 from table %u: left by an earlier latebind, "
				"and this config does not announce it\n", addr_str(found[i].addr, s),
				found[i].table);
	}
}

int lb_announce_open(struct lb_announcer *a, const struct lb_config *cfg, int state_fd)
{
	struct timeval tv = { .tv_sec = 1 }; /* the kernel answers at once; never hang the loop */
	__u32 k = 0;

	*a = (struct lb_announcer){ .nl = -1, .state_fd = state_fd };
	/* A pin taken over from the previous daemon: its withdrawals go on counting. */
	if (state_fd >= 0 && !bpf_map_lookup_elem(state_fd, &k, &a->state))
		a->state = (struct lb_announce){ .withdrawals = a->state.withdrawals };
	a->nl = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (a->nl < 0 || setsockopt(a->nl, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv))) {
		pr_warn("announce: no rtnetlink socket: %s\n", strerror(errno));
		lb_announce_close(a);
		return -1;
	}
	remove_stale(a, cfg);
	publish(a);
	return 0;
}

void lb_announce_update(struct lb_announcer *a, const struct lb_config *cfg,
			const struct lb_backend *backends, uint64_t now_ms)
{
	struct lb_announce_route want[LB_MAX_VIPS];
	size_t n_want = 0;
	unsigned int reason = LB_ANNOUNCE_OFF;
	int err;

	if (a->nl < 0 || a->stopping)
		return;
	if (cfg->announce.table) {
		reason = serving(cfg, backends) ? LB_ANNOUNCE_READY : LB_ANNOUNCE_NO_BACKEND;
		if (reason == LB_ANNOUNCE_READY)
			n_want = wanted(cfg, want);
	}
	if (a->state.error && now_ms < a->retry_ms)
		return;
	err = reconcile(a, want, n_want);
	if (err)
		a->retry_ms = now_ms + 1000;
	set_state(a, cfg->announce.table, err ? LB_ANNOUNCE_FAILED : reason, err);
}

size_t lb_announce_stop(struct lb_announcer *a)
{
	size_t before = a->n_held;
	int err;

	if (a->nl < 0 || a->stopping)
		return 0;
	a->stopping = true;
	if (!a->state.table && !a->n_held)
		return 0;
	err = reconcile(a, NULL, 0);
	set_state(a, a->state.table, err ? LB_ANNOUNCE_FAILED : LB_ANNOUNCE_STOPPING, err);
	return before - a->n_held;
}

void lb_announce_leave(struct lb_announcer *a)
{
	if (a->nl < 0 || !a->n_held)
		return;
	a->stopping = true;
	set_state(a, a->state.table, LB_ANNOUNCE_HANDOVER, 0);
}

void lb_announce_close(struct lb_announcer *a)
{
	if (a->nl >= 0)
		close(a->nl);
	a->nl = -1;
}
