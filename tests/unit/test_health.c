// SPDX-License-Identifier: GPL-2.0
/*
 * Health checks (user/health.c) against real TCP servers on 127.0.0.1: each
 * server is a forked child on an ephemeral port whose behaviour (200, 503,
 * 301, silence, garbage, ...) the test switches through shared memory. The
 * module is driven by the same poll loop the daemon uses, on the real
 * monotonic clock, with short intervals so the suite stays fast.
 */
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "health.h"
#include "suites.h"

#define MAX_SRV	    8
#define MAX_CHANGES 64
#define INTERVAL    20	/* ms between probes in most tests */

enum srv_mode {
	S_200,		/* HTTP/1.1 200 OK */
	S_503,
	S_301,
	S_SILENT,	/* accepts, never answers */
	S_GARBAGE,	/* not HTTP at all */
	S_CLOSE,	/* reads the request, closes without a word */
	S_LONG,		/* "HTTP/1.1 200 " and 4 KiB without a line end */
	S_EDGE_OK,	/* a 512-byte status line, CRLF included: fits the read cap */
	S_EDGE_LONG,	/* 513 bytes: the line end lies past the cap */
	S_MALFORMED,	/* "HTTP/1.1 2x0 OK" */
};

/* Shared with a server child (MAP_SHARED before the fork). */
struct srv_shm {
	int mode;
	int conns;
	int req_len;
	char req[1024];	/* the last request head received */
};

struct srv {
	pid_t pid;
	uint16_t port;
	struct srv_shm *shm;
};

struct change {
	unsigned int backend;
	int state;
	char reason[320];
	uint64_t at;
};

static struct {
	struct srv srv[MAX_SRV];
	int n_srv;
	int refused_fd;		/* bound, never listening: connects are refused */
	uint16_t refused_port;
	struct change ch[MAX_CHANGES];
	int n_ch;
	unsigned long loops;	/* poll loop iterations */
	uint64_t vnow;		/* probe_once()'s clock */
} t;

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int count_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *e;
	int n = 0;

	ck_assert_ptr_nonnull(d);
	while ((e = readdir(d)))
		if (e->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---- servers -------------------------------------------------------------- */

static void srv_respond(int fd, struct srv_shm *shm, int mode)
{
	static const char *const fixed[] = {
		[S_200] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok",
		[S_503] = "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
		[S_301] = "HTTP/1.1 301 Moved Permanently\r\nLocation: /x/\r\n"
			  "Content-Length: 0\r\n\r\n",
		[S_GARBAGE] = "SSH-2.0-OpenSSH_9.2\r\n",
		[S_MALFORMED] = "HTTP/1.1 2x0 OK\r\n\r\n",
	};
	char buf[4200];
	size_t len = 0;
	int got = 0;

	/* The request head, up to its blank line (or 1 s, or the buffer's end). */
	while (got < (int)sizeof(shm->req)) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 1000) <= 0)
			break;
		r = recv(fd, shm->req + got, sizeof(shm->req) - got, 0);
		if (r <= 0)
			break;
		got += r;
		if (memmem(shm->req, got, "\r\n\r\n", 4))
			break;
	}
	__atomic_store_n(&shm->req_len, got, __ATOMIC_RELEASE);

	switch (mode) {
	case S_CLOSE:
		return;
	case S_LONG:
		len = sizeof(buf);
		memset(buf, 'A', len);
		memcpy(buf, "HTTP/1.1 200 ", 13);
		break;
	case S_EDGE_OK:
	case S_EDGE_LONG:
		len = mode == S_EDGE_OK ? LB_HEALTH_READ_MAX : LB_HEALTH_READ_MAX + 1;
		memset(buf, 'k', len);
		memcpy(buf, "HTTP/1.1 200 O", 14);
		memcpy(buf + len - 2, "\r\n", 2);
		memcpy(buf + len, "\r\n", 2);
		len += 2;
		break;
	default:
		len = strlen(fixed[mode]);
		memcpy(buf, fixed[mode], len);
	}
	send(fd, buf, len, MSG_NOSIGNAL);
}

static void srv_main(int lfd, struct srv_shm *shm)
{
	int silent[64], n_silent = 0;

	prctl(PR_SET_PDEATHSIG, SIGKILL);
	for (;;) {
		int fd = accept(lfd, NULL, NULL);
		int mode;

		if (fd < 0)
			continue;
		__atomic_fetch_add(&shm->conns, 1, __ATOMIC_RELAXED);
		mode = __atomic_load_n(&shm->mode, __ATOMIC_ACQUIRE);
		if (mode == S_SILENT) {
			if (n_silent == 64)
				close(silent[--n_silent]);
			silent[n_silent++] = fd;
			continue;
		}
		srv_respond(fd, shm, mode);
		close(fd);
	}
}

