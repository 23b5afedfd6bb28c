// SPDX-License-Identifier: GPL-2.0
/*
 * The exporter's small non-blocking HTTP/1.1 server: one listener and at most
 * LB_METRICS_MAX_CLIENTS connections, driven from the daemon's poll loop; each
 * GET /metrics renders the page (metrics_render.c). See metrics.h.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "metrics.h"

/* --- the server --------------------------------------------------------------- */

enum conn_state {
	CONN_FREE,
	CONN_READ,   /* collecting the request head */
	CONN_WRITE,  /* sending the answer */
	CONN_LINGER, /* answer sent and FIN queued: draining until the client closes */
};

#define LINGER_MS	   1000 /* at most this long after the answer */
#define ACCEPT_PAUSE_MS	   100	/* out of fds: stop polling the listener this long */
#define ACCEPTS_PER_SERVE  (2 * LB_METRICS_MAX_CLIENTS)

struct mconn {
	int fd;
	enum conn_state state;
	uint64_t deadline_ms;
	size_t in_len;
	char *out;
	size_t out_len, out_off;
	char in[LB_METRICS_REQUEST_MAX];
};

struct lb_metrics {
	int lfd;
	uint16_t port;
	unsigned int timeout_ms;
	uint64_t accept_paused_until;
	struct mconn c[LB_METRICS_MAX_CLIENTS];
};

static int parse_listen(const char *s, struct sockaddr_storage *ss, socklen_t *sl)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *colon, *h = s, *p;
	unsigned long port = 0;
	size_t hlen;
	bool v6 = s[0] == '[';

	if (v6) {
		const char *close = strchr(s, ']');

		if (!close || close[1] != ':')
			return -1;
		h = s + 1;
		hlen = close - h;
		colon = close + 1;
	} else {
		colon = strrchr(s, ':');
		if (!colon)
			return -1;
		hlen = colon - s;
	}
	if (!hlen || hlen >= sizeof(host))
		return -1;
	memcpy(host, h, hlen);
	host[hlen] = '\0';
	p = colon + 1;
	if (!*p || strlen(p) > 5)
		return -1;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return -1;
		port = port * 10 + (*p - '0');
	}
	if (port > 65535)
		return -1;
	memset(ss, 0, sizeof(*ss));
	if (v6) {
		struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;

		a->sin6_family = AF_INET6;
		a->sin6_port = htons(port);
		*sl = sizeof(*a);
		return inet_pton(AF_INET6, host, &a->sin6_addr) == 1 ? 0 : -1;
	} else {
		struct sockaddr_in *a = (struct sockaddr_in *)ss;

		a->sin_family = AF_INET;
		a->sin_port = htons(port);
		*sl = sizeof(*a);
		return inet_pton(AF_INET, host, &a->sin_addr) == 1 ? 0 : -1;
	}
}

struct lb_metrics *lb_metrics_open(const char *listen_on, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct lb_metrics *m;
	socklen_t sl;
	int one = 1, i;

	if (errlen)
		err[0] = '\0';
	if (!listen_on || !listen_on[0])
		return NULL;
	if (parse_listen(listen_on, &ss, &sl)) {
		snprintf(err, errlen,
			 "metrics.listen: '%s' is not an address:port; expected e.g. 127.0.0.1:9180 "
			 "or [::1]:9180", listen_on);
		return NULL;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		snprintf(err, errlen, "metrics: out of memory");
		return NULL;
	}
	m->timeout_ms = LB_METRICS_TIMEOUT_MS;
	for (i = 0; i < LB_METRICS_MAX_CLIENTS; i++)
		m->c[i].fd = -1;
	m->lfd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (m->lfd < 0)
		goto fail;
	/* A restarted daemon must get its port back while old connections sit in TIME_WAIT. */
	if (setsockopt(m->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)))
		goto fail;
	if (ss.ss_family == AF_INET6 &&
	    setsockopt(m->lfd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)))
		goto fail;
	if (bind(m->lfd, (struct sockaddr *)&ss, sl) || listen(m->lfd, LB_METRICS_MAX_CLIENTS))
		goto fail;
	sl = sizeof(ss);
	if (getsockname(m->lfd, (struct sockaddr *)&ss, &sl))
		goto fail;
	m->port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
						 : ((struct sockaddr_in *)&ss)->sin_port);
	return m;
fail:
	snprintf(err, errlen, "metrics.listen: cannot listen on %s: %s", listen_on, strerror(errno));
	if (m->lfd >= 0)
		close(m->lfd);
	free(m);
	return NULL;
}

static void conn_close(struct mconn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	free(c->out);
	c->out = NULL;
	c->fd = -1;
	c->state = CONN_FREE;
	c->in_len = c->out_len = c->out_off = 0;
}

