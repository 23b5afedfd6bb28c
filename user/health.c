// SPDX-License-Identifier: GPL-2.0
/*
 * Active HTTP health checks: one small state machine per backend driven by the
 * daemon's poll loop (see health.h for the contract). A probe goes
 *
 *	IDLE → CONNECTING → SENDING → READING → IDLE
 *
 * and ends in exactly one verdict (pass, fail, or a local error that is not
 * held against the backend); verdicts feed the rise/fall counters.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "health.h"
#include "log.h"

enum phase {
	P_IDLE,
	P_CONNECTING,
	P_SENDING,
	P_READING,
};

struct target {
	struct sockaddr_in sa;
	char *req;		/* the whole request, built once */
	size_t req_len;
	size_t sent;
	uint32_t interval_ms, timeout_ms, rise, fall;
	uint16_t status_min, status_max;
	int admin;		/* LB_BACKEND_UP or LB_BACKEND_DRAINING */
	int health;		/* LB_BACKEND_UP or LB_BACKEND_DOWN */
	enum phase phase;
	int fd;
	uint64_t started;	/* when the probe in flight started */
	uint64_t deadline;
	uint64_t next_due;	/* when the next probe starts (0: at once) */
	uint32_t local_streak;	/* local errors since the last verdict */
	bool off;		/* an empty slot: never probed, down */
	size_t got;
	char buf[LB_HEALTH_READ_MAX];
	struct lb_health_stats st;
};

struct lb_health {
	struct target *t;
	unsigned int n;
	lb_health_change_fn on_change;
	void *ctx;
	char reason[320];	/* handed to on_change */
};

const char *lb_health_state_name(int state)
{
	switch (state) {
	case LB_BACKEND_UP: return "up";
	case LB_BACKEND_DOWN: return "down";
	case LB_BACKEND_DRAINING: return "draining";
	}
	return "unknown";
}

static int effective(const struct target *t)
{
	if (t->health == LB_BACKEND_DOWN)
		return LB_BACKEND_DOWN;
	return t->admin == LB_BACKEND_DRAINING ? LB_BACKEND_DRAINING : LB_BACKEND_UP;
}

/* A path we can put on a request line as is: starts with '/', visible ASCII only. */
static bool path_ok(const char *p)
{
	if (p[0] != '/' || strlen(p) >= LB_PATH_MAX)
		return false;
	for (; *p; p++)
		if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f)
			return false;
	return true;
}

static int build_request(struct target *t, const char *path)
{
	char host[INET_ADDRSTRLEN + 8];
	uint16_t port = ntohs(t->sa.sin_port);
	int len;

	if (!inet_ntop(AF_INET, &t->sa.sin_addr, host, INET_ADDRSTRLEN))
		return -1;
	/* RFC 9110 7.2: the port goes into Host unless it is the scheme's default. */
	if (port != 80)
		snprintf(host + strlen(host), 8, ":%u", port);
	len = asprintf(&t->req,
		       "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n"
		       "User-Agent: latebind-health\r\n\r\n",
		       path, host);
	if (len < 0) {
		t->req = NULL;
		return -1;
	}
	t->req_len = len;
	return 0;
}