static int listen_any(uint16_t *port, bool do_listen)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	if (do_listen)
		ck_assert_int_eq(listen(fd, 64), 0);
	ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	*port = ntohs(sa.sin_port);
	return fd;
}

/* A server child answering as @mode; returns its index in t.srv. */
static int srv_start(int mode)
{
	struct srv *s = &t.srv[t.n_srv];
	int lfd;

	ck_assert_int_lt(t.n_srv, MAX_SRV);
	s->shm = mmap(NULL, sizeof(*s->shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS,
		      -1, 0);
	ck_assert_ptr_ne(s->shm, MAP_FAILED);
	s->shm->mode = mode;
	lfd = listen_any(&s->port, true);
	s->pid = fork();
	ck_assert_int_ge(s->pid, 0);
	if (!s->pid) {
		srv_main(lfd, s->shm);
		_exit(0);
	}
	close(lfd);
	return t.n_srv++;
}

static void srv_mode(int i, int mode)
{
	__atomic_store_n(&t.srv[i].shm->mode, mode, __ATOMIC_RELEASE);
}

static void setup(void)
{
	memset(&t, 0, sizeof(t));
	t.vnow = 1000000;
	t.refused_fd = listen_any(&t.refused_port, false);
}

static void teardown(void)
{
	for (int i = 0; i < t.n_srv; i++) {
		kill(t.srv[i].pid, SIGKILL);
		waitpid(t.srv[i].pid, NULL, 0);
		munmap(t.srv[i].shm, sizeof(*t.srv[i].shm));
	}
	close(t.refused_fd);
}

/* ---- the module, driven like the daemon drives it ------------------------- */

static void on_change(void *ctx, unsigned int backend, int state, const char *reason)
{
	struct change *c;

	ck_assert_ptr_eq(ctx, &t);
	ck_assert_int_lt(t.n_ch, MAX_CHANGES);
	c = &t.ch[t.n_ch++];
	c->backend = backend;
	c->state = state;
	c->at = now_ms();
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

static struct lb_health_target target(uint16_t port)
{
	return (struct lb_health_target){
		.addr.s_addr = htonl(INADDR_LOOPBACK),
		.port = port,
		.path = "/healthz",
		.interval_ms = INTERVAL,
		.timeout_ms = 300,
		.rise = 2,
		.fall = 3,
	};
}

static struct lb_health *health(const struct lb_health_target *tg, size_t n)
{
	struct lb_health *h = lb_health_new_targets(tg, n, on_change, &t);

	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(lb_health_count(h), n);
	return h;
}

/* One turn of the daemon's loop, sleeping at most @cap ms. */
static void turn(struct lb_health *h, uint64_t cap)
{
	struct pollfd fds[LB_MAX_BACKENDS];
	uint64_t wait = lb_health_next_ms(h, now_ms());
	int n = lb_health_pollfds(h, fds, LB_MAX_BACKENDS);

	ck_assert_int_le(n, (int)lb_health_count(h));
	if (wait > cap)
		wait = cap;
	ck_assert_int_ge(poll(fds, n, (int)wait), 0);
	t.loops++;
	lb_health_process(h, fds, n, now_ms());
}

static void run_for(struct lb_health *h, uint64_t ms)
{
	uint64_t end = now_ms() + ms, now;

	while ((now = now_ms()) < end)
		turn(h, end - now);
}

static struct lb_health_stats stats(const struct lb_health *h, unsigned int i)
{
	struct lb_health_stats st;

	ck_assert_int_eq(lb_health_stats(h, i, &st), 0);
	return st;
}

/*
 * Runs until backend @i's next probe reaches its verdict, on a clock of our
 * own (t.vnow) that moves only when nothing happens for QUIET_MS of real time,
 * and then straight to the next thing due. So a probe starts only when a test
 * asks for one (switching a server's answer between probes cannot race), and
 * a slow machine cannot turn a late answer into a timeout; the real clock is
 * for the tests of timing itself.
 */
#define QUIET_MS 200
/* Only that it never hangs: a loaded machine (CI, parallel labs) takes seconds. */
#define PROBE_BOUND_MS 15000
static void probe_once(struct lb_health *h, unsigned int i)
{
	uint64_t before = stats(h, i).probes, end = now_ms() + PROBE_BOUND_MS;

	while (stats(h, i).probes == before) {
		struct pollfd fds[LB_MAX_BACKENDS];
		int n = lb_health_pollfds(h, fds, LB_MAX_BACKENDS);

		ck_assert_msg(now_ms() < end, "backend %u: no probe verdict within %d s", i,
			      PROBE_BOUND_MS / 1000);
		if (!n || !poll(fds, n, QUIET_MS))
			t.vnow += lb_health_next_ms(h, t.vnow);
		lb_health_process(h, fds, n, t.vnow);
	}
	ck_assert_uint_eq(stats(h, i).probes, before + 1);
}

/* ---- tests ------------------------------------------------------------------ */

START_TEST(test_request_on_the_wire)
{
	int s = srv_start(S_200);
	struct lb_health_target tg = target(t.srv[s].port);
	struct lb_health *h = health(&tg, 1);
	char want[256];
	int len;

	/* The first probe is due at once: no interval of blindness after a start. */
	ck_assert_uint_eq(lb_health_next_ms(h, t.vnow), 0);
	probe_once(h, 0);
	len = snprintf(want, sizeof(want),
		       "GET /healthz HTTP/1.1\r\nHost: 127.0.0.1:%u\r\nConnection: close\r\n"
		       "User-Agent: latebind-health\r\n\r\n",
		       t.srv[s].port);
	ck_assert_int_eq(__atomic_load_n(&t.srv[s].shm->req_len, __ATOMIC_ACQUIRE), len);
	ck_assert_mem_eq(t.srv[s].shm->req, want, len);
	ck_assert_uint_eq(stats(h, 0).passed, 1);
	ck_assert_int_eq(stats(h, 0).last_status, 200);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(t.n_ch, 0);
	lb_health_free(h);
}
END_TEST

/* Exactly `fall` failures take it down, exactly `rise` passes bring it back. */
START_TEST(test_rise_and_fall_counting)
{
	int s = srv_start(S_200);
	struct lb_health_target tg = target(t.srv[s].port);
	struct lb_health *h;

	tg.fall = 3;
	tg.rise = 2;
	h = health(&tg, 1);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);

	srv_mode(s, S_503);
	for (int k = 1; k <= 3; k++) {
		probe_once(h, 0);
		ck_assert_uint_eq(stats(h, 0).fail_run, k);
		ck_assert_int_eq(lb_health_state(h, 0), k < 3 ? LB_BACKEND_UP : LB_BACKEND_DOWN);
		ck_assert_int_eq(t.n_ch, k < 3 ? 0 : 1);
	}
	ck_assert_uint_eq(t.ch[0].backend, 0);
	ck_assert_int_eq(t.ch[0].state, LB_BACKEND_DOWN);
	ck_assert_ptr_nonnull(strstr(t.ch[0].reason, "3 checks failed in a row"));
	ck_assert_ptr_nonnull(strstr(t.ch[0].reason, "HTTP 503"));
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_DOWN);

	/* More failures while down: no further calls. */
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(t.n_ch, 1);

	/* A pass between failures resets the run: pass, fail, pass, pass → up. */
	srv_mode(s, S_200);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN);
	srv_mode(s, S_503);
	probe_once(h, 0);
	srv_mode(s, S_200);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN);
	ck_assert_int_eq(t.n_ch, 1);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(t.n_ch, 2);
	ck_assert_int_eq(t.ch[1].state, LB_BACKEND_UP);
	ck_assert_ptr_nonnull(strstr(t.ch[1].reason, "2 checks passed in a row: HTTP 200"));

	/* Fail, fail, pass, fail, fail: never three in a row, stays up. */
	srv_mode(s, S_503);
	probe_once(h, 0);
	probe_once(h, 0);
	srv_mode(s, S_200);
	probe_once(h, 0);
	srv_mode(s, S_503);
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(t.n_ch, 2);
	ck_assert_uint_eq(stats(h, 0).transitions, 2);
	lb_health_free(h);
}
END_TEST

