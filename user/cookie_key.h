/* SPDX-License-Identifier: GPL-2.0 */
/*
 * The SYN cookie key file shared by the balancer and every backend: 32 hex
 * digits (16 bytes) and a newline, mode 0600. Text so an operator can copy it
 * with any tool and see at a glance that two copies are the same.
 */
#ifndef LATEBIND_COOKIE_KEY_H
#define LATEBIND_COOKIE_KEY_H

#include <stdbool.h>
#include <stddef.h>

#include "lb_types.h"

/*
 * Read the key in @path into @key (little-endian words, as the BPF map holds
 * it). With @create, a missing file is created with a fresh random key, mode
 * 0600. Returns 0, or -1 with a message for the operator in @err.
 */
int lb_cookie_key_load(const char *path, bool create, __u64 key[2], char *err, size_t errlen);

#endif
