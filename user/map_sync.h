/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The config into lb_xdp's maps: the cookie secret, the VIPs, each backend
 * slot's config fields and name, and the state selection sees. Run at start
 * and on every reload; a map a previous daemon filled is brought in line
 * (entries the config no longer has go) without touching live counters.
 */
#ifndef LATEBIND_MAP_SYNC_H
#define LATEBIND_MAP_SYNC_H

#include "config.h"
#include "cookie.h"
#include "health.h"
#include "ifaces.h"
#include "maps.h"

/* The secret from @cfg's key file and cookie settings; says what is wrong with the file. */
int lb_sync_load_secret(const struct lb_config *cfg, struct lb_cookie_secret *secret);

/* @secret into the cookie_secret map (@fd). */
int lb_sync_secret(int fd, const struct lb_cookie_secret *secret);

/* @cfg's VIPs into the vips map (@fd), and out of it what @cfg no longer has. */
int lb_sync_vips(int fd, const struct lb_config *cfg);

/*
 * The config fields of every slot of @cfg into @backends (the mmapped
 * backends map) and their names into backend_names (@names_fd); a freed slot
 * is emptied. Counters stay, and so does a MAC resolved for the same address.
 */
int lb_sync_backends(const struct lb_config *cfg, const struct lb_ifaces *ifs,
		     struct lb_backend *backends, int names_fd);

/*
 * Each slot's state as selection sees it: health's verdict on the admin
 * state (the config's or `latebind drain`'s), or that admin state while
 * @health is NULL; a freed slot is down.
 */
void lb_sync_states(const struct lb_config *cfg, struct lb_backend *backends,
		    struct lb_health *health);

/* Hand-offs a backend reset (counted by XDP) since @seen count as its failed checks. */
void lb_sync_handoff_resets(const struct lb_config *cfg, const struct lb_backend *backends,
			    __u64 seen[LB_MAX_BACKENDS], struct lb_health *health);

#endif