/* What each kind of server makes of a probe, with fall = 1. */
static const struct {
	int mode;
	bool pass;
	const char *reason;
} kinds[] = {
	{ S_200, true, NULL },
	{ S_301, true, NULL },
	{ S_EDGE_OK, true, NULL },
	{ S_503, false, "1 check failed in a row, last: HTTP 503, expected 200..399" },
	{ S_GARBAGE, false, "not an HTTP response" },
	{ S_CLOSE, false, "closed before a complete status line" },
	{ S_LONG, false, "no status line in the first 512 bytes" },
	{ S_EDGE_LONG, false, "no status line in the first 512 bytes" },
	{ S_MALFORMED, false, "malformed status line" },
	{ S_SILENT, false, "timed out after 300 ms waiting for the status line" },
	{ -1, false, "connect: Connection refused" }, /* nothing listening */
};

START_TEST(test_server_kinds)
{
	struct lb_health_target tg = target(0);
	struct lb_health *h;

	tg.port = kinds[_i].mode < 0 ? t.refused_port : t.srv[srv_start(kinds[_i].mode)].port;
	tg.fall = 1;
	h = health(&tg, 1);
	probe_once(h, 0);
	if (kinds[_i].pass) {
		ck_assert_int_eq(t.n_ch, 0);
		ck_assert_uint_eq(stats(h, 0).passed, 1);
		ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	} else {
		ck_assert_int_eq(t.n_ch, 1);
		ck_assert_int_eq(t.ch[0].state, LB_BACKEND_DOWN);
		ck_assert_msg(strstr(t.ch[0].reason, kinds[_i].reason),
			      "reason '%s', expected '%s'", t.ch[0].reason, kinds[_i].reason);
		ck_assert_uint_eq(stats(h, 0).failed, 1);
	}
	ck_assert_uint_eq(stats(h, 0).timeouts, kinds[_i].mode == S_SILENT);
	lb_health_free(h);
}
END_TEST

