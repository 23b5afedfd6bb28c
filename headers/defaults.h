/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The config's defaults (docs/config.md), in one place for the loader, its
 * hints, the backend command and the BPF programs' load-time settings.
 */
#ifndef LATEBIND_DEFAULTS_H
#define LATEBIND_DEFAULTS_H

#define LB_STR_(x) #x
#define LB_STR(x)  LB_STR_(x) /* a number's value as a string, for hints */

#define LB_DEFAULT_MSS		      1400
#define LB_DEFAULT_WSCALE	      7
#define LB_DEFAULT_REQUEST_LIMIT      16384 /* bytes of request head collected */
#define LB_DEFAULT_REQUEST_TIMEOUT_MS 10000
/* Unscaled window in our SYN/ACK: room for a request head in one flight. */
#define LB_DEFAULT_SYN_WINDOW	      65535

#define LB_DEFAULT_HEALTH_PATH	      "/"
#define LB_DEFAULT_HEALTH_INTERVAL_MS 1000
#define LB_DEFAULT_HEALTH_TIMEOUT_MS  1000
#define LB_DEFAULT_HEALTH_RISE	      2
#define LB_DEFAULT_HEALTH_FALL	      3
#define LB_DEFAULT_HEALTH_STATUS_MIN  200
#define LB_DEFAULT_HEALTH_STATUS_MAX  399

#define LB_DEFAULT_METRICS_LISTEN     "127.0.0.1:9180"
#define LB_DEFAULT_COOKIE_KEY_FILE    "/etc/latebind/cookie.key"
#define LB_DEFAULT_COOKIE_PERIOD_S    64 /* seconds a cookie time window lasts */
#define LB_DEFAULT_PEER_PORT	      7480 /* UDP, flow bindings between balancers */
#define LB_DEFAULT_COOKIE_WINDOWS     2	 /* windows a cookie is accepted in */

/* After a stop withdraws the VIPs' routes, time for the routers to move away. */
#define LB_DEFAULT_ANNOUNCE_GRACE_MS  1000
#define LB_ANNOUNCE_GRACE_MAX_MS      60000

/*
 * One dispatcher thread per RX queue, capped by the CPUs online: every core
 * dispatches. A frame that lands on another thread than its connection's is
 * passed to the owner (user/thread_ring.h), so RSS need not be symmetric.
 */
#define LB_DEFAULT_DISPATCHER_THREADS 0

#endif
