/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Fixed-width kernel types for headers shared by BPF programs and userspace.
 * BPF objects get them from vmlinux.h (CO-RE), userspace from <linux/types.h>;
 * mixing the two in one BPF file breaks the build, so everything goes through here.
 */
#ifndef LATEBIND_LB_TYPES_H
#define LATEBIND_LB_TYPES_H

#if defined(__bpf__)
#include "vmlinux.h"
#define LB_INLINE static __always_inline
#else
#include <linux/types.h>
#define LB_INLINE static inline
#endif

#define LB_NS_PER_S 1000000000ULL

#endif