/* The expected range is a field: 5xx can be what "healthy" means. */
START_TEST(test_status_range)
{
	struct lb_health_target tg[2] = { target(t.srv[srv_start(S_503)].port),
					  target(t.srv[srv_start(S_200)].port) };
	struct lb_health *h;

	tg[0].status_min = tg[1].status_min = 503;
	tg[0].status_max = tg[1].status_max = 503;
	tg[0].fall = tg[1].fall = 1;
	h = health(tg, 2);
	probe_once(h, 0);
	probe_once(h, 1);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(lb_health_state(h, 1), LB_BACKEND_DOWN);
	ck_assert_int_eq(t.n_ch, 1);
	ck_assert_uint_eq(t.ch[0].backend, 1);
	ck_assert_ptr_nonnull(strstr(t.ch[0].reason, "HTTP 200, expected 503..503"));
	lb_health_free(h);
}
END_TEST

/* A silent backend times out on time and does not hold up the others. */
START_TEST(test_timeout_does_not_stall_others)
{
	struct lb_health_target tg[3] = { target(t.srv[srv_start(S_SILENT)].port),
					  target(t.srv[srv_start(S_200)].port),
					  target(t.refused_port) };
	struct lb_health *h;
	uint64_t start;

	tg[0].timeout_ms = 250;
	tg[0].fall = 1;
	tg[2].fall = 1;
	h = health(tg, 3);
	start = now_ms();
	run_for(h, 400);

	/* The refused one went down at once, the silent one when its timeout ran out. */
	ck_assert_int_eq(t.n_ch, 2);
	ck_assert_uint_eq(t.ch[0].backend, 2);
	ck_assert_uint_lt(t.ch[0].at - start, 100);
	ck_assert_uint_eq(t.ch[1].backend, 0);
	ck_assert_ptr_nonnull(strstr(t.ch[1].reason, "timed out after 250 ms"));
	ck_assert_uint_ge(t.ch[1].at - start, 250);
	ck_assert_uint_lt(t.ch[1].at - start, 350);

	/* Meanwhile the healthy one kept its pace: one probe every 20 ms. */
	ck_assert_uint_ge(stats(h, 1).passed, 12);
	ck_assert_uint_eq(stats(h, 1).failed, 0);
	ck_assert_uint_eq(stats(h, 0).probes, 1);
	ck_assert_int_eq(lb_health_state(h, 1), LB_BACKEND_UP);
	lb_health_free(h);
}
END_TEST

