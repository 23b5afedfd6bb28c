// SPDX-License-Identifier: GPL-2.0
/*
 * progstat: how long BPF programs take per run, measured by the kernel.
 *
 *   progstat --prog-id ID [--prog-id ID ...] --seconds S
 *
 * Turns on the kernel's BPF run-time statistics with BPF_ENABLE_STATS (they stay
 * on only while this process holds the returned descriptor, so they switch off
 * by themselves when it exits, however it exits), reads each program's run_cnt
 * and run_time_ns, waits S seconds (at most 600) or until SIGTERM / SIGINT,
 * whichever comes first, reads them again and prints one line per program, in
 * the order given:
 *
 *   runs=N run_time_ns=T ns_per_run=X prog_id=ID seconds=S
 *
 * (bench/http.sh runs it in the background for the length of a workload and
 * stops it with SIGTERM; bench/xdp.sh with a fixed S.)
 *
 * The time covers the program and the helpers it calls, not what the kernel
 * does with the verdict afterwards (for XDP_TX: the transmit). While the
 * statistics are on, every BPF program on the machine pays two clock reads per
 * run, so bench/run.sh measures packet rates with them off and uses this in a
 * separate phase.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <signal.h>
#include <linux/bpf.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static long sys_bpf(int cmd, union bpf_attr *attr)
{
	return syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int prog_info(int fd, struct bpf_prog_info *info)
{
	union bpf_attr attr;

	memset(info, 0, sizeof(*info));
	memset(&attr, 0, sizeof(attr));
	attr.info.bpf_fd = (uint32_t)fd;
	attr.info.info_len = sizeof(*info);
	attr.info.info = (uint64_t)(uintptr_t)info;
	return (int)sys_bpf(BPF_OBJ_GET_INFO_BY_FD, &attr);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: progstat --prog-id ID [--prog-id ID ...] --seconds S   (S > 0, at most 600)\n"
		   "Stops after S seconds or on SIGTERM/SIGINT. Prints per program:\n"
		   "runs=N run_time_ns=T ns_per_run=X prog_id=ID seconds=S\n");
}

#define MAX_PROGS 16

static volatile sig_atomic_t stop_requested;

static void on_signal(int sig)
{
	(void)sig;
	stop_requested = 1;
}

static double mono(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	struct bpf_prog_info before[MAX_PROGS], after[MAX_PROGS];
	unsigned long id[MAX_PROGS];
	int prog_fd[MAX_PROGS];
	struct sigaction sa = { 0 };
	union bpf_attr attr;
	struct timespec ts;
	double seconds = 0, t0, t1;
	int stats_fd, n = 0;
	char *end;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			usage(stdout);
			return 0;
		}
		if (i + 1 >= argc) {
			usage(stderr);
			return 2;
		}
		if (!strcmp(argv[i], "--prog-id")) {
			if (n == MAX_PROGS) {
				fprintf(stderr, "progstat: at most %d programs\n", MAX_PROGS);
				return 2;
			}
			errno = 0;
			id[n] = strtoul(argv[++i], &end, 10);
			if (errno || *end || !id[n] || id[n] > UINT32_MAX) {
				fprintf(stderr, "progstat: bad --prog-id '%s'\n", argv[i]);
				return 2;
			}
			n++;
		} else if (!strcmp(argv[i], "--seconds")) {
			errno = 0;
			seconds = strtod(argv[++i], &end);
			if (errno || *end || !(seconds > 0) || seconds > 600) {
				fprintf(stderr, "progstat: bad --seconds '%s'\n", argv[i]);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!n || !seconds) {
		usage(stderr);
		return 2;
	}

	/* Set up before anything is measured, so a signal never kills us silently. */
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);

	for (int k = 0; k < n; k++) {
		memset(&attr, 0, sizeof(attr));
		attr.prog_id = (uint32_t)id[k];
		prog_fd[k] = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
		if (prog_fd[k] < 0) {
			fprintf(stderr, "progstat: program %lu: %s\n", id[k], strerror(errno));
			return 1;
		}
	}
	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	stats_fd = (int)sys_bpf(BPF_ENABLE_STATS, &attr);
	if (stats_fd < 0) {
		fprintf(stderr, "progstat: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	for (int k = 0; k < n; k++) {
		if (prog_info(prog_fd[k], &before[k])) {
			fprintf(stderr, "progstat: program %lu info: %s\n", id[k], strerror(errno));
			return 1;
		}
	}
	t0 = mono();
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (!stop_requested && nanosleep(&ts, &ts) && errno == EINTR)
		;
	t1 = mono();
	for (int k = 0; k < n; k++) {
		if (prog_info(prog_fd[k], &after[k])) {
			fprintf(stderr, "progstat: program %lu info: %s\n", id[k], strerror(errno));
			return 1;
		}
	}
	close(stats_fd);

	for (int k = 0; k < n; k++) {
		uint64_t runs = after[k].run_cnt - before[k].run_cnt;
		uint64_t ns = after[k].run_time_ns - before[k].run_time_ns;

		close(prog_fd[k]);
		printf("runs=%llu run_time_ns=%llu ns_per_run=%.1f prog_id=%lu seconds=%.3f\n",
		       (unsigned long long)runs, (unsigned long long)ns,
		       runs ? (double)ns / (double)runs : 0.0, id[k], t1 - t0);
	}
	return 0;
}
