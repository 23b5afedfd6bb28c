/* SPDX-License-Identifier: GPL-2.0 */
/* Logging for the latebind command: warnings always, debug behind --verbose. */
#ifndef LATEBIND_LOG_H
#define LATEBIND_LOG_H

#include <stdbool.h>

extern bool lb_verbose;

void lb_log(const char *level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define pr_warn(...)  lb_log("warning", __VA_ARGS__)
#define pr_info(...)  lb_log("info", __VA_ARGS__)
#define pr_debug(...)                                                          \
	do {                                                                   \
		if (lb_verbose)                                                \
			lb_log("debug", __VA_ARGS__);                          \
	} while (0)

/* Route libbpf's and libxdp's messages through lb_log (debug level behind --verbose). */
void lb_log_setup_libs(void);

#endif