/* Failed hand-offs count toward fall, together with failed probes. */
START_TEST(test_report_failure)
{
	int s = srv_start(S_200);
	struct lb_health_target tg = target(t.srv[s].port);
	struct lb_health *h;

	tg.fall = 3;
	h = health(&tg, 1);
	probe_once(h, 0);
	lb_health_report_failure(h, 0);
	lb_health_report_failure(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(t.n_ch, 0);
	lb_health_report_failure(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN);
	ck_assert_int_eq(t.n_ch, 1);
	ck_assert_int_eq(t.ch[0].state, LB_BACKEND_DOWN);
	ck_assert_str_eq(t.ch[0].reason, "3 checks failed in a row, last: a hand-off failed");
	ck_assert_uint_eq(stats(h, 0).reported, 3);
	ck_assert_uint_eq(stats(h, 0).probes, 1);
	/* Unknown backends are ignored. */
	lb_health_report_failure(h, 1);
	lb_health_report_failure(NULL, 0);

	/* Passing probes bring it back after rise. */
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(t.n_ch, 2);

	/* One failed probe and two failed hand-offs make three in a row too. */
	srv_mode(s, S_503);
	probe_once(h, 0);
	lb_health_report_failure(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	lb_health_report_failure(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN);
	ck_assert_int_eq(t.n_ch, 3);
	lb_health_free(h);
}
END_TEST

/* Draining is an admin state: probed, can go down, never promoted to up by health. */
START_TEST(test_draining_never_promoted)
{
	int s = srv_start(S_200);
	struct lb_health_target tg = target(t.srv[s].port);
	struct lb_health *h;

	tg.admin = LB_BACKEND_DRAINING;
	tg.fall = 2;
	tg.rise = 2;
	h = health(&tg, 1);
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_DRAINING);
	for (int k = 0; k < 4; k++)
		probe_once(h, 0);
	ck_assert_uint_eq(stats(h, 0).passed, 4);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_DRAINING);
	ck_assert_int_eq(t.n_ch, 0);

	/* A dead draining backend is down (its flows are lost anyway)... */
	srv_mode(s, S_503);
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(t.n_ch, 1);
	ck_assert_int_eq(t.ch[0].state, LB_BACKEND_DOWN);
	/* ...and, healthy again, back to draining, not up. */
	srv_mode(s, S_200);
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(t.n_ch, 2);
	ck_assert_int_eq(t.ch[1].state, LB_BACKEND_DRAINING);
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_DRAINING);

	/* Undrain and drain: one call each, with the operator as the reason. */
	ck_assert_int_eq(lb_health_set_admin(h, 0, LB_BACKEND_UP), 0);
	ck_assert_int_eq(t.n_ch, 3);
	ck_assert_int_eq(t.ch[2].state, LB_BACKEND_UP);
	ck_assert_str_eq(t.ch[2].reason, "undrained by the operator");
	ck_assert_int_eq(lb_health_set_admin(h, 0, LB_BACKEND_UP), 0);
	ck_assert_int_eq(t.n_ch, 3);
	ck_assert_int_eq(lb_health_set_admin(h, 0, LB_BACKEND_DRAINING), 0);
	ck_assert_int_eq(t.n_ch, 4);
	ck_assert_int_eq(t.ch[3].state, LB_BACKEND_DRAINING);
	ck_assert_str_eq(t.ch[3].reason, "drained by the operator");

	/* Down stays down whatever the admin state; no call when nothing shows. */
	srv_mode(s, S_503);
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(t.n_ch, 5);
	ck_assert_int_eq(lb_health_set_admin(h, 0, LB_BACKEND_UP), 0);
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_DOWN);
	ck_assert_int_eq(t.n_ch, 5);
	srv_mode(s, S_200);
	probe_once(h, 0);
	probe_once(h, 0);
	ck_assert_int_eq(t.n_ch, 6);
	ck_assert_int_eq(t.ch[5].state, LB_BACKEND_UP);

	errno = 0;
	ck_assert_int_eq(lb_health_set_admin(h, 0, LB_BACKEND_DOWN), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_int_eq(lb_health_set_admin(h, 1, LB_BACKEND_UP), -1);
	lb_health_free(h);
}
END_TEST

/* The loop sleeps between probes: few wake-ups, probes at the interval, not faster. */
START_TEST(test_no_busy_loop)
{
	struct lb_health_target tg[3] = { target(t.srv[srv_start(S_200)].port),
					  target(t.refused_port),
					  target(t.srv[srv_start(S_SILENT)].port) };
	struct lb_health *h;
	uint64_t now;

	for (int k = 0; k < 3; k++)
		tg[k].interval_ms = 50;
	tg[2].timeout_ms = 120;
	h = health(tg, 3);
	run_for(h, 600);

	/* Every probe takes a few wake-ups (start, connected, answer): 12 rounds × 3 × ~3. */
	ck_assert_uint_lt(t.loops, 150);
	/* At the interval: 600 / 50 = 12 probes (13 counting the first at 0). */
	ck_assert_uint_ge(stats(h, 0).probes, 10);
	ck_assert_uint_le(stats(h, 0).probes, 13);
	ck_assert_uint_ge(stats(h, 1).probes, 10);
	ck_assert_uint_le(stats(h, 1).probes, 13);
	/* Timing out takes longer than the interval: the next starts right after. */
	ck_assert_uint_ge(stats(h, 2).probes, 3);
	ck_assert_uint_le(stats(h, 2).probes, 5);
	ck_assert_uint_eq(stats(h, 2).timeouts, stats(h, 2).probes);

	/* Between probes the wait is the time left, never more than an interval. */
	now = now_ms();
	lb_health_process(h, NULL, 0, now);
	ck_assert_uint_le(lb_health_next_ms(h, now), 120);
	ck_assert_uint_eq(lb_health_next_ms(h, now + 1000), 0);
	lb_health_free(h);

	/* Nothing to check: nothing to wake up for. */
	h = lb_health_new_targets(NULL, 0, on_change, &t);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(lb_health_next_ms(h, now_ms()), UINT64_MAX);
	ck_assert_int_eq(lb_health_pollfds(h, NULL, 0), 0);
	lb_health_free(h);
}
END_TEST