void lb_metrics_close(struct lb_metrics *m)
{
	int i;

	if (!m)
		return;
	for (i = 0; i < LB_METRICS_MAX_CLIENTS; i++)
		conn_close(&m->c[i]);
	close(m->lfd);
	free(m);
}

uint16_t lb_metrics_port(const struct lb_metrics *m)
{
	return m ? m->port : 0;
}

void lb_metrics_set_timeout(struct lb_metrics *m, unsigned int ms)
{
	if (m)
		m->timeout_ms = ms ? ms : LB_METRICS_TIMEOUT_MS;
}

unsigned int lb_metrics_clients(const struct lb_metrics *m)
{
	unsigned int n = 0;
	int i;

	for (i = 0; m && i < LB_METRICS_MAX_CLIENTS; i++)
		n += m->c[i].state != CONN_FREE;
	return n;
}

int lb_metrics_pollfds(struct lb_metrics *m, struct pollfd *fds, int max)
{
	int n = 0, i;

	if (!m || max <= 0)
		return 0;
	if (lb_clock_ms(CLOCK_MONOTONIC) >= m->accept_paused_until)
		fds[n++] = (struct pollfd){ .fd = m->lfd, .events = POLLIN };
	for (i = 0; i < LB_METRICS_MAX_CLIENTS && n < max; i++) {
		struct mconn *c = &m->c[i];

		if (c->state == CONN_FREE)
			continue;
		fds[n++] = (struct pollfd){ .fd = c->fd,
					    .events = c->state == CONN_WRITE ? POLLOUT : POLLIN };
	}
	return n;
}