/* Closes with a reset: a finished probe leaves no TIME_WAIT socket here. */
static void close_probe(struct target *t)
{
	struct linger lg = { .l_onoff = 1, .l_linger = 0 };

	if (t->fd >= 0) {
		setsockopt(t->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
		close(t->fd);
	}
	t->fd = -1;
	t->phase = P_IDLE;
	t->sent = 0;
	t->got = 0;
}

/* The next probe: one interval after this one started, or now if it ran longer. */
static void end_probe(struct target *t, uint64_t now_ms)
{
	close_probe(t);
	t->next_due = t->started + t->interval_ms;
	if (t->next_due < now_ms)
		t->next_due = now_ms;
}

static void notify(struct lb_health *h, unsigned int i, int old_eff)
{
	int eff = effective(&h->t[i]);

	if (eff != old_eff && h->on_change)
		h->on_change(h->ctx, i, eff, h->reason);
}

/* One pass or failure of @i, with what happened in @fmt; may change its health. */
static void __attribute__((format(printf, 4, 5)))
verdict(struct lb_health *h, unsigned int i, bool pass, const char *fmt, ...)
{
	struct target *t = &h->t[i];
	int old_eff = effective(t);
	char detail[192];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);

	if (pass) {
		t->st.passed++;
		t->st.fail_run = 0;
		t->st.ok_run++;
		if (t->health == LB_BACKEND_DOWN && t->st.ok_run >= t->rise) {
			t->health = LB_BACKEND_UP;
			t->st.transitions++;
			snprintf(h->reason, sizeof(h->reason), "%u check%s passed in a row: %s",
				 t->st.ok_run, t->st.ok_run == 1 ? "" : "s", detail);
		}
	} else {
		t->st.failed++;
		t->st.ok_run = 0;
		t->st.fail_run++;
		if (t->health == LB_BACKEND_UP && t->st.fail_run >= t->fall) {
			t->health = LB_BACKEND_DOWN;
			t->st.transitions++;
			snprintf(h->reason, sizeof(h->reason),
				 "%u check%s failed in a row, last: %s", t->st.fail_run,
				 t->st.fail_run == 1 ? "" : "s", detail);
		}
	}
	notify(h, i, old_eff);
}

/* A probe ended with a verdict. */
static void probe_done(struct lb_health *h, unsigned int i, uint64_t now_ms, bool pass,
		       const char *what)
{
	end_probe(&h->t[i], now_ms);
	h->t[i].local_streak = 0;
	h->t[i].st.probes++;
	verdict(h, i, pass, "%s", what);
}

static void probe_failed_errno(struct lb_health *h, unsigned int i, uint64_t now_ms,
			       const char *step, int err)
{
	char what[128];

	snprintf(what, sizeof(what), "%s: %s", step, strerror(err));
	probe_done(h, i, now_ms, false, what);
}

/* Our own trouble, not the backend's: no verdict, try again next interval. */
static bool local_errno(int err)
{
	return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM ||
	       err == EADDRNOTAVAIL || err == EAGAIN || err == EPERM || err == EACCES;
}

static void probe_local_error(struct target *t, int err, uint64_t now_ms)
{
	char addr[INET_ADDRSTRLEN];

	t->st.local_errors++;
	/* Once per streak: the backend's state stays as it was meanwhile. */
	if (!t->local_streak++) {
		inet_ntop(AF_INET, &t->sa.sin_addr, addr, sizeof(addr));
		pr_warn("health check of %s:%u cannot start here: %s; retrying every %u ms, "
			"its state unchanged meanwhile\n",
			addr, ntohs(t->sa.sin_port), strerror(err), t->interval_ms);
	}
	end_probe(t, now_ms);
}

/*
 * "HTTP/1.x NNN" followed by SP or the line's end. Returns the status, or -1.
 * @line holds everything up to (not including) the '\n'.
 */
static int parse_status_line(const char *line, size_t len)
{
	const unsigned char *s = (const unsigned char *)line;

	if (len < 12 || memcmp(s, "HTTP/1.", 7) || s[7] < '0' || s[7] > '9' || s[8] != ' ')
		return -1;
	for (int k = 9; k < 12; k++)
		if (s[k] < '0' || s[k] > '9')
			return -1;
	if (len > 12 && s[12] != ' ' && s[12] != '\r')
		return -1;
	if (s[9] == '0')
		return -1;
	return (s[9] - '0') * 100 + (s[10] - '0') * 10 + (s[11] - '0');
}

