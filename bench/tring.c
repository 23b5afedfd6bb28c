// SPDX-License-Identifier: GPL-2.0
/*
 * What passing a frame from one dispatcher thread to another costs
 * (user/thread_ring.c, the frames of connections another thread owns), in
 * two parts:
 *
 *   copy   one thread pushes a frame into a ring and drains it again: the
 *          ring's own cost per frame (two copies of --size bytes, the atomics);
 *   wake   two threads on two CPUs, as the daemon runs them: the producer
 *          pushes --batch frames and wakes the consumer through its eventfd
 *          (as wake_owners() does once per turn), the consumer, asleep in
 *          poll(), wakes, drains and sleeps again. The consumer answers each
 *          batch on an eventfd of the producer's, so that every batch finds it
 *          asleep (the daemon's consumer is asleep at most loads): per batch,
 *          the consumer's CPU (its wake-up, read, drain) and the producer's
 *          (push, write, and its own wake-up for the answer, which the daemon
 *          does not have: an upper bound).
 *
 * usage: tring [--frames N] [--size BYTES] [--batch N] [--cpu N]
 * prints: copy frames=N ns_per_frame=X
 *         wake batches=N batch=B consumer_us_per_batch=X producer_us_per_batch=Y
 *              wall_us_per_batch=Z
 * Bounded: at most 10^8 frames, 10^6 batches.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "thread_ring.h"

struct opts {
	unsigned long frames, size, batch;
	int cpu;
};

static struct {
	struct lb_tring *ring;
	int to_consumer, to_producer; /* eventfds */
	unsigned long batches, batch;
	double consumer_cpu;
	int cpu;
	uint8_t frame[LB_TRING_FRAME];
	volatile uint64_t sink;
} B;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static double thread_cpu_s(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec +
	       ru.ru_stime.tv_usec / 1e6;
}

static void pin(int cpu)
{
	cpu_set_t set;

	if (cpu < 0)
		return;
	CPU_ZERO(&set);
	CPU_SET(cpu % (int)sysconf(_SC_NPROCESSORS_ONLN), &set);
	pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
}

/* What the owner does with a frame here: reads it (the dispatcher parses it). */
static void take(void *ctx, const uint8_t *frame, size_t len)
{
	(void)ctx;
	B.sink += frame[0] + frame[len - 1];
}

static void signal_fd(int fd)
{
	uint64_t one = 1;

	if (write(fd, &one, sizeof(one)) < 0)
		perror("tring: eventfd write");
}

static void wait_fd(int fd)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	uint64_t n;

	while (poll(&p, 1, 1000) < 0 && errno == EINTR)
		;
	if (read(fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		perror("tring: eventfd read");
}

static void *consumer(void *arg)
{
	unsigned long i;
	double c0;

	(void)arg;
	pin(B.cpu + 1);
	c0 = thread_cpu_s();
	for (i = 0; i < B.batches; i++) {
		unsigned int got = 0;

		wait_fd(B.to_consumer);
		while (got < B.batch)
			got += lb_tring_drain(B.ring, 256, take, NULL);
		signal_fd(B.to_producer);
	}
	B.consumer_cpu = thread_cpu_s() - c0;
	return NULL;
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "frames", required_argument, NULL, 'f' }, { "size", required_argument, NULL, 's' },
		{ "batch", required_argument, NULL, 'b' },  { "cpu", required_argument, NULL, 'c' },
		{}
	};
	struct opts o = { .frames = 2000000, .size = 150, .batch = 1, .cpu = 0 };
	unsigned long i, j;
	double t0, t1, c0, c1;
	pthread_t th;
	int opt;

	while ((opt = getopt_long(argc, argv, "f:s:b:c:", longopts, NULL)) != -1) {
		switch (opt) {
		case 'f': o.frames = strtoul(optarg, NULL, 0); break;
		case 's': o.size = strtoul(optarg, NULL, 0); break;
		case 'b': o.batch = strtoul(optarg, NULL, 0); break;
		case 'c': o.cpu = atoi(optarg); break;
		default:
			fprintf(stderr, "usage: tring [--frames N] [--size BYTES] [--batch N] [--cpu N]\n");
			return 2;
		}
	}
	if (!o.frames || o.frames > 100000000 || !o.size || o.size > LB_TRING_FRAME || !o.batch ||
	    o.batch > 1024) {
		fprintf(stderr, "tring: frames 1..10^8, size 1..%d, batch 1..1024\n", LB_TRING_FRAME);
		return 2;
	}
	memset(B.frame, 0x5a, sizeof(B.frame));
	B.ring = lb_tring_new(1024);
	if (!B.ring) {
		perror("tring: ring");
		return 1;
	}
	pin(o.cpu);

	/* copy: push and drain on one thread. */
	c0 = thread_cpu_s();
	t0 = now_s();
	for (i = 0; i < o.frames; i++) {
		if (lb_tring_push(B.ring, B.frame, o.size) || lb_tring_drain(B.ring, 1, take, NULL) != 1) {
			fprintf(stderr, "tring: the ring lost a frame\n");
			return 1;
		}
	}
	t1 = now_s();
	c1 = thread_cpu_s();
	printf("copy frames=%lu size=%lu ns_per_frame=%.1f cpu_ns_per_frame=%.1f\n", o.frames, o.size,
	       (t1 - t0) * 1e9 / o.frames, (c1 - c0) * 1e9 / o.frames);

	/* wake: a batch, a wake-up, a drain, on two CPUs. */
	B.batch = o.batch;
	B.batches = o.frames / o.batch / 20;
	if (B.batches > 1000000)
		B.batches = 1000000;
	if (!B.batches)
		B.batches = 1;
	B.cpu = o.cpu;
	B.to_consumer = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	B.to_producer = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (B.to_consumer < 0 || B.to_producer < 0 || pthread_create(&th, NULL, consumer, NULL)) {
		perror("tring: eventfd or thread");
		return 1;
	}
	c0 = thread_cpu_s();
	t0 = now_s();
	for (i = 0; i < B.batches; i++) {
		for (j = 0; j < o.batch; j++)
			while (lb_tring_push(B.ring, B.frame, o.size))
				sched_yield(); /* not with batch <= 1024: the consumer drained the last */
		signal_fd(B.to_consumer);
		wait_fd(B.to_producer);
	}
	t1 = now_s();
	c1 = thread_cpu_s();
	pthread_join(th, NULL);
	printf("wake batches=%lu batch=%lu consumer_us_per_batch=%.2f producer_us_per_batch=%.2f "
	       "wall_us_per_batch=%.2f\n",
	       B.batches, o.batch, B.consumer_cpu * 1e6 / B.batches, (c1 - c0) * 1e6 / B.batches,
	       (t1 - t0) * 1e6 / B.batches);
	lb_tring_free(B.ring);
	return 0;
}