/* One socket per backend in flight at most, and none left after free or a verdict. */
START_TEST(test_no_fd_leaks)
{
	struct lb_health_target tg[6] = {
		target(t.srv[srv_start(S_200)].port),	 target(t.srv[srv_start(S_503)].port),
		target(t.srv[srv_start(S_SILENT)].port), target(t.srv[srv_start(S_GARBAGE)].port),
		target(t.srv[srv_start(S_LONG)].port),	 target(t.refused_port),
	};
	struct pollfd fds[6];
	struct lb_health *h;
	int base = count_fds(), max_seen = 0;
	uint64_t end;

	tg[2].timeout_ms = 60;
	h = health(tg, 6);
	end = now_ms() + 400;
	while (now_ms() < end) {
		int open = count_fds() - base;

		ck_assert_int_le(open, 6);
		if (open > max_seen)
			max_seen = open;
		turn(h, 50);
	}
	ck_assert_int_gt(max_seen, 0);
	/* Only probes in flight hold sockets: each pollfd is one. */
	ck_assert_int_eq(count_fds() - base, lb_health_pollfds(h, fds, 6));
	lb_health_free(h);
	ck_assert_int_eq(count_fds(), base);
}
END_TEST

/* Sockets whose remote end is 127.0.0.1:@port, in any state: our side of probes. */
static int sockets_to(uint16_t port)
{
	FILE *f = fopen("/proc/net/tcp", "r");
	unsigned int rport, st;
	char line[256];
	int n = 0;

	ck_assert_ptr_nonnull(f);
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, " %*u: %*x:%*x 0100007F:%x %x", &rport, &st) == 2 && rport == port)
			n++;
	fclose(f);
	return n;
}

/* Probes end with a reset: no TIME_WAIT or FIN_WAIT piling up on the balancer. */
START_TEST(test_leaves_no_sockets)
{
	struct lb_health_target tg[3] = { target(t.srv[srv_start(S_200)].port),
					  target(t.srv[srv_start(S_SILENT)].port),
					  target(t.srv[srv_start(S_LONG)].port) };
	struct lb_health *h;

	h = health(tg, 3);
	for (int k = 0; k < 3; k++)
		for (unsigned int i = 0; i < 3; i++)
			probe_once(h, i);
	ck_assert_uint_ge(stats(h, 1).timeouts, 3);
	for (int i = 0; i < 3; i++)
		ck_assert_int_le(sockets_to(tg[i].port), 1); /* at most the probe in flight */
	lb_health_free(h);
	for (int i = 0; i < 3; i++)
		ck_assert_int_eq(sockets_to(tg[i].port), 0);
}
END_TEST

/* A small pollfd array: the probes left out still time out and nothing breaks. */
START_TEST(test_short_pollfd_array)
{
	struct lb_health_target tg[2] = { target(t.srv[srv_start(S_SILENT)].port),
					  target(t.srv[srv_start(S_SILENT)].port) };
	struct pollfd fds[1];
	struct lb_health *h;
	uint64_t end;

	tg[0].timeout_ms = tg[1].timeout_ms = 80;
	tg[0].fall = tg[1].fall = 1;
	h = health(tg, 2);
	end = now_ms() + 200;
	while (now_ms() < end) {
		int n = lb_health_pollfds(h, fds, 1);

		ck_assert_int_le(n, 1);
		poll(fds, n, (int)lb_health_next_ms(h, now_ms()));
		lb_health_process(h, fds, n, now_ms());
	}
	ck_assert_int_eq(t.n_ch, 2);
	lb_health_free(h);
}
END_TEST

