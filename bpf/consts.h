/* SPDX-License-Identifier: GPL-2.0 */
/* Constants of the BPF programs; each tunable can be overridden with -D. */
#ifndef LATEBIND_BPF_CONSTS_H
#define LATEBIND_BPF_CONSTS_H

/* Include after vmlinux.h, which has IPPROTO_TCP and friends as enums. */

#include "tcp_wire.h"

#define ETH_P_IP	0x0800
#define ETH_ALEN	6

#define IP_MF		0x2000
#define IP_OFFSET	0x1fff
#define IP_DF		0x4000

/* Defaults of the load-time settings (rodata): the config's. */
#include "defaults.h"

/* The TTL of the answers XDP sends itself (SYN/ACKs, resets). */
#ifndef LB_ANSWER_TTL
#define LB_ANSWER_TTL	64
#endif

#endif