/* Drain what the client still sends; closes on EOF or error. */
static void conn_linger(struct mconn *c)
{
	char scratch[1024];
	ssize_t r;

	for (;;) {
		r = recv(c->fd, scratch, sizeof(scratch), 0);
		if (r > 0)
			continue;
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
}

static void conn_write(struct mconn *c, uint64_t now)
{
	ssize_t w;

	while (c->out_off < c->out_len) {
		w = send(c->fd, c->out + c->out_off, c->out_len - c->out_off,
			 MSG_NOSIGNAL | MSG_DONTWAIT);
		if (w > 0) {
			c->out_off += w;
			continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c);
		return;
	}
	/*
	 * All sent: FIN after it, then read until the client closes, so bytes it
	 * sent that we never read do not turn our close into a reset that could
	 * destroy the answer before the client has read it.
	 */
	free(c->out);
	c->out = NULL;
	shutdown(c->fd, SHUT_WR);
	c->state = CONN_LINGER;
	if (c->deadline_ms > now + LINGER_MS)
		c->deadline_ms = now + LINGER_MS;
	conn_linger(c);
}

static void respond(struct mconn *c, int code, const char *reason, const char *ctype,
		    const char *extra, const char *body, size_t blen, bool head_only, uint64_t now)
{
	static const char fmt[] = "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
				  "Connection: close\r\n%s\r\n";
	int hlen = snprintf(NULL, 0, fmt, code, reason, ctype, blen, extra ? extra : "");
	size_t total;
	char *out;

	if (hlen < 0) {
		conn_close(c);
		return;
	}
	total = (size_t)hlen + (head_only ? 0 : blen);
	out = malloc(total + 1);
	if (!out) {
		conn_close(c);
		return;
	}
	snprintf(out, (size_t)hlen + 1, fmt, code, reason, ctype, blen, extra ? extra : "");
	if (!head_only)
		memcpy(out + hlen, body, blen);
	c->out = out;
	c->out_len = total;
	c->out_off = 0;
	c->state = CONN_WRITE;
	conn_write(c, now);
}

static void respond_text(struct mconn *c, int code, const char *reason, const char *extra,
			 const char *text, bool head_only, uint64_t now)
{
	respond(c, code, reason, "text/plain; charset=utf-8", extra, text, strlen(text), head_only,
		now);
}

static bool is_tchar(char ch)
{
	return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') ||
	       (ch && strchr("!#$%&'*+-.^_`|~", ch));
}

/* The head is complete in c->in: answer it. */
static void handle(struct mconn *c, const struct lb_metrics_source *src, uint64_t now)
{
	const char *line = c->in, *eol = memchr(c->in, '\n', c->in_len), *sp1, *sp2, *end;
	size_t mlen, tlen, blen, i;
	bool get, head;
	char *body;

	end = eol > line && eol[-1] == '\r' ? eol - 1 : eol;
	sp1 = memchr(line, ' ', end - line);
	sp2 = sp1 ? memchr(sp1 + 1, ' ', end - sp1 - 1) : NULL;
	if (!sp1 || !sp2 || sp1 == line || sp2 == sp1 + 1 || end - sp2 - 1 != 8 ||
	    memcmp(sp2 + 1, "HTTP/1.", 7) || sp2[8] < '0' || sp2[8] > '9') {
		respond_text(c, 400, "Bad Request", NULL, "bad request\n", false, now);
		return;
	}
	mlen = sp1 - line;
	for (i = 0; i < mlen; i++) {
		if (!is_tchar(line[i])) {
			respond_text(c, 400, "Bad Request", NULL, "bad request\n", false, now);
			return;
		}
	}
	get = mlen == 3 && !memcmp(line, "GET", 3);
	head = mlen == 4 && !memcmp(line, "HEAD", 4);
	/* The path, without a query or fragment. */
	tlen = sp2 - sp1 - 1;
	for (i = 0; i < tlen; i++)
		if (sp1[1 + i] == '?' || sp1[1 + i] == '#')
			tlen = i;
	if (tlen != 8 || memcmp(sp1 + 1, "/metrics", 8)) {
		respond_text(c, 404, "Not Found", NULL, "not found; the metrics are at /metrics\n",
			     head, now);
		return;
	}
	if (!get && !head) {
		respond_text(c, 405, "Method Not Allowed", "Allow: GET, HEAD\r\n",
			     "method not allowed; use GET\n", false, now);
		return;
	}
	if (src->refresh)
		src->refresh(src->refresh_ctx);
	if (lb_metrics_render(src, &body, &blen)) {
		respond_text(c, 500, "Internal Server Error", NULL, "out of memory\n", head, now);
		return;
	}
	respond(c, 200, "OK", "text/plain; version=0.0.4; charset=utf-8", NULL, body, blen, head,
		now);
	free(body);
}

static bool head_complete(const struct mconn *c)
{
	return memmem(c->in, c->in_len, "\r\n\r\n", 4) || memmem(c->in, c->in_len, "\n\n", 2);
}

static void conn_read(struct mconn *c, const struct lb_metrics_source *src, uint64_t now)
{
	ssize_t r;

	for (;;) {
		if (c->in_len == sizeof(c->in)) {
			respond_text(c, 431, "Request Header Fields Too Large", NULL,
				     "request head too large\n", false, now);
			return;
		}
		r = recv(c->fd, c->in + c->in_len, sizeof(c->in) - c->in_len, 0);
		if (r > 0) {
			c->in_len += r;
			if (head_complete(c)) {
				handle(c, src, now);
				return;
			}
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		conn_close(c); /* EOF or error before a whole request */
		return;
	}
}

static short revents_of(const struct pollfd *fds, int n, int fd)
{
	int i;

	for (i = 0; fds && i < n; i++)
		if (fds[i].fd == fd)
			return fds[i].revents;
	return 0;
}

static void accept_new(struct lb_metrics *m, const struct lb_metrics_source *src, uint64_t now)
{
	static const char busy[] = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\n"
				   "Content-Length: 21\r\nConnection: close\r\n\r\ntoo many connections\n";
	struct mconn *c;
	int i, k, fd;

	for (k = 0; k < ACCEPTS_PER_SERVE; k++) {
		fd = accept4(m->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (fd < 0) {
			if (errno == EINTR || errno == ECONNABORTED)
				continue;
			/* Out of fds or memory: the listener would stay readable; rest a while. */
			if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM)
				m->accept_paused_until = now + ACCEPT_PAUSE_MS;
			return;
		}
		for (c = NULL, i = 0; i < LB_METRICS_MAX_CLIENTS && !c; i++)
			if (m->c[i].state == CONN_FREE)
				c = &m->c[i];
		if (!c) {
			/* A fresh socket's buffer takes this whole; if not, never mind. */
			if (send(fd, busy, sizeof(busy) - 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0)
				errno = 0;
			close(fd);
			continue;
		}
		c->fd = fd;
		c->state = CONN_READ;
		c->in_len = 0;
		c->deadline_ms = now + m->timeout_ms;
		/* The request often comes with the connection: no need to wait a round. */
		conn_read(c, src, now);
	}
}

void lb_metrics_serve(struct lb_metrics *m, const struct pollfd *fds, int n,
		      const struct lb_metrics_source *src)
{
	uint64_t now;
	short ev;
	int i;

	if (!m)
		return;
	now = lb_clock_ms(CLOCK_MONOTONIC);
	/* Clients first: a slot freed here may take a connection accepted below. */
	for (i = 0; i < LB_METRICS_MAX_CLIENTS; i++) {
		struct mconn *c = &m->c[i];

		if (c->state == CONN_FREE)
			continue;
		if (now >= c->deadline_ms) {
			conn_close(c);
			continue;
		}
		ev = revents_of(fds, n, c->fd);
		if (!ev)
			continue;
		switch (c->state) {
		case CONN_READ: conn_read(c, src, now); break;
		case CONN_WRITE: conn_write(c, now); break;
		case CONN_LINGER: conn_linger(c); break;
		default: break;
		}
	}
	if (revents_of(fds, n, m->lfd) & POLLIN)
		accept_new(m, src, now);
}