/* Looks at what was read so far; returns true when the probe reached its verdict. */
static bool judge(struct lb_health *h, unsigned int i, uint64_t now_ms, bool eof)
{
	static const char prefix[] = "HTTP/";
	struct target *t = &h->t[i];
	size_t cmp = t->got < sizeof(prefix) - 1 ? t->got : sizeof(prefix) - 1;
	const char *nl = memchr(t->buf, '\n', t->got);
	char what[96];
	int status;

	if (memcmp(t->buf, prefix, cmp)) {
		probe_done(h, i, now_ms, false, "not an HTTP response");
		return true;
	}
	if (!nl) {
		if (eof) {
			probe_done(h, i, now_ms, false, "closed before a complete status line");
			return true;
		}
		if (t->got == sizeof(t->buf)) {
			snprintf(what, sizeof(what), "no status line in the first %zu bytes",
				 sizeof(t->buf));
			probe_done(h, i, now_ms, false, what);
			return true;
		}
		return false;
	}
	status = parse_status_line(t->buf, nl - t->buf);
	t->st.last_status = status > 0 ? status : 0;
	if (status < 0) {
		probe_done(h, i, now_ms, false, "malformed status line");
		return true;
	}
	if (status < t->status_min || status > t->status_max) {
		snprintf(what, sizeof(what), "HTTP %d, expected %u..%u", status, t->status_min,
			 t->status_max);
		probe_done(h, i, now_ms, false, what);
		return true;
	}
	snprintf(what, sizeof(what), "HTTP %d", status);
	probe_done(h, i, now_ms, true, what);
	return true;
}

static void do_read(struct lb_health *h, unsigned int i, uint64_t now_ms)
{
	struct target *t = &h->t[i];

	while (t->phase == P_READING) {
		ssize_t r = recv(t->fd, t->buf + t->got, sizeof(t->buf) - t->got, MSG_DONTWAIT);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				probe_failed_errno(h, i, now_ms, "receive", errno);
			return;
		}
		t->got += r;
		if (judge(h, i, now_ms, r == 0))
			return;
	}
}

static void do_send(struct lb_health *h, unsigned int i, uint64_t now_ms)
{
	struct target *t = &h->t[i];

	while (t->sent < t->req_len) {
		ssize_t r = send(t->fd, t->req + t->sent, t->req_len - t->sent,
				 MSG_DONTWAIT | MSG_NOSIGNAL);

		if (r < 0) {
			if (errno == EINTR)
				continue;
			if (errno != EAGAIN && errno != EWOULDBLOCK)
				probe_failed_errno(h, i, now_ms, "send", errno);
			return;
		}
		t->sent += r;
	}
	t->phase = P_READING;
}

static void advance(struct lb_health *h, unsigned int i, short revents, uint64_t now_ms)
{
	struct target *t = &h->t[i];
	socklen_t len;
	int err;

	switch (t->phase) {
	case P_CONNECTING:
		err = 0;
		len = sizeof(err);
		if (getsockopt(t->fd, SOL_SOCKET, SO_ERROR, &err, &len))
			err = errno;
		if (err) {
			probe_failed_errno(h, i, now_ms, "connect", err);
			return;
		}
		if (!(revents & POLLOUT))
			return;
		t->phase = P_SENDING;
		/* fallthrough */
	case P_SENDING:
		do_send(h, i, now_ms);
		/* The answer comes later; POLLIN tells. */
		return;
	case P_READING:
		do_read(h, i, now_ms);
		return;
	case P_IDLE:
		return;
	}
}

static void start_probe(struct lb_health *h, unsigned int i, uint64_t now_ms)
{
	struct target *t = &h->t[i];
	int fd;

	t->started = now_ms;
	t->deadline = now_ms + t->timeout_ms;
	t->sent = t->got = 0;
	fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP);
	if (fd < 0) {
		probe_local_error(t, errno, now_ms);
		return;
	}
	t->fd = fd;
	if (!connect(fd, (const struct sockaddr *)&t->sa, sizeof(t->sa))) {
		t->phase = P_SENDING;
		do_send(h, i, now_ms);
		return;
	}
	if (errno == EINPROGRESS || errno == EINTR) {
		t->phase = P_CONNECTING;
		return;
	}
	if (local_errno(errno)) {
		probe_local_error(t, errno, now_ms);
		return;
	}
	probe_failed_errno(h, i, now_ms, "connect", errno);
}

