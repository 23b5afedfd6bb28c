/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Slot 0: the SYN cookie key(s) and time window, from the key file the balancer
 * and every backend share. Written by the daemon (balancer) or by `latebind
 * backend attach`; the programs only read it.
 */
#ifndef LATEBIND_COOKIE_MAP_H
#define LATEBIND_COOKIE_MAP_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>

#include "cookie.h"

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_cookie_secret);
} cookie_secret SEC(".maps");

#endif