/* A reload keeps what it can: history, admin state, the probe in flight. */
START_TEST(test_reconfigure)
{
	int a = srv_start(S_200), b = srv_start(S_503), c = srv_start(S_200);
	struct lb_health_target tg[3] = { target(t.srv[a].port), target(t.srv[b].port),
					  target(t.srv[c].port) };
	struct lb_health *h;
	int base = count_fds();
	uint64_t probes;
	char want[64];

	tg[0].fall = tg[1].fall = tg[2].fall = 1;
	tg[0].rise = tg[1].rise = tg[2].rise = 1;
	h = health(tg, 2);
	probe_once(h, 0);
	probe_once(h, 1);
	ck_assert_int_eq(t.n_ch, 1);
	ck_assert_int_eq(lb_health_state(h, 1), LB_BACKEND_DOWN);
	ck_assert_int_eq(lb_health_set_admin(h, 0, LB_BACKEND_DRAINING), 0);
	ck_assert_int_eq(t.n_ch, 2);

	/* Slot 0 stays, slot 1 is freed (address 0), slot 2 is new. */
	tg[1] = (struct lb_health_target){ .admin = LB_BACKEND_UP };
	probes = stats(h, 0).probes;
	ck_assert_int_eq(lb_health_reconfigure_targets(h, tg, 3), 0);
	ck_assert_uint_eq(lb_health_count(h), 3);
	ck_assert_int_eq(t.n_ch, 3); /* only the new slot: down → up */
	ck_assert_uint_eq(t.ch[2].backend, 2);
	ck_assert_int_eq(t.ch[2].state, LB_BACKEND_UP);
	ck_assert_str_eq(t.ch[2].reason, "config reloaded");
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_DRAINING);
	ck_assert_uint_eq(stats(h, 0).probes, probes);
	ck_assert_int_eq(lb_health_effective_state(h, 1), LB_BACKEND_DOWN);

	/* The empty slot is never probed and ignores failure reports. */
	probe_once(h, 2);
	probe_once(h, 0);
	probe_once(h, 2);
	lb_health_report_failure(h, 1);
	ck_assert_uint_eq(stats(h, 1).probes, 0);
	ck_assert_uint_eq(stats(h, 1).failed, 0);
	ck_assert_uint_ge(stats(h, 2).passed, 2); /* others move on too while we wait */
	ck_assert_uint_eq(stats(h, 2).failed, 0);
	ck_assert_int_eq(t.n_ch, 3);

	/* A new path is asked for from the next probe on. */
	tg[0].path = "/v2/health";
	probes = stats(h, 0).probes;
	ck_assert_int_eq(lb_health_reconfigure_targets(h, tg, 3), 0);
	probe_once(h, 0);
	snprintf(want, sizeof(want), "GET /v2/health HTTP/1.1\r\n");
	ck_assert_mem_eq(t.srv[a].shm->req, want, strlen(want));
	ck_assert_uint_eq(stats(h, 0).probes, probes + 1);

	/* A backend moved to another address starts afresh; a failed reload changes nothing. */
	tg[0].port = t.srv[b].port;
	ck_assert_int_eq(lb_health_reconfigure_targets(h, tg, 1), 0);
	ck_assert_uint_eq(lb_health_count(h), 1);
	ck_assert_uint_eq(stats(h, 0).probes, 0);
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(t.n_ch, 5); /* 0: draining → up (fresh), 2: up → gone (down) */
	ck_assert_uint_eq(t.ch[3].backend, 0);
	ck_assert_int_eq(t.ch[3].state, LB_BACKEND_UP);
	ck_assert_uint_eq(t.ch[4].backend, 2);
	ck_assert_int_eq(t.ch[4].state, LB_BACKEND_DOWN);
	tg[0].port = 0;
	errno = 0;
	ck_assert_int_eq(lb_health_reconfigure_targets(h, tg, 1), -1);
	ck_assert_int_eq(errno, EINVAL);
	ck_assert_uint_eq(lb_health_count(h), 1);
	probe_once(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN); /* now on the 503 server */
	lb_health_free(h);
	ck_assert_int_eq(count_fds(), base);
}
END_TEST