static const char *phase_name(enum phase p)
{
	switch (p) {
	case P_CONNECTING: return "connecting";
	case P_SENDING: return "sending the request";
	case P_READING: return "waiting for the status line";
	case P_IDLE: break;
	}
	return "idle";
}

void lb_health_process(struct lb_health *h, const struct pollfd *fds, int n, uint64_t now_ms)
{
	unsigned int i, hint = 0;
	char what[96];
	int k;

	if (!h)
		return;
	/*
	 * Events first, so an answer that arrived is credited even when its
	 * deadline passed meanwhile; new probes last, so a freshly reused fd
	 * number cannot pick up an event meant for the socket it replaces.
	 */
	for (k = 0; k < n; k++) {
		if (fds[k].fd < 0 || !fds[k].revents)
			continue;
		/* pollfds fills in target order: look from where the last match was. */
		for (i = 0; i < h->n; i++) {
			unsigned int j = (hint + i) % h->n;

			if (h->t[j].phase != P_IDLE && h->t[j].fd == fds[k].fd) {
				advance(h, j, fds[k].revents, now_ms);
				hint = j + 1;
				break;
			}
		}
	}
	for (i = 0; i < h->n; i++) {
		struct target *t = &h->t[i];

		if (t->phase == P_IDLE || now_ms < t->deadline)
			continue;
		t->st.timeouts++;
		snprintf(what, sizeof(what), "timed out after %u ms %s", t->timeout_ms,
			 phase_name(t->phase));
		probe_done(h, i, now_ms, false, what);
	}
	for (i = 0; i < h->n; i++)
		if (!h->t[i].off && h->t[i].phase == P_IDLE && now_ms >= h->t[i].next_due)
			start_probe(h, i, now_ms);
}

int lb_health_pollfds(struct lb_health *h, struct pollfd *fds, int max)
{
	unsigned int i;
	int n = 0;

	if (!h)
		return 0;
	for (i = 0; i < h->n && n < max; i++) {
		const struct target *t = &h->t[i];

		if (t->phase == P_IDLE)
			continue;
		fds[n++] = (struct pollfd){
			.fd = t->fd,
			.events = t->phase == P_READING ? POLLIN : POLLOUT,
		};
	}
	return n;
}

uint64_t lb_health_next_ms(const struct lb_health *h, uint64_t now_ms)
{
	uint64_t next = UINT64_MAX;
	unsigned int i;

	if (!h)
		return UINT64_MAX;
	for (i = 0; i < h->n; i++) {
		const struct target *t = &h->t[i];
		uint64_t at = t->phase == P_IDLE ? t->next_due : t->deadline;

		if (at < next)
			next = at;
	}
	if (next == UINT64_MAX)
		return UINT64_MAX;
	return next <= now_ms ? 0 : next - now_ms;
}

void lb_health_report_failure(struct lb_health *h, unsigned int backend)
{
	if (!h || backend >= h->n || h->t[backend].off)
		return;
	h->t[backend].st.reported++;
	verdict(h, backend, false, "a hand-off failed");
}

int lb_health_set_admin(struct lb_health *h, unsigned int backend, int admin)
{
	struct target *t;
	int old_eff;

	if (!h || backend >= h->n || (admin != LB_BACKEND_UP && admin != LB_BACKEND_DRAINING)) {
		errno = EINVAL;
		return -1;
	}
	t = &h->t[backend];
	old_eff = effective(t);
	t->admin = admin;
	snprintf(h->reason, sizeof(h->reason), "%s by the operator",
		 admin == LB_BACKEND_DRAINING ? "drained" : "undrained");
	notify(h, backend, old_eff);
	return 0;
}

int lb_health_state(const struct lb_health *h, unsigned int backend)
{
	if (!h || backend >= h->n)
		return -1;
	return h->t[backend].health;
}

