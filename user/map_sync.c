// SPDX-License-Identifier: GPL-2.0
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>

#include <bpf/bpf.h>

#include "cookie_key.h"
#include "log.h"
#include "map_sync.h"

int lb_sync_load_secret(const struct lb_config *cfg, struct lb_cookie_secret *secret)
{
	char err[LB_ERR_MAX];

	secret->period_s = cfg->cookie.period_s;
	secret->windows = cfg->cookie.windows;
	if (lb_cookie_key_load(cfg->cookie.key_file, true, secret->key, err, sizeof(err))) {
		pr_warn("%s\n", err);
		return -1;
	}
	return 0;
}

int lb_sync_secret(int fd, const struct lb_cookie_secret *secret)
{
	__u32 k = 0;

	return bpf_map_update_elem(fd, &k, secret, 0);
}

static int vip_in_config(const struct lb_config *cfg, const struct lb_vip_key *k)
{
	size_t i;

	for (i = 0; i < cfg->n_vips; i++)
		if (cfg->vips[i].address.s_addr == k->addr &&
		    (!k->port || htons(cfg->vips[i].port) == k->port))
			return 1;
	return 0;
}

/*
 * Each VIP is address:port, plus an address-only marker with port 0 that
 * makes the program strict about everything sent to the address.
 */
int lb_sync_vips(int fd, const struct lb_config *cfg)
{
	struct lb_vip_key k, next, *prev = NULL;
	size_t i;

	for (i = 0; i < cfg->n_vips; i++) {
		const struct lb_cfg_vip *v = &cfg->vips[i];
		struct lb_vip val = { .index = i, .mode = v->mode };

		k = (struct lb_vip_key){ .addr = v->address.s_addr, .port = htons(v->port),
					 .proto = IPPROTO_TCP };
		if (bpf_map_update_elem(fd, &k, &val, 0))
			return -1;
		k.port = 0;
		if (bpf_map_update_elem(fd, &k, &val, 0))
			return -1;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		if (!vip_in_config(cfg, &next)) {
			bpf_map_delete_elem(fd, &next);
			continue; /* restart after a delete; the table is small */
		}
		k = next;
		prev = &k;
	}
	return 0;
}

int lb_sync_backends(const struct lb_config *cfg, const struct lb_ifaces *ifs,
		     struct lb_backend *backends, int names_fd)
{
	struct lb_backend_name name;
	__u32 slot;

	for (slot = 0; slot < cfg->n_backends && slot < LB_MAX_BACKENDS; slot++) {
		const struct lb_cfg_backend *c = &cfg->backends[slot];
		struct lb_backend *b = &backends[slot];

		/* Config fields only: live counters of a flow table we took over stay. */
		if (!c->name[0]) { /* a slot freed by a reload */
			b->addr = 0;
			memset(&name, 0, sizeof(name));
			bpf_map_update_elem(names_fd, &slot, &name, 0);
			continue;
		}
		/*
		 * A resolved MAC stays until the neighbour table says otherwise. The
		 * local backend has ours: known, so selection takes it (XDP never
		 * sends a frame to it).
		 */
		if (c->local)
			memcpy(b->mac, ifs->mac, sizeof(b->mac));
		else if (c->mac_given || b->addr != c->address.s_addr)
			memcpy(b->mac, c->mac, sizeof(b->mac));
		b->addr = c->address.s_addr;
		b->weight = c->weight;
		/* 0 for the main interface: XDP_TX, no redirect. */
		b->ifindex = lb_ifaces_backend_ifindex(ifs, c);
		snprintf(name.name, sizeof(name.name), "%s", c->name);
		bpf_map_update_elem(names_fd, &slot, &name, 0);
	}
	return 0;
}

/* Recomputed once a second by the daemon, so `undrain` takes effect then. */
void lb_sync_states(const struct lb_config *cfg, struct lb_backend *backends,
		    struct lb_health *health)
{
	size_t i;

	for (i = 0; i < cfg->n_backends && i < LB_MAX_BACKENDS; i++) {
		const struct lb_cfg_backend *c = &cfg->backends[i];
		struct lb_backend *b = &backends[i];
		int admin = c->state == LB_BACKEND_DRAINING ||
					__atomic_load_n(&b->admin, __ATOMIC_RELAXED) == LB_ADMIN_DRAINED
				    ? LB_BACKEND_DRAINING
				    : LB_BACKEND_UP;
		int state = LB_BACKEND_DOWN; /* a slot freed by a reload */

		if (c->name[0]) {
			lb_health_set_admin(health, i, admin);
			state = lb_health_effective_state(health, i);
			if (state < 0)
				state = admin; /* before the health checks exist */
		}
		__atomic_store_n(&b->state, state, __ATOMIC_RELAXED);
	}
}

void lb_sync_handoff_resets(const struct lb_config *cfg, const struct lb_backend *backends,
			    __u64 seen[LB_MAX_BACKENDS], struct lb_health *health)
{
	size_t i;

	for (i = 0; i < cfg->n_backends && i < LB_MAX_BACKENDS; i++) {
		__u64 now = __atomic_load_n(&backends[i].handoff_resets, __ATOMIC_RELAXED);

		for (; seen[i] < now; seen[i]++)
			lb_health_report_failure(health, i);
	}
}
