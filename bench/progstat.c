// SPDX-License-Identifier: GPL-2.0
/*
 * progstat: how long one BPF program takes per run, measured by the kernel.
 *
 *   progstat --prog-id ID --seconds S
 *
 * Turns on the kernel's BPF run-time statistics with BPF_ENABLE_STATS (they stay
 * on only while this process holds the returned descriptor, so they switch off
 * by themselves when it exits, however it exits), reads the program's run_cnt
 * and run_time_ns, waits S seconds (at most 60), reads them again and prints
 *
 *   runs=N run_time_ns=T ns_per_run=X
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
	fprintf(f, "usage: progstat --prog-id ID --seconds S   (S > 0, at most 60)\n"
		   "Prints: runs=N run_time_ns=T ns_per_run=X\n");
}

int main(int argc, char **argv)
{
	struct bpf_prog_info before, after;
	union bpf_attr attr;
	struct timespec ts;
	unsigned long id = 0;
	double seconds = 0;
	int stats_fd, prog_fd;
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
			errno = 0;
			id = strtoul(argv[++i], &end, 10);
			if (errno || *end || !id || id > UINT32_MAX) {
				fprintf(stderr, "progstat: bad --prog-id '%s'\n", argv[i]);
				return 2;
			}
		} else if (!strcmp(argv[i], "--seconds")) {
			errno = 0;
			seconds = strtod(argv[++i], &end);
			if (errno || *end || !(seconds > 0) || seconds > 60) {
				fprintf(stderr, "progstat: bad --seconds '%s'\n", argv[i]);
				return 2;
			}
		} else {
			usage(stderr);
			return 2;
		}
	}
	if (!id || !seconds) {
		usage(stderr);
		return 2;
	}

	memset(&attr, 0, sizeof(attr));
	attr.prog_id = (uint32_t)id;
	prog_fd = (int)sys_bpf(BPF_PROG_GET_FD_BY_ID, &attr);
	if (prog_fd < 0) {
		fprintf(stderr, "progstat: program %lu: %s\n", id, strerror(errno));
		return 1;
	}
	memset(&attr, 0, sizeof(attr));
	attr.enable_stats.type = BPF_STATS_RUN_TIME;
	stats_fd = (int)sys_bpf(BPF_ENABLE_STATS, &attr);
	if (stats_fd < 0) {
		fprintf(stderr, "progstat: BPF_ENABLE_STATS: %s\n", strerror(errno));
		return 1;
	}
	if (prog_info(prog_fd, &before)) {
		fprintf(stderr, "progstat: program %lu info: %s\n", id, strerror(errno));
		return 1;
	}
	ts.tv_sec = (time_t)seconds;
	ts.tv_nsec = (long)((seconds - (double)ts.tv_sec) * 1e9);
	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
	if (prog_info(prog_fd, &after)) {
		fprintf(stderr, "progstat: program %lu info: %s\n", id, strerror(errno));
		return 1;
	}
	close(stats_fd);
	close(prog_fd);

	uint64_t runs = after.run_cnt - before.run_cnt;
	uint64_t ns = after.run_time_ns - before.run_time_ns;

	printf("runs=%llu run_time_ns=%llu ns_per_run=%.1f\n", (unsigned long long)runs,
	       (unsigned long long)ns, runs ? (double)ns / (double)runs : 0.0);
	return 0;
}