int lb_health_effective_state(const struct lb_health *h, unsigned int backend)
{
	if (!h || backend >= h->n)
		return -1;
	return effective(&h->t[backend]);
}

int lb_health_stats(const struct lb_health *h, unsigned int backend, struct lb_health_stats *st)
{
	if (!h || backend >= h->n) {
		errno = EINVAL;
		return -1;
	}
	*st = h->t[backend].st;
	return 0;
}

unsigned int lb_health_count(const struct lb_health *h)
{
	return h ? h->n : 0;
}

/*
 * Check and convert one target. An address of 0.0.0.0 is an empty slot (the
 * daemon's backends array has holes after a reload): never probed, down.
 */
static int target_init(struct target *t, const struct lb_health_target *g)
{
	const char *path = g->path ? g->path : "/";

	memset(t, 0, sizeof(*t));
	t->fd = -1;
	t->phase = P_IDLE;
	if (g->admin != 0 && g->admin != LB_BACKEND_UP && g->admin != LB_BACKEND_DRAINING)
		goto inval;
	t->admin = g->admin == LB_BACKEND_DRAINING ? LB_BACKEND_DRAINING : LB_BACKEND_UP;
	if (g->addr.s_addr == htonl(INADDR_ANY)) {
		t->off = true;
		t->health = LB_BACKEND_DOWN;
		t->next_due = UINT64_MAX;
		return 0;
	}
	if (!g->port || !path_ok(path))
		goto inval;
	t->sa = (struct sockaddr_in){ .sin_family = AF_INET, .sin_addr = g->addr,
				      .sin_port = htons(g->port) };
	t->interval_ms = g->interval_ms ? g->interval_ms : LB_HEALTH_INTERVAL_MS;
	t->timeout_ms = g->timeout_ms ? g->timeout_ms : LB_HEALTH_TIMEOUT_MS;
	t->rise = g->rise ? g->rise : LB_HEALTH_RISE;
	t->fall = g->fall ? g->fall : LB_HEALTH_FALL;
	t->status_min = g->status_min ? g->status_min : LB_HEALTH_STATUS_MIN;
	t->status_max = g->status_max ? g->status_max : LB_HEALTH_STATUS_MAX;
	if (t->status_min > t->status_max)
		goto inval;
	t->health = LB_BACKEND_UP;
	t->next_due = 0; /* the first probe at the first lb_health_process() */
	return build_request(t, path);
inval:
	errno = EINVAL;
	return -1;
}

static void targets_free(struct target *t, unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		close_probe(&t[i]);
		free(t[i].req);
	}
	free(t);
}

static struct target *targets_new(const struct lb_health_target *targets, size_t n)
{
	struct target *t;
	size_t i;

	if (n > LB_MAX_BACKENDS) {
		errno = EINVAL;
		return NULL;
	}
	t = calloc(n ? n : 1, sizeof(*t));
	if (!t)
		return NULL;
	for (i = 0; i < n; i++) {
		if (target_init(&t[i], &targets[i])) {
			int err = errno;

			targets_free(t, i);
			errno = err;
			return NULL;
		}
	}
	return t;
}

struct lb_health *lb_health_new_targets(const struct lb_health_target *targets, size_t n,
					lb_health_change_fn on_change, void *ctx)
{
	struct lb_health *h = calloc(1, sizeof(*h));

	if (!h)
		return NULL;
	h->t = targets_new(targets, n);
	if (!h->t) {
		free(h);
		return NULL;
	}
	h->n = n;
	h->on_change = on_change;
	h->ctx = ctx;
	return h;
}