/* From the parsed config: one target per backend, the VIP's port, config drain. */
START_TEST(test_from_config)
{
	static const char yaml[] =
		"interface: eth0\n"
		"vips:\n"
		"  - {address: 192.0.2.80, port: 8080, mode: http}\n"
		"backends:\n"
		"  - {name: web1, address: 198.51.100.11}\n"
		"  - {name: web2, address: 198.51.100.12, state: draining}\n"
		"routes:\n"
		"  - {host: \"*\", prefix: /, backends: [web1, web2]}\n"
		"health: {path: /healthz, interval_ms: 500, timeout_ms: 200, rise: 1, fall: 5}\n";
	struct lb_config cfg = {};
	char err[LB_ERR_MAX];
	struct lb_health *h;

	ck_assert_msg(!lb_config_parse("t.yaml", yaml, sizeof(yaml) - 1, &cfg, err, sizeof(err)),
		      "%s", err);
	h = lb_health_new(&cfg, 0, on_change, &t);
	ck_assert_ptr_nonnull(h);
	ck_assert_uint_eq(lb_health_count(h), 2);
	ck_assert_int_eq(lb_health_effective_state(h, 0), LB_BACKEND_UP);
	ck_assert_int_eq(lb_health_effective_state(h, 1), LB_BACKEND_DRAINING);
	ck_assert_int_eq(lb_health_state(h, 1), LB_BACKEND_UP);
	ck_assert_int_eq(lb_health_state(h, 2), -1);
	ck_assert_int_eq(lb_health_effective_state(h, 2), -1);
	ck_assert_uint_eq(lb_health_next_ms(h, 12345), 0);
	/* rise 1, fall 5 from the config: four hand-off failures are not enough. */
	for (int k = 0; k < 4; k++)
		lb_health_report_failure(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_UP);
	lb_health_report_failure(h, 0);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN);
	ck_assert_int_eq(t.n_ch, 1);

	/* A reload that freed web2's slot: down, never probed. */
	cfg.backends[1].name[0] = '\0';
	cfg.backends[1].address.s_addr = 0;
	ck_assert_int_eq(lb_health_reconfigure(h, &cfg, 0), 0);
	ck_assert_int_eq(t.n_ch, 2);
	ck_assert_uint_eq(t.ch[1].backend, 1);
	ck_assert_int_eq(t.ch[1].state, LB_BACKEND_DOWN);
	ck_assert_int_eq(lb_health_state(h, 0), LB_BACKEND_DOWN); /* kept */
	ck_assert_uint_eq(lb_health_next_ms(h, 12345), 0);	   /* web1 still due */
	lb_health_free(h);

	/* No port given and no VIP to take it from. */
	cfg.n_vips = 0;
	errno = 0;
	ck_assert_ptr_null(lb_health_new(&cfg, 0, on_change, &t));
	ck_assert_int_eq(errno, EINVAL);
	h = lb_health_new(&cfg, 80, on_change, &t);
	ck_assert_ptr_nonnull(h);
	lb_health_free(h);
	cfg.n_vips = 1;
	lb_config_free(&cfg);
}
END_TEST

/* The request line is built from the target: nothing that could split it. */
START_TEST(test_invalid_targets)
{
	struct lb_health_target tg = target(80);

	tg.port = 0;
	errno = 0;
	ck_assert_ptr_null(lb_health_new_targets(&tg, 1, on_change, &t));
	ck_assert_int_eq(errno, EINVAL);
	tg = target(80);
	tg.path = "healthz";
	ck_assert_ptr_null(lb_health_new_targets(&tg, 1, on_change, &t));
	tg.path = "/a b";
	ck_assert_ptr_null(lb_health_new_targets(&tg, 1, on_change, &t));
	tg.path = "/a\r\nX-Evil: 1";
	ck_assert_ptr_null(lb_health_new_targets(&tg, 1, on_change, &t));
	tg = target(80);
	tg.status_min = 400;
	tg.status_max = 399;
	ck_assert_ptr_null(lb_health_new_targets(&tg, 1, on_change, &t));
	tg = target(80);
	tg.admin = LB_BACKEND_DOWN + 7;
	ck_assert_ptr_null(lb_health_new_targets(&tg, 1, on_change, &t));
	/* Zero fields take the defaults. */
	tg = (struct lb_health_target){ .addr.s_addr = htonl(INADDR_LOOPBACK), .port = 80 };
	lb_health_free(lb_health_new_targets(&tg, 1, on_change, &t));
	ck_assert_str_eq(lb_health_state_name(LB_BACKEND_DRAINING), "draining");
	ck_assert_str_eq(lb_health_state_name(LB_BACKEND_DOWN), "down");
	ck_assert_str_eq(lb_health_state_name(LB_BACKEND_UP), "up");
	ck_assert_str_eq(lb_health_state_name(99), "unknown");
}
END_TEST

Suite *health_suite(void)
{
	Suite *s = suite_create("health");
	TCase *tc = tcase_create("health");

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, test_request_on_the_wire);
	tcase_add_test(tc, test_rise_and_fall_counting);
	tcase_add_loop_test(tc, test_server_kinds, 0, sizeof(kinds) / sizeof(kinds[0]));
	tcase_add_test(tc, test_status_range);
	tcase_add_test(tc, test_timeout_does_not_stall_others);
	tcase_add_test(tc, test_report_failure);
	tcase_add_test(tc, test_draining_never_promoted);
	tcase_add_test(tc, test_no_busy_loop);
	tcase_add_test(tc, test_no_fd_leaks);
	tcase_add_test(tc, test_leaves_no_sockets);
	tcase_add_test(tc, test_short_pollfd_array);
	tcase_add_test(tc, test_reconfigure);
	tcase_add_test(tc, test_from_config);
	tcase_add_test(tc, test_invalid_targets);
	suite_add_tcase(s, tc);
	return s;
}
