/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Active HTTP health checks of the backends, from the balancer's own TCP stack
 * to each backend's real address (never the VIP: the reply must come back to
 * us, not go to a client).
 *
 * The web server on a backend must answer on its real address as well as on
 * the VIP (nginx's `listen 80` does). The balancer's XDP program passes the
 * replies up untouched (they are not addressed to a VIP).
 *
 * Every backend is probed every interval_ms with
 *
 *	GET <path> HTTP/1.1\r\nHost: <addr>[:<port>]\r\nConnection: close\r\n
 *	User-Agent: latebind-health\r\n\r\n
 *
 * over a non-blocking TCP connection, within timeout_ms for the whole probe
 * (connect, send, status line). A probe passes when a complete status line
 * ("HTTP/1.x NNN ...\n") arrives with NNN in [status_min, status_max] (default
 * 200..399); it fails on refusal, reset, timeout, a close before the status
 * line, anything that is not a status line, or an unexpected status. At most
 * LB_HEALTH_READ_MAX bytes of a response are read; only the status line
 * matters. We close first with a reset (SO_LINGER 0) so probes leave no
 * TIME_WAIT sockets behind on the balancer.
 *
 * Counting: `fall` consecutive failures take a backend down, `rise`
 * consecutive passes bring it back. A backend starts UP (healthy) with no
 * history: a restarted balancer keeps serving while it re-checks, and a dead
 * backend is taken down after `fall` failed probes (the first probe starts on
 * the first lb_health_process() call). A hand-off that failed counts as one
 * failed probe (lb_health_report_failure()).
 *
 * Health and administrative state are separate. The admin state is UP or
 * DRAINING (the config's `state:` at start; the daemon folds in `latebind
 * drain` and passes the result to lb_health_set_admin()); health is UP or
 * DOWN. Draining backends keep being probed, and the state the daemon writes
 * into the backends map is the combination:
 *
 *	health DOWN                 → LB_BACKEND_DOWN
 *	health UP, admin DRAINING   → LB_BACKEND_DRAINING (never promoted to UP)
 *	health UP, admin UP         → LB_BACKEND_UP
 *
 * on_change is called exactly once for every change of that effective state,
 * whether health, lb_health_set_admin() or lb_health_reconfigure() caused it,
 * and never for a probe that changes nothing. The daemon's whole job in it is to store
 * @state into backends[@backend].state and log @reason.
 *
 * The module does no blocking I/O and keeps no timer of its own: the caller
 * adds lb_health_pollfds() to its poll() set, sleeps at most
 * lb_health_next_ms(), then hands the results to lb_health_process() with the
 * current CLOCK_MONOTONIC time in ms. At most one probe (one fd) per backend
 * is in flight; the next probe starts interval_ms after the previous one
 * started, or as soon as it ended if it took longer than that.
 *
 * Errors of the balancer itself (no fd left, no local port, a local firewall
 * rule refusing the connect: EPERM) are not held
 * against the backend: the probe is retried at the next interval and counted
 * in local_errors.
 *
 * Not thread-safe; one instance belongs to the daemon's poll loop.
 */
#ifndef LATEBIND_HEALTH_H
#define LATEBIND_HEALTH_H

#include <netinet/in.h>
#include <poll.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "maps.h"

#define LB_HEALTH_READ_MAX 512	/* bytes of a response read, at most */

/* Defaults where a target leaves a field 0 (the config's defaults too). */
#define LB_HEALTH_INTERVAL_MS 1000
#define LB_HEALTH_TIMEOUT_MS  1000
#define LB_HEALTH_RISE	      2
#define LB_HEALTH_FALL	      3
#define LB_HEALTH_STATUS_MIN  200
#define LB_HEALTH_STATUS_MAX  399

struct lb_health;

/*
 * The effective state of @backend changed to @state (enum lb_backend_state).
 * @reason is a short human sentence ("3 checks failed in a row, last:
 * connection refused"), valid only during the call. The callback may read
 * (lb_health_state(), lb_health_stats(), ...) but must not free, reconfigure
 * or set admin states of the lb_health it is called from.
 */
typedef void (*lb_health_change_fn)(void *ctx, unsigned int backend, int state,
				    const char *reason);

/* What to check, for one backend; zero fields take the defaults above. */
struct lb_health_target {
	struct in_addr addr;	 /* the backend's real address; 0.0.0.0: an empty slot */
	uint16_t port;		 /* host order; must not be 0 */
	const char *path;	 /* request path; NULL: "/" (copied) */
	uint32_t interval_ms;
	uint32_t timeout_ms;
	uint32_t rise;
	uint32_t fall;
	uint16_t status_min;	 /* passing statuses, inclusive */
	uint16_t status_max;
	int admin;		 /* LB_BACKEND_UP (0 counts as UP too) or LB_BACKEND_DRAINING */
};

/*
 * One target per config backend (same index as the backends map), with the
 * config's `health:` section and each backend's `state:` as admin state. A
 * slot with no name (freed by a reload) is empty: never probed, always down.
 * @port is where the backends' web servers listen: the VIP's port (each
 * backend serves the VIP on its loopback and its real address alike); 0 means
 * cfg->vips[0].port. Returns NULL with errno set on failure (EINVAL: no port).
 */
struct lb_health *lb_health_new(const struct lb_config *cfg, uint16_t port,
				lb_health_change_fn on_change, void *ctx);

/* The same from explicit targets (tests, per-backend overrides). */
struct lb_health *lb_health_new_targets(const struct lb_health_target *targets, size_t n,
					lb_health_change_fn on_change, void *ctx);

/*
 * A reloaded config (SIGHUP), slot for slot as the backends map: a slot whose
 * address and port stay keeps its health, counters and admin state (set the
 * latter with lb_health_set_admin() afterwards, as always), and its probe in
 * flight unless the request changed; new or changed slots start afresh (up,
 * probed at once). on_change is called, with "config reloaded", for every slot
 * whose effective state this changes (a slot that did not exist counts as
 * down, and slots past the new end go down). On failure (-1, errno) nothing
 * changed.
 */
int lb_health_reconfigure(struct lb_health *h, const struct lb_config *cfg, uint16_t port);
int lb_health_reconfigure_targets(struct lb_health *h, const struct lb_health_target *targets,
				  size_t n);

/* Closes every probe in flight. NULL is fine. */
void lb_health_free(struct lb_health *h);

/* Number of backends checked: the most pollfds lb_health_pollfds() can fill. */
unsigned int lb_health_count(const struct lb_health *h);

/*
 * Fill @fds[0..max) with the sockets of probes in flight (events set, revents
 * 0) and return how many. Pass the same slice to lb_health_process() after
 * poll(). Give @max >= lb_health_count() or some probes can only time out.
 */
int lb_health_pollfds(struct lb_health *h, struct pollfd *fds, int max);

/*
 * Advance the probes: consume @fds[0..n) as returned by poll() (n may be 0),
 * enforce timeouts, then start every probe that is due at @now_ms
 * (CLOCK_MONOTONIC ms). Calls on_change for the transitions this causes.
 */
void lb_health_process(struct lb_health *h, const struct pollfd *fds, int n, uint64_t now_ms);

/*
 * Milliseconds from @now_ms until lb_health_process() has something to do
 * without an fd event (a probe due, a timeout); 0 when overdue, UINT64_MAX
 * with nothing to probe (no backends, or empty slots only).
 */
uint64_t lb_health_next_ms(const struct lb_health *h, uint64_t now_ms);

/* A hand-off to @backend failed: one failed probe. */
void lb_health_report_failure(struct lb_health *h, unsigned int backend);

/*
 * Set @backend's admin state to LB_BACKEND_UP or LB_BACKEND_DRAINING (drain,
 * undrain). Calls on_change if the effective state changes. Returns 0, or -1
 * (errno EINVAL) for another state or an unknown backend.
 */
int lb_health_set_admin(struct lb_health *h, unsigned int backend, int admin);

/* Health alone: LB_BACKEND_UP or LB_BACKEND_DOWN; -1 for an unknown backend. */
int lb_health_state(const struct lb_health *h, unsigned int backend);

/* What belongs in the backends map (see the table above); -1 for an unknown backend. */
int lb_health_effective_state(const struct lb_health *h, unsigned int backend);

/* Counters of one backend, for status and metrics. */
struct lb_health_stats {
	uint64_t probes;	/* probes that reached a verdict */
	uint64_t passed;
	uint64_t failed;	/* including timeouts and reported hand-off failures */
	uint64_t timeouts;
	uint64_t reported;	/* lb_health_report_failure() calls */
	uint64_t local_errors;	/* probes not started or abandoned for our own reasons */
	uint64_t transitions;	/* health changes (UP↔DOWN) */
	uint32_t ok_run;	/* consecutive passes now */
	uint32_t fail_run;	/* consecutive failures now */
	int last_status;	/* HTTP status of the last status line read, 0 if none */
};
int lb_health_stats(const struct lb_health *h, unsigned int backend, struct lb_health_stats *st);

/* "up", "down", "draining" (or "unknown"), for logs. */
const char *lb_health_state_name(int state);

#endif