/* One target per config backend slot; NULL with errno set. */
static struct lb_health_target *config_targets(const struct lb_config *cfg, uint16_t port,
					       size_t *n_out)
{
	struct lb_health_target *targets;
	size_t i, n = cfg->n_backends;

	if (!port && cfg->n_vips)
		port = cfg->vips[0].port;
	if (!port) {
		errno = EINVAL;
		return NULL;
	}
	if (n > LB_MAX_BACKENDS)
		n = LB_MAX_BACKENDS; /* the backends map holds no more */
	targets = calloc(n ? n : 1, sizeof(*targets));
	if (!targets)
		return NULL;
	for (i = 0; i < n; i++) {
		const struct lb_cfg_backend *b = &cfg->backends[i];

		targets[i] = (struct lb_health_target){
			.port = port,
			.path = b->health_path[0] ? b->health_path : cfg->health.path,
			.status_min = cfg->health.status_min,
			.status_max = cfg->health.status_max,
			.interval_ms = cfg->health.interval_ms,
			.timeout_ms = cfg->health.timeout_ms,
			.rise = cfg->health.rise,
			.fall = cfg->health.fall,
			.admin = b->state == LB_BACKEND_DRAINING ? LB_BACKEND_DRAINING
								  : LB_BACKEND_UP,
		};
		if (b->name[0]) /* else a free slot: address 0, not probed */
			targets[i].addr = b->address;
	}
	*n_out = n;
	return targets;
}

struct lb_health *lb_health_new(const struct lb_config *cfg, uint16_t port,
				lb_health_change_fn on_change, void *ctx)
{
	struct lb_health_target *targets;
	struct lb_health *h;
	size_t n;

	targets = config_targets(cfg, port, &n);
	if (!targets)
		return NULL;
	h = lb_health_new_targets(targets, n, on_change, ctx);
	free(targets);
	return h;
}

int lb_health_reconfigure_targets(struct lb_health *h, const struct lb_health_target *targets,
				  size_t n)
{
	struct target *fresh = targets_new(targets, n), *old = h->t;
	unsigned int i, n_old = h->n;

	if (!fresh)
		return -1;
	for (i = 0; i < n && i < n_old; i++) {
		struct target *f = &fresh[i], *o = &old[i];

		if (f->off || o->off || f->sa.sin_addr.s_addr != o->sa.sin_addr.s_addr ||
		    f->sa.sin_port != o->sa.sin_port)
			continue;
		/*
		 * The same backend: its history, its admin state (the daemon's to
		 * set, with lb_health_set_admin()) and any probe in flight carry over.
		 */
		f->admin = o->admin;
		f->health = o->health;
		f->st = o->st;
		f->local_streak = o->local_streak;
		f->started = o->started;
		f->next_due = o->next_due;
		if (o->phase != P_IDLE && f->req_len == o->req_len &&
		    !memcmp(f->req, o->req, f->req_len)) {
			f->phase = o->phase;
			f->fd = o->fd;
			f->sent = o->sent;
			f->got = o->got;
			memcpy(f->buf, o->buf, o->got);
			f->deadline = o->started + f->timeout_ms;
			o->fd = -1;
			o->phase = P_IDLE;
		} else if (o->phase != P_IDLE) {
			f->next_due = 0; /* a new request: ask again at once */
		}
	}
	h->t = fresh;
	h->n = n;
	snprintf(h->reason, sizeof(h->reason), "config reloaded");
	for (i = 0; i < n; i++) {
		int was = i < n_old ? effective(&old[i]) : LB_BACKEND_DOWN;

		notify(h, i, was);
	}
	/* Slots past the new end are gone: down, if they were not already. */
	for (; i < n_old; i++)
		if (effective(&old[i]) != LB_BACKEND_DOWN && h->on_change)
			h->on_change(h->ctx, i, LB_BACKEND_DOWN, h->reason);
	targets_free(old, n_old);
	return 0;
}

int lb_health_reconfigure(struct lb_health *h, const struct lb_config *cfg, uint16_t port)
{
	struct lb_health_target *targets;
	size_t n;
	int ret;

	targets = config_targets(cfg, port, &n);
	if (!targets)
		return -1;
	ret = lb_health_reconfigure_targets(h, targets, n);
	free(targets);
	return ret;
}

void lb_health_free(struct lb_health *h)
{
	if (!h)
		return;
	targets_free(h->t, h->n);
	free(h);
}
