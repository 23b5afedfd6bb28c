// SPDX-License-Identifier: GPL-2.0
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include "log.h"

bool lb_verbose;

void lb_log(const char *level, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "latebind: %s: ", level);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
}

/* Does the first string argument of a message start with @prefix? */
static bool fmt_arg_is(va_list ap, const char *prefix)
{
	va_list copy;
	const char *arg;
	bool ret;

	va_copy(copy, ap);
	arg = va_arg(copy, const char *);
	ret = arg && !strncmp(arg, prefix, strlen(prefix));
	va_end(copy);
	return ret;
}

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG && !lb_verbose)
		return 0;
	/* libxdp's sections (.xdp_run_config, xdp_metadata) are its own, not a problem. */
	if (!lb_verbose && strstr(fmt, "skipping unrecognized data section"))
		return 0;
	/* The netlink message behind a clsact qdisc that already exists (EEXIST, fine). */
	if (!lb_verbose && strstr(fmt, "Kernel error message") && fmt_arg_is(ap, "Exclusivity flag on"))
		return 0;
	return vfprintf(stderr, fmt, ap); /* libbpf's messages carry their own prefix */
}

static int libxdp_print(enum libxdp_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBXDP_DEBUG && !lb_verbose)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

void lb_log_setup_libs(void)
{
	libbpf_set_print(libbpf_print);
	libxdp_set_print(libxdp_print);
}
